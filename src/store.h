/* store.h: durable storage behind one interface. Callers build a request, submit it, and
 * get their callback on the loop thread once a worker thread has run it; they never see
 * SQL. A backend (store_sqlite.c now, PostgreSQL later) implements store_backend_t.
 *
 * Threading: one worker thread owns the backend connection and runs requests in
 * submission order, so writes are applied in the order the loop issued them. Requests
 * queued together run in one transaction (group commit); a request's callback runs only
 * after its transaction committed, so an acknowledged write is durable. Callbacks run on
 * the loop thread, in submission order. */
#ifndef CHORUS_STORE_H
#define CHORUS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "log.h"

/* Errors (req->err). 0 is success. */
enum {
    STORE_OK = 0,
    STORE_ENOTFOUND = -1, /* no such row */
    STORE_EEXISTS = -2,   /* a unique key is taken (e.g. email) */
    STORE_EIO = -3,       /* the database failed; details were logged */
    STORE_ECLOSED = -4,   /* submitted after store_close began */
};

/* Sizes of fixed fields, including the NUL. */
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
    int64_t created_at; /* unix ms */
    int64_t updated_at; /* unix ms */
    int64_t token_epoch; /* tokens minted carry it ("ep"); raised to revoke them all */
} store_user_t;

typedef enum {
    STORE_USER_CREATE,   /* in: user (all fields). err: EEXISTS when the email is taken */
    STORE_USER_BY_EMAIL, /* in: key (email, lower-cased). out: user. err: ENOTFOUND */
    STORE_USER_BY_ID,    /* in: key (id). out: user. err: ENOTFOUND */
    STORE_USER_UPDATE,   /* in: user.id, fields flagged in update_mask, user.updated_at.
                          * out: the whole updated user. err: ENOTFOUND. With
                          * STORE_UPD_EPOCH also stores the revocation {user, id, the new
                          * epoch, revoke.until_s} (same transaction) */
    STORE_USER_DELETE,   /* in: user.id, revoke.until_s: deletes the account and stores the
                          * revocation {user, id, REVOKE_ALL, until_s}. err: ENOTFOUND */
    STORE_REVOKE_PUT,    /* in: revoke (kept with the higher epoch / until of an existing
                          * entry of the same kind and id) */
    STORE_REVOKE_LOAD,   /* in: revoke.until_s = now. out: revokes, nrevokes: every entry
                          * with until_s later (malloc'd array: the caller frees it) */
    STORE_REVOKE_PRUNE,  /* in: revoke.until_s = now: deletes the entries that ended */
    STORE_AUDIT,         /* in: audit. Never fails the caller's flow: errors are logged */
    STORE_AUDIT_PRUNE,   /* in: audit.at (unix ms): deletes the oldest audit rows before it,
                          * at most STORE_AUDIT_PRUNE_BATCH. out: audit.count = rows deleted */
    /* Rooms: payload in req->rooms (store_rooms_t, caller-allocated). */
    STORE_ROOM_CREATE,   /* in: room (all fields), part (the host). err: EEXISTS (id/code) */
    STORE_ROOM_UPDATE,   /* in: room.id and its mutable fields (code, name, capacity,
                          * is_public, state, state_version, last_activity). err: ENOTFOUND */
    STORE_ROOM_DELETE,   /* in: room.id. Deletes its participants, messages, documents
                          * and entities too. out: usage (what each author had stored
                          * in it, as ROOMS_LOAD counts it, read before the delete).
                          * err: ENOTFOUND */
    STORE_PARTICIPANT_PUT,    /* in: part (insert or replace by room_id + user_id) */
    STORE_PARTICIPANT_DELETE, /* in: part.room_id, part.user_id. err: ENOTFOUND */
    STORE_MESSAGE_INSERT,     /* in: msg; also sets the room's last_activity to
                               * msg.created_at. err: EEXISTS (room_id + seq taken) */
    STORE_MESSAGES_PAGE,      /* in: room.id, before / after (seq, negative = none), limit.
                               * out: msgs, ascending by seq: with before, the newest
                               * `limit` below it; with after, the oldest `limit` above it;
                               * with neither, the newest `limit`. */
    STORE_ROOMS_LOAD,         /* out: every room (with last_seq), every participant,
                               * every entity, and usage: the bytes stored per room and
                               * author (STORE_ROW_BYTES per row plus its payload) */
    /* Documents: payload in req->docs (store_docs_t, caller-allocated). */
    STORE_DOC_LOAD,           /* in: doc.room_id, doc.doc_id. out: doc (snapshot text and
                               * version; version 0 and "" when the document is new) and
                               * ops: every op after the snapshot, ascending. */
    STORE_DOC_OP_INSERT,      /* in: op (all fields); when doc.snapshot is set, also stores
                               * it as the snapshot at op.version (same transaction).
                               * err: EEXISTS (room_id + doc_id + version taken),
                               * ENOTFOUND (no such room) */
    STORE_DOC_OPS_RANGE,      /* in: doc.room_id, doc.doc_id, from, limit. out: ops with
                               * version > from, ascending, at most limit */
    /* Retention: payload in req->rooms (ret, usage). */
    STORE_RETENTION_SWEEP,    /* in: ret (rules and the cursor). Deletes at most
                               * ret.batch rows: messages past the rules, op log rows
                               * past doc_keep before each document's snapshot, room by
                               * room from the cursor. out: usage (bytes freed per room
                               * and author), ret.cursor and ret.more (1: call again
                               * from the cursor; 0: every room was swept) */
    /* Entities: payload in req->rooms (ent). */
    STORE_ENTITY_PUT,         /* in: ent (all fields; insert or replace by room_id + id);
                               * also raises the room's state_version to ent.room_version
                               * and sets its last_activity to ent.updated_at.
                               * err: ENOTFOUND (no such room) */
    STORE_ENTITY_DELETE,      /* in: ent.room_id, ent.id, ent.room_version, ent.updated_at
                               * (the room's, as for PUT). A missing row is not an error. */
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
    char detail[128];            /* short free text, never a secret */
    int64_t count;               /* repeats this row stands for (0 is stored as 1) */
} store_audit_t;

/* Rows deleted by one STORE_AUDIT_PRUNE: keeps each transaction short; the caller repeats
 * while a prune deleted this many. */
#define STORE_AUDIT_PRUNE_BATCH 10000

#define STORE_SUB_LEN 129        /* a token's sub: up to 128 bytes */
#define STORE_CODE_LEN 7         /* room code, 6 chars */

/* A durable token revocation (revoke.h holds the in-memory view). */
#define STORE_REVOKE_TOKEN 0     /* id is a jti */
#define STORE_REVOKE_USER 1      /* id is a user id; tokens with "ep" below epoch refused */
typedef struct {
    int kind;
    char id[STORE_SUB_LEN];
    int64_t epoch;               /* STORE_REVOKE_USER */
    int64_t until_s;             /* unix s: no token it refuses is valid after this */
} store_revoke_t;
#define STORE_ROOM_NAME_LEN 401  /* 100 code points of at most 4 bytes */
#define STORE_MSG_TYPE_LEN 33

typedef struct {
    char id[STORE_ID_LEN];
    char code[STORE_CODE_LEN];
    char name[STORE_ROOM_NAME_LEN];
    char host_id[STORE_SUB_LEN];
    uint32_t capacity;
    int is_public;
    char *state;           /* JSON object text (malloc'd; see store_rooms_free) */
    int64_t state_version;
    int64_t last_seq;      /* out of ROOMS_LOAD: the highest message seq, 0 when none */
    int64_t created_at;    /* unix ms */
    int64_t last_activity; /* unix ms */
} store_room_t;

typedef struct {
    char room_id[STORE_ID_LEN];
    char user_id[STORE_SUB_LEN];
    char display_name[STORE_NAME_LEN];
    char color[STORE_COLOR_LEN];
    int role;              /* STORE_ROLE_* */
    int banned;            /* kicked with ban: may not join again */
    int64_t joined_at;     /* unix ms; for a banned row, when the ban was made */
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
    int owner_only;        /* 1: only the owner and the room's host may change it */
} store_entity_t;

typedef struct {
    char id[STORE_ID_LEN];
    char room_id[STORE_ID_LEN];
    int64_t seq;           /* per room, from 1, without gaps */
    char user_id[STORE_SUB_LEN]; /* "" for messages of the server itself */
    char display_name[STORE_NAME_LEN];
    char type[STORE_MSG_TYPE_LEN];
    char *content;         /* UTF-8 text (malloc'd) */
    char *metadata;        /* JSON object text (malloc'd) or NULL */
    int64_t created_at;    /* unix ms */
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

/* Retention rules and the sweep's progress (STORE_RETENTION_SWEEP). */
typedef struct {
    int64_t msg_before;      /* messages created before this unix ms go; 0 = no age rule */
    int64_t msg_keep;        /* each room keeps its newest msg_keep messages; 0 = all */
    int64_t doc_keep;        /* op log rows kept before a document's snapshot; 0 = all */
    uint32_t batch;          /* rows deleted at most per request */
    char cursor[STORE_ID_LEN]; /* in/out: rooms with a greater id are swept next; "" = first */
    int more;                /* out */
} store_retention_t;

typedef struct {
    store_room_t room;
    store_participant_t part;
    store_message_t msg;
    int64_t before, after; /* MESSAGES_PAGE */
    uint32_t limit;
    store_room_t *rooms;   /* ROOMS_LOAD */
    size_t nrooms;
    store_participant_t *parts;
    size_t nparts;
    store_message_t *msgs; /* MESSAGES_PAGE */
    size_t nmsgs;
    store_entity_t ent;    /* ENTITY_PUT / ENTITY_DELETE */
    store_entity_t *ents;  /* ROOMS_LOAD: every entity, by room */
    size_t nents;
    store_usage_t *usage;  /* ROOMS_LOAD, ROOM_DELETE, RETENTION_SWEEP */
    size_t nusage;
    store_retention_t ret; /* RETENTION_SWEEP */
} store_rooms_t;

/* Frees what r owns (room.state, msg.content, msg.metadata, ent.data, the output arrays
 * (usage too) and their strings), not r itself, and zeroes those fields. */
void store_rooms_free(store_rooms_t *r);

#define STORE_DOC_ID_LEN 129     /* document ids: up to 128 bytes */
#define STORE_OP_ID_LEN 65       /* client op ids: up to 64 bytes */

typedef struct {
    char room_id[STORE_ID_LEN];
    char doc_id[STORE_DOC_ID_LEN];
    int64_t version;               /* of the snapshot */
    char *snapshot;                /* UTF-8 text (malloc'd) or NULL */
    int64_t updated_at;            /* unix ms */
} store_doc_t;

typedef struct {
    char room_id[STORE_ID_LEN];
    char doc_id[STORE_DOC_ID_LEN];
    int64_t version;               /* the document version this op produced (from 1) */
    char *delta;                   /* the op as JSON text (malloc'd) */
    char author[STORE_SUB_LEN];
    char op_id[STORE_OP_ID_LEN];   /* "" when the client gave none */
    int64_t created_at;            /* unix ms */
} store_doc_op_t;

/* The payload of document requests; store_docs_free releases what it owns. */
typedef struct {
    store_doc_t doc;
    store_doc_op_t op;
    int64_t from;                  /* DOC_OPS_RANGE */
    uint32_t limit;
    store_doc_op_t *ops;           /* DOC_LOAD / DOC_OPS_RANGE output (malloc'd array) */
    size_t nops;
} store_docs_t;

/* Frees what d owns (doc.snapshot, op.delta, ops and their deltas) and zeroes them. */
void store_docs_free(store_docs_t *d);

typedef struct store_req_s store_req_t;
typedef void (*store_cb)(store_req_t *req);

/* One request. The caller allocates it (often embedded in its own struct), fills type
 * and the inputs, and owns it again when cb runs. */
struct store_req_s {
    store_req_type_t type;
    int err;              /* set before cb runs */
    store_cb cb;          /* runs on the loop thread */
    void *data;           /* the caller's */
    char key[STORE_EMAIL_LEN];
    unsigned update_mask;
    store_user_t user;
    store_audit_t audit;
    store_revoke_t revoke;
    store_revoke_t *revokes; /* REVOKE_LOAD output (malloc'd; the caller frees it) */
    size_t nrevokes;
    store_rooms_t *rooms; /* room requests: borrowed until cb */
    store_docs_t *docs;   /* document requests: borrowed until cb */
    store_req_t *next;    /* internal: queue link */
};

/* What a backend implements. Every function runs on the worker thread, except open (at
 * start, on the caller's thread, before any request) and close (after the last one). */
typedef struct {
    const char *name;
    /* Opens the database at target, applies pending schema migrations. Returns the
     * backend's connection state, or NULL with a one-line reason in err. */
    void *(*open)(const char *target, log_t *log, char *err, size_t errlen);
    int (*begin)(void *conn);           /* 0 or STORE_EIO */
    int (*commit)(void *conn);          /* 0 or STORE_EIO */
    void (*rollback)(void *conn);
    /* Runs one request inside the open transaction and sets req->err. A STORE_EIO result
     * rolls the transaction back: every request of the batch then fails with EIO. */
    void (*exec)(void *conn, store_req_t *req);
    void (*close)(void *conn);
} store_backend_t;

typedef struct store_s store_t;

/* The SQLite backend (target: the database file path). */
extern const store_backend_t store_sqlite_backend;

/* Opens the store with backend be on target and starts its worker thread; callbacks are
 * delivered on loop. log is borrowed and must outlive the store. Returns a new store, or
 * NULL with a one-line reason in err (nothing is then left on the loop). The store keeps
 * the loop alive only while requests are outstanding. Call on the loop thread. */
store_t *store_open(const store_backend_t *be, const char *target, uv_loop_t *loop,
                    log_t *log, char *err, size_t errlen);

/* Queues req (borrowed until its callback). Never calls cb before returning. Call on the
 * loop thread (a store callback may submit). */
void store_submit(store_t *st, store_req_t *req);

/* Finishes every queued request (their callbacks run first, on this thread, from inside
 * this call), stops the worker and frees st. Submissions made from those callbacks fail
 * with STORE_ECLOSED. Call on the loop thread once the server stopped, never from a store
 * callback; NULL is a no-op. The store's async handle is left closing: run the loop once
 * more (uv_run, any mode) before uv_loop_close, and its close callback frees it. */
void store_close(store_t *st);

#endif
