/* test_doc_ot.c: the step of a document op without a room, a connection or a store:
 * submit at the head, transform against concurrent ops, resubmissions, the window of
 * recent ops, the size limit and the snapshot cadence. */
#include "test.h"

#include <jansson.h>

#include "domain/doc_ot.h"

static docs_limits_t limits(void)
{
    docs_limits_t lim = {0};
    lim.max_size = 1024;
    lim.max_op = 1024;
    lim.max_components = 64;
    lim.log_window = 100;
    lim.log_max_bytes = 1 << 20;
    lim.snapshot_every = 1000;
    lim.max_open = 8;
    return lim;
}

static doc_t *doc_make(const docs_limits_t *lim)
{
    doc_t *d = calloc(1, sizeof(*d));
    doc_ot_init(d, lim->log_window, lim->log_max_bytes);
    return d;
}

static void doc_drop(doc_t *d)
{
    doc_ot_free(d);
    free(d);
}

static const char *text_of(const doc_t *d)
{
    return d->text.s ? d->text.s : "";
}

/* Submits the op written as JSON text by author with op_id, made on base; fills *res
 * (its delta is freed unless keep) and returns doc_ot_submit's result. */
static int submit_keep(doc_t *d, const docs_limits_t *lim, int64_t base, const char *delta,
                       const char *author, const char *op_id, doc_ot_result_t *res, int keep)
{
    json_error_t jerr;
    json_t *j = json_loads(delta, JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!j) {
        fprintf(stderr, "bad test JSON %s: %s\n", delta, jerr.text);
        abort();
    }
    doc_ot_op_t in = {.base = base, .delta = j, .author = author, .op_id = op_id};
    int rc = doc_ot_submit(d, &in, lim, res);
    json_decref(j);
    if (!keep) {
        free(res->delta);
        res->delta = NULL;
    }
    return rc;
}

static int submit(doc_t *d, const docs_limits_t *lim, int64_t base, const char *delta,
                  const char *author, const char *op_id, doc_ot_result_t *res)
{
    return submit_keep(d, lim, base, delta, author, op_id, res, 0);
}

/* 1 when the op's text (ot_op_to_text) is exactly want, else 0 with both on stderr. */
static int encodes_as(const char *got, const char *want)
{
    int eq = got && strcmp(got, want) == 0;
    if (!eq) fprintf(stderr, "  got %s, want %s\n", got ? got : "NULL", want);
    return eq;
}

static void test_submit_at_head(void)
{
    docs_limits_t lim = limits();
    doc_t *d = doc_make(&lim);
    doc_ot_result_t res;
    ASSERT_EQ(submit_keep(d, &lim, 0, "[\"hello\"]", "ua", "a1", &res, 1), DOC_OT_OK);
    ASSERT_EQ(res.version, 1);
    ASSERT_EQ(res.duplicate, 0);
    ASSERT_EQ(res.snapshot, 0);
    ASSERT_TRUE(res.why == NULL);
    ASSERT_TRUE(encodes_as(res.delta, "[\"hello\"]"));
    free(res.delta);
    ASSERT_EQ(d->version, 1);
    ASSERT_STREQ(text_of(d), "hello");
    ASSERT_EQ(d->log_len, 1);
    /* At the head again: nothing to transform, the op goes in as it came. */
    ASSERT_EQ(submit_keep(d, &lim, 1, "[5, \" world\"]", "ub", "", &res, 1), DOC_OT_OK);
    ASSERT_EQ(res.version, 2);
    ASSERT_TRUE(encodes_as(res.delta, "[5,\" world\"]"));
    free(res.delta);
    ASSERT_STREQ(text_of(d), "hello world");
    ASSERT_EQ(d->log_len, 2);
    doc_drop(d);
}

/* Two clients insert at the same place, both on version 1: the later one is transformed
 * and, as ShareDB does, goes left of the op already committed. */
static void test_concurrent_inserts(void)
{
    docs_limits_t lim = limits();
    doc_t *d = doc_make(&lim);
    doc_ot_result_t res;
    ASSERT_EQ(submit(d, &lim, 0, "[\"ac\"]", "ua", "", &res), DOC_OT_OK);
    ASSERT_EQ(submit(d, &lim, 1, "[1, \"X\"]", "ua", "", &res), DOC_OT_OK);
    ASSERT_EQ(submit_keep(d, &lim, 1, "[1, \"Y\"]", "ub", "", &res, 1), DOC_OT_OK);
    ASSERT_EQ(res.version, 3);
    ASSERT_TRUE(encodes_as(res.delta, "[1,\"Y\"]"));
    free(res.delta);
    ASSERT_STREQ(text_of(d), "aYXc");
    /* Inserted after the committed one: shifted past it. */
    ASSERT_EQ(submit_keep(d, &lim, 2, "[2, \"Z\"]", "uc", "", &res, 1), DOC_OT_OK);
    ASSERT_TRUE(encodes_as(res.delta, "[3,\"Z\"]"));
    free(res.delta);
    ASSERT_STREQ(text_of(d), "aYXZc");
    doc_drop(d);
}

/* A delete committed first; an insert made before it lands where its text went. */
static void test_delete_vs_insert(void)
{
    docs_limits_t lim = limits();
    doc_t *d = doc_make(&lim);
    doc_ot_result_t res;
    ASSERT_EQ(submit(d, &lim, 0, "[\"hello world\"]", "ua", "", &res), DOC_OT_OK);
    ASSERT_EQ(submit(d, &lim, 1, "[{\"d\": 6}]", "ua", "", &res), DOC_OT_OK);
    ASSERT_STREQ(text_of(d), "world");
    ASSERT_EQ(submit_keep(d, &lim, 1, "[11, \"!\"]", "ub", "", &res, 1), DOC_OT_OK);
    ASSERT_TRUE(encodes_as(res.delta, "[5,\"!\"]"));
    free(res.delta);
    ASSERT_STREQ(text_of(d), "world!");
    /* An insert inside the deleted text goes where the deletion was. */
    ASSERT_EQ(submit_keep(d, &lim, 1, "[3, \"p\"]", "uc", "", &res, 1), DOC_OT_OK);
    ASSERT_EQ(res.version, 4);
    ASSERT_TRUE(encodes_as(res.delta, "[\"p\"]"));
    free(res.delta);
    ASSERT_STREQ(text_of(d), "pworld!");
    /* And a delete made on the old text of what is gone already deletes nothing more. */
    ASSERT_EQ(submit_keep(d, &lim, 1, "[{\"d\": 5}]", "ud", "", &res, 1), DOC_OT_OK);
    ASSERT_TRUE(encodes_as(res.delta, "[]"));
    free(res.delta);
    ASSERT_STREQ(text_of(d), "pworld!");
    ASSERT_EQ(d->version, 5);
    doc_drop(d);
}

/* An op made several versions back is transformed against each op since. */
static void test_old_base(void)
{
    docs_limits_t lim = limits();
    doc_t *d = doc_make(&lim);
    doc_ot_result_t res;
    ASSERT_EQ(submit(d, &lim, 0, "[\"abc\"]", "ua", "", &res), DOC_OT_OK);
    ASSERT_EQ(submit(d, &lim, 1, "[\"1\"]", "ua", "", &res), DOC_OT_OK);
    ASSERT_EQ(submit(d, &lim, 2, "[\"2\"]", "ua", "", &res), DOC_OT_OK);
    ASSERT_EQ(submit(d, &lim, 3, "[5, \"3\"]", "ua", "", &res), DOC_OT_OK);
    ASSERT_STREQ(text_of(d), "21abc3");
    ASSERT_EQ(submit_keep(d, &lim, 1, "[3, \"!\"]", "ub", "", &res, 1), DOC_OT_OK);
    ASSERT_EQ(res.version, 5);
    ASSERT_TRUE(encodes_as(res.delta, "[5,\"!\"]"));
    free(res.delta);
    ASSERT_STREQ(text_of(d), "21abc!3");
    doc_drop(d);
}

/* A resubmission (same author, same op id) is recognised and changes nothing; the same op
 * id from someone else is another op. */
static void test_duplicate(void)
{
    docs_limits_t lim = limits();
    doc_t *d = doc_make(&lim);
    doc_ot_result_t res;
    ASSERT_EQ(submit(d, &lim, 0, "[\"x\"]", "ua", "a1", &res), DOC_OT_OK);
    ASSERT_EQ(submit(d, &lim, 1, "[1, \"y\"]", "ub", "b1", &res), DOC_OT_OK);
    ASSERT_EQ(submit(d, &lim, 0, "[\"x\"]", "ua", "a1", &res), DOC_OT_OK);
    ASSERT_EQ(res.duplicate, 1);
    ASSERT_EQ(res.version, 1);
    ASSERT_TRUE(res.delta == NULL);
    ASSERT_EQ(d->version, 2);
    ASSERT_STREQ(text_of(d), "xy");
    ASSERT_EQ(submit(d, &lim, 1, "[1, \"y\"]", "ub", "b1", &res), DOC_OT_OK);
    ASSERT_EQ(res.duplicate, 1);
    ASSERT_EQ(res.version, 2);
    /* Another author with the same op id. */
    ASSERT_EQ(submit(d, &lim, 0, "[\"x\"]", "uc", "a1", &res), DOC_OT_OK);
    ASSERT_EQ(res.duplicate, 0);
    ASSERT_EQ(res.version, 3);
    ASSERT_STREQ(text_of(d), "xxy");
    /* Without an op id nothing is a resubmission. */
    ASSERT_EQ(submit(d, &lim, 2, "[\"z\"]", "ua", "", &res), DOC_OT_OK);
    ASSERT_EQ(submit(d, &lim, 2, "[\"z\"]", "ua", "", &res), DOC_OT_OK);
    ASSERT_EQ(res.duplicate, 0);
    ASSERT_EQ(d->version, 5);
    doc_drop(d);
}

static void test_versions_refused(void)
{
    docs_limits_t lim = limits();
    lim.log_window = 2;
    doc_t *d = doc_make(&lim);
    doc_ot_result_t res;
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(submit(d, &lim, i, "[\"a\"]", "ua", "", &res), DOC_OT_OK);
    ASSERT_EQ(d->version, 4);
    ASSERT_EQ(d->log_len, 2);
    /* In the future. */
    ASSERT_EQ(submit(d, &lim, 5, "[\"b\"]", "ua", "", &res), DOC_OT_EAHEAD);
    /* The window reaches back to version 2 (ops 3 and 4 kept): 1 is too old. */
    ASSERT_EQ(submit(d, &lim, 1, "[\"b\"]", "ua", "", &res), DOC_OT_ETOO_OLD);
    ASSERT_EQ(d->version, 4);
    ASSERT_STREQ(text_of(d), "aaaa");
    ASSERT_EQ(submit(d, &lim, 2, "[\"b\"]", "ua", "", &res), DOC_OT_OK);
    ASSERT_EQ(res.version, 5);
    doc_drop(d);
}

static void test_invalid_ops(void)
{
    docs_limits_t lim = limits();
    lim.max_components = 3;
    doc_t *d = doc_make(&lim);
    doc_ot_result_t res;
    ASSERT_EQ(submit(d, &lim, 0, "[\"abc\"]", "ua", "", &res), DOC_OT_OK);
    ASSERT_EQ(submit(d, &lim, 1, "{\"x\": 1}", "ua", "", &res), DOC_OT_EINVALID);
    ASSERT_STREQ(res.why, "op must be an array");
    ASSERT_EQ(submit(d, &lim, 1, "[1, \"a\", 1, \"b\"]", "ua", "", &res), DOC_OT_EINVALID);
    ASSERT_STREQ(res.why, "too many components");
    ASSERT_EQ(submit(d, &lim, 1, "[1, \"a\\u0000b\"]", "ua", "", &res), DOC_OT_EINVALID);
    ASSERT_STREQ(res.why, "U+0000 is not allowed in documents");
    ASSERT_EQ(submit(d, &lim, 1, "[10, \"x\"]", "ua", "", &res), DOC_OT_EINVALID);
    ASSERT_STREQ(res.why, "the op runs past the end of the document");
    ASSERT_TRUE(res.delta == NULL);
    ASSERT_EQ(d->version, 1);
    ASSERT_EQ(d->log_len, 1);
    ASSERT_STREQ(text_of(d), "abc");
    doc_drop(d);
}

/* The size limit is the text's JSON encoding; a refused op changes nothing. */
static void test_size_limit(void)
{
    docs_limits_t lim = limits();
    lim.max_size = 8;
    doc_t *d = doc_make(&lim);
    doc_ot_result_t res;
    ASSERT_EQ(submit(d, &lim, 0, "[\"12345678\"]", "ua", "", &res), DOC_OT_OK);
    ASSERT_EQ(submit(d, &lim, 1, "[8, \"9\"]", "ua", "", &res), DOC_OT_ETOO_LARGE);
    ASSERT_EQ(d->version, 1);
    ASSERT_STREQ(text_of(d), "12345678");
    /* Escapes count as encoded: two newlines are four bytes. */
    ASSERT_EQ(submit(d, &lim, 1, "[{\"d\": 8}, \"\\n\\n\\n\\n\\n\"]", "ua", "", &res),
              DOC_OT_ETOO_LARGE);
    ASSERT_EQ(submit(d, &lim, 1, "[{\"d\": 8}, \"\\n\\n\\n\\n\"]", "ua", "", &res), DOC_OT_OK);
    ASSERT_EQ(d->version, 2);
    ASSERT_STREQ(text_of(d), "\n\n\n\n");
    doc_drop(d);
}

static void test_snapshot_cadence(void)
{
    docs_limits_t lim = limits();
    lim.snapshot_every = 3;
    doc_t *d = doc_make(&lim);
    doc_ot_result_t res;
    int snaps = 0;
    for (int i = 0; i < 7; i++) {
        ASSERT_EQ(submit(d, &lim, i, "[\"a\"]", "ua", "", &res), DOC_OT_OK);
        if (res.snapshot) {
            snaps++;
            ASSERT_EQ(res.version % 3, 0);
            ASSERT_EQ(d->snapshot_version, res.version);
        }
    }
    ASSERT_EQ(snaps, 2);
    ASSERT_EQ(d->snapshot_version, 6);
    doc_drop(d);
}

/* The window keeps at most log_max_bytes of ops, but always the newest. */
static void test_window_bytes(void)
{
    docs_limits_t lim = limits();
    lim.log_max_bytes = 1; /* below any entry */
    doc_t *d = doc_make(&lim);
    doc_ot_result_t res;
    ASSERT_EQ(submit(d, &lim, 0, "[\"a\"]", "ua", "a1", &res), DOC_OT_OK);
    ASSERT_EQ(submit(d, &lim, 1, "[\"b\"]", "ua", "a2", &res), DOC_OT_OK);
    ASSERT_EQ(d->log_len, 1);
    ASSERT_EQ(submit(d, &lim, 1, "[\"b\"]", "ua", "a2", &res), DOC_OT_OK);
    ASSERT_EQ(res.duplicate, 1); /* the newest is still recognised */
    ASSERT_EQ(submit(d, &lim, 0, "[\"a\"]", "ua", "a1", &res), DOC_OT_ETOO_OLD);
    doc_ot_log_clear(d);
    ASSERT_EQ(d->log_len, 0);
    ASSERT_EQ(d->log_bytes, 0);
    doc_drop(d);
}

int main(void)
{
    RUN(test_submit_at_head);
    RUN(test_concurrent_inserts);
    RUN(test_delete_vs_insert);
    RUN(test_old_base);
    RUN(test_duplicate);
    RUN(test_versions_refused);
    RUN(test_invalid_ops);
    RUN(test_size_limit);
    RUN(test_snapshot_cadence);
    RUN(test_window_bytes);
    TEST_MAIN_END();
}
