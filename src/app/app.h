/* app.h: the application context: the store, the live rooms with their features
 * (documents, entities) and their home (the ops the bus brings them), the protocol's op
 * table and the REST API, built once in main.c
 * and borrowed by the server (server.h), which only does I/O. Nothing in it is global, so
 * one process (a unit test) may run several contexts on one loop. */
#ifndef CHORUS_APP_H
#define CHORUS_APP_H

#include <stddef.h>

#include <uv.h>

#include "proto/api.h"
#include "auth/auth_jwt.h"
#include "bus/bus.h"
#include "util/config.h"
#include "domain/home.h"
#include "util/log.h"
#include "proto/proto.h"
#include "proto/proto_rpc.h"
#include "proto/proto_sio.h"
#include "proto/sio_seed_conn.h"
#include "domain/rooms.h"
#include "domain/rtc_calls.h"
#include "store/store.h"
#include "util/http_call.h"
#include "app/janus.h"
#include "app/webhook_send.h"
#include "domain/webhooks.h"
#include "domain/activity_log.h"

/* Client addresses whose failed WebSocket token checks are counted (see rl_map.h for
 * what happens past it). */
#define APP_WS_AUTH_KEYS 100000

typedef struct app_s {
    uv_loop_t *loop;            /* borrowed */
    const chorus_config_t *cfg; /* borrowed */
    log_t *log;                 /* borrowed */
    auth_jwt_t *jwt;            /* borrowed */
    store_t *store;             /* owned: cfg->data_dir/chorus.db; NULL once closed */
    rooms_t rooms;              /* with the features app.c lists */
    proto_t proto;              /* the WebSocket ops: auth, rooms, documents, entities */
    proto_sio_t sio;            /* Socket.IO's extra event handlers (proto_sio.h) */
    sio_seed_ctx_t sio_seed;    /* seed 003's sessions: handlers, rejoins after room_reset */
    api_t api;                  /* the REST routes */
    bus_t *bus;                 /* owned: how rooms reach their members (bus.h) */
    home_t home;                /* the rooms' home: serves the bus's operations (home.h) */
    rtc_calls_t rtc;            /* the rooms' calls (rtc_calls.h), the "rtc" feature's state */
    proto_rpc_t rpc;            /* the app's backend: rpc op and join hook (proto_rpc.h) */
    /* Other shared services the domain will borrow from here (metrics) go next to it. */
    http_call_t http;               /* outgoing HTTP to the app's backends, set by main.c after
                                     * app_init (io/http_client.c); post NULL: none */
    void (*http_close)(void *impl); /* app_close calls it on http.impl once the users of
                                     * http stopped; NULL: nothing to close */
    webhooks_t hooks;           /* the webhook endpoints (webhooks.h), borrowed by the rooms */
    webhook_send_t hook_send;   /* sends the queued deliveries over http */
    activity_log_t act;         /* the rooms' activity stream (activity_log.h) */
    janus_t *janus;             /* owned: the Janus controller (janus.h); NULL: no SFU */
    sfu_t sfu;                  /* janus's sfu.h table, lent to the calls; impl NULL: none */
    int rooms_ready;            /* rooms loaded (to close and free) */
    int api_ready;              /* api initialised (to close) */
} app_t;

/* Builds a on loop from cfg: opens the store in cfg->data_dir (which must exist), loads
 * the rooms and the revocations (running the loop until loaded), registers the protocol
 * ops and sets up the API. loop, cfg, log and jwt are borrowed and must outlive a.
 * Returns 0, or -1 with a log line; after -1 everything a opened is closed and freed
 * (the loop was run until its handles closed) and a needs nothing more. */
int app_init(app_t *a, uv_loop_t *loop, const chorus_config_t *cfg, log_t *log,
             auth_jwt_t *jwt);

/* Closes a's timers (the API's, the rooms' and their features'), applying what the
 * features hold back, then the HTTP client (http_close, which answers its calls
 * -ECANCELED), so that the loop can end: call once the server stopped. */
void app_close(app_t *a);

/* Once the loop ended after app_close: finishes the store's queued requests (their
 * callbacks run from inside this call) and closes the store. Run the loop once more
 * (its async handle closes) before app_free. */
void app_store_close(app_t *a);

/* Frees what a owns (the rooms, the op table) after app_store_close and the loop ran. */
void app_free(app_t *a);

/* Makes jwt (borrowed; it must outlive a, or the next app_set_jwt) the token verifier of a
 * (the API's and the WebSocket auth's), for SIGHUP's reload of secrets and keys. Returns
 * the previous one, which nothing in a uses any more (the caller frees it). */
auth_jwt_t *app_set_jwt(app_t *a, auth_jwt_t *jwt);

#endif
