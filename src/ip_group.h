/* ip_group.h: the key under which a client address counts toward a per-address limit:
 * an IPv4 address, or an IPv6 address cut to a prefix (one host usually holds a whole
 * /64, so counting single IPv6 addresses would limit nothing). Pure. */
#ifndef CHORUS_IP_GROUP_H
#define CHORUS_IP_GROUP_H

#include <stddef.h>
#include <sys/socket.h>

/* Longest key, NUL included: an IPv6 text address (45) + "/128". */
#define IP_GROUP_KEY_MAX 52

/* Writes the key of sa (borrowed; AF_INET or AF_INET6) into out (IP_GROUP_KEY_MAX bytes):
 * "192.0.2.1" for IPv4 and for IPv4-mapped IPv6 (::ffff:192.0.2.1), "2001:db8:1:2::/64"
 * for IPv6 with v6_prefix 64 (1..128; the bits past it are zeroed). Returns 0, or -1 for
 * another family or a prefix out of range. */
int ip_group_key(const struct sockaddr *sa, unsigned v6_prefix, char out[IP_GROUP_KEY_MAX]);

#endif
