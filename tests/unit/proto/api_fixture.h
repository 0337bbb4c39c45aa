/* api_fixture.h: REST requests to an application context (app_fixture.h) with no sockets:
 * a request goes to api_handle as conn_http.c hands it over, and the answer is kept as the
 * transport would send it. Static inline functions only: each test file is its own program. */
#ifndef CHORUS_TEST_API_FIXTURE_H
#define CHORUS_TEST_API_FIXTURE_H

#include "app/app_fixture.h"

#include <uv.h>

/* What the transport got: the status, the body as it is sent, and how many answers. */
typedef struct {
    int answers;
    int status;
    char body[1024];
} got_t;

static inline void api_fx_on_done(api_req_t *r)
{
    got_t *g = r->conn;
    g->answers++;
    g->status = r->status;
    if (r->resp_text) { /* a body written as text (api_respond_text), sent as it is */
        snprintf(g->body, sizeof(g->body), "%.*s", (int)r->resp_text->len,
                 (const char *)r->resp_text->data + r->resp_text->off);
    } else {
        char *text = json_dumps(r->resp, JSON_COMPACT); /* as conn_http.c encodes it */
        snprintf(g->body, sizeof(g->body), "%s", text ? text : "");
        free(text);
    }
    api_req_free(r);
}

/* Sends method path with body (NULL = none) and bearer token (NULL = none), runs the loop
 * until it is answered (or 5 s) and a little longer (a second answer would come then), and
 * returns how many answers came. Borrows every argument. */
static inline int api_fx_request(app_fx_t *f, got_t *g, int method, const char *path,
                                 const char *body, const char *token)
{
    memset(g, 0, sizeof(*g));
    api_req_t *r = api_req_new(&f->app.api, method, path, strlen(path), NULL, 0);
    snprintf(r->ip, sizeof(r->ip), "127.0.0.1");
    if (token) api_req_set_bearer(r, token, strlen(token));
    if (body) api_req_set_body(r, body, strlen(body));
    r->done = api_fx_on_done;
    r->conn = g;
    api_handle(r);
    test_run_until(&f->loop, &g->answers, 5000);
    for (int i = 0; i < 10; i++)
        uv_run(&f->loop, UV_RUN_NOWAIT);
    return g->answers;
}

#endif
