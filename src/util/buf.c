/* buf.c: refcounted byte buffers and the output queue. */
#include "util/buf.h"

#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

cbuf_t *cbuf_new(size_t cap)
{
    cbuf_t *b = ch_malloc(sizeof(*b) + cap);
    b->refcnt = 1;
    b->slab = 0;
    b->off = 0;
    b->len = 0;
    b->cap = cap;
    return b;
}

cbuf_t *cbuf_new_in(slab_t *s, size_t cap)
{
    if (!s || cap > CBUF_SLAB_MAX - sizeof(cbuf_t)) return cbuf_new(cap);
    size_t slot = CBUF_SLAB_MIN;
    while (slot < sizeof(cbuf_t) + cap) slot *= 2;
    cbuf_t *b = slab_alloc(s, slot); /* zeroed */
    b->refcnt = 1;
    b->slab = 1;
    b->cap = slot - sizeof(cbuf_t);
    return b;
}

/* Gives b's memory back where it came from. */
static void cbuf_release(cbuf_t *b)
{
    if (b->slab)
        slab_free(b);
    else
        free(b);
}

cbuf_t *cbuf_from(const void *p, size_t n)
{
    cbuf_t *b = cbuf_new(n);
    memcpy(b->data, p, n);
    b->len = n;
    return b;
}

cbuf_t *cbuf_ref(cbuf_t *b)
{
    CH_ASSERT(b->refcnt > 0);
    b->refcnt++;
    return b;
}

void cbuf_unref(cbuf_t *b)
{
    if (!b) return;
    CH_ASSERT(b->refcnt > 0);
    if (--b->refcnt == 0) cbuf_release(b);
}

void cbuf_append(cbuf_t **bp, const void *p, size_t n)
{
    cbuf_t *b = *bp;
    CH_ASSERT(b->refcnt == 1);
    size_t need = b->off + b->len + n;
    if (need > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < need) cap *= 2;
        if (b->slab) { /* out of its slot: on to malloc */
            cbuf_t *nb = cbuf_new(cap);
            nb->off = b->off;
            nb->len = b->len;
            memcpy(nb->data + b->off, b->data + b->off, b->len);
            cbuf_release(b);
            b = nb;
        } else {
            b = ch_realloc(b, sizeof(*b) + cap);
        }
        b->cap = cap;
        *bp = b;
    }
    memcpy(b->data + b->off + b->len, p, n);
    b->len += n;
}

void outq_init(outq_t *q)
{
    memset(q, 0, sizeof(*q));
}

/* Gives q's item array back (to its slab, or to malloc); q has none after. */
static void outq_free_items(outq_t *q)
{
    if (q->items_slab)
        slab_free(q->items);
    else
        free(q->items);
    q->items = NULL;
    q->items_slab = 0;
    q->head = 0;
    q->cap = 0;
}

void outq_push(outq_t *q, cbuf_t *b)
{
    outq_push_in(q, NULL, b);
}

void outq_push_in(outq_t *q, slab_t *s, cbuf_t *b)
{
    if (b->len == 0) return;
    CH_ASSERT(b->len <= UINT32_MAX - q->bytes); /* the queue's bounds: buf.h */
    if (q->head + q->count == q->cap) {
        /* Slide the live items to the front when that frees at least as many slots as it
         * moves, else grow: either way a push costs O(1) amortized. (Sliding whenever the
         * head had moved cost a slow reader with a long backlog, consumed an item at a
         * time, a move of the whole backlog per push: 18% of the server's time filling a
         * room of 13,500 with participants_changed.) */
        if (q->head > 0 && q->head >= q->count) {
            memcpy(q->items, q->items + q->head, q->count * sizeof(*q->items));
            q->head = 0;
        } else if (q->cap == 0 && s) {
            q->items = slab_alloc(s, OUTQ_SLAB_BYTES);
            q->items_slab = 1;
            q->cap = OUTQ_SLAB_CAP;
        } else if (q->items_slab) { /* outgrown its slot: a larger one, or malloc's */
            size_t cap = 2 * (size_t)q->cap;
            int slab = s && cap <= OUTQ_SLAB_MAX_CAP;
            outq_item_t *items = slab ? slab_alloc(s, cap * sizeof(*items))
                                      : ch_malloc(cap * sizeof(*items));
            memcpy(items, q->items + q->head, q->count * sizeof(*items));
            slab_free(q->items);
            q->items = items;
            q->items_slab = slab != 0;
            q->head = 0;
            q->cap = (uint32_t)cap;
        } else {
            CH_ASSERT(q->cap < UINT32_MAX / 4);
            q->cap = q->cap ? q->cap * 2 : 8;
            q->items = ch_realloc(q->items, q->cap * sizeof(*q->items));
        }
    }
    outq_item_t *it = &q->items[q->head + q->count++];
    it->buf = cbuf_ref(b);
    it->off = b->off;
    it->len = b->len;
    q->bytes += (uint32_t)b->len;
}

size_t outq_iov(const outq_t *q, struct iovec *iov, size_t max)
{
    size_t n = q->count < max ? q->count : max;
    for (size_t i = 0; i < n; i++) {
        const outq_item_t *it = &q->items[q->head + i];
        iov[i].iov_base = it->buf->data + it->off;
        iov[i].iov_len = it->len;
    }
    return n;
}

/* A drained queue gives its array back: an idle connection then holds no output memory.
 * Kept, the array stayed at the size of the largest burst the connection ever saw (a join
 * into a room of 100 queues ~100 events: a 2.5 KiB array per idle connection). With a slab
 * (outq_push_in) arrays up to OUTQ_SLAB_MAX_CAP items are free-list slots, so a burst
 * that size costs no malloc. */
static void outq_release_if_empty(outq_t *q)
{
    if (q->count != 0) return;
    outq_free_items(q);
}

void outq_consume(outq_t *q, size_t n)
{
    CH_ASSERT(n <= q->bytes);
    q->bytes -= (uint32_t)n;
    while (n > 0) {
        outq_item_t *it = &q->items[q->head];
        if (n < it->len) {
            it->off += n;
            it->len -= n;
            return;
        }
        n -= it->len;
        cbuf_unref(it->buf);
        q->head++;
        q->count--;
    }
    outq_release_if_empty(q);
}

void outq_truncate(outq_t *q, size_t n)
{
    size_t keep = 0, kept = 0;
    while (kept < n) kept += q->items[q->head + keep++].len;
    CH_ASSERT(kept == n);
    for (size_t i = keep; i < q->count; i++) cbuf_unref(q->items[q->head + i].buf);
    q->count = (uint32_t)keep;
    q->bytes = (uint32_t)n;
    outq_release_if_empty(q);
}

void outq_clear(outq_t *q)
{
    for (size_t i = 0; i < q->count; i++) cbuf_unref(q->items[q->head + i].buf);
    outq_free_items(q);
    outq_init(q);
}
