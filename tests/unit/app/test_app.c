/* test_app.c: application contexts (app.h): two of them on one loop, each with its own
 * SQLite store in its own directory, keep their rooms apart, survive a restart apart,
 * and close and free cleanly (the loop closes with nothing left open). */
#include "test.h"
#include "test_loop.h"
#include "app/app_fixture.h"

#include <unistd.h>

#include <uv.h>

#include "app/app.h"
#include "util/config.h"
#include "util/mem.h"
#include "domain/rooms.h"

typedef struct {
    chorus_config_t cfg;
    char dir[512];
    char db[600];
    app_t app;
} ctx_t;

/* A context's directory under CHORUS_TEST_TMP (chorus-app-<name>-<pid>), empty of any
 * database of an earlier run. */
static int ctx_setup(ctx_t *x, const char *name)
{
    memset(x, 0, sizeof(*x));
    char dir_name[64];
    snprintf(dir_name, sizeof(dir_name), "app-%s", name);
    return app_fx_data_dir(&x->cfg, x->dir, x->db, dir_name);
}

static void ctx_teardown(ctx_t *x)
{
    config_free(&x->cfg);
    test_rm_db(x->db);
    rmdir(x->dir);
}

/* Stops both contexts as main.c stops one: handles closed and the loop run out, then the
 * stores closed (their callbacks run) and the loop run again, then the rest freed. */
static void stop_both(uv_loop_t *loop, app_t *a, app_t *b)
{
    app_close(a);
    app_close(b);
    uv_run(loop, UV_RUN_DEFAULT);
    app_store_close(a);
    app_store_close(b);
    uv_run(loop, UV_RUN_DEFAULT);
    app_free(a);
    app_free(b);
}

typedef struct {
    int done;
    json_t *result; /* NULL when the operation failed */
} outcome_t;

static void on_done(void *ud, const rooms_err_t *err, json_t *result)
{
    (void)err;
    outcome_t *o = ud;
    o->done = 1;
    o->result = result;
}

/* Creates a room named name hosted by host in a through the domain API; writes its id
 * and code. Returns 0 or -1. */
static int create_room(uv_loop_t *loop, app_t *a, const char *host, const char *name,
                       char id[STORE_ID_LEN], char code[STORE_CODE_LEN])
{
    auth_claims_t h;
    memset(&h, 0, sizeof(h));
    snprintf(h.sub, sizeof(h.sub), "%s", host);
    snprintf(h.name, sizeof(h.name), "%s", host);
    json_t *body = json_pack("{s:s, s:i}", "name", name, "maxParticipants", 10);
    outcome_t o = {0};
    rooms_create(&a->rooms, &h, body, on_done, &o);
    json_decref(body);
    if (!test_run_until(loop, &o.done, 5000) || !o.result) return -1;
    json_t *room = json_object_get(o.result, "room");
    const char *rid = json_string_value(json_object_get(room, "id"));
    const char *rcode = json_string_value(json_object_get(room, "roomCode"));
    int rc = rid && rcode ? 0 : -1;
    if (rc == 0) {
        snprintf(id, STORE_ID_LEN, "%s", rid);
        snprintf(code, STORE_CODE_LEN, "%s", rcode);
    }
    json_decref(o.result);
    return rc;
}

/* What one context must see: its own room, by id and by code, and not the other's. */
static int sees_only(app_t *a, const char *own_id, const char *own_code, const char *other_id,
                     const char *other_code, const char *own_name)
{
    room_t *room = rooms_get(&a->rooms, own_id);
    return a->rooms.by_id.count == 1 && room && rooms_get(&a->rooms, own_code) == room &&
           strcmp(room->name, own_name) == 0 && rooms_get(&a->rooms, other_id) == NULL &&
           rooms_get(&a->rooms, other_code) == NULL;
}

static void test_two_contexts_one_loop(void)
{
    ctx_t x, y;
    ASSERT_EQ(ctx_setup(&x, "x"), 0);
    ASSERT_EQ(ctx_setup(&y, "y"), 0);
    static const unsigned char secret[] = "0123456789abcdef0123456789abcdef";
    auth_jwt_t *jwt = auth_jwt_new(AUTH_ALG_HS256, secret, 32, secret, 32, 0);
    ASSERT_TRUE(jwt != NULL);
    log_t lg;
    log_init(&lg, LOG_WARN, LOG_TEXT, stderr);
    uv_loop_t loop;
    uv_loop_init(&loop);

    ASSERT_EQ(app_init(&x.app, &loop, &x.cfg, &lg, jwt), 0);
    ASSERT_EQ(app_init(&y.app, &loop, &y.cfg, &lg, jwt), 0);
    /* Each context's ops work on its own rooms. */
    ASSERT_TRUE(x.app.proto.app == &x.app.rooms);
    ASSERT_TRUE(y.app.proto.app == &y.app.rooms);
    ASSERT_TRUE(x.app.api.rooms == &x.app.rooms);
    ASSERT_TRUE(y.app.api.rooms == &y.app.rooms);
    ASSERT_EQ(x.app.rooms.by_id.count, 0);
    ASSERT_EQ(y.app.rooms.by_id.count, 0);

    char xid[STORE_ID_LEN], xcode[STORE_CODE_LEN], yid[STORE_ID_LEN], ycode[STORE_CODE_LEN];
    ASSERT_EQ(create_room(&loop, &x.app, "ann", "in x", xid, xcode), 0);
    ASSERT_EQ(create_room(&loop, &y.app, "bob", "in y", yid, ycode), 0);
    ASSERT_TRUE(strcmp(xid, yid) != 0);
    ASSERT_TRUE(sees_only(&x.app, xid, xcode, yid, ycode, "in x"));
    ASSERT_TRUE(sees_only(&y.app, yid, ycode, xid, xcode, "in y"));
    stop_both(&loop, &x.app, &y.app);

    /* A restart: each store gives back its own room only. */
    ASSERT_EQ(app_init(&x.app, &loop, &x.cfg, &lg, jwt), 0);
    ASSERT_EQ(app_init(&y.app, &loop, &y.cfg, &lg, jwt), 0);
    ASSERT_TRUE(sees_only(&x.app, xid, xcode, yid, ycode, "in x"));
    ASSERT_TRUE(sees_only(&y.app, yid, ycode, xid, xcode, "in y"));
    stop_both(&loop, &x.app, &y.app);

    ASSERT_EQ(uv_loop_close(&loop), 0);
    auth_jwt_free(jwt);
    ctx_teardown(&x);
    ctx_teardown(&y);
}

/* A context whose store cannot open cleans up after itself: nothing stays open. */
/* A reload's new token keys (app_set_jwt) empty the cache of verified tokens: no token
 * the old verifier accepted is answered from it, even by a verifier given the freed
 * one's address. */
static void test_new_keys_forget_tokens(void)
{
    app_fx_t f;
    ASSERT_EQ(app_fx_open(&f, "newkeys"), 0);
    auth_claims_t c;
    memset(&c, 0, sizeof(c));
    snprintf(c.sub, sizeof(c.sub), "u1");
    char *tok = auth_jwt_mint(f.jwt, &c, 1800000000, 3600);
    auth_claims_t out;
    const char *why;
    uint64_t hits, misses;
    ASSERT_EQ(auth_tcache_verify(f.app.proto.tcache, f.jwt, tok, strlen(tok), 1800000000, &out,
                                 &why), 0);
    ASSERT_EQ(auth_tcache_verify(f.app.proto.tcache, f.jwt, tok, strlen(tok), 1800000000, &out,
                                 &why), 0);
    auth_tcache_counts(f.app.proto.tcache, &hits, &misses);
    ASSERT_EQ(hits, 1);
    ASSERT_TRUE(app_set_jwt(&f.app, f.jwt) == f.jwt); /* the same keys read again */
    ASSERT_EQ(auth_tcache_verify(f.app.proto.tcache, f.jwt, tok, strlen(tok), 1800000000, &out,
                                 &why), 0);
    auth_tcache_counts(f.app.proto.tcache, &hits, &misses);
    ASSERT_EQ(hits, 1); /* verified again, not answered from the cache */
    ASSERT_EQ(misses, 2);
    free(tok);
    ASSERT_EQ(app_fx_close(&f), 0);
}

static void test_init_failure_leaves_nothing(void)
{
    ctx_t x;
    ASSERT_EQ(ctx_setup(&x, "gone"), 0);
    free(x.cfg.data_dir);
    x.cfg.data_dir = ch_strdup("/nonexistent-chorus-dir/sub");
    static const unsigned char secret[] = "0123456789abcdef0123456789abcdef";
    auth_jwt_t *jwt = auth_jwt_new(AUTH_ALG_HS256, secret, 32, secret, 32, 0);
    ASSERT_TRUE(jwt != NULL);
    log_t lg;
    log_init(&lg, LOG_ERROR, LOG_TEXT, stderr);
    uv_loop_t loop;
    uv_loop_init(&loop);
    ASSERT_EQ(app_init(&x.app, &loop, &x.cfg, &lg, jwt), -1);
    ASSERT_EQ(uv_loop_close(&loop), 0);
    auth_jwt_free(jwt);
    ctx_teardown(&x);
}

int main(void)
{
    RUN(test_two_contexts_one_loop);
    RUN(test_init_failure_leaves_nothing);
    RUN(test_new_keys_forget_tokens);
    TEST_MAIN_END();
}
