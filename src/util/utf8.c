/* utf8.c: incremental UTF-8 validation (RFC 3629) that resumes across chunk boundaries. */
#include "util/utf8.h"

#include <string.h>

/* Every continuation byte is 10xxxxxx; a lead byte narrows the range of the first
 * continuation only, which is how overlongs, surrogates and > U+10FFFF are refused at
 * the byte that makes them impossible instead of after decoding the whole sequence. */
#define CONT_LO 0x80
#define CONT_HI 0xBF

/* Bit 7 of each byte in a word: any set bit means a non-ASCII byte in the word. */
#define HIGH_BITS 0x8080808080808080ULL

void utf8_init(utf8_state_t *st)
{
    st->need = 0;
    st->lo = CONT_LO;
    st->hi = CONT_HI;
}

/* Returns the index of the first non-ASCII byte in p[i..n), or n. Text on the wire is
 * mostly ASCII (JSON keys, English), so skip it a word at a time; memcpy keeps the loads
 * legal at any alignment and compiles to a plain load. */
static size_t skip_ascii(const uint8_t *p, size_t i, size_t n)
{
    while (n - i >= 16) {
        uint64_t a, b;
        memcpy(&a, p + i, 8);
        memcpy(&b, p + i + 8, 8);
        if ((a | b) & HIGH_BITS) break;
        i += 16;
    }
    while (n - i >= 8) {
        uint64_t a;
        memcpy(&a, p + i, 8);
        if (a & HIGH_BITS) break;
        i += 8;
    }
    while (i < n && p[i] < 0x80)
        i++;
    return i;
}

int utf8_feed(utf8_state_t *st, const uint8_t *p, size_t n)
{
    /* Work on locals: the state is only written back once, at the end of the chunk. */
    unsigned need = st->need, lo = st->lo, hi = st->hi;
    size_t i = 0;

    while (i < n) {
        if (need) {
            uint8_t b = p[i++];
            if (b < lo || b > hi) return -1;
            need--;
            lo = CONT_LO;
            hi = CONT_HI;
            continue;
        }
        i = skip_ascii(p, i, n);
        if (i == n) break;
        uint8_t b = p[i++];
        /* Set both bounds here: a zero-initialised state has lo == hi == 0. */
        lo = CONT_LO;
        hi = CONT_HI;
        if (b < 0xC2) {
            /* 80..BF: continuation with no lead; C0, C1: can only encode < U+0080. */
            return -1;
        } else if (b < 0xE0) {
            need = 1;
        } else if (b < 0xF0) {
            need = 2;
            if (b == 0xE0) lo = 0xA0; /* E0 80..9F would be overlong (< U+0800) */
            if (b == 0xED) hi = 0x9F; /* ED A0..BF would be U+D800..U+DFFF */
        } else if (b < 0xF5) {
            need = 3;
            if (b == 0xF0) lo = 0x90; /* F0 80..8F would be overlong (< U+10000) */
            if (b == 0xF4) hi = 0x8F; /* F4 90..BF would be > U+10FFFF */
        } else {
            /* F5..F7 start code points > U+10FFFF; F8..FF are not UTF-8 at all. */
            return -1;
        }
    }
    st->need = (uint8_t)need;
    st->lo = (uint8_t)lo;
    st->hi = (uint8_t)hi;
    return 0;
}

int utf8_complete(const utf8_state_t *st)
{
    return st->need == 0;
}

int utf8_valid(const uint8_t *p, size_t n)
{
    utf8_state_t st;
    utf8_init(&st);
    return utf8_feed(&st, p, n) == 0 && utf8_complete(&st);
}

void utf8_scrub(char *s, size_t n)
{
    uint8_t *p = (uint8_t *)s;
    size_t i = 0;
    while (i < n) {
        size_t len = p[i] < 0x80 ? 1 : p[i] >= 0xF0 ? 4 : p[i] >= 0xE0 ? 3 : 2;
        if (len <= n - i && utf8_valid(p + i, len)) {
            i += len;
        } else {
            p[i++] = '?';
        }
    }
}

size_t utf8_json_len(const char *s, size_t n)
{
    size_t len = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\' || ch == '\b' || ch == '\f' || ch == '\n' || ch == '\r' ||
            ch == '\t')
            len += 2;
        else
            len += ch < 0x20 ? 6 : 1;
    }
    return len;
}
