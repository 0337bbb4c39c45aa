/* entities.c: the entity domain (see entities.h): changes applied to a live room, their
 * persistence, held transient changes, locks, and the events. The rules are
 * entity_set.c; the WebSocket ops are proto_entities.c. */
#include "domain/entities.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_random.h"
#include "domain/webhooks.h"
#include "domain/activity_log.h"
#include "util/clock.h"
#include "util/log.h"
#include "util/mem.h"

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

entity_t *entities_get(room_t *room, const char *id)
{
    return entset_get(&room->ents, id);
}

/* ---------- events ---------- */

/* Sends {"op": op, "room": id, ...fields} (stolen) now, to room's connections except
 * except. For the unversioned lock events. */
static void send_now(room_t *room, bus_member_t except, const char *op, json_t *fields)
{
    jpart_t part = {.obj = fields};
    bus_publish(&room->bus, &(bus_event_t){.room = room->id, .name = op, .parts = &part,
                                           .nparts = 1, .except = except});
    json_decref(fields);
}

/* Queues the "entity" event of version v in room's outbox (fields stolen; see
 * rooms_outbox_push). */
static rooms_outbox_ev_t *entity_event(room_t *room, const char *action, int64_t v,
                                       const char *by, json_t *fields, bus_member_t except,
                                       int ready)
{
    json_t *all = json_pack("{s:s, s:I, s:s?}", "action", action, "stateVersion",
                            (json_int_t)v, "by", by);
    json_object_update(all, fields);
    json_decref(fields);
    return rooms_outbox_push(room, "entity", all, v, except, ready);
}

void entities_lock_record(room_t *room, const char *id, const entity_lock_t *lock)
{
    char field[STORE_ENTITY_ID_LEN + 2], value[STORE_SUB_LEN + 48];
    snprintf(field, sizeof(field), "l%s", id);
    if (lock)
        snprintf(value, sizeof(value), "%llu %lld %s", (unsigned long long)lock->holder,
                 (long long)lock->expires_at, lock->user_id);
    bus_record(room->bus.bus, room->id, field, lock ? value : NULL);
}

int entities_lock_restore(rooms_t *r, room_t *room, const char *id, bus_member_t holder,
                          const char *user_id, int64_t expires_at)
{
    entity_t *e = strmap_get(&room->ents.by_id, id);
    room_member_t *m = room_member(room, user_id);
    if (!e || e->removed || e->lock || !m || m->banned) return -1;
    int64_t now = clock_unix_ms();
    /* Ended meanwhile: ends at the next tick, with the usual "expired" event. */
    uint64_t ttl = expires_at > now ? (uint64_t)(expires_at - now) : 1;
    if (ttl > r->ent_lim.lock_max_ttl) ttl = r->ent_lim.lock_max_ttl;
    entity_lock(e, holder, user_id, m->display_name, ttl, uv_now(r->loop), now);
    room->nlocks++;
    return 0;
}

/* Ends e's lock and tells the room's connections (except except) why. */
static void unlock_event(room_t *room, entity_t *e, bus_member_t except,
                         const char *reason)
{
    entity_unlock(e);
    room->nlocks--;
    entities_lock_record(room, e->id, NULL);
    send_now(room, except, "entity_unlock", json_pack("{s:s, s:s}", "id", e->id, "reason", reason));
}

/* ---------- store writes ---------- */

static const rooms_err_t ERR_IO = {ROOMS_E_UNAVAILABLE, "service_unavailable",
                                   "the database is unavailable; try again", NULL};

static void write_entity(rooms_t *r, room_t *room, entity_t *e, entities_req_t *w);

static void maybe_free(entity_t *e)
{
    if (e->removed && e->writes == 0 && !e->on_due_list) entity_free(e);
}

static void on_written(store_req_t *sreq)
{
    entities_req_t *w = sreq->data;
    rooms_t *r = w->r;
    room_t *room = w->room;
    entity_t *e = w->e;
    int err = sreq->err;
    webhooks_release(r->hooks, sreq);
    int again = room_version_answer(&room->versions, &room->state_version, w->vepoch, w->vbase,
                                    err, w->pl.ent.room_base);
    if (err != STORE_OK && err != STORE_ECLOSED)
        log_error(r->log, "entities: storing %.64s in room %s failed: %d", e->id, room->id,
                  err);
    /* The change is in memory whatever the store said: the others see it too. */
    rooms_outbox_ready(room, w->ev);
    w->ev = NULL;
    rooms_changes_seen(room, err, sreq->changes);
    store_rooms_free(&w->pl);
    e->writes--;
    /* Refused as not the room's next version (another writer's, or behind one of ours
     * that failed): written again, as it is now, as the room's next version; a caller
     * waiting for it is answered when that write answers (its change is stored then).
     * Not when e was removed and its id taken again (the row is its successor's). */
    int live = !room->deleted && (!e->removed || !entset_get(&room->ents, e->id));
    if (again == ROOM_VERSION_AGAIN && live && w->done) {
        room->state_version++;
        write_entity(r, room, e, w); /* keeps done, reply and data */
        rooms_release(room);
        return;
    }
    if (again == ROOM_VERSION_AGAIN && live) e->write_again = 1;
    entities_done_fn done = w->done;
    json_t *reply = w->reply;
    w->reply = NULL;
    json_decref(w->hook);
    w->hook = NULL;
    if (!done) free(w); /* a write nobody waits for: ours */
    /* Changed (or refused) while writes were in flight: written once they all answered,
     * as it is now, as the room's next version (a version the store skips is allowed:
     * each write only has to follow the stored one and be above it). */
    if (e->write_again && e->writes == 0 && live) {
        room->state_version++;
        write_entity(r, room, e, NULL);
    }
    maybe_free(e);
    rooms_release(room);
    if (!done) return;
    if (err == STORE_OK) {
        done(w, NULL, reply);
    } else {
        json_decref(reply);
        done(w, &ERR_IO, NULL);
    }
}

/* Writes e as it is now (a PUT, or a DELETE once removed) as the room's state version,
 * which the caller took as a new one, with w: a caller's durable change (done, reply and
 * ev set), or NULL for a write nobody waits for (a transient change's, or one written
 * again). Each write is its own version, so the store takes it only as the room's next
 * one (room_version.h); writes of one entity reach the store in order. */
static void write_entity(rooms_t *r, room_t *room, entity_t *e, entities_req_t *w)
{
    if (!w) w = ch_calloc(1, sizeof(*w));
    e->write_again = 0; /* this write carries e as it is now */
    w->r = r;
    w->room = room;
    rooms_hold(room);
    w->e = e;
    e->writes++;
    memset(&w->sreq, 0, sizeof(w->sreq));
    memset(&w->pl, 0, sizeof(w->pl));
    store_entity_t *se = &w->pl.ent;
    memcpy(se->room_id, room->id, sizeof(se->room_id));
    snprintf(se->id, sizeof(se->id), "%s", e->id);
    se->room_version = room->state_version;
    room_version_write(&room->versions, se->room_version, &se->room_base, &w->vepoch);
    w->vbase = se->room_base;
    se->updated_at = e->updated_at;
    if (e->removed) {
        w->sreq.type = STORE_ENTITY_DELETE;
        rooms_quota_count(r, room, e->owner, -e->stored_bytes);
        e->stored_bytes = 0;
    } else {
        w->sreq.type = STORE_ENTITY_PUT;
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
    w->sreq.rooms = &w->pl;
    w->sreq.data = w;
    w->sreq.cb = on_written;
    if (w->hook) {
        /* entity.changed commits with the change, at the version this write stores. */
        json_object_set_new(w->hook, "stateVersion", json_integer(se->room_version));
        rooms_hook(r, room, &w->sreq, WEBHOOK_ENTITY_CHANGED, json_incref(w->hook));
    }
    store_submit(r->store, &w->sreq);
}

/* ---------- transient changes ---------- */

/* Applies e's held transient changes as the room's next version at now_ms (monotonic) and
 * unix_ms: sent at once (through the outbox, so after any earlier change) and handed to
 * the store, or marked to be written when a write of e is in flight. */
static void apply_pending(rooms_t *r, room_t *room, entity_t *e, uint64_t now_ms,
                          int64_t unix_ms)
{
    bus_member_t from = e->pending_from;
    int64_t v = room->state_version + 1;
    if (!entset_apply_pending(&room->ents, &r->ent_lim, e, now_ms, v, unix_ms)) return;
    room->state_version = v;
    room->last_activity = unix_ms;
    /* "by": the user who sent the held changes, as the op named it; none once that
     * connection left or went (entities_member_gone). */
    entity_event(room, "update", v, from ? e->pending_by : NULL,
                 json_pack("{s:b, s:o}", "transient", 1, "entity", entity_json(e)), from, 1);
    /* At most one write of e waits in the store's queue: behind one in flight, e is only
     * marked, and written as it is then once that write answers (on_written). */
    if (e->writes)
        e->write_again = 1;
    else
        write_entity(r, room, e, NULL);
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
        if (!e->removed && due && !room->deleted) apply_pending(r, room, e, now, clock_unix_ms());
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
        if (!e->removed && e->pending && !room->deleted)
            apply_pending(r, room, e, uv_now(r->loop), clock_unix_ms());
        maybe_free(e);
        rooms_release(room);
    }
}

/* ---------- members going ---------- */

void entities_member_gone(rooms_t *r, room_t *room, bus_member_t member, const char *reason)
{
    if (room->nlocks) {
        const char *k;
        void *v;
        /* Sending does not change the map, so iterating while unlocking is safe. */
        for (size_t i = 0; strmap_next(&room->ents.by_id, &i, &k, &v);) {
            entity_t *e = v;
            if (e->lock && e->lock->holder == member) unlock_event(room, e, member, reason);
        }
    }
    for (entity_t *e = r->ent_due; e; e = e->due_next)
        if (e->room == room && e->pending_from == member) e->pending_from = BUS_MEMBER_NONE;
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

json_t *entities_sync(rooms_t *r, room_t *room, int64_t since, int64_t cursor)
{
    return entset_sync_page(&room->ents, since, cursor < 0 ? since : cursor,
                            room->state_version, room->state, r->lim.max_reply);
}

/* ---------- the operations ---------- */

/* Fills *err and returns its kind. message is a static text or err->msg. */
static int fail(entities_err_t *err, rooms_errno_t kind, const char *code, const char *message,
                const char *field, const entity_t *e)
{
    err->err = (rooms_err_t){.kind = kind, .code = code, .message = message, .field = field};
    err->entity = e;
    return kind;
}

static int forbidden_edit(entities_err_t *err)
{
    return fail(err, ROOMS_E_FORBIDDEN, "forbidden",
                "only its owner and the host may change this entity", NULL, NULL);
}

/* Refuses a change the set's rules refused with rc (field: what was too large or
 * malformed). */
static int refused(rooms_t *r, entities_err_t *err, int rc, const char *field, const entity_t *e)
{
    const entity_limits_t *lim = &r->ent_lim;
    switch (rc) {
    case ENT_EXISTS:
        return fail(err, ROOMS_E_CONFLICT, "exists", "an entity with this id exists", NULL, e);
    case ENT_TOO_MANY:
        snprintf(err->msg, sizeof(err->msg), "the room holds %u entities (the limit)",
                 lim->max_count);
        return fail(err, ROOMS_E_LIMIT, "too_many_entities", err->msg, NULL, NULL);
    case ENT_TOO_LARGE:
        snprintf(err->msg, sizeof(err->msg),
                 "the %s is too large (data at most %zu bytes, a patch %zu, nesting %d)", field,
                 lim->max_bytes, lim->max_patch, lim->max_depth);
        return fail(err, ROOMS_E_TOO_LARGE, "payload_too_large", err->msg, NULL, NULL);
    case ENT_CONFLICT:
        return fail(err, ROOMS_E_CONFLICT, "conflict", "the entity changed since baseVersion",
                    NULL, e);
    case ENT_FORBIDDEN:
        return forbidden_edit(err);
    case ENT_LOCKED:
        return fail(err, ROOMS_E_CONFLICT, "locked", "someone else holds the entity's lock",
                    NULL, e);
    default:
        return fail(err, ROOMS_E_INVALID, "validation_error", "must be a JSON object", field,
                    NULL);
    }
}

/* Refuses with quota_exceeded when add more bytes, written in room for owner, would pass
 * a quota. Entities count for their owner (who created them). */
static int over_quota(rooms_t *r, room_t *room, const char *owner, int64_t add,
                      entities_err_t *err)
{
    int rc = rooms_quota_check(r, room, owner, add);
    if (rc == QUOTA_OK) return 0;
    return fail(err, ROOMS_E_QUOTA, "quota_exceeded", rooms_quota_message(rc), NULL, NULL);
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

/* The common end of a durable change of e (applied in memory at room version v): the room
 * takes version v, the event waits in the outbox, the write goes to the store with req,
 * and done gets the answer after its commit. */
static void commit_change(rooms_t *r, room_t *room, entity_t *e, const entities_caller_t *who,
                          const char *action, int64_t v, entities_req_t *req,
                          entities_done_fn done)
{
    room->state_version = v;
    room->last_activity = who->unix_ms;
    rate_window_add(&room->rate_ops, who->unix_ms, 1);
    json_t *fields;
    if (e->removed) {
        fields = json_pack("{s:s}", "id", e->id);
        req->reply = json_pack("{s:s, s:I}", "id", e->id, "stateVersion", (json_int_t)v);
    } else {
        json_t *ej = entity_json(e);
        fields = json_pack("{s:O}", "entity", ej);
        req->reply = json_pack("{s:o}", "entity", ej);
    }
    req->done = done;
    req->hook = NULL;
    if (webhooks_wants(r->hooks, WEBHOOK_ENTITY_CHANGED))
        req->hook = json_pack("{s:s, s:s, s:o, s:s?}", "action", action, "id", e->id, "entity",
                              e->removed ? json_null() : entity_json(e), "by", who->user);
    req->ev = entity_event(room, action, v, who->user, fields, who->member, 0);
    if (strcmp(action, "create") == 0)
        activity_log_row(r->act, room, ACTIVITY_ENTITY_CREATED, who->user, NULL,
                         json_pack("{s:s, s:s}", "entity", e->id, "kind", e->kind));
    else if (strcmp(action, "delete") == 0)
        activity_log_row(r->act, room, ACTIVITY_ENTITY_DELETED, who->user, NULL,
                         json_pack("{s:s}", "entity", e->id));
    else /* an update: one row per user and burst (activity.h) */
        activity_log_note(r->act, room, ACTIVITY_ENTITY_MOVED, who->user, e->id, 1, 0, 0);
    write_entity(r, room, e, req);
}

int entities_may_edit(const entity_t *e, const entities_caller_t *who)
{
    return entity_may_edit(e, who->user, who->is_host);
}

int entities_create(rooms_t *r, room_t *room, const entities_caller_t *who, const char *id,
                    const char *kind, const json_t *data, int owner_only, entities_req_t *req,
                    entities_done_fn done, entities_err_t *err)
{
    char idbuf[STORE_ID_LEN];
    if (!id) {
        auth_random_uuid(idbuf);
        id = idbuf;
    }
    json_t *empty = NULL;
    if (!data) data = empty = json_object();
    if (json_is_object(data) &&
        over_quota(r, room, who->user, STORE_ROW_BYTES + encoded_size(data), err)) {
        json_decref(empty);
        return err->err.kind;
    }
    entity_t *e = NULL;
    int64_t v = room->state_version + 1;
    int rc = entset_create(&room->ents, &r->ent_lim, id, kind, who->user, data, v,
                           who->unix_ms, &e);
    json_decref(empty);
    if (rc != ENT_OK) return refused(r, err, rc, "data", e);
    e->room = room;
    e->owner_only = owner_only == 1;
    commit_change(r, room, e, who, "create", v, req, done);
    return 0;
}

/* The checks a change of e by who with patch (NULL: none) and owner_only
 * passes first, durable or transient: the ownerOnly rules, the patch, the quota, the
 * lock. Returns 0 or the kind of the refusal. */
static int change_check(rooms_t *r, room_t *room, entity_t *e, const entities_caller_t *who,
                        const json_t *patch, int owner_only, entities_err_t *err)
{
    if (!entity_may_edit(e, who->user, who->is_host)) return forbidden_edit(err);
    if (owner_only >= 0 && !entity_may_set_owner_only(e, who->user, who->is_host))
        return fail(err, ROOMS_E_FORBIDDEN, "forbidden",
                    "only its owner and the host may set ownerOnly", NULL, NULL);
    /* A missing patch is refused, unless the flag comes alone (an empty patch). */
    if (patch || owner_only < 0) {
        int rc = entity_patch_check(patch, &r->ent_lim);
        if (rc != ENT_OK) return refused(r, err, rc, "patch", e);
        if (over_quota(r, room, e->owner, patch_growth(patch, 1), err)) return err->err.kind;
    }
    if (!entity_may_change(e, who->member, who->now_ms))
        return refused(r, err, ENT_LOCKED, "data", e);
    return 0;
}

int entities_update(rooms_t *r, room_t *room, entity_t *e, const entities_caller_t *who,
                    const json_t *patch, int64_t base, int owner_only, entities_req_t *req,
                    entities_done_fn done, entities_err_t *err)
{
    int rc = change_check(r, room, e, who, patch, owner_only, err);
    if (rc) return rc;
    /* Held transient changes go first, as their own version, so their order is kept. */
    if (e->pending) apply_pending(r, room, e, who->now_ms, who->unix_ms);
    json_t *empty = NULL; /* the flag comes alone: an empty patch */
    if (!patch) patch = empty = json_object();
    int64_t v = room->state_version + 1;
    rc = entset_update(&room->ents, &r->ent_lim, e, patch, base, v, who->unix_ms);
    json_decref(empty);
    if (rc != ENT_OK) return refused(r, err, rc, "data", e);
    if (owner_only >= 0) e->owner_only = owner_only == 1;
    commit_change(r, room, e, who, "update", v, req, done);
    return 0;
}

int entities_update_transient(rooms_t *r, room_t *room, entity_t *e,
                              const entities_caller_t *who, const json_t *patch,
                              entities_err_t *err, json_t **result)
{
    *result = NULL;
    int rc = change_check(r, room, e, who, patch, -1, err);
    if (rc) return rc;
    uint64_t due;
    rc = entity_transient(e, &r->ent_lim, patch, who->member, who->user, who->now_ms, &due);
    if (rc != ENT_OK) return refused(r, err, rc, "data", e);
    if (due <= who->now_ms) apply_pending(r, room, e, who->now_ms, who->unix_ms);
    else due_add(r, e);
    activity_log_note(r->act, room, ACTIVITY_ENTITY_MOVED, who->user, e->id, 1, 0, 0);
    *result = json_pack("{s:s, s:b}", "id", e->id, "transient", 1);
    return 0;
}

int entities_delete(rooms_t *r, room_t *room, entity_t *e, const entities_caller_t *who,
                    entities_req_t *req, entities_done_fn done, entities_err_t *err)
{
    /* The host deletes any entity, locked or not. */
    int rc = entity_delete_check(e, who->member, who->user, who->is_host, who->now_ms);
    if (rc != ENT_OK) return refused(r, err, rc, "data", e);
    if (e->lock) unlock_event(room, e, BUS_MEMBER_NONE, "deleted");
    int64_t v = room->state_version + 1;
    entset_remove(&room->ents, &r->ent_lim, e, v);
    e->updated_at = who->unix_ms;
    commit_change(r, room, e, who, "delete", v, req, done);
    return 0;
}

int entities_lock(rooms_t *r, room_t *room, entity_t *e, const entities_caller_t *who,
                  int64_t ttl, entities_err_t *err, json_t **result)
{
    *result = NULL;
    if (ttl < 0) ttl = ENTITIES_LOCK_TTL_DEFAULT;
    if (ttl < 1 || (uint64_t)ttl > r->ent_lim.lock_max_ttl) {
        snprintf(err->msg, sizeof(err->msg), "ttl must be 1 to %llu milliseconds",
                 (unsigned long long)r->ent_lim.lock_max_ttl);
        return fail(err, ROOMS_E_INVALID, "validation_error", err->msg, "ttl", NULL);
    }
    room_member_t *m = room_member(room, who->user);
    int had_lock = e->lock != NULL;
    int rc = entity_lock_take(e, &r->ent_lim, who->member, who->user,
                              m ? m->display_name : who->name, who->is_host, (uint64_t)ttl,
                              who->now_ms, who->unix_ms);
    if (rc == ENT_HOLD_USED)
        return fail(err, ROOMS_E_LIMIT, "lock_limit",
                    "you held this entity's lock for the longest allowed; others get a turn",
                    NULL, NULL);
    if (rc != ENT_OK) return refused(r, err, rc, "data", e);
    entities_lock_record(room, e->id, e->lock);
    if (!had_lock) {
        room->nlocks++;
        activity_log_row(r->act, room, ACTIVITY_ENTITY_LOCKED, who->user, NULL,
                         json_pack("{s:s}", "entity", e->id));
    }
    send_now(room, who->member, "entity_lock",
             json_pack("{s:s, s:o}", "id", e->id, "lock", entity_lock_json(e->lock)));
    *result = json_pack("{s:s, s:o}", "id", e->id, "lock", entity_lock_json(e->lock));
    return 0;
}

int entities_unlock(rooms_t *r, room_t *room, entity_t *e, const entities_caller_t *who,
                    int force, entities_err_t *err, json_t **result)
{
    (void)r;
    *result = NULL;
    int broken;
    int rc = entity_unlock_check(e, who->member, who->is_host, force == 1, who->now_ms,
                                 &broken);
    if (rc != ENT_OK)
        return fail(err, ROOMS_E_FORBIDDEN, "forbidden",
                    rc == ENT_FORBIDDEN ? "only the host can break a lock"
                                        : "someone else holds the entity's lock",
                    NULL, NULL);
    int mine = !broken;
    /* A broken lock's holder is told too; an own unlock is answered by the reply. */
    if (e->lock)
        unlock_event(room, e, mine ? who->member : BUS_MEMBER_NONE, mine ? "unlocked" : "broken");
    *result = json_pack("{s:s}", "id", e->id);
    return 0;
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

/* The user's locks go, and their held transient changes lose their sender (applied
 * later with no "by", as for a connection that went): every connection of theirs is
 * leaving the room. */
static void hook_member_left(void *ud, rooms_t *r, room_t *room, const char *user_id)
{
    (void)ud;
    if (room->nlocks) {
        const char *k;
        void *v;
        /* Sending does not change the map, so iterating while unlocking is safe. */
        for (size_t i = 0; strmap_next(&room->ents.by_id, &i, &k, &v);) {
            entity_t *e = v;
            if (e->lock && strcmp(e->lock->user_id, user_id) == 0)
                unlock_event(room, e, e->lock->holder, "left");
        }
    }
    for (entity_t *e = r->ent_due; e; e = e->due_next)
        if (e->room == room && e->pending_from && e->pending_by &&
            strcmp(e->pending_by, user_id) == 0)
            e->pending_from = BUS_MEMBER_NONE;
}

static void hook_tick(void *ud, rooms_t *r, room_t *room, uint64_t now_ms)
{
    (void)ud;
    (void)r;
    entities_tick(room, now_ms);
}

static void hook_member_gone(void *ud, rooms_t *r, room_t *room, bus_member_t member,
                             const char *user_id)
{
    (void)ud;
    (void)user_id;
    entities_member_gone(r, room, member, "disconnected");
}

const rooms_feature_t entities_feature = {
    .name = "entities",
    .load = hook_load,
    .start = hook_start,
    .close = hook_close,
    .member_left = hook_member_left,
    .member_gone = hook_member_gone,
    .tick = hook_tick,
};
