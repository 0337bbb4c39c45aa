/* presence.h: one room member's presence (cursor, selection, typing, ...) with change
 * coalescing, idle detection and typing expiry. Pure: the caller passes the time in. */
#ifndef CHORUS_PRESENCE_H
#define CHORUS_PRESENCE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Limits for a room. A zero field switches its feature off: max_rate 0 emits every
 * change at once, idle_ms 0 never marks idle, typing_ms 0 never expires typing, max_bytes 0
 * does not cap the state size. */
typedef struct {
    uint32_t max_rate;  /* changes emitted per user per second (20: min interval 50 ms) */
    uint64_t idle_ms;   /* silence after which the user is shown idle (60 s) */
    uint64_t typing_ms; /* "typing": true clears itself after this long (5 s) */
    size_t max_bytes;   /* cap on the compact JSON size of the state a client builds */
    uint64_t min_gap_ms; /* a longer minimum time between two emitted changes than
                          * max_rate's (a large room's coalescing interval, issue 26:
                          * rooms_presence_rules); 0: max_rate's alone */
} presence_rules_t;

/* 4096: room for a cursor, a selection and a status line with plenty to spare, small
 * enough that a room of 100 members' snapshots stays under half a megabyte. */
#define PRESENCE_RULES_DEFAULT ((presence_rules_t){20, 60000, 5000, 4096, 0})

/* Two fields are owned by the module: "idle" (true/false; a client's "idle" is ignored)
 * and the timer on "typing". Times are milliseconds on any monotonic clock; a reading of
 * 0 is taken as 1 when recorded as last_emit_ms (where 0 means "never"). */
typedef struct {
    /* The full current state as its compact JSON text (Jansson's JSON_COMPACT, members in
     * the order they were first set): owned, one allocation sized to the text; NULL stands
     * for {} (a member who never sent presence holds nothing), and every state that reads
     * {"idle":true} is the one shared constant (presence_state_text says which; every member
     * of a quiet room goes idle). Read it with presence_state_text: it is emitted as these
     * bytes, with no tree built. */
    char *state;
    json_t *pending;        /* owned: merged changes not yet emitted, or NULL */
    uint64_t last_emit_ms;  /* when a change was last emitted (0 = never) */
    uint64_t last_active_ms; /* the last accepted update (or presence_init) */
    uint64_t typing_until;  /* 0 = not typing */
    int idle;
    /* The state as the room last saw it, as state's text (owned or the shared constant;
     * NULL: {}), kept only while pending is not NULL: otherwise the room saw state. pending
     * is always json_merge_diff(sent, state): merge patches do not compose exactly
     * ({"a":null} then {"a":{"b":1}} is no single patch on an object "a"), a diff against
     * what was sent always is. */
    char *sent;
} presence_t;

/* Initialises p with state {} (allocates nothing) and the user active at now_ms. Free with
 * presence_free. */
void presence_init(presence_t *p, uint64_t now_ms);

/* Releases everything p owns; p may then be initialised again. */
void presence_free(presence_t *p);

/* Applies patch (borrowed; must be an object; RFC 7396 merge patch, shallow or deep) from
 * the user at now. Returns 0, or -1 when patch is not an object or the resulting state
 * serializes (compact) to more than r->max_bytes; nothing changes then, *emit is NULL and
 * the update does not count as activity. On 0, *emit (out) is a new reference to the
 * change to send to the room now (a merge patch against what the room last saw, including
 * "idle": false when the user was idle), or NULL when the change is held to respect
 * r->max_rate (presence_next_due then says when to call presence_tick) or when the patch
 * changed nothing. A typing key set to true (re)starts the typing timer. Borrows r. */
int presence_update(presence_t *p, const json_t *patch, uint64_t now,
                    const presence_rules_t *r, json_t **emit);

/* Returns the next time (ms) presence_tick has something to do: flush of a held change,
 * typing expiry, going idle; 0 when nothing is scheduled. Exact: a tick before it does
 * nothing, a tick at it does something. Borrows p and r. */
uint64_t presence_next_due(const presence_t *p, const presence_rules_t *r);

/* Does what is due at now (typing expiry sets "typing": false, idle sets "idle": true,
 * both in the state) and returns the change to emit as a new reference, or NULL when
 * nothing is to be sent yet. Server-made changes obey max_rate like the user's own. */
json_t *presence_tick(presence_t *p, uint64_t now, const presence_rules_t *r);

/* Returns the current state's compact JSON text ("{}" when none), borrowed from p: valid
 * until p's next change. Sets *len (when not NULL) to its length. */
const char *presence_state_text(const presence_t *p, size_t *len);

/* Returns the state the room last saw (what the events emitted so far add up to) as
 * compact JSON text, borrowed from p as presence_state_text. */
const char *presence_sent_text(const presence_t *p, size_t *len);

/* Returns a new reference: the current state as a tree (parsed from the text; callers
 * that only write it out use presence_state_text). */
json_t *presence_state_json(const presence_t *p);

#endif
