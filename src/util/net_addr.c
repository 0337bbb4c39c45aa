/* net_addr.c: client addresses: IP/CIDR parsing, rate-limit keys, trusted proxy hops. */
#include "util/net_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/mem.h"

/* Hops remembered from forwarding headers: the walk goes right to left and stops at the
 * first untrusted hop, so only the rightmost few can matter. */
#define NET_MAX_HOPS 32

int net_ip_parse(const char *s, size_t len, net_ip_t *out)
{
    char buf[NET_IP_TEXT];
    if (len == 0 || len >= sizeof(buf)) return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, buf, out->b) == 1) return 0;
    if (inet_pton(AF_INET6, buf, out->b) != 1) return -1;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (memcmp(out->b, mapped, sizeof(mapped)) == 0) {
        memmove(out->b, out->b + 12, 4);
        memset(out->b + 4, 0, 12);
        return 0;
    }
    out->v6 = 1;
    return 0;
}

void net_ip_text(const net_ip_t *ip, char *out, size_t cap)
{
    char text[INET6_ADDRSTRLEN];
    inet_ntop(ip->v6 ? AF_INET6 : AF_INET, ip->b, text, sizeof(text));
    snprintf(out, cap, "%s", text);
}

int net_cidr_parse(const char *s, size_t len, net_cidr_t *out)
{
    const char *slash = memchr(s, '/', len);
    size_t alen = slash ? (size_t)(slash - s) : len;
    if (net_ip_parse(s, alen, &out->ip) != 0) return -1;
    unsigned max = out->ip.v6 ? 128 : 32;
    out->bits = max;
    if (!slash) return 0;
    const char *p = slash + 1, *end = s + len;
    if (p == end || end - p > 3) return -1;
    unsigned v = 0;
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') return -1;
        v = v * 10 + (unsigned)(*p - '0');
    }
    /* "::ffff:10.0.0.0/104" names IPv4 space: the prefix counts the 96 mapped bits. */
    if (!out->ip.v6 && memchr(s, ':', alen)) {
        if (v < 96) return -1;
        v -= 96;
    }
    if (v > max) return -1;
    out->bits = v;
    return 0;
}

int net_cidr_list_parse(const char *list, net_cidr_t **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',') p++;
        if (!*p) break;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ') p++;
        net_cidr_t c;
        if (net_cidr_parse(start, (size_t)(p - start), &c) != 0) {
            free(*out);
            *out = NULL;
            *n = 0;
            return -1;
        }
        *out = ch_realloc(*out, (*n + 1) * sizeof(**out));
        (*out)[(*n)++] = c;
    }
    return 0;
}

static int net__in(const net_cidr_t *c, const net_ip_t *ip)
{
    if (c->ip.v6 != ip->v6) return 0;
    unsigned full = c->bits / 8, rest = c->bits % 8;
    if (memcmp(c->ip.b, ip->b, full) != 0) return 0;
    if (!rest) return 1;
    uint8_t mask = (uint8_t)(0xff << (8 - rest));
    return (c->ip.b[full] & mask) == (ip->b[full] & mask);
}

int net_cidr_list_match(const net_cidr_t *cidrs, size_t n, const net_ip_t *ip)
{
    for (size_t i = 0; i < n; i++)
        if (net__in(&cidrs[i], ip)) return 1;
    return 0;
}

/* Writes the limit key of a: an IPv4 address as is; an IPv6 address cut to v6_prefix
 * bits (1..128), as "network/prefix". Returns 0 or -1. */
static int net__group_key(net_ip_t a, unsigned v6_prefix, char *out, size_t cap)
{
    char text[INET6_ADDRSTRLEN];
    if (!a.v6) {
        inet_ntop(AF_INET, a.b, text, sizeof(text));
        int n = snprintf(out, cap, "%s", text);
        return n > 0 && (size_t)n < cap ? 0 : -1;
    }
    if (v6_prefix < 1 || v6_prefix > 128) return -1;
    for (unsigned bit = v6_prefix; bit < 128; bit++)
        a.b[bit / 8] &= (uint8_t)~(0x80u >> (bit % 8));
    inet_ntop(AF_INET6, a.b, text, sizeof(text));
    int n = snprintf(out, cap, "%s/%u", text, v6_prefix);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

void net_ip_key(const char *ip, char *out, size_t cap)
{
    net_ip_t a;
    if (net_ip_parse(ip, strlen(ip), &a) != 0 || net__group_key(a, 64, out, cap) != 0)
        snprintf(out, cap, "%s", ip);
}

int net_ip_from_sockaddr(const struct sockaddr *sa, net_ip_t *out)
{
    memset(out, 0, sizeof(*out));
    if (sa->sa_family == AF_INET) {
        memcpy(out->b, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        return 0;
    }
    if (sa->sa_family != AF_INET6) return -1;
    const struct in6_addr *x = &((const struct sockaddr_in6 *)sa)->sin6_addr;
    if (IN6_IS_ADDR_V4MAPPED(x)) {
        memcpy(out->b, x->s6_addr + 12, 4);
    } else {
        out->v6 = 1;
        memcpy(out->b, x->s6_addr, 16);
    }
    return 0;
}

int net_ip_group_key(const net_ip_t *ip, unsigned v6_prefix, char *out, size_t cap)
{
    return net__group_key(*ip, v6_prefix, out, cap);
}

int net_sockaddr_key(const struct sockaddr *sa, unsigned v6_prefix, char *out, size_t cap)
{
    net_ip_t a;
    if (net_ip_from_sockaddr(sa, &a) != 0) return -1;
    return net__group_key(a, v6_prefix, out, cap);
}

typedef struct {
    const char *s;
    size_t len; /* 0: a hop that names no address */
} net_hop_t;

typedef struct {
    net_hop_t hop[NET_MAX_HOPS];
    size_t n;
} net_hops_t;

static void net__push(net_hops_t *h, const char *s, size_t len)
{
    if (h->n == NET_MAX_HOPS) { /* keep the rightmost ones */
        memmove(h->hop, h->hop + 1, (NET_MAX_HOPS - 1) * sizeof(h->hop[0]));
        h->n--;
    }
    h->hop[h->n++] = (net_hop_t){s, len};
}

static void net__trim(const char **s, size_t *len)
{
    while (*len && (**s == ' ' || **s == '\t')) (*s)++, (*len)--;
    while (*len && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t')) (*len)--;
}

/* Reduces a node ("1.2.3.4", "1.2.3.4:80", "[v6]", "[v6]:80", "v6") to its address. */
static void net__node(const char **s, size_t *len)
{
    net__trim(s, len);
    if (*len >= 2 && (*s)[0] == '"' && (*s)[*len - 1] == '"') (*s)++, *len -= 2;
    if (*len && (*s)[0] == '[') {
        const char *close = memchr(*s, ']', *len);
        if (!close) {
            *len = 0;
            return;
        }
        *len = (size_t)(close - *s - 1);
        (*s)++;
        return;
    }
    const char *colon = memchr(*s, ':', *len);
    if (colon && !memchr(colon + 1, ':', *len - (size_t)(colon + 1 - *s)))
        *len = (size_t)(colon - *s); /* one colon: IPv4 with a port */
}

static void net__xff(net_hops_t *h, const char *v, size_t len)
{
    const char *end = v + len;
    while (v <= end) {
        const char *comma = memchr(v, ',', (size_t)(end - v));
        const char *stop = comma ? comma : end;
        const char *s = v;
        size_t n = (size_t)(stop - v);
        net__node(&s, &n);
        if (n || stop > v) net__push(h, s, n);
        if (!comma) break;
        v = comma + 1;
    }
}

static void net__forwarded(net_hops_t *h, const char *v, size_t len)
{
    const char *end = v + len;
    while (v < end) {
        /* One element: pairs separated by ';', up to a ',' outside quotes. */
        const char *s = NULL;
        size_t n = 0;
        const char *p = v;
        while (p < end && *p != ',') {
            const char *pair = p;
            int quoted = 0;
            while (p < end && (quoted || (*p != ';' && *p != ','))) {
                if (*p == '"') quoted = !quoted;
                p++;
            }
            const char *ps = pair;
            size_t pl = (size_t)(p - pair);
            net__trim(&ps, &pl);
            if (pl > 4 && strncasecmp(ps, "for=", 4) == 0) {
                s = ps + 4;
                n = pl - 4;
                net__node(&s, &n);
            }
            if (p < end && *p == ';') p++;
        }
        net__push(h, s ? s : v, s ? n : 0);
        v = p < end ? p + 1 : end;
    }
}

void net_client_ip(const char *peer, const net_cidr_t *trusted, size_t ntrusted,
                   const char *fwd, size_t fwd_len, const char *xff, size_t xff_len,
                   char *out, size_t cap)
{
    snprintf(out, cap, "%s", peer);
    net_ip_t ip;
    if (!ntrusted || net_ip_parse(peer, strlen(peer), &ip) != 0 ||
        !net_cidr_list_match(trusted, ntrusted, &ip))
        return;
    net_hops_t h;
    h.n = 0;
    if (fwd) net__forwarded(&h, fwd, fwd_len);
    else if (xff) net__xff(&h, xff, xff_len);
    for (size_t i = h.n; i-- > 0;) {
        if (net_ip_parse(h.hop[i].s, h.hop[i].len, &ip) != 0) return; /* keep the last */
        char text[INET6_ADDRSTRLEN];
        inet_ntop(ip.v6 ? AF_INET6 : AF_INET, ip.b, text, sizeof(text));
        snprintf(out, cap, "%s", text);
        if (!net_cidr_list_match(trusted, ntrusted, &ip)) return;
    }
}
