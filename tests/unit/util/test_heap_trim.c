/* test_heap_trim.c: the free heap is given back once a burst is over: after growth of
 * HEAP_TRIM_GROWTH since the last trim, at a look with little input, once; or, after a
 * burst that crawled, from HEAP_TRIM_SETTLED once it has been quiet a while. */
#include "test.h"

#include "util/heap_trim.h"

#define MiB (1024ull * 1024)

static void test_after_burst(void)
{
    heap_trim_t t;
    heap_trim_init(&t, 20 * MiB, 0);
    uint64_t in = 0;
    /* The burst: the heap grows while clients send a lot. */
    for (int i = 1; i <= 10; i++) {
        in += 1000;
        ASSERT_EQ(heap_trim_due(&t, (20 + 5 * (uint64_t)i) * MiB, in), 0);
    }
    /* Over: the first quiet look trims; not again while that trim runs. */
    in += HEAP_TRIM_QUIET - 1;
    ASSERT_EQ(heap_trim_due(&t, 70 * MiB, in), 1);
    t.running = 1;
    ASSERT_EQ(heap_trim_due(&t, 70 * MiB, in), 0);
    heap_trim_done(&t, 40 * MiB);
    ASSERT_EQ(t.running, 0);
    ASSERT_EQ(t.trims, 1);
    /* Quiet from now on, and nothing grew: no more trims. */
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(heap_trim_due(&t, 40 * MiB, in), 0);
    /* Small growth is not worth a walk of the heap. */
    ASSERT_EQ(heap_trim_due(&t, 40 * MiB + HEAP_TRIM_GROWTH - 1, in), 0);
    ASSERT_EQ(heap_trim_due(&t, 40 * MiB + HEAP_TRIM_GROWTH, in), 1);
}

static void test_base_follows_shrinking(void)
{
    heap_trim_t t;
    heap_trim_init(&t, 50 * MiB, 0);
    /* Connections closed, the heap shrank by itself: growth counts from the lowest. */
    ASSERT_EQ(heap_trim_due(&t, 30 * MiB, 0), 0);
    ASSERT_EQ(t.base, 30 * MiB);
    ASSERT_EQ(heap_trim_due(&t, 30 * MiB + HEAP_TRIM_GROWTH, 0), 1);
    /* Unknown resident size (no /proc): never due. */
    ASSERT_EQ(heap_trim_due(&t, 0, 0), 0);
}

static void test_busy_never(void)
{
    heap_trim_t t;
    heap_trim_init(&t, 10 * MiB, 0);
    uint64_t in = 0;
    for (int i = 0; i < 100; i++) {
        in += HEAP_TRIM_QUIET; /* a steady stream of input: the heap is in use */
        ASSERT_EQ(heap_trim_due(&t, 100 * MiB, in), 0);
    }
    ASSERT_EQ(heap_trim_due(&t, 100 * MiB, in + HEAP_TRIM_QUIET - 1), 1);
}

/* A burst that crawled (a loaded machine): a quiet look in its middle trimmed, the growth
 * after it stayed under HEAP_TRIM_GROWTH; once it is over, HEAP_TRIM_SETTLE quiet looks in a
 * row trim once more, and only once. */
static void test_settle_after_crawl(void)
{
    heap_trim_t t;
    heap_trim_init(&t, 20 * MiB, 0);
    uint64_t in = 0;
    for (int i = 1; i <= 4; i++) {
        in += 100;
        ASSERT_EQ(heap_trim_due(&t, (20 + 2 * (uint64_t)i) * MiB, in), 0);
    }
    ASSERT_EQ(heap_trim_due(&t, 28 * MiB, in), 1); /* a pause mid-burst */
    t.running = 1;
    in += 100; /* the burst goes on while that trim runs */
    ASSERT_EQ(heap_trim_due(&t, 29 * MiB, in), 0);
    heap_trim_done(&t, 24 * MiB);
    for (int i = 1; i <= 3; i++) {
        in += 100;
        ASSERT_EQ(heap_trim_due(&t, 24 * MiB + (uint64_t)i * MiB, in), 0);
    }
    /* 3 MiB after the last trim, under HEAP_TRIM_GROWTH: it is over, then settled. */
    for (int i = 1; i < HEAP_TRIM_SETTLE; i++)
        ASSERT_EQ(heap_trim_due(&t, 27 * MiB, in), 0);
    ASSERT_EQ(heap_trim_due(&t, 27 * MiB, in), 1);
    heap_trim_done(&t, 25 * MiB);
    ASSERT_EQ(t.trims, 2);
    /* Quiet from now on: no more, whatever small growth comes. */
    for (int i = 0; i < 3 * HEAP_TRIM_SETTLE; i++)
        ASSERT_EQ(heap_trim_due(&t, 25 * MiB + HEAP_TRIM_GROWTH - 1, in), 0);
    /* A burst that left less than HEAP_TRIM_SETTLED is not worth a walk. */
    in += 100;
    ASSERT_EQ(heap_trim_due(&t, 25 * MiB + HEAP_TRIM_SETTLED - 1, in), 0);
    for (int i = 0; i < 3 * HEAP_TRIM_SETTLE; i++)
        ASSERT_EQ(heap_trim_due(&t, 25 * MiB + HEAP_TRIM_SETTLED - 1, in), 0);
    ASSERT_EQ(heap_trim_due(&t, 25 * MiB + HEAP_TRIM_SETTLED, in), 1);
}

/* Memory the application let go of outside a burst (recent messages dropped once unused):
 * the resident size does not move, yet from HEAP_TRIM_SETTLED of it a quiet look trims,
 * once; less, or a busy look, does not, until the pieces stop coming. */
static void test_freed(void)
{
    heap_trim_t t;
    heap_trim_init(&t, 40 * MiB, 0);
    uint64_t in = 0;
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(heap_trim_due(&t, 40 * MiB, in), 0);
    heap_trim_freed(&t, HEAP_TRIM_SETTLED - 1);
    ASSERT_EQ(heap_trim_due(&t, 40 * MiB, in), 0);
    heap_trim_freed(&t, HEAP_TRIM_SETTLED);
    in += 1000; /* busy: not now */
    ASSERT_EQ(heap_trim_due(&t, 40 * MiB, in), 0);
    ASSERT_EQ(heap_trim_due(&t, 40 * MiB, in), 1);
    heap_trim_done(&t, 38 * MiB);
    for (int i = 0; i < 10; i++)
        ASSERT_EQ(heap_trim_due(&t, 38 * MiB, in), 0);
    heap_trim_freed(&t, 2 * HEAP_TRIM_SETTLED); /* another MiB let go of */
    ASSERT_EQ(heap_trim_due(&t, 38 * MiB, in), 1);
    heap_trim_done(&t, 37 * MiB);
    ASSERT_EQ(t.trims, 2);
    /* The rest comes in pieces under HEAP_TRIM_SETTLED: trimmed once the pieces stop for
     * HEAP_TRIM_SETTLE looks, and only from HEAP_TRIM_LET_GO. */
    uint64_t total = 2 * HEAP_TRIM_SETTLED;
    for (int i = 0; i < 3; i++) {
        total += HEAP_TRIM_LET_GO / 2;
        heap_trim_freed(&t, total);
        ASSERT_EQ(heap_trim_due(&t, 37 * MiB, in), 0);
    }
    for (int i = 1; i < HEAP_TRIM_SETTLE; i++)
        ASSERT_EQ(heap_trim_due(&t, 37 * MiB, in), 0);
    ASSERT_EQ(heap_trim_due(&t, 37 * MiB, in), 1);
    heap_trim_done(&t, 36 * MiB);
    heap_trim_freed(&t, total + HEAP_TRIM_LET_GO - 1); /* too little to walk the heap for */
    for (int i = 0; i < 2 * HEAP_TRIM_SETTLE; i++)
        ASSERT_EQ(heap_trim_due(&t, 36 * MiB, in), 0);
    ASSERT_EQ(t.trims, 3);
}

int main(void)
{
    RUN(test_after_burst);
    RUN(test_base_follows_shrinking);
    RUN(test_busy_never);
    RUN(test_settle_after_crawl);
    RUN(test_freed);
    TEST_MAIN_END();
}
