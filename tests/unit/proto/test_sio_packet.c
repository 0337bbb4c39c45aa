/* test_sio_packet.c: Socket.IO 5 packets, with the spec's examples. */
#include "test.h"

#include "proto/sio_packet.h"

#define S(lit) lit, sizeof(lit) - 1

static int data_is(const sio_packet_t *p, const char *s)
{
    return p->len == strlen(s) && memcmp(p->data, s, p->len) == 0;
}

static void test_connect(void)
{
    sio_packet_t p;
    ASSERT_EQ(sio_decode(S("0"), &p), 0);
    ASSERT_EQ(p.type, SIO_CONNECT);
    ASSERT_TRUE(sio_nsp_is(&p, "/"));
    ASSERT_EQ(p.len, 0);
    ASSERT_EQ(sio_decode(S("0{\"token\":\"123\"}"), &p), 0);
    ASSERT_TRUE(data_is(&p, "{\"token\":\"123\"}"));
    ASSERT_EQ(sio_decode(S("0/admin,{\"token\":\"123\"}"), &p), 0);
    ASSERT_TRUE(sio_nsp_is(&p, "/admin"));
    ASSERT_TRUE(data_is(&p, "{\"token\":\"123\"}"));
    ASSERT_EQ(sio_decode(S("0/admin,"), &p), 0);
    ASSERT_TRUE(sio_nsp_is(&p, "/admin"));
    ASSERT_EQ(sio_decode(S("0[1]"), &p), SIO_EBAD);
    ASSERT_EQ(sio_decode(S("012"), &p), SIO_EBAD);
}

static void test_disconnect_and_error(void)
{
    sio_packet_t p;
    ASSERT_EQ(sio_decode(S("1"), &p), 0);
    ASSERT_EQ(p.type, SIO_DISCONNECT);
    ASSERT_EQ(sio_decode(S("1/admin,"), &p), 0);
    ASSERT_TRUE(sio_nsp_is(&p, "/admin"));
    ASSERT_EQ(sio_decode(S("1{}"), &p), SIO_EBAD);
    ASSERT_EQ(sio_decode(S("4{\"message\":\"Not authorized\"}"), &p), 0);
    ASSERT_EQ(p.type, SIO_CONNECT_ERROR);
    ASSERT_EQ(sio_decode(S("4"), &p), SIO_EBAD);
}

static void test_event(void)
{
    sio_packet_t p;
    ASSERT_EQ(sio_decode(S("2[\"foo\"]"), &p), 0);
    ASSERT_EQ(p.type, SIO_EVENT);
    ASSERT_EQ(p.has_id, 0);
    ASSERT_TRUE(data_is(&p, "[\"foo\"]"));
    ASSERT_EQ(sio_decode(S("2/admin,[\"bar\"]"), &p), 0);
    ASSERT_TRUE(sio_nsp_is(&p, "/admin"));
    ASSERT_EQ(sio_decode(S("212[\"foo\"]"), &p), 0);
    ASSERT_EQ(p.has_id, 1);
    ASSERT_EQ(p.id, 12);
    ASSERT_EQ(sio_decode(S("2/admin,456[\"project:delete\",123]"), &p), 0);
    ASSERT_EQ(p.id, 456);
    ASSERT_TRUE(data_is(&p, "[\"project:delete\",123]"));
    json_t *args;
    const char *name;
    ASSERT_EQ(sio_event_args(&p, &args, &name), 0);
    ASSERT_STREQ(name, "project:delete");
    ASSERT_EQ(json_array_size(args), 2);
    json_decref(args);
    ASSERT_EQ(sio_decode(S("2"), &p), SIO_EBAD);
    ASSERT_EQ(sio_decode(S("2{}"), &p), SIO_EBAD);
    ASSERT_EQ(sio_decode(S("21234567890123456[\"x\"]"), &p), SIO_EBAD); /* 16 digits */
    ASSERT_EQ(sio_decode(S("2123456789012345[\"x\"]"), &p), 0);
    ASSERT_EQ(p.id, 123456789012345LL);
}

static void test_event_args_bad(void)
{
    const char *bad[] = {"2[]",      "2[1]",       "2[\"a\\u0000b\"]",
                         "2[\"a\",", "2[\"a\"] x", "2[\"a\",{\"k\":1,\"k\":2}]"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sio_packet_t p;
        ASSERT_EQ(sio_decode(bad[i], strlen(bad[i]), &p), 0);
        json_t *args = (json_t *)1;
        const char *name = "x";
        ASSERT_EQ(sio_event_args(&p, &args, &name), SIO_EBAD);
        ASSERT_TRUE(args == NULL && name == NULL);
    }
}

static void test_ack(void)
{
    sio_packet_t p;
    ASSERT_EQ(sio_decode(S("3/admin,456[]"), &p), 0);
    ASSERT_EQ(p.type, SIO_ACK);
    ASSERT_EQ(p.id, 456);
    ASSERT_EQ(sio_decode(S("31[\"ok\"]"), &p), 0);
    ASSERT_EQ(p.id, 1);
    ASSERT_EQ(sio_decode(S("3[\"ok\"]"), &p), SIO_EBAD); /* no id */
}

static void test_binary(void)
{
    sio_packet_t p;
    ASSERT_EQ(sio_decode(S("51-[\"hello\",{\"_placeholder\":true,\"num\":0}]"), &p), 0);
    ASSERT_EQ(p.type, SIO_BINARY_EVENT);
    ASSERT_EQ(p.attachments, 1);
    ASSERT_EQ(sio_decode(
                  S("52-/admin,456[\"project:delete\",{\"_placeholder\":true,\"num\":0}]"), &p),
              0);
    ASSERT_EQ(p.attachments, 2);
    ASSERT_TRUE(sio_nsp_is(&p, "/admin"));
    ASSERT_EQ(p.id, 456);
    ASSERT_EQ(sio_decode(S("61-/admin,456[{\"_placeholder\":true,\"num\":0}]"), &p), 0);
    ASSERT_EQ(p.type, SIO_BINARY_ACK);
    ASSERT_EQ(sio_decode(S("5[\"x\"]"), &p), SIO_EBAD);      /* no count */
    ASSERT_EQ(sio_decode(S("51[\"x\"]"), &p), SIO_EBAD);     /* no dash */
    ASSERT_EQ(sio_decode(S("51001-[\"x\"]"), &p), SIO_EBAD); /* too many */
}

static void test_bad_type(void)
{
    sio_packet_t p;
    ASSERT_EQ(sio_decode("", 0, &p), SIO_EBAD);
    ASSERT_EQ(sio_decode(S("7"), &p), SIO_EBAD);
    ASSERT_EQ(sio_decode(S("a"), &p), SIO_EBAD);
}

int main(void)
{
    RUN(test_connect);
    RUN(test_disconnect_and_error);
    RUN(test_event);
    RUN(test_event_args_bad);
    RUN(test_ack);
    RUN(test_binary);
    RUN(test_bad_type);
    TEST_MAIN_END();
}
