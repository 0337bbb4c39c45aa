/* proto_sio.h: Socket.IO 5 for protocol clients: the "/" namespace's CONNECT with a Chorus
 * token, events that run Chorus ops, acks that carry their replies, and Chorus events as
 * Socket.IO events (docs/socketio.md). Knows no sockets and no Engine.IO session: what it
 * sends leaves through the client's transport as WebSocket text frames holding one
 * Engine.IO message packet ("4" + a Socket.IO packet). */
#ifndef CHORUS_PROTO_SIO_H
#define CHORUS_PROTO_SIO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "proto/proto.h"
#include "proto/sio_packet.h"

/* Hex digits of a socket id (10 random bytes). */
#define PROTO_SIO_SID_LEN 20

/* The Socket.IO state of one connection: a separate allocation its transport owns, so a
 * /ws connection carries none of it. */
typedef struct {
    unsigned connected : 1;          /* the "/" namespace is connected */
    uint32_t skip;                   /* binary attachments of a refused packet still to drop */
    char sid[PROTO_SIO_SID_LEN + 1]; /* the socket's id, sent in CONNECT's answer */
    /* Seed 003's session (sio_seed_conn.c): owned, NULL until the connection speaks its
     * dialect. */
    struct sio_seed_conn_s *seed;
    /* The connection's transport in seed 003's dialect, set by the I/O layer (NULL: none);
     * the connection switches to it at its first room:* event. */
    const proto_transport_t *seed_tr;
} proto_sio_conn_t;

/* A handler for an event name the generic mapping (name = a Chorus op) must not take:
 * seed 003's "room:*" events. args is the whole event array (the name first), borrowed for
 * the call; has_id/id the ack id. It answers through proto_sio_ack / proto_sio_emit. */
typedef void (*proto_sio_event_fn)(void *ud, proto_t *p, proto_client_t *c, proto_sio_conn_t *s,
                                   json_t *args, int has_id, int64_t id, uint64_t now_ms);

typedef struct {
    const char *name;
    proto_sio_event_fn fn;
    void *ud;
} proto_sio_handler_t;

#define PROTO_SIO_MAX_TABLES 4

/* The Socket.IO context, one per application (app.c): the extra event handlers. */
typedef struct {
    const proto_sio_handler_t *tables[PROTO_SIO_MAX_TABLES]; /* borrowed */
    size_t sizes[PROTO_SIO_MAX_TABLES];
    size_t ntables;
    struct sio_seed_ctx_s *seed; /* seed 003's context (sio_seed_conn.h); NULL: none */
} proto_sio_t;

void proto_sio_init(proto_sio_t *s);

/* Adds a table of n extra event handlers (borrowed: it must outlive s), looked up before
 * the generic mapping; at most PROTO_SIO_MAX_TABLES tables (more is a bug). */
void proto_sio_register(proto_sio_t *s, const proto_sio_handler_t *h, size_t n);

#define PROTO_SIO_EBAD (-1)

/* Handles one Engine.IO message's data buf[0..len) (borrowed) from client c with Socket.IO
 * state st at loop time now_ms. Returns 0, or PROTO_SIO_EBAD when it is not a Socket.IO 5
 * packet the server accepts from a client (the transport then closes the connection). */
int proto_sio_handle(proto_sio_t *s, proto_t *p, proto_client_t *c, proto_sio_conn_t *st,
                     const char *buf, size_t len, uint64_t now_ms);

/* A binary Engine.IO message arrived: returns 0 when it is an attachment of a refused
 * packet (dropped), PROTO_SIO_EBAD when none was announced. */
int proto_sio_binary(proto_sio_conn_t *st);

/* Returns a new WebSocket text frame (refcount 1) holding the Engine.IO message for the
 * Chorus envelope frame f (borrowed, made by proto.c): a reply {"op":"reply","ref":N,...}
 * becomes ACK N with that object as its one argument, anything else {"op":"name",...} the
 * event name with that object. A copy, no JSON encoding. */
cbuf_t *proto_sio_wrap(const cbuf_t *f);

/* 1 when the WebSocket text frame f (borrowed) holds a Chorus envelope object (which the
 * transport wraps with proto_sio_wrap), 0 when it already holds an Engine.IO packet. */
int proto_sio_is_envelope(const cbuf_t *f);

/* Sends c the Socket.IO packet text[0..len) (borrowed) as an Engine.IO message. */
void proto_sio_send(proto_client_t *c, const char *text, size_t len);

/* Emits event name (borrowed, plain: letters, digits, '_', '-', ':') with the JSON text
 * arg (borrowed; NULL = no argument) to c. */
void proto_sio_emit(proto_client_t *c, const char *name, const char *arg);

/* Answers ack id of c with the JSON text arg (borrowed; NULL = no argument). */
void proto_sio_ack(proto_client_t *c, int64_t id, const char *arg);

/* Returns a new WebSocket text frame (refcount 1) of bus event ev (borrowed) for Socket.IO
 * clients: 42["<name>",<the Chorus event object>]. */
cbuf_t *proto_sio_frame_event(const bus_event_t *ev);

/* The dialect of Socket.IO transports (framing kind 1). */
extern const proto_dialect_t proto_sio_dialect;

#endif
