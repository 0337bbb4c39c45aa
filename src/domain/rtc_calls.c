/* rtc_calls.c: the calls of the rooms at their home (rtc_calls.h): the "rtc" rooms
 * feature, the table of calls by room id, and the call events. */
#include "domain/rtc_calls.h"

#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "domain/activity.h"
#include "domain/activity_log.h"
#include "domain/rtc_sfu.h"
#include "util/clock.h"
#include "util/mem.h"

/* One room's call in the table, keyed by the room's id (kept here: the entry may outlive
 * nothing, but the key must live as long as the entry). */
typedef struct {
    char room_id[STORE_ID_LEN];
    rtc_call_t call;
} rtc_room_t;

void rtc_calls_init(rtc_calls_t *rc)
{
    memset(rc, 0, sizeof(*rc));
    uint64_t seed;
    randombytes_buf(&seed, sizeof(seed));
    strmap_init(&rc->by_room, seed);
}

void rtc_calls_free(rtc_calls_t *rc)
{
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&rc->by_room, &i, &k, &v);)
        rtc_call_free(&((rtc_room_t *)v)->call);
    strmap_free_all(&rc->by_room);
}

rtc_limits_t rtc_calls_limits(const chorus_config_t *cfg)
{
    return (rtc_limits_t){
        .max_members = (uint32_t)cfg->rtc_max_members,
        .mesh_max = (uint32_t)cfg->rtc_mesh_max,
        .max_signal = (size_t)cfg->rtc_max_signal,
        .signal_rate = (uint32_t)cfg->rtc_signal_rate,
        /* A call's start sends a burst (an offer and a dozen ICE candidates per peer):
         * four seconds' worth at once. */
        .signal_burst = (uint32_t)cfg->rtc_signal_rate * 4,
        .sfu = 0, /* no SFU yet (branch rtc-sfu sets it when one is configured) */
    };
}

rtc_call_t *rtc_calls_get(rtc_calls_t *rc, const room_t *room, int create)
{
    rtc_room_t *e = strmap_get(&rc->by_room, room->id);
    if (!e && create) {
        e = ch_calloc(1, sizeof(*e));
        memcpy(e->room_id, room->id, sizeof(e->room_id));
        rtc_call_init(&e->call);
        strmap_put(&rc->by_room, e->room_id, e);
    }
    return e ? &e->call : NULL;
}

/* Frees room's call. */
static void call_drop(rtc_calls_t *rc, const room_t *room)
{
    rtc_room_t *e = strmap_del(&rc->by_room, room->id);
    if (!e) return;
    rtc_sfu_ended(rc, room->id); /* its SFU room, if it had one */
    rtc_call_free(&e->call);
    free(e);
}

/* Sends {op: event, room, fields...} (fields stolen) to room's connections but except. */
static void publish(room_t *room, bus_member_t except, const char *event, json_t *fields)
{
    jpart_t part = {.obj = fields};
    bus_publish(
        &room->bus,
        &(bus_event_t){
            .room = room->id, .name = event, .parts = &part, .nparts = 1, .except = except});
    json_decref(fields);
}

json_t *rtc_member_json(const rtc_member_t *m)
{
    return json_pack("{s:s, s:s, s:b, s:b, s:b, s:b, s:b, s:b, s:I}", "id", m->id, "userId",
                     m->user_id, "audio", m->f.audio, "video", m->f.video, "screen",
                     m->f.screen, "muted", m->f.muted, "speaking", m->f.speaking, "sharing",
                     m->f.sharing, "joinedAt", (json_int_t)m->joined_at);
}

json_t *rtc_members_json(const rtc_call_t *c)
{
    json_t *a = json_array();
    for (size_t i = 0; i < c->n; i++)
        json_array_append_new(a, rtc_member_json(&c->m[i]));
    return a;
}

void rtc_calls_publish(room_t *room, const char *event, const rtc_member_t *m, json_t *fields,
                       bus_member_t except)
{
    if (!fields) fields = json_object();
    json_object_set_new(fields, "member", rtc_member_json(m));
    publish(room, except, event, fields);
}

void rtc_calls_leave(rtc_calls_t *rc, room_t *room, rtc_call_t *c, size_t i, const char *reason,
                     bus_member_t except)
{
    json_t *fields = json_pack("{s:{s:s, s:s}, s:s}", "member", "id", c->m[i].id, "userId",
                               c->m[i].user_id, "reason", reason);
    rtc_sfu_leaving(rc, room, c, i); /* the SFU lets them go (SFU mode) */
    if (c->n == 1 && rc->rooms) { /* the last one out ends the call */
        int64_t ms = clock_unix_ms() - c->started_at;
        activity_log_row(rc->rooms->act, room, ACTIVITY_CALL_ENDED, c->m[i].user_id, NULL,
                         json_pack("{s:I, s:I}", "call", (json_int_t)c->started_at, "ms",
                                   (json_int_t)(ms > 0 ? ms : 0)));
    }
    rtc_remove(c, i);
    if (c->n == 0) call_drop(rc, room);
    publish(room, except, "rtc_member_left", fields);
}

/* ---------- the hooks in rooms ---------- */

static void hook_start(void *ud, rooms_t *r, const chorus_config_t *cfg)
{
    rtc_calls_t *rc = ud;
    rc->lim = rtc_calls_limits(cfg);
    rc->cfg = cfg;
    rc->rooms = r;
    rtc_sfu_start(rc); /* lim.sfu, and the SFU's answers come to rc */
}

/* Every connection of user_id is leaving the room (left, kicked, banned): their call
 * members leave, told to the room while they are still subscribed. */
static void hook_member_left(void *ud, rooms_t *r, room_t *room, const char *user_id)
{
    (void)r;
    rtc_calls_t *rc = ud;
    rtc_call_t *c = rtc_calls_get(rc, room, 0);
    ptrdiff_t i;
    while (c && (i = rtc_find_user(c, user_id, 0)) >= 0) {
        int last = c->n == 1;
        rtc_calls_leave(rc, room, c, (size_t)i, "left", BUS_MEMBER_NONE);
        if (last) break; /* the call is freed */
    }
}

/* The connection went: its call member leaves. */
static void hook_member_gone(void *ud, rooms_t *r, room_t *room, bus_member_t member,
                             const char *user_id)
{
    (void)r;
    (void)user_id;
    rtc_calls_t *rc = ud;
    rtc_call_t *c = rtc_calls_get(rc, room, 0);
    ptrdiff_t i = c ? rtc_find_conn(c, member) : -1;
    if (i >= 0) rtc_calls_leave(rc, room, c, (size_t)i, "disconnected", member);
}

static void hook_room_freed(void *ud, rooms_t *r, room_t *room)
{
    (void)r;
    call_drop(ud, room);
}

const rooms_feature_t rtc_feature = {
    .name = "rtc",
    .start = hook_start,
    .member_left = hook_member_left,
    .member_gone = hook_member_gone,
    .room_freed = hook_room_freed,
};
