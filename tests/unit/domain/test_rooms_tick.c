/* test_rooms_tick.c: the 1 s tick and the idle-room sweep spread their work over loop
 * iterations (rooms_tick_step, rooms_sweep_step), with time passed in: 10,000 seats whose
 * grace ends in the same second are released over many bounded slices, all of them,
 * none early and none twice; a room deleted in the middle of a pass is left alone; idle
 * rooms are deleted a budget at a time; a room's recent messages go once unused. */
#include "test.h"
#include "fake_client.h"
#include "rooms_fixture.h"

#include "domain/rooms_internal.h"

#define N 10000
#define BUDGET 4096
#define ACT 64 /* rooms.c's ROOMS_TICK_ACT: what a release costs */

static int fx_open(fx_t *f)
{
    return rooms_fx_open(f, "rooms-tick", LOG_ERROR, NULL);
}

typedef struct {
    int left, done;
} stored_t;

static void on_stored(void *ud, const rooms_err_t *err, json_t *result)
{
    stored_t *s = ud;
    if (err && err->kind) fprintf(stderr, "participant not stored: %s\n", err->code);
    json_decref(result);
    if (--s->left == 0) s->done = 1;
}

/* Adds n dropped members u<first>.. to room, stored as a join stores them, their seats
 * due at release_at. Returns 0, or -1 when the store did not take them all. */
static int add_dropped(fx_t *f, room_t *room, int first, int n, uint64_t release_at)
{
    stored_t s = {n, 0};
    for (int i = first; i < first + n; i++) {
        char id[32];
        snprintf(id, sizeof(id), "u%d", i);
        room_member_t *m = rooms_member_add(room, id, id, "#64748b", STORE_ROLE_MEMBER, 0, 0);
        m->release_at = release_at;
        rooms_op_t *op = rooms_op_new(&f->r, room, STORE_PARTICIPANT_PUT, on_stored, &s);
        rooms_fill_part(&op->pl.part, m);
        op->stored = rooms_after_simple;
        rooms_op_submit(op);
    }
    return test_run_until(&f->loop, &s.done, 30000) ? 0 : -1;
}

static void test_seats_released_in_slices(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = rooms_fx_create(&f.r, &f.loop, "host", "big");
    ASSERT_TRUE(room != NULL);
    f.r.lim.max_capacity = N + 10;
    f.r.lim.large = N + 200; /* a small room: one participant_removed a seat, at once */
    fake_client_t host;
    fake_client_init(&host, f.bus, "host");
    ASSERT_EQ(rooms_fx_attach(&f, room, &host.pc), 0); /* sees every participant_removed */
    fake_client_clear(&host);
    /* Far past the loop's own ticks, which must not release them meanwhile. */
    uint64_t t = uv_now(&f.loop) + 3600 * 1000;
    ASSERT_EQ(add_dropped(&f, room, 0, N, t), 0);
    ASSERT_EQ(add_dropped(&f, room, N, 100, t + 1000), 0); /* due a second later */
    ASSERT_EQ(room->seats, 1 + N + 100);

    /* A pass before their time releases nothing, and ends. */
    int steps = 0;
    while (rooms_tick_step(&f.r, t - 1, BUDGET))
        steps++;
    ASSERT_EQ(room->seats, 1 + N + 100);
    ASSERT_EQ(host.frames, 0);
    ASSERT_TRUE(steps >= (N + 100) / BUDGET); /* visits alone take several slices */

    /* Due: every slice releases at most BUDGET / ACT seats; all N go, the 100 stay. */
    steps = 0;
    uint32_t seats = room->seats;
    int more;
    do {
        more = rooms_tick_step(&f.r, t, BUDGET);
        steps++;
        ASSERT_TRUE(seats - room->seats <= BUDGET / ACT);
        ASSERT_EQ(host.frames, (int)(1 + N + 100 - room->seats)); /* one event a seat */
        seats = room->seats;
    } while (more);
    ASSERT_TRUE(steps >= N / (BUDGET / ACT));
    ASSERT_EQ(room->seats, 1 + 100);
    ASSERT_EQ(host.frames, N);
    ASSERT_TRUE(room_member(room, "u0") == NULL && room_member(room, "u9999") == NULL);
    ASSERT_TRUE(room_member(room, "u10000") != NULL && room_member(room, "host") != NULL);
    ASSERT_TRUE(strstr(host.text, "\"participant_removed\"") != NULL);

    /* Another pass at the same time releases nothing more. */
    while (rooms_tick_step(&f.r, t, BUDGET))
        ;
    ASSERT_EQ(room->seats, 1 + 100);
    ASSERT_EQ(host.frames, N);
    /* A second later, the other 100 (a budget of 100 releases at a time here). */
    while (rooms_tick_step(&f.r, t + 1000, 100 * ACT))
        ;
    ASSERT_EQ(room->seats, 1);
    ASSERT_EQ(host.frames, N + 100);

    rooms_client_gone(&f.r, &host.pc.rcv);
    fake_client_free(&host);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* A pass stopped inside a room, then the member it was about to visit leaves and the
 * room is deleted: the passes go on with the rooms left, touching neither. */
static void test_pass_survives_removals(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *a = rooms_fx_create(&f.r, &f.loop, "host", "a");
    room_t *b = rooms_fx_create(&f.r, &f.loop, "host2", "b");
    ASSERT_TRUE(a && b);
    uint64_t t = uv_now(&f.loop) + 3600 * 1000;
    ASSERT_EQ(add_dropped(&f, a, 0, 50, t), 0);
    ASSERT_EQ(add_dropped(&f, b, 100, 50, t), 0);
    ASSERT_EQ(rooms_tick_step(&f.r, t, 3 * ACT), 1); /* stops in the first room */
    room_t *first = f.r.tick_room;
    ASSERT_TRUE(first == a || first == b);
    room_t *other = first == a ? b : a;
    ASSERT_EQ(first->seats, 1 + 50 - 3);
    room_member_t *next = f.r.tick_member;
    ASSERT_TRUE(next != NULL);
    rooms_member_remove(&f.r, first, next); /* gone some other way (its row stays) */
    ASSERT_TRUE(f.r.tick_member != next);
    ASSERT_EQ(rooms_tick_step(&f.r, t, 2 * ACT), 1);
    ASSERT_EQ(first->seats, 1 + 50 - 6);
    rooms_room_drop(&f.r, first, "deleted");
    ASSERT_TRUE(f.r.tick_room == NULL);
    while (rooms_tick_step(&f.r, t, BUDGET))
        ;
    /* The deletion may move the other room in the registry so that this pass skips it
     * (rooms_tick_step allows it, "by that pass only"; which happens depends on the rooms'
     * random ids): the next second's pass releases its seats. */
    while (rooms_tick_step(&f.r, t + 1000, BUDGET))
        ;
    ASSERT_EQ(first->seats, 1 + 50 - 6); /* left alone once deleted */
    ASSERT_EQ(other->seats, 1);
    rooms_hold(first);
    rooms_release(first); /* frees it (deleted, nothing else holds it) */
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* Idle rooms: picked once, deleted at most budget per step, a room that became active
 * meanwhile is kept, and a new sweep waits for the last one's deletions. */
static void test_sweep_in_slices(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    f.r.lim.max_hosted = 100;
    room_t *rooms[20];
    for (int i = 0; i < 20; i++) {
        char host[16];
        snprintf(host, sizeof(host), "h%d", i);
        rooms[i] = rooms_fx_create(&f.r, &f.loop, host, "idle");
        ASSERT_TRUE(rooms[i] != NULL);
        rooms[i]->last_activity = 1000;
    }
    rooms[7]->last_activity = 5000; /* not idle */
    rooms_sweep_start(&f.r, 2000);
    ASSERT_EQ(f.r.sweep_n, 19);
    rooms[3]->last_activity = 3000; /* active since it was picked */
    size_t before = f.r.by_id.count;
    int steps = 0;
    while (rooms_sweep_step(&f.r, 5)) {
        steps++;
        ASSERT_TRUE(before - f.r.by_id.count <= 5);
        before = f.r.by_id.count;
        rooms_sweep_start(&f.r, 999999); /* ignored: the last sweep is not done */
        ASSERT_TRUE(f.r.sweep_n == 19);
    }
    ASSERT_EQ(steps, 3); /* 18 deletions, 5 a step */
    ASSERT_EQ(f.r.by_id.count, 2);
    ASSERT_TRUE(rooms_get(&f.r, rooms[3]->id) == rooms[3]);
    ASSERT_TRUE(rooms_get(&f.r, rooms[7]->id) == rooms[7]);
    test_run_for(&f.loop, 50); /* the deletions reach the store */
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* A room's recent messages stay while joins use them and go once none has for
 * ROOMS_RECENT_IDLE_MS, people still in it: an idle room holds no copy of its history. */
static void test_recent_dropped_when_unused(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = rooms_fx_create(&f.r, &f.loop, "host", "quiet");
    ASSERT_TRUE(room != NULL);
    fake_client_t host;
    fake_client_init(&host, f.bus, "host");
    ASSERT_EQ(rooms_fx_attach(&f, room, &host.pc), 0); /* someone is in it */
    /* The member and the subscription are the registry's slabs' (slab.h). */
    ASSERT_EQ(f.r.member_slab->live, 1);
    ASSERT_EQ(f.r.sub_slab->live, 1);
    rooms_fx_outcome_t o = {0};
    uint64_t before = uv_now(&f.loop);
    rooms_join_history(&f.r, room, rooms_fx_done, &o); /* a join's history fills it */
    ASSERT_TRUE(test_run_until(&f.loop, &o.done, 5000));
    json_decref(o.result);
    ASSERT_EQ(room->recent_ok, 1);
    /* Stamped in the iteration that filled it (the loop may have run on since). */
    ASSERT_TRUE(room->recent_used >= before && room->recent_used <= uv_now(&f.loop));
    /* A join answered from it counts as a use. */
    uint64_t t = uv_now(&f.loop) + 3600 * 1000;
    room->recent_used = t - 10;
    size_t n;
    free(rooms_recent(room, &n));
    ASSERT_EQ(room->recent_used, uv_now(&f.loop));
    room->recent_used = t;
    while (rooms_tick_step(&f.r, t + ROOMS_RECENT_IDLE_MS - 1, BUDGET))
        ;
    ASSERT_EQ(room->recent_ok, 1); /* used within the minute: kept */
    while (rooms_tick_step(&f.r, t + ROOMS_RECENT_IDLE_MS, BUDGET))
        ;
    ASSERT_EQ(room->recent_ok, 0); /* unused for a minute: given back */
    ASSERT_EQ(room->recent_len, 0);
    ASSERT_EQ(room->bus.count, 1);
    ASSERT_EQ(rooms_recent_ready(&f.r, room), 0); /* the next join reads the store */
    rooms_client_gone(&f.r, &host.pc.rcv);
    ASSERT_EQ(f.r.sub_slab->live, 0);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

int main(void)
{
    RUN(test_seats_released_in_slices);
    RUN(test_pass_survives_removals);
    RUN(test_sweep_in_slices);
    RUN(test_recent_dropped_when_unused);
    TEST_MAIN_END();
}
