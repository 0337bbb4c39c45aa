/* http_deadline.h: when a slow request must be cut off: a whole-request deadline and a
 * minimum body rate (pure: the caller passes the time). */
#ifndef CHORUS_HTTP_DEADLINE_H
#define CHORUS_HTTP_DEADLINE_H

#include <stdint.h>

typedef struct {
    uint64_t request_ms; /* first byte of the request to its last */
    uint64_t grace_ms;   /* after the headers, before min_rate applies */
    uint64_t min_rate;   /* body bytes per second to average after the grace; 0 = off */
} http_deadline_t;

enum {
    HTTP_DEADLINE_OK = 0,
    HTTP_DEADLINE_EXPIRED = -1,  /* the whole request took longer than request_ms */
    HTTP_DEADLINE_TOO_SLOW = -2, /* the body is behind min_rate */
};

/* Checks, at time now, a request that began at start and whose headers were complete at
 * body_start (all ms, start <= body_start <= now), with received body bytes so far.
 * Returns HTTP_DEADLINE_OK and sets *next_ms (>= 1) to the time from now at which the
 * request fails if no more bytes arrive, or a negative code above. Borrows d. */
int http_deadline_check(const http_deadline_t *d, uint64_t start, uint64_t body_start,
                        uint64_t received, uint64_t now, uint64_t *next_ms);

#endif
