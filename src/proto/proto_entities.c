/* proto_entities.c: where a frame becomes an entity operation: the entity ops over
 * WebSocket (entity_create, entity_update, entity_delete, entity_lock, entity_unlock,
 * sync). Each reads and validates its frame's fields, finds the room (proto_rooms_target)
 * and the entity, calls the entity domain (entities.h) and turns its answer or its error
 * into the reply. */
#include <stdio.h>
#include <stdlib.h>

#include "util/clock.h"
#include "domain/entities.h"
#include "util/mem.h"
#include "proto/proto.h"
#include "proto/proto_entities.h"
#include "proto/proto_rooms.h"
#include "domain/room_rules.h"
#include "domain/rooms.h"

/* A durable change waiting for its commit: the deferred reply and the domain's request,
 * one allocation. */
typedef struct {
    proto_deferred_t d;
    entities_req_t req;
} ws_change_t;

static rooms_t *rooms_of(proto_req_t *req)
{
    return req->p->app;
}

static void invalid(proto_req_t *req, const char *field, const char *message)
{
    proto_reply_error_field(req, "validation_error", field, message);
}

/* Replies with the domain's refusal: with the field, with the entity as it is now, or
 * plain. */
static void reply_err(proto_req_t *req, const entities_err_t *err)
{
    const rooms_err_t *e = &err->err;
    if (e->field) {
        proto_reply_error_field(req, e->code, e->field, e->message);
    } else if (err->entity) {
        proto_reply_error_obj(req, json_pack("{s:s, s:s, s:o}", "code", e->code, "message",
                                             e->message, "entity", entity_json(err->entity)));
    } else {
        proto_reply_error(req, e->code, "%s", e->message);
    }
}

/* The caller of an op as the domain sees it (borrowing req's client). */
static entities_caller_t caller_of(proto_req_t *req, const room_t *room)
{
    return (entities_caller_t){
        .member = req->c->rcv.id,
        .user = req->c->user.sub,
        .name = req->c->user.name,
        .is_host = room_may_manage(room->host_id, req->c->user.sub),
        .now_ms = req->now_ms,
        .unix_ms = clock_unix_ms(),
    };
}

/* The entity named by the request's "id", or NULL after replying. */
static entity_t *target(proto_req_t *req, room_t *room)
{
    json_t *id = json_object_get(req->msg, "id");
    if (!json_is_string(id) || !entity_id_valid(json_string_value(id))) {
        invalid(req, "id", "id must be 1-128 bytes of A-Z a-z 0-9 _ - . :");
        return NULL;
    }
    entity_t *e = entities_get(room, json_string_value(id));
    if (!e) proto_reply_error(req, "not_found", "no such entity");
    return e;
}

/* Reads the optional boolean field name into *out (-1 when absent). Returns 0, or -1 after
 * replying validation_error. */
static int opt_bool(proto_req_t *req, const char *name, int *out)
{
    json_t *v = json_object_get(req->msg, name);
    *out = -1;
    if (!v) return 0;
    if (!json_is_boolean(v)) {
        char msg[64];
        snprintf(msg, sizeof(msg), "%s must be true or false", name);
        invalid(req, name, msg);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

/* A durable change's completion: the answer after the commit. */
static void change_done(entities_req_t *er, const rooms_err_t *err, json_t *result)
{
    ws_change_t *w = er->data;
    if (err) proto_deferred_error(&w->d, err->code, "%s", err->message);
    else proto_deferred_ok(&w->d, result);
    free(w);
}

/* A new change context (the domain's request in it), or after a refusal frees it. */
static ws_change_t *change_new(void)
{
    ws_change_t *w = ch_calloc(1, sizeof(*w));
    w->req.data = w;
    return w;
}

/* Ends a durable op: defers the reply when the domain took the change (rc 0), else
 * replies with its refusal and frees w. */
static void change_started(proto_req_t *req, ws_change_t *w, int rc, const entities_err_t *err)
{
    if (rc == 0) {
        /* The store answers from the loop, never from inside the call. */
        proto_defer(req, &w->d);
        return;
    }
    free(w);
    reply_err(req, err);
}

/* Answers a synchronous op. */
static void answer(proto_req_t *req, int rc, const entities_err_t *err, json_t *result)
{
    if (rc == 0) proto_reply_ok(req, result);
    else reply_err(req, err);
}

static void op_create(proto_req_t *req)
{
    rooms_t *r = rooms_of(req);
    room_t *room = proto_rooms_target(req, 1);
    if (!room) return;
    json_t *jid = json_object_get(req->msg, "id");
    json_t *kind = json_object_get(req->msg, "kind");
    json_t *data = json_object_get(req->msg, "data");
    const char *id = NULL; /* a new UUID */
    if (jid && !json_is_null(jid)) {
        if (!json_is_string(jid) || !entity_id_valid(json_string_value(jid))) {
            invalid(req, "id", "id must be 1-128 bytes of A-Z a-z 0-9 _ - . :");
            return;
        }
        id = json_string_value(jid);
    }
    if (!json_is_string(kind) || !entity_kind_valid(json_string_value(kind))) {
        invalid(req, "kind", "kind must be 1-64 bytes of A-Z a-z 0-9 _ - . :");
        return;
    }
    int owner_only;
    if (opt_bool(req, "ownerOnly", &owner_only)) return;
    if (json_is_null(data)) data = NULL;
    entities_caller_t who = caller_of(req, room);
    entities_err_t err;
    ws_change_t *w = change_new();
    int rc = entities_create(r, room, &who, id, json_string_value(kind), data, owner_only,
                             &w->req, change_done, &err);
    change_started(req, w, rc, &err);
}

static void op_update(proto_req_t *req)
{
    rooms_t *r = rooms_of(req);
    room_t *room = proto_rooms_target(req, 1);
    if (!room) return;
    entity_t *e = target(req, room);
    if (!e) return;
    entities_caller_t who = caller_of(req, room);
    if (!entities_may_edit(e, &who)) {
        proto_reply_error(req, PROTO_FORBIDDEN,
                          "only its owner and the host may change this entity");
        return;
    }
    json_t *patch = json_object_get(req->msg, "patch");
    json_t *tr = json_object_get(req->msg, "transient");
    int owner_only;
    if (opt_bool(req, "ownerOnly", &owner_only)) return;
    int64_t base;
    if (proto_opt_uint(req, "baseVersion", -1, &base)) return;
    if (tr && !json_is_boolean(tr)) {
        invalid(req, "transient", "transient must be true or false");
        return;
    }
    int transient = json_is_true(tr);
    if (transient && (base >= 0 || owner_only >= 0)) {
        invalid(req, base >= 0 ? "baseVersion" : "ownerOnly",
                base >= 0 ? "baseVersion cannot be combined with transient"
                          : "ownerOnly cannot be combined with transient");
        return;
    }
    entities_err_t err;
    if (transient) {
        json_t *result;
        int rc = entities_update_transient(r, room, e, &who, patch, &err, &result);
        answer(req, rc, &err, result);
        return;
    }
    ws_change_t *w = change_new();
    int rc = entities_update(r, room, e, &who, patch, base, owner_only, &w->req, change_done,
                             &err);
    change_started(req, w, rc, &err);
}

static void op_delete(proto_req_t *req)
{
    room_t *room = proto_rooms_target(req, 1);
    if (!room) return;
    entity_t *e = target(req, room);
    if (!e) return;
    entities_caller_t who = caller_of(req, room);
    entities_err_t err;
    ws_change_t *w = change_new();
    int rc = entities_delete(rooms_of(req), room, e, &who, &w->req, change_done, &err);
    change_started(req, w, rc, &err);
}

static void op_lock(proto_req_t *req)
{
    room_t *room = proto_rooms_target(req, 1);
    if (!room) return;
    entity_t *e = target(req, room);
    if (!e) return;
    int64_t ttl;
    if (proto_opt_uint(req, "ttl", -1, &ttl)) return;
    entities_caller_t who = caller_of(req, room);
    entities_err_t err;
    json_t *result;
    int rc = entities_lock(rooms_of(req), room, e, &who, ttl, &err, &result);
    answer(req, rc, &err, result);
}

static void op_unlock(proto_req_t *req)
{
    room_t *room = proto_rooms_target(req, 1);
    if (!room) return;
    entity_t *e = target(req, room);
    if (!e) return;
    int force;
    if (opt_bool(req, "force", &force)) return;
    entities_caller_t who = caller_of(req, room);
    entities_err_t err;
    json_t *result;
    int rc = entities_unlock(rooms_of(req), room, e, &who, force, &err, &result);
    answer(req, rc, &err, result);
}

static void op_sync(proto_req_t *req)
{
    room_t *room = proto_rooms_target(req, 1);
    if (!room) return;
    int64_t since, cursor;
    if (proto_opt_uint(req, "version", -1, &since) ||
        proto_opt_uint(req, "cursor", -1, &cursor))
        return;
    if (since < 0) {
        invalid(req, "version", "version (the highest stateVersion seen) is required");
        return;
    }
    proto_reply_ok(req, entities_sync(rooms_of(req), room, since, cursor));
}

static const proto_op_t entity_ops[] = {
    {"entity_create", op_create, 0}, {"entity_update", op_update, 0},
    {"entity_delete", op_delete, 0}, {"entity_lock", op_lock, 0},
    {"entity_unlock", op_unlock, 0}, {"sync", op_sync, 0},
};

void proto_entities_register(proto_t *p)
{
    proto_register(p, entity_ops, CH_ARRAY_LEN(entity_ops));
}
