/* http_static.h: safe mapping of request paths to files under the web root. */
#ifndef CHORUS_HTTP_STATIC_H
#define CHORUS_HTTP_STATIC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Pure: turns a raw (percent-encoded) request path into a path relative to the web root.
 * Decodes %XX, collapses "//" and "." segments and strips the leading '/'. A directory
 * request keeps its trailing '/'. Writes a NUL-terminated result (possibly "" for the
 * root) into out. Returns 0, or -1 (answer 404) for: a ".." segment (also when encoded,
 * e.g. %2e%2e), a decoded NUL or backslash, bad percent-encoding, a path not starting
 * with '/', or a result that does not fit in cap. Borrows path. */
int static_path_normalize(const char *path, size_t len, char *out, size_t cap);

/* Returns the Content-Type for a file name by its extension (html, css, js, mjs, json,
 * svg, png, jpg, jpeg, gif, webp, ico, wasm, txt, map, woff, woff2...), defaulting to
 * "application/octet-stream". Text types carry "; charset=utf-8". Returns a static
 * string. */
const char *static_mime_type(const char *name);

typedef struct {
    int fd;               /* open, read-only; the caller closes it */
    uint64_t size;
    char etag[64];        /* strong ETag, quoted, from inode, size and mtime */
    const char *mime;     /* static string */
    int64_t mtime;        /* seconds since the epoch (Last-Modified) */
} static_file_t;

enum {
    STATIC_OK = 0,
    STATIC_NOT_FOUND = -1, /* also: outside the root, through a symlink or otherwise */
    STATIC_REDIRECT = -2,  /* a directory requested without its trailing '/' */
    STATIC_ERROR = -3,     /* I/O error other than "not there" (answer 500) */
};

/* Opens the file for a normalised relative path under root_real (the web root as returned
 * by realpath). A directory serves its index.html. The resolved real path must lie inside
 * root_real, so symlinks pointing outside are refused. Only regular files are served.
 * Returns STATIC_OK and fills *out, or one of the negative codes above. Blocking: web
 * assets are small and in the page cache (nginx reads them the same way by default). */
int static_open(const char *root_real, const char *rel, static_file_t *out);

/* Returns 1 when an If-None-Match header value matches etag ("*" or any element of the
 * comma-separated list, weak or strong). Borrows both. */
int static_etag_matches(const char *if_none_match, size_t len, const char *etag);

#endif
