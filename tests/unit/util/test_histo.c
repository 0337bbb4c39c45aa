/* test_histo.c: fixed-bucket histograms: bucket edges, cumulative counts, sum. */
#include "test.h"

#include "util/histo.h"

static const uint64_t bounds[] = {1, 2, 4, 8};

static void test_empty(void)
{
    histo_t h;
    histo_init(&h, bounds, 4);
    for (size_t i = 0; i <= 4; i++)
        ASSERT_EQ(histo_le(&h, i), 0);
    ASSERT_EQ(h.count, 0);
    ASSERT_EQ(h.sum, 0);
}

/* A value equal to a bound falls in that bound's bucket (Prometheus's "le"); one above the
 * last bound only in the last (+Inf) count. */
static void test_edges(void)
{
    histo_t h;
    histo_init(&h, bounds, 4);
    uint64_t vals[] = {0, 1, 2, 3, 4, 8, 9, 1000};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
        histo_add(&h, vals[i]);
    ASSERT_EQ(histo_le(&h, 0), 2); /* 0, 1 */
    ASSERT_EQ(histo_le(&h, 1), 3); /* 2 */
    ASSERT_EQ(histo_le(&h, 2), 5); /* 3, 4 */
    ASSERT_EQ(histo_le(&h, 3), 6); /* 8 */
    ASSERT_EQ(histo_le(&h, 4), 8); /* 9, 1000 */
    ASSERT_EQ(h.count, 8);
    ASSERT_EQ(h.sum, 0 + 1 + 2 + 3 + 4 + 8 + 9 + 1000);
}

/* No bounds: one bucket, everything in it. */
static void test_no_bounds(void)
{
    histo_t h;
    histo_init(&h, NULL, 0);
    histo_add(&h, 5);
    ASSERT_EQ(histo_le(&h, 0), 1);
}

int main(void)
{
    RUN(test_empty);
    RUN(test_edges);
    RUN(test_no_bounds);
    TEST_MAIN_END();
}
