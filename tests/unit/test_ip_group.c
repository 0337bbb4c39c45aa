/* test_ip_group.c: unit tests for per-address limit keys. */
#include "ip_group.h"
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>

static int key6(const char *addr, unsigned prefix, char out[IP_GROUP_KEY_MAX])
{
    struct sockaddr_in6 sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin6_family = AF_INET6;
    if (inet_pton(AF_INET6, addr, &sa.sin6_addr) != 1) return -9;
    return ip_group_key((struct sockaddr *)&sa, prefix, out);
}

static void test_ipv4(void)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    inet_pton(AF_INET, "192.0.2.33", &sa.sin_addr);
    char k[IP_GROUP_KEY_MAX];
    ASSERT_EQ(ip_group_key((struct sockaddr *)&sa, 64, k), 0);
    ASSERT_STREQ(k, "192.0.2.33");
    /* The IPv6 prefix does not apply to IPv4. */
    ASSERT_EQ(ip_group_key((struct sockaddr *)&sa, 8, k), 0);
    ASSERT_STREQ(k, "192.0.2.33");
}

static void test_ipv6_prefix(void)
{
    char a[IP_GROUP_KEY_MAX], b[IP_GROUP_KEY_MAX];
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

static void test_v4_mapped(void)
{
    char k[IP_GROUP_KEY_MAX];
    ASSERT_EQ(key6("::ffff:198.51.100.7", 64, k), 0);
    ASSERT_STREQ(k, "198.51.100.7");
}

static void test_bad(void)
{
    char k[IP_GROUP_KEY_MAX];
    ASSERT_EQ(key6("2001:db8::1", 0, k), -1);
    ASSERT_EQ(key6("2001:db8::1", 129, k), -1);
    struct sockaddr sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_family = AF_UNIX;
    ASSERT_EQ(ip_group_key(&sa, 64, k), -1);
}

int main(void)
{
    RUN(test_ipv4);
    RUN(test_ipv6_prefix);
    RUN(test_v4_mapped);
    RUN(test_bad);
    TEST_MAIN_END();
}
