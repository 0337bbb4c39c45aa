/* home_server.c: the server API's room ops at their room's home (home.h): what an app
 * backend does to a room through /api/server/ (api_server.c), with the same checks,
 * limits and order as the members' ops, through the same domain functions. The app acts
 * with the host's rights (state, kick); its messages carry no user, its author label and
 * the app flag (rooms_post_app); its broadcasts come from "" (no user). Answers as the
 * rest.* ops do (home.h): the response's body whole, or the error with its kind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/home.h"
#include "util/mem.h"

/* Event names: 1 to 64 bytes, as the broadcast op takes them (home_rooms.c). */
#define HOME_SERVER_EVENT_MAX 64

static void home_server_error(const bus_route_t *route, const rooms_err_t *err)
{
    json_t *data = json_pack("{s:i}", HOME_KIND_KEY, (int)err->kind);
    if (err->field) json_object_set_new(data, "field", json_string(err->field));
    bus_reply(route, err->code, err->message, data);
}

/* rooms_done_fn: the result as it is, or the error with its kind. */
static void home_server_answered(void *ud, const rooms_err_t *err, json_t *result)
{
    bus_route_t *route = ud; /* home_route_keep's */
    if (err && err->kind) {
        json_decref(result);
        home_server_error(route, err);
    } else {
        bus_reply(route, NULL, NULL, result);
    }
    free(route);
}

static void home_server_invalid(const bus_op_t *op, const char *field, const char *message)
{
    rooms_err_t e = {ROOMS_E_INVALID, "validation_error", message, field};
    home_server_error(&op->route, &e);
}

/* server.message {type, content, metadata?, author}: rooms_post_app. */
static void op_message(void *ud, room_t *room, const bus_op_t *op)
{
    json_t *type = json_object_get(op->args, "type");
    json_t *content = json_object_get(op->args, "content");
    json_t *metadata = json_object_get(op->args, "metadata");
    const char *author = json_string_value(json_object_get(op->args, "author"));
    if (!author) {
        home_server_invalid(op, "author", "a required argument is missing");
        return;
    }
    char *meta = json_is_object(metadata) ? json_dumps(metadata, JSON_COMPACT) : NULL;
    rooms_post_in_t in = {
        .type = json_is_string(type) ? json_string_value(type) : "",
        .content = json_is_string(content) ? json_string_value(content) : NULL,
        .content_len = json_is_string(content) ? json_string_length(content) : 0,
        .metadata = metadata ? (meta ? meta : "null") : NULL,
        .metadata_len = meta ? strlen(meta) : 0,
        .metadata_object = meta != NULL,
    };
    rooms_post_app(ud, room, author, &in, home_server_answered, home_route_keep(op));
    free(meta);
}

/* server.broadcast {event, data?}: rooms_broadcast from no user and no connection. */
static void op_broadcast(void *ud, room_t *room, const bus_op_t *op)
{
    json_t *ev = json_object_get(op->args, "event");
    if (!json_is_string(ev) || json_string_length(ev) == 0 ||
        json_string_length(ev) > HOME_SERVER_EVENT_MAX ||
        strlen(json_string_value(ev)) != json_string_length(ev)) {
        home_server_invalid(op, "event", "event must be a string of 1 to 64 bytes");
        return;
    }
    if (rooms_broadcast(ud, room, BUS_MEMBER_NONE, "", json_string_value(ev),
                        json_object_get(op->args, "data")) != 0) {
        rooms_err_t e = {ROOMS_E_TOO_LARGE, "payload_too_large", "broadcast data is too large",
                         NULL};
        home_server_error(&op->route, &e);
        return;
    }
    bus_reply(&op->route, NULL, NULL, json_pack("{s:b}", "success", 1));
}

/* server.state {patch}: rooms_patch_state with the host's rights. */
static void op_state(void *ud, room_t *room, const bus_op_t *op)
{
    rooms_patch_state(ud, room, room->host_id, json_object_get(op->args, "patch"),
                      home_server_answered, home_route_keep(op));
}

/* server.kick {userId, ban}: rooms_kick with the host's rights. */
static void op_kick(void *ud, room_t *room, const bus_op_t *op)
{
    const char *user_id = json_string_value(json_object_get(op->args, "userId"));
    if (!user_id) {
        home_server_invalid(op, "userId", "a required argument is missing");
        return;
    }
    auth_claims_t by;
    memset(&by, 0, sizeof(by));
    snprintf(by.sub, sizeof(by.sub), "%s", room->host_id);
    rooms_kick(ud, room, &by, user_id, json_is_true(json_object_get(op->args, "ban")),
               home_server_answered, home_route_keep(op));
}

/* server.presence: the presence of every participant online now, as the presence event
 * carries it ({} for one who never sent any), with their display name; the members'
 * order of room_members_json. Bounded by the room's capacity. Written from the texts the
 * members keep (room_presence_text), with no tree: answered as parts when the route takes
 * them (the REST route does), else as the tree parsed from that text. */
static void op_presence(void *ud, room_t *room, const bus_op_t *op)
{
    (void)ud;
    size_t n = 0, cap = 16;
    room_member_t **list = ch_malloc(cap * sizeof(*list));
    for (room_member_t *m = room->members; m; m = m->next) {
        if (m->banned || !m->online) continue;
        if (n == cap) {
            cap *= 2;
            list = ch_realloc(list, cap * sizeof(*list));
        }
        list[n++] = m;
    }
    size_t len;
    char *text = room_presence_text(list, n, 1, &len);
    free(list);
    if (op->route.parts_fn) {
        jpart_t parts[] = {
            {.key = "success", .text = "true"},
            {.key = "presence", .text = text, .len = len},
        };
        bus_reply_parts(&op->route, parts, CH_ARRAY_LEN(parts));
    } else {
        json_t *pres = json_loadb(text, len, JSON_ALLOW_NUL, NULL);
        CH_ASSERT(pres != NULL); /* our own compact text */
        bus_reply(&op->route, NULL, NULL, json_pack("{s:b, s:o}", "success", 1, "presence", pres));
    }
    free(text);
}

static const home_op_t home_server_ops[] = {
    {"server.message", op_message},
    {"server.broadcast", op_broadcast},
    {"server.state", op_state},
    {"server.kick", op_kick},
    {"server.presence", op_presence},
};

void home_server_register(home_t *h)
{
    home_register(h, home_server_ops, CH_ARRAY_LEN(home_server_ops), h->rooms);
}
