/* test_ratelimit.c: token bucket refill, burst cap, clock edge cases. */
#include "test.h"

#include "util/ratelimit.h"

static void test_burst_then_empty(void)
{
    rl_bucket_t b;
    rl_init(&b, 5, 1000);
    for (int i = 0; i < 5; i++) ASSERT_EQ(rl_take(&b, 10, 5, 1000), 1);
    ASSERT_EQ(rl_take(&b, 10, 5, 1000), 0);
}

static void test_refill_rate(void)
{
    rl_bucket_t b;
    rl_init(&b, 1, 0);
    ASSERT_EQ(rl_take(&b, 10, 1, 0), 1);
    ASSERT_EQ(rl_take(&b, 10, 1, 99), 0);  /* 10/s: one token per 100 ms */
    ASSERT_EQ(rl_take(&b, 10, 1, 100), 1);
    ASSERT_EQ(rl_take(&b, 10, 1, 150), 0);
    ASSERT_EQ(rl_take(&b, 10, 1, 200), 1);
}

static void test_sustained_rate(void)
{
    /* 1000/s, burst 2000: over 10 s at 1 ms steps exactly 2000 + 10000 pass when offered
     * 3 messages per ms. */
    rl_bucket_t b;
    rl_init(&b, 2000, 0);
    int passed = 0;
    for (uint64_t t = 0; t < 10000; t++)
        for (int k = 0; k < 3; k++) passed += rl_take(&b, 1000, 2000, t);
    ASSERT_EQ(passed, 2000 + 9999);
}

static void test_cap_and_clock(void)
{
    rl_bucket_t b;
    rl_init(&b, 3, 0);
    for (int i = 0; i < 3; i++) rl_take(&b, 1000, 3, 0);
    /* a long pause refills only up to the burst */
    int n = 0;
    while (rl_take(&b, 1000, 3, 1000000)) n++;
    ASSERT_EQ(n, 3);
    /* time going backwards refills nothing and does not wrap */
    ASSERT_EQ(rl_take(&b, 1000, 3, 5), 0);
    /* a huge jump does not overflow */
    n = 0;
    while (rl_take(&b, 100000000, 3, UINT64_MAX / 2)) n++;
    ASSERT_EQ(n, 3);
}

int main(void)
{
    RUN(test_burst_then_empty);
    RUN(test_refill_rate);
    RUN(test_sustained_rate);
    RUN(test_cap_and_clock);
    TEST_MAIN_END();
}
