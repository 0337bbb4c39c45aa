/* test_sio_seed_conn.c: a seed 003 session's replies and framing (sio_seed_conn.c,
 * included for its statics): a room event framed once for every seed 003 receiver of a
 * process, the reply to a room:* event taken before the transport wraps it and turned into
 * the ack and room:* events, the sender's own message spliced from its reply's text. */
#include "test.h"

#include "../fake_client.h"
#include "proto/sio_seed_conn.c"

/* The recording transport, in seed 003's dialect and in the generic Socket.IO one. */
static const proto_transport_t seed_tr = {fake_client_send,
                                          fake_client_close,
                                          fake_client_peer,
                                          fake_client_release,
                                          fake_client_settled,
                                          &sio_seed_dialect,
                                          NULL};
static const proto_transport_t sio_tr = {fake_client_send,
                                         fake_client_close,
                                         fake_client_peer,
                                         fake_client_release,
                                         fake_client_settled,
                                         &proto_sio_dialect,
                                         NULL};

#define NSEED 1000

/* A room of 1,000 seed 003 receivers, 3 generic Socket.IO ones and 3 /ws ones: a message
 * is framed once per dialect, and every seed 003 receiver queues the same buffer. */
static void test_framed_once_per_dialect(void)
{
    bus_t *bus = bus_local_new(1, &proto_bus_rcv_ops);
    bus_topic_t topic;
    bus_topic_init(&topic, bus);
    size_t n = NSEED + 6;
    fake_client_t *cs = ch_calloc(n, sizeof(*cs));
    bus_sub_t *subs = ch_calloc(n, sizeof(*subs));
    for (size_t i = 0; i < n; i++) {
        fake_client_init(&cs[i], bus, "u");
        cs[i].pc.tr = i < NSEED ? &seed_tr : i < NSEED + 3 ? &sio_tr : &fake_client_tr;
        subs[i].rcv = &cs[i].pc.rcv;
        bus_subscribe(&topic, &subs[i], &cs[i].pc.rcv.subs);
    }
    json_t *m = json_pack("{s:{s:I, s:s}}", "message", "seq", (json_int_t)5, "content", "hi");
    jpart_t part = {.obj = m};
    bus_event_t ev = {.room = "r-1", .name = "message", .parts = &part, .nparts = 1, .seq = 5};
    ASSERT_EQ(bus_publish(&topic, &ev), n);
    ASSERT_EQ(bus->framed, 3);
    for (size_t i = 1; i < NSEED; i++)
        if (cs[i].last != cs[0].last) TEST_FAIL_("seed receiver %zu got its own frame", i);
    ASSERT_EQ(cs[0].last->refcnt, NSEED); /* one reference per receiver, the bus's dropped */
    ASSERT_STREQ(cs[0].text, "42[\"room:message-received\",{\"roomId\":\"r-1\",\"message\":"
                             "{\"seq\":5,\"content\":\"hi\"}},\"r-1:5\"]");
    ASSERT_STREQ(cs[NSEED].text,
                 "42[\"message\",{\"op\":\"message\",\"room\":\"r-1\",\"message\":{\"seq\":5,"
                 "\"content\":\"hi\"}}]");
    ASSERT_STREQ(
        cs[NSEED + 3].text,
        "{\"op\":\"message\",\"room\":\"r-1\",\"message\":{\"seq\":5,\"content\":\"hi\"}}");
    /* an event seed 003 has no name for: its generic Socket.IO framing, once for them */
    json_t *pr = json_pack("{s:s, s:{}}", "userId", "u-2", "state");
    part = (jpart_t){.obj = pr};
    ev = (bus_event_t){.room = "r-1", .name = "presence", .parts = &part, .nparts = 1};
    ASSERT_EQ(bus_publish(&topic, &ev), n);
    ASSERT_EQ(bus->framed, 6);
    ASSERT_TRUE(cs[0].last == cs[NSEED - 1].last);
    ASSERT_STREQ(cs[0].text, cs[NSEED].text);
    json_decref(pr);
    json_decref(m);
    for (size_t i = 0; i < n; i++) {
        bus_unsubscribe(&topic, &subs[i]);
        fake_client_free(&cs[i]);
    }
    free(subs);
    free(cs);
    bus_free(bus);
}

/* message_seq finds the message's own seq, not one in its content or metadata. */
static void test_message_seq(void)
{
    const char *m = "{\"id\":\"x\",\"content\":\"\\\"seq\\\":3\",\"metadata\":{\"seq\":4,"
                    "\"a\":[{\"seq\":5}]},\"seq\":42,\"type\":\"user_text\"}";
    ASSERT_EQ(message_seq(m, strlen(m)), 42);
    const char *none = "{\"id\":\"x\",\"metadata\":{\"seq\":4}}";
    ASSERT_EQ(message_seq(none, strlen(none)), -1);
    const char *bad = "{\"seq\":\"7\"}";
    ASSERT_EQ(message_seq(bad, strlen(bad)), -1);
}

/* A fake seed 003 connection with one pending room:* event of name, ack id ack. */
typedef struct {
    fake_client_t c;
    proto_sio_conn_t st;
    int64_t ref;
} seed_fx_t;

static void fx_open(seed_fx_t *f, const char *name, int64_t ack, const char *room)
{
    memset(f, 0, sizeof(*f));
    fake_client_init(&f->c, NULL, "u-1");
    f->c.pc.tr = &seed_tr;
    snprintf(f->st.sid, sizeof(f->st.sid), "s");
    struct sio_seed_conn_s *s = session(&f->c.pc, &f->st);
    pending_t *q = pending_add(s);
    q->name = name;
    q->ack = ack;
    snprintf(q->room, sizeof(q->room), "%s", room);
    f->ref = q->ref;
}

static void fx_close(seed_fx_t *f)
{
    sio_seed_conn_free(&f->st);
    fake_client_free(&f->c);
}

/* Hands the reply {"op":"reply","ref":ref,<rest>} to the session; returns what it did. */
static int reply(seed_fx_t *f, int64_t ref, const char *rest)
{
    char text[2048];
    snprintf(text, sizeof(text), "{\"op\":\"reply\",\"ref\":%lld,%s", (long long)ref, rest);
    json_t *j = json_loads(text, 0, NULL);
    CH_ASSERT(j != NULL);
    cbuf_t *fr = proto_frame_json(j); /* the bytes proto.c sends */
    json_decref(j);
    int rc = sio_seed_conn_reply(&f->c.pc, &f->st, fr);
    cbuf_unref(fr);
    return rc;
}

static void test_reply_message(void)
{
    seed_fx_t f;
    fx_open(&f, "room:message", 9, "r-1");
    /* not an internal ref, or not this session's: the transport's */
    ASSERT_EQ(reply(&f, 9, "\"ok\":true,\"data\":null}"), 0);
    ASSERT_EQ(reply(&f, f.ref - 1, "\"ok\":true,\"data\":null}"), 0);
    ASSERT_EQ(f.c.frames, 0);
    ASSERT_EQ(reply(&f, f.ref,
                    "\"ok\":true,\"data\":{\"message\":{\"id\":\"m\",\"seq\":7,\"content\":"
                    "\"a \\\"seq\\\":1\"}}}"),
              1);
    ASSERT_EQ(f.c.frames, 2);
    ASSERT_EQ(f.st.seed->npending, 0); /* the ack first (its bytes: test_reply_ack_and_error) */
    /* the sender's own copy, spliced: the same shape the others get, with its offset */
    ASSERT_STREQ(f.c.text,
                 "42[\"room:message-received\",{\"roomId\":\"r-1\",\"message\":{\"id\":"
                 "\"m\",\"seq\":7,\"content\":\"a \\\"seq\\\":1\"}},\"r-1:7\"]");
    /* answered once: the same ref again is not this session's anymore */
    ASSERT_EQ(reply(&f, f.ref, "\"ok\":true,\"data\":null}"), 0);
    fx_close(&f);
}

static void test_reply_ack_and_error(void)
{
    seed_fx_t f;
    fx_open(&f, "room:state-update", 3, "r-1");
    ASSERT_EQ(
        reply(&f, f.ref,
              "\"ok\":false,\"error\":{\"code\":\"forbidden\",\"message\":\"host only\"}}"),
        1);
    ASSERT_EQ(f.c.frames, 2);
    ASSERT_STREQ(f.c.text,
                 "42[\"room:error\",{\"code\":\"forbidden\",\"message\":\"host only\","
                 "\"event\":\"room:state-update\"}]");
    fx_close(&f);

    fx_open(&f, "room:presence-update", 12, "r-1");
    ASSERT_EQ(reply(&f, f.ref, "\"ok\":true,\"data\":null}"), 1);
    ASSERT_EQ(f.c.frames, 1); /* the ack only: a heartbeat has no event */
    ASSERT_STREQ(f.c.text, "4312[{\"op\":\"reply\",\"ref\":12,\"ok\":true,\"data\":null}]");
    fx_close(&f);

    fx_open(&f, "room:leave", -1, "r-1");
    snprintf(f.st.seed->st.room, sizeof(f.st.seed->st.room), "r-1");
    ASSERT_EQ(reply(&f, f.ref, "\"ok\":true,\"data\":null}"), 1);
    ASSERT_EQ(f.c.frames, 1); /* no ack asked */
    ASSERT_STREQ(f.c.text, "42[\"room:left\",{\"roomId\":\"r-1\"}]");
    ASSERT_STREQ(f.st.seed->st.room, "");
    fx_close(&f);
}

/* room_reset's frame for a seed 003 connection (its generic Socket.IO framing). */
static cbuf_t *reset_frame(const char *room)
{
    jpart_t part = {.key = "reason", .text = "\"home_lost\""};
    return proto_sio_frame_event(&(bus_event_t){
        .room = room, .name = "room_reset", .parts = &part, .nparts = 1, .unsubscribe = 1});
}

/* A room_reset of the session's room puts it in the context's waiting list, once; another
 * room's, or any other event, does not. Its rejoin answered unavailable waits again (no
 * frame), up to SIO_SEED_REJOIN_TRIES; refused otherwise: room:error for room:join, and
 * the session is out of the room. */
static void test_rejoin_after_reset(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    proto_sio_t sio;
    proto_sio_init(&sio);
    sio_seed_ctx_t x;
    sio_seed_conn_init(&x, &sio, NULL, &loop);
    ASSERT_TRUE(sio.seed == &x);
    ASSERT_EQ(sio.ntables, 1);
    seed_fx_t f;
    fx_open(&f, "room:message", -1, "r-1");
    struct sio_seed_conn_s *s = f.st.seed;
    pending_drop(s, &s->pending[0]);
    s->ctx = &x;
    snprintf(s->st.room, sizeof(s->st.room), "r-1");

    cbuf_t *other = reset_frame("r-10"), *mine = reset_frame("r-1");
    sio_seed_conn_event(&f.c.pc, &f.st, other);
    ASSERT_TRUE(x.waiting == NULL);
    jpart_t part = {.key = "state", .text = "{}"};
    cbuf_t *pres = proto_sio_frame_event(
        &(bus_event_t){.room = "r-1", .name = "presence", .parts = &part, .nparts = 1});
    sio_seed_conn_event(&f.c.pc, &f.st, pres);
    ASSERT_TRUE(x.waiting == NULL);
    sio_seed_conn_event(&f.c.pc, &f.st, mine);
    ASSERT_TRUE(x.waiting == s);
    ASSERT_EQ(s->rejoining, 1);
    sio_seed_conn_event(&f.c.pc, &f.st, mine); /* one rejoin at a time */
    ASSERT_TRUE(x.waiting == s && s->next == NULL);
    ASSERT_TRUE(x.timer_made && uv_is_active((uv_handle_t *)&x.timer));

    /* Its join (what the timer sends) answered unavailable: waits again, nothing sent. */
    rejoin_unlink(s);
    for (int i = 1; i < SIO_SEED_REJOIN_TRIES; i++) {
        pending_t *q = pending_add(s);
        q->name = rejoin_name;
        int64_t ref = q->ref;
        ASSERT_EQ(reply(&f, ref,
                        "\"ok\":false,\"error\":{\"code\":\"unavailable\",\"message\":\"x\"}}"),
                  1);
        ASSERT_EQ(f.c.frames, 0);
        ASSERT_TRUE(x.waiting == s);
        ASSERT_EQ(s->tries, i);
        rejoin_unlink(s);
    }
    /* the last try: refused */
    pending_t *q = pending_add(s);
    q->name = rejoin_name;
    ASSERT_EQ(reply(&f, q->ref,
                    "\"ok\":false,\"error\":{\"code\":\"unavailable\",\"message\":\"x\"}}"),
              1);
    ASSERT_EQ(f.c.frames, 1);
    ASSERT_STREQ(f.c.text, "42[\"room:error\",{\"code\":\"unavailable\",\"message\":\"x\","
                           "\"event\":\"room:join\"}]");
    ASSERT_TRUE(x.waiting == NULL);
    ASSERT_EQ(s->rejoining, 0);
    ASSERT_STREQ(s->st.room, "");
    /* out of the room: a reset reaches it no more */
    sio_seed_conn_event(&f.c.pc, &f.st, mine);
    ASSERT_TRUE(x.waiting == NULL);

    /* Freed while waiting: taken out of the list. */
    snprintf(s->st.room, sizeof(s->st.room), "r-1");
    sio_seed_conn_event(&f.c.pc, &f.st, mine);
    ASSERT_TRUE(x.waiting == s);
    fx_close(&f);
    ASSERT_TRUE(x.waiting == NULL);
    cbuf_unref(other);
    cbuf_unref(mine);
    cbuf_unref(pres);
    sio_seed_conn_close(&x);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

int main(void)
{
    RUN(test_framed_once_per_dialect);
    RUN(test_message_seq);
    RUN(test_reply_message);
    RUN(test_reply_ack_and_error);
    RUN(test_rejoin_after_reset);
    TEST_MAIN_END();
}
