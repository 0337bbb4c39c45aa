/* test_entity_set.c: the rules of a room's entities: creation and limits, merge patches
 * field by field, versions and baseVersion conflicts, transient coalescing, lock expiry,
 * the change log window (delta versus full), and a randomized check that a replica at
 * any version within the window reaches the current state from the delta. */
#include "test.h"

#include "domain/entity_set.h"

static json_t *parse(const char *s)
{
    json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
    if (!v) {
        fprintf(stderr, "bad test JSON: %s\n", s);
        abort();
    }
    return v;
}

static int is_json(const json_t *v, const char *want)
{
    json_t *w = parse(want);
    int eq = v && json_equal(v, w);
    if (!eq) {
        char *got = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        fprintf(stderr, "  got %s, want %s\n", got ? got : "NULL", want);
        free(got);
    }
    json_decref(w);
    return eq;
}

static entity_limits_t lim_small(void)
{
    entity_limits_t l = ENTITY_LIMITS_DEFAULT;
    l.max_count = 3;
    l.max_bytes = 64;
    l.max_patch = 48;
    l.max_depth = 4;
    l.log_window = 4;
    return l;
}

static int create(entity_set_t *s, const entity_limits_t *l, const char *id, const char *data,
                  int64_t v, entity_t **out)
{
    json_t *d = parse(data);
    entity_t *tmp;
    int rc = entset_create(s, l, id, "k", "owner", d, v, 1000 + v, out ? out : &tmp);
    json_decref(d);
    return rc;
}

static int update(entity_set_t *s, const entity_limits_t *l, entity_t *e, const char *patch,
                  int64_t base, int64_t v)
{
    json_t *p = parse(patch);
    int rc = entity_patch_check(p, l);
    if (rc == ENT_OK) rc = entset_update(s, l, e, p, base, v, 1000 + v);
    json_decref(p);
    return rc;
}

static void test_ids(void)
{
    ASSERT_TRUE(entity_id_valid("a"));
    ASSERT_TRUE(entity_id_valid("A-z_0.9:x"));
    ASSERT_TRUE(!entity_id_valid(""));
    ASSERT_TRUE(!entity_id_valid("a b"));
    ASSERT_TRUE(!entity_id_valid("a/b"));
    ASSERT_TRUE(!entity_id_valid("\xc3\xa9"));
    char id[200];
    memset(id, 'x', sizeof(id));
    id[128] = 0;
    ASSERT_TRUE(entity_id_valid(id));
    id[128] = 'x';
    id[129] = 0;
    ASSERT_TRUE(!entity_id_valid(id));
    id[64] = 0;
    ASSERT_TRUE(entity_kind_valid(id));
    id[64] = 'x';
    id[65] = 0;
    ASSERT_TRUE(!entity_kind_valid(id));
}

static void test_create_limits(void)
{
    entity_limits_t l = lim_small();
    entity_set_t s;
    entset_init(&s, 1, 0);
    entity_t *e;
    ASSERT_EQ(create(&s, &l, "a", "{\"x\":1}", 1, &e), ENT_OK);
    ASSERT_EQ(e->version, 1);
    ASSERT_EQ(e->state_version, 1);
    ASSERT_STREQ(e->owner, "owner");
    entity_t *dup;
    ASSERT_EQ(create(&s, &l, "a", "{}", 2, &dup), ENT_EXISTS);
    ASSERT_TRUE(dup == e);
    ASSERT_EQ(create(&s, &l, "big", "{\"s\":\"0123456789012345678901234567890123456789012345678901234567890\"}", 2, NULL),
              ENT_TOO_LARGE);
    ASSERT_EQ(create(&s, &l, "deep", "{\"a\":{\"b\":{\"c\":{\"d\":{}}}}}", 2, NULL), ENT_TOO_LARGE);
    ASSERT_EQ(create(&s, &l, "arr", "[1]", 2, NULL), ENT_INVALID);
    ASSERT_EQ(create(&s, &l, "b", "{}", 2, NULL), ENT_OK);
    ASSERT_EQ(create(&s, &l, "c", "{}", 3, NULL), ENT_OK);
    ASSERT_EQ(create(&s, &l, "d", "{}", 4, NULL), ENT_TOO_MANY);
    ASSERT_EQ(s.count, 3);
    entity_t *b = entset_get(&s, "b");
    entset_remove(&s, &l, b, 4);
    ASSERT_TRUE(b->removed);
    entity_free(b); /* out of the set: the caller's */
    ASSERT_TRUE(!entset_get(&s, "b"));
    ASSERT_EQ(create(&s, &l, "d", "{}", 5, &b), ENT_OK);
    entset_free(&s);
}

static void test_update_merge_and_conflict(void)
{
    entity_limits_t l = ENTITY_LIMITS_DEFAULT;
    entity_set_t s;
    entset_init(&s, 2, 0);
    entity_t *e;
    ASSERT_EQ(create(&s, &l, "e", "{\"pos\":[0,0],\"c\":{\"r\":1,\"g\":2},\"t\":\"x\"}", 1, &e), ENT_OK);
    /* Two writers touching different fields both keep their change. */
    ASSERT_EQ(update(&s, &l, e, "{\"c\":{\"r\":9}}", -1, 2), ENT_OK);
    ASSERT_EQ(update(&s, &l, e, "{\"c\":{\"g\":null},\"t\":null,\"n\":1}", -1, 3), ENT_OK);
    ASSERT_TRUE(is_json(e->data, "{\"pos\":[0,0],\"c\":{\"r\":9},\"n\":1}"));
    ASSERT_EQ(e->version, 3);
    ASSERT_EQ(e->state_version, 3);
    ASSERT_EQ(e->updated_at, 1003);
    /* baseVersion must be the current version. */
    ASSERT_EQ(update(&s, &l, e, "{\"n\":2}", 2, 4), ENT_CONFLICT);
    ASSERT_EQ(e->version, 3);
    ASSERT_EQ(update(&s, &l, e, "{\"n\":2}", 3, 4), ENT_OK);
    ASSERT_EQ(e->version, 4);
    /* Patch checks: not an object, too large, too deep. */
    entity_limits_t sl = lim_small();
    json_t *p = parse("[1]");
    ASSERT_EQ(entity_patch_check(p, &sl), ENT_INVALID);
    json_decref(p);
    p = parse("{\"s\":\"01234567890123456789012345678901234567890123456789\"}");
    ASSERT_EQ(entity_patch_check(p, &sl), ENT_TOO_LARGE);
    json_decref(p);
    p = parse("{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":1}}}}}");
    ASSERT_EQ(entity_patch_check(p, &sl), ENT_TOO_LARGE);
    json_decref(p);
    /* A result over max_bytes changes nothing. */
    entity_t *f;
    ASSERT_EQ(create(&s, &sl, "f", "{\"a\":\"0123456789\"}", 5, &f), ENT_OK);
    ASSERT_EQ(update(&s, &sl, f, "{\"b\":\"0123456789012345678901234567890123456789\"}", -1, 6), ENT_TOO_LARGE);
    ASSERT_TRUE(is_json(f->data, "{\"a\":\"0123456789\"}"));
    ASSERT_EQ(f->version, 1);
    entset_free(&s);
}

static void test_transient(void)
{
    entity_limits_t l = ENTITY_LIMITS_DEFAULT; /* 20/s: 50 ms apart */
    entity_set_t s;
    entset_init(&s, 3, 0);
    entity_t *e;
    ASSERT_EQ(create(&s, &l, "av", "{\"x\":0,\"name\":\"a\"}", 1, &e), ENT_OK);
    uint64_t due;
    json_t *p = parse("{\"x\":1}");
    ASSERT_EQ(entity_transient(e, &l, p, 1, "ann", 1000, &due), ENT_OK);
    json_decref(p);
    ASSERT_EQ(due, 1000); /* the first one goes at once */
    ASSERT_EQ(entset_apply_pending(&s, &l, e, 1000, 2, 2000), 1);
    ASSERT_TRUE(is_json(e->data, "{\"x\":1,\"name\":\"a\"}"));
    ASSERT_EQ(e->version, 1); /* transient changes are not durable versions */
    ASSERT_EQ(e->state_version, 2);
    /* Within the interval: held and merged, latest wins. */
    for (int i = 2; i <= 10; i++) {
        char buf[64];
        snprintf(buf, sizeof(buf), "{\"x\":%d,\"y\":%d}", i, -i);
        p = parse(buf);
        ASSERT_EQ(entity_transient(e, &l, p, 2, "bob", 1000 + (uint64_t)i, &due), ENT_OK);
        json_decref(p);
        ASSERT_EQ(due, 1050);
    }
    ASSERT_EQ(entity_pending_due(e, &l), 1050);
    ASSERT_EQ(e->pending_from, 2);
    ASSERT_STREQ(e->pending_by, "bob"); /* the last sender's user: the change's "by" */
    ASSERT_TRUE(is_json(e->data, "{\"x\":1,\"name\":\"a\"}")); /* not applied yet */
    ASSERT_EQ(entset_apply_pending(&s, &l, e, 1050, 3, 2050), 1);
    ASSERT_TRUE(is_json(e->data, "{\"x\":10,\"y\":-10,\"name\":\"a\"}"));
    ASSERT_EQ(entity_pending_due(e, &l), 0);
    ASSERT_EQ(entset_apply_pending(&s, &l, e, 1100, 4, 2100), 0); /* nothing held */
    /* A held change equal to the data is no change. */
    p = parse("{\"x\":10}");
    ASSERT_EQ(entity_transient(e, &l, p, BUS_MEMBER_NONE, NULL, 1060, &due), ENT_OK);
    json_decref(p);
    ASSERT_EQ(due, 1100);
    ASSERT_EQ(entset_apply_pending(&s, &l, e, 1100, 4, 2100), 0);
    ASSERT_EQ(e->state_version, 3);
    /* Too large: refused, nothing held. */
    entity_limits_t sl = lim_small();
    p = parse("{\"s\":\"0123456789012345678901234567890123456789\"}");
    ASSERT_EQ(entity_transient(e, &sl, p, BUS_MEMBER_NONE, NULL, 1200, &due), ENT_TOO_LARGE);
    json_decref(p);
    ASSERT_TRUE(e->pending == NULL);
    entset_free(&s);
}

static void test_locks(void)
{
    entity_limits_t l = ENTITY_LIMITS_DEFAULT;
    entity_set_t s;
    entset_init(&s, 4, 0);
    entity_t *e;
    ASSERT_EQ(create(&s, &l, "o", "{}", 1, &e), ENT_OK);
    const bus_member_t a = 0xa, b = 0xb;
    ASSERT_TRUE(entity_may_change(e, a, 0));
    entity_lock(e, a, "ua", "Ada", 1000, 5000, 100000);
    ASSERT_TRUE(entity_may_change(e, a, 5500));
    ASSERT_TRUE(!entity_may_change(e, b, 5500));
    ASSERT_TRUE(!entity_may_change(e, b, 5999));
    ASSERT_TRUE(entity_may_change(e, b, 6000)); /* expired */
    ASSERT_EQ(e->lock->expires_at, 101000);
    json_t *j = entity_json(e);
    ASSERT_TRUE(is_json(json_object_get(j, "lock"), "{\"userId\":\"ua\",\"displayName\":\"Ada\",\"expiresAt\":101000}"));
    json_decref(j);
    json_t *locks = entset_locks_json(&s);
    ASSERT_TRUE(is_json(locks, "[{\"id\":\"o\",\"userId\":\"ua\",\"displayName\":\"Ada\",\"expiresAt\":101000}]"));
    json_decref(locks);
    /* Renewal by the holder moves the expiry. */
    entity_lock(e, a, "ua", "Ada", 1000, 5900, 100900);
    ASSERT_TRUE(!entity_may_change(e, b, 6000));
    entity_unlock(e);
    ASSERT_TRUE(entity_may_change(e, b, 6000));
    ASSERT_TRUE(e->lock == NULL);
    /* Removing a locked entity drops the lock. */
    entity_lock(e, a, "ua", "Ada", 1000, 7000, 0);
    entset_remove(&s, &l, e, 2);
    ASSERT_TRUE(e->lock == NULL && e->removed);
    entity_free(e);
    entset_free(&s);
}

static void test_owner_only(void)
{
    entity_limits_t l = ENTITY_LIMITS_DEFAULT;
    entity_set_t s;
    entset_init(&s, 4, 0);
    entity_t *e;
    ASSERT_EQ(create(&s, &l, "o", "{}", 1, &e), ENT_OK); /* owner "owner" */
    ASSERT_TRUE(entity_may_edit(e, "someone", 0));
    json_t *j = entity_json(e);
    ASSERT_TRUE(json_object_get(j, "ownerOnly") == NULL); /* shown only when set */
    json_decref(j);
    e->owner_only = 1;
    ASSERT_TRUE(entity_may_edit(e, "owner", 0));
    ASSERT_TRUE(entity_may_edit(e, "someone", 1)); /* the host */
    ASSERT_TRUE(!entity_may_edit(e, "someone", 0));
    ASSERT_TRUE(!entity_may_edit(e, "owner2", 0));
    j = entity_json(e);
    ASSERT_TRUE(json_is_true(json_object_get(j, "ownerOnly")));
    json_decref(j);
    entset_free(&s);
}

static void test_lock_max_hold(void)
{
    entity_limits_t l = ENTITY_LIMITS_DEFAULT;
    l.lock_max_hold = 10000;
    entity_set_t s;
    entset_init(&s, 4, 0);
    entity_t *e;
    ASSERT_EQ(create(&s, &l, "o", "{}", 1, &e), ENT_OK);
    const bus_member_t a = 0xa, b = 0xb;
    uint64_t ttl = 4000;
    ASSERT_EQ(entity_lock_check(e, a, "ua", &l, 1000, &ttl), ENT_OK);
    ASSERT_EQ(ttl, 4000);
    entity_lock(e, a, "ua", "Ada", ttl, 1000, 0);
    /* Renewals keep the time the lock was taken: the last one is cut at 1000 + 10000. */
    ttl = 4000;
    ASSERT_EQ(entity_lock_check(e, a, "ua", &l, 4000, &ttl), ENT_OK);
    entity_lock(e, a, "ua", "Ada", ttl, 4000, 0);
    ASSERT_EQ(e->lock->since_ms, 1000);
    ttl = 4000;
    ASSERT_EQ(entity_lock_check(e, a, "ua", &l, 7500, &ttl), ENT_OK);
    ASSERT_EQ(ttl, 3500);
    entity_lock(e, a, "ua", "Ada", ttl, 7500, 0);
    ASSERT_EQ(e->lock->until_ms, 11000);
    ASSERT_EQ(e->lock->since_ms, 1000);
    /* Past the end the same user rests for ENTITY_LOCK_REST_MS, from any connection. */
    ttl = 4000;
    ASSERT_EQ(entity_lock_check(e, a, "ua", &l, 11000, &ttl), ENT_HOLD_USED);
    ASSERT_EQ(entity_lock_check(e, b, "ua", &l, 11000 + ENTITY_LOCK_REST_MS - 1, &ttl),
              ENT_HOLD_USED);
    /* Someone else may take it at once, with a fresh hold. */
    ttl = 4000;
    ASSERT_TRUE(entity_may_change(e, b, 11000));
    ASSERT_EQ(entity_lock_check(e, b, "ub", &l, 11000, &ttl), ENT_OK);
    entity_lock(e, b, "ub", "Bob", ttl, 11000, 0);
    ASSERT_EQ(e->lock->since_ms, 11000);
    entity_unlock(e);
    ttl = 4000;
    ASSERT_EQ(entity_lock_check(e, a, "ua", &l, 11000 + ENTITY_LOCK_REST_MS, &ttl), ENT_OK);
    entset_free(&s);
}

/* The lock rules as the entity ops apply them, on a fake monotonic clock: take, refuse,
 * renew, expire, release, break, and the host's and ownerOnly's part. */
static void test_lock_rules_clock(void)
{
    entity_limits_t l = ENTITY_LIMITS_DEFAULT;
    l.lock_max_hold = 10000;
    entity_set_t s;
    entset_init(&s, 4, 0);
    entity_t *e;
    ASSERT_EQ(create(&s, &l, "o", "{}", 1, &e), ENT_OK); /* owner "owner" */
    const bus_member_t a = 0xa, b = 0xb, h = 0xc;
    uint64_t t = 1000; /* the clock */
    int broken = -1;
    ASSERT_TRUE(!entity_lock_expired(e, t));                        /* no lock */
    ASSERT_EQ(entity_unlock_check(e, b, 0, 0, t, &broken), ENT_OK); /* nothing to end */
    ASSERT_EQ(broken, 0);
    /* a takes it for 3 s; b is refused while it runs, the host too. */
    ASSERT_EQ(entity_lock_take(e, &l, a, "ua", "Ada", 0, 3000, t, 50000), ENT_OK);
    ASSERT_EQ(e->lock->until_ms, 4000);
    ASSERT_EQ(e->lock->expires_at, 53000);
    ASSERT_EQ(entity_lock_take(e, &l, b, "ub", "Bob", 0, 3000, 3999, 0), ENT_LOCKED);
    ASSERT_EQ(entity_lock_take(e, &l, h, "uh", "Host", 1, 3000, 3999, 0), ENT_LOCKED);
    ASSERT_TRUE(e->lock->holder == a);
    /* Deleting: b may not while the lock runs; the host may; a may. */
    ASSERT_EQ(entity_delete_check(e, b, "ub", 0, 3999), ENT_LOCKED);
    ASSERT_EQ(entity_delete_check(e, h, "uh", 1, 3999), ENT_OK);
    ASSERT_EQ(entity_delete_check(e, a, "ua", 0, 3999), ENT_OK);
    /* Unlocking someone else's lock: refused, or broken by the host with force. */
    ASSERT_EQ(entity_unlock_check(e, b, 0, 0, 3999, &broken), ENT_LOCKED);
    ASSERT_EQ(entity_unlock_check(e, b, 0, 1, 3999, &broken), ENT_FORBIDDEN);
    ASSERT_EQ(entity_unlock_check(e, h, 1, 1, 3999, &broken), ENT_OK);
    ASSERT_EQ(broken, 1);
    ASSERT_EQ(entity_unlock_check(e, a, 0, 0, 3999, &broken), ENT_OK); /* its own */
    ASSERT_EQ(broken, 0);
    /* a renews at 3.5 s: the lock runs 3 s from then and keeps when it was taken. */
    ASSERT_EQ(entity_lock_take(e, &l, a, "ua", "Ada", 0, 3000, 3500, 52500), ENT_OK);
    ASSERT_EQ(e->lock->until_ms, 6500);
    ASSERT_EQ(e->lock->since_ms, 1000);
    ASSERT_EQ(e->lock->expires_at, 55500);
    /* It expires at its end: the tick's test, and then anyone may change or take it. */
    ASSERT_TRUE(!entity_lock_expired(e, 6499));
    ASSERT_TRUE(entity_lock_expired(e, 6500));
    ASSERT_EQ(entity_delete_check(e, b, "ub", 0, 6500), ENT_OK);
    ASSERT_EQ(entity_unlock_check(e, b, 0, 0, 6500, &broken), ENT_OK);
    ASSERT_EQ(broken, 0); /* an expired lock is not broken */
    ASSERT_EQ(entity_lock_take(e, &l, b, "ub", "Bob", 0, 1000, 6500, 0), ENT_OK);
    ASSERT_TRUE(e->lock->holder == b);
    ASSERT_EQ(e->lock->since_ms, 6500); /* a new lock, not a renewal */
    ASSERT_STREQ(e->lock->display_name, "Bob");
    entity_unlock(e); /* released */
    ASSERT_TRUE(e->lock == NULL);
    /* The hold: b takes it again at 7 s and renews up to 17 s at most; past it, b rests. */
    ASSERT_EQ(entity_lock_take(e, &l, b, "ub", "Bob", 0, 30000, 7000, 0), ENT_OK);
    ASSERT_EQ(e->lock->until_ms, 17000); /* cut at lock_max_hold */
    ASSERT_EQ(entity_lock_take(e, &l, b, "ub", "Bob", 0, 1000, 17000, 0), ENT_HOLD_USED);
    ASSERT_EQ(entity_lock_take(e, &l, a, "ua", "Ada", 0, 1000, 17000, 0), ENT_OK);
    entity_unlock(e);
    ASSERT_EQ(
        entity_lock_take(e, &l, b, "ub", "Bob", 0, 1000, 17000 + ENTITY_LOCK_REST_MS - 1, 0),
        ENT_HOLD_USED);
    ASSERT_EQ(entity_lock_take(e, &l, b, "ub", "Bob", 0, 1000, 17000 + ENTITY_LOCK_REST_MS, 0),
              ENT_OK);
    entity_unlock(e);
    /* ownerOnly: only the owner and the host may lock, delete or set the flag. */
    e->owner_only = 1;
    ASSERT_EQ(entity_lock_take(e, &l, a, "ua", "Ada", 0, 1000, 60000, 0), ENT_FORBIDDEN);
    ASSERT_TRUE(e->lock == NULL);
    ASSERT_EQ(entity_delete_check(e, a, "ua", 0, 60000), ENT_FORBIDDEN);
    ASSERT_EQ(entity_delete_check(e, a, "owner", 0, 60000), ENT_OK);
    ASSERT_EQ(entity_lock_take(e, &l, h, "uh", "Host", 1, 1000, 60000, 0), ENT_OK);
    ASSERT_EQ(entity_delete_check(e, a, "owner", 0, 60500), ENT_LOCKED); /* the host's lock */
    ASSERT_TRUE(entity_may_set_owner_only(e, "owner", 0));
    ASSERT_TRUE(entity_may_set_owner_only(e, "uh", 1));
    ASSERT_TRUE(!entity_may_set_owner_only(e, "ua", 0));
    entset_free(&s);
}

/* Conflicts of durable changes: an id taken, a baseVersion behind, and what stays. */
static void test_change_conflicts(void)
{
    entity_limits_t l = ENTITY_LIMITS_DEFAULT;
    entity_set_t s;
    entset_init(&s, 4, 0);
    entity_t *e, *dup = NULL;
    ASSERT_EQ(create(&s, &l, "x", "{\"n\":1}", 1, &e), ENT_OK);
    ASSERT_EQ(create(&s, &l, "x", "{\"n\":9}", 2, &dup), ENT_EXISTS);
    ASSERT_TRUE(dup == e);
    ASSERT_EQ(update(&s, &l, e, "{\"n\":2}", 1, 2), ENT_OK); /* on version 1: ok */
    ASSERT_EQ(e->version, 2);
    ASSERT_EQ(update(&s, &l, e, "{\"n\":3}", 1, 3), ENT_CONFLICT); /* on 1 again: behind */
    ASSERT_EQ(e->version, 2);
    ASSERT_EQ(e->state_version, 2);
    ASSERT_TRUE(is_json(e->data, "{\"n\":2}"));
    ASSERT_EQ(update(&s, &l, e, "{\"n\":3}", -1, 3), ENT_OK); /* no base: last write wins */
    ASSERT_EQ(e->version, 3);
    entset_remove(&s, &l, e, 4);
    ASSERT_TRUE(entset_get(&s, "x") == NULL);
    entity_free(e);
    ASSERT_EQ(create(&s, &l, "x", "{}", 5, &e), ENT_OK); /* the id is free again */
    ASSERT_EQ(e->version, 1);
    entset_free(&s);
}

static const char *sync_type(const json_t *j)
{
    return json_string_value(json_object_get(j, "type"));
}

static void test_log_window(void)
{
    entity_limits_t l = lim_small(); /* window 4 */
    l.max_count = 100;
    entity_set_t s;
    entset_init(&s, 5, 10); /* loaded at version 10 */
    json_t *state = parse("{\"m\":1}");
    json_t *j = entset_sync(&s, 10, 10, state);
    ASSERT_TRUE(is_json(j, "{\"type\":\"up_to_date\",\"stateVersion\":10,\"locks\":[]}"));
    json_decref(j);
    j = entset_sync(&s, 9, 10, state); /* before the load: unknown */
    ASSERT_STREQ(sync_type(j), "full");
    json_decref(j);
    entity_t *a, *b;
    ASSERT_EQ(create(&s, &l, "a", "{}", 11, &a), ENT_OK);
    ASSERT_EQ(create(&s, &l, "b", "{}", 12, &b), ENT_OK);
    ASSERT_EQ(update(&s, &l, a, "{\"n\":1}", -1, 13), ENT_OK);
    entset_log_state(&s, &l, 14);
    /* Window of 4 holds 11..14: since 10 still answers a delta. */
    j = entset_sync(&s, 10, 14, state);
    ASSERT_TRUE(is_json(j, "{\"type\":\"delta\",\"stateVersion\":14,\"locks\":[],\"state\":{\"m\":1},"
                           "\"changes\":[{\"id\":\"b\",\"kind\":\"k\",\"data\":{},\"owner\":\"owner\",\"version\":1,"
                           "\"stateVersion\":12,\"createdAt\":1012,\"updatedAt\":1012},"
                           "{\"id\":\"a\",\"kind\":\"k\",\"data\":{\"n\":1},\"owner\":\"owner\",\"version\":2,"
                           "\"stateVersion\":13,\"createdAt\":1011,\"updatedAt\":1013}]}"));
    json_decref(j);
    /* Since 13: only the state changed. */
    j = entset_sync(&s, 13, 14, state);
    ASSERT_TRUE(is_json(j, "{\"type\":\"delta\",\"stateVersion\":14,\"changes\":[],\"locks\":[],\"state\":{\"m\":1}}"));
    json_decref(j);
    /* A delete, then the same id created again, then deleted: tombstones. */
    entset_remove(&s, &l, b, 15);
    entity_free(b);
    j = entset_sync(&s, 12, 15, state);
    ASSERT_STREQ(sync_type(j), "delta");
    ASSERT_TRUE(is_json(json_object_get(j, "changes"), "[{\"id\":\"a\",\"kind\":\"k\",\"data\":{\"n\":1},\"owner\":\"owner\","
                                                        "\"version\":2,\"stateVersion\":13,\"createdAt\":1011,\"updatedAt\":1013},"
                                                        "{\"id\":\"b\",\"deleted\":true,\"stateVersion\":15}]"));
    json_decref(j);
    /* 15 pushed 11 out: since 10 is now too old, since 11 the oldest answerable. */
    j = entset_sync(&s, 10, 15, state);
    ASSERT_STREQ(sync_type(j), "full");
    ASSERT_TRUE(is_json(json_object_get(j, "entities"), "[{\"id\":\"a\",\"kind\":\"k\",\"data\":{\"n\":1},\"owner\":\"owner\","
                                                         "\"version\":2,\"stateVersion\":13,\"createdAt\":1011,\"updatedAt\":1013}]"));
    json_decref(j);
    j = entset_sync(&s, 11, 15, state);
    ASSERT_STREQ(sync_type(j), "delta");
    json_decref(j);
    /* The future is full. */
    j = entset_sync(&s, 99, 15, state);
    ASSERT_STREQ(sync_type(j), "full");
    json_decref(j);
    /* Window 0: never a delta. */
    entity_limits_t l0 = l;
    l0.log_window = 0;
    ASSERT_EQ(update(&s, &l0, a, "{\"n\":2}", -1, 16), ENT_OK);
    j = entset_sync(&s, 15, 16, state);
    ASSERT_STREQ(sync_type(j), "full");
    json_decref(j);
    json_decref(state);
    entset_free(&s);
}

static void test_loaded(void)
{
    entity_set_t s;
    entset_init(&s, 6, 7);
    store_entity_t row;
    memset(&row, 0, sizeof(row));
    strcpy(row.id, "x");
    strcpy(row.kind, "k");
    strcpy(row.owner, "u");
    row.data = "{\"a\":1}";
    row.version = 3;
    row.state_version = 7;
    row.owner_only = 1;
    entity_t *e = entset_insert_loaded(&s, &row);
    ASSERT_TRUE(e != NULL);
    ASSERT_EQ(e->version, 3);
    ASSERT_EQ(e->owner_only, 1);
    ASSERT_TRUE(entset_insert_loaded(&s, &row) == NULL); /* twice */
    strcpy(row.id, "y");
    row.data = "[1]";
    ASSERT_TRUE(entset_insert_loaded(&s, &row) == NULL);
    row.data = "{bad";
    ASSERT_TRUE(entset_insert_loaded(&s, &row) == NULL);
    ASSERT_EQ(s.count, 1);
    json_t *all = entset_json(&s);
    ASSERT_EQ(json_array_size(all), 1);
    json_decref(all);
    entset_free(&s);
}

static int rnd(unsigned *seed, int n)
{
    *seed = *seed * 1103515245u + 12345u;
    return (int)((*seed >> 16) % (unsigned)n);
}

/* Random changes; at each version the whole state is kept; then a replica at every
 * version the window still covers, given the delta, must equal the current state. */
static void test_delta_property(void)
{
    entity_limits_t l = ENTITY_LIMITS_DEFAULT;
    l.log_window = 40;
    l.max_count = 8;
    unsigned seed = 12345;
#define RND(n) rnd(&seed, (n))
    for (int round = 0; round < 30; round++) {
        entity_set_t s;
        entset_init(&s, (uint64_t)round, 0);
        json_t *states[200] = {0};
        json_t *state = parse("{}");
        int64_t v = 0;
        states[0] = parse("{\"entities\":{},\"state\":{}}");
        for (int step = 0; step < 150; step++) {
            char id[8];
            snprintf(id, sizeof(id), "e%d", RND(10));
            entity_t *e = entset_get(&s, id);
            int what = RND(10);
            if (!e) {
                if (create(&s, &l, id, "{}", v + 1, NULL) == ENT_OK) v++;
            } else if (what < 2) {
                entset_remove(&s, &l, e, ++v);
                entity_free(e);
            } else if (what < 3) {
                json_decref(state);
                state = json_pack("{s:i}", "step", step);
                entset_log_state(&s, &l, ++v);
            } else if (what < 5) {
                char p[32];
                snprintf(p, sizeof(p), "{\"t\":%d}", step);
                json_t *pt = parse(p);
                uint64_t due;
                entity_transient(e, &l, pt, BUS_MEMBER_NONE, NULL, (uint64_t)step * 100 + 1, &due);
                json_decref(pt);
                if (entset_apply_pending(&s, &l, e, (uint64_t)step * 100 + 1, v + 1, step)) v++;
            } else {
                char p[48];
                int f1 = RND(4), f2 = RND(4);
                snprintf(p, sizeof(p), "{\"f%d\":%d,\"f%d\":null}", f1, step, f2);
                if (update(&s, &l, e, p, -1, v + 1) == ENT_OK) v++;
            }
            /* Snapshot at version v: {"entities": {id: entity}, "state": state}. */
            json_t *snap = json_object(), *ents = json_object();
            json_t *arr = entset_json(&s);
            size_t i;
            json_t *x;
            json_array_foreach(arr, i, x)
                json_object_set(ents, json_string_value(json_object_get(x, "id")), x);
            json_decref(arr);
            json_object_set_new(snap, "entities", ents);
            json_object_set(snap, "state", state);
            json_decref(states[v]);
            states[v] = snap;
        }
        int ok = 1;
        for (int64_t since = 0; since <= v; since++) {
            json_t *j = entset_sync(&s, since, v, state);
            const char *type = sync_type(j);
            json_t *rep = json_deep_copy(states[since]);
            json_t *ents = json_object_get(rep, "entities");
            if (strcmp(type, "full") == 0) {
                ok &= since < s.base; /* full only when the log does not reach */
                json_object_clear(ents);
                size_t i;
                json_t *x;
                json_array_foreach(json_object_get(j, "entities"), i, x)
                    json_object_set(ents, json_string_value(json_object_get(x, "id")), x);
                json_object_set(rep, "state", json_object_get(j, "state"));
            } else if (strcmp(type, "delta") == 0) {
                ok &= since >= s.base;
                size_t i;
                json_t *x;
                json_array_foreach(json_object_get(j, "changes"), i, x) {
                    const char *id = json_string_value(json_object_get(x, "id"));
                    if (json_is_true(json_object_get(x, "deleted"))) json_object_del(ents, id);
                    else json_object_set(ents, id, x);
                }
                if (json_object_get(j, "state")) json_object_set(rep, "state", json_object_get(j, "state"));
            } else {
                ok &= since == v;
            }
            json_t *cur = states[v];
            if (!json_equal(rep, cur)) {
                ok = 0;
                char *a = json_dumps(rep, JSON_COMPACT | JSON_SORT_KEYS), *b = json_dumps(cur, JSON_COMPACT | JSON_SORT_KEYS);
                fprintf(stderr, "  round %d since %lld (%s): %s != %s\n", round, (long long)since, type, a, b);
                free(a);
                free(b);
            }
            json_decref(rep);
            json_decref(j);
            if (!ok) break;
        }
        for (int64_t i = 0; i <= v; i++)
            json_decref(states[i]);
        json_decref(state);
        entset_free(&s);
        ASSERT_TRUE(ok);
    }
#undef RND
}

/* The current entities and state of s as {"entities": {id: entity}, "state": state}. */
static json_t *snapshot(const entity_set_t *s, const json_t *state)
{
    json_t *snap = json_object(), *ents = json_object();
    json_t *arr = entset_json(s);
    size_t i;
    json_t *x;
    json_array_foreach(arr, i, x)
        json_object_set(ents, json_string_value(json_object_get(x, "id")), x);
    json_decref(arr);
    json_object_set_new(snap, "entities", ents);
    json_object_set(snap, "state", (json_t *)state);
    return snap;
}

/* Applies one sync answer j to a client's copy rep (a snapshot); returns the stateVersion
 * the client has then. */
static int64_t apply_sync(json_t *rep, const json_t *j)
{
    json_t *ents = json_object_get(rep, "entities");
    const char *type = json_string_value(json_object_get(j, "type"));
    size_t i;
    json_t *x;
    if (strcmp(type, "full") == 0) {
        json_object_clear(ents);
        json_array_foreach(json_object_get(j, "entities"), i, x)
            json_object_set(ents, json_string_value(json_object_get(x, "id")), x);
    } else if (strcmp(type, "delta") == 0) {
        json_array_foreach(json_object_get(j, "changes"), i, x)
        {
            const char *id = json_string_value(json_object_get(x, "id"));
            if (json_is_true(json_object_get(x, "deleted")))
                json_object_del(ents, id);
            else
                json_object_set(ents, id, x);
        }
    }
    if (json_object_get(j, "state")) json_object_set(rep, "state", json_object_get(j, "state"));
    return json_integer_value(json_object_get(j, "stateVersion"));
}

/* Paged sync: a client at any version (or none) follows the pages of a small budget
 * while the set keeps changing between them, and ends with exactly the current state;
 * every page but the last stays within the budget or holds one item. */
static void test_paged_sync_property(void)
{
    entity_limits_t l = ENTITY_LIMITS_DEFAULT;
    l.log_window = 60;
    l.max_count = 12;
    unsigned seed = 777;
#define RND(n) rnd(&seed, (n))
    for (int round = 0; round < 40; round++) {
        entity_set_t s;
        entset_init(&s, (uint64_t)round, 0);
        json_t *state = parse("{}");
        json_t *snaps[400] = {0};
        int64_t v = 0;
        snaps[0] = snapshot(&s, state);
        int ok = 1;
        /* Changes: a random one; returns nothing, v moves on and snaps[v] is kept. */
#define CHANGE()                                                                               \
    do {                                                                                       \
        char id_[8];                                                                           \
        snprintf(id_, sizeof(id_), "e%d", RND(14));                                            \
        entity_t *e_ = entset_get(&s, id_);                                                    \
        int what_ = RND(10);                                                                   \
        if (!e_) {                                                                             \
            if (create(&s, &l, id_, "{\"pad\":\"0123456789012345678901234567890\"}", v + 1,    \
                       NULL) == ENT_OK)                                                        \
                v++;                                                                           \
        } else if (what_ < 3) {                                                                \
            entset_remove(&s, &l, e_, ++v);                                                    \
            entity_free(e_);                                                                   \
        } else if (what_ < 4) {                                                                \
            json_decref(state);                                                                \
            state = json_pack("{s:i}", "v", (int)v);                                           \
            entset_log_state(&s, &l, ++v);                                                     \
        } else {                                                                               \
            char p_[32];                                                                       \
            snprintf(p_, sizeof(p_), "{\"n\":%d}", (int)v);                                    \
            if (update(&s, &l, e_, p_, -1, v + 1) == ENT_OK) v++;                              \
        }                                                                                      \
        if (v < 399 && !snaps[v]) snaps[v] = snapshot(&s, state);                              \
    } while (0)
        for (int i = 0; i < 80; i++)
            CHANGE();
        for (int trial = 0; trial < 10 && ok && v < 300; trial++) {
            int64_t since = RND(2) ? (int64_t)RND((unsigned)v + 1) : -1;
            json_t *rep = since >= 0 ? json_deep_copy(snaps[since])
                                     : parse("{\"entities\":{},\"state\":{}}");
            int64_t have = since >= 0 ? since : (int64_t)1 << 40; /* none: ask the future */
            int64_t cursor = have;
            for (int page = 0; page < 200; page++) {
                size_t budget = 700 + (size_t)RND(1200);
                json_t *j = entset_sync_page(&s, have, cursor, v, state, budget);
                char *text = json_dumps(j, JSON_COMPACT);
                size_t nitems = json_array_size(json_object_get(j, "entities")) +
                                json_array_size(json_object_get(j, "changes"));
                int more = json_is_true(json_object_get(j, "more"));
                if (more && nitems > 1 && strlen(text) > budget + 2000) ok = 0;
                free(text);
                have = apply_sync(rep, j);
                if (more) cursor = json_integer_value(json_object_get(j, "cursor"));
                json_decref(j);
                if (!more) break;
                if (RND(2)) CHANGE(); /* the room moves on between pages */
                if (v >= 399) break;
            }
            if (have != v) ok = 0;
            json_t *cur = snapshot(&s, state);
            if (!json_equal(rep, cur)) {
                char *a = json_dumps(rep, JSON_COMPACT | JSON_SORT_KEYS);
                char *b = json_dumps(cur, JSON_COMPACT | JSON_SORT_KEYS);
                fprintf(stderr, "  round %d since %lld: %s != %s\n", round, (long long)since, a,
                        b);
                free(a);
                free(b);
                ok = 0;
            }
            json_decref(cur);
            json_decref(rep);
            for (int i = 0; i < 5; i++)
                CHANGE();
        }
#undef CHANGE
        for (int64_t i = 0; i < 400; i++)
            json_decref(snaps[i]);
        json_decref(state);
        entset_free(&s);
        ASSERT_TRUE(ok);
        if (!ok) break;
    }
#undef RND
}

int main(void)
{
    RUN(test_ids);
    RUN(test_create_limits);
    RUN(test_update_merge_and_conflict);
    RUN(test_transient);
    RUN(test_locks);
    RUN(test_owner_only);
    RUN(test_lock_max_hold);
    RUN(test_lock_rules_clock);
    RUN(test_change_conflicts);
    RUN(test_log_window);
    RUN(test_loaded);
    RUN(test_delta_property);
    RUN(test_paged_sync_property);
    TEST_MAIN_END();
}
