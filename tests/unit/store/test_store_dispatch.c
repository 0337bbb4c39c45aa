/* test_store_dispatch.c: the store's callbacks a slice at a time (store.h, "Callbacks a
 * slice at a time"): a slice runs the finished requests whose costs fit in the budget, in
 * submission order, and a loop iteration runs one slice. Includes store.c to step its
 * dispatch directly; the backend is a do-nothing one, since only the callbacks matter. */
#include "store/store.c"

#include <unistd.h>

#include "test.h"

static int nop_conn;

static void *nop_open(const char *target, log_t *log, char *err, size_t errlen)
{
    (void)target, (void)log, (void)err, (void)errlen;
    return &nop_conn;
}
static int nop_begin(void *conn)
{
    (void)conn;
    return 0;
}
static void nop_rollback(void *conn)
{
    (void)conn;
}
static void nop_exec(void *conn, store_req_t *req)
{
    (void)conn, (void)req;
}
static void nop_close(void *conn)
{
    (void)conn;
}

static const store_backend_t nop_backend = {
    .name = "nop",
    .open = nop_open,
    .begin = nop_begin,
    .commit = nop_begin,
    .rollback = nop_rollback,
    .exec = nop_exec,
    .close = nop_close,
};

#define NREQ 8

/* The callbacks' order of arrival. */
typedef struct {
    store_req_t req[NREQ];
    int order[NREQ];
    int ran;
} calls_t;

static void on_done(store_req_t *req)
{
    calls_t *c = req->data;
    c->order[c->ran++] = (int)(req - c->req);
}

/* Submits n requests with costs (0 = default), then waits until the worker finished all of
 * them, without running the loop: their callbacks are all due at once, as after a batch. */
static void submit_all(store_t *st, calls_t *c, const uint32_t *costs, int n)
{
    memset(c, 0, sizeof(*c));
    for (int i = 0; i < n; i++) {
        c->req[i].type = STORE_USER_DELETE;
        c->req[i].cb = on_done;
        c->req[i].data = c;
        c->req[i].cost = costs[i];
        store_submit(st, &c->req[i]);
    }
    for (;;) {
        uv_mutex_lock(&st->mu);
        int idle = !st->pending.head;
        size_t done = 0;
        for (store_req_t *r = st->done.head; r; r = r->next)
            done++;
        uv_mutex_unlock(&st->mu);
        if (idle && done == (size_t)n) break;
        usleep(200); /* the worker thread runs them: wait for it, no fixed time */
    }
}

static store_t *open_nop(uv_loop_t *loop)
{
    char err[128];
    return store_open(&nop_backend, "", loop, NULL, err, sizeof(err));
}

/* A slice takes what fits, in order; the first always runs; 0 counts as 1. */
static void test_slices_by_cost(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_nop(&loop);
    ASSERT_TRUE(st != NULL);
    calls_t c;
    const uint32_t costs[NREQ] = {3, 3, 3, 3, 20, 1, 0, 9};
    submit_all(st, &c, costs, NREQ);
    store__take_done(st);
    ASSERT_EQ(store__dispatch(st, 10), 3); /* 3 + 3 + 3; a fourth 3 would make 12 */
    ASSERT_EQ(store__dispatch(st, 10), 1); /* 3, and 20 does not fit beside it */
    ASSERT_EQ(store__dispatch(st, 10), 1); /* 20 alone: the first runs whatever its cost */
    ASSERT_EQ(store__dispatch(st, 10), 2); /* 1 + 1 (cost 0); 9 more would make 11 */
    ASSERT_EQ(store__dispatch(st, 10), 1);
    ASSERT_EQ(store__dispatch(st, 10), 0);
    ASSERT_EQ(c.ran, NREQ);
    for (int i = 0; i < NREQ; i++)
        ASSERT_EQ(c.order[i], i);
    ASSERT_EQ(st->outstanding, 0);
    store_close(st);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

/* On the loop: one slice of STORE_DISPATCH_BUDGET an iteration, however many finished. */
static void test_one_slice_an_iteration(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_nop(&loop);
    ASSERT_TRUE(st != NULL);
    calls_t c;
    uint32_t costs[NREQ];
    for (int i = 0; i < NREQ; i++)
        costs[i] = STORE_DISPATCH_BUDGET / 2;
    submit_all(st, &c, costs, NREQ);
    int iterations = 0, before = 0;
    while (c.ran < NREQ && iterations < 100) {
        uv_run(&loop, UV_RUN_NOWAIT);
        iterations++;
        ASSERT_TRUE(c.ran - before <= 2);
        before = c.ran;
    }
    ASSERT_EQ(c.ran, NREQ);
    ASSERT_TRUE(iterations >= NREQ / 2);
    for (int i = 0; i < NREQ; i++)
        ASSERT_EQ(c.order[i], i);
    /* Nothing outstanding: the idle handle stopped and the loop can end. */
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    store_close(st);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

/* store_close runs every callback still waiting for its slice, whatever the budget. */
static void test_close_runs_the_rest(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_nop(&loop);
    ASSERT_TRUE(st != NULL);
    calls_t c;
    uint32_t costs[NREQ];
    for (int i = 0; i < NREQ; i++)
        costs[i] = STORE_DISPATCH_BUDGET;
    submit_all(st, &c, costs, NREQ);
    store__take_done(st);
    ASSERT_EQ(store__dispatch(st, STORE_DISPATCH_BUDGET), 1);
    store_close(st);
    ASSERT_EQ(c.ran, NREQ);
    for (int i = 0; i < NREQ; i++)
        ASSERT_EQ(c.order[i], i);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

int main(void)
{
    RUN(test_slices_by_cost);
    RUN(test_one_slice_an_iteration);
    RUN(test_close_runs_the_rest);
    TEST_MAIN_END();
}
