/* test_api_status.c: the HTTP status of every domain outcome (api_status_of), as the REST
 * API answered each case before the domain errors lost their statuses. */
#include "test.h"

#include "proto/api.h"
#include "domain/rooms.h"

static void test_statuses(void)
{
    ASSERT_EQ(api_status_of(ROOMS_OK), 200);
    ASSERT_EQ(api_status_of(ROOMS_E_INVALID), 400);   /* bad_request, validation_error */
    ASSERT_EQ(api_status_of(ROOMS_E_FORBIDDEN), 403); /* forbidden, banned, room_full */
    ASSERT_EQ(api_status_of(ROOMS_E_NOT_FOUND), 404);
    ASSERT_EQ(api_status_of(ROOMS_E_CONFLICT), 409); /* name_taken, ban_limit, ... */
    ASSERT_EQ(api_status_of(ROOMS_E_TOO_LARGE), 413);
    ASSERT_EQ(api_status_of(ROOMS_E_LIMIT), 429); /* room_limit */
    ASSERT_EQ(api_status_of(ROOMS_E_RATE_LIMITED), 429);
    ASSERT_EQ(api_status_of(ROOMS_E_QUOTA), 507);
    ASSERT_EQ(api_status_of(ROOMS_E_UNAVAILABLE), 503);
    ASSERT_EQ(api_status_of(ROOMS_E_IO), 500);
}

/* Every kind is an error (negative) and distinct, so 0 alone means success. */
static void test_kinds_distinct(void)
{
    const int kinds[] = {
        ROOMS_E_INVALID,     ROOMS_E_FORBIDDEN, ROOMS_E_NOT_FOUND,    ROOMS_E_CONFLICT,
        ROOMS_E_TOO_LARGE,   ROOMS_E_LIMIT,     ROOMS_E_RATE_LIMITED, ROOMS_E_QUOTA,
        ROOMS_E_UNAVAILABLE, ROOMS_E_IO};
    size_t n = sizeof(kinds) / sizeof(kinds[0]);
    for (size_t i = 0; i < n; i++) {
        ASSERT_TRUE(kinds[i] < 0);
        for (size_t j = i + 1; j < n; j++)
            ASSERT_NE(kinds[i], kinds[j]);
    }
}

int main(void)
{
    RUN(test_statuses);
    RUN(test_kinds_distinct);
    TEST_MAIN_END();
}
