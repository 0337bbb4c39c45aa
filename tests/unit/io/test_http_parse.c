/* test_http_parse.c: unit tests for the incremental HTTP request parser (http_parse.c). */
#include "io/http_parse.h"
#include "test.h"

#include "util/mem.h"

#define MAX_HEADER 16384
#define MAX_BODY 4096

/* Feeds s in pieces of at most step bytes (0: all at once) until DONE, ERROR or the end.
 * Returns the last result; *used gets the bytes consumed in total. */
static int feed_steps(http_reqparser_t *p, const char *s, size_t len, size_t step, size_t *used)
{
    size_t off = 0;
    int rc = HTTP_PARSE_AGAIN;
    if (step == 0) step = len ? len : 1;
    while (off < len) {
        size_t n = len - off < step ? len - off : step, c = 0;
        rc = http_reqparser_feed(p, s + off, n, &c);
        if (c > n) return -99;
        off += c;
        if (rc != HTTP_PARSE_AGAIN) break;
        if (c != n) return -98; /* AGAIN must take everything */
    }
    *used = off;
    return rc;
}

/* Feeds s as two pieces split at cut. */
static int feed_split(http_reqparser_t *p, const char *s, size_t len, size_t cut, size_t *used)
{
    size_t c1 = 0, c2 = 0;
    int rc = http_reqparser_feed(p, s, cut, &c1);
    if (rc != HTTP_PARSE_AGAIN) {
        *used = c1;
        return rc;
    }
    if (c1 != cut) return -98;
    rc = http_reqparser_feed(p, s + cut, len - cut, &c2);
    *used = c1 + c2;
    return rc;
}

/* A canonical text form of the parser's outcome, for comparing differently split feeds. */
static void describe(const http_reqparser_t *p, int rc, size_t used, char *out, size_t cap)
{
    const http_request_t *r = &p->req;
    /* After an error, how much was consumed does not matter: the connection closes. */
    if (rc == HTTP_PARSE_ERROR) {
        snprintf(out, cap, "rc=%d status=%d", rc, p->error_status);
        return;
    }
    int n = snprintf(out, cap, "rc=%d used=%zu", rc, used);
    if (rc != HTTP_PARSE_DONE) return;
    n += snprintf(out + n, cap - (size_t)n, " m=%d t=[%s] p=[%s] q=[%s] v=%d.%d ka=%d up=%d",
                  r->method, r->target, r->path, r->query, r->http_major, r->http_minor,
                  r->keep_alive, r->upgrade);
    for (size_t i = 0; i < r->nheaders; i++)
        n += snprintf(out + n, cap - (size_t)n, " {%s: %s}", r->headers[i].name,
                      r->headers[i].value);
    snprintf(out + n, cap - (size_t)n, " body=%zu[%.*s]", r->body_len, (int)r->body_len,
             r->body ? r->body : "");
}

/* Parses s whole, byte by byte, and split in two at every position; all must agree. */
static int split_consistent(const char *s, size_t max_header, size_t max_body, char *whole,
                            size_t cap)
{
    char other[4096];
    http_reqparser_t p;
    size_t used = 0, len = strlen(s);
    int ok = 1;

    http_reqparser_init(&p, max_header, max_body);
    int rc = feed_steps(&p, s, len, 0, &used);
    describe(&p, rc, used, whole, cap);
    http_reqparser_free(&p);

    http_reqparser_init(&p, max_header, max_body);
    rc = feed_steps(&p, s, len, 1, &used);
    describe(&p, rc, used, other, sizeof(other));
    http_reqparser_free(&p);
    if (strcmp(whole, other) != 0) {
        fprintf(stderr, "byte by byte:\n  %s\nvs whole:\n  %s\n", other, whole);
        ok = 0;
    }
    for (size_t cut = 0; cut <= len && ok; cut++) {
        http_reqparser_init(&p, max_header, max_body);
        rc = feed_split(&p, s, len, cut, &used);
        describe(&p, rc, used, other, sizeof(other));
        http_reqparser_free(&p);
        if (strcmp(whole, other) != 0) {
            fprintf(stderr, "split at %zu:\n  %s\nvs whole:\n  %s\n", cut, other, whole);
            ok = 0;
        }
    }
    return ok;
}

static void test_simple_get(void)
{
    const char *s = "GET /index.html?x=1&y=2#frag HTTP/1.1\r\n"
                    "Host: example.com\r\n"
                    "User-Agent: \t curl/8.0 \t \r\n"
                    "X-Empty:\r\n"
                    "\r\n";
    http_reqparser_t p;
    size_t used = 0;
    http_reqparser_init(&p, MAX_HEADER, MAX_BODY);
    int rc = http_reqparser_feed(&p, s, strlen(s), &used);
    const http_request_t *r = &p.req;
    ASSERT_EQ(rc, HTTP_PARSE_DONE);
    ASSERT_EQ(used, strlen(s));
    ASSERT_EQ(r->method, HTTP_GET);
    ASSERT_STREQ(r->target, "/index.html?x=1&y=2#frag");
    ASSERT_EQ(r->target_len, strlen("/index.html?x=1&y=2#frag"));
    ASSERT_STREQ(r->path, "/index.html");
    ASSERT_EQ(r->path_len, 11);
    ASSERT_STREQ(r->query, "x=1&y=2");
    ASSERT_EQ(r->query_len, 7);
    ASSERT_EQ(r->http_major, 1);
    ASSERT_EQ(r->http_minor, 1);
    ASSERT_EQ(r->keep_alive, 1);
    ASSERT_EQ(r->upgrade, 0);
    ASSERT_EQ(r->nheaders, 3);
    ASSERT_STREQ(r->headers[0].name, "Host");
    ASSERT_EQ(r->headers[0].name_len, 4);
    ASSERT_STREQ(r->headers[0].value, "example.com");
    ASSERT_STREQ(r->headers[1].value, "curl/8.0");
    ASSERT_EQ(r->headers[1].value_len, 8);
    ASSERT_STREQ(r->headers[2].name, "X-Empty");
    ASSERT_STREQ(r->headers[2].value, "");
    ASSERT_EQ(r->headers[2].value_len, 0);
    ASSERT_TRUE(r->body == NULL);
    ASSERT_EQ(r->body_len, 0);
    ASSERT_EQ(p.started, 1);
    ASSERT_EQ(p.headers_done, 1);
    ASSERT_EQ(p.complete, 1);

    /* Not reset yet: a further feed takes nothing. */
    ASSERT_EQ(http_reqparser_feed(&p, "GET", 3, &used), HTTP_PARSE_DONE);
    ASSERT_EQ(used, 0);
    http_reqparser_free(&p);
}

static void test_no_query(void)
{
    const char *s = "GET /ws HTTP/1.1\r\n\r\n";
    http_reqparser_t p;
    size_t used = 0;
    http_reqparser_init(&p, MAX_HEADER, MAX_BODY);
    ASSERT_EQ(http_reqparser_feed(&p, s, strlen(s), &used), HTTP_PARSE_DONE);
    ASSERT_STREQ(p.req.path, "/ws");
    ASSERT_STREQ(p.req.query, "");
    ASSERT_EQ(p.req.query_len, 0);
    ASSERT_EQ(p.req.nheaders, 0);
    http_reqparser_free(&p);

    const char *q = "GET /?a HTTP/1.1\r\n\r\n";
    http_reqparser_init(&p, MAX_HEADER, MAX_BODY);
    ASSERT_EQ(http_reqparser_feed(&p, q, strlen(q), &used), HTTP_PARSE_DONE);
    ASSERT_STREQ(p.req.path, "/");
    ASSERT_STREQ(p.req.query, "a");
    http_reqparser_free(&p);
}

static void test_split_everywhere(void)
{
    static const char *reqs[] = {
        "GET /a/b?c=d HTTP/1.1\r\nHost: h\r\nAccept: */*\r\nX-Long-Header-Name: "
        "some longer value, with commas\r\nCookie: a=b; c=d\r\n\r\n",
        "POST /api/x HTTP/1.1\r\nHost: h\r\nContent-Length: 11\r\n"
        "Content-Type: application/json\r\n\r\n{\"a\":12345}",
        "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        "5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n",
        "GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x80xyzw",
        "GET / HTTP/1.0\r\n\r\n",
        "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        "POST / HTTP/1.1\r\nContent-Length: 5000\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\rX0\r\n\r\n",
        "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\n\r\r\n\r\n0\r\n\r\n",
    };
    char whole[4096];
    for (size_t i = 0; i < CH_ARRAY_LEN(reqs); i++)
        ASSERT_TRUE(split_consistent(reqs[i], MAX_HEADER, MAX_BODY, whole, sizeof(whole)));
    /* The same checks hold near the limits, where the verdict must not depend on splits. */
    ASSERT_TRUE(split_consistent(reqs[0], 60, 8, whole, sizeof(whole)));
    ASSERT_TRUE(strstr(whole, "status=431") != NULL);
    ASSERT_TRUE(split_consistent(reqs[2], 100, 10, whole, sizeof(whole)));
    ASSERT_TRUE(strstr(whole, "status=413") != NULL);
    ASSERT_TRUE(split_consistent(reqs[2], 100, 11, whole, sizeof(whole)));
    ASSERT_TRUE(strstr(whole, "body=11[hello world]") != NULL);
    ASSERT_TRUE(split_consistent(reqs[5], MAX_HEADER, MAX_BODY, whole, sizeof(whole)));
    ASSERT_TRUE(strstr(whole, "status=400") != NULL);
}

static void test_pipelined(void)
{
    const char *r1 = "GET /one HTTP/1.1\r\nHost: h\r\n\r\n";
    const char *r2 = "POST /two HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n\r\nabc";
    const char *r3 = "GET /three?x HTTP/1.1\r\nConnection: close\r\n\r\n";
    char all[512];
    snprintf(all, sizeof(all), "%s%s%s", r1, r2, r3);
    size_t len = strlen(all), off = 0, used = 0;
    http_reqparser_t p;
    http_reqparser_init(&p, MAX_HEADER, MAX_BODY);

    ASSERT_EQ(http_reqparser_feed(&p, all, len, &used), HTTP_PARSE_DONE);
    ASSERT_EQ(used, strlen(r1));
    ASSERT_STREQ(p.req.path, "/one");
    ASSERT_EQ(p.req.keep_alive, 1);
    off += used;
    http_reqparser_reset(&p);

    ASSERT_EQ(http_reqparser_feed(&p, all + off, len - off, &used), HTTP_PARSE_DONE);
    ASSERT_EQ(used, strlen(r2));
    ASSERT_STREQ(p.req.path, "/two");
    ASSERT_EQ(p.req.method, HTTP_POST);
    ASSERT_EQ(p.req.body_len, 3);
    ASSERT_STREQ(p.req.body, "abc");
    off += used;
    http_reqparser_reset(&p);

    ASSERT_EQ(http_reqparser_feed(&p, all + off, len - off, &used), HTTP_PARSE_DONE);
    ASSERT_EQ(used, strlen(r3));
    ASSERT_STREQ(p.req.path, "/three");
    ASSERT_STREQ(p.req.query, "x");
    ASSERT_EQ(p.req.keep_alive, 0);
    ASSERT_TRUE(p.req.body == NULL);
    ASSERT_EQ(off + used, len);
    http_reqparser_reset(&p);
    ASSERT_EQ(p.started, 0);
    ASSERT_EQ(p.req.nheaders, 0);
    http_reqparser_free(&p);
}

/* Feeds one request whole and returns keep_alive, or -1 when it did not parse. */
static int keep_alive_of(const char *s)
{
    http_reqparser_t p;
    size_t used = 0;
    http_reqparser_init(&p, MAX_HEADER, MAX_BODY);
    int rc = http_reqparser_feed(&p, s, strlen(s), &used);
    int ka = rc == HTTP_PARSE_DONE ? p.req.keep_alive : -1;
    http_reqparser_free(&p);
    return ka;
}

static void test_keep_alive(void)
{
    ASSERT_EQ(keep_alive_of("GET / HTTP/1.1\r\n\r\n"), 1);
    ASSERT_EQ(keep_alive_of("GET / HTTP/1.1\r\nConnection: close\r\n\r\n"), 0);
    ASSERT_EQ(keep_alive_of("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n"), 0);
    ASSERT_EQ(keep_alive_of("GET / HTTP/1.0\r\n\r\n"), 0);
    ASSERT_EQ(keep_alive_of("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"), 1);
}

static void test_content_length_body(void)
{
    const char *s = "PUT /doc HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789GET / HTTP/1.1";
    http_reqparser_t p;
    size_t used = 0, total = 0;
    http_reqparser_init(&p, MAX_HEADER, MAX_BODY);
    /* The body arrives in three pieces. */
    size_t hdr = strlen("PUT /doc HTTP/1.1\r\nContent-Length: 10\r\n\r\n");
    ASSERT_EQ(http_reqparser_feed(&p, s, hdr + 3, &used), HTTP_PARSE_AGAIN);
    ASSERT_EQ(used, hdr + 3);
    ASSERT_EQ(p.headers_done, 1);
    total = used;
    ASSERT_EQ(http_reqparser_feed(&p, s + total, 4, &used), HTTP_PARSE_AGAIN);
    total += used;
    ASSERT_EQ(http_reqparser_feed(&p, s + total, strlen(s) - total, &used), HTTP_PARSE_DONE);
    total += used;
    ASSERT_EQ(total, hdr + 10);
    ASSERT_EQ(p.req.method, HTTP_PUT);
    ASSERT_EQ(p.req.body_len, 10);
    ASSERT_MEMEQ(p.req.body, "0123456789", 10);
    ASSERT_EQ(p.req.body[10], '\0');
    http_reqparser_free(&p);
}

static void test_chunked_body(void)
{
    const char *s = "POST /c HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                    "5;name=value;x\r\nhello\r\n"
                    "1\r\n \r\n"
                    "a\r\n0123456789\r\n"
                    "0\r\nX-Trailer: t\r\nX-Other: u\r\n\r\n"
                    "GET /next HTTP/1.1\r\n\r\n";
    size_t req_len = strlen(s) - strlen("GET /next HTTP/1.1\r\n\r\n");
    for (size_t step = 1; step <= strlen(s); step++) {
        http_reqparser_t p;
        size_t used = 0;
        http_reqparser_init(&p, MAX_HEADER, MAX_BODY);
        ASSERT_EQ(feed_steps(&p, s, strlen(s), step, &used), HTTP_PARSE_DONE);
        ASSERT_EQ(used, req_len);
        ASSERT_EQ(p.req.body_len, 16);
        ASSERT_STREQ(p.req.body, "hello 0123456789");
        ASSERT_EQ(p.req.nheaders, 2); /* trailers are not headers */
        ASSERT_TRUE(http_request_header(&p.req, "X-Trailer") == NULL);
        http_reqparser_reset(&p);
        ASSERT_EQ(feed_steps(&p, s + used, strlen(s) - used, step, &used), HTTP_PARSE_DONE);
        ASSERT_STREQ(p.req.path, "/next");
        http_reqparser_free(&p);
    }
}

/* Feeds one request whole and returns the error status, 0 for DONE, -1 for AGAIN. */
static int status_of(const char *s, size_t len, size_t max_header, size_t max_body)
{
    http_reqparser_t p;
    size_t used = 0;
    http_reqparser_init(&p, max_header, max_body);
    int rc = http_reqparser_feed(&p, s, len, &used);
    int st = rc == HTTP_PARSE_DONE ? 0 : rc == HTTP_PARSE_AGAIN ? -1 : p.error_status;
    if (rc == HTTP_PARSE_ERROR && (!p.error_message || !*p.error_message)) st = -2;
    http_reqparser_free(&p);
    return st;
}

#define STATUS(s) status_of((s), strlen(s), MAX_HEADER, MAX_BODY)

static void test_smuggling(void)
{
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
                     "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
              400);
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                     "Content-Length: 5\r\n\r\n0\r\n\r\n"),
              400);
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
                     "Transfer-Encoding: gzip\r\n\r\nhello"),
              400);
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nContent-Length: 5\r\n"
                     "Content-Length: 6\r\n\r\nhello!"),
              400);
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\nhello"), 400);
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n"),
              400);
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nContent-Length: 5x\r\n\r\nhello"), 400);
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n"), 400);
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n0\r\n\r\n"), 0);
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n"), 0);
}

/* Builds a request whose request line and header block are exactly total bytes long. */
static char *request_of_size(size_t total)
{
    const char *head = "GET / HTTP/1.1\r\nX-Pad: ";
    size_t fixed = strlen(head) + 4; /* + "\r\n\r\n" */
    if (total < fixed) return NULL;
    char *s = ch_malloc(total + 1);
    size_t n = strlen(head);
    memcpy(s, head, n);
    memset(s + n, 'a', total - fixed);
    memcpy(s + total - 4, "\r\n\r\n", 5);
    return s;
}

static void test_header_limit(void)
{
    char *ok = request_of_size(MAX_HEADER);
    char *over = request_of_size(MAX_HEADER + 1);
    ASSERT_EQ(strlen(ok), MAX_HEADER);
    ASSERT_EQ(status_of(ok, MAX_HEADER, MAX_HEADER, MAX_BODY), 0);
    ASSERT_EQ(status_of(over, MAX_HEADER + 1, MAX_HEADER, MAX_BODY), 431);

    /* Byte by byte gives the same verdicts, and nothing past the limit is taken. */
    for (int i = 0; i < 2; i++) {
        http_reqparser_t p;
        size_t used = 0;
        http_reqparser_init(&p, MAX_HEADER, MAX_BODY);
        int rc = feed_steps(&p, i ? over : ok, MAX_HEADER + (size_t)i, 1, &used);
        ASSERT_EQ(rc, i ? HTTP_PARSE_ERROR : HTTP_PARSE_DONE);
        if (i) ASSERT_EQ(p.error_status, 431);
        ASSERT_TRUE(used <= MAX_HEADER + 1);
        http_reqparser_free(&p);
    }

    /* A header block that never ends stops at the limit, without buffering beyond it. */
    char *endless = ch_malloc(3 * MAX_HEADER);
    memcpy(endless, "GET / HTTP/1.1\r\nX: ", 19);
    memset(endless + 19, 'b', 3 * MAX_HEADER - 19);
    http_reqparser_t p;
    size_t used = 0;
    http_reqparser_init(&p, MAX_HEADER, MAX_BODY);
    ASSERT_EQ(http_reqparser_feed(&p, endless, 3 * MAX_HEADER, &used), HTTP_PARSE_ERROR);
    ASSERT_EQ(p.error_status, 431);
    ASSERT_TRUE(used <= MAX_HEADER + 1);
    ASSERT_TRUE(p.buf_cap <= 2 * MAX_HEADER);
    /* Errors are sticky. */
    ASSERT_EQ(http_reqparser_feed(&p, "\r\n\r\n", 4, &used), HTTP_PARSE_ERROR);
    ASSERT_EQ(used, 0);
    http_reqparser_free(&p);

    /* Beyond http-parser's own 80 KiB limit the answer is still 431. */
    char *huge = request_of_size(100 * 1024);
    ASSERT_EQ(status_of(huge, 100 * 1024, 200 * 1024, MAX_BODY), 431);
    free(huge);
    free(endless);
    free(ok);
    free(over);
}

static void test_body_limit_content_length(void)
{
    char s[256];
    /* Rejected from the header alone, before any body byte arrives. */
    snprintf(s, sizeof(s), "POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n", MAX_BODY + 1);
    ASSERT_EQ(STATUS(s), 413);
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nContent-Length: 99999999999999999\r\n\r\n"), 413);
    /* Beyond 2^64 http-parser itself calls the value invalid. */
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n"),
              400);
    snprintf(s, sizeof(s), "POST / HTTP/1.1\r\nContent-Length: %d\r\n\r\n", MAX_BODY);
    ASSERT_EQ(STATUS(s), -1); /* accepted; waiting for the body */

    size_t hl = strlen(s);
    char *full = ch_malloc(hl + MAX_BODY);
    memcpy(full, s, hl);
    memset(full + hl, 'z', MAX_BODY);
    ASSERT_EQ(status_of(full, hl + MAX_BODY, MAX_HEADER, MAX_BODY), 0);
    free(full);
}

/* A chunked request carrying total body bytes in chunks of at most 1000. */
static char *chunked_of_size(size_t total, size_t *len)
{
    char *s = ch_malloc(total + 64 * (total / 1000 + 2) + 128);
    size_t n = (size_t)sprintf(s, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    while (total > 0) {
        size_t c = total < 1000 ? total : 1000;
        n += (size_t)sprintf(s + n, "%zx\r\n", c);
        memset(s + n, 'c', c);
        n += c;
        n += (size_t)sprintf(s + n, "\r\n");
        total -= c;
    }
    n += (size_t)sprintf(s + n, "0\r\n\r\n");
    *len = n;
    return s;
}

static void test_body_limit_chunked(void)
{
    size_t len = 0;
    char *ok = chunked_of_size(MAX_BODY, &len);
    ASSERT_EQ(status_of(ok, len, MAX_HEADER, MAX_BODY), 0);
    free(ok);
    char *over = chunked_of_size(MAX_BODY + 1, &len);
    ASSERT_EQ(status_of(over, len, MAX_HEADER, MAX_BODY), 413);
    free(over);

    /* Endless chunk extensions carry no body but are still capped. */
    size_t big = 2 * MAX_HEADER;
    char *ext = ch_malloc(big);
    size_t n = (size_t)sprintf(ext, "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1;");
    memset(ext + n, 'e', big - n);
    ASSERT_EQ(status_of(ext, big, MAX_HEADER, MAX_BODY), 413);
    free(ext);
}

static void test_malformed(void)
{
    ASSERT_EQ(STATUS("GET\r\n\r\n"), 400);
    ASSERT_EQ(STATUS("G@T / HTTP/1.1\r\n\r\n"), 400);
    ASSERT_EQ(STATUS("GET / HTTP/1.x\r\n\r\n"), 400);
    ASSERT_EQ(STATUS("GET / HTTP/2.0\r\n\r\n"), 400);
    ASSERT_EQ(STATUS("GET / HTTP/0.9\r\n\r\n"), 400);
    ASSERT_EQ(STATUS("GET /a\tb HTTP/1.1\r\n\r\n"), 400);
    ASSERT_EQ(STATUS("GET /a\fb HTTP/1.1\r\n\r\n"), 400);
    ASSERT_EQ(STATUS("GET / HTTP/1.1 extra\r\n\r\n"), 400);
    ASSERT_EQ(STATUS("GET /a b HTTP/1.1\r\n\r\n"), 400);
    ASSERT_EQ(STATUS("GET / HTTP/1.1\r\nNoColon\r\n\r\n"), 400);
    ASSERT_EQ(STATUS("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n"), 400);
    ASSERT_EQ(STATUS("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), 400); /* TLS hello */
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"), 400);
    ASSERT_EQ(status_of("GET /\0 HTTP/1.1\r\n\r\n", 20, MAX_HEADER, MAX_BODY), 400);
    ASSERT_EQ(STATUS("GET / HTTP/1.1\r\n"), -1); /* incomplete, not wrong */
}

/* Line endings that http-parser's non-strict build lets through (see scan_framing). */
static void test_lax_framing(void)
{
    ASSERT_EQ(STATUS("GET / HTTP/1.1\r\nHost: a\r\n\rX"), 400);
    ASSERT_EQ(STATUS("GET / HTTP/1.1\r\nHost: a\r\n\r\n"), 0);
    ASSERT_EQ(STATUS("\r\rGET / HTTP/1.1\r\n\r\n"), 400);
    ASSERT_EQ(STATUS("\r\nGET / HTTP/1.1\r\n\r\n"), 0);
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhelloXX0\r\n\r\n"),
              400);
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\rX0\r\n\r\n"),
              400);
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\rXhello\r\n0\r\n\r\n"),
              400);
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5;a\rXhello\r\n0\r\n\r\n"),
              400);
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n0\r\n\rX"),
              400);
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\r\nhello\r\n0\r\nT: x\r\n\rX"),
              400);
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nTransfer-Encoding : chunked\r\n\r\n0\r\n\r\n"), 400);
    /* CR and LF inside body data are just data. */
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\n\r\rX\r\n0\r\n\r\n"),
              0);
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n\rX\r"), 0);
}

/* Line endings are CR LF only, and a line starting with SP or HTAB (obs-fold, RFC 9112
 * 5.2) is refused: both are places where a proxy could read a different header block. */
static int expect_framing_error(const char *s, const char *word)
{
    http_reqparser_t p;
    size_t len = strlen(s);
    for (int k = 0; k < 4; k++) {
        size_t step = k < 3 ? (size_t)k + 1 : len, used = 0;
        http_reqparser_init(&p, MAX_HEADER, MAX_BODY);
        int rc = feed_steps(&p, s, len, step, &used);
        int ok = rc == HTTP_PARSE_ERROR && p.error_status == 400 &&
                 strstr(p.error_message, word) != NULL;
        if (!ok)
            fprintf(stderr, "step %zu: rc %d status %d (%s)\n", step, rc, p.error_status,
                    p.error_message ? p.error_message : "-");
        http_reqparser_free(&p);
        if (!ok) return -1;
    }
    return 0;
}

static void test_bare_lf_and_obs_fold(void)
{
    ASSERT_EQ(expect_framing_error("GET / HTTP/1.1\nHost: a\n\n", "bare LF"), 0);
    ASSERT_EQ(expect_framing_error("GET / HTTP/1.1\r\nHost: a\n\r\n", "bare LF"), 0);
    ASSERT_EQ(expect_framing_error("GET / HTTP/1.1\r\nHost: a\r\n\n", "bare LF"), 0);
    ASSERT_EQ(expect_framing_error("\nGET / HTTP/1.1\r\n\r\n", "bare LF"), 0);
    /* (byte by byte, http-parser itself refuses this one first) */
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "5\nhello\r\n0\r\n\r\n"),
              400);
    ASSERT_EQ(expect_framing_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   "5\r\nhello\r\n0\r\nT: x\n\r\n",
                                   "bare LF"),
              0);
    ASSERT_EQ(expect_framing_error("GET / HTTP/1.1\r\nX-A: one\r\n two\r\n\r\n", "obs-fold"),
              0);
    ASSERT_EQ(expect_framing_error("GET / HTTP/1.1\r\nX-A: one\r\n\ttwo\r\n\r\n", "obs-fold"),
              0);
    ASSERT_EQ(expect_framing_error("GET / HTTP/1.1\r\n Host: a\r\n\r\n", "obs-fold"), 0);
    ASSERT_EQ(expect_framing_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
                                   " , identity\r\n\r\n0\r\n\r\n",
                                   "obs-fold"),
              0);
    ASSERT_EQ(expect_framing_error("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                                   "5\r\nhello\r\n0\r\nT: x\r\n y\r\n\r\n",
                                   "obs-fold"),
              0);
    /* Whitespace at the start of body data is data, in either framing. */
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\n \t\n"), 0);
    ASSERT_EQ(STATUS("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                     "3\r\n \n\t\r\n2\r\n\t \r\n0\r\n\r\n"),
              0);
    /* Whitespace inside a line is not folding. */
    ASSERT_EQ(STATUS("GET / HTTP/1.1\r\nX-A: one \t two \r\n\r\n"), 0);
}

static void test_upgrade(void)
{
    const char *head = "GET /ws?room=r1 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\n"
                       "Connection: keep-alive, Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                       "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n";
    const char frame[] = "\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58";
    char s[512];
    size_t hl = strlen(head);
    memcpy(s, head, hl);
    memcpy(s + hl, frame, sizeof(frame) - 1);
    size_t len = hl + sizeof(frame) - 1;
    for (size_t step = 1; step <= len; step++) {
        http_reqparser_t p;
        size_t used = 0;
        http_reqparser_init(&p, MAX_HEADER, MAX_BODY);
        ASSERT_EQ(feed_steps(&p, s, len, step, &used), HTTP_PARSE_DONE);
        ASSERT_EQ(used, hl);
        ASSERT_EQ(p.req.upgrade, 1);
        ASSERT_STREQ(p.req.query, "room=r1");
        http_reqparser_free(&p);
    }
}

static void test_header_lookup(void)
{
    const char *s = "GET / HTTP/1.1\r\nhost: a\r\nCONTENT-type: text/plain\r\n"
                    "X-Dup: 1\r\nx-dup: 2\r\n\r\n";
    http_reqparser_t p;
    size_t used = 0;
    http_reqparser_init(&p, MAX_HEADER, MAX_BODY);
    ASSERT_EQ(http_reqparser_feed(&p, s, strlen(s), &used), HTTP_PARSE_DONE);
    const http_header_t *h = http_request_header(&p.req, "Host");
    ASSERT_TRUE(h != NULL);
    ASSERT_STREQ(h->value, "a");
    h = http_request_header(&p.req, "content-type");
    ASSERT_TRUE(h != NULL);
    ASSERT_STREQ(h->value, "text/plain");
    h = http_request_header(&p.req, "X-DUP");
    ASSERT_TRUE(h != NULL);
    ASSERT_STREQ(h->value, "1"); /* the first one */
    ASSERT_TRUE(http_request_header(&p.req, "Hos") == NULL);
    ASSERT_TRUE(http_request_header(&p.req, "Hostname") == NULL);
    http_reqparser_free(&p);
}

static void test_many_headers_and_reset_memory(void)
{
    /* Enough headers and bytes to grow every buffer past what reset retains. */
    size_t cap = 12000, n = 0;
    char *s = ch_malloc(cap);
    n += (size_t)sprintf(s, "POST /big HTTP/1.1\r\n");
    for (int i = 0; i < 100; i++)
        n += (size_t)sprintf(s + n, "X-H%d: value-%d-%s\r\n", i, i, "padpadpadpadpadpadpad");
    n += (size_t)sprintf(s + n, "Content-Length: 4000\r\n\r\n");
    memset(s + n, 'b', 4000);
    n += 4000;
    CH_ASSERT(n < cap);
    http_reqparser_t p;
    size_t used = 0;
    http_reqparser_init(&p, MAX_HEADER, MAX_BODY);
    ASSERT_EQ(feed_steps(&p, s, n, 7, &used), HTTP_PARSE_DONE);
    ASSERT_EQ(used, n);
    ASSERT_EQ(p.req.nheaders, 101);
    ASSERT_STREQ(p.req.headers[57].name, "X-H57");
    ASSERT_STREQ(p.req.headers[57].value, "value-57-padpadpadpadpadpadpad");
    ASSERT_STREQ(http_request_header(&p.req, "x-h99")->value, "value-99-padpadpadpadpadpadpad");
    ASSERT_EQ(p.req.body_len, 4000);
    http_reqparser_reset(&p);
    ASSERT_TRUE(p.buf_cap <= 4096);
    ASSERT_TRUE(p.body_cap <= 4096);
    ASSERT_TRUE(p.hdr_cap <= 32);
    /* And the parser still works afterwards. */
    ASSERT_EQ(http_reqparser_feed(&p, "GET / HTTP/1.1\r\nA: b\r\n\r\n", 24, &used),
              HTTP_PARSE_DONE);
    ASSERT_STREQ(http_request_header(&p.req, "a")->value, "b");
    http_reqparser_free(&p);
    free(s);
}

static void test_moved_parser(void)
{
    /* The parser struct may be moved between feeds (e.g. inside a reallocated array). */
    const char *s = "GET /moved HTTP/1.1\r\nHost: h\r\n\r\n";
    http_reqparser_t a, b;
    size_t used = 0;
    http_reqparser_init(&a, MAX_HEADER, MAX_BODY);
    ASSERT_EQ(http_reqparser_feed(&a, s, 10, &used), HTTP_PARSE_AGAIN);
    memcpy(&b, &a, sizeof(a));
    memset(&a, 0xAA, sizeof(a));
    ASSERT_EQ(http_reqparser_feed(&b, s + 10, strlen(s) - 10, &used), HTTP_PARSE_DONE);
    ASSERT_STREQ(b.req.path, "/moved");
    http_reqparser_free(&b);
}

/* Streams a request's body through a parser with stop_at_headers, feeding at most step
 * bytes per call (the consumer's room), and collects the body pieces into out. Returns
 * the final result (DONE or ERROR) or a negative test code. */
static int stream_all(http_reqparser_t *p, const char *s, size_t len, size_t step, char *out,
                      size_t cap, size_t *out_len, int *headers_seen)
{
    size_t off = 0;
    *out_len = 0;
    *headers_seen = 0;
    while (off < len) {
        size_t n = len - off < step ? len - off : step, used = 0;
        int rc = http_reqparser_feed(p, s + off, n, &used);
        if (used > n) return -99;
        off += used;
        if (rc == HTTP_PARSE_HEADERS) {
            (*headers_seen)++;
            http_reqparser_stream(p);
            continue;
        }
        if (rc == HTTP_PARSE_BODY) {
            if (p->chunk_len > n || *out_len + p->chunk_len > cap) return -97;
            memcpy(out + *out_len, p->chunk, p->chunk_len);
            *out_len += p->chunk_len;
            continue;
        }
        if (rc != HTTP_PARSE_AGAIN) return rc;
    }
    return HTTP_PARSE_AGAIN;
}

static void test_stream_content_length(void)
{
    /* A body past max_body streams: the consumer bounds it, not the parser. */
    char req[8192], body[6000], got[8192];
    for (size_t i = 0; i < sizeof(body); i++)
        body[i] = (char)('a' + i % 26);
    int h = snprintf(req, sizeof(req),
                     "PATCH /api/uploads/x HTTP/1.1\r\nHost: a\r\nContent-Length: %zu\r\n\r\n",
                     sizeof(body));
    memcpy(req + h, body, sizeof(body));
    size_t len = (size_t)h + sizeof(body);
    memcpy(req + len, "GET / HTTP/1.1\r\n\r\n", 18);
    for (size_t step = 1; step <= 4096; step = step * 3 + 1) {
        http_reqparser_t p;
        http_reqparser_init(&p, MAX_HEADER, MAX_BODY);
        p.stop_at_headers = 1;
        size_t got_len = 0;
        int seen = 0;
        int rc = stream_all(&p, req, len + 18, step, got, sizeof(got), &got_len, &seen);
        ASSERT_EQ(rc, HTTP_PARSE_DONE);
        ASSERT_EQ(seen, 1);
        ASSERT_EQ(got_len, sizeof(body));
        ASSERT_MEMEQ(got, body, sizeof(body));
        ASSERT_EQ(p.req.content_length, sizeof(body));
        ASSERT_TRUE(p.req.body == NULL); /* nothing kept */
        ASSERT_TRUE(p.body == NULL);
        /* The next pipelined request parses after a reset; the flag stays. */
        http_reqparser_reset(&p);
        ASSERT_EQ(p.stop_at_headers, 1);
        ASSERT_EQ(p.stream, 0);
        static const char get[] = "GET / HTTP/1.1\r\n\r\n";
        size_t used = 0;
        rc = http_reqparser_feed(&p, get, 18, &used);
        ASSERT_EQ(rc, HTTP_PARSE_HEADERS);
        size_t used2 = 0;
        rc = http_reqparser_feed(&p, &get[used], 18 - used, &used2);
        ASSERT_EQ(rc, HTTP_PARSE_DONE);
        ASSERT_EQ(used + used2, 18);
        http_reqparser_free(&p);
    }
}

/* http-parser reads the last byte of a Content-Length body twice (once as body, again to
 * end the message): that byte is body, never framing, whatever it is (a streamed upload
 * of random bytes ending in LF or CR was refused 400 "bare LF"). */
static void test_stream_body_last_byte(void)
{
    static const char ends[] = {'\n', '\r', ' ', 'x'};
    for (size_t e = 0; e < sizeof(ends); e++) {
        char req[256], got[256];
        char body[40];
        memset(body, '\r', sizeof(body) - 1);
        body[sizeof(body) - 1] = ends[e];
        int h = snprintf(req, sizeof(req),
                         "PATCH /api/uploads/x HTTP/1.1\r\nContent-Length: %zu\r\n\r\n",
                         sizeof(body));
        memcpy(req + h, body, sizeof(body));
        size_t len = (size_t)h + sizeof(body);
        memcpy(req + len, "GET / HTTP/1.1\r\n\r\n", 18);
        for (size_t step = 1; step <= 128; step++) {
            http_reqparser_t p;
            http_reqparser_init(&p, MAX_HEADER, MAX_BODY);
            p.stop_at_headers = 1;
            size_t got_len = 0, used = 0;
            int seen = 0;
            ASSERT_EQ(stream_all(&p, req, len + 18, step, got, sizeof(got), &got_len, &seen),
                      HTTP_PARSE_DONE);
            ASSERT_EQ(got_len, sizeof(body));
            ASSERT_MEMEQ(got, body, sizeof(body));
            ASSERT_EQ(p.msg_bytes, len);
            /* The pipelined request after it parses. */
            http_reqparser_reset(&p);
            ASSERT_EQ(http_reqparser_feed(&p, req + len, 18, &used), HTTP_PARSE_HEADERS);
            http_reqparser_free(&p);
        }
    }
}

static void test_stream_chunked(void)
{
    const char *req = "PATCH /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nX-T: 1\r\n\r\n";
    for (size_t step = 1; step <= 128; step++) {
        http_reqparser_t p;
        http_reqparser_init(&p, MAX_HEADER, 4); /* smaller than the body: streamed anyway */
        p.stop_at_headers = 1;
        char got[64];
        size_t got_len = 0;
        int seen = 0;
        int rc = stream_all(&p, req, strlen(req), step, got, sizeof(got), &got_len, &seen);
        ASSERT_EQ(rc, HTTP_PARSE_DONE);
        ASSERT_EQ(got_len, 12);
        ASSERT_MEMEQ(got, "hello world!", 12);
        ASSERT_EQ(p.req.content_length, HTTP_NO_LENGTH);
        http_reqparser_free(&p);
    }
    /* Broken chunk framing is still refused while streaming. */
    const char *bad = "PATCH /u HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                      "5\r\nhelloXX0\r\n\r\n";
    http_reqparser_t p;
    http_reqparser_init(&p, MAX_HEADER, MAX_BODY);
    p.stop_at_headers = 1;
    char got[64];
    size_t got_len = 0;
    int seen = 0;
    ASSERT_EQ(stream_all(&p, bad, strlen(bad), 7, got, sizeof(got), &got_len, &seen),
              HTTP_PARSE_ERROR);
    ASSERT_EQ(p.error_status, 400);
    http_reqparser_free(&p);
}

static void test_stop_at_headers_buffered(void)
{
    /* Not streamed: the body is buffered and max_body applies as before, checked on the
     * call after HTTP_PARSE_HEADERS. */
    const char *ok = "POST /api/x HTTP/1.1\r\nContent-Length: 4\r\n\r\nabcd";
    http_reqparser_t p;
    http_reqparser_init(&p, MAX_HEADER, 4);
    p.stop_at_headers = 1;
    size_t used = 0, used2 = 0;
    ASSERT_EQ(http_reqparser_feed(&p, ok, strlen(ok), &used), HTTP_PARSE_HEADERS);
    ASSERT_EQ(http_reqparser_feed(&p, ok + used, strlen(ok) - used, &used2), HTTP_PARSE_DONE);
    ASSERT_EQ(used + used2, strlen(ok));
    ASSERT_EQ(p.req.body_len, 4);
    ASSERT_STREQ(p.req.body, "abcd");
    http_reqparser_free(&p);

    const char *big = "POST /api/x HTTP/1.1\r\nContent-Length: 5\r\n\r\n";
    http_reqparser_init(&p, MAX_HEADER, 4);
    p.stop_at_headers = 1;
    ASSERT_EQ(http_reqparser_feed(&p, big, strlen(big), &used), HTTP_PARSE_HEADERS);
    ASSERT_EQ(http_reqparser_feed(&p, big + used, strlen(big) - used, &used2),
              HTTP_PARSE_ERROR);
    ASSERT_EQ(p.error_status, 413);
    http_reqparser_free(&p);

    /* Without the flag nothing changed: 413 from the Content-Length at once. */
    http_reqparser_init(&p, MAX_HEADER, 4);
    ASSERT_EQ(http_reqparser_feed(&p, big, strlen(big), &used), HTTP_PARSE_ERROR);
    ASSERT_EQ(p.error_status, 413);
    http_reqparser_free(&p);
}

int main(void)
{
    RUN(test_simple_get);
    RUN(test_no_query);
    RUN(test_split_everywhere);
    RUN(test_pipelined);
    RUN(test_keep_alive);
    RUN(test_content_length_body);
    RUN(test_chunked_body);
    RUN(test_smuggling);
    RUN(test_header_limit);
    RUN(test_body_limit_content_length);
    RUN(test_body_limit_chunked);
    RUN(test_malformed);
    RUN(test_lax_framing);
    RUN(test_bare_lf_and_obs_fold);
    RUN(test_upgrade);
    RUN(test_header_lookup);
    RUN(test_many_headers_and_reset_memory);
    RUN(test_moved_parser);
    RUN(test_stream_content_length);
    RUN(test_stream_chunked);
    RUN(test_stream_body_last_byte);
    RUN(test_stop_at_headers_buffered);
    TEST_MAIN_END();
}
