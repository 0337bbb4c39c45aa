/* home_participants.c: a page of a room's participants at its home (home.h, issue 26),
 * and the presence of the users a presence_subscribe watches:
 * the `participants` op of the members' connections and `rest.participants` of the REST
 * routes and the server API, in the join reply's order (online first, then offline, each
 * in the order the seats were taken), with a search by display name. The member's side
 * checked that the caller is a participant (or the app's backend), as for history. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/home.h"
#include "util/mem.h"

/* Participants of one page at most, and the default. */
#define PARTICIPANTS_PAGE_MAX 500
#define PARTICIPANTS_PAGE_DEFAULT 100
/* Characters of a search at most. */
#define PARTICIPANTS_QUERY_MAX 64

/* Answers code (of kind, for REST: HOME_KIND_KEY) about field (NULL: none). */
static void fail(const bus_op_t *op, int rest, rooms_errno_t kind, const char *code,
                 const char *field, const char *message)
{
    json_t *data = rest ? json_pack("{s:i}", HOME_KIND_KEY, (int)kind) : NULL;
    if (field) {
        if (!data) data = json_object();
        json_object_set_new(data, "field", json_string(field));
    }
    bus_reply(&op->route, code, message, data);
}

/* Characters (code points) of the n bytes of UTF-8 s. */
static size_t chars(const char *s, size_t n)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        k += ((unsigned char)s[i] & 0xC0) != 0x80;
    return k;
}

static void read_page(rooms_t *r, room_t *room, const bus_op_t *op, int rest)
{
    (void)r;
    roster_pos_t pos = {ROSTER_ONLINE, 0};
    json_t *cur = json_object_get(op->args, "cursor");
    if (cur && !json_is_null(cur) &&
        (!json_is_string(cur) ||
         roster_cursor_parse(json_string_value(cur), json_string_length(cur), &pos) != 0)) {
        fail(op, rest, ROOMS_E_INVALID, "bad_request", NULL,
             "cursor must be the next of an earlier participants answer");
        return;
    }
    int64_t limit;
    json_t *jl = json_object_get(op->args, "limit");
    if (jl && !json_is_null(jl) && !json_is_integer(jl)) {
        fail(op, rest, ROOMS_E_INVALID, "validation_error", "limit", "limit must be 1 to 500");
        return;
    }
    limit = json_is_integer(jl) ? json_integer_value(jl) : PARTICIPANTS_PAGE_DEFAULT;
    if (limit < 1 || limit > PARTICIPANTS_PAGE_MAX) {
        fail(op, rest, ROOMS_E_INVALID, "validation_error", "limit", "limit must be 1 to 500");
        return;
    }
    json_t *jq = json_object_get(op->args, "query");
    const char *query = NULL;
    if (jq && !json_is_null(jq)) {
        if (!json_is_string(jq) ||
            chars(json_string_value(jq), json_string_length(jq)) > PARTICIPANTS_QUERY_MAX) {
            fail(op, rest, ROOMS_E_INVALID, "validation_error", "query",
                 "query must be a string of at most 64 characters");
            return;
        }
        query = json_string_value(jq);
    }
    json_t *jo = json_object_get(op->args, "online");
    if (jo && !json_is_null(jo) && !json_is_boolean(jo)) {
        fail(op, rest, ROOMS_E_INVALID, "validation_error", "online",
             "online must be a boolean");
        return;
    }
    char next[ROSTER_CURSOR_LEN];
    json_t *arr = room_members_page_json(room, &pos, json_is_true(jo), query, (size_t)limit, next);
    /* A REST body starts with "success" (home.h), an op's answer has none. */
    json_t *out = rest ? json_pack("{s:b}", "success", 1) : json_object();
    json_object_set_new(out, "participants", arr);
    json_object_set_new(out, "next", next[0] ? json_string(next) : json_null());
    json_object_set_new(out, "participantCount", json_integer(room->seats));
    json_object_set_new(out, "onlineCount", json_integer(room->roster.online));
    bus_reply(&op->route, NULL, NULL, out);
}

static void op_participants(void *ud, room_t *room, const bus_op_t *op)
{
    read_page(ud, room, op, 0);
}

static void op_rest_participants(void *ud, room_t *room, const bus_op_t *op)
{
    read_page(ud, room, op, 1);
}

/* presence_subscribe at the room's home: the current presence of the watched users who
 * are online ({userId: state}, as the others know it; a user named twice once, where
 * first named), written from the texts their records keep (room_presence_text), with no
 * tree. The member's side bounded the list and, once answered, watches them on its own
 * process (rooms_watch_set), so the presence events after this answer reach it. */
static void op_presence_subscribe(void *ud, room_t *room, const bus_op_t *op)
{
    rooms_t *r = ud;
    json_t *users = json_object_get(op->args, "users");
    if (!json_is_array(users) || json_array_size(users) > r->lim.watch_max) {
        fail(op, 0, ROOMS_E_INVALID, "validation_error", "users",
             "users must be an array of user ids");
        return;
    }
    size_t n = 0, k = json_array_size(users);
    room_member_t **list = ch_malloc((k ? k : 1) * sizeof(*list));
    strmap_t seen;
    strmap_init(&seen, (uint64_t)(uintptr_t)list);
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u)
    {
        room_member_t *m = json_is_string(u) ? room_member(room, json_string_value(u)) : NULL;
        if (!m || m->banned || !m->online || strmap_get(&seen, m->user_id)) continue;
        strmap_put(&seen, m->user_id, m);
        list[n++] = m;
    }
    strmap_free(&seen);
    size_t len;
    char *text = room_presence_text(list, n, 0, &len);
    free(list);
    if (op->route.parts_fn) {
        jpart_t part = {.key = "presence", .text = text, .len = len};
        bus_reply_parts(&op->route, &part, 1);
    } else {
        json_t *pres = json_loadb(text, len, JSON_ALLOW_NUL, NULL);
        CH_ASSERT(pres != NULL); /* our own compact text */
        bus_reply(&op->route, NULL, NULL, json_pack("{s:o}", "presence", pres));
    }
    free(text);
}

static const home_op_t home_participants_ops[] = {
    {"participants", op_participants},
    {"presence_subscribe", op_presence_subscribe},
    {"rest.participants", op_rest_participants},
};

void home_participants_register(home_t *h)
{
    home_register(h, home_participants_ops, CH_ARRAY_LEN(home_participants_ops), h->rooms);
}
