/* net_addr.h: client addresses (pure): IP and CIDR parsing, the rate-limit key of an
 * address (IPv6 grouped by /64), and the client address behind trusted proxies from
 * X-Forwarded-For / Forwarded values. */
#ifndef CHORUS_NET_ADDR_H
#define CHORUS_NET_ADDR_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Longest text form of an address, with its NUL (an IPv6 with an embedded IPv4). */
#define NET_IP_TEXT 48

/* Longest limit key, NUL included: an IPv6 text address (45) + "/128". */
#define NET_IP_KEY_MAX 52

/* 17 bytes, so a connection keeps its client's address in binary (conn.h) and formats it
 * only when a log line or the API shows it (net_ip_text). */
typedef struct {
    uint8_t b[16];
    uint8_t v6; /* 0: IPv4 in b[0..4), 1: IPv6 in b[0..16) */
} net_ip_t;

typedef struct net_cidr_s {
    net_ip_t ip;
    unsigned bits;      /* prefix length: 0..32 or 0..128 */
} net_cidr_t;

/* Parses the len bytes at s (borrowed) as an IPv4 or IPv6 address; an IPv4-mapped IPv6
 * address (::ffff:a.b.c.d) becomes the IPv4 address. Returns 0 or -1. */
int net_ip_parse(const char *s, size_t len, net_ip_t *out);

/* Writes ip's text form into out (cap >= NET_IP_TEXT): "192.0.2.1", "2001:db8::1" (what
 * net_ip_parse reads back to the same address). Borrows ip. */
void net_ip_text(const net_ip_t *ip, char *out, size_t cap);

/* Parses "a.b.c.d", "a.b.c.d/n", "v6" or "v6/n" (a bare address is a /32 or /128).
 * Returns 0 or -1. */
int net_cidr_parse(const char *s, size_t len, net_cidr_t *out);

/* Parses a comma-separated list of CIDRs (spaces allowed around items; empty: none).
 * On success returns 0 with *out a new array (free with free(); NULL when empty) of *n
 * items; -1 when an item is not a CIDR. Borrows list. */
int net_cidr_list_parse(const char *list, net_cidr_t **out, size_t *n);

/* Returns 1 when ip lies in one of cidrs[0..n), else 0. Borrows both. */
int net_cidr_list_match(const net_cidr_t *cidrs, size_t n, const net_ip_t *ip);

/* Writes into out (cap >= NET_IP_TEXT) the rate-limit key of the address text ip: an IPv4
 * address as is, an IPv6 address as its /64 network ("2001:db8:1:2::/64"), since one
 * host is usually handed a whole /64; text that is not an address is copied as is (cut
 * to fit). Borrows ip. */
void net_ip_key(const char *ip, char *out, size_t cap);

/* Writes into out (cap >= NET_IP_KEY_MAX) the key under which the socket address sa
 * (borrowed; AF_INET or AF_INET6) counts toward a per-address limit: "192.0.2.1" for IPv4
 * and IPv4-mapped IPv6, "2001:db8:1:2::/64" for IPv6 with v6_prefix 64 (1..128; the bits
 * past it are zeroed: one host usually holds a whole /64). Returns 0, or -1 for another
 * family or a prefix out of range. */
int net_sockaddr_key(const struct sockaddr *sa, unsigned v6_prefix, char *out, size_t cap);

/* The address of sa (borrowed; AF_INET or AF_INET6; IPv4-mapped IPv6 becomes IPv4) into
 * out. Returns 0, or -1 for another family. */
int net_ip_from_sockaddr(const struct sockaddr *sa, net_ip_t *out);

/* net_sockaddr_key for an address already parsed (borrowed). */
int net_ip_group_key(const net_ip_t *ip, unsigned v6_prefix, char *out, size_t cap);

/* The client address of a request: peer is the socket's address (text). When peer lies
 * in trusted[0..ntrusted), the hops listed by the proxies are read right to left and the
 * first address not in trusted is the client; a hop that is not an address ("unknown",
 * an obfuscated name) ends the walk at the hop to its right. The hops come from the
 * Forwarded header's for= parameters when fwd is not NULL (RFC 7239), else from
 * X-Forwarded-For (xff); both may hold several header lines joined with ','. Writes the
 * result (always an address text) into out (cap >= NET_IP_TEXT). Borrows everything. */
void net_client_ip(const char *peer, const net_cidr_t *trusted, size_t ntrusted,
                   const char *fwd, size_t fwd_len, const char *xff, size_t xff_len,
                   char *out, size_t cap);

#endif
