/* rtc_sfu.h: a room's call in SFU mode (issue 22; docs/webrtc.md "SFU", docs/protocol.md
 * "Calls"), at the room's home: when a call passes --rtc-mesh-max and an SFU is configured
 * (sfu.h), its room is made at the SFU, every call member is admitted there, the call's
 * connections are told the new mode (rtc_mode), and from then on a member's rtc_signal to
 * the pseudo-member "sfu" goes to the SFU, whose answers come back as rtc_signal events from
 * "sfu" (or rtc_sfu_error {code: "sfu_unavailable"}). Leaves and the call's end free the
 * SFU's side. The calls (rtc_calls.c, home_rtc.c) call these at the commented places. */
#ifndef CHORUS_RTC_SFU_H
#define CHORUS_RTC_SFU_H

#include <stddef.h>

#include "domain/rtc_calls.h"

/* The feature's start: rc->sfu (borrowed, NULL or impl NULL: none) gets rc as the
 * receiver of its answers, and rc->lim.sfu says whether calls may go to it. */
void rtc_sfu_start(rtc_calls_t *rc);

/* After a join into room's call c (the member at index i, fresh when new) whose mode was
 * before: a call that just turned SFU goes to the SFU with all its members (rtc_mode
 * {mode: "sfu"} to the room), a new member of an SFU call is admitted. */
void rtc_sfu_joined(rtc_calls_t *rc, room_t *room, rtc_call_t *c, rtc_mode_t before, size_t i,
                    int fresh);

/* An rtc_signal to "sfu" from the connection from, of len bytes of JSON data (borrowed):
 * the call's rules (in the call, the size, the sender's rate) then the SFU. Returns 0, an
 * rtc_errno_t, or RTC_SFU_E_* below. */
#define RTC_SFU_E_NO_SFU (-100) /* the call is not in SFU mode: not_found (to) */
#define RTC_SFU_E_BAD (-101)    /* data is not an SFU signal: validation_error (data) */
#define RTC_SFU_E_DOWN (-102)   /* the SFU cannot take it now: sfu_unavailable */
int rtc_sfu_signal(rtc_calls_t *rc, room_t *room, rtc_call_t *c, bus_member_t from,
                   const char *data, size_t len, uint64_t now_ms);

/* Before the member at index i leaves room's call c: the SFU lets them go. */
void rtc_sfu_leaving(rtc_calls_t *rc, const room_t *room, const rtc_call_t *c, size_t i);

/* room_id's call ended (empty, or its room went): the SFU's room goes. */
void rtc_sfu_ended(rtc_calls_t *rc, const char *room_id);

#endif
