/* rooms_members.c: membership (see rooms.h): creating a room with its host, joining
 * (names, seats, the seat grace), leaving, kicking, bans, and the connections subscribed
 * to a room (online members). Membership changes take effect and are announced at once;
 * the caller's answer waits for the commit. */
#include "domain/rooms_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "auth/auth_random.h"
#include "util/clock.h"
#include "util/mem.h"
#include "domain/room_code.h"
#include "domain/room_rules.h"
#include "domain/webhooks.h"
#include "domain/activity_log.h"
#include "auth/user_valid.h"

/* ---------- create ---------- */

static uint32_t hosted_by(rooms_t *r, const char *user_id)
{
    uint32_t n = 0;
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&r->by_id, &i, &k, &v);)
        if (strcmp(((room_t *)v)->host_id, user_id) == 0) n++;
    return n;
}

static void after_create(rooms_op_t *op)
{
    op->result = json_pack("{s:b, s:o}", "success", 1, "room", room_json(op->r, op->room));
}

void rooms_create(rooms_t *r, const auth_claims_t *user, const json_t *body, rooms_done_fn done,
                  void *ud)
{
    if (!json_is_object(body)) {
        rooms_fail(done, ud, ROOMS_E_INVALID, "bad_request", "the body must be a JSON object");
        return;
    }
    json_t *jname = json_object_get(body, "name");
    json_t *jcap = json_object_get(body, "maxParticipants");
    json_t *jpub = json_object_get(body, "isPublic");
    json_t *jstate = json_object_get(body, "state");
    if (!json_is_string(jname) ||
        !room_name_valid(json_string_value(jname), json_string_length(jname))) {
        rooms_invalid(done, ud, "name", "name must be 1 to 100 characters");
        return;
    }
    json_int_t cap = r->lim.default_capacity;
    if (jcap) {
        if (!json_is_integer(jcap) ||
            !room_capacity_valid(json_integer_value(jcap), r->lim.max_capacity)) {
            char msg[96];
            snprintf(msg, sizeof(msg), "maxParticipants must be an integer from 1 to %u",
                     r->lim.max_capacity);
            rooms_invalid(done, ud, "maxParticipants", msg);
            return;
        }
        cap = json_integer_value(jcap);
    }
    if (jpub && !json_is_boolean(jpub)) {
        rooms_invalid(done, ud, "isPublic", "isPublic must be a boolean");
        return;
    }
    if (jstate && !json_is_object(jstate)) {
        rooms_invalid(done, ud, "state", "state must be a JSON object");
        return;
    }
    if (hosted_by(r, user->sub) >= r->lim.max_hosted) {
        rooms_fail(done, ud, ROOMS_E_LIMIT, "room_limit",
                   "you host the maximum number of live rooms");
        return;
    }
    room_t *room = rooms_room_new(r);
    if (room_code_generate(room->code, rooms_rng, rooms_code_taken, r, CODE_TRIES) != 0) {
        rooms_room_free(room);
        rooms_fail(done, ud, ROOMS_E_UNAVAILABLE, "service_unavailable",
                   "no free room code; try again");
        return;
    }
    auth_random_uuid(room->id);
    snprintf(room->name, sizeof(room->name), "%s", json_string_value(jname));
    snprintf(room->host_id, sizeof(room->host_id), "%s", user->sub);
    room->capacity = (uint32_t)cap;
    room->is_public = jpub && json_is_true(jpub);
    if (jstate) {
        json_decref(room->state);
        room->state = json_deep_copy(jstate);
    }
    room->created_at = room->last_activity = clock_unix_ms();
    room->usage_counted = 1; /* its writes are counted as they are made */
    char *state_text = json_dumps(room->state, JSON_COMPACT);
    size_t state_len = strlen(state_text);
    if (state_len > r->lim.max_state) {
        free(state_text);
        rooms_room_free(room);
        rooms_fail(done, ud, ROOMS_E_TOO_LARGE, "payload_too_large", "state is too large");
        return;
    }
    int qrc = rooms_quota_check(r, room, room->host_id, (int64_t)state_len);
    if (qrc != QUOTA_OK) {
        free(state_text);
        rooms_room_free(room);
        rooms_over_quota(done, ud, qrc);
        return;
    }
    rooms_quota_count(r, room, room->host_id, (int64_t)state_len);
    room->state_bytes = (int64_t)state_len;
    room_member_t *host = rooms_member_add(room, user->sub, user->name[0] ? user->name : "host",
                                           user->color[0] ? user->color : "#64748b",
                                           STORE_ROLE_HOST, room->created_at, uv_now(r->loop));
    rooms_registry_add(r, room);
    bus_home_take(r->bus, room->id); /* a room is at home where it is made */
    rooms_record_pub(room, "s", 0); /* what a takeover compares (rooms_restore) */
    rooms_record_pub(room, "v", 0);
    rooms_record_pub(room, "n", 0); /* rooms.changes of a new row */
    rooms_announce(r, room, 0);

    rooms_op_t *op = rooms_op_new(r, room, STORE_ROOM_CREATE, done, ud);
    rooms_op_charged(op, room->host_id, (int64_t)state_len);
    rooms_fill_room(&op->pl.room, room, state_text); /* state version 0, last activity now */
    rooms_fill_part(&op->pl.part, host);
    /* The count above misses rooms other nodes are making; the store's is authoritative. */
    op->pl.max_hosted = r->lim.max_hosted;
    op->pl.fence = bus_is_cluster(r->bus) ? STORE_FENCE_KEEP : STORE_FENCE_NONE;
    op->stored = after_create;
    if (webhooks_wants(r->hooks, WEBHOOK_ROOM_CREATED))
        rooms_hook(r, room, &op->req, WEBHOOK_ROOM_CREATED,
                   json_pack("{s:o}", "room", room_json(r, room)));
    rooms_op_submit(op);
}

/* ---------- membership ---------- */

void rooms_fill_part(store_participant_t *p, const room_member_t *m)
{
    memcpy(p->room_id, m->room->id, sizeof(p->room_id));
    snprintf(p->user_id, sizeof(p->user_id), "%s", m->user_id);
    snprintf(p->display_name, sizeof(p->display_name), "%s", m->display_name);
    memcpy(p->color, m->color, sizeof(p->color));
    p->role = m->role;
    p->banned = m->banned;
    p->joined_at = m->joined_at;
}

static json_t *join_result(rooms_t *r, room_t *room, const char *user_id)
{
    room_member_t *m = room_member(room, user_id);
    return json_pack("{s:b, s:o, s:o}", "success", 1, "room", room_json(r, room),
                     "participant", m ? room_member_json(m) : json_null());
}

static void after_join(rooms_op_t *op)
{
    op->result = join_result(op->r, op->room, op->pl.part.user_id);
}

/* 1 when a participant of room other than m has a name that clashes with name: one
 * lookup in the room's name index (which leaves out the guest name, shared by any
 * number and clashing with none), except for a name that differs from the guest name in
 * case only, which only a walk over the members finds clashing with it. */
static int name_taken(const room_t *room, const room_member_t *m, const char *name)
{
    if (strcmp(name, ROOM_GUEST_NAME) == 0) return 0;
    if (strcasecmp(name, ROOM_GUEST_NAME) == 0) {
        for (const room_member_t *o = room->members; o; o = o->next)
            if (o != m && !o->banned && room_display_names_clash(name, o->display_name))
                return 1;
        return 0;
    }
    size_t pos = 0;
    for (const room_member_t *o; (o = keyset_next(&room->by_name, name, &pos));)
        if (o != m && room_display_names_clash(name, o->display_name)) return 1;
    return 0;
}

/* Starts the seat grace of m when no connection holds its seat (the host's seat is never
 * released). */
void rooms_seat_unconnected(rooms_t *r, room_member_t *m)
{
    if (m->online || m->banned || strcmp(m->user_id, m->room->host_id) == 0)
        m->release_at = 0;
    else
        m->release_at = uv_now(r->loop) + r->lim.seat_grace_ms;
}

/* 1 when a member of room is online. */
static int any_online(const room_t *room)
{
    return room->roster.online > 0;
}

/* After a member went offline or out: an occupied room with nobody online left starts
 * the seat grace of its room.vacated (rooms_tick_step sends it). */
static void maybe_vacant(rooms_t *r, room_t *room)
{
    if (room->hook_occupied && !room->hook_empty_at && !any_online(room))
        room->hook_empty_at = uv_now(r->loop) ? uv_now(r->loop) : 1;
}

/* Queues participant.left of m (reason: left, kicked, banned, disconnected) on req. */
static void hook_left(rooms_t *r, room_t *room, store_req_t *req, const room_member_t *m,
                      const char *reason)
{
    if (!webhooks_wants(r->hooks, WEBHOOK_PARTICIPANT_LEFT)) return;
    json_t *data = rooms_hook_member(m);
    json_object_set_new(data, "reason", json_string(reason));
    rooms_hook(r, room, req, WEBHOOK_PARTICIPANT_LEFT, data);
}

/* rooms_join, answering with the room and the member (full) or with success only;
 * connecting: the caller subscribes a connection to the room next. */
static void join(rooms_t *r, room_t *room, const auth_claims_t *user, const char *display_name,
                 int role, int full, int connecting, rooms_done_fn done, void *ud)
{
    /* A chosen name follows the account rules (no control or bidirectional formatting
     * characters; surrounding spaces dropped). */
    char chosen[STORE_NAME_LEN];
    if (display_name && *display_name) {
        size_t len = strlen(display_name);
        while (len && display_name[0] == ' ') {
            display_name++;
            len--;
        }
        while (len && display_name[len - 1] == ' ')
            len--;
        if (len >= sizeof(chosen) || !user_name_valid(display_name, len)) {
            rooms_invalid(done, ud, "displayName",
                          "displayName must be 1 to 32 characters, without control or "
                          "bidirectional formatting characters");
            return;
        }
        memcpy(chosen, display_name, len);
        chosen[len] = '\0';
        display_name = chosen;
    }
    room_member_t *m = room_member(room, user->sub);
    const char *refused = room_join_check(m != NULL, m && m->banned, room->seats, room->capacity);
    if (refused) {
        rooms_fail(done, ud, ROOMS_E_FORBIDDEN, refused,
                   m && m->banned ? "you were banned from this room" : "the room is full");
        return;
    }
    const char *name = display_name && *display_name ? display_name
                       : user->name[0]               ? user->name
                                                     : ROOM_GUEST_NAME;
    /* No one takes another participant's name (a member keeping theirs is not checked:
     * names stored before this rule may repeat). A chosen name that is taken is refused;
     * a token's name is not the caller's choice (two people may share it), so it becomes
     * the first free "name 2" … "name 99". */
    int naming = !m || (display_name && *display_name && strcmp(m->display_name, name) != 0);
    char alt[STORE_NAME_LEN];
    if (naming && name_taken(room, m, name)) {
        int i = 2;
        while (!(display_name && *display_name) && i < 100) {
            size_t n = 0, cps = 0;
            while (name[n] && n < sizeof(alt) - 4 &&
                   (cps < USER_NAME_MAX_CP - 3 || ((unsigned char)name[n] & 0xC0) == 0x80))
                cps += ((unsigned char)name[n++] & 0xC0) != 0x80;
            snprintf(alt, sizeof(alt), "%.*s %d", (int)n, name, i);
            if (!name_taken(room, m, alt)) break;
            i++;
        }
        if ((display_name && *display_name) || i == 100) {
            rooms_fail(done, ud, ROOMS_E_CONFLICT, "name_taken",
                       "another participant of this room has that name; join with another "
                       "displayName");
            return;
        }
        name = alt;
    }
    int changed = 0;
    if (!m) {
        m = rooms_member_add(room, user->sub, name, user->color[0] ? user->color : "#64748b",
                             role == STORE_ROLE_HOST ? STORE_ROLE_HOST : STORE_ROLE_MEMBER,
                             clock_unix_ms(), uv_now(r->loop));
        changed = 1;
        if (rooms_coalescing(r, room)) rooms_coalesce_seated(r, room, m);
        /* Not in a large room: a chat line per arrival is a delivery to every member per
         * join (issue 26); the activity stream and participants_changed tell it. */
        if (!ROOMS_LARGE(r, room))
            rooms_system_event(r, room, "joined", m->user_id, m->display_name,
                               "a participant joined");
    } else if (display_name && *display_name && strcmp(m->display_name, display_name) != 0) {
        rooms_member_rename(m, display_name); /* checked above: < STORE_NAME_LEN */
        changed = 1;
    }
    /* The join hook's role; the room's own host stays host. */
    if (role != ROOMS_ROLE_KEEP && m->role != role && strcmp(m->user_id, room->host_id) != 0) {
        room->cohosts += role == STORE_ROLE_HOST ? 1u : (uint32_t)-1;
        m->role = (uint8_t)role;
        changed = 1;
    }
    /* A WebSocket join subscribes its connection next, which holds the seat; any other
     * join (REST) holds it for the grace only, as a dropped connection does, so a seat
     * nobody connects to is released. */
    if (connecting)
        m->release_at = 0;
    else
        rooms_seat_unconnected(r, m);
    if (!changed) { /* nothing to store: answer at once (an op is a 2.5 KB allocation) */
        rooms_hold(room);
        json_t *result = full ? join_result(r, room, m->user_id) : json_pack("{s:b}", "success", 1);
        if (done) done(ud, NULL, result);
        else json_decref(result);
        rooms_release(room);
        return;
    }
    rooms_op_t *op = rooms_op_new(r, room, STORE_PARTICIPANT_PUT, done, ud);
    rooms_fill_part(&op->pl.part, m);
    op->stored = full ? after_join : rooms_after_simple;
    rooms_op_submit(op);
}

void rooms_join(rooms_t *r, room_t *room, const auth_claims_t *user, const char *display_name,
                rooms_done_fn done, void *ud)
{
    join(r, room, user, display_name, ROOMS_ROLE_KEEP, 1, 0, done, ud);
}

void rooms_join_quiet(rooms_t *r, room_t *room, const auth_claims_t *user,
                      const char *display_name, int role, rooms_done_fn done, void *ud)
{
    join(r, room, user, display_name, role, 0, 1, done, ud);
}

void rooms_after_simple(rooms_op_t *op)
{
    op->result = json_pack("{s:b}", "success", 1);
}

/* Takes every connection of user_id out of room, after the features' member_left hooks:
 * they get event (with fields, borrowed; NULL = none) first when not NULL, and each
 * process drops its own subscriptions of theirs (the bus's unsubscribe, bus.h). */
static void unsubscribe_user(rooms_t *r, room_t *room, const char *user_id, const char *event,
                             json_t *fields)
{
    ROOMS_FEATURES_CALL(r, member_left, r, room, user_id);
    jpart_t part = {.obj = fields};
    bus_publish(&room->bus, &(bus_event_t){.room = room->id, .name = event, .parts = &part,
                                           .nparts = fields ? 1 : 0, .to_user = user_id,
                                           .unsubscribe = 1});
}

void rooms_leave(rooms_t *r, room_t *room, const char *user_id, const char *reason,
                 rooms_done_fn done, void *ud)
{
    room_member_t *m = room_member(room, user_id);
    if (!m || m->banned) {
        rooms_fail(done, ud, ROOMS_E_NOT_FOUND, "not_found", "you are not in this room");
        return;
    }
    if (strcmp(m->user_id, room->host_id) == 0) {
        rooms_fail(done, ud, ROOMS_E_INVALID, "host_cannot_leave",
                   "the host deletes the room instead of leaving");
        return;
    }
    char name[STORE_NAME_LEN];
    snprintf(name, sizeof(name), "%s", m->display_name);
    rooms_op_t *op = rooms_op_new(r, room, STORE_PARTICIPANT_DELETE, done, ud);
    rooms_fill_part(&op->pl.part, m);
    hook_left(r, room, &op->req, m, reason ? reason : "left");
    activity_log_row(r->act, room, ACTIVITY_LEFT, m->user_id, m->display_name,
                     json_pack("{s:s}", "reason", reason ? reason : "left"));
    unsubscribe_user(r, room, user_id, NULL, NULL);
    int coalesced = rooms_coalescing(r, room);
    if (coalesced) rooms_coalesce_left(r, room, m, reason ? reason : "left", 1);
    rooms_member_remove(r, room, m);
    maybe_vacant(r, room);
    if (!coalesced)
        rooms_publish(
            room, BUS_MEMBER_NONE, "participant_left",
            json_pack("{s:s, s:s}", "userId", user_id, "reason", reason ? reason : "left"));
    if (!ROOMS_LARGE(r, room)) /* as "joined" (above) */
        rooms_system_event(r, room, "left", user_id, name, "a participant left");
    op->stored = rooms_after_simple;
    rooms_op_submit(op);
}

int rooms_may_manage(const room_t *room, const char *user_id)
{
    if (room_may_manage(room->host_id, user_id)) return 1;
    if (!room->cohosts) return 0; /* the common case: no member lookup */
    const room_member_t *m = room_member((room_t *)room, user_id);
    return m && !m->banned && m->role == STORE_ROLE_HOST;
}

int rooms_is_host(const room_t *room, const auth_claims_t *by)
{
    return rooms_may_manage(room, by->sub);
}

/* Banned users of room (bounded by lim.max_bans). */
static uint32_t bans_count(const room_t *room)
{
    uint32_t n = 0;
    for (const room_member_t *m = room->members; m; m = m->next) n += m->banned != 0;
    return n;
}

void rooms_kick(rooms_t *r, room_t *room, const auth_claims_t *by, const char *user_id, int ban,
                rooms_done_fn done, void *ud)
{
    if (!rooms_is_host(room, by)) {
        rooms_fail(done, ud, ROOMS_E_FORBIDDEN, "forbidden", "only the host can kick");
        return;
    }
    room_member_t *m = room_member(room, user_id);
    if (!m || (m->banned && !ban)) {
        rooms_fail(done, ud, ROOMS_E_NOT_FOUND, "not_found", "no such participant");
        return;
    }
    if (strcmp(m->user_id, room->host_id) == 0) {
        rooms_fail(done, ud, ROOMS_E_INVALID, "bad_request", "the host cannot kick themselves");
        return;
    }
    if (ban && !m->banned && bans_count(room) >= r->lim.max_bans) {
        rooms_fail(done, ud, ROOMS_E_CONFLICT, "ban_limit",
                   "this room keeps no more bans: lift one first");
        return;
    }
    char name[STORE_NAME_LEN];
    snprintf(name, sizeof(name), "%s", m->display_name);
    json_t *fields = json_pack("{s:b}", "ban", ban);
    store_req_t hooks = {0}; /* its deliveries, moved onto the write below */
    hook_left(r, room, &hooks, m, ban ? "banned" : "kicked");
    activity_log_row(r->act, room, ban ? ACTIVITY_BANNED : ACTIVITY_KICKED, m->user_id,
                     m->display_name, json_pack("{s:s}", "by", by->sub));
    unsubscribe_user(r, room, user_id, "kicked", fields);
    json_decref(fields);
    int coalesced = rooms_coalescing(r, room);
    if (coalesced) rooms_coalesce_left(r, room, m, ban ? "banned" : "kicked", 1);
    rooms_op_t *op;
    if (ban) {
        /* A ban keeps the row (so the user cannot come back) but frees the seat; the
         * row's joined_at becomes the time of the ban (rooms_bans_json). */
        if (!m->banned) m->joined_at = clock_unix_ms();
        rooms_member_banned(room, m);
        if (m->online) r->online--;
        m->online = 0;
        m->release_at = 0; /* the row must stay: it is the ban */
        rooms_dirty_remove(r, m);
        op = rooms_op_new(r, room, STORE_PARTICIPANT_PUT, done, ud);
        rooms_fill_part(&op->pl.part, m);
    } else {
        op = rooms_op_new(r, room, STORE_PARTICIPANT_DELETE, done, ud);
        rooms_fill_part(&op->pl.part, m);
        rooms_member_remove(r, room, m);
    }
    op->req.enqueue = hooks.enqueue;
    op->req.nenqueue = hooks.nenqueue;
    maybe_vacant(r, room);
    if (!coalesced)
        rooms_publish(
            room, BUS_MEMBER_NONE, "participant_left",
            json_pack("{s:s, s:s}", "userId", user_id, "reason", ban ? "banned" : "kicked"));
    rooms_system_event(r, room, ban ? "banned" : "removed", user_id, name,
                       ban ? "a participant was banned by the host"
                     : "a participant was removed by the host");
    op->stored = rooms_after_simple;
    rooms_op_submit(op);
}

/* ---------- bans ---------- */

/* Orders bans oldest first (then by user id, so the order is stable). */
static int ban_cmp(const void *a, const void *b)
{
    const room_member_t *x = *(room_member_t *const *)a, *y = *(room_member_t *const *)b;
    if (x->joined_at != y->joined_at) return x->joined_at < y->joined_at ? -1 : 1;
    return strcmp(x->user_id, y->user_id);
}

json_t *rooms_bans_json(const room_t *room)
{
    size_t n = bans_count(room);
    json_t *a = json_array();
    if (n == 0) return a;
    const room_member_t **list = ch_malloc(n * sizeof(*list));
    size_t i = 0;
    for (const room_member_t *m = room->members; m; m = m->next)
        if (m->banned) list[i++] = m;
    qsort(list, n, sizeof(*list), ban_cmp);
    for (i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:I}", "userId", list[i]->user_id,
                                           "displayName", list[i]->display_name, "color",
                                           list[i]->color, "bannedAt",
                                           (json_int_t)list[i]->joined_at));
    free(list);
    return a;
}

void rooms_unban(rooms_t *r, room_t *room, const auth_claims_t *by, const char *user_id,
                 rooms_done_fn done, void *ud)
{
    if (!rooms_is_host(room, by)) {
        rooms_fail(done, ud, ROOMS_E_FORBIDDEN, "forbidden", "only the host can lift a ban");
        return;
    }
    room_member_t *m = room_member(room, user_id);
    if (!m || !m->banned) {
        rooms_fail(done, ud, ROOMS_E_NOT_FOUND, "not_found",
                   "this user is not banned from this room");
        return;
    }
    char name[STORE_NAME_LEN], uid[STORE_SUB_LEN];
    snprintf(name, sizeof(name), "%s", m->display_name);
    snprintf(uid, sizeof(uid), "%s", m->user_id);
    /* Deleting the row lifts the ban: the user joins again as a new member. */
    rooms_op_t *op = rooms_op_new(r, room, STORE_PARTICIPANT_DELETE, done, ud);
    rooms_fill_part(&op->pl.part, m);
    rooms_member_remove(r, room, m);
    rooms_system_event(r, room, "unbanned", uid, name, "a participant may join again: the host lifted the ban");
    op->stored = rooms_after_simple;
    rooms_op_submit(op);
}

/* ---------- connections (online members) ---------- */

int rooms_attach(rooms_t *r, room_t *room, bus_member_t member, const char *user_id)
{
    return rooms_attach_hooked(r, room, member, user_id, NULL);
}

/* Counts one more connection of m; at its first, m goes online with a fresh presence
 * (returns 1), else 0. */
static int seat_online(rooms_t *r, room_member_t *m)
{
    if (m->online++ != 0) return 0;
    r->online++;
    roster_set_online(&m->room->roster, m->seat, 1);
    m->release_at = 0;
    presence_free(&m->presence);
    presence_init(&m->presence, uv_now(r->loop));
    return 1;
}

int rooms_attach_quiet(rooms_t *r, room_t *room, const char *user_id)
{
    room_member_t *m = room_member(room, user_id);
    if (!m || m->banned) return ROOMS_E_NOT_FOUND;
    room->hook_empty_at = 0;
    room->hook_occupied = 1;
    seat_online(r, m);
    return 0;
}

static void record_member(room_t *room, char kind, bus_member_t member, const char *user_id)
{
    if (!bus_is_cluster(room->bus.bus)) return; /* one process records nothing */
    char field[24];
    snprintf(field, sizeof(field), "%c%llu", kind, (unsigned long long)member);
    bus_record(room->bus.bus, room->id, field, user_id);
}

void rooms_record_conn(room_t *room, bus_member_t member, const char *user_id)
{
    record_member(room, 'c', member, user_id);
}

void rooms_record_gone(room_t *room, bus_member_t member, const char *user_id)
{
    record_member(room, 'g', member, user_id);
}

int rooms_attach_hooked(rooms_t *r, room_t *room, bus_member_t member, const char *user_id,
                        store_req_t *hooks)
{
    room_member_t *m = room_member(room, user_id);
    if (!m || m->banned) return ROOMS_E_NOT_FOUND;
    if (m->online == 0) {
        room->hook_empty_at = 0;
        if (hooks && webhooks_wants(r->hooks, WEBHOOK_ROOM_OCCUPIED) && !room->hook_occupied &&
            !any_online(room)) {
            room->hook_occupied = 1;
            rooms_hook(r, room, hooks, WEBHOOK_ROOM_OCCUPIED,
                       json_pack("{s:o}", "by", rooms_hook_member(m)));
        }
        if (hooks && webhooks_wants(r->hooks, WEBHOOK_PARTICIPANT_JOINED))
            rooms_hook(r, room, hooks, WEBHOOK_PARTICIPANT_JOINED, rooms_hook_member(m));
    }
    if (seat_online(r, m)) { /* online and presence change; more connections change nothing */
        if (rooms_coalescing(r, room))
            rooms_coalesce_online(r, room, m);
        else
            rooms_publish_member(room, member, "participant_joined", m);
        activity_log_row(r->act, room, ACTIVITY_JOINED, m->user_id, m->display_name, NULL);
    }
    return 0;
}

int rooms_subscribe(rooms_t *r, room_t *room, bus_rcv_t *c)
{
    if (bus_find(c->subs, room)) return -1;
    bus_sub_t *s = slab_alloc(r->sub_slab, sizeof(*s));
    s->rcv = c;
    s->room = room;
    bus_subscribe(&room->bus, s, &c->subs);
    /* Its entry in the home's record is written by its own node, which deletes it when
     * the subscription ends (rooms_unsubscribe, rooms_client_gone), the home alive or not:
     * an entry is of a connection its node has (or had when it died). */
    rooms_record_conn(room, c->id, bus_rcv_user(r->bus, c));
    return 0;
}

void rooms_unsubscribe(void *ud, bus_topic_t *t, bus_sub_t *s)
{
    rooms_t *r = ud;
    ROOMS_FEATURES_CALL(r, client_left, r, s->room, s->rcv);
    rooms_watch_drop(s->room, s);
    /* Left, kicked, banned, reset or the room deleted: its entry goes with it. */
    rooms_record_conn(s->room, s->rcv->id, NULL);
    bus_unsubscribe(t, s);
    slab_free(s);
}

/* Marks the member user_id offline when it was their last connection. */
static void went_away(rooms_t *r, room_t *room, const char *user_id, const char *reason)
{
    room_member_t *m = room_member(room, user_id);
    if (!m || m->online == 0) return;
    if (m->online == 1 && rooms_coalescing(r, room))
        rooms_coalesce_left(r, room, m, reason, 0); /* as it is before: online */
    if (--m->online > 0) return;
    r->online--;
    roster_set_online(&room->roster, m->seat, 0);
    rooms_dirty_remove(r, m);
    if (strcmp(m->user_id, room->host_id) != 0)
        m->release_at = uv_now(r->loop) + r->lim.seat_grace_ms;
    if (!room->coal)
        rooms_publish(room, BUS_MEMBER_NONE, "participant_left",
                      json_pack("{s:s, s:s}", "userId", user_id, "reason", reason));
    activity_log_row(r->act, room, ACTIVITY_LEFT, m->user_id, m->display_name,
                     json_pack("{s:s}", "reason", reason));
    /* Not a stored change: its delivery is a write of its own, which nothing waits for
     * (the connection is gone). */
    if (webhooks_wants(r->hooks, WEBHOOK_PARTICIPANT_LEFT)) {
        webhooks_put_t *p = webhooks_put_new(r->hooks);
        hook_left(r, room, &p->req, m, reason);
        webhooks_put_submit(p, r->store, NULL, NULL);
    }
    maybe_vacant(r, room);
}

void rooms_detach(rooms_t *r, room_t *room, bus_member_t member, const char *user_id,
                  int undo)
{
    if (!undo) ROOMS_FEATURES_CALL(r, member_gone, r, room, member, user_id);
    /* An undone attach leaves the record too: else a takeover restores it (a ghost); and
     * its node's entry saying it closed is served. */
    rooms_record_conn(room, member, NULL);
    rooms_record_gone(room, member, NULL);
    went_away(r, room, user_id, "disconnected");
}

void rooms_client_gone(rooms_t *r, bus_rcv_t *c)
{
    ROOMS_FEATURES_CALL(r, client_gone, r, c);
    while (c->subs) {
        bus_sub_t *s = c->subs;
        room_t *room = s->room;
        rooms_watch_drop(room, s);
        /* By this node, its home alive or not: closed, until the home serves the detach
         * (a takeover releases it, with events, when the home died first). */
        const char *user = bus_rcv_user(r->bus, c);
        rooms_record_conn(room, c->id, NULL);
        rooms_record_gone(room, c->id, user);
        bus_unsubscribe(&room->bus, s);
        slab_free(s);
        rooms_send_detach(r, room->id, c->id, user, 0);
    }
}

void rooms_send_detach(rooms_t *r, const char *room_id, bus_member_t member,
                       const char *user_id, int undo)
{
    json_t *args = undo ? json_pack("{s:b}", "undo", 1) : NULL;
    bus_op_t op = {.room = room_id,
                   .name = ROOMS_OP_DETACH,
                   .user = user_id,
                   .args = args,
                   .route = {.member = member, .ref = -1, .fn = bus_reply_ignore}};
    bus_send_op(r->bus, &op); /* -1: no home serves it, so nothing is attached there */
    json_decref(args);
}
