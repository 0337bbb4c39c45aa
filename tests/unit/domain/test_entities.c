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

int main(void)
{
    RUN(test_create_and_conflict);
    RUN(test_events_in_version_order);
    RUN(test_lock_and_expiry);
    TEST_MAIN_END();
}
