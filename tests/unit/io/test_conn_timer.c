/* test_conn_timer.c: the connections' timer heap (conn_timer.c) on a real loop: timers fire
 * in due order (armed order within a millisecond), a re-armed or stopped timer fires at its
 * new time or never, and one armed again for now from its own handler fires again. */
#include "test.h"

#include "io/conn_timer.c"

#define N 300

typedef struct {
    server_t s;
    conn_t c[N];
    int fired[N];     /* times each fired */
    int order[4 * N]; /* indexes in firing order */
    int n;
    int rearm_once; /* index whose handler arms it again for now, once; -1 = none */
} fx_t;

static fx_t *g_fx; /* conn_on_timer has no context argument; one fixture at a time */

void conn_on_timer(conn_t *c)
{
    fx_t *f = g_fx;
    int i = (int)(c - f->c);
    f->fired[i]++;
    f->order[f->n++] = i;
    if (i == f->rearm_once) {
        f->rearm_once = -1;
        conn_timer(c, 0);
    }
}

static void fx_init(fx_t *f, uv_loop_t *loop)
{
    memset(f, 0, sizeof(*f));
    f->rearm_once = -1;
    f->s.loop = loop;
    conn_timers_init(&f->s);
    for (int i = 0; i < N; i++)
        f->c[i].srv = &f->s;
    g_fx = f;
}

static void fx_free(fx_t *f, uv_loop_t *loop)
{
    uv_close((uv_handle_t *)&f->s.conn_timer, NULL);
    uv_run(loop, UV_RUN_DEFAULT);
    conn_timers_free(&f->s);
}

static void test_order_stop_rearm(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    static fx_t f;
    fx_init(&f, &loop);
    /* due times 0..29 ms, ten timers each, armed in a scrambled order */
    for (int k = 0; k < N; k++) {
        int i = (k * 7919) % N;
        conn_timer(&f.c[i], (uint64_t)(i % 30));
    }
    for (int i = 0; i < N; i += 10)
        conn_timer_stop(&f.c[i]); /* every tenth never fires */
    conn_timer(&f.c[1], 40);      /* moved later: fires last */
    conn_timer_stop(&f.c[2]);
    conn_timer_stop(&f.c[2]); /* twice is harmless */
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(f.s.ntimers, 0);
    ASSERT_EQ(f.n, N - N / 10 - 1);
    for (int i = 0; i < N; i++)
        ASSERT_EQ(f.fired[i], i % 10 == 0 || i == 2 ? 0 : 1);
    ASSERT_EQ(f.order[f.n - 1], 1);
    for (int k = 1; k < f.n - 1; k++) {
        const conn_t *a = &f.c[f.order[k - 1]], *b = &f.c[f.order[k]];
        ASSERT_TRUE(
            a->timer_due < b->timer_due ||
            (a->timer_due == b->timer_due && (int32_t)(a->timer_seq - b->timer_seq) < 0));
    }
    fx_free(&f, &loop);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

static void test_rearm_from_handler(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    static fx_t f;
    fx_init(&f, &loop);
    f.rearm_once = 3;
    conn_timer(&f.c[3], 0);
    conn_timer(&f.c[4], 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(f.fired[3], 2);
    ASSERT_EQ(f.fired[4], 1);
    ASSERT_EQ(f.order[0], 3);
    ASSERT_EQ(f.order[1], 4); /* armed before 3's second time */
    ASSERT_EQ(f.order[2], 3);
    ASSERT_EQ(f.s.ntimers, 0);
    fx_free(&f, &loop);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

int main(void)
{
    RUN(test_order_stop_rearm);
    RUN(test_rearm_from_handler);
    TEST_MAIN_END();
}
