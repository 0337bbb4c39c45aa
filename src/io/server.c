/* server.c: listener, signals, connection registry, per-iteration flush, shutdown. */
#include "io/server.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <unistd.h>

#include <sodium.h>

#include "io/conn.h"
#include "util/clock.h"
#include "io/server_admin.h"
#include "util/mem.h"

static void on_connection(uv_stream_t *listener, int status)
{
    server_t *s = listener->data;
    if (status < 0) {
        log_warn(s->log, "accept failed: %s", uv_strerror(status));
        return;
    }
    conn_accept(s);
}

static void on_spin(uv_idle_t *h);

/* Keeps the poll from blocking while work waits for the next iteration (deferred input,
 * output past the flush budget) or for this one's check (the output run_deferred made
 * in prepare, after prepare's flush: a poll that blocked would hold those replies until
 * the next event or timer), and lets it block again once none does. */
static void spin_update(server_t *s)
{
    if (s->deferred.len || s->flush_carry || s->flush_list)
        uv_idle_start(&s->spin, on_spin);
    else
        uv_idle_stop(&s->spin);
}

static void on_spin(uv_idle_t *h)
{
    spin_update(h->data); /* the work itself runs from prepare and check */
}

/* Runs the flush list, up to SERVER_FLUSH_BUDGET bytes: first what the last flush left
 * (flush_carry), then every connection that got output since; what the budget leaves is
 * the next flush's carry. All of it in one io_uring submission when the ring is there,
 * else one writev each. Called from prepare (before the loop blocks, for output made by
 * timers) and from check (right after I/O callbacks). */
static void flush_all(server_t *s)
{
    size_t budget = SERVER_FLUSH_BUDGET;
    if (s->flush_carry) s->flush_carry = conn_flush_list(s->flush_carry, s->uring, &budget);
    if (!s->flush_carry && s->flush_list) {
        conn_t *c = s->flush_list;
        s->flush_list = NULL;
        s->flush_carry = conn_flush_list(c, s->uring, &budget);
    }
    if (s->flush_carry) s->stat.flush_deferred++;
    if (s->uring && uring_broken(s->uring)) {
        log_error(s->log, "io_uring failed; writing with writev from now on");
        uring_free(s->uring);
        s->uring = NULL;
    }
    spin_update(s);
}

int server_input_spent(server_t *s)
{
    return loop_budget_spent(&s->input_budget, uv_hrtime());
}

void server_defer_input(server_t *s, conn_t *c)
{
    CH_ASSERT(!c->input_deferred);
    c->input_deferred = 1;
    s->stat.input_deferred++;
    ptr_ring_push(&s->deferred, c);
    spin_update(s);
}

void server_defer_cancel(server_t *s, conn_t *c)
{
    if (!c->input_deferred) return;
    c->input_deferred = 0;
    ptr_ring_forget(&s->deferred, c);
}

/* The input that waited for this iteration goes first, oldest first, within the same
 * budget as what the poll reads next: a connection that spends the rest of it queues
 * itself again behind the others, and the ones not reached keep their place. Only those
 * queued before this run are taken. */
static void run_deferred(server_t *s)
{
    loop_budget_reset(&s->input_budget);
    for (size_t n = s->deferred.len; n > 0 && s->deferred.len; n--) {
        if (server_input_spent(s)) break;
        conn_t *c = ptr_ring_pop(&s->deferred);
        if (!c) continue; /* it closed meanwhile */
        c->input_deferred = 0;
        conn_input_resume(c);
    }
    spin_update(s);
}

/* Records the work of the loop iteration that ends here, just before the next poll: the
 * time since the previous mark less the time the loop spent blocked in the poll in
 * between (libuv's idle time), i.e. I/O callbacks, check, close, timers and idle
 * callbacks and this flush. The first mark only starts the count. */
static void loop_mark(server_t *s)
{
    uint64_t now = uv_hrtime();
    uint64_t idle = uv_metrics_idle_time(s->loop);
    if (s->loop_mark_ns) {
        uint64_t wall = now - s->loop_mark_ns, blocked = idle - s->loop_idle_ns;
        loop_stat_add(&s->loop_stat, wall > blocked ? wall - blocked : 0);
    }
    s->loop_mark_ns = now;
    s->loop_idle_ns = idle;
}

static void on_prepare(uv_prepare_t *h)
{
    flush_all(h->data);
    loop_mark(h->data);
    /* A new iteration's input starts with what waited; check flushes its output. */
    run_deferred(h->data);
}

static void on_check(uv_check_t *h)
{
    flush_all(h->data);
}

void server_want_flush(server_t *s, conn_t *c)
{
    if (c->flush_listed) return;
    c->flush_listed = 1;
    c->flush_next = s->flush_list;
    s->flush_list = c;
}

/* Resumes the HTTP connections whose output drained. Runs from the idle phase, so an
 * API call made for a held-back request never runs inside a write callback. */
static void on_resume(uv_idle_t *h)
{
    server_t *s = h->data;
    conn_t *c = s->resume_list;
    s->resume_list = NULL;
    uv_idle_stop(&s->resume);
    while (c) {
        conn_t *next = c->resume_next;
        c->resume_next = NULL;
        c->resume_listed = 0;
        conn_http_resume(c);
        c = next;
    }
}

void server_want_resume(server_t *s, conn_t *c)
{
    if (c->resume_listed || c->closing) return;
    c->resume_listed = 1;
    c->resume_next = s->resume_list;
    s->resume_list = c;
    uv_idle_start(&s->resume, on_resume);
}

/* Closes the oldest queued connections, SERVER_CLOSE_BUDGET of them. One still on the
 * flush list (its output left for the next flush by the budget) waits behind the others:
 * that flush unlinks it, and its memory must outlive the list. */
static void on_closer(uv_idle_t *h)
{
    server_t *s = h->data;
    for (int n = 0; n < SERVER_CLOSE_BUDGET && s->closeq.len; n++) {
        conn_t *c = ptr_ring_pop(&s->closeq);
        if (c->flush_listed)
            ptr_ring_push(&s->closeq, c);
        else
            conn_close_handles(c);
    }
    if (!s->closeq.len) uv_idle_stop(h);
}

void server_close_later(server_t *s, conn_t *c)
{
    ptr_ring_push(&s->closeq, c);
    uv_idle_start(&s->closer, on_closer);
}

static void on_redirect_connection(uv_stream_t *listener, int status)
{
    server_t *s = listener->data;
    if (status < 0) {
        log_warn(s->log, "accept failed: %s", uv_strerror(status));
        return;
    }
    conn_accept_redirect(s);
}

static void on_metrics_connection(uv_stream_t *listener, int status)
{
    server_t *s = listener->data;
    if (status < 0) {
        log_warn(s->log, "accept failed: %s", uv_strerror(status));
        return;
    }
    conn_accept_metrics(s);
}

int server_reload_prepare(server_t *s, SSL_CTX **tls)
{
    *tls = NULL;
    if (!s->tls_ctx || !*s->cfg->tls_cert) return 0;
    return tls_ctx_new(s->cfg, s->tls_ctx, s->log, tls);
}

void server_reload_commit(server_t *s, SSL_CTX *tls)
{
    s->handshake.origins = (const char *const *)s->cfg->origins;
    s->handshake.norigins = s->cfg->norigins;
    if (!tls) return;
    SSL_CTX_free(s->tls_ctx); /* connections made with it hold their own reference */
    s->tls_ctx = tls;
}

static void on_sighup(uv_signal_t *h, int signum)
{
    (void)signum;
    server_t *s = h->data;
    if (s->stopping) return;
    log_info(s->log, "SIGHUP: reloading");
    if (s->reload) {
        s->reload(s->reload_ud);
        return;
    }
    SSL_CTX *tls;
    if (server_reload_prepare(s, &tls) != 0) {
        log_error(s->log, "reload failed, nothing changed: the TLS certificate or key did not "
                          "load (the one in use stays)");
        return;
    }
    server_reload_commit(s, tls);
}

static void on_signal(uv_signal_t *h, int signum)
{
    server_t *s = h->data;
    if (s->stopping) {
        log_warn(s->log, "second signal %d: closing everything now", signum);
        for (conn_t *c = s->conns; c; c = c->next) conn_close(c);
        return;
    }
    log_info(s->log, "signal %d: shutting down", signum);
    server_stop(s);
}

static void close_server_handles(server_t *s)
{
    if (s->handles_closed) return;
    s->handles_closed = 1;
    if (!uv_is_closing((uv_handle_t *)&s->listener)) uv_close((uv_handle_t *)&s->listener, NULL);
    uv_close((uv_handle_t *)&s->sigint, NULL);
    uv_close((uv_handle_t *)&s->sigterm, NULL);
    uv_close((uv_handle_t *)&s->sighup, NULL);
    uv_close((uv_handle_t *)&s->tls_pump, NULL);
    if (s->has_redirect && !uv_is_closing((uv_handle_t *)&s->redirect))
        uv_close((uv_handle_t *)&s->redirect, NULL);
    if (s->has_metrics && !uv_is_closing((uv_handle_t *)&s->metrics))
        uv_close((uv_handle_t *)&s->metrics, NULL);
    uv_close((uv_handle_t *)&s->prepare, NULL);
    uv_close((uv_handle_t *)&s->check, NULL);
    uv_close((uv_handle_t *)&s->resume, NULL);
    uv_close((uv_handle_t *)&s->closer, NULL);
    uv_close((uv_handle_t *)&s->spin, NULL);
    uv_close((uv_handle_t *)&s->shutdown_timer, NULL);
    uv_close((uv_handle_t *)&s->conn_timer, NULL);
    uv_close((uv_handle_t *)&s->heap_timer, NULL);
    app_close(s->app);
}

/* The trim itself, on a thread of libuv's pool: it walks the heap (17 ms after 4,000
 * joins on this VM), which the loop thread would otherwise spend in one iteration; the
 * loop waits for it only if it allocates meanwhile (glibc locks the arena it trims). */
static void heap_trim_work(uv_work_t *w)
{
    (void)w;
    ch_mem_trim();
}

static void heap_trim_after(uv_work_t *w, int status)
{
    server_t *s = w->data;
    uint64_t after = ch_mem_rss();
    heap_trim_done(&s->heap_trim, after);
    log_debug(s->log, "heap trimmed after a burst: %" PRIu64 " -> %" PRIu64 " KiB (%s)",
              s->heap_before >> 10, after >> 10, status == 0 ? "done" : uv_strerror(status));
}

/* Requests received so far (heap_trim.h's activity): WebSocket text and binary messages
 * (a fragmented one counted at its first frame), and HTTP requests. */
static uint64_t requests_in(const server_t *s)
{
    return s->stat.ws_in[WS_OP_TEXT] + s->stat.ws_in[WS_OP_BINARY] + s->stat.http_requests;
}

/* Gives the free heap back once a burst is over (heap_trim.h). A setup of 19,000
 * connections into rooms of 100 peaks at about twice the memory it keeps: the events each
 * join queued on the others are freed, but glibc keeps the pages (docs/benchmarks.md). */
static void on_heap(uv_timer_t *t)
{
    server_t *s = t->data;
    uint64_t rss = ch_mem_rss();
    /* What the rooms let go of outside a burst: recent messages no join used lately. */
    heap_trim_freed(&s->heap_trim, s->app->rooms_ready ? s->app->rooms.recent_freed : 0);
    if (s->stopping || !heap_trim_due(&s->heap_trim, rss, requests_in(s))) return;
    /* The burst's output arrays and frames were slab slots: their empty pages go too. */
    slab_trim(s->out_slab);
    slab_trim(s->app->proto.frame_slab);
    s->heap_trim.running = 1;
    s->heap_before = rss;
    s->heap_work.data = s;
    if (uv_queue_work(s->loop, &s->heap_work, heap_trim_work, heap_trim_after) != 0)
        heap_trim_done(&s->heap_trim, rss);
}

static void on_shutdown_timeout(uv_timer_t *t)
{
    server_t *s = t->data;
    log_warn(s->log, "shutdown timeout: dropping %zu connection(s)", s->nconns);
    for (conn_t *c = s->conns; c; c = c->next) conn_close(c);
}

void server_stop(server_t *s)
{
    if (s->stopping) return;
    s->stopping = 1;
    uv_close((uv_handle_t *)&s->listener, NULL);
    if (s->has_redirect) uv_close((uv_handle_t *)&s->redirect, NULL);
    if (s->has_metrics) uv_close((uv_handle_t *)&s->metrics, NULL);
    conn_sio_poll_stop(s);
    for (conn_t *c = s->conns; c; c = c->next) {
        if (c->kind == CONN_WS) conn_ws_close(c, WS_CLOSE_GOING_AWAY, "server shutting down");
        else if (!conn_http_in_api(c))
            conn_finish(c, CONN_LINGER_MS);
        /* else: the answer on its way goes out with "Connection: close" */
    }
    if (s->nconns == 0) {
        close_server_handles(s);
        return;
    }
    uv_timer_start(&s->shutdown_timer, on_shutdown_timeout, s->cfg->shutdown_timeout, 0);
}

int server_ip_acquire(server_t *s, conn_t *c, const struct sockaddr *sa)
{
    const chorus_config_t *cfg = s->cfg;
    net_ip_t ip;
    if (cfg->max_connections_per_ip == 0 || net_ip_from_sockaddr(sa, &ip) != 0) return 0;
    /* A trusted proxy speaks for many clients: its connections are not counted here. */
    if (net_cidr_list_match(cfg->trusted_proxies, cfg->ntrusted_proxies, &ip)) return 0;
    char key[NET_IP_KEY_MAX];
    if (net_ip_group_key(&ip, (unsigned)cfg->max_connections_ipv6_prefix, key, sizeof(key)))
        return 0;
    server_ip_t *e = strmap_get(&s->per_ip, key);
    if (e && e->count >= cfg->max_connections_per_ip) return -1;
    if (!e) {
        e = ch_calloc(1, sizeof(*e));
        memcpy(e->key, key, sizeof(key));
        strmap_put(&s->per_ip, e->key, e);
    }
    e->count++;
    c->per_ip = e;
    return 0;
}

/* Uncounts c from its address; the entry goes with its last connection. */
static void ip_release(server_t *s, conn_t *c)
{
    server_ip_t *e = c->per_ip;
    if (!e) return;
    c->per_ip = NULL;
    if (--e->count > 0) return;
    strmap_del(&s->per_ip, e->key);
    free(e);
}

int server_session_acquire(server_t *s, server_ip_t *e)
{
    const chorus_config_t *cfg = s->cfg;
    if (s->nconns + s->nsessions >= cfg->max_connections) return -1;
    if (e && cfg->max_connections_per_ip && e->count >= cfg->max_connections_per_ip) return -1;
    if (e) e->count++;
    s->nsessions++;
    return 0;
}

void server_session_release(server_t *s, server_ip_t *e)
{
    CH_ASSERT(s->nsessions > 0);
    s->nsessions--;
    if (!e || --e->count > 0) return;
    strmap_del(&s->per_ip, e->key);
    free(e);
}

void server_resume_cancel(server_t *s, conn_t *c)
{
    if (!c->resume_listed) return; /* rare: closed while waiting for the idle phase */
    conn_t **pp = &s->resume_list;
    while (*pp != c)
        pp = &(*pp)->resume_next;
    *pp = c->resume_next;
    c->resume_next = NULL;
    c->resume_listed = 0;
}

void server_conn_gone(server_t *s, conn_t *c)
{
    ip_release(s, c);
    server_resume_cancel(s, c);
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    s->nconns--;
    if (s->stopping && s->nconns == 0) close_server_handles(s);
}

const char *server_http_date(server_t *s)
{
    time_t now = time(NULL);
    if (now != s->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(s->date, sizeof(s->date), "%a, %d %b %Y %H:%M:%S GMT", &tm);
        s->date_sec = now;
    }
    return s->date;
}

/* --reuse-port: gives l a socket of family with SO_REUSEPORT set before the bind, so
 * several processes listening on one port share its connections (the kernel spreads
 * them by address). libuv before 1.49 has no flag for it. Returns 0 or a libuv code. */
static int reuse_port_socket(uv_tcp_t *l, int family)
{
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return uv_translate_sys_error(errno);
    int one = 1, rc = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0)
        rc = uv_translate_sys_error(errno);
    if (rc == 0) rc = uv_tcp_open(l, fd);
    if (rc != 0) close(fd);
    return rc;
}

/* Binds and listens; writes the bound address ("127.0.0.1:8080", "[::1]:8080") into
 * name, which is how a port-0 listener learns its port. */
static int bind_listener(server_t *s, uv_tcp_t *l, const char *lhost, int lport,
                         uv_connection_cb cb, char *name, size_t cap)
{
    struct sockaddr_storage addr;
    int rc = uv_ip4_addr(lhost, lport, (struct sockaddr_in *)&addr);
    if (rc != 0) rc = uv_ip6_addr(lhost, lport, (struct sockaddr_in6 *)&addr);
    if (rc != 0) {
        log_error(s->log, "listen address '%s' is not a numeric IPv4 or IPv6 address", lhost);
        return rc;
    }
    if (s->cfg->reuse_port) rc = reuse_port_socket(l, addr.ss_family);
    if (rc == 0) rc = uv_tcp_bind(l, (struct sockaddr *)&addr, 0);
    /* On Linux an accepted socket inherits TCP_NODELAY from its listener: set once here,
     * it saves a setsockopt per connection (conn.c accept_from). */
    if (rc == 0) rc = uv_tcp_nodelay(l, 1);
    if (rc == 0) rc = uv_listen((uv_stream_t *)l, 1024, cb);
    if (rc != 0) {
        log_error(s->log, "cannot listen on %s:%d: %s", lhost, lport, uv_strerror(rc));
        return rc;
    }
    struct sockaddr_storage bound;
    int len = sizeof(bound);
    char host[64] = "?";
    int port = 0;
    uv_tcp_getsockname(l, (struct sockaddr *)&bound, &len);
    if (bound.ss_family == AF_INET6) {
        uv_ip6_name((struct sockaddr_in6 *)&bound, host, sizeof(host));
        port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
        snprintf(name, cap, "[%s]:%d", host, port);
    } else {
        uv_ip4_name((struct sockaddr_in *)&bound, host, sizeof(host));
        port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
        snprintf(name, cap, "%s:%d", host, port);
    }
    if (l == &s->listener) s->port = port;
    return 0;
}

/* A revocation took effect: close sub's WebSocket connections and Socket.IO polling
 * sessions whose token it refuses. */
static void on_revoked(void *ud, const char *sub)
{
    server_t *s = ud;
    for (conn_t *c = s->conns; c; c = c->next) {
        if (c->kind != CONN_WS || !c->pc.authed || strcmp(c->pc.user.sub, sub) != 0) continue;
        auth_claims_t claims;
        proto_user_claims(&c->pc.user, &claims);
        if (revoke_check(s->app->api.revoke, &claims) != 0)
            c->pc.tr->close(&c->pc, WS_CLOSE_POLICY, "token revoked");
    }
    conn_sio_poll_revoked(s, sub);
}

/* api_disconnect_user: closes every connection of sub (WebSocket and Socket.IO). */
static uint32_t on_disconnect(void *ud, const char *sub, int code, const char *reason)
{
    server_t *s = ud;
    uint32_t n = 0;
    for (conn_t *c = s->conns; c; c = c->next) {
        if (c->kind != CONN_WS || !c->pc.authed || c->closing || c->close_sent ||
            strcmp(c->pc.user.sub, sub) != 0)
            continue;
        c->pc.tr->close(&c->pc, code, reason);
        n++;
    }
    return n + conn_sio_poll_disconnect(s, sub, reason);
}

int server_start(server_t *s, uv_loop_t *loop, const chorus_config_t *cfg, log_t *log,
                 app_t *app)
{
    memset(s, 0, sizeof(*s));
    s->loop = loop;
    s->cfg = cfg;
    s->log = log;
    s->app = app;
    s->date_sec = -1;
    s->stat.start_unix_ms = clock_unix_ms();
    ws_parser_init(&s->ws_rest, cfg->ws_max_message, 1);
    uint64_t seed;
    randombytes_buf(&seed, sizeof(seed));
    randombytes_buf(&s->boot_id, sizeof(s->boot_id));
    strmap_init(&s->per_ip, seed);
    strmap_init(&s->sio_sessions, seed ^ 0x9e3779b97f4a7c15ull);

    char real[PATH_MAX];
    if (realpath(cfg->web_dir, real)) {
        s->web_root = ch_strdup(real);
    } else {
        log_warn(log, "web directory '%s' not found: static files are disabled",
                 cfg->web_dir);
    }
    s->handshake.origins = (const char *const *)cfg->origins;
    s->handshake.norigins = cfg->norigins;
    s->handshake.subprotocol = "chorus.v1";
    s->handshake.public_url = cfg->public_url;

    /* Signal handlers go in before the listener exists: once the "listening" line is out,
     * a SIGTERM must already mean a clean stop. */
    uv_tcp_init(loop, &s->listener);
    s->listener.data = s;
    uv_signal_init(loop, &s->sigint);
    uv_signal_init(loop, &s->sigterm);
    s->sigint.data = s->sigterm.data = s;
    uv_signal_start(&s->sigint, on_signal, SIGINT);
    uv_signal_start(&s->sigterm, on_signal, SIGTERM);
    uv_signal_init(loop, &s->sighup);
    s->sighup.data = s;
    uv_signal_start(&s->sighup, on_sighup, SIGHUP);
    uv_idle_init(loop, &s->tls_pump);
    s->tls_pump.data = s;
    /* The loop's time blocked in the poll, which loop_mark takes from each iteration. */
    uv_loop_configure(loop, UV_METRICS_IDLE_TIME);
    uv_prepare_init(loop, &s->prepare);
    uv_check_init(loop, &s->check);
    s->prepare.data = s->check.data = s;
    uv_prepare_start(&s->prepare, on_prepare);
    uv_check_start(&s->check, on_check);
    /* Neither keeps the loop alive by itself. */
    uv_unref((uv_handle_t *)&s->prepare);
    uv_unref((uv_handle_t *)&s->check);
    uv_idle_init(loop, &s->resume);
    s->resume.data = s;
    uv_idle_init(loop, &s->closer);
    s->closer.data = s;
    uv_idle_init(loop, &s->spin);
    s->spin.data = s;
    s->input_budget.limit_ns = SERVER_INPUT_BUDGET_NS;
    uv_timer_init(loop, &s->shutdown_timer);
    s->shutdown_timer.data = s;
    conn_timers_init(s);
    s->conn_slab = slab_new(sizeof(conn_t), sizeof(conn_t) + conn_tls_size());
    s->out_slab = slab_new(OUTQ_SLAB_BYTES, OUTQ_SLAB_MAX_BYTES);
    heap_trim_init(&s->heap_trim, ch_mem_rss(), requests_in(s));
    uv_timer_init(loop, &s->heap_timer);
    s->heap_timer.data = s;
    uv_timer_start(&s->heap_timer, on_heap, HEAP_TRIM_EVERY_MS, HEAP_TRIM_EVERY_MS);
    uv_unref((uv_handle_t *)&s->heap_timer); /* does not keep the loop alive */
    if (cfg->io_uring) {
        s->uring = uring_new(SERVER_URING_DEPTH);
        if (s->uring)
            log_info(log, "sending with io_uring, up to %d sends a submission",
                     SERVER_URING_DEPTH);
        else
            log_info(log, "io_uring is not available (%s): one writev per connection",
                     strerror(errno));
    }
    app->api.revoked = on_revoked;
    app->api.revoked_ud = s;
    app->api.admin_conns = server_admin_connections;
    app->api.admin_conns_ud = s;
    app->api.disconnect = on_disconnect;
    app->api.disconnect_ud = s;

    char name[96];
    int rc = 0;
    if (*cfg->tls_cert && tls_ctx_new(cfg, NULL, log, &s->tls_ctx) != 0) rc = UV_EINVAL;
    if (rc == 0)
        rc = bind_listener(s, &s->listener, cfg->listen_host, cfg->listen_port, on_connection,
                           name, sizeof(name));
    if (rc == 0 && cfg->tls_redirect_host) {
        char rname[96];
        uv_tcp_init(loop, &s->redirect);
        s->redirect.data = s;
        s->has_redirect = 1;
        rc = bind_listener(s, &s->redirect, cfg->tls_redirect_host, cfg->tls_redirect_port,
                           on_redirect_connection, rname, sizeof(rname));
        if (rc == 0) log_info(log, "redirecting plain HTTP on %s to https", rname);
    }
    if (rc == 0 && cfg->metrics_listen_host) {
        char mname[96];
        uv_tcp_init(loop, &s->metrics);
        s->metrics.data = s;
        s->has_metrics = 1;
        rc = bind_listener(s, &s->metrics, cfg->metrics_listen_host, cfg->metrics_listen_port,
                           on_metrics_connection, mname, sizeof(mname));
        if (rc == 0) log_info(log, "serving /metrics on %s (plain HTTP)", mname);
    }
    if (rc != 0) {
        /* Every handle must finish closing before the caller frees s. */
        close_server_handles(s);
        uv_run(loop, UV_RUN_DEFAULT);
        return rc;
    }
    log_info(log, "listening on %s%s", name, s->tls_ctx ? " (TLS)" : "");
    return 0;
}

void server_free(server_t *s)
{
    CH_ASSERT(s->nconns == 0);
    if (s->uring) {
        uint64_t subs, sends;
        uring_stats(s->uring, &subs, &sends);
        log_info(s->log, "io_uring: %" PRIu64 " sends in %" PRIu64 " submissions", sends, subs);
    }
    uring_free(s->uring);
    s->uring = NULL;
    SSL_CTX_free(s->tls_ctx);
    s->tls_ctx = NULL;
    CH_ASSERT(s->per_ip.count == 0);
    strmap_free(&s->per_ip);
    CH_ASSERT(s->sio_sessions.count == 0);
    strmap_free(&s->sio_sessions);
    free(s->web_root);
    s->web_root = NULL;
    ws_parser_free(&s->ws_rest);
    conn_timers_free(s);
    slab_drop(s->conn_slab);
    s->conn_slab = NULL;
    slab_drop(s->out_slab);
    s->out_slab = NULL;
    CH_ASSERT(s->closeq.len == 0);
    ptr_ring_free(&s->closeq);
    ptr_ring_free(&s->deferred); /* forgotten entries only: every connection closed */
}
