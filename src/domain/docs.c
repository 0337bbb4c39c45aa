/* docs.c: collaborative documents, the domain (see docs.h): open and load from the store,
 * submit an op, read the op log, subscriptions and unloading. The step of an op (order,
 * transform, apply, log) is doc_ot.c, the OT itself ot_text.c; this file checks the op
 * against the limits and quotas, persists it and hands the event to the bus. The ops over
 * it arrive at the room's home (home_docs.c) from the WebSocket side (proto_docs.c). */
#include "domain/docs.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/doc_ot.h"
#include "domain/webhooks.h"
#include "domain/activity_log.h"
#include "util/mem.h"
#include "domain/rooms.h"
#include "util/utf8.h"

#define DOC_OPS_PAGE 1000

/* A docs_open waiting for the load, with the caller's area after it. */
struct doc_waiter_s {
    doc_waiter_t *next;
    docs_open_fn done;
    _Alignas(max_align_t) unsigned char ud[];
};

/* The database failed the document's load or one of its ops: open it again later. */
static const rooms_err_t ERR_LOAD = {ROOMS_E_UNAVAILABLE, "service_unavailable",
                                     "the document cannot be loaded now; try again", NULL};

/* ---------- documents in memory ---------- */

const char *docs_id_of(const json_t *jd)
{
    if (!json_is_string(jd) || json_string_length(jd) == 0 ||
        json_string_length(jd) >= STORE_DOC_ID_LEN ||
        memchr(json_string_value(jd), 0, json_string_length(jd)))
        return NULL;
    return json_string_value(jd);
}

const char *docs_id_scan(const jscan_member_t *m, char *buf)
{
    /* jscan_string refuses a decoded length of STORE_DOC_ID_LEN or more; an embedded
     * U+0000 shows as a shorter C string. */
    if (!m || m->type != JSCAN_STRING) return NULL;
    int n = jscan_string(m, buf, STORE_DOC_ID_LEN);
    if (n <= 0 || strlen(buf) != (size_t)n) return NULL;
    return buf;
}

doc_t *docs_find(room_t *room, const char *id)
{
    for (doc_t *d = room->docs; d; d = d->next)
        if (strcmp(d->id, id) == 0) return d;
    return NULL;
}

bus_sub_t *docs_sub_find(bus_sub_t *doc_subs, const room_t *room, const char *doc_id)
{
    for (bus_sub_t *s = doc_subs; s; s = s->client_next) {
        const doc_t *d = s->room;
        if (d->room == room && strcmp(d->id, doc_id) == 0) return s;
    }
    return NULL;
}

static doc_t *doc_new(rooms_t *r, room_t *room, const char *id)
{
    doc_t *d = ch_calloc(1, sizeof(*d));
    d->room = room;
    snprintf(d->id, sizeof(d->id), "%s", id);
    bus_topic_named(&d->subs, r->bus, room->id, d->id);
    doc_ot_init(d, r->docs.log_window, r->docs.log_max_bytes);
    d->next = room->docs;
    room->docs = d;
    return d;
}

static void doc_free(doc_t *d)
{
    doc_ot_free(d);
    free(d);
}

/* Drops d from its room when nobody has it open and nothing is in flight; the next
 * docs_open loads it again from the store. */
static void doc_maybe_unload(doc_t *d)
{
    if (d->subs.count || d->inflight || d->waiters || d->hook_saved.held || d->held) return;
    for (doc_t **pp = &d->room->docs; *pp; pp = &(*pp)->next) {
        if (*pp == d) {
            *pp = d->next;
            break;
        }
    }
    doc_free(d);
}

doc_t *docs_standin(rooms_t *r, room_t *room, const char *id)
{
    doc_t *d = docs_find(room, id);
    return d ? d : doc_new(r, room, id);
}

void docs_subscribe(doc_t *d, bus_rcv_t *c, int64_t since)
{
    if (bus_find(c->doc_subs, d)) return;
    bus_vsub_t *s = ch_calloc(1, sizeof(*s)); /* doc ops are published with a version */
    s->sub.rcv = c;
    s->sub.room = d;
    s->since = since;
    bus_subscribe(&d->subs, &s->sub, &c->doc_subs);
}

void docs_unsubscribe(bus_sub_t *s)
{
    doc_t *d = s->room;
    bus_unsubscribe(&d->subs, s);
    free(s);
    doc_maybe_unload(d);
}

json_t *docs_snapshot_json(const doc_t *d)
{
    return json_pack("{s:s, s:s#, s:I}", "doc", d->id, "text", d->text.s ? d->text.s : "",
                     d->text.len, "version", (json_int_t)d->version);
}

/* ---------- open: load from the store ---------- */

typedef struct {
    rooms_t *r;
    room_t *room;
    doc_t *doc;
    store_req_t req;
    store_docs_t pl;
} doc_load_t;

static void on_window_loaded(store_req_t *req);
static void load_done(doc_load_t *l);

static void on_loaded(store_req_t *req)
{
    doc_load_t *l = req->data;
    doc_t *d = l->doc;
    rooms_t *r = l->r;
    if (req->err == STORE_OK) {
        const char *snap = l->pl.doc.snapshot ? l->pl.doc.snapshot : "";
        size_t n = strlen(snap);
        ot_buf_set(&d->text, snap, n);
        d->version = d->committed = d->snapshot_version = l->pl.doc.version;
        d->snapshot_bytes = (int64_t)n;
        ot_op_t op;
        ot_op_init(&op);
        for (size_t i = 0; i < l->pl.nops && !d->failed; i++) {
            store_doc_op_t *o = &l->pl.ops[i];
            json_t *j = json_loads(o->delta, JSON_ALLOW_NUL, NULL);
            const char *why = NULL;
            if (!j || ot_op_from_json(&op, j, SIZE_MAX, &why) != 0 ||
                o->version != d->version + 1 ||
                doc_ot_apply(d, &op, SIZE_MAX, o->author, o->op_id, NULL) != DOC_OT_OK) {
                log_error(r->log, "document %s/%s: stored op %lld does not apply", d->room->id,
                          d->id, (long long)o->version);
                d->failed = 1;
            }
            json_decref(j);
        }
        ot_op_free(&op);
        d->committed = d->version;
    } else {
        d->failed = 1;
    }
    if (!d->failed && d->snapshot_version > 0 && d->log_len < d->log_cap &&
        d->log_bytes < d->log_max_bytes && (int64_t)d->log_len < d->version) {
        /* The ops before the snapshot are history the window must cover too (a client
         * based on them, or resubmitting one, must still be served): fetch them. */
        store_docs_free(&l->pl);
        int64_t from = d->version - (int64_t)d->log_cap;
        l->pl.from = from > 0 ? from : 0;
        l->pl.limit = (uint32_t)(d->version - l->pl.from);
        l->req.type = STORE_DOC_OPS_RANGE;
        l->req.cb = on_window_loaded;
        store_submit(r->store, &l->req);
        return;
    }
    load_done(l);
}

/* The ops of the window arrived: they replace the log (same ops, more of them). */
static void on_window_loaded(store_req_t *req)
{
    doc_load_t *l = req->data;
    doc_t *d = l->doc;
    if (req->err == STORE_OK && l->pl.nops > 0 &&
        l->pl.ops[l->pl.nops - 1].version == d->version) {
        ot_op_t op;
        ot_op_init(&op);
        doc_ot_log_clear(d);
        for (size_t i = 0; i < l->pl.nops; i++) {
            store_doc_op_t *o = &l->pl.ops[i];
            json_t *j = json_loads(o->delta, JSON_ALLOW_NUL, NULL);
            const char *why = NULL;
            if (!j || ot_op_from_json(&op, j, SIZE_MAX, &why) != 0) {
                json_decref(j);
                doc_ot_log_clear(d); /* an unreadable op: keep no window at all */
                break;
            }
            json_decref(j);
            doc_ot_log_push(d, o->version, &op, o->author, o->op_id);
        }
        ot_op_free(&op);
    }
    load_done(l);
}

/* The document is ready (or failed): answer everyone who waited for it. */
static void load_done(doc_load_t *l)
{
    doc_t *d = l->doc;
    d->inflight--;
    d->loaded = 1;
    doc_waiter_t *w = d->waiters;
    d->waiters = NULL;
    while (w) {
        doc_waiter_t *next = w->next;
        if (d->failed || l->room->deleted) w->done(w->ud, &ERR_LOAD, NULL);
        else w->done(w->ud, NULL, d);
        free(w);
        w = next;
    }
    store_docs_free(&l->pl);
    room_t *room = l->room;
    free(l);
    doc_maybe_unload(d); /* a failed load has no subscribers: the next open tries again */
    rooms_release(room);
}

int docs_open(rooms_t *r, room_t *room, const char *doc_id, docs_open_fn done, size_t ud_size,
              doc_t **ready, void **wait, rooms_err_t *err)
{
    *ready = NULL;
    *wait = NULL;
    doc_t *d = docs_find(room, doc_id);
    int reload = 0;
    if (d && d->loaded) {
        if (!d->failed) {
            *ready = d;
            return 0;
        }
        if (d->inflight || d->waiters) {
            *err = ERR_LOAD;
            return ERR_LOAD.kind;
        }
        /* The store failed one of its ops (or its load while it had readers): once nothing
         * is in flight it is read again from what was committed, and its readers stay. */
        doc_ot_free(d);
        doc_ot_init(d, r->docs.log_window, r->docs.log_max_bytes);
        d->loaded = d->failed = 0;
        reload = 1;
    }
    /* A document never loaded here (docs_standin's, of a room homed elsewhere until now)
     * is loaded as a new one is. */
    if (!d || reload || (!d->loaded && !d->inflight)) {
        if (!d) d = doc_new(r, room, doc_id);
        doc_load_t *l = ch_calloc(1, sizeof(*l));
        l->r = r;
        l->room = room;
        l->doc = d;
        rooms_hold(room);
        d->inflight++;
        snprintf(l->pl.doc.room_id, sizeof(l->pl.doc.room_id), "%s", room->id);
        snprintf(l->pl.doc.doc_id, sizeof(l->pl.doc.doc_id), "%s", d->id);
        l->req.type = STORE_DOC_LOAD;
        l->req.docs = &l->pl;
        l->req.cb = on_loaded;
        l->req.data = l;
        store_submit(r->store, &l->req);
    }
    doc_waiter_t *w = ch_calloc(1, sizeof(*w) + ud_size);
    w->done = done;
    w->next = d->waiters;
    d->waiters = w;
    *wait = w->ud;
    return 0;
}

/* ---------- submit an op ---------- */

/* An op on its way to the store, with the caller's area after it. */
typedef struct {
    rooms_t *r;
    room_t *room;
    doc_t *doc;
    store_req_t req;
    store_docs_t pl;
    int64_t version;
    int duplicate;          /* acknowledging an op applied before */
    bus_member_t from;      /* the sender's connection */
    rooms_done_fn done;
    _Alignas(max_align_t) unsigned char ud[];
} doc_opreq_t;

/* Sends the doc_op event of o (stored) to d's subscribers but its sender: its fields as
 * Jansson writes them, the delta the text that was stored (encoded once). Subscribers that
 * opened after this version already have it. */
static void publish_op(doc_t *d, const doc_opreq_t *o)
{
    const store_doc_op_t *so = &o->pl.op;
    /* Quoted as Jansson quotes them: at most 6 bytes a byte, and the quotes. */
    char doc[6 * STORE_DOC_ID_LEN + 3], version[24], author[6 * STORE_SUB_LEN + 3],
        op_id[6 * STORE_OP_ID_LEN + 3];
    CH_ASSERT(jscan_quote(doc, sizeof(doc), d->id, strlen(d->id)) >= 0 &&
              jscan_quote(author, sizeof(author), so->author, strlen(so->author)) >= 0 &&
              jscan_quote(op_id, sizeof(op_id), so->op_id, strlen(so->op_id)) >= 0);
    snprintf(version, sizeof(version), "%lld", (long long)o->version);
    jpart_t parts[5] = {{.key = "doc", .text = doc},
                        {.key = "version", .text = version},
                        {.key = "delta", .text = so->delta},
                        {.key = "author", .text = author},
                        {.key = "opId", .text = op_id}};
    bus_publish(&d->subs, &(bus_event_t){.room = d->room->id,
                                         .doc = d->id,
                                         .name = "doc_op",
                                         .parts = parts,
                                         .nparts = 5,
                                         .version = o->version,
                                         .except = o->from});
}

static void op_stored(store_req_t *req)
{
    doc_opreq_t *o = req->data;
    doc_t *d = o->doc;
    d->inflight--;
    if (o->duplicate) {
        o->done(o->ud, NULL, json_pack("{s:I, s:b}", "version", (json_int_t)o->version,
                                       "duplicate", 1));
    } else if (req->err != STORE_OK) {
        /* The op is in memory but not in the store: this copy is no longer trustworthy.
         * Everyone must reopen; the document reloads from what was committed. */
        log_error(o->r->log, "document %s/%s: op %lld not stored (%d)", d->room->id, d->id,
                  (long long)o->version, req->err);
        d->failed = 1;
        rooms_err_t e = {ROOMS_E_UNAVAILABLE, "service_unavailable",
                         "the database is unavailable; the op was not stored", NULL};
        o->done(o->ud, &e, NULL);
    } else {
        if (o->version > d->committed) d->committed = o->version;
        o->done(o->ud, NULL, json_pack("{s:I}", "version", (json_int_t)o->version));
        publish_op(d, o);
    }
    store_docs_free(&o->pl);
    webhooks_release(o->r->hooks, req);
    room_t *room = o->room;
    int err = req->err; /* req is o's: read before o goes */
    int64_t changes = req->changes;
    free(o);
    doc_maybe_unload(d);
    rooms_changes_seen(room, err, changes);
    rooms_release(room);
}

static doc_opreq_t *opreq_new(rooms_t *r, doc_t *d, const docs_op_t *op, rooms_done_fn done,
                              size_t ud_size, void **wait)
{
    doc_opreq_t *o = ch_calloc(1, sizeof(*o) + ud_size);
    o->r = r;
    o->room = d->room;
    o->doc = d;
    o->from = op->from;
    o->done = done;
    rooms_hold(d->room);
    d->inflight++;
    o->req.docs = &o->pl;
    o->req.data = o;
    o->req.cb = op_stored;
    snprintf(o->pl.doc.room_id, sizeof(o->pl.doc.room_id), "%s", d->room->id);
    snprintf(o->pl.doc.doc_id, sizeof(o->pl.doc.doc_id), "%s", d->id);
    *wait = o->ud;
    return o;
}

int docs_usable(const doc_t *d, rooms_err_t *err)
{
    if (!d->failed) return 0;
    *err = (rooms_err_t){ROOMS_E_UNAVAILABLE, "service_unavailable",
                         "the document is unavailable; open it again", NULL};
    return ROOMS_E_UNAVAILABLE;
}

/* Fills e with a validation_error of field version; returns ROOMS_E_INVALID. */
static int err_ahead(docs_err_t *e)
{
    e->err = (rooms_err_t){ROOMS_E_INVALID, "validation_error",
                           "version is ahead of the document", "version"};
    return ROOMS_E_INVALID;
}

/* Fills e with kind, code and message (static); returns kind. */
static int err_set(docs_err_t *e, rooms_errno_t kind, const char *code, const char *message)
{
    e->err = (rooms_err_t){kind, code, message, NULL};
    return kind;
}

/* Fills e with kind, code and a formatted message; returns kind. */
static int err_fmt(docs_err_t *e, rooms_errno_t kind, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int err_fmt(docs_err_t *e, rooms_errno_t kind, const char *code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
    va_end(ap);
    e->err = (rooms_err_t){kind, code, e->msg, NULL};
    return kind;
}

int docs_submit(rooms_t *r, doc_t *d, const docs_op_t *op, rooms_done_fn done, size_t ud_size,
                void **wait, docs_err_t *err)
{
    *wait = NULL;
    if (docs_usable(d, &err->err) != 0) return ROOMS_E_UNAVAILABLE;
    room_t *room = d->room;
    size_t text_len = op->delta_len;
    if (text_len > r->docs.max_op)
        return err_fmt(err, ROOMS_E_TOO_LARGE, "payload_too_large",
                       "the op is larger than %zu bytes", r->docs.max_op);
    if (op->base > d->version) return err_ahead(err);
    /* Checked at the submitted op's size (transforming changes it little); the stored
     * size is what is counted. */
    int qrc = rooms_quota_check(r, room, op->user, STORE_ROW_BYTES + (int64_t)text_len);
    if (qrc != QUOTA_OK)
        return err_set(err, ROOMS_E_QUOTA, "quota_exceeded", rooms_quota_message(qrc));
    /* The OT parser reads a tree: the op alone is parsed (the frame was scanned), from
     * Jansson's own encoding of a value it accepted. */
    json_t *delta =
        json_loadb(op->delta, op->delta_len, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    CH_ASSERT(delta != NULL);
    doc_ot_op_t in = {.base = op->base, .delta = delta, .author = op->user, .op_id = op->op_id};
    doc_ot_result_t res;
    int rc = doc_ot_submit(d, &in, &r->docs, &res);
    json_decref(delta);
    if (rc != DOC_OT_OK) {
        if (rc == DOC_OT_EAHEAD) return err_ahead(err);
        if (rc == DOC_OT_ETOO_OLD)
            return err_set(err, ROOMS_E_CONFLICT, "version_too_old",
                           "the document moved on too far; reload it with doc_open");
        if (rc == DOC_OT_ETOO_LARGE)
            return err_fmt(err, ROOMS_E_TOO_LARGE, "document_too_large",
                           "the document would pass %zu bytes", r->docs.max_size);
        return err_set(err, ROOMS_E_INVALID, "invalid_op", res.why);
    }
    if (res.duplicate) {
        /* Answer once everything before it is durable: a store round trip behind the
         * insert of that op. */
        doc_opreq_t *o = opreq_new(r, d, op, done, ud_size, wait);
        o->duplicate = 1;
        o->version = res.version;
        o->req.type = STORE_DOC_OPS_RANGE;
        o->pl.from = d->version;
        o->pl.limit = 0;
        store_submit(r->store, &o->req);
        return 0;
    }
    room->last_activity = op->now_ms;
    rate_window_add(&room->rate_ops, op->now_ms, 1);
    if (r->act) { /* one row per user, document and burst of edits (activity.h) */
        uint64_t plus, minus;
        activity_op_counts(&d->log[(d->log_head + d->log_alloc - 1) % d->log_alloc].op, &plus,
                           &minus);
        activity_log_note(r->act, room, ACTIVITY_DOC_EDITED, op->user, d->id, 1, plus, minus);
    }
    doc_opreq_t *o = opreq_new(r, d, op, done, ud_size, wait);
    o->version = d->version;
    o->req.type = STORE_DOC_OP_INSERT;
    store_doc_op_t *so = &o->pl.op;
    snprintf(so->room_id, sizeof(so->room_id), "%s", room->id);
    snprintf(so->doc_id, sizeof(so->doc_id), "%s", d->id);
    so->version = d->version;
    /* One encoding of the op: stored, and the doc_op event's delta (op_stored). */
    so->delta = res.delta;
    snprintf(so->author, sizeof(so->author), "%s", op->user);
    snprintf(so->op_id, sizeof(so->op_id), "%s", op->op_id);
    so->created_at = room->last_activity;
    rooms_quota_count(r, room, so->author, STORE_ROW_BYTES + (int64_t)res.delta_len);
    if (res.snapshot) {
        o->pl.doc.snapshot = ch_strndup(d->text.s ? d->text.s : "", d->text.len);
        /* A snapshot replaces the last one and counts for the room only. */
        rooms_quota_count(r, room, "", (int64_t)d->text.len - d->snapshot_bytes);
        d->snapshot_bytes = (int64_t)d->text.len;
    }
    /* document.saved commits with the op, or is held to the interval's end (hook_tick). */
    if (webhooks_wants(r->hooks, WEBHOOK_DOCUMENT_SAVED) &&
        webhook_debounce_save(&d->hook_saved, uv_now(r->loop), r->hooks->doc_debounce_ms))
        rooms_hook(r, room, &o->req, WEBHOOK_DOCUMENT_SAVED,
                   json_pack("{s:s, s:I}", "doc", d->id, "version", (json_int_t)d->version));
    store_submit(r->store, &o->req);
    return 0;
}

/* ---------- the op log ---------- */

typedef struct {
    room_t *room;
    size_t budget; /* bytes of ops in the reply */
    store_req_t req;
    store_docs_t pl;
    rooms_done_fn done;
    _Alignas(max_align_t) unsigned char ud[];
} doc_range_t;

static void on_range(store_req_t *req)
{
    doc_range_t *g = req->data;
    if (req->err != STORE_OK) {
        g->done(g->ud,
                &(rooms_err_t){ROOMS_E_UNAVAILABLE, "service_unavailable",
                               "cannot read the op log now; try again", NULL},
                NULL);
    } else if (g->pl.nops > 0 && g->pl.ops[0].version != g->pl.from + 1) {
        /* Retention deleted the ops right after from (--doc-log-retention). */
        char msg[96];
        snprintf(msg, sizeof(msg),
                 "the op log starts at version %lld now; reload with doc_open",
                 (long long)g->pl.ops[0].version);
        g->done(g->ud, &(rooms_err_t){ROOMS_E_CONFLICT, "version_too_old", msg, NULL}, NULL);
    } else {
        /* Byte-bounded: the oldest ops that fit in the reply budget (at least one). */
        size_t n = g->pl.nops;
        size_t *lens = ch_malloc((n ? n : 1) * sizeof(*lens));
        for (size_t i = 0; i < n; i++)
            lens[i] = 96 + strlen(g->pl.ops[i].delta) + strlen(g->pl.ops[i].author) +
                      utf8_json_len(g->pl.ops[i].op_id, strlen(g->pl.ops[i].op_id));
        size_t k = rooms_fit(lens, n, g->budget, 0);
        free(lens);
        json_t *a = json_array();
        for (size_t i = 0; i < k; i++) {
            store_doc_op_t *o = &g->pl.ops[i];
            json_t *delta = json_loads(o->delta, JSON_ALLOW_NUL, NULL);
            json_array_append_new(a, json_pack("{s:I, s:o, s:s, s:s}", "version",
                                               (json_int_t)o->version, "delta",
                                               delta ? delta : json_array(), "author",
                                               o->author, "opId", o->op_id));
        }
        json_t *data = json_pack("{s:o}", "ops", a);
        if (k < n) json_object_set_new(data, "more", json_true());
        g->done(g->ud, NULL, data);
    }
    store_docs_free(&g->pl);
    room_t *room = g->room;
    free(g);
    rooms_release(room);
}

void *docs_ops_range(rooms_t *r, room_t *room, const char *doc_id, int64_t from,
                     rooms_done_fn done, size_t ud_size)
{
    doc_range_t *g = ch_calloc(1, sizeof(*g) + ud_size);
    g->room = room;
    g->budget = r->lim.max_reply;
    g->done = done;
    rooms_hold(room);
    snprintf(g->pl.doc.room_id, sizeof(g->pl.doc.room_id), "%s", room->id);
    snprintf(g->pl.doc.doc_id, sizeof(g->pl.doc.doc_id), "%s", doc_id);
    g->pl.from = from;
    g->pl.limit = DOC_OPS_PAGE;
    g->req.type = STORE_DOC_OPS_RANGE;
    g->req.docs = &g->pl;
    g->req.cb = on_range;
    g->req.data = g;
    store_submit(r->store, &g->req);
    return g->ud;
}

/* ---------- lifecycle ---------- */

void docs_client_gone(rooms_t *r, bus_rcv_t *c)
{
    (void)r;
    while (c->doc_subs) docs_unsubscribe(c->doc_subs);
}

void docs_client_left_room(bus_rcv_t *c, room_t *room)
{
    for (bus_sub_t *s = c->doc_subs, *next; s; s = next) {
        next = s->client_next;
        if (((doc_t *)s->room)->room == room) docs_unsubscribe(s);
    }
}

void docs_room_dropped(room_t *room)
{
    for (doc_t *d = room->docs, *next; d; d = next) {
        next = d->next;
        while (d->subs.head) {
            bus_sub_t *s = d->subs.head;
            bus_unsubscribe(&d->subs, s);
            free(s);
        }
        doc_maybe_unload(d);
    }
}

void docs_room_free(room_t *room)
{
    for (doc_t *d = room->docs, *next; d; d = next) {
        next = d->next;
        CH_ASSERT(d->subs.count == 0 && d->inflight == 0);
        doc_free(d);
    }
    room->docs = NULL;
}

/* ---------- the hooks in rooms ---------- */

static void hook_start(void *ud, rooms_t *r, const chorus_config_t *cfg)
{
    (void)ud;
    r->docs = (docs_limits_t){
        /* A snapshot is one doc_open reply: it must fit in the reply budget. */
        .max_size =
            (size_t)(cfg->doc_max_size < config_reply_budget(cfg) ? cfg->doc_max_size
                                                                  : config_reply_budget(cfg)),
        .max_op = (size_t)cfg->doc_max_op,
        .max_components = (size_t)cfg->doc_max_components,
        .log_window = (size_t)cfg->doc_log_window,
        .log_max_bytes = (size_t)cfg->doc_log_max_bytes,
        .snapshot_every = (uint32_t)cfg->doc_snapshot_every,
        .max_open = (uint32_t)cfg->ws_max_docs,
    };
}

static void hook_client_left(void *ud, rooms_t *r, room_t *room, bus_rcv_t *c)
{
    (void)ud;
    (void)r;
    docs_client_left_room(c, room);
}

static void hook_room_dropped(void *ud, rooms_t *r, room_t *room)
{
    (void)ud;
    (void)r;
    docs_room_dropped(room);
}

static void hook_room_freed(void *ud, rooms_t *r, room_t *room)
{
    (void)ud;
    (void)r;
    docs_room_free(room);
}

/* A held document.saved whose interval ended goes, at the newest committed version (its
 * ops in flight come first: it waits for them). Not a stored change: a write of its own,
 * which nothing waits for. */
static void hook_tick(void *ud, rooms_t *r, room_t *room, uint64_t now_ms)
{
    (void)ud;
    for (doc_t *d = room->docs, *next; d; d = next) {
        next = d->next;
        if (d->failed) d->hook_saved.held = 0; /* reloaded from what was committed */
        if (!d->hook_saved.held || d->committed < d->version ||
            !webhook_debounce_due(&d->hook_saved, now_ms, r->hooks->doc_debounce_ms))
            continue;
        webhooks_put_t *p = webhooks_put_new(r->hooks);
        if (webhooks_wants(r->hooks, WEBHOOK_DOCUMENT_SAVED))
            rooms_hook(
                r, room, &p->req, WEBHOOK_DOCUMENT_SAVED,
                json_pack("{s:s, s:I}", "doc", d->id, "version", (json_int_t)d->committed));
        webhooks_put_submit(p, r->store, NULL, NULL);
        doc_maybe_unload(d);
    }
}

static void hook_client_gone(void *ud, rooms_t *r, bus_rcv_t *c)
{
    (void)ud;
    docs_client_gone(r, c);
}

const rooms_feature_t docs_feature = {
    .name = "documents",
    .start = hook_start,
    .client_left = hook_client_left,
    .client_gone = hook_client_gone,
    .room_dropped = hook_room_dropped,
    .room_freed = hook_room_freed,
    .tick = hook_tick,
};
