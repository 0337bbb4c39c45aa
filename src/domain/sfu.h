/* sfu.h: the SFU as a call's home sees it (issue 22): a table of functions the home calls
 * when a call goes past the mesh size (docs/webrtc.md, "SFU"), and the two callbacks by
 * which the SFU answers a call member (a signal from the pseudo-member "sfu", or a failure
 * with the stable code SFU_UNAVAILABLE). The implementation (Janus over HTTP) is
 * app/janus.c; the domain only calls the table. Every function returns at once; answers come
 * later through the callbacks, on the loop thread, never from inside a call.
 *
 * A member's signal to "sfu" (and the SFU's to the member) is a JSON object naming the peer
 * connection it is about: {"pc": "pub", "type": "offer", "sdp"} is the member's own
 * publishing connection (answered by {"pc":"pub","type":"answer","sdp"}); {"pc": <a call
 * member id>, ...} is the connection that receives that member's media (the SFU sends its
 * "offer", the member answers with "answer"); {"pc", "candidate": {candidate, sdpMid,
 * sdpMLineIndex} or null} is a trickled ICE candidate (null: the end of them); the SFU's
 * {"pc": <member id>, "type": "bye"} says that member's media ended (close that connection). */
#ifndef CHORUS_SFU_H
#define CHORUS_SFU_H

#include <stddef.h>
#include <stdint.h>

#define SFU_PSEUDO_MEMBER "sfu"           /* the rtc_signal target/sender of the SFU */
#define SFU_UNAVAILABLE "sfu_unavailable" /* the code of every SFU failure */

typedef struct {
    /* A signal from the SFU to member_id of room_id's call: data (len bytes, a JSON
     * object, borrowed for the call) goes to them as an rtc_signal from "sfu". */
    void (*signal)(void *ud, const char *room_id, const char *member_id, const char *data,
                   size_t len);
    /* The SFU cannot serve member_id (Janus down, a request refused or timed out): tell
     * them code (SFU_UNAVAILABLE). */
    void (*failed)(void *ud, const char *room_id, const char *member_id, const char *code);
} sfu_events_t;

typedef struct {
    void *impl; /* NULL: no SFU configured (calls stay mesh) */
    /* Where the SFU's answers go (ev borrowed; it must outlive impl). */
    void (*set_events)(void *impl, const sfu_events_t *ev, void *ud);
    /* room_id's call went to the SFU: make its SFU room for up to max_members publishers.
     * Returns 0, or -ENOBUFS (too many requests in flight: sfu_unavailable). */
    int (*call_start)(void *impl, const char *room_id, uint32_t max_members);
    /* room_id's call ended (or the room went): its members' SFU state and its SFU room go. */
    void (*call_end)(void *impl, const char *room_id);
    /* member_id joined room_id's call (after call_start): the SFU admits them (a token of
     * their own, a publishing handle). Returns 0, or -ENOENT (no such call), -ENOBUFS. */
    int (*member_join)(void *impl, const char *room_id, const char *member_id);
    /* member_id left (or their connection went): their handles and token go. */
    void (*member_leave)(void *impl, const char *room_id, const char *member_id);
    /* member_id's signal to "sfu" (data: len bytes of JSON, borrowed for the call).
     * Returns 0, -EINVAL (not a signal of the shape above, or a candidate over 1 KiB of
     * JSON: bad_request), -ENOENT (no such
     * member or connection), -ENOBUFS. */
    int (*signal)(void *impl, const char *room_id, const char *member_id, const char *data,
                  size_t len);
} sfu_t;

#endif
