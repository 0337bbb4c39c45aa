/* quota.h: storage quotas: how many bytes a room and a user have stored, and whether a
 * write still fits. Pure bookkeeping on the loop thread: the counters are loaded from the
 * store at start, raised by each write, lowered by each delete (retention, room deletion),
 * so no write needs a SUM query. */
#ifndef CHORUS_QUOTA_H
#define CHORUS_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#include "util/strmap.h"

/* What a stored row counts: its variable-length payload plus STORE_ROW_BYTES (store.h) for
 * the fixed columns, so that empty rows are not free. */

typedef struct {
    uint64_t room_max; /* bytes per room; 0 = unlimited */
    uint64_t user_max; /* bytes per user across rooms; 0 = unlimited */
} quota_limits_t;

enum {
    QUOTA_OK = 0,
    QUOTA_EROOM = -1, /* the room's quota would be passed */
    QUOTA_EUSER = -2, /* the user's quota would be passed */
};

/* Bytes stored per user (author), by user id. */
typedef struct {
    strmap_t map; /* user id -> quota_user_t (owns its key) */
} quota_users_t;

/* Whether add more bytes fit: QUOTA_OK, QUOTA_EROOM or QUOTA_EUSER. A write that does not
 * grow anything (add <= 0) always fits, so a full room can still shrink. */
int quota_check(const quota_limits_t *lim, int64_t room_used, int64_t user_used, int64_t add);

/* used + delta, never below 0 (a counter that drifted cannot go negative). */
int64_t quota_add(int64_t used, int64_t delta);

/* Initialises u empty; seed should be random. */
void quota_users_init(quota_users_t *u, uint64_t seed);

/* Frees every entry. */
void quota_users_free(quota_users_t *u);

/* Bytes user (borrowed; "" = the server, never counted) has stored; 0 when unknown. */
int64_t quota_user_used(const quota_users_t *u, const char *user);

/* Adds delta (may be negative) to user's bytes; an entry reaching 0 is dropped. user is
 * copied. "" is ignored. */
void quota_user_add(quota_users_t *u, const char *user, int64_t delta);

/* The number of users with bytes stored (tests and logs). */
size_t quota_users_count(const quota_users_t *u);

/* ---- a cluster's per-user quota: allowances (issue 19) ----
 *
 * In a cluster a user writes into rooms at home on different nodes, so no node's counters
 * see all of the user's bytes. The shared figure is the store's: the user's rows plus the
 * allowances nodes hold (store.h, STORE_QUOTA_RESERVE). Each node holds an allowance per
 * active user, bytes taken from the quota in chunks, checks writes against it with no
 * round trip, asks for more before it runs out (prefetch) or when a write does not fit
 * (the write waits: gate), and gives it back once the user is idle. An allowance is good
 * for QUOTA_LEASE_TTL_MS by the database's clock; this node counts it void a quarter
 * earlier (from when it asked), so it never uses bytes the store may give another node. A
 * dead node's allowances are given to no one until they expire. This is the bookkeeping,
 * pure, time passed in (loop ms); rooms_quota.c does the asking. */

#define QUOTA_LEASE_CHUNK (1024 * 1024) /* bytes asked at most at a time */
#define QUOTA_LEASE_LOW (256 * 1024)    /* below this the next chunk is asked ahead */
#define QUOTA_LEASE_TTL_MS 60000        /* an allowance's life in the store, unrenewed */
#define QUOTA_LEASE_IDLE_MS 10000       /* unused this long: given back */
#define QUOTA_LEASE_RETRY_MS 1000       /* after the store said "no more": ask again after */
#define QUOTA_LEASE_CREDIT (64 * 1024)  /* owed at most by writes that could not wait */

typedef struct {
    int64_t allow;        /* bytes this node may still store for the user */
    uint64_t asked_at;    /* loop ms: when the last granted reservation was sent */
    uint64_t valid_until; /* loop ms: the allowance is void from then (0: none held) */
    uint64_t last_use;    /* loop ms: the last write charged to it */
    uint64_t full_until;  /* loop ms: the store had too little left for a waiting write;
                           * until then writes past allow are refused without asking */
    int pending;          /* a reservation is in the store */
    int due;              /* the next chunk is to be asked once the charged write is sent */
    int empty;            /* the last reservation that asked for bytes got none: the store
                           * has nothing free for the user; no credit (and the entry is
                           * kept) until one grants some (rooms_quota.c sets it) */
    int64_t sent_keep;    /* what the pending one keeps */
    char id[];            /* the user's id (the key) */
} quota_lease_t;

typedef struct {
    strmap_t map; /* user id -> quota_lease_t (owns its key) */
} quota_leases_t;

/* What a write must do (quota_lease_gate). */
enum {
    QUOTA_LEASE_PASS = 0, /* check it against the allowance now (quota_lease_fits) */
    QUOTA_LEASE_WAIT = 1, /* wait for a reservation (ask one unless pending) */
};

/* Initialises t empty; seed should be random. */
void quota_leases_init(quota_leases_t *t, uint64_t seed);

/* Frees every entry. */
void quota_leases_free(quota_leases_t *t);

/* The user's entry (borrowed from t), NULL when none. */
quota_lease_t *quota_lease_get(const quota_leases_t *t, const char *user);

/* The user's entry, made empty if none (borrowed from t). user ("" never) is copied. */
quota_lease_t *quota_lease_of(quota_leases_t *t, const char *user);

/* The bytes l (NULL: none) lets this node store at now: 0 once void. */
int64_t quota_lease_allow(const quota_lease_t *l, uint64_t now);

/* Whether a write of need bytes by l's user (NULL: nothing held) may be checked now (PASS)
 * or must wait for a reservation (WAIT): it waits when the allowance does not cover need,
 * unless the store said lately that there is no more (full_until): then the check
 * refuses what does not fit. */
int quota_lease_gate(const quota_lease_t *l, int64_t need, uint64_t now);

/* Whether to ask l's store for more ahead of need: not pending, not lately full, and the
 * allowance below QUOTA_LEASE_LOW or past half its life. */
int quota_lease_prefetch(const quota_lease_t *l, uint64_t now);

/* Whether add bytes fit l (NULL: nothing held) at now. add <= 0 always fits. */
int quota_lease_fits(const quota_lease_t *l, int64_t add, uint64_t now);

/* Whether a write of add bytes that does not fit l (NULL: nothing held) and could not
 * wait (a room's creation with its state, an entity's update charged to its owner) may
 * still be made, the allowance going below 0 until the next grant repays it: when the
 * store did not say lately that there is no more (full_until), nor at its last answer
 * (empty), and either nothing is owed or what is owed with add stays within
 * QUOTA_LEASE_CREDIT. The slack, per node and user: one write or QUOTA_LEASE_CREDIT bytes,
 * whichever is more, while the user is under the quota (docs/operations.md). */
int quota_lease_overdraw(const quota_lease_t *l, int64_t add, uint64_t now);

/* Charges add bytes (> 0) written at now, or gives -add back (a write that failed). */
void quota_lease_take(quota_lease_t *l, int64_t add, uint64_t now);

/* A reservation is sent at now: marks l pending and returns what it keeps (its allowance,
 * 0 once void: a void allowance is dropped). give_back: it gives everything back (keep 0,
 * the allowance dropped now). */
int64_t quota_lease_ask(quota_lease_t *l, uint64_t now, int give_back);

/* The reservation sent at asked_at answered: ok (0: it failed, nothing changed), grant
 * bytes added, need the waiting write's size (0: none), want what it asked for at most (0:
 * a give-back). Sets full_until when the grant left the allowance under need, and empty
 * when a reservation that asked for bytes got none (cleared by one that got some). */
void quota_lease_answered(quota_lease_t *l, int ok, int64_t grant, int64_t need, int64_t want,
                          uint64_t asked_at, uint64_t now);

/* Whether l's allowance should be given back at now: held, not pending, unused for
 * QUOTA_LEASE_IDLE_MS. */
int quota_lease_idle(const quota_lease_t *l, uint64_t now);

/* Whether l can be forgotten at now: nothing held or pending, not lately full, not empty. */
int quota_lease_unused(const quota_lease_t *l, uint64_t now);

/* Removes and frees l (not pending). */
void quota_lease_drop(quota_leases_t *t, quota_lease_t *l);

#endif
