/* proto_entities.c: where a frame becomes an entity operation: entity_create,
 * entity_update, entity_delete, entity_lock, entity_unlock and sync over WebSocket. This
 * is the member's side: it finds the room the frame names and checks that this connection
 * joined it (proto_rooms_target), then sends the frame to the room's home
 * (proto_rooms_to_home), where home_entities.c reads its fields, finds the entity, calls
 * the entity domain and answers through the route. Nothing about the room (its entities,
 * versions, locks, owners, host) is decided here. */
#include "domain/entities.h"
#include "proto/proto.h"
#include "proto/proto_entities.h"
#include "proto/proto_rooms.h"
#include "util/mem.h"

/* Every entity op: for the connections that joined the room. entity_update, sent many
 * times a second for a move (transient), is a hot op (PROTO_OP_SCAN): its frame goes to
 * the home as scanned text, which parses only the patch (home_entities.c). */
static void op_to_home(proto_req_t *req)
{
    room_t *room = proto_rooms_target(req, PROTO_ROOM_JOINED);
    if (room) proto_rooms_to_home(req, room);
}

static const proto_op_t entity_ops[] = {
    {"entity_create", op_to_home, 0}, {"entity_update", op_to_home, PROTO_OP_SCAN},
    {"entity_delete", op_to_home, 0}, {"entity_lock", op_to_home, 0},
    {"entity_unlock", op_to_home, 0}, {"sync", op_to_home, 0},
};

void proto_entities_register(proto_t *p)
{
    proto_register(p, entity_ops, CH_ARRAY_LEN(entity_ops));
}
