/* tus_header.c: pure parsers for the tus 1.0 request headers (see tus_header.h). */
#include "proto/tus_header.h"

#include <errno.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

int tus_parse_u64(const char *s, size_t n, uint64_t *out)
{
    if (n == 0 || n > 19) return -EINVAL; /* 19 digits hold 2^63 - 1 */
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -EINVAL;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > (uint64_t)INT64_MAX) return -EINVAL;
    *out = v;
    return 0;
}

static int key_char(unsigned char c)
{
    return c > ' ' && c < 0x7f && c != ',';
}

/* Decodes standard padded base64 (b, bn) into out (room bytes). Returns the length or
 * -EINVAL / -E2BIG. */
static long b64_decode(const char *b, size_t bn, char *out, size_t room)
{
    if (bn % 4 != 0) return -EINVAL;
    size_t need = bn / 4 * 3;
    if (need > room) return -E2BIG;
    size_t len = 0;
    const char *end = NULL;
    if (sodium_base642bin((unsigned char *)out, room, b, bn, NULL, &len, &end,
                          sodium_base64_VARIANT_ORIGINAL) != 0 ||
        end != b + bn)
        return -EINVAL;
    return (long)len;
}

int tus_metadata_parse(const char *s, size_t n, tus_meta_pair_t *pairs, size_t max,
                       size_t *npairs, char *buf, size_t cap)
{
    size_t np = 0, used = 0, i = 0;
    *npairs = 0;
    if (n == 0) return 0;
    while (i <= n) {
        size_t start = i;
        while (i < n && s[i] != ',')
            i++;
        const char *p = s + start, *e = s + i;
        i++; /* past the comma (or the end) */
        while (p < e && *p == ' ')
            p++; /* "a x, b y": spaces after commas are common */
        while (e > p && e[-1] == ' ')
            e--;
        if (p == e) return -EINVAL; /* empty pair */
        const char *k = p;
        while (p < e && *p != ' ')
            p++;
        size_t klen = (size_t)(p - k);
        for (size_t j = 0; j < klen; j++)
            if (!key_char((unsigned char)k[j])) return -EINVAL;
        const char *v = p;
        while (v < e && *v == ' ')
            v++;
        if (v > p && v == e) return -EINVAL; /* a space and no value */
        if (memchr(v, ' ', (size_t)(e - v))) return -EINVAL;
        if (np == max) return -E2BIG;
        if (cap - used < klen + 2) return -E2BIG;
        char *ko = buf + used;
        memcpy(ko, k, klen);
        ko[klen] = '\0';
        used += klen + 1;
        for (size_t j = 0; j < np; j++)
            if (strcmp(pairs[j].key, ko) == 0) return -EINVAL; /* keys are unique */
        char *vo = buf + used;
        long vl = 0;
        if (v < e) {
            vl = b64_decode(v, (size_t)(e - v), vo, cap - used - 1);
            if (vl < 0) return (int)vl;
        }
        vo[vl] = '\0';
        used += (size_t)vl + 1;
        pairs[np].key = ko;
        pairs[np].value = vo;
        pairs[np].value_len = (size_t)vl;
        np++;
    }
    *npairs = np;
    return 0;
}

const tus_meta_pair_t *tus_metadata_get(const tus_meta_pair_t *pairs, size_t n, const char *key)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(pairs[i].key, key) == 0) return &pairs[i];
    return NULL;
}

int tus_checksum_parse(const char *s, size_t n, uint8_t digest[TUS_SHA256_LEN])
{
    const char *sp = memchr(s, ' ', n);
    if (!sp || sp == s) return -EINVAL;
    size_t alen = (size_t)(sp - s);
    if (alen != 6 || memcmp(s, "sha256", 6) != 0) {
        for (size_t i = 0; i < alen; i++)
            if (!key_char((unsigned char)s[i])) return -EINVAL;
        return -ENOTSUP;
    }
    const char *b = sp + 1;
    size_t bn = n - alen - 1;
    char out[TUS_SHA256_LEN + 3];
    long len = b64_decode(b, bn, out, sizeof(out));
    if (len != TUS_SHA256_LEN) return -EINVAL;
    memcpy(digest, out, TUS_SHA256_LEN);
    return 0;
}

int tus_type_allowed(const char *list, const char *type, size_t type_len)
{
    const char *semi = memchr(type, ';', type_len);
    if (semi) type_len = (size_t)(semi - type);
    while (type_len > 0 && type[type_len - 1] == ' ')
        type_len--;
    int any = 1;
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *e = p;
        while (*e && *e != ',')
            e++;
        size_t n = (size_t)(e - p);
        while (n > 0 && p[n - 1] == ' ')
            n--;
        if (n > 0) {
            any = 0;
            if (n >= 2 && p[n - 2] == '/' && p[n - 1] == '*') {
                if (type_len > n - 1 && strncasecmp(type, p, n - 1) == 0) return 1;
            } else if (n == type_len && strncasecmp(type, p, n) == 0) {
                return 1;
            }
        }
        p = e;
    }
    return any;
}
