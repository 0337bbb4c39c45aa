/* entity_set.c: a room's entities and the rules of their changes (see entity_set.h). */
#include "domain/entity_set.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_patch.h"
#include "util/mem.h"

void entset_init(entity_set_t *s, uint64_t seed, int64_t version)
{
    memset(s, 0, sizeof(*s));
    strmap_init(&s->by_id, seed);
    s->base = version;
}

void entity_free(entity_t *e)
{
    if (!e) return;
    json_decref(e->data);
    json_decref(e->pending);
    free(e->pending_by);
    free(e->lock);
    free(e);
}

void entset_free(entity_set_t *s)
{
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&s->by_id, &i, &k, &v);) {
        entity_t *e = v;
        CH_ASSERT(e->writes == 0 && !e->on_due_list);
        entity_free(e);
    }
    strmap_free(&s->by_id);
    for (size_t i = 0; i < s->log_alloc; i++)
        free(s->log[i].id);
    free(s->log);
    memset(s, 0, sizeof(*s));
}

entity_t *entset_get(const entity_set_t *s, const char *id)
{
    return strmap_get(&s->by_id, id);
}

entity_t *entset_insert_loaded(entity_set_t *s, const store_entity_t *row)
{
    if (!entity_id_valid(row->id) || entset_get(s, row->id)) return NULL;
    json_t *data = row->data ? json_loads(row->data, 0, NULL) : NULL;
    if (!json_is_object(data)) {
        json_decref(data);
        return NULL;
    }
    entity_t *e = ch_calloc(1, sizeof(*e));
    snprintf(e->id, sizeof(e->id), "%s", row->id);
    snprintf(e->kind, sizeof(e->kind), "%s", row->kind);
    snprintf(e->owner, sizeof(e->owner), "%s", row->owner);
    e->data = data;
    e->version = row->version;
    e->state_version = row->state_version;
    e->created_at = row->created_at;
    e->updated_at = row->updated_at;
    e->owner_only = row->owner_only != 0;
    strmap_put(&s->by_id, e->id, e);
    s->count++;
    return e;
}

static int name_valid(const char *id, size_t max)
{
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)id; *p; p++, n++) {
        unsigned char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                 (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == '.' || ch == ':';
        if (!ok || n >= max) return 0;
    }
    return n > 0;
}

int entity_id_valid(const char *id)
{
    return name_valid(id, STORE_ENTITY_ID_LEN - 1);
}

int entity_kind_valid(const char *kind)
{
    return name_valid(kind, STORE_ENTITY_KIND_LEN - 1);
}

/* The compact JSON size of v, or SIZE_MAX when it cannot be encoded. */
static size_t json_size(const json_t *v)
{
    size_t n = json_dumpb(v, NULL, 0, JSON_COMPACT);
    return n ? n : SIZE_MAX;
}

static int data_check(const json_t *data, const entity_limits_t *lim)
{
    if (!json_is_object(data)) return ENT_INVALID;
    if (json_depth_exceeds(data, lim->max_depth) || json_size(data) > lim->max_bytes)
        return ENT_TOO_LARGE;
    return ENT_OK;
}

int entity_patch_check(const json_t *patch, const entity_limits_t *lim)
{
    if (!json_is_object(patch)) return ENT_INVALID;
    if (json_depth_exceeds(patch, lim->max_depth) || json_size(patch) > lim->max_patch)
        return ENT_TOO_LARGE;
    return ENT_OK;
}

/* ---------- the change log ---------- */

static void log_change(entity_set_t *s, const entity_limits_t *lim, int64_t v, const char *id)
{
    size_t cap = lim->log_window;
    if (cap == 0) { /* nothing is remembered: sync answers full for any old version */
        s->base = v;
        return;
    }
    if (s->log_len == s->log_alloc && s->log_alloc < cap) {
        /* Not wrapped yet (entries run in order from 0), so growing keeps the order. */
        size_t n = s->log_alloc ? s->log_alloc * 2 : 16;
        if (n > cap) n = cap;
        s->log = ch_realloc(s->log, n * sizeof(*s->log));
        memset(s->log + s->log_alloc, 0, (n - s->log_alloc) * sizeof(*s->log));
        s->log_head = s->log_len;
        s->log_alloc = n;
    }
    entity_change_t *c = &s->log[s->log_head];
    if (s->log_len == s->log_alloc) { /* full: the oldest change is forgotten */
        if (c->version > s->base) s->base = c->version;
    } else {
        s->log_len++;
    }
    free(c->id);
    c->id = id ? ch_strdup(id) : NULL;
    c->version = v;
    s->log_head = (s->log_head + 1) % s->log_alloc;
}

void entset_log_state(entity_set_t *s, const entity_limits_t *lim, int64_t v)
{
    log_change(s, lim, v, NULL);
}

/* ---------- changes ---------- */

int entset_create(entity_set_t *s, const entity_limits_t *lim, const char *id,
                  const char *kind, const char *owner, const json_t *data, int64_t v,
                  int64_t now, entity_t **out)
{
    *out = entset_get(s, id);
    if (*out) return ENT_EXISTS;
    if (s->count >= lim->max_count) return ENT_TOO_MANY;
    int rc = data_check(data, lim);
    if (rc != ENT_OK) return rc;
    entity_t *e = ch_calloc(1, sizeof(*e));
    snprintf(e->id, sizeof(e->id), "%s", id);
    snprintf(e->kind, sizeof(e->kind), "%s", kind);
    snprintf(e->owner, sizeof(e->owner), "%s", owner);
    e->data = json_deep_copy(data);
    e->version = 1;
    e->state_version = v;
    e->created_at = e->updated_at = now;
    strmap_put(&s->by_id, e->id, e);
    s->count++;
    log_change(s, lim, v, e->id);
    *out = e;
    return ENT_OK;
}

int entset_update(entity_set_t *s, const entity_limits_t *lim, entity_t *e,
                  const json_t *patch, int64_t base_version, int64_t v, int64_t now)
{
    if (base_version >= 0 && base_version != e->version) return ENT_CONFLICT;
    json_t *next = json_merge_patch(e->data, patch);
    int rc = data_check(next, lim);
    if (rc != ENT_OK) {
        json_decref(next);
        return rc == ENT_INVALID ? ENT_INVALID : ENT_TOO_LARGE;
    }
    json_decref(e->data);
    e->data = next;
    e->version++;
    e->state_version = v;
    e->updated_at = now;
    log_change(s, lim, v, e->id);
    return ENT_OK;
}

void entset_remove(entity_set_t *s, const entity_limits_t *lim, entity_t *e, int64_t v)
{
    strmap_del(&s->by_id, e->id);
    s->count--;
    e->removed = 1;
    entity_unlock(e);
    json_decref(e->pending);
    e->pending = NULL;
    e->pending_from = BUS_MEMBER_NONE;
    log_change(s, lim, v, e->id);
}

/* ---------- transient updates ---------- */

static uint64_t interval_ms(const entity_limits_t *lim)
{
    if (!lim->transient_rate) return 0;
    uint64_t gap = 1000 / lim->transient_rate;
    return gap ? gap : 1;
}

uint64_t entity_pending_due(const entity_t *e, const entity_limits_t *lim)
{
    if (!e->pending) return 0;
    uint64_t due = e->last_applied_ms ? e->last_applied_ms + interval_ms(lim) : 1;
    return due ? due : 1;
}

int entity_transient(entity_t *e, const entity_limits_t *lim, const json_t *patch,
                     bus_member_t from, const char *by, uint64_t now_ms, uint64_t *due_ms)
{
    json_t *next = json_merge_patch(e->pending ? e->pending : e->data, patch);
    if (data_check(next, lim) != ENT_OK) {
        json_decref(next);
        return ENT_TOO_LARGE;
    }
    json_decref(e->pending);
    e->pending = next;
    e->pending_from = from;
    /* Kept while the same user sends, the common case: no copy per update. */
    if (!by || !e->pending_by || strcmp(e->pending_by, by) != 0) {
        free(e->pending_by);
        e->pending_by = by ? ch_strdup(by) : NULL;
    }
    uint64_t due = entity_pending_due(e, lim);
    *due_ms = due < now_ms ? now_ms : due;
    return ENT_OK;
}

int entset_apply_pending(entity_set_t *s, const entity_limits_t *lim, entity_t *e,
                         uint64_t now_ms, int64_t v, int64_t now)
{
    if (!e->pending) return 0;
    json_t *next = e->pending;
    e->pending = NULL;
    e->last_applied_ms = now_ms ? now_ms : 1;
    if (json_equal(next, e->data)) {
        json_decref(next);
        return 0;
    }
    json_decref(e->data);
    e->data = next;
    e->state_version = v;
    e->updated_at = now;
    log_change(s, lim, v, e->id);
    return 1;
}

/* ---------- locks ---------- */

int entity_may_change(const entity_t *e, bus_member_t holder, uint64_t now_ms)
{
    return !e->lock || e->lock->holder == holder || now_ms >= e->lock->until_ms;
}

int entity_may_edit(const entity_t *e, const char *user_id, int is_host)
{
    return !e->owner_only || is_host || strcmp(e->owner, user_id) == 0;
}

/* 1 when e's lock is holder's and still running at now_ms: a renewal. */
static int renewal(const entity_t *e, bus_member_t holder, uint64_t now_ms)
{
    return e->lock && e->lock->holder == holder && now_ms < e->lock->until_ms;
}

int entity_lock_check(entity_t *e, bus_member_t holder, const char *user_id,
                      const entity_limits_t *lim, uint64_t now_ms, uint64_t *ttl_ms)
{
    int renew = renewal(e, holder, now_ms);
    if (!renew && now_ms < e->rest_until_ms && strcmp(e->rest_user, user_id) == 0)
        return ENT_HOLD_USED;
    uint64_t since = renew ? e->lock->since_ms : now_ms;
    uint64_t end = since + lim->lock_max_hold;
    if (end <= now_ms) return ENT_HOLD_USED;
    if (*ttl_ms > end - now_ms) {
        *ttl_ms = end - now_ms;
        snprintf(e->rest_user, sizeof(e->rest_user), "%s", user_id);
        e->rest_until_ms = end + ENTITY_LOCK_REST_MS;
    }
    return ENT_OK;
}

void entity_lock(entity_t *e, bus_member_t holder, const char *user_id,
                 const char *display_name, uint64_t ttl_ms, uint64_t now_ms, int64_t now)
{
    if (renewal(e, holder, now_ms)) {
        /* Moved by the monotonic difference, so a renewal to the same end (a cut one)
         * gives the same expiresAt. */
        e->lock->expires_at += (int64_t)(now_ms + ttl_ms) - (int64_t)e->lock->until_ms;
        e->lock->until_ms = now_ms + ttl_ms;
        return;
    }
    if (!e->lock) e->lock = ch_calloc(1, sizeof(*e->lock));
    e->lock->since_ms = now_ms;
    entity_lock_t *l = e->lock;
    l->holder = holder;
    snprintf(l->user_id, sizeof(l->user_id), "%s", user_id);
    snprintf(l->display_name, sizeof(l->display_name), "%s", display_name);
    l->until_ms = now_ms + ttl_ms;
    l->expires_at = now + (int64_t)ttl_ms;
}

void entity_unlock(entity_t *e)
{
    free(e->lock);
    e->lock = NULL;
}

int entity_lock_expired(const entity_t *e, uint64_t now_ms)
{
    return e->lock && now_ms >= e->lock->until_ms;
}

int entity_may_set_owner_only(const entity_t *e, const char *user_id, int is_host)
{
    return is_host || strcmp(e->owner, user_id) == 0;
}

int entity_delete_check(const entity_t *e, bus_member_t holder, const char *user_id, int is_host,
                        uint64_t now_ms)
{
    if (!entity_may_edit(e, user_id, is_host)) return ENT_FORBIDDEN;
    if (!is_host && !entity_may_change(e, holder, now_ms)) return ENT_LOCKED;
    return ENT_OK;
}

int entity_lock_take(entity_t *e, const entity_limits_t *lim, bus_member_t holder,
                     const char *user_id, const char *display_name, int is_host,
                     uint64_t ttl_ms, uint64_t now_ms, int64_t now)
{
    if (!entity_may_edit(e, user_id, is_host)) return ENT_FORBIDDEN;
    if (!entity_may_change(e, holder, now_ms)) return ENT_LOCKED;
    if (entity_lock_check(e, holder, user_id, lim, now_ms, &ttl_ms) != ENT_OK)
        return ENT_HOLD_USED;
    entity_lock(e, holder, user_id, display_name, ttl_ms, now_ms, now);
    return ENT_OK;
}

int entity_unlock_check(const entity_t *e, bus_member_t holder, int is_host, int force,
                        uint64_t now_ms, int *broken)
{
    *broken = 0;
    if (force && !is_host) return ENT_FORBIDDEN;
    int mine = !e->lock || entity_may_change(e, holder, now_ms);
    if (!mine && !force) return ENT_LOCKED;
    *broken = !mine;
    return ENT_OK;
}

/* ---------- JSON ---------- */

json_t *entity_lock_json(const entity_lock_t *l)
{
    return json_pack("{s:s, s:s, s:I}", "userId", l->user_id, "displayName", l->display_name,
                     "expiresAt", (json_int_t)l->expires_at);
}

json_t *entity_json(const entity_t *e)
{
    json_t *j = json_pack("{s:s, s:s, s:O, s:s, s:I, s:I, s:I, s:I}", "id", e->id, "kind",
                          e->kind, "data", e->data, "owner", e->owner, "version",
                          (json_int_t)e->version, "stateVersion",
                          (json_int_t)e->state_version, "createdAt",
                          (json_int_t)e->created_at, "updatedAt", (json_int_t)e->updated_at);
    if (e->lock) json_object_set_new(j, "lock", entity_lock_json(e->lock));
    if (e->owner_only) json_object_set_new(j, "ownerOnly", json_true());
    return j;
}

static int by_state_version(const void *a, const void *b)
{
    const entity_t *x = *(entity_t *const *)a, *y = *(entity_t *const *)b;
    return (x->state_version > y->state_version) - (x->state_version < y->state_version);
}

json_t *entset_json(const entity_set_t *s)
{
    json_t *arr = json_array();
    if (!s->count) return arr;
    entity_t **all = ch_malloc(s->count * sizeof(*all));
    size_t n = 0;
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&s->by_id, &i, &k, &v);)
        all[n++] = v;
    qsort(all, n, sizeof(*all), by_state_version);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, entity_json(all[i]));
    free(all);
    return arr;
}

json_t *entset_locks_json(const entity_set_t *s)
{
    json_t *arr = json_array();
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&s->by_id, &i, &k, &v);) {
        const entity_t *e = v;
        if (!e->lock) continue;
        json_t *l = entity_lock_json(e->lock);
        json_object_set_new(l, "id", json_string(e->id));
        json_array_append_new(arr, l);
    }
    return arr;
}

json_t *entset_sync(const entity_set_t *s, int64_t since, int64_t current, const json_t *state)
{
    return entset_sync_page(s, since, since, current, state, SIZE_MAX);
}

/* One item of a sync answer: a live entity (e) or an id deleted at version (e NULL). */
typedef struct {
    int64_t version;
    const entity_t *e;
    const char *id;
} sync_item_t;

static int by_item_version(const void *a, const void *b)
{
    const sync_item_t *x = a, *y = b;
    return (x->version > y->version) - (x->version < y->version);
}

/* Bytes an item takes in the answer, at most (the entity's fields besides data and lock
 * come to under 400 bytes; a lock under 300). */
static size_t item_bytes(const sync_item_t *it)
{
    if (!it->e) return 64 + strlen(it->id);
    char *data = json_dumps(it->e->data, JSON_COMPACT);
    size_t n = 400 + (it->e->lock ? 300 : 0) + strlen(it->e->id) + strlen(it->e->kind) +
               strlen(it->e->owner) + (data ? strlen(data) : 0);
    free(data);
    return n;
}

json_t *entset_sync_page(const entity_set_t *s, int64_t since, int64_t cursor, int64_t current,
                         const json_t *state, size_t budget)
{
    if (since == current)
        return json_pack("{s:s, s:I, s:o}", "type", "up_to_date", "stateVersion",
                         (json_int_t)current, "locks", entset_locks_json(s));
    /* Live entities changed above since come from the set; deletions from the log, which
     * knows them above base only. They are needed above since, and in the pages that
     * continue a full answer above its cursor (the version it was taken at). */
    int64_t need = since > cursor ? since : cursor;
    int full = since > current || cursor > current || need < s->base;
    int64_t after = full ? INT64_MIN : since;
    int64_t dels = full ? current : need;
    /* With since in the log (a delta), the live entities changed since are in it too
     * (each at its last change), so only the log is read; else the whole set. */
    int from_log = !full && since >= s->base;
    sync_item_t *items = ch_malloc((s->count + s->log_len + 1) * sizeof(*items));
    size_t n = 0;
    const char *k;
    void *v;
    for (size_t i = 0; !from_log && strmap_next(&s->by_id, &i, &k, &v);) {
        const entity_t *e = v;
        if (e->state_version > after) items[n++] = (sync_item_t){e->state_version, e, e->id};
    }
    /* Newest first, so each id is taken at its last change. */
    strmap_t seen;
    strmap_init(&seen, (uint64_t)(uintptr_t)s ^ (uint64_t)current);
    int state_changed = full;
    int64_t stop = from_log ? since : dels;
    for (size_t j = 0; j < s->log_len; j++) {
        const entity_change_t *c = &s->log[(s->log_head + s->log_alloc - 1 - j) % s->log_alloc];
        if (c->version <= stop) break;
        if (!c->id) {
            if (c->version > dels) state_changed = 1;
            continue;
        }
        if (strmap_get(&seen, c->id)) continue;
        strmap_put(&seen, c->id, (void *)c);
        const entity_t *e = entset_get(s, c->id);
        /* An id deleted and created again since: the live entity is its last change. */
        if (e && e->state_version >= c->version) {
            if (from_log) items[n++] = (sync_item_t){e->state_version, e, e->id};
        } else if (c->version > dels) {
            items[n++] = (sync_item_t){c->version, NULL, c->id};
        }
    }
    qsort(items, n, sizeof(*items), by_item_version);
    /* The oldest items that fit (at least one); the state counts against the budget. */
    size_t used = 0, fit = 0;
    if (state_changed) {
        char *st = json_dumps(state, JSON_COMPACT);
        used = st ? strlen(st) : 0;
        free(st);
    }
    for (; fit < n; fit++) {
        size_t len = item_bytes(&items[fit]);
        if (fit > 0 && (used >= budget || len > budget - used)) break;
        used += len;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < fit; i++)
        json_array_append_new(arr, items[i].e ? entity_json(items[i].e)
                                              : json_pack("{s:s, s:b, s:I}", "id", items[i].id,
                                                          "deleted", 1, "stateVersion",
                                                          (json_int_t)items[i].version));
    int64_t upto = fit < n ? items[fit - 1].version : current;
    json_t *j = json_pack("{s:s, s:I, s:o, s:o}", "type", full ? "full" : "delta",
                          "stateVersion", (json_int_t)upto, full ? "entities" : "changes", arr,
                          "locks", entset_locks_json(s));
    if (state_changed) json_object_set(j, "state", (json_t *)state);
    if (fit < n) {
        json_object_set_new(j, "more", json_true());
        json_object_set_new(j, "cursor", json_integer(full ? current : dels));
    }
    strmap_free(&seen);
    free(items);
    return j;
}
