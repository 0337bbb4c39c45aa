/* buf.h: refcounted byte buffers and the per-connection output queue built from them. */
#ifndef CHORUS_BUF_H
#define CHORUS_BUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

/* A refcounted buffer. A broadcast is encoded and framed once into one cbuf and the same
 * bytes are queued on every receiver (each queue holds its own reference), as Redis shares
 * one robj across pubsub clients. The payload is data[off .. off+len). */
typedef struct {
    uint32_t refcnt;
    size_t off;
    size_t len;
    size_t cap;
    uint8_t data[];
} cbuf_t;

/* Returns a new buffer with room for cap bytes, refcount 1, off = len = 0. */
cbuf_t *cbuf_new(size_t cap);
/* Returns a new buffer holding a copy of n bytes of p, refcount 1. Borrows p. */
cbuf_t *cbuf_from(const void *p, size_t n);
/* Takes another reference; returns b. */
cbuf_t *cbuf_ref(cbuf_t *b);
/* Drops a reference; frees b when it was the last. NULL is ignored. */
void cbuf_unref(cbuf_t *b);
/* Appends n bytes to a buffer that is not shared yet (refcount 1), growing it as needed.
 * May reallocate: *bp is updated. Borrows p. */
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
    uint32_t cap;
    uint32_t bytes; /* total unwritten bytes */
} outq_t;

void outq_init(outq_t *q);
/* Queues the whole payload of b; takes its own reference (the caller keeps its own). */
void outq_push(outq_t *q, cbuf_t *b);
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
