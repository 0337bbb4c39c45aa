/* bench_ws.h: a minimal WebSocket client over libuv for the load generator (text frames only). */
#ifndef CHORUS_BENCH_WS_H
#define CHORUS_BENCH_WS_H

#include <stddef.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "proto/ws_frame.h"

typedef struct bws_s bws_t;

/* The handshake succeeded (101): the connection may send. */
typedef void (*bws_open_cb)(bws_t *c);
/* One complete text message. data is borrowed (valid during the call) and may be modified. */
typedef void (*bws_msg_cb)(bws_t *c, char *data, size_t len);
/* The connection failed or was closed by the peer; why is a static or borrowed string.
 * Called at most once; the handle is being closed and c must not send any more. */
typedef void (*bws_fail_cb)(bws_t *c, const char *why);
/* The socket is closed (after bws_close or a failure): c may be connected again. */
typedef void (*bws_closed_cb)(bws_t *c);
/* bws_detach is done: the old handle is closed and c waits for bws_attach. */
typedef void (*bws_detached_cb)(bws_t *c);

/* BWS_MOVING: between bws_detach and bws_attach (another loop takes the socket up). */
enum { BWS_CONNECTING, BWS_HANDSHAKE, BWS_OPEN, BWS_CLOSING, BWS_CLOSED, BWS_MOVING };

struct bws_s {
    uv_tcp_t tcp;
    uv_connect_t creq;
    ws_parser_t parser;
    char *request;   /* owned: the upgrade request until it is written */
    char hs[2048];   /* response head being read */
    size_t hs_len;
    int state;
    int fail_state;  /* the state on_fail found it in (BWS_CONNECTING, _HANDSHAKE or _OPEN) */
    void *data;      /* the caller's */
    bws_open_cb on_open;
    bws_msg_cb on_msg;
    bws_fail_cb on_fail;
    bws_closed_cb on_closed; /* optional */
    bws_detached_cb on_detached;
    int moved_fd;    /* BWS_MOVING: the socket, owned, until bws_attach takes it */
    int reading;     /* inside the read callback: what it read is still being parsed */
    SSL_CTX *tls;    /* borrowed, set before bws_connect: wss:// (NULL: ws://) */
    SSL *ssl;        /* owned while connected with tls: OpenSSL over two memory BIOs */
};

/* Starts connecting c (memory owned by the caller, must stay put until bws_close's close
 * completes) to addr and upgrading "GET path" (path includes the query, e.g. the token).
 * src (borrowed, may be NULL) is the local address to bind first (port 0): several
 * 127.0.0.x sources give more than 64k connections to one server port.
 * Returns 0 or a negative libuv error. */
int bws_connect(uv_loop_t *loop, bws_t *c, const struct sockaddr *addr,
                const struct sockaddr *src, const char *path);

/* Sends one masked text frame holding n bytes of p (borrowed). Returns 0, or -1 when the
 * connection is not open. */
int bws_send_text(bws_t *c, const char *p, size_t n);

/* Moves an open connection to another loop (another thread's): bws_detach, on the loop
 * that has c, stops reading and closes the handle but keeps a duplicate of the socket;
 * done(c) runs on that loop once the handle is closed. Then bws_attach, on the loop that
 * takes c over (from that loop's thread), opens a new handle on the socket and reads on.
 * Bytes that arrive in between wait in the socket; the parser's state goes along. The
 * connection must have no write in flight, and bws_detach is refused (UV_EBUSY) from
 * within c's own callbacks while a read is being parsed. Both return 0 or a negative libuv error; after
 * a failed bws_attach the socket is closed and on_closed is called (when set) once the
 * handle is. In between, bws_close does nothing and c must not send. */
int bws_detach(bws_t *c, bws_detached_cb done);
int bws_attach(bws_t *c, uv_loop_t *loop);

/* Closes the socket without a close handshake (the benchmark is over). Safe to call in any
 * state but BWS_MOVING; on_fail is not called afterwards. */
void bws_close(bws_t *c);

#endif
