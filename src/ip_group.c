/* ip_group.c: per-address limit keys, IPv6 grouped by prefix. */
#include "ip_group.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

int ip_group_key(const struct sockaddr *sa, unsigned v6_prefix, char out[IP_GROUP_KEY_MAX])
{
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
        return inet_ntop(AF_INET, &in->sin_addr, out, IP_GROUP_KEY_MAX) ? 0 : -1;
    }
    if (sa->sa_family != AF_INET6 || v6_prefix < 1 || v6_prefix > 128) return -1;
    const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr))
        return inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], out, IP_GROUP_KEY_MAX) ? 0 : -1;
    struct in6_addr a = in6->sin6_addr;
    for (unsigned bit = v6_prefix; bit < 128; bit++)
        a.s6_addr[bit / 8] &= (unsigned char)~(0x80u >> (bit % 8));
    char text[INET6_ADDRSTRLEN];
    if (!inet_ntop(AF_INET6, &a, text, sizeof(text))) return -1;
    int n = snprintf(out, IP_GROUP_KEY_MAX, "%s/%u", text, v6_prefix);
    return n > 0 && n < IP_GROUP_KEY_MAX ? 0 : -1;
}
