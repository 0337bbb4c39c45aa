/* home_history.c: snapshot_at at the room's home (issue 25, time travel): the room as it
 * was at a state version or a time, read from the store's change log on the store thread
 * (STORE_STATE_AT: one request, its work bounded by pages) and rebuilt with history.c;
 * the member's side (proto_rooms.c; api_rooms.c for rest.snapshot_at) has checked the
 * caller is a participant, as for history. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/history.h"
#include "domain/home.h"
#include "util/mem.h"

/* One snapshot_at waiting for the store. */
typedef struct {
    store_req_t req;
    store_rooms_t pl;
    rooms_t *r;
    room_t *room; /* held while the request is in flight */
    bus_route_t *route;
    int rest; /* rest.snapshot_at: "success" in the answer, the kind in an error's data */
} snap_req_t;

/* An error's data: data (stolen; NULL: none) with, for REST, the error's kind
 * (HOME_KIND_KEY), from which the route picks the HTTP status. */
static json_t *err_data(int rest, rooms_errno_t kind, json_t *data)
{
    if (!rest) return data;
    if (!data) data = json_object();
    json_object_set_new(data, HOME_KIND_KEY, json_integer(kind));
    return data;
}

/* The moment as {"stateVersion", "time"}. */
static json_t *moment(int64_t version, int64_t time)
{
    return json_pack("{s:I, s:I}", "stateVersion", (json_int_t)version, "time",
                     (json_int_t)time);
}

/* The documents then: each rebuilt from its base and ops (history_doc_at), within
 * budget bytes of text; one past the budget, or with more ops to replay than one request
 * reads (version -1), has no text. */
static json_t *docs_json(const store_rooms_t *pl, int64_t t, size_t budget)
{
    json_t *arr = json_array();
    size_t o = 0;
    for (size_t i = 0; i < pl->ndocs; i++) {
        const store_doc_t *d = &pl->docs[i];
        size_t first = o;
        while (o < pl->ndops && strcmp(pl->dops[o].doc_id, d->doc_id) == 0)
            o++;
        json_t *j = json_pack("{s:s}", "id", d->doc_id);
        char *text = NULL;
        int64_t v = 0;
        if (d->version < 0) {
            json_object_set_new(j, "tooLarge", json_true());
        } else if (history_doc_at(d->snapshot, d->version, pl->dops + first, o - first, t,
                                  &text, &v) != 0) {
            json_object_set_new(j, "unavailable", json_true()); /* a stored op refused */
        } else if (strlen(text) > budget) {
            json_object_set_new(j, "version", json_integer(v));
            json_object_set_new(j, "tooLarge", json_true());
        } else {
            budget -= strlen(text);
            json_object_set_new(j, "version", json_integer(v));
            json_object_set_new(j, "text", json_string(text));
        }
        free(text);
        json_array_append_new(arr, j);
    }
    return arr;
}

static void on_state_at(store_req_t *req)
{
    snap_req_t *s = req->data;
    const store_hist_t *h = &s->pl.hist;
    if (req->err == STORE_ENOTFOUND) {
        bus_reply(s->route, "not_found", "room not found", NULL);
    } else if (req->err != STORE_OK) {
        bus_reply(s->route, "service_unavailable", "the room's history could not be read",
                  err_data(s->rest, ROOMS_E_UNAVAILABLE, NULL));
    } else if (h->unavailable) {
        json_t *oldest = json_pack("{s:o}", "oldest", moment(h->base_version, h->base_time));
        bus_reply(s->route, "history_unavailable",
                  "that moment is older than the room's history keeps",
                  err_data(s->rest, ROOMS_E_GONE, oldest));
    } else {
        history_room_t hr;
        history_init(&hr);
        history_change_t c = {HISTORY_STATE, h->version, h->time, s->pl.room.state, NULL};
        int bad = history_apply(&hr, &c);
        /* Entities within the join snapshot's budget, by id; the rest on the next page. */
        size_t budget = ROOMS_JOIN_ENTITIES(s->r), used = 0, n = 0;
        json_t *ents = json_array();
        for (; n < s->pl.nents && !bad; n++) {
            json_t *e = history_entity_json(&s->pl.ents[n]);
            if (!e) continue; /* a hand-edited row: left out */
            used += strlen(s->pl.ents[n].data ? s->pl.ents[n].data : "") + STORE_ROW_BYTES;
            if (used > budget && n > 0) {
                json_decref(e);
                break;
            }
            json_array_append_new(ents, e);
        }
        int64_t t = h->at_version < 0 ? h->at_time : h->time;
        if (t < h->base_time) t = h->base_time; /* as the store read them */
        json_t *res =
            json_pack("{s:o, s:o, s:O, s:o, s:o}", "at", moment(h->version, h->time), "oldest",
                      moment(h->base_version, h->base_time), "state", hr.state, "entities",
                      ents, "documents", docs_json(&s->pl, t, s->r->lim.max_reply / 2));
        if (n < s->pl.nents || h->more) {
            json_object_set_new(res, "more", json_true());
            /* None taken (a state history_apply refused): the next page starts where this
             * one did, so no entity is skipped ("" = from the first: after left out). */
            const char *next = n ? s->pl.ents[n - 1].id : h->after;
            if (next[0]) json_object_set_new(res, "after", json_string(next));
        }
        if (h->docs_more) json_object_set_new(res, "documentsMore", json_true());
        if (s->rest) json_object_set_new(res, "success", json_true());
        history_free(&hr);
        bus_reply(s->route, NULL, NULL, res);
    }
    store_rooms_free(&s->pl);
    rooms_release(s->room);
    free(s->route);
    free(s);
}

/* A validation error of field (REST: with its kind). */
static void invalid(const bus_op_t *op, int rest, const char *field, const char *message)
{
    bus_reply(&op->route, "validation_error", message,
              err_data(rest, ROOMS_E_INVALID, json_pack("{s:s}", "field", field)));
}

/* snapshot_at {room, at: {stateVersion} | {time}, after?}, and rest.snapshot_at with the
 * same arguments (GET /api/rooms/:id/snapshot and the server API's). */
static void snapshot_at(rooms_t *r, room_t *room, const bus_op_t *op, int rest)
{
    json_t *at = json_object_get(op->args, "at");
    json_t *sv = json_object_get(at, "stateVersion"), *tm = json_object_get(at, "time");
    json_t *after = json_object_get(op->args, "after");
    if (!json_is_object(at) || (!sv) == (!tm) ||
        (sv && (!json_is_integer(sv) || json_integer_value(sv) < 0)) ||
        (tm && (!json_is_integer(tm) || json_integer_value(tm) < 0))) {
        invalid(op, rest, "at", "at must be {\"stateVersion\": n} or {\"time\": unix ms}");
        return;
    }
    if (after && (!json_is_string(after) || json_string_length(after) >= STORE_ENTITY_ID_LEN)) {
        invalid(op, rest, "after", "after must be an entity id");
        return;
    }
    snap_req_t *s = ch_calloc(1, sizeof(*s));
    s->r = r;
    s->room = room;
    rooms_hold(room);
    s->route = home_route_keep(op);
    s->rest = rest;
    memcpy(s->pl.room.id, room->id, sizeof(s->pl.room.id));
    s->pl.hist.at_version = sv ? json_integer_value(sv) : -1;
    s->pl.hist.at_time = tm ? json_integer_value(tm) : 0;
    if (after)
        snprintf(s->pl.hist.after, sizeof(s->pl.hist.after), "%s", json_string_value(after));
    s->pl.limit = STORE_PAGE_MAX;
    s->req.type = STORE_STATE_AT;
    s->req.rooms = &s->pl;
    s->req.cb = on_state_at;
    s->req.data = s;
    store_submit(r->store, &s->req);
}

static void op_snapshot_at(void *ud, room_t *room, const bus_op_t *op)
{
    snapshot_at(ud, room, op, 0);
}

static void op_rest_snapshot_at(void *ud, room_t *room, const bus_op_t *op)
{
    snapshot_at(ud, room, op, 1);
}

static const home_op_t history_home_ops[] = {
    {"snapshot_at", op_snapshot_at},
    {"rest.snapshot_at", op_rest_snapshot_at},
};

void home_history_register(home_t *h)
{
    home_register(h, history_home_ops, CH_ARRAY_LEN(history_home_ops), h->rooms);
}
