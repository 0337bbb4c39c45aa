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

/* Bursts on a queue with a slab: the first array is the slab's slot (no malloc), given
 * back each time the queue drains (an idle queue holds nothing, the slab no record), and
 * taken again for the next burst; the slot's eight items wrap (slide) in place. */
static void test_slab_array_per_burst(void)
{
    slab_t *s = slab_new_pages(OUTQ_SLAB_BYTES, OUTQ_SLAB_MAX_BYTES);
    outq_t q;
    outq_init(&q);
    cbuf_t *b = cbuf_from("abcd", 4);
    for (int burst = 0; burst < 3; burst++) {
        outq_push_in(&q, s, b);
        outq_push_in(&q, s, b);
        ASSERT_TRUE(q.items_slab);
        ASSERT_EQ(q.cap, OUTQ_SLAB_CAP);
        ASSERT_EQ(s->live, 1);
        outq_consume(&q, 8);
        ASSERT_TRUE(q.items == NULL); /* drained: released */
        ASSERT_EQ(q.cap, 0);
        ASSERT_EQ(s->live, 0);
    }
    /* Wraparound: a busy queue keeps its slot while items come and go past its end. */
    for (int i = 0; i < 8; i++) outq_push_in(&q, s, b);
    outq_consume(&q, 4 * 5); /* head 5, 3 live */
    for (int i = 0; i < 5; i++) outq_push_in(&q, s, b); /* slides, no growth */
    ASSERT_TRUE(q.items_slab);
    ASSERT_EQ(q.cap, OUTQ_SLAB_CAP);
    ASSERT_EQ(q.count, 8);
    ASSERT_EQ(q.bytes, 32);
    ASSERT_EQ(s->live, 1);
    outq_clear(&q);
    ASSERT_EQ(s->live, 0);
    ASSERT_EQ(b->refcnt, 1);
    cbuf_unref(b);
    slab_drop(s);
}

/* A queue that outgrows its slab slot takes a slot twice as large, up to
 * OUTQ_SLAB_MAX_CAP items, then moves to malloc (order and bytes kept, the slot given back
 * each time) and, drained, releases that array too; the next burst takes a slot again. */
static void test_slab_array_grows_to_malloc(void)
{
    slab_t *s = slab_new_pages(OUTQ_SLAB_BYTES, OUTQ_SLAB_MAX_BYTES);
    outq_t q;
    outq_init(&q);
    enum { N = 100 };
    cbuf_t *b[N];
    for (int i = 0; i < N; i++) {
        char t = (char)('A' + i % 26);
        b[i] = cbuf_from(&t, 1);
        outq_push_in(&q, s, b[i]);
        if (i + 1 == 9 || i + 1 == 17 || i + 1 == 33 || i + 1 == 64) {
            ASSERT_TRUE(q.items_slab); /* 16, 32, then 64 items: slots */
            ASSERT_EQ(s->live, 1);
        }
        if (i + 1 == 9) ASSERT_EQ(q.cap, 16);
        if (i + 1 == 64) ASSERT_EQ(q.cap, OUTQ_SLAB_MAX_CAP);
    }
    ASSERT_TRUE(!q.items_slab); /* the 65th: malloc's */
    ASSERT_EQ(s->live, 0);
    ASSERT_EQ(q.cap, 128);
    struct iovec iov[N];
    ASSERT_EQ(outq_iov(&q, iov, N), N);
    for (int i = 0; i < N; i++) ASSERT_TRUE(iov[i].iov_base == (void *)b[i]->data);
    ASSERT_EQ(q.bytes, N);
    outq_consume(&q, N);
    ASSERT_TRUE(q.items == NULL);
    outq_push_in(&q, s, b[0]);
    ASSERT_TRUE(q.items_slab);
    ASSERT_EQ(q.cap, OUTQ_SLAB_CAP);
    ASSERT_EQ(s->live, 1);
    outq_truncate(&q, 0);
    ASSERT_EQ(s->live, 0);
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(b[i]->refcnt, 1);
        cbuf_unref(b[i]);
    }
    slab_drop(s);
}

/* A small frame is a slab slot of a power-of-two size (its cap is the slot's rest), given
 * back at its last unref; a frame larger than the largest slot comes from malloc; a slot
 * that an append outgrows moves to malloc with its bytes. */
static void test_cbuf_in_slab(void)
{
    slab_t *s = slab_new_pages(CBUF_SLAB_MIN, CBUF_SLAB_MAX);
    cbuf_t *a = cbuf_new_in(s, 10);
    ASSERT_TRUE(a->slab);
    ASSERT_EQ(a->cap, CBUF_SLAB_MIN - sizeof(cbuf_t));
    ASSERT_EQ(a->len, 0);
    ASSERT_EQ(a->off, 0);
    cbuf_t *big = cbuf_new_in(s, CBUF_SLAB_MAX); /* header and cap over the largest slot */
    ASSERT_TRUE(!big->slab);
    ASSERT_EQ(big->cap, CBUF_SLAB_MAX);
    cbuf_t *mid = cbuf_new_in(s, CBUF_SLAB_MAX - sizeof(cbuf_t)); /* exactly the largest */
    ASSERT_TRUE(mid->slab);
    ASSERT_EQ(s->live, 2);
    cbuf_ref(a);
    cbuf_unref(a);
    ASSERT_EQ(s->live, 2); /* still referenced */
    a->off = 4;
    for (int i = 0; i < 300; i++) cbuf_append(&a, "y", 1); /* past the 128-byte slot */
    ASSERT_TRUE(!a->slab);
    ASSERT_EQ(a->off, 4);
    ASSERT_EQ(a->len, 300);
    ASSERT_TRUE(a->cap >= 304);
    ASSERT_EQ(a->data[4], 'y');
    ASSERT_EQ(a->data[303], 'y');
    ASSERT_EQ(s->live, 1);
    cbuf_unref(a);
    cbuf_unref(mid);
    cbuf_unref(big);
    ASSERT_EQ(s->live, 0);
    /* A frame still out when its owner lets go of the slab keeps it until its unref. */
    cbuf_t *late = cbuf_new_in(s, 1);
    slab_drop(s);
    cbuf_unref(late);
    /* No slab: malloc. */
    cbuf_t *m = cbuf_new_in(NULL, 1);
    ASSERT_TRUE(!m->slab);
    cbuf_unref(m);
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
    RUN(test_slab_array_per_burst);
    RUN(test_slab_array_grows_to_malloc);
    RUN(test_cbuf_in_slab);
    TEST_MAIN_END();
}
