/* test_entities.c: the entity domain (entities.h) with no sockets and no protocol layer:
 * a SQLite store in a temporary directory, the local bus, and fake connections whose
 * transport records every frame. Creation, a conflict on an old baseVersion, update
 * events in stateVersion order even when commits come later (the room's outbox), a lock
 * refusing another member, and a lock's expiry with the time passed in. */
#include "test.h"
#include "fake_client.h"
#include "rooms_fixture.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>
#include <uv.h>

#include "util/clock.h"
#include "util/config.h"
#include "domain/docs.h"
#include "domain/entities.h"
#include "util/mem.h"
#include "domain/rooms.h"
#include "store/store.h"
#include "store/store_sqlite.h"

/* ---- fixtures ---- */

static int fx_open(fx_t *f)
{
    return rooms_fx_open(f, "entities", LOG_WARN, NULL);
}

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static json_int_t num(const json_t *obj, const char *key)
{
    return json_integer_value(json_object_get(obj, key));
}

/* The caller c at monotonic time now_ms. */
static entities_caller_t as(const fake_client_t *c, const room_t *room, uint64_t now_ms)
{
    return (entities_caller_t){.member = c->pc.rcv.id,
                               .user = c->pc.user.sub,
                               .name = c->pc.user.sub,
                               .is_host = strcmp(room->host_id, c->pc.user.sub) == 0,
                               .now_ms = now_ms,
                               .unix_ms = clock_unix_ms()};
}

/* ---- waiting for completions ---- */

typedef struct {
    int done;
    int status;
    json_t *result;
} outcome_t;

static void on_done(void *ud, const rooms_err_t *err, json_t *result)
{
    outcome_t *o = ud;
    o->done = 1;
    o->status = err ? err->kind : 0;
    o->result = result;
}

/* A durable change as a caller holds it: the domain's request and the outcome. */
typedef struct {
    entities_req_t req;
    outcome_t o;
} change_t;

static void on_change(entities_req_t *req, const rooms_err_t *err, json_t *result)
{
    change_t *c = req->data;
    c->o.done++;
    c->o.status = err ? err->kind : 0;
    c->o.result = result;
}

static void change_init(change_t *c)
{
    memset(c, 0, sizeof(*c));
    c->req.data = c;
}

static auth_claims_t user(const char *sub)
{
    auth_claims_t u;
    memset(&u, 0, sizeof(u));
    snprintf(u.sub, sizeof(u.sub), "%s", sub);
    return u;
}

/* A room hosted by "host" that ann and bob joined, with a connection of each subscribed. */
static room_t *make_room(fx_t *f, fake_client_t *ann, fake_client_t *bob)
{
    auth_claims_t h = user("host");
    json_t *body = json_pack("{s:s}", "name", "scene");
    outcome_t o = {0};
    rooms_create(&f->r, &h, body, on_done, &o);
    json_decref(body);
    if (!test_run_until(&f->loop, &o.done, 5000) || o.status) return NULL;
    room_t *room = rooms_get(
        &f->r, json_string_value(json_object_get(json_object_get(o.result, "room"), "id")));
    json_decref(o.result);
    const char *subs[2] = {"ann", "bob"};
    for (int i = 0; room && i < 2; i++) {
        auth_claims_t u = user(subs[i]);
        outcome_t j = {0};
        rooms_join(&f->r, room, &u, NULL, on_done, &j);
        if (!test_run_until(&f->loop, &j.done, 5000) || j.status) room = NULL;
        json_decref(j.result);
    }
    if (!room) return NULL;
    fake_client_init(ann, f->bus, "ann");
    fake_client_init(bob, f->bus, "bob");
    if (rooms_fx_attach(f, room, &ann->pc) != 0 || rooms_fx_attach(f, room, &bob->pc) != 0)
        return NULL;
    fake_client_clear(ann);
    fake_client_clear(bob);
    return room;
}

static void drop_clients(fx_t *f, fake_client_t *ann, fake_client_t *bob)
{
    rooms_client_gone(&f->r, &ann->pc.rcv);
    rooms_client_gone(&f->r, &bob->pc.rcv);
    fake_client_clear(ann);
    fake_client_clear(bob);
}

/* ---- tests ---- */

static void test_create_and_conflict(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    fake_client_t ann, bob;
    room_t *room = make_room(&f, &ann, &bob);
    ASSERT_TRUE(room != NULL);
    uint64_t now = uv_now(&f.loop);
    entities_caller_t a = as(&ann, room, now), b = as(&bob, room, now);
    entities_err_t err;

    /* Created: answered after the commit, announced to bob, not to ann (the sender). */
    change_t c;
    change_init(&c);
    json_t *data = json_pack("{s:i}", "x", 1);
    int64_t v0 = room->state_version;
    ASSERT_EQ(entities_create(&f.r, room, &a, "box", "shape", data, -1, &c.req, on_change,
                              &err),
              0);
    json_decref(data);
    ASSERT_EQ(c.o.done, 0); /* never from inside the call */
    ASSERT_EQ(bob.frames, 0); /* the event waits for the commit */
    ASSERT_TRUE(test_run_until(&f.loop, &c.o.done, 5000));
    ASSERT_EQ(c.o.done, 1);
    ASSERT_EQ(c.o.status, 0);
    json_t *ent = json_object_get(c.o.result, "entity");
    ASSERT_STREQ(str(ent, "id"), "box");
    ASSERT_EQ(num(ent, "version"), 1);
    ASSERT_EQ(num(json_object_get(ent, "data"), "x"), 1);
    json_decref(c.o.result);
    ASSERT_EQ(room->state_version, v0 + 1);
    ASSERT_EQ(bob.frames, 1);
    ASSERT_STREQ(str(fake_client_frame(&bob, 0), "op"), "entity");
    ASSERT_STREQ(str(fake_client_frame(&bob, 0), "action"), "create");
    ASSERT_STREQ(str(fake_client_frame(&bob, 0), "by"), "ann");
    ASSERT_EQ(num(fake_client_frame(&bob, 0), "stateVersion"), v0 + 1);
    ASSERT_EQ(ann.frames, 0);

    /* The same id again: exists, with the entity. */
    change_init(&c);
    ASSERT_EQ(entities_create(&f.r, room, &b, "box", "shape", NULL, -1, &c.req, on_change,
                              &err),
              ROOMS_E_CONFLICT);
    ASSERT_STREQ(err.err.code, "exists");
    ASSERT_TRUE(err.entity == entities_get(room, "box"));

    /* ann updates on version 1; bob's update on that old version is refused with the
     * current entity, and changes nothing. */
    entity_t *e = entities_get(room, "box");
    json_t *patch = json_pack("{s:i}", "x", 2);
    change_init(&c);
    ASSERT_EQ(entities_update(&f.r, room, e, &a, patch, 1, -1, &c.req, on_change, &err), 0);
    ASSERT_TRUE(test_run_until(&f.loop, &c.o.done, 5000));
    ASSERT_EQ(c.o.status, 0);
    ASSERT_EQ(num(json_object_get(c.o.result, "entity"), "version"), 2);
    json_decref(c.o.result);
    int64_t v = room->state_version;
    json_t *stale = json_pack("{s:i}", "x", 3);
    change_init(&c);
    ASSERT_EQ(entities_update(&f.r, room, e, &b, stale, 1, -1, &c.req, on_change, &err),
              ROOMS_E_CONFLICT);
    json_decref(stale);
    json_decref(patch);
    ASSERT_STREQ(err.err.code, "conflict");
    ASSERT_STREQ(err.err.message, "the entity changed since baseVersion");
    ASSERT_TRUE(err.entity == e);
    ASSERT_EQ(err.entity->version, 2);
    ASSERT_EQ(json_integer_value(json_object_get(e->data, "x")), 2);
    ASSERT_EQ(room->state_version, v);
    test_run_until(&f.loop, &c.o.done, 50);
    ASSERT_EQ(c.o.done, 0); /* a refusal does not complete */
    ASSERT_EQ(bob.frames, 2); /* create, ann's update */
    ASSERT_EQ(ann.frames, 0);

    /* A missing patch is a validation error naming it. */
    change_init(&c);
    ASSERT_EQ(entities_update(&f.r, room, e, &a, NULL, -1, -1, &c.req, on_change, &err),
              ROOMS_E_INVALID);
    ASSERT_STREQ(err.err.code, "validation_error");
    ASSERT_STREQ(err.err.field, "patch");

    drop_clients(&f, &ann, &bob);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

static void test_events_in_version_order(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    fake_client_t ann, bob;
    room_t *room = make_room(&f, &ann, &bob);
    ASSERT_TRUE(room != NULL);
    entities_caller_t a = as(&ann, room, uv_now(&f.loop));
    entities_err_t err;
    change_t c1, c2;
    change_init(&c1);
    change_init(&c2);
    ASSERT_EQ(entities_create(&f.r, room, &a, "a", "shape", NULL, -1, &c1.req, on_change, &err),
              0);
    ASSERT_EQ(entities_create(&f.r, room, &a, "b", "shape", NULL, -1, &c2.req, on_change, &err),
              0);
    ASSERT_TRUE(test_run_until(&f.loop, &c2.o.done, 5000));
    ASSERT_TRUE(test_run_until(&f.loop, &c1.o.done, 5000));
    json_decref(c1.o.result);
    json_decref(c2.o.result);
    fake_client_clear(&bob);
    int64_t v = room->state_version;

    /* A durable update of a (v+1, waits for its commit), a state patch by the host (v+2,
     * waits too), then a transient update of b (v+3, ready at once): nothing reaches bob
     * until the first commit, then all three in version order. */
    json_t *p1 = json_pack("{s:i}", "x", 1), *p2 = json_pack("{s:i}", "y", 2),
           *ps = json_pack("{s:s}", "topic", "t");
    change_init(&c1);
    ASSERT_EQ(entities_update(&f.r, room, entities_get(room, "a"), &a, p1, -1, -1, &c1.req,
                              on_change, &err),
              0);
    auth_claims_t h = user("host");
    outcome_t os = {0};
    rooms_patch_state(&f.r, room, h.sub, ps, on_done, &os);
    json_t *res = NULL;
    ASSERT_EQ(entities_update_transient(&f.r, room, entities_get(room, "b"), &a, p2, &err, &res),
              0);
    ASSERT_TRUE(json_is_true(json_object_get(res, "transient")));
    json_decref(res);
    json_decref(p1);
    json_decref(p2);
    json_decref(ps);
    ASSERT_EQ(room->state_version, v + 3);
    ASSERT_EQ(bob.frames, 0); /* the transient change waits behind the durable ones */
    ASSERT_TRUE(test_run_until(&f.loop, &c1.o.done, 5000));
    ASSERT_TRUE(test_run_until(&f.loop, &os.done, 5000));
    json_decref(c1.o.result);
    json_decref(os.result);
    /* Whatever else the room says (a state change's message), its versioned events come
     * in order: entity a, state, entity b. */
    int64_t seen[3];
    int n = 0;
    for (int i = 0; i < bob.frames && n < 3; i++) {
        json_t *fr = fake_client_frame(&bob, i);
        const char *op = str(fr, "op");
        if (op && (!strcmp(op, "entity") || !strcmp(op, "state")))
            seen[n++] = num(fr, "stateVersion");
        if (op && !strcmp(op, "entity") && n == 3) {
            ASSERT_TRUE(json_is_true(json_object_get(fr, "transient")));
            ASSERT_STREQ(str(json_object_get(fr, "entity"), "id"), "b");
        }
    }
    ASSERT_EQ(n, 3);
    ASSERT_EQ(seen[0], v + 1);
    ASSERT_EQ(seen[1], v + 2);
    ASSERT_EQ(seen[2], v + 3);
    /* ann sent both entity changes: she got only the state event. */
    for (int i = 0; i < ann.frames; i++)
        ASSERT_TRUE(strcmp(str(fake_client_frame(&ann, i), "op"), "entity") != 0);

    drop_clients(&f, &ann, &bob);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

static void test_lock_and_expiry(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    fake_client_t ann, bob;
    room_t *room = make_room(&f, &ann, &bob);
    ASSERT_TRUE(room != NULL);
    uint64_t t0 = uv_now(&f.loop);
    entities_caller_t a = as(&ann, room, t0), b = as(&bob, room, t0 + 10);
    entities_err_t err;
    change_t c;
    change_init(&c);
    ASSERT_EQ(entities_create(&f.r, room, &a, "box", "shape", NULL, -1, &c.req, on_change, &err),
              0);
    ASSERT_TRUE(test_run_until(&f.loop, &c.o.done, 5000));
    json_decref(c.o.result);
    fake_client_clear(&bob);
    entity_t *e = entities_get(room, "box");

    /* ann locks it for 5 s: bob hears it; ann is answered. */
    json_t *res;
    ASSERT_EQ(entities_lock(&f.r, room, e, &a, 5000, &err, &res), 0);
    ASSERT_STREQ(str(res, "id"), "box");
    ASSERT_STREQ(str(json_object_get(res, "lock"), "userId"), "ann");
    json_decref(res);
    ASSERT_EQ(bob.frames, 1);
    ASSERT_STREQ(str(fake_client_frame(&bob, 0), "op"), "entity_lock");
    ASSERT_EQ(ann.frames, 0);

    /* bob can neither lock nor change it, nor unlock it without being the host. */
    ASSERT_EQ(entities_lock(&f.r, room, e, &b, -1, &err, &res), ROOMS_E_CONFLICT);
    ASSERT_STREQ(err.err.code, "locked");
    ASSERT_TRUE(err.entity == e);
    ASSERT_TRUE(res == NULL);
    json_t *patch = json_pack("{s:i}", "x", 1);
    change_init(&c);
    ASSERT_EQ(entities_update(&f.r, room, e, &b, patch, -1, -1, &c.req, on_change, &err),
              ROOMS_E_CONFLICT);
    ASSERT_STREQ(err.err.code, "locked");
    ASSERT_EQ(entities_unlock(&f.r, room, e, &b, 0, &err, &res), ROOMS_E_FORBIDDEN);
    ASSERT_STREQ(err.err.message, "someone else holds the entity's lock");
    /* A ttl past the limit is the ttl field's error. */
    ASSERT_EQ(entities_lock(&f.r, room, e, &a, 24LL * 3600 * 1000, &err, &res), ROOMS_E_INVALID);
    ASSERT_STREQ(err.err.field, "ttl");

    /* The tick before the lock's end keeps it; at its end, everyone hears it expired. */
    fake_client_clear(&bob);
    entities_tick(room, t0 + 4999);
    ASSERT_TRUE(e->lock != NULL);
    ASSERT_EQ(bob.frames, 0);
    entities_tick(room, t0 + 5000);
    ASSERT_TRUE(e->lock == NULL);
    ASSERT_EQ(room->nlocks, 0);
    const fake_client_t *both[2] = {&ann, &bob};
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(both[i]->frames, 1);
        json_t *fr = fake_client_frame(both[i], 0);
        ASSERT_STREQ(str(fr, "op"), "entity_unlock");
        ASSERT_STREQ(str(fr, "room"), room->id);
        ASSERT_STREQ(str(fr, "id"), "box");
        ASSERT_STREQ(str(fr, "reason"), "expired");
    }

    /* Now bob may change it. */
    b.now_ms = t0 + 5001;
    change_init(&c);
    ASSERT_EQ(entities_update(&f.r, room, e, &b, patch, -1, -1, &c.req, on_change, &err), 0);
    json_decref(patch);
    ASSERT_TRUE(test_run_until(&f.loop, &c.o.done, 5000));
    ASSERT_EQ(c.o.status, 0);
    json_decref(c.o.result);

    drop_clients(&f, &ann, &bob);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* ---- state versions as stored ---- */

/* Runs SQL on the fixture's database beside the store (a fault to inject, or a look). */
static int db_exec(fx_t *f, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) fprintf(stderr, "db_exec: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

static int on_int(void *ud, int n, char **vals, char **cols)
{
    (void)cols;
    if (n > 0 && vals[0]) *(int64_t *)ud = strtoll(vals[0], NULL, 10);
    return 0;
}

/* The first column of the first row of sql, or -1. */
static int64_t db_int(fx_t *f, const char *sql)
{
    sqlite3 *db = NULL;
    int64_t v = -1;
    if (sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK)
        sqlite3_exec(db, sql, on_int, &v, NULL);
    sqlite3_close(db);
    return v;
}

/* Logs every state version the store sets on a room row (one row per write). */
static int log_versions(fx_t *f)
{
    return db_exec(f, "CREATE TABLE vlog(n INTEGER PRIMARY KEY, v INTEGER);"
                      "CREATE TRIGGER vlog_t AFTER UPDATE OF state_version ON rooms"
                      " BEGIN INSERT INTO vlog(v) VALUES(NEW.state_version); END");
}

/* Every state write takes its own version, above the one before: a transient change made
 * while a durable write of the same entity is in flight (written, as the entity is then,
 * once that write answered: a new version, so the store skips the transient event's), a
 * durable change after it, a settings change and a code rotation (which used to write the
 * room's current version again). The store's log of versions rises with no repeat and
 * ends at the room's version. */
static void test_each_write_a_new_version(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    fake_client_t ann, bob;
    room_t *room = make_room(&f, &ann, &bob);
    ASSERT_TRUE(room != NULL);
    entities_caller_t a = as(&ann, room, uv_now(&f.loop));
    entities_err_t err;
    change_t c1, c2;
    change_init(&c1);
    change_init(&c2);
    ASSERT_EQ(entities_create(&f.r, room, &a, "a", "shape", NULL, -1, &c1.req, on_change, &err),
              0);
    ASSERT_EQ(entities_create(&f.r, room, &a, "b", "shape", NULL, -1, &c2.req, on_change, &err),
              0);
    ASSERT_TRUE(test_run_until(&f.loop, &c2.o.done, 5000));
    json_decref(c1.o.result);
    json_decref(c2.o.result);
    ASSERT_EQ(log_versions(&f), 0);
    int64_t v = room->state_version;

    json_t *p1 = json_pack("{s:i}", "x", 1), *p2 = json_pack("{s:i}", "x", 2),
           *p3 = json_pack("{s:i}", "y", 3);
    change_init(&c1);
    change_init(&c2);
    ASSERT_EQ(entities_update(&f.r, room, entities_get(room, "a"), &a, p1, -1, -1, &c1.req,
                              on_change, &err),
              0);
    json_t *res = NULL;
    ASSERT_EQ(
        entities_update_transient(&f.r, room, entities_get(room, "a"), &a, p2, &err, &res), 0);
    json_decref(res);
    ASSERT_EQ(entities_update(&f.r, room, entities_get(room, "b"), &a, p3, -1, -1, &c2.req,
                              on_change, &err),
              0);
    json_decref(p1);
    json_decref(p2);
    json_decref(p3);
    ASSERT_EQ(room->state_version, v + 3);
    ASSERT_TRUE(test_run_until(&f.loop, &c2.o.done, 5000));
    ASSERT_EQ(c1.o.status, 0);
    ASSERT_EQ(c2.o.status, 0);
    json_decref(c1.o.result);
    json_decref(c2.o.result);
    for (int i = 0; i < 500 && entities_get(room, "a")->writes; i++)
        test_run_for(&f.loop, 10);
    ASSERT_EQ(entities_get(room, "a")->writes, 0);
    ASSERT_EQ(room->state_version, v + 4);

    json_t *body = json_pack("{s:s}", "name", "renamed");
    outcome_t o1 = {0}, o2 = {0};
    rooms_update(&f.r, room, "host", body, on_done, &o1);
    json_decref(body);
    rooms_rotate_code(&f.r, room, "host", on_done, &o2);
    ASSERT_EQ(room->state_version, v + 6);
    ASSERT_TRUE(test_run_until(&f.loop, &o2.done, 5000));
    ASSERT_EQ(o1.status, 0);
    ASSERT_EQ(o2.status, 0);
    json_decref(o1.result);
    json_decref(o2.result);

    /* a at v+1, b at v+3, a again at v+4, the settings at v+5, the code at v+6. */
    ASSERT_EQ(db_int(&f, "SELECT count(*) FROM vlog"), 5);
    ASSERT_EQ(db_int(&f, "SELECT count(DISTINCT v) FROM vlog"), 5);
    ASSERT_EQ(db_int(&f, "SELECT count(*) FROM vlog x JOIN vlog y ON y.n = x.n + 1"
                         " WHERE y.v <= x.v"),
              0);
    ASSERT_EQ(db_int(&f, "SELECT state_version FROM rooms"), v + 6);
    /* The transient value is what the store holds for a. */
    ASSERT_EQ(db_int(&f, "SELECT json_extract(data, '$.x') FROM entities WHERE id = 'a'"), 2);
    drop_clients(&f, &ann, &bob);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* Transient changes of one entity while its first write is held (the loop does not run,
 * so the store's answer waits): at most that write is in flight, the others only mark
 * the entity; once it answers, one more write stores the entity as it is then, as a new
 * version. Each stored version is unique and the store holds the last change. */
static void test_transient_writes_coalesce(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    fake_client_t ann, bob;
    room_t *room = make_room(&f, &ann, &bob);
    ASSERT_TRUE(room != NULL);
    entities_caller_t a = as(&ann, room, uv_now(&f.loop));
    entities_err_t err;
    change_t c;
    change_init(&c);
    ASSERT_EQ(entities_create(&f.r, room, &a, "a", "shape", NULL, -1, &c.req, on_change, &err),
              0);
    ASSERT_TRUE(test_run_until(&f.loop, &c.o.done, 5000));
    json_decref(c.o.result);
    ASSERT_EQ(log_versions(&f), 0);
    int64_t v = room->state_version;
    entity_t *e = entities_get(room, "a");
    for (int i = 1; i <= 50; i++) {
        a.now_ms += 1000; /* each one due at once */
        json_t *p = json_pack("{s:i}", "x", i), *res = NULL;
        ASSERT_EQ(entities_update_transient(&f.r, room, e, &a, p, &err, &res), 0);
        json_decref(p);
        json_decref(res);
        ASSERT_EQ(e->writes, 1);
    }
    ASSERT_EQ(room->state_version, v + 50);
    for (int i = 0; i < 500 && (e->writes || db_int(&f, "SELECT count(*) FROM vlog") < 2); i++)
        test_run_for(&f.loop, 10);
    ASSERT_EQ(e->writes, 0);
    ASSERT_EQ(db_int(&f, "SELECT count(*) FROM vlog"), 2);
    ASSERT_EQ(db_int(&f, "SELECT count(DISTINCT v) FROM vlog"), 2);
    ASSERT_EQ(db_int(&f, "SELECT max(v) FROM vlog"), room->state_version);
    ASSERT_EQ(db_int(&f, "SELECT state_version FROM rooms"), room->state_version);
    ASSERT_EQ(db_int(&f, "SELECT json_extract(data, '$.x') FROM entities WHERE id = 'a'"), 50);
    drop_clients(&f, &ann, &bob);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* The store refuses a write that is not the room's next version: another writer moved the
 * stored version on (as a second node would). The room learns the stored version, writes
 * the refused change again as the version after it, and answers the caller (success)
 * once that write is stored; its next change follows. A failed batch (EIO) leaves the
 * store behind the room: the next write is refused, and the room catches up the same
 * way, its caller again answered by the write stored. */
static void test_refused_version_recovers(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    f.log.level = LOG_ERROR + 1;
    fake_client_t ann, bob;
    room_t *room = make_room(&f, &ann, &bob);
    ASSERT_TRUE(room != NULL);
    entities_caller_t a = as(&ann, room, uv_now(&f.loop));
    entities_err_t err;
    change_t c;
    change_init(&c);
    ASSERT_EQ(entities_create(&f.r, room, &a, "a", "shape", NULL, -1, &c.req, on_change, &err),
              0);
    ASSERT_TRUE(test_run_until(&f.loop, &c.o.done, 5000));
    json_decref(c.o.result);
    int64_t v = room->state_version;
    ASSERT_EQ(db_exec(&f, "UPDATE rooms SET state_version = state_version + 5"), 0);

    json_t *p = json_pack("{s:i}", "x", 1);
    change_init(&c);
    ASSERT_EQ(entities_update(&f.r, room, entities_get(room, "a"), &a, p, -1, -1, &c.req,
                              on_change, &err),
              0);
    json_decref(p);
    ASSERT_TRUE(test_run_until(&f.loop, &c.o.done, 5000));
    ASSERT_EQ(c.o.status, 0);
    ASSERT_EQ(c.o.done, 1);
    json_decref(c.o.result);
    /* Written again as the version after the stored one, before the caller's answer. */
    char sql[160];
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM rooms WHERE state_version = %lld",
             (long long)v + 6);
    for (int i = 0; i < 100 && db_int(&f, sql) != 1; i++)
        test_run_for(&f.loop, 10);
    ASSERT_EQ(db_int(&f, sql), 1);
    ASSERT_EQ(room->state_version, v + 6);
    ASSERT_EQ(db_int(&f, "SELECT json_extract(data, '$.x') FROM entities WHERE id = 'a'"), 1);
    ASSERT_EQ(db_int(&f, "SELECT state_version FROM entities WHERE id = 'a'"), v + 1);

    /* A failed batch: the store stays at v + 6 while the room goes on to v + 7. */
    ASSERT_EQ(db_exec(&f, "CREATE TRIGGER boom BEFORE UPDATE ON entities"
                          " WHEN json_extract(NEW.data, '$.x') = 66"
                          " BEGIN SELECT RAISE(ABORT, 'boom'); END;"
                          "CREATE TRIGGER boom2 BEFORE INSERT ON entities"
                          " WHEN json_extract(NEW.data, '$.x') = 66"
                          " BEGIN SELECT RAISE(ABORT, 'boom'); END"),
              0);
    p = json_pack("{s:i}", "x", 66);
    change_init(&c);
    ASSERT_EQ(entities_update(&f.r, room, entities_get(room, "a"), &a, p, -1, -1, &c.req,
                              on_change, &err),
              0);
    json_decref(p);
    ASSERT_TRUE(test_run_until(&f.loop, &c.o.done, 5000));
    ASSERT_EQ(c.o.status, ROOMS_E_UNAVAILABLE);
    ASSERT_EQ(room->state_version, v + 7);
    ASSERT_EQ(db_int(&f, "SELECT state_version FROM rooms"), v + 6);
    ASSERT_EQ(db_exec(&f, "DROP TRIGGER boom; DROP TRIGGER boom2"), 0);
    /* The next change (v + 8, after v + 7) is refused; written again as v + 9, and its
     * caller is told it is stored. */
    p = json_pack("{s:i}", "x", 8);
    change_init(&c);
    ASSERT_EQ(entities_update(&f.r, room, entities_get(room, "a"), &a, p, -1, -1, &c.req,
                              on_change, &err),
              0);
    json_decref(p);
    ASSERT_TRUE(test_run_until(&f.loop, &c.o.done, 5000));
    ASSERT_EQ(c.o.status, 0);
    ASSERT_EQ(c.o.done, 1);
    json_decref(c.o.result);
    snprintf(sql, sizeof(sql), "SELECT count(*) FROM rooms WHERE state_version = %lld",
             (long long)v + 9);
    for (int i = 0; i < 100 && db_int(&f, sql) != 1; i++)
        test_run_for(&f.loop, 10);
    ASSERT_EQ(db_int(&f, sql), 1);
    ASSERT_EQ(db_int(&f, "SELECT json_extract(data, '$.x') FROM entities WHERE id = 'a'"), 8);
    /* From there on, each change is the next version at once. */
    p = json_pack("{s:i}", "x", 10);
    change_init(&c);
    ASSERT_EQ(entities_update(&f.r, room, entities_get(room, "a"), &a, p, -1, -1, &c.req,
                              on_change, &err),
              0);
    json_decref(p);
    ASSERT_TRUE(test_run_until(&f.loop, &c.o.done, 5000));
    ASSERT_EQ(c.o.status, 0);
    json_decref(c.o.result);
    ASSERT_EQ(db_int(&f, "SELECT state_version FROM rooms"), v + 10);
    drop_clients(&f, &ann, &bob);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* A settings change the store refuses (another writer moved the stored version on) is
 * written again as the version after the stored one; its caller is answered success once
 * that is stored, and room_updated is published (after_update ran). */
static void test_refused_room_update_answered(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    f.log.level = LOG_ERROR + 1;
    fake_client_t ann, bob;
    room_t *room = make_room(&f, &ann, &bob);
    ASSERT_TRUE(room != NULL);
    int64_t v = room->state_version;
    ASSERT_EQ(db_exec(&f, "UPDATE rooms SET state_version = state_version + 5"), 0);
    json_t *body = json_pack("{s:s}", "name", "renamed");
    outcome_t o = {0};
    rooms_update(&f.r, room, "host", body, on_done, &o);
    json_decref(body);
    ASSERT_TRUE(test_run_until(&f.loop, &o.done, 5000));
    ASSERT_EQ(o.status, 0);
    ASSERT_TRUE(o.result != NULL);
    json_decref(o.result);
    ASSERT_EQ(room->state_version, v + 6);
    ASSERT_EQ(db_int(&f, "SELECT state_version FROM rooms"), v + 6);
    ASSERT_EQ(db_int(&f, "SELECT count(*) FROM rooms WHERE name = 'renamed'"), 1);
    int seen = 0;
    for (int i = 0; i < bob.nsent; i++) {
        const char *op = str(fake_client_frame(&bob, i), "op");
        if (op && strcmp(op, "room_updated") == 0) seen++;
    }
    ASSERT_EQ(seen, 1);
    drop_clients(&f, &ann, &bob);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

int main(void)
{
    RUN(test_create_and_conflict);
    RUN(test_events_in_version_order);
    RUN(test_lock_and_expiry);
    RUN(test_each_write_a_new_version);
    RUN(test_transient_writes_coalesce);
    RUN(test_refused_version_recovers);
    RUN(test_refused_room_update_answered);
    TEST_MAIN_END();
}
