/* bench_recv.c: fanout's receiving threads (see bench.h). A subscriber's deliveries are
 * read one `read` each, and a broadcast to N subscribers is N reads in a row: on one loop
 * the last of them waits for all the others, so the generator's own reading became most
 * of the latency it reported at 100 subscribers. The connections are made and joined on
 * the main loop, then handed over (bws_detach / bws_attach) to threads that each run a
 * loop of their own and only read; publishing, pacing and the run's control stay on the
 * main loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"
#include "util/mem.h"

struct bench_worker_s {
    bench_t *b;
    pthread_t tid;
    uv_loop_t loop;
    uv_async_t wake;    /* inbox has clients, or stopping is set */
    pthread_mutex_t mu; /* guards inbox, ninbox and stopping */
    client_t **inbox;   /* detached, waiting to be attached here */
    int ninbox;
    int stopping;
    client_t **own;     /* every subscriber handed to this thread */
    int nown;
    bench_stats_t st;
    int inited;  /* loop and wake are initialised */
    int started; /* tid is running */
};

static void worker_stop(bench_worker_t *w)
{
    for (int i = 0; i < w->nown; i++)
        if (w->own[i]->ws.state != BWS_MOVING)
            bws_close(&w->own[i]->ws);
    uv_close((uv_handle_t *)&w->wake, NULL);
}

/* Runs on the worker's loop: takes up what the main loop detached, or stops. */
static void on_wake(uv_async_t *a)
{
    bench_worker_t *w = a->data;
    bench_t *b = w->b;
    pthread_mutex_lock(&w->mu);
    int n = w->ninbox, stopping = w->stopping;
    for (int i = 0; i < n; i++) {
        client_t *c = w->inbox[i];
        if (stopping) {
            close(c->ws.moved_fd);
            c->ws.moved_fd = -1;
            c->ws.state = BWS_CLOSED;
            continue;
        }
        c->st = &w->st;
        int r = bws_attach(&c->ws, &w->loop);
        if (r < 0) {
            pthread_mutex_lock(&w->st.mu);
            w->st.failed++;
            w->st.errors++;
            pthread_mutex_unlock(&w->st.mu);
            c->dead = 1;
            fprintf(stderr, "chorus-bench: a receiving thread cannot take a connection: %s\n",
                    uv_strerror(r));
        }
    }
    w->ninbox = 0;
    pthread_mutex_unlock(&w->mu);
    if (n > 0 && !stopping) {
        atomic_fetch_add(&b->attached, n);
        uv_async_send(&b->moved);
    }
    if (stopping)
        worker_stop(w);
}

static void *worker_main(void *arg)
{
    bench_worker_t *w = arg;
    uv_run(&w->loop, UV_RUN_DEFAULT);
    return NULL;
}

/* On the main loop: c's old handle is closed; its socket goes to its thread's inbox. */
static void on_detached(bws_t *ws)
{
    client_t *c = ws->data;
    if (!c->b->workers) { /* brecv_stop ran first: the run is over */
        close(ws->moved_fd);
        ws->moved_fd = -1;
        ws->state = BWS_CLOSED;
        return;
    }
    bench_worker_t *w = &c->b->workers[c->idx % c->b->threads];
    pthread_mutex_lock(&w->mu);
    w->inbox[w->ninbox++] = c;
    pthread_mutex_unlock(&w->mu);
    uv_async_send(&w->wake);
}

int brecv_start(bench_t *b)
{
    b->workers = ch_calloc((size_t)b->threads, sizeof(bench_worker_t));
    for (int t = 0; t < b->threads; t++) { /* what brecv_stop undoes for every worker */
        bench_worker_t *w = &b->workers[t];
        w->b = b;
        w->inbox = ch_calloc((size_t)b->n, sizeof(*w->inbox));
        w->own = ch_calloc((size_t)b->n, sizeof(*w->own));
        pthread_mutex_init(&w->mu, NULL);
        pthread_mutex_init(&w->st.mu, NULL);
        w->st.shared = 1;
    }
    for (int t = 0; t < b->threads; t++) {
        bench_worker_t *w = &b->workers[t];
        if (uv_loop_init(&w->loop) < 0) {
            fprintf(stderr, "chorus-bench: cannot set up a receiving thread's loop\n");
            return -1;
        }
        if (uv_async_init(&w->loop, &w->wake, on_wake) < 0) {
            uv_loop_close(&w->loop);
            fprintf(stderr, "chorus-bench: cannot set up a receiving thread's loop\n");
            return -1;
        }
        w->wake.data = w;
        w->inited = 1;
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
            uv_close((uv_handle_t *)&w->wake, NULL);
            uv_run(&w->loop, UV_RUN_DEFAULT);
            fprintf(stderr, "chorus-bench: cannot start a receiving thread\n");
            return -1;
        }
        w->started = 1;
    }
    for (int i = 0; i < b->n; i++) {
        client_t *c = &b->cl[i];
        if (!c->sub || c->dead)
            continue;
        bench_worker_t *w = &b->workers[c->idx % b->threads];
        int r = bws_detach(&c->ws, on_detached);
        if (r < 0) {
            fprintf(stderr, "chorus-bench: cannot hand a connection to a thread: %s\n",
                    uv_strerror(r));
            return -1;
        }
        w->own[w->nown++] = c;
        b->to_move++;
    }
    return 0;
}

void brecv_stop(bench_t *b)
{
    if (!b->workers)
        return;
    for (int t = 0; t < b->threads; t++) {
        bench_worker_t *w = &b->workers[t];
        if (!w->started)
            continue;
        pthread_mutex_lock(&w->mu);
        w->stopping = 1;
        pthread_mutex_unlock(&w->mu);
        uv_async_send(&w->wake);
        pthread_join(w->tid, NULL);
        w->started = 0;
    }
    for (int t = 0; t < b->threads; t++) {
        bench_worker_t *w = &b->workers[t];
        if (w->inited && uv_loop_close(&w->loop) != 0)
            fprintf(stderr, "chorus-bench: a receiving thread's loop did not close\n");
        bench_stats_t *s = &w->st;
        b->st.errors += s->errors;
        b->st.dup += s->dup;
        b->st.lost += s->lost;
        b->st.count += s->count;
        b->st.count_all += s->count_all;
        b->st.failed += s->failed;
        bhist_merge(&b->st.hist, &s->hist);
        bhist_merge(&b->st.far, &s->far);
        pthread_mutex_destroy(&w->mu);
        pthread_mutex_destroy(&s->mu);
        for (int i = 0; i < w->nown; i++)
            w->own[i]->st = &b->st; /* not the freed thread's any more */
        free(w->inbox);
        free(w->own);
    }
    free(b->workers);
    b->workers = NULL;
}

void brecv_second(bench_t *b, uint64_t *count, bhist_t *hist, uint64_t *errors,
                  uint64_t *lost)
{
    for (int t = 0; b->workers && t < b->threads; t++) {
        bench_stats_t *s = &b->workers[t].st;
        pthread_mutex_lock(&s->mu);
        *count += s->sec_count;
        bhist_merge(hist, &s->sec_hist);
        *errors += s->errors;
        *lost += s->lost;
        s->sec_count = 0;
        bhist_reset(&s->sec_hist);
        pthread_mutex_unlock(&s->mu);
    }
}
