/* test_ot_vectors.c: differential test against the reference ot-text-unicode package:
 * every case in tests/ot/vectors.jsonl (from tests/ot/gen_vectors.mjs) must give the same
 * transforms, compose, documents and cursors here. The file comes from CHORUS_OT_VECTORS,
 * else the OT_VECTORS path compiled in by CMakeLists.txt. */
#include "test.h"

#include "domain/ot_text.h"

#ifndef OT_VECTORS
#define OT_VECTORS "tests/ot/vectors.jsonl"
#endif

static size_t cases;

typedef struct {
    ot_op_t a, b, c, out;
    ot_buf_t doc, da, db, t;
} ctx_t;

static int parse_op(ot_op_t *op, json_t *v, size_t line, const char *name)
{
    const char *why = "";
    int rc = ot_op_from_json(op, v, 1000, &why);
    if (rc) fprintf(stderr, "line %zu: %s rejected: %s\n", line, name, why);
    return rc;
}

/* Returns 1 when op's JSON equals want; prints both otherwise. */
static int op_is(const ot_op_t *op, json_t *want, size_t line, const char *name)
{
    json_t *got = ot_op_to_json(op);
    int eq = json_equal(got, want);
    if (!eq) {
        char *g = json_dumps(got, JSON_COMPACT), *w = json_dumps(want, JSON_COMPACT);
        fprintf(stderr, "line %zu: %s: got %s, ot-text-unicode says %s\n", line, name, g, w);
        free(g);
        free(w);
    }
    json_decref(got);
    return eq;
}

static int text_is(const ot_buf_t *b, json_t *want, size_t line, const char *name)
{
    const char *w = json_string_value(want);
    size_t wl = json_string_length(want);
    if (w && b->len == wl && memcmp(b->s, w, wl) == 0 && b->cp == ot_utf8_count(w, wl))
        return 1;
    fprintf(stderr, "line %zu: %s: got \"%.*s\", ot-text-unicode says \"%s\"\n", line, name,
            (int)b->len, b->s, w ? w : "(not a string)");
    return 0;
}

static int apply(ot_buf_t *out, const ot_buf_t *in, const ot_op_t *op)
{
    return ot_apply(out, in->s, in->len, in->cp, op);
}

/* Checks one case; returns 1 when everything matches. */
static int check_case(ctx_t *x, json_t *v, size_t line)
{
    json_t *doc = json_object_get(v, "doc");
    if (!json_is_string(doc)) return 0;
    if (ot_buf_set(&x->doc, json_string_value(doc), json_string_length(doc))) return 0;
    if (parse_op(&x->a, json_object_get(v, "a"), line, "a") ||
        parse_op(&x->b, json_object_get(v, "b"), line, "b") ||
        parse_op(&x->c, json_object_get(v, "c"), line, "c"))
        return 0;
    if (apply(&x->da, &x->doc, &x->a) || !text_is(&x->da, json_object_get(v, "da"), line, "da"))
        return 0;
    if (apply(&x->db, &x->doc, &x->b) || !text_is(&x->db, json_object_get(v, "db"), line, "db"))
        return 0;
    ot_transform(&x->out, &x->a, &x->b, OT_LEFT);
    if (!op_is(&x->out, json_object_get(v, "tl"), line, "transform left")) return 0;
    if (apply(&x->t, &x->db, &x->out) || !text_is(&x->t, json_object_get(v, "dbl"), line, "dbl"))
        return 0;
    ot_transform(&x->out, &x->a, &x->b, OT_RIGHT);
    if (!op_is(&x->out, json_object_get(v, "tr"), line, "transform right")) return 0;
    if (apply(&x->t, &x->db, &x->out) || !text_is(&x->t, json_object_get(v, "dbr"), line, "dbr"))
        return 0;
    ot_compose(&x->out, &x->a, &x->c);
    if (!op_is(&x->out, json_object_get(v, "comp"), line, "compose")) return 0;
    if (apply(&x->t, &x->doc, &x->out) || !text_is(&x->t, json_object_get(v, "dc"), line, "dc"))
        return 0;
    size_t i;
    json_t *pair;
    json_array_foreach(json_object_get(v, "cur"), i, pair) {
        size_t pos = (size_t)json_integer_value(json_array_get(pair, 0));
        size_t want = (size_t)json_integer_value(json_array_get(pair, 1));
        size_t got = ot_transform_position(pos, &x->a, 0);
        if (got != want) {
            fprintf(stderr, "line %zu: cursor %zu: got %zu, ot-text-unicode says %zu\n", line,
                    pos, got, want);
            return 0;
        }
    }
    return 1;
}

static void test_vectors(void)
{
    const char *path = getenv("CHORUS_OT_VECTORS");
    if (!path || !*path) path = OT_VECTORS;
    FILE *f = fopen(path, "rb");
    if (!f) TEST_FAIL_("cannot open %s (run node tests/ot/gen_vectors.mjs)", path);
    ctx_t x;
    memset(&x, 0, sizeof x);
    char *line = NULL;
    size_t cap = 0, lineno = 0, bad = 0;
    ssize_t n;
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        json_error_t err;
        json_t *v = json_loadb(line, (size_t)n, 0, &err);
        if (!v) {
            fprintf(stderr, "line %zu: bad JSON: %s\n", lineno, err.text);
            bad++;
            continue;
        }
        if (check_case(&x, v, lineno)) cases++;
        else bad++;
        json_decref(v);
    }
    free(line);
    fclose(f);
    ot_op_t *ops[] = {&x.a, &x.b, &x.c, &x.out};
    for (size_t i = 0; i < 4; i++) ot_op_free(ops[i]);
    ot_buf_t *bufs[] = {&x.doc, &x.da, &x.db, &x.t};
    for (size_t i = 0; i < 4; i++) ot_buf_free(bufs[i]);
    ASSERT_EQ(bad, 0);
    ASSERT_TRUE(cases >= 1000);
}

int main(void)
{
    RUN(test_vectors);
    fprintf(stderr, "%zu differential cases matched ot-text-unicode\n", cases);
    TEST_MAIN_END();
}
