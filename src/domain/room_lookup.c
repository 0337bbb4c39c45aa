/* room_lookup.c: per-user and per-IP buckets of failed room lookups (see room_lookup.h). */
#include "domain/room_lookup.h"

#include <string.h>

#include <sodium.h>

#include "util/mem.h"

struct room_lookup_s {
    rl_map_t *user, *ip;
    rl_rule_t user_rule, ip_rule;
};

room_lookup_t *room_lookup_new(const rl_rule_t *per_user, const rl_rule_t *per_ip,
                               size_t max_keys)
{
    room_lookup_t *l = ch_calloc(1, sizeof(*l));
    l->user_rule = *per_user;
    l->ip_rule = *per_ip;
    l->user = rl_map_new(max_keys);
    l->ip = rl_map_new(max_keys);
    return l;
}

void room_lookup_free(room_lookup_t *l)
{
    if (!l) return;
    rl_map_free(l->user);
    rl_map_free(l->ip);
    free(l);
}

/* The map key of s: itself, or its hash when longer than a key may be (a token's sub may
 * be 128 bytes). digest holds the hash. */
static const char *key_of(const char *s, size_t *len, unsigned char digest[RL_MAP_KEY_MAX / 2])
{
    *len = strlen(s);
    if (*len <= RL_MAP_KEY_MAX) return s;
    crypto_generichash(digest, RL_MAP_KEY_MAX / 2, (const unsigned char *)s, *len, NULL, 0);
    *len = RL_MAP_KEY_MAX / 2;
    return (const char *)digest;
}

int room_lookup_allowed(const room_lookup_t *l, const char *user_id, const char *ip,
                        uint64_t now_ms, uint64_t *retry_after_ms)
{
    unsigned char d[RL_MAP_KEY_MAX / 2];
    size_t n;
    uint64_t ru = 0, ri = 0;
    const char *k = key_of(user_id, &n, d);
    int ok = rl_map_peek(l->user, k, n, &l->user_rule, now_ms, &ru);
    if (ip && *ip) {
        k = key_of(ip, &n, d);
        ok &= rl_map_peek(l->ip, k, n, &l->ip_rule, now_ms, &ri);
    }
    if (!ok && retry_after_ms) *retry_after_ms = ru > ri ? ru : ri;
    return ok;
}

void room_lookup_failed(room_lookup_t *l, const char *user_id, const char *ip, uint64_t now_ms)
{
    unsigned char d[RL_MAP_KEY_MAX / 2];
    size_t n;
    const char *k = key_of(user_id, &n, d);
    rl_map_take(l->user, k, n, &l->user_rule, now_ms, NULL);
    if (ip && *ip) {
        k = key_of(ip, &n, d);
        rl_map_take(l->ip, k, n, &l->ip_rule, now_ms, NULL);
    }
}

void room_lookup_refund(room_lookup_t *l, const char *user_id, const char *ip, uint64_t now_ms)
{
    unsigned char d[RL_MAP_KEY_MAX / 2];
    size_t n;
    const char *k = key_of(user_id, &n, d);
    rl_map_refund(l->user, k, n, &l->user_rule, now_ms);
    if (ip && *ip) {
        k = key_of(ip, &n, d);
        rl_map_refund(l->ip, k, n, &l->ip_rule, now_ms);
    }
}

void room_lookup_sweep(room_lookup_t *l, uint64_t now_ms)
{
    rl_map_sweep(l->user, &l->user_rule, now_ms);
    rl_map_sweep(l->ip, &l->ip_rule, now_ms);
}
