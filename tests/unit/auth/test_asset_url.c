/* test_asset_url.c: signed asset URLs: a signed query parses and checks; every field
 * changed (id, content, expiry, signature, key) is refused; expiry is checked after the
 * signature; malformed queries are refused. */
#include "test.h"

#include <sodium.h>

#include "auth/asset_url.h"

static const char sha_a[] = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
static const char sha_b[] = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
static const char id[] = "0123456789abcdef0123456789abcdef";

static void key_of(uint8_t key[ASSET_URL_KEY_LEN], uint8_t b)
{
    memset(key, b, ASSET_URL_KEY_LEN);
}

static int check_query(const uint8_t *key, const char *q, const char *sha, int64_t now)
{
    asset_url_t u;
    if (asset_url_parse(q, strlen(q), &u) != ASSET_URL_OK) return 99;
    return asset_url_check(key, &u, sha, now);
}

static void test_sign_and_check(void)
{
    uint8_t key[ASSET_URL_KEY_LEN], other[ASSET_URL_KEY_LEN];
    key_of(key, 1);
    key_of(other, 2);
    char q[256];
    ASSERT_EQ(asset_url_sign(key, id, sha_a, 1000, q, sizeof(q)), 0);
    ASSERT_TRUE(strncmp(q, "asset=0123456789abcdef0123456789abcdef&exp=1000&sig=", 52) == 0);
    ASSERT_EQ(strlen(q), 52 + ASSET_URL_SIG_HEX);
    ASSERT_TRUE(asset_url_present(q, strlen(q)));
    ASSERT_EQ(check_query(key, q, sha_a, 999), ASSET_URL_OK);
    ASSERT_EQ(check_query(key, q, sha_a, 1000), ASSET_URL_OK); /* the last second counts */
    ASSERT_EQ(check_query(key, q, sha_a, 1001), ASSET_URL_EXPIRED);
    ASSERT_EQ(check_query(key, q, sha_b, 999), ASSET_URL_BAD);   /* another content */
    ASSERT_EQ(check_query(other, q, sha_a, 999), ASSET_URL_BAD); /* another key */
    /* Same key and content, a later expiry written in: tampered. */
    char t[256];
    snprintf(t, sizeof(t), "%s", q);
    memcpy(strstr(t, "exp=") + 4, "9000", 4);
    ASSERT_EQ(check_query(key, t, sha_a, 999), ASSET_URL_BAD);
    /* Another asset id, and a flipped signature digit. */
    snprintf(t, sizeof(t), "%s", q);
    t[6] = '1';
    ASSERT_EQ(check_query(key, t, sha_a, 999), ASSET_URL_BAD);
    snprintf(t, sizeof(t), "%s", q);
    t[strlen(t) - 1] = t[strlen(t) - 1] == '0' ? '1' : '0';
    ASSERT_EQ(check_query(key, t, sha_a, 999), ASSET_URL_BAD);
    /* An expired and tampered one is tampered (no oracle for the expiry). */
    ASSERT_EQ(check_query(key, t, sha_a, 5000), ASSET_URL_BAD);
    /* Other parameters around it are ignored, order does not matter. */
    const char *sig = strstr(q, "sig=") + 4;
    snprintf(t, sizeof(t), "x=1&sig=%s&exp=1000&asset=%s&y", sig, id);
    ASSERT_EQ(check_query(key, t, sha_a, 999), ASSET_URL_OK);
    /* Ids the signer refuses. */
    ASSERT_EQ(asset_url_sign(key, "", sha_a, 1, q, sizeof(q)), -1);
    ASSERT_EQ(asset_url_sign(key, "a&b", sha_a, 1, q, sizeof(q)), -1);
    ASSERT_EQ(asset_url_sign(key, id, sha_a, 1, q, 20), -1); /* too small */
}

static void test_parse_refusals(void)
{
    asset_url_t u;
    char sig[ASSET_URL_SIG_HEX + 1];
    memset(sig, 'a', ASSET_URL_SIG_HEX);
    sig[ASSET_URL_SIG_HEX] = '\0';
    char q[512];
#define BAD(...)                                                                               \
    do {                                                                                       \
        snprintf(q, sizeof(q), __VA_ARGS__);                                                   \
        ASSERT_EQ(asset_url_parse(q, strlen(q), &u), ASSET_URL_BAD);                           \
    } while (0)
    snprintf(q, sizeof(q), "asset=%s&exp=12&sig=%s", id, sig);
    ASSERT_EQ(asset_url_parse(q, strlen(q), &u), ASSET_URL_OK);
    ASSERT_STREQ(u.asset, id);
    ASSERT_EQ(u.exp, 12);
    BAD("exp=12&sig=%s", sig);                          /* no asset */
    BAD("asset=%s&sig=%s", id, sig);                    /* no exp */
    BAD("asset=%s&exp=12", id);                         /* no sig */
    BAD("asset=%s&exp=12&sig=%s&sig=%s", id, sig, sig); /* twice */
    BAD("asset=&exp=12&sig=%s", sig);
    BAD("asset=a%%2Fb&exp=12&sig=%s", sig);
    BAD("asset=%s&exp=-1&sig=%s", id, sig);
    BAD("asset=%s&exp=&sig=%s", id, sig);
    BAD("asset=%s&exp=1234567890123456789&sig=%s", id, sig); /* 19 digits */
    BAD("asset=%s&exp=12&sig=%.63s", id, sig);
    BAD("asset=%s&exp=12&sig=%sA", id, sig);
    BAD("asset=%s&exp=12&sig=%.63sG", id, sig);
    ASSERT_EQ(asset_url_parse("", 0, &u), ASSET_URL_BAD);
    ASSERT_TRUE(!asset_url_present("asset=1&exp=2", 13));
#undef BAD
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    RUN(test_sign_and_check);
    RUN(test_parse_refusals);
    TEST_MAIN_END();
}
