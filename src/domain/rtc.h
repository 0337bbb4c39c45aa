/* rtc.h: a room's call (issue 22), as pure rules: who is in it (one call member per
 * connection, named by its bus identity and by a call member id that clients see), their
 * media flags (audio, video, screen) and state (muted, speaking, sharing), the call's mode
 * (mesh or SFU), the size bound, and the checks of a signal between two members (size and
 * a per-member rate). No I/O: the time is passed in; the events and answers are the
 * caller's (rtc_calls.c, home_rtc.c). */
#ifndef CHORUS_RTC_H
#define CHORUS_RTC_H

#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "store/store.h"
#include "util/ratelimit.h"

/* A call member id as clients see it: "c" and a decimal counter of the call, never reused
 * within the call ("c18446744073709551615" at most). */
#define RTC_ID_LEN 24

typedef enum {
    RTC_MODE_MESH = 0, /* every member connects to every other (peer to peer) */
    RTC_MODE_SFU = 1,  /* every member connects to the SFU (branch rtc-sfu) */
} rtc_mode_t;

/* The bounds of a call (config: --rtc-*). */
typedef struct {
    uint32_t max_members;  /* members of one call (call_full beyond) */
    uint32_t mesh_max;     /* the largest call kept in mesh mode when an SFU is configured */
    size_t max_signal;     /* bytes of one signal's data, JSON-encoded */
    uint32_t signal_rate;  /* signals one member may send per second ... */
    uint32_t signal_burst; /* ... and at once */
    int sfu;               /* an SFU is configured: calls above mesh_max go to it */
} rtc_limits_t;

/* A member's media flags and state (each 0 or 1). */
typedef struct {
    uint8_t audio, video, screen; /* what the member sends */
    uint8_t muted, speaking, sharing;
} rtc_flags_t;

/* One connection in the call. */
typedef struct {
    bus_member_t conn;           /* the connection (its identity) */
    char id[RTC_ID_LEN];         /* the call member id */
    char user_id[STORE_SUB_LEN]; /* the connection's user */
    rtc_flags_t f;
    int64_t joined_at;   /* unix ms */
    rl_bucket_t signals; /* its signals' rate (rtc_signal_check) */
} rtc_member_t;

/* A room's call: its members in the order they joined. */
typedef struct {
    rtc_member_t *m; /* owned array */
    size_t n, cap;
    uint64_t next_id; /* the counter of call member ids */
    rtc_mode_t mode;
    int64_t started_at; /* unix ms of its first member's join: names the call in the
                           room's activity stream (call_started, call_ended) */
} rtc_call_t;

/* The outcomes of the call's rules (0 = done). */
typedef enum {
    RTC_OK = 0,
    RTC_E_FULL = -1,        /* the call has max_members: call_full */
    RTC_E_NOT_IN_CALL = -2, /* the connection is not in the call: not_in_call */
    RTC_E_NO_TARGET = -3,   /* no such call member (or it is the sender): not_found */
    RTC_E_TOO_LARGE = -4,   /* the signal's data is over max_signal: payload_too_large */
    RTC_E_RATE = -5,        /* the member sends signals too fast: rate_limited */
} rtc_errno_t;

/* Makes c an empty call (mesh). */
void rtc_call_init(rtc_call_t *c);

/* Frees what c owns. */
void rtc_call_free(rtc_call_t *c);

/* The connection conn (of user_id, borrowed) joins c with flags f at unix time now_unix
 * and monotonic time now_ms; a connection already in the call keeps its id and takes f's
 * media flags (a rejoin, say after an ICE restart). Stores the member's index in *index and
 * returns 1 when it is new, 0 when it was in the call, or RTC_E_FULL. */
int rtc_join(rtc_call_t *c, const rtc_limits_t *lim, bus_member_t conn, const char *user_id,
             const rtc_flags_t *f, int64_t now_unix, uint64_t now_ms, size_t *index);

/* Removes the member at index i (below c->n), keeping the others' order. */
void rtc_remove(rtc_call_t *c, size_t i);

/* Returns the index of conn's member in c, or -1. */
ptrdiff_t rtc_find_conn(const rtc_call_t *c, bus_member_t conn);

/* Returns the index of the member named id (borrowed) in c, or -1. */
ptrdiff_t rtc_find_id(const rtc_call_t *c, const char *id);

/* Returns the index of the first member at or after index from whose user is user_id
 * (borrowed), or -1. */
ptrdiff_t rtc_find_user(const rtc_call_t *c, const char *user_id, size_t from);

/* May the connection from send a signal of len bytes to the member named to (borrowed),
 * at monotonic time now_ms? Takes a token of the sender's rate (only when everything
 * else allows it). Returns the recipient's index, or RTC_E_NOT_IN_CALL, RTC_E_NO_TARGET
 * (unknown, or the sender itself), RTC_E_TOO_LARGE or RTC_E_RATE. */
int rtc_signal_check(rtc_call_t *c, const rtc_limits_t *lim, bus_member_t from, const char *to,
                     size_t len, uint64_t now_ms);

/* Applies a state change to member m: each of muted, speaking, sharing is 0, 1, or -1 to
 * keep it. Returns 1 when something changed, else 0. */
int rtc_set_state(rtc_member_t *m, int muted, int speaking, int sharing);

/* THE PLACE WHERE A CALL'S MODE IS DECIDED (the SFU branch plugs in here): mesh while the
 * call has at most lim->mesh_max members or no SFU is configured, else SFU. A call that
 * went to the SFU stays there until it is empty (moving a live call back and forth would
 * renegotiate every peer). Returns the mode c should be in now (it does not change c). */
rtc_mode_t rtc_mode_decide(const rtc_call_t *c, const rtc_limits_t *lim);

/* Returns "mesh" or "sfu". */
const char *rtc_mode_name(rtc_mode_t mode);

#endif
