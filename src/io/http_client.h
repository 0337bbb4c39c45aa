/* http_client.h: the outgoing HTTP client (util/http_call.h's implementation): libcurl's
 * multi-socket interface driven by the loop (one uv_poll per socket, one uv_timer for
 * curl's timeouts), with connection reuse, TLS, a bound on concurrent transfers and a
 * bounded queue behind them. Nothing it does blocks the loop. */
#ifndef CHORUS_HTTP_CLIENT_H
#define CHORUS_HTTP_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "util/http_call.h"
#include "util/log.h"

typedef struct {
    uint32_t max_active;         /* transfers at once (>= 1) */
    uint32_t max_queued;         /* requests waiting behind them; post answers -ENOBUFS past */
    uint64_t timeout_ms;         /* a whole request when it names none (>= 1) */
    uint64_t connect_timeout_ms; /* connecting, TLS included (>= 1) */
} http_client_limits_t;

typedef struct http_client_s http_client_t;

/* A new client on loop with lim (copied); loop and log are borrowed and must outlive it.
 * Aborts on allocation failure; returns NULL with a log line when libcurl cannot start. */
http_client_t *http_client_new(uv_loop_t *loop, const http_client_limits_t *lim, log_t *log);

/* The interface table over c (borrowed: valid until http_client_close). */
http_call_t http_client_call(http_client_t *c);

/* Calls done with -ECANCELED for every request still queued or in flight (from inside this
 * call, on the loop thread), closes c's handles and frees c once they closed: run the loop
 * afterwards. c must not be used after. */
void http_client_close(http_client_t *c);

/* What c holds now, for tests and metrics. */
size_t http_client_active(const http_client_t *c);
size_t http_client_queued(const http_client_t *c);

#endif
