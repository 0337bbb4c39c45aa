/* bench.h: the load generator's state, shared by its run (chorus_bench.c) and its report
 * (bench_report.c). Internal to chorus-bench. */
#ifndef CHORUS_BENCH_H
#define CHORUS_BENCH_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdint.h>
#include <uv.h>

#include <openssl/ssl.h>

#include "auth/auth_jwt.h"
#include "bench_hist.h"
#include "bench_util.h"
#include "bench_ws.h"

enum { SC_ECHO, SC_FANOUT, SC_ROOMS, SC_CONNECTIONS, SC_JOINSTORM, SC_COUNT };
enum { PH_SETUP, PH_RUN, PH_DRAIN, PH_DONE };

/* --ports: at most this many servers (a cluster's nodes) to spread connections over. */
#define BENCH_PORTS_MAX 16

typedef struct bench_s bench_t;
typedef struct bench_worker_s bench_worker_t;

/* What the receivers count. The main loop has one (bench_t.st) and so has each receiving
 * thread; a thread's is guarded by mu (shared = 1) while it runs, because the main loop
 * reads it for the progress line, and is added into the main one when the thread is done:
 * bench_report reads bench_t.st only. */
typedef struct {
    pthread_mutex_t mu;
    int shared;
    uint64_t errors;    /* error replies, parse errors, failures */
    uint64_t dup;       /* messages seen twice or out of order */
    uint64_t lost;
    uint64_t count;     /* round trips, deliveries or joins in the run window */
    uint64_t count_all; /* including the drain */
    uint64_t sec_count;
    int failed;         /* connections that failed or were closed by the server */
    int retried;        /* connections: closes by the server taken up again (bench_retry) */
    int printed_errors;
    bhist_t hist, sec_hist;
    bhist_t far; /* --ports: deliveries to clients not on the first port (another node) */
} bench_stats_t;

typedef struct client_s {
    bws_t ws;
    bench_t *b;
    int idx;
    int room;         /* index into bench_t.rooms (not echo) */
    int slot;         /* publisher number within its room, -1 when it does not publish */
    int sub;          /* receives and checks deliveries */
    int ready;        /* connected (echo) or joined */
    atomic_int dead;  /* failed or closed by the server (read by the main loop's checks) */
    int busy;         /* join-storm: an attempt is in flight (connect .. socket closed) */
    uint64_t ref;     /* last ref sent */
    uint64_t sent_at; /* echo: send time of the one in flight (0: none); join: connect time */
    uint64_t seq;     /* publisher: messages sent so far (next seq) */
    uint64_t acked;   /* publisher: acknowledged */
    /* subscriber: per publisher slot of its room, the next seq expected; written by the
     * thread that receives, read by the main loop's drain check */
    _Atomic uint64_t *expect;
    bench_stats_t *st; /* where its receipts count: bench_t.st or its thread's */
    char *path;       /* join-storm: the upgrade path, token minted once per slot */
    char *token;      /* chorus-sio: the token CONNECT carries (owned), minted with the path */
    int retries;      /* connections: times the server closed it and it connected again */
    int retry_due;    /* connections: a new attempt waits in bench_t.retry_head */
    uint64_t retry_at; /* ... due then (uv_hrtime) */
    struct client_s *retry_next;
} client_t;

struct bench_s {
    /* options */
    int scenario;
    int target; /* BPROTO_* */
    char host[64];
    int port;
    int ports[BENCH_PORTS_MAX]; /* --ports (else port alone): connections round robin */
    int nports;
    int setup_limit_s; /* --setup-limit: seconds to connect and join everyone (120) */
    const char *secret;
    const char *room_opt;
    double duration;
    int conns, subs, pubs, window, size, json;
    int nrooms, room_size, sources;
    double rate;
    int server_pid;
    int threads; /* fanout: receiving threads (0: subscribers stay on the main loop) */
    int procs;   /* --procs: generator processes (bench_procs.c); 1: this one alone */
    int id_base; /* a child's first user number (bench-<id_base + idx>); 0 otherwise */
    int proc_idx; /* a child's number among the --procs children (0..procs-1); 0 otherwise */
    int res_fd;  /* a child's pipe to the parent (its readiness, then its result); -1: none */
    int go_fd;   /* a child's pipe from the parent: the run starts when it is readable */
    int tls;     /* --tls: https:// and wss:// */
    int watch;   /* the presence scenario (bench_presence.c): movers each watcher watches;
                    0: not that scenario */
    int watchers; /* presence: the first this many subscribers watch, the rest (idle members
                     of the room) watch nobody; -1: all of them */
    SSL_CTX *tls_ctx; /* owned with tls: the client context (no verification: a benchmark) */

    uv_loop_t *loop;
    auth_jwt_t *jwt;
    struct sockaddr_storage addr; /* ports[0]'s: REST (rooms are made there) */
    struct sockaddr_storage addrs[BENCH_PORTS_MAX];
    struct sockaddr_in *src; /* sources local addresses 127.0.0.2.. (NULL: no bind) */
    char (*rooms)[64];       /* room ids */
    char one_room[64];       /* bench_one_room's room (room_opt then points here) */
    char *pad;               /* --size filler */

    client_t *cl;
    int n;
    int npubs; /* clients that publish (fanout, rooms) */
    int next_connect, connecting;
    int ready;
    int all_ready;      /* every connection was ready once: the run is started or starting */
    client_t *retry_head; /* connections: closed by the server, waiting to connect again */
    atomic_int phase;   /* PH_*: written by the main loop, read by receiving threads too */
    bench_stats_t st;
    uint64_t published; /* fanout, rooms: sent in the run window */
    uint64_t sec_pub;
    /* fanout with --threads: subscribers move to the receiving threads before the run */
    bench_worker_t *workers;
    int to_move;         /* subscribers handed over */
    atomic_int attached; /* ... and taken up by their thread (or failed to be) */
    uv_async_t moved;    /* a thread took some up */
    int moved_on;        /* moved is initialised */
    uint64_t t_setup, t_start, t_stop, t_drain_end;
    int ticks;
    uv_timer_t tick, stop, check;
    uv_poll_t go;       /* a child of --procs, set up: on go_fd, the parent's "start" */
    int go_on;          /* go is initialised (closed at the end) */
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

/* connections with --procs whose --room-size holds every connection, or presence with
 * --procs: creates that one room before the processes fork, so that all of them join it
 * (b->room_opt). Returns 0 (also
 * when there is nothing to do) or -1 after saying why on stderr. */
int bench_one_room(bench_t *b);

/* chorus_bench.c */
/* Mints c's token and writes its upgrade path into path[cap]. Returns 0 or -1. */
int bench_client_path(bench_t *b, client_t *c, char *path, size_t cap);
/* The scenario's name as on the command line (static). */
const char *bench_scenario_name(int scenario);
/* bench_recv.c: fanout's receiving threads */
/* Starts b->threads threads, each running its own loop, and hands every subscriber over
 * to one of them (round robin); when all are taken up, b->moved wakes the main loop.
 * Returns 0, or -1 after saying why on stderr. */
int brecv_start(bench_t *b);
/* Closes the threads' connections, joins them and adds their counts into b->st. Safe to
 * call when none was started. */
void brecv_stop(bench_t *b);
/* Adds what the threads counted in the last second into *count and *hist, resets that,
 * and adds their error and lost totals so far into *errors and *lost. */
void brecv_second(bench_t *b, uint64_t *count, bhist_t *hist, uint64_t *errors,
                  uint64_t *lost);

/* bench_procs.c: --procs, the generator split over processes */
/* What a child sends its parent at the end: its counts, times and CPU. */
typedef struct {
    uint64_t errors, dup, lost, count, count_all, published;
    int64_t failed, retried, n;
    uint64_t t_setup, t_start, t_stop, t_drain_end; /* uv_hrtime: one clock for all */
    double self_setup_cpu, self_run_cpu;            /* seconds */
    long self_rss_kib;
    bench_proc_t srv0, srv1; /* the server when the run started and when it stopped */
    int srv_ok;
    bhist_t hist;
} bench_result_t;
/* Fills r (zeroed first) from the finished run b (borrowed). */
void bench_result_of(const bench_t *b, bench_result_t *r);
/* Adds r (borrowed) into sum: counts and histograms added, the earliest setup start, the
 * latest run start (the run of the whole is from when the last process started to when
 * the last one stopped), the latest stop, CPU added; the server as the last process to
 * start and the last to stop saw it. A part that never ran (t_start 0) leaves
 * sum->t_start 0: the whole did not run. first: sum is empty (r is copied). */
void bench_result_merge(bench_result_t *sum, const bench_result_t *r, int first);
/* Puts the merged result r into b for bench_report (b->n and the counts become the sum). */
void bench_result_apply(bench_t *b, const bench_result_t *r);
/* With b->procs > 1, before the loop exists: forks b->procs children. Returns 1 in each
 * child, with b narrowed to its share (connections, or rooms; --rate split too), its user
 * numbers after the others' and its pipes set; returns 0 in the parent once every child
 * ended, with their merged result in b (bench_report it); -1 when a fork or pipe failed. */
int bench_procs_fork(bench_t *b);
/* A child whose connections are all ready: tells the parent. The parent answers on
 * b->go_fd once every child is, so the runs start together; the child's loop keeps running
 * meanwhile (its connections answer the server's pings: a child blocked in read() here was
 * dropped for "no pong" while a slower sibling was still joining). Returns 0, or -1 when
 * the parent is gone. */
int bench_procs_ready(bench_t *b);
/* The parent's start byte, once b->go_fd is readable. Returns 0, or -1 when the parent is
 * gone. */
int bench_procs_go(bench_t *b);
/* A child at the end: sends its result to the parent. Returns 0 or -1. */
int bench_procs_send(const bench_t *b);

/* bench_report.c */
/* Prints the result table, or one JSON object with --json, on stdout. */
void bench_report(bench_t *b);
/* 1 when the run had no error, loss, duplicate or failed connection and got to run. */
int bench_ok(const bench_t *b);

#endif
