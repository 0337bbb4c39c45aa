/* auth_jwt.c: session tokens: our own strict parse of the JOSE header and claims around
 * the signature check (libsodium's HMAC for HS256, libjwt for RS256 and ES256).
 *
 * Why not just call jwt_decode: libjwt 1.10.2 takes the algorithm from the token header
 * and uses whatever key it is given with it. An HS256 token whose HMAC key is the RS256
 * public key PEM (which is public) is accepted by jwt_decode(token, public_pem) -- the
 * classic key-confusion forgery (tests/unit/test_jwt.c has one). It also reports every
 * failure as EINVAL, so a bad signature cannot be told from a bad token, and its libb64
 * decoder skips characters outside the alphabet. So we: cap the size, split into exactly
 * three strict base64url parts, parse header and payload with jansson ourselves, pin
 * "alg" to the configured algorithm, and only then let libjwt check an RS256 or ES256
 * signature (HS256: below); after it, jwt_get_alg() must still be ours. Once the text has passed our strict checks, a
 * jwt_decode failure means the signature did not verify.
 *
 * HS256, the common case, does not go through libjwt at all: jwt_decode parses the whole
 * token a second time, base64-encodes through OpenSSL BIOs and keys a fresh HMAC each
 * time (a tenth of the server's time in a join storm, where every connection
 * authenticates). Its check is an HMAC-SHA256 of "header.payload" compared with the
 * signature, which we have decoded already: libsodium's HMAC, keyed once in auth_jwt_new,
 * and a constant-time comparison. The one header rule of libjwt 1.10.2 our parse does not
 * have is kept: a string "typ" other than "JWT" (any case) fails as a bad signature. */
#include "auth/auth_jwt.h"

#include <jansson.h>
#include <jwt.h>
#include <sodium.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <string.h>
#include <strings.h>

#include "util/mem.h"
#include "auth/user_valid.h"

/* Keys are PEM text or a secret; 64 KiB is far beyond any real one and fits libjwt's int. */
#define AUTH_JWT_KEY_MAX 65536
/* HS256 secrets shorter than the SHA-256 output are refused (RFC 7518 3.2). */
#define AUTH_JWT_HS_MIN 32

struct auth_jwt_s {
    auth_alg_t alg;
    jwt_alg_t jalg;
    const char *alg_name; /* as written in the JOSE header */
    unsigned char *vkey, *skey;
    size_t vlen, slen;
    int64_t leeway;
    crypto_auth_hmacsha256_state hs256; /* HS256: keyed with vkey, copied per token */
};

static int auth_jwt__no_passphrase(char *buf, int size, int rwflag, void *u)
{
    /* Encrypted private keys are refused rather than prompting on stdin (OpenSSL's and
     * libjwt's default). */
    (void)buf, (void)size, (void)rwflag, (void)u;
    return -1;
}

static EVP_PKEY *auth_jwt__pem(const unsigned char *k, size_t n, int private_key)
{
    BIO *b = BIO_new_mem_buf(k, (int)n);
    if (!b) return NULL;
    EVP_PKEY *p = private_key ? PEM_read_bio_PrivateKey(b, NULL, auth_jwt__no_passphrase, NULL)
                              : PEM_read_bio_PUBKEY(b, NULL, auth_jwt__no_passphrase, NULL);
    BIO_free(b);
    return p;
}

/* Returns 1 when p is the kind of key alg needs. */
static int auth_jwt__key_fits(EVP_PKEY *p, auth_alg_t alg)
{
    if (alg == AUTH_ALG_RS256)
        return EVP_PKEY_get_base_id(p) == EVP_PKEY_RSA && EVP_PKEY_get_bits(p) >= 2048;
    char group[64];
    return EVP_PKEY_get_base_id(p) == EVP_PKEY_EC &&
           EVP_PKEY_get_group_name(p, group, sizeof group, NULL) == 1 &&
           strcmp(group, "prime256v1") == 0;
}

static int auth_jwt__check_pem_keys(auth_alg_t alg, const unsigned char *vk, size_t vn,
                                    const unsigned char *sk, size_t sn)
{
    int ok = 0;
    EVP_PKEY *pub = auth_jwt__pem(vk, vn, 0), *priv = NULL;
    if (!pub || !auth_jwt__key_fits(pub, alg)) goto done;
    if (sk) {
        priv = auth_jwt__pem(sk, sn, 1);
        if (!priv || !auth_jwt__key_fits(priv, alg) || EVP_PKEY_eq(pub, priv) != 1) goto done;
    }
    ok = 1;
done:
    EVP_PKEY_free(pub);
    EVP_PKEY_free(priv);
    ERR_clear_error(); /* leave nothing on this thread's OpenSSL error queue */
    return ok;
}

static unsigned char *auth_jwt__copy(const unsigned char *k, size_t n)
{
    unsigned char *c = ch_malloc(n + 1);
    memcpy(c, k, n);
    c[n] = '\0';
    return c;
}

auth_jwt_t *auth_jwt_new(auth_alg_t alg, const unsigned char *verify_key, size_t verify_len,
                         const unsigned char *sign_key, size_t sign_len, int64_t leeway_s)
{
    if (!verify_key || verify_len == 0 || verify_len > AUTH_JWT_KEY_MAX) return NULL;
    if (sign_key && (sign_len == 0 || sign_len > AUTH_JWT_KEY_MAX)) return NULL;
    if (leeway_s < 0 || leeway_s > INT32_MAX) return NULL;
    jwt_alg_t jalg;
    const char *name;
    switch (alg) {
    case AUTH_ALG_HS256:
        jalg = JWT_ALG_HS256, name = "HS256";
        if (verify_len < AUTH_JWT_HS_MIN) return NULL;
        if (sign_key && (sign_len != verify_len || memcmp(sign_key, verify_key, sign_len) != 0))
            return NULL;
        break;
    case AUTH_ALG_RS256:
    case AUTH_ALG_ES256:
        jalg = alg == AUTH_ALG_RS256 ? JWT_ALG_RS256 : JWT_ALG_ES256;
        name = alg == AUTH_ALG_RS256 ? "RS256" : "ES256";
        if (!auth_jwt__check_pem_keys(alg, verify_key, verify_len, sign_key, sign_len))
            return NULL;
        break;
    default:
        return NULL;
    }
    auth_jwt_t *a = ch_calloc(1, sizeof *a);
    a->alg = alg;
    a->jalg = jalg;
    a->alg_name = name;
    a->vkey = auth_jwt__copy(verify_key, verify_len);
    a->vlen = verify_len;
    if (sign_key) {
        a->skey = auth_jwt__copy(sign_key, sign_len);
        a->slen = sign_len;
    }
    a->leeway = leeway_s;
    if (alg == AUTH_ALG_HS256) crypto_auth_hmacsha256_init(&a->hs256, a->vkey, a->vlen);
    return a;
}

void auth_jwt_free(auth_jwt_t *a)
{
    if (!a) return;
    OPENSSL_cleanse(a->vkey, a->vlen);
    free(a->vkey);
    if (a->skey) OPENSSL_cleanse(a->skey, a->slen);
    free(a->skey);
    sodium_memzero(&a->hs256, sizeof a->hs256);
    free(a);
}

int auth_jwt_can_mint(const auth_jwt_t *a)
{
    return a && a->skey != NULL;
}

/* ---- verification ---- */

static int auth_jwt__b64val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

/* Strict unpadded base64url (RFC 7515 2): alphabet only, no '=', length % 4 != 1, unused
 * low bits zero, so every byte string has exactly one accepted encoding. Writes the
 * decoded bytes to out (room for n * 3 / 4) and returns their count, or -1. */
static long auth_jwt__b64url_decode(const char *s, size_t n, unsigned char *out)
{
    if (n % 4 == 1) return -1;
    size_t o = 0;
    uint32_t acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = auth_jwt__b64val((unsigned char)s[i]);
        if (v < 0) return -1;
        acc = (acc << 6) | (uint32_t)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
            acc &= (1u << bits) - 1;
        }
    }
    if (acc != 0) return -1; /* non-zero padding bits: a second spelling of the same bytes */
    return (long)o;
}

/* Decodes a base64url JSON object; returns a new reference or NULL. */
static json_t *auth_jwt__json_part(const char *s, size_t n)
{
    unsigned char buf[AUTH_JWT_MAX_LEN * 3 / 4 + 1];
    long m = auth_jwt__b64url_decode(s, n, buf);
    if (m <= 0) return NULL;
    /* Duplicate keys are refused: two readers could otherwise disagree on a claim. */
    json_t *j = json_loadb((const char *)buf, (size_t)m, JSON_REJECT_DUPLICATES, NULL);
    if (j && !json_is_object(j)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

/* Reads optional integer claim key into *v (0 when absent). Returns 0, or -1 when the
 * claim is present but not an integer (reals like 1.7e9 included). */
static int auth_jwt__int_claim(json_t *o, const char *key, int64_t *v)
{
    json_t *x = json_object_get(o, key);
    *v = 0;
    if (!x) return 0;
    if (!json_is_integer(x)) return -1;
    *v = (int64_t)json_integer_value(x);
    return 0;
}

/* Copies optional string claim key (at most max bytes) into out. Returns 0 or -1. */
static int auth_jwt__str_claim(json_t *o, const char *key, char *out, size_t max, int required)
{
    json_t *x = json_object_get(o, key);
    out[0] = '\0';
    if (!x) return required ? -1 : 0;
    if (!json_is_string(x)) return -1;
    size_t n = json_string_length(x);
    if (n > max || (required && n == 0)) return -1;
    memcpy(out, json_string_value(x), n); /* jansson refuses \u0000 by default: no NULs */
    out[n] = '\0';
    return 0;
}

static int auth_jwt__claims(json_t *p, auth_claims_t *out, const char **why)
{
    if (auth_jwt__str_claim(p, "sub", out->sub, AUTH_JWT_SUB_MAX, 1) != 0) {
        *why = "sub claim missing, not a string, empty or too long";
        return AUTH_JWT_EMALFORMED;
    }
    if (!json_is_integer(json_object_get(p, "exp"))) {
        *why = "exp claim missing or not an integer";
        return AUTH_JWT_EMALFORMED;
    }
    if (auth_jwt__int_claim(p, "exp", &out->exp) != 0 ||
        auth_jwt__int_claim(p, "iat", &out->iat) != 0 ||
        auth_jwt__int_claim(p, "nbf", &out->nbf) != 0) {
        *why = "iat or nbf claim not an integer";
        return AUTH_JWT_EMALFORMED;
    }
    if (auth_jwt__str_claim(p, "name", out->name, AUTH_JWT_NAME_MAX, 0) != 0) {
        *why = "name claim not a string or too long";
        return AUTH_JWT_EMALFORMED;
    }
    char color[8];
    if (auth_jwt__str_claim(p, "color", color, 7, 0) != 0 ||
        (json_object_get(p, "color") && !user_color_valid(color, strlen(color)))) {
        *why = "color claim not #rrggbb";
        return AUTH_JWT_EMALFORMED;
    }
    user_color_normalize(color, strlen(color), out->color);
    char jti[AUTH_JWT_JTI_MAX + 1];
    if (auth_jwt__str_claim(p, "jti", jti, AUTH_JWT_JTI_MAX, 0) != 0) {
        *why = "jti claim not a string or too long";
        return AUTH_JWT_EMALFORMED;
    }
    out->has_jti = jti[0] != '\0';
    if (out->has_jti) auth_jti_key(jti, strlen(jti), &out->jti);
    /* "role": "admin" marks an admin (docs/operations.md, "Admin users"); any other role
     * is no role. */
    json_t *role = json_object_get(p, "role");
    if (role && !json_is_string(role)) {
        *why = "role claim not a string";
        return AUTH_JWT_EMALFORMED;
    }
    out->admin = role && strcmp(json_string_value(role), "admin") == 0;
    out->has_ep = json_object_get(p, "ep") != NULL;
    if (auth_jwt__int_claim(p, "ep", &out->ep) != 0 || out->ep < 0) {
        *why = "ep claim not an integer >= 0";
        return AUTH_JWT_EMALFORMED;
    }
    return 0;
}

static int auth_jwt__times(const auth_jwt_t *a, json_t *p, const auth_claims_t *c, int64_t now,
                           const char **why)
{
    int64_t limit;
    /* now >= exp + leeway, without overflow for any exp the token may carry */
    if (!__builtin_add_overflow(c->exp, a->leeway, &limit) && now >= limit) {
        *why = "token expired";
        return AUTH_JWT_EEXPIRED;
    }
    /* now + leeway < nbf */
    if (json_object_get(p, "nbf") && !__builtin_add_overflow(now, a->leeway, &limit) &&
        limit < c->nbf) {
        *why = "token not valid yet";
        return AUTH_JWT_ENOT_YET_VALID;
    }
    return 0;
}

/* HS256: sig (n bytes, decoded) must be the HMAC-SHA256 of the signing input (the token's
 * first len bytes, "header.payload"); typ_ok is 0 when the header had a string "typ"
 * other than "JWT" (libjwt 1.10.2 refuses those). */
static int auth_jwt__hs256(const auth_jwt_t *a, const char *input, size_t len,
                           const unsigned char *sig, size_t n, int typ_ok, const char **why)
{
    unsigned char mac[crypto_auth_hmacsha256_BYTES];
    crypto_auth_hmacsha256_state st = a->hs256;
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)input, len);
    crypto_auth_hmacsha256_final(&st, mac);
    int ok = typ_ok && n == sizeof mac && sodium_memcmp(mac, sig, sizeof mac) == 0;
    sodium_memzero(&st, sizeof st);
    sodium_memzero(mac, sizeof mac);
    if (!ok) {
        *why = "signature does not verify";
        return AUTH_JWT_EBAD_SIGNATURE;
    }
    return 0;
}

static int auth_jwt__signature(const auth_jwt_t *a, const char *token, size_t len,
                               const char **why)
{
    char buf[AUTH_JWT_MAX_LEN + 1]; /* libjwt wants a C string */
    memcpy(buf, token, len);
    buf[len] = '\0';
    jwt_t *j = NULL;
    int rc = jwt_decode(&j, buf, a->vkey, (int)a->vlen);
    ERR_clear_error();
    if (rc != 0 || !j) {
        jwt_free(j);
        *why = "signature does not verify";
        return AUTH_JWT_EBAD_SIGNATURE;
    }
    jwt_alg_t got = jwt_get_alg(j);
    jwt_free(j);
    if (got != a->jalg) { /* cannot happen after our header check; kept as a second lock */
        *why = "algorithm does not match the configured one";
        return AUTH_JWT_EALG_MISMATCH;
    }
    return 0;
}

int auth_jwt_verify(const auth_jwt_t *a, const char *token, size_t len, int64_t now_s,
                    auth_claims_t *out, const char **why)
{
    const char *dummy;
    if (!why) why = &dummy;
    memset(out, 0, sizeof *out);
    *why = "malformed token";
    if (!token || len == 0 || len > AUTH_JWT_MAX_LEN) {
        *why = "token empty or longer than 8 KiB";
        return AUTH_JWT_EMALFORMED;
    }
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token))) {
        *why = "token is not three dot-separated parts";
        return AUTH_JWT_EMALFORMED;
    }
    size_t hlen = (size_t)(d1 - token), plen = (size_t)(d2 - d1 - 1);
    size_t slen = len - (size_t)(d2 + 1 - token);

    int rc = AUTH_JWT_EMALFORMED;
    json_t *h = auth_jwt__json_part(token, hlen), *p = NULL;
    if (!h) {
        *why = "header is not base64url JSON object";
        goto done;
    }
    const char *alg = json_string_value(json_object_get(h, "alg"));
    if (!alg) {
        *why = "header has no string alg";
        goto done;
    }
    if (strcasecmp(alg, "none") == 0) {
        *why = "unsigned tokens (alg none) are refused";
        rc = AUTH_JWT_EALG_NONE;
        goto done;
    }
    if (strcmp(alg, a->alg_name) != 0) {
        *why = "algorithm does not match the configured one";
        rc = AUTH_JWT_EALG_MISMATCH;
        goto done;
    }
    if (json_object_get(h, "crit")) { /* RFC 7515 4.1.11: we understand no extensions */
        *why = "header has crit extensions";
        goto done;
    }
    p = auth_jwt__json_part(d1 + 1, plen);
    if (!p) {
        *why = "payload is not base64url JSON object";
        goto done;
    }
    unsigned char sig[AUTH_JWT_MAX_LEN * 3 / 4 + 1];
    if (slen == 0) {
        *why = "signature missing";
        rc = AUTH_JWT_EBAD_SIGNATURE;
        goto done;
    }
    long siglen = auth_jwt__b64url_decode(d2 + 1, slen, sig);
    if (siglen < 0) {
        *why = "signature is not base64url";
        goto done;
    }
    if (a->alg == AUTH_ALG_HS256) {
        const char *typ = json_string_value(json_object_get(h, "typ"));
        rc = auth_jwt__hs256(a, token, (size_t)(d2 - token), sig, (size_t)siglen,
                             !typ || strcasecmp(typ, "JWT") == 0, why);
    } else {
        rc = auth_jwt__signature(a, token, len, why);
    }
    if (rc != 0) goto done;
    if ((rc = auth_jwt__claims(p, out, why)) != 0) goto done;
    if ((rc = auth_jwt__times(a, p, out, now_s, why)) != 0) goto done;
    *why = "ok";
done:
    json_decref(h);
    json_decref(p);
    if (rc != 0) memset(out, 0, sizeof *out);
    return rc;
}

/* ---- token ids ---- */

static int auth_jwt__hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
}

void auth_jti_key(const char *s, size_t len, auth_jti_t *out)
{
    if (len == AUTH_JTI_HEX_LEN) {
        size_t i = 0;
        for (; i < AUTH_JTI_KEY_LEN; i++) {
            int hi = auth_jwt__hexval(s[2 * i]), lo = auth_jwt__hexval(s[2 * i + 1]);
            if (hi < 0 || lo < 0) break;
            out->b[i] = (uint8_t)(hi << 4 | lo);
        }
        if (i == AUTH_JTI_KEY_LEN) return;
    }
    crypto_generichash(out->b, sizeof out->b, (const unsigned char *)s, len, NULL, 0);
}

void auth_jti_hex(const auth_jti_t *k, char out[AUTH_JTI_HEX_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < AUTH_JTI_KEY_LEN; i++) {
        out[2 * i] = hex[k->b[i] >> 4];
        out[2 * i + 1] = hex[k->b[i] & 15];
    }
    out[AUTH_JTI_HEX_LEN] = '\0';
}

/* ---- minting ---- */

static int auth_jwt__terminated(const char *s, size_t size)
{
    return memchr(s, '\0', size) != NULL;
}

char *auth_jwt_mint(const auth_jwt_t *a, const auth_claims_t *c, int64_t now_s, int64_t ttl_s)
{
    if (!auth_jwt_can_mint(a) || !c || ttl_s <= 0) return NULL;
    if (!auth_jwt__terminated(c->sub, sizeof c->sub) || c->sub[0] == '\0' ||
        !auth_jwt__terminated(c->name, sizeof c->name) ||
        !auth_jwt__terminated(c->color, sizeof c->color) || (c->has_ep && c->ep < 0) ||
        (c->has_ep && c->ep > LONG_MAX))
        return NULL;
    if (c->color[0] && !user_color_valid(c->color, strlen(c->color))) return NULL;
    int64_t exp;
    if (__builtin_add_overflow(now_s, ttl_s, &exp) || now_s < LONG_MIN || exp > LONG_MAX)
        return NULL; /* jwt_add_grant_int takes a long */

    jwt_t *j = NULL;
    char *tok = NULL;
    if (jwt_new(&j) != 0) return NULL;
    char color[8], jti[AUTH_JTI_HEX_LEN + 1];
    user_color_normalize(c->color, strlen(c->color), color);
    if (c->has_jti) auth_jti_hex(&c->jti, jti);
    if (jwt_add_grant(j, "sub", c->sub) != 0 || jwt_add_grant_int(j, "iat", (long)now_s) != 0 ||
        jwt_add_grant_int(j, "exp", (long)exp) != 0 ||
        (c->name[0] && jwt_add_grant(j, "name", c->name) != 0) ||
        (color[0] && jwt_add_grant(j, "color", color) != 0) ||
        (c->has_jti && jwt_add_grant(j, "jti", jti) != 0) ||
        (c->has_ep && jwt_add_grant_int(j, "ep", (long)c->ep) != 0) ||
        (c->admin && jwt_add_grant(j, "role", "admin") != 0) ||
        jwt_set_alg(j, a->jalg, a->skey, (int)a->slen) != 0)
        goto done;
    /* libjwt 1.10.2 has no allocator hooks: the string is malloc'd, free() releases it. */
    tok = jwt_encode_str(j);
done:
    jwt_free(j);
    ERR_clear_error();
    return tok;
}
