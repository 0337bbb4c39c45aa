/* conn.c: connection lifecycle: accept, read dispatch, corked writes, finish and close. */
#include "io/conn.h"

#include <errno.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

/* libuv documents uv_buf_t as layout-compatible with struct iovec on Unix; the output
 * queue fills iovecs and hands them to libuv as they are. */
_Static_assert(sizeof(uv_buf_t) == sizeof(struct iovec), "uv_buf_t is an iovec");
_Static_assert(offsetof(uv_buf_t, base) == offsetof(struct iovec, iov_base), "iov_base");
_Static_assert(offsetof(uv_buf_t, len) == offsetof(struct iovec, iov_len), "iov_len");

/* Buffers per writev. IOV_MAX is 1024 on Linux; 256 keeps the stack array small and still
 * covers a loop iteration's output in one call for all but the busiest connections. */
#define CONN_IOV 256

static void on_alloc(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
    (void)suggested;
    conn_t *c = h->data;
    buf->base = c->srv->readbuf;
    buf->len = sizeof(c->srv->readbuf);
}

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *buf)
{
    conn_t *c = stream->data;
    if (nread == 0) return;
    if (nread < 0) {
        /* Only queue the close: when thousands of clients go at once, libuv reads all their
         * ends of stream in one poll, so nothing here may cost more than that (the peer's
         * address for a line that is not written was a getpeername call each). */
        char r[CONN_REMOTE_MAX], id[CONN_REQ_ID_MAX];
        log_t *lg = c->srv->log;
        if (nread != UV_EOF && nread != UV_ECONNRESET && log_wants(lg, LOG_DEBUG)) {
            log_req(lg, LOG_DEBUG, conn_req_id(c, id), "%s: read error: %s", conn_remote(c, r),
                    uv_strerror((int)nread));
        }
        if (c->kind == CONN_WS && !c->close_sent && !c->closing && log_wants(lg, LOG_INFO))
            log_req(lg, LOG_INFO, conn_req_id(c, id),
                    "%s: websocket dropped without a close frame", conn_remote(c, r));
        conn_close(c);
        return;
    }
    if (c->finishing || c->closing) return; /* lingering: discard until EOF */
    c->last_rx = (uint32_t)uv_now(c->srv->loop);
    c->srv->stat.bytes_in += (uint64_t)nread;
    if (c->tls)
        conn_tls_on_read(c, buf->base, (size_t)nread);
    else if (c->kind == CONN_WS)
        conn_ws_on_data(c, (uint8_t *)buf->base, (size_t)nread);
    else conn_http_on_data(c, buf->base, (size_t)nread);
}

void conn_on_timer(conn_t *c)
{
    if (c->closing) return;
    if (c->finishing) {
        conn_close(c); /* the peer did not close in time */
        return;
    }
    if (c->kind == CONN_WS) conn_ws_on_timer(c);
    else conn_http_on_timer(c);
}

void conn_read_stop(conn_t *c)
{
    c->read_stopped = 1;
    uv_read_stop((uv_stream_t *)&c->tcp);
}

void conn_pause(conn_t *c)
{
    conn_read_stop(c);
    conn_timer_stop(c);
}

void conn_resume(conn_t *c)
{
    if (c->closing || c->finishing) return;
    c->read_stopped = 0;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
    if (c->tls) conn_tls_resumed(c);
}

static void on_handle_closed(uv_handle_t *h)
{
    conn_t *c = h->data;
    server_t *s = c->srv;
    CH_ASSERT(c->timer_idx == 0);
    s->stat.conns[conn_state(c)]--;
    conn_out_truncate(c, 0);
    conn_http_free(c);
    int was_ws = c->kind == CONN_WS;
    conn_ws_free(c);
    conn_tls_free(c);
    server_conn_gone(s, c);
    /* Rooms let go of it; a reply still on its way keeps the memory until it is done. */
    if (was_ws && !proto_client_gone(&s->app->proto, &c->pc)) return;
    proto_client_free(&c->pc);
    slab_free(c);
}

void conn_close(conn_t *c)
{
    if (c->closing) return;
    c->closing = 1;
    server_defer_cancel(c->srv, c); /* its held input is freed with it */
    /* Its timer stays in the heap until conn_close_handles (a budget of closes an
     * iteration): firing meanwhile, it finds c closing and does nothing. */
    uv_read_stop((uv_stream_t *)&c->tcp);
    server_close_later(c->srv, c);
}

void conn_close_handles(conn_t *c)
{
    conn_timer_stop(c);
    /* A pending uv_write completes with UV_ECANCELED before the close callback runs. */
    uv_close((uv_handle_t *)&c->tcp, on_handle_closed);
}

/* libuv calls this once per request, with UV_ECANCELED when the handle is closed first,
 * and always before the handle's close callback: c is still there. */
static void on_shutdown(uv_shutdown_t *req, int status)
{
    conn_t *c = req->data;
    free(req);
    if (status < 0 && !c->closing) conn_close(c);
}

static void on_write(uv_write_t *req, int status);

/* The bytes at the front of c's queue the socket may take: all of them, or with TLS the
 * records (what follows is plaintext to seal). */
static size_t sendable(const conn_t *c)
{
    return c->tls ? conn_tls_sealed(c) : c->out.bytes;
}

/* outq_iov over the sendable bytes (with TLS they end on an item boundary). */
static size_t out_iov(const conn_t *c, struct iovec *iov, size_t max)
{
    size_t n = outq_iov(&c->out, iov, max);
    if (!c->tls) return n;
    size_t left = conn_tls_sealed(c), i = 0;
    for (; i < n && left > 0; i++)
        left -= iov[i].iov_len;
    return i;
}

/* n bytes of the queue were written. */
static void consume(conn_t *c, size_t n)
{
    outq_consume(&c->out, n);
    c->srv->stat.queued_bytes -= n;
    if (c->tls) conn_tls_wrote(c, n);
}

/* Hands what the socket did not take to uv_write (libuv waits for the socket to become
 * writable), or, with nothing left and the connection finishing, shuts down its sending
 * side. */
static void write_rest(conn_t *c)
{
    if (c->closing) return;
    if (c->tls) conn_tls_seal(c); /* what was queued since the flush sealed */
    if (sendable(c) > 0) {
        uv_buf_t bufs[CONN_IOV];
        size_t n = out_iov(c, (struct iovec *)bufs, CONN_IOV);
        c->inflight = 0;
        for (size_t i = 0; i < n; i++)
            c->inflight += (uint32_t)bufs[i].len;
        /* The request lives only while the write is in flight (on_write frees it): most
         * connections are idle, and most writes go out whole through the direct path. */
        uv_write_t *req = ch_malloc(sizeof(*req));
        req->data = c;
        if (uv_write(req, (uv_stream_t *)&c->tcp, bufs, (unsigned)n, on_write) < 0) {
            free(req);
            conn_close(c);
            return;
        }
        c->writing = 1;
        return;
    }
    if (c->finishing && !c->shut) {
        if (c->tls && conn_tls_close_notify(c)) {
            write_rest(c);
            return;
        }
        c->shut = 1;
        /* Made here, once in a connection's life, not carried by every idle one. */
        uv_shutdown_t *req = ch_malloc(sizeof(*req));
        req->data = c;
        if (uv_shutdown(req, (uv_stream_t *)&c->tcp, on_shutdown) < 0) {
            free(req);
            conn_close(c);
        }
    }
}

/* Accounts for a direct write of res bytes (or a negative error) of c's queue. */
static void wrote(conn_t *c, long res)
{
    if (res < 0 && res != UV_EAGAIN) {
        char r[CONN_REMOTE_MAX], id[CONN_REQ_ID_MAX];
        log_req(c->srv->log, LOG_DEBUG, conn_req_id(c, id), "%s: write error: %s",
                conn_remote(c, r), uv_strerror((int)res));
        conn_close(c);
        return;
    }
    if (res > 0) {
        consume(c, (size_t)res);
        c->srv->stat.bytes_out += (uint64_t)res;
    }
    if (res > 0 && c->drain_wait && !c->closing) conn_http_on_drain(c);
    if (res > 0 && c->ws_paused && !c->closing) conn_ws_on_drain(c);
    write_rest(c);
}

void conn_flush(conn_t *c)
{
    if (c->closing || c->writing) return;
    if (c->tls) conn_tls_seal(c);
    if (sendable(c) > 0) {
        uv_buf_t bufs[CONN_IOV];
        size_t n = out_iov(c, (struct iovec *)bufs, CONN_IOV);
        /* Try the socket directly first: usually it takes everything and no request
         * object or callback is needed. */
        wrote(c, uv_try_write((uv_stream_t *)&c->tcp, bufs, (unsigned)n));
        return;
    }
    write_rest(c);
}

static void batch_done(void *data, long res)
{
    /* liburing reports -errno, and libuv's UV_E* are -errno on Unix too. Like
     * uv_try_write, take EINTR and ENOBUFS for "nothing sent, try when writable". */
    if (res == -EINTR || res == -ENOBUFS) res = UV_EAGAIN;
    wrote(data, res);
}

/* Takes c off the server's flush list; returns the connection after it. */
static conn_t *flush_unlink(conn_t *c)
{
    conn_t *next = c->flush_next;
    c->flush_next = NULL;
    c->flush_listed = 0;
    return next;
}

/* 1 when the flush budget stops at c: it has output to send now and the budget is
 * spent (a connection with nothing to send, or closing, costs none and is unlinked). A
 * WebSocket whose queue passed a quarter of --ws-max-queue sends whatever the budget:
 * the budget must never be what makes a client that reads look slow (conn_send closes
 * it at --ws-max-queue) when a burst queues more than the flushes' budgets take. */
static int over_budget(const conn_t *c, size_t budget)
{
    return budget == 0 && !c->closing && !c->writing && sendable(c) > 0 &&
           !(c->kind == CONN_WS && c->out.bytes > c->srv->cfg->ws_max_queue / 4);
}

/* Lowers *budget by the n bytes handed to the kernel (to 0 at most). */
static void charge(size_t *budget, size_t n)
{
    *budget -= n < *budget ? n : *budget;
}

/* Moves c, the head of the list being flushed, to the end of the kept list (*tail: its
 * last link), still flush_listed; returns the rest of the list. */
static conn_t *keep(conn_t *c, conn_t ***tail)
{
    conn_t *next = c->flush_next;
    c->flush_next = NULL;
    **tail = c;
    *tail = &c->flush_next;
    return next;
}

conn_t *conn_flush_list(conn_t *list, uring_t *u, size_t *budget)
{
    /* The connections the budget leaves, in their order; the walk goes on past them, so a
     * queue over the quarter of --ws-max-queue behind them is still sent (over_budget). */
    conn_t *kept = NULL, **tail = &kept;
    /* A ring that broke in an earlier call is not used again (flush_all calls this for the
     * carry, then for the new list, and frees a broken ring only after both): every send
     * queued on it would come back ECANCELED and close its connection. */
    if (u && uring_broken(u)) u = NULL;
    while (u && list) {
        conn_t *c = list;
        uv_os_fd_t fd;
        if (c->tls && !c->closing && !c->writing) conn_tls_seal(c);
        if (over_budget(c, *budget)) {
            list = keep(c, &tail);
            continue;
        }
        if (c->closing || c->writing || sendable(c) == 0 ||
            uv_fileno((uv_handle_t *)&c->tcp, &fd) != 0) {
            list = flush_unlink(c);
            conn_flush(c); /* nothing to send, or it cannot be sent now */
            continue;
        }
        struct iovec iov[CONN_IOV];
        size_t n = out_iov(c, iov, CONN_IOV);
        if (uring_sendv(u, fd, iov, n, c) == 0) {
            list = flush_unlink(c);
            for (size_t i = 0; i < n; i++)
                charge(budget, iov[i].iov_len);
            continue;
        }
        uring_run(u, batch_done); /* full: send these, then queue c again */
        if (uring_broken(u)) break;
    }
    if (u && uring_queued(u) > 0) uring_run(u, batch_done);
    if (u && !uring_broken(u)) {
        *tail = list;
        return kept;
    }
    /* No ring, or it failed: one writev each. */
    while (list) {
        conn_t *c = list;
        if (c->tls && !c->closing && !c->writing) conn_tls_seal(c);
        if (over_budget(c, *budget)) {
            list = keep(c, &tail);
            continue;
        }
        list = flush_unlink(c);
        if (!c->closing && !c->writing) charge(budget, sendable(c));
        conn_flush(c);
    }
    return kept;
}

void conn_input_resume(conn_t *c)
{
    if (c->closing) return;
    if (c->kind == CONN_WS)
        conn_ws_resume_input(c);
    else conn_http_resume(c);
}

/* Like on_shutdown, called once per request and before the handle's close callback. */
static void on_write(uv_write_t *req, int status)
{
    conn_t *c = req->data;
    free(req);
    c->writing = 0;
    if (status < 0) {
        if (!c->closing) conn_close(c);
        return;
    }
    consume(c, c->inflight);
    c->srv->stat.bytes_out += c->inflight;
    c->inflight = 0;
    if (c->drain_wait && !c->closing) conn_http_on_drain(c);
    if (c->ws_paused && !c->closing) conn_ws_on_drain(c);
    conn_flush(c);
}

unsigned conn_state(const conn_t *c)
{
    return c->kind == CONN_HTTP ? SERVER_CONNS_HTTP
           : c->sio             ? SERVER_CONNS_SIO_WS
                                : SERVER_CONNS_WS;
}

void conn_out_push(conn_t *c, cbuf_t *b)
{
    outq_push_in(&c->out, c->srv->out_slab, b);
    c->srv->stat.queued_bytes += b->len;
}

void conn_out_truncate(conn_t *c, size_t n)
{
    size_t was = c->out.bytes;
    if (n == 0)
        outq_clear(&c->out);
    else
        outq_truncate(&c->out, n);
    c->srv->stat.queued_bytes -= was - c->out.bytes;
}

void conn_send(conn_t *c, cbuf_t *b)
{
    if (c->closing || c->shut) return;
    conn_out_push(c, b);
    server_want_flush(c->srv, c);
    /* Every buffer queued on a WebSocket is one frame (header first). */
    if (c->kind == CONN_WS && b->len > 0) c->srv->stat.ws_out[b->data[b->off] & 0x0f]++;
    /* A client that does not read must not make us buffer without bound, nor slow
     * anyone else. */
    if (c->kind == CONN_WS && !c->close_sent && c->out.bytes > c->srv->cfg->ws_max_queue)
        conn_ws_close_slow(c, "over --ws-max-queue");
}

void conn_ws_close_slow(conn_t *c, const char *why)
{
    /* Drop what it has not been sent yet and close it. Bytes already handed to libuv stay
     * (it points into them). */
    char r[CONN_REMOTE_MAX], id[CONN_REQ_ID_MAX];
    log_req(c->srv->log, LOG_INFO, conn_req_id(c, id),
            "%s: closing a slow client (%zu bytes queued, %s)", conn_remote(c, r),
            (size_t)c->out.bytes, why);
    conn_out_truncate(c, c->tls ? conn_tls_keep(c, c->inflight) : c->inflight);
    c->srv->stat.slow_closed++;
    conn_ws_close(c, WS_CLOSE_POLICY, "client too slow");
}

const char *conn_req_id(const conn_t *c, char buf[CONN_REQ_ID_MAX])
{
    snprintf(buf, CONN_REQ_ID_MAX, "%08" PRIx32 "-%" PRIx64 "-%u", c->srv->boot_id,
             (uint64_t)c->pc.rcv.id, (unsigned)c->req_n);
    return buf;
}

void conn_finish(conn_t *c, uint64_t linger_ms)
{
    if (c->closing || c->finishing) return;
    c->finishing = 1;
    conn_timer(c, linger_ms);
    server_want_flush(c->srv, c);
}

/* Writes the peer's address of tcp as "ip:port" into remote (CONN_REMOTE_MAX) and leaves
 * it in *ss_out (family AF_UNSPEC when unknown). */
static void peer_name(const uv_tcp_t *tcp, char *remote, struct sockaddr_storage *ss_out)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    char host[48] = "?";
    int port = 0;
    memset(&ss, 0, sizeof(ss));
    if (uv_tcp_getpeername(tcp, (struct sockaddr *)&ss, &len) == 0) {
        if (ss.ss_family == AF_INET6) {
            uv_ip6_name((struct sockaddr_in6 *)&ss, host, sizeof(host));
            port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
        } else {
            uv_ip4_name((struct sockaddr_in *)&ss, host, sizeof(host));
            port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
        }
    }
    snprintf(remote, CONN_REMOTE_MAX, "%s:%d", host, port);
    if (ss_out) *ss_out = ss;
}

const char *conn_ip(const conn_t *c, char buf[NET_IP_TEXT])
{
    if (c->ip_known)
        net_ip_text(&c->ip, buf, NET_IP_TEXT);
    else
        snprintf(buf, NET_IP_TEXT, "?");
    return buf;
}

const char *conn_remote(const conn_t *c, char buf[CONN_REMOTE_MAX])
{
    const char *kept = conn_http_remote(c);
    if (kept) return kept;
    peer_name(&c->tcp, buf, NULL);
    return buf;
}

void conn_refuse_reply(conn_t *c, unsigned why)
{
    if (why == CONN_REFUSE_BUSY)
        conn_http_error(c, 503, "service_unavailable", "too many connections",
                        "Retry-After: 1\r\n");
    else
        conn_http_error(c, 429, "too_many_connections",
                        "too many connections from your address", "Retry-After: 1\r\n");
    conn_finish(c, 1000);
}

/* Refuses a new connection: the HTTP error goes out at once on a plain one, after the
 * handshake on a TLS one (conn_tls_refuse), and the connection closes. */
static void refuse(conn_t *c, unsigned why)
{
    if (c->tls) {
        /* The answer waits for the handshake, for a second at most (not the header
         * timeout): refused connections must not pile up. */
        conn_tls_refuse(c, why);
        conn_timer(c, 1000);
    } else
        conn_refuse_reply(c, why);
}

/* Which listener a connection came from. */
enum { FROM_MAIN, FROM_REDIRECT, FROM_METRICS };

/* Accepts one pending connection from listener (the server's, its --tls-redirect one or
 * its --metrics-listen one, as from says). */
static void accept_from(server_t *s, uv_tcp_t *listener, int from)
{
    int tls = s->tls_ctx && from == FROM_MAIN;
    conn_t *c = slab_alloc(s->conn_slab, sizeof(*c) + (tls ? conn_tls_size() : 0));
    c->redirect = from == FROM_REDIRECT;
    c->metrics_only = from == FROM_METRICS;
    c->srv = s;
    /* The identity names the connection in logs from its first request; a WebSocket keeps it
     * (conn_ws_start). */
    c->pc.rcv.id = bus_member_next(s->app->bus);
    uv_tcp_init(s->loop, &c->tcp);
    c->tcp.data = c;
    outq_init(&c->out);
    c->next = s->conns;
    if (s->conns) s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    s->stat.conns[SERVER_CONNS_HTTP]++;
    if (uv_accept((uv_stream_t *)listener, (uv_stream_t *)&c->tcp) != 0) {
        conn_close(c);
        return;
    }
#ifndef __linux__
    uv_tcp_nodelay(&c->tcp, 1); /* Linux: inherited from the listener (bind_listener) */
#endif
    struct sockaddr_storage ss;
    char remote[CONN_REMOTE_MAX];
    peer_name(&c->tcp, remote, &ss);
    /* An IPv4-mapped IPv6 peer (a dual-stack listener) is kept as the IPv4 address it is. */
    c->ip_known = net_ip_from_sockaddr((const struct sockaddr *)&ss, &c->ip) == 0;
    c->last_rx = (uint32_t)uv_now(s->loop);
    if (tls) conn_tls_init(c);
    conn_http_init(c, remote);
    if (s->nconns + s->nsessions > s->cfg->max_connections) {
        log_warn(s->log, "%s: refused: %zu connections open (max-connections)", remote,
                 s->nconns - 1);
        refuse(c, CONN_REFUSE_BUSY);
    } else if (server_ip_acquire(s, c, (struct sockaddr *)&ss) != 0) {
        log_warn(s->log,
                 "%s: refused: %" PRIu64 " connections open from this address "
                 "(max-connections-per-ip)",
                 remote, s->cfg->max_connections_per_ip);
        refuse(c, CONN_REFUSE_PER_IP);
    }
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

void conn_accept(server_t *s)
{
    accept_from(s, &s->listener, FROM_MAIN);
}

void conn_accept_redirect(server_t *s)
{
    accept_from(s, &s->redirect, FROM_REDIRECT);
}

void conn_accept_metrics(server_t *s)
{
    accept_from(s, &s->metrics, FROM_METRICS);
}
