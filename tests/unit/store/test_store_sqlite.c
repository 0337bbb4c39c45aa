/* test_store_sqlite.c: what only the SQLite backend has: its file (schema, migrations from
 * older versions, mode 0600, WAL), how its columns hold the store's values (NULL for "",
 * audit rows), and hand-edited values. What every backend must do is in the conformance
 * suite, test_store.c. */
#include "test_store.h"

#include <sqlite3.h>

#include "store/store_sqlite.h"

static store_t *open_store(const char *path, uv_loop_t *loop)
{
    return open_backend(&store_sqlite_backend, path, loop);
}

/* Runs one query returning a single integer on a database file, outside the store. */
static long long db_int(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    long long v = -999;
    if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
        sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
        v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
    sqlite3_close(db);
    return v;
}

/* Runs SQL on a database file outside the store. Returns 0 or -1. */
static int db_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) fprintf(stderr, "db_exec: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

static void test_migrate_empty(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "empty");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    /* Nothing outstanding: the store must not keep the loop alive. */
    ASSERT_EQ(uv_run(&loop, UV_RUN_DEFAULT), 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT version FROM schema_version"), STORE_SQLITE_SCHEMA_VERSION);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM schema_version"), 1);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM sqlite_master WHERE name IN "
                           "('users', 'audit', 'audit_at', 'rooms', 'rooms_host_id',"
                           " 'room_participants', 'room_participants_user_id',"
                           " 'room_messages')"),
              8);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM users"), 0);
    test_rm_db(path);
}

static void test_migrate_from_v1(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "v1");
    /* A database as the first release left it: migration 1 only. */
    ASSERT_EQ(db_exec(path,
                      "CREATE TABLE schema_version(version INTEGER NOT NULL);"
                      "INSERT INTO schema_version VALUES(1);"
                      "CREATE TABLE users(id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE,"
                      " username TEXT NOT NULL, color TEXT NOT NULL,"
                      " password_hash TEXT NOT NULL, created_at INTEGER NOT NULL,"
                      " updated_at INTEGER NOT NULL);"
                      "INSERT INTO users VALUES('u-1', 'old@example.com', 'Old', '#123456',"
                      " 'hash', 5, 6);"),
              0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    treq_t t;
    treq_init(&t, &c, STORE_USER_BY_EMAIL);
    strcpy(t.req.key, "old@example.com");
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    ASSERT_STREQ(t.req.user.id, "u-1");
    ASSERT_STREQ(t.req.user.username, "Old");
    ASSERT_EQ(t.req.user.created_at, 5);
    ASSERT_EQ(t.req.user.updated_at, 6);
    /* The new table works. */
    treq_init(&t, &c, STORE_AUDIT);
    t.req.audit.at = 7;
    strcpy(t.req.audit.event, "login");
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT version FROM schema_version"), STORE_SQLITE_SCHEMA_VERSION);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM users"), 1);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM audit"), 1);
    test_rm_db(path);
}

static void test_newer_refused(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "newer");
    ASSERT_EQ(db_exec(path, "CREATE TABLE schema_version(version INTEGER NOT NULL);"
                            "INSERT INTO schema_version VALUES(99);"),
              0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[256] = "";
    store_t *st = store_open(&store_sqlite_backend, path, &loop, &test_log, err, sizeof(err));
    ASSERT_TRUE(st == NULL);
    char want[128];
    snprintf(
        want, sizeof(want),
        "database schema version 99 is newer than this chorus supports (%d); upgrade chorus",
        STORE_SQLITE_SCHEMA_VERSION);
    ASSERT_TRUE(strstr(err, want) != NULL);
    ASSERT_EQ(uv_loop_close(&loop), 0); /* a failed open leaves no handle behind */
    ASSERT_EQ(db_int(path, "SELECT version FROM schema_version"), 99); /* untouched */
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'users'"), 0);
    test_rm_db(path);
}

static void test_open_fails_cleanly(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[256] = "";
    store_t *st = store_open(&store_sqlite_backend, "/nonexistent-dir/x/chorus.db", &loop,
                             &test_log, err, sizeof(err));
    ASSERT_TRUE(st == NULL);
    ASSERT_TRUE(strstr(err, "cannot open database") != NULL);
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

/* The database and its -wal/-shm are 0600 whatever the umask, new or existing. */
static int mode_of(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 ? (int)(st.st_mode & 0777) : -1;
}

static void test_file_mode(void)
{
    char path[512], wal[600], shm[600];
    tmp_db(path, sizeof(path), "mode");
    snprintf(wal, sizeof(wal), "%s-wal", path);
    snprintf(shm, sizeof(shm), "%s-shm", path);
    mode_t old = umask(022);
    for (int existing = 0; existing < 2; existing++) {
        if (existing) { /* as left by a server killed mid-run, then made world-readable */
            ASSERT_EQ(db_exec(path, "PRAGMA journal_mode=WAL"), 0);
            ASSERT_EQ(chmod(path, 0644), 0);
        }
        uv_loop_t loop;
        uv_loop_init(&loop);
        store_t *st = open_store(path, &loop);
        ASSERT_TRUE(st != NULL);
        ASSERT_EQ(mode_of(path), 0600);
        ASSERT_EQ(mode_of(wal), 0600);
        ASSERT_EQ(mode_of(shm), 0600);
        ASSERT_EQ(close_store(st, &loop), 0);
    }
    umask(old);
    test_rm_db(path);
}

/* A value longer than its field (a hand-edited file) is cut, never overflows. */
static void test_long_value_truncated(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "long");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    ASSERT_EQ(close_store(st, &loop), 0);
    /* 200 two-byte characters: 400 bytes for a 129-byte field. */
    ASSERT_EQ(db_exec(path, "INSERT INTO users(id, email, username, color, password_hash,"
                            " created_at, updated_at) VALUES('u-long', 'l@example.com',"
                            " replace(hex(zeroblob(200)), '00', 'é'), '#abcdef', 'h', 1, 2)"),
              0);
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    treq_t t;
    treq_init(&t, &c, STORE_USER_BY_ID);
    strcpy(t.req.key, "u-long");
    log_level_t saved = test_log.level;
    test_log.level = LOG_ERROR; /* the truncation warning is expected */
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    test_log.level = saved;
    ASSERT_EQ(strlen(t.req.user.username), 128); /* 64 whole characters */
    ASSERT_EQ((unsigned char)t.req.user.username[126], 0xc3);
    ASSERT_STREQ(t.req.user.color, "#abcdef");
    ASSERT_EQ(close_store(st, &loop), 0);
    test_rm_db(path);
}

static void test_migrate_from_v2(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "v2");
    /* A database as schema 2 left it: users and audit, with an account. */
    ASSERT_EQ(db_exec(path,
                      "CREATE TABLE schema_version(version INTEGER NOT NULL);"
                      "INSERT INTO schema_version VALUES(2);"
                      "CREATE TABLE users(id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE,"
                      " username TEXT NOT NULL, color TEXT NOT NULL,"
                      " password_hash TEXT NOT NULL, created_at INTEGER NOT NULL,"
                      " updated_at INTEGER NOT NULL);"
                      "CREATE TABLE audit(id INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
                      " event TEXT NOT NULL, user_id TEXT, ip TEXT, detail TEXT);"
                      "CREATE INDEX audit_at ON audit(at);"
                      "INSERT INTO users VALUES('00000000-0000-4000-8000-000000000001',"
                      " 'old@example.com', 'Old', '#123456', 'hash', 5, 6);"
                      "INSERT INTO audit(at, event) VALUES(3, 'register');"),
              0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK); /* hosted by the old account */
    treq_t t;
    treq_init(&t, &c, STORE_USER_BY_EMAIL);
    strcpy(t.req.key, "old@example.com");
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    ASSERT_STREQ(t.req.user.username, "Old");
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT version FROM schema_version"), STORE_SQLITE_SCHEMA_VERSION);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM users"), 1);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM audit"), 1);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM rooms r JOIN users u ON u.id = r.host_id"), 1);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_participants WHERE role = 1 AND"
                           " user_id = '00000000-0000-4000-8000-000000000001' AND banned = 0"),
              1);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM sqlite_master WHERE name IN"
                           " ('rooms_host_id', 'room_participants_user_id')"),
              2);
    test_rm_db(path);
}

static void test_migrate_from_v3(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "v3");
    /* A database as schema 3 left it, with a room, its host and a message. */
    ASSERT_EQ(
        db_exec(
            path,
            "CREATE TABLE schema_version(version INTEGER NOT NULL);"
            "INSERT INTO schema_version VALUES(3);"
            "CREATE TABLE users(id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE,"
            " username TEXT NOT NULL, color TEXT NOT NULL, password_hash TEXT NOT NULL,"
            " created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
            "CREATE TABLE audit(id INTEGER PRIMARY KEY, at INTEGER NOT NULL,"
            " event TEXT NOT NULL, user_id TEXT, ip TEXT, detail TEXT);"
            "CREATE INDEX audit_at ON audit(at);"
            "CREATE TABLE rooms(id TEXT PRIMARY KEY, code TEXT NOT NULL UNIQUE,"
            " name TEXT NOT NULL, host_id TEXT NOT NULL, capacity INTEGER NOT NULL,"
            " is_public INTEGER NOT NULL, state TEXT NOT NULL,"
            " state_version INTEGER NOT NULL, created_at INTEGER NOT NULL,"
            " last_activity INTEGER NOT NULL);"
            "CREATE INDEX rooms_host_id ON rooms(host_id);"
            "CREATE TABLE room_participants("
            " room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,"
            " user_id TEXT NOT NULL, display_name TEXT NOT NULL, color TEXT NOT NULL,"
            " role INTEGER NOT NULL, banned INTEGER NOT NULL DEFAULT 0,"
            " joined_at INTEGER NOT NULL, PRIMARY KEY(room_id, user_id));"
            "CREATE INDEX room_participants_user_id ON room_participants(user_id);"
            "CREATE TABLE room_messages(id TEXT PRIMARY KEY,"
            " room_id TEXT NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,"
            " seq INTEGER NOT NULL, user_id TEXT, display_name TEXT NOT NULL,"
            " type TEXT NOT NULL, content TEXT NOT NULL, metadata TEXT,"
            " created_at INTEGER NOT NULL, UNIQUE(room_id, seq));"
            "INSERT INTO rooms VALUES('10000000-0000-4000-8000-000000000001', 'R00001',"
            " 'Old room', 'u-1', 10, 1, '{}', 1, 5, 6);"
            "INSERT INTO room_participants VALUES('10000000-0000-4000-8000-000000000001',"
            " 'u-1', 'Old', '#123456', 1, 0, 5);"
            "INSERT INTO room_messages VALUES('m-1', '10000000-0000-4000-8000-000000000001',"
            " 1, 'u-1', 'Old', 'text', 'hello', NULL, 6);"),
        0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    /* The old room takes documents. */
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "notes", 1, 1), STORE_OK);
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "notes", 2, 0), STORE_OK);
    store_docs_t d;
    ASSERT_EQ(load_doc(st, &loop, &c, 1, "notes", &d), STORE_OK);
    ASSERT_EQ(d.doc.version, 1);
    ASSERT_STREQ(d.doc.snapshot, "notes at 1 ✓");
    ASSERT_EQ(d.nops, 1);
    ASSERT_TRUE(op_matches(&d.ops[0], 1, "notes", 2));
    store_docs_free(&d);
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, 1);
    r.before = r.after = -1;
    r.limit = 10;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_MESSAGES_PAGE, &r), STORE_OK); /* still there */
    ASSERT_EQ(r.nmsgs, 1);
    ASSERT_STREQ(r.msgs[0].content, "hello");
    store_rooms_free(&r);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT version FROM schema_version"), STORE_SQLITE_SCHEMA_VERSION);
    ASSERT_EQ(
        db_int(path,
               "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND"
               " name IN ('documents', 'doc_ops', 'entities') AND sql LIKE '%WITHOUT ROWID'"),
        3);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM rooms"), 1);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_participants"), 1);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_messages WHERE content = 'hello'"), 1);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM doc_ops"), 2);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM documents"), 1);
    /* The change log (migration 14) starts at the room as it was. */
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM state_log_base"), 1);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM state_log WHERE entity_id = ''"), 1);
    test_rm_db(path);
}

/* How audit rows are stored: "" as NULL, every field in its column. */
static void test_audit_rows(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "audit");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    treq_t t[3];
    const char *events[] = {"register", "login_failed", "login"};
    for (int i = 0; i < 3; i++) {
        treq_init(&t[i], &c, STORE_AUDIT);
        t[i].req.audit.at = 1000 + i;
        strcpy(t[i].req.audit.event, events[i]);
        if (i != 1) strcpy(t[i].req.audit.user_id, "u-1"); /* unknown user: "" */
        strcpy(t[i].req.audit.ip, "192.0.2.1");
        if (i == 1) strcpy(t[i].req.audit.detail, "bad password");
        store_submit(st, &t[i].req);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 3; i++)
        ASSERT_EQ(t[i].req.err, STORE_OK);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM audit"), 3);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM audit WHERE user_id IS NULL"), 1);
    ASSERT_EQ(db_int(path, "SELECT at FROM audit WHERE event = 'login_failed'"), 1001);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM audit WHERE detail = 'bad password'"
                           " AND ip = '192.0.2.1'"),
              1);
    test_rm_db(path);
}

/* A row stands for count repeats (kept in its column); a prune deletes the rows before a
 * time, oldest first. */
static void test_audit_count_rows(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "audit_prune");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    treq_t t[5];
    for (int i = 0; i < 4; i++) {
        treq_init(&t[i], &c, STORE_AUDIT);
        t[i].req.audit.at = 1000 * (i + 1);
        strcpy(t[i].req.audit.event, "token_rejected");
        t[i].req.audit.count = i == 3 ? 250 : 0;
        store_submit(st, &t[i].req);
    }
    treq_init(&t[4], &c, STORE_AUDIT_PRUNE);
    t[4].req.audit.at = 3000; /* deletes the rows at 1000 and 2000 */
    store_submit(st, &t[4].req);
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(t[i].req.err, STORE_OK);
    ASSERT_EQ(t[4].req.audit.count, 2);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM audit"), 2);
    ASSERT_EQ(db_int(path, "SELECT min(at) FROM audit"), 3000);
    ASSERT_EQ(db_int(path, "SELECT sum(count) FROM audit"), 251);
    test_rm_db(path);
}

/* The server's messages ("" user) and an absent metadata or op id are SQL NULL, never "". */
static void test_null_columns(void)
{
    enum { N = 25, OPS = 150 };
    char path[512];
    tmp_db(path, sizeof(path), "nulls");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    for (int i = 1; i <= N; i++)
        ASSERT_EQ(insert_msg(st, &loop, &c, 1, i), STORE_OK);
    for (int v = 1; v <= OPS; v++)
        ASSERT_EQ(insert_op(st, &loop, &c, 1, "main", v, 0), STORE_OK);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_messages WHERE user_id IS NULL"), N / 5);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_messages WHERE user_id = ''"), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_messages WHERE metadata IS NULL"),
              N - N / 3);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM doc_ops WHERE doc_id = 'main'"
                           " AND op_id IS NULL"),
              OPS / 4);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM doc_ops WHERE op_id = ''"), 0);
    test_rm_db(path);
}

/* A version refused after its asset's current row was superseded (here: the asset's room
 * hand-edited away, so the new row's foreign key fails) stores nothing: the asset keeps
 * its current version (store.h: nothing stored on a refusal; the request's savepoint). */
static void test_asset_put_refused_whole(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "putrefused");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    store_assets_t a;
    memset(&a, 0, sizeof(a));
    snprintf(a.row.id, sizeof(a.row.id), "%032x", 1u);
    snprintf(a.row.room_id, sizeof(a.row.room_id), "10000000-0000-4000-8000-%012d", 1);
    snprintf(a.row.uploader, sizeof(a.row.uploader), "00000000-0000-4000-8000-%012d", 1);
    memset(a.row.sha256, 'a', 64);
    a.row.size = 10;
    snprintf(a.row.name, sizeof(a.row.name), "a");
    snprintf(a.row.type, sizeof(a.row.type), "text/plain");
    a.row.created_at = 1;
    treq_t t;
    treq_init(&t, &c, STORE_ASSET_PUT);
    t.req.assets = &a;
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_exec(path, "UPDATE assets SET room_id = '10000000-0000-4000-8000-999999999999'"),
              0);
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    snprintf(a.row.id, sizeof(a.row.id), "%032x", 2u);
    snprintf(a.row.asset_id, sizeof(a.row.asset_id), "%032x", 1u);
    treq_init(&t, &c, STORE_ASSET_PUT);
    t.req.assets = &a;
    ASSERT_EQ(run_one(st, &loop, &t), STORE_ENOTFOUND);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM assets WHERE current = 1"), 1);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM assets"), 1);
    test_rm_db(path);
}

/* SQLite's page cache goes back once the store is idle (sq_ping, which the idle worker
 * calls after a second without work): a server that stored a few MB keeps none of it once
 * quiet (docs/benchmarks.md, memory per idle joined connection). 3 MB of messages go
 * through the store, filling SQLite's 2 MB cache; SQLite's heap (one process-wide count,
 * the store's connection its only user here) then falls under 1 MB. Polled with a
 * generous bound, never timed: the worker's idle second may come late under load. */
static void test_page_cache_released(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "cache");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    char *text = malloc(6001);
    memset(text, 'x', 6000);
    text[6000] = '\0';
    for (int64_t seq = 1; seq <= 500; seq++) {
        store_rooms_t r;
        memset(&r, 0, sizeof(r));
        fill_msg(&r.msg, 1, seq);
        free(r.msg.content);
        r.msg.content = strdup(text);
        ASSERT_EQ(run_rooms(st, &loop, &c, STORE_MESSAGE_INSERT, &r), STORE_OK);
        store_rooms_free(&r);
    }
    free(text);
    sqlite3_int64 used = sqlite3_memory_used(), peak = sqlite3_memory_highwater(0);
    fprintf(stderr, "  sqlite heap after 3 MB stored: %lld (peak %lld)\n", (long long)used,
            (long long)peak);
    ASSERT_TRUE(peak > 0); /* SQLite counts its memory (SQLITE_DEFAULT_MEMSTATUS) */
    ASSERT_TRUE(peak > 2000 * 1000); /* the cache filled */
    for (int i = 0; i < 600 && sqlite3_memory_used() >= 1000 * 1000; i++)
        uv_sleep(100); /* up to a minute */
    fprintf(stderr, "  sqlite heap once idle: %lld\n", (long long)sqlite3_memory_used());
    ASSERT_TRUE(sqlite3_memory_used() < 1000 * 1000);
    ASSERT_EQ(close_store(st, &loop), 0);
    test_rm_db(path);
}

int main(void)
{
    log_init(&test_log, LOG_WARN, LOG_TEXT, stderr);
    RUN(test_migrate_empty);
    RUN(test_migrate_from_v1);
    RUN(test_newer_refused);
    RUN(test_open_fails_cleanly);
    RUN(test_file_mode);
    RUN(test_long_value_truncated);
    RUN(test_migrate_from_v2);
    RUN(test_migrate_from_v3);
    RUN(test_audit_rows);
    RUN(test_audit_count_rows);
    RUN(test_null_columns);
    RUN(test_asset_put_refused_whole);
    RUN(test_page_cache_released);
    TEST_MAIN_END();
}
