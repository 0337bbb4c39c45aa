/* http_parse.c: incremental HTTP/1.1 request parser with limits, over nodejs http-parser. */
#include "io/http_parse.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/mem.h"

/* A reset keeps buffers up to these sizes so a keep-alive connection does not reallocate
 * for every small request, while one large request does not pin its memory for the life
 * of the connection. 4 KiB covers a typical browser request with cookies. */
#define RETAIN_BYTES 4096
#define RETAIN_HEADERS 32

static int fail(http_reqparser_t *p, int status, const char *msg)
{
    p->error_status = status;
    p->error_message = msg;
    return HTTP_PARSE_ERROR;
}

/* Grows *buf to hold at least need bytes, doubling so appends stay amortised O(1). */
static void reserve(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    *buf = ch_realloc(*buf, n);
    *cap = n;
}

static void append(http_reqparser_t *p, const char *at, size_t len)
{
    reserve(&p->buf, &p->buf_cap, p->buf_len + len);
    if (len) memcpy(p->buf + p->buf_len, at, len);
    p->buf_len += len;
}

static void append_nul(http_reqparser_t *p)
{
    append(p, "", 1);
}

/* Debian (like upstream's Makefile) builds http-parser with HTTP_PARSER_STRICT=0, which
 * takes any byte after a CR for the LF at the end of the header block and of chunk lines,
 * and any two bytes for the CR LF after chunk data. A front proxy reading those bytes
 * differently would disagree on where the request ends (smuggling), so the framing bytes
 * (everything but body data) are checked here: each CR is followed by LF, and chunk data
 * by CR LF. For the same reason two laxities RFC 9112 permits are refused: a bare LF as a
 * line ending (2.2 lets a recipient accept it; a proxy that does not would read
 * "A: x\nTransfer-Encoding: chunked" as one header, and no real client sends it), and
 * obs-fold, a line starting with SP or HTAB (5.2 requires rejecting it outside
 * message/http). Moves p->scan to end. Returns 0, or a FRAMING_* code on a violation. */
enum { FRAMING_CR = -1, FRAMING_BARE_LF = -2, FRAMING_OBS_FOLD = -3 };

static int scan_framing(http_reqparser_t *p, const char *end)
{
    for (const char *c = p->scan; c < end; c++) {
        if (p->expect_cr) {
            if (*c != '\r') return FRAMING_CR;
            p->expect_cr = 0;
        } else if (p->prev_cr && *c != '\n') {
            return FRAMING_CR;
        } else if (*c == '\n' && !p->prev_cr) {
            return FRAMING_BARE_LF;
        } else if (p->prev_lf && (*c == ' ' || *c == '\t')) {
            return FRAMING_OBS_FOLD;
        }
        p->prev_cr = *c == '\r';
        p->prev_lf = *c == '\n';
    }
    p->scan = end;
    return 0;
}

/* Records a scan_framing violation as a 400 and returns HTTP_PARSE_ERROR. */
static int framing_fail(http_reqparser_t *p, int rc)
{
    if (rc == FRAMING_BARE_LF) return fail(p, 400, "bare LF line ending (CR LF required)");
    if (rc == FRAMING_OBS_FOLD)
        return fail(p, 400, "obsolete line folding (obs-fold) in header");
    return fail(p, 400, "malformed line ending in request framing");
}

static int on_message_begin(http_parser *hp)
{
    http_reqparser_t *p = hp->data;
    p->started = 1;
    return 0;
}

/* The target is the first thing stored in buf: on_url always precedes the headers. */
static int on_url(http_parser *hp, const char *at, size_t len)
{
    http_reqparser_t *p = hp->data;
    append(p, at, len);
    p->req.target_len += len;
    return 0;
}

static int on_header_field(http_parser *hp, const char *at, size_t len)
{
    http_reqparser_t *p = hp->data;
    /* After the header block these are chunked trailers: counted but not kept, since
     * nothing in Chorus reads them. An empty piece carries no information. */
    if (p->headers_done || len == 0) return 0;
    http_request_t *r = &p->req;
    if (r->nheaders == 0 || p->last_was_value) {
        append_nul(p); /* ends the target, or the previous header's value */
        if (r->nheaders == p->hdr_cap) {
            p->hdr_cap = p->hdr_cap ? p->hdr_cap * 2 : 16;
            r->headers = ch_realloc(r->headers, p->hdr_cap * sizeof(*r->headers));
            p->hdr_off = ch_realloc(p->hdr_off, p->hdr_cap * 2 * sizeof(*p->hdr_off));
        }
        http_header_t *h = &r->headers[r->nheaders];
        memset(h, 0, sizeof(*h));
        p->hdr_off[2 * r->nheaders] = p->buf_len;
        p->hdr_off[2 * r->nheaders + 1] = p->buf_len;
        r->nheaders++;
        p->last_was_value = 0;
    }
    append(p, at, len);
    r->headers[r->nheaders - 1].name_len += len;
    return 0;
}

static int on_header_value(http_parser *hp, const char *at, size_t len)
{
    http_reqparser_t *p = hp->data;
    http_request_t *r = &p->req;
    if (p->headers_done) return 0;
    if (r->nheaders == 0) { /* http-parser never sends a value first; refuse, not abort */
        fail(p, 400, "header value without a name");
        return 1;
    }
    if (!p->last_was_value) {
        append_nul(p); /* ends the name */
        p->hdr_off[2 * (r->nheaders - 1) + 1] = p->buf_len;
        p->last_was_value = 1;
    }
    append(p, at, len);
    r->headers[r->nheaders - 1].value_len += len;
    return 0;
}

static int is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* Sets every pointer into buf now that it has stopped growing, splits path and query off
 * the target and trims header values. */
static void finish_headers(http_reqparser_t *p)
{
    http_request_t *r = &p->req;
    if (r->nheaders == 0) {
        append_nul(p); /* ends the target */
    } else if (!p->last_was_value) {
        /* a name without a value callback: give it an empty value */
        append_nul(p);
        p->hdr_off[2 * (r->nheaders - 1) + 1] = p->buf_len;
        append_nul(p);
    } else {
        append_nul(p);
    }

    /* The target is at offset 0. Path and query are copied so each is NUL-terminated. */
    size_t path_len = 0;
    while (path_len < r->target_len && p->buf[path_len] != '?' && p->buf[path_len] != '#')
        path_len++;
    size_t q_start = path_len, q_len = 0;
    if (path_len < r->target_len && p->buf[path_len] == '?') {
        q_start = path_len + 1;
        while (q_start + q_len < r->target_len && p->buf[q_start + q_len] != '#')
            q_len++;
    }
    /* Reserve first: the copies come from buf itself, which growing would move. */
    reserve(&p->buf, &p->buf_cap, p->buf_len + path_len + q_len + 2);
    size_t path_off = p->buf_len;
    append(p, p->buf, path_len);
    append_nul(p);
    size_t query_off = p->buf_len;
    append(p, p->buf + q_start, q_len);
    append_nul(p);

    r->target = p->buf;
    r->path = p->buf + path_off;
    r->path_len = path_len;
    r->query = p->buf + query_off;
    r->query_len = q_len;
    for (size_t i = 0; i < r->nheaders; i++) {
        http_header_t *h = &r->headers[i];
        char *v = p->buf + p->hdr_off[2 * i + 1];
        size_t n = h->value_len;
        while (n > 0 && is_ows(*v)) {
            v++;
            n--;
        }
        while (n > 0 && is_ows(v[n - 1]))
            n--;
        v[n] = '\0';
        h->name = p->buf + p->hdr_off[2 * i];
        h->value = v;
        h->value_len = n;
    }
}

static int on_headers_complete(http_parser *hp)
{
    http_reqparser_t *p = hp->data;
    http_request_t *r = &p->req;
    finish_headers(p);
    r->method = hp->method;
    r->http_major = hp->http_major;
    r->http_minor = hp->http_minor;
    r->keep_alive = http_should_keep_alive(hp);
    r->upgrade = hp->upgrade;
    p->headers_done = 1;
    /* Pausing here hands control back to feed with the parser sitting on the block's final
     * LF, which gives the exact header size and lets the limits be checked before any body
     * byte is accepted. */
    http_parser_pause(hp, 1);
    return 0;
}

static int on_chunk_header(http_parser *hp)
{
    http_reqparser_t *p = hp->data;
    p->chunk_left = hp->content_length; /* the chunk's size, per http_parser.h */
    return 0;
}

static int on_body(http_parser *hp, const char *at, size_t len)
{
    http_reqparser_t *p = hp->data;
    /* A CR right before body data was not followed by LF. */
    int rc = scan_framing(p, at);
    if (rc != 0 || p->prev_cr) {
        framing_fail(p, rc ? rc : FRAMING_CR);
        return 1;
    }
    p->scan = at + len;
    p->prev_lf = 0; /* body data may start with SP: that is not a folded line */
    if (p->chunk_left > 0) {
        p->chunk_left = len < p->chunk_left ? p->chunk_left - len : 0;
        if (p->chunk_left == 0) p->expect_cr = 1;
    }
    if (p->stream) {
        /* Handed out as it is, not kept; the pause returns it to feed's caller. */
        p->chunk = at;
        p->chunk_len = len;
        p->body_len += len;
        http_parser_pause(hp, 1);
        return 0;
    }
    /* Content-Length was checked before the body; this catches chunked bodies. */
    if (len > p->max_body - p->body_len) {
        fail(p, 413, "request body too large");
        return 1;
    }
    reserve(&p->body, &p->body_cap, p->body_len + len + 1);
    memcpy(p->body + p->body_len, at, len);
    p->body_len += len;
    return 0;
}

static int on_message_complete(http_parser *hp)
{
    http_reqparser_t *p = hp->data;
    p->complete = 1;
    if (p->body_len > 0 && !p->stream) {
        p->body[p->body_len] = '\0';
        p->req.body = p->body;
        p->req.body_len = p->body_len;
    }
    /* Stop right after this request so the next pipelined one (or WebSocket data) stays
     * in the caller's buffer and the request can be answered before the next is parsed. */
    http_parser_pause(hp, 1);
    return 0;
}

static const http_parser_settings parser_settings = {
    .on_message_begin = on_message_begin,
    .on_url = on_url,
    .on_header_field = on_header_field,
    .on_header_value = on_header_value,
    .on_headers_complete = on_headers_complete,
    .on_body = on_body,
    .on_message_complete = on_message_complete,
    .on_chunk_header = on_chunk_header,
};

/* RFC 9110 5.6.2 tchar. Non-strict http-parser also lets SP into names, which would let
 * "Transfer-Encoding : chunked" mean different things to a proxy and to us. */
static int is_tchar(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int name_is(const http_header_t *h, const char *name)
{
    return h->name_len == strlen(name) && strncasecmp(h->name, name, h->name_len) == 0;
}

/* Framing checks that must happen before the body is read. http-parser itself already
 * rejects a repeated Content-Length and Content-Length with chunked; these checks make the
 * rules explicit and independent of its version. */
static int check_headers(http_reqparser_t *p)
{
    if (p->header_bytes > p->max_header) return fail(p, 431, "request header too large");
    /* HTTP/1 framing under another major version is not something to guess about. (The
     * non-strict parser also takes any letters for "TTP" in "HTTP/"; that is harmless.) */
    if (p->req.http_major != 1) return fail(p, 400, "unsupported HTTP version");
    /* Non-strict http-parser accepts TAB and FF in the target; nothing else should. */
    for (size_t i = 0; i < p->req.target_len; i++) {
        unsigned char c = (unsigned char)p->req.target[i];
        if (c <= ' ' || c == 0x7f) return fail(p, 400, "invalid character in request target");
    }
    const http_header_t *cl = NULL, *te = NULL;
    for (size_t i = 0; i < p->req.nheaders; i++) {
        const http_header_t *h = &p->req.headers[i];
        for (size_t j = 0; j < h->name_len; j++)
            if (!is_tchar((unsigned char)h->name[j]))
                return fail(p, 400, "invalid character in header name");
        if (name_is(h, "Content-Length")) {
            if (cl && (cl->value_len != h->value_len ||
                       memcmp(cl->value, h->value, h->value_len) != 0))
                return fail(p, 400, "conflicting Content-Length headers");
            cl = h;
        } else if (name_is(h, "Transfer-Encoding")) {
            if (te) return fail(p, 400, "repeated Transfer-Encoding header");
            te = h;
        }
    }
    /* Two length indications let a proxy and this server disagree on where the request
     * ends (request smuggling, RFC 9112 6.1): refuse rather than pick one. */
    if (cl && te) return fail(p, 400, "both Content-Length and Transfer-Encoding");
    /* Only plain "chunked" is accepted: request bodies here are small JSON, no client
     * sends compressed transfer codings, and every other coding would need decoding. */
    if (te && strcasecmp(te->value, "chunked") != 0)
        return fail(p, 400, "unsupported Transfer-Encoding");
    if (cl) {
        uint64_t n = 0;
        if (cl->value_len == 0) return fail(p, 400, "invalid Content-Length");
        for (size_t i = 0; i < cl->value_len; i++) {
            char c = cl->value[i];
            if (c < '0' || c > '9') return fail(p, 400, "invalid Content-Length");
            if (n > (UINT64_MAX - 9) / 10) return fail(p, 413, "request body too large");
            n = n * 10 + (uint64_t)(c - '0');
        }
        p->req.content_length = n;
        /* With stop_at_headers the caller may still stream the body (checked in feed). */
        if (n > p->max_body && !p->stop_at_headers)
            return fail(p, 413, "request body too large");
    }
    return 0;
}

static int parser_error(http_reqparser_t *p, enum http_errno e)
{
    if (p->error_status) return HTTP_PARSE_ERROR; /* set by a callback */
    switch (e) {
    case HPE_HEADER_OVERFLOW:
        return fail(p, 431, "request header too large");
    case HPE_UNEXPECTED_CONTENT_LENGTH:
        return fail(p, 400,
                    "repeated Content-Length or both Content-Length and "
                    "Transfer-Encoding");
    default:
        return fail(p, 400, http_errno_description(e));
    }
}

/* Chunk-size lines, extensions and trailers are not body bytes and are not stored, but a
 * peer could send them forever; they get the header budget. */
static int framing_too_large(const http_reqparser_t *p)
{
    size_t used = p->header_bytes + p->body_len;
    return p->msg_bytes > used && p->msg_bytes - used > p->max_header;
}

void http_reqparser_init(http_reqparser_t *p, size_t max_header, size_t max_body)
{
    memset(p, 0, sizeof(*p));
    p->req.content_length = HTTP_NO_LENGTH;
    p->max_header = max_header;
    p->max_body = max_body;
    http_parser_init(&p->parser, HTTP_REQUEST);
    p->parser.data = p;
}

void http_reqparser_free(http_reqparser_t *p)
{
    free(p->buf);
    free(p->body);
    free(p->req.headers);
    free(p->hdr_off);
    size_t max_header = p->max_header, max_body = p->max_body;
    int stop = p->stop_at_headers;
    http_reqparser_init(p, max_header, max_body);
    p->stop_at_headers = stop;
}

void http_reqparser_reset(http_reqparser_t *p)
{
    if (p->buf_cap > RETAIN_BYTES) {
        free(p->buf);
        p->buf = NULL;
        p->buf_cap = 0;
    }
    if (p->body_cap > RETAIN_BYTES) {
        free(p->body);
        p->body = NULL;
        p->body_cap = 0;
    }
    http_header_t *headers = p->req.headers;
    if (p->hdr_cap > RETAIN_HEADERS) {
        free(headers);
        free(p->hdr_off);
        headers = NULL;
        p->hdr_off = NULL;
        p->hdr_cap = 0;
    }
    memset(&p->req, 0, sizeof(p->req));
    p->req.headers = headers;
    p->req.content_length = HTTP_NO_LENGTH;
    p->stream = p->body_check_due = 0;
    p->chunk = NULL;
    p->chunk_len = 0;
    http_parser_init(&p->parser, HTTP_REQUEST);
    p->parser.data = p;
    p->error_status = 0;
    p->error_message = NULL;
    p->started = p->headers_done = p->complete = 0;
    p->buf_len = p->msg_bytes = p->header_bytes = p->body_len = 0;
    p->last_was_value = 0;
    p->scan = NULL;
    p->prev_cr = p->prev_lf = p->expect_cr = 0;
    p->chunk_left = 0;
    p->body_redo = 0;
}

int http_reqparser_feed(http_reqparser_t *p, const char *data, size_t len, size_t *consumed)
{
    size_t off = 0;
    *consumed = 0;
    if (p->error_status) return HTTP_PARSE_ERROR;
    if (p->complete) return HTTP_PARSE_DONE; /* not reset yet: nothing more is taken */
    p->parser.data = p;                      /* p may have moved since init */
    p->chunk = NULL;
    p->chunk_len = 0;
    if (p->body_check_due) {
        p->body_check_due = 0;
        if (!p->stream && p->req.content_length != HTTP_NO_LENGTH &&
            p->req.content_length > p->max_body)
            return fail(p, 413, "request body too large");
    }
    while (off < len) {
        size_t n = len - off;
        /* Never show http-parser more than one byte past the header budget, so the header
         * block cannot grow buf beyond it and the verdict does not depend on how the input
         * was split. */
        if (!p->headers_done && n > p->max_header - p->msg_bytes)
            n = p->max_header - p->msg_bytes + 1;
        /* Body bytes handed out already and shown again are not framing (below). */
        size_t redo = p->body_redo < n ? p->body_redo : n;
        p->body_redo = 0;
        p->scan = data + off + redo;
        size_t got = http_parser_execute(&p->parser, &parser_settings, data + off, n);
        off += got;
        p->msg_bytes += got;
        *consumed = off;
        enum http_errno e = HTTP_PARSER_ERRNO(&p->parser);
        if (e != HPE_OK && e != HPE_PAUSED) return parser_error(p, e);
        if (p->scan < data + off) {
            int frc = scan_framing(p, data + off);
            if (frc != 0) return framing_fail(p, frc);
        }
        if (e == HPE_PAUSED) {
            http_parser_pause(&p->parser, 0);
            if (p->complete) {
                if (framing_too_large(p)) return fail(p, 413, "chunked framing too large");
                return HTTP_PARSE_DONE;
            }
            if (p->chunk) { /* paused in on_body: a streamed piece */
                if (framing_too_large(p)) return fail(p, 413, "chunked framing too large");
                /* When a Content-Length body ends in this piece, http-parser counts its
                 * last byte as unread (it reads it again to end the message), though the
                 * piece holds it: the next input starts with that byte, which is body,
                 * not framing to check. */
                const char *piece_end = p->chunk + p->chunk_len;
                if (piece_end > data + off) p->body_redo = (size_t)(piece_end - (data + off));
                return HTTP_PARSE_BODY;
            }
            /* Paused in on_headers_complete on the block's final LF, not yet consumed. */
            p->header_bytes = p->msg_bytes + 1;
            if (check_headers(p) != 0) return HTTP_PARSE_ERROR;
            if (p->stop_at_headers) {
                p->body_check_due = 1;
                return HTTP_PARSE_HEADERS;
            }
            continue;
        }
        if (!p->headers_done && p->msg_bytes > p->max_header)
            return fail(p, 431, "request header too large");
        if (p->headers_done && framing_too_large(p))
            return fail(p, 413, "chunked framing too large");
        /* http-parser only stops early on errors and pauses, both handled above. */
        if (got < n) return fail(p, 400, "request parsing stopped unexpectedly");
    }
    return HTTP_PARSE_AGAIN;
}

void http_reqparser_stream(http_reqparser_t *p)
{
    CH_ASSERT(p->headers_done && !p->complete);
    p->stream = 1;
}

const http_header_t *http_request_header(const http_request_t *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (name_is(&req->headers[i], name)) return &req->headers[i];
    return NULL;
}
