/* fake_client.h: a connection as the protocol, the bus and the rooms see it, with no
 * socket: its transport records what it is sent (the frame count, the last frame, its
 * payload as text, the first frames decoded), the close code, releases and settlements.
 * A test that needs a field of its own defines FAKE_CLIENT_EXTRA (member declarations)
 * before including this header. Static functions only: each test file is its own
 * program (inline: a file uses what it needs). */
#ifndef CHORUS_TEST_FAKE_CLIENT_H
#define CHORUS_TEST_FAKE_CLIENT_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "bus/bus.h"
#include "proto/proto.h"
#include "util/buf.h"
#include "util/mem.h"

#ifndef FAKE_CLIENT_EXTRA
#define FAKE_CLIENT_EXTRA
#endif

/* 64: more frames than any test sends one connection; the count goes on past it. */
#define FAKE_CLIENT_FRAMES 64

typedef struct {
    proto_client_t pc;                /* first: the transport casts back */
    int frames;                       /* frames sent to it */
    cbuf_t *last;                     /* a reference to the last one */
    char text[1024];                  /* the last one's payload, cut to fit */
    json_t *sent[FAKE_CLIENT_FRAMES]; /* the first frames' payloads, decoded (owned) */
    int nsent;
    int closed_code;       /* the last close code asked for, 0: none */
    int released;          /* tr->release calls */
    int settled;           /* tr->settled calls */
    uint32_t pending_seen; /* pc.pending at the last settlement */
    FAKE_CLIENT_EXTRA
} fake_client_t;

/* A frame the server sends is one unmasked text frame with FIN (ws_frame.c): anything
 * else is a bug, and stops the test. */
static inline void fake_client_send(proto_client_t *pc, cbuf_t *frame)
{
    fake_client_t *c = (fake_client_t *)pc;
    const uint8_t *p = frame->data + frame->off;
    size_t head = 2, len = p[1] & 0x7f;
    if (len == 126) {
        len = (size_t)p[2] << 8 | p[3];
        head = 4;
    } else if (len == 127) {
        len = 0;
        for (int i = 2; i < 10; i++)
            len = len << 8 | p[i];
        head = 10;
    }
    CH_ASSERT(p[0] == 0x81 && head + len == frame->len);
    c->frames++;
    cbuf_unref(c->last);
    c->last = cbuf_ref(frame);
    size_t n = len < sizeof(c->text) ? len : sizeof(c->text) - 1;
    memcpy(c->text, p + head, n);
    c->text[n] = 0;
    if (c->nsent < FAKE_CLIENT_FRAMES)
        c->sent[c->nsent++] = json_loadb((const char *)p + head, len, 0, NULL);
}

static inline void fake_client_close(proto_client_t *pc, int code, const char *reason)
{
    (void)reason;
    ((fake_client_t *)pc)->closed_code = code;
}

static inline const char *fake_client_peer(proto_client_t *pc)
{
    (void)pc;
    return "127.0.0.1";
}

static inline void fake_client_release(proto_client_t *pc)
{
    ((fake_client_t *)pc)->released++;
}

static inline void fake_client_settled(proto_client_t *pc)
{
    fake_client_t *c = (fake_client_t *)pc;
    c->settled++;
    c->pending_seen = pc->pending;
}

__attribute__((unused)) static const proto_transport_t fake_client_tr = {fake_client_send,
                                                                         fake_client_close,
                                                                         fake_client_peer,
                                                                         fake_client_release,
                                                                         fake_client_settled,
                                                                         NULL,
                                                                         NULL};

/* Clears c and makes it an authenticated connection of user sub with the recording
 * transport and a new identity on bus (none when bus is NULL). Borrows bus and sub (which
 * must outlive c). */
static inline void fake_client_init(fake_client_t *c, bus_t *bus, const char *sub)
{
    memset(c, 0, sizeof(*c));
    c->pc.tr = &fake_client_tr;
    if (bus) c->pc.rcv.id = bus_member_next(bus);
    c->pc.authed = 1;
    c->pc.user = (proto_user_t){.sub = sub};
}

/* Decoded frame i of c (borrowed), or NULL: not sent, past the first ones, or not JSON. */
static inline json_t *fake_client_frame(const fake_client_t *c, int i)
{
    return i >= 0 && i < c->nsent ? c->sent[i] : NULL;
}

/* Forgets what c was sent: drops the last frame and the decoded ones. */
static inline void fake_client_clear(fake_client_t *c)
{
    for (int i = 0; i < c->nsent; i++)
        json_decref(c->sent[i]);
    c->nsent = 0;
    c->frames = 0;
    cbuf_unref(c->last);
    c->last = NULL;
    c->text[0] = 0;
}

/* Drops what the recording holds (the connection's subscriptions are the caller's). */
static inline void fake_client_free(fake_client_t *c)
{
    fake_client_clear(c);
    proto_client_free(&c->pc);
}

/* A bare connection (a proto_client_t that records nothing): its frames are dropped. */
static inline void fake_conn_drop(proto_client_t *pc, cbuf_t *frame)
{
    (void)pc, (void)frame;
}

/* One that must never be written to (a test whose bus delivers nothing): a frame is a
 * bug, and stops the test. */
static inline void fake_conn_deaf(proto_client_t *pc, cbuf_t *frame)
{
    (void)pc, (void)frame;
    CH_ASSERT(!"this connection is never written to");
}

static inline void fake_conn_close(proto_client_t *pc, int code, const char *reason)
{
    (void)pc, (void)code, (void)reason;
}

static inline void fake_conn_release(proto_client_t *pc)
{
    (void)pc;
}

__attribute__((unused)) static const proto_transport_t fake_conn_quiet_tr = {
    fake_conn_drop, fake_conn_close, fake_client_peer, fake_conn_release, NULL, NULL, NULL};
__attribute__((unused)) static const proto_transport_t fake_conn_deaf_tr = {
    fake_conn_deaf, fake_conn_close, fake_client_peer, fake_conn_release, NULL, NULL, NULL};

/* Clears c and makes it an authenticated connection of user sub with transport tr
 * (fake_conn_quiet_tr or fake_conn_deaf_tr) and a new identity on bus (none when bus is
 * NULL). Borrows all (sub must outlive c). */
static inline void fake_conn_init(proto_client_t *c, const proto_transport_t *tr, bus_t *bus,
                                  const char *sub)
{
    memset(c, 0, sizeof(*c));
    c->tr = tr;
    if (bus) c->rcv.id = bus_member_next(bus);
    c->authed = 1;
    c->user = (proto_user_t){.sub = sub};
}

#endif
