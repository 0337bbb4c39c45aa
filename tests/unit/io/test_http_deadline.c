/* test_http_deadline.c: unit tests for the whole-request deadline and the body rate. */
#include "io/http_deadline.h"
#include "test.h"

static const http_deadline_t D = {.request_ms = 30000, .grace_ms = 10000, .min_rate = 1000};

static void test_request_deadline(void)
{
    uint64_t next = 0;
    http_deadline_t d = D;
    d.min_rate = 0; /* only the deadline */
    ASSERT_EQ(http_deadline_check(&d, 1000, 1000, 0, 1000, &next), HTTP_DEADLINE_OK);
    ASSERT_EQ(next, 30000);
    /* Bytes arriving do not move the deadline. */
    ASSERT_EQ(http_deadline_check(&d, 1000, 2000, 1u << 20, 30999, &next), HTTP_DEADLINE_OK);
    ASSERT_EQ(next, 1);
    ASSERT_EQ(http_deadline_check(&d, 1000, 2000, 1u << 20, 31000, &next),
              HTTP_DEADLINE_EXPIRED);
}

static void test_min_rate(void)
{
    uint64_t next = 0;
    /* Within the grace nothing is due: the next check is at its end. */
    ASSERT_EQ(http_deadline_check(&D, 0, 500, 0, 600, &next), HTTP_DEADLINE_OK);
    ASSERT_EQ(next, 500 + 10000 + 1 - 600);
    ASSERT_EQ(http_deadline_check(&D, 0, 500, 0, 10501, &next), HTTP_DEADLINE_TOO_SLOW);
    /* 1,000 bytes at 1,000 bytes/s buy one second past the grace. */
    ASSERT_EQ(http_deadline_check(&D, 0, 0, 1000, 11000, &next), HTTP_DEADLINE_OK);
    ASSERT_EQ(next, 1);
    ASSERT_EQ(http_deadline_check(&D, 0, 0, 1000, 11001, &next), HTTP_DEADLINE_TOO_SLOW);
    /* Fast enough: the whole-request deadline is what comes next. */
    ASSERT_EQ(http_deadline_check(&D, 0, 0, 100000, 20000, &next), HTTP_DEADLINE_OK);
    ASSERT_EQ(next, 10000);
    /* The whole deadline wins over the rate. */
    ASSERT_EQ(http_deadline_check(&D, 0, 0, 100000, 30000, &next), HTTP_DEADLINE_EXPIRED);
}

static void test_trickle(void)
{
    /* One byte every 20 s (issue 14): cut at the end of the grace plus 1 ms per byte. */
    uint64_t next = 0;
    ASSERT_EQ(http_deadline_check(&D, 0, 100, 1, 5000, &next), HTTP_DEADLINE_OK);
    ASSERT_EQ(next, 100 + 10000 + 1 + 1 - 5000);
    ASSERT_EQ(http_deadline_check(&D, 0, 100, 1, 10102, &next), HTTP_DEADLINE_TOO_SLOW);
}

static void test_large_values(void)
{
    uint64_t next = 0;
    http_deadline_t d = {.request_ms = 24ull * 3600000, .grace_ms = 0, .min_rate = 1};
    uint64_t gib = 1ull << 30;
    ASSERT_EQ(http_deadline_check(&d, 0, 0, gib, 1000, &next), HTTP_DEADLINE_OK);
    ASSERT_EQ(next, 24ull * 3600000 - 1000);
}

int main(void)
{
    RUN(test_request_deadline);
    RUN(test_min_rate);
    RUN(test_trickle);
    RUN(test_large_values);
    TEST_MAIN_END();
}
