/* webhooks.h: which webhook endpoints an event goes to, and its deliveries queued with the
 * change that made it (store.h: req->enqueue), so that a delivery is durable before the
 * change is acknowledged. The endpoints: the configuration's (--webhook-url,
 * --webhook-secret, --webhook-events: one named "default") and those the server API
 * registers (api_webhooks.c; loaded from the store at start by app.c), at most
 * --webhook-max-endpoints. Sending is app/webhook_send.c's. docs/api.md, "Backends". */
#ifndef CHORUS_WEBHOOKS_H
#define CHORUS_WEBHOOKS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "domain/webhook_rules.h"
#include "store/store.h"
#include "util/config.h"
#include "util/log.h"

typedef struct {
    char name[STORE_HOOK_NAME_LEN]; /* "default" (the configuration's) or the API's id */
    char *url;                      /* owned */
    char *secret;                   /* owned */
    char *events;                   /* owned: the filter as given ("*", "a.b,c.d") */
    uint32_t mask;                  /* 1u << webhook_event_t */
    int64_t created_at;             /* unix ms (0: the configuration's) */
    int from_config;
} webhook_endpoint_t;

/* The configuration's endpoint's name. */
#define WEBHOOKS_DEFAULT "default"

typedef struct webhooks_s {
    webhook_endpoint_t *eps; /* owned */
    size_t neps;
    size_t max_eps;           /* endpoints at most (--webhook-max-endpoints) */
    uint32_t any;             /* the union of the endpoints' masks */
    char *client_events;      /* owned: broadcast event globs sent as client.event ("" none) */
    uint64_t doc_debounce_ms; /* document.saved: at most one per document in this time */
    uint64_t max_pending;     /* deliveries pending at most; past it new ones are dropped */
    int64_t pending;          /* deliveries pending now, as the sender last counted them plus
                               * those queued since */
    uint64_t dropped;         /* deliveries dropped because the queue was full */
    log_t *log;               /* borrowed */
    void (*queued)(void *ud); /* called when a change committed with deliveries (the
                               * sender looks for them then); NULL: none */
    void *queued_ud;
} webhooks_t;

/* Sets w up from cfg (webhook_url, webhook_secret, webhook_events, webhook_max_queue; no
 * URL: no endpoint). Returns 0, or -1 with a one-line reason in err (an unknown event
 * name, a URL that is not http(s), a missing secret). log is borrowed. */
int webhooks_init(webhooks_t *w, const chorus_config_t *cfg, log_t *log, char *err,
                  size_t errlen);

/* Frees what w owns. */
void webhooks_free(webhooks_t *w);

/* Adds endpoint name with url, secret and events (a list webhook_events_parse takes), all
 * copied. Returns 0, or -1 when events is not such a list, the name is taken or w holds
 * max_eps already. The caller checked url (webhook_url_check) and the secret. */
int webhooks_add(webhooks_t *w, const char *name, const char *url, const char *secret,
                 const char *events, int64_t created_at);

/* Removes endpoint name (not the configuration's). Returns 0, or -1 when there is no
 * such endpoint registered by the API. */
int webhooks_remove(webhooks_t *w, const char *name);

/* The endpoint called name (borrowed from w until it changes), or NULL. */
const webhook_endpoint_t *webhooks_find(const webhooks_t *w, const char *name);

/* Whether any endpoint wants ev (w may be NULL: none). Callers check it before building an
 * event's data, so an event nobody wants costs nothing. */
static inline int webhooks_wants(const webhooks_t *w, webhook_event_t ev)
{
    return w && (w->any & (1u << ev));
}

/* Whether a broadcast named name (len bytes) goes to the backend as client.event: an
 * endpoint wants client.event and the name matches --webhook-client-events. */
static inline int webhooks_client_event(const webhooks_t *w, const char *name, size_t len)
{
    return webhooks_wants(w, WEBHOOK_CLIENT_EVENT) && w->client_events[0] &&
           webhook_glob_list_match(w->client_events, name, len);
}

/* Queues ev's deliveries with req: one per endpoint that wants it, body {"id", "type",
 * "room", "time", "data"} with data (borrowed; compact JSON), room_id "" for none (body
 * "room": null), time unix ms. They are inserted when req commits (store.h), after those
 * attached to req before (several events may ride on one write, in the order attached);
 * call webhooks_release(req) once req answered. A queue already at max_pending drops them
 * (logged, counted in dropped). Borrows everything. */
void webhooks_attach(webhooks_t *w, store_req_t *req, webhook_event_t ev, const char *room_id,
                     json_t *data, int64_t now);

/* Frees the deliveries webhooks_attach gave req (none: nothing), once req answered; when
 * it committed them, calls w->queued. w may be NULL. */
void webhooks_release(webhooks_t *w, store_req_t *req);

/* Deliveries queued by a store write of their own (STORE_HOOK_PUT), for changes that are
 * not stored themselves (a member online or offline, a room occupied or vacated, a client
 * event, a held document.saved): attach them to req, then webhooks_put_submit. */
typedef void (*webhooks_put_fn)(void *ud, int err);
typedef struct {
    store_req_t req;
    webhooks_t *w; /* borrowed */
    webhooks_put_fn done;
    void *ud;
} webhooks_put_t;

/* A new put for w (borrowed; may be NULL: nothing is attached then). */
webhooks_put_t *webhooks_put_new(webhooks_t *w);

/* Takes ownership of p. With deliveries attached: submits them to store (borrowed) and
 * returns 0; done(ud, err) runs once the store answered (err STORE_OK: durable; done may
 * be NULL: fire and forget) and p is freed after it. With none (nobody wanted the events,
 * or the queue was full): frees p, returns -1, and done is not called. */
int webhooks_put_submit(webhooks_put_t *p, store_t *store, webhooks_put_fn done, void *ud);

#endif
