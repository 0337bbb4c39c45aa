/* rooms_op.c: the asynchronous operations of the rooms module (rooms_internal.h): an
 * operation holds its room and the store request, runs its stored step once the store
 * committed, answers its caller, and gives back the quota it charged if the write failed;
 * and the error answers every operation shares. */
#include "domain/rooms_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/webhooks.h"
#include "util/clock.h"
#include "util/mem.h"

/* ---------- asynchronous operations ---------- */

rooms_op_t *rooms_op_new(rooms_t *r, room_t *room, store_req_type_t type, rooms_done_fn done,
                         void *ud)
{
    rooms_op_t *op = ch_calloc(1, sizeof(*op));
    op->r = r;
    op->room = room;
    if (room) rooms_hold(room);
    op->req.type = type;
    op->req.rooms = &op->pl;
    op->req.data = op;
    op->done = done;
    op->ud = ud;
    return op;
}

/* Records that op's write was counted for user (borrowed; "" = the room only). */
void rooms_op_charged(rooms_op_t *op, const char *user, int64_t bytes)
{
    op->charged = bytes;
    snprintf(op->charged_user, sizeof(op->charged_user), "%s", user);
    if (op->r->quota_holder && user[0] && bytes > 0) {
        /* The store lowers this node's allowance with the write (store.h). */
        op->req.charge_user = op->charged_user;
        op->req.charge_bytes = bytes;
    }
}

/* The commit failed: what was not stored does not count. */
static void op_uncharge(rooms_op_t *op)
{
    if (!op->charged) return;
    rooms_quota_count(op->r, op->room, op->charged_user, -op->charged);
    rooms_quota_charge(op->r, op->charged_user, -op->charged); /* the allowance back */
    if (op->req.type == STORE_ROOM_CREATE) op->room->state_bytes = 0;
    op->charged = 0;
}

static void op_finish(rooms_op_t *op, const rooms_err_t *err)
{
    if (op->done) op->done(op->ud, err, err && err->kind ? NULL : json_incref(op->result));
    json_decref(op->result);
    json_decref(op->event);
    json_decref(op->hook);
    store_rooms_free(&op->pl);
    webhooks_release(op->r->hooks, &op->req);
    if (op->room) rooms_release(op->room);
    free(op);
}

/* The database failed (or is unreachable): nothing was stored, and trying again later may
 * succeed. */
static const rooms_err_t ERR_IO = {ROOMS_E_UNAVAILABLE, "service_unavailable",
                                   "the database is unavailable; try again", NULL};

/* The store counted the host's rooms, those made on every node, at the maximum. */
static const rooms_err_t ERR_HOSTED = {ROOMS_E_LIMIT, "room_limit",
                                       "you host the maximum number of live rooms", NULL};

static void op_stored(store_req_t *req)
{
    rooms_op_t *op = req->data;
    /* A row the store refused as not the room's next version is written again as a new
     * one (the store's version learned first), which takes over the caller and the steps
     * after the commit: op then ends answering nobody. */
    if (req->type == STORE_ROOM_UPDATE &&
        room_version_answer(&op->room->versions, &op->room->state_version, op->vepoch,
                            op->vbase, req->err,
                            op->pl.room.state_base) == ROOM_VERSION_AGAIN &&
        !op->room->deleted)
        rooms_state_again(op->r, op->room, op);
    /* In every outcome: the change is in memory, and later events wait behind it. */
    if (op->ev) rooms_outbox_ready(op->room, op->ev);
    /* A message sent again (its client id stored already): an answer, not a failure. */
    int dup = req->type == STORE_MESSAGE_INSERT && req->err == STORE_EEXISTS && op->pl.dup;
    if (req->err != STORE_OK) {
        if (req->err != STORE_ECLOSED && req->err != STORE_ELIMIT && !dup)
            log_error(op->r->log, "room store request %d failed: %d", (int)req->type, req->err);
        op_uncharge(op);
        if (op->failed) op->failed(op);
        if (dup) { /* the failed step answered it with the stored message */
            op_finish(op, NULL);
            return;
        }
        /* A room the store did not create is not a room: nobody was told its id yet. */
        if (op->req.type == STORE_ROOM_CREATE && !op->room->deleted)
            rooms_room_drop(op->r, op->room, "failed");
        op_finish(op, req->err == STORE_ELIMIT ? &ERR_HOSTED : &ERR_IO);
        return;
    }
    if (op->stored) op->stored(op);
    op_finish(op, NULL);
}

/* op's answer, then its write's change counter recorded once its events went out. */
static void on_stored(store_req_t *req)
{
    rooms_op_t *op = req->data;
    room_t *room = op->room;
    if (!room) {
        op_stored(req);
        return;
    }
    int err = req->err;
    int64_t changes = req->changes;
    rooms_hold(room);
    op_stored(req);
    rooms_changes_seen(room, err, changes);
    rooms_release(room);
}

void rooms_op_submit(rooms_op_t *op)
{
    op->req.cb = on_stored;
    rooms_t *r = op->r;
    char user[STORE_SUB_LEN] = "";
    if (op->req.charge_user) memcpy(user, op->charged_user, sizeof(user));
    store_submit(r->store, &op->req);
    /* The next chunk asked only now, behind this write in the store (rooms_quota.c). */
    if (user[0]) rooms_quota_submitted(r, user);
}

void rooms_fail(rooms_done_fn done, void *ud, rooms_errno_t kind, const char *code,
                const char *message)
{
    rooms_err_t e = {kind, code, message, NULL};
    if (done) done(ud, &e, NULL);
}

/* A validation_error naming the field. */
void rooms_invalid(rooms_done_fn done, void *ud, const char *field, const char *message)
{
    rooms_err_t e = {ROOMS_E_INVALID, "validation_error", message, field};
    if (done) done(ud, &e, NULL);
}

/* ---------- webhooks ---------- */

void rooms_hook(rooms_t *r, const room_t *room, store_req_t *req, webhook_event_t ev,
                json_t *data)
{
    if (!json_object_get(data, "seq"))
        json_object_set_new(data, "seq", json_integer(room->committed_seq));
    if (!json_object_get(data, "stateVersion"))
        json_object_set_new(data, "stateVersion", json_integer(room->state_version));
    webhooks_attach(r->hooks, req, ev, room->id, data, clock_unix_ms());
    json_decref(data);
}

json_t *rooms_hook_member(const room_member_t *m)
{
    return json_pack("{s:s, s:s, s:s}", "userId", m->user_id, "displayName", m->display_name,
                     "role", m->role == STORE_ROLE_HOST ? "host" : "member");
}
