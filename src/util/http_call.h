/* http_call.h: the outgoing HTTP client as the layers below I/O see it: a table of
 * functions that POSTs a request (or GETs one) and calls back once with the answer. The implementation
 * (libcurl on the loop) lives in the I/O layer; tests pass a fake. */
#ifndef CHORUS_HTTP_CALL_H
#define CHORUS_HTTP_CALL_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char *url;                   /* borrowed for the call */
    const char *const *headers;        /* "Name: value" strings, borrowed for the call */
    size_t nheaders;
    const char *body;                  /* copied by post */
    size_t body_len;
    uint64_t timeout_ms;               /* the whole request; 0: the client's default */
    size_t max_reply;                  /* reply body bytes kept; a longer reply fails with -E2BIG */
    int get;                           /* 1: a GET (body ignored; a long poll); 0: a POST */
} http_call_req_t;
typedef struct {
    int err;                           /* 0, or -ETIMEDOUT, -ECONNREFUSED, -EHOSTUNREACH, -E2BIG,
                                        * -ECANCELED (client closing), -EIO (anything else) */
    int status;                        /* the HTTP status when err == 0 */
    const char *body;                  /* borrowed for the call; not NUL-terminated */
    size_t body_len;
} http_call_res_t;
typedef void (*http_call_done_fn)(void *ud, const http_call_res_t *res);
typedef struct {
    void *impl;
    /* Starts req (POST, or GET when req->get). done is called exactly once, on the loop thread, never from inside
     * post. Returns 0 with *id set, or -ENOBUFS when the bounded queue is full (done is
     * then not called). */
    int (*post)(void *impl, const http_call_req_t *req, http_call_done_fn done, void *ud,
                uint64_t *id);
    /* done will not be called for id (no-op when it already was). */
    void (*cancel)(void *impl, uint64_t id);
} http_call_t;

#endif
