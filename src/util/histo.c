/* histo.c: fixed-bucket histograms (see histo.h). */
#include "util/histo.h"

#include "util/mem.h"

void histo_init(histo_t *h, const uint64_t *bounds, size_t nbounds)
{
    CH_ASSERT(nbounds <= HISTO_MAX_BOUNDS);
    for (size_t i = 1; i < nbounds; i++)
        CH_ASSERT(bounds[i - 1] < bounds[i]);
    *h = (histo_t){.bounds = bounds, .nbounds = nbounds};
}

void histo_add(histo_t *h, uint64_t v)
{
    /* A linear scan: at most 14 compares, and the small values come first. */
    size_t i = 0;
    while (i < h->nbounds && v > h->bounds[i])
        i++;
    h->bucket[i]++;
    h->count++;
    h->sum += v;
}

uint64_t histo_le(const histo_t *h, size_t i)
{
    CH_ASSERT(i <= h->nbounds);
    uint64_t n = 0;
    for (size_t j = 0; j <= i; j++)
        n += h->bucket[j];
    return n;
}
