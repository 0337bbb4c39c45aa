/* http_redirect.c: the https:// Location of a redirected plain request. */
#include "io/http_redirect.h"

#include <stdio.h>
#include <string.h>

/* Length of the host name at the start of h[0..len) (before ":port"), or 0 if invalid. */
static size_t host_name_len(const char *h, size_t len)
{
    size_t n = 0;
    if (len > 0 && h[0] == '[') { /* [IPv6] */
        while (n < len && h[n] != ']') {
            char ch = h[n];
            if (n > 0 && !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f') ||
                           (ch >= 'A' && ch <= 'F') || ch == ':' || ch == '.'))
                return 0;
            n++;
        }
        if (n == len || n < 3) return 0;
        n++; /* the ']' */
    } else {
        while (n < len && h[n] != ':') {
            char ch = h[n];
            if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
                  (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '.'))
                return 0;
            n++;
        }
        if (n == 0 || n > 253) return 0;
    }
    if (n == len) return n;
    if (h[n] != ':' || n + 1 == len || len - n - 1 > 5) return 0;
    for (size_t i = n + 1; i < len; i++)
        if (h[i] < '0' || h[i] > '9') return 0;
    return n;
}

int http_redirect_location(const char *host, size_t hlen, const char *target, size_t tlen,
                           int port, char *out, size_t cap)
{
    size_t name = host_name_len(host, hlen);
    if (name == 0 || tlen == 0 || target[0] != '/') return -1;
    for (size_t i = 0; i < tlen; i++)
        if ((unsigned char)target[i] <= 0x20 || (unsigned char)target[i] >= 0x7f) return -1;
    char portbuf[8] = "";
    if (port != 443) snprintf(portbuf, sizeof(portbuf), ":%d", port);
    size_t need = 8 + name + strlen(portbuf) + tlen + 1;
    if (need > cap || need > HTTP_REDIRECT_MAX) return -1;
    size_t o = 0;
    memcpy(out + o, "https://", 8);
    o += 8;
    memcpy(out + o, host, name);
    o += name;
    memcpy(out + o, portbuf, strlen(portbuf));
    o += strlen(portbuf);
    memcpy(out + o, target, tlen);
    o += tlen;
    out[o] = '\0';
    return 0;
}
