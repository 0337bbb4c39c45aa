/* test_loop.h: waiting on a libuv loop in a unit test: run it until a flag is set, or for
 * a while. Static inline functions only: each test file is its own program. */
#ifndef CHORUS_TEST_LOOP_H
#define CHORUS_TEST_LOOP_H

#include <stdint.h>
#include <unistd.h>

#include <uv.h>

static inline void test_loop_keepalive(uv_timer_t *t)
{
    (void)t;
}

/* Runs loop until *flag is set or ms milliseconds went by; returns *flag. A referenced
 * timer keeps the loop alive meanwhile: the rooms' 1 s tick alone does not (it is
 * unreferenced), and the store answers from its thread. Borrows both. */
static inline int test_run_until(uv_loop_t *loop, const int *flag, uint64_t ms)
{
    uv_timer_t keep;
    uv_timer_init(loop, &keep);
    uv_timer_start(&keep, test_loop_keepalive, 5, 5);
    uint64_t end = uv_hrtime() + ms * 1000000u;
    while (!*flag && uv_hrtime() < end) {
        uv_run(loop, UV_RUN_NOWAIT);
        if (!*flag) usleep(1000);
    }
    uv_close((uv_handle_t *)&keep, NULL);
    uv_run(loop, UV_RUN_NOWAIT); /* the close callback, before keep goes out of scope */
    return *flag;
}

/* Runs loop for about ms milliseconds. */
static inline void test_run_for(uv_loop_t *loop, uint64_t ms)
{
    int never = 0;
    test_run_until(loop, &never, ms);
}

#endif
