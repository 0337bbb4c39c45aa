/* home_rooms.c: the room ops at their room's home (home.h): each reads the op's JSON
 * arguments (message, broadcast and presence as scanned text, home_args: no tree, the
 * values re-emitted as sent), calls the rooms domain (rooms.h) with the member's identity
 * and user, and answers through the op's route, now (broadcast, presence, a refused
 * argument) or once the store answered (message, history, state, leave, rotate_code,
 * room_update). The member's side (proto_rooms.c) has checked the caller's access to the
 * room already. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/home.h"
#include "domain/webhooks.h"
#include "util/mem.h"

#define EVENT_NAME_MAX 64
#define HISTORY_MAX 200

/* rooms_done_fn: answers from a rooms result: the result minus "success", or the error. */
static void answered(void *ud, const rooms_err_t *err, json_t *result)
{
    bus_route_t *route = ud; /* home_route_keep's */
    if (err && err->kind) {
        json_decref(result);
        if (err->field)
            home_reply_field(route, err->code, err->field, err->message);
        else
            bus_reply(route, err->code, err->message, NULL);
    } else {
        json_object_del(result, "success");
        bus_reply(route, NULL, NULL, result);
    }
    free(route);
}

/* rooms_parts_fn: a success answered as parts (a stored message), as answered does. */
static void answered_parts(void *ud, const jpart_t *parts, size_t nparts)
{
    bus_route_t *route = ud; /* home_route_keep's */
    bus_reply_parts(route, parts, nparts);
    free(route);
}

static void op_leave(void *ud, room_t *room, const bus_op_t *op)
{
    rooms_leave(ud, room, op->user, "left", answered, home_route_keep(op));
}

/* Decodes the string member m (borrowed; NULL or not a string: NULL) into buf (cap
 * bytes), or into *heap (new) when it does not fit. */
static const char *string_arg(const jscan_member_t *m, char *buf, size_t cap, char **heap,
                              size_t *len)
{
    *heap = NULL;
    *len = 0;
    if (!m || m->type != JSCAN_STRING) return NULL;
    if (m->val_len >= cap) buf = *heap = ch_malloc(cap = m->val_len);
    int n = jscan_string(m, buf, cap);
    CH_ASSERT(n >= 0); /* a decoded string is shorter than its text */
    *len = (size_t)n;
    return buf;
}

static void op_message(void *ud, room_t *room, const bus_op_t *op)
{
    static const char *const keys[] = {"type", "content", "metadata", "clientId"};
    jscan_t tmp;
    char *text, *type_heap, *content_heap, *cid_heap, *meta_owned = NULL;
    const jscan_t *a = home_args(op, &tmp, keys, CH_ARRAY_LEN(keys), &text);
    char type_buf[64], content_buf[512];
    size_t type_len;
    const char *type =
        string_arg(jscan_get(a, "type"), type_buf, sizeof(type_buf), &type_heap, &type_len);
    rooms_post_in_t in = {.type = type ? type : ""};
    in.content = string_arg(jscan_get(a, "content"), content_buf, sizeof(content_buf),
                            &content_heap, &in.content_len);
    const jscan_member_t *meta = jscan_get(a, "metadata");
    if (meta) {
        in.metadata_object = meta->type == JSCAN_OBJECT;
        in.metadata = jscan_text(meta, &in.metadata_len, &meta_owned);
    }
    const jscan_member_t *cid = jscan_get(a, "clientId");
    char cid_buf[72];
    in.client_id = string_arg(cid, cid_buf, sizeof(cid_buf), &cid_heap, &in.client_id_len);
    in.client_id_bad = cid && cid->type != JSCAN_STRING;
    /* The stored message's text goes back as it is when the route takes parts. */
    if (op->route.parts_fn) in.answer_parts = answered_parts;
    rooms_post_text(ud, room, op->user, &in, op->route.member, answered, home_route_keep(op));
    free(cid_heap);
    free(meta_owned);
    free(content_heap);
    free(type_heap);
    free(text);
}

static void op_history(void *ud, room_t *room, const bus_op_t *op)
{
    int64_t before, after, limit;
    if (home_opt_uint(op, "before", -1, &before) || home_opt_uint(op, "after", -1, &after) ||
        home_opt_uint(op, "limit", 50, &limit))
        return;
    if (limit < 1 || limit > HISTORY_MAX) {
        home_reply_field(&op->route, "validation_error", "limit", "limit must be 1 to 200");
        return;
    }
    rooms_history(ud, room, before, after, (uint32_t)limit, answered, home_route_keep(op));
}

/* A broadcast's client.event deliveries were written: the broadcast is acknowledged. */
static void broadcast_hooked(void *ud, int err)
{
    bus_route_t *route = ud; /* home_route_keep's */
    if (err != STORE_OK)
        bus_reply(route, "service_unavailable",
                  "the broadcast went out, but its delivery to the app's backend could not be "
                  "queued",
                  NULL);
    else
        bus_reply(route, NULL, NULL, NULL);
    free(route);
}

/* Queues the client.event of a broadcast marked for the backend (--webhook-client-events)
 * and answers once it is durable. Returns 0 when that happens, -1 when none was queued. */
static int broadcast_hook(rooms_t *r, room_t *room, const bus_op_t *op, const char *name,
                          size_t nlen, const char *json, size_t len)
{
    if (!webhooks_client_event(r->hooks, name, nlen)) return -1;
    /* Checked on the way in, where U+0000 in a string is allowed (JSON_ALLOW_NUL). */
    json_t *data = json_loadb(json, len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    if (!data) return -1; /* cannot happen; never worth a crash */
    webhooks_put_t *p = webhooks_put_new(r->hooks);
    rooms_hook(
        r, room, &p->req, WEBHOOK_CLIENT_EVENT,
        json_pack("{s:s%, s:s, s:o}", "event", name, nlen, "from", op->user, "data", data));
    bus_route_t *route = home_route_keep(op);
    if (webhooks_put_submit(p, r->store, broadcast_hooked, route) == 0) return 0;
    free(route); /* nothing queued (the queue is full): answered now */
    return -1;
}

static void op_broadcast(void *ud, room_t *room, const bus_op_t *op)
{
    static const char *const keys[] = {"event", "data"};
    jscan_t tmp;
    char *text, *data_owned = NULL;
    const jscan_t *a = home_args(op, &tmp, keys, CH_ARRAY_LEN(keys), &text);
    const jscan_member_t *ev = jscan_get(a, "event");
    char name[EVENT_NAME_MAX + 1];
    /* The length in bytes, a U+0000 counted: 1 to 64 (a longer one does not fit). */
    int n = ev && ev->type == JSCAN_STRING ? jscan_string(ev, name, sizeof(name)) : -1;
    if (n <= 0) {
        home_reply_field(&op->route, "validation_error", "event",
                         "event must be a string of 1 to 64 bytes");
        free(text);
        return;
    }
    const jscan_member_t *data = jscan_get(a, "data");
    size_t len = 4;
    const char *json = data ? jscan_text(data, &len, &data_owned) : "null";
    int rc = rooms_broadcast_text(ud, room, op->route.member, op->user, name, json, len);
    int hooked = rc == 0 && broadcast_hook(ud, room, op, name, (size_t)n, json, len) == 0;
    free(data_owned);
    free(text);
    if (rc != 0) {
        bus_reply(&op->route, "payload_too_large", "broadcast data is too large", NULL);
        return;
    }
    if (!hooked) bus_reply(&op->route, NULL, NULL, NULL);
}

static void op_presence(void *ud, room_t *room, const bus_op_t *op)
{
    static const char *const keys[] = {"state"};
    jscan_t tmp;
    char *text;
    const jscan_t *a = home_args(op, &tmp, keys, CH_ARRAY_LEN(keys), &text);
    const jscan_member_t *m = jscan_get(a, "state");
    if (!m || m->type != JSCAN_OBJECT) {
        free(text);
        home_reply_field(&op->route, "validation_error", "state",
                         "state must be a JSON object");
        return;
    }
    /* A merge patch into the member's state: the state slice alone becomes a tree. */
    json_t *st = json_loadb(m->val, m->val_len, JSON_ALLOW_NUL, NULL);
    free(text);
    CH_ASSERT(st != NULL); /* scanned: valid */
    int rc = rooms_presence(ud, room, op->user, st);
    json_decref(st);
    if (rc != 0) {
        bus_reply(&op->route, "payload_too_large", "presence state is too large", NULL);
        return;
    }
    bus_reply(&op->route, NULL, NULL, NULL);
}

static void op_state(void *ud, room_t *room, const bus_op_t *op)
{
    rooms_patch_state(ud, room, op->user, json_object_get(op->args, "patch"), answered,
                      home_route_keep(op));
}

static void op_rotate_code(void *ud, room_t *room, const bus_op_t *op)
{
    rooms_rotate_code(ud, room, op->user, answered, home_route_keep(op));
}

/* room_update: the settings of PATCH /api/rooms/:roomId; the other keys of the arguments
 * (op, ref, room) are the envelope, so only the settings go to rooms_update. */
static void op_room_update(void *ud, room_t *room, const bus_op_t *op)
{
    json_t *body = json_object();
    static const char *const keys[] = {"name", "maxParticipants", "isPublic"};
    for (size_t i = 0; i < CH_ARRAY_LEN(keys); i++) {
        json_t *v = json_object_get(op->args, keys[i]);
        if (v) json_object_set(body, keys[i], v);
    }
    rooms_update(ud, room, op->user, body, answered, home_route_keep(op));
    json_decref(body);
}

static const home_op_t room_home_ops[] = {
    {"leave", op_leave},
    {"message", op_message},
    {"history", op_history},
    {"broadcast", op_broadcast},
    {"presence", op_presence},
    {"state", op_state},
    {"rotate_code", op_rotate_code},
    {"room_update", op_room_update},
};

void home_rooms_register(home_t *h)
{
    home_register(h, room_home_ops, CH_ARRAY_LEN(room_home_ops), h->rooms);
    home_join_register(h);
}
