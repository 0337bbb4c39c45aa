/* ratelimit.c: token buckets. */
#include "ratelimit.h"

void rl_init(rl_bucket_t *b, uint32_t burst, uint64_t now_ms)
{
    b->milli = (uint64_t)burst * 1000;
    b->last_ms = now_ms;
}

int rl_take(rl_bucket_t *b, uint32_t rate, uint32_t burst, uint64_t now_ms)
{
    uint64_t cap = (uint64_t)burst * 1000;
    if (now_ms > b->last_ms) {
        uint64_t elapsed = now_ms - b->last_ms;
        /* rate tokens/s == rate milli-tokens/ms; cap elapsed so the product cannot wrap. */
        if (elapsed > 86400000) elapsed = 86400000;
        b->milli += elapsed * rate;
        if (b->milli > cap) b->milli = cap;
        b->last_ms = now_ms;
    }
    if (b->milli < 1000) return 0;
    b->milli -= 1000;
    return 1;
}
