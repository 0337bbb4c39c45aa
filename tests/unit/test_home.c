/* test_home.c: the rooms' home (home.c, home_rooms.c) with the local bus and no sockets:
 * an op for a room that is not here answers not_found, an op nobody registered answers
 * unknown_op, a registered handler is called with its room and answers through the
 * route; the room ops answer now (broadcast, a refused argument) or after the store's
 * commit (message), always exactly once, with the route's ref and member. */
#include "test.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "config.h"
#include "docs.h"
#include "entities.h"
#include "home.h"
#include "mem.h"
#include "rooms.h"
#include "store.h"
#include "store_sqlite.h"

/* ---- fixtures ---- */

typedef struct {
    uv_loop_t loop;
    log_t log;
    chorus_config_t cfg;
    store_t *store;
    bus_t *bus;
    rooms_t r;
    home_t home;
    char db[512];
} fx_t;

static int fx_open(fx_t *f)
{
    memset(f, 0, sizeof(*f));
    const char *dir = getenv("CHORUS_TEST_TMP");
    if (!dir || !*dir) dir = "/tmp";
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) dir = "/tmp";
    snprintf(f->db, sizeof(f->db), "%s/chorus-home-%ld.db", dir, (long)getpid());
    test_rm_db(f->db);
    uv_loop_init(&f->loop);
    log_init(&f->log, LOG_WARN, LOG_TEXT, stderr);
    config_defaults(&f->cfg);
    char err[256];
    f->store = store_open(&store_sqlite_backend, f->db, &f->loop, &f->log, err, sizeof(err));
    if (!f->store) {
        fprintf(stderr, "store_open: %s\n", err);
        return -1;
    }
    f->bus = bus_local_new(0);
    static const rooms_feature_use_t features[] = {{&docs_feature, NULL},
                                                   {&entities_feature, NULL}};
    if (rooms_init(&f->r, &f->loop, &f->cfg, &f->log, f->store, f->bus, features,
                   CH_ARRAY_LEN(features)) != 0)
        return -1;
    home_init(&f->home, &f->r, f->bus);
    home_rooms_register(&f->home);
    return 0;
}

/* Closes everything and returns uv_loop_close's result (0: nothing was left open). */
static int fx_close(fx_t *f)
{
    rooms_close(&f->r);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    store_close(f->store);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    rooms_free(&f->r);
    home_free(&f->home);
    bus_free(f->bus);
    int rc = uv_loop_close(&f->loop);
    config_free(&f->cfg);
    test_rm_db(f->db);
    return rc;
}

static void on_keepalive(uv_timer_t *t)
{
    (void)t;
}

/* Runs the loop until *flag is set or ms went by; returns *flag. */
static int run_until(fx_t *f, const int *flag, uint64_t ms)
{
    uv_timer_t keep;
    uv_timer_init(&f->loop, &keep);
    uv_timer_start(&keep, on_keepalive, 5, 5);
    uint64_t end = uv_hrtime() + ms * 1000000u;
    while (!*flag && uv_hrtime() < end) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        if (!*flag) usleep(2000);
    }
    uv_close((uv_handle_t *)&keep, NULL);
    uv_run(&f->loop, UV_RUN_NOWAIT);
    return *flag;
}

/* A connection as the rooms see it: frames are counted. */
typedef struct {
    proto_client_t pc;
    int frames;
} tclient_t;

static void t_send(proto_client_t *pc, cbuf_t *frame)
{
    (void)frame;
    ((tclient_t *)pc)->frames++;
}
static void t_close(proto_client_t *pc, int code, const char *reason)
{
    (void)pc, (void)code, (void)reason;
}
static const char *t_peer(proto_client_t *pc)
{
    (void)pc;
    return "127.0.0.1";
}
static void t_release(proto_client_t *pc)
{
    (void)pc;
}
static const proto_transport_t t_tr = {t_send, t_close, t_peer, t_release, NULL};

static void tclient_init(tclient_t *c, bus_t *bus, const char *sub)
{
    memset(c, 0, sizeof(*c));
    c->pc.tr = &t_tr;
    c->pc.id = bus_member_next(bus);
    c->pc.authed = 1;
    snprintf(c->pc.user.sub, sizeof(c->pc.user.sub), "%s", sub);
}

typedef struct {
    int done;
    json_t *result;
} outcome_t;

static void on_done(void *ud, const rooms_err_t *err, json_t *result)
{
    outcome_t *o = ud;
    o->done = 1;
    if (err && err->kind) fprintf(stderr, "room op failed: %s\n", err->code);
    o->result = result;
}

static room_t *make_room(fx_t *f, const char *host)
{
    auth_claims_t h;
    memset(&h, 0, sizeof(h));
    snprintf(h.sub, sizeof(h.sub), "%s", host);
    json_t *body = json_pack("{s:s}", "name", "home");
    outcome_t o = {0};
    rooms_create(&f->r, &h, body, on_done, &o);
    json_decref(body);
    if (!run_until(f, &o.done, 5000) || !o.result) return NULL;
    const char *id =
        json_string_value(json_object_get(json_object_get(o.result, "room"), "id"));
    room_t *room = id ? rooms_get(&f->r, id) : NULL;
    json_decref(o.result);
    return room;
}

/* The member's side of a route: what came back, and how often. */
typedef struct {
    int calls;
    int fresh;                 /* set by each answer (run_until waits for it) */
    bus_member_t member;
    int64_t ref;
    char code[32];
    char message[96];
    json_t *data;
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
    json_decref(a->data);
    a->data = data;
}

static bus_op_t op_of(const char *room, const char *name, const char *user, const json_t *args,
                      bus_member_t member, int64_t ref, asker_t *a)
{
    return (bus_op_t){.room = room, .name = name, .user = user, .args = args,
                      .route = {.member = member, .ref = ref, .fn = asker_reply, .ud = a}};
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
    asker_t a = {0};

    /* No such room: not_found, as the member's side answers for a room it cannot find. */
    bus_op_t op = op_of("no-such-room", "probe", "host", args, me, 7, &a);
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    ASSERT_EQ(a.calls, 1);
    ASSERT_EQ(probe.calls, 0);
    ASSERT_STREQ(a.code, "not_found");
    ASSERT_STREQ(a.message, "no such room");
    ASSERT_EQ(a.ref, 7);
    ASSERT_EQ(a.member, me);
    ASSERT_TRUE(a.data == NULL);

    /* An op nobody registered: unknown_op, as the protocol's dispatcher words it. */
    op = op_of(room->id, "frobnicate", "host", args, me, 8, &a);
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    ASSERT_EQ(a.calls, 2);
    ASSERT_STREQ(a.code, "unknown_op");
    ASSERT_STREQ(a.message, "unknown op \"frobnicate\"");
    ASSERT_EQ(a.ref, 8);

    /* A registered op: called once with its room, answered through the route now. */
    op = op_of(room->id, "probe", "host", args, me, 9, &a);
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
    op = op_of(room->id, "p6", "host", args, me, 10, &a);
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    op = op_of(room->id, "message", "host", args, me, 11, &a); /* content missing */
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    ASSERT_EQ(probe.calls, 2);
    ASSERT_EQ(a.calls, 5);
    ASSERT_STREQ(a.code, "validation_error");

    json_decref(a.data);
    json_decref(args);
    ASSERT_EQ(fx_close(&f), 0);
}

static void test_room_ops(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f, "host");
    ASSERT_TRUE(room != NULL);
    /* Two connections of the host: one sends, the other hears. */
    tclient_t c1, c2;
    tclient_init(&c1, f.bus, "host");
    tclient_init(&c2, f.bus, "host");
    rooms_subscribe(&f.r, room, &c1.pc);
    rooms_subscribe(&f.r, room, &c2.pc);
    int before1 = c1.frames, before2 = c2.frames;
    asker_t a = {0};

    /* broadcast: answered now with null, the sender (the route's member) skipped. */
    json_t *args = json_pack("{s:s, s:{s:i}}", "event", "cursor", "data", "x", 1);
    bus_op_t op = op_of(room->id, "broadcast", "host", args, c1.pc.id, 1, &a);
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    json_decref(args);
    ASSERT_EQ(a.calls, 1);
    ASSERT_STREQ(a.code, "");
    ASSERT_TRUE(a.data == NULL);
    ASSERT_EQ(a.member, c1.pc.id);
    ASSERT_EQ(c1.frames, before1);
    ASSERT_EQ(c2.frames, before2 + 1);

    /* A refused argument: answered now, its field in the error's data. */
    args = json_pack("{s:i}", "event", 5);
    op = op_of(room->id, "broadcast", "host", args, c1.pc.id, 2, &a);
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    json_decref(args);
    ASSERT_EQ(a.calls, 2);
    ASSERT_STREQ(a.code, "validation_error");
    ASSERT_STREQ(a.message, "event must be a string of 1 to 64 bytes");
    ASSERT_STREQ(json_string_value(json_object_get(a.data, "field")), "event");

    args = json_pack("{s:i}", "limit", 0);
    op = op_of(room->id, "history", "host", args, c1.pc.id, 3, &a);
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
    op = op_of(room->id, "message", "host", args, c1.pc.id, 4, &a);
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    json_decref(args); /* the frame is gone; the answer does not need it */
    ASSERT_EQ(a.calls, 3);
    a.fresh = 0;
    ASSERT_TRUE(run_until(&f, &a.fresh, 5000));
    ASSERT_EQ(a.calls, 4);
    ASSERT_STREQ(a.code, "");
    ASSERT_EQ(a.ref, 4);
    ASSERT_EQ(a.member, c1.pc.id);
    json_t *m = json_object_get(a.data, "message");
    ASSERT_EQ(json_integer_value(json_object_get(m, "seq")), 1);
    ASSERT_STREQ(json_string_value(json_object_get(m, "content")), "hello");
    ASSERT_TRUE(json_object_get(a.data, "success") == NULL);
    ASSERT_EQ(c1.frames, before1);
    ASSERT_EQ(c2.frames, before2 + 1);

    /* history: after the store, the message there. */
    args = json_object();
    op = op_of(room->id, "history", "host", args, c1.pc.id, 5, &a);
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    json_decref(args);
    ASSERT_EQ(a.calls, 4);
    a.fresh = 0;
    ASSERT_TRUE(run_until(&f, &a.fresh, 5000));
    ASSERT_EQ(a.calls, 5);
    ASSERT_EQ(a.ref, 5);
    ASSERT_EQ(json_array_size(json_object_get(a.data, "messages")), 1);

    /* Nothing more comes: each op was answered exactly once. */
    int never = 0;
    run_until(&f, &never, 50);
    ASSERT_EQ(a.calls, 5);

    json_decref(a.data);
    rooms_client_gone(&f.r, &c1.pc);
    rooms_client_gone(&f.r, &c2.pc);
    ASSERT_EQ(fx_close(&f), 0);
}

int main(void)
{
    RUN(test_dispatch);
    RUN(test_room_ops);
    TEST_MAIN_END();
}
