/* sio_seed_conn.h: seed 003's Socket.IO session on a connection: the room:* event handlers
 * registered on proto_sio (they run the ops sio_seed.c maps them to, with internal refs),
 * the replies to those refs turned into room:* events and acks, the switch to seed 003's
 * dialect, and connection state recovery at CONNECT (docs/socketio.md). */
#ifndef CHORUS_SIO_SEED_CONN_H
#define CHORUS_SIO_SEED_CONN_H

#include <jansson.h>

#include "proto/proto.h"
#include "proto/proto_sio.h"

/* Room:* events of one connection waiting for their replies, at most (more:
 * room:error rate_limited). 32: what a client pipelines while the store commits, with
 * room to spare (proto's own cap on store waits is 64 per connection). */
#define SIO_SEED_MAX_PENDING 32

/* Registers seed 003's room:* event handlers on s (the tables are static). */
void sio_seed_conn_register(proto_sio_t *s);

/* Answers the CONNECT of "/" for c (Socket.IO state st; auth borrowed, NULL = none), once
 * proto_sio.c accepted it: {"sid", "pid"} now, or, when auth asks for a recovery
 * (sio_recover.h) that may succeed, after rejoining the offset's room: then with the
 * client's own pid and the missed messages right after it, or with a new pid when they
 * cannot all be delivered. */
void sio_seed_conn_connect(proto_t *p, proto_client_t *c, proto_sio_conn_t *st,
                           const json_t *auth, uint64_t now_ms);

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
