/* conn_http.c: HTTP/1.1 on a connection: request loop, routing, responses, static files,
 * the WebSocket upgrade. */
#include "io/conn.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "io/http_csp.h"
#include "io/http_deadline.h"
#include "io/http_metrics.h"
#include "io/http_redirect.h"
#include "io/http_range.h"
#include "io/http_static.h"
#include "proto/eio_packet.h"
#include "util/clock.h"
#include "util/mem.h"
#include "util/net_addr.h"
#include "io/ws_handshake.h"

/* Static files are read this much at a time, as the connection's output queue drains
 * (see pump_file): a file costs at most one chunk of memory per connection whatever its
 * size. 64 KiB: one read from the page cache, a few TCP segments' worth of sends. The
 * reads run on libuv's thread pool, one at a time per connection, never on the loop. */
#define HTTP_FILE_CHUNK (64 * 1024)

/* An HTML page is read whole to pin its inline scripts in its Content-Security-Policy;
 * a bigger one is streamed like any file, with a policy that allows no inline script. */
#define HTTP_PAGE_MAX (1024 * 1024)

struct conn_http_s {
    http_reqparser_t p;
    char remote[CONN_REMOTE_MAX]; /* the peer's "ip:port": every request logs it */
    char req_id[CONN_REQ_ID_MAX]; /* the current request's id ("": none begun yet) */
    uint64_t req_start_ns; /* hrtime when the current request began, 0 = none yet */
    uint64_t req_start;    /* loop time (ms) of the current request's first byte */
    uint64_t body_start;   /* loop time (ms) its headers were complete */
    uint64_t last_tx;      /* loop time (ms) of the last write progress while drain_wait */
    api_req_t *api_req;    /* the API request being answered (reading is paused) */
    api_req_t *body_req;   /* the API request whose body is streaming to its consumer */
    void *held_by;         /* a held Engine.IO polling GET's session (reading is paused) */
    api_blob_check_t *blob_check; /* a blob read's permission check (reading is paused) */
    char *stash;           /* owned: input that arrived after it, handled on resume */
    size_t stash_len;
    /* A static file being sent: read in chunks as the output queue drains. */
    uint64_t file_off, file_left;
    struct file_read_s *file_read; /* the chunk being read on the pool (NULL: none) */
    int file_fd;
    unsigned file_open : 1;
    unsigned file_last : 1; /* finish the connection once it is sent */
};

static const char *reason_phrase(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 307: return "Temporary Redirect";
    case 308: return "Permanent Redirect";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 410: return "Gone";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 416: return "Range Not Satisfiable";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 460: return "Checksum Mismatch";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
    }
}

static const char *error_code(int status)
{
    switch (status) {
    case 400: return "bad_request";
    case 401: return "unauthorized";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 408: return "request_timeout";
    case 413: return "payload_too_large";
    case 426: return "upgrade_required";
    case 431: return "headers_too_large";
    case 503: return "service_unavailable";
    default: return "internal_error";
    }
}

/* The request being answered, or NULL before one was parsed. */
static const http_request_t *current(conn_t *c)
{
    return conn_http_live(c) && conn_http_live(c)->p.headers_done ? &conn_http_live(c)->p.req : NULL;
}

/* Queues one response. body is borrowed and copied into the same buffer as the head so
 * the whole response leaves in one write; body NULL with len > 0 queues the head only (the
 * caller sends the len bytes). last: send "Connection: close". omit_body: HEAD and 304
 * carry the length but no bytes. */
static void queue_response(conn_t *c, int status, const char *ctype, const char *extra,
                           const void *body, size_t len, int last, int omit_body)
{
    const http_request_t *req = current(c);
    char head[1024];
    int h = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nServer: chorus/" CHORUS_VERSION "\r\nDate: %s\r\n",
                     status, reason_phrase(status), server_http_date(c->srv));
    if (ctype) h += snprintf(head + h, sizeof(head) - (size_t)h, "Content-Type: %s\r\n", ctype);
    if (status != 304 && status != 101 && status != 204)
        h += snprintf(head + h, sizeof(head) - (size_t)h, "Content-Length: %zu\r\n", len);
    if (conn_http_live(c) && conn_http_live(c)->req_id[0])
        h += snprintf(head + h, sizeof(head) - (size_t)h, "X-Request-Id: %s\r\n",
                      conn_http_live(c)->req_id);
    if (last) h += snprintf(head + h, sizeof(head) - (size_t)h, "Connection: close\r\n");
    else if (req && req->http_major == 1 && req->http_minor == 0)
        h += snprintf(head + h, sizeof(head) - (size_t)h, "Connection: keep-alive\r\n");
    CH_ASSERT(h > 0 && (size_t)h < sizeof(head));
    size_t extra_len = extra ? strlen(extra) : 0;
    size_t body_len = omit_body ? 0 : len;
    size_t copy_len = body ? body_len : 0;
    cbuf_t *b = cbuf_new((size_t)h + extra_len + 2 + copy_len);
    cbuf_append(&b, head, (size_t)h);
    if (extra_len) cbuf_append(&b, extra, extra_len);
    cbuf_append(&b, "\r\n", 2);
    if (copy_len) cbuf_append(&b, body, copy_len);
    conn_send(c, b);
    cbuf_unref(b);

    c->srv->stat.http_requests++;
    if (status == 429) c->srv->stat.http_limited++;
    uint64_t t0 = conn_http_live(c) ? conn_http_live(c)->req_start_ns : 0;
    double ms = t0 ? (double)(uv_hrtime() - t0) / 1e6 : 0.0;
    log_access(c->srv->log, conn_http_live(c) && conn_http_live(c)->req_id[0] ? conn_http_live(c)->req_id : NULL,
               conn_http_live(c) ? conn_http_live(c)->remote : "-",
               req ? http_method_str((enum http_method)req->method) : "-",
               req ? req->path : "-", req ? req->path_len : 1, status, body_len, ms);
}

/* Queues one response (see queue_response); last: finish the connection afterwards. */
static void respond(conn_t *c, int status, const char *ctype, const char *extra,
                    const void *body, size_t len, int last, int omit_body)
{
    queue_response(c, status, ctype, extra, body, len, last, omit_body);
    if (last) conn_finish(c, CONN_LINGER_MS);
}

/* One chunk of a file read on the pool for connection c. A connection freed meanwhile
 * leaves it with c NULL and the file to close (conn_http_free). */
typedef struct file_read_s {
    uv_fs_t fs;
    conn_t *c;
    cbuf_t *b;
    int fd;
} file_read_t;

static void file_close(conn_t *c)
{
    if (!conn_http_live(c) || !conn_http_live(c)->file_open) return;
    if (conn_http_live(c)->file_read) /* the read's callback closes it */
        conn_http_live(c)->file_read->c = NULL;
    else
        close(conn_http_live(c)->file_fd);
    conn_http_live(c)->file_read = NULL;
    conn_http_live(c)->file_open = 0;
    conn_http_live(c)->file_left = 0;
}

static void pump_file(conn_t *c);

static void on_file_read(uv_fs_t *fs)
{
    file_read_t *rd = fs->data;
    conn_t *c = rd->c;
    ssize_t got = fs->result;
    cbuf_t *b = rd->b;
    uv_fs_req_cleanup(fs);
    if (!c) { /* the connection went away meanwhile */
        close(rd->fd);
        cbuf_unref(b);
        free(rd);
        return;
    }
    free(rd);
    conn_http_t *h = conn_http_live(c);
    h->file_read = NULL;
    if (c->closing) {
        cbuf_unref(b);
        file_close(c);
        return;
    }
    if (got <= 0) { /* the file shrank or failed under us: nothing left to say but close */
        cbuf_unref(b);
        log_warn(c->srv->log, "%s: static file read failed; closing", h->remote);
        file_close(c);
        conn_close(c);
        return;
    }
    b->len = (size_t)got;
    conn_send(c, b);
    cbuf_unref(b);
    h->file_off += (uint64_t)got;
    h->file_left -= (uint64_t)got;
    if (h->file_left == 0) {
        file_close(c);
        if (h->file_last) conn_finish(c, CONN_LINGER_MS);
        return; /* the queue's drain (conn_http_on_drain) takes the next request */
    }
    pump_file(c);
}

/* Reads the next chunk of the file being sent on the pool, when none is being read and
 * the output queue is under http_max_queue (the queue's drain asks again). */
static void pump_file(conn_t *c)
{
    conn_http_t *h = conn_http_live(c);
    size_t max = (size_t)c->srv->cfg->http_max_queue;
    if (!h->file_open || h->file_read || c->closing || c->out.bytes >= max) return;
    size_t n = h->file_left < HTTP_FILE_CHUNK ? (size_t)h->file_left : HTTP_FILE_CHUNK;
    file_read_t *rd = ch_calloc(1, sizeof(*rd));
    rd->c = c;
    rd->fd = h->file_fd;
    rd->b = cbuf_new(n);
    rd->fs.data = rd;
    h->file_read = rd;
    uv_buf_t iov = uv_buf_init((char *)rd->b->data, (unsigned)n);
    int rc =
        uv_fs_read(c->srv->loop, &rd->fs, rd->fd, &iov, 1, (int64_t)h->file_off, on_file_read);
    if (rc < 0) { /* never queued: no callback */
        h->file_read = NULL;
        cbuf_unref(rd->b);
        free(rd);
        log_warn(c->srv->log, "%s: static file read failed; closing", h->remote);
        file_close(c);
        conn_close(c);
    }
}

/* Starts sending len bytes of fd from off after the head (pump_file); takes fd. */
static void send_file(conn_t *c, int fd, uint64_t off, uint64_t len, int last)
{
    conn_http_live(c)->file_fd = fd;
    conn_http_live(c)->file_open = 1;
    conn_http_live(c)->file_last = (unsigned)last;
    conn_http_live(c)->file_off = off;
    conn_http_live(c)->file_left = len;
    pump_file(c);
}

static int keep_alive(conn_t *c)
{
    const http_request_t *req = current(c);
    return req && req->keep_alive && !c->srv->stopping;
}

static void respond_json(conn_t *c, int status, json_t *body, const char *extra, int last)
{
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    const http_request_t *req = current(c);
    int head = req && req->method == HTTP_HEAD;
    respond(c, status, "application/json", extra, text, strlen(text), last, head);
    free(text);
}

static void error_reply(conn_t *c, int status, const char *code, const char *message,
                        const char *extra, int last)
{
    json_t *body = json_pack("{s:b, s:{s:s, s:s}}", "success", 0, "error", "code", code,
                             "message", message);
    respond_json(c, status, body, extra, last);
}

void conn_http_error(conn_t *c, int status, const char *code, const char *message,
                     const char *extra_headers)
{
    error_reply(c, status, code ? code : error_code(status), message, extra_headers, 1);
}

static void method_not_allowed(conn_t *c, const char *allow)
{
    char extra[64];
    snprintf(extra, sizeof(extra), "Allow: %s\r\n", allow);
    error_reply(c, 405, "method_not_allowed", "method not allowed", extra, !keep_alive(c));
}

/* GET /healthz, readiness: 200 {"status":"ok"} while this node can serve, else 503
 * {"status":"unavailable","reasons":[...]} ("store": the database is failing, "bus": the
 * cluster bus is not connected), so a load balancer stops sending it new connections.
 * GET /livez (live), liveness: 200 while the loop runs, whatever its dependencies do. */
static void handle_healthz(conn_t *c, const http_request_t *req, int live)
{
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        method_not_allowed(c, "GET, HEAD");
        return;
    }
    app_t *app = c->srv->app;
    json_t *reasons = json_array();
    if (!live && app->store && !store_ready(app->store))
        json_array_append_new(reasons, json_string("store"));
    if (!live && app->bus && !bus_ready(app->bus))
        json_array_append_new(reasons, json_string("bus"));
    if (json_array_size(reasons) == 0) {
        json_decref(reasons);
        respond_json(c, 200, json_pack("{s:s}", "status", "ok"), NULL, !keep_alive(c));
        return;
    }
    respond_json(c, 503, json_pack("{s:s, s:o}", "status", "unavailable", "reasons", reasons),
                 NULL, !keep_alive(c));
}

/* Returns the token of an "Authorization: Bearer <token>" header, or NULL. */
static const char *bearer_token(const http_request_t *req, size_t *len)
{
    const http_header_t *h = http_request_header(req, "Authorization");
    if (!h || h->value_len < 7 || strncasecmp(h->value, "Bearer ", 7) != 0) return NULL;
    const char *v = h->value + 7;
    size_t n = h->value_len - 7;
    while (n > 0 && *v == ' ') {
        v++;
        n--;
    }
    *len = n;
    return n ? v : NULL;
}

/* Returns every line of header name joined with ',' (new, caller frees; NULL when there
 * is none), with its length in *len. */
static char *header_joined(const http_request_t *req, const char *name, size_t *len)
{
    size_t n = strlen(name), total = 0;
    char *out = NULL;
    for (size_t i = 0; i < req->nheaders; i++) {
        const http_header_t *h = &req->headers[i];
        if (h->name_len != n || strncasecmp(h->name, name, n) != 0) continue;
        out = ch_realloc(out, total + h->value_len + 2);
        if (total) out[total++] = ',';
        memcpy(out + total, h->value, h->value_len);
        total += h->value_len;
        out[total] = '\0';
    }
    *len = total;
    return out;
}

/* Writes the client's address for req into out (cap >= NET_IP_TEXT): the peer's, or
 * the one its forwarding headers name when the peer is a --trusted-proxies address. */
static void request_ip(conn_t *c, const http_request_t *req, char *out, size_t cap)
{
    const chorus_config_t *cfg = c->srv->cfg;
    char peer[NET_IP_TEXT];
    conn_ip(c, peer);
    if (!cfg->ntrusted_proxies) {
        snprintf(out, cap, "%s", peer);
        return;
    }
    size_t flen = 0, xlen = 0;
    char *fwd = header_joined(req, "Forwarded", &flen);
    char *xff = header_joined(req, "X-Forwarded-For", &xlen);
    net_client_ip(peer, cfg->trusted_proxies, cfg->ntrusted_proxies, fwd, flen, xff, xlen, out,
                  cap);
    free(fwd);
    free(xff);
}

/* Keeps ip (text from request_ip, borrowed) as c's client address, in binary. */
static void set_client_ip(conn_t *c, const char *ip)
{
    c->ip_known = net_ip_parse(ip, strlen(ip), &c->ip) == 0;
}

/* Returns the raw value of query parameter name (up to '&'), or NULL. */
static const char *query_param(const http_request_t *req, const char *name, size_t *len)
{
    size_t n = strlen(name);
    const char *q = req->query, *end = req->query + req->query_len;
    while (q < end) {
        const char *amp = memchr(q, '&', (size_t)(end - q));
        const char *stop = amp ? amp : end;
        if ((size_t)(stop - q) > n && memcmp(q, name, n) == 0 && q[n] == '=') {
            *len = (size_t)(stop - q) - n - 1;
            return *len ? q + n + 1 : NULL;
        }
        q = stop + 1;
    }
    return NULL;
}

/* The checks of a WebSocket upgrade (/ws and /socket.io/): a GET, a valid handshake (origin
 * included) into *hs, a server not shutting down. Returns 0, or -1 once it answered. */
static int upgrade_checked(conn_t *c, const http_request_t *req, ws_handshake_t *hs)
{
    if (req->method != HTTP_GET) {
        method_not_allowed(c, "GET");
        return -1;
    }
    const char *why = "bad handshake";
    int status = ws_handshake_check(req, &c->srv->handshake, hs, &why);
    if (status != 0) {
        const char *extra = status == 426 ? "Sec-WebSocket-Version: 13\r\n" : NULL;
        error_reply(c, status, error_code(status), why, extra, 1);
        return -1;
    }
    if (c->srv->stopping) {
        error_reply(c, 503, "service_unavailable", "server shutting down", NULL, 1);
        return -1;
    }
    return 0;
}

static void handle_ws(conn_t *c, const http_request_t *req)
{
    ws_handshake_t hs;
    if (upgrade_checked(c, req, &hs) != 0) return;
    /* Browsers cannot set headers on a WebSocket, so the token may come in the query. */
    size_t tlen = 0;
    const char *tok = bearer_token(req, &tlen);
    if (!tok) tok = query_param(req, "token", &tlen);
    char client_ip[NET_IP_TEXT];
    request_ip(c, req, client_ip, sizeof(client_ip));
    auth_claims_t claims;
    if (tok) {
        const char *reason = "invalid token";
        uint64_t retry_ms = 0;
        int rc = proto_auth_verify(&c->srv->app->proto, client_ip, tok, tlen,
                                   uv_now(c->srv->loop), &claims, &reason, &retry_ms);
        if (rc == PROTO_AUTH_ELIMITED) {
            char ra[40];
            snprintf(ra, sizeof(ra), "Retry-After: %llu\r\n",
                     (unsigned long long)(retry_ms + 999) / 1000);
            error_reply(c, 429, "rate_limited", reason, ra, 1);
            return;
        }
        if (rc != 0) {
            error_reply(c, 401, "unauthorized", reason,
                        "WWW-Authenticate: Bearer realm=\"chorus\"\r\n", 1);
            return;
        }
    }
    char extra[160];
    snprintf(extra, sizeof(extra),
             "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n%s",
             hs.accept, hs.subprotocol ? "Sec-WebSocket-Protocol: chorus.v1\r\n" : "");
    respond(c, 101, NULL, extra, NULL, 0, 0, 1);
    /* From now on c->ip is the client's: behind a trusted proxy, the one it forwarded. */
    set_client_ip(c, client_ip);
    conn_ws_start(c, tok ? &claims : NULL);
}

/* GET /socket.io/?EIO=4&transport=websocket: an Engine.IO session over WebSocket, with
 * the /ws upgrade's checks (origin, shutdown); the token comes in Socket.IO's CONNECT. */
static void handle_sio(conn_t *c, const http_request_t *req)
{
    int last = !keep_alive(c);
    size_t n = 0;
    const char *eio = query_param(req, "EIO", &n);
    if (!eio || n != 1 || eio[0] != '0' + EIO_PROTOCOL) {
        error_reply(c, 400, "unsupported_protocol_version",
                    "this server speaks Engine.IO 4 only (EIO=4)", NULL, last);
        return;
    }
    const char *transport = query_param(req, "transport", &n);
    if (transport && n == 7 && memcmp(transport, "polling", 7) == 0) {
        /* The session's address: behind a trusted proxy, the one it forwarded. */
        char client_ip[NET_IP_TEXT];
        request_ip(c, req, client_ip, sizeof(client_ip));
        conn_sio_poll_request(c, req, client_ip);
        return;
    }
    if (!transport || n != 9 || memcmp(transport, "websocket", 9) != 0) {
        error_reply(c, 400, "unknown_transport", "transport must be polling or websocket", NULL,
                    last);
        return;
    }
    size_t sid_len = 0;
    const char *sid = query_param(req, "sid", &sid_len);
    void *sess = NULL;
    if (sid && !(sess = conn_sio_poll_find(c->srv, sid, sid_len))) {
        error_reply(c, 400, "unknown_sid", "no such Engine.IO session", NULL, last);
        return;
    }
    ws_handshake_t hs;
    if (upgrade_checked(c, req, &hs) != 0) return;
    char client_ip[NET_IP_TEXT];
    request_ip(c, req, client_ip, sizeof(client_ip));
    char extra[128];
    snprintf(extra, sizeof(extra),
             "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: %s\r\n",
             hs.accept);
    respond(c, 101, NULL, extra, NULL, 0, 0, 1);
    set_client_ip(c, client_ip);
    if (sess)
        conn_sio_poll_upgrade(sess, c);
    else
        conn_sio_start_ws(c);
}

/* Percent-encodes a relative path for a Location header: unreserved characters and '/'
 * stay, everything else becomes %XX, so nothing a client sent can split the header. */
static void location_encode(const char *rel, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t o = 0;
    out[o++] = '/';
    for (const unsigned char *p = (const unsigned char *)rel; *p && o + 4 < cap; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
            *p == '-' || *p == '.' || *p == '_' || *p == '~' || *p == '/') {
            out[o++] = (char)*p;
        } else {
            out[o++] = '%';
            out[o++] = hex[*p >> 4];
            out[o++] = hex[*p & 15];
        }
    }
    out[o] = '\0';
}

static void handle_static(conn_t *c, const http_request_t *req)
{
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        method_not_allowed(c, "GET, HEAD");
        return;
    }
    int last = !keep_alive(c);
    char rel[PATH_MAX];
    static_file_t f;
    int rc = STATIC_NOT_FOUND;
    if (c->srv->web_root && static_path_normalize(req->path, req->path_len, rel, sizeof(rel)) == 0)
        rc = static_open(c->srv->web_root, rel, &f);
    if (rc == STATIC_REDIRECT) {
        char loc[PATH_MAX * 3 + 32], enc[PATH_MAX * 3];
        location_encode(rel, enc, sizeof(enc));
        snprintf(loc, sizeof(loc), "Location: %s/\r\n", enc);
        error_reply(c, 301, "moved", "this is a directory", loc, last);
        return;
    }
    if (rc == STATIC_NOT_FOUND) {
        error_reply(c, 404, "not_found", "no such file", NULL, last);
        return;
    }
    if (rc != STATIC_OK) {
        error_reply(c, 500, "internal_error", "cannot read the file", NULL, last);
        return;
    }
    char extra[HTTP_CSP_MAX + 256];
    int n = snprintf(extra, sizeof(extra),
                     "ETag: %s\r\nCache-Control: no-cache\r\n" HTTP_CSP_STATIC_HEADERS, f.etag);
    CH_ASSERT(n > 0 && (size_t)n < sizeof(extra));
    const http_header_t *inm = http_request_header(req, "If-None-Match");
    if (inm && static_etag_matches(inm->value, inm->value_len, f.etag)) {
        respond(c, 304, NULL, extra, NULL, 0, last, 1);
        close(f.fd);
        return;
    }
    int head = req->method == HTTP_HEAD;
    if (strncmp(f.mime, "text/html", 9) == 0) {
        char *page = f.size <= HTTP_PAGE_MAX ? ch_malloc(f.size + 1) : NULL;
        size_t got = 0;
        while (page && got < f.size) {
            ssize_t r = pread(f.fd, page + got, f.size - got, (off_t)got);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0) break;
            got += (size_t)r;
        }
        if (page && got != f.size) {
            free(page);
            close(f.fd);
            error_reply(c, 500, "internal_error", "cannot read the file", NULL, last);
            return;
        }
        char csp[HTTP_CSP_MAX];
        http_csp_policy(page ? page : "", page ? f.size : 0, csp, sizeof(csp));
        snprintf(extra + n, sizeof(extra) - (size_t)n, "Content-Security-Policy: %s\r\n", csp);
        if (page) {
            respond(c, 200, f.mime, extra, page, f.size, last, head);
            free(page);
            close(f.fd);
            return;
        }
    }
    /* The head now, the bytes as the client takes them (pump_file). */
    queue_response(c, 200, f.mime, extra, NULL, f.size, last, head);
    if (head || f.size == 0) {
        close(f.fd);
        if (last) conn_finish(c, CONN_LINGER_MS);
        return;
    }
    send_file(c, f.fd, 0, f.size, last);
}

/* GET|HEAD /api/blobs/<sha256>: a stored upload's bytes (docs/assets.md), for a user
 * who may read them (the uploader of an asset of that content, or a participant of a room
 * that has one: a store check, api_assets_readable) or with a signed URL
 * (?asset=&exp=&sig=, checked here). Content-addressed, so cacheable forever (the hash is
 * the ETag; privately for a token's read, publicly until its expiry for a signed URL);
 * one Range (206, suffix ranges, 416), If-None-Match (304); sent in file chunks as the
 * client reads (pump_file), so memory stays flat whatever the size. */
static void serve_blob(conn_t *c, const http_request_t *req, int64_t public_s)
{
    int last = !keep_alive(c);
    const char *hex = req->path + 11; /* after "/api/blobs/" */
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/blobs/%.2s/%.64s", c->srv->cfg->data_dir, hex, hex);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0) close(fd);
        error_reply(c, 404, "not_found", "no such blob", NULL, last);
        return;
    }
    uint64_t size = (uint64_t)st.st_size;
    char extra[512];
    char cache[96];
    if (public_s >= 0)
        snprintf(cache, sizeof(cache), "public, max-age=%lld, immutable", (long long)public_s);
    else
        snprintf(cache, sizeof(cache), "private, max-age=31536000, immutable");
    int h = snprintf(extra, sizeof(extra),
                     "ETag: \"%.64s\"\r\nCache-Control: %s\r\n"
                     "Accept-Ranges: bytes\r\nX-Content-Type-Options: nosniff\r\n",
                     hex, cache);
    const http_header_t *inm = http_request_header(req, "If-None-Match");
    char etag[70];
    snprintf(etag, sizeof(etag), "\"%.64s\"", hex);
    if (inm && static_etag_matches(inm->value, inm->value_len, etag)) {
        close(fd);
        respond(c, 304, NULL, extra, NULL, 0, last, 1);
        return;
    }
    uint64_t start = 0, len = size;
    int status = 200;
    const http_header_t *range = http_request_header(req, "Range");
    /* RFC 9110 13.1.5: a Range under an If-Range that is not exactly the blob's strong
     * ETag (a blob has no Last-Modified, so a date never matches) gets the whole blob. */
    const http_header_t *ifr = http_request_header(req, "If-Range");
    if (range && ifr &&
        (ifr->value_len != strlen(etag) || memcmp(ifr->value, etag, ifr->value_len) != 0))
        range = NULL;
    if (range) {
        int rr = http_range_parse(range->value, range->value_len, size, &start, &len);
        if (rr == HTTP_RANGE_UNSATISFIABLE) {
            close(fd);
            char cr[64];
            snprintf(cr, sizeof(cr), "Content-Range: bytes */%" PRIu64 "\r\n", size);
            error_reply(c, 416, "range_not_satisfiable", "the range is outside the blob", cr,
                        last);
            return;
        }
        if (rr == HTTP_RANGE_OK) {
            status = 206;
            snprintf(extra + h, sizeof(extra) - (size_t)h,
                     "Content-Range: bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64 "\r\n", start,
                     start + len - 1, size);
        } else {
            start = 0;
            len = size;
        }
    }
    int head = req->method == HTTP_HEAD;
    queue_response(c, status, "application/octet-stream", extra, NULL, len, last, head);
    if (head || len == 0) {
        close(fd);
        if (last) conn_finish(c, CONN_LINGER_MS);
        return;
    }
    send_file(c, fd, start, len, last);
}

static void request_done(conn_t *c);
static void carry_on(conn_t *c);

/* The store answered whether the user may read the blob (api_assets_readable). */
static void on_blob_checked(void *ud, int readable, int err)
{
    conn_t *c = ud; /* alive: conn_http_free cancels the check */
    conn_http_live(c)->blob_check = NULL;
    if (c->finishing || c->closing) return;
    const http_request_t *req = &conn_http_live(c)->p.req;
    if (err != 0)
        error_reply(c, 500, "internal_error", "the permission check failed; try again", NULL,
                    !keep_alive(c));
    else if (!readable) /* as for no blob: whether it exists is not told */
        error_reply(c, 404, "not_found", "no such blob", NULL, !keep_alive(c));
    else
        serve_blob(c, req, -1);
    request_done(c);
    carry_on(c);
}

static void handle_blob(conn_t *c, const http_request_t *req)
{
    int last = !keep_alive(c);
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        method_not_allowed(c, "GET, HEAD");
        return;
    }
    const char *hex = req->path + 11; /* after "/api/blobs/" */
    size_t n = req->path_len - 11;
    int ok = n == 64;
    for (size_t i = 0; ok && i < n; i++)
        ok = (hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f');
    if (!ok) {
        error_reply(c, 404, "not_found", "no such blob", NULL, last);
        return;
    }
    api_t *api = &c->srv->app->api;
    if (asset_url_present(req->query, req->query_len)) { /* a signed URL: no token */
        int rc = api_assets_url_check(api, hex, req->query, req->query_len);
        if (rc == ASSET_URL_EXPIRED) {
            error_reply(c, 403, "url_expired", "this signed URL has expired: ask a new one",
                        NULL, last);
        } else if (rc != ASSET_URL_OK) {
            error_reply(c, 403, "invalid_signature",
                        "this signed URL is malformed or was altered", NULL, last);
        } else {
            asset_url_t u;
            asset_url_parse(req->query, req->query_len, &u);
            int64_t left = u.exp - (int64_t)(clock_unix_ms() / 1000);
            serve_blob(c, req, left > 0 ? left : 0);
        }
        return;
    }
    size_t tlen = 0;
    const char *tok = bearer_token(req, &tlen);
    char client_ip[NET_IP_TEXT];
    request_ip(c, req, client_ip, sizeof(client_ip));
    auth_claims_t claims;
    const char *reason = "missing bearer token";
    uint64_t retry_ms = 0;
    int rc = tok ? proto_auth_verify(&c->srv->app->proto, client_ip, tok, tlen,
                                     uv_now(c->srv->loop), &claims, &reason, &retry_ms)
                 : PROTO_AUTH_EINVALID;
    if (rc == PROTO_AUTH_ELIMITED) {
        char ra[40];
        snprintf(ra, sizeof(ra), "Retry-After: %llu\r\n",
                 (unsigned long long)(retry_ms + 999) / 1000);
        error_reply(c, 429, "rate_limited", reason, ra, last);
        return;
    }
    if (rc != 0) {
        error_reply(c, 401, "unauthorized", reason,
                    "WWW-Authenticate: Bearer realm=\"chorus\"\r\n", last);
        return;
    }
    /* Reading stops until the store answers (busy): the request stays parsed meanwhile. */
    conn_http_live(c)->blob_check = api_assets_readable(api, claims.sub, hex, on_blob_checked, c);
}

/* Gets ready for the next request on c once the current one was answered. */
static void request_done(conn_t *c)
{
    if (c->finishing || c->closing) return;
    http_reqparser_reset(&conn_http_live(c)->p);
    conn_http_live(c)->req_start_ns = 0;
    conn_timer(c, c->srv->cfg->http_idle_timeout);
}

/* 1 while c must not take its next request: an API answer is pending, a file is being
 * sent, or more than http_max_queue bytes of responses wait for the client to read them.
 * This one bound covers every kind of response, so pipelining cannot grow the queue. */
static int busy(const conn_t *c)
{
    api_req_t *br = conn_http_live(c)->body_req;
    return conn_http_live(c)->api_req || conn_http_live(c)->held_by || conn_http_live(c)->blob_check || conn_http_live(c)->file_open ||
           c->out.bytes > c->srv->cfg->http_max_queue ||
           (br && br->body_ops && br->body_ops->room(br) == 0);
}

/* Keeps the unhandled input (one read at most: reading stops here) for later. */
static void stash(conn_t *c, const char *data, size_t len)
{
    CH_ASSERT(!conn_http_live(c)->stash);
    conn_http_live(c)->stash = ch_malloc(len);
    memcpy(conn_http_live(c)->stash, data, len);
    conn_http_live(c)->stash_len = len;
}

/* Stops reading while c is busy. Waiting for the API stops the timer too (the answer
 * comes); waiting for the client to read arms it as a stall timeout (conn_http_on_timer). */
static void hold(conn_t *c)
{
    if (conn_http_live(c)->api_req || conn_http_live(c)->held_by || conn_http_live(c)->body_req || conn_http_live(c)->blob_check) {
        conn_pause(c);
        return;
    }
    conn_read_stop(c);
    if (!c->drain_wait) {
        c->drain_wait = 1;
        conn_http_live(c)->last_tx = uv_now(c->srv->loop);
        conn_timer(c, c->srv->cfg->http_idle_timeout);
    }
}

/* Carries on after a hold: holds again if still busy, else answers what was held back
 * and reads again. */
static void body_timer(conn_t *c);

static void carry_on(conn_t *c)
{
    if (c->closing || c->finishing || c->kind != CONN_HTTP) return;
    if (busy(c)) {
        hold(c);
        return;
    }
    char *rest = conn_http_live(c)->stash;
    size_t n = conn_http_live(c)->stash_len;
    conn_http_live(c)->stash = NULL;
    conn_http_live(c)->stash_len = 0;
    conn_resume(c);
    if (conn_http_live(c) && !conn_http_live(c)->p.started) conn_timer(c, c->srv->cfg->http_idle_timeout);
    else if (conn_http_live(c) && conn_http_live(c)->body_req)
        body_timer(c); /* hold stopped it */
    if (rest) conn_http_on_data(c, rest, n);
    free(rest);
}

void conn_http_on_drain(conn_t *c)
{
    if (!conn_http_live(c)) { /* upgraded meanwhile: nothing of HTTP waits */
        c->drain_wait = 0;
        return;
    }
    conn_http_live(c)->last_tx = uv_now(c->srv->loop);
    if (conn_http_live(c)->file_open) pump_file(c);
    if (c->closing || conn_http_live(c)->file_open || c->out.bytes > c->srv->cfg->http_max_queue) return;
    c->drain_wait = 0;
    server_want_resume(c->srv, c);
}

void conn_http_resume(conn_t *c)
{
    carry_on(c);
}

/* The API's answer to c's current request. From inside api_handle (c->in_api_call) the
 * request loop carries on by itself; later, this resumes it. */
static void api_done(api_req_t *r)
{
    conn_t *c = r->conn;
    if (!c) { /* the client went away meanwhile */
        api_req_free(r);
        return;
    }
    if (c->finishing || c->closing) {
        /* The connection answered already (a 408 or a parse error mid-body) and ends: a
         * second answer would follow the first. r is detached so conn_http_free neither
         * aborts its consumer (which answered, so let go of it) nor touches it. */
        if (conn_http_live(c)) {
            if (r->streaming && conn_http_live(c)->body_req == r) conn_http_live(c)->body_req = NULL;
            if (conn_http_live(c)->api_req == r) conn_http_live(c)->api_req = NULL;
        }
        r->streaming = 0;
        api_req_free(r);
        return;
    }
    /* Answered before its streamed body was read: the rest of it cannot be told from the
     * next request without reading it, so the connection ends with this answer. */
    int cut = r->streaming;
    if (cut) {
        r->streaming = 0;
        conn_http_live(c)->body_req = NULL;
    }
    conn_http_live(c)->api_req = NULL;
    int last = cut || !keep_alive(c);
    const char *extra = r->extra[0] ? r->extra : NULL;
    if (r->empty) {
        respond(c, r->status, NULL, extra, NULL, 0, last, 1);
    } else if (r->resp_text) {
        const http_request_t *req = current(c);
        respond(c, r->status, "application/json", extra, r->resp_text->data + r->resp_text->off,
                r->resp_text->len, last, req && req->method == HTTP_HEAD);
    } else {
        respond_json(c, r->status, json_incref(r->resp), extra, last);
    }
    api_req_free(r);
    if (cut) return;
    if (!c->in_api_call) {
        request_done(c);
        carry_on(c);
    }
}

void conn_http_reply(conn_t *c, int status, const char *ctype, const char *extra,
                     const void *body, size_t len)
{
    respond(c, status, ctype, extra, body, len, !keep_alive(c), 0);
}

void conn_http_hold(conn_t *c, void *owner)
{
    CH_ASSERT(conn_http_live(c) && !conn_http_live(c)->held_by && owner);
    conn_http_live(c)->held_by = owner;
}

void conn_http_release(conn_t *c, int status, const char *ctype, const char *extra,
                       const void *body, size_t len)
{
    CH_ASSERT(conn_http_live(c) && conn_http_live(c)->held_by);
    conn_http_live(c)->held_by = NULL;
    respond(c, status, ctype, extra, body, len, !keep_alive(c), 0);
    request_done(c);
    /* Not now: the caller may be inside a bus publish (sess_push); what was pipelined
     * behind the GET runs from the loop. */
    server_want_resume(c->srv, c);
}

/* Returns a new API request for req with its address, token and headers. */
static api_req_t *api_request(conn_t *c, const http_request_t *req)
{
    api_req_t *r = api_req_new(&c->srv->app->api, req->method, req->path, req->path_len,
                               req->query, req->query_len);
    request_ip(c, req, r->ip, sizeof(r->ip));
    size_t tlen = 0;
    const char *tok = bearer_token(req, &tlen);
    if (tok) api_req_set_bearer(r, tok, tlen);
    size_t n = req->nheaders;
    const char **names = ch_malloc((n ? n : 1) * 2 * sizeof(char *));
    size_t *lens = ch_malloc((n ? n : 1) * 2 * sizeof(size_t));
    for (size_t i = 0; i < n; i++) {
        names[i] = req->headers[i].name;
        lens[i] = req->headers[i].name_len;
        names[n + i] = req->headers[i].value;
        lens[n + i] = req->headers[i].value_len;
    }
    api_req_set_headers(r, n, names, lens, names + n, lens + n);
    free(names);
    free(lens);
    r->done = api_done;
    r->conn = c;
    return r;
}

static void handle_api(conn_t *c, const http_request_t *req)
{
    api_req_t *r = api_request(c, req);
    if (req->body) api_req_set_body(r, req->body, req->body_len);
    conn_http_live(c)->api_req = r;
    c->in_api_call = 1;
    api_handle(r);
    c->in_api_call = 0;
}

/* The consumer of c's streamed body has room again: read on, from the loop (it may be
 * inside a disk write's callback). */
static void on_body_ready(api_req_t *r)
{
    conn_t *c = r->conn;
    if (c && conn_http_live(c) && conn_http_live(c)->body_req == r) server_want_resume(c->srv, c);
}

/* At the end of a request's headers: an API route that streams its body (API_STREAM)
 * gets its request now and the body as it arrives; any other request carries on
 * buffered. */
static void maybe_stream(conn_t *c, http_request_t *req)
{
    /* The redirect and metrics listeners serve no API: their routing answers (308, 404). */
    if (c->redirect || c->metrics_only) return;
    if (req->path_len < 5 || memcmp(req->path, "/api/", 5) != 0 ||
        !api_route_streams(&c->srv->app->api, req->method, req->path, req->path_len))
        return;
    http_reqparser_stream(&conn_http_live(c)->p);
    api_req_t *r = api_request(c, req);
    r->streaming = 1;
    r->body_ready = on_body_ready;
    conn_http_live(c)->body_req = r;
    c->in_api_call = 1;
    api_handle(r); /* sets r->body_ops, or answers (then the connection ends) */
    c->in_api_call = 0;
    /* An API_STREAM handler either answers or takes the body. */
    CH_ASSERT(!(conn_http_live(c) && conn_http_live(c)->body_req == r && !r->body_ops));
}

/* The streamed body of c's request is complete: its consumer answers (now or later). */
static void body_end(conn_t *c)
{
    api_req_t *r = conn_http_live(c)->body_req;
    conn_http_live(c)->body_req = NULL;
    r->streaming = 0;
    conn_http_live(c)->api_req = r;
    c->in_api_call = 1;
    r->body_ops->end(r);
    c->in_api_call = 0;
}

static int path_is(const http_request_t *req, const char *p)
{
    size_t n = strlen(p);
    return req->path_len == n && memcmp(req->path, p, n) == 0;
}

/* The process's resident memory and file descriptors, from /proc (Linux) and getrlimit;
 * what cannot be read stays 0. */
static void process_figures(http_metrics_t *m)
{
    int d_skip = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        unsigned long long size, rss;
        if (fscanf(f, "%llu %llu", &size, &rss) == 2)
            m->rss_bytes = rss * (uint64_t)sysconf(_SC_PAGESIZE);
        fclose(f);
    }
    /* Linux 6.2 and later give the count as the folder's size; older ones say 0 and
     * get the walk (one entry per descriptor: per connection). */
    struct stat st;
    if (stat("/proc/self/fd", &st) == 0 && st.st_size > 0) {
        m->open_fds = (uint64_t)st.st_size;
        d_skip = 1;
    }
    DIR *d = d_skip ? NULL : opendir("/proc/self/fd");
    if (d) {
        uint64_t n = 0;
        for (struct dirent *e; (e = readdir(d));)
            if (e->d_name[0] != '.') n++;
        closedir(d);
        m->open_fds = n > 0 ? n - 1 : 0; /* not the one reading the folder */
    }
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
        m->max_fds = (uint64_t)rl.rlim_cur;
}

/* GET /metrics (http_metrics.h): a client outside --metrics-allow gets the 404 of a path
 * that does not exist, whatever the method. */
static void handle_metrics(conn_t *c, const http_request_t *req)
{
    char ip[NET_IP_TEXT];
    request_ip(c, req, ip, sizeof(ip));
    if (!http_metrics_allowed(c->srv->cfg, ip)) {
        error_reply(c, 404, "not_found", "no such file", NULL, !keep_alive(c));
        return;
    }
    const http_header_t *auth = http_request_header(req, "Authorization");
    if (!http_metrics_token_ok(c->srv->cfg, auth ? auth->value : NULL,
                               auth ? auth->value_len : 0)) {
        error_reply(c, 401, "unauthorized", "/metrics needs its bearer token (--metrics-token)",
                    "WWW-Authenticate: Bearer realm=\"metrics\"\r\n", !keep_alive(c));
        return;
    }
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        method_not_allowed(c, "GET, HEAD");
        return;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    server_t *s = c->srv;
    app_t *app = s->app;
    http_metrics_t m = {
        .loop = &s->loop_stat,
        .cpu_us = (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000u +
                  (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec),
        .io = &s->stat,
        .proto = &app->proto,
        .api = &app->api,
        .store = app->store ? store_stat(app->store) : NULL,
        .delivered = app->bus->delivered,
        .framed = app->bus->framed,
    };
    /* Gauges kept as things change: nothing is walked here. */
    m.queued_bytes = s->stat.queued_bytes;
    m.conns[HTTP_METRICS_HTTP] = s->stat.conns[SERVER_CONNS_HTTP];
    m.conns[HTTP_METRICS_WEBSOCKET] = s->stat.conns[SERVER_CONNS_WS];
    m.conns[HTTP_METRICS_SIO_WEBSOCKET] = s->stat.conns[SERVER_CONNS_SIO_WS];
    m.conns[HTTP_METRICS_SIO_POLLING] = s->nsessions;
    rooms_count(&app->rooms, &m.rooms, &m.online);
    process_figures(&m);
    char text[HTTP_METRICS_MAX];
    int n = http_metrics_text(&m, text, sizeof(text));
    if (n <= 0) { /* the page outgrew its buffer: a bug to fix, not a reason to stop */
        conn_http_error(c, 500, "internal_error", "the metrics page does not fit", NULL);
        return;
    }
    respond(c, 200, HTTP_METRICS_CTYPE, NULL, text, (size_t)n, !keep_alive(c),
            req->method == HTTP_HEAD);
}

/* The --tls-redirect listener: every request goes to the same target over https. */
static void handle_redirect(conn_t *c, const http_request_t *req)
{
    int count = 0;
    const http_header_t *host = NULL;
    for (size_t i = 0; i < req->nheaders; i++)
        if (req->headers[i].name_len == 4 &&
            strncasecmp(req->headers[i].name, "Host", 4) == 0) {
            host = &req->headers[i];
            count++;
        }
    char loc[HTTP_REDIRECT_MAX], extra[HTTP_REDIRECT_MAX + 16];
    if (count != 1 ||
        http_redirect_location(host->value, host->value_len, req->target, req->target_len,
                               c->srv->port, loc, sizeof(loc)) != 0) {
        error_reply(c, 400, "bad_request", "a redirect needs one valid Host header", NULL,
                    !keep_alive(c));
        return;
    }
    snprintf(extra, sizeof(extra), "Location: %s\r\n", loc);
    respond(c, 308, NULL, extra, NULL, 0, !keep_alive(c), 0);
}

/* A trusted proxy's X-Request-Id: 1 to LOG_REQ_ID_MAX characters of [A-Za-z0-9._:-]
 * (what reaches logs and headers stays plain); anything else is ignored. */
static int request_id_ok(const char *v, size_t n)
{
    if (n == 0 || n > LOG_REQ_ID_MAX) return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = v[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == ':' || ch == '-'))
            return 0;
    }
    return 1;
}

/* The request's id is ours (set when it began), or the one a --trusted-proxies peer sent. */
static void adopt_request_id(conn_t *c, const http_request_t *req)
{
    const chorus_config_t *cfg = c->srv->cfg;
    const http_header_t *h = http_request_header(req, "X-Request-Id");
    if (!h || !cfg->ntrusted_proxies || !request_id_ok(h->value, h->value_len)) return;
    if (!c->ip_known ||
        !net_cidr_list_match(cfg->trusted_proxies, cfg->ntrusted_proxies, &c->ip))
        return;
    memcpy(conn_http_live(c)->req_id, h->value, h->value_len);
    conn_http_live(c)->req_id[h->value_len] = '\0';
}

const char *conn_http_req_id(const conn_t *c)
{
    return conn_http_live(c)->req_id;
}

static void handle_request(conn_t *c, const http_request_t *req)
{
    adopt_request_id(c, req);
    if (c->redirect)
        handle_redirect(c, req);
    else if (path_is(req, "/healthz"))
        handle_healthz(c, req, 0);
    else if (path_is(req, "/livez"))
        handle_healthz(c, req, 1);
    else if (path_is(req, "/metrics") && c->metrics_only == c->srv->has_metrics)
        handle_metrics(c, req); /* on the --metrics-listen listener only, when there is one */
    else if (c->metrics_only || path_is(req, "/metrics"))
        error_reply(c, 404, "not_found", "no such file", NULL, !keep_alive(c));
    else if (path_is(req, "/ws")) handle_ws(c, req);
    else if (path_is(req, "/socket.io/"))
        handle_sio(c, req);
    else if (req->path_len >= 11 && memcmp(req->path, "/api/blobs/", 11) == 0)
        handle_blob(c, req);
    else if (req->path_len >= 5 && memcmp(req->path, "/api/", 5) == 0) handle_api(c, req);
    else handle_static(c, req);
}

void conn_http_init(conn_t *c, const char *remote)
{
    c->kind = CONN_HTTP;
    c->http = ch_calloc(1, sizeof(*c->http));
    c->http_on = 1;
    snprintf(conn_http_live(c)->remote, sizeof(conn_http_live(c)->remote), "%s", remote);
    http_reqparser_init(&conn_http_live(c)->p, c->srv->cfg->http_max_header, c->srv->cfg->http_max_body);
    conn_http_live(c)->p.stop_at_headers = 1; /* a route may take its body streamed (maybe_stream) */
    /* A connection that sends nothing is held only as long as a slow request would be. */
    conn_timer(c, c->srv->cfg->http_header_timeout);
}

void conn_http_free(conn_t *c)
{
    conn_http_t *h = conn_http_live(c);
    if (!h) return;
    server_resume_cancel(c->srv, c); /* resume_next goes with the union's HTTP half */
    if (h->api_req) h->api_req->conn = NULL; /* its answer will find nobody to send to */
    if (h->body_req) { /* cut off mid-body: the consumer keeps what arrived */
        api_req_t *r = h->body_req;
        h->body_req = NULL;
        r->conn = NULL;
        r->streaming = 0;
        r->body_ops->abort(r);
    }
    if (h->held_by) conn_sio_poll_get_gone(h->held_by, c);
    if (h->blob_check) api_assets_readable_cancel(h->blob_check);
    free(h->stash);
    file_close(c);
    http_reqparser_free(&h->p);
    free(h);
    c->http = NULL;
    c->resume_next = NULL;
    c->http_on = 0; /* the union's WebSocket half (ws, ws_held) starts NULL */
}

const char *conn_http_remote(const conn_t *c)
{
    return conn_http_live(c) ? conn_http_live(c)->remote : NULL;
}

int conn_http_in_api(const conn_t *c)
{
    return conn_http_live(c) && conn_http_live(c)->api_req; /* a streaming body is cut: its consumer keeps it */
}

void conn_http_on_data(conn_t *c, char *data, size_t len)
{
    const chorus_config_t *cfg = c->srv->cfg;
    while (len > 0 && !c->finishing && !c->closing) {
        if (busy(c)) { /* answered in order, once the earlier answers are out */
            stash(c, data, len);
            break;
        }
        http_reqparser_t *p = &conn_http_live(c)->p;
        if (!p->started && server_input_spent(c->srv)) {
            /* A new request (an upgrade's token check, an API call) waits for the next
             * iteration's input budget: conn_input_resume carries on from the stash. */
            stash(c, data, len);
            conn_read_stop(c);
            server_defer_input(c->srv, c);
            return;
        }
        int was_started = p->started;
        size_t used = 0, n = len;
        api_req_t *br = conn_http_live(c)->body_req;
        if (br) { /* a body piece is never longer than what is fed: feed what fits */
            size_t room = br->body_ops->room(br);
            if (n > room) n = room;
        }
        int rc = http_reqparser_feed(p, data, n, &used);
        data += used;
        len -= used;
        if (!was_started && p->started) {
            /* The header deadline runs from a request's first byte, not per read, so a
             * client trickling bytes (slowloris) cannot hold the connection. */
            conn_http_live(c)->req_start_ns = uv_hrtime();
            if (c->req_n < (1u << 17) - 1) c->req_n++;
            conn_req_id(c, conn_http_live(c)->req_id);
            conn_http_live(c)->req_start = uv_now(c->srv->loop);
            conn_timer(c, cfg->http_header_timeout < cfg->http_request_timeout
                              ? cfg->http_header_timeout
                              : cfg->http_request_timeout);
        }
        if (rc == HTTP_PARSE_HEADERS) { /* the body (if any) is on its way */
            conn_http_live(c)->body_start = uv_now(c->srv->loop);
            body_timer(c);
            maybe_stream(c, &p->req);
            continue;
        }
        if (rc == HTTP_PARSE_BODY) {
            br->body_ops->data(br, p->chunk, p->chunk_len);
            continue;
        }
        if (rc == HTTP_PARSE_AGAIN) continue;
        if (rc == HTTP_PARSE_ERROR) {
            conn_http_error(c, p->error_status, error_code(p->error_status),
                            p->error_message ? p->error_message : "bad request", NULL);
            return;
        }
        if (conn_http_live(c)->body_req)
            body_end(c);
        else
            handle_request(c, &p->req);
        if (c->kind == CONN_WS) {
            conn_http_free(c);
            if (len > 0) conn_ws_on_data(c, (uint8_t *)data, len);
            return;
        }
        if (conn_http_live(c)->api_req || conn_http_live(c)->held_by || conn_http_live(c)->blob_check)
            continue; /* answered later (busy) */
        if (c->finishing || c->closing) return;
        request_done(c);
    }
    if (!c->finishing && !c->closing && c->kind == CONN_HTTP && busy(c)) hold(c);
}

/* While a body arrives: cuts off a request past --http-request-timeout or behind
 * --http-body-min-rate with 408, drops one silent for --http-idle-timeout, else re-arms
 * the timer for the next moment one of these can happen. */
static void body_timer(conn_t *c)
{
    const chorus_config_t *cfg = c->srv->cfg;
    const http_reqparser_t *p = &conn_http_live(c)->p;
    http_deadline_t d = {
        .request_ms = cfg->http_request_timeout,
        .grace_ms = cfg->http_header_timeout,
        .min_rate = cfg->http_body_min_rate,
    };
    uint64_t now = uv_now(c->srv->loop), next = 0;
    size_t received = p->msg_bytes > p->header_bytes ? p->msg_bytes - p->header_bytes : 0;
    int rc =
        http_deadline_check(&d, conn_http_live(c)->req_start, conn_http_live(c)->body_start, received, now, &next);
    if (rc != HTTP_DEADLINE_OK) {
        log_info(c->srv->log, "%s: request body %s", conn_http_live(c)->remote,
                 rc == HTTP_DEADLINE_EXPIRED ? "past --http-request-timeout"
                                             : "below --http-body-min-rate");
        conn_http_error(c, 408, "request_timeout",
                        rc == HTTP_DEADLINE_EXPIRED ? "the request took too long"
                                                    : "the request body is arriving too slowly",
                        NULL);
        return;
    }
    uint64_t idle = conn_since(c->last_rx, now);
    if (idle >= cfg->http_idle_timeout) {
        log_debug(c->srv->log, "%s: request body stalled", conn_http_live(c)->remote);
        conn_close(c);
        return;
    }
    if (cfg->http_idle_timeout - idle < next) next = cfg->http_idle_timeout - idle;
    conn_timer(c, next);
}

void conn_http_on_timer(conn_t *c)
{
    const chorus_config_t *cfg = c->srv->cfg;
    http_reqparser_t *p = &conn_http_live(c)->p;
    if (c->drain_wait) {
        /* Responses are waiting for the client to read them: allow slow progress, not
         * none. */
        uint64_t quiet = uv_now(c->srv->loop) - conn_http_live(c)->last_tx;
        if (quiet < cfg->http_idle_timeout) {
            conn_timer(c, cfg->http_idle_timeout - quiet);
            return;
        }
        log_debug(c->srv->log, "%s: client stopped reading responses", conn_http_live(c)->remote);
        conn_close(c);
        return;
    }
    if (p->started && !p->headers_done) {
        conn_http_error(c, 408, "request_timeout", "request headers took too long", NULL);
        return;
    }
    if (p->started) { /* headers are in and the body is arriving */
        body_timer(c);
        return;
    }
    conn_close(c); /* idle keep-alive connection */
}
