/* bus_redis.c: the cluster bus over Redis (bus_redis.h): the node's id, its heartbeat and
 * the live nodes, on hiredis's asynchronous API attached to the libuv loop. */
#include "bus/bus_redis.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <sodium.h>

#include "auth/auth_random.h"
#include "bus/bus_dir.h"
#include "bus/bus_url.h"
#include "bus/bus_wire.h"
#include "util/mem.h"
#include "util/strmap.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000
#define CONNECT_TIMEOUT_S 3
#define TOKEN_BYTES 16
#define CLOSE_DEADLINE_MS 1000
#define CLAIM_GRACE_MS 30000
#define OPS_TICK_MS 100 /* op timeouts, lease renewals, the directory's sweep */
#define RENEW_BATCH 512 /* leases renewed by one script */
#define ORIGIN_BYTES 2  /* every message starts with its node id (u16 LE) */
#define ROOMS_CHAN BUS_REDIS_PREFIX "rooms" /* room announcements, to every node */
#define MISSED_MAX 1024 /* rooms remembered one by one whose events were not sent; past it, all */

/* What the lease scripts share: a room's lease key chorus:room:<id>:home names its home,
 * and chorus:room:<id>:until (no expiry) "<node>:<ms>", the last home and the end of its
 * last lease (Redis's clock), so that a node takes a free lease only with a copy of the
 * room that no other home can have changed since: it was the last home itself, or it read
 * the room from the store (at its start, ARGV[3]: Redis's time then) after the last home's
 * lease ended, or it reads the room after taking the lease (a takeover, ARGV[3] "now": the
 * last home's lease must have ended by now; when Redis knows no last home, a lease must
 * have passed since a takeover first found it so, chorus:empty, the time Redis came back
 * empty: every lease granted before has ended by then); and otherwise, when Redis knows
 * no last home (the room was never homed, or Redis lost its data), only while chorus:epoch is still the one this node saw at its start (ARGV[4]:
 * a Redis restarted empty has none, so only a node started since, with a fresh copy, takes
 * such a room). A home renewing its own lease (renewing) takes it back when it vanished,
 * unless another home had it since. take(k, renewing) answers whether it may, and takes
 * it. */
#define LEASE_LUA_COMMON                                                                       \
    "local t = redis.call('TIME') "                                                            \
    "local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "                   \
    "local function mark(k) "                                                                  \
    "  redis.call('SET', k:sub(1, -6) .. ':until', ARGV[1] .. ':' .. (now + "                  \
    "tonumber(ARGV[2]))) "                                                                     \
    "end "                                                                                     \
    "local function take(k, renewing) "                                                        \
    "  local u = redis.call('GET', k:sub(1, -6) .. ':until') "                                 \
    "  if u then "                                                                             \
    "    local n, e = string.match(u, '^(%d+):(%d+)$') "                                       \
    "    if n ~= ARGV[1] and (renewing or "                                                    \
    "        tonumber(e or '0') >= (tonumber(ARGV[3]) or now)) then "                          \
    "      return false end "                                                                  \
    "  elseif not renewing and ARGV[3] == 'now' then "                                         \
    "    redis.call('SET', '" BUS_REDIS_PREFIX "empty', now, 'NX') "                           \
    "    if now < tonumber(redis.call('GET', '" BUS_REDIS_PREFIX "empty')) + "                 \
    "        tonumber(ARGV[2]) then return false end "                                         \
    "  elseif not renewing and redis.call('GET', '" BUS_REDIS_PREFIX                           \
    "epoch') ~= ARGV[4] then "                                                                 \
    "    return false "                                                                        \
    "  end "                                                                                   \
    "  redis.call('SET', k, ARGV[1], 'PX', ARGV[2]) mark(k) return true "                      \
    "end "

/* A room's lease: take it when nobody holds it and take() allows (see above), or keep it
 * when this node holds it; answers {holder, ms left}, {0, 0} when nobody holds it and this
 * node may not take it. KEYS: the lease's key; ARGV: this node's id, the lease (ms), the
 * time this node read the rooms (Redis's clock, ms), the epoch it saw then. */
static const char claim_lua[] = LEASE_LUA_COMMON
    "local v = redis.call('GET', KEYS[1]) "
    "if v == ARGV[1] then redis.call('PEXPIRE', KEYS[1], ARGV[2]) mark(KEYS[1]) "
    "return {tonumber(v), tonumber(ARGV[2])} end "
    "if v then return {tonumber(v), redis.call('PTTL', KEYS[1])} end "
    "if take(KEYS[1], false) then return {tonumber(ARGV[1]), tonumber(ARGV[2])} end "
    "return {0, 0}";

/* claim_lua's answer without taking the lease: {0, 0} when nobody holds it. */
static const char lookup_lua[] = "local v = redis.call('GET', KEYS[1]) "
                                 "if not v then return {0, 0} end "
                                 "return {tonumber(v), redis.call('PTTL', KEYS[1])}";

/* Renews every lease of KEYS this node holds, or that ran out or vanished (a Redis
 * restarted empty) when take() allows; answers 1 per key renewed, 0 per key lost. ARGV:
 * as claim_lua's. */
static const char renew_lua[] = LEASE_LUA_COMMON
    "local out = {} "
    "for i, k in ipairs(KEYS) do "
    "  local v = redis.call('GET', k) "
    "  if v == ARGV[1] then redis.call('PEXPIRE', k, ARGV[2]) mark(k) out[i] = 1 "
    "  elseif not v and take(k, true) then out[i] = 1 "
    "  else out[i] = 0 end "
    "end "
    "return out";

/* A new room's lease, this node's: KEYS, ARGV as claim_lua's. */
static const char take_lua[] = LEASE_LUA_COMMON
    "redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) mark(KEYS[1]) return 1";

/* Gives a room's lease up (the room was deleted) when this node holds it. */
static const char drop_lua[] =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then redis.call('DEL', KEYS[1]) "
    "redis.call('DEL', KEYS[1]:sub(1, -6) .. ':until') end return 1";

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
    bus_redis_opts_t opts;
    char born[24]; /* Redis's time (ms) before this node read the rooms (claim_lua) */
    char epoch[2 * TOKEN_BYTES + 1]; /* chorus:epoch as this node saw it at its start */
    /* The subscriber connection: this node's channel (ops and replies) and the channels
     * of the topics with subscribers here (events). */
    redisAsyncContext *sub; /* NULL while disconnected */
    int sub_ready;          /* subscribed to this node's channel */
    uint64_t sub_since;     /* loop time its connect started */
    char node_chan[48];     /* chorus:node:<id> */
    strmap_t chans;         /* channel name -> chan_t (owned) */
    bus_dir_t dir;          /* room -> home */
    /* Ops on their way to another node's rooms, oldest first (so by deadline). */
    struct req_s *req_head, *req_tail;
    strmap_t reqs; /* request id (hex) -> req_t */
    size_t nreqs;
    uint64_t next_req;
    uint64_t next_renew; /* loop time of the next lease renewal */
    uint64_t next_lapse; /* loop time of the next look for leases run out (fence_lapsed) */
    int sub_was_ready;   /* the subscriber connection was ready once: a new one resyncs */
    uv_timer_t ops;      /* OPS_TICK_MS */
    int ops_closed;
    uint64_t published, dropped; /* events sent to other nodes; not sent (Redis down) */
    /* Events of this node's rooms that may not have reached the other nodes (Redis down,
     * or sent on a connection lost before Redis confirmed them): their rooms are announced
     * for a resync ('S') once the command connection is back (missed_announce). */
    /* Joins answered unavailable at their deadline (late_t), kept while a late answer can
     * come: request id (hex) -> late_t, and the same oldest first; at most
     * opts.max_inflight, the oldest forgotten past it (late_add). Owned. */
    strmap_t late;
    struct late_s *late_head, *late_tail;
    size_t nlate;
    strmap_t missed;       /* room -> its id (owned), at most MISSED_MAX */
    int missed_all;        /* every room at home here (past MISSED_MAX, or unknown which) */
    uint64_t beat_published; /* published when the pending heartbeat was sent */
    uint64_t confirmed;      /* published, up to the last heartbeat Redis answered */
    strmap_t takes; /* room -> claim_t: takeovers whose room is being read again (owned) */
} redis_bus_t;

/* A channel this node listens to, or is about to. */
enum { CH_OFF, CH_SUBSCRIBING, CH_ON, CH_UNSUBSCRIBING };
typedef struct {
    bus_topic_t *topic; /* borrowed while it has subscribers here (watch); else NULL */
    uint32_t pins;      /* ops in flight whose answer subscribes to it */
    int state;
    char name[]; /* chorus:room:<id> or chorus:doc:<room>:<doc> (the map's key) */
} chan_t;

/* A join sent to another node and answered unavailable at its deadline: served there
 * later, its connection is attached there for nothing (late_answered). */
typedef struct late_s {
    struct late_s *next; /* the next younger */
    uint64_t id;         /* 0: answered (out of the map, still in the list) */
    uint64_t until;      /* loop time: forgotten then */
    char key[20];        /* id in hex: its key in the map */
    bus_member_t member;
    char user[BUS_REDIS_CHAN_MAX];
    char room[BUS_REDIS_CHAN_MAX];
} late_t;

/* An op sent to (or waiting to be sent to) another node: its route, its message. */
typedef struct req_s {
    struct req_s *prev, *next;
    uint64_t id, deadline;
    bus_route_t route;
    cbuf_t *msg;   /* owned: origin + the op's wire message */
    chan_t *pin;   /* the channel its answer subscribes to (pinned), or NULL */
    uint32_t sent; /* the node it went to; 0 = not sent yet */
    char key[20];  /* the id in hex: the map's key */
    char room[];
} req_t;

static void on_connect(const redisAsyncContext *ac, int status);
static void on_disconnect(const redisAsyncContext *ac, int status);

/* ---------- connection ---------- */

static void sub_drop(redis_bus_t *r);

/* The connection went (ac is freed by hiredis after the callback that calls this). The
 * subscriber connection goes with it: hiredis's libuv adapter may not see a dead socket, so
 * the two are made again together. */
static void lost(redis_bus_t *r, const char *why)
{
    if (!r->closing) sub_drop(r);
    if (r->published != r->confirmed) {
        /* Sent after the last heartbeat Redis answered: maybe never published. */
        r->missed_all = 1;
        r->confirmed = r->published;
    }
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
static void sub_connect(redis_bus_t *r);
static void missed_announce(redis_bus_t *r);

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
    missed_announce(r);
    if (!r->sub) sub_connect(r);
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
    r->confirmed = r->beat_published; /* Redis ran what was sent before it */
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
    r->beat_published = r->published;
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
    if (r->sub && !r->sub_ready && now - r->sub_since >= r->ttl_ms) {
        log_warn(r->log, "cluster: Redis subscriber connection timed out; retrying");
        redisAsyncFree(r->sub); /* its disconnect callback clears r->sub, when connected */
        r->sub = NULL;
    } else if (!r->sub && r->connected && !r->closing) {
        sub_connect(r);
    }
}

/* ---------- messages between nodes ---------- */

/* Publishes msg (borrowed: origin + wire message) to channel; 0, or -1 when Redis is not
 * there (nothing sent). */
static int send_to(redis_bus_t *r, const char *channel, const cbuf_t *msg)
{
    if (!r->connected || !r->ac) return -1;
    const char *argv[3] = {"PUBLISH", channel, (const char *)msg->data + msg->off};
    size_t lens[3] = {7, strlen(channel), msg->len};
    return redisAsyncCommandArgv(r->ac, NULL, NULL, 3, argv, lens) == REDIS_OK ? 0 : -1;
}

static void node_chan(char *out, size_t n, uint32_t node)
{
    snprintf(out, n, BUS_REDIS_PREFIX "node:%u", node);
}

/* The channel of topic (room, doc) into out (n bytes); -1 when it does not fit. */
static int topic_chan(char *out, size_t n, const char *room, const char *doc)
{
    int k = doc ? snprintf(out, n, BUS_REDIS_PREFIX "doc:%s:%s", room, doc)
                : snprintf(out, n, BUS_REDIS_PREFIX "room:%s", room);
    return k < 0 || (size_t)k >= n ? -1 : 0;
}

/* A new buffer: this node's id, then wire (taken: unref'd). */
static cbuf_t *with_origin(const redis_bus_t *r, cbuf_t *wire)
{
    cbuf_t *m = cbuf_new(ORIGIN_BYTES + wire->len);
    uint8_t o[ORIGIN_BYTES] = {(uint8_t)(r->base.node & 0xff), (uint8_t)(r->base.node >> 8)};
    cbuf_append(&m, o, sizeof(o));
    cbuf_append(&m, wire->data + wire->off, wire->len);
    cbuf_unref(wire);
    return m;
}

/* Sends every node, on ROOMS_CHAN, this node's id, kind ('A' announcement, 'T' takeover,
 * 'S' events missed), room's id and its NUL, then text (len bytes; may be NULL with 0);
 * 0, or -1 when not sent (too large, or Redis not there). */
static int rooms_send(redis_bus_t *r, char kind, const char *room, const char *text, size_t len)
{
    size_t idlen = strlen(room) + 1;
    cbuf_t *m = cbuf_new(ORIGIN_BYTES + 1 + idlen + len);
    uint8_t o[ORIGIN_BYTES + 1] = {(uint8_t)(r->base.node & 0xff), (uint8_t)(r->base.node >> 8),
                                   (uint8_t)kind};
    cbuf_append(&m, o, sizeof(o));
    cbuf_append(&m, room, idlen);
    if (len) cbuf_append(&m, text, len);
    int rc = m->len > r->opts.msg_max ? -1 : send_to(r, ROOMS_CHAN, m);
    cbuf_unref(m);
    return rc;
}

/* ---------- this node's leases ---------- */

/* The end of a lease of this node's taken or renewed by a command sent at sent_at (loop
 * ms), by this node's clock: the lease's length, less an eighth, after the command was
 * sent (Redis started it later), so this node stops serving the room before Redis lets
 * another node take it, and its last writes have that margin to land in the store. */
static uint64_t own_until(const redis_bus_t *r, uint64_t sent_at)
{
    return sent_at + r->opts.lease_ms - r->opts.lease_ms / 8;
}

/* This node's lease of room (borrowed) ended (why: the log's reason): the room is a
 * stand-in here from now on, its ops go to its home (or wait for a takeover), and the
 * domain drops its copy and resets its connections (bus_lost_fn); a room still being read
 * is dropped by redis_reloaded. */
static void fence(redis_bus_t *r, const char *room, const char *why)
{
    char id[BUS_REDIS_CHAN_MAX];
    snprintf(id, sizeof(id), "%s", room); /* room may be the directory's, freed below */
    int loading = bus_dir_is_loading(&r->dir, id);
    log_warn(r->log, "cluster: room %s is no longer at home here: %s", id, why);
    bus_dir_forget(&r->dir, id, 0);
    bus_dir_standin(&r->dir, id);
    if (!loading && r->base.takeover.lost) r->base.takeover.lost(r->base.takeover.ud, id);
}

/* Fences every room of this node's whose lease ran out by its clock unrenewed (Redis away
 * or slow): the ops stopped at its end already (bus_dir_home), its copy goes now. */
static void fence_lapsed(redis_bus_t *r, uint64_t now)
{
    const char *rooms[RENEW_BATCH];
    char **lapsed = NULL;
    size_t at = 0, n, nl = 0, cap = 0;
    while ((n = bus_dir_mine(&r->dir, &at, rooms, RENEW_BATCH)) > 0)
        for (size_t i = 0; i < n; i++) {
            if (bus_dir_home(&r->dir, rooms[i], now)) continue;
            if (nl == cap) {
                cap = cap ? cap * 2 : 16;
                lapsed = ch_realloc(lapsed, cap * sizeof(*lapsed));
            }
            lapsed[nl++] = ch_strdup(rooms[i]);
        }
    for (size_t i = 0; i < nl; i++) {
        fence(r, lapsed[i], "its lease ran out unrenewed");
        free(lapsed[i]);
    }
    free(lapsed);
}

/* ---------- channels ---------- */

static void on_sub(redisAsyncContext *ac, void *reply, void *ud);
static void got_announce(redis_bus_t *r, const uint8_t *p, size_t len);
static void got_takeover(redis_bus_t *r, const uint8_t *p, size_t len);

/* Subscribes or unsubscribes c's channel as it is wanted; frees c when it is neither
 * wanted nor subscribed. One command per channel in flight at a time, so a SUBSCRIBE
 * never crosses an UNSUBSCRIBE of the same channel. */
static void chan_sync(redis_bus_t *r, chan_t *c)
{
    int wanted = c->topic || c->pins;
    if (!r->sub_ready) {
        if (!wanted) {
            strmap_del(&r->chans, c->name);
            free(c);
        }
        return;
    }
    if (wanted && c->state == CH_OFF) {
        c->state = CH_SUBSCRIBING;
        redisAsyncCommand(r->sub, on_sub, r, "SUBSCRIBE %s", c->name);
    } else if (!wanted && c->state == CH_ON) {
        c->state = CH_UNSUBSCRIBING;
        redisAsyncCommand(r->sub, on_sub, r, "UNSUBSCRIBE %s", c->name);
    } else if (!wanted && c->state == CH_OFF) {
        strmap_del(&r->chans, c->name);
        free(c);
    }
}

static chan_t *chan_get(redis_bus_t *r, const char *name)
{
    return strmap_get_or_new(&r->chans, name, sizeof(chan_t), offsetof(chan_t, name));
}

/* bus_vtable_t.watch: a named topic got its first subscriber here, or lost its last. */
static void redis_watch(bus_t *b, bus_topic_t *t, int on)
{
    redis_bus_t *r = (redis_bus_t *)b;
    char name[BUS_REDIS_CHAN_MAX];
    if (topic_chan(name, sizeof(name), t->room, t->doc) != 0) return;
    chan_t *c = on ? chan_get(r, name) : strmap_get(&r->chans, name);
    if (!c) return;
    c->topic = on ? t : NULL;
    if (!r->closing) chan_sync(r, c);
}

/* ---------- ops: waiting, sent, answered ---------- */

static void req_unlink(redis_bus_t *r, req_t *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        r->req_head = q->next;
    if (q->next)
        q->next->prev = q->prev;
    else
        r->req_tail = q->prev;
    strmap_del(&r->reqs, q->key);
    r->nreqs--;
}

/* Frees q (unlinked), unpinning its channel. */
static void req_free(redis_bus_t *r, req_t *q)
{
    if (q->pin) {
        q->pin->pins--;
        if (!r->closing) chan_sync(r, q->pin);
    }
    cbuf_unref(q->msg);
    free(q);
}

/* A new op waiting (oldest last) to be sent to room's (borrowed) home or served here: msg
 * (taken: origin + the op's wire message, whose request id is the next one) answered
 * through route (copied) by now + --cluster-op-timeout. Returns it (owned by r). */
static req_t *req_add(redis_bus_t *r, const char *room, cbuf_t *msg, const bus_route_t *route,
                      uint64_t now)
{
    size_t n = strlen(room) + 1;
    req_t *q = ch_calloc(1, sizeof(*q) + n);
    memcpy(q->room, room, n);
    q->id = ++r->next_req;
    q->deadline = now + r->opts.op_timeout_ms;
    q->route = *route;
    q->msg = msg;
    snprintf(q->key, sizeof(q->key), "%llx", (unsigned long long)q->id);
    q->prev = r->req_tail;
    if (r->req_tail)
        r->req_tail->next = q;
    else
        r->req_head = q;
    r->req_tail = q;
    strmap_put(&r->reqs, q->key, q);
    r->nreqs++;
    return q;
}

/* Forgets the oldest late join remembered. */
static void late_pop(redis_bus_t *r)
{
    late_t *l = r->late_head;
    r->late_head = l->next;
    if (!r->late_head) r->late_tail = NULL;
    if (l->id) strmap_del(&r->late, l->key);
    r->nlate--;
    free(l);
}

/* q, a join (subscribing to its room's channel) sent to its home and not answered by its
 * deadline, is remembered in case the home serves it later (late_answered): for as long as
 * a home can answer it (one that held its lease when q was sent serves it at the latest
 * within a lease of the deadline: --cluster-op-timeout + --cluster-lease, to be generous),
 * at most --cluster-max-inflight joins; past that, the oldest is forgotten (its ghost, if
 * its home answers it still later, stays until that connection leaves: logged). */
static void late_add(redis_bus_t *r, const req_t *q)
{
    char chan[BUS_REDIS_CHAN_MAX];
    bus_wire_op_t w;
    if (!q->sent || !q->pin || topic_chan(chan, sizeof(chan), q->room, NULL) != 0 ||
        strcmp(chan, q->pin->name) != 0 ||
        bus_wire_op_read(q->msg->data + q->msg->off + ORIGIN_BYTES, q->msg->len - ORIGIN_BYTES,
                         &w) != 0 ||
        !w.user || strlen(w.user) >= sizeof(((late_t *)0)->user) ||
        strlen(q->room) >= sizeof(((late_t *)0)->room))
        return;
    uint64_t now = uv_now(r->loop);
    while (r->late_head && (r->late_head->until <= now || r->nlate >= r->opts.max_inflight)) {
        if (r->late_head->until > now && r->late_head->id)
            log_warn(r->log, "cluster: a join in room %s answered unavailable is forgotten "
                             "before its time (more than --cluster-max-inflight such joins)",
                     r->late_head->room);
        late_pop(r);
    }
    if (!r->opts.max_inflight) return;
    late_t *l = ch_calloc(1, sizeof(*l));
    if (r->late_tail)
        r->late_tail->next = l;
    else
        r->late_head = l;
    r->late_tail = l;
    r->nlate++;
    l->until = now + r->opts.op_timeout_ms + r->opts.lease_ms;
    snprintf(l->key, sizeof(l->key), "%llx", (unsigned long long)q->id);
    strmap_put(&r->late, l->key, l);
    l->id = q->id;
    l->member = q->route.member;
    snprintf(l->user, sizeof(l->user), "%s", w.user);
    snprintf(l->room, sizeof(l->room), "%s", q->room);
}

/* The answer of request id came from node after its deadline (answered unavailable then):
 * when it was a join served (with parts), node attached a connection that never learnt of
 * it, and is sent a detach (undo) for it (to node itself: where it was attached), unless
 * the connection's next join for the room is on its way (that one's answer decides). */
static void late_answered(redis_bus_t *r, uint32_t node, uint64_t id, int served)
{
    char key[20];
    snprintf(key, sizeof(key), "%llx", (unsigned long long)id);
    late_t *l = strmap_del(&r->late, key);
    if (!l) return;
    l->id = 0; /* freed when it leaves the list (late_pop) */
    if (!served) return;
    char chan[BUS_REDIS_CHAN_MAX];
    if (topic_chan(chan, sizeof(chan), l->room, NULL) != 0) return;
    for (const req_t *q = r->req_head; q; q = q->next)
        if (q->route.member == l->member && q->pin && strcmp(q->pin->name, chan) == 0) return;
    log_info(r->log, "cluster: a join in room %s answered after its deadline is undone",
             l->room);
    json_t *args = json_pack("{s:b}", "undo", 1);
    /* "detach" is the rooms' op (rooms.h: ROOMS_OP_DETACH) that every home serves. */
    bus_op_t op = {.room = l->room,
                   .name = "detach",
                   .user = l->user,
                   .args = args,
                   .route = {.member = l->member, .ref = -1, .fn = bus_reply_ignore}};
    cbuf_t *wire = NULL;
    if (bus_wire_op_write(&op, r->base.node, ++r->next_req, &wire) == 0) {
        cbuf_t *m = with_origin(r, wire); /* its answer finds no request: ignored */
        char to[48];
        node_chan(to, sizeof(to), node);
        if (send_to(r, to, m) != 0)
            log_warn(r->log, "cluster: a late join in room %s could not be undone", l->room);
        cbuf_unref(m);
    }
    json_decref(args);
}

/* Answers q unavailable (why: the message) and frees it. */
static void req_fail(redis_bus_t *r, req_t *q, const char *why)
{
    req_unlink(r, q);
    bus_route_t route = q->route;
    req_free(r, q);
    bus_reply(&route, BUS_UNAVAILABLE, why, NULL);
}

static void remote_reply(const bus_route_t *route, const char *code, const char *message,
                         json_t *data);

/* Runs the op of wire (read from a message) with route here, its room's home. */
static void serve_wire(redis_bus_t *r, const bus_wire_op_t *w, const bus_route_t *route)
{
    bus_op_t op = {.room = w->room,
                   .name = w->name,
                   .user = w->user,
                   .route = *route,
                   .remote = route->fn == remote_reply};
    json_t *args = NULL;
    jscan_t scan;
    if (w->args_kind == BUS_WIRE_ARGS_TREE) {
        args = json_loadb(w->args, w->args_len, JSON_ALLOW_NUL, NULL);
        if (!json_is_object(args)) {
            json_decref(args);
            bus_reply(&op.route, "bad_request", "arguments that are not an object", NULL);
            return;
        }
        op.args = args;
    } else if (w->args_kind == BUS_WIRE_ARGS_SCAN) {
        /* The frame the member's node scanned: scanned again, with the same verdict. */
        if (jscan_parse(&scan, w->args, w->args_len, 0) != 0) {
            bus_reply(&op.route, "bad_request", "arguments the home cannot read", NULL);
            return;
        }
        op.scan = &scan;
    }
    r->base.serve(r->base.serve_ud, &op);
    json_decref(args);
}

static void lease_claim(redis_bus_t *r, const char *room);

/* Moves q on: sends it to its room's home once that is known and its channel (if it
 * subscribes) is listened to; runs it here when this node is the home. */
static void req_advance(redis_bus_t *r, req_t *q)
{
    if (q->sent || (q->pin && q->pin->state != CH_ON)) return;
    uint32_t home = bus_dir_home(&r->dir, q->room, uv_now(r->loop));
    if (!home) {
        if (!r->connected)
            req_fail(r, q, "the cluster bus is not connected");
        else
            lease_claim(r, q->room);
        return;
    }
    if (home == r->base.node) {
        if (bus_dir_is_loading(&r->dir, q->room)) return; /* redis_reloaded moves it on */
        req_unlink(r, q);
        bus_wire_op_t w;
        int rc = bus_wire_op_read(q->msg->data + q->msg->off + ORIGIN_BYTES,
                                  q->msg->len - ORIGIN_BYTES, &w);
        CH_ASSERT(rc == 0); /* written here */
        serve_wire(r, &w, &q->route);
        req_free(r, q);
        return;
    }
    char chan[48];
    node_chan(chan, sizeof(chan), home);
    if (send_to(r, chan, q->msg) != 0) {
        req_fail(r, q, "the cluster bus is not connected");
        return;
    }
    q->sent = home;
}

/* Moves on every op waiting for room (NULL: for anything). */
static void reqs_advance(redis_bus_t *r, const char *room, const chan_t *chan)
{
    for (req_t *q = r->req_head, *next; q; q = next) {
        next = q->next;
        if (q->sent) continue;
        if (room && strcmp(q->room, room) != 0) continue;
        if (chan && q->pin != chan) continue;
        req_advance(r, q);
    }
}

/* A lease claim; a takeover's (takeover set): the lease first, then the last home's
 * record (rec_read), then the room's read. */
typedef struct {
    redis_bus_t *r;
    uint64_t sent_at;
    int takeover; /* claimed to read the room from the store once the lease is won */
    size_t rec_n;   /* the record's fields, as NUL-ended field, value pairs at room + rec_at */
    size_t rec_at;
    char room[];
} claim_t;

/* Ends cl: no home for its room now; its waiting ops are answered unavailable (why). */
static void claim_fail(redis_bus_t *r, claim_t *cl, const char *why)
{
    bus_dir_claiming(&r->dir, cl->room, 0);
    for (req_t *q = r->req_head, *next; q; q = next) {
        next = q->next;
        if (!q->sent && strcmp(q->room, cl->room) == 0) req_fail(r, q, why);
    }
    free(cl);
}

static void on_claim(redisAsyncContext *ac, void *reply, void *ud);

/* Sends cl's claim of its room's lease (script: claim_lua or lookup_lua) with at as the
 * time this node's copy was read (claim_lua's ARGV[3]); 0, or -1 when it cannot be sent. */
static int claim_send(redis_bus_t *r, claim_t *cl, const char *script, const char *at)
{
    char key[BUS_REDIS_CHAN_MAX], node[16], px[24];
    snprintf(key, sizeof(key), BUS_REDIS_PREFIX "room:%s:home", cl->room);
    snprintf(node, sizeof(node), "%u", r->base.node);
    snprintf(px, sizeof(px), "%llu", (unsigned long long)r->opts.lease_ms);
    cl->sent_at = uv_now(r->loop);
    if (!r->connected || !r->ac) return -1;
    return redisAsyncCommand(r->ac, on_claim, cl, "EVAL %s 1 %s %s %s %s %s", script, key, node,
                             px, at, r->epoch) == REDIS_OK
               ? 0
               : -1;
}

/* A takeover's lease is won: the room is this node's from now on (its lease renewed) but
 * loading (its ops wait, from here and from other nodes) while the domain reads it from
 * the store (bus_reload_fn), then redis_reloaded. The read starts after the lease was
 * taken, and the lease was taken only once the last home's had ended (claim_lua with
 * "now"), so it sees every write of that home (docs/architecture.md, "Node loss"). */
static void rec_read(redis_bus_t *r, claim_t *cl);
static void redis_record(bus_t *b, const char *room, const char *field, const char *value);

static void take_over(redis_bus_t *r, claim_t *cl)
{
    bus_dir_set(&r->dir, cl->room, r->base.node, own_until(r, cl->sent_at));
    bus_dir_loading(&r->dir, cl->room, 1);
    if (strmap_get(&r->takes, cl->room)) { /* cannot be: one claim at a time per room */
        free(cl);
        return;
    }
    rec_read(r, cl);
}

/* The record's key of room into out (n bytes). */
static void rec_key(char *out, size_t n, const char *room)
{
    snprintf(out, n, BUS_REDIS_PREFIX "room:%s:rec", room);
}

/* The last home's record is in (reply: HGETALL's; NULL or an error: none, so nothing is
 * restored and every connection is reset): copied into the claim, and the room is read. */
static void on_rec(redisAsyncContext *ac, void *reply, void *ud)
{
    (void)ac;
    claim_t *cl = ud;
    redis_bus_t *r = cl->r;
    const redisReply *rep = reply;
    if (r->closing) {
        free(cl);
        return;
    }
    size_t len = 0, n = 0, room_len = strlen(cl->room) + 1;
    int ok = rep && rep->type == REDIS_REPLY_ARRAY && rep->elements % 2 == 0;
    for (size_t i = 0; ok && i < rep->elements; i++) {
        if (rep->element[i]->type != REDIS_REPLY_STRING) ok = 0;
        else len += rep->element[i]->len + 1;
    }
    if (ok && len) {
        cl = ch_realloc(cl, sizeof(*cl) + room_len + len);
        char *at = cl->room + room_len;
        for (size_t i = 0; i < rep->elements; i++) {
            /* A value with a NUL in it is cut there: no field of a record holds one. */
            memcpy(at, rep->element[i]->str, rep->element[i]->len);
            at[rep->element[i]->len] = 0;
            at += rep->element[i]->len + 1;
        }
        n = rep->elements / 2;
    } else if (!ok) {
        log_warn(r->log, "cluster: room %s's record could not be read: its connections "
                 "will be reset", cl->room);
    }
    cl->rec_n = n;
    cl->rec_at = room_len;
    strmap_put(&r->takes, cl->room, cl);
    log_info(r->log, "cluster: room %s's lease taken over (its home was lost): reading it",
             cl->room);
    r->base.takeover.reload(r->base.takeover.ud, cl->room);
}

/* Reads the last home's record of cl's room (rec_n 0 and a reset of every connection
 * when Redis is not there), then the room (on_rec). */
static void rec_read(redis_bus_t *r, claim_t *cl)
{
    cl->rec_n = 0;
    cl->rec_at = strlen(cl->room) + 1;
    char key[BUS_REDIS_CHAN_MAX];
    rec_key(key, sizeof(key), cl->room);
    if (r->connected && r->ac &&
        redisAsyncCommand(r->ac, on_rec, cl, "HGETALL %s", key) == REDIS_OK)
        return;
    on_rec(r->ac, NULL, cl);
}

/* 1 when node is alive and not last (the last home, whose lease ended: its connections
 * left the room, dead or reset). */
static int node_alive(const redis_bus_t *r, uint32_t node, uint32_t last)
{
    if (node == last) return 0;
    return bsearch(&node, r->live, r->nlive, sizeof(*r->live), cmp_u32) != NULL;
}

/* Hands cl's record to the domain (bus_restore_fn); returns what it answered (1: the
 * other nodes' connections missed nothing). Bounded by the record's size. */
static int rec_restore(redis_bus_t *r, const claim_t *cl)
{
    if (!r->base.takeover.restore) return 0;
    bus_rec_conn_t *conns = ch_malloc((cl->rec_n + 1) * sizeof(*conns));
    bus_rec_lock_t *locks = ch_malloc((cl->rec_n + 1) * sizeof(*locks));
    bus_rec_t rec = {
        .conns = conns, .locks = locks, .seq = -1, .version = -1, .changes = -1};
    const char *at = cl->room + cl->rec_at;
    uint32_t last = 0;
    for (size_t i = 0; i < cl->rec_n; i++) {
        const char *f = at, *v = at + strlen(at) + 1;
        at = v + strlen(v) + 1;
        if (strcmp(f, "h") == 0) last = (uint32_t)strtoul(v, NULL, 10);
    }
    at = cl->room + cl->rec_at;
    for (size_t i = 0; i < cl->rec_n; i++) {
        const char *f = at, *v = at + strlen(at) + 1;
        at = v + strlen(v) + 1;
        char *end;
        if (f[0] == 'c' || f[0] == 'g') { /* g: closed at its node, its detach maybe unserved */
            bus_member_t m = strtoull(f + 1, &end, 10);
            if (*end || !m || !*v) continue;
            conns[rec.nconns++] = (bus_rec_conn_t){
                .member = m,
                .user = v,
                .live = f[0] == 'c' && node_alive(r, bus_member_node(m), last)};
        } else if (f[0] == 'l' && f[1]) {
            bus_member_t h = strtoull(v, &end, 10);
            if (*end != ' ') continue;
            long long exp = strtoll(end + 1, &end, 10);
            if (*end != ' ' || !end[1]) continue;
            locks[rec.nlocks++] = (bus_rec_lock_t){
                .entity = f + 1, .holder = h, .user = end + 1, .expires_at = exp};
        } else if (strcmp(f, "s") == 0) {
            rec.seq = strtoll(v, NULL, 10);
        } else if (strcmp(f, "v") == 0) {
            rec.version = strtoll(v, NULL, 10);
        } else if (strcmp(f, "n") == 0) {
            rec.changes = strtoll(v, NULL, 10);
        }
    }
    int keep = r->base.takeover.restore(r->base.takeover.ud, cl->room, &rec);
    free(conns);
    free(locks);
    return keep;
}

/* Marks this node the home that writes room's record ("h": a takeover counts the
 * connections of the record's node gone). */
static void rec_home(redis_bus_t *r, const char *room)
{
    char node[16];
    snprintf(node, sizeof(node), "%u", r->base.node);
    redis_record(&r->base, room, "h", node);
}

static void on_claim(redisAsyncContext *ac, void *reply, void *ud)
{
    (void)ac;
    claim_t *cl = ud;
    redis_bus_t *r = cl->r;
    const redisReply *rep = reply;
    if (!rep || r->closing || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
        rep->element[0]->type != REDIS_REPLY_INTEGER ||
        rep->element[1]->type != REDIS_REPLY_INTEGER || rep->element[0]->integer < 0 ||
        rep->element[0]->integer > BUS_NODE_MAX) {
        /* Its ops wait on, and are answered unavailable at their deadline. */
        if (rep && !r->closing)
            log_warn(r->log, "cluster: the lease of room %s could not be read", cl->room);
        bus_dir_claiming(&r->dir, cl->room, 0);
        free(cl);
        return;
    }
    if (rep->element[0]->integer == 0) {
        /* A room that no node holds (its home went) and this node's copy may not take (a
         * stand-in, or read before the last home's lease ended): its lease is claimed to be
         * taken over, the room read from the store once it is won (take_over); its ops wait
         * meanwhile (their deadline still holds). Not twice for one claim. */
        if (!cl->takeover && r->base.takeover.reload) {
            cl->takeover = 1;
            if (claim_send(r, cl, claim_lua, "now") == 0) return;
        }
        claim_fail(r, cl, "the room has no home now; try again");
        return;
    }
    uint32_t node = (uint32_t)rep->element[0]->integer;
    long long left = rep->element[1]->integer;
    if (left <= 0) left = 0;
    if (node == r->base.node && cl->takeover) {
        take_over(r, cl);
        return;
    }
    if (node == r->base.node && bus_dir_is_standin(&r->dir, cl->room)) {
        /* Its lease, still this node's in Redis, but its copy dropped (fence): taken over
         * once the lease has run out. */
        claim_fail(r, cl, "the room's home is changing; try again");
        return;
    }
    if (node == r->base.node) {
        int was = bus_dir_home(&r->dir, cl->room, uv_now(r->loop)) == node;
        bus_dir_set(&r->dir, cl->room, node, own_until(r, cl->sent_at));
        if (!was) rec_home(r, cl->room);
        log_debug(r->log, "cluster: this node is the home of room %s", cl->room);
    } else {
        bus_dir_set(&r->dir, cl->room, node, uv_now(r->loop) + (uint64_t)left);
    }
    reqs_advance(r, cl->room, NULL);
    free(cl);
}

/* Asks Redis for room's lease (once at a time per room); its ops move on with the answer. */
static void lease_claim(redis_bus_t *r, const char *room)
{
    if (bus_dir_claiming(&r->dir, room, 1)) return;
    size_t n = strlen(room) + 1;
    claim_t *cl = ch_malloc(sizeof(*cl) + n);
    cl->r = r;
    cl->takeover = 0;
    memcpy(cl->room, room, n);
    /* A room known from an announcement only is never taken with its copy here: its home
     * is looked up (and the room taken over when there is none). */
    const char *script = bus_dir_is_standin(&r->dir, room) ? lookup_lua : claim_lua;
    if (claim_send(r, cl, script, r->born) != 0) {
        bus_dir_claiming(&r->dir, room, 0);
        free(cl);
    }
}

/* bus_vtable_t.reloaded: a takeover's room was read (rc 0) after its lease was won: its
 * ops go on here, and every other node is told ('T': its connections in the room get
 * room_reset); not read, the room is given up here (its lease runs out unrenewed). */
static void redis_reloaded(bus_t *b, const char *room, int rc)
{
    redis_bus_t *r = (redis_bus_t *)b;
    claim_t *cl = strmap_get(&r->takes, room);
    if (!cl) return;
    strmap_del(&r->takes, room);
    if (r->closing) {
        free(cl);
        return;
    }
    int mine = bus_dir_home(&r->dir, room, uv_now(r->loop)) == b->node;
    if (rc != 0) {
        /* Its copy here (kept: not read) is no home's copy: a stand-in again (also when
         * its lease ran out by this node's clock meanwhile), so neither a claim answered
         * with this node's lease, still live in Redis, nor a renewal serves that copy. */
        const bus_dir_entry_t *e = strmap_get(&r->dir.map, room);
        if (e && e->node == b->node) {
            bus_dir_forget(&r->dir, room, 0);
            bus_dir_standin(&r->dir, room);
        }
        claim_fail(r, cl, "the room could not be read again; try again");
        return;
    }
    bus_dir_loading(&r->dir, room, 0);
    if (mine) {
        rec_home(r, room);
        int keep = rec_restore(r, cl);
        log_info(r->log, "cluster: room %s taken over (its home was lost)%s", room,
                 keep ? "; the other nodes' connections missed nothing" : "");
        if (rooms_send(r, 'T', room, keep ? "k" : NULL, keep ? 1 : 0) != 0)
            log_warn(r->log, "cluster: the other nodes were not told of room %s's takeover",
                     room);
    } else {
        /* Lost while it was read (fenced, or its lease ran out by this node's clock and
         * is not fenced yet): a stand-in from now on, and the copy read goes too. */
        fence(r, room, "its lease was lost while it was read");
    }
    reqs_advance(r, room, NULL);
    free(cl);
}

/* bus_reply_fn and bus_reply_parts_fn at a room's home for an op from another node: the
 * answer goes back to that node's channel, with the request's id. */
typedef struct {
    redis_bus_t *r;
    uint32_t node;
    uint64_t request;
} remote_t;

static void remote_send(remote_t *rt, cbuf_t *wire)
{
    redis_bus_t *r = rt->r;
    cbuf_t *m = with_origin(r, wire);
    char chan[48];
    node_chan(chan, sizeof(chan), rt->node);
    if (m->len > r->opts.msg_max) {
        cbuf_unref(m);
        CH_ASSERT(bus_wire_reply_write(rt->request, BUS_UNAVAILABLE,
                                       "the answer is too large to cross nodes", NULL,
                                       &wire) == 0);
        m = with_origin(r, wire);
    }
    if (send_to(r, chan, m) != 0)
        log_debug(r->log, "cluster: an answer to node %u is lost (Redis)", rt->node);
    cbuf_unref(m);
    free(rt);
}

static void remote_reply(const bus_route_t *route, const char *code, const char *message,
                         json_t *data)
{
    remote_t *rt = route->ud;
    cbuf_t *wire = NULL;
    CH_ASSERT(bus_wire_reply_write(rt->request, code, message, data, &wire) == 0);
    json_decref(data);
    remote_send(rt, wire);
}

static void remote_reply_parts(const bus_route_t *route, const jpart_t *parts, size_t nparts)
{
    remote_t *rt = route->ud;
    cbuf_t *wire = NULL;
    if (bus_wire_reply_parts_write(rt->request, parts, nparts, &wire) != 0)
        CH_ASSERT(bus_wire_reply_write(rt->request, "internal_error",
                                       "the answer cannot cross nodes", NULL, &wire) == 0);
    remote_send(rt, wire);
}

/* An op from another node for a room of this one. */
static void got_op(redis_bus_t *r, const void *p, size_t len)
{
    bus_wire_op_t w;
    if (bus_wire_op_read(p, len, &w) != 0 || w.node == 0 || w.node > BUS_NODE_MAX) {
        log_warn(r->log, "cluster: an op message this node cannot read was dropped");
        return;
    }
    remote_t *rt = ch_malloc(sizeof(*rt));
    *rt = (remote_t){r, w.node, w.request};
    bus_route_t route = {.member = w.member,
                         .ref = w.ref,
                         .fn = remote_reply,
                         .parts_fn = remote_reply_parts,
                         .ud = rt};
    if (!r->base.serve || bus_dir_home(&r->dir, w.room, uv_now(r->loop)) != r->base.node) {
        /* Not (or no longer) its home: the asking node looks again. */
        bus_reply(&route, BUS_UNAVAILABLE, "the room's home moved; try again", NULL);
        return;
    }
    if (bus_dir_is_loading(&r->dir, w.room)) {
        /* Taken over and being read: it waits here, as this node's own ops do. */
        if (r->nreqs >= r->opts.max_inflight) {
            bus_reply(&route, BUS_UNAVAILABLE, "too many ops waiting for the room", NULL);
            return;
        }
        cbuf_t *msg = cbuf_new(ORIGIN_BYTES + len);
        uint8_t o[ORIGIN_BYTES] = {(uint8_t)(w.node & 0xff), (uint8_t)(w.node >> 8)};
        cbuf_append(&msg, o, sizeof(o));
        cbuf_append(&msg, p, len);
        req_add(r, w.room, msg, &route, uv_now(r->loop));
        return;
    }
    serve_wire(r, &w, &route);
}

/* The answer of one of this node's ops. */
static void got_reply(redis_bus_t *r, uint32_t origin, const void *p, size_t len)
{
    bus_wire_reply_t w;
    if (bus_wire_reply_read(p, len, &w) != 0) {
        log_warn(r->log, "cluster: a reply message this node cannot read was dropped");
        return;
    }
    char key[20];
    snprintf(key, sizeof(key), "%llx", (unsigned long long)w.request);
    req_t *q = strmap_get(&r->reqs, key);
    if (!q) { /* answered unavailable at its deadline already */
        late_answered(r, origin, w.request, w.is_parts);
        return;
    }
    req_unlink(r, q);
    bus_route_t route = q->route;
    if (!w.is_parts && w.code && strcmp(w.code, BUS_UNAVAILABLE) == 0)
        bus_dir_forget(&r->dir, q->room, 0); /* look its home up again next time */
    if (w.is_parts) {
        /* Subscribing in the answer: the channel is listened to (pinned) until now. */
        route.parts_fn(&route, w.parts, w.nparts);
        req_free(r, q);
        return;
    }
    json_t *data =
        w.data ? json_loadb(w.data, w.data_len, JSON_ALLOW_NUL | JSON_DECODE_ANY, NULL) : NULL;
    route.fn(&route, w.code, w.message, data);
    req_free(r, q);
}

/* An event a room's home published on a channel this node listens to. */
static void got_event(redis_bus_t *r, const char *channel, const void *p, size_t len)
{
    chan_t *c = strmap_get(&r->chans, channel);
    if (!c || !c->topic || c->state != CH_ON) return; /* nobody here any more */
    bus_wire_event_t w;
    if (bus_wire_event_read(p, len, &w) != 0) {
        log_warn(r->log, "cluster: an event message this node cannot read was dropped");
        return;
    }
    bus_event_t ev = {.room = w.room,
                      .doc = w.doc,
                      .name = w.name,
                      .parts = w.parts,
                      .nparts = w.nparts,
                      .seq = w.seq,
                      .version = w.version,
                      .except = w.except,
                      .to = w.to,
                      .except_user = w.except_user,
                      .to_user = w.to_user,
                      .unsubscribe = w.unsubscribe,
                      .watchers = w.watchers};
    bus_local_deliver(&r->base, c->topic, &ev);
}

/* The subscriber connection is back after it was lost: the events published meanwhile
 * by other nodes are lost, so every room with subscribers here that is not at home here
 * resets them (room_reset, reason "resync": they join again and catch up). Their number
 * is bounded by the connections'. */
static void resync(redis_bus_t *r)
{
    char **rooms = ch_malloc((r->chans.count + 1) * sizeof(*rooms));
    size_t n = 0;
    const char *k;
    void *v;
    uint64_t now = uv_now(r->loop);
    for (size_t i = 0; strmap_next(&r->chans, &i, &k, &v);) {
        const chan_t *c = v;
        if (!c->topic || !c->topic->room || c->topic->doc) continue;
        if (bus_dir_home(&r->dir, c->topic->room, now) == r->base.node &&
            !bus_dir_is_loading(&r->dir, c->topic->room))
            continue; /* its events are made here */
        rooms[n++] = ch_strdup(c->topic->room);
    }
    if (n) log_info(r->log, "cluster: %zu rooms' connections told to resync", n);
    for (size_t i = 0; i < n; i++) {
        if (r->base.takeover.reset) r->base.takeover.reset(r->base.takeover.ud, rooms[i], "resync");
        free(rooms[i]);
    }
    free(rooms);
}

/* Every reply of the subscriber connection: (un)subscribe confirmations and messages. */
static void on_sub(redisAsyncContext *ac, void *reply, void *ud)
{
    redis_bus_t *r = ud;
    const redisReply *rep = reply;
    if (!rep || r->closing || ac != r->sub || rep->type != REDIS_REPLY_ARRAY ||
        rep->elements < 3 || rep->element[0]->type != REDIS_REPLY_STRING ||
        rep->element[1]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = rep->element[0]->str, *channel = rep->element[1]->str;
    if (strcmp(kind, "message") == 0) {
        const redisReply *m = rep->element[2];
        if (m->type != REDIS_REPLY_STRING || m->len < ORIGIN_BYTES) return;
        const uint8_t *p = (const uint8_t *)m->str;
        uint32_t origin = p[0] | (uint32_t)p[1] << 8;
        if (origin == r->base.node) return; /* delivered here when published */
        p += ORIGIN_BYTES;
        size_t len = m->len - ORIGIN_BYTES;
        int k = bus_wire_kind(p, len);
        if (strcmp(channel, ROOMS_CHAN) == 0) {
            if (len > 1 && (p[0] == 'T' || p[0] == 'S'))
                got_takeover(r, p, len);
            else
                got_announce(r, p, len);
        } else if (strcmp(channel, r->node_chan) == 0) {
            if (k == 'O')
                got_op(r, p, len);
            else if (k == 'R')
                got_reply(r, origin, p, len);
        } else if (k == 'E') {
            got_event(r, channel, p, len);
        }
        return;
    }
    if (strcmp(channel, r->node_chan) == 0) {
        if (strcmp(kind, "subscribe") == 0) {
            r->sub_ready = 1;
            if (r->sub_was_ready) resync(r);
            r->sub_was_ready = 1;
            /* The topics listened to before a reconnect, and ops that waited for it. */
            chan_t **all = ch_malloc((r->chans.count + 1) * sizeof(*all));
            size_t n = 0;
            const char *k;
            void *v;
            for (size_t i = 0; strmap_next(&r->chans, &i, &k, &v);)
                all[n++] = v;
            for (size_t i = 0; i < n; i++)
                chan_sync(r, all[i]);
            free(all);
        }
        return;
    }
    chan_t *c = strmap_get(&r->chans, channel);
    if (!c) return; /* ROOMS_CHAN's confirmation, say */
    if (strcmp(kind, "subscribe") == 0 && c->state == CH_SUBSCRIBING) {
        c->state = CH_ON;
        if (c->pins) reqs_advance(r, NULL, c);
        c = strmap_get(&r->chans, channel); /* still there: pinned or watched */
        if (c) chan_sync(r, c);
    } else if (strcmp(kind, "unsubscribe") == 0 && c->state == CH_UNSUBSCRIBING) {
        c->state = CH_OFF;
        chan_sync(r, c);
    }
}

static void on_sub_connect(const redisAsyncContext *ac, int status)
{
    redis_bus_t *r = ac->data;
    if (status != REDIS_OK) {
        if (ac == r->sub) r->sub = NULL; /* hiredis frees it */
        return;
    }
}

static void on_sub_disconnect(const redisAsyncContext *ac, int status)
{
    (void)status;
    redis_bus_t *r = ac->data;
    if (ac != r->sub) return;
    r->sub = NULL;
    r->sub_ready = 0;
    if (r->closing) return;
    log_warn(r->log, "cluster: Redis subscriber connection lost; reconnecting");
    /* Every channel is off now; the ones still wanted are subscribed again on reconnect,
     * and the ops waiting for one wait on (or time out). */
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&r->chans, &i, &k, &v);)
        ((chan_t *)v)->state = CH_OFF;
}

/* Frees the subscriber connection: every channel is off until the next one. */
static void sub_drop(redis_bus_t *r)
{
    redisAsyncContext *ac = r->sub;
    if (!ac) return;
    r->sub = NULL;
    r->sub_ready = 0;
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&r->chans, &i, &k, &v);)
        ((chan_t *)v)->state = CH_OFF;
    redisAsyncFree(ac); /* its callbacks see it is not r->sub any more */
}

static void sub_connect(redis_bus_t *r)
{
    redisAsyncContext *ac = redisAsyncConnect(r->url.host, r->url.port);
    if (!ac || ac->err) {
        if (ac) redisAsyncFree(ac);
        return;
    }
    ac->data = r;
    r->sub = ac;
    r->sub_ready = 0;
    r->sub_since = uv_now(r->loop);
    redisLibuvAttach(ac, r->loop);
    redisAsyncSetConnectCallback(ac, on_sub_connect);
    redisAsyncSetDisconnectCallback(ac, on_sub_disconnect);
    /* Channels are for every database: no SELECT needed. */
    redisAsyncCommand(ac, on_sub, r, "SUBSCRIBE %s", ROOMS_CHAN);
    redisAsyncCommand(ac, on_sub, r, "SUBSCRIBE %s", r->node_chan);
}

/* ---------- room announcements ---------- */

/* bus_vtable_t.announce: origin, 'A', the room's id and its NUL, the text. */
static void redis_announce(bus_t *b, const char *room, const char *text, size_t len)
{
    redis_bus_t *r = (redis_bus_t *)b;
    if (rooms_send(r, 'A', room, text, len) != 0)
        log_warn(r->log, "cluster: the other nodes were not told of room %s", room);
}

/* Another node's announcement: its room is known here as a stand-in from now on. */
static void got_announce(redis_bus_t *r, const uint8_t *p, size_t len)
{
    const uint8_t *nul = len > 1 && p[0] == 'A' ? memchr(p + 1, 0, len - 1) : NULL;
    if (!nul || (size_t)(nul - p) > BUS_REDIS_CHAN_MAX / 2) return;
    const char *room = (const char *)p + 1;
    if (bus_dir_home(&r->dir, room, uv_now(r->loop)) == r->base.node) return; /* ours */
    bus_dir_standin(&r->dir, room);
    const char *text = (const char *)nul + 1;
    if (r->base.room_fn) r->base.room_fn(r->base.room_ud, text, len - (size_t)(nul + 1 - p));
}

/* Another node took a room over ('T', the room's id and its NUL): its home is looked up
 * again, and this node's connections in it are told (bus_reset_fn, home_lost). Or a room's
 * home could not send some of its events ('S', the same layout: missed_announce): this
 * node's connections in it are told to resync. */
static void got_takeover(redis_bus_t *r, const uint8_t *p, size_t len)
{
    const uint8_t *nul = memchr(p + 1, 0, len - 1);
    if (!nul || len - 1 > BUS_REDIS_CHAN_MAX / 2) return;
    const char *room = (const char *)p + 1;
    if (bus_dir_home(&r->dir, room, uv_now(r->loop)) == r->base.node) return; /* ours */
    int takeover = p[0] == 'T';
    /* 'T' then "k": the new home found that every change it read was published. */
    int keep = takeover && (size_t)(nul + 1 - p) + 1 == len && nul[1] == 'k';
    if (takeover) bus_dir_forget(&r->dir, room, 0);
    if (keep && r->base.takeover.keep)
        r->base.takeover.keep(r->base.takeover.ud, room);
    else if (r->base.takeover.reset)
        r->base.takeover.reset(r->base.takeover.ud, room, takeover ? "home_lost" : "resync");
}

/* bus_vtable_t.standin: room, read here from the store, is another node's. */
static void redis_standin(bus_t *b, const char *room)
{
    redis_bus_t *r = (redis_bus_t *)b;
    if (bus_dir_home(&r->dir, room, uv_now(r->loop)) != b->node) bus_dir_standin(&r->dir, room);
}

/* ---------- events the other nodes missed ---------- */

/* An event of room (borrowed), at home here, did not reach the other nodes. */
static void missed_add(redis_bus_t *r, const char *room)
{
    if (r->missed_all || strmap_get(&r->missed, room)) return;
    if (r->missed.count >= MISSED_MAX) {
        r->missed_all = 1;
        strmap_free_all(&r->missed);
        return;
    }
    char *id = ch_strdup(room);
    strmap_put(&r->missed, id, id);
}

/* Tells the other nodes ('S', the room's id and its NUL, on ROOMS_CHAN) that room's
 * events may have missed them; 0, or -1 when it was not sent. Counted as published, so a
 * connection lost before Redis confirmed it announces again. */
static int missed_send(redis_bus_t *r, const char *room)
{
    int rc = rooms_send(r, 'S', room, NULL, 0);
    if (rc == 0) r->published++;
    return rc;
}

/* The command connection is back: every room whose events may have missed the other
 * nodes is announced, so their connections in it get room_reset (resync) there. */
static void missed_announce(redis_bus_t *r)
{
    size_t n = 0;
    if (r->missed_all) {
        const char *rooms[RENEW_BATCH];
        size_t at = 0, k;
        while ((k = bus_dir_mine(&r->dir, &at, rooms, RENEW_BATCH)) > 0)
            for (size_t i = 0; i < k; i++) {
                if (missed_send(r, rooms[i]) != 0) return; /* kept for the next connection */
                n++;
            }
        /* The ones remembered are this node's rooms, or were (fenced since: reset then). */
        const char *key;
        void *v;
        for (size_t i = 0; strmap_next(&r->missed, &i, &key, &v);) {
            if (bus_dir_home(&r->dir, key, uv_now(r->loop)) == r->base.node) continue;
            if (missed_send(r, key) != 0) return;
            n++;
        }
    } else {
        const char *key;
        void *v;
        for (size_t i = 0; strmap_next(&r->missed, &i, &key, &v);) {
            if (missed_send(r, key) != 0) return;
            n++;
        }
    }
    if (n) log_info(r->log, "cluster: %zu rooms announced for a resync (events not sent)", n);
    r->missed_all = 0;
    strmap_free_all(&r->missed);
}

/* ---------- the bus ---------- */

/* bus_vtable_t.publish: this node's subscribers now, and the topic's channel once, for
 * the other nodes with subscribers (bus.h). */
static uint32_t redis_publish(bus_t *b, bus_topic_t *t, const bus_event_t *ev)
{
    redis_bus_t *r = (redis_bus_t *)b;
    cbuf_t *m = NULL;
    char chan[BUS_REDIS_CHAN_MAX];
    /* One connection's event that is on this node goes nowhere else. Written before the
     * local delivery, which may drop the last subscriber. */
    if (t->room && !(ev->to && bus_member_node(ev->to) == b->node) &&
        topic_chan(chan, sizeof(chan), t->room, t->doc) == 0) {
        cbuf_t *wire = NULL;
        if (bus_wire_event_write(ev, &wire) == 0) m = with_origin(r, wire);
    }
    uint32_t n = bus_local_deliver(b, t, ev);
    if (m) {
        if (m->len <= r->opts.msg_max && send_to(r, chan, m) == 0) {
            r->published++;
        } else {
            r->dropped++;
            missed_add(r, t->room);
            log_debug(r->log, "cluster: an event of room %s was not sent to other nodes",
                      t->room);
        }
        cbuf_unref(m);
    }
    return n;
}

static int redis_send_op(bus_t *b, const bus_op_t *op)
{
    redis_bus_t *r = (redis_bus_t *)b;
    if (!b->serve) return -1;
    uint64_t now = uv_now(r->loop);
    if (!op->room ||
        (bus_dir_home(&r->dir, op->room, now) == b->node && !bus_dir_is_loading(&r->dir, op->room))) {
        b->serve(b->serve_ud, op); /* at home here: a direct call, as on one node */
        return 0;
    }
    if (r->nreqs >= r->opts.max_inflight) {
        bus_reply(&op->route, BUS_UNAVAILABLE, "too many ops on their way to other nodes",
                  NULL);
        return 0;
    }
    if (!r->connected || r->closing) {
        bus_reply(&op->route, BUS_UNAVAILABLE, "the cluster bus is not connected", NULL);
        return 0;
    }
    cbuf_t *wire = NULL;
    CH_ASSERT(bus_wire_op_write(op, b->node, r->next_req + 1, &wire) == 0);
    cbuf_t *msg = with_origin(r, wire);
    if (msg->len > r->opts.msg_max) {
        cbuf_unref(msg);
        bus_reply(&op->route, "payload_too_large", "the op is too large to cross nodes", NULL);
        return 0;
    }
    req_t *q = req_add(r, op->room, msg, &op->route, now);
    if (op->subscribes) {
        /* Subscribing in the answer (bus.h): the channel first, then the op. */
        char chan[BUS_REDIS_CHAN_MAX];
        if (topic_chan(chan, sizeof(chan), op->room, op->sub_doc) == 0) {
            q->pin = chan_get(r, chan);
            q->pin->pins++;
            chan_sync(r, q->pin);
        }
    }
    req_advance(r, q);
    return 0;
}

static int redis_ready(bus_t *b)
{
    const redis_bus_t *r = (const redis_bus_t *)b;
    return r->connected && r->owned && r->sub_ready;
}

static int redis_home_here(bus_t *b, const char *room)
{
    redis_bus_t *r = (redis_bus_t *)b;
    return bus_dir_home(&r->dir, room, uv_now(r->loop)) == b->node &&
           !bus_dir_is_loading(&r->dir, room);
}

static void redis_home_take(bus_t *b, const char *room)
{
    redis_bus_t *r = (redis_bus_t *)b;
    /* A new room's id is unique: its lease is this node's without asking. */
    bus_dir_set(&r->dir, room, b->node, own_until(r, uv_now(r->loop)));
    if (!r->connected) return; /* taken at the next renewal */
    char key[BUS_REDIS_CHAN_MAX], node[16], px[24];
    snprintf(key, sizeof(key), BUS_REDIS_PREFIX "room:%s:home", room);
    snprintf(node, sizeof(node), "%u", b->node);
    snprintf(px, sizeof(px), "%llu", (unsigned long long)r->opts.lease_ms);
    redisAsyncCommand(r->ac, NULL, NULL, "EVAL %s 1 %s %s %s %s", take_lua, key, node, px,
                      r->born);
    rec_home(r, room);
}

static void redis_home_drop(bus_t *b, const char *room)
{
    redis_bus_t *r = (redis_bus_t *)b;
    int mine = bus_dir_home(&r->dir, room, uv_now(r->loop)) == b->node;
    bus_dir_forget(&r->dir, room, 1);
    if (!mine || !r->connected) return;
    char key[BUS_REDIS_CHAN_MAX], node[16];
    snprintf(key, sizeof(key), BUS_REDIS_PREFIX "room:%s:home", room);
    snprintf(node, sizeof(node), "%u", b->node);
    redisAsyncCommand(r->ac, NULL, NULL, "EVAL %s 1 %s %s", drop_lua, key, node);
    rec_key(key, sizeof(key), room);
    redisAsyncCommand(r->ac, NULL, NULL, "DEL %s", key);
}

/* bus_vtable_t.record: one HSET or HDEL, sent with the events (after those published
 * before it), answered by nobody; lost while Redis is away (a takeover then restores less,
 * or resets). */
static void redis_record(bus_t *b, const char *room, const char *field, const char *value)
{
    redis_bus_t *r = (redis_bus_t *)b;
    if (!r->connected || !r->ac || r->closing) return;
    char key[BUS_REDIS_CHAN_MAX];
    rec_key(key, sizeof(key), room);
    /* An event of room that did not go out (missed): the last published seq / version
     * shows nothing any more, so that a takeover does not keep the other nodes'
     * connections (they get room_reset); written again by the next message / change
     * after the 'S' went. */
    if ((strcmp(field, "s") == 0 || strcmp(field, "v") == 0) &&
        (r->missed_all || strmap_get(&r->missed, room))) {
        field = "s";
        value = NULL;
    }
    if (value)
        redisAsyncCommand(r->ac, NULL, NULL, "HSET %s %s %s", key, field, value);
    else
        redisAsyncCommand(r->ac, NULL, NULL, "HDEL %s %s", key, field);
}

/* ---------- leases and timeouts ---------- */

typedef struct {
    redis_bus_t *r;
    uint64_t sent_at;
    size_t n;
    char *rooms[];
} renew_t;

static void on_renew(redisAsyncContext *ac, void *reply, void *ud)
{
    (void)ac;
    renew_t *rn = ud;
    redis_bus_t *r = rn->r;
    const redisReply *rep = reply;
    /* A renewal must be answered within the lease less its margin and the renewal period
     * (own_until); one answered after a quarter of the lease says the node's loop or Redis
     * is late (an overloaded box: issue 26's 100k presence run), before a lease runs out. */
    uint64_t took = uv_now(r->loop) - rn->sent_at;
    if (rep && took > r->opts.lease_ms / 4)
        log_warn(r->log, "cluster: a lease renewal was answered after %llu ms (lease %llu ms)",
                 (unsigned long long)took, (unsigned long long)r->opts.lease_ms);
    if (rep && !r->closing && rep->type == REDIS_REPLY_ARRAY && rep->elements == rn->n) {
        for (size_t i = 0; i < rn->n; i++) {
            const char *room = rn->rooms[i];
            const bus_dir_entry_t *e = strmap_get(&r->dir.map, room);
            if (!e || e->node != r->base.node) continue; /* dropped meanwhile */
            if (rep->element[i]->type == REDIS_REPLY_INTEGER && rep->element[i]->integer == 1) {
                bus_dir_set(&r->dir, room, r->base.node, own_until(r, rn->sent_at));
            } else {
                fence(r, room, "its lease is another node's now");
            }
        }
    }
    for (size_t i = 0; i < rn->n; i++)
        free(rn->rooms[i]);
    free(rn);
}

/* Renews every lease this node holds, RENEW_BATCH a script. */
static void renew(redis_bus_t *r)
{
    const char *rooms[RENEW_BATCH];
    size_t at = 0, n;
    char node[16], px[24], nkeys[24];
    snprintf(node, sizeof(node), "%u", r->base.node);
    snprintf(px, sizeof(px), "%llu", (unsigned long long)r->opts.lease_ms);
    while ((n = bus_dir_mine(&r->dir, &at, rooms, RENEW_BATCH)) > 0) {
        renew_t *rn = ch_malloc(sizeof(*rn) + n * sizeof(char *));
        rn->r = r;
        rn->sent_at = uv_now(r->loop);
        rn->n = n;
        const char **argv = ch_malloc((n + 7) * sizeof(*argv));
        size_t *lens = ch_malloc((n + 7) * sizeof(*lens));
        snprintf(nkeys, sizeof(nkeys), "%zu", n);
        argv[0] = "EVAL";
        argv[1] = renew_lua;
        argv[2] = nkeys;
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(rooms[i]);
            rn->rooms[i] = ch_malloc(len + sizeof(":home") + sizeof(BUS_REDIS_PREFIX "room:"));
            memcpy(rn->rooms[i], rooms[i], len + 1);
        }
        char **keys = ch_malloc(n * sizeof(*keys));
        for (size_t i = 0; i < n; i++) {
            size_t len = strlen(rooms[i]) + sizeof(BUS_REDIS_PREFIX "room::home");
            keys[i] = ch_malloc(len);
            snprintf(keys[i], len, BUS_REDIS_PREFIX "room:%s:home", rooms[i]);
            argv[3 + i] = keys[i];
        }
        argv[3 + n] = node;
        argv[4 + n] = px;
        argv[5 + n] = r->born;
        argv[6 + n] = r->epoch;
        for (size_t i = 0; i < n + 7; i++)
            lens[i] = strlen(argv[i]);
        if (redisAsyncCommandArgv(r->ac, on_renew, rn, (int)(n + 7), argv, lens) != REDIS_OK) {
            for (size_t i = 0; i < n; i++)
                free(rn->rooms[i]);
            free(rn);
        }
        for (size_t i = 0; i < n; i++)
            free(keys[i]);
        free(keys);
        free(argv);
        free(lens);
    }
}

static void on_ops_tick(uv_timer_t *t)
{
    redis_bus_t *r = t->data;
    uint64_t now = uv_now(r->loop);
    while (r->req_head && r->req_head->deadline <= now) {
        late_add(r, r->req_head);
        req_fail(r, r->req_head, "the room's home did not answer in time");
    }
    if (now >= r->next_lapse) {
        r->next_lapse = now + r->opts.lease_ms / 8;
        fence_lapsed(r, now);
    }
    if (r->connected && now >= r->next_renew) {
        r->next_renew = now + r->opts.lease_ms / 3;
        renew(r);
        bus_dir_sweep(&r->dir, now);
        /* Ops whose lease question got no answer (Redis went meanwhile) ask again. */
        reqs_advance(r, NULL, NULL);
    }
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
    while (r->req_head)
        req_fail(r, r->req_head, "the server is stopping");
    r->closing = 1;
    uv_close((uv_handle_t *)&r->ops, NULL);
    if (r->sub) {
        redisAsyncContext *sub = r->sub;
        r->sub = NULL;
        redisAsyncFree(sub);
    }
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
    CH_ASSERT(r->ac == NULL && r->sub == NULL && r->nreqs == 0);
    strmap_free_all(&r->chans);
    strmap_free(&r->reqs);
    strmap_free_all(&r->takes);
    strmap_free_all(&r->missed);
    while (r->late_head)
        late_pop(r);
    strmap_free(&r->late);
    bus_dir_free(&r->dir);
    free(r->live);
    free(r);
}

static const bus_vtable_t redis_vt = {
    .publish = redis_publish,
    .send_op = redis_send_op,
    .free = redis_free,
    .ready = redis_ready,
    .close = redis_close,
    .watch = redis_watch,
    .home_here = redis_home_here,
    .home_take = redis_home_take,
    .home_drop = redis_home_drop,
    .announce = redis_announce,
    .standin = redis_standin,
    .reloaded = redis_reloaded,
    .record = redis_record,
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
    /* Redis's time now, before the rooms are read from the store (claim_lua). */
    rep = redisCommand(c, "TIME");
    if (!rep || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2) {
        snprintf(err, errlen, "Redis refused TIME: %s", rep ? "unexpected reply" : c->errstr);
        goto out;
    }
    snprintf(r->born, sizeof(r->born), "%llu",
             strtoull(rep->element[0]->str, NULL, 10) * 1000 +
                 strtoull(rep->element[1]->str, NULL, 10) / 1000);
    freeReplyObject(rep);
    /* The epoch of Redis's data: made by the first node of an empty Redis (claim_lua). */
    char fresh[2 * TOKEN_BYTES + 1];
    auth_random_hex(fresh, TOKEN_BYTES);
    rep = redisCommand(c, "SET %s %s NX", BUS_REDIS_PREFIX "epoch", fresh);
    if (rep) freeReplyObject(rep);
    rep = redisCommand(c, "GET %s", BUS_REDIS_PREFIX "epoch");
    if (!rep || rep->type != REDIS_REPLY_STRING) {
        snprintf(err, errlen, "Redis refused GET: %s",
                 !rep                             ? c->errstr
                 : rep->type == REDIS_REPLY_ERROR ? rep->str
                                                  : "no epoch");
        goto out;
    }
    snprintf(r->epoch, sizeof(r->epoch), "%s", rep->str);
    freeReplyObject(rep);
    rep = NULL;
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

static uint64_t seed(void)
{
    uint64_t s;
    randombytes_buf(&s, sizeof(s));
    return s;
}

bus_t *bus_redis_new(uv_loop_t *loop, const char *url, const bus_redis_opts_t *opts, log_t *log,
                     const bus_rcv_ops_t *rcv_ops, char *err, size_t errlen)
{
    uint64_t ttl_ms = opts->node_ttl_ms;
    redis_bus_t *r = ch_calloc(1, sizeof(*r));
    if (bus_url_parse(url, &r->url, err, errlen) != 0) {
        free(r);
        return NULL;
    }
    r->loop = loop;
    r->log = log;
    r->ttl_ms = ttl_ms;
    r->opts = *opts;
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
    node_chan(r->node_chan, sizeof(r->node_chan), node);
    strmap_init(&r->chans, seed());
    strmap_init(&r->reqs, seed());
    strmap_init(&r->takes, seed());
    strmap_init(&r->missed, seed());
    strmap_init(&r->late, seed());
    bus_dir_init(&r->dir, node, seed());
    uv_timer_init(loop, &r->ops);
    r->ops.data = r;
    uv_timer_start(&r->ops, on_ops_tick, OPS_TICK_MS, OPS_TICK_MS);
    uv_unref((uv_handle_t *)&r->ops);
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
