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
#include "test_loop.h"
#include "rooms_fixture.h"

#include <stdarg.h>

#include "app/app.h"
#include "domain/home.h"

/* ---- fixtures ---- */

typedef struct {
    fx_t fx;        /* the rooms, the store, the local bus */
    home_t home;
} hfx_t;

static int hfx_open(hfx_t *h)
{
    if (rooms_fx_open(&h->fx, "home-docs", LOG_WARN, NULL) != 0) return -1;
    home_init(&h->home, &h->fx.r, h->fx.bus);
    home_docs_register(&h->home);
    return 0;
}

static int hfx_close(hfx_t *h)
{
    home_free(&h->home);
    return rooms_fx_close(&h->fx);
}

/* A connection: its frames, decoded (the events here are under 64 KiB). */
#define FRAMES_MAX 16

typedef struct {
    proto_client_t pc;
    int n;
    json_t *frames[FRAMES_MAX];
    char last[512];            /* the last frame's text */
    int released;
} reader_t;

static void r_send(proto_client_t *pc, cbuf_t *frame)
{
    reader_t *c = (reader_t *)pc;
    const uint8_t *p = frame->data + frame->off;
    size_t hdr = (p[1] & 0x7f) < 126 ? 2 : 4;
    size_t len = frame->len - hdr;
    if (c->n < FRAMES_MAX) c->frames[c->n] = json_loadb((const char *)p + hdr, len, 0, NULL);
    c->n++;
    if (len >= sizeof(c->last)) len = sizeof(c->last) - 1;
    memcpy(c->last, p + hdr, len);
    c->last[len] = 0;
}
static void r_close(proto_client_t *pc, int code, const char *reason)
{
    (void)pc, (void)code, (void)reason;
}
static const char *r_peer(proto_client_t *pc)
{
    (void)pc;
    return "127.0.0.1";
}
static void r_release(proto_client_t *pc)
{
    ((reader_t *)pc)->released++;
}
static const proto_transport_t r_tr = {r_send, r_close, r_peer, r_release, NULL};

static void reader_init(reader_t *c, bus_t *bus, const char *sub)
{
    memset(c, 0, sizeof(*c));
    c->pc.tr = &r_tr;
    c->pc.rcv.id = bus_member_next(bus);
    c->pc.authed = 1;
    snprintf(c->pc.user.sub, sizeof(c->pc.user.sub), "%s", sub);
}

static void reader_clear(reader_t *c)
{
    for (int i = 0; i < c->n && i < FRAMES_MAX; i++) json_decref(c->frames[i]);
    c->n = 0;
}

/* The doc_op events c got: how many, and the version of the last one (0: none). */
static int doc_events(const reader_t *c, int64_t *last_version)
{
    int k = 0;
    *last_version = 0;
    for (int i = 0; i < c->n && i < FRAMES_MAX; i++) {
        const char *op = json_string_value(json_object_get(c->frames[i], "op"));
        if (!op || strcmp(op, "doc_op") != 0) continue;
        k++;
        *last_version = json_integer_value(json_object_get(c->frames[i], "version"));
    }
    return k;
}

/* A room hosted by host in r; NULL on error. */
static room_t *make_room(rooms_t *r, uv_loop_t *loop, const char *host)
{
    auth_claims_t h;
    memset(&h, 0, sizeof(h));
    snprintf(h.sub, sizeof(h.sub), "%s", host);
    json_t *body = json_pack("{s:s}", "name", "docs at home");
    rooms_fx_outcome_t o = {0};
    rooms_create(r, &h, body, rooms_fx_done, &o);
    json_decref(body);
    if (!test_run_until(loop, &o.done, 5000) || !o.result) return NULL;
    const char *id =
        json_string_value(json_object_get(json_object_get(o.result, "room"), "id"));
    room_t *room = id ? rooms_get(r, id) : NULL;
    json_decref(o.result);
    return room;
}

/* The member's side of a route: what came back and how often; with sub set, it subscribes
 * that connection to the document it was answered, as proto_docs.c does for doc_open. */
typedef struct {
    int calls;
    int fresh;                 /* set by each answer (test_run_until waits for it) */
    bus_member_t member;
    int64_t ref;
    char code[32];
    char message[96];
    json_t *data;
    room_t *room;
    reader_t *sub;
} asker_t;

static void asker_reply(const bus_route_t *route, const char *code, const char *message,
                        json_t *data)
{
    asker_t *a = route->ud;
    a->calls++;
    a->fresh = 1;
    a->member = route->member;
    a->ref = route->ref;
    snprintf(a->code, sizeof(a->code), "%s", code ? code : "");
    snprintf(a->message, sizeof(a->message), "%s", message ? message : "");
    if (!code && a->sub) {
        doc_t *d = docs_find(a->room, json_string_value(json_object_get(data, "doc")));
        if (d) docs_subscribe(d, &a->sub->pc.rcv, json_integer_value(json_object_get(data, "version")));
    }
    json_decref(a->data);
    a->data = data;
}

/* Sends the op name with args (a JSON text) to room's home as connection c (its user), ref
 * ref, answered to a. */
static void send_op(bus_t *bus, room_t *room, const char *name, reader_t *c, int64_t ref,
                    const char *args, asker_t *a)
{
    json_t *j = json_loads(args, 0, NULL);
    CH_ASSERT(j != NULL);
    bus_op_t op = {.room = room->id, .name = name, .user = c->pc.user.sub, .args = j,
                   .route = {.member = c->pc.rcv.id, .ref = ref, .fn = asker_reply, .ud = a}};
    CH_ASSERT(bus_send_op(bus, &op) == 0);
    json_decref(j); /* the frame is gone; an answer later does not need it */
}

static int64_t data_int(const asker_t *a, const char *key)
{
    return json_integer_value(json_object_get(a->data, key));
}

/* ---- through the bus ---- */

static void test_open_and_op(void)
{
    hfx_t h;
    ASSERT_EQ(hfx_open(&h), 0);
    bus_t *bus = h.fx.bus;
    room_t *room = make_room(&h.fx.r, &h.fx.loop, "host");
    ASSERT_TRUE(room != NULL);
    reader_t c1, c2;
    reader_init(&c1, bus, "host");
    reader_init(&c2, bus, "host");
    asker_t a = {.room = room, .sub = &c1};

    /* doc_open of a document not in memory: answered once it loaded, through the route. */
    send_op(bus, room, "doc_open", &c1, 1, "{\"doc\": \"d1\"}", &a);
    ASSERT_EQ(a.calls, 0);
    ASSERT_TRUE(test_run_until(&h.fx.loop, &a.fresh, 5000));
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
    ASSERT_TRUE(test_run_until(&h.fx.loop, &a.fresh, 5000));
    ASSERT_EQ(a.calls, 3);
    ASSERT_STREQ(a.code, "");
    ASSERT_EQ(a.ref, 3);
    ASSERT_EQ(data_int(&a, "version"), 1);
    ASSERT_EQ(json_object_size(a.data), 1);
    int64_t v;
    ASSERT_EQ(doc_events(&c1, &v), 0);
    ASSERT_EQ(doc_events(&c2, &v), 1);
    ASSERT_EQ(v, 1);
    ASSERT_STREQ(json_string_value(json_object_get(c2.frames[0], "author")), "host");
    ASSERT_STREQ(json_string_value(json_object_get(c2.frames[0], "opId")), "o1");
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
    ASSERT_TRUE(test_run_until(&h.fx.loop, &a.fresh, 5000));
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

    /* Each op was answered exactly once: nothing more comes. */
    int never = 0;
    test_run_until(&h.fx.loop, &never, 50);
    ASSERT_EQ(a.calls, 10);

    json_decref(a.data);
    docs_client_gone(&h.fx.r, &c1.pc.rcv);
    docs_client_gone(&h.fx.r, &c2.pc.rcv);
    ASSERT_TRUE(docs_find(room, "d1") == NULL); /* unloaded with its last subscriber */
    reader_clear(&c1);
    reader_clear(&c2);
    ASSERT_EQ(hfx_close(&h), 0);
}

static void test_non_member(void)
{
    hfx_t h;
    ASSERT_EQ(hfx_open(&h), 0);
    bus_t *bus = h.fx.bus;
    room_t *room = make_room(&h.fx.r, &h.fx.loop, "host");
    ASSERT_TRUE(room != NULL);
    reader_t host, eve;
    reader_init(&host, bus, "host");
    reader_init(&eve, bus, "eve");
    asker_t a = {.room = room, .sub = &host};
    send_op(bus, room, "doc_open", &host, 1, "{\"doc\": \"d1\"}", &a);
    ASSERT_TRUE(test_run_until(&h.fx.loop, &a.fresh, 5000));
    ASSERT_STREQ(a.code, "");
    doc_t *d = docs_find(room, "d1");
    ASSERT_TRUE(d != NULL);

    /* eve is no participant: every op is refused at the home, at once, nothing changes. */
    asker_t e = {.room = room, .sub = &eve};
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
    int never = 0;
    test_run_until(&h.fx.loop, &never, 50);
    ASSERT_EQ(e.calls, 4);
    ASSERT_EQ(host.n, 0);

    json_decref(a.data);
    docs_client_gone(&h.fx.r, &host.pc.rcv);
    reader_clear(&host);
    ASSERT_EQ(hfx_close(&h), 0);
}

/* ---- the member's side (proto_docs.c), through an application context ---- */

/* Hands c's frame (printf-formatted) to the protocol, as the WebSocket layer does. */
static void handle(app_t *a, reader_t *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void handle(app_t *a, reader_t *c, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    proto_handle_text(&a->proto, &c->pc, text, strlen(text), uv_now(a->loop));
}

/* Runs the loop until c has no answer pending (or about 5 s went by). */
static void settle(uv_loop_t *loop, const reader_t *c)
{
    for (int i = 0; i < 2500 && c->pc.pending; i++) {
        int never = 0;
        test_run_until(loop, &never, 2);
    }
}

static void test_member_side_since(void)
{
    char dir[512];
    const char *tmp = getenv("CHORUS_TEST_TMP");
    if (!tmp || !*tmp) tmp = "/tmp";
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) tmp = "/tmp";
    snprintf(dir, sizeof(dir), "%s/chorus-home-docs-app-%ld", tmp, (long)getpid());
    ASSERT_TRUE(mkdir(dir, 0700) == 0 || errno == EEXIST);
    char db[600];
    snprintf(db, sizeof(db), "%s/chorus.db", dir);
    test_rm_db(db);
    chorus_config_t cfg;
    config_defaults(&cfg);
    free(cfg.data_dir);
    cfg.data_dir = ch_strdup(dir);
    static const unsigned char secret[] = "0123456789abcdef0123456789abcdef";
    auth_jwt_t *jwt = auth_jwt_new(AUTH_ALG_HS256, secret, 32, secret, 32, 0);
    ASSERT_TRUE(jwt != NULL);
    log_t lg;
    log_init(&lg, LOG_WARN, LOG_TEXT, stderr);
    uv_loop_t loop;
    uv_loop_init(&loop);
    app_t a;
    ASSERT_EQ(app_init(&a, &loop, &cfg, &lg, jwt), 0);
    room_t *room = make_room(&a.rooms, &loop, "ann");
    ASSERT_TRUE(room != NULL);
    char id[STORE_ID_LEN];
    snprintf(id, sizeof(id), "%s", room->id);

    /* Three connections of ann, joined. */
    reader_t c[3];
    for (int i = 0; i < 3; i++) {
        reader_init(&c[i], a.bus, "ann");
        proto_client_init(&c[i].pc, &a.proto.limits, &r_tr, uv_now(&loop));
        rooms_subscribe(&a.rooms, room, &c[i].pc.rcv);
    }

    /* c0 opens d1: answered once loaded, subscribed in the answer before the reply. */
    handle(&a, &c[0], "{\"op\":\"doc_open\",\"ref\":1,\"room\":\"%s\",\"doc\":\"d1\"}", id);
    ASSERT_EQ(c[0].pc.pending, 1);
    settle(&loop, &c[0]);
    ASSERT_STREQ(c[0].last, "{\"op\":\"reply\",\"ref\":1,\"ok\":true,\"data\":{\"doc\":\"d1\","
                            "\"text\":\"\",\"version\":0}}");
    ASSERT_TRUE(c[0].pc.rcv.doc_subs != NULL);
    ASSERT_EQ(c[0].pc.rcv.doc_subs->since, 0);
    handle(&a, &c[1], "{\"op\":\"doc_open\",\"ref\":1,\"room\":\"%s\",\"doc\":\"d1\"}", id);
    ASSERT_EQ(c[1].pc.pending, 0); /* in memory: answered at once */
    ASSERT_EQ(c[1].pc.rcv.doc_subs->since, 0);

    /* c0's op is applied and in the store when c2 opens: c2's snapshot has it, so its
     * subscription starts above version 1 and the op's event does not reach it. */
    handle(&a, &c[0],
           "{\"op\":\"doc_op\",\"ref\":2,\"room\":\"%s\",\"doc\":\"d1\",\"version\":0,"
           "\"delta\":[\"hi\"]}",
           id);
    ASSERT_EQ(c[0].pc.pending, 1);
    handle(&a, &c[2], "{\"op\":\"doc_open\",\"ref\":1,\"room\":\"%s\",\"doc\":\"d1\"}", id);
    ASSERT_STREQ(c[2].last, "{\"op\":\"reply\",\"ref\":1,\"ok\":true,\"data\":{\"doc\":\"d1\","
                            "\"text\":\"hi\",\"version\":1}}");
    ASSERT_EQ(c[2].pc.rcv.doc_subs->since, 1);
    settle(&loop, &c[0]);
    ASSERT_STREQ(c[0].last, "{\"op\":\"reply\",\"ref\":2,\"ok\":true,\"data\":{\"version\":1}}");
    int64_t v;
    ASSERT_EQ(doc_events(&c[0], &v), 0); /* the sender */
    ASSERT_EQ(doc_events(&c[1], &v), 1);
    ASSERT_EQ(v, 1);
    ASSERT_EQ(doc_events(&c[2], &v), 0); /* at or below its since */

    /* The next op reaches c2 (and c0), not c1, its sender. */
    handle(&a, &c[1],
           "{\"op\":\"doc_op\",\"ref\":3,\"room\":\"%s\",\"doc\":\"d1\",\"version\":1,"
           "\"delta\":[2,\"!\"]}",
           id);
    settle(&loop, &c[1]);
    ASSERT_STREQ(c[1].last, "{\"op\":\"reply\",\"ref\":3,\"ok\":true,\"data\":{\"version\":2}}");
    ASSERT_EQ(doc_events(&c[2], &v), 1);
    ASSERT_EQ(v, 2);
    ASSERT_EQ(doc_events(&c[0], &v), 1);
    ASSERT_EQ(v, 2);
    ASSERT_EQ(doc_events(&c[1], &v), 1);

    /* Checked on the member's side: an op on a document this connection has not open, a
     * doc_close of one; doc_close ends the subscription here. */
    handle(&a, &c[2],
           "{\"op\":\"doc_op\",\"ref\":4,\"room\":\"%s\",\"doc\":\"d2\",\"version\":0,"
           "\"delta\":[\"x\"]}",
           id);
    ASSERT_STREQ(c[2].last, "{\"op\":\"reply\",\"ref\":4,\"ok\":false,\"error\":{\"code\":"
                            "\"forbidden\",\"message\":\"open the document first "
                            "(doc_open)\"}}");
    handle(&a, &c[2], "{\"op\":\"doc_close\",\"ref\":5,\"room\":\"%s\",\"doc\":\"d2\"}", id);
    ASSERT_STREQ(c[2].last, "{\"op\":\"reply\",\"ref\":5,\"ok\":false,\"error\":{\"code\":"
                            "\"not_found\",\"message\":\"this document is not open on this "
                            "connection\"}}");
    handle(&a, &c[2], "{\"op\":\"doc_close\",\"ref\":6,\"room\":\"%s\",\"doc\":\"d1\"}", id);
    ASSERT_STREQ(c[2].last, "{\"op\":\"reply\",\"ref\":6,\"ok\":true,\"data\":null}");
    ASSERT_TRUE(c[2].pc.rcv.doc_subs == NULL);
    ASSERT_EQ(docs_find(room, "d1")->subs.count, 2);
    for (int i = 0; i < 3; i++) ASSERT_EQ(c[i].pc.pending, 0);

    /* c2 is out of the room when the document it asked for has loaded: the answer refuses
     * it on the member's side and subscribes nothing, so the document is not kept. */
    handle(&a, &c[2], "{\"op\":\"doc_open\",\"ref\":7,\"room\":\"%s\",\"doc\":\"d2\"}", id);
    ASSERT_EQ(c[2].pc.pending, 1);
    rooms_client_gone(&a.rooms, &c[2].pc.rcv); /* its room subscription ends */
    settle(&loop, &c[2]);
    ASSERT_STREQ(c[2].last, "{\"op\":\"reply\",\"ref\":7,\"ok\":false,\"error\":{\"code\":"
                            "\"forbidden\",\"message\":\"join the room first\"}}");
    ASSERT_TRUE(c[2].pc.rcv.doc_subs == NULL);
    ASSERT_TRUE(docs_find(room, "d2") == NULL);

    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(proto_client_gone(&a.proto, &c[i].pc), 1);
        reader_clear(&c[i]);
    }
    ASSERT_TRUE(docs_find(room, "d1") == NULL);
    app_close(&a);
    uv_run(&loop, UV_RUN_DEFAULT);
    app_store_close(&a);
    uv_run(&loop, UV_RUN_DEFAULT);
    app_free(&a);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    auth_jwt_free(jwt);
    config_free(&cfg);
    test_rm_db(db);
    rmdir(dir);
}

int main(void)
{
    RUN(test_open_and_op);
    RUN(test_non_member);
    RUN(test_member_side_since);
    TEST_MAIN_END();
}
