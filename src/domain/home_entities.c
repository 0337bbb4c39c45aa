/* home_entities.c: the entity ops at their room's home (home.h): entity_create,
 * entity_update, entity_delete, entity_lock, entity_unlock and sync. Each reads the op's
 * JSON arguments, calls the entity domain (entities.h) as the op's member and user at
 * the loop's time, and answers through the op's route exactly once: now for a refusal, a
 * lock, an unlock, a transient change and sync, once the store committed for a durable
 * change. The arguments are checked here, in the order the answers have always had (the
 * entity's id, then the entity, then the op's other fields), since some come after the
 * entity lookup, which only the home can do. The member's side (proto_entities.c) has
 * checked that the connection joined the room. */
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "domain/entities.h"
#include "domain/home.h"
#include "domain/room_rules.h"
#include "util/clock.h"
#include "util/mem.h"

/* Answers the domain's refusal: with its field, with the entity as it is now (the
 * error's further member "entity"), or plain. */
static void reply_err(const bus_route_t *route, const entities_err_t *err)
{
    const rooms_err_t *e = &err->err;
    if (e->field)
        home_reply_field(route, e->code, e->field, e->message);
    else if (err->entity)
        bus_reply(route, e->code, e->message,
                  json_pack("{s:o}", "entity", entity_json(err->entity)));
    else
        bus_reply(route, e->code, e->message, NULL);
}

/* Answers a synchronous op: its result (stolen) or its refusal. */
static void answer(const bus_route_t *route, int rc, const entities_err_t *err, json_t *result)
{
    if (rc == 0)
        bus_reply(route, NULL, NULL, result);
    else
        reply_err(route, err);
}

/* The op's caller as the domain sees it, at the loop's time. The name shown by a lock is
 * the member's (entities_lock): a connection that joined the room is a member of it
 * (leaving and kicks unsubscribe it first), so the user id here is only a fallback. */
static entities_caller_t caller_of(rooms_t *r, const room_t *room, const bus_op_t *op)
{
    return (entities_caller_t){
        .member = op->route.member,
        .user = op->user,
        .name = op->user,
        .is_host = rooms_may_manage(room, op->user),
        .now_ms = uv_now(r->loop),
        .unix_ms = clock_unix_ms(),
    };
}

/* The entity named by the argument "id", or NULL after answering. */
static entity_t *target(room_t *room, const bus_op_t *op)
{
    json_t *id = json_object_get(op->args, "id");
    if (!json_is_string(id) || !entity_id_valid(json_string_value(id))) {
        home_reply_field(&op->route, "validation_error", "id",
                         "id must be 1-128 bytes of A-Z a-z 0-9 _ - . :");
        return NULL;
    }
    entity_t *e = entities_get(room, json_string_value(id));
    if (!e) bus_reply(&op->route, "not_found", "no such entity", NULL);
    return e;
}

/* Reads the optional boolean argument name into *out (-1 when absent). Returns 0, or -1
 * after answering validation_error. */
static int opt_bool(const bus_op_t *op, const char *name, int *out)
{
    json_t *v = json_object_get(op->args, name);
    *out = -1;
    if (!v) return 0;
    if (!json_is_boolean(v)) {
        char msg[64];
        snprintf(msg, sizeof(msg), "%s must be true or false", name);
        home_reply_field(&op->route, "validation_error", name, msg);
        return -1;
    }
    *out = json_is_true(v);
    return 0;
}

/* ---- durable changes: answered after the commit ---- */

/* A durable change waiting for its commit: where the answer goes and the domain's
 * request, one allocation. */
typedef struct {
    bus_route_t route;
    entities_req_t req;
} home_change_t;

static void change_done(entities_req_t *er, const rooms_err_t *err, json_t *result)
{
    home_change_t *w = er->data;
    if (err)
        bus_reply(&w->route, err->code, err->message, NULL);
    else
        bus_reply(&w->route, NULL, NULL, result);
    free(w);
}

/* A new change context keeping op's route (freed by change_done or change_started). */
static home_change_t *change_new(const bus_op_t *op)
{
    home_change_t *w = ch_calloc(1, sizeof(*w));
    w->route = op->route;
    w->req.data = w;
    return w;
}

/* Ends the start of a durable change: when the domain took it (rc 0) the answer comes
 * through change_done, from the loop; else answers its refusal now and frees w. */
static void change_started(const bus_op_t *op, home_change_t *w, int rc,
                           const entities_err_t *err)
{
    if (rc == 0) return;
    free(w);
    reply_err(&op->route, err);
}

static void op_create(void *ud, room_t *room, const bus_op_t *op)
{
    json_t *jid = json_object_get(op->args, "id");
    json_t *kind = json_object_get(op->args, "kind");
    json_t *data = json_object_get(op->args, "data");
    const char *id = NULL; /* a new UUID */
    if (jid && !json_is_null(jid)) {
        if (!json_is_string(jid) || !entity_id_valid(json_string_value(jid))) {
            home_reply_field(&op->route, "validation_error", "id",
                             "id must be 1-128 bytes of A-Z a-z 0-9 _ - . :");
            return;
        }
        id = json_string_value(jid);
    }
    if (!json_is_string(kind) || !entity_kind_valid(json_string_value(kind))) {
        home_reply_field(&op->route, "validation_error", "kind",
                         "kind must be 1-64 bytes of A-Z a-z 0-9 _ - . :");
        return;
    }
    int owner_only;
    if (opt_bool(op, "ownerOnly", &owner_only)) return;
    if (json_is_null(data)) data = NULL;
    entities_caller_t who = caller_of(ud, room, op);
    entities_err_t err;
    home_change_t *w = change_new(op);
    int rc = entities_create(ud, room, &who, id, json_string_value(kind), data, owner_only,
                             &w->req, change_done, &err);
    change_started(op, w, rc, &err);
}

/* The arguments entity_update reads: from the frame's scanned text (a hot op: a transient
 * move is sent many times a second, and no tree is built but the patch's), or from args
 * as Jansson encodes them (home_args). */
static const char *const update_keys[] = {"id", "patch", "transient", "ownerOnly",
                                          "baseVersion"};

/* Reads the optional boolean m (NULL: absent) named name into *out (-1 when absent), as
 * opt_bool does. Returns 0, or -1 after answering validation_error. */
static int scan_bool(const bus_op_t *op, const jscan_member_t *m, const char *name, int *out)
{
    *out = -1;
    if (!m) return 0;
    if (m->type != JSCAN_TRUE && m->type != JSCAN_FALSE) {
        char msg[64];
        snprintf(msg, sizeof(msg), "%s must be true or false", name);
        home_reply_field(&op->route, "validation_error", name, msg);
        return -1;
    }
    *out = m->type == JSCAN_TRUE;
    return 0;
}

/* The entity named by the scanned "id" (as target: a string whose text up to a U+0000 is
 * a valid id), or NULL after answering. */
static entity_t *target_scan(room_t *room, const bus_op_t *op, const jscan_member_t *m)
{
    char buf[STORE_ENTITY_ID_LEN + 1], *heap = NULL;
    const char *id = NULL;
    if (m && m->type == JSCAN_STRING) {
        id = buf;
        if (jscan_string(m, buf, sizeof(buf)) < 0) {
            id = heap = ch_malloc(m->val_len);
            CH_ASSERT(jscan_string(m, heap, m->val_len) >= 0);
        }
    }
    entity_t *e = NULL;
    if (!id || !entity_id_valid(id)) {
        home_reply_field(&op->route, "validation_error", "id",
                         "id must be 1-128 bytes of A-Z a-z 0-9 _ - . :");
    } else if (!(e = entities_get(room, id))) {
        bus_reply(&op->route, "not_found", "no such entity", NULL);
    }
    free(heap);
    return e;
}

static void op_update(void *ud, room_t *room, const bus_op_t *op)
{
    jscan_t tmp;
    char *args_text;
    json_t *patch = NULL;
    const jscan_t *a = home_args(op, &tmp, update_keys, CH_ARRAY_LEN(update_keys), &args_text);
    entity_t *e = target_scan(room, op, jscan_get(a, "id"));
    if (!e) goto out;
    entities_caller_t who = caller_of(ud, room, op);
    if (!entities_may_edit(e, &who)) {
        bus_reply(&op->route, "forbidden", "only its owner and the host may change this entity",
                  NULL);
        goto out;
    }
    const jscan_member_t *tr = jscan_get(a, "transient");
    int owner_only;
    if (scan_bool(op, jscan_get(a, "ownerOnly"), "ownerOnly", &owner_only)) goto out;
    int64_t base = -1;
    const jscan_member_t *jb = jscan_get(a, "baseVersion");
    if (jb && jb->type != JSCAN_NULL) {
        if (jb->type != JSCAN_INT || jscan_int(jb) < 0) {
            home_reply_field(&op->route, "validation_error", "baseVersion",
                             "baseVersion must be a non-negative integer");
            goto out;
        }
        base = jscan_int(jb);
    }
    if (tr && tr->type != JSCAN_TRUE && tr->type != JSCAN_FALSE) {
        home_reply_field(&op->route, "validation_error", "transient",
                         "transient must be true or false");
        goto out;
    }
    int transient = tr && tr->type == JSCAN_TRUE;
    if (transient && (base >= 0 || owner_only >= 0)) {
        home_reply_field(&op->route, "validation_error",
                         base >= 0 ? "baseVersion" : "ownerOnly",
                         base >= 0 ? "baseVersion cannot be combined with transient"
                                   : "ownerOnly cannot be combined with transient");
        goto out;
    }
    /* The patch is merged into a tree (entity_set.c): it alone is parsed, from the text
     * Jansson accepted (the frame's, or its own encoding). */
    const jscan_member_t *jp = jscan_get(a, "patch");
    if (jp) {
        patch = json_loadb(jp->val, jp->val_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        CH_ASSERT(patch != NULL);
    }
    entities_err_t err;
    if (transient) {
        json_t *result;
        int rc = entities_update_transient(ud, room, e, &who, patch, &err, &result);
        answer(&op->route, rc, &err, result);
        goto out;
    }
    home_change_t *w = change_new(op);
    int rc =
        entities_update(ud, room, e, &who, patch, base, owner_only, &w->req, change_done, &err);
    change_started(op, w, rc, &err);
out:
    json_decref(patch);
    free(args_text);
}

static void op_delete(void *ud, room_t *room, const bus_op_t *op)
{
    entity_t *e = target(room, op);
    if (!e) return;
    entities_caller_t who = caller_of(ud, room, op);
    entities_err_t err;
    home_change_t *w = change_new(op);
    int rc = entities_delete(ud, room, e, &who, &w->req, change_done, &err);
    change_started(op, w, rc, &err);
}

/* ---- locks and sync: answered now ---- */

static void op_lock(void *ud, room_t *room, const bus_op_t *op)
{
    entity_t *e = target(room, op);
    if (!e) return;
    int64_t ttl;
    if (home_opt_uint(op, "ttl", -1, &ttl)) return;
    entities_caller_t who = caller_of(ud, room, op);
    entities_err_t err;
    json_t *result;
    int rc = entities_lock(ud, room, e, &who, ttl, &err, &result);
    answer(&op->route, rc, &err, result);
}

static void op_unlock(void *ud, room_t *room, const bus_op_t *op)
{
    entity_t *e = target(room, op);
    if (!e) return;
    int force;
    if (opt_bool(op, "force", &force)) return;
    entities_caller_t who = caller_of(ud, room, op);
    entities_err_t err;
    json_t *result;
    int rc = entities_unlock(ud, room, e, &who, force, &err, &result);
    answer(&op->route, rc, &err, result);
}

/* sync: a page of at most the reply budget, handed to the route as it is built (the
 * member's side encodes it once, into the reply). */
static void op_sync(void *ud, room_t *room, const bus_op_t *op)
{
    int64_t since, cursor;
    if (home_opt_uint(op, "version", -1, &since) || home_opt_uint(op, "cursor", -1, &cursor))
        return;
    if (since < 0) {
        home_reply_field(&op->route, "validation_error", "version",
                         "version (the highest stateVersion seen) is required");
        return;
    }
    bus_reply(&op->route, NULL, NULL, entities_sync(ud, room, since, cursor));
}

static const home_op_t entity_home_ops[] = {
    {"entity_create", op_create}, {"entity_update", op_update}, {"entity_delete", op_delete},
    {"entity_lock", op_lock},     {"entity_unlock", op_unlock}, {"sync", op_sync},
};

void home_entities_register(home_t *h)
{
    home_register(h, entity_home_ops, CH_ARRAY_LEN(entity_home_ops), h->rooms);
}
