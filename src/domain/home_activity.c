/* home_activity.c: reading a room's activity stream at its home (home.h, issue 25): the
 * `activity` op of the members' connections and `rest.activity` of the REST routes and the
 * server API, a page of the stored log newest first, read from the store. The member's side
 * checked that the caller is a member (or the app's backend), as for history. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/activity_log.h"
#include "domain/home.h"
#include "util/mem.h"

/* Rows of one page at most (and the default: 50), as history's. */
#define ACTIVITY_PAGE_MAX 200
#define ACTIVITY_PAGE_DEFAULT 50

typedef struct {
    store_req_t req;
    store_acts_t pl;
    bus_route_t *route; /* home_route_keep's */
    int rest;           /* answer with "success" (the REST body) */
    uint32_t limit;
} act_read_t;

static void on_page(store_req_t *req)
{
    act_read_t *a = req->data;
    if (req->err != STORE_OK) {
        json_t *data = json_pack("{s:i}", HOME_KIND_KEY, (int)ROOMS_E_IO);
        bus_reply(a->route, "internal_error", "the activity log could not be read", data);
    } else {
        json_t *rows = json_array();
        for (size_t i = 0; i < a->pl.nrows; i++)
            json_array_append_new(rows, activity_row_json(&a->pl.rows[i]));
        json_t *next = json_null();
        if (a->pl.nrows == a->limit && a->pl.rows[a->pl.nrows - 1].seq > 1) {
            char cur[24];
            snprintf(cur, sizeof(cur), "%" PRId64, a->pl.rows[a->pl.nrows - 1].seq);
            next = json_string(cur);
        }
        json_t *out = json_pack("{s:o, s:o}", "activity", rows, "nextCursor", next);
        if (a->rest) json_object_set_new(out, "success", json_true());
        bus_reply(a->route, NULL, NULL, out);
    }
    store_acts_free(&a->pl);
    free(a->route);
    free(a);
}

/* The cursor: absent or null (from the newest), or a nextCursor an earlier page gave (the
 * decimal seq of its last row, as a string; a number is taken too). 0 when absent, -1
 * when malformed. */
static int64_t cursor_arg(const json_t *v)
{
    if (!v || json_is_null(v)) return 0;
    if (json_is_integer(v)) return json_integer_value(v) > 0 ? json_integer_value(v) : -1;
    const char *s = json_string_value(v);
    if (!s || !s[0] || strlen(s) > 18 || strspn(s, "0123456789") != strlen(s)) return -1;
    int64_t n = strtoll(s, NULL, 10);
    return n > 0 ? n : -1;
}

static void read_page(rooms_t *r, room_t *room, const bus_op_t *op, int rest)
{
    int64_t before = cursor_arg(json_object_get(op->args, "before"));
    if (before < 0) {
        home_reply_field(&op->route, "validation_error", "before",
                         "before must be a nextCursor from an earlier page");
        return;
    }
    int64_t limit;
    if (home_opt_uint(op, "limit", ACTIVITY_PAGE_DEFAULT, &limit)) return;
    if (limit < 1 || limit > ACTIVITY_PAGE_MAX) {
        home_reply_field(&op->route, "validation_error", "limit", "limit must be 1 to 200");
        return;
    }
    act_read_t *a = ch_calloc(1, sizeof(*a));
    a->route = home_route_keep(op);
    a->rest = rest;
    a->limit = (uint32_t)limit;
    memcpy(a->pl.room_id, room->id, sizeof(a->pl.room_id));
    a->pl.before = before;
    a->pl.limit = (uint32_t)limit;
    a->req.type = STORE_ACT_PAGE;
    a->req.acts = &a->pl;
    a->req.cb = on_page;
    a->req.data = a;
    store_submit(r->store, &a->req);
}

static void op_activity(void *ud, room_t *room, const bus_op_t *op)
{
    read_page(ud, room, op, 0);
}

static void op_rest_activity(void *ud, room_t *room, const bus_op_t *op)
{
    read_page(ud, room, op, 1);
}

static const home_op_t home_activity_ops[] = {
    {"activity", op_activity},
    {"rest.activity", op_rest_activity},
};

void home_activity_register(home_t *h)
{
    home_register(h, home_activity_ops, CH_ARRAY_LEN(home_activity_ops), h->rooms);
}
