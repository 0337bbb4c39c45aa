/* conn.h: one client connection: socket, timers, output queue, and its protocol state
 * (HTTP/1.1 until an upgrade, then WebSocket). Internal to the I/O layer. */
#ifndef CHORUS_CONN_H
#define CHORUS_CONN_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "util/buf.h"
#include "util/net_addr.h"
#include "io/http_parse.h"
#include "proto/proto.h"
#include "io/server.h"
#include "io/uring.h"
#include "proto/ws_frame.h"
#include "proto/eio_packet.h"

typedef enum { CONN_HTTP = 0, CONN_WS } conn_kind_t;

typedef struct conn_http_s conn_http_t; /* private to conn_http.c */
typedef struct conn_sio_s conn_sio_t;   /* private to conn_sio.c */
typedef struct conn_tls_s conn_tls_t;   /* private to conn_tls.c */

struct conn_s {
    uv_tcp_t tcp;          /* tcp.data points back here */
    server_t *srv;         /* borrowed */
    /* One one-shot timer, its meaning depending on the state (conn_on_timer), kept in the
     * server's heap (conn_timer.c): when it is due, its place in the heap (0: not armed),
     * and when it was armed (the order of timers due in the same millisecond). */
    uint64_t timer_due;
    uint32_t timer_idx;
    uint32_t timer_seq;
    conn_t *prev, *next;   /* server's registry */
    conn_t *flush_next;    /* server's flush list */
    outq_t out;
    uint32_t inflight; /* bytes at the front of out handed to uv_write (<= out.bytes) */
    /* Loop times (ms) kept in 32 bits, modulo 2^32 (conn_since): the last bytes received,
     * and the unanswered ping (awaiting_pong). Only the time since them is read, and it
     * stays under the longest keepalive or idle timeout (24 h, config.c) + the pong
     * timeout, far from the 49 days at which 32 bits of ms wrap. */
    uint32_t last_rx;
    uint32_t ping_at;
    unsigned flush_listed : 1;
    unsigned writing : 1;   /* a uv_write in flight (its request is allocated for it) */
    unsigned finishing : 1; /* no more input handled; close once output is flushed */
    unsigned shut : 1;      /* shutdown(SHUT_WR) requested */
    unsigned closing : 1;   /* uv_close called */
    unsigned in_api_call : 1; /* inside api_handle: a response now is synchronous */
    unsigned resume_listed : 1;
    unsigned drain_wait : 1; /* HTTP: reading stopped until the output queue drains */
    /* WebSocket: a ping is unanswered (ping_at); the close frame went out; reading paused
     * while the client's own work is backlogged or its output waits for it (conn_ws.c),
     * ws_held holding the input not handled yet; while paused, ws_stalled: the output is
     * over the mark since last_rx. Kept with the flags above, not beside ws_held: 8 bytes
     * less (ws_stalled takes a spare bit of the same word). */
    unsigned awaiting_pong : 1;
    unsigned close_sent : 1;
    unsigned ws_paused : 1;
    unsigned ws_stalled : 1;
    unsigned read_stopped : 1; /* conn_read_stop: no input handled until conn_resume */
    unsigned redirect : 1;     /* from the --tls-redirect listener: every request gets 308 */
    /* TLS: its state (conn_tls.c) is allocated with the connection, right after it, so a
     * plain connection carries not even a pointer for it. */
    unsigned tls : 1;
    /* HTTP requests begun on this connection (the last part of their ids, conn_req_id),
     * saturating; kept in the flags' spare bits, so a WebSocket keeps its upgrade's. */
    unsigned req_n : 17;
    unsigned metrics_only : 1; /* from the --metrics-listen listener: /metrics, /healthz */
    unsigned kind : 1;     /* conn_kind_t */
    unsigned ip_known : 1; /* ip holds an address (else the socket had none: "?") */
    /* The union below holds the HTTP state (http, resume_next): from conn_http_init until
     * conn_http_free, which clears the bit and zeroes the union (the WebSocket's ws and
     * ws_held start NULL). */
    unsigned http_on : 1;
    /* Its next frame or request waits, reading stopped, for the next loop iteration: this
     * one's input budget was spent (server_defer_input; WebSocket: ws_paused too). */
    unsigned input_deferred : 1;
    /* The client's address, for rate limits and audit: the peer's; once a WebSocket, behind
     * a trusted proxy, the one it forwarded. Binary (17 bytes instead of 48 of text),
     * formatted only when a log line or the API shows it (conn_ip). */
    net_ip_t ip;
    server_ip_t *per_ip;   /* borrowed: this address's count (NULL: not counted) */

    /* The HTTP-only and the WebSocket-only pointers share 16 bytes: a connection speaks
     * HTTP until the upgrade's conn_http_free, and its WebSocket reads nothing before that
     * (the upgrade request's trailing bytes are handled after it). http_on says which
     * half is live; read http through conn_http_live. */
    union {
        struct {
            /* HTTP state: the request parser, deadlines, a held-back request, a file being
             * sent (conn_http.c). Owned; one allocation that exists only while the
             * connection speaks HTTP and is freed at the upgrade. */
            conn_http_t *http;
            conn_t *resume_next; /* server's resume list (see conn_http_resume) */
        };
        struct {
            /* WebSocket: its own parser while a frame or message is partial (else the
             * server's resting one, conn_ws.c parser_of), owned; and the input held while
             * reading is paused (ws_paused), owned, handled on resume. */
            ws_parser_t *ws;
            cbuf_t *ws_held;
        };
    };

    /* WebSocket state */
    proto_client_t pc;
    /* Engine.IO / Socket.IO state (conn_sio.c): owned, NULL on a /ws connection. */
    conn_sio_t *sio;
};

/* c's HTTP state, or NULL once it is freed (the upgrade) or before it is made. */
static inline conn_http_t *conn_http_live(const conn_t *c)
{
    return c->http_on ? c->http : NULL;
}

/* Milliseconds from then (a loop time kept in 32 bits: last_rx, ping_at) to now. */
static inline uint64_t conn_since(uint32_t then, uint64_t now)
{
    return (uint32_t)((uint32_t)now - then);
}

/* Longest "ip:port" text of a peer, NUL included. */
#define CONN_REMOTE_MAX 64

/* Longest request id, NUL included: ours ("%08x-%x-%u", under 40) or one a trusted proxy
 * sent in X-Request-Id (LOG_REQ_ID_MAX). */
#define CONN_REQ_ID_MAX (LOG_REQ_ID_MAX + 1)

/* Writes c's client address (c->ip) as text into buf and returns buf ("?" when unknown).
 * Borrows c. */
const char *conn_ip(const conn_t *c, char buf[NET_IP_TEXT]);

/* Writes the id of c's current (or last) HTTP request into buf and returns buf: the
 * server's boot id, c's identity (pc.rcv.id, never reused) and the request's number on c,
 * "1f3a9c07-2a-1". A WebSocket or Socket.IO session's lines carry its upgrade request's
 * id this way without keeping any text. Borrows c. */
const char *conn_req_id(const conn_t *c, char buf[CONN_REQ_ID_MAX]);

/* The peer's "ip:port", for logs: kept while c speaks HTTP (every request logs it), asked
 * of the socket afterwards and written into buf ("?:0" when that fails). Returns the kept
 * text or buf. Borrows both. */
const char *conn_remote(const conn_t *c, char buf[CONN_REMOTE_MAX]);

/* Accepts one pending connection from s's listener. */
void conn_accept(server_t *s);

/* Queues b (borrowed; the queue takes its own reference) for writing at the end of this
 * loop iteration. A WebSocket whose queue passes ws_max_queue is closed with 1008. */
void conn_send(conn_t *c, cbuf_t *b);

/* Closes the WebSocket c (1008 "client too slow") for not taking its output, dropping
 * what it was not sent yet; why (borrowed) goes in the log line. */
void conn_ws_close_slow(conn_t *c, const char *why);

/* c's state for server_stat_t.conns (SERVER_CONNS_*). */
unsigned conn_state(const conn_t *c);

/* outq_push and outq_truncate (n 0: outq_clear) on c->out that keep the server's total of
 * queued output (server_stat_t.queued_bytes, GET /metrics) right: every change of c->out
 * but the written bytes consumed (conn.c) goes through them. b is borrowed (the queue
 * takes its own reference). */
void conn_out_push(conn_t *c, cbuf_t *b);
void conn_out_truncate(conn_t *c, size_t n);

/* Writes what is queued (called once per loop iteration by the server). */
void conn_flush(conn_t *c);

/* Flushes the connections on list (linked by flush_next; each is unlinked and its
 * flush_listed cleared) until *budget bytes were handed to the kernel: with u, one
 * io_uring submission per batch of u's depth; with u NULL, conn_flush (a writev) each.
 * What a socket does not take goes to uv_write. The connection that reaches the budget
 * sends whole; *budget is lowered by what was handed over. Returns the connections with
 * output the budget left, in their order (still linked and flush_listed): the walk goes
 * through the whole list, so a WebSocket whose queue passed a quarter of --ws-max-queue
 * is sent whatever the budget and wherever it stands; those with
 * nothing to send, or closing, are unlinked whatever the budget. If u fails
 * (uring_broken), the connections it had not sent for are closed and the rest flushed
 * with conn_flush: the caller then frees u. Borrows all three. */
conn_t *conn_flush_list(conn_t *list, uring_t *u, size_t *budget);

/* Goes on with c's input that waited for this loop iteration (server_defer_input): the
 * held frames or request first, then reading again, unless it has to wait again.
 * Borrows c. */
void conn_input_resume(conn_t *c);

/* Stops handling input, flushes output, sends FIN, then closes on the peer's EOF or after
 * linger_ms at the latest (so a response is not lost to a reset). */
void conn_finish(conn_t *c, uint64_t linger_ms);

/* Closes c, dropping queued output: from now on c reads, writes and times out no more, and
 * its socket is closed from the server's close queue (server_close_later), at most
 * SERVER_CLOSE_BUDGET connections a loop iteration. Safe to call more than once. c is
 * freed later, from libuv's close callback, never inside the caller's stack. */
void conn_close(conn_t *c);

/* The server's close queue reached c (closing): stops its timer, closes its handles. */
void conn_close_handles(conn_t *c);

/* Stops reading (and the timer) while a request is answered elsewhere; resumes both. */
void conn_pause(conn_t *c);
void conn_resume(conn_t *c);
/* Stops handing c's input to its protocol (the socket's, and with TLS what is decrypted
 * already) until conn_resume. */
void conn_read_stop(conn_t *c);

/* Accepts one pending connection from s's redirect listener (--tls-redirect). */
void conn_accept_redirect(server_t *s);
/* Accepts one pending connection from s's metrics listener (--metrics-listen). */
void conn_accept_metrics(server_t *s);

/* Why a new connection is refused at accept: --max-connections (503) or
 * --max-connections-per-ip (429). */
#define CONN_REFUSE_BUSY 1
#define CONN_REFUSE_PER_IP 2
/* Queues the refusal's HTTP error (with Retry-After: 1) on c and finishes it. */
void conn_refuse_reply(conn_t *c, unsigned why);

/* TLS (conn_tls.c). Every byte of a TLS connection goes through OpenSSL with two memory
 * BIOs: what the socket reads is written into one and decrypted into the server's read
 * buffer for the HTTP or WebSocket code; what they queue on c->out (plaintext) is sealed
 * into TLS records at flush time, which replace it in the queue, so the write path
 * (writev, io_uring, uv_write) sends c->out's sealed front only. */
/* Bytes a TLS connection's state takes after its conn_t (allocated with it). */
size_t conn_tls_size(void);
/* Starts TLS on a new connection (allocated with conn_tls_size() more bytes, zeroed) with
 * the server's current context. */
void conn_tls_init(conn_t *c);
/* Refuses c (why: CONN_REFUSE_*) once its handshake is done: then the refusal is sealed
 * and sent as on a plain connection (conn_refuse_reply), so an HTTPS or wss client reads
 * the 503 or 429 and its Retry-After instead of a reset. No request is read; the handshake
 * has --http-header-timeout, as any handshake. */
void conn_tls_refuse(conn_t *c, unsigned why);
/* Frees what the TLS state of c owns (safe on a plain connection). */
void conn_tls_free(conn_t *c);
/* Takes len bytes the socket read (borrowed): handshake, then the plaintext goes to the
 * connection's protocol until it stops reading. */
void conn_tls_on_read(conn_t *c, const char *data, size_t len);
/* Seals the plaintext queued on c->out (once the handshake is done) and what OpenSSL has
 * to send (handshake, alerts) into records at the front of c->out. */
void conn_tls_seal(conn_t *c);
/* Bytes at the front of c->out that are records, ready for the socket. */
size_t conn_tls_sealed(const conn_t *c);
/* n bytes of records were written. */
void conn_tls_wrote(conn_t *c, size_t n);
/* The queue is being cut to its first keep bytes (a slow client): returns the bytes to
 * keep so no record is cut (every sealed one stays). */
size_t conn_tls_keep(const conn_t *c, size_t keep);
/* c is finishing and everything sealed was written: queues the close_notify alert once.
 * Returns 1 when it queued bytes to write first, else 0 (shut the socket down). */
int conn_tls_close_notify(conn_t *c);
/* c reads again: input OpenSSL holds already is handled from the server's idle phase. */
void conn_tls_resumed(conn_t *c);

/* Timers (conn_timer.c). (Re)arms c's timer to fire in ms (conn_on_timer then runs from
 * the loop's timer phase, never inside the caller); stops it. */
void conn_timer(conn_t *c, uint64_t ms);
void conn_timer_stop(conn_t *c);
/* Starts and frees the server's timer heap (its libuv timer is closed with the server's
 * other handles, server.c). No connection may have its timer armed at conn_timers_free. */
void conn_timers_init(server_t *s);
void conn_timers_free(server_t *s);
/* c's timer is due (conn.c): what it means depends on c's state. */
void conn_on_timer(conn_t *c);

/* HTTP side (conn_http.c) */
/* Starts the HTTP side of a new connection from remote ("ip:port", copied). */
void conn_http_init(conn_t *c, const char *remote);
void conn_http_on_data(conn_t *c, char *data, size_t len);
void conn_http_on_timer(conn_t *c);
/* Frees the HTTP state (at the upgrade, or when c closes); safe to call more than once. */
void conn_http_free(conn_t *c);
/* The current HTTP request's id (ours or a trusted proxy's; "" before one began). Borrowed
 * from c; c must speak HTTP. */
const char *conn_http_req_id(const conn_t *c);
/* The kept "ip:port" while c speaks HTTP, else NULL (see conn_remote). */
const char *conn_http_remote(const conn_t *c);
/* Returns 1 while an API request of c is being answered (reading is paused), else 0. */
int conn_http_in_api(const conn_t *c);
/* Called by the write path after output was written while c->drain_wait is set: sends
 * more of a static file, and once the queue is under cfg->http_max_queue asks the server
 * to resume c (server_want_resume). Touches only c, so it is safe inside a write batch. */
void conn_http_on_drain(conn_t *c);
/* Called by the server (outside any write) for a connection it was asked to resume:
 * answers the requests held back, then reads again. */
void conn_http_resume(conn_t *c);
/* Answers the current request now (keep-alive as the request asked). body is borrowed. */
void conn_http_reply(conn_t *c, int status, const char *ctype, const char *extra,
                     const void *body, size_t len);
/* Holds the current request for owner (an Engine.IO polling session): reading pauses until
 * conn_http_release answers it; if c closes first, conn_sio_poll_get_gone(owner, c). */
void conn_http_hold(conn_t *c, void *owner);
/* Answers the held request (body borrowed) and carries on with c's next request. */
void conn_http_release(conn_t *c, int status, const char *ctype, const char *extra,
                       const void *body, size_t len);
/* Sends a JSON error response {"success":false,"error":{code,message}}. extra_headers is
 * NULL or CRLF-terminated header lines. */
void conn_http_error(conn_t *c, int status, const char *code, const char *message,
                     const char *extra_headers);

/* WebSocket side (conn_ws.c) */
/* Switches c to WebSocket after the 101 response was queued. The HTTP code then hands
 * what followed the handshake in the same read to conn_ws_on_data. */
void conn_ws_start(conn_t *c, const auth_claims_t *claims);
void conn_ws_on_data(conn_t *c, uint8_t *data, size_t len);
void conn_ws_on_timer(conn_t *c);
/* Sends a close frame with code and reason, then finishes the connection. */
void conn_ws_close(conn_t *c, int code, const char *reason);
void conn_ws_free(conn_t *c);
/* Re-arms the WebSocket timer for whatever is due next (keepalive, auth deadline). */
void conn_ws_rearm(conn_t *c);
/* Some of c's output was written while its reading is paused (ws_paused): resumes it
 * once nothing holds it any more. */
void conn_ws_on_drain(conn_t *c);
/* The next iteration's turn of c, whose input waited for it (conn_input_resume): handles
 * the held frames and reads again, or stays paused while must_wait holds. */
void conn_ws_resume_input(conn_t *c);
/* The /ws transport table (conn_ws.c), which conn_sio.c's builds on. */
extern const proto_transport_t conn_ws_transport;

/* Engine.IO (conn_sio.c) */
/* Makes c an Engine.IO WebSocket session after the 101 response was queued: sends the
 * open packet; the client then connects Socket.IO's "/" namespace. */
void conn_sio_start_ws(conn_t *c);
/* One complete WebSocket text / binary message of an Engine.IO session. */
void conn_sio_on_text(conn_t *c, const uint8_t *data, size_t len);
void conn_sio_on_binary(conn_t *c);
/* Loop time of the session's next keepalive event (ping, or the pong deadline). */
uint64_t conn_sio_next(const conn_t *c);
/* Sends the ping when due, closes a session whose pong is late. */
void conn_sio_keepalive(conn_t *c, uint64_t now);
/* Frees c->sio (safe when NULL); a polling session upgraded onto c closes with it. */
void conn_sio_free(conn_t *c);

/* Engine.IO long-polling sessions (conn_sio_poll.c) */
typedef struct conn_sio_sess_s conn_sio_sess_t;
/* Answers a polling request of c (/socket.io/?EIO=4&transport=polling): the handshake,
 * a GET (answered now, or held until there is something to send), a POST of packets,
 * a CORS preflight. ip (borrowed) is the client's address, behind a trusted proxy the one it
 * forwarded: a new session keeps it for its rate limits and logs. */
void conn_sio_poll_request(conn_t *c, const http_request_t *req, const char *ip);
/* The session named sid[0..len) that may still upgrade to WebSocket, or NULL. */
conn_sio_sess_t *conn_sio_poll_find(server_t *s, const char *sid, size_t len);
/* Makes c (its 101 response queued) the WebSocket of session sess: the probe, then the
 * upgrade packet moves sess's output onto c. */
void conn_sio_poll_upgrade(conn_sio_sess_t *sess, conn_t *c);
/* The held GET c of session sess (void *: conn_http.c's hold) closed. */
void conn_sio_poll_get_gone(void *sess, conn_t *c);
/* Makes c (its 101 queued) the WebSocket that carries polling session sess's packets. */
void conn_sio_start_carrier(conn_t *c, conn_sio_sess_t *sess);
/* Detaches c from its session (the session is closing c itself). */
void conn_sio_free_carrier(conn_t *c);
/* Closes the sessions of user sub whose token the revocations now refuse. */
void conn_sio_poll_revoked(server_t *s, const char *sub);

/* Closes every Socket.IO polling session of user sub (a DISCONNECT packet first) with
 * reason (borrowed); returns how many (api_disconnect_user). */
uint32_t conn_sio_poll_disconnect(server_t *s, const char *sub, const char *reason);
/* Closes every session (the server is stopping). */
void conn_sio_poll_stop(server_t *s);
/* Engine.IO input arriving on the WebSocket of an upgraded session. */
void conn_sio_poll_on_text(conn_sio_sess_t *sess, conn_t *c, const eio_packet_t *p);
/* The WebSocket of an upgraded session is gone: the session closes. */
void conn_sio_poll_carrier_gone(conn_sio_sess_t *sess);

/* How long a closing connection waits for the peer's EOF before dropping it. */
#define CONN_LINGER_MS 2000

#endif
