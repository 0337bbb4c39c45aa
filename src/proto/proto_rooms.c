/* proto_rooms.c: where a frame becomes a room operation: join, leave, message, history,
 * broadcast, presence, state, rotate_code, room_update. Here the room a frame names is
 * found and the caller's access checked (proto_rooms_target), and each op goes to the
 * room's home through the bus (home.h) with a route back to this connection; join's
 * answer subscribes the connection to the room here. The rules live in rooms.c. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/jscan.h"
#include "util/mem.h"
#include "proto/proto.h"
#include "proto/proto_rooms.h"
#include "proto/proto_rpc.h"
#include "domain/home.h"
#include "domain/rooms.h"

/* Replies validation_error naming the field. */
static void invalid(proto_req_t *req, const char *field, const char *message)
{
    proto_reply_error_field(req, "validation_error", field, message);
}

static rooms_t *rooms_of(proto_req_t *req)
{
    return req->p->app;
}

static void join_first_check(proto_req_t *req, room_t *room);

/* A frame whose room this cluster node did not know, while its room is read from the
 * store (rooms_seek): run again once it is known. */
typedef struct {
    proto_deferred_t d;
    rooms_t *r;
    json_t *args; /* the frame */
    char op[];    /* its op's name */
} seek_wait_t;

static void sought(void *ud, int rc)
{
    seek_wait_t *w = ud;
    if (rc == 0)
        proto_deferred_rerun(&w->d, w->op, w->args, uv_now(w->r->loop));
    else if (rc == ROOMS_E_NOT_FOUND)
        proto_deferred_error(&w->d, "not_found", "no such room");
    else
        proto_deferred_error(&w->d, BUS_UNAVAILABLE, "the room could not be read; try again");
    json_decref(w->args);
    free(w);
}

/* On a miss of key in a cluster: 1 after deferring req until its room is read from the
 * store (or answering rate_limited), else 0 (look up as on one node). */
static int seek(proto_req_t *req, const char *key)
{
    rooms_t *r = rooms_of(req);
    json_t *args = req->msg ? json_incref(req->msg)
                            : json_loadb(req->scan->buf, req->scan->len,
                                         JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!json_is_object(args)) {
        json_decref(args);
        return 0;
    }
    size_t n = strlen(req->op) + 1;
    seek_wait_t *w = ch_calloc(1, sizeof(*w) + n);
    w->r = r;
    w->args = args;
    memcpy(w->op, req->op, n);
    uint64_t retry_ms = 0;
    const char *ip = req->c->tr && req->c->tr->peer ? req->c->tr->peer(req->c) : NULL;
    int rc = rooms_seek(r, key, req->c->user.sub, ip, &retry_ms, sought, w);
    if (rc == 1) {
        proto_defer(req, &w->d);
        return 1;
    }
    json_decref(args);
    free(w);
    if (rc == ROOMS_E_RATE_LIMITED) {
        unsigned long long secs = (retry_ms + 999) / 1000;
        proto_reply_error(req, PROTO_RATE_LIMITED,
                          "too many lookups of rooms you are not in; retry in %llu s",
                          secs ? secs : 1);
        return 1;
    }
    return 0;
}

/* Room ids and codes fit; a longer name is decoded on the heap. */
#define ROOM_NAME_MAX 128

room_t *proto_rooms_target(proto_req_t *req, int need)
{
    char name[ROOM_NAME_MAX + 1], *heap = NULL;
    const char *key;
    if (req->scan) {
        const jscan_member_t *m = jscan_get(req->scan, "room");
        key = NULL;
        if (m && m->type == JSCAN_STRING) {
            key = name;
            if (jscan_string(m, name, sizeof(name)) < 0) {
                key = heap = ch_malloc(m->val_len);
                CH_ASSERT(jscan_string(m, heap, m->val_len) >= 0);
            }
        }
    } else {
        json_t *jr = json_object_get(req->msg, "room");
        key = json_is_string(jr) ? json_string_value(jr) : NULL;
    }
    if (!key) {
        proto_reply_error(req, PROTO_BAD_REQUEST, "room (an id or a code) is required");
        return NULL;
    }
    room_t *room = rooms_get(rooms_of(req), key);
    if (!room && !req->sought) {
        int rc = seek(req, key);
        if (rc != 0) {
            free(heap);
            return NULL;
        }
    }
    free(heap);
    /* A connection's joined rooms are its own: the common case costs no member lookup (and
     * a room homed on another node keeps its members there, not here). */
    if (room && need != PROTO_ROOM_ANY && bus_find(req->c->rcv.subs, room)) return room;
    /* A room at home on another node: its members are known there only, so the home
     * checks the caller (HOME_MEMBER_KEY), answering as one node would: not_found to a
     * non-participant, forbidden "join the room first" to a participant not joined on
     * this connection (HOME_OP_JOIN_FIRST), else the op. */
    if (room && need != PROTO_ROOM_ANY && !bus_home_here(rooms_of(req)->bus, room->id)) {
        if (need == PROTO_ROOM_JOINED) {
            join_first_check(req, room);
            return NULL;
        }
        if (req->msg) {
            json_object_set_new(req->msg, HOME_MEMBER_KEY, json_true());
            return room;
        }
    }
    uint64_t retry_ms = 0;
    const char *ip = req->c->tr && req->c->tr->peer ? req->c->tr->peer(req->c) : NULL;
    int rc =
        rooms_access(rooms_of(req), room, req->c->user.sub, ip,
                     need == PROTO_ROOM_ANY ? ROOMS_SEEK_ANY : ROOMS_SEEK_MEMBER, &retry_ms);
    if (rc == ROOMS_E_RATE_LIMITED) {
        unsigned long long secs = (retry_ms + 999) / 1000;
        proto_reply_error(req, PROTO_RATE_LIMITED,
                          "too many lookups of rooms you are not in; retry in %llu s",
                          secs ? secs : 1);
        return NULL;
    }
    if (rc != 0) {
        proto_reply_error(req, "not_found", "no such room");
        return NULL;
    }
    if (need == PROTO_ROOM_JOINED && !bus_find(req->c->rcv.subs, room)) {
        proto_reply_error(req, PROTO_FORBIDDEN, "join the room first");
        return NULL;
    }
    return room;
}

/* ---- join: at the room's home; the connection subscribes when the answer comes ---- */

/* A join until its answer: the reply, the room (looked up again when the answer comes),
 * whether the home attaches this connection, and what the join hook needs (the app's
 * backend asked first when --join-hook-url is set: proto_rpc.h). */
typedef struct {
    proto_deferred_t d;
    rooms_t *r;
    proto_rpc_t *rp; /* the app's backend, for the join hook (NULL: none) */
    char room_id[STORE_ID_LEN];
    int attach;
    int64_t since;
    char dn[STORE_NAME_LEN]; /* the displayName asked for ("" = none) */
} join_wait_t;

/* bus_reply_fn of a join: an error (with its field), or a success without parts. */
static void join_answered(const bus_route_t *route, const char *code, const char *message,
                          json_t *data)
{
    join_wait_t *w = route->ud;
    proto_rooms_answer(&w->d, code, message, data);
    free(w);
}

/* bus_reply_parts_fn of a join: the home attached the connection (when asked) and sent the
 * room's snapshot. The connection subscribes now, before its reply goes, so the events
 * after the snapshot reach it (bus.h: subscribing in the answer); when it went away
 * meanwhile, or another join subscribed it first, the home detaches it again. */
static void join_answered_parts(const bus_route_t *route, const jpart_t *parts,
                                size_t nparts)
{
    join_wait_t *w = route->ud;
    proto_client_t *c = w->d.c;
    int undo = 0;
    if (w->attach) {
        room_t *room = strmap_get(&w->r->by_id, w->room_id);
        undo = c->gone || !room || rooms_subscribe(w->r, room, &c->rcv) != 0;
    }
    bus_member_t id = c->rcv.id;
    char user[AUTH_JWT_SUB_MAX + 1];
    if (undo) snprintf(user, sizeof(user), "%s", c->user.sub);
    proto_deferred_ok_parts(&w->d, parts, nparts); /* dropped when c went away; may free c */
    /* After the reply: the parts borrow the members' kept encodings, which a detach
     * changes. */
    if (undo) rooms_send_detach(w->r, w->room_id, id, user, 1);
    free(w);
}

/* Sends w's join to the room's home: the route's function answers it. dn (borrowed; NULL:
 * none) is the display name asked for, or the one the join hook gave; role (static or
 * borrowed; NULL: keep the member's) the role the join hook gave, "host" or "member". */
static void join_send(join_wait_t *w, const char *dn, const char *role)
{
    proto_client_t *c = w->d.c;
    room_t *room = strmap_get(&w->r->by_id, w->room_id);
    if (!room || c->gone) { /* deleted during the join hook's call, or the client went */
        proto_deferred_t d = w->d;
        free(w);
        proto_deferred_error(&d, "not_found", "no such room");
        return;
    }
    w->attach = !bus_find(c->rcv.subs, room);
    /* What the home needs besides the frame: the caller's name and color (its token) and
     * whether this connection is in the room already. */
    json_t *args = json_pack("{s:I, s:s, s:s, s:b}", "since", (json_int_t)w->since, "userName",
                             proto_user_name(&c->user), "userColor", proto_user_color(&c->user),
                             "attach", w->attach);
    if (dn) json_object_set_new(args, "displayName", json_string(dn));
    if (role) json_object_set_new(args, "role", json_string(role));
    bus_op_t op = {
        .room = room->id,
        .name = "join",
        .user = c->user.sub,
        .args = args,
        .route = {.member = c->rcv.id,
                  .ref = w->d.has_ref ? w->d.ref : -1,
                  .fn = join_answered,
                  .parts_fn = join_answered_parts,
                  .ud = w},
        .subscribes = 1,
    };
    if (bus_send_op(w->r->bus, &op) != 0)
        bus_reply(&op.route, "service_unavailable", "the room is not reachable now", NULL);
    json_decref(args);
}

/* proto_rpc_done_fn of the join hook: the app's verdict on w's join. */
static void join_hooked(void *ud, const rpc_reply_t *reply)
{
    join_wait_t *w = ud;
    proto_rpc_t *rp = w->rp;
    w->d.c->rpc_calls--; /* counted per connection like an rpc (op_join) */
    const char *name = NULL, *role = NULL, *code = reply->code;
    char msg[RPC_MESSAGE_MAX + 1];
    snprintf(msg, sizeof(msg), "%s", reply->message);
    int verdict =
        code ? -1 : rpc_join_verdict(reply->answer, &name, &role, &code, msg, sizeof(msg));
    if (verdict == -1 && !code) code = RPC_BAD_REPLY; /* msg says what is wrong */
    if (verdict == 1 || (verdict == -1 && rp->hook_fail_open)) {
        /* Failing open lets the join in as it asked: no name or role of the app's. */
        if (verdict != 1) name = role = NULL;
        join_send(w, name ? name : (w->dn[0] ? w->dn : NULL), role);
        return;
    }
    proto_deferred_t d = w->d;
    free(w);
    proto_deferred_error(&d, code, "%s", msg);
}

/* Asks the app's join hook about w's join of room. */
static void join_ask(join_wait_t *w, const room_t *room)
{
    proto_client_t *c = w->d.c;
    rpc_request_t in = {.type = "join",
                        .room_id = room->id,
                        .room_code = room->code,
                        .user_id = c->user.sub,
                        .user_name = proto_user_name(&c->user),
                        .display_name = w->dn[0] ? w->dn : NULL,
                        .time_ms = w->rp->unix_ms ? w->rp->unix_ms() : 0};
    int rc = -ENOBUFS;
    /* The join hook's calls count per connection, like rpc calls. */
    if (c->rpc_calls < w->rp->max_calls_conn) {
        c->rpc_calls++;
        rc = proto_rpc_call(w->rp, c, w->rp->hook_url, &in, join_hooked, w);
        if (rc == 0) return;
        c->rpc_calls--;
    }
    /* Fail open only when there is no backend to ask; a full call budget is our own bound
     * (which a client can fill), never a way in without the app's word. */
    if (rc == -ENOTCONN && w->rp->hook_fail_open) {
        join_send(w, w->dn[0] ? w->dn : NULL, NULL);
        return;
    }
    proto_deferred_t d = w->d;
    free(w);
    if (rc == -ENOTCONN)
        proto_deferred_error(&d, RPC_UNAVAILABLE, "the join hook cannot be asked");
    else
        proto_deferred_error(&d, RPC_TOO_MANY, "too many calls to the app's backend in flight");
}

static void op_join(proto_req_t *req)
{
    room_t *room = proto_rooms_target(req, PROTO_ROOM_ANY);
    if (!room) return;
    json_t *dn = json_object_get(req->msg, "displayName");
    if (dn && (!json_is_string(dn) || json_string_length(dn) == 0 ||
               json_string_length(dn) >= STORE_NAME_LEN ||
               memchr(json_string_value(dn), 0, json_string_length(dn)))) {
        invalid(req, "displayName", "displayName must be a non-empty string without U+0000");
        return;
    }
    if (!bus_find(req->c->rcv.subs, room)) {
        uint32_t joined = bus_count(req->c->rcv.subs);
        if (joined >= rooms_of(req)->lim.max_joined) {
            proto_reply_error(req, "too_many_rooms",
                              "this connection has joined %u rooms (the limit)", joined);
            return;
        }
    }
    int64_t since;
    if (proto_opt_uint(req, "since", -1, &since)) return;
    join_wait_t *w = ch_calloc(1, sizeof(*w));
    proto_defer(req, &w->d); /* c->pending: the client stays allocated until answered */
    w->r = rooms_of(req);
    w->rp = req->p->rpc;
    snprintf(w->room_id, sizeof(w->room_id), "%s", room->id);
    w->since = since;
    if (dn) snprintf(w->dn, sizeof(w->dn), "%s", json_string_value(dn));
    if (w->rp && w->rp->hook_url[0])
        join_ask(w, room);
    else
        join_send(w, dn ? w->dn : NULL, NULL);
}

/* ---- the ops that go to the room's home (home.h, home_rooms.c) ---- */

void proto_rooms_answer(proto_deferred_t *d, const char *code, const char *message,
                        json_t *data)
{
    if (!code) {
        proto_deferred_ok(d, data);
        return;
    }
    json_t *field = json_object_get(data, "field");
    if (json_is_string(field)) {
        proto_deferred_error_field(d, code, json_string_value(field), message);
    } else if (json_object_size(data)) {
        json_t *err = json_pack("{s:s, s:s}", "code", code, "message", message);
        json_object_update(err, data);
        proto_deferred_error_obj(d, err);
    } else {
        proto_deferred_error(d, code, "%s", message);
    }
    json_decref(data);
}

/* Answers the client behind route, whose ud is its proto_client_t, pinned by
 * proto_rooms_to_home (c->pending) until this answer: as a deferred reply, so nothing goes
 * to a client that went away meanwhile and its last answer frees it. */
static void home_answer(const bus_route_t *route, int has_ref, const char *code,
                        const char *message, json_t *data)
{
    /* The deferred replies read the client and the ref, not the proto_t. */
    proto_deferred_t d = {.c = route->ud, .has_ref = has_ref, .ref = route->ref};
    proto_rooms_answer(&d, code, message, data);
}

/* bus_reply_fn for a request with a ref (route->ref), and for one without (an error goes
 * as an error event, a success is not answered): the route's ref alone cannot tell them
 * apart, since a client may send any integer as its ref. */
static void home_answer_ref(const bus_route_t *route, const char *code, const char *message,
                            json_t *data)
{
    home_answer(route, 1, code, message, data);
}

static void home_answer_event(const bus_route_t *route, const char *code,
                              const char *message, json_t *data)
{
    home_answer(route, 0, code, message, data);
}

/* The same for a success made of parts (a stored message's answer, its text as the home
 * wrote it once for its event too). */
static void home_answer_parts(const bus_route_t *route, int has_ref, const jpart_t *parts,
                              size_t nparts)
{
    proto_deferred_t d = {.c = route->ud, .has_ref = has_ref, .ref = route->ref};
    proto_deferred_ok_parts(&d, parts, nparts);
}

static void home_answer_parts_ref(const bus_route_t *route, const jpart_t *parts,
                                  size_t nparts)
{
    home_answer_parts(route, 1, parts, nparts);
}

static void home_answer_parts_event(const bus_route_t *route, const jpart_t *parts,
                                    size_t nparts)
{
    home_answer_parts(route, 0, parts, nparts);
}

/* On the local bus the home runs now, on this stack: the op and its route are passed by
 * value, nothing is allocated or encoded here; the home copies the route into the
 * completion context of an op that waits for the store. */
void proto_rooms_send(proto_req_t *req, room_t *room, bus_reply_fn fn, void *ud)
{
    proto_rooms_send_sub(req, room, NULL, fn, ud);
}

/* proto_rooms_send_sub with the route's parts_fn too (NULL: never answered with parts). */
static void send_op(proto_req_t *req, room_t *room, const char *doc, bus_reply_fn fn,
                    bus_reply_parts_fn parts_fn, void *ud)
{
    bus_op_t op = {
        .subscribes = doc != NULL,
        .sub_doc = doc,
        .room = room->id,
        .name = req->op,
        .user = req->c->user.sub,
        .args = req->msg,
        .scan = req->msg ? NULL : req->scan,
        .route = {.member = req->c->rcv.id,
                  .ref = req->has_ref ? req->ref : -1,
                  .fn = fn,
                  .parts_fn = parts_fn,
                  .ud = ud},
    };
    if (bus_send_op(rooms_of(req)->bus, &op) != 0)
        bus_reply(&op.route, "service_unavailable", "the room is not reachable now", NULL);
}

void proto_rooms_send_sub(proto_req_t *req, room_t *room, const char *doc, bus_reply_fn fn,
                          void *ud)
{
    send_op(req, room, doc, fn, NULL, ud);
}

/* Asks room's home (on another node) what one node answers to an op of a connection that
 * has not joined room: not_found or forbidden (proto_rooms_target). */
static void join_first_check(proto_req_t *req, room_t *room)
{
    proto_deferred_t pin;
    proto_defer(req, &pin); /* c->pending: the client stays allocated until answered */
    json_t *args = json_pack("{s:b}", HOME_MEMBER_KEY, 1);
    bus_op_t op = {
        .room = room->id,
        .name = HOME_OP_JOIN_FIRST,
        .user = req->c->user.sub,
        .args = args,
        .route = {.member = req->c->rcv.id,
                  .ref = req->has_ref ? req->ref : -1,
                  .fn = req->has_ref ? home_answer_ref : home_answer_event,
                  .ud = req->c},
    };
    if (bus_send_op(rooms_of(req)->bus, &op) != 0)
        bus_reply(&op.route, "service_unavailable", "the room is not reachable now", NULL);
    json_decref(args);
}

void proto_rooms_to_home(proto_req_t *req, room_t *room)
{
    proto_deferred_t pin;
    proto_defer(req, &pin); /* c->pending: the client stays allocated until answered */
    send_op(req, room, NULL, req->has_ref ? home_answer_ref : home_answer_event,
            req->has_ref ? home_answer_parts_ref : home_answer_parts_event, req->c);
}

/* Ops for the room's participants, joined on this connection or not (leave, history,
 * state, rotate_code, room_update). */
static void op_home_member(proto_req_t *req)
{
    room_t *room = proto_rooms_target(req, PROTO_ROOM_MEMBER);
    if (room) proto_rooms_to_home(req, room);
}

/* Ops for the connections that joined the room (message, broadcast, presence). */
static void op_home_joined(proto_req_t *req)
{
    room_t *room = proto_rooms_target(req, PROTO_ROOM_JOINED);
    if (room) proto_rooms_to_home(req, room);
}

/* ---- presence_subscribe: the home answers the watched users' presence; the watch
 * index is this process's (rooms_watch_set) ---- */

typedef struct {
    proto_deferred_t d;
    rooms_t *r;
    json_t *users; /* the frame's list (a reference) */
    char room_id[STORE_ID_LEN];
} watch_wait_t;

/* Watches w's users for its connection (c, not gone) in its room: the count watched, or
 * a ROOMS_E_ error. */
static int watch_apply(watch_wait_t *w, proto_client_t *c)
{
    room_t *room = strmap_get(&w->r->by_id, w->room_id);
    size_t n = json_array_size(w->users);
    const char **ids = ch_malloc((n ? n : 1) * sizeof(*ids));
    for (size_t i = 0; i < n; i++)
        ids[i] = json_string_value(json_array_get(w->users, i));
    int rc = room ? rooms_watch_set(w->r, room, &c->rcv, ids, n) : ROOMS_E_FORBIDDEN;
    free(ids);
    return rc;
}

static void watch_error(proto_deferred_t *d, int rc)
{
    if (rc == ROOMS_E_LIMIT) proto_deferred_error(d, "too_many_users", "too many users to watch");
    else proto_deferred_error(d, PROTO_FORBIDDEN, "join the room first");
}

/* bus_reply_fn of presence_subscribe (an error, or a home that answered a tree): the
 * connection watches the users from now on (the events after the home's answer reach it;
 * the answer holds the state before them). */
static void watch_answered(const bus_route_t *route, const char *code, const char *message,
                           json_t *data)
{
    watch_wait_t *w = route->ud;
    proto_client_t *c = w->d.c;
    int rc = !code && !c->gone ? watch_apply(w, c) : 0;
    if (rc < 0) {
        json_decref(data);
        watch_error(&w->d, rc);
    } else {
        if (!code && !c->gone) {
            if (!json_is_object(data)) {
                json_decref(data);
                data = json_object();
            }
            json_object_set_new(data, "room", json_string(w->room_id));
            json_object_set_new(data, "users", json_integer(rc));
        }
        proto_rooms_answer(&w->d, code, message, data);
    }
    json_decref(w->users);
    free(w);
}

/* bus_reply_parts_fn of presence_subscribe: as watch_answered, the home's answer ({"presence"}
 * written from the members' texts) copied into the reply as it is, then "room" and
 * "users". */
static void watch_answered_parts(const bus_route_t *route, const jpart_t *parts, size_t nparts)
{
    watch_wait_t *w = route->ud;
    proto_client_t *c = w->d.c;
    int rc = c->gone ? 0 : watch_apply(w, c);
    if (rc < 0) {
        watch_error(&w->d, rc);
    } else {
        char room_q[6 * STORE_ID_LEN + 3], num[JSCAN_INT_MAX];
        size_t numlen = jscan_write_int(num, rc);
        int qlen = jscan_quote(room_q, sizeof(room_q), w->room_id, strlen(w->room_id));
        CH_ASSERT(qlen > 0 && nparts <= 4); /* a room id; the home's one part */
        jpart_t all[6];
        memcpy(all, parts, nparts * sizeof(*parts));
        all[nparts] = (jpart_t){.key = "room", .text = room_q, .len = (size_t)qlen};
        all[nparts + 1] = (jpart_t){.key = "users", .text = num, .len = numlen};
        proto_deferred_ok_parts(&w->d, all, nparts + 2); /* dropped when c went away */
    }
    json_decref(w->users);
    free(w);
}

static void op_presence_subscribe(proto_req_t *req)
{
    room_t *room = proto_rooms_target(req, PROTO_ROOM_JOINED);
    if (!room) return;
    rooms_t *r = rooms_of(req);
    json_t *users = json_object_get(req->msg, "users");
    if (!json_is_array(users)) {
        invalid(req, "users", "users must be an array of user ids");
        return;
    }
    if (json_array_size(users) > r->lim.watch_max) {
        proto_reply_error(req, "too_many_users",
                          "at most %u users can be watched in a room at once", r->lim.watch_max);
        return;
    }
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u)
    {
        if (!json_is_string(u) || json_string_length(u) == 0 ||
            json_string_length(u) >= STORE_SUB_LEN ||
            memchr(json_string_value(u), 0, json_string_length(u))) {
            invalid(req, "users", "each user id must be a non-empty string of at most 128 bytes");
            return;
        }
    }
    watch_wait_t *w = ch_calloc(1, sizeof(*w));
    proto_defer(req, &w->d); /* c->pending: the client stays allocated until answered */
    w->r = r;
    w->users = json_incref(users);
    snprintf(w->room_id, sizeof(w->room_id), "%s", room->id);
    send_op(req, room, NULL, watch_answered, watch_answered_parts, w);
}

/* Every room op goes to the room's home through the bus; join's answer subscribes the
 * connection here. */
static const proto_op_t room_ops[] = {
    {"join", op_join, 0},
    {"leave", op_home_member, 0},
    {"message", op_home_joined, PROTO_OP_SCAN},
    {"history", op_home_member, 0},
    {"broadcast", op_home_joined, PROTO_OP_SCAN},
    {"presence", op_home_joined, PROTO_OP_SCAN},
    {"state", op_home_member, 0},
    {"rotate_code", op_home_member, 0},
    {"room_update", op_home_member, 0},
    {"activity", op_home_member, 0},
    {"snapshot_at", op_home_member, 0},  /* home_history.c */
    {"participants", op_home_member, 0}, /* home_participants.c */
    {"presence_subscribe", op_presence_subscribe, 0}, /* home_participants.c */
};

/* The features' local state goes first (their client_gone hooks), then each room's
 * subscription, told to the room's home (rooms_client_gone). */
static void client_gone(proto_t *p, proto_client_t *c)
{
    rooms_client_gone(p->app, &c->rcv);
}

void proto_rooms_register(proto_t *p, rooms_t *r)
{
    p->app = r;
    p->client_gone = client_gone;
    proto_register(p, room_ops, CH_ARRAY_LEN(room_ops));
}
