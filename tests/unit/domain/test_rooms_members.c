/* test_rooms_members.c: the members a room writes for join replies without a tree
 * (room_members_text, room_member_text, with the presence encodings they keep) stay equal
 * to encoding room_members_json afresh, byte for byte, across every
 * change to a member: subscription, disconnect, presence (now, held back, typing expiry,
 * idle), display name, ban, kick, leave and seat release; and when a seat with no
 * connection is released. Along the way, the online members rooms_count keeps for /metrics
 * are the ones a walk over the rooms finds. */
#include "test.h"
#include "fake_client.h"
#include "rooms_fixture.h"

#include "domain/rooms_internal.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "util/config.h"
#include "domain/docs.h"
#include "domain/entities.h"
#include "util/mem.h"
#include "domain/rooms.h"
#include "store/store.h"
#include "store/store_sqlite.h"

/* ---- fixtures ---- */

/* The options this test runs with. */
static void tune(chorus_config_t *cfg)
{
    /* Short presence timers so typing expiry and idle happen within the test. */
    cfg->presence_typing = 100;
    cfg->presence_idle = 300;
    cfg->room_seat_grace = 60000; /* tests that need a release shorten lim.seat_grace_ms */
}

static int fx_open(fx_t *f)
{
    return rooms_fx_open(f, "rooms-members", LOG_WARN, tune);
}

static auth_claims_t user(const char *sub)
{
    auth_claims_t u;
    memset(&u, 0, sizeof(u));
    snprintf(u.sub, sizeof(u.sub), "%s", sub);
    return u;
}

/* The outcome of one asynchronous room operation. */
typedef struct {
    int done;
    int status;
    json_t *result;
} outcome_t;

static void on_done(void *ud, const rooms_err_t *err, json_t *result)
{
    outcome_t *o = ud;
    o->done = 1;
    o->status = err ? err->kind : 0;
    o->result = result;
}

/* Waits for an operation and drops its result; returns its outcome (0 or a negative
 * rooms_errno_t; 1: it never ended). */
static int wait_op(fx_t *f, outcome_t *o)
{
    if (!test_run_until(&f->loop, &o->done, 5000)) return 1;
    json_decref(o->result);
    o->result = NULL;
    return o->status;
}

/* 1 when the written members are exactly what encoding room_members_json gives now, the
 * array and each member alone, else 0 (with the difference on stderr). Fills the kept
 * presence encodings, so the next change is what the next call checks. */
static int members_match(room_t *room)
{
    size_t len, n = 0;
    room_member_t *list[64];
    for (room_member_t *m = room->members; m && n < 64; m = m->next)
        if (!m->banned) list[n++] = m;
    char *text = room_members_text(list, n, &len);
    json_t *fresh = room_members_json(room);
    char *want = json_dumps(fresh, JSON_COMPACT);
    int ok = strcmp(want, text) == 0 && len == strlen(text);
    if (!ok) fprintf(stderr, "members written as\n  %s\nbut are\n  %s\n", text, want);
    free(want);
    free(text);
    size_t i = 0;
    for (room_member_t *m = room->members; ok && m; m = m->next) {
        if (m->banned) continue;
        char *one = room_member_text(m, &len);
        want = json_dumps(json_array_get(fresh, i++), JSON_COMPACT);
        if (!want || strcmp(want, one) != 0 || len != strlen(one)) {
            fprintf(stderr, "member %zu written as\n  %s\nbut is\n  %s\n", i, one, want);
            ok = 0;
        }
        free(want);
        free(one);
    }
    json_decref(fresh);
    /* The online members /metrics reads (rooms_count) are the ones a walk finds. */
    uint64_t nrooms, online, walked = 0;
    rooms_count(room->rooms, &nrooms, &online);
    const char *key;
    void *val;
    for (size_t at = 0; strmap_next(&room->rooms->by_id, &at, &key, &val);)
        for (const room_member_t *m = ((room_t *)val)->members; m; m = m->next)
            walked += m->online > 0;
    if (online != walked) {
        fprintf(stderr, "rooms_count says %llu online members, a walk finds %llu\n",
                (unsigned long long)online, (unsigned long long)walked);
        ok = 0;
    }
    return ok;
}

/* The members listed (not banned). */
static size_t members_listed(room_t *room)
{
    json_t *a = room_members_json(room);
    size_t n = json_array_size(a);
    json_decref(a);
    return n;
}

/* ---- tests ---- */

static room_t *make_room(fx_t *f, const char *host)
{
    auth_claims_t h = user(host);
    json_t *body = json_pack("{s:s, s:i}", "name", "members", "maxParticipants", 10);
    outcome_t o = {0};
    rooms_create(&f->r, &h, body, on_done, &o);
    json_decref(body);
    if (!test_run_until(&f->loop, &o.done, 5000) || o.status) return NULL;
    const char *id =
        json_string_value(json_object_get(json_object_get(o.result, "room"), "id"));
    room_t *room = id ? rooms_get(&f->r, id) : NULL;
    json_decref(o.result);
    return room;
}

static int join(fx_t *f, room_t *room, const char *sub, const char *name)
{
    auth_claims_t u = user(sub);
    outcome_t o = {0};
    rooms_join(&f->r, room, &u, name, on_done, &o);
    return wait_op(f, &o);
}

static void test_encoded_follows_every_change(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f, "host");
    ASSERT_TRUE(room != NULL);
    ASSERT_EQ(join(&f, room, "ann", "Ann"), 0);
    ASSERT_EQ(join(&f, room, "bob", NULL), 0);
    ASSERT_EQ(join(&f, room, "cat", NULL), 0);
    ASSERT_EQ(join(&f, room, "dan", NULL), 0);
    ASSERT_TRUE(members_match(room));
    ASSERT_EQ(members_listed(room), 5);

    /* Subscribing: online, and a fresh presence. */
    fake_client_t ann, ann2, bob, host;
    fake_client_init(&ann, f.bus, "ann");
    fake_client_init(&ann2, f.bus, "ann");
    fake_client_init(&bob, f.bus, "bob");
    fake_client_init(&host, f.bus, "host");
    ASSERT_EQ(rooms_fx_attach(&f, room, &host.pc), 0);
    ASSERT_TRUE(members_match(room));
    ASSERT_EQ(rooms_fx_attach(&f, room, &ann.pc), 0);
    ASSERT_TRUE(members_match(room));
    /* host heard it, framed from ann's kept encoding: the bytes of the JSON built whole */
    json_t *ev = json_pack("{s:s, s:s, s:o}", "op", "participant_joined", "room", room->id,
                           "participant", room_member_json(room_member(room, "ann")));
    cbuf_t *want = proto_frame_json(ev);
    json_decref(ev);
    ASSERT_TRUE(host.last != NULL);
    ASSERT_EQ(host.last->len, want->len);
    ASSERT_MEMEQ(host.last->data + host.last->off, want->data + want->off, want->len);
    cbuf_unref(want);
    ASSERT_EQ(rooms_fx_attach(&f, room, &bob.pc), 0);
    ASSERT_TRUE(members_match(room));

    /* Presence sent at once, then one held back by the rate limit: the state changes
     * either way. */
    json_t *p = json_pack("{s:{s:i}}", "cursor", "x", 1);
    ASSERT_EQ(rooms_presence(&f.r, room, ann.pc.user.sub, p), 0);
    json_decref(p);
    ASSERT_TRUE(members_match(room));
    p = json_pack("{s:{s:i}, s:s}", "cursor", "x", 2, "s", "\xc3\xbc\n\"");
    ASSERT_EQ(rooms_presence(&f.r, room, ann.pc.user.sub, p), 0);
    json_decref(p);
    ASSERT_TRUE(room_member(room, "ann")->presence.pending != NULL); /* held */
    ASSERT_TRUE(members_match(room));

    /* Typing expires on the presence timer (100 ms here). */
    p = json_pack("{s:b}", "typing", 1);
    ASSERT_EQ(rooms_presence(&f.r, room, bob.pc.user.sub, p), 0);
    json_decref(p);
    ASSERT_TRUE(members_match(room));
    room_member_t *mb = room_member(room, "bob");
    for (int i = 0; i < 100 && strstr(presence_state_text(&mb->presence, NULL), "true"); i++)
        test_run_for(&f.loop, 20);
    ASSERT_STREQ(presence_state_text(&mb->presence, NULL), "{\"typing\":false}");
    ASSERT_TRUE(members_match(room));

    /* Idle (300 ms here) is set by the 1 s tick. */
    room_member_t *mh = room_member(room, "host");
    for (int i = 0; i < 150 && !mh->presence.idle; i++)
        test_run_for(&f.loop, 20);
    ASSERT_TRUE(mh->presence.idle);
    /* the host sent no presence: its idle state is the one the registry shares */
    ASSERT_STREQ(mh->presence.state, "{\"idle\":true}");
    ASSERT_TRUE(members_match(room));

    /* A join with another display name: the first is in the member's record, after its
     * id (one block a member); a longer one in a block of its own, a shorter one where the
     * first was while it fits. */
    room_member_t *ma = room_member(room, "ann");
    char *in_record = ma->user_id + strlen(ma->user_id) + 1;
    ASSERT_TRUE(ma->display_name == in_record);
    ASSERT_STREQ(in_record, "Ann");
    ASSERT_EQ(join(&f, room, "ann", "Annie"), 0);
    ASSERT_STREQ(room_member(room, "ann")->display_name, "Annie");
    ASSERT_TRUE(room_member(room, "ann")->display_name != in_record);
    ASSERT_TRUE(members_match(room));
    ASSERT_EQ(join(&f, room, "cat", "Cy"), 0); /* cat joined with the default name */
    room_member_t *mc = room_member(room, "cat");
    ASSERT_STREQ(mc->display_name, "Cy");
    ASSERT_TRUE(mc->display_name == mc->user_id + strlen(mc->user_id) + 1);
    ASSERT_TRUE(members_match(room));

    /* A second connection changes nothing shown; the last one going makes ann offline. */
    ASSERT_EQ(rooms_fx_attach(&f, room, &ann2.pc), 0);
    ASSERT_TRUE(members_match(room));
    rooms_client_gone(&f.r, &ann.pc.rcv);
    ASSERT_EQ(room_member(room, "ann")->online, 1);
    ASSERT_TRUE(members_match(room));
    f.r.lim.seat_grace_ms = 0; /* ann's seat goes on the next tick */
    rooms_client_gone(&f.r, &ann2.pc.rcv);
    ASSERT_EQ(room_member(room, "ann")->online, 0);
    ASSERT_TRUE(members_match(room));

    /* Ban (the member stays, unlisted), kick, leave. */
    auth_claims_t h = user("host");
    outcome_t o = {0};
    rooms_kick(&f.r, room, &h, "bob", 1, on_done, &o);
    ASSERT_EQ(wait_op(&f, &o), 0);
    ASSERT_TRUE(room_member(room, "bob")->banned);
    ASSERT_TRUE(members_match(room));
    memset(&o, 0, sizeof(o));
    rooms_kick(&f.r, room, &h, "cat", 0, on_done, &o);
    ASSERT_EQ(wait_op(&f, &o), 0);
    ASSERT_TRUE(room_member(room, "cat") == NULL);
    ASSERT_TRUE(members_match(room));
    memset(&o, 0, sizeof(o));
    rooms_leave(&f.r, room, "dan", "left", on_done, &o);
    ASSERT_EQ(wait_op(&f, &o), 0);
    ASSERT_TRUE(members_match(room));
    ASSERT_EQ(members_listed(room), 2); /* host, ann */

    /* ann's seat goes on the tick (grace 0 here). */
    for (int i = 0; i < 150 && room_member(room, "ann"); i++)
        test_run_for(&f.loop, 20);
    ASSERT_TRUE(room_member(room, "ann") == NULL);
    ASSERT_TRUE(members_match(room));

    rooms_client_gone(&f.r, &bob.pc.rcv); /* already unsubscribed by the ban */
    rooms_client_gone(&f.r, &host.pc.rcv);
    ASSERT_TRUE(members_match(room));
    fake_client_free(&ann);
    fake_client_free(&ann2);
    fake_client_free(&bob);
    fake_client_free(&host);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* A seat needs a connection: one taken by a REST join that no connection subscribes to
 * is released after the grace; a subscription, or a WebSocket join (rooms_join_quiet),
 * holds it; a WebSocket join whose connection went away before the answer (attached,
 * then detached) starts the grace. */
/* A join with the hook's role (rooms_join_quiet, the WebSocket join at the home). */
static int join_as(fx_t *f, room_t *room, const char *sub, int role)
{
    auth_claims_t u = user(sub);
    outcome_t o = {0};
    rooms_join_quiet(&f->r, room, &u, NULL, role, on_done, &o);
    return wait_op(f, &o);
}

static room_member_t *member(room_t *room, const char *sub)
{
    return room_member(room, sub);
}

/* The join hook's role: a member made host has the host's rights (state, kicks) but does
 * not delete the room, may leave, and is made a member again by a later join's role; the
 * room's own host stays host whatever the role; joins without a role keep it. */
static void test_join_role(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f, "host");
    ASSERT_TRUE(room != NULL);
    ASSERT_EQ(join_as(&f, room, "dep", STORE_ROLE_HOST), 0);
    ASSERT_EQ(join_as(&f, room, "ann", ROOMS_ROLE_KEEP), 0);
    ASSERT_EQ(member(room, "dep")->role, STORE_ROLE_HOST);
    ASSERT_EQ(member(room, "ann")->role, STORE_ROLE_MEMBER);
    ASSERT_EQ(room->cohosts, 1);
    ASSERT_TRUE(members_match(room));
    ASSERT_TRUE(rooms_may_manage(room, "dep"));
    ASSERT_TRUE(!rooms_may_manage(room, "ann"));
    ASSERT_TRUE(rooms_may_manage(room, "host"));

    json_t *patch = json_pack("{s:i}", "turn", 1);
    outcome_t o = {0};
    rooms_patch_state(&f.r, room, "dep", patch, on_done, &o);
    ASSERT_EQ(wait_op(&f, &o), 0);
    o = (outcome_t){0};
    rooms_patch_state(&f.r, room, "ann", patch, on_done, &o);
    ASSERT_EQ(wait_op(&f, &o), ROOMS_E_FORBIDDEN);
    json_decref(patch);
    auth_claims_t dep = user("dep");
    o = (outcome_t){0};
    rooms_delete(&f.r, room, &dep, on_done, &o);
    ASSERT_EQ(wait_op(&f, &o), ROOMS_E_FORBIDDEN);

    /* A join without a role keeps it; the room's host is not made a member. */
    ASSERT_EQ(join_as(&f, room, "dep", ROOMS_ROLE_KEEP), 0);
    ASSERT_EQ(member(room, "dep")->role, STORE_ROLE_HOST);
    ASSERT_EQ(join_as(&f, room, "host", STORE_ROLE_MEMBER), 0);
    ASSERT_EQ(member(room, "host")->role, STORE_ROLE_HOST);
    ASSERT_TRUE(rooms_may_manage(room, "host"));

    /* Made a member again: no rights, nothing counted. */
    ASSERT_EQ(join_as(&f, room, "dep", STORE_ROLE_MEMBER), 0);
    ASSERT_EQ(member(room, "dep")->role, STORE_ROLE_MEMBER);
    ASSERT_EQ(room->cohosts, 0);
    ASSERT_TRUE(members_match(room));
    ASSERT_TRUE(!rooms_may_manage(room, "dep"));

    /* A co-host may kick and be kicked, and may leave. */
    ASSERT_EQ(join_as(&f, room, "ann", STORE_ROLE_HOST), 0);
    ASSERT_EQ(join_as(&f, room, "dep", STORE_ROLE_HOST), 0);
    ASSERT_EQ(room->cohosts, 2);
    auth_claims_t ann = user("ann");
    o = (outcome_t){0};
    rooms_kick(&f.r, room, &ann, "dep", 0, on_done, &o);
    ASSERT_EQ(wait_op(&f, &o), 0);
    ASSERT_TRUE(member(room, "dep") == NULL);
    o = (outcome_t){0};
    rooms_kick(&f.r, room, &ann, "host", 0, on_done, &o);
    ASSERT_EQ(wait_op(&f, &o), ROOMS_E_INVALID);
    o = (outcome_t){0};
    rooms_leave(&f.r, room, "ann", NULL, on_done, &o);
    ASSERT_EQ(wait_op(&f, &o), 0);
    ASSERT_EQ(room->cohosts, 0);
    ASSERT_TRUE(!rooms_may_manage(room, "ann"));
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

static void test_unconnected_seat_released(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f, "host");
    ASSERT_TRUE(room != NULL);
    f.r.lim.seat_grace_ms = 0;
    ASSERT_EQ(join(&f, room, "rest", NULL), 0); /* never connects */
    ASSERT_EQ(join(&f, room, "subs", NULL), 0); /* connects */
    ASSERT_EQ(room->seats, 3);
    fake_client_t subs;
    fake_client_init(&subs, f.bus, "subs");
    ASSERT_EQ(rooms_fx_attach(&f, room, &subs.pc), 0);
    auth_claims_t ws = user("ws"), gone = user("gone");
    outcome_t o = {0}, o2 = {0};
    /* ws subscribes later */
    rooms_join_quiet(&f.r, room, &ws, NULL, ROOMS_ROLE_KEEP, on_done, &o);
    ASSERT_EQ(wait_op(&f, &o), 0);
    rooms_join_quiet(&f.r, room, &gone, NULL, ROOMS_ROLE_KEEP, on_done, &o2);
    ASSERT_EQ(wait_op(&f, &o2), 0);
    /* Its connection went away before the answer: attached by the join, then detached by
     * its process (proto_rooms.c). */
    ASSERT_EQ(rooms_attach(&f.r, room, bus_member_next(f.bus), "gone"), 0);
    rooms_detach(&f.r, room, f.bus->last_conn, "gone", 0);
    ASSERT_EQ(room->seats, 5);
    for (int i = 0; i < 150 && (room_member(room, "rest") || room_member(room, "gone")); i++)
        test_run_for(&f.loop, 20);
    ASSERT_TRUE(room_member(room, "rest") == NULL);
    ASSERT_TRUE(room_member(room, "gone") == NULL);
    ASSERT_TRUE(room_member(room, "subs") != NULL);
    ASSERT_TRUE(room_member(room, "ws") != NULL); /* its join is still in flight */
    ASSERT_TRUE(room_member(room, "host") != NULL);
    ASSERT_EQ(room->seats, 3);
    rooms_client_gone(&f.r, &subs.pc.rcv);
    fake_client_free(&subs);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* What a member shows that Jansson escapes or writes its own way: quotes, backslashes,
 * control characters (short and \u forms), non-ASCII text, a negative time, a host, and a
 * presence state with nesting, numbers and strings to escape. */
static void test_written_as_jansson_writes(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = make_room(&f, "host");
    ASSERT_TRUE(room != NULL);
    room_member_t *m =
        rooms_member_add(room, "u\"q\\1", "A \"b\" \\ \t\n\x01\x1f caf\xc3\xa9 \xe2\x98\x83",
                         "#a\"b", STORE_ROLE_HOST, -1234567, 0);
    ASSERT_TRUE(members_match(room));
    m->online = 2; /* set by hand: count it online as rooms_attach would */
    f.r.online++;
    json_t *pp = json_pack("{s:s, s:[i, f, b, n], s:{s:s}}", "status", "line\n\"x\"", "cursor",
                           -3, 0.1, 1, "nested", "k\x02", "\xe2\x98\x83");
    ASSERT_EQ(rooms_presence(&f.r, room, m->user_id, pp), 0);
    json_decref(pp);
    ASSERT_TRUE(members_match(room));
    m->joined_at = INT64_MAX;
    ASSERT_TRUE(members_match(room));
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

int main(void)
{
    RUN(test_written_as_jansson_writes);
    RUN(test_encoded_follows_every_change);
    RUN(test_unconnected_seat_released);
    RUN(test_join_role);
    TEST_MAIN_END();
}
