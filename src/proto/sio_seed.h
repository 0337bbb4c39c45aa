/* sio_seed.h: seed 003's Socket.IO events (room:*) as Chorus ops and events, pure (no I/O,
 * no sockets): which op an incoming room:* event runs and with what fields, which room:*
 * events answer it, and how a Chorus room event is written for a connection that speaks
 * seed 003's dialect (framed once per event, docs/socketio.md). The Socket.IO session
 * keeps a sio_seed_t and runs what this module returns through the op table. */
#ifndef CHORUS_SIO_SEED_H
#define CHORUS_SIO_SEED_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bus/bus.h"
#include "store/store.h"
#include "util/buf.h"

/* Results besides 0. */
#define SIO_SEED_ENOTSEED (-1) /* not one of seed 003's events: the generic mapping's */
#define SIO_SEED_EINVALID (-2) /* refused here: answer room:error (sio_seed_error) */

/* The longest offset, "<room id>:<seq>" with its NUL. */
#define SIO_SEED_OFFSET_LEN (STORE_ID_LEN + 21)

/* What a seed 003 session knows: the room its room:* events go to, the one its last
 * room:join joined ("" = none yet; room:leave clears it). */
typedef struct {
    char room[STORE_ID_LEN];
} sio_seed_t;

/* Returns 1 when name (borrowed) is one of seed 003's client events (room:authenticate,
 * room:join, …), which make a connection speak seed 003's dialect; else 0. */
int sio_seed_is_event(const char *name);

/* The Chorus request that seed event name (borrowed) with payload (borrowed; NULL = none)
 * runs for a session in state st (borrowed). Returns 0 with *req a new reference to the
 * envelope {"op": …, fields} without a ref (the caller adds one and runs it as a /ws frame
 * would run); SIO_SEED_ENOTSEED; or SIO_SEED_EINVALID with *code and *message static
 * (a payload that is not an object, no room joined yet, no roomCode). */
int sio_seed_request(const sio_seed_t *st, const char *name, const json_t *payload,
                     json_t **req, const char **code, const char **message);

/* At most this many events answer one request. */
#define SIO_SEED_MAX_ANSWER 2

/* After the Chorus reply ok with data (borrowed; the reply's "data") to the request req
 * (borrowed, from sio_seed_request; its "room" is read) of seed event name: updates st
 * (room:join sets its room, room:leave clears it) and fills out[] with the events to send
 * to this connection, in order, each a new reference to the Socket.IO event's array
 * ["room:…", payload(, offset)] (room:voice-started / -stopped: the caller's own, built
 * from rtc_join's / rtc_leave's answer). Returns how many (0 to SIO_SEED_MAX_ANSWER). */
size_t sio_seed_answer(sio_seed_t *st, const char *name, const json_t *req, const json_t *data,
                       json_t *out[SIO_SEED_MAX_ANSWER]);

/* Returns a new reference to the event array ["room:error", {"code", "message", "event",
 * "field"?}] for a failed seed event name (borrowed; NULL = none): code, message and field
 * (NULL = none) borrowed. */
json_t *sio_seed_error(const char *name, const char *code, const char *message,
                       const char *field);

/* Returns the seed 003 name of Chorus event ev (borrowed), or NULL when a seed client gets
 * it under its Chorus name (the generic mapping's framing). */
const char *sio_seed_event_name(const bus_event_t *ev);

/* Appends the Socket.IO event array of ev (borrowed) in seed 003's dialect to *bp (a
 * buffer not shared yet; may reallocate it): ["room:…",{"roomId":…,<ev's payload>}] and,
 * for a message, its offset as a third element. Encodes nothing twice: the payload parts
 * are copied as they are. Returns 0, or SIO_SEED_ENOTSEED (nothing appended) when
 * sio_seed_event_name gives NULL. */
int sio_seed_event_append(cbuf_t **bp, const bus_event_t *ev);

/* Returns a new WebSocket text frame (refcount 1) holding the Engine.IO message of ev
 * (borrowed) in seed 003's dialect, "42" + the array sio_seed_event_append writes, or NULL
 * when sio_seed_event_name gives NULL (the caller frames it as the generic mapping does).
 * The bus calls it once per event for all the seed 003 receivers of a process. */
cbuf_t *sio_seed_frame_event(const bus_event_t *ev);

/* Writes the offset of message seq of room (borrowed) into out: "<room id>:<seq>".
 * Returns 0, or -1 when room is not a plain id (letters, digits, -) of at most
 * STORE_ID_LEN - 1 bytes or seq is negative. */
int sio_seed_offset_format(char out[SIO_SEED_OFFSET_LEN], const char *room, int64_t seq);

/* Reads an offset (s, len bytes, borrowed; untrusted: the client sends it back) into room
 * and *seq. Returns 0, or -1 when it is not one sio_seed_offset_format writes (seq at most
 * 2^53 - 1). */
int sio_seed_offset_parse(const char *s, size_t len, char room[STORE_ID_LEN], int64_t *seq);

#endif
