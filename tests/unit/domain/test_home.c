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

#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "app/app.h"
#include "util/config.h"
#include "domain/docs.h"
#include "domain/entities.h"
#include "domain/home.h"
#include "util/mem.h"
#include "domain/rooms.h"
#include "store/store.h"
#include "store/store_sqlite.h"

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

/* bus_reply_parts_fn: a success whose data is the object the parts make. */
static void asker_parts(const bus_route_t *route, const proto_part_t *parts, size_t nparts)
{
    json_t *o = json_object();
    for (size_t i = 0; i < nparts; i++) {
        const proto_part_t *p = &parts[i];
        if (p->obj) {
            json_object_update(o, (json_t *)p->obj);
        } else if (p->text) {
            json_object_set_new(o, p->key, json_loads(p->text, JSON_DECODE_ANY, NULL));
        } else {
            json_t *arr = json_array();
            for (size_t k = 0; k < p->n; k++)
                json_array_append_new(arr, json_loads(p->items[k], JSON_DECODE_ANY, NULL));
            json_object_set_new(o, p->key, arr);
        }
    }
    asker_reply(route, NULL, NULL, o);
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
    ASSERT_EQ(rooms_attach(&f.r, room, c1.pc.id, "host"), 0);
    ASSERT_EQ(rooms_subscribe(&f.r, room, &c1.pc), 0);
    ASSERT_EQ(rooms_attach(&f.r, room, c2.pc.id, "host"), 0);
    ASSERT_EQ(rooms_subscribe(&f.r, room, &c2.pc), 0);
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

/* Sends the join op of user over connection c (attach: it is not in the room yet) and
 * waits for the answer in a. */
static void join_op(fx_t *f, room_t *room, tclient_t *c, const char *user, int attach,
                    asker_t *a)
{
    json_t *args = json_pack("{s:I, s:s, s:s, s:b}", "since", (json_int_t)-1, "userName",
                             user, "userColor", "", "attach", attach);
    bus_op_t op = op_of(room->id, "join", user, args, c->pc.id, 7, a);
    op.route.parts_fn = asker_parts;
    a->fresh = 0;
    ASSERT_EQ(bus_send_op(f->bus, &op), 0);
    json_decref(args);
    ASSERT_TRUE(run_until(f, &a->fresh, 5000));
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
    tclient_t h, a1, a2;
    tclient_init(&h, f.bus, "host");
    tclient_init(&a1, f.bus, "ann");
    tclient_init(&a2, f.bus, "ann");
    asker_t a = {0};

    /* The host joins: answered at once (nothing to store) with the snapshot, attached by
     * its identity; its process subscribes it (as proto_rooms.c does in the answer). */
    join_op(&f, room, &h, "host", 1, &a);
    ASSERT_EQ(a.calls, 1);
    ASSERT_STREQ(a.code, "");
    ASSERT_EQ(a.member, h.pc.id);
    ASSERT_EQ(a.ref, 7);
    ASSERT_STREQ(json_string_value(json_object_get(json_object_get(a.data, "room"), "id")),
                 room->id);
    ASSERT_STREQ(json_string_value(json_object_get(a.data, "role")), "host");
    ASSERT_EQ(listed_online(a.data, "host"), 1);
    ASSERT_TRUE(json_is_object(json_object_get(a.data, "state")));
    ASSERT_EQ(json_integer_value(json_object_get(a.data, "lastSeq")), 0);
    ASSERT_TRUE(json_is_array(json_object_get(a.data, "messages")));
    ASSERT_EQ(room_member(room, "host")->online, 1);
    ASSERT_EQ(rooms_subscribe(&f.r, room, &h.pc), 0);

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
    ASSERT_EQ(rooms_subscribe(&f.r, room, &a1.pc), 0);

    /* Her second connection: attached too, nothing the others see. */
    hf = h.frames;
    join_op(&f, room, &a2, "ann", 1, &a);
    ASSERT_EQ(a.calls, 3);
    ASSERT_EQ(room_member(room, "ann")->online, 2);
    ASSERT_EQ(rooms_subscribe(&f.r, room, &a2.pc), 0);
    /* A join again over a connection already in the room attaches nothing more. */
    join_op(&f, room, &a1, "ann", 0, &a);
    ASSERT_EQ(a.calls, 4);
    ASSERT_EQ(room_member(room, "ann")->online, 2);
    ASSERT_EQ(h.frames, hf);

    /* Detach (by identity, fire and forget): offline only at her last connection. */
    rooms_client_gone(&f.r, &a1.pc);
    ASSERT_TRUE(a1.pc.subs == NULL);
    ASSERT_EQ(room_member(room, "ann")->online, 1);
    ASSERT_EQ(h.frames, hf);
    ASSERT_EQ(room_member(room, "ann")->release_at, 0);
    rooms_client_gone(&f.r, &a2.pc);
    ASSERT_EQ(room_member(room, "ann")->online, 0);
    ASSERT_EQ(h.frames, hf + 1); /* participant_left */
    ASSERT_TRUE(room_member(room, "ann")->release_at != 0); /* the seat's grace */

    /* A refused join answers the error through the route, attaching nothing. */
    memset(&a.code, 0, sizeof(a.code));
    json_t *args = json_pack("{s:s, s:s}", "displayName", "host", "userName", "x");
    bus_op_t op = op_of(room->id, "join", "zed", args, h.pc.id, 8, &a);
    op.route.parts_fn = asker_parts;
    a.fresh = 0;
    ASSERT_EQ(bus_send_op(f.bus, &op), 0);
    json_decref(args);
    ASSERT_TRUE(run_until(&f, &a.fresh, 5000));
    ASSERT_STREQ(a.code, "name_taken");
    ASSERT_TRUE(room_member(room, "zed") == NULL);

    json_decref(a.data);
    rooms_client_gone(&f.r, &h.pc);
    ASSERT_EQ(room_member(room, "host")->online, 0);
    ASSERT_EQ(fx_close(&f), 0);
}

/* ---- the member's side: frames in, replies out, through an app_t ---- */

/* A WebSocket client as the protocol sees it: the last frame's payload, and release. */
typedef struct {
    proto_client_t pc;
    int frames;
    int released;
    char last[512];
} wclient_t;

static void w_send(proto_client_t *pc, cbuf_t *frame)
{
    wclient_t *c = (wclient_t *)pc;
    const uint8_t *d = frame->data + frame->off;
    size_t h = (d[1] & 0x7f) < 126 ? 2 : 4; /* the replies here are under 64 KiB */
    size_t n = frame->len - h;
    if (n >= sizeof(c->last)) n = sizeof(c->last) - 1;
    memcpy(c->last, d + h, n);
    c->last[n] = 0;
    c->frames++;
}
static void w_release(proto_client_t *pc)
{
    ((wclient_t *)pc)->released++;
}
static const proto_transport_t w_tr = {w_send, t_close, t_peer, w_release, NULL};

/* Hands c's frame (printf-formatted) to the protocol, as the WebSocket layer does. */
static void handle(app_t *a, wclient_t *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void handle(app_t *a, wclient_t *c, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    proto_handle_text(&a->proto, &c->pc, text, strlen(text), uv_now(a->loop));
}

/* Runs the loop until c has no answer pending (or about 5 s went by). */
static void settle(fx_t *f, const wclient_t *c)
{
    for (int i = 0; i < 2500 && c->pc.pending; i++) {
        int never = 0;
        run_until(f, &never, 2);
    }
}

static void test_member_side(void)
{
    char dir[512];
    const char *tmp = getenv("CHORUS_TEST_TMP");
    if (!tmp || !*tmp) tmp = "/tmp";
    if (mkdir(tmp, 0700) != 0 && errno != EEXIST) tmp = "/tmp";
    snprintf(dir, sizeof(dir), "%s/chorus-home-app-%ld", tmp, (long)getpid());
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
    fx_t f; /* its loop only, for run_until */
    memset(&f, 0, sizeof(f));
    uv_loop_init(&f.loop);
    app_t a;
    ASSERT_EQ(app_init(&a, &f.loop, &cfg, &lg, jwt), 0);
    ASSERT_TRUE(a.bus->serve_ud == &a.home); /* the home serves the app's bus */

    /* ann hosts a room and has one connection subscribed to it. */
    auth_claims_t ann;
    memset(&ann, 0, sizeof(ann));
    snprintf(ann.sub, sizeof(ann.sub), "ann");
    json_t *body = json_pack("{s:s}", "name", "member side");
    outcome_t o = {0};
    rooms_create(&a.rooms, &ann, body, on_done, &o);
    json_decref(body);
    ASSERT_TRUE(run_until(&f, &o.done, 5000) && o.result);
    char id[STORE_ID_LEN];
    snprintf(id, sizeof(id), "%s",
             json_string_value(json_object_get(json_object_get(o.result, "room"), "id")));
    json_decref(o.result);
    room_t *room = rooms_get(&a.rooms, id);
    ASSERT_TRUE(room != NULL);
    wclient_t c;
    memset(&c, 0, sizeof(c));
    proto_client_init(&c.pc, &a.proto.limits, &w_tr, uv_now(&f.loop));
    c.pc.id = bus_member_next(a.bus);
    c.pc.authed = 1;
    c.pc.user = ann;

    /* join: answered with the room, the connection subscribed and its member online. */
    handle(&a, &c, "{\"op\":\"join\",\"ref\":0,\"room\":\"%s\"}", id);
    settle(&f, &c); /* the recent messages are read from the store first */
    static const char joined[] = "{\"op\":\"reply\",\"ref\":0,\"ok\":true,\"data\":{\"room\":{";
    ASSERT_MEMEQ(c.last, joined, strlen(joined));
    ASSERT_EQ(c.pc.pending, 0);
    ASSERT_TRUE(c.pc.subs != NULL && c.pc.subs->room == room);
    ASSERT_EQ(room_member(room, "ann")->online, 1);

    /* Answered at once, through the home: the reply's bytes, and nothing left pinned. */
    handle(&a, &c, "{\"op\":\"broadcast\",\"ref\":1,\"room\":\"%s\",\"event\":\"e\"}", id);
    ASSERT_STREQ(c.last, "{\"op\":\"reply\",\"ref\":1,\"ok\":true,\"data\":null}");
    ASSERT_EQ(c.pc.pending, 0);
    /* Any integer is a ref, -1 too. */
    handle(&a, &c, "{\"op\":\"broadcast\",\"ref\":-1,\"room\":\"%s\",\"event\":\"e\"}", id);
    ASSERT_STREQ(c.last, "{\"op\":\"reply\",\"ref\":-1,\"ok\":true,\"data\":null}");
    /* Without a ref: a success is not answered, an error is an error event (its field). */
    int frames = c.frames;
    handle(&a, &c, "{\"op\":\"presence\",\"room\":\"%s\",\"state\":{\"x\":1}}", id);
    ASSERT_EQ(c.frames, frames);
    handle(&a, &c, "{\"op\":\"broadcast\",\"room\":\"%s\",\"event\":\"\"}", id);
    ASSERT_STREQ(c.last, "{\"op\":\"error\",\"error\":{\"code\":\"validation_error\","
                         "\"field\":\"event\",\"message\":\"event must be a string of 1 "
                         "to 64 bytes\"}}");
    ASSERT_EQ(c.pc.pending, 0);

    /* Answered after the commit: pinned meanwhile. */
    frames = c.frames;
    handle(&a, &c,
           "{\"op\":\"message\",\"ref\":3,\"room\":\"%s\",\"type\":\"user_text\","
           "\"content\":\"hi\"}",
           id);
    ASSERT_EQ(c.frames, frames);
    ASSERT_EQ(c.pc.pending, 1);
    settle(&f, &c);
    ASSERT_EQ(c.pc.pending, 0);
    ASSERT_EQ(c.frames, frames + 1);
    static const char reply3[] = "{\"op\":\"reply\",\"ref\":3,\"ok\":true,\"data\":{\"message\":{";
    ASSERT_MEMEQ(c.last, reply3, strlen(reply3));
    ASSERT_TRUE(strstr(c.last, "\"seq\":1,") != NULL);
    ASSERT_TRUE(strstr(c.last, "\"success\"") == NULL);

    /* The connection goes before its answer: nothing is sent to it, and the answer's
     * arrival releases it, once. */
    handle(&a, &c,
           "{\"op\":\"message\",\"ref\":4,\"room\":\"%s\",\"type\":\"user_text\","
           "\"content\":\"bye\"}",
           id);
    ASSERT_EQ(c.pc.pending, 1);
    frames = c.frames;
    ASSERT_EQ(proto_client_gone(&a.proto, &c.pc), 0);
    ASSERT_TRUE(run_until(&f, &c.released, 5000));
    ASSERT_EQ(c.released, 1);
    ASSERT_EQ(c.frames, frames);
    ASSERT_EQ(c.pc.pending, 0);
    /* Its room's home was told: ann is offline. */
    ASSERT_TRUE(c.pc.subs == NULL);
    ASSERT_EQ(room_member(room, "ann")->online, 0);

    /* A join whose connection goes before its answer (bob is a new member: the answer
     * waits for the commit): nothing is sent to it, and the home detaches it, so bob is
     * not left online. */
    wclient_t d;
    memset(&d, 0, sizeof(d));
    proto_client_init(&d.pc, &a.proto.limits, &w_tr, uv_now(&f.loop));
    d.pc.id = bus_member_next(a.bus);
    d.pc.authed = 1;
    snprintf(d.pc.user.sub, sizeof(d.pc.user.sub), "bob");
    handle(&a, &d, "{\"op\":\"join\",\"ref\":1,\"room\":\"%s\"}", id);
    ASSERT_EQ(d.pc.pending, 1);
    ASSERT_EQ(proto_client_gone(&a.proto, &d.pc), 0);
    ASSERT_TRUE(run_until(&f, &d.released, 5000));
    ASSERT_EQ(d.frames, 0);
    ASSERT_TRUE(d.pc.subs == NULL);
    ASSERT_TRUE(room_member(room, "bob") != NULL);
    ASSERT_EQ(room_member(room, "bob")->online, 0);
    ASSERT_TRUE(room_member(room, "bob")->release_at != 0); /* the seat's grace */

    app_close(&a);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    app_store_close(&a);
    uv_run(&f.loop, UV_RUN_DEFAULT);
    app_free(&a);
    ASSERT_EQ(uv_loop_close(&f.loop), 0);
    auth_jwt_free(jwt);
    config_free(&cfg);
    test_rm_db(db);
    rmdir(dir);
}

int main(void)
{
    RUN(test_dispatch);
    RUN(test_room_ops);
    RUN(test_join_and_detach);
    RUN(test_member_side);
    TEST_MAIN_END();
}
