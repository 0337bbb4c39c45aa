/* app.c: the application context (app.h): builds the store, the rooms with their
 * features and their home, the op table and the API in order, and takes them down in reverse. */
#include "app/app.h"

#include <stdio.h>
#include <string.h>

#include "util/clock.h"
#include "bus/bus_redis.h"
#include "store/store_pg.h"
#include "domain/activity_log.h"
#include "domain/docs.h"
#include "domain/entities.h"
#include "domain/rtc_calls.h"
#include "util/mem.h"
#include "proto/proto_docs.h"
#include "proto/proto_entities.h"
#include "proto/proto_rooms.h"
#include "proto/proto_rtc.h"
#include "proto/sio_seed_conn.h"

/* The rooms' features, in the order rooms.c calls their hooks. Their state is embedded in
 * rooms_t and room_t: no ud; a later feature's is in app_t (app_feature_ud). */
static const rooms_feature_use_t app_features[] = {{&docs_feature, NULL},
                                                   {&entities_feature, NULL},
                                                   {&activity_feature, NULL},
                                                   {&rtc_feature, NULL}};

/* The state (ud) of a feature that keeps it in app_t; NULL for the others. */
static void *app_feature_ud(app_t *a, const rooms_feature_t *f)
{
    if (f == &rtc_feature) return &a->rtc;
    return NULL;
}

static void audit_rejected(void *ud, const char *ip, const char *why)
{
    app_t *a = ud;
    api_audit_failure(&a->api, "token_rejected", NULL, ip, why);
}

static void hooks_queued(void *ud)
{
    app_t *a = ud;
    webhook_send_kick(&a->hook_send);
}

static void hooks_loaded(store_req_t *req)
{
    *(int *)req->data = 1;
}

/* The webhook endpoints registered through the server API (api_webhooks.c), read before
 * anything can queue a delivery, as the revocations are (api_revoke.c). */
static int hooks_load(app_t *a)
{
    store_hooks_t h;
    memset(&h, 0, sizeof(h));
    store_req_t req;
    memset(&req, 0, sizeof(req));
    int done = 0;
    req.type = STORE_HOOK_EP_LIST;
    req.hooks = &h;
    req.cb = hooks_loaded;
    req.data = &done;
    store_submit(a->store, &req);
    while (!done)
        uv_run(a->loop, UV_RUN_ONCE);
    int rc = req.err == STORE_OK ? 0 : -1;
    if (rc != 0) log_error(a->log, "cannot load the webhook endpoints from the database");
    for (size_t i = 0; rc == 0 && i < h.neps; i++) {
        const store_hook_ep_t *e = &h.eps[i];
        if (webhooks_add(&a->hooks, e->id, e->url, e->secret, e->events, e->created_at) != 0)
            log_warn(a->log,
                     "webhook endpoint %s not loaded: over --webhook-max-endpoints "
                     "or a filter this version does not know (%s)",
                     e->id, e->events);
    }
    store_hooks_free(&h);
    return rc;
}

static void proto_setup(app_t *a)
{
    const chorus_config_t *cfg = a->cfg;
    proto_limits_t limits = {
        .rate = (uint32_t)cfg->ws_rate,
        .burst = (uint32_t)cfg->ws_burst,
        .flood_close = (uint32_t)cfg->ws_flood_close,
    };
    proto_init(&a->proto, &limits, a->log);
    a->proto.auth = (proto_auth_t){
        .jwt = a->jwt,
        .timeout_ms = cfg->auth_timeout,
        .grace_ms = cfg->token_grace,
        .unix_ms = clock_unix_ms,
        .audit_rejected = audit_rejected,
        .ud = a,
        .rl = rl_map_new(APP_WS_AUTH_KEYS),
        .rule = {.limit = (uint32_t)cfg->rate_ws_auth.limit,
                 .window_ms = cfg->rate_ws_auth.window_ms},
    };
    proto_auth_register(&a->proto);
    /* Extra Socket.IO events (seed 003's room:*) register their tables here. */
    proto_sio_init(&a->sio);
    sio_seed_conn_init(&a->sio_seed, &a->sio, &a->proto, a->loop);
}

int app_init(app_t *a, uv_loop_t *loop, const chorus_config_t *cfg, log_t *log, auth_jwt_t *jwt)
{
    memset(a, 0, sizeof(*a));
    a->loop = loop;
    a->cfg = cfg;
    a->log = log;
    a->jwt = jwt;
    char dbpath[4096], err[512];
    if (cfg->store && cfg->store[0]) {
        /* PostgreSQL: err names the target with its password masked (store_pg_mask). */
        a->store = store_open(&store_pg_backend, cfg->store, loop, log, err, sizeof(err));
        if (!a->store) {
            log_error(log, "cannot open the database: %s", err);
            return -1;
        }
        store_pg_mask(cfg->store, dbpath, sizeof(dbpath));
        log_info(log, "store: PostgreSQL at %s", dbpath);
    } else {
        snprintf(dbpath, sizeof(dbpath), "%s/chorus.db", cfg->data_dir);
        a->store = store_open(&store_sqlite_backend, dbpath, loop, log, err, sizeof(err));
        if (!a->store) {
            log_error(log, "cannot open the database %s: %s", dbpath, err);
            return -1;
        }
    }
    proto_setup(a);
    if (cfg->cluster[0]) {
        /* One of several nodes (bus_redis.h): its node id is claimed now, in Redis. */
        bus_redis_opts_t bo = {.node_ttl_ms = cfg->cluster_node_ttl,
                               .lease_ms = cfg->cluster_lease,
                               .op_timeout_ms = cfg->cluster_op_timeout,
                               .max_inflight = (size_t)cfg->cluster_max_inflight,
                               .msg_max = (size_t)cfg->cluster_max_bus_message};
        a->bus =
            bus_redis_new(loop, cfg->cluster, &bo, log, &proto_bus_rcv_ops, err, sizeof(err));
        if (!a->bus) {
            log_error(log, "cluster: %s", err);
            goto fail;
        }
    } else {
        a->bus = bus_local_new(0, &proto_bus_rcv_ops);
    }
    rtc_calls_init(&a->rtc);
    int jerr;
    a->janus = janus_new(loop, cfg, log, &a->http, &jerr); /* NULL: no SFU (calls stay mesh) */
    if (jerr) goto fail;
    if (a->janus) a->sfu = janus_sfu(a->janus);
    a->rtc.sfu = &a->sfu; /* before the rooms start: the rtc feature's start reads it */
    rooms_feature_use_t features[CH_ARRAY_LEN(app_features)];
    for (size_t i = 0; i < CH_ARRAY_LEN(app_features); i++)
        features[i] = (rooms_feature_use_t){app_features[i].hooks,
                                            app_feature_ud(a, app_features[i].hooks)};
    if (rooms_init(&a->rooms, loop, cfg, log, a->store, a->bus, features,
                   CH_ARRAY_LEN(features)) != 0)
        goto fail;
    a->rooms_ready = 1;
    activity_log_init(&a->act, &a->rooms, cfg);
    if (webhooks_init(&a->hooks, cfg, log, err, sizeof(err)) != 0) {
        log_error(log, "%s", err);
        goto fail;
    }
    a->hooks.queued = hooks_queued;
    a->hooks.queued_ud = a;
    a->rooms.hooks = &a->hooks;
    if (hooks_load(a) != 0) goto fail;
    webhook_send_start(&a->hook_send, loop, cfg, log, a->store, &a->hooks, &a->http);
    home_init(&a->home, &a->rooms, a->bus);
    home_rooms_register(&a->home);
    home_api_register(&a->home);
    home_server_register(&a->home);
    home_docs_register(&a->home);
    home_entities_register(&a->home);
    home_rpc_register(&a->home);
    home_assets_register(&a->home);
    home_activity_register(&a->home);
    home_history_register(&a->home);
    home_participants_register(&a->home);
    home_rtc_register(&a->home, &a->rtc);
    proto_rooms_register(&a->proto, &a->rooms);
    proto_docs_register(&a->proto);
    proto_entities_register(&a->proto);
    proto_rtc_register(&a->proto);
    proto_rpc_init(&a->rpc, cfg, &a->rooms, &a->http); /* main.c sets a->http */
    proto_rpc_register(&a->proto, &a->rpc);
    int api_rc = api_init(&a->api, loop, cfg, log, a->store, jwt);
    a->api_ready = 1;
    a->api.rooms = &a->rooms;
    a->proto.auth.revoke = a->api.revoke;
    if (api_rc != 0) goto fail;
    return 0;

fail:
    /* The order of a stop: handles closed, the loop run out, then the store. */
    app_close(a);
    uv_run(loop, UV_RUN_DEFAULT);
    app_store_close(a);
    uv_run(loop, UV_RUN_DEFAULT);
    app_free(a);
    return -1;
}

void app_close(app_t *a)
{
    sio_seed_conn_close(&a->sio_seed);
    if (a->api_ready) api_close(&a->api);
    if (a->rooms_ready) rooms_close(&a->rooms);
    webhook_send_close(&a->hook_send);
    janus_close(a->janus);
    a->janus = NULL;
    a->sfu = (sfu_t){0};
    if (a->http_close) a->http_close(a->http.impl);
    a->http_close = NULL;
    a->http = (http_call_t){0};
    bus_close(a->bus);
}

void app_store_close(app_t *a)
{
    store_close(a->store);
    a->store = NULL;
}

void app_free(app_t *a)
{
    CH_ASSERT(a->store == NULL);
    if (a->rooms_ready) rooms_free(&a->rooms);
    if (a->rooms_ready) activity_log_free(&a->act);
    a->rooms_ready = 0;
    webhooks_free(&a->hooks);
    home_free(&a->home);
    rtc_calls_free(&a->rtc);
    bus_free(a->bus);
    a->bus = NULL;
    a->api_ready = 0;
    rl_map_free(a->proto.auth.rl);
    a->proto.auth.rl = NULL;
    proto_free(&a->proto);
}

auth_jwt_t *app_set_jwt(app_t *a, auth_jwt_t *jwt)
{
    auth_jwt_t *old = a->jwt;
    a->jwt = jwt;
    a->api.jwt = jwt;
    a->proto.auth.jwt = jwt;
    /* The old verifier is freed by the caller and a later one may get its address: no
     * token it verified may pass for the new one's. */
    auth_tcache_clear(a->proto.tcache);
    return old;
}
