/* apikey.c: the API key format, its hash and the constant-time check (apikey.h). */
#include "auth/apikey.h"

#include <errno.h>
#include <string.h>

#include <sodium.h>

#include "auth/auth_random.h"

/* The value of a lower-case hex digit, or -1. */
static int apikey_hexval(char ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    return -1;
}

/* Decodes 2 * n lower-case hex digits of hex into out. Returns 0 or -EINVAL. */
static int apikey_unhex(const char *hex, unsigned char *out, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int hi = apikey_hexval(hex[2 * i]), lo = apikey_hexval(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return -EINVAL;
        out[i] = (unsigned char)(hi << 4 | lo);
    }
    return 0;
}

int apikey_parse(const char *text, size_t len, apikey_parsed_t *out)
{
    const size_t idlen = STORE_APIKEY_ID_LEN - 1;
    memset(out, 0, sizeof(*out));
    if (len != APIKEY_TEXT_LEN || memcmp(text, APIKEY_PREFIX, 4) != 0 || text[4 + idlen] != '_')
        return -EINVAL;
    for (size_t i = 0; i < idlen; i++)
        if (apikey_hexval(text[4 + i]) < 0) return -EINVAL;
    if (apikey_unhex(text + 4 + idlen + 1, out->secret, APIKEY_SECRET_BYTES) != 0) {
        sodium_memzero(out->secret, sizeof(out->secret));
        return -EINVAL;
    }
    memcpy(out->id, text + 4, idlen);
    out->id[idlen] = '\0';
    return 0;
}

void apikey_hash(const unsigned char secret[APIKEY_SECRET_BYTES],
                 char hash[STORE_APIKEY_HASH_LEN])
{
    unsigned char digest[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(digest, secret, APIKEY_SECRET_BYTES);
    sodium_bin2hex(hash, STORE_APIKEY_HASH_LEN, digest, sizeof(digest));
}

int apikey_verify(const char *hash, const unsigned char secret[APIKEY_SECRET_BYTES])
{
    unsigned char want[crypto_hash_sha256_BYTES], got[crypto_hash_sha256_BYTES];
    if (strnlen(hash, STORE_APIKEY_HASH_LEN) != STORE_APIKEY_HASH_LEN - 1 ||
        apikey_unhex(hash, want, sizeof(want)) != 0)
        return -EACCES;
    crypto_hash_sha256(got, secret, APIKEY_SECRET_BYTES);
    int rc = sodium_memcmp(want, got, sizeof(got)) == 0 ? 0 : -EACCES;
    sodium_memzero(got, sizeof(got));
    return rc;
}

void apikey_new(char id[STORE_APIKEY_ID_LEN], char text[APIKEY_TEXT_LEN + 1],
                char hash[STORE_APIKEY_HASH_LEN])
{
    unsigned char secret[APIKEY_SECRET_BYTES];
    auth_random_hex(id, (STORE_APIKEY_ID_LEN - 1) / 2);
    randombytes_buf(secret, sizeof(secret));
    memcpy(text, APIKEY_PREFIX, 4);
    memcpy(text + 4, id, STORE_APIKEY_ID_LEN - 1);
    text[4 + STORE_APIKEY_ID_LEN - 1] = '_';
    sodium_bin2hex(text + 4 + STORE_APIKEY_ID_LEN, 2 * APIKEY_SECRET_BYTES + 1, secret,
                   sizeof(secret));
    apikey_hash(secret, hash);
    sodium_memzero(secret, sizeof(secret));
}
