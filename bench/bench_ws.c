/* bench_ws.c: a minimal WebSocket client over libuv for the load generator. */
#include "bench_ws.h"

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "util/mem.h"

/* One buffer per thread (each thread runs one loop): every read lands in it and is parsed
 * before the next read. The parser copies what it must keep (partial frames). */
static _Thread_local char g_rbuf[256 * 1024];
/* With TLS, what a read decrypts to (parsed before the next). */
static _Thread_local char g_pbuf[64 * 1024];

/* A constant, non-zero mask: the server unmasks for real, the generator pays little. */
static const uint8_t k_mask[4] = {0x37, 0xa2, 0x5c, 0x19};

typedef struct {
    uv_write_t req;
    char data[];
} bws_wreq_t;

static void on_closed(uv_handle_t *h)
{
    bws_t *c = h->data;
    c->state = BWS_CLOSED;
    free(c->request); /* still here when the connect failed */
    c->request = NULL;
    SSL_free(c->ssl);
    c->ssl = NULL;
    ws_parser_free(&c->parser);
    if (c->on_closed)
        c->on_closed(c);
}

static void bws_fail(bws_t *c, const char *why)
{
    if (c->state == BWS_CLOSING || c->state == BWS_CLOSED || c->state == BWS_MOVING)
        return;
    c->fail_state = c->state;
    c->state = BWS_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
    if (c->on_fail)
        c->on_fail(c, why);
}

void bws_close(bws_t *c)
{
    if (c->state == BWS_CLOSING || c->state == BWS_CLOSED || c->state == BWS_MOVING)
        return;
    c->state = BWS_CLOSING;
    uv_close((uv_handle_t *)&c->tcp, on_closed);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *buf)
{
    (void)h;
    (void)hint;
    buf->base = g_rbuf;
    buf->len = sizeof(g_rbuf);
}

static int bws_send_frame(bws_t *c, int op, const char *p, size_t n);

static void on_frame_written(uv_write_t *req, int status)
{
    bws_t *c = req->data;
    free(req);
    if (status < 0) bws_fail(c, uv_strerror(status));
}

/* Writes len bytes of p (borrowed) to the socket: what it does not take now is copied
 * and queued. Returns 0, or -1 after failing c. */
static int raw_send(bws_t *c, const char *p, size_t len)
{
    uv_buf_t b = uv_buf_init((char *)p, (unsigned)len);
    int w = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
    size_t done = w > 0 ? (size_t)w : 0;
    if (w < 0 && w != UV_EAGAIN) {
        bws_fail(c, uv_strerror(w));
        return -1;
    }
    if (done < len) {
        bws_wreq_t *req = ch_malloc(sizeof(*req) + (len - done));
        memcpy(req->data, p + done, len - done);
        req->req.data = c;
        uv_buf_t rb = uv_buf_init(req->data, (unsigned)(len - done));
        int r = uv_write(&req->req, (uv_stream_t *)&c->tcp, &rb, 1, on_frame_written);
        if (r < 0) {
            free(req);
            bws_fail(c, uv_strerror(r));
            return -1;
        }
    }
    return 0;
}

/* TLS: sends what OpenSSL wrote into the write BIO. Returns 0 or -1. */
static int tls_flush(bws_t *c)
{
    BIO *w = SSL_get_wbio(c->ssl);
    size_t n = BIO_ctrl_pending(w);
    if (n == 0) return 0;
    char stackbuf[16384];
    char *p = n <= sizeof(stackbuf) ? stackbuf : ch_malloc(n);
    BIO_read(w, p, (int)n);
    int r = raw_send(c, p, n);
    if (p != stackbuf) free(p);
    return r;
}

/* TLS: seals len bytes of plaintext and sends the records. Returns 0 or -1. */
static int tls_send(bws_t *c, const void *p, size_t len)
{
    if (SSL_write(c->ssl, p, (int)len) != (int)len) {
        bws_fail(c, "TLS write failed");
        return -1;
    }
    return tls_flush(c);
}

static void feed_frames(bws_t *c, uint8_t *p, size_t n)
{
    while (n > 0 && c->state == BWS_OPEN) {
        size_t used = 0;
        ws_event_t ev;
        int r = ws_parser_feed(&c->parser, p, n, &used, &ev);
        if (r < 0) {
            bws_fail(c, "bad frame from the server");
            return;
        }
        p += used;
        n -= used;
        if (r == 0)
            return;
        switch (ev.type) {
        case WS_EV_TEXT:
            if (c->on_msg)
                c->on_msg(c, (char *)ev.data, ev.len);
            break;
        case WS_EV_CLOSE: { /* the code and reason say which of the server's limits it was */
            char why[200];
            int rl = ev.len < 120 ? (int)ev.len : 120;
            snprintf(why, sizeof(why), "closed by the server: %u %.*s", (unsigned)ev.close_code,
                     rl, (const char *)ev.data);
            bws_fail(c, why);
            return;
        }
        case WS_EV_PING: /* an idle connection (the connections scenario) must answer */
            bws_send_frame(c, WS_OP_PONG, (const char *)ev.data, ev.len);
            break;
        default:
            break;
        }
    }
}

static void read_data(bws_t *c, ssize_t nread, const uv_buf_t *buf)
{
    if (nread < 0) {
        bws_fail(c, nread == UV_EOF ? "connection closed by the server" : uv_strerror((int)nread));
        return;
    }
    uint8_t *p = (uint8_t *)buf->base;
    size_t n = (size_t)nread;
    if (c->state == BWS_HANDSHAKE) {
        size_t room = sizeof(c->hs) - 1 - c->hs_len;
        size_t take = n < room ? n : room;
        memcpy(c->hs + c->hs_len, p, take);
        c->hs_len += take;
        c->hs[c->hs_len] = '\0';
        char *end = strstr(c->hs, "\r\n\r\n");
        if (!end) {
            if (c->hs_len == sizeof(c->hs) - 1)
                bws_fail(c, "handshake response too long");
            return;
        }
        if (strncmp(c->hs, "HTTP/1.1 101", 12) != 0) {
            char *eol = strstr(c->hs, "\r\n");
            if (eol)
                *eol = '\0';
            bws_fail(c, c->hs); /* the status line says why */
            return;
        }
        /* Bytes after the head that came in this read are frames. */
        size_t head = (size_t)(end + 4 - c->hs);
        size_t before = c->hs_len - take; /* head bytes from earlier reads */
        size_t skip = head - before;
        c->state = BWS_OPEN;
        if (c->on_open)
            c->on_open(c);
        feed_frames(c, p + skip, n - skip);
        return;
    }
    feed_frames(c, p, n);
}

/* TLS: takes what the socket read, finishes the handshake (then sends the upgrade
 * request), and parses what it decrypts. */
static void tls_read(bws_t *c, ssize_t nread, const uv_buf_t *buf)
{
    if (nread < 0) {
        read_data(c, nread, buf);
        return;
    }
    BIO_write(SSL_get_rbio(c->ssl), buf->base, (int)nread);
    if (!SSL_is_init_finished(c->ssl)) {
        int r = SSL_do_handshake(c->ssl);
        if (tls_flush(c) < 0) return;
        if (r != 1) {
            if (SSL_get_error(c->ssl, r) != SSL_ERROR_WANT_READ)
                bws_fail(c, "TLS handshake failed");
            return;
        }
        char *req = c->request;
        c->request = NULL;
        int rc = tls_send(c, req, strlen(req));
        free(req);
        if (rc < 0) return;
    }
    while (c->state == BWS_HANDSHAKE || c->state == BWS_OPEN) {
        int n = SSL_read(c->ssl, g_pbuf, (int)sizeof(g_pbuf));
        if (n <= 0) {
            int e = SSL_get_error(c->ssl, n);
            if (e != SSL_ERROR_WANT_READ)
                bws_fail(c, e == SSL_ERROR_ZERO_RETURN ? "connection closed by the server"
                                                       : "TLS read failed");
            break;
        }
        uv_buf_t pb = uv_buf_init(g_pbuf, (unsigned)n);
        read_data(c, n, &pb);
    }
    if (c->ssl && (c->state == BWS_HANDSHAKE || c->state == BWS_OPEN))
        tls_flush(c); /* a key update's answer, if any */
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
    bws_t *c = s->data; /* the caller's memory: still there after a close */
    c->reading = 1;
    if (c->ssl)
        tls_read(c, nread, buf);
    else
        read_data(c, nread, buf);
    c->reading = 0;
}

static void on_request_written(uv_write_t *req, int status)
{
    bws_t *c = req->data;
    free(req);
    free(c->request);
    c->request = NULL;
    if (status < 0)
        bws_fail(c, uv_strerror(status));
}

static void on_connect(uv_connect_t *req, int status)
{
    bws_t *c = req->data;
    if (c->state != BWS_CONNECTING)
        return;
    if (status < 0) {
        bws_fail(c, uv_strerror(status));
        return;
    }
    c->state = BWS_HANDSHAKE;
    uv_tcp_nodelay(&c->tcp, 1);
    if (c->tls) { /* the ClientHello; the request goes once the handshake is done */
        c->ssl = SSL_new(c->tls);
        SSL_set_bio(c->ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
        SSL_set_connect_state(c->ssl);
        SSL_do_handshake(c->ssl);
        if (tls_flush(c) < 0) return;
        int r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
        if (r < 0) bws_fail(c, uv_strerror(r));
        return;
    }
    uv_write_t *w = ch_malloc(sizeof(*w));
    w->data = c;
    uv_buf_t b = uv_buf_init(c->request, (unsigned)strlen(c->request));
    int r = uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_request_written);
    if (r == 0)
        r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    else
        free(w);
    if (r < 0)
        bws_fail(c, uv_strerror(r));
}

int bws_connect(uv_loop_t *loop, bws_t *c, const struct sockaddr *addr,
                const struct sockaddr *src, const char *path)
{
    ws_parser_init(&c->parser, 0, 0);
    c->hs_len = 0;
    c->state = BWS_CONNECTING;
    size_t n = strlen(path) + 256;
    c->request = ch_malloc(n);
    snprintf(c->request, n,
             "GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
             "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
             "Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chorus.v1\r\n\r\n",
             path);
    int r = src ? uv_tcp_init_ex(loop, &c->tcp, src->sa_family) : uv_tcp_init(loop, &c->tcp);
    if (r < 0)
        return r;
    c->tcp.data = c;
    c->creq.data = c;
    if (src) {
#ifdef IP_BIND_ADDRESS_NO_PORT
        /* Pick the port at connect() by the whole four-tuple: a bind() to port 0 searches
         * the source address's ports one by one (inet_csk_get_port), which made the
         * generator spend ~1 ms of kernel time per connection past a few thousand. */
        uv_os_fd_t fd;
        int one = 1;
        if (uv_fileno((uv_handle_t *)&c->tcp, &fd) == 0)
            setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
#endif
        r = uv_tcp_bind(&c->tcp, src, 0);
    }
    if (r == 0)
        r = uv_tcp_connect(&c->creq, &c->tcp, addr, on_connect);
    if (r < 0) {
        c->state = BWS_CLOSING;
        uv_close((uv_handle_t *)&c->tcp, on_closed);
    }
    return r;
}

static void on_detached(uv_handle_t *h)
{
    bws_t *c = h->data;
    c->on_detached(c);
}

int bws_detach(bws_t *c, bws_detached_cb done)
{
    uv_os_fd_t fd;
    if (c->state != BWS_OPEN || c->reading ||
        uv_stream_get_write_queue_size((uv_stream_t *)&c->tcp) > 0)
        return UV_EBUSY;
    int r = uv_fileno((uv_handle_t *)&c->tcp, &fd);
    if (r < 0)
        return r;
    int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
    if (dup_fd < 0)
        return uv_translate_sys_error(errno);
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->moved_fd = dup_fd;
    c->on_detached = done;
    c->state = BWS_MOVING;
    uv_close((uv_handle_t *)&c->tcp, on_detached); /* closes fd, not its duplicate */
    return 0;
}

int bws_attach(bws_t *c, uv_loop_t *loop)
{
    int fd = c->moved_fd;
    c->moved_fd = -1;
    int r = uv_tcp_init(loop, &c->tcp);
    if (r < 0) {
        close(fd);
        c->state = BWS_CLOSED;
        return r;
    }
    c->tcp.data = c;
    r = uv_tcp_open(&c->tcp, fd);
    if (r < 0) {
        close(fd);
        c->state = BWS_CLOSING;
        uv_close((uv_handle_t *)&c->tcp, on_closed);
        return r;
    }
    c->state = BWS_OPEN;
    r = uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (r < 0) {
        c->state = BWS_CLOSING;
        uv_close((uv_handle_t *)&c->tcp, on_closed);
    }
    return r;
}

static int bws_send_frame(bws_t *c, int op, const char *p, size_t n)
{
    if (c->state != BWS_OPEN)
        return -1;
    uint8_t stackbuf[4096];
    size_t total = WS_MAX_HEADER + n;
    uint8_t *f = total <= sizeof(stackbuf) ? stackbuf : ch_malloc(total);
    size_t h = ws_frame_header(f, op, n);
    f[1] |= 0x80; /* client frames are masked */
    memcpy(f + h, k_mask, 4);
    h += 4;
    for (size_t i = 0; i < n; i++)
        f[h + i] = (uint8_t)p[i] ^ k_mask[i & 3];
    size_t len = h + n;
    int r = c->ssl ? tls_send(c, f, len) : raw_send(c, (const char *)f, len);
    if (f != stackbuf)
        free(f);
    return r;
}

int bws_send_text(bws_t *c, const char *p, size_t n)
{
    return bws_send_frame(c, WS_OP_TEXT, p, n);
}
