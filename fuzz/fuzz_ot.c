/* fuzz_ot.c: libFuzzer target for ot_text. The input is a document and two JSON ops
 * separated by NUL bytes (doc NUL a NUL b), or by newlines when there is no NUL. Invalid
 * ops must be refused; valid ones are checked against the document, applied, transformed
 * both ways (the results must converge) and composed (compose must match applying in
 * sequence), with cursors kept inside the documents and the JSON round trip exact (and
 * ot_op_to_text byte for byte what Jansson writes). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/ot_text.h"
#include "util/utf8.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static int same(const ot_buf_t *x, const ot_buf_t *y)
{
    return x->len == y->len && x->cp == y->cp && memcmp(x->s, y->s, x->len) == 0;
}

static int parse(ot_op_t *op, const char *s, size_t n)
{
    json_t *j = json_loadb(s, n, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!j) return -1;
    const char *why = NULL;
    int rc = ot_op_from_json(op, j, 256, &why);
    CHECK(rc == 0 || why != NULL);
    json_decref(j);
    if (rc == 0) {
        CHECK(ot_op_is_normalized(op));
        json_t *back = ot_op_to_json(op);
        ot_op_t again;
        ot_op_init(&again);
        CHECK(ot_op_from_json(&again, back, 1u << 20, NULL) == 0);
        json_t *back2 = ot_op_to_json(&again);
        CHECK(json_equal(back, back2));
        /* The text the server stores and sends is Jansson's encoding, byte for byte. */
        size_t tn;
        char *text = ot_op_to_text(op, &tn);
        char *dumped = json_dumps(back, JSON_COMPACT);
        CHECK(dumped && strlen(dumped) == tn && memcmp(dumped, text, tn) == 0);
        free(text);
        free(dumped);
        json_decref(back);
        json_decref(back2);
        ot_op_free(&again);
    }
    return rc;
}

/* Applies op to in, into out; checks the cached length. */
static int apply(ot_buf_t *out, const ot_buf_t *in, const ot_op_t *op)
{
    int rc = ot_apply(out, in->s, in->len, in->cp, op);
    CHECK((rc == 0) == (ot_op_check(op, in->cp) == 0));
    if (rc == 0) CHECK(out->cp == ot_utf8_count(out->s, out->len));
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char sep = memchr(s, '\0', size) ? '\0' : '\n';
    const char *c1 = memchr(s, sep, size);
    if (!c1) return 0;
    const char *c2 = memchr(c1 + 1, sep, size - (size_t)(c1 + 1 - s));
    if (!c2) return 0;
    size_t dl = (size_t)(c1 - s), al = (size_t)(c2 - c1 - 1), bl = size - (size_t)(c2 + 1 - s);

    ot_buf_t doc, da, db, x, y;
    ot_buf_init(&doc);
    ot_buf_init(&da);
    ot_buf_init(&db);
    ot_buf_init(&x);
    ot_buf_init(&y);
    ot_op_t a, b, t1, t2, ab;
    ot_op_init(&a);
    ot_op_init(&b);
    ot_op_init(&t1);
    ot_op_init(&t2);
    ot_op_init(&ab);

    int doc_ok = ot_buf_set(&doc, s, dl) == 0;
    CHECK(doc_ok == utf8_valid((const uint8_t *)s, dl));
    int ra = parse(&a, c1 + 1, al), rb = parse(&b, c2 + 1, bl);
    if (doc_ok && ra == 0 && rb == 0) {
        /* transform and compose need no document */
        ot_transform(&t1, &a, &b, OT_LEFT);
        ot_transform(&t2, &b, &a, OT_RIGHT);
        CHECK(ot_op_is_normalized(&t1) && ot_op_is_normalized(&t2));
        ot_compose(&ab, &a, &b);
        CHECK(ot_op_is_normalized(&ab));
        size_t pos = doc.cp / 2;
        int oka = apply(&da, &doc, &a) == 0, okb = apply(&db, &doc, &b) == 0;
        if (oka) {
            CHECK(ot_transform_position(pos, &a, 0) <= da.cp);
            CHECK(ot_transform_position(doc.cp, &a, 1) <= da.cp);
        }
        if (oka && okb) {
            /* a then b' and b then a' converge (a wins ties) */
            CHECK(apply(&x, &db, &t1) == 0);
            CHECK(apply(&y, &da, &t2) == 0);
            CHECK(same(&x, &y));
            /* a then (b transformed past a) == compose(a, that) */
            ot_compose(&ab, &a, &t2);
            CHECK(apply(&x, &doc, &ab) == 0);
            CHECK(same(&x, &y));
        }
        if (oka) {
            /* b read as an op on a's result: compose matches applying in sequence */
            ot_compose(&ab, &a, &b);
            int r1 = apply(&x, &da, &b);
            if (r1 == 0) {
                CHECK(apply(&y, &doc, &ab) == 0);
                CHECK(same(&x, &y));
            }
        }
    }
    ot_op_free(&a);
    ot_op_free(&b);
    ot_op_free(&t1);
    ot_op_free(&t2);
    ot_op_free(&ab);
    ot_buf_free(&doc);
    ot_buf_free(&da);
    ot_buf_free(&db);
    ot_buf_free(&x);
    ot_buf_free(&y);
    return 0;
}
