/* test_loop_stat.c: the loop iteration histogram: bucket edges, cumulative counts, max;
 * the per-iteration budget. */
#include "test.h"

#include "util/loop_stat.h"

static void test_empty(void)
{
    loop_stat_t ls = {0};
    for (size_t i = 0; i <= LOOP_STAT_NBOUNDS; i++)
        ASSERT_EQ(loop_stat_le(&ls, i), 0);
    ASSERT_EQ(ls.max_ns, 0);
}

/* A length equal to a bound falls in that bound's bucket (Prometheus's "le"). */
static void test_edges(void)
{
    loop_stat_t ls = {0};
    loop_stat_add(&ls, 0);
    loop_stat_add(&ls, 1000000);  /* <= 1 ms */
    loop_stat_add(&ls, 1000001);  /* <= 2 ms */
    loop_stat_add(&ls, 5000000);  /* <= 5 ms */
    loop_stat_add(&ls, 10000000); /* <= 10 ms */
    loop_stat_add(&ls, 10000001); /* above */
    loop_stat_add(&ls, 3000000);  /* <= 5 ms */
    ASSERT_EQ(loop_stat_le(&ls, 0), 2);
    ASSERT_EQ(loop_stat_le(&ls, 1), 3);
    ASSERT_EQ(loop_stat_le(&ls, 2), 5);
    ASSERT_EQ(loop_stat_le(&ls, 3), 6);
    ASSERT_EQ(loop_stat_le(&ls, LOOP_STAT_NBOUNDS), 7);
    ASSERT_EQ(ls.count, 7);
    ASSERT_EQ(ls.max_ns, 10000001);
    ASSERT_EQ(ls.sum_ns, 0 + 1000000 + 1000001 + 5000000 + 10000000 + 10000001 + 3000000);
    ASSERT_EQ(loop_stat_bound_ns(0), 1000000);
    ASSERT_EQ(loop_stat_bound_ns(LOOP_STAT_NBOUNDS - 1), 10000000);
}

/* The maximum is the longest ever, not the last. */
static void test_max_kept(void)
{
    loop_stat_t ls = {0};
    loop_stat_add(&ls, 7000);
    loop_stat_add(&ls, 900);
    ASSERT_EQ(ls.max_ns, 7000);
}

/* The budget's clock starts at the first piece after a reset, not at the reset: the
 * first piece of an iteration always runs, whatever time it is. */
static void test_budget_starts_at_first_piece(void)
{
    loop_budget_t b = {.limit_ns = 500};
    loop_budget_reset(&b);
    ASSERT_EQ(loop_budget_spent(&b, 1000000), 0); /* long after the reset: starts now */
    ASSERT_EQ(loop_budget_spent(&b, 1000499), 0);
    ASSERT_EQ(loop_budget_spent(&b, 1000500), 1); /* limit_ns after the first piece */
    ASSERT_EQ(loop_budget_spent(&b, 9000000), 1);
}

/* A reset gives the next iteration the whole budget again. */
static void test_budget_reset(void)
{
    loop_budget_t b = {.limit_ns = 500};
    loop_budget_reset(&b);
    ASSERT_EQ(loop_budget_spent(&b, 0), 0);
    ASSERT_EQ(loop_budget_spent(&b, 600), 1);
    loop_budget_reset(&b);
    ASSERT_EQ(loop_budget_spent(&b, 700), 0);
    ASSERT_EQ(loop_budget_spent(&b, 1100), 0);
    ASSERT_EQ(loop_budget_spent(&b, 1200), 1);
}

int main(void)
{
    RUN(test_empty);
    RUN(test_edges);
    RUN(test_max_kept);
    RUN(test_budget_starts_at_first_piece);
    RUN(test_budget_reset);
    TEST_MAIN_END();
}
