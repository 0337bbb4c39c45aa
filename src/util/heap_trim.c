/* heap_trim.c: when to give the free heap back after a burst (see heap_trim.h). */
#include "util/heap_trim.h"

void heap_trim_init(heap_trim_t *t, uint64_t rss, uint64_t in)
{
    t->base = rss;
    t->last_in = in;
    t->trims = 0;
    t->running = 0;
}

int heap_trim_due(heap_trim_t *t, uint64_t rss, uint64_t in)
{
    uint64_t came = in - t->last_in;
    t->last_in = in;
    if (rss == 0 || t->running) return 0;
    if (rss < t->base) t->base = rss; /* shrank by itself: grow from here */
    return rss - t->base >= HEAP_TRIM_GROWTH && came < HEAP_TRIM_QUIET;
}

void heap_trim_done(heap_trim_t *t, uint64_t rss)
{
    t->base = rss;
    t->trims++;
    t->running = 0;
}
