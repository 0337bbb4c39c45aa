/* webhook_send.h: sends the webhook deliveries queued in the store (webhooks.h) over the
 * outgoing HTTP client: due deliveries are read from the store (the oldest pending of each
 * endpoint and room, so a room's go in order, one at a time), signed, POSTed, and each
 * attempt's outcome (webhook_rules.h: delivered, retried with backoff, dead-lettered) is
 * written back before the room's next one goes. At most max_inflight at once; nothing
 * here waits on a room, and no room waits on it. */
#ifndef CHORUS_WEBHOOK_SEND_H
#define CHORUS_WEBHOOK_SEND_H

#include <stdint.h>

#include <uv.h>

#include "domain/webhooks.h"
#include "store/store.h"
#include "util/config.h"
#include "util/http_call.h"
#include "util/log.h"

typedef struct wh_flight_s wh_flight_t;

typedef struct {
    uv_loop_t *loop;   /* borrowed */
    log_t *log;        /* borrowed */
    store_t *store;    /* borrowed */
    webhooks_t *hooks; /* borrowed */
    http_call_t *http; /* borrowed: read at each send (post NULL: nothing is sent) */
    webhook_retry_t retry;
    uint32_t max_inflight;
    uint64_t timeout_ms, poll_ms, retention_ms;
    uv_timer_t timer;
    store_req_t due_req, prune_req;
    store_hooks_t due, prune;
    int due_busy, prune_busy, again, closing, started;
    int64_t last_prune;   /* unix ms */
    wh_flight_t *flights; /* deliveries being sent or written back */
    uint32_t nflights;
    uint64_t delivered, retried, dead; /* counts since start */
} webhook_send_t;

/* Starts s on loop with cfg's webhook options; every pointer is borrowed and must outlive
 * s. With no endpoint it starts nothing until webhook_send_kick finds one. */
void webhook_send_start(webhook_send_t *s, uv_loop_t *loop, const chorus_config_t *cfg,
                        log_t *log, store_t *store, webhooks_t *hooks, http_call_t *http);

/* Looks for due deliveries now (after a change queued some, or an endpoint came). */
void webhook_send_kick(webhook_send_t *s);

/* Stops: cancels the calls in flight (those deliveries stay pending in the store and go
 * again at the next start), closes the timer. Store requests still out finish in
 * app_store_close, and free what they hold. */
void webhook_send_close(webhook_send_t *s);

#endif
