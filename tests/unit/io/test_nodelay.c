/* test_nodelay.c: the server sets TCP_NODELAY on its listeners only (server.c
 * bind_listener) and not on each accepted connection, relying on Linux giving an accepted
 * socket its listener's TCP_NODELAY. This checks that the kernel does: a connection
 * accepted from a listener with the option has it, one from a listener without does not. */
#include "test.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

/* Accepts one loopback connection from a listener with TCP_NODELAY set to on; *got is
 * the accepted socket's TCP_NODELAY (0 or 1). */
static void accepted_nodelay(int on, int *got)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_TRUE(l >= 0);
    ASSERT_EQ(setsockopt(l, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)), 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof(a);
    ASSERT_EQ(bind(l, (struct sockaddr *)&a, sizeof(a)), 0);
    ASSERT_EQ(listen(l, 1), 0);
    ASSERT_EQ(getsockname(l, (struct sockaddr *)&a, &alen), 0);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_EQ(connect(c, (struct sockaddr *)&a, sizeof(a)), 0);
    int s = accept(l, NULL, NULL);
    ASSERT_TRUE(s >= 0);
    int v = -1;
    socklen_t vlen = sizeof(v);
    ASSERT_EQ(getsockopt(s, IPPROTO_TCP, TCP_NODELAY, &v, &vlen), 0);
    close(s);
    close(c);
    close(l);
    *got = v != 0;
}

static void test_inherited(void)
{
    int got = -1;
    accepted_nodelay(1, &got);
    ASSERT_EQ(got, 1);
    accepted_nodelay(0, &got);
    ASSERT_EQ(got, 0);
}

int main(void)
{
    RUN(test_inherited);
    TEST_MAIN_END();
}
