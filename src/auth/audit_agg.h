/* audit_agg.h: folds repeated failure events (refused tokens, failed logins) into one
 * audit row per source per window, so a flood of failures costs a bounded number of rows
 * (pure: the caller runs the window and writes the rows). */
#ifndef CHORUS_AUDIT_AGG_H
#define CHORUS_AUDIT_AGG_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

typedef struct audit_agg_s audit_agg_t;

/* Returns a new aggregator tracking at most max_sources (>= 1) sources per window; free
 * with audit_agg_free. A source is (event, client address with IPv6 grouped by /64, user
 * id). */
audit_agg_t *audit_agg_new(size_t max_sources);

/* Frees g; NULL is ignored. */
void audit_agg_free(audit_agg_t *g);

/* Counts the failure ev (borrowed). Returns 1 when ev is the first of its source in this
 * window: the caller writes it at once, as is. Returns 0 when it was counted instead: the
 * next audit_agg_flush writes one row for all of them. Sources past max_sources are
 * counted together, in one row per window with ip "*". */
int audit_agg_add(audit_agg_t *g, const store_audit_t *ev);

/* Ends the window: calls emit(ud, row) (row borrowed for the call) once per source that
 * repeated, with row->count = the repeats, row->at = now_ms and the last detail, then
 * forgets every source. Returns the number of rows emitted. */
size_t audit_agg_flush(audit_agg_t *g, int64_t now_ms,
                       void (*emit)(void *ud, const store_audit_t *row), void *ud);

/* Returns the number of sources held. */
size_t audit_agg_count(const audit_agg_t *g);

#endif
