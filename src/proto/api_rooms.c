/* api_rooms.c: rooms over REST (seed 003's routes and a few beyond). This file reads the
 * request, checks that the caller may learn of the room, and shapes the answer; the
 * routes that act on an existing room send an op to the room's home through the bus
 * (home.h, home_api.c), which decides, the way the WebSocket ops do (proto_rooms.c).
 * Creating a room and the lists stay here, on the process that got the request: creating
 * makes it the new room's home, and the lists read the registry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

#include "proto/api.h"
#include "util/mem.h"
#include "domain/home.h"
#include "domain/room_code.h"
#include "domain/room_view.h"
#include "domain/rooms.h"

#define MESSAGES_MAX 200
/* Public rooms per page: default and most (a summary is under 1 KiB). */
#define PUBLIC_PAGE_DEFAULT 50
#define PUBLIC_PAGE_MAX 100

static rooms_t *rooms_of(api_req_t *r)
{
    return r->api->rooms;
}

int api_status_of(int kind)
{
    switch ((rooms_errno_t)kind) {
    case ROOMS_OK:
        return 200;
    case ROOMS_E_INVALID:
        return 400;
    case ROOMS_E_FORBIDDEN:
        return 403;
    case ROOMS_E_NOT_FOUND:
        return 404;
    case ROOMS_E_CONFLICT:
        return 409;
    case ROOMS_E_TOO_LARGE:
        return 413;
    case ROOMS_E_LIMIT:
        return 429;
    case ROOMS_E_RATE_LIMITED:
        return 429;
    case ROOMS_E_QUOTA:
        return 507; /* Insufficient Storage: retrying does not help */
    case ROOMS_E_UNAVAILABLE:
        return 503;
    case ROOMS_E_IO:
        return 500;
    case ROOMS_E_GONE:
        return 410;
    }
    return 500;
}

/* Status for a successful answer, kept in the request while the work is in flight. */
static void done_with(api_req_t *r, int ok_status, const rooms_err_t *err, json_t *result)
{
    if (err && err->kind) {
        int status = api_status_of(err->kind);
        if (err->field)
            api_respond(r, status,
                        json_pack("{s:b, s:{s:s, s:s, s:s}}", "success", 0, "error", "code",
                                  err->code, "field", err->field, "message", err->message));
        else
            api_error(r, status, err->code, "%s", err->message);
        json_decref(result);
        return;
    }
    api_respond(r, ok_status, result);
}

static void done_200(void *ud, const rooms_err_t *err, json_t *result)
{
    done_with(ud, 200, err, result);
}

/* Answers 429 rate_limited with Retry-After for retry_ms. */
static void rate_limited(api_req_t *r, int rc, uint64_t retry_ms)
{
    unsigned long long secs = (retry_ms + 999) / 1000;
    if (secs == 0) secs = 1;
    snprintf(r->extra, sizeof(r->extra), "Retry-After: %llu\r\n", secs);
    api_error(r, api_status_of(rc), "rate_limited",
              "too many lookups of rooms you are not in; retry in %llu s", secs);
}

/* rooms_seek_fn: the route runs again once its room is known here. */
static void sought(void *ud, int rc)
{
    api_req_t *r = ud;
    if (rc == 0)
        r->route->fn(r);
    else if (rc == ROOMS_E_NOT_FOUND)
        api_error(r, api_status_of(rc), "not_found", "no such room");
    else
        api_error(r, api_status_of(rc), "unavailable", "the room could not be read; try again");
}

/* On a miss of key (borrowed) in a cluster: 1 when r waits for its room to be read from
 * the store (rooms_seek), or was answered rate_limited; else 0 (look up as on one node). */
static int seek_room(api_req_t *r, const char *key)
{
    if (r->sought) return 0;
    r->sought = 1;
    uint64_t retry_ms = 0;
    int rc = rooms_seek(rooms_of(r), key, r->user.sub, r->ip, &retry_ms, sought, r);
    if (rc == ROOMS_E_RATE_LIMITED) rate_limited(r, rc, retry_ms);
    return rc != 0;
}

/* room (the lookup's result, NULL for none) when the caller may learn of it as seek says
 * (rooms_access), else NULL after answering 404 not_found (the same for a room that does
 * not exist and one the caller may not know of) or 429 rate_limited. */
static room_t *room_allowed(api_req_t *r, room_t *room, rooms_seek_t seek)
{
    uint64_t retry_ms = 0;
    int rc = rooms_access(rooms_of(r), room, r->user.sub, r->ip, seek, &retry_ms);
    if (rc == 0) return room;
    if (rc == ROOMS_E_RATE_LIMITED) {
        rate_limited(r, rc, retry_ms);
    } else {
        api_error(r, api_status_of(ROOMS_E_NOT_FOUND), "not_found", "no such room");
    }
    return NULL;
}

/* The room of the :roomId parameter for a participant, or NULL after answering
 * (room_allowed). */
static room_t *room_param(api_req_t *r)
{
    rooms_t *rs = rooms_of(r);
    room_t *room = strmap_get(&rs->by_id, r->params[0]);
    if (!room && seek_room(r, r->params[0])) return NULL;
    /* A room at home on another node: this node's copy of it (a stand-in) does not know
     * its members, so its home decides (to_home, HOME_MEMBER_KEY), as one node would. */
    if (room && !bus_home_here(rs->bus, room->id)) {
        r->member_at_home = 1;
        return room;
    }
    return room_allowed(r, room, ROOMS_SEEK_MEMBER);
}

/* The room of the :roomId parameter for anyone who knows its id (join, look). */
static room_t *room_param_any(api_req_t *r)
{
    room_t *room = strmap_get(&rooms_of(r)->by_id, r->params[0]);
    if (!room && seek_room(r, r->params[0])) return NULL;
    return room_allowed(r, room, ROOMS_SEEK_ANY);
}

static int is_participant(room_t *room, const char *user_id)
{
    room_member_t *m = room_member(room, user_id);
    return m && !m->banned;
}

/* Host actions go to the audit table once they succeeded. */
static void audited(api_req_t *r, int ok_status, const char *event, const rooms_err_t *err,
                    json_t *result)
{
    if (!err || !err->kind) {
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

/* Creating a room stays on this process, which becomes the new room's home; so do the
 * lists (mine, public, by code), which read this process's registry. */
static void h_create(api_req_t *r)
{
    rooms_create(rooms_of(r), &r->user, r->json, done_create, r);
}

/* "My rooms" on a cluster node: its registry holds every room, but a room at home on
 * another node is a stand-in here that knows its host only (not its members, name changes
 * or counts). The store names the rooms the caller is a participant of (each answered
 * change was committed before its answer), each room's home answers its room as one node
 * would (rest.get), and the rooms at home here are read here. */
#define MINE_MAX 1000  /* rooms listed: STORE_PAGE_MAX, the store's bound */
#define MINE_WINDOW 32 /* rest.get ops of one listing in flight at once */

typedef struct {
    api_req_t *r;
    store_req_t req;
    store_rooms_t pl;
    json_t *rooms;   /* one slot per participant row, in its order; null: not listed */
    size_t pending;  /* answers still to come, plus one while sending */
    size_t next;     /* the next participant row to look at */
    size_t inflight; /* rest.get ops sent and not answered: at most MINE_WINDOW */
    int pumping;     /* mine_pump runs (an op answered at once does not start another) */
} mine_t;

static void mine_pump(mine_t *m);

typedef struct {
    mine_t *m;
    size_t slot;
} mine_slot_t;

static void mine_end(mine_t *m)
{
    if (--m->pending) return;
    json_t *a = json_array();
    size_t i;
    json_t *v;
    json_array_foreach(m->rooms, i, v) if (!json_is_null(v)) json_array_append(a, v);
    api_respond(m->r, 200, json_pack("{s:b, s:o}", "success", 1, "rooms", a));
    json_decref(m->rooms);
    store_rooms_free(&m->pl);
    free(m);
}

/* bus_reply_fn of rest.get with "mine": the room as its home has it when the caller is one
 * of its participants there; the stand-in's view when the home cannot answer now. The
 * next op of the listing goes once this one answered. */
static void mine_answered(const bus_route_t *route, const char *code, const char *message,
                          json_t *data)
{
    (void)message;
    mine_slot_t *s = route->ud;
    mine_t *m = s->m;
    json_t *room = json_object_get(data, "room");
    if (!code && room) {
        json_array_set(m->rooms, s->slot, room);
    } else if (code && strcmp(code, BUS_UNAVAILABLE) == 0) {
        room_t *standin = strmap_get(&rooms_of(m->r)->by_id, m->pl.parts[s->slot].room_id);
        if (standin) json_array_set_new(m->rooms, s->slot, room_json(rooms_of(m->r), standin));
    }
    json_decref(data);
    free(s);
    m->inflight--;
    if (!m->pumping && m->next < m->pl.nparts) mine_pump(m);
    mine_end(m);
}

/* Reads the rooms at home here, and asks the homes of the others (rest.get), at most
 * MINE_WINDOW at once: one listing never holds many of the node's forwarded ops
 * (--cluster-max-inflight), whatever the caller's number of rooms. */
static void mine_pump(mine_t *m)
{
    rooms_t *rs = rooms_of(m->r);
    m->pending++; /* held while sending */
    m->pumping = 1;
    while (m->next < m->pl.nparts && m->inflight < MINE_WINDOW) {
        size_t i = m->next++;
        const char *id = m->pl.parts[i].room_id;
        room_t *room = strmap_get(&rs->by_id, id);
        /* Not known here (yet: its announcement may still be on its way): its home answers,
         * or not_found when it was deleted since. */
        if (room && bus_home_here(rs->bus, room->id)) {
            if (is_participant(room, m->r->user.sub))
                json_array_set_new(m->rooms, i, room_json(rs, room));
            continue;
        }
        mine_slot_t *s = ch_malloc(sizeof(*s));
        *s = (mine_slot_t){m, i};
        m->pending++;
        m->inflight++;
        json_t *args = json_pack("{s:b}", "mine", 1);
        bus_op_t op = {
            .room = id,
            .name = "rest.get",
            .user = m->r->user.sub,
            .args = args,
            .route = {.member = BUS_MEMBER_NONE, .ref = -1, .fn = mine_answered, .ud = s},
        };
        if (bus_send_op(rs->bus, &op) != 0) /* answered nothing: the stand-in's view */
            mine_answered(&op.route, BUS_UNAVAILABLE, NULL, NULL);
        json_decref(args);
    }
    m->pumping = 0;
    mine_end(m);
}

static void mine_stored(store_req_t *req)
{
    mine_t *m = req->data;
    if (req->err != STORE_OK) {
        api_error(m->r, api_status_of(ROOMS_E_UNAVAILABLE), "service_unavailable",
                  "the database is unavailable; try again");
        store_rooms_free(&m->pl);
        free(m);
        return;
    }
    m->rooms = json_array();
    for (size_t i = 0; i < m->pl.nparts; i++)
        json_array_append_new(m->rooms, json_null());
    mine_pump(m);
}

static void h_list_mine(api_req_t *r)
{
    rooms_t *rs = rooms_of(r);
    if (rs->bus->vt->announce) { /* a cluster: see mine_t */
        mine_t *m = ch_calloc(1, sizeof(*m));
        m->r = r;
        m->req.type = STORE_PARTS_OF_USER;
        m->req.rooms = &m->pl;
        m->req.data = m;
        m->req.cb = mine_stored;
        snprintf(m->pl.part.user_id, sizeof(m->pl.part.user_id), "%s", r->user.sub);
        m->pl.limit = MINE_MAX;
        store_submit(rs->store, &m->req);
        return;
    }
    json_t *a = json_array();
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&rooms_of(r)->by_id, &i, &k, &v);)
        if (is_participant(v, r->user.sub)) json_array_append_new(a, room_json(rooms_of(r), v));
    api_respond(r, 200, json_pack("{s:b, s:o}", "success", 1, "rooms", a));
}

/* Newest first, then by id: the order of the public list (a total order, so a cursor
 * names a position even when its room is gone). */
static int public_before(const room_t *a, int64_t created_at, const char *id)
{
    if (a->created_at != created_at) return a->created_at > created_at;
    return strcmp(a->id, id) < 0;
}

static int public_cmp(const void *x, const void *y)
{
    const room_t *a = *(room_t *const *)x, *b = *(room_t *const *)y;
    return public_before(a, b->created_at, b->id) ? -1 : public_before(b, a->created_at, a->id);
}

/* Parses a public-list cursor, "<createdAt>.<id>", into *created_at and id. Returns 0, or
 * -1 when it is not one. */
static int public_cursor_parse(const char *s, int64_t *created_at, char id[STORE_ID_LEN])
{
    char *end;
    long long t = strtoll(s, &end, 10);
    if (end == s || *end != '.' || t < 0) return -1;
    size_t n = strlen(end + 1);
    if (n == 0 || n >= STORE_ID_LEN) return -1;
    *created_at = t;
    memcpy(id, end + 1, n + 1);
    return 0;
}

/* The query parameter name (raw, borrowed into buf of cap bytes), or NULL when absent or
 * too long (then *too_long is set). */
static const char *query_str(const api_req_t *r, const char *name, char *buf, size_t cap,
                             int *too_long)
{
    size_t n = strlen(name);
    const char *found = NULL;
    for (const char *q = r->query; *q;) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > n && memcmp(q, name, n) == 0 && q[n] == '=') {
            if (len - n - 1 >= cap) {
                *too_long = 1;
                return NULL;
            }
            memcpy(buf, q + n + 1, len - n - 1);
            buf[len - n - 1] = 0;
            found = buf;
        }
        q += len + (amp ? 1 : 0);
    }
    return found;
}


/* The public rooms, a page at a time, without state (docs/api.md): a lobby's list must
 * not grow with what hosts put in their rooms. */
static void h_list_public(api_req_t *r)
{
    int64_t limit = PUBLIC_PAGE_DEFAULT, after_t = INT64_MAX;
    char after_id[STORE_ID_LEN] = "", cbuf[STORE_ID_LEN + 24];
    int too_long = 0;
    if (api_query_int(r, "limit", &limit)) return;
    if (limit < 1 || limit > PUBLIC_PAGE_MAX) {
        api_invalid(r, "limit", "limit must be 1 to 100");
        return;
    }
    const char *cursor = query_str(r, "cursor", cbuf, sizeof(cbuf), &too_long);
    if (too_long || (cursor && public_cursor_parse(cursor, &after_t, after_id) != 0)) {
        api_invalid(r, "cursor", "cursor must be a nextCursor from an earlier page");
        return;
    }
    room_t **all = NULL;
    size_t n = 0, cap = 0;
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&rooms_of(r)->by_id, &i, &k, &v);) {
        room_t *room = v;
        if (!room->is_public) continue;
        if (cursor && (room->created_at > after_t ||
                       (room->created_at == after_t && strcmp(room->id, after_id) <= 0)))
            continue; /* at or before the cursor */
        if (n == cap) all = ch_realloc(all, (cap = cap ? 2 * cap : 16) * sizeof(*all));
        all[n++] = room;
    }
    if (n) qsort(all, n, sizeof(*all), public_cmp);
    json_t *a = json_array();
    size_t page = n < (size_t)limit ? n : (size_t)limit;
    for (size_t i = 0; i < page; i++)
        json_array_append_new(a, room_view_summary(rooms_of(r), all[i]));
    json_t *next = json_null();
    if (n > page) {
        const room_t *last = all[page - 1];
        next = json_sprintf("%lld.%s", (long long)last->created_at, last->id);
    }
    free(all);
    api_respond(r, 200,
                json_pack("{s:b, s:o, s:o}", "success", 1, "rooms", a, "nextCursor", next));
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
    if (!room && seek_room(r, code)) return;
    room = room_allowed(r, room, ROOMS_SEEK_ANY);
    if (!room) return;
    api_respond(r, 200,
                json_pack("{s:b, s:o}", "success", 1, "room",
                          room_view_for(rooms_of(r), room, r->user.sub)));
}

/* ---- the routes that act on a room: ops to its home (home.h, home_api.c) ---- */

/* The kind of an op's error answer: the home's REST ops send it in the data; the home
 * answers only not_found without one (the room is not, or no longer, there). */
static int kind_of(const char *code, const json_t *data)
{
    json_t *kind = json_object_get(data, HOME_KIND_KEY);
    if (json_is_integer(kind)) return (int)json_integer_value(kind);
    if (strcmp(code, BUS_UNAVAILABLE) == 0) return ROOMS_E_UNAVAILABLE; /* the cluster bus */
    return strcmp(code, HOME_NOT_FOUND_CODE) == 0 ? ROOMS_E_NOT_FOUND : ROOMS_E_IO;
}

/* Hands an op's answer (bus_reply_fn's arguments; data stolen) to done, the route's
 * completion, with the request (route->ud) as the domain's outcome. */
static void back_to(rooms_done_fn done, const bus_route_t *route, const char *code,
                    const char *message, json_t *data)
{
    if (!code) {
        done(route->ud, NULL, data);
        return;
    }
    json_t *field = json_object_get(data, "field");
    rooms_err_t err = {.kind = (rooms_errno_t)kind_of(code, data),
                       .code = code,
                       .message = message,
                       .field = json_is_string(field) ? json_string_value(field) : NULL};
    done(route->ud, &err, NULL);
    json_decref(data); /* after done: err.field is borrowed from it */
}

/* The routes' bus_reply_fn, one per completion (its status and audit event). */
static void back_200(const bus_route_t *route, const char *code, const char *message,
                     json_t *data)
{
    back_to(done_200, route, code, message, data);
}

static void back_delete(const bus_route_t *route, const char *code, const char *message,
                        json_t *data)
{
    back_to(done_delete, route, code, message, data);
}

static void back_kick(const bus_route_t *route, const char *code, const char *message,
                      json_t *data)
{
    back_to(done_kick, route, code, message, data);
}

static void done_code(void *ud, const rooms_err_t *err, json_t *result);
static void done_update(void *ud, const rooms_err_t *err, json_t *result);
static void done_unban(void *ud, const rooms_err_t *err, json_t *result);

static void back_code(const bus_route_t *route, const char *code, const char *message,
                      json_t *data)
{
    back_to(done_code, route, code, message, data);
}

static void back_update(const bus_route_t *route, const char *code, const char *message,
                        json_t *data)
{
    back_to(done_update, route, code, message, data);
}

static void back_unban(const bus_route_t *route, const char *code, const char *message,
                       json_t *data)
{
    back_to(done_unban, route, code, message, data);
}

/* Sends the op name with args (stolen; NULL = none) as the caller, on room (found and
 * allowed by room_allowed), to the room's home; back receives the answer, with r. r stays
 * allocated until it is answered (api_respond): a request outlives its connection
 * (api.h), and the transport's done callback drops the response of a connection that
 * went away meanwhile. On the local bus the home runs on this stack, so r may be answered
 * and freed before this returns. */
static void to_home(api_req_t *r, room_t *room, const char *name, json_t *args,
                    bus_reply_fn back)
{
    if (!args) args = json_object();
    if (r->member_at_home) json_object_set_new(args, HOME_MEMBER_KEY, json_true());
    bus_op_t op = {
        .room = room->id,
        .name = name,
        .user = r->user.sub,
        .args = args,
        .route = {.member = BUS_MEMBER_NONE, .ref = -1, .fn = back, .ud = r},
    };
    if (bus_send_op(rooms_of(r)->bus, &op) != 0)
        api_error(r, api_status_of(ROOMS_E_UNAVAILABLE), "service_unavailable",
                  "the room is not reachable now");
    json_decref(args);
}

/* Returns new arguments {key: the request's body}, or {} when it has none. */
static json_t *body_as(const api_req_t *r, const char *key)
{
    json_t *args = json_object();
    if (r->json) json_object_set(args, key, r->json);
    return args;
}

static void h_get(api_req_t *r)
{
    room_t *room = room_param_any(r);
    if (room) to_home(r, room, "rest.get", NULL, back_200);
}

static void h_join(api_req_t *r)
{
    room_t *room = room_param_any(r);
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
    json_t *args =
        json_pack("{s:s, s:s}", "userName", r->user.name, "userColor", r->user.color);
    if (dn) json_object_set(args, "displayName", dn);
    to_home(r, room, "rest.join", args, back_200);
}

static void h_leave(api_req_t *r)
{
    room_t *room = room_param(r);
    if (room) to_home(r, room, "rest.leave", NULL, back_200);
}

static void h_participants(api_req_t *r)
{
    room_t *room = room_param(r);
    if (!room) return;
    json_t *args = api_participants_args(r);
    if (args) to_home(r, room, "rest.participants", args, back_200);
}


/* The room's shared scene state for backends and tools: every entity (with its lock) and
 * the state version, a page at a time (the home's rest.entities). Changes go over
 * WebSocket (docs/protocol.md "Entities"). */
static void h_entities(api_req_t *r)
{
    room_t *room = room_param(r);
    if (!room) return;
    int64_t version = -1, cursor = -1;
    if (api_query_int(r, "version", &version) || api_query_int(r, "cursor", &cursor)) return;
    json_t *args =
        json_pack("{s:I, s:I}", "version", (json_int_t)version, "cursor", (json_int_t)cursor);
    to_home(r, room, "rest.entities", args, back_200);
}


static void h_messages(api_req_t *r)
{
    room_t *room = room_param(r);
    if (!room) return;
    int64_t limit = 50, before = -1, after = -1;
    if (api_query_int(r, "limit", &limit) || api_query_int(r, "before", &before) ||
        api_query_int(r, "after", &after))
        return;
    if (limit < 1 || limit > MESSAGES_MAX) {
        api_invalid(r, "limit", "limit must be 1 to 200");
        return;
    }
    to_home(r, room, "rest.messages",
            json_pack("{s:I, s:I, s:I}", "before", (json_int_t)before, "after",
                      (json_int_t)after, "limit", (json_int_t)limit),
            back_200);
}

/* GET /api/rooms/:roomId/activity?before&limit: a page of the room's activity stream,
 * newest first (rest.activity; members, as history). */
static void h_activity(api_req_t *r)
{
    room_t *room = room_param(r);
    if (!room) return;
    json_t *args = api_activity_args(r);
    if (!args) return;
    to_home(r, room, "rest.activity", args, back_200);
}

/* GET /api/rooms/:roomId/snapshot?at&after: the room at an earlier moment
 * (rest.snapshot_at; members, as snapshot_at). */
static void h_snapshot(api_req_t *r)
{
    room_t *room = room_param(r);
    if (!room) return;
    json_t *args = api_snapshot_args(r);
    if (args) to_home(r, room, "rest.snapshot_at", args, api_snapshot_back);
}

static void h_state(api_req_t *r)
{
    room_t *room = room_param(r);
    if (room) to_home(r, room, "rest.state", body_as(r, "patch"), back_200);
}

static void h_delete(api_req_t *r)
{
    room_t *room = room_param(r);
    if (room) to_home(r, room, "rest.delete", NULL, back_delete);
}

static void done_code(void *ud, const rooms_err_t *err, json_t *result)
{
    audited(ud, 200, "room_code_rotate", err, result);
}

static void h_code(api_req_t *r)
{
    room_t *room = room_param(r);
    if (room) to_home(r, room, "rest.code", NULL, back_code);
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
    to_home(r, room, "rest.kick",
            json_pack("{s:O, s:b}", "userId", uid, "ban", ban && json_is_true(ban)), back_kick);
}

/* ---- settings and bans (host only) ---- */

static void done_update(void *ud, const rooms_err_t *err, json_t *result)
{
    api_req_t *r = ud;
    if (!err || !err->kind) {
        char detail[128];
        snprintf(detail, sizeof(detail), "room %s", r->params[0]);
        api_audit(r->api, "room_update", r->user.sub, r->ip, detail);
    }
    done_with(r, 200, err, result);
}

static void done_unban(void *ud, const rooms_err_t *err, json_t *result)
{
    api_req_t *r = ud;
    if (!err || !err->kind) {
        char detail[128];
        snprintf(detail, sizeof(detail), "room %s user %s", r->params[0], r->params[1]);
        api_audit(r->api, "room_unban", r->user.sub, r->ip, detail);
    }
    done_with(r, 200, err, result);
}

static void h_update(api_req_t *r)
{
    room_t *room = room_param(r);
    if (room) to_home(r, room, "rest.update", body_as(r, "body"), back_update);
}

static void h_bans(api_req_t *r)
{
    room_t *room = room_param(r);
    if (room) to_home(r, room, "rest.bans", NULL, back_200);
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

int api_unescape_segment(char *s)
{
    char *o = s;
    for (const char *p = s; *p; p++) {
        if (*p != '%') {
            *o++ = *p;
            continue;
        }
        int hi = hex_digit(p[1]), lo = hi < 0 ? -1 : hex_digit(p[2]);
        if (lo < 0 || (hi == 0 && lo == 0)) return -1;
        *o++ = (char)(hi * 16 + lo);
        p += 2;
    }
    *o = '\0';
    return 0;
}

static void h_unban(api_req_t *r)
{
    room_t *room = room_param(r);
    if (!room) return;
    /* params point into param_buf, which the request owns. */
    char *user_id = (char *)r->params[1];
    if (api_unescape_segment(user_id) != 0 || strlen(user_id) >= STORE_SUB_LEN) {
        api_invalid(r, "userId", "userId must be a percent-encoded id of up to 128 bytes");
        return;
    }
    to_home(r, room, "rest.unban", json_pack("{s:s}", "userId", user_id), back_unban);
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
    {HTTP_GET, "/api/rooms/:roomId/activity", h_activity, 0, API_GROUP_API},
    {HTTP_GET, "/api/rooms/:roomId/snapshot", h_snapshot, 0, API_GROUP_API},
    {HTTP_GET, "/api/rooms/:roomId/entities", h_entities, 0, API_GROUP_API},
    {HTTP_PATCH, "/api/rooms/:roomId/state", h_state, 0, API_GROUP_API},
    {HTTP_POST, "/api/rooms/:roomId/kick", h_kick, 0, API_GROUP_API},
    {HTTP_POST, "/api/rooms/:roomId/code", h_code, 0, API_GROUP_API},
    {HTTP_PATCH, "/api/rooms/:roomId", h_update, 0, API_GROUP_API},
    {HTTP_GET, "/api/rooms/:roomId/bans", h_bans, 0, API_GROUP_API},
    {HTTP_DELETE, "/api/rooms/:roomId/bans/:userId", h_unban, 0, API_GROUP_API},
};
const size_t api_rooms_nroutes = CH_ARRAY_LEN(api_rooms_routes);
