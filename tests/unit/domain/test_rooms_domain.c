/* test_rooms_domain.c: the rooms driven through their domain API on a recording bus, with
 * no sockets: what each operation publishes (topic, name, payload, seq, whom it skips or
 * is addressed to). Membership (create, join, a second join, subscribe, leave, kick with
 * ban and the refused join after it, unban), the message seq (in order, consecutive for
 * posts in flight together, continued after the rooms are reopened from the store), the
 * sender skipped on broadcast (posts, broadcasts, presence), and the removal of a user's
 * connections (leave, kick, ban, delete) as an unsubscribe event the bus applies to this
 * process's subscriptions. */
#include "test.h"
#include "fake_client.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>
#include <uv.h>

#include "util/config.h"
#include "domain/docs.h"
#include "domain/entities.h"
#include "util/mem.h"
#include "domain/rooms.h"
#include "domain/rooms_internal.h" /* rooms_system_event */
#include "proto/proto.h"
#include "store/store.h"
#include "store/store_sqlite.h"

#include "fake_bus.h"

/* ---- fixtures ---- */

/* The fixture, on the recording bus. */
#define ROOMS_FX_BUS_T fbus_t
#include "rooms_fixture.h"

/* Starts the rooms on the database at f->db, on a new recording bus. */
static int fx_start(fx_t *f)
{
    return rooms_fx_start(f, &fb_new(3)->base);
}

static int fx_open(fx_t *f)
{
    rooms_fx_init(f, "rooms-domain", LOG_WARN, NULL);
    return fx_start(f);
}

/* A connection as the rooms see it: an identity and a user, never written to (the
 * recording bus delivers nothing). */
static void client_init(proto_client_t *c, fx_t *f, const char *sub)
{
    fake_conn_init(c, &fake_conn_deaf_tr, &f->bus->base, sub);
}

/* Connects c to room as a join does: attached at the home, then subscribed here. */
static void connect_to(fx_t *f, room_t *room, proto_client_t *c)
{
    ASSERT_EQ(rooms_fx_attach(f, room, c), 0);
}

static auth_claims_t user(const char *sub)
{
    auth_claims_t u;
    memset(&u, 0, sizeof(u));
    snprintf(u.sub, sizeof(u.sub), "%s", sub);
    snprintf(u.name, sizeof(u.name), "%s", sub);
    return u;
}

/* The outcome of one asynchronous room operation. */
typedef struct {
    int done;
    int status;
    char code[64];
    json_t *result;
} outcome_t;

static void on_done(void *ud, const rooms_err_t *err, json_t *result)
{
    outcome_t *o = ud;
    o->done = 1;
    o->status = err ? err->kind : 0;
    snprintf(o->code, sizeof(o->code), "%s", err && err->code ? err->code : "");
    o->result = result;
}

/* Waits for an operation; returns its outcome (0 or a negative rooms_errno_t; 1: it never
 * ended). The result stays in o->result (the caller drops it). */
static int wait_op(fx_t *f, outcome_t *o)
{
    if (!test_run_until(&f->loop, &o->done, 5000)) return 1;
    return o->status;
}

/* Runs the loop until an event named name is published (from index from on) or 5 s went
 * by; returns it or NULL. */
static rec_t *wait_event(fx_t *f, size_t from, const char *name)
{
    int found = 0;
    uint64_t end = uv_hrtime() + 5000 * 1000000ull;
    while (!(found = fb_find(f->bus, from, name) != NULL) && uv_hrtime() < end)
        test_run_for(&f->loop, 2);
    return found ? fb_find(f->bus, from, name) : NULL;
}

static void drop(outcome_t *o)
{
    json_decref(o->result);
    memset(o, 0, sizeof(*o));
}

static room_t *make_room(fx_t *f, const char *host)
{
    auth_claims_t h = user(host);
    json_t *body = json_pack("{s:s, s:i}", "name", "domain", "maxParticipants", 10);
    outcome_t o = {0};
    rooms_create(&f->r, &h, body, on_done, &o);
    json_decref(body);
    if (wait_op(f, &o) != 0) return NULL;
    const char *id =
        json_string_value(json_object_get(json_object_get(o.result, "room"), "id"));
    room_t *room = id ? rooms_get(&f->r, id) : NULL;
    drop(&o);
    return room;
}

static int join(fx_t *f, room_t *room, const char *sub, outcome_t *o)
{
    auth_claims_t u = user(sub);
    memset(o, 0, sizeof(*o));
    rooms_join(&f->r, room, &u, NULL, on_done, o);
    return wait_op(f, o);
}

static int post(fx_t *f, room_t *room, const char *sub, const char *text,
                const proto_client_t *from, outcome_t *o)
{
    json_t *content = json_string(text);
    memset(o, 0, sizeof(*o));
    rooms_post(&f->r, room, sub, "user_text", content, NULL,
               from ? from->rcv.id : BUS_MEMBER_NONE, on_done, o);
    json_decref(content);
    return wait_op(f, o);
}

static const char *str_at(const json_t *o, const char *a, const char *b)
{
    const json_t *v = json_object_get(o, a);
    if (b) v = json_object_get(v, b);
    return json_string_value(v);
}

/* ---- tests ---- */

static void test_membership(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    fbus_t *fb = f.bus;
    room_t *room = make_room(&f, "host");
    ASSERT_TRUE(room != NULL);
    ASSERT_EQ(fb->n, 0); /* creating a room tells nobody */

    /* The host connects: participant_joined carries the member's kept encoding and skips
     * the connection itself. */
    proto_client_t hc;
    client_init(&hc, &f, "host");
    connect_to(&f, room, &hc);
    ASSERT_EQ(fb->n, 1);
    rec_t *e = &fb->recs[0];
    ASSERT_STREQ(e->name, "participant_joined");
    ASSERT_STREQ(e->topic, room->id);
    ASSERT_EQ(e->except, hc.rcv.id);
    ASSERT_EQ(e->to, BUS_MEMBER_NONE);
    ASSERT_EQ(e->text_parts, 1);
    ASSERT_STREQ(str_at(e->payload, "participant", "userId"), "host");
    ASSERT_STREQ(str_at(e->payload, "participant", "role"), "host");
    ASSERT_TRUE(json_is_true(json_object_get(json_object_get(e->payload, "participant"),
                                             "online")));
    fb_clear(fb);

    /* A member joins: the answer has the member, and the stored system message announces
     * it to everyone with the room's next seq. */
    outcome_t o;
    ASSERT_EQ(join(&f, room, "ana", &o), 0);
    ASSERT_STREQ(str_at(o.result, "participant", "userId"), "ana");
    ASSERT_STREQ(str_at(o.result, "participant", "role"), "member");
    drop(&o);
    ASSERT_EQ(room->seats, 2);
    e = wait_event(&f, 0, "message");
    ASSERT_TRUE(e != NULL);
    ASSERT_EQ(e->seq, 1);
    ASSERT_EQ(e->except, BUS_MEMBER_NONE);
    ASSERT_STREQ(str_at(e->payload, "message", "type"), "system");
    json_t *meta = json_object_get(json_object_get(e->payload, "message"), "metadata");
    ASSERT_STREQ(str_at(meta, "event", NULL), "joined");
    ASSERT_STREQ(str_at(meta, "userId", NULL), "ana");
    size_t before = fb->n;

    /* Ana connects: participant_joined with her, skipping her connection. */
    proto_client_t ac;
    client_init(&ac, &f, "ana");
    connect_to(&f, room, &ac);
    e = fb_find(fb, before, "participant_joined");
    ASSERT_TRUE(e != NULL);
    ASSERT_EQ(e->except, ac.rcv.id);
    ASSERT_STREQ(str_at(e->payload, "participant", "userId"), "ana");
    ASSERT_STREQ(str_at(e->payload, "participant", "displayName"), "ana");
    fb_clear(fb);

    /* A second join of the same user: the same member, no new seat, nothing published. */
    ASSERT_EQ(join(&f, room, "ana", &o), 0);
    ASSERT_STREQ(str_at(o.result, "participant", "userId"), "ana");
    drop(&o);
    ASSERT_EQ(room->seats, 2);
    ASSERT_EQ(fb->n, 0);

    /* A second connection of hers changes nothing the others see. */
    proto_client_t ac2;
    client_init(&ac2, &f, "ana");
    connect_to(&f, room, &ac2);
    ASSERT_EQ(fb->n, 0);

    /* She leaves: her connections are unsubscribed through the bus (an event with no
     * frame, for her connections), participant_left at once, to everyone, then the
     * system message. */
    memset(&o, 0, sizeof(o));
    rooms_leave(&f.r, room, "ana", NULL, on_done, &o);
    ASSERT_TRUE(fb->n >= 2);
    e = &fb->recs[0];
    ASSERT_STREQ(e->name, "");
    ASSERT_STREQ(e->to_user, "ana");
    ASSERT_EQ(e->unsubscribe, 1);
    ASSERT_TRUE(ac.rcv.subs == NULL && ac2.rcv.subs == NULL); /* applied here by the bus */
    ASSERT_EQ(hc.rcv.subs->room, room);
    e = &fb->recs[1];
    ASSERT_STREQ(e->name, "participant_left");
    ASSERT_EQ(e->except, BUS_MEMBER_NONE);
    ASSERT_STREQ(str_at(e->payload, "userId", NULL), "ana");
    ASSERT_STREQ(str_at(e->payload, "reason", NULL), "left");
    ASSERT_EQ(wait_op(&f, &o), 0);
    drop(&o);
    ASSERT_EQ(room->seats, 1);
    ASSERT_TRUE(room_member(room, "ana") == NULL);
    ASSERT_TRUE(ac.rcv.subs == NULL && ac2.rcv.subs == NULL); /* her connections are out */
    e = wait_event(&f, 2, "message");
    ASSERT_TRUE(e != NULL);
    ASSERT_EQ(e->seq, 2);
    meta = json_object_get(json_object_get(e->payload, "message"), "metadata");
    ASSERT_STREQ(str_at(meta, "event", NULL), "left");

    /* The host may not leave. */
    memset(&o, 0, sizeof(o));
    rooms_leave(&f.r, room, "host", NULL, on_done, &o);
    ASSERT_EQ(o.status, ROOMS_E_INVALID);
    ASSERT_STREQ(o.code, "host_cannot_leave");

    rooms_client_gone(&f.r, &hc.rcv);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

static void test_kick_ban_unban(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    fbus_t *fb = f.bus;
    room_t *room = make_room(&f, "host");
    ASSERT_TRUE(room != NULL);
    outcome_t o;
    ASSERT_EQ(join(&f, room, "bob", &o), 0);
    drop(&o);
    proto_client_t bc;
    client_init(&bc, &f, "bob");
    connect_to(&f, room, &bc);
    ASSERT_TRUE(wait_event(&f, 0, "message") != NULL); /* "joined" */
    fb_clear(fb);

    /* Only the host kicks. */
    auth_claims_t host = user("host"), bob = user("bob");
    memset(&o, 0, sizeof(o));
    rooms_kick(&f.r, room, &bob, "host", 1, on_done, &o);
    ASSERT_EQ(o.status, ROOMS_E_FORBIDDEN);
    ASSERT_EQ(fb->n, 0);

    /* Kicked with ban: "kicked" is addressed to his connections only, which the bus then
     * unsubscribes, then everyone is told he left, banned. */
    memset(&o, 0, sizeof(o));
    rooms_kick(&f.r, room, &host, "bob", 1, on_done, &o);
    ASSERT_TRUE(fb->n >= 2);
    rec_t *e = &fb->recs[0];
    ASSERT_STREQ(e->name, "kicked");
    ASSERT_STREQ(e->to_user, "bob");
    ASSERT_EQ(e->unsubscribe, 1);
    ASSERT_TRUE(bc.rcv.subs == NULL);
    ASSERT_EQ(e->to, BUS_MEMBER_NONE);
    ASSERT_EQ(e->except, BUS_MEMBER_NONE);
    ASSERT_TRUE(json_is_true(json_object_get(e->payload, "ban")));
    e = &fb->recs[1];
    ASSERT_STREQ(e->name, "participant_left");
    ASSERT_EQ(e->to, BUS_MEMBER_NONE);
    ASSERT_STREQ(str_at(e->payload, "userId", NULL), "bob");
    ASSERT_STREQ(str_at(e->payload, "reason", NULL), "banned");
    ASSERT_EQ(wait_op(&f, &o), 0);
    drop(&o);
    ASSERT_TRUE(bc.rcv.subs == NULL);
    ASSERT_EQ(room->seats, 1);
    e = wait_event(&f, 2, "message");
    ASSERT_TRUE(e != NULL);
    json_t *meta = json_object_get(json_object_get(e->payload, "message"), "metadata");
    ASSERT_STREQ(str_at(meta, "event", NULL), "banned");

    /* The ban holds: his join is refused, and nothing is published. */
    size_t before = fb->n;
    ASSERT_EQ(join(&f, room, "bob", &o), ROOMS_E_FORBIDDEN);
    ASSERT_STREQ(o.code, "banned");
    drop(&o);
    ASSERT_EQ(fb->n, before);
    json_t *bans = rooms_bans_json(room);
    ASSERT_EQ(json_array_size(bans), 1);
    ASSERT_STREQ(str_at(json_array_get(bans, 0), "userId", NULL), "bob");
    json_decref(bans);

    /* Unbanned, he joins again as a new member. */
    memset(&o, 0, sizeof(o));
    rooms_unban(&f.r, room, &host, "bob", on_done, &o);
    ASSERT_EQ(wait_op(&f, &o), 0);
    drop(&o);
    ASSERT_TRUE(room_member(room, "bob") == NULL);
    e = wait_event(&f, before, "message");
    ASSERT_TRUE(e != NULL);
    meta = json_object_get(json_object_get(e->payload, "message"), "metadata");
    ASSERT_STREQ(str_at(meta, "event", NULL), "unbanned");
    ASSERT_EQ(join(&f, room, "bob", &o), 0);
    drop(&o);
    ASSERT_EQ(room->seats, 2);

    /* Kicked without ban: the member is gone, "kicked" says so, and he may come back. */
    client_init(&bc, &f, "bob");
    connect_to(&f, room, &bc);
    fb_clear(fb);
    memset(&o, 0, sizeof(o));
    rooms_kick(&f.r, room, &host, "bob", 0, on_done, &o);
    e = fb_find(fb, 0, "kicked");
    ASSERT_TRUE(e != NULL);
    ASSERT_STREQ(e->to_user, "bob");
    ASSERT_EQ(e->unsubscribe, 1);
    ASSERT_TRUE(bc.rcv.subs == NULL);
    ASSERT_TRUE(json_is_false(json_object_get(e->payload, "ban")));
    e = fb_find(fb, 0, "participant_left");
    ASSERT_TRUE(e != NULL);
    ASSERT_STREQ(str_at(e->payload, "reason", NULL), "kicked");
    ASSERT_EQ(wait_op(&f, &o), 0);
    drop(&o);
    ASSERT_TRUE(room_member(room, "bob") == NULL);
    ASSERT_EQ(join(&f, room, "bob", &o), 0);
    drop(&o);

    ASSERT_EQ(rooms_fx_close(&f), 0);
}

static void test_seq(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f, "host");
    ASSERT_TRUE(room != NULL);
    char id[STORE_ID_LEN];
    snprintf(id, sizeof(id), "%s", room->id);

    /* One after the other: seq 1, 2, 3, in the answer and in the event. */
    for (int i = 1; i <= 3; i++) {
        outcome_t o;
        fb_clear(f.bus);
        ASSERT_EQ(post(&f, room, "host", "hello", NULL, &o), 0);
        ASSERT_EQ(json_integer_value(json_object_get(json_object_get(o.result, "message"),
                                                     "seq")),
                  i);
        drop(&o);
        ASSERT_EQ(f.bus->n, 1);
        rec_t *e = &f.bus->recs[0];
        ASSERT_STREQ(e->name, "message");
        ASSERT_STREQ(e->topic, id);
        ASSERT_EQ(e->seq, i);
        ASSERT_EQ(json_integer_value(json_object_get(json_object_get(e->payload, "message"),
                                                     "seq")),
                  i);
    }

    /* Three posts in flight before the first commit: consecutive seqs, published in
     * order once stored. */
    fb_clear(f.bus);
    outcome_t os[3];
    auth_claims_t h = user("host");
    json_t *content = json_string("burst");
    for (int i = 0; i < 3; i++) {
        memset(&os[i], 0, sizeof(os[i]));
        rooms_post(&f.r, room, h.sub, "user_text", content, NULL, BUS_MEMBER_NONE, on_done,
                   &os[i]);
    }
    json_decref(content);
    ASSERT_EQ(room->last_seq, 6);
    ASSERT_EQ(f.bus->n, 0); /* nothing is announced before the store committed it */
    for (int i = 0; i < 3; i++) {
        ASSERT_EQ(wait_op(&f, &os[i]), 0);
        ASSERT_EQ(json_integer_value(json_object_get(json_object_get(os[i].result, "message"),
                                                     "seq")),
                  4 + i);
        drop(&os[i]);
    }
    ASSERT_EQ(f.bus->n, 3);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(f.bus->recs[i].seq, 4 + i);

    /* Closed and opened again from the store: the sequence goes on. */
    ASSERT_EQ(rooms_fx_stop(&f), 0);
    ASSERT_EQ(fx_start(&f), 0);
    room = rooms_get(&f.r, id);
    ASSERT_TRUE(room != NULL);
    ASSERT_EQ(room->last_seq, 6);
    outcome_t o;
    ASSERT_EQ(post(&f, room, "host", "after restart", NULL, &o), 0);
    ASSERT_EQ(json_integer_value(json_object_get(json_object_get(o.result, "message"), "seq")),
              7);
    drop(&o);
    ASSERT_EQ(f.bus->n, 1);
    ASSERT_EQ(f.bus->recs[0].seq, 7);

    /* History agrees: seqs 1 to 7, in order. */
    memset(&o, 0, sizeof(o));
    rooms_history(&f.r, room, -1, -1, 50, on_done, &o);
    ASSERT_EQ(wait_op(&f, &o), 0);
    json_t *msgs = json_object_get(o.result, "messages");
    ASSERT_EQ(json_array_size(msgs), 7);
    for (size_t i = 0; i < 7; i++)
        ASSERT_EQ(json_integer_value(json_object_get(json_array_get(msgs, i), "seq")),
                  (long long)i + 1);
    drop(&o);

    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* Posts text with client id cid (NULL: none) as sub, not waiting. */
static void post_cid(fx_t *f, room_t *room, const char *sub, const char *text, const char *cid,
                     outcome_t *o)
{
    memset(o, 0, sizeof(*o));
    rooms_post_in_t in = {.type = "user_text", .content = text, .content_len = strlen(text)};
    if (cid) {
        in.client_id = cid;
        in.client_id_len = strlen(cid);
    }
    rooms_post_text(&f->r, room, sub, &in, BUS_MEMBER_NONE, on_done, o);
}

static int64_t seq_of(const outcome_t *o)
{
    return json_integer_value(json_object_get(json_object_get(o->result, "message"), "seq"));
}

/* A message with a client id sent again (issue 19): posted in one burst with others, the
 * later posts wait for it (it may take no seq), so the duplicate answers the first one
 * with "duplicate" and nothing else, and the room's seqs and events have no gap. */
static void test_client_id_burst(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f, "host");
    ASSERT_TRUE(room != NULL);
    fb_clear(f.bus);
    outcome_t o[6];
    post_cid(&f, room, "host", "a", "id-a", &o[0]);
    post_cid(&f, room, "host", "b", NULL, &o[1]);
    post_cid(&f, room, "host", "a again", "id-a", &o[2]);
    post_cid(&f, room, "host", "c", "id-c", &o[3]);
    rooms_system_event(&f.r, room, "test", NULL, NULL, "server");
    post_cid(&f, room, "host", "d", NULL, &o[4]);
    /* Only the first is in flight: the rest wait behind it. */
    ASSERT_EQ(room->last_seq, 1);
    ASSERT_EQ(room->msg_writes, 1);
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(wait_op(&f, &o[i]), 0);
    static const int64_t want[5] = {1, 2, 1, 3, 5};
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(seq_of(&o[i]), want[i]);
    ASSERT_TRUE(json_is_true(json_object_get(o[2].result, "duplicate")));
    ASSERT_TRUE(json_object_get(o[0].result, "duplicate") == NULL);
    ASSERT_TRUE(json_equal(json_object_get(o[0].result, "message"),
                           json_object_get(o[2].result, "message")));
    ASSERT_STREQ(str_at(o[0].result, "message", "clientId"), "id-a");
    ASSERT_TRUE(json_object_get(json_object_get(o[1].result, "message"), "clientId") == NULL);
    for (int i = 0; i < 5; i++)
        drop(&o[i]);
    /* Five events, seqs 1 to 5 (the server's message is 4), the duplicate none. */
    test_run_for(&f.loop, 20);
    ASSERT_EQ(f.bus->n, 5);
    for (size_t i = 0; i < 5; i++)
        ASSERT_EQ(f.bus->recs[i].seq, (int64_t)i + 1);
    ASSERT_EQ(room->last_seq, 5);
    ASSERT_EQ(room->committed_seq, 5);
    ASSERT_TRUE(room->held_head == NULL);
    ASSERT_EQ(room->cid_write, 0);
    /* And the next one goes on from there. */
    post_cid(&f, room, "host", "e", "id-e", &o[5]);
    ASSERT_EQ(wait_op(&f, &o[5]), 0);
    ASSERT_EQ(seq_of(&o[5]), 6);
    drop(&o[5]);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* The posts a room holds behind a message with a client id are bounded: past
 * lim.held_max (ROOMS_HELD_MAX) the next is refused at once, and the held ones are all
 * stored. */
static void test_client_id_held_bound(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f, "host");
    ASSERT_TRUE(room != NULL);
    f.r.lim.held_max = 4;
    enum { N = 4 + 2 };
    outcome_t o[N];
    post_cid(&f, room, "host", "first", "id-first", &o[0]);
    for (int i = 1; i < N; i++)
        post_cid(&f, room, "host", "held", NULL, &o[i]);
    ASSERT_EQ(room->held_n, 4u);
    /* The last one was refused without waiting. */
    ASSERT_TRUE(o[N - 1].done);
    ASSERT_STREQ(o[N - 1].code, "service_unavailable");
    for (int i = 0; i < N - 1; i++) {
        ASSERT_EQ(wait_op(&f, &o[i]), 0);
        ASSERT_EQ(seq_of(&o[i]), (int64_t)i + 1);
    }
    ASSERT_EQ(room->held_n, 0u);
    ASSERT_TRUE(room->held_head == NULL);
    for (int i = 0; i < N; i++)
        drop(&o[i]);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* rooms_parts_fn of a post: the answer as parts, decoded into o->result as the reply's
 * data would hold it; o->status 1 marks that it came this way. */
static void on_parts(void *ud, const jpart_t *parts, size_t nparts)
{
    outcome_t *o = ud;
    o->done = 1;
    o->status = 1;
    o->result = json_object();
    ASSERT_EQ(test_jpart_add(o->result, parts, nparts), 1); /* the message's text, no tree */
}

/* A post whose caller takes parts (the WebSocket message op at its home) is answered with
 * the message's one text, the same one its event carries, and it is what the tree's
 * answer was: the same message as history reads back. A duplicate is still answered
 * through done, with "duplicate". */
static void test_post_answered_as_parts(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f, "host");
    ASSERT_TRUE(room != NULL);
    fb_clear(f.bus);
    static const char meta[] = "{\"replyTo\":3,\"x\":[\"\\u00e9\",1.5]}";
    static const char text[] = "caf\xc3\xa9 \"quoted\"\n\t\x01";
    outcome_t o[2];
    for (int i = 0; i < 2; i++) {
        memset(&o[i], 0, sizeof(o[i]));
        rooms_post_in_t in = {.type = "user_text",
                              .content = text,
                              .content_len = strlen(text),
                              .metadata = meta,
                              .metadata_len = strlen(meta),
                              .metadata_object = 1,
                              .client_id = "cid-1",
                              .client_id_len = 5,
                              .answer_parts = on_parts};
        rooms_post_text(&f.r, room, "host", &in, BUS_MEMBER_NONE, on_done, &o[i]);
        ASSERT_TRUE(test_run_until(&f.loop, &o[i].done, 5000));
    }
    ASSERT_EQ(o[0].status, 1); /* parts */
    ASSERT_EQ(o[1].status, 0); /* the duplicate: done, a tree */
    ASSERT_TRUE(json_is_true(json_object_get(o[1].result, "duplicate")));
    ASSERT_TRUE(json_object_get(o[0].result, "success") == NULL);
    json_t *msg = json_object_get(o[0].result, "message");
    ASSERT_STREQ(json_string_value(json_object_get(msg, "content")), text);
    ASSERT_STREQ(json_string_value(json_object_get(msg, "clientId")), "cid-1");
    ASSERT_TRUE(json_equal(msg, json_object_get(o[1].result, "message")));
    /* The event: the same text. */
    test_run_for(&f.loop, 20);
    ASSERT_EQ(f.bus->n, 1);
    ASSERT_EQ(f.bus->recs[0].text_parts, 1);
    ASSERT_TRUE(json_equal(msg, json_object_get(f.bus->recs[0].payload, "message")));
    /* History (the store's row through the tree) reads the same message back. */
    outcome_t h = {0};
    rooms_history(&f.r, room, -1, -1, 50, on_done, &h);
    ASSERT_EQ(wait_op(&f, &h), 0);
    json_t *page = json_object_get(h.result, "messages");
    ASSERT_TRUE(json_equal(msg, json_array_get(page, json_array_size(page) - 1)));
    drop(&h);
    drop(&o[0]);
    drop(&o[1]);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

static void test_sender_skipped(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f, "host");
    ASSERT_TRUE(room != NULL);
    outcome_t o;
    ASSERT_EQ(join(&f, room, "cy", &o), 0);
    drop(&o);
    proto_client_t hc, cc;
    client_init(&hc, &f, "host");
    client_init(&cc, &f, "cy");
    connect_to(&f, room, &hc);
    connect_to(&f, room, &cc);
    ASSERT_TRUE(wait_event(&f, 0, "message") != NULL); /* "joined" */
    fb_clear(f.bus);

    /* A message sent over a connection skips that connection; one posted otherwise (REST)
     * skips none. */
    ASSERT_EQ(post(&f, room, "cy", "from the socket", &cc, &o), 0);
    drop(&o);
    ASSERT_EQ(f.bus->n, 1);
    ASSERT_STREQ(f.bus->recs[0].name, "message");
    ASSERT_EQ(f.bus->recs[0].except, cc.rcv.id);
    ASSERT_STREQ(str_at(f.bus->recs[0].payload, "message", "userId"), "cy");
    fb_clear(f.bus);
    ASSERT_EQ(post(&f, room, "cy", "from REST", NULL, &o), 0);
    drop(&o);
    ASSERT_EQ(f.bus->n, 1);
    ASSERT_EQ(f.bus->recs[0].except, BUS_MEMBER_NONE);
    fb_clear(f.bus);

    /* A broadcast skips its sender, at once and with no seq. */
    json_t *data = json_pack("{s:i}", "x", 1);
    ASSERT_EQ(rooms_broadcast(&f.r, room, hc.rcv.id, hc.user.sub, "cursor", data), 0);
    json_decref(data);
    ASSERT_EQ(f.bus->n, 1);
    rec_t *e = &f.bus->recs[0];
    ASSERT_STREQ(e->name, "broadcast");
    ASSERT_EQ(e->except, hc.rcv.id);
    ASSERT_EQ(e->seq, 0);
    ASSERT_STREQ(str_at(e->payload, "event", NULL), "cursor");
    ASSERT_STREQ(str_at(e->payload, "from", NULL), "host");
    ASSERT_EQ(json_integer_value(json_object_get(json_object_get(e->payload, "data"), "x")), 1);
    fb_clear(f.bus);

    /* Presence skips every connection of its user. */
    json_t *patch = json_pack("{s:s}", "status", "away");
    ASSERT_EQ(rooms_presence(&f.r, room, cc.user.sub, patch), 0);
    json_decref(patch);
    e = fb_find(f.bus, 0, "presence");
    ASSERT_TRUE(e != NULL);
    ASSERT_STREQ(e->except_user, "cy");
    ASSERT_EQ(e->except, BUS_MEMBER_NONE);
    ASSERT_STREQ(str_at(e->payload, "userId", NULL), "cy");
    fb_clear(f.bus);

    /* A connection that goes away: the others are told its member left. */
    rooms_client_gone(&f.r, &cc.rcv);
    e = fb_find(f.bus, 0, "participant_left");
    ASSERT_TRUE(e != NULL);
    ASSERT_STREQ(str_at(e->payload, "userId", NULL), "cy");
    ASSERT_STREQ(str_at(e->payload, "reason", NULL), "disconnected");
    rooms_client_gone(&f.r, &hc.rcv);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* Runs SQL on the fixture's database beside the store (a fault to inject). */
static int db_exec(fx_t *f, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(f->db, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) fprintf(stderr, "db_exec: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

static int64_t msg_seq(const outcome_t *o)
{
    return json_integer_value(json_object_get(json_object_get(o->result, "message"), "seq"));
}

/* An outcome whose callback posts another message (into then) when it runs. */
typedef struct {
    outcome_t *o;
    fx_t *f;
    room_t *room;
    outcome_t *then;
} then_post_t;

static void on_done_then_post(void *ud, const rooms_err_t *err, json_t *result)
{
    then_post_t *tp = ud;
    on_done(tp->o, err, result);
    json_t *c = json_string("in between");
    rooms_post(&tp->f->r, tp->room, "host", "user_text", c, NULL, BUS_MEMBER_NONE, on_done,
               tp->then);
    json_decref(c);
}

/* A message the store fails (a trigger of the real database refuses it: the store answers
 * EIO) is refused with service_unavailable, and takes no seq: the next message gets the
 * seq after the last stored one, so the room's history has no gap, before and after a
 * restart. */
static void test_seq_after_store_failure(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    f.log.level = LOG_ERROR + 1; /* the failures below are expected */
    room_t *room = make_room(&f, "host");
    ASSERT_TRUE(room != NULL);
    char id[STORE_ID_LEN];
    snprintf(id, sizeof(id), "%s", room->id);
    outcome_t o;
    ASSERT_EQ(join(&f, room, "host", &o), 0);
    drop(&o);
    ASSERT_EQ(post(&f, room, "host", "one", NULL, &o), 0);
    int64_t first = msg_seq(&o);
    drop(&o);
    ASSERT_EQ(db_exec(&f, "CREATE TRIGGER boom BEFORE INSERT ON room_messages"
                          " WHEN NEW.content = 'boom' BEGIN SELECT RAISE(ABORT, 'boom'); END"),
              0);
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(post(&f, room, "host", "boom", NULL, &o), ROOMS_E_UNAVAILABLE);
        ASSERT_STREQ(o.code, "service_unavailable");
        drop(&o);
    }
    ASSERT_EQ(post(&f, room, "host", "two", NULL, &o), 0);
    ASSERT_EQ(msg_seq(&o), first + 1);
    drop(&o);

    /* Two in flight, both failed by the store: a post made when the first failed, while
     * the second is still in flight, is refused at once (its seq is not known yet). */
    outcome_t a, b, mid;
    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    memset(&mid, 0, sizeof(mid));
    then_post_t tp = {&a, &f, room, &mid};
    auth_claims_t h = user("host");
    json_t *boom = json_string("boom");
    rooms_post(&f.r, room, h.sub, "user_text", boom, NULL, BUS_MEMBER_NONE, on_done_then_post,
               &tp);
    rooms_post(&f.r, room, h.sub, "user_text", boom, NULL, BUS_MEMBER_NONE, on_done, &b);
    json_decref(boom);
    ASSERT_EQ(wait_op(&f, &a), ROOMS_E_UNAVAILABLE);
    ASSERT_EQ(wait_op(&f, &b), ROOMS_E_UNAVAILABLE);
    ASSERT_EQ(mid.done, 1);
    ASSERT_EQ(mid.status, ROOMS_E_UNAVAILABLE);
    ASSERT_STREQ(mid.code, "service_unavailable");
    drop(&a);
    drop(&b);
    ASSERT_EQ(post(&f, room, "host", "four", NULL, &o), 0);
    drop(&o);

    memset(&o, 0, sizeof(o));
    rooms_history(&f.r, room, -1, -1, 50, on_done, &o);
    ASSERT_EQ(wait_op(&f, &o), 0);
    json_t *msgs = json_object_get(o.result, "messages");
    size_t n = json_array_size(msgs);
    ASSERT_EQ(n, 3); /* one, two, four */
    for (size_t i = 0; i < n; i++)
        ASSERT_EQ(json_integer_value(json_object_get(json_array_get(msgs, i), "seq")),
                  (long long)i + 1);
    drop(&o);

    ASSERT_EQ(rooms_fx_stop(&f), 0);
    ASSERT_EQ(fx_start(&f), 0);
    room = rooms_get(&f.r, id);
    ASSERT_TRUE(room != NULL);
    ASSERT_EQ(post(&f, room, "host", "after restart", NULL, &o), 0);
    ASSERT_EQ(msg_seq(&o), (int64_t)n + 1);
    drop(&o);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* A message stored that the loop was told failed (PostgreSQL: the connection broke during
 * COMMIT, after the server had committed it) takes its seq: the next post, refused as
 * taken, learns the room's highest stored seq from the store, and the one after it is
 * stored after that message instead of being refused forever. */
static void test_seq_after_lost_commit(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    f.log.level = LOG_ERROR + 1;
    room_t *room = make_room(&f, "host");
    ASSERT_TRUE(room != NULL);
    outcome_t o;
    ASSERT_EQ(join(&f, room, "host", &o), 0);
    drop(&o);
    ASSERT_EQ(post(&f, room, "host", "one", NULL, &o), 0);
    int64_t first = msg_seq(&o);
    drop(&o);
    char sql[512];
    snprintf(sql, sizeof(sql),
             "INSERT INTO room_messages(id, room_id, seq, user_id, display_name, type, content,"
             " metadata, created_at) VALUES('00000000-0000-4000-8000-000000000001', '%s', %lld,"
             " 'host', 'host', 'user_text', 'lost answer', NULL, 1)",
             room->id, (long long)first + 1);
    ASSERT_EQ(db_exec(&f, sql), 0);
    ASSERT_EQ(post(&f, room, "host", "taken", NULL, &o), ROOMS_E_UNAVAILABLE);
    drop(&o);
    ASSERT_EQ(post(&f, room, "host", "next", NULL, &o), 0);
    ASSERT_EQ(msg_seq(&o), first + 2);
    drop(&o);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* A large room's interval: the tick, or longer where a tick's event would cost more than
 * the rate's deliveries a second (issue 26: a room of 100,000 at 50,000/s every 2 s). */
static void test_coalesce_interval(void)
{
    ASSERT_EQ(rooms_coalesce_interval(100, 50000, 0), 100);
    ASSERT_EQ(rooms_coalesce_interval(100, 50000, 5000), 100);
    ASSERT_EQ(rooms_coalesce_interval(100, 50000, 19000), 380);
    ASSERT_EQ(rooms_coalesce_interval(100, 50000, 100000), 2000);
    ASSERT_EQ(rooms_coalesce_interval(100, 1, 5), 5000);
    ASSERT_EQ(rooms_coalesce_interval(250, 0, 1000000), 250); /* no rate: the tick */
    /* The joins an event names: the rate's deliveries over the interval, per member, less
     * the event itself; none once the rate sets the interval; at most changed_max. */
    ASSERT_EQ(rooms_coalesce_named(100, 50000, 100, 5), 100);
    ASSERT_EQ(rooms_coalesce_named(100, 50000, 100, 101), 48);
    ASSERT_EQ(rooms_coalesce_named(100, 50000, 100, 1000), 4);
    ASSERT_EQ(rooms_coalesce_named(100, 50000, 100, 5000), 0);
    ASSERT_EQ(rooms_coalesce_named(100, 50000, 380, 19000), 0);
    ASSERT_EQ(rooms_coalesce_named(100, 0, 100, 19000), 100); /* no rate: changed_max */
}

int main(void)
{
    RUN(test_coalesce_interval);
    RUN(test_membership);
    RUN(test_kick_ban_unban);
    RUN(test_seq);
    RUN(test_client_id_burst);
    RUN(test_client_id_held_bound);
    RUN(test_post_answered_as_parts);
    RUN(test_sender_skipped);
    RUN(test_seq_after_store_failure);
    RUN(test_seq_after_lost_commit);
    TEST_MAIN_END();
}
