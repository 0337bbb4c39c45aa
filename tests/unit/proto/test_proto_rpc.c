/* test_proto_rpc.c: a call to the app's backend (proto_rpc_call) through a fake http_call_t:
 * the request it posts (URL, body, the timestamp and signature headers, the timeout and
 * reply bound from the options), the reply read from the answer, and its bounds. */
#include "test.h"

#include <errno.h>

#include "domain/webhook_rules.h"
#include "proto/proto_rpc.h"
#include "util/mem.h"

typedef struct {
    int posts, refuse, cancels;
    uint64_t cancelled; /* the last id cancelled */
    char url[128], body[512], headers[3][160];
    size_t nheaders;
    uint64_t timeout_ms;
    size_t max_reply;
    http_call_done_fn done;
    void *ud;     /* the last call's */
    void *uds[8]; /* every call's, by post order */
} fake_http_t;

static int fake_post(void *impl, const http_call_req_t *req, http_call_done_fn done, void *ud,
                     uint64_t *id)
{
    fake_http_t *f = impl;
    if (f->refuse) return -ENOBUFS;
    f->posts++;
    snprintf(f->url, sizeof(f->url), "%s", req->url);
    snprintf(f->body, sizeof(f->body), "%.*s", (int)req->body_len, req->body);
    f->nheaders = req->nheaders;
    for (size_t i = 0; i < req->nheaders && i < 3; i++)
        snprintf(f->headers[i], sizeof(f->headers[i]), "%s", req->headers[i]);
    f->timeout_ms = req->timeout_ms;
    f->max_reply = req->max_reply;
    f->done = done;
    f->ud = ud;
    if (f->posts <= 8) f->uds[f->posts - 1] = ud;
    *id = (uint64_t)f->posts;
    return 0;
}

static void fake_cancel(void *impl, uint64_t id)
{
    fake_http_t *f = impl;
    f->cancels++;
    f->cancelled = id;
}

static int64_t fixed_clock(void)
{
    return 1700000000123;
}

typedef struct {
    int calls;
    char code[64];
    char data[128];
} got_t;

static void got(void *ud, const rpc_reply_t *r)
{
    got_t *g = ud;
    g->calls++;
    snprintf(g->code, sizeof(g->code), "%s", r->code ? r->code : "");
    char *d = r->data ? json_dumps(r->data, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    snprintf(g->data, sizeof(g->data), "%s", d ? d : "");
    free(d);
}

static void setup(chorus_config_t *cfg, proto_rpc_t *rp, http_call_t *http, fake_http_t *f)
{
    config_defaults(cfg);
    free(cfg->rpc_url);
    cfg->rpc_url = ch_strdup("http://127.0.0.1:9/rpc");
    free(cfg->rpc_secret);
    cfg->rpc_secret = ch_strdup("s3cret");
    cfg->rpc_timeout = 1234;
    cfg->rpc_max_calls = 2;
    memset(f, 0, sizeof(*f));
    *http = (http_call_t){.impl = f, .post = fake_post, .cancel = fake_cancel};
    proto_rpc_init(rp, cfg, NULL, http);
    rp->unix_ms = fixed_clock;
}

static void test_call(void)
{
    chorus_config_t cfg;
    proto_rpc_t rp;
    http_call_t http;
    fake_http_t f;
    setup(&cfg, &rp, &http, &f);
    json_t *data = json_pack("{s:i}", "n", 1);
    rpc_request_t in = {.type = "rpc",
                        .method = "m",
                        .user_id = "u",
                        .user_name = "Ada",
                        .data = data,
                        .time_ms = fixed_clock()};
    got_t g = {0};
    ASSERT_EQ(proto_rpc_call(&rp, NULL, rp.url, &in, got, &g), 0);
    ASSERT_EQ(f.posts, 1);
    ASSERT_EQ(g.calls, 0); /* never from inside post */
    ASSERT_EQ(rp.calls, 1);
    ASSERT_STREQ(f.url, "http://127.0.0.1:9/rpc");
    ASSERT_STREQ(f.body,
                 "{\"type\":\"rpc\",\"method\":\"m\",\"room\":null,\"user\":{\"id\":\"u\","
                 "\"name\":\"Ada\"},\"data\":{\"n\":1},\"time\":1700000000123}");
    ASSERT_EQ(f.timeout_ms, 1234);
    ASSERT_EQ(f.max_reply, 256 * 1024);
    ASSERT_EQ(f.nheaders, 3);
    ASSERT_STREQ(f.headers[0], "Content-Type: application/json");
    ASSERT_STREQ(f.headers[1], "X-Chorus-Timestamp: 1700000000");
    char hex[WEBHOOK_SIG_HEX + 1], want[WEBHOOK_SIG_HEX + 32];
    webhook_sign("s3cret", 1700000000, f.body, strlen(f.body), hex);
    snprintf(want, sizeof(want), "X-Chorus-Signature: v1=%s", hex);
    ASSERT_STREQ(f.headers[2], want);
    /* The answer: read as the reply, the call given back. */
    const char *body = "{\"data\":[1,2]}";
    f.done(f.ud, &(http_call_res_t){.status = 200, .body = body, .body_len = strlen(body)});
    ASSERT_EQ(g.calls, 1);
    ASSERT_STREQ(g.code, "");
    ASSERT_STREQ(g.data, "[1,2]");
    ASSERT_EQ(rp.calls, 0);
    /* A timeout. */
    ASSERT_EQ(proto_rpc_call(&rp, NULL, rp.url, &in, got, &g), 0);
    f.done(f.ud, &(http_call_res_t){.err = -ETIMEDOUT});
    ASSERT_STREQ(g.code, "backend_timeout");
    json_decref(data);
    config_free(&cfg);
}

static void test_bounds(void)
{
    chorus_config_t cfg;
    proto_rpc_t rp;
    http_call_t http;
    fake_http_t f;
    setup(&cfg, &rp, &http, &f);
    rpc_request_t in = {.type = "rpc", .method = "m", .user_id = "u", .user_name = ""};
    got_t g = {0};
    ASSERT_EQ(proto_rpc_call(&rp, NULL, rp.url, &in, got, &g), 0);
    ASSERT_EQ(proto_rpc_call(&rp, NULL, rp.url, &in, got, &g), 0);
    ASSERT_EQ(proto_rpc_call(&rp, NULL, rp.url, &in, got, &g),
              -ENOBUFS); /* --rpc-max-calls 2 */
    ASSERT_EQ(f.posts, 2);
    http_call_done_fn done = f.done;
    done(f.uds[1], &(http_call_res_t){.err = -ECONNREFUSED});
    ASSERT_STREQ(g.code, "backend_unavailable");
    ASSERT_EQ(rp.calls, 1);
    f.refuse = 1; /* the client's queue is full */
    ASSERT_EQ(proto_rpc_call(&rp, NULL, rp.url, &in, got, &g), -ENOBUFS);
    ASSERT_EQ(rp.calls, 1);
    /* The first call's answer. */
    f.refuse = 0;
    done(f.uds[0], &(http_call_res_t){.err = -EIO});
    ASSERT_STREQ(g.code, "backend_unavailable");
    ASSERT_EQ(rp.calls, 0);
    /* No client: refused at once. */
    http.post = NULL;
    ASSERT_EQ(proto_rpc_call(&rp, NULL, rp.url, &in, got, &g), -ENOTCONN);
    /* Unsigned without a secret. */
    http.post = fake_post;
    rp.secret = "";
    ASSERT_EQ(proto_rpc_call(&rp, NULL, rp.url, &in, got, &g), 0);
    ASSERT_EQ(f.nheaders, 2);
    f.done(f.ud, &(http_call_res_t){.err = -ECANCELED});
    ASSERT_STREQ(g.code, "service_unavailable");
    config_free(&cfg);
}

/* A connection that goes away: its calls are cancelled at the client (their slots given
 * back now), each answered once; another connection's call stays. */
static void test_client_gone(void)
{
    chorus_config_t cfg;
    proto_rpc_t rp;
    http_call_t http;
    fake_http_t f;
    setup(&cfg, &rp, &http, &f);
    rpc_request_t in = {.type = "rpc", .method = "m", .user_id = "u", .user_name = ""};
    proto_client_t a, b;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    got_t ga = {0}, gb = {0};
    ASSERT_EQ(proto_rpc_call(&rp, &a, rp.url, &in, got, &ga), 0);
    ASSERT_EQ(proto_rpc_call(&rp, &b, rp.url, &in, got, &gb), 0);
    ASSERT_EQ(rp.calls, 2);
    proto_rpc_client_gone(&rp, &a);
    ASSERT_EQ(f.cancels, 1);
    ASSERT_EQ(f.cancelled, 1); /* a's call */
    ASSERT_EQ(ga.calls, 1);
    ASSERT_STREQ(ga.code, "service_unavailable");
    ASSERT_EQ(gb.calls, 0);
    ASSERT_EQ(rp.calls, 1);
    proto_rpc_client_gone(&rp, &a); /* nothing left of a's */
    ASSERT_EQ(f.cancels, 1);
    ASSERT_EQ(ga.calls, 1);
    f.done(f.uds[1], &(http_call_res_t){.status = 200, .body = "{}", .body_len = 2});
    ASSERT_EQ(gb.calls, 1);
    ASSERT_EQ(rp.calls, 0);
    ASSERT_TRUE(rp.inflight == NULL);
    config_free(&cfg);
}

int main(void)
{
    RUN(test_call);
    RUN(test_bounds);
    RUN(test_client_gone);
    TEST_MAIN_END();
}
