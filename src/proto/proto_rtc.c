/* proto_rtc.c: where a frame becomes a call operation: rtc_join, rtc_leave, rtc_signal
 * and rtc_state over WebSocket. This is the member's side: it finds the room the frame
 * names and checks that this connection joined it (proto_rooms_target), then sends the
 * frame to the room's home (proto_rooms_to_home), where home_rtc.c applies the call's
 * rules. A connection that has not joined the room can signal nobody in it. */
#include "proto/proto_rtc.h"

#include "proto/proto_rooms.h"
#include "util/mem.h"

static void op_to_home(proto_req_t *req)
{
    room_t *room = proto_rooms_target(req, PROTO_ROOM_JOINED);
    if (room) proto_rooms_to_home(req, room);
}

/* rtc_signal (each ICE candidate is one) and rtc_state (speaking turns on and off as
 * people talk) are sent often: their frames go to the home as scanned text (PROTO_OP_SCAN),
 * and a signal's data is relayed as the client wrote it. */
static const proto_op_t rtc_ops[] = {
    {"rtc_join", op_to_home, 0},
    {"rtc_leave", op_to_home, 0},
    {"rtc_signal", op_to_home, PROTO_OP_SCAN},
    {"rtc_state", op_to_home, PROTO_OP_SCAN},
};

void proto_rtc_register(proto_t *p)
{
    proto_register(p, rtc_ops, CH_ARRAY_LEN(rtc_ops));
}
