/* test_user_valid.c: table-driven e-mail, name, color and password rules; palette. */
#include "test.h"

#include <math.h>

#include "auth/user_valid.h"

typedef struct {
    const char *s;
    int ok;
} case_t;

#define S(lit) lit, sizeof(lit) - 1

static void test_emails(void)
{
    static const case_t cases[] = {
        {"a@b.co", 1},
        {"alice@example.com", 1},
        {"Alice.Smith+tag@Mail.Example.ORG", 1},
        {"o'brien@example.ie", 1},
        {"x_y-z!#$%&*=?^`{|}~/@a-b.example", 1},
        {"user@sub.domain-1.example.travel", 1},
        {"u@xn--bcher-kva.example", 1},
        {"1@2.io", 1},
        {"", 0},
        {"a@", 0},
        {"@b.co", 0},
        {"ab.co", 0},
        {"a@@b.co", 0},
        {"a@b@c.co", 0},
        {"a b@c.co", 0},
        {"\"a\"@c.co", 0},
        {"<a>@c.co", 0},
        {"a,b@c.co", 0},
        {"a;b@c.co", 0},
        {"a\\b@c.co", 0},
        {"a\t@c.co", 0},
        {"a@localhost", 0},
        {"a@b.c", 0},
        {"a@b.c0", 0},
        {"a@b.123", 0},
        {"a@-b.co", 0},
        {"a@b-.co", 0},
        {"a@b..co", 0},
        {"a@.b.co", 0},
        {"a@b.co.", 0},
        {"a@b_c.co", 0},
        {"a@[127.0.0.1]", 0},
        {"a@b.co ", 0},
        {" a@b.co", 0},
        {"a@bücher.de", 0},
        {"ü@b.de", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = user_email_valid(cases[i].s, strlen(cases[i].s));
        if (got != cases[i].ok) TEST_FAIL_("email \"%s\": got %d", cases[i].s, got);
    }
    /* embedded NUL */
    ASSERT_EQ(user_email_valid(S("a\0b@c.co")), 0);
}

static void test_email_lengths(void)
{
    char buf[300];
    /* local part: 64 ok, 65 not */
    memset(buf, 'l', 65);
    strcpy(buf + 64, "@ex.com");
    ASSERT_EQ(user_email_valid(buf, strlen(buf)), 1);
    memset(buf, 'l', 65);
    strcpy(buf + 65, "@ex.com");
    ASSERT_EQ(user_email_valid(buf, strlen(buf)), 0);
    /* label: 63 ok, 64 not */
    strcpy(buf, "a@");
    memset(buf + 2, 'd', 63);
    strcpy(buf + 65, ".com");
    ASSERT_EQ(user_email_valid(buf, strlen(buf)), 1);
    strcpy(buf, "a@");
    memset(buf + 2, 'd', 64);
    strcpy(buf + 66, ".com");
    ASSERT_EQ(user_email_valid(buf, strlen(buf)), 0);
    /* total: 254 ok, 255 not (labels of 49 + '.') */
    size_t n = 0;
    buf[n++] = 'a';
    buf[n++] = '@';
    while (n < 254 - 4) {
        size_t k = 254 - 4 - n < 49 ? 254 - 4 - n : 49;
        memset(buf + n, 'x', k);
        n += k;
        if (n < 254 - 4) buf[n++] = '.';
    }
    strcpy(buf + n, ".com");
    ASSERT_EQ(strlen(buf), 254);
    ASSERT_EQ(user_email_valid(buf, 254), 1);
    buf[0] = 'a';
    memmove(buf + 1, buf, 255);
    ASSERT_EQ(strlen(buf), 255);
    ASSERT_EQ(user_email_valid(buf, 255), 0);
}

static void test_email_normalize(void)
{
    char out[64];
    user_email_normalize(S("Alice.Smith@Example.COM"), out);
    ASSERT_STREQ(out, "alice.smith@example.com");
    user_email_normalize(S("x@y.z"), out);
    ASSERT_STREQ(out, "x@y.z");
}

static void test_names(void)
{
    static const case_t cases[] = {
        {"a", 1},
        {"Alice", 1},
        {"Zoë Brontë", 1},
        {"李小龍", 1},
        {"🎉", 1},
        {"🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉", 1}, /* 32 emoji */
        {"abcdefghijklmnopqrstuvwxyzABCDEF", 1},          /* 32 */
        {"abcdefghijklmnopqrstuvwxyzABCDEFG", 0},         /* 33 */
        {"ééééééééééééééééééééééééééééééééé", 0},          /* 33 two-byte */
        {"a b", 1},
        {"", 0},
        {" ", 0},
        {"   ", 0},
        {"\xc2\xa0", 0},             /* NBSP only */
        {"\xe3\x80\x80\xe2\x80\x8b", 0}, /* ideographic space + ZWSP */
        {"a\tb", 0},
        {"a\nb", 0},
        {"\x1b[31m", 0},
        {"a\x7f", 0},
        {"a\xc2\x85", 0},            /* U+0085 NEL (C1) */
        {"a\xc2\x9f", 0},            /* U+009F (C1) */
        {"a\xc2\xa0z", 1},           /* NBSP inside is fine */
        {"\xff", 0},
        {"a\xc3", 0},                /* truncated */
        {"\xc0\xaf", 0},             /* overlong */
        {"\xed\xa0\x80", 0},         /* surrogate */
        {"\xf4\x90\x80\x80", 0},     /* > U+10FFFF */
        /* bidirectional formatting characters and line separators */
        {"Bob\u202Eexe.txt", 0}, /* RLO */
        {"\u202DAda", 0},        /* LRO */
        {"a\u202Ab", 0},         /* LRE */
        {"a\u202Cb", 0},         /* PDF */
        {"a\u200E", 0},          /* LRM */
        {"a\u200F", 0},          /* RLM */
        {"a\u061C", 0},          /* ALM */
        {"a\u2066b", 0},         /* LRI */
        {"a\u2069b", 0},         /* PDI */
        {"a\u2028b", 0},         /* LINE SEPARATOR */
        {"a\u2029b", 0},         /* PARAGRAPH SEPARATOR */
        {"\u05E9\u05DC\u05D5\u05DD", 1}, /* Hebrew needs no controls */
        {"a\u202Fb", 1},         /* NNBSP is a space, not a control */
        {"a\u2065b", 1},         /* unassigned, between the ranges */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = user_name_valid(cases[i].s, strlen(cases[i].s));
        if (got != cases[i].ok) TEST_FAIL_("name #%zu \"%s\": got %d", i, cases[i].s, got);
    }
    ASSERT_EQ(user_name_valid(S("a\0b")), 0);
}

static void test_colors(void)
{
    static const case_t cases[] = {
        {"#000000", 1}, {"#ffffff", 1}, {"#A1b2C3", 1}, {"#1e1E1e", 1},
        {"", 0}, {"#", 0}, {"#fff", 0}, {"#fffffff", 0}, {"ffffff", 0}, {"#ggg000", 0},
        {"#12345 ", 0}, {" #12345", 0}, {"#-12345", 0}, {"#12345\n", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int got = user_color_valid(cases[i].s, strlen(cases[i].s));
        if (got != cases[i].ok) TEST_FAIL_("color \"%s\": got %d", cases[i].s, got);
    }
    char out[8];
    user_color_normalize(S("#A1b2C3"), out);
    ASSERT_STREQ(out, "#a1b2c3");
}

static double lin(int c)
{
    double v = c / 255.0;
    return v <= 0.04045 ? v / 12.92 : pow((v + 0.055) / 1.055, 2.4);
}

static double luminance(const char *hex)
{
    unsigned r, g, b;
    sscanf(hex, "#%2x%2x%2x", &r, &g, &b);
    return 0.2126 * lin((int)r) + 0.7152 * lin((int)g) + 0.0722 * lin((int)b);
}

/* HSL saturation of #rrggbb: 0 for a grey, 1 for a pure hue. */
static double saturation(const char *hex)
{
    unsigned r, g, b;
    sscanf(hex, "#%2x%2x%2x", &r, &g, &b);
    double mx = fmax(r, fmax(g, b)) / 255.0, mn = fmin(r, fmin(g, b)) / 255.0;
    double l = (mx + mn) / 2;
    if (mx == mn) return 0;
    return l > 0.5 ? (mx - mn) / (2 - mx - mn) : (mx - mn) / (mx + mn);
}

static void test_palette(void)
{
    size_t n = user_color_palette_size();
    ASSERT_EQ(n, 16);
    double dark = luminance("#1e1e1e");
    for (size_t i = 0; i < n; i++) {
        const char *c = user_color_palette_at(i);
        ASSERT_TRUE(user_color_valid(c, strlen(c)));
        char norm[8];
        user_color_normalize(c, 7, norm);
        ASSERT_STREQ(norm, c);
        double l = luminance(c);
        /* the documented readability claim: WCAG >= 3:1 on white and on #1e1e1e */
        ASSERT_TRUE(1.05 / (l + 0.05) >= 3.0);
        ASSERT_TRUE((l + 0.05) / (dark + 0.05) >= 3.0);
        /* vivid: no grey or brown that reads as "disabled" next to the others */
        ASSERT_TRUE(saturation(c) >= 0.5);
        for (size_t k = 0; k < i; k++) ASSERT_TRUE(strcmp(c, user_color_palette_at(k)) != 0);
    }
}

static void test_pick(void)
{
    const char *id = "9b2e1c0a-4f7d-4e8b-a1c2-3d4e5f607182";
    const char *a = user_color_pick((const unsigned char *)id, strlen(id));
    const char *b = user_color_pick((const unsigned char *)id, strlen(id));
    ASSERT_STREQ(a, b);
    /* fixed expectations so the mapping cannot change silently between releases
     * (FNV-1a 32 of the bytes, modulo 16) */
    ASSERT_STREQ(user_color_pick((const unsigned char *)"", 0), "#2e9e57"); /* 0x811c9dc5 % 16 = 5 */
    ASSERT_STREQ(user_color_pick((const unsigned char *)"a", 1), "#c94fb0"); /* 0xe40c292c % 16 = 12 */
    /* spreads over the palette */
    int hit[16] = {0}, distinct = 0;
    char key[16];
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "user%d", i);
        const char *c = user_color_pick((const unsigned char *)key, strlen(key));
        for (size_t k = 0; k < 16; k++)
            if (strcmp(c, user_color_palette_at(k)) == 0 && !hit[k]++) distinct++;
    }
    ASSERT_EQ(distinct, 16);
}

static void test_password_len(void)
{
    ASSERT_EQ(user_password_valid(0), 0);
    ASSERT_EQ(user_password_valid(7), 0);
    ASSERT_EQ(user_password_valid(8), 1);
    ASSERT_EQ(user_password_valid(1024), 1);
    ASSERT_EQ(user_password_valid(1025), 0);
    ASSERT_EQ(user_password_valid((size_t)-1), 0);
}

int main(void)
{
    RUN(test_emails);
    RUN(test_email_lengths);
    RUN(test_email_normalize);
    RUN(test_names);
    RUN(test_colors);
    RUN(test_palette);
    RUN(test_pick);
    RUN(test_password_len);
    TEST_MAIN_END();
}
