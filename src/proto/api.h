/* api.h: the REST API under /api/. Routes a request to its handler, checks rate limits and
 * the bearer token, and lets handlers answer later (after store or hashing work on other
 * threads). Knows nothing of sockets: the transport hands over a request and gets the
 * response back through the done callback it set. */
#ifndef CHORUS_API_H
#define CHORUS_API_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <uv.h>

#include "auth/asset_url.h"
#include "auth/audit_agg.h"
#include "auth/auth_jwt.h"
#include "util/buf.h"
#include "util/config.h"
#include "util/log.h"
#include "auth/revoke.h"
#include "util/rl_map.h"
#include "store/store.h"

typedef struct api_s api_t;
struct rooms_s;
typedef struct api_req_s api_req_t;

/* Route groups, each with its own rate limits. */
typedef enum { API_GROUP_AUTH, API_GROUP_API } api_group_t;

/* Route flags. */
#define API_PUBLIC 1u /* no bearer token needed */
#define API_SERVER 2u /* an app backend's API key, not a user token (api_key.c) */
#define API_STREAM 4u /* the body is streamed to the handler (api_body_ops_t), not buffered */

#define API_MAX_PARAMS 4

typedef void (*api_handler_fn)(api_req_t *r);

/* The consumer of a streamed body, set by an API_STREAM route's handler (which may instead
 * answer at once: the transport then closes the connection after the answer, since the
 * body was not read). The transport feeds the body as it arrives and answers nothing
 * itself: the consumer answers once, after end or abort. */
typedef struct {
    /* Bytes it can take now; 0 while it is busy (a disk write pending): the transport
     * then stops reading until the consumer calls api_body_ready. */
    size_t (*room)(api_req_t *r);
    /* Takes n <= room bytes (borrowed for the call: copy them). */
    void (*data)(api_req_t *r, const char *p, size_t n);
    /* The whole body arrived: answer, now or later. */
    void (*end)(api_req_t *r);
    /* The body stopped before its end (client gone, timeout, bad framing; r->conn may be
     * NULL): keep what arrived, then answer so r is freed (nobody may read it). */
    void (*abort)(api_req_t *r);
} api_body_ops_t;

/* One request header (copied). */
typedef struct {
    const char *name, *value; /* NUL-terminated, into api_req_t.hdr_buf */
    size_t value_len;
} api_header_t;

typedef struct {
    int method;          /* enum http_method */
    const char *pattern; /* "/api/rooms/:id/join": ':' segments are captured in order */
    api_handler_fn fn;
    unsigned flags;
    api_group_t group;
} api_route_t;

/* One request. Created by the transport with api_req_new, handed to api_handle, answered
 * exactly once with api_respond* (then the transport's done callback runs and frees it
 * with api_req_free). Everything here is a copy: it outlives the connection. */
struct api_req_s {
    api_t *api;
    int method;
    char *path;                 /* owned, still percent-encoded */
    char *query;                /* owned, "" when none */
    char *bearer;               /* owned; the Authorization bearer token, NULL if none */
    const char *body;           /* owned copy of the body, NUL-terminated; NULL if none */
    size_t body_len;
    json_t *json;               /* the body parsed as JSON (after routing), or NULL */
    char ip[STORE_IP_LEN];
    const char *params[API_MAX_PARAMS]; /* captured ':' segments, pointing into path */
    size_t nparams;
    char *param_buf;            /* owned storage for params */
    auth_claims_t user;         /* valid when authed */
    int authed;
    /* The room routes (api_rooms.c): the caller's membership is for the room's home to
     * check (a room at home on another node; HOME_MEMBER_KEY). */
    int member_at_home;
    /* Its room was read from the store (rooms_seek) and the route runs again: a room still
     * unknown is not read a second time. */
    int sought;
    const api_route_t *route;            /* the route found (api_run_route) */
    char apikey_id[STORE_APIKEY_ID_LEN]; /* an API_SERVER route's verified key */
    /* response */
    int status;
    json_t *resp;               /* owned until done runs */
    cbuf_t *resp_text;          /* or the body as JSON text written (api_respond_text):
                                   owned until done runs; resp is NULL then */
    char extra[2048];           /* extra CRLF-terminated header lines (tus: Upload-Metadata) */
    int empty;                  /* answer with no body (204, tus HEAD): api_respond_empty */
    /* request headers (api_req_set_headers) */
    api_header_t *headers; /* owned */
    size_t nheaders;
    char *hdr_buf; /* owned */
    /* streamed body (API_STREAM routes) */
    const api_body_ops_t *body_ops;   /* set by the handler; NULL: not taking a body */
    void *body_ud;                    /* the consumer's */
    int streaming;                    /* 1 while the body is still arriving */
    void (*body_ready)(api_req_t *r); /* the transport's: the consumer has room again */
    /* transport */
    void (*done)(api_req_t *r); /* runs once the response is ready; frees r */
    void *conn;                 /* the transport's; NULL once the client went away */
    /* handler scratch: the store request and a secret that is wiped after use */
    store_req_t sreq;
    uv_work_t work;
    char secret[1025];
    size_t secret_len;
    char secret2[1025];         /* a second one (the new password of a change) */
    size_t secret2_len;
    int match;                  /* password verify result */
};

/* Authentication failures by reason, for GET /metrics (a bounded label set): a token
 * refused (REST or WebSocket or Socket.IO: bad, expired or revoked), a password refused
 * (login, password change), anything else recorded with api_audit_failure. */
typedef enum {
    API_AUTH_FAIL_TOKEN = 0,
    API_AUTH_FAIL_PASSWORD,
    API_AUTH_FAIL_OTHER,
    API_AUTH_FAIL_N
} api_auth_fail_t;

/* The label value of each api_auth_fail_t ("token", "password", "other"). */
extern const char *const api_auth_fail_names[API_AUTH_FAIL_N];

typedef struct {
    char dummy_hash[STORE_HASH_LEN]; /* verified for unknown emails, so timing tells nothing */
} api_auth_state_t;

struct api_s {
    uv_loop_t *loop;             /* borrowed */
    const chorus_config_t *cfg;  /* borrowed */
    log_t *log;                  /* borrowed */
    store_t *store;              /* borrowed */
    auth_jwt_t *jwt;             /* borrowed */
    struct rooms_s *rooms;       /* borrowed */
    rl_map_t *rl_auth;           /* per IP, /api/auth/ */
    rl_map_t *rl_api_ip;         /* per IP, other routes */
    rl_map_t *rl_api_user;       /* per user, other routes */
    rl_map_t *rl_account;        /* per account (email): failed password checks */
    rl_map_t *rl_server;         /* per API key, /api/server/ */
    rl_rule_t rule_auth, rule_api_ip, rule_api_user, rule_account, rule_server;
    uv_timer_t sweep;            /* drops refilled rate-limit entries */
    audit_agg_t *audit_agg;      /* repeated failures of the current audit window */
    uv_timer_t audit_timer;      /* ends audit windows, prunes old audit rows */
    uint64_t audit_pruned_ms;    /* loop time of the last prune */
    int audit_pruning;           /* a prune (chain) is running */
    api_auth_state_t auth;
    revoke_t *revoke;            /* owned: revoked tokens, checked on every request */
    /* Called after a revocation took effect, with the user it concerns, so the server can
     * close that user's WebSocket connections whose token is now refused (may be NULL). */
    void (*revoked)(void *ud, const char *sub);
    void *revoked_ud;
    /* The admin view (api_admin.c). Set by the server (NULL: none): the connections as a
     * new object {"total", "byKind": {kind: n}, "authenticated", "list": [at most max
     * rows], "more"}. */
    json_t *(*admin_conns)(void *ud, size_t max);
    void *admin_conns_ud;
    struct log_ring_s *errors; /* borrowed; the recent warnings and errors (NULL: none) */
    /* Closes every connection of user sub with code and reason (api_disconnect_user);
     * returns how many. Set by the server (may be NULL). */
    uint32_t (*disconnect)(void *ud, const char *sub, int code, const char *reason);
    void *disconnect_ud;
    uint64_t auth_failures[API_AUTH_FAIL_N]; /* GET /metrics: by reason */
    struct api_uploads_s *uploads; /* owned: tus uploads in flight, the expiry sweep */
    struct api_blob_gc_s *blob_gc; /* owned: the collector of unreferenced blobs */
    uint8_t asset_url_key[ASSET_URL_KEY_LEN]; /* signs asset URLs (api_assets_init) */
};

/* Initialises a on loop and loads the revocations from the store (running the loop
 * until they are in); every pointer is borrowed and must outlive a. Returns 0 or -1
 * (with a log line). */
int api_init(api_t *a, uv_loop_t *loop, const chorus_config_t *cfg, log_t *log,
             store_t *store, auth_jwt_t *jwt);

/* Stops a's timer; its memory is freed once the loop ran the close callback. */
void api_close(api_t *a);

/* Returns a new request for method and the target's path and query (borrowed, copied).
 * The caller then sets ip, bearer, body (api_req_set_body), done and conn. */
api_req_t *api_req_new(api_t *a, int method, const char *path, size_t path_len,
                       const char *query, size_t query_len);

/* Copies the body and the bearer token value (both borrowed; bearer may be NULL). */
void api_req_set_body(api_req_t *r, const char *body, size_t len);
void api_req_set_bearer(api_req_t *r, const char *value, size_t len);

/* Copies n headers given as parallel name/value arrays (borrowed; lengths given). */
void api_req_set_headers(api_req_t *r, size_t n, const char *const *names,
                         const size_t *name_lens, const char *const *values,
                         const size_t *value_lens);

/* Returns the first header named name (case-insensitive), or NULL. Borrowed from r. */
const api_header_t *api_req_header(const api_req_t *r, const char *name);

/* 1 when the route of method and path (borrowed) takes its body streamed (API_STREAM). */
int api_route_streams(api_t *a, int method, const char *path, size_t path_len);

/* The consumer of a streamed body tells the transport it can take more (see room). */
void api_body_ready(api_req_t *r);

/* Frees r and what it owns. */
void api_req_free(api_req_t *r);

/* Routes r. The response arrives through r->done, from inside this call or later. */
void api_handle(api_req_t *r);

/* Answers r with status and body (stolen), then runs r->done. */
void api_respond(api_req_t *r, int status, json_t *body);

/* Answers r with status and the JSON text in body (stolen: one reference, its bytes
 * data[off..off+len), one JSON object as Jansson writes it compact), then runs r->done. For
 * a body written from kept texts with no tree (server.presence). */
void api_respond_text(api_req_t *r, int status, cbuf_t *body);

/* Answers r with status, r->extra and no body (204; a HEAD's headers), then runs r->done. */
void api_respond_empty(api_req_t *r, int status);

/* Answers r with {"success":false,"error":{code,message}}. */
void api_error(api_req_t *r, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Answers 400 {"error":{"code":"validation_error","field":field,"message":message}}. */
void api_invalid(api_req_t *r, const char *field, const char *message);

/* Takes a token for key (borrowed; hashed when longer than RL_MAP_KEY_MAX) from m.
 * Returns 1 when allowed; else answers 429 rate_limited with Retry-After and returns 0. */
int api_rate_ok(api_req_t *r, rl_map_t *m, const rl_rule_t *rule, const char *key);

/* Gives back the token api_rate_ok took for key (limits that count failures only). */
void api_rate_refund(api_req_t *r, rl_map_t *m, const rl_rule_t *rule, const char *key);

/* Records an audit event (fire and forget). user_id may be NULL. */
void api_audit(api_t *a, const char *event, const char *user_id, const char *ip,
               const char *detail);

/* Records a failure event (refused token, failed login) through the aggregator: the first
 * of its source in a window is written at once, repeats are counted and written as one
 * row (with count) when the window ends. user_id may be NULL. */
void api_audit_failure(api_t *a, const char *event, const char *user_id, const char *ip,
                       const char *detail);

/* api_audit.c: starts the audit window timer and the first prune; api_audit_stop
 * writes the window's counts and closes the timer. */
void api_audit_start(api_t *a);
void api_audit_stop(api_t *a);

/* api_revoke.c: creates a->revoke and loads the live revocations from the store (running
 * the loop until they are in). Returns 0 or -1 (logged). */
int api_revoke_load(api_t *a);

/* Drops the ended revocations from memory and, when there were any, from the store. */
void api_revoke_sweep(api_t *a);

/* Revokes, in memory at once, the token jti of user sub (borrowed) until until_s, or the
 * tokens of sub whose "ep" is below epoch (REVOKE_ALL: every one), then runs a->revoked.
 * The caller writes the same revocation to the store. */
void api_revoke_token(api_t *a, const char *sub, const auth_jti_t *jti, int64_t until_s);
void api_revoke_user(api_t *a, const char *sub, int64_t epoch, int64_t until_s);

/* Parses r's JSON body and runs its route (r->route): what api_handle does once the
 * caller is authenticated; api_key_check calls it after its store read. */
void api_run_route(api_req_t *r);

/* api_key.c: the check of every API_SERVER route. Reads r's bearer as an API key
 * (apikey.h), looks it up in the store and verifies it; then takes a token of the key's
 * rate limit and runs the route (api_run_route). A missing, malformed (a user's JWT),
 * unknown or revoked key is answered 401 {"error":{"code":"invalid_api_key"}}. */
void api_key_check(api_req_t *r);

/* Percent-decodes s (a captured path segment, owned by the request) in place; it only
 * shrinks. Returns 0, or -1 for a bad escape or an encoded NUL (api_rooms.c). */
int api_unescape_segment(char *s);

/* The close code of a connection closed by api_disconnect_user (docs/protocol.md). */
#define API_CLOSE_DISCONNECTED 4001
/* A disconnect reason's most bytes (a close frame's reason is at most 123). */
#define API_DISCONNECT_REASON_MAX 100

/* Disconnects user sub (borrowed) everywhere: closes every connection of theirs on this
 * process (WebSocket at /ws: close API_CLOSE_DISCONNECTED with reason, borrowed, at most
 * API_DISCONNECT_REASON_MAX bytes of UTF-8; Socket.IO, over WebSocket or polling: a
 * DISCONNECT packet, then the transport closes), through the server's a->disconnect.
 * Their rooms see them leave as for any closed connection. Returns how many connections
 * it closed (0 without a server). The server API's disconnect route and the admin
 * actions call it. One process today: a cluster bus must carry it to every node. */
uint32_t api_disconnect_user(api_t *a, const char *sub, const char *reason);

/* Routes of the server API (api_server.c): /api/server/, for app backends. */
extern const api_route_t api_server_routes[];
extern const size_t api_server_nroutes;

/* Routes of the webhook endpoints and their delivery log (api_webhooks.c), under
 * /api/server/webhooks. */
extern const api_route_t api_webhooks_routes[];
extern const size_t api_webhooks_nroutes;

/* Routes of the accounts module (api_auth.c). */
extern const api_route_t api_auth_routes[];
extern const size_t api_auth_nroutes;

/* Routes of the admin view (api_admin.c): every one answers 403 forbidden to a caller
 * that is not an admin (api_admin_is). */
extern const api_route_t api_admin_routes[];
extern const size_t api_admin_nroutes;

/* 1 when the authenticated user is an admin: the token's "role": "admin" claim, or its
 * subject listed in --admins. Borrows both. */
int api_admin_is(const api_t *a, const auth_claims_t *user);
/* Routes of the uploads module (api_uploads.c, tus 1.0 under /api/uploads/). */
extern const api_route_t api_uploads_routes[];
extern const size_t api_uploads_nroutes;

/* Routes of the assets module (api_assets.c): a room's asset records. */
extern const api_route_t api_assets_routes[];
extern const size_t api_assets_nroutes;

/* Returns a new object of asset a (borrowed), its current version: {id (the asset's),
 * roomId, uploadedBy, sha256, size, name, type, createdAt, url, version}, as the routes and
 * the room events carry it. */
json_t *api_asset_json(const store_asset_t *a);

/* Whether user (borrowed) may upload a new version of asset a (borrowed, as ASSET_GET
 * read it): 0 for its owner or a manager of its room (rooms_may_manage) who sees it;
 * -ENOENT when user may not see it (404, as for no asset); -EPERM when they see it but
 * may not change it (403). A failed room lookup is charged to ip (may be NULL). */
int api_assets_may_version(api_t *api, const store_asset_t *a, const char *user,
                           const char *ip);

/* 1 when user (borrowed) may add assets to room_id (borrowed): a participant, not banned,
 * of a room of this process. A failed lookup is charged to ip (may be NULL), as the room
 * routes do. */
int api_assets_may_add(api_t *a, const char *room_id, const char *user, const char *ip);

/* Stores asset row (copied) of a finished upload (a new asset, or, with row.asset_id
 * naming another asset, its next version) and, once stored, tells its room (asset_added or
 * asset_updated); then runs done(ud, err) with a STORE_* code. again: the upload may have
 * been recorded before (a HEAD after a restart), so a taken id is success and not told
 * twice. */
void api_assets_record(api_t *a, const store_asset_t *row, int again,
                       void (*done)(void *ud, int err), void *ud);

/* The check of a user's read of a blob (GET /api/blobs/ with a token), in flight. */
typedef struct api_blob_check_s api_blob_check_t;

/* Asks the store whether user sub may read content sha256 (both borrowed, copied): they
 * uploaded an asset of it or are a participant (not banned) of a room that has one. Runs
 * done(ud, readable, err) on the loop later (never from inside this call; err a STORE_*
 * code) unless cancelled first. Returns the check, valid until done runs or it is
 * cancelled. */
api_blob_check_t *api_assets_readable(api_t *a, const char *sub, const char *sha256,
                                      void (*done)(void *ud, int readable, int err), void *ud);

/* The waiter went away: done will not run (the check frees itself when the store answers). */
void api_assets_readable_cancel(api_blob_check_t *k);

/* Checks the signed URL query (len bytes, borrowed) for content sha256 (borrowed) now:
 * ASSET_URL_OK, ASSET_URL_BAD (malformed or tampered) or ASSET_URL_EXPIRED (asset_url.h). */
int api_assets_url_check(api_t *a, const char *sha256, const char *query, size_t len);

/* api_assets.c: loads the signed URLs' key (DATA/asset_url_key, made at the first start;
 * when it cannot be read or made, a key of this run only: logged). Returns 0. */
int api_assets_init(api_t *a);

/* Routes of the calls module (api_rtc.c): GET /api/rtc/ice-servers. */
extern const api_route_t api_rtc_routes[];
extern const size_t api_rtc_nroutes;

/* Routes of the rooms module (api_rooms.c). */
extern const api_route_t api_rooms_routes[];
extern const size_t api_rooms_nroutes;

/* The HTTP status that answers a room operation's outcome kind (a rooms_errno_t, rooms.h;
 * 200 for ROOMS_OK): the one place where domain errors become statuses (api_rooms.c). */
int api_status_of(int kind);

/* api_uploads.c: starts the expiry sweep of DATA/uploads (the first upload makes the
 * folders). Returns 0. api_uploads_close stops it; what is in flight finishes. */
int api_uploads_init(api_t *a);
void api_uploads_close(api_t *a);

/* api_blob_gc.c: starts the collector of the blobs of DATA/blobs no asset names, untouched
 * for --blob-gc-grace. Returns 0. api_blob_gc_close stops it; a run in flight finishes. */
int api_blob_gc_init(api_t *a);
void api_blob_gc_close(api_t *a);

/* Prepares the accounts module (the dummy hash). Returns 0 or -1. */
int api_auth_init(api_t *a);

/* Reads the request's query parameter name (borrowed) as a non-negative integer into *out,
 * unchanged when absent. Returns 0, or -1 after answering 400 validation_error naming it. */
int api_query_int(api_req_t *r, const char *name, int64_t *out);

/* Reads an activity page's query (?before&limit: limit 1..200, default 50; before a
 * nextCursor) into rest.activity's arguments. Returns them (new), or NULL after answering
 * 400 validation_error naming the field. */
json_t *api_activity_args(api_req_t *r);
/* The arguments of rest.participants (home.h) from r's query: cursor, limit, query
 * (percent-decoded), online (true or false). A new object, or NULL after answering 400. */
json_t *api_participants_args(api_req_t *r);

/* Reads a snapshot's query (?at: a state version, an RFC 3339 time, or unix ms followed by
 * "ms"; ?after: an entity id, percent-encoded) into rest.snapshot_at's arguments
 * (home.h). Returns them (new), or NULL after answering 400 validation_error naming the
 * field. */
json_t *api_snapshot_args(api_req_t *r);

/* The bus_reply_fn of rest.snapshot_at (route->ud: the api_req_t): 200 with the answer,
 * or the error's status (api_status_of its kind) with a body that keeps the error's data
 * ({"success": false, "error": {"code", "message", "oldest"?, "field"?}}). Takes data. */
struct bus_route_s;
void api_snapshot_back(const struct bus_route_s *route, const char *code, const char *message,
                       json_t *data);

#endif
