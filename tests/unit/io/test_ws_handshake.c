/* test_ws_handshake.c: unit tests for the WebSocket opening handshake checks. */
#include "io/ws_handshake.h"
#include "test.h"

#define KEY "dGhlIHNhbXBsZSBub25jZQ=="

/* Parses a request (head lines without the final blank line) into p; returns 1 on success. */
static int parse(http_reqparser_t *p, const char *head)
{
    char s[2048];
    size_t used = 0;
    int n = snprintf(s, sizeof(s), "%s\r\n", head);
    http_reqparser_init(p, 8192, 1024);
    return http_reqparser_feed(p, s, (size_t)n, &used) == HTTP_PARSE_DONE;
}

/* Runs ws_handshake_check on a parsed request; returns its status, or -1 if the request did
 * not parse. */
static int check(const char *head, const ws_handshake_opts_t *opts, ws_handshake_t *out)
{
    http_reqparser_t p;
    const char *msg = NULL;
    ws_handshake_t tmp;
    if (!parse(&p, head)) {
        http_reqparser_free(&p);
        return -1;
    }
    int st = ws_handshake_check(&p.req, opts, out ? out : &tmp, &msg);
    if (!msg || !*msg) st = -2; /* a reason is always given */
    http_reqparser_free(&p);
    return st;
}

#define GOOD_HEAD                                                                              \
    "GET /ws HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n"                          \
    "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"                                    \
    "Sec-WebSocket-Version: 13\r\n"

static void test_accept_key_rfc_example(void)
{
    char out[WS_ACCEPT_LEN + 1];
    memset(out, 'x', sizeof(out));
    ws_accept_key(KEY, strlen(KEY), out);
    ASSERT_STREQ(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    ASSERT_EQ(strlen(out), WS_ACCEPT_LEN);
    /* Only len bytes of the key are used. */
    ws_accept_key(KEY "garbage", strlen(KEY), out);
    ASSERT_STREQ(out, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /* Another known pair (from the Autobahn/MDN examples). */
    ws_accept_key("x3JJHMbDL1EzLkh9GBhXDw==", 24, out);
    ASSERT_STREQ(out, "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
}

static void test_key_valid(void)
{
    ASSERT_TRUE(ws_key_valid(KEY, 24));
    ASSERT_TRUE(ws_key_valid("AAAAAAAAAAAAAAAAAAAAAA==", 24));
    ASSERT_TRUE(ws_key_valid("+/+/+/+/+/+/+/+/+/+/+w==", 24));
    ASSERT_TRUE(!ws_key_valid(KEY, 23)); /* wrong length */
    ASSERT_TRUE(!ws_key_valid("", 0));
    ASSERT_TRUE(!ws_key_valid("dGhlIHNhbXBsZSBub25jZQ===", 25));
    ASSERT_TRUE(!ws_key_valid("dGhlIHNhbXBsZSBub25j", 20));     /* 15 bytes */
    ASSERT_TRUE(!ws_key_valid("dGhlIHNhbXBsZSBub25jZQ", 22));   /* 16 bytes, no padding */
    ASSERT_TRUE(!ws_key_valid("dGhlIHNhbXBsZSBub25jZQA=", 24)); /* 17 bytes */
    ASSERT_TRUE(!ws_key_valid("dGhlIHNhbXBsZSBub25jZQAB", 24)); /* 18 bytes */
    ASSERT_TRUE(!ws_key_valid("dGhlIHNhbXBsZSBub25jZ-==", 24)); /* base64url '-' */
    ASSERT_TRUE(!ws_key_valid("dGhlIHNhbXBsZSBub25jZ_==", 24));
    ASSERT_TRUE(!ws_key_valid("dGhlIHNhbXBs ZSBub25jZ==", 24)); /* space */
    ASSERT_TRUE(!ws_key_valid("dGhlIHNhbXBsZSBub25j=Q==", 24)); /* '=' inside */
    ASSERT_TRUE(!ws_key_valid("dGhlIHNhbXBsZSBub25jZQ\0=", 24));
}

static void test_token_list(void)
{
    const char *v = "keep-alive, Upgrade";
    ASSERT_TRUE(http_token_list_has(v, strlen(v), "upgrade"));
    ASSERT_TRUE(http_token_list_has(v, strlen(v), "KEEP-ALIVE"));
    ASSERT_TRUE(!http_token_list_has(v, strlen(v), "close"));
    ASSERT_TRUE(!http_token_list_has(v, strlen(v), "upgrad"));
    ASSERT_TRUE(!http_token_list_has(v, strlen(v), "keep"));
    ASSERT_TRUE(!http_token_list_has(v, strlen(v), ""));
    ASSERT_TRUE(http_token_list_has("upgrade", 7, "Upgrade"));
    ASSERT_TRUE(http_token_list_has(" \tupgrade\t ", 11, "upgrade"));
    ASSERT_TRUE(http_token_list_has(",,upgrade,,", 11, "upgrade"));
    ASSERT_TRUE(!http_token_list_has("upgrades", 8, "upgrade"));
    ASSERT_TRUE(!http_token_list_has("up grade", 8, "upgrade"));
    ASSERT_TRUE(!http_token_list_has("", 0, "upgrade"));
    ASSERT_TRUE(!http_token_list_has("upgrade", 6, "upgrade")); /* len is honoured */
    ASSERT_TRUE(http_token_list_has("a,upgrade", 9, "upgrade"));
}

static void test_handshake_ok(void)
{
    ws_handshake_t hs;
    memset(&hs, 0, sizeof(hs));
    ASSERT_EQ(check(GOOD_HEAD, NULL, &hs), 0);
    ASSERT_STREQ(hs.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    ASSERT_EQ(hs.subprotocol, 0);
    /* Case and list forms browsers and proxies actually send. */
    ASSERT_EQ(check("GET /ws HTTP/1.1\r\nupgrade: WebSocket\r\n"
                    "connection: keep-alive, Upgrade\r\nsec-websocket-key: " KEY "\r\n"
                    "sec-websocket-version: 13\r\n",
                    NULL, NULL),
              0);
    ASSERT_EQ(check("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
                    "Connection: upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"
                    "Sec-WebSocket-Version: 13\r\n",
                    NULL, NULL),
              0);
}

static void test_handshake_errors(void)
{
    ASSERT_EQ(check("POST /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n"
                    "Content-Length: 0\r\n",
                    NULL, NULL),
              400);
    ASSERT_EQ(check("GET /ws HTTP/1.0\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n",
                    NULL, NULL),
              400);
    /* Upgrade */
    ASSERT_EQ(check("GET /ws HTTP/1.1\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n",
                    NULL, NULL),
              400);
    ASSERT_EQ(check("GET /ws HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n",
                    NULL, NULL),
              400);
    /* Connection */
    ASSERT_EQ(check("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\n"
                    "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n",
                    NULL, NULL),
              400);
    ASSERT_EQ(check("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
                    "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 13\r\n",
                    NULL, NULL),
              400);
    /* Key */
    ASSERT_EQ(check("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Version: 13\r\n",
                    NULL, NULL),
              400);
    ASSERT_EQ(check("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25j\r\nSec-WebSocket-Version: 13\r\n",
                    NULL, NULL),
              400);
    ASSERT_EQ(check("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Key: " KEY "\r\n"
                    "Sec-WebSocket-Version: 13\r\n",
                    NULL, NULL),
              400);
    /* Version */
    ASSERT_EQ(check("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 12\r\n",
                    NULL, NULL),
              426);
    ASSERT_EQ(check("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: " KEY "\r\n",
                    NULL, NULL),
              426);
    ASSERT_EQ(check("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 130\r\n",
                    NULL, NULL),
              426);
    ASSERT_EQ(check("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 8, 13\r\n",
                    NULL, NULL),
              426);
}

#define HEAD_HOST(host)                                                                        \
    "GET /ws HTTP/1.1\r\nHost: " host "\r\nUpgrade: websocket\r\n"                             \
    "Connection: Upgrade\r\nSec-WebSocket-Key: " KEY "\r\n"                                    \
    "Sec-WebSocket-Version: 13\r\n"

/* Same-origin: the Origin's host[:port] is the request's Host or --public-url's. */
static void test_same_origin(void)
{
    ws_handshake_opts_t o = {NULL, 0, NULL, NULL};
    ASSERT_EQ(check(HEAD_HOST("127.0.0.1:8080") "Origin: http://127.0.0.1:8080\r\n", &o, NULL),
              0);
    ASSERT_EQ(
        check(HEAD_HOST("Chat.Example.com") "Origin: https://chat.example.COM\r\n", &o, NULL),
        0);
    ASSERT_EQ(check(HEAD_HOST("[::1]:9000") "Origin: http://[::1]:9000\r\n", &o, NULL), 0);
    /* Default ports: browsers leave them out of Origin; a Host may carry one. */
    ASSERT_EQ(check(HEAD_HOST("chat.example.com:443") "Origin: https://chat.example.com\r\n",
                    &o, NULL),
              0);
    ASSERT_EQ(
        check(HEAD_HOST("chat.example.com:80") "Origin: http://chat.example.com\r\n", &o, NULL),
        0);
    ASSERT_EQ(check(HEAD_HOST("chat.example.com:443") "Origin: http://chat.example.com\r\n", &o,
                    NULL),
              403);
    /* Another port, host or a look-alike is another origin. */
    ASSERT_EQ(check(HEAD_HOST("127.0.0.1:8080") "Origin: http://127.0.0.1:8081\r\n", &o, NULL),
              403);
    ASSERT_EQ(check(HEAD_HOST("127.0.0.1:8080") "Origin: http://127.0.0.1\r\n", &o, NULL), 403);
    ASSERT_EQ(check(HEAD_HOST("a.example") "Origin: http://a.example.evil\r\n", &o, NULL), 403);
    ASSERT_EQ(check(HEAD_HOST("a.example") "Origin: http://evil.a.example\r\n", &o, NULL), 403);
    ASSERT_EQ(check(HEAD_HOST("a.example") "Origin: http://a.example/\r\n", &o, NULL), 403);
    ASSERT_EQ(check(HEAD_HOST("a.example") "Origin: ftp://a.example\r\n", &o, NULL), 403);
    ASSERT_EQ(check(HEAD_HOST("a.example") "Origin: null\r\n", &o, NULL), 403);
    ASSERT_EQ(check(HEAD_HOST("a.example") "Origin: http://\r\n", &o, NULL), 403);
    ASSERT_EQ(check(HEAD_HOST("") "Origin: http://\r\n", &o, NULL), 403);
    ASSERT_EQ(check(HEAD_HOST("a.example") "Host: b.example\r\nOrigin: http://a.example\r\n",
                    &o, NULL),
              403); /* two Hosts: no answer */
    /* --public-url: the origin a proxy's clients see, whatever Host the proxy sends. */
    ws_handshake_opts_t pub = {NULL, 0, NULL, "https://chat.example.com/app/"};
    ASSERT_EQ(
        check(HEAD_HOST("127.0.0.1:8080") "Origin: https://chat.example.com\r\n", &pub, NULL),
        0);
    ASSERT_EQ(
        check(HEAD_HOST("127.0.0.1:8080") "Origin: http://chat.example.com\r\n", &pub, NULL),
        403);
    ws_handshake_opts_t pub443 = {NULL, 0, NULL, "https://chat.example.com:443"};
    ASSERT_EQ(check(HEAD_HOST("127.0.0.1:8080") "Origin: https://chat.example.com\r\n", &pub443,
                    NULL),
              0);
    ws_handshake_opts_t bad = {NULL, 0, NULL, "not a url"};
    ASSERT_EQ(check(HEAD_HOST("x") "Origin: http://not a url\r\n", &bad, NULL), 403);
}

static void test_origin(void)
{
    static const char *const allowed[] = {"https://app.example.com", "http://localhost:8080"};
    ws_handshake_opts_t opts = {allowed, 2, NULL, NULL};
    ASSERT_EQ(check(GOOD_HEAD "Origin: https://app.example.com\r\n", &opts, NULL), 0);
    ASSERT_EQ(check(GOOD_HEAD "Origin: http://localhost:8080\r\n", &opts, NULL), 0);
    ASSERT_EQ(check(GOOD_HEAD "Origin: https://evil.example.com\r\n", &opts, NULL), 403);
    ASSERT_EQ(check(GOOD_HEAD "Origin: https://app.example.com.evil\r\n", &opts, NULL), 403);
    ASSERT_EQ(check(GOOD_HEAD "Origin: https://app.example.co\r\n", &opts, NULL), 403);
    ASSERT_EQ(check(GOOD_HEAD "Origin: http://localhost\r\n", &opts, NULL), 403);
    ASSERT_EQ(check(GOOD_HEAD "Origin: null\r\n", &opts, NULL), 403);
    ASSERT_EQ(check(GOOD_HEAD "Origin: https://evil.example.com\r\n"
                              "Origin: https://app.example.com\r\n",
                    &opts, NULL),
              403);
    ASSERT_EQ(check(GOOD_HEAD, &opts, NULL), 0); /* no Origin: not a browser */
    /* Without a list only the server's own origin is allowed (GOOD_HEAD's Host is
     * example.com); "*" allows any. */
    ws_handshake_opts_t open_opts = {allowed, 0, NULL, NULL};
    ASSERT_EQ(check(GOOD_HEAD "Origin: https://evil.example.com\r\n", &open_opts, NULL), 403);
    ws_handshake_opts_t null_opts = {NULL, 0, "chorus.v1", NULL};
    ASSERT_EQ(check(GOOD_HEAD "Origin: https://evil.example.com\r\n", &null_opts, NULL), 403);
    ASSERT_EQ(check(GOOD_HEAD "Origin: http://example.com\r\n", &null_opts, NULL), 0);
    static const char *const star[] = {"http://x.example", "*"};
    ws_handshake_opts_t star_opts = {star, 2, NULL, NULL};
    ASSERT_EQ(check(GOOD_HEAD "Origin: https://evil.example.com\r\n", &star_opts, NULL), 0);
    ASSERT_EQ(check(GOOD_HEAD "Origin: null\r\n", &star_opts, NULL), 0);
    /* Handshake errors come before origin errors. */
    ASSERT_EQ(check("GET /ws HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    "Sec-WebSocket-Key: " KEY "\r\nSec-WebSocket-Version: 12\r\n"
                    "Origin: https://evil.example.com\r\n",
                    &opts, NULL),
              426);
}

static void test_subprotocol(void)
{
    ws_handshake_opts_t opts = {NULL, 0, "chorus.v1", NULL};
    ws_handshake_t hs;
    memset(&hs, 0, sizeof(hs));
    ASSERT_EQ(check(GOOD_HEAD "Sec-WebSocket-Protocol: foo, chorus.v1\r\n", &opts, &hs), 0);
    ASSERT_EQ(hs.subprotocol, 1);
    ASSERT_STREQ(hs.accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    ASSERT_EQ(check(GOOD_HEAD "Sec-WebSocket-Protocol: chorus.v1\r\n", &opts, &hs), 0);
    ASSERT_EQ(hs.subprotocol, 1);
    ASSERT_EQ(check(GOOD_HEAD "Sec-WebSocket-Protocol: foo\r\n"
                              "Sec-WebSocket-Protocol: chorus.v1\r\n",
                    &opts, &hs),
              0);
    ASSERT_EQ(hs.subprotocol, 1);
    hs.subprotocol = 7;
    ASSERT_EQ(check(GOOD_HEAD "Sec-WebSocket-Protocol: foo, chorus.v2\r\n", &opts, &hs), 0);
    ASSERT_EQ(hs.subprotocol, 0);
    ASSERT_EQ(check(GOOD_HEAD "Sec-WebSocket-Protocol: CHORUS.V1\r\n", &opts, &hs), 0);
    ASSERT_EQ(hs.subprotocol, 0); /* subprotocol names are case-sensitive */
    ASSERT_EQ(check(GOOD_HEAD "Sec-WebSocket-Protocol: chorus.v1x\r\n", &opts, &hs), 0);
    ASSERT_EQ(hs.subprotocol, 0);
    ASSERT_EQ(check(GOOD_HEAD, &opts, &hs), 0);
    ASSERT_EQ(hs.subprotocol, 0);
    ws_handshake_opts_t none = {NULL, 0, NULL, NULL};
    ASSERT_EQ(check(GOOD_HEAD "Sec-WebSocket-Protocol: chorus.v1\r\n", &none, &hs), 0);
    ASSERT_EQ(hs.subprotocol, 0);
}

int main(void)
{
    RUN(test_accept_key_rfc_example);
    RUN(test_key_valid);
    RUN(test_token_list);
    RUN(test_handshake_ok);
    RUN(test_handshake_errors);
    RUN(test_origin);
    RUN(test_same_origin);
    RUN(test_subprotocol);
    TEST_MAIN_END();
}
