/* test_tus_header.c: the tus header parsers (tus_header.c): offsets and lengths,
 * Upload-Metadata pairs, Upload-Checksum. */
#include "test.h"

#include "proto/tus_header.h"

#include <sodium.h>

static void test_u64(void)
{
    uint64_t v = 7;
    ASSERT_EQ(tus_parse_u64("0", 1, &v), 0);
    ASSERT_EQ(v, 0);
    ASSERT_EQ(tus_parse_u64("21474836480", 11, &v), 0);
    ASSERT_EQ(v, 21474836480ULL);
    ASSERT_EQ(tus_parse_u64("9223372036854775807", 19, &v), 0);
    ASSERT_EQ(v, 9223372036854775807ULL);
    ASSERT_EQ(tus_parse_u64("9223372036854775808", 19, &v), -EINVAL);
    ASSERT_EQ(tus_parse_u64("99999999999999999999", 20, &v), -EINVAL);
    ASSERT_EQ(tus_parse_u64("", 0, &v), -EINVAL);
    ASSERT_EQ(tus_parse_u64("-1", 2, &v), -EINVAL);
    ASSERT_EQ(tus_parse_u64("+1", 2, &v), -EINVAL);
    ASSERT_EQ(tus_parse_u64("1 ", 2, &v), -EINVAL);
    ASSERT_EQ(tus_parse_u64("0x10", 4, &v), -EINVAL);
}

static void test_metadata(void)
{
    tus_meta_pair_t p[4];
    char buf[256];
    size_t n = 9;
    const char *s =
        "filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==,is_confidential, type aW1hZ2UvcG5n";
    ASSERT_EQ(tus_metadata_parse(s, strlen(s), p, 4, &n, buf, sizeof(buf)), 0);
    ASSERT_EQ(n, 3);
    ASSERT_STREQ(p[0].key, "filename");
    ASSERT_STREQ(p[0].value, "world_domination_plan.pdf");
    ASSERT_EQ(p[0].value_len, 25);
    ASSERT_STREQ(p[1].key, "is_confidential");
    ASSERT_STREQ(p[1].value, "");
    ASSERT_STREQ(tus_metadata_get(p, n, "type")->value, "image/png");
    ASSERT_TRUE(tus_metadata_get(p, n, "nope") == NULL);
    ASSERT_EQ(tus_metadata_parse("", 0, p, 4, &n, buf, sizeof(buf)), 0);
    ASSERT_EQ(n, 0);
    /* a value may decode to bytes with NUL in them: the length says */
    ASSERT_EQ(tus_metadata_parse("k AAE=", 6, p, 4, &n, buf, sizeof(buf)), 0);
    ASSERT_EQ(p[0].value_len, 2);

    const char *bad[] = {
        "a b c",      /* three words */
        "a,,b",       /* empty pair */
        "a,",         /* trailing comma */
        "a,a",        /* duplicate key */
        "a @@@@",     /* not base64 */
        "a YQ",       /* unpadded */
        "a YQ==x",    /* trailing junk */
        "k\x01 YQ==", /* control byte in key */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int rc = tus_metadata_parse(bad[i], strlen(bad[i]), p, 4, &n, buf, sizeof(buf));
        if (rc != -EINVAL) TEST_FAIL_("\"%s\": %d, not -EINVAL", bad[i], rc);
    }
    ASSERT_EQ(tus_metadata_parse("a,b,c,d,e", 9, p, 4, &n, buf, sizeof(buf)), -E2BIG);
    ASSERT_EQ(tus_metadata_parse("filename d29ybGRfZG9taW5hdGlvbl9wbGFuLnBkZg==", 45, p, 4, &n,
                                 buf, 16),
              -E2BIG);
}

static void test_checksum(void)
{
    uint8_t d[TUS_SHA256_LEN], want[TUS_SHA256_LEN];
    crypto_hash_sha256(want, (const unsigned char *)"abc", 3);
    char b64[64];
    sodium_bin2base64(b64, sizeof(b64), want, sizeof(want), sodium_base64_VARIANT_ORIGINAL);
    char hdr[96];
    snprintf(hdr, sizeof(hdr), "sha256 %s", b64);
    ASSERT_EQ(tus_checksum_parse(hdr, strlen(hdr), d), 0);
    ASSERT_MEMEQ(d, want, sizeof(want));
    ASSERT_EQ(tus_checksum_parse("sha1 qZk+NkcGgWq6PiVxeFDCbJzQ2J0=", 33, d), -ENOTSUP);
    ASSERT_EQ(tus_checksum_parse("md5 AAAA", 8, d), -ENOTSUP);
    ASSERT_EQ(tus_checksum_parse("sha256 YWJj", 11, d), -EINVAL); /* 3 bytes, not 32 */
    ASSERT_EQ(tus_checksum_parse("sha256", 6, d), -EINVAL);
    ASSERT_EQ(tus_checksum_parse(" sha256 x", 9, d), -EINVAL);
    ASSERT_EQ(tus_checksum_parse("sha256  ", 8, d), -EINVAL);
}

static void test_types(void)
{
    const char *l = "image/*, video/mp4,model/gltf-binary";
    ASSERT_EQ(tus_type_allowed(l, "image/png", 9), 1);
    ASSERT_EQ(tus_type_allowed(l, "IMAGE/PNG", 9), 1);
    ASSERT_EQ(tus_type_allowed(l, "video/mp4; codecs=avc1", 22), 1);
    ASSERT_EQ(tus_type_allowed(l, "model/gltf-binary", 17), 1);
    ASSERT_EQ(tus_type_allowed(l, "video/webm", 10), 0);
    ASSERT_EQ(tus_type_allowed(l, "image/", 6), 0);
    ASSERT_EQ(tus_type_allowed(l, "imagex/png", 10), 0);
    ASSERT_EQ(tus_type_allowed(l, "", 0), 0);
    ASSERT_EQ(tus_type_allowed("", "", 0), 1);
    ASSERT_EQ(tus_type_allowed(" , ", "text/plain", 10), 1);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    RUN(test_u64);
    RUN(test_metadata);
    RUN(test_checksum);
    RUN(test_types);
    TEST_MAIN_END();
}
