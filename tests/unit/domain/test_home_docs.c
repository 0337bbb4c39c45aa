/* test_home_docs.c: the document ops at the room's home (home_docs.c) with the local bus
 * and no sockets. Through the bus with a recording route: doc_open answered through the
 * route once the document loaded, then at once; doc_op answered {"version"} after the
 * commit, the event to the other subscriber and not to the route's member; a refused
 * argument answered at once with its field; doc_ops and doc_presence; a non-participant
 * refused at the home (doc_open, doc_op, doc_ops, doc_presence) with nothing changed. And
 * the member's side (proto_docs.c) through an application context: doc_open's answer
 * subscribes the connection from the answered version on, so a connection that opens the
 * document while an op is in the store (its snapshot has it) does not get that op's event,
 * and gets the next one; the checks of the connection (doc_op on a document it has not
 * open, doc_close); a connection out of the room when its document loaded is refused. */
#include "test.h"
#include "fake_client.h"
#include "rooms_fixture.h"

/* The asker subscribes the connection it was answered for, as proto_docs.c does. */
#define HOME_ASKER_EXTRA                                                                       \
    room_t *room;                                                                              \
    fake_client_t *sub;
#include "home_fixture.h"
#include "app/app_fixture.h"

#include "app/app.h"
#include "domain/home.h"

/* ---- fixtures ---- */

/* The fixture with its home serving the document ops too. */
static int hfx_open(fx_t *f)
{
    if (rooms_fx_open(f, "home-docs", LOG_WARN, NULL) != 0) return -1;
    home_docs_register(&f->home);
    return 0;
}

/* The doc_op events c got: how many, and the version of the last one (0: none). */
static int doc_events(const fake_client_t *c, int64_t *last_version)
{
    int k = 0;
    *last_version = 0;
    for (int i = 0; i < c->frames; i++) {
        json_t *frame = fake_client_frame(c, i);
        const char *op = json_string_value(json_object_get(frame, "op"));
        if (!op || strcmp(op, "doc_op") != 0) continue;
        k++;
        *last_version = json_integer_value(json_object_get(frame, "version"));
    }
    return k;
}

/* A room hosted by host in r; NULL on error. */
static room_t *make_room(rooms_t *r, uv_loop_t *loop, const char *host)
{
    return rooms_fx_create(r, loop, host, "docs at home");
}

/* home_asker_t's answered hook: with sub set, subscribes that connection to the document
 * it was answered, from the answered version on, as proto_docs.c does for doc_open. */
static void subscribe_answered(home_asker_t *a, const char *code, json_t *data)
{
    if (!code && a->sub) {
        doc_t *d = docs_find(a->room, json_string_value(json_object_get(data, "doc")));
        if (d)
            docs_subscribe(d, &a->sub->pc.rcv,
                           json_integer_value(json_object_get(data, "version")));
    }
}

/* Sends the op name with args (a JSON text) to room's home as connection c (its user), ref
 * ref, answered to a. */
static void send_op(bus_t *bus, room_t *room, const char *name, fake_client_t *c, int64_t ref,
                    const char *args, home_asker_t *a)
{
    CH_ASSERT(
        home_asker_send(bus, room->id, name, c->pc.user.sub, c->pc.rcv.id, ref, args, a) == 0);
}

static int64_t data_int(const home_asker_t *a, const char *key)
{
    return json_integer_value(json_object_get(a->data, key));
}

/* ---- through the bus ---- */

static void test_open_and_op(void)
{
    fx_t h;
    ASSERT_EQ(hfx_open(&h), 0);
    bus_t *bus = h.bus;
    room_t *room = make_room(&h.r, &h.loop, "host");
    ASSERT_TRUE(room != NULL);
    fake_client_t c1, c2;
    fake_client_init(&c1, bus, "host");
    fake_client_init(&c2, bus, "host");
    home_asker_t a = {.answered = subscribe_answered, .room = room, .sub = &c1};

    /* doc_open of a document not in memory: answered once it loaded, through the route. */
    send_op(bus, room, "doc_open", &c1, 1, "{\"doc\": \"d1\"}", &a);
    ASSERT_EQ(a.calls, 0);
    ASSERT_TRUE(test_run_until(&h.loop, &a.fresh, 5000));
    ASSERT_EQ(a.calls, 1);
    ASSERT_STREQ(a.code, "");
    ASSERT_EQ(a.ref, 1);
    ASSERT_EQ(a.member, c1.pc.rcv.id);
    ASSERT_STREQ(json_string_value(json_object_get(a.data, "doc")), "d1");
    ASSERT_STREQ(json_string_value(json_object_get(a.data, "text")), "");
    ASSERT_EQ(data_int(&a, "version"), 0);
    ASSERT_EQ(json_object_size(a.data), 3);
    doc_t *d = docs_find(room, "d1");
    ASSERT_TRUE(d != NULL); /* kept: the answer subscribed c1 */
    ASSERT_EQ(d->subs.count, 1);

    /* In memory now: answered at once. */
    a.sub = &c2;
    send_op(bus, room, "doc_open", &c2, 2, "{\"doc\": \"d1\"}", &a);
    ASSERT_EQ(a.calls, 2);
    ASSERT_EQ(a.ref, 2);
    ASSERT_EQ(data_int(&a, "version"), 0);
    ASSERT_EQ(d->subs.count, 2);
    a.sub = NULL;

    /* doc_op: answered {"version": 1} once stored; the event skips the route's member. */
    a.fresh = 0;
    send_op(bus, room, "doc_op", &c1, 3,
            "{\"doc\": \"d1\", \"version\": 0, \"delta\": [\"hello\"], \"opId\": \"o1\"}", &a);
    ASSERT_EQ(a.calls, 2);
    ASSERT_TRUE(test_run_until(&h.loop, &a.fresh, 5000));
    ASSERT_EQ(a.calls, 3);
    ASSERT_STREQ(a.code, "");
    ASSERT_EQ(a.ref, 3);
    ASSERT_EQ(data_int(&a, "version"), 1);
    ASSERT_EQ(json_object_size(a.data), 1);
    int64_t v;
    ASSERT_EQ(doc_events(&c1, &v), 0);
    ASSERT_EQ(doc_events(&c2, &v), 1);
    ASSERT_EQ(v, 1);
    ASSERT_STREQ(json_string_value(json_object_get(fake_client_frame(&c2, 0), "author")),
                 "host");
    ASSERT_STREQ(json_string_value(json_object_get(fake_client_frame(&c2, 0), "opId")), "o1");
    ASSERT_EQ(d->text.len, 5);

    /* Refused arguments: answered at once, the field in the error's data. */
    send_op(bus, room, "doc_op", &c1, 4, "{\"doc\": \"d1\", \"version\": -1, \"delta\": []}",
            &a);
    ASSERT_EQ(a.calls, 4);
    ASSERT_STREQ(a.code, "validation_error");
    ASSERT_STREQ(a.message, "version must be a non-negative integer");
    ASSERT_STREQ(json_string_value(json_object_get(a.data, "field")), "version");
    send_op(bus, room, "doc_op", &c1, 5, "{\"doc\": \"d1\", \"version\": 9, \"delta\": [\"x\"]}",
            &a);
    ASSERT_EQ(a.calls, 5);
    ASSERT_STREQ(a.code, "validation_error");
    ASSERT_STREQ(a.message, "version is ahead of the document");
    ASSERT_STREQ(json_string_value(json_object_get(a.data, "field")), "version");
    send_op(bus, room, "doc_op", &c1, 6, "{\"doc\": \"d2\", \"version\": 0, \"delta\": [\"x\"]}",
            &a);
    ASSERT_EQ(a.calls, 6);
    ASSERT_STREQ(a.code, "forbidden");
    ASSERT_STREQ(a.message, "open the document first (doc_open)");
    ASSERT_TRUE(a.data == NULL);
    send_op(bus, room, "doc_ops", &c1, 7, "{\"doc\": \"d1\", \"from\": \"0\"}", &a);
    ASSERT_EQ(a.calls, 7);
    ASSERT_STREQ(a.code, "validation_error");
    ASSERT_STREQ(json_string_value(json_object_get(a.data, "field")), "from");

    /* doc_ops: the op log after the store answered. */
    a.fresh = 0;
    send_op(bus, room, "doc_ops", &c1, 8, "{\"doc\": \"d1\", \"from\": 0}", &a);
    ASSERT_EQ(a.calls, 7);
    ASSERT_TRUE(test_run_until(&h.loop, &a.fresh, 5000));
    ASSERT_EQ(a.calls, 8);
    ASSERT_EQ(a.ref, 8);
    json_t *ops = json_object_get(a.data, "ops");
    ASSERT_EQ(json_array_size(ops), 1);
    ASSERT_EQ(json_integer_value(json_object_get(json_array_get(ops, 0), "version")), 1);

    /* doc_presence: answered at once with null. */
    send_op(bus, room, "doc_presence", &c1, 9,
            "{\"doc\": \"d1\", \"presence\": {\"cursor\": 3}}", &a);
    ASSERT_EQ(a.calls, 9);
    ASSERT_STREQ(a.code, "");
    ASSERT_TRUE(a.data == NULL);
    send_op(bus, room, "doc_presence", &c1, 10, "{\"doc\": \"d1\", \"presence\": 3}", &a);
    ASSERT_EQ(a.calls, 10);
    ASSERT_STREQ(a.code, "validation_error");
    ASSERT_STREQ(json_string_value(json_object_get(a.data, "field")), "presence");

    /* doc_op's refusals, read from a tree and from a hot op's scanned frame: the same
     * answer either way (code, message and field), all at once. */
    static const char *const refused[] = {
        "{\"doc\":\"d1\",\"delta\":[\"x\"]}",
        "{\"doc\":\"d1\",\"version\":1.5,\"delta\":[\"x\"]}",
        "{\"doc\":\"d1\",\"version\":\"1\",\"delta\":[\"x\"]}",
        "{\"doc\":\"d1\",\"version\":1,\"delta\":[\"x\"],\"opId\":7}",
        "{\"doc\":\"d1\",\"version\":1,\"delta\":[\"x\"],\"opId\":\"a\\u0000b\"}",
        ("{\"doc\":\"d1\",\"version\":1,\"delta\":[\"x\"],\"opId\":"
         "\"0123456789012345678901234567890123456789012345678901234567890123x\"}"),
        "{\"doc\":\"d1\",\"version\":1}",
        "{\"doc\":\"d1\",\"version\":1,\"delta\":{\"d\":1}}",
        "{\"doc\":\"d1\",\"version\":1,\"delta\":[1.0]}",
        "{\"doc\":\"d1\",\"version\":1,\"delta\":[{\"d\":1,\"e\":1}]}",
        "{\"doc\":\"d1\",\"version\":1,\"delta\":[9,\"x\"]}",
        "{\"doc\":\"\",\"version\":1,\"delta\":[\"x\"]}",
        "{\"doc\":\"d\\u0000\",\"version\":1,\"delta\":[\"x\"]}",
        "{\"doc\":[\"d1\"],\"version\":1,\"delta\":[\"x\"]}",
    };
    int calls = a.calls;
    for (size_t i = 0; i < CH_ARRAY_LEN(refused); i++) {
        send_op(bus, room, "doc_op", &c1, 20, refused[i], &a);
        ASSERT_EQ(a.calls, ++calls);
        ASSERT_TRUE(a.code[0] != 0);
        char code[32], message[128], field[16];
        snprintf(code, sizeof(code), "%s", a.code);
        snprintf(message, sizeof(message), "%s", a.message);
        snprintf(field, sizeof(field), "%s",
                 a.data ? json_string_value(json_object_get(a.data, "field")) : "-");
        ASSERT_EQ(home_asker_send_scanned(bus, room->id, "doc_op", c1.pc.user.sub, c1.pc.rcv.id,
                                          21, refused[i], &a),
                  0);
        ASSERT_EQ(a.calls, ++calls);
        ASSERT_EQ(a.ref, 21);
        ASSERT_STREQ(a.code, code);
        ASSERT_STREQ(a.message, message);
        ASSERT_STREQ(a.data ? json_string_value(json_object_get(a.data, "field")) : "-", field);
    }

    /* Each op was answered exactly once: nothing more comes. */
    test_run_for(&h.loop, 50);
    ASSERT_EQ(a.calls, calls);

    json_decref(a.data);
    docs_client_gone(&h.r, &c1.pc.rcv);
    docs_client_gone(&h.r, &c2.pc.rcv);
    ASSERT_TRUE(docs_find(room, "d1") == NULL); /* unloaded with its last subscriber */
    fake_client_free(&c1);
    fake_client_free(&c2);
    ASSERT_EQ(rooms_fx_close(&h), 0);
}

static void test_non_member(void)
{
    fx_t h;
    ASSERT_EQ(hfx_open(&h), 0);
    bus_t *bus = h.bus;
    room_t *room = make_room(&h.r, &h.loop, "host");
    ASSERT_TRUE(room != NULL);
    fake_client_t host, eve;
    fake_client_init(&host, bus, "host");
    fake_client_init(&eve, bus, "eve");
    home_asker_t a = {.answered = subscribe_answered, .room = room, .sub = &host};
    send_op(bus, room, "doc_open", &host, 1, "{\"doc\": \"d1\"}", &a);
    ASSERT_TRUE(test_run_until(&h.loop, &a.fresh, 5000));
    ASSERT_STREQ(a.code, "");
    doc_t *d = docs_find(room, "d1");
    ASSERT_TRUE(d != NULL);

    /* eve is no participant: every op is refused at the home, at once, nothing changes. */
    home_asker_t e = {.answered = subscribe_answered, .room = room, .sub = &eve};
    static const char *const ops[][2] = {
        {"doc_op", "{\"doc\": \"d1\", \"version\": 0, \"delta\": [\"x\"]}"},
        {"doc_open", "{\"doc\": \"d1\"}"},
        {"doc_ops", "{\"doc\": \"d1\", \"from\": 0}"},
        {"doc_presence", "{\"doc\": \"d1\", \"presence\": null}"},
    };
    for (size_t i = 0; i < CH_ARRAY_LEN(ops); i++) {
        send_op(bus, room, ops[i][0], &eve, (int64_t)i, ops[i][1], &e);
        ASSERT_EQ(e.calls, (int)i + 1);
        ASSERT_EQ(e.ref, (int64_t)i);
        ASSERT_STREQ(e.code, "forbidden");
        ASSERT_STREQ(e.message, "join the room first");
        ASSERT_TRUE(e.data == NULL);
    }
    ASSERT_EQ(d->version, 0);
    ASSERT_EQ(d->subs.count, 1);
    ASSERT_TRUE(eve.pc.rcv.doc_subs == NULL);
    ASSERT_TRUE(room_member(room, "eve") == NULL);
    test_run_for(&h.loop, 50);
    ASSERT_EQ(e.calls, 4);
    ASSERT_EQ(host.frames, 0);

    json_decref(a.data);
    docs_client_gone(&h.r, &host.pc.rcv);
    fake_client_free(&host);
    ASSERT_EQ(rooms_fx_close(&h), 0);
}

/* ---- the member's side (proto_docs.c), through an application context ---- */

static void test_member_side_since(void)
{
    app_fx_t f;
    ASSERT_EQ(app_fx_open(&f, "home-docs-app"), 0);
    uv_loop_t *loop = &f.loop;
    app_t *a = &f.app;
    room_t *room = make_room(&a->rooms, loop, "ann");
    ASSERT_TRUE(room != NULL);
    char id[STORE_ID_LEN];
    snprintf(id, sizeof(id), "%s", room->id);

    /* Three connections of ann, joined. */
    fake_client_t c[3];
    for (int i = 0; i < 3; i++) {
        app_fx_client(&f, &c[i], "ann");
        rooms_subscribe(&a->rooms, room, &c[i].pc.rcv);
    }

    /* c0 opens d1: answered once loaded, subscribed in the answer before the reply. */
    app_fx_handle(a, &c[0], "{\"op\":\"doc_open\",\"ref\":1,\"room\":\"%s\",\"doc\":\"d1\"}",
                  id);
    ASSERT_EQ(c[0].pc.pending, 1);
    app_fx_settle(loop, &c[0]);
    ASSERT_STREQ(c[0].text, "{\"op\":\"reply\",\"ref\":1,\"ok\":true,\"data\":{\"doc\":\"d1\","
                            "\"text\":\"\",\"version\":0}}");
    ASSERT_TRUE(c[0].pc.rcv.doc_subs != NULL);
    ASSERT_EQ(((bus_vsub_t *)c[0].pc.rcv.doc_subs)->since, 0);
    app_fx_handle(a, &c[1], "{\"op\":\"doc_open\",\"ref\":1,\"room\":\"%s\",\"doc\":\"d1\"}",
                  id);
    ASSERT_EQ(c[1].pc.pending, 0); /* in memory: answered at once */
    ASSERT_EQ(((bus_vsub_t *)c[1].pc.rcv.doc_subs)->since, 0);

    /* c0's op is applied and in the store when c2 opens: c2's snapshot has it, so its
     * subscription starts above version 1 and the op's event does not reach it. */
    app_fx_handle(a, &c[0],
                  "{\"op\":\"doc_op\",\"ref\":2,\"room\":\"%s\",\"doc\":\"d1\",\"version\":0,"
                  "\"delta\":[\"hi\"]}",
                  id);
    ASSERT_EQ(c[0].pc.pending, 1);
    app_fx_handle(a, &c[2], "{\"op\":\"doc_open\",\"ref\":1,\"room\":\"%s\",\"doc\":\"d1\"}",
                  id);
    ASSERT_STREQ(c[2].text, "{\"op\":\"reply\",\"ref\":1,\"ok\":true,\"data\":{\"doc\":\"d1\","
                            "\"text\":\"hi\",\"version\":1}}");
    ASSERT_EQ(((bus_vsub_t *)c[2].pc.rcv.doc_subs)->since, 1);
    app_fx_settle(loop, &c[0]);
    ASSERT_STREQ(c[0].text,
                 "{\"op\":\"reply\",\"ref\":2,\"ok\":true,\"data\":{\"version\":1}}");
    int64_t v;
    ASSERT_EQ(doc_events(&c[0], &v), 0); /* the sender */
    ASSERT_EQ(doc_events(&c[1], &v), 1);
    ASSERT_EQ(v, 1);
    ASSERT_EQ(doc_events(&c[2], &v), 0); /* at or below its since */

    /* The next op reaches c2 (and c0), not c1, its sender. */
    app_fx_handle(a, &c[1],
                  "{\"op\":\"doc_op\",\"ref\":3,\"room\":\"%s\",\"doc\":\"d1\",\"version\":1,"
                  "\"delta\":[2,\"!\"]}",
                  id);
    app_fx_settle(loop, &c[1]);
    ASSERT_STREQ(c[1].text,
                 "{\"op\":\"reply\",\"ref\":3,\"ok\":true,\"data\":{\"version\":2}}");
    ASSERT_EQ(doc_events(&c[2], &v), 1);
    ASSERT_EQ(v, 2);
    ASSERT_EQ(doc_events(&c[0], &v), 1);
    ASSERT_EQ(v, 2);
    ASSERT_EQ(doc_events(&c[1], &v), 1);

    /* Checked on the member's side: an op on a document this connection has not open, a
     * doc_close of one; doc_close ends the subscription here. */
    app_fx_handle(a, &c[2],
                  "{\"op\":\"doc_op\",\"ref\":4,\"room\":\"%s\",\"doc\":\"d2\",\"version\":0,"
                  "\"delta\":[\"x\"]}",
                  id);
    ASSERT_STREQ(c[2].text, "{\"op\":\"reply\",\"ref\":4,\"ok\":false,\"error\":{\"code\":"
                            "\"forbidden\",\"message\":\"open the document first "
                            "(doc_open)\"}}");
    app_fx_handle(a, &c[2], "{\"op\":\"doc_close\",\"ref\":5,\"room\":\"%s\",\"doc\":\"d2\"}",
                  id);
    ASSERT_STREQ(c[2].text, "{\"op\":\"reply\",\"ref\":5,\"ok\":false,\"error\":{\"code\":"
                            "\"not_found\",\"message\":\"this document is not open on this "
                            "connection\"}}");
    app_fx_handle(a, &c[2], "{\"op\":\"doc_close\",\"ref\":6,\"room\":\"%s\",\"doc\":\"d1\"}",
                  id);
    ASSERT_STREQ(c[2].text, "{\"op\":\"reply\",\"ref\":6,\"ok\":true,\"data\":null}");
    ASSERT_TRUE(c[2].pc.rcv.doc_subs == NULL);
    ASSERT_EQ(docs_find(room, "d1")->subs.count, 2);
    for (int i = 0; i < 3; i++) ASSERT_EQ(c[i].pc.pending, 0);

    /* c2 is out of the room when the document it asked for has loaded: the answer refuses
     * it on the member's side and subscribes nothing, so the document is not kept. */
    app_fx_handle(a, &c[2], "{\"op\":\"doc_open\",\"ref\":7,\"room\":\"%s\",\"doc\":\"d2\"}",
                  id);
    ASSERT_EQ(c[2].pc.pending, 1);
    rooms_client_gone(&a->rooms, &c[2].pc.rcv); /* its room subscription ends */
    app_fx_settle(loop, &c[2]);
    ASSERT_STREQ(c[2].text, "{\"op\":\"reply\",\"ref\":7,\"ok\":false,\"error\":{\"code\":"
                            "\"forbidden\",\"message\":\"join the room first\"}}");
    ASSERT_TRUE(c[2].pc.rcv.doc_subs == NULL);
    ASSERT_TRUE(docs_find(room, "d2") == NULL);

    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(proto_client_gone(&a->proto, &c[i].pc), 1);
        fake_client_free(&c[i]);
    }
    ASSERT_TRUE(docs_find(room, "d1") == NULL);
    ASSERT_EQ(app_fx_close(&f), 0);
}

int main(void)
{
    RUN(test_open_and_op);
    RUN(test_non_member);
    RUN(test_member_side_since);
    TEST_MAIN_END();
}
