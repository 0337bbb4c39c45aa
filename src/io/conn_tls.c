/* conn_tls.c: TLS on a connection: OpenSSL over two memory BIOs on the loop thread. */
#include "io/conn.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "util/mem.h"

struct conn_tls_s {
    SSL *ssl;                 /* owned; owns its two memory BIOs */
    size_t sealed;            /* bytes at the front of c->out that are records */
    conn_t *pump_next;        /* the server's pump list (conn_tls_resumed) */
    unsigned established : 1; /* handshake done: plaintext may be sealed */
    unsigned failed : 1;      /* a fatal error or not TLS: no more SSL calls but freeing */
    unsigned notified : 1;    /* close_notify queued */
    unsigned sniffed : 1;     /* the first byte was looked at */
    unsigned pump_listed : 1;
    unsigned refuse : 2; /* CONN_REFUSE_*: answer with that once the handshake is done */
};

/* Records of at most this much plaintext: TLS's maximum, so small queued frames are
 * coalesced into one record instead of one record (and 22+ bytes) each. */
#define TLS_RECORD_MAX 16384

/* A memory BIO keeps the biggest buffer it ever held; once drained, one that grew past
 * this is replaced by a fresh one, so an idle connection holds none. */
#define TLS_BIO_KEEP 0

/* c's TLS state, allocated right after it (conn_tls_size). */
static conn_tls_t *tls_of(const conn_t *c)
{
    return (conn_tls_t *)(void *)((char *)(uintptr_t)c + sizeof(conn_t));
}

_Static_assert(sizeof(conn_t) % _Alignof(conn_tls_t) == 0, "conn_tls_t follows conn_t");

size_t conn_tls_size(void)
{
    return sizeof(conn_tls_t);
}

void conn_tls_init(conn_t *c)
{
    conn_tls_t *t = tls_of(c);
    t->ssl = SSL_new(c->srv->tls_ctx);
    if (!t->ssl) abort(); /* allocation failure, as ch_malloc */
    SSL_set_bio(t->ssl, BIO_new(BIO_s_mem()), BIO_new(BIO_s_mem()));
    SSL_set_accept_state(t->ssl);
    c->tls = 1;
}

void conn_tls_refuse(conn_t *c, unsigned why)
{
    tls_of(c)->refuse = why & 3;
}

/* Takes c off the server's pump list. */
static void pump_unlink(conn_t *c)
{
    conn_tls_t *t = tls_of(c);
    if (!t->pump_listed) return;
    conn_t **pp = &c->srv->tls_pump_list;
    while (*pp != c)
        pp = &tls_of(*pp)->pump_next;
    *pp = t->pump_next;
    t->pump_next = NULL;
    t->pump_listed = 0;
}

void conn_tls_free(conn_t *c)
{
    if (!c->tls) return;
    conn_tls_t *t = tls_of(c);
    pump_unlink(c);
    SSL_free(t->ssl);
    t->ssl = NULL;
    c->tls = 0;
}

size_t conn_tls_sealed(const conn_t *c)
{
    return tls_of(c)->sealed;
}

void conn_tls_wrote(conn_t *c, size_t n)
{
    CH_ASSERT(n <= tls_of(c)->sealed);
    tls_of(c)->sealed -= n;
}

size_t conn_tls_keep(const conn_t *c, size_t keep)
{
    return tls_of(c)->sealed > keep ? tls_of(c)->sealed : keep;
}

/* Replaces a drained memory BIO that holds a buffer (see TLS_BIO_KEEP). */
static void bio_trim(SSL *ssl, int rd)
{
    BIO *b = rd ? SSL_get_rbio(ssl) : SSL_get_wbio(ssl);
    BUF_MEM *m = NULL;
    if (BIO_ctrl_pending(b) != 0) return;
    BIO_get_mem_ptr(b, &m);
    if (!m || m->max <= TLS_BIO_KEEP) return;
    BIO *fresh = BIO_new(BIO_s_mem());
    if (!fresh) abort();
    if (rd)
        SSL_set0_rbio(ssl, fresh); /* frees the old one */
    else
        SSL_set0_wbio(ssl, fresh);
}

/* Moves what OpenSSL wrote into the write BIO onto c->out, after the records there. The
 * plaintext not sealed yet (only before the handshake is done: it cannot be sent, and a
 * response before the handshake is never read) is dropped. */
static void take_output(conn_t *c)
{
    conn_tls_t *t = tls_of(c);
    BIO *w = SSL_get_wbio(t->ssl);
    size_t n = BIO_ctrl_pending(w);
    if (n == 0) return;
    cbuf_t *b = cbuf_new(n);
    int got = BIO_read(w, b->data, (int)n);
    CH_ASSERT(got == (int)n);
    b->len = n;
    conn_out_truncate(c, t->sealed);
    conn_out_push(c, b);
    cbuf_unref(b);
    t->sealed = c->out.bytes;
    bio_trim(t->ssl, 0);
}

/* Logs OpenSSL's reason for the error on c, clears its queue, and finishes c (an alert
 * OpenSSL made goes out first). */
static void tls_fail(conn_t *c, const char *what)
{
    char r[CONN_REMOTE_MAX], msg[200] = "";
    unsigned long e = ERR_peek_last_error();
    if (e) ERR_error_string_n(e, msg, sizeof(msg));
    ERR_clear_error();
    log_debug(c->srv->log, "%s: tls %s failed: %s", conn_remote(c, r), what, e ? msg : "");
    take_output(c);
    conn_out_truncate(c, tls_of(c)->sealed);
    tls_of(c)->failed = 1;
    conn_finish(c, CONN_LINGER_MS);
}

/* Writes len bytes of plaintext into records. Returns 0 or -1. */
static int seal_bytes(conn_tls_t *t, const void *p, size_t len)
{
    if (len == 0) return 0;
    int n = SSL_write(t->ssl, p, (int)len);
    return n == (int)len ? 0 : -1;
}

void conn_tls_seal(conn_t *c)
{
    conn_tls_t *t = tls_of(c);
    if (t->failed) {
        conn_out_truncate(c, t->sealed);
        return;
    }
    size_t plain = c->out.bytes - t->sealed;
    if (plain > 0 && t->established) {
        struct iovec small[64], *iov = small;
        if (c->out.count > 64) iov = ch_malloc(c->out.count * sizeof(*iov));
        size_t n = outq_iov(&c->out, iov, c->out.count);
        size_t skip = t->sealed, fill = 0;
        char *stage = c->srv->tls_stage;
        int rc = 0;
        for (size_t i = 0; i < n && rc == 0; i++) {
            if (skip >= iov[i].iov_len) { /* records already; ends on an item boundary */
                skip -= iov[i].iov_len;
                continue;
            }
            const char *p = iov[i].iov_base;
            size_t len = iov[i].iov_len;
            while (len > 0 && rc == 0) {
                if (fill == 0 && len >= TLS_RECORD_MAX) { /* a whole record, no copy */
                    rc = seal_bytes(t, p, TLS_RECORD_MAX);
                    p += TLS_RECORD_MAX;
                    len -= TLS_RECORD_MAX;
                    continue;
                }
                size_t k = TLS_RECORD_MAX - fill < len ? TLS_RECORD_MAX - fill : len;
                memcpy(stage + fill, p, k);
                fill += k;
                p += k;
                len -= k;
                if (fill == TLS_RECORD_MAX) {
                    rc = seal_bytes(t, stage, fill);
                    fill = 0;
                }
            }
        }
        if (rc == 0) rc = seal_bytes(t, stage, fill);
        if (iov != small) free(iov);
        if (rc != 0) {
            tls_fail(c, "write");
            return;
        }
        conn_out_truncate(c, t->sealed);
    }
    take_output(c);
}

int conn_tls_close_notify(conn_t *c)
{
    conn_tls_t *t = tls_of(c);
    conn_out_truncate(c, t->sealed);
    if (t->notified || t->failed || !t->established) return 0;
    t->notified = 1;
    SSL_shutdown(t->ssl);
    ERR_clear_error();
    take_output(c);
    return t->sealed > 0;
}

/* Answers what is not a TLS record on a TLS port: a plain HTTP request (its first byte a
 * method's capital letter) gets a 400 in plain HTTP saying so, anything else a close. */
static void not_tls(conn_t *c, const char *data)
{
    conn_tls_t *t = tls_of(c);
    char r[CONN_REMOTE_MAX];
    log_debug(c->srv->log, "%s: not TLS on the TLS port", conn_remote(c, r));
    t->failed = 1;
    conn_out_truncate(c, t->sealed);
    if (data[0] >= 'A' && data[0] <= 'Z') {
        static const char body[] =
            "{\"success\":false,\"error\":{\"code\":\"tls_required\",\"message\":"
            "\"this port speaks HTTPS: use an https:// or wss:// URL\"}}";
        char head[256];
        int hn = snprintf(head, sizeof(head),
                          "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\n"
                          "Content-Length: %zu\r\nConnection: close\r\n\r\n",
                          sizeof(body) - 1);
        cbuf_t *b = cbuf_new((size_t)hn + sizeof(body) - 1);
        cbuf_append(&b, head, (size_t)hn);
        cbuf_append(&b, body, sizeof(body) - 1);
        conn_out_push(c, b);
        cbuf_unref(b);
        t->sealed = c->out.bytes;
    }
    conn_finish(c, CONN_LINGER_MS);
}

/* Handshakes, then decrypts into the server's read buffer and hands the plaintext to c's
 * protocol while c reads. */
static void pump(conn_t *c)
{
    conn_tls_t *t = tls_of(c);
    if (!t->established) {
        int r = SSL_do_handshake(t->ssl);
        if (r != 1) {
            int e = SSL_get_error(t->ssl, r);
            if (e != SSL_ERROR_WANT_READ) {
                tls_fail(c, "handshake");
                return;
            }
            if (BIO_ctrl_pending(SSL_get_wbio(t->ssl))) server_want_flush(c->srv, c);
            bio_trim(t->ssl, 1);
            return;
        }
        t->established = 1;
        server_want_flush(c->srv, c); /* the handshake's end and its tickets */
        if (t->refuse) { /* sealed at the flush; what the client sends is not read */
            conn_refuse_reply(c, t->refuse);
            t->refuse = 0;
            return;
        }
    }
    server_t *s = c->srv;
    while (!c->read_stopped && !c->closing && !c->finishing) {
        int r = SSL_read(t->ssl, s->readbuf, (int)sizeof(s->readbuf));
        if (r > 0) {
            if (c->kind == CONN_WS)
                conn_ws_on_data(c, (uint8_t *)s->readbuf, (size_t)r);
            else
                conn_http_on_data(c, s->readbuf, (size_t)r);
            continue;
        }
        int e = SSL_get_error(t->ssl, r);
        if (e == SSL_ERROR_ZERO_RETURN) { /* close_notify: the peer is done, like EOF */
            conn_close(c);
        } else if (e != SSL_ERROR_WANT_READ) {
            tls_fail(c, "read");
            return;
        }
        break;
    }
    if (BIO_ctrl_pending(SSL_get_wbio(t->ssl))) server_want_flush(s, c);
    bio_trim(t->ssl, 1);
}

void conn_tls_on_read(conn_t *c, const char *data, size_t len)
{
    conn_tls_t *t = tls_of(c);
    if (t->failed) return;
    if (!t->sniffed) {
        t->sniffed = 1;
        if ((unsigned char)data[0] != 0x16) { /* a TLS handshake record starts so */
            not_tls(c, data);
            return;
        }
    }
    BIO_write(SSL_get_rbio(t->ssl), data, (int)len);
    pump(c);
}

/* Runs the pumps of the connections that resumed with input held by OpenSSL. */
static void on_pump(uv_idle_t *h)
{
    server_t *s = h->data;
    uv_idle_stop(h);
    while (s->tls_pump_list) {
        conn_t *c = s->tls_pump_list;
        s->tls_pump_list = tls_of(c)->pump_next;
        tls_of(c)->pump_next = NULL;
        tls_of(c)->pump_listed = 0;
        if (!c->closing && !c->finishing && !c->read_stopped && !tls_of(c)->failed) pump(c);
    }
}

void conn_tls_resumed(conn_t *c)
{
    conn_tls_t *t = tls_of(c);
    if (t->pump_listed || t->failed) return;
    if (SSL_pending(t->ssl) == 0 && BIO_ctrl_pending(SSL_get_rbio(t->ssl)) == 0) return;
    t->pump_listed = 1;
    t->pump_next = c->srv->tls_pump_list;
    c->srv->tls_pump_list = c;
    uv_idle_start(&c->srv->tls_pump, on_pump);
}
