/* upload_file.c: a resumable upload's files and incremental SHA-256, on the thread pool.
 *
 * The hash state is persisted rather than the stored prefix re-hashed on resume: a
 * resume after a crash then costs one record read whatever the size (re-hashing 10 GiB
 * takes tens of seconds). It uses OpenSSL's SHA256_CTX, deprecated in OpenSSL 3 in
 * favour of EVP, because that state is a plain struct that can be written to disk (an
 * EVP context cannot be exported); the record checks its size and seals it, so a record
 * from another build is refused (-EIO) instead of misread. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "store/upload_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include "util/mem.h"

#define REC_MAGIC "CHTUS01"

typedef struct {
    char magic[8];
    uint64_t offset, length;
    int64_t updated_ms;
    uint32_t complete, ctx_size;
    SHA256_CTX ctx;
    uint8_t digest[32];
    uint8_t seal[32]; /* SHA-256 of every byte above */
} rec_t;

typedef enum { OP_CREATE, OP_OPEN, OP_FLUSH, OP_END, OP_DROP, OP_TOUCH } op_t;

struct upload_file_s {
    uv_loop_t *loop;
    uv_work_t work;
    op_t op;
    int busy;   /* a work item runs: the fields below belong to it */
    int status; /* its result */
    int err;    /* the first write error of this PATCH: the rest of it is dropped */
    int for_write;
    char id[UPLOAD_ID_LEN + 1];
    char part[PATH_MAX], state[PATH_MAX], infop[PATH_MAX];
    char blobs[PATH_MAX]; /* where the finished content is linked (patch_begin) */
    int deduped;          /* that blob was there already */
    int fd, state_fd;
    uint64_t offset, length;
    int64_t updated_ms;
    int complete;
    SHA256_CTX sha;
    uint8_t digest[32];
    /* the current PATCH's Upload-Checksum */
    int checking;
    uint8_t want[32];
    SHA256_CTX patch_sha, sha_before;
    uint64_t patch_start;
    char *buf;
    size_t buf_len;
    char *info;
    size_t info_len;
    upload_file_cb cb;
    void *ud;
    void (*ready)(void *ud);
    void *ready_ud;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int write_all(int fd, const void *p, size_t n, uint64_t off)
{
    const char *c = p;
    while (n > 0) {
        ssize_t w = pwrite(fd, c, n, (off_t)off);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) return -errno;
        c += w;
        n -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static int write_record(upload_file_t *u)
{
    rec_t r;
    memset(&r, 0, sizeof(r));
    memcpy(r.magic, REC_MAGIC, sizeof(r.magic));
    r.offset = u->offset;
    r.length = u->length;
    r.updated_ms = u->updated_ms = now_ms();
    r.complete = (uint32_t)u->complete;
    r.ctx_size = (uint32_t)sizeof(SHA256_CTX);
    r.ctx = u->sha;
    memcpy(r.digest, u->digest, 32);
    SHA256((const unsigned char *)&r, offsetof(rec_t, seal), r.seal);
    return write_all(u->state_fd, &r, sizeof(r), 0);
}

static int read_record(upload_file_t *u)
{
    rec_t r;
    ssize_t n = pread(u->state_fd, &r, sizeof(r), 0);
    if (n != (ssize_t)sizeof(r)) return -EIO;
    uint8_t seal[32];
    SHA256((const unsigned char *)&r, offsetof(rec_t, seal), seal);
    if (memcmp(r.magic, REC_MAGIC, sizeof(r.magic)) != 0 || r.ctx_size != sizeof(SHA256_CTX) ||
        CRYPTO_memcmp(seal, r.seal, 32) != 0 || r.offset > r.length)
        return -EIO;
    u->offset = r.offset;
    u->length = r.length;
    u->updated_ms = r.updated_ms;
    u->complete = r.complete != 0;
    u->sha = r.ctx;
    memcpy(u->digest, r.digest, 32);
    return 0;
}

static int do_create(upload_file_t *u)
{
    /* The uploads folder is made by the first upload, so a server that never takes one
     * leaves the data directory as it was. */
    char *slash = strrchr(u->infop, '/');
    *slash = '\0';
    int made = mkdir(u->infop, 0700) == 0 || errno == EEXIST;
    *slash = '/';
    if (!made) return -errno;
    int ifd = open(u->infop, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (ifd < 0) return -errno;
    int rc = write_all(ifd, u->info, u->info_len, 0);
    close(ifd);
    if (rc != 0) return rc;
    u->fd = open(u->part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (u->fd < 0) return -errno;
    u->state_fd = open(u->state, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (u->state_fd < 0) return -errno;
    SHA256_Init(&u->sha);
    return write_record(u);
}

static int do_open(upload_file_t *u)
{
    u->state_fd = open(u->state, (u->for_write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (u->state_fd < 0) return errno == ENOENT ? -ENOENT : -EIO;
    int rc = read_record(u);
    if (rc != 0) return rc;
    int ifd = open(u->infop, O_RDONLY | O_CLOEXEC);
    if (ifd < 0) return -EIO;
    u->info = ch_malloc(UPLOAD_INFO_MAX + 1);
    ssize_t n = pread(ifd, u->info, UPLOAD_INFO_MAX, 0);
    close(ifd);
    if (n < 0) return -EIO;
    u->info_len = (size_t)n;
    u->info[n] = '\0';
    if (!u->for_write || u->complete) return 0;
    u->fd = open(u->part, O_WRONLY | O_CLOEXEC);
    if (u->fd < 0) return -EIO;
    /* Bytes written after the last record are not in the hash state: cut them off. */
    if (ftruncate(u->fd, (off_t)u->offset) != 0) return -errno;
    return 0;
}

/* Writes the buffer at the offset and hashes it. On a write error nothing of the buffer
 * counts (the file is cut back), so the record stays true. */
static int flush(upload_file_t *u, int record)
{
    if (u->buf_len == 0) return 0;
    int rc = write_all(u->fd, u->buf, u->buf_len, u->offset);
    if (rc != 0) {
        if (ftruncate(u->fd, (off_t)u->offset) != 0 && rc == 0) rc = -errno;
        u->buf_len = 0;
        return rc;
    }
    SHA256_Update(&u->sha, u->buf, u->buf_len);
    if (u->checking) SHA256_Update(&u->patch_sha, u->buf, u->buf_len);
    u->offset += u->buf_len;
    u->buf_len = 0;
    return record ? write_record(u) : 0;
}

/* Hard-links the data file as blobs/<first 2 hex>/<sha256 hex>; a blob there already
 * (the same bytes uploaded before) is kept: link() fails with EEXIST, so two uploads of
 * the same bytes never both "create" it. A blob kept is touched (its mtime is now): the
 * collector (api_blob_gc.c) leaves a blob touched within its grace alone, and one it
 * moved aside meanwhile is linked anew from this upload's data. */
static int link_blob(upload_file_t *u)
{
    static const char hx[] = "0123456789abcdef";
    char h[65], dir[PATH_MAX + 8], blob[PATH_MAX + 80];
    for (int i = 0; i < 32; i++) {
        h[2 * i] = hx[u->digest[i] >> 4];
        h[2 * i + 1] = hx[u->digest[i] & 15];
    }
    h[64] = '\0';
    if (mkdir(u->blobs, 0700) != 0 && errno != EEXIST) return -errno;
    snprintf(dir, sizeof(dir), "%s/%.2s", u->blobs, h);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) return -errno;
    snprintf(blob, sizeof(blob), "%s/%s", dir, h);
    for (int tries = 0; tries < 3; tries++) {
        if (link(u->part, blob) == 0) return 0;
        if (errno != EEXIST) return -errno;
        if (utimensat(AT_FDCWD, blob, NULL, 0) == 0) {
            u->deduped = 1;
            return 0;
        }
        if (errno != ENOENT) return -errno; /* ENOENT: collected just now: link again */
    }
    return -EAGAIN;
}

/* Touches the finished content's blob (its mtime is now), so the collector keeps it for
 * its grace; -ENOENT when it was collected already. */
static int touch_blob(upload_file_t *u)
{
    static const char hx[] = "0123456789abcdef";
    char h[65], blob[PATH_MAX + 80];
    for (int i = 0; i < 32; i++) {
        h[2 * i] = hx[u->digest[i] >> 4];
        h[2 * i + 1] = hx[u->digest[i] & 15];
    }
    h[64] = '\0';
    snprintf(blob, sizeof(blob), "%s/%.2s/%s", u->blobs, h, h);
    return utimensat(AT_FDCWD, blob, NULL, 0) == 0 ? 0 : -errno;
}

static int do_end(upload_file_t *u)
{
    int rc = u->err ? u->err : flush(u, 0);
    u->buf_len = 0;
    if (rc != 0 && u->checking) { /* nothing of an unverifiable PATCH is kept */
        if (ftruncate(u->fd, (off_t)u->patch_start) != 0) return -errno;
        u->offset = u->patch_start;
        u->sha = u->sha_before;
    }
    if (rc == 0 && u->checking) {
        uint8_t got[32];
        SHA256_Final(got, &u->patch_sha);
        if (CRYPTO_memcmp(got, u->want, 32) != 0) {
            /* The chunk is discarded: the upload is as before this PATCH. */
            if (ftruncate(u->fd, (off_t)u->patch_start) != 0) return -errno;
            u->offset = u->patch_start;
            u->sha = u->sha_before;
            rc = -EBADMSG;
        }
    }
    u->checking = 0;
    if (rc == 0 && u->offset == u->length) {
        SHA256_CTX fin = u->sha;
        SHA256_Final(u->digest, &fin);
        /* The blob is linked before the record says complete, so a crash in between
         * never leaves a complete upload without its blob. The full offset is recorded
         * first: a restart then never cuts the data file, which the blob shares. */
        int wr = write_record(u);
        if (wr == 0) wr = link_blob(u);
        if (wr != 0) return wr; /* recorded unfinished: an empty PATCH completes it */
        u->complete = 1;
        wr = write_record(u);
        if (wr == 0) unlink(u->part); /* the content lives in the blob now */
        return wr;
    }
    int wr = write_record(u);
    return rc ? rc : wr;
}

static void work_cb(uv_work_t *w)
{
    upload_file_t *u = w->data;
    switch (u->op) {
    case OP_CREATE:
        u->status = do_create(u);
        break;
    case OP_OPEN:
        u->status = do_open(u);
        break;
    case OP_FLUSH:
        u->status = flush(u, !u->checking);
        if (u->status) u->err = u->status;
        break;
    case OP_END:
        u->status = do_end(u);
        break;
    case OP_DROP:
        u->status = unlink(u->part) == 0 || errno == ENOENT ? 0 : -errno;
        break;
    case OP_TOUCH:
        u->status = touch_blob(u);
        break;
    }
}

static void after_cb(uv_work_t *w, int status)
{
    upload_file_t *u = w->data;
    (void)status;
    u->busy = 0;
    if (u->op == OP_FLUSH) {
        /* A write error ends the PATCH at its end call; until then data is taken and
         * dropped so the transport is not stuck (the answer says what happened). */
        if (u->ready) u->ready(u->ready_ud);
        return;
    }
    upload_file_cb cb = u->cb;
    u->cb = NULL;
    cb(u, u->status, u->ud);
}

static void submit(upload_file_t *u, op_t op)
{
    CH_ASSERT(!u->busy);
    u->op = op;
    u->busy = 1;
    u->work.data = u;
    uv_queue_work(u->loop, &u->work, work_cb, after_cb);
}

static upload_file_t *new_upload(uv_loop_t *loop, const char *dir, const char *id)
{
    upload_file_t *u = ch_calloc(1, sizeof(*u));
    u->loop = loop;
    u->fd = u->state_fd = -1;
    snprintf(u->id, sizeof(u->id), "%s", id);
    snprintf(u->part, sizeof(u->part), "%s/%s.part", dir, id);
    snprintf(u->state, sizeof(u->state), "%s/%s.state", dir, id);
    snprintf(u->infop, sizeof(u->infop), "%s/%s.info", dir, id);
    return u;
}

void upload_file_create(uv_loop_t *loop, const char *dir, const char *id, uint64_t length,
                        const char *info, size_t info_len, upload_file_cb cb, void *ud)
{
    CH_ASSERT(info_len <= UPLOAD_INFO_MAX);
    upload_file_t *u = new_upload(loop, dir, id);
    u->length = length;
    u->info = ch_malloc(info_len + 1);
    memcpy(u->info, info, info_len);
    u->info[info_len] = '\0';
    u->info_len = info_len;
    u->for_write = 1;
    u->cb = cb;
    u->ud = ud;
    submit(u, OP_CREATE);
}

void upload_file_open(uv_loop_t *loop, const char *dir, const char *id, int for_write,
                      upload_file_cb cb, void *ud)
{
    upload_file_t *u = new_upload(loop, dir, id);
    u->for_write = for_write;
    u->cb = cb;
    u->ud = ud;
    submit(u, OP_OPEN);
}

void upload_file_touch_blob(upload_file_t *u, const char *blobs, upload_file_cb cb, void *ud)
{
    CH_ASSERT(u->complete);
    snprintf(u->blobs, sizeof(u->blobs), "%s", blobs);
    u->cb = cb;
    u->ud = ud;
    submit(u, OP_TOUCH);
}

uint64_t upload_file_offset(const upload_file_t *u)
{
    return u->offset;
}

uint64_t upload_file_length(const upload_file_t *u)
{
    return u->length;
}

const char *upload_file_info(const upload_file_t *u, size_t *len)
{
    *len = u->info_len;
    return u->info ? u->info : "";
}

int64_t upload_file_mtime(const upload_file_t *u)
{
    return u->updated_ms;
}

const char *upload_file_id(const upload_file_t *u)
{
    return u->id;
}

int upload_file_complete(const upload_file_t *u, uint8_t digest[32])
{
    if (u->complete && digest) memcpy(digest, u->digest, 32);
    return u->complete;
}

int upload_file_deduped(const upload_file_t *u)
{
    return u->deduped;
}

void upload_file_patch_begin(upload_file_t *u, const uint8_t *digest, const char *blobs)
{
    CH_ASSERT(!u->busy && u->fd >= 0);
    snprintf(u->blobs, sizeof(u->blobs), "%s", blobs);
    if (!u->buf) u->buf = ch_malloc(UPLOAD_BUF);
    u->buf_len = 0;
    u->err = 0;
    u->checking = digest != NULL;
    if (digest) {
        memcpy(u->want, digest, 32);
        SHA256_Init(&u->patch_sha);
        u->sha_before = u->sha;
        u->patch_start = u->offset;
    }
}

size_t upload_file_room(const upload_file_t *u)
{
    return u->busy ? 0 : UPLOAD_BUF - u->buf_len;
}

void upload_file_write(upload_file_t *u, const char *data, size_t n)
{
    CH_ASSERT(!u->busy && n <= UPLOAD_BUF - u->buf_len);
    if (u->err) return; /* the PATCH failed: its end answers why */
    memcpy(u->buf + u->buf_len, data, n);
    u->buf_len += n;
    if (u->buf_len == UPLOAD_BUF) submit(u, OP_FLUSH);
}

void upload_file_on_ready(upload_file_t *u, void (*fn)(void *ud), void *ud)
{
    u->ready = fn;
    u->ready_ud = ud;
}

void upload_file_patch_end(upload_file_t *u, upload_file_cb cb, void *ud)
{
    CH_ASSERT(!u->busy && !u->cb);
    u->cb = cb;
    u->ud = ud;
    submit(u, OP_END);
}

void upload_file_drop_data(upload_file_t *u, upload_file_cb cb, void *ud)
{
    CH_ASSERT(!u->busy && !u->cb);
    if (u->fd >= 0) close(u->fd);
    u->fd = -1;
    u->cb = cb;
    u->ud = ud;
    submit(u, OP_DROP);
}

void upload_file_close(upload_file_t *u)
{
    if (!u) return;
    CH_ASSERT(!u->busy);
    if (u->fd >= 0) close(u->fd);
    if (u->state_fd >= 0) close(u->state_fd);
    free(u->buf);
    free(u->info);
    free(u);
}

typedef struct {
    uv_work_t work;
    char paths[3][PATH_MAX];
    int status;
    void (*cb)(void *ud, int status);
    void *ud;
} remove_t;

static void remove_work(uv_work_t *w)
{
    remove_t *r = w->data;
    int found = 0;
    for (int i = 0; i < 3; i++) {
        if (unlink(r->paths[i]) == 0)
            found = 1;
        else if (errno != ENOENT)
            r->status = -errno;
    }
    if (!found && r->status == 0) r->status = -ENOENT;
}

static void remove_after(uv_work_t *w, int status)
{
    remove_t *r = w->data;
    (void)status;
    r->cb(r->ud, r->status);
    free(r);
}

void upload_file_remove(uv_loop_t *loop, const char *dir, const char *id,
                        void (*cb)(void *ud, int status), void *ud)
{
    remove_t *r = ch_calloc(1, sizeof(*r));
    /* The record first: without it the upload no longer exists for HEAD or PATCH. */
    snprintf(r->paths[0], PATH_MAX, "%s/%s.state", dir, id);
    snprintf(r->paths[1], PATH_MAX, "%s/%s.part", dir, id);
    snprintf(r->paths[2], PATH_MAX, "%s/%s.info", dir, id);
    r->cb = cb;
    r->ud = ud;
    r->work.data = r;
    uv_queue_work(loop, &r->work, remove_work, remove_after);
}
