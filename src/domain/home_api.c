/* home_api.c: the REST room routes at their room's home (home.h): each op reads its JSON
 * arguments, calls the rooms domain as the op's user and answers through the op's route
 * with the response's body whole or the error with its kind, now (get, participants,
 * entities, bans, a refused argument) or once the store answered. The REST side
 * (api_rooms.c) has parsed the request, authenticated the caller and checked that the
 * caller may learn of the room; everything about the room is decided here. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/home.h"
#include "domain/room_rules.h"
#include "domain/room_view.h"
#include "util/mem.h"

#define MESSAGES_MAX 200

/* Answers the error err (borrowed) through route: its code and message, and its kind and
 * field in the data. */
static void reply_error(const bus_route_t *route, const rooms_err_t *err)
{
    json_t *data = json_pack("{s:i}", HOME_KIND_KEY, (int)err->kind);
    if (err->field) json_object_set_new(data, "field", json_string(err->field));
    bus_reply(route, err->code, err->message, data);
}

/* rooms_done_fn: answers with the rooms result as it is (the response's body), or the
 * error with its kind. */
static void rest_answered(void *ud, const rooms_err_t *err, json_t *result)
{
    bus_route_t *route = ud; /* home_route_keep's */
    if (err && err->kind) {
        json_decref(result);
        reply_error(route, err);
    } else {
        bus_reply(route, NULL, NULL, result);
    }
    free(route);
}

/* The caller as the rooms domain takes it: the op's user, and the token's name and color
 * when the op carries them (rest.join). */
static void caller_of(const bus_op_t *op, auth_claims_t *by)
{
    memset(by, 0, sizeof(*by));
    snprintf(by->sub, sizeof(by->sub), "%s", op->user);
    const char *name = json_string_value(json_object_get(op->args, "userName"));
    const char *color = json_string_value(json_object_get(op->args, "userColor"));
    snprintf(by->name, sizeof(by->name), "%s", name ? name : "");
    snprintf(by->color, sizeof(by->color), "%s", color ? color : "");
}

/* The integer argument name, or def when it is absent or not an integer. */
static int64_t arg_int(const bus_op_t *op, const char *name, int64_t def)
{
    json_t *v = json_object_get(op->args, name);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

/* The string argument name (borrowed from the op), or NULL. */
static const char *arg_str(const bus_op_t *op, const char *name)
{
    return json_string_value(json_object_get(op->args, name));
}

/* Answers a string argument that is missing (the REST side sends every one it needs). */
static int arg_missing(const bus_op_t *op, const char *name, const char *value)
{
    if (value) return 0;
    rooms_err_t e = {ROOMS_E_INVALID, "validation_error", "a required argument is missing",
                     name};
    reply_error(&op->route, &e);
    return -1;
}

/* rest.get: the room as its caller may see it; with "mine": true (a node's "my rooms"
 * listing) the room without its participants, and only when the caller is one of them. */
static void op_get(void *ud, room_t *room, const bus_op_t *op)
{
    if (json_is_true(json_object_get(op->args, "mine"))) {
        room_member_t *m = room_member(room, op->user);
        bus_reply(&op->route, NULL, NULL,
                  m && !m->banned
                      ? json_pack("{s:b, s:o}", "success", 1, "room", room_json(ud, room))
                      : json_pack("{s:b}", "success", 1));
        return;
    }
    bus_reply(&op->route, NULL, NULL,
              json_pack("{s:b, s:o}", "success", 1, "room", room_view_for(ud, room, op->user)));
}

static void op_delete(void *ud, room_t *room, const bus_op_t *op)
{
    auth_claims_t by;
    caller_of(op, &by);
    rooms_delete(ud, room, &by, rest_answered, home_route_keep(op));
}

/* An admin closes the room (the REST side checked the caller is an admin). */
static void op_admin_close(void *ud, room_t *room, const bus_op_t *op)
{
    rooms_admin_close(ud, room, rest_answered, home_route_keep(op));
}

static void op_join(void *ud, room_t *room, const bus_op_t *op)
{
    auth_claims_t by;
    caller_of(op, &by);
    rooms_join(ud, room, &by, arg_str(op, "displayName"), rest_answered, home_route_keep(op));
}

static void op_leave(void *ud, room_t *room, const bus_op_t *op)
{
    rooms_leave(ud, room, op->user, "left", rest_answered, home_route_keep(op));
}

static void op_messages(void *ud, room_t *room, const bus_op_t *op)
{
    int64_t limit = arg_int(op, "limit", 50);
    if (limit < 1 || limit > MESSAGES_MAX) {
        rooms_err_t e = {ROOMS_E_INVALID, "validation_error", "limit must be 1 to 200",
                         "limit"};
        reply_error(&op->route, &e);
        return;
    }
    rooms_history(ud, room, arg_int(op, "before", -1), arg_int(op, "after", -1),
                  (uint32_t)limit, rest_answered, home_route_keep(op));
}

/* The room's shared scene state for backends and tools: every entity (with its lock) and
 * the state version, in pages of at most the reply budget: the first one (a full
 * answer's, without the sync fields), or with version and cursor the one that follows it
 * (a sync answer, docs/protocol.md). */
static void op_entities(void *ud, room_t *room, const bus_op_t *op)
{
    rooms_t *r = ud;
    int64_t version = arg_int(op, "version", -1), cursor = arg_int(op, "cursor", -1);
    int first = version < 0;
    if (first)
        version = cursor = room->state_version + 1;
    else if (cursor < 0)
        cursor = version;
    json_t *page = entset_sync_page(&room->ents, version, cursor, room->state_version,
                                    room->state, r->lim.max_reply);
    if (first) {
        json_object_del(page, "type");
        json_object_del(page, "locks");
    }
    json_object_set_new(page, "success", json_true());
    bus_reply(&op->route, NULL, NULL, page);
}

static void op_state(void *ud, room_t *room, const bus_op_t *op)
{
    rooms_patch_state(ud, room, op->user, json_object_get(op->args, "patch"), rest_answered,
                      home_route_keep(op));
}

static void op_kick(void *ud, room_t *room, const bus_op_t *op)
{
    const char *user_id = arg_str(op, "userId");
    if (arg_missing(op, "userId", user_id)) return;
    auth_claims_t by;
    caller_of(op, &by);
    rooms_kick(ud, room, &by, user_id, json_is_true(json_object_get(op->args, "ban")),
               rest_answered, home_route_keep(op));
}

static void op_code(void *ud, room_t *room, const bus_op_t *op)
{
    rooms_rotate_code(ud, room, op->user, rest_answered, home_route_keep(op));
}

static void op_update(void *ud, room_t *room, const bus_op_t *op)
{
    rooms_update(ud, room, op->user, json_object_get(op->args, "body"), rest_answered,
                 home_route_keep(op));
}

static void op_bans(void *ud, room_t *room, const bus_op_t *op)
{
    (void)ud;
    if (!rooms_may_manage(room, op->user)) {
        rooms_err_t e = {ROOMS_E_FORBIDDEN, "forbidden", "only the host sees the bans", NULL};
        reply_error(&op->route, &e);
        return;
    }
    bus_reply(&op->route, NULL, NULL,
              json_pack("{s:b, s:o}", "success", 1, "bans", rooms_bans_json(room)));
}

static void op_unban(void *ud, room_t *room, const bus_op_t *op)
{
    const char *user_id = arg_str(op, "userId");
    if (arg_missing(op, "userId", user_id)) return;
    auth_claims_t by;
    caller_of(op, &by);
    rooms_unban(ud, room, &by, user_id, rest_answered, home_route_keep(op));
}

/* HOME_OP_JOIN_FIRST: home_serve checked that the caller is a participant. */
static void op_join_first(void *ud, room_t *room, const bus_op_t *op)
{
    (void)ud;
    (void)room;
    bus_reply(&op->route, "forbidden", "join the room first", NULL);
}

static const home_op_t rest_home_ops[] = {
    {HOME_OP_JOIN_FIRST, op_join_first},
    {"rest.get", op_get},
    {"rest.delete", op_delete},
    {"rest.join", op_join},
    {"rest.leave", op_leave},
    {"rest.messages", op_messages},
    {"rest.entities", op_entities},
    {"rest.state", op_state},
    {"rest.kick", op_kick},
    {"rest.code", op_code},
    {"rest.update", op_update},
    {"rest.bans", op_bans},
    {"rest.unban", op_unban},
    {"admin.close", op_admin_close},
};

void home_api_register(home_t *h)
{
    home_register(h, rest_home_ops, CH_ARRAY_LEN(rest_home_ops), h->rooms);
}
