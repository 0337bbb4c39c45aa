/* store.c: the backend-independent store: worker thread, group commit, loop callbacks. */
#include "store/store.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/mem.h"

/* At most this many requests run in one transaction. A commit's fsync cost is shared by
 * the whole batch, but every callback of a batch waits for its commit: 256 keeps one burst
 * from delaying the first callbacks behind thousands of later requests. */
#define STORE_BATCH_MAX 256

/* An idle worker checks a backend that can be checked (store_backend_t.ping) this often,
 * so a lost database is noticed, and its return seen, without waiting for a write: 1 s
 * keeps /healthz within a second or two of the truth for one cheap query a second. */
#define STORE_PING_NS 1000000000ULL

/* The request latency histogram's bounds: 100 us to 1 s (a commit's fsync is ~1 ms on an
 * SSD; past a second the store is in trouble). */
static const uint64_t store__latency_bounds[] = {
    100000,   250000,   500000,    1000000,   2500000,   5000000,   10000000,
    25000000, 50000000, 100000000, 250000000, 500000000, 1000000000};
/* The group-commit size histogram's bounds, powers of two up to STORE_BATCH_MAX. */
static const uint64_t store__batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};

/* A FIFO of requests linked through req->next. */
typedef struct {
    store_req_t *head;
    store_req_t *tail;
} store__queue_t;

/* Threading: fields under "mu" are shared by the loop thread and the worker and only
 * touched with mu held. Fields under "loop thread" are never touched by the worker. The
 * backend connection belongs to the worker between thread start and join. */
struct store_s {
    const store_backend_t *be;
    void *conn;
    log_t *log;      /* borrowed */
    uv_loop_t *loop; /* borrowed */
    /* Heap-allocated, not embedded: store_close frees st at once while libuv still
     * holds the handle until its close callback, which frees it. */
    uv_async_t *async;
    uv_idle_t *more; /* runs the callbacks left in ready, a slice an iteration; heap for
                      * the same reason as async */
    uv_thread_t worker;

    uv_mutex_t mu;
    uv_cond_t cond;         /* signalled when pending grows or stopping is set */
    store__queue_t pending; /* mu: submitted, not yet taken by the worker */
    store__queue_t done;    /* mu: finished (err set), callbacks not yet run */
    int stopping;           /* mu: the worker finishes pending, then exits */
    int failing;            /* mu: the last transaction or check failed (store_ready) */

    store__queue_t ready; /* loop thread: taken from done, callbacks not yet run */
    uint64_t budget_ns;   /* loop thread: a slice's time (0: no limit) */
    size_t outstanding; /* loop thread: submitted and callback not yet run */
    int closing;        /* loop thread (read and written with mu held too) */
    int dispatching;    /* loop thread: inside store__dispatch */
    store_stat_t stat;  /* loop thread */
};

static void store__queue_push(store__queue_t *q, store_req_t *req)
{
    req->next = NULL;
    if (q->tail)
        q->tail->next = req;
    else
        q->head = req;
    q->tail = req;
}

/* Detaches and returns the whole list (NULL when empty). */
static store_req_t *store__queue_take_all(store__queue_t *q)
{
    store_req_t *all = q->head;
    q->head = q->tail = NULL;
    return all;
}

/* Appends a NULL-terminated list to q. */
static void store__queue_append(store__queue_t *q, store_req_t *first, store_req_t *last)
{
    if (!first) return;
    if (q->tail)
        q->tail->next = first;
    else
        q->head = first;
    q->tail = last;
}

/* ---- worker thread ---- */

static void store__fail_batch(store_req_t *batch, int err)
{
    for (store_req_t *r = batch; r; r = r->next)
        r->err = err;
}

/* Runs one batch in one transaction. Only STORE_EIO aborts it: ENOTFOUND, EEXISTS and
 * ELIMIT are answers, a write of a room another node took over (EFENCED) is answered EIO
 * alone, and the backend guarantees a request failing that way left no change behind
 * (store.h, "Atomicity": savepoints; "Fencing"), so the rest of the batch still commits.
 * Returns 0 when the transaction committed, else STORE_EIO (every request failed). */
static int store__run_batch(store_t *st, store_req_t *batch, size_t n)
{
    const store_backend_t *be = st->be;
    if (be->begin(st->conn) != 0) {
        log_error(st->log, "store: cannot begin a transaction; %zu requests fail", n);
        store__fail_batch(batch, STORE_EIO);
        return STORE_EIO;
    }
    for (store_req_t *r = batch; r; r = r->next) {
        r->err = STORE_OK;
        be->exec(st->conn, r);
        if (r->err == STORE_EFENCED) { /* refused alone: the batch goes on */
            r->err = STORE_EIO;
            continue;
        }
        if (r->err == STORE_EIO) {
            be->rollback(st->conn);
            log_error(st->log, "store: transaction rolled back; %zu requests fail", n);
            store__fail_batch(batch, STORE_EIO);
            return STORE_EIO;
        }
    }
    if (be->commit(st->conn) != 0) {
        be->rollback(st->conn);
        log_error(st->log, "store: commit failed; %zu requests fail", n);
        store__fail_batch(batch, STORE_EIO);
        return STORE_EIO;
    }
    return 0;
}

/* The idle check: the backend's ping, or without one whether a transaction can begin
 * (so a store failing after a failed batch, SQLite's disk full or locked, turns ready
 * again once it could write, without waiting for a client's write). Returns 1 when failing. */
static int store__check(store_t *st)
{
    if (st->be->ping) return st->be->ping(st->conn) != 0;
    if (st->be->begin(st->conn) != 0) return 1;
    st->be->rollback(st->conn);
    return 0;
}

/* Waits (mu held) until there is work or stopping is set. Every STORE_PING_NS without
 * either, checks the backend (store__check) when it has a ping or is failing, mu released
 * meanwhile; after the first STORE_PING_NS without work, lets a backend with a trim give
 * back its caches once (then, healthy and without a ping, it sleeps until work comes). */
static void store__idle(store_t *st)
{
    int trimmed = !st->be->trim;
    while (!st->pending.head && !st->stopping) {
        if (!st->be->ping && !st->failing && trimmed) {
            uv_cond_wait(&st->cond, &st->mu);
            continue;
        }
        if (uv_cond_timedwait(&st->cond, &st->mu, STORE_PING_NS) != UV_ETIMEDOUT) continue;
        if (st->pending.head || st->stopping) break;
        uv_mutex_unlock(&st->mu);
        if (!trimmed) st->be->trim(st->conn);
        trimmed = 1;
        int failing = st->be->ping || st->failing ? store__check(st) : 0;
        uv_mutex_lock(&st->mu);
        st->failing = failing;
    }
}

static void store__worker(void *arg)
{
    store_t *st = arg;
    uv_mutex_lock(&st->mu);
    for (;;) {
        store__idle(st);
        if (!st->pending.head) break; /* stopping and nothing left */

        /* Take up to STORE_BATCH_MAX requests from the front, in submission order. */
        store_req_t *first = st->pending.head, *last = first;
        size_t n = 1;
        while (last->next && n < STORE_BATCH_MAX) {
            last = last->next;
            n++;
        }
        st->pending.head = last->next;
        if (!st->pending.head) st->pending.tail = NULL;
        last->next = NULL;
        uv_mutex_unlock(&st->mu);
        /* Handed back with the request under mu, like err: the loop thread counts it. */
        first->batch_n = (uint32_t)n;

        int failed = store__run_batch(st, first, n) != 0;

        uv_mutex_lock(&st->mu);
        st->failing = failed;
        store__queue_append(&st->done, first, last);
        /* Under mu so store_close cannot close the handle between our append and send;
         * it joins this thread before closing anyway, this only keeps the rule simple. */
        uv_async_send(st->async);
    }
    uv_mutex_unlock(&st->mu);
}

/* ---- loop thread ---- */

/* Moves the requests the worker finished to the end of ready (their callbacks' turn). */
static void store__take_done(store_t *st)
{
    uv_mutex_lock(&st->mu);
    store_req_t *last = st->done.tail;
    store_req_t *first = store__queue_take_all(&st->done);
    uv_mutex_unlock(&st->mu);
    store__queue_append(&st->ready, first, last);
}

/* Runs the callbacks of ready, in submission order, until it is empty or budget_ns
 * (0: no limit) has passed since the first began (that one runs in any case). Returns how
 * many ran. The lock is not held while callbacks run, so they may submit again. */
static size_t store__dispatch(store_t *st, uint64_t budget_ns)
{
    size_t ran = 0;
    st->dispatching = 1;
    uint64_t start = st->ready.head ? uv_hrtime() : 0, now = start;
    while (st->ready.head) {
        if (budget_ns && ran && now - start >= budget_ns) break;
        store_req_t *r = st->ready.head; /* r belongs to its owner once cb starts */
        st->ready.head = r->next;
        if (!st->ready.head) st->ready.tail = NULL;
        r->next = NULL;
        histo_add(&st->stat.latency_ns, now - r->submit_ns);
        if (r->batch_n) histo_add(&st->stat.batch, r->batch_n);
        r->batch_n = 0;
        CH_ASSERT(st->outstanding > 0);
        if (--st->outstanding == 0) uv_unref((uv_handle_t *)st->async);
        r->cb(r);
        ran++;
        now = uv_hrtime();
    }
    st->dispatching = 0;
    return ran;
}

/* One slice of the callbacks left, from the idle phase of each iteration until none is. */
static void store__on_more(uv_idle_t *h)
{
    store_t *st = h->data;
    store__dispatch(st, st->budget_ns);
    if (!st->ready.head) uv_idle_stop(h);
}

/* The worker finished a batch: a slice of the callbacks now, the rest from the next
 * iterations (store__on_more), so the loop never runs a whole group commit's answers in
 * one iteration (docs/benchmarks.md, issue 17). While slices are under way the new ones
 * queue behind them: this iteration's slice ran from the idle phase already, and a
 * second one here would double the iteration. */
static void store__on_async(uv_async_t *h)
{
    store_t *st = h->data;
    store__take_done(st);
    if (uv_is_active((uv_handle_t *)st->more)) return;
    store__dispatch(st, st->budget_ns);
    if (st->ready.head) uv_idle_start(st->more, store__on_more);
}

static void store__on_handle_closed(uv_handle_t *h)
{
    free(h);
}

store_t *store_open(const store_backend_t *be, const char *target, uv_loop_t *loop, log_t *log,
                    char *err, size_t errlen)
{
    CH_ASSERT(be && be->open && be->begin && be->commit && be->rollback && be->exec &&
              be->close);
    void *conn = be->open(target, log, err, errlen);
    if (!conn) return NULL;

    store_t *st = ch_calloc(1, sizeof(*st));
    st->be = be;
    st->conn = conn;
    st->log = log;
    st->loop = loop;
    histo_init(&st->stat.latency_ns, store__latency_bounds,
               sizeof(store__latency_bounds) / sizeof(store__latency_bounds[0]));
    histo_init(&st->stat.batch, store__batch_bounds,
               sizeof(store__batch_bounds) / sizeof(store__batch_bounds[0]));
    int rc = uv_mutex_init(&st->mu);
    CH_ASSERT(rc == 0);
    rc = uv_cond_init(&st->cond);
    CH_ASSERT(rc == 0);
    /* The async handle comes last: once initialised it can only be undone by uv_close,
     * which needs a loop run, and a failed store_open must leave nothing on the loop. The
     * worker does not touch st->async before the first request, which cannot be
     * submitted before this returns. */
    rc = uv_thread_create(&st->worker, store__worker, st);
    if (rc != 0) {
        snprintf(err, errlen, "store: cannot start the worker thread: %s", uv_strerror(rc));
        goto fail_sync;
    }
    st->async = ch_calloc(1, sizeof(*st->async));
    rc = uv_async_init(loop, st->async, store__on_async);
    if (rc != 0) {
        snprintf(err, errlen, "store: uv_async_init: %s", uv_strerror(rc));
        free(st->async); /* a failed init registered nothing */
        uv_mutex_lock(&st->mu);
        st->stopping = 1;
        uv_cond_signal(&st->cond);
        uv_mutex_unlock(&st->mu);
        rc = uv_thread_join(&st->worker);
        CH_ASSERT(rc == 0);
        goto fail_sync;
    }
    st->async->data = st;
    /* Nothing outstanding yet: the store must not keep the loop alive. */
    uv_unref((uv_handle_t *)st->async);
    st->more = ch_calloc(1, sizeof(*st->more));
    rc = uv_idle_init(loop, st->more); /* cannot fail: libuv returns 0 */
    CH_ASSERT(rc == 0);
    st->more->data = st;
    st->budget_ns = STORE_DISPATCH_BUDGET_NS;
    return st;

fail_sync:
    uv_cond_destroy(&st->cond);
    uv_mutex_destroy(&st->mu);
    be->close(conn);
    free(st);
    return NULL;
}

void store_submit(store_t *st, store_req_t *req)
{
    CH_ASSERT(req && req->cb && (unsigned)req->type < STORE_REQ_MAX);
    req->err = STORE_OK;
    req->submit_ns = uv_hrtime();
    req->batch_n = 0;
    if (st->outstanding++ == 0) uv_ref((uv_handle_t *)st->async);
    uv_mutex_lock(&st->mu);
    if (st->closing) {
        /* The worker is stopped or stopping: answer without running it. store_close's
         * drain runs this callback, never this call. */
        req->err = STORE_ECLOSED;
        store__queue_push(&st->done, req);
    } else {
        store__queue_push(&st->pending, req);
        uv_cond_signal(&st->cond);
    }
    uv_mutex_unlock(&st->mu);
}

void store_close(store_t *st)
{
    if (!st) return;
    /* Closing from inside a store callback would free st under store__dispatch. */
    CH_ASSERT(!st->dispatching);
    uv_mutex_lock(&st->mu);
    st->closing = 1;
    st->stopping = 1;
    uv_cond_signal(&st->cond);
    uv_mutex_unlock(&st->mu);
    /* The worker finishes every pending request (they commit normally) and exits. */
    int rc = uv_thread_join(&st->worker);
    CH_ASSERT(rc == 0);

    /* Run every callback here, whatever the budget, including ECLOSED answers to
     * submissions made from these callbacks, until none is left. */
    for (;;) {
        store__take_done(st);
        if (store__dispatch(st, 0) == 0) break;
    }
    CH_ASSERT(st->outstanding == 0);

    st->be->close(st->conn);
    uv_cond_destroy(&st->cond);
    uv_mutex_destroy(&st->mu);
    /* The handle outlives st: its close callback frees it on the next loop run. Its
     * async callback cannot run any more once uv_close was called. */
    st->async->data = NULL;
    uv_close((uv_handle_t *)st->async, store__on_handle_closed);
    uv_idle_stop(st->more);
    st->more->data = NULL;
    uv_close((uv_handle_t *)st->more, store__on_handle_closed);
    free(st);
}

int store_ready(store_t *st)
{
    uv_mutex_lock(&st->mu);
    int failing = st->failing;
    uv_mutex_unlock(&st->mu);
    return !failing;
}

void store_set_dispatch_budget(store_t *st, uint64_t ns)
{
    st->budget_ns = ns;
}

const store_stat_t *store_stat(const store_t *st)
{
    return &st->stat;
}

/* ---- payloads ---- */

void store_hooks_free(store_hooks_t *h)
{
    if (!h) return;
    free(h->row.body);
    h->row.body = NULL;
    for (size_t i = 0; i < h->nrows; i++)
        free(h->rows[i].body);
    free(h->rows);
    h->rows = NULL;
    h->nrows = 0;
    free(h->ep.url);
    h->ep.url = NULL;
    for (size_t i = 0; i < h->neps; i++)
        free(h->eps[i].url);
    free(h->eps);
    h->eps = NULL;
    h->neps = 0;
}

void store_assets_free(store_assets_t *a)
{
    if (!a) return;
    free(a->rows);
    a->rows = NULL;
    a->nrows = 0;
}

void store_acts_free(store_acts_t *a)
{
    if (!a) return;
    for (size_t i = 0; i < a->nrows; i++)
        free(a->rows[i].data);
    free(a->rows);
    a->rows = NULL;
    a->nrows = 0;
}

int store_reserve_refusal(const store_assets_t *a)
{
    int64_t size = a->row.size;
    if (a->max_incomplete > 0 && a->count >= a->max_incomplete) return STORE_RESERVE_COUNT;
    if (a->quota_user > 0 && (a->bytes > a->quota_user || size > a->quota_user - a->bytes))
        return STORE_RESERVE_USER;
    if (a->quota_room > 0 && a->row.room_id[0] &&
        (a->room_bytes > a->quota_room || size > a->quota_room - a->room_bytes))
        return STORE_RESERVE_ROOM;
    return 0;
}

int64_t store_quota_grant(int64_t quota, int64_t used, int64_t others, int64_t keep,
                          int64_t need, int64_t want)
{
    int64_t free_bytes = quota - used - others - keep;
    if (free_bytes <= 0 || want <= 0) return 0;
    int64_t g = free_bytes / 4;
    if (g < need) g = need;
    if (g > want) g = want;
    if (g > free_bytes) g = free_bytes;
    return g;
}

void store_rooms_free(store_rooms_t *r)
{
    if (!r) return;
    free(r->room.state);
    r->room.state = NULL;
    free(r->msg.content);
    r->msg.content = NULL;
    free(r->msg.metadata);
    r->msg.metadata = NULL;
    for (size_t i = 0; i < r->nrooms; i++)
        free(r->rooms[i].state);
    free(r->rooms);
    r->rooms = NULL;
    r->nrooms = 0;
    free(r->parts);
    r->parts = NULL;
    r->nparts = 0;
    for (size_t i = 0; i < r->nmsgs; i++) {
        free(r->msgs[i].content);
        free(r->msgs[i].metadata);
    }
    free(r->msgs);
    r->msgs = NULL;
    r->nmsgs = 0;
    free(r->ent.data);
    r->ent.data = NULL;
    for (size_t i = 0; i < r->nents; i++)
        free(r->ents[i].data);
    free(r->ents);
    r->ents = NULL;
    r->nents = 0;
    free(r->usage);
    r->usage = NULL;
    r->nusage = 0;
    for (size_t i = 0; i < r->ndocs; i++)
        free(r->docs[i].snapshot);
    free(r->docs);
    r->docs = NULL;
    r->ndocs = 0;
    for (size_t i = 0; i < r->ndops; i++)
        free(r->dops[i].delta);
    free(r->dops);
    r->dops = NULL;
    r->ndops = 0;
}

void store_docs_free(store_docs_t *d)
{
    if (!d) return;
    free(d->doc.snapshot);
    d->doc.snapshot = NULL;
    free(d->op.delta);
    d->op.delta = NULL;
    for (size_t i = 0; i < d->nops; i++)
        free(d->ops[i].delta);
    free(d->ops);
    d->ops = NULL;
    d->nops = 0;
}
