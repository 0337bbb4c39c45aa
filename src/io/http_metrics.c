/* http_metrics.c: the /metrics page (Prometheus text format) and its access rule. */
#include "io/http_metrics.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "proto/ws_frame.h"
#include "util/net_addr.h"

int http_metrics_allowed(const chorus_config_t *cfg, const char *ip)
{
    net_ip_t addr;
    if (net_ip_parse(ip, strlen(ip), &addr) != 0) return 0;
    return net_cidr_list_match(cfg->metrics_allow, cfg->nmetrics_allow, &addr);
}

int http_metrics_token_ok(const chorus_config_t *cfg, const char *auth, size_t len)
{
    if (!*cfg->metrics_token) return 1;
    if (!auth || len < 7 || strncasecmp(auth, "Bearer ", 7) != 0) return 0;
    auth += 7;
    len -= 7;
    while (len && auth[0] == ' ') { /* RFC 7235 allows more than one space */
        auth++;
        len--;
    }
    /* Equal-length digests compared in constant time: neither the token's bytes nor its
     * length can be found by timing the answers. */
    unsigned char want[crypto_hash_sha256_BYTES], got[crypto_hash_sha256_BYTES];
    crypto_hash_sha256(want, (const unsigned char *)cfg->metrics_token,
                       strlen(cfg->metrics_token));
    crypto_hash_sha256(got, (const unsigned char *)auth, len);
    return sodium_memcmp(want, got, sizeof(want)) == 0;
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

/* "# HELP" and "# TYPE" of one family: once per family, before its samples. */
static void family(page_t *p, const char *name, const char *type, const char *help)
{
    put(p, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* One family of a single unlabelled sample. */
static void single(page_t *p, const char *name, const char *type, const char *help, uint64_t v)
{
    family(p, name, type, help);
    put(p, "%s %llu\n", name, (unsigned long long)v);
}

/* A histogram family; with ns set its values are nanoseconds shown as seconds. */
static void histogram(page_t *p, const char *name, const char *help, const histo_t *h, int ns)
{
    family(p, name, "histogram", help);
    for (size_t i = 0; i < h->nbounds; i++) {
        put(p, "%s_bucket{le=\"", name);
        if (ns)
            put_seconds(p, h->bounds[i]);
        else
            put(p, "%llu", (unsigned long long)h->bounds[i]);
        put(p, "\"} %llu\n", (unsigned long long)histo_le(h, i));
    }
    put(p, "%s_bucket{le=\"+Inf\"} %llu\n%s_sum ", name, (unsigned long long)h->count, name);
    if (ns)
        put_seconds(p, h->sum);
    else
        put(p, "%llu", (unsigned long long)h->sum);
    put(p, "\n%s_count %llu\n", name, (unsigned long long)h->count);
}

static const char *const state_names[HTTP_METRICS_NSTATES] = {
    "http", "websocket", "socketio_websocket", "socketio_polling"};

/* The frame types counted, by opcode (a bounded label set). */
static const struct {
    unsigned op;
    const char *name;
} frame_types[] = {{WS_OP_TEXT, "text"},
                   {WS_OP_BINARY, "binary"},
                   {WS_OP_CLOSE, "close"},
                   {WS_OP_PING, "ping"},
                   {WS_OP_PONG, "pong"}};

static void frames(page_t *p, const char *name, const char *help, const uint64_t *by_op)
{
    family(p, name, "counter", help);
    for (size_t i = 0; i < sizeof(frame_types) / sizeof(frame_types[0]); i++)
        put(p, "%s{type=\"%s\"} %llu\n", name, frame_types[i].name,
            (unsigned long long)by_op[frame_types[i].op]);
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

    family(&p, "chorus_connections", "gauge", "Open connections by state.");
    for (size_t i = 0; i < HTTP_METRICS_NSTATES; i++)
        put(&p, "chorus_connections{state=\"%s\"} %llu\n", state_names[i],
            (unsigned long long)m->conns[i]);
    single(&p, "chorus_rooms", "gauge", "Live rooms (loaded in memory).", m->rooms);
    single(&p, "chorus_room_members_online", "gauge",
           "Room members with at least one connection, summed over the rooms.", m->online);

    const proto_t *pr = m->proto;
    family(&p, "chorus_ops_total", "counter",
           "Protocol operations run (WebSocket and Socket.IO), by op.");
    for (size_t i = 0; i < pr->nslots; i++)
        if (pr->slots[i])
            put(&p, "chorus_ops_total{op=\"%s\"} %llu\n", pr->slots[i]->name,
                (unsigned long long)pr->op_count[i]);
    family(&p, "chorus_rate_limited_total", "counter",
           "Requests refused by a rate limit: WebSocket/Socket.IO messages over the message "
           "rate, HTTP requests answered 429.");
    put(&p, "chorus_rate_limited_total{transport=\"websocket\"} %llu\n",
        (unsigned long long)pr->limited);
    put(&p, "chorus_rate_limited_total{transport=\"http\"} %llu\n",
        (unsigned long long)m->io->http_limited);
    family(&p, "chorus_auth_failures_total", "counter",
           "Authentication failures by reason (token refused, password refused, other).");
    for (size_t i = 0; i < API_AUTH_FAIL_N; i++)
        put(&p, "chorus_auth_failures_total{reason=\"%s\"} %llu\n", api_auth_fail_names[i],
            (unsigned long long)m->api->auth_failures[i]);

    single(&p, "chorus_http_requests_total", "counter", "HTTP requests answered.",
           m->io->http_requests);
    single(&p, "chorus_events_framed_total", "counter",
           "Event frames built (once per event and wire format, shared by every receiver).",
           m->framed);
    single(&p, "chorus_deliveries_total", "counter",
           "Event frames handed to connections (one per receiver).", m->delivered);
    single(&p, "chorus_sent_bytes_total", "counter", "Bytes written to client sockets.",
           m->io->bytes_out);
    single(&p, "chorus_received_bytes_total", "counter", "Bytes read from client sockets.",
           m->io->bytes_in);
    single(&p, "chorus_output_queued_bytes", "gauge",
           "Output queued on open connections and not written yet.", m->queued_bytes);
    single(&p, "chorus_slow_clients_closed_total", "counter",
           "WebSockets closed (1008) because their output queue passed --ws-max-queue, or "
           "stayed over half of it for --ws-stall-timeout.",
           m->io->slow_closed);
    single(&p, "chorus_websocket_reads_paused_total", "counter",
           "Times a WebSocket's requests waited because its output queue was over half "
           "--ws-max-queue.",
           m->io->ws_output_paused);
    single(&p, "chorus_loop_input_deferred_total", "counter",
           "Times a connection's next WebSocket frame or HTTP request waited for the next "
           "event-loop iteration: the iteration's input budget was spent.",
           m->io->input_deferred);
    single(&p, "chorus_loop_flush_deferred_total", "counter",
           "Times a flush left connections' output for the next one: its byte budget was "
           "spent.",
           m->io->flush_deferred);
    frames(&p, "chorus_websocket_frames_received_total",
           "WebSocket messages and control frames received, by type (a fragmented message "
           "counts once).",
           m->io->ws_in);
    frames(&p, "chorus_websocket_frames_sent_total", "WebSocket frames queued, by type.",
           m->io->ws_out);
    if (m->store) {
        histogram(&p, "chorus_store_request_duration_seconds",
                  "Store requests from submission to answer (queue, transaction, commit).",
                  &m->store->latency_ns, 1);
        histogram(&p, "chorus_store_batch_requests",
                  "Store requests per transaction (group commit size).", &m->store->batch, 0);
    }

    single(&p, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.",
           m->rss_bytes);
    single(&p, "process_open_fds", "gauge", "Open file descriptors.", m->open_fds);
    single(&p, "process_max_fds", "gauge", "The limit of open file descriptors.", m->max_fds);
    family(&p, "process_start_time_seconds", "gauge",
           "Start time of the process since the Unix epoch, in seconds.");
    put(&p, "process_start_time_seconds %lld.%03lld\n",
        (long long)(m->io->start_unix_ms / 1000), (long long)(m->io->start_unix_ms % 1000));
    return p.full ? -1 : (int)p.len;
}
