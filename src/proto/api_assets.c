/* api_assets.c: asset records over REST (docs/assets.md). An asset is an upload that
 * finished into a room (its tus Upload-Metadata names the room), or a new version of an
 * asset (it names the asset): api_uploads.c hands it here (api_assets_record), it is
 * stored, and the room's members are told (the home's asset.event op, home_assets.c). The
 * routes list a room's assets, read one, its versions, redirect to its current content,
 * and delete one (its owner or a host of its room). Who may see an asset: the participants
 * (not banned) of its room, and the uploader of its current version (their own bytes),
 * checked on this process's room registry as the room routes do (api_rooms.c); its
 * versions, only the participants; to anyone else it does not exist (404). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>
#include <sodium.h>

#include "auth/asset_url_key.h"
#include "domain/rooms.h"
#include "proto/api.h"
#include "store/upload_file.h"
#include "util/clock.h"
#include "util/mem.h"

/* Assets per page of GET /api/rooms/:roomId/assets: default and most. */
#define ASSETS_PAGE_DEFAULT 50
#define ASSETS_PAGE_MAX 200

/* One asset request in flight: the store request, its payload, and who waits. */
typedef struct {
    store_req_t sreq;
    store_assets_t pl;
    api_t *api;
    api_req_t *r; /* the route's request, or NULL (api_assets_record) */
    void (*done)(void *ud, int err);
    void *ud;
    int quiet; /* api_assets_record: a taken id is the asset recorded before, told then */
} asset_op_t;

static asset_op_t *op_new(api_t *a, api_req_t *r, store_req_type_t type, store_cb cb)
{
    asset_op_t *o = ch_calloc(1, sizeof(*o));
    o->api = a;
    o->r = r;
    o->sreq.type = type;
    o->sreq.cb = cb;
    o->sreq.data = o;
    o->sreq.assets = &o->pl;
    return o;
}

static void op_free(asset_op_t *o)
{
    store_assets_free(&o->pl);
    free(o);
}

/* The asset's stable id: its first version's (rows older than versions name none). */
static const char *asset_id_of(const store_asset_t *a)
{
    return a->asset_id[0] ? a->asset_id : a->id;
}

/* The asset's owner: its first version's uploader. */
static const char *owner_of(const store_asset_t *a)
{
    return a->owner[0] ? a->owner : a->uploader;
}

json_t *api_asset_json(const store_asset_t *a)
{
    char url[96];
    snprintf(url, sizeof(url), "/api/blobs/%s", a->sha256);
    return json_pack("{s:s, s:o, s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:s, s:I}", "id",
                     asset_id_of(a), "roomId",
                     a->room_id[0] ? json_string(a->room_id) : json_null(), "owner",
                     owner_of(a), "uploadedBy", a->uploader, "sha256", a->sha256, "size",
                     (json_int_t)a->size, "name", a->name, "type", a->type, "createdAt",
                     (json_int_t)a->created_at, "url", url, "version",
                     (json_int_t)(a->version > 0 ? a->version : 1));
}

/* One version of an asset, as GET /api/assets/:id/versions lists it: its number, its
 * upload's id and its content. */
static json_t *version_json(const store_asset_t *a)
{
    char url[96];
    snprintf(url, sizeof(url), "/api/blobs/%s", a->sha256);
    return json_pack("{s:I, s:s, s:s, s:s, s:I, s:s, s:s, s:I, s:s}", "version",
                     (json_int_t)a->version, "uploadId", a->id, "uploadedBy", a->uploader,
                     "sha256", a->sha256, "size", (json_int_t)a->size, "name", a->name, "type",
                     a->type, "createdAt", (json_int_t)a->created_at, "url", url);
}

/* Tells asset a's room (when it is on this process) that a was added or removed: the
 * home publishes it to the room's connections. Fire and forget. */
static void tell_room(api_t *api, const char *event, const store_asset_t *a)
{
    rooms_t *rooms = api->rooms;
    room_t *room = rooms && a->room_id[0] ? strmap_get(&rooms->by_id, a->room_id) : NULL;
    if (!room) return; /* no room, or deleted meanwhile: its assets went with it */
    json_t *args = json_pack("{s:s, s:o}", "event", event, "asset", api_asset_json(a));
    bus_op_t op = {
        .room = room->id,
        .name = "asset.event",
        .user = a->uploader,
        .args = args,
        .route = {.member = BUS_MEMBER_NONE, .ref = -1, .fn = bus_reply_ignore},
    };
    bus_send_op(rooms->bus, &op);
    json_decref(args);
}

/* 1 when user may see room_id's assets: a participant (not banned) of the room here.
 * Charges a failed lookup to ip (rooms_access) when ip is not NULL. */
static int member_of(api_t *api, const char *room_id, const char *user, const char *ip)
{
    rooms_t *rooms = api->rooms;
    if (!rooms) return 0;
    room_t *room = strmap_get(&rooms->by_id, room_id);
    return room && rooms_access(rooms, room, user, ip, ROOMS_SEEK_MEMBER, NULL) == 0;
}

int api_assets_may_add(api_t *a, const char *room_id, const char *user, const char *ip)
{
    return member_of(a, room_id, user, ip);
}

/* ---- recording a finished upload ---- */

static void on_recorded(store_req_t *req)
{
    asset_op_t *o = req->data;
    int err = req->err;
    if (err == STORE_OK) {
        const store_asset_t *a = &o->pl.row;
        if (a->version > 1) {
            log_info(o->api->log, "asset %s: version %" PRId64 " (upload %s)%s%s", a->asset_id,
                     a->version, a->id, a->room_id[0] ? " in room " : "", a->room_id);
            tell_room(o->api, "asset_updated", a);
        } else {
            log_info(o->api->log, "asset %s added%s%s", a->id, a->room_id[0] ? " to room " : "",
                     a->room_id);
            tell_room(o->api, "asset_added", a);
        }
    } else if (err == STORE_EEXISTS && o->quiet) {
        err = STORE_OK; /* recorded before: nothing new to tell */
    } else {
        log_warn(o->api->log, "asset %s not recorded in room %s: %s", o->pl.row.id,
                 o->pl.row.room_id, err == STORE_ENOTFOUND ? "no such room" : "store error");
    }
    o->done(o->ud, err);
    op_free(o);
}

void api_assets_record(api_t *a, const store_asset_t *row, int again,
                       void (*done)(void *ud, int err), void *ud)
{
    asset_op_t *o = op_new(a, NULL, STORE_ASSET_PUT, on_recorded);
    o->pl.row = *row;
    o->done = done;
    o->ud = ud;
    o->quiet = again;
    store_submit(a->store, &o->sreq);
}

/* ---- routes ---- */

static int valid_asset_id(const char *id)
{
    size_t n = strlen(id);
    if (n != UPLOAD_ID_LEN) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((id[i] >= '0' && id[i] <= '9') || (id[i] >= 'a' && id[i] <= 'f'))) return 0;
    return 1;
}

/* A lookup of the asset the route names (r->params[0]) whose answer goes to cb, not
 * submitted yet; NULL when the id cannot be one (answered 404). Borrows r. */
static asset_op_t *asset_op_for(api_req_t *r, store_cb cb)
{
    if (!valid_asset_id(r->params[0])) {
        api_error(r, 404, "not_found", "no such asset");
        return NULL;
    }
    asset_op_t *o = op_new(r->api, r, STORE_ASSET_GET, cb);
    snprintf(o->pl.row.id, sizeof(o->pl.row.id), "%s", r->params[0]);
    return o;
}

/* asset_op_for, submitted: cb gets the asset's record (or STORE_ENOTFOUND). */
static void asset_lookup(api_req_t *r, store_cb cb)
{
    asset_op_t *o = asset_op_for(r, cb);
    if (o) store_submit(r->api->store, &o->sreq);
}

/* A page cursor: the created_at (12 hex digits of unix ms) and the id of a page's last
 * asset, opaque to clients (docs/assets.md). */
#define CURSOR_AT_LEN 12
#define CURSOR_LEN (CURSOR_AT_LEN + UPLOAD_ID_LEN)

static void cursor_format(const store_asset_t *a, char out[CURSOR_LEN + 1])
{
    uint64_t at = (uint64_t)a->created_at & 0xffffffffffffu; /* 48 bits: year 10889 */
    snprintf(out, CURSOR_AT_LEN + 1, "%012" PRIx64, at);
    snprintf(out + CURSOR_AT_LEN, UPLOAD_ID_LEN + 1, "%.32s", a->id);
}

/* Parses cursor text c into at and id (UPLOAD_ID_LEN + 1 bytes). Returns 0 or -1. */
static int cursor_parse(const char *c, int64_t *at, char *id)
{
    if (strlen(c) != CURSOR_LEN || !valid_asset_id(c + CURSOR_AT_LEN)) return -1;
    int64_t v = 0;
    for (int i = 0; i < CURSOR_AT_LEN; i++) {
        char h = c[i];
        if (!((h >= '0' && h <= '9') || (h >= 'a' && h <= 'f'))) return -1;
        v = v * 16 + (h <= '9' ? h - '0' : h - 'a' + 10);
    }
    *at = v;
    memcpy(id, c + CURSOR_AT_LEN, UPLOAD_ID_LEN + 1);
    return 0;
}

static void store_failed(api_req_t *r)
{
    api_error(r, 500, "internal_error", "the asset store failed; try again");
}

static void on_list(store_req_t *req)
{
    asset_op_t *o = req->data;
    api_req_t *r = o->r;
    if (req->err != STORE_OK) {
        store_failed(r);
    } else {
        json_t *list = json_array();
        for (size_t i = 0; i < o->pl.nrows; i++)
            json_array_append_new(list, api_asset_json(&o->pl.rows[i]));
        json_t *body = json_pack("{s:b, s:o}", "success", 1, "assets", list);
        /* A full page may have more: the next one starts after its last asset. */
        char next[CURSOR_LEN + 1];
        int more = o->pl.nrows == o->pl.limit && o->pl.nrows;
        if (more) cursor_format(&o->pl.rows[o->pl.nrows - 1], next);
        json_object_set_new(body, "next", more ? json_string(next) : json_null());
        api_respond(r, 200, body);
    }
    op_free(o);
}

/* The value of query parameter name (borrowed) into out (cap bytes), or "" when absent.
 * Returns 0, or -1 when it does not fit. */
static int query_str(const api_req_t *r, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    out[0] = '\0';
    for (const char *q = r->query; *q;) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > n && memcmp(q, name, n) == 0 && q[n] == '=') {
            if (len - n - 1 >= cap) return -1;
            memcpy(out, q + n + 1, len - n - 1);
            out[len - n - 1] = '\0';
        }
        q += len + (amp ? 1 : 0);
    }
    return 0;
}

/* GET /api/rooms/:roomId/assets?limit=&before=: the room's assets, newest first. */
static void route_list(api_req_t *r)
{
    if (!member_of(r->api, r->params[0], r->user.sub, r->ip)) {
        api_error(r, 404, "not_found", "no such room");
        return;
    }
    int64_t limit = ASSETS_PAGE_DEFAULT;
    if (api_query_int(r, "limit", &limit) != 0) return;
    if (limit < 1 || limit > ASSETS_PAGE_MAX) {
        api_invalid(r, "limit", "limit must be 1 to 200");
        return;
    }
    char before[CURSOR_LEN + 1], id[UPLOAD_ID_LEN + 1] = "";
    int64_t at = 0;
    if (query_str(r, "before", before, sizeof(before)) != 0 ||
        (before[0] && cursor_parse(before, &at, id) != 0)) {
        api_invalid(r, "before", "before must be the \"next\" of a page");
        return;
    }
    asset_op_t *o = op_new(r->api, r, STORE_ASSET_LIST, on_list);
    snprintf(o->pl.row.room_id, sizeof(o->pl.row.room_id), "%s", r->params[0]);
    snprintf(o->pl.before, sizeof(o->pl.before), "%s", id);
    o->pl.before_at = at;
    o->pl.limit = (uint32_t)limit;
    store_submit(r->api->store, &o->sreq);
}

/* 1 when user takes part in asset a's room now (a participant, not banned); for an asset
 * in no room, when user is its owner. Whoever once uploaded to it but is out of the room
 * (left, kicked, banned) does not. */
static int in_asset_room(api_t *api, const store_asset_t *a, const char *user, const char *ip)
{
    if (a->room_id[0]) return member_of(api, a->room_id, user, ip);
    return strcmp(owner_of(a), user) == 0;
}

/* 1 when user may see asset a (its record, content and signed URL, as it is now): a
 * participant of its room, or the uploader of its current version (the bytes they
 * uploaded themselves), whatever their membership. */
static int user_sees(api_t *api, const store_asset_t *a, const char *user, const char *ip)
{
    return strcmp(a->uploader, user) == 0 || in_asset_room(api, a, user, ip);
}

static int may_see(api_req_t *r, const store_asset_t *a)
{
    return user_sees(r->api, a, r->user.sub, r->ip);
}

/* 0 when user may change asset a as a whole (add a version, delete it): taking part in its
 * room and being its owner or managing the room (rooms_may_manage: its host or a co-host);
 * -EPERM when they see it but may not; -ENOENT when they do not see it. */
static int may_change(api_t *api, const store_asset_t *a, const char *user, const char *ip)
{
    if (!in_asset_room(api, a, user, ip)) return user_sees(api, a, user, NULL) ? -EPERM : -ENOENT;
    if (strcmp(owner_of(a), user) == 0) return 0;
    rooms_t *rooms = api->rooms;
    room_t *room = rooms && a->room_id[0] ? strmap_get(&rooms->by_id, a->room_id) : NULL;
    return room && rooms_may_manage(room, user) ? 0 : -EPERM;
}

int api_assets_may_version(api_t *api, const store_asset_t *a, const char *user, const char *ip)
{
    return may_change(api, a, user, ip);
}

static void on_get(store_req_t *req)
{
    asset_op_t *o = req->data;
    api_req_t *r = o->r;
    if (req->err == STORE_ENOTFOUND || (req->err == STORE_OK && !may_see(r, &o->pl.row)))
        api_error(r, 404, "not_found", "no such asset");
    else if (req->err != STORE_OK)
        store_failed(r);
    else
        api_respond(r, 200,
                    json_pack("{s:b, s:o}", "success", 1, "asset", api_asset_json(&o->pl.row)));
    op_free(o);
}

/* GET /api/assets/:id: one asset's record. */
static void route_get(api_req_t *r)
{
    asset_lookup(r, on_get);
}

static void on_upload_removed(void *ud, int status)
{
    (void)ud;
    (void)status; /* gone already (expired) is fine */
}

static void on_deleted(store_req_t *req)
{
    asset_op_t *o = req->data;
    api_req_t *r = o->r;
    if (req->err == STORE_ENOTFOUND) {
        api_error(r, 404, "not_found", "no such asset");
    } else if (req->err != STORE_OK) {
        store_failed(r);
    } else {
        api_t *a = r->api;
        log_info(a->log, "asset %s removed from room %s by %s", o->pl.row.id, o->pl.row.room_id,
                 r->user.sub);
        tell_room(a, "asset_removed", &o->pl.row);
        /* The upload's own record goes too (the asset's id is the upload's), so a HEAD
         * on it cannot record the asset again; so does its first version's (a HEAD on
         * another version's finds no asset to add a version to). */
        char dir[PATH_MAX];
        snprintf(dir, sizeof(dir), "%s/uploads", a->cfg->data_dir);
        upload_file_remove(a->loop, dir, o->pl.row.id, on_upload_removed, NULL);
        if (strcmp(asset_id_of(&o->pl.row), o->pl.row.id) != 0)
            upload_file_remove(a->loop, dir, asset_id_of(&o->pl.row), on_upload_removed, NULL);
        api_respond(r, 200,
                    json_pack("{s:b, s:o}", "success", 1, "asset", api_asset_json(&o->pl.row)));
    }
    op_free(o);
}

/* The record was read: its owner or a host of its room (its host or a co-host), taking
 * part in the room, may delete it (the uploader of a later version by that alone may not);
 * another participant, or the current version's uploader out of the room, is refused (403);
 * anyone else does not see it (404). */
static void on_delete_lookup(store_req_t *req)
{
    asset_op_t *o = req->data;
    api_req_t *r = o->r;
    const store_asset_t *a = &o->pl.row;
    if (req->err == STORE_ENOTFOUND || (req->err == STORE_OK && !may_see(r, a))) {
        api_error(r, 404, "not_found", "no such asset");
        op_free(o);
        return;
    }
    if (req->err != STORE_OK) {
        store_failed(r);
        op_free(o);
        return;
    }
    if (may_change(r->api, a, r->user.sub, NULL) != 0) {
        api_error(r, 403, "forbidden",
                  "only the asset's owner or a host of its room may delete it");
        op_free(o);
        return;
    }
    snprintf(o->pl.row.id, sizeof(o->pl.row.id), "%s", r->params[0]); /* the asset's */
    o->sreq.type = STORE_ASSET_DELETE;
    o->sreq.cb = on_deleted;
    store_submit(r->api->store, &o->sreq);
}

/* DELETE /api/assets/:id: removes the record (the blob stays while another asset names it;
 * docs/assets.md). */
static void route_delete(api_req_t *r)
{
    asset_lookup(r, on_delete_lookup);
}

static void on_url(store_req_t *req)
{
    asset_op_t *o = req->data;
    api_req_t *r = o->r;
    const store_asset_t *a = &o->pl.row;
    if (req->err == STORE_ENOTFOUND || (req->err == STORE_OK && !may_see(r, a))) {
        api_error(r, 404, "not_found", "no such asset");
    } else if (req->err != STORE_OK) {
        store_failed(r);
    } else {
        int64_t exp_ms = clock_unix_ms() + (int64_t)r->api->cfg->asset_url_ttl;
        int64_t exp_s = exp_ms / 1000;
        char q[256], url[512];
        int rc = asset_url_sign(r->api->asset_url_key, asset_id_of(a), a->sha256, exp_s, q,
                                sizeof(q));
        CH_ASSERT(rc == 0); /* ids are 32 hex digits */
        snprintf(url, sizeof(url), "/api/blobs/%s?%s", a->sha256, q);
        api_respond(r, 200,
                    json_pack("{s:b, s:s, s:I}", "success", 1, "url", url, "expiresAt",
                              (json_int_t)exp_s * 1000));
    }
    op_free(o);
}

/* GET /api/assets/:id/url: a signed URL of the asset's content that works without a token
 * until it expires (--asset-url-ttl): for <img src>, <video> and loaders that cannot send
 * an Authorization header. */
static void route_url(api_req_t *r)
{
    asset_lookup(r, on_url);
}

static void on_versions(store_req_t *req)
{
    asset_op_t *o = req->data;
    api_req_t *r = o->r;
    if (req->err != STORE_OK) {
        store_failed(r);
    } else {
        json_t *list = json_array();
        for (size_t i = 0; i < o->pl.nrows; i++)
            json_array_append_new(list, version_json(&o->pl.rows[i]));
        int more = o->pl.nrows == o->pl.limit && o->pl.nrows;
        json_t *next = more ? json_integer(o->pl.rows[o->pl.nrows - 1].version) : json_null();
        api_respond(r, 200,
                    json_pack("{s:b, s:o, s:o}", "success", 1, "versions", list, "next", next));
    }
    op_free(o);
}

/* The asset was read: whoever takes part in its room reads its versions (every
 * uploader's), not one who only uploaded a version. */
static void on_versions_lookup(store_req_t *req)
{
    asset_op_t *o = req->data;
    api_req_t *r = o->r;
    if (req->err == STORE_ENOTFOUND ||
        (req->err == STORE_OK && !in_asset_room(r->api, &o->pl.row, r->user.sub, r->ip))) {
        api_error(r, 404, "not_found", "no such asset");
        op_free(o);
        return;
    }
    if (req->err != STORE_OK) {
        store_failed(r);
        op_free(o);
        return;
    }
    char id[STORE_ID_LEN];
    snprintf(id, sizeof(id), "%s", asset_id_of(&o->pl.row));
    memset(&o->pl.row, 0, sizeof(o->pl.row));
    snprintf(o->pl.row.id, sizeof(o->pl.row.id), "%s", id);
    o->sreq.type = STORE_ASSET_VERSIONS;
    o->sreq.cb = on_versions;
    store_submit(r->api->store, &o->sreq);
}

/* GET /api/assets/:id/versions?limit=&before=: the asset's versions, newest first. */
static void route_versions(api_req_t *r)
{
    asset_op_t *o = asset_op_for(r, on_versions_lookup);
    if (!o) return;
    int64_t limit = ASSETS_PAGE_DEFAULT, before = 0;
    int bad =
        api_query_int(r, "limit", &limit) != 0 || api_query_int(r, "before", &before) != 0;
    if (!bad && (limit < 1 || limit > ASSETS_PAGE_MAX)) {
        api_invalid(r, "limit", "limit must be 1 to 200");
        bad = 1;
    }
    if (!bad && before < 0) {
        api_invalid(r, "before", "before must be the \"next\" of a page");
        bad = 1;
    }
    if (bad) {
        op_free(o);
        return;
    }
    o->pl.before_at = before;
    o->pl.limit = (uint32_t)limit;
    store_submit(r->api->store, &o->sreq);
}

static void on_content(store_req_t *req)
{
    asset_op_t *o = req->data;
    api_req_t *r = o->r;
    if (req->err == STORE_ENOTFOUND || (req->err == STORE_OK && !may_see(r, &o->pl.row))) {
        api_error(r, 404, "not_found", "no such asset");
    } else if (req->err != STORE_OK) {
        store_failed(r);
    } else {
        /* no-cache: the next version moves it, so a cache asks again each time. */
        snprintf(r->extra, sizeof(r->extra),
                 "Location: /api/blobs/%s\r\nCache-Control: private, no-cache\r\n",
                 o->pl.row.sha256);
        api_respond_empty(r, 307);
    }
    op_free(o);
}

/* GET /api/assets/:id/content: the asset's stable URL, a redirect (307) to its current
 * version's content-addressed URL. */
static void route_content(api_req_t *r)
{
    asset_lookup(r, on_content);
}

/* ---- reading blobs (the transport's GET /api/blobs/) ---- */

int api_assets_url_check(api_t *a, const char *sha256, const char *query, size_t len)
{
    asset_url_t u;
    if (asset_url_parse(query, len, &u) != ASSET_URL_OK) return ASSET_URL_BAD;
    return asset_url_check(a->asset_url_key, &u, sha256, clock_unix_ms() / 1000);
}

struct api_blob_check_s {
    store_req_t sreq;
    store_assets_t pl;
    void (*done)(void *ud, int readable, int err);
    void *ud;
};

static void on_readable(store_req_t *req)
{
    api_blob_check_t *k = req->data;
    if (k->done) k->done(k->ud, k->pl.found, req->err);
    store_assets_free(&k->pl);
    free(k);
}

api_blob_check_t *api_assets_readable(api_t *a, const char *sub, const char *sha256,
                                      void (*done)(void *ud, int readable, int err), void *ud)
{
    api_blob_check_t *k = ch_calloc(1, sizeof(*k));
    k->sreq.type = STORE_ASSET_READABLE;
    k->sreq.cb = on_readable;
    k->sreq.data = k;
    k->sreq.assets = &k->pl;
    snprintf(k->pl.row.uploader, sizeof(k->pl.row.uploader), "%s", sub);
    snprintf(k->pl.row.sha256, sizeof(k->pl.row.sha256), "%.64s", sha256);
    k->done = done;
    k->ud = ud;
    store_submit(a->store, &k->sreq);
    return k;
}

void api_assets_readable_cancel(api_blob_check_t *k)
{
    k->done = NULL; /* freed when the store answers */
}

int api_assets_init(api_t *a)
{
    if (sodium_init() < 0) return -1;
    const char *dir = a->cfg->data_dir;
    if (!dir || !dir[0] || asset_url_key_load(dir, a->asset_url_key, a->log) != 0) {
        log_warn(a->log, "signed asset URLs use a key of this run only: they stop working "
                         "at a restart");
        randombytes_buf(a->asset_url_key, sizeof(a->asset_url_key));
    }
    return 0;
}

const api_route_t api_assets_routes[] = {
    {HTTP_GET, "/api/assets/:id/url", route_url, 0, API_GROUP_API},
    {HTTP_GET, "/api/assets/:id/versions", route_versions, 0, API_GROUP_API},
    {HTTP_GET, "/api/assets/:id/content", route_content, 0, API_GROUP_API},
    {HTTP_GET, "/api/rooms/:roomId/assets", route_list, 0, API_GROUP_API},
    {HTTP_GET, "/api/assets/:id", route_get, 0, API_GROUP_API},
    {HTTP_DELETE, "/api/assets/:id", route_delete, 0, API_GROUP_API},
};
const size_t api_assets_nroutes = CH_ARRAY_LEN(api_assets_routes);
