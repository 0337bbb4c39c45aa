/* test_quota.c: storage quota checks and per-user counters (quota.c). */
#include "test.h"

#include "domain/quota.h"

static void test_check(void)
{
    quota_limits_t lim = {.room_max = 100, .user_max = 50};
    ASSERT_EQ(quota_check(&lim, 0, 0, 50), QUOTA_OK);
    ASSERT_EQ(quota_check(&lim, 0, 0, 51), QUOTA_EUSER);
    ASSERT_EQ(quota_check(&lim, 60, 0, 41), QUOTA_EROOM); /* the room is checked first */
    ASSERT_EQ(quota_check(&lim, 60, 0, 40), QUOTA_OK);    /* exactly full fits */
    ASSERT_EQ(quota_check(&lim, 100, 50, 1), QUOTA_EROOM);
    /* Writes that do not grow anything always fit, even over the quota. */
    ASSERT_EQ(quota_check(&lim, 500, 500, 0), QUOTA_OK);
    ASSERT_EQ(quota_check(&lim, 500, 500, -10), QUOTA_OK);
    /* 0 is unlimited. */
    quota_limits_t none = {0, 0};
    ASSERT_EQ(quota_check(&none, INT64_MAX / 2, INT64_MAX / 2, 1 << 30), QUOTA_OK);
    quota_limits_t room_only = {.room_max = 10};
    ASSERT_EQ(quota_check(&room_only, 0, 1000000, 10), QUOTA_OK);
    ASSERT_EQ(quota_check(&room_only, 0, 0, 11), QUOTA_EROOM);
}

static void test_add_clamps(void)
{
    ASSERT_EQ(quota_add(10, 5), 15);
    ASSERT_EQ(quota_add(10, -5), 5);
    ASSERT_EQ(quota_add(10, -50), 0); /* a drifted counter never goes negative */
}

static void test_users(void)
{
    quota_users_t u;
    quota_users_init(&u, 42);
    ASSERT_EQ(quota_user_used(&u, "a"), 0);
    quota_user_add(&u, "a", 100);
    quota_user_add(&u, "b", 7);
    quota_user_add(&u, "a", 20);
    ASSERT_EQ(quota_user_used(&u, "a"), 120);
    ASSERT_EQ(quota_user_used(&u, "b"), 7);
    ASSERT_EQ(quota_users_count(&u), 2);
    /* The server ("") is never counted. */
    quota_user_add(&u, "", 1000);
    ASSERT_EQ(quota_user_used(&u, ""), 0);
    ASSERT_EQ(quota_users_count(&u), 2);
    /* Down to 0 drops the entry; below 0 clamps; a decrease of an unknown user is a no-op. */
    quota_user_add(&u, "b", -7);
    ASSERT_EQ(quota_users_count(&u), 1);
    quota_user_add(&u, "a", -500);
    ASSERT_EQ(quota_user_used(&u, "a"), 0);
    ASSERT_EQ(quota_users_count(&u), 0);
    quota_user_add(&u, "c", -5);
    ASSERT_EQ(quota_users_count(&u), 0);
    /* Keys are copied: the caller's buffer may change. */
    char key[8] = "dd";
    quota_user_add(&u, key, 3);
    key[0] = 'x';
    ASSERT_EQ(quota_user_used(&u, "dd"), 3);
    for (int i = 0; i < 1000; i++) {
        char k[16];
        snprintf(k, sizeof(k), "u%d", i);
        quota_user_add(&u, k, i + 1);
    }
    ASSERT_EQ(quota_users_count(&u), 1001);
    ASSERT_EQ(quota_user_used(&u, "u999"), 1000);
    quota_users_free(&u);
}

int main(void)
{
    RUN(test_check);
    RUN(test_add_clamps);
    RUN(test_users);
    TEST_MAIN_END();
}
