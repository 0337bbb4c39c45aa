/* test_eio_packet.c: Engine.IO 4 packets and polling payloads, with the spec's examples. */
#include "test.h"

#include "proto/eio_packet.h"
#include "proto/ws_frame.h"

#define S(lit) lit, sizeof(lit) - 1

static void test_types(void)
{
    eio_packet_t p;
    ASSERT_EQ(eio_decode(S("0{\"sid\":\"x\"}"), &p), 0);
    ASSERT_EQ(p.type, EIO_OPEN);
    ASSERT_EQ(p.len, 11);
    ASSERT_EQ(eio_decode(S("1"), &p), 0);
    ASSERT_EQ(p.type, EIO_CLOSE);
    ASSERT_EQ(eio_decode(S("2"), &p), 0);
    ASSERT_EQ(p.type, EIO_PING);
    ASSERT_EQ(p.len, 0);
    ASSERT_EQ(eio_decode(S("2probe"), &p), 0);
    ASSERT_EQ(p.type, EIO_PING);
    ASSERT_TRUE(p.len == 5 && memcmp(p.data, "probe", 5) == 0);
    ASSERT_EQ(eio_decode(S("3probe"), &p), 0);
    ASSERT_EQ(p.type, EIO_PONG);
    ASSERT_EQ(eio_decode(S("4hello"), &p), 0);
    ASSERT_EQ(p.type, EIO_MESSAGE);
    ASSERT_EQ(p.binary, 0);
    ASSERT_TRUE(p.len == 5 && memcmp(p.data, "hello", 5) == 0);
    ASSERT_EQ(eio_decode(S("5"), &p), 0);
    ASSERT_EQ(p.type, EIO_UPGRADE);
    ASSERT_EQ(eio_decode(S("6"), &p), 0);
    ASSERT_EQ(p.type, EIO_NOOP);
}

static void test_bad(void)
{
    eio_packet_t p;
    ASSERT_EQ(eio_decode("", 0, &p), EIO_EBAD);
    ASSERT_EQ(eio_decode(S("7"), &p), EIO_EBAD);
    ASSERT_EQ(eio_decode(S("x"), &p), EIO_EBAD);
    ASSERT_EQ(eio_decode(S("/"), &p), EIO_EBAD);
    ASSERT_EQ(eio_decode(S("bAQID="), &p), EIO_EBAD); /* not a multiple of 4 */
    ASSERT_EQ(eio_decode(S("bA=QI"), &p), EIO_EBAD);
    ASSERT_EQ(eio_decode(S("b!!!!"), &p), EIO_EBAD);
}

/* The spec's payload example: "hello", a binary 01 02 03 04, "€". */
static void test_payload_spec_example(void)
{
    const char payload[] = "4hello\x1e"
                           "bAQIDBA==\x1e"
                           "4\xe2\x82\xac";
    size_t off = 0, len = sizeof(payload) - 1;
    eio_packet_t p;
    ASSERT_EQ(eio_payload_next(payload, len, &off, &p), 1);
    ASSERT_EQ(p.type, EIO_MESSAGE);
    ASSERT_TRUE(p.len == 5 && memcmp(p.data, "hello", 5) == 0);
    ASSERT_EQ(eio_payload_next(payload, len, &off, &p), 1);
    ASSERT_EQ(p.binary, 1);
    ASSERT_TRUE(p.len == 8 && memcmp(p.data, "AQIDBA==", 8) == 0);
    ASSERT_EQ(eio_payload_next(payload, len, &off, &p), 1);
    ASSERT_EQ(p.type, EIO_MESSAGE);
    ASSERT_TRUE(p.len == 3 && memcmp(p.data, "\xe2\x82\xac", 3) == 0);
    ASSERT_EQ(eio_payload_next(payload, len, &off, &p), 0);
    ASSERT_EQ(off, len);
}

static void test_payload_bad(void)
{
    eio_packet_t p;
    size_t off = 0;
    ASSERT_EQ(eio_payload_next(S("4a\x1e"), &off, &p), EIO_EBAD); /* trailing separator */
    off = 0;
    ASSERT_EQ(eio_payload_next(S("\x1e"
                                 "4a"),
                               &off, &p),
              EIO_EBAD); /* empty record */
    off = 0;
    ASSERT_EQ(eio_payload_next(S("4a\x1e\x1e"
                                 "4b"),
                               &off, &p),
              1);
    ASSERT_EQ(eio_payload_next(S("4a\x1e\x1e"
                                 "4b"),
                               &off, &p),
              EIO_EBAD);
    off = 0;
    ASSERT_EQ(eio_payload_next("", 0, &off, &p), 0);
    off = 9;
    ASSERT_EQ(eio_payload_next(S("4a"), &off, &p), EIO_EBAD);
}

static void test_frame_payload(void)
{
    size_t lens[] = {0, 5, 125, 126, 65535, 65536};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        cbuf_t *b = cbuf_new(WS_MAX_HEADER + lens[i]);
        size_t h = ws_frame_header(b->data, WS_OP_TEXT, lens[i]);
        memset(b->data + h, '4', lens[i]);
        b->len = h + lens[i];
        size_t start = 0;
        ASSERT_EQ(eio_frame_payload(b, &start), lens[i]);
        ASSERT_EQ(start, h);
        cbuf_unref(b);
    }
}

int main(void)
{
    RUN(test_types);
    RUN(test_bad);
    RUN(test_payload_spec_example);
    RUN(test_payload_bad);
    RUN(test_frame_payload);
    TEST_MAIN_END();
}
