/* bench_setup.c: chorus-bench's command line, and the rooms, roles and tokens of a run. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <uv.h>

#include "bench.h"
#include "bench_proto.h"
#include "util/mem.h"

/* Descriptors kept beside the connections (loop, files, the REST calls). */
#define FD_SPARE 64

/* Creates room i over REST (Chorus) with a fresh host user, capacity cap; the peers create
 * rooms on the first join, so they only get a fresh name. Returns 0 or -1. */
static int create_room(bench_t *b, int i, int cap)
{
    if (!bproto_is_chorus(b->target)) {
        snprintf(b->rooms[i], sizeof(b->rooms[i]), "bench-%d-%d", (int)uv_os_getpid(), i);
        return 0;
    }
    auth_claims_t claims;
    memset(&claims, 0, sizeof(claims));
    /* A fresh host per room: a user may host only a few live rooms (--room-max-hosted). */
    snprintf(claims.sub, sizeof(claims.sub), "bench-host-%ld-%d-%d", (long)time(NULL),
             (int)uv_os_getpid(), i);
    char *tok = auth_jwt_mint(b->jwt, &claims, (int64_t)time(NULL), 3600);
    if (!tok)
        return -1;
    char body[256];
    snprintf(body, sizeof(body), "{\"name\":\"bench\",\"maxParticipants\":%d}", cap);
    char *resp = NULL;
    int status = bench_http_post(&b->addr, b->tls_ctx, "/api/rooms/create", tok, body, &resp);
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
    if (!id || strlen(id) >= sizeof(b->rooms[i])) {
        json_decref(j);
        fprintf(stderr, "chorus-bench: no room id in the create response\n");
        return -1;
    }
    snprintf(b->rooms[i], sizeof(b->rooms[i]), "%s", id);
    json_decref(j);
    return 0;
}

int bench_one_room(bench_t *b)
{
    int presence = b->scenario == SC_FANOUT && b->watch;
    if (b->procs < 2 || b->room_opt ||
        (!presence && (b->scenario != SC_CONNECTIONS || b->room_size < b->conns)))
        return 0;
    char (*saved)[64] = b->rooms;
    b->rooms = &b->one_room;
    int r = create_room(b, 0, (presence ? b->subs + b->pubs : b->conns) + 1);
    b->rooms = saved;
    if (r == 0) b->room_opt = b->one_room;
    return r;
}

void bench_usage(FILE *f)
{
    fprintf(
        f,
        "usage: chorus-bench echo|fanout|rooms|connections|join-storm --secret S [options]\n"
        "       chorus-bench jitter [--duration D] [--json]   this machine's CPU stalls\n"
        "  --target T        chorus (default), ws or socketio (the peers in bench/peers), or\n"
        "                    chorus-sio (Chorus's /socket.io/ as a Socket.IO client: echo, "
        "fanout)\n"
        "  --host H          server address, loopback only (127.0.0.1)\n"
        "  --port P          server port (8080)\n"
        "  --ports P,P,...   several servers (a cluster's nodes, at most 16): connections\n"
        "                    go to them round robin; rooms are made on the first\n"
        "  --setup-limit S   seconds allowed to connect and join everyone (120)\n"
        "  --secret S        the server's HS256 --jwt-secret (tokens bench-0..bench-N)\n"
        "  --duration D      seconds of measurement (5)\n"
        "  --json            print one JSON object instead of the table\n"
        "  --tls             https:// and wss:// (the server runs with --tls-cert)\n"
        "  --server-pid PID  report the server's CPU time and memory from /proc\n"
        "  --size M          filler bytes in each message, 0..4000 (0)\n"
        "  --sources S       bind connections to S addresses from 127.0.0.2, round robin\n"
        "                    (--procs: each process its own S; default one per 10,000)\n"
        "  --procs N         split the connections (rooms: the rooms) between N generator\n"
        "                    processes and report their sum (1; not fanout; presence:\n"
        "                    each its share of watchers and movers in one room, a\n"
        "                    watcher watching movers of its own process)\n"
        " echo, join-storm:\n"
        "  --connections K   connections, one request in flight each (50)\n"
        " fanout:\n"
        "  --subscribers N   (100)\n"
        "  --publishers P    (1)\n"

        "  --threads T       threads that read the subscribers' deliveries (0: the main\n"
        "                    loop reads them as well as publishing)\n"
        " fanout, connections:\n"
        "  --room ID         every connection joins this room (else rooms are created\n"
        "                    over REST; connections with --procs and --room-size at least\n"
        "                    --connections: one room, made before the processes fork)\n"
        " fanout, rooms:\n"
        "  --window W        unacknowledged messages per publisher (fanout 16, rooms 4)\n"
        "  --rate R          total messages per second instead of as fast as possible\n"
        " rooms, connections:\n"
        "  --rooms R         rooms (rooms: 10)\n"
        "  --room-size S     participants per room (rooms: 10, connections: 100)\n"
        " connections:\n"
        "  --connections N   idle joined connections to open (1000); the run holds them\n"
        "                    for --duration and reports server memory per connection\n");
}

/* --ports: a comma-separated list of 1..BENCH_PORTS_MAX ports. Returns 0 or -1. */
static int parse_ports(bench_t *b, const char *v)
{
    b->nports = 0;
    for (const char *p = v; *p;) {
        char *end;
        long port = strtol(p, &end, 10);
        if (end == p || port < 1 || port > 65535 || b->nports == BENCH_PORTS_MAX) return -1;
        b->ports[b->nports++] = (int)port;
        if (*end == ',' && end[1])
            end++;
        else if (*end)
            return -1;
        p = end;
    }
    return b->nports ? 0 : -1;
}

int bench_parse_args(bench_t *b, int argc, char **argv)
{
    snprintf(b->host, sizeof(b->host), "127.0.0.1");
    b->port = 8080;
    b->duration = 5;
    b->conns = -1;
    b->subs = 100;
    b->pubs = 1;
    b->window = -1;
    b->nrooms = 10;
    b->room_size = -1;
    b->threads = 0;
    b->procs = 1;
    b->res_fd = b->go_fd = -1;
    b->setup_limit_s = 120;
    if (argc < 2)
        return -1;
    b->scenario = -1;
    for (int s = 0; s < SC_COUNT; s++)
        if (strcmp(argv[1], bench_scenario_name(s)) == 0)
            b->scenario = s;
    if (b->scenario < 0)
        return -1;
    for (int i = 2; i < argc; i++) {
        const char *o = argv[i];
        if (strcmp(o, "--json") == 0) {
            b->json = 1;
            continue;
        }
        if (strcmp(o, "--tls") == 0) {
            b->tls = 1;
            continue;
        }
        if (i + 1 >= argc)
            return -1;
        const char *v = argv[++i];
        if (strcmp(o, "--host") == 0)
            snprintf(b->host, sizeof(b->host), "%s", v);
        else if (strcmp(o, "--target") == 0)
            b->target = bproto_target(v);
        else if (strcmp(o, "--port") == 0)
            b->port = atoi(v);
        else if (strcmp(o, "--ports") == 0) {
            if (parse_ports(b, v) < 0) return -1;
        } else if (strcmp(o, "--setup-limit") == 0)
            b->setup_limit_s = atoi(v);
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
        else if (strcmp(o, "--rooms") == 0)
            b->nrooms = atoi(v);
        else if (strcmp(o, "--room-size") == 0)
            b->room_size = atoi(v);
        else if (strcmp(o, "--sources") == 0)
            b->sources = atoi(v);
        else if (strcmp(o, "--threads") == 0)
            b->threads = atoi(v);
        else if (strcmp(o, "--server-pid") == 0)
            b->server_pid = atoi(v);
        else if (strcmp(o, "--procs") == 0)
            b->procs = atoi(v);
        else
            return -1;
    }
    if (b->nports == 0) b->ports[b->nports++] = b->port;
    b->port = b->ports[0];
    if (b->conns < 0)
        b->conns = b->scenario == SC_CONNECTIONS ? 1000 : 50;
    if (b->window < 0)
        b->window = b->scenario == SC_ROOMS ? 4 : 16;
    if (b->room_size < 0)
        b->room_size = b->scenario == SC_CONNECTIONS ? 100 : 10;
    if (!b->secret || b->target < 0 || b->duration <= 0 || b->conns < 1 || b->subs < 1 ||
        b->pubs < 1 || b->window < 1 || b->rate < 0 || b->size < 0 || b->size > 4000 ||
        b->nrooms < 1 || b->room_size < 2 || b->sources < 0 || b->sources > 250 ||
        b->threads < 0 || b->threads > 64 || b->procs < 1 || b->procs > 64 ||
        b->setup_limit_s < 1)
        return -1;
    if (b->procs > 1 && b->scenario == SC_FANOUT && !b->watch) {
        fprintf(stderr, "chorus-bench: --procs runs echo, rooms, join-storm, connections and "
                        "presence, not fanout (its room's publishers would be in one process)\n");
        return -1;
    }
    if (b->watch && b->watchers > b->subs) {
        fprintf(stderr, "chorus-bench: --watchers is at most --subscribers\n");
        return -1;
    }
    if (b->procs > 1 && b->watch && (b->subs < b->procs || b->pubs < b->procs ||
                                     (b->watchers >= 0 && b->watchers < b->procs))) {
        fprintf(stderr, "chorus-bench: presence --procs %d needs at least as many watchers "
                        "and movers\n", b->procs);
        return -1;
    }
    if (b->procs > 1 && b->scenario == SC_ROOMS && b->nrooms < b->procs) {
        fprintf(stderr, "chorus-bench: --procs %d needs at least as many --rooms\n", b->procs);
        return -1;
    }
    if (b->procs > 1 && b->scenario != SC_ROOMS && !b->watch && b->conns < b->procs) {
        fprintf(stderr, "chorus-bench: --procs %d needs at least as many --connections\n",
                b->procs);
        return -1;
    }
    if (b->target == BPROTO_CHORUS_SIO && b->scenario != SC_ECHO && b->scenario != SC_FANOUT) {
        fprintf(stderr, "chorus-bench: --target chorus-sio runs echo and fanout only, not %s\n",
                bench_scenario_name(b->scenario));
        return -1;
    }
    return 0;
}

/* Raises the descriptor limit to its hard maximum; returns 0 when n connections fit. */
static int raise_nofile(int n)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
        return -1;
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if (rl.rlim_cur != RLIM_INFINITY && (rlim_t)n + FD_SPARE > rl.rlim_cur) {
        fprintf(stderr,
                "chorus-bench: %d connections need %d descriptors, the hard limit is %llu "
                "(raise it: ulimit -Hn, /etc/security/limits.conf, or LimitNOFILE=)\n",
                n, n + FD_SPARE, (unsigned long long)rl.rlim_cur);
        return -1;
    }
    return 0;
}

int bench_setup(bench_t *b)
{
    int cap = 0;
    switch (b->scenario) {
    case SC_ECHO:
        b->n = b->conns;
        b->nrooms = 0;
        break;
    case SC_FANOUT:
        b->n = b->subs + b->pubs;
        b->nrooms = 1;
        cap = b->n + 1;
        break;
    case SC_ROOMS:
        b->n = b->nrooms * b->room_size;
        cap = b->room_size + 1;
        break;
    case SC_CONNECTIONS:
        b->n = b->conns;
        /* --room (or one room made before --procs forked): every connection joins it */
        b->nrooms = b->room_opt ? 1 : (b->n + b->room_size - 1) / b->room_size;
        cap = b->room_size + 1;
        if (b->sources == 0)
            /* 28k ephemeral ports per source address and destination, but connect() tries
             * the even half first and walks all of it once that is full (the generator then
             * spent two thirds of its time in __inet_check_established and crawled): 10,000 */
            b->sources = 1 + b->n / 10000;
        break;
    default: /* join-storm: every slot is its own user in one room */
        b->n = b->conns;
        b->nrooms = 1;
        cap = b->n + 1;
        break;
    }
    if (raise_nofile(b->n) < 0)
        return -1;
    if (b->sources > 0) {
        b->src = ch_calloc((size_t)b->sources, sizeof(*b->src));
        for (int i = 0; i < b->sources; i++) {
            char ip[32];
            /* --procs children each their own addresses: their connections go to the same
             * ports, so they would share one address's ports otherwise */
            snprintf(ip, sizeof(ip), "127.0.0.%d", 2 + (b->proc_idx * b->sources + i) % 250);
            uv_ip4_addr(ip, 0, &b->src[i]);
        }
    }
    b->rooms = ch_calloc((size_t)(b->nrooms > 0 ? b->nrooms : 1), sizeof(*b->rooms));
    if (b->room_opt && (b->scenario == SC_FANOUT || b->scenario == SC_CONNECTIONS)) {
        if (strlen(b->room_opt) >= sizeof(b->rooms[0]) || strpbrk(b->room_opt, "\"\\")) {
            fprintf(stderr, "chorus-bench: bad --room\n");
            return -1;
        }
        snprintf(b->rooms[0], sizeof(b->rooms[0]), "%s", b->room_opt);
    } else {
        for (int i = 0; i < b->nrooms; i++)
            if (create_room(b, i, cap) < 0)
                return -1;
    }
    b->cl = ch_calloc((size_t)b->n, sizeof(client_t));
    int pubs = b->scenario == SC_ROOMS ? b->room_size : b->pubs;
    for (int i = 0; i < b->n; i++) {
        client_t *c = &b->cl[i];
        c->b = b;
        c->idx = i;
        c->slot = -1;
        c->ws.state = BWS_CLOSED;
        c->ws.moved_fd = -1;
        c->st = &b->st;
        if (b->scenario == SC_FANOUT) {
            c->sub = i < b->subs;
            c->slot = i < b->subs ? -1 : i - b->subs;
        } else if (b->scenario == SC_ROOMS) {
            c->room = i / b->room_size;
            c->slot = i % b->room_size;
            c->sub = 1;
        } else if (b->scenario == SC_CONNECTIONS) {
            c->room = b->room_opt ? 0 : i / b->room_size;
        }
        if (c->sub)
            c->expect = (_Atomic uint64_t *)ch_calloc((size_t)pubs, sizeof(*c->expect));
        b->npubs += c->slot >= 0;
        if (b->scenario == SC_JOINSTORM) {
            char path[1024];
            if (bench_client_path(b, c, path, sizeof(path)) < 0) {
                fprintf(stderr, "chorus-bench: cannot mint a token\n");
                return -1;
            }
            c->path = ch_strdup(path);
        }
    }
    return 0;
}
