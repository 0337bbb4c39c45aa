/* http_parse.h: incremental HTTP/1.1 request parser with limits, over http-parser. */
#ifndef CHORUS_HTTP_PARSE_H
#define CHORUS_HTTP_PARSE_H

#include <stddef.h>
#include <stdint.h>

#include <http_parser.h>

typedef struct {
    const char *name;  /* as received (compare case-insensitively) */
    size_t name_len;
    const char *value; /* leading/trailing whitespace removed */
    size_t value_len;
} http_header_t;

/* One parsed request. Every pointer is owned by the parser and valid until
 * http_reqparser_reset or http_reqparser_free. Strings are NUL-terminated too. */
typedef struct {
    int method;              /* enum http_method (HTTP_GET, HTTP_HEAD, ...) */
    const char *target;      /* raw request-target, e.g. "/ws?token=x" */
    size_t target_len;
    const char *path;        /* target up to '?' or '#', still percent-encoded */
    size_t path_len;
    const char *query;       /* after '?', without it; "" when none */
    size_t query_len;
    http_header_t *headers;
    size_t nheaders;
    const char *body;        /* de-chunked; NULL and 0 when there is none */
    size_t body_len;
    unsigned short http_major, http_minor;
    int keep_alive;          /* 1 when the connection may stay open after the response */
    int upgrade;             /* 1 when the request asks for a protocol upgrade */
    uint64_t content_length; /* its Content-Length; HTTP_NO_LENGTH when chunked or absent */
} http_request_t;

#define HTTP_NO_LENGTH UINT64_MAX

enum {
    HTTP_PARSE_DONE = 1,   /* a complete request is in p->req */
    HTTP_PARSE_AGAIN = 0,  /* all input consumed; need more */
    HTTP_PARSE_ERROR = -1, /* p->error_status holds 400, 413 or 431; close after replying */
    /* Only with p->stop_at_headers: */
    HTTP_PARSE_HEADERS = 2, /* the header block is complete and checked (p->req minus body);
                             * call http_reqparser_stream now to take the body as chunks */
    HTTP_PARSE_BODY = 3,    /* a piece of a streamed body: p->chunk, p->chunk_len (pointing
                             * into the input just fed, valid until the next call) */
};

typedef struct {
    http_parser parser;
    size_t max_header;   /* bytes of request line + headers; over it -> 431 */
    size_t max_body;     /* bytes of body; over it -> 413 */
    int error_status;    /* after HTTP_PARSE_ERROR */
    const char *error_message; /* static text for the error body */
    http_request_t req;
    int started;         /* 1 once any byte of the current request arrived */
    int headers_done;
    int complete;
    /* Streamed bodies. stop_at_headers (set by the caller, kept across resets) makes feed
     * return HTTP_PARSE_HEADERS once per request; the max_body check of a Content-Length
     * then waits for the next feed call, since a streamed body has no max_body. */
    int stop_at_headers;
    int stream;         /* this request's body comes as HTTP_PARSE_BODY chunks */
    int body_check_due; /* headers returned; the next feed checks max_body unless stream */
    const char *chunk;
    size_t chunk_len;
    /* Internal. buf holds target, header names and values, path and query, each
     * NUL-terminated; pointers into it are set once the header block is complete, because
     * growing it may move it. hdr_off holds each header's name and value offsets until then. */
    char *buf;
    size_t buf_len, buf_cap;
    size_t *hdr_off;
    size_t hdr_cap;
    size_t msg_bytes;    /* bytes of this request consumed so far */
    size_t header_bytes; /* request line + header block, known once headers_done */
    int last_was_value;
    /* Framing checks http-parser skips when built non-strict, as Debian's is (see .c). */
    const char *scan;    /* first byte of the current input not yet checked */
    int prev_cr;         /* the last framing byte was CR, so LF must follow */
    int prev_lf;         /* the last framing byte was LF, so a line starts: no SP/HTAB */
    int expect_cr;       /* a chunk's data just ended, so CR LF must follow */
    uint64_t chunk_left; /* data bytes still due in the current chunk */
    size_t body_redo;    /* bytes at the start of the next input that were handed out
                            as a streamed piece already (see feed) */
    char *body;
    size_t body_len, body_cap;
} http_reqparser_t;

/* Initialises p with the given limits. */
void http_reqparser_init(http_reqparser_t *p, size_t max_header, size_t max_body);

/* Frees everything p owns (not p itself). */
void http_reqparser_free(http_reqparser_t *p);

/* Feeds bytes. Stops right after a complete request: returns HTTP_PARSE_DONE with
 * *consumed up to the end of that request (the remaining bytes are the next pipelined
 * request, or WebSocket frames after an upgrade), HTTP_PARSE_AGAIN when all input was
 * consumed, HTTP_PARSE_ERROR on a malformed request (400; a request carrying both
 * Content-Length and Transfer-Encoding is 400: request smuggling; so are a line ending
 * that is not CR LF and an obs-fold header continuation line), a header block larger
 * than max_header (431) or a body larger than max_body (413, detected from
 * Content-Length before the body arrives; chunk framing and trailers beyond max_header
 * bytes are 413 too). After DONE or ERROR, further calls consume nothing and return the
 * same until http_reqparser_reset. Borrows data. */
int http_reqparser_feed(http_reqparser_t *p, const char *data, size_t len,
                        size_t *consumed);

/* Takes the current request's body as a stream: after HTTP_PARSE_HEADERS, each feed
 * returns HTTP_PARSE_BODY for every piece of de-chunked body data (none is kept, and
 * max_body does not apply: the consumer bounds it), then HTTP_PARSE_DONE at its end. The
 * caller controls back-pressure by how many bytes it feeds: a body piece is never longer
 * than the bytes fed. */
void http_reqparser_stream(http_reqparser_t *p);

/* Makes p ready for the next request on the same connection; frees the request's memory
 * beyond a small retained buffer. */
void http_reqparser_reset(http_reqparser_t *p);

/* Returns the first header named name (case-insensitive), or NULL. */
const http_header_t *http_request_header(const http_request_t *req, const char *name);

#endif
