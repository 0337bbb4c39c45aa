/* rpc_wire.h: what Chorus and an app's backend say to each other for the rpc op and the
 * join hook (docs/api.md, "Backends"), pure: the request's body (signed as webhooks are,
 * webhook_sign), the outcome of an HTTP call as a reply (data, a passed-on error, or a
 * Chorus error code), the side effects' shape checked, and the join hook's verdict. No I/O:
 * proto_rpc.c does the calls through http_call.h. */
#ifndef CHORUS_RPC_WIRE_H
#define CHORUS_RPC_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/http_call.h"

#define RPC_METHOD_MAX 64    /* bytes of a method name */
#define RPC_CODE_MAX 64      /* bytes of an error code a backend passes on */
#define RPC_MESSAGE_MAX 256  /* bytes of a backend's error message passed on (cut) */
#define RPC_EFFECTS_MAX 16   /* messages, and broadcasts, in one answer's effects */
#define RPC_AUTHOR_MAX 64    /* bytes of an effect message's author label */

/* The errors the rpc op and the join hook answer besides the backend's own codes. */
#define RPC_NOT_CONFIGURED "not_configured"
#define RPC_TIMEOUT "backend_timeout"
#define RPC_UNAVAILABLE "backend_unavailable"
#define RPC_BAD_REPLY "backend_error"
#define RPC_TOO_MANY "too_many_calls"
#define RPC_EFFECTS_REFUSED "effects_refused"

/* 1 when the len bytes at m are a method name: 1 to RPC_METHOD_MAX of [A-Za-z0-9_.:-]. */
int rpc_method_valid(const char *m, size_t len);

/* 1 when t (NUL-terminated) is a type an effect's message may have: a lowercase letter
 * then up to 31 of [a-z0-9_-] (ai_response, system, story_update, x-dice...). */
int rpc_message_type_valid(const char *t);

/* What a call says about its caller and what it asks. Everything borrowed. */
typedef struct {
    const char *type;      /* "rpc" or "join" */
    const char *method;    /* rpc: the method; NULL for join */
    const char *room_id;   /* NULL: a call about no room */
    const char *room_code; /* with room_id */
    const char *user_id;   /* the token's sub */
    const char *user_name; /* the member's display name (or the token's name) */
    const char *role;      /* "host", "member", or NULL: none (a call about no room) */
    const json_t *data;    /* rpc: the caller's data (NULL: null); join: NULL */
    const char *display_name; /* join: the displayName the join asks for (NULL: none) */
    int64_t time_ms;       /* unix ms, passed in */
} rpc_request_t;

/* Returns the request body (new, NUL-terminated, *len bytes): {"type", "method"?,
 * "room": {"id", "code"} or null, "user": {"id", "name", "role"?}, "data"? (rpc),
 * "displayName"? (join), "time"}. */
char *rpc_request_body(const rpc_request_t *in, size_t *len);

/* The outcome of a call as the op's reply. */
typedef struct {
    const char *code;            /* NULL: success; else a code (static or code_buf) */
    char code_buf[RPC_CODE_MAX + 1];
    char message[RPC_MESSAGE_MAX + 1];
    char field[64];              /* effects_refused: the effect at fault ("" = none) */
    json_t *data;                /* success: the backend's data (owned; json null if none) */
    json_t *effects;             /* success: the effects, shape checked (owned; NULL: none) */
    json_t *answer;              /* success: the whole answer object (owned), for the hook */
} rpc_reply_t;

/* Reads res (borrowed) into *out (zeroed first; free with rpc_reply_free): a transport
 * error as backend_timeout / backend_unavailable / backend_error / service_unavailable
 * (the server closing); a body {"error": {"code", "message"?}} as that error whatever the
 * status (a code not of [a-z0-9_], 1 to 64 bytes, becomes backend_error; the message cut
 * to RPC_MESSAGE_MAX bytes on a character boundary); a 2xx body {"data"?, "effects"?}
 * as success, with the effects' shape checked (rpc_effects_check: else effects_refused
 * naming the field); anything else as backend_error. Returns 0 for success, else -1. */
int rpc_reply_read(const http_call_res_t *res, rpc_reply_t *out);
void rpc_reply_free(rpc_reply_t *r);

/* Checks the shape of effects (borrowed): an object with only "messages" (an array of up
 * to RPC_EFFECTS_MAX objects {"type": rpc_message_type_valid, "content": a string,
 * "metadata"?: an object, "author"?: a non-empty string of up to RPC_AUTHOR_MAX bytes}),
 * "state" (an object: a merge patch) and "broadcasts" (up to RPC_EFFECTS_MAX objects
 * {"event": a string of 1 to 64 bytes, "data"?}). Sizes against the room's limits are
 * checked where they are applied. Returns 0, or -1 with the field at fault in field
 * (cap bytes) and a static message in *message. */
int rpc_effects_check(const json_t *effects, char *field, size_t cap, const char **message);

/* The join hook's verdict from a successful answer (answer borrowed: rpc_reply_t.answer):
 * {"allow": true, "displayName"?: a name as accounts have them (user_name_valid: 1 to 32
 * characters, no control or bidirectional formatting characters), "role"?: "host" or
 * "member"} or {"allow": false, "code"?, "message"?}. Returns 1 (allowed; *name and *role
 * borrowed from answer, or NULL: keep the caller's), 0 (refused: *code and the message in
 * msg, cap bytes; code "forbidden" unless the backend gave one of [a-z0-9_]) or -1 (not a
 * verdict: what is wrong with it in msg). */
int rpc_join_verdict(const json_t *answer, const char **name, const char **role,
                     const char **code, char *msg, size_t cap);

#endif
