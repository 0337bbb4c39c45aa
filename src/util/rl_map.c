/* rl_map.c: bounded string-keyed token buckets (open addressing over a dense entry array).
 *
 * Layout: entries live densely in `entries[0..count)`, so eviction can sample them
 * uniformly and sweeps scan only live data; `slots` is a linear-probing index (entry
 * index + 1, 0 = empty) at most half full, with backward-shift deletion (no tombstones).
 * Keys are hashed with SipHash-2-4 (libsodium crypto_shorthash) under a per-map random
 * key, so a client choosing keys (IPv6 addresses are cheap) cannot aim them all at one
 * probe chain.
 *
 * Eviction: when a new key arrives and the map is full, we first sweep (drop buckets that
 * are full again: forgetting them changes nothing), at most once per RL_MAP_SWEEP_GAP_MS
 * since a sweep is O(n). If still full we evict the FULLEST of RL_MAP_SAMPLES randomly
 * sampled entries: forgetting a bucket hands its key (limit - tokens) free tokens, so the
 * fullest one gives away the least. LRU would be the wrong choice here: an attacker who is
 * limited on one key (say, password guesses for a victim account) could stop touching it
 * and flood max_keys fresh keys from other addresses to age it out and reset it; with
 * "fullest first" the flood's own fresh buckets (limit - 1 tokens) go before any drained
 * bucket. Sampling keeps the cost O(1) per request under a flood, like Redis's
 * approximated LRU; the sample RNG is seeded from the secret hash key. */
#include "util/rl_map.h"

#include <sodium.h>
#include <string.h>

#include "util/mem.h"
#include "util/ratelimit.h"

/* 8 samples: a drained bucket is only evicted if all 8 samples are at least as drained. */
#define RL_MAP_SAMPLES 8

typedef struct {
    uint64_t hash;
    rl_bucket_t bucket;
    uint8_t key_len;
    char key[RL_MAP_KEY_MAX];
} rl_entry_t;

struct rl_map_s {
    rl_entry_t *entries;
    size_t count, max;
    uint32_t *slots;
    size_t mask;
    unsigned char seed[crypto_shorthash_KEYBYTES];
    uint64_t rng;
    uint64_t last_sweep_ms;
    int swept_once;
};

rl_map_t *rl_map_new_seeded(size_t max_keys, const unsigned char seed[16])
{
    /* 2^28: keeps slot indexes (entry index + 1) in uint32 with room for the 2x index. */
    CH_ASSERT(max_keys >= 1 && max_keys <= ((size_t)1 << 28));
    rl_map_t *m = ch_calloc(1, sizeof *m);
    size_t n = 8;
    while (n < 2 * max_keys) n <<= 1;
    m->entries = ch_calloc(max_keys, sizeof *m->entries);
    m->slots = ch_calloc(n, sizeof *m->slots);
    m->mask = n - 1;
    m->max = max_keys;
    memcpy(m->seed, seed, sizeof m->seed);
    memcpy(&m->rng, seed, sizeof m->rng);
    m->rng |= 1; /* xorshift state must be non-zero */
    return m;
}

rl_map_t *rl_map_new(size_t max_keys)
{
    unsigned char seed[crypto_shorthash_KEYBYTES];
    randombytes_buf(seed, sizeof seed);
    return rl_map_new_seeded(max_keys, seed);
}

void rl_map_free(rl_map_t *m)
{
    if (!m) return;
    free(m->entries);
    free(m->slots);
    free(m);
}

size_t rl_map_count(const rl_map_t *m)
{
    return m->count;
}

static uint64_t rl_map__hash(const rl_map_t *m, const char *key, size_t len)
{
    unsigned char out[crypto_shorthash_BYTES];
    crypto_shorthash(out, (const unsigned char *)key, len, m->seed);
    uint64_t h;
    memcpy(&h, out, sizeof h);
    return h;
}

static uint64_t rl_map__rand(rl_map_t *m)
{
    /* xorshift64*: only picks eviction samples; unpredictable because seeded secretly. */
    m->rng ^= m->rng >> 12;
    m->rng ^= m->rng << 25;
    m->rng ^= m->rng >> 27;
    return m->rng * UINT64_C(2685821657736338717);
}

/* Returns the slot holding key, or the empty slot where it would go. */
static size_t rl_map__find(const rl_map_t *m, uint64_t h, const char *key, size_t len)
{
    size_t i = (size_t)h & m->mask;
    while (m->slots[i]) {
        const rl_entry_t *e = &m->entries[m->slots[i] - 1];
        if (e->hash == h && e->key_len == len && memcmp(e->key, key, len) == 0) return i;
        i = (i + 1) & m->mask;
    }
    return i;
}

/* Returns the slot pointing at entry index ei (which must exist). */
static size_t rl_map__slot_of(const rl_map_t *m, size_t ei)
{
    size_t i = (size_t)m->entries[ei].hash & m->mask;
    while (m->slots[i] != ei + 1) {
        CH_ASSERT(m->slots[i] != 0);
        i = (i + 1) & m->mask;
    }
    return i;
}

static void rl_map__remove(rl_map_t *m, size_t ei)
{
    /* Backward-shift deletion: pull later members of the probe run into the hole unless
     * their home slot lies cyclically in (hole, j]. */
    size_t hole = rl_map__slot_of(m, ei), j = hole;
    m->slots[hole] = 0;
    for (;;) {
        j = (j + 1) & m->mask;
        if (!m->slots[j]) break;
        size_t home = (size_t)m->entries[m->slots[j] - 1].hash & m->mask;
        int stays = hole <= j ? (hole < home && home <= j) : (home > hole || home <= j);
        if (stays) continue;
        m->slots[hole] = m->slots[j];
        m->slots[j] = 0;
        hole = j;
    }
    /* Keep entries dense: move the last one into ei. */
    size_t last = m->count - 1;
    if (ei != last) {
        size_t s = rl_map__slot_of(m, last);
        m->entries[ei] = m->entries[last];
        m->slots[s] = (uint32_t)(ei + 1);
    }
    m->count--;
}

static int rl_map__full(const rl_entry_t *e, const rl_rule_t *r, uint64_t now_ms)
{
    return rl_units_at(&e->bucket, r->limit, r->window_ms, r->limit, now_ms) ==
           (uint64_t)r->limit * r->window_ms;
}

size_t rl_map_sweep(rl_map_t *m, const rl_rule_t *rule, uint64_t now_ms)
{
    size_t dropped = 0;
    /* Backwards, so the swap-remove only moves entries already examined. */
    for (size_t i = m->count; i-- > 0;) {
        if (rl_map__full(&m->entries[i], rule, now_ms)) {
            rl_map__remove(m, i);
            dropped++;
        }
    }
    m->last_sweep_ms = now_ms;
    m->swept_once = 1;
    return dropped;
}

static void rl_map__evict_one(rl_map_t *m, const rl_rule_t *r, uint64_t now_ms)
{
    size_t victim = 0;
    uint64_t best = 0;
    int small = m->count <= RL_MAP_SAMPLES;
    size_t n = small ? m->count : RL_MAP_SAMPLES;
    for (size_t k = 0; k < n; k++) {
        size_t i = small ? k : (size_t)(rl_map__rand(m) % m->count);
        uint64_t u = rl_units_at(&m->entries[i].bucket, r->limit, r->window_ms, r->limit, now_ms);
        if (k == 0 || u > best) {
            best = u;
            victim = i;
        }
    }
    rl_map__remove(m, victim);
}

int rl_map_take(rl_map_t *m, const char *key, size_t key_len, const rl_rule_t *rule,
                uint64_t now_ms, uint64_t *retry_after_ms)
{
    CH_ASSERT(key_len <= RL_MAP_KEY_MAX);
    CH_ASSERT(rule->limit >= 1);
    uint64_t h = rl_map__hash(m, key, key_len);
    size_t s = rl_map__find(m, h, key, key_len);
    rl_entry_t *e;
    if (m->slots[s]) {
        e = &m->entries[m->slots[s] - 1];
    } else {
        if (m->count == m->max) {
            if (!m->swept_once || now_ms < m->last_sweep_ms ||
                now_ms - m->last_sweep_ms >= RL_MAP_SWEEP_GAP_MS)
                rl_map_sweep(m, rule, now_ms);
            if (m->count == m->max) rl_map__evict_one(m, rule, now_ms);
            s = rl_map__find(m, h, key, key_len); /* removals moved slots */
        }
        e = &m->entries[m->count];
        e->hash = h;
        e->key_len = (uint8_t)key_len;
        if (key_len) memcpy(e->key, key, key_len);
        rl_init_window(&e->bucket, rule->limit, rule->window_ms, now_ms);
        m->slots[s] = (uint32_t)(m->count + 1);
        m->count++;
    }
    return rl_take_window(&e->bucket, rule->limit, rule->window_ms, rule->limit, now_ms,
                          retry_after_ms);
}

int rl_map_peek(const rl_map_t *m, const char *key, size_t key_len, const rl_rule_t *rule,
                uint64_t now_ms, uint64_t *retry_after_ms)
{
    CH_ASSERT(key_len <= RL_MAP_KEY_MAX);
    CH_ASSERT(rule->limit >= 1);
    size_t s = rl_map__find(m, rl_map__hash(m, key, key_len), key, key_len);
    if (!m->slots[s]) return 1;
    uint64_t units = rl_units_at(&m->entries[m->slots[s] - 1].bucket, rule->limit,
                                 rule->window_ms, rule->limit, now_ms);
    if (units >= rule->window_ms) return 1;
    if (retry_after_ms)
        *retry_after_ms = (rule->window_ms - units + rule->limit - 1) / rule->limit;
    return 0;
}

void rl_map_refund(rl_map_t *m, const char *key, size_t key_len, const rl_rule_t *rule,
                   uint64_t now_ms)
{
    CH_ASSERT(key_len <= RL_MAP_KEY_MAX);
    uint64_t h = rl_map__hash(m, key, key_len);
    size_t s = rl_map__find(m, h, key, key_len);
    if (!m->slots[s]) return;
    rl_bucket_t *b = &m->entries[m->slots[s] - 1].bucket;
    uint64_t cap = (uint64_t)rule->limit * rule->window_ms;
    b->units = rl_units_at(b, rule->limit, rule->window_ms, rule->limit, now_ms);
    if (now_ms > b->last_ms) b->last_ms = now_ms;
    b->units = cap - b->units < rule->window_ms ? cap : b->units + rule->window_ms;
}
