/* sio_seed_conn.h: seed 003's Socket.IO session on a connection: the room:* event handlers
 * registered on proto_sio (they run the ops sio_seed.c maps them to, with internal refs),
 * the replies to those refs turned into room:* events and acks, the switch to seed 003's
 * dialect, and connection state recovery at CONNECT (docs/socketio.md). */
#ifndef CHORUS_SIO_SEED_CONN_H
#define CHORUS_SIO_SEED_CONN_H

#include <jansson.h>
#include <uv.h>

#include "proto/proto.h"
#include "proto/proto_sio.h"

/* Room:* events of one connection waiting for their replies, at most (more:
 * room:error rate_limited). 32: what a client pipelines while the store commits, with
 * room to spare (proto's own cap on store waits is 64 per connection). */
#define SIO_SEED_MAX_PENDING 32

/* Registers seed 003's room:* event handlers on s (the tables are static). Its sessions
 * are not joined again after a room_reset (sio_seed_conn_init's are). */
void sio_seed_conn_register(proto_sio_t *s);

/* A room_reset's rejoin is tried this many times while it is answered unavailable (the
 * room not served yet), 250 ms apart doubling, before room:error. */
#define SIO_SEED_REJOIN_TRIES 5

/* Seed 003's sessions of one application (app.c): its handler table, and the sessions whose
 * room was reset (room_reset: a cluster's home lost), joined again on their behalf from a
 * timer (not from inside the event's delivery, which ends their membership). */
typedef struct sio_seed_ctx_s {
    proto_sio_handler_t handlers[8]; /* bound to this context (ud) */
    proto_t *p;                      /* borrowed */
    uv_loop_t *loop;                 /* borrowed */
    uv_timer_t timer;                /* the rejoins that are due; made at first use */
    struct sio_seed_conn_s *waiting; /* sessions waiting for their rejoin (a list) */
    unsigned timer_made : 1;
    unsigned closed : 1;
} sio_seed_ctx_t;

/* Sets up x (its lifetime: the application's, which closes it with sio_seed_conn_close)
 * and registers seed 003's handlers on s bound to it: p, loop and s borrowed. */
void sio_seed_conn_init(sio_seed_ctx_t *x, proto_sio_t *s, proto_t *p, uv_loop_t *loop);

/* Closes x's timer (the loop then runs it out): no rejoin runs after. */
void sio_seed_conn_close(sio_seed_ctx_t *x);

/* Looks at the event frame f (borrowed; a Socket.IO event already framed for c) that the
 * transport is about to send c: a room_reset of the room c's seed 003 session is in makes
 * the server join that room again on c's behalf, soon (one rejoin at a time per session):
 * then c gets room:joined and room:messages-history as after its own room:join, or
 * room:error (event room:join) with the refusal, and is out of the room. */
void sio_seed_conn_event(proto_client_t *c, proto_sio_conn_t *st, const cbuf_t *f);

/* Answers the CONNECT of "/" for c (Socket.IO state st; auth borrowed, NULL = none;
 * x: the seed 003 context, NULL = none), once proto_sio.c accepted it: {"sid", "pid"} now, or,
 * when auth asks for a recovery (sio_recover.h) that may succeed, after rejoining the offset's
 * room: then with the client's own pid and the missed messages right after it, or with a new
 * pid when they cannot all be delivered. */
void sio_seed_conn_connect(sio_seed_ctx_t *x, proto_t *p, proto_client_t *c,
                           proto_sio_conn_t *st, const json_t *auth, uint64_t now_ms);

/* Takes the Chorus envelope frame f (borrowed) that proto.c sends c when it is the reply to
 * one of c's room:* events (an internal ref): turns it into the ack and the room:* events
 * and returns 1. Returns 0 for any other frame (the transport sends it as usual). */
int sio_seed_conn_reply(proto_client_t *c, proto_sio_conn_t *st, const cbuf_t *f);

/* Frees st's seed 003 session (st->seed; NULL is fine). */
void sio_seed_conn_free(proto_sio_conn_t *st);

/* Seed 003's dialect (framing kind 2): room events under their room:* names
 * (sio_seed_frame_event), the others as the generic mapping frames them. */
extern const proto_dialect_t sio_seed_dialect;

#endif
