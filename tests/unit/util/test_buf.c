/* test_buf.c: refcounted buffers and the output queue. */
#include "test.h"

#include "util/buf.h"

static void test_refcount_shared(void)
{
    cbuf_t *b = cbuf_from("hello", 5);
    outq_t q1, q2;
    outq_init(&q1);
    outq_init(&q2);
    outq_push(&q1, b);
    outq_push(&q2, b);
    ASSERT_EQ(b->refcnt, 3);
    cbuf_unref(b);
    ASSERT_EQ(b->refcnt, 2);
    outq_consume(&q1, 5);
    ASSERT_EQ(b->refcnt, 1);
    ASSERT_EQ(q2.bytes, 5);
    outq_clear(&q2);
    ASSERT_EQ(q1.count, 0);
    outq_clear(&q1);
}

static void test_iov_and_partial_consume(void)
{
    outq_t q;
    outq_init(&q);
    for (int i = 0; i < 20; i++) {
        char s[8];
        snprintf(s, sizeof(s), "%02d|", i);
        cbuf_t *b = cbuf_from(s, 3);
        outq_push(&q, b);
        cbuf_unref(b);
    }
    ASSERT_EQ(q.bytes, 60);
    struct iovec iov[4];
    ASSERT_EQ(outq_iov(&q, iov, 4), 4);
    ASSERT_MEMEQ(iov[0].iov_base, "00|", 3);
    outq_consume(&q, 4); /* one item and one byte of the next */
    ASSERT_EQ(q.bytes, 56);
    ASSERT_EQ(outq_iov(&q, iov, 4), 4);
    ASSERT_EQ(iov[0].iov_len, 2);
    ASSERT_MEMEQ(iov[0].iov_base, "1|", 2);
    ASSERT_MEMEQ(iov[1].iov_base, "02|", 3);
    /* pushes after consuming reuse the front of the array */
    cbuf_t *b = cbuf_from("zz", 2);
    outq_push(&q, b);
    cbuf_unref(b);
    ASSERT_EQ(q.bytes, 58);
    outq_consume(&q, 56);
    ASSERT_EQ(outq_iov(&q, iov, 4), 1);
    ASSERT_MEMEQ(iov[0].iov_base, "zz", 2);
    outq_clear(&q);
}

static void test_truncate_keeps_inflight(void)
{
    outq_t q;
    outq_init(&q);
    const char *parts[] = {"aaa", "bb", "cccc"};
    for (int i = 0; i < 3; i++) {
        cbuf_t *b = cbuf_from(parts[i], strlen(parts[i]));
        outq_push(&q, b);
        cbuf_unref(b);
    }
    outq_truncate(&q, 5);
    ASSERT_EQ(q.count, 2);
    ASSERT_EQ(q.bytes, 5);
    outq_truncate(&q, 0);
    ASSERT_EQ(q.count, 0);
    ASSERT_EQ(q.bytes, 0);
    ASSERT_TRUE(q.items == NULL);
    outq_clear(&q);
}

/* An idle connection holds no output memory: a drained queue frees its array, whatever
 * size a burst grew it to, and is usable again. */
static void test_drained_queue_releases_array(void)
{
    outq_t q;
    outq_init(&q);
    cbuf_t *b = cbuf_from("abc", 3);
    for (int i = 0; i < 100; i++) outq_push(&q, b);
    ASSERT_TRUE(q.cap >= 100);
    outq_consume(&q, 299);
    ASSERT_TRUE(q.items != NULL); /* one byte left */
    outq_consume(&q, 1);
    ASSERT_EQ(q.count, 0);
    ASSERT_EQ(q.cap, 0);
    ASSERT_TRUE(q.items == NULL);
    ASSERT_EQ(b->refcnt, 1);
    outq_push(&q, b);
    ASSERT_EQ(q.bytes, 3);
    outq_clear(&q);
    cbuf_unref(b);
}

/* A full array slides its items to the front only when that frees as many slots as it
 * moves; a long backlog consumed an item at a time grows the array instead (it slid the
 * whole backlog on every push before). Order and bytes are kept either way. */
static void test_push_slides_or_grows(void)
{
    outq_t q;
    outq_init(&q);
    cbuf_t *b[64];
    for (int i = 0; i < 64; i++) {
        char t[8];
        int n = snprintf(t, sizeof(t), "%c", 'A' + i % 26);
        b[i] = cbuf_from(t, (size_t)n);
    }
    for (int i = 0; i < 16; i++) outq_push(&q, b[i]);
    ASSERT_EQ(q.cap, 16);
    outq_consume(&q, 1); /* head 1, 15 live: sliding would move 15 for 1 slot */
    outq_push(&q, b[16]);
    ASSERT_EQ(q.head, 1);
    ASSERT_EQ(q.cap, 32);
    for (int i = 17; i < 32; i++) outq_push(&q, b[i]); /* 31 live from slot 1: full again */
    ASSERT_EQ(q.head + q.count, q.cap);
    outq_consume(&q, 20); /* head 21, 11 live: a slide frees 21 slots for 11 moved */
    outq_push(&q, b[32]);
    ASSERT_EQ(q.head, 0);
    ASSERT_EQ(q.cap, 32);
    ASSERT_EQ(q.count, 12); /* b[21] to b[32], in order */
    struct iovec iov[16];
    ASSERT_EQ(outq_iov(&q, iov, 16), 12);
    for (int i = 0; i < 12; i++) ASSERT_TRUE(iov[i].iov_base == (void *)b[21 + i]->data);
    ASSERT_EQ(q.bytes, 12);
    outq_clear(&q);
    for (int i = 0; i < 64; i++) {
        ASSERT_EQ(b[i]->refcnt, 1);
        cbuf_unref(b[i]);
    }
}

static void test_append_grows(void)
{
    cbuf_t *b = cbuf_new(4);
    b->off = 2;
    for (int i = 0; i < 1000; i++) cbuf_append(&b, "x", 1);
    ASSERT_EQ(b->len, 1000);
    ASSERT_TRUE(b->cap >= 1002);
    ASSERT_EQ(b->data[b->off + 999], 'x');
    cbuf_unref(b);
}

static void test_empty_push_ignored(void)
{
    outq_t q;
    outq_init(&q);
    cbuf_t *b = cbuf_new(8);
    outq_push(&q, b);
    ASSERT_EQ(q.count, 0);
    ASSERT_EQ(b->refcnt, 1);
    cbuf_unref(b);
    outq_clear(&q);
}

int main(void)
{
    RUN(test_refcount_shared);
    RUN(test_iov_and_partial_consume);
    RUN(test_truncate_keeps_inflight);
    RUN(test_drained_queue_releases_array);
    RUN(test_push_slides_or_grows);
    RUN(test_append_grows);
    RUN(test_empty_push_ignored);
    TEST_MAIN_END();
}
