/* entity_set.h: the entities of one room (its shared scene state) and the rules of their
 * changes: creation with limits, RFC 7396 merge patches with optional baseVersion
 * conflicts, transient updates coalesced to a bounded rate, locks with expiry, and the
 * change log that answers "what changed since version N" (sync). Pure: no I/O, no clock;
 * the caller passes times in and hands out the room's state versions (the counter is the
 * room's, shared with its state patches). entities.c does the storing and the sending. */
#ifndef CHORUS_ENTITY_SET_H
#define CHORUS_ENTITY_SET_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bus/bus.h"
#include "store/store.h"
#include "util/strmap.h"

/* Results. */
enum {
    ENT_OK = 0,
    ENT_EXISTS = -1,    /* create: the id is taken */
    ENT_TOO_MANY = -2,  /* create: the room holds max_count entities */
    ENT_TOO_LARGE = -3, /* the data (or the patch) is over its limit or too deep */
    ENT_CONFLICT = -4,  /* update: baseVersion is not the entity's version */
    ENT_INVALID = -5,   /* the data or the patch is not a JSON object */
    ENT_HOLD_USED = -6, /* lock: the user's lock reached lock_max_hold; others get a turn */
    ENT_FORBIDDEN = -7, /* the caller may not: ownerOnly, or what only the host may do */
    ENT_LOCKED = -8,    /* someone else's lock runs */
};

typedef struct {
    uint32_t max_count;      /* entities per room */
    size_t max_bytes;        /* compact JSON of an entity's data */
    size_t max_patch;        /* compact JSON of one patch */
    int max_depth;           /* nesting of data and patches */
    uint32_t transient_rate; /* transient batches applied per entity per second; 0 = no cap */
    size_t log_window;       /* changes remembered for sync */
    uint64_t lock_max_ttl;   /* ms */
    uint64_t lock_max_hold;  /* ms a lock may last from when it was taken, renewals included */
} entity_limits_t;

#define ENTITY_LIMITS_DEFAULT                                                                  \
    ((entity_limits_t){1000, 16384, 8192, 32, 20, 1000, 300000, 600000})

/* After a lock was cut at lock_max_hold, its user may not lock that entity again for this
 * long after the cut (30 s, the default lock ttl: a turn for the others). */
#define ENTITY_LOCK_REST_MS 30000

/* A lock: one connection's exclusive right to change an entity until a time. */
typedef struct {
    bus_member_t holder;            /* the connection */
    char user_id[STORE_SUB_LEN];
    char display_name[STORE_NAME_LEN];
    uint64_t until_ms;              /* on the caller's monotonic clock */
    uint64_t since_ms;              /* when the holder took it (renewals keep it) */
    int64_t expires_at;             /* unix ms, for clients */
} entity_lock_t;

typedef struct entity_s entity_t;
struct entity_s {
    char id[STORE_ENTITY_ID_LEN];
    char kind[STORE_ENTITY_KIND_LEN];
    char owner[STORE_SUB_LEN];
    json_t *data;                   /* owned object */
    int64_t version;                /* durable changes (1 after create) */
    int64_t state_version;          /* the room state version of its last change */
    int64_t created_at, updated_at; /* unix ms */
    entity_lock_t *lock;            /* owned; NULL when unlocked */
    unsigned owner_only : 1;        /* only the owner and the room's host may change it */
    /* The user whose lock was cut at lock_max_hold, who may not lock it again before
     * rest_until_ms (monotonic; see entity_lock_check). */
    char rest_user[STORE_SUB_LEN];
    uint64_t rest_until_ms;
    /* Transient updates not applied yet: data with them merged (owned), the connection
     * that sent the last one (BUS_MEMBER_NONE once it is gone), that sender's user (owned:
     * the "by" of the change, as the sender's op named it), and when the last batch was
     * applied (monotonic ms, 0 = never). */
    json_t *pending;
    bus_member_t pending_from;
    char *pending_by;
    uint64_t last_applied_ms;
    /* Bookkeeping of entities.c (the pure functions leave it alone, except that
     * entset_remove sets removed). */
    void *room;                     /* the room_t it belongs to */
    uint32_t writes;                /* store writes in flight */
    int64_t stored_bytes;           /* its row as the quotas count it (0: not stored) */
    unsigned removed : 1;           /* out of the set; freed once writes is 0 and it is
                                     * off the due list */
    unsigned write_again : 1;       /* changed while a write of it was in flight: written
                                     * (as a new version) once that write answers */
    unsigned on_due_list : 1;       /* held transient changes wait for their time */
    entity_t *due_next;
};

/* One remembered change: an entity's id, or NULL for the room's own state. */
typedef struct {
    int64_t version;
    char *id;                       /* owned */
} entity_change_t;

typedef struct {
    strmap_t by_id;                 /* id -> entity_t (keys are the entities' ids) */
    uint32_t count;
    /* The change log: a ring of the last log_window changes, grown on demand. Every
     * change above `base` is in it, so it can answer sync for any version >= base. */
    entity_change_t *log;
    size_t log_alloc, log_len, log_head;
    int64_t base;
} entity_set_t;

/* Initialises s empty, able to answer sync from version (the room's current state
 * version: changes before it are not known). seed keys the id hash. */
void entset_init(entity_set_t *s, uint64_t seed, int64_t version);

/* Frees every entity still in s (none may have writes in flight or be on a due list)
 * and the log. */
void entset_free(entity_set_t *s);

/* Frees e (out of its set). */
void entity_free(entity_t *e);

entity_t *entset_get(const entity_set_t *s, const char *id);

/* Adds an entity read back from the store (not a change: nothing is logged). Returns
 * the entity, or NULL when its row is unusable (a bad id or data that is not a JSON
 * object) or the id is already present. */
entity_t *entset_insert_loaded(entity_set_t *s, const store_entity_t *row);

/* Returns 1 when id is a valid entity id (1-128 bytes of A-Z a-z 0-9 _ - . :), else 0.
 * The same rule holds for kinds, with 64 bytes. */
int entity_id_valid(const char *id);
int entity_kind_valid(const char *kind);

/* Checks a patch (borrowed) against lim: ENT_OK, ENT_INVALID (not an object) or
 * ENT_TOO_LARGE (over max_patch or max_depth). */
int entity_patch_check(const json_t *patch, const entity_limits_t *lim);

/* Creates an entity: id, kind (both valid), owner and data (borrowed object; copied) at
 * state version v and time now (unix ms). Returns ENT_OK with *out (owned by s), or
 * ENT_EXISTS (*out = the existing entity), ENT_TOO_MANY, ENT_TOO_LARGE, ENT_INVALID.
 * Logs the change on success. */
int entset_create(entity_set_t *s, const entity_limits_t *lim, const char *id,
                  const char *kind, const char *owner, const json_t *data, int64_t v,
                  int64_t now, entity_t **out);

/* Applies patch (borrowed, checked with entity_patch_check) to e's data as a durable
 * change: with base_version >= 0 only when e->version equals it (else ENT_CONFLICT).
 * ENT_TOO_LARGE when the result would pass max_bytes (nothing changes then). On ENT_OK,
 * version + 1, state_version = v, updated_at = now, and the change is logged. The caller
 * applies held transient changes first (entset_apply_pending). */
int entset_update(entity_set_t *s, const entity_limits_t *lim, entity_t *e,
                  const json_t *patch, int64_t base_version, int64_t v, int64_t now);

/* Takes e out of s as a change at version v (logged); e is not freed: the caller frees
 * it once nothing refers to it. Drops its lock and held transient changes. */
void entset_remove(entity_set_t *s, const entity_limits_t *lim, entity_t *e, int64_t v);

/* Logs a change of the room's own state at version v. */
void entset_log_state(entity_set_t *s, const entity_limits_t *lim, int64_t v);

/* Merges a transient patch (borrowed, checked) from connection from, of user by
 * (borrowed, copied; NULL = none), into e's held changes at monotonic time now_ms.
 * Returns ENT_OK with *due_ms, when the held changes must be applied
 * (entset_apply_pending): now_ms or earlier means at once; or ENT_TOO_LARGE (the data
 * would pass max_bytes; nothing changes). */
int entity_transient(entity_t *e, const entity_limits_t *lim, const json_t *patch,
                     bus_member_t from, const char *by, uint64_t now_ms, uint64_t *due_ms);

/* When e's held changes are due (monotonic ms), or 0 when none are held. */
uint64_t entity_pending_due(const entity_t *e, const entity_limits_t *lim);

/* Applies e's held transient changes as a change at version v (logged; version is not
 * raised: it counts durable changes). Returns 1 when something was applied, 0 when
 * nothing was held or the held data equals the current data (no change then). */
int entset_apply_pending(entity_set_t *s, const entity_limits_t *lim, entity_t *e,
                         uint64_t now_ms, int64_t v, int64_t now);

/* Locks. entity_may_change: 1 when holder may update or delete e at now_ms (no lock, an
 * expired one, or its own), else 0. */
int entity_may_change(const entity_t *e, bus_member_t holder, uint64_t now_ms);

/* 1 when user_id may change e (update, delete, lock) under its ownerOnly flag: anyone
 * when it is off, else its owner and the room's host (is_host). */
int entity_may_edit(const entity_t *e, const char *user_id, int is_host);

/* Checks a lock request by holder (user_id) for *ttl_ms at now_ms, after entity_may_change:
 * ENT_OK with *ttl_ms cut so that the lock ends at most lim->lock_max_hold after it was
 * taken (a renewal by the holder keeps the time it was taken; a cut also makes user_id
 * rest: no new lock of e until ENTITY_LOCK_REST_MS after the cut end), or ENT_HOLD_USED
 * when user_id rests or its hold is used up. */
int entity_lock_check(entity_t *e, bus_member_t holder, const char *user_id,
                      const entity_limits_t *lim, uint64_t now_ms, uint64_t *ttl_ms);

/* Gives e's lock to holder (as user_id / display_name) for ttl_ms from now_ms (unix time
 * now for expires_at); a renewal by the holder keeps since_ms. The caller checked
 * entity_may_change (and entity_lock_check for the hold). */
void entity_lock(entity_t *e, bus_member_t holder, const char *user_id,
                 const char *display_name, uint64_t ttl_ms, uint64_t now_ms, int64_t now);

void entity_unlock(entity_t *e);

/* 1 when e has a lock that ran out by now_ms (monotonic; the rooms tick ends it), else 0. */
int entity_lock_expired(const entity_t *e, uint64_t now_ms);

/* 1 when user_id may set e's ownerOnly flag: its owner and the room's host (is_host). */
int entity_may_set_owner_only(const entity_t *e, const char *user_id, int is_host);

/* Whether holder (as user_id; is_host: the room's host) may delete e at now_ms: ENT_OK,
 * ENT_FORBIDDEN (entity_may_edit says no) or ENT_LOCKED (someone else's lock runs; the
 * host deletes a locked entity all the same). The caller drops the lock. */
int entity_delete_check(const entity_t *e, bus_member_t holder, const char *user_id, int is_host,
                        uint64_t now_ms);

/* Takes or renews e's lock for holder (as user_id / display_name; is_host: the room's
 * host) for ttl_ms from now_ms (monotonic; now: unix ms, for expiresAt), in the order of
 * the rules: ENT_FORBIDDEN (entity_may_edit), ENT_LOCKED (entity_may_change: someone
 * else's lock runs), ENT_HOLD_USED (entity_lock_check), else ENT_OK with e->lock holder's,
 * its ttl cut at lock_max_hold. Borrows the strings (copied). */
int entity_lock_take(entity_t *e, const entity_limits_t *lim, bus_member_t holder,
                     const char *user_id, const char *display_name, int is_host,
                     uint64_t ttl_ms, uint64_t now_ms, int64_t now);

/* Whether holder (is_host: the room's host) may end e's lock at now_ms; force asks to
 * break someone else's. ENT_FORBIDDEN when force comes from another than the host;
 * ENT_LOCKED when someone else's lock runs and force is not set; else ENT_OK with
 * *broken 1 when that lock is broken (0: holder's own, an expired one, or none). The
 * caller ends the lock (entity_unlock) after telling why. */
int entity_unlock_check(const entity_t *e, bus_member_t holder, int is_host, int force,
                        uint64_t now_ms, int *broken);

/* Entity JSON as in the protocol (new reference), with "lock" while e has one. */
json_t *entity_json(const entity_t *e);

/* The lock of e as {"userId", "displayName", "expiresAt"} (new reference); e is locked. */
json_t *entity_lock_json(const entity_lock_t *l);

/* The answer to sync from version since, when the room is at version current with state
 * (borrowed object). Returns a new object: {"type": "up_to_date" | "delta" | "full",
 * "stateVersion": current, ...} as docs/protocol.md describes. */
json_t *entset_sync(const entity_set_t *s, int64_t since, int64_t current, const json_t *state);

/* entset_sync as a page of at most budget bytes of entities, changes and state (at least
 * one entity or change). Items go in the order of their last change; when the budget
 * cuts them, the answer holds the oldest that fit, its "stateVersion" is the version of
 * the last one, and it carries "more": true and "cursor": the caller continues with
 * entset_sync_page(s, that stateVersion, that cursor, ...), which answers a delta (a
 * "full" only when the log no longer reaches the cursor: start again). cursor = since
 * asks for a first page. Returns a new object. */
json_t *entset_sync_page(const entity_set_t *s, int64_t since, int64_t cursor, int64_t current,
                         const json_t *state, size_t budget);

/* Every entity as a JSON array, oldest change first (new reference). */
json_t *entset_json(const entity_set_t *s);

/* Every current lock as [{"id", "userId", "displayName", "expiresAt"}] (new reference). */
json_t *entset_locks_json(const entity_set_t *s);

#endif
