/* webhook_send.c: the webhook sender (webhook_send.h). A delivery in flight is a
 * wh_flight_t: its row (read by HOOK_DUE), its HTTP call, then its HOOK_UPDATE; the next
 * delivery of its room is read only after that update committed. */
#include "app/webhook_send.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util/clock.h"
#include "util/mem.h"

/* Deliveries' replies are not read: a little of the body is kept for the log. */
#define WH_MAX_REPLY 4096
/* How often finished deliveries older than the retention are pruned. */
#define WH_PRUNE_EVERY_MS 60000

struct wh_flight_s {
    wh_flight_t *next;
    webhook_send_t *s;
    store_hook_t row; /* row.body owned */
    uint64_t call_id;
    int posted; /* an HTTP call is out */
    int outcome;
    store_req_t req;
    store_hooks_t upd;
    char hdr[5][160];
    const char *hdrs[5];
};

static void look(webhook_send_t *s);

static void flight_free(webhook_send_t *s, wh_flight_t *f)
{
    for (wh_flight_t **pp = &s->flights; *pp; pp = &(*pp)->next)
        if (*pp == f) {
            *pp = f->next;
            break;
        }
    s->nflights--;
    free(f->row.body);
    free(f);
}

static const webhook_endpoint_t *endpoint_of(const webhooks_t *w, const char *name)
{
    for (size_t i = 0; i < w->neps; i++)
        if (strcmp(w->eps[i].name, name) == 0) return &w->eps[i];
    return NULL;
}

static void on_updated(store_req_t *req)
{
    wh_flight_t *f = req->data;
    webhook_send_t *s = f->s;
    if (req->err == STORE_OK) {
        if (f->outcome == WEBHOOK_DELIVERED || f->outcome == WEBHOOK_DEAD)
            if (s->hooks->pending > 0) s->hooks->pending--;
        if (f->outcome == WEBHOOK_DELIVERED) s->delivered++;
        if (f->outcome == WEBHOOK_RETRY) s->retried++;
        if (f->outcome == WEBHOOK_DEAD) {
            s->dead++;
            log_warn(s->log, "webhook %s (%s) dead-lettered after %lld attempts: %s", f->row.id,
                     f->row.type, (long long)f->row.attempts, f->upd.row.last_error);
        }
    }
    flight_free(s, f);
    /* The room's next delivery, if any, is due now. */
    if (!s->closing) look(s);
}

static void describe(const http_call_res_t *res, char *out, size_t cap)
{
    switch (res->err) {
    case 0:
        snprintf(out, cap, "HTTP %d", res->status);
        break;
    case -ETIMEDOUT:
        snprintf(out, cap, "timeout");
        break;
    case -ECONNREFUSED:
        snprintf(out, cap, "connection refused");
        break;
    case -EHOSTUNREACH:
        snprintf(out, cap, "host unreachable");
        break;
    case -E2BIG:
        snprintf(out, cap, "reply too large");
        break;
    case -ECANCELED:
        snprintf(out, cap, "cancelled");
        break;
    case -ENOBUFS:
        snprintf(out, cap, "client queue full");
        break;
    default:
        snprintf(out, cap, "request failed");
        break;
    }
}

/* Writes f's outcome (f->upd) back to its row; on_updated frees f. */
static void write_outcome(webhook_send_t *s, wh_flight_t *f)
{
    memset(&f->req, 0, sizeof(f->req));
    f->req.type = STORE_HOOK_UPDATE;
    f->req.hooks = &f->upd;
    f->req.cb = on_updated;
    f->req.data = f;
    store_submit(s->store, &f->req);
}

/* An attempt ended (or could not start: res->err -ENOBUFS): its outcome is written back. */
static void attempt_done(wh_flight_t *f, const http_call_res_t *res)
{
    webhook_send_t *s = f->s;
    f->posted = 0;
    int64_t now = clock_unix_ms();
    int counted = res->err != -ECANCELED && res->err != -ENOBUFS;
    uint32_t attempts = (uint32_t)f->row.attempts + (counted ? 1 : 0);
    uint64_t next_at = 0;
    f->outcome = (int)webhook_outcome(&s->retry, res->err, res->status, attempts ? attempts : 1,
                                      (uint64_t)now, randombytes_random(), &next_at);
    store_hook_t *u = &f->upd.row;
    memset(u, 0, sizeof(*u));
    u->seq = f->row.seq;
    u->attempts = attempts;
    u->updated_at = now;
    u->last_status = res->err == 0 ? res->status : 0;
    if (f->outcome == WEBHOOK_DELIVERED) {
        u->state = STORE_HOOK_DELIVERED;
        u->next_at = f->row.next_at;
    } else {
        describe(res, u->last_error, sizeof(u->last_error));
        u->state = f->outcome == WEBHOOK_DEAD ? STORE_HOOK_DEAD : STORE_HOOK_PENDING;
        u->next_at = f->outcome == WEBHOOK_DEAD ? f->row.next_at : (int64_t)next_at;
    }
    if (s->closing) {
        /* Left pending as it is: it goes again at the next start. */
        flight_free(s, f);
        return;
    }
    f->row.attempts = attempts;
    write_outcome(s, f);
}

static void on_http(void *ud, const http_call_res_t *res)
{
    attempt_done(ud, res);
}

static void send_one(webhook_send_t *s, wh_flight_t *f)
{
    const webhook_endpoint_t *ep = endpoint_of(s->hooks, f->row.endpoint);
    http_call_res_t res = {.err = -ENOBUFS};
    if (!ep && strcmp(f->row.endpoint, "default") == 0) {
        /* The configuration's endpoint, no longer configured: its deliveries wait for it. */
        flight_free(s, f);
        return;
    }
    if (!ep) {
        /* An endpoint the API deleted: what was queued for it while the delete was being
         * written is dead-lettered like the rest, instead of holding the queue. */
        store_hook_t *u = &f->upd.row;
        memset(u, 0, sizeof(*u));
        u->seq = f->row.seq;
        u->state = STORE_HOOK_DEAD;
        u->attempts = f->row.attempts;
        u->next_at = f->row.next_at;
        u->updated_at = clock_unix_ms();
        snprintf(u->last_error, sizeof(u->last_error), "endpoint deleted");
        f->outcome = WEBHOOK_DEAD;
        write_outcome(s, f);
        return;
    }
    int64_t ts = clock_unix_ms() / 1000;
    size_t len = strlen(f->row.body);
    char sig[WEBHOOK_SIG_HEX + 1];
    webhook_sign(ep->secret, ts, f->row.body, len, sig);
    snprintf(f->hdr[0], sizeof(f->hdr[0]), "Content-Type: application/json");
    snprintf(f->hdr[1], sizeof(f->hdr[1]), "X-Chorus-Delivery: %s", f->row.id);
    snprintf(f->hdr[2], sizeof(f->hdr[2]), "X-Chorus-Event: %s", f->row.type);
    snprintf(f->hdr[3], sizeof(f->hdr[3]), "X-Chorus-Timestamp: %lld", (long long)ts);
    snprintf(f->hdr[4], sizeof(f->hdr[4]), "X-Chorus-Signature: v1=%s", sig);
    for (int i = 0; i < 5; i++)
        f->hdrs[i] = f->hdr[i];
    http_call_req_t req = {.url = ep->url,
                           .headers = f->hdrs,
                           .nheaders = 5,
                           .body = f->row.body,
                           .body_len = len,
                           .timeout_ms = s->timeout_ms,
                           .max_reply = WH_MAX_REPLY};
    f->posted = 1;
    if (s->http->post(s->http->impl, &req, on_http, f, &f->call_id) != 0) attempt_done(f, &res);
}

static int in_flight(const webhook_send_t *s, const store_hook_t *row)
{
    for (const wh_flight_t *f = s->flights; f; f = f->next)
        if (f->row.seq == row->seq || (strcmp(f->row.endpoint, row->endpoint) == 0 &&
                                       strcmp(f->row.room_id, row->room_id) == 0))
            return 1;
    return 0;
}

static void on_due(store_req_t *req)
{
    webhook_send_t *s = req->data;
    s->due_busy = 0;
    if (req->err == STORE_OK && !s->closing) {
        s->hooks->pending = s->due.pending;
        for (size_t i = 0; i < s->due.nrows && s->nflights < s->max_inflight; i++) {
            store_hook_t *row = &s->due.rows[i];
            if (in_flight(s, row)) continue;
            wh_flight_t *f = ch_calloc(1, sizeof(*f));
            f->s = s;
            f->row = *row;
            row->body = NULL; /* the flight's now */
            f->next = s->flights;
            s->flights = f;
            s->nflights++;
            send_one(s, f);
        }
    }
    store_hooks_free(&s->due);
    if (s->again && !s->closing) {
        s->again = 0;
        look(s);
    }
}

static void on_pruned(store_req_t *req)
{
    webhook_send_t *s = req->data;
    s->prune_busy = 0;
    /* A full batch: more rows are due; the next look prunes again rather than in a
     * minute (a batch a minute falls behind the deliveries). */
    if (req->err == STORE_OK && s->prune.pending == STORE_AUDIT_PRUNE_BATCH) s->last_prune = 0;
    store_hooks_free(&s->prune);
}

static void look(webhook_send_t *s)
{
    if (s->closing || !s->http->post) return;
    int64_t now = clock_unix_ms();
    if (!s->prune_busy && now - s->last_prune >= WH_PRUNE_EVERY_MS) {
        s->last_prune = now;
        s->prune_busy = 1;
        memset(&s->prune, 0, sizeof(s->prune));
        s->prune.before = now - (int64_t)s->retention_ms;
        memset(&s->prune_req, 0, sizeof(s->prune_req));
        s->prune_req.type = STORE_HOOK_PRUNE;
        s->prune_req.hooks = &s->prune;
        s->prune_req.cb = on_pruned;
        s->prune_req.data = s;
        store_submit(s->store, &s->prune_req);
    }
    if (s->due_busy) {
        s->again = 1;
        return;
    }
    if (s->nflights >= s->max_inflight) return;
    s->due_busy = 1;
    memset(&s->due, 0, sizeof(s->due));
    s->due.now = now;
    /* Rows in flight come back too (still pending): ask for room beyond them. */
    s->due.limit = s->max_inflight + s->nflights;
    memset(&s->due_req, 0, sizeof(s->due_req));
    s->due_req.type = STORE_HOOK_DUE;
    s->due_req.hooks = &s->due;
    s->due_req.cb = on_due;
    s->due_req.data = s;
    store_submit(s->store, &s->due_req);
}

static void on_timer(uv_timer_t *t)
{
    look(t->data);
}

void webhook_send_start(webhook_send_t *s, uv_loop_t *loop, const chorus_config_t *cfg,
                        log_t *log, store_t *store, webhooks_t *hooks, http_call_t *http)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->log = log;
    s->store = store;
    s->hooks = hooks;
    s->http = http;
    s->retry = (webhook_retry_t){.max_attempts = (uint32_t)cfg->webhook_max_attempts,
                                 .base_ms = cfg->webhook_retry_base,
                                 .max_ms = cfg->webhook_retry_max > cfg->webhook_retry_base
                                               ? cfg->webhook_retry_max
                                               : cfg->webhook_retry_base};
    s->max_inflight = (uint32_t)cfg->webhook_max_inflight;
    s->timeout_ms = cfg->webhook_timeout;
    s->poll_ms = cfg->webhook_poll;
    s->retention_ms = cfg->webhook_log_retention;
    if (hooks->neps) webhook_send_kick(s);
}

void webhook_send_kick(webhook_send_t *s)
{
    if (s->closing) return;
    if (!s->started) {
        /* Started at the first endpoint (configured, loaded or registered): with none,
         * nothing polls the store. */
        if (!s->hooks->neps || !s->loop) return;
        uv_timer_init(s->loop, &s->timer);
        s->timer.data = s;
        uv_timer_start(&s->timer, on_timer, 0, s->poll_ms);
        s->started = 1;
        return;
    }
    look(s);
}

void webhook_send_close(webhook_send_t *s)
{
    if (s->closing) return;
    s->closing = 1;
    if (!s->started) return;
    uv_timer_stop(&s->timer);
    uv_close((uv_handle_t *)&s->timer, NULL);
    wh_flight_t *f = s->flights, *next;
    for (; f; f = next) {
        next = f->next;
        if (f->posted) {
            /* Its done is not called: it stays pending in the store. */
            s->http->cancel(s->http->impl, f->call_id);
            flight_free(s, f);
        }
    }
}
