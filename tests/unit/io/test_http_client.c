/* test_http_client.c: the outgoing HTTP client (http_client.c) against a real HTTP server
 * on the same loop (http_parser over uv_tcp, keep-alive): a reply with its status, body and
 * the request's headers; a refused connection; a timeout; a reply over max_reply; many
 * requests through a concurrency bound of 2 (never more than 2 connections, reused) and
 * the queue's bound; cancel, of a transfer and of a queued request; closing with requests
 * in flight. done is never called from inside post. */
#include "test.h"

#include <http_parser.h>
#include <uv.h>

#include "io/http_client.h"

/* ---- the server ---- */

typedef struct {
    uv_tcp_t tcp;
    int port;
    int open, max_open, accepted, requests;
    struct sconn_s *conns;
} srv_t;

typedef struct sconn_s {
    uv_tcp_t tcp;
    struct sconn_s *next;
    srv_t *s;
    http_parser p;
    char url[128];
    char field[64];
    char x_test[64];
    char body[256];
    size_t body_len;
    int in_x_test;
} sconn_t;

static http_parser_settings settings;

static void on_write_done(uv_write_t *w, int status)
{
    (void)status;
    free(w->data);
    free(w);
}

static void respond(sconn_t *c, int status, const char *body, size_t len)
{
    char head[200];
    int n = snprintf(head, sizeof(head), "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n\r\n", status,
                     len);
    char *buf = malloc((size_t)n + len);
    memcpy(buf, head, (size_t)n);
    memcpy(buf + n, body, len);
    uv_write_t *w = malloc(sizeof(*w));
    w->data = buf;
    uv_buf_t b = uv_buf_init(buf, (unsigned)((size_t)n + len));
    uv_write(w, (uv_stream_t *)&c->tcp, &b, 1, on_write_done);
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    sconn_t *c = p->data;
    size_t have = strlen(c->url);
    if (have + len < sizeof(c->url)) {
        memcpy(c->url + have, at, len);
        c->url[have + len] = 0;
    }
    return 0;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
    sconn_t *c = p->data;
    c->in_x_test = len == 6 && strncasecmp(at, "X-Test", 6) == 0;
    return 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
    sconn_t *c = p->data;
    if (c->in_x_test && len < sizeof(c->x_test)) {
        memcpy(c->x_test, at, len);
        c->x_test[len] = 0;
    }
    return 0;
}

static int on_body(http_parser *p, const char *at, size_t len)
{
    sconn_t *c = p->data;
    if (c->body_len + len <= sizeof(c->body)) memcpy(c->body + c->body_len, at, len);
    c->body_len += len;
    return 0;
}

static int on_complete(http_parser *p)
{
    sconn_t *c = p->data;
    c->s->requests++;
    if (strcmp(c->url, "/echo") == 0) {
        char out[400];
        int n = snprintf(out, sizeof(out), "%.*s|%s", (int)c->body_len, c->body, c->x_test);
        respond(c, 200, out, (size_t)n);
    } else if (strcmp(c->url, "/big") == 0) {
        static const size_t big = 100000;
        char *b = malloc(big);
        memset(b, 'x', big);
        respond(c, 200, b, big);
        free(b);
    } else if (strcmp(c->url, "/503") == 0) {
        respond(c, 503, "", 0);
    } /* /hang: no answer */
    c->url[0] = 0;
    c->x_test[0] = 0;
    c->body_len = 0;
    return 0;
}

static void on_alloc(uv_handle_t *h, size_t n, uv_buf_t *b)
{
    (void)h;
    b->base = malloc(n);
    b->len = n;
}

static void on_conn_closed(uv_handle_t *h)
{
    sconn_t *c = h->data;
    srv_t *s = c->s;
    for (sconn_t **pp = &s->conns; *pp; pp = &(*pp)->next)
        if (*pp == c) {
            *pp = c->next;
            break;
        }
    s->open--;
    free(c);
}

static void on_read(uv_stream_t *st, ssize_t n, const uv_buf_t *b)
{
    sconn_t *c = st->data;
    if (n < 0) {
        if (!uv_is_closing((uv_handle_t *)st)) uv_close((uv_handle_t *)st, on_conn_closed);
    } else if (n > 0) {
        http_parser_execute(&c->p, &settings, b->base, (size_t)n);
    }
    free(b->base);
}

static void on_accept(uv_stream_t *l, int status)
{
    srv_t *s = l->data;
    if (status != 0) return;
    sconn_t *c = calloc(1, sizeof(*c));
    c->s = s;
    uv_tcp_init(l->loop, &c->tcp);
    c->tcp.data = c;
    http_parser_init(&c->p, HTTP_REQUEST);
    c->p.data = c;
    uv_accept(l, (uv_stream_t *)&c->tcp);
    c->next = s->conns;
    s->conns = c;
    s->accepted++;
    if (++s->open > s->max_open) s->max_open = s->open;
    uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
}

static int bound_port(uv_tcp_t *t)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss);
    uv_tcp_getsockname(t, (struct sockaddr *)&ss, &len);
    return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void srv_start(srv_t *s, uv_loop_t *loop)
{
    memset(s, 0, sizeof(*s));
    settings.on_url = on_url;
    settings.on_header_field = on_field;
    settings.on_header_value = on_value;
    settings.on_body = on_body;
    settings.on_message_complete = on_complete;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(loop, &s->tcp);
    s->tcp.data = s;
    uv_tcp_bind(&s->tcp, (const struct sockaddr *)&a, 0);
    uv_listen((uv_stream_t *)&s->tcp, 128, on_accept);
    s->port = bound_port(&s->tcp);
}

static void srv_stop(srv_t *s)
{
    for (sconn_t *c = s->conns; c; c = c->next)
        if (!uv_is_closing((uv_handle_t *)&c->tcp))
            uv_close((uv_handle_t *)&c->tcp, on_conn_closed);
    uv_close((uv_handle_t *)&s->tcp, NULL);
}

/* ---- the client's side ---- */

typedef struct {
    int calls;
    int err, status;
    char body[512];
    size_t body_len;
} result_t;

typedef struct {
    uv_loop_t loop;
    srv_t srv;
    http_client_t *hc;
    http_call_t call;
    log_t log;
    int in_post; /* set around post: done must not run then */
    int done_in_post;
    int done_total;
} fx_t;

static fx_t *g_fx; /* the fixture of the test running (done's ud is the result) */

static void on_done(void *ud, const http_call_res_t *res)
{
    result_t *r = ud;
    if (g_fx->in_post) g_fx->done_in_post++;
    g_fx->done_total++;
    r->calls++;
    r->err = res->err;
    r->status = res->status;
    r->body_len = res->body_len;
    if (res->err == 0 && res->body_len <= sizeof(r->body))
        memcpy(r->body, res->body, res->body_len);
}

static void fx_init(fx_t *f, uint32_t max_active, uint32_t max_queued)
{
    memset(f, 0, sizeof(*f));
    g_fx = f;
    uv_loop_init(&f->loop);
    srv_start(&f->srv, &f->loop);
    http_client_limits_t lim = {.max_active = max_active,
                                .max_queued = max_queued,
                                .timeout_ms = 10000,
                                .connect_timeout_ms = 5000};
    log_init(&f->log, LOG_ERROR, LOG_TEXT, stderr);
    f->hc = http_client_new(&f->loop, &lim, &f->log);
    f->call = http_client_call(f->hc);
}

static int post(fx_t *f, const char *path, const char *body, uint64_t timeout_ms,
                size_t max_reply, result_t *r, uint64_t *id)
{
    char url[128];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->srv.port, path);
    const char *hdrs[] = {"Content-Type: text/plain", "X-Test: hello"};
    http_call_req_t req = {.url = url,
                           .headers = hdrs,
                           .nheaders = 2,
                           .body = body,
                           .body_len = body ? strlen(body) : 0,
                           .timeout_ms = timeout_ms,
                           .max_reply = max_reply};
    uint64_t tmp;
    f->in_post = 1;
    int rc = f->call.post(f->call.impl, &req, on_done, r, id ? id : &tmp);
    f->in_post = 0;
    return rc;
}

/* Runs the loop until n dones were called in all. */
static void run_until(fx_t *f, int n)
{
    while (f->done_total < n)
        uv_run(&f->loop, UV_RUN_ONCE);
}

/* Closes the client and the server and runs the loop out: every handle must be closed. */
static int fx_free(fx_t *f)
{
    if (f->hc) http_client_close(f->hc);
    srv_stop(&f->srv);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    return uv_loop_close(&f->loop);
}

static void test_reply(void)
{
    fx_t f;
    fx_init(&f, 4, 4);
    result_t r = {0}, r2 = {0};
    ASSERT_EQ(post(&f, "/echo", "ping", 0, 1024, &r, NULL), 0);
    ASSERT_EQ(post(&f, "/503", "x", 0, 1024, &r2, NULL), 0);
    ASSERT_EQ(r.calls, 0); /* never from inside post */
    run_until(&f, 2);
    ASSERT_EQ(r.calls, 1);
    ASSERT_EQ(r.err, 0);
    ASSERT_EQ(r.status, 200);
    ASSERT_EQ(r.body_len, strlen("ping|hello"));
    ASSERT_MEMEQ(r.body, "ping|hello", r.body_len);
    ASSERT_EQ(r2.err, 0);
    ASSERT_EQ(r2.status, 503);
    ASSERT_EQ(r2.body_len, 0);
    ASSERT_EQ(f.done_in_post, 0);
    ASSERT_EQ(fx_free(&f), 0);
}

static void test_refused(void)
{
    fx_t f;
    fx_init(&f, 4, 4);
    /* A port nobody listens on: bound, read, closed. */
    uv_tcp_t t;
    struct sockaddr_in a;
    uv_ip4_addr("127.0.0.1", 0, &a);
    uv_tcp_init(&f.loop, &t);
    uv_tcp_bind(&t, (const struct sockaddr *)&a, 0);
    int port = bound_port(&t);
    uv_close((uv_handle_t *)&t, NULL);
    uv_run(&f.loop, UV_RUN_NOWAIT);
    char url[64];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", port);
    http_call_req_t req = {.url = url, .max_reply = 100};
    result_t r = {0};
    uint64_t id;
    ASSERT_EQ(f.call.post(f.call.impl, &req, on_done, &r, &id), 0);
    run_until(&f, 1);
    ASSERT_EQ(r.err, -ECONNREFUSED);
    ASSERT_EQ(fx_free(&f), 0);
}

static void test_timeout(void)
{
    fx_t f;
    fx_init(&f, 4, 4);
    result_t r = {0};
    ASSERT_EQ(post(&f, "/hang", "x", 50, 100, &r, NULL), 0);
    run_until(&f, 1);
    ASSERT_EQ(r.err, -ETIMEDOUT);
    ASSERT_EQ(fx_free(&f), 0);
}

static void test_big_reply(void)
{
    fx_t f;
    fx_init(&f, 4, 4);
    result_t small = {0}, enough = {0};
    ASSERT_EQ(post(&f, "/big", NULL, 0, 99999, &small, NULL), 0);
    ASSERT_EQ(post(&f, "/big", NULL, 0, 100000, &enough, NULL), 0);
    run_until(&f, 2);
    ASSERT_EQ(small.err, -E2BIG);
    ASSERT_EQ(enough.err, 0);
    ASSERT_EQ(enough.status, 200);
    ASSERT_EQ(enough.body_len, 100000);
    ASSERT_EQ(fx_free(&f), 0);
}

#define MANY 40

static void test_bounded(void)
{
    fx_t f;
    fx_init(&f, 2, MANY - 2);
    static result_t r[MANY + 1];
    memset(r, 0, sizeof(r));
    for (int i = 0; i < MANY; i++)
        ASSERT_EQ(post(&f, "/echo", "n", 0, 1024, &r[i], NULL), 0);
    ASSERT_EQ(http_client_active(f.hc), 2);
    ASSERT_EQ(http_client_queued(f.hc), MANY - 2);
    ASSERT_EQ(post(&f, "/echo", "n", 0, 1024, &r[MANY], NULL), -ENOBUFS);
    run_until(&f, MANY);
    for (int i = 0; i < MANY; i++) {
        ASSERT_EQ(r[i].calls, 1);
        ASSERT_EQ(r[i].status, 200);
    }
    ASSERT_EQ(r[MANY].calls, 0);
    ASSERT_EQ(f.srv.requests, MANY);
    /* Two transfers at a time, on two connections kept for the next ones. */
    ASSERT_TRUE(f.srv.max_open <= 2);
    ASSERT_TRUE(f.srv.accepted <= 2);
    ASSERT_EQ(f.done_in_post, 0);
    ASSERT_EQ(fx_free(&f), 0);
}

static void test_cancel_and_close(void)
{
    fx_t f;
    fx_init(&f, 1, 4);
    result_t hang = {0}, queued = {0}, last = {0}, echo = {0};
    uint64_t id_hang, id_queued, id_last, id_echo;
    ASSERT_EQ(post(&f, "/hang", "a", 0, 100, &hang, &id_hang), 0);
    ASSERT_EQ(post(&f, "/echo", "b", 0, 100, &queued, &id_queued), 0);
    ASSERT_EQ(post(&f, "/echo", "c", 0, 100, &echo, &id_echo), 0);
    ASSERT_EQ(post(&f, "/hang", "d", 0, 100, &last, &id_last), 0);
    ASSERT_TRUE(id_hang != id_queued && id_queued != id_echo && id_echo != id_last);
    /* The hanging one reaches the server, then is cancelled: the queued ones go on. */
    while (f.srv.requests < 1)
        uv_run(&f.loop, UV_RUN_ONCE);
    f.call.cancel(f.call.impl, id_queued); /* queued */
    f.call.cancel(f.call.impl, id_hang);   /* in flight */
    f.call.cancel(f.call.impl, id_hang);   /* again: nothing */
    run_until(&f, 1);
    ASSERT_EQ(echo.calls, 1);
    ASSERT_EQ(echo.status, 200);
    ASSERT_EQ(hang.calls, 0);
    ASSERT_EQ(queued.calls, 0);
    /* The last one hangs in flight; closing answers it -ECANCELED. */
    while (f.srv.requests < 3)
        uv_run(&f.loop, UV_RUN_ONCE);
    ASSERT_EQ(last.calls, 0);
    http_client_close(f.hc);
    f.hc = NULL;
    ASSERT_EQ(last.calls, 1);
    ASSERT_EQ(last.err, -ECANCELED);
    ASSERT_EQ(hang.calls + queued.calls, 0);
    ASSERT_EQ(fx_free(&f), 0);
}

/* The timeout counts the time queued: behind a slow request (a bound of 1 active), a
 * request with a short timeout is answered -ETIMEDOUT without reaching the server. */
static void test_timeout_queued(void)
{
    fx_t f;
    fx_init(&f, 1, 4);
    result_t hang = {0}, queued = {0};
    ASSERT_EQ(post(&f, "/hang", "a", 0, 100, &hang, NULL), 0);
    ASSERT_EQ(post(&f, "/echo", "b", 50, 100, &queued, NULL), 0);
    run_until(&f, 1);
    ASSERT_EQ(queued.calls, 1);
    ASSERT_EQ(queued.err, -ETIMEDOUT);
    ASSERT_EQ(hang.calls, 0); /* still in flight */
    ASSERT_EQ(http_client_queued(f.hc), 0);
    ASSERT_TRUE(f.srv.requests <= 1); /* the second never went out */
    ASSERT_EQ(f.done_in_post, 0);
    ASSERT_EQ(fx_free(&f), 0);
}

int main(void)
{
    RUN(test_reply);
    RUN(test_refused);
    RUN(test_timeout);
    RUN(test_big_reply);
    RUN(test_bounded);
    RUN(test_cancel_and_close);
    RUN(test_timeout_queued);
    TEST_MAIN_END();
}
