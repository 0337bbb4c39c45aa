/* http_range.h: the Range request header (RFC 9110 14.2), one byte range, pure. */
#ifndef CHORUS_HTTP_RANGE_H
#define CHORUS_HTTP_RANGE_H

#include <stddef.h>
#include <stdint.h>

enum {
    HTTP_RANGE_OK = 0,             /* *start and *len: answer 206 with that part */
    HTTP_RANGE_WHOLE = 1,          /* not a range this server serves (malformed, another unit,
                                    * several ranges): answer 200 with everything, as RFC 9110
                                    * allows a server to ignore Range */
    HTTP_RANGE_UNSATISFIABLE = -1, /* 416 with Content-Range: bytes * / size */
};

/* Reads the Range value v (n bytes, borrowed) against a representation of size bytes:
 * "bytes=first-last", "bytes=first-" or "bytes=-suffix". A last past the end is cut to
 * it; a first at or past the end, or a zero suffix, is unsatisfiable. */
int http_range_parse(const char *v, size_t n, uint64_t size, uint64_t *start, uint64_t *len);

#endif
