/* auth_tcache.c: the tokens verified lately (auth_tcache.h). */
#include "auth/auth_tcache.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

#define DIGEST_LEN 32

typedef struct {
    uint8_t digest[DIGEST_LEN]; /* keyed BLAKE2b of the token's bytes */
    const auth_jwt_t *by;       /* the verifier that accepted it (NULL: an empty slot) */
    uint64_t used;              /* tc->tick when last verified or answered */
    auth_claims_t claims;
} tc_slot_t;

/* Slots a token may take: a set of WAYS, the one last used longest ago replaced, so a few
 * tokens that meet in one set (50 in 64 sets, say) do not push each other out. */
#define WAYS 4
#define SETS (AUTH_TCACHE_SLOTS / WAYS)

struct auth_tcache_s {
    uint8_t key[crypto_generichash_KEYBYTES];
    tc_slot_t *slots; /* AUTH_TCACHE_SLOTS, allocated at the first success */
    uint64_t hits, misses;
    uint64_t tick;
};

auth_tcache_t *auth_tcache_new(void)
{
    auth_tcache_t *tc = ch_calloc(1, sizeof(*tc));
    randombytes_buf(tc->key, sizeof(tc->key));
    return tc;
}

void auth_tcache_free(auth_tcache_t *tc)
{
    if (!tc) return;
    auth_tcache_clear(tc);
    sodium_memzero(tc, sizeof(*tc));
    free(tc);
}

void auth_tcache_clear(auth_tcache_t *tc)
{
    if (!tc->slots) return;
    sodium_memzero(tc->slots, AUTH_TCACHE_SLOTS * sizeof(*tc->slots));
    free(tc->slots);
    tc->slots = NULL;
}

int auth_tcache_verify(auth_tcache_t *tc, const auth_jwt_t *a, const char *token, size_t len,
                       int64_t now_s, auth_claims_t *out, const char **why)
{
    uint8_t d[DIGEST_LEN];
    /* The limits are auth_jwt_verify's to answer (and its messages); nothing kept is
     * longer than AUTH_JWT_MAX_LEN. */
    if (!token || len == 0 || len > AUTH_JWT_MAX_LEN)
        return auth_jwt_verify(a, token, len, now_s, out, why);
    crypto_generichash(d, sizeof(d), (const unsigned char *)token, len, tc->key,
                       sizeof(tc->key));
    uint32_t at;
    memcpy(&at, d, sizeof(at));
    tc_slot_t *set = tc->slots ? &tc->slots[(at % SETS) * WAYS] : NULL;
    for (int i = 0; set && i < WAYS; i++) {
        tc_slot_t *s = &set[i];
        if (s->by == a && sodium_memcmp(s->digest, d, sizeof(d)) == 0 &&
            now_s < s->claims.exp && (s->claims.nbf == 0 || s->claims.nbf <= now_s)) {
            tc->hits++;
            s->used = ++tc->tick;
            *out = s->claims;
            if (why) *why = "ok";
            return 0;
        }
    }
    tc->misses++;
    int rc = auth_jwt_verify(a, token, len, now_s, out, why);
    if (rc != 0) return rc;
    if (!tc->slots) tc->slots = ch_calloc(AUTH_TCACHE_SLOTS, sizeof(*tc->slots));
    set = &tc->slots[(at % SETS) * WAYS];
    tc_slot_t *s = &set[0];
    for (int i = 1; i < WAYS; i++) /* an empty slot has used 0: the oldest */
        if (set[i].used < s->used) s = &set[i];
    memcpy(s->digest, d, sizeof(d));
    s->by = a;
    s->used = ++tc->tick;
    s->claims = *out;
    return 0;
}

void auth_tcache_counts(const auth_tcache_t *tc, uint64_t *hits, uint64_t *misses)
{
    *hits = tc->hits;
    *misses = tc->misses;
}
