/* asset_url.c: signed, expiring asset download URLs (asset_url.h). */
#include "auth/asset_url.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

static int id_ok(const char *id, size_t n)
{
    if (n == 0 || n > ASSET_URL_ID_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = id[i];
        if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
              (ch >= 'A' && ch <= 'Z') || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

/* The MAC of (id, sha256, exp_s): the three fields, each ended by a newline, after a
 * label, so no two triples give the same message. */
static void mac(const uint8_t key[ASSET_URL_KEY_LEN], const char *id, const char *sha256,
                int64_t exp_s, uint8_t out[crypto_auth_hmacsha256_BYTES])
{
    char msg[64 + ASSET_URL_ID_MAX + 64 + 32];
    int n = snprintf(msg, sizeof(msg), "chorus asset url\n%s\n%.64s\n%" PRId64 "\n", id, sha256,
                     exp_s);
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, key, ASSET_URL_KEY_LEN);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)msg, (unsigned long long)n);
    crypto_auth_hmacsha256_final(&st, out);
    sodium_memzero(&st, sizeof(st));
}

int asset_url_sign(const uint8_t key[ASSET_URL_KEY_LEN], const char *id, const char *sha256,
                   int64_t exp_s, char *out, size_t cap)
{
    if (!id_ok(id, strlen(id))) return -1;
    uint8_t m[crypto_auth_hmacsha256_BYTES];
    mac(key, id, sha256, exp_s, m);
    char hex[ASSET_URL_SIG_HEX + 1];
    sodium_bin2hex(hex, sizeof(hex), m, sizeof(m));
    int n = snprintf(out, cap, "asset=%s&exp=%" PRId64 "&sig=%s", id, exp_s, hex);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* The value of parameter name (nlen bytes) in q (len bytes): its bytes and length, or
 * NULL; *dup is set when the parameter comes more than once. */
static const char *param(const char *q, size_t len, const char *name, size_t nlen, size_t *vlen,
                         int *dup)
{
    const char *found = NULL;
    size_t i = 0;
    while (i < len) {
        size_t j = i;
        while (j < len && q[j] != '&')
            j++;
        if (j - i > nlen && memcmp(q + i, name, nlen) == 0 && q[i + nlen] == '=') {
            if (found) *dup = 1;
            found = q + i + nlen + 1;
            *vlen = j - i - nlen - 1;
        }
        i = j + 1;
    }
    return found;
}

int asset_url_present(const char *query, size_t len)
{
    size_t vlen = 0;
    int dup = 0;
    return param(query, len, "sig", 3, &vlen, &dup) != NULL;
}

int asset_url_parse(const char *query, size_t len, asset_url_t *out)
{
    memset(out, 0, sizeof(*out));
    size_t al = 0, el = 0, sl = 0;
    int dup = 0;
    const char *a = param(query, len, "asset", 5, &al, &dup);
    const char *e = param(query, len, "exp", 3, &el, &dup);
    const char *s = param(query, len, "sig", 3, &sl, &dup);
    if (dup || !a || !e || !s || !id_ok(a, al) || sl != ASSET_URL_SIG_HEX) return ASSET_URL_BAD;
    if (el == 0 || el > 18) return ASSET_URL_BAD; /* no overflow: at most 18 digits */
    int64_t v = 0;
    for (size_t i = 0; i < el; i++) {
        if (e[i] < '0' || e[i] > '9') return ASSET_URL_BAD;
        v = v * 10 + (e[i] - '0');
    }
    for (size_t i = 0; i < sl; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return ASSET_URL_BAD;
    memcpy(out->asset, a, al);
    out->exp = v;
    memcpy(out->sig, s, sl);
    return ASSET_URL_OK;
}

int asset_url_check(const uint8_t key[ASSET_URL_KEY_LEN], const asset_url_t *u,
                    const char *sha256, int64_t now_s)
{
    uint8_t want[crypto_auth_hmacsha256_BYTES], got[crypto_auth_hmacsha256_BYTES];
    if (!id_ok(u->asset, strnlen(u->asset, sizeof(u->asset))) ||
        sodium_hex2bin(got, sizeof(got), u->sig, strnlen(u->sig, sizeof(u->sig)), NULL, NULL,
                       NULL) != 0)
        return ASSET_URL_BAD;
    mac(key, u->asset, sha256, u->exp, want);
    if (sodium_memcmp(want, got, sizeof(want)) != 0) return ASSET_URL_BAD;
    return u->exp < now_s ? ASSET_URL_EXPIRED : ASSET_URL_OK;
}
