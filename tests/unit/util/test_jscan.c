/* test_jscan.c: the envelope scanner (jscan.c): its slices and flags, and a corpus on
 * which it must agree with Jansson (jscan_agree.h, also the fuzz target's check). */
#include "test.h"
#include "util/jscan.h"
#include "jscan_agree.h"

static int scan(jscan_t *s, const char *text)
{
    return jscan_parse(s, text, strlen(text), 0);
}

static void test_members_as_slices(void)
{
    jscan_t s;
    const char *t =
        "{\"op\":\"broadcast\", \"ref\" : 7,\"room\":\"R1\",\"data\":{\"a\":[1,2.5,null]}}";
    ASSERT_EQ(scan(&s, t), 0);
    ASSERT_EQ(s.type, JSCAN_OBJECT);
    ASSERT_EQ(s.n, 4);
    const jscan_member_t *op = jscan_get(&s, "op");
    ASSERT_TRUE(op != NULL);
    ASSERT_EQ(op->type, JSCAN_STRING);
    ASSERT_EQ(op->val_len, 11);
    ASSERT_MEMEQ(op->val, "\"broadcast\"", 11);
    const jscan_member_t *ref = jscan_get(&s, "ref");
    ASSERT_EQ(ref->type, JSCAN_INT);
    ASSERT_EQ(jscan_int(ref), 7);
    const jscan_member_t *data = jscan_get(&s, "data");
    ASSERT_EQ(data->type, JSCAN_OBJECT);
    ASSERT_EQ(data->canonical, 1);
    ASSERT_EQ(data->val_len, strlen("{\"a\":[1,2.5,null]}"));
    ASSERT_TRUE(jscan_get(&s, "event") == NULL);
    ASSERT_TRUE(jscan_get(&s, "o") == NULL);
}

static void test_canonical_flags(void)
{
    static const struct {
        const char *text;
        int canonical;
    } cases[] = {
        {"{\"v\":{\"a\":1}}", 1},
        {"{\"v\":{\"a\": 1}}", 0},
        {"{\"v\":[1 ,2]}", 0},
        {"{\"v\" : [1,2] }", 1},
        {"{\"v\":0.1}", 0},
        {"{\"v\":0.10000000000000001}", 1},
        {"{\"v\":1.5}", 1},
        {"{\"v\":1e2}", 0},
        {"{\"v\":100.0}", 1},
        {"{\"v\":-0}", 0},
        {"{\"v\":-0.0}", 1},
        {"{\"v\":1e-7}", 0},
        {"{\"v\":9.9999999999999995e-8}", 1},
        {"{\"v\":\"a\\/b\"}", 0},
        {"{\"v\":\"a\\u0041\"}", 0},
        {"{\"v\":\"\\u001f\"}", 0},
        {"{\"v\":\"\\u001F\"}", 1},
        {"{\"v\":\"\\u0000\"}", 1},
        {"{\"v\":\"\\u000a\"}", 0},
        {"{\"v\":\"\\n\\t\\\"\\\\\"}", 1},
        {"{\"v\":\"\\ud83d\\ude00\"}", 0},
        {"{\"v\":\"\xc3\xa9\"}", 1},
        {"{\"v\":\"\\u00e9\"}", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        jscan_t s;
        ASSERT_EQ(scan(&s, cases[i].text), 0);
        const jscan_member_t *v = jscan_get(&s, "v");
        ASSERT_TRUE(v != NULL);
        if (v->canonical != cases[i].canonical)
            TEST_FAIL_("%s: canonical %d", cases[i].text, v->canonical);
    }
}

static void test_refusals(void)
{
    static const char *const invalid[] = {
        "",
        "{",
        "{\"a\":1,}",
        "{\"a\":1,\"a\":2}",
        "{\"a\":{\"b\":1,\"b\":1}}",
        "[1,]",
        "01",
        "1.",
        "-",
        "1e",
        "nul",
        "nullx",
        "1 2",
        "{\"a\" 1}",
        "\"\\ud800\"",
        "\"\\udc00\"",
        "\"\\ud800\\u0041\"",
        "\"a\tb\"",
        "\"\\x\"",
        "9223372036854775808",
        "-9223372036854775809",
        "1e400",
        "{'a':1}",
        "[1]]",
        "{\"a\":1}}",
        "\"abc",
    };
    for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
        jscan_t s;
        if (scan(&s, invalid[i]) != JSCAN_EINVALID)
            TEST_FAIL_("%s was not refused", invalid[i]);
    }
    /* Beyond what the scanner decides: an escaped key (duplicates compare decoded keys),
     * an object of more than 16 keys, a long number. */
    jscan_t s;
    ASSERT_EQ(scan(&s, "{\"\\u0061\":1,\"a\":2}"), JSCAN_EUNSURE);
    char many[512] = "{";
    for (int i = 0; i < 17; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s\"k%d\":%d", i ? "," : "",
                 i, i);
    strcat(many, "}");
    ASSERT_EQ(scan(&s, many), JSCAN_EUNSURE);
    ASSERT_EQ(scan(&s, "1.00000000000000000000000000000000000000000000001"), JSCAN_EUNSURE);
    /* Trusted text (Jansson's own): escaped keys and duplicates are not looked at. */
    ASSERT_EQ(jscan_parse(&s, "{\"\\u0061\":1}", 12, JSCAN_TRUSTED), 0);
}

/* Jansson's nesting limit: a value inside 2048 containers is refused, an empty 2048th
 * container is not. */
static void test_depth(void)
{
    static char buf[6 * 2049 + 8];
    for (int n = 2046; n <= 2049; n++) {
        for (int with_value = 0; with_value < 2; with_value++) {
            size_t k = 0;
            for (int i = 0; i < n; i++)
                buf[k++] = '[';
            if (with_value) buf[k++] = '1';
            for (int i = 0; i < n; i++)
                buf[k++] = ']';
            int rc;
            char why[300];
            ASSERT_EQ(jscan_agree(buf, k, 0, &rc, why, sizeof(why)), 0);
            ASSERT_NE(rc, JSCAN_EUNSURE);
        }
    }
    /* An object counts as an array does. */
    for (int n = 2046; n <= 2047; n++) {
        size_t k = 0;
        for (int i = 0; i < n; i++)
            buf[k++] = '[';
        k += (size_t)sprintf(buf + k, "{\"a\":1}");
        for (int i = 0; i < n; i++)
            buf[k++] = ']';
        jscan_t s;
        ASSERT_EQ(jscan_parse(&s, buf, k, 0), n == 2046 ? 0 : JSCAN_EINVALID);
    }
}

/* The corpus where the scanner and Jansson must agree, and where the scanner must decide. */
static void test_agrees_with_jansson(void)
{
    static const char *const corpus[] = {
        "{\"op\":\"echo\",\"ref\":1,\"data\":{\"hello\":\"world\"}}",
        "{\"op\":\"echo\"}",
        "{}",
        "[]",
        "5",
        "\"x\"",
        "null",
        "true",
        "false",
        " {} ",
        "{\"op\":\"message\",\"ref\":3,\"room\":\"ABC123\",\"type\":\"user_text\","
        "\"content\":\"hi "
        "\\\"there\\\"\\n\",\"metadata\":{\"p\":1,\"s\":2,\"t\":1733500000000}}",
        "{\"op\":\"presence\",\"room\":\"r\",\"state\":{\"cursor\":{\"x\":10.5,\"y\":-20}}}",
        /* doc_op and entity_update, hot ops too: the delta and the patch as slices. */
        "{\"op\":\"doc_op\",\"ref\":4,\"room\":\"r\",\"doc\":\"main\",\"version\":12,"
        "\"delta\":[3,\"h\\u00e9\\n\",{\"d\":2},{\"d\":\"ab\"}],\"opId\":\"c1-7\"}",
        "{\"op\":\"doc_op\",\"room\":\"r\",\"doc\":\"d\",\"version\":0,\"delta\":[ 1 ,\"x\"],"
        "\"opId\":null}",
        "{\"op\":\"doc_op\",\"doc\":\"d\",\"delta\":[{\"d\":1,\"d\":2}]}",
        "{\"op\":\"doc_op\",\"doc\":\"d\",\"delta\":[{\"\\u0064\":1}]}",
        "{\"op\":\"entity_update\",\"ref\":9,\"room\":\"r\",\"id\":\"box\",\"transient\":true,"
        "\"patch\":{\"pos\":[1.5,-2,3e0],\"rot\":null}}",
        "{\"op\":\"entity_update\",\"id\":\"box\",\"patch\":{\"a\":{\"b\":1}},"
        "\"baseVersion\":3,\"ownerOnly\":false}",
        "{\"op\":\"broadcast\",\"room\":\"r\",\"event\":\"e\",\"data\":[1,\"two\",{\"3\":[]}]}",
        "{\"ref\":1.0,\"op\":\"echo\"}",
        "{\"ref\":\"1\",\"op\":\"echo\"}",
        "{\"ref\":-9223372036854775808,\"op\":\"echo\"}",
        /* int64_t's edges, decided by the digits' count and the limit as text */
        "{\"a\":9223372036854775807,\"b\":-9223372036854775807,\"c\":1000000000000000000}",
        "{\"a\":9223372036854775806,\"b\":-999999999999999999,\"c\":-1000000000000000000}",
        "[9223372036854775809]",
        "[-9223372036854775810]",
        "[9300000000000000000]",
        "[10000000000000000000]",
        "[-10000000000000000000]",
        "[99999999999999999999999]",
        "[-0,0,-1,-10,10]",
        "{\"op\":\"ec\\u0000ho\"}",
        "{\"op\":\"\\u0065cho\"}",
        "{\"a\":\"\\ud83d\\ude00\",\"b\":\"\xf0\x9f\x98\x80\",\"c\":\"\\u00e9\\u00E9\"}",
        "{\"a\":\"\\b\\f\\n\\r\\t\\\"\\\\\\/\"}",
        "{\"a\":\"\x7f\"}",
        "{\"a\":1e5,\"b\":1E-5,\"c\":-1.25e+300,\"d\":0,\"e\":-0,\"f\":0.0,\"g\":123456789012}",
        "{\"a\":5e-324,\"b\":1e-400,\"c\":1.7976931348623157e308}",
        "{\"a\":{\"b\":{\"c\":{\"d\":[[[[{}]]]]}}}}",
        "{\"a\":1,\"b\":{\"a\":1},\"c\":[{\"a\":1,\"b\":2},{\"a\":3}]}",
        "{\"a\":[{\"x\":1,\"x\":2}]}",
        "{\"\":1,\"\":2}",
        "{\"\":1}",
        "{\r\n\t\"a\" :\t[ 1 , 2 ] ,\n\"b\":{ } }",
        "{\"a\":\"\\u0000\",\"b\":\"x\\u0000y\"}",
        "{\"a\\u0000b\":1}",
        "{\"a\":tru}",
        "{\"a\":True}",
        "{\"a\":nan}",
        "{\"a\":Infinity}",
        "{\"a\":+1}",
        "{\"a\":.5}",
        "{\"a\":0x10}",
        "{\"a\":\"\\u12\"}",
        "{\"a\":\"\\uZZZZ\"}",
        "{\"a\":\"\\ud800\\udc00\"}",
        "{\"a\":\"\\udbff\\udfff\"}",
        "{\"a\":\"\\ud800\\ud800\"}",
        "{\"a\":\"\\ud800x\"}",
        "{\"a\":1}x",
        "{\"a\":1} ",
        "{\"a\":[1,2,]}",
        "{,}",
        "{\"a\"}",
        "{\"a\":}",
        "[,1]",
        "{\"a\":1 \"b\":2}",
    };
    int decided = 0;
    for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
        int rc;
        char why[300];
        if (jscan_agree(corpus[i], strlen(corpus[i]), 0, &rc, why, sizeof(why)) != 0)
            TEST_FAIL_("%s: %s", corpus[i], why);
        decided += rc != JSCAN_EUNSURE;
        /* Jansson's own encoding of an accepted text scans as trusted text, canonical. */
        json_t *v = json_loadb(corpus[i], strlen(corpus[i]), JSCAN_AGREE_FLAGS, NULL);
        if (!v) continue;
        char *dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        if (jscan_agree(dump, strlen(dump), JSCAN_TRUSTED, &rc, why, sizeof(why)) != 0 ||
            rc != 0)
            TEST_FAIL_("%s as trusted: %d %s", dump, rc, why);
        jscan_t s;
        ASSERT_EQ(jscan_parse(&s, dump, strlen(dump), JSCAN_TRUSTED), 0);
        for (size_t k = 0; k < s.n; k++)
            ASSERT_EQ(s.m[k].canonical, 1);
        free(dump);
        json_decref(v);
    }
    ASSERT_TRUE(decided >= 45);
    /* Jansson skips one NUL byte right after a number or a literal, and nowhere else. */
    static const struct {
        const char *text;
        size_t len;
    } nul[] = {{"2\0", 2},
               {"{\"a\":1\0}", 8},
               {"[1\0,2]", 6},
               {"1\0\0", 3},
               {"\"x\"\0", 4},
               {"[null\0\0]", 8},
               {"tr\0ue", 5},
               {" \0", 2},
               {"{\"a\":1}\0x", 9},
               {"12\0"
                "34",
                5},
               {"1e5\0", 4},
               {"\"a\0b\"", 5},
               {"{\"m\":{\"a\":[18\0]}}", 17}};
    for (size_t i = 0; i < sizeof(nul) / sizeof(nul[0]); i++) {
        int rc;
        char why[300];
        if (jscan_agree(nul[i].text, nul[i].len, 0, &rc, why, sizeof(why)) != 0)
            TEST_FAIL_("NUL case %zu: %s", i, why);
        ASSERT_NE(rc, JSCAN_EUNSURE);
    }
}

static void test_quote_as_jansson(void)
{
    static const char *const strings[] = {
        "",         "plain", "a\"b\\c", "\x01\x1f\x7f\b\f\n\r\t", "\xc3\xa9\xf0\x9f\x98\x80",
        "user-42_x"};
    for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
        char out[64];
        int n = jscan_quote(out, sizeof(out), strings[i], strlen(strings[i]));
        json_t *v = json_string(strings[i]);
        char *dump = json_dumps(v, JSON_ENCODE_ANY);
        ASSERT_TRUE(n > 0);
        ASSERT_STREQ(out, dump);
        free(dump);
        json_decref(v);
    }
    char small[4];
    ASSERT_EQ(jscan_quote(small, sizeof(small), "ab", 2), -1);
}

static void test_string_decoding(void)
{
    jscan_t s;
    ASSERT_EQ(scan(&s, "{\"v\":\"a\\u00e9\\ud83d\\ude00\\n\"}"), 0);
    const jscan_member_t *v = jscan_get(&s, "v");
    ASSERT_EQ(v->escaped, 1);
    char out[32];
    int n = jscan_string(v, out, sizeof(out));
    ASSERT_EQ(n, 1 + 2 + 4 + 1);
    ASSERT_STREQ(out, "a\xc3\xa9\xf0\x9f\x98\x80\n");
    ASSERT_EQ(jscan_string(v, out, 4), -1);
}

int main(void)
{
    RUN(test_members_as_slices);
    RUN(test_canonical_flags);
    RUN(test_refusals);
    RUN(test_depth);
    RUN(test_agrees_with_jansson);
    RUN(test_quote_as_jansson);
    RUN(test_string_decoding);
    TEST_MAIN_END();
}
