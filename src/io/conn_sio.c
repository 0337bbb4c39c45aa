/* conn_sio.c: Engine.IO 4 sessions on a connection (the WebSocket transport): the open
 * packet, pings on pingInterval, pongs, and Socket.IO packets handed to proto_sio.c. */
#include "io/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_random.h"
#include "util/mem.h"
#include "proto/eio_packet.h"
#include "proto/proto_sio.h"
#include "proto/sio_seed_conn.h"

/* Hex digits of an Engine.IO session id (10 random bytes). */
#define EIO_SID_LEN 20

/* One connection's Engine.IO and Socket.IO state: its own allocation, reached from
 * conn_t.sio, so a /ws connection carries none of it. */
struct conn_sio_s {
    conn_sio_sess_t *sess; /* borrowed: the polling session this WebSocket upgrades, or
                              NULL (a WebSocket-only session: the fields below) */
    proto_sio_conn_t s;
    char sid[EIO_SID_LEN + 1];
    uint64_t next_ping; /* loop time of the next ping */
};

static conn_t *conn_of(proto_client_t *pc)
{
    return (conn_t *)((char *)pc - offsetof(conn_t, pc));
}

/* Frames from proto.c are Chorus envelopes (replies, errors, token_expired): wrapped into
 * Engine.IO messages here, one copy for one client. Events from the bus come framed for
 * Socket.IO already (proto_sio_dialect), once for all receivers. */
static void tr_send(proto_client_t *pc, cbuf_t *frame)
{
    conn_t *c = conn_of(pc);
    if (!c->sio) return;
    if (!proto_sio_is_envelope(frame)) {
        sio_seed_conn_event(pc, &c->sio->s, frame); /* a room_reset: joined again soon */
        conn_ws_transport.send(pc, frame);
        return;
    }
    if (sio_seed_conn_reply(pc, &c->sio->s, frame)) return; /* a room:* event's reply */
    cbuf_t *b = proto_sio_wrap(frame);
    conn_ws_transport.send(pc, b);
    cbuf_unref(b);
}

/* The client is told first (DISCONNECT: "io server disconnect", so socket.io-client does
 * not reconnect by itself after a policy close), then the WebSocket closes. */
static void tr_close(proto_client_t *pc, int code, const char *reason)
{
    conn_t *c = conn_of(pc);
    if (c->sio && c->sio->s.connected && !c->close_sent) proto_sio_send(pc, "1", 1);
    conn_ws_transport.close(pc, code, reason);
}

static const char *tr_peer(proto_client_t *pc)
{
    return conn_ws_transport.peer(pc);
}

static void tr_release(proto_client_t *pc)
{
    conn_ws_transport.release(pc);
}

static void tr_settled(proto_client_t *pc)
{
    conn_ws_transport.settled(pc);
}

static const char *tr_log_id(proto_client_t *pc, char *buf, size_t cap)
{
    return conn_ws_transport.log_id(pc, buf, cap);
}

static const proto_transport_t sio_ws_transport = {
    tr_send, tr_close, tr_peer, tr_release, tr_settled, &proto_sio_dialect, tr_log_id};

/* The same in seed 003's dialect (sio_seed_conn.h), for a connection that sent room:*. */
static const proto_transport_t sio_ws_seed_transport = {
    tr_send, tr_close, tr_peer, tr_release, tr_settled, &sio_seed_dialect, tr_log_id};

/* Queues the Engine.IO packet text[0..len) (borrowed) as a WebSocket text frame. */
static void send_packet(conn_t *c, const char *text, size_t len)
{
    cbuf_t *b = cbuf_new(WS_MAX_HEADER + len);
    size_t h = ws_frame_header(b->data, WS_OP_TEXT, len);
    memcpy(b->data + h, text, len);
    b->len = h + len;
    conn_send(c, b);
    cbuf_unref(b);
}

void conn_sio_start_ws(conn_t *c)
{
    const chorus_config_t *cfg = c->srv->cfg;
    c->sio = ch_calloc(1, sizeof(*c->sio));
    auth_random_hex(c->sio->sid, EIO_SID_LEN / 2);
    conn_ws_start(c, NULL);
    c->pc.tr = &sio_ws_transport;
    c->sio->s.seed_tr = &sio_ws_seed_transport;
    uint64_t now = uv_now(c->srv->loop);
    c->sio->next_ping = now + cfg->ws_ping_interval;
    char open[256];
    int n = snprintf(open, sizeof(open),
                     "0{\"sid\":\"%s\",\"upgrades\":[],\"pingInterval\":%llu,"
                     "\"pingTimeout\":%llu,\"maxPayload\":%llu}",
                     c->sio->sid, (unsigned long long)cfg->ws_ping_interval,
                     (unsigned long long)cfg->ws_pong_timeout,
                     (unsigned long long)cfg->ws_max_message);
    CH_ASSERT(n > 0 && (size_t)n < sizeof(open));
    send_packet(c, open, (size_t)n);
    conn_ws_rearm(c);
}

void conn_sio_start_carrier(conn_t *c, conn_sio_sess_t *sess)
{
    const chorus_config_t *cfg = c->srv->cfg;
    c->sio = ch_calloc(1, sizeof(*c->sio));
    c->sio->sess = sess;
    conn_ws_start(c, NULL);
    /* The session's own protocol client authenticates and runs the ops; this one only
     * carries bytes, so it has no auth deadline. */
    c->pc.deadline_ms = 0;
    c->sio->next_ping = uv_now(c->srv->loop) + cfg->ws_ping_interval;
    conn_ws_rearm(c);
}

void conn_sio_free_carrier(conn_t *c)
{
    if (c->sio) c->sio->sess = NULL;
}

void conn_sio_free(conn_t *c)
{
    if (!c->sio) return;
    conn_sio_sess_t *sess = c->sio->sess;
    sio_seed_conn_free(&c->sio->s);
    free(c->sio);
    c->sio = NULL;
    if (sess) conn_sio_poll_carrier_gone(sess);
}

void conn_sio_on_text(conn_t *c, const uint8_t *data, size_t len)
{
    server_t *s = c->srv;
    eio_packet_t p;
    if (eio_decode((const char *)data, len, &p) != 0) {
        conn_ws_close(c, WS_CLOSE_PROTOCOL, "not an Engine.IO 4 packet");
        return;
    }
    if (c->sio->sess) {
        conn_sio_poll_on_text(c->sio->sess, c, &p);
        return;
    }
    switch (p.type) {
    case EIO_MESSAGE:
        if (proto_sio_handle(&s->app->sio, &s->app->proto, &c->pc, &c->sio->s, p.data, p.len,
                             uv_now(s->loop)) != 0)
            conn_ws_close(c, WS_CLOSE_PROTOCOL, "not a Socket.IO 5 packet");
        return;
    case EIO_PING: /* a probe ("2probe"): answered with the same data */
        if (p.len == 5 && memcmp(p.data, "probe", 5) == 0) send_packet(c, "3probe", 6);
        return;
    case EIO_PONG:
        return; /* any input cleared awaiting_pong (conn_ws_on_data) */
    case EIO_CLOSE:
        conn_ws_close(c, WS_CLOSE_NORMAL, NULL);
        return;
    case EIO_NOOP:
    case EIO_UPGRADE:
        return;
    case EIO_OPEN:
        break;
    }
    conn_ws_close(c, WS_CLOSE_PROTOCOL, "unexpected Engine.IO packet");
}

void conn_sio_on_binary(conn_t *c)
{
    if (c->sio->sess) {
        eio_packet_t p = {.type = EIO_MESSAGE, .binary = 1};
        conn_sio_poll_on_text(c->sio->sess, c, &p);
        return;
    }
    if (proto_sio_binary(&c->sio->s) != 0)
        conn_ws_close(c, WS_CLOSE_PROTOCOL, "binary message without a packet announcing it");
}

uint64_t conn_sio_next(const conn_t *c)
{
    const chorus_config_t *cfg = c->srv->cfg;
    uint64_t now = uv_now(c->srv->loop);
    return c->awaiting_pong ? now - conn_since(c->ping_at, now) + cfg->ws_pong_timeout
                            : c->sio->next_ping;
}

void conn_sio_keepalive(conn_t *c, uint64_t now)
{
    const chorus_config_t *cfg = c->srv->cfg;
    if (c->awaiting_pong) {
        if (conn_since(c->ping_at, now) >= cfg->ws_pong_timeout) {
            char r[CONN_REMOTE_MAX], id[CONN_REQ_ID_MAX];
            log_req(c->srv->log, LOG_INFO, conn_req_id(c, id),
                    "%s: no Engine.IO pong within %llu ms, dropping", conn_remote(c, r),
                    (unsigned long long)cfg->ws_pong_timeout);
            conn_close(c);
        }
        return;
    }
    /* Engine.IO 4: the server pings every pingInterval whatever the traffic (the client
     * closes when a ping is late), and the client answers with a pong. */
    if (now < c->sio->next_ping) return;
    send_packet(c, "2", 1);
    c->awaiting_pong = 1;
    c->ping_at = (uint32_t)now;
    c->sio->next_ping = now + cfg->ws_ping_interval;
}
