/* bench.h: the load generator's state, shared by its run (chorus_bench.c) and its report
 * (bench_report.c). Internal to chorus-bench. */
#ifndef CHORUS_BENCH_H
#define CHORUS_BENCH_H

#include <netinet/in.h>
#include <stdio.h>
#include <stdint.h>
#include <uv.h>

#include "auth_jwt.h"
#include "bench_hist.h"
#include "bench_util.h"
#include "bench_ws.h"

enum { SC_ECHO, SC_FANOUT, SC_ROOMS, SC_CONNECTIONS, SC_JOINSTORM, SC_COUNT };
enum { PH_SETUP, PH_RUN, PH_DRAIN, PH_DONE };

typedef struct bench_s bench_t;

typedef struct {
    bws_t ws;
    bench_t *b;
    int idx;
    int room;         /* index into bench_t.rooms (not echo) */
    int slot;         /* publisher number within its room, -1 when it does not publish */
    int sub;          /* receives and checks deliveries */
    int ready;        /* connected (echo) or joined */
    int dead;         /* failed or closed by the server */
    int busy;         /* join-storm: an attempt is in flight (connect .. socket closed) */
    uint64_t ref;     /* last ref sent */
    uint64_t sent_at; /* echo: send time of the one in flight (0: none); join: connect time */
    uint64_t seq;     /* publisher: messages sent so far (next seq) */
    uint64_t acked;   /* publisher: acknowledged */
    uint64_t *expect; /* subscriber: per publisher slot of its room, the next seq expected */
    char *path;       /* join-storm: the upgrade path, token minted once per slot */
} client_t;

struct bench_s {
    /* options */
    int scenario;
    int target; /* BPROTO_* */
    char host[64];
    int port;
    const char *secret;
    const char *room_opt;
    double duration;
    int conns, subs, pubs, window, size, json;
    int nrooms, room_size, sources;
    double rate;
    int server_pid;

    uv_loop_t *loop;
    auth_jwt_t *jwt;
    struct sockaddr_storage addr;
    struct sockaddr_in *src; /* sources local addresses 127.0.0.2.. (NULL: no bind) */
    char (*rooms)[64];       /* room ids */
    char *pad;               /* --size filler */

    client_t *cl;
    int n;
    int npubs; /* clients that publish (fanout, rooms) */
    int next_connect, connecting;
    int ready, failed;
    int phase;
    uint64_t errors;    /* error replies, parse errors, failures */
    uint64_t dup;       /* messages seen twice or out of order */
    uint64_t lost;
    uint64_t count;     /* round trips, deliveries or joins in the run window */
    uint64_t count_all; /* including the drain */
    uint64_t published; /* fanout, rooms: sent in the run window */
    uint64_t sec_count, sec_pub;
    bhist_t hist, sec_hist;
    uint64_t t_setup, t_start, t_stop, t_drain_end;
    int ticks;
    uv_timer_t tick, stop, check;
    uv_poll_t pace;     /* --rate: on pace_fd, a timerfd */
    int pace_fd;        /* -1 until the run starts with --rate */
    bench_proc_t self_pre, srv_pre; /* before connecting (connections: setup CPU, memory) */
    bench_proc_t self0, self1, srv0, srv1;
    int srv_ok;
    int printed_errors;
};

/* bench_setup.c */
/* Parses the command line into b (zeroed). Returns 0, or -1 for a usage error. */
int bench_parse_args(bench_t *b, int argc, char **argv);
void bench_usage(FILE *f);
/* Creates the rooms (over REST on Chorus), the clients and their roles; raises the
 * descriptor limit. Returns 0, or -1 after saying why on stderr. */
int bench_setup(bench_t *b);

/* chorus_bench.c */
/* Mints c's token and writes its upgrade path into path[cap]. Returns 0 or -1. */
int bench_client_path(bench_t *b, client_t *c, char *path, size_t cap);
/* The scenario's name as on the command line (static). */
const char *bench_scenario_name(int scenario);
/* bench_report.c */
/* Prints the result table, or one JSON object with --json, on stdout. */
void bench_report(bench_t *b);
/* 1 when the run had no error, loss, duplicate or failed connection and got to run. */
int bench_ok(const bench_t *b);

#endif
