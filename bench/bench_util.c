/* bench_util.c: setup helpers for the load generator. */
#include "bench_util.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "util/mem.h"

int bench_loopback_addr(const char *host, int port, struct sockaddr_storage *out)
{
    memset(out, 0, sizeof(*out));
    if (port <= 0 || port > 65535)
        return -1;
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        if ((ntohl(v4->sin_addr.s_addr) >> 24) != 127)
            return -1;
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)port);
        return 0;
    }
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        if (!IN6_IS_ADDR_LOOPBACK(&v6->sin6_addr))
            return -1;
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)port);
        return 0;
    }
    return -1;
}

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

int bench_http_post(const struct sockaddr_storage *addr, SSL_CTX *tls, const char *path,
                    const char *token, const char *json, char **body)
{
    *body = NULL;
    int fd = socket(addr->ss_family, SOCK_STREAM, 0);
    if (fd < 0)
        return -1;
    socklen_t alen = addr->ss_family == AF_INET ? sizeof(struct sockaddr_in)
                                                : sizeof(struct sockaddr_in6);
    if (connect(fd, (const struct sockaddr *)addr, alen) < 0) {
        close(fd);
        return -1;
    }
    size_t blen = strlen(json);
    size_t cap = strlen(path) + strlen(token) + blen + 256;
    char *req = ch_malloc(cap);
    int n = snprintf(req, cap,
                     "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
                     "Content-Type: application/json\r\nContent-Length: %zu\r\n"
                     "Connection: close\r\n\r\n%s",
                     path, token, blen, json);
    SSL *ssl = NULL;
    int r = 0;
    if (tls) { /* blocking OpenSSL: this is the setup, not the measured part */
        ssl = SSL_new(tls);
        SSL_set_fd(ssl, fd);
        r = SSL_connect(ssl) == 1 && SSL_write(ssl, req, n) == n ? 0 : -1;
    } else {
        r = write_all(fd, req, (size_t)n);
    }
    free(req);
    if (r < 0) {
        SSL_free(ssl);
        close(fd);
        return -1;
    }
    size_t len = 0, rcap = 8192;
    char *resp = ch_malloc(rcap);
    for (;;) {
        if (rcap - len < 4096) {
            rcap *= 2;
            resp = ch_realloc(resp, rcap);
        }
        ssize_t got = ssl ? SSL_read(ssl, resp + len, (int)(rcap - len - 1))
                          : read(fd, resp + len, rcap - len - 1);
        if (got < 0 && !ssl && errno == EINTR) continue;
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    SSL_free(ssl);
    close(fd);
    resp[len] = '\0';
    int status = -1;
    if (sscanf(resp, "HTTP/1.%*d %d", &status) != 1) {
        free(resp);
        return -1;
    }
    char *b = strstr(resp, "\r\n\r\n");
    *body = ch_strdup(b ? b + 4 : "");
    free(resp);
    return status;
}

static long status_kib(const char *path, const char *key)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char line[256];
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof(line), f)) {
        if (strncmp(line, key, kl) == 0) {
            v = strtol(line + kl, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

int bench_proc_self(bench_proc_t *out)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    out->cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    out->rss_kib = status_kib("/proc/self/status", "VmRSS:");
    out->hwm_kib = ru.ru_maxrss;
    return 0;
}

int bench_proc_pid(pid_t pid, bench_proc_t *out)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* The command name may hold spaces and parentheses: fields start after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long ut = 0, st = 0;
    /* After ')': state(3) ... utime is field 14, stime 15. */
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    long hz = sysconf(_SC_CLK_TCK);
    out->cpu_s = (double)(ut + st) / (double)(hz > 0 ? hz : 100);
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    out->rss_kib = status_kib(path, "VmRSS:");
    out->hwm_kib = status_kib(path, "VmHWM:");
    return 0;
}
