/* rooms_presence.c: presence (see rooms.h): a member's patches and typing, sent to the
 * room's other users at most at the configured rate; changes held back wait on the
 * registry's pending-presence list, flushed by the fast presence timer. */
#include "domain/rooms_internal.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

/* Sends a presence change to the room's other users (not to the member's own
 * connections: they know); in a large room only to the connections that watch the member
 * (presence_subscribe): one event on the room's topic, which each process delivers to its
 * own watchers of the member (bus_event_t.watchers, rooms_watchers). */
void rooms_presence_emit(room_t *room, room_member_t *m, json_t *change)
{
    json_t *fields = json_pack("{s:s, s:o}", "userId", m->user_id, "state", change);
    jpart_t part = {.obj = fields};
    bus_publish(&room->bus, &(bus_event_t){.room = room->id,
                                           .name = "presence",
                                           .parts = &part,
                                           .nparts = 1,
                                           .except_user = m->user_id,
                                           .watchers = ROOMS_LARGE(room->rooms, room)});
    json_decref(fields);
}

bus_sub_t *const *rooms_watchers(void *ud, bus_topic_t *t, const char *user, size_t *n)
{
    (void)ud;
    room_t *room = (room_t *)(void *)((char *)t - offsetof(room_t, bus));
    *n = 0;
    if (!room->watch) return NULL;
    /* The index's watchers are the room's subscriptions (rooms_watch_set). */
    return (bus_sub_t *const *)pwatch_of(room->watch, user, n);
}

int rooms_watch_set(rooms_t *r, room_t *room, bus_rcv_t *c, const char *const *users,
                    size_t n)
{
    bus_sub_t *s = bus_find(c->subs, room);
    if (!s) return ROOMS_E_FORBIDDEN;
    if (!room->watch) {
        if (n == 0) return 0;
        room->watch = ch_malloc(sizeof(*room->watch));
        pwatch_init(room->watch, (uint64_t)(uintptr_t)room ^ uv_now(r->loop));
    }
    int k = pwatch_set(room->watch, s, users, n, r->lim.watch_max);
    return k < 0 ? ROOMS_E_LIMIT : k;
}

void rooms_watch_drop(room_t *room, bus_sub_t *s)
{
    if (room->watch) pwatch_drop(room->watch, s);
}

presence_rules_t rooms_presence_rules(const rooms_t *r, const room_t *room)
{
    presence_rules_t rules = r->lim.presence;
    if (ROOMS_LARGE(r, room))
        rules.min_gap_ms =
            rooms_coalesce_interval(r->lim.large_tick_ms, r->lim.large_rate, room->roster.online);
    return rules;
}

static void on_presence_timer(uv_timer_t *t);

/* A member stays on the fast presence timer while a change is held back or typing is on
 * (so "typing": false goes out on time); idle is looked at by the 1 s tick. */
int rooms_presence_watched(const room_member_t *m)
{
    return m->online && (m->presence.pending || m->presence.typing_until);
}

void rooms_schedule_presence(rooms_t *r, room_member_t *m)
{
    if (!m->presence_dirty) {
        m->presence_dirty = 1;
        m->dirty_next = r->dirty;
        r->dirty = m;
    }
    if (!r->presence_timer_on) {
        r->presence_timer_on = 1;
        uint64_t gap = r->lim.presence.max_rate ? 1000 / r->lim.presence.max_rate : 50;
        uv_timer_start(&r->presence_timer, on_presence_timer, gap ? gap : 1, gap ? gap : 1);
    }
}

static void on_presence_timer(uv_timer_t *t)
{
    rooms_t *r = t->data;
    uint64_t now = uv_now(r->loop);
    room_member_t *list = r->dirty;
    r->dirty = NULL;
    while (list) {
        room_member_t *m = list;
        list = m->dirty_next;
        m->presence_dirty = 0;
        presence_rules_t rules = rooms_presence_rules(r, m->room);
        json_t *change = presence_tick(&m->presence, now, &rules);
        if (change) rooms_presence_emit(m->room, m, change);
        if (rooms_presence_watched(m)) rooms_schedule_presence(r, m);
    }
    if (!r->dirty) {
        uv_timer_stop(&r->presence_timer);
        r->presence_timer_on = 0;
    }
}

int rooms_presence(rooms_t *r, room_t *room, const char *user_id, const json_t *patch)
{
    room_member_t *m = room_member(room, user_id);
    if (!m) return -1;
    json_t *emit = NULL;
    presence_rules_t rules = rooms_presence_rules(r, room);
    if (presence_update(&m->presence, patch, uv_now(r->loop), &rules, &emit) != 0)
        return -1;
    if (emit) rooms_presence_emit(room, m, emit);
    if (rooms_presence_watched(m)) rooms_schedule_presence(r, m);
    return 0;
}
