/* rate_window.c: events in the last minute (rate_window.h). */
#include "util/rate_window.h"

/* Moves w's windows forward to the one holding now_ms. */
static void rate_window_roll(rate_window_t *w, int64_t now_ms)
{
    if (w->start_ms == 0 || now_ms - w->start_ms >= 2 * RATE_WINDOW_MS) {
        w->start_ms = now_ms;
        w->cur = w->prev = 0;
    } else if (now_ms - w->start_ms >= RATE_WINDOW_MS) {
        w->prev = w->cur;
        w->cur = 0;
        w->start_ms += RATE_WINDOW_MS;
    }
}

void rate_window_add(rate_window_t *w, int64_t now_ms, uint32_t n)
{
    rate_window_roll(w, now_ms);
    w->cur = w->cur > UINT32_MAX - n ? UINT32_MAX : w->cur + n;
}

uint32_t rate_window_count(const rate_window_t *w, int64_t now_ms)
{
    rate_window_t v = *w;
    if (v.start_ms == 0) return 0;
    rate_window_roll(&v, now_ms);
    int64_t into = now_ms - v.start_ms; /* 0 .. RATE_WINDOW_MS - 1 */
    if (into < 0) into = 0;
    uint64_t prev = (uint64_t)v.prev * (uint64_t)(RATE_WINDOW_MS - into) / RATE_WINDOW_MS;
    uint64_t sum = (uint64_t)v.cur + prev;
    return sum > UINT32_MAX ? UINT32_MAX : (uint32_t)sum;
}
