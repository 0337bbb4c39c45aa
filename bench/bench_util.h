/* bench_util.h: setup helpers for the load generator: loopback check, a blocking HTTP POST,
 * CPU and memory figures of this process and of the server. */
#ifndef CHORUS_BENCH_UTIL_H
#define CHORUS_BENCH_UTIL_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <openssl/ssl.h>

/* Parses host (an IPv4 or IPv6 literal, or "localhost") and port into *out. Returns 0, or
 * -1 when the address is not a loopback address (127.0.0.0/8 or ::1): the benchmark never
 * targets another machine. */
int bench_loopback_addr(const char *host, int port, struct sockaddr_storage *out);

/* Sends "POST path" with a JSON body and a bearer token over a fresh blocking connection
 * (with tls, borrowed, not NULL: HTTPS) and reads the whole response (Connection: close).
 * Returns the HTTP status and stores a new NUL-terminated copy of the body in *body (caller
 * frees), or -1 on a socket error. */
int bench_http_post(const struct sockaddr_storage *addr, SSL_CTX *tls, const char *path,
                    const char *token, const char *json, char **body);

typedef struct {
    double cpu_s;  /* user + system CPU seconds */
    long rss_kib;  /* resident set size now, KiB (-1 when unknown) */
    long hwm_kib;  /* peak resident set size, KiB (-1 when unknown) */
} bench_proc_t;

/* This process (getrusage; rss_kib from /proc/self/status). Returns 0. */
int bench_proc_self(bench_proc_t *out);
/* Another process from /proc/PID/stat and /proc/PID/status. Returns 0 or -1. */
int bench_proc_pid(pid_t pid, bench_proc_t *out);

#endif
