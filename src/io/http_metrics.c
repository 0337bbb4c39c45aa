/* http_metrics.c: the /metrics page (Prometheus text format) and its access rule. */
#include "io/http_metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/net_addr.h"

int http_metrics_allowed(const chorus_config_t *cfg, const char *ip)
{
    net_ip_t addr;
    if (net_ip_parse(ip, strlen(ip), &addr) != 0) return 0;
    return net_cidr_list_match(cfg->metrics_allow, cfg->nmetrics_allow, &addr);
}

typedef struct {
    char *out;
    size_t cap, len;
    int full;
} page_t;

__attribute__((format(printf, 2, 3))) static void put(page_t *p, const char *fmt, ...)
{
    if (p->full) return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(p->out + p->len, p->cap - p->len, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= p->cap - p->len)
        p->full = 1;
    else
        p->len += (size_t)n;
}

/* Seconds from nanoseconds, exact to the nanosecond (no floating point). */
static void put_seconds(page_t *p, uint64_t ns)
{
    put(p, "%llu.%09llu", (unsigned long long)(ns / 1000000000u),
        (unsigned long long)(ns % 1000000000u));
}

int http_metrics_text(const http_metrics_t *m, char *out, size_t cap)
{
    page_t p = {out, cap, 0, cap == 0};
    const loop_stat_t *ls = m->loop;
    put(&p, "# HELP chorus_loop_iteration_seconds Work done by one event-loop iteration "
            "(from the end of one poll to the start of the next), since start.\n"
            "# TYPE chorus_loop_iteration_seconds histogram\n");
    for (size_t i = 0; i < LOOP_STAT_NBOUNDS; i++) {
        put(&p, "chorus_loop_iteration_seconds_bucket{le=\"");
        put_seconds(&p, loop_stat_bound_ns(i));
        put(&p, "\"} %llu\n", (unsigned long long)loop_stat_le(ls, i));
    }
    put(&p, "chorus_loop_iteration_seconds_bucket{le=\"+Inf\"} %llu\n",
        (unsigned long long)ls->count);
    put(&p, "chorus_loop_iteration_seconds_sum ");
    put_seconds(&p, ls->sum_ns);
    put(&p, "\nchorus_loop_iteration_seconds_count %llu\n", (unsigned long long)ls->count);
    put(&p, "# HELP chorus_loop_iteration_seconds_max The longest event-loop iteration since "
            "start.\n# TYPE chorus_loop_iteration_seconds_max gauge\n"
            "chorus_loop_iteration_seconds_max ");
    put_seconds(&p, ls->max_ns);
    put(&p,
        "\n# HELP chorus_loop_iterations_total Event-loop iterations since start.\n"
        "# TYPE chorus_loop_iterations_total counter\n"
        "chorus_loop_iterations_total %llu\n",
        (unsigned long long)ls->count);
    put(&p,
        "# HELP process_cpu_seconds_total User and system CPU time of the process.\n"
        "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %llu.%06llu\n",
        (unsigned long long)(m->cpu_us / 1000000u), (unsigned long long)(m->cpu_us % 1000000u));
    put(&p,
        "# HELP chorus_connections Open connections (HTTP and WebSocket).\n"
        "# TYPE chorus_connections gauge\nchorus_connections %llu\n",
        (unsigned long long)m->connections);
    return p.full ? -1 : (int)p.len;
}
