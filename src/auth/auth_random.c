/* auth_random.c: UUIDs and hex tokens from randombytes_buf. */
#include "auth/auth_random.h"

#include <sodium.h>

static const char auth_random__hex[] = "0123456789abcdef";

/* Writes the 16 random bytes b (changed: the version and variant bits set) as a UUID. */
static void uuid_format(unsigned char b[16], char out[37])
{
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant 10xx */
    size_t o = 0;
    for (size_t i = 0; i < 16; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10) out[o++] = '-';
        out[o++] = auth_random__hex[b[i] >> 4];
        out[o++] = auth_random__hex[b[i] & 15];
    }
    out[o] = '\0';
}

void auth_random_uuid(char out[37])
{
    unsigned char b[16];
    randombytes_buf(b, sizeof b);
    uuid_format(b, out);
    sodium_memzero(b, sizeof b);
}

void auth_random_uuid_pooled(auth_random_pool_t *p, char out[37])
{
    if (p->left < 16) {
        randombytes_buf(p->b, sizeof p->b);
        p->left = sizeof p->b;
    }
    unsigned char *b = p->b + sizeof p->b - p->left;
    p->left -= 16;
    uuid_format(b, out);
    sodium_memzero(b, 16); /* used: not kept */
}

void auth_random_hex(char *out, size_t nbytes)
{
    /* Chunked so no allocation is needed for any nbytes. */
    unsigned char b[64];
    size_t o = 0;
    while (nbytes > 0) {
        size_t n = nbytes < sizeof b ? nbytes : sizeof b;
        randombytes_buf(b, n);
        for (size_t i = 0; i < n; i++) {
            out[o++] = auth_random__hex[b[i] >> 4];
            out[o++] = auth_random__hex[b[i] & 15];
        }
        nbytes -= n;
    }
    out[o] = '\0';
    sodium_memzero(b, sizeof b);
}
