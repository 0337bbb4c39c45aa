/* test_sio_seed.c: seed 003's room:* events as Chorus ops and events (sio_seed.c). */
#include "test.h"

#include "proto/sio_seed.h"

#define ROOM "3f0c2b1e-0000-4000-8000-00000000abcd"

/* Returns req's compact encoding (static buffer: one at a time). */
static const char *enc(const json_t *v)
{
    static char out[4096];
    char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    snprintf(out, sizeof(out), "%s", s ? s : "(null)");
    free(s);
    return out;
}

/* Runs sio_seed_request on the payload's JSON text (NULL = none); returns the request's
 * sorted encoding, or "E:<code>" for a refusal, or "NOTSEED". */
static const char *request(const sio_seed_t *st, const char *name, const char *payload)
{
    static char out[4096];
    json_t *p = payload ? json_loads(payload, JSON_DECODE_ANY, NULL) : NULL;
    json_t *req = NULL;
    const char *code = NULL, *message = NULL;
    int rc = sio_seed_request(st, name, p, &req, &code, &message);
    json_decref(p);
    if (rc == SIO_SEED_ENOTSEED) return "NOTSEED";
    if (rc == SIO_SEED_EINVALID) {
        snprintf(out, sizeof(out), "E:%s", code);
        return out;
    }
    snprintf(out, sizeof(out), "%s", enc(req));
    json_decref(req);
    return out;
}

static void test_is_event(void)
{
    const char *seed[] = {"room:authenticate", "room:join",         "room:leave",
                          "room:message",      "room:state-update", "room:presence-update",
                          "room:voice-start",  "room:voice-stop"};
    for (size_t i = 0; i < sizeof(seed) / sizeof(seed[0]); i++)
        ASSERT_TRUE(sio_seed_is_event(seed[i]));
    ASSERT_TRUE(!sio_seed_is_event("join"));
    ASSERT_TRUE(!sio_seed_is_event("room:joined")); /* a server event, not a request */
    ASSERT_TRUE(!sio_seed_is_event("room:"));
    ASSERT_TRUE(!sio_seed_is_event("room:join "));
    ASSERT_TRUE(!sio_seed_is_event(NULL));
}

static void test_requests(void)
{
    sio_seed_t st = {{0}};
    ASSERT_STREQ(request(&st, "room:authenticate", "{\"token\":\"t.k.n\"}"),
                 "{\"op\":\"auth\",\"token\":\"t.k.n\"}");
    ASSERT_STREQ(request(&st, "room:join", "{\"roomCode\":\"XJ9K2M\",\"displayName\":\"Ada\"}"),
                 "{\"displayName\":\"Ada\",\"op\":\"join\",\"room\":\"XJ9K2M\"}");
    /* seed 003's API example names the room by id */
    ASSERT_STREQ(request(&st, "room:join", "{\"roomId\":\"" ROOM "\"}"),
                 "{\"op\":\"join\",\"room\":\"" ROOM "\"}");
    ASSERT_STREQ(request(&st, "room:join", "{\"displayName\":\"Ada\"}"), "E:bad_request");
    ASSERT_STREQ(request(&st, "room:join", "{\"roomCode\":7}"), "E:bad_request");
    ASSERT_STREQ(request(&st, "room:join", "[1]"), "E:bad_request");
    /* before a room:join the room events have no room */
    ASSERT_STREQ(request(&st, "room:message", "{\"content\":\"hi\"}"), "E:forbidden");
    ASSERT_STREQ(request(&st, "room:leave", NULL), "E:forbidden");
    ASSERT_STREQ(request(&st, "join", "{}"), "NOTSEED");

    snprintf(st.room, sizeof(st.room), "%s", ROOM);
    ASSERT_STREQ(request(&st, "room:leave", NULL), "{\"op\":\"leave\",\"room\":\"" ROOM "\"}");
    ASSERT_STREQ(request(&st, "room:message", "{\"content\":\"hi\"}"),
                 "{\"content\":\"hi\",\"op\":\"message\",\"room\":\"" ROOM
                 "\",\"type\":\"user_text\"}");
    ASSERT_STREQ(
        request(&st, "room:message",
                "{\"messageType\":\"ai_response\",\"content\":\"yo\","
                "\"metadata\":{\"k\":1},\"other\":2}"),
        "{\"content\":\"yo\",\"metadata\":{\"k\":1},\"op\":\"message\",\"room\":\"" ROOM
        "\",\"type\":\"ai_response\"}");
    /* fields are checked by the op itself (validation_error naming the field) */
    ASSERT_STREQ(request(&st, "room:message", "{}"),
                 "{\"op\":\"message\",\"room\":\"" ROOM "\",\"type\":\"user_text\"}");
    ASSERT_STREQ(
        request(&st, "room:state-update", "{\"updates\":{\"currentMode\":\"playful\"}}"),
        "{\"op\":\"state\",\"patch\":{\"currentMode\":\"playful\"},\"room\":\"" ROOM "\"}");
    ASSERT_STREQ(
        request(&st, "room:state-update", "{\"roomId\":\"x\",\"conversationActive\":true}"),
        "{\"op\":\"state\",\"patch\":{\"conversationActive\":true},\"room\":\"" ROOM "\"}");
    ASSERT_STREQ(request(&st, "room:presence-update", NULL),
                 "{\"op\":\"presence\",\"room\":\"" ROOM "\",\"state\":{}}");
    ASSERT_STREQ(request(&st, "room:presence-update", "{\"state\":{\"typing\":true}}"),
                 "{\"op\":\"presence\",\"room\":\"" ROOM "\",\"state\":{\"typing\":true}}");
    /* voice: the caller's audio-only membership of the room's call */
    ASSERT_STREQ(request(&st, "room:voice-start", NULL),
                 "{\"audio\":true,\"op\":\"rtc_join\",\"room\":\"" ROOM
                 "\",\"screen\":false,\"video\":false}");
    ASSERT_STREQ(
        request(&st, "room:voice-start", "{\"muted\":true,\"video\":true,\"room\":\"other\"}"),
        "{\"audio\":true,\"muted\":true,\"op\":\"rtc_join\",\"room\":\"" ROOM
        "\",\"screen\":false,\"video\":false}");
    ASSERT_STREQ(request(&st, "room:voice-stop", "{\"reason\":\"done\"}"),
                 "{\"op\":\"rtc_leave\",\"room\":\"" ROOM "\"}");
    ASSERT_STREQ(request(&st, "room:voice-stop", "\"x\""), "E:bad_request");
    st.room[0] = 0;
    ASSERT_STREQ(request(&st, "room:voice-start", NULL), "E:forbidden");
}

/* Runs sio_seed_answer and returns the events' encodings joined by " | ". */
static const char *answer(sio_seed_t *st, const char *name, const char *req, const char *data)
{
    static char out[8192];
    json_t *r = json_loads(req, 0, NULL), *d = json_loads(data, JSON_DECODE_ANY, NULL);
    json_t *ev[SIO_SEED_MAX_ANSWER];
    size_t n = sio_seed_answer(st, name, r, d, ev);
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        if (i) strcat(out, " | ");
        strncat(out, enc(ev[i]), sizeof(out) - strlen(out) - 1);
        json_decref(ev[i]);
    }
    json_decref(r);
    json_decref(d);
    return out;
}

static void test_answers(void)
{
    sio_seed_t st = {{0}};
    ASSERT_STREQ(answer(&st, "room:authenticate", "{\"op\":\"auth\"}",
                        "{\"user\":{\"id\":\"u-1\"},\"expiresAt\":5}"),
                 "[\"room:authenticated\",{\"expiresAt\":5,\"user\":{\"id\":\"u-1\"}}]");
    ASSERT_STREQ(
        answer(&st, "room:join", "{\"op\":\"join\",\"room\":\"XJ9K2M\"}",
               "{\"room\":{\"id\":\"" ROOM "\",\"roomCode\":\"XJ9K2M\"},"
               "\"participants\":[{\"userId\":\"u-1\"}],\"state\":{\"m\":1},"
               "\"lastSeq\":7,\"messages\":[{\"seq\":7}]}"),
        "[\"room:joined\",{\"history\":[{\"seq\":7}],\"lastSeq\":7,"
        "\"participants\":[{\"userId\":\"u-1\"}],\"room\":{\"id\":\"" ROOM
        "\",\"roomCode\":\"XJ9K2M\"},\"roomId\":\"" ROOM "\",\"state\":{\"m\":1}},\"" ROOM
        ":7\"] | [\"room:messages-history\",{\"messages\":[{\"seq\":7}],\"roomId\":\"" ROOM
        "\"},\"" ROOM ":7\"]");
    ASSERT_STREQ(st.room, ROOM);
    char req[256];
    snprintf(req, sizeof(req), "{\"op\":\"message\",\"room\":\"%s\",\"type\":\"user_text\"}",
             ROOM);
    ASSERT_STREQ(
        answer(&st, "room:message", req, "{\"message\":{\"seq\":8,\"content\":\"hi\"}}"),
        "[\"room:message-received\",{\"message\":{\"content\":\"hi\",\"seq\":8},"
        "\"roomId\":\"" ROOM "\"},\"" ROOM ":8\"]");
    /* the caller's own voice events, from rtc_join's and rtc_leave's answers */
    snprintf(req, sizeof(req), "{\"op\":\"rtc_join\",\"room\":\"%s\"}", ROOM);
    ASSERT_STREQ(answer(&st, "room:voice-start", req,
                        "{\"id\":\"c2\",\"mode\":\"mesh\",\"iceServers\":[],\"members\":"
                        "[{\"id\":\"c1\",\"userId\":\"u-2\"},{\"id\":\"c2\",\"userId\":\"u-1\","
                        "\"audio\":true}]}"),
                 "[\"room:voice-started\",{\"member\":{\"audio\":true,\"id\":\"c2\",\"userId\":"
                 "\"u-1\"},\"mode\":\"mesh\",\"roomId\":\"" ROOM "\"}]");
    ASSERT_STREQ(answer(&st, "room:voice-start", req, "{\"id\":\"c9\",\"mode\":\"mesh\"}"),
                 ""); /* not among the members: nothing made up */
    snprintf(req, sizeof(req), "{\"op\":\"rtc_leave\",\"room\":\"%s\"}", ROOM);
    ASSERT_STREQ(
        answer(&st, "room:voice-stop", req, "{\"member\":{\"id\":\"c2\",\"userId\":\"u-1\"}}"),
        "[\"room:voice-stopped\",{\"member\":{\"id\":\"c2\",\"userId\":\"u-1\"},"
        "\"reason\":\"left\",\"roomId\":\"" ROOM "\"}]");
    ASSERT_STREQ(answer(&st, "room:voice-stop", req, "null"), "");
    snprintf(req, sizeof(req), "{\"op\":\"state\",\"room\":\"%s\",\"patch\":{}}", ROOM);
    ASSERT_STREQ(answer(&st, "room:state-update", req, "{\"state\":{}}"), "");
    snprintf(req, sizeof(req), "{\"op\":\"leave\",\"room\":\"%s\"}", ROOM);
    ASSERT_STREQ(answer(&st, "room:leave", req, "null"),
                 "[\"room:left\",{\"roomId\":\"" ROOM "\"}]");
    ASSERT_STREQ(st.room, "");
    ASSERT_STREQ(answer(&st, "echo", "{\"op\":\"echo\"}", "null"), "");
}

static void test_errors(void)
{
    json_t *e = sio_seed_error("room:message", "validation_error", "bad type", "type");
    ASSERT_STREQ(enc(e),
                 "[\"room:error\",{\"code\":\"validation_error\",\"event\":"
                 "\"room:message\",\"field\":\"messageType\",\"message\":\"bad type\"}]");
    json_decref(e);
    e = sio_seed_error("room:join", "room_full", "the room is full", NULL);
    ASSERT_STREQ(enc(e), "[\"room:error\",{\"code\":\"room_full\",\"event\":\"room:join\","
                         "\"message\":\"the room is full\"}]");
    json_decref(e);
}

/* Returns ev in seed 003's dialect (static buffer), or "NOTSEED". */
static const char *framed(const bus_event_t *ev)
{
    static char out[4096];
    cbuf_t *b = cbuf_new(16);
    int rc = sio_seed_event_append(&b, ev);
    if (rc == SIO_SEED_ENOTSEED) {
        size_t n = b->len;
        cbuf_unref(b);
        return n ? "NOTSEED but appended" : "NOTSEED";
    }
    snprintf(out, sizeof(out), "%.*s", (int)b->len, (const char *)b->data + b->off);
    cbuf_unref(b);
    return out;
}

static void test_events(void)
{
    json_t *msg =
        json_pack("{s:{s:I, s:s}}", "message", "seq", (json_int_t)42, "content", "hi");
    jpart_t part = {.obj = msg};
    bus_event_t ev = {.room = ROOM, .name = "message", .parts = &part, .nparts = 1, .seq = 42};
    ASSERT_STREQ(sio_seed_event_name(&ev), "room:message-received");
    ASSERT_STREQ(framed(&ev),
                 "[\"room:message-received\",{\"roomId\":\"" ROOM
                 "\",\"message\":{\"seq\":42,\"content\":\"hi\"}},\"" ROOM ":42\"]");
    json_decref(msg);

    /* a member's kept encoding is copied, not encoded again */
    jpart_t kept = {.key = "participant",
                    .text = "{\"userId\":\"u-2\",\"displayName\":\"Bo\"}"};
    ev = (bus_event_t){.room = ROOM, .name = "participant_joined", .parts = &kept, .nparts = 1};
    ASSERT_STREQ(framed(&ev),
                 "[\"room:participant-joined\",{\"roomId\":\"" ROOM
                 "\",\"participant\":{\"userId\":\"u-2\",\"displayName\":\"Bo\"}}]");

    json_t *left = json_pack("{s:s, s:s}", "userId", "u-2", "reason", "left");
    part = (jpart_t){.obj = left};
    ev = (bus_event_t){.room = ROOM, .name = "participant_left", .parts = &part, .nparts = 1};
    ASSERT_STREQ(framed(&ev), "[\"room:participant-left\",{\"roomId\":\"" ROOM
                              "\",\"userId\":\"u-2\",\"reason\":\"left\"}]");
    json_decref(left);

    json_t *st = json_pack("{s:{}, s:I}", "state", "version", (json_int_t)3);
    part = (jpart_t){.obj = st};
    ev = (bus_event_t){.room = ROOM, .name = "state", .parts = &part, .nparts = 1, .seq = 3};
    ASSERT_STREQ(framed(&ev), "[\"room:state-updated\",{\"roomId\":\"" ROOM
                              "\",\"state\":{},\"version\":3}]"); /* no offset: not a message */
    json_decref(st);

    /* voice is the room's call: its members joining and leaving */
    json_t *b =
        json_pack("{s:s, s:{s:s, s:s}}", "mode", "mesh", "member", "id", "c1", "userId", "u-2");
    part = (jpart_t){.obj = b};
    ev = (bus_event_t){.room = ROOM, .name = "rtc_member_joined", .parts = &part, .nparts = 1};
    ASSERT_STREQ(framed(&ev), "[\"room:voice-started\",{\"roomId\":\"" ROOM
                              "\",\"mode\":\"mesh\",\"member\":{\"id\":\"c1\",\"userId\":"
                              "\"u-2\"}}]");
    ev.name = "rtc_member_left";
    ASSERT_STREQ(sio_seed_event_name(&ev), "room:voice-stopped");
    ev.name = "rtc_member_updated";
    ASSERT_STREQ(framed(&ev), "NOTSEED"); /* the other call events keep their Chorus name */
    json_decref(b);
    json_t *bc = json_pack("{s:s, s:s, s:{}}", "event", "voice_started", "from", "u-2", "data");
    part = (jpart_t){.obj = bc};
    ev = (bus_event_t){.room = ROOM, .name = "broadcast", .parts = &part, .nparts = 1};
    ASSERT_STREQ(framed(&ev), "NOTSEED"); /* a broadcast is a broadcast, whatever its event */
    json_decref(bc);

    ev = (bus_event_t){.room = ROOM, .name = "presence"};
    ASSERT_STREQ(framed(&ev), "NOTSEED");
    ev = (bus_event_t){.room = ROOM, .doc = "d", .name = "message"};
    ASSERT_TRUE(sio_seed_event_name(&ev) == NULL); /* a document's events are not rooms' */
    ev = (bus_event_t){.room = ROOM, .unsubscribe = 1};
    ASSERT_TRUE(sio_seed_event_name(&ev) == NULL);

    /* a room id that would need escaping is still written right */
    json_t *m2 = json_pack("{s:{s:I}}", "message", "seq", (json_int_t)1);
    part = (jpart_t){.obj = m2};
    ev =
        (bus_event_t){.room = "a\"b", .name = "message", .parts = &part, .nparts = 1, .seq = 1};
    ASSERT_STREQ(framed(&ev), "[\"room:message-received\",{\"roomId\":\"a\\\"b\",\"message\":"
                              "{\"seq\":1}}]");
    json_decref(m2);
}

static void test_frame(void)
{
    jpart_t kept = {.key = "participant", .text = "{\"userId\":\"u-2\"}"};
    bus_event_t ev = {.room = "r", .name = "participant_joined", .parts = &kept, .nparts = 1};
    cbuf_t *f = sio_seed_frame_event(&ev);
    ASSERT_TRUE(f != NULL);
    const char *want = "42[\"room:participant-joined\",{\"roomId\":\"r\",\"participant\":"
                       "{\"userId\":\"u-2\"}}]";
    size_t n = strlen(want);
    const uint8_t *p = f->data + f->off;
    ASSERT_EQ(f->len, n + 2); /* a WebSocket text frame: FIN + text, unmasked length < 126 */
    ASSERT_EQ(p[0], 0x81);
    ASSERT_EQ(p[1], n);
    ASSERT_MEMEQ(p + 2, want, n);
    ASSERT_EQ(f->refcnt, 1);
    cbuf_unref(f);
    ev = (bus_event_t){.room = "r", .name = "presence"};
    ASSERT_TRUE(sio_seed_frame_event(&ev) == NULL);
}

static void test_offsets(void)
{
    char off[SIO_SEED_OFFSET_LEN], room[STORE_ID_LEN];
    int64_t seq = -1;
    ASSERT_EQ(sio_seed_offset_format(off, ROOM, 9007199254740991LL), 0);
    ASSERT_STREQ(off, ROOM ":9007199254740991");
    ASSERT_EQ(sio_seed_offset_parse(off, strlen(off), room, &seq), 0);
    ASSERT_STREQ(room, ROOM);
    ASSERT_EQ(seq, 9007199254740991LL);
    ASSERT_EQ(sio_seed_offset_parse("r:0", 3, room, &seq), 0);
    ASSERT_EQ(seq, 0);
    ASSERT_EQ(sio_seed_offset_format(off, ROOM, -1), -1);
    ASSERT_EQ(sio_seed_offset_format(off, "a:b", 1), -1);
    ASSERT_EQ(sio_seed_offset_format(off, "", 1), -1);
    const char *bad[] = {"",
                         ":1",
                         "r:",
                         "r:01",
                         "r:-1",
                         "r:1x",
                         "r1",
                         "a b:1",
                         "r:9007199254740992",
                         "r:12345678901234567",
                         "r:1:2",
                         "a\"b:1",
                         "0123456789012345678901234567890123456789:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        if (sio_seed_offset_parse(bad[i], strlen(bad[i]), room, &seq) != -1)
            TEST_FAIL_("offset \"%s\" was accepted", bad[i]);
    }
    /* not NUL-terminated: only len bytes are read */
    ASSERT_EQ(sio_seed_offset_parse("r:12xyz", 4, room, &seq), 0);
    ASSERT_EQ(seq, 12);
}

int main(void)
{
    RUN(test_is_event);
    RUN(test_requests);
    RUN(test_answers);
    RUN(test_errors);
    RUN(test_events);
    RUN(test_frame);
    RUN(test_offsets);
    TEST_MAIN_END();
}
