/* proto_docs.c: the document ops over WebSocket, where a frame becomes a document
 * operation: doc_open, doc_close, doc_op, doc_ops, doc_presence. Each one reads and
 * validates the frame's fields, finds the room (proto_rooms_target), checks what belongs
 * to the connection (its open documents and their limit), calls the domain (docs.c) and
 * answers with the domain's error code or result. */
#include "proto/proto_docs.h"

#include <stdlib.h>

#include "util/clock.h"
#include "domain/docs.h"
#include "util/mem.h"
#include "proto/proto_rooms.h"
#include "domain/rooms.h"

static rooms_t *rooms_of(proto_req_t *req)
{
    return req->p->app;
}

static void invalid(proto_req_t *req, const char *field, const char *message)
{
    proto_reply_error_field(req, "validation_error", field, message);
}

/* Replies with the domain error err (borrowed). */
static void reply_err(proto_req_t *req, const rooms_err_t *err)
{
    if (err->field) proto_reply_error_field(req, err->code, err->field, err->message);
    else proto_reply_error(req, err->code, "%s", err->message);
}

/* Answers the deferred reply ud (the area the domain kept for it) from a domain result. */
static void answer(void *ud, const rooms_err_t *err, json_t *result)
{
    proto_deferred_t *d = ud;
    if (err && err->kind && err->field) {
        proto_deferred_error_field(d, err->code, err->field, err->message);
    } else if (err && err->kind) {
        proto_deferred_error(d, err->code, "%s", err->message);
    } else {
        proto_deferred_ok(d, result);
        result = NULL;
    }
    json_decref(result);
}

/* The joined room and the document id of req, or NULL after replying. */
static room_t *room_and_doc(proto_req_t *req, const char **doc_id)
{
    room_t *room = proto_rooms_target(req, 1);
    if (!room) return NULL;
    json_t *jd = json_object_get(req->msg, "doc");
    if (!json_is_string(jd) || json_string_length(jd) == 0 ||
        json_string_length(jd) >= STORE_DOC_ID_LEN) {
        invalid(req, "doc", "doc must be a string of 1 to 128 bytes");
        return NULL;
    }
    *doc_id = json_string_value(jd);
    return room;
}

/* ---------- doc_open ---------- */

/* The document loaded for a waiting doc_open: subscribe the connection unless it left the
 * room meanwhile, and answer with the snapshot. */
static void opened(void *ud, const rooms_err_t *err, doc_t *d)
{
    proto_deferred_t *pd = ud;
    proto_client_t *c = pd->c;
    if (err) {
        proto_deferred_error(pd, err->code, "%s", err->message);
    } else if (!c->gone && !bus_find(c->rcv.subs, d->room)) {
        /* It left (or was kicked from) the room while the document loaded. */
        proto_deferred_error(pd, PROTO_FORBIDDEN, "join the room first");
    } else {
        if (!c->gone) docs_subscribe(d, &c->rcv);
        proto_deferred_ok(pd, docs_snapshot_json(d));
    }
}

static void op_doc_open(proto_req_t *req)
{
    const char *doc_id;
    room_t *room = room_and_doc(req, &doc_id);
    if (!room) return;
    rooms_t *r = rooms_of(req);
    doc_t *d = docs_find(room, doc_id);
    if (!d || !bus_find(req->c->rcv.doc_subs, d)) {
        uint32_t open = bus_count(req->c->rcv.doc_subs);
        if (open >= r->docs.max_open) {
            proto_reply_error(req, "too_many_documents",
                              "this connection has %u documents open (the limit)", open);
            return;
        }
    }
    doc_t *ready;
    void *wait;
    rooms_err_t err;
    int rc = docs_open(r, room, doc_id, opened, sizeof(proto_deferred_t), &ready, &wait, &err);
    if (rc != 0) {
        reply_err(req, &err);
    } else if (ready) {
        docs_subscribe(ready, &req->c->rcv);
        proto_reply_ok(req, docs_snapshot_json(ready));
    } else {
        proto_defer(req, wait);
    }
}

/* ---------- doc_close ---------- */

static void op_doc_close(proto_req_t *req)
{
    const char *doc_id;
    room_t *room = room_and_doc(req, &doc_id);
    if (!room) return;
    doc_t *d = docs_find(room, doc_id);
    bus_sub_t *s = d ? bus_find(req->c->rcv.doc_subs, d) : NULL;
    if (!s) {
        proto_reply_error(req, "not_found", "this document is not open on this connection");
        return;
    }
    docs_unsubscribe(s);
    proto_reply_ok(req, NULL);
}

/* ---------- doc_op ---------- */

static void op_doc_op(proto_req_t *req)
{
    const char *doc_id;
    room_t *room = room_and_doc(req, &doc_id);
    if (!room) return;
    doc_t *d = docs_find(room, doc_id);
    if (!d || !bus_find(req->c->rcv.doc_subs, d)) {
        proto_reply_error(req, PROTO_FORBIDDEN, "open the document first (doc_open)");
        return;
    }
    rooms_err_t uerr;
    if (docs_usable(d, &uerr) != 0) {
        reply_err(req, &uerr);
        return;
    }
    json_t *jv = json_object_get(req->msg, "version");
    if (!json_is_integer(jv) || json_integer_value(jv) < 0) {
        invalid(req, "version", "version must be a non-negative integer");
        return;
    }
    json_t *jid = json_object_get(req->msg, "opId");
    if (jid && !json_is_null(jid) &&
        (!json_is_string(jid) || json_string_length(jid) >= STORE_OP_ID_LEN)) {
        invalid(req, "opId", "opId must be a string of at most 64 bytes");
        return;
    }
    json_t *delta = json_object_get(req->msg, "delta");
    if (!delta) {
        invalid(req, "delta", "delta (the operation) is required");
        return;
    }
    docs_op_t op = {
        .base = json_integer_value(jv),
        .delta = delta,
        .op_id = json_is_string(jid) ? json_string_value(jid) : "",
        .user = req->c->user.sub,
        .from = req->c->rcv.id,
        .now_ms = clock_unix_ms(),
    };
    void *wait;
    docs_err_t err;
    int rc = docs_submit(rooms_of(req), d, &op, answer, sizeof(proto_deferred_t), &wait, &err);
    if (rc != 0) {
        reply_err(req, &err.err);
        return;
    }
    proto_defer(req, wait);
}

/* ---------- doc_ops ---------- */

static void op_doc_ops(proto_req_t *req)
{
    const char *doc_id;
    room_t *room = room_and_doc(req, &doc_id);
    if (!room) return;
    json_t *jf = json_object_get(req->msg, "from");
    if (!json_is_integer(jf) || json_integer_value(jf) < 0) {
        invalid(req, "from", "from must be a non-negative integer");
        return;
    }
    /* Store callbacks run later on the loop, never inside the call: deferring after it
     * is in time. */
    proto_defer(req, docs_ops_range(rooms_of(req), room, doc_id, json_integer_value(jf), answer,
                                    sizeof(proto_deferred_t)));
}

/* ---------- doc_presence ---------- */

static void op_doc_presence(proto_req_t *req)
{
    const char *doc_id;
    room_t *room = room_and_doc(req, &doc_id);
    if (!room) return;
    json_t *p = json_object_get(req->msg, "presence");
    if (!json_is_object(p) && !json_is_null(p)) {
        invalid(req, "presence", "presence must be an object (cursor, selection) or null");
        return;
    }
    /* Shared like room presence (coalesced, idle), under docs.<id> of the user's state. */
    json_t *patch = json_pack("{s:{s:O}}", "docs", doc_id, p);
    int rc = rooms_presence(rooms_of(req), room, req->c->user.sub, patch);
    json_decref(patch);
    if (rc != 0) {
        proto_reply_error(req, "payload_too_large", "presence state is too large");
        return;
    }
    proto_reply_ok(req, NULL);
}

static const proto_op_t doc_ops[] = {
    {"doc_open", op_doc_open, 0},   {"doc_close", op_doc_close, 0},
    {"doc_op", op_doc_op, 0},       {"doc_ops", op_doc_ops, 0},
    {"doc_presence", op_doc_presence, 0},
};

void proto_docs_register(proto_t *p)
{
    proto_register(p, doc_ops, CH_ARRAY_LEN(doc_ops));
}
