/* test_uring.c: batched sends through io_uring on real sockets (socketpairs): every send
 * of a batch completes inside uring_run with its byte count, a full socket gives a short
 * count and then EAGAIN without blocking, a closed peer gives an error, a full batch is
 * refused until it is run. Exits 77 (skipped) where the kernel refuses io_uring. */
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "io/uring.h"

typedef struct {
    int calls;
    long res;
} result_t;

static void on_done(void *data, long res)
{
    result_t *r = data;
    r->calls++;
    r->res = res;
}

static void pair(int sv[2])
{
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) abort();
    fcntl(sv[0], F_SETFL, O_NONBLOCK);
    fcntl(sv[1], F_SETFL, O_NONBLOCK);
}

static size_t drain(int fd, char *out, size_t cap)
{
    size_t got = 0;
    ssize_t n;
    while (got < cap && (n = read(fd, out + got, cap - got)) > 0) got += (size_t)n;
    return got;
}

static void test_batch_of_sockets(void)
{
    uring_t *u = uring_new(8);
    ASSERT_TRUE(u != NULL);
    int sv[5][2];
    result_t res[5] = {{0}};
    char head[5][8]; /* borrowed until uring_run */
    for (int i = 0; i < 5; i++) {
        pair(sv[i]);
        int hn = snprintf(head[i], sizeof(head[i]), "s%d:", i);
        struct iovec iov[3] = {{head[i], (size_t)hn}, {"hello ", 6}, {"world", 5}};
        ASSERT_EQ(uring_sendv(u, sv[i][0], iov, 3, &res[i]), 0);
    }
    ASSERT_EQ(uring_queued(u), 5);
    uring_run(u, on_done);
    ASSERT_EQ(uring_queued(u), 0);
    for (int i = 0; i < 5; i++) {
        ASSERT_EQ(res[i].calls, 1);
        ASSERT_EQ(res[i].res, 14);
        char buf[64], want[32];
        snprintf(want, sizeof(want), "s%d:hello world", i);
        ASSERT_EQ(drain(sv[i][1], buf, sizeof(buf)), 14);
        ASSERT_MEMEQ(buf, want, 14);
        close(sv[i][0]);
        close(sv[i][1]);
    }
    ASSERT_TRUE(!uring_broken(u));
    uint64_t subs, sends;
    uring_stats(u, &subs, &sends);
    ASSERT_EQ(subs, 1); /* five sends, one submission (the start-up self-test not counted) */
    ASSERT_EQ(sends, 5);
    uring_free(u);
}

static void test_full_batch_is_refused(void)
{
    uring_t *u = uring_new(2);
    ASSERT_TRUE(u != NULL);
    int sv[2];
    pair(sv);
    result_t r = {0};
    struct iovec iov = {"x", 1};
    ASSERT_EQ(uring_sendv(u, sv[0], &iov, 1, &r), 0);
    ASSERT_EQ(uring_sendv(u, sv[0], &iov, 1, &r), 0);
    ASSERT_EQ(uring_sendv(u, sv[0], &iov, 1, &r), -1);
    uring_run(u, on_done);
    ASSERT_EQ(r.calls, 2);
    ASSERT_EQ(uring_sendv(u, sv[0], &iov, 1, &r), 0); /* room again */
    uring_run(u, on_done);
    ASSERT_EQ(r.calls, 3);
    char buf[8];
    ASSERT_EQ(drain(sv[1], buf, sizeof(buf)), 3);
    close(sv[0]);
    close(sv[1]);
    uring_free(u);
}

static void test_full_socket_short_then_eagain(void)
{
    uring_t *u = uring_new(4);
    ASSERT_TRUE(u != NULL);
    int sv[2];
    pair(sv);
    int small = 4096;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
    size_t big = 4 << 20;
    char *p = calloc(1, big);
    result_t r = {0};
    struct iovec iov = {p, big};
    ASSERT_EQ(uring_sendv(u, sv[0], &iov, 1, &r), 0);
    uring_run(u, on_done); /* must not wait for the reader */
    ASSERT_EQ(r.calls, 1);
    ASSERT_TRUE(r.res > 0 && (size_t)r.res < big);
    ASSERT_EQ(uring_sendv(u, sv[0], &iov, 1, &r), 0);
    uring_run(u, on_done);
    ASSERT_EQ(r.calls, 2);
    ASSERT_EQ(r.res, -EAGAIN);
    free(p);
    close(sv[0]);
    close(sv[1]);
    uring_free(u);
}

static void test_closed_peer_is_an_error(void)
{
    uring_t *u = uring_new(4);
    ASSERT_TRUE(u != NULL);
    int sv[2];
    pair(sv);
    close(sv[1]);
    result_t r = {0};
    struct iovec iov = {"gone", 4};
    ASSERT_EQ(uring_sendv(u, sv[0], &iov, 1, &r), 0);
    uring_run(u, on_done); /* MSG_NOSIGNAL: no SIGPIPE kills the test */
    ASSERT_EQ(r.calls, 1);
    ASSERT_EQ(r.res, -EPIPE);
    close(sv[0]);
    uring_free(u);
}

static void test_iovec_space_is_shared(void)
{
    /* depth 2: 32 iovecs for the batch; a send of 40 gets the first 32, and then the
     * batch refuses another send although it has a free slot. */
    uring_t *u = uring_new(2);
    ASSERT_TRUE(u != NULL);
    int sv[2];
    pair(sv);
    struct iovec iov[40];
    char bytes[40];
    for (int i = 0; i < 40; i++) {
        bytes[i] = (char)('a' + i % 26);
        iov[i].iov_base = &bytes[i];
        iov[i].iov_len = 1;
    }
    result_t r = {0};
    ASSERT_EQ(uring_sendv(u, sv[0], iov, 40, &r), 0);
    ASSERT_EQ(uring_sendv(u, sv[0], iov, 1, &r), -1); /* no iovec space left */
    ASSERT_EQ(uring_queued(u), 1);
    uring_run(u, on_done);
    ASSERT_EQ(r.calls, 1);
    ASSERT_EQ(r.res, 32);
    char buf[64];
    ASSERT_EQ(drain(sv[1], buf, sizeof(buf)), 32);
    ASSERT_MEMEQ(buf, bytes, 32);
    close(sv[0]);
    close(sv[1]);
    uring_free(u);
}

static void test_bad_depth(void)
{
    ASSERT_TRUE(uring_new(0) == NULL);
    ASSERT_EQ(errno, EINVAL);
    ASSERT_TRUE(uring_new(5000) == NULL);
}

int main(void)
{
    uring_t *probe = uring_new(1);
    if (!probe) {
        fprintf(stderr, "skip: io_uring is not available here (%s)\n", strerror(errno));
        return 77;
    }
    uring_free(probe);
    RUN(test_batch_of_sockets);
    RUN(test_full_batch_is_refused);
    RUN(test_full_socket_short_then_eagain);
    RUN(test_closed_peer_is_an_error);
    RUN(test_iovec_space_is_shared);
    RUN(test_bad_depth);
    TEST_MAIN_END();
}
