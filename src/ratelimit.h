/* ratelimit.h: token buckets (pure: the caller passes the time). */
#ifndef CHORUS_RATELIMIT_H
#define CHORUS_RATELIMIT_H

#include <stdint.h>

/* Tokens are kept in thousandths so a rate of N per second refills exactly N per 1000 ms
 * with integer arithmetic. */
typedef struct {
    uint64_t milli;   /* available tokens x 1000 */
    uint64_t last_ms; /* time of the last refill */
} rl_bucket_t;

/* Starts a full bucket (burst tokens) at now_ms. */
void rl_init(rl_bucket_t *b, uint32_t burst, uint64_t now_ms);

/* Refills for the time since the last call (rate tokens per second, at most burst held)
 * and takes one token. Returns 1 when a token was taken, 0 when the bucket is empty.
 * A clock going backwards refills nothing. */
int rl_take(rl_bucket_t *b, uint32_t rate, uint32_t burst, uint64_t now_ms);

#endif
