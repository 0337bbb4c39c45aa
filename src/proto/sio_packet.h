/* sio_packet.h: Socket.IO 5 packets, as carried in an Engine.IO message (pure). */
#ifndef CHORUS_SIO_PACKET_H
#define CHORUS_SIO_PACKET_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

typedef enum {
    SIO_CONNECT = 0,
    SIO_DISCONNECT = 1,
    SIO_EVENT = 2,
    SIO_ACK = 3,
    SIO_CONNECT_ERROR = 4,
    SIO_BINARY_EVENT = 5,
    SIO_BINARY_ACK = 6,
} sio_type_t;

#define SIO_EBAD (-1)

/* Ack ids are JavaScript numbers on the client: at most 15 digits keeps them exact. */
#define SIO_ID_MAX_DIGITS 15
/* A packet announcing more binary attachments than this is refused outright. */
#define SIO_MAX_ATTACHMENTS 1000

typedef struct {
    sio_type_t type;
    uint32_t attachments; /* BINARY_EVENT / BINARY_ACK: binary packets that follow */
    const char *nsp;      /* the namespace, "/" when absent (borrowed from the input) */
    size_t nsp_len;
    int has_id; /* an ack id was given */
    int64_t id;
    const char *data; /* the JSON payload's text, not parsed; len 0 = none */
    size_t len;
} sio_packet_t;

/* Decodes the Socket.IO packet buf[0..len) (an Engine.IO message's data):
 * <type>[<attachments>-][<namespace>,][<ack id>][<JSON>]. Returns 0 with *out filled
 * (pointing into buf), or SIO_EBAD: an unknown type, attachments on a packet type that
 * has none or missing on one that needs them, an id too long, a namespace not starting
 * with '/', or a payload that does not fit the type (CONNECT: none or an object;
 * DISCONNECT: none; EVENT, BINARY_EVENT: a non-empty array starting with a string;
 * ACK, BINARY_ACK: an array and an id; CONNECT_ERROR: an object). The payload's JSON is
 * checked only by its first character here; sio_event_args parses it. Borrows buf. */
int sio_decode(const char *buf, size_t len, sio_packet_t *out);

/* Parses an EVENT's payload (p->data): returns 0 with *name (borrowed from *args) and
 * *args (a new reference to the whole array: the name, then the arguments), or SIO_EBAD
 * when it is not a JSON array starting with a string free of NUL bytes. */
int sio_event_args(const sio_packet_t *p, json_t **args, const char **name);

/* 1 when the namespace of p is nsp (a NUL-terminated name such as "/"). */
int sio_nsp_is(const sio_packet_t *p, const char *nsp);

#endif
