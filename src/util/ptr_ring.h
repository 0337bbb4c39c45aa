/* ptr_ring.h: a first-in first-out queue of borrowed pointers in a growing ring (the
 * server's closing connections, its connections whose input waits for the next loop
 * iteration). Pure. An entry can be forgotten in place (ptr_ring_forget): the queue then
 * hands out NULL in its place, so an owner that frees what it queued need not search for
 * its position first. */
#ifndef CHORUS_PTR_RING_H
#define CHORUS_PTR_RING_H

#include <stddef.h>

typedef struct {
    void **v;    /* owned array of cap borrowed pointers */
    size_t head; /* index of the oldest entry */
    size_t len;  /* entries queued, forgotten ones (NULL) included */
    size_t cap;
} ptr_ring_t;

/* Queues p (borrowed, not NULL) behind the others; grows r as needed. */
void ptr_ring_push(ptr_ring_t *r, void *p);

/* Takes the oldest entry off r and returns it: NULL when it was forgotten. r must not be
 * empty (r->len > 0). */
void *ptr_ring_pop(ptr_ring_t *r);

/* Replaces every queued occurrence of p by NULL (what ptr_ring_pop then returns); walks
 * the whole ring. Returns how many there were. */
size_t ptr_ring_forget(ptr_ring_t *r, const void *p);

/* Frees r's array (the pointers are borrowed: nothing else is freed); r is empty after. */
void ptr_ring_free(ptr_ring_t *r);

#endif
