/* proto_entities.h: the entity ops over WebSocket (proto_entities.c), where a frame
 * becomes an entity operation. Apart from entities.h so that the domain does not know
 * the protocol ops built on it. */
#ifndef CHORUS_PROTO_ENTITIES_H
#define CHORUS_PROTO_ENTITIES_H

#include "proto/proto.h"

/* Registers the entity ops on p (whose app is the rooms_t). */
void proto_entities_register(proto_t *p);

#endif
