/* log_ring.h: the last N warnings and errors the server logged, for the admin view
 * (GET /api/admin/errors). Thread-safe: the store thread logs too. */
#ifndef CHORUS_LOG_RING_H
#define CHORUS_LOG_RING_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

/* Longest message kept, bytes (a longer one is cut). */
#define LOG_RING_MSG_MAX 256

typedef struct {
    int64_t at; /* unix ms */
    int level;  /* log_level_t: LOG_WARN or LOG_ERROR */
    char msg[LOG_RING_MSG_MAX];
} log_ring_entry_t;

typedef struct log_ring_s {
    uv_mutex_t lock;
    log_ring_entry_t *e;   /* owned: cap entries */
    size_t cap, head, len; /* the oldest at head */
    uint64_t total;        /* entries ever added */
} log_ring_t;

/* Initialises r to keep the last cap (>= 1) entries. */
void log_ring_init(log_ring_t *r, size_t cap);
void log_ring_free(log_ring_t *r);

/* Keeps msg (borrowed; copied, cut at LOG_RING_MSG_MAX - 1 bytes on a UTF-8 boundary),
 * dropping the oldest entry when full. */
void log_ring_add(log_ring_t *r, int64_t at, int level, const char *msg);

/* Copies up to max entries, newest first, into out (caller's array); returns how many, and
 * sets *total to the entries ever added. */
size_t log_ring_copy(log_ring_t *r, log_ring_entry_t *out, size_t max, uint64_t *total);

#endif
