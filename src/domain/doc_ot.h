/* doc_ot.h: the pure step of a document op. A document's text, version and window of
 * recent ops are in memory (doc_t, docs.h); an op made on an older version is transformed
 * against the ops committed since, applied as the next version and logged. No I/O, no
 * clock, no connection: docs.c checks the limits and quotas, stores the result and hands the
 * event to the bus; home_docs.c checks the caller, proto_docs.c its connection. */
#ifndef CHORUS_DOC_OT_H
#define CHORUS_DOC_OT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "domain/docs.h"
#include "domain/ot_text.h"

/* Results of doc_ot_submit and doc_ot_apply. */
enum {
    DOC_OT_OK = 0,
    DOC_OT_EAHEAD = -1,     /* the op's base version is above the document's */
    DOC_OT_ETOO_OLD = -2,   /* the base left the window of recent ops: reload the document */
    DOC_OT_EINVALID = -3,   /* the op is malformed or does not apply (why says which) */
    DOC_OT_ETOO_LARGE = -4, /* the text would pass max_size */
};

/* An op as a client submitted it (every pointer borrowed). */
typedef struct {
    int64_t base;        /* the version it was made on */
    const json_t *delta; /* the ot-text-unicode op */
    const char *author;  /* user id */
    const char *op_id;   /* the client's id of the op ("" = none): a resubmission with
                          * the same author and op_id is recognised, not applied twice */
} doc_ot_op_t;

/* What a submitted op became. */
typedef struct {
    int64_t version; /* the version it got (a duplicate: the version it got before) */
    int duplicate;   /* applied before: nothing changed, delta is NULL */
    char *delta;     /* the op as applied (transformed), as Jansson writes its JSON
                      * (ot_op_to_text): new, NUL-terminated, what is stored and sent to
                      * the others */
    size_t delta_len;
    int snapshot;    /* a snapshot of the text is due with this version (the
                      * document's snapshot_version is set to it) */
    const char *why; /* DOC_OT_EINVALID: why, a static text */
} doc_ot_result_t;

/* Initialises d's text and op window (d zeroed): at most log_window ops (1 when 0) holding
 * at most log_max_bytes together. Release with doc_ot_free. */
void doc_ot_init(doc_t *d, size_t log_window, size_t log_max_bytes);
void doc_ot_free(doc_t *d);

/* Submits op to d under lim (max_components, max_size, snapshot_every): checks its base,
 * parses and transforms it against every op since base (ShareDB's convention: the
 * submitted op goes left), and applies and logs it as the next version. Returns DOC_OT_OK
 * with *out filled (the caller owns out->delta), or DOC_OT_EAHEAD, DOC_OT_ETOO_OLD,
 * DOC_OT_EINVALID (out->why), DOC_OT_ETOO_LARGE; nothing changes then. Borrows op and
 * lim. */
int doc_ot_submit(doc_t *d, const doc_ot_op_t *op, const docs_limits_t *lim,
                  doc_ot_result_t *out);

/* Applies op (borrowed; made on d's current version) as the next version and logs it by
 * author / op_id (borrowed; op_id may be NULL). Returns DOC_OT_OK, DOC_OT_EINVALID (*why,
 * when why is not NULL: a static text) or DOC_OT_ETOO_LARGE (the JSON-encoded text would
 * pass max_size); nothing changes then. */
int doc_ot_apply(doc_t *d, const ot_op_t *op, size_t max_size, const char *author,
                 const char *op_id, const char **why);

/* Appends op (copied) as the op of version (the newest) to d's window, dropping the oldest
 * ops past its count or bytes (the newest always stays). Borrows author and op_id (may be
 * NULL). */
void doc_ot_log_push(doc_t *d, int64_t version, const ot_op_t *op, const char *author,
                     const char *op_id);

/* Empties d's window, freeing what its ops hold. */
void doc_ot_log_clear(doc_t *d);

#endif
