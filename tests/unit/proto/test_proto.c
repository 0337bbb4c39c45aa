/* test_proto.c: envelope decoding, dispatch, replies, error events, rate limiting, with a
 * fake transport that records what would be sent. */
#include "test.h"
#include "fake_client.h"

#include "util/mem.h"
#include "proto/proto.h"
#include "proto/ws_frame.h"

/* A client whose transport records what would be sent (fake_client.h). */
typedef fake_client_t fake_t;
static log_t quiet;

static void setup(proto_t *p, fake_t *f, uint32_t rate, uint32_t burst, uint32_t flood)
{
    proto_limits_t lim = {rate, burst, flood};
    log_init(&quiet, LOG_ERROR, LOG_TEXT, stderr);
    proto_init(p, &lim, &quiet);
    memset(f, 0, sizeof(*f));
    proto_client_init(&f->pc, &lim, &fake_client_tr, 0);
}

static void teardown(proto_t *p, fake_t *f)
{
    fake_client_free(f);
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

/* A reply's head is written by hand (no printf): every ref, the extremes and the signs,
 * comes back as sent. */
static void test_reply_refs(void)
{
    proto_t p;
    fake_t f;
    setup(&p, &f, 1000, 2000, 500);
    static const char *const refs[] = {"0", "7", "-1", "10", "-10", "1234567890123",
                                       "9223372036854775807", "-9223372036854775808"};
    for (size_t i = 0; i < CH_ARRAY_LEN(refs); i++) {
        char frame[128];
        snprintf(frame, sizeof(frame), "{\"op\":\"echo\",\"ref\":%s,\"data\":[%zu]}", refs[i],
                 i);
        send_text(&p, &f, frame);
    }
    ASSERT_EQ(f.nsent, (int)CH_ARRAY_LEN(refs));
    for (size_t i = 0; i < CH_ARRAY_LEN(refs); i++) {
        ASSERT_EQ(json_integer_value(json_object_get(f.sent[i], "ref")),
                  strtoll(refs[i], NULL, 10));
        ASSERT_EQ(json_integer_value(json_array_get(json_object_get(f.sent[i], "data"), 0)),
                  (long long)i);
    }
    teardown(&p, &f);
}

/* An op flagged PROTO_OP_SCAN: replies with what it was given, "scan" or "tree". */
static void op_which(proto_req_t *req)
{
    CH_ASSERT(!req->scan != !req->msg);
    json_t *room = req->msg ? json_object_get(req->msg, "room") : NULL;
    const jscan_member_t *m = req->scan ? jscan_get(req->scan, "room") : NULL;
    char buf[64] = "";
    if (m) jscan_string(m, buf, sizeof(buf));
    proto_reply_ok(req, json_pack("{s:s, s:s}", "how", req->scan ? "scan" : "tree", "room",
                                  m ? buf : json_string_value(room)));
}

static void op_tree(proto_req_t *req)
{
    proto_reply_ok(req, json_string(req->msg && !req->scan ? "tree" : "scan"));
}

/* The hot ops read the frame scanned, the others as a tree; a frame the scanner leaves to
 * Jansson (an escaped key) reaches a hot op as a tree; proto_run (another
 * framing's entry) as a tree too. */
static void test_scanned_or_tree(void)
{
    static const proto_op_t ops[] = {{"which", op_which, PROTO_OP_PUBLIC | PROTO_OP_SCAN},
                                     {"tree", op_tree, PROTO_OP_PUBLIC}};
    proto_t p;
    fake_t f;
    setup(&p, &f, 1000, 2000, 500);
    proto_register(&p, ops, CH_ARRAY_LEN(ops));
    send_text(&p, &f, "{\"op\":\"which\",\"ref\":1,\"room\":\"r\\u00e9\"}");
    send_text(&p, &f, "{\"op\":\"which\",\"ref\":2,\"r\\u006fom\":\"x\"}");
    send_text(&p, &f, "{\"op\":\"tree\",\"ref\":3}");
    json_t *args = json_pack("{s:s}", "room", "y");
    proto_run(&p, &f.pc, "which", 1, 4, args, 0);
    proto_run(&p, &f.pc, "nope", 1, 5, args, 0);
    json_decref(args);
    ASSERT_EQ(f.nsent, 5);
    ASSERT_STREQ(str_at(f.sent[0], "data", "how"), "scan");
    ASSERT_STREQ(str_at(f.sent[0], "data", "room"), "r\xc3\xa9");
    ASSERT_STREQ(str_at(f.sent[1], "data", "how"), "tree");
    ASSERT_STREQ(str_at(f.sent[1], "data", "room"), "x");
    ASSERT_STREQ(str_at(f.sent[2], "data", NULL), "tree");
    ASSERT_STREQ(str_at(f.sent[3], "data", "how"), "tree");
    ASSERT_STREQ(str_at(f.sent[3], "data", "room"), "y");
    ASSERT_STREQ(str_at(f.sent[4], "error", "code"), "unknown_op");
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

/* ---- objects assembled from parts (pre-encoded texts): the bytes of the whole ---- */

static int same_frame(const cbuf_t *a, const cbuf_t *b)
{
    return a && b && a->len == b->len && memcmp(a->data + a->off, b->data + b->off, a->len) == 0;
}

/* Checks parts against the whole object: as a frame, and as a deferred reply's data. */
static int parts_match(proto_t *p, const jpart_t *parts, size_t n, const json_t *whole)
{
    cbuf_t *got = proto_frame_parts(parts, n), *want = proto_frame_json(whole);
    int ok = same_frame(got, want);
    cbuf_unref(got);
    cbuf_unref(want);
    fake_client_t b1, b2;
    memset(&b1, 0, sizeof(b1));
    memset(&b2, 0, sizeof(b2));
    b1.pc.tr = b2.pc.tr = &fake_client_tr;
    proto_req_t r1 = {.p = p, .c = &b1.pc, .has_ref = 1, .ref = 42};
    proto_req_t r2 = {.p = p, .c = &b2.pc, .has_ref = 1, .ref = 42};
    proto_deferred_t d1, d2;
    proto_defer(&r1, &d1);
    proto_defer(&r2, &d2);
    proto_deferred_ok_parts(&d1, parts, n);
    proto_deferred_ok(&d2, json_deep_copy(whole));
    ok = ok && same_frame(b1.last, b2.last);
    fake_client_free(&b1);
    fake_client_free(&b2);
    return ok;
}

/* ---- a bus event's frame (proto_frame_event, the bus's framing) ---- */

/* 1 when frame (its reference taken) is one WebSocket text frame holding exactly json. */
static int frame_is(cbuf_t *frame, const char *json)
{
    const uint8_t *p = frame->data + frame->off;
    size_t n = strlen(json);
    int ok = n < 126 && frame->len == n + 2 && p[0] == 0x81 && p[1] == n &&
             memcmp(p + 2, json, n) == 0;
    cbuf_unref(frame);
    return ok;
}

static void test_frame_event(void)
{
    json_t *fields = json_pack("{s:s, s:i}", "event", "ping", "n", 1);
    jpart_t part = {.obj = fields};
    bus_event_t ev = {.room = "r1", .name = "broadcast", .parts = &part, .nparts = 1};
    ASSERT_TRUE(frame_is(proto_frame_event(&ev),
                         "{\"op\":\"broadcast\",\"room\":\"r1\",\"event\":\"ping\",\"n\":1}"));
    /* Text already encoded is copied as it is, after the objects before it. */
    jpart_t parts[2] = {{.obj = fields}, {.key = "participant", .text = "{\"a\": 1}"}};
    ev = (bus_event_t){.room = "r1", .name = "participant_joined", .parts = parts, .nparts = 2};
    ASSERT_TRUE(frame_is(proto_frame_event(&ev),
                         "{\"op\":\"participant_joined\",\"room\":\"r1\",\"event\":\"ping\","
                         "\"n\":1,\"participant\":{\"a\": 1}}"));
    /* No payload: the name and the room. */
    ev = (bus_event_t){.room = "r1", .name = "x"};
    ASSERT_TRUE(frame_is(proto_frame_event(&ev), "{\"op\":\"x\",\"room\":\"r1\"}"));
    json_decref(fields);
}

/* The frame is what encoding the whole event object gives, whether the name and room are
 * written as they are (plain) or encoded (anything else). */
static void test_frame_event_bytes(void)
{
    static const char *const names[] = {"entity", "doc_op", "x.y", "caf\xc3\xa9"};
    static const char *const rooms[] = {"7b0c2f6e-1d2a-4e4b-9c1d-0a1b2c3d4e5f", "r\"1", "a/b"};
    for (size_t i = 0; i < CH_ARRAY_LEN(names); i++) {
        for (size_t j = 0; j < CH_ARRAY_LEN(rooms); j++) {
            json_t *a = json_pack("{s:s, s:I, s:n}", "action", "update", "stateVersion",
                                  (json_int_t)9, "by");
            json_t *b = json_pack("{s:{s:[i, s]}}", "entity", "data", 1, "\u00e9\"");
            jpart_t parts[3] = {{.obj = a}, {.obj = b}, {.key = "t", .text = "[1,2]"}};
            bus_event_t ev = {.room = rooms[j], .name = names[i], .parts = parts, .nparts = 3};
            json_t *whole = json_pack("{s:s, s:s}", "op", names[i], "room", rooms[j]);
            json_object_update(whole, a);
            json_object_update(whole, b);
            json_object_set_new(whole, "t", json_pack("[i, i]", 1, 2));
            cbuf_t *want = proto_frame_json(whole);
            cbuf_t *got = proto_frame_event(&ev);
            ASSERT_EQ(got->len, want->len);
            ASSERT_MEMEQ(got->data + got->off, want->data + want->off, want->len);
            cbuf_unref(got);
            cbuf_unref(want);
            json_decref(whole);
            json_decref(a);
            json_decref(b);
        }
    }
}

/* The bus's receiver table reaches a client through its transport and names its user. */
static void test_bus_rcv_ops(void)
{
    fake_client_t c;
    memset(&c, 0, sizeof(c));
    c.pc.tr = &fake_client_tr;
    c.pc.user = (proto_user_t){.sub = "ann"};
    ASSERT_TRUE(proto_bus_rcv_ops.frame == proto_frame_event);
    ASSERT_STREQ(proto_bus_rcv_ops.user(&c.pc.rcv), "ann");
    json_t *empty = json_object();
    cbuf_t *frame = proto_frame_json(empty);
    json_decref(empty);
    proto_bus_rcv_ops.deliver(&c.pc.rcv, frame);
    ASSERT_TRUE(c.last == frame);
    ASSERT_EQ(frame->refcnt, 2);
    cbuf_unref(frame);
    fake_client_free(&c);
}

/* The transport hears of every deferred request of a live client that completes (the
 * WebSocket side resumes a paused connection on it), with or without a reply to send; a
 * client that went away is released instead. */
static void test_deferred_settled(void)
{
    proto_t p;
    fake_t f;
    setup(&p, &f, 1000, 2000, 500);
    fake_client_t s;
    memset(&s, 0, sizeof(s));
    s.pc.tr = &fake_client_tr;
    proto_req_t r1 = {.p = &p, .c = &s.pc, .has_ref = 1, .ref = 1};
    proto_req_t r2 = {.p = &p, .c = &s.pc};
    proto_req_t r3 = {.p = &p, .c = &s.pc, .has_ref = 1, .ref = 3};
    proto_deferred_t d1, d2, d3;
    proto_defer(&r1, &d1);
    proto_defer(&r2, &d2);
    proto_defer(&r3, &d3);
    ASSERT_EQ(s.pc.pending, 3);
    proto_deferred_ok(&d1, NULL);
    ASSERT_EQ(s.settled, 1);
    ASSERT_EQ(s.pending_seen, 2); /* called after the count went down */
    proto_deferred_error(&d2, "bad_request", "no");
    ASSERT_EQ(s.settled, 2);
    ASSERT_EQ(s.pending_seen, 1);
    s.pc.gone = 1;
    proto_deferred_ok(&d3, NULL);
    ASSERT_EQ(s.settled, 2);
    ASSERT_EQ(s.released, 1);
    fake_client_free(&s);
    proto_free(&p);
}

static void test_parts_match_whole(void)
{
    proto_t p;
    fake_t f;
    setup(&p, &f, 1000, 2000, 500);
    json_t *a = json_pack("{s:{s:[i,f,s,n]}, s:s}", "a", "deep", 1, 2.5, "\xc3\xa9\"\\/\x01", "s",
                          "x\ny");
    json_t *b = json_pack("{s:b, s:{}}", "on", 1, "presence");
    json_t *items[3] = {json_pack("{s:i}", "i", 0), json_string("t\"wo"), json_real(-0.125)};
    json_t *d = json_pack("{s:I, s:n}", "d", (json_int_t)1800000000000, "e");
    char *btext = json_dumps(b, JSON_COMPACT);
    char *itexts[3];
    for (int i = 0; i < 3; i++) itexts[i] = json_dumps(items[i], JSON_COMPACT | JSON_ENCODE_ANY);
    json_t *arr = json_array(), *empty = json_object();
    for (int i = 0; i < 3; i++) json_array_append(arr, items[i]);
    json_t *whole = json_deep_copy(a);
    json_object_set(whole, "b", b);
    json_object_set(whole, "c", arr);
    json_object_set_new(whole, "none", json_array());
    json_object_update(whole, d);
    jpart_t parts[] = {
        {.obj = empty}, /* nothing, not even a comma */
        {.obj = a},
        {.key = "b", .text = btext},
        {.key = "c", .items = (const char *const *)itexts, .n = 3},
        {.obj = empty},
        {.key = "none", .items = NULL, .n = 0},
        {.obj = d},
    };
    ASSERT_TRUE(parts_match(&p, parts, CH_ARRAY_LEN(parts), whole));
    /* texts first, and nothing at all */
    json_t *w2 = json_pack("{s:O, s:O}", "b", b, "z", json_object_get(d, "d"));
    json_t *dz = json_pack("{s:O}", "z", json_object_get(d, "d"));
    jpart_t p2[] = {{.key = "b", .text = btext}, {.obj = empty}, {.obj = dz}};
    ASSERT_TRUE(parts_match(&p, p2, CH_ARRAY_LEN(p2), w2));
    ASSERT_TRUE(parts_match(&p, parts, 1, empty));
    ASSERT_TRUE(parts_match(&p, NULL, 0, empty));
    /* big enough for a 64-bit frame length, and for the buffer to grow past its guess */
    char *pad = malloc(70001);
    memset(pad, 'q', 70000);
    pad[70000] = 0;
    json_t *big = json_pack("{s:s}", "pad", pad);
    json_t *w3 = json_pack("{s:O, s:O}", "pad", json_object_get(big, "pad"), "b", b);
    jpart_t p3[] = {{.obj = big}, {.key = "b", .text = btext}};
    ASSERT_TRUE(parts_match(&p, p3, CH_ARRAY_LEN(p3), w3));
    free(pad);
    json_decref(big);
    json_decref(w3);
    json_decref(w2);
    json_decref(dz);
    json_decref(whole);
    json_decref(arr);
    json_decref(empty);
    for (int i = 0; i < 3; i++) {
        free(itexts[i]);
        json_decref(items[i]);
    }
    free(btext);
    json_decref(a);
    json_decref(b);
    json_decref(d);
    teardown(&p, &f);
}

int main(void)
{
    RUN(test_echo_any_value);
    RUN(test_reply_refs);
    RUN(test_no_ref_no_reply);
    RUN(test_scanned_or_tree);
    RUN(test_envelope_errors);
    RUN(test_rate_limit_and_flood_close);
    RUN(test_decode_pure);
    RUN(test_register_many_ops);
    RUN(test_frame_lengths);
    RUN(test_parts_match_whole);
    RUN(test_frame_event);
    RUN(test_frame_event_bytes);
    RUN(test_bus_rcv_ops);
    RUN(test_deferred_settled);
    TEST_MAIN_END();
}
