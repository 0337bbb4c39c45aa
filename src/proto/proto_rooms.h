/* proto_rooms.h: the room ops over WebSocket (proto_rooms.c) and how the room, document
 * and entity ops find the room a request names. Apart from rooms.h so that the rooms
 * module does not know the protocol ops built on it. */
#ifndef CHORUS_PROTO_ROOMS_H
#define CHORUS_PROTO_ROOMS_H

#include "proto/proto.h"
#include "domain/rooms.h"

/* What proto_rooms_target asks of the caller. */
#define PROTO_ROOM_ANY 0    /* join: the id or code is the invitation */
#define PROTO_ROOM_JOINED 1 /* joined on this connection */
#define PROTO_ROOM_MEMBER 2 /* a participant (joined on this connection or not) */

/* The room named by req's "room" field (an id or a code), or NULL after replying:
 * bad_request; not_found for no such room and, the same, for a room the caller is not in
 * (unless need is PROTO_ROOM_ANY); rate_limited (rooms_access); forbidden for a
 * participant who has not joined it on this connection when need is PROTO_ROOM_JOINED.
 * Shared by the room, document and entity ops. */
room_t *proto_rooms_target(proto_req_t *req, int need);

/* Sends req, on room (found and allowed by proto_rooms_target), to the room's home as a
 * bus operation whose arguments are the frame itself, and takes over req's reply
 * (proto_defer): the home's answer is req's reply, sent exactly once (an error's field in
 * error.field; nothing to a connection gone meanwhile). The room, document and entity ops
 * that the home decides. */
void proto_rooms_to_home(proto_req_t *req, room_t *room);

/* proto_rooms_to_home for an op whose answer does more on this side first (doc_open
 * subscribes the connection): sends req to room's home with the route fn, ud (borrowed
 * until fn is called). It does not pin req's client: the caller has taken over req's reply
 * (proto_defer) before calling it, and fn answers
 * it once, through proto_rooms_answer. fn is called exactly once, maybe before this
 * returns (service_unavailable when no home serves the bus). */
void proto_rooms_send(proto_req_t *req, room_t *room, bus_reply_fn fn, void *ud);

/* proto_rooms_send for an op whose answer subscribes the connection to document doc
 * (borrowed) of room (doc_open): the bus listens to its topic first (bus.h). */
void proto_rooms_send_sub(proto_req_t *req, room_t *room, const char *doc, bus_reply_fn fn,
                          void *ud);

/* Answers the deferred reply d with an answer of the home as bus_reply_fn gets it: data
 * (stolen) for success (code NULL), else code and message (borrowed), and the error's
 * field from data {"field"} when there is one, or data's further members in the error
 * object (an entity's "entity"). */
void proto_rooms_answer(proto_deferred_t *d, const char *code, const char *message,
                        json_t *data);

/* Registers the room ops (proto_rooms.c) on p, working on r (borrowed). */
void proto_rooms_register(proto_t *p, rooms_t *r);

#endif
