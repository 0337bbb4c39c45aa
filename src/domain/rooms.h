/* rooms.h: live rooms: the registry (by id and by code), membership rules, room state,
 * message sequencing and the persistence of all of it through the store. Both the REST
 * API and the WebSocket ops go through here, so the rules live in one place. Delivery to
 * connected members goes through the bus (bus.h).
 *
 * The module's files, one concern each (what they share: rooms_internal.h, private):
 *   rooms.c           the registry, access, quotas, JSON views, the tick, the sweep, init
 *   rooms_op.c        store round trips (an operation answers once its write committed)
 *   rooms_members.c   create, join, leave, kick, bans, subscriptions
 *   rooms_messages.c  post, history, the recent-message ring, retention, broadcast
 *   rooms_presence.c  presence and typing
 *   rooms_state.c     state, settings, the room code, delete */
#ifndef CHORUS_ROOMS_H
#define CHORUS_ROOMS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "auth/auth_jwt.h"
#include "auth/auth_random.h"
#include "bus/bus.h"
#include "util/config.h"
#include "domain/docs_limits.h"
#include "domain/entity_set.h"
#include "util/log.h"
#include "util/rate_window.h"
#include "domain/presence.h"
#include "domain/presence_watch.h"
#include "domain/room_lookup.h"
#include "domain/room_version.h"
#include "domain/roster.h"
#include "domain/webhook_rules.h"
#include "domain/quota.h"
#include "store/store.h"
#include "util/keyset.h"
#include "util/strmap.h"
#include "util/slab.h"

/* Posts one room holds behind a message with a client id in flight (rooms_messages.c);
 * past it a post is refused service_unavailable. */
#define ROOMS_HELD_MAX 256

typedef struct room_s room_t;
typedef struct room_member_s room_member_t;
typedef struct rooms_s rooms_t;
typedef struct rooms_feature_s rooms_feature_t;

/* A feature as rooms_init takes it: its hooks and the state they are given. */
typedef struct {
    const rooms_feature_t *hooks; /* borrowed (a static const table) */
    void *ud;                     /* borrowed: the feature's own state, first argument of
                                   * every hook (NULL when it keeps none) */
} rooms_feature_use_t;

/* Features one registry takes: documents, entities, and room for signaling and assets. */
#define ROOMS_FEATURES_MAX 8

struct doc_s;

/* A participant: a user with a seat in a room, online or not. One per member of every
 * room in memory, so kept small (docs/benchmarks.md, the idle connection's bytes): the
 * strings are as long as they are, the user id and the display name it was added with
 * allocated with the record (one malloc block a member). */
struct room_member_s {
    room_t *room;
    room_member_t *next;       /* the room's members */
    room_member_t *dirty_next; /* the registry's pending-presence list */
    /* In the record after user_id, or owned once the member picked a longer name
     * (rooms_member_rename). */
    char *display_name;
    int64_t joined_at;   /* unix ms; for a banned member, when the ban was made */
    uint64_t release_at; /* loop ms when a dropped member's seat goes; 0 = none */
    presence_t presence;
    uint32_t online;        /* subscribed connections */
    uint32_t seat;          /* its seat number in the room's roster (roster_add) */
    uint8_t role;           /* STORE_ROLE_* */
    uint8_t banned;         /* kicked with ban: holds no seat, may not join */
    uint8_t presence_dirty; /* on the registry's pending-presence list */
    char color[STORE_COLOR_LEN];
    char user_id[]; /* allocated with the record (rooms_member_add), then the name */
};

struct room_s {
    char id[STORE_ID_LEN];
    char code[STORE_CODE_LEN];
    char name[STORE_ROOM_NAME_LEN];
    char host_id[STORE_SUB_LEN];
    uint32_t capacity;
    int is_public;
    json_t *state;             /* owned object */
    int64_t state_version;     /* of the last state or entity change */
    room_version_t versions;   /* the stored version each state write follows */
    int64_t last_seq;          /* seq of the last message handed to the store */
    int64_t committed_seq;     /* seq of the last message the store committed */
    /* The store's change counter of the room (a cluster's, PostgreSQL: store.h,
     * "Fencing") as its last answer said, and the value the home's record ("n") holds:
     * written once every event of the changes it counts went out (rooms_changes_seen). */
    int64_t changes, changes_rec;
    uint32_t msg_writes;       /* message inserts in flight */
    int seq_lost;              /* an insert failed: once none is in flight, seqs go on
                                * from committed_seq, so that the failed one leaves no gap */
    /* A message with a client id is in flight: it may turn out a duplicate that takes no
     * seq, so the room's later posts wait in held_head (in order) until it answered, and
     * their seqs leave no gap (rooms_messages.c). */
    int cid_write;
    struct rooms_held_s *held_head, *held_tail;
    uint32_t held_n;           /* posts in held_head: at most lim.held_max */
    /* The newest committed messages, encoded once, for join replies (rooms_recent): a
     * ring of up to lim.join_history texts, oldest first from recent_head. Only while
     * recent_ok (filled by a join's history, kept up by each commit, dropped on a gap,
     * past ROOMS_RECENT_MAX_BYTES, and by the 1 s tick when the room has no
     * subscribers or no join used it for ROOMS_RECENT_IDLE_MS). */
    char **recent;
    size_t recent_cap, recent_len, recent_head, recent_bytes;
    int64_t recent_last;       /* seq of the newest message in it */
    int recent_ok;
    uint64_t recent_used;      /* loop ms a join last filled or read it */
    /* A join's history read that fills the cache is in flight (rooms_join_history): the
     * joins that find the cache cold meanwhile wait for it in this list, in order, and
     * get its answer, so a burst of joins into a cold room reads the store once. */
    int recent_reading;
    struct rooms_recent_wait_s *recent_wait_head, *recent_wait_tail;
    /* Once the read came back, its waiters are answered a slice an iteration
     * (rooms_recent_step): the room is then held in rooms_t's recent_due list, with the
     * read's answer (owned; NULL: none) while it is exact, i.e. committed_seq is still
     * recent_answer_seq (the cache may have been dropped, or never filled). */
    int recent_due;
    struct room_s *recent_due_next;
    json_t *recent_answer;
    int64_t recent_answer_seq;
    int64_t created_at;        /* unix ms */
    int64_t last_activity;     /* unix ms */
    room_member_t *members;    /* newest first: by seat number, decreasing */
    /* The members by user id (banned ones too), the participants by display name (the
     * guest name aside: any number share it) and in page order (roster.h): a join, a
     * name check and a page cost no walk over the members. */
    keyset_t by_user, by_name;
    roster_t roster;
    uint32_t seats;            /* members that are not banned */
    uint32_t cohosts;          /* members other than host_id whose role is host: while 0,
                                * rooms_may_manage looks up no member */
    bus_topic_t bus;           /* the room's topic: its connections here */
    /* The built-in features' state of the room, embedded rather than reached through a
     * per-feature pointer so the doc op and the entity update read it with no indirection
     * and no allocation per room; only docs.c and entities.c use it (rooms.c frees it
     * through their hooks). A new feature keeps its own. */
    struct doc_s *docs;        /* documents loaded in memory (docs.c) */
    entity_set_t ents;         /* shared scene state (entities.c) */
    uint32_t nlocks;           /* entities locked */
    struct rooms_outbox_ev_s *out_head, *out_tail; /* the outbox (rooms_outbox_push) */
    rooms_t *rooms;            /* the registry (borrowed): how room_free finds the hooks */
    int64_t stored_bytes;      /* what the room stores, as quotas count it (quota.h) */
    /* The admin view's rates (issue 24): messages posted, and document ops and entity
     * changes applied, in the last minute (unix ms). */
    rate_window_t rate_msgs, rate_ops;
    int64_t state_bytes;       /* of that, the state's */
    uint32_t refs;             /* pending store work holding the room */
    int deleted;               /* gone from the registry; freed when refs reach 0 */
    int usage_counted; /* its users' stored bytes are in rooms_t.users (rooms_fill): once a
                        * process, whatever copy or stand-in of it replaces this one */
    /* Webhooks (issue 21): room.occupied was sent and room.vacated not yet; when the
     * last member went offline (loop ms; 0: someone is online), from which the tick
     * counts the seat grace before room.vacated. */
    uint8_t hook_occupied;
    uint64_t hook_empty_at;
    /* A large room's membership and presence changes held for the next
     * participants_changed (rooms_coalesce.c); NULL: none. */
    struct rooms_coal_s *coal;
    /* Who watches whose presence among this process's connections in the room
     * (presence_subscribe: rooms_watch_set); NULL until the first set. Owned. */
    pwatch_t *watch;
};

typedef struct {
    uint32_t max_capacity;     /* upper bound of capacity */
    uint32_t default_capacity;
    uint32_t max_hosted;       /* live rooms one user may host */
    uint32_t max_bans;         /* banned users one room keeps */
    uint32_t join_history;     /* messages in the join reply */
    uint32_t large;            /* a room with more seats than this is large (issue 26) */
    uint32_t join_participants; /* participants in a large room's join reply */
    uint64_t large_tick_ms;     /* a large room's membership and presence, coalesced */
    uint32_t changed_max;       /* joined participants named in one participants_changed */
    uint64_t large_rate;        /* deliveries a second one large room's events may cost */
    uint32_t watch_max;         /* users one connection's presence_subscribe watches */
    size_t max_message;        /* bytes of message content, JSON-encoded */
    size_t max_metadata;       /* bytes of message metadata, JSON-encoded */
    size_t max_reply;          /* bytes of stored data in one reply (config_reply_budget) */
    size_t max_broadcast;      /* bytes of a broadcast's data */
    size_t max_state;          /* bytes of room state */
    uint64_t seat_grace_ms;    /* a dropped member's seat is held this long */
    uint64_t idle_room_ms;     /* rooms idle this long are deleted */
    uint64_t sweep_ms;         /* how often idle rooms are looked for */
    uint32_t max_joined;       /* rooms one connection may have joined */
    uint32_t held_max;         /* posts a room holds behind a client id (ROOMS_HELD_MAX) */
    quota_limits_t quota;      /* bytes stored per room and per user */
    uint64_t msg_retention_ms; /* messages older than this go; 0 = kept */
    uint64_t msg_keep;         /* newest messages kept per room; 0 = all */
    uint64_t doc_keep;         /* op log rows kept before a snapshot; 0 = all */
    uint64_t log_retention_ms; /* change log: changes older than this compacted; 0 = never */
    uint64_t log_keep;         /* change log: newest changes kept whole per room; 0 = all */
    uint64_t retention_ms;     /* how often the retention rules run */
    uint64_t act_retention_ms; /* activity rows older than this go; 0 = kept */
    uint64_t act_keep;         /* newest activity rows kept per room; 0 = all */
    presence_rules_t presence;
    const char *public_url;    /* joinLink base */
} rooms_limits_t;

#define ROOMS_GONE_RING 32

struct rooms_s {
    uv_loop_t *loop;           /* borrowed */
    log_t *log;                /* borrowed */
    store_t *store;            /* borrowed */
    bus_t *bus;                /* borrowed: how events reach the members */
    rooms_feature_use_t features[ROOMS_FEATURES_MAX]; /* hooks called in this order */
    size_t nfeatures;
    rooms_limits_t lim;
    /* The built-in features' registry-wide state, embedded for the same reason as in
     * room_t; set up by their start hooks (docs.c, entities.c), unused by rooms.c. */
    docs_limits_t docs;
    entity_limits_t ent_lim;
    /* Random bytes read ahead for the stored messages' ids (auth_random_uuid_pooled). */
    auth_random_pool_t msg_ids;
    strmap_t by_id, by_code;
    /* Owned (slab.h): the members (a size class per 8 bytes of id and name) and the room
     * subscriptions, in pages of their own: one of each per connection in a room. */
    slab_t *member_slab, *sub_slab;
    uint64_t recent_freed;     /* bytes of recent messages dropped so far (rooms_recent_drop):
                                * the server's heap trim gives them back (heap_trim_freed) */
    entity_t *ent_due;         /* entities with held transient changes */
    uv_timer_t ent_timer;      /* applies them when due */
    int ent_timer_on;
    room_member_t *dirty;      /* members with held presence changes */
    uv_timer_t presence_timer; /* flushes held presence changes */
    uv_timer_t tick_timer;     /* idle presence, typing expiry, seat release (1 s) */
    uv_timer_t sweep_timer;    /* idle rooms */
    uv_timer_t retention_timer; /* retention sweeps (when a rule is set) */
    int retention_busy;        /* a sweep is in the store */
    quota_users_t users;       /* bytes stored per user */
    /* A cluster's per-user quota (rooms_quota.c): this node's allowances, its holder id in
     * the store (0: one process, or no --user-quota: none kept), what to tell when a
     * reservation answers (the home's waiting ops), and reservations in the store. */
    quota_leases_t leases;
    uint64_t quota_holder;
    void (*quota_ready)(void *ud, const char *user, int ok);
    void *quota_ready_ud;
    uint32_t quota_asks;
    int presence_timer_on;
    room_lookup_t *lookup;     /* failed lookups per user and IP (owned) */
    uint64_t lookup_swept_ms;  /* when the tick last swept it */
    /* The tick's pass over every room and member, a budget at a time (rooms_tick_step):
     * the next slot of by_id, and the room being walked with its next member (NULL
     * between rooms; rooms_member_remove and rooms_room_drop keep both valid). */
    int tick_busy;
    size_t tick_pos;
    room_t *tick_room;
    room_member_t *tick_member;
    uv_idle_t tick_more;       /* the rest of a pass and of a sweep, a slice an iteration */
    /* Rooms whose joins' history read came back, held, in order: their waiting joins are
     * answered a slice an iteration from recent_more (rooms_recent_step). */
    room_t *recent_due_head, *recent_due_tail;
    uv_idle_t recent_more;
    int recent_closed; /* rooms_close ran: a read's waiters are answered at once */
    /* The idle-room sweep's rooms, held, deleted a budget at a time (rooms_sweep_step). */
    room_t **sweep_doomed;     /* owned array */
    size_t sweep_n, sweep_i, sweep_cap;
    int64_t sweep_cutoff;      /* unix ms: rooms last active before it go */
    struct webhooks_s *hooks;  /* borrowed: the webhook endpoints (webhooks.h); NULL: none */
    struct activity_log_s *act; /* borrowed: the activity stream (activity_log.h); NULL: none */
    /* Members with at least one connection (online > 0), over every room: kept where
     * online goes from 0 or to 0 and where a member goes, for GET /metrics (rooms_count). */
    uint64_t online;
    /* The last rooms deleted, here or announced gone (rooms_gone), a ring: a store read of
     * a room this node did not know (rooms_seek) that answers one deleted meanwhile keeps
     * no stand-in of it. gone_n counts them all. */
    uint64_t gone_n;
    char gone[ROOMS_GONE_RING][STORE_ID_LEN];
    /* Rooms with coalesced changes held, sent together when coal_timer fires
     * (rooms_coalesce.c). */
    room_t *coal_rooms;
    uv_timer_t coal_timer;
    int coal_timer_on;
    int coal_closed; /* rooms_close ran: nothing is held any more */
};

/* A feature of rooms (documents, entities; later signaling, assets): what rooms.c calls
 * at the points of a room's and a member's life, so that it knows no feature by name. A
 * feature is one static const table, listed to rooms_init with its state (ud); rooms.c
 * calls each hook of each feature in the list's order, at the point written, with that
 * ud first, and skips a NULL hook. Every hook borrows all its arguments. A feature keeps
 * what it needs per registry in its ud and per room in its own map by room id (the
 * built-in ones' state is embedded in rooms_t and room_t, see there). */
struct rooms_feature_s {
    const char *name;
    /* The rows the store loaded at start (pl borrowed), once the rooms and their
     * participants are in the registry. */
    void (*load)(void *ud, rooms_t *r, const store_rooms_t *pl);
    /* Once the rooms loaded: reads its limits from cfg and sets up its handles. */
    void (*start)(void *ud, rooms_t *r, const chorus_config_t *cfg);
    /* Shutdown (rooms_close), before the rooms' own timers close: applies what it holds
     * back, so its writes are queued before the store closes, and closes its handles. */
    void (*close)(void *ud, rooms_t *r);
    /* At the room's home: user_id left room, was kicked or banned, before its connections
     * are told and unsubscribed (through the bus). */
    void (*member_left)(void *ud, rooms_t *r, room_t *room, const char *user_id);
    /* At the room's home: the connection member (of user_id) detached from room (it
     * disconnected), before the member may go offline. */
    void (*member_gone)(void *ud, rooms_t *r, room_t *room, bus_member_t member,
                        const char *user_id);
    /* On the connection's process: c's subscription to room is being dropped because the
     * home removed its user (left, kicked, banned) or the room (deleted); c is still
     * subscribed. */
    void (*client_left)(void *ud, rooms_t *r, room_t *room, bus_rcv_t *c);
    /* On the connection's process: c disconnected, before its subscriptions are dropped
     * and its rooms' homes are told (rooms_detach). */
    void (*client_gone)(void *ud, rooms_t *r, bus_rcv_t *c);
    /* room is deleted (by its host or idle): room_deleted is already published, and its
     * connections are still subscribed. The room stays allocated while work holds it. */
    void (*room_dropped)(void *ud, rooms_t *r, room_t *room);
    /* room is freed: nothing is in flight any more; free what the feature keeps in it. */
    void (*room_freed)(void *ud, rooms_t *r, room_t *room);
    /* The rooms' 1 s tick, for each live room, at monotonic time now_ms. */
    void (*tick)(void *ud, rooms_t *r, room_t *room, uint64_t now_ms);
};

/* The outcomes of room operations, whatever the transport asked for them: the REST layer
 * turns each into an HTTP status (api_status_of, api_rooms.c), the WebSocket layer answers
 * the error's code. One value per kind of outcome; the codes each one carries today are
 * listed (the code says which case it was, to clients of both). */
typedef enum {
    ROOMS_OK = 0,
    ROOMS_E_INVALID = -1,      /* the request is malformed or makes no sense: bad_request,
                                * validation_error (with a field), host_cannot_leave */
    ROOMS_E_FORBIDDEN = -2,    /* the caller may not: forbidden, banned, room_full */
    ROOMS_E_NOT_FOUND = -3,    /* no such room, participant or ban: not_found */
    ROOMS_E_CONFLICT = -4,     /* the room's state refuses it: name_taken, ban_limit,
                                * capacity_below_participants */
    ROOMS_E_TOO_LARGE = -5,    /* content, metadata or state over its limit:
                                * payload_too_large */
    ROOMS_E_LIMIT = -6,        /* the caller hosts the most live rooms: room_limit */
    ROOMS_E_RATE_LIMITED = -7, /* too many failed lookups (rooms_access): rate_limited */
    ROOMS_E_QUOTA = -8,        /* a storage quota is full: quota_exceeded */
    ROOMS_E_UNAVAILABLE = -9,  /* try again later: service_unavailable */
    ROOMS_E_IO = -10,          /* the store failed: internal_error */
    ROOMS_E_GONE = -11,        /* a moment older than the room's history keeps:
                                * history_unavailable */
} rooms_errno_t;

/* An error of a room operation: its kind and the stable protocol code, the message and the
 * field at fault (static or caller-owned texts, valid during the callback). */
typedef struct {
    rooms_errno_t kind;        /* ROOMS_OK (0) = no error */
    const char *code;
    const char *message;
    const char *field;         /* validation_error: the field at fault, else NULL */
} rooms_err_t;

/* Initialises r on loop from cfg with the nfeatures features (at most ROOMS_FEATURES_MAX;
 * the array is copied, the tables and uds are borrowed; NULL when nfeatures is 0); loads
 * every room and participant from the store and hands the features their rows (running
 * the loop until loaded), then starts the features. Returns 0, or -1 with a log line.
 * Borrowed pointers must outlive r. */
int rooms_init(rooms_t *r, uv_loop_t *loop, const chorus_config_t *cfg, log_t *log,
               store_t *store, bus_t *bus, const rooms_feature_use_t *features,
               size_t nfeatures);

/* One slice of the 1 s tick at monotonic time now (ms): continues the current pass over
 * every room and member, or starts one, and stops once it did budget's worth of work
 * (rooms.c: visiting a room or a member costs 1, an event sent or a seat released 64).
 * Returns 1 while the pass has more to do (call again, from a later loop iteration), 0
 * when it is over. A member is handled once per pass: a seat is released at the first
 * slice whose now is at or past its release_at, never before. A room added or deleted
 * during a pass may be skipped (or seen twice) by that pass only. Borrows r. */
int rooms_tick_step(rooms_t *r, uint64_t now, unsigned budget);

/* The idle-room sweep: rooms_sweep_start picks the rooms with no connection here whose
 * last activity is before cutoff (unix ms), unless the last sweep still has rooms to
 * delete; each rooms_sweep_step deletes at most budget of them (those still idle) and
 * returns 1 while some are left, else 0. Borrows r. */
void rooms_sweep_start(rooms_t *r, int64_t cutoff);
int rooms_sweep_step(rooms_t *r, unsigned budget);

/* Closes r's timers and the features' handles; memory is freed by rooms_free after the
 * loop ran. */
void rooms_close(rooms_t *r);
void rooms_free(rooms_t *r);

/* Keeps room allocated across asynchronous work (even if it is deleted meanwhile). */
void rooms_hold(room_t *room);
void rooms_release(room_t *room);

/* In a cluster (bus.h), every node knows every live room, to find it by id or code, and
 * each connection subscribes to a room on its own node: the room's home announces a room
 * made, given a new code or deleted (rooms_announce, borrowing room; gone: deleted), and
 * the other nodes keep a stand-in of it (rooms_adopt, the bus_room_fn with the rooms_t as
 * ud): its id, code, name, settings and host, for lookups and subscriptions only; the home
 * decides everything else. */
void rooms_announce(rooms_t *r, const room_t *room, int gone);
void rooms_adopt(void *ud, const char *text, size_t len);

/* Records that the room of id (borrowed) was deleted, here or on another node (see
 * rooms_t.gone). */
void rooms_gone(rooms_t *r, const char *id);

/* Answers a rooms_seek: 0 (the room is known here now: look it up again),
 * ROOMS_E_NOT_FOUND (no such room: answer not_found "no such room"; the failed lookup is
 * charged) or ROOMS_E_UNAVAILABLE (the store could not be read: answer unavailable). */
typedef void (*rooms_seek_fn)(void *ud, int rc);

/* In a cluster, a room this node does not know may be one made on another node whose
 * announcement has not come yet: on such a miss of key (borrowed: an id or a code), by
 * user_id from ip (borrowed; ip may be NULL), reads the room from the store and keeps it as
 * a stand-in (as rooms_adopt), then calls fn(ud, rc) once, later. The store read is a
 * failed lookup until it finds the room (charged first, given back when found), so the
 * failed-lookup limit bounds it (rooms_access). Returns 1 (under way), 0 (nothing to read:
 * one node, or key names no room by its form; look up as usual), or ROOMS_E_RATE_LIMITED
 * with *retry_after_ms (may be NULL; fn is not called). */
int rooms_seek(rooms_t *r, const char *key, const char *user_id, const char *ip,
               uint64_t *retry_after_ms, rooms_seek_fn fn, void *ud);

/* A takeover (bus_on_takeover; ud: the rooms_t). rooms_reload reads the room of id
 * (borrowed), whose lease this process just won, whole from the store, as after a restart
 * (every seat offline, no presence, no locks), in place of the copy here, whose
 * connections get a room_reset event and leave it; then answers bus_reloaded. rooms_reset gives the connections here in the room of id,
 * another node's, a room_reset event of reason (static) and ends their subscriptions (the
 * home told they left, unless reason is "home_lost"). rooms_lost: this node's lease of the
 * room of id ended; its connections get room_reset ("resync") and a stand-in replaces the
 * room here (bus_lost_fn). */
void rooms_reload(void *ud, const char *id);
void rooms_reset(void *ud, const char *id, const char *reason);
void rooms_lost(void *ud, const char *id);
/* rooms_restore (bus_restore_fn; rooms_restore.c): at the new home, the last home's record
 * puts back its connections and locks; those of dead nodes (and of this node's that are
 * not subscribed here) are released as one server releases a dropped connection's
 * (entity_unlock "disconnected", participant_left "disconnected" or the coalesced
 * participants_changed, the seat's grace). Returns 1 when the room's stored seq and state
 * version are the ones the last home recorded as published (the others' connections
 * missed nothing: kept), else 0 (the connections here get room_reset "home_lost").
 * rooms_keep (bus_keep_fn): another node took the room over and said so: the connections
 * here stay, but those with a document of the room open, which get room_reset "resync"
 * (the home told). rooms_reset_here: the connections here in room get room_reset of
 * reason (static), no detach. */
int rooms_restore(void *ud, const char *id, const bus_rec_t *rec);
void rooms_keep(void *ud, const char *id);
void rooms_reset_here(rooms_t *r, room_t *room, const char *reason);

/* Looks up a live room by id or by code (any case). NULL when none. Callers answering a
 * client pass the result through rooms_access. */
room_t *rooms_get(rooms_t *r, const char *id_or_code);

/* What a caller must be to learn that a room exists. */
typedef enum {
    ROOMS_SEEK_ANY = 0,    /* the id or code is the invitation: join, look at the room */
    ROOMS_SEEK_MEMBER = 1, /* only participants (not banned) may know of it */
} rooms_seek_t;

/* Decides whether user_id, from ip (borrowed; may be NULL), may learn of room (the result
 * of a lookup; NULL when it named none), as seek says. Participants pass at once and are
 * never limited. Anyone else is first checked against the failed-lookup limit
 * (room_lookup.h); then a room that exists passes ROOMS_SEEK_ANY, and everything else is a
 * failed lookup (charged). Returns 0; ROOMS_E_NOT_FOUND: answer not_found "no such room",
 * exactly as for a room that does not exist; ROOMS_E_RATE_LIMITED: answer rate_limited, with
 * *retry_after_ms (may be NULL) until a lookup is allowed again. */
int rooms_access(rooms_t *r, const room_t *room, const char *user_id, const char *ip,
                 rooms_seek_t seek, uint64_t *retry_after_ms);
room_member_t *room_member(room_t *room, const char *user_id);

/* The live rooms of r into *nrooms and their online members (those with at least one
 * connection) into *online, for GET /metrics: two counters, nothing walked. */
void rooms_count(const rooms_t *r, uint64_t *nrooms, uint64_t *online);

/* Room JSON as in the REST API (borrowed room; new reference). */
json_t *room_json(rooms_t *r, const room_t *room);
/* room_json(r, room) encoded compact, byte for byte, written from room's fields with no
 * tree; its state as the text state (slen bytes: room->state's compact encoding, which
 * the caller has, since a join reply carries it twice). A new NUL-terminated text (the
 * caller frees it), its length in *len. Borrows everything. */
char *room_text(rooms_t *r, const room_t *room, const char *state, size_t slen, size_t *len);
/* A member as JSON (new reference). */
json_t *room_member_json(const room_member_t *m);
/* The member's compact JSON encoding, byte for byte what encoding room_member_json(m)
 * gives, written from m's fields without a tree: a new text (the caller frees it), its
 * length in *len when len is not NULL. The presence is written as the text it is kept as
 * (presence_state_text). */
char *room_member_text(const room_member_t *m, size_t *len);
json_t *room_members_json(const room_t *room);
/* A page of room's participants in page order (roster.h: online first, then offline, each
 * by seat) from *pos: online only when online_only, only those whose display name
 * contains query (room_name_matches; NULL or "": all), at most limit (> 0) into out
 * (borrowed records). Returns how many; *pos is where the next page starts (ROSTER_END:
 * none is left). Costs the page, not the room (but a search reads every name after pos). */
size_t room_members_page(room_t *room, roster_pos_t *pos, int online_only, const char *query,
                         room_member_t **out, size_t limit);
/* room_members_page as a JSON array of room_member_json's objects (a new reference), with
 * the cursor of the next page written into next (ROSTER_CURSOR_LEN bytes; "": none). */
json_t *room_members_page_json(room_t *room, roster_pos_t *pos, int online_only,
                               const char *query, size_t limit, char *next);
/* The n members of list (borrowed) as a JSON array of room_member_json's objects, encoded
 * compact, byte for byte, written from the members' fields (room_member_text): a new text
 * (the caller frees it), its length in *len. A member keeps no encoding of itself (~140
 * bytes each in a room of idle members), only its presence's when it has one. */
char *room_members_text(room_member_t *const *list, size_t n, size_t *len);
/* The presence of the n members of list (borrowed; distinct users), written from the
 * texts the members keep, with no tree: with as_list, server.presence's array
 * [{"userId", "displayName", "state": the current state}, ...]; else presence_subscribe's
 * object {userId: the state as the room last saw it (presence_sent_text), ...}. Byte for
 * byte Jansson's compact encoding of the tree those replies were built as. A new
 * NUL-terminated text (the caller frees it), its length in *len. */
char *room_presence_text(room_member_t *const *list, size_t n, int as_list, size_t *len);
/* 1 when room is large (more seats than lim.large): its join reply carries a page of
 * participants and its membership and presence events are coalesced (issue 26). */
#define ROOMS_LARGE(r, room) ((room)->seats > (r)->lim.large)
/* A stored message as JSON (new reference). */
json_t *room_message_json(const store_message_t *m);
/* room_message_json(m) encoded compact, written from m's fields with no tree: a new
 * NUL-terminated text (the caller frees it), its length in *len (len may be NULL). The
 * metadata is copied as it is: m's must be one valid JSON object (as a post stores it,
 * Jansson's encoding), or NULL ({}). Borrows m. */
char *room_message_text(const store_message_t *m, size_t *len);
/* An upper bound of the bytes room_message_json(m) takes encoded (borrows m). */
size_t room_message_encoded_len(const store_message_t *m);

/* How many of n items of lens[i] bytes a reply of budget bytes takes: the first ones, or
 * with newest set the last ones, while they fit, and always at least one (so paging
 * moves on even past an item larger than the budget). Pure; borrows lens. */
size_t rooms_fit(const size_t *lens, size_t n, size_t budget, int newest);

/* The bytes of messages a join reply carries: half the reply budget; a quarter is for the
 * first page of entities (or the sync page), the rest for the room, the participants and
 * the state. */
#define ROOMS_JOIN_MESSAGES(r) ((r)->lim.max_reply / 2)
#define ROOMS_JOIN_ENTITIES(r) ((r)->lim.max_reply / 4)

/* Whether add more bytes, written in room by user (borrowed; "" = the server, whose
 * writes count for the room only), fit the quotas: 0, or QUOTA_EROOM / QUOTA_EUSER (then
 * answer quota_exceeded, ROOMS_E_QUOTA, with rooms_quota_message). add <= 0 always fits. */
int rooms_quota_check(const rooms_t *r, const room_t *room, const char *user, int64_t add);

/* Counts delta bytes (may be negative) as stored in room by user ("" = nobody). */
void rooms_quota_count(rooms_t *r, room_t *room, const char *user, int64_t delta);

/* ---- a user's quota across a cluster (rooms_quota.c) ---- */

/* Makes r count its users' quotas with allowances from the store (a cluster's node), as
 * holder (random, per process). Without --user-quota it keeps none. Call once after
 * rooms_init. */
void rooms_quota_cluster(rooms_t *r, uint64_t holder);

/* Calls fn(ud, user, ok) when a reservation of user's allowance answered (ok 0: the store
 * failed): the writes waiting for it can run (the home's). ud is borrowed. */
void rooms_quota_on_ready(rooms_t *r, void (*fn)(void *ud, const char *user, int ok), void *ud);

/* Whether a write of about need bytes charged to user (borrowed) must wait for a
 * reservation (1; one is then asked, and quota_ready tells its answer) or may run now (0:
 * one process, nothing to wait for, or the store said lately that nothing is left). */
int rooms_quota_wait(rooms_t *r, const char *user, int64_t need);

/* Whether add bytes for user fit this node's allowance (a cluster's check, user not ""),
 * allowing a write that could not wait on credit (quota_lease_overdraw). */
int rooms_quota_user_fits(rooms_t *r, const char *user, int64_t add);

/* Charges delta bytes written for user to its allowance (a failed write: -its charge).
 * Nothing without allowances. Asks the next chunk ahead when it runs low. */
void rooms_quota_charge(rooms_t *r, const char *user, int64_t delta);

/* The write charged to user (borrowed) was handed to the store: the next chunk its
 * charge made due is asked now, so the store runs the reservation after the write (a
 * reservation before it would count its bytes neither as rows nor as kept). */
void rooms_quota_submitted(rooms_t *r, const char *user);

/* A clean stop (rooms_close, the store still open): every allowance held is given back,
 * and no reservation's answer runs waiting ops any more. */
void rooms_quota_close(rooms_t *r);

/* Gives back the allowances unused for QUOTA_LEASE_IDLE_MS and forgets the empty ones
 * (the tick, every second). */
void rooms_quota_sweep(rooms_t *r, uint64_t now);

/* The message of a quota_exceeded answer for a rooms_quota_check result (static text). */
const char *rooms_quota_message(int rc);

/* Completion of an asynchronous room operation. */
typedef void (*rooms_done_fn)(void *ud, const rooms_err_t *err, json_t *result);
/* A success answered as payload parts (util/jpart.h: borrowed for the call) instead of a
 * result tree, with the same ud as the op's rooms_done_fn (rooms_post_in_t). */
typedef void (*rooms_parts_fn)(void *ud, const jpart_t *parts, size_t nparts);

/* Operations. Each validates, changes the live room, persists, and calls done (from a
 * store callback, or at once for a validation error) with a new reference to its result.
 * user is the caller (borrowed). */
void rooms_create(rooms_t *r, const auth_claims_t *user, const json_t *body, rooms_done_fn done,
                  void *ud);
void rooms_join(rooms_t *r, room_t *room, const auth_claims_t *user, const char *display_name,
                rooms_done_fn done, void *ud);
/* rooms_join whose result is {"success": true} only, not the room and the member: for a
 * caller that reads the room and the member itself and then attaches a connection with
 * rooms_attach (the WebSocket join at the room's home; when the connection went away
 * meanwhile, its process detaches it again: rooms_detach starts the seat's grace).
 * rooms_join (REST) holds the seat for lim.seat_grace_ms only, unless a connection of the
 * user attaches meanwhile: a seat nobody connects to is released like a dropped one. */
void rooms_join_quiet(rooms_t *r, room_t *room, const auth_claims_t *user,
                      const char *display_name, int role, rooms_done_fn done, void *ud);
/* The join hook's role for rooms_join_quiet: -1 keeps the member's (a new one is a member),
 * else STORE_ROLE_MEMBER or STORE_ROLE_HOST. A member whose role is host has the host's
 * rights (rooms_may_manage); the room's own host (host_id) stays host whatever the role. */
#define ROOMS_ROLE_KEEP (-1)
/* 1 when user_id may manage room (state, settings, code, kicks and bans, system
 * messages, any entity): its host (host_id), or a participant whose role is host (given
 * by the app's join hook) and who is not banned. Deleting the room stays the host's. */
int rooms_may_manage(const room_t *room, const char *user_id);
void rooms_leave(rooms_t *r, room_t *room, const char *user_id, const char *reason,
                 rooms_done_fn done, void *ud);
void rooms_kick(rooms_t *r, room_t *room, const auth_claims_t *by, const char *user_id, int ban,
                rooms_done_fn done, void *ud);
void rooms_delete(rooms_t *r, room_t *room, const auth_claims_t *by, rooms_done_fn done,
                  void *ud);
/* Deletes room as rooms_delete does, for an admin (the caller checked that): its members
 * get room_deleted with reason "closed". */
void rooms_admin_close(rooms_t *r, room_t *room, rooms_done_fn done, void *ud);
/* Gives room a new code (host only; else ROOMS_E_FORBIDDEN forbidden): the old code names no room from now
 * on, the room's connections get {"op": "room_code", "room", "roomCode", "joinLink"}, and
 * the result, after the commit, is {"success", "room"}. */
void rooms_rotate_code(rooms_t *r, room_t *room, const char *by, rooms_done_fn done,
                       void *ud);
/* (rooms_rotate_code, rooms_patch_state, rooms_update: by is the caller's user id.) */
/* Applies patch (a JSON merge patch, borrowed) to the room's state as the user by
 * (borrowed; host only). */
void rooms_patch_state(rooms_t *r, room_t *room, const char *by, const json_t *patch,
                       rooms_done_fn done, void *ud);
/* Changes the settings in body ({"name"?, "maxParticipants"?, "isPublic"?}, borrowed;
 * host only; the bounds of rooms_create, and a capacity not below the seats taken: ROOMS_E_CONFLICT
 * capacity_below_participants). Applied at once; answered with the room and announced to
 * the room's connections as room_updated once stored. */
void rooms_update(rooms_t *r, room_t *room, const char *by, const json_t *body,
                  rooms_done_fn done, void *ud);
/* Lifts user_id's ban (host only; ROOMS_E_NOT_FOUND not_found when not banned): the row goes, and the
 * user may join again as a new member. */
void rooms_unban(rooms_t *r, room_t *room, const auth_claims_t *by, const char *user_id,
                 rooms_done_fn done, void *ud);
/* The room's bans, oldest first: [{"userId", "displayName", "color", "bannedAt"}] (new
 * reference; room borrowed). */
json_t *rooms_bans_json(const room_t *room);
/* Posts a message of user_id (borrowed; a participant) to room; its event skips the
 * connection except (its sender; BUS_MEMBER_NONE = none). */
void rooms_post(rooms_t *r, room_t *room, const char *user_id, const char *type,
                const json_t *content, const json_t *metadata, bus_member_t except,
                rooms_done_fn done, void *ud);

/* Applies the side effects an app's backend answered an rpc with (rooms_effects.c) to
 * room, as one step of the room: effects (borrowed) is {"messages"?: [{"type", "content",
 * "metadata"?, "author"?}], "state"?: a merge patch, "broadcasts"?: [{"event", "data"?}]}
 * (shape checked by the caller: rpc_wire.h). Everything is checked first (sizes against
 * the room's limits, the quotas, the room's seqs available) and one failure refuses the
 * whole set with its kind and code, the field named "effects.messages[i].content" etc.;
 * then the state patch (no host check, no system message about it) and the messages (user id
 * "", display name the author or "app") take the room's next state version and seqs, in that
 * order, with nothing between them, and once they are stored the broadcasts (from "") go out,
 * so every member sees them all in that order. done gets {"success", "messages": [seq...],
 * "stateVersion"?}; a store failure after the checks answers internal_error (what was
 * stored stays). */
void rooms_apply_effects(rooms_t *r, room_t *room, const json_t *effects, rooms_done_fn done,
                         void *ud);

/* A message as a post carries it, read from the frame's text without a tree. */
typedef struct {
    const char *type;    /* "" when the frame's was not a string */
    const char *content; /* content_len decoded bytes, NUL-terminated; NULL when the
                            frame's content was not a string */
    size_t content_len;
    const char *metadata; /* the metadata as Jansson writes it (metadata_len bytes, not
                             NUL-terminated), or NULL when the frame had none */
    size_t metadata_len;
    int metadata_object; /* the metadata is an object (anything else is refused) */
    const char *client_id; /* the sender's id of the message (client_id_len bytes, not
                              NUL-terminated), or NULL when the frame had none */
    size_t client_id_len;
    int client_id_bad; /* the frame's clientId was not a string */
    /* NULL: done gets every answer. Else the message's answer once stored goes to it
     * instead, as payload parts: the members of done's result less "success" (today
     * "message", the message's text, which is also its event's), with no tree built; done
     * still gets the refusals, failures and a duplicate's answer. */
    rooms_parts_fn answer_parts;
} rooms_post_in_t;

/* rooms_post with the message as text (in and what it points to borrowed): the same
 * checks, answers and effects. */
void rooms_post_text(rooms_t *r, room_t *room, const char *user_id, const rooms_post_in_t *in,
                     bus_member_t except, rooms_done_fn done, void *ud);
/* An app backend's message (server API) in room, with the checks of rooms_post_text but
 * for membership (any type, system too): stored with no user, author (borrowed, a
 * display name the caller checked) as its displayName and the app flag, at the room's
 * next seq like any other, sent to every connection of the room. */
void rooms_post_app(rooms_t *r, room_t *room, const char *author, const rooms_post_in_t *in,
                    rooms_done_fn done, void *ud);
void rooms_history(rooms_t *r, room_t *room, int64_t before, int64_t after, uint32_t limit,
                   rooms_done_fn done, void *ud);

/* Bytes of encoded messages a room keeps for join replies; past it joins read the store. */
#define ROOMS_RECENT_MAX_BYTES (64 * 1024)
/* A room's recent messages go when no join used them for a minute: a join burst keeps
 * them (each join reads them), a quiet room gives them back (up to 64 KiB a room; in
 * rooms of 100 that each join posted a "joined" message to, ~150 bytes an idle
 * connection, docs/benchmarks.md) and its next join reads the store once, as the first
 * join did. */
#define ROOMS_RECENT_IDLE_MS 60000

/* The newest lim.join_history messages of room as a join reply needs them: the history
 * page (like rooms_history), which also fills the room's recent-message cache. While one
 * such read of the room is in flight, done (not NULL) waits for it: a burst of joins
 * into a cold room reads the store once. The read's own done is answered when it comes
 * back; the joins that waited for it from rooms_recent_step, at most
 * ROOMS_RECENT_BUDGET_NS of them an iteration, in order. Each gets err, or a result
 * that is exact as done runs (its page ends at the room's committed_seq): the read's
 * answer (a new reference each) while nothing committed since, else, when the cache is
 * ready (rooms_recent_ready), {"success": true} without "messages" (read rooms_recent),
 * else the waiter reads again (a new read, the others waiting for it). In a deleted
 * room they get not_found. Each waiter costs a small record until then; the joins in
 * flight bound them. */
void rooms_join_history(rooms_t *r, room_t *room, rooms_done_fn done, void *ud);

/* What answering the joins that waited for a history read may take in one loop
 * iteration (the first one whatever it costs): in rooms of 100 a join answer costs
 * 0.05-0.2 ms (docs/benchmarks.md, the longest loop iteration). */
#define ROOMS_RECENT_BUDGET_NS 500000
/* One slice of those answers: waiters of the rooms whose read came back, in order,
 * until budget_ns (0: no limit) passed since the first began by clock(clock_ud) (ns;
 * borrowed), each as rooms_join_history says. Returns 1 while some are left (call again
 * from a later iteration), else 0. Borrows r. */
int rooms_recent_step(rooms_t *r, uint64_t (*clock)(void *), void *clock_ud, uint64_t budget_ns);

/* 1 when rooms_recent can answer for room now, else 0 (then use rooms_join_history). */
int rooms_recent_ready(const rooms_t *r, const room_t *room);

/* The room's newest committed messages (up to lim.join_history, oldest first) as
 * encoded JSON texts, from memory (rooms_recent_ready said yes): a new array of *n
 * borrowed texts, valid until the room changes (free the array, not the texts); NULL
 * when *n is 0. Counts as a use (recent_used): the tick keeps them a while. */
const char **rooms_recent(room_t *room, size_t *n);

/* ---------- the room's ordered outbox (rooms_outbox.c) ----------
 * Every change of a room's shared state (its state, its entities) takes the room's next
 * state version. A durable change is announced only once the store committed it, a
 * transient one at once; the room's outbox keeps their events in version order, so a
 * connection receives a room's versioned events (state, entity) in version order
 * whichever kind they are. An entry not ready is owned by the work that holds the room
 * (rooms_hold) until it calls rooms_outbox_ready, so the outbox is empty when the room is
 * freed. */

/* One versioned event waiting for its turn in a room's outbox. */
typedef struct rooms_outbox_ev_s rooms_outbox_ev_t;

/* Queues the event {"op": name, "room": id, ...fields} of the room's state version
 * version in room's outbox (name borrowed: a static string; fields stolen, kept as they
 * are until sent), to go through the bus to the room's connections except the connection
 * except (BUS_MEMBER_NONE: none) once it is ready and everything queued before it was
 * sent (not at all once the room is deleted). ready = 0 for a change that waits for its
 * commit: the entry is returned (valid until it is sent), and the caller must call
 * rooms_outbox_ready with it then, in every outcome. ready = 1: returns NULL. */
rooms_outbox_ev_t *rooms_outbox_push(room_t *room, const char *name, json_t *fields,
                                     int64_t version, bus_member_t except, int ready);

/* Marks ev (from rooms_outbox_push; NULL is fine) ready, and sends what is ready at the
 * head of room's outbox. */
void rooms_outbox_ready(room_t *room, rooms_outbox_ev_t *ev);

/* A write of room (borrowed) answered with err, after the events of its change went out:
 * the room's change counter it answered (store_req_t.changes; nothing when the batch
 * failed) goes into the home's record ("n") once every event before it went out too, now
 * or when the outbox empties; a takeover keeps the other nodes' connections only when the
 * store's counter is the record's (rooms_restore.c). */
void rooms_changes_seen(room_t *room, int err, int64_t changes);

/* Realtime side. A connection is in a room on two sides: at the room's home, by identity
 * (rooms_attach / rooms_detach: the member's online count, presence, participant_joined
 * and participant_left), and on its own process, as a subscription to the room's topic
 * (rooms_subscribe / rooms_unsubscribe), which events reach. The home removes a user's
 * subscriptions with an unsubscribe event (bus.h), which each process applies with
 * rooms_unsubscribe (rooms_init gives it to the bus). */
/* At the room's home: the connection member of user_id (a participant, not banned: else
 * ROOMS_E_NOT_FOUND) is in room: at its first connection the member goes online with a
 * fresh presence and participant_joined goes to everyone else. Returns 0 or the error. */
int rooms_attach(rooms_t *r, room_t *room, bus_member_t member, const char *user_id);

/* rooms_attach that also queues the webhook deliveries of the member coming online on
 * hooks (a store request, borrowed; webhooks_attach): participant.joined, and
 * room.occupied when nobody was online in the room. */
int rooms_attach_hooked(rooms_t *r, room_t *room, bus_member_t member, const char *user_id,
                        store_req_t *hooks);

/* Queues webhook event ev about room (borrowed) on req (borrowed; webhooks_attach), to
 * commit with it: data (stolen) gets the room's order keys, "seq" (its last committed
 * message) and "stateVersion", where it has none of its own. Callers check
 * webhooks_wants first, so that an event nobody wants builds nothing. */
void rooms_hook(rooms_t *r, const room_t *room, store_req_t *req, webhook_event_t ev,
                json_t *data);

/* A member's webhook data: {"userId", "displayName", "role"} (new reference). */
json_t *rooms_hook_member(const room_member_t *m);
/* At the room's home: the connection member of user_id left room (it disconnected): the
 * features' member_gone hooks, then at the member's last connection they go offline
 * (participant_left "disconnected") and their seat's grace starts. With undo, the attach
 * of a join whose connection never subscribed through it is taken back (it went away
 * before the answer, or another join of it had subscribed it first): the online count
 * only, no member_gone hooks, since nothing was held through that attach (the
 * connection's locks, through its other attach, stay). Borrows user_id. */
void rooms_detach(rooms_t *r, room_t *room, bus_member_t member, const char *user_id,
                  int undo);
/* On c's process: subscribes c to room's topic (once attached at the home) and writes
 * its entry in the home's record (rooms_unsubscribe and rooms_client_gone delete it).
 * Returns 0, or -1 when c is subscribed to room already (nothing done). */
int rooms_subscribe(rooms_t *r, room_t *room, bus_rcv_t *c);
/* On the subscription's process: drops subscription s of a connection to a room (owned:
 * freed), after the features' client_left hooks. A bus_drop_fn (ud: the rooms_t). */
void rooms_unsubscribe(void *ud, bus_topic_t *t, bus_sub_t *s);
/* Presence subscriptions (presence_subscribe, issue 26), on c's process: replaces the set
 * of users (borrowed, copied; duplicates count once; n 0 clears it) whose presence c's
 * subscription to room watches, so that in a large room their presence changes reach it
 * (rooms_presence_emit). Returns the number of users watched, ROOMS_E_FORBIDDEN when c is
 * not subscribed to room, or ROOMS_E_LIMIT past lim.watch_max (nothing changed). */
int rooms_watch_set(rooms_t *r, room_t *room, bus_rcv_t *c, const char *const *users,
                    size_t n);
/* Drops what subscription s (borrowed, of room) watched: it is going. */
void rooms_watch_drop(room_t *room, bus_sub_t *s);
/* The bus's bus_watchers_fn (rooms_init): the local subscriptions of the room whose
 * topic is t that watch user. */
bus_sub_t *const *rooms_watchers(void *ud, bus_topic_t *t, const char *user, size_t *n);
/* On c's process, when c disconnects: the features' client_gone hooks while c is still
 * subscribed to its rooms, then for each room its subscription is dropped
 * (rooms_unsubscribe) and the room's home told (rooms_send_detach). */
void rooms_client_gone(rooms_t *r, bus_rcv_t *c);
/* The op a connection's process sends a room's home when the connection is no longer in
 * the room there (home_join.c: rooms_detach). */
#define ROOMS_OP_DETACH "detach"
/* Sends room_id's home the detach op of connection member of user_id (all borrowed), with
 * undo as rooms_detach takes it ({"undo": true} in its arguments), fire and forget: its
 * route's answer is dropped (bus_reply_ignore). */
void rooms_send_detach(rooms_t *r, const char *room_id, bus_member_t member,
                       const char *user_id, int undo);
/* Sends an ephemeral event from user_id's connection from to the room's other connections
 * (event, data and user_id borrowed). Returns 0 or -1 (too big). */
int rooms_broadcast(rooms_t *r, room_t *room, bus_member_t from, const char *user_id,
                    const char *event, const json_t *data);
/* rooms_broadcast with data as the len bytes of its JSON text, as Jansson writes it
 * (borrowed): spliced into the event's frame as it is, never decoded. */
int rooms_broadcast_text(rooms_t *r, room_t *room, bus_member_t from, const char *user_id,
                         const char *event, const char *data, size_t len);
/* Applies a presence patch (borrowed) from user_id (borrowed). Returns 0 or -1 (invalid or
 * too big). */
int rooms_presence(rooms_t *r, room_t *room, const char *user_id, const json_t *patch);


#endif
