/* rooms_state.c: a room's state and settings (see rooms.h): the state patch (versioned,
 * sent through the room's outbox), the settings, the room code's rotation, and deleting a
 * room. Changes apply to the live room at once and are answered once stored. */
#include "domain/rooms_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"
#include "util/json_patch.h"
#include "util/mem.h"
#include "domain/room_code.h"
#include "domain/room_rules.h"
#include "domain/webhooks.h"
#include "domain/activity_log.h"

/* ---------- delete ---------- */

void rooms_room_drop(rooms_t *r, room_t *room, const char *reason)
{
    rooms_publish(room, BUS_MEMBER_NONE, "room_deleted", json_pack("{s:s}", "reason", reason));
    ROOMS_FEATURES_CALL(r, room_dropped, r, room);
    /* Each process drops its connections' subscriptions (no frame: they were told). */
    bus_publish(&room->bus, &(bus_event_t){.room = room->id, .unsubscribe = 1});
    for (room_member_t *m = room->members; m; m = m->next) rooms_dirty_remove(r, m);
    rooms_tick_forget(r, room);
    strmap_del(&r->by_id, room->id);
    strmap_del(&r->by_code, room->code);
    bus_home_drop(r->bus, room->id);
    rooms_gone(r, room->id);
    rooms_announce(r, room, 1);
    room->deleted = 1;
}

/* The room's rows are gone: its authors' quotas get their bytes back. */
static void after_delete(rooms_op_t *op)
{
    for (size_t i = 0; i < op->pl.nusage; i++)
        quota_user_add(&op->r->users, op->pl.usage[i].user_id, -op->pl.usage[i].bytes);
    rooms_after_simple(op);
}

/* Drops room (its members told with reason) and deletes its rows. */
static void delete_room(rooms_t *r, room_t *room, const char *reason, rooms_done_fn done,
                        void *ud)
{
    rooms_op_t *op = rooms_op_new(r, room, STORE_ROOM_DELETE, done, ud);
    memcpy(op->pl.room.id, room->id, sizeof(op->pl.room.id));
    if (webhooks_wants(r->hooks, WEBHOOK_ROOM_DELETED))
        rooms_hook(r, room, &op->req, WEBHOOK_ROOM_DELETED,
                   json_pack("{s:s}", "reason", reason));
    rooms_room_drop(r, room, reason);
    op->stored = after_delete;
    rooms_op_submit(op);
}

void rooms_delete(rooms_t *r, room_t *room, const auth_claims_t *by, rooms_done_fn done,
                  void *ud)
{
    if (by && !room_may_manage(room->host_id, by->sub)) { /* the host's own, not a co-host's */
        rooms_fail(done, ud, ROOMS_E_FORBIDDEN, "forbidden",
                   "only the host can delete the room");
        return;
    }
    delete_room(r, room, by ? "deleted" : "idle", done, ud);
}

void rooms_admin_close(rooms_t *r, room_t *room, rooms_done_fn done, void *ud)
{
    delete_room(r, room, "closed", done, ud);
}

/* ---------- state ---------- */

/* Hands op (a ROOM_UPDATE) to the store: the room as it is now, with its state as text
 * (taken), at the room's state version, which the caller took as a new one. */
static void submit_row(rooms_op_t *op, room_t *room, char *state_text)
{
    rooms_fill_room(&op->pl.room, room, state_text);
    if (op->hook) {
        /* state.changed, at the version this write stores (a write again is a new one). */
        json_object_set_new(op->hook, "stateVersion", json_integer(room->state_version));
        json_object_set(op->hook, "state", room->state);
        rooms_hook(op->r, room, &op->req, WEBHOOK_STATE_CHANGED, json_incref(op->hook));
    }
    room_version_write(&room->versions, room->state_version, &op->pl.room.state_base,
                       &op->vepoch);
    op->vbase = op->pl.room.state_base;
    rooms_op_submit(op);
}

void rooms_state_again(rooms_t *r, room_t *room, rooms_op_t *from)
{
    room->state_version++;
    rooms_op_t *op = rooms_op_new(r, room, STORE_ROOM_UPDATE, from->done, from->ud);
    op->stored = from->stored;
    op->failed = from->failed;
    op->result = from->result;
    op->event = from->event;
    op->except = from->except;
    op->hook = from->hook;
    from->hook = NULL;
    rooms_op_charged(op, from->charged_user, from->charged);
    from->done = NULL;
    from->ud = NULL;
    from->stored = from->failed = NULL;
    from->result = from->event = NULL;
    from->charged = 0;
    submit_row(op, room, json_dumps(room->state, JSON_COMPACT));
}

void rooms_fill_room(store_room_t *sr, const room_t *room, char *state_text)
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
static void state_message(rooms_t *r, room_t *room, const char *by,
                          const json_t *old_mode)
{
    const room_member_t *m = room_member(room, by);
    json_t *mode = json_object_get(room->state, "mode");
    json_t *meta = json_pack("{s:s, s:s, s:s}", "event", "state", "userId", by,
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
    rooms_system_message_meta(r, room, meta, text);
}

/* Applies patch as the user by, or with by NULL as the app's backend (no system message
 * says who changed what: the app posts its own). The caller checked the rights. */
static void patch_state(rooms_t *r, room_t *room, const char *by, const json_t *patch,
                        rooms_done_fn done, void *ud);

void rooms_patch_state(rooms_t *r, room_t *room, const char *by, const json_t *patch,
                       rooms_done_fn done, void *ud)
{
    if (!rooms_may_manage(room, by)) {
        rooms_fail(done, ud, ROOMS_E_FORBIDDEN, "forbidden",
                   "only the host can change the room state");
        return;
    }
    patch_state(r, room, by, patch, done, ud);
}

void rooms_patch_state_app(rooms_t *r, room_t *room, const json_t *patch, rooms_done_fn done,
                           void *ud)
{
    patch_state(r, room, NULL, patch, done, ud);
}

static void patch_state(rooms_t *r, room_t *room, const char *by, const json_t *patch,
                        rooms_done_fn done, void *ud)
{
    if (!json_is_object(patch)) {
        rooms_invalid(done, ud, "patch", "the patch must be a JSON object");
        return;
    }
    json_t *old_mode = rooms_mode_of(room);
    json_t *next = json_merge_patch(room->state, patch);
    char *text = next ? json_dumps(next, JSON_COMPACT) : NULL;
    if (!next || !json_is_object(next) || !text || strlen(text) > r->lim.max_state) {
        json_decref(old_mode);
        json_decref(next);
        free(text);
        rooms_fail(done, ud, ROOMS_E_TOO_LARGE, "payload_too_large",
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
        rooms_over_quota(done, ud, qrc);
        return;
    }
    rooms_quota_count(r, room, room->host_id, grow);
    room->state_bytes += grow;
    json_decref(room->state);
    room->state = next;
    room->state_version++;
    room->last_activity = clock_unix_ms();
    entset_log_state(&room->ents, &r->ent_lim, room->state_version);
    rooms_op_t *op = rooms_op_new(r, room, STORE_ROOM_UPDATE, done, ud);
    /* The event and the answer carry this version's state, whatever follows; the event
     * waits for the commit in the room's versioned outbox (rooms_outbox.c). */
    op->result = json_pack("{s:b, s:O, s:I, s:o}", "success", 1, "state", room->state,
                           "stateVersion", (json_int_t)room->state_version, "currentMode",
                           rooms_mode_of(room));
    json_t *ev = json_pack("{s:O, s:I, s:I, s:o}", "state", room->state, "version",
                           (json_int_t)room->state_version, "stateVersion",
                           (json_int_t)room->state_version, "currentMode", rooms_mode_of(room));
    op->ev = rooms_outbox_push(room, "state", ev, room->state_version, BUS_MEMBER_NONE, 0);
    if (webhooks_wants(r->hooks, WEBHOOK_STATE_CHANGED))
        op->hook =
            json_pack("{s:O, s:o}", "patch", patch, "by", by ? json_string(by) : json_null());
    submit_row(op, room, text);
    if (by) {
        json_t *keys = json_array();
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)patch, k, v) json_array_append_new(keys, json_string(k));
        activity_log_row(r->act, room, ACTIVITY_STATE_CHANGED, by, NULL,
                         json_pack("{s:o}", "keys", keys));
    }
    if (by) state_message(r, room, by, old_mode);
    json_decref(old_mode);
}

/* ---------- the room code ---------- */

static void after_rotate(rooms_op_t *op)
{
    op->result = json_pack("{s:b, s:o}", "success", 1, "room", room_json(op->r, op->room));
}

void rooms_rotate_code(rooms_t *r, room_t *room, const char *by, rooms_done_fn done,
                       void *ud)
{
    if (!rooms_may_manage(room, by)) {
        rooms_fail(done, ud, ROOMS_E_FORBIDDEN, "forbidden",
                   "only the host can change the room code");
        return;
    }
    char code[ROOM_CODE_LEN + 1];
    /* The old code is still registered, so the new one differs from it. */
    if (room_code_generate(code, rooms_rng, rooms_code_taken, r, CODE_TRIES) != 0) {
        rooms_fail(done, ud, ROOMS_E_UNAVAILABLE, "service_unavailable",
                   "no free room code; try again");
        return;
    }
    strmap_del(&r->by_code, room->code); /* the map borrows the key: out before it changes */
    snprintf(room->code, sizeof(room->code), "%s", code);
    strmap_put(&r->by_code, room->code, room);
    rooms_announce(r, room, 0);
    room->last_activity = clock_unix_ms();
    room->state_version++; /* every write of the row is a new version (room_version.h) */
    char link[512];
    snprintf(link, sizeof(link), "%s/?room=%s", r->lim.public_url, room->code);
    rooms_publish(room, BUS_MEMBER_NONE, "room_code",
                  json_pack("{s:s, s:s}", "roomCode", room->code, "joinLink", link));
    rooms_op_t *op = rooms_op_new(r, room, STORE_ROOM_UPDATE, done, ud);
    op->stored = after_rotate;
    submit_row(op, room, json_dumps(room->state, JSON_COMPACT));
}

/* ---------- settings ---------- */

/* The settings a host may change after creation (rooms_update's body). */
static const char *const SETTINGS_KEYS[] = {"name", "maxParticipants", "isPublic"};

/* Says who changed which settings (only those that changed), structured like every
 * system message: metadata {"event": "settings", "userId", "displayName", and the new
 * value of each setting that changed}; content names no user. */
static void settings_message(rooms_t *r, room_t *room, const char *by,
                             const store_room_t *before)
{
    const room_member_t *m = room_member(room, by);
    json_t *meta = json_pack("{s:s, s:s, s:s}", "event", "settings", "userId", by,
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
    json_t *changes = json_deep_copy(meta);
    json_object_del(changes, "event");
    json_object_del(changes, "userId");
    json_object_del(changes, "displayName");
    activity_log_row(r->act, room, ACTIVITY_ROOM_UPDATED, by, NULL, changes);
    if (n == 1)
        snprintf(text, sizeof(text), "the host %s", parts[0]);
    else if (n == 2)
        snprintf(text, sizeof(text), "the host %s and %s", parts[0], parts[1]);
    else
        snprintf(text, sizeof(text), "the host %s, %s and %s", parts[0], parts[1], parts[2]);
    rooms_system_message_meta(r, room, meta, text);
}

static void after_update(rooms_op_t *op)
{
    /* The event carries this change's values, whatever changed since. */
    if (!op->room->deleted) rooms_publish(op->room, BUS_MEMBER_NONE, "room_updated", op->event);
    else json_decref(op->event);
    op->event = NULL;
    op->result = json_pack("{s:b, s:o}", "success", 1, "room", room_json(op->r, op->room));
}

void rooms_update(rooms_t *r, room_t *room, const char *by, const json_t *body,
                  rooms_done_fn done, void *ud)
{
    if (!rooms_may_manage(room, by)) {
        rooms_fail(done, ud, ROOMS_E_FORBIDDEN, "forbidden",
                   "only the host can change the room settings");
        return;
    }
    if (!json_is_object(body)) {
        rooms_fail(done, ud, ROOMS_E_INVALID, "bad_request", "the body must be a JSON object");
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
        rooms_invalid(done, ud, "name", "send at least one of name, maxParticipants, isPublic");
        return;
    }
    json_t *jname = json_object_get(body, "name");
    json_t *jcap = json_object_get(body, "maxParticipants");
    json_t *jpub = json_object_get(body, "isPublic");
    if (jname && (!json_is_string(jname) ||
                  !room_name_valid(json_string_value(jname), json_string_length(jname)))) {
        rooms_invalid(done, ud, "name", "name must be 1 to 100 characters");
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
            rooms_invalid(done, ud, "maxParticipants", msg);
            return;
        }
    }
    if (jpub && !json_is_boolean(jpub)) {
        rooms_invalid(done, ud, "isPublic", "isPublic must be a boolean");
        return;
    }
    store_room_t before;
    rooms_fill_room(&before, room, NULL);
    if (jname) snprintf(room->name, sizeof(room->name), "%s", json_string_value(jname));
    if (jcap) room->capacity = (uint32_t)json_integer_value(jcap);
    if (jpub) room->is_public = json_is_true(jpub);
    room->last_activity = clock_unix_ms();
    room->state_version++; /* every write of the row is a new version (room_version.h) */
    rooms_op_t *op = rooms_op_new(r, room, STORE_ROOM_UPDATE, done, ud);
    op->event = json_pack("{s:s, s:I, s:b, s:s}", "name", room->name, "maxParticipants",
                          (json_int_t)room->capacity, "isPublic", room->is_public, "by",
                          by);
    op->stored = after_update;
    submit_row(op, room, json_dumps(room->state, JSON_COMPACT));
    settings_message(r, room, by, &before);
}
