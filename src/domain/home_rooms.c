/* home_rooms.c: the room ops at their room's home (home.h): each reads the op's JSON
 * arguments, calls the rooms domain (rooms.h) with the member's identity and user, and
 * answers through the op's route, now (broadcast, presence, a refused argument) or once
 * the store answered (message, history, state, leave, rotate_code, room_update). The
 * member's side (proto_rooms.c) has checked the caller's access to the room already. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/home.h"
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

static void op_leave(void *ud, room_t *room, const bus_op_t *op)
{
    rooms_leave(ud, room, op->user, "left", answered, home_route_keep(op));
}

static void op_message(void *ud, room_t *room, const bus_op_t *op)
{
    json_t *type = json_object_get(op->args, "type");
    rooms_post(ud, room, op->user, json_is_string(type) ? json_string_value(type) : "",
               json_object_get(op->args, "content"), json_object_get(op->args, "metadata"),
               op->route.member, answered, home_route_keep(op));
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

static void op_broadcast(void *ud, room_t *room, const bus_op_t *op)
{
    json_t *ev = json_object_get(op->args, "event");
    if (!json_is_string(ev) || json_string_length(ev) == 0 ||
        json_string_length(ev) > EVENT_NAME_MAX) {
        home_reply_field(&op->route, "validation_error", "event",
                         "event must be a string of 1 to 64 bytes");
        return;
    }
    if (rooms_broadcast(ud, room, op->route.member, op->user, json_string_value(ev),
                        json_object_get(op->args, "data")) != 0) {
        bus_reply(&op->route, "payload_too_large", "broadcast data is too large", NULL);
        return;
    }
    bus_reply(&op->route, NULL, NULL, NULL);
}

static void op_presence(void *ud, room_t *room, const bus_op_t *op)
{
    json_t *st = json_object_get(op->args, "state");
    if (!json_is_object(st)) {
        home_reply_field(&op->route, "validation_error", "state",
                         "state must be a JSON object");
        return;
    }
    if (rooms_presence(ud, room, op->user, st) != 0) {
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
