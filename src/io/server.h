/* server.h: the server context: one libuv loop, the listener, signals, the connection
 * registry and the once-per-iteration flush of output ("corking"). The application it
 * serves (store, rooms, ops, API) is an app_t (app.h), borrowed. */
#ifndef CHORUS_SERVER_H
#define CHORUS_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "app/app.h"
#include "util/config.h"
#include "util/net_addr.h"
#include "util/log.h"
#include "util/heap_trim.h"
#include "util/slab.h"
#include "util/loop_stat.h"
#include "util/ptr_ring.h"
#include "util/strmap.h"
#include "io/tls.h"
#include "io/uring.h"
#include "io/ws_handshake.h"
#include "proto/ws_frame.h"

typedef struct conn_s conn_t;

/* Open connections from one address (net_sockaddr_key), for --max-connections-per-ip. */
typedef struct {
    uint64_t count;
    char key[NET_IP_KEY_MAX];
} server_ip_t;

/* Reads are handed to the protocol code synchronously, so one buffer per loop serves
 * every connection and an idle connection holds no read buffer at all. 64 KiB: the
 * largest read libuv asks for in one go on Linux. */
#define SERVER_READ_BUF (64 * 1024)

/* Connections closed per loop iteration (server_close_later). Closing one costs ~20 us
 * (the socket's close in the kernel, the room's detach and events): 10,000 clients gone
 * at once took one iteration of ~200 ms of CPU; 32 keep each under ~1 ms. */
#define SERVER_CLOSE_BUDGET 32

/* The input handled per loop iteration (WebSocket frames and HTTP requests read): once
 * this much time went by since the iteration's first, a connection's next frame or
 * request waits, with its reading stopped, for the next iteration (server_defer_input),
 * which starts with the connections that waited, oldest first. One burst of ready sockets
 * (libuv reads up to 1,024 in one poll, each read's frames handled at once) took one
 * iteration 3-22 ms of CPU. */
#define SERVER_INPUT_BUDGET_NS 500000

/* Bytes handed to the kernel per flush (two a loop iteration: prepare and check): the
 * connections past it keep their output for the next flush, first in line then. The
 * flush after a slice of joins into rooms of 100 sent ~100 KB to each member, megabytes
 * in one iteration (2-4 ms of CPU, nearly all the kernel's TCP send). A connection's own
 * output is never split by it (CONN_IOV bounds one send), and its order never changes. */
#define SERVER_FLUSH_BUDGET (256 * 1024)

/* Sends per io_uring submission: a broadcast to more receivers takes several. */
#define SERVER_URING_DEPTH 256

/* What the connections did since start, for GET /metrics (http_metrics.h): plain
 * increments on the loop thread. WebSocket frames are counted by opcode (ws_frame.h's
 * WS_OP_*; a fragmented message received counts once, as its first frame's type). */
typedef struct {
    uint64_t ws_in[16], ws_out[16];
    uint64_t bytes_in, bytes_out; /* read from and written to sockets */
    uint64_t slow_closed;         /* WebSockets closed for passing ws_max_queue or stalling */
    uint64_t ws_output_paused;    /* WebSocket reads paused for output over the mark */
    uint64_t input_deferred;      /* frames or requests left to the next iteration */
    uint64_t flush_deferred;      /* flushes that left output to the next one */
    uint64_t http_requests;       /* HTTP requests answered */
    uint64_t http_limited;        /* of them, answered 429 */
    int64_t start_unix_ms;        /* when server_start ran */
    /* Gauges kept as the connections change, so a scrape walks nothing: open connections
     * by state (SERVER_CONNS_*: set at accept, moved at the upgrade, dropped when the
     * handles closed) and the output queued on them (conn_out_push, conn_out_truncate). */
    uint64_t conns[3];
    uint64_t queued_bytes;
} server_stat_t;

/* server_stat_t.conns's states: speaking HTTP, /ws, Socket.IO over WebSocket. */
#define SERVER_CONNS_HTTP 0
#define SERVER_CONNS_WS 1
#define SERVER_CONNS_SIO_WS 2

typedef struct server_s {
    uv_loop_t *loop;               /* borrowed */
    const chorus_config_t *cfg;    /* borrowed */
    log_t *log;                    /* borrowed */
    uv_tcp_t listener;
    uv_signal_t sigint, sigterm, sighup;
    /* TLS (tls.c, conn_tls.c): the context new connections take (owned; NULL: plain), the
     * connections whose decrypted input waits for the idle phase (conn_tls_resumed), and
     * the buffer small records are gathered in before sealing. */
    SSL_CTX *tls_ctx;
    uv_idle_t tls_pump;
    conn_t *tls_pump_list;
    char tls_stage[16384];
    int port;          /* the listener's bound port */
    uv_tcp_t redirect; /* --tls-redirect's listener, when has_redirect */
    int has_redirect;
    uv_tcp_t metrics; /* --metrics-listen's listener, when has_metrics */
    int has_metrics;
    /* SIGHUP: set after server_start (NULL: only the certificate is read again). Reads
     * the configuration again into cfg and applies it all (server_reload_prepare, then
     * server_reload_commit) or nothing; returns 0 when applied, -1 when nothing changed. */
    int (*reload)(void *ud);
    void *reload_ud;
    uv_prepare_t prepare;          /* flushes output produced by timers */
    uv_check_t check;              /* flushes output produced by I/O callbacks */
    uv_timer_t shutdown_timer;
    /* The connections' timers (conn_timer.c): a min-heap by due time behind one libuv
     * timer that fires at the first. */
    uv_timer_t conn_timer;
    conn_t **timers;
    uint32_t ntimers, timers_cap;
    uint32_t timer_seq;
    conn_t *conns;                 /* every open connection (doubly linked) */
    /* Owned: where the connections are allocated (slab.h): pages of their own, so the heap
     * a burst frees leaves whole pages to give back, and no malloc overhead a connection.
     * A connection still waiting for a reply when the server goes keeps it (slab_drop). */
    slab_t *conn_slab;
    /* Owned: the output queues' item arrays up to OUTQ_SLAB_MAX_CAP items (outq_push_in):
     * taken when a connection's output starts and given back when it drains, a free-list
     * slot each instead of a malloc and a free per burst (every delivery to an idle
     * receiver was one); its empty pages are unmapped by the idle heap trim (on_heap).
     * Outlives server_free while an array is out (slab_drop). */
    slab_t *out_slab;
    size_t nconns;
    strmap_t per_ip;               /* key -> owned server_ip_t, only while count > 0 */
    strmap_t sio_sessions;         /* Engine.IO polling sessions by sid (conn_sio_poll.c) */
    size_t nsessions;              /* count toward --max-connections with nconns */
    conn_t *flush_list;            /* connections with output queued this iteration */
    /* Connections left over by the last flush's budget (SERVER_FLUSH_BUDGET), still
     * flush_listed and linked by flush_next: the next flush starts with them. */
    conn_t *flush_carry;
    /* Connections whose input waits for the next iteration (SERVER_INPUT_BUDGET_NS),
     * borrowed, oldest first; one that closes meanwhile is forgotten (NULL). */
    ptr_ring_t deferred;
    loop_budget_t input_budget;    /* this iteration's input (server_input_spent) */
    /* Active while deferred or flush_carry hold connections: the poll then does not
     * block, so they go on in the next iteration, not after the next event. */
    uv_idle_t spin;
    conn_t *resume_list;           /* HTTP connections whose output drained (see resume) */
    uv_idle_t resume;              /* runs while resume_list is not empty */
    ptr_ring_t closeq;             /* borrowed closing connections, oldest first */
    uv_idle_t closer;              /* runs while closeq is not empty */
    uring_t *uring;                /* owned: batches the flush's sends; NULL = writev each */
    char *web_root;                /* realpath of cfg->web_dir; NULL when missing */
    app_t *app;                    /* borrowed: what the connections speak to */
    ws_handshake_opts_t handshake;
    loop_stat_t loop_stat;         /* iteration lengths since start (GET /metrics) */
    uv_timer_t heap_timer;         /* looks every HEAP_TRIM_EVERY_MS (server.c on_heap) */
    uv_work_t heap_work;           /* the trim, on libuv's thread pool */
    uint64_t heap_before;          /* resident bytes when it started */
    heap_trim_t heap_trim;         /* when the free heap goes back after a burst */
    server_stat_t stat;            /* the connections' counters (GET /metrics) */
    uint32_t boot_id;              /* random at start: the first part of request ids */
    uint64_t loop_mark_ns;         /* uv_hrtime at the end of the last iteration; 0: none */
    uint64_t loop_idle_ns;         /* uv_metrics_idle_time then */
    char date[40];                 /* cached HTTP Date header value */
    char peer_text[NET_IP_TEXT];   /* a connection's address as text (conn_ws.c tr_peer) */
    int64_t date_sec;
    int stopping;                  /* a signal asked us to stop */
    int handles_closed;            /* server handles closed, loop can end */
    char readbuf[SERVER_READ_BUF];
    /* The WebSocket parser of every connection at rest (conn_ws.c parser_of): one whose
     * read ends partway through a frame or message takes it over and the server starts a
     * new one, so idle connections carry none. */
    ws_parser_t ws_rest;
} server_t;

/* Initialises s on loop with cfg, log and the application app (all borrowed; they must
 * outlive s; app was built on the same loop), binds and listens. Returns 0, or a
 * negative libuv error with a log line saying what failed; then s's handles are closed
 * (the loop was run) and s only needs server_free. */
int server_start(server_t *s, uv_loop_t *loop, const chorus_config_t *cfg, log_t *log,
                 app_t *app);

/* Starts a graceful stop: stop accepting, close WebSockets with 1001, let pending
 * writes drain, force-close what remains after cfg->shutdown_timeout. Once every
 * connection is closed, the server's handles close and so do the app's (app_close):
 * the loop ends. */
void server_stop(server_t *s);

/* SIGHUP's first half, after the caller moved the new values into cfg: builds the TLS
 * context new handshakes will take from cfg's files (read again, so a renewed certificate
 * counts), with the running context's ticket keys. Returns 0 with the new context in *tls
 * (NULL when the listener is plain: turning TLS on or off needs a restart), or -1 with a log
 * line naming the file at fault and nothing changed. */
int server_reload_prepare(server_t *s, SSL_CTX **tls);

/* SIGHUP's second half: the allowed origins from cfg, and tls (owned; NULL: keep the
 * running context) for new handshakes; established connections keep theirs. */
void server_reload_commit(server_t *s, SSL_CTX *tls);

/* Frees what s owns once uv_run returned (not the app). */
void server_free(server_t *s);

/* Marks c as having output; it is written once at the end of this loop iteration, or at
 * the next flush when this one's budget (SERVER_FLUSH_BUDGET) went to others first. */
void server_want_flush(server_t *s, conn_t *c);

/* Returns 1 when this loop iteration's input budget (SERVER_INPUT_BUDGET_NS) is spent:
 * the frame or request about to be handled must wait (server_defer_input). The first call
 * of an iteration starts its clock. Borrows s. */
int server_input_spent(server_t *s);

/* Queues c, whose reading the caller stopped with its unhandled input kept, to go on at
 * the start of the next loop iteration (conn_input_resume); sets c->input_deferred.
 * Borrows both; conn_close takes c off the queue (server_defer_cancel). */
void server_defer_input(server_t *s, conn_t *c);

/* Takes c off the deferred input queue if it is on it (it is closing). */
void server_defer_cancel(server_t *s, conn_t *c);

/* Marks HTTP connection c to be resumed (conn_http_resume) from the loop's idle phase,
 * outside any write callback, before this iteration's output is flushed. */
void server_want_resume(server_t *s, conn_t *c);
/* Takes c off the resume list if it is on it (its HTTP state is being freed, or it is
 * gone). */
void server_resume_cancel(server_t *s, conn_t *c);

/* Counts c toward the connections of its peer address sa (borrowed). Returns 0, or -1
 * when that address (an IPv6 one grouped by cfg->max_connections_ipv6_prefix) already has
 * cfg->max_connections_per_ip open; c is then not counted. A peer in
 * cfg->trusted_proxies is never counted (it speaks for many clients). server_conn_gone
 * uncounts. */
int server_ip_acquire(server_t *s, conn_t *c, const struct sockaddr *sa);

/* Queues c (marked closing, borrowed) to have its handles closed (conn_close_handles)
 * from the idle phase, SERVER_CLOSE_BUDGET connections a loop iteration, oldest first. */
void server_close_later(server_t *s, conn_t *c);
/* Counts an Engine.IO polling session of the address entry e (borrowed from the
 * connection that made it; NULL: not counted by address) toward --max-connections and
 * --max-connections-per-ip. Returns 0, or -1 when either is reached. */
int server_session_acquire(server_t *s, server_ip_t *e);
/* Uncounts a session acquired with e. */
void server_session_release(server_t *s, server_ip_t *e);

/* Called by the connection code when c is gone (after its handles closed). */
void server_conn_gone(server_t *s, conn_t *c);

/* Returns the current HTTP Date header value (cached per second). */
const char *server_http_date(server_t *s);

#endif
