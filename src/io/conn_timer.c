/* conn_timer.c: the connections' one-shot timers, in one binary min-heap per server behind
 * one libuv timer: a connection carries 16 bytes for its timer instead of a uv_timer_t
 * (152), and arming or stopping one is a heap step, as it is inside libuv. */
#include "io/conn.h"

#include <stdlib.h>

#include "util/mem.h"

/* 1 when a fires before b: earlier due time, or the same one and armed first (libuv's
 * order too). seq wraps; two armed timers are never 2^31 arms apart in practice, and if
 * they were, only the order of timers due in the same millisecond would change. */
static int before(const conn_t *a, const conn_t *b)
{
    if (a->timer_due != b->timer_due) return a->timer_due < b->timer_due;
    return (int32_t)(a->timer_seq - b->timer_seq) < 0;
}

static void put(server_t *s, uint32_t i, conn_t *c)
{
    s->timers[i] = c;
    c->timer_idx = i + 1;
}

static void sift_up(server_t *s, uint32_t i)
{
    conn_t *c = s->timers[i];
    while (i > 0) {
        uint32_t parent = (i - 1) / 2;
        if (!before(c, s->timers[parent])) break;
        put(s, i, s->timers[parent]);
        i = parent;
    }
    put(s, i, c);
}

static void sift_down(server_t *s, uint32_t i)
{
    conn_t *c = s->timers[i];
    for (;;) {
        uint32_t l = 2 * i + 1, m = i;
        const conn_t *least = c;
        if (l < s->ntimers && before(s->timers[l], least)) m = l, least = s->timers[l];
        if (l + 1 < s->ntimers && before(s->timers[l + 1], least)) m = l + 1;
        if (m == i) break;
        put(s, i, s->timers[m]);
        i = m;
    }
    put(s, i, c);
}

static void on_fire(uv_timer_t *t);

/* Points the libuv timer at the heap's first due time (or stops it). */
static void rearm(server_t *s)
{
    if (s->ntimers == 0) {
        uv_timer_stop(&s->conn_timer);
        return;
    }
    uint64_t now = uv_now(s->loop), due = s->timers[0]->timer_due;
    uv_timer_start(&s->conn_timer, on_fire, due > now ? due - now : 0, 0);
}

/* Takes c out of the heap (it must be in it). */
static void unlink_timer(server_t *s, conn_t *c)
{
    uint32_t i = c->timer_idx - 1;
    conn_t *last = s->timers[--s->ntimers];
    c->timer_idx = 0;
    if (last == c) return;
    put(s, i, last);
    if (i > 0 && before(last, s->timers[(i - 1) / 2]))
        sift_up(s, i);
    else
        sift_down(s, i);
}

/* Runs the timers due now that were armed before this pass started; one that a handler
 * arms again for now runs in the next pass (libuv runs the timer again when it is due). */
static void on_fire(uv_timer_t *t)
{
    server_t *s = t->data;
    uint64_t now = uv_now(s->loop);
    uint32_t seq_end = s->timer_seq;
    while (s->ntimers > 0) {
        conn_t *c = s->timers[0];
        if (c->timer_due > now || (int32_t)(c->timer_seq - seq_end) >= 0) break;
        unlink_timer(s, c);
        conn_on_timer(c);
    }
    rearm(s);
}

void conn_timer(conn_t *c, uint64_t ms)
{
    server_t *s = c->srv;
    if (c->closing) return; /* its memory goes with the close (libuv refused it too) */
    const conn_t *first = s->ntimers ? s->timers[0] : NULL;
    uint64_t first_due = first ? first->timer_due : 0;
    if (c->timer_idx) unlink_timer(s, c);
    c->timer_due = uv_now(s->loop) + ms;
    c->timer_seq = s->timer_seq++;
    if (s->ntimers == s->timers_cap) {
        s->timers_cap = s->timers_cap ? 2 * s->timers_cap : 64;
        s->timers = ch_realloc(s->timers, s->timers_cap * sizeof(*s->timers));
    }
    put(s, s->ntimers++, c);
    sift_up(s, s->ntimers - 1);
    if (s->timers[0] != first || s->timers[0]->timer_due != first_due) rearm(s);
}

void conn_timer_stop(conn_t *c)
{
    if (!c->timer_idx) return;
    server_t *s = c->srv;
    int was_first = s->timers[0] == c;
    unlink_timer(s, c);
    if (was_first) rearm(s);
}

void conn_timers_init(server_t *s)
{
    uv_timer_init(s->loop, &s->conn_timer);
    s->conn_timer.data = s;
}

void conn_timers_free(server_t *s)
{
    CH_ASSERT(s->ntimers == 0);
    free(s->timers);
    s->timers = NULL;
    s->timers_cap = 0;
}
