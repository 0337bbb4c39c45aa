/* rooms_internal.h: what the files of the rooms module share and nothing outside it
 * includes (rooms.h is the public API): the asynchronous operation (a store round trip that
 * answers its caller), the publish helpers, and the member, registry and message helpers
 * one file of the module calls in another.
 *
 *   rooms.c           the registry: rooms by id and code, member records, access, quotas,
 *                     JSON views, publishing, the 1 s tick, the idle sweep, load and init
 *   rooms_op.c        asynchronous operations (rooms_op_t) and the error answers
 *   rooms_members.c   create, join, leave, kick, bans, subscriptions (online members)
 *   rooms_messages.c  post, history, the recent-message ring, retention, broadcast
 *   rooms_presence.c  presence patches, typing, the pending-presence flush
 *   rooms_state.c     state patch, settings, the room code, delete
 *
 * Every change is applied to the live room first (so the next request sees it: codes stay
 * unique, seats are counted, seqs have no gaps), then persisted in order. Messages, state
 * changes and room creation are answered and announced once the store committed them;
 * membership changes (leave, kick, ban, room deletion, seat release) take effect and are
 * announced at once, and the caller's answer waits for the commit. */
#ifndef CHORUS_ROOMS_INTERNAL_H
#define CHORUS_ROOMS_INTERNAL_H

#include "domain/rooms.h"

/* Tries at a free room code (room_code_generate). */
#define CODE_TRIES 64

/* Calls hook of every feature that has it, in the features' order, with the feature's ud
 * and then the arguments after hook. */
#define ROOMS_FEATURES_CALL(r, hook, ...)                                                 \
    do {                                                                                 \
        for (size_t f_ = 0; f_ < (r)->nfeatures; f_++)                                   \
            if ((r)->features[f_].hooks->hook)                                           \
                (r)->features[f_].hooks->hook((r)->features[f_].ud, __VA_ARGS__);        \
    } while (0)

/* ---------- asynchronous operations (rooms_op.c) ---------- */

typedef struct rooms_op_s rooms_op_t;
typedef void (*op_stored_fn)(rooms_op_t *op);

struct rooms_op_s {
    rooms_t *r;
    room_t *room;          /* held while the op is in flight */
    store_req_t req;
    store_rooms_t pl;
    rooms_done_fn done;    /* may be NULL (fire and forget) */
    void *ud;
    op_stored_fn stored;   /* runs after a successful commit */
    op_stored_fn failed;   /* runs instead when the store failed the write */
    json_t *result;        /* handed to done */
    bus_member_t except;   /* the connection the event skips (its sender) */
    rooms_parts_fn answer_parts; /* a message's success answer as parts (rooms_post_in_t) */
    rooms_outbox_ev_t *ev;  /* a versioned event sent once the store answered */
    int fill_recent;       /* a join's history page: fill the recent-message cache */
    json_t *event;         /* fields of an event published once stored (owned) */
    size_t budget;         /* a history page: bytes of messages at most */
    /* Bytes of a new row counted against the quotas before the commit (so that writes in
     * flight cannot pass a quota together), given back if the commit fails. */
    int64_t charged;
    char charged_user[STORE_SUB_LEN];
    json_t *hook;    /* a state patch's state.changed data (owned; NULL: none) */
    uint32_t vepoch; /* a ROOM_UPDATE: its room_version_write epoch */
    int64_t vbase;   /* and the stored version it follows */
};

/* A new operation of type on room (held until it finishes; may be NULL), answering done
 * (may be NULL) with ud (borrowed). Freed by rooms_op_submit's completion. */
rooms_op_t *rooms_op_new(rooms_t *r, room_t *room, store_req_type_t type, rooms_done_fn done,
                         void *ud);
/* Records that op's write was counted for user (borrowed; "" = the room only). */
void rooms_op_charged(rooms_op_t *op, const char *user, int64_t bytes);
/* Hands op to the store (takes ownership): once answered it runs op->stored on success,
 * gives back its charge on failure, answers done and frees itself. */
void rooms_op_submit(rooms_op_t *op);
/* Answers done (may be NULL) with an error of kind, code and message (borrowed). */
void rooms_fail(rooms_done_fn done, void *ud, rooms_errno_t kind, const char *code,
                const char *message);
/* A validation_error naming the field (borrowed). */
void rooms_invalid(rooms_done_fn done, void *ud, const char *field, const char *message);
/* The stored step answering {"success": true}. */
void rooms_after_simple(rooms_op_t *op);

/* ---------- the registry (rooms.c) ---------- */

/* A new room (owned by the caller until registered) of registry r, empty state. */
room_t *rooms_room_new(rooms_t *r);
/* Frees room (owned), calling the features' room_freed hooks first. */
void rooms_room_free(room_t *room);
/* Registers room (the registry takes ownership) under its id and its code. */
void rooms_registry_add(rooms_t *r, room_t *room);
/* Takes room out of the registry (rooms_state.c): room_deleted with reason (borrowed) to
 * its connections, the features' room_dropped hooks, every subscription dropped; freed
 * once nothing holds it (rooms_release). For a delete, an idle room, and a room whose
 * creation the store refused. */
void rooms_room_drop(rooms_t *r, room_t *room, const char *reason);

/* room leaves the registry: the tick's pass stops walking it (rooms.c). */
void rooms_tick_forget(rooms_t *r, room_t *room);
/* Adds a member to room (room owns it); the strings are copied; now is loop ms. */
room_member_t *rooms_member_add(room_t *room, const char *user_id, const char *name,
                                const char *color, int role, int64_t joined_at, uint64_t now);
/* Gives m the display name name (borrowed, copied; cut to STORE_NAME_LEN - 1 bytes): in
 * its record while it fits where the first name was, else in a block of its own. */
void rooms_member_rename(room_member_t *m, const char *name);
/* Bans m (once: nothing when it is banned already): it gives up its seat, its place in the
 * roster and in the name index, online or not; the caller does the rest (online count,
 * the row). */
void rooms_member_banned(room_t *room, room_member_t *m);
/* The home's record (bus_record) of connection member of user_id (borrowed) attached to
 * room, or of its going (user_id NULL). */
void rooms_record_conn(room_t *room, bus_member_t member, const char *user_id);
/* The same for a connection closed at its node (user_id borrowed), whose detach the home
 * deletes (user_id NULL): a takeover releases it, with events, when the detach was not
 * served (its home dead meanwhile). */
void rooms_record_gone(room_t *room, bus_member_t member, const char *user_id);

/* The home's record of the last message seq ("s") or state version ("v") published. */
void rooms_record_pub(room_t *room, const char *field, int64_t value);
/* Records room's change counter (rooms_changes_seen) if it moved and its outbox is empty. */
void rooms_changes_flush(room_t *room);

/* A takeover's restore (rooms_restore.c): user_id's (borrowed) recorded connection goes
 * back online at the new home, with no event (it was online already for everyone).
 * Returns 0, or ROOMS_E_NOT_FOUND when user_id is no member (any more). */
int rooms_attach_quiet(rooms_t *r, room_t *room, const char *user_id);
/* Takes m off the registry's pending-presence list (m borrowed). */
void rooms_dirty_remove(rooms_t *r, room_member_t *m);
/* Removes m from room and frees it. */
void rooms_member_remove(rooms_t *r, room_t *room, room_member_t *m);
/* Answers quota_exceeded for a rooms_quota_check result. */
void rooms_over_quota(rooms_done_fn done, void *ud, int rc);
/* The room's state "mode" (a new reference; null when it has none). */
json_t *rooms_mode_of(const room_t *room);
/* Sends {"op": event, "room": id, ...fields} (fields stolen) to the room's members
 * except the connection except (BUS_MEMBER_NONE: none); seq is the room's seq or state
 * version the event carries (0: none). */
void rooms_publish_seq(room_t *room, bus_member_t except, const char *event, json_t *fields,
                       int64_t seq);
/* rooms_publish_seq with no seq (fields stolen). */
void rooms_publish(room_t *room, bus_member_t except, const char *event, json_t *fields);
/* Sends {"op": event, "room": id, "participant": m} to the room's members except the
 * connection except, with the member's kept encoding (m borrowed). */
void rooms_publish_member(room_t *room, bus_member_t except, const char *event,
                          room_member_t *m);
/* room_code_generate's random bytes and its "taken" test (ud: the rooms_t). */
void rooms_rng(void *ud, unsigned char *buf, size_t n);
int rooms_code_taken(void *ud, const char *code);

/* ---------- membership (rooms_members.c) ---------- */

/* Copies room's row into sr, with state_text (taken over by sr; NULL = none) as its
 * state (rooms_state.c). */
void rooms_fill_room(store_room_t *sr, const room_t *room, char *state_text);
/* Writes room's row again as the room's next state version: the store refused from's
 * write of it (rooms_state.c). The new write takes over from's caller (done, ud), its
 * stored and failed steps, result, event and charged bytes, which from no longer has:
 * the caller is answered when the new write is. */
void rooms_state_again(rooms_t *r, room_t *room, rooms_op_t *from);

/* Copies m's row into p. */
void rooms_fill_part(store_participant_t *p, const room_member_t *m);
/* Starts the seat grace of m when no connection holds its seat (the host's seat is never
 * released). */
void rooms_seat_unconnected(rooms_t *r, room_member_t *m);
/* 1 when by may manage room (its host). Borrows both. */
int rooms_is_host(const room_t *room, const auth_claims_t *by);

/* rooms_patch_state for the app's backend (an rpc's effects, rooms_effects.c): no host
 * check, and no system message saying who changed it. */
void rooms_patch_state_app(rooms_t *r, room_t *room, const json_t *patch, rooms_done_fn done,
                           void *ud);

/* ---------- messages (rooms_messages.c) ---------- */

/* Empties room's recent-message ring (the next join reads the store and fills it). */
void rooms_recent_drop(room_t *room);
/* The handle answering joins that waited for a history read (rooms_recent_step): made
 * by rooms_init; closed by rooms_close, which first answers every waiter left. */
void rooms_recent_init(rooms_t *r);
void rooms_recent_close(rooms_t *r);
/* Persists a server message of type system in room (fire and forget) and announces it.
 * It is structured so clients render it themselves: metadata {"event", "userId"?,
 * "displayName"?} (user_id and name NULL for events about no participant), and content
 * is a fixed text that never contains a user's name. Borrows the strings. */
void rooms_system_event(rooms_t *r, room_t *room, const char *event, const char *user_id,
                        const char *name, const char *text);
/* The same with the metadata built by the caller (takes ownership of meta). */
void rooms_system_message_meta(rooms_t *r, room_t *room, json_t *meta, const char *text);
/* Posts a message written by the app's backend (an rpc's effects, rooms_effects.c): user
 * id "" like a server message, display name author, any type; content (copied) and meta
 * (the metadata's compact JSON or NULL, taken over) checked by the caller. Quotas are
 * checked as for every message (quota_exceeded). */
void rooms_post_effect(rooms_t *r, room_t *room, const char *author, const char *type,
                    const char *content, char *meta, rooms_done_fn done, void *ud);
/* The retention timer's callback (t->data: the rooms_t): starts a sweep unless one runs. */
void rooms_on_retention_timer(uv_timer_t *t);

/* ---------- large rooms: changes coalesced (rooms_coalesce.c) ---------- */

/* 1 when room's membership and presence changes go out coalesced, as participants_changed
 * once an interval (rooms_coalesce_interval), instead of their own events: while it is large, and until
 * the changes it holds are sent. */
int rooms_coalescing(const rooms_t *r, const room_t *room);
/* Notes, instead of participant_joined, that m (borrowed) came online. */
void rooms_coalesce_online(rooms_t *r, room_t *room, room_member_t *m);
/* Notes, instead of participant_left or participant_removed, that m (borrowed, as it was
 * before the change: online, seated) went offline (removed 0) or lost its seat (removed
 * 1), for reason (a static string). */
void rooms_coalesce_left(rooms_t *r, room_t *room, const room_member_t *m, const char *reason,
                         int removed);
/* Notes that m (borrowed) took a new seat in room (it was no participant before). */
void rooms_coalesce_seated(rooms_t *r, room_t *room, const room_member_t *m);
/* Sets up the registry's coalescing timer (rooms_init); closes it, dropping what is held
 * (rooms_close). */
void rooms_coalesce_init(rooms_t *r);
void rooms_coalesce_close(rooms_t *r);
/* How long (ms) a large room with online members online holds its changes: tick_ms, or
 * online * 1000 / rate when that is longer (rate: deliveries a second; 0: no limit). */
uint64_t rooms_coalesce_interval(uint64_t tick_ms, uint64_t rate, uint64_t online);
/* How many who came online one participants_changed of such a room names (the others are
 * counted, joinedMore): what rate leaves over interval_ms once every member got the event,
 * one participant object a delivery, at most changed_max. */
uint32_t rooms_coalesce_named(uint32_t changed_max, uint64_t rate, uint64_t interval_ms,
                              uint64_t online);

/* ---------- presence (rooms_presence.c) ---------- */

/* Sends a presence change (stolen) to the room's other users (not to the member's own
 * connections: they know). */
void rooms_presence_emit(room_t *room, room_member_t *m, json_t *change);
/* 1 while m stays on the fast presence timer (a change held back or typing on). */
int rooms_presence_watched(const room_member_t *m);
/* Puts m on the pending-presence list and starts the presence timer if it is off. */
void rooms_schedule_presence(rooms_t *r, room_member_t *m);
/* The presence rules of room's members (r's, borrowed, copied): in a large room a member's
 * changes go out at most once per the room's coalescing interval (rooms_coalesce_interval:
 * --room-large-tick, longer when the room's online members over --room-large-rate say so),
 * the latest state winning, so the room's presence deliveries stay within that rate when
 * each member watches about one other (issue 26). */
presence_rules_t rooms_presence_rules(const rooms_t *r, const room_t *room);

#endif
