/* bench_report.c: the load generator's result, as a table or one JSON object. */
#include <jansson.h>
#include <stdio.h>

#include "bench.h"
#include "bench_proto.h"

int bench_ok(const bench_t *b)
{
    return b->st.errors == 0 && b->st.lost == 0 && b->st.dup == 0 && b->st.failed == 0 && b->t_start != 0;
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

/* What the scenario counts, for the table and the JSON "rateName". */
static const char *count_name(int scenario)
{
    switch (scenario) {
    case SC_ECHO:
        return "round trips";
    case SC_JOINSTORM:
        return "joins";
    case SC_CONNECTIONS:
        return "connections";
    default:
        return "deliveries";
    }
}

static const char *latency_name(int scenario)
{
    switch (scenario) {
    case SC_ECHO:
        return "round trip";
    case SC_JOINSTORM:
    case SC_CONNECTIONS:
        return "connect->joined";
    default:
        return "publish->receive";
    }
}

typedef struct {
    double run_s, rate, pub_rate, self_cpu, srv_cpu, setup_s;
    long bytes_per_conn; /* connections: server RSS growth per connection, -1 unknown */
    int srv;             /* server figures known */
} figures_t;

static figures_t figures(const bench_t *b)
{
    figures_t f = {0};
    f.run_s = b->t_start ? (double)(b->t_stop - b->t_start) / 1e9 : 0;
    f.setup_s = b->t_start ? (double)(b->t_start - b->t_setup) / 1e9 : 0;
    f.self_cpu = b->self1.cpu_s - b->self0.cpu_s;
    f.srv = b->server_pid > 0 && b->srv_ok;
    f.srv_cpu = b->srv1.cpu_s - b->srv0.cpu_s;
    if (b->scenario == SC_CONNECTIONS) {
        /* connections/s of the setup; the CPU of the setup too, where the work is */
        f.rate = f.setup_s > 0 ? (double)b->n / f.setup_s : 0;
        f.srv_cpu = b->srv0.cpu_s - b->srv_pre.cpu_s;
        f.self_cpu = b->self0.cpu_s - b->self_pre.cpu_s;
    } else {
        f.rate = f.run_s > 0 ? (double)b->st.count / f.run_s : 0;
    }
    f.pub_rate = f.run_s > 0 ? (double)b->published / f.run_s : 0;
    f.bytes_per_conn = -1;
    if (b->scenario == SC_CONNECTIONS && f.srv && b->srv1.rss_kib > 0 && b->srv_pre.rss_kib > 0 &&
        b->n > 0)
        f.bytes_per_conn = (b->srv1.rss_kib - b->srv_pre.rss_kib) * 1024 / b->n;
    return f;
}

static void report_json(const bench_t *b, const figures_t *f)
{
    const double qs[] = {0.5, 0.9, 0.99, 0.999};
    const char *qn[] = {"p50", "p90", "p99", "p99.9"};
    json_t *j = json_object();
    /* presence runs on fanout's machinery (bench_presence.c) */
    const char *name = b->watch ? "presence" : bench_scenario_name(b->scenario);
    json_object_set_new(j, "scenario", json_string(name));
    json_object_set_new(j, "target", json_string(bproto_name(b->target)));
    json_object_set_new(j, "ok", json_boolean(bench_ok(b)));
    json_object_set_new(j, "connections", json_integer(b->n));
    json_object_set_new(j, "durationS", json_real(f->run_s));
    json_object_set_new(j, "rateName", json_string(count_name(b->scenario)));
    json_object_set_new(j, "ratePerS", json_real(f->rate));
    json_object_set_new(j, "count", json_integer((json_int_t)b->st.count));
    switch (b->scenario) {
    case SC_ROOMS:
        json_object_set_new(j, "rooms", json_integer(b->nrooms));
        json_object_set_new(j, "roomSize", json_integer(b->room_size));
        /* fall through */
    case SC_FANOUT:
        if (b->scenario == SC_FANOUT) {
            json_object_set_new(j, "subscribers", json_integer(b->subs));
            json_object_set_new(j, "publishers", json_integer(b->pubs));
            if (b->watch) {
                json_object_set_new(j, "watch", json_integer(b->watch));
                json_object_set_new(j, "watchers",
                                    json_integer(b->watchers < 0 ? b->subs : b->watchers));
            }
        }
        json_object_set_new(j, "window", json_integer(b->window));
        json_object_set_new(j, "rate", json_real(b->rate));
        json_object_set_new(j, "size", json_integer(b->size));
        json_object_set_new(j, "published", json_integer((json_int_t)b->published));
        json_object_set_new(j, "publishedPerS", json_real(f->pub_rate));
        json_object_set_new(j, "lost", json_integer((json_int_t)b->st.lost));
        json_object_set_new(j, "duplicates", json_integer((json_int_t)b->st.dup));
        break;
    case SC_CONNECTIONS:
        json_object_set_new(j, "roomSize", json_integer(b->room_size));
        json_object_set_new(j, "sources", json_integer(b->sources));
        json_object_set_new(j, "setupS", json_real(f->setup_s));
        json_object_set_new(j, "heldS", json_real(f->run_s));
        if (f->srv) {
            json_object_set_new(j, "serverRssBeforeKiB", json_integer(b->srv_pre.rss_kib));
            json_object_set_new(j, "serverRssAfterKiB", json_integer(b->srv1.rss_kib));
        }
        if (f->bytes_per_conn >= 0)
            json_object_set_new(j, "serverBytesPerConnection",
                                json_integer(f->bytes_per_conn));
        break;
    default:
        break;
    }
    json_t *lat = json_object();
    for (int i = 0; i < 4; i++)
        json_object_set_new(lat, qn[i], json_real(us(bhist_quantile(&b->st.hist, qs[i]))));
    json_object_set_new(lat, "max", json_real(us(b->st.hist.max)));
    json_object_set_new(j, "latencyUs", lat);
    if (b->nports > 1) { /* the receivers on the other ports (nodes) than the first */
        json_t *far = json_object();
        for (int i = 0; i < 4; i++)
            json_object_set_new(far, qn[i], json_real(us(bhist_quantile(&b->st.far, qs[i]))));
        json_object_set_new(far, "count", json_integer((json_int_t)b->st.far.count));
        json_object_set_new(j, "latencyOtherPortsUs", far);
    }
    json_object_set_new(j, "errors", json_integer((json_int_t)b->st.errors));
    json_object_set_new(j, "failedConnections", json_integer(b->st.failed));
    json_object_set_new(j, "retriedConnections", json_integer(b->st.retried));
    json_object_set_new(j, "benchCpuS", json_real(f->self_cpu));
    json_object_set_new(j, "benchRssKiB", json_integer(b->self1.rss_kib));
    if (f->srv) {
        json_object_set_new(j, "serverCpuS", json_real(f->srv_cpu));
        json_object_set_new(j, "serverRssKiB", json_integer(b->srv1.rss_kib));
        json_object_set_new(j, "serverPeakRssKiB", json_integer(b->srv1.hwm_kib));
    }
    json_object_set_new(j, "cores", json_integer((json_int_t)uv_available_parallelism()));
    json_dumpf(j, stdout, JSON_COMPACT);
    fputc('\n', stdout);
    json_decref(j);
}

void bench_report(bench_t *b)
{
    figures_t f = figures(b);
    if (b->json) {
        report_json(b, &f);
        return;
    }
    const double qs[] = {0.5, 0.9, 0.99, 0.999};
    const char *qn[] = {"p50", "p90", "p99", "p99.9"};
    printf("%-22s %s against %s\n", "scenario",
           b->watch ? "presence" : bench_scenario_name(b->scenario),
           bproto_name(b->target));
    switch (b->scenario) {
    case SC_ECHO:
        printf("%-22s %d (one echo in flight each)\n", "connections", b->n);
        break;
    case SC_JOINSTORM:
        printf("%-22s %d (connect, authenticate, join, close; again)\n", "connections", b->n);
        break;
    case SC_CONNECTIONS:
        printf("%-22s %d idle, joined, in rooms of %d, from %d source address(es)\n",
               "connections", b->n, b->room_size, b->sources);
        break;
    case SC_ROOMS:
        printf("%-22s %d rooms of %d, every participant publishes, ", "connections", b->nrooms,
               b->room_size);
        /* fall through */
    default:
        if (b->scenario == SC_FANOUT)
            printf("%-22s %d subscribers, %d publisher(s), ", "connections", b->subs, b->pubs);
        if (b->rate > 0)
            printf("rate %.0f/s\n", b->rate);
        else
            printf("window %d\n", b->window);
        printf("%-22s %d filler bytes\n", "payload", b->size);
    }
    if (b->scenario == SC_CONNECTIONS) {
        printf("%-22s %.2f s (%.0f connections/s), then held %.2f s\n", "setup", f.setup_s,
               f.rate, f.run_s);
        if (f.srv)
            printf("%-22s %ld KiB before, %ld KiB after: %ld bytes per connection\n",
                   "server RSS", b->srv_pre.rss_kib, b->srv1.rss_kib, f.bytes_per_conn);
    } else {
        printf("%-22s %.2f s\n", "measured", f.run_s);
    }
    if (b->scenario == SC_FANOUT || b->scenario == SC_ROOMS) {
        printf("%-22s %llu (%.0f/s)\n", b->scenario == SC_ROOMS ? "messages" : "published",
               (unsigned long long)b->published, f.pub_rate);
        printf("%-22s %llu (%.0f/s)\n", "deliveries", (unsigned long long)b->st.count, f.rate);
        printf("%-22s %llu lost, %llu duplicate/out of order\n", "loss",
               (unsigned long long)b->st.lost, (unsigned long long)b->st.dup);
    } else if (b->scenario != SC_CONNECTIONS) {
        printf("%-22s %llu (%.0f/s)\n", count_name(b->scenario), (unsigned long long)b->st.count,
               f.rate);
    }
    printf("%-22s", latency_name(b->scenario));
    for (int i = 0; i < 4; i++)
        printf(" %s %.1f ", qn[i], us(bhist_quantile(&b->st.hist, qs[i])));
    printf(" max %.1f us\n", us(b->st.hist.max));
    printf("%-22s %llu (failed connections %d, closed by the server and connected again %d)\n",
           "errors", (unsigned long long)b->st.errors, b->st.failed, b->st.retried);
    double span = b->scenario == SC_CONNECTIONS ? f.setup_s : f.run_s;
    printf("%-22s %.2f s CPU (%.0f%% of one core), RSS %ld KiB\n", "load generator", f.self_cpu,
           span > 0 ? 100 * f.self_cpu / span : 0, b->self1.rss_kib);
    if (f.srv)
        printf("%-22s %.2f s CPU (%.0f%% of one core), RSS %ld KiB (peak %ld)\n", "server",
               f.srv_cpu, span > 0 ? 100 * f.srv_cpu / span : 0, b->srv1.rss_kib,
               b->srv1.hwm_kib);
    printf("%-22s %u cores\n", "machine", uv_available_parallelism());
    printf("%-22s %s\n", "result", bench_ok(b) ? "ok" : "FAILED");
}
