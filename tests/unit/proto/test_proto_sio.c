/* test_proto_sio.c: Socket.IO on a protocol client (proto_sio.c): CONNECT, namespaces,
 * events run as ops with their replies as acks, error events, binary refused, extra event
 * handlers, and the framing of replies (wrapped) and bus events (Socket.IO kind). */
#include "test.h"

#include "fake_client.h"
#include "proto/eio_packet.h"
#include "proto/proto_sio.h"

static log_t quiet;

/* The Socket.IO transport as conn_sio.c makes it: envelopes wrapped, packets as they are. */
static void sio_send(proto_client_t *pc, cbuf_t *frame)
{
    if (!proto_sio_is_envelope(frame)) {
        fake_client_send(pc, frame);
        return;
    }
    cbuf_t *b = proto_sio_wrap(frame);
    fake_client_send(pc, b);
    cbuf_unref(b);
}

static const proto_transport_t sio_tr = {sio_send,
                                         fake_client_close,
                                         fake_client_peer,
                                         fake_client_release,
                                         fake_client_settled,
                                         &proto_sio_dialect,
                                         NULL};

typedef struct {
    proto_t p;
    proto_sio_t sio;
    fake_client_t c;
    proto_sio_conn_t st;
} fx_t;

static void op_secret(proto_req_t *req)
{
    (void)req;
}
static const proto_op_t private_ops[] = {{"secret", op_secret, 0}};

static void fx_open(fx_t *f, uint32_t rate, uint32_t burst)
{
    memset(f, 0, sizeof(*f));
    proto_limits_t lim = {rate, burst, 1000};
    log_init(&quiet, LOG_ERROR, LOG_TEXT, stderr);
    proto_init(&f->p, &lim, &quiet);
    proto_register(&f->p, private_ops, 1);
    proto_sio_init(&f->sio);
    proto_client_init(&f->c.pc, &lim, &sio_tr, 0);
}

static void fx_close(fx_t *f)
{
    fake_client_free(&f->c);
    proto_free(&f->p);
}

static int handle(fx_t *f, const char *pkt)
{
    return proto_sio_handle(&f->sio, &f->p, &f->c.pc, &f->st, pkt, strlen(pkt), 5);
}

static void test_connect(void)
{
    fx_t f;
    fx_open(&f, 100, 100);
    /* Events before CONNECT are ignored. */
    ASSERT_EQ(handle(&f, "21[\"echo\"]"), 0);
    ASSERT_EQ(f.c.frames, 0);
    ASSERT_EQ(handle(&f, "0/admin,"), 0);
    ASSERT_STREQ(f.c.text, "44/admin,{\"message\":\"Invalid "
                           "namespace\",\"data\":{\"code\":\"invalid_namespace\"}}");
    ASSERT_EQ(f.st.connected, 0);
    ASSERT_EQ(handle(&f, "0"), 0);
    ASSERT_EQ(f.st.connected, 1);
    ASSERT_EQ(strlen(f.st.sid), PROTO_SIO_SID_LEN);
    char want[64];
    snprintf(want, sizeof(want), "40{\"sid\":\"%s\",\"pid\":\"", f.st.sid);
    /* the pid of connection state recovery (sio_seed_conn.c): 32 hex digits */
    ASSERT_TRUE(strncmp(f.c.text, want, strlen(want)) == 0);
    ASSERT_EQ(strlen(f.c.text), strlen(want) + 32 + 2);
    /* Without a token (no jwt configured here) the client is not authenticated. */
    ASSERT_EQ(f.c.pc.authed, 0);
    ASSERT_EQ(handle(&f, "0{\"token\":5}"), 0);
    ASSERT_STREQ(f.c.text, "44{\"message\":\"auth.token must be a string\",\"data\":{\"code\":"
                           "\"bad_request\"}}");
    ASSERT_EQ(handle(&f, "0{\"token\":\"x\"}"), 0);
    ASSERT_STREQ(f.c.text, "44{\"message\":\"authentication is not configured\",\"data\":{"
                           "\"code\":\"unauthorized\"}}");
    ASSERT_EQ(handle(&f, "0[1]"), PROTO_SIO_EBAD);
    ASSERT_EQ(handle(&f, "0/a\"b,"), PROTO_SIO_EBAD);
    ASSERT_EQ(handle(&f, "4{\"message\":\"x\"}"), PROTO_SIO_EBAD);
    ASSERT_EQ(handle(&f, "1"), 0);
    ASSERT_EQ(f.st.connected, 0);
    fx_close(&f);
}

static void test_events_and_acks(void)
{
    fx_t f;
    fx_open(&f, 100, 100);
    ASSERT_EQ(handle(&f, "0"), 0);
    ASSERT_EQ(handle(&f, "27[\"echo\",{\"data\":{\"a\":[1,\"x\"]}}]"), 0);
    ASSERT_STREQ(f.c.text,
                 "437[{\"op\":\"reply\",\"ref\":7,\"ok\":true,\"data\":{\"a\":[1,\"x\"]}}]");
    ASSERT_EQ(handle(&f, "28[\"echo\"]"), 0); /* no fields: an empty object */
    ASSERT_STREQ(f.c.text, "438[{\"op\":\"reply\",\"ref\":8,\"ok\":true,\"data\":null}]");
    int frames = f.c.frames;
    ASSERT_EQ(handle(&f, "2[\"echo\",{\"data\":1}]"), 0); /* no ack id: no ok reply */
    ASSERT_EQ(f.c.frames, frames);
    ASSERT_EQ(handle(&f, "2[\"nope\",{}]"), 0); /* no ack id: errors as "error" events */
    ASSERT_STREQ(f.c.text, "42[\"error\",{\"op\":\"error\",\"error\":{\"code\":\"unknown_op\","
                           "\"message\":\"unknown op \\\"nope\\\"\"}}]");
    ASSERT_EQ(handle(&f, "29[\"secret\",{\"room\":\"X\"}]"), 0);
    ASSERT_STREQ(f.c.text,
                 "439[{\"op\":\"reply\",\"ref\":9,\"ok\":false,\"error\":{\"code\":"
                 "\"unauthorized\",\"message\":\"authenticate first: send auth with a "
                 "token\"}}]");
    ASSERT_EQ(handle(&f, "210[\"echo\",1]"), 0);
    ASSERT_TRUE(strstr(f.c.text, "4310[{\"op\":\"reply\",\"ref\":10,\"ok\":false,") ==
                f.c.text);
    ASSERT_TRUE(strstr(f.c.text, "\"bad_request\"") != NULL);
    ASSERT_EQ(handle(&f, "211[\"echo\",{},{}]"), 0);
    ASSERT_TRUE(strstr(f.c.text, "\"bad_request\"") != NULL);
    ASSERT_EQ(handle(&f, "2[1]"), PROTO_SIO_EBAD);
    ASSERT_EQ(handle(&f, "2[\"echo\""), PROTO_SIO_EBAD);
    ASSERT_EQ(handle(&f, "31[]"), 0); /* acks from the client: nothing asked, ignored */
    fx_close(&f);
}

static void test_binary_refused(void)
{
    fx_t f;
    fx_open(&f, 100, 100);
    ASSERT_EQ(handle(&f, "0"), 0);
    ASSERT_EQ(proto_sio_binary(&f.st), PROTO_SIO_EBAD); /* none announced */
    ASSERT_EQ(handle(&f,
                     "52-4[\"echo\",{\"_placeholder\":true,\"num\":0},{\"_placeholder\":true,"
                     "\"num\":1}]"),
              0);
    ASSERT_TRUE(strstr(f.c.text,
                       "434[{\"op\":\"reply\",\"ref\":4,\"ok\":false,\"error\":{\"code\":"
                       "\"unsupported\"") == f.c.text);
    /* Text before the announced attachments is a protocol error. */
    fx_t g;
    fx_open(&g, 100, 100);
    ASSERT_EQ(proto_sio_handle(&g.sio, &g.p, &g.c.pc, &f.st, "0", 1, 5), PROTO_SIO_EBAD);
    fx_close(&g);
    ASSERT_EQ(proto_sio_binary(&f.st), 0);
    ASSERT_EQ(proto_sio_binary(&f.st), 0);
    ASSERT_EQ(proto_sio_binary(&f.st), PROTO_SIO_EBAD);
    ASSERT_EQ(handle(&f, "25[\"echo\"]"), 0);
    ASSERT_STREQ(f.c.text, "435[{\"op\":\"reply\",\"ref\":5,\"ok\":true,\"data\":null}]");
    fx_close(&f);
}

static int extra_calls;
static void on_room_join(void *ud, proto_t *p, proto_client_t *c, proto_sio_conn_t *s,
                         json_t *args, int has_id, int64_t id, uint64_t now_ms)
{
    (void)p;
    (void)s;
    (void)now_ms;
    extra_calls += *(int *)ud;
    if (has_id && json_array_size(args) == 2)
        proto_sio_ack(c, id, "{\"ok\":1}");
    else
        proto_sio_emit(c, "room:error", "{\"message\":\"no\"}");
}

static void test_extra_handlers(void)
{
    fx_t f;
    fx_open(&f, 100, 100);
    int one = 1;
    const proto_sio_handler_t table[] = {{"room:join", on_room_join, &one}};
    proto_sio_register(&f.sio, table, 1);
    ASSERT_EQ(handle(&f, "0"), 0);
    ASSERT_EQ(handle(&f, "23[\"room:join\",{\"roomCode\":\"ABC\"}]"), 0);
    ASSERT_EQ(extra_calls, 1);
    ASSERT_STREQ(f.c.text, "433[{\"ok\":1}]");
    ASSERT_EQ(handle(&f, "2[\"room:join\"]"), 0);
    ASSERT_STREQ(f.c.text, "42[\"room:error\",{\"message\":\"no\"}]");
    /* Other names still go to the op table. */
    ASSERT_EQ(handle(&f, "24[\"echo\"]"), 0);
    ASSERT_STREQ(f.c.text, "434[{\"op\":\"reply\",\"ref\":4,\"ok\":true,\"data\":null}]");
    fx_close(&f);
}

static void test_rate_limited(void)
{
    fx_t f;
    fx_open(&f, 1, 2);
    ASSERT_EQ(handle(&f, "0"), 0);
    ASSERT_EQ(handle(&f, "21[\"echo\"]"), 0);
    ASSERT_EQ(handle(&f, "22[\"echo\"]"), 0);
    ASSERT_EQ(handle(&f, "23[\"echo\"]"), 0);
    ASSERT_TRUE(strstr(f.c.text,
                       "433[{\"op\":\"reply\",\"ref\":3,\"ok\":false,\"error\":{\"code\":"
                       "\"rate_limited\"") == f.c.text);
    fx_close(&f);
}

/* Text of the payload of WebSocket text frame b. */
static int payload_is(const cbuf_t *b, const char *s)
{
    size_t start;
    size_t n = eio_frame_payload(b, &start);
    return n == strlen(s) && memcmp(b->data + start, s, n) == 0;
}

static void test_frame_event(void)
{
    jpart_t part = {.key = "message", .text = "{\"seq\":1}"};
    bus_event_t ev = {.room = "r1", .name = "message", .parts = &part, .nparts = 1};
    cbuf_t *b = proto_sio_frame_event(&ev);
    ASSERT_TRUE(payload_is(
        b, "42[\"message\",{\"op\":\"message\",\"room\":\"r1\",\"message\":{\"seq\":1}}]"));
    ASSERT_EQ(b->data[b->off], 0x81);
    cbuf_unref(b);
    ev.name = "we\"ird";
    b = proto_sio_frame_event(&ev);
    ASSERT_TRUE(payload_is(
        b, "42[\"we\\\"ird\",{\"op\":\"we\\\"ird\",\"room\":\"r1\",\"message\":{\"seq\":1}}]"));
    cbuf_unref(b);
    ASSERT_EQ(proto_sio_dialect.kind, 1);
    ASSERT_TRUE(proto_sio_dialect.frame_event == proto_sio_frame_event);
}

int main(void)
{
    RUN(test_connect);
    RUN(test_events_and_acks);
    RUN(test_binary_refused);
    RUN(test_extra_handlers);
    RUN(test_rate_limited);
    RUN(test_frame_event);
    TEST_MAIN_END();
}
