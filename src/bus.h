/* bus.h: room fan-out. A room's subscribers are the connections that joined it; a
 * publish hands the same framed buffer to each of them (framed once, refcounted). This
 * is the local bus; a cluster bus (Redis) will carry the same frames between nodes behind
 * the same calls, so room logic never changes. */
#ifndef CHORUS_BUS_H
#define CHORUS_BUS_H

#include <stdint.h>

#include "buf.h"
#include "proto.h"

typedef struct bus_sub_s bus_sub_t;

/* One connection subscribed to one room. Owned by the rooms module. */
struct bus_sub_s {
    proto_client_t *client;       /* borrowed */
    void *room;                   /* what it subscribes to (a room_t, a doc_t) */
    bus_sub_t *prev, *next;       /* the topic's subscribers */
    bus_sub_t *client_next;       /* the client's subscriptions of this kind */
    bus_sub_t **client_list;      /* the head of that list (c->subs or c->doc_subs) */
    int64_t since;                /* documents: events for versions above this only */
};

/* A room's subscriber list. */
typedef struct {
    bus_sub_t *head;
    uint32_t count;
} bus_room_t;

/* Adds s (owned by the caller; s->client and s->room set) to room and to the client's
 * list *client_list (&c->subs for rooms, &c->doc_subs for documents). */
void bus_subscribe(bus_room_t *room, bus_sub_t *s, bus_sub_t **client_list);

/* Removes s from room and from its client's list (does not free it). */
void bus_unsubscribe(bus_room_t *room, bus_sub_t *s);

/* Returns how many subscriptions a client's list holds. */
uint32_t bus_count(const bus_sub_t *client_list);

/* Finds the subscription to room in a client's list, or NULL. */
bus_sub_t *bus_find(bus_sub_t *client_list, const void *room);

/* Queues frame (borrowed) to every subscriber of room except the client except (may be
 * NULL). Returns how many received it. */
uint32_t bus_publish(const bus_room_t *room, cbuf_t *frame, const proto_client_t *except);

/* The same, skipping every connection of the user except_user (its own presence, for
 * one). Returns how many received it. */
uint32_t bus_publish_others(const bus_room_t *room, cbuf_t *frame, const char *except_user);

#endif
