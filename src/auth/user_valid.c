/* user_valid.c: e-mail, display name, color and password rules. */
#include "auth/user_valid.h"

#include <stdint.h>

#include "util/mem.h"
#include "util/utf8.h"

static int user__lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

static int user__alpha(int c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int user__alnum(int c)
{
    return user__alpha(c) || (c >= '0' && c <= '9');
}

static int user__hex(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int user__local_char(int c)
{
    if (c < 0x21 || c > 0x7e) return 0;
    switch (c) {
    case '"': case '<': case '>': case ',': case ';': case '\\': case '@': return 0;
    default: return 1;
    }
}

int user_email_valid(const char *s, size_t len)
{
    if (len < 3 || len > 254) return 0;
    size_t at = len;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '@') continue;
        if (at != len) return 0; /* a second '@' */
        at = i;
    }
    if (at == len || at < 1 || at > 64) return 0;
    for (size_t i = 0; i < at; i++)
        if (!user__local_char((unsigned char)s[i])) return 0;

    const char *d = s + at + 1;
    size_t dlen = len - at - 1, start = 0, labels = 0;
    if (dlen == 0) return 0;
    for (size_t i = 0; i <= dlen; i++) {
        if (i < dlen && d[i] != '.') {
            int c = (unsigned char)d[i];
            if (!user__alnum(c) && c != '-') return 0;
            continue;
        }
        size_t n = i - start; /* a label ends at '.' or the end */
        if (n < 1 || n > 63 || d[start] == '-' || d[i - 1] == '-') return 0;
        labels++;
        if (i == dlen) { /* TLD: letters only, 2+ */
            if (n < 2) return 0;
            for (size_t k = start; k < i; k++)
                if (!user__alpha((unsigned char)d[k])) return 0;
        }
        start = i + 1;
    }
    return labels >= 2;
}

void user_email_normalize(const char *s, size_t len, char *out)
{
    for (size_t i = 0; i < len; i++) out[i] = (char)user__lower((unsigned char)s[i]);
    out[len] = '\0';
}

/* Decodes the code point at p (known valid UTF-8) and returns its length in bytes. */
static size_t user__decode(const unsigned char *p, uint32_t *cp)
{
    if (p[0] < 0x80) { *cp = p[0]; return 1; }
    if (p[0] < 0xe0) { *cp = ((uint32_t)(p[0] & 0x1f) << 6) | (p[1] & 0x3f); return 2; }
    if (p[0] < 0xf0) {
        *cp = ((uint32_t)(p[0] & 0x0f) << 12) | ((uint32_t)(p[1] & 0x3f) << 6) | (p[2] & 0x3f);
        return 3;
    }
    *cp = ((uint32_t)(p[0] & 0x07) << 18) | ((uint32_t)(p[1] & 0x3f) << 12) |
          ((uint32_t)(p[2] & 0x3f) << 6) | (p[3] & 0x3f);
    return 4;
}

static int user__blank(uint32_t cp)
{
    return cp == 0x20 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200d) ||
           cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x2060 ||
           cp == 0x3000 || cp == 0xfeff;
}

/* Bidirectional formatting characters (Unicode 15, UAX #9): ALM, LRM, RLM, the
 * embeddings and overrides LRE RLE PDF LRO RLO, and the isolates LRI RLI FSI PDI. In a
 * name they reorder the text shown after it ("U+202E" makes "txt.exe" read backwards), so
 * they are refused; a right-to-left name needs none of them. */
static int user__bidi(uint32_t cp)
{
    return cp == 0x061c || cp == 0x200e || cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

int user_name_valid(const char *s, size_t len)
{
    /* 4 bytes per code point at most: longer input cannot be valid, skip the scan. */
    if (len == 0 || len > 4 * USER_NAME_MAX_CP) return 0;
    const unsigned char *p = (const unsigned char *)s;
    if (!utf8_valid(p, len)) return 0;
    size_t count = 0;
    int visible = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        i += user__decode(p + i, &cp);
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return 0;
        if (user__bidi(cp) || cp == 0x2028 || cp == 0x2029) return 0; /* and line breaks */
        if (!user__blank(cp)) visible = 1;
        if (++count > USER_NAME_MAX_CP) return 0;
    }
    return visible;
}

int user_color_valid(const char *s, size_t len)
{
    if (len != 7 || s[0] != '#') return 0;
    for (size_t i = 1; i < 7; i++)
        if (!user__hex((unsigned char)s[i])) return 0;
    return 1;
}

void user_color_normalize(const char *s, size_t len, char *out)
{
    user_email_normalize(s, len, out); /* same ASCII lower-casing */
}

static const char *const user__palette[] = {
    "#d9534f", "#d9682a", "#b8800a", "#8a8c17", "#55962a", "#2e9e57", "#1f9e8f", "#1b95b8",
    "#3b82f6", "#5b6ee8", "#8060e0", "#a855d6", "#c94fb0", "#d94f86", "#3a9b1f", "#bf4fd0",
};

size_t user_color_palette_size(void)
{
    return CH_ARRAY_LEN(user__palette);
}

const char *user_color_palette_at(size_t i)
{
    CH_ASSERT(i < CH_ARRAY_LEN(user__palette));
    return user__palette[i];
}

const char *user_color_pick(const unsigned char *seed, size_t seed_len)
{
    uint32_t h = 2166136261u; /* FNV-1a: tiny, stable across versions, well spread */
    for (size_t i = 0; i < seed_len; i++) {
        h ^= seed[i];
        h *= 16777619u;
    }
    return user__palette[h % CH_ARRAY_LEN(user__palette)];
}

int user_password_valid(size_t len)
{
    return len >= USER_PASSWORD_MIN && len <= USER_PASSWORD_MAX;
}
