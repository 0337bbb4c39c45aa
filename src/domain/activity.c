/* activity.c: the activity stream's aggregation: bursts of notes per user, kind and target,
 * flushed when idle, when their user leaves or when the room goes (activity.h). */
#include "domain/activity.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

/* Whether kind gathers per target (a document) or per user only (entity moves: the
 * target is the last entity moved). */
static int per_target(const char *kind)
{
    return strcmp(kind, ACTIVITY_ENTITY_MOVED) != 0;
}

static void take(activity_agg_t *agg, size_t i, activity_emit_fn emit, void *ud)
{
    emit(ud, &agg->b[i]);
    memmove(&agg->b[i], &agg->b[i + 1], (agg->n - i - 1) * sizeof(*agg->b));
    agg->n--;
}

void activity_agg_note(activity_agg_t *agg, const char *kind, const char *user_id,
                       const char *name, const char *target, uint64_t count, uint64_t plus,
                       uint64_t minus, int64_t now, int64_t span_ms, activity_emit_fn emit,
                       void *ud)
{
    for (size_t i = 0; i < agg->n; i++) {
        activity_burst_t *b = &agg->b[i];
        if (strcmp(b->kind, kind) != 0 || strcmp(b->user_id, user_id) != 0 ||
            (per_target(kind) && strcmp(b->target, target) != 0))
            continue;
        if (span_ms > 0 && now - b->first_at >= span_ms) {
            take(agg, i, emit, ud); /* long enough: written, and a new one begins */
            break;
        }
        b->count += count;
        b->plus += plus;
        b->minus += minus;
        if (now > b->last_at) b->last_at = now;
        /* Copied only when they changed: this runs for every message, op and move. */
        if (!per_target(kind) && strcmp(b->target, target) != 0)
            snprintf(b->target, sizeof(b->target), "%s", target);
        if (strcmp(b->display_name, name) != 0)
            snprintf(b->display_name, sizeof(b->display_name), "%s", name);
        return;
    }
    if (agg->n == ACTIVITY_BURSTS_MAX) take(agg, 0, emit, ud);
    if (agg->n == agg->cap) {
        agg->cap = agg->cap ? agg->cap * 2 : 4;
        agg->b = ch_realloc(agg->b, agg->cap * sizeof(*agg->b));
    }
    activity_burst_t *b = &agg->b[agg->n++];
    memset(b, 0, sizeof(*b));
    snprintf(b->kind, sizeof(b->kind), "%s", kind);
    snprintf(b->user_id, sizeof(b->user_id), "%s", user_id);
    snprintf(b->display_name, sizeof(b->display_name), "%s", name);
    snprintf(b->target, sizeof(b->target), "%s", target);
    b->first_at = b->last_at = now;
    b->count = count;
    b->plus = plus;
    b->minus = minus;
}

size_t activity_agg_flush(activity_agg_t *agg, int64_t now, int64_t idle_ms,
                          const char *user_id, int all, activity_emit_fn emit, void *ud)
{
    size_t went = 0;
    for (size_t i = 0; i < agg->n;) {
        const activity_burst_t *b = &agg->b[i];
        if (all || now - b->last_at >= idle_ms ||
            (user_id && strcmp(b->user_id, user_id) == 0)) {
            take(agg, i, emit, ud);
            went++;
        } else {
            i++;
        }
    }
    if (agg->n == 0) activity_agg_free(agg);
    return went;
}

void activity_agg_free(activity_agg_t *agg)
{
    free(agg->b);
    memset(agg, 0, sizeof(*agg));
}

json_t *activity_burst_data(const activity_burst_t *b)
{
    json_int_t ms = (json_int_t)(b->last_at - b->first_at);
    if (strcmp(b->kind, ACTIVITY_DOC_EDITED) == 0)
        return json_pack("{s:s, s:I, s:I, s:I, s:I}", "doc", b->target, "ops",
                         (json_int_t)b->count, "inserted", (json_int_t)b->plus, "deleted",
                         (json_int_t)b->minus, "ms", ms);
    if (strcmp(b->kind, ACTIVITY_ENTITY_MOVED) == 0)
        return json_pack("{s:s, s:I, s:I}", "entity", b->target, "count", (json_int_t)b->count,
                         "ms", ms);
    if (b->target[0])
        return json_pack("{s:s, s:I, s:I}", "doc", b->target, "count", (json_int_t)b->count,
                         "ms", ms);
    return json_pack("{s:I, s:I}", "count", (json_int_t)b->count, "ms", ms);
}

void activity_op_counts(const ot_op_t *op, uint64_t *plus, uint64_t *minus)
{
    *plus = *minus = 0;
    for (size_t i = 0; i < op->n; i++) {
        if (op->c[i].kind == OT_INSERT) *plus += op->c[i].n;
        if (op->c[i].kind == OT_DELETE) *minus += op->c[i].n;
    }
}
