/* bus_url.c: the cluster bus's address (bus_url.h). */
#include "bus/bus_url.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUS_URL_FORM "want redis://host[:port][/db]"

/* Reads the decimal number s[0..n) into *v (at most max). Returns 0 or -1. */
static int number(const char *s, size_t n, long max, int *v)
{
    if (n == 0 || n > 5) return -1;
    long x = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        x = x * 10 + (s[i] - '0');
    }
    if (x > max) return -1;
    *v = (int)x;
    return 0;
}

int bus_url_parse(const char *url, bus_url_t *out, char *err, size_t errlen)
{
    static const char scheme[] = "redis://";
    memset(out, 0, sizeof(*out));
    out->port = 6379;
    if (strncmp(url, scheme, sizeof(scheme) - 1) != 0) {
        snprintf(err, errlen, "--cluster: not a redis:// URL (" BUS_URL_FORM ")");
        return -1;
    }
    const char *p = url + sizeof(scheme) - 1;
    const char *slash = strchr(p, '/');
    const char *end = slash ? slash : p + strlen(p);
    const char *host = p, *host_end, *colon = NULL;
    if (*p == '[') { /* [v6]:port */
        const char *close = memchr(p, ']', (size_t)(end - p));
        if (!close) goto bad;
        host = p + 1;
        host_end = close;
        if (close + 1 < end) {
            if (close[1] != ':') goto bad;
            colon = close + 1;
        }
    } else {
        colon = memchr(p, ':', (size_t)(end - p));
        host_end = colon ? colon : end;
        if (memchr(p, '@', (size_t)(end - p))) {
            snprintf(err, errlen,
                     "--cluster: a password in the URL is not supported (" BUS_URL_FORM ")");
            return -1;
        }
    }
    size_t hlen = (size_t)(host_end - host);
    if (hlen == 0 || hlen >= sizeof(out->host)) goto bad;
    memcpy(out->host, host, hlen);
    if (colon && (number(colon + 1, (size_t)(end - colon - 1), 65535, &out->port) != 0 ||
                  out->port == 0))
        goto bad;
    if (slash && slash[1] && number(slash + 1, strlen(slash + 1), 65535, &out->db) != 0)
        goto bad;
    return 0;
bad:
    snprintf(err, errlen, "--cluster: bad URL (" BUS_URL_FORM ")");
    return -1;
}

int bus_url_check(const char *url, int has_pg, char *err, size_t errlen)
{
    bus_url_t u;
    if (!url[0]) return 0;
    if (!has_pg) {
        snprintf(err, errlen, "--cluster needs a PostgreSQL --store (postgres://...)");
        return -1;
    }
    return bus_url_parse(url, &u, err, errlen);
}
