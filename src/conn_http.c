/* conn_http.c: HTTP/1.1 on a connection: request loop, routing, responses, static files,
 * the WebSocket upgrade. */
#include "conn.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http_static.h"
#include "mem.h"
#include "net_addr.h"
#include "ws_handshake.h"

/* Web assets are read whole into one response buffer; anything bigger belongs to the
 * asset store, which streams. */
#define STATIC_MAX_FILE (64 * 1024 * 1024)

static const char *reason_phrase(int status)
{
    switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 503: return "Service Unavailable";
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
    return c->http && c->http->headers_done ? &c->http->req : NULL;
}

/* Queues one response. body is borrowed and copied into the same buffer as the head so
 * the whole response leaves in one write. close: send "Connection: close" and finish the
 * connection afterwards. omit_body: HEAD and 304 carry the length but no bytes. */
static void respond(conn_t *c, int status, const char *ctype, const char *extra,
                    const void *body, size_t len, int last, int omit_body)
{
    const http_request_t *req = current(c);
    char head[1024];
    int h = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nServer: chorus/" CHORUS_VERSION "\r\nDate: %s\r\n",
                     status, reason_phrase(status), server_http_date(c->srv));
    if (ctype) h += snprintf(head + h, sizeof(head) - (size_t)h, "Content-Type: %s\r\n", ctype);
    if (status != 304 && status != 101)
        h += snprintf(head + h, sizeof(head) - (size_t)h, "Content-Length: %zu\r\n", len);
    if (last) h += snprintf(head + h, sizeof(head) - (size_t)h, "Connection: close\r\n");
    else if (req && req->http_major == 1 && req->http_minor == 0)
        h += snprintf(head + h, sizeof(head) - (size_t)h, "Connection: keep-alive\r\n");
    CH_ASSERT(h > 0 && (size_t)h < sizeof(head));
    size_t extra_len = extra ? strlen(extra) : 0;
    size_t body_len = omit_body ? 0 : len;
    cbuf_t *b = cbuf_new((size_t)h + extra_len + 2 + body_len);
    cbuf_append(&b, head, (size_t)h);
    if (extra_len) cbuf_append(&b, extra, extra_len);
    cbuf_append(&b, "\r\n", 2);
    if (body_len) cbuf_append(&b, body, body_len);
    conn_send(c, b);
    cbuf_unref(b);

    double ms = c->req_start_ns ? (double)(uv_hrtime() - c->req_start_ns) / 1e6 : 0.0;
    log_access(c->srv->log, c->remote, req ? http_method_str((enum http_method)req->method) : "-",
               req ? req->path : "-", req ? req->path_len : 1, status, body_len, ms);
    if (last) conn_finish(c, CONN_LINGER_MS);
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

static void handle_healthz(conn_t *c, const http_request_t *req)
{
    if (req->method != HTTP_GET && req->method != HTTP_HEAD) {
        method_not_allowed(c, "GET, HEAD");
        return;
    }
    respond_json(c, 200, json_pack("{s:s}", "status", "ok"), NULL, !keep_alive(c));
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
    if (!cfg->ntrusted_proxies) {
        snprintf(out, cap, "%s", c->ip);
        return;
    }
    size_t flen = 0, xlen = 0;
    char *fwd = header_joined(req, "Forwarded", &flen);
    char *xff = header_joined(req, "X-Forwarded-For", &xlen);
    net_client_ip(c->ip, cfg->trusted_proxies, cfg->ntrusted_proxies, fwd, flen, xff, xlen,
                  out, cap);
    free(fwd);
    free(xff);
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

static void handle_ws(conn_t *c, const http_request_t *req)
{
    if (req->method != HTTP_GET) {
        method_not_allowed(c, "GET");
        return;
    }
    ws_handshake_t hs;
    const char *why = "bad handshake";
    int status = ws_handshake_check(req, &c->srv->handshake, &hs, &why);
    if (status != 0) {
        const char *extra = status == 426 ? "Sec-WebSocket-Version: 13\r\n" : NULL;
        error_reply(c, status, error_code(status), why, extra, 1);
        return;
    }
    if (c->srv->stopping) {
        error_reply(c, 503, "service_unavailable", "server shutting down", NULL, 1);
        return;
    }
    /* Browsers cannot set headers on a WebSocket, so the token may come in the query. */
    size_t tlen = 0;
    const char *tok = bearer_token(req, &tlen);
    if (!tok) tok = query_param(req, "token", &tlen);
    request_ip(c, req, c->client_ip, sizeof(c->client_ip));
    auth_claims_t claims;
    if (tok) {
        const char *reason = "invalid token";
        uint64_t retry_ms = 0;
        int rc = proto_auth_verify(&c->srv->proto, c->client_ip, tok, tlen,
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
    conn_ws_start(c, tok ? &claims : NULL);
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
    char extra[160];
    snprintf(extra, sizeof(extra), "ETag: %s\r\nCache-Control: no-cache\r\n", f.etag);
    const http_header_t *inm = http_request_header(req, "If-None-Match");
    if (inm && static_etag_matches(inm->value, inm->value_len, f.etag)) {
        respond(c, 304, NULL, extra, NULL, 0, last, 1);
        close(f.fd);
        return;
    }
    if (f.size > STATIC_MAX_FILE) {
        close(f.fd);
        error_reply(c, 500, "internal_error", "file too large for the static server", NULL,
                    last);
        return;
    }
    char *body = ch_malloc(f.size);
    size_t got = 0;
    while (got < f.size) {
        ssize_t n = pread(f.fd, body + got, f.size - got, (off_t)got);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        got += (size_t)n;
    }
    close(f.fd);
    if (got != f.size) {
        free(body);
        error_reply(c, 500, "internal_error", "cannot read the file", NULL, last);
        return;
    }
    respond(c, 200, f.mime, extra, body, f.size, last, req->method == HTTP_HEAD);
    free(body);
}

/* Gets ready for the next request on c once the current one was answered. */
static void request_done(conn_t *c)
{
    if (c->finishing || c->closing) return;
    http_reqparser_reset(c->http);
    c->req_start_ns = 0;
    conn_timer(c, c->srv->cfg->http_idle_timeout);
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
    c->api_req = NULL;
    respond_json(c, r->status, json_incref(r->resp), r->extra[0] ? r->extra : NULL,
                 !keep_alive(c));
    api_req_free(r);
    if (!c->in_api_call) {
        request_done(c);
        char *rest = c->stash;
        size_t n = c->stash_len;
        c->stash = NULL;
        c->stash_len = 0;
        conn_resume(c);
        if (rest) conn_http_on_data(c, rest, n);
        free(rest);
    }
}

static void handle_api(conn_t *c, const http_request_t *req)
{
    api_req_t *r = api_req_new(&c->srv->api, req->method, req->path, req->path_len, req->query,
                               req->query_len);
    request_ip(c, req, r->ip, sizeof(r->ip));
    size_t tlen = 0;
    const char *tok = bearer_token(req, &tlen);
    if (tok) api_req_set_bearer(r, tok, tlen);
    if (req->body) api_req_set_body(r, req->body, req->body_len);
    r->done = api_done;
    r->conn = c;
    c->api_req = r;
    c->in_api_call = 1;
    api_handle(r);
    c->in_api_call = 0;
}

static int path_is(const http_request_t *req, const char *p)
{
    size_t n = strlen(p);
    return req->path_len == n && memcmp(req->path, p, n) == 0;
}

static void handle_request(conn_t *c, const http_request_t *req)
{
    if (path_is(req, "/healthz")) handle_healthz(c, req);
    else if (path_is(req, "/ws")) handle_ws(c, req);
    else if (req->path_len >= 5 && memcmp(req->path, "/api/", 5) == 0) handle_api(c, req);
    else handle_static(c, req);
}

void conn_http_init(conn_t *c)
{
    c->kind = CONN_HTTP;
    c->http = ch_malloc(sizeof(*c->http));
    http_reqparser_init(c->http, c->srv->cfg->http_max_header, c->srv->cfg->http_max_body);
    /* A connection that sends nothing is held only as long as a slow request would be. */
    conn_timer(c, c->srv->cfg->http_header_timeout);
}

void conn_http_free(conn_t *c)
{
    if (c->api_req) { /* its answer will find nobody to send to */
        c->api_req->conn = NULL;
        c->api_req = NULL;
    }
    free(c->stash);
    c->stash = NULL;
    if (!c->http) return;
    http_reqparser_free(c->http);
    free(c->http);
    c->http = NULL;
}

void conn_http_on_data(conn_t *c, char *data, size_t len)
{
    const chorus_config_t *cfg = c->srv->cfg;
    while (len > 0 && !c->finishing && !c->closing) {
        http_reqparser_t *p = c->http;
        int was_started = p->started;
        size_t used = 0;
        int rc = http_reqparser_feed(p, data, len, &used);
        data += used;
        len -= used;
        if (!was_started && p->started) {
            /* The header deadline runs from a request's first byte, not per read, so a
             * client trickling bytes (slowloris) cannot hold the connection. */
            c->req_start_ns = uv_hrtime();
            conn_timer(c, cfg->http_header_timeout);
        }
        if (rc == HTTP_PARSE_AGAIN) return;
        if (rc == HTTP_PARSE_ERROR) {
            conn_http_error(c, p->error_status, error_code(p->error_status),
                            p->error_message ? p->error_message : "bad request", NULL);
            return;
        }
        handle_request(c, &p->req);
        if (c->kind == CONN_WS) {
            conn_http_free(c);
            if (len > 0) conn_ws_on_data(c, (uint8_t *)data, len);
            return;
        }
        if (c->api_req) {
            /* Answered later: hold the rest (pipelined requests) until then. */
            conn_pause(c);
            if (len > 0) {
                c->stash = ch_malloc(len);
                memcpy(c->stash, data, len);
                c->stash_len = len;
            }
            return;
        }
        if (c->finishing || c->closing) return;
        request_done(c);
    }
}

void conn_http_on_timer(conn_t *c)
{
    const chorus_config_t *cfg = c->srv->cfg;
    http_reqparser_t *p = c->http;
    if (p->started && !p->headers_done) {
        conn_http_error(c, 408, "request_timeout", "request headers took too long", NULL);
        return;
    }
    if (p->started) {
        /* Headers are in and the body is arriving: allow idle gaps, not a stall. */
        uint64_t idle = uv_now(c->srv->loop) - c->last_rx;
        if (idle < cfg->http_idle_timeout) {
            conn_timer(c, cfg->http_idle_timeout - idle);
            return;
        }
        log_debug(c->srv->log, "%s: request body stalled", c->remote);
    }
    conn_close(c); /* idle keep-alive connection, or a body that stopped */
}
