/* test_store.c: the store (worker thread, group commit, callbacks) and its SQLite backend. */
#include "test.h"

#include <errno.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>
#include <uv.h>

#include "store.h"
#include "store_sqlite.h"

/* ---- fixtures ---- */

static log_t test_log;
static int tmp_seq;

/* Writes a fresh database path under $CHORUS_TEST_TMP (or /tmp) into out. */
static void tmp_db(char *out, size_t cap, const char *name)
{
    const char *dir = getenv("CHORUS_TEST_TMP");
    if (!dir || !*dir) dir = "/tmp";
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) dir = "/tmp";
    snprintf(out, cap, "%s/chorus-store-%ld-%d-%s.db", dir, (long)getpid(), tmp_seq++, name);
    remove(out);
}

/* What every callback records. One per test, reached through req->data. */
typedef struct {
    uv_thread_t loop_thread;
    int calls;
    int wrong_thread;
    int out_of_order;
    int last_seq;
} tctx_t;

typedef struct {
    store_req_t req;
    tctx_t *ctx;
    int seq;  /* submission order */
    int done; /* callback ran */
} treq_t;

static void on_done(store_req_t *req)
{
    treq_t *t = req->data;
    tctx_t *c = t->ctx;
    uv_thread_t self = uv_thread_self();
    if (!uv_thread_equal(&self, &c->loop_thread)) c->wrong_thread++;
    if (t->seq <= c->last_seq) c->out_of_order++;
    c->last_seq = t->seq;
    c->calls++;
    t->done = 1;
}

static void tctx_init(tctx_t *c)
{
    memset(c, 0, sizeof(*c));
    c->loop_thread = uv_thread_self();
    c->last_seq = -1;
}

static void treq_init(treq_t *t, tctx_t *c, store_req_type_t type)
{
    static int seq; /* global submission order across a test */
    memset(t, 0, sizeof(*t));
    t->ctx = c;
    t->seq = seq++;
    t->req.type = type;
    t->req.cb = on_done;
    t->req.data = t;
}

static void fill_user(store_user_t *u, int i)
{
    memset(u, 0, sizeof(*u));
    snprintf(u->id, sizeof(u->id), "00000000-0000-4000-8000-%012d", i);
    snprintf(u->email, sizeof(u->email), "user%d@example.com", i);
    snprintf(u->username, sizeof(u->username), "user %d", i);
    snprintf(u->color, sizeof(u->color), "#%06x", (unsigned)(i * 7919) & 0xffffff);
    snprintf(u->password_hash, sizeof(u->password_hash),
             "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$fakehash%d", i);
    u->created_at = 1700000000000 + i;
    u->updated_at = u->created_at;
}

static store_t *open_store(const char *path, uv_loop_t *loop)
{
    char err[256] = "";
    store_t *st = store_open(&store_sqlite_backend, path, loop, &test_log, err, sizeof(err));
    if (!st) fprintf(stderr, "store_open: %s\n", err);
    return st;
}

/* Closes the store and checks the loop ends with nothing left open. */
static int close_store(store_t *st, uv_loop_t *loop)
{
    store_close(st);
    uv_run(loop, UV_RUN_DEFAULT); /* lets the async handle finish closing */
    return uv_loop_close(loop);
}

/* Submits one request and runs the loop until its callback ran. The loop returning by
 * itself also checks that the store stops holding it once nothing is outstanding. */
static int run_one(store_t *st, uv_loop_t *loop, treq_t *t)
{
    store_submit(st, &t->req);
    if (t->done) return -1; /* must never complete inside store_submit */
    uv_run(loop, UV_RUN_DEFAULT);
    return t->done ? t->req.err : -100;
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

/* ---- migrations ---- */

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

/* ---- requests ---- */

static void test_user_crud(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "crud");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    treq_t t;

    treq_init(&t, &c, STORE_USER_CREATE);
    fill_user(&t.req.user, 1);
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);

    treq_init(&t, &c, STORE_USER_BY_EMAIL);
    strcpy(t.req.key, "user1@example.com");
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    store_user_t want;
    fill_user(&want, 1);
    ASSERT_STREQ(t.req.user.id, want.id);
    ASSERT_STREQ(t.req.user.email, want.email);
    ASSERT_STREQ(t.req.user.username, want.username);
    ASSERT_STREQ(t.req.user.color, want.color);
    ASSERT_STREQ(t.req.user.password_hash, want.password_hash);
    ASSERT_EQ(t.req.user.created_at, want.created_at);
    ASSERT_EQ(t.req.user.updated_at, want.updated_at);

    treq_init(&t, &c, STORE_USER_BY_ID);
    strcpy(t.req.key, want.id);
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    ASSERT_STREQ(t.req.user.email, want.email);

    /* Only the masked field changes; the answer is the whole row. */
    treq_init(&t, &c, STORE_USER_UPDATE);
    strcpy(t.req.user.id, want.id);
    strcpy(t.req.user.username, "Renamed");
    strcpy(t.req.user.color, "#000000"); /* not in the mask: ignored */
    t.req.user.updated_at = want.updated_at + 1000;
    t.req.update_mask = STORE_UPD_USERNAME;
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    ASSERT_STREQ(t.req.user.username, "Renamed");
    ASSERT_STREQ(t.req.user.color, want.color);
    ASSERT_STREQ(t.req.user.email, want.email);
    ASSERT_STREQ(t.req.user.password_hash, want.password_hash);
    ASSERT_EQ(t.req.user.created_at, want.created_at);
    ASSERT_EQ(t.req.user.updated_at, want.updated_at + 1000);

    treq_init(&t, &c, STORE_USER_UPDATE);
    strcpy(t.req.user.id, want.id);
    strcpy(t.req.user.color, "#ff0000");
    t.req.user.updated_at = want.updated_at + 2000;
    t.req.update_mask = STORE_UPD_COLOR;
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    ASSERT_STREQ(t.req.user.username, "Renamed");
    ASSERT_STREQ(t.req.user.color, "#ff0000");
    ASSERT_EQ(t.req.user.updated_at, want.updated_at + 2000);

    /* Duplicate email (new id) and duplicate id (new email) both mean "exists". */
    treq_init(&t, &c, STORE_USER_CREATE);
    fill_user(&t.req.user, 2);
    strcpy(t.req.user.email, want.email);
    ASSERT_EQ(run_one(st, &loop, &t), STORE_EEXISTS);
    treq_init(&t, &c, STORE_USER_CREATE);
    fill_user(&t.req.user, 3);
    strcpy(t.req.user.id, want.id);
    ASSERT_EQ(run_one(st, &loop, &t), STORE_EEXISTS);

    treq_init(&t, &c, STORE_USER_BY_EMAIL);
    strcpy(t.req.key, "nobody@example.com");
    ASSERT_EQ(run_one(st, &loop, &t), STORE_ENOTFOUND);
    treq_init(&t, &c, STORE_USER_BY_ID);
    strcpy(t.req.key, "no-such-id");
    ASSERT_EQ(run_one(st, &loop, &t), STORE_ENOTFOUND);
    treq_init(&t, &c, STORE_USER_UPDATE);
    strcpy(t.req.user.id, "no-such-id");
    t.req.update_mask = STORE_UPD_USERNAME | STORE_UPD_COLOR;
    strcpy(t.req.user.username, "x");
    strcpy(t.req.user.color, "#111111");
    ASSERT_EQ(run_one(st, &loop, &t), STORE_ENOTFOUND);

    ASSERT_EQ(c.wrong_thread, 0);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM users"), 1);
    test_rm_db(path);
}

/* An EEXISTS or ENOTFOUND in a batch must not roll back its neighbours. */
static void test_soft_errors_do_not_poison_batch(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "soft");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    treq_t t[6];
    treq_init(&t[0], &c, STORE_USER_CREATE);
    fill_user(&t[0].req.user, 1);
    treq_init(&t[1], &c, STORE_USER_CREATE); /* same email: EEXISTS */
    fill_user(&t[1].req.user, 2);
    strcpy(t[1].req.user.email, "user1@example.com");
    treq_init(&t[2], &c, STORE_USER_CREATE);
    fill_user(&t[2].req.user, 3);
    treq_init(&t[3], &c, STORE_USER_BY_ID); /* ENOTFOUND */
    strcpy(t[3].req.key, "missing");
    treq_init(&t[4], &c, STORE_USER_BY_EMAIL); /* sees t[2], same transaction or earlier */
    strcpy(t[4].req.key, "user3@example.com");
    treq_init(&t[5], &c, STORE_USER_CREATE);
    fill_user(&t[5].req.user, 4);
    for (int i = 0; i < 6; i++)
        store_submit(st, &t[i].req);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(c.calls, 6);
    ASSERT_EQ(t[0].req.err, STORE_OK);
    ASSERT_EQ(t[1].req.err, STORE_EEXISTS);
    ASSERT_EQ(t[2].req.err, STORE_OK);
    ASSERT_EQ(t[3].req.err, STORE_ENOTFOUND);
    ASSERT_EQ(t[4].req.err, STORE_OK);
    ASSERT_STREQ(t[4].req.user.id, t[2].req.user.id);
    ASSERT_EQ(t[5].req.err, STORE_OK);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM users"), 3);
    test_rm_db(path);
}

static void test_many_in_order_and_durable(void)
{
    enum { N = 1000 }; /* several batches of at most 256 */
    char path[512];
    tmp_db(path, sizeof(path), "many");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    treq_t *t = calloc(N, sizeof(*t));
    for (int i = 0; i < N; i++) {
        treq_init(&t[i], &c, STORE_USER_CREATE);
        fill_user(&t[i].req.user, i);
        store_submit(st, &t[i].req);
    }
    ASSERT_EQ(c.calls, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    int ok = 0;
    for (int i = 0; i < N; i++)
        ok += t[i].done && t[i].req.err == STORE_OK;
    ASSERT_EQ(ok, N);
    ASSERT_EQ(c.calls, N);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(c.wrong_thread, 0);
    ASSERT_EQ(close_store(st, &loop), 0);

    /* Every acknowledged write is in the file, and a reopened store reads it. */
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM users"), N);
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    for (int i = 0; i < N; i++) {
        treq_init(&t[i], &c, STORE_USER_BY_ID);
        snprintf(t[i].req.key, sizeof(t[i].req.key), "00000000-0000-4000-8000-%012d", i);
        store_submit(st, &t[i].req);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    ok = 0;
    for (int i = 0; i < N; i++) {
        char email[64];
        snprintf(email, sizeof(email), "user%d@example.com", i);
        ok += t[i].req.err == STORE_OK && strcmp(t[i].req.user.email, email) == 0;
    }
    ASSERT_EQ(ok, N);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    free(t);
    test_rm_db(path);
}

static void test_audit(void)
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

/* A row stands for count repeats; a prune deletes the rows before a time, oldest first. */
static void test_audit_count_and_prune(void)
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
    for (int i = 0; i < 5; i++) ASSERT_EQ(t[i].req.err, STORE_OK);
    ASSERT_EQ(t[4].req.audit.count, 2);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM audit"), 2);
    ASSERT_EQ(db_int(path, "SELECT min(at) FROM audit"), 3000);
    ASSERT_EQ(db_int(path, "SELECT sum(count) FROM audit"), 251);
    test_rm_db(path);
}

/* Password + epoch update stores the revocation with the new epoch; delete stores one
 * for every token; load returns the live entries, prune drops the ended ones. */
static void test_revocations(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "revoke");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    treq_t t[7];
    treq_init(&t[0], &c, STORE_USER_CREATE);
    strcpy(t[0].req.user.id, "u-1");
    strcpy(t[0].req.user.email, "a@example.com");
    strcpy(t[0].req.user.username, "A");
    strcpy(t[0].req.user.color, "#000000");
    strcpy(t[0].req.user.password_hash, "old");
    store_submit(st, &t[0].req);
    treq_init(&t[1], &c, STORE_USER_UPDATE);
    strcpy(t[1].req.user.id, "u-1");
    strcpy(t[1].req.user.password_hash, "new");
    t[1].req.update_mask = STORE_UPD_PASSWORD | STORE_UPD_EPOCH;
    t[1].req.revoke.until_s = 500;
    store_submit(st, &t[1].req);
    treq_init(&t[2], &c, STORE_REVOKE_PUT);
    t[2].req.revoke = (store_revoke_t){.kind = STORE_REVOKE_TOKEN, .id = "jti-1", .until_s = 50};
    store_submit(st, &t[2].req);
    treq_init(&t[3], &c, STORE_USER_DELETE);
    strcpy(t[3].req.user.id, "u-1");
    t[3].req.revoke.until_s = 600;
    store_submit(st, &t[3].req);
    treq_init(&t[4], &c, STORE_USER_DELETE);
    strcpy(t[4].req.user.id, "u-1"); /* gone */
    store_submit(st, &t[4].req);
    treq_init(&t[5], &c, STORE_REVOKE_PRUNE);
    t[5].req.revoke.until_s = 100; /* drops jti-1 */
    store_submit(st, &t[5].req);
    treq_init(&t[6], &c, STORE_REVOKE_LOAD);
    t[6].req.revoke.until_s = 100;
    store_submit(st, &t[6].req);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(t[1].req.err, STORE_OK);
    ASSERT_EQ(t[1].req.user.token_epoch, 1);
    ASSERT_STREQ(t[1].req.user.password_hash, "new");
    ASSERT_EQ(t[3].req.err, STORE_OK);
    ASSERT_EQ(t[4].req.err, STORE_ENOTFOUND);
    ASSERT_EQ(t[6].req.err, STORE_OK);
    ASSERT_EQ(t[6].req.nrevokes, 1);
    ASSERT_EQ(t[6].req.revokes[0].kind, STORE_REVOKE_USER);
    ASSERT_STREQ(t[6].req.revokes[0].id, "u-1");
    ASSERT_EQ(t[6].req.revokes[0].epoch, INT64_MAX); /* the delete raised it */
    ASSERT_EQ(t[6].req.revokes[0].until_s, 600);
    free(t[6].req.revokes);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM users"), 0);
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

/* ---- rooms ---- */

static void fill_room(store_room_t *rm, int i)
{
    memset(rm, 0, sizeof(*rm));
    snprintf(rm->id, sizeof(rm->id), "10000000-0000-4000-8000-%012d", i);
    snprintf(rm->code, sizeof(rm->code), "R%05d", i);
    snprintf(rm->name, sizeof(rm->name), "Room %d", i);
    snprintf(rm->host_id, sizeof(rm->host_id), "00000000-0000-4000-8000-%012d", i);
    rm->capacity = 10;
    rm->is_public = 1;
    rm->state = strdup("{\"mode\":\"chat\"}");
    rm->state_version = 1;
    rm->created_at = 1700000000000 + i;
    rm->last_activity = rm->created_at;
}

static void fill_part(store_participant_t *p, const char *room_id, int user, int role,
                      int64_t joined_at)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->room_id, sizeof(p->room_id), "%s", room_id);
    snprintf(p->user_id, sizeof(p->user_id), "00000000-0000-4000-8000-%012d", user);
    snprintf(p->display_name, sizeof(p->display_name), "user %d", user);
    snprintf(p->color, sizeof(p->color), "#%06x", (unsigned)(user * 7919) & 0xffffff);
    p->role = role;
    p->joined_at = joined_at;
}

/* Message seq of room `room`: id encodes both, user 0 is the server (""), every third
 * message carries metadata. */
static void fill_msg(store_message_t *m, int room, int64_t seq)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->id, sizeof(m->id), "%08d-0000-4000-8000-%012" PRId64, room, seq);
    snprintf(m->room_id, sizeof(m->room_id), "10000000-0000-4000-8000-%012d", room);
    m->seq = seq;
    if (seq % 5 != 0) snprintf(m->user_id, sizeof(m->user_id), "user-%" PRId64, seq % 3);
    snprintf(m->display_name, sizeof(m->display_name), "name %" PRId64, seq % 3);
    snprintf(m->type, sizeof(m->type), "%s", seq % 5 ? "text" : "system");
    char buf[64];
    snprintf(buf, sizeof(buf), "message %" PRId64 " é", seq);
    m->content = strdup(buf);
    if (seq % 3 == 0) {
        snprintf(buf, sizeof(buf), "{\"n\":%" PRId64 "}", seq);
        m->metadata = strdup(buf);
    }
    m->created_at = 1700000100000 + seq;
}

/* Runs one room request on r and returns its err. */
static int run_rooms(store_t *st, uv_loop_t *loop, tctx_t *c, store_req_type_t type,
                     store_rooms_t *r)
{
    treq_t t;
    treq_init(&t, c, type);
    t.req.rooms = r;
    return run_one(st, loop, &t);
}

/* Creates room i with its host (user i) joined at its creation time. */
static int create_room(store_t *st, uv_loop_t *loop, tctx_t *c, int i)
{
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, i);
    fill_part(&r.part, r.room.id, i, STORE_ROLE_HOST, r.room.created_at);
    int err = run_rooms(st, loop, c, STORE_ROOM_CREATE, &r);
    store_rooms_free(&r);
    return err;
}

static int insert_msg(store_t *st, uv_loop_t *loop, tctx_t *c, int room, int64_t seq)
{
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_msg(&r.msg, room, seq);
    int err = run_rooms(st, loop, c, STORE_MESSAGE_INSERT, &r);
    store_rooms_free(&r);
    return err;
}

/* Asks a page of room `room` and checks it holds exactly seqs first..first+n-1. Returns
 * the number of messages, or -1 on a mismatch (printed). */
static long page(store_t *st, uv_loop_t *loop, tctx_t *c, int room, int64_t before,
                 int64_t after, uint32_t limit, int64_t first)
{
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    snprintf(r.room.id, sizeof(r.room.id), "10000000-0000-4000-8000-%012d", room);
    r.before = before;
    r.after = after;
    r.limit = limit;
    int err = run_rooms(st, loop, c, STORE_MESSAGES_PAGE, &r);
    long n = err == STORE_OK ? (long)r.nmsgs : -1;
    for (size_t i = 0; n >= 0 && i < r.nmsgs; i++) {
        store_message_t want;
        fill_msg(&want, room, first + (int64_t)i);
        const store_message_t *m = &r.msgs[i];
        if (m->seq != want.seq || strcmp(m->id, want.id) != 0 ||
            strcmp(m->room_id, want.room_id) != 0 || strcmp(m->user_id, want.user_id) != 0 ||
            strcmp(m->display_name, want.display_name) != 0 ||
            strcmp(m->type, want.type) != 0 || !m->content ||
            strcmp(m->content, want.content) != 0 || !m->metadata != !want.metadata ||
            (want.metadata && strcmp(m->metadata, want.metadata) != 0) ||
            m->created_at != want.created_at) {
            fprintf(stderr, "page: message %zu is seq %" PRId64 ", expected %" PRId64 "\n", i,
                    m->seq, want.seq);
            n = -1;
        }
        store_rooms_free(&(store_rooms_t){.msg = want});
    }
    store_rooms_free(&r);
    return n;
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

static void test_room_crud(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "rooms");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    store_rooms_t r;
    memset(&r, 0, sizeof(r));

    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    /* Same code, new id; same id, new code: both taken, and neither left a row. */
    fill_room(&r.room, 2);
    strcpy(r.room.code, "R00001");
    fill_part(&r.part, r.room.id, 2, STORE_ROLE_HOST, 1);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_CREATE, &r), STORE_EEXISTS);
    store_rooms_free(&r);
    fill_room(&r.room, 1);
    strcpy(r.room.code, "ZZZZZZ");
    fill_part(&r.part, r.room.id, 3, STORE_ROLE_HOST, 1);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_CREATE, &r), STORE_EEXISTS);
    store_rooms_free(&r);

    /* Update every mutable field. */
    fill_room(&r.room, 1);
    free(r.room.state);
    r.room.state = strdup("{\"mode\":\"draw\",\"n\":2}");
    r.room.state_version = 42;
    strcpy(r.room.name, "Renamed ✓");
    r.room.capacity = 3;
    r.room.is_public = 0;
    r.room.last_activity = 1800000000000;
    strcpy(r.room.code, "R00009"); /* a rotated code */
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_UPDATE, &r), STORE_OK);
    strcpy(r.room.id, "no-such-room");
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_UPDATE, &r), STORE_ENOTFOUND);
    store_rooms_free(&r);

    /* Participants: insert, then replace by (room, user). */
    char room1[STORE_ID_LEN];
    fill_room(&r.room, 1);
    strcpy(room1, r.room.id);
    store_rooms_free(&r);
    fill_part(&r.part, room1, 7, STORE_ROLE_MEMBER, 100);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTICIPANT_PUT, &r), STORE_OK);
    fill_part(&r.part, room1, 7, STORE_ROLE_HOST, 200);
    r.part.banned = 1;
    strcpy(r.part.display_name, "seven");
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTICIPANT_PUT, &r), STORE_OK);
    fill_part(&r.part, room1, 8, STORE_ROLE_MEMBER, 300);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTICIPANT_PUT, &r), STORE_OK);
    /* A participant of a missing room: ENOTFOUND (the foreign key), not EIO. */
    fill_part(&r.part, "no-such-room", 9, STORE_ROLE_MEMBER, 1);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTICIPANT_PUT, &r), STORE_ENOTFOUND);
    fill_part(&r.part, room1, 8, STORE_ROLE_MEMBER, 0);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTICIPANT_DELETE, &r), STORE_OK);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTICIPANT_DELETE, &r), STORE_ENOTFOUND);
    fill_part(&r.part, "no-such-room", 7, STORE_ROLE_MEMBER, 0);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTICIPANT_DELETE, &r), STORE_ENOTFOUND);

    ASSERT_EQ(c.wrong_thread, 0);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM rooms"), 1);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM rooms WHERE code = 'R00009'"
                           " AND name = 'Renamed ✓' AND capacity = 3 AND is_public = 0"
                           " AND state = '{\"mode\":\"draw\",\"n\":2}' AND state_version = 42"
                           " AND last_activity = 1800000000000 AND created_at = 1700000000001"
                           " AND host_id = '00000000-0000-4000-8000-000000000001'"),
              1);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_participants"), 2); /* host + 7 */
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_participants WHERE"
                           " user_id = '00000000-0000-4000-8000-000000000007' AND role = 1"
                           " AND banned = 1 AND display_name = 'seven' AND joined_at = 200"),
              1);
    test_rm_db(path);
}

static void test_messages_and_pages(void)
{
    enum { N = 25 };
    char path[512];
    tmp_db(path, sizeof(path), "msgs");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    ASSERT_EQ(create_room(st, &loop, &c, 2), STORE_OK); /* stays empty */
    for (int i = 1; i <= N; i++)
        ASSERT_EQ(insert_msg(st, &loop, &c, 1, i), STORE_OK);
    /* A taken seq (new id) and a taken id: EEXISTS, and the room is not touched. */
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_msg(&r.msg, 1, 3);
    strcpy(r.msg.id, "fresh-id");
    r.msg.created_at = 1900000000000;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_MESSAGE_INSERT, &r), STORE_EEXISTS);
    store_rooms_free(&r);
    fill_msg(&r.msg, 1, N + 1);
    strcpy(r.msg.id, "00000001-0000-4000-8000-000000000003");
    r.msg.created_at = 1900000000000;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_MESSAGE_INSERT, &r), STORE_EEXISTS);
    store_rooms_free(&r);
    /* A message to a missing room. */
    fill_msg(&r.msg, 99, 1);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_MESSAGE_INSERT, &r), STORE_ENOTFOUND);
    store_rooms_free(&r);

    /* Newest, before, after, limits; always ascending. */
    ASSERT_EQ(page(st, &loop, &c, 1, -1, -1, 10, 16), 10);
    ASSERT_EQ(page(st, &loop, &c, 1, -1, -1, 100, 1), N);
    ASSERT_EQ(page(st, &loop, &c, 1, 16, -1, 10, 6), 10);
    ASSERT_EQ(page(st, &loop, &c, 1, 3, -1, 10, 1), 2);
    ASSERT_EQ(page(st, &loop, &c, 1, 1, -1, 10, 1), 0);
    ASSERT_EQ(page(st, &loop, &c, 1, 0, -1, 10, 1), 0);  /* before 0: nothing is below */
    ASSERT_EQ(page(st, &loop, &c, 1, -1, 0, 3, 1), 3);   /* after 0: from the first */
    ASSERT_EQ(page(st, &loop, &c, 1, -1, 20, 10, 21), 5);
    ASSERT_EQ(page(st, &loop, &c, 1, -1, 5, 3, 6), 3);
    ASSERT_EQ(page(st, &loop, &c, 1, -1, N, 10, 1), 0);
    ASSERT_EQ(page(st, &loop, &c, 1, -1, -1, 1, N), 1);
    ASSERT_EQ(page(st, &loop, &c, 1, -1, -1, 0, 1), 0);           /* limit 0: nothing */
    ASSERT_EQ(page(st, &loop, &c, 1, -1, -1, 4000000000u, 1), N); /* capped, not refused */
    ASSERT_EQ(page(st, &loop, &c, 1, 12, 4, 100, 5), 7);        /* both: 5..11 */
    ASSERT_EQ(page(st, &loop, &c, 2, -1, -1, 10, 1), 0);          /* empty room */
    ASSERT_EQ(page(st, &loop, &c, 99, -1, -1, 10, 1), 0);         /* missing room */

    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_messages"), N);
    /* The last accepted message set the room's activity; the refused ones did not. */
    ASSERT_EQ(db_int(path, "SELECT last_activity FROM rooms WHERE code = 'R00001'"),
              1700000100000 + N);
    ASSERT_EQ(db_int(path, "SELECT last_activity FROM rooms WHERE code = 'R00002'"),
              1700000000002);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_messages WHERE user_id IS NULL"), N / 5);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_messages WHERE user_id = ''"), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_messages WHERE metadata IS NULL"),
              N - N / 3);
    test_rm_db(path);
}

static void test_room_delete_cascades(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "cascade");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    for (int room = 1; room <= 2; room++) {
        ASSERT_EQ(create_room(st, &loop, &c, room), STORE_OK);
        fill_room(&r.room, room);
        fill_part(&r.part, r.room.id, 50 + room, STORE_ROLE_MEMBER, 5);
        ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTICIPANT_PUT, &r), STORE_OK);
        store_rooms_free(&r);
        for (int i = 1; i <= 5; i++)
            ASSERT_EQ(insert_msg(st, &loop, &c, room, i), STORE_OK);
    }
    fill_room(&r.room, 1);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_DELETE, &r), STORE_OK);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_DELETE, &r), STORE_ENOTFOUND);
    store_rooms_free(&r);
    ASSERT_EQ(page(st, &loop, &c, 1, -1, -1, 10, 1), 0);
    ASSERT_EQ(page(st, &loop, &c, 2, -1, -1, 10, 1), 5);
    /* Its code is free again, and the new room starts without history. */
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    ASSERT_EQ(page(st, &loop, &c, 1, -1, -1, 10, 1), 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM rooms"), 2);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_participants WHERE room_id ="
                           " '10000000-0000-4000-8000-000000000001'"),
              1); /* only the new host */
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_participants"), 3);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_messages"), 5);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_messages WHERE room_id ="
                           " '10000000-0000-4000-8000-000000000001'"),
              0);
    test_rm_db(path);
}

static void test_rooms_load_after_reopen(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "load");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    /* An empty store loads nothing. */
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOMS_LOAD, &r), STORE_OK);
    ASSERT_EQ(r.nrooms, 0);
    ASSERT_EQ(r.nparts, 0);
    store_rooms_free(&r);
    for (int room = 1; room <= 3; room++)
        ASSERT_EQ(create_room(st, &loop, &c, room), STORE_OK);
    for (int i = 1; i <= 7; i++)
        ASSERT_EQ(insert_msg(st, &loop, &c, 2, i), STORE_OK);
    ASSERT_EQ(insert_msg(st, &loop, &c, 3, 1), STORE_OK);
    /* Room 2 gets members joined out of insertion order, one banned. */
    fill_room(&r.room, 2);
    fill_part(&r.part, r.room.id, 20, STORE_ROLE_MEMBER, 1700000000900);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTICIPANT_PUT, &r), STORE_OK);
    fill_part(&r.part, r.room.id, 21, STORE_ROLE_MEMBER, 1700000000500);
    r.part.banned = 1;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTICIPANT_PUT, &r), STORE_OK);
    store_rooms_free(&r);
    ASSERT_EQ(close_store(st, &loop), 0);

    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOMS_LOAD, &r), STORE_OK);
    ASSERT_EQ(r.nrooms, 3);
    int64_t want_seq[3] = {0, 7, 1};
    for (int i = 0; i < 3; i++) {
        store_room_t want;
        fill_room(&want, i + 1);
        const store_room_t *got = &r.rooms[i];
        ASSERT_STREQ(got->id, want.id);
        ASSERT_STREQ(got->code, want.code);
        ASSERT_STREQ(got->name, want.name);
        ASSERT_STREQ(got->host_id, want.host_id);
        ASSERT_EQ(got->capacity, want.capacity);
        ASSERT_EQ(got->is_public, 1);
        ASSERT_STREQ(got->state, want.state);
        ASSERT_EQ(got->state_version, want.state_version);
        ASSERT_EQ(got->created_at, want.created_at);
        ASSERT_EQ(got->last_seq, want_seq[i]);
        ASSERT_EQ(got->last_activity,
                  want_seq[i] ? 1700000100000 + want_seq[i] : want.created_at);
        free(want.state);
    }
    /* Every participant, by room then join time. */
    ASSERT_EQ(r.nparts, 5);
    const char *want_user[5] = {"1", "2", "21", "20", "3"};
    for (int i = 0; i < 5; i++) {
        char uid[STORE_SUB_LEN];
        snprintf(uid, sizeof(uid), "00000000-0000-4000-8000-%012d", atoi(want_user[i]));
        ASSERT_STREQ(r.parts[i].user_id, uid);
    }
    ASSERT_STREQ(r.parts[1].room_id, r.rooms[1].id);
    ASSERT_EQ(r.parts[1].role, STORE_ROLE_HOST);
    ASSERT_EQ(r.parts[2].role, STORE_ROLE_MEMBER);
    ASSERT_EQ(r.parts[2].banned, 1);
    ASSERT_EQ(r.parts[3].banned, 0);
    ASSERT_EQ(r.parts[2].joined_at, 1700000000500);
    ASSERT_STREQ(r.parts[3].display_name, "user 20");
    ASSERT_STREQ(r.parts[3].color, "#026aac"); /* 20 * 7919 */

    /* Freeing zeroes, and twice or NULL is harmless (ASan checks the rest). */
    store_rooms_free(&r);
    ASSERT_TRUE(r.rooms == NULL && r.nrooms == 0 && r.parts == NULL && r.nparts == 0);
    store_rooms_free(&r);
    store_rooms_free(NULL);
    ASSERT_EQ(close_store(st, &loop), 0);
    test_rm_db(path);
}

/* The SQLite backend, counting its transactions. With counted_gate set, the next begin
 * posts counted_entered and waits for counted_release (the worker is then parked). */
static int counted_begins; /* worker thread; read after the callbacks ran */
static int counted_gate;   /* set by the test before the worker can see it */
static uv_sem_t counted_entered, counted_release;

static int counted_begin(void *conn)
{
    counted_begins++;
    if (counted_gate) {
        counted_gate = 0;
        uv_sem_post(&counted_entered);
        uv_sem_wait(&counted_release);
    }
    return store_sqlite_backend.begin(conn);
}

static store_backend_t counted_backend(void)
{
    store_backend_t be = store_sqlite_backend;
    be.name = "sqlite-counted";
    be.begin = counted_begin;
    return be;
}

typedef struct {
    treq_t t;
    store_rooms_t r;
} msg_req_t;

/* Submits n message inserts for room 1 (seq 1..n) at once and runs the loop until all
 * answered. With gated, the worker is first parked in a transaction of its own, so all n
 * are queued when it next looks. Returns how many succeeded; *ns is the time from the
 * first submit to the last callback. */
static int insert_burst(store_t *st, uv_loop_t *loop, tctx_t *c, msg_req_t *m, int n, int gated,
                        uint64_t *ns)
{
    treq_t gate;
    store_rooms_t gate_rooms;
    if (gated) {
        memset(&gate_rooms, 0, sizeof(gate_rooms));
        treq_init(&gate, c, STORE_MESSAGES_PAGE); /* any request */
        gate.req.rooms = &gate_rooms;
        counted_gate = 1;
        store_submit(st, &gate.req);
        uv_sem_wait(&counted_entered);
    }
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < n; i++) {
        treq_init(&m[i].t, c, STORE_MESSAGE_INSERT);
        memset(&m[i].r, 0, sizeof(m[i].r));
        fill_msg(&m[i].r.msg, 1, i + 1);
        m[i].t.req.rooms = &m[i].r;
        store_submit(st, &m[i].t.req);
    }
    if (gated) uv_sem_post(&counted_release);
    uv_run(loop, UV_RUN_DEFAULT);
    *ns = uv_hrtime() - t0;
    if (gated) store_rooms_free(&gate_rooms);
    int ok = 0;
    for (int i = 0; i < n; i++) {
        ok += m[i].t.done && m[i].t.req.err == STORE_OK;
        store_rooms_free(&m[i].r);
    }
    return ok;
}

static void test_message_burst_in_order(void)
{
    enum { N = 2000 };
    char path[512];
    tmp_db(path, sizeof(path), "burst");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_backend_t be = counted_backend();
    char err[256] = "";
    store_t *st = store_open(&be, path, &loop, &test_log, err, sizeof(err));
    ASSERT_TRUE(st != NULL);
    ASSERT_EQ(uv_sem_init(&counted_entered, 0), 0);
    ASSERT_EQ(uv_sem_init(&counted_release, 0), 0);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    counted_begins = 0;
    msg_req_t *m = calloc(N, sizeof(*m));
    uint64_t ns;
    ASSERT_EQ(insert_burst(st, &loop, &c, m, N, 1, &ns), N);
    free(m);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(c.wrong_thread, 0);
    /* The gate's own transaction, then full batches of 256: 8 for 2,000 requests. */
    ASSERT_EQ(counted_begins, 1 + (N + 255) / 256);
    ASSERT_EQ(page(st, &loop, &c, 1, -1, -1, 1000, N - 999), 1000);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_messages"), N);
    ASSERT_EQ(db_int(path, "SELECT max(seq) FROM room_messages"), N);
    /* Each row is the request that carried its seq, and the last one applied was last. */
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_messages"
                           " WHERE CAST(substr(id, 25) AS INTEGER) = seq"
                           " AND created_at = 1700000100000 + seq"),
              N);
    ASSERT_EQ(db_int(path, "SELECT last_activity FROM rooms"), 1700000100000 + N);
    uv_sem_destroy(&counted_entered);
    uv_sem_destroy(&counted_release);
    test_rm_db(path);
}

/* Not a test of speed: prints how long 10,000 inserts take end to end. */
static void test_message_insert_timing(void)
{
    enum { N = 10000 };
    char path[512];
    tmp_db(path, sizeof(path), "timing");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_backend_t be = counted_backend();
    char err[256] = "";
    store_t *st = store_open(&be, path, &loop, &test_log, err, sizeof(err));
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    counted_begins = 0;
    msg_req_t *m = calloc(N, sizeof(*m));
    uint64_t ns;
    ASSERT_EQ(insert_burst(st, &loop, &c, m, N, 0, &ns), N);
    free(m);
    fprintf(stderr,
            "bench: %d MESSAGE_INSERTs, submit all to last callback: %.1f ms "
            "(%.0f/s, %d transactions)\n",
            N, ns / 1e6, N / (ns / 1e9), counted_begins);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_messages"), N);
    test_rm_db(path);
}

/* ---- documents ---- */

/* Op `version` of document `doc` in room `room`: every fourth has no op id (NULL in the
 * database), the author cycles over three users, the delta is JSON with a non-ASCII
 * character. */
static void fill_op(store_doc_op_t *op, int room, const char *doc, int64_t version)
{
    memset(op, 0, sizeof(*op));
    snprintf(op->room_id, sizeof(op->room_id), "10000000-0000-4000-8000-%012d", room);
    snprintf(op->doc_id, sizeof(op->doc_id), "%s", doc);
    op->version = version;
    char buf[96];
    snprintf(buf, sizeof(buf), "[{\"retain\":%" PRId64 "},{\"insert\":\"é%" PRId64 "\"}]",
             version - 1, version);
    op->delta = strdup(buf);
    snprintf(op->author, sizeof(op->author), "00000000-0000-4000-8000-%012" PRId64,
             version % 3);
    if (version % 4 != 0) snprintf(op->op_id, sizeof(op->op_id), "op-%" PRId64, version);
    op->created_at = 1700000200000 + version;
}

/* The snapshot text stored with op `version`. */
static void snapshot_text(char *out, size_t cap, const char *doc, int64_t version)
{
    snprintf(out, cap, "%s at %" PRId64 " ✓", doc, version);
}

/* Whether op is exactly what fill_op(room, doc, version) built (printed when not). */
static int op_matches(const store_doc_op_t *op, int room, const char *doc, int64_t version)
{
    store_doc_op_t want;
    fill_op(&want, room, doc, version);
    int ok = op->version == want.version && strcmp(op->room_id, want.room_id) == 0 &&
             strcmp(op->doc_id, want.doc_id) == 0 && op->delta &&
             strcmp(op->delta, want.delta) == 0 && strcmp(op->author, want.author) == 0 &&
             strcmp(op->op_id, want.op_id) == 0 && op->created_at == want.created_at;
    if (!ok)
        fprintf(stderr, "op_matches: got version %" PRId64 ", expected %" PRId64 "\n",
                op->version, version);
    free(want.delta);
    return ok;
}

/* Runs one document request on d and returns its err. */
static int run_docs(store_t *st, uv_loop_t *loop, tctx_t *c, store_req_type_t type,
                    store_docs_t *d)
{
    treq_t t;
    treq_init(&t, c, type);
    t.req.docs = d;
    return run_one(st, loop, &t);
}

/* Inserts op `version` (with its snapshot when snap is set). */
static int insert_op(store_t *st, uv_loop_t *loop, tctx_t *c, int room, const char *doc,
                     int64_t version, int snap)
{
    store_docs_t d;
    memset(&d, 0, sizeof(d));
    fill_op(&d.op, room, doc, version);
    if (snap) {
        char buf[160];
        snapshot_text(buf, sizeof(buf), doc, version);
        d.doc.snapshot = strdup(buf);
    }
    int err = run_docs(st, loop, c, STORE_DOC_OP_INSERT, &d);
    store_docs_free(&d);
    return err;
}

/* Loads the document into d (the caller frees it). */
static int load_doc(store_t *st, uv_loop_t *loop, tctx_t *c, int room, const char *doc,
                    store_docs_t *d)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->doc.room_id, sizeof(d->doc.room_id), "10000000-0000-4000-8000-%012d", room);
    snprintf(d->doc.doc_id, sizeof(d->doc.doc_id), "%s", doc);
    return run_docs(st, loop, c, STORE_DOC_LOAD, d);
}

/* Asks ops of the document after from, at most limit, and checks they are exactly
 * from+1..from+n. Returns n, or -1 on an error or a mismatch. */
static long ops_range(store_t *st, uv_loop_t *loop, tctx_t *c, int room, const char *doc,
                      int64_t from, uint32_t limit)
{
    store_docs_t d;
    memset(&d, 0, sizeof(d));
    snprintf(d.doc.room_id, sizeof(d.doc.room_id), "10000000-0000-4000-8000-%012d", room);
    snprintf(d.doc.doc_id, sizeof(d.doc.doc_id), "%s", doc);
    d.from = from;
    d.limit = limit;
    int err = run_docs(st, loop, c, STORE_DOC_OPS_RANGE, &d);
    long n = err == STORE_OK ? (long)d.nops : -1;
    for (size_t i = 0; n >= 0 && i < d.nops; i++)
        if (!op_matches(&d.ops[i], room, doc, from + 1 + (int64_t)i)) n = -1;
    store_docs_free(&d);
    return n;
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
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND"
                           " name IN ('documents', 'doc_ops', 'entities') AND sql LIKE '%WITHOUT ROWID'"),
              3);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM rooms"), 1);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_participants"), 1);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_messages WHERE content = 'hello'"), 1);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM doc_ops"), 2);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM documents"), 1);
    test_rm_db(path);
}

static void test_doc_load_and_snapshot(void)
{
    enum { N = 150, SNAP = 100 };
    char path[512];
    tmp_db(path, sizeof(path), "docs");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    store_docs_t d;

    /* An absent document (and one of a missing room): version 0, "", no ops. */
    ASSERT_EQ(load_doc(st, &loop, &c, 1, "main", &d), STORE_OK);
    ASSERT_EQ(d.doc.version, 0);
    ASSERT_STREQ(d.doc.snapshot, "");
    ASSERT_EQ(d.doc.updated_at, 0);
    ASSERT_EQ(d.nops, 0);
    ASSERT_TRUE(d.ops == NULL);
    store_docs_free(&d);
    ASSERT_EQ(load_doc(st, &loop, &c, 99, "main", &d), STORE_OK);
    ASSERT_EQ(d.doc.version, 0);
    ASSERT_STREQ(d.doc.snapshot, "");
    store_docs_free(&d);

    /* Ops without a snapshot yet: all of them after version 0. */
    for (int v = 1; v <= 3; v++)
        ASSERT_EQ(insert_op(st, &loop, &c, 1, "main", v, 0), STORE_OK);
    ASSERT_EQ(load_doc(st, &loop, &c, 1, "main", &d), STORE_OK);
    ASSERT_EQ(d.doc.version, 0);
    ASSERT_STREQ(d.doc.snapshot, "");
    ASSERT_EQ(d.nops, 3);
    for (size_t i = 0; i < d.nops; i++)
        ASSERT_TRUE(op_matches(&d.ops[i], 1, "main", (int64_t)i + 1));
    store_docs_free(&d);

    /* Snapshots at 50 and 100: the load has the one at 100 and ops 101..N. */
    for (int v = 4; v <= N; v++)
        ASSERT_EQ(insert_op(st, &loop, &c, 1, "main", v, v == 50 || v == SNAP), STORE_OK);
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "other", 1, 1), STORE_OK); /* another document */
    ASSERT_EQ(load_doc(st, &loop, &c, 1, "main", &d), STORE_OK);
    ASSERT_EQ(d.doc.version, SNAP);
    ASSERT_STREQ(d.doc.snapshot, "main at 100 ✓");
    ASSERT_EQ(d.doc.updated_at, 1700000200000 + SNAP);
    ASSERT_STREQ(d.doc.room_id, "10000000-0000-4000-8000-000000000001"); /* inputs kept */
    ASSERT_STREQ(d.doc.doc_id, "main");
    ASSERT_EQ(d.nops, N - SNAP);
    for (size_t i = 0; i < d.nops; i++)
        ASSERT_TRUE(op_matches(&d.ops[i], 1, "main", SNAP + 1 + (int64_t)i));
    /* Loading again into the same payload replaces the outputs (ASan: no leak). */
    ASSERT_EQ(run_docs(st, &loop, &c, STORE_DOC_LOAD, &d), STORE_OK);
    ASSERT_EQ(d.nops, N - SNAP);
    ASSERT_EQ(d.doc.version, SNAP);
    store_docs_free(&d);

    /* A snapshot older than the stored one (an op written out of order) is not kept. */
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "gap", 10, 1), STORE_OK);
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "gap", 5, 1), STORE_OK);
    ASSERT_EQ(load_doc(st, &loop, &c, 1, "gap", &d), STORE_OK);
    ASSERT_EQ(d.doc.version, 10);
    ASSERT_STREQ(d.doc.snapshot, "gap at 10 ✓");
    ASSERT_EQ(d.nops, 0);
    store_docs_free(&d);
    ASSERT_EQ(close_store(st, &loop), 0);

    /* Durable, and the same after a reopen. */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    ASSERT_EQ(load_doc(st, &loop, &c, 1, "main", &d), STORE_OK);
    ASSERT_EQ(d.doc.version, SNAP);
    ASSERT_EQ(d.nops, N - SNAP);
    ASSERT_TRUE(d.nops && op_matches(&d.ops[d.nops - 1], 1, "main", N));
    store_docs_free(&d);
    ASSERT_EQ(load_doc(st, &loop, &c, 1, "other", &d), STORE_OK);
    ASSERT_EQ(d.doc.version, 1);
    ASSERT_STREQ(d.doc.snapshot, "other at 1 ✓");
    ASSERT_EQ(d.nops, 0);
    store_docs_free(&d);
    ASSERT_EQ(c.wrong_thread, 0);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    /* The old ops stay (history); "" op ids are NULL. */
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM doc_ops WHERE doc_id = 'main'"), N);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM doc_ops WHERE doc_id = 'main'"
                           " AND op_id IS NULL"),
              N / 4);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM doc_ops WHERE op_id = ''"), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM documents"), 3);
    test_rm_db(path);
}

static void test_doc_op_errors(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "docerr");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_backend_t be = counted_backend();
    char err[256] = "";
    store_t *st = store_open(&be, path, &loop, &test_log, err, sizeof(err));
    ASSERT_TRUE(st != NULL);
    ASSERT_EQ(uv_sem_init(&counted_entered, 0), 0);
    ASSERT_EQ(uv_sem_init(&counted_release, 0), 0);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "main", 1, 1), STORE_OK);
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "main", 2, 0), STORE_OK);

    /* A taken version, with and without a snapshot: EEXISTS, nothing changed. */
    store_docs_t d;
    memset(&d, 0, sizeof(d));
    fill_op(&d.op, 1, "main", 2);
    free(d.op.delta);
    d.op.delta = strdup("[\"replaced\"]");
    ASSERT_EQ(run_docs(st, &loop, &c, STORE_DOC_OP_INSERT, &d), STORE_EEXISTS);
    d.doc.snapshot = strdup("must not be stored");
    ASSERT_EQ(run_docs(st, &loop, &c, STORE_DOC_OP_INSERT, &d), STORE_EEXISTS);
    store_docs_free(&d);
    ASSERT_TRUE(d.doc.snapshot == NULL && d.op.delta == NULL);

    /* A missing room between two good ops, all three in one transaction: ENOTFOUND for
     * it alone, and its batch-mates commit. */
    enum { B = 3 };
    msg_req_t gate;
    memset(&gate, 0, sizeof(gate));
    treq_init(&gate.t, &c, STORE_MESSAGES_PAGE);
    gate.t.req.rooms = &gate.r;
    struct {
        treq_t t;
        store_docs_t d;
    } b[B];
    const int rooms[B] = {1, 99, 1};
    const int64_t versions[B] = {3, 1, 4};
    counted_begins = 0;
    counted_gate = 1;
    store_submit(st, &gate.t.req);
    uv_sem_wait(&counted_entered);
    for (int i = 0; i < B; i++) {
        treq_init(&b[i].t, &c, STORE_DOC_OP_INSERT);
        memset(&b[i].d, 0, sizeof(b[i].d));
        fill_op(&b[i].d.op, rooms[i], "main", versions[i]);
        b[i].d.doc.snapshot = strdup(i == 1 ? "lost" : "kept");
        b[i].t.req.docs = &b[i].d;
        store_submit(st, &b[i].t.req);
    }
    uv_sem_post(&counted_release);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(counted_begins, 2); /* the gate's, then one for the three */
    ASSERT_EQ(b[0].t.req.err, STORE_OK);
    ASSERT_EQ(b[1].t.req.err, STORE_ENOTFOUND);
    ASSERT_EQ(b[2].t.req.err, STORE_OK);
    for (int i = 0; i < B; i++)
        store_docs_free(&b[i].d);
    store_rooms_free(&gate.r);
    ASSERT_EQ(c.out_of_order, 0);

    ASSERT_EQ(load_doc(st, &loop, &c, 1, "main", &d), STORE_OK);
    ASSERT_EQ(d.doc.version, 4);
    ASSERT_STREQ(d.doc.snapshot, "kept");
    ASSERT_EQ(d.nops, 0);
    store_docs_free(&d);
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "main", 0, 10), 4);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM doc_ops"), 4);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM doc_ops WHERE delta LIKE '%replaced%'"), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM documents"), 1);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM documents WHERE snapshot IN"
                           " ('lost', 'must not be stored')"),
              0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM doc_ops WHERE room_id ="
                           " '10000000-0000-4000-8000-000000000099'"),
              0);
    uv_sem_destroy(&counted_entered);
    uv_sem_destroy(&counted_release);
    test_rm_db(path);
}

static void test_doc_ops_range(void)
{
    enum { N = 30 };
    char path[512];
    tmp_db(path, sizeof(path), "docrange");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    ASSERT_EQ(create_room(st, &loop, &c, 2), STORE_OK);
    for (int v = 1; v <= N; v++) {
        ASSERT_EQ(insert_op(st, &loop, &c, 1, "a", v, v == 10), STORE_OK);
        ASSERT_EQ(insert_op(st, &loop, &c, 1, "b", v, 0), STORE_OK);
    }
    ASSERT_EQ(insert_op(st, &loop, &c, 2, "a", 1, 0), STORE_OK);
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "a", 0, 10), 10);
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "a", 0, 100), N); /* the snapshot does not matter */
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "a", 25, 100), 5);
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "a", 25, 2), 2);
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "a", N - 1, 10), 1);
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "a", N, 10), 0);
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "a", 1000, 10), 0);
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "a", 5, 0), 0); /* limit 0: nothing */
    /* A negative from is "from the first". */
    store_docs_t d;
    memset(&d, 0, sizeof(d));
    fill_op(&d.op, 1, "a", 1);
    memcpy(d.doc.room_id, d.op.room_id, sizeof(d.doc.room_id));
    strcpy(d.doc.doc_id, "a");
    d.from = -5;
    d.limit = 3;
    ASSERT_EQ(run_docs(st, &loop, &c, STORE_DOC_OPS_RANGE, &d), STORE_OK);
    ASSERT_EQ(d.nops, 3);
    ASSERT_TRUE(op_matches(&d.ops[0], 1, "a", 1) && op_matches(&d.ops[2], 1, "a", 3));
    /* Asking again into the same payload replaces the ops (ASan: no leak). */
    d.from = 28;
    ASSERT_EQ(run_docs(st, &loop, &c, STORE_DOC_OPS_RANGE, &d), STORE_OK);
    ASSERT_EQ(d.nops, 2);
    ASSERT_TRUE(op_matches(&d.ops[0], 1, "a", 29));
    store_docs_free(&d);
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "b", 20, 4000000000u), 10);
    ASSERT_EQ(ops_range(st, &loop, &c, 2, "a", 0, 10), 1);
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "none", 0, 10), 0);
    ASSERT_EQ(ops_range(st, &loop, &c, 99, "a", 0, 10), 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    test_rm_db(path);
}

static void test_doc_room_delete_cascades(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "doccascade");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    for (int room = 1; room <= 2; room++) {
        ASSERT_EQ(create_room(st, &loop, &c, room), STORE_OK);
        for (int v = 1; v <= 5; v++) {
            ASSERT_EQ(insert_op(st, &loop, &c, room, "a", v, v == 3), STORE_OK);
            ASSERT_EQ(insert_op(st, &loop, &c, room, "b", v, v == 5), STORE_OK);
        }
    }
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, 1);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_DELETE, &r), STORE_OK);
    store_rooms_free(&r);
    store_docs_t d;
    ASSERT_EQ(load_doc(st, &loop, &c, 1, "a", &d), STORE_OK);
    ASSERT_EQ(d.doc.version, 0);
    ASSERT_EQ(d.nops, 0);
    store_docs_free(&d);
    ASSERT_EQ(load_doc(st, &loop, &c, 2, "a", &d), STORE_OK);
    ASSERT_EQ(d.doc.version, 3);
    ASSERT_EQ(d.nops, 2);
    store_docs_free(&d);
    /* A recreated room starts without documents, and takes version 1 again. */
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "a", 0, 10), 0);
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "a", 1, 0), STORE_OK);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM documents"), 2);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM documents WHERE room_id ="
                           " '10000000-0000-4000-8000-000000000001'"),
              0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM doc_ops"), 11);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM doc_ops WHERE room_id ="
                           " '10000000-0000-4000-8000-000000000001'"),
              1);
    test_rm_db(path);
}

typedef struct {
    treq_t t;
    store_docs_t d;
} doc_req_t;

/* Submits ops first..first+n-1 of document "main" in room 1 at once (the gate as in
 * insert_burst) and runs the loop until all answered. Returns how many succeeded; *ns
 * is the time from the first submit to the last callback. */
static int op_burst(store_t *st, uv_loop_t *loop, tctx_t *c, doc_req_t *o, int n, int64_t first,
                    int gated, uint64_t *ns)
{
    treq_t gate;
    store_rooms_t gate_rooms;
    if (gated) {
        memset(&gate_rooms, 0, sizeof(gate_rooms));
        treq_init(&gate, c, STORE_MESSAGES_PAGE);
        gate.req.rooms = &gate_rooms;
        counted_gate = 1;
        store_submit(st, &gate.req);
        uv_sem_wait(&counted_entered);
    }
    uint64_t t0 = uv_hrtime();
    for (int i = 0; i < n; i++) {
        treq_init(&o[i].t, c, STORE_DOC_OP_INSERT);
        memset(&o[i].d, 0, sizeof(o[i].d));
        fill_op(&o[i].d.op, 1, "main", first + i);
        o[i].t.req.docs = &o[i].d;
        store_submit(st, &o[i].t.req);
    }
    if (gated) uv_sem_post(&counted_release);
    uv_run(loop, UV_RUN_DEFAULT);
    *ns = uv_hrtime() - t0;
    if (gated) store_rooms_free(&gate_rooms);
    int ok = 0;
    for (int i = 0; i < n; i++) {
        ok += o[i].t.done && o[i].t.req.err == STORE_OK;
        store_docs_free(&o[i].d);
    }
    return ok;
}

static void test_doc_op_burst_in_order(void)
{
    enum { N = 5000 };
    char path[512];
    tmp_db(path, sizeof(path), "docburst");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_backend_t be = counted_backend();
    char err[256] = "";
    store_t *st = store_open(&be, path, &loop, &test_log, err, sizeof(err));
    ASSERT_TRUE(st != NULL);
    ASSERT_EQ(uv_sem_init(&counted_entered, 0), 0);
    ASSERT_EQ(uv_sem_init(&counted_release, 0), 0);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    counted_begins = 0;
    doc_req_t *o = calloc(N, sizeof(*o));
    uint64_t ns;
    ASSERT_EQ(op_burst(st, &loop, &c, o, N, 1, 1, &ns), N);
    free(o);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(c.wrong_thread, 0);
    ASSERT_EQ(counted_begins, 1 + (N + 255) / 256); /* the gate's, then batches of 256 */
    store_docs_t d;
    ASSERT_EQ(load_doc(st, &loop, &c, 1, "main", &d), STORE_OK);
    ASSERT_EQ(d.doc.version, 0);
    ASSERT_EQ(d.nops, N);
    for (size_t i = 0; i < d.nops; i++)
        ASSERT_TRUE(op_matches(&d.ops[i], 1, "main", (int64_t)i + 1));
    store_docs_free(&d);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM doc_ops"), N);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM doc_ops WHERE created_at ="
                           " 1700000200000 + version"),
              N);
    uv_sem_destroy(&counted_entered);
    uv_sem_destroy(&counted_release);
    test_rm_db(path);
}

/* Prints how long 10,000 DOC_OP_INSERTs take end to end (not a test of speed), then
 * checks DOC_OPS_RANGE's cap of 10,000 on them. */
static void test_doc_op_insert_timing_and_range_cap(void)
{
    enum { N = 10000 };
    char path[512];
    tmp_db(path, sizeof(path), "doctiming");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_backend_t be = counted_backend();
    char err[256] = "";
    store_t *st = store_open(&be, path, &loop, &test_log, err, sizeof(err));
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    counted_begins = 0;
    doc_req_t *o = calloc(N, sizeof(*o));
    uint64_t ns;
    ASSERT_EQ(op_burst(st, &loop, &c, o, N, 1, 0, &ns), N);
    fprintf(stderr,
            "bench: %d DOC_OP_INSERTs, submit all to last callback: %.1f ms "
            "(%.0f/s, %d transactions)\n",
            N, ns / 1e6, N / (ns / 1e9), counted_begins);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(op_burst(st, &loop, &c, o, 5, N + 1, 0, &ns), 5);
    free(o);
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "main", 0, 4000000000u), 10000);
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "main", 3, 10001), 10000);
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "main", 9000, 4000000000u), 1005);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM doc_ops"), N + 5);
    test_rm_db(path);
}

static void test_docs_free(void)
{
    store_docs_t d;
    memset(&d, 0, sizeof(d));
    d.doc.snapshot = strdup("snapshot");
    fill_op(&d.op, 1, "x", 1);
    d.nops = 3;
    d.ops = calloc(d.nops, sizeof(*d.ops));
    for (size_t i = 0; i < d.nops; i++)
        fill_op(&d.ops[i], 1, "x", (int64_t)i + 2);
    d.ops[1].delta = (free(d.ops[1].delta), NULL); /* a NULL delta is fine too */
    store_docs_free(&d);
    ASSERT_TRUE(d.doc.snapshot == NULL && d.op.delta == NULL && d.ops == NULL && d.nops == 0);
    ASSERT_STREQ(d.op.doc_id, "x"); /* fixed fields are left alone */
    store_docs_free(&d);
    store_docs_free(NULL);
}

/* ---- close ---- */

typedef struct {
    treq_t first;
    treq_t late; /* submitted from first's callback, during store_close */
    store_t *st;
    int late_done_at_submit;
} close_ctx_t;

static void on_first_submits_late(store_req_t *req)
{
    close_ctx_t *cc = (close_ctx_t *)((char *)req - offsetof(close_ctx_t, first.req));
    on_done(req);
    treq_init(&cc->late, cc->first.ctx, STORE_USER_BY_ID);
    strcpy(cc->late.req.key, "whatever");
    store_submit(cc->st, &cc->late.req);
    cc->late_done_at_submit = cc->late.done;
}

static void test_close_drains_then_eclosed(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "close");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    close_ctx_t cc;
    memset(&cc, 0, sizeof(cc));
    cc.st = st;
    treq_init(&cc.first, &c, STORE_USER_CREATE);
    cc.first.req.cb = on_first_submits_late;
    fill_user(&cc.first.req.user, 9);
    store_submit(st, &cc.first.req);
    /* Closed without running the loop: the queued request still runs and commits, and its
     * callback runs inside store_close; what it submits then is refused. */
    store_close(st);
    ASSERT_EQ(cc.first.done, 1);
    ASSERT_EQ(cc.first.req.err, STORE_OK);
    ASSERT_EQ(cc.late_done_at_submit, 0); /* never completed inside store_submit */
    ASSERT_EQ(cc.late.done, 1);
    ASSERT_EQ(cc.late.req.err, STORE_ECLOSED);
    ASSERT_EQ(c.wrong_thread, 0);
    ASSERT_EQ(c.out_of_order, 0);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(uv_loop_close(&loop), 0);

    /* Reopening keeps the data. */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    treq_t t;
    treq_init(&t, &c, STORE_USER_BY_EMAIL);
    strcpy(t.req.key, "user9@example.com");
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    ASSERT_STREQ(t.req.user.username, "user 9");
    ASSERT_EQ(close_store(st, &loop), 0);
    test_rm_db(path);
}

/* ---- the store core with a scripted backend ---- */

/* The fake backend's state, touched by the worker during a run and by the test only after
 * the callbacks ran (the store's mutex orders the two). */
typedef struct {
    uv_sem_t entered; /* posted when a request with key "gate" starts */
    uv_sem_t gate;    /* which it then waits for */
    int begins, commits, rollbacks, closes;
    int in_batch, max_batch;
    int fail_commit; /* the next commit fails */
} fake_t;

static fake_t fake;

static void *fake_open(const char *target, log_t *log, char *err, size_t errlen)
{
    (void)log;
    if (strcmp(target, "fail") == 0) {
        snprintf(err, errlen, "fake: refused");
        return NULL;
    }
    return &fake;
}

static int fake_begin(void *conn)
{
    fake_t *f = conn;
    f->begins++;
    f->in_batch = 0;
    return 0;
}

static int fake_commit(void *conn)
{
    fake_t *f = conn;
    if (f->in_batch > f->max_batch) f->max_batch = f->in_batch;
    if (f->fail_commit) {
        f->fail_commit = 0;
        return STORE_EIO;
    }
    f->commits++;
    return 0;
}

static void fake_rollback(void *conn)
{
    ((fake_t *)conn)->rollbacks++;
}

static void fake_exec(void *conn, store_req_t *req)
{
    fake_t *f = conn;
    f->in_batch++;
    req->err = STORE_OK;
    if (strcmp(req->key, "gate") == 0) {
        uv_sem_post(&f->entered);
        uv_sem_wait(&f->gate);
    } else if (strcmp(req->key, "eio") == 0)
        req->err = STORE_EIO;
    else if (strcmp(req->key, "notfound") == 0)
        req->err = STORE_ENOTFOUND;
    else if (strcmp(req->key, "failcommit") == 0)
        f->fail_commit = 1;
}

static void fake_close(void *conn)
{
    ((fake_t *)conn)->closes++;
}

static const store_backend_t fake_backend = {
    .name = "fake",
    .open = fake_open,
    .begin = fake_begin,
    .commit = fake_commit,
    .rollback = fake_rollback,
    .exec = fake_exec,
    .close = fake_close,
};

/* Submits a gate request and, once the worker is inside it, n more; then opens the gate:
 * the n requests are then all queued when the worker next looks. */
static void submit_gated(store_t *st, treq_t *gate, treq_t *t, int n)
{
    strcpy(gate->req.key, "gate");
    store_submit(st, &gate->req);
    uv_sem_wait(&fake.entered);
    for (int i = 0; i < n; i++)
        store_submit(st, &t[i].req);
    uv_sem_post(&fake.gate);
}

static void test_eio_fails_whole_batch(void)
{
    memset(&fake, 0, sizeof(fake));
    ASSERT_EQ(uv_sem_init(&fake.gate, 0), 0);
    ASSERT_EQ(uv_sem_init(&fake.entered, 0), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[128];
    store_t *st = store_open(&fake_backend, "x", &loop, &test_log, err, sizeof(err));
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    treq_t gate, t[4];
    treq_init(&gate, &c, STORE_USER_BY_ID);
    for (int i = 0; i < 4; i++)
        treq_init(&t[i], &c, STORE_USER_BY_ID);
    strcpy(t[0].req.key, "ok");
    strcpy(t[1].req.key, "notfound");
    strcpy(t[2].req.key, "eio");
    strcpy(t[3].req.key, "ok"); /* never runs: the batch is already lost */
    log_level_t saved = test_log.level;
    test_log.level = LOG_ERROR + 1; /* the rollback is logged as an error; expected */
    submit_gated(st, &gate, t, 4);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(gate.req.err, STORE_OK);
    for (int i = 0; i < 4; i++)
        ASSERT_EQ(t[i].req.err, STORE_EIO);
    ASSERT_EQ(fake.rollbacks, 1);
    ASSERT_EQ(fake.commits, 1); /* the gate's batch */

    /* A failed commit fails its batch the same way; the store keeps working after. */
    treq_t u[2];
    treq_init(&gate, &c, STORE_USER_BY_ID);
    treq_init(&u[0], &c, STORE_USER_BY_ID);
    treq_init(&u[1], &c, STORE_USER_BY_ID);
    strcpy(u[0].req.key, "failcommit");
    strcpy(u[1].req.key, "notfound");
    submit_gated(st, &gate, u, 2);
    uv_run(&loop, UV_RUN_DEFAULT);
    test_log.level = saved;
    ASSERT_EQ(u[0].req.err, STORE_EIO);
    ASSERT_EQ(u[1].req.err, STORE_EIO);
    ASSERT_EQ(fake.rollbacks, 2);

    treq_init(&t[0], &c, STORE_USER_BY_ID);
    strcpy(t[0].req.key, "notfound");
    ASSERT_EQ(run_one(st, &loop, &t[0]), STORE_ENOTFOUND);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(c.wrong_thread, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(fake.closes, 1);
    uv_sem_destroy(&fake.gate);
    uv_sem_destroy(&fake.entered);
}

static void test_batch_limit(void)
{
    enum { N = 600 };
    memset(&fake, 0, sizeof(fake));
    ASSERT_EQ(uv_sem_init(&fake.gate, 0), 0);
    ASSERT_EQ(uv_sem_init(&fake.entered, 0), 0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[128];
    store_t *st = store_open(&fake_backend, "x", &loop, &test_log, err, sizeof(err));
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    treq_t gate, *t = calloc(N, sizeof(*t));
    treq_init(&gate, &c, STORE_USER_BY_ID);
    for (int i = 0; i < N; i++)
        treq_init(&t[i], &c, STORE_AUDIT);
    submit_gated(st, &gate, t, N);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(c.calls, N + 1);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(fake.max_batch, 256);
    ASSERT_EQ(fake.commits, 1 + 3); /* gate, 256, 256, 88 */
    ASSERT_EQ(close_store(st, &loop), 0);
    free(t);
    uv_sem_destroy(&fake.gate);
    uv_sem_destroy(&fake.entered);
}

static void test_backend_open_failure(void)
{
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[128] = "";
    store_t *st = store_open(&fake_backend, "fail", &loop, &test_log, err, sizeof(err));
    ASSERT_TRUE(st == NULL);
    ASSERT_STREQ(err, "fake: refused");
    ASSERT_EQ(uv_loop_close(&loop), 0);
}

/* Entities: put (insert, replace), delete, load with the rooms, the room's state version
 * raised with each change, and the cascade of a room delete. */
static void fill_entity(store_entity_t *e, int room, const char *id, int64_t version, int64_t rv)
{
    memset(e, 0, sizeof(*e));
    snprintf(e->room_id, sizeof(e->room_id), "10000000-0000-4000-8000-%012d", room);
    snprintf(e->id, sizeof(e->id), "%s", id);
    snprintf(e->kind, sizeof(e->kind), "entry");
    snprintf(e->owner, sizeof(e->owner), "owner-%d", room);
    char data[64];
    snprintf(data, sizeof(data), "{\"v\":%lld,\"s\":\"\u2713\"}", (long long)version);
    e->data = strdup(data);
    e->version = version;
    e->state_version = e->room_version = rv;
    e->created_at = 1000;
    e->updated_at = 1000 + rv;
    e->owner_only = room == 1;
}

static int ent_req(store_t *st, uv_loop_t *loop, tctx_t *c, store_req_type_t type, int room,
                   const char *id, int64_t version, int64_t rv)
{
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_entity(&r.ent, room, id, version, rv);
    int err = run_rooms(st, loop, c, type, &r);
    store_rooms_free(&r);
    return err;
}

static void test_entities(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "entities");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    ASSERT_EQ(create_room(st, &loop, &c, 2), STORE_OK);
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 1, "a", 1, 5), STORE_OK);
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 1, "b", 1, 6), STORE_OK);
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 1, "a", 2, 7), STORE_OK); /* replaces */
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 2, "a", 1, 3), STORE_OK);
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_DELETE, 1, "b", 0, 8), STORE_OK);
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_DELETE, 1, "nope", 0, 9), STORE_OK);
    /* A put for a room that does not exist is ENOTFOUND (the foreign key). */
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 9, "a", 1, 1), STORE_ENOTFOUND);
    /* An older room version never lowers the stored one. */
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 2, "a", 2, 2), STORE_OK);
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOMS_LOAD, &r), STORE_OK);
    ASSERT_EQ(r.nents, 2);
    ASSERT_EQ(r.nrooms, 2);
    int seen = 0;
    for (size_t i = 0; i < r.nents; i++) {
        store_entity_t *e = &r.ents[i];
        ASSERT_STREQ(e->id, "a");
        ASSERT_STREQ(e->kind, "entry");
        if (strcmp(e->room_id, "10000000-0000-4000-8000-000000000001") == 0) {
            ASSERT_EQ(e->version, 2);
            ASSERT_EQ(e->state_version, 7);
            ASSERT_STREQ(e->data, "{\"v\":2,\"s\":\"\u2713\"}");
            ASSERT_STREQ(e->owner, "owner-1");
            ASSERT_EQ(e->created_at, 1000);
            ASSERT_EQ(e->updated_at, 1007);
            ASSERT_EQ(e->owner_only, 1);
            seen |= 1;
        } else {
            ASSERT_EQ(e->version, 2);
            ASSERT_EQ(e->state_version, 2);
            ASSERT_EQ(e->owner_only, 0);
            seen |= 2;
        }
    }
    ASSERT_EQ(seen, 3);
    for (size_t i = 0; i < r.nrooms; i++) {
        int64_t want = strcmp(r.rooms[i].id, "10000000-0000-4000-8000-000000000001") == 0 ? 9 : 3;
        ASSERT_EQ(r.rooms[i].state_version, want);
    }
    store_rooms_free(&r);
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, 1);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_DELETE, &r), STORE_OK);
    store_rooms_free(&r);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM entities"), 1);
    test_rm_db(path);
}

/* ---- quotas and retention ---- */

/* Bytes of message seq of room as fill_msg builds it, as the store counts it. */
static int64_t msg_bytes(int room, int64_t seq)
{
    store_message_t m;
    fill_msg(&m, room, seq);
    int64_t n = STORE_ROW_BYTES + (int64_t)strlen(m.content) +
                (m.metadata ? (int64_t)strlen(m.metadata) : 0);
    free(m.content);
    free(m.metadata);
    return n;
}

static int64_t op_bytes(int room, const char *doc, int64_t version)
{
    store_doc_op_t op;
    fill_op(&op, room, doc, version);
    int64_t n = STORE_ROW_BYTES + (int64_t)strlen(op.delta);
    free(op.delta);
    return n;
}

/* The bytes of (room, user) in usage rows; user NULL: the room's total. */
static int64_t usage_of(const store_rooms_t *r, int room, const char *user)
{
    char id[STORE_ID_LEN];
    snprintf(id, sizeof(id), "10000000-0000-4000-8000-%012d", room);
    int64_t n = 0;
    for (size_t i = 0; i < r->nusage; i++)
        if (strcmp(r->usage[i].room_id, id) == 0 && (!user || strcmp(r->usage[i].user_id, user) == 0))
            n += r->usage[i].bytes;
    return n;
}

/* Runs sweeps of rules ret (batch rows each) until one says done, summing what they
 * freed per room into freed[room]; returns the number of requests or -1. */
static int sweep_all(store_t *st, uv_loop_t *loop, tctx_t *c, store_retention_t ret,
                     int64_t freed[3])
{
    int calls = 0;
    ret.cursor[0] = '\0';
    do {
        store_rooms_t r;
        memset(&r, 0, sizeof(r));
        r.ret = ret;
        if (run_rooms(st, loop, c, STORE_RETENTION_SWEEP, &r) != STORE_OK) return -1;
        for (int room = 1; room <= 2; room++)
            freed[room] += usage_of(&r, room, NULL);
        ret = r.ret;
        store_rooms_free(&r);
        if (++calls > 100) return -1;
    } while (ret.more);
    return calls;
}

/* Usage at load (per room and author), retention by count, by age and of op logs in
 * batches with the bytes freed reported, and a room delete's usage. */
static void test_usage_and_retention(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "usage");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    ASSERT_EQ(create_room(st, &loop, &c, 2), STORE_OK);
    int64_t want1 = 15, want2 = 15; /* the state {"mode":"chat"}, the host's */
    for (int64_t seq = 1; seq <= 10; seq++) {
        ASSERT_EQ(insert_msg(st, &loop, &c, 1, seq), STORE_OK);
        want1 += msg_bytes(1, seq);
    }
    for (int64_t seq = 1; seq <= 3; seq++) {
        ASSERT_EQ(insert_msg(st, &loop, &c, 2, seq), STORE_OK);
        want2 += msg_bytes(2, seq);
    }
    char snap[160];
    snapshot_text(snap, sizeof(snap), "d", 6);
    for (int64_t v = 1; v <= 10; v++) {
        ASSERT_EQ(insert_op(st, &loop, &c, 1, "d", v, v == 6), STORE_OK);
        want1 += op_bytes(1, "d", v);
    }
    want1 += (int64_t)strlen(snap);
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 1, "a", 1, 5), STORE_OK);
    want1 += STORE_ROW_BYTES + (int64_t)strlen("{\"v\":1,\"s\":\"\u2713\"}");

    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOMS_LOAD, &r), STORE_OK);
    ASSERT_EQ(usage_of(&r, 1, NULL), want1);
    ASSERT_EQ(usage_of(&r, 2, NULL), want2);
    /* Per author: the host has the state; the server's messages ("") and the snapshot
     * count for nobody; the entity for its owner. */
    ASSERT_EQ(usage_of(&r, 1, "00000000-0000-4000-8000-000000000001"),
              15 + op_bytes(1, "d", 1) + op_bytes(1, "d", 4) + op_bytes(1, "d", 7) +
                  op_bytes(1, "d", 10));
    ASSERT_EQ(usage_of(&r, 1, ""), msg_bytes(1, 5) + msg_bytes(1, 10) + (int64_t)strlen(snap));
    ASSERT_EQ(usage_of(&r, 1, "owner-1"), STORE_ROW_BYTES + (int64_t)strlen("{\"v\":1,\"s\":\"\u2713\"}"));
    ASSERT_EQ(usage_of(&r, 1, "user-1"), msg_bytes(1, 1) + msg_bytes(1, 4) + msg_bytes(1, 7));
    store_rooms_free(&r);

    /* Count 4 and ops 2 before the snapshot, 3 rows per request: room 1 loses messages
     * 1-6 and ops 1-4, room 2 nothing (3 messages). */
    store_retention_t ret = {.msg_keep = 4, .doc_keep = 2, .batch = 3};
    int64_t freed[3] = {0, 0, 0};
    int calls = sweep_all(st, &loop, &c, ret, freed);
    ASSERT_TRUE(calls >= 4); /* 10 rows, 3 per request */
    int64_t gone1 = 0;
    for (int64_t seq = 1; seq <= 6; seq++)
        gone1 += msg_bytes(1, seq);
    for (int64_t v = 1; v <= 4; v++)
        gone1 += op_bytes(1, "d", v);
    ASSERT_EQ(freed[1], gone1);
    ASSERT_EQ(freed[2], 0);
    /* Again: nothing is left to delete. */
    freed[1] = freed[2] = 0;
    ASSERT_EQ(sweep_all(st, &loop, &c, ret, freed), 1);
    ASSERT_EQ(freed[1] + freed[2], 0);

    /* By age: before seq 9's time, but the newest message of a room always stays. */
    store_retention_t age = {.msg_before = 1700000100000 + 9, .batch = 1000};
    ASSERT_EQ(sweep_all(st, &loop, &c, age, freed), 1);
    ASSERT_EQ(freed[1], msg_bytes(1, 7) + msg_bytes(1, 8));
    ASSERT_EQ(freed[2], msg_bytes(2, 1) + msg_bytes(2, 2));

    /* A room delete reports what went with it: what is left of room 1. */
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, 1);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_DELETE, &r), STORE_OK);
    ASSERT_EQ(usage_of(&r, 1, NULL), want1 - gone1 - freed[1]);
    ASSERT_EQ(usage_of(&r, 2, NULL), 0);
    store_rooms_free(&r);
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM room_messages"), 1);
    ASSERT_EQ(db_int(path, "SELECT min(seq) FROM room_messages"), 3);
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM doc_ops"), 0);
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
    RUN(test_user_crud);
    RUN(test_soft_errors_do_not_poison_batch);
    RUN(test_many_in_order_and_durable);
    RUN(test_audit);
    RUN(test_audit_count_and_prune);
    RUN(test_revocations);
    RUN(test_long_value_truncated);
    RUN(test_migrate_from_v2);
    RUN(test_room_crud);
    RUN(test_messages_and_pages);
    RUN(test_room_delete_cascades);
    RUN(test_rooms_load_after_reopen);
    RUN(test_message_burst_in_order);
    RUN(test_message_insert_timing);
    RUN(test_migrate_from_v3);
    RUN(test_doc_load_and_snapshot);
    RUN(test_doc_op_errors);
    RUN(test_doc_ops_range);
    RUN(test_doc_room_delete_cascades);
    RUN(test_entities);
    RUN(test_usage_and_retention);
    RUN(test_doc_op_burst_in_order);
    RUN(test_doc_op_insert_timing_and_range_cap);
    RUN(test_docs_free);
    RUN(test_close_drains_then_eclosed);
    RUN(test_eio_fails_whole_batch);
    RUN(test_batch_limit);
    RUN(test_backend_open_failure);
    TEST_MAIN_END();
}
