/* auth_jwt.h: signed session tokens (JWS compact form) minted and verified with libjwt, with
 * the algorithm pinned by configuration (pure: the caller passes the time). */
#ifndef CHORUS_AUTH_JWT_H
#define CHORUS_AUTH_JWT_H

#include <stddef.h>
#include <stdint.h>

typedef enum { AUTH_ALG_HS256, AUTH_ALG_RS256, AUTH_ALG_ES256 } auth_alg_t;

/* Opaque: the pinned algorithm and copies of the key material. Immutable once built, so
 * one instance may be shared by every thread. */
typedef struct auth_jwt_s auth_jwt_t;

/* Longest token accepted by auth_jwt_verify, in bytes (a session token is ~300). */
#define AUTH_JWT_MAX_LEN 8192
/* Longest sub and name claims, in bytes. */
#define AUTH_JWT_SUB_MAX 128
#define AUTH_JWT_NAME_MAX 128
/* Longest jti claim, in bytes (Chorus mints 32 hex characters). */
#define AUTH_JWT_JTI_MAX 64

/* auth_jwt_verify results: 0 on success, else one of these. */
enum {
    /* Not three base64url parts, bad JSON (or duplicate keys), header or payload not an
     * object, header without a string "alg" or with "crit", token over AUTH_JWT_MAX_LEN;
     * after the signature check: "sub" missing / not a string / empty / too long, "exp"
     * missing or not an integer, "iat"/"nbf" not integers, "name" not a string or too
     * long, "color" not "#rrggbb". Tokens without "exp" are refused on purpose: a token
     * that never expires cannot be retired short of rotating the key. */
    AUTH_JWT_EMALFORMED = -1,
    /* "alg" is "none" (any letter case): unsigned tokens are never accepted. */
    AUTH_JWT_EALG_NONE = -2,
    /* "alg" is anything but the configured algorithm -- including HS256 when RS256 or
     * ES256 is configured (key confusion: an HMAC keyed with the public key). */
    AUTH_JWT_EALG_MISMATCH = -3,
    /* The signature does not verify with the configured key (or is empty). */
    AUTH_JWT_EBAD_SIGNATURE = -4,
    /* now_s >= exp + leeway. */
    AUTH_JWT_EEXPIRED = -5,
    /* "nbf" present and now_s + leeway < nbf. */
    AUTH_JWT_ENOT_YET_VALID = -6,
};

/* Returns a new verifier/minter (free with auth_jwt_free), or NULL when the keys are
 * unusable. Copies the keys; borrows nothing after return.
 *  - AUTH_ALG_HS256: verify_key is the secret, at least 32 bytes (RFC 7518 3.2: no shorter
 *    than the hash). sign_key is NULL (verify only) or the same secret again.
 *  - AUTH_ALG_RS256: verify_key is a PEM public key (RSA, >= 2048 bits); sign_key is NULL
 *    or the matching unencrypted PEM private key.
 *  - AUTH_ALG_ES256: the same with a P-256 EC key pair.
 * The keys are checked here (parsed with OpenSSL, pair matched) so a bad configuration
 * fails at start-up instead of on every request. leeway_s (>= 0) is the clock skew
 * allowed on exp and nbf. */
auth_jwt_t *auth_jwt_new(auth_alg_t alg, const unsigned char *verify_key, size_t verify_len,
                         const unsigned char *sign_key, size_t sign_len, int64_t leeway_s);

/* Frees a (wiping the key copies); NULL is ignored. */
void auth_jwt_free(auth_jwt_t *a);

/* Returns 1 when a holds a signing key (auth_jwt_mint can work), else 0. */
int auth_jwt_can_mint(const auth_jwt_t *a);

/* A token id (the "jti" claim) as a fixed-size key: revocation only compares ids, so a
 * connection need not carry the string. A jti of AUTH_JTI_HEX_LEN lower-case hex digits
 * (what Chorus mints) is kept as the bytes it spells, so that auth_jti_hex gives the jti
 * back; any other (an app backend's) as its 128-bit BLAKE2b digest. Either way
 * auth_jti_key(auth_jti_hex(k)) == k, which is how a revocation is stored and reloaded. */
#define AUTH_JTI_KEY_LEN 16
#define AUTH_JTI_HEX_LEN (2 * AUTH_JTI_KEY_LEN)
typedef struct {
    uint8_t b[AUTH_JTI_KEY_LEN];
} auth_jti_t;

/* Writes the key of the len-byte jti at s (borrowed; need not be NUL-terminated) to *out. */
void auth_jti_key(const char *s, size_t len, auth_jti_t *out);

/* Writes the AUTH_JTI_HEX_LEN lower-case hex digits of k (borrowed) and a NUL to out. */
void auth_jti_hex(const auth_jti_t *k, char out[AUTH_JTI_HEX_LEN + 1]);

/* Claims carried by a session token. Strings are NUL-terminated; "" when absent. Embedded
 * in every connection: keep it small. */
typedef struct {
    char sub[AUTH_JWT_SUB_MAX + 1];   /* user id */
    char name[AUTH_JWT_NAME_MAX + 1]; /* display name */
    char color[8];                    /* "#rrggbb", lower case */
    uint8_t has_jti;                  /* 1 when the token carries a non-empty "jti" */
    uint8_t has_ep;                   /* 1 when the token carries "ep" */
    uint8_t admin;                    /* 1 when the token carries "role": "admin" */
    int64_t iat, exp, nbf;            /* seconds since the epoch; 0 when absent */
    int64_t ep;                       /* the user's token epoch when minted */
    auth_jti_t jti;                   /* token id when has_jti (revocable alone) */
} auth_claims_t;

/* Returns a new token string (caller frees with free()) or NULL when a cannot mint or the
 * claims are invalid (empty or unterminated sub, bad color, ttl_s <= 0, overflow).
 * Writes sub, iat = now_s, exp = now_s + ttl_s, name / color when non-empty, jti (its
 * auth_jti_hex form) when has_jti and ep when has_ep; the iat/exp/nbf fields of c are ignored.
 * Borrows a and c. */
char *auth_jwt_mint(const auth_jwt_t *a, const auth_claims_t *c, int64_t now_s, int64_t ttl_s);

/* Verifies the len bytes at token (borrowed; need not be NUL-terminated) at time now_s.
 * Returns 0 and fills *out, or an AUTH_JWT_E* code with *out zeroed. When why is not NULL,
 * *why is set to a static English message (also on success: "ok"). The header's "alg" is
 * checked against the configured algorithm before any signature work. */
int auth_jwt_verify(const auth_jwt_t *a, const char *token, size_t len, int64_t now_s,
                    auth_claims_t *out, const char **why);

#endif
