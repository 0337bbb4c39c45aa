/* http_static.c: safe mapping of request paths to files under the web root. */
#include "io/http_static.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Ends the segment out[seg..*o): drops "." and empty segments, refuses "..", and
 * otherwise keeps it followed by '/' when more follows (sep). */
static int end_segment(char *out, size_t cap, size_t seg, size_t *o, int sep)
{
    size_t n = *o - seg;
    if (n == 2 && out[seg] == '.' && out[seg + 1] == '.') return -1;
    if (n == 1 && out[seg] == '.') {
        *o = seg;
        return 0;
    }
    if (n == 0 || !sep) return 0;
    if (*o + 1 >= cap) return -1;
    out[(*o)++] = '/';
    return 0;
}

int static_path_normalize(const char *path, size_t len, char *out, size_t cap)
{
    if (cap == 0 || len == 0 || path[0] != '/') return -1;
    size_t o = 0, seg = 0;
    /* Decoding happens before segments are split, so an encoded "%2e%2e" or "%2f" is
     * judged exactly like its plain form: what matters is the name the file system sees. */
    for (size_t i = 1; i < len; i++) {
        char c = path[i];
        if (c == '%') {
            if (len - i < 3) return -1;
            int hi = hex_value(path[i + 1]), lo = hex_value(path[i + 2]);
            if (hi < 0 || lo < 0) return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
        }
        if (c == '\0' || c == '\\') return -1;
        if (c == '/') {
            if (end_segment(out, cap, seg, &o, 1) != 0) return -1;
            seg = o;
            continue;
        }
        if (o + 1 >= cap) return -1; /* room for c and the final NUL */
        out[o++] = c;
    }
    /* The last segment gets no '/', so a path ending in '/' (or "/.") keeps the one its
     * previous segment left: "a/" stays a directory request. */
    if (end_segment(out, cap, seg, &o, 0) != 0) return -1;
    out[o] = '\0';
    return 0;
}

const char *static_mime_type(const char *name)
{
    static const struct {
        const char *ext;
        const char *type;
    } types[] = {
        {"html", "text/html; charset=utf-8"},
        {"htm", "text/html; charset=utf-8"},
        {"css", "text/css; charset=utf-8"},
        {"js", "text/javascript; charset=utf-8"},
        {"mjs", "text/javascript; charset=utf-8"},
        {"json", "application/json; charset=utf-8"},
        {"map", "application/json; charset=utf-8"},
        {"webmanifest", "application/manifest+json; charset=utf-8"},
        {"txt", "text/plain; charset=utf-8"},
        {"md", "text/markdown; charset=utf-8"},
        {"xml", "application/xml; charset=utf-8"},
        {"svg", "image/svg+xml; charset=utf-8"},
        {"png", "image/png"},
        {"jpg", "image/jpeg"},
        {"jpeg", "image/jpeg"},
        {"gif", "image/gif"},
        {"webp", "image/webp"},
        {"avif", "image/avif"},
        {"ico", "image/x-icon"},
        {"wasm", "application/wasm"},
        {"woff", "font/woff"},
        {"woff2", "font/woff2"},
        {"ttf", "font/ttf"},
        {"otf", "font/otf"},
        {"pdf", "application/pdf"},
        {"mp3", "audio/mpeg"},
        {"mp4", "video/mp4"},
        {"webm", "video/webm"},
    };
    const char *slash = strrchr(name, '/');
    const char *base = slash ? slash + 1 : name;
    const char *dot = strrchr(base, '.');
    if (dot && dot != base) {
        for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
            if (strcasecmp(dot + 1, types[i].ext) == 0) return types[i].type;
    }
    return "application/octet-stream";
}

/* 1 when the resolved path real is root or lies below it. */
static int inside_root(const char *root, const char *real)
{
    size_t n = strlen(root);
    while (n > 1 && root[n - 1] == '/')
        n--;
    if (n == 1 && root[0] == '/') return real[0] == '/';
    return strncmp(real, root, n) == 0 && (real[n] == '\0' || real[n] == '/');
}

static int not_found_errno(int e)
{
    return e == ENOENT || e == ENOTDIR || e == ELOOP || e == ENAMETOOLONG || e == EACCES;
}

int static_open(const char *root_real, const char *rel, static_file_t *out)
{
    char path[PATH_MAX], real[PATH_MAX];
    size_t rel_len = strlen(rel);
    int dir_request = rel_len == 0 || rel[rel_len - 1] == '/';
    int n = snprintf(path, sizeof(path), "%s/%s%s", root_real, rel,
                     dir_request ? "index.html" : "");
    if (n < 0 || (size_t)n >= sizeof(path)) return STATIC_NOT_FOUND;

    /* realpath resolves every symlink, so comparing its result with the root refuses links
     * (and "..", though normalisation already removed those) that lead outside. */
    if (!realpath(path, real)) return not_found_errno(errno) ? STATIC_NOT_FOUND : STATIC_ERROR;
    if (!inside_root(root_real, real)) return STATIC_NOT_FOUND;

    /* O_NOFOLLOW: a symlink swapped in after the check is refused rather than followed.
     * O_NONBLOCK: opening a FIFO planted under the root must not block the event loop; it
     * does not change reads from regular files, and it is cleared below anyway. */
    int fd = open(real, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0) return not_found_errno(errno) ? STATIC_NOT_FOUND : STATIC_ERROR;
    struct stat st;
    if (fstat(fd, &st) != 0) {
        close(fd);
        return STATIC_ERROR;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        /* "/docs" must become "/docs/" so relative links in its index resolve below it. */
        return dir_request ? STATIC_NOT_FOUND : STATIC_REDIRECT;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return STATIC_NOT_FOUND;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) != 0) {
        close(fd);
        return STATIC_ERROR;
    }

    out->fd = fd;
    out->size = (uint64_t)st.st_size;
    out->mtime = (int64_t)st.st_mtim.tv_sec;
    /* Inode, size and nanosecond mtime change when a file is replaced or rewritten, which
     * is what a deploy does; the ETag needs no hashing of contents. */
    uint64_t mtime_ns =
        (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec;
    snprintf(out->etag, sizeof(out->etag), "\"%llx-%llx-%llx\"", (unsigned long long)st.st_ino,
             (unsigned long long)st.st_size, (unsigned long long)mtime_ns);
    /* By the requested name, like nginx: a symlink's target name is an internal detail. */
    out->mime = dir_request ? static_mime_type("index.html") : static_mime_type(rel);
    return STATIC_OK;
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t';
}

int static_etag_matches(const char *inm, size_t len, const char *etag)
{
    size_t etag_len = strlen(etag), i = 0;
    /* Weak comparison (RFC 9110 13.1.2): a "W/" prefix on either side is ignored. */
    if (etag_len >= 2 && etag[0] == 'W' && etag[1] == '/') {
        etag += 2;
        etag_len -= 2;
    }
    while (i < len) {
        while (i < len && (is_ws(inm[i]) || inm[i] == ','))
            i++;
        if (i == len) break;
        if (inm[i] == '*') return 1;
        if (len - i >= 2 && inm[i] == 'W' && inm[i + 1] == '/') i += 2;
        if (i < len && inm[i] == '"') {
            /* An entity-tag may itself contain commas, so scan to its closing quote. */
            size_t start = i++;
            while (i < len && inm[i] != '"')
                i++;
            if (i == len) return 0; /* unterminated */
            i++;
            if (i - start == etag_len && memcmp(inm + start, etag, etag_len) == 0) return 1;
        }
        /* Skip anything malformed up to the next element. */
        while (i < len && inm[i] != ',')
            i++;
    }
    return 0;
}
