/* rl_map.h: bounded map from a short string key (client IP, user id) to a token bucket,
 * for per-route HTTP rate limits (pure: the caller passes the time). */
#ifndef CHORUS_RL_MAP_H
#define CHORUS_RL_MAP_H

#include <stddef.h>
#include <stdint.h>

/* Longest key accepted (an IPv6 text address is at most 45 bytes, a UUID 36). */
#define RL_MAP_KEY_MAX 64

/* limit requests per window_ms: the burst is limit, refilled at limit per window, exactly
 * (see ratelimit.h). limit >= 1, window_ms 1..RL_WINDOW_MAX_MS. */
typedef struct {
    uint32_t limit;
    uint64_t window_ms;
} rl_rule_t;

typedef struct rl_map_s rl_map_t;

/* Returns a new, empty map holding at most max_keys (>= 1) keys; free with rl_map_free.
 * The SipHash key that protects the table against hash flooding is random
 * (libsodium randombytes_buf: call auth_init() / sodium_init() first). */
rl_map_t *rl_map_new(size_t max_keys);

/* As rl_map_new with a caller-chosen 16-byte hash seed (tests, reproducible fuzzing).
 * Borrows seed. */
rl_map_t *rl_map_new_seeded(size_t max_keys, const unsigned char seed[16]);

/* Frees m and every entry; NULL is ignored. */
void rl_map_free(rl_map_t *m);

/* Takes one token for key (borrowed; key_len <= RL_MAP_KEY_MAX, asserts otherwise; bytes,
 * not NUL-terminated). A map must always be used with the same rule. Returns 1 allowed,
 * 0 limited; when limited and retry_after_ms is not NULL, stores the exact time in ms
 * until a token is available (round up to seconds for Retry-After).
 * A new key past max_keys first sweeps (at most once per RL_MAP_SWEEP_GAP_MS) and, if the
 * map is still full, evicts the fullest of a few randomly sampled entries (see rl_map.c). */
int rl_map_take(rl_map_t *m, const char *key, size_t key_len, const rl_rule_t *rule,
                uint64_t now_ms, uint64_t *retry_after_ms);

/* Whether rl_map_take would allow key now, without taking a token or adding the key
 * (borrowed, as for rl_map_take). Returns 1 (a token is there, or the key is unknown: its
 * bucket would start full), or 0 and, if retry_after_ms is not NULL, the exact ms until a
 * token is available. For limits that charge only some outcomes: peek first, take after. */
int rl_map_peek(const rl_map_t *m, const char *key, size_t key_len, const rl_rule_t *rule,
                uint64_t now_ms, uint64_t *retry_after_ms);

/* Gives back one token taken from key with rl_map_take (a bucket never holds more than
 * rule->limit): for limits that count only failures, a request takes a token before the
 * work and returns it when the work succeeded. A key no longer held is ignored. */
void rl_map_refund(rl_map_t *m, const char *key, size_t key_len, const rl_rule_t *rule,
                   uint64_t now_ms);

/* Drops every entry whose bucket is full again at now_ms (such an entry behaves exactly
 * like a new key). Returns how many were dropped. Meant to be called periodically. */
size_t rl_map_sweep(rl_map_t *m, const rl_rule_t *rule, uint64_t now_ms);

/* Returns the number of keys held. */
size_t rl_map_count(const rl_map_t *m);

/* Minimum time between the automatic sweeps done by rl_map_take when the map is full:
 * a sweep scans every entry, so under a flood of new keys it must not run per request. */
#define RL_MAP_SWEEP_GAP_MS 1000

#endif
