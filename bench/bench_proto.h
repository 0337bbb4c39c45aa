/* bench_proto.h: what differs between the servers chorus-bench measures: Chorus and the ws
 * peer speak Chorus's JSON protocol as is; the Socket.IO peer wraps the same JSON objects
 * in Engine.IO v4 / Socket.IO packets; Chorus's own /socket.io/ (chorus-sio) is spoken as a
 * Socket.IO client does: the token in CONNECT's auth, ops as events with ack ids, replies
 * as acks (docs/socketio.md). Everything else in the generator is shared. */
#ifndef CHORUS_BENCH_PROTO_H
#define CHORUS_BENCH_PROTO_H

#include <stddef.h>

#include "bench_ws.h"

enum { BPROTO_CHORUS, BPROTO_WS, BPROTO_SOCKETIO, BPROTO_CHORUS_SIO };

/* Returns the target named name ("chorus", "ws", "socketio", "chorus-sio"), or -1. */
int bproto_target(const char *name);
/* Returns the target's name (static). */
const char *bproto_name(int target);

/* 1 when the target is a Chorus server (rooms are created over its REST API). */
int bproto_is_chorus(int target);

/* Writes the upgrade path (with the token as ?token=, but for chorus-sio, whose token goes
 * in CONNECT) into out[cap]. Returns 0, or -1 when it does not fit. token is borrowed. */
int bproto_path(int target, const char *token, char *out, size_t cap);

/* The WebSocket is open. Returns 1 when the protocol is ready at once, 0 when it started a
 * handshake of its own (Socket.IO: connect to the default namespace, for chorus-sio with
 * token, borrowed, as auth) that a later message completes (bproto_recv returns
 * BPROTO_OPEN). */
int bproto_upgraded(int target, bws_t *ws, const char *token);

enum { BPROTO_NONE, BPROTO_OPEN, BPROTO_MSG, BPROTO_ERROR };

/* Classifies one incoming text message s[0..len) (borrowed). BPROTO_MSG: *obj and *obj_len
 * point into s at the Chorus JSON object it carries. BPROTO_OPEN: the protocol handshake is
 * done. BPROTO_NONE: handled here (an Engine.IO ping is answered) or not ours. BPROTO_ERROR:
 * the server refused or closed the session. */
int bproto_recv(int target, bws_t *ws, char *s, size_t len, char **obj, size_t *obj_len);

/* Sends the Chorus JSON object json[0..n) (borrowed), whose "op" is op. For chorus-sio it
 * must start {"op":"<op>","ref":N, (as the generator writes them): it goes as the event
 * 42N["<op>",{the other members}]. Returns 0 or -1. */
int bproto_send(int target, bws_t *ws, const char *op, const char *json, size_t n);

#endif
