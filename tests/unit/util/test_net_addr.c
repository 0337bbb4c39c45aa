/* test_net_addr.c: CIDR parsing and matching, per-address limit keys (IPv6 by prefix),
 * client address behind proxies. */
#include "test.h"

#include "util/net_addr.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static int in_list(const char *list, const char *ip)
{
    net_cidr_t *c;
    size_t n;
    net_ip_t a;
    if (net_cidr_list_parse(list, &c, &n) != 0 || net_ip_parse(ip, strlen(ip), &a) != 0) {
        return -1;
    }
    int r = net_cidr_list_match(c, n, &a);
    free(c);
    return r;
}

/* A connection keeps its address in binary (17 bytes, conn.h) and shows it as text: the
 * text is the canonical form, and reads back as the same address. */
static void test_text(void)
{
    ASSERT_EQ(sizeof(net_ip_t), 17);
    static const char *const in[][2] = {
        {"127.0.0.1", "127.0.0.1"},
        {"2001:db8::1", "2001:db8::1"},
        {"2001:DB8:0:0::1", "2001:db8::1"},
        {"::ffff:10.1.2.3", "10.1.2.3"},
        {"::1", "::1"},
        {"fe80::1:2:3:4", "fe80::1:2:3:4"},
    };
    for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
        net_ip_t a, b;
        char text[NET_IP_TEXT];
        ASSERT_EQ(net_ip_parse(in[i][0], strlen(in[i][0]), &a), 0);
        net_ip_text(&a, text, sizeof(text));
        ASSERT_STREQ(text, in[i][1]);
        ASSERT_EQ(net_ip_parse(text, strlen(text), &b), 0);
        ASSERT_EQ(memcmp(&a, &b, sizeof(a)), 0);
    }
}

static void test_cidr(void)
{
    ASSERT_EQ(in_list("10.0.0.0/8", "10.1.2.3"), 1);
    ASSERT_EQ(in_list("10.0.0.0/8", "11.1.2.3"), 0);
    ASSERT_EQ(in_list("127.0.0.1", "127.0.0.1"), 1);
    ASSERT_EQ(in_list("127.0.0.1", "127.0.0.2"), 0);
    ASSERT_EQ(in_list("192.168.1.0/25, fd00::/8", "192.168.1.127"), 1);
    ASSERT_EQ(in_list("192.168.1.0/25, fd00::/8", "192.168.1.128"), 0);
    ASSERT_EQ(in_list("192.168.1.0/25,fd00::/8", "fd12::1"), 1);
    ASSERT_EQ(in_list("0.0.0.0/0", "::ffff:1.2.3.4"), 1); /* mapped = IPv4 */
    ASSERT_EQ(in_list("0.0.0.0/0", "2001:db8::1"), 0);
    ASSERT_EQ(in_list("", "1.2.3.4"), 0);
    net_cidr_t *c;
    size_t n;
    ASSERT_EQ(net_cidr_list_parse("10.0.0.0/33", &c, &n), -1);
    ASSERT_EQ(net_cidr_list_parse("10.0.0.0/", &c, &n), -1);
    ASSERT_EQ(net_cidr_list_parse("fd00::/129", &c, &n), -1);
    ASSERT_EQ(net_cidr_list_parse("localhost", &c, &n), -1);
    ASSERT_EQ(net_cidr_list_parse("1.2.3.4/8x", &c, &n), -1);
}

static void test_key(void)
{
    char k[NET_IP_TEXT];
    net_ip_key("203.0.113.9", k, sizeof(k));
    ASSERT_STREQ(k, "203.0.113.9");
    net_ip_key("2001:db8:1:2:aaaa:bbbb:cccc:dddd", k, sizeof(k));
    ASSERT_STREQ(k, "2001:db8:1:2::/64");
    char k2[NET_IP_TEXT];
    net_ip_key("2001:db8:1:2::99", k2, sizeof(k2));
    ASSERT_STREQ(k, k2);
    net_ip_key("::ffff:127.0.0.1", k, sizeof(k));
    ASSERT_STREQ(k, "127.0.0.1");
    net_ip_key("?", k, sizeof(k));
    ASSERT_STREQ(k, "?");
}

static const char *client(const char *peer, const char *trusted, const char *fwd,
                          const char *xff)
{
    static char out[NET_IP_TEXT];
    net_cidr_t *c;
    size_t n;
    if (net_cidr_list_parse(trusted, &c, &n) != 0) return "bad list";
    net_client_ip(peer, c, n, fwd, fwd ? strlen(fwd) : 0, xff, xff ? strlen(xff) : 0, out,
                  sizeof(out));
    free(c);
    return out;
}

static void test_client_ip(void)
{
    /* No trusted proxies: headers are ignored. */
    ASSERT_STREQ(client("127.0.0.1", "", NULL, "9.9.9.9"), "127.0.0.1");
    /* From an untrusted peer: ignored. */
    ASSERT_STREQ(client("127.0.0.2", "127.0.0.1", NULL, "9.9.9.9"), "127.0.0.2");
    /* Trusted: the rightmost untrusted hop. */
    ASSERT_STREQ(client("127.0.0.1", "127.0.0.1", NULL, "9.9.9.9"), "9.9.9.9");
    ASSERT_STREQ(client("127.0.0.1", "127.0.0.1", NULL, "6.6.6.6, 9.9.9.9"), "9.9.9.9");
    ASSERT_STREQ(client("127.0.0.1", "127.0.0.1,10.0.0.0/8", NULL, "6.6.6.6, 9.9.9.9, 10.1.1.1"),
                 "9.9.9.9");
    /* Every hop trusted: the leftmost. */
    ASSERT_STREQ(client("127.0.0.1", "127.0.0.1,10.0.0.0/8", NULL, "10.2.2.2,10.1.1.1"),
                 "10.2.2.2");
    /* A hop that is no address ends the walk at the hop to its right. */
    ASSERT_STREQ(client("127.0.0.1", "127.0.0.1,10.0.0.0/8", NULL, "9.9.9.9, junk, 10.1.1.1"),
                 "10.1.1.1");
    ASSERT_STREQ(client("127.0.0.1", "127.0.0.1", NULL, "junk"), "127.0.0.1");
    ASSERT_STREQ(client("127.0.0.1", "127.0.0.1", NULL, ""), "127.0.0.1");
    ASSERT_STREQ(client("127.0.0.1", "127.0.0.1", NULL, "1.2.3.4:5678"), "1.2.3.4");
    ASSERT_STREQ(client("127.0.0.1", "127.0.0.1", NULL, "[2001:db8::1]:80"), "2001:db8::1");
    ASSERT_STREQ(client("127.0.0.1", "127.0.0.1", NULL, "2001:db8::1"), "2001:db8::1");
    /* Forwarded wins over X-Forwarded-For. */
    ASSERT_STREQ(client("127.0.0.1", "127.0.0.1", "for=192.0.2.60;proto=http;by=203.0.113.43",
                        "9.9.9.9"), "192.0.2.60");
    ASSERT_STREQ(client("127.0.0.1", "127.0.0.1",
                        "for=6.6.6.6, For=\"[2001:db8:cafe::17]:4711\"", NULL),
                 "2001:db8:cafe::17");
    ASSERT_STREQ(client("127.0.0.1", "127.0.0.1", "for=unknown", NULL), "127.0.0.1");
    ASSERT_STREQ(client("127.0.0.1", "127.0.0.1", "proto=https", NULL), "127.0.0.1");
    ASSERT_STREQ(client("::1", "::1", NULL, "8.8.8.8"), "8.8.8.8");
}

static int key6(const char *addr, unsigned prefix, char out[NET_IP_KEY_MAX])
{
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, addr, &sa.sin6_addr) != 1) return -9;
    return net_sockaddr_key((struct sockaddr *)&sa, prefix, out, NET_IP_KEY_MAX);
}

static void sockaddr_ipv4(void)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.33", &sa.sin_addr);
    char k[NET_IP_KEY_MAX];
    ASSERT_EQ(net_sockaddr_key((struct sockaddr *)&sa, 64, k, sizeof(k)), 0);
    ASSERT_STREQ(k, "192.0.2.33");
    /* The IPv6 prefix does not apply to IPv4. */
    ASSERT_EQ(net_sockaddr_key((struct sockaddr *)&sa, 8, k, sizeof(k)), 0);
    ASSERT_STREQ(k, "192.0.2.33");
}

static void sockaddr_ipv6_prefix(void)
{
    char a[NET_IP_KEY_MAX], b[NET_IP_KEY_MAX];
    ASSERT_EQ(key6("2001:db8:1:2:aaaa:bbbb:cccc:dddd", 64, a), 0);
    ASSERT_EQ(key6("2001:db8:1:2::1", 64, b), 0);
    ASSERT_STREQ(a, "2001:db8:1:2::/64");
    ASSERT_STREQ(a, b);
    ASSERT_EQ(key6("2001:db8:1:3::1", 64, b), 0);
    ASSERT_STREQ(b, "2001:db8:1:3::/64");
    /* A prefix not on a byte boundary. */
    ASSERT_EQ(key6("2001:db8:1:ffff::1", 52, a), 0);
    ASSERT_STREQ(a, "2001:db8:1:f000::/52");
    ASSERT_EQ(key6("2001:db8:1:2::1", 128, a), 0);
    ASSERT_STREQ(a, "2001:db8:1:2::1/128");
    ASSERT_EQ(key6("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128, a), 0);
    ASSERT_STREQ(a, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
    ASSERT_EQ(key6("2001:db8::1", 1, a), 0);
    ASSERT_STREQ(a, "::/1");
}

static void sockaddr_v4_mapped(void)
{
    char k[NET_IP_KEY_MAX];
    ASSERT_EQ(key6("::ffff:198.51.100.7", 64, k), 0);
    ASSERT_STREQ(k, "198.51.100.7");
}

static void sockaddr_bad(void)
{
    char k[NET_IP_KEY_MAX];
    ASSERT_EQ(key6("2001:db8::1", 0, k), -1);
    ASSERT_EQ(key6("2001:db8::1", 129, k), -1);
    struct sockaddr sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_family = AF_UNIX;
    ASSERT_EQ(net_sockaddr_key(&sa, 64, k, sizeof(k)), -1);
}

int main(void)
{
    RUN(test_text);
    RUN(test_cidr);
    RUN(test_key);
    RUN(test_client_ip);
    RUN(sockaddr_ipv4);
    RUN(sockaddr_ipv6_prefix);
    RUN(sockaddr_v4_mapped);
    RUN(sockaddr_bad);
    TEST_MAIN_END();
}
