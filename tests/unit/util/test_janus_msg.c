/* test_janus_msg.c: Janus API requests as JSON and Janus's replies read, on replies recorded
 * from Debian's janus 1.1.2 (tests/e2e/lib/janus.mjs, token auth on) and on events in the
 * shapes its VideoRoom documents (joined, attached with an offer, publishers, leaving,
 * unpublished); malformed and hostile replies are refused or read as nothing. */
#include "test.h"

#include <jansson.h>

#include "util/janus_msg.h"

/* Whether the text s (new, freed here) equals the JSON want. */
static int json_is(char *s, const char *want)
{
    json_t *a = json_loads(s, 0, NULL), *b = json_loads(want, 0, NULL);
    int eq = a && b && json_equal(a, b);
    if (!eq) fprintf(stderr, "got %s\nwant %s\n", s, want);
    json_decref(a);
    json_decref(b);
    free(s);
    return eq;
}

static int body_is(json_t *body, const char *want)
{
    char *s = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    return json_is(s, want);
}

static void test_requests(void)
{
    size_t len;
    char *s = janus_msg_request(JANUS_REQ_CREATE, "c1", "tok", &len);
    ASSERT_EQ(len, strlen(s));
    ASSERT_TRUE(json_is(s, "{\"janus\":\"create\",\"transaction\":\"c1\",\"token\":\"tok\"}"));
    ASSERT_TRUE(json_is(janus_msg_request(JANUS_REQ_KEEPALIVE, "c2", NULL, &len),
                        "{\"janus\":\"keepalive\",\"transaction\":\"c2\"}"));
    ASSERT_TRUE(json_is(janus_msg_request(JANUS_REQ_DETACH, "c3", "t", &len),
                        "{\"janus\":\"detach\",\"transaction\":\"c3\",\"token\":\"t\"}"));
    ASSERT_TRUE(json_is(janus_msg_request(JANUS_REQ_DESTROY, "c4", "t", &len),
                        "{\"janus\":\"destroy\",\"transaction\":\"c4\",\"token\":\"t\"}"));
    ASSERT_TRUE(json_is(janus_msg_attach(JANUS_VIDEOROOM, "c5", "t", &len),
                        "{\"janus\":\"attach\",\"plugin\":\"janus.plugin.videoroom\","
                        "\"transaction\":\"c5\",\"token\":\"t\"}"));
    ASSERT_TRUE(json_is(janus_msg_admin_token(1, "m1", JANUS_VIDEOROOM, "sec", "a1", &len),
                        "{\"janus\":\"add_token\",\"token\":\"m1\",\"plugins\":"
                        "[\"janus.plugin.videoroom\"],\"admin_secret\":\"sec\","
                        "\"transaction\":\"a1\"}"));
    ASSERT_TRUE(json_is(janus_msg_admin_token(0, "m1", JANUS_VIDEOROOM, "sec", "a2", &len),
                        "{\"janus\":\"remove_token\",\"token\":\"m1\",\"admin_secret\":\"sec\","
                        "\"transaction\":\"a2\"}"));
}

static void test_messages(void)
{
    size_t len;
    json_t *b = janus_vr_start();
    ASSERT_TRUE(json_is(janus_msg_message(b, "answer", "v=0\r\n", "c6", "t", &len),
                        "{\"janus\":\"message\",\"body\":{\"request\":\"start\"},\"jsep\":"
                        "{\"type\":\"answer\",\"sdp\":\"v=0\\r\\n\"},\"transaction\":\"c6\","
                        "\"token\":\"t\"}"));
    json_decref(b);
    b = janus_vr_list();
    ASSERT_TRUE(json_is(janus_msg_message(b, NULL, NULL, "c7", "t", &len),
                        "{\"janus\":\"message\",\"body\":{\"request\":\"list\"},"
                        "\"transaction\":\"c7\",\"token\":\"t\"}"));
    json_decref(b);
    json_t *c =
        json_pack("{s:s, s:s, s:i}", "candidate", "candidate:1 1 udp 1 127.0.0.1 9 typ host",
                  "sdpMid", "0", "sdpMLineIndex", 0);
    ASSERT_TRUE(json_is(janus_msg_trickle(c, "c8", "t", &len),
                        "{\"janus\":\"trickle\",\"candidate\":{\"candidate\":\"candidate:1 1 "
                        "udp 1 127.0.0.1 9 typ host\",\"sdpMid\":\"0\",\"sdpMLineIndex\":0},"
                        "\"transaction\":\"c8\",\"token\":\"t\"}"));
    json_decref(c);
    ASSERT_TRUE(json_is(janus_msg_trickle(NULL, "c9", NULL, &len),
                        "{\"janus\":\"trickle\",\"candidate\":{\"completed\":true},"
                        "\"transaction\":\"c9\"}"));
}

static void test_videoroom_bodies(void)
{
    janus_vr_room_t r = {.room = 7, .publishers = 50, .bitrate = 256000, .description = "r"};
    ASSERT_TRUE(body_is(janus_vr_create(&r),
                        "{\"request\":\"create\",\"room\":7,\"permanent\":false,"
                        "\"publishers\":50,\"bitrate\":256000,\"description\":\"r\"}"));
    r = (janus_vr_room_t){.room = 8, .publishers = 6};
    ASSERT_TRUE(body_is(janus_vr_create(&r), "{\"request\":\"create\",\"room\":8,"
                                             "\"permanent\":false,\"publishers\":6}"));
    ASSERT_TRUE(body_is(janus_vr_destroy(9), "{\"request\":\"destroy\",\"room\":9}"));
    ASSERT_TRUE(body_is(janus_vr_publish(9, 3, "c3"),
                        "{\"request\":\"join\",\"ptype\":\"publisher\",\"room\":9,"
                        "\"id\":3,\"display\":\"c3\"}"));
    ASSERT_TRUE(body_is(janus_vr_subscribe(9, 3),
                        "{\"request\":\"join\",\"ptype\":\"subscriber\",\"room\":9,"
                        "\"streams\":[{\"feed\":3}]}"));
    ASSERT_TRUE(body_is(janus_vr_configure(), "{\"request\":\"configure\"}"));
}

#define PARSE(text, m) janus_msg_parse(text, strlen(text), m)

/* Recorded from janus 1.1.2. */
static void test_recorded_replies(void)
{
    janus_msg_t m;
    ASSERT_EQ(PARSE("{\"janus\":\"error\",\"transaction\":\"c1\",\"error\":{\"code\":403,"
                    "\"reason\":\"Unauthorized request (wrong or missing secret/token)\"}}",
                    &m),
              0);
    ASSERT_EQ(m.kind, JANUS_MSG_ERROR);
    ASSERT_STREQ(m.tx, "c1");
    ASSERT_EQ(m.error, 403);
    ASSERT_STREQ(m.reason, "Unauthorized request (wrong or missing secret/token)");
    janus_msg_free(&m);

    ASSERT_EQ(PARSE("{\"janus\":\"success\",\"transaction\":\"c2\",\"data\":{\"id\":"
                    "621546605790033}}",
                    &m),
              0);
    ASSERT_EQ(m.kind, JANUS_MSG_SUCCESS);
    ASSERT_EQ(m.id, 621546605790033ULL);
    ASSERT_EQ(m.error, 0);
    janus_msg_free(&m);

    ASSERT_EQ(PARSE("{\"janus\":\"success\",\"session_id\":621546605790033,\"transaction\":"
                    "\"c4\",\"sender\":678399997534180,\"plugindata\":{\"plugin\":"
                    "\"janus.plugin.videoroom\",\"data\":{\"videoroom\":\"created\",\"room\":"
                    "77,\"permanent\":false}}}",
                    &m),
              0);
    ASSERT_EQ(m.kind, JANUS_MSG_SUCCESS);
    ASSERT_EQ(m.session, 621546605790033ULL);
    ASSERT_EQ(m.sender, 678399997534180ULL);
    ASSERT_EQ(m.vr, JANUS_VR_CREATED);
    ASSERT_EQ(m.room, 77);
    ASSERT_EQ(m.id, 0);
    janus_msg_free(&m);

    ASSERT_EQ(PARSE("{\"janus\":\"success\",\"session_id\":1,\"transaction\":\"c5\",\"sender\":"
                    "2,\"plugindata\":{\"plugin\":\"janus.plugin.videoroom\",\"data\":{"
                    "\"videoroom\":\"success\",\"list\":[{\"room\":77}]}}}",
                    &m),
              0);
    ASSERT_EQ(m.vr, JANUS_VR_SUCCESS);
    ASSERT_TRUE(m.list && json_array_size(m.list) == 1);
    janus_msg_free(&m);

    ASSERT_EQ(
        PARSE("{\"janus\":\"ack\",\"session_id\":621546605790033,\"transaction\":\"c6\"}", &m),
        0);
    ASSERT_EQ(m.kind, JANUS_MSG_ACK);
    janus_msg_free(&m);

    /* A plugin's error comes as a success whose data has error_code. */
    ASSERT_EQ(PARSE("{\"janus\":\"success\",\"session_id\":1,\"transaction\":\"c8\",\"sender\":"
                    "2,\"plugindata\":{\"plugin\":\"janus.plugin.videoroom\",\"data\":{"
                    "\"videoroom\":\"event\",\"error_code\":426,\"error\":\"No such room "
                    "(77)\"}}}",
                    &m),
              0);
    ASSERT_EQ(m.kind, JANUS_MSG_SUCCESS);
    ASSERT_EQ(m.vr, JANUS_VR_EVENT);
    ASSERT_EQ(m.error, 426);
    ASSERT_STREQ(m.reason, "No such room (77)");
    janus_msg_free(&m);
}

static int events_seen;
static void on_event(void *ud, const janus_msg_t *m)
{
    janus_msg_t *last = ud;
    events_seen++;
    *last = *m;
    last->root = NULL;
}

static void test_long_poll(void)
{
    janus_msg_t last;
    events_seen = 0;
    /* Recorded: a publisher's join answered through the long poll (an array, maxev=5). */
    const char *t =
        "[{\"janus\":\"event\",\"session_id\":621546605790033,\"transaction\":\"c6\","
        "\"sender\":678399997534180,\"plugindata\":{\"plugin\":"
        "\"janus.plugin.videoroom\",\"data\":{\"videoroom\":\"joined\",\"room\":77,"
        "\"description\":\"Room 77\",\"id\":5,\"private_id\":2945466955,"
        "\"publishers\":[]}}}]";
    ASSERT_EQ(janus_msg_parse_events(t, strlen(t), on_event, &last), 1);
    ASSERT_EQ(events_seen, 1);
    ASSERT_EQ(last.kind, JANUS_MSG_EVENT);
    ASSERT_EQ(last.vr, JANUS_VR_JOINED);
    ASSERT_EQ(last.pub_id, 5);
    ASSERT_EQ(last.npubs, 0);
    /* One object (maxev=1), a keepalive (no event within the poll). */
    t = "{\"janus\":\"keepalive\"}";
    ASSERT_EQ(janus_msg_parse_events(t, strlen(t), on_event, &last), 1);
    ASSERT_EQ(last.kind, JANUS_MSG_KEEPALIVE);
    /* An array's bad members are skipped; a non-reply is refused. */
    t = "[1, {\"janus\":\"webrtcup\",\"sender\":3}, {\"x\":1}, {\"janus\":\"hangup\","
        "\"sender\":3,\"reason\":\"DTLS alert\"}]";
    ASSERT_EQ(janus_msg_parse_events(t, strlen(t), on_event, &last), 2);
    ASSERT_EQ(last.kind, JANUS_MSG_HANGUP);
    ASSERT_EQ(last.sender, 3);
    ASSERT_EQ(janus_msg_parse_events("42", 2, on_event, &last), -EINVAL);
    ASSERT_EQ(janus_msg_parse_events("[", 1, on_event, &last), -EINVAL);
}

/* The shapes the VideoRoom documents for 1.x events. */
static void test_videoroom_events(void)
{
    janus_msg_t m;
    ASSERT_EQ(PARSE("{\"janus\":\"event\",\"sender\":9,\"transaction\":\"c9\",\"plugindata\":{"
                    "\"plugin\":\"janus.plugin.videoroom\",\"data\":{\"videoroom\":\"joined\","
                    "\"room\":7,\"id\":2,\"publishers\":[{\"id\":1,\"display\":\"c1\","
                    "\"streams\":[]},{\"display\":\"noid\"},{\"id\":3}]}},\"jsep\":{\"type\":"
                    "\"answer\",\"sdp\":\"v=0\"}}",
                    &m),
              0);
    ASSERT_EQ(m.vr, JANUS_VR_JOINED);
    ASSERT_EQ(m.pub_id, 2);
    ASSERT_EQ(m.npubs, 2);
    ASSERT_EQ(m.pubs[0].id, 1);
    ASSERT_STREQ(m.pubs[0].display, "c1");
    ASSERT_EQ(m.pubs[1].id, 3);
    ASSERT_TRUE(m.pubs[1].display == NULL);
    ASSERT_STREQ(m.jsep_type, "answer");
    ASSERT_STREQ(m.jsep_sdp, "v=0");
    janus_msg_free(&m);

    ASSERT_EQ(
        PARSE("{\"janus\":\"event\",\"sender\":4,\"plugindata\":{\"plugin\":"
              "\"janus.plugin.videoroom\",\"data\":{\"videoroom\":\"attached\",\"room\":7,"
              "\"streams\":[]}},\"jsep\":{\"type\":\"offer\",\"sdp\":\"v=0 o\"}}",
              &m),
        0);
    ASSERT_EQ(m.vr, JANUS_VR_ATTACHED);
    ASSERT_STREQ(m.jsep_type, "offer");
    ASSERT_EQ(m.pub_id, 0);
    janus_msg_free(&m);

    ASSERT_EQ(PARSE("{\"janus\":\"event\",\"sender\":4,\"plugindata\":{\"plugin\":"
                    "\"janus.plugin.videoroom\",\"data\":{\"videoroom\":\"event\",\"room\":7,"
                    "\"leaving\":3}}}",
                    &m),
              0);
    ASSERT_EQ(m.leaving, 3);
    janus_msg_free(&m);
    /* "leaving":"ok" (the handle's own publisher left) is no id. */
    ASSERT_EQ(PARSE("{\"janus\":\"event\",\"plugindata\":{\"data\":{\"videoroom\":\"event\","
                    "\"leaving\":\"ok\",\"unpublished\":5}}}",
                    &m),
              0);
    ASSERT_EQ(m.leaving, 0);
    ASSERT_EQ(m.unpublished, 5);
    janus_msg_free(&m);
    /* A jsep of another type, or without sdp, is none. */
    ASSERT_EQ(PARSE("{\"janus\":\"event\",\"jsep\":{\"type\":\"pranswer\",\"sdp\":\"x\"}}", &m),
              0);
    ASSERT_TRUE(m.jsep_type == NULL);
    janus_msg_free(&m);
}

static void test_hostile(void)
{
    janus_msg_t m;
    ASSERT_EQ(PARSE("", &m), -EINVAL);
    ASSERT_EQ(PARSE("[]", &m), -EINVAL);
    ASSERT_EQ(PARSE("{\"janus\":1}", &m), -EINVAL);
    ASSERT_EQ(PARSE("{\"janus\":\"success\",\"janus\":\"error\"}", &m), -EINVAL);
    /* Wrong types and out-of-range ids read as none. */
    ASSERT_EQ(
        PARSE("{\"janus\":\"success\",\"session_id\":-4,\"sender\":\"7\",\"data\":{\"id\":"
              "1.5},\"transaction\":\"0123456789012345678901234567890123\",\"error\":3}",
              &m),
        0);
    ASSERT_EQ(m.session, 0);
    ASSERT_EQ(m.sender, 0);
    ASSERT_EQ(m.id, 0);
    ASSERT_STREQ(m.tx, "");
    ASSERT_EQ(m.error, 0);
    janus_msg_free(&m);
    ASSERT_EQ(PARSE("{\"janus\":\"error\",\"error\":{\"code\":\"x\"}}", &m), 0);
    ASSERT_EQ(m.error, -1);
    ASSERT_STREQ(m.reason, "");
    janus_msg_free(&m);
    /* A long reason is cut. */
    char t[600];
    snprintf(t, sizeof(t),
             "{\"janus\":\"error\",\"error\":{\"code\":490,\"reason\":\"%0300d\"}}", 0);
    ASSERT_EQ(PARSE(t, &m), 0);
    ASSERT_EQ(strlen(m.reason), JANUS_REASON_MAX);
    janus_msg_free(&m);
    /* More publishers than JANUS_PUB_MAX: the first ones are kept. */
    char big[8192] = "{\"janus\":\"event\",\"plugindata\":{\"data\":{\"videoroom\":\"event\","
                     "\"publishers\":[";
    for (int i = 1; i <= JANUS_PUB_MAX + 10; i++)
        snprintf(big + strlen(big), sizeof(big) - strlen(big), "%s{\"id\":%d}",
                 i > 1 ? "," : "", i);
    strcat(big, "]}}}");
    ASSERT_EQ(PARSE(big, &m), 0);
    ASSERT_EQ(m.npubs, JANUS_PUB_MAX);
    ASSERT_EQ(m.pubs[JANUS_PUB_MAX - 1].id, JANUS_PUB_MAX);
    janus_msg_free(&m);
}

/* A reply is its own request's only: the transaction must be the one sent (a session
 * "create" answered after a Janus restart carries an older request's). */
static void test_answers(void)
{
    janus_msg_t m;
    ASSERT_EQ(PARSE("{\"janus\":\"success\",\"transaction\":\"c7\",\"data\":{\"id\":5}}", &m),
              0);
    ASSERT_TRUE(janus_msg_answers(&m, "c7"));
    ASSERT_TRUE(!janus_msg_answers(&m, "c6"));  /* an older request's reply */
    ASSERT_TRUE(!janus_msg_answers(&m, "c77")); /* no prefix match */
    ASSERT_TRUE(!janus_msg_answers(&m, "c"));
    ASSERT_TRUE(!janus_msg_answers(&m, ""));
    ASSERT_TRUE(!janus_msg_answers(&m, NULL));
    janus_msg_free(&m);
    ASSERT_EQ(PARSE("{\"janus\":\"ack\",\"session_id\":1,\"transaction\":\"c8\"}", &m), 0);
    ASSERT_TRUE(janus_msg_answers(&m, "c8"));
    janus_msg_free(&m);
    ASSERT_EQ(PARSE("{\"janus\":\"error\",\"session_id\":1,\"transaction\":\"c9\",\"error\":"
                    "{\"code\":458,\"reason\":\"No such session 1\"}}",
                    &m),
              0);
    ASSERT_TRUE(janus_msg_answers(&m, "c9")); /* an error answers too */
    janus_msg_free(&m);
    /* No transaction, or one too long to keep, answers nothing. */
    ASSERT_EQ(PARSE("{\"janus\":\"success\",\"data\":{\"id\":5}}", &m), 0);
    ASSERT_TRUE(!janus_msg_answers(&m, "c1"));
    janus_msg_free(&m);
    ASSERT_EQ(PARSE("{\"janus\":\"success\",\"transaction\":"
                    "\"0123456789012345678901234567890123\"}",
                    &m),
              0);
    ASSERT_TRUE(!janus_msg_answers(&m, "0123456789012345678901234567890123"));
    janus_msg_free(&m);
    /* An event carrying a request's transaction is not its reply. */
    ASSERT_EQ(PARSE("{\"janus\":\"event\",\"sender\":3,\"transaction\":\"c10\"}", &m), 0);
    ASSERT_TRUE(!janus_msg_answers(&m, "c10"));
    janus_msg_free(&m);
}

int main(void)
{
    RUN(test_requests);
    RUN(test_messages);
    RUN(test_videoroom_bodies);
    RUN(test_recorded_replies);
    RUN(test_long_poll);
    RUN(test_videoroom_events);
    RUN(test_hostile);
    RUN(test_answers);
    TEST_MAIN_END();
}
