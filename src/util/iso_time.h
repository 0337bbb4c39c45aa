/* iso_time.h: an RFC 3339 date-time read as unix milliseconds (pure; for the moments a
 * client names in text, such as GET /api/rooms/:id/snapshot?at=). */
#ifndef CHORUS_ISO_TIME_H
#define CHORUS_ISO_TIME_H

#include <stddef.h>
#include <stdint.h>

/* Reads s (len bytes, borrowed, not NUL-terminated) as an RFC 3339 date-time,
 * "YYYY-MM-DDTHH:MM:SS[.fraction](Z|+HH:MM|-HH:MM)" ('T' and 'Z' in either case; a leap
 * second, :60, is read as :59.999), from 1970-01-01T00:00:00Z to year 9999. *ms gets the
 * unix time in milliseconds (digits of the fraction past the third are dropped). Returns
 * 0, or -1 when s is not such a time or is before 1970 (*ms is then untouched). */
int iso_time_parse(const char *s, size_t len, int64_t *ms);

#endif
