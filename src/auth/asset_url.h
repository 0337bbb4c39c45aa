/* asset_url.h: signed, expiring download URLs of assets (docs/assets.md, "Signed URLs"),
 * for what cannot send an Authorization header (<img src>, <video>, three.js loaders).
 * The URL is /api/blobs/<sha256>?asset=<id>&exp=<unix s>&sig=<hex>, where sig is the
 * HMAC-SHA256, under the server's asset URL key, of the asset's id, its content's hash
 * and the expiry; it is checked in constant time. Pure: no I/O, time passed in. */
#ifndef CHORUS_ASSET_URL_H
#define CHORUS_ASSET_URL_H

#include <stddef.h>
#include <stdint.h>

#define ASSET_URL_KEY_LEN 32
#define ASSET_URL_ID_MAX 64  /* bytes of an asset id in a URL */
#define ASSET_URL_SIG_HEX 64 /* hex digits of a signature */

/* What check answers. */
enum {
    ASSET_URL_OK = 0,
    ASSET_URL_BAD = -1,     /* malformed, or the signature does not match (tampered) */
    ASSET_URL_EXPIRED = -2, /* signed by this server, but past its expiry */
};

/* A signed URL's query, as parsed (fixed fields, NUL-terminated). */
typedef struct {
    char asset[ASSET_URL_ID_MAX + 1];
    int64_t exp; /* unix s */
    char sig[ASSET_URL_SIG_HEX + 1];
} asset_url_t;

/* Writes the query "asset=<id>&exp=<exp_s>&sig=<hex>" of asset id (1 to ASSET_URL_ID_MAX
 * bytes of [0-9a-zA-Z_-]) whose content is sha256 (64 hex digits), valid until exp_s,
 * into out (cap bytes). Borrows everything. Returns 0, or -1 (a bad id, or out too
 * small). */
int asset_url_sign(const uint8_t key[ASSET_URL_KEY_LEN], const char *id, const char *sha256,
                   int64_t exp_s, char *out, size_t cap);

/* Parses query (len bytes, untrusted; borrowed): it must hold asset, exp and sig, each once,
 * well formed (other parameters are ignored). Returns 0 with *out filled, or
 * ASSET_URL_BAD. */
int asset_url_parse(const char *query, size_t len, asset_url_t *out);

/* 1 when query (len bytes; borrowed) has a sig parameter: the request means a signed URL. */
int asset_url_present(const char *query, size_t len);

/* Checks u (borrowed) for content sha256 (borrowed) at now_s: ASSET_URL_OK,
 * ASSET_URL_BAD (the signature, compared in constant time, does not match) or
 * ASSET_URL_EXPIRED (it matches, but exp is before now_s). */
int asset_url_check(const uint8_t key[ASSET_URL_KEY_LEN], const asset_url_t *u,
                    const char *sha256, int64_t now_s);

#endif
