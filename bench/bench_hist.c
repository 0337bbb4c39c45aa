/* bench_hist.c: a log-linear latency histogram. */
#include "bench_hist.h"

#include <string.h>

void bhist_reset(bhist_t *h)
{
    memset(h, 0, sizeof(*h));
}

static unsigned bucket_of(uint64_t v)
{
    if (v < 128)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v); /* >= 7 */
    unsigned shift = msb - 6;
    unsigned mant = (unsigned)(v >> shift); /* 64..127 */
    return 128 + (shift - 1) * 64 + (mant - 64);
}

static uint64_t bucket_mid(unsigned i)
{
    if (i < 128)
        return i;
    unsigned shift = (i - 128) / 64 + 1;
    uint64_t mant = 64 + (i - 128) % 64;
    return (mant << shift) + ((1ull << shift) >> 1);
}

void bhist_add(bhist_t *h, uint64_t v)
{
    h->b[bucket_of(v)]++;
    h->count++;
    if (v > h->max)
        h->max = v;
}

void bhist_merge(bhist_t *dst, const bhist_t *src)
{
    for (unsigned i = 0; i < BHIST_BUCKETS; i++)
        dst->b[i] += src->b[i];
    dst->count += src->count;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t bhist_quantile(const bhist_t *h, double q)
{
    if (h->count == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)h->count);
    if (rank >= h->count)
        rank = h->count - 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < BHIST_BUCKETS; i++) {
        seen += h->b[i];
        if (seen > rank) {
            uint64_t m = bucket_mid(i);
            return m > h->max ? h->max : m;
        }
    }
    return h->max;
}
