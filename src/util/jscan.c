/* jscan.c: a JSON text checked as Jansson checks it, its top-level members kept as
 * slices (jscan.h). One pass, no recursion, no allocation: the open containers and their
 * keys live in fixed arrays on the stack. */
#include "util/jscan.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

/* A container open in the scan: where its keys start in the key stack (objects), or
 * ARRAY_MARK. */
#define ARRAY_MARK 0xffffu

typedef struct {
    const char *p, *end;
    unsigned flags;
    uint32_t depth; /* containers open */
    uint16_t open[JSCAN_MAX_DEPTH];
    uint32_t nkeys; /* keys of the open objects, innermost last */
    const char *key[JSCAN_KEYS];
    uint32_t key_len[JSCAN_KEYS];
    int canon; /* the current top-level member's value is canonical */
} scan_t;

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Skips whitespace; inside a member's value (depth >= 2) it makes the value non-canonical. */
static void skip_ws(scan_t *s)
{
    const char *p = s->p;
    while (p < s->end && is_ws(*p))
        p++;
    if (p != s->p && s->depth >= 2) s->canon = 0;
    s->p = p;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads the 4 hex digits at p (p + 4 <= end). Returns the code unit, or -1. */
static long hex4(const char *p)
{
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(p[i]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

/* Scans the string whose opening quote is at s->p. Sets *escaped when it has escapes and
 * clears *canon when Jansson would write it otherwise. Returns 0 (s->p after the closing
 * quote) or JSCAN_EINVALID. */
static int scan_string(scan_t *s, int *escaped, int *canon)
{
    const char *p = s->p + 1, *end = s->end;
    for (;;) {
        /* The common run: plain bytes (UTF-8 was checked before). */
        while (p < end && *p != '"' && *p != '\\' && (unsigned char)*p >= 0x20)
            p++;
        if (p >= end) return JSCAN_EINVALID;
        if (*p == '"') break;
        if ((unsigned char)*p < 0x20) return JSCAN_EINVALID; /* a raw control character */
        *escaped = 1;
        if (p + 1 >= end) return JSCAN_EINVALID;
        char e = p[1];
        if (e == '"' || e == '\\' || e == 'b' || e == 'f' || e == 'n' || e == 'r' || e == 't') {
            p += 2;
            continue;
        }
        if (e == '/') { /* Jansson writes '/' bare */
            *canon = 0;
            p += 2;
            continue;
        }
        if (e != 'u' || end - p < 6) return JSCAN_EINVALID;
        long u = hex4(p + 2);
        if (u < 0) return JSCAN_EINVALID;
        if (u >= 0xDC00 && u <= 0xDFFF) return JSCAN_EINVALID; /* a low surrogate alone */
        if (u >= 0xD800 && u <= 0xDBFF) {
            if (end - p < 12 || p[6] != '\\' || p[7] != 'u') return JSCAN_EINVALID;
            long lo = hex4(p + 8);
            if (lo < 0xDC00 || lo > 0xDFFF) return JSCAN_EINVALID;
            *canon = 0; /* Jansson writes the character as UTF-8 */
            p += 12;
            continue;
        }
        /* Jansson writes \u%04X for the control characters without a short form, and
         * everything else as itself. */
        if (u >= 0x20 || u == '\b' || u == '\f' || u == '\n' || u == '\r' || u == '\t')
            *canon = 0;
        else
            for (int i = 2; i < 6; i++)
                if (p[i] >= 'a' && p[i] <= 'f') *canon = 0;
        p += 6;
    }
    s->p = p + 1;
    return 0;
}

/* Formats d as Jansson's encoder does (jsonp_dtostr with its default precision, 17):
 * "%.17g", ".0" added when neither '.' nor 'e' is there, the exponent's '+' and leading
 * zeros removed. Returns the length, or -1. */
static int real_text(char *out, size_t cap, double d)
{
    int n = snprintf(out, cap, "%.17g", d);
    if (n < 0 || (size_t)n + 3 >= cap) return -1;
    if (!strchr(out, '.') && !strchr(out, 'e')) {
        memcpy(out + n, ".0", 3);
        n += 2;
    }
    char *e = strchr(out, 'e');
    if (e) {
        char *start = e + 1, *digits = e + 2;
        if (*start == '-') start++;
        while (*digits == '0')
            digits++;
        if (digits != start) {
            memmove(start, digits, (size_t)(out + n - digits) + 1);
            n -= (int)(digits - start);
        }
    }
    return n;
}

/* Scans the number at s->p. Returns JSCAN_INT or JSCAN_REAL, JSCAN_EINVALID, or
 * JSCAN_EUNSURE (too long to decide here); clears *canon when Jansson writes it otherwise. */
static int scan_number(scan_t *s, int *canon)
{
    const char *p = s->p, *end = s->end, *start = p;
    int real = 0;
    if (p < end && *p == '-') p++;
    if (p >= end) return JSCAN_EINVALID;
    if (*p == '0') {
        p++;
    } else if (*p >= '1' && *p <= '9') {
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    } else {
        return JSCAN_EINVALID;
    }
    if (p < end && *p == '.') {
        real = 1;
        p++;
        if (p >= end || !(*p >= '0' && *p <= '9')) return JSCAN_EINVALID;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        real = 1;
        p++;
        if (p < end && (*p == '+' || *p == '-')) p++;
        if (p >= end || !(*p >= '0' && *p <= '9')) return JSCAN_EINVALID;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    }
    size_t n = (size_t)(p - start);
    if (n > JSCAN_NUMBER_MAX) return JSCAN_EUNSURE;
    char text[JSCAN_NUMBER_MAX + 1], back[64];
    memcpy(text, start, n);
    text[n] = 0;
    if (!real) {
        /* Jansson's "too big integer": past int64_t. JSON has no leading zeros, so the
         * digits' count decides, and at 19 a comparison with the limit as text (no
         * strtoll and errno on echo's every ref). */
        int neg = text[0] == '-';
        const char *d = text + neg;
        size_t nd = n - (size_t)neg;
        if (nd > 19 ||
            (nd == 19 && memcmp(d, neg ? "9223372036854775808" : "9223372036854775807", 19) > 0))
            return JSCAN_EINVALID;
        if (neg && nd == 1 && d[0] == '0') *canon = 0; /* -0 is written 0 */
        s->p = p;
        return JSCAN_INT;
    }
    double d = strtod(text, NULL);
    if (isinf(d)) return JSCAN_EINVALID; /* "real number overflow" */
    int k = real_text(back, sizeof(back), d);
    if (k < 0 || (size_t)k != n || memcmp(back, start, n) != 0) *canon = 0;
    s->p = p;
    return JSCAN_REAL;
}

/* Scans a literal (true, false, null) at s->p. Jansson reads a run of letters as one
 * token, so "nullx" is refused. */
static int scan_literal(scan_t *s)
{
    static const struct {
        const char *word;
        size_t len;
        int type;
    } words[] = {{"true", 4, JSCAN_TRUE}, {"false", 5, JSCAN_FALSE}, {"null", 4, JSCAN_NULL}};
    for (size_t i = 0; i < 3; i++) {
        size_t n = words[i].len;
        if ((size_t)(s->end - s->p) >= n && memcmp(s->p, words[i].word, n) == 0) {
            const char *q = s->p + n;
            if (q < s->end && ((*q >= 'a' && *q <= 'z') || (*q >= 'A' && *q <= 'Z')))
                return JSCAN_EINVALID;
            s->p = q;
            return words[i].type;
        }
    }
    return JSCAN_EINVALID;
}

/* Records the key (between its quotes, at k, n bytes) of the innermost object; refuses a
 * duplicate. Keys are compared as bytes, so an escaped one is left to Jansson. */
static int add_key(scan_t *s, const char *k, uint32_t n, int escaped)
{
    if (s->flags & JSCAN_TRUSTED) return 0;
    if (escaped) return JSCAN_EUNSURE;
    uint32_t first = s->open[s->depth - 1];
    if (s->nkeys - first >= JSCAN_OBJECT_KEYS || s->nkeys >= JSCAN_KEYS) return JSCAN_EUNSURE;
    for (uint32_t i = first; i < s->nkeys; i++)
        if (s->key_len[i] == n && memcmp(s->key[i], k, n) == 0) return JSCAN_EINVALID;
    s->key[s->nkeys] = k;
    s->key_len[s->nkeys] = n;
    s->nkeys++;
    return 0;
}

static int top_is_object(const jscan_t *out, const scan_t *s)
{
    return s->depth == 1 && out->type == JSCAN_OBJECT;
}

int jscan_parse(jscan_t *out, const char *buf, size_t len, unsigned flags)
{
    scan_t s;
    s.p = buf;
    s.end = buf + len;
    s.flags = flags;
    s.depth = 0;
    s.nkeys = 0;
    s.canon = 1;
    out->buf = buf;
    out->len = len;
    out->n = 0;
    out->type = JSCAN_NULL;
    jscan_member_t *mem = NULL; /* the top-level member whose value is being scanned */
    int rc, skip_nul = 0;

value: /* a value is expected at s.p (after whitespace) */
    skip_ws(&s);
    if (s.p >= s.end) return JSCAN_EINVALID;
    if (s.depth + 1 > JSCAN_MAX_DEPTH) return JSCAN_EINVALID; /* Jansson counts values */
    if (s.depth == 1 && mem) {
        mem->val = s.p;
        s.canon = 1;
    }
    {
        char c = *s.p;
        int type;
        if (c == '{' || c == '[') {
            type = c == '{' ? JSCAN_OBJECT : JSCAN_ARRAY;
            if (s.depth == 0)
                out->type = (uint8_t)type;
            else if (s.depth == 1 && mem)
                mem->type = (uint8_t)type;
            s.open[s.depth++] = c == '{' ? (uint16_t)s.nkeys : ARRAY_MARK;
            s.p++;
            skip_ws(&s);
            if (s.p < s.end && *s.p == (c == '{' ? '}' : ']')) {
                s.p++;
                s.depth--;
                goto after;
            }
            if (c == '{') goto key;
            goto value;
        }
        int escaped = 0;
        if (c == '"') {
            if ((rc = scan_string(&s, &escaped, &s.canon))) return rc;
            type = JSCAN_STRING;
        } else if (c == '-' || (c >= '0' && c <= '9')) {
            if ((type = scan_number(&s, &s.canon)) < 0) return type;
        } else {
            if ((type = scan_literal(&s)) < 0) return type;
        }
        /* Jansson's lexer reads one NUL byte right after a number or a literal as the end
         * of its lookahead buffer and skips it: "1\0" and [1\0,2] are accepted. */
        skip_nul = c != '"' && s.p < s.end && *s.p == 0;
        if (s.depth == 0)
            out->type = (uint8_t)type;
        else if (s.depth == 1 && mem) {
            mem->type = (uint8_t)type;
            mem->escaped = (uint8_t)escaped;
        }
    }
after: /* a value ended at s.p */
    if (s.depth == 1 && mem) {
        mem->val_len = (uint32_t)(s.p - mem->val);
        mem->canonical = (uint8_t)s.canon;
        mem = NULL;
    }
    if (skip_nul) {
        s.p++;
        skip_nul = 0;
        if (s.depth >= 2) s.canon = 0; /* the NUL is inside a member's value */
    }
    skip_ws(&s);
    if (s.depth == 0) return s.p == s.end ? 0 : JSCAN_EINVALID;
    if (s.p >= s.end) return JSCAN_EINVALID;
    {
        int in_object = s.open[s.depth - 1] != ARRAY_MARK;
        char c = *s.p++;
        if (c == ',') {
            if (in_object) goto key;
            goto value;
        }
        if (c == (in_object ? '}' : ']')) {
            if (in_object) s.nkeys = s.open[s.depth - 1];
            s.depth--;
            goto after;
        }
        return JSCAN_EINVALID;
    }
key: /* a key is expected at s.p (after whitespace), in the innermost object */
    skip_ws(&s);
    if (s.p >= s.end || *s.p != '"') return JSCAN_EINVALID;
    {
        const char *k = s.p + 1;
        int escaped = 0, canon = 1;
        if ((rc = scan_string(&s, &escaped, &canon))) return rc;
        uint32_t klen = (uint32_t)(s.p - 1 - k);
        if ((rc = add_key(&s, k, klen, escaped))) return rc;
        if (top_is_object(out, &s)) {
            if (out->n >= JSCAN_MAX_MEMBERS) return JSCAN_EUNSURE;
            mem = &out->m[out->n++];
            memset(mem, 0, sizeof(*mem));
            mem->key = k;
            mem->key_len = klen;
        }
        skip_ws(&s);
        if (s.p >= s.end || *s.p != ':') return JSCAN_EINVALID;
        s.p++;
        goto value;
    }
}

const jscan_member_t *jscan_get(const jscan_t *s, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < s->n; i++)
        if (s->m[i].key_len == n && memcmp(s->m[i].key, name, n) == 0) return &s->m[i];
    return NULL;
}

/* Writes code point u as UTF-8 at o; returns the bytes written. */
static size_t put_utf8(char *o, unsigned long u)
{
    if (u < 0x80) {
        o[0] = (char)u;
        return 1;
    }
    if (u < 0x800) {
        o[0] = (char)(0xC0 | (u >> 6));
        o[1] = (char)(0x80 | (u & 0x3F));
        return 2;
    }
    if (u < 0x10000) {
        o[0] = (char)(0xE0 | (u >> 12));
        o[1] = (char)(0x80 | ((u >> 6) & 0x3F));
        o[2] = (char)(0x80 | (u & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | (u >> 18));
    o[1] = (char)(0x80 | ((u >> 12) & 0x3F));
    o[2] = (char)(0x80 | ((u >> 6) & 0x3F));
    o[3] = (char)(0x80 | (u & 0x3F));
    return 4;
}

int jscan_string(const jscan_member_t *m, char *out, size_t cap)
{
    /* The value was checked by jscan_parse: quotes around, escapes well formed. */
    const char *p = m->val + 1, *end = m->val + m->val_len - 1;
    size_t o = 0;
    while (p < end) {
        char tmp[4];
        size_t k;
        if (*p != '\\') {
            tmp[0] = *p++;
            k = 1;
        } else {
            char e = p[1];
            p += 2;
            switch (e) {
            case 'b':
                tmp[0] = '\b';
                k = 1;
                break;
            case 'f':
                tmp[0] = '\f';
                k = 1;
                break;
            case 'n':
                tmp[0] = '\n';
                k = 1;
                break;
            case 'r':
                tmp[0] = '\r';
                k = 1;
                break;
            case 't':
                tmp[0] = '\t';
                k = 1;
                break;
            case 'u': {
                unsigned long u = (unsigned long)hex4(p);
                p += 4;
                if (u >= 0xD800 && u <= 0xDBFF) {
                    unsigned long lo = (unsigned long)hex4(p + 2);
                    p += 6;
                    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
                }
                k = put_utf8(tmp, u);
                break;
            }
            default:
                tmp[0] = e;
                k = 1;
                break; /* " \ / */
            }
        }
        if (o + k >= cap) return -1;
        memcpy(out + o, tmp, k);
        o += k;
    }
    out[o] = 0;
    return (int)o;
}

int64_t jscan_int(const jscan_member_t *m)
{
    int64_t v = 0;
    const char *p = m->val, *end = m->val + m->val_len;
    int neg = p < end && *p == '-';
    if (neg) p++;
    /* In range (jscan_parse checked): accumulate negatively so INT64_MIN fits. */
    for (; p < end; p++)
        v = v * 10 - (*p - '0');
    return neg ? v : -v;
}

size_t jscan_write_int(char *out, int64_t v)
{
    char b[JSCAN_INT_MAX], *e = b + sizeof(b), *q = e;
    uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
    do {
        *--q = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) *--q = '-';
    memcpy(out, q, (size_t)(e - q));
    return (size_t)(e - q);
}

int jscan_quote(char *out, size_t cap, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    if (cap < 3) return -1;
    out[o++] = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        char esc[6];
        size_t k = 0;
        switch (c) {
        case '"':
            esc[0] = '\\';
            esc[1] = '"';
            k = 2;
            break;
        case '\\':
            esc[0] = '\\';
            esc[1] = '\\';
            k = 2;
            break;
        case '\b':
            esc[0] = '\\';
            esc[1] = 'b';
            k = 2;
            break;
        case '\f':
            esc[0] = '\\';
            esc[1] = 'f';
            k = 2;
            break;
        case '\n':
            esc[0] = '\\';
            esc[1] = 'n';
            k = 2;
            break;
        case '\r':
            esc[0] = '\\';
            esc[1] = 'r';
            k = 2;
            break;
        case '\t':
            esc[0] = '\\';
            esc[1] = 't';
            k = 2;
            break;
        default:
            if (c < 0x20) {
                memcpy(esc, "\\u00", 4);
                esc[4] = hex[c >> 4];
                esc[5] = hex[c & 15];
                k = 6;
            }
        }
        if (o + (k ? k : 1) + 2 > cap) return -1;
        if (k) {
            memcpy(out + o, esc, k);
            o += k;
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = 0;
    return (int)o;
}

const char *jscan_text(const jscan_member_t *m, size_t *len, char **owned)
{
    *owned = NULL;
    if (m->canonical) {
        *len = m->val_len;
        return m->val;
    }
    /* Rare (a client that is not JSON.stringify, or a number such as 0.1 that Jansson
     * writes with 17 digits): what was sent before the scanner is kept byte for byte. */
    json_t *v = json_loadb(m->val, m->val_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    CH_ASSERT(v != NULL); /* jscan_parse accepted it */
    *owned = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    CH_ASSERT(*owned != NULL);
    *len = strlen(*owned);
    return *owned;
}

int jscan_json(jscan_t *s, const json_t *obj, const char *const *keys, size_t nkeys,
               char **text)
{
    json_t *sub = json_object();
    if (!keys) {
        json_object_update(sub, (json_t *)obj);
    } else {
        for (size_t i = 0; i < nkeys; i++) {
            json_t *v = json_object_get(obj, keys[i]);
            if (v) json_object_set(sub, keys[i], v);
        }
    }
    *text = json_dumps(sub, JSON_COMPACT);
    json_decref(sub);
    CH_ASSERT(*text != NULL);
    return jscan_parse(s, *text, strlen(*text), JSCAN_TRUSTED);
}
