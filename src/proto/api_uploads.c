/* api_uploads.c: tus 1.0 resumable uploads under /api/uploads/ (core, creation,
 * creation-with-upload, termination, checksum, expiration). The body of a POST or PATCH
 * streams to disk through upload_file.c (a fixed buffer per upload, writes and hashing on
 * the thread pool); the files are the truth, so a restarted server resumes any upload.
 * docs/assets.md has the protocol, the limits and every refusal. */
#include "proto/api.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <http_parser.h>

#include "auth/auth_random.h"
#include "proto/tus_header.h"
#include "store/upload_file.h"
#include "util/clock.h"
#include "util/mem.h"

#define TUS_EXTENSIONS "creation,creation-with-upload,termination,checksum,expiration"
#define TUS_OCTETS "application/offset+octet-stream"
/* Directory entries an expiry sweep looks at per run: bounds one run's work on the pool
 * and the ids it hands back to the loop, however many uploads there are. */
#define SWEEP_BUDGET 256
/* Reservations the orphan sweep looks at per run (one store page, one pool pass of as
 * many stat calls): bounded work per run, whatever the table holds. */
#define ORPHAN_BUDGET 64

/* A request working on an upload (PATCH, or POST with or without a body). */
typedef struct upload_s {
    struct api_uploads_s *up;
    api_req_t *r;
    upload_file_t *f;
    char id[UPLOAD_ID_LEN + 1];
    char owner[AUTH_JWT_SUB_MAX + 1];
    uint64_t want_offset; /* the request's Upload-Offset */
    uint64_t body_len;    /* its Content-Length, HTTP-less: UINT64_MAX when unknown */
    uint64_t received;    /* body bytes taken */
    uint8_t digest[TUS_SHA256_LEN];
    int has_checksum;
    int creating;       /* a POST: 201 with Location */
    int reserved;       /* a POST whose reservation is stored (released if it fails) */
    int opened;         /* f is ready for the body */
    int ended, aborted; /* the body ended / was cut off */
    int ending;         /* upload_file_patch_end runs */
    int overflow;       /* more bytes than Upload-Length allows */
    int answered;
    struct upload_s *next, **pprev;
} upload_t;

typedef struct api_uploads_s {
    api_t *api;
    char dir[PATH_MAX];   /* DATA/uploads */
    char blobs[PATH_MAX]; /* DATA/blobs */
    upload_t *active;     /* requests working on an upload, one per upload */
    uv_timer_t timer;     /* the expiry sweep */
    uv_work_t sweep;
    DIR *sweep_dir; /* the pool's, between runs: the sweep resumes where it stopped */
    char sweep_ids[SWEEP_BUDGET][UPLOAD_ID_LEN + 1];
    size_t sweep_n;
    int64_t sweep_now;
    int sweeping;
    /* The orphan sweep: reservations whose upload's files are gone (a stop between the
     * reservation and the files, an import, an upload removed without its release). */
    store_req_t orphan_req;
    store_assets_t orphan_pl;
    uv_work_t orphan_work;
    char orphan_after[STORE_ID_LEN]; /* the cursor: the last id of the previous page */
    unsigned char orphan_gone[ORPHAN_BUDGET];
    int orphaning;
    int pending; /* pool work referring to this struct */
    int closing;
} api_uploads_t;

static void maybe_free(api_uploads_t *up)
{
    if (!up->closing || up->pending || up->active || up->sweeping || up->orphaning) return;
    if (up->sweep_dir) closedir(up->sweep_dir);
    store_assets_free(&up->orphan_pl);
    up->api->uploads = NULL;
    free(up);
}

/* ---- helpers ---- */

static int valid_id(const char *id)
{
    size_t n = strlen(id);
    if (n != UPLOAD_ID_LEN) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) return 0;
    return 1;
}

static upload_t *find_active(api_uploads_t *up, const char *id)
{
    for (upload_t *u = up->active; u; u = u->next)
        if (strcmp(u->id, id) == 0) return u;
    return NULL;
}

static size_t count_owner(api_uploads_t *up, const char *owner)
{
    size_t n = 0;
    for (upload_t *u = up->active; u; u = u->next)
        if (strcmp(u->owner, owner) == 0) n++;
    return n;
}

/* Appends a header line to r->extra. */
static void extra_add(api_req_t *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void extra_add(api_req_t *r, const char *fmt, ...)
{
    size_t n = strlen(r->extra);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->extra + n, sizeof(r->extra) - n, fmt, ap);
    va_end(ap);
}

static void http_date(int64_t ms, char *out, size_t cap)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

static void add_expires(api_req_t *r, int64_t updated_ms)
{
    char d[64];
    http_date(updated_ms + (int64_t)r->api->cfg->upload_expiry, d, sizeof(d));
    extra_add(r, "Upload-Expires: %s\r\n", d);
}

/* Every tus request but OPTIONS names the protocol version; answers 412 otherwise. */
static int tus_ok(api_req_t *r)
{
    snprintf(r->extra, sizeof(r->extra), "Tus-Resumable: " TUS_VERSION "\r\n");
    const api_header_t *h = api_req_header(r, "Tus-Resumable");
    if (h && strcmp(h->value, TUS_VERSION) == 0) return 1;
    extra_add(r, "Tus-Version: " TUS_VERSION "\r\n");
    api_error(r, 412, "unsupported_tus_version", "Tus-Resumable must be " TUS_VERSION);
    return 0;
}

/* The owner in an upload's info text. Returns 1 when it is sub. */
static int owned_by(const upload_file_t *f, const char *sub)
{
    size_t n = 0;
    const char *info = upload_file_info(f, &n);
    json_t *j = json_loadb(info, n, 0, NULL);
    const char *o = json_string_value(json_object_get(j, "owner"));
    int ok = o && strcmp(o, sub) == 0;
    json_decref(j);
    return ok;
}

static void release(upload_t *u)
{
    api_uploads_t *up = u->up;
    if (u->pprev) {
        *u->pprev = u->next;
        if (u->next) u->next->pprev = u->pprev;
    }
    upload_file_close(u->f);
    free(u);
    maybe_free(up);
}

/* Answers a failure of u's request and ends u (its files stay as recorded). */
static void fail(upload_t *u, int status, const char *code, const char *msg)
{
    api_req_t *r = u->r;
    u->answered = 1;
    r->body_ops = NULL;
    release(u);
    api_error(r, status, code, "%s", msg);
}

typedef struct {
    store_req_t sreq;
    store_assets_t pl;
    api_uploads_t *up;
} unreserve_t;

static void on_unreserved(store_req_t *req)
{
    unreserve_t *x = req->data;
    api_uploads_t *up = x->up;
    if (req->err != STORE_OK && req->err != STORE_ENOTFOUND && !up->closing)
        log_warn(up->api->log, "upload %s: its reservation could not be released",
                 x->pl.row.id);
    free(x);
    up->pending--;
    maybe_free(up);
}

/* Releases upload id's reservation (it was deleted, expired, or finished without an
 * asset); an asset takes it over in STORE_ASSET_PUT instead. */
static void unreserve(api_uploads_t *up, const char *id)
{
    unreserve_t *x = ch_calloc(1, sizeof(*x));
    x->up = up;
    snprintf(x->pl.row.id, sizeof(x->pl.row.id), "%s", id);
    x->sreq.type = STORE_UPLOAD_RELEASE;
    x->sreq.cb = on_unreserved;
    x->sreq.data = x;
    x->sreq.assets = &x->pl;
    up->pending++;
    store_submit(up->api->store, &x->sreq);
}

/* ---- the streamed body (PATCH, POST with a body) ---- */

static size_t body_room(api_req_t *r)
{
    upload_t *u = r->body_ud;
    if (!u->opened) return 0; /* the files are being opened: api_body_ready follows */
    size_t room = upload_file_room(u->f);
    return room ? room : 0;
}

static void body_data(api_req_t *r, const char *p, size_t n)
{
    upload_t *u = r->body_ud;
    uint64_t left = upload_file_length(u->f) - u->want_offset - u->received;
    if (u->overflow || n > left) { /* past Upload-Length (a chunked body): dropped */
        u->overflow = 1;
        return;
    }
    upload_file_write(u->f, p, n);
    u->received += n;
}

static void on_patched(upload_file_t *f, int status, void *ud);

static void finish_body(upload_t *u)
{
    if (u->ending || !u->opened) return;
    u->ending = 1;
    upload_file_patch_end(u->f, on_patched, u);
}

static void body_end(api_req_t *r)
{
    upload_t *u = r->body_ud;
    u->ended = 1;
    finish_body(u);
}

static void body_abort(api_req_t *r)
{
    upload_t *u = r->body_ud;
    u->aborted = 1;
    if (u->opened && upload_file_room(u->f) > 0) finish_body(u);
    /* else: once the files are open or the write is done (on_ready) */
}

static const api_body_ops_t upload_body_ops = {
    .room = body_room, .data = body_data, .end = body_end, .abort = body_abort};

static void on_ready(void *ud)
{
    upload_t *u = ud;
    if (u->aborted || u->ended)
        finish_body(u);
    else
        api_body_ready(u->r);
}

static void hex32(const uint8_t *d, char out[65])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++) {
        out[2 * i] = hx[d[i] >> 4];
        out[2 * i + 1] = hx[d[i] & 15];
    }
    out[64] = '\0';
}

/* The asset of finished upload f (id, sha256 hex) into row: in the room the upload named
 * while its owner is still a participant there, or the owner's own when it named none.
 * Returns 1 when there is one. */
static int asset_of(api_t *a, const upload_file_t *f, const char *id, const char *hex,
                    store_asset_t *row)
{
    size_t n = 0;
    const char *info = upload_file_info(f, &n);
    json_t *j = json_loadb(info, n, 0, NULL);
    const char *room = json_string_value(json_object_get(j, "room"));
    const char *owner = json_string_value(json_object_get(j, "owner"));
    const char *asset = json_string_value(json_object_get(j, "asset")); /* a version's */
    int ok = owner && (!room || api_assets_may_add(a, room, owner, NULL));
    if (ok) {
        memset(row, 0, sizeof(*row));
        snprintf(row->id, sizeof(row->id), "%s", id);
        snprintf(row->asset_id, sizeof(row->asset_id), "%s", asset ? asset : "");
        snprintf(row->room_id, sizeof(row->room_id), "%s", room ? room : "");
        snprintf(row->uploader, sizeof(row->uploader), "%s", owner);
        snprintf(row->sha256, sizeof(row->sha256), "%s", hex);
        row->size = (int64_t)upload_file_length(f);
        const char *name = json_string_value(json_object_get(j, "name"));
        const char *type = json_string_value(json_object_get(j, "type"));
        snprintf(row->name, sizeof(row->name), "%s", name ? name : "");
        snprintf(row->type, sizeof(row->type), "%s", type ? type : "");
        row->created_at = clock_unix_ms(); /* when it finished */
    } else if (room) {
        log_warn(a->log, "upload %s finished, but its owner is no longer in room %s: no asset",
                 id, room);
    }
    json_decref(j);
    return ok;
}

/* An answer held until the upload's asset is stored (api_assets_record). */
typedef struct {
    api_req_t *r;
    int status;
    char id[STORE_ID_LEN];    /* the upload's */
    char asset[STORE_ID_LEN]; /* its asset's: the upload's, or the asset it is a version of */
} held_t;

static void on_asset_recorded(void *ud, int err)
{
    held_t *h = ud;
    api_req_t *r = h->r;
    api_uploads_t *up = r->api->uploads;
    up->pending--;
    if (err == STORE_OK || err == STORE_ENOTFOUND || err == STORE_EEXISTS) {
        if (err == STORE_OK) extra_add(r, "Asset-Id: %s\r\n", h->asset);
        /* The room was deleted since the membership check (or, for a version, the asset):
         * no asset takes the upload's reservation over, so it goes. */
        if (err == STORE_ENOTFOUND) unreserve(up, h->id);
        api_respond_empty(r, h->status);
    } else {
        /* The bytes are stored, the asset is not: the client tries again, and the HEAD its
         * resume begins with records the asset (answer_with_asset, again). */
        api_error(r, 503, "service_unavailable",
                  "the upload is complete but its asset could not be recorded; try again");
    }
    free(h);
    maybe_free(up);
}

/* Answers r with status once asset row is stored (again: it may be already). The caller
 * counted it in up->pending (on_asset_recorded gives it back). */
static void answer_with_asset(api_req_t *r, int status, const store_asset_t *row, int again)
{
    held_t *h = ch_calloc(1, sizeof(*h));
    h->r = r;
    h->status = status;
    snprintf(h->id, sizeof(h->id), "%s", row->id);
    snprintf(h->asset, sizeof(h->asset), "%s", row->asset_id[0] ? row->asset_id : row->id);
    api_assets_record(r->api, row, again, on_asset_recorded, h);
}

/* The successful answer to u's request: 204 (PATCH) or 201 (POST) with the offset; a
 * finished upload also names its content (Upload-Sha256, the blob's hash) and, when it
 * went to a room, its asset (Asset-Id), answered once the asset is stored. */
static void answer_done(upload_t *u, const uint8_t *digest, int deduped)
{
    api_req_t *r = u->r;
    api_t *a = r->api;
    uint64_t off = upload_file_offset(u->f);
    extra_add(r, "Upload-Offset: %" PRIu64 "\r\n", off);
    add_expires(r, upload_file_mtime(u->f));
    if (u->creating) extra_add(r, "Location: /api/uploads/%s\r\n", u->id);
    if (digest) {
        char hx[65];
        hex32(digest, hx);
        extra_add(r, "Upload-Sha256: %s\r\n", hx);
        log_info(a->log, "upload %s complete: %" PRIu64 " bytes, sha256 %s%s", u->id, off, hx,
                 deduped ? " (already stored)" : "");
    }
    int status = u->creating ? 201 : 204;
    u->answered = 1;
    store_asset_t row;
    int has_asset = 0;
    if (digest) {
        char hx[65];
        hex32(digest, hx);
        has_asset = asset_of(a, u->f, u->id, hx, &row);
    }
    if (digest && !has_asset) unreserve(u->up, u->id); /* a blob, no asset to count */
    if (has_asset) u->up->pending++; /* before release: up stays until the answer */
    release(u);
    if (has_asset)
        answer_with_asset(r, status, &row, 0);
    else
        api_respond_empty(r, status);
}

static void on_patched(upload_file_t *f, int status, void *ud)
{
    upload_t *u = ud;
    (void)f;
    if (status == -EBADMSG) {
        fail(u, 460, "checksum_mismatch",
             "the PATCH's Upload-Checksum does not match: discarded");
        return;
    }
    if (status == -ENOSPC || status == -EDQUOT) {
        fail(u, 507, "insufficient_storage",
             "the disk is full: the bytes stored so far are kept, resume later (HEAD)");
        return;
    }
    if (status != 0) {
        log_error(u->up->api->log, "upload %s: write failed: %s", u->id, strerror(-status));
        fail(u, 500, "internal_error", "the upload could not be written");
        return;
    }
    if (u->overflow) {
        fail(u, 413, "upload_too_large", "the body goes past Upload-Length");
        return;
    }
    uint8_t digest[TUS_SHA256_LEN];
    if (!upload_file_complete(u->f, digest)) {
        answer_done(u, NULL, 0);
        return;
    }
    answer_done(u, digest, upload_file_deduped(u->f));
}

/* The upload's files are open (PATCH) or created (POST). */
static void on_opened(upload_file_t *f, int status, void *ud)
{
    upload_t *u = ud;
    u->f = f;
    if (status != 0 && u->reserved) unreserve(u->up, u->id); /* no upload after all */
    if (status == -ENOENT) {
        fail(u, 404, "not_found", "no such upload (finished long ago, expired or deleted)");
        return;
    }
    if (status != 0) {
        log_error(u->up->api->log, "upload %s: %s", u->id, strerror(-status));
        if (status == -ENOSPC || status == -EDQUOT)
            fail(u, 507, "insufficient_storage", "the disk is full");
        else
            fail(u, 500, "internal_error", "the upload's files cannot be read");
        return;
    }
    if (!u->creating && !owned_by(f, u->owner)) {
        fail(u, 404, "not_found", "no such upload");
        return;
    }
    uint64_t off = upload_file_offset(f), len = upload_file_length(f);
    if (!u->creating && upload_file_complete(f, NULL)) {
        /* A finished upload's data file is not opened (it is a blob now): nothing more
         * can be written, even an empty PATCH at its end. */
        extra_add(u->r, "Upload-Offset: %" PRIu64 "\r\n", off);
        fail(u, 409, "upload_complete", "the upload is finished: nothing more can be written");
        return;
    }
    if (u->want_offset != off) {
        extra_add(u->r, "Upload-Offset: %" PRIu64 "\r\n", off);
        fail(u, 409, "offset_mismatch", "Upload-Offset is not the upload's offset (HEAD it)");
        return;
    }
    if (u->body_len != UINT64_MAX && u->body_len > len - off) {
        fail(u, 413, "upload_too_large", "the body goes past Upload-Length");
        return;
    }
    upload_file_patch_begin(f, u->has_checksum ? u->digest : NULL, u->up->blobs);
    upload_file_on_ready(f, on_ready, u);
    u->opened = 1;
    if (u->aborted || !u->r->streaming)
        finish_body(u);
    else
        api_body_ready(u->r);
}

/* The checks a body-carrying tus request shares. Returns 0, or -1 once it answered. */
static int body_headers(api_req_t *r, upload_t *u, int required)
{
    const api_header_t *cl = api_req_header(r, "Content-Length");
    u->body_len = UINT64_MAX;
    if (cl && tus_parse_u64(cl->value, cl->value_len, &u->body_len) != 0) u->body_len = 0;
    int has_body = (cl && u->body_len > 0) || api_req_header(r, "Transfer-Encoding");
    const api_header_t *ct = api_req_header(r, "Content-Type");
    if ((required || has_body) &&
        (!ct || strncasecmp(ct->value, TUS_OCTETS, strlen(TUS_OCTETS)) != 0)) {
        api_error(r, 415, "unsupported_media_type",
                  "the body must be Content-Type: " TUS_OCTETS);
        return -1;
    }
    const api_header_t *ck = api_req_header(r, "Upload-Checksum");
    if (ck) {
        int rc = tus_checksum_parse(ck->value, ck->value_len, u->digest);
        if (rc == -ENOTSUP) {
            api_error(r, 400, "unsupported_checksum",
                      "Upload-Checksum: only sha256 is supported");
            return -1;
        }
        if (rc != 0) {
            api_invalid(r, "Upload-Checksum", "must be \"sha256 <base64 of 32 bytes>\"");
            return -1;
        }
        u->has_checksum = 1;
    }
    return 0;
}

/* Takes u into the active list and hands r's body to it. Returns 0, or -1 when the user
 * has --upload-max-concurrent uploads in flight (answered 429). */
static int take(api_req_t *r, upload_t *u)
{
    api_uploads_t *up = r->api->uploads;
    if (count_owner(up, r->user.sub) >= r->api->cfg->upload_max_concurrent) {
        snprintf(r->extra + strlen(r->extra), sizeof(r->extra) - strlen(r->extra),
                 "Retry-After: 1\r\n");
        api_error(r, 429, "too_many_uploads",
                  "this user is sending --upload-max-concurrent uploads already");
        return -1;
    }
    u->up = up;
    u->r = r;
    snprintf(u->owner, sizeof(u->owner), "%s", r->user.sub);
    u->next = up->active;
    if (up->active) up->active->pprev = &u->next;
    u->pprev = &up->active;
    up->active = u;
    r->body_ops = &upload_body_ops;
    r->body_ud = u;
    return 0;
}

/* ---- routes ---- */

/* OPTIONS /api/uploads/: what the server speaks. */
static void route_options(api_req_t *r)
{
    snprintf(r->extra, sizeof(r->extra),
             "Tus-Resumable: " TUS_VERSION "\r\nTus-Version: " TUS_VERSION
             "\r\nTus-Extension: " TUS_EXTENSIONS "\r\nTus-Max-Size: %" PRIu64
             "\r\nTus-Checksum-Algorithm: sha256\r\n",
             r->api->cfg->upload_max_size);
    api_respond_empty(r, 204);
}

/* A creation waiting for its reservation (UPLOAD_RESERVE: --upload-quota-user,
 * --upload-quota-room, --upload-max-incomplete), checked and stored in one store request so
 * that parallel creations each see the ones before. */
typedef struct {
    store_req_t sreq;
    store_assets_t pl;
    upload_t *u;
    char *text;               /* owned: the upload's info */
    store_asset_t want;       /* the reservation's row */
    char asset[STORE_ID_LEN]; /* a new version of this asset (metadata assetId), or "" */
} quota_wait_t;

static void on_reserved(store_req_t *req);

/* Submits q's reservation (its row q->want). */
static void reserve(quota_wait_t *q)
{
    const chorus_config_t *cfg = q->u->up->api->cfg;
    memset(&q->pl, 0, sizeof(q->pl));
    q->pl.row = q->want;
    q->pl.quota_user = (int64_t)cfg->upload_quota_user;
    q->pl.quota_room = (int64_t)cfg->upload_quota_room;
    q->pl.max_incomplete = (int64_t)cfg->upload_max_incomplete;
    q->sreq.type = STORE_UPLOAD_RESERVE;
    q->sreq.cb = on_reserved;
    store_submit(q->u->up->api->store, &q->sreq);
}

/* The asset an upload is to be a new version of was read (ASSET_GET): its owner or a
 * manager of its room may; the version goes to the asset's room, whose quota counts it. */
static void on_version_target(store_req_t *req)
{
    quota_wait_t *q = req->data;
    upload_t *u = q->u;
    api_req_t *r = u->r;
    int rc = req->err == STORE_OK ? api_assets_may_version(r->api, &q->pl.row, u->owner, r->ip)
             : req->err == STORE_ENOTFOUND ? -ENOENT
                                           : -EIO;
    if (rc == -ENOENT) {
        fail(u, 404, "not_found", "no such asset (assetId)");
    } else if (rc == -EPERM) {
        fail(u, 403, "forbidden",
             "only the asset's owner or a host of its room may upload a new version");
    } else if (rc != 0) {
        fail(u, 500, "internal_error", "the asset could not be read");
    } else {
        json_t *info = json_loads(q->text, 0, NULL);
        CH_ASSERT(info); /* made by route_create */
        json_object_set_new(info, "asset", json_string(q->asset));
        if (q->pl.row.room_id[0])
            json_object_set_new(info, "room", json_string(q->pl.row.room_id));
        else
            json_object_del(info, "room");
        char *text = json_dumps(info, JSON_COMPACT);
        json_decref(info);
        if (text && strlen(text) <= UPLOAD_INFO_MAX) {
            free(q->text);
            q->text = text;
            snprintf(q->want.room_id, sizeof(q->want.room_id), "%s", q->pl.row.room_id);
            reserve(q);
            return;
        }
        free(text);
        fail(u, 400, "validation_error", "Upload-Metadata is too long");
    }
    free(q->text);
    free(q);
}

static void on_reserved(store_req_t *req)
{
    quota_wait_t *q = req->data;
    upload_t *u = q->u;
    const chorus_config_t *cfg = u->up->api->cfg;
    char msg[200];
    if (req->err != STORE_OK) {
        fail(u, 500, "internal_error", "the storage quota could not be read");
    } else if (q->pl.refused == STORE_RESERVE_COUNT) {
        snprintf(msg, sizeof(msg),
                 "this user has %" PRId64 " unfinished uploads (--upload-max-incomplete): "
                 "finish or delete one first",
                 q->pl.count);
        fail(u, 429, "too_many_incomplete", msg);
    } else if (q->pl.refused == STORE_RESERVE_USER) {
        snprintf(msg, sizeof(msg),
                 "this user's assets and unfinished uploads take %" PRId64 " of %" PRIu64
                 " bytes (--upload-quota-user): delete some first",
                 q->pl.bytes, cfg->upload_quota_user);
        fail(u, 413, "quota_exceeded", msg);
    } else if (q->pl.refused == STORE_RESERVE_ROOM) {
        snprintf(msg, sizeof(msg),
                 "this room's assets and unfinished uploads take %" PRId64 " of %" PRIu64
                 " bytes (--upload-quota-room): delete some first",
                 q->pl.room_bytes, cfg->upload_quota_room);
        fail(u, 413, "room_quota_exceeded", msg);
    } else {
        u->reserved = 1;
        upload_file_create(u->up->api->loop, u->up->dir, u->id, (uint64_t)q->pl.row.size,
                           q->text, strlen(q->text), on_opened, u);
    }
    free(q->text);
    free(q);
}

/* POST /api/uploads/: creates an upload (Upload-Length, Upload-Metadata), with its first
 * bytes when a body comes (creation-with-upload). */
static void route_create(api_req_t *r)
{
    if (!tus_ok(r)) return;
    const chorus_config_t *cfg = r->api->cfg;
    uint64_t length = 0;
    const api_header_t *ul = api_req_header(r, "Upload-Length");
    if (!ul) {
        api_invalid(
            r, "Upload-Length",
            "required (Upload-Defer-Length is not supported: no creation-defer-length)");
        return;
    }
    if (tus_parse_u64(ul->value, ul->value_len, &length) != 0) {
        api_invalid(r, "Upload-Length", "must be a non-negative integer");
        return;
    }
    if (length > cfg->upload_max_size) {
        extra_add(r, "Tus-Max-Size: %" PRIu64 "\r\n", cfg->upload_max_size);
        api_error(r, 413, "upload_too_large", "Upload-Length is over Tus-Max-Size");
        return;
    }
    const api_header_t *um = api_req_header(r, "Upload-Metadata");
    tus_meta_pair_t pairs[TUS_META_MAX_PAIRS];
    size_t np = 0;
    char mbuf[TUS_META_MAX_TEXT];
    if (um) {
        if (um->value_len > TUS_META_MAX_TEXT) {
            api_invalid(r, "Upload-Metadata", "longer than 1 KiB");
            return;
        }
        int rc = tus_metadata_parse(um->value, um->value_len, pairs, TUS_META_MAX_PAIRS, &np,
                                    mbuf, sizeof(mbuf));
        if (rc != 0) {
            api_invalid(r, "Upload-Metadata",
                        rc == -E2BIG
                            ? "too many or too long pairs"
                            : "must be comma-separated \"key base64\" pairs, keys unique");
            return;
        }
    }
    const tus_meta_pair_t *ft = tus_metadata_get(pairs, np, "filetype");
    if (!ft) ft = tus_metadata_get(pairs, np, "type");
    if (!tus_type_allowed(cfg->upload_types, ft ? ft->value : "", ft ? ft->value_len : 0)) {
        api_error(r, 415, "type_not_allowed",
                  "this server takes uploads of these types only (filetype): %.200s",
                  cfg->upload_types);
        return;
    }
    /* A new version of an asset (metadata "assetId", or "asset"): it goes to the asset's
     * room, whatever "room" says; its caller must be the asset's owner or a host of the
     * room (checked once the asset is read, on_version_target). */
    const tus_meta_pair_t *ver = tus_metadata_get(pairs, np, "assetId");
    if (!ver) ver = tus_metadata_get(pairs, np, "asset");
    char asset_id[STORE_ID_LEN] = "";
    if (ver) {
        const tus_meta_pair_t *nm = tus_metadata_get(pairs, np, "filename");
        if (!nm) nm = tus_metadata_get(pairs, np, "name");
        int ok = ver->value_len == UPLOAD_ID_LEN &&
                 (!nm || nm->value_len < STORE_ASSET_NAME_LEN) &&
                 (!ft || ft->value_len < STORE_ASSET_TYPE_LEN);
        if (ok) {
            memcpy(asset_id, ver->value, UPLOAD_ID_LEN);
            asset_id[UPLOAD_ID_LEN] = '\0';
            ok = valid_id(asset_id);
        }
        if (!ok) {
            api_invalid(
                r, "Upload-Metadata",
                "assetId must be an asset id (32 hex digits); an asset's filename is at "
                "most 255 bytes, its filetype 127");
            return;
        }
    }
    /* An upload into a room (metadata "room", or "roomId"): its caller must be a
     * participant, and once finished it becomes an asset of the room (api_assets.c). */
    const tus_meta_pair_t *room = asset_id[0] ? NULL : tus_metadata_get(pairs, np, "room");
    if (!room && !asset_id[0]) room = tus_metadata_get(pairs, np, "roomId");
    char room_id[STORE_ID_LEN] = "";
    if (room) {
        const tus_meta_pair_t *nm = tus_metadata_get(pairs, np, "filename");
        if (!nm) nm = tus_metadata_get(pairs, np, "name");
        if (room->value_len == 0 || room->value_len >= sizeof(room_id) ||
            memchr(room->value, '\0', room->value_len) ||
            (nm && nm->value_len >= STORE_ASSET_NAME_LEN) ||
            (ft && ft->value_len >= STORE_ASSET_TYPE_LEN)) {
            api_invalid(r, "Upload-Metadata",
                        "room must be a room id; an asset's filename is at most 255 bytes, "
                        "its filetype 127");
            return;
        }
        memcpy(room_id, room->value, room->value_len);
        room_id[room->value_len] = '\0';
        if (!api_assets_may_add(r->api, room_id, r->user.sub, r->ip)) {
            api_error(r, 404, "not_found", "no such room (uploads go to rooms you are in)");
            return;
        }
    }
    upload_t *u = ch_calloc(1, sizeof(*u));
    u->creating = 1;
    if (body_headers(r, u, 0) != 0 || take(r, u) != 0) {
        free(u);
        return;
    }
    auth_random_hex(u->id, UPLOAD_ID_LEN / 2);
    json_t *info =
        json_pack("{s:s, s:I, s:s, s:I}", "owner", r->user.sub, "length", (json_int_t)length,
                  "metadata", um ? um->value : "", "created", (json_int_t)clock_unix_ms());
    const tus_meta_pair_t *name = tus_metadata_get(pairs, np, "filename");
    if (!name) name = tus_metadata_get(pairs, np, "name");
    const tus_meta_pair_t *type = tus_metadata_get(pairs, np, "filetype");
    if (!type) type = tus_metadata_get(pairs, np, "type");
    if (name) json_object_set_new(info, "name", json_stringn(name->value, name->value_len));
    if (type) json_object_set_new(info, "type", json_stringn(type->value, type->value_len));
    if (room_id[0]) json_object_set_new(info, "room", json_string(room_id));
    char *text = json_dumps(info, JSON_COMPACT);
    json_decref(info);
    if (!text || strlen(text) > UPLOAD_INFO_MAX) { /* a name that is not UTF-8, say */
        free(text);
        u->answered = 1;
        r->body_ops = NULL;
        release(u);
        api_invalid(r, "Upload-Metadata", "filename and filetype must be UTF-8 text");
        return;
    }
    /* The reservation first (a version's: once its asset is read): the body waits
     * (body_room is 0 until opened). */
    quota_wait_t *q = ch_calloc(1, sizeof(*q));
    q->u = u;
    q->text = text;
    q->sreq.data = q;
    q->sreq.assets = &q->pl;
    store_asset_t *row = &q->want;
    snprintf(row->id, sizeof(row->id), "%s", u->id);
    snprintf(row->uploader, sizeof(row->uploader), "%s", r->user.sub);
    snprintf(row->room_id, sizeof(row->room_id), "%s", room_id);
    row->size = (int64_t)length;
    row->created_at = clock_unix_ms();
    if (!asset_id[0]) {
        reserve(q);
        return;
    }
    snprintf(q->asset, sizeof(q->asset), "%s", asset_id);
    snprintf(q->pl.row.id, sizeof(q->pl.row.id), "%s", asset_id);
    q->sreq.type = STORE_ASSET_GET;
    q->sreq.cb = on_version_target;
    store_submit(r->api->store, &q->sreq);
}

/* PATCH /api/uploads/:id: appends the body at Upload-Offset. */
static void route_patch(api_req_t *r)
{
    if (!tus_ok(r)) return;
    api_uploads_t *up = r->api->uploads;
    const char *id = r->params[0];
    const api_header_t *uo = api_req_header(r, "Upload-Offset");
    upload_t tmp = {0};
    if (!valid_id(id)) {
        api_error(r, 404, "not_found", "no such upload");
        return;
    }
    if (!uo || tus_parse_u64(uo->value, uo->value_len, &tmp.want_offset) != 0) {
        api_invalid(r, "Upload-Offset", "required, a non-negative integer");
        return;
    }
    if (body_headers(r, &tmp, 1) != 0) return;
    if (find_active(up, id)) {
        api_error(r, 409, "upload_busy", "another request is writing this upload");
        return;
    }
    upload_t *u = ch_malloc(sizeof(*u));
    *u = tmp;
    snprintf(u->id, sizeof(u->id), "%s", id);
    if (take(r, u) != 0) {
        free(u);
        return;
    }
    upload_file_open(r->api->loop, up->dir, id, 1, on_opened, u);
}

/* HEAD and DELETE read the upload's record first. */
typedef struct {
    api_req_t *r;
    int del;
} lookup_t;

static void on_removed(void *ud, int status)
{
    api_req_t *r = ud;
    r->api->uploads->pending--;
    api_uploads_t *up = r->api->uploads;
    if (status != 0 && status != -ENOENT) {
        api_error(r, 500, "internal_error", "the upload could not be removed");
    } else {
        unreserve(up, r->params[0]); /* its files gone first: never an unreserved upload */
        api_respond_empty(r, 204);
    }
    maybe_free(up);
}

/* A finished upload whose asset HEAD records once its blob is touched. */
typedef struct {
    api_req_t *r;
    store_asset_t row;
} touch_t;

static void on_gone_removed(void *ud, int status)
{
    api_req_t *r = ud;
    api_uploads_t *up = r->api->uploads;
    up->pending--;
    if (status != 0 && status != -ENOENT)
        log_warn(up->api->log, "upload %s: its files could not be removed: %s", r->params[0],
                 strerror(-status));
    else
        unreserve(up, r->params[0]); /* its files gone first: never an unreserved upload */
    api_error(r, 404, "not_found", "no such upload (its content was collected)");
    maybe_free(up);
}

static void on_touched(upload_file_t *f, int status, void *ud)
{
    touch_t *t = ud;
    api_req_t *r = t->r;
    api_uploads_t *up = r->api->uploads;
    char id[UPLOAD_ID_LEN + 1];
    snprintf(id, sizeof(id), "%s", upload_file_id(f));
    upload_file_close(f);
    if (status == 0) { /* up->pending, counted for the touch, now counts the record */
        answer_with_asset(r, 200, &t->row, 1);
        free(t);
        return;
    }
    free(t);
    r->extra[0] = '\0';
    if (status == -ENOENT && !find_active(up, id)) {
        log_warn(up->api->log, "upload %s: its blob was collected before its asset was "
                 "recorded: the upload is removed", id);
        upload_file_remove(r->api->loop, up->dir, id, on_gone_removed, r);
        return; /* up->pending, counted for the touch, now counts the removal */
    }
    up->pending--;
    log_error(up->api->log, "upload %s: its blob cannot be touched: %s", id, strerror(-status));
    api_error(r, 500, "internal_error", "the upload's content cannot be read");
    maybe_free(up);
}

static void on_looked_up(upload_file_t *f, int status, void *ud)
{
    lookup_t *l = ud;
    api_req_t *r = l->r;
    api_uploads_t *up = r->api->uploads;
    int del = l->del;
    free(l);
    up->pending--;
    if (status != 0 || !owned_by(f, r->user.sub)) {
        upload_file_close(f);
        if (status != 0 && status != -ENOENT)
            api_error(r, 500, "internal_error", "the upload's record cannot be read");
        else
            api_error(r, 404, "not_found", "no such upload");
        maybe_free(up);
        return;
    }
    if (del) {
        char id[UPLOAD_ID_LEN + 1];
        snprintf(id, sizeof(id), "%s", upload_file_id(f));
        upload_file_close(f);
        if (find_active(up, id)) {
            api_error(r, 409, "upload_busy", "another request is writing this upload");
            maybe_free(up);
            return;
        }
        up->pending++;
        upload_file_remove(r->api->loop, up->dir, id, on_removed, r);
        return;
    }
    size_t n = 0;
    const char *info = upload_file_info(f, &n);
    json_t *j = json_loadb(info, n, 0, NULL);
    const char *meta = json_string_value(json_object_get(j, "metadata"));
    extra_add(r,
              "Upload-Offset: %" PRIu64 "\r\nUpload-Length: %" PRIu64
              "\r\nCache-Control: no-store\r\n",
              upload_file_offset(f), upload_file_length(f));
    if (meta && meta[0]) extra_add(r, "Upload-Metadata: %s\r\n", meta);
    uint8_t digest[TUS_SHA256_LEN];
    store_asset_t row;
    int has_asset = 0;
    if (upload_file_complete(f, digest)) {
        char hx[65];
        hex32(digest, hx);
        extra_add(r, "Upload-Sha256: %s\r\n", hx);
        /* Recorded when it finished, unless the server stopped in between: a tus client
         * resuming asks HEAD, which records it then (a taken id is the same asset). */
        has_asset = asset_of(r->api, f, upload_file_id(f), hx, &row);
        /* None (its owner left the room): its reservation goes, if a stop at its end
         * left it (an asset's record takes it over otherwise). */
        if (!has_asset) unreserve(up, upload_file_id(f));
    } else {
        add_expires(r, upload_file_mtime(f));
    }
    json_decref(j);
    if (has_asset) {
        /* The blob is touched first: one collected already (its upload's asset never
         * recorded past --blob-gc-grace) must not get an asset; one touched stays for the
         * grace, long enough for the record. */
        touch_t *t = ch_malloc(sizeof(*t));
        t->r = r;
        t->row = row;
        up->pending++;
        upload_file_touch_blob(f, up->blobs, on_touched, t);
    } else {
        upload_file_close(f);
        api_respond_empty(r, 200);
    }
    maybe_free(up);
}

static void lookup(api_req_t *r, int del)
{
    if (!tus_ok(r)) return;
    if (!valid_id(r->params[0])) {
        api_error(r, 404, "not_found", "no such upload");
        return;
    }
    api_uploads_t *up = r->api->uploads;
    lookup_t *l = ch_calloc(1, sizeof(*l));
    l->r = r;
    l->del = del;
    up->pending++;
    upload_file_open(r->api->loop, up->dir, r->params[0], 0, on_looked_up, l);
}

static void route_head(api_req_t *r)
{
    lookup(r, 0);
}

static void route_delete(api_req_t *r)
{
    lookup(r, 1);
}

/* HEAD /api/assets/by-hash/:sha256: is that content stored? ("check if asset already
 * exists": a client that has the hash skips the upload.) 200 with its Location, or 404. */
typedef struct {
    uv_fs_t fs;
    api_req_t *r;
    api_uploads_t *up;
} by_hash_t;

static void on_by_hash(uv_fs_t *fs)
{
    by_hash_t *b = fs->data;
    api_req_t *r = b->r;
    int found = fs->result == 0 && S_ISREG(fs->statbuf.st_mode);
    uint64_t size = fs->statbuf.st_size;
    uv_fs_req_cleanup(fs);
    b->up->pending--;
    api_uploads_t *up = b->up;
    free(b);
    if (!found) {
        api_error(r, 404, "not_found", "no blob with that SHA-256");
    } else {
        snprintf(r->extra, sizeof(r->extra),
                 "Location: /api/blobs/%s\r\nBlob-Length: %" PRIu64 "\r\n", r->params[0], size);
        api_respond_empty(r, 200);
    }
    maybe_free(up);
}

static void route_by_hash(api_req_t *r)
{
    const char *h = r->params[0];
    int ok = strlen(h) == 64;
    for (size_t i = 0; ok && i < 64; i++)
        ok = (h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f');
    if (!ok) {
        api_invalid(r, "sha256", "64 lower-case hex digits");
        return;
    }
    api_uploads_t *up = r->api->uploads;
    by_hash_t *b = ch_calloc(1, sizeof(*b));
    b->r = r;
    b->up = up;
    b->fs.data = b;
    char path[PATH_MAX + 128];
    snprintf(path, sizeof(path), "%s/%.2s/%s", up->blobs, h, h);
    up->pending++;
    uv_fs_stat(r->api->loop, &b->fs, path, on_by_hash);
}

const api_route_t api_uploads_routes[] = {
    {HTTP_HEAD, "/api/assets/by-hash/:sha256", route_by_hash, 0, API_GROUP_API},
    {HTTP_OPTIONS, "/api/uploads/", route_options, API_PUBLIC, API_GROUP_API},
    {HTTP_POST, "/api/uploads/", route_create, API_STREAM, API_GROUP_API},
    {HTTP_HEAD, "/api/uploads/:id", route_head, 0, API_GROUP_API},
    {HTTP_PATCH, "/api/uploads/:id", route_patch, API_STREAM, API_GROUP_API},
    {HTTP_DELETE, "/api/uploads/:id", route_delete, 0, API_GROUP_API},
};
const size_t api_uploads_nroutes = CH_ARRAY_LEN(api_uploads_routes);

/* ---- the expiry sweep ---- */

/* On the pool: looks at up to SWEEP_BUDGET entries from where the last run stopped and
 * collects the uploads whose record (or, before it exists, info) is older than the
 * expiry. */
static void sweep_work(uv_work_t *w)
{
    api_uploads_t *up = w->data;
    int64_t expiry = (int64_t)up->api->cfg->upload_expiry;
    up->sweep_n = 0;
    if (!up->sweep_dir && !(up->sweep_dir = opendir(up->dir))) return;
    for (int seen = 0; seen < SWEEP_BUDGET; seen++) {
        struct dirent *e = readdir(up->sweep_dir);
        if (!e) { /* a full pass: the next run starts over */
            closedir(up->sweep_dir);
            up->sweep_dir = NULL;
            return;
        }
        size_t n = strlen(e->d_name);
        if (n != UPLOAD_ID_LEN + 5 || strcmp(e->d_name + UPLOAD_ID_LEN, ".info") != 0) continue;
        char id[UPLOAD_ID_LEN + 1], path[PATH_MAX + 64];
        memcpy(id, e->d_name, UPLOAD_ID_LEN);
        id[UPLOAD_ID_LEN] = '\0';
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s.state", up->dir, id);
        if (stat(path, &st) != 0) {
            snprintf(path, sizeof(path), "%s/%s.info", up->dir, id);
            if (stat(path, &st) != 0) continue;
        }
        int64_t mtime = (int64_t)st.st_mtim.tv_sec * 1000 + st.st_mtim.tv_nsec / 1000000;
        if (up->sweep_now - mtime > expiry)
            memcpy(up->sweep_ids[up->sweep_n++], id, sizeof(id));
    }
}

static void on_swept(void *ud, int status)
{
    api_uploads_t *up = ud;
    (void)status;
    up->pending--;
    maybe_free(up);
}

static void sweep_after(uv_work_t *w, int status)
{
    api_uploads_t *up = w->data;
    (void)status;
    up->sweeping = 0;
    for (size_t i = 0; i < up->sweep_n && !up->closing; i++) {
        if (find_active(up, up->sweep_ids[i])) continue; /* being written: not idle */
        log_info(up->api->log, "upload %s expired: removed", up->sweep_ids[i]);
        up->pending++;
        upload_file_remove(up->api->loop, up->dir, up->sweep_ids[i], on_swept, up);
        unreserve(up, up->sweep_ids[i]);
    }
    maybe_free(up);
}

/* ---- the orphan sweep ---- */

/* On the pool: which of the page's reservations have no upload here (no .info). */
static void orphan_work(uv_work_t *w)
{
    api_uploads_t *up = w->data;
    for (size_t i = 0; i < up->orphan_pl.nrows; i++) {
        char path[PATH_MAX + 64];
        struct stat st;
        snprintf(path, sizeof(path), "%s/%s.info", up->dir, up->orphan_pl.rows[i].id);
        up->orphan_gone[i] = stat(path, &st) != 0 && errno == ENOENT;
    }
}

static void orphan_after(uv_work_t *w, int status)
{
    api_uploads_t *up = w->data;
    (void)status;
    up->orphaning = 0;
    for (size_t i = 0; i < up->orphan_pl.nrows && !up->closing; i++) {
        const store_asset_t *o = &up->orphan_pl.rows[i];
        if (!up->orphan_gone[i] || find_active(up, o->id)) continue;
        log_info(up->api->log,
                 "upload %s: no such upload, its reservation of %" PRId64 " bytes released",
                 o->id, o->size);
        unreserve(up, o->id);
    }
    store_assets_free(&up->orphan_pl);
    maybe_free(up);
}

static void on_orphan_page(store_req_t *req)
{
    api_uploads_t *up = req->data;
    store_assets_t *pl = &up->orphan_pl;
    /* A full page: the next run goes on after it; else the next starts over. */
    if (req->err == STORE_OK && pl->nrows == ORPHAN_BUDGET)
        snprintf(up->orphan_after, sizeof(up->orphan_after), "%s", pl->rows[pl->nrows - 1].id);
    else
        up->orphan_after[0] = '\0';
    if (req->err != STORE_OK || pl->nrows == 0 || up->closing) {
        store_assets_free(pl);
        up->orphaning = 0;
        maybe_free(up);
        return;
    }
    up->orphan_work.data = up;
    uv_queue_work(up->api->loop, &up->orphan_work, orphan_work, orphan_after);
}

/* Reads a page of reservations older than the expiry: a younger one may be an upload
 * being created (its reservation comes first, then its files), and on a cluster whose
 * nodes have their own data folders one may be another node's. An upload with files is
 * the expiry sweep's. */
static void orphan_sweep(api_uploads_t *up)
{
    /* Not on a --cluster node: its data folder may be its own, and a live upload is only
     * known to have expired after --upload-expiry without activity, which another node's
     * reservation cannot show here (it would be released while its upload goes on). */
    const char *cluster = up->api->cfg->cluster;
    if (up->orphaning || up->closing || (cluster && cluster[0])) return;
    up->orphaning = 1;
    store_assets_t *pl = &up->orphan_pl;
    store_assets_free(pl);
    memset(pl, 0, sizeof(*pl));
    snprintf(pl->row.id, sizeof(pl->row.id), "%s", up->orphan_after);
    pl->before_at = clock_unix_ms() - (int64_t)up->api->cfg->upload_expiry;
    pl->limit = ORPHAN_BUDGET;
    memset(&up->orphan_req, 0, sizeof(up->orphan_req));
    up->orphan_req.type = STORE_UPLOAD_OLD;
    up->orphan_req.cb = on_orphan_page;
    up->orphan_req.data = up;
    up->orphan_req.assets = pl;
    store_submit(up->api->store, &up->orphan_req);
}

static void on_sweep_timer(uv_timer_t *t)
{
    api_uploads_t *up = t->data;
    orphan_sweep(up);
    if (up->sweeping || up->closing) return;
    up->sweeping = 1;
    up->sweep_now = clock_unix_ms();
    up->sweep.data = up;
    uv_queue_work(up->api->loop, &up->sweep, sweep_work, sweep_after);
}

int api_uploads_init(api_t *a)
{
    api_uploads_t *up = ch_calloc(1, sizeof(*up));
    up->api = a;
    snprintf(up->dir, sizeof(up->dir), "%s/uploads", a->cfg->data_dir);
    snprintf(up->blobs, sizeof(up->blobs), "%s/blobs", a->cfg->data_dir);
    a->uploads = up; /* the folders are made by the first upload (upload_file.c) */
    /* A quarter of the expiry (at most a minute): an upload goes at most that late. */
    uint64_t every = a->cfg->upload_expiry / 4;
    if (every > 60000) every = 60000;
    if (every < 100) every = 100;
    uv_timer_init(a->loop, &up->timer);
    up->timer.data = up;
    uv_timer_start(&up->timer, on_sweep_timer, 0, every); /* at start too: orphans */
    uv_unref((uv_handle_t *)&up->timer);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    api_uploads_t *up = h->data;
    up->closing = 1;
    maybe_free(up);
}

void api_uploads_close(api_t *a)
{
    api_uploads_t *up = a->uploads;
    if (!up) return;
    uv_close((uv_handle_t *)&up->timer, on_timer_closed);
}
