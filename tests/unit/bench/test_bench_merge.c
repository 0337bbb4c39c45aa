/* test_bench_merge.c: chorus-bench --procs adds its processes' results into one: counts
 * added, histograms merged bucket by bucket (so the percentiles are those of all the
 * samples, not an average of each process's), the run from the last start to the last
 * stop, and a part that never ran fails the whole. Includes the generator's sources. */
#include "../../../bench/bench_hist.c"
#include "../../../bench/bench_procs.c"
#include "../../../bench/bench_util.c"

#include "test.h"

static bench_result_t *part(uint64_t t_start, uint64_t t_stop)
{
    bench_result_t *r = calloc(1, sizeof(*r));
    bhist_reset(&r->hist);
    r->t_setup = t_start - 100;
    r->t_start = t_start;
    r->t_stop = t_stop;
    r->srv_ok = 1;
    return r;
}

static void test_histograms_merge_exactly(void)
{
    /* One process saw 900 fast round trips, the other 100 slow ones: p50 is fast, p99 slow,
     * and the max is the slow one's; averaging percentiles would say otherwise. */
    bench_result_t *a = part(1000, 5000), *b = part(1200, 5100), *sum = part(0, 0);
    for (int i = 0; i < 900; i++)
        bhist_add(&a->hist, 100000 + i);
    for (int i = 0; i < 100; i++)
        bhist_add(&b->hist, 5000000 + i * 1000);
    a->count = 900;
    b->count = 100;
    a->n = 30;
    b->n = 20;
    a->errors = 1;
    b->lost = 2;
    a->self_run_cpu = 0.5;
    b->self_run_cpu = 0.25;
    a->srv0.cpu_s = 1;
    b->srv0.cpu_s = 2;
    a->srv1.cpu_s = 4;
    b->srv1.cpu_s = 5;
    bench_result_merge(sum, a, 1);
    bench_result_merge(sum, b, 0);
    ASSERT_EQ(sum->count, 1000);
    ASSERT_EQ(sum->n, 50);
    ASSERT_EQ(sum->errors, 1);
    ASSERT_EQ(sum->lost, 2);
    ASSERT_EQ(sum->hist.count, 1000);
    ASSERT_EQ(sum->hist.max, b->hist.max);
    uint64_t p50 = bhist_quantile(&sum->hist, 0.5), p99 = bhist_quantile(&sum->hist, 0.99);
    ASSERT_TRUE(p50 >= 99000 && p50 <= 103000);
    ASSERT_TRUE(p99 >= 5000000);
    /* The same as one histogram fed every sample. */
    bhist_t all;
    bhist_reset(&all);
    for (int i = 0; i < 900; i++)
        bhist_add(&all, 100000 + i);
    for (int i = 0; i < 100; i++)
        bhist_add(&all, 5000000 + i * 1000);
    ASSERT_MEMEQ(&all, &sum->hist, sizeof(all));
    /* The run: from the last start to the last stop; the server as those saw it. */
    ASSERT_EQ(sum->t_setup, 900);
    ASSERT_EQ(sum->t_start, 1200);
    ASSERT_EQ(sum->t_stop, 5100);
    ASSERT_TRUE(sum->srv0.cpu_s == 2 && sum->srv1.cpu_s == 5);
    ASSERT_TRUE(sum->self_run_cpu == 0.75);
    ASSERT_EQ(sum->srv_ok, 1);
    /* Into a report: bench_report's differences give the sums back. */
    static bench_t bt;
    bench_result_apply(&bt, sum);
    ASSERT_EQ(bt.n, 50);
    ASSERT_EQ(bt.st.count, 1000);
    ASSERT_TRUE(bt.self1.cpu_s - bt.self0.cpu_s == 0.75);
    ASSERT_EQ(bt.st.errors + bt.st.lost, 3);
    free(a);
    free(b);
    free(sum);
}

static void test_a_part_that_never_ran_fails(void)
{
    bench_result_t *a = part(1000, 5000), *b = part(1000, 2000), *sum = part(0, 0);
    b->t_start = 0; /* its setup failed */
    bench_result_merge(sum, a, 1);
    bench_result_merge(sum, b, 0);
    ASSERT_EQ(sum->t_start, 0);
    bench_result_merge(sum, a, 1);
    ASSERT_EQ(sum->t_start, 1000);
    free(a);
    free(b);
    free(sum);
}

int main(void)
{
    RUN(test_histograms_merge_exactly);
    RUN(test_a_part_that_never_ran_fails);
    TEST_MAIN_END();
}
