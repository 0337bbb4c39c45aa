/* test_apikey.c: the API key format (parse), its hash and the constant-time check. */
#include "test.h"

#include <sodium.h>

#include "auth/apikey.h"

static const char good[] = "chk_0123456789abcdef_"
                           "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

static void test_parse(void)
{
    apikey_parsed_t k;
    ASSERT_EQ(apikey_parse(good, strlen(good), &k), 0);
    ASSERT_STREQ(k.id, "0123456789abcdef");
    ASSERT_EQ(k.secret[0], 0x00);
    ASSERT_EQ(k.secret[1], 0x11);
    ASSERT_EQ(k.secret[31], 0xff);
    char bad[sizeof(good)];
    /* Each refusal: one thing wrong. */
    ASSERT_EQ(apikey_parse(good, strlen(good) - 1, &k), -EINVAL); /* short */
    ASSERT_EQ(apikey_parse("", 0, &k), -EINVAL);
    memcpy(bad, good, sizeof(good));
    bad[0] = 'C'; /* prefix */
    ASSERT_EQ(apikey_parse(bad, strlen(bad), &k), -EINVAL);
    memcpy(bad, good, sizeof(good));
    bad[20] = '-'; /* separator */
    ASSERT_EQ(apikey_parse(bad, strlen(bad), &k), -EINVAL);
    memcpy(bad, good, sizeof(good));
    bad[5] = 'g'; /* not hex in the id */
    ASSERT_EQ(apikey_parse(bad, strlen(bad), &k), -EINVAL);
    memcpy(bad, good, sizeof(good));
    bad[30] = 'A'; /* upper case in the secret */
    ASSERT_EQ(apikey_parse(bad, strlen(bad), &k), -EINVAL);
    /* A JWT (what a browser holds) is never a key. */
    const char *jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1In0.c2lnbmF0dXJlc2lnbmF0dXJlc2lnbmF0dQ";
    ASSERT_EQ(apikey_parse(jwt, strlen(jwt), &k), -EINVAL);
    /* A longer text with a valid key as its prefix. */
    char longer[sizeof(good) + 1];
    memcpy(longer, good, sizeof(good) - 1);
    longer[sizeof(good) - 1] = 'a';
    ASSERT_EQ(apikey_parse(longer, sizeof(longer), &k), -EINVAL);
}

static void test_hash_and_verify(void)
{
    apikey_parsed_t k;
    ASSERT_EQ(apikey_parse(good, strlen(good), &k), 0);
    char hash[STORE_APIKEY_HASH_LEN];
    apikey_hash(k.secret, hash);
    /* SHA-256 of the 32 bytes 00 11 .. ff 00 11 .. ff (Python's hashlib). */
    ASSERT_STREQ(hash, "4773d12e2371bb935b9a0f5439b4a1c3ad3f2414b86980f8418d1cfabdfadfef");
    ASSERT_EQ(apikey_verify(hash, k.secret), 0);
    unsigned char other[APIKEY_SECRET_BYTES];
    memcpy(other, k.secret, sizeof(other));
    other[31] ^= 1;
    ASSERT_EQ(apikey_verify(hash, other), -EACCES);
    ASSERT_EQ(apikey_verify("", k.secret), -EACCES);
    char upper[STORE_APIKEY_HASH_LEN];
    memcpy(upper, hash, sizeof(upper));
    for (char *p = upper; *p; p++)
        if (*p >= 'a' && *p <= 'f') *p = (char)(*p - 'a' + 'A');
    ASSERT_EQ(apikey_verify(upper, k.secret), -EACCES);
}

static void test_new(void)
{
    char id[STORE_APIKEY_ID_LEN], text[APIKEY_TEXT_LEN + 1], hash[STORE_APIKEY_HASH_LEN];
    apikey_new(id, text, hash);
    ASSERT_EQ(strlen(text), APIKEY_TEXT_LEN);
    apikey_parsed_t k;
    ASSERT_EQ(apikey_parse(text, strlen(text), &k), 0);
    ASSERT_STREQ(k.id, id);
    ASSERT_EQ(apikey_verify(hash, k.secret), 0);
    /* The hash is not the secret's text. */
    ASSERT_TRUE(strstr(text, hash) == NULL);
    char id2[STORE_APIKEY_ID_LEN], text2[APIKEY_TEXT_LEN + 1], hash2[STORE_APIKEY_HASH_LEN];
    apikey_new(id2, text2, hash2);
    ASSERT_TRUE(strcmp(id, id2) != 0 && strcmp(hash, hash2) != 0);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    RUN(test_parse);
    RUN(test_hash_and_verify);
    RUN(test_new);
    TEST_MAIN_END();
}
