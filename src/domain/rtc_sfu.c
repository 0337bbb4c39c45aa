/* rtc_sfu.c: a room's call in SFU mode (rtc_sfu.h). */
#include "domain/rtc_sfu.h"

#include <errno.h>
#include <string.h>

#include "domain/sfu.h"
#include "util/mem.h"

static int have_sfu(const rtc_calls_t *rc)
{
    return rc->sfu && rc->sfu->impl;
}

/* The call member member_id of room_id's call at this home: its connection. */
static int find_member(rtc_calls_t *rc, const char *room_id, const char *member_id,
                       room_t **room, bus_member_t *conn)
{
    *room = rc->rooms ? rooms_get(rc->rooms, room_id) : NULL;
    rtc_call_t *c = *room ? rtc_calls_get(rc, *room, 0) : NULL;
    ptrdiff_t i = c ? rtc_find_id(c, member_id) : -1;
    if (i < 0) return -ENOENT;
    *conn = c->m[i].conn;
    return 0;
}

/* The SFU's signal to a member: rtc_signal {from: "sfu", userId: "", data} to its one
 * connection. */
static void on_signal(void *ud, const char *room_id, const char *member_id, const char *data,
                      size_t len)
{
    room_t *room;
    bus_member_t conn;
    if (find_member(ud, room_id, member_id, &room, &conn) != 0) return;
    json_t *fields = json_pack("{s:s, s:s}", "from", SFU_PSEUDO_MEMBER, "userId", "");
    jpart_t parts[2] = {{.obj = fields}, {.key = "data", .text = data, .len = len}};
    bus_publish(
        &room->bus,
        &(bus_event_t){
            .room = room->id, .name = "rtc_signal", .parts = parts, .nparts = 2, .to = conn});
    json_decref(fields);
}

/* The SFU failed a member: rtc_sfu_error {code} to its one connection. */
static void on_failed(void *ud, const char *room_id, const char *member_id, const char *code)
{
    room_t *room;
    bus_member_t conn;
    if (find_member(ud, room_id, member_id, &room, &conn) != 0) return;
    json_t *fields = json_pack("{s:s, s:s}", "code", code, "message",
                               "the call's SFU cannot serve this connection now");
    jpart_t part = {.obj = fields};
    bus_publish(&room->bus, &(bus_event_t){.room = room->id,
                                           .name = "rtc_sfu_error",
                                           .parts = &part,
                                           .nparts = 1,
                                           .to = conn});
    json_decref(fields);
}

static const sfu_events_t events = {.signal = on_signal, .failed = on_failed};

void rtc_sfu_start(rtc_calls_t *rc)
{
    rc->lim.sfu = have_sfu(rc);
    if (rc->lim.sfu) rc->sfu->set_events(rc->sfu->impl, &events, rc);
}

void rtc_sfu_joined(rtc_calls_t *rc, room_t *room, rtc_call_t *c, rtc_mode_t before, size_t i,
                    int fresh)
{
    if (!have_sfu(rc) || c->mode != RTC_MODE_SFU) return;
    const sfu_t *s = rc->sfu;
    if (before != RTC_MODE_SFU) {
        /* A member the SFU could not admit hears rtc_sfu_error (after rtc_mode). */
        int started = s->call_start(s->impl, room->id, rc->lim.max_members) == 0;
        uint8_t *failed = ch_calloc(c->n ? c->n : 1, 1);
        for (size_t k = 0; k < c->n; k++)
            failed[k] = !started || s->member_join(s->impl, room->id, c->m[k].id) != 0;
        json_t *fields = json_pack("{s:s}", "mode", rtc_mode_name(RTC_MODE_SFU));
        jpart_t part = {.obj = fields};
        bus_publish(&room->bus, &(bus_event_t){.room = room->id,
                                               .name = "rtc_mode",
                                               .parts = &part,
                                               .nparts = 1,
                                               .except = BUS_MEMBER_NONE});
        json_decref(fields);
        for (size_t k = 0; k < c->n; k++)
            if (failed[k]) on_failed(rc, room->id, c->m[k].id, SFU_UNAVAILABLE);
        free(failed);
    } else if (fresh && s->member_join(s->impl, room->id, c->m[i].id) != 0) {
        on_failed(rc, room->id, c->m[i].id, SFU_UNAVAILABLE);
    }
}

int rtc_sfu_signal(rtc_calls_t *rc, room_t *room, rtc_call_t *c, bus_member_t from,
                   const char *data, size_t len, uint64_t now_ms)
{
    ptrdiff_t s = c ? rtc_find_conn(c, from) : -1;
    if (s < 0) return RTC_E_NOT_IN_CALL;
    if (!have_sfu(rc) || c->mode != RTC_MODE_SFU) return RTC_SFU_E_NO_SFU;
    if (len > rc->lim.max_signal) return RTC_E_TOO_LARGE;
    if (!rl_take(&c->m[s].signals, rc->lim.signal_rate, rc->lim.signal_burst, now_ms))
        return RTC_E_RATE;
    int rc2 = rc->sfu->signal(rc->sfu->impl, room->id, c->m[s].id, data, len);
    if (rc2 == -EINVAL) return RTC_SFU_E_BAD;
    if (rc2 == -ENOENT) return RTC_E_NO_TARGET;
    return rc2 ? RTC_SFU_E_DOWN : 0;
}

void rtc_sfu_leaving(rtc_calls_t *rc, const room_t *room, const rtc_call_t *c, size_t i)
{
    if (!have_sfu(rc) || c->mode != RTC_MODE_SFU) return;
    rc->sfu->member_leave(rc->sfu->impl, room->id, c->m[i].id);
    if (c->n == 1) rc->sfu->call_end(rc->sfu->impl, room->id);
}

void rtc_sfu_ended(rtc_calls_t *rc, const char *room_id)
{
    if (have_sfu(rc)) rc->sfu->call_end(rc->sfu->impl, room_id);
}
