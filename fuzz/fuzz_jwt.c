/* fuzz_jwt.c: libFuzzer target for token verification with a fixed HS256 secret.
 * First byte even: the rest is a token, fed as-is to auth_jwt_verify.
 * First byte odd: the rest is the payload text; the target signs it correctly with the
 * secret (header {"alg":"HS256"}) so the claim and time checks after the signature are
 * reached too, which random bytes never would.
 * Every result must be a documented code and a failure must leave the claims zeroed. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_jwt.h"

static const char secret[] = "chorus-unit-test-secret-32-bytes!!";

static size_t b64url(const unsigned char *in, size_t n, char *out)
{
    static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n) v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n) v |= in[i + 2];
        out[o++] = t[v >> 18];
        out[o++] = t[(v >> 12) & 63];
        if (i + 1 < n) out[o++] = t[(v >> 6) & 63];
        if (i + 2 < n) out[o++] = t[v & 63];
    }
    return o;
}

static char *sign_payload(const uint8_t *p, size_t n, size_t *len)
{
    static const char hdr[] = "eyJhbGciOiJIUzI1NiJ9"; /* {"alg":"HS256"} */
    char *t = malloc(sizeof hdr + 1 + (n + 2) / 3 * 4 + 1 + 44);
    size_t o = sizeof hdr - 1;
    memcpy(t, hdr, o);
    t[o++] = '.';
    o += b64url(p, n, t + o);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    HMAC(EVP_sha256(), secret, (int)sizeof secret - 1, (const unsigned char *)t, o, mac, &maclen);
    t[o++] = '.';
    o += b64url(mac, maclen, t + o);
    *len = o;
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    /* Built per input (cheap: one copy of the key) so a leak in new/free shows up too. */
    auth_jwt_t *a = auth_jwt_new(AUTH_ALG_HS256, (const unsigned char *)secret,
                                 sizeof secret - 1, (const unsigned char *)secret,
                                 sizeof secret - 1, 30);
    if (!a) __builtin_trap();
    char *signed_tok = NULL;
    const char *tok = (const char *)data + 1;
    size_t len = size - 1;
    if (data[0] & 1) tok = signed_tok = sign_payload(data + 1, size - 1, &len);

    auth_claims_t c;
    const char *why = NULL;
    int rc = auth_jwt_verify(a, tok, len, 1700000000, &c, &why);
    if (!why || rc > 0 || rc < AUTH_JWT_ENOT_YET_VALID) __builtin_trap();
    if (rc == 0) {
        if (c.sub[0] == '\0' || memchr(c.sub, '\0', sizeof c.sub) == NULL) __builtin_trap();
        if (c.color[0] && strlen(c.color) != 7) __builtin_trap();
        /* what verified must survive a re-mint with the same claims */
        char *again = auth_jwt_mint(a, &c, 1700000000, 60);
        if (!again) __builtin_trap();
        auth_claims_t c2;
        if (auth_jwt_verify(a, again, strlen(again), 1700000000, &c2, NULL) != 0 ||
            strcmp(c.sub, c2.sub) != 0 || strcmp(c.name, c2.name) != 0 ||
            strcmp(c.color, c2.color) != 0)
            __builtin_trap();
        free(again);
    } else {
        static const auth_claims_t zero;
        if (memcmp(&c, &zero, sizeof c) != 0) __builtin_trap();
    }
    free(signed_tok);
    auth_jwt_free(a);
    return 0;
}
