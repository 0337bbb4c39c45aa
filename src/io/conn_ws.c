/* conn_ws.c: WebSocket on a connection: frames in, protocol dispatch, control frames,
 * keepalive pings and the closing handshake. */
#include "io/conn.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

/* Reading pauses while this many of a connection's requests wait for their replies (store
 * commits); it resumes as soon as one of them completes (tr_settled). */
#define WS_PAUSE_PENDING 64

/* Reading also pauses while a connection's queued output is over this part of
 * ws_max_queue (1/2), and resumes once the client has taken it below (conn_ws_on_drain). */
#define WS_PAUSE_QUEUE_SHIFT 1

static conn_t *conn_of(proto_client_t *pc)
{
    return (conn_t *)((char *)pc - offsetof(conn_t, pc));
}

static void tr_send(proto_client_t *pc, cbuf_t *frame)
{
    conn_t *c = conn_of(pc);
    if (!c->close_sent) conn_send(c, frame);
}

static void tr_close(proto_client_t *pc, int code, const char *reason)
{
    conn_ws_close(conn_of(pc), code, reason);
}

/* The address as text in the server's scratch buffer (proto.h: valid until the next
 * peer call): the connection keeps it in binary. */
static const char *tr_peer(proto_client_t *pc)
{
    conn_t *c = conn_of(pc);
    return conn_ip(c, c->srv->peer_text);
}

static void tr_release(proto_client_t *pc)
{
    proto_client_free(pc);
    slab_free(conn_of(pc)); /* from the server's conn_slab */
}

/* A deferred request completed. Runs inside its store callback, so it only fires the
 * timer now: conn_ws_on_timer ends the pause (handling the held input from the loop), or
 * arms the stall deadline if the reply took the output over the mark. */
static void tr_settled(proto_client_t *pc)
{
    conn_t *c = conn_of(pc);
    if (c->ws_paused && !c->closing && !c->finishing) conn_timer(c, 0);
}

static const char *tr_log_id(proto_client_t *pc, char *buf, size_t cap)
{
    CH_ASSERT(cap >= CONN_REQ_ID_MAX);
    return conn_req_id(conn_of(pc), buf);
}

const proto_transport_t conn_ws_transport = {tr_send,    tr_close, tr_peer,  tr_release,
                                             tr_settled, NULL,     tr_log_id};

/* Arms the one timer for whichever comes first: the keepalive ping (or the pong
 * deadline) and the protocol's auth deadline. Firing early is harmless: the timer
 * handler checks what is really due. */
static void arm_timer(conn_t *c, uint64_t now)
{
    const chorus_config_t *cfg = c->srv->cfg;
    uint64_t next = c->sio ? conn_sio_next(c)
                    : c->awaiting_pong
                        ? now - conn_since(c->ping_at, now) + cfg->ws_pong_timeout
                        : now - conn_since(c->last_rx, now) + cfg->ws_ping_interval;
    if (c->pc.deadline_ms && c->pc.deadline_ms < next) next = c->pc.deadline_ms;
    c->pc.deadline_moved = 0;
    conn_timer(c, next > now ? next - now : 0);
}

/* Queues a control frame (payload at most 125 bytes, borrowed). */
static void send_control(conn_t *c, int opcode, const uint8_t *payload, size_t len)
{
    uint8_t frame[WS_MAX_HEADER + WS_MAX_CONTROL];
    size_t h = ws_frame_header(frame, opcode, len);
    if (len) memcpy(frame + h, payload, len);
    cbuf_t *b = cbuf_from(frame, h + len);
    conn_send(c, b);
    cbuf_unref(b);
}

void conn_ws_rearm(conn_t *c)
{
    arm_timer(c, uv_now(c->srv->loop));
}

void conn_ws_start(conn_t *c, const auth_claims_t *claims)
{
    server_t *s = c->srv;
    s->stat.conns[conn_state(c)]--;
    c->kind = CONN_WS;
    s->stat.conns[conn_state(c)]++; /* c->sio is set first for Socket.IO */
    /* c->ws stays NULL (the server's resting parser until a frame is partial, parser_of):
     * it shares its place with the HTTP state, which conn_http_free zeroes after this. */
    proto_client_init(&c->pc, &s->app->proto.limits, &conn_ws_transport, uv_now(s->loop));
    c->awaiting_pong = 0;
    c->close_sent = 0;
    uint64_t now = uv_now(s->loop);
    proto_auth_start(&s->app->proto, &c->pc, claims, now);
    arm_timer(c, now);
}

void conn_ws_free(conn_t *c)
{
    conn_sio_free(c);
    if (c->http_on) return; /* the union holds the HTTP state, not ws and ws_held */
    cbuf_unref(c->ws_held);
    c->ws_held = NULL;
    if (!c->ws) return;
    ws_parser_free(c->ws);
    free(c->ws);
    c->ws = NULL;
}

static void close_frame(conn_t *c, int code, const char *reason);

void conn_ws_close(conn_t *c, int code, const char *reason)
{
    if (c->closing || c->close_sent) return;
    char r[CONN_REMOTE_MAX], id[CONN_REQ_ID_MAX];
    /* 1001 (the server stopping) would be a line per connection at once: debug. */
    if (c->kind == CONN_WS)
        log_req(c->srv->log, code == WS_CLOSE_GOING_AWAY ? LOG_DEBUG : LOG_INFO,
                conn_req_id(c, id), "%s: websocket close %d %s", conn_remote(c, r), code,
                reason ? reason : "");
    close_frame(c, code, reason);
}

/* Sends the close frame (code, reason) and finishes c. */
static void close_frame(conn_t *c, int code, const char *reason)
{
    if (c->closing || c->close_sent) return;
    if (c->kind != CONN_WS) {
        conn_finish(c, CONN_LINGER_MS);
        return;
    }
    uint8_t payload[WS_MAX_CONTROL] = {0};
    size_t len = code == WS_CLOSE_NO_STATUS ? 0
                                            : ws_close_payload(payload, (uint16_t)code, reason);
    /* Mark first: nothing may be queued after the close frame, and the queue cap must
     * not recurse into another close. */
    c->close_sent = 1;
    send_control(c, WS_OP_CLOSE, payload, len);
    /* The peer answers with its own close frame; we send FIN after ours and drop the
     * connection on its EOF (the server closes TCP first, RFC 6455 section 7.1.1). */
    conn_finish(c, CONN_LINGER_MS);
}

static const char *close_reason(int code)
{
    switch (code) {
    case WS_CLOSE_PROTOCOL: return "protocol error";
    case WS_CLOSE_BAD_DATA: return "invalid UTF-8";
    case WS_CLOSE_TOO_BIG: return "message too big";
    default: return "";
    }
}

/* 1 when c's queued output is over the mark (half of ws_max_queue): the client is not
 * taking what it has. */
static int output_waits(const conn_t *c)
{
    return c->out.bytes > (c->srv->cfg->ws_max_queue >> WS_PAUSE_QUEUE_SHIFT);
}

/* 1 when reading c's requests must wait: many of its replies wait for the store, or its
 * output waits for it. Reading more of its requests would only add to them, and a
 * pipelined burst could queue more replies at once than ws_max_queue and close a client
 * that reads them fine, only slower than the store commits; so reading waits, and TCP
 * flow control slows the client down instead. This holds back requests only: output
 * that is not the answer to them (broadcasts) is queued as always, and closes a client
 * that does not read at ws_max_queue. A client whose output stays over the mark for
 * ws_stall_timeout is closed too (conn_ws_on_timer): it must not hold its slot by
 * sending requests and never reading. */
static int must_wait(const conn_t *c)
{
    return c->pc.pending >= WS_PAUSE_PENDING || output_waits(c);
}

/* Notes on paused c whether its output is over the mark now: ws_stalled, since last_rx. */
static void note_stall(conn_t *c, uint64_t now)
{
    if (!output_waits(c)) {
        c->ws_stalled = 0;
        return;
    }
    if (c->ws_stalled) return;
    c->ws_stalled = 1;
    c->last_rx = (uint32_t)now;
    c->srv->stat.ws_output_paused++;
}

/* While paused the timer waits for the auth deadline and, while stalled, for the stall
 * deadline (ws_stall_timeout after last_rx) only: the silence is ours, so no keepalive
 * ping (its pong could not be read), and the end of the pause comes from tr_settled or
 * conn_ws_on_drain. */
static void arm_paused(conn_t *c, uint64_t now)
{
    uint64_t next = UINT64_MAX;
    c->pc.deadline_moved = 0;
    if (c->pc.deadline_ms) next = c->pc.deadline_ms;
    if (c->ws_stalled) {
        uint64_t stall = now - conn_since(c->last_rx, now) + c->srv->cfg->ws_stall_timeout;
        if (stall < next) next = stall;
    }
    if (next == UINT64_MAX) {
        conn_timer_stop(c);
        return;
    }
    conn_timer(c, next > now ? next - now : 0);
}

/* Keeps data[0..len) (the input not handled yet) and stops reading until must_wait()
 * clears (tr_settled, conn_ws_on_drain). */
static void pause_reading(conn_t *c, const uint8_t *data, size_t len)
{
    uint64_t now = uv_now(c->srv->loop);
    if (!c->ws_held) c->ws_held = cbuf_new(len);
    cbuf_append(&c->ws_held, data, len);
    if (!c->ws_paused) {
        c->ws_paused = 1;
        c->ws_stalled = 0;
        conn_read_stop(c);
    }
    note_stall(c, now);
    arm_paused(c, now);
}

/* Keeps data[0..len) and lets the next loop iteration handle it: this one's input budget
 * is spent (server_input_spent). A pause like pause_reading's that only the server's
 * deferred queue ends (conn_ws_resume_input), so the frames stay in order. */
static void defer_reading(conn_t *c, const uint8_t *data, size_t len)
{
    pause_reading(c, data, len);
    server_defer_input(c->srv, c);
}

void conn_ws_on_drain(conn_t *c)
{
    if (c->ws_paused && !must_wait(c) && !c->closing && !c->finishing && !c->close_sent)
        conn_timer(c, 0);
}

/* The parser c's input goes through: its own while it holds a partial frame or message,
 * else the server's resting one (s->ws_rest), which holds nothing between reads. Most
 * reads carry whole frames, so an idle connection has no parser at all. */
static ws_parser_t *parser_of(conn_t *c)
{
    return c->ws ? c->ws : &c->srv->ws_rest;
}

/* Called once c's input so far was handled with p (parser_of(c)), the events' data no
 * longer in use: a parser at rest lets go of its message buffer, and c of its own parser;
 * the server's parser left partway through a frame or message becomes c's own (the
 * struct moves, its buffer with it) and the server's starts afresh. */
static void parser_settle(conn_t *c, ws_parser_t *p)
{
    server_t *s = c->srv;
    if (ws_parser_at_rest(p)) {
        ws_parser_free(p);
        if (p != &s->ws_rest) {
            free(c->ws);
            c->ws = NULL;
        }
        return;
    }
    if (p != &s->ws_rest) return;
    c->ws = ch_malloc(sizeof(*c->ws));
    *c->ws = *p;
    ws_parser_init(&s->ws_rest, s->cfg->ws_max_message, 1);
}

static void ws_on_data(conn_t *c, ws_parser_t *p, uint8_t *data, size_t len);

/* The opcode a received event came as, for the frame counters (server_stat_t). */
static unsigned ws_ev_opcode(ws_event_type_t t)
{
    switch (t) {
    case WS_EV_TEXT:
        return WS_OP_TEXT;
    case WS_EV_BINARY:
        return WS_OP_BINARY;
    case WS_EV_PING:
        return WS_OP_PING;
    case WS_EV_PONG:
        return WS_OP_PONG;
    case WS_EV_CLOSE:
        return WS_OP_CLOSE;
    }
    return WS_OP_CONT;
}

void conn_ws_on_data(conn_t *c, uint8_t *data, size_t len)
{
    CH_ASSERT(!c->http_on); /* ws and ws_held are the union's live half */
    ws_parser_t *p = parser_of(c);
    ws_on_data(c, p, data, len);
    parser_settle(c, p);
}

static void ws_on_data(conn_t *c, ws_parser_t *p, uint8_t *data, size_t len)
{
    server_t *s = c->srv;
    c->awaiting_pong = 0; /* any bytes prove the peer is alive */
    while (len > 0 && !c->finishing && !c->closing) {
        if (!c->close_sent && must_wait(c)) {
            pause_reading(c, data, len);
            return;
        }
        if (!c->close_sent && server_input_spent(s)) {
            defer_reading(c, data, len);
            return;
        }
        size_t used = 0;
        ws_event_t ev;
        int rc = ws_parser_feed(p, data, len, &used, &ev);
        data += used;
        len -= used;
        if (rc == 0) return;
        if (rc < 0) {
            conn_ws_close(c, -rc, close_reason(-rc));
            return;
        }
        s->stat.ws_in[ws_ev_opcode(ev.type)]++;
        switch (ev.type) {
        case WS_EV_TEXT:
            if (c->sio)
                conn_sio_on_text(c, ev.data, ev.len);
            else
                proto_handle_text(&s->app->proto, &c->pc, (const char *)ev.data, ev.len,
                                  uv_now(s->loop));
            if (c->pc.deadline_moved && !c->close_sent) arm_timer(c, uv_now(s->loop));
            break;
        case WS_EV_BINARY:
            if (c->sio) {
                conn_sio_on_binary(c);
                break;
            }
            conn_ws_close(c, WS_CLOSE_UNSUPPORTED, "binary messages are not supported");
            return;
        case WS_EV_PING:
            send_control(c, WS_OP_PONG, ev.data, ev.len);
            break;
        case WS_EV_PONG:
            break;
        case WS_EV_CLOSE:
            /* Echo the peer's code (an empty close is answered with an empty one). */
            if (!c->close_sent) {
                char r[CONN_REMOTE_MAX], id[CONN_REQ_ID_MAX];
                log_req(c->srv->log, LOG_INFO, conn_req_id(c, id),
                        "%s: websocket closed by the client %d %.*s", conn_remote(c, r),
                        ev.close_code, (int)(ev.len > 123 ? 123 : ev.len),
                        (const char *)ev.data);
            }
            close_frame(c, ev.close_code, NULL);
            return;
        }
    }
}

/* Handles the input held while c was paused (which may pause or defer it again), then
 * reads again; returns 1 when c reads again (its timer is the caller's to arm). The
 * silence while paused was ours: the keepalive starts over. */
static int take_held(conn_t *c, uint64_t now)
{
    cbuf_t *held = c->ws_held;
    c->ws_held = NULL;
    c->ws_paused = 0;
    c->ws_stalled = 0;
    c->last_rx = (uint32_t)now;
    conn_ws_on_data(c, held->data + held->off, held->len);
    cbuf_unref(held);
    if (c->closing || c->finishing) return 0;
    if (c->ws_paused) return 0; /* its timer is armed */
    conn_resume(c);
    return !c->close_sent;
}

/* Paused c stays paused: its output or its pending replies hold it (must_wait), or its
 * input waits for the deferred queue's turn. Closes it when it stalled too long, else
 * arms its timer for the deadlines that still run. */
static void stay_paused(conn_t *c, uint64_t now)
{
    note_stall(c, now);
    if (c->ws_stalled && conn_since(c->last_rx, now) >= c->srv->cfg->ws_stall_timeout) {
        conn_ws_close_slow(c, "over half --ws-max-queue for --ws-stall-timeout");
        return;
    }
    arm_paused(c, now);
}

void conn_ws_resume_input(conn_t *c)
{
    if (!c->ws_paused || c->close_sent || c->finishing || c->closing) return;
    uint64_t now = uv_now(c->srv->loop);
    if (must_wait(c)) { /* now an ordinary pause: tr_settled or conn_ws_on_drain end it */
        stay_paused(c, now);
        return;
    }
    if (take_held(c, now)) arm_timer(c, now);
}

void conn_ws_on_timer(conn_t *c)
{
    const chorus_config_t *cfg = c->srv->cfg;
    uint64_t now = uv_now(c->srv->loop);
    proto_auth_tick(&c->srv->app->proto, &c->pc, now);
    if (c->close_sent || c->finishing || c->closing) return;
    if (c->ws_paused) {
        /* The auth or stall deadline, or early; a deferred one waits for its turn. */
        if (c->input_deferred || must_wait(c)) {
            stay_paused(c, now);
            return;
        }
        if (!take_held(c, now)) return;
    }
    if (c->sio) {
        conn_sio_keepalive(c, now);
        if (!c->closing) arm_timer(c, now);
        return;
    }
    if (c->awaiting_pong) {
        if (conn_since(c->ping_at, now) >= cfg->ws_pong_timeout) {
            char r[CONN_REMOTE_MAX], id[CONN_REQ_ID_MAX];
            log_req(c->srv->log, LOG_INFO, conn_req_id(c, id),
                    "%s: no pong within %llu ms, dropping", conn_remote(c, r),
                    (unsigned long long)cfg->ws_pong_timeout);
            conn_close(c);
            return;
        }
    } else if (conn_since(c->last_rx, now) >= cfg->ws_ping_interval) {
        /* Incoming traffic does not re-arm the timer (that would be a heap update per
         * message); the timer checks how long the line has really been silent. */
        send_control(c, WS_OP_PING, NULL, 0);
        c->awaiting_pong = 1;
        c->ping_at = (uint32_t)now;
    }
    arm_timer(c, now);
}
