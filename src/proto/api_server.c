/* api_server.c: the server API under /api/server/, for app backends (issue 21; docs/api.md,
 * "Backends"). Every route is API_SERVER: authenticated by an API key (api_key.c), never
 * by a user's token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <http_parser.h>

#include "auth/user_valid.h"
#include "domain/home.h"
#include "domain/rooms.h"
#include "proto/api.h"
#include "proto/proto.h"
#include "util/mem.h"

/* History pages: at most this many messages (as GET /api/rooms/:id/messages). */
#define API_SERVER_MESSAGES_MAX 200

uint32_t api_disconnect_user(api_t *a, const char *sub, const char *reason)
{
    return a->disconnect ? a->disconnect(a->disconnect_ud, sub, API_CLOSE_DISCONNECTED, reason)
                         : 0;
}

/* The user id of a route's :userId segment, percent-decoded in place (params are the
 * request's). Returns it, or NULL once answered 400. */
static const char *api_server_user_param(api_req_t *r, size_t i)
{
    char *id = (char *)r->params[i];
    if (api_unescape_segment(id) != 0 || !id[0] || strlen(id) >= STORE_SUB_LEN) {
        api_invalid(r, "userId", "userId must be a percent-encoded id of 1 to 128 bytes");
        return NULL;
    }
    return id;
}

/* The body as an object (none: NULL in *out). Returns 0, or -1 once answered 400. */
static int api_server_body(api_req_t *r, json_t **out)
{
    *out = NULL;
    if (!r->json) return 0;
    if (!json_is_object(r->json)) {
        api_error(r, 400, "bad_request", "the body must be a JSON object");
        return -1;
    }
    *out = r->json;
    return 0;
}

/* GET /api/server/whoami: the key's id, so a backend can check its key. */
static void api_server_whoami(api_req_t *r)
{
    api_respond(r, 200, json_pack("{s:b, s:{s:s}}", "success", 1, "key", "id", r->apikey_id));
}

/* POST /api/server/users/:userId/disconnect {"reason"?}: closes every connection of the
 * user (api_disconnect_user). Answers how many were closed (0 is no error: the user may
 * be offline). */
static void api_server_disconnect(api_req_t *r)
{
    const char *sub = api_server_user_param(r, 0);
    json_t *body;
    if (!sub || api_server_body(r, &body) != 0) return;
    const char *reason = "disconnected by the app";
    json_t *jr = body ? json_object_get(body, "reason") : NULL;
    if (jr) {
        if (!json_is_string(jr) || json_string_length(jr) == 0 ||
            json_string_length(jr) > API_DISCONNECT_REASON_MAX ||
            strlen(json_string_value(jr)) != json_string_length(jr)) {
            api_invalid(r, "reason", "reason must be a string of 1 to 100 bytes");
            return;
        }
        reason = json_string_value(jr);
    }
    uint32_t n = api_disconnect_user(r->api, sub, reason);
    char detail[128];
    snprintf(detail, sizeof(detail), "key %s user %.80s closed %u", r->apikey_id, sub, n);
    api_audit(r->api, "server_disconnect", NULL, r->ip, detail);
    api_respond(r, 200, json_pack("{s:b, s:I}", "success", 1, "closed", (json_int_t)n));
}

/* ---- rooms: ops to the room's home (home_server.c, home_api.c) ---- */

/* Answers r with result (stolen) as status, or err as its HTTP status (api_status_of). */
static void api_server_done_with(api_req_t *r, int status, const rooms_err_t *err,
                                 json_t *result)
{
    if (err && err->kind) {
        int st = api_status_of(err->kind);
        if (err->field)
            api_respond(r, st,
                        json_pack("{s:b, s:{s:s, s:s, s:s}}", "success", 0, "error", "code",
                                  err->code, "field", err->field, "message", err->message));
        else
            api_error(r, st, err->code, "%s", err->message);
        json_decref(result);
        return;
    }
    api_respond(r, status, result);
}

static void api_server_done_200(void *ud, const rooms_err_t *err, json_t *result)
{
    api_server_done_with(ud, 200, err, result);
}

static void api_server_done_201(void *ud, const rooms_err_t *err, json_t *result)
{
    api_server_done_with(ud, 201, err, result);
}

/* The kind of an error answered without one: the entity ops answer as the WebSocket ops
 * do, with their stable codes (docs/protocol.md, "Entities"). */
static rooms_errno_t api_server_kind_of_code(const char *code)
{
    static const struct {
        const char *code;
        rooms_errno_t kind;
    } kinds[] = {
        {"validation_error", ROOMS_E_INVALID}, {"bad_request", ROOMS_E_INVALID},
        {"forbidden", ROOMS_E_FORBIDDEN},      {HOME_NOT_FOUND_CODE, ROOMS_E_NOT_FOUND},
        {"conflict", ROOMS_E_CONFLICT},        {"exists", ROOMS_E_CONFLICT},
        {"locked", ROOMS_E_CONFLICT},          {"payload_too_large", ROOMS_E_TOO_LARGE},
        {"lock_limit", ROOMS_E_LIMIT},         {"too_many_entities", ROOMS_E_LIMIT},
        {"quota_exceeded", ROOMS_E_QUOTA},     {"service_unavailable", ROOMS_E_UNAVAILABLE},
    };
    for (size_t i = 0; i < CH_ARRAY_LEN(kinds); i++)
        if (strcmp(code, kinds[i].code) == 0) return kinds[i].kind;
    return ROOMS_E_IO;
}

/* The answer of an op (bus_reply_fn): the result, or the error with its kind (home.h). */
static void api_server_back(const bus_route_t *route, const char *code, const char *message,
                            json_t *data)
{
    if (!code) {
        /* The entity ops answer their WebSocket reply's data: a REST body needs success. */
        if (!data) data = json_object();
        if (json_is_object(data) && !json_object_get(data, "success"))
            json_object_set_new(data, "success", json_true());
        api_server_done_200(route->ud, NULL, data);
        return;
    }
    json_t *kind = json_object_get(data, HOME_KIND_KEY),
           *field = json_object_get(data, "field");
    rooms_err_t err = {.kind = json_is_integer(kind) ? (rooms_errno_t)json_integer_value(kind)
                                                     : api_server_kind_of_code(code),
                       .code = code,
                       .message = message,
                       .field = json_is_string(field) ? json_string_value(field) : NULL};
    api_server_done_200(route->ud, &err, NULL);
    json_decref(data);
}

/* bus_reply_parts_fn of the ops to a room's home: the answer written from kept texts
 * (server.presence), the body {"success":true, <parts>} written as the text it is. */
static void api_server_back_parts(const bus_route_t *route, const jpart_t *parts, size_t nparts)
{
    int has_success = nparts > 0 && !parts[0].obj && strcmp(parts[0].key, "success") == 0;
    jpart_t *all = ch_malloc((nparts + 1) * sizeof(*all));
    size_t n = 0;
    if (!has_success) all[n++] = (jpart_t){.key = "success", .text = "true"};
    memcpy(all + n, parts, nparts * sizeof(*parts));
    n += nparts;
    cbuf_t *body = cbuf_new(256);
    proto_append_parts(&body, all, n);
    free(all);
    api_respond_text(route->ud, 200, body);
}

/* The room of the route's :roomId (an id or a code; any room: the app sees them all), or
 * NULL once answered 404. */
static room_t *api_server_room(api_req_t *r)
{
    room_t *room = rooms_get(r->api->rooms, r->params[0]);
    if (!room) api_error(r, 404, "not_found", "no such room");
    return room;
}

/* Sends op name with args (stolen; NULL: none) to room's home as the app; answered
 * through api_server_back (on the local bus maybe before this returns). */
static void api_server_to_home(api_req_t *r, room_t *room, const char *name, json_t *args)
{
    if (!args) args = json_object();
    bus_op_t op = {
        .room = room->id,
        .name = name,
        .user = "",
        .args = args,
        .route = {.member = BUS_MEMBER_NONE,
                  .ref = -1,
                  .fn = api_server_back,
                  .parts_fn = api_server_back_parts,
                  .ud = r},
    };
    if (bus_send_op(r->api->rooms->bus, &op) != 0)
        api_error(r, api_status_of(ROOMS_E_UNAVAILABLE), "service_unavailable",
                  "the room is not reachable now");
    json_decref(args);
}

/* An optional string member of body: 0 with *out (NULL when absent), or -1 once answered
 * 400 (not a string, or longer than max bytes, or empty when nonempty). */
static int api_server_opt_str(api_req_t *r, json_t *body, const char *name, size_t max,
                              const char **out)
{
    json_t *v = body ? json_object_get(body, name) : NULL;
    *out = NULL;
    if (!v) return 0;
    if (!json_is_string(v) || json_string_length(v) > max ||
        strlen(json_string_value(v)) != json_string_length(v)) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%s must be a string of at most %zu bytes", name, max);
        api_invalid(r, name, msg);
        return -1;
    }
    *out = json_string_value(v);
    return 0;
}

/* POST /api/server/rooms {hostId, hostName?, hostColor?, name, maxParticipants?,
 * isPublic?, state?}: a room created for the user hostId (its host), as POST
 * /api/rooms/create would for that user's token. */
static void api_server_create_room(api_req_t *r)
{
    json_t *body;
    const char *host, *name, *color;
    if (api_server_body(r, &body) != 0 ||
        api_server_opt_str(r, body, "hostId", AUTH_JWT_SUB_MAX, &host) != 0 ||
        api_server_opt_str(r, body, "hostName", AUTH_JWT_NAME_MAX, &name) != 0 ||
        api_server_opt_str(r, body, "hostColor", 7, &color) != 0)
        return;
    if (!host || !*host) {
        api_invalid(r, "hostId", "hostId (the host's user id, 1 to 128 bytes) is required");
        return;
    }
    if (color && !user_color_valid(color, strlen(color))) {
        api_invalid(r, "hostColor", "hostColor must be #rrggbb");
        return;
    }
    auth_claims_t user;
    memset(&user, 0, sizeof(user));
    snprintf(user.sub, sizeof(user.sub), "%s", host);
    snprintf(user.name, sizeof(user.name), "%s", name ? name : "");
    if (color) user_color_normalize(color, strlen(color), user.color);
    rooms_create(r->api->rooms, &user, body, api_server_done_201, r);
}

/* POST /api/server/rooms/:roomId/messages {type, content, metadata?, author}: a message
 * of the app (server.message). */
static void api_server_message(api_req_t *r)
{
    json_t *body;
    const char *author;
    if (api_server_body(r, &body) != 0 ||
        api_server_opt_str(r, body, "author", STORE_NAME_LEN - 1, &author) != 0)
        return;
    if (!author || !user_name_valid(author, strlen(author))) {
        api_invalid(r, "author",
                    "author (the label shown as the message's displayName) must be 1 to 32 "
                    "characters, no control characters");
        return;
    }
    room_t *room = api_server_room(r);
    if (room) api_server_to_home(r, room, "server.message", json_deep_copy(body));
}

/* POST /api/server/rooms/:roomId/broadcast {event, data?} (server.broadcast). */
static void api_server_broadcast(api_req_t *r)
{
    json_t *body;
    if (api_server_body(r, &body) != 0) return;
    room_t *room = api_server_room(r);
    if (room)
        api_server_to_home(r, room, "server.broadcast", body ? json_deep_copy(body) : NULL);
}

/* PATCH /api/server/rooms/:roomId/state: the body is a merge patch (server.state). */
static void api_server_state(api_req_t *r)
{
    room_t *room = api_server_room(r);
    if (!room) return;
    json_t *args = json_object();
    if (r->json) json_object_set(args, "patch", r->json);
    api_server_to_home(r, room, "server.state", args);
}

/* POST /api/server/rooms/:roomId/kick {userId, ban?} (server.kick). */
static void api_server_kick(api_req_t *r)
{
    json_t *body;
    if (api_server_body(r, &body) != 0) return;
    json_t *uid = body ? json_object_get(body, "userId") : NULL;
    json_t *ban = body ? json_object_get(body, "ban") : NULL;
    if (!json_is_string(uid) || (ban && !json_is_boolean(ban))) {
        api_invalid(r, json_is_string(uid) ? "ban" : "userId",
                    "send {\"userId\": \"...\", \"ban\": false}");
        return;
    }
    room_t *room = api_server_room(r);
    if (room)
        api_server_to_home(
            r, room, "server.kick",
            json_pack("{s:O, s:b}", "userId", uid, "ban", ban && json_is_true(ban)));
}

/* GET /api/server/rooms/:roomId/participants: every participant with presence and online
 * (rest.participants). */
static void api_server_participants(api_req_t *r)
{
    room_t *room = api_server_room(r);
    if (!room) return;
    json_t *args = api_participants_args(r);
    if (args) api_server_to_home(r, room, "rest.participants", args);
}

/* GET /api/server/rooms/:roomId/presence: the presence of every participant online now
 * (server.presence). */
static void api_server_presence(api_req_t *r)
{
    room_t *room = api_server_room(r);
    if (room) api_server_to_home(r, room, "server.presence", NULL);
}

/* GET /api/server/rooms/:roomId/messages?limit&before&after (rest.messages). */
static void api_server_history(api_req_t *r)
{
    int64_t limit = 50, before = -1, after = -1;
    if (api_query_int(r, "limit", &limit) ||
        api_query_int(r, "before", &before) || api_query_int(r, "after", &after))
        return;
    if (limit < 1 || limit > API_SERVER_MESSAGES_MAX) {
        api_invalid(r, "limit", "limit must be 1 to 200");
        return;
    }
    room_t *room = api_server_room(r);
    if (room)
        api_server_to_home(r, room, "rest.messages",
                           json_pack("{s:I, s:I, s:I}", "before", (json_int_t)before, "after",
                                     (json_int_t)after, "limit", (json_int_t)limit));
}

/* GET /api/server/rooms/:roomId/activity?before&limit (rest.activity). */
static void api_server_activity(api_req_t *r)
{
    json_t *args = api_activity_args(r);
    if (!args) return;
    room_t *room = api_server_room(r);
    if (!room) {
        json_decref(args);
        return;
    }
    api_server_to_home(r, room, "rest.activity", args);
}

/* GET /api/server/rooms/:roomId/snapshot?at&after (rest.snapshot_at, answered with its
 * error's data: api_snapshot_back). */
static void api_server_snapshot(api_req_t *r)
{
    json_t *args = api_snapshot_args(r);
    if (!args) return;
    room_t *room = api_server_room(r);
    bus_op_t op = {
        .room = room ? room->id : NULL,
        .name = "rest.snapshot_at",
        .user = "",
        .args = args,
        .route = {.member = BUS_MEMBER_NONE, .ref = -1, .fn = api_snapshot_back, .ud = r},
    };
    if (room && bus_send_op(r->api->rooms->bus, &op) != 0)
        api_error(r, api_status_of(ROOMS_E_UNAVAILABLE), "service_unavailable",
                  "the room is not reachable now");
    json_decref(args);
}

/* The entity routes: the members' entity ops (home_entities.c) as the room's host, with
 * no connection (so no lock of the app's outlives its request). The body is the op's
 * arguments; :entityId, when the route has it, is its "id". */
static void api_server_entity(api_req_t *r, const char *op)
{
    json_t *body;
    if (api_server_body(r, &body) != 0) return;
    room_t *room = api_server_room(r);
    if (!room) return;
    json_t *args = body ? json_deep_copy(body) : json_object();
    if (r->nparams > 1) {
        char *id = (char *)r->params[1];
        if (api_unescape_segment(id) != 0) {
            json_decref(args);
            api_invalid(r, "id", "id must be a percent-encoded entity id");
            return;
        }
        json_object_set_new(args, "id", json_string(id));
    }
    bus_op_t o = {
        .room = room->id,
        .name = op,
        .user = room->host_id,
        .args = args,
        .route = {.member = BUS_MEMBER_NONE,
                  .ref = -1,
                  .fn = api_server_back,
                  .parts_fn = api_server_back_parts,
                  .ud = r},
    };
    if (bus_send_op(r->api->rooms->bus, &o) != 0)
        api_error(r, api_status_of(ROOMS_E_UNAVAILABLE), "service_unavailable",
                  "the room is not reachable now");
    json_decref(args);
}

/* POST /api/server/rooms/:roomId/entities {id?, kind, data?, ownerOnly?}. */
static void api_server_entity_create(api_req_t *r)
{
    api_server_entity(r, "entity_create");
}

/* PATCH /api/server/rooms/:roomId/entities/:entityId {patch, baseVersion?, ownerOnly?,
 * transient?}. */
static void api_server_entity_update(api_req_t *r)
{
    api_server_entity(r, "entity_update");
}

/* DELETE /api/server/rooms/:roomId/entities/:entityId. */
static void api_server_entity_delete(api_req_t *r)
{
    api_server_entity(r, "entity_delete");
}

/* POST /api/server/tokens {userId, name?, color?, ttl?}: a user token, the JWT the
 * accounts and `chorus token` mint, for at most --jwt-ttl seconds. */
static void api_server_token(api_req_t *r)
{
    json_t *body;
    const char *sub, *name, *color;
    if (api_server_body(r, &body) != 0 ||
        api_server_opt_str(r, body, "userId", AUTH_JWT_SUB_MAX, &sub) != 0 ||
        api_server_opt_str(r, body, "name", AUTH_JWT_NAME_MAX, &name) != 0 ||
        api_server_opt_str(r, body, "color", 7, &color) != 0)
        return;
    if (!sub || !*sub) {
        api_invalid(r, "userId", "userId (1 to 128 bytes) is required");
        return;
    }
    if (color && !user_color_valid(color, strlen(color))) {
        api_invalid(r, "color", "color must be #rrggbb");
        return;
    }
    int64_t max_ttl = (int64_t)(r->api->cfg->jwt_ttl / 1000), ttl = max_ttl;
    json_t *jt = body ? json_object_get(body, "ttl") : NULL;
    if (jt && (!json_is_integer(jt) || json_integer_value(jt) < 1 ||
               json_integer_value(jt) > max_ttl)) {
        char msg[96];
        snprintf(msg, sizeof(msg), "ttl must be 1 to %lld seconds (--jwt-ttl)",
                 (long long)max_ttl);
        api_invalid(r, "ttl", msg);
        return;
    }
    if (jt) ttl = (int64_t)json_integer_value(jt);
    if (!auth_jwt_can_mint(r->api->jwt)) {
        api_error(r, 501, "not_supported", "this server only verifies tokens (no private key)");
        return;
    }
    auth_claims_t c;
    memset(&c, 0, sizeof(c));
    snprintf(c.sub, sizeof(c.sub), "%s", sub);
    snprintf(c.name, sizeof(c.name), "%s", name ? name : "");
    if (color) user_color_normalize(color, strlen(color), c.color);
    int64_t now = (int64_t)time(NULL);
    char *tok = auth_jwt_mint(r->api->jwt, &c, now, ttl);
    if (!tok) {
        api_error(r, 500, "internal_error", "the token could not be minted");
        return;
    }
    api_respond(r, 200,
                json_pack("{s:b, s:s, s:I}", "success", 1, "token", tok, "expiresAt",
                          (json_int_t)(now + ttl) * 1000));
    free(tok);
}

const api_route_t api_server_routes[] = {
    {HTTP_GET, "/api/server/whoami", api_server_whoami, API_SERVER, API_GROUP_API},
    {HTTP_POST, "/api/server/users/:userId/disconnect", api_server_disconnect, API_SERVER,
     API_GROUP_API},
    {HTTP_POST, "/api/server/tokens", api_server_token, API_SERVER, API_GROUP_API},
    {HTTP_POST, "/api/server/rooms", api_server_create_room, API_SERVER, API_GROUP_API},
    {HTTP_POST, "/api/server/rooms/:roomId/messages", api_server_message, API_SERVER,
     API_GROUP_API},
    {HTTP_GET, "/api/server/rooms/:roomId/messages", api_server_history, API_SERVER,
     API_GROUP_API},
    {HTTP_GET, "/api/server/rooms/:roomId/activity", api_server_activity, API_SERVER,
     API_GROUP_API},
    {HTTP_GET, "/api/server/rooms/:roomId/snapshot", api_server_snapshot, API_SERVER,
     API_GROUP_API},
    {HTTP_POST, "/api/server/rooms/:roomId/broadcast", api_server_broadcast, API_SERVER,
     API_GROUP_API},
    {HTTP_PATCH, "/api/server/rooms/:roomId/state", api_server_state, API_SERVER,
     API_GROUP_API},
    {HTTP_POST, "/api/server/rooms/:roomId/kick", api_server_kick, API_SERVER, API_GROUP_API},
    {HTTP_GET, "/api/server/rooms/:roomId/participants", api_server_participants, API_SERVER,
     API_GROUP_API},
    {HTTP_GET, "/api/server/rooms/:roomId/presence", api_server_presence, API_SERVER,
     API_GROUP_API},
    {HTTP_POST, "/api/server/rooms/:roomId/entities", api_server_entity_create, API_SERVER,
     API_GROUP_API},
    {HTTP_PATCH, "/api/server/rooms/:roomId/entities/:entityId", api_server_entity_update,
     API_SERVER, API_GROUP_API},
    {HTTP_DELETE, "/api/server/rooms/:roomId/entities/:entityId", api_server_entity_delete,
     API_SERVER, API_GROUP_API},
};
const size_t api_server_nroutes = CH_ARRAY_LEN(api_server_routes);
