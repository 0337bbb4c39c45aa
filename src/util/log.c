/* log.c: text and JSON log lines. */
#include "util/log.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "util/clock.h"
#include "util/log_ring.h"

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const level_upper[] = {"DEBUG", "INFO", "WARN", "ERROR"};

void log_init(log_t *lg, log_level_t level, log_format_t format, FILE *out)
{
    lg->level = level;
    lg->format = format;
    lg->out = out;
    lg->ring = NULL;
}

int log_level_parse(const char *s, log_level_t *out)
{
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (log_level_t)i;
            return 0;
        }
    }
    return -1;
}

int log_format_parse(const char *s, log_format_t *out)
{
    if (strcmp(s, "text") == 0) *out = LOG_TEXT;
    else if (strcmp(s, "json") == 0) *out = LOG_JSON;
    else return -1;
    return 0;
}

static void timestamp(char out[32])
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, 32 - n, ".%03ldZ", ts.tv_nsec / 1000000);
}

/* Appends s as the inside of a JSON string (no quotes) to the line. */
static size_t json_escape(char *dst, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n && o + 7 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            dst[o++] = '\\';
            dst[o++] = (char)c;
        } else if (c < 0x20 || c == 0x7f) {
            o += (size_t)snprintf(dst + o, cap - o, "\\u%04x", c);
        } else {
            dst[o++] = (char)c;
        }
    }
    dst[o] = '\0';
    return o;
}

/* Copies a message for a text line, replacing control characters so one event stays
 * one line whatever a peer put in it. */
static void text_clean(char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

__attribute__((format(printf, 4, 0))) static void log_line(log_t *lg, log_level_t level,
                                                           const char *req_id, const char *fmt,
                                                           va_list ap)
{
    char msg[1024], ts[32];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (lg->ring && level >= LOG_WARN) log_ring_add(lg->ring, clock_unix_ms(), level, msg);
    timestamp(ts);
    if (lg->format == LOG_JSON) {
        char esc[sizeof(msg) * 6 + 1];
        json_escape(esc, sizeof(esc), msg, strlen(msg));
        fprintf(lg->out, "{\"ts\":\"%s\",\"level\":\"%s\",", ts, level_names[level]);
        if (req_id) {
            char id[LOG_REQ_ID_MAX * 6 + 1];
            json_escape(id, sizeof(id), req_id, strnlen(req_id, LOG_REQ_ID_MAX));
            fprintf(lg->out, "\"req_id\":\"%s\",", id);
        }
        fprintf(lg->out, "\"msg\":\"%s\"}\n", esc);
    } else {
        text_clean(msg);
        if (req_id)
            fprintf(lg->out, "%s %s [%.*s] %s\n", ts, level_upper[level], LOG_REQ_ID_MAX,
                    req_id, msg);
        else
            fprintf(lg->out, "%s %s %s\n", ts, level_upper[level], msg);
    }
    fflush(lg->out);
}

void log_msg(log_t *lg, log_level_t level, const char *fmt, ...)
{
    if (level < lg->level) return;
    va_list ap;
    va_start(ap, fmt);
    log_line(lg, level, NULL, fmt, ap);
    va_end(ap);
}

void log_req(log_t *lg, log_level_t level, const char *req_id, const char *fmt, ...)
{
    if (level < lg->level) return;
    va_list ap;
    va_start(ap, fmt);
    log_line(lg, level, req_id, fmt, ap);
    va_end(ap);
}

void log_access(log_t *lg, const char *req_id, const char *remote, const char *method,
                const char *path, size_t path_len, int status, size_t bytes, double ms)
{
    if (LOG_INFO < lg->level) return;
    char ts[32], p[1024 * 6 + 1];
    if (path_len > 1024) path_len = 1024;
    timestamp(ts);
    if (lg->format == LOG_JSON) {
        json_escape(p, sizeof(p), path, path_len);
        char id[LOG_REQ_ID_MAX * 6 + 1] = "";
        if (req_id) json_escape(id, sizeof(id), req_id, strnlen(req_id, LOG_REQ_ID_MAX));
        fprintf(lg->out,
                "{\"ts\":\"%s\",\"level\":\"info\",%s%s%s\"msg\":\"http\",\"remote\":\"%s\","
                "\"method\":\"%s\",\"path\":\"%s\",\"status\":%d,\"bytes\":%zu,"
                "\"ms\":%.3f}\n",
                ts, req_id ? "\"req_id\":\"" : "", id, req_id ? "\"," : "", remote, method, p,
                status, bytes, ms);
    } else {
        memcpy(p, path, path_len);
        p[path_len] = '\0';
        text_clean(p);
        fprintf(lg->out, "%s INFO http %s \"%s %s\" %d %zu %.3fms%s%.*s\n", ts, remote, method,
                p, status, bytes, ms, req_id ? " req_id=" : "", LOG_REQ_ID_MAX,
                req_id ? req_id : "");
    }
    fflush(lg->out);
}
