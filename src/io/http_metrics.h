/* http_metrics.h: GET /metrics: the server's own figures in the Prometheus text format
 * (version 0.0.4), and who may read them (--metrics-allow). Pure: conn_http.c gathers the
 * figures and answers. --metrics-token: http_metrics_token_ok. */
#ifndef CHORUS_HTTP_METRICS_H
#define CHORUS_HTTP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "io/server.h"
#include "proto/api.h"
#include "proto/proto.h"
#include "store/store.h"
#include "util/config.h"
#include "util/loop_stat.h"

/* The whole page fits in this many bytes (about 7 KiB with the ops registered today; each
 * registered op adds a line of ~50 bytes). */
#define HTTP_METRICS_MAX 32768

#define HTTP_METRICS_CTYPE "text/plain; version=0.0.4; charset=utf-8"

/* The states chorus_connections counts, its "state" label (a bounded set). */
typedef enum {
    HTTP_METRICS_HTTP = 0,      /* speaking HTTP (a held polling GET included) */
    HTTP_METRICS_WEBSOCKET,     /* /ws */
    HTTP_METRICS_SIO_WEBSOCKET, /* /socket.io/ over WebSocket (an upgraded session's too) */
    HTTP_METRICS_SIO_POLLING,   /* Engine.IO sessions opened by long-polling */
    HTTP_METRICS_NSTATES
} http_metrics_state_t;

/* What the page shows; every pointer borrowed for the call. */
typedef struct {
    const loop_stat_t *loop; /* event-loop iteration lengths since start */
    uint64_t cpu_us;         /* the process's user + system CPU time since start */
    uint64_t conns[HTTP_METRICS_NSTATES]; /* open connections by state */
    const server_stat_t *io;              /* the connections' counters */
    const proto_t *proto;                 /* the op table: runs per op, rate-limited messages */
    const api_t *api;                     /* authentication failures by reason */
    const store_stat_t *store;            /* NULL: the store is closed (no store figures) */
    uint64_t rooms;                       /* live rooms */
    uint64_t online;                      /* their online members */
    uint64_t delivered;                   /* event frames handed to connections (the bus) */
    uint64_t framed;       /* event frames made (the bus: once per event and format) */
    uint64_t queued_bytes; /* output queued on open connections, not yet written */
    uint64_t rss_bytes;    /* resident memory */
    uint64_t open_fds, max_fds;
} http_metrics_t;

/* Returns 1 when a request from the client address ip (text, borrowed: the peer's, or the
 * one a trusted proxy forwarded) may read /metrics: it lies in cfg->metrics_allow. 0
 * otherwise, and for text that is not an address. */
int http_metrics_allowed(const chorus_config_t *cfg, const char *ip);

/* Returns 1 when a request whose Authorization header is auth (len bytes, borrowed; NULL:
 * none) may read /metrics as far as --metrics-token goes: no token is set, or the header is
 * "Bearer TOKEN" with that token (compared in constant time); 0 otherwise. */
int http_metrics_token_ok(const chorus_config_t *cfg, const char *auth, size_t len);

/* Writes the page for m into out (cap bytes, HTTP_METRICS_MAX is enough). Returns its
 * length, or -1 when cap is too small. */
int http_metrics_text(const http_metrics_t *m, char *out, size_t cap);

#endif
