/* api_webhooks.c: the webhook endpoints and their delivery log in the server API
 * (/api/server/webhooks, issue 21; docs/api.md, "Backends"): register, list and delete
 * endpoints (each with its own URL, secret and event filter), page through an endpoint's
 * deliveries, and retry a dead-lettered one. API_SERVER routes: an API key, never a
 * user's token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

#include "auth/auth_random.h"
#include "domain/rooms.h"
#include "domain/webhooks.h"
#include "proto/api.h"
#include "util/clock.h"
#include "util/mem.h"

/* A log page: 50 deliveries unless the caller asks, at most 200. */
#define API_WH_PAGE 50
#define API_WH_PAGE_MAX 200
/* A secret the caller chooses: 16 to 128 printable ASCII bytes. */
#define API_WH_SECRET_MIN 16

/* A route's store round trip: its request and payload, and the API request it answers. */
typedef struct {
    store_req_t req;
    store_hooks_t h;
    api_req_t *r;
} api_wh_op_t;

static webhooks_t *api_wh_hooks(api_req_t *r)
{
    return r->api->rooms ? r->api->rooms->hooks : NULL;
}

static api_wh_op_t *api_wh_op(api_req_t *r, store_req_type_t type, store_cb cb)
{
    api_wh_op_t *o = ch_calloc(1, sizeof(*o));
    o->r = r;
    o->req.type = type;
    o->req.hooks = &o->h;
    o->req.cb = cb;
    o->req.data = o;
    return o;
}

static void api_wh_op_free(api_wh_op_t *o)
{
    store_hooks_free(&o->h);
    free(o);
}

/* The sender looks again (a new endpoint, a delivery retried). */
static void api_wh_kick(webhooks_t *w)
{
    if (w && w->queued) w->queued(w->queued_ud);
}

/* An endpoint as the routes show it (never its secret). */
static json_t *api_wh_json(const webhook_endpoint_t *e)
{
    json_t *ev = json_array();
    const char *s = e->events, *item;
    size_t n;
    while (webhook_list_next(&s, &item, &n))
        json_array_append_new(ev, json_stringn(item, n));
    return json_pack("{s:s, s:s, s:o, s:I, s:s}", "id", e->name, "url", e->url, "events", ev,
                     "createdAt", (json_int_t)e->created_at, "source",
                     e->from_config ? "config" : "api");
}

/* ---- POST /api/server/webhooks {url, events, secret?} ---- */

static void api_wh_created(store_req_t *req)
{
    api_wh_op_t *o = req->data;
    api_req_t *r = o->r;
    webhooks_t *w = api_wh_hooks(r);
    if (req->type == STORE_HOOK_EP_DELETE) { /* the undo below */
        api_error(r, 409, "endpoint_limit", "no more webhook endpoints: delete one first");
        api_wh_op_free(o);
        return;
    }
    if (req->err != STORE_OK) {
        api_error(r, 503, "service_unavailable", "the database is unavailable; try again");
        api_wh_op_free(o);
        return;
    }
    const store_hook_ep_t *e = &o->h.ep;
    if (!w || webhooks_add(w, e->id, e->url, e->secret, e->events, e->created_at) != 0) {
        /* Others were registered meanwhile up to the limit: this one is taken back. */
        memset(&o->req, 0, sizeof(o->req));
        o->req.type = STORE_HOOK_EP_DELETE;
        o->req.hooks = &o->h;
        o->req.cb = api_wh_created;
        o->req.data = o;
        o->h.now = clock_unix_ms();
        store_submit(r->api->store, &o->req);
        return;
    }
    char detail[160];
    snprintf(detail, sizeof(detail), "key %s endpoint %s", r->apikey_id, e->id);
    api_audit(r->api, "webhook_created", NULL, r->ip, detail);
    api_wh_kick(w);
    json_t *ej = api_wh_json(webhooks_find(w, e->id));
    api_respond(r, 201,
                json_pack("{s:b, s:o, s:s}", "success", 1, "webhook", ej, "secret", e->secret));
    api_wh_op_free(o);
}

/* The events member as a filter text ("*" or "a.b,c.d") into out. Returns 0, or -1 once
 * answered 400. */
static int api_wh_events(api_req_t *r, json_t *jev, char *out, size_t cap)
{
    static const char msg[] = "events must be a non-empty array of event types (or [\"*\"])";
    size_t i, len = 0;
    json_t *v;
    if (!json_is_array(jev) || json_array_size(jev) == 0) {
        api_invalid(r, "events", msg);
        return -1;
    }
    out[0] = 0;
    json_array_foreach(jev, i, v)
    {
        if (!json_is_string(v) || json_string_length(v) == 0 ||
            len + json_string_length(v) + 2 > cap) {
            api_invalid(r, "events", msg);
            return -1;
        }
        len +=
            (size_t)snprintf(out + len, cap - len, "%s%s", i ? "," : "", json_string_value(v));
    }
    uint32_t mask;
    if (strlen(out) != len || strchr(out, ' ') || webhook_events_parse(out, &mask) != 0) {
        api_invalid(r, "events", "events holds an unknown event type");
        return -1;
    }
    return 0;
}

static void api_wh_create(api_req_t *r)
{
    webhooks_t *w = api_wh_hooks(r);
    json_t *b = r->json;
    if (!json_is_object(b)) {
        api_error(r, 400, "bad_request", "the body must be a JSON object");
        return;
    }
    json_t *ju = json_object_get(b, "url");
    const char *bad =
        json_is_string(ju) && strlen(json_string_value(ju)) == json_string_length(ju)
            ? webhook_url_check(json_string_value(ju))
            : "url must be a string";
    if (bad) {
        api_invalid(r, "url", bad);
        return;
    }
    char events[STORE_HOOK_EVENTS_LEN];
    if (api_wh_events(r, json_object_get(b, "events"), events, sizeof(events)) != 0) return;
    json_t *js = json_object_get(b, "secret");
    char secret[STORE_HOOK_SECRET_LEN];
    if (js) {
        const char *sv = json_is_string(js) ? json_string_value(js) : "";
        size_t n = json_is_string(js) ? json_string_length(js) : 0;
        int ok = n >= API_WH_SECRET_MIN && n < sizeof(secret) && strlen(sv) == n;
        for (size_t i = 0; ok && i < n; i++)
            ok = sv[i] > 0x20 && sv[i] < 0x7f;
        if (!ok) {
            api_invalid(r, "secret", "secret must be 16 to 128 printable ASCII characters");
            return;
        }
        memcpy(secret, sv, n + 1);
    } else {
        memcpy(secret, "whsec_", 6);
        auth_random_hex(secret + 6, 32); /* 256 bits */
    }
    if (!w || w->neps >= w->max_eps) {
        api_error(r, 409, "endpoint_limit", "no more webhook endpoints: delete one first");
        return;
    }
    api_wh_op_t *o = api_wh_op(r, STORE_HOOK_EP_CREATE, api_wh_created);
    memcpy(o->h.ep.id, "wh_", 3);
    auth_random_hex(o->h.ep.id + 3, 8);
    o->h.ep.url = ch_strdup(json_string_value(ju));
    memcpy(o->h.ep.secret, secret, sizeof(secret));
    memcpy(o->h.ep.events, events, sizeof(events));
    o->h.ep.created_at = clock_unix_ms();
    store_submit(r->api->store, &o->req);
}

/* ---- GET /api/server/webhooks ---- */

static void api_wh_list(api_req_t *r)
{
    webhooks_t *w = api_wh_hooks(r);
    json_t *a = json_array();
    for (size_t i = 0; w && i < w->neps; i++)
        json_array_append_new(a, api_wh_json(&w->eps[i]));
    api_respond(r, 200, json_pack("{s:b, s:o}", "success", 1, "webhooks", a));
}

/* ---- DELETE /api/server/webhooks/:id ---- */

/* The endpoint of the route's :id (percent-decoded in place), or NULL once answered. */
static const webhook_endpoint_t *api_wh_param(api_req_t *r)
{
    char *id = (char *)r->params[0];
    const webhook_endpoint_t *e = NULL;
    webhooks_t *w = api_wh_hooks(r);
    if (api_unescape_segment(id) == 0 && w) e = webhooks_find(w, id);
    if (!e) api_error(r, 404, "not_found", "no such webhook endpoint");
    return e;
}

static void api_wh_deleted(store_req_t *req)
{
    api_wh_op_t *o = req->data;
    api_req_t *r = o->r;
    webhooks_t *w = api_wh_hooks(r);
    if (req->err != STORE_OK && req->err != STORE_ENOTFOUND) {
        api_error(r, 503, "service_unavailable", "the database is unavailable; try again");
    } else if (!w || webhooks_remove(w, o->h.ep.id) != 0) {
        api_error(r, 404, "not_found", "no such webhook endpoint");
    } else {
        char detail[160];
        snprintf(detail, sizeof(detail), "key %s endpoint %s", r->apikey_id, o->h.ep.id);
        api_audit(r->api, "webhook_deleted", NULL, r->ip, detail);
        api_respond(
            r, 200,
            json_pack("{s:b, s:I}", "success", 1, "deadLettered", (json_int_t)o->h.pending));
    }
    api_wh_op_free(o);
}

static void api_wh_delete(api_req_t *r)
{
    const webhook_endpoint_t *e = api_wh_param(r);
    if (!e) return;
    if (e->from_config) {
        api_error(
            r, 409, "configured_endpoint",
            "this endpoint comes from the configuration (--webhook-url): change it there");
        return;
    }
    api_wh_op_t *o = api_wh_op(r, STORE_HOOK_EP_DELETE, api_wh_deleted);
    snprintf(o->h.ep.id, sizeof(o->h.ep.id), "%s", e->name);
    o->h.now = clock_unix_ms();
    store_submit(r->api->store, &o->req);
}

/* ---- the delivery log ---- */

static const char *const api_wh_states[] = {"pending", "delivered", "dead"};

static json_t *api_wh_delivery(const store_hook_t *d)
{
    json_t *body = json_loads(d->body ? d->body : "null", JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    return json_pack("{s:s, s:I, s:s, s:s, s:o, s:s, s:I, s:I, s:I, s:I, s:i, s:s, s:o}", "id",
                     d->id, "seq", (json_int_t)d->seq, "endpoint", d->endpoint, "type", d->type,
                     "room", d->room_id[0] ? json_string(d->room_id) : json_null(), "state",
                     (unsigned)d->state < 3 ? api_wh_states[d->state] : "unknown", "attempts",
                     (json_int_t)d->attempts, "nextAt", (json_int_t)d->next_at, "createdAt",
                     (json_int_t)d->created_at, "updatedAt", (json_int_t)d->updated_at,
                     "lastStatus", d->last_status, "lastError", d->last_error, "body",
                     body ? body : json_null());
}

static void api_wh_logged(store_req_t *req)
{
    api_wh_op_t *o = req->data;
    api_req_t *r = o->r;
    if (req->err != STORE_OK) {
        api_error(r, 503, "service_unavailable", "the database is unavailable; try again");
    } else {
        json_t *a = json_array();
        for (size_t i = 0; i < o->h.nrows; i++)
            json_array_append_new(a, api_wh_delivery(&o->h.rows[i]));
        /* A full page may have more behind it: the next one is before its last seq. */
        json_t *next = o->h.nrows == o->h.limit && o->h.nrows
                           ? json_integer(o->h.rows[o->h.nrows - 1].seq)
                           : json_null();
        api_respond(
            r, 200,
            json_pack("{s:b, s:o, s:o}", "success", 1, "deliveries", a, "nextBefore", next));
    }
    api_wh_op_free(o);
}

/* The query parameter name's raw value into out (cap bytes; "" when absent). Returns 0,
 * or -1 when it does not fit. */
static int api_wh_query(const api_req_t *r, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    out[0] = 0;
    for (const char *q = r->query; *q;) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > n && memcmp(q, name, n) == 0 && q[n] == '=') {
            if (len - n - 1 >= cap) return -1;
            memcpy(out, q + n + 1, len - n - 1);
            out[len - n - 1] = 0;
        }
        q += len + (amp ? 1 : 0);
    }
    return 0;
}

/* GET /api/server/webhooks/:id/deliveries?status=pending|delivered|dead&limit=&before= */
static void api_wh_deliveries(api_req_t *r)
{
    const webhook_endpoint_t *e = api_wh_param(r);
    if (!e) return;
    char status[16];
    int state = 0;
    if (api_wh_query(r, "status", status, sizeof(status)) != 0) status[0] = '?';
    if (status[0]) {
        for (int i = 0; i < 3; i++)
            if (strcmp(status, api_wh_states[i]) == 0) state = 1 + i;
        if (!state) {
            api_invalid(r, "status", "status must be pending, delivered or dead");
            return;
        }
    }
    int64_t limit = API_WH_PAGE, before = -1;
    if (api_query_int(r, "limit", &limit) != 0 || api_query_int(r, "before", &before) != 0)
        return;
    if (limit < 1 || limit > API_WH_PAGE_MAX) {
        api_invalid(r, "limit", "limit must be 1 to 200");
        return;
    }
    api_wh_op_t *o = api_wh_op(r, STORE_HOOK_LOG, api_wh_logged);
    snprintf(o->h.endpoint, sizeof(o->h.endpoint), "%s", e->name);
    o->h.log_state = state;
    o->h.limit = (uint32_t)limit;
    o->h.before = before;
    store_submit(r->api->store, &o->req);
}

/* POST /api/server/webhooks/deliveries/:deliveryId/retry */
static void api_wh_retried(store_req_t *req)
{
    api_wh_op_t *o = req->data;
    api_req_t *r = o->r;
    webhooks_t *w = api_wh_hooks(r);
    if (req->type == STORE_HOOK_UPDATE) { /* put back: its endpoint is gone */
        api_error(r, 409, "endpoint_gone", "the delivery's endpoint was deleted");
    } else if (req->err == STORE_ENOTFOUND) {
        api_error(r, 404, "not_found", "no such delivery");
    } else if (req->err == STORE_EEXISTS) {
        api_error(r, 409, "not_dead",
                  "only a dead-lettered delivery is retried (this one is %s)",
                  (unsigned)o->h.row.state < 3 ? api_wh_states[o->h.row.state] : "unknown");
    } else if (req->err != STORE_OK) {
        api_error(r, 503, "service_unavailable", "the database is unavailable; try again");
    } else if (!w || !webhooks_find(w, o->h.row.endpoint)) {
        /* Pending for no endpoint, it would hold its room's queue: dead again. */
        store_hook_t *u = &o->h.row;
        u->state = STORE_HOOK_DEAD;
        u->updated_at = clock_unix_ms();
        memset(&o->req, 0, sizeof(o->req));
        o->req.type = STORE_HOOK_UPDATE;
        o->req.hooks = &o->h;
        o->req.cb = api_wh_retried;
        o->req.data = o;
        store_submit(r->api->store, &o->req);
        return;
    } else {
        w->pending++;
        api_wh_kick(w);
        char detail[160];
        snprintf(detail, sizeof(detail), "key %s delivery %s", r->apikey_id, o->h.row.id);
        api_audit(r->api, "webhook_retried", NULL, r->ip, detail);
        api_respond(
            r, 200,
            json_pack("{s:b, s:o}", "success", 1, "delivery", api_wh_delivery(&o->h.row)));
    }
    api_wh_op_free(o);
}

static void api_wh_retry(api_req_t *r)
{
    char *id = (char *)r->params[0];
    if (api_unescape_segment(id) != 0 || !id[0] || strlen(id) >= STORE_ID_LEN) {
        api_error(r, 404, "not_found", "no such delivery");
        return;
    }
    api_wh_op_t *o = api_wh_op(r, STORE_HOOK_RETRY, api_wh_retried);
    snprintf(o->h.row.id, sizeof(o->h.row.id), "%s", id);
    o->h.now = clock_unix_ms();
    store_submit(r->api->store, &o->req);
}

const api_route_t api_webhooks_routes[] = {
    {HTTP_POST, "/api/server/webhooks", api_wh_create, API_SERVER, API_GROUP_API},
    {HTTP_GET, "/api/server/webhooks", api_wh_list, API_SERVER, API_GROUP_API},
    {HTTP_DELETE, "/api/server/webhooks/:id", api_wh_delete, API_SERVER, API_GROUP_API},
    {HTTP_GET, "/api/server/webhooks/:id/deliveries", api_wh_deliveries, API_SERVER,
     API_GROUP_API},
    {HTTP_POST, "/api/server/webhooks/deliveries/:deliveryId/retry", api_wh_retry, API_SERVER,
     API_GROUP_API},
};
const size_t api_webhooks_nroutes = CH_ARRAY_LEN(api_webhooks_routes);
