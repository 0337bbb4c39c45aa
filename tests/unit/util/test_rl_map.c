/* test_rl_map.c: keyed buckets: limits, exact Retry-After, refill, sweep, bounded memory. */
#include "test.h"

#include "util/ratelimit.h"
#include "util/rl_map.h"

static const unsigned char seed[16] = "0123456789abcdef";

static int take(rl_map_t *m, const char *k, const rl_rule_t *r, uint64_t now, uint64_t *ra)
{
    return rl_map_take(m, k, strlen(k), r, now, ra);
}

static void test_limit_and_retry_after(void)
{
    rl_map_t *m = rl_map_new_seeded(16, seed);
    rl_rule_t r = {5, 60000}; /* 5 per minute: one token per 12000 ms */
    uint64_t ra = 0;
    for (int i = 0; i < 5; i++) ASSERT_EQ(take(m, "1.2.3.4", &r, 1000, &ra), 1);
    ASSERT_EQ(take(m, "1.2.3.4", &r, 1000, &ra), 0);
    ASSERT_EQ(ra, 12000);
    ASSERT_EQ(take(m, "1.2.3.4", &r, 1000 + 5000, &ra), 0);
    ASSERT_EQ(ra, 7000);
    ASSERT_EQ(take(m, "1.2.3.4", &r, 1000 + 11999, &ra), 0);
    ASSERT_EQ(ra, 1);
    ASSERT_EQ(take(m, "1.2.3.4", &r, 1000 + 12000, &ra), 1);
    ASSERT_EQ(take(m, "1.2.3.4", &r, 1000 + 12000, &ra), 0);
    ASSERT_EQ(ra, 12000);
    rl_map_free(m);
}

static void test_peek_takes_nothing(void)
{
    rl_map_t *m = rl_map_new_seeded(16, seed);
    rl_rule_t r = {2, 60000}; /* one token per 30000 ms */
    uint64_t ra = 0;
    ASSERT_EQ(rl_map_peek(m, "k", 1, &r, 1000, &ra), 1);
    ASSERT_EQ(rl_map_count(m), 0); /* an unknown key is not added */
    ASSERT_EQ(take(m, "k", &r, 1000, NULL), 1);
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(rl_map_peek(m, "k", 1, &r, 1000, &ra), 1);
    ASSERT_EQ(take(m, "k", &r, 1000, NULL), 1);
    ASSERT_EQ(rl_map_peek(m, "k", 1, &r, 1000, &ra), 0);
    ASSERT_EQ(ra, 30000);
    ASSERT_EQ(rl_map_peek(m, "k", 1, &r, 1000 + 29999, &ra), 0);
    ASSERT_EQ(ra, 1);
    ASSERT_EQ(rl_map_peek(m, "k", 1, &r, 1000 + 30000, &ra), 1);
    ASSERT_EQ(take(m, "k", &r, 1000 + 30000, NULL), 1);
    ASSERT_EQ(take(m, "k", &r, 1000 + 30000, &ra), 0);
    rl_map_free(m);
}

static void test_refill_after_window(void)
{
    rl_map_t *m = rl_map_new_seeded(16, seed);
    rl_rule_t r = {3, 1000};
    for (int i = 0; i < 3; i++) ASSERT_EQ(take(m, "k", &r, 0, NULL), 1);
    ASSERT_EQ(take(m, "k", &r, 0, NULL), 0);
    int n = 0;
    while (take(m, "k", &r, 1000, NULL)) n++;
    ASSERT_EQ(n, 3);
    n = 0; /* a long pause refills only up to the limit */
    while (take(m, "k", &r, 1000000, NULL)) n++;
    ASSERT_EQ(n, 3);
    rl_map_free(m);
}

static void test_keys_independent(void)
{
    rl_map_t *m = rl_map_new_seeded(16, seed);
    rl_rule_t r = {2, 10000};
    ASSERT_EQ(take(m, "a", &r, 0, NULL), 1);
    ASSERT_EQ(take(m, "a", &r, 0, NULL), 1);
    ASSERT_EQ(take(m, "a", &r, 0, NULL), 0);
    ASSERT_EQ(take(m, "b", &r, 0, NULL), 1);
    ASSERT_EQ(take(m, "ab", &r, 0, NULL), 1);
    ASSERT_EQ(rl_map_take(m, "", 0, &r, 0, NULL), 1);
    /* keys are bytes: an embedded NUL makes a different key */
    ASSERT_EQ(rl_map_take(m, "a\0x", 3, &r, 0, NULL), 1);
    ASSERT_EQ(rl_map_count(m), 5);
    ASSERT_EQ(take(m, "b", &r, 0, NULL), 1);
    ASSERT_EQ(take(m, "b", &r, 0, NULL), 0);
    rl_map_free(m);
}

static void test_sweep_drops_full(void)
{
    rl_map_t *m = rl_map_new_seeded(64, seed);
    rl_rule_t r = {4, 4000}; /* one token per 1000 ms */
    char k[16];
    for (int i = 0; i < 40; i++) {
        snprintf(k, sizeof k, "key%d", i);
        /* key i takes 1 + (i % 4) tokens at t=0 */
        for (int j = 0; j <= i % 4; j++) ASSERT_EQ(take(m, k, &r, 0, NULL), 1);
    }
    ASSERT_EQ(rl_map_count(m), 40);
    ASSERT_EQ(rl_map_sweep(m, &r, 0), 0);
    ASSERT_EQ(rl_map_sweep(m, &r, 999), 0);
    ASSERT_EQ(rl_map_sweep(m, &r, 1000), 10); /* the ones that took 1 */
    ASSERT_EQ(rl_map_count(m), 30);
    ASSERT_EQ(rl_map_sweep(m, &r, 2500), 10);
    ASSERT_EQ(rl_map_sweep(m, &r, 4000), 20);
    ASSERT_EQ(rl_map_count(m), 0);
    /* the map still works after everything was removed */
    ASSERT_EQ(take(m, "key3", &r, 4000, NULL), 1);
    ASSERT_EQ(rl_map_count(m), 1);
    rl_map_free(m);
}

static void test_survivors_keep_state_after_sweep(void)
{
    /* Removal shuffles both the index and the dense array: every surviving key must still
     * be found with its own bucket. */
    rl_map_t *m = rl_map_new_seeded(512, seed);
    rl_rule_t r = {2, 2000};
    char k[16];
    for (int i = 0; i < 500; i++) {
        snprintf(k, sizeof k, "%d", i);
        take(m, k, &r, 0, NULL);
        if (i % 3 == 0) take(m, k, &r, 0, NULL); /* drained */
    }
    ASSERT_EQ(rl_map_sweep(m, &r, 1000), 333);
    ASSERT_EQ(rl_map_count(m), 167);
    for (int i = 0; i < 500; i += 3) {
        snprintf(k, sizeof k, "%d", i);
        ASSERT_EQ(take(m, k, &r, 1000, NULL), 1); /* refilled one */
        ASSERT_EQ(take(m, k, &r, 1000, NULL), 0); /* ...and only one: state kept */
    }
    ASSERT_EQ(rl_map_count(m), 167);
    rl_map_free(m);
}

static void test_bounded(void)
{
    rl_map_t *m = rl_map_new_seeded(8, seed);
    rl_rule_t r = {3, 60000};
    char k[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(k, sizeof k, "10.0.%d.%d", i / 256, i % 256);
        ASSERT_EQ(take(m, k, &r, (uint64_t)i, NULL), 1);
        ASSERT_TRUE(rl_map_count(m) <= 8);
    }
    ASSERT_EQ(rl_map_count(m), 8);
    rl_map_free(m);
}

static void test_eviction_spares_drained(void)
{
    /* A drained key must survive a flood of fresh keys: they are fuller, so they go first. */
    rl_map_t *m = rl_map_new_seeded(100, seed);
    rl_rule_t r = {5, 900000};
    for (int i = 0; i < 5; i++) ASSERT_EQ(take(m, "victim", &r, 0, NULL), 1);
    ASSERT_EQ(take(m, "victim", &r, 0, NULL), 0);
    char k[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(k, sizeof k, "flood%d", i);
        take(m, k, &r, 10 + (uint64_t)i / 100, NULL);
    }
    uint64_t ra = 0;
    ASSERT_EQ(take(m, "victim", &r, 1010, &ra), 0);
    ASSERT_EQ(ra, 180000 - 1010);
    rl_map_free(m);
}

static void test_precision_100_per_15min(void)
{
    rl_map_t *m = rl_map_new_seeded(4, seed);
    rl_rule_t r = {100, 900000}; /* one token per 9000 ms exactly */
    uint64_t ra = 0, t0 = 1700000000000ull;
    for (int i = 0; i < 100; i++) ASSERT_EQ(take(m, "ip", &r, t0, &ra), 1);
    ASSERT_EQ(take(m, "ip", &r, t0, &ra), 0);
    ASSERT_EQ(ra, 9000);
    /* over 24 h of steady demand exactly 100 + 86400000 / 9000 = 9700 pass */
    int passed = 100;
    for (uint64_t t = t0 + 1000; t <= t0 + 86400000; t += 1000)
        while (take(m, "ip", &r, t, NULL)) passed++;
    ASSERT_EQ(passed, 100 + 9600);
    ASSERT_EQ(take(m, "ip", &r, t0 + 86400000, &ra), 0);
    ASSERT_EQ(ra, 9000);
    rl_map_free(m);
}

static void test_window_bucket(void)
{
    rl_bucket_t b;
    uint64_t ra = 0;
    rl_init_window(&b, 2, 900000, 0);
    ASSERT_EQ(rl_take_window(&b, 100, 900000, 2, 0, &ra), 1);
    ASSERT_EQ(rl_take_window(&b, 100, 900000, 2, 0, &ra), 1);
    ASSERT_EQ(rl_take_window(&b, 100, 900000, 2, 0, &ra), 0);
    ASSERT_EQ(ra, 9000);
    ASSERT_EQ(rl_units_at(&b, 100, 900000, 2, 4500), 450000);
    ASSERT_EQ(rl_units_at(&b, 100, 900000, 2, UINT64_MAX), 1800000);
    /* limit 0 never refills */
    ASSERT_EQ(rl_take_window(&b, 0, 900000, 2, 10000000, &ra), 0);
    ASSERT_EQ(ra, UINT64_MAX);
    /* extreme values do not overflow */
    rl_init_window(&b, UINT32_MAX, RL_WINDOW_MAX_MS, 0);
    ASSERT_EQ(rl_take_window(&b, UINT32_MAX, RL_WINDOW_MAX_MS, UINT32_MAX, 0, &ra), 1);
    ASSERT_EQ(rl_units_at(&b, UINT32_MAX, RL_WINDOW_MAX_MS, UINT32_MAX, 1),
              (uint64_t)UINT32_MAX * RL_WINDOW_MAX_MS);
}

static void test_refund(void)
{
    rl_map_t *m = rl_map_new_seeded(16, seed);
    rl_rule_t r = {2, 60000};
    ASSERT_EQ(take(m, "a", &r, 0, NULL), 1);
    rl_map_refund(m, "a", 1, &r, 0);
    ASSERT_EQ(take(m, "a", &r, 0, NULL), 1);
    ASSERT_EQ(take(m, "a", &r, 0, NULL), 1);
    ASSERT_EQ(take(m, "a", &r, 0, NULL), 0);
    rl_map_refund(m, "a", 1, &r, 0);
    ASSERT_EQ(take(m, "a", &r, 0, NULL), 1);
    /* Never more than the limit, however many refunds. */
    for (int i = 0; i < 5; i++) rl_map_refund(m, "a", 1, &r, 0);
    ASSERT_EQ(take(m, "a", &r, 0, NULL), 1);
    ASSERT_EQ(take(m, "a", &r, 0, NULL), 1);
    ASSERT_EQ(take(m, "a", &r, 0, NULL), 0);
    rl_map_refund(m, "absent", 6, &r, 0); /* ignored */
    ASSERT_EQ(rl_map_count(m), 1);
    rl_map_free(m);
}

int main(void)
{
    RUN(test_refund);
    RUN(test_limit_and_retry_after);
    RUN(test_refill_after_window);
    RUN(test_keys_independent);
    RUN(test_sweep_drops_full);
    RUN(test_peek_takes_nothing);
    RUN(test_survivors_keep_state_after_sweep);
    RUN(test_bounded);
    RUN(test_eviction_spares_drained);
    RUN(test_precision_100_per_15min);
    RUN(test_window_bucket);
    TEST_MAIN_END();
}
