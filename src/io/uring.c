/* uring.c: batched nonblocking socket sends through one io_uring (see uring.h). */
#include "io/uring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <liburing.h>

#include "util/mem.h"

/* iovecs available to one batch, shared by its sends: CONN_IOV (256) each would need
 * 1 MiB for a full batch; most sends need a handful. */
#define URING_IOV_PER_SEND 16

typedef struct {
    struct msghdr msg;
    void *data;
    int done;
} uring_slot_t;

struct uring_s {
    struct io_uring ring;
    unsigned depth;
    unsigned queued;     /* slots filled in this batch */
    size_t iov_used;
    size_t iov_cap;
    uring_slot_t *slots; /* depth */
    struct iovec *iov;   /* iov_cap */
    int broken;
    uint64_t submissions, sends; /* since uring_new, for the log */
};

static void probe_done(void *data, long res)
{
    *(long *)data = res;
}

/* Sends one byte over a socketpair through the ring: a sandbox can allow io_uring_setup
 * and still refuse IORING_OP_SENDMSG, and then every connection's first send would fail.
 * Returns 0, or -1 with errno set. */
static int self_test(uring_t *u)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) != 0) return -1;
    long res = -EIO;
    struct iovec iov = {.iov_base = "?", .iov_len = 1};
    if (uring_sendv(u, sv[0], &iov, 1, &res) == 0) uring_run(u, probe_done);
    char c;
    int ok = res == 1 && read(sv[1], &c, 1) == 1;
    close(sv[0]);
    close(sv[1]);
    if (ok) return 0;
    errno = res < 0 ? (int)-res : EIO;
    return -1;
}

uring_t *uring_new(unsigned depth)
{
    if (depth == 0 || depth > 4096) {
        errno = EINVAL;
        return NULL;
    }
    uring_t *u = ch_calloc(1, sizeof(*u));
    /* SUBMIT_ALL (Linux 5.18): one bad entry does not stop the rest of the batch from
     * being submitted. It is also a conservative floor: older kernels reject it and keep
     * writev, rather than being trusted to fail a MSG_DONTWAIT send at once instead of
     * parking it (which would hold uring_run until the peer reads; test_uring checks
     * that it does not). */
    struct io_uring_params p;
    memset(&p, 0, sizeof(p));
    p.flags = IORING_SETUP_SUBMIT_ALL;
    int rc = io_uring_queue_init_params(depth, &u->ring, &p);
    if (rc < 0) {
        free(u);
        errno = -rc;
        return NULL;
    }
    u->depth = depth;
    u->iov_cap = (size_t)depth * URING_IOV_PER_SEND;
    u->slots = ch_calloc(depth, sizeof(*u->slots));
    u->iov = ch_calloc(u->iov_cap, sizeof(*u->iov));
    if (self_test(u) != 0) {
        int e = errno;
        uring_free(u);
        errno = e;
        return NULL;
    }
    u->submissions = u->sends = 0;
    return u;
}

void uring_free(uring_t *u)
{
    if (!u) return;
    io_uring_queue_exit(&u->ring);
    free(u->slots);
    free(u->iov);
    free(u);
}

int uring_broken(const uring_t *u)
{
    return u->broken;
}

size_t uring_queued(const uring_t *u)
{
    return u->queued;
}

int uring_sendv(uring_t *u, int fd, const struct iovec *iov, size_t n, void *data)
{
    if (u->queued == u->depth || u->iov_used == u->iov_cap) return -1;
    struct io_uring_sqe *sqe = io_uring_get_sqe(&u->ring);
    if (!sqe) return -1;
    size_t room = u->iov_cap - u->iov_used;
    if (n > room) n = room;
    uring_slot_t *slot = &u->slots[u->queued++];
    struct iovec *dst = u->iov + u->iov_used;
    memcpy(dst, iov, n * sizeof(*iov));
    u->iov_used += n;
    memset(&slot->msg, 0, sizeof(slot->msg));
    slot->msg.msg_iov = dst;
    slot->msg.msg_iovlen = n;
    slot->data = data;
    slot->done = 0;
    /* MSG_DONTWAIT: fail with EAGAIN instead of parking the request until the socket is
     * writable, so the whole batch completes inside the submission. */
    io_uring_prep_sendmsg(sqe, fd, &slot->msg, MSG_DONTWAIT | MSG_NOSIGNAL);
    io_uring_sqe_set_data(sqe, slot);
    return 0;
}

/* Hands every completion posted so far to done; returns how many were ours. */
static unsigned reap(uring_t *u, uring_done_cb done)
{
    struct io_uring_cqe *cqe;
    unsigned head, seen = 0, got = 0;
    io_uring_for_each_cqe(&u->ring, head, cqe) {
        uring_slot_t *slot = io_uring_cqe_get_data(cqe);
        seen++;
        if (!slot || slot->done) continue;
        slot->done = 1;
        got++;
        u->sends++;
        done(slot->data, (long)cqe->res);
    }
    io_uring_cq_advance(&u->ring, seen);
    return got;
}

/* io_uring_enter errors that say "try again" (a signal, no memory for requests right now,
 * completions to reap first) are retried this many times in a row before the ring is
 * given up on, so a kernel that keeps refusing cannot hold the loop forever. */
#define URING_RETRIES 1000

void uring_run(uring_t *u, uring_done_cb done)
{
    unsigned want = u->queued, got = 0, retries = 0;
    if (want > 0) u->submissions++;
    while (got < want && !u->broken) {
        int rc = io_uring_submit_and_wait(&u->ring, 1);
        if (rc < 0 && ((rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) ||
                       ++retries > URING_RETRIES))
            u->broken = 1;
        got += reap(u, done); /* even when broken: what completed is reported as such */
    }
    if (u->broken)
        for (unsigned i = 0; i < want; i++)
            if (!u->slots[i].done) {
                u->slots[i].done = 1;
                done(u->slots[i].data, -ECANCELED);
            }
    u->queued = 0;
    u->iov_used = 0;
}

void uring_stats(const uring_t *u, uint64_t *submissions, uint64_t *sends)
{
    *submissions = u->submissions;
    *sends = u->sends;
}
