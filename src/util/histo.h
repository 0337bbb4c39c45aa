/* histo.h: a fixed-bucket histogram of unsigned values (nanoseconds, counts) for GET
 * /metrics: a count, a sum and one counter per bucket, added to with plain increments (no
 * allocation, no lock: each one belongs to one thread). Pure. */
#ifndef CHORUS_HISTO_H
#define CHORUS_HISTO_H

#include <stddef.h>
#include <stdint.h>

/* Most bucket bounds a histogram takes (a last bucket takes what is above them). */
#define HISTO_MAX_BOUNDS 14

typedef struct {
    const uint64_t *bounds; /* borrowed, ascending; nbounds of them */
    size_t nbounds;
    uint64_t count;                        /* values recorded */
    uint64_t sum;                          /* their total */
    uint64_t bucket[HISTO_MAX_BOUNDS + 1]; /* per bucket, not cumulative; last: above all */
} histo_t;

/* Makes h empty with the nbounds (<= HISTO_MAX_BOUNDS) ascending upper bounds bounds
 * (borrowed: they must outlive h). */
void histo_init(histo_t *h, const uint64_t *bounds, size_t nbounds);

/* Records v into h (borrowed): in the first bucket whose bound is >= v. */
void histo_add(histo_t *h, uint64_t v);

/* Returns how many values were <= h->bounds[i] (cumulative, as a Prometheus bucket counts);
 * i == h->nbounds: all of them. Borrows h. */
uint64_t histo_le(const histo_t *h, size_t i);

#endif
