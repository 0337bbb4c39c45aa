/* proto.h: the JSON protocol envelope: decode a client frame, dispatch by op table,
 * encode replies and events. Knows nothing of sockets: a client is reached through the
 * transport callbacks it was given. */
#ifndef CHORUS_PROTO_H
#define CHORUS_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "auth/auth_jwt.h"
#include "auth/auth_tcache.h"
#include "bus/bus.h"
#include "util/buf.h"
#include "util/jpart.h"
#include "util/jscan.h"
#include "util/log.h"
#include "util/ratelimit.h"
#include "util/rl_map.h"
#include "util/slab.h"

typedef struct proto_client_s proto_client_t;

/* A wire format other than the Chorus envelope (Socket.IO: proto_sio.h), named by the
 * client's transport table: the bus frames events once per kind, with frame_event for the
 * clients of this dialect. */
typedef struct {
    unsigned kind; /* the bus framing kind, 1 .. BUS_FRAME_KINDS - 1, one per dialect */
    /* Returns a new frame (refcount 1) of the bus event ev (borrowed). */
    cbuf_t *(*frame_event)(const bus_event_t *ev);
} proto_dialect_t;

/* What the I/O layer provides for one client. */
typedef struct {
    /* Queues one framed message (a WebSocket text frame). Borrows frame: the transport
     * takes its own reference, so one frame can go to many clients. */
    void (*send)(proto_client_t *c, cbuf_t *frame);
    /* Starts closing the client with a WebSocket close code. */
    void (*close)(proto_client_t *c, int code, const char *reason);
    /* Returns the client's IP address, for rate limits and the audit log (may be NULL:
     * no address). The text may be in a buffer the transport reuses: valid until its next
     * peer call, so a caller copies what it keeps. */
    const char *(*peer)(proto_client_t *c);
    /* Frees a client that went away while operations were pending, once the last one
     * completed (see proto_defer). */
    void (*release)(proto_client_t *c);
    /* Optional: one of a live client's deferred operations completed (c->pending went
     * down). Must not handle input from inside (it runs in the operation's callback). */
    void (*settled)(proto_client_t *c);
    /* Optional: the client's dialect (NULL: the Chorus envelope). Events reach it framed by
     * dialect->frame_event; replies still reach send as Chorus envelope frames. */
    const proto_dialect_t *dialect;
    /* Optional: writes the id that names the client's session in logs (its opening
     * request's id) into buf (cap bytes) and returns buf. NULL: lines carry no id. */
    const char *(*log_id)(proto_client_t *c, char *buf, size_t cap);
} proto_transport_t;

/* The user a client authenticated as: what a connection keeps of its token's claims once
 * they were checked (the token's times are used then and not kept), its strings in one
 * allocation of their own length rather than auth_claims_t's 320 bytes. 48 bytes: the name
 * and the color are found in block by their offsets (proto_user_name, proto_user_color)
 * rather than by two more pointers in every connection. */
typedef struct {
    /* NUL-terminated, read only once the client is authenticated (NULL in a new, zeroed
     * client); points into block, or anywhere for a test's client made by hand. */
    const char *sub;
    char *block;    /* owned: "sub\0name\0color\0"; NULL when nothing is allocated */
    auth_jti_t jti; /* token id when has_jti (revocable alone) */
    int64_t ep;     /* the user's token epoch when minted, when has_ep */
    uint16_t name_at, color_at; /* where name and color start in block */
    uint8_t has_jti, has_ep;
} proto_user_t;

/* u's display name and color from its token, NUL-terminated ("" when the token has none,
 * and for a user with no block). Borrowed from u. */
static inline const char *proto_user_name(const proto_user_t *u)
{
    return u->block ? u->block + u->name_at : "";
}
static inline const char *proto_user_color(const proto_user_t *u)
{
    return u->block ? u->block + u->color_at : "";
}

/* Makes u the user of claims (borrowed), letting go of what u held: its strings in one
 * block from slab (borrowed: proto_t.user_slab, which must outlive the block). */
void proto_user_set(slab_t *slab, proto_user_t *u, const auth_claims_t *claims);

/* Writes u's claims (sub, name, color, jti, ep; no times) into *out, for revoke_check.
 * Borrows u. */
void proto_user_claims(const proto_user_t *u, auth_claims_t *out);

/* Frees what u owns; its sub is then "" (a u that owns nothing is left as it is). Safe to
 * call more than once. */
void proto_user_free(proto_user_t *u);

/* Per-client protocol state, embedded in the connection. */
struct proto_client_s {
    const proto_transport_t *tr;
    /* The connection as the bus sees it (bus.h): rcv.id, its identity, set by the server
     * when it starts the client, never reused; rcv.subs, the rooms joined
     * (rooms_members.c); rcv.doc_subs, the documents open (docs.c). The bus asks
     * proto_bus_rcv_ops for the rest: its user is user.sub (set once authenticated, never
     * changed after: auth refuses another user, so the text stays valid and the same while
     * it is subscribed) and a frame reaches it through tr->send. */
    bus_rcv_t rcv;
    rl_bucket_t bucket;
    uint32_t limited_in_row; /* consecutive rate-limited messages */
    /* Authentication (proto_auth.c). deadline_ms is the loop time of the next auth
     * event: the auth timeout before a token, the token's expiry after one, the end of the
     * grace period once token_expired was sent; 0 = none. */
    unsigned authed : 1;
    unsigned expired_told : 1;
    unsigned deadline_moved : 1; /* set when deadline_ms changed; the transport clears it */
    uint64_t deadline_ms;
    proto_user_t user;           /* valid when authed */
    uint32_t pending;            /* deferred replies outstanding (proto_defer) */
    unsigned gone : 1;           /* the transport closed; freed when pending reaches 0 */
    unsigned rpc_calls : 8;      /* rpc calls in flight (proto_rpc.c), in the same word */
};

typedef struct proto_s proto_t;

/* One decoded request being handled. */
typedef struct {
    proto_t *p;
    proto_client_t *c;
    json_t *msg;         /* the whole frame, an object; borrowed. NULL for an op flagged
                            PROTO_OP_SCAN whose frame was scanned: see scan */
    const jscan_t *scan; /* the frame's text scanned (jscan.h), when msg is NULL */
    const char *op;      /* borrowed from msg, or the frame's op decoded */
    int has_ref;
    json_int_t ref;
    int replied;
    uint64_t now_ms;
    int sought; /* run again after its room was read from the store (proto_deferred_rerun):
                   a room still unknown is not read a second time */
} proto_req_t;

/* An operation handler. It must answer through proto_reply_ok / proto_reply_error at most
 * once (the dispatcher answers "ok" with null data for it when it returns without
 * replying and the request had a ref). */
typedef void (*proto_op_fn)(proto_req_t *req);

/* Op flags. */
#define PROTO_OP_PUBLIC 1u /* allowed before authentication (auth, echo) */
/* A hot op that reads its frame as scanned text (req->scan), no tree built: echo,
 * message, broadcast, presence, doc_op, entity_update. When the scanner leaves a frame to
 * Jansson (an escaped key, an object of many keys), it gets req->msg as the other ops do. */
#define PROTO_OP_SCAN 2u

typedef struct {
    const char *name;
    proto_op_fn fn;
    unsigned flags;
} proto_op_t;

typedef struct {
    uint32_t rate;        /* messages per second */
    uint32_t burst;
    uint32_t flood_close; /* limited messages in a row before close 1008 */
} proto_limits_t;

/* How clients authenticate. */
typedef struct {
    auth_jwt_t *jwt;           /* borrowed */
    uint64_t timeout_ms;       /* to authenticate after connecting */
    uint64_t grace_ms;         /* after token_expired, before close */
    int64_t (*unix_ms)(void);  /* wall clock, for token times */
    /* Records a rejected token (may be NULL). */
    void (*audit_rejected)(void *ud, const char *ip, const char *why);
    void *ud;
    /* Revoked tokens (refused like invalid ones); NULL = none. Borrowed. */
    const struct revoke_s *revoke;
    /* Failed token checks per client address (IPv6 by /64); NULL = unlimited. Borrowed. */
    rl_map_t *rl;
    rl_rule_t rule;
} proto_auth_t;

struct proto_s {
    proto_limits_t limits;
    proto_auth_t auth;
    void *app;             /* the application state the ops work on (rooms) */
    struct proto_rpc_s
        *rpc; /* the app's backend: rpc op, join hook (proto_rpc.h); NULL: none */
    /* Called when a client disconnects (may be NULL). */
    void (*client_gone)(proto_t *p, proto_client_t *c);
    log_t *log;            /* borrowed */
    const proto_op_t **slots; /* open-addressing hash of op name -> op */
    size_t nslots, nops;
    /* GET /metrics: runs of the op in each slot (owned, nslots of them, parallel to slots:
     * a bounded set, the registered ops) and messages refused by the rate limit. */
    uint64_t *op_count;
    uint64_t limited;
    /* Owned (slab.h): the clients' user strings (proto_user_set), one block a client, out
     * of the malloc heap: 16 bytes for a short id and name instead of glibc's 32, and not
     * scattered between the blocks a burst frees. Outlives proto_free while a block is out. */
    slab_t *user_slab;
    /* Owned (buf.h cbuf_new_in): the frames of replies written per message (echo's, a
     * reply with no data), slots of a free list instead of a malloc and a free each.
     * Outlives proto_free while a frame is out (queued on a connection). */
    slab_t *frame_slab;
    /* Owned: the tokens verified lately (auth_tcache.h), so a client that connects again
     * with its token is not parsed and HMAC'd again; revocation is still checked each time
     * (proto_auth_verify). */
    auth_tcache_t *tcache;
};

/* Initialises p with the built-in ops (echo). log is borrowed. */
void proto_init(proto_t *p, const proto_limits_t *limits, log_t *log);
void proto_free(proto_t *p);

/* Adds n ops (borrowed: the table must outlive p). A name registered twice is a bug. */
void proto_register(proto_t *p, const proto_op_t *ops, size_t n);

/* Initialises a client's protocol state at time now_ms. tr is borrowed. */
void proto_client_init(proto_client_t *c, const proto_limits_t *limits,
                       const proto_transport_t *tr, uint64_t now_ms);

/* Frees what c's protocol state owns (its user's strings): the transport calls it before it
 * frees the memory c lives in (after proto_client_gone returned 1, or in tr->release). */
void proto_client_free(proto_client_t *c);

/* Starts c's authentication at now_ms: with claims (borrowed; from the handshake's
 * token) the client is authenticated at once, else it must send "auth" before the
 * timeout. Sets c->deadline_ms. */
void proto_auth_start(proto_t *p, proto_client_t *c, const auth_claims_t *claims,
                      uint64_t now_ms);

/* proto_auth_verify results besides 0. */
#define PROTO_AUTH_EINVALID (-1) /* refused (recorded through audit_rejected) */
#define PROTO_AUTH_ELIMITED (-2) /* too many failures from ip: not even checked */

/* Verifies token (borrowed) for a client at address ip (borrowed) at loop time now_ms.
 * Returns 0 with *out filled; PROTO_AUTH_EINVALID with *why a static reason; or
 * PROTO_AUTH_ELIMITED with *why and *retry_ms (ms until ip may try again) when ip spent
 * its failures (p->auth.rl): a failure takes a token, a success gives it back. */
int proto_auth_verify(proto_t *p, const char *ip, const char *token, size_t len,
                      uint64_t now_ms, auth_claims_t *out, const char **why,
                      uint64_t *retry_ms);

/* Runs c's auth deadline when it is due: close 1008 after the auth timeout, send
 * {"op":"token_expired"} when the token expires, close 1008 when the grace ends. */
void proto_auth_tick(proto_t *p, proto_client_t *c, uint64_t now_ms);

/* Logs one line at level caused by client c (borrowed), with its session's id when its
 * transport names one (proto_transport_t.log_id; log.h log_req). */
void proto_log(const proto_t *p, proto_client_t *c, log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Adds the auth op to p. */
void proto_auth_register(proto_t *p);

/* Handles one complete text message (valid UTF-8) from c. Borrows msg. */
void proto_handle_text(proto_t *p, proto_client_t *c, const char *msg, size_t len,
                       uint64_t now_ms);

/* Runs op name (borrowed) for c at now_ms with the fields of args (borrowed; an object,
 * read like a decoded message's members) and the reply's ref when has_ref: rate limit,
 * authentication check and dispatch, as for a decoded text message; a hot op
 * (PROTO_OP_SCAN) reads args as a tree then. The entry point of
 * other wire formats (Socket.IO events). */
void proto_run(proto_t *p, proto_client_t *c, const char *name, int has_ref, json_int_t ref,
               json_t *args, uint64_t now_ms);

/* Error codes of the envelope (stable: clients switch on them). */
#define PROTO_BAD_JSON "bad_json"
#define PROTO_BAD_REQUEST "bad_request"
#define PROTO_UNKNOWN_OP "unknown_op"
#define PROTO_RATE_LIMITED "rate_limited"
#define PROTO_UNAUTHORIZED "unauthorized"
#define PROTO_TOKEN_EXPIRED "token_expired"
#define PROTO_FORBIDDEN "forbidden"

typedef struct {
    json_t *root;     /* new reference; NULL on error */
    const char *op;   /* borrowed from root */
    int has_ref;
    json_int_t ref;
} proto_envelope_t;

/* Pure: decodes one frame's text. Returns 0 with env filled (caller json_decref's
 * env->root), or -1 with *code set to PROTO_BAD_JSON or PROTO_BAD_REQUEST and *message to
 * a static explanation; when the object had a valid integer ref, env->has_ref/ref are set
 * even on error so the error can go in a reply. */
int proto_decode(const char *buf, size_t len, proto_envelope_t *env, const char **code,
                 const char **message);

/* A reply that will be sent later, after asynchronous work. The client stays allocated
 * until it is answered, even when it disconnects meanwhile (the answer is then dropped). */
typedef struct {
    proto_t *p;
    proto_client_t *c;
    int has_ref;
    json_int_t ref;
} proto_deferred_t;

/* Takes over req's reply: req counts as answered, *d answers later with
 * proto_deferred_ok / proto_deferred_error exactly once. */
void proto_defer(proto_req_t *req, proto_deferred_t *d);
void proto_deferred_ok(proto_deferred_t *d, json_t *data);
/* Instead of answering d: runs its op again as op name with args (both borrowed for the
 * call; args the frame as a tree), at now_ms, as a request with sought set, whose answer
 * is d's (nothing when the client went away). */
void proto_deferred_rerun(proto_deferred_t *d, const char *name, json_t *args, uint64_t now_ms);

/* Returns a new WebSocket text frame (refcount 1) holding the object made of the members
 * of parts[0..nparts) in that order (no key may appear twice): byte for byte what
 * proto_frame_json gives for that object. Borrows parts and all they point to. */
cbuf_t *proto_frame_parts(const jpart_t *parts, size_t nparts);

/* Appends the object made of parts[0..nparts) (as in proto_frame_parts, without a frame
 * header) at the end of *bp, a buffer not shared yet (may reallocate it). Borrows parts
 * and all they point to. For framings other than the envelope's (Socket.IO). */
void proto_append_parts(cbuf_t **bp, const jpart_t *parts, size_t nparts);

/* proto_deferred_ok whose data is the object made of parts[0..nparts) as in
 * proto_frame_parts. Borrows parts and all they point to. */
void proto_deferred_ok_parts(proto_deferred_t *d, const jpart_t *parts, size_t nparts);
void proto_deferred_error(proto_deferred_t *d, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The same with error.field (validation errors). */
void proto_deferred_error_field(proto_deferred_t *d, const char *code, const char *field,
                                const char *message);

/* The same with the error object err (stolen): {"code", "message", ...more fields}. */
void proto_deferred_error_obj(proto_deferred_t *d, json_t *err);

/* Tells the protocol layer that c's transport closed. Returns 1 when c may be freed now,
 * 0 when deferred replies are outstanding (tr->release frees it later). */
int proto_client_gone(proto_t *p, proto_client_t *c);

/* Replies ok with data (stolen; NULL means null). Without a ref nothing is sent. */
void proto_reply_ok(proto_req_t *req, json_t *data);
/* Replies ok with data given as the len bytes of its JSON text, as Jansson writes it
 * (borrowed): copied into the reply's frame as it is. Without a ref nothing is sent. */
void proto_reply_ok_text(proto_req_t *req, const char *data, size_t len);

/* Replies with an error; without a ref it is sent as an {"op":"error"} event. */
void proto_reply_error(proto_req_t *req, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Reads the optional field name of req's message as a non-negative integer into *out
 * (def when absent or null). Returns 0, or -1 after replying validation_error naming the
 * field. */
int proto_opt_uint(proto_req_t *req, const char *name, int64_t def, int64_t *out);

/* Replies with the error object err (stolen): {"code", "message", ...more fields}. */
void proto_reply_error_obj(proto_req_t *req, json_t *err);

/* Replies with an error carrying error.field (validation errors). */
void proto_reply_error_field(proto_req_t *req, const char *code, const char *field,
                             const char *message);

/* Returns a new WebSocket text frame holding msg's JSON encoding (refcount 1). Borrows
 * msg. Encode once, send to many. */
cbuf_t *proto_frame_json(const json_t *msg);

/* Sends msg (stolen) to c as one frame. */
void proto_send_json(proto_client_t *c, json_t *msg);

/* Payload parts a bus event may have (bus_event_t.nparts). */
#define PROTO_EVENT_MAX_PARTS 6

/* Returns a new WebSocket text frame (refcount 1) of the bus event ev (borrowed):
 * {"op": name, "room": room, <the members of its parts>}, byte for byte what
 * proto_frame_json gives for that object. */
cbuf_t *proto_frame_event(const bus_event_t *ev);

/* The same frame's object between the texts before and after (borrowed, plain): a new
 * WebSocket text frame (refcount 1) of before + {"op": ...} + after. */
cbuf_t *proto_frame_event_in(const bus_event_t *ev, const char *before, const char *after);

/* The bus's receiver table for protocol clients (bus.h): frames with proto_frame_event,
 * delivers through the client's transport (tr->send), and names the client's user.sub.
 * Given to the bus when the application makes it (app.c). */
extern const bus_rcv_ops_t proto_bus_rcv_ops;

#endif
