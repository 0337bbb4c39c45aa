/* rate_window.h: how many events happened in the last minute, in 12 bytes: two fixed
 * one-minute windows, the previous one weighted by how much of it the last minute still
 * covers (the sliding-window estimate). Pure: time is passed in. */
#ifndef CHORUS_RATE_WINDOW_H
#define CHORUS_RATE_WINDOW_H

#include <stdint.h>

#define RATE_WINDOW_MS 60000

typedef struct {
    int64_t start_ms; /* when the current window began (0: no event yet) */
    uint32_t cur;     /* events in the current window */
    uint32_t prev;    /* events in the window before it */
} rate_window_t;

/* Counts n events at now_ms (unix or loop ms; never decreasing for one w). */
void rate_window_add(rate_window_t *w, int64_t now_ms, uint32_t n);

/* The events of the last RATE_WINDOW_MS before now_ms, estimated: exact for the current
 * window, the previous one prorated. w is borrowed. */
uint32_t rate_window_count(const rate_window_t *w, int64_t now_ms);

#endif
