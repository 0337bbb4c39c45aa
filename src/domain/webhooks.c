/* webhooks.c: webhook endpoints (the configuration's and the server API's), and the
 * deliveries an event queues with its change or by a write of its own (webhooks.h). */
#include "domain/webhooks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_random.h"
#include "util/mem.h"

int webhooks_init(webhooks_t *w, const chorus_config_t *cfg, log_t *log, char *err,
                  size_t errlen)
{
    memset(w, 0, sizeof(*w));
    w->log = log;
    w->max_pending = cfg->webhook_max_queue;
    w->max_eps = cfg->webhook_max_endpoints;
    w->doc_debounce_ms = cfg->webhook_doc_debounce;
    w->client_events = ch_strdup(cfg->webhook_client_events ? cfg->webhook_client_events : "");
    if (!cfg->webhook_url || !cfg->webhook_url[0]) return 0;
    uint32_t mask;
    if (webhook_events_parse(cfg->webhook_events, &mask) != 0) {
        snprintf(err, errlen, "--webhook-events: a comma-separated list of event names or *");
        return -1;
    }
    const char *bad = webhook_url_check(cfg->webhook_url);
    if (bad) {
        snprintf(err, errlen, "--webhook-url: %s", bad);
        return -1;
    }
    if (!cfg->webhook_secret || strlen(cfg->webhook_secret) < 16) {
        snprintf(err, errlen, "--webhook-secret: at least 16 bytes, to sign the deliveries");
        return -1;
    }
    if (webhooks_add(w, WEBHOOKS_DEFAULT, cfg->webhook_url, cfg->webhook_secret,
                     cfg->webhook_events, 0) != 0) {
        snprintf(err, errlen, "--webhook-max-endpoints: at least 1 with --webhook-url");
        return -1;
    }
    w->eps[0].from_config = 1;
    return 0;
}

void webhooks_free(webhooks_t *w)
{
    for (size_t i = 0; i < w->neps; i++) {
        free(w->eps[i].url);
        free(w->eps[i].secret);
        free(w->eps[i].events);
    }
    free(w->eps);
    free(w->client_events);
    w->client_events = NULL;
    w->eps = NULL;
    w->neps = 0;
    w->any = 0;
}

static void recount(webhooks_t *w)
{
    w->any = 0;
    for (size_t i = 0; i < w->neps; i++)
        w->any |= w->eps[i].mask;
}

int webhooks_add(webhooks_t *w, const char *name, const char *url, const char *secret,
                 const char *events, int64_t created_at)
{
    uint32_t mask;
    if (webhook_events_parse(events, &mask) != 0 || webhooks_find(w, name) ||
        w->neps >= w->max_eps || strlen(name) >= STORE_HOOK_NAME_LEN)
        return -1;
    w->eps = ch_realloc(w->eps, (w->neps + 1) * sizeof(*w->eps));
    webhook_endpoint_t *e = &w->eps[w->neps++];
    memset(e, 0, sizeof(*e));
    snprintf(e->name, sizeof(e->name), "%s", name);
    e->url = ch_strdup(url);
    e->secret = ch_strdup(secret);
    e->events = ch_strdup(events);
    e->mask = mask;
    e->created_at = created_at;
    recount(w);
    return 0;
}

int webhooks_remove(webhooks_t *w, const char *name)
{
    for (size_t i = 0; i < w->neps; i++) {
        webhook_endpoint_t *e = &w->eps[i];
        if (strcmp(e->name, name) != 0 || e->from_config) continue;
        free(e->url);
        free(e->secret);
        free(e->events);
        memmove(e, e + 1, (w->neps - i - 1) * sizeof(*e));
        w->neps--;
        recount(w);
        return 0;
    }
    return -1;
}

const webhook_endpoint_t *webhooks_find(const webhooks_t *w, const char *name)
{
    for (size_t i = 0; i < w->neps; i++)
        if (strcmp(w->eps[i].name, name) == 0) return &w->eps[i];
    return NULL;
}

void webhooks_attach(webhooks_t *w, store_req_t *req, webhook_event_t ev, const char *room_id,
                     json_t *data, int64_t now)
{
    if (!webhooks_wants(w, ev)) return;
    size_t n = 0;
    for (size_t i = 0; i < w->neps; i++)
        n += (w->eps[i].mask >> ev) & 1u;
    if (w->pending + (int64_t)n > (int64_t)w->max_pending) {
        w->dropped += n;
        log_warn(w->log, "webhooks: the queue is full (%lld pending): %s of room %s dropped",
                 (long long)w->pending, webhook_event_name(ev), room_id[0] ? room_id : "-");
        return;
    }
    size_t had = req->nenqueue;
    store_hook_t *hs = ch_realloc((void *)req->enqueue, (had + n) * sizeof(*hs));
    memset(hs + had, 0, n * sizeof(*hs));
    size_t k = had;
    for (size_t i = 0; i < w->neps; i++) {
        if (!((w->eps[i].mask >> ev) & 1u)) continue;
        store_hook_t *h = &hs[k++];
        auth_random_uuid(h->id);
        memcpy(h->endpoint, w->eps[i].name, sizeof(h->endpoint));
        snprintf(h->room_id, sizeof(h->room_id), "%s", room_id);
        snprintf(h->type, sizeof(h->type), "%s", webhook_event_name(ev));
        json_t *body = json_pack("{s:s, s:s, s:o, s:I, s:O}", "id", h->id, "type", h->type,
                                 "room", room_id[0] ? json_string(room_id) : json_null(),
                                 "time", (json_int_t)now, "data", data);
        CH_ASSERT(body);
        h->body = json_dumps(body, JSON_COMPACT);
        CH_ASSERT(h->body);
        json_decref(body);
        h->state = STORE_HOOK_PENDING;
        h->next_at = h->created_at = h->updated_at = now;
    }
    w->pending += (int64_t)n;
    req->enqueue = hs;
    req->nenqueue = had + n;
}

void webhooks_release(webhooks_t *w, store_req_t *req)
{
    if (!req->nenqueue) return;
    if (req->err != STORE_OK && w && w->pending >= (int64_t)req->nenqueue)
        w->pending -= (int64_t)req->nenqueue; /* not queued after all */
    if (req->err == STORE_OK && w && w->queued) w->queued(w->queued_ud);
    store_hook_t *hs = (store_hook_t *)req->enqueue;
    for (size_t i = 0; i < req->nenqueue; i++)
        free(hs[i].body);
    free(hs);
    req->enqueue = NULL;
    req->nenqueue = 0;
}

webhooks_put_t *webhooks_put_new(webhooks_t *w)
{
    webhooks_put_t *p = ch_calloc(1, sizeof(*p));
    p->w = w;
    p->req.type = STORE_HOOK_PUT;
    p->req.data = p;
    return p;
}

static void on_put(store_req_t *req)
{
    webhooks_put_t *p = req->data;
    int err = req->err;
    if (err != STORE_OK && err != STORE_ECLOSED && p->w)
        log_error(p->w->log, "webhooks: %zu deliveries not queued: store error %d",
                  req->nenqueue, err);
    webhooks_release(p->w, req);
    if (p->done) p->done(p->ud, err);
    free(p);
}

int webhooks_put_submit(webhooks_put_t *p, store_t *store, webhooks_put_fn done, void *ud)
{
    if (p->req.nenqueue == 0) {
        free(p);
        return -1;
    }
    p->done = done;
    p->ud = ud;
    p->req.cb = on_put;
    store_submit(store, &p->req);
    return 0;
}
