/* ratelimit.c: token buckets. */
#include "util/ratelimit.h"

#include "util/mem.h"

void rl_init_window(rl_bucket_t *b, uint32_t burst, uint64_t window_ms, uint64_t now_ms)
{
    CH_ASSERT(window_ms >= 1 && window_ms <= RL_WINDOW_MAX_MS);
    b->units = (uint64_t)burst * window_ms;
    b->last_ms = now_ms;
}

uint64_t rl_units_at(const rl_bucket_t *b, uint32_t limit, uint64_t window_ms, uint32_t burst,
                     uint64_t now_ms)
{
    CH_ASSERT(window_ms >= 1 && window_ms <= RL_WINDOW_MAX_MS);
    uint64_t cap = (uint64_t)burst * window_ms;
    uint64_t units = b->units > cap ? cap : b->units;
    if (now_ms <= b->last_ms || limit == 0 || units == cap) return units;
    uint64_t elapsed = now_ms - b->last_ms;
    /* Compare before multiplying so elapsed * limit cannot wrap: it is only computed when
     * elapsed <= (cap - units) / limit, i.e. the product stays below cap. */
    if (elapsed >= (cap - units) / limit + 1) return cap;
    units += elapsed * limit;
    return units > cap ? cap : units;
}

int rl_take_window(rl_bucket_t *b, uint32_t limit, uint64_t window_ms, uint32_t burst,
                   uint64_t now_ms, uint64_t *retry_after_ms)
{
    b->units = rl_units_at(b, limit, window_ms, burst, now_ms);
    if (now_ms > b->last_ms) b->last_ms = now_ms;
    if (b->units >= window_ms) {
        b->units -= window_ms;
        return 1;
    }
    if (retry_after_ms) {
        uint64_t missing = window_ms - b->units;
        *retry_after_ms = limit ? (missing + limit - 1) / limit : UINT64_MAX;
    }
    return 0;
}

void rl_init(rl_bucket_t *b, uint32_t burst, uint64_t now_ms)
{
    rl_init_window(b, burst, 1000, now_ms);
}

int rl_take(rl_bucket_t *b, uint32_t rate, uint32_t burst, uint64_t now_ms)
{
    /* rate tokens/s == rate units/ms with window 1000. */
    return rl_take_window(b, rate, 1000, burst, now_ms, NULL);
}
