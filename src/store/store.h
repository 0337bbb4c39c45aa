/* store.h: durable storage behind one interface, and the contract every backend keeps.
 * Callers build a request, submit it, and get their callback on the loop thread once a
 * worker thread has run it; they never see SQL. A backend (store_sqlite.c, store_pg.c)
 * implements store_backend_t; docs/store.md says the same in prose, what the PostgreSQL
 * backend chose (types, savepoints, gapless seqs, reconnecting), and how to run the
 * conformance suite (tests/unit/store/test_store.c) against a backend.
 *
 * The contract, for every backend:
 *
 * Order. One worker thread owns the backend connection and runs requests one at a time in
 * submission order, so writes are applied in the order the loop issued them and a request
 * sees every write submitted before it. Callbacks run on the loop thread, in submission
 * order, never from inside store_submit.
 *
 * Group commit. The worker takes what is queued (at most 256 requests, in order) and runs
 * it as one transaction: begin, exec of each request, commit. One commit (one log write)
 * then serves the whole batch; the batch's callbacks run after it.
 *
 * Callbacks a slice at a time. A loop iteration runs finished requests' callbacks for at
 * most STORE_DISPATCH_BUDGET_NS (the first one whatever it takes) and leaves the rest, in
 * order, to the next iterations, so a batch that answers 128 joins into rooms of 100 does
 * not hold the loop for all of them (docs/benchmarks.md, issue 17). Each callback still
 * runs whole; other I/O may run between two callbacks of one batch.
 *
 * Atomicity. Each request is all or nothing, and independent of its batch-mates:
 * - STORE_OK: all of its writes are in the transaction.
 * - STORE_ENOTFOUND / STORE_EEXISTS: an answer, not a failure. The request left no change
 *   behind (none of its statements, even when it refused at its second one), and the rest
 *   of the batch still commits. PostgreSQL aborts the whole transaction on any error, so
 *   there each write request that may be refused runs in its own SAVEPOINT and a refusal
 *   rolls back to it; SQLite undoes only the failed statement, so there each request of
 *   several write statements runs in a SAVEPOINT.
 * - STORE_EIO: the database failed (logged by the backend). The store rolls the whole
 *   transaction back and every request of the batch answers STORE_EIO, including those
 *   that ran before it. A backend also answers EIO when a request meets a constraint that
 *   a consistent database cannot meet, so that nothing half-done commits.
 *
 * Durability. When a callback runs, its batch is committed: every later request and a
 * store reopened on the same target see it, and it survives the process being killed. What
 * a power loss may take is the backend's sync setting (SQLite: synchronous=NORMAL in WAL
 * mode may lose the last commits, never corrupts; PostgreSQL: the server's
 * synchronous_commit; see docs/store.md). A commit whose outcome is unknown (PostgreSQL:
 * the connection broke during COMMIT) is STORE_EIO: nothing is acknowledged that is not
 * known to be committed. A backend that lost its connection answers STORE_EIO at once and
 * reconnects by itself (store_pg.c: backoff from 100 ms to 5 s).
 *
 * Inputs. The loop validated every input: fixed fields are NUL-terminated within their
 * STORE_*_LEN (names count code points, so their limits are in bytes of UTF-8), malloc'd
 * strings are NUL-terminated UTF-8 and the JSON ones (state, data, metadata, delta) are
 * valid JSON the backend stores as text without parsing. A backend still reads at most
 * cap - 1 bytes of a fixed field, and cuts a longer stored value at a UTF-8 character
 * boundary when copying it out (only a hand-edited database has one). Times are unix ms
 * (revocations: unix s) taken from the request: a backend never reads the clock. Ids,
 * message seqs and document versions are chosen by the loop; the backend enforces their
 * uniqueness, and that they leave no gap (document versions: both backends; message seqs:
 * PostgreSQL, where several nodes may write).
 *
 * Outputs. Output arrays and strings are malloc'd by the backend and belong to the
 * payload (store_rooms_free, store_docs_free; revokes to the caller). A request that
 * fills outputs replaces what the payload held (freeing it) and leaves them empty when it
 * fails itself (a request failed with EIO because of a batch-mate may have filled them).
 * Callers free payloads whatever err says.
 *
 * Side effects that belong to the contract (each is checked by the conformance suite):
 * - a room's last_activity: set by ROOM_CREATE and ROOM_UPDATE (the caller's value), set
 *   to msg.created_at by MESSAGE_INSERT, raised (never lowered) to ent.updated_at by
 *   ENTITY_PUT and ENTITY_DELETE. Nothing else touches it: not participants, not
 *   documents, not retention.
 * - a room's state_version: set by ROOM_CREATE, and by ROOM_UPDATE (room.state_version),
 *   ENTITY_PUT and ENTITY_DELETE (ent.room_version) only as the room's next version: each
 *   of those three names the stored version it follows (room.state_base, ent.room_base)
 *   and is stored only when the room's stored state_version is exactly that one and the
 *   new version is above it, whichever backend and however many writers. Anything else
 *   (a taken version, a stale one, a base that is not the stored one) is EEXISTS with
 *   nothing changed, and the base field then holds the room's stored state_version, so
 *   the loop learns it. The base is normally the version minus one (no gap); the loop
 *   names an older stored version only to write again what its own failed writes left
 *   out (rooms_version.c), so versions stay unique whoever writes.
 * - the change log (issue 25): ROOM_CREATE, ROOM_UPDATE, ENTITY_PUT and ENTITY_DELETE,
 *   when they answer STORE_OK, also log the change at its state version in the same
 *   request (the room's state, or the entity as written, or its deletion), so that
 *   STATE_AT rebuilds the room at any logged version; RETENTION_SWEEP compacts it
 *   (ret.log_before, ret.log_keep) keeping the latest change of each entity and of the
 *   state at the oldest version kept (the base), so that version stays rebuildable.
 * - deleting a room deletes its participants, messages, documents, op log, entities,
 *   activity rows and change log;
 *   deleting a user deletes neither the rooms it hosts nor what it wrote.
 * - quota bytes (store_usage_t): a message counts STORE_ROW_BYTES + bytes of content +
 *   bytes of metadata for its author ("" for the server); an op STORE_ROW_BYTES + bytes of
 *   delta for its author; a snapshot its bytes for "" (no row bytes); an entity
 *   STORE_ROW_BYTES + bytes of data for its owner; a room's state its bytes for the host.
 *   Bytes, not characters: the loop counts the same way as it writes (rooms.c, docs.c,
 *   entities.c), so a backend that counts otherwise makes quotas drift.
 *
 * Fencing (a cluster's rooms, PostgreSQL; docs/architecture.md, "Fencing"). A room's row
 * holds an epoch, raised by every takeover. A store asked to (store_rooms_t.fence) keeps
 * the epoch of each room it read or created, in its backend connection, and from then on
 * checks it in every transaction that writes that room (ROOM_UPDATE, ROOM_DELETE,
 * PARTICIPANT_PUT / _DELETE, MESSAGE_INSERT, ENTITY_PUT / _DELETE, DOC_OP_INSERT): once per
 * room per batch, under a lock on the room's row held until the commit. An epoch
 * that moved (another node took the room over) answers STORE_EIO to that room's writes
 * in the batch (the backend's STORE_EFENCED): none of them commits and the room's change
 * counter does not move, while the other rooms' writes of the batch commit. A takeover's
 * ROOM_LOAD (STORE_FENCE_CLAIM) raises the epoch before it reads, so it waits for a batch of
 * the old home that holds the lock, reads what it committed, and every later batch of the old
 * home writing the room is refused. The same statement that checks the epoch moves the room's
 * change counter (rooms.changes, answered in req->changes and read by ROOM_LOAD): a takeover
 * that finds it where the home's record says knows the old home made no write after its last
 * recorded one. Rooms the store was not asked to fence (one node; SQLite, which ignores fence)
 * cost no statement. */
#ifndef CHORUS_STORE_H
#define CHORUS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "util/histo.h"
#include "util/log.h"

/* Errors (req->err). 0 is success. ENOTFOUND and EEXISTS left no change behind and do not
 * affect the batch; EIO fails the whole batch (see "Atomicity" above). */
enum {
    STORE_OK = 0,
    STORE_ENOTFOUND = -1, /* no such row (or no such room for a row that needs one) */
    STORE_EEXISTS = -2,   /* a unique key is taken (e.g. email) */
    STORE_EIO = -3,       /* the database failed; details were logged */
    STORE_ECLOSED = -4,   /* submitted after store_close began (the store's, never a
                           * backend's) */
    STORE_ELIMIT = -5,    /* a count the request bounds is at its maximum (ROOM_CREATE's
                           * max_hosted); like EEXISTS, no change and no effect on the batch */
    STORE_EFENCED = -6,   /* a backend's only (store_backend_t.exec): a write of a room another
                           * node took over ("Fencing"); no change, no effect on the rest of
                           * the batch, and answered to the caller as STORE_EIO */
};

/* Sizes of fixed fields, including the NUL. The loop never submits a longer value. */
#define STORE_ID_LEN 37     /* UUID text, 36 chars */
#define STORE_EMAIL_LEN 255 /* RFC 5321 path limit is 254 */
#define STORE_NAME_LEN 129  /* 32 code points of at most 4 bytes */
#define STORE_COLOR_LEN 8   /* "#rrggbb" */
#define STORE_HASH_LEN 128  /* crypto_pwhash_STRBYTES */
#define STORE_IP_LEN 48
#define STORE_EVENT_LEN 32

typedef struct {
    char id[STORE_ID_LEN];
    char email[STORE_EMAIL_LEN]; /* stored lower-cased */
    char username[STORE_NAME_LEN];
    char color[STORE_COLOR_LEN];
    char password_hash[STORE_HASH_LEN];
    int64_t created_at;  /* unix ms */
    int64_t updated_at;  /* unix ms */
    int64_t token_epoch; /* tokens minted carry it ("ep"); raised to revoke them all */
} store_user_t;

typedef enum {
    STORE_USER_CREATE,   /* in: user (all fields). err: EEXISTS when the email or the id is
                          * taken (nothing stored) */
    STORE_USER_BY_EMAIL, /* in: key (email, lower-cased; compared exactly). out: user.
                          * err: ENOTFOUND */
    STORE_USER_BY_ID,    /* in: key (id). out: user. err: ENOTFOUND */
    STORE_USER_UPDATE,   /* in: user.id, fields flagged in update_mask, user.updated_at
                          * (always set). out: the whole updated user. err: ENOTFOUND
                          * (nothing stored, no revocation). With STORE_UPD_EPOCH also
                          * stores the revocation {user, id, the new epoch,
                          * revoke.until_s} as REVOKE_PUT does (same request) */
    STORE_USER_DELETE,   /* in: user.id, revoke.until_s: deletes the account and stores the
                          * revocation {user, id, epoch INT64_MAX, until_s}. Rooms it hosts
                          * and what it wrote stay. err: ENOTFOUND (no revocation stored) */
    STORE_REVOKE_PUT,    /* in: revoke (merged with an existing entry of the same kind
                          * and id: each of epoch and until_s keeps the higher value) */
    STORE_REVOKE_LOAD,   /* in: revoke.until_s = now. out: revokes, nrevokes: every entry
                          * with until_s later, in no set order (malloc'd array: the
                          * caller frees it) */
    STORE_REVOKE_PRUNE,  /* in: revoke.until_s = now: deletes the entries with until_s at
                          * or before it */
    STORE_AUDIT,         /* in: audit ("" user_id, ip, detail: none; count 0 stored as 1).
                          * Only EIO; never fails the caller's flow: errors are logged */
    STORE_AUDIT_PRUNE,   /* in: audit.at (unix ms): deletes the oldest audit rows before it,
                          * at most STORE_AUDIT_PRUNE_BATCH. out: audit.count = rows deleted */
    STORE_AUDIT_RECENT,  /* in: audit.count = how many (1..STORE_AUDIT_RECENT_MAX; more is
                          * capped). out: audits, naudits: the latest rows, newest first
                          * (malloc'd array: the caller frees it) */
    /* Rooms: payload in req->rooms (store_rooms_t, caller-allocated). */
    STORE_ROOM_CREATE,        /* in: room (all fields; state NULL is "{}"), part (the host,
                               * stored in this room whatever part.room_id says), as one
                               * request; max_hosted (0: no bound). err: EEXISTS (id or code
                               * taken; neither the room nor the host stored), ELIMIT (the
                               * host already hosts max_hosted rooms, counted in the same
                               * transaction, across every process sharing the database:
                               * nothing stored) */
    STORE_ROOM_UPDATE,        /* in: room.id and its mutable fields (code, name, capacity,
                               * is_public, state, state_version, last_activity), each set as
                               * given, and room.state_base (the stored version it follows);
                               * host_id and created_at never change. err: ENOTFOUND, EEXISTS
                               * (the code is another room's, or the stored state_version is
                               * not room.state_base, or state_version is not above it;
                               * room.state_base then holds the stored one); nothing changed
                               * then */
    STORE_ROOM_DELETE,        /* in: room.id. Deletes its participants, messages, documents,
                               * op log, entities and activity too. out: usage (what each author had
                               * stored in it, as ROOMS_LOAD counts it, read before the delete
                               * in the same request). err: ENOTFOUND. Its id and code are free
                               * again: a room created with them starts empty */
    STORE_PARTICIPANT_PUT,    /* in: part (insert, or replace every field by room_id +
                               * user_id). err: ENOTFOUND (no such room) */
    STORE_PARTICIPANT_DELETE, /* in: part.room_id, part.user_id. err: ENOTFOUND */
    STORE_MESSAGE_INSERT,     /* in: msg (user_id "": the server's; metadata NULL: none;
                               * seq chosen by the room, from 1 without gaps); also sets
                               * the room's last_activity to msg.created_at (same
                               * request). err: EEXISTS (the id is taken, or seq is not
                               * the room's next one, highest ever stored + 1: taken,
                               * stale or a gap, in both backends, so several writers
                               * can make neither a gap nor a reuse; out: room.last_seq,
                               * the room's highest stored seq), ENOTFOUND (no such
                               * room); the room is then untouched. With msg.client_id
                               * set, first: when the room holds a message of msg.user_id
                               * with that client_id, EEXISTS with dup = 1 and msg
                               * replaced by the stored message (whatever its seq; the
                               * seq asked is not checked), nothing written */
    STORE_MESSAGES_PAGE,      /* in: room.id, before / after (seq, exclusive; negative =
                               * none; 0 is a bound), limit (capped at STORE_PAGE_MAX; 0
                               * answers nothing). out: msgs, ascending by seq: with after
                               * (and maybe before), the oldest `limit` between them; with
                               * before only, the newest `limit` below it; with neither,
                               * the newest `limit`. A missing room has no messages (OK) */
    STORE_ROOMS_LOAD,         /* out: every room (with last_seq, the highest stored seq)
                               * by created_at then id; every participant by room_id,
                               * joined_at, user_id; every entity by room_id then
                               * state_version; and usage: the bytes stored per room and
                               * author (see "quota bytes" above), one row per pair */
    STORE_PARTS_OF_USER,      /* in: part.user_id, limit (capped at STORE_PAGE_MAX; 0
                               * answers nothing). out: parts: the user's participant rows
                               * that are not banned, by joined_at then room_id, at most
                               * limit (a cluster node's "my rooms": its registry does not
                               * know other homes' members) */
    STORE_ROOM_LOAD,          /* in: room.id, or room.id "" and room.code. out: what
                               * ROOMS_LOAD answers, for that room alone (a cluster node
                               * that does not know it yet, or takes it over): rooms (one),
                               * its participants, entities and usage. err: ENOTFOUND (no
                               * such room; nothing out) */
    /* Documents: payload in req->docs (store_docs_t, caller-allocated). */
    STORE_DOC_LOAD,      /* in: doc.room_id, doc.doc_id. out: doc (snapshot text,
                          * version, updated_at; version 0, "" and 0 when the
                          * document or its room is new) and ops: every op after the
                          * snapshot, ascending, read in the same request. */
    STORE_DOC_OP_INSERT, /* in: op (all fields; op_id "": none; version chosen by the
                          * document, from 1); when doc.snapshot is set, also stores
                          * it as the snapshot at op.version with updated_at
                          * op.created_at (same request), unless the stored snapshot
                          * is newer. The op log is kept whole (retention trims it).
                          * Does not touch the room's last_activity. err: EEXISTS
                          * (op.version is not the document's next one: 1 + the
                          * highest of its stored ops and snapshot, 1 when new; so a
                          * taken, stale or gap version, whichever backend and
                          * however many writers), ENOTFOUND (no such room);
                          * neither op nor snapshot is then stored */
    STORE_DOC_OPS_RANGE, /* in: doc.room_id, doc.doc_id, from (negative: from the
                          * first), limit (capped at STORE_OPS_MAX; 0 answers
                          * nothing). out: ops with version > from, ascending, at
                          * most limit, whatever the snapshot */
    /* Retention: payload in req->rooms (ret, usage). */
    STORE_RETENTION_SWEEP, /* in: ret (rules and the cursor). Deletes at most
                            * ret.batch rows (0 counts as 1), room by room in id order
                            * from the cursor: a room's oldest messages while they are
                            * past a rule (created before msg_before, or more than
                            * msg_keep below its highest seq), but never its newest
                            * message, so seqs never restart; and each document's op
                            * log rows at or below (snapshot version - doc_keep), so
                            * a document without a snapshot keeps them all; and the
                            * room's oldest activity rows past act_before / act_keep
                            * as for messages (never its newest). out: usage
                            * (bytes freed per room and author), ret.cursor and
                            * ret.more (1: call again from the cursor; 0: every room
                            * was swept, cursor ""). Touches no last_activity */
    /* Entities: payload in req->rooms (ent). */
    STORE_ENTITY_PUT,    /* in: ent (all fields; data NULL is "{}"; insert or replace
                          * by room_id + id); also sets the room's state_version to
                          * ent.room_version, following ent.room_base, and raises its
                          * last_activity to ent.updated_at (never lowers it; same
                          * request). err: ENOTFOUND (no such room), EEXISTS (the room's
                          * stored state_version is not ent.room_base, or room_version
                          * is not above it; ent.room_base then holds the stored one);
                          * nothing stored then */
    STORE_ENTITY_DELETE, /* in: ent.room_id, ent.id, ent.room_version, ent.room_base,
                          * ent.updated_at (the room's, set as for PUT, even when the
                          * entity was already gone). A missing row, or room, is not an
                          * error. err: EEXISTS (as for PUT; the entity is then kept) */
    /* The room's change log (issue 25, time travel; docs/store.md, "Change log"): payload
     * in req->rooms (hist, room, ents). */
    STORE_STATE_AT, /* in: room.id, hist.at_version (>= 0) or, when it is negative,
                     * hist.at_time (unix ms), hist.after (entity id cursor, "" = from the
                     * first), limit (entities, capped at STORE_PAGE_MAX). out: hist.base_*
                     * (the oldest moment kept: the log's base, or, when later, the newest
                     * snapshot time of a document whose op log retention trimmed, which
                     * rebuilds from that snapshot only, with the room's version then);
                     * hist.unavailable = 1 when the moment asked is older (nothing else
                     * then); else hist.version (the room's state
                     * version at that moment: the newest logged change at or below the
                     * version asked, or at or before the time), hist.time (that change's
                     * time; at the oldest moment, its time), room.state (the room's state
                     * then), ents (the entities that
                     * existed then, as their last change before it left them: data, kind,
                     * owner, owner_only, version, created_at; state_version and updated_at
                     * are that change's), by id after hist.after, at most limit, and
                     * hist.more (1: more entities after the last); and the room's
                     * documents then (docs, by id, at most STORE_DOCS_AT_MAX, hist.docs_more
                     * when more): each document's base as doc (version and snapshot text;
                     * "" at 0 when its op log is whole; the oldest moment makes one of the
                     * two reach every moment answered) and its ops after the base up to its
                     * last op made at or before the moment (at_time, or hist.time when asked
                     * by version) in dops (by document, then version; at most STORE_OPS_MAX
                     * in all: a document that would pass it is version -1). A document
                     * with no op by then is left out. err: ENOTFOUND (no such room) */
    /* API keys of app backends (issue 21, server API): payload in req->apikey. */
    STORE_APIKEY_CREATE, /* in: apikey (all fields; revoked_at 0). err: EEXISTS (the id
                          * is taken; nothing stored) */
    STORE_APIKEY_GET,    /* in: apikey.id. out: apikey. err: ENOTFOUND */
    STORE_APIKEY_LIST,   /* out: apikeys, napikeys: every key, revoked ones too, by
                          * created_at then id (malloc'd array: the caller frees it) */
    STORE_APIKEY_REVOKE, /* in: apikey.id, apikey.revoked_at (> 0). A key revoked
                          * before keeps its first time. out: apikey (the stored row).
                          * err: ENOTFOUND */
    /* Webhook deliveries (issue 21): payload in req->hooks (store_hooks_t). Any request
     * may also carry deliveries to queue (req->enqueue): they are inserted in the same
     * request when it answers STORE_OK, so they commit with the change that made them. */
    STORE_HOOK_PUT,    /* in: req->enqueue only (no payload): queues them */
    STORE_HOOK_DUE,    /* in: now, limit. out: rows: the pending deliveries, oldest first,
                        * that are the oldest pending one of their endpoint and room (the
                        * queue keeps each room's order) and whose next_at is at or before
                        * now, at most limit (capped at STORE_PAGE_MAX); pending: how many
                        * deliveries are pending in all */
    STORE_HOOK_UPDATE, /* in: row.seq and the fields an attempt changes (state, attempts,
                        * next_at, updated_at, last_status, last_error), of a pending row
                        * only. err: ENOTFOUND (no such row, or no longer pending: e.g.
                        * dead-lettered by HOOK_EP_DELETE while its attempt ran) */
    STORE_HOOK_LOG,    /* in: before (seq, exclusive; negative: none), limit (capped at
                        * STORE_PAGE_MAX), endpoint ("": any), log_state (0: every state;
                        * 1 + STORE_HOOK_*: that one only). out: rows, newest first */
    STORE_HOOK_PRUNE,  /* in: before (unix ms): deletes the delivered and dead rows last
                        * changed before it, at most STORE_AUDIT_PRUNE_BATCH. out:
                        * pending = rows deleted */
    STORE_HOOK_RETRY,  /* in: row.id, now: a dead delivery goes back to pending (attempts
                        * 0, next_at and updated_at now, last_status and last_error kept).
                        * out: row (as it is now). err: ENOTFOUND (no such id), EEXISTS
                        * (it is not dead: nothing changed) */
    /* Webhook endpoints registered through the server API (issue 21, WH): payload in
     * req->hooks->ep / eps. */
    STORE_HOOK_EP_CREATE, /* in: ep (all fields). err: EEXISTS (the id is taken) */
    STORE_HOOK_EP_LIST,   /* out: eps, neps: every endpoint, by created_at then id */
    STORE_HOOK_EP_DELETE, /* in: ep.id, now. Its pending deliveries are dead-lettered
                           * ("endpoint deleted"); out: pending = how many. err:
                           * ENOTFOUND */
    /* Assets (issue 23): payload in req->assets (store_assets_t). */
    STORE_ASSET_PUT,       /* in: row (all fields but version and owner; room_id "":
                            * none; asset_id "" or row.id: a new asset, else the asset
                            * this row is the next version of, whose room it takes).
                            * Also removes the upload reservation of the same id
                            * (UPLOAD_RESERVE): the asset counts instead. out:
                            * row.version, row.asset_id, row.owner, row.room_id (a
                            * version's: its asset's). err: EEXISTS (the id is taken),
                            * ENOTFOUND (no such room, or no such asset); nothing stored
                            * or removed then */
    STORE_ASSET_GET,       /* in: row.id (an asset id). out: row, its current version.
                            * err: ENOTFOUND */
    STORE_ASSET_LIST,      /* in: row.room_id, before and before_at ("" = from the
                            * newest; else the id and created_at of the last asset of the
                            * previous page, which need not exist any more), limit
                            * (capped at STORE_PAGE_MAX; 0 answers nothing). out: rows,
                            * the room's assets newest first (created_at, then id,
                            * descending) strictly after (before_at, before), each
                            * asset once, as its current version (id: the version's) */
    STORE_ASSET_DELETE,    /* in: row.id (an asset id). out: row (its current version,
                            * as it was); every version goes. err: ENOTFOUND */
    STORE_ASSET_READABLE,  /* in: row.sha256, row.uploader (the reader). out: found = 1
                            * when the reader uploaded an asset of that content or is a
                            * participant (not banned) of a room that has one, else 0 */
    STORE_ASSET_USAGE,     /* in: row.uploader. out: bytes = the sum of the sizes of the
                            * assets the user uploaded (each asset counts, dedup or not) */
    STORE_ASSET_HASH_USED, /* in: row.sha256. out: found = 1 when an asset has it */
    /* A room's activity log (ACT, issue 25): payload in req->acts (store_acts_t). */
    STORE_ACT_PUT,  /* in: rows (each with room_id, at, user_id, display_name, kind, data;
                     * seq ignored). Appends each to its room's log in order. out: each
                     * row's seq, its room's next (1 + the highest ever stored there: the
                     * newest row is never swept, so seqs never restart), or 0 when its
                     * room is gone (that row is skipped, not an error). Only EIO */
    STORE_ACT_PAGE, /* in: room_id, before (seq, exclusive; <= 0: from the newest), limit
                     * (capped at STORE_PAGE_MAX; 0 answers nothing). out: rows, the
                     * room's newest first below before. A missing room has none (OK) */
    STORE_UPLOAD_RESERVE,  /* in: row.id (the upload's), row.uploader, row.room_id ("":
                            * none), row.size (its Upload-Length), row.created_at;
                            * quota_user, quota_room (bytes, 0: no limit), max_incomplete
                            * (0: no limit). What the uploader holds is the sizes of their
                            * assets plus the lengths of their reservations (a room's: of
                            * its assets and of the reservations naming it). Stores the
                            * reservation when size fits both quotas and the uploader has
                            * fewer than max_incomplete reservations, checked and stored
                            * atomically against every other writer (PostgreSQL: under one
                            * advisory lock). out: refused (0 when stored, else a
                            * STORE_RESERVE_* reason, nothing stored), bytes (what the
                            * uploader held before), room_bytes (the room's), count (the
                            * uploader's reservations before). err: EEXISTS (the id is
                            * taken) */
    STORE_UPLOAD_RELEASE,  /* in: row.id: removes its reservation. err: ENOTFOUND */
    STORE_ASSET_VERSIONS,  /* in: row.id (an asset id), before_at (a version number,
                            * exclusive; <= 0: from the newest), limit (capped at
                            * STORE_PAGE_MAX; 0 answers nothing). out: rows, the asset's
                            * versions newest first (ASTS, issue 23). None: nrows 0 */
    STORE_UPLOAD_OLD,      /* in: row.id (a cursor: ids after it; "" from the first),
                            * before_at (unix ms), limit (capped at STORE_PAGE_MAX; 0
                            * answers nothing). out: rows, the reservations created before
                            * before_at, by id (id, uploader, room_id, size = the length,
                            * created_at): the orphan sweep's page (ASTS, issue 23) */
    /* A cluster's per-user storage quota (issue 19; docs/architecture.md, "Quotas in a
     * cluster"): payload in req->quota (store_quota_t). */
    STORE_QUOTA_RESERVE, /* in: user, holder, keep, need, want, quota, ttl_ms. Atomically
                          * for the user (PostgreSQL: under an advisory lock on the user):
                          * used = the bytes the user's rows count (as "quota bytes"
                          * above), others = the allowances other holders hold unexpired;
                          * grant = store_quota_grant(...); this holder's allowance becomes
                          * keep + grant, until ttl_ms from now by the database's clock
                          * (0 bytes: its row goes). out: grant, used, others. SQLite (one
                          * node) keeps no allowances: grant = want, nothing stored */
    STORE_REQ_MAX
} store_req_type_t;

/* Bits of update_mask for STORE_USER_UPDATE. */
#define STORE_UPD_USERNAME 1u
#define STORE_UPD_COLOR 2u
#define STORE_UPD_PASSWORD 4u /* user.password_hash */
#define STORE_UPD_EPOCH 8u    /* token_epoch + 1: the user's earlier tokens are revoked */

typedef struct {
    int64_t at;                  /* unix ms */
    char event[STORE_EVENT_LEN]; /* "register", "login", "login_failed", "token_rejected" */
    char user_id[STORE_ID_LEN];  /* "" when unknown */
    char ip[STORE_IP_LEN];
    char detail[128]; /* short free text, never a secret */
    int64_t count;    /* repeats this row stands for (0 is stored as 1) */
} store_audit_t;

/* Rows deleted by one STORE_AUDIT_PRUNE: keeps each transaction short; the caller repeats
 * while a prune deleted this many. */
#define STORE_AUDIT_PRUNE_BATCH 10000

/* The most rows one STORE_AUDIT_RECENT answers (the admin view's page). */
#define STORE_AUDIT_RECENT_MAX 1000

/* The most messages one STORE_MESSAGES_PAGE answers, and ops one STORE_DOC_OPS_RANGE
 * answers, whatever limit asked: a larger limit is capped, not refused. */
#define STORE_PAGE_MAX 1000u
#define STORE_OPS_MAX 10000u

#define STORE_SUB_LEN 129 /* a token's sub: up to 128 bytes */
#define STORE_CODE_LEN 7  /* room code, 6 chars */

/* A durable token revocation (revoke.h holds the in-memory view). */
#define STORE_REVOKE_TOKEN 0 /* id is a jti */
#define STORE_REVOKE_USER 1  /* id is a user id; tokens with "ep" below epoch refused */
typedef struct {
    int kind;
    char id[STORE_SUB_LEN];
    int64_t epoch;   /* STORE_REVOKE_USER */
    int64_t until_s; /* unix s: no token it refuses is valid after this */
} store_revoke_t;
#define STORE_ROOM_NAME_LEN 401 /* 100 code points of at most 4 bytes */
#define STORE_MSG_TYPE_LEN 33
#define STORE_CLIENT_ID_LEN 65 /* a message's client id: 1 to 64 of [A-Za-z0-9_-] */

typedef struct {
    char id[STORE_ID_LEN];
    char code[STORE_CODE_LEN];
    char name[STORE_ROOM_NAME_LEN];
    char host_id[STORE_SUB_LEN];
    uint32_t capacity;
    int is_public;
    char *state; /* JSON object text (malloc'd; see store_rooms_free) */
    int64_t state_version;
    int64_t state_base;    /* in of ROOM_UPDATE: the stored state_version it follows; out
                            * of one refused with EEXISTS: the stored one */
    int64_t last_seq;      /* out of ROOMS_LOAD, and of a MESSAGE_INSERT refused with
                            * EEXISTS: the highest message seq, 0 when none */
    int64_t created_at;    /* unix ms */
    int64_t last_activity; /* unix ms */
    int64_t epoch;         /* out of ROOMS_LOAD, ROOM_LOAD: the room's fencing epoch
                            * (PostgreSQL; 0 in SQLite) */
    int64_t changes;       /* out of ROOMS_LOAD, ROOM_LOAD: the room's change counter
                            * ("Fencing"; PostgreSQL; 0 in SQLite) */
} store_room_t;

typedef struct {
    char room_id[STORE_ID_LEN];
    char user_id[STORE_SUB_LEN];
    char display_name[STORE_NAME_LEN];
    char color[STORE_COLOR_LEN];
    int role;          /* STORE_ROLE_* */
    int banned;        /* kicked with ban: may not join again */
    int64_t joined_at; /* unix ms; for a banned row, when the ban was made */
} store_participant_t;

#define STORE_ROLE_MEMBER 0
#define STORE_ROLE_HOST 1

#define STORE_ENTITY_ID_LEN 129  /* entity ids: up to 128 bytes */
#define STORE_ENTITY_KIND_LEN 65 /* entity kinds: up to 64 bytes */

/* One entity of a room's shared state (entity_set.h). */
typedef struct {
    char room_id[STORE_ID_LEN];
    char id[STORE_ENTITY_ID_LEN];
    char kind[STORE_ENTITY_KIND_LEN];
    char owner[STORE_SUB_LEN];
    char *data;            /* JSON object text (malloc'd) */
    int64_t version;       /* durable changes */
    int64_t state_version; /* the room state version of its last change */
    int64_t created_at;    /* unix ms */
    int64_t updated_at;    /* unix ms */
    int64_t room_version;  /* PUT / DELETE: the room's state version now */
    int64_t room_base;     /* PUT / DELETE in: the room's stored state version it follows;
                            * out of an EEXISTS: the stored one */
    int owner_only;        /* 1: only the owner and the room's host may change it */
} store_entity_t;

typedef struct {
    char id[STORE_ID_LEN];
    char room_id[STORE_ID_LEN];
    int64_t seq;                 /* per room, from 1, without gaps */
    char user_id[STORE_SUB_LEN]; /* "" for messages of the server itself */
    char display_name[STORE_NAME_LEN];
    char type[STORE_MSG_TYPE_LEN];
    char *content;      /* UTF-8 text (malloc'd) */
    char *metadata;     /* JSON object text (malloc'd) or NULL */
    int64_t created_at; /* unix ms */
    int app;            /* 1: posted by an app backend (server API), display_name its
                         * author label; user_id is then "" */
    char client_id[STORE_CLIENT_ID_LEN]; /* the sender's own id of it, unique per room
                                          * and user (MESSAGE_INSERT); "": none */
} store_message_t;

/* The payload of room requests. Strings marked malloc'd and the output arrays belong to
 * the struct: store_rooms_free releases them (the worker allocates outputs with malloc). */
/* Bytes a stored row counts for quotas on top of its payload (content, metadata, delta,
 * data, state, snapshot): the ids, names and numbers, roughly, so empty rows are not free. */
#define STORE_ROW_BYTES 64

/* Bytes stored in a room by one author ("" = none: the server's messages, snapshots). */
typedef struct {
    char room_id[STORE_ID_LEN];
    char user_id[STORE_SUB_LEN];
    int64_t bytes;
} store_usage_t;

/* STORE_QUOTA_RESERVE's payload: a node's allowance of a user's quota (issue 19). A
 * holder (a random id per process, never 0) holds at most one allowance per user: bytes
 * it may still store for the user without asking. Each write request that carries a
 * charge (store_req_t.charge_user) lowers that holder's allowance of the user in the
 * write's own transaction (PostgreSQL: once per user per batch), so the rows plus the
 * unexpired allowances are what the cluster has given out, exactly. */
typedef struct {
    char user[STORE_SUB_LEN];
    uint64_t holder;
    int64_t keep;   /* in: the allowance this holder still has (it keeps it) */
    int64_t need;   /* in: bytes wanted at least, when free (a waiting write's size) */
    int64_t want;   /* in: bytes wanted at most (a chunk); 0 with keep 0: give all back */
    int64_t quota;  /* in: the user's quota in bytes (> 0) */
    int64_t ttl_ms; /* in: how long the allowance lasts unrenewed */
    int64_t grant;  /* out: bytes added to the allowance */
    int64_t used;   /* out: the bytes the user's rows count */
    int64_t others; /* out: the other holders' allowances */
} store_quota_t;

/* The bytes a reservation grants (pure; STORE_QUOTA_RESERVE): of what is free (quota less
 * used, others and keep), a quarter, so other nodes find some left, but at least need,
 * at most want, never more than free; 0 when nothing is free. */
int64_t store_quota_grant(int64_t quota, int64_t used, int64_t others, int64_t keep,
                          int64_t need, int64_t want);

/* Retention rules and the sweep's progress (STORE_RETENTION_SWEEP). */
typedef struct {
    int64_t msg_before;        /* messages created before this unix ms go; 0 = no age rule */
    int64_t msg_keep;          /* each room keeps its newest msg_keep messages; 0 = all */
    int64_t doc_keep;          /* op log rows kept before a document's snapshot; 0 = all */
    int64_t act_before;        /* activity rows made before this unix ms go; 0 = no age rule */
    int64_t act_keep;          /* each room keeps its newest act_keep activity rows; 0 = all */
    int64_t log_before;        /* change log (STORE_STATE_AT): changes made before this
                                * unix ms are compacted; 0 = no age rule */
    int64_t log_keep;          /* each room keeps its newest log_keep changes; 0 = all */
    uint32_t batch;            /* rows deleted at most per request */
    char cursor[STORE_ID_LEN]; /* in/out: rooms with a greater id are swept next; "" = first */
    int more;                  /* out */
} store_retention_t;

/* STORE_STATE_AT: a moment of a room's change log (issue 25, time travel). */
typedef struct {
    int64_t at_version;              /* in: the state version asked; < 0: at_time instead */
    int64_t at_time;                 /* in: unix ms */
    char after[STORE_ENTITY_ID_LEN]; /* in: entities after this id ("" = from the first) */
    int64_t base_version;            /* out: the oldest moment the log can rebuild */
    int64_t base_time;               /* out: unix ms of that moment */
    int64_t version;                 /* out: the room's state version at the moment */
    int64_t time;                    /* out: unix ms of that version's change */
    int unavailable;                 /* out: 1 when the moment is older than base */
    int more;                        /* out: 1 when entities follow the last answered */
    int docs_more;                   /* out: 1 when documents follow the last answered */
} store_hist_t;

/* The most documents one STORE_STATE_AT answers. */
#define STORE_DOCS_AT_MAX 100u

typedef struct {
    store_room_t room;
    store_participant_t part;
    store_message_t msg;
    int dup;               /* out of a MESSAGE_INSERT refused as a duplicate client_id */
    int64_t before, after; /* MESSAGES_PAGE */
    uint32_t limit;
    uint32_t max_hosted; /* ROOM_CREATE in: the most rooms one host may have (0: no bound) */
    store_room_t *rooms; /* ROOMS_LOAD, ROOM_LOAD */
    size_t nrooms;
    store_participant_t *parts;
    size_t nparts;
    store_message_t *msgs; /* MESSAGES_PAGE */
    size_t nmsgs;
    store_entity_t ent;   /* ENTITY_PUT / ENTITY_DELETE */
    store_entity_t *ents; /* ROOMS_LOAD: every entity, by room */
    size_t nents;
    store_usage_t *usage; /* ROOMS_LOAD, ROOM_DELETE, RETENTION_SWEEP */
    size_t nusage;
    store_retention_t ret; /* RETENTION_SWEEP */
    store_hist_t hist;     /* STATE_AT */
    struct store_doc_s *docs; /* STATE_AT: each document's base (snapshots malloc'd) */
    size_t ndocs;
    struct store_doc_op_s *dops; /* STATE_AT: the ops after the bases (deltas malloc'd) */
    size_t ndops;
    int fence; /* in of ROOMS_LOAD, ROOM_LOAD, ROOM_CREATE: STORE_FENCE_* ("Fencing") */
} store_rooms_t;

/* store_rooms_t.fence: what a read or a creation of rooms tells the store to check. */
#define STORE_FENCE_NONE 0  /* nothing (one node) */
#define STORE_FENCE_KEEP 1  /* remember the epoch read (ROOM_LOAD: of a room not known to
                             * this store yet) or made (ROOM_CREATE: 0); check it from then */
#define STORE_FENCE_CLAIM 2 /* ROOM_LOAD by room.id, a takeover: raise the room's epoch
                             * first (waiting for a writer that holds it), then read, and
                             * remember the new one */

/* Frees what r owns (room.state, msg.content, msg.metadata, ent.data, the output arrays
 * (usage too) and their strings), not r itself, and zeroes those fields. */
void store_rooms_free(store_rooms_t *r);

#define STORE_DOC_ID_LEN 129 /* document ids: up to 128 bytes */
#define STORE_OP_ID_LEN 65   /* client op ids: up to 64 bytes */

typedef struct store_doc_s {
    char room_id[STORE_ID_LEN];
    char doc_id[STORE_DOC_ID_LEN];
    int64_t version;    /* of the snapshot */
    char *snapshot;     /* UTF-8 text (malloc'd) or NULL */
    int64_t updated_at; /* unix ms */
} store_doc_t;

typedef struct store_doc_op_s {
    char room_id[STORE_ID_LEN];
    char doc_id[STORE_DOC_ID_LEN];
    int64_t version; /* the document version this op produced (from 1) */
    char *delta;     /* the op as JSON text (malloc'd) */
    char author[STORE_SUB_LEN];
    char op_id[STORE_OP_ID_LEN]; /* "" when the client gave none */
    int64_t created_at;          /* unix ms */
} store_doc_op_t;

/* The payload of document requests; store_docs_free releases what it owns. */
typedef struct {
    store_doc_t doc;
    store_doc_op_t op;
    int64_t from; /* DOC_OPS_RANGE */
    uint32_t limit;
    store_doc_op_t *ops; /* DOC_LOAD / DOC_OPS_RANGE output (malloc'd array) */
    size_t nops;
} store_docs_t;

/* Frees what d owns (doc.snapshot, op.delta, ops and their deltas) and zeroes them. */
void store_docs_free(store_docs_t *d);

#define STORE_APIKEY_ID_LEN 17   /* 16 lower-case hex digits */
#define STORE_APIKEY_HASH_LEN 65 /* SHA-256 of the secret, 64 lower-case hex digits */

/* An app backend's API key (apikey.h): never its secret, only the secret's hash. */
typedef struct {
    char id[STORE_APIKEY_ID_LEN];
    char name[STORE_NAME_LEN];
    char hash[STORE_APIKEY_HASH_LEN];
    int64_t created_at; /* unix ms */
    int64_t revoked_at; /* unix ms; 0: live */
} store_apikey_t;
#define STORE_HOOK_NAME_LEN 65   /* webhook endpoint names: up to 64 bytes */
#define STORE_HOOK_TYPE_LEN 33   /* event types ("participant.joined") */
#define STORE_HOOK_ERROR_LEN 129 /* the last attempt's error, short text */

/* A webhook delivery's state. */
#define STORE_HOOK_PENDING 0
#define STORE_HOOK_DELIVERED 1
#define STORE_HOOK_DEAD 2

/* One webhook delivery (queued, delivered or dead-lettered). */
typedef struct {
    int64_t seq;                        /* the queue's order, chosen by the store at insert */
    char id[STORE_ID_LEN];              /* the delivery's id (its body's "id"), unique */
    char endpoint[STORE_HOOK_NAME_LEN]; /* the endpoint's name */
    char room_id[STORE_ID_LEN];         /* "" when the event is about no room */
    char type[STORE_HOOK_TYPE_LEN];
    char *body; /* the JSON text sent (malloc'd) */
    int state;  /* STORE_HOOK_* */
    int64_t attempts;
    int64_t next_at;                       /* unix ms: the next attempt, while pending */
    int64_t created_at;                    /* unix ms */
    int64_t updated_at;                    /* unix ms: the last change */
    int last_status;                       /* the last attempt's HTTP status, 0: none */
    char last_error[STORE_HOOK_ERROR_LEN]; /* "" when none */
} store_hook_t;

#define STORE_HOOK_URL_MAX 2048   /* an endpoint's URL, bytes */
#define STORE_HOOK_SECRET_LEN 129 /* an endpoint's signing secret: up to 128 bytes */
#define STORE_HOOK_EVENTS_LEN 512 /* its event filter as text ("*", "message.created,…") */

/* A webhook endpoint registered through the server API. Its secret is kept as it is (it
 * signs every delivery), unlike an API key's. */
typedef struct {
    char id[STORE_HOOK_NAME_LEN]; /* "wh_" + 16 hex digits; deliveries name it */
    char *url;                    /* malloc'd */
    char secret[STORE_HOOK_SECRET_LEN];
    char events[STORE_HOOK_EVENTS_LEN];
    int64_t created_at; /* unix ms */
} store_hook_ep_t;

/* The payload of webhook requests; store_hooks_free releases what it owns. */
typedef struct {
    store_hook_t row;   /* HOOK_UPDATE, HOOK_RETRY */
    int64_t now;        /* HOOK_DUE, HOOK_RETRY, HOOK_EP_DELETE */
    int64_t before;     /* HOOK_LOG (seq), HOOK_PRUNE (unix ms) */
    uint32_t limit;     /* HOOK_DUE, HOOK_LOG */
    char endpoint[STORE_HOOK_NAME_LEN]; /* HOOK_LOG: that endpoint's only ("": any) */
    int log_state;                      /* HOOK_LOG: 0 any, else 1 + STORE_HOOK_* */
    store_hook_ep_t ep;                 /* HOOK_EP_CREATE, HOOK_EP_DELETE (ep.url owned) */
    store_hook_ep_t *eps;               /* HOOK_EP_LIST out (malloc'd, urls too) */
    size_t neps;
    store_hook_t *rows; /* out (malloc'd, with their bodies) */
    size_t nrows;
    int64_t pending; /* HOOK_DUE: pending deliveries; HOOK_PRUNE: rows deleted */
} store_hooks_t;

/* Frees what h owns (row.body, rows and their bodies) and zeroes them. */
void store_hooks_free(store_hooks_t *h);

#define STORE_SHA256_LEN 65      /* 64 lower-case hex digits */
#define STORE_ASSET_NAME_LEN 256 /* a file name: up to 255 bytes of UTF-8 */
#define STORE_ASSET_TYPE_LEN 128 /* a content type: up to 127 bytes */

/* One asset (issue 23, docs/assets.md): a finished upload, naming its content (a blob, by
 * SHA-256), in a room or its uploader's own. Several assets may share a blob (dedup). An
 * asset has versions: successive contents under one asset id, each a row. */
typedef struct {
    char id[STORE_ID_LEN];      /* the upload's id: 32 lower-case hex digits */
    char room_id[STORE_ID_LEN]; /* "" (stored as NULL): no room, the uploader's own */
    char uploader[STORE_SUB_LEN];
    char sha256[STORE_SHA256_LEN];
    int64_t size;
    char name[STORE_ASSET_NAME_LEN]; /* "" when the upload gave none */
    char type[STORE_ASSET_TYPE_LEN]; /* "" when the upload gave none */
    int64_t created_at;              /* unix ms */
    /* Versions (ASTS): every version of an asset is a row, its id the upload's. */
    char asset_id[STORE_ID_LEN]; /* the asset's stable id: its first version's id */
    int64_t version;             /* 1, 2, ... */
    char owner[STORE_SUB_LEN];   /* out: the asset's owner, its first version's uploader */
} store_asset_t;

/* The payload of asset requests; store_assets_free releases what it owns. */
typedef struct {
    store_asset_t row;
    char before[STORE_ID_LEN]; /* ASSET_LIST */
    int64_t before_at;         /* ASSET_LIST, ASSET_VERSIONS, UPLOAD_OLD */
    uint32_t limit;            /* ASSET_LIST, ASSET_VERSIONS, UPLOAD_OLD */
    store_asset_t *rows;       /* ASSET_LIST, ASSET_VERSIONS, UPLOAD_OLD out (malloc'd) */
    size_t nrows;
    int64_t bytes; /* ASSET_USAGE, UPLOAD_RESERVE out */
    int found;     /* ASSET_READABLE, ASSET_HASH_USED out */
    int64_t quota_user, quota_room; /* UPLOAD_RESERVE in (0: no limit) */
    int64_t max_incomplete;         /* UPLOAD_RESERVE in (0: no limit) */
    int64_t room_bytes, count;      /* UPLOAD_RESERVE out */
    int refused;                    /* UPLOAD_RESERVE out: 0 or STORE_RESERVE_* */
} store_assets_t;

/* Why UPLOAD_RESERVE stored nothing (store_assets_t.refused). */
enum { STORE_RESERVE_USER = 1, STORE_RESERVE_ROOM, STORE_RESERVE_COUNT };

/* Frees what a owns (rows) and zeroes it. */
void store_assets_free(store_assets_t *a);

#define STORE_ACT_KIND_LEN 33 /* an activity row's kind ("doc_edited") */

/* One row of a room's activity log (ACT, issue 25): what someone did, in words a UI can
 * show without knowing the ops (docs/protocol.md, "Activity"). */
typedef struct {
    char room_id[STORE_ID_LEN];
    int64_t seq;                       /* the room's row number, chosen by the store */
    int64_t at;                        /* unix ms */
    char user_id[STORE_SUB_LEN];       /* "": the server or an app backend */
    char display_name[STORE_NAME_LEN]; /* as it was then */
    char kind[STORE_ACT_KIND_LEN];
    char *data; /* a small JSON object as text (malloc'd); NULL is "{}" */
} store_act_t;

/* The payload of activity requests; store_acts_free releases what it owns. */
typedef struct {
    store_act_t *rows; /* ACT_PUT in (malloc'd, with their data), ACT_PAGE out */
    size_t nrows;
    char room_id[STORE_ID_LEN]; /* ACT_PAGE */
    int64_t before;             /* ACT_PAGE */
    uint32_t limit;             /* ACT_PAGE */
} store_acts_t;

/* Frees what a owns (rows and their data) and zeroes it. */
void store_acts_free(store_acts_t *a);
/* UPLOAD_RESERVE's rule, the same for every backend: given a's row.size, limits and the
 * held figures (bytes, room_bytes, count), 0 when the reservation fits, else the
 * STORE_RESERVE_* reason (the count first, then the uploader's quota, then the room's).
 * Borrows a. */
int store_reserve_refusal(const store_assets_t *a);

typedef struct store_req_s store_req_t;
typedef void (*store_cb)(store_req_t *req);

/* One request. The caller allocates it (often embedded in its own struct), fills type
 * and the inputs, and owns it again when cb runs. */
struct store_req_s {
    store_req_type_t type;
    int err;     /* set before cb runs */
    store_cb cb; /* runs on the loop thread */
    void *data;  /* the caller's */
    char key[STORE_EMAIL_LEN];
    unsigned update_mask;
    store_user_t user;
    store_audit_t audit;
    store_revoke_t revoke;
    store_revoke_t *revokes; /* REVOKE_LOAD output (malloc'd; the caller frees it) */
    size_t nrevokes;
    store_audit_t *audits; /* AUDIT_RECENT output (malloc'd; the caller frees it) */
    size_t naudits;
    store_rooms_t *rooms; /* room requests: borrowed until cb */
    store_docs_t *docs;   /* document requests: borrowed until cb */
    store_apikey_t apikey;
    store_apikey_t *apikeys; /* APIKEY_LIST output (malloc'd; the caller frees it) */
    size_t napikeys;
    store_hooks_t *hooks; /* webhook requests: borrowed until cb */
    store_assets_t *assets;      /* asset requests: borrowed until cb */
    store_acts_t *acts;          /* activity requests: borrowed until cb */
    const store_hook_t *enqueue; /* deliveries queued with this request when it answers
                                  * STORE_OK (all fields but seq; borrowed until cb) */
    size_t nenqueue;
    store_req_t *next;    /* internal: queue link */
    uint64_t submit_ns;   /* internal: uv_hrtime at store_submit (the latency histogram) */
    store_quota_t *quota; /* QUOTA_RESERVE: borrowed until cb */
    /* A write's bytes charged to a user's allowance (store_quota_t): when set (a cluster's
     * write; NULL otherwise) and the request answers STORE_OK, the store lowers the
     * allowance this process holds for charge_user (borrowed until cb) by charge_bytes,
     * in the same transaction. */
    const char *charge_user;
    int64_t charge_bytes;
    uint32_t batch_n;     /* internal: set by the worker on a batch's first request: its size */
    int64_t changes; /* out of a write of a room the store fences, unless it answers
                      * STORE_EIO: the room's change counter as its transaction left it
                      * ("Fencing"); 0 otherwise */
};

/* What a backend implements (the contract at the top of this file applies to all of it).
 * Every function runs on the worker thread, except open (at start, on the caller's thread,
 * before any request) and close (after the last one); one thread at a time uses conn, so a
 * backend needs no lock of its own. No function sees the loop or a callback. The
 * conformance suite (tests/unit/test_store.c) runs every request type against each backend
 * of its table; a new backend passes it unchanged. */
typedef struct {
    const char *name;
    /* Opens the database at target (SQLite: a file path), creates or migrates its schema
     * to this binary's version, and refuses a newer one. Returns the backend's connection
     * state, or NULL with a one-line reason in err and nothing left open. log is borrowed
     * for the connection's life. */
    void *(*open)(const char *target, log_t *log, char *err, size_t errlen);
    /* Starts the batch's transaction; an engine with a database-wide write lock takes it
     * here (SQLite: BEGIN IMMEDIATE), so a request cannot fail later for want of it. 0 or
     * STORE_EIO (the batch then fails with EIO). */
    int (*begin)(void *conn);
    /* Commits the batch: once it returns 0 the batch is durable (see "Durability"). 0 or
     * STORE_EIO (the store then calls rollback and the batch fails with EIO). */
    int (*commit)(void *conn);
    /* Undoes the open transaction; harmless when the engine already ended it. */
    void (*rollback)(void *conn);
    /* Runs one request inside the open transaction and sets req->err to STORE_OK, or to
     * the STORE_ENOTFOUND / STORE_EEXISTS its type lists, leaving no change behind (a
     * SAVEPOINT; see "Atomicity"), or to STORE_EIO, or to STORE_EFENCED ("Fencing":
     * nothing of the request done; the batch goes on and the store answers it EIO). Reads
     * the request's inputs, writes its outputs; never touches cb, data or next. A
     * STORE_EIO result rolls the transaction back: every request of the batch then fails
     * with EIO. */
    void (*exec)(void *conn, store_req_t *req);
    /* Rolls back a transaction left open, frees conn. NULL is not passed. */
    void (*close)(void *conn);
    /* Export: calls row(ud, table, obj) for every row of every table, tables in the order
     * of STORE_DUMP_TABLES, rows by primary key. obj is borrowed for the call. Runs inside
     * a read transaction opened by the caller with begin_read (begin when NULL). 0, or
     * STORE_EIO, or what row returned (non-zero stops the dump). NULL: the backend cannot
     * export. */
    int (*dump)(void *conn, int (*row)(void *ud, const char *table, json_t *obj), void *ud);
    /* Opens a read transaction for dump: one snapshot of the whole database that writers
     * (a running server) can pass, ended with rollback. 0 or STORE_EIO. NULL: begin serves
     * (PostgreSQL's dump makes its own transaction a REPEATABLE READ snapshot; SQLite's
     * begin would take the write lock for the whole export). */
    int (*begin_read)(void *conn);
    /* Import: inserts one row of table (inside the caller's transaction). 0, STORE_EEXISTS,
     * STORE_ENOTFOUND (a row it depends on is missing), or STORE_EIO (an unknown table or a
     * column missing or of the wrong type: the row is refused). obj is borrowed. NULL: the
     * backend cannot import. */
    int (*load)(void *conn, const char *table, json_t *obj);
    /* Checks, between transactions, that the database answers (PostgreSQL: reconnects
     * when the connection was lost and the backoff allows, else SELECT 1); the worker
     * calls it when idle for a second, so store_ready learns of a loss and of the return
     * without a write. 0 or STORE_EIO. NULL: once a transaction failed, the idle worker
     * checks every second that one can begin (begin, then rollback) instead. */
    int (*ping)(void *conn);
    /* Optional: gives back what the connection caches (SQLite's page cache); the worker
     * calls it once after a second without work, so a store that served a burst does not
     * keep its peak. */
    void (*trim)(void *conn);
} store_backend_t;

/* The tables of a dump (`chorus export`, docs/operations.md), in the order they are
 * written and must be loaded (a row's dependencies come first): a list usable in an array
 * initialiser. Column names are SQLite's; every backend uses the same ones. */
#define STORE_DUMP_TABLES                                                                      \
    "users", "revocations", "audit", "rooms", "room_participants", "room_messages",            \
        "documents", "doc_ops", "entities", "api_keys", "webhook_deliveries",                  \
        "webhook_endpoints", "assets", "activity", "uploads", "state_log", "state_log_base"
/* The dump format's version: the header line is {"chorus_dump":1,"schema":<version>}. */
#define STORE_DUMP_VERSION 1

typedef struct store_s store_t;

/* What the store measured since it opened, for GET /metrics: from a request's submission
 * to its callback (queue, transaction and commit) in nanoseconds, and how many requests
 * each transaction (group commit) held. Counted on the loop thread from what the worker
 * hands back with the finished requests, so no lock is taken for them. */
typedef struct {
    histo_t latency_ns;
    histo_t batch;
} store_stat_t;

/* Returns 1 when st's last transaction, or its backend's last idle check (ping), succeeded
 * (also before the first), else 0: the database is failing and writes are refused with
 * STORE_EIO (GET /healthz answers 503). Call on the loop thread; st is borrowed. */
int store_ready(store_t *st);

/* Returns st's figures (borrowed from st; read them on the loop thread). */
const store_stat_t *store_stat(const store_t *st);

/* How long one loop iteration runs store callbacks, at most (the first of a slice runs in
 * any case): a slice, then the loop's I/O and its flush, then the next slice. Each slice
 * ends with a flush, which writes to every connection its callbacks queued events for:
 * 2 ms halved the longest iteration of 10,000 joins into rooms of 100 at the same server
 * CPU, 0.5 ms took 14% more CPU for those joins (docs/benchmarks.md). */
#define STORE_DISPATCH_BUDGET_NS 2000000

/* Sets st's slice time to ns (0: every finished callback in one go); for tests and
 * measurements. Call on the loop thread. */
void store_set_dispatch_budget(store_t *st, uint64_t ns);

/* The SQLite backend (target: the database file path). */
extern const store_backend_t store_sqlite_backend;

/* Opens the store with backend be on target and starts its worker thread; callbacks are
 * delivered on loop. log is borrowed and must outlive the store. Returns a new store, or
 * NULL with a one-line reason in err (nothing is then left on the loop). The store keeps
 * the loop alive only while requests are outstanding. Call on the loop thread. */
store_t *store_open(const store_backend_t *be, const char *target, uv_loop_t *loop, log_t *log,
                    char *err, size_t errlen);

/* Queues req (borrowed until its callback). Never calls cb before returning. Call on the
 * loop thread (a store callback may submit). */
void store_submit(store_t *st, store_req_t *req);

/* Finishes every queued request (their callbacks run first, on this thread, from inside
 * this call), stops the worker and frees st. Submissions made from those callbacks fail
 * with STORE_ECLOSED. Call on the loop thread once the server stopped, never from a store
 * callback; NULL is a no-op. The store's handles are left closing: run the loop once
 * more (uv_run, any mode) before uv_loop_close, and their close callbacks free them. */
void store_close(store_t *st);

#endif
