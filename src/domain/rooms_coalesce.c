/* rooms_coalesce.c: a large room's membership changes, coalesced (issue 26,
 * docs/protocol.md "Large rooms"): instead of participant_joined, participant_left and
 * participant_removed at each change, the room's home notes who changed (the state others
 * knew of them before: online, seated) and at the end of its interval sends one
 * participants_changed with the net change of the interval, framed once per node, so
 * deliveries grow with members x ticks, not members x changes. The interval is
 * lim.large_tick_ms, or longer in a room so big that an event a tick would cost more than
 * lim.large_rate deliveries a second: online members * 1000 / large_rate ms (a room of
 * 100,000 online at 50,000 a second: one event every 2 s). Each participant object an
 * event names counts as one more delivery to every member: the joins named are as many as
 * that rate leaves (rooms_coalesce_named), at most lim.changed_max; a room whose interval
 * the rate set names none, only counts them. It names at most
 * lim.changed_max of those who came online (the rest are in the counts and in
 * "joinedMore"). Presence changes go to the member's watchers instead (rooms_presence.c).
 * A room is coalesced while it is large, and until its held changes are sent. */
#include "domain/rooms_internal.h"

#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

/* One user's changes in the current interval. */
typedef struct {
    const char *reason; /* the last leave's reason (static), NULL: none */
    uint8_t was_online; /* online before the first change of the interval */
    uint8_t was_seated;
    uint8_t came_back; /* came online in the interval (fresh presence) */
    uint8_t removed;   /* lost the seat in the interval */
    char user_id[];
} coal_user_t;

struct rooms_coal_s {
    strmap_t users; /* user id -> coal_user_t (owned; the key inside) */
    room_t *next;   /* the registry's list of rooms with changes held */
    uint64_t since; /* loop time of the interval's first change */
};

int rooms_coalescing(const rooms_t *r, const room_t *room)
{
    /* Once closed (shutdown: connections still going), the events go out at once again. */
    return room->coal != NULL || (ROOMS_LARGE(r, room) && !r->coal_closed);
}

static void on_coal_timer(uv_timer_t *t);

/* The entry of user_id, made with the state given (before the change) when it is their
 * first change of the interval. */
static coal_user_t *note(rooms_t *r, room_t *room, const char *user_id, int was_online,
                         int was_seated)
{
    if (!room->coal) {
        room->coal = ch_calloc(1, sizeof(*room->coal));
        strmap_init(&room->coal->users, (uint64_t)(uintptr_t)room ^ uv_now(r->loop));
        rooms_hold(room); /* until the flush, even if deleted meanwhile */
        room->coal->since = uv_now(r->loop);
        room->coal->next = r->coal_rooms;
        r->coal_rooms = room;
        if (!r->coal_timer_on) {
            r->coal_timer_on = 1;
            uv_timer_start(&r->coal_timer, on_coal_timer, r->lim.large_tick_ms, 0);
        }
    }
    coal_user_t *u = strmap_get(&room->coal->users, user_id);
    if (u) return u;
    size_t len = strlen(user_id);
    u = ch_calloc(1, sizeof(*u) + len + 1);
    memcpy(u->user_id, user_id, len);
    u->was_online = (uint8_t)was_online;
    u->was_seated = (uint8_t)was_seated;
    strmap_put(&room->coal->users, u->user_id, u);
    return u;
}

void rooms_coalesce_seated(rooms_t *r, room_t *room, const room_member_t *m)
{
    note(r, room, m->user_id, 0, 0);
}

void rooms_coalesce_online(rooms_t *r, room_t *room, room_member_t *m)
{
    coal_user_t *u = note(r, room, m->user_id, 0, 1);
    u->came_back = 1;
}

void rooms_coalesce_left(rooms_t *r, room_t *room, const room_member_t *m, const char *reason,
                         int removed)
{
    coal_user_t *u = note(r, room, m->user_id, m->online > 0, !m->banned);
    u->reason = reason;
    u->removed |= (uint8_t)removed;
}

/* Sends room's participants_changed (when something changed) and forgets its changes:
 * joined names at most changed_max participants (the first in the map's order), the
 * others are counted in joinedMore. */
static void flush_room(room_t *room, uint32_t changed_max, int send)
{
    struct rooms_coal_s *c = room->coal;
    room->coal = NULL;
    size_t n = c->users.count, nj = 0, more = 0;
    size_t cap = n < changed_max ? n : changed_max;
    room_member_t **joined = ch_malloc((cap + 1) * sizeof(*joined));
    json_t *left = json_array();
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&c->users, &i, &k, &v);) {
        coal_user_t *u = v;
        room_member_t *m = room->deleted ? NULL : room_member(room, u->user_id);
        int seated = m && !m->banned, online = seated && m->online > 0;
        /* Came online, or took a seat in the interval (online or not by its end: a seat
         * taken and left offline, or taken over REST, is a participant the others did not
         * know, so it is named, with "online": false). */
        if ((online && (!u->was_online || u->came_back)) || (seated && !u->was_seated)) {
            if (nj < cap)
                joined[nj++] = m; /* their participant object, presence included, as now */
            else
                more++;
        } else if (u->was_seated && !seated) {
            json_array_append_new(left,
                                  json_pack("{s:s, s:s, s:b}", "userId", u->user_id, "reason",
                                            u->reason ? u->reason : "left", "removed", 1));
        } else if (u->was_online && !online) {
            json_array_append_new(
                left, json_pack("{s:s, s:s, s:b}", "userId", u->user_id, "reason",
                                u->reason ? u->reason : "disconnected", "removed", 0));
        }
        free(u);
    }
    strmap_free(&c->users);
    free(c);
    if (send && !room->deleted && (nj || more || json_array_size(left))) {
        json_t *fields = json_object();
        if (json_array_size(left)) json_object_set(fields, "left", left);
        if (more) json_object_set_new(fields, "joinedMore", json_integer((json_int_t)more));
        json_object_set_new(fields, "participantCount", json_integer(room->seats));
        json_object_set_new(fields, "onlineCount", json_integer(room->roster.online));
        size_t len = 0;
        char *text = nj ? room_members_text(joined, nj, &len) : NULL;
        jpart_t parts[2] = {{.key = "joined", .text = text, .len = len}, {.obj = fields}};
        bus_publish(&room->bus, &(bus_event_t){.room = room->id,
                                               .name = "participants_changed",
                                               .parts = nj ? parts : parts + 1,
                                               .nparts = nj ? 2 : 1,
                                               .except = BUS_MEMBER_NONE});
        free(text);
        json_decref(fields);
    }
    json_decref(left);
    free(joined);
    rooms_release(room);
}

uint64_t rooms_coalesce_interval(uint64_t tick_ms, uint64_t rate, uint64_t online)
{
    uint64_t by_rate = rate ? online * 1000 / rate : 0;
    return by_rate > tick_ms ? by_rate : tick_ms;
}

uint32_t rooms_coalesce_named(uint32_t changed_max, uint64_t rate, uint64_t interval_ms,
                              uint64_t online)
{
    if (!rate || !online) return changed_max;
    uint64_t per_member = rate * interval_ms / 1000 / online; /* objects one event may carry */
    uint64_t named = per_member > 1 ? per_member - 1 : 0;     /* the event itself is one */
    return named < changed_max ? (uint32_t)named : changed_max;
}

/* Sends (send = 1) or drops the held changes of every room whose interval has ended at
 * now (all of them when all is set), keeps the others for a later tick. */
static void flush_due(rooms_t *r, int send, int all)
{
    r->coal_timer_on = 0;
    room_t *list = r->coal_rooms, **keep = &r->coal_rooms;
    r->coal_rooms = NULL;
    uint64_t now = uv_now(r->loop);
    while (list) {
        room_t *room = list;
        list = room->coal->next;
        uint64_t iv =
            rooms_coalesce_interval(r->lim.large_tick_ms, r->lim.large_rate, room->roster.online);
        /* Due within half a tick: the timer's next run would be late for it. */
        if (all || now + r->lim.large_tick_ms / 2 >= room->coal->since + iv) {
            flush_room(room,
                       rooms_coalesce_named(r->lim.changed_max, r->lim.large_rate, iv,
                                            room->roster.online),
                       send);
        } else {
            room->coal->next = NULL;
            *keep = room;
            keep = &room->coal->next;
        }
    }
    if (r->coal_rooms) {
        r->coal_timer_on = 1;
        uv_timer_start(&r->coal_timer, on_coal_timer, r->lim.large_tick_ms, 0);
    }
}

/* Every tick the rooms whose interval ended go out: one timer for the registry. */
static void on_coal_timer(uv_timer_t *t)
{
    flush_due(t->data, 1, 0);
}

void rooms_coalesce_close(rooms_t *r)
{
    uv_timer_stop(&r->coal_timer);
    flush_due(r, 0, 1); /* shutting down: the connections are going */
    r->coal_closed = 1;
    uv_close((uv_handle_t *)&r->coal_timer, NULL);
}

void rooms_coalesce_init(rooms_t *r)
{
    uv_timer_init(r->loop, &r->coal_timer);
    r->coal_timer.data = r;
    uv_unref((uv_handle_t *)&r->coal_timer);
}
