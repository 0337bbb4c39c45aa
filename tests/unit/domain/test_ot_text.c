/* test_ot_text.c: hand-written cases for the ot-text-unicode type: parsing and
 * normalization, apply, transform ties, compose, cursors, and every rejected op. */
#include "test.h"

#include "util/mem.h"
#include "domain/ot_text.h"

/* Parses the JSON text into op; returns ot_op_from_json's code (99: not JSON). */
static int parse(ot_op_t *op, const char *text)
{
    json_t *j = json_loads(text, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!j) return 99;
    const char *why = NULL;
    int rc = ot_op_from_json(op, j, 64, &why);
    json_decref(j);
    if (rc && !why) return 98; /* an error must say why */
    return rc;
}

/* Returns op as compact JSON in one of four rotating static buffers. */
static const char *dump(const ot_op_t *op)
{
    static char bufs[4][4096];
    static int next;
    char *b = bufs[next++ % 4];
    json_t *j = ot_op_to_json(op);
    size_t n = json_dumpb(j, b, sizeof bufs[0] - 1, JSON_COMPACT);
    json_decref(j);
    b[n < sizeof bufs[0] ? n : 0] = '\0';
    return b;
}

/* Returns the normalized form of the JSON op text, or "ERR". */
static const char *norm(const char *text)
{
    ot_op_t op;
    ot_op_init(&op);
    const char *r = parse(&op, text) == 0 ? dump(&op) : "ERR";
    ot_op_free(&op);
    return r;
}

/* Applies the JSON op to doc; returns the result in a static buffer, or "ERR". */
static const char *apply(const char *doc, const char *optext)
{
    static char res[4096];
    ot_op_t op;
    ot_op_init(&op);
    ot_buf_t out;
    ot_buf_init(&out);
    const char *r = "ERR";
    size_t len = strlen(doc);
    if (parse(&op, optext) == 0 &&
        ot_apply(&out, doc, len, ot_utf8_count(doc, len), &op) == 0 && out.len < sizeof res) {
        memcpy(res, out.s, out.len + 1);
        r = res;
    }
    ot_buf_free(&out);
    ot_op_free(&op);
    return r;
}

/* transform (side >= 0) or compose (side < 0) of two JSON ops; compact JSON result. */
static const char *xf(const char *a, const char *b, int side)
{
    ot_op_t x, y, out;
    ot_op_init(&x);
    ot_op_init(&y);
    ot_op_init(&out);
    const char *r = "ERR";
    if (parse(&x, a) == 0 && parse(&y, b) == 0) {
        int rc = side >= 0 ? ot_transform(&out, &x, &y, side) : ot_compose(&out, &x, &y);
        if (rc == 0) r = dump(&out);
    }
    ot_op_free(&x);
    ot_op_free(&y);
    ot_op_free(&out);
    return r;
}

static size_t cursor(size_t pos, const char *optext, int own)
{
    ot_op_t op;
    ot_op_init(&op);
    size_t r = parse(&op, optext) == 0 ? ot_transform_position(pos, &op, own) : 999;
    ot_op_free(&op);
    return r;
}

static void test_normalize(void)
{
    ASSERT_STREQ(norm("[]"), "[]");
    ASSERT_STREQ(norm("[5]"), "[]");                       /* trailing skip removed */
    ASSERT_STREQ(norm("[1, 2, \"a\", \"b\", {\"d\": 1}, {\"d\": \"xy\"}, 3]"),
                 "[3,\"ab\",{\"d\":3}]");
    ASSERT_STREQ(norm("[{\"d\": \"\\ud83d\\ude00e\\u0301\"}]"), "[{\"d\":3}]");
    ASSERT_STREQ(norm("[\"3\"]"), "[\"3\"]");               /* a string is an insert */
    ASSERT_STREQ(norm("[2, {\"d\": 1}, 4, \"x\", 6]"), "[2,{\"d\":1},4,\"x\"]");
    ASSERT_STREQ(norm("[9007199254740991]"), "[]");
    ASSERT_STREQ(norm("[\"a\", 1, \"b\"]"), "[\"a\",1,\"b\"]");

    ot_op_t op;
    ot_op_init(&op);
    ASSERT_EQ(parse(&op, "[1, \"\\ud83d\\ude00\", \"e\\u0301\", {\"d\": 2}]"), 0);
    ASSERT_TRUE(ot_op_is_normalized(&op));
    ASSERT_EQ(op.n, 3);
    ASSERT_EQ(op.c[1].kind, OT_INSERT);
    ASSERT_EQ(op.c[1].n, 3);   /* U+1F600 is one, e + U+0301 is two */
    ASSERT_EQ(op.c[1].len, 7); /* 4 + 1 + 2 bytes */
    ASSERT_EQ(ot_op_input_len(&op), 3);
    ASSERT_EQ(ot_op_output_len(&op, 10), 11);
    /* builders follow the same rules */
    ot_op_clear(&op);
    ot_op_push_skip(&op, 2);
    ot_op_push_skip(&op, 0);
    ot_op_push_skip(&op, 3);
    ASSERT_EQ(ot_op_push_insert(&op, "ab", 2), 0);
    ASSERT_EQ(ot_op_push_insert(&op, "", 0), 0);
    ASSERT_EQ(ot_op_push_insert(&op, "\xc3\xa9", 2), 0);
    ASSERT_EQ(ot_op_push_insert(&op, "\xc3", 1), OT_EINVALID);
    ot_op_push_delete(&op, 1);
    ot_op_push_delete(&op, 1);
    ot_op_push_skip(&op, 4);
    ASSERT_TRUE(!ot_op_is_normalized(&op)); /* trailing skip */
    ot_op_trim(&op);
    ASSERT_TRUE(ot_op_is_normalized(&op));
    ASSERT_STREQ(dump(&op), "[5,\"ab\xc3\xa9\",{\"d\":2}]");
    ot_op_t cp;
    ot_op_init(&cp);
    ot_op_copy(&cp, &op);
    ASSERT_STREQ(dump(&cp), dump(&op));
    ot_op_free(&cp);
    ot_op_free(&op);
}

static void test_invalid(void)
{
    static const struct { const char *json; int rc; } bad[] = {
        {"5", OT_EINVALID},
        {"{\"d\": 1}", OT_EINVALID},
        {"\"abc\"", OT_EINVALID},
        {"null", OT_EINVALID},
        {"[0]", OT_EINVALID},
        {"[-1]", OT_EINVALID},
        {"[1.5]", OT_EINVALID},
        {"[1.0]", OT_EINVALID},
        {"[1e3]", OT_EINVALID},
        {"[[1]]", OT_EINVALID},
        {"[1, [\"a\"]]", OT_EINVALID},
        {"[{\"d\": 0}]", OT_EINVALID},
        {"[{\"d\": -1}]", OT_EINVALID},
        {"[{\"d\": 1.5}]", OT_EINVALID},
        {"[{\"d\": \"\"}]", OT_EINVALID},
        {"[{\"d\": null}]", OT_EINVALID},
        {"[{\"d\": [1]}]", OT_EINVALID},
        {"[{\"x\": 1}]", OT_EINVALID},
        {"[{}]", OT_EINVALID},
        {"[{\"d\": 1, \"x\": 1}]", OT_EINVALID},
        {"[\"\"]", OT_EINVALID},
        {"[\"a\", \"\"]", OT_EINVALID},
        {"[null]", OT_EINVALID},
        {"[true]", OT_EINVALID},
        {"[false]", OT_EINVALID},
        {"[9007199254740992]", OT_ETOO_BIG},
        {"[{\"d\": 9007199254740992}]", OT_ETOO_BIG},
        {"[9007199254740991, \"a\"]", OT_ETOO_BIG}, /* the sum is too long */
    };
    ot_op_t op;
    ot_op_init(&op);
    for (size_t i = 0; i < CH_ARRAY_LEN(bad); i++) {
        ASSERT_EQ(parse(&op, "[2, \"keep\"]"), 0);
        int rc = parse(&op, bad[i].json);
        if (rc != bad[i].rc) {
            fprintf(stderr, "  op %s\n", bad[i].json);
            ASSERT_EQ(rc, bad[i].rc);
        }
        ASSERT_STREQ(dump(&op), "[2,\"keep\"]"); /* a rejected op changes nothing */
    }
    /* too many components: the limit counts the JSON array */
    json_t *j = json_loads("[1, \"a\", 1, \"b\"]", 0, NULL);
    const char *why = NULL;
    ASSERT_EQ(ot_op_from_json(&op, j, 3, &why), OT_ETOO_BIG);
    ASSERT_TRUE(why != NULL);
    ASSERT_EQ(ot_op_from_json(&op, j, 4, NULL), 0);
    json_decref(j);
    /* invalid UTF-8 that jansson itself would refuse, smuggled in without its check */
    j = json_array();
    json_array_append_new(j, json_stringn_nocheck("a\xff", 2));
    ASSERT_EQ(ot_op_from_json(&op, j, 4, &why), OT_EINVALID);
    json_decref(j);
    j = json_array();
    json_array_append_new(j, json_pack("{so}", "d", json_stringn_nocheck("\xed\xa0\x80", 3)));
    ASSERT_EQ(ot_op_from_json(&op, j, 4, &why), OT_EINVALID); /* a UTF-16 surrogate */
    json_decref(j);
    ot_op_free(&op);
    ASSERT_STREQ(ot_strerror(OT_EPAST_END), "OT_EPAST_END");
}

static void test_apply(void)
{
    ASSERT_STREQ(apply("hello world", "[6, {\"d\": 5}, \"there\"]"), "hello there");
    ASSERT_STREQ(apply("hello", "[]"), "hello");
    ASSERT_STREQ(apply("", "[\"abc\"]"), "abc");
    ASSERT_STREQ(apply("abc", "[{\"d\": 3}]"), "");
    ASSERT_STREQ(apply("abc", "[3, \"x\"]"), "abcx");
    ASSERT_STREQ(apply("abc", "[1, {\"d\": \"zz\"}]"), "a"); /* named text counts only */
    /* U+1F600 is one code point, e + U+0301 two */
    ASSERT_STREQ(apply("a\xf0\x9f\x98\x80" "b", "[1, {\"d\": 1}, \"X\"]"), "aXb");
    ASSERT_STREQ(apply("a\xf0\x9f\x98\x80" "b", "[2, \"X\"]"), "a\xf0\x9f\x98\x80Xb");
    ASSERT_STREQ(apply("e\xcc\x81x", "[2, \"!\"]"), "e\xcc\x81!x");
    ASSERT_STREQ(apply("e\xcc\x81x", "[1, {\"d\": 1}]"), "ex");
    ASSERT_STREQ(apply("\xe4\xb8\xad\xe6\x96\x87", "[1, \"\\ud83d\\ude00\"]"),
                 "\xe4\xb8\xad\xf0\x9f\x98\x80\xe6\x96\x87");
    /* past the end */
    ASSERT_STREQ(apply("abc", "[4, \"x\"]"), "ERR");
    ASSERT_STREQ(apply("abc", "[1, {\"d\": 3}]"), "ERR");
    ASSERT_STREQ(apply("abc", "[{\"d\": 4}]"), "ERR");
    ASSERT_STREQ(apply("a\xf0\x9f\x98\x80", "[3, \"x\"]"), "ERR");
    ASSERT_STREQ(apply("", "[1, \"x\"]"), "ERR");

    /* a failed apply leaves out exactly as it was */
    ot_op_t op;
    ot_op_init(&op);
    ot_buf_t out;
    ot_buf_init(&out);
    ASSERT_EQ(ot_buf_set(&out, "keep", 4), 0);
    char *before = out.s;
    ASSERT_EQ(parse(&op, "[2, {\"d\": 2}]"), 0);
    ASSERT_EQ(ot_op_check(&op, 3), OT_EPAST_END);
    ASSERT_EQ(ot_op_check(&op, 4), 0);
    ASSERT_EQ(ot_apply(&out, "abc", 3, 3, &op), OT_EPAST_END);
    ASSERT_TRUE(out.s == before);
    ASSERT_STREQ(out.s, "keep");
    ASSERT_EQ(out.len, 4);
    ASSERT_EQ(out.cp, 4);
    ASSERT_EQ(ot_apply(&out, "ab\xc3\xa9x", 5, 4, &op), 0);
    ASSERT_STREQ(out.s, "ab");
    ASSERT_EQ(out.cp, 2);
    ASSERT_EQ(ot_buf_set(&out, "\xc3", 1), OT_EINVALID);
    ASSERT_STREQ(out.s, "ab");
    ot_buf_free(&out);
    ot_op_free(&op);
}

static void test_transform(void)
{
    /* both insert at the same place: left goes first */
    ASSERT_STREQ(xf("[\"x\"]", "[\"y\"]", OT_LEFT), "[\"x\"]");
    ASSERT_STREQ(xf("[\"x\"]", "[\"y\"]", OT_RIGHT), "[1,\"x\"]");
    ASSERT_STREQ(xf("[2, \"x\"]", "[2, \"\\ud83d\\ude00\\ud83d\\ude00\"]", OT_RIGHT),
                 "[4,\"x\"]");
    ASSERT_STREQ(xf("[2, \"x\"]", "[2, \"yz\"]", OT_LEFT), "[2,\"x\"]");
    /* inserts elsewhere */
    ASSERT_STREQ(xf("[5, \"x\"]", "[1, \"abc\"]", OT_LEFT), "[8,\"x\"]");
    ASSERT_STREQ(xf("[1, \"x\"]", "[5, \"abc\"]", OT_LEFT), "[1,\"x\"]");
    /* overlapping deletes delete once */
    ASSERT_STREQ(xf("[1, {\"d\": 3}]", "[2, {\"d\": 3}]", OT_LEFT), "[1,{\"d\":1}]");
    ASSERT_STREQ(xf("[2, {\"d\": 3}]", "[1, {\"d\": 3}]", OT_RIGHT), "[1,{\"d\":1}]");
    ASSERT_STREQ(xf("[{\"d\": 2}]", "[{\"d\": 2}]", OT_LEFT), "[]");
    /* an insert inside text the other deleted survives */
    ASSERT_STREQ(xf("[2, \"x\"]", "[1, {\"d\": 3}]", OT_LEFT), "[1,\"x\"]");
    /* delete over the other's insert keeps the insert */
    ASSERT_STREQ(xf("[{\"d\": 4}]", "[2, \"ab\"]", OT_LEFT), "[{\"d\":2},2,{\"d\":2}]");
    /* transform by nothing is the identity */
    ASSERT_STREQ(xf("[3, \"q\", {\"d\": 1}]", "[]", OT_RIGHT), "[3,\"q\",{\"d\":1}]");
    ASSERT_STREQ(xf("[]", "[3, \"q\"]", OT_RIGHT), "[]");
    ot_op_t a, b, out;
    ot_op_init(&a);
    ot_op_init(&b);
    ot_op_init(&out);
    ASSERT_EQ(ot_transform(&out, &a, &b, 7), OT_EINVALID);
    ot_op_free(&a);
    ot_op_free(&b);
    ot_op_free(&out);
}

static void test_compose(void)
{
    ASSERT_STREQ(xf("[1, \"xy\"]", "[2, {\"d\": 1}]", -1), "[1,\"x\"]");
    ASSERT_STREQ(xf("[\"\\ud83d\\ude00\\ud83d\\ude00\"]", "[1, {\"d\": 1}]", -1),
                 "[\"\xf0\x9f\x98\x80\"]");
    ASSERT_STREQ(xf("[{\"d\": 2}]", "[{\"d\": 2}]", -1), "[{\"d\":4}]");
    ASSERT_STREQ(xf("[2, \"abc\"]", "[3, \"X\"]", -1), "[2,\"aXbc\"]");
    ASSERT_STREQ(xf("[\"abc\"]", "[{\"d\": 3}]", -1), "[]");
    ASSERT_STREQ(xf("[1, {\"d\": 1}]", "[1, {\"d\": 1}]", -1), "[1,{\"d\":2}]");
    ASSERT_STREQ(xf("[]", "[1, \"z\"]", -1), "[1,\"z\"]");
    ASSERT_STREQ(xf("[1, \"z\"]", "[]", -1), "[1,\"z\"]");
    ASSERT_STREQ(xf("[\"e\\u0301\"]", "[1, {\"d\": 1}, \"!\"]", -1), "[\"e!\"]");
}

static void test_cursor(void)
{
    /* an insert at the cursor leaves it before the text (not own) or after (own) */
    ASSERT_EQ(cursor(2, "[2, \"ab\"]", 0), 2);
    ASSERT_EQ(cursor(2, "[2, \"ab\"]", 1), 4);
    ASSERT_EQ(cursor(3, "[2, \"ab\"]", 0), 5);
    ASSERT_EQ(cursor(1, "[2, \"ab\"]", 0), 1);
    ASSERT_EQ(cursor(0, "[\"ab\"]", 0), 0);
    ASSERT_EQ(cursor(0, "[\"\\ud83d\\ude00\"]", 1), 1);
    /* deletes pull it back, not past the delete's start */
    ASSERT_EQ(cursor(2, "[1, {\"d\": 2}]", 0), 1);
    ASSERT_EQ(cursor(5, "[1, {\"d\": 2}]", 0), 3);
    ASSERT_EQ(cursor(1, "[1, {\"d\": 2}]", 0), 1);
    ASSERT_EQ(cursor(7, "[1, {\"d\": 2}]", 1), 1);
    ASSERT_EQ(cursor(4, "[]", 0), 4);
    ASSERT_EQ(cursor(4, "[1, {\"d\": 1}, \"xyz\"]", 0), 6);
}

static void test_json_round_trip(void)
{
    static const char *ops[] = {
        "[]", "[\"a\"]", ("[1,\"\xf0\x9f\x98\x80" "e\xcc\x81\",{\"d\":2},3,\"\\u0000z\"]"),
        "[{\"d\":9007199254740991}]",
    };
    ot_op_t a, b;
    ot_op_init(&a);
    ot_op_init(&b);
    for (size_t i = 0; i < CH_ARRAY_LEN(ops); i++) {
        ASSERT_EQ(parse(&a, ops[i]), 0);
        json_t *j = ot_op_to_json(&a);
        ASSERT_EQ(ot_op_from_json(&b, j, 64, NULL), 0);
        json_decref(j);
        ASSERT_STREQ(dump(&a), ops[i]);
        ASSERT_STREQ(dump(&b), ops[i]);
    }
    ot_op_free(&a);
    ot_op_free(&b);
}

/* ot_op_to_text writes what Jansson writes for ot_op_to_json: every escape Jansson uses
 * (quote, backslash, the short forms, \u00XX for the other control characters, U+0000),
 * UTF-8 and '/' and DEL as they are, the largest counts. */
static void test_text_is_jansson(void)
{
    static const char *ops[] = {
        "[]",
        "[\"a\"]",
        "[3,\"\\\"q\\\" \\\\ \\/ \\b\\f\\n\\r\\t\\u0001\\u001f\\u007f \\u0000z\"]",
        ("[1,\"\xf0\x9f\x98\x80"
         "e\xcc\x81\",{\"d\":2},3,\"\xe2\x80\xa8\"]"),
        "[9007199254740989,{\"d\":1},\"x\"]",
        "[{\"d\":9007199254740991}]",
        "[{\"d\":\"abc\"},\"</script>\"]",
    };
    ot_op_t a;
    ot_op_init(&a);
    for (size_t i = 0; i < CH_ARRAY_LEN(ops); i++) {
        ASSERT_EQ(parse(&a, ops[i]), 0);
        size_t n;
        char *text = ot_op_to_text(&a, &n);
        ASSERT_EQ(n, strlen(dump(&a)));
        ASSERT_STREQ(text, dump(&a));
        free(text);
    }
    ot_op_free(&a);
}

static void test_utf8(void)
{
    const char *s = "a\xf0\x9f\x98\x80" "e\xcc\x81\xe4\xb8\xad";
    size_t len = strlen(s); /* 1 + 4 + 1 + 2 + 3 = 11 bytes, 5 code points */
    ASSERT_EQ(ot_utf8_count(s, len), 5);
    ASSERT_EQ(ot_utf8_offset(s, len, 0), 0);
    ASSERT_EQ(ot_utf8_offset(s, len, 1), 1);
    ASSERT_EQ(ot_utf8_offset(s, len, 2), 5);
    ASSERT_EQ(ot_utf8_offset(s, len, 3), 6);
    ASSERT_EQ(ot_utf8_offset(s, len, 4), 8);
    ASSERT_EQ(ot_utf8_offset(s, len, 5), 11);
    ASSERT_EQ(ot_utf8_offset(s, len, 6), (size_t)-1);
    /* long texts go through the 16-byte chunks; check every offset of a mixed one */
    char big[600];
    size_t n = 0, cps = 0, offs[400];
    static const char *pieces[] = {"a", "\xc3\xa9", "\xe4\xb8\xad", "\xf0\x9f\x98\x80",
                                   "bcdefgh"};
    for (int i = 0; n + 8 < sizeof big && cps < 390; i = (i * 7 + 3) % 5) {
        for (const char *p = pieces[i]; *p;) {
            offs[cps++] = n;
            size_t l = ((unsigned char)*p < 0x80) ? 1 : ((unsigned char)*p >= 0xf0) ? 4
                       : ((unsigned char)*p >= 0xe0) ? 3 : 2;
            memcpy(big + n, p, l);
            n += l;
            p += l;
        }
    }
    ASSERT_EQ(ot_utf8_count(big, n), cps);
    for (size_t k = 0; k < cps; k++) ASSERT_EQ(ot_utf8_offset(big, n, k), offs[k]);
    ASSERT_EQ(ot_utf8_offset(big, n, cps), n);
    ASSERT_EQ(ot_utf8_offset(big, n, cps + 1), (size_t)-1);
}

int main(void)
{
    RUN(test_normalize);
    RUN(test_invalid);
    RUN(test_apply);
    RUN(test_transform);
    RUN(test_compose);
    RUN(test_cursor);
    RUN(test_json_round_trip);
    RUN(test_text_is_jansson);
    RUN(test_utf8);
    TEST_MAIN_END();
}
