/* test_utf8.c: incremental UTF-8 validator: Markus Kuhn's stress cases, fail-fast
 * positions, exhaustive comparison with a decoding reference, chunked feeding. */
#include "test.h"

#include <jansson.h>

#include "util/mem.h"
#include "util/utf8.h"

/* Reference validator, written the other way round from utf8.c: decode the whole code
 * point first, then range-check it. Returns the length of the valid sequence at p, or 0. */
static size_t ref_seq(const uint8_t *p, size_t n)
{
    static const uint32_t min_cp[] = {0, 0, 0x80, 0x800, 0x10000};
    uint32_t cp;
    size_t len;

    if (p[0] < 0x80) return 1;
    if ((p[0] & 0xE0) == 0xC0) {
        len = 2;
        cp = p[0] & 0x1F;
    } else if ((p[0] & 0xF0) == 0xE0) {
        len = 3;
        cp = p[0] & 0x0F;
    } else if ((p[0] & 0xF8) == 0xF0) {
        len = 4;
        cp = p[0] & 0x07;
    } else {
        return 0;
    }
    if (n < len) return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xC0) != 0x80) return 0;
        cp = cp << 6 | (p[i] & 0x3F);
    }
    if (cp < min_cp[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
    return len;
}

static int ref_valid(const uint8_t *p, size_t n)
{
    while (n) {
        size_t k = ref_seq(p, n);
        if (!k) return 0;
        p += k;
        n -= k;
    }
    return 1;
}

/* Encodes cp (no validity check, so surrogates can be produced) and returns its length. */
static size_t encode(uint32_t cp, uint8_t out[4])
{
    if (cp < 0x80) {
        out[0] = (uint8_t)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (uint8_t)(0xC0 | cp >> 6);
        out[1] = (uint8_t)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (uint8_t)(0xE0 | cp >> 12);
        out[1] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
        out[2] = (uint8_t)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (uint8_t)(0xF0 | cp >> 18);
    out[1] = (uint8_t)(0x80 | (cp >> 12 & 0x3F));
    out[2] = (uint8_t)(0x80 | (cp >> 6 & 0x3F));
    out[3] = (uint8_t)(0x80 | (cp & 0x3F));
    return 4;
}

/* Feeds p one byte at a time. Returns the index of the byte utf8_feed refused, or -1 when
 * every byte was accepted (then *complete says whether the text may end there). */
static long fail_index(const uint8_t *p, size_t n, int *complete)
{
    utf8_state_t st;
    utf8_init(&st);
    for (size_t i = 0; i < n; i++) {
        /* Each byte in its own allocation so ASan sees any read past it. */
        uint8_t *b = ch_malloc(1);
        b[0] = p[i];
        int rc = utf8_feed(&st, b, 1);
        free(b);
        if (rc < 0) return (long)i;
        if (rc != 0) return -100;
    }
    *complete = utf8_complete(&st);
    return -1;
}

enum { VALID = -1, INCOMPLETE = -2 };

/* Markus Kuhn's UTF-8 decoder stress test, plus a few more. want: VALID, INCOMPLETE (every
 * byte can still be valid but the text ends mid-sequence) or the index of the first
 * impossible byte. */
static const struct {
    const char *name;
    const char *s;
    size_t n;
    long want;
} kuhn[] = {
/* clang-format off */
#define K(name, s, want) { name, s, sizeof(s) - 1, want }
    /* clang-format on */
    K("1 kosme", "\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5", VALID),
    /* 2.1 first code point of each length */
    K("2.1.1 U+0000", "\x00", VALID),
    K("2.1.2 U+0080", "\xC2\x80", VALID),
    K("2.1.3 U+0800", "\xE0\xA0\x80", VALID),
    K("2.1.4 U+10000", "\xF0\x90\x80\x80", VALID),
    K("2.1.5 5-byte U+200000", "\xF8\x88\x80\x80\x80", 0),
    K("2.1.6 6-byte U+4000000", "\xFC\x84\x80\x80\x80\x80", 0),
    /* 2.2 last code point of each length */
    K("2.2.1 U+007F", "\x7F", VALID),
    K("2.2.2 U+07FF", "\xDF\xBF", VALID),
    K("2.2.3 U+FFFF", "\xEF\xBF\xBF", VALID),
    K("2.2.4 U+1FFFFF", "\xF7\xBF\xBF\xBF", 0),
    K("2.2.5 U+3FFFFFF", "\xFB\xBF\xBF\xBF\xBF", 0),
    K("2.2.6 U+7FFFFFFF", "\xFD\xBF\xBF\xBF\xBF\xBF", 0),
    /* 2.3 other boundaries */
    K("2.3.1 U+D7FF", "\xED\x9F\xBF", VALID),
    K("2.3.2 U+E000", "\xEE\x80\x80", VALID),
    K("2.3.3 U+FFFD", "\xEF\xBF\xBD", VALID),
    K("2.3.4 U+10FFFF", "\xF4\x8F\xBF\xBF", VALID),
    K("2.3.5 U+110000", "\xF4\x90\x80\x80", 1),
    /* 3.1 unexpected continuation bytes */
    K("3.1.1 80", "\x80", 0),
    K("3.1.2 BF", "\xBF", 0),
    K("3.1.3 80 BF", "\x80\xBF", 0),
    K("3.1.4 80 BF 80", "\x80\xBF\x80", 0),
    K("3.1 after ASCII", "abc\x80", 3),
    K("3.1 after a full sequence", "\xC2\x80\x80", 2),
    K("3.1 extra continuation of 3-byte", "\xE2\x82\xAC\xAC", 3),
    /* 3.2 lonely start characters followed by a space */
    K("3.2.1 C2 space", "\xC2\x20", 1),
    K("3.2.1 DF space", "\xDF\x20", 1),
    K("3.2.2 E1 space", "\xE1\x20", 1),
    K("3.2.2 EF space", "\xEF\x20", 1),
    K("3.2.3 F0 space", "\xF0\x20", 1),
    K("3.2.3 F4 space", "\xF4\x20", 1),
    K("3.2.3 F7 space", "\xF7\x20", 0),
    K("3.2.4 F8 space", "\xF8\x20", 0),
    K("3.2.5 FC space", "\xFC\x20", 0),
    /* 3.3 sequences with the last continuation byte missing */
    K("3.3.1 C0", "\xC0", 0),
    K("3.3.2 E0 80", "\xE0\x80", 1),
    K("3.3.3 F0 80 80", "\xF0\x80\x80", 1),
    K("3.3.6 DF", "\xDF", INCOMPLETE),
    K("3.3.7 EF BF", "\xEF\xBF", INCOMPLETE),
    K("3.3.8 F4 8F BF", "\xF4\x8F\xBF", INCOMPLETE),
    K("3.3 E2 82", "\xE2\x82", INCOMPLETE),
    K("3.3 F0 9F 98", "\xF0\x9F\x98", INCOMPLETE),
    /* 3.4 concatenated incomplete sequences */
    K("3.4 DF E2", "\xDF\xE2", 1),
    K("3.4 E2 82 F0 9F", "\xE2\x82\xF0\x9F", 2),
    /* 3.5 impossible bytes */
    K("3.5.1 FE", "\xFE", 0),
    K("3.5.2 FF", "\xFF", 0),
    K("3.5.3 FE FE FF FF", "\xFE\xFE\xFF\xFF", 0),
    K("F5", "\xF5\x80\x80\x80", 0),
    /* 4.1 overlong '/' */
    K("4.1.1 C0 AF", "\xC0\xAF", 0),
    K("4.1.2 E0 80 AF", "\xE0\x80\xAF", 1),
    K("4.1.3 F0 80 80 AF", "\xF0\x80\x80\xAF", 1),
    K("4.1.4 F8 80 80 80 AF", "\xF8\x80\x80\x80\xAF", 0),
    K("4.1.5 FC 80 80 80 80 AF", "\xFC\x80\x80\x80\x80\xAF", 0),
    /* 4.2 maximum overlongs */
    K("4.2.1 C1 BF", "\xC1\xBF", 0),
    K("4.2.2 E0 9F BF", "\xE0\x9F\xBF", 1),
    K("4.2.3 F0 8F BF BF", "\xF0\x8F\xBF\xBF", 1),
    K("4.2.4 F8 87 BF BF BF", "\xF8\x87\xBF\xBF\xBF", 0),
    K("4.2.5 FC 83 BF BF BF BF", "\xFC\x83\xBF\xBF\xBF\xBF", 0),
    /* 4.3 overlong NUL */
    K("4.3.1 C0 80", "\xC0\x80", 0),
    K("4.3.2 E0 80 80", "\xE0\x80\x80", 1),
    K("4.3.3 F0 80 80 80", "\xF0\x80\x80\x80", 1),
    /* 5.1 single surrogates */
    K("5.1.1 U+D800", "\xED\xA0\x80", 1),
    K("5.1.2 U+DB7F", "\xED\xAD\xBF", 1),
    K("5.1.3 U+DB80", "\xED\xAE\x80", 1),
    K("5.1.4 U+DBFF", "\xED\xAF\xBF", 1),
    K("5.1.5 U+DC00", "\xED\xB0\x80", 1),
    K("5.1.6 U+DF80", "\xED\xBE\x80", 1),
    K("5.1.7 U+DFFF", "\xED\xBF\xBF", 1),
    /* 5.2 paired surrogates */
    K("5.2.1 U+D800 U+DC00", "\xED\xA0\x80\xED\xB0\x80", 1),
    K("5.2.8 U+DBFF U+DFFF", "\xED\xAF\xBF\xED\xBF\xBF", 1),
    K("5.2 after valid text", "ok\xED\xA0\x80", 3),
    /* 5.3 noncharacters are valid UTF-8 */
    K("5.3.1 U+FFFE", "\xEF\xBF\xBE", VALID),
    K("5.3.2 U+FFFF", "\xEF\xBF\xBF", VALID),
    K("5.3 U+FDD0", "\xEF\xB7\x90", VALID),
    K("5.3 U+10FFFE", "\xF4\x8F\xBF\xBE", VALID),
    /* mixed */
    K("euro", "\xE2\x82\xAC", VALID),
    K("emoji", "\xF0\x9F\x98\x80", VALID),
    K("CJK", "\xE4\xB8\xAD\xE6\x96\x87", VALID),
    K("ascii then bad", "0123456789abcdef0123456789\xC1", 26),
#undef K
};

static void test_init_and_zero_state(void)
{
    utf8_state_t st;
    utf8_state_t zero = {0};
    static const uint8_t e_acute[] = {0xC3, 0xA9};

    memset(&st, 0x5A, sizeof(st));
    utf8_init(&st);
    ASSERT_EQ(utf8_complete(&st), 1);
    ASSERT_EQ(utf8_complete(&zero), 1);
    /* A zeroed state behaves exactly like an initialised one. */
    ASSERT_EQ(utf8_feed(&zero, e_acute, 1), 0);
    ASSERT_EQ(utf8_complete(&zero), 0);
    ASSERT_EQ(utf8_feed(&zero, e_acute + 1, 1), 0);
    ASSERT_EQ(utf8_complete(&zero), 1);
    ASSERT_EQ(utf8_feed(&st, (const uint8_t *)"", 0), 0);
    ASSERT_EQ(utf8_complete(&st), 1);
    ASSERT_EQ(utf8_valid((const uint8_t *)"", 0), 1);
}

static void test_kuhn_cases(void)
{
    for (size_t i = 0; i < CH_ARRAY_LEN(kuhn); i++) {
        const uint8_t *p = (const uint8_t *)kuhn[i].s;
        size_t n = kuhn[i].n;
        int complete = -1;
        long got = fail_index(p, n, &complete);
        long want = kuhn[i].want;
        if (got == -1) got = complete ? VALID : INCOMPLETE;
        if (got != want) fprintf(stderr, "  %s\n", kuhn[i].name);
        ASSERT_EQ(got, want);
        /* Whole-buffer entry points agree with byte-by-byte feeding and the reference. */
        ASSERT_EQ(utf8_valid(p, n), want == VALID);
        ASSERT_EQ(ref_valid(p, n), want == VALID);
        utf8_state_t st;
        utf8_init(&st);
        ASSERT_EQ(utf8_feed(&st, p, n), want >= 0 ? -1 : 0);
    }
}

static void test_single_bytes(void)
{
    for (int b = 0; b < 256; b++) {
        uint8_t in[2] = {(uint8_t)b, ' '};
        int complete = 0;
        long got = fail_index(in, 2, &complete);
        if (b < 0x80)
            ASSERT_EQ(got, -1);
        else if (b < 0xC2 || b > 0xF4)
            ASSERT_EQ(got, 0); /* continuation, C0/C1 overlong, F5..FF */
        else
            ASSERT_EQ(got, 1); /* a lead byte: the space is where it breaks */
        /* Alone, a lead byte is an incomplete but acceptable prefix. */
        utf8_state_t st;
        utf8_init(&st);
        int rc = utf8_feed(&st, in, 1);
        ASSERT_EQ(rc, b < 0x80 || (b >= 0xC2 && b <= 0xF4) ? 0 : -1);
        if (rc == 0) ASSERT_EQ(utf8_complete(&st), b < 0x80);
    }
}

/* Every code point encoded: valid except the surrogates, which fail at their 2nd byte. */
static void test_every_code_point(void)
{
    long bad = 0;
    for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
        uint8_t b[4];
        size_t n = encode(cp, b);
        int surrogate = cp >= 0xD800 && cp <= 0xDFFF;
        if (utf8_valid(b, n) != !surrogate) bad++;
        if (surrogate) {
            utf8_state_t st;
            utf8_init(&st);
            if (utf8_feed(&st, b, 1) != 0 || utf8_feed(&st, b + 1, 1) != -1) bad++;
        }
    }
    ASSERT_EQ(bad, 0);
    /* One past the top, encoded in 4 bytes. */
    uint8_t top[4];
    encode(0x110000, top);
    ASSERT_EQ(utf8_valid(top, 4), 0);
}

/* All 1-, 2- and 3-byte strings, compared with the reference; then every 4-byte string
 * whose first two bytes are anything and last two are edge bytes. */
static void test_exhaustive_against_reference(void)
{
    static const uint8_t edge[] = {0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xFF};
    uint8_t b[4];
    long bad = 0;

    for (uint32_t v = 0; v < (1u << 24); v++) {
        b[0] = (uint8_t)(v >> 16);
        b[1] = (uint8_t)(v >> 8);
        b[2] = (uint8_t)v;
        if (v < 256 && utf8_valid(b + 2, 1) != ref_valid(b + 2, 1)) bad++;
        if (v < 65536 && utf8_valid(b + 1, 2) != ref_valid(b + 1, 2)) bad++;
        if (utf8_valid(b, 3) != ref_valid(b, 3)) bad++;
    }
    ASSERT_EQ(bad, 0);
    for (uint32_t v = 0; v < 65536; v++) {
        b[0] = (uint8_t)(v >> 8);
        b[1] = (uint8_t)v;
        for (size_t i = 0; i < CH_ARRAY_LEN(edge); i++) {
            for (size_t j = 0; j < CH_ARRAY_LEN(edge); j++) {
                b[2] = edge[i];
                b[3] = edge[j];
                if (utf8_valid(b, 4) != ref_valid(b, 4)) bad++;
            }
        }
    }
    ASSERT_EQ(bad, 0);
}

/* A valid mixed text split in three at every pair of positions: every feed succeeds and
 * utf8_complete is true exactly at code point boundaries. */
static void test_incremental_every_split(void)
{
    static const char text[] = "a\xCE\xBA\xE1\xBD\xB9 \xE2\x82\xAC\xF0\x9F\x98\x80z"
                               "\xE4\xB8\xAD\xF4\x8F\xBF\xBF.";
    const uint8_t *p = (const uint8_t *)text;
    size_t n = sizeof(text) - 1;

    for (size_t i = 0; i <= n; i++) {
        for (size_t j = i; j <= n; j++) {
            utf8_state_t st;
            utf8_init(&st);
            ASSERT_EQ(utf8_feed(&st, p, i), 0);
            ASSERT_EQ(utf8_complete(&st), ref_valid(p, i));
            ASSERT_EQ(utf8_feed(&st, p + i, j - i), 0);
            ASSERT_EQ(utf8_complete(&st), ref_valid(p, j));
            ASSERT_EQ(utf8_feed(&st, p + j, n - j), 0);
            ASSERT_EQ(utf8_complete(&st), 1);
        }
    }
}

/* Invalid texts split in two at every position: the feed holding the first impossible
 * byte is the one that fails, never an earlier one. */
static void test_invalid_every_split(void)
{
    for (size_t k = 0; k < CH_ARRAY_LEN(kuhn); k++) {
        if (kuhn[k].want < 0) continue;
        const uint8_t *p = (const uint8_t *)kuhn[k].s;
        size_t n = kuhn[k].n, at = (size_t)kuhn[k].want;
        for (size_t cut = 0; cut <= n; cut++) {
            utf8_state_t st;
            utf8_init(&st);
            int rc1 = utf8_feed(&st, p, cut);
            ASSERT_EQ(rc1, at < cut ? -1 : 0);
            if (rc1 == 0) ASSERT_EQ(utf8_feed(&st, p + cut, n - cut), -1);
        }
    }
}

/* The word-at-a-time ASCII path: a bad or multi-byte sequence at every offset and
 * alignment inside long ASCII runs is still seen. */
static void test_ascii_fast_path(void)
{
    enum { N = 100 };
    uint8_t *buf = ch_malloc(N + 8);
    long bad = 0;

    for (size_t start = 0; start < 8; start++) {
        uint8_t *p = buf + start;
        for (size_t len = 0; len <= N; len++) {
            memset(p, 'x', len);
            if (!utf8_valid(p, len)) bad++;
            for (size_t k = 0; k < len; k++) {
                p[k] = 0x80;
                if (utf8_valid(p, len)) bad++;
                p[k] = 0xFF;
                if (utf8_valid(p, len)) bad++;
                p[k] = 'x';
            }
            for (size_t k = 0; k + 1 < len; k++) {
                p[k] = 0xC3;
                p[k + 1] = 0xA9;
                if (!utf8_valid(p, len)) bad++;
                p[k + 1] = 'x'; /* lead without its continuation */
                if (utf8_valid(p, len)) bad++;
                p[k] = 'x';
            }
            if (len) {
                p[len - 1] = 0xE2; /* truncated at the very end */
                if (utf8_valid(p, len)) bad++;
            }
        }
    }
    free(buf);
    ASSERT_EQ(bad, 0);
}

/* Random strings built from valid and invalid pieces, fed in random chunks, agree with
 * the reference. */
static void test_random_against_reference(void)
{
    /* clang-format off */
    static const char *const pieces[] = {
        "a", "Z", " ", "\x00", "\x7F", "\xC2\x80", "\xDF\xBF", "\xE0\xA0\x80", "\xED\x9F\xBF",
        "\xEF\xBF\xBF", "\xF0\x90\x80\x80", "\xF4\x8F\xBF\xBF", "\x80", "\xBF", "\xC0",
        "\xC1", "\xE0\x80", "\xED\xA0", "\xF0\x8F", "\xF4\x90", "\xF5", "\xFF", "\xE2\x82",
        "\xF0\x9F\x98",
    };
    /* clang-format on */
    uint32_t seed = 12345;
    uint8_t buf[64];
    long bad = 0;

    for (int iter = 0; iter < 200000; iter++) {
        size_t n = 0;
        seed = seed * 1103515245u + 12345u;
        size_t count = (seed >> 16) % 12;
        for (size_t c = 0; c < count; c++) {
            seed = seed * 1103515245u + 12345u;
            size_t which = (seed >> 16) % CH_ARRAY_LEN(pieces);
            /* Mostly valid pieces, so long valid strings are common too. */
            if ((seed >> 8) % 4 != 0) which %= 12;
            const char *s = pieces[which];
            size_t l = which == 3 ? 1 : strlen(s);
            memcpy(buf + n, s, l);
            n += l;
        }
        int want = ref_valid(buf, n);
        if (utf8_valid(buf, n) != want) bad++;
        utf8_state_t st;
        utf8_init(&st);
        int rc = 0;
        for (size_t off = 0; off < n && rc == 0;) {
            seed = seed * 1103515245u + 12345u;
            size_t k = 1 + (seed >> 16) % 5;
            if (k > n - off) k = n - off;
            rc = utf8_feed(&st, buf + off, k);
            off += k;
        }
        if ((rc == 0 && utf8_complete(&st)) != want) bad++;
    }
    ASSERT_EQ(bad, 0);
}

static void test_scrub(void)
{
    /* "é" cut after its first byte, then ASCII; a stray continuation byte; a valid emoji. */
    char a[] = "ab\xc3\"x\x80y\xf0\x9f\x98\x80z\xe2\x82";
    utf8_scrub(a, strlen(a));
    ASSERT_STREQ(a, "ab?\"x?y\xf0\x9f\x98\x80z??");
    ASSERT_TRUE(utf8_valid((const uint8_t *)a, strlen(a)));
    char b[] = "plain \xc3\xa9t\xc3\xa9";
    utf8_scrub(b, strlen(b));
    ASSERT_STREQ(b, "plain \xc3\xa9t\xc3\xa9");
    char c[] = "\xed\xa0\x80"; /* a surrogate: three bad bytes */
    utf8_scrub(c, strlen(c));
    ASSERT_STREQ(c, "???");
}

/* utf8_json_len agrees with what Jansson writes for the same string (minus the quotes). */
static void test_json_len(void)
{
    char all[128];
    for (int i = 0; i < 128; i++)
        all[i] = (char)(i + 1 == 128 ? 0x7f : i + 1);
    const char *samples[] = {"",
                             "plain",
                             "\"q\"",
                             "back\\slash",
                             "\x01\x1f\n\t",
                             "\xc3\xa9t\xc3\xa9 \xf0\x9f\x98\x80",
                             "a/b\x7f",
                             all};
    for (size_t i = 0; i < CH_ARRAY_LEN(samples); i++) {
        size_t n = i + 1 == CH_ARRAY_LEN(samples) ? sizeof(all) : strlen(samples[i]);
        json_t *j = json_stringn(samples[i], n);
        char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
        ASSERT_EQ(utf8_json_len(samples[i], n), strlen(text) - 2);
        free(text);
        json_decref(j);
    }
    /* The attack of issue 14: U+0001 takes 6 bytes once encoded. */
    char ones[100];
    memset(ones, 1, sizeof(ones));
    ASSERT_EQ(utf8_json_len(ones, sizeof(ones)), 600);
}

int main(void)
{
    RUN(test_init_and_zero_state);
    RUN(test_kuhn_cases);
    RUN(test_single_bytes);
    RUN(test_every_code_point);
    RUN(test_exhaustive_against_reference);
    RUN(test_incremental_every_split);
    RUN(test_invalid_every_split);
    RUN(test_ascii_fast_path);
    RUN(test_random_against_reference);
    RUN(test_scrub);
    RUN(test_json_len);
    TEST_MAIN_END();
}
