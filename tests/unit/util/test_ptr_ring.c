/* test_ptr_ring.c: the FIFO of borrowed pointers: order across growth and wrap, forgotten
 * entries handed out as NULL in their place. */
#include "test.h"

#include "util/ptr_ring.h"

/* First in, first out, while the ring wraps and grows past its first 64 slots. */
static void test_order_across_growth(void)
{
    ptr_ring_t r = {0};
    int v[300];
    size_t next_in = 0, next_out = 0;
    /* Wrap first: 40 in, 30 out, then fill past the capacity. */
    for (; next_in < 40; next_in++)
        ptr_ring_push(&r, &v[next_in]);
    for (; next_out < 30; next_out++)
        ASSERT_TRUE(ptr_ring_pop(&r) == &v[next_out]);
    for (; next_in < 300; next_in++)
        ptr_ring_push(&r, &v[next_in]);
    ASSERT_EQ(r.len, 270);
    for (; next_out < 300; next_out++)
        ASSERT_TRUE(ptr_ring_pop(&r) == &v[next_out]);
    ASSERT_EQ(r.len, 0);
    ptr_ring_free(&r);
    ASSERT_TRUE(r.v == NULL && r.cap == 0);
}

/* A forgotten entry keeps its place and comes out as NULL; the others are untouched. */
static void test_forget(void)
{
    ptr_ring_t r = {0};
    int a, b, c;
    ptr_ring_push(&r, &a);
    ptr_ring_push(&r, &b);
    ptr_ring_push(&r, &c);
    ptr_ring_push(&r, &b);
    ASSERT_EQ(ptr_ring_forget(&r, &b), 2);
    ASSERT_EQ(ptr_ring_forget(&r, &b), 0);
    ASSERT_EQ(r.len, 4);
    ASSERT_TRUE(ptr_ring_pop(&r) == &a);
    ASSERT_TRUE(ptr_ring_pop(&r) == NULL);
    ASSERT_TRUE(ptr_ring_pop(&r) == &c);
    ASSERT_TRUE(ptr_ring_pop(&r) == NULL);
    ASSERT_EQ(r.len, 0);
    ptr_ring_free(&r);
}

int main(void)
{
    RUN(test_order_across_growth);
    RUN(test_forget);
    TEST_MAIN_END();
}
