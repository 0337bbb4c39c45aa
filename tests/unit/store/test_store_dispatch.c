/* test_store_dispatch.c: the store's callbacks a slice at a time (store.h, "Callbacks a
 * slice at a time"): a loop iteration runs finished requests' callbacks, in submission
 * order, until the slice's time has passed (the first one in any case), and the rest on
 * the next iterations; store_close runs whatever is left. Includes store.c to see its
 * queues; the backend does nothing, since only the callbacks matter. No timing is
 * asserted: a slice of 1 ns ends after any callback, one of an hour after none. */
#include "store/store.c"

#include <unistd.h>

#include "test.h"

static int nop_conn;

static void *nop_open(const char *target, log_t *log, char *err, size_t errlen)
{
    (void)target, (void)log, (void)err, (void)errlen;
    return &nop_conn;
}
static int nop_ok(void *conn)
{
    (void)conn;
    return 0;
}
static void nop_conn_fn(void *conn)
{
    (void)conn;
}
static void nop_exec(void *conn, store_req_t *req)
{
    (void)conn, (void)req;
}

static const store_backend_t nop_backend = {
    .name = "nop",
    .open = nop_open,
    .begin = nop_ok,
    .commit = nop_ok,
    .rollback = nop_conn_fn,
    .exec = nop_exec,
    .close = nop_conn_fn,
};

#define NREQ 8
#define HOUR_NS (3600ull * 1000000000ull)

/* The callbacks, in the order they ran. */
typedef struct {
    store_t *st;
    store_req_t req[NREQ + 1];
    int order[NREQ + 1];
    int ran;
    int resubmit; /* the first callback submits req[NREQ] */
} calls_t;

static void on_done(store_req_t *req)
{
    calls_t *c = req->data;
    c->order[c->ran++] = (int)(req - c->req);
    /* Takes some time, however little: the clock moves on during every callback. */
    uint64_t t0 = uv_hrtime();
    while (uv_hrtime() == t0) {
    }
    if (c->resubmit && req == &c->req[0]) store_submit(c->st, &c->req[NREQ]);
}

static void req_init(calls_t *c, int i)
{
    c->req[i].type = STORE_USER_DELETE;
    c->req[i].cb = on_done;
    c->req[i].data = c;
}

/* Waits, without running the loop, until n requests wait in st's done queue for their
 * callbacks. */
static void wait_finished(store_t *st, size_t n)
{
    for (;;) {
        uv_mutex_lock(&st->mu);
        size_t done = 0;
        for (store_req_t *r = st->done.head; r; r = r->next)
            done++;
        uv_mutex_unlock(&st->mu);
        if (done == n) break;
        usleep(200); /* the worker thread runs them: wait for it, no fixed time */
    }
}

/* Submits NREQ requests and waits until the worker finished all of them, without running
 * the loop: their callbacks are all due at once, as after a group commit. */
static void submit_all(store_t *st, calls_t *c)
{
    memset(c, 0, sizeof(*c));
    c->st = st;
    for (int i = 0; i <= NREQ; i++)
        req_init(c, i);
    for (int i = 0; i < NREQ; i++)
        store_submit(st, &c->req[i]);
    wait_finished(st, NREQ);
}

/* A loop and a store on it with slices of budget_ns, NREQ requests of c finished in it
 * (submit_all). Returns the store, or NULL. */
static store_t *open_finished(uv_loop_t *loop, uint64_t budget_ns, calls_t *c)
{
    char err[128];
    uv_loop_init(loop);
    store_t *st = store_open(&nop_backend, "", loop, NULL, err, sizeof(err));
    if (!st) return NULL;
    store_set_dispatch_budget(st, budget_ns);
    submit_all(st, c);
    return st;
}

/* open_finished with slices of 1 ns, then one iteration, which runs the first callback
 * only and leaves the rest to the idle handle. Returns the store, or NULL. */
static store_t *open_sliced(uv_loop_t *loop, calls_t *c)
{
    store_t *st = open_finished(loop, 1, c);
    if (!st) return NULL;
    uv_run(loop, UV_RUN_NOWAIT);
    return c->ran == 1 && uv_is_active((uv_handle_t *)st->more) ? st : NULL;
}

/* Closes st and then loop; returns 0 when nothing was left open. */
static int close_all(uv_loop_t *loop, store_t *st)
{
    store_close(st);
    if (uv_run(loop, UV_RUN_DEFAULT) != 0) return -1;
    return uv_loop_close(loop);
}

/* A slice of 1 ns: one callback an iteration, in order, until all ran; then the loop has
 * nothing left to do (the idle handle stopped). */
static void test_one_callback_a_slice(void)
{
    uv_loop_t loop;
    calls_t c;
    store_t *st = open_finished(&loop, 1, &c);
    ASSERT_TRUE(st != NULL);
    int iterations = 0;
    while (c.ran < NREQ && iterations < 100) {
        int before = c.ran;
        uv_run(&loop, UV_RUN_NOWAIT);
        iterations++;
        ASSERT_TRUE(c.ran - before <= 1);
    }
    ASSERT_EQ(c.ran, NREQ);
    ASSERT_TRUE(iterations >= NREQ);
    for (int i = 0; i < NREQ; i++)
        ASSERT_EQ(c.order[i], i);
    ASSERT_EQ(st->outstanding, 0);
    ASSERT_EQ(uv_is_active((uv_handle_t *)st->more), 0);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(close_all(&loop, st), 0);
}

/* A long slice, or none (0): a whole batch in the iteration that saw it finish. */
static void test_whole_batch_in_one_slice(void)
{
    const uint64_t budgets[] = {HOUR_NS, 0};
    for (size_t b = 0; b < CH_ARRAY_LEN(budgets); b++) {
        uv_loop_t loop;
        calls_t c;
        store_t *st = open_finished(&loop, budgets[b], &c);
        ASSERT_TRUE(st != NULL);
        uv_run(&loop, UV_RUN_NOWAIT);
        ASSERT_EQ(c.ran, NREQ);
        ASSERT_EQ(uv_is_active((uv_handle_t *)st->more), 0);
        ASSERT_EQ(close_all(&loop, st), 0);
    }
}

/* A request submitted by a callback of a batch being sliced answers after the rest of
 * that batch: submission order holds across slices. */
static void test_order_across_slices(void)
{
    uv_loop_t loop;
    calls_t c;
    store_t *st = open_finished(&loop, 1, &c);
    ASSERT_TRUE(st != NULL);
    c.resubmit = 1;
    for (int i = 0; i < 1000 && c.ran < NREQ + 1; i++) {
        uv_run(&loop, UV_RUN_NOWAIT);
        if (c.ran < NREQ + 1) usleep(100); /* the worker runs the resubmitted one */
    }
    ASSERT_EQ(c.ran, NREQ + 1);
    for (int i = 0; i <= NREQ; i++)
        ASSERT_EQ(c.order[i], i);
    ASSERT_EQ(close_all(&loop, st), 0);
}

/* A batch that finishes while an earlier one is being sliced waits for its turn: one
 * slice an iteration in all, not the idle phase's and then the new batch's. */
static void test_one_slice_an_iteration(void)
{
    uv_loop_t loop;
    calls_t c;
    store_t *st = open_sliced(&loop, &c);
    ASSERT_TRUE(st != NULL);
    store_submit(st, &c.req[NREQ]);
    wait_finished(st, 1); /* before the next iteration: its async is due */
    while (c.ran < NREQ + 1) {
        int before = c.ran;
        uv_run(&loop, UV_RUN_NOWAIT);
        ASSERT_EQ(c.ran - before, 1);
    }
    for (int i = 0; i <= NREQ; i++)
        ASSERT_EQ(c.order[i], i);
    ASSERT_EQ(close_all(&loop, st), 0);
}

/* store_close runs every callback still waiting for its slice. */
static void test_close_runs_the_rest(void)
{
    uv_loop_t loop;
    calls_t c;
    store_t *st = open_sliced(&loop, &c);
    ASSERT_TRUE(st != NULL);
    store_close(st);
    ASSERT_EQ(c.ran, NREQ);
    for (int i = 0; i < NREQ; i++)
        ASSERT_EQ(c.order[i], i);
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

int main(void)
{
    RUN(test_one_callback_a_slice);
    RUN(test_whole_batch_in_one_slice);
    RUN(test_order_across_slices);
    RUN(test_one_slice_an_iteration);
    RUN(test_close_runs_the_rest);
    TEST_MAIN_END();
}
