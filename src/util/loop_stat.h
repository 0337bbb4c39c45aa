/* loop_stat.h: the length of event-loop iterations (the work between two polls) as a
 * maximum and a small histogram since start, for GET /metrics (io/http_metrics.c), and
 * the time budget that keeps one kind of work within an iteration. Pure: the server
 * measures and passes the time in, this counts. */
#ifndef CHORUS_LOOP_STAT_H
#define CHORUS_LOOP_STAT_H

#include <stddef.h>
#include <stdint.h>

/* Upper bounds of the histogram's buckets (1, 2, 5, 10 ms); a last bucket takes the rest.
 * 1 ms is the target (docs/benchmarks.md); the others say how far a miss went. */
#define LOOP_STAT_NBOUNDS 4

typedef struct {
    uint64_t count;                         /* iterations recorded */
    uint64_t sum_ns;                        /* their total work */
    uint64_t max_ns;                        /* the longest one */
    uint64_t bucket[LOOP_STAT_NBOUNDS + 1]; /* per bucket, not cumulative; last: > 10 ms */
} loop_stat_t;

/* Returns the upper bound of bucket i (0 <= i < LOOP_STAT_NBOUNDS), in nanoseconds. */
uint64_t loop_stat_bound_ns(size_t i);

/* Records one iteration that did ns nanoseconds of work into ls (borrowed). */
void loop_stat_add(loop_stat_t *ls, uint64_t ns);

/* Returns how many recorded iterations took at most loop_stat_bound_ns(i) (cumulative, as
 * a Prometheus bucket counts); i == LOOP_STAT_NBOUNDS: all of them. Borrows ls. */
uint64_t loop_stat_le(const loop_stat_t *ls, size_t i);

/* How long one kind of work (the server's input: frames and requests read) may run in
 * one loop iteration. Its clock starts at the first piece of that work after
 * loop_budget_reset, not at the reset, so the time the loop spent elsewhere (or blocked
 * in the poll) is not taken from it, and each iteration does at least one piece. */
typedef struct {
    uint64_t limit_ns; /* the budget */
    uint64_t start_ns; /* when the first piece began (valid while started) */
    int started;
} loop_budget_t;

/* A new iteration: the next loop_budget_spent starts the clock. Borrows b. */
void loop_budget_reset(loop_budget_t *b);

/* Returns 1 when the piece of work about to begin at now (nanoseconds, monotonic) must
 * wait for the next iteration: limit_ns or more went by since the iteration's first
 * piece. The first call after a reset starts the clock and returns 0. Borrows b. */
int loop_budget_spent(loop_budget_t *b, uint64_t now);

#endif
