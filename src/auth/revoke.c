/* revoke.c: revoked tokens and user epochs in one bounded hash map. */
#include "auth/revoke.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/mem.h"
#include "util/strmap.h"

typedef struct {
    char key[AUTH_JWT_SUB_MAX + 3]; /* "t:" jti or "u:" sub */
    int64_t epoch;                  /* users: the lowest epoch still valid */
    int64_t until_s;
} revoke_entry_t;

struct revoke_s {
    strmap_t map; /* key -> revoke_entry_t (owned) */
    size_t max;
};

revoke_t *revoke_new(size_t max)
{
    CH_ASSERT(max >= 1);
    revoke_t *rv = ch_calloc(1, sizeof(*rv));
    uint64_t seed;
    randombytes_buf(&seed, sizeof(seed));
    strmap_init(&rv->map, seed);
    rv->max = max;
    return rv;
}

void revoke_free(revoke_t *rv)
{
    if (!rv) return;
    strmap_free_all(&rv->map);
    free(rv);
}

size_t revoke_count(const revoke_t *rv)
{
    return rv->map.count;
}

static void revoke__key(char *out, size_t cap, char kind, const char *id)
{
    snprintf(out, cap, "%c:%s", kind, id);
}

/* Finds or adds the entry for key. */
static revoke_entry_t *revoke__slot(revoke_t *rv, const char *key, int *fresh)
{
    revoke_entry_t *e = strmap_get(&rv->map, key);
    *fresh = 0;
    if (e) return e;
    e = ch_calloc(1, sizeof(*e));
    snprintf(e->key, sizeof(e->key), "%s", key);
    strmap_put(&rv->map, e->key, e);
    *fresh = 1;
    return e;
}

/* The map key of a token: "t:" and the hex form of its id. */
static void revoke__token_key(char *out, size_t cap, const auth_jti_t *jti)
{
    char hex[AUTH_JTI_HEX_LEN + 1];
    auth_jti_hex(jti, hex);
    revoke__key(out, cap, 't', hex);
}

void revoke_token(revoke_t *rv, const auth_jti_t *jti, int64_t until_s)
{
    char key[AUTH_JWT_SUB_MAX + 3];
    revoke__token_key(key, sizeof(key), jti);
    int fresh;
    revoke_entry_t *e = revoke__slot(rv, key, &fresh);
    if (fresh || until_s > e->until_s) e->until_s = until_s;
}

void revoke_user(revoke_t *rv, const char *sub, int64_t epoch, int64_t until_s)
{
    char key[AUTH_JWT_SUB_MAX + 3];
    revoke__key(key, sizeof(key), 'u', sub);
    int fresh;
    revoke_entry_t *e = revoke__slot(rv, key, &fresh);
    if (fresh || epoch > e->epoch) e->epoch = epoch;
    if (fresh || until_s > e->until_s) e->until_s = until_s;
}

int revoke_has_room(const revoke_t *rv, const auth_jti_t *jti, const char *sub)
{
    if (rv->map.count < rv->max) return 1;
    char key[AUTH_JWT_SUB_MAX + 3];
    if (jti) {
        revoke__token_key(key, sizeof(key), jti);
        if (!strmap_get(&rv->map, key)) return 0;
    }
    if (sub) {
        revoke__key(key, sizeof(key), 'u', sub);
        if (!strmap_get(&rv->map, key)) return 0;
    }
    return 1;
}

int revoke_check(const revoke_t *rv, const auth_claims_t *c)
{
    if (!rv->map.count) return 0;
    char key[AUTH_JWT_SUB_MAX + 3];
    if (c->has_jti) {
        revoke__token_key(key, sizeof(key), &c->jti);
        if (strmap_get(&rv->map, key)) return -1;
    }
    revoke__key(key, sizeof(key), 'u', c->sub);
    const revoke_entry_t *e = strmap_get(&rv->map, key);
    if (!e) return 0;
    if (e->epoch == REVOKE_ALL) return -1;
    return c->has_ep && c->ep < e->epoch ? -1 : 0;
}

size_t revoke_sweep(revoke_t *rv, int64_t now_s)
{
    /* Collect first: strmap must not change while it is iterated. */
    size_t n = 0, cap = 0;
    revoke_entry_t **gone = NULL;
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&rv->map, &i, &k, &v);) {
        revoke_entry_t *e = v;
        if (e->until_s > now_s) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            gone = ch_realloc(gone, cap * sizeof(*gone));
        }
        gone[n++] = e;
    }
    for (size_t i = 0; i < n; i++) {
        strmap_del(&rv->map, gone[i]->key);
        free(gone[i]);
    }
    free(gone);
    return n;
}
