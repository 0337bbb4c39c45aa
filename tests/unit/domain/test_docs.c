/* test_docs.c: the document domain (docs.h) with no sockets and no protocol: an SQLite
 * store in a temporary directory, the local bus, and fake connections whose transport
 * records the frames they are sent, subscribed as readers. Open, an op at head, two
 * members' concurrent ops (the second transformed; the readers get both events in version
 * order, the sender none of its own), a duplicate opId, a base too old or ahead, a reload
 * from the store (snapshot and window) after the document was unloaded, the op log. */
#include "test.h"

#include <sqlite3.h>
#include "fake_client.h"
#include "rooms_fixture.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "util/config.h"
#include "domain/docs.h"
#include "domain/entities.h"
#include "util/mem.h"
#include "domain/rooms.h"
#include "store/store.h"
#include "store/store_sqlite.h"

/* ---- fixtures ---- */

/* The options this test runs with. */
static void tune(chorus_config_t *cfg)
{
    /* A small window and frequent snapshots, so that "too old" and a reload from a
     * snapshot plus the window happen within a few ops. */
    cfg->doc_log_window = 3;
    cfg->doc_snapshot_every = 2;
}

static int fx_open(fx_t *f)
{
    return rooms_fx_open(f, "docs", LOG_WARN, tune);
}

/* Unsubscribes reader c from its documents and drops what it recorded. */
static void reader_free(fake_client_t *c)
{
    while (c->pc.rcv.doc_subs) docs_unsubscribe(c->pc.rcv.doc_subs);
    fake_client_free(c);
}

/* 1 when c's frame i is the doc_op event of version v by author with delta (JSON text). */
static int event_is(const fake_client_t *c, int i, const char *room, int64_t v,
                    const char *author, const char *delta)
{
    json_t *ev = fake_client_frame(c, i);
    if (!ev) return 0;
    char *d = json_dumps(json_object_get(ev, "delta"), JSON_COMPACT | JSON_ENCODE_ANY);
    int ok = d && strcmp(d, delta) == 0 &&
             strcmp(json_string_value(json_object_get(ev, "op")), "doc_op") == 0 &&
             strcmp(json_string_value(json_object_get(ev, "room")), room) == 0 &&
             strcmp(json_string_value(json_object_get(ev, "doc")), "d1") == 0 &&
             json_integer_value(json_object_get(ev, "version")) == v &&
             strcmp(json_string_value(json_object_get(ev, "author")), author) == 0;
    if (!ok) {
        char *all = json_dumps(ev, JSON_COMPACT);
        fprintf(stderr, "event %d: %s\n", i, all ? all : "?");
        free(all);
    }
    free(d);
    return ok;
}

/* The outcome of one asynchronous domain call; the caller's area holds a pointer to it. */
typedef struct {
    int done;
    rooms_errno_t kind;
    const char *code;
    json_t *result;
    doc_t *doc;
    proto_client_t *reader; /* docs_open: subscribed in the callback, as proto_docs.c does */
} outcome_t;

static void on_done(void *ud, const rooms_err_t *err, json_t *result)
{
    outcome_t *o = *(outcome_t **)ud;
    o->done = 1;
    o->kind = err ? err->kind : ROOMS_OK;
    o->code = err ? err->code : NULL;
    o->result = result;
}

static void on_opened(void *ud, const rooms_err_t *err, doc_t *d)
{
    outcome_t *o = *(outcome_t **)ud;
    o->done = 1;
    o->kind = err ? err->kind : ROOMS_OK;
    o->doc = d;
    /* Subscribe now: once the callback returns, a document nobody reads is unloaded. */
    if (d) docs_subscribe(d, &o->reader->rcv, d->version);
}

static room_t *make_room(fx_t *f)
{
    auth_claims_t h;
    memset(&h, 0, sizeof(h));
    snprintf(h.sub, sizeof(h.sub), "host");
    json_t *body = json_pack("{s:s}", "name", "docs");
    outcome_t o = {0};
    outcome_t *po = &o;
    rooms_create(&f->r, &h, body, on_done, &po);
    json_decref(body);
    if (!test_run_until(&f->loop, &o.done, 5000) || o.kind) return NULL;
    const char *id =
        json_string_value(json_object_get(json_object_get(o.result, "room"), "id"));
    room_t *room = id ? rooms_get(&f->r, id) : NULL;
    json_decref(o.result);
    return room;
}

/* Opens d1 of room for reader c, waiting for the load when there is one; NULL on
 * error. */
static doc_t *open_doc(fx_t *f, room_t *room, proto_client_t *c, int *loaded_now)
{
    doc_t *ready = NULL;
    void *wait = NULL;
    rooms_err_t err;
    if (docs_open(&f->r, room, "d1", on_opened, sizeof(outcome_t *), &ready, &wait, &err) != 0)
        return NULL;
    *loaded_now = ready == NULL;
    if (ready) {
        docs_subscribe(ready, &c->rcv, ready->version);
        return ready;
    }
    outcome_t o = {.reader = c};
    *(outcome_t **)wait = &o;
    if (!test_run_until(&f->loop, &o.done, 5000) || o.kind) return NULL;
    return o.doc;
}

/* Submits delta (JSON text) on base as user from connection c; returns 0 with *o waiting
 * for the store, or the synchronous error kind with *e. */
static int submit(fx_t *f, doc_t *d, fake_client_t *c, int64_t base, const char *delta,
                  const char *op_id, outcome_t *o, docs_err_t *e)
{
    /* As the home hands it over: the text Jansson writes for the value. */
    json_t *j = json_loads(delta, JSON_DECODE_ANY, NULL);
    char *text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(j);
    docs_op_t op = {.base = base,
                    .delta = text,
                    .delta_len = strlen(text),
                    .op_id = op_id,
                    .user = c->pc.user.sub,
                    .from = c->pc.rcv.id,
                    .now_ms = 1700000000000};
    void *wait = NULL;
    memset(o, 0, sizeof(*o));
    int rc = docs_submit(&f->r, d, &op, on_done, sizeof(outcome_t *), &wait, e);
    free(text);
    if (rc == 0) *(outcome_t **)wait = o;
    return rc;
}

/* The version in an op's result, after waiting for it; -1 on error. */
static int64_t version_of(fx_t *f, outcome_t *o, int *duplicate)
{
    if (!test_run_until(&f->loop, &o->done, 5000) || o->kind) return -1;
    int64_t v = json_integer_value(json_object_get(o->result, "version"));
    *duplicate = json_is_true(json_object_get(o->result, "duplicate"));
    json_decref(o->result);
    o->result = NULL;
    return v;
}

static int text_is(const doc_t *d, const char *s)
{
    return d->text.len == strlen(s) && memcmp(d->text.s, s, d->text.len) == 0;
}

/* ---- tests ---- */

static void test_docs_domain(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f);
    ASSERT_TRUE(room != NULL);
    fake_client_t ann, bob, cat;
    fake_client_init(&ann, f.bus, "ann");
    fake_client_init(&bob, f.bus, "bob");
    fake_client_init(&cat, f.bus, "cat");
    int loaded = 0;
    doc_t *d = open_doc(&f, room, &ann.pc, &loaded);
    ASSERT_TRUE(d != NULL);
    ASSERT_TRUE(loaded); /* a new document: read from the store first */
    ASSERT_EQ(d->version, 0);
    ASSERT_TRUE(open_doc(&f, room, &bob.pc, &loaded) == d);
    ASSERT_TRUE(!loaded); /* in memory: answered at once */
    ASSERT_TRUE(open_doc(&f, room, &cat.pc, &loaded) == d);
    docs_subscribe(d, &cat.pc.rcv, d->version); /* once */
    ASSERT_EQ(d->subs.count, 3);

    /* An op at head. */
    outcome_t o1, o2;
    docs_err_t e;
    int dup = 0;
    ASSERT_EQ(submit(&f, d, &ann, 0, "[\"hello\"]", "a1", &o1, &e), 0);
    ASSERT_EQ(version_of(&f, &o1, &dup), 1);
    ASSERT_TRUE(!dup);
    ASSERT_TRUE(text_is(d, "hello"));
    ASSERT_EQ(room->last_activity, 1700000000000);
    ASSERT_EQ(ann.frames, 0); /* the sender is skipped */
    ASSERT_EQ(bob.frames, 1);
    ASSERT_EQ(cat.frames, 1);
    ASSERT_TRUE(event_is(&bob, 0, room->id, 1, "ann", "[\"hello\"]"));

    /* Two members' ops on the same version, both before the store answers: the second is
     * transformed past the first. */
    ASSERT_EQ(submit(&f, d, &ann, 1, "[\"> \"]", "a2", &o1, &e), 0);
    ASSERT_EQ(submit(&f, d, &bob, 1, "[5, \"!\"]", "b1", &o2, &e), 0);
    ASSERT_TRUE(text_is(d, "> hello!"));
    ASSERT_EQ(version_of(&f, &o1, &dup), 2);
    ASSERT_EQ(version_of(&f, &o2, &dup), 3);
    ASSERT_EQ(ann.frames, 1);
    ASSERT_TRUE(event_is(&ann, 0, room->id, 3, "bob", "[7,\"!\"]"));
    ASSERT_EQ(bob.frames, 2);
    ASSERT_TRUE(event_is(&bob, 1, room->id, 2, "ann", "[\"> \"]"));
    ASSERT_EQ(cat.frames, 3);
    ASSERT_TRUE(event_is(&cat, 1, room->id, 2, "ann", "[\"> \"]"));
    ASSERT_TRUE(event_is(&cat, 2, room->id, 3, "bob", "[7,\"!\"]"));

    /* A retry of an applied op: acknowledged with its version, applied and sent once. */
    ASSERT_EQ(submit(&f, d, &ann, 1, "[\"> \"]", "a2", &o1, &e), 0);
    ASSERT_EQ(version_of(&f, &o1, &dup), 2);
    ASSERT_TRUE(dup);
    ASSERT_EQ(d->version, 3);
    ASSERT_EQ(cat.frames, 3);

    /* A base ahead of the document, then one older than the window (3 ops). */
    ASSERT_EQ(submit(&f, d, &ann, 9, "[\"x\"]", "", &o1, &e), ROOMS_E_INVALID);
    ASSERT_STREQ(e.err.code, "validation_error");
    ASSERT_STREQ(e.err.field, "version");
    ASSERT_EQ(submit(&f, d, &ann, 3, "[{\"d\": 2}]", "a3", &o1, &e), 0);
    ASSERT_EQ(version_of(&f, &o1, &dup), 4);
    ASSERT_EQ(submit(&f, d, &bob, 4, "[5, \"*\"]", "b2", &o2, &e), 0);
    ASSERT_EQ(version_of(&f, &o2, &dup), 5);
    ASSERT_TRUE(text_is(d, "hello*!"));
    ASSERT_EQ(submit(&f, d, &ann, 1, "[\"x\"]", "a4", &o1, &e), ROOMS_E_CONFLICT);
    ASSERT_STREQ(e.err.code, "version_too_old");
    ASSERT_EQ(d->version, 5);
    ASSERT_EQ(cat.frames, 5);
    ASSERT_TRUE(event_is(&cat, 4, room->id, 5, "bob", "[5,\"*\"]"));

    /* Nobody has it open: it is unloaded; opening it again reads the snapshot and the
     * window of ops from the store, so a late op is still transformed and a retry still
     * recognised. */
    reader_free(&ann);
    reader_free(&bob);
    reader_free(&cat);
    ASSERT_TRUE(docs_find(room, "d1") == NULL);
    d = open_doc(&f, room, &cat.pc, &loaded);
    ASSERT_TRUE(d != NULL && loaded);
    ASSERT_EQ(d->version, 5);
    ASSERT_TRUE(text_is(d, "hello*!"));
    ASSERT_EQ(submit(&f, d, &ann, 4, "[1, \"#\"]", "b2", &o1, &e), 0); /* bob's id, by ann */
    ASSERT_EQ(version_of(&f, &o1, &dup), 6);
    ASSERT_TRUE(!dup); /* an opId is the author's */
    ASSERT_EQ(submit(&f, d, &bob, 4, "[5, \"*\"]", "b2", &o2, &e), 0);
    ASSERT_EQ(version_of(&f, &o2, &dup), 5);
    ASSERT_TRUE(dup);
    ASSERT_EQ(submit(&f, d, &bob, 3, "[\"<\"]", "b3", &o2, &e), 0);
    ASSERT_EQ(version_of(&f, &o2, &dup), 7);
    ASSERT_TRUE(text_is(d, "<h#ello*!"));
    ASSERT_EQ(cat.frames, 2);
    ASSERT_TRUE(event_is(&cat, 1, room->id, 7, "bob", "[\"<\"]"));

    /* The op log after version 5, as stored. */
    memset(&o1, 0, sizeof(o1));
    *(outcome_t **)docs_ops_range(&f.r, room, "d1", 5, on_done, sizeof(outcome_t *)) = &o1;
    ASSERT_TRUE(test_run_until(&f.loop, &o1.done, 5000));
    ASSERT_EQ(o1.kind, ROOMS_OK);
    char *ops = json_dumps(o1.result, JSON_COMPACT);
    json_decref(o1.result);
    ASSERT_STREQ(ops, "{\"ops\":[{\"version\":6,\"delta\":[1,\"#\"],\"author\":\"ann\","
                      "\"opId\":\"b2\"},{\"version\":7,\"delta\":[\"<\"],\"author\":\"bob\","
                      "\"opId\":\"b3\"}]}");
    free(ops);
    reader_free(&cat);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* The store fails an op (a trigger of the real database refuses it): the op is answered
 * service_unavailable, the document refuses ops until it is opened again, and opening it
 * again (its readers still subscribed, nothing in flight) reads it back from what was
 * committed, so the next op is the next version, without restarting anything. */
static void test_docs_store_failure(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    f.log.level = LOG_ERROR + 1; /* the failure below is expected */
    room_t *room = make_room(&f);
    ASSERT_TRUE(room != NULL);
    fake_client_t ann, bob;
    fake_client_init(&ann, f.bus, "ann");
    fake_client_init(&bob, f.bus, "bob");
    int loaded = 0;
    doc_t *d = open_doc(&f, room, &ann.pc, &loaded);
    ASSERT_TRUE(d != NULL);
    ASSERT_TRUE(open_doc(&f, room, &bob.pc, &loaded) == d);
    outcome_t o;
    docs_err_t e;
    int dup = 0;
    ASSERT_EQ(submit(&f, d, &ann, 0, "[\"hello\"]", "a1", &o, &e), 0);
    ASSERT_EQ(version_of(&f, &o, &dup), 1);
    sqlite3 *db = NULL;
    ASSERT_EQ(sqlite3_open_v2(f.db, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(db,
                           "CREATE TRIGGER boom BEFORE INSERT ON doc_ops WHEN NEW.op_id = 'x'"
                           " BEGIN SELECT RAISE(ABORT, 'boom'); END",
                           NULL, NULL, NULL),
              SQLITE_OK);
    ASSERT_EQ(submit(&f, d, &ann, 1, "[5, \" world\"]", "x", &o, &e), 0);
    ASSERT_TRUE(test_run_until(&f.loop, &o.done, 5000));
    ASSERT_EQ(o.kind, ROOMS_E_UNAVAILABLE);
    ASSERT_STREQ(o.code, "service_unavailable");
    ASSERT_EQ(bob.frames, 1); /* the failed op was never sent */
    /* Until it is opened again, the document takes no op. */
    ASSERT_EQ(submit(&f, d, &bob, 1, "[\"<\"]", "b1", &o, &e), ROOMS_E_UNAVAILABLE);
    ASSERT_STREQ(e.err.code, "service_unavailable");
    ASSERT_EQ(sqlite3_exec(db, "DROP TRIGGER boom", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    ASSERT_TRUE(docs_find(room, "d1") == d); /* ann and bob still have it open */
    doc_t *again = open_doc(&f, room, &ann.pc, &loaded);
    ASSERT_TRUE(again != NULL);
    ASSERT_TRUE(loaded);
    ASSERT_EQ(again->version, 1);
    ASSERT_TRUE(text_is(again, "hello"));
    ASSERT_EQ(submit(&f, again, &bob, 1, "[\"<\"]", "b1", &o, &e), 0);
    ASSERT_EQ(version_of(&f, &o, &dup), 2);
    ASSERT_TRUE(text_is(again, "<hello"));
    ASSERT_EQ(ann.frames, 1); /* bob's op reached ann, still subscribed */
    reader_free(&ann);
    reader_free(&bob);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

int main(void)
{
    RUN(test_docs_domain);
    RUN(test_docs_store_failure);
    TEST_MAIN_END();
}
