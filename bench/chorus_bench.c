/* chorus_bench.c: the Chorus load generator: echo round trips and room fan-out over real
 * WebSocket connections to a server on a loopback address (see bench/README.md). */
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uv.h>

#include "auth_jwt.h"
#include "auth_password.h"
#include "bench_hist.h"
#include "bench_util.h"
#include "bench_ws.h"
#include "mem.h"

enum { SC_ECHO, SC_FANOUT };
enum { PH_SETUP, PH_RUN, PH_DRAIN, PH_DONE };
enum { ROLE_ECHO, ROLE_SUB, ROLE_PUB };

/* Setup (connect + join) and drain limits: a run that cannot get there is an error. */
#define SETUP_TIMEOUT_MS 60000
#define DRAIN_TIMEOUT_MS 5000
/* Connects in flight at once: bounds the SYN backlog the server sees during setup. */
#define CONNECT_PARALLEL 128

typedef struct bench_s bench_t;

typedef struct {
    bws_t ws;
    bench_t *b;
    int idx;
    int role;
    int ready;        /* connected (echo) or joined (fanout) */
    int dead;         /* failed or closed by the server */
    uint64_t ref;     /* last ref sent */
    uint64_t sent_at; /* echo: send time of the one in flight; 0 when none */
    uint64_t seq;     /* publisher: messages sent so far (next seq) */
    uint64_t acked;   /* publisher: acknowledged */
    uint64_t *expect; /* subscriber: per publisher, the next seq expected */
} client_t;

struct bench_s {
    /* options */
    int scenario;
    char host[64];
    int port;
    const char *secret;
    const char *room_opt;
    double duration;
    int conns, subs, pubs, window, size, json;
    double rate;
    int server_pid;

    uv_loop_t *loop;
    auth_jwt_t *jwt;
    struct sockaddr_storage addr;
    char room[160];
    char *pad; /* --size filler */

    client_t *cl;
    int n;
    int next_connect, connecting;
    int ready, failed;
    int phase;
    uint64_t errors;      /* error replies, parse errors, failures */
    uint64_t dup;         /* messages seen twice or out of order */
    uint64_t lost;
    uint64_t count;       /* round trips (echo) or deliveries (fanout) in the run window */
    uint64_t count_all;   /* including the drain */
    uint64_t published;   /* fanout: sent in the run window */
    uint64_t sec_count, sec_pub;
    bhist_t hist, sec_hist;
    uint64_t t_setup, t_start, t_stop, t_drain_end;
    int ticks;
    uv_timer_t tick, stop, check, pace;
    bench_proc_t self0, self1, srv0, srv1;
    int srv_ok;
    int printed_errors;
};

__attribute__((format(printf, 2, 3))) static void fail_msg(bench_t *b, const char *fmt, ...)
{
    b->errors++;
    if (b->printed_errors++ < 5) {
        va_list ap;
        va_start(ap, fmt);
        fprintf(stderr, "chorus-bench: ");
        vfprintf(stderr, fmt, ap);
        fputc('\n', stderr);
        va_end(ap);
    }
}

/* ---- tiny scanners: subscribers only look for the numbers they need ---- */

/* Finds "key": followed by an unsigned integer in s[0..len); returns 0 and *out, or -1. */
static int scan_uint(const char *s, size_t len, const char *key, uint64_t *out)
{
    char pat[32];
    int pl = snprintf(pat, sizeof(pat), "\"%s\":", key);
    const char *p = memmem(s, len, pat, (size_t)pl);
    if (!p)
        return -1;
    p += pl;
    const char *end = s + len;
    while (p < end && *p == ' ')
        p++;
    if (p >= end || *p < '0' || *p > '9')
        return -1;
    uint64_t v = 0;
    while (p < end && *p >= '0' && *p <= '9')
        v = v * 10 + (uint64_t)(*p++ - '0');
    *out = v;
    return 0;
}

static int has(const char *s, size_t len, const char *needle)
{
    return memmem(s, len, needle, strlen(needle)) != NULL;
}

/* ---- sending ---- */

static void send_echo(client_t *c)
{
    bench_t *b = c->b;
    char msg[512];
    c->ref++;
    int n = snprintf(msg, sizeof(msg), "{\"op\":\"echo\",\"ref\":%llu,\"data\":{\"x\":\"%s\"}}",
                     (unsigned long long)c->ref, b->pad);
    c->sent_at = uv_hrtime();
    bws_send_text(&c->ws, msg, (size_t)n);
}

static void send_broadcast(client_t *c)
{
    bench_t *b = c->b;
    char msg[8192];
    c->ref++;
    int n = snprintf(msg, sizeof(msg),
                     "{\"op\":\"broadcast\",\"ref\":%llu,\"room\":\"%s\",\"event\":\"bench\","
                     "\"data\":{\"p\":%d,\"s\":%llu,\"t\":%llu,\"x\":\"%s\"}}",
                     (unsigned long long)c->ref, b->room, c->idx - b->subs,
                     (unsigned long long)c->seq, (unsigned long long)uv_hrtime(), b->pad);
    c->seq++;
    if (b->phase == PH_RUN) {
        b->published++;
        b->sec_pub++;
    }
    bws_send_text(&c->ws, msg, (size_t)n);
}

static void publisher_fill(client_t *c)
{
    while (c->b->phase == PH_RUN && !c->dead && c->seq - c->acked < (uint64_t)c->b->window)
        send_broadcast(c);
}

/* ---- run control ---- */

static void start_run(bench_t *b);
static void finish(bench_t *b);

static void on_fail(bws_t *ws, const char *why)
{
    client_t *c = ws->data;
    bench_t *b = c->b;
    c->dead = 1;
    b->failed++;
    if (b->phase == PH_SETUP && !c->ready)
        b->connecting--;
    fail_msg(b, "connection failed: %s", why);
}

static void connect_more(bench_t *b);

static void client_ready(client_t *c)
{
    bench_t *b = c->b;
    c->ready = 1;
    b->ready++;
    b->connecting--;
    connect_more(b);
    if (b->ready == b->n)
        start_run(b);
}

static void on_open(bws_t *ws)
{
    client_t *c = ws->data;
    bench_t *b = c->b;
    if (c->role == ROLE_ECHO) {
        client_ready(c);
        return;
    }
    char msg[256];
    c->ref++;
    int n = snprintf(msg, sizeof(msg), "{\"op\":\"join\",\"ref\":%llu,\"room\":\"%s\"}",
                     (unsigned long long)c->ref, b->room);
    bws_send_text(ws, msg, (size_t)n);
}

static void on_reply(client_t *c, char *s, size_t len)
{
    bench_t *b = c->b;
    uint64_t ref = 0;
    if (scan_uint(s, len, "ref", &ref) < 0) {
        fail_msg(b, "reply without ref: %.*s", (int)(len < 200 ? len : 200), s);
        return;
    }
    if (!has(s, len, "\"ok\":true")) {
        fail_msg(b, "error reply: %.*s", (int)(len < 300 ? len : 300), s);
        if (!c->ready) {
            c->dead = 1;
            b->failed++;
            b->connecting--;
            bws_close(&c->ws);
        }
        if (c->role == ROLE_PUB)
            c->acked++;
        if (c->role == ROLE_ECHO)
            c->sent_at = 0;
        return;
    }
    if (!c->ready) { /* the join reply */
        client_ready(c);
        return;
    }
    if (c->role == ROLE_ECHO) {
        if (ref != c->ref || c->sent_at == 0) {
            fail_msg(b, "unexpected echo reply: %.*s", (int)(len < 200 ? len : 200), s);
            return;
        }
        uint64_t now = uv_hrtime();
        bhist_add(&b->hist, now - c->sent_at);
        bhist_add(&b->sec_hist, now - c->sent_at);
        c->sent_at = 0;
        b->count_all++;
        if (b->phase == PH_RUN) {
            b->count++;
            b->sec_count++;
            send_echo(c);
        }
    } else if (c->role == ROLE_PUB) {
        c->acked++;
        if (b->rate <= 0)
            publisher_fill(c);
    }
}

static void on_delivery(client_t *c, const char *s, size_t len)
{
    bench_t *b = c->b;
    uint64_t now = uv_hrtime();
    const char *d = memmem(s, len, "\"data\":{", 8);
    uint64_t p, seq, t;
    if (!d || scan_uint(d, len - (size_t)(d - s), "p", &p) < 0 ||
        scan_uint(d, len - (size_t)(d - s), "s", &seq) < 0 ||
        scan_uint(d, len - (size_t)(d - s), "t", &t) < 0 || p >= (uint64_t)b->pubs) {
        fail_msg(b, "unparsable broadcast: %.*s", (int)(len < 200 ? len : 200), s);
        return;
    }
    if (seq == c->expect[p]) {
        c->expect[p]++;
    } else if (seq > c->expect[p]) {
        b->lost += seq - c->expect[p]; /* a gap: those never come (order is per sender) */
        c->expect[p] = seq + 1;
    } else {
        b->dup++;
    }
    bhist_add(&b->hist, now - t);
    bhist_add(&b->sec_hist, now - t);
    b->count_all++;
    if (b->phase == PH_RUN) {
        b->count++;
        b->sec_count++;
    }
}

static void on_msg(bws_t *ws, char *s, size_t len)
{
    client_t *c = ws->data;
    if (has(s, len > 40 ? 40 : len, "\"op\":\"reply\""))
        on_reply(c, s, len);
    else if (c->role == ROLE_SUB && has(s, len > 40 ? 40 : len, "\"op\":\"broadcast\""))
        on_delivery(c, s, len);
    /* participant_joined, presence, publishers hearing each other: not measured */
}

static void connect_more(bench_t *b)
{
    while (b->phase == PH_SETUP && b->connecting < CONNECT_PARALLEL && b->next_connect < b->n) {
        client_t *c = &b->cl[b->next_connect++];
        auth_claims_t claims;
        memset(&claims, 0, sizeof(claims));
        snprintf(claims.sub, sizeof(claims.sub), "bench-%d", c->idx);
        char *tok = auth_jwt_mint(b->jwt, &claims, (int64_t)time(NULL), 3600);
        if (!tok) {
            fail_msg(b, "%s", "cannot mint a token");
            c->dead = 1;
            b->failed++;
            continue;
        }
        char path[1024];
        snprintf(path, sizeof(path), "/ws?token=%s", tok);
        free(tok);
        c->ws.data = c;
        c->ws.on_open = on_open;
        c->ws.on_msg = on_msg;
        c->ws.on_fail = on_fail;
        b->connecting++;
        int r = bws_connect(b->loop, &c->ws, (const struct sockaddr *)&b->addr, path);
        if (r < 0) {
            b->connecting--;
            c->dead = 1;
            b->failed++;
            fail_msg(b, "connect: %s", uv_strerror(r));
        }
    }
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static void on_tick(uv_timer_t *t)
{
    bench_t *b = t->data;
    b->ticks++;
    if (b->scenario == SC_ECHO)
        fprintf(stderr, "[%2ds] round trips %8llu/s  p50 %7.1f us  p99 %7.1f us  errors %llu\n",
                b->ticks, (unsigned long long)b->sec_count, us(bhist_quantile(&b->sec_hist, 0.5)),
                us(bhist_quantile(&b->sec_hist, 0.99)), (unsigned long long)b->errors);
    else
        fprintf(stderr,
                "[%2ds] published %7llu/s  deliveries %9llu/s  p50 %7.1f us  p99 %7.1f us  "
                "lost %llu  errors %llu\n",
                b->ticks, (unsigned long long)b->sec_pub, (unsigned long long)b->sec_count,
                us(bhist_quantile(&b->sec_hist, 0.5)), us(bhist_quantile(&b->sec_hist, 0.99)),
                (unsigned long long)b->lost, (unsigned long long)b->errors);
    b->sec_count = b->sec_pub = 0;
    bhist_reset(&b->sec_hist);
}

/* Fixed-rate publishing: every millisecond each publisher sends what is due by now. */
static void on_pace(uv_timer_t *t)
{
    bench_t *b = t->data;
    if (b->phase != PH_RUN)
        return;
    double elapsed = (double)(uv_hrtime() - b->t_start) / 1e9;
    uint64_t due = (uint64_t)(elapsed * b->rate / b->pubs);
    for (int i = b->subs; i < b->n; i++) {
        client_t *c = &b->cl[i];
        while (!c->dead && c->seq < due)
            send_broadcast(c);
    }
}

static int drained(bench_t *b)
{
    for (int i = 0; i < b->n; i++) {
        client_t *c = &b->cl[i];
        if (c->dead)
            continue;
        if (c->role == ROLE_ECHO && c->sent_at != 0)
            return 0;
        if (c->role == ROLE_PUB && c->acked < c->seq)
            return 0;
        if (c->role == ROLE_SUB)
            for (int p = 0; p < b->pubs; p++)
                if (!b->cl[b->subs + p].dead && c->expect[p] < b->cl[b->subs + p].seq)
                    return 0;
    }
    return 1;
}

static void on_check(uv_timer_t *t)
{
    bench_t *b = t->data;
    uint64_t now = uv_hrtime();
    if (b->phase == PH_SETUP && now - b->t_setup > (uint64_t)SETUP_TIMEOUT_MS * 1000000u) {
        fail_msg(b, "%s", "setup timed out (connect/join)");
        finish(b);
    } else if (b->phase == PH_SETUP && b->failed > 0) {
        finish(b); /* a run short of connections measures something else: stop */
    } else if (b->phase == PH_DRAIN &&
               (drained(b) || now - b->t_stop > (uint64_t)DRAIN_TIMEOUT_MS * 1000000u)) {
        finish(b);
    }
}

static void sample_procs(bench_t *b, bench_proc_t *self, bench_proc_t *srv)
{
    bench_proc_self(self);
    if (b->server_pid > 0 && bench_proc_pid(b->server_pid, srv) < 0)
        b->srv_ok = 0;
}

static void on_stop(uv_timer_t *t)
{
    bench_t *b = t->data;
    b->phase = PH_DRAIN;
    b->t_stop = uv_hrtime();
    sample_procs(b, &b->self1, &b->srv1);
    if (b->sec_count > 0 || b->sec_pub > 0)
        on_tick(&b->tick); /* the last second, when its tick has not fired yet */
    uv_timer_stop(&b->tick);
    uv_timer_stop(&b->pace);
}

static void start_run(bench_t *b)
{
    b->phase = PH_RUN;
    fprintf(stderr, "chorus-bench: %d connections ready in %.2f s, running %.0f s\n", b->n,
            (double)(uv_hrtime() - b->t_setup) / 1e9, b->duration);
    sample_procs(b, &b->self0, &b->srv0);
    b->t_start = uv_hrtime();
    bhist_reset(&b->hist);
    bhist_reset(&b->sec_hist);
    uv_timer_start(&b->tick, on_tick, 1000, 1000);
    uv_timer_start(&b->stop, on_stop, (uint64_t)(b->duration * 1000), 0);
    for (int i = 0; i < b->n; i++) {
        client_t *c = &b->cl[i];
        if (c->role == ROLE_ECHO)
            send_echo(c);
        else if (c->role == ROLE_PUB && b->rate <= 0)
            publisher_fill(c);
    }
    if (b->rate > 0)
        uv_timer_start(&b->pace, on_pace, 1, 1);
}

static void finish(bench_t *b)
{
    if (b->phase == PH_DONE)
        return;
    if (b->phase == PH_RUN || b->phase == PH_SETUP) {
        b->t_stop = uv_hrtime();
        sample_procs(b, &b->self1, &b->srv1);
    }
    b->phase = PH_DONE;
    b->t_drain_end = uv_hrtime();
    /* Whatever a subscriber has not seen by now is lost. */
    if (b->scenario == SC_FANOUT && b->t_start != 0) {
        for (int i = 0; i < b->subs; i++) {
            client_t *c = &b->cl[i];
            for (int p = 0; p < b->pubs; p++)
                if (c->expect[p] < b->cl[b->subs + p].seq)
                    b->lost += b->cl[b->subs + p].seq - c->expect[p];
        }
        for (int p = 0; p < b->pubs; p++) {
            client_t *c = &b->cl[b->subs + p];
            if (c->acked < c->seq) {
                b->errors++;
                fprintf(stderr, "chorus-bench: publisher %d: %llu broadcasts unacknowledged\n", p,
                        (unsigned long long)(c->seq - c->acked));
            }
        }
    }
    if (b->scenario == SC_ECHO)
        for (int i = 0; i < b->n; i++)
            if (b->cl[i].sent_at != 0 && !b->cl[i].dead)
                fail_msg(b, "%s", "an echo was never answered");
    uv_timer_stop(&b->tick);
    uv_timer_stop(&b->stop);
    uv_timer_stop(&b->check);
    uv_timer_stop(&b->pace);
    for (int i = 0; i < b->n; i++)
        bws_close(&b->cl[i].ws);
}

/* ---- setup ---- */

static int create_room(bench_t *b)
{
    auth_claims_t claims;
    memset(&claims, 0, sizeof(claims));
    /* A fresh host per run: a user may host only a few live rooms (--room-max-hosted). */
    snprintf(claims.sub, sizeof(claims.sub), "bench-host-%ld-%d", (long)time(NULL),
             (int)uv_os_getpid());
    char *tok = auth_jwt_mint(b->jwt, &claims, (int64_t)time(NULL), 3600);
    if (!tok)
        return -1;
    char body[256];
    snprintf(body, sizeof(body), "{\"name\":\"bench\",\"maxParticipants\":%d}", b->n + 1);
    char *resp = NULL;
    int status = bench_http_post(&b->addr, "/api/rooms/create", tok, body, &resp);
    free(tok);
    if (status != 201) {
        fprintf(stderr, "chorus-bench: POST /api/rooms/create: %d %s\n", status,
                resp ? resp : "(no response)");
        free(resp);
        return -1;
    }
    json_t *j = json_loads(resp, 0, NULL);
    free(resp);
    const char *id = json_string_value(json_object_get(json_object_get(j, "room"), "id"));
    if (!id || strlen(id) >= sizeof(b->room)) {
        json_decref(j);
        fprintf(stderr, "chorus-bench: no room id in the create response\n");
        return -1;
    }
    snprintf(b->room, sizeof(b->room), "%s", id);
    json_decref(j);
    return 0;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: chorus-bench echo|fanout --secret S [options]\n"
            "  --host H          server address, loopback only (127.0.0.1)\n"
            "  --port P          server port (8080)\n"
            "  --secret S        the server's HS256 --jwt-secret (tokens bench-0..bench-N)\n"
            "  --duration D      seconds of measurement (5)\n"
            "  --json            print one JSON object instead of the table\n"
            "  --server-pid PID  report the server's CPU time and memory from /proc\n"
            "  --size M          filler bytes in each message, 0..4000 (0)\n"
            " echo:\n"
            "  --connections K   connections, one echo in flight each (50)\n"
            " fanout:\n"
            "  --subscribers N   (100)\n"
            "  --publishers P    (1)\n"
            "  --window W        unacknowledged broadcasts per publisher (16)\n"
            "  --rate R          total broadcasts per second instead of as fast as possible\n"
            "  --room ID         use this room (else one is created over REST)\n");
}

static int parse_args(bench_t *b, int argc, char **argv)
{
    snprintf(b->host, sizeof(b->host), "127.0.0.1");
    b->port = 8080;
    b->duration = 5;
    b->conns = 50;
    b->subs = 100;
    b->pubs = 1;
    b->window = 16;
    if (argc < 2)
        return -1;
    if (strcmp(argv[1], "echo") == 0)
        b->scenario = SC_ECHO;
    else if (strcmp(argv[1], "fanout") == 0)
        b->scenario = SC_FANOUT;
    else
        return -1;
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--json") == 0) {
            b->json = 1;
            continue;
        }
        if (i + 1 >= argc)
            return -1;
        const char *v = argv[++i];
        if (strcmp(o, "--host") == 0)
            snprintf(b->host, sizeof(b->host), "%s", v);
        else if (strcmp(o, "--port") == 0)
            b->port = atoi(v);
        else if (strcmp(o, "--secret") == 0)
            b->secret = v;
        else if (strcmp(o, "--duration") == 0)
            b->duration = atof(v);
        else if (strcmp(o, "--connections") == 0)
            b->conns = atoi(v);
        else if (strcmp(o, "--subscribers") == 0)
            b->subs = atoi(v);
        else if (strcmp(o, "--publishers") == 0)
            b->pubs = atoi(v);
        else if (strcmp(o, "--window") == 0)
            b->window = atoi(v);
        else if (strcmp(o, "--rate") == 0)
            b->rate = atof(v);
        else if (strcmp(o, "--size") == 0)
            b->size = atoi(v);
        else if (strcmp(o, "--room") == 0)
            b->room_opt = v;
        else if (strcmp(o, "--server-pid") == 0)
            b->server_pid = atoi(v);
        else
            return -1;
    }
    if (!b->secret || b->duration <= 0 || b->conns < 1 || b->subs < 1 || b->pubs < 1 ||
        b->window < 1 || b->rate < 0 || b->size < 0 || b->size > 4000)
        return -1;
    return 0;
}

/* ---- report ---- */

static void report(bench_t *b)
{
    double run_s = (double)(b->t_stop - b->t_start) / 1e9;
    if (b->t_start == 0)
        run_s = 0;
    double rate = run_s > 0 ? (double)b->count / run_s : 0;
    double pub_rate = run_s > 0 ? (double)b->published / run_s : 0;
    double self_cpu = b->self1.cpu_s - b->self0.cpu_s;
    double srv_cpu = b->srv1.cpu_s - b->srv0.cpu_s;
    const double qs[] = {0.5, 0.9, 0.99, 0.999};
    const char *qn[] = {"p50", "p90", "p99", "p99.9"};
    int ok = b->errors == 0 && b->lost == 0 && b->dup == 0 && b->failed == 0;

    if (b->json) {
        json_t *j = json_object();
        json_object_set_new(j, "scenario", json_string(b->scenario == SC_ECHO ? "echo" : "fanout"));
        json_object_set_new(j, "ok", json_boolean(ok));
        json_object_set_new(j, "connections", json_integer(b->n));
        json_object_set_new(j, "durationS", json_real(run_s));
        if (b->scenario == SC_ECHO) {
            json_object_set_new(j, "roundTrips", json_integer((json_int_t)b->count));
            json_object_set_new(j, "roundTripsPerS", json_real(rate));
        } else {
            json_object_set_new(j, "subscribers", json_integer(b->subs));
            json_object_set_new(j, "publishers", json_integer(b->pubs));
            json_object_set_new(j, "window", json_integer(b->window));
            json_object_set_new(j, "rate", json_real(b->rate));
            json_object_set_new(j, "size", json_integer(b->size));
            json_object_set_new(j, "published", json_integer((json_int_t)b->published));
            json_object_set_new(j, "publishedPerS", json_real(pub_rate));
            json_object_set_new(j, "deliveries", json_integer((json_int_t)b->count));
            json_object_set_new(j, "deliveriesPerS", json_real(rate));
            json_object_set_new(j, "lost", json_integer((json_int_t)b->lost));
            json_object_set_new(j, "duplicates", json_integer((json_int_t)b->dup));
        }
        json_t *lat = json_object();
        for (int i = 0; i < 4; i++)
            json_object_set_new(lat, qn[i], json_real(us(bhist_quantile(&b->hist, qs[i]))));
        json_object_set_new(lat, "max", json_real(us(b->hist.max)));
        json_object_set_new(j, "latencyUs", lat);
        json_object_set_new(j, "errors", json_integer((json_int_t)b->errors));
        json_object_set_new(j, "failedConnections", json_integer(b->failed));
        json_object_set_new(j, "benchCpuS", json_real(self_cpu));
        json_object_set_new(j, "benchRssKiB", json_integer(b->self1.rss_kib));
        if (b->server_pid > 0 && b->srv_ok) {
            json_object_set_new(j, "serverCpuS", json_real(srv_cpu));
            json_object_set_new(j, "serverRssKiB", json_integer(b->srv1.rss_kib));
            json_object_set_new(j, "serverPeakRssKiB", json_integer(b->srv1.hwm_kib));
        }
        json_object_set_new(j, "cores", json_integer((json_int_t)uv_available_parallelism()));
        json_dumpf(j, stdout, JSON_COMPACT);
        fputc('\n', stdout);
        json_decref(j);
        return;
    }
    printf("%-22s %s\n", "scenario", b->scenario == SC_ECHO ? "echo" : "fanout");
    if (b->scenario == SC_ECHO) {
        printf("%-22s %d (one echo in flight each)\n", "connections", b->n);
    } else {
        printf("%-22s %d subscribers, %d publisher(s), ", "connections", b->subs, b->pubs);
        if (b->rate > 0)
            printf("rate %.0f/s\n", b->rate);
        else
            printf("window %d\n", b->window);
        printf("%-22s %d filler bytes\n", "payload", b->size);
    }
    printf("%-22s %.2f s\n", "measured", run_s);
    if (b->scenario == SC_ECHO) {
        printf("%-22s %llu (%.0f/s)\n", "round trips", (unsigned long long)b->count, rate);
    } else {
        printf("%-22s %llu (%.0f/s)\n", "published", (unsigned long long)b->published, pub_rate);
        printf("%-22s %llu (%.0f/s)\n", "deliveries", (unsigned long long)b->count, rate);
        printf("%-22s %llu lost, %llu duplicate/out of order\n", "loss",
               (unsigned long long)b->lost, (unsigned long long)b->dup);
    }
    printf("%-22s", b->scenario == SC_ECHO ? "round trip (us)" : "publish->receive (us)");
    for (int i = 0; i < 4; i++)
        printf(" %s %.1f ", qn[i], us(bhist_quantile(&b->hist, qs[i])));
    printf(" max %.1f\n", us(b->hist.max));
    printf("%-22s %llu (failed connections %d)\n", "errors", (unsigned long long)b->errors,
           b->failed);
    printf("%-22s %.2f s CPU (%.0f%% of one core), RSS %ld KiB\n", "load generator", self_cpu,
           run_s > 0 ? 100 * self_cpu / run_s : 0, b->self1.rss_kib);
    if (b->server_pid > 0 && b->srv_ok)
        printf("%-22s %.2f s CPU (%.0f%% of one core), RSS %ld KiB (peak %ld)\n", "server",
               srv_cpu, run_s > 0 ? 100 * srv_cpu / run_s : 0, b->srv1.rss_kib,
               b->srv1.hwm_kib);
    printf("%-22s %u cores\n", "machine", uv_available_parallelism());
    printf("%-22s %s\n", "result", ok ? "ok" : "FAILED");
}

int main(int argc, char **argv)
{
    static bench_t bench;
    bench_t *b = &bench;
    if (parse_args(b, argc, argv) < 0) {
        usage(stderr);
        return 2;
    }
    if (bench_loopback_addr(b->host, b->port, &b->addr) < 0) {
        fprintf(stderr, "chorus-bench: %s:%d is not a loopback address: refusing\n", b->host,
                b->port);
        return 2;
    }
    if (auth_init() < 0) {
        fprintf(stderr, "chorus-bench: libsodium init failed\n");
        return 1;
    }
    size_t sl = strlen(b->secret);
    b->jwt = auth_jwt_new(AUTH_ALG_HS256, (const unsigned char *)b->secret, sl,
                          (const unsigned char *)b->secret, sl, 0);
    if (!b->jwt) {
        fprintf(stderr, "chorus-bench: unusable --secret (at least 32 bytes)\n");
        return 2;
    }
    b->pad = ch_malloc((size_t)b->size + 1);
    memset(b->pad, 'x', (size_t)b->size);
    b->pad[b->size] = '\0';
    b->srv_ok = 1;
    b->loop = uv_default_loop();

    if (b->scenario == SC_FANOUT) {
        b->n = b->subs + b->pubs;
        if (b->room_opt) {
            if (strlen(b->room_opt) >= sizeof(b->room) || strpbrk(b->room_opt, "\"\\")) {
                fprintf(stderr, "chorus-bench: bad --room\n");
                return 2;
            }
            snprintf(b->room, sizeof(b->room), "%s", b->room_opt);
        } else if (create_room(b) < 0) {
            return 1;
        }
    } else {
        b->n = b->conns;
    }
    b->cl = ch_calloc((size_t)b->n, sizeof(client_t));
    uint64_t *expect = ch_calloc((size_t)b->subs * (size_t)b->pubs, sizeof(uint64_t));
    for (int i = 0; i < b->n; i++) {
        client_t *c = &b->cl[i];
        c->b = b;
        c->idx = i;
        c->ws.state = BWS_CLOSED;
        if (b->scenario == SC_ECHO) {
            c->role = ROLE_ECHO;
        } else if (i < b->subs) {
            c->role = ROLE_SUB;
            c->expect = expect + (size_t)i * (size_t)b->pubs;
        } else {
            c->role = ROLE_PUB;
        }
    }
    uv_timer_init(b->loop, &b->tick);
    uv_timer_init(b->loop, &b->stop);
    uv_timer_init(b->loop, &b->check);
    uv_timer_init(b->loop, &b->pace);
    b->tick.data = b->stop.data = b->check.data = b->pace.data = b;
    b->t_setup = uv_hrtime();
    uv_timer_start(&b->check, on_check, 10, 10);
    connect_more(b);
    uv_run(b->loop, UV_RUN_DEFAULT);
    /* finish() closed the connections and stopped the timers; close the timers too. */
    uv_close((uv_handle_t *)&b->tick, NULL);
    uv_close((uv_handle_t *)&b->stop, NULL);
    uv_close((uv_handle_t *)&b->check, NULL);
    uv_close((uv_handle_t *)&b->pace, NULL);
    uv_run(b->loop, UV_RUN_DEFAULT);

    report(b);
    int ok = b->errors == 0 && b->lost == 0 && b->dup == 0 && b->failed == 0 && b->t_start != 0;
    for (int i = 0; i < b->n; i++)
        ws_parser_free(&b->cl[i].ws.parser);
    free(expect);
    free(b->cl);
    free(b->pad);
    auth_jwt_free(b->jwt);
    uv_loop_close(b->loop);
    return ok ? 0 : 1;
}
