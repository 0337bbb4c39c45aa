/* eio_packet.h: Engine.IO 4 packets and the long-polling payload (pure, over (buf, len)). */
#ifndef CHORUS_EIO_PACKET_H
#define CHORUS_EIO_PACKET_H

#include <stddef.h>

#include "util/buf.h"

/* Packet types: the first character of a text packet. */
typedef enum {
    EIO_OPEN = 0,
    EIO_CLOSE = 1,
    EIO_PING = 2,
    EIO_PONG = 3,
    EIO_MESSAGE = 4,
    EIO_UPGRADE = 5,
    EIO_NOOP = 6,
} eio_type_t;

/* The protocol version this server speaks (the EIO query parameter). */
#define EIO_PROTOCOL 4

/* The polling payload's record separator (0x1e, ASCII "record separator"). */
#define EIO_SEPARATOR '\x1e'

/* A peer's packet that is not Engine.IO 4. */
#define EIO_EBAD (-1)

typedef struct {
    eio_type_t type;
    int binary;       /* 1: a binary message ("b" + base64 in a polling payload); data is
                         its base64 text, not decoded */
    const char *data; /* what follows the type (borrowed from the input); may be empty */
    size_t len;
} eio_packet_t;

/* Decodes one text packet buf[0..len) (a WebSocket text message, or one record of a
 * polling payload). Returns 0 with *out filled (out->data points into buf), or EIO_EBAD
 * (empty, an unknown type, or a "b" record whose base64 is malformed). Borrows buf. */
int eio_decode(const char *buf, size_t len, eio_packet_t *out);

/* Reads the next packet of a polling payload buf[0..len) at *off (start at 0). Returns 1
 * with *out filled and *off moved past it, 0 at the end of the payload, or EIO_EBAD (an
 * empty record or a bad packet). Borrows buf. */
int eio_payload_next(const char *buf, size_t len, size_t *off, eio_packet_t *out);

/* Returns the length of the text packet in WebSocket text frame f (the bytes after its
 * header) and sets *start to its offset in f->data. Frames made by this server only. */
size_t eio_frame_payload(const cbuf_t *f, size_t *start);

#endif
