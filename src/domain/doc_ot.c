/* doc_ot.c: the pure step of a document op: order, transform, apply and log (doc_ot.h).
 * The OT itself is ot_text.c; docs.c does the storing and the sending. */
#include "domain/doc_ot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"
#include "util/utf8.h"

void doc_ot_init(doc_t *d, size_t log_window, size_t log_max_bytes)
{
    ot_buf_init(&d->text);
    ot_buf_init(&d->scratch);
    d->log_cap = log_window ? log_window : 1;
    d->log_max_bytes = log_max_bytes;
    /* The window grows with the document's history, so an idle document is small. */
    d->log_alloc = d->log_cap < 16 ? d->log_cap : 16;
    d->log = ch_calloc(d->log_alloc, sizeof(*d->log));
    for (size_t i = 0; i < d->log_alloc; i++)
        ot_op_init(&d->log[i].op);
}

void doc_ot_free(doc_t *d)
{
    for (size_t i = 0; i < d->log_alloc; i++)
        ot_op_free(&d->log[i].op);
    free(d->log);
    ot_buf_free(&d->text);
    ot_buf_free(&d->scratch);
}

/* The log entry of version v, or NULL when it left the window. */
static doc_logent_t *log_at(doc_t *d, int64_t v)
{
    int64_t first = d->version - (int64_t)d->log_len + 1;
    if (v < first || v > d->version) return NULL;
    size_t back = (size_t)(d->version - v); /* 0 = newest */
    size_t idx = (d->log_head + d->log_alloc - 1 - back) % d->log_alloc;
    return &d->log[idx];
}

/* Memory an entry's op holds: its buffers (their capacity, which is what stays
 * allocated) and the entry itself. */
static size_t logent_bytes(const doc_logent_t *e)
{
    return sizeof(*e) + e->op.cap * sizeof(*e->op.c) + e->op.text_cap;
}

/* Drops the oldest entry of a non-empty log and frees what its op holds. */
static void log_drop_oldest(doc_t *d)
{
    doc_logent_t *e = &d->log[(d->log_head + d->log_alloc - d->log_len) % d->log_alloc];
    d->log_bytes -= e->bytes;
    e->bytes = 0;
    ot_op_free(&e->op);
    d->log_len--;
}

void doc_ot_log_clear(doc_t *d)
{
    while (d->log_len)
        log_drop_oldest(d);
    d->log_head = 0;
}

/* The oldest entries go while there are log_cap of them or they hold more than
 * log_max_bytes together (the newest stays, so its resubmission is still recognised). */
void doc_ot_log_push(doc_t *d, int64_t version, const ot_op_t *op, const char *author,
                     const char *op_id)
{
    if (d->log_len == d->log_alloc && d->log_alloc == d->log_cap) log_drop_oldest(d);
    if (d->log_len == d->log_alloc && d->log_alloc < d->log_cap) {
        /* Full: the entries move, oldest first, to the start of a larger ring (the ring
         * may have wrapped once entries were dropped for their bytes). */
        size_t n = d->log_alloc * 2 < d->log_cap ? d->log_alloc * 2 : d->log_cap;
        doc_logent_t *grown = ch_calloc(n, sizeof(*grown));
        for (size_t i = 0; i < d->log_len; i++)
            grown[i] = d->log[(d->log_head + i) % d->log_alloc];
        for (size_t i = d->log_len; i < n; i++)
            ot_op_init(&grown[i].op);
        free(d->log);
        d->log = grown;
        d->log_head = d->log_len;
        d->log_alloc = n;
    }
    doc_logent_t *e = &d->log[d->log_head];
    ot_op_copy(&e->op, op);
    e->version = version;
    snprintf(e->author, sizeof(e->author), "%s", author);
    snprintf(e->op_id, sizeof(e->op_id), "%s", op_id ? op_id : "");
    e->bytes = logent_bytes(e);
    d->log_bytes += e->bytes;
    d->log_head = (d->log_head + 1) % d->log_alloc;
    d->log_len++;
    while (d->log_len > 1 && d->log_bytes > d->log_max_bytes)
        log_drop_oldest(d);
}

int doc_ot_apply(doc_t *d, const ot_op_t *op, size_t max_size, const char *author,
                 const char *op_id, const char **why)
{
    int rc = ot_apply(&d->scratch, d->text.s ? d->text.s : "", d->text.len, d->text.cp, op);
    if (rc != 0) {
        if (why)
            *why = rc == OT_EPAST_END ? "the op runs past the end of the document"
                                      : "the op cannot be applied";
        return DOC_OT_EINVALID;
    }
    /* The size is the text's JSON encoding, what a doc_open reply carries: the raw
     * length is a lower bound, six times it an upper one. */
    if (d->scratch.len > max_size || (d->scratch.len > max_size / 6 &&
                                      utf8_json_len(d->scratch.s, d->scratch.len) > max_size))
        return DOC_OT_ETOO_LARGE;
    ot_buf_swap(&d->text, &d->scratch);
    d->version++;
    doc_ot_log_push(d, d->version, op, author, op_id);
    return DOC_OT_OK;
}

int doc_ot_submit(doc_t *d, const doc_ot_op_t *in, const docs_limits_t *lim,
                  doc_ot_result_t *out)
{
    memset(out, 0, sizeof(*out));
    if (in->base > d->version) return DOC_OT_EAHEAD;
    if (in->base < d->version - (int64_t)d->log_len) return DOC_OT_ETOO_OLD;
    ot_op_t op, tmp;
    ot_op_init(&op);
    ot_op_init(&tmp);
    out->why = "invalid op";
    int rc = DOC_OT_OK;
    if (ot_op_from_json(&op, in->delta, lim->max_components, &out->why) != 0) {
        rc = DOC_OT_EINVALID;
        goto done;
    }
    if (op.text_len && memchr(op.text, 0, op.text_len)) {
        out->why = "U+0000 is not allowed in documents";
        rc = DOC_OT_EINVALID;
        goto done;
    }
    /* Transform against everything committed since base; a resubmission is recognised
     * by its opId on the way (ShareDB's convention: the submitted op goes left). */
    for (int64_t v = in->base + 1; v <= d->version; v++) {
        doc_logent_t *e = log_at(d, v);
        if (in->op_id[0] && strcmp(e->op_id, in->op_id) == 0 &&
            strcmp(e->author, in->author) == 0) {
            out->duplicate = 1;
            out->version = v;
            goto done;
        }
        ot_transform(&tmp, &op, &e->op, OT_LEFT);
        ot_op_t swap = op;
        op = tmp;
        tmp = swap;
    }
    rc = doc_ot_apply(d, &op, lim->max_size, in->author, in->op_id, &out->why);
    if (rc != DOC_OT_OK) goto done;
    out->version = d->version;
    out->delta = ot_op_to_text(&op, &out->delta_len);
    if (d->version - d->snapshot_version >= lim->snapshot_every) {
        out->snapshot = 1;
        d->snapshot_version = d->version;
    }
done:
    if (rc == DOC_OT_OK) out->why = NULL;
    ot_op_free(&op);
    ot_op_free(&tmp);
    return rc;
}
