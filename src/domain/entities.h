/* entities.h: the entity domain: shared scene state of a room. The rules are
 * entity_set.c; this module applies them to a live room: the room's state version, held
 * transient changes and their timer, locks and their expiry, the writes to the store, and
 * the events, queued in the room's ordered outbox (rooms_outbox_push) or, for locks, sent
 * through the bus at once. It takes plain values (the room, the entity, the caller as a
 * bus member, the values, the time) and answers with a result or a domain error; where an
 * entity op from the bus becomes one of these calls is home_entities.c, at the room's
 * home, and the op's frame is sent there by proto_entities.c.
 *
 * Errors are rooms_err_t kinds with the stable protocol codes: ROOMS_E_INVALID
 * validation_error (with the field); ROOMS_E_NOT_FOUND not_found; ROOMS_E_FORBIDDEN
 * forbidden; ROOMS_E_CONFLICT exists, conflict, locked (these carry the entity as it is
 * now, entities_err_t.entity); ROOMS_E_LIMIT too_many_entities, lock_limit;
 * ROOMS_E_TOO_LARGE payload_too_large; ROOMS_E_QUOTA quota_exceeded; ROOMS_E_IO
 * internal_error (the store failed; only through a completion). */
#ifndef CHORUS_ENTITIES_H
#define CHORUS_ENTITIES_H

#include <stdint.h>

#include <jansson.h>

#include "bus/bus.h"
#include "util/config.h"
#include "domain/entity_set.h"
#include "domain/home.h"
#include "domain/rooms.h"
#include "store/store.h"

/* The default ttl of a lock, in ms. */
#define ENTITIES_LOCK_TTL_DEFAULT 30000

/* Who asks for an entity operation, and when. Everything borrowed for the call. */
typedef struct {
    bus_member_t member;  /* the connection: holds the locks it takes, sends its transient
                           * changes, and is skipped by the events of its changes */
    const char *user;     /* its user id: owner of what it creates, "by" of events */
    const char *name;     /* its display name, shown by its lock when the user is not a
                           * member of the room (a member shows the member's name) */
    int is_host;          /* 1 when user is the room's host (room_may_manage) */
    uint64_t now_ms;      /* monotonic time (the loop's): locks, transient pacing */
    int64_t unix_ms;      /* wall clock: updatedAt, the room's last activity */
} entities_caller_t;

/* A refused operation: err (the kind, the protocol code, the message and the field; the
 * message may point into msg), and for exists, conflict and locked the entity as it is
 * now (borrowed: valid until the loop runs on), which the answer carries. */
typedef struct {
    rooms_err_t err;
    const entity_t *entity;
    char msg[160];
} entities_err_t;

typedef struct entities_req_s entities_req_t;

/* Completion of a durable change: after the store answered (never from inside the call
 * that started it). err is NULL and result the answer (stolen) on success; err (borrowed
 * for the call) with result NULL when the store failed: the change stays in memory and
 * the others were told. req is the caller's again from this call on. */
typedef void (*entities_done_fn)(entities_req_t *req, const rooms_err_t *err, json_t *result);

/* A durable change in flight: memory the caller provides (embedded in its own context,
 * so the change costs one allocation), untouched until the call that starts it succeeds
 * and owned by entities.c from then until done. Only data is the caller's; the rest is
 * private to entities.c. */
struct entities_req_s {
    void *data;
    entities_done_fn done;     /* NULL: a transient change's write, owned by entities.c */
    json_t *reply;             /* the answer, handed to done after the commit */
    rooms_t *r;
    room_t *room;              /* held */
    entity_t *e;               /* writes counted */
    rooms_outbox_ev_t *ev;     /* the change's event, ready after the commit (or NULL) */
    json_t *hook;              /* its entity.changed data (owned; NULL: no endpoint wants it) */
    uint32_t vepoch;           /* its room_version_write epoch */
    int64_t vbase;             /* and the stored version it follows */
    store_req_t sreq;
    store_rooms_t pl;
};

/* The entities' hooks in rooms (rooms.h): rows loaded at start, limits and the timer of
 * held transient changes, locks released when a member leaves or disconnects, expired
 * locks on the tick, held changes applied at shutdown. */
extern const struct rooms_feature_s entities_feature;

/* Registers the entity ops at the room's home on h (entity_create, entity_update,
 * entity_delete, entity_lock, entity_unlock, sync), working on h's rooms. Defined in
 * home_entities.c. */
void home_entities_register(home_t *h);

/* Limits from the configuration. */
entity_limits_t entities_limits(const chorus_config_t *cfg);

/* Adds an entity row read at start (borrowed) to its room (rows of unknown rooms are
 * skipped). */
void entities_load_row(rooms_t *r, const store_entity_t *row);

/* Returns the live entity id (borrowed) of room, or NULL when there is none. */
entity_t *entities_get(room_t *room, const char *id);

/* Returns 1 when who may change e under its ownerOnly flag, else 0 (forbidden). The
 * change operations check it too; a caller answering a frame asks first, so that it
 * refuses before it reads the frame's other fields. Borrows everything. */
int entities_may_edit(const entity_t *e, const entities_caller_t *who);

/* Durable changes. Each checks the change against the rules, the limits and the quotas,
 * applies it to room as its next state version, queues its "entity" event (sent, except
 * to who->member, once committed and after every earlier versioned event of the room),
 * and writes it to the store. Returns 0: req (the caller's memory, see entities_req_t)
 * is in use until done(req, ...) is called with the answer. Or returns a rooms_errno_t
 * with *err filled: nothing changed, done is not called and req is untouched. Everything
 * else is borrowed. */

/* Creates entity id (NULL: a new UUID; else a valid id) of kind (valid) with data (an
 * object; NULL: {}), ownerOnly set when owner_only is 1 (-1: not given). Answers
 * {"entity"}. */
int entities_create(rooms_t *r, room_t *room, const entities_caller_t *who, const char *id,
                    const char *kind, const json_t *data, int owner_only, entities_req_t *req,
                    entities_done_fn done, entities_err_t *err);

/* Merges patch (a JSON merge patch; NULL when only owner_only is given) into e's data,
 * refused with conflict when base >= 0 is not e's version; sets ownerOnly when owner_only
 * is 0 or 1 (-1: not given). Held transient changes of e are applied first, as their own
 * version. Answers {"entity"}. */
int entities_update(rooms_t *r, room_t *room, entity_t *e, const entities_caller_t *who,
                    const json_t *patch, int64_t base, int owner_only, entities_req_t *req,
                    entities_done_fn done, entities_err_t *err);

/* Deletes e (the host deletes any entity, locked or not: the lock ends with an
 * entity_unlock "deleted" event). Answers {"id", "stateVersion"}. */
int entities_delete(rooms_t *r, room_t *room, entity_t *e, const entities_caller_t *who,
                    entities_req_t *req, entities_done_fn done, entities_err_t *err);

/* Synchronous operations: each returns 0 with *result (a new reference) the answer, or a
 * rooms_errno_t with *err filled and *result NULL. Everything else is borrowed. */

/* A transient change of e: patch merged into what e holds back, applied (sent to the
 * others at once through the outbox, then written) when the room's transient rate
 * allows, else by the timer. Answers {"id", "transient": true}. */
int entities_update_transient(rooms_t *r, room_t *room, entity_t *e,
                              const entities_caller_t *who, const json_t *patch,
                              entities_err_t *err, json_t **result);

/* who takes (or renews) e's lock for ttl ms (-1: ENTITIES_LOCK_TTL_DEFAULT); the others
 * get an entity_lock event. Answers {"id", "lock"}. */
int entities_lock(rooms_t *r, room_t *room, entity_t *e, const entities_caller_t *who,
                  int64_t ttl, entities_err_t *err, json_t **result);

/* Ends e's lock: who's own (an entity_unlock "unlocked" event to the others), or with
 * force the host breaks another's ("broken", to everyone). Answers {"id"}. */
int entities_unlock(rooms_t *r, room_t *room, entity_t *e, const entities_caller_t *who,
                    int force, entities_err_t *err, json_t **result);

/* The answer to sync from version since (>= 0) at cursor (-1: since): a page of at most
 * the reply budget (a new reference; room borrowed). */
json_t *entities_sync(rooms_t *r, room_t *room, int64_t since, int64_t cursor);

/* Adds "entities" to a join reply: the first page of every entity, at most budget bytes
 * (with "entitiesNext": {"version", "cursor"} when more follow, to continue with sync); or
 * with since >= 0 "sync" (the answer to sync from since, a page of budget bytes). data is
 * the reply object (borrowed). */
void entities_join_fields(room_t *room, json_t *data, int64_t since, size_t budget);

/* Releases member's locks in room (an entity_unlock event with reason, "left" or
 * "disconnected", to the others) and forgets member as the sender of held transient
 * changes of room. */
void entities_member_gone(rooms_t *r, room_t *room, bus_member_t member, const char *reason);

/* The home's record (bus_record) of the lock of room's entity id (both borrowed): lock, or
 * none (NULL). */
void entities_lock_record(room_t *room, const char *id, const entity_lock_t *lock);

/* A takeover's restore: the recorded lock of room's entity id by holder (user_id's
 * connection) until expires_at (unix ms; past: it expires at the next tick, with its
 * event) is held again, with no event. Returns 0, or -1 when the entity or the member is
 * gone, or the entity is locked already (nothing done). */
int entities_lock_restore(rooms_t *r, room_t *room, const char *id, bus_member_t holder,
                          const char *user_id, int64_t expires_at);

/* Ends the expired locks of room at monotonic time now_ms (the rooms tick): an
 * entity_unlock "expired" event to everyone for each. */
void entities_tick(room_t *room, uint64_t now_ms);

/* Applies every held transient change now (shutdown: their writes are queued before the
 * store closes). */
void entities_flush(rooms_t *r);

#endif
