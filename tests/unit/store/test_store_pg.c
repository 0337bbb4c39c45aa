/* test_store_pg.c: what only the PostgreSQL backend has: its schema and migrations (under
 * the advisory lock, from several nodes at once), message seqs unique and increasing under
 * several writers, enforced by the database, the masked target, and reconnecting after a lost
 * connection. What every backend must do is in the conformance suite, test_store.c (run there
 * against PostgreSQL too). Needs CHORUS_TEST_PG (ctest's "pg" fixture). */
#include "test_store_pg.h"

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
    /* Back to version 7: migration 8 undone by hand. */
    ASSERT_EQ(pg_test_exec(sql_url(target),
                           "DROP TABLE revocations; ALTER TABLE users DROP COLUMN token_epoch;"
                           " UPDATE schema_version SET version = 7"),
              0);
    c = be_open(target);
    ASSERT_TRUE(c != NULL);
    store_pg_backend.close(c);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT version FROM schema_version"), 8);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(*) FROM revocations"), 0);
    ASSERT_EQ(pg_test_int(sql_url(target), "SELECT count(token_epoch) FROM users"), 0);

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
 * refused (EEXISTS), also while the first one's transaction is still open, and a seq at or
 * below the room's highest is never stored again; what each acknowledged is stored. */
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
    TEST_MAIN_END();
}
