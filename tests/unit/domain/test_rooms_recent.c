/* test_rooms_recent.c: a room's recent messages, kept encoded for join replies
 * (rooms_messages.c): the joins that find them cold while a read is in flight wait for
 * that one read and get its answer, which ends at the room's committed seq; once filled,
 * every committed message is appended in seq order and the oldest go past
 * --room-join-history, so later joins read nothing from the store; past
 * ROOMS_RECENT_MAX_BYTES they are dropped, and the next join reads the store again. */
#include "test.h"
#include "rooms_fixture.h"

#include "domain/rooms_internal.h"

#define HISTORY 5 /* --room-join-history in these tests */

static void tune(chorus_config_t *cfg)
{
    cfg->room_join_history = HISTORY;
}

static int fx_open(fx_t *f)
{
    return rooms_fx_open(f, "rooms-recent", LOG_ERROR, tune);
}

/* Store requests answered so far (the store's latency histogram counts each). */
static uint64_t store_answered(fx_t *f)
{
    return store_stat(f->store)->latency_ns.count;
}

/* One join's history read: its answer's message seqs, and the room's committed seq when it
 * came (what the join's lastSeq says). */
typedef struct {
    room_t *room;
    int done, failed, cached;
    int64_t committed;
    int64_t seqs[64];
    size_t n;
} read_t;

static void on_read(void *ud, const rooms_err_t *err, json_t *result)
{
    read_t *rd = ud;
    rd->done = 1;
    rd->failed = err && err->kind;
    rd->committed = rd->room->committed_seq;
    json_t *msgs = json_object_get(result, "messages");
    for (size_t i = 0; i < json_array_size(msgs) && rd->n < 64; i++)
        rd->seqs[rd->n++] = json_integer_value(json_object_get(json_array_get(msgs, i), "seq"));
    if (!rd->failed && !msgs) { /* answered from the cache: the join reads rooms_recent */
        rd->cached = 1;
        size_t n = 0;
        const char **items = rooms_recent(rd->room, &n);
        for (size_t i = 0; i < n && rd->n < 64; i++) {
            json_t *m = json_loads(items[i], 0, NULL);
            rd->seqs[rd->n++] = json_integer_value(json_object_get(m, "seq"));
            json_decref(m);
        }
        free(items);
    }
    json_decref(result);
}

/* 1 when rd's answer is exact: the newest messages, in order, ending at the committed seq
 * when it came (what the join's lastSeq says). */
static int exact(const read_t *rd)
{
    int64_t want = rd->committed < HISTORY ? rd->committed : HISTORY;
    if ((int64_t)rd->n != want) return 0;
    for (size_t k = 0; k < rd->n; k++)
        if (rd->seqs[k] != rd->committed - want + 1 + (int64_t)k) return 0;
    return 1;
}

/* n joins find room cold at once: rd[0]'s starts the read, the others wait for it. */
static void join_all(fx_t *f, room_t *room, read_t *rd, int n)
{
    memset(rd, 0, (size_t)n * sizeof(*rd));
    for (int i = 0; i < n; i++) {
        rd[i].room = room;
        rooms_join_history(&f->r, room, on_read, &rd[i]);
    }
}

/* Posts n app messages of content text (borrowed) to room; done counts their answers. */
typedef struct {
    int left, done, failed;
} posts_t;

static void on_posted(void *ud, const rooms_err_t *err, json_t *result)
{
    posts_t *p = ud;
    if (err && err->kind) p->failed++;
    json_decref(result);
    if (--p->left == 0) p->done = 1;
}

static void post_n(fx_t *f, room_t *room, posts_t *p, int n, const char *text)
{
    p->left += n;
    for (int i = 0; i < n; i++) {
        rooms_post_in_t in = {
            .type = "user_text", .content = text, .content_len = strlen(text)};
        rooms_post_app(&f->r, room, "app", &in, on_posted, p);
    }
}

/* The seq of the i-th kept text (oldest first), read back from its JSON. */
static int64_t kept_seq(room_t *room, size_t i)
{
    json_t *m = json_loads(room->recent[(room->recent_head + i) % room->recent_cap], 0, NULL);
    int64_t seq = json_integer_value(json_object_get(m, "seq"));
    json_decref(m);
    return seq;
}

/* A room made for these tests and one join's read of its history, which fills its kept
 * messages (warm and empty). Returns the room, or NULL. */
static room_t *warm_room(fx_t *f, const char *name)
{
    room_t *room = rooms_fx_create(&f->r, &f->loop, "host", name);
    if (!room) return NULL;
    read_t rd = {.room = room};
    rooms_join_history(&f->r, room, on_read, &rd);
    if (!test_run_until(&f->loop, &rd.done, 5000) || !room->recent_ok) return NULL;
    return room;
}

/* A room made for these tests with n app messages committed and nobody joined yet: its
 * kept messages are cold. Returns the room, or NULL. */
static room_t *cold_room(fx_t *f, const char *name, int n)
{
    room_t *room = rooms_fx_create(&f->r, &f->loop, "host", name);
    if (!room) return NULL;
    posts_t p = {0};
    post_n(f, room, &p, n, "before");
    if (!test_run_until(&f->loop, &p.done, 5000) || p.failed || room->recent_ok) return NULL;
    return room;
}

/* Twenty joins find the room cold at once, with messages committing around them: one read
 * answers them all, each answer ends at the committed seq, and the cache is then warm. */
static void test_cold_burst_reads_once(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = cold_room(&f, "cold", 3);
    ASSERT_TRUE(room != NULL);
    ASSERT_EQ(rooms_recent_ready(&f.r, room), 0);
    posts_t p = {0};

    enum { JOINS = 20 };
    read_t rd[JOINS];
    memset(rd, 0, sizeof(rd));
    uint64_t answered = store_answered(&f);
    p.done = 0;
    for (int i = 0; i < JOINS; i++) {
        rd[i].room = room;
        rooms_join_history(&f.r, room, on_read, &rd[i]);
        if (i == 0) post_n(&f, room, &p, 2, "after"); /* queued behind the read */
    }
    ASSERT_EQ(room->recent_reading, 1);
    ASSERT_TRUE(room->recent_wait_head != NULL);
    ASSERT_TRUE(test_run_until(&f.loop, &rd[JOINS - 1].done, 5000));
    ASSERT_TRUE(test_run_until(&f.loop, &p.done, 5000));
    /* One read and the two posts: the 19 others waited for the read. */
    ASSERT_EQ(store_answered(&f) - answered, 3);
    ASSERT_EQ(room->recent_reading, 0);
    ASSERT_TRUE(room->recent_wait_head == NULL);
    /* The read's own join: its page, taken at the same point as its lastSeq; the two
     * posts queued behind it came after, as events. */
    ASSERT_EQ(rd[0].n, 3);
    ASSERT_EQ(rd[0].committed, 3);
    for (int i = 0; i < JOINS; i++) {
        ASSERT_EQ(rd[i].done, 1);
        ASSERT_EQ(rd[i].failed, 0);
        /* The others, from later iterations: the same page while nothing committed
         * since, else the cache, each ending at what that join's lastSeq says. */
        ASSERT_TRUE(exact(&rd[i]));
    }
    /* Warm, and kept up by the two posts that committed after the fill. */
    ASSERT_EQ(room->recent_ok, 1);
    ASSERT_EQ(room->recent_len, 5);
    ASSERT_EQ(room->recent_last, 5);
    ASSERT_EQ(room->committed_seq, 5);

    /* A join now reads nothing from the store. */
    ASSERT_EQ(rooms_recent_ready(&f.r, room), 1);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* Once warm, each commit is appended in seq order and the oldest go past HISTORY: the
 * kept texts are always the newest HISTORY committed messages, ending at committed_seq. */
static void test_append_and_evict(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = warm_room(&f, "warm");
    ASSERT_TRUE(room != NULL);
    ASSERT_EQ(room->recent_len, 0);
    posts_t p = {0};
    for (int round = 1; round <= 3; round++) {
        p.done = 0;
        post_n(&f, room, &p, 2 * round + 1, "m"); /* 3, 5, 7: up to 15 messages */
        ASSERT_TRUE(test_run_until(&f.loop, &p.done, 5000));
        ASSERT_EQ(p.failed, 0);
        ASSERT_EQ(room->recent_ok, 1);
        int64_t committed = room->committed_seq;
        size_t want = committed < HISTORY ? (size_t)committed : HISTORY;
        ASSERT_EQ(room->recent_len, want);
        ASSERT_EQ(room->recent_last, committed);
        for (size_t i = 0; i < want; i++)
            ASSERT_EQ(kept_seq(room, i), committed - (int64_t)want + 1 + (int64_t)i);
    }
    ASSERT_EQ(room->committed_seq, 15);
    /* What a join answers from them: the same newest messages, oldest first. */
    size_t n = 0;
    const char **items = rooms_recent(room, &n);
    ASSERT_EQ(n, HISTORY);
    json_t *first = json_loads(items[0], 0, NULL);
    ASSERT_EQ(json_integer_value(json_object_get(first, "seq")), 11);
    json_decref(first);
    free(items);
    /* No store read for a join while warm: rooms_recent_ready says so. */
    ASSERT_EQ(rooms_recent_ready(&f.r, room), 1);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* The texts kept as messages commit (after_post's) and the ones a fill writes from the
 * store's rows are the same bytes: both written from the fields, the metadata as stored. */
static void test_filled_as_appended(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = warm_room(&f, "fill");
    ASSERT_TRUE(room != NULL);
    static const char *const metas[] = {NULL, "{\"a\":[1,\"\xc3\xa9\",null],\"b\":{}}",
                                        "{\"n\":-1.5,\"s\":\"q\\\"\\n\"}"};
    posts_t p = {0};
    for (size_t i = 0; i < CH_ARRAY_LEN(metas); i++) {
        static const char text[] = "caf\xc3\xa9 \"x\"\n";
        rooms_post_in_t in = {.type = "user_text",
                              .content = text,
                              .content_len = strlen(text),
                              .metadata = metas[i],
                              .metadata_len = metas[i] ? strlen(metas[i]) : 0,
                              .metadata_object = metas[i] != NULL};
        p.left++;
        rooms_post_app(&f.r, room, "app", &in, on_posted, &p);
    }
    ASSERT_TRUE(test_run_until(&f.loop, &p.done, 5000));
    ASSERT_EQ(p.failed, 0);
    size_t n = 0;
    const char **items = rooms_recent(room, &n);
    ASSERT_EQ(n, CH_ARRAY_LEN(metas));
    char *appended[CH_ARRAY_LEN(metas)];
    for (size_t i = 0; i < n; i++)
        appended[i] = ch_strdup(items[i]);
    free(items);
    rooms_recent_drop(room);
    read_t rd = {.room = room};
    rooms_join_history(&f.r, room, on_read, &rd);
    ASSERT_TRUE(test_run_until(&f.loop, &rd.done, 5000));
    ASSERT_EQ(room->recent_ok, 1);
    items = rooms_recent(room, &n);
    ASSERT_EQ(n, CH_ARRAY_LEN(metas));
    for (size_t i = 0; i < n; i++) {
        ASSERT_STREQ(items[i], appended[i]);
        free(appended[i]);
    }
    free(items);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* Past ROOMS_RECENT_MAX_BYTES the kept messages go, and the next join reads the store,
 * which fills them again when they fit. A deleted room's go with it. */
static void test_dropped_past_the_byte_cap(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = warm_room(&f, "big");
    ASSERT_TRUE(room != NULL);
    size_t big = 15 * 1024; /* under --room-max-message (16 KiB); five pass 64 KiB */
    char *text = ch_malloc(big + 1);
    memset(text, 'x', big);
    text[big] = '\0';
    posts_t p = {0};
    post_n(&f, room, &p, 4, text);
    ASSERT_TRUE(test_run_until(&f.loop, &p.done, 5000));
    ASSERT_EQ(room->recent_ok, 1); /* 4 x 15 KiB: under the cap */
    ASSERT_EQ(room->recent_len, 4);
    p.done = 0;
    post_n(&f, room, &p, 1, text);
    ASSERT_TRUE(test_run_until(&f.loop, &p.done, 5000));
    ASSERT_EQ(p.failed, 0);
    ASSERT_EQ(room->recent_ok, 0); /* the fifth passes it: dropped */
    ASSERT_EQ(room->recent_len, 0);
    ASSERT_EQ(room->recent_bytes, 0);
    ASSERT_EQ(rooms_recent_ready(&f.r, room), 0);
    /* The next join reads the store: five messages of 15 KiB do not fit, so the cache
     * stays cold and that join answers from the page. */
    read_t rd2 = {.room = room};
    rooms_join_history(&f.r, room, on_read, &rd2);
    ASSERT_TRUE(test_run_until(&f.loop, &rd2.done, 5000));
    ASSERT_EQ(rd2.failed, 0);
    ASSERT_TRUE(rd2.n >= 1);
    ASSERT_EQ(rd2.seqs[rd2.n - 1], 5);
    ASSERT_EQ(room->recent_ok, 0);
    ASSERT_EQ(room->recent_reading, 0);
    /* Small messages push the big ones out of the newest HISTORY: the next read fills it. */
    p.done = 0;
    post_n(&f, room, &p, HISTORY, "small");
    ASSERT_TRUE(test_run_until(&f.loop, &p.done, 5000));
    read_t rd3 = {.room = room};
    rooms_join_history(&f.r, room, on_read, &rd3);
    ASSERT_TRUE(test_run_until(&f.loop, &rd3.done, 5000));
    ASSERT_EQ(room->recent_ok, 1);
    ASSERT_EQ(room->recent_len, HISTORY);
    ASSERT_EQ(room->recent_last, 5 + HISTORY);
    free(text);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* A room deleted while joins wait for its read: every one is answered (the read holds the
 * room), and nothing waits on the freed room. */
static void test_waiters_answered_when_deleted(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = rooms_fx_create(&f.r, &f.loop, "host", "gone");
    ASSERT_TRUE(room != NULL);
    read_t rd[3];
    join_all(&f, room, rd, 3);
    auth_claims_t host;
    memset(&host, 0, sizeof(host));
    snprintf(host.sub, sizeof(host.sub), "host");
    rooms_fx_outcome_t o = {0};
    rooms_delete(&f.r, room, &host, rooms_fx_done, &o);
    ASSERT_TRUE(test_run_until(&f.loop, &o.done, 5000));
    json_decref(o.result);
    ASSERT_TRUE(test_run_until(&f.loop, &rd[2].done, 5000));
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(rd[i].done, 1);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* A fake clock (ns) that moves one step each time it is read. */
static uint64_t fake_clock(void *ud)
{
    uint64_t *t = ud;
    return (*t)++;
}

/* Runs f's loop an iteration at a time until *flag (at most 5 s), then stops the slices'
 * handle: unlike test_run_until, no iteration runs after the one that set it. */
static int run_until_stopped(fx_t *f, const int *flag)
{
    uint64_t end = uv_hrtime() + 5000000000u;
    while (!*flag && uv_hrtime() < end) {
        uv_run(&f->loop, UV_RUN_NOWAIT);
        if (!*flag) usleep(1000);
    }
    uv_idle_stop(&f->r.recent_more);
    return *flag;
}

static int answered(const read_t *rd, int n)
{
    int k = 0;
    for (int i = 0; i < n; i++)
        k += rd[i].done;
    return k;
}

/* The joins that waited for a read are answered a slice at a time (rooms_recent_step, the
 * clock passed in), in order; from the read's page while it is exact, from the cache once
 * a message committed, and when the cache went meanwhile the first of those left reads
 * again and the rest wait for that read. */
static void test_waiters_in_slices(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = cold_room(&f, "slices", 2);
    ASSERT_TRUE(room != NULL);
    posts_t p = {0};

    enum { JOINS = 12 };
    read_t rd[JOINS];
    join_all(&f, room, rd, JOINS);
    uint64_t reads = store_answered(&f);
    /* The read comes back: its own join is answered in that iteration, nobody else. */
    ASSERT_TRUE(run_until_stopped(&f, &rd[0].done)); /* the slices below by hand */
    ASSERT_EQ(answered(rd, JOINS), 1);
    ASSERT_EQ(room->recent_due, 1);
    ASSERT_EQ(room->recent_reading, 0);
    ASSERT_EQ(room->recent_ok, 1);

    /* A budget of 3 ticks of the clock: three answers (the first whatever it costs), in
     * order, from the read's page (still exact). */
    uint64_t t = 100;
    ASSERT_EQ(rooms_recent_step(&f.r, fake_clock, &t, 3), 1);
    ASSERT_EQ(answered(rd, JOINS), 4);
    for (int i = 1; i < 4; i++) {
        ASSERT_EQ(rd[i].done, 1);
        ASSERT_EQ(rd[i].cached, 0);
        ASSERT_EQ(rd[i].committed, 2);
        ASSERT_TRUE(exact(&rd[i]));
    }

    /* A message commits (the slices still stopped): the page is no longer exact, the
     * cache is, and answers the next slice. */
    p.done = 0;
    post_n(&f, room, &p, 1, "between");
    ASSERT_TRUE(run_until_stopped(&f, &p.done));
    ASSERT_EQ(answered(rd, JOINS), 4);
    ASSERT_EQ(rooms_recent_step(&f.r, fake_clock, &t, 2), 1);
    ASSERT_EQ(answered(rd, JOINS), 6);
    for (int i = 4; i < 6; i++) {
        ASSERT_EQ(rd[i].cached, 1);
        ASSERT_EQ(rd[i].committed, 3);
        ASSERT_TRUE(exact(&rd[i]));
    }

    /* The cache goes (as the tick drops an unused one): the next waiter reads again, the
     * rest wait for that read, and the room leaves the due list until it is back. */
    rooms_recent_drop(room);
    ASSERT_EQ(rooms_recent_step(&f.r, fake_clock, &t, 2), 0);
    ASSERT_EQ(answered(rd, JOINS), 6);
    ASSERT_EQ(room->recent_reading, 1);
    ASSERT_EQ(room->recent_due, 0);
    ASSERT_TRUE(test_run_until(&f.loop, &rd[JOINS - 1].done, 5000));
    ASSERT_EQ(answered(rd, JOINS), JOINS);
    for (int i = 0; i < JOINS; i++) {
        ASSERT_EQ(rd[i].failed, 0);
        ASSERT_TRUE(exact(&rd[i]));
    }
    ASSERT_EQ(store_answered(&f) - reads, 3); /* the first read, the post, the second read */
    ASSERT_EQ(room->recent_due, 0);
    ASSERT_TRUE(room->recent_answer == NULL);
    ASSERT_TRUE(room->recent_wait_head == NULL);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* rooms_close answers the joins still waiting for their slice. */
static void test_waiters_answered_at_close(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    room_t *room = rooms_fx_create(&f.r, &f.loop, "host", "closing");
    ASSERT_TRUE(room != NULL);
    read_t rd[4];
    join_all(&f, room, rd, 4);
    ASSERT_TRUE(run_until_stopped(&f, &rd[0].done));
    ASSERT_EQ(answered(rd, 4), 1);
    /* rooms_close closes the slices' handle: the rest are answered by it or never. */
    ASSERT_EQ(rooms_fx_close(&f), 0);
    ASSERT_EQ(answered(rd, 4), 4);
    for (int i = 0; i < 4; i++)
        ASSERT_TRUE(exact(&rd[i]));
}

int main(void)
{
    RUN(test_waiters_in_slices);
    RUN(test_waiters_answered_at_close);
    RUN(test_cold_burst_reads_once);
    RUN(test_append_and_evict);
    RUN(test_filled_as_appended);
    RUN(test_dropped_past_the_byte_cap);
    RUN(test_waiters_answered_when_deleted);
    TEST_MAIN_END();
}
