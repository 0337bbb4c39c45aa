/* home_docs.c: the document ops at their room's home (home.h): doc_open, doc_op, doc_ops
 * and doc_presence. Each reads the op's JSON arguments, checks that its user is a
 * participant of the room, calls the documents domain (docs.h) with the member's identity
 * and user, and answers through the op's route exactly once: now (a refused argument, a
 * document in memory, presence) or once the store answered (a load, an op, the op log).
 * The member's side (proto_docs.c) has checked what the connection knows (it joined the
 * room; for doc_op, it has the document open) and subscribes the connection to a document
 * in doc_open's answer; doc_close ends that subscription there and does not come here. */
#include <stdlib.h>
#include <string.h>

#include "domain/docs.h"
#include "domain/activity_log.h"
#include "domain/home.h"
#include "util/clock.h"
#include "util/mem.h"

/* Answers the domain error err (borrowed) through route: its field, if any, in the
 * error's data (bus.h). */
static void reply_err(const bus_route_t *route, const rooms_err_t *err)
{
    bus_reply(route, err->code, err->message,
              err->field ? json_pack("{s:s}", "field", err->field) : NULL);
}

/* Keeps op's route in area, the caller's area of a domain call that answers later (sized
 * and aligned for a bus_route_t): the answer goes through it. */
static void keep_route(void *area, const bus_op_t *op)
{
    memcpy(area, &op->route, sizeof(op->route));
}

/* rooms_done_fn of a call whose area holds the route: answers with the result (stolen)
 * or the error. */
static void answered(void *ud, const rooms_err_t *err, json_t *result)
{
    const bus_route_t *route = ud;
    if (err && err->kind) {
        json_decref(result);
        reply_err(route, err);
    } else {
        bus_reply(route, NULL, NULL, result);
    }
}

/* The document the op names, once its user is known to be a participant of room: the
 * document id (borrowed from op's arguments), or NULL after answering forbidden (as the
 * member's side answers a connection that has not joined the room) or validation_error. */
static const char *doc_of(room_t *room, const bus_op_t *op)
{
    const room_member_t *m = room_member(room, op->user);
    if (!m || m->banned) {
        bus_reply(&op->route, "forbidden", "join the room first", NULL);
        return NULL;
    }
    const char *id = docs_id_of(json_object_get(op->args, "doc"));
    if (!id) home_reply_field(&op->route, "validation_error", "doc", DOCS_ID_MESSAGE);
    return id;
}

/* ---------- doc_open ---------- */

/* docs_open_fn: the document loaded (or not) for a doc_open that waited. The member's side
 * subscribes its connection in the answer, before the load's completion returns and the
 * document could be unloaded. */
static void opened(void *ud, const rooms_err_t *err, doc_t *d)
{
    const bus_route_t *route = ud;
    if (err) reply_err(route, err);
    else bus_reply(route, NULL, NULL, docs_snapshot_json(d));
}

/* Answers with the document's snapshot {"doc", "text", "version"}: its version is where
 * the member's subscription starts. */
static void op_doc_open(void *ud, room_t *room, const bus_op_t *op)
{
    const char *doc_id = doc_of(room, op);
    if (!doc_id) return;
    doc_t *ready;
    void *wait;
    rooms_err_t err;
    if (docs_open(ud, room, doc_id, opened, sizeof(bus_route_t), &ready, &wait, &err) != 0) {
        reply_err(&op->route, &err);
        return;
    }
    rooms_t *r = ud;
    if (op->remote) docs_find(room, doc_id)->held = 1; /* its readers are elsewhere */
    activity_log_note(r->act, room, ACTIVITY_DOC_OPENED, op->user, doc_id, 1, 0, 0);
    if (ready)
        bus_reply(&op->route, NULL, NULL, docs_snapshot_json(ready));
    else keep_route(wait, op);
}

/* ---------- doc_op ---------- */

/* The arguments doc_op reads: from the frame's scanned text (a hot op, no tree built), or
 * from args as Jansson encodes them (home_args). */
static const char *const doc_op_keys[] = {"doc", "version", "opId", "delta"};

/* Answered {"version"} once stored; the others get the doc_op event, which skips the
 * route's member. The arguments are checked in the order of the other doc ops (the
 * caller, the document, then the op's fields). */
static void op_doc_op(void *ud, room_t *room, const bus_op_t *op)
{
    rooms_t *r = ud;
    const room_member_t *m = room_member(room, op->user);
    if (!m || m->banned) {
        bus_reply(&op->route, "forbidden", "join the room first", NULL);
        return;
    }
    jscan_t tmp;
    char *args_text, *delta_owned = NULL;
    const jscan_t *a = home_args(op, &tmp, doc_op_keys, CH_ARRAY_LEN(doc_op_keys), &args_text);
    char doc_buf[STORE_DOC_ID_LEN], op_id[STORE_OP_ID_LEN];
    const char *doc_id = docs_id_scan(jscan_get(a, "doc"), doc_buf);
    if (!doc_id) {
        home_reply_field(&op->route, "validation_error", "doc", DOCS_ID_MESSAGE);
        goto out;
    }
    /* In memory while a connection has it open, as the member's side checked this one has. */
    doc_t *d = docs_find(room, doc_id);
    if (!d) {
        bus_reply(&op->route, "forbidden", "open the document first (doc_open)", NULL);
        goto out;
    }
    rooms_err_t uerr;
    if (docs_usable(d, &uerr) != 0) {
        reply_err(&op->route, &uerr);
        goto out;
    }
    const jscan_member_t *jv = jscan_get(a, "version");
    if (!jv || jv->type != JSCAN_INT || jscan_int(jv) < 0) {
        home_reply_field(&op->route, "validation_error", "version",
                         "version must be a non-negative integer");
        goto out;
    }
    /* A string of at most 64 bytes (jscan_string refuses a longer one) without U+0000. */
    const jscan_member_t *jid = jscan_get(a, "opId");
    int has_id = jid && jid->type == JSCAN_STRING;
    if (jid && jid->type != JSCAN_NULL) {
        int n = has_id ? jscan_string(jid, op_id, sizeof(op_id)) : -1;
        if (n < 0 || strlen(op_id) != (size_t)n) {
            home_reply_field(&op->route, "validation_error", "opId",
                             "opId must be a string of at most 64 bytes without U+0000");
            goto out;
        }
    }
    const jscan_member_t *delta = jscan_get(a, "delta");
    if (!delta) {
        home_reply_field(&op->route, "validation_error", "delta",
                         "delta (the operation) is required");
        goto out;
    }
    /* The op enters the domain here: its time is read once and passed in. Its delta is
     * the frame's bytes when they are what Jansson writes (jscan_text). */
    docs_op_t dop = {
        .base = jscan_int(jv),
        .op_id = has_id ? op_id : "",
        .user = op->user,
        .from = op->route.member,
        .now_ms = clock_unix_ms(),
    };
    dop.delta = jscan_text(delta, &dop.delta_len, &delta_owned);
    void *wait;
    docs_err_t err;
    if (docs_submit(r, d, &dop, answered, sizeof(bus_route_t), &wait, &err) != 0)
        reply_err(&op->route, &err.err);
    else
        keep_route(wait, op);
out:
    free(delta_owned);
    free(args_text);
}

/* ---------- doc_ops ---------- */

static void op_doc_ops(void *ud, room_t *room, const bus_op_t *op)
{
    const char *doc_id = doc_of(room, op);
    if (!doc_id) return;
    json_t *jf = json_object_get(op->args, "from");
    if (!json_is_integer(jf) || json_integer_value(jf) < 0) {
        home_reply_field(&op->route, "validation_error", "from",
                         "from must be a non-negative integer");
        return;
    }
    /* Store callbacks run later on the loop, never inside the call: the route is kept in
     * time. */
    keep_route(docs_ops_range(ud, room, doc_id, json_integer_value(jf), answered,
                              sizeof(bus_route_t)),
               op);
}

/* ---------- doc_presence ---------- */

static void op_doc_presence(void *ud, room_t *room, const bus_op_t *op)
{
    const char *doc_id = doc_of(room, op);
    if (!doc_id) return;
    json_t *p = json_object_get(op->args, "presence");
    if (!json_is_object(p) && !json_is_null(p)) {
        home_reply_field(&op->route, "validation_error", "presence",
                         "presence must be an object (cursor, selection) or null");
        return;
    }
    /* Shared like room presence (coalesced, idle), under docs.<id> of the user's state. */
    json_t *patch = json_pack("{s:{s:O}}", "docs", doc_id, p);
    int rc = rooms_presence(ud, room, op->user, patch);
    json_decref(patch);
    if (rc != 0) {
        bus_reply(&op->route, "payload_too_large", "presence state is too large", NULL);
        return;
    }
    bus_reply(&op->route, NULL, NULL, NULL);
}

static const home_op_t doc_home_ops[] = {
    {"doc_open", op_doc_open},
    {"doc_op", op_doc_op},
    {"doc_ops", op_doc_ops},
    {"doc_presence", op_doc_presence},
};

void home_docs_register(home_t *h)
{
    home_register(h, doc_home_ops, CH_ARRAY_LEN(doc_home_ops), h->rooms);
}
