/* bus_redis.c: the cluster bus over Redis (bus_redis.h): the node's id, its heartbeat and
 * the live nodes, on hiredis's asynchronous API attached to the libuv loop. */
#include "bus/bus_redis.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "auth/auth_random.h"
#include "bus/bus_url.h"
#include "util/mem.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define CONNECT_TIMEOUT_S 3
#define TOKEN_BYTES 16
#define CLOSE_DEADLINE_MS 1000
#define CLAIM_GRACE_MS 30000

/* Renews the node's key while it holds the token, adds the node to the set and returns the
 * live nodes (dropping the gone ones from the set); -1 when another node holds the key.
 * KEYS: the node's key, the set; ARGV: token, ttl (ms), node id, the node keys' prefix. */
static const char heartbeat_lua[] =
    "local v = redis.call('GET', KEYS[1]) "
    "if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) "
    "elseif v then return -1 "
    "else redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) end "
    "redis.call('SADD', KEYS[2], ARGV[3]) "
    "local live = {} "
    "for _, m in ipairs(redis.call('SMEMBERS', KEYS[2])) do "
    "  if redis.call('EXISTS', ARGV[4] .. m) == 1 then live[#live + 1] = tonumber(m) "
    "  else redis.call('SREM', KEYS[2], m) end "
    "end "
    "return live";

/* Deletes the node's key when it still holds the token (a clean stop). */
static const char release_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) "
    "redis.call('SREM', KEYS[2], ARGV[2]) end return 1";

typedef struct {
    bus_t base;
    uv_loop_t *loop; /* borrowed */
    log_t *log;      /* borrowed */
    bus_url_t url;
    uint64_t ttl_ms;
    char token[2 * TOKEN_BYTES + 1];
    char key[64];          /* chorus:node:<id> */
    redisAsyncContext *ac; /* NULL while disconnected */
    int connected;         /* ac's connect callback said yes */
    int owned;             /* the last heartbeat found the key ours */
    int closing;
    uv_timer_t tick;     /* heartbeats and reconnects */
    uint64_t backoff_ms; /* the next reconnect's wait; 0 when connected */
    uint64_t next_try;   /* loop time of the next reconnect */
    uint64_t since;      /* loop time the connect or the unanswered heartbeat started */
    int beat_pending;    /* a heartbeat is unanswered */
    uint32_t *live;      /* owned: the live nodes, ascending */
    size_t nlive, live_cap;
} redis_bus_t;

static void on_connect(const redisAsyncContext *ac, int status);
static void on_disconnect(const redisAsyncContext *ac, int status);

/* ---------- connection ---------- */

/* The connection went (ac is freed by hiredis after the callback that calls this). */
static void lost(redis_bus_t *r, const char *why)
{
    if (r->connected && !r->closing)
        log_warn(r->log, "cluster: Redis connection lost (%s); reconnecting", why);
    else if (!r->closing)
        log_debug(r->log, "cluster: cannot reach Redis (%s); retrying", why);
    r->ac = NULL;
    r->connected = 0;
    r->beat_pending = 0;
    r->backoff_ms = r->backoff_ms ? r->backoff_ms : BACKOFF_MIN_MS;
    r->next_try = uv_now(r->loop) + r->backoff_ms;
}

static void on_select(redisAsyncContext *ac, void *reply, void *ud)
{
    (void)ac;
    (void)ud;
    (void)reply; /* a refused SELECT shows as an error reply to the next commands */
}

static void heartbeat(redis_bus_t *r);

static void on_connect(const redisAsyncContext *ac, int status)
{
    redis_bus_t *r = ac->data;
    if (status != REDIS_OK) {
        /* hiredis frees ac after this callback. */
        lost(r, ac->errstr);
        r->backoff_ms = r->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : r->backoff_ms * 2;
        return;
    }
    r->connected = 1;
    r->backoff_ms = 0;
    log_info(r->log, "cluster: connected to Redis at %s:%d", r->url.host, r->url.port);
    heartbeat(r);
}

static void close_tick(redis_bus_t *r);

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    redis_bus_t *r = ac->data;
    if (r->closing) {
        r->ac = NULL;
        close_tick(r);
        return;
    }
    lost(r, status == REDIS_OK ? "closed" : ac->errstr);
    r->owned = 0;
}

static void reconnect(redis_bus_t *r)
{
    redisAsyncContext *ac = redisAsyncConnect(r->url.host, r->url.port);
    if (!ac || ac->err) {
        lost(r, ac ? ac->errstr : "out of memory");
        if (ac) redisAsyncFree(ac);
        return;
    }
    ac->data = r;
    r->ac = ac;
    r->since = uv_now(r->loop);
    redisLibuvAttach(ac, r->loop);
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    /* Queued now, sent once connected: the database, before anything else. */
    if (r->url.db) redisAsyncCommand(ac, on_select, NULL, "SELECT %d", r->url.db);
}

/* ---------- the heartbeat ---------- */

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Logs the live nodes when they changed. */
static void set_live(redis_bus_t *r, const redisReply *rep)
{
    size_t n = 0;
    uint32_t *nodes = ch_malloc((rep->elements ? rep->elements : 1) * sizeof(*nodes));
    for (size_t i = 0; i < rep->elements; i++) {
        const redisReply *e = rep->element[i];
        if (e->type == REDIS_REPLY_INTEGER && e->integer > 0 && e->integer <= BUS_NODE_MAX)
            nodes[n++] = (uint32_t)e->integer;
    }
    qsort(nodes, n, sizeof(*nodes), cmp_u32);
    int same = n == r->nlive && memcmp(nodes, r->live, n * sizeof(*nodes)) == 0;
    free(r->live);
    r->live = nodes;
    r->nlive = n;
    if (same) return;
    char text[512];
    size_t at = 0;
    for (size_t i = 0; i < n && at + 8 < sizeof(text); i++)
        at += (size_t)snprintf(text + at, sizeof(text) - at, "%s%u", i ? "," : "", nodes[i]);
    text[at] = 0;
    log_info(r->log, "cluster: node %u; live nodes: %s", r->base.node, text);
}

static void on_heartbeat(redisAsyncContext *ac, void *reply, void *ud)
{
    (void)ac;
    redis_bus_t *r = ud;
    const redisReply *rep = reply;
    r->beat_pending = 0;
    if (!rep || r->closing) return; /* disconnected: on_disconnect said so */
    if (rep->type == REDIS_REPLY_INTEGER && rep->integer == -1) {
        if (r->owned || !r->nlive)
            log_error(r->log,
                      "cluster: node id %u is held by another node; this node is "
                      "not ready",
                      r->base.node);
        r->owned = 0;
        return;
    }
    if (rep->type != REDIS_REPLY_ARRAY) {
        log_warn(r->log, "cluster: heartbeat refused: %s",
                 rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply");
        r->owned = 0;
        return;
    }
    r->owned = 1;
    set_live(r, rep);
}

static void heartbeat(redis_bus_t *r)
{
    r->beat_pending = 1;
    r->since = uv_now(r->loop);
    char ttl[24], node[16];
    snprintf(ttl, sizeof(ttl), "%llu", (unsigned long long)r->ttl_ms);
    snprintf(node, sizeof(node), "%u", r->base.node);
    redisAsyncCommand(r->ac, on_heartbeat, r, "EVAL %s 2 %s %s %s %s %s %s", heartbeat_lua,
                      r->key, BUS_REDIS_PREFIX "nodes", r->token, ttl, node,
                      BUS_REDIS_PREFIX "node:");
}

/* Gives up a connection that makes no progress (hiredis's libuv adapter ignores a poll
 * error, so a refused connect or a dead socket may never call back; a Redis that hangs
 * never answers): frees it (its callbacks get no reply) and retries after the backoff. */
static void drop(redis_bus_t *r, const char *why)
{
    if (r->connected) log_warn(r->log, "cluster: Redis connection dropped (%s)", why);
    r->connected = 0;
    redisAsyncContext *ac = r->ac;
    redisAsyncFree(ac); /* on_disconnect, when hiredis counted it connected */
    lost(r, why);
}

static void on_tick(uv_timer_t *t)
{
    redis_bus_t *r = t->data;
    uint64_t now = uv_now(r->loop);
    if (r->ac && !r->connected && now - r->since >= r->ttl_ms)
        drop(r, "connect timed out");
    else if (r->connected && r->beat_pending && now - r->since >= r->ttl_ms)
        drop(r, "heartbeat unanswered");
    else if (r->connected && !r->beat_pending)
        heartbeat(r);
    else if (!r->ac && now >= r->next_try)
        reconnect(r);
}

/* ---------- the bus ---------- */

/* Rooms are served where they are asked for, as on one node (bus_redis.h). */
static int redis_send_op(bus_t *b, const bus_op_t *op)
{
    if (!b->serve) return -1;
    b->serve(b->serve_ud, op);
    return 0;
}

static int redis_ready(bus_t *b)
{
    const redis_bus_t *r = (const redis_bus_t *)b;
    return r->connected && r->owned;
}

static void on_release(redisAsyncContext *ac, void *reply, void *ud)
{
    (void)reply;
    (void)ud;
    redisAsyncDisconnect(ac);
}

static void on_tick_closed(uv_handle_t *h)
{
    (void)h;
}

static void close_tick(redis_bus_t *r)
{
    if (!uv_is_closing((uv_handle_t *)&r->tick))
        uv_close((uv_handle_t *)&r->tick, on_tick_closed);
}

/* A Redis that does not answer the release in time does not hold the stop up. */
static void on_close_deadline(uv_timer_t *t)
{
    redis_bus_t *r = t->data;
    if (r->ac) {
        redisAsyncFree(r->ac); /* its disconnect callback closes the timer */
        r->ac = NULL;
    }
    close_tick(r);
}

static void redis_close(bus_t *b)
{
    redis_bus_t *r = (redis_bus_t *)b;
    if (r->closing) return;
    r->closing = 1;
    if (!r->ac) {
        close_tick(r);
        return;
    }
    if (r->connected) {
        uv_timer_start(&r->tick, on_close_deadline, CLOSE_DEADLINE_MS, 0);
        /* The key goes at once, so the others see this node gone now, not at its ttl. */
        char node[16];
        snprintf(node, sizeof(node), "%u", r->base.node);
        redisAsyncCommand(r->ac, on_release, r, "EVAL %s 2 %s %s %s %s", release_lua, r->key,
                          BUS_REDIS_PREFIX "nodes", r->token, node);
    } else {
        redisAsyncFree(r->ac); /* still connecting: nothing to wait for */
        r->ac = NULL;
        close_tick(r);
    }
}

static void redis_free(bus_t *b)
{
    redis_bus_t *r = (redis_bus_t *)b;
    CH_ASSERT(r->ac == NULL);
    free(r->live);
    free(r);
}

static const bus_vtable_t redis_vt = {
    .publish = bus_local_deliver,
    .send_op = redis_send_op,
    .free = redis_free,
    .ready = redis_ready,
    .close = redis_close,
};

/* The synchronous claim of a node id (bus_redis.h). Returns the id, or 0 with err set. */
static uint32_t claim(redis_bus_t *r, char *err, size_t errlen)
{
    struct timeval tv = {CONNECT_TIMEOUT_S, 0};
    redisContext *c = redisConnectWithTimeout(r->url.host, r->url.port, tv);
    if (!c || c->err) {
        snprintf(err, errlen, "cannot reach Redis at %s:%d: %s", r->url.host, r->url.port,
                 c ? c->errstr : "out of memory");
        redisFree(c);
        return 0;
    }
    redisSetTimeout(c, tv);
    uint32_t id = 0;
    redisReply *rep = NULL;
    if (r->url.db) {
        rep = redisCommand(c, "SELECT %d", r->url.db);
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "Redis refused database %d: %s", r->url.db,
                     rep ? rep->str : c->errstr);
            goto out;
        }
        freeReplyObject(rep);
    }
    /* From a random start, so that a node that joins a Redis restarted empty does not take
     * the id of one that has not announced itself again yet (as a counter restarting at 1
     * would), and a dead node's id is seldom taken again soon. */
    char hex[5];
    auth_random_hex(hex, 2);
    uint32_t start = (uint32_t)strtoul(hex, NULL, 16);
    for (uint32_t tries = 0; tries < BUS_NODE_MAX; tries++) {
        uint32_t cand = (start + tries) % BUS_NODE_MAX + 1;
        snprintf(r->key, sizeof(r->key), BUS_REDIS_PREFIX "node:%u", cand);
        /* The first heartbeat comes once the loop runs, after the rooms load: until then
         * the key lives CLAIM_GRACE_MS longer. */
        rep = redisCommand(c, "SET %s %s NX PX %llu", r->key, r->token,
                           (unsigned long long)(r->ttl_ms + CLAIM_GRACE_MS));
        if (!rep || rep->type == REDIS_REPLY_ERROR) {
            snprintf(err, errlen, "Redis refused SET: %s", rep ? rep->str : c->errstr);
            goto out;
        }
        int ok = rep->type == REDIS_REPLY_STATUS;
        freeReplyObject(rep);
        rep = NULL;
        if (ok) {
            id = cand;
            goto out;
        }
    }
    snprintf(err, errlen, "no free node id in the cluster (%u live)", BUS_NODE_MAX);
out:
    freeReplyObject(rep);
    redisFree(c);
    return id;
}

bus_t *bus_redis_new(uv_loop_t *loop, const char *url, uint64_t ttl_ms, log_t *log,
                     const bus_rcv_ops_t *rcv_ops, char *err, size_t errlen)
{
    redis_bus_t *r = ch_calloc(1, sizeof(*r));
    if (bus_url_parse(url, &r->url, err, errlen) != 0) {
        free(r);
        return NULL;
    }
    r->loop = loop;
    r->log = log;
    r->ttl_ms = ttl_ms;
    auth_random_hex(r->token, TOKEN_BYTES);
    uint32_t node = claim(r, err, errlen);
    if (!node) {
        free(r);
        return NULL;
    }
    r->base.vt = &redis_vt;
    r->base.rcv_ops = rcv_ops;
    r->base.node = node;
    r->owned = 1;
    log_info(log, "cluster: this is node %u (Redis at %s:%d, database %d)", node, r->url.host,
             r->url.port, r->url.db);
    uv_timer_init(loop, &r->tick);
    r->tick.data = r;
    uint64_t every = ttl_ms / 3 ? ttl_ms / 3 : 1;
    uv_timer_start(&r->tick, on_tick, every, every);
    reconnect(r);
    return &r->base;
}

size_t bus_redis_live(const bus_t *b, uint32_t *out, size_t cap)
{
    const redis_bus_t *r = (const redis_bus_t *)b;
    for (size_t i = 0; i < r->nlive && i < cap; i++)
        out[i] = r->live[i];
    return r->nlive;
}
