/* fuzz_http.c: libFuzzer target for the HTTP request parser, path normalisation and the
 * WebSocket handshake checks, fed the way a connection feeds them. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "io/http_parse.h"
#include "io/http_static.h"
#include "util/mem.h"
#include "io/ws_handshake.h"

/* Small limits so the fuzzer reaches the 431 and 413 paths with short inputs. */
#define FUZZ_MAX_HEADER 4096
#define FUZZ_MAX_BODY 8192

/* 1 when some '/'-separated segment of rel is "." or ".." (normalisation must remove or
 * refuse those). */
static int has_dot_segment(const char *rel)
{
    for (const char *seg = rel; *seg;) {
        size_t n = strcspn(seg, "/");
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) return 1;
        seg += n;
        if (*seg == '/') seg++;
    }
    return 0;
}

/* Touches everything a handler would read, so ASan sees any stale or short pointer. */
static void use_request(const http_request_t *r)
{
    static const char *const origins[] = {"https://app.example.com", "http://localhost:8080"};
    const ws_handshake_opts_t opts = {origins, 2, "chorus.v1", "https://chat.example.com"};
    char rel[1024];
    size_t sum = 0;

    CH_ASSERT(strlen(r->target) == r->target_len);
    CH_ASSERT(strlen(r->path) == r->path_len);
    CH_ASSERT(strlen(r->query) == r->query_len);
    for (size_t i = 0; i < r->nheaders; i++) {
        CH_ASSERT(strlen(r->headers[i].name) == r->headers[i].name_len);
        CH_ASSERT(strlen(r->headers[i].value) <= r->headers[i].value_len);
        CH_ASSERT(http_request_header(r, r->headers[i].name) != NULL);
    }
    CH_ASSERT((r->body == NULL) == (r->body_len == 0));
    for (size_t i = 0; i < r->body_len; i++)
        sum += (unsigned char)r->body[i];
    (void)sum;

    if (static_path_normalize(r->path, r->path_len, rel, sizeof(rel)) == 0) {
        CH_ASSERT(!has_dot_segment(rel));
        CH_ASSERT(rel[0] != '/' && strstr(rel, "//") == NULL && strchr(rel, '\\') == NULL);
        (void)static_mime_type(rel);
    }

    ws_handshake_t hs;
    const char *msg = NULL;
    int st = ws_handshake_check(r, &opts, &hs, &msg);
    CH_ASSERT(msg != NULL);
    CH_ASSERT(st == 0 || st == 400 || st == 403 || st == 426);
    if (st == 0) CH_ASSERT(strlen(hs.accept) == WS_ACCEPT_LEN);

    const http_header_t *inm = http_request_header(r, "If-None-Match");
    if (inm) (void)static_etag_matches(inm->value, inm->value_len, "\"1a-2b-3c\"");
}

/* The request line and header block of an accepted request end every line with CR LF and
 * start no line with SP or HTAB (no bare LF, no obs-fold). */
static void check_head(const char *head, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (head[i] == '\n') CH_ASSERT(i > 0 && head[i - 1] == '\r');
        if (i > 0 && head[i - 1] == '\n') CH_ASSERT(head[i] != ' ' && head[i] != '\t');
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    /* The first byte picks the read size, as different socket reads would split it. */
    size_t chunk = (size_t)data[0] + 1;
    const char *in = (const char *)data + 1;
    size_t len = size - 1, off = 0, arrived = 0, start = 0;
    http_reqparser_t p;
    http_reqparser_init(&p, FUZZ_MAX_HEADER, FUZZ_MAX_BODY);

    /* Like a connection's read buffer: in[off, arrived) has arrived and is not consumed;
     * after a request the rest is fed again before more arrives, as pipelining needs. */
    for (;;) {
        if (off == arrived) {
            if (arrived == len) break;
            arrived = arrived + chunk < len ? arrived + chunk : len;
        }
        size_t used = 0;
        int rc = http_reqparser_feed(&p, in + off, arrived - off, &used);
        CH_ASSERT(used <= arrived - off);
        off += used;
        if (rc == HTTP_PARSE_ERROR) {
            CH_ASSERT(p.error_status == 400 || p.error_status == 413 || p.error_status == 431);
            CH_ASSERT(p.error_message != NULL);
            break;
        }
        if (rc == HTTP_PARSE_DONE) {
            CH_ASSERT(p.header_bytes <= off - start);
            check_head(in + start, p.header_bytes);
            use_request(&p.req);
            if (p.req.upgrade) break; /* the rest would be WebSocket frames */
            http_reqparser_reset(&p);
            start = off;
            continue;
        }
        CH_ASSERT(rc == HTTP_PARSE_AGAIN && off == arrived);
    }
    http_reqparser_free(&p);
    return 0;
}
