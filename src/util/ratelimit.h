/* ratelimit.h: token buckets (pure: the caller passes the time). */
#ifndef CHORUS_RATELIMIT_H
#define CHORUS_RATELIMIT_H

#include <stdint.h>

/* A bucket refilled at `limit` tokens per `window_ms` keeps its tokens in units of
 * 1/window_ms of a token, so the refill is exactly `limit` units per millisecond with
 * integer arithmetic: 100 per 15 min refills one token every 9000 ms, no rounding drift.
 * The per-second API below is the window_ms == 1000 case (units are thousandths).
 * A bucket must always be used with the same window_ms. */
typedef struct {
    uint64_t units;   /* available tokens x window_ms */
    uint64_t last_ms; /* time of the last refill */
} rl_bucket_t;

/* Largest window accepted: keeps burst * window_ms below 2^64 for any uint32 burst. */
#define RL_WINDOW_MAX_MS UINT64_C(0xffffffff)

/* Starts a full bucket (burst tokens) at now_ms, counted per second. */
void rl_init(rl_bucket_t *b, uint32_t burst, uint64_t now_ms);

/* Refills for the time since the last call (rate tokens per second, at most burst held)
 * and takes one token. Returns 1 when a token was taken, 0 when the bucket is empty.
 * A clock going backwards refills nothing. */
int rl_take(rl_bucket_t *b, uint32_t rate, uint32_t burst, uint64_t now_ms);

/* Starts a full bucket (burst tokens) at now_ms for a window of window_ms
 * (1..RL_WINDOW_MAX_MS; asserts otherwise). */
void rl_init_window(rl_bucket_t *b, uint32_t burst, uint64_t window_ms, uint64_t now_ms);

/* Refills at limit tokens per window_ms (at most burst held) and takes one token.
 * Returns 1 when taken; 0 when empty, and then, if retry_after_ms is not NULL, stores the
 * exact number of ms until a token will be available (UINT64_MAX when limit is 0).
 * A clock going backwards refills nothing. */
int rl_take_window(rl_bucket_t *b, uint32_t limit, uint64_t window_ms, uint32_t burst,
                   uint64_t now_ms, uint64_t *retry_after_ms);

/* Returns the units (tokens x window_ms) the bucket would hold at now_ms, without
 * changing it. A bucket is full when this equals burst * window_ms. */
uint64_t rl_units_at(const rl_bucket_t *b, uint32_t limit, uint64_t window_ms, uint32_t burst,
                     uint64_t now_ms);

#endif
