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

/* Removes the database and its WAL companions. */
static void rm_db(const char *path)
{
    char p[512];
    remove(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    remove(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    remove(p);
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
    rm_db(path);
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
    rm_db(path);
}

static void test_newer_refused(void)
{
    char path[512];
    tmp_db(path, sizeof(path), "newer");
    ASSERT_EQ(db_exec(path, "CREATE TABLE schema_version(version INTEGER NOT NULL);"
                            "INSERT INTO schema_version VALUES(7);"),
              0);
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[256] = "";
    store_t *st = store_open(&store_sqlite_backend, path, &loop, &test_log, err, sizeof(err));
    ASSERT_TRUE(st == NULL);
    char want[128];
    snprintf(want, sizeof(want),
             "database schema version 7 is newer than this chorus supports (%d); upgrade chorus",
             STORE_SQLITE_SCHEMA_VERSION);
    ASSERT_TRUE(strstr(err, want) != NULL);
    ASSERT_EQ(uv_loop_close(&loop), 0); /* a failed open leaves no handle behind */
    ASSERT_EQ(db_int(path, "SELECT version FROM schema_version"), 7); /* untouched */
    ASSERT_EQ(db_int(path, "SELECT count(*) FROM sqlite_master WHERE name = 'users'"), 0);
    rm_db(path);
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
    rm_db(path);
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
    rm_db(path);
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
    rm_db(path);
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
    rm_db(path);
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
    ASSERT_EQ(db_exec(path, "INSERT INTO users VALUES('u-long', 'l@example.com',"
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
    rm_db(path);
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
    rm_db(path);
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

int main(void)
{
    log_init(&test_log, LOG_WARN, LOG_TEXT, stderr);
    RUN(test_migrate_empty);
    RUN(test_migrate_from_v1);
    RUN(test_newer_refused);
    RUN(test_open_fails_cleanly);
    RUN(test_user_crud);
    RUN(test_soft_errors_do_not_poison_batch);
    RUN(test_many_in_order_and_durable);
    RUN(test_audit);
    RUN(test_long_value_truncated);
    RUN(test_close_drains_then_eclosed);
    RUN(test_eio_fails_whole_batch);
    RUN(test_batch_limit);
    RUN(test_backend_open_failure);
    TEST_MAIN_END();
}
