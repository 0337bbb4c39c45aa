/* test_home.c: the rooms' home (home.c, home_rooms.c) with the local bus and no sockets:
 * an op for a room that is not here answers not_found, an op nobody registered answers
 * unknown_op, a registered handler is called with its room and answers through the
 * route; the room ops answer now (broadcast, a refused argument) or after the store's
 * commit (message), always exactly once, with the route's ref and member. join answers
 * with the room's snapshot in payload parts and attaches the connection by identity;
 * detach makes the member offline only at their last connection. And the member's side
 * (proto_rooms.c) through an application context: the frames a client gets back, a join
 * that subscribes the connection, and a client that goes away before its answer. */
#include "test.h"
#include "fake_client.h"
#include "rooms_fixture.h"
#include "home_fixture.h"
#include "app/app_fixture.h"

#include <uv.h>

#include "app/app.h"
#include "domain/home.h"
#include "domain/rooms.h"

/* ---- fixtures ---- */

static int fx_open(fx_t *f)
{
    return rooms_fx_open(f, "home", LOG_WARN, NULL);
}

static room_t *make_room(fx_t *f, const char *host)
{
    return rooms_fx_create(&f->r, &f->loop, host, "home");
}

/* A module's op: answers at once with the id of the room the home found. */
typedef struct {
    int calls;
} probe_t;

static void probe_op(void *ud, room_t *room, const bus_op_t *op)
{
    ((probe_t *)ud)->calls++;
    bus_reply(&op->route, NULL, NULL, json_pack("{s:s}", "room", room->id));
}

static const home_op_t probe_ops[] = {{"probe", probe_op}};

/* ---- tests ---- */

static void test_dispatch(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f, "host");
    ASSERT_TRUE(room != NULL);
    probe_t probe = {0};
    home_register(&f.home, probe_ops, CH_ARRAY_LEN(probe_ops), &probe);
    bus_member_t me = bus_member_next(f.bus);
    json_t *args = json_object();
    home_asker_t a = {0};

    /* No such room: not_found, as the member's side answers for a room it cannot find. */
    bus_op_t op = home_op_of("no-such-room", "probe", "host", args, me, 7, &a);
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    ASSERT_EQ(a.calls, 1);
    ASSERT_EQ(probe.calls, 0);
    ASSERT_STREQ(a.code, "not_found");
    ASSERT_STREQ(a.message, "no such room");
    ASSERT_EQ(a.ref, 7);
    ASSERT_EQ(a.member, me);
    ASSERT_TRUE(a.data == NULL);

    /* An op nobody registered: unknown_op, as the protocol's dispatcher words it. */
    op = home_op_of(room->id, "frobnicate", "host", args, me, 8, &a);
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    ASSERT_EQ(a.calls, 2);
    ASSERT_STREQ(a.code, "unknown_op");
    ASSERT_STREQ(a.message, "unknown op \"frobnicate\"");
    ASSERT_EQ(a.ref, 8);

    /* A registered op: called once with its room, answered through the route now. */
    op = home_op_of(room->id, "probe", "host", args, me, 9, &a);
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    ASSERT_EQ(probe.calls, 1);
    ASSERT_EQ(a.calls, 3);
    ASSERT_STREQ(a.code, "");
    ASSERT_EQ(a.ref, 9);
    ASSERT_EQ(a.member, me);
    ASSERT_STREQ(json_string_value(json_object_get(a.data, "room")), room->id);

    /* Registering more ops grows the table and keeps the ones there. */
    static const home_op_t more[] = {{"p1", probe_op}, {"p2", probe_op}, {"p3", probe_op},
                                     {"p4", probe_op}, {"p5", probe_op}, {"p6", probe_op}};
    home_register(&f.home, more, CH_ARRAY_LEN(more), &probe);
    op = home_op_of(room->id, "p6", "host", args, me, 10, &a);
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    op = home_op_of(room->id, "message", "host", args, me, 11, &a); /* content missing */
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    ASSERT_EQ(probe.calls, 2);
    ASSERT_EQ(a.calls, 5);
    ASSERT_STREQ(a.code, "validation_error");

    json_decref(a.data);
    json_decref(args);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

static void test_room_ops(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f, "host");
    ASSERT_TRUE(room != NULL);
    /* Two connections of the host: one sends, the other hears. */
    fake_client_t c1, c2;
    fake_client_init(&c1, f.bus, "host");
    fake_client_init(&c2, f.bus, "host");
    ASSERT_EQ(rooms_attach(&f.r, room, c1.pc.rcv.id, "host"), 0);
    ASSERT_EQ(rooms_subscribe(&f.r, room, &c1.pc.rcv), 0);
    ASSERT_EQ(rooms_attach(&f.r, room, c2.pc.rcv.id, "host"), 0);
    ASSERT_EQ(rooms_subscribe(&f.r, room, &c2.pc.rcv), 0);
    int before1 = c1.frames, before2 = c2.frames;
    home_asker_t a = {0};

    /* broadcast: answered now with null, the sender (the route's member) skipped. */
    json_t *args = json_pack("{s:s, s:{s:i}}", "event", "cursor", "data", "x", 1);
    bus_op_t op = home_op_of(room->id, "broadcast", "host", args, c1.pc.rcv.id, 1, &a);
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    json_decref(args);
    ASSERT_EQ(a.calls, 1);
    ASSERT_STREQ(a.code, "");
    ASSERT_TRUE(a.data == NULL);
    ASSERT_EQ(a.member, c1.pc.rcv.id);
    ASSERT_EQ(c1.frames, before1);
    ASSERT_EQ(c2.frames, before2 + 1);

    /* A refused argument: answered now, its field in the error's data. */
    args = json_pack("{s:i}", "event", 5);
    op = home_op_of(room->id, "broadcast", "host", args, c1.pc.rcv.id, 2, &a);
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    json_decref(args);
    ASSERT_EQ(a.calls, 2);
    ASSERT_STREQ(a.code, "validation_error");
    ASSERT_STREQ(a.message, "event must be a string of 1 to 64 bytes");
    ASSERT_STREQ(json_string_value(json_object_get(a.data, "field")), "event");

    args = json_pack("{s:i}", "limit", 0);
    op = home_op_of(room->id, "history", "host", args, c1.pc.rcv.id, 3, &a);
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    json_decref(args);
    ASSERT_EQ(a.calls, 3);
    ASSERT_STREQ(a.code, "validation_error");
    ASSERT_STREQ(json_string_value(json_object_get(a.data, "field")), "limit");

    /* message: answered once the store committed it, through the route kept by value;
     * the other connection gets the message event, the sender does not. */
    before1 = c1.frames;
    before2 = c2.frames;
    args = json_pack("{s:s, s:s}", "type", "user_text", "content", "hello");
    op = home_op_of(room->id, "message", "host", args, c1.pc.rcv.id, 4, &a);
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    json_decref(args); /* the frame is gone; the answer does not need it */
    ASSERT_EQ(a.calls, 3);
    a.fresh = 0;
    ASSERT_TRUE(test_run_until(&f.loop, &a.fresh, 5000));
    ASSERT_EQ(a.calls, 4);
    ASSERT_STREQ(a.code, "");
    ASSERT_EQ(a.ref, 4);
    ASSERT_EQ(a.member, c1.pc.rcv.id);
    json_t *m = json_object_get(a.data, "message");
    ASSERT_EQ(json_integer_value(json_object_get(m, "seq")), 1);
    ASSERT_STREQ(json_string_value(json_object_get(m, "content")), "hello");
    ASSERT_TRUE(json_object_get(a.data, "success") == NULL);
    ASSERT_EQ(c1.frames, before1);
    ASSERT_EQ(c2.frames, before2 + 1);

    /* history: after the store, the message there. */
    args = json_object();
    op = home_op_of(room->id, "history", "host", args, c1.pc.rcv.id, 5, &a);
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    json_decref(args);
    ASSERT_EQ(a.calls, 4);
    a.fresh = 0;
    ASSERT_TRUE(test_run_until(&f.loop, &a.fresh, 5000));
    ASSERT_EQ(a.calls, 5);
    ASSERT_EQ(a.ref, 5);
    ASSERT_EQ(json_array_size(json_object_get(a.data, "messages")), 1);

    /* Nothing more comes: each op was answered exactly once. */
    test_run_for(&f.loop, 50);
    ASSERT_EQ(a.calls, 5);

    json_decref(a.data);
    rooms_client_gone(&f.r, &c1.pc.rcv);
    rooms_client_gone(&f.r, &c2.pc.rcv);
    fake_client_free(&c1);
    fake_client_free(&c2);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* Sends the join op of user over connection c (attach: it is not in the room yet) and
 * waits for the answer in a. */
static void join_op(fx_t *f, room_t *room, fake_client_t *c, const char *user, int attach,
                    home_asker_t *a)
{
    json_t *args = json_pack("{s:I, s:s, s:s, s:b}", "since", (json_int_t)-1, "userName",
                             user, "userColor", "", "attach", attach);
    bus_op_t op = home_op_of(room->id, "join", user, args, c->pc.rcv.id, 7, a);
    op.route.parts_fn = home_asker_parts;
    a->fresh = 0;
    ASSERT_EQ(bus_send_op(f->bus, &op), 0);
    json_decref(args);
    ASSERT_TRUE(test_run_until(&f->loop, &a->fresh, 5000));
}

/* The online flag of user in a join answer's participants. */
static int listed_online(const json_t *data, const char *user)
{
    json_t *ps = json_object_get(data, "participants");
    for (size_t i = 0; i < json_array_size(ps); i++) {
        json_t *p = json_array_get(ps, i);
        if (strcmp(json_string_value(json_object_get(p, "userId")), user) == 0)
            return json_is_true(json_object_get(p, "online"));
    }
    return -1;
}

static void test_join_and_detach(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f, "host");
    ASSERT_TRUE(room != NULL);
    fake_client_t h, a1, a2;
    fake_client_init(&h, f.bus, "host");
    fake_client_init(&a1, f.bus, "ann");
    fake_client_init(&a2, f.bus, "ann");
    home_asker_t a = {0};

    /* The host joins: answered at once (nothing to store) with the snapshot, attached by
     * its identity; its process subscribes it (as proto_rooms.c does in the answer). */
    join_op(&f, room, &h, "host", 1, &a);
    ASSERT_EQ(a.calls, 1);
    ASSERT_STREQ(a.code, "");
    ASSERT_EQ(a.member, h.pc.rcv.id);
    ASSERT_EQ(a.ref, 7);
    ASSERT_STREQ(json_string_value(json_object_get(json_object_get(a.data, "room"), "id")),
                 room->id);
    ASSERT_STREQ(json_string_value(json_object_get(a.data, "role")), "host");
    ASSERT_EQ(listed_online(a.data, "host"), 1);
    ASSERT_TRUE(json_is_object(json_object_get(a.data, "state")));
    ASSERT_EQ(json_integer_value(json_object_get(a.data, "lastSeq")), 0);
    ASSERT_TRUE(json_is_array(json_object_get(a.data, "messages")));
    ASSERT_EQ(room_member(room, "host")->online, 1);
    ASSERT_EQ(rooms_subscribe(&f.r, room, &h.pc.rcv), 0);

    /* ann joins: a new member, answered after the commit; her participant is as the join
     * left it (not online yet), the list shows her online, and the host heard
     * participant_joined (and the system message). */
    int hf = h.frames;
    join_op(&f, room, &a1, "ann", 1, &a);
    ASSERT_EQ(a.calls, 2);
    ASSERT_STREQ(a.code, "");
    ASSERT_STREQ(json_string_value(json_object_get(a.data, "role")), "member");
    json_t *me = json_object_get(a.data, "participant");
    ASSERT_STREQ(json_string_value(json_object_get(me, "userId")), "ann");
    ASSERT_TRUE(json_is_false(json_object_get(me, "online")));
    ASSERT_EQ(listed_online(a.data, "ann"), 1);
    ASSERT_EQ(json_array_size(json_object_get(a.data, "participants")), 2);
    ASSERT_EQ(room_member(room, "ann")->online, 1);
    ASSERT_EQ(h.frames, hf + 2);
    ASSERT_EQ(rooms_subscribe(&f.r, room, &a1.pc.rcv), 0);

    /* Her second connection: attached too, nothing the others see. */
    hf = h.frames;
    join_op(&f, room, &a2, "ann", 1, &a);
    ASSERT_EQ(a.calls, 3);
    ASSERT_EQ(room_member(room, "ann")->online, 2);
    ASSERT_EQ(rooms_subscribe(&f.r, room, &a2.pc.rcv), 0);
    /* A join again over a connection already in the room attaches nothing more. */
    join_op(&f, room, &a1, "ann", 0, &a);
    ASSERT_EQ(a.calls, 4);
    ASSERT_EQ(room_member(room, "ann")->online, 2);
    ASSERT_EQ(h.frames, hf);

    /* Detach (by identity, fire and forget): offline only at her last connection. */
    rooms_client_gone(&f.r, &a1.pc.rcv);
    ASSERT_TRUE(a1.pc.rcv.subs == NULL);
    ASSERT_EQ(room_member(room, "ann")->online, 1);
    ASSERT_EQ(h.frames, hf);
    ASSERT_EQ(room_member(room, "ann")->release_at, 0);
    rooms_client_gone(&f.r, &a2.pc.rcv);
    ASSERT_EQ(room_member(room, "ann")->online, 0);
    ASSERT_EQ(h.frames, hf + 1); /* participant_left */
    ASSERT_TRUE(room_member(room, "ann")->release_at != 0); /* the seat's grace */

    /* A refused join answers the error through the route, attaching nothing. */
    memset(&a.code, 0, sizeof(a.code));
    json_t *args = json_pack("{s:s, s:s}", "displayName", "host", "userName", "x");
    bus_op_t op = home_op_of(room->id, "join", "zed", args, h.pc.rcv.id, 8, &a);
    op.route.parts_fn = home_asker_parts;
    a.fresh = 0;
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    json_decref(args);
    ASSERT_TRUE(test_run_until(&f.loop, &a.fresh, 5000));
    ASSERT_STREQ(a.code, "name_taken");
    ASSERT_TRUE(room_member(room, "zed") == NULL);

    json_decref(a.data);
    rooms_client_gone(&f.r, &h.pc.rcv);
    ASSERT_EQ(room_member(room, "host")->online, 0);
    fake_client_free(&h);
    fake_client_free(&a1);
    fake_client_free(&a2);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* ---- the member's side: frames in, replies out, through an app_t ---- */

static void test_member_side(void)
{
    app_fx_t f;
    ASSERT_EQ(app_fx_open(&f, "home-app"), 0);
    app_t *a = &f.app;
    ASSERT_TRUE(a->bus->serve_ud == &a->home); /* the home serves the app's bus */

    /* ann hosts a room and has one connection subscribed to it. */
    auth_claims_t ann;
    memset(&ann, 0, sizeof(ann));
    snprintf(ann.sub, sizeof(ann.sub), "ann");
    json_t *body = json_pack("{s:s}", "name", "member side");
    rooms_fx_outcome_t o = {0};
    rooms_create(&a->rooms, &ann, body, rooms_fx_done, &o);
    json_decref(body);
    ASSERT_TRUE(test_run_until(&f.loop, &o.done, 5000) && o.result);
    char id[STORE_ID_LEN];
    snprintf(id, sizeof(id), "%s",
             json_string_value(json_object_get(json_object_get(o.result, "room"), "id")));
    json_decref(o.result);
    room_t *room = rooms_get(&a->rooms, id);
    ASSERT_TRUE(room != NULL);
    fake_client_t c;
    app_fx_client(&f, &c, ann.sub);

    /* join: answered with the room, the connection subscribed and its member online. */
    app_fx_handle(a, &c, "{\"op\":\"join\",\"ref\":0,\"room\":\"%s\"}", id);
    app_fx_settle(&f.loop, &c); /* the recent messages are read from the store first */
    static const char joined[] = "{\"op\":\"reply\",\"ref\":0,\"ok\":true,\"data\":{\"room\":{";
    ASSERT_MEMEQ(c.text, joined, strlen(joined));
    ASSERT_EQ(c.pc.pending, 0);
    ASSERT_TRUE(c.pc.rcv.subs != NULL && c.pc.rcv.subs->room == room);
    ASSERT_EQ(room_member(room, "ann")->online, 1);

    /* Answered at once, through the home: the reply's bytes, and nothing left pinned. */
    app_fx_handle(a, &c, "{\"op\":\"broadcast\",\"ref\":1,\"room\":\"%s\",\"event\":\"e\"}",
                  id);
    ASSERT_STREQ(c.text, "{\"op\":\"reply\",\"ref\":1,\"ok\":true,\"data\":null}");
    ASSERT_EQ(c.pc.pending, 0);
    /* Any integer is a ref, -1 too. */
    app_fx_handle(a, &c, "{\"op\":\"broadcast\",\"ref\":-1,\"room\":\"%s\",\"event\":\"e\"}",
                  id);
    ASSERT_STREQ(c.text, "{\"op\":\"reply\",\"ref\":-1,\"ok\":true,\"data\":null}");
    /* Without a ref: a success is not answered, an error is an error event (its field). */
    int frames = c.frames;
    app_fx_handle(a, &c, "{\"op\":\"presence\",\"room\":\"%s\",\"state\":{\"x\":1}}", id);
    ASSERT_EQ(c.frames, frames);
    app_fx_handle(a, &c, "{\"op\":\"broadcast\",\"room\":\"%s\",\"event\":\"\"}", id);
    ASSERT_STREQ(c.text, "{\"op\":\"error\",\"error\":{\"code\":\"validation_error\","
                         "\"field\":\"event\",\"message\":\"event must be a string of 1 "
                         "to 64 bytes\"}}");
    ASSERT_EQ(c.pc.pending, 0);

    /* Answered after the commit: pinned meanwhile. */
    frames = c.frames;
    app_fx_handle(a, &c,
                  "{\"op\":\"message\",\"ref\":3,\"room\":\"%s\",\"type\":\"user_text\","
                  "\"content\":\"hi\"}",
                  id);
    ASSERT_EQ(c.frames, frames);
    ASSERT_EQ(c.pc.pending, 1);
    app_fx_settle(&f.loop, &c);
    ASSERT_EQ(c.pc.pending, 0);
    ASSERT_EQ(c.frames, frames + 1);
    static const char reply3[] = "{\"op\":\"reply\",\"ref\":3,\"ok\":true,\"data\":{\"message\":{";
    ASSERT_MEMEQ(c.text, reply3, strlen(reply3));
    ASSERT_TRUE(strstr(c.text, "\"seq\":1,") != NULL);
    ASSERT_TRUE(strstr(c.text, "\"success\"") == NULL);

    /* An entity op through the home (home_entities.c): a refusal carrying the entity
     * comes back as one error object, code and message first, then the entity. */
    app_fx_handle(a, &c,
                  "{\"op\":\"entity_create\",\"ref\":5,\"room\":\"%s\",\"id\":\"b\","
                  "\"kind\":\"k\"}",
                  id);
    app_fx_settle(&f.loop, &c);
    static const char created5[] =
        "{\"op\":\"reply\",\"ref\":5,\"ok\":true,\"data\":{\"entity\":{\"id\":\"b\",\"kind\":"
        "\"k\",\"data\":{},\"owner\":\"ann\",\"version\":1,";
    ASSERT_MEMEQ(c.text, created5, strlen(created5));
    app_fx_handle(a, &c,
                  "{\"op\":\"entity_create\",\"ref\":6,\"room\":\"%s\",\"id\":\"b\","
                  "\"kind\":\"k\"}",
                  id);
    ASSERT_EQ(c.pc.pending, 0); /* refused now */
    static const char exists6[] =
        "{\"op\":\"reply\",\"ref\":6,\"ok\":false,\"error\":{\"code\":\"exists\",\"message\":"
        "\"an entity with this id exists\",\"entity\":{\"id\":\"b\",\"kind\":\"k\",";
    ASSERT_MEMEQ(c.text, exists6, strlen(exists6));

    /* The connection goes before its answer: nothing is sent to it, and the answer's
     * arrival releases it, once. */
    app_fx_handle(a, &c,
                  "{\"op\":\"message\",\"ref\":4,\"room\":\"%s\",\"type\":\"user_text\","
                  "\"content\":\"bye\"}",
                  id);
    ASSERT_EQ(c.pc.pending, 1);
    frames = c.frames;
    ASSERT_EQ(proto_client_gone(&a->proto, &c.pc), 0);
    ASSERT_TRUE(test_run_until(&f.loop, &c.released, 5000));
    ASSERT_EQ(c.released, 1);
    ASSERT_EQ(c.frames, frames);
    ASSERT_EQ(c.pc.pending, 0);
    /* Its room's home was told: ann is offline. */
    ASSERT_TRUE(c.pc.rcv.subs == NULL);
    ASSERT_EQ(room_member(room, "ann")->online, 0);

    /* A join whose connection goes before its answer (bob is a new member: the answer
     * waits for the commit): nothing is sent to it, and the home detaches it, so bob is
     * not left online. */
    fake_client_t d;
    app_fx_client(&f, &d, "bob");
    app_fx_handle(a, &d, "{\"op\":\"join\",\"ref\":1,\"room\":\"%s\"}", id);
    ASSERT_EQ(d.pc.pending, 1);
    ASSERT_EQ(proto_client_gone(&a->proto, &d.pc), 0);
    ASSERT_TRUE(test_run_until(&f.loop, &d.released, 5000));
    ASSERT_EQ(d.frames, 0);
    ASSERT_TRUE(d.pc.rcv.subs == NULL);
    ASSERT_TRUE(room_member(room, "bob") != NULL);
    ASSERT_EQ(room_member(room, "bob")->online, 0);
    ASSERT_TRUE(room_member(room, "bob")->release_at != 0); /* the seat's grace */

    fake_client_free(&c);
    ASSERT_EQ(app_fx_close(&f), 0);
}

int main(void)
{
    RUN(test_dispatch);
    RUN(test_room_ops);
    RUN(test_join_and_detach);
    RUN(test_member_side);
    TEST_MAIN_END();
}
