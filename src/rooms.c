/* rooms.c: the live room registry, membership rules, state, messages and their
 * persistence (see rooms.h). Every change is applied to the live room first (so the
 * next request sees it: codes stay unique, seats are counted, seqs have no gaps), then
 * persisted in order. Messages, state changes and room creation are answered and
 * announced once the store committed them; membership changes (leave, kick, ban, room
 * deletion, seat release) take effect and are announced at once, and the caller's
 * answer waits for the commit. */
#include "rooms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth_random.h"
#include "clock.h"
#include "json_patch.h"
#include "mem.h"
#include "room_code.h"
#include "room_rules.h"
#include "user_valid.h"
#include "utf8.h"

#define ROOMS_TICK_MS 1000
#define CODE_TRIES 64
/* Failed-lookup buckets: keys kept per map (rl_map.h evicts past it) and how often the
 * refilled ones are dropped. */
#define ROOMS_LOOKUP_KEYS 65536
#define ROOMS_LOOKUP_SWEEP_MS 60000

/* Calls hook of every feature that has it, in the features' order, with the feature's ud
 * and then the arguments after hook. */
#define ROOMS_FEATURES_CALL(r, hook, ...)                                                 \
    do {                                                                                 \
        for (size_t f_ = 0; f_ < (r)->nfeatures; f_++)                                   \
            if ((r)->features[f_].hooks->hook)                                           \
                (r)->features[f_].hooks->hook((r)->features[f_].ud, __VA_ARGS__);        \
    } while (0)

/* ---------- registry ---------- */

static uint64_t random_seed(void)
{
    uint64_t s;
    randombytes_buf(&s, sizeof(s));
    return s;
}

static room_t *room_new(rooms_t *r)
{
    room_t *room = ch_calloc(1, sizeof(*room));
    bus_topic_init(&room->bus, r->bus);
    room->rooms = r;
    room->state = json_object();
    entset_init(&room->ents, random_seed(), 0);
    return room;
}

/* ---------- recent messages, encoded once for join replies ---------- */

static void recent_drop(room_t *room)
{
    for (size_t i = 0; i < room->recent_cap; i++) {
        free(room->recent[i]);
        room->recent[i] = NULL;
    }
    room->recent_len = room->recent_head = room->recent_bytes = 0;
    room->recent_ok = 0;
}

/* Adds the encoded message of seq (text owned) to a valid cache (recent_ok, which needs
 * join_history > 0) as the newest; a gap or the byte cap drops the cache (the next join
 * reads the store and fills it again). */
static void recent_add(rooms_t *r, room_t *room, char *text, int64_t seq)
{
    size_t cap = r->lim.join_history;
    CH_ASSERT(room->recent_ok && cap > 0);
    if (seq != room->recent_last + 1) {
        free(text);
        recent_drop(room);
        return;
    }
    if (!room->recent) {
        room->recent = ch_calloc(cap, sizeof(*room->recent));
        room->recent_cap = cap;
    }
    size_t slot;
    if (room->recent_len == cap) { /* full: the oldest goes */
        slot = room->recent_head;
        room->recent_bytes -= strlen(room->recent[slot]);
        free(room->recent[slot]);
        room->recent_head = (room->recent_head + 1) % cap;
    } else {
        slot = (room->recent_head + room->recent_len++) % cap;
    }
    room->recent[slot] = text;
    room->recent_bytes += strlen(text);
    room->recent_last = seq;
    if (room->recent_bytes > ROOMS_RECENT_MAX_BYTES) recent_drop(room);
}

/* Fills the cache from the newest page of history (msgs ascending), taken when the store
 * had committed exactly up to room->committed_seq. */
static void recent_fill(rooms_t *r, room_t *room, const store_message_t *msgs, size_t n)
{
    if (room->recent_ok || r->lim.join_history == 0) return;
    if ((n ? msgs[n - 1].seq : 0) != room->committed_seq) return; /* a gap: not exact */
    recent_drop(room);
    room->recent_ok = 1;
    room->recent_last = n ? msgs[0].seq - 1 : room->committed_seq;
    for (size_t i = 0; i < n && room->recent_ok; i++) {
        json_t *m = room_message_json(&msgs[i]);
        recent_add(r, room, json_dumps(m, JSON_COMPACT), msgs[i].seq);
        json_decref(m);
    }
}

int rooms_recent_ready(const rooms_t *r, const room_t *room)
{
    return r->lim.join_history == 0 || room->recent_ok;
}

const char **rooms_recent(const room_t *room, size_t *n)
{
    *n = 0;
    if (!room->recent_ok || !room->recent_len) return NULL;
    const char **items = ch_malloc(room->recent_len * sizeof(*items));
    for (size_t i = 0; i < room->recent_len; i++)
        items[i] = room->recent[(room->recent_head + i) % room->recent_cap];
    *n = room->recent_len;
    return items;
}

static void member_free(room_member_t *m)
{
    presence_free(&m->presence);
    free(m->json);
    free(m);
}

/* Drops m's kept encoding: called after every change to a field room_member_json shows. */
static void member_changed(room_member_t *m)
{
    free(m->json);
    m->json = NULL;
}

static void room_free(room_t *room)
{
    rooms_t *r = room->rooms;
    ROOMS_FEATURES_CALL(r, room_freed, r, room);
    /* The entity set is the room's versioned state log too (entset_log_state): rooms.c
     * makes it in room_new and frees it here, after the features freed what is in it. */
    entset_free(&room->ents);
    recent_drop(room);
    free(room->recent);
    for (room_member_t *m = room->members, *next; m; m = next) {
        next = m->next;
        member_free(m);
    }
    json_decref(room->state);
    free(room);
}

void rooms_hold(room_t *room)
{
    room->refs++;
}

void rooms_release(room_t *room)
{
    CH_ASSERT(room->refs > 0);
    if (--room->refs == 0 && room->deleted) room_free(room);
}

static void registry_add(rooms_t *r, room_t *room)
{
    strmap_put(&r->by_id, room->id, room);
    strmap_put(&r->by_code, room->code, room);
}

static room_member_t *member_add(room_t *room, const char *user_id, const char *name,
                                 const char *color, int role, int64_t joined_at, uint64_t now)
{
    room_member_t *m = ch_calloc(1, sizeof(*m));
    m->room = room;
    snprintf(m->user_id, sizeof(m->user_id), "%s", user_id);
    snprintf(m->display_name, sizeof(m->display_name), "%s", name);
    snprintf(m->color, sizeof(m->color), "%s", color);
    m->role = role;
    m->joined_at = joined_at;
    presence_init(&m->presence, now);
    m->next = room->members;
    room->members = m;
    room->seats++;
    return m;
}

static void dirty_remove(rooms_t *r, room_member_t *m)
{
    if (!m->presence_dirty) return;
    for (room_member_t **pp = &r->dirty; *pp; pp = &(*pp)->dirty_next) {
        if (*pp == m) {
            *pp = m->dirty_next;
            break;
        }
    }
    m->presence_dirty = 0;
}

static void member_remove(rooms_t *r, room_t *room, room_member_t *m)
{
    dirty_remove(r, m);
    for (room_member_t **pp = &room->members; *pp; pp = &(*pp)->next) {
        if (*pp == m) {
            *pp = m->next;
            break;
        }
    }
    if (!m->banned) room->seats--;
    member_free(m);
}

room_member_t *room_member(room_t *room, const char *user_id)
{
    for (room_member_t *m = room->members; m; m = m->next)
        if (strcmp(m->user_id, user_id) == 0) return m;
    return NULL;
}

room_t *rooms_get(rooms_t *r, const char *id_or_code)
{
    room_t *room = strmap_get(&r->by_id, id_or_code);
    char code[ROOM_CODE_LEN + 1];
    if (!room && room_code_parse(id_or_code, strlen(id_or_code), code))
        room = strmap_get(&r->by_code, code);
    return room;
}

int rooms_access(rooms_t *r, const room_t *room, const char *user_id, const char *ip,
                 rooms_seek_t seek, uint64_t *retry_after_ms)
{
    if (room) {
        room_member_t *m = room_member((room_t *)room, user_id);
        if (m && !m->banned) return 0;
    }
    uint64_t now = uv_now(r->loop);
    if (!room_lookup_allowed(r->lookup, user_id, ip, now, retry_after_ms))
        return ROOMS_E_RATE_LIMITED;
    if (room && seek == ROOMS_SEEK_ANY) return 0;
    room_lookup_failed(r->lookup, user_id, ip, now);
    return ROOMS_E_NOT_FOUND;
}

/* ---------- storage quotas ---------- */

int rooms_quota_check(const rooms_t *r, const room_t *room, const char *user, int64_t add)
{
    quota_limits_t lim = r->lim.quota;
    if (!user[0]) lim.user_max = 0; /* the server's own writes count for the room only */
    return quota_check(&lim, room->stored_bytes, quota_user_used(&r->users, user), add);
}

void rooms_quota_count(rooms_t *r, room_t *room, const char *user, int64_t delta)
{
    room->stored_bytes = quota_add(room->stored_bytes, delta);
    quota_user_add(&r->users, user, delta);
}

const char *rooms_quota_message(int rc)
{
    return rc == QUOTA_EUSER ? "your storage quota is full; delete something first"
                             : "the room's storage quota is full; delete something first";
}

/* Answers quota_exceeded for a rooms_quota_check result. */
static void over_quota(rooms_done_fn done, void *ud, int rc)
{
    rooms_err_t e = {ROOMS_E_QUOTA, "quota_exceeded", rooms_quota_message(rc), NULL};
    if (done) done(ud, &e, NULL);
}

static uint32_t hosted_by(rooms_t *r, const char *user_id)
{
    uint32_t n = 0;
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&r->by_id, &i, &k, &v);)
        if (strcmp(((room_t *)v)->host_id, user_id) == 0) n++;
    return n;
}

/* ---------- JSON ---------- */

static json_t *mode_of(const room_t *room)
{
    json_t *mode = json_object_get(room->state, "mode");
    return mode ? json_incref(mode) : json_null();
}

json_t *room_json(rooms_t *r, const room_t *room)
{
    uint32_t online = 0;
    for (const room_member_t *m = room->members; m; m = m->next)
        if (m->online) online++;
    char link[512];
    snprintf(link, sizeof(link), "%s/?room=%s", r->lim.public_url, room->code);
    return json_pack("{s:s, s:s, s:s, s:I, s:s, s:b, s:b, s:O, s:o, s:I, s:I, s:I, s:I, s:I,"
                     " s:s}",
                     "id", room->id, "roomCode", room->code, "name", room->name,
                     "maxParticipants", (json_int_t)room->capacity, "hostUserId",
                     room->host_id, "isPublic", room->is_public, "isActive", 1, "state",
                     room->state, "currentMode", mode_of(room), "stateVersion",
                     (json_int_t)room->state_version, "participantCount",
                     (json_int_t)room->seats, "onlineCount", (json_int_t)online, "createdAt",
                     (json_int_t)room->created_at, "lastActivity",
                     (json_int_t)room->last_activity, "joinLink", link);
}

json_t *room_member_json(const room_member_t *m)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:b, s:O, s:I}", "userId", m->user_id,
                     "displayName", m->display_name, "color", m->color, "role",
                     m->role == STORE_ROLE_HOST ? "host" : "member", "online", m->online > 0,
                     "presence", m->presence.state, "joinedAt", (json_int_t)m->joined_at);
}

json_t *room_members_json(const room_t *room)
{
    json_t *a = json_array();
    for (const room_member_t *m = room->members; m; m = m->next)
        if (!m->banned) json_array_append_new(a, room_member_json(m));
    return a;
}

const char *room_member_encoded(room_member_t *m)
{
    if (!m->json) {
        json_t *j = room_member_json(m);
        m->json = json_dumps(j, JSON_COMPACT); /* the flags proto.c encodes with */
        CH_ASSERT(m->json != NULL);
        json_decref(j);
    }
    return m->json;
}

const char **room_members_encoded(room_t *room, size_t *n)
{
    *n = 0;
    for (const room_member_t *m = room->members; m; m = m->next)
        if (!m->banned) (*n)++;
    if (!*n) return NULL;
    const char **items = ch_malloc(*n * sizeof(*items));
    size_t i = 0;
    for (room_member_t *m = room->members; m; m = m->next)
        if (!m->banned) items[i++] = room_member_encoded(m);
    return items;
}

json_t *room_message_json(const store_message_t *m)
{
    json_t *meta = NULL;
    if (m->metadata) meta = json_loads(m->metadata, JSON_ALLOW_NUL, NULL);
    return json_pack("{s:s, s:s, s:I, s:o, s:s, s:s, s:s, s:o, s:I}", "id", m->id, "roomId",
                     m->room_id, "seq", (json_int_t)m->seq, "userId",
                     m->user_id[0] ? json_string(m->user_id) : json_null(), "displayName",
                     m->display_name, "type", m->type, "content", m->content ? m->content : "",
                     "metadata", meta ? meta : json_object(), "createdAt",
                     (json_int_t)m->created_at);
}

/* Sends {"op": event, "room": id, ...fields} (fields stolen) to the room's members
 * except the connection except (BUS_MEMBER_NONE: none); seq is the room's seq or state
 * version the event carries (0: none). */
static void publish_seq(room_t *room, bus_member_t except, const char *event, json_t *fields,
                        int64_t seq)
{
    proto_part_t part = {.obj = fields};
    bus_publish(&room->bus, &(bus_event_t){.room = room->id, .name = event, .parts = &part,
                                           .nparts = 1, .seq = seq, .except = except});
    json_decref(fields);
}

static void publish(room_t *room, bus_member_t except, const char *event, json_t *fields)
{
    publish_seq(room, except, event, fields, 0);
}

/* Sends {"op": event, "room": id, "participant": m} to the room's members except the
 * connection except, with the member's kept encoding. */
static void publish_member(room_t *room, bus_member_t except, const char *event,
                           room_member_t *m)
{
    proto_part_t part = {.key = "participant", .text = room_member_encoded(m)};
    bus_publish(&room->bus, &(bus_event_t){.room = room->id, .name = event, .parts = &part,
                                           .nparts = 1, .except = except});
}

/* ---------- asynchronous operations ---------- */

typedef struct rooms_op_s rooms_op_t;
typedef void (*op_stored_fn)(rooms_op_t *op);

struct rooms_op_s {
    rooms_t *r;
    room_t *room;          /* held while the op is in flight */
    store_req_t req;
    store_rooms_t pl;
    rooms_done_fn done;    /* may be NULL (fire and forget) */
    void *ud;
    op_stored_fn stored;   /* runs after a successful commit */
    json_t *result;        /* handed to done */
    bus_member_t except;   /* the connection the event skips (its sender) */
    rooms_outbox_ev_t *ev; /* a versioned event sent once the store answered */
    int fill_recent;       /* a join's history page: fill the recent-message cache */
    json_t *event;         /* fields of an event published once stored (owned) */
    size_t budget;         /* a history page: bytes of messages at most */
    /* Bytes of a new row counted against the quotas before the commit (so that writes in
     * flight cannot pass a quota together), given back if the commit fails. */
    int64_t charged;
    char charged_user[STORE_SUB_LEN];
};

static rooms_op_t *op_new(rooms_t *r, room_t *room, store_req_type_t type, rooms_done_fn done,
                          void *ud)
{
    rooms_op_t *op = ch_calloc(1, sizeof(*op));
    op->r = r;
    op->room = room;
    if (room) rooms_hold(room);
    op->req.type = type;
    op->req.rooms = &op->pl;
    op->req.data = op;
    op->done = done;
    op->ud = ud;
    return op;
}

/* Records that op's write was counted for user (borrowed; "" = the room only). */
static void op_charged(rooms_op_t *op, const char *user, int64_t bytes)
{
    op->charged = bytes;
    snprintf(op->charged_user, sizeof(op->charged_user), "%s", user);
}

/* The commit failed: what was not stored does not count. */
static void op_uncharge(rooms_op_t *op)
{
    if (!op->charged) return;
    rooms_quota_count(op->r, op->room, op->charged_user, -op->charged);
    if (op->req.type == STORE_ROOM_CREATE) op->room->state_bytes = 0;
    op->charged = 0;
}

static void op_finish(rooms_op_t *op, const rooms_err_t *err)
{
    if (op->done) op->done(op->ud, err, err && err->kind ? NULL : json_incref(op->result));
    json_decref(op->result);
    json_decref(op->event);
    store_rooms_free(&op->pl);
    if (op->room) rooms_release(op->room);
    free(op);
}

static const rooms_err_t ERR_IO = {ROOMS_E_IO, "internal_error", "the database failed", NULL};

static void on_stored(store_req_t *req)
{
    rooms_op_t *op = req->data;
    /* In every outcome: the change is in memory, and later events wait behind it. */
    if (op->ev) rooms_outbox_ready(op->room, op->ev);
    if (req->err != STORE_OK) {
        if (req->err != STORE_ECLOSED)
            log_error(op->r->log, "room store request %d failed: %d", (int)req->type, req->err);
        op_uncharge(op);
        op_finish(op, &ERR_IO);
        return;
    }
    if (op->stored) op->stored(op);
    op_finish(op, NULL);
}

static void op_submit(rooms_op_t *op)
{
    op->req.cb = on_stored;
    store_submit(op->r->store, &op->req);
}

static void fail(rooms_done_fn done, void *ud, rooms_errno_t kind, const char *code,
                 const char *message)
{
    rooms_err_t e = {kind, code, message, NULL};
    if (done) done(ud, &e, NULL);
}

/* A validation_error naming the field. */
static void invalid(rooms_done_fn done, void *ud, const char *field, const char *message)
{
    rooms_err_t e = {ROOMS_E_INVALID, "validation_error", message, field};
    if (done) done(ud, &e, NULL);
}

/* Persists a server message of type system in room (fire and forget) and announces it.
 * It is structured so clients render it themselves: metadata {"event", "userId"?,
 * "displayName"?} (user_id and name NULL for events about no participant), and content
 * is a fixed text that never contains a user's name. */
static void system_event(rooms_t *r, room_t *room, const char *event, const char *user_id,
                         const char *name, const char *text);

/* The same with the metadata built by the caller (takes ownership of meta). */
static void system_message_meta(rooms_t *r, room_t *room, json_t *meta, const char *text);

/* ---------- create ---------- */

static void rng(void *ud, unsigned char *buf, size_t n)
{
    (void)ud;
    randombytes_buf(buf, n);
}

static int code_taken(void *ud, const char *code)
{
    return strmap_get(&((rooms_t *)ud)->by_code, code) != NULL;
}

static void after_create(rooms_op_t *op)
{
    op->result = json_pack("{s:b, s:o}", "success", 1, "room", room_json(op->r, op->room));
}

void rooms_create(rooms_t *r, const auth_claims_t *user, const json_t *body, rooms_done_fn done,
                  void *ud)
{
    if (!json_is_object(body)) {
        fail(done, ud, ROOMS_E_INVALID, "bad_request", "the body must be a JSON object");
        return;
    }
    json_t *jname = json_object_get(body, "name");
    json_t *jcap = json_object_get(body, "maxParticipants");
    json_t *jpub = json_object_get(body, "isPublic");
    json_t *jstate = json_object_get(body, "state");
    if (!json_is_string(jname) ||
        !room_name_valid(json_string_value(jname), json_string_length(jname))) {
        invalid(done, ud, "name", "name must be 1 to 100 characters");
        return;
    }
    json_int_t cap = r->lim.default_capacity;
    if (jcap) {
        if (!json_is_integer(jcap) ||
            !room_capacity_valid(json_integer_value(jcap), r->lim.max_capacity)) {
            char msg[96];
            snprintf(msg, sizeof(msg), "maxParticipants must be an integer from 1 to %u",
                     r->lim.max_capacity);
            invalid(done, ud, "maxParticipants", msg);
            return;
        }
        cap = json_integer_value(jcap);
    }
    if (jpub && !json_is_boolean(jpub)) {
        invalid(done, ud, "isPublic", "isPublic must be a boolean");
        return;
    }
    if (jstate && !json_is_object(jstate)) {
        invalid(done, ud, "state", "state must be a JSON object");
        return;
    }
    if (hosted_by(r, user->sub) >= r->lim.max_hosted) {
        fail(done, ud, ROOMS_E_LIMIT, "room_limit",
             "you host the maximum number of live rooms");
        return;
    }
    room_t *room = room_new(r);
    if (room_code_generate(room->code, rng, code_taken, r, CODE_TRIES) != 0) {
        room_free(room);
        fail(done, ud, ROOMS_E_UNAVAILABLE, "service_unavailable",
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
    char *state_text = json_dumps(room->state, JSON_COMPACT);
    size_t state_len = strlen(state_text);
    if (state_len > r->lim.max_state) {
        free(state_text);
        room_free(room);
        fail(done, ud, ROOMS_E_TOO_LARGE, "payload_too_large", "state is too large");
        return;
    }
    int qrc = rooms_quota_check(r, room, room->host_id, (int64_t)state_len);
    if (qrc != QUOTA_OK) {
        free(state_text);
        room_free(room);
        over_quota(done, ud, qrc);
        return;
    }
    rooms_quota_count(r, room, room->host_id, (int64_t)state_len);
    room->state_bytes = (int64_t)state_len;
    room_member_t *host = member_add(room, user->sub, user->name[0] ? user->name : "host",
                                     user->color[0] ? user->color : "#64748b", STORE_ROLE_HOST,
                                     room->created_at, uv_now(r->loop));
    registry_add(r, room);

    rooms_op_t *op = op_new(r, room, STORE_ROOM_CREATE, done, ud);
    op_charged(op, room->host_id, (int64_t)state_len);
    store_room_t *sr = &op->pl.room;
    memcpy(sr->id, room->id, sizeof(sr->id));
    memcpy(sr->code, room->code, sizeof(sr->code));
    memcpy(sr->name, room->name, sizeof(sr->name));
    memcpy(sr->host_id, room->host_id, sizeof(sr->host_id));
    sr->capacity = room->capacity;
    sr->is_public = room->is_public;
    sr->state = state_text;
    sr->created_at = sr->last_activity = room->created_at;
    store_participant_t *p = &op->pl.part;
    memcpy(p->room_id, room->id, sizeof(p->room_id));
    memcpy(p->user_id, host->user_id, sizeof(p->user_id));
    memcpy(p->display_name, host->display_name, sizeof(p->display_name));
    memcpy(p->color, host->color, sizeof(p->color));
    p->role = STORE_ROLE_HOST;
    p->joined_at = host->joined_at;
    op->stored = after_create;
    op_submit(op);
}

/* ---------- membership ---------- */

static void fill_part(store_participant_t *p, const room_member_t *m)
{
    memcpy(p->room_id, m->room->id, sizeof(p->room_id));
    memcpy(p->user_id, m->user_id, sizeof(p->user_id));
    memcpy(p->display_name, m->display_name, sizeof(p->display_name));
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

static void after_simple(rooms_op_t *op);

/* 1 when a participant of room other than m has a name that clashes with name. */
static int name_taken(const room_t *room, const room_member_t *m, const char *name)
{
    for (const room_member_t *o = room->members; o; o = o->next)
        if (o != m && !o->banned && room_display_names_clash(name, o->display_name)) return 1;
    return 0;
}

/* Starts the seat grace of m when no connection holds its seat (the host's seat is never
 * released). */
static void seat_unconnected(rooms_t *r, room_member_t *m)
{
    if (m->online || m->banned || m->role == STORE_ROLE_HOST)
        m->release_at = 0;
    else
        m->release_at = uv_now(r->loop) + r->lim.seat_grace_ms;
}

/* rooms_join, answering with the room and the member (full) or with success only;
 * connecting: the caller subscribes a connection to the room next. */
static void join(rooms_t *r, room_t *room, const auth_claims_t *user, const char *display_name,
                 int full, int connecting, rooms_done_fn done, void *ud)
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
            invalid(done, ud, "displayName",
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
        fail(done, ud, ROOMS_E_FORBIDDEN, refused,
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
            fail(done, ud, ROOMS_E_CONFLICT, "name_taken",
                 "another participant of this room has that name; join with another "
                 "displayName");
            return;
        }
        name = alt;
    }
    int changed = 0;
    if (!m) {
        m = member_add(room, user->sub, name, user->color[0] ? user->color : "#64748b",
                       STORE_ROLE_MEMBER, clock_unix_ms(), uv_now(r->loop));
        changed = 1;
        system_event(r, room, "joined", m->user_id, m->display_name, "a participant joined");
    } else if (display_name && *display_name && strcmp(m->display_name, display_name) != 0) {
        snprintf(m->display_name, sizeof(m->display_name), "%s", display_name);
        member_changed(m);
        changed = 1;
    }
    /* A WebSocket join subscribes its connection next, which holds the seat; any other
     * join (REST) holds it for the grace only, as a dropped connection does, so a seat
     * nobody connects to is released. */
    if (connecting)
        m->release_at = 0;
    else
        seat_unconnected(r, m);
    if (!changed) { /* nothing to store: answer at once (an op is a 2.5 KB allocation) */
        rooms_hold(room);
        json_t *result = full ? join_result(r, room, m->user_id) : json_pack("{s:b}", "success", 1);
        if (done) done(ud, NULL, result);
        else json_decref(result);
        rooms_release(room);
        return;
    }
    rooms_op_t *op = op_new(r, room, STORE_PARTICIPANT_PUT, done, ud);
    fill_part(&op->pl.part, m);
    op->stored = full ? after_join : after_simple;
    op_submit(op);
}

void rooms_join(rooms_t *r, room_t *room, const auth_claims_t *user, const char *display_name,
                rooms_done_fn done, void *ud)
{
    join(r, room, user, display_name, 1, 0, done, ud);
}

void rooms_join_quiet(rooms_t *r, room_t *room, const auth_claims_t *user,
                      const char *display_name, rooms_done_fn done, void *ud)
{
    join(r, room, user, display_name, 0, 1, done, ud);
}

void rooms_join_abandoned(rooms_t *r, room_t *room, const char *user_id)
{
    room_member_t *m = room_member(room, user_id);
    if (m && !m->release_at) seat_unconnected(r, m);
}

static void after_simple(rooms_op_t *op)
{
    op->result = json_pack("{s:b}", "success", 1);
}

/* Takes every connection of user_id out of room (they get event first when not NULL). */
static void unsubscribe_user(rooms_t *r, room_t *room, const char *user_id, const char *event,
                             json_t *fields)
{
    for (bus_sub_t *s = room->bus.head, *next; s; s = next) {
        next = s->next;
        if (strcmp(s->client->user.sub, user_id) != 0) continue;
        ROOMS_FEATURES_CALL(r, member_left, r, room, s->client);
        if (event) {
            proto_part_t part = {.obj = fields};
            bus_publish(&room->bus, &(bus_event_t){.room = room->id, .name = event,
                                                   .parts = &part, .nparts = fields ? 1 : 0,
                                                   .to = s->client->id});
        }
        bus_unsubscribe(&room->bus, s);
        free(s);
    }
}

void rooms_leave(rooms_t *r, room_t *room, const char *user_id, const char *reason,
                 rooms_done_fn done, void *ud)
{
    room_member_t *m = room_member(room, user_id);
    if (!m || m->banned) {
        fail(done, ud, ROOMS_E_NOT_FOUND, "not_found", "you are not in this room");
        return;
    }
    if (m->role == STORE_ROLE_HOST) {
        fail(done, ud, ROOMS_E_INVALID, "host_cannot_leave",
             "the host deletes the room instead of leaving");
        return;
    }
    char name[STORE_NAME_LEN];
    snprintf(name, sizeof(name), "%s", m->display_name);
    rooms_op_t *op = op_new(r, room, STORE_PARTICIPANT_DELETE, done, ud);
    fill_part(&op->pl.part, m);
    unsubscribe_user(r, room, user_id, NULL, NULL);
    member_remove(r, room, m);
    publish(room, BUS_MEMBER_NONE, "participant_left",
            json_pack("{s:s, s:s}", "userId", user_id, "reason", reason ? reason : "left"));
    system_event(r, room, "left", user_id, name, "a participant left");
    op->stored = after_simple;
    op_submit(op);
}

static int is_host(const room_t *room, const auth_claims_t *by)
{
    return room_may_manage(room->host_id, by->sub);
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
    if (!is_host(room, by)) {
        fail(done, ud, ROOMS_E_FORBIDDEN, "forbidden", "only the host can kick");
        return;
    }
    room_member_t *m = room_member(room, user_id);
    if (!m || (m->banned && !ban)) {
        fail(done, ud, ROOMS_E_NOT_FOUND, "not_found", "no such participant");
        return;
    }
    if (m->role == STORE_ROLE_HOST) {
        fail(done, ud, ROOMS_E_INVALID, "bad_request", "the host cannot kick themselves");
        return;
    }
    if (ban && !m->banned && bans_count(room) >= r->lim.max_bans) {
        fail(done, ud, ROOMS_E_CONFLICT, "ban_limit",
             "this room keeps no more bans: lift one first");
        return;
    }
    char name[STORE_NAME_LEN];
    snprintf(name, sizeof(name), "%s", m->display_name);
    json_t *fields = json_pack("{s:b}", "ban", ban);
    unsubscribe_user(r, room, user_id, "kicked", fields);
    json_decref(fields);
    rooms_op_t *op;
    if (ban) {
        /* A ban keeps the row (so the user cannot come back) but frees the seat; the
         * row's joined_at becomes the time of the ban (rooms_bans_json). */
        if (!m->banned) {
            room->seats--;
            m->joined_at = clock_unix_ms();
        }
        m->banned = 1;
        m->online = 0;
        m->release_at = 0; /* the row must stay: it is the ban */
        member_changed(m);
        dirty_remove(r, m);
        op = op_new(r, room, STORE_PARTICIPANT_PUT, done, ud);
        fill_part(&op->pl.part, m);
    } else {
        op = op_new(r, room, STORE_PARTICIPANT_DELETE, done, ud);
        fill_part(&op->pl.part, m);
        member_remove(r, room, m);
    }
    publish(room, BUS_MEMBER_NONE, "participant_left",
            json_pack("{s:s, s:s}", "userId", user_id, "reason", ban ? "banned" : "kicked"));
    system_event(r, room, ban ? "banned" : "removed", user_id, name,
                 ban ? "a participant was banned by the host"
                     : "a participant was removed by the host");
    op->stored = after_simple;
    op_submit(op);
}

static void drop_room(rooms_t *r, room_t *room, const char *reason)
{
    publish(room, BUS_MEMBER_NONE, "room_deleted", json_pack("{s:s}", "reason", reason));
    ROOMS_FEATURES_CALL(r, room_dropped, r, room);
    for (bus_sub_t *s = room->bus.head, *next; s; s = next) {
        next = s->next;
        bus_unsubscribe(&room->bus, s);
        free(s);
    }
    for (room_member_t *m = room->members; m; m = m->next) dirty_remove(r, m);
    strmap_del(&r->by_id, room->id);
    strmap_del(&r->by_code, room->code);
    room->deleted = 1;
}

/* The room's rows are gone: its authors' quotas get their bytes back. */
static void after_delete(rooms_op_t *op)
{
    for (size_t i = 0; i < op->pl.nusage; i++)
        quota_user_add(&op->r->users, op->pl.usage[i].user_id, -op->pl.usage[i].bytes);
    after_simple(op);
}

void rooms_delete(rooms_t *r, room_t *room, const auth_claims_t *by, rooms_done_fn done,
                  void *ud)
{
    if (by && !is_host(room, by)) {
        fail(done, ud, ROOMS_E_FORBIDDEN, "forbidden", "only the host can delete the room");
        return;
    }
    rooms_op_t *op = op_new(r, room, STORE_ROOM_DELETE, done, ud);
    memcpy(op->pl.room.id, room->id, sizeof(op->pl.room.id));
    drop_room(r, room, by ? "deleted" : "idle");
    op->stored = after_delete;
    op_submit(op);
}

/* ---------- state ---------- */

static void fill_room_update(store_room_t *sr, const room_t *room, char *state_text)
{
    memcpy(sr->id, room->id, sizeof(sr->id));
    memcpy(sr->code, room->code, sizeof(sr->code));
    memcpy(sr->name, room->name, sizeof(sr->name));
    memcpy(sr->host_id, room->host_id, sizeof(sr->host_id));
    sr->capacity = room->capacity;
    sr->is_public = room->is_public;
    sr->state = state_text;
    sr->state_version = room->state_version;
    sr->created_at = room->created_at;
    sr->last_activity = room->last_activity;
}

/* Says in words who changed what: the mode (set or cleared) or else the settings. Borrows
 * old_mode (the mode before the change). */
static void state_message(rooms_t *r, room_t *room, const auth_claims_t *by,
                          const json_t *old_mode)
{
    const room_member_t *m = room_member(room, by->sub);
    json_t *mode = json_object_get(room->state, "mode");
    json_t *meta = json_pack("{s:s, s:s, s:s}", "event", "state", "userId", by->sub,
                             "displayName", m && m->display_name[0] ? m->display_name : "");
    char text[128];
    if (json_equal(mode ? mode : json_null(), (json_t *)old_mode)) {
        json_object_set_new(meta, "change", json_string("settings"));
        snprintf(text, sizeof(text), "the host changed the room settings");
    } else if (json_is_string(mode)) {
        json_object_set_new(meta, "change", json_string("mode"));
        json_object_set(meta, "mode", mode);
        snprintf(text, sizeof(text), "the host set the room mode to %.64s",
                 json_string_value(mode));
    } else if (!mode || json_is_null(mode)) {
        json_object_set_new(meta, "change", json_string("mode_cleared"));
        snprintf(text, sizeof(text), "the host cleared the room mode");
    } else {
        json_object_set_new(meta, "change", json_string("mode"));
        json_object_set(meta, "mode", mode);
        snprintf(text, sizeof(text), "the host changed the room mode");
    }
    system_message_meta(r, room, meta, text);
}

void rooms_patch_state(rooms_t *r, room_t *room, const auth_claims_t *by, const json_t *patch,
                       rooms_done_fn done, void *ud)
{
    if (!is_host(room, by)) {
        fail(done, ud, ROOMS_E_FORBIDDEN, "forbidden",
             "only the host can change the room state");
        return;
    }
    if (!json_is_object(patch)) {
        invalid(done, ud, "patch", "the patch must be a JSON object");
        return;
    }
    json_t *old_mode = mode_of(room);
    json_t *next = json_merge_patch(room->state, patch);
    char *text = next ? json_dumps(next, JSON_COMPACT) : NULL;
    if (!next || !json_is_object(next) || !text || strlen(text) > r->lim.max_state) {
        json_decref(old_mode);
        json_decref(next);
        free(text);
        fail(done, ud, ROOMS_E_TOO_LARGE, "payload_too_large",
             "the room state would be too large");
        return;
    }
    /* The state counts for the host, whoever manages the room. Not given back if the write
     * fails: the state in memory stays, and the next write stores it whole. */
    int64_t grow = (int64_t)strlen(text) - room->state_bytes;
    int qrc = rooms_quota_check(r, room, room->host_id, grow);
    if (qrc != QUOTA_OK) {
        json_decref(next);
        free(text);
        over_quota(done, ud, qrc);
        return;
    }
    rooms_quota_count(r, room, room->host_id, grow);
    room->state_bytes += grow;
    json_decref(room->state);
    room->state = next;
    room->state_version++;
    room->last_activity = clock_unix_ms();
    entset_log_state(&room->ents, &r->ent_lim, room->state_version);
    rooms_op_t *op = op_new(r, room, STORE_ROOM_UPDATE, done, ud);
    fill_room_update(&op->pl.room, room, text);
    /* The event and the answer carry this version's state, whatever follows; the event
     * waits for the commit in the room's versioned outbox (rooms_outbox.c). */
    op->result = json_pack("{s:b, s:O, s:I, s:o}", "success", 1, "state", room->state,
                           "stateVersion", (json_int_t)room->state_version, "currentMode",
                           mode_of(room));
    json_t *ev = json_pack("{s:O, s:I, s:I, s:o}", "state", room->state, "version",
                           (json_int_t)room->state_version, "stateVersion",
                           (json_int_t)room->state_version, "currentMode", mode_of(room));
    op->ev = rooms_outbox_push(room, "state", ev, room->state_version, BUS_MEMBER_NONE, 0);
    op_submit(op);
    state_message(r, room, by, old_mode);
    json_decref(old_mode);
}

/* ---------- the room code ---------- */

static void after_rotate(rooms_op_t *op)
{
    op->result = json_pack("{s:b, s:o}", "success", 1, "room", room_json(op->r, op->room));
}

void rooms_rotate_code(rooms_t *r, room_t *room, const auth_claims_t *by, rooms_done_fn done,
                       void *ud)
{
    if (!is_host(room, by)) {
        fail(done, ud, ROOMS_E_FORBIDDEN, "forbidden",
             "only the host can change the room code");
        return;
    }
    char code[ROOM_CODE_LEN + 1];
    /* The old code is still registered, so the new one differs from it. */
    if (room_code_generate(code, rng, code_taken, r, CODE_TRIES) != 0) {
        fail(done, ud, ROOMS_E_UNAVAILABLE, "service_unavailable",
             "no free room code; try again");
        return;
    }
    strmap_del(&r->by_code, room->code); /* the map borrows the key: out before it changes */
    snprintf(room->code, sizeof(room->code), "%s", code);
    strmap_put(&r->by_code, room->code, room);
    room->last_activity = clock_unix_ms();
    char link[512];
    snprintf(link, sizeof(link), "%s/?room=%s", r->lim.public_url, room->code);
    publish(room, BUS_MEMBER_NONE, "room_code",
            json_pack("{s:s, s:s}", "roomCode", room->code, "joinLink", link));
    rooms_op_t *op = op_new(r, room, STORE_ROOM_UPDATE, done, ud);
    fill_room_update(&op->pl.room, room, json_dumps(room->state, JSON_COMPACT));
    op->stored = after_rotate;
    op_submit(op);
}

/* ---------- settings and bans ---------- */

/* The settings a host may change after creation (rooms_update's body). */
static const char *const SETTINGS_KEYS[] = {"name", "maxParticipants", "isPublic"};

/* Says who changed which settings (only those that changed), structured like every
 * system message: metadata {"event": "settings", "userId", "displayName", and the new
 * value of each setting that changed}; content names no user. */
static void settings_message(rooms_t *r, room_t *room, const auth_claims_t *by,
                             const store_room_t *before)
{
    const room_member_t *m = room_member(room, by->sub);
    json_t *meta = json_pack("{s:s, s:s, s:s}", "event", "settings", "userId", by->sub,
                             "displayName", m && m->display_name[0] ? m->display_name : "");
    char parts[3][256];
    size_t n = 0;
    if (strcmp(before->name, room->name) != 0) {
        json_object_set_new(meta, "name", json_string(room->name));
        snprintf(parts[n++], sizeof(parts[0]), "renamed the room to \"%.200s\"", room->name);
    }
    if (before->capacity != room->capacity) {
        json_object_set_new(meta, "maxParticipants", json_integer(room->capacity));
        snprintf(parts[n++], sizeof(parts[0]), "set the capacity to %u", room->capacity);
    }
    if (before->is_public != room->is_public) {
        json_object_set_new(meta, "isPublic", json_boolean(room->is_public));
        snprintf(parts[n++], sizeof(parts[0]), "made the room %s",
                 room->is_public ? "public" : "private");
    }
    char text[900];
    if (n == 0) {
        json_decref(meta);
        return;
    }
    if (n == 1)
        snprintf(text, sizeof(text), "the host %s", parts[0]);
    else if (n == 2)
        snprintf(text, sizeof(text), "the host %s and %s", parts[0], parts[1]);
    else
        snprintf(text, sizeof(text), "the host %s, %s and %s", parts[0], parts[1], parts[2]);
    system_message_meta(r, room, meta, text);
}

static void after_update(rooms_op_t *op)
{
    /* The event carries this change's values, whatever changed since. */
    if (!op->room->deleted) publish(op->room, BUS_MEMBER_NONE, "room_updated", op->event);
    else json_decref(op->event);
    op->event = NULL;
    op->result = json_pack("{s:b, s:o}", "success", 1, "room", room_json(op->r, op->room));
}

void rooms_update(rooms_t *r, room_t *room, const auth_claims_t *by, const json_t *body,
                  rooms_done_fn done, void *ud)
{
    if (!is_host(room, by)) {
        fail(done, ud, ROOMS_E_FORBIDDEN, "forbidden",
             "only the host can change the room settings");
        return;
    }
    if (!json_is_object(body)) {
        fail(done, ud, ROOMS_E_INVALID, "bad_request", "the body must be a JSON object");
        return;
    }
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)body, key, val) {
        size_t i = 0;
        while (i < CH_ARRAY_LEN(SETTINGS_KEYS) && strcmp(key, SETTINGS_KEYS[i]) != 0) i++;
        if (i == CH_ARRAY_LEN(SETTINGS_KEYS)) {
            rooms_err_t e = {ROOMS_E_INVALID, "validation_error",
                             "only name, maxParticipants and isPublic can be changed", key};
            if (done) done(ud, &e, NULL);
            return;
        }
    }
    if (json_object_size(body) == 0) {
        invalid(done, ud, "name", "send at least one of name, maxParticipants, isPublic");
        return;
    }
    json_t *jname = json_object_get(body, "name");
    json_t *jcap = json_object_get(body, "maxParticipants");
    json_t *jpub = json_object_get(body, "isPublic");
    if (jname && (!json_is_string(jname) ||
                  !room_name_valid(json_string_value(jname), json_string_length(jname)))) {
        invalid(done, ud, "name", "name must be 1 to 100 characters");
        return;
    }
    if (jcap) {
        const char *refused =
            json_is_integer(jcap)
                ? room_capacity_check(json_integer_value(jcap), r->lim.max_capacity, room->seats)
                : "validation_error";
        if (refused && strcmp(refused, "capacity_below_participants") == 0) {
            char msg[128];
            snprintf(msg, sizeof(msg),
                     "%u participants hold a seat: maxParticipants cannot be lower",
                     room->seats);
            rooms_err_t e = {ROOMS_E_CONFLICT, refused, msg, "maxParticipants"};
            if (done) done(ud, &e, NULL);
            return;
        }
        if (refused) {
            char msg[96];
            snprintf(msg, sizeof(msg), "maxParticipants must be an integer from 1 to %u",
                     r->lim.max_capacity);
            invalid(done, ud, "maxParticipants", msg);
            return;
        }
    }
    if (jpub && !json_is_boolean(jpub)) {
        invalid(done, ud, "isPublic", "isPublic must be a boolean");
        return;
    }
    store_room_t before;
    fill_room_update(&before, room, NULL);
    if (jname) snprintf(room->name, sizeof(room->name), "%s", json_string_value(jname));
    if (jcap) room->capacity = (uint32_t)json_integer_value(jcap);
    if (jpub) room->is_public = json_is_true(jpub);
    room->last_activity = clock_unix_ms();
    rooms_op_t *op = op_new(r, room, STORE_ROOM_UPDATE, done, ud);
    fill_room_update(&op->pl.room, room, json_dumps(room->state, JSON_COMPACT));
    op->event = json_pack("{s:s, s:I, s:b, s:s}", "name", room->name, "maxParticipants",
                          (json_int_t)room->capacity, "isPublic", room->is_public, "by",
                          by->sub);
    op->stored = after_update;
    op_submit(op);
    settings_message(r, room, by, &before);
}

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
    if (!is_host(room, by)) {
        fail(done, ud, ROOMS_E_FORBIDDEN, "forbidden", "only the host can lift a ban");
        return;
    }
    room_member_t *m = room_member(room, user_id);
    if (!m || !m->banned) {
        fail(done, ud, ROOMS_E_NOT_FOUND, "not_found",
             "this user is not banned from this room");
        return;
    }
    char name[STORE_NAME_LEN], uid[sizeof(m->user_id)];
    snprintf(name, sizeof(name), "%s", m->display_name);
    snprintf(uid, sizeof(uid), "%s", m->user_id);
    /* Deleting the row lifts the ban: the user joins again as a new member. */
    rooms_op_t *op = op_new(r, room, STORE_PARTICIPANT_DELETE, done, ud);
    fill_part(&op->pl.part, m);
    member_remove(r, room, m);
    system_event(r, room, "unbanned", uid, name, "a participant may join again: the host lifted the ban");
    op->stored = after_simple;
    op_submit(op);
}

/* ---------- messages ---------- */

static void after_post(rooms_op_t *op)
{
    if (op->pl.msg.seq > op->room->committed_seq) op->room->committed_seq = op->pl.msg.seq;
    json_t *m = room_message_json(&op->pl.msg);
    if (op->room->recent_ok) recent_add(op->r, op->room, json_dumps(m, JSON_COMPACT), op->pl.msg.seq);
    if (!op->room->deleted)
        publish_seq(op->room, op->except, "message", json_pack("{s:O}", "message", m),
                    op->pl.msg.seq);
    op->result = json_pack("{s:b, s:o}", "success", 1, "message", m);
}

/* Builds and submits a message insert; content is copied, meta (the metadata's compact
 * JSON, or NULL) is taken over. Every message passes here, so here the quotas are checked:
 * a message over them is refused with quota_exceeded (a server message, whose done is
 * NULL, is then not stored). */
static void post(rooms_t *r, room_t *room, const char *user_id, const char *name,
                 const char *type, const char *content, char *meta,
                 const proto_client_t *except, rooms_done_fn done, void *ud)
{
    size_t clen = strlen(content);
    int64_t bytes = STORE_ROW_BYTES + (int64_t)clen + (meta ? (int64_t)strlen(meta) : 0);
    int qrc = rooms_quota_check(r, room, user_id, bytes);
    if (qrc != QUOTA_OK) {
        free(meta);
        if (!done)
            log_debug(r->log, "room %s: over its quota; a server message was dropped",
                      room->id);
        over_quota(done, ud, qrc);
        return;
    }
    rooms_quota_count(r, room, user_id, bytes);
    rooms_op_t *op = op_new(r, room, STORE_MESSAGE_INSERT, done, ud);
    op_charged(op, user_id, bytes);
    store_message_t *m = &op->pl.msg;
    auth_random_uuid(m->id);
    memcpy(m->room_id, room->id, sizeof(m->room_id));
    m->seq = ++room->last_seq;
    snprintf(m->user_id, sizeof(m->user_id), "%s", user_id);
    snprintf(m->display_name, sizeof(m->display_name), "%s", name);
    snprintf(m->type, sizeof(m->type), "%s", type);
    m->content = ch_strndup(content, clen);
    m->metadata = meta;
    m->created_at = room->last_activity = clock_unix_ms();
    op->except = except ? except->id : BUS_MEMBER_NONE;
    op->stored = after_post;
    op_submit(op);
}

static void system_event(rooms_t *r, room_t *room, const char *event, const char *user_id,
                         const char *name, const char *text)
{
    json_t *meta = json_pack("{s:s}", "event", event);
    if (user_id) json_object_set_new(meta, "userId", json_string(user_id));
    if (name) json_object_set_new(meta, "displayName", json_string(name));
    system_message_meta(r, room, meta, text);
}

static void system_message_meta(rooms_t *r, room_t *room, json_t *meta, const char *text)
{
    post(r, room, "", "system", "system", text, json_dumps(meta, JSON_COMPACT), NULL, NULL,
         NULL);
    json_decref(meta);
}

void rooms_post(rooms_t *r, room_t *room, const auth_claims_t *by, const char *type,
                const json_t *content, const json_t *metadata, const proto_client_t *except,
                rooms_done_fn done, void *ud)
{
    room_member_t *m = room_member(room, by->sub);
    if (!m || m->banned) {
        fail(done, ud, ROOMS_E_FORBIDDEN, "forbidden", "only participants can post");
        return;
    }
    if (!room_message_type_valid(type, is_host(room, by))) {
        invalid(done, ud, "type",
             "type must be user_text, user_voice, ai_response, system (host) or x-...");
        return;
    }
    if (!json_is_string(content)) {
        invalid(done, ud, "content", "content must be a string");
        return;
    }
    if (memchr(json_string_value(content), 0, json_string_length(content))) {
        invalid(done, ud, "content", "content must not contain U+0000");
        return;
    }
    /* Sizes are of the JSON encoding, what the messages take in every reply. */
    if (utf8_json_len(json_string_value(content), json_string_length(content)) >
        r->lim.max_message) {
        fail(done, ud, ROOMS_E_TOO_LARGE, "payload_too_large", "content is too long");
        return;
    }
    if (metadata && !json_is_object(metadata)) {
        invalid(done, ud, "metadata", "metadata must be a JSON object");
        return;
    }
    /* Encoded once: measured here, stored as it is. */
    char *meta = metadata ? json_dumps(metadata, JSON_COMPACT) : NULL;
    if (metadata && (!meta || strlen(meta) > r->lim.max_metadata)) {
        free(meta);
        fail(done, ud, ROOMS_E_TOO_LARGE, "payload_too_large", "metadata is too large");
        return;
    }
    post(r, room, by->sub, m->display_name, type, json_string_value(content), meta, except,
         done, ud);
}

size_t room_message_encoded_len(const store_message_t *m)
{
    /* The keys, punctuation, numbers and null come to under 160 bytes. */
    return 160 + strlen(m->id) + strlen(m->room_id) + strlen(m->user_id) +
           utf8_json_len(m->display_name, strlen(m->display_name)) + strlen(m->type) +
           (m->content ? utf8_json_len(m->content, strlen(m->content)) : 0) +
           (m->metadata ? strlen(m->metadata) : 2);
}

size_t rooms_fit(const size_t *lens, size_t n, size_t budget, int newest)
{
    size_t used = 0, k = 0;
    for (; k < n; k++) {
        size_t len = lens[newest ? n - 1 - k : k];
        if (k > 0 && len > budget - used) break;
        used += len < budget - used ? len : budget - used;
    }
    return k;
}

static void after_history(rooms_op_t *op)
{
    if (op->fill_recent) recent_fill(op->r, op->room, op->pl.msgs, op->pl.nmsgs);
    /* Byte-bounded: the newest messages that fit (the oldest for an "after" page). */
    size_t n = op->pl.nmsgs;
    size_t *lens = ch_malloc((n ? n : 1) * sizeof(*lens));
    for (size_t i = 0; i < n; i++)
        lens[i] = room_message_encoded_len(&op->pl.msgs[i]);
    int forward = op->pl.after >= 0;
    size_t k = rooms_fit(lens, n, op->budget, !forward);
    free(lens);
    size_t first = forward ? 0 : n - k;
    json_t *a = json_array();
    for (size_t i = first; i < first + k; i++)
        json_array_append_new(a, room_message_json(&op->pl.msgs[i]));
    op->result = json_pack("{s:b, s:o}", "success", 1, "messages", a);
    if (k < n) json_object_set_new(op->result, "more", json_true());
}

/* A page of room's history, at most budget bytes of messages (at least one); fill_recent:
 * the newest page, which also fills the cache. */
static void history(rooms_t *r, room_t *room, int64_t before, int64_t after, uint32_t limit,
                    int fill_recent, size_t budget, rooms_done_fn done, void *ud)
{
    rooms_op_t *op = op_new(r, room, STORE_MESSAGES_PAGE, done, ud);
    op->budget = budget;
    memcpy(op->pl.room.id, room->id, sizeof(op->pl.room.id));
    op->pl.before = before;
    op->pl.after = after;
    op->pl.limit = limit;
    op->fill_recent = fill_recent;
    op->stored = after_history;
    op_submit(op);
}

void rooms_history(rooms_t *r, room_t *room, int64_t before, int64_t after, uint32_t limit,
                   rooms_done_fn done, void *ud)
{
    history(r, room, before, after, limit, 0, r->lim.max_reply, done, ud);
}

void rooms_join_history(rooms_t *r, room_t *room, rooms_done_fn done, void *ud)
{
    history(r, room, -1, -1, r->lim.join_history, 1, ROOMS_JOIN_MESSAGES(r), done, ud);
}

/* ---------- realtime ---------- */

void rooms_subscribe(rooms_t *r, room_t *room, proto_client_t *c)
{
    room_member_t *m = room_member(room, c->user.sub);
    CH_ASSERT(m != NULL);
    if (bus_find(c->subs, room)) return;
    bus_sub_t *s = ch_calloc(1, sizeof(*s));
    s->client = c;
    s->room = room;
    bus_subscribe(&room->bus, s, &c->subs);
    if (m->online++ == 0) { /* online and presence change; more connections change nothing */
        m->release_at = 0;
        presence_free(&m->presence);
        presence_init(&m->presence, uv_now(r->loop));
        member_changed(m);
        publish_member(room, c->id, "participant_joined", m);
    }
}

/* Marks the member behind sub offline when it was their last connection. */
static void went_away(rooms_t *r, room_t *room, const char *user_id, const char *reason)
{
    room_member_t *m = room_member(room, user_id);
    if (!m || m->online == 0) return;
    if (--m->online > 0) return;
    member_changed(m);
    dirty_remove(r, m);
    if (m->role != STORE_ROLE_HOST) m->release_at = uv_now(r->loop) + r->lim.seat_grace_ms;
    publish(room, BUS_MEMBER_NONE, "participant_left",
            json_pack("{s:s, s:s}", "userId", user_id, "reason", reason));
}

void rooms_client_gone(rooms_t *r, proto_client_t *c)
{
    ROOMS_FEATURES_CALL(r, client_gone, r, c);
    while (c->subs) {
        bus_sub_t *s = c->subs;
        room_t *room = s->room;
        bus_unsubscribe(&room->bus, s);
        free(s);
        went_away(r, room, c->user.sub, "disconnected");
    }
}

int rooms_broadcast(rooms_t *r, room_t *room, proto_client_t *from, const char *event,
                    const json_t *data)
{
    char *text = json_dumps(data ? data : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
    size_t n = text ? strlen(text) : 0;
    free(text);
    if (n > r->lim.max_broadcast) return -1;
    publish(room, from->id, "broadcast",
            json_pack("{s:s, s:s, s:O}", "event", event, "from", from->user.sub, "data",
                      data ? data : json_null()));
    return 0;
}

/* Sends a presence change to the room's other users (not to the member's own
 * connections: they know). */
static void presence_emit(room_t *room, room_member_t *m, json_t *change)
{
    json_t *fields = json_pack("{s:s, s:o}", "userId", m->user_id, "state", change);
    proto_part_t part = {.obj = fields};
    bus_publish(&room->bus, &(bus_event_t){.room = room->id, .name = "presence", .parts = &part,
                                           .nparts = 1, .except_user = m->user_id});
    json_decref(fields);
}

static void on_presence_timer(uv_timer_t *t);

/* A member stays on the fast presence timer while a change is held back or typing is on
 * (so "typing": false goes out on time); idle is looked at by the 1 s tick. */
static int presence_watched(const room_member_t *m)
{
    return m->online && (m->presence.pending || m->presence.typing_until);
}

static void schedule_presence(rooms_t *r, room_member_t *m)
{
    if (!m->presence_dirty) {
        m->presence_dirty = 1;
        m->dirty_next = r->dirty;
        r->dirty = m;
    }
    if (!r->presence_timer_on) {
        r->presence_timer_on = 1;
        uint64_t gap = r->lim.presence.max_rate ? 1000 / r->lim.presence.max_rate : 50;
        uv_timer_start(&r->presence_timer, on_presence_timer, gap ? gap : 1, gap ? gap : 1);
    }
}

static void on_presence_timer(uv_timer_t *t)
{
    rooms_t *r = t->data;
    uint64_t now = uv_now(r->loop);
    room_member_t *list = r->dirty;
    r->dirty = NULL;
    while (list) {
        room_member_t *m = list;
        list = m->dirty_next;
        m->presence_dirty = 0;
        json_t *change = presence_tick(&m->presence, now, &r->lim.presence);
        member_changed(m); /* typing or idle may have changed the state, sent or not */
        if (change) presence_emit(m->room, m, change);
        if (presence_watched(m)) schedule_presence(r, m);
    }
    if (!r->dirty) {
        uv_timer_stop(&r->presence_timer);
        r->presence_timer_on = 0;
    }
}

int rooms_presence(rooms_t *r, room_t *room, proto_client_t *from, const json_t *patch)
{
    room_member_t *m = room_member(room, from->user.sub);
    if (!m) return -1;
    json_t *emit = NULL;
    if (presence_update(&m->presence, patch, uv_now(r->loop), &r->lim.presence, &emit) != 0)
        return -1;
    member_changed(m); /* the state changed, whether the change goes out now or later */
    if (emit) presence_emit(room, m, emit);
    if (presence_watched(m)) schedule_presence(r, m);
    return 0;
}

/* Every second: idle and typing changes of online members, and seats of dropped members
 * whose grace ran out. */
static void on_tick(uv_timer_t *t)
{
    rooms_t *r = t->data;
    uint64_t now = uv_now(r->loop);
    if (now - r->lookup_swept_ms >= ROOMS_LOOKUP_SWEEP_MS) {
        room_lookup_sweep(r->lookup, now);
        r->lookup_swept_ms = now;
    }
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&r->by_id, &i, &k, &v);) {
        room_t *room = v;
        ROOMS_FEATURES_CALL(r, tick, r, room, now);
        /* Recent messages are kept for rooms people are in (and were a moment ago). */
        if (!room->bus.count && room->recent_ok) recent_drop(room);
        for (room_member_t *m = room->members, *next; m; m = next) {
            next = m->next;
            if (m->online && !m->presence_dirty) {
                uint64_t due = presence_next_due(&m->presence, &r->lim.presence);
                if (due && due <= now) {
                    json_t *change = presence_tick(&m->presence, now, &r->lim.presence);
                    member_changed(m);
                    if (change) presence_emit(room, m, change);
                }
                if (presence_watched(m)) schedule_presence(r, m);
            } else if (!m->online && !m->banned && m->release_at && now >= m->release_at) {
                rooms_op_t *op = op_new(r, room, STORE_PARTICIPANT_DELETE, NULL, NULL);
                fill_part(&op->pl.part, m);
                op_submit(op);
                publish(room, BUS_MEMBER_NONE, "participant_removed",
                        json_pack("{s:s, s:s}", "userId", m->user_id, "reason", "timeout"));
                member_remove(r, room, m);
            }
        }
    }
}

static void on_sweep(uv_timer_t *t)
{
    rooms_t *r = t->data;
    int64_t cutoff = clock_unix_ms() - (int64_t)r->lim.idle_room_ms;
    room_t **doomed = NULL;
    size_t n = 0;
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&r->by_id, &i, &k, &v);) {
        room_t *room = v;
        if (room->last_activity < cutoff && room->bus.count == 0) {
            doomed = ch_realloc(doomed, (n + 1) * sizeof(*doomed));
            doomed[n++] = room;
        }
    }
    for (size_t i = 0; i < n; i++) {
        log_info(r->log, "deleting room %s (%s): idle", doomed[i]->code, doomed[i]->id);
        rooms_delete(r, doomed[i], NULL, NULL, NULL);
    }
    free(doomed);
}

/* ---------- retention ---------- */

/* Rows deleted per store request: one transaction holds the store's worker (and every
 * write queued behind it) for about a millisecond per 100 rows; 1000 keeps that short,
 * and the sweep goes on with the next request until every room was swept. */
#define RETENTION_BATCH 1000

static void retention_submit(rooms_t *r, const char *cursor);

/* A batch of the sweep committed: the rooms and authors get their bytes back. */
static void after_retention(rooms_op_t *op)
{
    rooms_t *r = op->r;
    int64_t freed = 0;
    for (size_t i = 0; i < op->pl.nusage; i++) {
        const store_usage_t *u = &op->pl.usage[i];
        freed += u->bytes;
        room_t *room = strmap_get(&r->by_id, u->room_id);
        if (room) {
            room->stored_bytes = quota_add(room->stored_bytes, -u->bytes);
            recent_drop(room); /* it may show deleted messages: the next join reads them */
        }
        quota_user_add(&r->users, u->user_id, -u->bytes);
    }
    if (op->pl.nusage)
        log_info(r->log, "retention: deleted rows of %lld bytes%s", (long long)freed,
                 op->pl.ret.more ? "; more to go" : "");
    /* Shutting down (rooms_close closed the timer): the next sweep finishes the work. */
    if (op->pl.ret.more && !uv_is_closing((uv_handle_t *)&r->retention_timer))
        retention_submit(r, op->pl.ret.cursor);
    else
        r->retention_busy = 0;
}

static void on_retention_failed(void *ud, const rooms_err_t *err, json_t *result)
{
    rooms_t *r = ud;
    (void)result;
    if (err && err->kind) r->retention_busy = 0; /* logged by on_stored; next tick retries */
}

/* Submits one batch of the sweep, from the room cursor ("" = the first). */
static void retention_submit(rooms_t *r, const char *cursor)
{
    rooms_op_t *op = op_new(r, NULL, STORE_RETENTION_SWEEP, on_retention_failed, r);
    store_retention_t *ret = &op->pl.ret;
    if (r->lim.msg_retention_ms)
        ret->msg_before = clock_unix_ms() - (int64_t)r->lim.msg_retention_ms;
    ret->msg_keep = (int64_t)r->lim.msg_keep;
    ret->doc_keep = (int64_t)r->lim.doc_keep;
    ret->batch = RETENTION_BATCH;
    snprintf(ret->cursor, sizeof(ret->cursor), "%s", cursor);
    op->stored = after_retention;
    r->retention_busy = 1;
    op_submit(op);
}

static void on_retention_timer(uv_timer_t *t)
{
    rooms_t *r = t->data;
    if (!r->retention_busy) retention_submit(r, "");
}

/* ---------- lifecycle ---------- */

typedef struct {
    rooms_t *r;
    int done;
    int err;
} load_t;

static void on_loaded(store_req_t *req)
{
    load_t *l = req->data;
    rooms_t *r = l->r;
    l->done = 1;
    l->err = req->err;
    if (req->err != STORE_OK) return;
    store_rooms_t *pl = req->rooms;
    uint64_t now = uv_now(r->loop);
    for (size_t i = 0; i < pl->nrooms; i++) {
        store_room_t *sr = &pl->rooms[i];
        room_t *room = room_new(r);
        memcpy(room->id, sr->id, sizeof(room->id));
        memcpy(room->code, sr->code, sizeof(room->code));
        memcpy(room->name, sr->name, sizeof(room->name));
        memcpy(room->host_id, sr->host_id, sizeof(room->host_id));
        room->capacity = sr->capacity;
        room->is_public = sr->is_public;
        json_t *st = sr->state ? json_loads(sr->state, JSON_ALLOW_NUL, NULL) : NULL;
        if (json_is_object(st)) {
            json_decref(room->state);
            room->state = st;
        } else {
            json_decref(st);
        }
        room->state_bytes = sr->state ? (int64_t)strlen(sr->state) : 0;
        room->state_version = room->ents.base = sr->state_version;
        room->last_seq = room->committed_seq = sr->last_seq;
        room->created_at = sr->created_at;
        room->last_activity = sr->last_activity;
        registry_add(r, room);
    }
    for (size_t i = 0; i < pl->nparts; i++) {
        store_participant_t *p = &pl->parts[i];
        room_t *room = strmap_get(&r->by_id, p->room_id);
        if (!room) continue;
        room_member_t *m = member_add(room, p->user_id, p->display_name, p->color, p->role,
                                      p->joined_at, now);
        if (p->banned) {
            m->banned = 1;
            room->seats--;
        }
        seat_unconnected(r, m); /* nobody is connected after a restart */
    }
    ROOMS_FEATURES_CALL(r, load, r, pl);
    for (size_t i = 0; i < pl->nusage; i++) {
        store_usage_t *u = &pl->usage[i];
        room_t *room = strmap_get(&r->by_id, u->room_id);
        if (room) rooms_quota_count(r, room, u->user_id, u->bytes);
    }
    log_info(r->log, "rooms: %zu loaded, %zu participants, %zu entities", pl->nrooms,
             pl->nparts, pl->nents);
}

int rooms_init(rooms_t *r, uv_loop_t *loop, const chorus_config_t *cfg, log_t *log,
               store_t *store, bus_t *bus, const rooms_feature_use_t *features,
               size_t nfeatures)
{
    memset(r, 0, sizeof(*r));
    r->loop = loop;
    r->log = log;
    r->store = store;
    r->bus = bus;
    CH_ASSERT(nfeatures <= ROOMS_FEATURES_MAX);
    for (size_t i = 0; i < nfeatures; i++)
        r->features[i] = features[i];
    r->nfeatures = nfeatures;
    r->lim = (rooms_limits_t){
        .max_capacity = (uint32_t)cfg->room_max_capacity,
        .default_capacity =
            10 <= cfg->room_max_capacity ? 10 : (uint32_t)cfg->room_max_capacity,
        .max_hosted = (uint32_t)cfg->room_max_hosted,
        .max_bans = (uint32_t)cfg->room_max_bans,
        .join_history = (uint32_t)cfg->room_join_history,
        .max_message = (size_t)cfg->room_max_message,
        .max_metadata = (size_t)cfg->room_max_metadata,
        .max_reply = (size_t)config_reply_budget(cfg),
        .max_broadcast = (size_t)cfg->room_max_broadcast,
        .max_state = (size_t)cfg->room_max_state,
        .seat_grace_ms = cfg->room_seat_grace,
        .idle_room_ms = cfg->room_idle,
        .sweep_ms = cfg->room_sweep,
        .max_joined = (uint32_t)cfg->ws_max_rooms,
        .quota = {.room_max = cfg->room_quota, .user_max = cfg->user_quota},
        .msg_retention_ms = cfg->message_retention,
        .msg_keep = cfg->message_retention_count,
        .doc_keep = cfg->doc_log_retention,
        .retention_ms = cfg->retention_sweep,
        .presence = {.max_rate = (uint32_t)cfg->presence_rate,
                     .idle_ms = cfg->presence_idle,
                     .typing_ms = cfg->presence_typing,
                     .max_bytes = (size_t)cfg->presence_max},
        .public_url = cfg->public_url,
    };
    r->lookup = room_lookup_new(
        &(rl_rule_t){(uint32_t)cfg->rate_room_miss_user.limit,
                     cfg->rate_room_miss_user.window_ms},
        &(rl_rule_t){(uint32_t)cfg->rate_room_miss_ip.limit, cfg->rate_room_miss_ip.window_ms},
        ROOMS_LOOKUP_KEYS);
    strmap_init(&r->by_id, random_seed());
    strmap_init(&r->by_code, random_seed());
    quota_users_init(&r->users, random_seed());

    store_rooms_t pl;
    memset(&pl, 0, sizeof(pl));
    load_t l = {r, 0, 0};
    store_req_t req;
    memset(&req, 0, sizeof(req));
    req.type = STORE_ROOMS_LOAD;
    req.rooms = &pl;
    req.cb = on_loaded;
    req.data = &l;
    store_submit(store, &req);
    while (!l.done) uv_run(loop, UV_RUN_ONCE);
    store_rooms_free(&pl);
    if (l.err != STORE_OK) {
        log_error(log, "cannot load the rooms from the database");
        rooms_free(r);
        return -1;
    }
    uv_timer_init(loop, &r->presence_timer);
    uv_timer_init(loop, &r->tick_timer);
    uv_timer_init(loop, &r->sweep_timer);
    uv_timer_init(loop, &r->retention_timer);
    r->presence_timer.data = r->tick_timer.data = r->sweep_timer.data = r;
    r->retention_timer.data = r;
    ROOMS_FEATURES_CALL(r, start, r, cfg);
    if (r->lim.msg_retention_ms || r->lim.msg_keep || r->lim.doc_keep) {
        uv_timer_start(&r->retention_timer, on_retention_timer, r->lim.retention_ms,
                       r->lim.retention_ms);
        uv_unref((uv_handle_t *)&r->retention_timer);
    }
    uv_timer_start(&r->tick_timer, on_tick, ROOMS_TICK_MS, ROOMS_TICK_MS);
    uv_timer_start(&r->sweep_timer, on_sweep, r->lim.sweep_ms, r->lim.sweep_ms);
    uv_unref((uv_handle_t *)&r->tick_timer);
    uv_unref((uv_handle_t *)&r->sweep_timer);
    return 0;
}

void rooms_close(rooms_t *r)
{
    ROOMS_FEATURES_CALL(r, close, r);
    uv_close((uv_handle_t *)&r->presence_timer, NULL);
    uv_close((uv_handle_t *)&r->tick_timer, NULL);
    uv_close((uv_handle_t *)&r->sweep_timer, NULL);
    uv_close((uv_handle_t *)&r->retention_timer, NULL);
}

void rooms_free(rooms_t *r)
{
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&r->by_id, &i, &k, &v);) {
        room_t *room = v;
        CH_ASSERT(room->bus.count == 0 && room->refs == 0);
        room_free(room);
    }
    strmap_free(&r->by_id);
    strmap_free(&r->by_code);
    room_lookup_free(r->lookup);
    r->lookup = NULL;
    quota_users_free(&r->users);
}
