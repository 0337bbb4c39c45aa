/* activity_log.c: the activity stream's room feature: rows held per room, written a batch
 * per room and tick, announced once committed (activity_log.h). */
#include "domain/activity_log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "util/clock.h"
#include "util/jscan.h"
#include "util/mem.h"
#include "util/utf8.h"

/* What the log holds for one room: its open bursts and the rows waiting for the store.
 * Writes need no gate of their own: the store runs them, and answers them, in the order
 * they were submitted, so rows are numbered and announced in the order they were made. */
typedef struct {
    char id[STORE_ID_LEN]; /* the key */
    activity_agg_t agg;
    store_act_t *rows; /* owned, with their data */
    size_t nrows, cap;
} act_room_t;

/* One write: a room's rows at the time. */
typedef struct {
    store_req_t req;
    store_acts_t pl;
    activity_log_t *al;
    char room_id[STORE_ID_LEN];
} act_write_t;

/* Rows one room holds at most waiting for the store; past it the oldest are dropped
 * (logged): a store that cannot keep up costs no unbounded memory. */
#define ACT_PENDING_MAX 4096

static act_room_t *room_state(activity_log_t *al, const room_t *room, int make)
{
    act_room_t *ar = strmap_get(&al->rooms, room->id);
    if (ar || !make) return ar;
    ar = ch_calloc(1, sizeof(*ar));
    memcpy(ar->id, room->id, sizeof(ar->id));
    strmap_put(&al->rooms, ar->id, ar);
    return ar;
}

static void push_row(activity_log_t *al, act_room_t *ar, const char *kind, const char *user_id,
                     const char *name, char *data, int64_t at)
{
    if (ar->nrows == ACT_PENDING_MAX) {
        log_warn(al->r->log,
                 "activity: room %s holds %d rows the store has not taken; the"
                 " oldest is dropped",
                 ar->id, ACT_PENDING_MAX);
        free(ar->rows[0].data);
        memmove(ar->rows, ar->rows + 1, (ar->nrows - 1) * sizeof(*ar->rows));
        ar->nrows--;
    }
    if (ar->nrows == ar->cap) {
        ar->cap = ar->cap ? ar->cap * 2 : 8;
        ar->rows = ch_realloc(ar->rows, ar->cap * sizeof(*ar->rows));
    }
    store_act_t *row = &ar->rows[ar->nrows++];
    memset(row, 0, sizeof(*row));
    memcpy(row->room_id, ar->id, sizeof(row->room_id));
    row->at = at;
    snprintf(row->user_id, sizeof(row->user_id), "%s", user_id);
    snprintf(row->display_name, sizeof(row->display_name), "%s", name);
    snprintf(row->kind, sizeof(row->kind), "%s", kind);
    row->data = data;
}

typedef struct {
    activity_log_t *al;
    act_room_t *ar;
} emit_ctx_t;

static void emit_burst(void *ud, const activity_burst_t *b)
{
    emit_ctx_t *e = ud;
    json_t *data = activity_burst_data(b);
    push_row(e->al, e->ar, b->kind, b->user_id, b->display_name, json_dumps(data, JSON_COMPACT),
             b->last_at);
    json_decref(data);
}

static const char *name_of(room_t *room, const char *user_id)
{
    const room_member_t *m = user_id[0] ? room_member(room, user_id) : NULL;
    return m && m->display_name ? m->display_name : "";
}

void activity_log_row(activity_log_t *al, room_t *room, const char *kind, const char *user_id,
                      const char *name, json_t *data)
{
    if (!al || !al->r) {
        json_decref(data);
        return;
    }
    act_room_t *ar = room_state(al, room, 1);
    int64_t now = clock_unix_ms();
    int leaving = strcmp(kind, ACTIVITY_LEFT) == 0 || strcmp(kind, ACTIVITY_KICKED) == 0 ||
                  strcmp(kind, ACTIVITY_BANNED) == 0;
    emit_ctx_t e = {al, ar};
    if (leaving) activity_agg_flush(&ar->agg, now, al->idle_ms, user_id, 0, emit_burst, &e);
    char *text = data ? json_dumps(data, JSON_COMPACT) : NULL;
    json_decref(data);
    push_row(al, ar, kind, user_id, name ? name : name_of(room, user_id), text, now);
}

void activity_log_note(activity_log_t *al, room_t *room, const char *kind, const char *user_id,
                       const char *target, uint64_t count, uint64_t plus, uint64_t minus)
{
    if (!al || !al->r) return;
    act_room_t *ar = room_state(al, room, 1);
    emit_ctx_t e = {al, ar};
    activity_agg_note(&ar->agg, kind, user_id, name_of(room, user_id), target, count, plus,
                      minus, clock_unix_ms(), al->span_ms, emit_burst, &e);
}

json_t *activity_row_json(const store_act_t *row)
{
    json_t *data = row->data ? json_loads(row->data, JSON_DECODE_ANY, NULL) : NULL;
    char id[24];
    snprintf(id, sizeof(id), "%" PRId64, row->seq);
    return json_pack("{s:s, s:I, s:I, s:s, s:s, s:s, s:o}", "id", id, "seq",
                     (json_int_t)row->seq, "at", (json_int_t)row->at, "userId", row->user_id,
                     "displayName", row->display_name, "kind", row->kind, "data",
                     data ? data : json_object());
}

/* Appends s (valid UTF-8, NUL-terminated) at *at as Jansson writes a string; room for it
 * was counted by text_room. */
static char *put_quoted(char *at, const char *s)
{
    int k = jscan_quote(at, utf8_json_len(s, strlen(s)) + 3, s, strlen(s));
    CH_ASSERT(k > 0);
    return at + k;
}

static char *put(char *at, const char *s, size_t n)
{
    memcpy(at, s, n);
    return at + n;
}

#define PUT_LIT(at, s) put((at), (s), sizeof(s) - 1)

char *activity_row_text(const store_act_t *row, size_t *len)
{
    if (row->data && strstr(row->data, "\\u0000")) {
        /* A NUL in a string (or the text "\u0000" escaped): activity_row_json reads the
         * data without JSON_ALLOW_NUL, so it is {} there; the tree decides, as before. */
        json_t *tree = activity_row_json(row);
        char *text = json_dumps(tree, JSON_COMPACT);
        json_decref(tree);
        CH_ASSERT(text != NULL);
        *len = strlen(text);
        return text;
    }
    const char *data = row->data ? row->data : "{}";
    size_t dlen = strlen(data);
    size_t cap = 128 + 3 * JSCAN_INT_MAX + dlen +
                 utf8_json_len(row->user_id, strlen(row->user_id)) +
                 utf8_json_len(row->display_name, strlen(row->display_name)) +
                 utf8_json_len(row->kind, strlen(row->kind));
    char *out = ch_malloc(cap), *at = out;
    at = PUT_LIT(at, "{\"id\":\"");
    at += jscan_write_int(at, row->seq);
    at = PUT_LIT(at, "\",\"seq\":");
    at += jscan_write_int(at, row->seq);
    at = PUT_LIT(at, ",\"at\":");
    at += jscan_write_int(at, row->at);
    at = PUT_LIT(at, ",\"userId\":");
    at = put_quoted(at, row->user_id);
    at = PUT_LIT(at, ",\"displayName\":");
    at = put_quoted(at, row->display_name);
    at = PUT_LIT(at, ",\"kind\":");
    at = put_quoted(at, row->kind);
    at = PUT_LIT(at, ",\"data\":");
    at = put(at, data, dlen);
    at = PUT_LIT(at, "}");
    CH_ASSERT((size_t)(at - out) < cap);
    *at = '\0';
    *len = (size_t)(at - out);
    return out;
}

/* ---------- writing ---------- */

static void room_state_free(activity_log_t *al, act_room_t *ar)
{
    strmap_del(&al->rooms, ar->id);
    activity_agg_free(&ar->agg);
    for (size_t i = 0; i < ar->nrows; i++)
        free(ar->rows[i].data);
    free(ar->rows);
    free(ar);
}

static void on_written(store_req_t *req)
{
    act_write_t *w = req->data;
    activity_log_t *al = w->al;
    if (req->err != STORE_OK && req->err != STORE_ECLOSED)
        log_error(al->r->log, "activity: %zu rows of room %s not stored: store error %d",
                  w->pl.nrows, w->room_id, req->err);
    room_t *room =
        req->err == STORE_OK && !al->closing ? strmap_get(&al->r->by_id, w->room_id) : NULL;
    for (size_t i = 0; room && !room->deleted && i < w->pl.nrows; i++) {
        if (w->pl.rows[i].seq <= 0) continue; /* the room was gone in the store */
        /* A large room's joins and leaves are in its stream, not sent to every member
         * (issue 26: one event per join to each of N members made filling it O(N^2)). */
        if (ROOMS_LARGE(al->r, room) && (strcmp(w->pl.rows[i].kind, ACTIVITY_JOINED) == 0 ||
                                         strcmp(w->pl.rows[i].kind, ACTIVITY_LEFT) == 0))
            continue;
        /* The row as text (its data is ours, Jansson's encoding): no tree to build and
         * encode for each join and leave. */
        size_t len;
        char *text = activity_row_text(&w->pl.rows[i], &len);
        jpart_t part = {.key = "activity", .text = text, .len = len};
        bus_publish(&room->bus, &(bus_event_t){.room = room->id,
                                               .name = "activity",
                                               .parts = &part,
                                               .nparts = 1,
                                               .except = BUS_MEMBER_NONE});
        free(text);
    }
    store_acts_free(&w->pl);
    free(w);
}

/* Hands ar's held rows to the store as one request. */
static void write_rows(activity_log_t *al, act_room_t *ar)
{
    if (ar->nrows == 0) return;
    act_write_t *w = ch_calloc(1, sizeof(*w));
    w->al = al;
    memcpy(w->room_id, ar->id, sizeof(w->room_id));
    w->pl.rows = ar->rows;
    w->pl.nrows = ar->nrows;
    ar->rows = NULL;
    ar->nrows = ar->cap = 0;
    w->req.type = STORE_ACT_PUT;
    w->req.acts = &w->pl;
    w->req.cb = on_written;
    w->req.data = w;
    store_submit(al->r->store, &w->req);
}

/* ---------- the feature's hooks ---------- */

void activity_log_init(activity_log_t *al, rooms_t *r, const chorus_config_t *cfg)
{
    memset(al, 0, sizeof(*al));
    uint64_t seed;
    randombytes_buf(&seed, sizeof(seed));
    strmap_init(&al->rooms, seed);
    al->r = r;
    al->idle_ms = (int64_t)cfg->activity_edit_idle;
    al->span_ms = 10 * al->idle_ms;
    r->act = al;
}

/* At shutdown every burst is written out and the rows handed to the store, which
 * finishes them before it closes. */
static void hook_close(void *ud, rooms_t *r)
{
    (void)ud;
    activity_log_t *al = r->act;
    if (!al) return;
    int64_t now = clock_unix_ms();
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&al->rooms, &i, &k, &v);) {
        act_room_t *ar = v;
        emit_ctx_t e = {al, ar};
        activity_agg_flush(&ar->agg, now, al->idle_ms, NULL, 1, emit_burst, &e);
        write_rows(al, ar);
    }
    al->closing = 1;
}

static void hook_tick(void *ud, rooms_t *r, room_t *room, uint64_t now_ms)
{
    (void)ud;
    (void)now_ms;
    activity_log_t *al = r->act;
    act_room_t *ar = al ? room_state(al, room, 0) : NULL;
    if (!ar) return;
    emit_ctx_t e = {al, ar};
    activity_agg_flush(&ar->agg, clock_unix_ms(), al->idle_ms, NULL, 0, emit_burst, &e);
    write_rows(al, ar);
    if (ar->agg.n == 0) room_state_free(al, ar); /* nothing held: no memory kept */
}

/* The room is deleted, and its log with it (the store's delete takes its rows): what is
 * held is dropped. */
static void hook_room_dropped(void *ud, rooms_t *r, room_t *room)
{
    (void)ud;
    activity_log_t *al = r->act;
    act_room_t *ar = al ? room_state(al, room, 0) : NULL;
    if (!ar) return;
    activity_agg_free(&ar->agg);
    for (size_t i = 0; i < ar->nrows; i++)
        free(ar->rows[i].data);
    ar->nrows = 0;
}

static void hook_room_freed(void *ud, rooms_t *r, room_t *room)
{
    (void)ud;
    activity_log_t *al = r->act;
    act_room_t *ar = al ? room_state(al, room, 0) : NULL;
    if (ar) room_state_free(al, ar);
}

void activity_log_free(activity_log_t *al)
{
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&al->rooms, &i, &k, &v);) {
        room_state_free(al, v);
        i = 0; /* the map changed under the walk */
    }
    strmap_free(&al->rooms);
    al->r = NULL;
}

const rooms_feature_t activity_feature = {
    .name = "activity",
    .close = hook_close,
    .room_dropped = hook_room_dropped,
    .room_freed = hook_room_freed,
    .tick = hook_tick,
};
