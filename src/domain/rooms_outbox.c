/* rooms_outbox.c: a room's ordered outbox (see rooms.h): the room's versioned events
 * (its state, its entities) reach the bus in state version order, each one only once the
 * change it announces is ready (committed, or transient). */
#include <stdlib.h>

#include "util/mem.h"
#include "domain/rooms_internal.h"

struct rooms_outbox_ev_s {
    rooms_outbox_ev_t *next;
    const char *name;             /* static */
    json_t *fields;               /* owned; immutable values */
    int64_t version;
    bus_member_t except;
    int ready;
};

/* Publishes every ready event at the head of room's outbox, in order. */
static void outbox_flush(room_t *room)
{
    while (room->out_head && room->out_head->ready) {
        rooms_outbox_ev_t *ev = room->out_head;
        room->out_head = ev->next;
        if (!room->out_head) room->out_tail = NULL;
        if (!room->deleted) {
            jpart_t part = {.obj = ev->fields};
            bus_publish(&room->bus, &(bus_event_t){.room = room->id, .name = ev->name,
                                                   .parts = &part, .nparts = 1,
                                                   .seq = ev->version, .except = ev->except});
            if (ev->version > 0) rooms_record_pub(room, "v", ev->version);
        }
        json_decref(ev->fields);
        free(ev);
    }
    rooms_changes_flush(room);
}

rooms_outbox_ev_t *rooms_outbox_push(room_t *room, const char *name, json_t *fields,
                                     int64_t version, bus_member_t except, int ready)
{
    rooms_outbox_ev_t *ev = ch_calloc(1, sizeof(*ev));
    ev->name = name;
    ev->fields = fields;
    ev->version = version;
    ev->except = except;
    ev->ready = ready;
    if (room->out_tail) room->out_tail->next = ev;
    else room->out_head = ev;
    room->out_tail = ev;
    outbox_flush(room);
    return ready ? NULL : ev;
}

void rooms_outbox_ready(room_t *room, rooms_outbox_ev_t *ev)
{
    if (!ev) return;
    ev->ready = 1;
    outbox_flush(room);
}
