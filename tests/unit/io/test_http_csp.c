/* test_http_csp.c: unit tests for the Content-Security-Policy of HTML pages. */
#include "io/http_csp.h"
#include "test.h"

#include <sodium.h>

#define TAIL                                                                                   \
    "; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'"       \
    "; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

static int policy(const char *html, char *out, size_t cap)
{
    return http_csp_policy(html, strlen(html), out, cap);
}

/* The CSP source for text: 'sha256-<base64 of its SHA-256>'. */
static void source(const char *text, char *out, size_t cap)
{
    unsigned char d[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(d, (const unsigned char *)text, strlen(text));
    char b64[64];
    sodium_bin2base64(b64, sizeof(b64), d, sizeof(d), sodium_base64_VARIANT_ORIGINAL);
    snprintf(out, cap, "'sha256-%s'", b64);
}

static void test_no_inline_scripts(void)
{
    char out[HTTP_CSP_MAX];
    ASSERT_EQ(policy("<!doctype html><script src=\"app.js\"></script><p>hi", out, sizeof(out)),
              0);
    ASSERT_STREQ(out, "default-src 'self'; script-src 'self'" TAIL);
    ASSERT_EQ(policy("", out, sizeof(out)), 0);
    ASSERT_STREQ(out, "default-src 'self'; script-src 'self'" TAIL);
}

static void test_inline_scripts_hashed(void)
{
    const char *map = "\n{\"imports\": {\"a\": \"./a.js\"}}\n";
    const char *two = "console.log('<b>')";
    char html[512], out[HTTP_CSP_MAX], s1[80], s2[80], want[HTTP_CSP_MAX];
    snprintf(html, sizeof(html),
             "<head><SCRIPT type=\"importmap\">%s</script>"
             "<script type=\"module\" src='app.js'></script>"
             "<script data-src=\"x\" title='a > b'>%s</ScRiPt>"
             "<scripts>not a script</scripts><script",
             map, two);
    source(map, s1, sizeof(s1));
    source(two, s2, sizeof(s2));
    ASSERT_EQ(policy(html, out, sizeof(out)), 2);
    snprintf(want, sizeof(want), "default-src 'self'; script-src 'self' %s %s" TAIL, s1, s2);
    ASSERT_STREQ(out, want);
}

static void test_bounds(void)
{
    /* More inline scripts than fit: the policy is still complete, the rest left out. */
    char html[4096] = "", out[HTTP_CSP_MAX];
    for (int i = 0; i < 40; i++) {
        char one[64];
        snprintf(one, sizeof(one), "<script>f(%d)</script>", i);
        strcat(html, one);
    }
    ASSERT_EQ(policy(html, out, sizeof(out)), 16);
    ASSERT_TRUE(strlen(out) < sizeof(out));
    char small[sizeof("default-src 'self'; script-src 'self'" TAIL) + 10];
    ASSERT_EQ(policy(html, small, sizeof(small)), 0);
    ASSERT_STREQ(small, "default-src 'self'; script-src 'self'" TAIL);
    ASSERT_EQ(policy(html, out, 20), -1);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    RUN(test_no_inline_scripts);
    RUN(test_inline_scripts_hashed);
    RUN(test_bounds);
    TEST_MAIN_END();
}
