/* bus_wire.h: what crosses nodes on the cluster bus (bus_redis.c), as bytes: an event a
 * room's home publishes, an operation a member's node sends to the home, and the reply the
 * home sends back. Pure: no I/O, no allocation when reading.
 *
 * The format is binary and length-prefixed, so a node reads a message without parsing
 * JSON: byte 0 is the kind ('E' event, 'O' op, 'R' reply), byte 1 the format version
 * (BUS_WIRE_VERSION); then the fields in a fixed order, integers as 8 bytes little-endian
 * (u8 flags as one byte), each string as a u32 length (BUS_WIRE_NULL: absent) followed by
 * its bytes and a NUL, so a reader hands out C strings that point into the message.
 * Payload parts (jpart_t, bus.h) travel as (key, JSON text) pairs: an object part is sent
 * as one pair per member, its value encoded once (compact, as proto frames it); a list of
 * texts as the JSON array of them. What a reader accepts: every length within the message,
 * each string's NUL where it belongs and none inside it, part keys that are plain names
 * (letters, digits and _, not starting with a digit, at most BUS_WIRE_KEY_MAX bytes), at
 * most BUS_WIRE_MAX_PARTS parts, nothing left over. The JSON texts are not parsed: they
 * were written by a node, which encodes only values it holds as valid JSON. */
#ifndef CHORUS_BUS_WIRE_H
#define CHORUS_BUS_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "util/buf.h"

#define BUS_WIRE_VERSION 1
#define BUS_WIRE_NULL 0xffffffffu
#define BUS_WIRE_MAX_PARTS 32
#define BUS_WIRE_KEY_MAX 64

/* A reader's error: the message is not one this version reads. */
#define BUS_WIRE_EBAD (-1)
/* A writer's error: the message would have more than BUS_WIRE_MAX_PARTS parts, or a part
 * key that is not a plain name. */
#define BUS_WIRE_ETOOMANY (-2)

/* An event as read (bus_event_t's fields that cross nodes). Strings point into the
 * message (borrowed from it); parts[i] are text parts (key, text, len). */
typedef struct {
    const char *room, *doc, *name, *except_user, *to_user;
    int64_t seq, version;
    bus_member_t except, to;
    int unsubscribe, watchers;
    jpart_t parts[BUS_WIRE_MAX_PARTS];
    size_t nparts;
} bus_wire_event_t;

/* How an op's arguments travel (bus_op_t: args or scan). */
typedef enum {
    BUS_WIRE_ARGS_NONE = 0, /* no arguments */
    BUS_WIRE_ARGS_TREE = 1, /* args was a tree: the home decodes the text into one */
    BUS_WIRE_ARGS_SCAN = 2, /* the member's side scanned the frame: the home scans the text */
} bus_wire_args_t;

/* An op as read: the room, name and user, the arguments' text, the route's member and
 * ref, the node that waits for the answer and its request id. Borrowed from the message. */
typedef struct {
    const char *room, *name, *user;
    const char *args; /* NUL-terminated JSON text of args_len bytes; NULL with ARGS_NONE */
    size_t args_len;
    bus_wire_args_t args_kind;
    bus_member_t member;
    int64_t ref;
    uint32_t node;    /* the route's node: where the reply goes */
    uint64_t request; /* that node's id of the request */
} bus_wire_op_t;

/* A reply as read: with parts (nparts > 0 or is_parts), a success made of payload parts;
 * else code NULL and data (JSON text or NULL) for success, or an error code, message and
 * data (NULL or an object's text). Borrowed from the message. */
typedef struct {
    uint64_t request;
    int is_parts;
    const char *code, *message;
    const char *data;
    size_t data_len;
    jpart_t parts[BUS_WIRE_MAX_PARTS];
    size_t nparts;
} bus_wire_reply_t;

/* Writes ev (borrowed) as an event message into a new buffer (*out, owned by the caller:
 * cbuf_unref). Returns 0 or BUS_WIRE_ETOOMANY (*out NULL). */
int bus_wire_event_write(const bus_event_t *ev, cbuf_t **out);

/* Writes op (borrowed) as an op message for request id request of node node. Its args
 * tree is encoded once (compact); its scan's text is copied. Returns 0 (*out owned). */
int bus_wire_op_write(const bus_op_t *op, uint32_t node, uint64_t request, cbuf_t **out);

/* Writes a reply message for request: code NULL and data (borrowed; NULL = null) for
 * success, else code, message and data NULL or an object. Returns 0 (*out owned). */
int bus_wire_reply_write(uint64_t request, const char *code, const char *message,
                         const json_t *data, cbuf_t **out);

/* Writes a success reply made of parts[0..nparts) (borrowed). Returns 0 or
 * BUS_WIRE_ETOOMANY (*out owned when 0). */
int bus_wire_reply_parts_write(uint64_t request, const jpart_t *parts, size_t nparts,
                               cbuf_t **out);

/* Returns the kind of the message p[0..len) ('E', 'O', 'R'), or 0 when it has none this
 * version reads. Borrows p. */
int bus_wire_kind(const void *p, size_t len);

/* Read the message p[0..len) (borrowed: *out points into it) of their kind. Return 0, or
 * BUS_WIRE_EBAD when it is not a well-formed message of that kind (*out is then
 * unspecified). */
int bus_wire_event_read(const void *p, size_t len, bus_wire_event_t *out);
int bus_wire_op_read(const void *p, size_t len, bus_wire_op_t *out);
int bus_wire_reply_read(const void *p, size_t len, bus_wire_reply_t *out);

#endif
