/* bus.c: local room fan-out (see bus.h). */
#include "bus.h"

#include <stddef.h>
#include <string.h>

void bus_subscribe(bus_room_t *room, bus_sub_t *s, bus_sub_t **client_list)
{
    s->prev = NULL;
    s->next = room->head;
    if (room->head) room->head->prev = s;
    room->head = s;
    room->count++;
    s->client_list = client_list;
    s->client_next = *client_list;
    *client_list = s;
}

void bus_unsubscribe(bus_room_t *room, bus_sub_t *s)
{
    if (s->prev) s->prev->next = s->next;
    else room->head = s->next;
    if (s->next) s->next->prev = s->prev;
    room->count--;
    for (bus_sub_t **pp = s->client_list; *pp; pp = &(*pp)->client_next) {
        if (*pp == s) {
            *pp = s->client_next;
            break;
        }
    }
    s->prev = s->next = s->client_next = NULL;
}

uint32_t bus_count(const bus_sub_t *client_list)
{
    uint32_t n = 0;
    for (; client_list; client_list = client_list->client_next) n++;
    return n;
}

bus_sub_t *bus_find(bus_sub_t *client_list, const void *room)
{
    for (bus_sub_t *s = client_list; s; s = s->client_next)
        if (s->room == room) return s;
    return NULL;
}

uint32_t bus_publish(const bus_room_t *room, cbuf_t *frame, const proto_client_t *except)
{
    uint32_t n = 0;
    for (bus_sub_t *s = room->head; s; s = s->next) {
        if (s->client == except) continue;
        s->client->tr->send(s->client, frame);
        n++;
    }
    return n;
}

uint32_t bus_publish_others(const bus_room_t *room, cbuf_t *frame, const char *except_user)
{
    uint32_t n = 0;
    for (bus_sub_t *s = room->head; s; s = s->next) {
        if (strcmp(s->client->user.sub, except_user) == 0) continue;
        s->client->tr->send(s->client, frame);
        n++;
    }
    return n;
}
