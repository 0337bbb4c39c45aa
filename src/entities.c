/* entities.c: the entity ops over WebSocket, their persistence and the ordered delivery
 * of a room's versioned events (see entities.h). The rules are entity_set.c. */
#include "entities.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_random.h"
#include "clock.h"
#include "log.h"
#include "mem.h"
#include "proto_rooms.h"
#include "room_rules.h"
#include "rooms.h"

#define LOCK_TTL_DEFAULT_MS 30000

entity_limits_t entities_limits(const chorus_config_t *cfg)
{
    entity_limits_t lim = ENTITY_LIMITS_DEFAULT;
    lim.max_count = (uint32_t)cfg->entity_max_count;
    lim.max_bytes = (size_t)cfg->entity_max_bytes;
    lim.max_patch = (size_t)cfg->entity_max_patch;
    lim.log_window = (size_t)cfg->entity_log_window;
    lim.lock_max_ttl = cfg->entity_lock_max_ttl;
    lim.lock_max_hold = cfg->entity_lock_max_hold;
    lim.transient_rate = (uint32_t)cfg->entity_transient_rate;
    return lim;
}

void entities_load_row(rooms_t *r, const store_entity_t *row)
{
    room_t *room = strmap_get(&r->by_id, row->room_id);
    if (!room) return;
    entity_t *e = entset_insert_loaded(&room->ents, row);
    if (e) e->stored_bytes = STORE_ROW_BYTES + (int64_t)strlen(row->data ? row->data : "{}");
    if (e) e->room = room;
    else log_warn(r->log, "entities: skipped the unreadable entity %.64s of room %s", row->id, room->id);
}

/* ---------- the outbox ---------- */

struct ent_event_s {
    ent_event_t *next;
    const char *name;             /* static */
    json_t *fields;               /* owned; immutable values */
    int64_t version;
    bus_member_t except;
    int ready;
};

/* Publishes every ready event at the head of room's outbox. */
static void outbox_flush(room_t *room)
{
    while (room->out_head && room->out_head->ready) {
        ent_event_t *ev = room->out_head;
        room->out_head = ev->next;
        if (!room->out_head) room->out_tail = NULL;
        if (!room->deleted) {
            proto_part_t part = {.obj = ev->fields};
            bus_publish(&room->bus, &(bus_event_t){.room = room->id, .name = ev->name,
                                                   .parts = &part, .nparts = 1,
                                                   .seq = ev->version, .except = ev->except});
        }
        json_decref(ev->fields);
        free(ev);
    }
}

ent_event_t *entities_event_push(room_t *room, const char *name, json_t *fields,
                                 int64_t version, bus_member_t except, int ready)
{
    ent_event_t *ev = ch_calloc(1, sizeof(*ev));
    ev->name = name;
    ev->fields = fields;
    ev->version = version;
    ev->except = except;
    ev->ready = ready;
    if (room->out_tail) room->out_tail->next = ev;
    else room->out_head = ev;
    room->out_tail = ev;
    outbox_flush(room);
    return ready ? NULL : ev;
}

void entities_event_ready(room_t *room, ent_event_t *ev)
{
    if (!ev) return;
    ev->ready = 1;
    outbox_flush(room);
}

/* ---------- events ---------- */

/* Sends {"op": op, "room": id, ...fields} (stolen) now, to room's connections except
 * except. For the unversioned lock events. */
static void send_now(room_t *room, bus_member_t except, const char *op, json_t *fields)
{
    proto_part_t part = {.obj = fields};
    bus_publish(&room->bus, &(bus_event_t){.room = room->id, .name = op, .parts = &part,
                                           .nparts = 1, .except = except});
    json_decref(fields);
}

/* Queues the "entity" event of version v in room's outbox (fields stolen; see
 * entities_event_push). */
static ent_event_t *entity_event(room_t *room, const char *action, int64_t v, const char *by,
                                 json_t *fields, bus_member_t except, int ready)
{
    json_t *all = json_pack("{s:s, s:I, s:s?}", "action", action, "stateVersion",
                            (json_int_t)v, "by", by);
    json_object_update(all, fields);
    json_decref(fields);
    return entities_event_push(room, "entity", all, v, except, ready);
}

/* The user of the connection m subscribed to room, or NULL when it is not there. */
static const char *user_of(room_t *room, bus_member_t m)
{
    for (bus_sub_t *s = m ? room->bus.head : NULL; s; s = s->next)
        if (s->client->id == m) return s->client->user.sub;
    return NULL;
}

/* Ends e's lock and tells the room's connections (except except) why. */
static void unlock_event(room_t *room, entity_t *e, bus_member_t except,
                         const char *reason)
{
    entity_unlock(e);
    room->nlocks--;
    send_now(room, except, "entity_unlock", json_pack("{s:s, s:s}", "id", e->id, "reason", reason));
}

/* ---------- store writes ---------- */

typedef struct {
    proto_deferred_t d;
    int has_reply;
    json_t *reply;     /* the reply's data, sent after the commit */
    rooms_t *r;
    room_t *room;      /* held */
    entity_t *e;       /* writes counted */
    ent_event_t *ev;   /* the change's event, sent after the commit (or NULL) */
    store_req_t req;
    store_rooms_t pl;
} ent_write_t;

static void write_entity(rooms_t *r, room_t *room, entity_t *e, proto_req_t *req,
                         json_t *reply, ent_event_t *ev);

static void maybe_free(entity_t *e)
{
    if (e->removed && e->writes == 0 && !e->on_due_list) entity_free(e);
}

static void on_written(store_req_t *req)
{
    ent_write_t *w = req->data;
    room_t *room = w->room;
    entity_t *e = w->e;
    if (req->err != STORE_OK && req->err != STORE_ECLOSED)
        log_error(w->r->log, "entities: storing %.64s in room %s failed: %d", e->id, room->id,
                  req->err);
    /* The change is in memory whatever the store said: the others see it too. */
    entities_event_ready(room, w->ev);
    if (w->has_reply) {
        if (req->err == STORE_OK) {
            proto_deferred_ok(&w->d, w->reply);
            w->reply = NULL;
        } else {
            proto_deferred_error(&w->d, "internal_error", "the database failed");
        }
    }
    json_decref(w->reply);
    store_rooms_free(&w->pl);
    e->writes--;
    if (e->write_again && !e->removed && !room->deleted && e->writes == 0) {
        e->write_again = 0;
        write_entity(w->r, room, e, NULL, NULL, NULL);
    }
    maybe_free(e);
    rooms_release(room);
    free(w);
}

/* Writes e as it is now (a PUT, or a DELETE once removed). With req, the reply (data
 * stolen) goes out after the commit; ev is the change's event. A transient write (no
 * req) while another write of e is in flight only marks e to be written again. */
static void write_entity(rooms_t *r, room_t *room, entity_t *e, proto_req_t *req,
                         json_t *reply, ent_event_t *ev)
{
    if (!req && e->writes) {
        e->write_again = 1;
        return;
    }
    ent_write_t *w = ch_calloc(1, sizeof(*w));
    if (req) {
        proto_defer(req, &w->d);
        w->has_reply = 1;
        w->reply = reply;
    }
    w->r = r;
    w->room = room;
    rooms_hold(room);
    w->e = e;
    e->writes++;
    w->ev = ev;
    store_entity_t *se = &w->pl.ent;
    memcpy(se->room_id, room->id, sizeof(se->room_id));
    snprintf(se->id, sizeof(se->id), "%s", e->id);
    se->room_version = room->state_version;
    se->updated_at = e->updated_at;
    if (e->removed) {
        w->req.type = STORE_ENTITY_DELETE;
        rooms_quota_count(r, room, e->owner, -e->stored_bytes);
        e->stored_bytes = 0;
    } else {
        w->req.type = STORE_ENTITY_PUT;
        snprintf(se->kind, sizeof(se->kind), "%s", e->kind);
        snprintf(se->owner, sizeof(se->owner), "%s", e->owner);
        se->owner_only = e->owner_only;
        se->data = json_dumps(e->data, JSON_COMPACT);
        /* The row replaces the last one and counts for the room and the owner. */
        int64_t bytes = STORE_ROW_BYTES + (int64_t)strlen(se->data);
        rooms_quota_count(r, room, e->owner, bytes - e->stored_bytes);
        e->stored_bytes = bytes;
        se->version = e->version;
        se->state_version = e->state_version;
        se->created_at = e->created_at;
    }
    w->req.rooms = &w->pl;
    w->req.data = w;
    w->req.cb = on_written;
    store_submit(r->store, &w->req);
}

/* ---------- transient changes ---------- */

/* Applies e's held transient changes as the room's next version: sent at once (through
 * the outbox, so after any earlier change), written when no other write is in flight. */
static void apply_pending(rooms_t *r, room_t *room, entity_t *e)
{
    bus_member_t from = e->pending_from;
    int64_t v = room->state_version + 1;
    int64_t now = clock_unix_ms();
    if (!entset_apply_pending(&room->ents, &r->ent_lim, e, uv_now(r->loop), v, now)) return;
    room->state_version = v;
    room->last_activity = now;
    entity_event(room, "update", v, user_of(room, from),
                 json_pack("{s:b, s:o}", "transient", 1, "entity", entity_json(e)), from, 1);
    write_entity(r, room, e, NULL, NULL, NULL);
}

static void on_due(uv_timer_t *t)
{
    rooms_t *r = t->data;
    uint64_t now = uv_now(r->loop);
    entity_t *list = r->ent_due, *keep = NULL;
    r->ent_due = NULL;
    while (list) {
        entity_t *e = list;
        list = e->due_next;
        room_t *room = e->room;
        uint64_t due = entity_pending_due(e, &r->ent_lim);
        if (!e->removed && due && due > now) { /* not yet */
            e->due_next = keep;
            keep = e;
            continue;
        }
        e->on_due_list = 0;
        if (!e->removed && due && !room->deleted) apply_pending(r, room, e);
        maybe_free(e);
        rooms_release(room);
    }
    /* Anything added while applying is already on r->ent_due. */
    while (keep) {
        entity_t *e = keep;
        keep = e->due_next;
        e->due_next = r->ent_due;
        r->ent_due = e;
    }
    if (!r->ent_due) {
        uv_timer_stop(&r->ent_timer);
        r->ent_timer_on = 0;
    }
}

/* Puts e on the due list (holding its room) and starts the timer. */
static void due_add(rooms_t *r, entity_t *e)
{
    if (!e->on_due_list) {
        e->on_due_list = 1;
        e->due_next = r->ent_due;
        r->ent_due = e;
        rooms_hold(e->room);
    }
    if (!r->ent_timer_on) {
        r->ent_timer_on = 1;
        uint64_t gap = r->ent_lim.transient_rate ? 1000 / r->ent_lim.transient_rate : 1;
        if (gap < 1) gap = 1;
        uv_timer_start(&r->ent_timer, on_due, gap, gap);
    }
}

void entities_flush(rooms_t *r)
{
    while (r->ent_due) {
        entity_t *e = r->ent_due;
        r->ent_due = e->due_next;
        e->on_due_list = 0;
        room_t *room = e->room;
        if (!e->removed && e->pending && !room->deleted) apply_pending(r, room, e);
        maybe_free(e);
        rooms_release(room);
    }
}

/* ---------- connections going ---------- */

static void release_locks_of(room_t *room, bus_member_t c, const char *reason)
{
    if (!room->nlocks) return;
    const char *k;
    void *v;
    /* Sending does not change the map, so iterating while unlocking is safe. */
    for (size_t i = 0; strmap_next(&room->ents.by_id, &i, &k, &v);) {
        entity_t *e = v;
        if (e->lock && e->lock->holder == c) unlock_event(room, e, c, reason);
    }
}

static void forget_client(rooms_t *r, proto_client_t *c, room_t *room, const char *reason)
{
    release_locks_of(room, c->id, reason);
    for (entity_t *e = r->ent_due; e; e = e->due_next)
        if (e->room == room && e->pending_from == c->id) e->pending_from = BUS_MEMBER_NONE;
}

void entities_client_left_room(rooms_t *r, proto_client_t *c, room_t *room)
{
    forget_client(r, c, room, "left");
}

void entities_client_gone(rooms_t *r, proto_client_t *c)
{
    for (bus_sub_t *s = c->subs; s; s = s->client_next)
        forget_client(r, c, s->room, "disconnected");
}

void entities_tick(room_t *room, uint64_t now_ms)
{
    if (!room->nlocks) return;
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&room->ents.by_id, &i, &k, &v);) {
        entity_t *e = v;
        if (entity_lock_expired(e, now_ms)) unlock_event(room, e, BUS_MEMBER_NONE, "expired");
    }
}

void entities_room_free(room_t *room)
{
    while (room->out_head) {
        ent_event_t *ev = room->out_head;
        room->out_head = ev->next;
        json_decref(ev->fields);
        free(ev);
    }
    room->out_tail = NULL;
}

void entities_join_fields(room_t *room, json_t *data, int64_t since, size_t budget)
{
    if (since >= 0) {
        json_object_set_new(data, "sync",
                            entset_sync_page(&room->ents, since, since, room->state_version,
                                             room->state, budget));
        return;
    }
    /* The first page of a full answer (asked as from a version the room never had). */
    int64_t future = room->state_version + 1;
    json_t *page =
        entset_sync_page(&room->ents, future, future, room->state_version, room->state, budget);
    json_object_set(data, "entities", json_object_get(page, "entities"));
    if (json_is_true(json_object_get(page, "more")))
        json_object_set_new(data, "entitiesNext",
                            json_pack("{s:O, s:O}", "version",
                                      json_object_get(page, "stateVersion"), "cursor",
                                      json_object_get(page, "cursor")));
    json_decref(page);
}

/* ---------- the ops ---------- */

static rooms_t *rooms_of(proto_req_t *req)
{
    return req->p->app;
}

static void invalid(proto_req_t *req, const char *field, const char *message)
{
    proto_reply_error_field(req, "validation_error", field, message);
}

/* An error carrying the entity as it is now (conflict, locked, exists). */
static void error_entity(proto_req_t *req, const char *code, const char *message,
                         const entity_t *e)
{
    json_t *err = json_pack("{s:s, s:s, s:o}", "code", code, "message", message, "entity",
                            entity_json(e));
    proto_reply_error_obj(req, err);
}

/* The entity named by the request's "id", or NULL after replying. */
static entity_t *target(proto_req_t *req, room_t *room)
{
    json_t *id = json_object_get(req->msg, "id");
    if (!json_is_string(id) || !entity_id_valid(json_string_value(id))) {
        invalid(req, "id", "id must be 1-128 bytes of A-Z a-z 0-9 _ - . :");
        return NULL;
    }
    entity_t *e = entset_get(&room->ents, json_string_value(id));
    if (!e) proto_reply_error(req, "not_found", "no such entity");
    return e;
}

/* 1 when the caller is the room's host. */
static int caller_is_host(proto_req_t *req, const room_t *room)
{
    return room_may_manage(room->host_id, req->c->user.sub);
}

/* 1 when the caller may change e under its ownerOnly flag; else 0 after replying
 * forbidden. */
static int may_edit(proto_req_t *req, room_t *room, const entity_t *e)
{
    if (entity_may_edit(e, req->c->user.sub, caller_is_host(req, room))) return 1;
    proto_reply_error(req, PROTO_FORBIDDEN,
                      "only its owner and the host may change this entity");
    return 0;
}

/* Reads the optional boolean field name into *out (-1 when absent). Returns 0, or -1 after
 * replying validation_error. */
static int opt_bool(proto_req_t *req, const char *name, int *out)
{
    json_t *v = json_object_get(req->msg, name);
    *out = -1;
    if (!v) return 0;
    if (!json_is_boolean(v)) {
        char msg[64];
        snprintf(msg, sizeof(msg), "%s must be true or false", name);
        invalid(req, name, msg);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

/* Replies for a change refused by the set's rules. */
static void refused(proto_req_t *req, int rc, const char *field, const entity_t *e)
{
    rooms_t *r = rooms_of(req);
    switch (rc) {
    case ENT_EXISTS:
        error_entity(req, "exists", "an entity with this id exists", e);
        break;
    case ENT_TOO_MANY:
        proto_reply_error(req, "too_many_entities", "the room holds %u entities (the limit)",
                          r->ent_lim.max_count);
        break;
    case ENT_TOO_LARGE:
        proto_reply_error(req, "payload_too_large",
                          "the %s is too large (data at most %zu bytes, a patch %zu, nesting %d)",
                          field, r->ent_lim.max_bytes, r->ent_lim.max_patch,
                          r->ent_lim.max_depth);
        break;
    case ENT_CONFLICT:
        error_entity(req, "conflict", "the entity changed since baseVersion", e);
        break;
    case ENT_FORBIDDEN:
        proto_reply_error(req, PROTO_FORBIDDEN,
                          "only its owner and the host may change this entity");
        break;
    case ENT_LOCKED:
        error_entity(req, "locked", "someone else holds the entity's lock", e);
        break;
    default:
        invalid(req, field, "must be a JSON object");
    }
}

/* Refuses with quota_exceeded (returns -1) when add more bytes, written in room for
 * owner, would pass a quota. Entities count for their owner (who created them). */
static int over_quota(proto_req_t *req, room_t *room, const char *owner, int64_t add)
{
    int rc = rooms_quota_check(rooms_of(req), room, owner, add);
    if (rc == QUOTA_OK) return 0;
    proto_reply_error(req, "quota_exceeded", "%s", rooms_quota_message(rc));
    return -1;
}

/* The encoded size of j (compact, as stored), without building the text. */
static int64_t encoded_size(const json_t *j)
{
    return (int64_t)json_dumpb(j, NULL, 0, JSON_COMPACT | JSON_ENCODE_ANY);
}

/* How much a merge patch can grow the data it applies to, at most (about: key escapes
 * aside): its members without the null ones (which delete), each with its key and
 * separators; objects counted the same way inside. So a patch that only deletes grows
 * nothing and passes a full quota. */
static int64_t patch_growth(const json_t *patch, int top)
{
    int64_t n = top ? 0 : 2; /* a new object's braces */
    const char *k;
    json_t *v;
    json_object_foreach ((json_t *)patch, k, v) {
        if (json_is_null(v)) continue;
        n += (int64_t)strlen(k) + 4; /* "k": and a comma */
        n += json_is_object(v) ? patch_growth(v, 0) : encoded_size(v);
    }
    return n;
}

/* The common end of a durable change of e (applied in memory at room version v, time now):
 * the room takes version v, the event waits in the outbox, the write goes to the store, and
 * the reply follows its commit. */
static void commit_change(proto_req_t *req, room_t *room, entity_t *e, const char *action,
                          int64_t v, int64_t now)
{
    room->state_version = v;
    room->last_activity = now;
    json_t *fields, *reply;
    if (e->removed) {
        fields = json_pack("{s:s}", "id", e->id);
        reply = json_pack("{s:s, s:I}", "id", e->id, "stateVersion", (json_int_t)v);
    } else {
        json_t *ej = entity_json(e);
        fields = json_pack("{s:O}", "entity", ej);
        reply = json_pack("{s:o}", "entity", ej);
    }
    ent_event_t *ev = entity_event(room, action, v, req->c->user.sub, fields, req->c->id, 0);
    write_entity(rooms_of(req), room, e, req, reply, ev);
}

static void op_create(proto_req_t *req)
{
    rooms_t *r = rooms_of(req);
    room_t *room = proto_rooms_target(req, 1);
    if (!room) return;
    json_t *jid = json_object_get(req->msg, "id");
    json_t *kind = json_object_get(req->msg, "kind");
    json_t *data = json_object_get(req->msg, "data");
    char idbuf[STORE_ID_LEN];
    const char *id;
    if (jid && !json_is_null(jid)) {
        if (!json_is_string(jid) || !entity_id_valid(json_string_value(jid))) {
            invalid(req, "id", "id must be 1-128 bytes of A-Z a-z 0-9 _ - . :");
            return;
        }
        id = json_string_value(jid);
    } else {
        auth_random_uuid(idbuf);
        id = idbuf;
    }
    if (!json_is_string(kind) || !entity_kind_valid(json_string_value(kind))) {
        invalid(req, "kind", "kind must be 1-64 bytes of A-Z a-z 0-9 _ - . :");
        return;
    }
    int owner_only;
    if (opt_bool(req, "ownerOnly", &owner_only)) return;
    json_t *empty = NULL;
    if (!data || json_is_null(data)) data = empty = json_object();
    if (json_is_object(data) &&
        over_quota(req, room, req->c->user.sub, STORE_ROW_BYTES + encoded_size(data))) {
        json_decref(empty);
        return;
    }
    entity_t *e;
    int64_t v = room->state_version + 1, now = clock_unix_ms();
    int rc = entset_create(&room->ents, &r->ent_lim, id, json_string_value(kind),
                           req->c->user.sub, data, v, now, &e);
    json_decref(empty);
    if (rc != ENT_OK) {
        refused(req, rc, "data", e);
        return;
    }
    e->room = room;
    e->owner_only = owner_only == 1;
    commit_change(req, room, e, "create", v, now);
}

static void op_update(proto_req_t *req)
{
    rooms_t *r = rooms_of(req);
    room_t *room = proto_rooms_target(req, 1);
    if (!room) return;
    entity_t *e = target(req, room);
    if (!e) return;
    if (!may_edit(req, room, e)) return;
    json_t *patch = json_object_get(req->msg, "patch");
    json_t *tr = json_object_get(req->msg, "transient");
    int owner_only;
    if (opt_bool(req, "ownerOnly", &owner_only)) return;
    int64_t base;
    if (proto_opt_uint(req, "baseVersion", -1, &base)) return;
    if (tr && !json_is_boolean(tr)) {
        invalid(req, "transient", "transient must be true or false");
        return;
    }
    int transient = json_is_true(tr);
    if (transient && (base >= 0 || owner_only >= 0)) {
        invalid(req, base >= 0 ? "baseVersion" : "ownerOnly",
                base >= 0 ? "baseVersion cannot be combined with transient"
                          : "ownerOnly cannot be combined with transient");
        return;
    }
    if (owner_only >= 0 &&
        !entity_may_set_owner_only(e, req->c->user.sub, caller_is_host(req, room))) {
        proto_reply_error(req, PROTO_FORBIDDEN,
                          "only its owner and the host may set ownerOnly");
        return;
    }
    json_t *empty = NULL; /* owned when the flag comes alone: an empty patch */
    if (!patch && owner_only >= 0) patch = empty = json_object();
    int rc = entity_patch_check(patch, &r->ent_lim);
    if (rc != ENT_OK) {
        json_decref(empty);
        refused(req, rc, "patch", e);
        return;
    }
    if (over_quota(req, room, e->owner, patch_growth(patch, 1))) return;
    uint64_t now_ms = uv_now(r->loop);
    if (!entity_may_change(e, req->c->id, now_ms)) {
        json_decref(empty);
        error_entity(req, "locked", "someone else holds the entity's lock", e);
        return;
    }
    if (transient) {
        uint64_t due;
        rc = entity_transient(e, &r->ent_lim, patch, req->c->id, now_ms, &due);
        if (rc != ENT_OK) {
            refused(req, rc, "data", e);
            return;
        }
        proto_reply_ok(req, json_pack("{s:s, s:b}", "id", e->id, "transient", 1));
        if (due <= now_ms) apply_pending(r, room, e);
        else due_add(r, e);
        return;
    }
    /* Held transient changes go first, as their own version, so their order is kept. */
    if (e->pending) apply_pending(r, room, e);
    int64_t v = room->state_version + 1, now = clock_unix_ms();
    rc = entset_update(&room->ents, &r->ent_lim, e, patch, base, v, now);
    json_decref(empty);
    if (rc != ENT_OK) {
        refused(req, rc, "data", e);
        return;
    }
    if (owner_only >= 0) e->owner_only = owner_only == 1;
    commit_change(req, room, e, "update", v, now);
}

static void op_delete(proto_req_t *req)
{
    rooms_t *r = rooms_of(req);
    room_t *room = proto_rooms_target(req, 1);
    if (!room) return;
    entity_t *e = target(req, room);
    if (!e) return;
    /* The host deletes any entity, locked or not. */
    int rc = entity_delete_check(e, req->c->id, req->c->user.sub, caller_is_host(req, room),
                                 uv_now(r->loop));
    if (rc != ENT_OK) {
        refused(req, rc, "data", e);
        return;
    }
    if (e->lock) unlock_event(room, e, BUS_MEMBER_NONE, "deleted");
    int64_t v = room->state_version + 1, now = clock_unix_ms();
    entset_remove(&room->ents, &r->ent_lim, e, v);
    e->updated_at = now;
    commit_change(req, room, e, "delete", v, now);
}

static void op_lock(proto_req_t *req)
{
    rooms_t *r = rooms_of(req);
    room_t *room = proto_rooms_target(req, 1);
    if (!room) return;
    entity_t *e = target(req, room);
    if (!e) return;
    int64_t ttl;
    if (proto_opt_uint(req, "ttl", -1, &ttl)) return;
    if (ttl < 0) ttl = LOCK_TTL_DEFAULT_MS;
    if (ttl < 1 || (uint64_t)ttl > r->ent_lim.lock_max_ttl) {
        char msg[80];
        snprintf(msg, sizeof(msg), "ttl must be 1 to %llu milliseconds",
                 (unsigned long long)r->ent_lim.lock_max_ttl);
        invalid(req, "ttl", msg);
        return;
    }
    room_member_t *m = room_member(room, req->c->user.sub);
    int had_lock = e->lock != NULL;
    int rc = entity_lock_take(
        e, &r->ent_lim, req->c->id, req->c->user.sub, m ? m->display_name : req->c->user.name,
        caller_is_host(req, room), (uint64_t)ttl, uv_now(r->loop), clock_unix_ms());
    if (rc == ENT_HOLD_USED) {
        proto_reply_error(
            req, "lock_limit",
            "you held this entity's lock for the longest allowed; others get a turn");
        return;
    }
    if (rc != ENT_OK) {
        refused(req, rc, "data", e);
        return;
    }
    if (!had_lock) room->nlocks++;
    send_now(room, req->c->id, "entity_lock",
             json_pack("{s:s, s:o}", "id", e->id, "lock", entity_lock_json(e->lock)));
    proto_reply_ok(req, json_pack("{s:s, s:o}", "id", e->id, "lock", entity_lock_json(e->lock)));
}

static void op_unlock(proto_req_t *req)
{
    rooms_t *r = rooms_of(req);
    room_t *room = proto_rooms_target(req, 1);
    if (!room) return;
    entity_t *e = target(req, room);
    if (!e) return;
    int force;
    if (opt_bool(req, "force", &force)) return;
    int broken;
    int rc = entity_unlock_check(e, req->c->id, caller_is_host(req, room), force == 1,
                                 uv_now(r->loop), &broken);
    if (rc != ENT_OK) {
        proto_reply_error(req, PROTO_FORBIDDEN, "%s",
                          rc == ENT_FORBIDDEN ? "only the host can break a lock"
                                              : "someone else holds the entity's lock");
        return;
    }
    int mine = !broken;
    /* A broken lock's holder is told too; an own unlock is answered by the reply. */
    if (e->lock) unlock_event(room, e, mine ? req->c->id : BUS_MEMBER_NONE, mine ? "unlocked" : "broken");
    proto_reply_ok(req, json_pack("{s:s}", "id", e->id));
}

static void op_sync(proto_req_t *req)
{
    room_t *room = proto_rooms_target(req, 1);
    if (!room) return;
    int64_t since, cursor;
    if (proto_opt_uint(req, "version", -1, &since) ||
        proto_opt_uint(req, "cursor", -1, &cursor))
        return;
    if (since < 0) {
        invalid(req, "version", "version (the highest stateVersion seen) is required");
        return;
    }
    proto_reply_ok(req, entset_sync_page(&room->ents, since, cursor < 0 ? since : cursor,
                                         room->state_version, room->state,
                                         rooms_of(req)->lim.max_reply));
}

/* ---------- the hooks in rooms ---------- */

static void hook_load(void *ud, rooms_t *r, const store_rooms_t *pl)
{
    (void)ud;
    for (size_t i = 0; i < pl->nents; i++)
        entities_load_row(r, &pl->ents[i]);
}

static void hook_start(void *ud, rooms_t *r, const chorus_config_t *cfg)
{
    (void)ud;
    r->ent_lim = entities_limits(cfg);
    uv_timer_init(r->loop, &r->ent_timer);
    r->ent_timer.data = r;
}

static void hook_close(void *ud, rooms_t *r)
{
    (void)ud;
    entities_flush(r);
    uv_close((uv_handle_t *)&r->ent_timer, NULL);
}

static void hook_member_left(void *ud, rooms_t *r, room_t *room, proto_client_t *c)
{
    (void)ud;
    entities_client_left_room(r, c, room);
}

static void hook_room_freed(void *ud, rooms_t *r, room_t *room)
{
    (void)ud;
    (void)r;
    entities_room_free(room);
}

static void hook_tick(void *ud, rooms_t *r, room_t *room, uint64_t now_ms)
{
    (void)ud;
    (void)r;
    entities_tick(room, now_ms);
}

static void hook_client_gone(void *ud, rooms_t *r, proto_client_t *c)
{
    (void)ud;
    entities_client_gone(r, c);
}

const rooms_feature_t entities_feature = {
    .name = "entities",
    .load = hook_load,
    .start = hook_start,
    .close = hook_close,
    .member_left = hook_member_left,
    .client_gone = hook_client_gone,
    .room_freed = hook_room_freed,
    .tick = hook_tick,
};

static const proto_op_t entity_ops[] = {
    {"entity_create", op_create, 0}, {"entity_update", op_update, 0},
    {"entity_delete", op_delete, 0}, {"entity_lock", op_lock, 0},
    {"entity_unlock", op_unlock, 0}, {"sync", op_sync, 0},
};

void proto_entities_register(proto_t *p)
{
    proto_register(p, entity_ops, CH_ARRAY_LEN(entity_ops));
}
