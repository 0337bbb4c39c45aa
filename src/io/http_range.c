/* http_range.c: one byte range from a Range header (see http_range.h). */
#include "io/http_range.h"

#include <string.h>
#include <strings.h>

/* Reads digits at *p (before end) into *out. Returns 0, or -1 when there are none or
 * the number does not fit in 63 bits. */
static int number(const char **p, const char *end, uint64_t *out)
{
    const char *s = *p;
    uint64_t v = 0;
    while (s < end && *s >= '0' && *s <= '9') {
        if (v > (UINT64_MAX / 2 - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(*s - '0');
        s++;
    }
    if (s == *p) return -1;
    *p = s;
    *out = v;
    return 0;
}

static const char *skip_ows(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    return p;
}

int http_range_parse(const char *v, size_t n, uint64_t size, uint64_t *start, uint64_t *len)
{
    const char *p = v, *end = v + n;
    if (n < 6 || strncasecmp(p, "bytes=", 6) != 0) return HTTP_RANGE_WHOLE;
    p = skip_ows(p + 6, end);
    if (memchr(p, ',', (size_t)(end - p))) return HTTP_RANGE_WHOLE; /* several: whole */
    uint64_t first = 0, last = 0;
    if (p < end && *p == '-') { /* a suffix: the last n bytes */
        p++;
        if (number(&p, end, &last) != 0 || skip_ows(p, end) != end) return HTTP_RANGE_WHOLE;
        if (last == 0 || size == 0) return HTTP_RANGE_UNSATISFIABLE;
        if (last > size) last = size;
        *start = size - last;
        *len = last;
        return HTTP_RANGE_OK;
    }
    if (number(&p, end, &first) != 0 || p >= end || *p != '-') return HTTP_RANGE_WHOLE;
    p++;
    int open = skip_ows(p, end) == end;
    if (!open) {
        if (number(&p, end, &last) != 0 || skip_ows(p, end) != end) return HTTP_RANGE_WHOLE;
        if (last < first) return HTTP_RANGE_WHOLE; /* invalid: ignored (RFC 9110 14.1.1) */
    }
    if (first >= size) return HTTP_RANGE_UNSATISFIABLE;
    if (open || last >= size) last = size - 1;
    *start = first;
    *len = last - first + 1;
    return HTTP_RANGE_OK;
}
