/* bench_hist.h: a log-linear latency histogram (about 1.6% resolution, constant memory). */
#ifndef CHORUS_BENCH_HIST_H
#define CHORUS_BENCH_HIST_H

#include <stdint.h>

/* 128 exact buckets for 0..127, then 64 buckets per power of two up to 2^63. */
#define BHIST_BUCKETS (128 + 57 * 64)

typedef struct {
    uint64_t count;
    uint64_t max;
    uint64_t b[BHIST_BUCKETS];
} bhist_t;

void bhist_reset(bhist_t *h);
/* Records one value (nanoseconds, say). */
void bhist_add(bhist_t *h, uint64_t v);
/* Adds every count of src into dst. */
void bhist_merge(bhist_t *dst, const bhist_t *src);
/* Returns the value at quantile q (0..1): the middle of the bucket holding it, or 0 when
 * the histogram is empty. */
uint64_t bhist_quantile(const bhist_t *h, double q);

#endif
