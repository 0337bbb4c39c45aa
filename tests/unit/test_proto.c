/* test_proto.c: envelope decoding, dispatch, replies, error events, rate limiting, with a
 * fake transport that records what would be sent. */
#include "test.h"

#include "proto.h"
#include "ws_frame.h"

typedef struct {
    proto_client_t pc; /* first: the transport callbacks cast back */
    json_t *sent[64];
    int nsent;
    int closed_code;
} fake_t;

/* Decodes a server text frame (unmasked, FIN) back into JSON. */
static void fake_send(proto_client_t *c, cbuf_t *frame)
{
    fake_t *f = (fake_t *)c;
    const uint8_t *p = frame->data + frame->off;
    size_t len = p[1] & 0x7f, h = 2;
    if (len == 126) {
        len = (size_t)p[2] << 8 | p[3];
        h = 4;
    } else if (len == 127) {
        len = 0;
        for (int i = 0; i < 8; i++) len = len << 8 | p[2 + i];
        h = 10;
    }
    if (p[0] != 0x81 || h + len != frame->len) abort();
    if (f->nsent < 64) f->sent[f->nsent++] = json_loadb((const char *)p + h, len, 0, NULL);
}

static void fake_close(proto_client_t *c, int code, const char *reason)
{
    (void)reason;
    ((fake_t *)c)->closed_code = code;
}

static const proto_transport_t fake_tr = {fake_send, fake_close, NULL, NULL};
static log_t quiet;

static void setup(proto_t *p, fake_t *f, uint32_t rate, uint32_t burst, uint32_t flood)
{
    proto_limits_t lim = {rate, burst, flood};
    log_init(&quiet, LOG_ERROR, LOG_TEXT, stderr);
    proto_init(p, &lim, &quiet);
    memset(f, 0, sizeof(*f));
    proto_client_init(&f->pc, &lim, &fake_tr, 0);
}

static void teardown(proto_t *p, fake_t *f)
{
    for (int i = 0; i < f->nsent; i++) json_decref(f->sent[i]);
    proto_free(p);
}

static void send_text(proto_t *p, fake_t *f, const char *s)
{
    proto_handle_text(p, &f->pc, s, strlen(s), 0);
}

static const char *str_at(json_t *j, const char *path1, const char *path2)
{
    json_t *v = json_object_get(j, path1);
    if (path2) v = json_object_get(v, path2);
    return json_string_value(v);
}

static void test_echo_any_value(void)
{
    proto_t p;
    fake_t f;
    setup(&p, &f, 1000, 2000, 500);
    const char *in[] = {"{\"op\":\"echo\",\"ref\":1,\"data\":{\"a\":[1,2,{\"b\":null}]}}",
                        "{\"op\":\"echo\",\"ref\":2,\"data\":\"h\\u00e9llo \\ud83d\\ude00\"}",
                        "{\"op\":\"echo\",\"ref\":3,\"data\":-1.5}",
                        "{\"op\":\"echo\",\"ref\":4}"};
    for (int i = 0; i < 4; i++) send_text(&p, &f, in[i]);
    ASSERT_EQ(f.nsent, 4);
    for (int i = 0; i < 4; i++) {
        json_t *want = json_loads(in[i], 0, NULL);
        json_t *got = f.sent[i];
        ASSERT_STREQ(str_at(got, "op", NULL), "reply");
        ASSERT_EQ(json_integer_value(json_object_get(got, "ref")), i + 1);
        ASSERT_TRUE(json_is_true(json_object_get(got, "ok")));
        json_t *wd = json_object_get(want, "data");
        ASSERT_TRUE(json_equal(json_object_get(got, "data"), wd ? wd : json_null()));
        json_decref(want);
    }
    teardown(&p, &f);
}

static void test_no_ref_no_reply(void)
{
    proto_t p;
    fake_t f;
    setup(&p, &f, 1000, 2000, 500);
    send_text(&p, &f, "{\"op\":\"echo\",\"data\":1}");
    ASSERT_EQ(f.nsent, 0);
    teardown(&p, &f);
}

static void test_envelope_errors(void)
{
    proto_t p;
    fake_t f;
    setup(&p, &f, 1000, 2000, 500);
    send_text(&p, &f, "{not json");                      /* 0: event bad_json */
    send_text(&p, &f, "");                               /* 1: event bad_json */
    send_text(&p, &f, "[1,2]");                          /* 2: event bad_request */
    send_text(&p, &f, "{\"ref\":7}");                    /* 3: reply bad_request */
    send_text(&p, &f, "{\"op\":5,\"ref\":8}");           /* 4: reply bad_request */
    send_text(&p, &f, "{\"op\":\"echo\",\"ref\":\"x\"}"); /* 5: event bad_request */
    send_text(&p, &f, "{\"op\":\"nope\",\"ref\":9}");    /* 6: reply unknown_op */
    send_text(&p, &f, "{\"op\":\"nope\"}");              /* 7: event unknown_op */
    send_text(&p, &f, "{\"op\":\"echo\",\"op\":\"x\"}"); /* 8: duplicate key: bad_json */
    ASSERT_EQ(f.nsent, 9);
    const char *want_op[] = {"error", "error", "error", "reply", "reply",
                             "error", "reply", "error", "error"};
    const char *want_code[] = {"bad_json", "bad_json", "bad_request", "bad_request",
                               "bad_request", "bad_request", "unknown_op", "unknown_op",
                               "bad_json"};
    for (int i = 0; i < 9; i++) {
        ASSERT_STREQ(str_at(f.sent[i], "op", NULL), want_op[i]);
        ASSERT_STREQ(str_at(f.sent[i], "error", "code"), want_code[i]);
        ASSERT_TRUE(str_at(f.sent[i], "error", "message") != NULL);
        if (strcmp(want_op[i], "reply") == 0)
            ASSERT_TRUE(json_is_false(json_object_get(f.sent[i], "ok")));
    }
    ASSERT_EQ(json_integer_value(json_object_get(f.sent[3], "ref")), 7);
    ASSERT_EQ(json_integer_value(json_object_get(f.sent[6], "ref")), 9);
    ASSERT_EQ(f.closed_code, 0);
    teardown(&p, &f);
}

static void test_rate_limit_and_flood_close(void)
{
    proto_t p;
    fake_t f;
    setup(&p, &f, 1, 3, 4);
    for (int i = 1; i <= 3; i++) {
        char m[64];
        snprintf(m, sizeof(m), "{\"op\":\"echo\",\"ref\":%d}", i);
        send_text(&p, &f, m);
    }
    send_text(&p, &f, "{\"op\":\"echo\",\"ref\":4}");
    send_text(&p, &f, "{\"op\":\"echo\"}");
    ASSERT_EQ(f.nsent, 5);
    ASSERT_TRUE(json_is_true(json_object_get(f.sent[2], "ok")));
    ASSERT_STREQ(str_at(f.sent[3], "op", NULL), "reply");
    ASSERT_EQ(json_integer_value(json_object_get(f.sent[3], "ref")), 4);
    ASSERT_STREQ(str_at(f.sent[3], "error", "code"), "rate_limited");
    ASSERT_STREQ(str_at(f.sent[4], "op", NULL), "error");
    ASSERT_STREQ(str_at(f.sent[4], "error", "code"), "rate_limited");
    ASSERT_EQ(f.closed_code, 0);
    send_text(&p, &f, "{}");
    send_text(&p, &f, "{}"); /* fourth limited message in a row */
    ASSERT_EQ(f.closed_code, WS_CLOSE_POLICY);
    teardown(&p, &f);
}

static void test_decode_pure(void)
{
    proto_envelope_t env;
    const char *code, *msg;
    ASSERT_EQ(proto_decode("{\"op\":\"x\",\"ref\":-3}", 19, &env, &code, &msg), 0);
    ASSERT_STREQ(env.op, "x");
    ASSERT_EQ(env.has_ref, 1);
    ASSERT_EQ(env.ref, -3);
    json_decref(env.root);
    ASSERT_EQ(proto_decode("{\"op\":1,\"ref\":5}", 16, &env, &code, &msg), -1);
    ASSERT_STREQ(code, "bad_request");
    ASSERT_EQ(env.has_ref, 1);
    ASSERT_EQ(env.ref, 5);
    ASSERT_TRUE(env.root == NULL);
    ASSERT_EQ(proto_decode("{\"op\":\"x\",\"ref\":1.5}", 20, &env, &code, &msg), -1);
    ASSERT_EQ(env.has_ref, 0);
    const char *scalars[] = {"5", "null", "\"echo\"", "true"};
    for (int i = 0; i < 4; i++) {
        ASSERT_EQ(proto_decode(scalars[i], strlen(scalars[i]), &env, &code, &msg), -1);
        ASSERT_STREQ(code, "bad_request");
    }
    const char *nul_op = "{\"op\":\"echo\\u0000x\",\"ref\":1}";
    ASSERT_EQ(proto_decode(nul_op, strlen(nul_op), &env, &code, &msg), -1);
    ASSERT_STREQ(code, "bad_request");
    const char *nul_data = "{\"op\":\"echo\",\"data\":\"a\\u0000b\"}";
    ASSERT_EQ(proto_decode(nul_data, strlen(nul_data), &env, &code, &msg), 0);
    ASSERT_EQ(json_string_length(json_object_get(env.root, "data")), 3);
    json_decref(env.root);
}

static void noop(proto_req_t *req)
{
    (void)req;
}

static void test_register_many_ops(void)
{
    proto_t p;
    fake_t f;
    setup(&p, &f, 1000, 2000, 500);
    static proto_op_t ops[100];
    static char names[100][16];
    for (int i = 0; i < 100; i++) {
        snprintf(names[i], sizeof(names[i]), "op_%d", i);
        ops[i].name = names[i];
        ops[i].fn = noop;
    }
    proto_register(&p, ops, 100);
    /* Before authentication only public ops (echo, auth) run. */
    send_text(&p, &f, "{\"op\":\"op_73\",\"ref\":1}");
    ASSERT_EQ(f.nsent, 1);
    ASSERT_STREQ(json_string_value(json_object_get(json_object_get(f.sent[0], "error"), "code")),
                 "unauthorized");
    f.pc.authed = 1;
    send_text(&p, &f, "{\"op\":\"op_73\",\"ref\":1}");
    send_text(&p, &f, "{\"op\":\"echo\",\"ref\":2,\"data\":1}");
    ASSERT_EQ(f.nsent, 3);
    ASSERT_TRUE(json_is_true(json_object_get(f.sent[1], "ok")));
    ASSERT_TRUE(json_is_null(json_object_get(f.sent[1], "data")));
    ASSERT_EQ(json_integer_value(json_object_get(f.sent[2], "data")), 1);
    teardown(&p, &f);
}

static void test_frame_lengths(void)
{
    /* replies above 125 and 65535 bytes get 16- and 64-bit length headers */
    proto_t p;
    fake_t f;
    setup(&p, &f, 1000, 2000, 500);
    size_t sizes[] = {10, 200, 70000};
    for (int i = 0; i < 3; i++) {
        json_t *m = json_pack("{s:s%}", "x", "", (size_t)0);
        char *pad = malloc(sizes[i] + 1);
        memset(pad, 'a', sizes[i]);
        pad[sizes[i]] = 0;
        json_object_set_new(m, "x", json_string(pad));
        free(pad);
        proto_send_json(&f.pc, m);
    }
    ASSERT_EQ(f.nsent, 3);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(strlen(str_at(f.sent[i], "x", NULL)), sizes[i]);
    teardown(&p, &f);
}

int main(void)
{
    RUN(test_echo_any_value);
    RUN(test_no_ref_no_reply);
    RUN(test_envelope_errors);
    RUN(test_rate_limit_and_flood_close);
    RUN(test_decode_pure);
    RUN(test_register_many_ops);
    RUN(test_frame_lengths);
    TEST_MAIN_END();
}
