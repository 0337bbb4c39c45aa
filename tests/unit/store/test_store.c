/* test_store.c: the store's conformance suite: what every backend must do (store.h's
 * contract), through the store interface only (store_open, store_submit, callbacks), run
 * against each backend of store_cases; then the store core (worker, group commit, close)
 * with a scripted backend. What only SQLite has is in test_store_sqlite.c. */
#include "test_store.h"

#include <stdatomic.h>

#include "util/mem.h"
#include "store/store_sqlite.h"
#include "test_store_pg.h"

/* ---- the backends under test ---- */

/* One row per backend. make_target writes the target of a fresh, empty store named after
 * the test into out and returns 0, or -1 when the backend cannot run here (its tests are
 * then skipped, e.g. no database server); drop_target removes what it made. The pg row
 * runs when CHORUS_TEST_PG names a server (ctest's pg fixture: scripts/pg-test.sh), each
 * test in a fresh schema (test_store_pg.h); every test below runs unchanged on both. */
typedef struct {
    const char *name;
    const store_backend_t *backend;
    int (*make_target)(char *out, size_t cap, const char *name);
    void (*drop_target)(const char *target);
} store_case_t;

static int sqlite_target(char *out, size_t cap, const char *name)
{
    tmp_db(out, cap, name);
    return 0;
}

static const store_case_t store_cases[] = {
    {"sqlite", &store_sqlite_backend, sqlite_target, test_rm_db},
    {"pg", &store_pg_backend, pg_target, pg_drop_target},
};

static const store_case_t *cur; /* the row the conformance tests run against */

static void new_target(char *out, size_t cap, const char *name)
{
    if (cur->make_target(out, cap, name) != 0) out[0] = '\0';
}

static void drop_target(const char *target)
{
    cur->drop_target(target);
}

static store_t *open_store(const char *target, uv_loop_t *loop)
{
    return open_backend(cur->backend, target, loop);
}

/* Loads every room into r (the caller frees it). */
static int load_rooms(store_t *st, uv_loop_t *loop, tctx_t *c, store_rooms_t *r)
{
    memset(r, 0, sizeof(*r));
    return run_rooms(st, loop, c, STORE_ROOMS_LOAD, r);
}

/* Room i in loaded rooms, or NULL. */
static const store_room_t *room_of(const store_rooms_t *r, int i)
{
    char id[STORE_ID_LEN];
    snprintf(id, sizeof(id), "10000000-0000-4000-8000-%012d", i);
    for (size_t k = 0; k < r->nrooms; k++)
        if (strcmp(r->rooms[k].id, id) == 0) return &r->rooms[k];
    return NULL;
}

/* Participants in loaded rooms: of room i (0: any) and user u (negative: any). */
static long parts_of(const store_rooms_t *r, int i, int u)
{
    char id[STORE_ID_LEN], uid[STORE_SUB_LEN];
    snprintf(id, sizeof(id), "10000000-0000-4000-8000-%012d", i);
    snprintf(uid, sizeof(uid), "00000000-0000-4000-8000-%012d", u);
    long n = 0;
    for (size_t k = 0; k < r->nparts; k++)
        n += (i == 0 || strcmp(r->parts[k].room_id, id) == 0) &&
             (u < 0 || strcmp(r->parts[k].user_id, uid) == 0);
    return n;
}

/* A room's last_activity as stored, or -1 when it is not there. */
static int64_t activity_of(store_t *st, uv_loop_t *loop, tctx_t *c, int i)
{
    store_rooms_t r;
    int64_t at = -1;
    if (load_rooms(st, loop, c, &r) == STORE_OK && room_of(&r, i))
        at = room_of(&r, i)->last_activity;
    store_rooms_free(&r);
    return at;
}

/* Every message of room i, counted a page at a time, each checked to be what fill_msg
 * built (page() prints a mismatch). Returns the count, or -1. */
static long count_msgs(store_t *st, uv_loop_t *loop, tctx_t *c, int i)
{
    long total = 0;
    for (;;) {
        long n = page(st, loop, c, i, -1, total, STORE_PAGE_MAX, total + 1);
        if (n < 0) return -1;
        total += n;
        if (n < (long)STORE_PAGE_MAX) return total;
    }
}

/* Prunes the audit rows before at; returns how many went, or -1. */
static long prune_audit(store_t *st, uv_loop_t *loop, tctx_t *c, int64_t at)
{
    treq_t t;
    treq_init(&t, c, STORE_AUDIT_PRUNE);
    t.req.audit.at = at;
    return run_one(st, loop, &t) == STORE_OK ? (long)t.req.audit.count : -1;
}

/* Whether a user with this email is stored. */
static int email_exists(store_t *st, uv_loop_t *loop, tctx_t *c, const char *email)
{
    treq_t t;
    treq_init(&t, c, STORE_USER_BY_EMAIL);
    snprintf(t.req.key, sizeof(t.req.key), "%s", email);
    return run_one(st, loop, &t) == STORE_OK;
}

/* Whether a user with number i is stored (by id). */
static int user_exists(store_t *st, uv_loop_t *loop, tctx_t *c, int i)
{
    treq_t t;
    treq_init(&t, c, STORE_USER_BY_ID);
    snprintf(t.req.key, sizeof(t.req.key), "00000000-0000-4000-8000-%012d", i);
    return run_one(st, loop, &t) == STORE_OK;
}

/* ---- requests ---- */

static void test_user_crud(void)
{
    char path[512];
    new_target(path, sizeof(path), "crud");
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
    /* One account, durable; the refused ones left nothing. */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    ASSERT_TRUE(user_exists(st, &loop, &c, 1));
    ASSERT_TRUE(!user_exists(st, &loop, &c, 2));
    ASSERT_TRUE(!email_exists(st, &loop, &c, "user3@example.com"));
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

/* An EEXISTS or ENOTFOUND in a batch must not roll back its neighbours. */
static void test_soft_errors_do_not_poison_batch(void)
{
    char path[512];
    new_target(path, sizeof(path), "soft");
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
    /* Three accounts: 1, 3 and 4; the refused one left nothing. */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    for (int i = 1; i <= 4; i++)
        ASSERT_EQ(user_exists(st, &loop, &c, i), i != 2);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

static void test_many_in_order_and_durable(void)
{
    enum { N = 1000 }; /* several batches of at most 256 */
    char path[512];
    new_target(path, sizeof(path), "many");
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

    /* Every acknowledged write is durable: a reopened store reads each of the N. */
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
    drop_target(path);
}

static void test_audit(void)
{
    char path[512];
    new_target(path, sizeof(path), "audit");
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
    /* Three durable rows at their own times (test_store_sqlite.c checks their columns). */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    ASSERT_EQ(prune_audit(st, &loop, &c, 1000), 0);
    ASSERT_EQ(prune_audit(st, &loop, &c, 1002), 2);
    ASSERT_EQ(prune_audit(st, &loop, &c, INT64_MAX), 1);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

/* A row stands for count repeats; a prune deletes the rows before a time, oldest first. */
static void test_audit_count_and_prune(void)
{
    char path[512];
    new_target(path, sizeof(path), "audit_prune");
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
    /* Two rows left, the oldest at 3000 (the sum of counts: test_store_sqlite.c). */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    ASSERT_EQ(prune_audit(st, &loop, &c, 3000), 0);
    ASSERT_EQ(prune_audit(st, &loop, &c, 3001), 1);
    ASSERT_EQ(prune_audit(st, &loop, &c, INT64_MAX), 1);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

/* The latest audit rows come back newest first with every column, as many as asked
 * (capped at STORE_AUDIT_RECENT_MAX); an empty trail answers none. */
static void test_audit_recent(void)
{
    char path[512];
    new_target(path, sizeof(path), "audit_recent");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    treq_t t[7];
    treq_init(&t[0], &c, STORE_AUDIT_RECENT);
    t[0].req.audit.count = 10;
    store_submit(st, &t[0].req);
    for (int i = 1; i <= 4; i++) {
        treq_init(&t[i], &c, STORE_AUDIT);
        t[i].req.audit.at = 5000 - i; /* ids, not times, order them */
        snprintf(t[i].req.audit.event, sizeof(t[i].req.audit.event), "admin_%d", i);
        if (i == 4) {
            strcpy(t[i].req.audit.user_id, "admin-1");
            strcpy(t[i].req.audit.ip, "192.0.2.9");
            strcpy(t[i].req.audit.detail, "room r-1");
            t[i].req.audit.count = 3;
        }
        store_submit(st, &t[i].req);
    }
    treq_init(&t[5], &c, STORE_AUDIT_RECENT);
    t[5].req.audit.count = 3;
    store_submit(st, &t[5].req);
    treq_init(&t[6], &c, STORE_AUDIT_RECENT);
    t[6].req.audit.count = 1000000; /* capped, not refused */
    store_submit(st, &t[6].req);
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int i = 0; i < 7; i++)
        ASSERT_EQ(t[i].req.err, STORE_OK);
    ASSERT_EQ(t[0].req.naudits, 0);
    free(t[0].req.audits);
    ASSERT_EQ(t[5].req.naudits, 3);
    const store_audit_t *a = t[5].req.audits;
    ASSERT_STREQ(a[0].event, "admin_4");
    ASSERT_EQ(a[0].at, 4996);
    ASSERT_STREQ(a[0].user_id, "admin-1");
    ASSERT_STREQ(a[0].ip, "192.0.2.9");
    ASSERT_STREQ(a[0].detail, "room r-1");
    ASSERT_EQ(a[0].count, 3);
    ASSERT_STREQ(a[1].event, "admin_3");
    ASSERT_STREQ(a[1].user_id, "");
    ASSERT_STREQ(a[1].detail, "");
    ASSERT_EQ(a[1].count, 1);
    ASSERT_STREQ(a[2].event, "admin_2");
    free(t[5].req.audits);
    ASSERT_EQ(t[6].req.naudits, 4);
    free(t[6].req.audits);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

/* Password + epoch update stores the revocation with the new epoch; delete stores one
 * for every token; load returns the live entries, prune drops the ended ones. */
static void test_revocations(void)
{
    char path[512];
    new_target(path, sizeof(path), "revoke");
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
    /* The account is gone (no user is left). */
    treq_init(&t[0], &c, STORE_USER_BY_ID);
    strcpy(t[0].req.key, "u-1");
    ASSERT_EQ(run_one(st, &loop, &t[0]), STORE_ENOTFOUND);
    ASSERT_TRUE(!email_exists(st, &loop, &c, "a@example.com"));
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

/* API keys: create (a taken id refused), get, list (revoked ones too, by created_at then
 * id, never a secret: only its hash), revoke (the first time kept; a missing key). */
static void test_apikeys(void)
{
    char path[512];
    new_target(path, sizeof(path), "apikeys");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    treq_t t[4];
    const char *ids[3] = {"00000000000000bb", "00000000000000aa", "00000000000000cc"};
    const int64_t at[3] = {2000, 1000, 2000};
    for (int i = 0; i < 3; i++) {
        treq_init(&t[i], &c, STORE_APIKEY_CREATE);
        store_apikey_t *k = &t[i].req.apikey;
        snprintf(k->id, sizeof(k->id), "%s", ids[i]);
        snprintf(k->name, sizeof(k->name), "key %d", i);
        memset(k->hash, 'a' + i, 64);
        k->created_at = at[i];
        store_submit(st, &t[i].req);
    }
    treq_init(&t[3], &c, STORE_APIKEY_CREATE); /* the id of the first: refused */
    snprintf(t[3].req.apikey.id, sizeof(t[3].req.apikey.id), "%s", ids[0]);
    snprintf(t[3].req.apikey.name, sizeof(t[3].req.apikey.name), "again");
    memset(t[3].req.apikey.hash, 'f', 64);
    t[3].req.apikey.created_at = 5;
    store_submit(st, &t[3].req);
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(t[0].req.err, STORE_OK);
    ASSERT_EQ(t[1].req.err, STORE_OK);
    ASSERT_EQ(t[2].req.err, STORE_OK);
    ASSERT_EQ(t[3].req.err, STORE_EEXISTS);

    treq_t g;
    treq_init(&g, &c, STORE_APIKEY_GET);
    snprintf(g.req.apikey.id, sizeof(g.req.apikey.id), "%s", ids[0]);
    ASSERT_EQ(run_one(st, &loop, &g), STORE_OK);
    ASSERT_STREQ(g.req.apikey.name, "key 0"); /* not the refused one's */
    ASSERT_EQ(strspn(g.req.apikey.hash, "a"), 64);
    ASSERT_EQ(g.req.apikey.created_at, 2000);
    ASSERT_EQ(g.req.apikey.revoked_at, 0);
    treq_init(&g, &c, STORE_APIKEY_GET);
    snprintf(g.req.apikey.id, sizeof(g.req.apikey.id), "0000000000000000");
    ASSERT_EQ(run_one(st, &loop, &g), STORE_ENOTFOUND);

    /* Revoke: the time is kept, a second revoke keeps the first time. */
    treq_init(&g, &c, STORE_APIKEY_REVOKE);
    snprintf(g.req.apikey.id, sizeof(g.req.apikey.id), "%s", ids[1]);
    g.req.apikey.revoked_at = 3000;
    ASSERT_EQ(run_one(st, &loop, &g), STORE_OK);
    ASSERT_EQ(g.req.apikey.revoked_at, 3000);
    ASSERT_STREQ(g.req.apikey.name, "key 1");
    treq_init(&g, &c, STORE_APIKEY_REVOKE);
    snprintf(g.req.apikey.id, sizeof(g.req.apikey.id), "%s", ids[1]);
    g.req.apikey.revoked_at = 4000;
    ASSERT_EQ(run_one(st, &loop, &g), STORE_OK);
    ASSERT_EQ(g.req.apikey.revoked_at, 3000);
    treq_init(&g, &c, STORE_APIKEY_REVOKE);
    snprintf(g.req.apikey.id, sizeof(g.req.apikey.id), "0000000000000000");
    g.req.apikey.revoked_at = 4000;
    ASSERT_EQ(run_one(st, &loop, &g), STORE_ENOTFOUND);

    /* List: by created_at then id, the revoked one too; durable across a reopen. */
    ASSERT_EQ(close_store(st, &loop), 0);
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    treq_init(&g, &c, STORE_APIKEY_LIST);
    ASSERT_EQ(run_one(st, &loop, &g), STORE_OK);
    ASSERT_EQ(g.req.napikeys, 3);
    ASSERT_STREQ(g.req.apikeys[0].id, ids[1]);
    ASSERT_EQ(g.req.apikeys[0].revoked_at, 3000);
    ASSERT_STREQ(g.req.apikeys[1].id, ids[0]);
    ASSERT_STREQ(g.req.apikeys[2].id, ids[2]);
    ASSERT_EQ(g.req.apikeys[2].revoked_at, 0);
    ASSERT_EQ(strspn(g.req.apikeys[2].hash, "c"), 64);
    free(g.req.apikeys);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

static void test_room_crud(void)
{
    char path[512];
    new_target(path, sizeof(path), "rooms");
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
    r.room.state_base = 1; /* the stored one: a write after failed ones may skip versions */
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

    /* After a reopen: one room with every updated field, host_id and created_at kept. */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    ASSERT_EQ(load_rooms(st, &loop, &c, &r), STORE_OK);
    ASSERT_EQ(r.nrooms, 1);
    const store_room_t *rm = &r.rooms[0];
    ASSERT_STREQ(rm->code, "R00009");
    ASSERT_STREQ(rm->name, "Renamed ✓");
    ASSERT_EQ(rm->capacity, 3);
    ASSERT_EQ(rm->is_public, 0);
    ASSERT_STREQ(rm->state, "{\"mode\":\"draw\",\"n\":2}");
    ASSERT_EQ(rm->state_version, 42);
    ASSERT_EQ(rm->last_activity, 1800000000000);
    ASSERT_EQ(rm->created_at, 1700000000001);
    ASSERT_STREQ(rm->host_id, "00000000-0000-4000-8000-000000000001");
    ASSERT_EQ(r.nparts, 2); /* host + 7 */
    ASSERT_EQ(parts_of(&r, 1, 7), 1);
    ASSERT_EQ(parts_of(&r, 1, 1), 1);
    for (size_t k = 0; k < r.nparts; k++) {
        const store_participant_t *p = &r.parts[k];
        if (strcmp(p->user_id, "00000000-0000-4000-8000-000000000007") != 0) continue;
        ASSERT_EQ(p->role, STORE_ROLE_HOST);
        ASSERT_EQ(p->banned, 1);
        ASSERT_STREQ(p->display_name, "seven");
        ASSERT_EQ(p->joined_at, 200);
    }
    store_rooms_free(&r);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

/* ROOM_CREATE's max_hosted: the host's rooms counted in the create's transaction. */
static int create_hosted(store_t *st, uv_loop_t *loop, tctx_t *c, int i, int host, uint32_t max)
{
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, i);
    snprintf(r.room.host_id, sizeof(r.room.host_id), "00000000-0000-4000-8000-%012d", host);
    fill_part(&r.part, r.room.id, host, STORE_ROLE_HOST, r.room.created_at);
    r.max_hosted = max;
    int err = run_rooms(st, loop, c, STORE_ROOM_CREATE, &r);
    store_rooms_free(&r);
    return err;
}

static void test_room_hosted_limit(void)
{
    char path[512];
    new_target(path, sizeof(path), "hosted");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_hosted(st, &loop, &c, 1, 1, 2), STORE_OK);
    ASSERT_EQ(create_hosted(st, &loop, &c, 2, 1, 2), STORE_OK);
    ASSERT_EQ(create_hosted(st, &loop, &c, 3, 1, 2), STORE_ELIMIT);
    ASSERT_EQ(create_hosted(st, &loop, &c, 3, 9, 2), STORE_OK); /* another host */
    ASSERT_EQ(create_hosted(st, &loop, &c, 4, 1, 0), STORE_OK); /* 0: no bound */
    ASSERT_EQ(create_hosted(st, &loop, &c, 5, 1, 3), STORE_ELIMIT);
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    ASSERT_EQ(load_rooms(st, &loop, &c, &r), STORE_OK);
    ASSERT_EQ(r.nrooms, 4); /* nothing of the refused ones */
    ASSERT_EQ(room_of(&r, 5) == NULL, 1);
    ASSERT_EQ(parts_of(&r, 5, -1), 0);
    store_rooms_free(&r);
    /* A deleted room no longer counts. */
    fill_room(&r.room, 1);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_DELETE, &r), STORE_OK);
    store_rooms_free(&r);
    ASSERT_EQ(create_hosted(st, &loop, &c, 5, 1, 3), STORE_OK);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

/* PARTS_OF_USER: a user's rooms (not banned), by joined_at, at most limit. */
static void test_parts_of_user(void)
{
    char path[512];
    new_target(path, sizeof(path), "partsof");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    for (int i = 1; i <= 3; i++)
        ASSERT_EQ(create_room(st, &loop, &c, i), STORE_OK);
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    char rid[STORE_ID_LEN];
    int64_t joined[] = {300, 100, 200};
    for (int i = 1; i <= 3; i++) {
        snprintf(rid, sizeof(rid), "10000000-0000-4000-8000-%012d", i);
        fill_part(&r.part, rid, 7, STORE_ROLE_MEMBER, joined[i - 1]);
        r.part.banned = i == 3;
        ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTICIPANT_PUT, &r), STORE_OK);
    }
    fill_part(&r.part, "", 7, STORE_ROLE_MEMBER, 0);
    r.limit = 10;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTS_OF_USER, &r), STORE_OK);
    ASSERT_EQ(r.nparts, 2);
    ASSERT_STREQ(r.parts[0].room_id, "10000000-0000-4000-8000-000000000002");
    ASSERT_STREQ(r.parts[1].room_id, "10000000-0000-4000-8000-000000000001");
    ASSERT_EQ(r.parts[1].joined_at, 300);
    ASSERT_STREQ(r.parts[1].display_name, "user 7");
    store_rooms_free(&r);
    fill_part(&r.part, "", 7, STORE_ROLE_MEMBER, 0);
    r.limit = 1;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTS_OF_USER, &r), STORE_OK);
    ASSERT_EQ(r.nparts, 1);
    store_rooms_free(&r);
    fill_part(&r.part, "", 1, STORE_ROLE_MEMBER, 0); /* a host: its room's host row */
    r.limit = 10;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTS_OF_USER, &r), STORE_OK);
    ASSERT_EQ(r.nparts, 1);
    ASSERT_EQ(r.parts[0].role, STORE_ROLE_HOST);
    store_rooms_free(&r);
    fill_part(&r.part, "", 8, STORE_ROLE_MEMBER, 0); /* nobody's: none */
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTS_OF_USER, &r), STORE_OK);
    ASSERT_EQ(r.nparts, 0);
    store_rooms_free(&r);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

static void test_messages_and_pages(void)
{
    enum { N = 25 };
    char path[512];
    new_target(path, sizeof(path), "msgs");
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
    /* Only the room's next seq is stored, in both backends: a gap (N + 2 after N) and a
     * first message that is not seq 1 are refused (EEXISTS, the highest stored seq
     * answered), and nothing of them is stored. */
    fill_msg(&r.msg, 1, N + 2);
    strcpy(r.msg.id, "gap-id");
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_MESSAGE_INSERT, &r), STORE_EEXISTS);
    ASSERT_EQ(r.room.last_seq, N);
    store_rooms_free(&r);
    fill_msg(&r.msg, 2, 2);
    strcpy(r.msg.id, "gap-id-2");
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_MESSAGE_INSERT, &r), STORE_EEXISTS);
    ASSERT_EQ(r.room.last_seq, 0);
    store_rooms_free(&r);
    /* A message to a missing room, at seq 1 or any other. */
    fill_msg(&r.msg, 99, 1);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_MESSAGE_INSERT, &r), STORE_ENOTFOUND);
    store_rooms_free(&r);
    fill_msg(&r.msg, 99, 7);
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

    /* Durable: the N messages, each as sent ("" users and absent metadata read back as
     * such; how SQLite stores them: test_store_sqlite.c). */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    ASSERT_EQ(count_msgs(st, &loop, &c, 1), N);
    ASSERT_EQ(count_msgs(st, &loop, &c, 2), 0);
    /* The last accepted message set the room's activity; the refused ones did not. */
    ASSERT_EQ(activity_of(st, &loop, &c, 1), 1700000100000 + N);
    ASSERT_EQ(activity_of(st, &loop, &c, 2), 1700000000002);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

/* A message's client id (issue 19): a second insert of the same user's client id in the
 * room stores nothing and answers the stored message (EEXISTS, dup = 1), whatever seq it
 * asked; another user, or another room, may use the same client id; pages read it back;
 * and it holds after a reopen. */
static void test_message_client_id(void)
{
    char path[512];
    new_target(path, sizeof(path), "msgcid");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    ASSERT_EQ(create_room(st, &loop, &c, 2), STORE_OK);
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_msg(&r.msg, 1, 1);
    strcpy(r.msg.client_id, "Cid_1-x");
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_MESSAGE_INSERT, &r), STORE_OK);
    ASSERT_EQ(r.dup, 0);
    char user[STORE_SUB_LEN];
    snprintf(user, sizeof(user), "%s", r.msg.user_id);
    store_rooms_free(&r);
    /* Sent again as a new message (new id, the next seq): the first one answers. */
    memset(&r, 0, sizeof(r));
    fill_msg(&r.msg, 1, 2);
    strcpy(r.msg.id, "second-id");
    strcpy(r.msg.user_id, user);
    strcpy(r.msg.client_id, "Cid_1-x");
    free(r.msg.content);
    r.msg.content = strdup("other text");
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_MESSAGE_INSERT, &r), STORE_EEXISTS);
    ASSERT_EQ(r.dup, 1);
    ASSERT_STREQ(r.msg.id, "00000001-0000-4000-8000-000000000001");
    ASSERT_EQ(r.msg.seq, 1);
    ASSERT_STREQ(r.msg.client_id, "Cid_1-x");
    ASSERT_STREQ(r.msg.user_id, user);
    ASSERT_STREQ(r.msg.content, "message 1 é");
    store_rooms_free(&r);
    /* A plain refusal (a taken seq) is no duplicate. */
    memset(&r, 0, sizeof(r));
    fill_msg(&r.msg, 1, 1);
    strcpy(r.msg.id, "third-id");
    strcpy(r.msg.client_id, "other");
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_MESSAGE_INSERT, &r), STORE_EEXISTS);
    ASSERT_EQ(r.dup, 0);
    ASSERT_EQ(r.room.last_seq, 1);
    store_rooms_free(&r);
    /* Another user in the room, and the same user in another room: new messages. */
    memset(&r, 0, sizeof(r));
    fill_msg(&r.msg, 1, 2);
    strcpy(r.msg.user_id, "someone-else");
    strcpy(r.msg.client_id, "Cid_1-x");
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_MESSAGE_INSERT, &r), STORE_OK);
    ASSERT_EQ(r.dup, 0);
    store_rooms_free(&r);
    memset(&r, 0, sizeof(r));
    fill_msg(&r.msg, 2, 1);
    strcpy(r.msg.user_id, user);
    strcpy(r.msg.client_id, "Cid_1-x");
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_MESSAGE_INSERT, &r), STORE_OK);
    store_rooms_free(&r);
    /* Read back: the client id where there is one, "" elsewhere. */
    ASSERT_EQ(insert_msg(st, &loop, &c, 1, 3), STORE_OK);
    memset(&r, 0, sizeof(r));
    snprintf(r.room.id, sizeof(r.room.id), "10000000-0000-4000-8000-%012d", 1);
    r.before = r.after = -1;
    r.limit = 10;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_MESSAGES_PAGE, &r), STORE_OK);
    ASSERT_EQ(r.nmsgs, 3);
    ASSERT_STREQ(r.msgs[0].client_id, "Cid_1-x");
    ASSERT_STREQ(r.msgs[1].client_id, "Cid_1-x");
    ASSERT_STREQ(r.msgs[2].client_id, "");
    store_rooms_free(&r);
    ASSERT_EQ(close_store(st, &loop), 0);

    /* Durable: after a reopen the client id is still taken, and seqs go on. */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    memset(&r, 0, sizeof(r));
    fill_msg(&r.msg, 1, 4);
    strcpy(r.msg.id, "fourth-id");
    strcpy(r.msg.user_id, user);
    strcpy(r.msg.client_id, "Cid_1-x");
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_MESSAGE_INSERT, &r), STORE_EEXISTS);
    ASSERT_EQ(r.dup, 1);
    ASSERT_EQ(r.msg.seq, 1);
    store_rooms_free(&r);
    ASSERT_EQ(insert_msg(st, &loop, &c, 1, 4), STORE_OK);
    memset(&r, 0, sizeof(r));
    snprintf(r.room.id, sizeof(r.room.id), "10000000-0000-4000-8000-%012d", 1);
    r.before = r.after = -1;
    r.limit = 10;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_MESSAGES_PAGE, &r), STORE_OK);
    ASSERT_EQ(r.nmsgs, 4);
    ASSERT_EQ(r.msgs[3].seq, 4);
    store_rooms_free(&r);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

static void test_room_delete_cascades(void)
{
    char path[512];
    new_target(path, sizeof(path), "cascade");
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
    /* Deleting the account of room 2's host leaves the room and what it holds. */
    treq_t t;
    treq_init(&t, &c, STORE_USER_CREATE);
    fill_user(&t.req.user, 2);
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    treq_init(&t, &c, STORE_USER_DELETE);
    fill_user(&t.req.user, 2);
    t.req.revoke.until_s = 10;
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    ASSERT_EQ(close_store(st, &loop), 0);

    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    ASSERT_EQ(load_rooms(st, &loop, &c, &r), STORE_OK);
    ASSERT_EQ(r.nrooms, 2);
    ASSERT_EQ(parts_of(&r, 1, -1), 1); /* only the new host */
    ASSERT_EQ(parts_of(&r, 1, 1), 1);
    ASSERT_EQ(parts_of(&r, 2, 2), 1); /* the deleted account's rows stay */
    ASSERT_TRUE(room_of(&r, 2) != NULL);
    ASSERT_STREQ(room_of(&r, 2)->host_id, "00000000-0000-4000-8000-000000000002");
    ASSERT_EQ(r.nparts, 3);
    store_rooms_free(&r);
    ASSERT_EQ(count_msgs(st, &loop, &c, 1), 0);
    ASSERT_EQ(count_msgs(st, &loop, &c, 2), 5);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

static void test_rooms_load_after_reopen(void)
{
    char path[512];
    new_target(path, sizeof(path), "load");
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
    drop_target(path);
}

/* The backend under test, counting its transactions. With counted_gate set, the next begin
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
    return cur->backend->begin(conn);
}

static store_backend_t counted_backend(void)
{
    store_backend_t be = *cur->backend;
    be.name = "counted";
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
    new_target(path, sizeof(path), "burst");
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
    /* A larger limit is capped at STORE_PAGE_MAX (the newest), not refused. */
    ASSERT_EQ(page(st, &loop, &c, 1, -1, -1, 4000000000u, N - STORE_PAGE_MAX + 1),
              STORE_PAGE_MAX);
    ASSERT_EQ(close_store(st, &loop), 0);
    /* Each stored message is the request that carried its seq (id and time, checked by
     * page()), seqs 1..N, and the last one applied was last. */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    ASSERT_EQ(count_msgs(st, &loop, &c, 1), N);
    store_rooms_t r;
    ASSERT_EQ(load_rooms(st, &loop, &c, &r), STORE_OK);
    ASSERT_EQ(r.nrooms, 1);
    ASSERT_EQ(r.rooms[0].last_seq, N);
    ASSERT_EQ(r.rooms[0].last_activity, 1700000100000 + N);
    store_rooms_free(&r);
    ASSERT_EQ(close_store(st, &loop), 0);
    uv_sem_destroy(&counted_entered);
    uv_sem_destroy(&counted_release);
    drop_target(path);
}

/* Not a test of speed: prints how long 10,000 inserts take end to end. */
static void test_message_insert_timing(void)
{
    enum { N = 10000 };
    char path[512];
    new_target(path, sizeof(path), "timing");
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
    ASSERT_EQ(count_msgs(st, &loop, &c, 1), N);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

static void test_doc_load_and_snapshot(void)
{
    enum { N = 150, SNAP = 100 };
    char path[512];
    new_target(path, sizeof(path), "docs");
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

    /* Versions are gapless and never reused: a document takes only its next version (1
     * when new, then 1 + its highest), else EEXISTS with nothing stored, snapshot
     * included. */
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "gap", 2, 1), STORE_EEXISTS); /* new: 1 first */
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "gap", 0, 1), STORE_EEXISTS);
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "gap", 1, 1), STORE_OK);
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "gap", 10, 1), STORE_EEXISTS); /* a gap */
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "gap", 3, 1), STORE_EEXISTS);  /* a gap */
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "gap", 1, 0), STORE_EEXISTS);  /* taken */
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "gap", 0, 0), STORE_EEXISTS);  /* stale */
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "gap", 2, 0), STORE_OK);
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "main", N, 0), STORE_EEXISTS); /* taken */
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "main", N + 2, 1), STORE_EEXISTS);
    ASSERT_EQ(load_doc(st, &loop, &c, 1, "gap", &d), STORE_OK);
    ASSERT_EQ(d.doc.version, 1);
    ASSERT_STREQ(d.doc.snapshot, "gap at 1 ✓");
    ASSERT_EQ(d.nops, 1);
    ASSERT_TRUE(op_matches(&d.ops[0], 1, "gap", 2));
    store_docs_free(&d);
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "gap", 0, 100), 2);
    ASSERT_EQ(load_doc(st, &loop, &c, 1, "main", &d), STORE_OK);
    ASSERT_EQ(d.doc.version, SNAP); /* the refused snapshot at N + 2 was not kept */
    ASSERT_EQ(d.nops, N - SNAP);
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
    /* The third document keeps its snapshot too, and takes its next version only. */
    ASSERT_EQ(load_doc(st, &loop, &c, 1, "gap", &d), STORE_OK);
    ASSERT_EQ(d.doc.version, 1);
    ASSERT_EQ(d.nops, 1);
    store_docs_free(&d);
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "gap", 2, 0), STORE_EEXISTS);
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "gap", 3, 0), STORE_OK);
    /* The old ops stay (history), each as inserted ("" op ids read back as "; how SQLite
     * stores them: test_store_sqlite.c). */
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "main", 0, N), N);
    ASSERT_EQ(c.wrong_thread, 0);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

static void test_doc_op_errors(void)
{
    char path[512];
    new_target(path, sizeof(path), "docerr");
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
    ASSERT_EQ(load_doc(st, &loop, &c, 1, "main", &d), STORE_OK);
    ASSERT_EQ(d.doc.version, 1);
    ASSERT_STREQ(d.doc.snapshot, "main at 1 ✓"); /* not "must not be stored" */
    ASSERT_EQ(d.nops, 1);
    ASSERT_TRUE(op_matches(&d.ops[0], 1, "main", 2)); /* not "replaced" */
    store_docs_free(&d);

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
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "main", 0, 10), 4); /* each as inserted */
    /* The refused op of the missing room left neither op nor snapshot ("lost"). */
    ASSERT_EQ(ops_range(st, &loop, &c, 99, "main", 0, 10), 0);
    ASSERT_EQ(load_doc(st, &loop, &c, 99, "main", &d), STORE_OK);
    ASSERT_EQ(d.doc.version, 0);
    ASSERT_STREQ(d.doc.snapshot, "");
    store_docs_free(&d);
    ASSERT_EQ(close_store(st, &loop), 0);
    uv_sem_destroy(&counted_entered);
    uv_sem_destroy(&counted_release);
    drop_target(path);
}

static void test_doc_ops_range(void)
{
    enum { N = 30 };
    char path[512];
    new_target(path, sizeof(path), "docrange");
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
    drop_target(path);
}

static void test_doc_room_delete_cascades(void)
{
    char path[512];
    new_target(path, sizeof(path), "doccascade");
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

    /* After a reopen: room 2 keeps both documents and their 10 ops, room 1 has the one
     * new op and no snapshot. */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    const char *docs[2] = {"a", "b"};
    const int64_t snaps[2] = {3, 5};
    for (int i = 0; i < 2; i++) {
        ASSERT_EQ(load_doc(st, &loop, &c, 1, docs[i], &d), STORE_OK);
        ASSERT_EQ(d.doc.version, 0);
        store_docs_free(&d);
        ASSERT_EQ(load_doc(st, &loop, &c, 2, docs[i], &d), STORE_OK);
        ASSERT_EQ(d.doc.version, snaps[i]);
        store_docs_free(&d);
        ASSERT_EQ(ops_range(st, &loop, &c, 2, docs[i], 0, 10), 5);
    }
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "a", 0, 10), 1);
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "b", 0, 10), 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
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
    new_target(path, sizeof(path), "docburst");
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
    /* Durable: the N ops, each with its own time (op_matches checks every field). */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "main", 0, N + 1), N);
    ASSERT_EQ(close_store(st, &loop), 0);
    uv_sem_destroy(&counted_entered);
    uv_sem_destroy(&counted_release);
    drop_target(path);
}

/* Prints how long 10,000 DOC_OP_INSERTs take end to end (not a test of speed), then
 * checks DOC_OPS_RANGE's cap of 10,000 on them. */
static void test_doc_op_insert_timing_and_range_cap(void)
{
    enum { N = 10000 };
    char path[512];
    new_target(path, sizeof(path), "doctiming");
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
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "main", N, 10), 5); /* N + 5 in all */
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
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
    new_target(path, sizeof(path), "close");
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
    drop_target(path);
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
    atomic_int ping_rc; /* what ping answers (set by the test while the worker runs) */
    atomic_int pings;
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

static int fake_ping(void *conn)
{
    fake_t *f = conn;
    atomic_fetch_add(&f->pings, 1);
    return atomic_load(&f->ping_rc);
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

/* Polls store_ready until it answers want (the idle check runs every second); returns 0,
 * or -1 after 10 s. */
static int ready_becomes(store_t *st, int want)
{
    for (int i = 0; i < 1000; i++) {
        if (store_ready(st) == want) return 0;
        uv_sleep(10);
    }
    return -1;
}

/* store_ready follows the last transaction, and with a backend that can be checked, the
 * idle check too: a failure is noticed, and so is the return, without any request. */
static void test_ready(void)
{
    memset(&fake, 0, sizeof(fake));
    uv_loop_t loop;
    uv_loop_init(&loop);
    char err[128];
    store_t *st = store_open(&fake_backend, "x", &loop, &test_log, err, sizeof(err));
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    treq_t t;
    ASSERT_EQ(store_ready(st), 1);
    log_level_t saved = test_log.level;
    test_log.level = LOG_ERROR + 1; /* the rollbacks are logged as errors; expected */
    treq_init(&t, &c, STORE_USER_BY_ID);
    strcpy(t.req.key, "eio");
    ASSERT_EQ(run_one(st, &loop, &t), STORE_EIO);
    ASSERT_EQ(store_ready(st), 0);
    treq_init(&t, &c, STORE_USER_BY_ID);
    strcpy(t.req.key, "notfound"); /* an answer: the transaction committed */
    ASSERT_EQ(run_one(st, &loop, &t), STORE_ENOTFOUND);
    ASSERT_EQ(store_ready(st), 1);
    /* Without a ping, a failing store checks that a transaction can begin, idle. */
    treq_init(&t, &c, STORE_USER_BY_ID);
    strcpy(t.req.key, "eio");
    ASSERT_EQ(run_one(st, &loop, &t), STORE_EIO);
    ASSERT_EQ(store_ready(st), 0);
    int begins = fake.begins;
    ASSERT_EQ(ready_becomes(st, 1), 0);
    ASSERT_TRUE(fake.begins > begins); /* written before the worker took mu to set ready */
    ASSERT_EQ(close_store(st, &loop), 0);
    ASSERT_EQ(atomic_load(&fake.pings), 0); /* no ping: none was ever called */

    store_backend_t be = fake_backend;
    be.ping = fake_ping;
    uv_loop_init(&loop);
    st = store_open(&be, "x", &loop, &test_log, err, sizeof(err));
    ASSERT_TRUE(st != NULL);
    atomic_store(&fake.ping_rc, STORE_EIO); /* the database goes while nobody writes */
    ASSERT_EQ(ready_becomes(st, 0), 0);
    ASSERT_TRUE(atomic_load(&fake.pings) >= 1);
    atomic_store(&fake.ping_rc, 0); /* and comes back */
    ASSERT_EQ(ready_becomes(st, 1), 0);
    treq_init(&t, &c, STORE_USER_BY_ID);
    strcpy(t.req.key, "failcommit"); /* a failed commit, then a check that passes */
    ASSERT_EQ(run_one(st, &loop, &t), STORE_EIO);
    ASSERT_EQ(store_ready(st), 0);
    ASSERT_EQ(ready_becomes(st, 1), 0);
    test_log.level = saved;
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
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
    e->room_base = rv - 1; /* the room's next version */
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

/* STORE_ROOM_LOAD: one room whole, by id or by code, as ROOMS_LOAD has it; ENOTFOUND for
 * none. */
static void test_room_load_one(void)
{
    char path[512];
    new_target(path, sizeof(path), "load_one");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    for (int room = 1; room <= 3; room++)
        ASSERT_EQ(create_room(st, &loop, &c, room), STORE_OK);
    for (int i = 1; i <= 4; i++)
        ASSERT_EQ(insert_msg(st, &loop, &c, 2, i), STORE_OK);
    ASSERT_EQ(insert_msg(st, &loop, &c, 3, 1), STORE_OK);
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 2, "a", 1, 2), STORE_OK);
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 2, "b", 1, 3), STORE_OK);
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 3, "a", 1, 2), STORE_OK);
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, 2);
    fill_part(&r.part, r.room.id, 20, STORE_ROLE_MEMBER, 1700000000900);
    r.part.banned = 1;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTICIPANT_PUT, &r), STORE_OK);
    store_rooms_free(&r);

    /* By id: room 2 alone, with its last seq, members, entities and usage. */
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, 2);
    free(r.room.state);
    r.room.state = NULL;
    r.room.code[0] = '\0';
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_LOAD, &r), STORE_OK);
    ASSERT_EQ(r.nrooms, 1);
    ASSERT_STREQ(r.rooms[0].id, "10000000-0000-4000-8000-000000000002");
    ASSERT_STREQ(r.rooms[0].code, "R00002");
    ASSERT_STREQ(r.rooms[0].host_id, "00000000-0000-4000-8000-000000000002");
    ASSERT_EQ(r.rooms[0].last_seq, 4);
    ASSERT_EQ(r.rooms[0].state_version, 3);
    ASSERT_STREQ(r.rooms[0].state, "{\"mode\":\"chat\"}");
    ASSERT_EQ(r.nparts, 2);
    ASSERT_STREQ(r.parts[0].user_id, "00000000-0000-4000-8000-000000000002");
    ASSERT_EQ(r.parts[0].role, STORE_ROLE_HOST);
    ASSERT_STREQ(r.parts[1].user_id, "00000000-0000-4000-8000-000000000020");
    ASSERT_EQ(r.parts[1].banned, 1);
    ASSERT_EQ(r.nents, 2);
    ASSERT_STREQ(r.ents[0].id, "a");
    ASSERT_STREQ(r.ents[1].id, "b");
    ASSERT_STREQ(r.ents[1].room_id, r.rooms[0].id);
    ASSERT_TRUE(r.nusage >= 1);
    for (size_t i = 0; i < r.nusage; i++)
        ASSERT_STREQ(r.usage[i].room_id, r.rooms[0].id);
    store_rooms_free(&r);

    /* By code: room 3. */
    memset(&r, 0, sizeof(r));
    snprintf(r.room.code, sizeof(r.room.code), "R00003");
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_LOAD, &r), STORE_OK);
    ASSERT_EQ(r.nrooms, 1);
    ASSERT_STREQ(r.rooms[0].id, "10000000-0000-4000-8000-000000000003");
    ASSERT_EQ(r.rooms[0].last_seq, 1);
    ASSERT_EQ(r.nparts, 1);
    ASSERT_EQ(r.nents, 1);
    store_rooms_free(&r);

    /* An id names no room, even one that is another room's code; nor an unknown code. */
    memset(&r, 0, sizeof(r));
    snprintf(r.room.id, sizeof(r.room.id), "R00003");
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_LOAD, &r), STORE_ENOTFOUND);
    ASSERT_EQ(r.nrooms, 0);
    ASSERT_TRUE(r.rooms == NULL && r.parts == NULL && r.ents == NULL);
    store_rooms_free(&r);
    memset(&r, 0, sizeof(r));
    snprintf(r.room.code, sizeof(r.room.code), "R00009");
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_LOAD, &r), STORE_ENOTFOUND);
    ASSERT_EQ(r.nrooms, 0);
    store_rooms_free(&r);
    /* Deleted: gone. */
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, 3);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_DELETE, &r), STORE_OK);
    store_rooms_free(&r);
    memset(&r, 0, sizeof(r));
    snprintf(r.room.code, sizeof(r.room.code), "R00003");
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_LOAD, &r), STORE_ENOTFOUND);
    store_rooms_free(&r);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

static void test_entities(void)
{
    char path[512];
    new_target(path, sizeof(path), "entities");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    ASSERT_EQ(create_room(st, &loop, &c, 2), STORE_OK);
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 1, "a", 1, 2), STORE_OK);
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 1, "b", 1, 3), STORE_OK);
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 1, "a", 2, 4), STORE_OK); /* replaces */
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 2, "a", 1, 2), STORE_OK);
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 2, "a", 1, 3), STORE_OK);
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_DELETE, 1, "b", 0, 5), STORE_OK);
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_DELETE, 1, "nope", 0, 6), STORE_OK);
    /* A put for a room that does not exist is ENOTFOUND (the foreign key). */
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 9, "a", 1, 1), STORE_ENOTFOUND);
    /* A delete there is no error: there is nothing to delete. */
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_DELETE, 9, "a", 0, 1), STORE_OK);
    /* Only the room's next version is stored (the room's is 3): a taken one, an older
     * one and a gap are refused, the entity stays as it was. */
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 2, "a", 2, 3), STORE_EEXISTS);
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 2, "a", 2, 2), STORE_EEXISTS);
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 2, "a", 2, 5), STORE_EEXISTS);
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_DELETE, 2, "a", 0, 3), STORE_EEXISTS);
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_DELETE, 2, "a", 0, 5), STORE_EEXISTS);
    /* A refusal answers the stored version; naming it as the base stores a later one
     * (what the loop writes again after its own writes failed). */
    store_rooms_t rf;
    memset(&rf, 0, sizeof(rf));
    fill_entity(&rf.ent, 2, "a", 2, 9);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ENTITY_PUT, &rf), STORE_EEXISTS);
    ASSERT_EQ(rf.ent.room_base, 3);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ENTITY_PUT, &rf), STORE_OK);
    rf.ent.room_base = 9;
    rf.ent.room_version = 9; /* not above its base */
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ENTITY_DELETE, &rf), STORE_EEXISTS);
    ASSERT_EQ(rf.ent.room_base, 9);
    store_rooms_free(&rf);
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
            ASSERT_EQ(e->state_version, 4);
            ASSERT_STREQ(e->data, "{\"v\":2,\"s\":\"\u2713\"}");
            ASSERT_STREQ(e->owner, "owner-1");
            ASSERT_EQ(e->created_at, 1000);
            ASSERT_EQ(e->updated_at, 1004);
            ASSERT_EQ(e->owner_only, 1);
            seen |= 1;
        } else {
            ASSERT_EQ(e->version, 2);
            ASSERT_EQ(e->state_version, 9);
            ASSERT_EQ(e->owner_only, 0);
            seen |= 2;
        }
    }
    ASSERT_EQ(seen, 3);
    for (size_t i = 0; i < r.nrooms; i++) {
        int64_t want =
            strcmp(r.rooms[i].id, "10000000-0000-4000-8000-000000000001") == 0 ? 6 : 9;
        ASSERT_EQ(r.rooms[i].state_version, want);
    }
    store_rooms_free(&r);
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, 1);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_DELETE, &r), STORE_OK);
    store_rooms_free(&r);
    ASSERT_EQ(close_store(st, &loop), 0);
    /* Room 1's entities went with it; room 2's stays. */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    ASSERT_EQ(load_rooms(st, &loop, &c, &r), STORE_OK);
    ASSERT_EQ(r.nents, 1);
    ASSERT_STREQ(r.ents[0].room_id, "10000000-0000-4000-8000-000000000002");
    store_rooms_free(&r);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
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
/* ---- the change log (issue 25) ---- */

#define T0 1700000000001 /* room 1's creation time (fill_room) */

/* A change of room 1's log: a put of entity id (its version ver) or, with ver 0, its
 * deletion, as the room's version rv at T0 + 10 * rv. */
static int log_change(store_t *st, uv_loop_t *loop, tctx_t *c, const char *id, int64_t ver,
                      int64_t rv)
{
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_entity(&r.ent, 1, id, ver ? ver : 1, rv);
    r.ent.updated_at = T0 + 10 * rv;
    int err = run_rooms(st, loop, c, ver ? STORE_ENTITY_PUT : STORE_ENTITY_DELETE, &r);
    store_rooms_free(&r);
    return err;
}

/* Asks room 1 at version v (or, when v < 0, at time t) for at most limit entities after
 * `after`; fills r (the caller frees it). */
static int state_at(store_t *st, uv_loop_t *loop, tctx_t *c, store_rooms_t *r, int64_t v,
                    int64_t t, const char *after, uint32_t limit)
{
    memset(r, 0, sizeof(*r));
    snprintf(r->room.id, sizeof(r->room.id), "10000000-0000-4000-8000-%012d", 1);
    r->hist.at_version = v;
    r->hist.at_time = t;
    snprintf(r->hist.after, sizeof(r->hist.after), "%s", after);
    r->limit = limit;
    return run_rooms(st, loop, c, STORE_STATE_AT, r);
}

/* The entity ids and data versions of room 1 at version v, as "a1 b1", and the state. */
static void state_at_text(store_t *st, uv_loop_t *loop, tctx_t *c, int64_t v, char *out,
                          size_t cap)
{
    store_rooms_t r;
    int err = state_at(st, loop, c, &r, v, 0, "", 100);
    size_t n = (size_t)snprintf(out, cap, "%d v%lld %s:", err, (long long)r.hist.version,
                                r.hist.unavailable ? "gone"
                                : r.room.state     ? r.room.state
                                                   : "-");
    for (size_t i = 0; i < r.nents && n < cap; i++)
        n += (size_t)snprintf(out + n, cap - n, " %s%lld", r.ents[i].id,
                              (long long)r.ents[i].version);
    store_rooms_free(&r);
}

static void test_state_log(void)
{
    char path[512];
    new_target(path, sizeof(path), "state_log");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK); /* version 1 at T0 */
    ASSERT_EQ(log_change(st, &loop, &c, "a", 1, 2), STORE_OK);
    ASSERT_EQ(log_change(st, &loop, &c, "b", 1, 3), STORE_OK);
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, 1);
    free(r.room.state);
    r.room.state = strdup("{\"mode\":\"draw\"}");
    r.room.state_version = 4;
    r.room.state_base = 3;
    r.room.last_activity = T0 + 40;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_UPDATE, &r), STORE_OK);
    store_rooms_free(&r);
    ASSERT_EQ(log_change(st, &loop, &c, "a", 2, 5), STORE_OK);
    ASSERT_EQ(log_change(st, &loop, &c, "b", 0, 6), STORE_OK);
    ASSERT_EQ(log_change(st, &loop, &c, "c", 1, 7), STORE_OK);
    /* Refused changes are not logged. */
    ASSERT_EQ(log_change(st, &loop, &c, "d", 1, 7), STORE_EEXISTS);
    ASSERT_EQ(log_change(st, &loop, &c, "c", 0, 7), STORE_EEXISTS);

    char got[256];
    state_at_text(st, &loop, &c, 1, got, sizeof(got));
    ASSERT_STREQ(got, "0 v1 {\"mode\":\"chat\"}:");
    state_at_text(st, &loop, &c, 3, got, sizeof(got));
    ASSERT_STREQ(got, "0 v3 {\"mode\":\"chat\"}: a1 b1");
    state_at_text(st, &loop, &c, 4, got, sizeof(got));
    ASSERT_STREQ(got, "0 v4 {\"mode\":\"draw\"}: a1 b1");
    state_at_text(st, &loop, &c, 5, got, sizeof(got));
    ASSERT_STREQ(got, "0 v5 {\"mode\":\"draw\"}: a2 b1");
    state_at_text(st, &loop, &c, 6, got, sizeof(got));
    ASSERT_STREQ(got, "0 v6 {\"mode\":\"draw\"}: a2");
    state_at_text(st, &loop, &c, 99, got, sizeof(got)); /* later than the room: now */
    ASSERT_STREQ(got, "0 v7 {\"mode\":\"draw\"}: a2 c1");

    /* An entity as written: every field back, the change's version and time. */
    ASSERT_EQ(state_at(st, &loop, &c, &r, 5, 0, "", 10), STORE_OK);
    ASSERT_EQ(r.hist.time, T0 + 50);
    ASSERT_EQ(r.hist.base_version, 1);
    ASSERT_EQ(r.hist.base_time, T0);
    ASSERT_EQ(r.nents, 2);
    ASSERT_STREQ(r.ents[0].data, "{\"v\":2,\"s\":\"\u2713\"}");
    ASSERT_STREQ(r.ents[0].kind, "entry");
    ASSERT_STREQ(r.ents[0].owner, "owner-1");
    ASSERT_EQ(r.ents[0].owner_only, 1);
    ASSERT_EQ(r.ents[0].created_at, 1000);
    ASSERT_EQ(r.ents[0].state_version, 5);
    ASSERT_EQ(r.ents[0].updated_at, T0 + 50);
    ASSERT_EQ(r.ents[1].state_version, 3);
    store_rooms_free(&r);
    /* By time: the newest change made at or before it; before the base: unavailable. */
    ASSERT_EQ(state_at(st, &loop, &c, &r, -1, T0 + 55, "", 10), STORE_OK);
    ASSERT_EQ(r.hist.version, 5);
    ASSERT_EQ(r.hist.unavailable, 0);
    store_rooms_free(&r);
    ASSERT_EQ(state_at(st, &loop, &c, &r, -1, T0 - 1, "", 10), STORE_OK);
    ASSERT_EQ(r.hist.unavailable, 1);
    ASSERT_EQ(r.nents, 0);
    store_rooms_free(&r);
    /* Paged by id. */
    ASSERT_EQ(state_at(st, &loop, &c, &r, 7, 0, "", 1), STORE_OK);
    ASSERT_EQ(r.nents, 1);
    ASSERT_STREQ(r.ents[0].id, "a");
    ASSERT_EQ(r.hist.more, 1);
    store_rooms_free(&r);
    ASSERT_EQ(state_at(st, &loop, &c, &r, 7, 0, "a", 1), STORE_OK);
    ASSERT_EQ(r.nents, 1);
    ASSERT_STREQ(r.ents[0].id, "c");
    ASSERT_EQ(r.hist.more, 0);
    store_rooms_free(&r);

    /* Compaction by count: the newest 2 changes (7, 6) are kept whole, the base moves to
     * 5, which stays rebuildable; older moments are unavailable. */
    memset(&r, 0, sizeof(r));
    r.ret.log_keep = 2;
    r.ret.batch = 1000;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_RETENTION_SWEEP, &r), STORE_OK);
    store_rooms_free(&r);
    state_at_text(st, &loop, &c, 4, got, sizeof(got));
    ASSERT_STREQ(got, "0 v0 gone:");
    ASSERT_EQ(state_at(st, &loop, &c, &r, 4, 0, "", 10), STORE_OK);
    ASSERT_EQ(r.hist.base_version, 5);
    ASSERT_EQ(r.hist.base_time, T0 + 50);
    store_rooms_free(&r);
    state_at_text(st, &loop, &c, 5, got, sizeof(got));
    ASSERT_STREQ(got, "0 v5 {\"mode\":\"draw\"}: a2 b1");
    state_at_text(st, &loop, &c, 6, got, sizeof(got));
    ASSERT_STREQ(got, "0 v6 {\"mode\":\"draw\"}: a2");
    state_at_text(st, &loop, &c, 7, got, sizeof(got));
    ASSERT_STREQ(got, "0 v7 {\"mode\":\"draw\"}: a2 c1");
    /* By age, one row per request: the base moves to 6 (the last change made before the
     * time) at once, and what it no longer needs goes over several sweeps. */
    for (int i = 0; i < 4; i++) {
        memset(&r, 0, sizeof(r));
        r.ret.log_before = T0 + 65;
        r.ret.batch = 1;
        ASSERT_EQ(run_rooms(st, &loop, &c, STORE_RETENTION_SWEEP, &r), STORE_OK);
        store_rooms_free(&r);
        state_at_text(st, &loop, &c, 6, got, sizeof(got));
        ASSERT_STREQ(got, "0 v6 {\"mode\":\"draw\"}: a2");
        state_at_text(st, &loop, &c, 7, got, sizeof(got));
        ASSERT_STREQ(got, "0 v7 {\"mode\":\"draw\"}: a2 c1");
    }
    state_at_text(st, &loop, &c, 5, got, sizeof(got));
    ASSERT_STREQ(got, "0 v0 gone:");
    /* By time at or after the base's time: the base. */
    ASSERT_EQ(state_at(st, &loop, &c, &r, -1, T0 + 60, "", 10), STORE_OK);
    ASSERT_EQ(r.hist.unavailable, 0);
    ASSERT_EQ(r.hist.version, 6);
    store_rooms_free(&r);

    /* A missing room, and a deleted one (its log goes with it). */
    memset(&r, 0, sizeof(r));
    snprintf(r.room.id, sizeof(r.room.id), "no-such-room");
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_STATE_AT, &r), STORE_ENOTFOUND);
    store_rooms_free(&r);
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, 1);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_DELETE, &r), STORE_OK);
    store_rooms_free(&r);
    ASSERT_EQ(state_at(st, &loop, &c, &r, 7, 0, "", 10), STORE_ENOTFOUND);
    store_rooms_free(&r);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK); /* starts a new log */
    state_at_text(st, &loop, &c, 7, got, sizeof(got));
    ASSERT_STREQ(got, "0 v1 {\"mode\":\"chat\"}:");

    /* Documents at a time: the snapshot when made by then, else from the empty document;
     * the ops after the base up to the last made by then. */
    for (int64_t v = 1; v <= 4; v++)
        ASSERT_EQ(insert_op(st, &loop, &c, 1, "d", v, v == 3), STORE_OK);
    int64_t op0 = 1700000200000; /* + version: each op's time (fill_op) */
    ASSERT_EQ(state_at(st, &loop, &c, &r, -1, op0, "", 10), STORE_OK);
    ASSERT_EQ(r.ndocs, 0); /* no op yet */
    store_rooms_free(&r);
    ASSERT_EQ(state_at(st, &loop, &c, &r, -1, op0 + 2, "", 10), STORE_OK);
    ASSERT_EQ(r.ndocs, 1);
    ASSERT_STREQ(r.docs[0].doc_id, "d");
    ASSERT_EQ(r.docs[0].version, 0);
    ASSERT_STREQ(r.docs[0].snapshot, "");
    ASSERT_EQ(r.ndops, 2);
    ASSERT_EQ(r.dops[0].version, 1);
    ASSERT_EQ(r.dops[1].version, 2);
    store_rooms_free(&r);
    ASSERT_EQ(state_at(st, &loop, &c, &r, -1, op0 + 9, "", 10), STORE_OK);
    ASSERT_EQ(r.ndocs, 1);
    ASSERT_EQ(r.docs[0].version, 3);
    char snap[160];
    snapshot_text(snap, sizeof(snap), "d", 3);
    ASSERT_STREQ(r.docs[0].snapshot, snap);
    ASSERT_EQ(r.ndops, 1);
    ASSERT_EQ(r.dops[0].version, 4);
    store_rooms_free(&r);
    /* Op log retention trims the document before its snapshot (ops 1 and 2 go): it now
     * rebuilds from the snapshot's time only, so that time is the oldest moment, in the
     * room's version then (1), and an earlier time is unavailable, not a document less. */
    memset(&r, 0, sizeof(r));
    r.ret.doc_keep = 1;
    r.ret.batch = 1000;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_RETENTION_SWEEP, &r), STORE_OK);
    store_rooms_free(&r);
    ASSERT_EQ(state_at(st, &loop, &c, &r, -1, op0 + 2, "", 10), STORE_OK);
    ASSERT_EQ(r.hist.unavailable, 1);
    ASSERT_EQ(r.hist.base_version, 1);
    ASSERT_EQ(r.hist.base_time, op0 + 3);
    ASSERT_EQ(r.ndocs, 0);
    store_rooms_free(&r);
    ASSERT_EQ(state_at(st, &loop, &c, &r, 1, 0, "", 10), STORE_OK); /* by version: then */
    ASSERT_EQ(r.hist.unavailable, 0);
    ASSERT_EQ(r.hist.version, 1);
    ASSERT_EQ(r.hist.time, op0 + 3);
    ASSERT_EQ(r.ndocs, 1);
    ASSERT_EQ(r.docs[0].version, 3);
    ASSERT_STREQ(r.docs[0].snapshot, snap);
    ASSERT_EQ(r.ndops, 0);
    store_rooms_free(&r);
    ASSERT_EQ(state_at(st, &loop, &c, &r, -1, op0 + 3, "", 10), STORE_OK);
    ASSERT_EQ(r.hist.unavailable, 0);
    ASSERT_EQ(r.ndocs, 1);
    ASSERT_EQ(r.docs[0].version, 3);
    store_rooms_free(&r);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

static void test_usage_and_retention(void)
{
    char path[512];
    new_target(path, sizeof(path), "usage");
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
    ASSERT_EQ(ent_req(st, &loop, &c, STORE_ENTITY_PUT, 1, "a", 1, 2), STORE_OK);
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
    /* Left: room 2's newest message (seq 3, and its seq stays 3), no op. */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    ASSERT_EQ(page(st, &loop, &c, 2, -1, -1, 10, 3), 1);
    ASSERT_EQ(page(st, &loop, &c, 1, -1, -1, 10, 1), 0);
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "d", 0, 10), 0);
    ASSERT_EQ(load_rooms(st, &loop, &c, &r), STORE_OK);
    ASSERT_EQ(r.nrooms, 1);
    ASSERT_EQ(r.rooms[0].last_seq, 3);
    store_rooms_free(&r);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

/* ---- contract points: refusals in a group commit, side effects ---- */

/* Submits gate (any read, initialised before the others so the callbacks' order
 * check holds), which the counted backend parks in its own transaction, then the n
 * requests, then lets the worker go: the n are all queued when it next looks, so they run
 * as one batch (the caller checks counted_begins). Runs the loop until all answered. */
static void submit_batch(store_t *st, uv_loop_t *loop, treq_t *gate, treq_t **t, int n)
{
    store_rooms_t gate_rooms;
    memset(&gate_rooms, 0, sizeof(gate_rooms));
    gate->req.type = STORE_MESSAGES_PAGE;
    gate->req.rooms = &gate_rooms;
    counted_gate = 1;
    store_submit(st, &gate->req);
    uv_sem_wait(&counted_entered);
    for (int i = 0; i < n; i++)
        store_submit(st, &t[i]->req);
    uv_sem_post(&counted_release);
    uv_run(loop, UV_RUN_DEFAULT);
    store_rooms_free(&gate_rooms);
}

/* One transaction holding good requests and refused ones of every kind, several of them
 * requests of more than one statement: each refused one answers its error and leaves
 * nothing (no room, host, message, touched activity, snapshot, entity, revocation or
 * account), and every good one commits. */
static void test_batch_refusals_undone_whole(void)
{
    char path[512];
    new_target(path, sizeof(path), "refusals");
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
    ASSERT_EQ(create_room(st, &loop, &c, 2), STORE_OK);
    ASSERT_EQ(insert_msg(st, &loop, &c, 1, 1), STORE_OK);
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "main", 1, 1), STORE_OK);
    treq_t u;
    treq_init(&u, &c, STORE_USER_CREATE);
    fill_user(&u.req.user, 1);
    ASSERT_EQ(run_one(st, &loop, &u), STORE_OK);

    enum { B = 13 };
    treq_t gate, t[B], *tp[B];
    treq_init(&gate, &c, STORE_MESSAGES_PAGE);
    store_rooms_t r[B];
    store_docs_t d[B];
    memset(r, 0, sizeof(r));
    memset(d, 0, sizeof(d));
    const store_req_type_t types[B] = {
        STORE_MESSAGE_INSERT,  STORE_ROOM_CREATE, STORE_MESSAGE_INSERT, STORE_USER_UPDATE,
        STORE_DOC_OP_INSERT,   STORE_ENTITY_PUT,  STORE_USER_DELETE,    STORE_ROOM_UPDATE,
        STORE_PARTICIPANT_PUT, STORE_USER_CREATE, STORE_DOC_OP_INSERT,  STORE_MESSAGE_INSERT,
        STORE_USER_CREATE,
    };
    const int want[B] = {
        STORE_OK,        STORE_EEXISTS,   STORE_EEXISTS, STORE_ENOTFOUND, STORE_EEXISTS,
        STORE_ENOTFOUND, STORE_ENOTFOUND, STORE_EEXISTS, STORE_OK,        STORE_OK,
        STORE_OK,        STORE_EEXISTS,   STORE_EEXISTS,
    };
    for (int i = 0; i < B; i++) {
        treq_init(&t[i], &c, types[i]);
        t[i].req.rooms = &r[i];
        t[i].req.docs = &d[i];
        tp[i] = &t[i];
    }
    fill_msg(&r[0].msg, 1, 2);
    /* A new room with room 1's code: neither the room nor its host (user 3) may stay. */
    fill_room(&r[1].room, 3);
    strcpy(r[1].room.code, "R00001");
    fill_part(&r[1].part, r[1].room.id, 3, STORE_ROLE_HOST, 1);
    /* A taken seq: the message is refused, and the room's activity is not touched. */
    fill_msg(&r[2].msg, 1, 2);
    strcpy(r[2].msg.id, "fresh-id");
    r[2].msg.created_at = 1900000000000;
    /* A missing account with a new epoch: no revocation either. */
    strcpy(t[3].req.user.id, "no-such-user");
    strcpy(t[3].req.user.username, "x");
    t[3].req.update_mask = STORE_UPD_USERNAME | STORE_UPD_EPOCH;
    t[3].req.revoke.until_s = 777;
    /* A taken version with a snapshot: neither op nor snapshot. */
    fill_op(&d[4].op, 1, "main", 1);
    d[4].doc.snapshot = strdup("must not be stored");
    /* An entity of a missing room: no room's version or activity moves. */
    fill_entity(&r[5].ent, 9, "e", 1, 50);
    strcpy(t[6].req.user.id, "no-such-user-either");
    t[6].req.revoke.until_s = 888;
    /* Room 2 to room 1's code: refused whole, its other fields stay too. */
    fill_room(&r[7].room, 2);
    strcpy(r[7].room.code, "R00001");
    strcpy(r[7].room.name, "must not be stored");
    r[7].room.state_version = 99;
    r[7].room.last_activity = 1950000000000;
    fill_part(&r[8].part, "10000000-0000-4000-8000-000000000001", 7, STORE_ROLE_MEMBER, 5);
    fill_user(&t[9].req.user, 2);
    fill_op(&d[10].op, 1, "main", 2);
    d[10].doc.snapshot = strdup("main at 2");
    fill_msg(&r[11].msg, 1, 2); /* taken again, the batch's last message */
    strcpy(r[11].msg.id, "fresh-id-2");
    r[11].msg.created_at = 1990000000000;
    fill_user(&t[12].req.user, 3);
    strcpy(t[12].req.user.email, "user2@example.com"); /* the batch-mate's */

    log_level_t saved = test_log.level;
    test_log.level = LOG_ERROR; /* a backend may warn about a refusal */
    counted_begins = 0;
    submit_batch(st, &loop, &gate, tp, B);
    test_log.level = saved;
    ASSERT_EQ(counted_begins, 2); /* the gate's, then one for the B */
    for (int i = 0; i < B; i++) {
        if (t[i].req.err != want[i]) fprintf(stderr, "request %d\n", i);
        ASSERT_EQ(t[i].req.err, want[i]);
        store_rooms_free(&r[i]);
        store_docs_free(&d[i]);
    }
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);

    /* After a reopen: exactly what the good requests wrote. */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    ASSERT_EQ(count_msgs(st, &loop, &c, 1), 2); /* seq 1 and 2, as fill_msg built them */
    store_rooms_t all;
    ASSERT_EQ(load_rooms(st, &loop, &c, &all), STORE_OK);
    ASSERT_EQ(all.nrooms, 2);
    ASSERT_TRUE(room_of(&all, 3) == NULL);
    ASSERT_EQ(parts_of(&all, 3, -1), 0);
    ASSERT_EQ(parts_of(&all, 0, 3), 0);
    ASSERT_EQ(parts_of(&all, 1, 7), 1);
    ASSERT_EQ(all.nparts, 3);
    ASSERT_EQ(all.nents, 0);
    const store_room_t *r1 = room_of(&all, 1), *r2 = room_of(&all, 2);
    ASSERT_TRUE(r1 && r2);
    ASSERT_EQ(r1->last_seq, 2);
    ASSERT_EQ(r1->last_activity, 1700000100000 + 2); /* the good message's time */
    ASSERT_EQ(r1->state_version, 1);
    ASSERT_STREQ(r1->code, "R00001");
    ASSERT_STREQ(r2->code, "R00002");
    ASSERT_STREQ(r2->name, "Room 2");
    ASSERT_EQ(r2->state_version, 1);
    ASSERT_EQ(r2->last_activity, 1700000000002);
    store_rooms_free(&all);
    store_docs_t doc;
    ASSERT_EQ(load_doc(st, &loop, &c, 1, "main", &doc), STORE_OK);
    ASSERT_EQ(doc.doc.version, 2);
    ASSERT_STREQ(doc.doc.snapshot, "main at 2");
    ASSERT_EQ(doc.nops, 0);
    store_docs_free(&doc);
    ASSERT_EQ(ops_range(st, &loop, &c, 1, "main", 0, 10), 2);
    treq_init(&u, &c, STORE_REVOKE_LOAD);
    u.req.revoke.until_s = 0;
    ASSERT_EQ(run_one(st, &loop, &u), STORE_OK);
    ASSERT_EQ(u.req.nrevokes, 0);
    free(u.req.revokes);
    ASSERT_TRUE(user_exists(st, &loop, &c, 1));
    ASSERT_TRUE(user_exists(st, &loop, &c, 2));
    ASSERT_TRUE(!user_exists(st, &loop, &c, 3));
    ASSERT_TRUE(!email_exists(st, &loop, &c, "user3@example.com"));
    ASSERT_EQ(close_store(st, &loop), 0);
    uv_sem_destroy(&counted_entered);
    uv_sem_destroy(&counted_release);
    drop_target(path);
}

/* Builds the entity request of room 1 with the room's version rv at time at. */
static int ent_at(store_t *st, uv_loop_t *loop, tctx_t *c, store_req_type_t type,
                  const char *id, int64_t rv, int64_t at)
{
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_entity(&r.ent, 1, id, 1, rv);
    r.ent.updated_at = at;
    int err = run_rooms(st, loop, c, type, &r);
    store_rooms_free(&r);
    return err;
}

/* The room's state_version as stored, or -1. */
static int64_t version_of(store_t *st, uv_loop_t *loop, tctx_t *c, int i)
{
    store_rooms_t r;
    int64_t v = -1;
    if (load_rooms(st, loop, c, &r) == STORE_OK && room_of(&r, i))
        v = room_of(&r, i)->state_version;
    store_rooms_free(&r);
    return v;
}

/* Which requests move a room's last_activity and state_version (store.h's side effects):
 * messages set the activity, entity changes raise both and never lower them (a lower
 * state version is refused), a room update sets them as given but never lowers the state
 * version; participants, documents and retention leave them alone. */
static void test_room_activity_side_effects(void)
{
    const int64_t created = 1700000000001;
    char path[512];
    new_target(path, sizeof(path), "activity");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    ASSERT_EQ(activity_of(st, &loop, &c, 1), created);
    ASSERT_EQ(version_of(st, &loop, &c, 1), 1);

    /* Participants and documents: untouched, whatever their times. */
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_part(&r.part, "10000000-0000-4000-8000-000000000001", 7, STORE_ROLE_MEMBER,
              1990000000000);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTICIPANT_PUT, &r), STORE_OK);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTICIPANT_DELETE, &r), STORE_OK);
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "main", 1, 1), STORE_OK); /* at 1700000200001 */
    ASSERT_EQ(insert_op(st, &loop, &c, 1, "main", 2, 0), STORE_OK);
    ASSERT_EQ(activity_of(st, &loop, &c, 1), created);
    ASSERT_EQ(version_of(st, &loop, &c, 1), 1);

    /* A message: its time. */
    ASSERT_EQ(insert_msg(st, &loop, &c, 1, 1), STORE_OK);
    ASSERT_EQ(activity_of(st, &loop, &c, 1), 1700000100001);
    ASSERT_EQ(version_of(st, &loop, &c, 1), 1);

    /* Entities set the version and raise the activity, a delete too (even of a missing
     * one). Only the room's next version is stored: a taken one, a lower one and a gap
     * are refused (EEXISTS) with nothing written, not even the activity; an older
     * activity never lowers it. */
    ASSERT_EQ(ent_at(st, &loop, &c, STORE_ENTITY_PUT, "a", 2, 1800000000000), STORE_OK);
    ASSERT_EQ(activity_of(st, &loop, &c, 1), 1800000000000);
    ASSERT_EQ(version_of(st, &loop, &c, 1), 2);
    ASSERT_EQ(ent_at(st, &loop, &c, STORE_ENTITY_PUT, "a", 2, 1900000000000), STORE_EEXISTS);
    ASSERT_EQ(ent_at(st, &loop, &c, STORE_ENTITY_PUT, "a", 1, 1900000000000), STORE_EEXISTS);
    ASSERT_EQ(ent_at(st, &loop, &c, STORE_ENTITY_PUT, "a", 4, 1900000000000), STORE_EEXISTS);
    ASSERT_EQ(activity_of(st, &loop, &c, 1), 1800000000000);
    ASSERT_EQ(version_of(st, &loop, &c, 1), 2);
    ASSERT_EQ(ent_at(st, &loop, &c, STORE_ENTITY_PUT, "b", 3, 1750000000000), STORE_OK);
    ASSERT_EQ(activity_of(st, &loop, &c, 1), 1800000000000);
    ASSERT_EQ(version_of(st, &loop, &c, 1), 3);
    ASSERT_EQ(ent_at(st, &loop, &c, STORE_ENTITY_DELETE, "gone", 4, 1850000000000), STORE_OK);
    ASSERT_EQ(activity_of(st, &loop, &c, 1), 1850000000000);
    ASSERT_EQ(version_of(st, &loop, &c, 1), 4);
    ASSERT_EQ(ent_at(st, &loop, &c, STORE_ENTITY_DELETE, "a", 4, 1900000000000), STORE_EEXISTS);
    ASSERT_EQ(ent_at(st, &loop, &c, STORE_ENTITY_DELETE, "a", 6, 1900000000000), STORE_EEXISTS);
    ASSERT_EQ(activity_of(st, &loop, &c, 1), 1850000000000);
    ASSERT_EQ(version_of(st, &loop, &c, 1), 4);
    ASSERT_EQ(ent_at(st, &loop, &c, STORE_ENTITY_DELETE, "b", 5, 1700000000000), STORE_OK);
    ASSERT_EQ(activity_of(st, &loop, &c, 1), 1850000000000);
    ASSERT_EQ(version_of(st, &loop, &c, 1), 5);
    store_rooms_t ld;
    ASSERT_EQ(load_rooms(st, &loop, &c, &ld), STORE_OK);
    ASSERT_EQ(ld.nents, 1); /* "a" stays (its refused delete), "b" went */
    ASSERT_TRUE(ld.nents == 1 && strcmp(ld.ents[0].id, "a") == 0);
    store_rooms_free(&ld);

    /* A later message sets the activity to its time. */
    memset(&r, 0, sizeof(r));
    fill_msg(&r.msg, 1, 2);
    r.msg.created_at = 1860000000000;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_MESSAGE_INSERT, &r), STORE_OK);
    store_rooms_free(&r);
    ASSERT_EQ(activity_of(st, &loop, &c, 1), 1860000000000);

    /* Retention leaves both alone. */
    store_rooms_t sw;
    memset(&sw, 0, sizeof(sw));
    sw.ret = (store_retention_t){.msg_keep = 1, .doc_keep = 1, .batch = 100};
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_RETENTION_SWEEP, &sw), STORE_OK);
    ASSERT_EQ(sw.ret.more, 0);
    store_rooms_free(&sw);
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, 1);
    r.before = r.after = -1;
    r.limit = 10;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_MESSAGES_PAGE, &r), STORE_OK);
    ASSERT_EQ(r.nmsgs, 1); /* the sweep ran: only the newest is left */
    ASSERT_EQ(r.msgs[0].seq, 2);
    store_rooms_free(&r);
    ASSERT_EQ(activity_of(st, &loop, &c, 1), 1860000000000);
    ASSERT_EQ(version_of(st, &loop, &c, 1), 5);

    /* A room update sets both as given (the activity lower or not), but only as the
     * room's next version: a lower, a taken (a settings or code change takes a new one)
     * and a gap are refused (EEXISTS, nothing changed, the stored version answered). */
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, 1);
    r.room.last_activity = 1600000000000;
    strcpy(r.room.name, "must not be stored");
    const int64_t refused[][2] = {{2, 1}, {5, 4}, {7, 6}, {6, 6}, {8, 4}};
    for (size_t i = 0; i < CH_ARRAY_LEN(refused); i++) {
        r.room.state_version = refused[i][0];
        r.room.state_base = refused[i][1];
        ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_UPDATE, &r), STORE_EEXISTS);
        ASSERT_EQ(r.room.state_base, 5);
    }
    ASSERT_EQ(activity_of(st, &loop, &c, 1), 1860000000000);
    ASSERT_EQ(version_of(st, &loop, &c, 1), 5);
    r.room.state_version = 6;
    r.room.state_base = 5;
    strcpy(r.room.name, "renamed");
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_UPDATE, &r), STORE_OK);
    ASSERT_EQ(activity_of(st, &loop, &c, 1), 1600000000000);
    ASSERT_EQ(version_of(st, &loop, &c, 1), 6);
    r.room.state_version = 9; /* after the stored one: a write after failed ones */
    r.room.state_base = 6;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_UPDATE, &r), STORE_OK);
    ASSERT_EQ(version_of(st, &loop, &c, 1), 9);
    store_rooms_free(&r);
    ASSERT_EQ(load_rooms(st, &loop, &c, &ld), STORE_OK);
    ASSERT_STREQ(room_of(&ld, 1)->name, "renamed");
    store_rooms_free(&ld);
    /* A missing room is still ENOTFOUND, whatever its version. */
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, 9);
    r.room.state_version = 0;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_UPDATE, &r), STORE_ENOTFOUND);
    store_rooms_free(&r);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

/* ---- webhook deliveries (issue 21) ---- */

static void fill_hook(store_hook_t *h, int i, const char *endpoint, int room)
{
    memset(h, 0, sizeof(*h));
    snprintf(h->id, sizeof(h->id), "20000000-0000-4000-8000-%012d", i);
    snprintf(h->endpoint, sizeof(h->endpoint), "%s", endpoint);
    if (room) snprintf(h->room_id, sizeof(h->room_id), "10000000-0000-4000-8000-%012d", room);
    snprintf(h->type, sizeof(h->type), "message.created");
    char body[64];
    snprintf(body, sizeof(body), "{\"n\":%d,\"t\":\"é\"}", i);
    h->body = strdup(body);
    h->next_at = 1000 + i;
    h->created_at = 1000 + i;
    h->updated_at = 1000 + i;
}

static int run_hooks(store_t *st, uv_loop_t *loop, tctx_t *c, store_req_type_t type,
                     store_hooks_t *h)
{
    treq_t t;
    treq_init(&t, c, type);
    t.req.hooks = h;
    return run_one(st, loop, &t);
}

/* The n of the body of each row, in order, as "1,2,3". */
static void hook_ns(const store_hooks_t *h, char *out, size_t cap)
{
    out[0] = 0;
    for (size_t i = 0; i < h->nrows; i++) {
        int n = 0;
        sscanf(h->rows[i].body, "{\"n\":%d", &n);
        size_t len = strlen(out);
        snprintf(out + len, cap - len, "%s%d", i ? "," : "", n);
    }
}

static void test_webhook_queue(void)
{
    char path[512], ns[128];
    new_target(path, sizeof(path), "hooks");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    ASSERT_EQ(create_room(st, &loop, &c, 2), STORE_OK);
    /* A message carries its delivery: stored with it. */
    store_hook_t hk[4];
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_msg(&r.msg, 1, 1);
    fill_hook(&hk[0], 1, "app", 1);
    treq_t t;
    treq_init(&t, &c, STORE_MESSAGE_INSERT);
    t.req.rooms = &r;
    t.req.enqueue = hk;
    t.req.nenqueue = 1;
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    store_rooms_free(&r);
    free(hk[0].body);
    /* A refused message (a taken seq) queues nothing. */
    fill_msg(&r.msg, 1, 1);
    strcpy(r.msg.id, "other-id");
    fill_hook(&hk[0], 99, "app", 1);
    treq_init(&t, &c, STORE_MESSAGE_INSERT);
    t.req.rooms = &r;
    t.req.enqueue = hk;
    t.req.nenqueue = 1;
    ASSERT_EQ(run_one(st, &loop, &t), STORE_EEXISTS);
    store_rooms_free(&r);
    free(hk[0].body);
    /* HOOK_PUT: room 1's second, room 2's, one about no room on another endpoint, and
     * room 1's for that endpoint. */
    fill_hook(&hk[0], 2, "app", 1);
    fill_hook(&hk[1], 3, "app", 2);
    fill_hook(&hk[2], 4, "other", 0);
    fill_hook(&hk[3], 5, "other", 1);
    treq_init(&t, &c, STORE_HOOK_PUT);
    t.req.enqueue = hk;
    t.req.nenqueue = 4;
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    for (int i = 0; i < 4; i++)
        free(hk[i].body);

    /* Due: the oldest pending of each endpoint and room, oldest first. */
    store_hooks_t h;
    memset(&h, 0, sizeof(h));
    h.now = 5000;
    h.limit = 100;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_DUE, &h), STORE_OK);
    hook_ns(&h, ns, sizeof(ns));
    ASSERT_STREQ(ns, "1,3,4,5");
    ASSERT_EQ(h.pending, 5);
    ASSERT_STREQ(h.rows[0].endpoint, "app");
    ASSERT_STREQ(h.rows[0].room_id, "10000000-0000-4000-8000-000000000001");
    ASSERT_STREQ(h.rows[0].id, "20000000-0000-4000-8000-000000000001");
    ASSERT_STREQ(h.rows[0].body, "{\"n\":1,\"t\":\"é\"}");
    ASSERT_STREQ(h.rows[2].room_id, "");
    ASSERT_EQ(h.rows[0].state, STORE_HOOK_PENDING);
    ASSERT_EQ(h.rows[0].next_at, 1001);
    int64_t seq1 = h.rows[0].seq, seq3 = h.rows[1].seq;
    ASSERT_TRUE(seq1 < seq3);
    /* Not yet due: none; a limit. */
    h.now = 1002;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_DUE, &h), STORE_OK);
    hook_ns(&h, ns, sizeof(ns));
    ASSERT_STREQ(ns, "1");
    h.now = 5000;
    h.limit = 2;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_DUE, &h), STORE_OK);
    hook_ns(&h, ns, sizeof(ns));
    ASSERT_STREQ(ns, "1,3");
    h.limit = 100;

    /* Room 1's first fails and waits: its second waits behind it. */
    memset(&h.row, 0, sizeof(h.row));
    h.row.seq = seq1;
    h.row.state = STORE_HOOK_PENDING;
    h.row.attempts = 1;
    h.row.next_at = 9000;
    h.row.updated_at = 5000;
    h.row.last_status = 503;
    strcpy(h.row.last_error, "HTTP 503");
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_UPDATE, &h), STORE_OK);
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_DUE, &h), STORE_OK);
    hook_ns(&h, ns, sizeof(ns));
    ASSERT_STREQ(ns, "3,4,5");
    /* Delivered: the second is next. Room 2's is dead-lettered. */
    h.row.state = STORE_HOOK_DELIVERED;
    h.row.attempts = 2;
    h.row.updated_at = 9000;
    h.row.last_status = 200;
    h.row.last_error[0] = 0;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_UPDATE, &h), STORE_OK);
    h.row.seq = seq3;
    h.row.state = STORE_HOOK_DEAD;
    h.row.attempts = 8;
    h.row.updated_at = 9500;
    h.row.last_status = 0;
    strcpy(h.row.last_error, "connection refused");
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_UPDATE, &h), STORE_OK);
    /* A row no longer pending is not brought back by a late attempt's update. */
    h.row.state = STORE_HOOK_PENDING;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_UPDATE, &h), STORE_ENOTFOUND);
    h.row.state = STORE_HOOK_DEAD;
    h.now = 9000;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_DUE, &h), STORE_OK);
    hook_ns(&h, ns, sizeof(ns));
    ASSERT_STREQ(ns, "2,4,5");
    ASSERT_EQ(h.pending, 3);
    h.row.seq = 999999;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_UPDATE, &h), STORE_ENOTFOUND);

    /* The log: newest first, every state; pages by seq. */
    h.before = -1;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_LOG, &h), STORE_OK);
    hook_ns(&h, ns, sizeof(ns));
    ASSERT_STREQ(ns, "5,4,3,2,1");
    ASSERT_EQ(h.rows[4].state, STORE_HOOK_DELIVERED);
    ASSERT_EQ(h.rows[4].attempts, 2);
    ASSERT_EQ(h.rows[4].last_status, 200);
    ASSERT_EQ(h.rows[2].state, STORE_HOOK_DEAD);
    ASSERT_STREQ(h.rows[2].last_error, "connection refused");
    ASSERT_STREQ(h.rows[4].last_error, "");
    h.before = h.rows[1].seq;
    h.limit = 2;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_LOG, &h), STORE_OK);
    hook_ns(&h, ns, sizeof(ns));
    ASSERT_STREQ(ns, "3,2");
    store_hooks_free(&h);
    ASSERT_EQ(close_store(st, &loop), 0);

    /* Durable; the prune drops finished rows changed before its time, never pending ones. */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    memset(&h, 0, sizeof(h));
    h.before = 9200;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_PRUNE, &h), STORE_OK);
    ASSERT_EQ(h.pending, 1); /* the delivered one; the dead one changed at 9500 */
    h.before = -1;
    h.limit = 100;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_LOG, &h), STORE_OK);
    hook_ns(&h, ns, sizeof(ns));
    ASSERT_STREQ(ns, "5,4,3,2");
    store_hooks_free(&h);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

/* The delivery log's filters (endpoint, state) and paging; a dead delivery retried;
 * endpoints created, listed and deleted (their pending deliveries dead-lettered). */
static void test_webhook_endpoints_and_log(void)
{
    char path[512], ns[128];
    new_target(path, sizeof(path), "hookeps");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    store_hook_t hk[5];
    fill_hook(&hk[0], 1, "wh_a", 1);
    fill_hook(&hk[1], 2, "wh_b", 1);
    fill_hook(&hk[2], 3, "wh_a", 2);
    fill_hook(&hk[3], 4, "wh_a", 1);
    fill_hook(&hk[4], 5, "wh_b", 2);
    treq_t t;
    treq_init(&t, &c, STORE_HOOK_PUT);
    t.req.enqueue = hk;
    t.req.nenqueue = 5;
    ASSERT_EQ(run_one(st, &loop, &t), STORE_OK);
    for (int i = 0; i < 5; i++)
        free(hk[i].body);
    store_hooks_t h;
    memset(&h, 0, sizeof(h));
    h.before = -1;
    h.limit = 100;
    strcpy(h.endpoint, "wh_a");
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_LOG, &h), STORE_OK);
    hook_ns(&h, ns, sizeof(ns));
    ASSERT_STREQ(ns, "4,3,1");
    int64_t seq1 = h.rows[2].seq, seq3 = h.rows[1].seq;
    /* #1 dead, #3 delivered. */
    memset(&h.row, 0, sizeof(h.row));
    h.row.seq = seq1;
    h.row.state = STORE_HOOK_DEAD;
    h.row.attempts = 10;
    h.row.next_at = 7000;
    h.row.updated_at = 7000;
    h.row.last_status = 500;
    strcpy(h.row.last_error, "HTTP 500");
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_UPDATE, &h), STORE_OK);
    h.row.seq = seq3;
    h.row.state = STORE_HOOK_DELIVERED;
    h.row.attempts = 1;
    h.row.last_status = 200;
    h.row.last_error[0] = 0;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_UPDATE, &h), STORE_OK);
    h.log_state = 1 + STORE_HOOK_PENDING;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_LOG, &h), STORE_OK);
    hook_ns(&h, ns, sizeof(ns));
    ASSERT_STREQ(ns, "4");
    h.log_state = 1 + STORE_HOOK_DEAD;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_LOG, &h), STORE_OK);
    hook_ns(&h, ns, sizeof(ns));
    ASSERT_STREQ(ns, "1");
    h.endpoint[0] = 0; /* any endpoint, delivered only */
    h.log_state = 1 + STORE_HOOK_DELIVERED;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_LOG, &h), STORE_OK);
    hook_ns(&h, ns, sizeof(ns));
    ASSERT_STREQ(ns, "3");
    h.log_state = 0;
    h.before = seq3;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_LOG, &h), STORE_OK);
    hook_ns(&h, ns, sizeof(ns));
    ASSERT_STREQ(ns, "2,1");

    /* Retry: a dead one goes back to pending with no attempts; others are refused. */
    memset(&h.row, 0, sizeof(h.row));
    strcpy(h.row.id, "20000000-0000-4000-8000-000000000001");
    h.now = 8000;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_RETRY, &h), STORE_OK);
    ASSERT_EQ(h.row.state, STORE_HOOK_PENDING);
    ASSERT_EQ(h.row.attempts, 0);
    ASSERT_EQ(h.row.next_at, 8000);
    ASSERT_EQ(h.row.seq, seq1);
    ASSERT_STREQ(h.row.last_error, "HTTP 500");
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_RETRY, &h), STORE_EEXISTS);
    ASSERT_EQ(h.row.state, STORE_HOOK_PENDING);
    free(h.row.body); /* the retry's answer owns it */
    memset(&h.row, 0, sizeof(h.row));
    strcpy(h.row.id, "20000000-0000-4000-8000-000000000003"); /* delivered */
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_RETRY, &h), STORE_EEXISTS);
    ASSERT_EQ(h.row.state, STORE_HOOK_DELIVERED);
    strcpy(h.row.id, "no-such-delivery");
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_RETRY, &h), STORE_ENOTFOUND);

    /* Endpoints. */
    const char *ids[2] = {"wh_b", "wh_a"};
    for (int i = 0; i < 2; i++) {
        memset(&h.ep, 0, sizeof(h.ep));
        snprintf(h.ep.id, sizeof(h.ep.id), "%s", ids[i]);
        h.ep.url = strdup(i ? "http://127.0.0.1:9/a" : "https://example.com/hooks?x=é");
        snprintf(h.ep.secret, sizeof(h.ep.secret), "secret-%d-0123456789", i);
        snprintf(h.ep.events, sizeof(h.ep.events), "%s", i ? "*" : "message.created");
        h.ep.created_at = 100 + i;
        ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_EP_CREATE, &h), STORE_OK);
        ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_EP_CREATE, &h), STORE_EEXISTS);
        free(h.ep.url);
        h.ep.url = NULL;
    }
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_EP_LIST, &h), STORE_OK);
    ASSERT_EQ(h.neps, 2);
    ASSERT_STREQ(h.eps[0].id, "wh_b");
    ASSERT_STREQ(h.eps[0].url, "https://example.com/hooks?x=é");
    ASSERT_STREQ(h.eps[0].secret, "secret-0-0123456789");
    ASSERT_STREQ(h.eps[0].events, "message.created");
    ASSERT_EQ(h.eps[0].created_at, 100);
    ASSERT_STREQ(h.eps[1].id, "wh_a");
    ASSERT_STREQ(h.eps[1].events, "*");
    /* Deleting wh_a dead-letters its pending deliveries (#1 again and #4), not wh_b's. */
    memset(&h.ep, 0, sizeof(h.ep));
    strcpy(h.ep.id, "wh_a");
    h.now = 9000;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_EP_DELETE, &h), STORE_OK);
    ASSERT_EQ(h.pending, 2);
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_EP_DELETE, &h), STORE_ENOTFOUND);
    h.before = -1;
    h.log_state = 1 + STORE_HOOK_DEAD;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_LOG, &h), STORE_OK);
    hook_ns(&h, ns, sizeof(ns));
    ASSERT_STREQ(ns, "4,1");
    ASSERT_STREQ(h.rows[0].last_error, "endpoint deleted");
    h.log_state = 1 + STORE_HOOK_PENDING;
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_LOG, &h), STORE_OK);
    hook_ns(&h, ns, sizeof(ns));
    ASSERT_STREQ(ns, "5,2");
    ASSERT_EQ(run_hooks(st, &loop, &c, STORE_HOOK_EP_LIST, &h), STORE_OK);
    ASSERT_EQ(h.neps, 1);
    ASSERT_STREQ(h.eps[0].id, "wh_b");
    store_hooks_free(&h);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

/* ---- assets (issue 23) ---- */

/* Asset k of room `room` by user `user`: id 32 hex digits, content hash h (a digit). */
static void fill_asset(store_asset_t *a, int k, int room, int user, char h, int64_t at)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->id, sizeof(a->id), "%032x", (unsigned)k);
    snprintf(a->room_id, sizeof(a->room_id), "10000000-0000-4000-8000-%012d", room);
    snprintf(a->uploader, sizeof(a->uploader), "00000000-0000-4000-8000-%012d", user);
    memset(a->sha256, h, 64);
    a->size = 1000 * k;
    snprintf(a->name, sizeof(a->name), "file %d ✓.png", k);
    snprintf(a->type, sizeof(a->type), "image/png");
    a->created_at = at;
}

static int run_assets(store_t *st, uv_loop_t *loop, tctx_t *c, store_req_type_t type,
                      store_assets_t *a)
{
    treq_t t;
    treq_init(&t, c, type);
    t.req.assets = a;
    return run_one(st, loop, &t);
}

/* ASSET_READABLE for user u and content h: found, or -1 on an error. */
static int readable(store_t *st, uv_loop_t *loop, tctx_t *c, int u, char h)
{
    store_assets_t a;
    memset(&a, 0, sizeof(a));
    snprintf(a.row.uploader, sizeof(a.row.uploader), "00000000-0000-4000-8000-%012d", u);
    memset(a.row.sha256, h, 64);
    return run_assets(st, loop, c, STORE_ASSET_READABLE, &a) == STORE_OK ? a.found : -1;
}

/* Assets: put (a taken id, a missing room refused with nothing stored), get, pages newest
 * first with a (created_at, id) cursor, also one of no asset, delete (the row as it was), who
 * may read a content (uploader, a participant, not a banned one nor a stranger), a user's
 * bytes, whether a content is referenced, durability, and a room's deletion taking its assets.
 */
static void test_assets(void)
{
    char path[512];
    new_target(path, sizeof(path), "assets");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    ASSERT_EQ(create_room(st, &loop, &c, 2), STORE_OK);
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_part(&r.part, "10000000-0000-4000-8000-000000000001", 5, STORE_ROLE_MEMBER, 1);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTICIPANT_PUT, &r), STORE_OK);
    fill_part(&r.part, "10000000-0000-4000-8000-000000000001", 6, STORE_ROLE_MEMBER, 1);
    r.part.banned = 1;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_PARTICIPANT_PUT, &r), STORE_OK);

    store_assets_t a;
    memset(&a, 0, sizeof(a));
    /* Five assets in room 1 by user 1 (3 and 4 at the same time: the id breaks the tie),
     * one in room 2 by user 2 with content 'b'. */
    const int64_t at[5] = {100, 200, 300, 300, 500};
    for (int k = 1; k <= 5; k++) {
        fill_asset(&a.row, k, 1, 1, 'a', at[k - 1]);
        ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_PUT, &a), STORE_OK);
    }
    fill_asset(&a.row, 6, 2, 2, 'b', 600);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_PUT, &a), STORE_OK);
    fill_asset(&a.row, 8, 1, 7, 'p', 650); /* user 7's own: no room */
    a.row.room_id[0] = '\0';
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_PUT, &a), STORE_OK);
    fill_asset(&a.row, 1, 2, 2, 'c', 700); /* a taken id */
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_PUT, &a), STORE_EEXISTS);
    fill_asset(&a.row, 7, 9, 2, 'c', 700); /* no room 9 */
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_PUT, &a), STORE_ENOTFOUND);
    memset(a.row.sha256, 'c', 64);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_HASH_USED, &a), STORE_OK);
    ASSERT_EQ(a.found, 0); /* neither refused put stored anything */

    memset(&a, 0, sizeof(a));
    snprintf(a.row.id, sizeof(a.row.id), "%032x", 1u);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_GET, &a), STORE_OK);
    ASSERT_STREQ(a.row.room_id, "10000000-0000-4000-8000-000000000001");
    ASSERT_STREQ(a.row.uploader, "00000000-0000-4000-8000-000000000001");
    ASSERT_EQ(strspn(a.row.sha256, "a"), 64);
    ASSERT_EQ(a.row.size, 1000);
    ASSERT_STREQ(a.row.name, "file 1 ✓.png");
    ASSERT_STREQ(a.row.type, "image/png");
    ASSERT_EQ(a.row.created_at, 100);
    snprintf(a.row.id, sizeof(a.row.id), "%032x", 99u);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_GET, &a), STORE_ENOTFOUND);

    /* Pages of 2, newest first: 5, 4, 3, 2, 1. */
    const unsigned want[5] = {5, 4, 3, 2, 1};
    memset(&a, 0, sizeof(a));
    snprintf(a.row.room_id, sizeof(a.row.room_id), "10000000-0000-4000-8000-000000000001");
    size_t seen = 0;
    for (int pg = 0; pg < 4; pg++) {
        a.limit = 2;
        ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_LIST, &a), STORE_OK);
        for (size_t i = 0; i < a.nrows; i++) {
            char id[STORE_ID_LEN];
            snprintf(id, sizeof(id), "%032x", want[seen + i]);
            ASSERT_STREQ(a.rows[i].id, id);
        }
        seen += a.nrows;
        if (a.nrows == 0) break;
        snprintf(a.before, sizeof(a.before), "%s", a.rows[a.nrows - 1].id);
        a.before_at = a.rows[a.nrows - 1].created_at;
    }
    ASSERT_EQ(seen, 5);
    /* A cursor whose asset does not exist (deleted since): the page goes on after it. */
    snprintf(a.before, sizeof(a.before), "%032x", 99u);
    a.before_at = 300;
    a.limit = 10;
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_LIST, &a), STORE_OK);
    ASSERT_EQ(a.nrows, 4);
    ASSERT_EQ(a.rows[0].created_at, 300);
    ASSERT_EQ(a.rows[3].created_at, 100);
    a.before[0] = '\0';
    a.limit = 0;
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_LIST, &a), STORE_OK);
    ASSERT_EQ(a.nrows, 0);
    store_assets_free(&a);

    /* Who may read content 'a' (room 1) and 'b' (room 2). */
    ASSERT_EQ(readable(st, &loop, &c, 1, 'a'), 1); /* uploader and host */
    ASSERT_EQ(readable(st, &loop, &c, 5, 'a'), 1); /* a participant */
    ASSERT_EQ(readable(st, &loop, &c, 6, 'a'), 0); /* banned */
    ASSERT_EQ(readable(st, &loop, &c, 2, 'a'), 0); /* another room's */
    ASSERT_EQ(readable(st, &loop, &c, 2, 'b'), 1);
    ASSERT_EQ(readable(st, &loop, &c, 5, 'b'), 0);
    ASSERT_EQ(readable(st, &loop, &c, 1, 'c'), 0); /* no asset has it */
    ASSERT_EQ(readable(st, &loop, &c, 7, 'p'), 1); /* one's own, without a room */
    ASSERT_EQ(readable(st, &loop, &c, 1, 'p'), 0);
    memset(&a, 0, sizeof(a));
    snprintf(a.row.id, sizeof(a.row.id), "%032x", 8u);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_GET, &a), STORE_OK);
    ASSERT_STREQ(a.row.room_id, "");
    ASSERT_STREQ(a.row.uploader, "00000000-0000-4000-8000-000000000007");

    /* Bytes by uploader. */
    memset(&a, 0, sizeof(a));
    snprintf(a.row.uploader, sizeof(a.row.uploader), "00000000-0000-4000-8000-000000000001");
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_USAGE, &a), STORE_OK);
    ASSERT_EQ(a.bytes, 15000);
    snprintf(a.row.uploader, sizeof(a.row.uploader), "nobody");
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_USAGE, &a), STORE_OK);
    ASSERT_EQ(a.bytes, 0);

    /* Delete answers the row as it was; a second time, nothing. */
    memset(&a, 0, sizeof(a));
    snprintf(a.row.id, sizeof(a.row.id), "%032x", 6u);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_DELETE, &a), STORE_OK);
    ASSERT_STREQ(a.row.room_id, "10000000-0000-4000-8000-000000000002");
    ASSERT_EQ(a.row.size, 6000);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_DELETE, &a), STORE_ENOTFOUND);
    memset(a.row.sha256, 'b', 64);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_HASH_USED, &a), STORE_OK);
    ASSERT_EQ(a.found, 0);
    ASSERT_EQ(readable(st, &loop, &c, 2, 'b'), 0);
    ASSERT_EQ(close_store(st, &loop), 0);

    /* Durable; deleting room 1 takes its assets. */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    memset(a.row.sha256, 'a', 64);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_HASH_USED, &a), STORE_OK);
    ASSERT_EQ(a.found, 1);
    fill_room(&r.room, 1);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_DELETE, &r), STORE_OK);
    store_rooms_free(&r);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_HASH_USED, &a), STORE_OK);
    ASSERT_EQ(a.found, 0);
    snprintf(a.row.id, sizeof(a.row.id), "%032x", 1u);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_GET, &a), STORE_ENOTFOUND);
    ASSERT_EQ(c.wrong_thread, 0);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

/* ---- the activity log (ACT, issue 25) ---- */

static int run_acts(store_t *st, uv_loop_t *loop, tctx_t *c, store_req_type_t type,
                    store_acts_t *a)
{
    treq_t t;
    treq_init(&t, c, type);
    t.req.acts = a;
    return run_one(st, loop, &t);
}

/* Appends one row of kind k at time at to room `room` through ACT_PUT; its seq, or -1. */
static int64_t put_act(store_t *st, uv_loop_t *loop, tctx_t *c, int room, const char *k,
                       int64_t at)
{
    store_acts_t a;
    memset(&a, 0, sizeof(a));
    a.rows = calloc(1, sizeof(*a.rows));
    a.nrows = 1;
    snprintf(a.rows[0].room_id, STORE_ID_LEN, "10000000-0000-4000-8000-%012d", room);
    a.rows[0].at = at;
    snprintf(a.rows[0].user_id, STORE_SUB_LEN, "00000000-0000-4000-8000-000000000001");
    snprintf(a.rows[0].display_name, STORE_NAME_LEN, "Ana ✓");
    snprintf(a.rows[0].kind, STORE_ACT_KIND_LEN, "%s", k);
    a.rows[0].data = strdup("{\"messages\":3}");
    int64_t seq = run_acts(st, loop, c, STORE_ACT_PUT, &a) == STORE_OK ? a.rows[0].seq : -1;
    store_acts_free(&a);
    return seq;
}

/* The seqs of room `room`'s page below before, newest first, as "5,4,3". */
static void act_page(store_t *st, uv_loop_t *loop, tctx_t *c, int room, int64_t before,
                     uint32_t limit, char *out, size_t cap)
{
    store_acts_t a;
    memset(&a, 0, sizeof(a));
    snprintf(a.room_id, sizeof(a.room_id), "10000000-0000-4000-8000-%012d", room);
    a.before = before;
    a.limit = limit;
    ASSERT_EQ(run_acts(st, loop, c, STORE_ACT_PAGE, &a), STORE_OK);
    out[0] = '\0';
    for (size_t i = 0; i < a.nrows; i++) {
        size_t n = strlen(out);
        snprintf(out + n, cap - n, "%s%lld", i ? "," : "", (long long)a.rows[i].seq);
    }
    store_acts_free(&a);
}

/* Activity: each room numbers its rows from 1 in order (a batch of rows of two rooms and of
 * a missing room: that one skipped with seq 0), pages newest first with a cursor, the
 * fields as stored, retention by age and by count (never the newest row, so numbering
 * goes on), and a room's deletion taking its rows. */
static void test_activity(void)
{
    char path[512];
    new_target(path, sizeof(path), "activity");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    ASSERT_EQ(create_room(st, &loop, &c, 2), STORE_OK);

    store_acts_t a;
    memset(&a, 0, sizeof(a));
    a.nrows = 4;
    a.rows = calloc(a.nrows, sizeof(*a.rows));
    const int rooms[4] = {1, 2, 9, 1};
    for (size_t i = 0; i < a.nrows; i++) {
        snprintf(a.rows[i].room_id, STORE_ID_LEN, "10000000-0000-4000-8000-%012d", rooms[i]);
        a.rows[i].at = 100 + (int64_t)i;
        snprintf(a.rows[i].kind, STORE_ACT_KIND_LEN, "joined");
        a.rows[i].data = i == 1 ? NULL : strdup("{\"a\":1}");
    }
    ASSERT_EQ(run_acts(st, &loop, &c, STORE_ACT_PUT, &a), STORE_OK);
    ASSERT_EQ(a.rows[0].seq, 1);
    ASSERT_EQ(a.rows[1].seq, 1);
    ASSERT_EQ(a.rows[2].seq, 0); /* no room 9 */
    ASSERT_EQ(a.rows[3].seq, 2);
    store_acts_free(&a);
    for (int k = 3; k <= 6; k++)
        ASSERT_EQ(put_act(st, &loop, &c, 1, "messages", 1000 * k), k);

    char ns[64];
    act_page(st, &loop, &c, 1, 0, 4, ns, sizeof(ns));
    ASSERT_STREQ(ns, "6,5,4,3");
    act_page(st, &loop, &c, 1, 3, 4, ns, sizeof(ns));
    ASSERT_STREQ(ns, "2,1");
    act_page(st, &loop, &c, 1, 1, 4, ns, sizeof(ns));
    ASSERT_STREQ(ns, "");
    act_page(st, &loop, &c, 1, -1, 0, ns, sizeof(ns));
    ASSERT_STREQ(ns, "");
    act_page(st, &loop, &c, 9, 0, 10, ns, sizeof(ns));
    ASSERT_STREQ(ns, "");
    memset(&a, 0, sizeof(a));
    snprintf(a.room_id, sizeof(a.room_id), "10000000-0000-4000-8000-000000000001");
    a.limit = 100000; /* capped, not refused */
    ASSERT_EQ(run_acts(st, &loop, &c, STORE_ACT_PAGE, &a), STORE_OK);
    ASSERT_EQ(a.nrows, 6);
    ASSERT_EQ(a.rows[0].at, 6000);
    ASSERT_STREQ(a.rows[0].room_id, "10000000-0000-4000-8000-000000000001");
    ASSERT_STREQ(a.rows[0].user_id, "00000000-0000-4000-8000-000000000001");
    ASSERT_STREQ(a.rows[0].display_name, "Ana ✓");
    ASSERT_STREQ(a.rows[0].kind, "messages");
    ASSERT_STREQ(a.rows[0].data, "{\"messages\":3}");
    ASSERT_STREQ(a.rows[5].user_id, "");
    ASSERT_STREQ(a.rows[5].kind, "joined");
    store_acts_free(&a);
    memset(&a, 0, sizeof(a));
    snprintf(a.room_id, sizeof(a.room_id), "10000000-0000-4000-8000-000000000002");
    a.limit = 10;
    ASSERT_EQ(run_acts(st, &loop, &c, STORE_ACT_PAGE, &a), STORE_OK);
    ASSERT_EQ(a.nrows, 1);
    ASSERT_STREQ(a.rows[0].data, "{}"); /* NULL data is an empty object */
    store_acts_free(&a);

    /* Retention by age: rows before 4000 go (1, 2, 3), a budget of 2 at a time. */
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    r.ret.act_before = 4000;
    r.ret.batch = 2;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_RETENTION_SWEEP, &r), STORE_OK);
    ASSERT_EQ(r.ret.more, 1);
    for (int i = 0; i < 5 && r.ret.more; i++)
        ASSERT_EQ(run_rooms(st, &loop, &c, STORE_RETENTION_SWEEP, &r), STORE_OK);
    ASSERT_EQ(r.ret.more, 0);
    act_page(st, &loop, &c, 1, 0, 10, ns, sizeof(ns));
    ASSERT_STREQ(ns, "6,5,4");
    act_page(st, &loop, &c, 2, 0, 10, ns, sizeof(ns));
    ASSERT_STREQ(ns, "1"); /* a room's newest row stays whatever its age */
    /* By count: the newest 2 stay; then everything old: the newest stays, and the next
     * row is numbered on from it. */
    memset(&r.ret, 0, sizeof(r.ret));
    r.ret.act_keep = 2;
    r.ret.batch = 100;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_RETENTION_SWEEP, &r), STORE_OK);
    act_page(st, &loop, &c, 1, 0, 10, ns, sizeof(ns));
    ASSERT_STREQ(ns, "6,5");
    memset(&r.ret, 0, sizeof(r.ret));
    r.ret.act_before = INT64_MAX;
    r.ret.batch = 100;
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_RETENTION_SWEEP, &r), STORE_OK);
    act_page(st, &loop, &c, 1, 0, 10, ns, sizeof(ns));
    ASSERT_STREQ(ns, "6");
    store_rooms_free(&r);
    ASSERT_EQ(close_store(st, &loop), 0);

    /* Durable; numbering goes on after a reopen; deleting room 1 takes its rows. */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    ASSERT_EQ(put_act(st, &loop, &c, 1, "left", 7000), 7);
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, 1);
    ASSERT_EQ(run_rooms(st, &loop, &c, STORE_ROOM_DELETE, &r), STORE_OK);
    store_rooms_free(&r);
    act_page(st, &loop, &c, 1, 0, 10, ns, sizeof(ns));
    ASSERT_STREQ(ns, "");
    ASSERT_EQ(put_act(st, &loop, &c, 1, "left", 8000), 0);
    ASSERT_EQ(c.wrong_thread, 0);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

/* Reservation k of user u in room `room` (0: none) for len bytes. */
static void fill_reservation(store_assets_t *a, int k, int u, int room, int64_t len)
{
    memset(a, 0, sizeof(*a));
    snprintf(a->row.id, sizeof(a->row.id), "%032x", (unsigned)k);
    snprintf(a->row.uploader, sizeof(a->row.uploader), "00000000-0000-4000-8000-%012d", u);
    if (room)
        snprintf(a->row.room_id, sizeof(a->row.room_id), "10000000-0000-4000-8000-%012d", room);
    a->row.size = len;
    a->row.created_at = 1000 + k;
    a->quota_user = 1000;
    a->quota_room = 1500;
    a->max_incomplete = 3;
}

/* Upload reservations: the user's quota counts their assets and reservations, the room's
 * its own, the count of a user's reservations is capped; a refusal stores nothing;
 * reservations submitted together (one batch) each see the ones before; an asset of the
 * same id replaces its reservation; release; a taken id. */
static void test_upload_reservations(void)
{
    char path[512];
    new_target(path, sizeof(path), "reserve");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    store_assets_t a;
    memset(&a, 0, sizeof(a));
    fill_asset(&a.row, 50, 1, 1, 'a', 10); /* user 1 holds an asset of 50 000 bytes */
    a.row.size = 300;
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_PUT, &a), STORE_OK);

    /* Six reservations of 300 by user 1 at once: the asset's 300 and two fit in 1000. */
    treq_t t[6];
    store_assets_t r[6];
    for (int k = 0; k < 6; k++) {
        fill_reservation(&r[k], k + 1, 1, 0, 300);
        treq_init(&t[k], &c, STORE_UPLOAD_RESERVE);
        t[k].req.assets = &r[k];
        store_submit(st, &t[k].req);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    for (int k = 0; k < 6; k++) {
        ASSERT_EQ(t[k].done, 1);
        ASSERT_EQ(t[k].req.err, STORE_OK);
        ASSERT_EQ(r[k].refused, k < 2 ? 0 : STORE_RESERVE_USER);
        ASSERT_EQ(r[k].bytes, k < 2 ? 300 + 300 * k : 900);
        ASSERT_EQ(r[k].count, k < 2 ? k : 2);
    }
    /* A taken id. */
    fill_reservation(&a, 1, 1, 0, 1);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_RESERVE, &a), STORE_EEXISTS);
    /* The count: a third fits (100 bytes), a fourth is refused for the count. */
    fill_reservation(&a, 3, 1, 0, 100);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_RESERVE, &a), STORE_OK);
    ASSERT_EQ(a.refused, 0);
    fill_reservation(&a, 4, 1, 0, 0);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_RESERVE, &a), STORE_OK);
    ASSERT_EQ(a.refused, STORE_RESERVE_COUNT);
    ASSERT_EQ(a.count, 3);
    /* No limits: stored whatever is held. */
    fill_reservation(&a, 5, 1, 0, 5000);
    a.quota_user = a.quota_room = a.max_incomplete = 0;
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_RESERVE, &a), STORE_OK);
    ASSERT_EQ(a.refused, 0);
    ASSERT_EQ(a.bytes, 1000);
    /* Releases: 5 and 3; an unknown id. */
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_RELEASE, &a), STORE_OK);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_RELEASE, &a), STORE_ENOTFOUND);
    fill_reservation(&a, 3, 1, 0, 0);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_RELEASE, &a), STORE_OK);

    /* The room's quota (1500): the room's asset (300) and user 2's reservations in it. */
    fill_reservation(&a, 10, 2, 1, 900);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_RESERVE, &a), STORE_OK);
    ASSERT_EQ(a.refused, 0);
    ASSERT_EQ(a.room_bytes, 300);
    fill_reservation(&a, 11, 3, 1, 301);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_RESERVE, &a), STORE_OK);
    ASSERT_EQ(a.refused, STORE_RESERVE_ROOM);
    ASSERT_EQ(a.room_bytes, 1200);
    ASSERT_EQ(a.bytes, 0);
    fill_reservation(&a, 11, 3, 1, 300); /* exactly the quota */
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_RESERVE, &a), STORE_OK);
    ASSERT_EQ(a.refused, 0);

    /* Reservation 1 becomes an asset (300 bytes): user 1 still holds 900, and a
     * reservation of the same id is gone (releasing it finds nothing). */
    fill_asset(&a.row, 1, 1, 1, 'b', 20);
    a.row.size = 300;
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_PUT, &a), STORE_OK);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_RELEASE, &a), STORE_ENOTFOUND);
    fill_reservation(&a, 20, 1, 0, 100);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_RESERVE, &a), STORE_OK);
    ASSERT_EQ(a.refused, 0);
    ASSERT_EQ(a.bytes, 900);
    ASSERT_EQ(a.count, 1);
    ASSERT_EQ(close_store(st, &loop), 0);

    /* Durable. */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    fill_reservation(&a, 21, 1, 0, 1);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_RESERVE, &a), STORE_OK);
    ASSERT_EQ(a.refused, STORE_RESERVE_USER);
    ASSERT_EQ(a.bytes, 1000);
    ASSERT_EQ(c.wrong_thread, 0);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

/* The start of the asset-version tests: a store at a new target (name) on loop, with
 * room 1 and asset 1's first version by user 1 (put through *a, which it fills), its id in
 * first. *out gets the store (closed by the test), or NULL when this failed. */
static void versions_setup(char *path, size_t cap, const char *name, uv_loop_t *loop, tctx_t *c,
                           store_assets_t *a, char first[STORE_ID_LEN], store_t **out)
{
    *out = NULL;
    new_target(path, cap, name);
    uv_loop_init(loop);
    store_t *st = open_store(path, loop);
    ASSERT_TRUE(st != NULL);
    tctx_init(c);
    ASSERT_EQ(create_room(st, loop, c, 1), STORE_OK);
    memset(a, 0, sizeof(*a));
    fill_asset(&a->row, 1, 1, 1, 'a', 10);
    ASSERT_EQ(run_assets(st, loop, c, STORE_ASSET_PUT, a), STORE_OK);
    ASSERT_EQ(a->row.version, 1);
    ASSERT_STREQ(a->row.asset_id, a->row.id);
    ASSERT_STREQ(a->row.owner, "00000000-0000-4000-8000-000000000001");
    snprintf(first, STORE_ID_LEN, "%s", a->row.id);
    *out = st;
}

/* Asset versions (ASTS): a put naming an asset is its next version in the asset's room,
 * reads and lists show the current one, VERSIONS pages them newest first, an older
 * version's content stays referenced and readable, a taken id or an unknown asset
 * changes nothing, each version counts for its uploader, and a delete takes them all. */
static void test_asset_versions(void)
{
    char path[512], first[STORE_ID_LEN];
    uv_loop_t loop;
    tctx_t c;
    store_assets_t a;
    store_t *st;
    versions_setup(path, sizeof(path), "versions", &loop, &c, &a, first, &st);
    ASSERT_TRUE(st != NULL);
    /* Version 2 by user 2, naming no room: it takes the asset's. */
    fill_asset(&a.row, 2, 1, 2, 'b', 20);
    a.row.room_id[0] = '\0';
    snprintf(a.row.asset_id, sizeof(a.row.asset_id), "%s", first);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_PUT, &a), STORE_OK);
    ASSERT_EQ(a.row.version, 2);
    ASSERT_STREQ(a.row.room_id, "10000000-0000-4000-8000-000000000001");
    ASSERT_STREQ(a.row.owner, "00000000-0000-4000-8000-000000000001");
    /* Version 3 by user 1. */
    fill_asset(&a.row, 3, 1, 1, 'c', 30);
    snprintf(a.row.asset_id, sizeof(a.row.asset_id), "%s", first);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_PUT, &a), STORE_OK);
    ASSERT_EQ(a.row.version, 3);
    /* A taken id (recorded before) and an unknown asset: nothing changes. */
    fill_asset(&a.row, 2, 1, 2, 'd', 40);
    snprintf(a.row.asset_id, sizeof(a.row.asset_id), "%s", first);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_PUT, &a), STORE_EEXISTS);
    fill_asset(&a.row, 4, 1, 2, 'd', 40);
    snprintf(a.row.asset_id, sizeof(a.row.asset_id), "%032x", 99u);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_PUT, &a), STORE_ENOTFOUND);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_HASH_USED, &a), STORE_OK);
    ASSERT_EQ(a.found, 0);
    /* GET by the asset's id: the current version. */
    store_assets_free(&a); /* the rows of the request before */
    memset(&a, 0, sizeof(a));
    snprintf(a.row.id, sizeof(a.row.id), "%s", first);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_GET, &a), STORE_OK);
    ASSERT_EQ(a.row.version, 3);
    ASSERT_STREQ(a.row.id, "00000000000000000000000000000003");
    ASSERT_STREQ(a.row.asset_id, first);
    ASSERT_EQ(a.row.sha256[0], 'c');
    ASSERT_EQ(a.row.size, 3000);
    ASSERT_EQ(a.row.created_at, 30);
    ASSERT_STREQ(a.row.owner, "00000000-0000-4000-8000-000000000001");
    /* A version's own id is no asset id. */
    snprintf(a.row.id, sizeof(a.row.id), "%032x", 2u);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_GET, &a), STORE_ENOTFOUND);
    /* The room lists the asset once, as its current version. */
    store_assets_free(&a); /* the rows of the request before */
    memset(&a, 0, sizeof(a));
    snprintf(a.row.room_id, sizeof(a.row.room_id), "10000000-0000-4000-8000-000000000001");
    a.limit = 10;
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_LIST, &a), STORE_OK);
    ASSERT_EQ(a.nrows, 1);
    ASSERT_EQ(a.rows[0].version, 3);
    ASSERT_STREQ(a.rows[0].asset_id, first);
    /* Versions, newest first, in pages. */
    store_assets_free(&a); /* the rows of the request before */
    memset(&a, 0, sizeof(a));
    snprintf(a.row.id, sizeof(a.row.id), "%s", first);
    a.limit = 2;
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_VERSIONS, &a), STORE_OK);
    ASSERT_EQ(a.nrows, 2);
    ASSERT_EQ(a.rows[0].version, 3);
    ASSERT_EQ(a.rows[1].version, 2);
    ASSERT_STREQ(a.rows[1].uploader, "00000000-0000-4000-8000-000000000002");
    ASSERT_STREQ(a.rows[1].owner, "00000000-0000-4000-8000-000000000001");
    ASSERT_EQ(a.rows[1].sha256[0], 'b');
    a.before_at = 2;
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_VERSIONS, &a), STORE_OK);
    ASSERT_EQ(a.nrows, 1);
    ASSERT_EQ(a.rows[0].version, 1);
    ASSERT_STREQ(a.rows[0].id, first);
    /* Older contents stay referenced and readable; each version counts for its uploader. */
    ASSERT_EQ(readable(st, &loop, &c, 1, 'a'), 1);
    ASSERT_EQ(readable(st, &loop, &c, 3, 'a'), 0);
    store_assets_free(&a); /* the rows of the request before */
    memset(&a, 0, sizeof(a));
    memset(a.row.sha256, 'a', 64);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_HASH_USED, &a), STORE_OK);
    ASSERT_EQ(a.found, 1);
    snprintf(a.row.uploader, sizeof(a.row.uploader), "00000000-0000-4000-8000-000000000002");
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_USAGE, &a), STORE_OK);
    ASSERT_EQ(a.bytes, 2000);
    snprintf(a.row.uploader, sizeof(a.row.uploader), "00000000-0000-4000-8000-000000000001");
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_USAGE, &a), STORE_OK);
    ASSERT_EQ(a.bytes, 1000 + 3000);
    ASSERT_EQ(close_store(st, &loop), 0);

    /* Durable; a delete answers the current version and takes every version. */
    uv_loop_init(&loop);
    st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    store_assets_free(&a); /* the rows of the request before */
    memset(&a, 0, sizeof(a));
    snprintf(a.row.id, sizeof(a.row.id), "%s", first);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_DELETE, &a), STORE_OK);
    ASSERT_EQ(a.row.version, 3);
    ASSERT_EQ(a.row.sha256[0], 'c');
    ASSERT_STREQ(a.row.owner, "00000000-0000-4000-8000-000000000001");
    snprintf(a.row.id, sizeof(a.row.id), "%s", first);
    a.limit = 10;
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_VERSIONS, &a), STORE_OK);
    ASSERT_EQ(a.nrows, 0);
    for (char h = 'a'; h <= 'c'; h++) {
        memset(a.row.sha256, h, 64);
        ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_HASH_USED, &a), STORE_OK);
        ASSERT_EQ(a.found, 0);
    }
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_DELETE, &a), STORE_ENOTFOUND);
    store_assets_free(&a);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

/* Two versions of one asset stored at once each get a number of their own (N+1, N+2),
 * in one batch and, on PostgreSQL, from two nodes: another connection's version is
 * committed while this one waits on the asset, which then takes the number after it.
 * EEXISTS means only "this upload id is taken". */
static void test_asset_versions_at_once(void)
{
    char path[512], first[STORE_ID_LEN];
    uv_loop_t loop;
    tctx_t c;
    store_assets_t a[2];
    store_t *st;
    versions_setup(path, sizeof(path), "verrace", &loop, &c, &a[0], first, &st);
    ASSERT_TRUE(st != NULL);
    memset(&a[1], 0, sizeof(a[1]));
    /* Two puts in flight together. */
    treq_t t[2];
    for (int i = 0; i < 2; i++) {
        fill_asset(&a[i].row, 2 + i, 1, 2, (char)('b' + i), 20 + i);
        snprintf(a[i].row.asset_id, sizeof(a[i].row.asset_id), "%s", first);
        treq_init(&t[i], &c, STORE_ASSET_PUT);
        t[i].req.assets = &a[i];
        store_submit(st, &t[i].req);
    }
    uv_run(&loop, UV_RUN_DEFAULT);
    ASSERT_EQ(t[0].done && t[1].done, 1);
    ASSERT_EQ(t[0].req.err, STORE_OK);
    ASSERT_EQ(t[1].req.err, STORE_OK);
    ASSERT_EQ(a[0].row.version, 2);
    ASSERT_EQ(a[1].row.version, 3);
    if (cur->backend == &store_pg_backend) {
        /* Another node stores version 4 and holds its transaction open (locking the
         * asset as the store does); this node's version 5 waits for it. */
        PGconn *other = PQconnectdb(path);
        ASSERT_EQ(PQstatus(other) == CONNECTION_OK, 1);
        char sql[1024];
        snprintf(sql, sizeof(sql),
                 "BEGIN; SELECT 1 FROM assets WHERE id = '%s' FOR UPDATE;"
                 " UPDATE assets SET current = 0 WHERE asset_id = '%s' AND current = 1;"
                 " INSERT INTO assets(id, room_id, uploader, sha256, size, name, type,"
                 " created_at, asset_id, version, current) SELECT '%032x', room_id, uploader,"
                 " sha256, size, name, type, 40, asset_id, 4, 1 FROM assets WHERE id = '%s'",
                 first, first, 4u, first);
        PGresult *r = PQexec(other, sql);
        ASSERT_EQ(PQresultStatus(r) == PGRES_COMMAND_OK, 1);
        PQclear(r);
        fill_asset(&a[0].row, 5, 1, 3, 'e', 50);
        snprintf(a[0].row.asset_id, sizeof(a[0].row.asset_id), "%s", first);
        treq_init(&t[0], &c, STORE_ASSET_PUT);
        t[0].req.assets = &a[0];
        store_submit(st, &t[0].req);
        /* Until the store's connection waits on the other's lock (no timing: polled). */
        long long waiting = 0;
        for (int i = 0; i < 20000 && waiting < 1; i++) {
            waiting = pg_test_int(path, "SELECT count(*) FROM pg_stat_activity"
                                        " WHERE datname = current_database()"
                                        " AND wait_event_type = 'Lock'");
            if (waiting < 1) usleep(1000);
        }
        ASSERT_EQ(waiting, 1);
        r = PQexec(other, "COMMIT");
        ASSERT_EQ(PQresultStatus(r) == PGRES_COMMAND_OK, 1);
        PQclear(r);
        PQfinish(other);
        uv_run(&loop, UV_RUN_DEFAULT);
        ASSERT_EQ(t[0].done, 1);
        ASSERT_EQ(t[0].req.err, STORE_OK);
        ASSERT_EQ(a[0].row.version, 5);
    }
    /* Every version is stored, the newest current; a taken id is EEXISTS. */
    int n = cur->backend == &store_pg_backend ? 5 : 3;
    store_assets_free(&a[0]);
    store_assets_free(&a[1]);
    memset(a, 0, sizeof(a));
    snprintf(a[0].row.id, sizeof(a[0].row.id), "%s", first);
    a[0].limit = 10;
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_VERSIONS, &a[0]), STORE_OK);
    ASSERT_EQ(a[0].nrows, (size_t)n);
    for (int i = 0; i < n && i < (int)a[0].nrows; i++)
        ASSERT_EQ(a[0].rows[i].version, n - i);
    store_assets_free(&a[0]);
    memset(a, 0, sizeof(a));
    snprintf(a[0].row.id, sizeof(a[0].row.id), "%s", first);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_GET, &a[0]), STORE_OK);
    ASSERT_EQ(a[0].row.version, n);
    fill_asset(&a[0].row, 3, 1, 2, 'z', 60);
    snprintf(a[0].row.asset_id, sizeof(a[0].row.asset_id), "%s", first);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_ASSET_PUT, &a[0]), STORE_EEXISTS);
    store_assets_free(&a[0]);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

/* UPLOAD_OLD, the orphan sweep's pages: the reservations created before a time, by id
 * after a cursor, with their owner, room and length; a limit of 0; none left. */
static void test_upload_old(void)
{
    char path[512];
    new_target(path, sizeof(path), "upold");
    uv_loop_t loop;
    uv_loop_init(&loop);
    store_t *st = open_store(path, &loop);
    ASSERT_TRUE(st != NULL);
    tctx_t c;
    tctx_init(&c);
    ASSERT_EQ(create_room(st, &loop, &c, 1), STORE_OK);
    store_assets_t a;
    for (int k = 1; k <= 5; k++) { /* created at 1001..1005 */
        fill_reservation(&a, k, k, k == 2 ? 1 : 0, 10 * k);
        a.quota_user = a.quota_room = a.max_incomplete = 0;
        ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_RESERVE, &a), STORE_OK);
        ASSERT_EQ(a.refused, 0);
    }
    memset(&a, 0, sizeof(a));
    a.before_at = 1005; /* 1..4 */
    a.limit = 3;
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_OLD, &a), STORE_OK);
    ASSERT_EQ(a.nrows, 3);
    ASSERT_STREQ(a.rows[0].id, "00000000000000000000000000000001");
    ASSERT_STREQ(a.rows[1].id, "00000000000000000000000000000002");
    ASSERT_STREQ(a.rows[1].uploader, "00000000-0000-4000-8000-000000000002");
    ASSERT_STREQ(a.rows[1].room_id, "10000000-0000-4000-8000-000000000001");
    ASSERT_STREQ(a.rows[0].room_id, "");
    ASSERT_EQ(a.rows[1].size, 20);
    ASSERT_EQ(a.rows[1].created_at, 1002);
    snprintf(a.row.id, sizeof(a.row.id), "%s", a.rows[2].id);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_OLD, &a), STORE_OK);
    ASSERT_EQ(a.nrows, 1);
    ASSERT_STREQ(a.rows[0].id, "00000000000000000000000000000004");
    snprintf(a.row.id, sizeof(a.row.id), "%s", a.rows[0].id);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_OLD, &a), STORE_OK);
    ASSERT_EQ(a.nrows, 0);
    a.row.id[0] = '\0';
    a.limit = 0;
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_OLD, &a), STORE_OK);
    ASSERT_EQ(a.nrows, 0);
    /* Released ones are gone from the pages. */
    store_assets_free(&a);
    fill_reservation(&a, 1, 1, 0, 0);
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_RELEASE, &a), STORE_OK);
    memset(&a, 0, sizeof(a));
    a.before_at = 2000;
    a.limit = 100;
    ASSERT_EQ(run_assets(st, &loop, &c, STORE_UPLOAD_OLD, &a), STORE_OK);
    ASSERT_EQ(a.nrows, 4);
    ASSERT_STREQ(a.rows[0].id, "00000000000000000000000000000002");
    store_assets_free(&a);
    ASSERT_EQ(c.out_of_order, 0);
    ASSERT_EQ(close_store(st, &loop), 0);
    drop_target(path);
}

/* store_reserve_refusal's edges: limits of 0, exactly full, held past the quota. */
static void test_reserve_refusal(void)
{
    store_assets_t a;
    memset(&a, 0, sizeof(a));
    a.row.size = INT64_MAX;
    ASSERT_EQ(store_reserve_refusal(&a), 0);
    a.quota_user = 10;
    a.bytes = 4;
    a.row.size = 6;
    ASSERT_EQ(store_reserve_refusal(&a), 0);
    a.row.size = 7;
    ASSERT_EQ(store_reserve_refusal(&a), STORE_RESERVE_USER);
    a.bytes = 11; /* a quota lowered below what is held */
    a.row.size = 0;
    ASSERT_EQ(store_reserve_refusal(&a), STORE_RESERVE_USER);
    a.bytes = 0;
    a.quota_room = 5;
    a.room_bytes = 5;
    a.row.size = 1;
    ASSERT_EQ(store_reserve_refusal(&a), 0); /* no room named */
    snprintf(a.row.room_id, sizeof(a.row.room_id), "r");
    ASSERT_EQ(store_reserve_refusal(&a), STORE_RESERVE_ROOM);
    a.max_incomplete = 2;
    a.count = 2;
    ASSERT_EQ(store_reserve_refusal(&a), STORE_RESERVE_COUNT);
}

int main(void)
{
    log_init(&test_log, LOG_WARN, LOG_TEXT, stderr);
    /* The conformance suite, once per backend. */
    for (size_t i = 0; i < CH_ARRAY_LEN(store_cases); i++) {
        cur = &store_cases[i];
        char probe[512];
        if (cur->make_target(probe, sizeof(probe), "probe") != 0) {
            fprintf(stderr, "skip: backend %s is not available here\n", cur->name);
            continue;
        }
        cur->drop_target(probe);
        fprintf(stderr, "backend %s\n", cur->name);
        RUN(test_user_crud);
        RUN(test_soft_errors_do_not_poison_batch);
        RUN(test_many_in_order_and_durable);
        RUN(test_audit);
        RUN(test_audit_count_and_prune);
        RUN(test_audit_recent);
        RUN(test_revocations);
        RUN(test_apikeys);
        RUN(test_room_crud);
        RUN(test_room_hosted_limit);
        RUN(test_parts_of_user);
        RUN(test_messages_and_pages);
        RUN(test_message_client_id);
        RUN(test_room_delete_cascades);
        RUN(test_rooms_load_after_reopen);
        RUN(test_message_burst_in_order);
        RUN(test_message_insert_timing);
        RUN(test_doc_load_and_snapshot);
        RUN(test_doc_op_errors);
        RUN(test_doc_ops_range);
        RUN(test_doc_room_delete_cascades);
        RUN(test_entities);
        RUN(test_room_load_one);
        RUN(test_usage_and_retention);
        RUN(test_state_log);
        RUN(test_doc_op_burst_in_order);
        RUN(test_doc_op_insert_timing_and_range_cap);
        RUN(test_batch_refusals_undone_whole);
        RUN(test_room_activity_side_effects);
        RUN(test_close_drains_then_eclosed);
        RUN(test_webhook_queue);
        RUN(test_webhook_endpoints_and_log);
        RUN(test_assets);
        RUN(test_activity);
        RUN(test_upload_reservations);
        RUN(test_upload_old);
        RUN(test_asset_versions);
        RUN(test_asset_versions_at_once);
    }
    RUN(test_reserve_refusal);
    /* The store core and payloads, whatever the backend. */
    RUN(test_docs_free);
    RUN(test_eio_fails_whole_batch);
    RUN(test_ready);
    RUN(test_batch_limit);
    RUN(test_backend_open_failure);
    TEST_MAIN_END();
}
