/* http_metrics.h: GET /metrics: the server's own figures in the Prometheus text format
 * (version 0.0.4), and who may read them (--metrics-allow). Pure: conn_http.c gathers the
 * figures and answers. */
#ifndef CHORUS_HTTP_METRICS_H
#define CHORUS_HTTP_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "util/config.h"
#include "util/loop_stat.h"

/* The whole page fits in this many bytes (about 1.3 KiB today). */
#define HTTP_METRICS_MAX 4096

#define HTTP_METRICS_CTYPE "text/plain; version=0.0.4; charset=utf-8"

/* What the page shows; every pointer borrowed for the call. */
typedef struct {
    const loop_stat_t *loop; /* event-loop iteration lengths since start */
    uint64_t cpu_us;         /* the process's user + system CPU time since start */
    uint64_t connections;    /* open connections */
} http_metrics_t;

/* Returns 1 when a request from the client address ip (text, borrowed: the peer's, or the
 * one a trusted proxy forwarded) may read /metrics: it lies in cfg->metrics_allow. 0
 * otherwise, and for text that is not an address. */
int http_metrics_allowed(const chorus_config_t *cfg, const char *ip);

/* Writes the page for m into out (cap bytes, HTTP_METRICS_MAX is enough). Returns its
 * length, or -1 when cap is too small. */
int http_metrics_text(const http_metrics_t *m, char *out, size_t cap);

#endif
