/* clock.h: the wall clock, for times that are stored or shown (created_at, token iat/exp).
 * Timers and rate limits use the loop's monotonic clock (uv_now) instead. */
#ifndef CHORUS_CLOCK_H
#define CHORUS_CLOCK_H

#include <stdint.h>

/* Returns the current time in unix milliseconds. */
int64_t clock_unix_ms(void);

#endif
