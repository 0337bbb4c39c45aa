/* upload_file.h: a resumable upload's files on disk and its incremental SHA-256. Every
 * disk access and all hashing run on libuv's thread pool, never on the loop.
 *
 * Under dir (the uploads folder), upload id has:
 *   <id>.part   the bytes received so far (once complete, hard-linked as the blob
 *               blobs/<first 2 hex>/<sha256 hex> and then removed);
 *   <id>.info   a text the caller gives at creation (the tus routes: JSON), kept as is;
 *   <id>.state  a fixed-size record: the offset up to which the bytes are stored and
 *               hashed, the length, the SHA-256 state of those bytes, then (when
 *               complete) the digest, all sealed by a SHA-256 of the record. It is
 *               rewritten after each buffer is written, so after kill -9 the upload
 *               resumes at the recorded offset: bytes past it are cut off on open. */
#ifndef CHORUS_UPLOAD_FILE_H
#define CHORUS_UPLOAD_FILE_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#define UPLOAD_ID_LEN 32     /* hex characters */
#define UPLOAD_INFO_MAX 4096 /* bytes of a .info text */
/* Bytes buffered per upload between disk writes: the whole memory of an upload in
 * flight. 256 KiB: few enough writes and hash calls per second at disk speed, small
 * enough for many concurrent uploads. */
#define UPLOAD_BUF (256 * 1024)

typedef struct upload_file_s upload_file_t;

/* status: 0, or a negative errno (-ENOENT: no such upload; -EIO: an unreadable or
 * corrupt record; -ENOSPC, -EDQUOT: disk full; -EBADMSG: Upload-Checksum mismatch). */
typedef void (*upload_file_cb)(upload_file_t *u, int status, void *ud);

/* Creates upload id in dir (both borrowed, copied) with its length and info text (copied,
 * at most UPLOAD_INFO_MAX bytes), then runs cb with a new upload_file_t (close it with
 * upload_file_close; on failure u is still valid and must be closed). */
void upload_file_create(uv_loop_t *loop, const char *dir, const char *id, uint64_t length,
                        const char *info, size_t info_len, upload_file_cb cb, void *ud);

/* Opens upload id: reads its record and info. for_write: also opens the data for
 * appending and cuts it to the recorded offset (bytes written past the last record). cb
 * gets a new upload_file_t to close with upload_file_close, whatever the status. */
void upload_file_open(uv_loop_t *loop, const char *dir, const char *id, int for_write,
                      upload_file_cb cb, void *ud);

/* What an open upload knows. */
uint64_t upload_file_offset(const upload_file_t *u); /* bytes stored (and recorded) */
uint64_t upload_file_length(const upload_file_t *u);
const char *upload_file_info(const upload_file_t *u, size_t *len); /* borrowed from u */
int64_t upload_file_mtime(const upload_file_t *u); /* unix ms of the last record write */
const char *upload_file_id(const upload_file_t *u);
/* 1 once every byte arrived; then digest holds the SHA-256 of the content. */
int upload_file_complete(const upload_file_t *u, uint8_t digest[32]);
/* 1 when the finished content's blob was there already (the same bytes before). */
int upload_file_deduped(const upload_file_t *u);

/* Starts a PATCH at the current offset. digest (copied) is its Upload-Checksum, or NULL:
 * with one, nothing of the PATCH is recorded until upload_file_patch_end checks it.
 * blobs (borrowed, copied) is the folder the finished content is linked into. */
void upload_file_patch_begin(upload_file_t *u, const uint8_t *digest, const char *blobs);

/* Bytes upload_file_write can take now; 0 while a write runs (ready runs after it). */
size_t upload_file_room(const upload_file_t *u);

/* Copies n <= room bytes (borrowed); a full buffer goes to disk at once. */
void upload_file_write(upload_file_t *u, const char *data, size_t n);

/* Runs fn(ud) on the loop whenever a buffer write finished and room is back. */
void upload_file_on_ready(upload_file_t *u, void (*fn)(void *ud), void *ud);

/* Ends the PATCH: writes what is buffered, checks its checksum (on a mismatch the
 * PATCH's bytes are dropped and the offset goes back: -EBADMSG), records the new offset
 * and, when the last byte arrived, links the blob (see above) before recording the
 * digest, so a complete record always has its blob. A write error (-ENOSPC) keeps the
 * bytes recorded before it. cb runs once all that is on disk. */
void upload_file_patch_end(upload_file_t *u, upload_file_cb cb, void *ud);

/* Touches finished upload u's blob under blobs (borrowed, copied): its mtime is now, so
 * the collector (api_blob_gc.c) keeps it for its grace. cb's status is 0, -ENOENT when
 * the blob was collected already, or another negative errno. */
void upload_file_touch_blob(upload_file_t *u, const char *blobs, upload_file_cb cb, void *ud);

/* Removes the .part file (the content now lives elsewhere) and runs cb. */
void upload_file_drop_data(upload_file_t *u, upload_file_cb cb, void *ud);

/* Closes u's files and frees it (not while a callback of u is pending). */
void upload_file_close(upload_file_t *u);

/* Removes upload id's files (those there are), then runs cb(ud, status) on the loop. */
void upload_file_remove(uv_loop_t *loop, const char *dir, const char *id,
                        void (*cb)(void *ud, int status), void *ud);

#endif
