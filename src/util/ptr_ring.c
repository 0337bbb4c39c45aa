/* ptr_ring.c: a FIFO of borrowed pointers in a growing ring. */
#include "util/ptr_ring.h"

#include <stdlib.h>

#include "util/mem.h"

void ptr_ring_push(ptr_ring_t *r, void *p)
{
    CH_ASSERT(p);
    if (r->len == r->cap) { /* grow, unwrapping the ring */
        size_t cap = r->cap ? 2 * r->cap : 64;
        void **v = ch_malloc(cap * sizeof(*v));
        for (size_t i = 0; i < r->len; i++)
            v[i] = r->v[(r->head + i) % r->cap];
        free(r->v);
        r->v = v;
        r->cap = cap;
        r->head = 0;
    }
    r->v[(r->head + r->len++) % r->cap] = p;
}

void *ptr_ring_pop(ptr_ring_t *r)
{
    CH_ASSERT(r->len > 0);
    void *p = r->v[r->head];
    r->head = (r->head + 1) % r->cap;
    r->len--;
    return p;
}

size_t ptr_ring_forget(ptr_ring_t *r, const void *p)
{
    size_t n = 0;
    for (size_t i = 0; i < r->len; i++) {
        void **e = &r->v[(r->head + i) % r->cap];
        if (*e == p) {
            *e = NULL;
            n++;
        }
    }
    return n;
}

void ptr_ring_free(ptr_ring_t *r)
{
    free(r->v);
    r->v = NULL;
    r->head = r->len = r->cap = 0;
}
