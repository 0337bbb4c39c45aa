/* test_bus.c: the bus (bus.h) through its local implementation, with fake receivers whose
 * table records the frames they are delivered: identities, framing once, skips, events
 * that unsubscribe the receivers they reach, operations and answers in parts. The frames
 * are the test's own (the event as one object, encoded by jansson): the protocol's bytes
 * are test_proto.c's. */
#include "bus/bus.h"

#include <jansson.h>

#include "util/mem.h"
#include "test.h"
#include "test_jpart.h"

typedef struct {
    bus_rcv_t rcv;    /* first: the receiver table casts back */
    const char *user;
    int frames;
    cbuf_t *last;     /* a reference to the last frame */
    bus_sub_t room;   /* its subscription to the room topic */
    bus_vsub_t doc;   /* to the document topic */
    unsigned kind;    /* its framing kind (f_kinds_ops) */
} fake_t;

/* The text of o (borrowed) as a buffer. */
static cbuf_t *f_text(const json_t *o)
{
    char *text = json_dumps(o, JSON_COMPACT);
    cbuf_t *b = cbuf_from(text, strlen(text));
    free(text);
    return b;
}

/* The event as one object: "op", "room", then the members of its parts. */
static cbuf_t *f_frame(const bus_event_t *ev)
{
    json_t *o = json_pack("{s:s, s:s}", "op", ev->name, "room", ev->room);
    test_jpart_add(o, ev->parts, ev->nparts);
    cbuf_t *b = f_text(o);
    json_decref(o);
    return b;
}
static void f_deliver(bus_rcv_t *r, cbuf_t *frame)
{
    fake_t *c = (fake_t *)r;
    c->frames++;
    cbuf_unref(c->last);
    c->last = cbuf_ref(frame);
}
static const char *f_user(const bus_rcv_t *r)
{
    return ((const fake_t *)r)->user;
}
static const bus_rcv_ops_t f_ops = {f_frame, f_deliver, f_user, NULL, NULL};

/* Receivers of several framing kinds: kind k's frame is "K<k>:" and kind 0's. */
static unsigned f_kind(const bus_rcv_t *r)
{
    return ((const fake_t *)r)->kind;
}
static cbuf_t *f_frame_as(const bus_event_t *ev, const bus_rcv_t *r)
{
    cbuf_t *inner = f_frame(ev);
    char head[8];
    snprintf(head, sizeof(head), "K%u:", f_kind(r));
    cbuf_t *b = cbuf_new(inner->len + 4);
    cbuf_append(&b, head, strlen(head));
    cbuf_append(&b, inner->data + inner->off, inner->len);
    cbuf_unref(inner);
    return b;
}
static const bus_rcv_ops_t f_kinds_ops = {f_frame, f_deliver, f_user, f_kind, f_frame_as};

static void fake_init(fake_t *c, bus_t *b, const char *user)
{
    memset(c, 0, sizeof(*c));
    c->rcv.id = bus_member_next(b);
    c->user = user;
}

static void fake_free(fake_t *c)
{
    cbuf_unref(c->last);
    c->last = NULL;
}

/* 1 when c's last frame holds exactly json. */
static int last_is(const fake_t *c, const char *json)
{
    if (!c->last) return 0;
    size_t n = strlen(json);
    return c->last->len == n && memcmp(c->last->data + c->last->off, json, n) == 0;
}

/* A room topic with n fake receivers subscribed (users ann, bob, ann, ...). */
typedef struct {
    bus_t *bus;
    bus_topic_t room;
    bus_topic_t doc;
    fake_t c[4];
    int room_marker, doc_marker;
} fx_t;

static void fx_open(fx_t *f, int subscribed)
{
    memset(f, 0, sizeof(*f));
    f->bus = bus_local_new(7, &f_ops);
    bus_topic_init(&f->room, f->bus);
    bus_topic_init(&f->doc, f->bus);
    static const char *const users[4] = {"ann", "bob", "ann", "cat"};
    for (int i = 0; i < 4; i++) {
        fake_init(&f->c[i], f->bus, users[i]);
        if (i >= subscribed) continue;
        f->c[i].room.rcv = &f->c[i].rcv;
        f->c[i].room.room = &f->room_marker;
        bus_subscribe(&f->room, &f->c[i].room, &f->c[i].rcv.subs);
    }
}

static void fx_close(fx_t *f)
{
    for (int i = 0; i < 4; i++) fake_free(&f->c[i]);
    bus_free(f->bus);
}

static void test_identities(void)
{
    bus_t *b = bus_local_new(7, &f_ops);
    bus_member_t a = bus_member_next(b), c = bus_member_next(b);
    ASSERT_TRUE(a != BUS_MEMBER_NONE && c != BUS_MEMBER_NONE && a != c);
    ASSERT_EQ(bus_member_node(a), 7);
    ASSERT_EQ(bus_member_node(c), 7);
    ASSERT_EQ(a, bus_member_make(7, 1));
    ASSERT_EQ(c, bus_member_make(7, 2));
    /* The same connection number on another node is another member. */
    ASSERT_NE(bus_member_make(8, 1), a);
    ASSERT_EQ(bus_member_node(bus_member_make(BUS_NODE_MAX, 5)), BUS_NODE_MAX);
    bus_free(b);
    bus_free(NULL);
}

/* A receiver holds its identity and its two list heads, nothing more: the bus's table
 * (framing, delivery, user) is one per bus, so a connection carries no pointer for it. */
static void test_receiver_size(void)
{
    ASSERT_EQ(sizeof(bus_rcv_t), sizeof(bus_member_t) + 2 * sizeof(bus_sub_t *));
    fx_t f;
    fx_open(&f, 1);
    ASSERT_TRUE(f.bus->rcv_ops == &f_ops);
    ASSERT_STREQ(bus_rcv_user(f.bus, &f.c[1].rcv), "bob");
    fx_close(&f);
}

/* Receivers of two kinds (the Chorus envelope, Socket.IO): one frame per kind, each shared
 * by the receivers of its kind. */
static void test_framed_once_per_kind(void)
{
    fx_t f;
    fx_open(&f, 4);
    f.bus->rcv_ops = &f_kinds_ops;
    f.c[1].kind = 1;
    f.c[3].kind = 1;
    bus_event_t ev = {.room = "r1", .name = "x"};
    ASSERT_EQ(bus_publish(&f.room, &ev), 4);
    ASSERT_EQ(f.bus->framed, 2);
    ASSERT_TRUE(f.c[0].last == f.c[2].last);
    ASSERT_TRUE(f.c[1].last == f.c[3].last);
    ASSERT_TRUE(f.c[0].last != f.c[1].last);
    ASSERT_TRUE(last_is(&f.c[0], "{\"op\":\"x\",\"room\":\"r1\"}"));
    ASSERT_TRUE(last_is(&f.c[3], "K1:{\"op\":\"x\",\"room\":\"r1\"}"));
    ASSERT_EQ(f.c[1].last->refcnt, 2);
    /* Only kind 1 receives: kind 0 is never framed. */
    ev.except_user = "ann"; /* c[0] and c[2] */
    ASSERT_EQ(bus_publish(&f.room, &ev), 2);
    ASSERT_EQ(f.bus->framed, 3);
    fx_close(&f);
}

static void test_framed_once_shared(void)
{
    fx_t f;
    fx_open(&f, 4);
    json_t *fields = json_pack("{s:s, s:i}", "event", "ping", "n", 1);
    jpart_t part = {.obj = fields};
    bus_event_t ev = {.room = "r1", .name = "broadcast", .parts = &part, .nparts = 1};
    ASSERT_EQ(bus_publish(&f.room, &ev), 4);
    ASSERT_EQ(f.bus->framed, 1);
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ(f.c[i].frames, 1);
        ASSERT_TRUE(f.c[i].last == f.c[0].last); /* the same buffer */
    }
    ASSERT_EQ(f.c[0].last->refcnt, 4); /* the receivers' references only */
    ASSERT_TRUE(last_is(&f.c[0], "{\"op\":\"broadcast\",\"room\":\"r1\",\"event\":\"ping\",\"n\":1}"));
    /* Every part is handed to the framing, in order (that text already encoded is copied
     * as it is: test_proto.c). */
    jpart_t parts[2] = {{.obj = fields}, {.key = "participant", .text = "{\"a\": 1}"}};
    ev = (bus_event_t){.room = "r1", .name = "participant_joined", .parts = parts, .nparts = 2};
    ASSERT_EQ(bus_publish(&f.room, &ev), 4);
    ASSERT_EQ(f.bus->framed, 2);
    ASSERT_TRUE(last_is(&f.c[3], "{\"op\":\"participant_joined\",\"room\":\"r1\",\"event\":\"ping\","
                                 "\"n\":1,\"participant\":{\"a\":1}}"));
    /* No payload: the name and the room. */
    ev = (bus_event_t){.room = "r1", .name = "x"};
    ASSERT_EQ(bus_publish(&f.room, &ev), 4);
    ASSERT_TRUE(last_is(&f.c[1], "{\"op\":\"x\",\"room\":\"r1\"}"));
    json_decref(fields);
    fx_close(&f);
}

static void test_skip_member(void)
{
    fx_t f;
    fx_open(&f, 4);
    bus_event_t ev = {.room = "r1", .name = "message", .seq = 5, .except = f.c[2].rcv.id};
    ASSERT_EQ(bus_publish(&f.room, &ev), 3);
    ASSERT_EQ(f.c[0].frames, 1);
    ASSERT_EQ(f.c[1].frames, 1);
    ASSERT_EQ(f.c[2].frames, 0); /* the sender; ann's other connection still gets it */
    ASSERT_EQ(f.c[3].frames, 1);
    /* A member of another node is nobody here. */
    ev.except = bus_member_make(8, 3);
    ASSERT_EQ(bus_publish(&f.room, &ev), 4);
    /* To one connection only. */
    ev = (bus_event_t){.room = "r1", .name = "kicked", .to = f.c[1].rcv.id};
    ASSERT_EQ(bus_publish(&f.room, &ev), 1);
    ASSERT_EQ(f.c[0].frames, 2);
    ASSERT_EQ(f.c[1].frames, 3);
    ASSERT_EQ(f.c[2].frames, 1);
    ASSERT_TRUE(last_is(&f.c[1], "{\"op\":\"kicked\",\"room\":\"r1\"}"));
    ev.to = bus_member_make(8, 2); /* not here */
    ASSERT_EQ(bus_publish(&f.room, &ev), 0);
    fx_close(&f);
}

static void test_skip_user(void)
{
    fx_t f;
    fx_open(&f, 4);
    bus_event_t ev = {.room = "r1", .name = "presence", .except_user = "ann"};
    ASSERT_EQ(bus_publish(&f.room, &ev), 2);
    ASSERT_EQ(f.c[0].frames, 0);
    ASSERT_EQ(f.c[1].frames, 1);
    ASSERT_EQ(f.c[2].frames, 0);
    ASSERT_EQ(f.c[3].frames, 1);
    fx_close(&f);
}

static void test_doc_since(void)
{
    fx_t f;
    fx_open(&f, 0);
    int64_t since[3] = {3, 5, 9};
    for (int i = 0; i < 3; i++) {
        f.c[i].doc.sub.rcv = &f.c[i].rcv;
        f.c[i].doc.sub.room = &f.doc_marker;
        f.c[i].doc.since = since[i];
        bus_subscribe(&f.doc, &f.c[i].doc.sub, &f.c[i].rcv.doc_subs);
    }
    /* Version 6: c[2] opened at 9 and has it already; c[0] sent it. */
    bus_event_t ev = {.room = "r1", .doc = "main", .name = "doc_op", .version = 6,
                      .except = f.c[0].rcv.id};
    ASSERT_EQ(bus_publish(&f.doc, &ev), 1);
    ASSERT_EQ(f.c[0].frames, 0);
    ASSERT_EQ(f.c[1].frames, 1);
    ASSERT_EQ(f.c[2].frames, 0);
    /* At the version a subscriber opened at, it is skipped too. */
    ev = (bus_event_t){.room = "r1", .doc = "main", .name = "doc_op", .version = 5};
    ASSERT_EQ(bus_publish(&f.doc, &ev), 1);
    ASSERT_EQ(f.c[0].frames, 1);
    ASSERT_EQ(f.c[1].frames, 1);
    for (int i = 0; i < 3; i++)
        bus_unsubscribe(&f.doc, &f.c[i].doc.sub);
    fx_close(&f);
}

static void test_no_frame_without_receiver(void)
{
    fx_t f;
    fx_open(&f, 0);
    json_t *fields = json_pack("{s:s}", "k", "v");
    jpart_t part = {.obj = fields};
    bus_event_t ev = {.room = "r1", .name = "broadcast", .parts = &part, .nparts = 1};
    ASSERT_EQ(bus_publish(&f.room, &ev), 0);
    ASSERT_EQ(f.bus->framed, 0);
    /* Subscribers that are all skipped are no receivers either. */
    f.c[0].room.rcv = &f.c[0].rcv;
    f.c[0].room.room = &f.room_marker;
    bus_subscribe(&f.room, &f.c[0].room, &f.c[0].rcv.subs);
    ev.except = f.c[0].rcv.id;
    ASSERT_EQ(bus_publish(&f.room, &ev), 0);
    ev.except = BUS_MEMBER_NONE;
    ev.except_user = "ann";
    ASSERT_EQ(bus_publish(&f.room, &ev), 0);
    ASSERT_EQ(f.bus->framed, 0);
    ASSERT_EQ(f.c[0].frames, 0);
    json_decref(fields);
    fx_close(&f);
}

static void test_subscriptions(void)
{
    fx_t f;
    fx_open(&f, 3);
    ASSERT_EQ(f.room.count, 3);
    ASSERT_TRUE(bus_find(f.c[1].rcv.subs, &f.room_marker) == &f.c[1].room);
    ASSERT_TRUE(bus_find(f.c[3].rcv.subs, &f.room_marker) == NULL);
    /* c[1] opens the document too: its document list is apart from its rooms. */
    f.c[1].doc.sub.rcv = &f.c[1].rcv;
    f.c[1].doc.sub.room = &f.doc_marker;
    bus_subscribe(&f.doc, &f.c[1].doc.sub, &f.c[1].rcv.doc_subs);
    ASSERT_EQ(bus_count(f.c[1].rcv.subs), 1);
    ASSERT_EQ(bus_count(f.c[1].rcv.doc_subs), 1);
    ASSERT_TRUE(bus_find(f.c[1].rcv.subs, &f.doc_marker) == NULL);
    ASSERT_TRUE(bus_find(f.c[1].rcv.doc_subs, &f.doc_marker) == &f.c[1].doc.sub);
    /* Out of the middle of the topic's list. */
    bus_unsubscribe(&f.room, &f.c[1].room);
    ASSERT_EQ(f.room.count, 2);
    ASSERT_TRUE(f.c[1].rcv.subs == NULL);
    ASSERT_EQ(bus_count(f.c[1].rcv.doc_subs), 1);
    bus_event_t ev = {.room = "r1", .name = "x"};
    ASSERT_EQ(bus_publish(&f.room, &ev), 2);
    ASSERT_EQ(f.c[1].frames, 0);
    bus_unsubscribe(&f.room, &f.c[0].room);
    bus_unsubscribe(&f.room, &f.c[2].room);
    ASSERT_EQ(f.room.count, 0);
    ASSERT_TRUE(f.room.head == NULL);
    bus_unsubscribe(&f.doc, &f.c[1].doc.sub);
    ASSERT_TRUE(f.doc.head == NULL && f.c[1].rcv.doc_subs == NULL);
    fx_close(&f);
}

/* ---- the operations side ---- */

typedef struct {
    int calls;
    char room[16], name[16], user[16];
    json_int_t n;
    bus_route_t route; /* kept to answer later */
} home_t;

static void home_serve(void *ud, const bus_op_t *op)
{
    home_t *h = ud;
    h->calls++;
    snprintf(h->room, sizeof(h->room), "%s", op->room);
    snprintf(h->name, sizeof(h->name), "%s", op->name);
    snprintf(h->user, sizeof(h->user), "%s", op->user);
    h->n = json_integer_value(json_object_get(op->args, "n"));
    if (h->n < 0) bus_reply(&op->route, "bad_request", "n must not be negative", NULL);
    else if (h->n == 0) h->route = op->route; /* answered later */
    else bus_reply(&op->route, NULL, NULL, json_pack("{s:I}", "twice", h->n * 2));
}

typedef struct {
    int calls;
    bus_member_t member;
    int64_t ref;
    char code[32];
    json_int_t twice;
} asker_t;

static void asker_reply(const bus_route_t *route, const char *code, const char *message,
                        json_t *data)
{
    asker_t *a = route->ud;
    (void)message;
    a->calls++;
    a->member = route->member;
    a->ref = route->ref;
    snprintf(a->code, sizeof(a->code), "%s", code ? code : "");
    a->twice = data ? json_integer_value(json_object_get(data, "twice")) : -1;
    json_decref(data);
}

static void test_ops(void)
{
    bus_t *b = bus_local_new(3, &f_ops);
    bus_member_t me = bus_member_next(b);
    asker_t a = {0};
    json_t *args = json_pack("{s:I}", "n", (json_int_t)21);
    bus_op_t op = {.room = "r1", .name = "double", .user = "ann", .args = args,
                   .route = {.member = me, .ref = 12, .fn = asker_reply, .ud = &a}};
    /* Nobody serves rooms yet. */
    ASSERT_EQ(bus_send_op(b, &op), -1);
    ASSERT_EQ(a.calls, 0);
    home_t h = {0};
    bus_serve(b, home_serve, &h);
    ASSERT_EQ(bus_send_op(b, &op), 0);
    ASSERT_EQ(h.calls, 1);
    ASSERT_STREQ(h.room, "r1");
    ASSERT_STREQ(h.name, "double");
    ASSERT_STREQ(h.user, "ann");
    ASSERT_EQ(a.calls, 1);
    ASSERT_EQ(a.member, me);
    ASSERT_EQ(a.ref, 12);
    ASSERT_STREQ(a.code, "");
    ASSERT_EQ(a.twice, 42);
    /* An error. */
    json_object_set_new(args, "n", json_integer(-1));
    ASSERT_EQ(bus_send_op(b, &op), 0);
    ASSERT_EQ(a.calls, 2);
    ASSERT_STREQ(a.code, "bad_request");
    ASSERT_EQ(a.twice, -1);
    /* Answered after the call returned, through the route kept by value. */
    json_object_set_new(args, "n", json_integer(0));
    op.route.ref = 13;
    ASSERT_EQ(bus_send_op(b, &op), 0);
    ASSERT_EQ(a.calls, 2);
    bus_reply(&h.route, NULL, NULL, NULL);
    ASSERT_EQ(a.calls, 3);
    ASSERT_EQ(a.ref, 13);
    ASSERT_STREQ(a.code, "");
    json_decref(args);
    bus_free(b);
}

static int never_ready(bus_t *b)
{
    (void)b;
    return 0;
}

/* bus_ready: the local bus is always ready; an implementation's ready hook decides. */
static void test_ready(void)
{
    bus_t *b = bus_local_new(3, &f_ops);
    ASSERT_EQ(bus_ready(b), 1);
    bus_vtable_t vt = *b->vt;
    vt.ready = never_ready;
    const bus_vtable_t *saved = b->vt;
    b->vt = &vt;
    ASSERT_EQ(bus_ready(b), 0);
    b->vt = saved;
    bus_free(b);
}

/* bus_drop_fn of the fakes: their subscriptions are embedded, so unsubscribed only. */
static void fake_drop(void *ud, bus_topic_t *t, bus_sub_t *s)
{
    (*(int *)ud)++;
    bus_unsubscribe(t, s);
}

static void test_unsubscribe(void)
{
    fx_t f;
    fx_open(&f, 4);
    int dropped = 0;
    bus_on_drop(f.bus, fake_drop, &dropped);
    /* To one user's connections (ann: c[0] and c[2]), which then leave the topic. */
    json_t *fields = json_pack("{s:b}", "ban", 0);
    jpart_t part = {.obj = fields};
    bus_event_t ev = {.room = "r1", .name = "kicked", .parts = &part, .nparts = 1,
                      .to_user = "ann", .unsubscribe = 1};
    ASSERT_EQ(bus_publish(&f.room, &ev), 2);
    json_decref(fields);
    ASSERT_EQ(dropped, 2);
    ASSERT_EQ(f.bus->framed, 1);
    ASSERT_TRUE(last_is(&f.c[0], "{\"op\":\"kicked\",\"room\":\"r1\",\"ban\":false}"));
    ASSERT_TRUE(f.c[0].last == f.c[2].last); /* one buffer */
    ASSERT_EQ(f.c[1].frames + f.c[3].frames, 0);
    ASSERT_TRUE(f.c[0].rcv.subs == NULL && f.c[2].rcv.subs == NULL);
    ASSERT_EQ(f.room.count, 2);
    /* No name: no frame, every receiver dropped. */
    bus_event_t all = {.room = "r1", .unsubscribe = 1};
    ASSERT_EQ(bus_publish(&f.room, &all), 2);
    ASSERT_EQ(dropped, 4);
    ASSERT_EQ(f.bus->framed, 1);
    ASSERT_EQ(f.c[1].frames + f.c[3].frames, 0);
    ASSERT_EQ(f.room.count, 0);
    ASSERT_TRUE(f.room.head == NULL);
    fx_close(&f);
}

/* The member's side of a route answered with parts: the object they make, as text. */
static void parts_reply(const bus_route_t *route, const jpart_t *parts, size_t nparts)
{
    cbuf_t **out = route->ud;
    json_t *o = json_object();
    test_jpart_add(o, parts, nparts);
    *out = f_text(o);
    json_decref(o);
}

static void test_reply_parts(void)
{
    const char *items[2] = {"{\"a\":1}", "2"};
    json_t *head = json_pack("{s:s}", "room", "r1");
    jpart_t parts[3] = {{.obj = head},
                             {.key = "participant", .text = "{\"userId\":\"ann\"}"},
                             {.key = "messages", .items = items, .n = 2}};
    cbuf_t *got = NULL;
    bus_route_t route = {.member = 1, .ref = 5, .parts_fn = parts_reply, .ud = &got};
    bus_reply_parts(&route, parts, 3);
    json_decref(head);
    ASSERT_TRUE(got != NULL);
    const char *want = "{\"room\":\"r1\",\"participant\":{\"userId\":\"ann\"},"
                       "\"messages\":[{\"a\":1},2]}";
    ASSERT_EQ(got->len, strlen(want));
    ASSERT_MEMEQ(got->data + got->off, want, strlen(want));
    cbuf_unref(got);
    /* A fire-and-forget route drops whatever comes. */
    bus_reply_ignore(&route, NULL, NULL, json_pack("{s:i}", "x", 1));
}

int main(void)
{
    RUN(test_identities);
    RUN(test_ready);
    RUN(test_receiver_size);
    RUN(test_framed_once_shared);
    RUN(test_framed_once_per_kind);
    RUN(test_skip_member);
    RUN(test_skip_user);
    RUN(test_doc_since);
    RUN(test_no_frame_without_receiver);
    RUN(test_subscriptions);
    RUN(test_ops);
    RUN(test_unsubscribe);
    RUN(test_reply_parts);
    TEST_MAIN_END();
}
