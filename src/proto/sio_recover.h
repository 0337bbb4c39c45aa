/* sio_recover.h: Socket.IO connection state recovery for seed 003 sessions, pure: the
 * session id the server hands out (pid), what a reconnecting client's CONNECT asks for
 * (pid and offset: the room and the seq of the last message it got), and which messages
 * it missed, taken from the room's join snapshot (docs/socketio.md, "Recovery"). Durable:
 * the offset is the room's message seq, so a recovery works after a server restart. */
#ifndef CHORUS_SIO_RECOVER_H
#define CHORUS_SIO_RECOVER_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

/* Hex digits of a pid (16 random bytes, auth_random_hex: lowercase). */
#define SIO_RECOVER_PID_LEN 32

/* Reads CONNECT's auth payload (borrowed; untrusted; NULL = none). Returns 1 when it asks
 * for a recovery with a pid this server could have made and an offset
 * sio_seed_offset_format could have written: pid, room and *seq are filled. Returns 0
 * when it asks none, or gives a malformed pid or offset (a fresh session then). */
int sio_recover_asked(const json_t *auth, char pid[SIO_RECOVER_PID_LEN + 1],
                      char room[STORE_ID_LEN], int64_t *seq);

/* The messages a client whose last message was seq missed, from the join answer's data
 * (borrowed: {"lastSeq", "messages": [ascending by seq]}). Returns 0 with *missed a new
 * array of the messages above seq, in order (maybe empty), when data holds every one of
 * them; -1 when it cannot (more were missed than the join's history holds, or seq is past
 * lastSeq): the session is then not recovered. */
int sio_recover_missed(const json_t *data, int64_t seq, json_t **missed);

#endif
