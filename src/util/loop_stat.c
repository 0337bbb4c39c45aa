/* loop_stat.c: the maximum and histogram of event-loop iteration lengths, and the
 * budget of one kind of work an iteration. */
#include "util/loop_stat.h"

#include "util/mem.h"

static const uint64_t bounds_ns[LOOP_STAT_NBOUNDS] = {1000000, 2000000, 5000000, 10000000};

uint64_t loop_stat_bound_ns(size_t i)
{
    CH_ASSERT(i < LOOP_STAT_NBOUNDS);
    return bounds_ns[i];
}

void loop_stat_add(loop_stat_t *ls, uint64_t ns)
{
    size_t i = 0;
    while (i < LOOP_STAT_NBOUNDS && ns > bounds_ns[i])
        i++;
    ls->bucket[i]++;
    ls->count++;
    ls->sum_ns += ns;
    if (ns > ls->max_ns) ls->max_ns = ns;
}

uint64_t loop_stat_le(const loop_stat_t *ls, size_t i)
{
    CH_ASSERT(i <= LOOP_STAT_NBOUNDS);
    uint64_t n = 0;
    for (size_t j = 0; j <= i; j++)
        n += ls->bucket[j];
    return n;
}

void loop_budget_reset(loop_budget_t *b)
{
    b->started = 0;
}

int loop_budget_spent(loop_budget_t *b, uint64_t now)
{
    if (!b->started) {
        b->started = 1;
        b->start_ns = now;
        return 0;
    }
    return now - b->start_ns >= b->limit_ns;
}
