/* test_rooms_quota.c: the storage quota counters follow what the store holds: a write is
 * counted before its commit, and a commit that fails gives its bytes back (a message, a
 * room's creation), so failed writes do not make the counters drift up until a restart.
 * The store is made to fail with a SQLite trigger that aborts the insert. */
#include "test.h"
#include "rooms_fixture.h"

#include <errno.h>
#include <sqlite3.h>
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

/* The options this test runs with. */
static void tune(chorus_config_t *cfg)
{
    cfg->room_quota = 1000000;
    cfg->user_quota = 1000000;
}

static int fx_open(fx_t *f)
{
    /* The failed writes below are logged as errors: expected. */
    return rooms_fx_open(f, "rooms-quota", LOG_ERROR, tune);
}

/* Runs sql on the database through a second connection (the store's is on its thread,
 * idle between requests). Returns 0 or -1. */
static int db_exec(const fx_t *f, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(f->db, &db);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) fprintf(stderr, "db_exec: %s\n", db ? sqlite3_errmsg(db) : "?");
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

static auth_claims_t user(const char *sub)
{
    auth_claims_t u;
    memset(&u, 0, sizeof(u));
    snprintf(u.sub, sizeof(u.sub), "%s", sub);
    return u;
}

typedef struct {
    int done;
    int kind;
    json_t *result;
} outcome_t;

static void on_done(void *ud, const rooms_err_t *err, json_t *result)
{
    outcome_t *o = ud;
    o->done = 1;
    o->kind = err ? (int)err->kind : 0;
    o->result = result;
}

/* Runs the loop until o is done (5 s at most); returns its error kind (0: none), 1 if it
 * never ended. */
static int wait_op(fx_t *f, outcome_t *o)
{
    return test_run_until(&f->loop, &o->done, 5000) ? o->kind : 1;
}

/* Creates a room hosted by host with the given state; returns its id in id. */
static int create(fx_t *f, const char *host, const char *state_json, char *id, size_t cap)
{
    auth_claims_t h = user(host);
    json_t *body =
        json_pack("{s:s, s:o}", "name", "quota", "state", json_loads(state_json, 0, NULL));
    outcome_t o = {0};
    rooms_create(&f->r, &h, body, on_done, &o);
    json_decref(body);
    int st = wait_op(f, &o);
    const char *rid =
        json_string_value(json_object_get(json_object_get(o.result, "room"), "id"));
    snprintf(id, cap, "%s", rid ? rid : "");
    json_decref(o.result);
    return st;
}

static int post(fx_t *f, room_t *room, const char *sub, const char *text)
{
    auth_claims_t u = user(sub);
    json_t *content = json_string(text);
    json_t *meta = json_pack("{s:s}", "k", "v");
    outcome_t o = {0};
    rooms_post(&f->r, room, u.sub, "user_text", content, meta, BUS_MEMBER_NONE, on_done, &o);
    json_decref(content);
    json_decref(meta);
    int st = wait_op(f, &o);
    json_decref(o.result);
    return st;
}

static void test_failed_message_gives_back(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    char id[64];
    ASSERT_EQ(create(&f, "host", "{\"a\":1}", id, sizeof(id)), 0);
    room_t *room = rooms_get(&f.r, id);
    ASSERT_TRUE(room != NULL);
    int64_t room0 = room->stored_bytes, host0 = quota_user_used(&f.r.users, "host");
    ASSERT_TRUE(room0 > 0);
    ASSERT_EQ(host0, room0); /* the state counts for the host */

    ASSERT_EQ(post(&f, room, "host", "hello"), 0);
    int64_t one = room->stored_bytes - room0;
    ASSERT_TRUE(one > 0);
    ASSERT_EQ(quota_user_used(&f.r.users, "host"), host0 + one);

    /* Inserts now fail: each message is counted, then given back. */
    ASSERT_EQ(db_exec(&f, "CREATE TRIGGER no_msg BEFORE INSERT ON room_messages "
                          "BEGIN SELECT RAISE(ABORT, 'test: no messages'); END"),
              0);
    for (int i = 0; i < 5; i++)
        ASSERT_EQ(post(&f, room, "host", "hello"), ROOMS_E_UNAVAILABLE);
    ASSERT_EQ(room->stored_bytes, room0 + one);
    ASSERT_EQ(quota_user_used(&f.r.users, "host"), host0 + one);

    /* And once they work again, they count as before. */
    ASSERT_EQ(db_exec(&f, "DROP TRIGGER no_msg"), 0);
    ASSERT_EQ(post(&f, room, "host", "hello"), 0);
    ASSERT_EQ(room->stored_bytes, room0 + 2 * one);
    ASSERT_EQ(quota_user_used(&f.r.users, "host"), host0 + 2 * one);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

static void test_failed_create_gives_back(void)
{
    fx_t f;
    ASSERT_EQ(fx_open(&f), 0);
    ASSERT_EQ(db_exec(&f, "CREATE TRIGGER no_room BEFORE INSERT ON rooms "
                          "BEGIN SELECT RAISE(ABORT, 'test: no rooms'); END"),
              0);
    char id[64];
    ASSERT_EQ(create(&f, "host", "{\"big\":\"0123456789\"}", id, sizeof(id)),
              ROOMS_E_UNAVAILABLE);
    ASSERT_EQ(quota_user_used(&f.r.users, "host"), 0);
    ASSERT_EQ(quota_users_count(&f.r.users), 0);
    /* Nor is the room left in memory, where it would count against the host's rooms. */
    ASSERT_EQ(f.r.by_id.count, 0);
    ASSERT_EQ(f.r.by_code.count, 0);
    ASSERT_EQ(db_exec(&f, "DROP TRIGGER no_room"), 0);
    for (int i = 0; i < 5; i++) /* --room-max-hosted's default */
        ASSERT_EQ(create(&f, "host", "{}", id, sizeof(id)), ROOMS_OK);
    ASSERT_EQ(f.r.by_id.count, 5);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

int main(void)
{
    RUN(test_failed_message_gives_back);
    RUN(test_failed_create_gives_back);
    TEST_MAIN_END();
}
