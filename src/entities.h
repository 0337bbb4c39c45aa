/* entities.h: shared scene state over WebSocket: the entity ops (entity_create,
 * entity_update, entity_delete, entity_lock, entity_unlock, sync), their persistence,
 * and the ordered delivery of a room's versioned events. The rules are entity_set.c.
 *
 * Ordering: every change of a room's shared state (entities and the room state) takes
 * the room's next state version. A durable change is sent to the others only once the
 * store committed it; a transient one at once. Each room keeps an outbox in version
 * order, so a connection always receives a room's `entity` and `state` events in version
 * order, whichever kind they are. */
#ifndef CHORUS_ENTITIES_H
#define CHORUS_ENTITIES_H

#include <stdint.h>

#include <jansson.h>

#include "buf.h"
#include "bus.h"
#include "config.h"
#include "entity_set.h"
#include "proto.h"
#include "store.h"

struct rooms_s;
struct room_s;
struct rooms_feature_s;

/* One versioned event waiting for its turn in a room's outbox. */
typedef struct ent_event_s ent_event_t;

/* The entities' hooks in rooms (rooms.h): rows loaded at start, limits and the timer of
 * held transient changes, locks released when a member leaves or disconnects, expired
 * locks on the tick, held changes applied at shutdown, entities freed with the room. */
extern const struct rooms_feature_s entities_feature;

/* Registers the entity ops on p (whose app is the rooms_t). */
void proto_entities_register(proto_t *p);

/* Limits from the configuration. */
entity_limits_t entities_limits(const chorus_config_t *cfg);

/* Adds an entity row read at start to its room (rows of unknown rooms are skipped). */
void entities_load_row(struct rooms_s *r, const store_entity_t *row);

/* Queues the event {"op": name, "room": id, ...fields} of the room's state version
 * version in room's outbox (name borrowed: a static string; fields stolen, kept as they
 * are until sent), to go through the bus to the room's connections except the connection
 * except (BUS_MEMBER_NONE: none) once it is ready and everything queued before it was
 * sent. ready = 0 for a change that waits for its commit: call entities_event_ready then,
 * in every outcome. Returns the entry (valid until it is sent). */
ent_event_t *entities_event_push(struct room_s *room, const char *name, json_t *fields,
                                 int64_t version, bus_member_t except, int ready);
void entities_event_ready(struct room_s *room, ent_event_t *ev);

/* Adds "entities" to a join reply: the first page of every entity, at most budget bytes
 * (with "entitiesNext": {"version", "cursor"} when more follow, to continue with sync); or
 * with since >= 0 "sync" (the answer to sync from since, a page of budget bytes). data is
 * the reply object (borrowed). */
void entities_join_fields(struct room_s *room, json_t *data, int64_t since, size_t budget);

/* Releases c's locks in room and forgets c as the sender of its held transient changes
 * (c left the room; it is still subscribed). */
void entities_client_left_room(struct rooms_s *r, proto_client_t *c, struct room_s *room);

/* The same for every room c joined (c disconnected; call before the rooms module
 * unsubscribes it). */
void entities_client_gone(struct rooms_s *r, proto_client_t *c);

/* Ends the expired locks of room at monotonic time now_ms (the rooms tick). */
void entities_tick(struct room_s *room, uint64_t now_ms);

/* Applies every held transient change now (shutdown: their writes are queued before the
 * store closes). */
void entities_flush(struct rooms_s *r);

/* Frees room's outbox (the room is freed: nothing is in flight; rooms.c frees the
 * entity set itself, after this). */
void entities_room_free(struct room_s *room);

#endif
