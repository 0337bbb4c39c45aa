/* proto_rooms.c: where a frame becomes a room operation: join, leave, message, history,
 * broadcast, presence, state, rotate_code, room_update. Here the room a frame names is
 * found and the caller's access checked (proto_rooms_target); join then runs here, and
 * every other op goes to the room's home through the bus (home.h) with a route back to
 * this connection. The rules live in rooms.c. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/entities.h"
#include "util/mem.h"
#include "proto/proto.h"
#include "proto/proto_rooms.h"
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

room_t *proto_rooms_target(proto_req_t *req, int need)
{
    json_t *jr = json_object_get(req->msg, "room");
    if (!json_is_string(jr)) {
        proto_reply_error(req, PROTO_BAD_REQUEST, "room (an id or a code) is required");
        return NULL;
    }
    room_t *room = rooms_get(rooms_of(req), json_string_value(jr));
    /* A connection's joined rooms are its own: the common case costs no member lookup. */
    if (room && need == PROTO_ROOM_JOINED && bus_find(req->c->rcv.subs, room)) return room;
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

/* A deferred reply carrying the room id, so the room is looked up again when the answer
 * comes (it may have been deleted meanwhile). */
typedef struct {
    proto_deferred_t d;
    rooms_t *r;
    char room_id[STORE_ID_LEN];
    char *participant;     /* join: the member as the join left it (encoded), until history arrives */
    int64_t since;         /* join: sync entities from this version; -1 = send them all */
} ws_op_t;

static ws_op_t *ws_op(proto_req_t *req, room_t *room)
{
    ws_op_t *op = ch_calloc(1, sizeof(*op));
    proto_defer(req, &op->d);
    op->r = rooms_of(req);
    snprintf(op->room_id, sizeof(op->room_id), "%s", room->id);
    return op;
}

/* Answers a deferred op from a rooms result: the result minus "success", or the error. */
static void answer(void *ud, const rooms_err_t *err, json_t *result)
{
    ws_op_t *op = ud;
    if (err && err->kind && err->field) {
        proto_deferred_error_field(&op->d, err->code, err->field, err->message);
    } else if (err && err->kind) {
        proto_deferred_error(&op->d, err->code, "%s", err->message);
    } else {
        json_object_del(result, "success");
        proto_deferred_ok(&op->d, result);
        result = NULL;
    }
    json_decref(result);
    free(op->participant);
    free(op);
}

/* ---- join: membership, then subscription and the recent messages ---- */

/* Ends a join: subscribes the connection and answers with the room as it is now. The
 * messages are msgs (a JSON array, stolen) from the store, or with msgs NULL the room's
 * recent-message cache, read here in the same step as lastSeq and the subscription, so
 * the messages and the later events meet without a gap. The participants and the recent
 * messages go into the reply as the texts the room keeps encoded (room_members_encoded,
 * rooms_recent): a join into a room of N members does not build and encode N members. */
static void join_finish(ws_op_t *op, json_t *msgs)
{
    room_t *room = strmap_get(&op->r->by_id, op->room_id);
    if (!room || op->d.c->gone) {
        if (room) rooms_join_abandoned(op->r, room, op->d.c->user.sub);
        json_decref(msgs);
        answer(op, &(rooms_err_t){.kind = ROOMS_E_NOT_FOUND, .code = "not_found", .message = "the room was deleted"}, NULL);
        return;
    }
    room_member_t *me = room_member(room, op->d.c->user.sub);
    if (!me || me->banned) { /* kicked while the join was in flight */
        json_decref(msgs);
        answer(op, &(rooms_err_t){.kind = ROOMS_E_FORBIDDEN, .code = PROTO_FORBIDDEN, .message = "you are no longer in this room"},
               NULL);
        return;
    }
    /* The reply's data, in this order: room | participant | role | participants | state,
     * stateVersion, the entity fields, lastSeq[, messages] | [messages]. */
    json_t *role = json_pack("{s:s}", "role",
                             me && me->role == STORE_ROLE_HOST ? "host" : "member");
    /* Subscribe last, so the member list includes the caller as online. */
    rooms_subscribe(op->r, room, &op->d.c->rcv);
    size_t nmembers;
    const char **members = room_members_encoded(room, &nmembers);
    json_t *tail = json_object();
    json_object_set(tail, "state", room->state); /* encoded below, before anything runs */
    json_object_set_new(tail, "stateVersion", json_integer(room->state_version));
    entities_join_fields(room, tail, op->since, ROOMS_JOIN_ENTITIES(op->r));
    json_object_set_new(tail, "lastSeq", json_integer(room->committed_seq));
    json_t *head = json_pack("{s:o}", "room", room_json(op->r, room));
    size_t nmsgs = 0;
    const char **items = NULL;
    if (msgs) {
        json_object_set_new(tail, "messages", msgs);
    } else {
        CH_ASSERT(rooms_recent_ready(op->r, room)); /* join_member checked; nothing ran since */
        items = rooms_recent(room, &nmsgs);
        /* The newest that fit in the join's share of the reply budget. */
        if (nmsgs) {
            size_t *lens = ch_malloc(nmsgs * sizeof(*lens));
            for (size_t i = 0; i < nmsgs; i++)
                lens[i] = strlen(items[i]);
            size_t k = rooms_fit(lens, nmsgs, ROOMS_JOIN_MESSAGES(op->r), 1);
            free(lens);
            memmove(items, items + (nmsgs - k), k * sizeof(*items));
            nmsgs = k;
        }
    }
    jpart_t parts[6] = {
        {.obj = head},
        {.key = "participant", .text = op->participant},
        {.obj = role},
        {.key = "participants", .items = members, .n = nmembers},
        {.obj = tail},
        {.key = "messages", .items = items, .n = nmsgs},
    };
    proto_deferred_ok_parts(&op->d, parts, msgs ? 5 : 6);
    free(items);
    free(members);
    json_decref(head);
    json_decref(role);
    json_decref(tail);
    free(op->participant);
    free(op);
}

static void join_history(void *ud, const rooms_err_t *err, json_t *result)
{
    json_t *msgs = !err || !err->kind ? json_object_get(result, "messages") : NULL;
    msgs = msgs ? json_incref(msgs) : json_array();
    json_decref(result);
    join_finish(ud, msgs);
}

static void join_member(void *ud, const rooms_err_t *err, json_t *result)
{
    ws_op_t *op = ud;
    room_t *room = strmap_get(&op->r->by_id, op->room_id);
    if ((err && err->kind) || !room) {
        answer(op, err && err->kind ? err : &(rooms_err_t){.kind = ROOMS_E_NOT_FOUND, .code = "not_found", .message = "no such room"},
               result);
        return;
    }
    json_decref(result);
    /* The member as the join left it: before the subscription (join_finish) makes them
     * online and gives them a fresh presence. */
    room_member_t *m = room_member(room, op->d.c->user.sub);
    op->participant = ch_strdup(m ? room_member_encoded(m) : "null");
    if (rooms_recent_ready(op->r, room)) join_finish(op, NULL); /* the newest messages are in memory */
    else rooms_join_history(op->r, room, join_history, op);
}

static void op_join(proto_req_t *req)
{
    room_t *room = proto_rooms_target(req, PROTO_ROOM_ANY);
    if (!room) return;
    json_t *dn = json_object_get(req->msg, "displayName");
    if (dn && (!json_is_string(dn) || json_string_length(dn) == 0 ||
               json_string_length(dn) >= STORE_NAME_LEN)) {
        invalid(req, "displayName", "displayName must be a non-empty string");
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
    ws_op_t *op = ws_op(req, room);
    op->since = since;
    rooms_join_quiet(op->r, room, &req->c->user, dn ? json_string_value(dn) : NULL, join_member,
                     op);
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

/* On the local bus the home runs now, on this stack: the op and its route are passed by
 * value, nothing is allocated or encoded here; the home copies the route into the
 * completion context of an op that waits for the store. */
void proto_rooms_send(proto_req_t *req, room_t *room, bus_reply_fn fn, void *ud)
{
    bus_op_t op = {
        .room = room->id,
        .name = req->op,
        .user = req->c->user.sub,
        .args = req->msg,
        .route = {.member = req->c->rcv.id,
                  .ref = req->has_ref ? req->ref : -1,
                  .fn = fn,
                  .ud = ud},
    };
    if (bus_send_op(rooms_of(req)->bus, &op) != 0)
        bus_reply(&op.route, "service_unavailable", "the room is not reachable now", NULL);
}

void proto_rooms_to_home(proto_req_t *req, room_t *room)
{
    proto_deferred_t pin;
    proto_defer(req, &pin); /* c->pending: the client stays allocated until answered */
    proto_rooms_send(req, room, req->has_ref ? home_answer_ref : home_answer_event, req->c);
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

/* join stays a direct call: it subscribes this connection, on this process, to a room
 * whose state, members and recent messages it reads in the same step (join_finish); going
 * through the home would take a second step, the home answering the membership and this
 * process subscribing and reading what the home sends, for a room elsewhere. Every other
 * room op goes to the room's home through the bus. */
static const proto_op_t room_ops[] = {
    {"join", op_join, 0},
    {"leave", op_home_member, 0},
    {"message", op_home_joined, 0},
    {"history", op_home_member, 0},
    {"broadcast", op_home_joined, 0},
    {"presence", op_home_joined, 0},
    {"state", op_home_member, 0},
    {"rotate_code", op_home_member, 0},
    {"room_update", op_home_member, 0},
};

/* The features' subscriptions go first (their client_gone hooks), then the rooms'. */
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
