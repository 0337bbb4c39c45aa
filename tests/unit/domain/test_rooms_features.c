/* test_rooms_features.c: the feature hook table of rooms (rooms_feature_t): two recording
 * features see every hook, in their order, at the point rooms.h promises (start after
 * the load; member_left at the home, then client_left while the connection is still
 * subscribed; client_gone before the unsubscription, then member_gone at the home with
 * the connection's identity; room_dropped while subscribed, then client_left; room_freed
 * once nothing holds the room; tick; close), each with its own ud. */
#include "test.h"
#include "fake_client.h"

#include <errno.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "util/config.h"
#include "domain/rooms.h"
#include "proto/proto.h"
#include "store/store.h"

/* What the hooks saw, as "name:hook[:detail]" words separated by spaces. */
typedef struct {
    char text[2048];
} journal_t;

typedef struct {
    const char *name;
    journal_t *j;
} recorder_t;

static void note(void *ud, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(void *ud, const char *fmt, ...)
{
    recorder_t *rec = ud;
    char word[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(word, sizeof(word), fmt, ap);
    va_end(ap);
    size_t len = strlen(rec->j->text);
    snprintf(rec->j->text + len, sizeof(rec->j->text) - len, "%s%s:%s", len ? " " : "",
             rec->name, word);
}

static void h_load(void *ud, rooms_t *r, const store_rooms_t *pl)
{
    (void)r;
    note(ud, "load:%zu", pl->nrooms);
}
static void h_start(void *ud, rooms_t *r, const chorus_config_t *cfg)
{
    (void)cfg;
    note(ud, "start:%zu", (size_t)r->by_id.count);
}
static void h_close(void *ud, rooms_t *r)
{
    (void)r;
    note(ud, "close");
}
static void h_member_left(void *ud, rooms_t *r, room_t *room, const char *user_id)
{
    (void)r;
    (void)room;
    note(ud, "member_left:%s", user_id);
}
static void h_member_gone(void *ud, rooms_t *r, room_t *room, bus_member_t member,
                          const char *user_id)
{
    (void)r;
    (void)room;
    note(ud, "member_gone:%s:%llu", user_id, (unsigned long long)member);
}
static void h_client_left(void *ud, rooms_t *r, room_t *room, bus_rcv_t *c)
{
    note(ud, "client_left:%s:%s", bus_rcv_user(r->bus, c),
         c->subs && c->subs->room == room ? "in" : "out");
}
static void h_client_gone(void *ud, rooms_t *r, bus_rcv_t *c)
{
    note(ud, "client_gone:%s:%s", bus_rcv_user(r->bus, c), c->subs ? "in" : "out");
}
static void h_room_dropped(void *ud, rooms_t *r, room_t *room)
{
    note(ud, "room_dropped:%s:%u", room->name, (unsigned)room->bus.count);
    (void)r;
}
static void h_room_freed(void *ud, rooms_t *r, room_t *room)
{
    (void)r;
    note(ud, "room_freed:%s", room->name);
}
static void h_tick(void *ud, rooms_t *r, room_t *room, uint64_t now_ms)
{
    (void)now_ms;
    (void)r;
    note(ud, "tick:%s", room->name);
}

static const rooms_feature_t recording = {
    .name = "recording",
    .load = h_load,
    .start = h_start,
    .close = h_close,
    .member_left = h_member_left,
    .member_gone = h_member_gone,
    .client_left = h_client_left,
    .client_gone = h_client_gone,
    .room_dropped = h_room_dropped,
    .room_freed = h_room_freed,
    .tick = h_tick,
};

/* Only two hooks: the others are NULL and skipped. */
static const rooms_feature_t sparse = {
    .name = "sparse",
    .start = h_start,
    .room_freed = h_room_freed,
};

/* The fixture, with the journal and the three features' recorders beside it. */
#define ROOMS_FX_EXTRA journal_t j; recorder_t a, b, c; rooms_feature_use_t uses[3];
#include "rooms_fixture.h"

static void fx_path(fx_t *f)
{
    rooms_fx_init(f, "rooms-features", LOG_WARN, NULL);
}

/* Starts the rooms on the database at f->db with features a, b (recording) and c
 * (sparse). */
static int fx_open(fx_t *f)
{
    f->j.text[0] = 0;
    f->a = (recorder_t){"a", &f->j};
    f->b = (recorder_t){"b", &f->j};
    f->c = (recorder_t){"c", &f->j};
    f->uses[0] = (rooms_feature_use_t){&recording, &f->a};
    f->uses[1] = (rooms_feature_use_t){&recording, &f->b};
    f->uses[2] = (rooms_feature_use_t){&sparse, &f->c};
    f->features = f->uses;
    f->nfeatures = 3;
    return rooms_fx_start(f, NULL);
}

/* Waits for an operation; returns 0 when it succeeded. */
static int wait_ok(fx_t *f, rooms_fx_outcome_t *o)
{
    if (!test_run_until(&f->loop, &o->done, 5000) || !o->result) return -1;
    json_decref(o->result);
    o->result = NULL;
    return 0;
}

static auth_claims_t user(const char *sub)
{
    auth_claims_t u;
    memset(&u, 0, sizeof(u));
    snprintf(u.sub, sizeof(u.sub), "%s", sub);
    return u;
}

static room_t *make_room(fx_t *f, const char *host, const char *name)
{
    auth_claims_t h = user(host);
    json_t *body = json_pack("{s:s, s:i}", "name", name, "maxParticipants", 10);
    rooms_fx_outcome_t o = {0};
    rooms_create(&f->r, &h, body, rooms_fx_done, &o);
    json_decref(body);
    if (!test_run_until(&f->loop, &o.done, 5000) || !o.result) return NULL;
    const char *id =
        json_string_value(json_object_get(json_object_get(o.result, "room"), "id"));
    room_t *room = id ? rooms_get(&f->r, id) : NULL;
    json_decref(o.result);
    return room;
}

/* Joins sub to room and subscribes c as sub. Returns 0 or -1. */
static int join_subscribed(fx_t *f, room_t *room, proto_client_t *c, const char *sub)
{
    fake_conn_init(c, &fake_conn_quiet_tr, f->bus, sub); /* its frames are dropped */
    auth_claims_t u = user(sub);
    rooms_fx_outcome_t o = {0};
    rooms_join(&f->r, room, &u, NULL, rooms_fx_done, &o);
    if (wait_ok(f, &o) != 0) return -1;
    return rooms_fx_attach(f, room, c);
}

static void test_hooks_in_order_at_their_points(void)
{
    fx_t f;
    fx_path(&f);
    ASSERT_EQ(fx_open(&f), 0);
    /* The load, then the start, once the rooms are in (none yet). */
    ASSERT_STREQ(f.j.text, "a:load:0 b:load:0 a:start:0 b:start:0 c:start:0");

    room_t *room = make_room(&f, "host", "one");
    ASSERT_TRUE(room != NULL);
    ASSERT_TRUE(make_room(&f, "host", "two") != NULL);
    proto_client_t ann, bob, host;
    ASSERT_EQ(join_subscribed(&f, room, &ann, "ann"), 0);
    ASSERT_EQ(join_subscribed(&f, room, &bob, "bob"), 0);
    ASSERT_EQ(join_subscribed(&f, room, &host, "host"), 0);
    ASSERT_STREQ(f.j.text, "a:load:0 b:load:0 a:start:0 b:start:0 c:start:0");

    /* Leaving: the home's hook, then the connection's, while it is still subscribed. */
    f.j.text[0] = 0;
    rooms_fx_outcome_t o = {0};
    rooms_leave(&f.r, room, "ann", "left", rooms_fx_done, &o);
    ASSERT_EQ(wait_ok(&f, &o), 0);
    ASSERT_STREQ(f.j.text, "a:member_left:ann b:member_left:ann a:client_left:ann:in "
                           "b:client_left:ann:in");
    ASSERT_TRUE(ann.rcv.subs == NULL);

    /* Disconnecting: before the rooms unsubscribe it; then the detach at the home, with
     * the connection's identity (bob's is 2). */
    f.j.text[0] = 0;
    rooms_client_gone(&f.r, &bob.rcv);
    ASSERT_STREQ(f.j.text, "a:client_gone:bob:in b:client_gone:bob:in a:member_gone:bob:2 "
                           "b:member_gone:bob:2");
    ASSERT_TRUE(bob.rcv.subs == NULL);

    /* The 1 s tick: each live room, each feature in order. */
    f.j.text[0] = 0;
    int never = 0;
    test_run_until(&f.loop, &never, 1300);
    ASSERT_TRUE(strstr(f.j.text, "a:tick:one b:tick:one") != NULL);
    ASSERT_TRUE(strstr(f.j.text, "a:tick:two b:tick:two") != NULL);
    ASSERT_TRUE(strstr(f.j.text, "c:") == NULL);

    /* Deleting: dropped while the host is still subscribed, freed once the delete is
     * committed and nothing holds the room any more. */
    f.j.text[0] = 0;
    auth_claims_t h = user("host");
    rooms_fx_outcome_t d = {0};
    rooms_delete(&f.r, room, &h, rooms_fx_done, &d);
    ASSERT_EQ(wait_ok(&f, &d), 0);
    ASSERT_STREQ(f.j.text, "a:room_dropped:one:1 b:room_dropped:one:1 a:client_left:host:in "
                           "b:client_left:host:in a:room_freed:one b:room_freed:one "
                           "c:room_freed:one");
    ASSERT_TRUE(host.rcv.subs == NULL);

    /* Shutdown: close, then the live room is freed. */
    f.j.text[0] = 0;
    rooms_client_gone(&f.r, &host.rcv);
    ASSERT_STREQ(f.j.text, "a:client_gone:host:out b:client_gone:host:out");
    f.j.text[0] = 0;
    ASSERT_EQ(rooms_fx_stop(&f), 0);
    ASSERT_STREQ(f.j.text,
                 "a:close b:close a:room_freed:two b:room_freed:two c:room_freed:two");

    /* A restart hands the features the stored rooms before starting them. */
    ASSERT_EQ(fx_open(&f), 0);
    ASSERT_STREQ(f.j.text, "a:load:1 b:load:1 a:start:1 b:start:1 c:start:1");
    ASSERT_EQ(rooms_fx_stop(&f), 0);
    test_rm_db(f.db);
}

int main(void)
{
    RUN(test_hooks_in_order_at_their_points);
    TEST_MAIN_END();
}
