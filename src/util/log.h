/* log.h: one line per event, as text or JSON, with level and UTC timestamp. */
#ifndef CHORUS_LOG_H
#define CHORUS_LOG_H

#include <stddef.h>
#include <stdio.h>

typedef enum { LOG_DEBUG = 0, LOG_INFO, LOG_WARN, LOG_ERROR } log_level_t;
typedef enum { LOG_TEXT = 0, LOG_JSON } log_format_t;

/* The longest request id a line carries (longer ones are cut). */
#define LOG_REQ_ID_MAX 64

typedef struct {
    log_level_t level;   /* lines below it are dropped */
    log_format_t format;
    FILE *out;           /* borrowed; usually stderr */
    struct log_ring_s *ring; /* borrowed; NULL: none. Warnings and errors are kept there
                              * too (the admin view's recent errors, log_ring.h) */
} log_t;

/* Initialises lg writing to out (borrowed). */
void log_init(log_t *lg, log_level_t level, log_format_t format, FILE *out);

/* Parses "debug", "info", "warn", "error" / "text", "json". Return 0 or -1. */
int log_level_parse(const char *s, log_level_t *out);
int log_format_parse(const char *s, log_format_t *out);

/* Writes one line: "<ts> LEVEL message" or {"ts":..,"level":..,"msg":..}. */
void log_msg(log_t *lg, log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes one line as log_msg does, caused by the request or session named req_id (borrowed;
 * NULL: none): in JSON its field "req_id", in text "[req_id] " before the message. */
void log_req(log_t *lg, log_level_t level, const char *req_id, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* 1 when lg (borrowed) writes lines of level: a caller whose message costs something to
 * build (a system call for the peer's address) asks first. */
static inline int log_wants(const log_t *lg, log_level_t level)
{
    return level >= lg->level;
}

#define log_debug(lg, ...) log_msg((lg), LOG_DEBUG, __VA_ARGS__)
#define log_info(lg, ...) log_msg((lg), LOG_INFO, __VA_ARGS__)
#define log_warn(lg, ...) log_msg((lg), LOG_WARN, __VA_ARGS__)
#define log_error(lg, ...) log_msg((lg), LOG_ERROR, __VA_ARGS__)

/* Writes an access-log line for one HTTP request, req_id its id (NULL: none). path excludes
 * the query string, so tokens passed as ?token= never reach the log. Borrows everything. */
void log_access(log_t *lg, const char *req_id, const char *remote, const char *method,
                const char *path, size_t path_len, int status, size_t bytes, double ms);

#endif
