/* test_http_redirect.c: the https Location of the --tls-redirect listener. */
#include "test.h"

#include <string.h>

#include "io/http_redirect.h"

static int loc(const char *host, const char *target, int port, char *out)
{
    return http_redirect_location(host, strlen(host), target, strlen(target), port, out,
                                  HTTP_REDIRECT_MAX);
}

static void test_good(void)
{
    char out[HTTP_REDIRECT_MAX];
    ASSERT_EQ(loc("example.com", "/a/b?x=1&y=%20", 443, out), 0);
    ASSERT_STREQ(out, "https://example.com/a/b?x=1&y=%20");
    ASSERT_EQ(loc("Example.COM:8080", "/", 8443, out), 0);
    ASSERT_STREQ(out, "https://Example.COM:8443/");
    ASSERT_EQ(loc("[::1]:80", "/ws", 8443, out), 0);
    ASSERT_STREQ(out, "https://[::1]:8443/ws");
    ASSERT_EQ(loc("10.0.0.1", "/x", 443, out), 0);
    ASSERT_STREQ(out, "https://10.0.0.1/x");
}

static void test_bad(void)
{
    char out[HTTP_REDIRECT_MAX], longhost[300], longtarget[HTTP_REDIRECT_MAX + 10];
    const char *hosts[] = {"",     ":80",  "a b",  "evil.com/x", "a@b",    "x:", "x:123456",
                           "x:8a", "[::1", "[zz]", "[]",         "a\r\nb", "x_y"};
    for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
        ASSERT_EQ(loc(hosts[i], "/", 443, out), -1);
    ASSERT_EQ(loc("a", "", 443, out), -1);
    ASSERT_EQ(loc("a", "http://x/", 443, out), -1);
    ASSERT_EQ(loc("a", "/a b", 443, out), -1);
    ASSERT_EQ(loc("a", "/\r\nSet-Cookie: x", 443, out), -1);
    ASSERT_EQ(loc("a", "/\xc3\xa9", 443, out), -1);
    memset(longhost, 'a', 254);
    longhost[254] = '\0';
    ASSERT_EQ(loc(longhost, "/", 443, out), -1);
    longhost[253] = '\0';
    ASSERT_EQ(loc(longhost, "/", 443, out), 0);
    longtarget[0] = '/';
    memset(longtarget + 1, 'a', sizeof(longtarget) - 2);
    longtarget[sizeof(longtarget) - 1] = '\0';
    ASSERT_EQ(loc("a", longtarget, 443, out), -1);
    /* a short output buffer */
    ASSERT_EQ(http_redirect_location("abc", 3, "/", 1, 443, out, 13), 0);
    ASSERT_EQ(http_redirect_location("abcd", 4, "/", 1, 443, out, 13), -1);
}

int main(void)
{
    RUN(test_good);
    RUN(test_bad);
    TEST_MAIN_END();
}
