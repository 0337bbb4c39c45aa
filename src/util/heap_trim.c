/* heap_trim.c: when to give the free heap back after a burst (see heap_trim.h). */
#include "util/heap_trim.h"

void heap_trim_init(heap_trim_t *t, uint64_t rss, uint64_t in)
{
    t->base = rss;
    t->last_in = in;
    t->trims = 0;
    t->running = 0;
    t->busy = 0;
    t->quiet = 0;
    t->freed = t->trimmed = t->seen = 0;
    t->still = 0;
}

void heap_trim_freed(heap_trim_t *t, uint64_t total)
{
    t->freed = total;
}

int heap_trim_due(heap_trim_t *t, uint64_t rss, uint64_t in)
{
    uint64_t came = in - t->last_in;
    t->last_in = in;
    if (t->freed != t->seen) {
        t->seen = t->freed;
        t->still = 0;
    } else if (t->still < UINT32_MAX) {
        t->still++;
    }
    int quiet = came < HEAP_TRIM_QUIET;
    if (!quiet) {
        t->busy = 1;
        t->quiet = 0;
    } else if (t->quiet < UINT32_MAX) {
        t->quiet++;
    }
    if (rss == 0 || t->running) return 0;
    if (rss < t->base) t->base = rss; /* shrank by itself: grow from here */
    if (!quiet) return 0;
    uint64_t grown = rss - t->base;
    int settled = t->busy && t->quiet >= HEAP_TRIM_SETTLE && grown >= HEAP_TRIM_SETTLED;
    uint64_t gone = t->freed - t->trimmed;
    int let_go =
        gone >= HEAP_TRIM_SETTLED || (gone >= HEAP_TRIM_LET_GO && t->still >= HEAP_TRIM_SETTLE);
    if (grown < HEAP_TRIM_GROWTH && !settled && !let_go) return 0;
    t->busy = 0; /* busy looks from now on belong to the next burst */
    return 1;
}

void heap_trim_done(heap_trim_t *t, uint64_t rss)
{
    t->base = rss;
    t->trimmed = t->freed;
    t->trims++;
    t->running = 0;
}
