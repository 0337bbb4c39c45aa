/* bus.c: the bus interface (see bus.h): identities, a process's local subscriber lists,
 * and the calls that go through an implementation's table. */
#include "bus/bus.h"

#include <stddef.h>

#include "util/mem.h"

bus_member_t bus_member_next(bus_t *b)
{
    CH_ASSERT(b->last_conn + 1 < (1ull << BUS_CONN_BITS));
    return bus_member_make(b->node, ++b->last_conn);
}

void bus_free(bus_t *b)
{
    if (b) b->vt->free(b);
}

int bus_ready(const bus_t *b)
{
    return b->vt->ready ? b->vt->ready((bus_t *)b) : 1;
}

void bus_close(bus_t *b)
{
    if (b && b->vt->close) b->vt->close(b);
}

void bus_topic_init(bus_topic_t *t, bus_t *bus)
{
    t->bus = bus;
    t->head = NULL;
    t->count = 0;
    t->room = t->doc = NULL;
}

void bus_topic_named(bus_topic_t *t, bus_t *bus, const char *room, const char *doc)
{
    bus_topic_init(t, bus);
    t->room = room;
    t->doc = doc;
}

int bus_home_here(bus_t *b, const char *room)
{
    return b->vt->home_here ? b->vt->home_here(b, room) : 1;
}

void bus_home_take(bus_t *b, const char *room)
{
    if (b->vt->home_take) b->vt->home_take(b, room);
}

void bus_standin(bus_t *b, const char *room)
{
    if (b->vt->standin) b->vt->standin(b, room);
}

void bus_home_drop(bus_t *b, const char *room)
{
    if (b->vt->home_drop) b->vt->home_drop(b, room);
}

void bus_subscribe(bus_topic_t *t, bus_sub_t *s, bus_sub_t **client_list)
{
    s->prev = NULL;
    s->next = t->head;
    if (t->head) t->head->prev = s;
    t->head = s;
    if (t->count++ == 0 && t->room && t->bus->vt->watch) t->bus->vt->watch(t->bus, t, 1);
    CH_ASSERT(client_list == &s->rcv->subs || client_list == &s->rcv->doc_subs);
    s->client_next = *client_list;
    *client_list = s;
}

/* Takes s off the receiver's list *pp; returns 1, or 0 when s is not on it. */
static int unlink_from(bus_sub_t **pp, const bus_sub_t *s)
{
    for (; *pp; pp = &(*pp)->client_next) {
        if (*pp == s) {
            *pp = s->client_next;
            return 1;
        }
    }
    return 0;
}

void bus_unsubscribe(bus_topic_t *t, bus_sub_t *s)
{
    if (s->prev) s->prev->next = s->next;
    else t->head = s->next;
    if (s->next) s->next->prev = s->prev;
    if (--t->count == 0 && t->room && t->bus->vt->watch) t->bus->vt->watch(t->bus, t, 0);
    /* s is on one of its receiver's two lists (a few rooms, a few documents each). */
    int found = unlink_from(&s->rcv->subs, s) || unlink_from(&s->rcv->doc_subs, s);
    CH_ASSERT(found);
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

uint32_t bus_publish(bus_topic_t *t, const bus_event_t *ev)
{
    return t->bus->vt->publish(t->bus, t, ev);
}

void bus_serve(bus_t *b, bus_op_fn fn, void *ud)
{
    b->serve = fn;
    b->serve_ud = ud;
}

int bus_send_op(bus_t *b, const bus_op_t *op)
{
    return b->vt->send_op(b, op);
}

void bus_reply(const bus_route_t *route, const char *code, const char *message, json_t *data)
{
    route->fn(route, code, message, data);
}

void bus_reply_parts(const bus_route_t *route, const jpart_t *parts, size_t nparts)
{
    CH_ASSERT(route->parts_fn != NULL);
    route->parts_fn(route, parts, nparts);
}

void bus_reply_ignore(const bus_route_t *route, const char *code, const char *message,
                      json_t *data)
{
    (void)route;
    (void)code;
    (void)message;
    json_decref(data);
}

void bus_on_drop(bus_t *b, bus_drop_fn fn, void *ud)
{
    b->drop = fn;
    b->drop_ud = ud;
}

void bus_on_watchers(bus_t *b, bus_watchers_fn fn, void *ud)
{
    b->watchers = fn;
    b->watchers_ud = ud;
}

void bus_on_room(bus_t *b, bus_room_fn fn, void *ud)
{
    b->room_fn = fn;
    b->room_ud = ud;
}

void bus_on_takeover(bus_t *b, const bus_takeover_t *t)
{
    b->takeover = *t;
}

void bus_reloaded(bus_t *b, const char *room, int rc)
{
    if (b->vt->reloaded) b->vt->reloaded(b, room, rc);
}

void bus_record(bus_t *b, const char *room, const char *field, const char *value)
{
    if (b->vt->record) b->vt->record(b, room, field, value);
}

void bus_announce(bus_t *b, const char *room, const char *text, size_t len)
{
    if (b->vt->announce) b->vt->announce(b, room, text, len);
}
