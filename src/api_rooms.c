/* api_rooms.c: rooms over REST (seed 003's routes and a few beyond). The rules are in
 * rooms.c; this file reads the request and shapes the answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

#include "api.h"
#include "mem.h"
#include "room_code.h"
#include "rooms.h"

#define MESSAGES_MAX 200

static rooms_t *rooms_of(api_req_t *r)
{
    return r->api->rooms;
}

/* Status for a successful answer, kept in the request while the work is in flight. */
static void done_with(api_req_t *r, int ok_status, const rooms_err_t *err, json_t *result)
{
    if (err && err->status) {
        if (err->field)
            api_respond(r, err->status,
                        json_pack("{s:b, s:{s:s, s:s, s:s}}", "success", 0, "error", "code",
                                  err->code, "field", err->field, "message", err->message));
        else
            api_error(r, err->status, err->code, "%s", err->message);
        json_decref(result);
        return;
    }
    api_respond(r, ok_status, result);
}

static void done_200(void *ud, const rooms_err_t *err, json_t *result)
{
    done_with(ud, 200, err, result);
}

/* The room of the :roomId parameter, or NULL after answering 404. */
static room_t *room_param(api_req_t *r)
{
    room_t *room = strmap_get(&rooms_of(r)->by_id, r->params[0]);
    if (!room) api_error(r, 404, "not_found", "no such room");
    return room;
}

static int is_participant(room_t *room, const char *user_id)
{
    room_member_t *m = room_member(room, user_id);
    return m && !m->banned;
}

/* Room JSON for the caller: participants only for participants (seed 003's row rules). */
static json_t *room_for(api_req_t *r, room_t *room)
{
    json_t *j = room_json(rooms_of(r), room);
    if (is_participant(room, r->user.sub))
        json_object_set_new(j, "participants", room_members_json(room));
    return j;
}

/* Host actions go to the audit table once they succeeded. */
static void audited(api_req_t *r, int ok_status, const char *event, const rooms_err_t *err,
                    json_t *result)
{
    if (!err || !err->status) {
        char detail[128];
        json_t *room = json_object_get(result, "room");
        snprintf(detail, sizeof(detail), "room %s%s%s",
                 room ? json_string_value(json_object_get(room, "id")) : r->params[0],
                 r->nparams > 0 && strcmp(event, "room_kick") == 0 ? " user " : "",
                 strcmp(event, "room_kick") == 0
                     ? json_string_value(json_object_get(r->json, "userId"))
                     : "");
        api_audit(r->api, event, r->user.sub, r->ip, detail);
    }
    done_with(r, ok_status, err, result);
}

static void done_create(void *ud, const rooms_err_t *err, json_t *result)
{
    audited(ud, 201, "room_create", err, result);
}

static void done_delete(void *ud, const rooms_err_t *err, json_t *result)
{
    audited(ud, 200, "room_delete", err, result);
}

static void done_kick(void *ud, const rooms_err_t *err, json_t *result)
{
    audited(ud, 200, "room_kick", err, result);
}

static void h_create(api_req_t *r)
{
    rooms_create(rooms_of(r), &r->user, r->json, done_create, r);
}

static void h_list_mine(api_req_t *r)
{
    json_t *a = json_array();
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&rooms_of(r)->by_id, &i, &k, &v);)
        if (is_participant(v, r->user.sub)) json_array_append_new(a, room_json(rooms_of(r), v));
    api_respond(r, 200, json_pack("{s:b, s:o}", "success", 1, "rooms", a));
}

static void h_list_public(api_req_t *r)
{
    json_t *a = json_array();
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&rooms_of(r)->by_id, &i, &k, &v);)
        if (((room_t *)v)->is_public) json_array_append_new(a, room_json(rooms_of(r), v));
    api_respond(r, 200, json_pack("{s:b, s:o}", "success", 1, "rooms", a));
}

static void h_by_code(api_req_t *r)
{
    char code[ROOM_CODE_LEN + 1];
    if (!room_code_parse(r->params[0], strlen(r->params[0]), code)) {
        api_error(r, 400, "invalid_code",
                  "a room code is 6 characters from ABCDEFGHJKLMNPQRSTUVWXYZ23456789");
        return;
    }
    room_t *room = strmap_get(&rooms_of(r)->by_code, code);
    if (!room) {
        api_error(r, 404, "not_found", "no room with this code");
        return;
    }
    api_respond(r, 200, json_pack("{s:b, s:o}", "success", 1, "room", room_for(r, room)));
}

static void h_get(api_req_t *r)
{
    room_t *room = room_param(r);
    if (room) api_respond(r, 200, json_pack("{s:b, s:o}", "success", 1, "room", room_for(r, room)));
}

static void h_join(api_req_t *r)
{
    room_t *room = room_param(r);
    if (!room) return;
    json_t *dn = r->json ? json_object_get(r->json, "displayName") : NULL;
    if (r->json && !json_is_object(r->json)) {
        api_error(r, 400, "bad_request", "the body must be a JSON object");
        return;
    }
    if (dn && (!json_is_string(dn) || json_string_length(dn) == 0 ||
               json_string_length(dn) >= STORE_NAME_LEN)) {
        api_invalid(r, "displayName", "displayName must be a non-empty string");
        return;
    }
    rooms_join(rooms_of(r), room, &r->user, dn ? json_string_value(dn) : NULL, done_200, r);
}

static void h_leave(api_req_t *r)
{
    room_t *room = room_param(r);
    if (room) rooms_leave(rooms_of(r), room, r->user.sub, "left", done_200, r);
}

static void h_participants(api_req_t *r)
{
    room_t *room = room_param(r);
    if (!room) return;
    if (!is_participant(room, r->user.sub)) {
        api_error(r, 403, "forbidden", "only participants see the participants");
        return;
    }
    api_respond(r, 200, json_pack("{s:b, s:o}", "success", 1, "participants",
                                  room_members_json(room)));
}

static int query_int(api_req_t *r, const char *name, int64_t *out);

/* The room's shared scene state for backends and tools: every entity (with its lock) and
 * the state version. Changes go over WebSocket (docs/protocol.md "Entities"). */
static void h_entities(api_req_t *r)
{
    room_t *room = room_param(r);
    if (!room) return;
    if (!is_participant(room, r->user.sub)) {
        api_error(r, 403, "forbidden", "only participants see the entities");
        return;
    }
    /* Pages of at most the reply budget: the first one (a full answer's), or with
     * version and cursor the one that follows it (a sync answer, docs/protocol.md). */
    int64_t version = -1, cursor = -1;
    if (query_int(r, "version", &version) || query_int(r, "cursor", &cursor)) return;
    int first = version < 0;
    if (first)
        version = cursor = room->state_version + 1;
    else if (cursor < 0)
        cursor = version;
    json_t *page = entset_sync_page(&room->ents, version, cursor, room->state_version,
                                    room->state, rooms_of(r)->lim.max_reply);
    if (first) {
        json_object_del(page, "type");
        json_object_del(page, "locks");
    }
    json_object_set_new(page, "success", json_true());
    api_respond(r, 200, page);
}

/* Reads query parameter name as a non-negative integer into *out (unchanged when
 * absent). Returns 0, or -1 after answering 400. */
static int query_int(api_req_t *r, const char *name, int64_t *out)
{
    size_t n = strlen(name);
    for (const char *q = r->query; *q;) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > n && memcmp(q, name, n) == 0 && q[n] == '=') {
            char *end;
            long long v = strtoll(q + n + 1, &end, 10);
            if (end != q + len || end == q + n + 1 || v < 0) {
                char msg[64];
                snprintf(msg, sizeof(msg), "%s must be a non-negative integer", name);
                api_invalid(r, name, msg);
                return -1;
            }
            *out = v;
        }
        q += len + (amp ? 1 : 0);
    }
    return 0;
}

static void h_messages(api_req_t *r)
{
    room_t *room = room_param(r);
    if (!room) return;
    if (!is_participant(room, r->user.sub)) {
        api_error(r, 403, "forbidden", "only participants read the messages");
        return;
    }
    int64_t limit = 50, before = -1, after = -1;
    if (query_int(r, "limit", &limit) || query_int(r, "before", &before) ||
        query_int(r, "after", &after))
        return;
    if (limit < 1 || limit > MESSAGES_MAX) {
        api_invalid(r, "limit", "limit must be 1 to 200");
        return;
    }
    rooms_history(rooms_of(r), room, before, after, (uint32_t)limit, done_200, r);
}

static void h_state(api_req_t *r)
{
    room_t *room = room_param(r);
    if (room) rooms_patch_state(rooms_of(r), room, &r->user, r->json, done_200, r);
}

static void h_delete(api_req_t *r)
{
    room_t *room = room_param(r);
    if (room) rooms_delete(rooms_of(r), room, &r->user, done_delete, r);
}

static void h_kick(api_req_t *r)
{
    room_t *room = room_param(r);
    if (!room) return;
    json_t *uid = json_is_object(r->json) ? json_object_get(r->json, "userId") : NULL;
    json_t *ban = json_is_object(r->json) ? json_object_get(r->json, "ban") : NULL;
    if (!json_is_string(uid) || (ban && !json_is_boolean(ban))) {
        api_invalid(r, json_is_string(uid) ? "ban" : "userId",
                    "send {\"userId\": \"…\", \"ban\": false}");
        return;
    }
    rooms_kick(rooms_of(r), room, &r->user, json_string_value(uid), ban && json_is_true(ban),
               done_kick, r);
}

/* Literal paths come before ':roomId' ones with the same shape. */
const api_route_t api_rooms_routes[] = {
    {HTTP_POST, "/api/rooms/create", h_create, 0, API_GROUP_API},
    {HTTP_GET, "/api/rooms", h_list_mine, 0, API_GROUP_API},
    {HTTP_GET, "/api/rooms/public", h_list_public, 0, API_GROUP_API},
    {HTTP_GET, "/api/rooms/code/:roomCode", h_by_code, 0, API_GROUP_API},
    {HTTP_GET, "/api/rooms/:roomId", h_get, 0, API_GROUP_API},
    {HTTP_DELETE, "/api/rooms/:roomId", h_delete, 0, API_GROUP_API},
    {HTTP_POST, "/api/rooms/:roomId/join", h_join, 0, API_GROUP_API},
    {HTTP_DELETE, "/api/rooms/:roomId/leave", h_leave, 0, API_GROUP_API},
    {HTTP_GET, "/api/rooms/:roomId/participants", h_participants, 0, API_GROUP_API},
    {HTTP_GET, "/api/rooms/:roomId/messages", h_messages, 0, API_GROUP_API},
    {HTTP_GET, "/api/rooms/:roomId/entities", h_entities, 0, API_GROUP_API},
    {HTTP_PATCH, "/api/rooms/:roomId/state", h_state, 0, API_GROUP_API},
    {HTTP_POST, "/api/rooms/:roomId/kick", h_kick, 0, API_GROUP_API},
};
const size_t api_rooms_nroutes = CH_ARRAY_LEN(api_rooms_routes);
