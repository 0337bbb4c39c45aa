/* test_json_patch.c: RFC 7396 merge patch (Appendix A table), no input mutation, diff,
 * depth guard. */
#include "test.h"

#include "util/json_patch.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static json_t *parse(const char *s)
{
    json_error_t err;
    json_t *v = json_loads(s, JSON_DECODE_ANY, &err);
    if (!v) fprintf(stderr, "bad test JSON %s: %s\n", s, err.text);
    return v;
}

/* Returns a new compact, key-sorted serialization (caller frees). */
static char *dump(const json_t *v)
{
    return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
}

/* RFC 7396 Appendix A (all 15 rows), then the example document of section 3. */
static const struct { const char *target, *patch, *result; } rfc_rows[] = {
    {"{\"a\":\"b\"}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
    {"{\"a\":\"b\"}", "{\"b\":\"c\"}", "{\"a\":\"b\",\"b\":\"c\"}"},
    {"{\"a\":\"b\"}", "{\"a\":null}", "{}"},
    {"{\"a\":\"b\",\"b\":\"c\"}", "{\"a\":null}", "{\"b\":\"c\"}"},
    {"{\"a\":[\"b\"]}", "{\"a\":\"c\"}", "{\"a\":\"c\"}"},
    {"{\"a\":\"c\"}", "{\"a\":[\"b\"]}", "{\"a\":[\"b\"]}"},
    {"{\"a\":{\"b\":\"c\"}}", "{\"a\":{\"b\":\"d\",\"c\":null}}", "{\"a\":{\"b\":\"d\"}}"},
    {"{\"a\":[{\"b\":\"c\"}]}", "{\"a\":[1]}", "{\"a\":[1]}"},
    {"[\"a\",\"b\"]", "[\"c\",\"d\"]", "[\"c\",\"d\"]"},
    {"{\"a\":\"b\"}", "[\"c\"]", "[\"c\"]"},
    {"{\"a\":\"foo\"}", "null", "null"},
    {"{\"a\":\"foo\"}", "\"bar\"", "\"bar\""},
    {"{\"e\":null}", "{\"a\":1}", "{\"e\":null,\"a\":1}"},
    {"[1,2]", "{\"a\":\"b\",\"c\":null}", "{\"a\":\"b\"}"},
    {"{}", "{\"a\":{\"bb\":{\"ccc\":null}}}", "{\"a\":{\"bb\":{}}}"},
    {"{\"title\":\"Goodbye!\",\"author\":{\"givenName\":\"John\",\"familyName\":\"Doe\"},"
     "\"tags\":[\"example\",\"sample\"],\"content\":\"This will be unchanged\"}",
     "{\"title\":\"Hello!\",\"phoneNumber\":\"+01-123-456-7890\",\"author\":{\"familyName\":null},"
     "\"tags\":[\"example\"]}",
     "{\"title\":\"Hello!\",\"author\":{\"givenName\":\"John\"},\"tags\":[\"example\"],"
     "\"content\":\"This will be unchanged\",\"phoneNumber\":\"+01-123-456-7890\"}"},
};

static void test_rfc7396_examples(void)
{
    ASSERT_EQ(COUNT(rfc_rows), 16);
    for (size_t i = 0; i < sizeof rfc_rows / sizeof rfc_rows[0]; i++) {
        json_t *t = parse(rfc_rows[i].target), *p = parse(rfc_rows[i].patch);
        json_t *want = parse(rfc_rows[i].result);
        ASSERT_TRUE(t && p && want);
        char *t0 = dump(t), *p0 = dump(p);
        json_t *got = json_merge_patch(t, p);
        char *t1 = dump(t), *p1 = dump(p), *g = dump(got);
        int eq = json_equal(got, want);
        if (!eq) fprintf(stderr, "row %zu: got %s, want %s\n", i + 1, g, rfc_rows[i].result);
        int same_t = strcmp(t0, t1) == 0, same_p = strcmp(p0, p1) == 0;
        /* the diff of target and result reproduces the result */
        json_t *d = json_merge_diff(t, got);
        json_t *again = d ? json_merge_patch(t, d) : json_incref(t);
        int diff_ok = json_equal(again, got);
        free(t0); free(p0); free(t1); free(p1); free(g);
        json_decref(t); json_decref(p); json_decref(want); json_decref(got);
        json_decref(d); json_decref(again);
        ASSERT_TRUE(eq);
        ASSERT_TRUE(same_t);
        ASSERT_TRUE(same_p);
        ASSERT_TRUE(diff_ok);
    }
}

static void test_absent_target(void)
{
    json_t *p = parse("{\"a\":{\"b\":null,\"c\":1},\"d\":null}");
    json_t *got = json_merge_patch(NULL, p);
    char *g = dump(got);
    ASSERT_STREQ(g, "{\"a\":{\"c\":1}}");
    free(g);
    json_decref(got);
    json_t *s = json_string("x");
    got = json_merge_patch(NULL, s);
    ASSERT_TRUE(json_equal(got, s) && got != s);
    json_decref(got);
    json_decref(s);
    json_decref(p);
}

static void test_result_shares_nothing(void)
{
    /* Changing the result must not show through in the inputs (deep copies). */
    json_t *t = parse("{\"keep\":{\"x\":[1,2]},\"a\":1}");
    json_t *p = parse("{\"n\":{\"y\":[3]},\"a\":2}");
    json_t *got = json_merge_patch(t, p);
    json_array_append_new(json_object_get(json_object_get(got, "keep"), "x"), json_integer(9));
    json_array_append_new(json_object_get(json_object_get(got, "n"), "y"), json_integer(9));
    char *ts = dump(t), *ps = dump(p);
    ASSERT_STREQ(ts, "{\"a\":1,\"keep\":{\"x\":[1,2]}}");
    ASSERT_STREQ(ps, "{\"a\":2,\"n\":{\"y\":[3]}}");
    free(ts); free(ps);
    json_decref(got); json_decref(t); json_decref(p);
}

static void test_arrays_replace_and_null_removes(void)
{
    json_t *t = parse("{\"list\":[1,2,3],\"gone\":{\"deep\":1},\"o\":{\"k\":1,\"j\":2}}");
    json_t *p = parse("{\"list\":[{\"a\":null}],\"gone\":null,\"o\":{\"k\":null},\"missing\":null}");
    json_t *got = json_merge_patch(t, p);
    char *g = dump(got);
    /* null inside an array is a value, not a removal */
    ASSERT_STREQ(g, "{\"list\":[{\"a\":null}],\"o\":{\"j\":2}}");
    free(g);
    json_decref(got); json_decref(t); json_decref(p);
}

static void test_deep_nesting(void)
{
    /* 200 levels of {"k":...}; the patch changes the innermost leaf and adds a sibling. */
    enum { DEPTH = 200 };
    json_t *t = json_integer(1), *p = json_object();
    json_object_set_new(p, "leaf", json_integer(2));
    json_object_set_new(p, "new", json_true());
    json_t *tl = json_object();
    json_object_set_new(tl, "leaf", t);
    json_object_set_new(tl, "old", json_false());
    t = tl;
    for (int i = 1; i < DEPTH; i++) {
        json_t *a = json_object(), *b = json_object();
        json_object_set_new(a, "k", t);
        json_object_set_new(b, "k", p);
        t = a;
        p = b;
    }
    ASSERT_EQ(json_depth(t, 1000), DEPTH);
    json_t *got = json_merge_patch(t, p);
    const json_t *in = got;
    for (int i = 1; i < DEPTH; i++) in = json_object_get(in, "k");
    int ok = json_integer_value(json_object_get(in, "leaf")) == 2 &&
             json_is_true(json_object_get(in, "new")) &&
             json_is_false(json_object_get(in, "old")) && json_object_size(in) == 3;
    json_decref(got); json_decref(t); json_decref(p);
    ASSERT_TRUE(ok);
}

static void test_patch_not_object_replaces(void)
{
    const char *patches[] = {"[]", "3", "true", "null", "\"s\"", "[{\"a\":null}]"};
    for (size_t i = 0; i < COUNT(patches); i++) {
        json_t *t = parse("{\"a\":{\"b\":1}}"), *p = parse(patches[i]);
        json_t *got = json_merge_patch(t, p);
        /* equal, and a distinct value unless jansson shares an immutable singleton */
        int ok = json_equal(got, p) && (got != p || json_is_null(p) || json_is_boolean(p));
        json_decref(got);
        /* the object variant refuses and keeps the target */
        json_t *keep = t;
        int rc = json_merge_patch_object(&t, p);
        int kept = t == keep && json_object_size(t) == 1;
        json_decref(t); json_decref(p);
        ASSERT_TRUE(ok);
        ASSERT_EQ(rc, -1);
        ASSERT_TRUE(kept);
    }
}

static void test_merge_patch_object(void)
{
    json_t *o = parse("{\"a\":1,\"b\":2}"), *p = parse("{\"b\":null,\"c\":{\"d\":3}}");
    ASSERT_EQ(json_merge_patch_object(&o, p), 0);
    char *s = dump(o);
    ASSERT_STREQ(s, "{\"a\":1,\"c\":{\"d\":3}}");
    free(s);
    json_decref(o);
    /* NULL (absent) becomes an object */
    json_t *none = NULL;
    ASSERT_EQ(json_merge_patch_object(&none, p), 0);
    s = dump(none);
    ASSERT_STREQ(s, "{\"c\":{\"d\":3}}");
    free(s);
    json_decref(none);
    json_decref(p);
}

static void test_depth(void)
{
    static const struct { const char *doc; int depth; } rows[] = {
        {"1", 0}, {"\"x\"", 0}, {"null", 0}, {"[]", 1}, {"{}", 1}, {"[[]]", 2},
        {"{\"a\":[1,{\"b\":{}}]}", 4}, {"[1,[2,[3,[4]]],[]]", 4},
    };
    for (size_t i = 0; i < COUNT(rows); i++) {
        json_t *v = parse(rows[i].doc);
        int d = json_depth(v, 100);
        int at = json_depth_exceeds(v, rows[i].depth);
        int below = rows[i].depth > 0 ? json_depth_exceeds(v, rows[i].depth - 1) : 1;
        int capped = json_depth(v, rows[i].depth - 1);
        json_decref(v);
        ASSERT_EQ(d, rows[i].depth);
        ASSERT_EQ(at, 0);
        ASSERT_EQ(below, 1);
        if (rows[i].depth > 0) ASSERT_EQ(capped, rows[i].depth);
    }
    json_t *v = parse("{}");
    ASSERT_EQ(json_depth_exceeds(v, 0), 1);
    ASSERT_EQ(json_depth_exceeds(v, -1), 1);
    json_decref(v);
}

static void test_diff(void)
{
    json_t *a = parse("{\"x\":1,\"o\":{\"p\":1,\"q\":[1]},\"r\":{\"s\":1},\"gone\":true}");
    json_t *b = parse("{\"x\":1,\"o\":{\"p\":2,\"q\":[1]},\"r\":5,\"new\":{\"t\":{}}}");
    json_t *d = json_merge_diff(a, b);
    char *s = dump(d);
    ASSERT_STREQ(s, "{\"gone\":null,\"new\":{\"t\":{}},\"o\":{\"p\":2},\"r\":5}");
    free(s);
    json_t *back = json_merge_patch(a, d);
    ASSERT_TRUE(json_equal(back, b));
    json_decref(back);
    json_decref(d);
    ASSERT_TRUE(json_merge_diff(a, a) == NULL);
    json_decref(a); json_decref(b);
}

int main(void)
{
    RUN(test_rfc7396_examples);
    RUN(test_absent_target);
    RUN(test_result_shares_nothing);
    RUN(test_arrays_replace_and_null_removes);
    RUN(test_deep_nesting);
    RUN(test_patch_not_object_replaces);
    RUN(test_merge_patch_object);
    RUN(test_depth);
    RUN(test_diff);
    TEST_MAIN_END();
}
