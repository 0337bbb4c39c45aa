/* home_rtc.c: the call ops at their room's home (home.h; docs/protocol.md, "Calls"):
 * rtc_join, rtc_leave, rtc_signal and rtc_state. Each reads the op's arguments, applies
 * the call's rules (rtc.h) to the room's call (rtc_calls.h) as the op's connection, at
 * the loop's time, publishes the events and answers through the route at once. The
 * member's side (proto_rtc.c) has checked that the connection joined the room; a signal
 * goes to the one connection of its recipient (bus_event_t.to), wherever it is. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <uv.h>

#include "auth/turn_cred.h"
#include "domain/activity.h"
#include "domain/activity_log.h"
#include "domain/home.h"
#include "domain/rtc_calls.h"
#include "domain/rtc_sfu.h"
#include "util/clock.h"
#include "util/mem.h"

/* Reads the optional boolean m (NULL: absent; null counts as absent) named name into *out
 * (def when absent). Returns 0, or -1 after answering validation_error. */
static int scan_bool(const bus_op_t *op, const jscan_member_t *m, const char *name, int def,
                     int *out)
{
    *out = def;
    if (!m || m->type == JSCAN_NULL) return 0;
    if (m->type != JSCAN_TRUE && m->type != JSCAN_FALSE) {
        char msg[64];
        snprintf(msg, sizeof(msg), "%s must be true or false", name);
        home_reply_field(&op->route, "validation_error", name, msg);
        return -1;
    }
    *out = m->type == JSCAN_TRUE;
    return 0;
}

/* The answer of a refusal of the call's rules. */
static void reply_rtc_err(const bus_route_t *route, int rc)
{
    switch (rc) {
    case RTC_E_FULL:
        bus_reply(route, "call_full", "the call has the most members it may have", NULL);
        break;
    case RTC_E_NOT_IN_CALL:
        bus_reply(route, "not_in_call", "this connection is not in the room's call", NULL);
        break;
    case RTC_E_NO_TARGET:
        bus_reply(route, "not_found", "no such call member", json_pack("{s:s}", "field", "to"));
        break;
    case RTC_E_TOO_LARGE:
        bus_reply(route, "payload_too_large", "signal data is too large",
                  json_pack("{s:s}", "field", "data"));
        break;
    case RTC_E_RATE:
        bus_reply(route, "rate_limited", "too many signals: slow down", NULL);
        break;
    default:
        CH_ASSERT(!"unknown rtc error");
    }
}

static const char *const join_keys[] = {"audio", "video", "screen", "muted"};

static void op_join(void *ud, room_t *room, const bus_op_t *op)
{
    rtc_calls_t *rc = ud;
    rooms_t *r = room->rooms;
    jscan_t tmp;
    char *text;
    const jscan_t *a = home_args(op, &tmp, join_keys, CH_ARRAY_LEN(join_keys), &text);
    int audio, video, screen, muted;
    int bad = scan_bool(op, jscan_get(a, "audio"), "audio", 0, &audio) ||
              scan_bool(op, jscan_get(a, "video"), "video", 0, &video) ||
              scan_bool(op, jscan_get(a, "screen"), "screen", 0, &screen) ||
              scan_bool(op, jscan_get(a, "muted"), "muted", 0, &muted);
    free(text);
    if (bad) return;
    rtc_flags_t f = {.audio = (uint8_t)audio,
                     .video = (uint8_t)video,
                     .screen = (uint8_t)screen,
                     .muted = (uint8_t)muted};
    rtc_call_t *c = rtc_calls_get(rc, room, 1);
    rtc_mode_t before = c->mode;
    size_t i;
    int fresh = rtc_join(c, &rc->lim, op->route.member, op->user, &f, clock_unix_ms(),
                         uv_now(r->loop), &i);
    if (fresh < 0) {
        reply_rtc_err(&op->route, fresh);
        return;
    }
    if (fresh && c->n == 1) { /* the first one in starts the call */
        c->started_at = c->m[i].joined_at;
        activity_log_row(r->act, room, ACTIVITY_CALL_STARTED, op->user, NULL,
                         json_pack("{s:I}", "call", (json_int_t)c->started_at));
    }
    /* The mode is decided here, at every join (rtc_mode_decide: mesh up to
     * --rtc-mesh-max, else the SFU when one is configured). The SFU side (branch
     * rtc-sfu) moves the call to its SFU room when the mode turns to RTC_MODE_SFU. */
    c->mode = rtc_mode_decide(c, &rc->lim);
    rtc_sfu_joined(rc, room, c, before, i, fresh); /* to the SFU past the mesh size */
    const rtc_member_t *m = &c->m[i];
    rtc_calls_publish(room, fresh ? "rtc_member_joined" : "rtc_member_updated", m,
                      json_pack("{s:s}", "mode", rtc_mode_name(c->mode)), op->route.member);
    bus_reply(&op->route, NULL, NULL,
              json_pack("{s:s, s:s, s:o, s:o}", "id", m->id, "mode", rtc_mode_name(c->mode),
                        "members", rtc_members_json(c), "iceServers",
                        turn_ice_servers(rc->cfg, op->user, clock_unix_ms())));
}

static void op_leave(void *ud, room_t *room, const bus_op_t *op)
{
    rtc_calls_t *rc = ud;
    rtc_call_t *c = rtc_calls_get(rc, room, 0);
    ptrdiff_t i = c ? rtc_find_conn(c, op->route.member) : -1;
    if (i < 0) {
        reply_rtc_err(&op->route, RTC_E_NOT_IN_CALL);
        return;
    }
    /* The member as rtc_member_left names it (seed 003's room:voice-stopped for the
     * caller is built from it). */
    json_t *data =
        json_pack("{s:{s:s, s:s}}", "member", "id", c->m[i].id, "userId", c->m[i].user_id);
    rtc_calls_leave(rc, room, c, (size_t)i, "left", op->route.member);
    bus_reply(&op->route, NULL, NULL, data);
}

static const char *const signal_keys[] = {"to", "data"};

/* rtc_signal: relayed to the one connection of the recipient, as {from, userId, data},
 * the data as the client sent it when that is Jansson's encoding (no tree either way). */
static void op_signal(void *ud, room_t *room, const bus_op_t *op)
{
    rtc_calls_t *rc = ud;
    rooms_t *r = room->rooms;
    jscan_t tmp;
    char *text, *data_owned = NULL;
    const jscan_t *a = home_args(op, &tmp, signal_keys, CH_ARRAY_LEN(signal_keys), &text);
    const jscan_member_t *to = jscan_get(a, "to");
    const jscan_member_t *data = jscan_get(a, "data");
    char id[RTC_ID_LEN];
    if (!to || to->type != JSCAN_STRING || jscan_string(to, id, sizeof(id)) <= 0) {
        home_reply_field(&op->route, "validation_error", "to",
                         "to must be a call member id (rtc_member_joined's member.id)");
        goto out;
    }
    if (!data || data->type == JSCAN_NULL) {
        home_reply_field(&op->route, "validation_error", "data",
                         "data (an offer, an answer or an ICE candidate) is required");
        goto out;
    }
    rtc_call_t *c = rtc_calls_get(rc, room, 0);
    if (strcmp(id, SFU_PSEUDO_MEMBER) == 0) { /* to the call's SFU (rtc_sfu.h) */
        size_t dlen;
        const char *djson = jscan_text(data, &dlen, &data_owned);
        int e = rtc_sfu_signal(rc, room, c, op->route.member, djson, dlen, uv_now(r->loop));
        if (e == RTC_SFU_E_NO_SFU)
            home_reply_field(&op->route, "not_found", "to", "the call is not in SFU mode");
        else if (e == RTC_SFU_E_BAD)
            home_reply_field(&op->route, "validation_error", "data",
                             "data must be {pc, type: offer|answer, sdp} or {pc, candidate}");
        else if (e == RTC_SFU_E_DOWN)
            bus_reply(&op->route, SFU_UNAVAILABLE, "the call's SFU cannot take it now", NULL);
        else if (e < 0)
            reply_rtc_err(&op->route, e);
        else
            bus_reply(&op->route, NULL, NULL, NULL);
        goto out;
    }
    int t =
        c ? rtc_signal_check(c, &rc->lim, op->route.member, id, data->val_len, uv_now(r->loop))
          : RTC_E_NOT_IN_CALL;
    if (t < 0) {
        reply_rtc_err(&op->route, t);
        goto out;
    }
    size_t len;
    const char *json = jscan_text(data, &len, &data_owned);
    const rtc_member_t *from = &c->m[rtc_find_conn(c, op->route.member)];
    json_t *fields = json_pack("{s:s, s:s}", "from", from->id, "userId", from->user_id);
    jpart_t parts[2] = {{.obj = fields}, {.key = "data", .text = json, .len = len}};
    bus_publish(&room->bus, &(bus_event_t){.room = room->id,
                                           .name = "rtc_signal",
                                           .parts = parts,
                                           .nparts = 2,
                                           .to = c->m[t].conn});
    json_decref(fields);
    bus_reply(&op->route, NULL, NULL, NULL);
out:
    free(data_owned);
    free(text);
}

static const char *const state_keys[] = {"muted", "speaking", "sharing"};

static void op_state(void *ud, room_t *room, const bus_op_t *op)
{
    rtc_calls_t *rc = ud;
    jscan_t tmp;
    char *text;
    const jscan_t *a = home_args(op, &tmp, state_keys, CH_ARRAY_LEN(state_keys), &text);
    int muted, speaking, sharing;
    int bad = scan_bool(op, jscan_get(a, "muted"), "muted", -1, &muted) ||
              scan_bool(op, jscan_get(a, "speaking"), "speaking", -1, &speaking) ||
              scan_bool(op, jscan_get(a, "sharing"), "sharing", -1, &sharing);
    free(text);
    if (bad) return;
    rtc_call_t *c = rtc_calls_get(rc, room, 0);
    ptrdiff_t i = c ? rtc_find_conn(c, op->route.member) : -1;
    if (i < 0) {
        reply_rtc_err(&op->route, RTC_E_NOT_IN_CALL);
        return;
    }
    rtc_member_t *m = &c->m[i];
    if (rtc_set_state(m, muted, speaking, sharing))
        rtc_calls_publish(room, "rtc_member_updated", m, NULL, op->route.member);
    bus_reply(&op->route, NULL, NULL, json_pack("{s:o}", "member", rtc_member_json(m)));
}

static const home_op_t rtc_home_ops[] = {
    {"rtc_join", op_join},
    {"rtc_leave", op_leave},
    {"rtc_signal", op_signal},
    {"rtc_state", op_state},
};

void home_rtc_register(home_t *h, struct rtc_calls_s *rc)
{
    home_register(h, rtc_home_ops, CH_ARRAY_LEN(rtc_home_ops), rc);
}
