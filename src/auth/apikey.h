/* apikey.h: API keys of app backends (issue 21, the server API; docs/api.md, "Backends"):
 * the key text, its parts, and the hash the store keeps instead of the secret. Pure but for
 * apikey_new's randomness (libsodium: sodium_init first).
 *
 * A key is "chk_" + its id (16 lower-case hex digits, public: it names the key in
 * `chorus apikey list` and the store) + "_" + its secret (64 lower-case hex digits, 256
 * random bits), 85 characters. The store keeps the id and SHA-256(secret) as hex; a
 * presented key is found by its id and its secret's hash compared in constant time. */
#ifndef CHORUS_APIKEY_H
#define CHORUS_APIKEY_H

#include <stddef.h>

#include "store/store.h"

#define APIKEY_PREFIX "chk_"
#define APIKEY_SECRET_BYTES 32
#define APIKEY_TEXT_LEN (4 + 16 + 1 + 2 * APIKEY_SECRET_BYTES) /* 85, without the NUL */

/* A key as presented: its id and its secret's bytes. */
typedef struct {
    char id[STORE_APIKEY_ID_LEN];
    unsigned char secret[APIKEY_SECRET_BYTES];
} apikey_parsed_t;

/* Parses text (len bytes, borrowed; need not be NUL-terminated) as a key. Returns 0 with
 * *out filled, or -EINVAL when it is not exactly the format above (a JWT, a wrong length,
 * an upper-case or non-hex digit). */
int apikey_parse(const char *text, size_t len, apikey_parsed_t *out);

/* Writes SHA-256(secret) as 64 lower-case hex digits and a NUL into hash. */
void apikey_hash(const unsigned char secret[APIKEY_SECRET_BYTES],
                 char hash[STORE_APIKEY_HASH_LEN]);

/* Returns 0 when hash (borrowed, as stored) is apikey_hash(secret), compared in constant
 * time, else -EACCES (a stored value that is not 64 hex digits never matches). */
int apikey_verify(const char *hash, const unsigned char secret[APIKEY_SECRET_BYTES]);

/* Makes a new key from libsodium's CSPRNG: its id, its text (shown once, never stored)
 * and the hash to store. */
void apikey_new(char id[STORE_APIKEY_ID_LEN], char text[APIKEY_TEXT_LEN + 1],
                char hash[STORE_APIKEY_HASH_LEN]);

#endif
