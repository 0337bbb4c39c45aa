/* proto_rtc.h: the call ops over WebSocket (proto_rtc.c), where a frame becomes a call
 * operation (docs/protocol.md, "Calls"). */
#ifndef CHORUS_PROTO_RTC_H
#define CHORUS_PROTO_RTC_H

#include "proto/proto.h"

/* Registers rtc_join, rtc_leave, rtc_signal and rtc_state on p (whose app is the
 * rooms_t). */
void proto_rtc_register(proto_t *p);

#endif
