/* buf.h: refcounted byte buffers and the per-connection output queue built from them. */
#ifndef CHORUS_BUF_H
#define CHORUS_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "util/slab.h"

/* A refcounted buffer. A broadcast is encoded and framed once into one cbuf and the same
 * bytes are queued on every receiver (each queue holds its own reference), as Redis shares
 * one robj across pubsub clients. The payload is data[off .. off+len). */
typedef struct {
    uint32_t refcnt;
    uint32_t slab; /* 1: a record of a slab (cbuf_new_in), given back with slab_free */
    size_t off;
    size_t len;
    size_t cap;
    uint8_t data[];
} cbuf_t;

/* Returns a new buffer with room for cap bytes, refcount 1, off = len = 0. */
cbuf_t *cbuf_new(size_t cap);
/* Largest buffer (header and cap) cbuf_new_in takes from its slab, and the smallest slot it
 * asks for: a slab for such buffers serves CBUF_SLAB_MIN to CBUF_SLAB_MAX bytes. Sizes are
 * rounded up to a power of two, so at most three of its size classes have pages. */
#define CBUF_SLAB_MIN 128u
#define CBUF_SLAB_MAX 512u
/* cbuf_new from s (slab_new(CBUF_SLAB_MIN, CBUF_SLAB_MAX), borrowed; NULL: malloc) when
 * the buffer fits CBUF_SLAB_MAX, else from malloc: a frame made and freed per message
 * (echo's reply) is then a slot taken from and given back to a free list, no malloc. The
 * buffer's cap may be more than asked (its slot's size). cbuf_unref gives it back to its
 * slab, which outlives the owner's slab_drop while it is out. */
cbuf_t *cbuf_new_in(slab_t *s, size_t cap);
/* Returns a new buffer holding a copy of n bytes of p, refcount 1. Borrows p. */
cbuf_t *cbuf_from(const void *p, size_t n);
/* Takes another reference; returns b. */
cbuf_t *cbuf_ref(cbuf_t *b);
/* Drops a reference; frees b when it was the last. NULL is ignored. */
void cbuf_unref(cbuf_t *b);
/* Appends n bytes to a buffer that is not shared yet (refcount 1), growing it as needed.
 * May reallocate (a slab's buffer that outgrows its slot moves to malloc): *bp is updated.
 * Borrows p. */
void cbuf_append(cbuf_t **bp, const void *p, size_t n);

typedef struct {
    cbuf_t *buf;   /* one reference owned by the queue */
    size_t off;    /* into buf->data */
    size_t len;
} outq_item_t;

/* A FIFO of byte ranges waiting to be written to one socket. 24 bytes, one in every
 * connection: the counts fit in 32 bits because the queue is bounded (a WebSocket is
 * closed past --ws-max-queue, at most 2 GiB, plus the one frame that passed it, at most
 * 1 GiB (--ws-max-message, the reply budget); HTTP stops reading past --http-max-queue, at
 * most 1 GiB, and sends a file a chunk at a time below it): outq_push asserts it. */
typedef struct {
    outq_item_t *items;
    uint32_t head;  /* first live item */
    uint32_t count; /* live items */
    /* 31 bits (the flag below takes the last): outq_push asserts cap stays at most 2^30
     * items, 2 GiB of the smallest frames (2 bytes, a bare header). */
    uint32_t cap : 31;
    /* items is a slab's record (outq_push_in), else malloc's. */
    uint32_t items_slab : 1;
    uint32_t bytes; /* total unwritten bytes */
} outq_t;

/* Items in the arrays outq_push_in takes from a slab: the first has OUTQ_SLAB_CAP, each
 * growth doubles it up to OUTQ_SLAB_MAX_CAP (a slab for them serves OUTQ_SLAB_BYTES to
 * OUTQ_SLAB_MAX_BYTES); a queue that outgrows that moves to malloc'd arrays. A burst of up
 * to 64 frames a loop iteration (fan-out with a window of 16 publishes queues 9-16 events
 * on each receiver an iteration) then costs no malloc. */
#define OUTQ_SLAB_CAP 8u
#define OUTQ_SLAB_MAX_CAP 64u
#define OUTQ_SLAB_BYTES (OUTQ_SLAB_CAP * sizeof(outq_item_t))
#define OUTQ_SLAB_MAX_BYTES (OUTQ_SLAB_MAX_CAP * sizeof(outq_item_t))

void outq_init(outq_t *q);
/* Queues the whole payload of b; takes its own reference (the caller keeps its own). */
void outq_push(outq_t *q, cbuf_t *b);
/* outq_push whose arrays up to OUTQ_SLAB_MAX_CAP items come from s
 * (slab_new(OUTQ_SLAB_BYTES, OUTQ_SLAB_MAX_BYTES), borrowed; NULL: malloc): the array a
 * queue takes when a burst starts and gives back when it drains is then a free-list slot,
 * not a malloc and a free per burst, and an idle queue still holds no array. */
void outq_push_in(outq_t *q, slab_t *s, cbuf_t *b);
/* Fills up to max iovecs with the oldest unwritten bytes; returns how many were filled.
 * The iovecs borrow the queue's buffers: valid until outq_consume or outq_clear. */
size_t outq_iov(const outq_t *q, struct iovec *iov, size_t max);
/* Drops n written bytes from the front, releasing buffers that are done, and the item
 * array once the queue is empty. */
void outq_consume(outq_t *q, size_t n);
/* Keeps the first n bytes and drops the rest; n must end on an item boundary (the bytes
 * already handed to a write). An empty queue releases its item array. */
void outq_truncate(outq_t *q, size_t n);
/* Releases everything. The queue stays usable. */
void outq_clear(outq_t *q);

#endif
