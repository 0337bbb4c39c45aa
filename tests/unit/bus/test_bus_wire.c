/* test_bus_wire.c: the cluster bus's messages (bus_wire.h): events, ops and replies read
 * back as written, object parts split into members, and what a reader refuses. */
#include "test.h"

#include "bus/bus_wire.h"
#include "util/jscan.h"

static const uint8_t *bytes(const cbuf_t *b)
{
    return b->data + b->off;
}

static void test_event_round_trip(void)
{
    json_t *obj = json_pack("{s:s, s:i}", "userId", "ann", "seq", 7);
    const char *items[] = {"{\"a\":1}", "2"};
    jpart_t parts[] = {
        {.obj = obj},
        {.key = "message", .text = "{\"id\":\"m1\"}"},
        {.key = "recent", .items = items, .n = 2},
    };
    bus_event_t ev = {.room = "r1",
                      .name = "message",
                      .parts = parts,
                      .nparts = 3,
                      .seq = 42,
                      .version = -3,
                      .except = bus_member_make(2, 9),
                      .to_user = "bob",
                      .unsubscribe = 1};
    cbuf_t *b = NULL;
    ASSERT_EQ(bus_wire_event_write(&ev, &b), 0);
    json_decref(obj);
    ASSERT_EQ(bus_wire_kind(bytes(b), b->len), 'E');
    bus_wire_event_t r;
    ASSERT_EQ(bus_wire_event_read(bytes(b), b->len, &r), 0);
    ASSERT_STREQ(r.room, "r1");
    ASSERT_STREQ(r.name, "message");
    ASSERT_TRUE(r.doc == NULL && r.except_user == NULL);
    ASSERT_STREQ(r.to_user, "bob");
    ASSERT_EQ(r.seq, 42);
    ASSERT_EQ(r.version, -3);
    ASSERT_EQ(r.except, bus_member_make(2, 9));
    ASSERT_EQ(r.to, BUS_MEMBER_NONE);
    ASSERT_EQ(r.unsubscribe, 1);
    /* The object went as one part per member, in its order. */
    ASSERT_EQ(r.nparts, 4);
    ASSERT_STREQ(r.parts[0].key, "userId");
    ASSERT_STREQ(r.parts[0].text, "\"ann\"");
    ASSERT_STREQ(r.parts[1].key, "seq");
    ASSERT_STREQ(r.parts[1].text, "7");
    ASSERT_STREQ(r.parts[2].text, "{\"id\":\"m1\"}");
    ASSERT_EQ(r.parts[2].len, 11);
    ASSERT_STREQ(r.parts[3].key, "recent");
    ASSERT_STREQ(r.parts[3].text, "[{\"a\":1},2]");
    /* Every shorter prefix, and one byte more, is refused. */
    for (size_t n = 0; n < b->len; n++)
        ASSERT_EQ(bus_wire_event_read(bytes(b), n, &r), BUS_WIRE_EBAD);
    cbuf_t *longer = cbuf_from(bytes(b), b->len);
    cbuf_append(&longer, "x", 1);
    ASSERT_EQ(bus_wire_event_read(bytes(longer), longer->len, &r), BUS_WIRE_EBAD);
    cbuf_unref(longer);
    /* Read as another kind, it is refused. */
    bus_wire_op_t op;
    ASSERT_EQ(bus_wire_op_read(bytes(b), b->len, &op), BUS_WIRE_EBAD);
    cbuf_unref(b);
}

static void test_event_limits(void)
{
    /* A key that is not a plain name, or too many parts, is not written. */
    jpart_t bad[] = {{.key = "a\"b", .text = "1"}};
    bus_event_t ev = {.room = "r", .name = "x", .parts = bad, .nparts = 1};
    cbuf_t *b = (cbuf_t *)1;
    ASSERT_EQ(bus_wire_event_write(&ev, &b), BUS_WIRE_ETOOMANY);
    ASSERT_TRUE(b == NULL);
    json_t *big = json_object();
    char k[8];
    for (int i = 0; i <= BUS_WIRE_MAX_PARTS; i++) {
        snprintf(k, sizeof(k), "k%d", i);
        json_object_set_new(big, k, json_integer(i));
    }
    jpart_t many[] = {{.obj = big}};
    ev.parts = many;
    ASSERT_EQ(bus_wire_event_write(&ev, &b), BUS_WIRE_ETOOMANY);
    json_object_del(big, "k0");
    ASSERT_EQ(bus_wire_event_write(&ev, &b), 0);
    bus_wire_event_t r;
    ASSERT_EQ(bus_wire_event_read(bytes(b), b->len, &r), 0);
    ASSERT_EQ(r.nparts, BUS_WIRE_MAX_PARTS);
    cbuf_unref(b);
    json_decref(big);
    /* An event with no room is refused; a NUL inside a string too. */
    ev = (bus_event_t){.name = "x"};
    ASSERT_EQ(bus_wire_event_write(&ev, &b), 0);
    ASSERT_EQ(bus_wire_event_read(bytes(b), b->len, &r), BUS_WIRE_EBAD);
    cbuf_unref(b);
    ev = (bus_event_t){.room = "ab", .name = "x"};
    ASSERT_EQ(bus_wire_event_write(&ev, &b), 0);
    b->data[b->off + 2 + 4] = 0; /* the room's first byte */
    ASSERT_EQ(bus_wire_event_read(bytes(b), b->len, &r), BUS_WIRE_EBAD);
    b->data[b->off + 2 + 4] = 'a';
    b->data[b->off + 1] = BUS_WIRE_VERSION + 1;
    ASSERT_EQ(bus_wire_kind(bytes(b), b->len), 0);
    ASSERT_EQ(bus_wire_event_read(bytes(b), b->len, &r), BUS_WIRE_EBAD);
    cbuf_unref(b);
}

static void test_op_round_trip(void)
{
    json_t *args = json_pack("{s:s, s:I}", "displayName", "Ann", "since", (json_int_t)-1);
    bus_op_t op = {.room = "r1",
                   .name = "join",
                   .user = "ann",
                   .args = args,
                   .route = {.member = bus_member_make(3, 77), .ref = 12}};
    cbuf_t *b = NULL;
    ASSERT_EQ(bus_wire_op_write(&op, 3, 1001, &b), 0);
    json_decref(args);
    bus_wire_op_t r;
    ASSERT_EQ(bus_wire_kind(bytes(b), b->len), 'O');
    ASSERT_EQ(bus_wire_op_read(bytes(b), b->len, &r), 0);
    ASSERT_STREQ(r.room, "r1");
    ASSERT_STREQ(r.name, "join");
    ASSERT_STREQ(r.user, "ann");
    ASSERT_EQ(r.args_kind, BUS_WIRE_ARGS_TREE);
    ASSERT_STREQ(r.args, "{\"displayName\":\"Ann\",\"since\":-1}");
    ASSERT_EQ(r.args_len, strlen(r.args));
    ASSERT_EQ(r.member, bus_member_make(3, 77));
    ASSERT_EQ(r.ref, 12);
    ASSERT_EQ(r.node, 3);
    ASSERT_EQ(r.request, 1001);
    for (size_t n = 0; n < b->len; n++)
        ASSERT_EQ(bus_wire_op_read(bytes(b), n, &r), BUS_WIRE_EBAD);
    cbuf_unref(b);

    /* A scanned frame goes as its text; no arguments as none. */
    const char *text = "{\"op\":\"message\",\"content\":\"hi\"}";
    jscan_t scan;
    ASSERT_EQ(jscan_parse(&scan, text, strlen(text), 0), 0);
    op = (bus_op_t){
        .room = "r1", .name = "message", .user = "ann", .scan = &scan, .route = {.ref = -1}};
    ASSERT_EQ(bus_wire_op_write(&op, 1, 2, &b), 0);
    ASSERT_EQ(bus_wire_op_read(bytes(b), b->len, &r), 0);
    ASSERT_EQ(r.args_kind, BUS_WIRE_ARGS_SCAN);
    ASSERT_STREQ(r.args, text);
    ASSERT_EQ(r.ref, -1);
    ASSERT_EQ(r.member, BUS_MEMBER_NONE);
    cbuf_unref(b);
    op.scan = NULL;
    ASSERT_EQ(bus_wire_op_write(&op, 1, 3, &b), 0);
    ASSERT_EQ(bus_wire_op_read(bytes(b), b->len, &r), 0);
    ASSERT_EQ(r.args_kind, BUS_WIRE_ARGS_NONE);
    ASSERT_TRUE(r.args == NULL);
    /* An args kind that disagrees with the text is refused. */
    b->data[b->off + 2 + 3 * 4 + 3 + 8 + 4] = BUS_WIRE_ARGS_TREE; /* r1, message, ann */
    ASSERT_EQ(bus_wire_op_read(bytes(b), b->len, &r), BUS_WIRE_EBAD);
    cbuf_unref(b);
}

static void test_reply_round_trip(void)
{
    cbuf_t *b = NULL;
    bus_wire_reply_t r;
    /* Success with data, success with null, an error with its data. */
    json_t *data = json_pack("{s:b}", "ok", 1);
    ASSERT_EQ(bus_wire_reply_write(5, NULL, NULL, data, &b), 0);
    json_decref(data);
    ASSERT_EQ(bus_wire_reply_read(bytes(b), b->len, &r), 0);
    ASSERT_EQ(r.request, 5);
    ASSERT_TRUE(!r.is_parts && r.code == NULL && r.message == NULL);
    ASSERT_STREQ(r.data, "{\"ok\":true}");
    cbuf_unref(b);
    ASSERT_EQ(bus_wire_reply_write(6, NULL, NULL, NULL, &b), 0);
    ASSERT_EQ(bus_wire_reply_read(bytes(b), b->len, &r), 0);
    ASSERT_TRUE(r.data == NULL && r.code == NULL);
    cbuf_unref(b);
    data = json_pack("{s:s}", "field", "content");
    ASSERT_EQ(bus_wire_reply_write(7, "validation_error", "too long", data, &b), 0);
    json_decref(data);
    ASSERT_EQ(bus_wire_reply_read(bytes(b), b->len, &r), 0);
    ASSERT_STREQ(r.code, "validation_error");
    ASSERT_STREQ(r.message, "too long");
    ASSERT_STREQ(r.data, "{\"field\":\"content\"}");
    for (size_t n = 0; n < b->len; n++)
        ASSERT_EQ(bus_wire_reply_read(bytes(b), n, &r), BUS_WIRE_EBAD);
    cbuf_unref(b);
    /* Parts, as a join's snapshot. */
    const char *items[] = {"1"};
    jpart_t parts[] = {{.key = "room", .text = "{\"id\":\"r1\"}"},
                       {.key = "messages", .items = items, .n = 1},
                       {.key = "none", .items = items, .n = 0}};
    ASSERT_EQ(bus_wire_reply_parts_write(8, parts, 3, &b), 0);
    ASSERT_EQ(bus_wire_reply_read(bytes(b), b->len, &r), 0);
    ASSERT_TRUE(r.is_parts);
    ASSERT_EQ(r.request, 8);
    ASSERT_EQ(r.nparts, 3);
    ASSERT_STREQ(r.parts[1].text, "[1]");
    ASSERT_STREQ(r.parts[2].text, "[]");
    cbuf_unref(b);
}

int main(void)
{
    RUN(test_event_round_trip);
    RUN(test_event_limits);
    RUN(test_op_round_trip);
    RUN(test_reply_round_trip);
    TEST_MAIN_END();
}
