/* conn_sio_poll.c: Engine.IO 4 long-polling sessions: the handshake, GETs held until there
 * is something to send (one at a time), POSTs of packets, CORS for --origins, pings and
 * the cleanup of silent sessions, and the upgrade to WebSocket. A session outlives the
 * HTTP connections that carry its requests, so it holds its own protocol client. */
#include "io/conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_random.h"
#include "auth/revoke.h"
#include "util/mem.h"
#include "proto/proto_sio.h"
#include "proto/sio_seed_conn.h"

#define SESS_SID_LEN 20

struct conn_sio_sess_s {
    proto_client_t pc;  /* the session's protocol client (its bus receiver) */
    proto_sio_conn_t s; /* its Socket.IO state */
    char sid[SESS_SID_LEN + 1];
    char req_id[CONN_REQ_ID_MAX]; /* its opening request's id: its lines carry it */
    server_t *srv;       /* borrowed */
    server_ip_t *per_ip; /* borrowed: its address's count (server_session_acquire) */
    char ip[48];
    uv_timer_t timer; /* pings, the pong deadline, the auth deadline */
    cbuf_t **q;       /* owned references: WebSocket text frames of Engine.IO packets */
    size_t nq, capq, qbytes;
    conn_t *get;    /* the held GET, or NULL */
    char *get_cors; /* owned: its CORS headers, NULL without an Origin */
    conn_t *ws;     /* the WebSocket it upgraded to (or is probing), or NULL */
    uint64_t next_ping, ping_at;
    unsigned awaiting_pong : 1;
    unsigned upgraded : 1; /* the upgrade packet came: output goes to ws */
    unsigned probed : 1;   /* the probe was answered: the client pauses polling */
    unsigned closed : 1;
    unsigned over : 1; /* output passed --ws-max-queue: closed from the timer */
    unsigned refs : 2; /* the timer's handle and the protocol client */
};

static conn_sio_sess_t *sess_of(proto_client_t *pc)
{
    return (conn_sio_sess_t *)((char *)pc - offsetof(conn_sio_sess_t, pc));
}

static void sess_unref(conn_sio_sess_t *x)
{
    if (--x->refs > 0) return;
    sio_seed_conn_free(&x->s);
    proto_client_free(&x->pc);
    free(x);
}

static void on_timer_closed(uv_handle_t *h)
{
    sess_unref(h->data);
}

static void sess_close(conn_sio_sess_t *x, const char *why);

/* Frames with one payload: the text packet of frame f (skipping its WebSocket header). */
static const uint8_t *packet_of(const cbuf_t *f, size_t *len)
{
    size_t start;
    *len = eio_frame_payload(f, &start);
    return f->data + start;
}

/* CORS headers for an allowed Origin (text into out, cap bytes), "" without one. */
static void cors_headers(const http_request_t *req, const http_header_t *origin, char *out,
                         size_t cap)
{
    (void)req;
    out[0] = '\0';
    if (!origin || origin->value_len > 512) return;
    snprintf(out, cap,
             "Access-Control-Allow-Origin: %.*s\r\nAccess-Control-Allow-Credentials: true\r\n"
             "Vary: Origin\r\n",
             (int)origin->value_len, origin->value);
}

/* Takes what is queued, and pkt after it (NULL: none), as one polling payload: packets
 * joined by the record separator. Returns the new body (caller frees), its length in *len. */
static char *take_payload(conn_sio_sess_t *x, const char *pkt, size_t *len)
{
    size_t total = 1;
    for (size_t i = 0; i < x->nq; i++) {
        size_t n;
        packet_of(x->q[i], &n);
        total += n + 1;
    }
    char *body = ch_malloc(total + (pkt ? strlen(pkt) + 1 : 0));
    size_t o = 0;
    for (size_t i = 0; i < x->nq; i++) {
        size_t n;
        const uint8_t *p = packet_of(x->q[i], &n);
        if (o) body[o++] = EIO_SEPARATOR;
        memcpy(body + o, p, n);
        o += n;
        cbuf_unref(x->q[i]);
    }
    if (pkt) {
        if (o) body[o++] = EIO_SEPARATOR;
        memcpy(body + o, pkt, strlen(pkt));
        o += strlen(pkt);
    }
    x->nq = 0;
    x->qbytes = 0;
    *len = o;
    return body;
}

/* Answers the held GET with what is queued, then pkt (a noop, a close) if not NULL;
 * nothing when there is neither. */
static void flush_get(conn_sio_sess_t *x, const char *pkt)
{
    if (!x->get || (!x->nq && !pkt)) return;
    size_t len;
    char *body = take_payload(x, pkt, &len);
    conn_t *c = x->get;
    char *cors = x->get_cors;
    x->get = NULL;
    x->get_cors = NULL;
    conn_http_release(c, 200, "text/plain; charset=UTF-8", cors, body, len);
    free(cors);
    free(body);
}

static void on_timer(uv_timer_t *t);

/* Queues frame (borrowed: a reference is taken) for the next GET, or sends it on the
 * WebSocket once upgraded. A client that does not poll while output grows past
 * --ws-max-queue is closed, like a slow WebSocket (from its timer, at once). */
static void sess_push(conn_sio_sess_t *x, cbuf_t *frame)
{
    if (x->closed || x->over) return;
    if (x->upgraded && x->ws) {
        conn_send(x->ws, frame);
        return;
    }
    if (x->nq == x->capq) {
        x->capq = x->capq ? x->capq * 2 : 4;
        x->q = ch_realloc(x->q, x->capq * sizeof(*x->q));
    }
    x->q[x->nq++] = cbuf_ref(frame);
    x->qbytes += frame->len;
    if (x->qbytes > x->srv->cfg->ws_max_queue) {
        /* Not here: tr_send runs inside a bus publish, which must not see this session's
         * subscriptions freed (sess_close -> proto_client_gone). */
        x->over = 1;
        uv_timer_start(&x->timer, on_timer, 0, 0);
        return;
    }
    flush_get(x, NULL);
}

static void push_text(conn_sio_sess_t *x, const char *text)
{
    size_t len = strlen(text);
    cbuf_t *b = cbuf_new(WS_MAX_HEADER + len);
    size_t h = ws_frame_header(b->data, WS_OP_TEXT, len);
    memcpy(b->data + h, text, len);
    b->len = h + len;
    sess_push(x, b);
    cbuf_unref(b);
}

static void tr_send(proto_client_t *pc, cbuf_t *frame)
{
    conn_sio_sess_t *x = sess_of(pc);
    if (!proto_sio_is_envelope(frame)) {
        sio_seed_conn_event(pc, &x->s, frame); /* a room_reset: joined again soon */
        sess_push(x, frame);
        return;
    }
    if (sio_seed_conn_reply(pc, &x->s, frame)) return; /* a room:* event's reply */
    cbuf_t *b = proto_sio_wrap(frame);
    sess_push(x, b);
    cbuf_unref(b);
}

static void tr_close(proto_client_t *pc, int code, const char *reason)
{
    (void)code;
    conn_sio_sess_t *x = sess_of(pc);
    if (x->s.connected && !x->closed) proto_sio_send(pc, "1", 1);
    sess_close(x, reason ? reason : "closed");
}

static const char *tr_peer(proto_client_t *pc)
{
    return sess_of(pc)->ip;
}

static void tr_release(proto_client_t *pc)
{
    sess_unref(sess_of(pc));
}

static const char *tr_log_id(proto_client_t *pc, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s", sess_of(pc)->req_id);
    return buf;
}

static const proto_transport_t poll_transport = {
    tr_send, tr_close, tr_peer, tr_release, NULL, &proto_sio_dialect, tr_log_id};
/* The same in seed 003's dialect (sio_seed_conn.h), for a session that sent room:*. */
static const proto_transport_t poll_seed_transport = {
    tr_send, tr_close, tr_peer, tr_release, NULL, &sio_seed_dialect, tr_log_id};

static void arm(conn_sio_sess_t *x, uint64_t now)
{
    const chorus_config_t *cfg = x->srv->cfg;
    uint64_t next = x->upgraded        ? UINT64_MAX
                    : x->awaiting_pong ? x->ping_at + cfg->ws_pong_timeout
                                       : x->next_ping;
    if (x->pc.deadline_ms && x->pc.deadline_ms < next) next = x->pc.deadline_ms;
    if (x->over) next = now;
    x->pc.deadline_moved = 0;
    if (next == UINT64_MAX)
        uv_timer_stop(&x->timer);
    else
        uv_timer_start(&x->timer, on_timer, next > now ? next - now : 0, 0);
}

static void on_timer(uv_timer_t *t)
{
    conn_sio_sess_t *x = t->data;
    const chorus_config_t *cfg = x->srv->cfg;
    uint64_t now = uv_now(x->srv->loop);
    proto_auth_tick(&x->srv->app->proto, &x->pc, now);
    if (x->closed) return;
    if (x->over) {
        sess_close(x, "output queue over --ws-max-queue");
        return;
    }
    if (!x->upgraded) {
        if (x->awaiting_pong) {
            if (now - x->ping_at >= cfg->ws_pong_timeout) {
                sess_close(x, "no pong within pingTimeout");
                return;
            }
        } else if (now >= x->next_ping) {
            /* A silent client never reads this ping, so it never answers: its session goes
             * at the pong deadline. */
            x->awaiting_pong = 1;
            x->ping_at = now;
            x->next_ping = now + cfg->ws_ping_interval;
            push_text(x, "2");
            if (x->closed) return;
        }
    }
    arm(x, now);
}

static void sess_close(conn_sio_sess_t *x, const char *why)
{
    if (x->closed) return;
    server_t *s = x->srv;
    /* Not the sid: whoever knows it may speak for the session. */
    log_req(s->log, LOG_INFO, x->req_id, "engine.io session closed: %s", why);
    /* The held GET gets what is queued and a close packet. Closed first: answering it may
     * run that connection's next pipelined request, which must not find the session. */
    x->closed = 1;
    flush_get(x, "1");
    for (size_t i = 0; i < x->nq; i++)
        cbuf_unref(x->q[i]);
    free(x->q);
    x->q = NULL;
    x->nq = x->capq = 0;
    strmap_del(&s->sio_sessions, x->sid);
    server_session_release(s, x->per_ip);
    x->per_ip = NULL;
    conn_t *ws = x->ws;
    x->ws = NULL;
    if (ws && ws->sio) {
        conn_sio_free_carrier(ws);
        conn_ws_close(ws, WS_CLOSE_NORMAL, NULL);
    }
    uv_close((uv_handle_t *)&x->timer, on_timer_closed);
    if (proto_client_gone(&s->app->proto, &x->pc)) sess_unref(x);
}

conn_sio_sess_t *conn_sio_poll_find(server_t *s, const char *sid, size_t len)
{
    char key[SESS_SID_LEN + 1];
    if (len != SESS_SID_LEN) return NULL;
    memcpy(key, sid, len);
    key[len] = '\0';
    conn_sio_sess_t *x = strmap_get(&s->sio_sessions, key);
    return x && !x->ws && !x->closed ? x : NULL;
}

static conn_sio_sess_t *find_any(server_t *s, const char *sid, size_t len)
{
    char key[SESS_SID_LEN + 1];
    if (len != SESS_SID_LEN) return NULL;
    memcpy(key, sid, len);
    key[len] = '\0';
    return strmap_get(&s->sio_sessions, key);
}

static void handshake(conn_t *c, const char *ip, const char *cors)
{
    server_t *s = c->srv;
    const chorus_config_t *cfg = s->cfg;
    if (s->stopping) {
        conn_http_error(c, 503, "service_unavailable", "server shutting down", NULL);
        return;
    }
    if (server_session_acquire(s, c->per_ip) != 0) {
        conn_http_error(c, 503, "service_unavailable", "too many connections",
                        "Retry-After: 1\r\n");
        return;
    }
    conn_sio_sess_t *x = ch_calloc(1, sizeof(*x));
    x->srv = s;
    x->per_ip = c->per_ip;
    x->refs = 2;
    snprintf(x->ip, sizeof(x->ip), "%s", ip);
    snprintf(x->req_id, sizeof(x->req_id), "%s", conn_http_req_id(c));
    auth_random_hex(x->sid, SESS_SID_LEN / 2);
    strmap_put(&s->sio_sessions, x->sid, x);
    uint64_t now = uv_now(s->loop);
    proto_client_init(&x->pc, &s->app->proto.limits, &poll_transport, now);
    x->s.seed_tr = &poll_seed_transport;
    x->pc.rcv.id = bus_member_next(s->app->bus);
    proto_auth_start(&s->app->proto, &x->pc, NULL, now);
    uv_timer_init(s->loop, &x->timer);
    x->timer.data = x;
    x->next_ping = now + cfg->ws_ping_interval;
    arm(x, now);
    char open[256];
    int n = snprintf(open, sizeof(open),
                     "0{\"sid\":\"%s\",\"upgrades\":[\"websocket\"],\"pingInterval\":%llu,"
                     "\"pingTimeout\":%llu,\"maxPayload\":%llu}",
                     x->sid, (unsigned long long)cfg->ws_ping_interval,
                     (unsigned long long)cfg->ws_pong_timeout,
                     (unsigned long long)cfg->ws_max_message);
    conn_http_reply(c, 200, "text/plain; charset=UTF-8", cors, open, (size_t)n);
}

/* Handles one packet of a POST (or of the upgraded WebSocket). Returns 0, -1 when the
 * session closed, or -2 when the client closed it (a close packet). */
static int on_packet(conn_sio_sess_t *x, const eio_packet_t *p)
{
    server_t *s = x->srv;
    uint64_t now = uv_now(s->loop);
    if (p->binary) {
        if (proto_sio_binary(&x->s) == 0) return 0;
        sess_close(x, "binary message without a packet announcing it");
        return -1;
    }
    switch (p->type) {
    case EIO_MESSAGE:
        if (proto_sio_handle(&s->app->sio, &s->app->proto, &x->pc, &x->s, p->data, p->len,
                             now) != 0) {
            sess_close(x, "not a Socket.IO 5 packet");
            return -1;
        }
        if (x->closed) return -1;
        if (x->pc.deadline_moved) arm(x, now);
        return 0;
    case EIO_PONG:
        x->awaiting_pong = 0;
        return 0;
    case EIO_CLOSE:
        sess_close(x, "the client closed");
        return -2;
    case EIO_NOOP:
        return 0;
    default:
        sess_close(x, "unexpected Engine.IO packet");
        return -1;
    }
}

static void on_post(conn_t *c, conn_sio_sess_t *x, const http_request_t *req, const char *cors)
{
    const chorus_config_t *cfg = c->srv->cfg;
    if (req->body_len > cfg->ws_max_message) {
        sess_close(x, "POST over maxPayload");
        conn_http_error(c, 413, "payload_too_large", "the payload is over maxPayload", NULL);
        return;
    }
    size_t off = 0;
    eio_packet_t p;
    int rc, done = 0;
    x->awaiting_pong = 0; /* any traffic proves the client alive */
    while ((rc = eio_payload_next(req->body ? req->body : "", req->body_len, &off, &p)) == 1)
        if ((done = on_packet(x, &p)) != 0) break;
    if (rc == EIO_EBAD) sess_close(x, "bad payload");
    if (x->closed && done != -2) { /* the client's own close is answered "ok", as any POST */
        conn_http_error(c, 400, "bad_request", "bad Engine.IO payload; session closed", NULL);
        return;
    }
    conn_http_reply(c, 200, "text/plain; charset=UTF-8", cors, "ok", 2);
}

static void on_get(conn_t *c, conn_sio_sess_t *x, const char *cors)
{
    if (x->get) { /* the spec: a second pending GET closes the session */
        sess_close(x, "a second pending GET");
        conn_http_error(c, 400, "bad_request", "a GET is already pending; session closed",
                        NULL);
        return;
    }
    /* Answered now when something is queued; and a GET that crossed the probe's answer gets
     * a noop, or the pausing client would wait for it until the next ping. */
    int noop = x->probed && !x->upgraded;
    if (x->nq || noop) {
        size_t len;
        char *body = take_payload(x, noop ? "6" : NULL, &len);
        conn_http_reply(c, 200, "text/plain; charset=UTF-8", cors, body, len);
        free(body);
        return;
    }
    x->get = c;
    x->get_cors = cors[0] ? ch_strdup(cors) : NULL;
    conn_http_hold(c, x);
}

void conn_sio_poll_request(conn_t *c, const http_request_t *req, const char *ip)
{
    server_t *s = c->srv;
    const http_header_t *origin;
    const char *why = "Origin not allowed";
    if (ws_origin_check(req, &s->handshake, &origin, &why) != 0) {
        conn_http_error(c, 403, "forbidden", why, NULL);
        return;
    }
    char cors[768];
    cors_headers(req, origin, cors, sizeof(cors));
    if (req->method == HTTP_OPTIONS) {
        char extra[1024];
        snprintf(
            extra, sizeof(extra),
            "%sAccess-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
            "Access-Control-Allow-Headers: Content-Type\r\nAccess-Control-Max-Age: 600\r\n",
            cors);
        conn_http_reply(c, 204, NULL, extra, NULL, 0);
        return;
    }
    size_t n = 0;
    const char *sid = NULL;
    {
        const char *q = req->query, *end = req->query + req->query_len;
        while (q < end) {
            const char *amp = memchr(q, '&', (size_t)(end - q));
            const char *stop = amp ? amp : end;
            if (stop - q > 4 && memcmp(q, "sid=", 4) == 0) {
                sid = q + 4;
                n = (size_t)(stop - q) - 4;
            }
            q = stop + 1;
        }
    }
    if (!sid) {
        if (req->method != HTTP_GET) {
            conn_http_error(c, 400, "bad_handshake_method", "the handshake is a GET", NULL);
            return;
        }
        handshake(c, ip, cors);
        return;
    }
    conn_sio_sess_t *x = find_any(s, sid, n);
    if (!x || x->closed || x->upgraded) {
        conn_http_error(c, 400, "unknown_sid", "no such Engine.IO polling session", NULL);
        return;
    }
    if (req->method == HTTP_GET)
        on_get(c, x, cors);
    else if (req->method == HTTP_POST)
        on_post(c, x, req, cors);
    else
        conn_http_error(c, 400, "bad_request", "GET or POST", NULL);
}

void conn_sio_poll_get_gone(void *sess, conn_t *c)
{
    conn_sio_sess_t *x = sess;
    if (x->get != c) return;
    x->get = NULL;
    free(x->get_cors);
    x->get_cors = NULL;
}

void conn_sio_poll_upgrade(conn_sio_sess_t *x, conn_t *c)
{
    conn_sio_start_carrier(c, x);
    x->ws = c;
}

void conn_sio_poll_on_text(conn_sio_sess_t *x, conn_t *c, const eio_packet_t *p)
{
    if (x->closed) return;
    if (p->type == EIO_PING && p->len == 5 && memcmp(p->data, "probe", 5) == 0) {
        cbuf_t *b = cbuf_new(WS_MAX_HEADER + 6);
        size_t h = ws_frame_header(b->data, WS_OP_TEXT, 6);
        memcpy(b->data + h, "3probe", 6);
        b->len = h + 6;
        conn_send(c, b);
        cbuf_unref(b);
        /* The client pauses polling: release its GET (or the next one, on_get). */
        x->probed = 1;
        flush_get(x, "6");
        return;
    }
    if (p->type == EIO_UPGRADE) {
        if (x->upgraded) return;
        x->upgraded = 1;
        x->awaiting_pong = 0;
        flush_get(x, "6");
        /* What the polling queue still holds goes first, in order. */
        for (size_t i = 0; i < x->nq; i++) {
            conn_send(c, x->q[i]);
            cbuf_unref(x->q[i]);
        }
        x->nq = 0;
        x->qbytes = 0;
        arm(x, uv_now(x->srv->loop));
        return;
    }
    if (p->type == EIO_PONG) return;
    if (!x->upgraded && p->type != EIO_MESSAGE) return;
    on_packet(x, p);
}

void conn_sio_poll_carrier_gone(conn_sio_sess_t *x)
{
    x->ws = NULL;
    if (x->upgraded)
        sess_close(x, "its WebSocket closed");
    else
        x->probed = 0; /* the probe's WebSocket died before the upgrade: polling goes on */
}

/* The polling sessions authenticated as sub (with revoked_only, only those whose token is
 * revoked), collected first because closing one deletes it from the map. Returns a new
 * array (free it) of *n sessions. */
static conn_sio_sess_t **user_sessions(server_t *s, const char *sub, int revoked_only, size_t *n)
{
    conn_sio_sess_t **hit = NULL;
    const char *k;
    void *v;
    *n = 0;
    for (size_t i = 0; strmap_next(&s->sio_sessions, &i, &k, &v);) {
        conn_sio_sess_t *x = v;
        if (!x->pc.authed || strcmp(x->pc.user.sub, sub) != 0) continue;
        if (revoked_only) {
            auth_claims_t claims;
            proto_user_claims(&x->pc.user, &claims);
            if (revoke_check(s->app->api.revoke, &claims) == 0) continue;
        }
        hit = ch_realloc(hit, (*n + 1) * sizeof(*hit));
        hit[(*n)++] = x;
    }
    return hit;
}

void conn_sio_poll_revoked(server_t *s, const char *sub)
{
    size_t n;
    conn_sio_sess_t **hit = user_sessions(s, sub, 1, &n);
    for (size_t i = 0; i < n; i++)
        tr_close(&hit[i]->pc, WS_CLOSE_POLICY, "token revoked");
    free(hit);
}

uint32_t conn_sio_poll_disconnect(server_t *s, const char *sub, const char *reason)
{
    size_t n;
    conn_sio_sess_t **hit = user_sessions(s, sub, 0, &n);
    for (size_t i = 0; i < n; i++)
        tr_close(&hit[i]->pc, API_CLOSE_DISCONNECTED, reason);
    free(hit);
    return (uint32_t)n;
}

void conn_sio_poll_stop(server_t *s)
{
    const char *k;
    void *v;
    /* sess_close deletes from the map: collect first. */
    while (s->sio_sessions.count) {
        size_t i = 0;
        if (!strmap_next(&s->sio_sessions, &i, &k, &v)) break;
        sess_close(v, "server shutting down");
    }
}
