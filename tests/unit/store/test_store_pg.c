/* test_store_pg.c: what only the PostgreSQL backend has: its schema and migrations (under
 * the advisory lock, from several nodes at once), gapless message seqs and document
 * versions and never-lowered room state versions under several writers, enforced by the
 * database, the masked target, and reconnecting after a lost connection. What every backend
 * must do is in the conformance suite, test_store.c (run there against PostgreSQL too). Needs
 * CHORUS_TEST_PG (ctest's "pg" fixture). */
#include "test_store_pg.h"

#include "util/mem.h"

/* ---- helpers ---- */

/* Opens a raw backend connection on target (err printed when it fails). */
static void *be_open(const char *target)
{
    char err[512] = "";
    void *c = store_pg_backend.open(target, &test_log, err, sizeof(err));
    if (!c) fprintf(stderr, "open: %s\n", err);
    return c;
}

/* Runs one request in its own transaction on a raw connection; returns its err, or
 * STORE_EIO when the transaction failed. */
static int be_one(void *c, store_req_t *req)
{
    if (store_pg_backend.begin(c) != STORE_OK) return STORE_EIO;
    store_pg_backend.exec(c, req);
    if (req->err == STORE_EIO) {
        store_pg_backend.rollback(c);
        return STORE_EIO;
    }
    if (store_pg_backend.commit(c) != STORE_OK) {
        store_pg_backend.rollback(c);
        return STORE_EIO;
    }
    return req->err;
}

static int be_room(void *c, int i)
{
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, i);
    fill_part(&r.part, r.room.id, i, STORE_ROLE_HOST, r.room.created_at);
    store_req_t req = {.type = STORE_ROOM_CREATE, .rooms = &r};
    int err = be_one(c, &req);
    store_rooms_free(&r);
    return err;
}

/* Runs MESSAGE_INSERT of seq in room 1 inside the open transaction; returns its err. */
static int be_msg(void *c, int64_t seq)
{
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_msg(&r.msg, 1, seq);
    store_req_t req = {.type = STORE_MESSAGE_INSERT, .rooms = &r};
    store_pg_backend.exec(c, &req);
    store_rooms_free(&r);
    return req.err;
}

/* The URL of target's database with its search_path, for SQL outside the store. */
static const char *sql_url(const char *target)
{
    return target; /* a pg_target URL is a conninfo libpq takes as it is */
}

/* The messages stored in room 1 of target, counted outside the store. */
static long long count_msgs_pg(const char *target)
{
    return pg_test_int(target, "SELECT count(*) FROM room_messages");
}

/* ---- schema and migrations ---- */

static void test_migrate_empty(void)
{
    char target[512];
    ASSERT_EQ(pg_target(target, sizeof(target), "empty"), 0);
    void *c = be_open(target);
    ASSERT_TRUE(c != NULL);
    store_pg_backend.close(c);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT version FROM schema_version"),
              STORE_PG_SCHEMA_VERSION);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM schema_version"), 1);
    ASSERT_EQ(pg_test_int(sql_url(target),
                          "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()"
                          " AND tablename IN ('users', 'audit', 'rooms', 'room_participants',"
                          " 'room_messages', 'documents', 'doc_ops', 'entities',"
                          " 'revocations', 'schema_version')"),
              10);
    /* A second open finds the work done. */
    c = be_open(target);
    ASSERT_TRUE(c != NULL);
    store_pg_backend.close(c);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM schema_version"), 1);
    pg_drop_target(target);
}

typedef struct {
    const char *target;
    void *conn;
    char err[512];
} opener_t;

static void opener(void *arg)
{
    opener_t *o = arg;
    o->conn = store_pg_backend.open(o->target, &test_log, o->err, sizeof(o->err));
}

/* Several nodes starting together on an empty database: each open succeeds, and the
 * migrations ran once (one version row, one set of tables; a second run of a migration
 * would have failed on CREATE TABLE). */
static void test_migrate_concurrent(void)
{
    char target[512];
    ASSERT_EQ(pg_target(target, sizeof(target), "concurrent"), 0);
    enum { N = 4 };
    opener_t o[N];
    uv_thread_t th[N];
    for (int i = 0; i < N; i++) {
        memset(&o[i], 0, sizeof(o[i]));
        o[i].target = target;
        ASSERT_EQ(uv_thread_create(&th[i], opener, &o[i]), 0);
    }
    int opened = 0;
    for (int i = 0; i < N; i++) {
        uv_thread_join(&th[i]);
        if (!o[i].conn) fprintf(stderr, "open %d: %s\n", i, o[i].err);
        opened += o[i].conn != NULL;
        if (o[i].conn) store_pg_backend.close(o[i].conn);
    }
    ASSERT_EQ(opened, N);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM schema_version"), 1);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT version FROM schema_version"),
              STORE_PG_SCHEMA_VERSION);
    pg_drop_target(target);
}

/* A database of an older version is upgraded; one of a newer version is refused with a
 * message that says so, and left as it was. */
static void test_migrate_older_and_newer(void)
{
    char target[512];
    ASSERT_EQ(pg_target(target, sizeof(target), "versions"), 0);
    void *c = be_open(target);
    ASSERT_TRUE(c != NULL);
    store_pg_backend.close(c);
    /* Back to version 7: migrations 21 to 8 undone by hand (21 added a column to rooms,
     * 20 a table and indexes, 19 a column to rooms, 18 to room_messages, 17 altered
     * assets, dropped). */
    ASSERT_EQ(pg_test_exec(sql_url(target),
                           "DROP TABLE quota_leases; DROP INDEX room_messages_user;"
                           " DROP INDEX doc_ops_author; DROP INDEX entities_owner;"
                           " ALTER TABLE rooms DROP COLUMN changes; ALTER TABLE rooms DROP COLUMN epoch;"
                           " ALTER TABLE room_messages DROP COLUMN client_id;"
                           " DROP TABLE state_log; DROP TABLE state_log_base; DROP TABLE uploads;"
                           "  DROP TABLE activity; DROP TABLE webhook_endpoints;"
                           " DROP TABLE assets; ALTER TABLE room_messages DROP COLUMN app;"
                           " DROP TABLE api_keys; DROP TABLE webhook_deliveries;"
                           " DROP TABLE revocations; ALTER TABLE users DROP COLUMN token_epoch;"
                           " UPDATE schema_version SET version = 7"),
              0);
    c = be_open(target);
    ASSERT_TRUE(c != NULL);
    store_pg_backend.close(c);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT version FROM schema_version"),
              STORE_PG_SCHEMA_VERSION);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM revocations"), 0);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM api_keys"), 0);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM webhook_deliveries"), 0);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM webhook_endpoints"), 0);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM assets"), 0);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM activity"), 0);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM uploads"), 0);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM state_log"), 0);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM state_log_base"), 0);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(token_epoch) FROM users"), 0);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(client_id) FROM room_messages"), 0);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM quota_leases"), 0);

    ASSERT_EQ(pg_test_exec(sql_url(target), "UPDATE schema_version SET version = 99"), 0);
    char err[512] = "";
    c = store_pg_backend.open(target, &test_log, err, sizeof(err));
    ASSERT_TRUE(c == NULL);
    ASSERT_TRUE(strstr(err, "schema version 99 is newer") != NULL);
    ASSERT_TRUE(strchr(err, '\n') == NULL);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT version FROM schema_version"), 99);
    pg_drop_target(target);
}

/* ---- several writers ---- */

typedef struct {
    void *conn;
    int64_t seq;
    int err;
} writer_t;

static void writer(void *arg)
{
    writer_t *w = arg;
    w->err = STORE_EIO;
    if (store_pg_backend.begin(w->conn) != STORE_OK) return;
    w->err = be_msg(w->conn, w->seq);
    if (store_pg_backend.commit(w->conn) != STORE_OK) w->err = STORE_EIO;
}

/* Two store connections (two nodes) write the same room: the second writer of a seq is
 * refused (EEXISTS), also while the first one's transaction is still open, no gap can be
 * made, and a seq retention freed is not stored again; what each acknowledged is stored,
 * seqs without a hole. */
static void test_two_writers_seq(void)
{
    char target[512];
    ASSERT_EQ(pg_target(target, sizeof(target), "writers"), 0);
    void *a = be_open(target), *b = be_open(target);
    ASSERT_TRUE(a && b);
    ASSERT_EQ(be_room(a, 1), STORE_OK);

    ASSERT_EQ(store_pg_backend.begin(a), STORE_OK);
    ASSERT_EQ(be_msg(a, 1), STORE_OK);
    ASSERT_EQ(store_pg_backend.commit(a), STORE_OK);
    ASSERT_EQ(store_pg_backend.begin(b), STORE_OK);
    ASSERT_EQ(be_msg(b, 1), STORE_EEXISTS); /* taken */
    ASSERT_EQ(be_msg(b, 0), STORE_EEXISTS); /* stale */
    ASSERT_EQ(be_msg(b, 3), STORE_EEXISTS); /* a gap: 2 is next */
    ASSERT_EQ(be_msg(b, 2), STORE_OK);      /* the refusals left the transaction usable */
    ASSERT_EQ(store_pg_backend.commit(b), STORE_OK);
    /* A seq retention freed (below the newest) is not taken again. */
    ASSERT_EQ(pg_test_exec(sql_url(target), "DELETE FROM room_messages WHERE seq = 1"), 0);
    ASSERT_EQ(store_pg_backend.begin(a), STORE_OK);
    ASSERT_EQ(be_msg(a, 1), STORE_EEXISTS);
    ASSERT_EQ(store_pg_backend.commit(a), STORE_OK);

    /* a holds seq 3 in an open transaction; b's writer of 3 waits for it, then is
     * refused (or, if it ran after the commit, refused at once). */
    ASSERT_EQ(store_pg_backend.begin(a), STORE_OK);
    ASSERT_EQ(be_msg(a, 3), STORE_OK);
    writer_t w = {.conn = b, .seq = 3};
    uv_thread_t th;
    ASSERT_EQ(uv_thread_create(&th, writer, &w), 0);
    ASSERT_EQ(store_pg_backend.commit(a), STORE_OK);
    uv_thread_join(&th);
    ASSERT_EQ(w.err, STORE_EEXISTS);
    /* b can go on with the next one. */
    w.seq = 4;
    writer(&w);
    ASSERT_EQ(w.err, STORE_OK);

    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM room_messages"), 3);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT max(seq) FROM room_messages"), 4);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT last_seq FROM rooms"), 4);
    store_pg_backend.close(a);
    store_pg_backend.close(b);
    pg_drop_target(target);
}

/* A ROOM_LOAD of room 1 with fence (STORE_FENCE_*) in its own transaction; its err. */
static int be_load(void *c, int fence)
{
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, 1);
    r.fence = fence;
    store_req_t req = {.type = STORE_ROOM_LOAD, .rooms = &r};
    int err = be_one(c, &req);
    store_rooms_free(&r);
    return err;
}

typedef struct {
    void *conn;
    int err;
} claimer_t;

static void claimer(void *arg)
{
    claimer_t *t = arg;
    t->err = be_load(t->conn, STORE_FENCE_CLAIM);
}

/* Fencing (store.h): a takeover's raise of the epoch waits for the old home's open
 * transaction that checked it, and reads what it committed; the old home's next writes
 * of the room are refused (EFENCED) and move nothing. A store not asked to fence checks
 * nothing. */
static void test_fence(void)
{
    char target[512];
    ASSERT_EQ(pg_target(target, sizeof(target), "fence"), 0);
    void *a = be_open(target), *b = be_open(target), *one = be_open(target);
    ASSERT_TRUE(a && b && one);
    ASSERT_EQ(be_room(a, 1), STORE_OK);
    ASSERT_EQ(be_load(a, STORE_FENCE_KEEP), STORE_OK); /* a's copy: epoch 0 */
    ASSERT_EQ(be_load(b, STORE_FENCE_KEEP), STORE_OK);

    /* a's transaction checked the epoch (its write of seq 1 open); b's takeover waits. */
    ASSERT_EQ(store_pg_backend.begin(a), STORE_OK);
    ASSERT_EQ(be_msg(a, 1), STORE_OK);
    claimer_t t = {.conn = b, .err = -100};
    uv_thread_t th;
    ASSERT_EQ(uv_thread_create(&th, claimer, &t), 0);
    /* Until b waits for a's lock (pg_locks: a lock not granted). */
    for (int i = 0; i < 3000 && pg_test_int(sql_url(target),
                                            "SELECT count(*) FROM pg_locks WHERE NOT granted") < 1;
         i++)
        uv_sleep(10);
    ASSERT_EQ(t.err, -100); /* still waiting */
    ASSERT_EQ(store_pg_backend.commit(a), STORE_OK);
    uv_thread_join(&th);
    ASSERT_EQ(t.err, STORE_OK);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT epoch FROM rooms"), 1);
    /* a's committed transaction moved the room's change counter (rooms.changes). */
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT changes FROM rooms"), 1);

    /* a's later write is refused (alone: store.c answers it EIO); b (epoch 1 now)
     * writes on. */
    ASSERT_EQ(store_pg_backend.begin(a), STORE_OK);
    ASSERT_EQ(be_msg(a, 2), STORE_EFENCED);
    ASSERT_EQ(be_msg(a, 3), STORE_EFENCED); /* the room's later writes: no statement */
    ASSERT_EQ(store_pg_backend.commit(a), STORE_OK);
    ASSERT_EQ(store_pg_backend.begin(b), STORE_OK);
    ASSERT_EQ(be_msg(b, 2), STORE_OK);
    ASSERT_EQ(store_pg_backend.commit(b), STORE_OK);
    /* The refused batch moved nothing; b's moved the counter once more. */
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT changes FROM rooms"), 2);
    /* A connection that fences nothing is not refused (and checks no epoch). */
    ASSERT_EQ(store_pg_backend.begin(one), STORE_OK);
    ASSERT_EQ(be_msg(one, 3), STORE_OK);
    ASSERT_EQ(store_pg_backend.commit(one), STORE_OK);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM room_messages"), 3);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT changes FROM rooms"), 2); /* not fenced */
    store_pg_backend.close(a);
    store_pg_backend.close(b);
    store_pg_backend.close(one);
    pg_drop_target(target);
}

/* A ROOM_LOAD of room i through the store, the epoch kept (STORE_FENCE_KEEP). */
static int st_load_fenced(store_t *st, uv_loop_t *loop, tctx_t *c, int i)
{
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, i);
    r.fence = STORE_FENCE_KEEP;
    int err = run_rooms(st, loop, c, STORE_ROOM_LOAD, &r);
    store_rooms_free(&r);
    return err;
}

/* A fence failure refuses only the fenced room's writes (issue 19): one store batch holds
 * messages of rooms 1 and 2, interleaved, and room 1 was taken over (its epoch raised)
 * after this store read it. Room 1's writes are answered EIO and store nothing, its change
 * counter does not move; room 2's are answered OK, committed, and move its counter once.
 * The batch is made one by a write of room 3 the store waits on (another connection holds
 * room 3's row) while the others are submitted behind it. */
static void test_fence_one_room(void)
{
    char target[512];
    ASSERT_EQ(pg_target(target, sizeof(target), "fence_room"), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_backend(&store_pg_backend, target, &loop);
    void *b = be_open(target);
    ASSERT_TRUE(st && b);
    tctx_t c;
    tctx_init(&c);
    for (int i = 1; i <= 3; i++) {
        ASSERT_EQ(create_room(st, &loop, &c, i), STORE_OK);
        ASSERT_EQ(st_load_fenced(st, &loop, &c, i), STORE_OK);
    }
    store_room_t rm;
    fill_room(&rm, 1);
    free(rm.state); /* only its id is used */
    char sql[160];
    snprintf(sql, sizeof(sql), "UPDATE rooms SET epoch = epoch + 1 WHERE id = '%s'", rm.id);
    ASSERT_EQ(pg_test_exec(sql_url(target), sql), 0); /* another node took room 1 */

    /* b holds room 3's row (its seq 1 open); the store's seq 2 of room 3 waits for it. */
    store_rooms_t r3b;
    memset(&r3b, 0, sizeof(r3b));
    fill_msg(&r3b.msg, 3, 1);
    store_req_t hold = {.type = STORE_MESSAGE_INSERT, .rooms = &r3b};
    ASSERT_EQ(store_pg_backend.begin(b), STORE_OK);
    store_pg_backend.exec(b, &hold);
    ASSERT_EQ(hold.err, STORE_OK);
    enum { N = 5 };
    static const int rooms[N] = {3, 1, 2, 1, 2}, seqs[N] = {2, 1, 1, 2, 2};
    store_rooms_t rs[N];
    treq_t t[N];
    for (int i = 0; i < N; i++) {
        memset(&rs[i], 0, sizeof(rs[i]));
        fill_msg(&rs[i].msg, rooms[i], seqs[i]);
        treq_init(&t[i], &c, STORE_MESSAGE_INSERT);
        t[i].req.rooms = &rs[i];
        store_submit(st, &t[i].req);
        for (int k = 0; i == 0 && k < 3000 &&
                        pg_test_int(sql_url(target),
                                    "SELECT count(*) FROM pg_stat_activity WHERE datname ="
                                    " current_database() AND wait_event_type = 'Lock'") < 1;
             k++)
            uv_sleep(10);
    }
    ASSERT_EQ(store_pg_backend.commit(b), STORE_OK);
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < N; i++) {
        ASSERT_EQ(t[i].done, 1);
        ASSERT_EQ(t[i].req.err, rooms[i] == 1 ? STORE_EIO : STORE_OK);
        store_rooms_free(&rs[i]);
    }
    store_rooms_free(&r3b);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM room_messages"), 4);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT sum(changes) FROM rooms"), 2);
    snprintf(sql, sizeof(sql), "SELECT changes + last_seq FROM rooms WHERE id = '%s'", rm.id);
    ASSERT_EQ(pg_test_int(sql_url(target), sql), 0); /* room 1: nothing moved */
    fill_room(&rm, 2);
    free(rm.state);
    snprintf(sql, sizeof(sql), "SELECT changes * 10 + last_seq FROM rooms WHERE id = '%s'",
             rm.id);
    ASSERT_EQ(pg_test_int(sql_url(target), sql), 12); /* one batch, seqs 1 and 2 */
    ASSERT_EQ(close_store(st, &loop), 0);
    store_pg_backend.close(b);
    pg_drop_target(target);
}

/* ---- a user's quota in a cluster (STORE_QUOTA_RESERVE) ---- */

static store_quota_t quota_ask(uint64_t holder, int64_t keep, int64_t need, int64_t want)
{
    store_quota_t q = {.holder = holder,
                       .keep = keep,
                       .need = need,
                       .want = want,
                       .quota = 1000,
                       .ttl_ms = 60000};
    snprintf(q.user, sizeof(q.user), "user-1");
    return q;
}

static int be_reserve(void *c, store_quota_t *q)
{
    store_req_t req = {.type = STORE_QUOTA_RESERVE, .quota = q};
    return be_one(c, &req);
}

/* Runs MESSAGE_INSERT of seq in room 1, charged to user-1's allowance, in a transaction of
 * its own that commits (0) or rolls back (1). */
static int be_charged_msg(void *c, int64_t seq, int64_t bytes, int rollback)
{
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_msg(&r.msg, 1, seq);
    store_req_t req = {.type = STORE_MESSAGE_INSERT,
                       .rooms = &r,
                       .charge_user = "user-1",
                       .charge_bytes = bytes};
    if (store_pg_backend.begin(c) != STORE_OK) return STORE_EIO;
    store_pg_backend.exec(c, &req);
    store_rooms_free(&r);
    if (rollback) {
        store_pg_backend.rollback(c);
        return req.err;
    }
    if (store_pg_backend.commit(c) != STORE_OK) return STORE_EIO;
    return req.err;
}

/* Two nodes share user-1's quota of 1000 bytes: each reservation sees the user's rows and
 * the other's unexpired allowance, a write lowers its node's allowance in its own
 * transaction (not when it rolls back), the rows plus the allowances never pass the quota,
 * an allowance given back or expired is free again. */
static void test_quota_reserve(void)
{
    char target[512];
    ASSERT_EQ(pg_target(target, sizeof(target), "quota"), 0);
    void *a = be_open(target), *b = be_open(target);
    ASSERT_TRUE(a && b);
    ASSERT_EQ(be_room(a, 1), STORE_OK);
    ASSERT_EQ(be_charged_msg(a, 1, 0, 0), STORE_OK); /* user-1: 64 + 12 bytes */
    store_quota_t qa = quota_ask(11, 0, 100, 1 << 20);
    ASSERT_EQ(be_reserve(a, &qa), STORE_OK);
    ASSERT_EQ(qa.used, 76);
    ASSERT_EQ(qa.others, 0);
    ASSERT_EQ(qa.grant, 231); /* a quarter of 924 */
    store_quota_t qb = quota_ask(22, 0, 100, 1 << 20);
    ASSERT_EQ(be_reserve(b, &qb), STORE_OK);
    ASSERT_EQ(qb.others, 231);
    ASSERT_EQ(qb.grant, 173); /* a quarter of 1000 - 76 - 231 */
    /* a's write of 76 bytes lowers a's allowance with it; a rolled back one does not. */
    ASSERT_EQ(be_charged_msg(a, 2, 0, 0), STORE_OK); /* user-2's */
    ASSERT_EQ(be_charged_msg(a, 3, 0, 0), STORE_OK); /* user-0's */
    ASSERT_EQ(be_charged_msg(a, 4, 76, 0), STORE_OK);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT bytes FROM quota_leases WHERE holder = 11"),
              155);
    ASSERT_EQ(be_charged_msg(a, 5, 76, 1), STORE_OK);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT bytes FROM quota_leases WHERE holder = 11"),
              155);
    /* b asks for more, keeping its 173: the rows (152) and a's 155 are taken. */
    qb = quota_ask(22, 173, 600, 1 << 20);
    ASSERT_EQ(be_reserve(b, &qb), STORE_OK);
    ASSERT_EQ(qb.used, 152);
    ASSERT_EQ(qb.others, 155);
    ASSERT_EQ(qb.grant, 520); /* all that is free: less than need */
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT sum(bytes) FROM quota_leases") + 152, 1000);
    qa = quota_ask(11, 155, 100, 1 << 20);
    ASSERT_EQ(be_reserve(a, &qa), STORE_OK);
    ASSERT_EQ(qa.grant, 0); /* nothing left */
    /* a gives everything back: its row goes, and b finds it free. */
    qa = quota_ask(11, 0, 0, 0);
    ASSERT_EQ(be_reserve(a, &qa), STORE_OK);
    ASSERT_EQ(
        pg_test_int(sql_url(target), "SELECT count(*) FROM quota_leases WHERE holder = 11"), 0);
    /* b's allowance expires by the database's clock: then a finds it free too. */
    ASSERT_EQ(pg_test_exec(sql_url(target), "UPDATE quota_leases SET until_ms = 0"), 0);
    qa = quota_ask(11, 0, 100, 1 << 20);
    ASSERT_EQ(be_reserve(a, &qa), STORE_OK);
    ASSERT_EQ(qa.others, 0);
    ASSERT_EQ(qa.grant, 212); /* a quarter of 848 */
    store_pg_backend.close(a);
    store_pg_backend.close(b);
    pg_drop_target(target);
}

/* Runs DOC_OP_INSERT of version v of document "main" in room 1 inside the open
 * transaction; returns its err. */
static int be_op(void *c, int64_t v)
{
    store_docs_t d;
    memset(&d, 0, sizeof(d));
    fill_op(&d.op, 1, "main", v);
    store_req_t req = {.type = STORE_DOC_OP_INSERT, .docs = &d};
    store_pg_backend.exec(c, &req);
    store_docs_free(&d);
    return req.err;
}

/* Runs one op in its own transaction; returns its err, or STORE_EIO. */
static int be_op_tx(void *c, int64_t v)
{
    if (store_pg_backend.begin(c) != STORE_OK) return STORE_EIO;
    int err = be_op(c, v);
    if (store_pg_backend.commit(c) != STORE_OK) err = STORE_EIO;
    return err;
}

static void op_writer(void *arg)
{
    writer_t *w = arg;
    w->err = be_op_tx(w->conn, w->seq);
}

/* Two store connections (two nodes) write the same document: a version is stored only as
 * the document's next one, so the second writer of a version is refused (EEXISTS), also
 * while the first one's transaction is still open, and a writer that has not seen the
 * previous version committed cannot make a gap. */
static void test_two_writers_doc_versions(void)
{
    char target[512];
    ASSERT_EQ(pg_target(target, sizeof(target), "docwriters"), 0);
    void *a = be_open(target), *b = be_open(target);
    ASSERT_TRUE(a && b);
    ASSERT_EQ(be_room(a, 1), STORE_OK);

    ASSERT_EQ(be_op_tx(a, 1), STORE_OK);
    ASSERT_EQ(store_pg_backend.begin(b), STORE_OK);
    ASSERT_EQ(be_op(b, 1), STORE_EEXISTS); /* taken */
    ASSERT_EQ(be_op(b, 0), STORE_EEXISTS); /* stale */
    ASSERT_EQ(be_op(b, 3), STORE_EEXISTS); /* a gap: 2 is next */
    ASSERT_EQ(be_op(b, 2), STORE_OK);      /* the refusals left the transaction usable */
    ASSERT_EQ(store_pg_backend.commit(b), STORE_OK);

    /* a holds 3 in an open transaction: b's 4 is a gap until a commits (b cannot see 3),
     * and b's writer of 3 waits for a, then is refused (or at once, after the commit). */
    ASSERT_EQ(store_pg_backend.begin(a), STORE_OK);
    ASSERT_EQ(be_op(a, 3), STORE_OK);
    ASSERT_EQ(be_op_tx(b, 4), STORE_EEXISTS);
    writer_t w = {.conn = b, .seq = 3};
    uv_thread_t th;
    ASSERT_EQ(uv_thread_create(&th, op_writer, &w), 0);
    ASSERT_EQ(store_pg_backend.commit(a), STORE_OK);
    uv_thread_join(&th);
    ASSERT_EQ(w.err, STORE_EEXISTS);
    ASSERT_EQ(be_op_tx(b, 4), STORE_OK); /* now it is the next one */

    /* A version whose ops retention trimmed stays taken: the snapshot holds it. */
    ASSERT_EQ(pg_test_exec(sql_url(target),
                           "INSERT INTO documents VALUES('10000000-0000-4000-8000-"
                           "000000000001', 'main', 6, 'six', 0)"),
              0);
    ASSERT_EQ(be_op_tx(a, 5), STORE_EEXISTS);
    ASSERT_EQ(be_op_tx(a, 7), STORE_OK);

    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM doc_ops"), 5);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT max(version) FROM doc_ops"), 7);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT sum(version) FROM doc_ops"), 17);
    store_pg_backend.close(a);
    store_pg_backend.close(b);
    pg_drop_target(target);
}

/* Runs a state-versioned write of room 1 at state version v, as the next one after v - 1,
 * inside the open transaction: ROOM_UPDATE, or ENTITY_PUT / ENTITY_DELETE of entity "e"
 * with room_version v. A refusal's stored version goes to *stored (may be NULL). */
static int be_state_at(void *c, store_req_type_t type, int64_t v, int64_t *stored)
{
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, 1);
    r.room.state_version = v;
    r.room.state_base = v - 1;
    snprintf(r.ent.room_id, sizeof(r.ent.room_id), "%s", r.room.id);
    snprintf(r.ent.id, sizeof(r.ent.id), "e");
    snprintf(r.ent.kind, sizeof(r.ent.kind), "k");
    snprintf(r.ent.owner, sizeof(r.ent.owner), "o");
    r.ent.data = strdup("{}");
    r.ent.version = 1;
    r.ent.state_version = r.ent.room_version = v;
    r.ent.room_base = v - 1;
    store_req_t req = {.type = type, .rooms = &r};
    store_pg_backend.exec(c, &req);
    if (stored) *stored = type == STORE_ROOM_UPDATE ? r.room.state_base : r.ent.room_base;
    store_rooms_free(&r);
    return req.err;
}

static int be_state(void *c, store_req_type_t type, int64_t v)
{
    return be_state_at(c, type, v, NULL);
}

typedef struct {
    void *conn;
    store_req_type_t type;
    int64_t v;
    int err;
    int64_t stored; /* a refusal's answer */
} state_writer_t;

static void state_writer(void *arg)
{
    state_writer_t *w = arg;
    w->err = STORE_EIO;
    if (store_pg_backend.begin(w->conn) != STORE_OK) return;
    w->err = be_state_at(w->conn, w->type, w->v, &w->stored);
    if (store_pg_backend.commit(w->conn) != STORE_OK) w->err = STORE_EIO;
}

/* Two store connections (two nodes) write the same room's state version: only the
 * room's next version is stored, so the second writer of a version is refused (EEXISTS,
 * answering the stored version), also when the first one is still in an open transaction
 * (the second waits for its row lock, then re-reads), for room updates and entity writes
 * alike; so are a lower version and a gap, and nothing of a refused write is stored. */
static void test_two_writers_state_version(void)
{
    char target[512];
    ASSERT_EQ(pg_target(target, sizeof(target), "statewriters"), 0);
    void *a = be_open(target), *b = be_open(target);
    ASSERT_TRUE(a && b);
    ASSERT_EQ(be_room(a, 1), STORE_OK); /* state version 1 */

    /* a writes version 2 in an open transaction; b's room update of version 2 waits,
     * then is refused (or at once, after the commit). */
    ASSERT_EQ(store_pg_backend.begin(a), STORE_OK);
    ASSERT_EQ(be_state(a, STORE_ENTITY_PUT, 2), STORE_OK);
    state_writer_t w = {.conn = b, .type = STORE_ROOM_UPDATE, .v = 2};
    uv_thread_t th;
    ASSERT_EQ(uv_thread_create(&th, state_writer, &w), 0);
    ASSERT_EQ(store_pg_backend.commit(a), STORE_OK);
    uv_thread_join(&th);
    ASSERT_EQ(w.err, STORE_EEXISTS);
    ASSERT_EQ(w.stored, 2);

    /* Taken, lower and gap versions are refused too, and leave the transaction usable. */
    ASSERT_EQ(store_pg_backend.begin(b), STORE_OK);
    ASSERT_EQ(be_state(b, STORE_ENTITY_PUT, 2), STORE_EEXISTS);
    ASSERT_EQ(be_state(b, STORE_ENTITY_DELETE, 2), STORE_EEXISTS);
    ASSERT_EQ(be_state(b, STORE_ROOM_UPDATE, 1), STORE_EEXISTS);
    ASSERT_EQ(be_state(b, STORE_ENTITY_PUT, 4), STORE_EEXISTS);
    ASSERT_EQ(be_state(b, STORE_ROOM_UPDATE, 3), STORE_OK);
    ASSERT_EQ(store_pg_backend.commit(b), STORE_OK);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM entities"), 1);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT state_version FROM rooms"), 3);

    /* b deletes the entity at 4 while a's put at 4 waits, then is refused; a's 5 goes in. */
    ASSERT_EQ(store_pg_backend.begin(b), STORE_OK);
    ASSERT_EQ(be_state(b, STORE_ENTITY_DELETE, 4), STORE_OK);
    state_writer_t wa = {.conn = a, .type = STORE_ENTITY_PUT, .v = 4};
    ASSERT_EQ(uv_thread_create(&th, state_writer, &wa), 0);
    ASSERT_EQ(store_pg_backend.commit(b), STORE_OK);
    uv_thread_join(&th);
    ASSERT_EQ(wa.err, STORE_EEXISTS);
    ASSERT_EQ(wa.stored, 4);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM entities"), 0);
    ASSERT_EQ(store_pg_backend.begin(a), STORE_OK);
    ASSERT_EQ(be_state(a, STORE_ROOM_UPDATE, 5), STORE_OK);
    ASSERT_EQ(store_pg_backend.commit(a), STORE_OK);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT state_version FROM rooms"), 5);
    store_pg_backend.close(a);
    store_pg_backend.close(b);
    pg_drop_target(target);
}

/* ---- connection loss ---- */

/* Ends the server side of every store connection to this run's database (the backend's,
 * named by its application_name), as a server restart or a network cut would. Runs from a
 * connection to another database, which works while this one refuses connections. */
static int kill_store_connections(void)
{
    char admin[512], sql[256];
    if (pg_test_db_url(admin, sizeof(admin), "postgres", "") != 0) return -1;
    snprintf(sql, sizeof(sql),
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
             " WHERE application_name = 'chorus' AND datname = '%s'",
             pg_test_db);
    return pg_test_int(admin, sql) >= 1 ? 0 : -1;
}

/* Counts lines of the captured log that hold needle. */
static int log_count(char *buf, size_t len, const char *needle)
{
    int n = 0;
    for (const char *p = buf; p && p < buf + len && (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* The store's connection is cut between batches: the next batch fails with EIO at once,
 * a later one succeeds on a new connection, and nothing acknowledged is lost. While the
 * server refuses connections, every batch fails with EIO without waiting; the loss and
 * the recovery are logged once each, not once per request. */
static void test_reconnect(void)
{
    char target[512];
    ASSERT_EQ(pg_target(target, sizeof(target), "reconnect"), 0);
    char *logbuf = NULL;
    size_t loglen = 0;
    FILE *logf = open_memstream(&logbuf, &loglen);
    ASSERT_TRUE(logf != NULL);
    log_t lg;
    log_init(&lg, LOG_INFO, LOG_TEXT, logf);
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[512] = "";
    store_t *st = store_open(&store_pg_backend, target, &loop, &lg, err, sizeof(err));
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    ASSERT_EQ(insert_msg(st, &loop, &c, 1, 1), STORE_OK);

    /* Cut: the next batch fails, the one after it reconnects. */
    ASSERT_EQ(kill_store_connections(), 0);
    ASSERT_EQ(insert_msg(st, &loop, &c, 1, 2), STORE_EIO);
    ASSERT_EQ(insert_msg(st, &loop, &c, 1, 2), STORE_OK);

    /* Cut while the database refuses connections: batches fail with EIO until it takes
     * them again, then one succeeds (retried here without a deadline on the backoff). */
    /* ALTER DATABASE from a connection to another database of the cluster. */
    char sql[160], admin[512];
    ASSERT_EQ(pg_test_db_url(admin, sizeof(admin), "postgres", ""), 0);
    snprintf(sql, sizeof(sql), "ALTER DATABASE %s WITH ALLOW_CONNECTIONS false", pg_test_db);
    ASSERT_EQ(pg_test_exec(admin, sql), 0);
    ASSERT_EQ(kill_store_connections(), 0);
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(insert_msg(st, &loop, &c, 1, 3), STORE_EIO);
    snprintf(sql, sizeof(sql), "ALTER DATABASE %s WITH ALLOW_CONNECTIONS true", pg_test_db);
    ASSERT_EQ(pg_test_exec(admin, sql), 0);
    int rc = STORE_EIO;
    for (int i = 0; i < 1000 && rc == STORE_EIO; i++) {
        rc = insert_msg(st, &loop, &c, 1, 3);
        if (rc == STORE_EIO) uv_sleep(20);
    }
    ASSERT_EQ(rc, STORE_OK);
    ASSERT_EQ(count_msgs_pg(target), 3);
    ASSERT_EQ(close_store(st, &loop), 0);
    fclose(logf);
    ASSERT_EQ(log_count(logbuf, loglen, "lost"), 2);
    ASSERT_EQ(log_count(logbuf, loglen, "restored"), 2);
    /* The backend's errors are the losses only, nothing per request (the store core says
     * once per failed batch that it could not begin). */
    ASSERT_EQ(log_count(logbuf, loglen, "ERROR store pg:"), 2);
    ASSERT_TRUE(strstr(logbuf, "lost: FATAL:  terminating connection") != NULL);
    free(logbuf);
    pg_drop_target(target);
}

/* Nobody writes while the connection is cut: the idle check notices (store_ready 0, the
 * loss logged), reconnects by itself (store_ready 1, "restored"), and writes work. */
static void test_ready_idle(void)
{
    char target[512];
    ASSERT_EQ(pg_target(target, sizeof(target), "ready"), 0);
    char *logbuf = NULL;
    size_t loglen = 0;
    FILE *logf = open_memstream(&logbuf, &loglen);
    ASSERT_TRUE(logf != NULL);
    log_t lg;
    log_init(&lg, LOG_INFO, LOG_TEXT, logf);
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[512] = "";
    store_t *st = store_open(&store_pg_backend, target, &loop, &lg, err, sizeof(err));
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    ASSERT_EQ(store_ready(st), 1);
    ASSERT_EQ(kill_store_connections(), 0);
    int i = 0;
    while (store_ready(st) == 1 && i++ < 1000) /* the check runs every second */
        uv_sleep(10);
    ASSERT_EQ(store_ready(st), 0);
    while (store_ready(st) == 0 && i++ < 2000)
        uv_sleep(10);
    ASSERT_EQ(store_ready(st), 1);
    ASSERT_EQ(insert_msg(st, &loop, &c, 1, 1), STORE_OK);
    ASSERT_EQ(close_store(st, &loop), 0);
    fclose(logf);
    ASSERT_EQ(log_count(logbuf, loglen, "lost"), 1);
    ASSERT_EQ(log_count(logbuf, loglen, "restored"), 1);
    free(logbuf);
    pg_drop_target(target);
}

/* ---- dump and load ---- */

typedef struct {
    char *buf;
    size_t len, cap;
    char tables[24][24];
    int ntables;
} dumpbuf_t;

/* Appends {"t":table,"r":obj} and a newline, as `chorus export` writes a line. */
static int dump_line(void *ud, const char *table, json_t *obj)
{
    dumpbuf_t *d = ud;
    json_t *line = json_pack("{s:s, s:O}", "t", table, "r", obj);
    char *text = json_dumps(line, JSON_COMPACT);
    json_decref(line);
    size_t n = strlen(text);
    if (d->len + n + 2 > d->cap) {
        d->cap = (d->len + n + 2) * 2;
        d->buf = realloc(d->buf, d->cap);
    }
    memcpy(d->buf + d->len, text, n);
    d->len += n;
    d->buf[d->len++] = '\n';
    d->buf[d->len] = '\0';
    free(text);
    if (d->ntables == 0 || strcmp(d->tables[d->ntables - 1], table) != 0)
        if (d->ntables < 24)
            snprintf(d->tables[d->ntables++], sizeof(d->tables[0]), "%s", table);
    return 0;
}

/* Dumps target through a raw backend connection into d (the caller frees d->buf). */
static int dump_target(const char *target, dumpbuf_t *d)
{
    memset(d, 0, sizeof(*d));
    void *c = be_open(target);
    if (!c) return STORE_EIO;
    int err = store_pg_backend.begin(c);
    if (err == STORE_OK) err = store_pg_backend.dump(c, dump_line, d);
    store_pg_backend.rollback(c);
    store_pg_backend.close(c);
    return err;
}

/* Fills target with at least one row of every table, through the store. */
static void fill_every_table(const char *target)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_backend(&store_pg_backend, target, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    for (int i = 1; i <= 2; i++) {
        treq_t t;
        treq_init(&t, &c, STORE_USER_CREATE);
        fill_user(&t.req.user, i);
        ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    }
    treq_t t;
    treq_init(&t, &c, STORE_USER_UPDATE); /* a revocation too */
    fill_user(&t.req.user, 1);
    t.req.update_mask = STORE_UPD_EPOCH;
    t.req.revoke.until_s = 1900000000;
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    treq_init(&t, &c, STORE_AUDIT);
    t.req.audit.at = 1700000000123;
    snprintf(t.req.audit.event, sizeof(t.req.audit.event), "login_failed");
    snprintf(t.req.audit.ip, sizeof(t.req.audit.ip), "192.0.2.1");
    t.req.audit.count = 3; /* user_id and detail "": NULL */
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    treq_init(&t, &c, STORE_AUDIT);
    t.req.audit.at = 1700000000124;
    snprintf(t.req.audit.event, sizeof(t.req.audit.event), "register");
    snprintf(t.req.audit.user_id, sizeof(t.req.audit.user_id), "%s",
             "00000000-0000-4000-8000-000000000001");
    snprintf(t.req.audit.detail, sizeof(t.req.audit.detail), "é ✓ \"quoted\"");
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    ASSERT_EQ(create_room(st, &loop, &c, 2), STORE_OK);
    for (int64_t seq = 1; seq <= 6; seq++) /* server messages, metadata, non-ASCII */
        ASSERT_EQ(insert_msg(st, &loop, &c, 1, seq), STORE_OK);
    for (int64_t v = 1; v <= 4; v++) /* op ids NULL for v 4, a snapshot at 2 */
        ASSERT_EQ(insert_op(st, &loop, &c, 1, "main", v, v == 2), STORE_OK);
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    snprintf(r.ent.room_id, sizeof(r.ent.room_id), "10000000-0000-4000-8000-%012d", 1);
    snprintf(r.ent.id, sizeof(r.ent.id), "shape-1");
    snprintf(r.ent.kind, sizeof(r.ent.kind), "shape");
    snprintf(r.ent.owner, sizeof(r.ent.owner), "00000000-0000-4000-8000-000000000002");
    /* JSON text as the loop stored it: key order and spacing must come back as they are */
    r.ent.data = strdup("{\"z\":1, \"a\" : [1,2.50,\"é\"]}");
    r.ent.version = 3;
    r.ent.state_version = r.ent.room_version = 7;
    r.ent.room_base = 1; /* the room's stored version */
    r.ent.created_at = 1700000300000;
    r.ent.updated_at = 1700000300001;
    r.ent.owner_only = 1;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ENTITY_PUT, &r), STORE_OK);
    store_rooms_free(&r);
    memset(&r, 0, sizeof(r)); /* an app backend's message: its app flag */
    fill_msg(&r.msg, 1, 7);
    r.msg.app = 1;
    r.msg.user_id[0] = '\0';
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_MESSAGE_INSERT, &r), STORE_OK);
    store_rooms_free(&r);
    treq_init(&t, &c, STORE_APIKEY_CREATE);
    snprintf(t.req.apikey.id, sizeof(t.req.apikey.id), "0123456789abcdef");
    snprintf(t.req.apikey.name, sizeof(t.req.apikey.name), "backend é");
    memset(t.req.apikey.hash, 'e', 64);
    t.req.apikey.created_at = 1700000400000;
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    store_hook_t hk[2];
    memset(hk, 0, sizeof(hk));
    for (int i = 0; i < 2; i++) {
        snprintf(hk[i].id, sizeof(hk[i].id), "d%d", i);
        snprintf(hk[i].endpoint, sizeof(hk[i].endpoint), "app");
        snprintf(hk[i].type, sizeof(hk[i].type), "message.created");
        hk[i].body = (char *)(i ? "{\"b\" : \"Ã©\"}" : "{}");
        hk[i].state = i;
        hk[i].attempts = i + 1;
        hk[i].next_at = hk[i].created_at = hk[i].updated_at = 1700000400000 + i;
        hk[i].last_status = i ? 200 : 0;
    }
    snprintf(hk[1].room_id, sizeof(hk[1].room_id), "gone-room");
    snprintf(hk[0].last_error, sizeof(hk[0].last_error), "timeout");
    treq_init(&t, &c, STORE_HOOK_PUT);
    t.req.enqueue = hk;
    t.req.nenqueue = 2;
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    store_hooks_t eh;
    memset(&eh, 0, sizeof(eh));
    snprintf(eh.ep.id, sizeof(eh.ep.id), "wh_0123456789abcdef");
    eh.ep.url = strdup("http://127.0.0.1:9/hooks?é");
    snprintf(eh.ep.secret, sizeof(eh.ep.secret), "whsec_secret");
    snprintf(eh.ep.events, sizeof(eh.ep.events), "message.created,room.created");
    eh.ep.created_at = 1700000500000;
    treq_init(&t, &c, STORE_HOOK_EP_CREATE);
    t.req.hooks = &eh;
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    store_hooks_free(&eh);
    store_assets_t as; /* an asset of room 1 */
    memset(&as, 0, sizeof(as));
    snprintf(as.row.id, sizeof(as.row.id), "%032x", 7u);
    snprintf(as.row.room_id, sizeof(as.row.room_id), "10000000-0000-4000-8000-%012d", 1);
    snprintf(as.row.uploader, sizeof(as.row.uploader), "00000000-0000-4000-8000-000000000002");
    memset(as.row.sha256, 'd', 64);
    as.row.size = 12345;
    snprintf(as.row.name, sizeof(as.row.name), "photo é.jpg");
    snprintf(as.row.type, sizeof(as.row.type), "image/jpeg");
    as.row.created_at = 1700000500000;
    treq_init(&t, &c, STORE_ASSET_PUT);
    t.req.assets = &as;
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    snprintf(as.row.id, sizeof(as.row.id), "%032x", 8u); /* and one without a room */
    as.row.room_id[0] = '\0';
    as.row.asset_id[0] = '\0'; /* a new asset, not a version of the one before */
    treq_init(&t, &c, STORE_ASSET_PUT);
    t.req.assets = &as;
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    snprintf(as.row.id, sizeof(as.row.id), "%032x", 10u); /* asset 7's version 2 */
    snprintf(as.row.asset_id, sizeof(as.row.asset_id), "%032x", 7u);
    treq_init(&t, &c, STORE_ASSET_PUT);
    t.req.assets = &as;
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    ASSERT_EQ(as.row.version, 2);
    store_acts_t ac; /* two activity rows of room 1 */
    memset(&ac, 0, sizeof(ac));
    ac.nrows = 2;
    ac.rows = calloc(2, sizeof(*ac.rows));
    for (int i = 0; i < 2; i++) {
        snprintf(ac.rows[i].room_id, STORE_ID_LEN, "10000000-0000-4000-8000-%012d", 1);
        ac.rows[i].at = 1700000600000 + i;
        snprintf(ac.rows[i].display_name, STORE_NAME_LEN, "Ana é");
        snprintf(ac.rows[i].kind, STORE_ACT_KIND_LEN, i ? "doc_edited" : "joined");
        ac.rows[i].data = strdup(i ? "{\"doc\": \"main\"}" : "{}");
    }
    treq_init(&t, &c, STORE_ACT_PUT);
    t.req.acts = &ac;
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    ASSERT_EQ(ac.rows[1].seq, 2);
    store_acts_free(&ac);
    snprintf(as.row.id, sizeof(as.row.id), "%032x", 9u); /* an upload's reservation */
    snprintf(as.row.room_id, sizeof(as.row.room_id), "10000000-0000-4000-8000-%012d", 1);
    as.row.size = 9007199254740993;
    treq_init(&t, &c, STORE_UPLOAD_RESERVE);
    t.req.assets = &as;
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    ASSERT_EQ(as.refused, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
}

/* Every table dumps in STORE_DUMP_TABLES order; loading the dump into an empty database
 * and dumping that gives the same bytes; the loaded database goes on where the first one
 * was (the room's next seq, the audit ids); a row loaded twice, a row of a missing room and
 * a malformed row are refused, each in its own way. */
static void test_dump_load(void)
{
    char a[512], b[512];
    ASSERT_EQ(pg_target(a, sizeof(a), "dump_a"), 0);
    ASSERT_EQ(pg_target(b, sizeof(b), "dump_b"), 0);
    fill_every_table(a);
    if (test_failures) return;
    dumpbuf_t da, db;
    ASSERT_EQ(dump_target(a, &da), STORE_OK);
    static const char *const order[] = {STORE_DUMP_TABLES};
    ASSERT_EQ(da.ntables, (int)CH_ARRAY_LEN(order));
    for (size_t i = 0; i < CH_ARRAY_LEN(order); i++)
        ASSERT_STREQ(da.tables[i], order[i]);
    ASSERT_TRUE(strstr(da.buf, "\\\"z\\\":1, \\\"a\\\" : [1,2.50,") != NULL); /* as stored */
    ASSERT_TRUE(strstr(da.buf, "\"user_id\":null") != NULL);
    ASSERT_TRUE(strstr(da.buf, "\"op_id\":null") != NULL);
    ASSERT_TRUE(strstr(da.buf, "\"app\":1") != NULL);
    ASSERT_TRUE(strstr(da.buf, "\"secret_hash\":\"eeee") != NULL);
    ASSERT_TRUE(strstr(da.buf, "\"events\":\"message.created,room.created\"") != NULL);
    ASSERT_TRUE(strstr(da.buf, "\"name\":\"photo é.jpg\"") != NULL);
    ASSERT_TRUE(strstr(da.buf, "\"room_id\":null") != NULL); /* no room */
    ASSERT_TRUE(strstr(da.buf, "\"version\":2,\"current\":1") != NULL); /* versions */
    ASSERT_TRUE(strstr(da.buf, "\"version\":1,\"current\":0") != NULL);
    ASSERT_TRUE(strstr(da.buf, "\"length\":9007199254740993") != NULL); /* a reservation */
    ASSERT_TRUE(strstr(da.buf, "\"last_seq\"") == NULL); /* PostgreSQL's own column */
    ASSERT_TRUE(
        strstr(da.buf, "\"kind\":\"doc_edited\",\"data\":\"{\\\"doc\\\": \\\"main\\\"}\"") !=
        NULL);

    void *c = be_open(b);
    ASSERT_TRUE(c != NULL);
    ASSERT_EQ(store_pg_backend.begin(c), STORE_OK);
    int n = 0;
    for (char *line = da.buf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
        nl = strchr(line, '\n');
        json_t *j = json_loadb(line, nl ? (size_t)(nl - line) : strlen(line), 0, NULL);
        ASSERT_TRUE(j != NULL);
        int err = store_pg_backend.load(c, json_string_value(json_object_get(j, "t")),
                                        json_object_get(j, "r"));
        json_decref(j);
        ASSERT_EQ(err, STORE_OK);
        n++;
    }
    ASSERT_TRUE(n >= 20);
    /* Refusals: a row again (the transaction goes on), then a malformed row. */
    json_t *again =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "id",
                  "00000000-0000-4000-8000-000000000009", "email", "user1@example.com",
                  "username", "x", "color", "#000000", "password_hash", "h", "created_at",
                  (json_int_t)1, "updated_at", (json_int_t)1, "token_epoch", (json_int_t)0);
    ASSERT_EQ(store_pg_backend.load(c, "users", again), STORE_EEXISTS); /* the email */
    json_decref(again);
    json_t *op = json_pack("{s:s, s:s, s:I, s:s, s:s, s:n, s:I}", "room_id", "no-such-room",
                           "doc_id", "d", "version", (json_int_t)1, "delta", "[]", "author",
                           "a", "op_id", "created_at", (json_int_t)1);
    ASSERT_EQ(store_pg_backend.load(c, "doc_ops", op), STORE_ENOTFOUND);
    json_object_set_new(op, "version", json_string("1"));
    ASSERT_EQ(store_pg_backend.load(c, "doc_ops", op), STORE_EIO); /* wrong type */
    ASSERT_EQ(store_pg_backend.load(c, "no_such_table", op), STORE_EIO);
    json_decref(op);
    ASSERT_EQ(store_pg_backend.commit(c), STORE_OK);
    store_pg_backend.close(c);

    ASSERT_EQ(dump_target(b, &db), STORE_OK);
    ASSERT_EQ(da.len, db.len);
    ASSERT_STREQ(da.buf, db.buf);

    /* The loaded database goes on: seq 8 is room 1's next (9 would be a gap), a new audit
     * row takes a free id. */
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_backend(&store_pg_backend, b, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t tc;
    tctx_init(&tc);
    ASSERT_EQ(insert_msg(st, &loop, &tc, 1, 9), STORE_EEXISTS);
    ASSERT_EQ(insert_msg(st, &loop, &tc, 1, 8), STORE_OK);
    treq_t t;
    treq_init(&t, &tc, STORE_AUDIT);
    t.req.audit.at = 1700000000125;
    snprintf(t.req.audit.event, sizeof(t.req.audit.event), "login");
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    store_hook_t hk;
    memset(&hk, 0, sizeof(hk));
    snprintf(hk.id, sizeof(hk.id), "d-new");
    snprintf(hk.endpoint, sizeof(hk.endpoint), "app");
    snprintf(hk.type, sizeof(hk.type), "room.created");
    treq_init(&t, &tc, STORE_HOOK_PUT); /* a free seq after the loaded ones */
    t.req.enqueue = &hk;
    t.req.nenqueue = 1;
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(pg_test_int(b, "SELECT count(DISTINCT id) FROM audit"), 3);
    ASSERT_EQ(pg_test_int(b, "SELECT count(DISTINCT seq) FROM webhook_deliveries"), 3);
    free(da.buf);
    free(db.buf);
    pg_drop_target(a);
    pg_drop_target(b);
}

/* ---- targets ---- */

static void test_mask(void)
{
    char out[256];
    store_pg_mask("postgres://chorus:s3cret@db.example:5432/chorus", out, sizeof(out));
    ASSERT_STREQ(out, "postgres://chorus:***@db.example:5432/chorus");
    store_pg_mask("postgresql://u:p@ss@h/db?sslmode=require", out, sizeof(out));
    ASSERT_STREQ(out, "postgresql://u:***@h/db?sslmode=require");
    store_pg_mask("postgresql://u@h/db?password=hunter2&sslmode=require", out, sizeof(out));
    ASSERT_STREQ(out, "postgresql://u@h/db?password=***&sslmode=require");
    store_pg_mask("postgresql:///db?host=/run/pg", out, sizeof(out));
    ASSERT_STREQ(out, "postgresql:///db?host=/run/pg");
    store_pg_mask("postgres://u:secret@h/db", out, 12);
    ASSERT_STREQ(out, "postgres://");
    ASSERT_EQ(store_pg_is_url("postgres://h/db"), 1);
    ASSERT_EQ(store_pg_is_url("postgresql://h/db"), 1);
    ASSERT_EQ(store_pg_is_url("/var/chorus.db"), 0);
    char err[256];
    ASSERT_EQ(store_pg_check_url("postgresql://u:secret@h/db?nosuch=1", err, sizeof(err)), -1);
    ASSERT_TRUE(strstr(err, "secret") == NULL);
    ASSERT_TRUE(strstr(err, "bad URL") != NULL);
    ASSERT_EQ(store_pg_check_url("postgresql://u:secret@h:5432/db", err, sizeof(err)), 0);
    /* libpq's message quotes the whole URI, or the value it could not decode (the
     * password itself): neither reaches the message. */
    static const char *const quoted[] = {
        "postgres://u:topsecret@[::1/db",          /* the whole URI */
        "postgres://u:top%zzsecret@h/db",          /* the password's bad token */
        "postgres://u:top%00secret@h/db",          /* the password's %00 */
        "postgres://u@h/db?password=top%zzsecret", /* a password= value */
        "postgres://u:ab%zz@h/db",                 /* a short one, quoted */
    };
    for (size_t i = 0; i < CH_ARRAY_LEN(quoted); i++) {
        ASSERT_EQ(store_pg_check_url(quoted[i], err, sizeof(err)), -1);
        ASSERT_TRUE(strstr(err, "bad URL") != NULL);
        ASSERT_TRUE(strstr(err, "secret") == NULL);
        ASSERT_TRUE(strstr(err, "top") == NULL);
        ASSERT_TRUE(strstr(err, "ab%zz") == NULL);
    }
    ASSERT_EQ(store_pg_check_url(quoted[0], err, sizeof(err)), -1);
    ASSERT_TRUE(strstr(err, "in URI: \"postgres://u:***@[::1/db\"") != NULL);
    ASSERT_EQ(store_pg_check_url(quoted[1], err, sizeof(err)), -1);
    ASSERT_TRUE(strstr(err, "invalid percent-encoded token: \"***\"") != NULL);
}

/* An unreachable server: open fails at once with one line naming the target, the password
 * masked. */
static void test_open_unreachable(void)
{
    char dir[256], target[512], err[512] = "";
    snprintf(dir, sizeof(dir), "%s/no-such-pg", test_tmp_dir());
    snprintf(target, sizeof(target), "postgresql://u:secret@/db?host=%s&port=1", dir);
    void *c = store_pg_backend.open(target, &test_log, err, sizeof(err));
    ASSERT_TRUE(c == NULL);
    ASSERT_TRUE(strstr(err, "cannot connect to postgresql://u:***@") != NULL);
    ASSERT_TRUE(strstr(err, "secret") == NULL);
    ASSERT_TRUE(strchr(err, '\n') == NULL);
}

int main(void)
{
    log_init(&test_log, LOG_WARN, LOG_TEXT, stderr);
    RUN(test_mask);
    if (!pg_test_url()) {
        fprintf(stderr, "test_store_pg: CHORUS_TEST_PG is not set (run it with ctest, which "
                        "starts PostgreSQL: scripts/pg-test.sh)\n");
        return 1;
    }
    RUN(test_open_unreachable);
    RUN(test_migrate_empty);
    RUN(test_migrate_concurrent);
    RUN(test_migrate_older_and_newer);
    RUN(test_two_writers_seq);
    RUN(test_fence);
    RUN(test_fence_one_room);
    RUN(test_quota_reserve);
    RUN(test_two_writers_doc_versions);
    RUN(test_two_writers_state_version);
    RUN(test_reconnect);
    RUN(test_ready_idle);
    RUN(test_dump_load);
    TEST_MAIN_END();
}
