/* chorus_bench.c: the Chorus load generator: echo, fan-out, chat rooms, idle connections
 * and join storms over real WebSocket connections to a server on a loopback address, Chorus
 * or a peer (see docs/benchmarks.md). */
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/timerfd.h>
#include <uv.h>

#include "auth/auth_password.h"
#include "bench.h"
#include "bench_jitter.h"
#include "bench_presence.h"
#include "bench_proto.h"
#include "util/mem.h"

/* Setup (connect + join) and drain limits: a run that cannot get there is an error. */
#define DRAIN_TIMEOUT_MS 5000
/* Connects in flight at once: bounds the SYN backlog the server sees during setup. */
#define CONNECT_PARALLEL 128
/* connections: a connection the server closes (its --http-header-timeout before the upgrade,
 * or no pong in --ws-pong-timeout after it: what a generator starved of CPU on a loaded
 * machine gets) connects and joins again, at most this many times, after RETRY_FIRST_MS
 * doubling up to RETRY_FIRST_MS << RETRY_DOUBLINGS (16 s; and a share of jitter): ~4 min in
 * all, as a cluster home busy with a 100,000-member fill on a loaded machine answered joins
 * unavailable for longer than the 6 tries' 32 s; counted, and a run that runs out of them
 * fails. */
#define RETRY_MAX 20
#define RETRY_DOUBLINGS 6
#define RETRY_FIRST_MS 250

static const char *const k_scenarios[SC_COUNT] = {"echo", "fanout", "rooms", "connections",
                                                  "join-storm"};

const char *bench_scenario_name(int scenario)
{
    return k_scenarios[scenario];
}

static void st_lock(bench_stats_t *st)
{
    if (st->shared)
        pthread_mutex_lock(&st->mu);
}

static void st_unlock(bench_stats_t *st)
{
    if (st->shared)
        pthread_mutex_unlock(&st->mu);
}

__attribute__((format(printf, 2, 0))) static void vfail(bench_stats_t *st, const char *fmt,
                                                      va_list ap)
{
    st_lock(st);
    st->errors++;
    int print = st->printed_errors++ < 5;
    st_unlock(st);
    if (print) {
        char line[512];
        vsnprintf(line, sizeof(line), fmt, ap);
        fprintf(stderr, "chorus-bench: %s\n", line);
    }
}

/* An error of the run as a whole (the main loop's). */
__attribute__((format(printf, 2, 3))) static void fail_msg(bench_t *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(&b->st, fmt, ap);
    va_end(ap);
}

/* An error seen on c, from whichever loop has it. */
__attribute__((format(printf, 2, 3))) static void cfail(client_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfail(c->st, fmt, ap);
    va_end(ap);
}

/* ---- tiny scanners: receivers only look for the numbers they need ---- */

/* Finds needle[0..nl) in s[0..len): memchr for its last byte (a '{' or ':' is rarer in
 * JSON than the '"' a key starts with), then memcmp. glibc's memmem was a fifth of the
 * generator's time in an unthrottled fan-out. Returns the match or NULL. */
static const char *find(const char *s, size_t len, const char *needle, size_t nl)
{
    if (nl == 0 || len < nl)
        return NULL;
    const char *p = s + nl - 1, *end = s + len;
    while (p < end) {
        p = memchr(p, needle[nl - 1], (size_t)(end - p));
        if (!p)
            return NULL;
        if (memcmp(p - (nl - 1), needle, nl - 1) == 0)
            return p - (nl - 1);
        p++;
    }
    return NULL;
}

#define FIND(s, len, lit) find((s), (len), (lit), sizeof(lit) - 1)

/* Reads the unsigned integer after pat (a literal such as "\"p\":") in s[0..len); returns 0
 * and *out, or -1. */
static int scan_after(const char *s, size_t len, const char *pat, size_t pl, uint64_t *out)
{
    const char *p = find(s, len, pat, pl);
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

#define SCAN_UINT(s, len, key, out) scan_after((s), (len), "\"" key "\":", sizeof(key) + 2, (out))

static int has(const char *s, size_t len, const char *needle)
{
    return find(s, len, needle, strlen(needle)) != NULL;
}

/* 1 when the message's "op" is name: Chorus and the peers put "op" first; anything else
 * is looked for in the first 40 bytes. */
static int op_is(const char *s, size_t len, const char *name)
{
    size_t nl = strlen(name);
    if (len > 8 + nl && memcmp(s, "{\"op\":\"", 7) == 0)
        return memcmp(s + 7, name, nl) == 0 && s[7 + nl] == '"';
    char pat[48];
    int pl = snprintf(pat, sizeof(pat), "\"op\":\"%s\"", name);
    return find(s, len > 40 ? 40 : len, pat, (size_t)pl) != NULL;
}

/* ---- who publishes where ---- */

/* Publishers in one room: fanout's P, or every participant of a chat room. */
static int room_pubs(const bench_t *b)
{
    return b->scenario == SC_ROOMS ? b->room_size : b->pubs;
}

static client_t *pub_client(bench_t *b, int room, int slot)
{
    if (b->scenario == SC_ROOMS)
        return &b->cl[room * b->room_size + slot];
    return &b->cl[b->subs + slot];
}

/* ---- sending ---- */

static void send_json(client_t *c, const char *op, const char *msg, int n)
{
    bproto_send(c->b->target, &c->ws, op, msg, (size_t)n);
}

static void send_echo(client_t *c)
{
    bench_t *b = c->b;
    char msg[4400];
    c->ref++;
    int n = snprintf(msg, sizeof(msg), "{\"op\":\"echo\",\"ref\":%llu,\"data\":{\"x\":\"%s\"}}",
                     (unsigned long long)c->ref, b->pad);
    c->sent_at = uv_hrtime();
    send_json(c, "echo", msg, n);
}

static void send_join(client_t *c)
{
    char msg[256];
    c->ref++;
    int n = snprintf(msg, sizeof(msg), "{\"op\":\"join\",\"ref\":%llu,\"room\":\"%s\"}",
                     (unsigned long long)c->ref, c->b->rooms[c->room]);
    send_json(c, "join", msg, n);
}

/* One numbered message: a broadcast (fanout) or a stored chat message (rooms) carrying
 * {"p": slot, "s": seq, "t": send time} for the receivers. */
static void send_pub(client_t *c)
{
    bench_t *b = c->b;
    char msg[8192];
    int n;
    c->ref++;
    if (b->watch)
        n = bpres_pub_msg(b, c, msg, sizeof(msg), (unsigned long long)uv_hrtime());
    else if (b->scenario == SC_ROOMS)
        n = snprintf(msg, sizeof(msg),
                     "{\"op\":\"message\",\"ref\":%llu,\"room\":\"%s\",\"type\":\"user_text\","
                     "\"content\":\"m%s\",\"metadata\":{\"p\":%d,\"s\":%llu,\"t\":%llu}}",
                     (unsigned long long)c->ref, b->rooms[c->room], b->pad, c->slot,
                     (unsigned long long)c->seq, (unsigned long long)uv_hrtime());
    else
        n = snprintf(msg, sizeof(msg),
                     "{\"op\":\"broadcast\",\"ref\":%llu,\"room\":\"%s\",\"event\":\"bench\","
                     "\"data\":{\"p\":%d,\"s\":%llu,\"t\":%llu,\"x\":\"%s\"}}",
                     (unsigned long long)c->ref, b->rooms[c->room], c->slot,
                     (unsigned long long)c->seq, (unsigned long long)uv_hrtime(), b->pad);
    c->seq++;
    if (b->phase == PH_RUN) {
        b->published++;
        b->sec_pub++;
    }
    send_json(c, b->watch ? "presence" : b->scenario == SC_ROOMS ? "message" : "broadcast", msg,
              n);
}

static void publisher_fill(client_t *c)
{
    while (c->b->phase == PH_RUN && !c->dead && c->seq - c->acked < (uint64_t)c->b->window)
        send_pub(c);
}

/* ---- run control ---- */

static void start_run(bench_t *b);
static void finish(bench_t *b);

/* --procs: the parent's start (or its end: EOF is readable too). */
static void on_go(uv_poll_t *p, int status, int events)
{
    (void)events;
    bench_t *b = p->data;
    uv_poll_stop(p);
    if (status < 0 || bench_procs_go(b) < 0) {
        fail_msg(b, "%s", "the parent process is gone");
        finish(b);
        return;
    }
    if (b->phase == PH_SETUP) start_run(b); /* else a failure ended it meanwhile */
}

/* Starts the run, once every generator process is ready too (--procs): a child says it is
 * ready and its loop goes on (answering pings) until the parent's start arrives. */
static void procs_start_run(bench_t *b)
{
    if (b->go_fd < 0) {
        start_run(b);
        return;
    }
    if (bench_procs_ready(b) < 0 || uv_poll_init(b->loop, &b->go, b->go_fd) < 0) {
        fail_msg(b, "%s", "the parent process is gone");
        finish(b);
        return;
    }
    b->go_on = 1;
    b->go.data = b;
    uv_poll_start(&b->go, UV_READABLE, on_go);
}
static void connect_more(bench_t *b);
static void storm_attempt(client_t *c);

/* connections, and presence while it sets up: takes c up again after a backoff when the
 * server closed it (see RETRY_MAX). Returns 1 when it will, 0 when c has failed for good. */
static int retry_later(client_t *c, const char *why)
{
    bench_t *b = c->b;
    int st = c->ws.fail_state;
    if ((b->scenario != SC_CONNECTIONS && !(b->watch && b->phase == PH_SETUP)) ||
        c->retries >= RETRY_MAX ||
        b->phase == PH_DONE || (st != BWS_HANDSHAKE && st != BWS_OPEN))
        return 0;
    uint64_t ms = (uint64_t)RETRY_FIRST_MS
                  << (c->retries < RETRY_DOUBLINGS ? c->retries : RETRY_DOUBLINGS);
    ms += (uint64_t)((unsigned)c->idx * 2654435761u % (unsigned)ms); /* spread them out */
    c->retries++;
    b->st.retried++;
    if (b->st.retried <= 5)
        fprintf(stderr, "chorus-bench: closed by the server, connecting again in %llu ms: %s "
                        "(%s, %.1f s after its connect began)\n",
                (unsigned long long)ms, why, st == BWS_OPEN ? (c->ready ? "joined" : "open") :
                "in the upgrade", (double)(uv_hrtime() - c->sent_at) / 1e9);
    if (c->ready) { /* in flight again: client_ready counts it once more */
        c->ready = 0;
        b->ready--;
        b->connecting++;
    }
    c->retry_due = 1;
    c->retry_at = uv_hrtime() + ms * 1000000u;
    c->retry_next = b->retry_head;
    b->retry_head = c;
    return 1;
}

static int client_connect(client_t *c, const char *path);

/* From on_check: the connections whose retry is due (and whose socket is closed) connect. */
static void retry_due(bench_t *b, uint64_t now)
{
    for (client_t **pp = &b->retry_head; *pp;) {
        client_t *c = *pp;
        if (c->retry_at > now || c->ws.state != BWS_CLOSED) {
            pp = &c->retry_next;
            continue;
        }
        *pp = c->retry_next;
        c->retry_due = 0;
        char path[1024];
        if (bench_client_path(b, c, path, sizeof(path)) < 0) {
            c->dead = 1;
            b->st.failed++;
            fail_msg(b, "%s", "cannot mint a token");
        } else {
            client_connect(c, path); /* a failure counts there */
        }
    }
}

static void on_fail(bws_t *ws, const char *why)
{
    client_t *c = ws->data;
    bench_t *b = c->b;
    if (retry_later(c, why))
        return;
    c->dead = 1;
    st_lock(c->st);
    c->st->failed++;
    st_unlock(c->st);
    if (b->phase == PH_SETUP && !c->ready)
        b->connecting--;
    /* Where it was and how long after its connect began: a close in the handshake ~10 s
     * after connecting is the server's --http-header-timeout, one after the join ~40 s
     * after it an unanswered ping. */
    static const char *const k_stage[] = {"connecting", "in the upgrade", "open"};
    int st = ws->fail_state;
    cfail(c, "connection failed: %s (%s%s, %.1f s after its connect began)", why,
          st >= BWS_CONNECTING && st <= BWS_OPEN ? k_stage[st] : "?",
          st == BWS_OPEN ? (c->ready ? ", joined" : ", not joined yet") : "",
          (double)(uv_hrtime() - c->sent_at) / 1e9);
}

static void on_closed(bws_t *ws)
{
    client_t *c = ws->data;
    c->busy = 0;
    if (c->b->scenario == SC_JOINSTORM && c->b->phase == PH_RUN && !c->dead)
        storm_attempt(c);
}

static void client_ready(client_t *c)
{
    bench_t *b = c->b;
    c->ready = 1;
    b->ready++;
    b->connecting--;
    connect_more(b);
    if (b->ready < b->n || b->all_ready) /* all_ready: one taken up again after a retry */
        return;
    b->all_ready = 1;
    if (b->moved_on)
        uv_async_send(&b->moved); /* on_moved hands the subscribers over */
    else
        procs_start_run(b);
}

/* With receiving threads: once every connection is joined, hands the subscribers over
 * (not from client_ready: that runs inside a read callback, and the rest of that read
 * would be parsed by a connection that is no longer there); then, as the threads take
 * them up, starts the run when all are there. */
static void on_moved(uv_async_t *a)
{
    bench_t *b = a->data;
    if (b->phase != PH_SETUP)
        return;
    if (!b->workers) {
        if (brecv_start(b) < 0) {
            fail_msg(b, "%s", "cannot hand the subscribers to receiving threads");
            finish(b);
            return;
        }
    }
    if (atomic_load(&b->attached) == b->to_move)
        start_run(b);
}

/* The protocol is ready on c (after the upgrade, or Socket.IO's namespace connect). */
static void proto_ready(client_t *c)
{
    if (c->b->scenario == SC_ECHO)
        client_ready(c);
    else
        send_join(c);
}

static void on_open(bws_t *ws)
{
    client_t *c = ws->data;
    if (bproto_upgraded(c->b->target, ws, c->token))
        proto_ready(c);
}

/* Counts one measured latency into st, which the caller holds (st_lock). */
static void record_locked(bench_stats_t *st, int phase, uint64_t ns)
{
    bhist_add(&st->hist, ns);
    bhist_add(&st->sec_hist, ns);
    st->count_all++;
    if (phase == PH_RUN) {
        st->count++;
        st->sec_count++;
    }
}

static void record(client_t *c, uint64_t ns)
{
    st_lock(c->st);
    record_locked(c->st, c->b->phase, ns);
    st_unlock(c->st);
}

static void on_join_reply(client_t *c)
{
    bench_t *b = c->b;
    if (b->scenario == SC_JOINSTORM) {
        record(c, uv_hrtime() - c->sent_at);
        bws_close(&c->ws); /* on_closed starts the next attempt */
    } else {
        if (b->scenario == SC_CONNECTIONS)
            record(c, uv_hrtime() - c->sent_at);
        if (b->watch && bpres_watcher(b, c) && !c->busy) { /* presence: ready once it watches */
            char msg[16384];
            int n = bpres_subscribe_msg(b, c, msg, sizeof(msg));
            c->busy = 1;
            send_json(c, "presence_subscribe", msg, n);
            return;
        }
        client_ready(c);
    }
}

static void on_reply(client_t *c, char *s, size_t len)
{
    bench_t *b = c->b;
    uint64_t ref = 0;
    if (SCAN_UINT(s, len, "ref", &ref) < 0) {
        cfail(c, "reply without ref: %.*s", (int)(len < 200 ? len : 200), s);
        return;
    }
    if (!has(s, len, "\"ok\":true")) {
        /* A join the room's home could not answer in time (a cluster's home busy with a
         * fill), or that reached it while the room moved: connect and join again later, as
         * the SDK does, counted as a retry. */
        if (!c->ready && (b->scenario == SC_CONNECTIONS || b->watch) &&
            (has(s, len, "\"code\":\"unavailable\"") ||
             has(s, len, "\"code\":\"service_unavailable\""))) {
            c->ws.fail_state = BWS_OPEN;
            if (retry_later(c, "join answered unavailable")) {
                bws_close(&c->ws);
                return;
            }
        }
        cfail(c, "error reply: %.*s", (int)(len < 300 ? len : 300), s);
        if (!c->ready) { /* a refused join (on the main loop: setup) */
            c->dead = 1;
            b->st.failed++;
            if (b->phase == PH_SETUP)
                b->connecting--;
            bws_close(&c->ws);
        }
        if (c->slot >= 0)
            c->acked++;
        if (b->scenario == SC_ECHO)
            c->sent_at = 0;
        return;
    }
    if (!c->ready) {
        on_join_reply(c);
        return;
    }
    if (b->scenario == SC_ECHO) {
        if (ref != c->ref || c->sent_at == 0) {
            cfail(c, "unexpected echo reply: %.*s", (int)(len < 200 ? len : 200), s);
            return;
        }
        record(c, uv_hrtime() - c->sent_at);
        c->sent_at = 0;
        if (b->phase == PH_RUN)
            send_echo(c);
    } else if (c->slot >= 0) {
        c->acked++;
        if (b->rate <= 0)
            publisher_fill(c);
    }
}

/* Reads "key":N exactly at *pp and a following comma, and advances *pp. Returns 0 or -1. */
static int take_uint(const char **pp, const char *end, char key, uint64_t *out)
{
    const char *p = *pp;
    if (end - p < 5 || p[0] != '"' || p[1] != key || p[2] != '"' || p[3] != ':')
        return -1;
    p += 4;
    if (*p < '0' || *p > '9')
        return -1;
    uint64_t v = 0;
    while (p < end && *p >= '0' && *p <= '9')
        v = v * 10 + (uint64_t)(*p++ - '0');
    if (p < end && *p == ',')
        p++;
    *out = v;
    *pp = p;
    return 0;
}

/* Reads p, s and t from the object at obj (its '{'): in the order the generator wrote them
 * when the server kept it (Chorus and both peers do), else wherever they are. */
static int read_pst(const char *obj, size_t rest, uint64_t *p, uint64_t *seq, uint64_t *t)
{
    const char *q = obj + 1, *end = obj + rest;
    if (take_uint(&q, end, 'p', p) == 0 && take_uint(&q, end, 's', seq) == 0 &&
        take_uint(&q, end, 't', t) == 0)
        return 0;
    if (SCAN_UINT(obj, rest, "p", p) < 0 || SCAN_UINT(obj, rest, "s", seq) < 0 ||
        SCAN_UINT(obj, rest, "t", t) < 0)
        return -1;
    return 0;
}

static void count_delivery(client_t *c, uint64_t p, uint64_t seq, uint64_t t, uint64_t now);

/* presence: a watched mover's move reached watcher c (its slot from the userId, its seq and
 * send time from the cursor in the state). A change of the server's own with no cursor
 * (a mover that has not moved for --presence-idle goes "idle": true, as in a long setup)
 * is no move: not counted. */
static void on_presence(client_t *c, const char *s, size_t len)
{
    uint64_t now = uv_hrtime(), seq, t;
    int p = bpres_slot(c->b, s, len);
    if (p >= 0 && bpres_watches(c->b, c, p) && !has(s, len, "\"cursor\"") &&
        (has(s, len, "\"idle\":") || has(s, len, "\"typing\":")))
        return;
    if (p < 0 || !bpres_watches(c->b, c, p) || SCAN_UINT(s, len, "s", &seq) < 0 ||
        SCAN_UINT(s, len, "t", &t) < 0) {
        cfail(c, "unexpected presence: %.*s", (int)(len < 200 ? len : 200), s);
        return;
    }
    count_delivery(c, (uint64_t)p, seq, t, now);
}

/* A numbered message reached subscriber c; obj is where its {"p","s","t"} object starts. */
static void on_delivery(client_t *c, const char *s, size_t len, const char *obj)
{
    bench_t *b = c->b;
    uint64_t now = uv_hrtime();
    uint64_t p, seq, t;
    if (obj)
        obj = memchr(obj, '{', len - (size_t)(obj - s)); /* "data":{ -> { */
    size_t rest = obj ? len - (size_t)(obj - s) : 0;
    if (!obj || read_pst(obj, rest, &p, &seq, &t) < 0 || p >= (uint64_t)room_pubs(b) ||
        (int)p == c->slot) {
        cfail(c, "unexpected delivery: %.*s", (int)(len < 200 ? len : 200), s);
        return;
    }
    count_delivery(c, p, seq, t, now);
}

/* Counts delivery seq of publisher slot p, sent at t, received at now. */
static void count_delivery(client_t *c, uint64_t p, uint64_t seq, uint64_t t, uint64_t now)
{
    bench_t *b = c->b;
    /* Only the thread that receives for c writes c->expect; the main loop reads it. */
    uint64_t want = atomic_load_explicit(&c->expect[p], memory_order_relaxed);
    bench_stats_t *st = c->st;
    st_lock(st);
    if (seq == want) {
        atomic_store_explicit(&c->expect[p], want + 1, memory_order_relaxed);
    } else if (seq > want) {
        /* A gap: those never come (order is per sender). Presence is a state, not a
         * stream: the server merges changes held back by --presence-rate, so a skipped
         * move is no loss there. */
        if (!b->watch) st->lost += seq - want;
        atomic_store_explicit(&c->expect[p], seq + 1, memory_order_relaxed);
    } else {
        st->dup++;
    }
    record_locked(st, b->phase, now - t);
    if (b->nports > 1 && c->idx % b->nports != 0) bhist_add(&st->far, now - t);
    st_unlock(st);
}

static void on_msg(bws_t *ws, char *raw, size_t raw_len)
{
    client_t *c = ws->data;
    bench_t *b = c->b;
    char *s;
    size_t len;
    switch (bproto_recv(b->target, ws, raw, raw_len, &s, &len)) {
    case BPROTO_OPEN:
        proto_ready(c);
        return;
    case BPROTO_ERROR:
        cfail(c, "protocol error from the server: %.*s", (int)(raw_len < 200 ? raw_len : 200),
              raw);
        c->dead = 1;
        st_lock(c->st);
        c->st->failed++;
        st_unlock(c->st);
        bws_close(ws);
        return;
    case BPROTO_NONE:
        return;
    default:
        break;
    }
    if (op_is(s, len, "reply")) {
        on_reply(c, s, len);
    } else if (c->sub && b->watch && op_is(s, len, "presence")) {
        on_presence(c, s, len);
    } else if (c->sub && b->scenario == SC_FANOUT && op_is(s, len, "broadcast")) {
        on_delivery(c, s, len, FIND(s, len, "\"data\":{"));
    } else if (c->sub && b->scenario == SC_ROOMS && op_is(s, len, "message")) {
        if (FIND(s, len, "\"type\":\"system\""))
            return; /* joins are stored as system messages too */
        on_delivery(c, s, len, FIND(s, len, "\"metadata\":{"));
    }
    /* participant_joined, presence, publishers hearing each other: not measured */
}

int bench_client_path(bench_t *b, client_t *c, char *path, size_t cap)
{
    auth_claims_t claims;
    memset(&claims, 0, sizeof(claims));
    snprintf(claims.sub, sizeof(claims.sub), "bench-%d", b->id_base + c->idx);
    char *tok = auth_jwt_mint(b->jwt, &claims, (int64_t)time(NULL), 3600);
    if (!tok)
        return -1;
    int r = bproto_path(b->target, tok, path, cap);
    if (b->target == BPROTO_CHORUS_SIO) {
        free(c->token);
        c->token = tok; /* CONNECT's auth carries it */
    } else {
        free(tok);
    }
    return r;
}

static int client_connect(client_t *c, const char *path)
{
    bench_t *b = c->b;
    c->ws.data = c;
    c->ws.on_open = on_open;
    c->ws.on_msg = on_msg;
    c->ws.on_fail = on_fail;
    c->ws.on_closed = on_closed;
    c->ws.tls = b->tls_ctx;
    c->ready = 0;
    c->sent_at = uv_hrtime();
    const struct sockaddr *src = b->src ? (const struct sockaddr *)&b->src[c->idx % b->sources]
                                        : NULL;
    int r = bws_connect(b->loop, &c->ws, (const struct sockaddr *)&b->addrs[c->idx % b->nports],
                        src, path);
    if (r < 0) {
        c->dead = 1;
        b->st.failed++;
        fail_msg(b, "connect: %s", uv_strerror(r));
    }
    return r;
}

static void connect_more(bench_t *b)
{
    while (b->phase == PH_SETUP && b->connecting < CONNECT_PARALLEL && b->next_connect < b->n) {
        client_t *c = &b->cl[b->next_connect++];
        char path[1024];
        if (bench_client_path(b, c, path, sizeof(path)) < 0) {
            fail_msg(b, "%s", "cannot mint a token");
            c->dead = 1;
            b->st.failed++;
            continue;
        }
        b->connecting++;
        if (client_connect(c, path) < 0)
            b->connecting--;
    }
}

/* join-storm: one slot's next connect + authenticate + join (then close, then again). */
static void storm_attempt(client_t *c)
{
    c->busy = 1;
    if (client_connect(c, c->path) < 0)
        c->busy = 0;
}

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

static void on_tick(uv_timer_t *t)
{
    bench_t *b = t->data;
    b->ticks++;
    uint64_t sec_count = b->st.sec_count, errors = b->st.errors, lost = b->st.lost;
    brecv_second(b, &sec_count, &b->st.sec_hist, &errors, &lost);
    double p50 = us(bhist_quantile(&b->st.sec_hist, 0.5));
    double p99 = us(bhist_quantile(&b->st.sec_hist, 0.99));
    unsigned long long sc = (unsigned long long)sec_count, er = (unsigned long long)errors;
    switch (b->scenario) {
    case SC_ECHO:
        fprintf(stderr, "[%2ds] round trips %8llu/s  p50 %7.1f us  p99 %7.1f us  errors %llu\n",
                b->ticks, sc, p50, p99, er);
        break;
    case SC_JOINSTORM:
        fprintf(stderr, "[%2ds] joins %7llu/s  connect->joined p50 %7.1f us  p99 %7.1f us  "
                        "errors %llu\n",
                b->ticks, sc, p50, p99, er);
        break;
    case SC_CONNECTIONS: {
        bench_proc_t now = {0, -1, -1};
        if (b->server_pid > 0)
            bench_proc_pid(b->server_pid, &now);
        fprintf(stderr, "[%2ds] %s %d/%d connections joined  server RSS %ld KiB  errors %llu\n",
                b->ticks, b->phase == PH_SETUP ? "setup:" : "idle: ", b->ready, b->n,
                now.rss_kib, er);
        break;
    }
    default:
        fprintf(stderr,
                "[%2ds] published %7llu/s  deliveries %9llu/s  p50 %7.1f us  p99 %7.1f us  "
                "lost %llu  errors %llu\n",
                b->ticks, (unsigned long long)b->sec_pub, sc, p50, p99,
                (unsigned long long)lost, er);
    }
    b->st.sec_count = b->sec_pub = 0;
    bhist_reset(&b->st.sec_hist);
}

/* Fixed-rate publishing: at each tick every publisher sends what is due by now. */
static void on_pace(uv_poll_t *p, int status, int events)
{
    (void)status;
    (void)events;
    bench_t *b = p->data;
    uint64_t expirations;
    if (read(b->pace_fd, &expirations, sizeof(expirations)) < 0)
        return; /* EAGAIN: a spurious wake-up */
    if (b->phase != PH_RUN)
        return;
    double elapsed = (double)(uv_hrtime() - b->t_start) / 1e9;
    uint64_t due = (uint64_t)(elapsed * b->rate / b->npubs);
    for (int i = 0; i < b->n; i++) {
        client_t *c = &b->cl[i];
        while (c->slot >= 0 && !c->dead && c->seq < due)
            send_pub(c);
    }
}

/* Ticks once per message (1 / --rate), 20 µs at the shortest, on a timerfd: libuv's
 * timers count whole milliseconds and fire up to a millisecond late, so 1 ms ticks came
 * ~1.1 ms apart and every few ticks sent two broadcasts back to back (at --rate 10000,
 * ten each tick), and the second waited behind the first's deliveries: latency made by
 * the generator's bursts, not by the server. Returns 0 or -1. */
static int pace_start(bench_t *b)
{
    uint64_t ns = (uint64_t)(1e9 / b->rate);
    if (ns < 20000)
        ns = 20000;
    b->pace_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (b->pace_fd < 0)
        return -1;
    struct itimerspec its = {
        .it_interval = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)},
        .it_value = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)},
    };
    if (timerfd_settime(b->pace_fd, 0, &its, NULL) < 0 ||
        uv_poll_init(b->loop, &b->pace, b->pace_fd) < 0) {
        close(b->pace_fd);
        b->pace_fd = -1;
        return -1;
    }
    b->pace.data = b;
    return uv_poll_start(&b->pace, UV_READABLE, on_pace);
}

static void pace_stop(bench_t *b)
{
    if (b->pace_fd >= 0)
        uv_poll_stop(&b->pace);
}

/* What subscribers have not seen of what publishers sent: add_lost=0 returns 1 when some
 * delivery from a live publisher to a live subscriber is outstanding (else 0); add_lost=1
 * adds every missing delivery to b->st.lost (the run is over, the threads joined) and returns 0. */
static int outstanding(bench_t *b, int add_lost)
{
    int pubs = room_pubs(b);
    for (int i = 0; i < b->n; i++) {
        client_t *c = &b->cl[i];
        if (!c->sub || (c->dead && !add_lost))
            continue;
        for (int p = 0; p < pubs; p++) {
            client_t *q = pub_client(b, c->room, p);
            uint64_t seen = atomic_load_explicit(&c->expect[p], memory_order_relaxed);
            if (q == c || (q->dead && !add_lost) || seen >= q->seq ||
                (b->watch && !bpres_watches(b, c, p)))
                continue;
            if (!add_lost)
                return 1;
            b->st.lost += q->seq - seen;
        }
    }
    return 0;
}

static int drained(bench_t *b)
{
    if (b->retry_head)
        return 0; /* connections: one closed by the server has not connected again yet */
    for (int i = 0; i < b->n; i++) {
        client_t *c = &b->cl[i];
        if (b->scenario == SC_JOINSTORM && c->busy)
            return 0;
        if (c->dead)
            continue;
        if (b->scenario == SC_CONNECTIONS && !c->ready)
            return 0; /* connected again after a close, its join not answered yet */
        if (b->scenario == SC_ECHO && c->sent_at != 0)
            return 0;
        if (c->slot >= 0 && c->acked < c->seq)
            return 0;
    }
    return !outstanding(b, 0);
}

static void on_check(uv_timer_t *t)
{
    bench_t *b = t->data;
    uint64_t now = uv_hrtime();
    if (b->retry_head && b->phase != PH_DONE)
        retry_due(b, now);
    if (b->phase == PH_SETUP && b->ready < b->n && /* not waiting for its siblings */
        now - b->t_setup > (uint64_t)b->setup_limit_s * 1000000000u) {
        fail_msg(b, "%s", "setup timed out (connect/join)");
        finish(b);
    } else if (b->phase == PH_SETUP && b->st.failed > 0) {
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
    if (b->scenario != SC_CONNECTIONS && (b->st.sec_count > 0 || b->sec_pub > 0 || b->workers))
        on_tick(&b->tick); /* the last second, when its tick has not fired yet */
    uv_timer_stop(&b->tick);
    pace_stop(b);
}

static void start_run(bench_t *b)
{
    b->phase = PH_RUN;
    if (b->scenario != SC_JOINSTORM)
        fprintf(stderr, "chorus-bench: %d connections ready in %.2f s, running %.0f s\n", b->n,
                (double)(uv_hrtime() - b->t_setup) / 1e9, b->duration);
    sample_procs(b, &b->self0, &b->srv0);
    b->t_start = uv_hrtime();
    if (b->scenario != SC_CONNECTIONS) { /* connections keeps its setup latencies */
        bhist_reset(&b->st.hist);
        bhist_reset(&b->st.sec_hist);
        bhist_reset(&b->st.far);
    }
    if (b->scenario != SC_CONNECTIONS) /* connections' tick runs since setup */
        uv_timer_start(&b->tick, on_tick, 1000, 1000);
    uv_timer_start(&b->stop, on_stop, (uint64_t)(b->duration * 1000), 0);
    for (int i = 0; i < b->n; i++) {
        client_t *c = &b->cl[i];
        if (b->scenario == SC_ECHO)
            send_echo(c);
        else if (b->scenario == SC_JOINSTORM)
            storm_attempt(c);
        else if (c->slot >= 0 && b->rate <= 0)
            publisher_fill(c);
    }
    if (b->rate > 0 && pace_start(b) < 0) {
        fail_msg(b, "%s", "cannot start the --rate timer (timerfd)");
        finish(b);
    }
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
    for (client_t *c = b->retry_head; c; c = c->retry_next) {
        b->st.failed++; /* closed by the server, and not back before the end */
        b->st.errors++;
    }
    if (b->retry_head)
        fprintf(stderr, "chorus-bench: connections closed by the server were not back by the end\n");
    b->retry_head = NULL;
    if (b->go_on)
        uv_poll_stop(&b->go); /* a child that failed while it waited for the start */
    brecv_stop(b); /* the threads' connections close; their counts join b->st */
    if (b->moved_on)
        uv_close((uv_handle_t *)&b->moved, NULL);
    b->moved_on = 0;
    b->t_drain_end = uv_hrtime();
    if (b->t_start != 0 && (b->scenario == SC_FANOUT || b->scenario == SC_ROOMS)) {
        outstanding(b, 1); /* whatever a subscriber has not seen by now is lost */
        for (int i = 0; i < b->n; i++) {
            client_t *c = &b->cl[i];
            if (c->slot >= 0 && c->acked < c->seq)
                fail_msg(b, "publisher %d: %llu messages unacknowledged", i,
                         (unsigned long long)(c->seq - c->acked));
        }
    }
    for (int i = 0; i < b->n; i++) {
        client_t *c = &b->cl[i];
        if (b->scenario == SC_ECHO && c->sent_at != 0 && !c->dead)
            fail_msg(b, "%s", "an echo was never answered");
        if (b->scenario == SC_JOINSTORM && c->busy && !c->dead)
            fail_msg(b, "%s", "a join-storm attempt never completed");
    }
    uv_timer_stop(&b->tick);
    uv_timer_stop(&b->stop);
    uv_timer_stop(&b->check);
    pace_stop(b);
    for (int i = 0; i < b->n; i++) {
        b->cl[i].dead = 1; /* no new join-storm attempt from on_closed */
        bws_close(&b->cl[i].ws);
    }
}

int main(int argc, char **argv)
{
    static bench_t bench;
    bench_t *b = &bench;
    if (argc >= 2 && strcmp(argv[1], "jitter") == 0)
        return bench_jitter(argc, argv);
    /* A write to a connection the server has reset (a pong after it gave up on us) is an
     * error to count, not a signal that kills the process: without this a --procs child
     * died silently ("gave no result") on a loaded machine. Inherited by the children. */
    signal(SIGPIPE, SIG_IGN);
    if (bpres_args(b, &argc, argv) < 0 || bench_parse_args(b, argc, argv) < 0) {
        bpres_usage(stderr);
        bench_usage(stderr);
        return 2;
    }
    for (int i = 0; i < b->nports; i++)
        if (bench_loopback_addr(b->host, b->ports[i], &b->addrs[i]) < 0) {
            fprintf(stderr, "chorus-bench: %s:%d is not a loopback address: refusing\n",
                    b->host, b->ports[i]);
            return 2;
        }
    b->addr = b->addrs[0];
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
    if (b->tls) {
        b->tls_ctx = SSL_CTX_new(TLS_client_method());
        if (!b->tls_ctx) {
            fprintf(stderr, "chorus-bench: cannot make a TLS context\n");
            return 1;
        }
        SSL_CTX_set_mode(b->tls_ctx, SSL_MODE_RELEASE_BUFFERS);
        SSL_CTX_set_verify(b->tls_ctx, SSL_VERIFY_NONE, NULL); /* a loopback benchmark */
    }
    b->pad = ch_malloc((size_t)b->size + 1);
    memset(b->pad, 'x', (size_t)b->size);
    b->pad[b->size] = '\0';
    b->srv_ok = 1;
    b->pace_fd = -1;
    if (b->procs > 1) { /* before the loop: libuv's state is not for two processes */
        if (bench_one_room(b) < 0) return 1;
        int child = bench_procs_fork(b);
        if (child == 0) { /* the parent, with the children's sum */
            bench_report(b);
            free(b->pad);
            auth_jwt_free(b->jwt);
            SSL_CTX_free(b->tls_ctx);
            return bench_ok(b) ? 0 : 1;
        }
        if (child < 0) return 1;
    }
    b->loop = uv_default_loop();
    b->st.shared = 0; /* the main loop's own */
    if (b->threads > 0 && b->scenario == SC_FANOUT) {
        if (uv_async_init(b->loop, &b->moved, on_moved) < 0) {
            fprintf(stderr, "chorus-bench: cannot set up the receiving threads\n");
            return 1;
        }
        b->moved.data = b;
        b->moved_on = 1;
    }

    int rc = 1;
    if (bench_setup(b) == 0) {
        uv_timer_init(b->loop, &b->tick);
        uv_timer_init(b->loop, &b->stop);
        uv_timer_init(b->loop, &b->check);
        b->tick.data = b->stop.data = b->check.data = b;
        sample_procs(b, &b->self_pre, &b->srv_pre); /* connections: memory before */
        b->t_setup = uv_hrtime();
        uv_timer_start(&b->check, on_check, 10, 10);
        if (b->scenario == SC_CONNECTIONS)
            uv_timer_start(&b->tick, on_tick, 1000, 1000); /* progress while connecting */
        if (b->scenario == SC_JOINSTORM)
            procs_start_run(b);
        else
            connect_more(b);
        uv_run(b->loop, UV_RUN_DEFAULT);
        /* finish() closed the connections and stopped the timers; close the timers too. */
        uv_close((uv_handle_t *)&b->tick, NULL);
        uv_close((uv_handle_t *)&b->stop, NULL);
        uv_close((uv_handle_t *)&b->check, NULL);
        if (b->pace_fd >= 0)
            uv_close((uv_handle_t *)&b->pace, NULL);
        if (b->go_on)
            uv_close((uv_handle_t *)&b->go, NULL);
        uv_run(b->loop, UV_RUN_DEFAULT);
        if (b->pace_fd >= 0)
            close(b->pace_fd);
        if (b->res_fd >= 0) { /* a child of --procs: the parent reports */
            rc = bench_procs_send(b) == 0 ? 0 : 1;
        } else {
            bench_report(b);
            rc = bench_ok(b) ? 0 : 1;
        }
    }
    for (int i = 0; b->cl && i < b->n; i++) {
        ws_parser_free(&b->cl[i].ws.parser);
        free((void *)b->cl[i].expect);
        free(b->cl[i].path);
        free(b->cl[i].token);
    }
    free(b->cl);
    free(b->rooms);
    free(b->src);
    free(b->pad);
    auth_jwt_free(b->jwt);
    SSL_CTX_free(b->tls_ctx);
    uv_loop_close(b->loop);
    return rc;
}
