/* api_admin.c: the admin view's REST routes under /api/admin/ (docs/api.md, "Admin"):
 * the server's connections, its rooms with their rates, the busiest rooms, the recent
 * warnings and errors, the recent audit rows, and two actions, closing a room and (with
 * the server API's primitive) disconnecting a user; each action is audited with the
 * admin's id. Every route answers 403 forbidden to a caller who is not an admin. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>

#include "domain/home.h"
#include "domain/rooms.h"
#include "proto/api.h"
#include "util/clock.h"
#include "util/log_ring.h"
#include "util/mem.h"
#include "util/strmap.h"

/* Busiest rooms listed by default. */
#define ADMIN_BUSIEST_DEFAULT 10
/* Audit rows listed by default. */
#define ADMIN_AUDIT_DEFAULT 50

int api_admin_is(const api_t *a, const auth_claims_t *user)
{
    if (user->admin) return 1;
    const char *list = a->cfg->admins;
    size_t n = strlen(user->sub);
    if (!list || !n) return 0;
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *end = p;
        while (*end && *end != ',')
            end++;
        const char *last = end;
        while (last > p && last[-1] == ' ')
            last--;
        if ((size_t)(last - p) == n && memcmp(p, user->sub, n) == 0) return 1;
        p = end;
    }
    return 0;
}

/* 1 when r's caller is an admin; else answers 403 forbidden and returns 0. */
static int admin_only(api_req_t *r)
{
    if (api_admin_is(r->api, &r->user)) return 1;
    api_error(r, 403, "forbidden", "admin only");
    return 0;
}

/* The query parameter limit as 1..max (def when absent); 0 after answering 400. */
static size_t admin_limit(api_req_t *r, size_t def, size_t max)
{
    const char *q = r->query;
    const char *p = NULL;
    for (const char *s = q; s && *s;) {
        if (strncmp(s, "limit=", 6) == 0) {
            p = s + 6;
            break;
        }
        s = strchr(s, '&');
        if (s) s++;
    }
    if (!p) return def < max ? def : max;
    char *end;
    unsigned long long v = strtoull(p, &end, 10);
    if (end == p || (*end && *end != '&') || *p == '-' || *p == '+' || v < 1 || v > max) {
        char msg[96];
        snprintf(msg, sizeof(msg), "limit: a whole number from 1 to %zu", max);
        api_invalid(r, "limit", msg);
        return 0;
    }
    return (size_t)v;
}

/* What the admin view shows of a room. */
static json_t *room_row(const room_t *room, int64_t now)
{
    size_t online = 0;
    for (const room_member_t *m = room->members; m; m = m->next)
        online += m->online > 0;
    return json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "id", room->id,
                     "roomCode", room->code, "name", room->name, "hostId", room->host_id,
                     "participants", (json_int_t)room->seats, "online", (json_int_t)online,
                     "capacity", (json_int_t)room->capacity, "messagesPerMinute",
                     (json_int_t)rate_window_count(&room->rate_msgs, now), "opsPerMinute",
                     (json_int_t)rate_window_count(&room->rate_ops, now), "createdAt",
                     (json_int_t)room->created_at, "lastActivity",
                     (json_int_t)room->last_activity);
}

static void h_overview(api_req_t *r)
{
    if (!admin_only(r)) return;
    rooms_t *rooms = r->api->rooms;
    int64_t now = clock_unix_ms();
    json_int_t nrooms = 0, members = 0, online = 0, msgs = 0, ops = 0;
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&rooms->by_id, &i, &k, &v);) {
        room_t *room = v;
        nrooms++;
        members += room->seats;
        for (const room_member_t *m = room->members; m; m = m->next)
            online += m->online > 0;
        msgs += rate_window_count(&room->rate_msgs, now);
        ops += rate_window_count(&room->rate_ops, now);
    }
    json_t *conns = r->api->admin_conns ? r->api->admin_conns(r->api->admin_conns_ud, 0)
                                        : json_pack("{s:i}", "total", 0);
    json_object_del(conns, "list");
    json_object_del(conns, "more");
    uint64_t errors = 0;
    if (r->api->errors) {
        log_ring_entry_t none;
        log_ring_copy(r->api->errors, &none, 0, &errors);
    }
    api_respond(r, 200,
                json_pack("{s:b, s:I, s:o, s:{s:I, s:I, s:I, s:I, s:I}, s:I}", "success", 1,
                          "at", (json_int_t)now, "connections", conns, "rooms", "count", nrooms,
                          "participants", members, "online", online, "messagesPerMinute", msgs,
                          "opsPerMinute", ops, "errorsLogged", (json_int_t)errors));
}

static void h_connections(api_req_t *r)
{
    if (!admin_only(r)) return;
    size_t max = (size_t)r->api->cfg->admin_list_max;
    size_t limit = admin_limit(r, max, max);
    if (!limit) return;
    json_t *conns = r->api->admin_conns ? r->api->admin_conns(r->api->admin_conns_ud, limit)
                                        : json_pack("{s:i, s:[]}", "total", 0, "list");
    json_object_set_new(conns, "success", json_true());
    api_respond(r, 200, conns);
}

/* Rooms by busyness (messages and ops in the last minute), then by id. */
typedef struct {
    room_t *room;
    uint64_t busy;
} admin_room_t;

static int busier(const void *x, const void *y)
{
    const admin_room_t *a = x, *b = y;
    if (a->busy != b->busy) return a->busy > b->busy ? -1 : 1;
    return strcmp(a->room->id, b->room->id);
}

/* Answers the rooms, busiest first, at most limit of them; with only_busy, rooms with no
 * message or op in the last minute are left out. */
static void rooms_answer(api_req_t *r, size_t limit, int only_busy)
{
    rooms_t *rooms = r->api->rooms;
    int64_t now = clock_unix_ms();
    size_t n = 0, cap = 0, total = 0;
    admin_room_t *all = NULL;
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&rooms->by_id, &i, &k, &v);) {
        room_t *room = v;
        total++;
        uint64_t busy = (uint64_t)rate_window_count(&room->rate_msgs, now) +
                        rate_window_count(&room->rate_ops, now);
        if (only_busy && busy == 0) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 64;
            all = ch_realloc(all, cap * sizeof(*all));
        }
        all[n++] = (admin_room_t){room, busy};
    }
    if (n) qsort(all, n, sizeof(*all), busier);
    json_t *list = json_array();
    for (size_t i = 0; i < n && i < limit; i++)
        json_array_append_new(list, room_row(all[i].room, now));
    free(all);
    api_respond(r, 200,
                json_pack("{s:b, s:I, s:o, s:b}", "success", 1, "total", (json_int_t)total,
                          "rooms", list, "more", n > limit));
}

static void h_rooms(api_req_t *r)
{
    if (!admin_only(r)) return;
    size_t max = (size_t)r->api->cfg->admin_list_max;
    size_t limit = admin_limit(r, max, max);
    if (limit) rooms_answer(r, limit, 0);
}

static void h_busiest(api_req_t *r)
{
    if (!admin_only(r)) return;
    size_t limit = admin_limit(r, ADMIN_BUSIEST_DEFAULT, (size_t)r->api->cfg->admin_list_max);
    if (limit) rooms_answer(r, limit, 1);
}

static void h_errors(api_req_t *r)
{
    if (!admin_only(r)) return;
    size_t max = (size_t)r->api->cfg->admin_errors;
    size_t limit = admin_limit(r, max, max);
    if (!limit) return;
    json_t *list = json_array();
    uint64_t total = 0;
    if (r->api->errors) {
        log_ring_entry_t *e = ch_malloc(limit * sizeof(*e));
        size_t n = log_ring_copy(r->api->errors, e, limit, &total);
        for (size_t i = 0; i < n; i++)
            json_array_append_new(list,
                                  json_pack("{s:I, s:s, s:s}", "at", (json_int_t)e[i].at,
                                            "level", e[i].level >= LOG_ERROR ? "error" : "warn",
                                            "message", e[i].msg));
        free(e);
    }
    api_respond(
        r, 200,
        json_pack("{s:b, s:o, s:I}", "success", 1, "errors", list, "total", (json_int_t)total));
}

static void on_audit_recent(store_req_t *req)
{
    api_req_t *r = req->data;
    if (req->err != STORE_OK) {
        free(req->audits);
        api_error(r, 500, "internal_error", "the audit log cannot be read now");
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < req->naudits; i++) {
        const store_audit_t *a = &req->audits[i];
        json_array_append_new(
            list, json_pack("{s:I, s:s, s:s?, s:s?, s:s?, s:I}", "at", (json_int_t)a->at,
                            "event", a->event, "userId", a->user_id[0] ? a->user_id : NULL,
                            "ip", a->ip[0] ? a->ip : NULL, "detail",
                            a->detail[0] ? a->detail : NULL, "count", (json_int_t)a->count));
    }
    free(req->audits);
    req->audits = NULL;
    api_respond(r, 200, json_pack("{s:b, s:o}", "success", 1, "entries", list));
}

static void h_audit(api_req_t *r)
{
    if (!admin_only(r)) return;
    size_t limit = admin_limit(r, ADMIN_AUDIT_DEFAULT, STORE_AUDIT_RECENT_MAX);
    if (!limit) return;
    memset(&r->sreq, 0, sizeof(r->sreq));
    r->sreq.type = STORE_AUDIT_RECENT;
    r->sreq.cb = on_audit_recent;
    r->sreq.data = r;
    r->sreq.audit.count = (int64_t)limit;
    store_submit(r->api->store, &r->sreq);
}

/* The home's answer to admin.close. */
static void back_close(const bus_route_t *route, const char *code, const char *message,
                       json_t *data)
{
    api_req_t *r = route->ud;
    if (code) {
        json_t *kind = json_object_get(data, HOME_KIND_KEY);
        int status = strcmp(code, HOME_NOT_FOUND_CODE) == 0 ? 404
                     : json_is_integer(kind) ? api_status_of((int)json_integer_value(kind))
                                             : 500;
        api_error(r, status, code, "%s", message ? message : code);
        json_decref(data);
        return;
    }
    char detail[128];
    snprintf(detail, sizeof(detail), "room %s", r->params[0]);
    api_audit(r->api, "admin_room_close", r->user.sub, r->ip, detail);
    json_decref(data);
    api_respond(r, 200, json_pack("{s:b, s:s}", "success", 1, "roomId", r->params[0]));
}

static void h_close(api_req_t *r)
{
    if (!admin_only(r)) return;
    room_t *room = strmap_get(&r->api->rooms->by_id, r->params[0]);
    if (!room) {
        api_error(r, 404, "not_found", "no such room");
        return;
    }
    json_t *args = json_object();
    bus_op_t op = {
        .room = room->id,
        .name = "admin.close",
        .user = r->user.sub,
        .args = args,
        .route = {.member = BUS_MEMBER_NONE, .ref = -1, .fn = back_close, .ud = r},
    };
    if (bus_send_op(r->api->rooms->bus, &op) != 0)
        api_error(r, 503, "service_unavailable", "the room is not reachable now");
    json_decref(args);
}

/* POST /api/admin/users/:userId/disconnect: closes every connection of the user with the
 * server API's primitive (api_disconnect_user: close 4001 "disconnected by an admin"). */
static void h_disconnect(api_req_t *r)
{
    if (!admin_only(r)) return;
    char *id = (char *)r->params[0];
    if (api_unescape_segment(id) != 0 || !id[0] || strlen(id) >= STORE_SUB_LEN) {
        api_invalid(r, "userId", "userId must be a percent-encoded id of 1 to 128 bytes");
        return;
    }
    uint32_t n = api_disconnect_user(r->api, id, "disconnected by an admin");
    char detail[128];
    snprintf(detail, sizeof(detail), "user %.80s closed %u", id, n);
    api_audit(r->api, "admin_user_disconnect", r->user.sub, r->ip, detail);
    api_respond(r, 200, json_pack("{s:b, s:I}", "success", 1, "closed", (json_int_t)n));
}

/* GET /api/admin/access: whether the caller is an admin, for any signed-in user (the web
 * app shows its Admin link by it, with no 403 to log). */
static void h_access(api_req_t *r)
{
    api_respond(r, 200,
                json_pack("{s:b, s:b}", "success", 1, "admin", api_admin_is(r->api, &r->user)));
}

const api_route_t api_admin_routes[] = {
    {HTTP_GET, "/api/admin/access", h_access, 0, API_GROUP_API},
    {HTTP_GET, "/api/admin/overview", h_overview, 0, API_GROUP_API},
    {HTTP_GET, "/api/admin/connections", h_connections, 0, API_GROUP_API},
    {HTTP_GET, "/api/admin/rooms", h_rooms, 0, API_GROUP_API},
    {HTTP_GET, "/api/admin/rooms/busiest", h_busiest, 0, API_GROUP_API},
    {HTTP_GET, "/api/admin/errors", h_errors, 0, API_GROUP_API},
    {HTTP_GET, "/api/admin/audit", h_audit, 0, API_GROUP_API},
    {HTTP_POST, "/api/admin/rooms/:roomId/close", h_close, 0, API_GROUP_API},
    {HTTP_POST, "/api/admin/users/:userId/disconnect", h_disconnect, 0, API_GROUP_API},
};
const size_t api_admin_nroutes = CH_ARRAY_LEN(api_admin_routes);
