/* test_room_lookup.c: the failed room-lookup limit: failures charge the user and the IP,
 * an empty bucket refuses every lookup until it refills, long keys are hashed. */
#include "test.h"

#include <sodium.h>

#include "domain/room_lookup.h"

static const rl_rule_t per_user = {3, 60000}; /* one token per 20 s */
static const rl_rule_t per_ip = {5, 60000};   /* one token per 12 s */

static void test_user_bucket(void)
{
    room_lookup_t *l = room_lookup_new(&per_user, &per_ip, 100);
    uint64_t ra = 0;
    for (int i = 0; i < 3; i++) {
        ASSERT_TRUE(room_lookup_allowed(l, "u1", "10.0.0.1", 1000, &ra));
        room_lookup_failed(l, "u1", "10.0.0.1", 1000);
    }
    ASSERT_TRUE(!room_lookup_allowed(l, "u1", "10.0.0.1", 1000, &ra));
    ASSERT_EQ(ra, 20000);
    /* Peeking takes nothing: still 20 s from the first refusal. */
    ASSERT_TRUE(!room_lookup_allowed(l, "u1", "10.0.0.2", 1000, &ra));
    ASSERT_TRUE(room_lookup_allowed(l, "u2", "10.0.0.1", 1000, &ra)); /* ip has 2 left */
    ASSERT_TRUE(room_lookup_allowed(l, "u1", "10.0.0.1", 21000, &ra));
    room_lookup_free(l);
}

static void test_ip_bucket(void)
{
    room_lookup_t *l = room_lookup_new(&per_user, &per_ip, 100);
    uint64_t ra = 0;
    char user[8];
    for (int i = 0; i < 5; i++) {
        snprintf(user, sizeof(user), "u%d", i);
        ASSERT_TRUE(room_lookup_allowed(l, user, "::1", 0, &ra));
        room_lookup_failed(l, user, "::1", 0);
    }
    ASSERT_TRUE(!room_lookup_allowed(l, "fresh", "::1", 0, &ra)); /* a new user, same IP */
    ASSERT_EQ(ra, 12000);
    ASSERT_TRUE(room_lookup_allowed(l, "fresh", "::2", 0, &ra));
    ASSERT_TRUE(room_lookup_allowed(l, "fresh", NULL, 0, &ra)); /* no IP: the user only */
    room_lookup_sweep(l, 60000);                                /* all refilled */
    ASSERT_TRUE(room_lookup_allowed(l, "fresh", "::1", 60000, &ra));
    room_lookup_free(l);
}

/* A lookup charged before its answer gives its token back when the room was found. */
static void test_refund(void)
{
    room_lookup_t *l = room_lookup_new(&per_user, &per_ip, 100);
    for (int i = 0; i < 3; i++)
        room_lookup_failed(l, "u1", "10.0.0.1", 1000);
    ASSERT_TRUE(!room_lookup_allowed(l, "u1", "10.0.0.1", 1000, NULL));
    room_lookup_refund(l, "u1", "10.0.0.1", 1000);
    ASSERT_TRUE(room_lookup_allowed(l, "u1", "10.0.0.1", 1000, NULL));
    room_lookup_failed(l, "u1", "10.0.0.1", 1000);
    ASSERT_TRUE(!room_lookup_allowed(l, "u1", "10.0.0.1", 1000, NULL));
    /* The IP's bucket got its token back too: 3 of 5 taken. */
    ASSERT_TRUE(room_lookup_allowed(l, "u2", "10.0.0.1", 1000, NULL));
    room_lookup_failed(l, "u2", "10.0.0.1", 1000);
    room_lookup_failed(l, "u3", "10.0.0.1", 1000);
    ASSERT_TRUE(!room_lookup_allowed(l, "u4", "10.0.0.1", 1000, NULL));
    room_lookup_free(l);
}

static void test_long_keys(void)
{
    room_lookup_t *l = room_lookup_new(&per_user, &per_ip, 100);
    char sub[129];
    memset(sub, 'a', 128);
    sub[128] = 0;
    for (int i = 0; i < 3; i++)
        room_lookup_failed(l, sub, "", 0);
    ASSERT_TRUE(!room_lookup_allowed(l, sub, "", 0, NULL));
    sub[127] = 'b'; /* a different long sub has its own bucket */
    ASSERT_TRUE(room_lookup_allowed(l, sub, "", 0, NULL));
    room_lookup_free(l);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    RUN(test_user_bucket);
    RUN(test_ip_bucket);
    RUN(test_long_keys);
    RUN(test_refund);
    TEST_MAIN_END();
}
