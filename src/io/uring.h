/* uring.h: batched nonblocking socket sends through one io_uring.
 *
 * On a virtual machine a system call costs about a microsecond before it does any work,
 * and a broadcast to N receivers is N sends: the server's flush of one loop iteration
 * queues every connection's send here and makes them all with one io_uring_enter. Every
 * send is MSG_DONTWAIT, so it takes what fits in the socket's buffer or fails with EAGAIN
 * instead of waiting for the peer (normally inside the submission itself), and uring_run
 * returns only when all of them have completed: the caller's buffers are not referenced
 * afterwards and the outcome of each send is known at once, like a writev's. Where the kernel refuses io_uring (older than 5.18, disabled by
 * sysctl, or a seccomp profile), uring_new fails and the caller keeps writing with writev. */
#ifndef CHORUS_URING_H
#define CHORUS_URING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

typedef struct uring_s uring_t;

/* Called once per queued send by uring_run: data as given to uring_sendv; res is the
 * number of bytes sent (possibly fewer than queued) or a negative errno (-EAGAIN: the
 * socket's buffer is full, nothing was sent). */
typedef void (*uring_done_cb)(void *data, long res);

/* Returns a ring for batches of up to `depth` sends (1..4096), or NULL with errno set
 * when io_uring cannot be used here. The caller owns it (uring_free). */
uring_t *uring_new(unsigned depth);
void uring_free(uring_t *u);

/* Queues a send of iov[0..n) (n >= 1) on the socket fd. The iovec array is copied; the
 * bytes it points to are borrowed until uring_run returns. Returns 0, or -1 when the
 * batch is full (nothing queued: run it, then queue again). A send may be given fewer
 * iovecs than n when the batch's iovec space runs low; its result says what was sent. */
int uring_sendv(uring_t *u, int fd, const struct iovec *iov, size_t n, void *data);

/* Sends everything queued and calls done for each, in completion order, before
 * returning. If the ring fails (an io_uring_enter error other than EINTR/EAGAIN/EBUSY,
 * or those a thousand times in a row; neither should happen), the sends whose
 * completion was not seen get -ECANCELED: they may have gone out in part or in full, so
 * the caller must not send those bytes again (the server closes those connections).
 * uring_broken() then turns true and the caller must not queue on this ring again.
 * (Sends still running on a kernel worker at that point would read buffers the caller
 * may free: a theoretical risk, since MSG_DONTWAIT sends are not handed to workers.) */
void uring_run(uring_t *u, uring_done_cb done);

/* Submissions made and sends completed since uring_new. */
void uring_stats(const uring_t *u, uint64_t *submissions, uint64_t *sends);

/* Returns 1 once the ring has failed and must be freed. */
int uring_broken(const uring_t *u);

/* Returns how many sends are queued and not yet run. */
size_t uring_queued(const uring_t *u);

#endif
