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

/* Sends req, on room (found and allowed by proto_rooms_target; borrowed), to the room's
 * home as a bus operation whose arguments are the frame itself, with a route back to
 * req's client, which stays allocated until the home answered (exactly once: a reply, or
 * an error event for a request without a ref). Takes over req's reply. Shared by the
 * room, document and entity ops. */
void proto_rooms_to_home(proto_req_t *req, room_t *room);

/* Registers the room ops (proto_rooms.c) on p, working on r (borrowed). */
void proto_rooms_register(proto_t *p, rooms_t *r);

#endif
