/* http_deadline.c: the whole-request deadline and the minimum body rate. */
#include "io/http_deadline.h"

int http_deadline_check(const http_deadline_t *d, uint64_t start, uint64_t body_start,
                        uint64_t received, uint64_t now, uint64_t *next_ms)
{
    uint64_t fail_at = start + d->request_ms;
    if (now >= fail_at) return HTTP_DEADLINE_EXPIRED;
    if (d->min_rate > 0) {
        /* By time t the body must have received (t - body_start - grace) * rate / 1000
         * bytes; with received bytes it stays on time until just after
         * body_start + grace + received * 1000 / rate. received is bounded by the body
         * limit (<= 1 GiB), so the product does not overflow. */
        uint64_t slow_at = body_start + d->grace_ms + received * 1000 / d->min_rate + 1;
        if (now >= slow_at) return HTTP_DEADLINE_TOO_SLOW;
        if (slow_at < fail_at) fail_at = slow_at;
    }
    *next_ms = fail_at - now;
    return HTTP_DEADLINE_OK;
}
