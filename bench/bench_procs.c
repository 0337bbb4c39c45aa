/* bench_procs.c: --procs N, the load generator split over N processes so that it is not
 * what limits a fast server: each child runs the scenario on its share of the connections
 * (rooms: of the rooms), they start their runs together once all are set up, and the
 * parent adds their counts and histograms into one report. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

/* Byte on a child's result pipe: all its connections are ready. */
#define MSG_READY 'R'
/* Byte on a child's result pipe, followed by its bench_result_t: it ended. */
#define MSG_DONE 'D'

void bench_result_of(const bench_t *b, bench_result_t *r)
{
    memset(r, 0, sizeof(*r));
    r->errors = b->st.errors;
    r->dup = b->st.dup;
    r->lost = b->st.lost;
    r->count = b->st.count;
    r->count_all = b->st.count_all;
    r->published = b->published;
    r->failed = b->st.failed;
    r->retried = b->st.retried;
    r->n = b->n;
    r->t_setup = b->t_setup;
    r->t_start = b->t_start;
    r->t_stop = b->t_stop;
    r->t_drain_end = b->t_drain_end;
    r->self_setup_cpu = b->self0.cpu_s - b->self_pre.cpu_s;
    r->self_run_cpu = b->self1.cpu_s - b->self0.cpu_s;
    r->self_rss_kib = b->self1.rss_kib;
    r->srv0 = b->srv0;
    r->srv1 = b->srv1;
    r->srv_ok = b->srv_ok;
    r->hist = b->st.hist;
}

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

static uint64_t max_u64(uint64_t a, uint64_t b)
{
    return a > b ? a : b;
}

void bench_result_merge(bench_result_t *sum, const bench_result_t *r, int first)
{
    if (first) {
        *sum = *r;
        return;
    }
    sum->errors += r->errors;
    sum->dup += r->dup;
    sum->lost += r->lost;
    sum->count += r->count;
    sum->count_all += r->count_all;
    sum->published += r->published;
    sum->failed += r->failed;
    sum->retried += r->retried;
    sum->n += r->n;
    sum->t_setup = min_u64(sum->t_setup, r->t_setup);
    if (r->t_start > sum->t_start && sum->t_start != 0)
        sum->srv0 = r->srv0; /* the server once the last part was set up */
    sum->t_start = sum->t_start == 0 || r->t_start == 0 ? 0 : max_u64(sum->t_start, r->t_start);
    if (r->t_stop > sum->t_stop) sum->srv1 = r->srv1;
    sum->t_stop = max_u64(sum->t_stop, r->t_stop);
    sum->t_drain_end = max_u64(sum->t_drain_end, r->t_drain_end);
    sum->self_setup_cpu += r->self_setup_cpu;
    sum->self_run_cpu += r->self_run_cpu;
    sum->self_rss_kib += r->self_rss_kib;
    sum->srv_ok = sum->srv_ok && r->srv_ok;
    bhist_merge(&sum->hist, &r->hist);
}

void bench_result_apply(bench_t *b, const bench_result_t *r)
{
    b->st.errors = r->errors;
    b->st.dup = r->dup;
    b->st.lost = r->lost;
    b->st.count = r->count;
    b->st.count_all = r->count_all;
    b->published = r->published;
    b->st.failed = (int)r->failed;
    b->st.retried = (int)r->retried;
    b->n = (int)r->n;
    b->t_setup = r->t_setup;
    b->t_start = r->t_start;
    b->t_stop = r->t_stop;
    b->t_drain_end = r->t_drain_end;
    /* bench_report takes differences: setup CPU is self0 - self_pre, the run's self1 - self0.
     */
    b->self_pre.cpu_s = 0;
    b->self0.cpu_s = r->self_setup_cpu;
    b->self1.cpu_s = r->self_setup_cpu + r->self_run_cpu;
    b->self1.rss_kib = r->self_rss_kib;
    b->srv0 = r->srv0;
    b->srv1 = r->srv1;
    b->srv_ok = r->srv_ok;
    b->st.hist = r->hist;
}

/* Writes or reads all of buf; returns 0, or -1 (EOF or an error). */
static int pipe_write(int fd, const void *buf, size_t n)
{
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int pipe_read(int fd, void *buf, size_t n)
{
    char *p = buf;
    while (n > 0) {
        ssize_t r = read(fd, p, n);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        p += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Part i of total split n ways: the first total % n parts get one more. */
static int share(int total, int n, int i)
{
    return total / n + (i < total % n);
}

static int first_of(int total, int n, int i)
{
    int first = 0;
    for (int k = 0; k < i; k++)
        first += share(total, n, k);
    return first;
}

/* A child: narrows b to part i. */
static void narrow(bench_t *b, int i)
{
    int n = b->procs;
    b->proc_idx = i;
    if (b->scenario == SC_ROOMS) {
        b->id_base = first_of(b->nrooms, n, i) * b->room_size;
        b->nrooms = share(b->nrooms, n, i);
    } else if (b->watch) {
        /* presence: each its share of watchers, then of movers (bench-<id_base + idx>, as
         * bpres_subscribe_msg names them), in the one room made before the fork */
        b->id_base = first_of(b->subs, n, i) + first_of(b->pubs, n, i);
        if (b->watchers >= 0) b->watchers = share(b->watchers, n, i);
        b->subs = share(b->subs, n, i);
        b->pubs = share(b->pubs, n, i);
    } else {
        b->id_base = first_of(b->conns, n, i);
        b->conns = share(b->conns, n, i);
    }
    if (b->rate > 0) b->rate /= n;
}

int bench_procs_fork(bench_t *b)
{
    int n = b->procs;
    pid_t *pids = calloc((size_t)n, sizeof(*pids));
    int *res = calloc((size_t)n, sizeof(*res));
    int *go = calloc((size_t)n, sizeof(*go));
    bench_result_t *one = malloc(sizeof(*one)), *sum = malloc(sizeof(*sum));
    if (!pids || !res || !go || !one || !sum) abort();
    bench_proc_self(&b->self_pre);
    if (b->server_pid > 0 && bench_proc_pid(b->server_pid, &b->srv_pre) < 0) b->srv_ok = 0;
    fflush(stdout);
    fflush(stderr);
    int started = 0, rc = 0;
    for (int i = 0; i < n; i++) {
        int rp[2], gp[2];
        if (pipe(rp) < 0) {
            perror("chorus-bench: pipe");
            rc = -1;
            break;
        }
        if (pipe(gp) < 0) {
            perror("chorus-bench: pipe");
            close(rp[0]);
            close(rp[1]);
            rc = -1;
            break;
        }
        pid_t pid = fork();
        if (pid < 0) {
            perror("chorus-bench: fork");
            close(rp[0]);
            close(rp[1]);
            close(gp[0]);
            close(gp[1]);
            rc = -1;
            break;
        }
        if (pid == 0) { /* the child: only its own ends */
            for (int k = 0; k < started; k++) {
                close(res[k]);
                close(go[k]);
            }
            close(rp[0]);
            close(gp[1]);
            b->res_fd = rp[1];
            b->go_fd = gp[0];
            narrow(b, i);
            free(pids);
            free(res);
            free(go);
            free(one);
            free(sum);
            return 1;
        }
        close(rp[1]);
        close(gp[0]);
        pids[i] = pid;
        res[i] = rp[0];
        go[i] = gp[1];
        started++;
    }
    signal(SIGPIPE, SIG_IGN);
    /* Every child set up (or ended, or died), then all runs start together. */
    int *state = calloc((size_t)n, sizeof(*state)); /* 0: dead, 1: ready, 2: done */
    if (!state) abort();
    int ok = rc == 0, merged = 0;
    for (int i = 0; i < started; i++) {
        char m = 0;
        if (pipe_read(res[i], &m, 1) == 0 && m == MSG_READY)
            state[i] = 1;
        else if (m == MSG_DONE && pipe_read(res[i], one, sizeof(*one)) == 0) {
            state[i] = 2;
            bench_result_merge(sum, one, !merged++);
        }
    }
    for (int i = 0; i < started; i++) {
        if (state[i] == 1 && pipe_write(go[i], "G", 1) < 0) state[i] = 0;
        close(go[i]);
    }
    for (int i = 0; i < started; i++) {
        char m = 0;
        if (state[i] == 1 && pipe_read(res[i], &m, 1) == 0 && m == MSG_DONE &&
            pipe_read(res[i], one, sizeof(*one)) == 0) {
            state[i] = 2;
            bench_result_merge(sum, one, !merged++);
        }
        close(res[i]);
        int status = 0;
        while (waitpid(pids[i], &status, 0) < 0 && errno == EINTR) {
        }
        if (state[i] != 2) {
            fprintf(stderr, "chorus-bench: generator process %d of %d gave no result\n", i + 1,
                    n);
            ok = 0;
        }
    }
    if (merged) {
        int srv_ok = b->srv_ok;
        bench_result_apply(b, sum);
        b->srv_ok = b->srv_ok && srv_ok;
    }
    if (b->scenario == SC_CONNECTIONS && b->sources == 0) /* what each one chose (setup) */
        b->sources = 1 + share(b->conns, n, 0) / 10000;
    if (!ok || merged < n) {
        b->st.failed++; /* reported as a failed run */
        if (!merged) b->t_start = 0;
    }
    free(state);
    free(pids);
    free(res);
    free(go);
    free(one);
    free(sum);
    return rc < 0 && !merged ? -1 : 0;
}

int bench_procs_ready(bench_t *b)
{
    char m = MSG_READY;
    return pipe_write(b->res_fd, &m, 1);
}

int bench_procs_go(bench_t *b)
{
    char g;
    return pipe_read(b->go_fd, &g, 1);
}

int bench_procs_send(const bench_t *b)
{
    bench_result_t *r = malloc(sizeof(*r));
    if (!r) abort();
    bench_result_of(b, r);
    char m = MSG_DONE;
    int rc =
        pipe_write(b->res_fd, &m, 1) == 0 && pipe_write(b->res_fd, r, sizeof(*r)) == 0 ? 0 : -1;
    free(r);
    close(b->res_fd);
    return rc;
}
