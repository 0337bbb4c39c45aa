/* api_audit.c: the audit trail's bounds: failures folded per source and window
 * (audit_agg.h), and rows older than --audit-retention pruned. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto/api.h"
#include "util/clock.h"
#include "util/mem.h"

/* Prunes at most this often (and at start), however long the retention. */
#define API_AUDIT_PRUNE_EVERY_MS 3600000ULL

static void on_row_done(store_req_t *req)
{
    free(req);
}

static void audit_emit(void *ud, const store_audit_t *row)
{
    api_t *a = ud;
    store_req_t *req = ch_calloc(1, sizeof(*req));
    req->type = STORE_AUDIT;
    req->cb = on_row_done;
    req->audit = *row;
    store_submit(a->store, req);
}

static void prune_submit(api_t *a, int64_t cutoff);

static void on_prune_done(store_req_t *req)
{
    api_t *a = req->data;
    int more = req->err == STORE_OK && req->audit.count == STORE_AUDIT_PRUNE_BATCH;
    int64_t cutoff = req->audit.at;
    free(req);
    a->audit_pruning = 0;
    /* More to delete: one short transaction at a time, unless the API is closing. */
    if (more && a->audit_agg) prune_submit(a, cutoff);
}

static void prune_submit(api_t *a, int64_t cutoff)
{
    a->audit_pruning = 1;
    store_req_t *req = ch_calloc(1, sizeof(*req));
    req->type = STORE_AUDIT_PRUNE;
    req->cb = on_prune_done;
    req->data = a;
    req->audit.at = cutoff;
    store_submit(a->store, req);
}

/* Deletes the audit rows older than --audit-retention (unless a prune is running). */
static void prune_start(api_t *a)
{
    if (a->audit_pruning) return;
    a->audit_pruned_ms = uv_now(a->loop);
    prune_submit(a, clock_unix_ms() - (int64_t)a->cfg->audit_retention);
}

static void on_audit_timer(uv_timer_t *t)
{
    api_t *a = t->data;
    audit_agg_flush(a->audit_agg, clock_unix_ms(), audit_emit, a);
    uint64_t every = a->cfg->audit_retention < API_AUDIT_PRUNE_EVERY_MS
                         ? a->cfg->audit_retention
                         : API_AUDIT_PRUNE_EVERY_MS;
    if (uv_now(a->loop) - a->audit_pruned_ms >= every) prune_start(a);
}

void api_audit_start(api_t *a)
{
    a->audit_agg = audit_agg_new((size_t)a->cfg->audit_max_sources);
    uv_timer_init(a->loop, &a->audit_timer);
    a->audit_timer.data = a;
    uv_timer_start(&a->audit_timer, on_audit_timer, a->cfg->audit_window,
                   a->cfg->audit_window);
    uv_unref((uv_handle_t *)&a->audit_timer);
    prune_start(a);
}

void api_audit_stop(api_t *a)
{
    /* The window's counts go to the store before it closes. */
    audit_agg_flush(a->audit_agg, clock_unix_ms(), audit_emit, a);
    audit_agg_free(a->audit_agg);
    a->audit_agg = NULL;
    uv_close((uv_handle_t *)&a->audit_timer, NULL);
}

const char *const api_auth_fail_names[API_AUTH_FAIL_N] = {"token", "password", "other"};

void api_audit_failure(api_t *a, const char *event, const char *user_id, const char *ip,
                       const char *detail)
{
    if (strcmp(event, "token_rejected") == 0)
        a->auth_failures[API_AUTH_FAIL_TOKEN]++;
    else if (strcmp(event, "login_failed") == 0)
        a->auth_failures[API_AUTH_FAIL_PASSWORD]++;
    else
        a->auth_failures[API_AUTH_FAIL_OTHER]++;
    store_audit_t ev;
    memset(&ev, 0, sizeof(ev));
    snprintf(ev.event, sizeof(ev.event), "%s", event);
    snprintf(ev.user_id, sizeof(ev.user_id), "%s", user_id ? user_id : "");
    snprintf(ev.ip, sizeof(ev.ip), "%s", ip ? ip : "");
    snprintf(ev.detail, sizeof(ev.detail), "%s", detail ? detail : "");
    if (a->audit_agg && !audit_agg_add(a->audit_agg, &ev)) return; /* counted */
    api_audit(a, event, user_id, ip, detail);
}
