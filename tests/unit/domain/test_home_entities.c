/* test_home_entities.c: the entity ops at the room's home (home_entities.c) driven as bus
 * operations on a recording bus, with no sockets and no connection at all: each op is
 * answered through its route exactly once (now, or after the store's commit), and the
 * events it publishes are recorded. A create and an update conflict with the entity in
 * the answer, a lock held by one identity refused to another (of the same user too),
 * a lock's expiry with the time passed to the tick, the "by" of transient changes from
 * the op's user, and the argument checks in their order. */
#include "test.h"
#include "fake_bus.h"

/* The fixture, on the recording bus. */
#define ROOMS_FX_BUS_T fbus_t
#include "rooms_fixture.h"
#include "home_fixture.h"

#include <uv.h>

#include "domain/entities.h"
#include "domain/home.h"
#include "domain/rooms.h"

/* ---- fixtures ---- */

/* The rooms on a new recording bus, their home serving the entity ops too. */
static int fx_open(fx_t *f)
{
    rooms_fx_init(f, "home-entities", LOG_WARN, NULL);
    if (rooms_fx_start(f, &fb_new(5)->base) != 0) return -1;
    home_entities_register(&f->home);
    return 0;
}

/* A room hosted by "host" that ann and bob joined (no connection subscribed). */
static room_t *make_room(fx_t *f)
{
    room_t *room = rooms_fx_create(&f->r, &f->loop, "host", "scene");
    auth_claims_t u;
    memset(&u, 0, sizeof(u));
    const char *subs[2] = {"ann", "bob"};
    for (int i = 0; room && i < 2; i++) {
        snprintf(u.sub, sizeof(u.sub), "%s", subs[i]);
        snprintf(u.name, sizeof(u.name), "%c%s", subs[i][0] - 32, subs[i] + 1);
        rooms_fx_outcome_t j = {0};
        rooms_join(&f->r, room, &u, NULL, rooms_fx_done, &j);
        if (!test_run_until(&f->loop, &j.done, 5000) || !j.result) room = NULL;
        json_decref(j.result);
    }
    fb_clear(f->bus);
    return room;
}

/* Sends op name with args (a JSON text) to room's home as a's, with ref; returns
 * bus_send_op's result. */
static int send_op(fx_t *f, room_t *room, home_asker_t *a, const char *name, int64_t ref,
                   const char *args)
{
    return home_asker_send(&f->bus->base, room->id, name, a->user, a->id, ref, args, a);
}

static const char *str(const json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

static json_int_t num(const json_t *obj, const char *key)
{
    return json_integer_value(json_object_get(obj, key));
}

/* ---- tests ---- */

static void test_create_and_conflict(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f);
    ASSERT_TRUE(room != NULL);
    home_asker_t ann, bob;
    home_asker_init(&ann, &f.bus->base, "ann");
    home_asker_init(&bob, &f.bus->base, "bob");
    int64_t v0 = room->state_version;

    /* Created: answered once the store committed, through the route kept by value; the
     * event names ann and skips her connection. */
    ASSERT_EQ(send_op(&f, room, &ann, "entity_create", 1,
                      "{\"room\":\"x\",\"id\":\"box\",\"kind\":\"shape\",\"data\":{\"x\":1}}"),
              0);
    ASSERT_EQ(ann.calls, 0);
    ASSERT_EQ(f.bus->n, 0); /* the event waits for the commit too */
    ASSERT_TRUE(test_run_until(&f.loop, &ann.fresh, 5000));
    ASSERT_EQ(ann.calls, 1);
    ASSERT_STREQ(ann.code, "");
    ASSERT_EQ(ann.ref, 1);
    json_t *ent = json_object_get(ann.data, "entity");
    ASSERT_STREQ(str(ent, "id"), "box");
    ASSERT_STREQ(str(ent, "owner"), "ann");
    ASSERT_EQ(num(ent, "version"), 1);
    ASSERT_EQ(num(json_object_get(ent, "data"), "x"), 1);
    ASSERT_EQ(room->state_version, v0 + 1);
    rec_t *ev = fb_last(f.bus, "entity");
    ASSERT_TRUE(ev != NULL);
    ASSERT_STREQ(str(ev->payload, "action"), "create");
    ASSERT_STREQ(str(ev->payload, "by"), "ann");
    ASSERT_EQ(num(ev->payload, "stateVersion"), v0 + 1);
    ASSERT_EQ(ev->except, ann.id);

    /* The same id from bob: exists, answered now, with the entity as it is. */
    ASSERT_EQ(
        send_op(&f, room, &bob, "entity_create", 2, "{\"id\":\"box\",\"kind\":\"shape\"}"), 0);
    ASSERT_EQ(bob.calls, 1);
    ASSERT_EQ(bob.ref, 2);
    ASSERT_STREQ(bob.code, "exists");
    ASSERT_STREQ(bob.message, "an entity with this id exists");
    ASSERT_STREQ(str(json_object_get(bob.data, "entity"), "owner"), "ann");
    ASSERT_EQ(json_object_size(bob.data), 1); /* only the entity: no field */

    /* ann updates on version 1; bob's update on that old version is a conflict with the
     * entity as it is now, answered now, and changes nothing. */
    ASSERT_EQ(send_op(&f, room, &ann, "entity_update", 3,
                      "{\"id\":\"box\",\"patch\":{\"x\":2},\"baseVersion\":1}"),
              0);
    ASSERT_TRUE(test_run_until(&f.loop, &ann.fresh, 5000));
    ASSERT_EQ(ann.calls, 2);
    ASSERT_STREQ(ann.code, "");
    ASSERT_EQ(num(json_object_get(ann.data, "entity"), "version"), 2);
    int64_t v = room->state_version;
    size_t events = f.bus->n;
    ASSERT_EQ(send_op(&f, room, &bob, "entity_update", 4,
                      "{\"id\":\"box\",\"patch\":{\"x\":3},\"baseVersion\":1}"),
              0);
    ASSERT_EQ(bob.calls, 2);
    ASSERT_EQ(bob.ref, 4);
    ASSERT_STREQ(bob.code, "conflict");
    ASSERT_STREQ(bob.message, "the entity changed since baseVersion");
    ent = json_object_get(bob.data, "entity");
    ASSERT_EQ(num(ent, "version"), 2);
    ASSERT_EQ(num(json_object_get(ent, "data"), "x"), 2);
    ASSERT_EQ(room->state_version, v);
    ASSERT_EQ(f.bus->n, events);

    /* Each op was answered exactly once: nothing more comes. */
    test_run_for(&f.loop, 50);
    ASSERT_EQ(ann.calls, 2);
    ASSERT_EQ(bob.calls, 2);

    json_decref(ann.data);
    json_decref(bob.data);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

static void test_arguments(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f);
    ASSERT_TRUE(room != NULL);
    home_asker_t ann;
    home_asker_init(&ann, &f.bus->base, "ann");
    ASSERT_EQ(send_op(&f, room, &ann, "entity_create", 1, "{\"id\":\"box\",\"kind\":\"k\"}"),
              0);
    ASSERT_TRUE(test_run_until(&f.loop, &ann.fresh, 5000));
    ASSERT_STREQ(ann.code, "");
    static const struct {
        const char *name, *args, *code, *field, *message;
    } cases[] = {
        {"entity_create", "{\"kind\":\"a b\"}", "validation_error", "kind",
         "kind must be 1-64 bytes of A-Z a-z 0-9 _ - . :"},
        {"entity_create", "{\"id\":7,\"kind\":\"k\"}", "validation_error", "id",
         "id must be 1-128 bytes of A-Z a-z 0-9 _ - . :"},
        {"entity_create", "{\"kind\":\"k\",\"ownerOnly\":1}", "validation_error", "ownerOnly",
         "ownerOnly must be true or false"},
        {"entity_create", "{\"kind\":\"k\",\"data\":[1]}", "validation_error", "data",
         "must be a JSON object"},
        /* The entity comes before the other fields. */
        {"entity_update", "{\"id\":\"nope\",\"ownerOnly\":1}", "not_found", NULL,
         "no such entity"},
        {"entity_update", "{\"id\":\"box\",\"ownerOnly\":1}", "validation_error", "ownerOnly",
         "ownerOnly must be true or false"},
        {"entity_update", "{\"id\":\"box\",\"baseVersion\":-1}", "validation_error",
         "baseVersion", "baseVersion must be a non-negative integer"},
        {"entity_update", "{\"id\":\"box\",\"transient\":1}", "validation_error", "transient",
         "transient must be true or false"},
        {"entity_update", "{\"id\":\"box\",\"transient\":true,\"baseVersion\":1}",
         "validation_error", "baseVersion", "baseVersion cannot be combined with transient"},
        {"entity_update", "{\"id\":\"box\",\"transient\":true,\"ownerOnly\":true}",
         "validation_error", "ownerOnly", "ownerOnly cannot be combined with transient"},
        {"entity_update", "{\"id\":\"box\"}", "validation_error", "patch",
         "must be a JSON object"},
        {"entity_update", "{\"id\":5,\"patch\":{}}", "validation_error", "id",
         "id must be 1-128 bytes of A-Z a-z 0-9 _ - . :"},
        {"entity_update", "{\"id\":\"bo\\u0000x\",\"patch\":{}}", "not_found", NULL,
         "no such entity"},
        {"entity_update", "{\"id\":\"box\",\"patch\":{},\"transient\":null}",
         "validation_error", "transient", "transient must be true or false"},
        {"entity_update", "{\"id\":\"box\",\"patch\":{},\"baseVersion\":1.5}",
         "validation_error", "baseVersion", "baseVersion must be a non-negative integer"},
        {"entity_update", "{\"id\":\"box\",\"patch\":null,\"transient\":true}",
         "validation_error", "patch", "must be a JSON object"},
        {"entity_delete", "{}", "validation_error", "id",
         "id must be 1-128 bytes of A-Z a-z 0-9 _ - . :"},
        {"entity_lock", "{\"id\":\"box\",\"ttl\":\"5\"}", "validation_error", "ttl",
         "ttl must be a non-negative integer"},
        {"entity_lock", "{\"id\":\"box\",\"ttl\":0}", "validation_error", "ttl",
         "ttl must be 1 to 300000 milliseconds"},
        {"entity_unlock", "{\"id\":\"box\",\"force\":\"yes\"}", "validation_error", "force",
         "force must be true or false"},
        {"sync", "{}", "validation_error", "version",
         "version (the highest stateVersion seen) is required"},
        {"sync", "{\"version\":0,\"cursor\":-2}", "validation_error", "cursor",
         "cursor must be a non-negative integer"},
    };
    /* As a tree (the server API, frames left to Jansson), then as a hot op's scanned
     * frame (entity_update): the same answers. */
    for (int scanned = 0; scanned < 2; scanned++) {
        for (size_t i = 0; i < CH_ARRAY_LEN(cases); i++) {
            if (scanned && strcmp(cases[i].name, "entity_update") != 0) continue;
            int calls = ann.calls;
            if (scanned)
                ASSERT_EQ(home_asker_send_scanned(&f.bus->base, room->id, cases[i].name,
                                                  ann.user, ann.id, (int64_t)i, cases[i].args,
                                                  &ann),
                          0);
            else
                ASSERT_EQ(send_op(&f, room, &ann, cases[i].name, (int64_t)i, cases[i].args), 0);
            ASSERT_EQ(ann.calls, calls + 1); /* answered now */
            ASSERT_EQ(ann.ref, (int64_t)i);
            ASSERT_STREQ(ann.code, cases[i].code);
            ASSERT_STREQ(ann.message, cases[i].message);
            if (cases[i].field)
                ASSERT_STREQ(str(ann.data, "field"), cases[i].field);
            else
                ASSERT_TRUE(ann.data == NULL);
        }
    }

    /* sync answers the page entities.h gives, as it is. */
    ASSERT_EQ(send_op(&f, room, &ann, "sync", 9, "{\"version\":0}"), 0);
    ASSERT_STREQ(ann.code, "");
    json_t *page = entities_sync(&f.r, room, 0, -1);
    ASSERT_TRUE(json_equal(ann.data, page));
    json_decref(page);

    json_decref(ann.data);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

static void test_lock_held_by_one_identity(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f);
    ASSERT_TRUE(room != NULL);
    home_asker_t ann, ann2, bob;
    home_asker_init(&ann, &f.bus->base, "ann");
    home_asker_init(&ann2, &f.bus->base, "ann"); /* ann's second connection: another identity */
    home_asker_init(&bob, &f.bus->base, "bob");
    ASSERT_EQ(send_op(&f, room, &ann, "entity_create", 1, "{\"id\":\"box\",\"kind\":\"k\"}"),
              0);
    ASSERT_TRUE(test_run_until(&f.loop, &ann.fresh, 5000));
    fb_clear(f.bus);

    /* ann's connection locks it: answered now, the others told. */
    ASSERT_EQ(send_op(&f, room, &ann, "entity_lock", 2, "{\"id\":\"box\"}"), 0);
    ASSERT_EQ(ann.calls, 2);
    ASSERT_STREQ(ann.code, "");
    ASSERT_STREQ(str(ann.data, "id"), "box");
    ASSERT_STREQ(str(json_object_get(ann.data, "lock"), "userId"), "ann");
    ASSERT_STREQ(str(json_object_get(ann.data, "lock"), "displayName"),
                 "Ann"); /* the member's */
    rec_t *ev = fb_last(f.bus, "entity_lock");
    ASSERT_TRUE(ev != NULL);
    ASSERT_EQ(ev->except, ann.id);

    /* Refused to bob, and to ann's other connection: the lock is the identity's. */
    home_asker_t *others[2] = {&bob, &ann2};
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(send_op(&f, room, others[i], "entity_lock", 3, "{\"id\":\"box\"}"), 0);
        ASSERT_EQ(others[i]->calls, 1);
        ASSERT_STREQ(others[i]->code, "locked");
        ASSERT_STREQ(others[i]->message, "someone else holds the entity's lock");
        json_t *lock = json_object_get(json_object_get(others[i]->data, "entity"), "lock");
        ASSERT_STREQ(str(lock, "userId"), "ann");
        ASSERT_EQ(send_op(&f, room, others[i], "entity_update", 4,
                          "{\"id\":\"box\",\"patch\":{\"x\":1}}"),
                  0);
        ASSERT_EQ(others[i]->calls, 2);
        ASSERT_STREQ(others[i]->code, "locked");
        ASSERT_EQ(send_op(&f, room, others[i], "entity_unlock", 5, "{\"id\":\"box\"}"), 0);
        ASSERT_EQ(others[i]->calls, 3);
        ASSERT_STREQ(others[i]->code, "forbidden");
        ASSERT_STREQ(others[i]->message, "someone else holds the entity's lock");
    }
    ASSERT_EQ(fb_count(f.bus, "entity"), 0);
    ASSERT_TRUE(entities_get(room, "box")->lock != NULL);

    /* The holder changes it and unlocks it; the others hear it was unlocked. */
    ASSERT_EQ(
        send_op(&f, room, &ann, "entity_update", 6, "{\"id\":\"box\",\"patch\":{\"x\":1}}"), 0);
    ASSERT_TRUE(test_run_until(&f.loop, &ann.fresh, 5000));
    ASSERT_STREQ(ann.code, "");
    ASSERT_EQ(send_op(&f, room, &ann, "entity_unlock", 7, "{\"id\":\"box\"}"), 0);
    ASSERT_STREQ(ann.code, "");
    ASSERT_STREQ(str(ann.data, "id"), "box");
    ev = fb_last(f.bus, "entity_unlock");
    ASSERT_TRUE(ev != NULL);
    ASSERT_STREQ(str(ev->payload, "reason"), "unlocked");
    ASSERT_EQ(ev->except, ann.id);
    ASSERT_EQ(room->nlocks, 0);

    json_decref(ann.data);
    json_decref(ann2.data);
    json_decref(bob.data);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

static void test_lock_expiry(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f);
    ASSERT_TRUE(room != NULL);
    home_asker_t ann, bob;
    home_asker_init(&ann, &f.bus->base, "ann");
    home_asker_init(&bob, &f.bus->base, "bob");
    ASSERT_EQ(send_op(&f, room, &ann, "entity_create", 1, "{\"id\":\"box\",\"kind\":\"k\"}"),
              0);
    ASSERT_TRUE(test_run_until(&f.loop, &ann.fresh, 5000));
    fb_clear(f.bus);

    /* The home takes the loop's time: the lock runs 5 s from it. */
    uint64_t t0 = uv_now(&f.loop);
    ASSERT_EQ(send_op(&f, room, &ann, "entity_lock", 2, "{\"id\":\"box\",\"ttl\":5000}"), 0);
    ASSERT_STREQ(ann.code, "");
    entity_t *e = entities_get(room, "box");
    ASSERT_TRUE(e->lock != NULL);
    ASSERT_EQ(e->lock->until_ms, t0 + 5000);
    ASSERT_EQ(send_op(&f, room, &bob, "entity_lock", 3, "{\"id\":\"box\"}"), 0);
    ASSERT_STREQ(bob.code, "locked");

    /* The rooms' tick with a fake clock: kept before its end, ended at it, everyone told. */
    entities_feature.tick(NULL, &f.r, room, t0 + 4999);
    ASSERT_TRUE(e->lock != NULL);
    ASSERT_EQ(fb_count(f.bus, "entity_unlock"), 0);
    entities_feature.tick(NULL, &f.r, room, t0 + 5000);
    ASSERT_TRUE(e->lock == NULL);
    ASSERT_EQ(room->nlocks, 0);
    rec_t *ev = fb_last(f.bus, "entity_unlock");
    ASSERT_TRUE(ev != NULL);
    ASSERT_STREQ(str(ev->payload, "id"), "box");
    ASSERT_STREQ(str(ev->payload, "reason"), "expired");
    ASSERT_EQ(ev->except, BUS_MEMBER_NONE);

    /* Now bob's lock through the home is taken. */
    ASSERT_EQ(send_op(&f, room, &bob, "entity_lock", 4, "{\"id\":\"box\"}"), 0);
    ASSERT_EQ(bob.calls, 2);
    ASSERT_STREQ(bob.code, "");
    ASSERT_STREQ(str(json_object_get(bob.data, "lock"), "userId"), "bob");

    json_decref(ann.data);
    json_decref(bob.data);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* No connection is subscribed anywhere (the recording bus has none): the "by" of a
 * transient change comes from the op, not from a walk of local connections. */
static void test_transient_by(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f);
    ASSERT_TRUE(room != NULL);
    ASSERT_EQ(room->bus.count, 0);
    home_asker_t ann, bob;
    home_asker_init(&ann, &f.bus->base, "ann");
    home_asker_init(&bob, &f.bus->base, "bob");
    ASSERT_EQ(send_op(&f, room, &ann, "entity_create", 1, "{\"id\":\"box\",\"kind\":\"k\"}"),
              0);
    ASSERT_TRUE(test_run_until(&f.loop, &ann.fresh, 5000));
    fb_clear(f.bus);

    /* The first transient change goes at once, by ann, skipping her connection. */
    ASSERT_EQ(send_op(&f, room, &ann, "entity_update", 2,
                      "{\"id\":\"box\",\"transient\":true,\"patch\":{\"x\":1}}"),
              0);
    ASSERT_EQ(ann.calls, 2);
    ASSERT_STREQ(ann.code, "");
    ASSERT_STREQ(str(ann.data, "id"), "box");
    ASSERT_TRUE(json_is_true(json_object_get(ann.data, "transient")));
    rec_t *ev = fb_last(f.bus, "entity");
    ASSERT_TRUE(ev != NULL);
    ASSERT_TRUE(json_is_true(json_object_get(ev->payload, "transient")));
    ASSERT_STREQ(str(ev->payload, "by"), "ann");
    ASSERT_EQ(ev->except, ann.id);

    /* bob's, right after, is held (the rate); applied, it is bob's. */
    ASSERT_EQ(send_op(&f, room, &bob, "entity_update", 3,
                      "{\"id\":\"box\",\"transient\":true,\"patch\":{\"x\":2}}"),
              0);
    ASSERT_STREQ(bob.code, "");
    ASSERT_EQ(fb_count(f.bus, "entity"), 1);
    entities_flush(&f.r);
    ASSERT_EQ(fb_count(f.bus, "entity"), 2);
    ev = fb_last(f.bus, "entity");
    ASSERT_STREQ(str(ev->payload, "by"), "bob");
    ASSERT_EQ(ev->except, bob.id);
    ASSERT_EQ(num(json_object_get(json_object_get(ev->payload, "entity"), "data"), "x"), 2);

    /* ann's next one is held, and her connection goes before it is applied: "by" is
     * null and nobody is skipped, as always when the sender is gone. */
    ASSERT_EQ(send_op(&f, room, &ann, "entity_update", 4,
                      "{\"id\":\"box\",\"transient\":true,\"patch\":{\"x\":3}}"),
              0);
    ASSERT_EQ(fb_count(f.bus, "entity"), 2);
    entities_member_gone(&f.r, room, ann.id, "disconnected");
    entities_flush(&f.r);
    ASSERT_EQ(fb_count(f.bus, "entity"), 3);
    ev = fb_last(f.bus, "entity");
    ASSERT_TRUE(json_is_null(json_object_get(ev->payload, "by")));
    ASSERT_EQ(ev->except, BUS_MEMBER_NONE);

    /* bob's next one is held, and bob leaves the room before it is applied: the same,
     * since every connection of his is leaving (the home's member_left hook). */
    ASSERT_EQ(send_op(&f, room, &bob, "entity_update", 5,
                      "{\"id\":\"box\",\"transient\":true,\"patch\":{\"x\":4}}"),
              0);
    ASSERT_EQ(fb_count(f.bus, "entity"), 3);
    rooms_fx_outcome_t left = {0};
    rooms_leave(&f.r, room, "bob", "left", rooms_fx_done, &left);
    ASSERT_TRUE(test_run_until(&f.loop, &left.done, 5000));
    ASSERT_TRUE(left.result != NULL);
    json_decref(left.result);
    entities_flush(&f.r);
    ASSERT_EQ(fb_count(f.bus, "entity"), 4);
    ev = fb_last(f.bus, "entity");
    ASSERT_TRUE(json_is_null(json_object_get(ev->payload, "by")));
    ASSERT_EQ(ev->except, BUS_MEMBER_NONE);

    json_decref(ann.data);
    json_decref(bob.data);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* A detach that takes back a join's attach (undo: the connection never subscribed through
 * it, say a second join of a connection already in the room) keeps what the connection
 * holds through its other attach; a real detach (it went away) releases it. */
static void test_detach_undo_keeps_locks(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f);
    ASSERT_TRUE(room != NULL);
    home_asker_t ann;
    home_asker_init(&ann, &f.bus->base, "ann");
    /* Attached twice, as two joins in flight from one connection leave it. */
    ASSERT_EQ(rooms_attach(&f.r, room, ann.id, "ann"), 0);
    ASSERT_EQ(rooms_attach(&f.r, room, ann.id, "ann"), 0);
    ASSERT_EQ(room_member(room, "ann")->online, 2);
    ASSERT_EQ(send_op(&f, room, &ann, "entity_create", 1, "{\"id\":\"box\",\"kind\":\"k\"}"),
              0);
    ASSERT_TRUE(test_run_until(&f.loop, &ann.fresh, 5000));
    ASSERT_EQ(send_op(&f, room, &ann, "entity_lock", 2, "{\"id\":\"box\"}"), 0);
    ASSERT_STREQ(ann.code, "");
    ASSERT_EQ(room->nlocks, 1);
    fb_clear(f.bus);

    /* The second join's answer finds the connection subscribed: its attach is undone. */
    rooms_send_detach(&f.r, room->id, ann.id, "ann", 1);
    ASSERT_EQ(room->nlocks, 1);
    ASSERT_EQ(fb_count(f.bus, "entity_unlock"), 0);
    ASSERT_EQ(room_member(room, "ann")->online, 1);
    ASSERT_EQ(fb_count(f.bus, "participant_left"), 0);

    /* The connection goes: its lock goes, and the member is offline. */
    rooms_send_detach(&f.r, room->id, ann.id, "ann", 0);
    ASSERT_EQ(room->nlocks, 0);
    ASSERT_EQ(fb_count(f.bus, "entity_unlock"), 1);
    ASSERT_EQ(room_member(room, "ann")->online, 0);
    ASSERT_EQ(fb_count(f.bus, "participant_left"), 1);

    json_decref(ann.data);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

int main(void)
{
    RUN(test_create_and_conflict);
    RUN(test_arguments);
    RUN(test_lock_held_by_one_identity);
    RUN(test_lock_expiry);
    RUN(test_transient_by);
    RUN(test_detach_undo_keeps_locks);
    TEST_MAIN_END();
}
