/* proto_rpc.c: the rpc op and the calls to the app's backend (proto_rpc.h). A room's rpc
 * asks the room's home who the caller is there (rpc.member), calls the backend, and has
 * the answer's side effects applied at the home (rpc.apply) before the reply goes; an rpc
 * about no room calls with the token's identity. */
#include "proto/proto_rpc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/webhook_rules.h"
#include "proto/proto_rooms.h"
#include "util/clock.h"
#include "util/mem.h"

void proto_rpc_init(proto_rpc_t *rp, const chorus_config_t *cfg, rooms_t *rooms,
                    const http_call_t *http)
{
    *rp = (proto_rpc_t){
        .http = http,
        .url = cfg->rpc_url,
        .hook_url = cfg->join_hook_url,
        .secret = cfg->rpc_secret,
        .timeout_ms = cfg->rpc_timeout,
        .max_data = cfg->rpc_max_data,
        .max_reply = cfg->rpc_max_reply,
        .max_calls = (uint32_t)cfg->rpc_max_calls,
        .max_calls_conn = (uint32_t)cfg->rpc_max_calls_conn,
        .hook_fail_open = cfg->join_hook_fail_open != 0,
        .unix_ms = clock_unix_ms,
        .rooms = rooms,
    };
}

/* ---- one call ---- */

typedef struct proto_rpc_call_s call_t;
struct proto_rpc_call_s {
    proto_rpc_t *rp;
    proto_client_t *c; /* the connection it is for (NULL: none) */
    uint64_t id;       /* the HTTP client's, to cancel it */
    proto_rpc_done_fn done;
    void *ud;
    call_t *prev, *next; /* rp->inflight */
};

/* Takes k off rp's calls in flight and gives its slot back. */
static void call_unlink(call_t *k)
{
    proto_rpc_t *rp = k->rp;
    if (k->prev)
        k->prev->next = k->next;
    else
        rp->inflight = k->next;
    if (k->next) k->next->prev = k->prev;
    rp->calls--;
}

static void http_done(void *ud, const http_call_res_t *res)
{
    call_t *k = ud;
    call_unlink(k);
    rpc_reply_t reply;
    rpc_reply_read(res, &reply);
    k->done(k->ud, &reply);
    rpc_reply_free(&reply);
    free(k);
}

void proto_rpc_client_gone(proto_rpc_t *rp, proto_client_t *c)
{
    call_t *k = rp->inflight;
    while (k) {
        if (k->c != c) {
            k = k->next;
            continue;
        }
        /* done will not come from the client now: answered here, once */
        if (rp->http->cancel) rp->http->cancel(rp->http->impl, k->id);
        call_unlink(k);
        rpc_reply_t reply = {.code = "service_unavailable"};
        snprintf(reply.message, sizeof(reply.message), "the connection went away");
        k->done(k->ud, &reply);
        free(k);
        k = rp->inflight; /* done may have changed the list */
    }
}

int proto_rpc_call(proto_rpc_t *rp, proto_client_t *c, const char *url, const rpc_request_t *in,
                   proto_rpc_done_fn done, void *ud)
{
    if (!rp->http || !rp->http->post) return -ENOTCONN;
    if (rp->calls >= rp->max_calls) return -ENOBUFS;
    size_t len;
    char *body = rpc_request_body(in, &len);
    int64_t ts = (rp->unix_ms ? rp->unix_ms() : in->time_ms) / 1000;
    char stamp[48], sig[WEBHOOK_SIG_HEX + 32];
    snprintf(stamp, sizeof(stamp), "X-Chorus-Timestamp: %" PRId64, ts);
    const char *headers[3] = {"Content-Type: application/json", stamp, sig};
    size_t nheaders = 2;
    if (rp->secret[0]) {
        char hex[WEBHOOK_SIG_HEX + 1];
        webhook_sign(rp->secret, ts, body, len, hex);
        snprintf(sig, sizeof(sig), "X-Chorus-Signature: v1=%s", hex);
        nheaders = 3;
    }
    http_call_req_t req = {.url = url,
                           .headers = headers,
                           .nheaders = nheaders,
                           .body = body,
                           .body_len = len,
                           .timeout_ms = rp->timeout_ms,
                           .max_reply = rp->max_reply};
    call_t *k = ch_malloc(sizeof(*k));
    *k = (call_t){.rp = rp, .c = c, .done = done, .ud = ud};
    int rc = rp->http->post(rp->http->impl, &req, http_done, k, &k->id);
    free(body);
    if (rc != 0) {
        free(k);
        return -ENOBUFS;
    }
    k->next = rp->inflight;
    if (k->next) k->next->prev = k;
    rp->inflight = k;
    rp->calls++;
    return 0;
}

/* ---- the rpc op ---- */

/* An rpc until its reply: the client's deferred reply (which pins the client), what the
 * backend is told, and the backend's data while its effects are applied. */
typedef struct {
    proto_deferred_t d;
    proto_rpc_t *rp;
    char method[RPC_METHOD_MAX + 1];
    json_t *data; /* owned: the caller's data (NULL: null) */
    int has_room;
    char room_id[STORE_ID_LEN];
    char room_code[STORE_CODE_LEN];
    char name[STORE_NAME_LEN]; /* the caller's display name in the room */
    char role[8];              /* host or member */
    json_t *reply;             /* owned: the backend's data, while its effects apply */
} rpc_wait_t;

/* Ends w: the connection's count goes down first (answering may free the client). */
static void rpc_end(rpc_wait_t *w)
{
    w->d.c->rpc_calls--;
    json_decref(w->data);
    json_decref(w->reply);
    free(w);
}

static void rpc_fail(rpc_wait_t *w, const char *code, const char *field, const char *message)
{
    proto_deferred_t d = w->d;
    rpc_end(w);
    if (field && field[0])
        proto_deferred_error_field(&d, code, field, message);
    else
        proto_deferred_error(&d, code, "%s", message);
}

/* bus_reply_fn of rpc.apply: the effects are stored (or refused); the reply goes now. */
static void applied(const bus_route_t *route, const char *code, const char *message,
                    json_t *data)
{
    rpc_wait_t *w = route->ud;
    proto_deferred_t d = w->d;
    json_t *reply = json_incref(w->reply);
    rpc_end(w);
    if (code) {
        json_decref(reply);
        proto_rooms_answer(&d, code, message, data);
        return;
    }
    json_decref(data);
    proto_deferred_ok(&d, reply);
}

static void called(void *ud, const rpc_reply_t *reply)
{
    rpc_wait_t *w = ud;
    if (reply->code) {
        rpc_fail(w, reply->code, reply->field, reply->message);
        return;
    }
    if (!reply->effects) {
        proto_deferred_t d = w->d;
        json_t *data = json_incref(reply->data);
        rpc_end(w);
        proto_deferred_ok(&d, data);
        return;
    }
    if (!w->has_room) {
        rpc_fail(w, RPC_EFFECTS_REFUSED, "effects", "an rpc about no room has no effects");
        return;
    }
    w->reply = json_incref(reply->data);
    json_t *args = json_pack("{s:O}", "effects", reply->effects);
    bus_op_t op = {
        .room = w->room_id,
        .name = "rpc.apply",
        .user = w->d.c->user.sub,
        .args = args,
        .route = {.member = w->d.c->rcv.id, .ref = -1, .fn = applied, .ud = w},
    };
    if (bus_send_op(w->rp->rooms->bus, &op) != 0)
        bus_reply(&op.route, "service_unavailable", "the room is not reachable now", NULL);
    json_decref(args);
}

static void rpc_start(rpc_wait_t *w)
{
    proto_client_t *c = w->d.c;
    rpc_request_t in = {
        .type = "rpc",
        .method = w->method,
        .room_id = w->has_room ? w->room_id : NULL,
        .room_code = w->room_code,
        .user_id = c->user.sub,
        .user_name = w->has_room ? w->name : proto_user_name(&c->user),
        .role = w->has_room ? w->role : NULL,
        .data = w->data,
        .time_ms = w->rp->unix_ms ? w->rp->unix_ms() : 0,
    };
    int rc = proto_rpc_call(w->rp, c, w->rp->url, &in, called, w);
    if (rc == -ENOTCONN)
        rpc_fail(w, RPC_UNAVAILABLE, NULL, "no HTTP client to call the backend");
    else if (rc != 0)
        rpc_fail(w, RPC_TOO_MANY, NULL, "too many calls to the backend in flight");
}

/* bus_reply_fn of rpc.member: the caller's name and role in the room, or a refusal. */
static void member_answered(const bus_route_t *route, const char *code, const char *message,
                            json_t *data)
{
    rpc_wait_t *w = route->ud;
    if (code) {
        proto_deferred_t d = w->d;
        rpc_end(w);
        proto_rooms_answer(&d, code, message, data);
        return;
    }
    snprintf(w->name, sizeof(w->name), "%s",
             json_string_value(json_object_get(data, "displayName")));
    snprintf(w->role, sizeof(w->role), "%s", json_string_value(json_object_get(data, "role")));
    json_decref(data);
    rpc_start(w);
}

static void op_rpc(proto_req_t *req)
{
    proto_rpc_t *rp = req->p->rpc;
    json_t *method = json_object_get(req->msg, "method");
    if (!json_is_string(method) ||
        !rpc_method_valid(json_string_value(method), json_string_length(method))) {
        proto_reply_error_field(req, "validation_error", "method",
                                "method must be 1 to 64 of A-Z a-z 0-9 _ . : -");
        return;
    }
    json_t *data = json_object_get(req->msg, "data");
    if (data) {
        char *text = json_dumps(data, JSON_COMPACT | JSON_ENCODE_ANY);
        size_t len = strlen(text);
        free(text);
        if (len > rp->max_data) {
            proto_reply_error(req, "payload_too_large", "data is over %zu bytes", rp->max_data);
            return;
        }
    }
    if (!rp->url[0]) {
        proto_reply_error(req, RPC_NOT_CONFIGURED, "this server has no rpc backend");
        return;
    }
    if (req->c->rpc_calls >= rp->max_calls_conn) {
        proto_reply_error(req, RPC_TOO_MANY, "%u rpc calls of this connection are in flight",
                          (unsigned)req->c->rpc_calls);
        return;
    }
    json_t *jroom = json_object_get(req->msg, "room");
    room_t *room = NULL;
    if (jroom && !json_is_null(jroom)) {
        room = proto_rooms_target(req, PROTO_ROOM_MEMBER);
        if (!room) return;
    }
    rpc_wait_t *w = ch_calloc(1, sizeof(*w));
    proto_defer(req, &w->d); /* c->pending: the client stays allocated until answered */
    req->c->rpc_calls++;
    w->rp = rp;
    snprintf(w->method, sizeof(w->method), "%s", json_string_value(method));
    w->data = json_incref(data);
    if (!room) {
        rpc_start(w);
        return;
    }
    w->has_room = 1;
    memcpy(w->room_id, room->id, sizeof(w->room_id));
    memcpy(w->room_code, room->code, sizeof(w->room_code));
    bus_op_t op = {
        .room = room->id,
        .name = "rpc.member",
        .user = req->c->user.sub,
        .route = {.member = req->c->rcv.id, .ref = -1, .fn = member_answered, .ud = w},
    };
    if (bus_send_op(rp->rooms->bus, &op) != 0)
        bus_reply(&op.route, "service_unavailable", "the room is not reachable now", NULL);
}

static const proto_op_t rpc_ops[] = {
    {"rpc", op_rpc, 0},
};

void proto_rpc_register(proto_t *p, proto_rpc_t *rp)
{
    p->rpc = rp;
    proto_register(p, rpc_ops, CH_ARRAY_LEN(rpc_ops));
}
