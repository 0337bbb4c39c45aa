/* test_quota.c: storage quota checks and per-user counters (quota.c). */
#include "test.h"

#include "domain/quota.h"
#include "store/store.h"

static void test_check(void)
{
    quota_limits_t lim = {.room_max = 100, .user_max = 50};
    ASSERT_EQ(quota_check(&lim, 0, 0, 50), QUOTA_OK);
    ASSERT_EQ(quota_check(&lim, 0, 0, 51), QUOTA_EUSER);
    ASSERT_EQ(quota_check(&lim, 60, 0, 41), QUOTA_EROOM); /* the room is checked first */
    ASSERT_EQ(quota_check(&lim, 60, 0, 40), QUOTA_OK);    /* exactly full fits */
    ASSERT_EQ(quota_check(&lim, 100, 50, 1), QUOTA_EROOM);
    /* Writes that do not grow anything always fit, even over the quota. */
    ASSERT_EQ(quota_check(&lim, 500, 500, 0), QUOTA_OK);
    ASSERT_EQ(quota_check(&lim, 500, 500, -10), QUOTA_OK);
    /* 0 is unlimited. */
    quota_limits_t none = {0, 0};
    ASSERT_EQ(quota_check(&none, INT64_MAX / 2, INT64_MAX / 2, 1 << 30), QUOTA_OK);
    quota_limits_t room_only = {.room_max = 10};
    ASSERT_EQ(quota_check(&room_only, 0, 1000000, 10), QUOTA_OK);
    ASSERT_EQ(quota_check(&room_only, 0, 0, 11), QUOTA_EROOM);
}

static void test_add_clamps(void)
{
    ASSERT_EQ(quota_add(10, 5), 15);
    ASSERT_EQ(quota_add(10, -5), 5);
    ASSERT_EQ(quota_add(10, -50), 0); /* a drifted counter never goes negative */
}

static void test_users(void)
{
    quota_users_t u;
    quota_users_init(&u, 42);
    ASSERT_EQ(quota_user_used(&u, "a"), 0);
    quota_user_add(&u, "a", 100);
    quota_user_add(&u, "b", 7);
    quota_user_add(&u, "a", 20);
    ASSERT_EQ(quota_user_used(&u, "a"), 120);
    ASSERT_EQ(quota_user_used(&u, "b"), 7);
    ASSERT_EQ(quota_users_count(&u), 2);
    /* The server ("") is never counted. */
    quota_user_add(&u, "", 1000);
    ASSERT_EQ(quota_user_used(&u, ""), 0);
    ASSERT_EQ(quota_users_count(&u), 2);
    /* Down to 0 drops the entry; below 0 clamps; a decrease of an unknown user is a no-op. */
    quota_user_add(&u, "b", -7);
    ASSERT_EQ(quota_users_count(&u), 1);
    quota_user_add(&u, "a", -500);
    ASSERT_EQ(quota_user_used(&u, "a"), 0);
    ASSERT_EQ(quota_users_count(&u), 0);
    quota_user_add(&u, "c", -5);
    ASSERT_EQ(quota_users_count(&u), 0);
    /* Keys are copied: the caller's buffer may change. */
    char key[8] = "dd";
    quota_user_add(&u, key, 3);
    key[0] = 'x';
    ASSERT_EQ(quota_user_used(&u, "dd"), 3);
    for (int i = 0; i < 1000; i++) {
        char k[16];
        snprintf(k, sizeof(k), "u%d", i);
        quota_user_add(&u, k, i + 1);
    }
    ASSERT_EQ(quota_users_count(&u), 1001);
    ASSERT_EQ(quota_user_used(&u, "u999"), 1000);
    quota_users_free(&u);
}

/* The store's grant (store_quota_grant): a quarter of what is free, at least need, at most
 * want and what is free; nothing when the others' allowances and the rows fill it. */
static void test_grant(void)
{
    ASSERT_EQ(store_quota_grant(4000, 0, 0, 0, 100, 1 << 20), 1000);
    ASSERT_EQ(store_quota_grant(4000, 0, 0, 0, 1500, 1 << 20), 1500);    /* need wins */
    ASSERT_EQ(store_quota_grant(4000, 3000, 0, 0, 1500, 1 << 20), 1000); /* all that is free */
    ASSERT_EQ(store_quota_grant(4000, 3000, 1000, 0, 10, 1 << 20), 0);   /* others hold it */
    ASSERT_EQ(store_quota_grant(4000, 1000, 1000, 1000, 10, 1 << 20), 250); /* keep counts */
    ASSERT_EQ(store_quota_grant(4000, 5000, 0, 0, 10, 1 << 20), 0);         /* over already */
    ASSERT_EQ(store_quota_grant(1LL << 40, 0, 0, 0, 0, 1 << 20), 1 << 20);  /* a chunk */
    ASSERT_EQ(store_quota_grant(4000, 0, 0, 0, 0, 0), 0); /* a give-back asks nothing */
}

/* Nodes sharing one quota through the grant never hold with the rows more than it. */
static void test_grants_never_pass_the_quota(void)
{
    int64_t quota = 10000, used = 0, held[3] = {0, 0, 0};
    for (int round = 0; round < 200; round++) {
        int n = round % 3;
        int64_t others = held[0] + held[1] + held[2] - held[n];
        int64_t g = store_quota_grant(quota, used, others, held[n], 700, 1 << 20);
        held[n] += g;
        ASSERT_TRUE(used + held[0] + held[1] + held[2] <= quota);
        int64_t w = 300 + round % 400; /* a write of the node, if its allowance has it */
        if (held[n] >= w) {
            held[n] -= w;
            used += w;
        }
    }
    ASSERT_TRUE(used > quota - 3 * 700); /* near the quota at the end: what is left is small */
}

static void test_lease_gate_and_take(void)
{
    quota_leases_t t;
    quota_leases_init(&t, 7);
    uint64_t now = 1000000;
    /* Nothing held: a write waits for a reservation. */
    ASSERT_EQ(quota_lease_gate(NULL, 100, now), QUOTA_LEASE_WAIT);
    ASSERT_EQ(quota_lease_fits(NULL, 100, now), 0);
    ASSERT_EQ(quota_lease_fits(NULL, 0, now), 1);
    quota_lease_t *l = quota_lease_of(&t, "u");
    ASSERT_TRUE(quota_lease_of(&t, "u") == l);
    ASSERT_EQ(quota_lease_ask(l, now, 0), 0);
    ASSERT_TRUE(l->pending);
    ASSERT_EQ(quota_lease_prefetch(l, now), 0); /* one at a time */
    quota_lease_answered(l, 1, 5000, 100, QUOTA_LEASE_CHUNK, now, now + 5);
    ASSERT_TRUE(!l->pending);
    ASSERT_EQ(quota_lease_allow(l, now + 5), 5000);
    ASSERT_EQ(quota_lease_gate(l, 100, now + 5), QUOTA_LEASE_PASS);
    ASSERT_TRUE(quota_lease_fits(l, 5000, now + 5));
    ASSERT_TRUE(!quota_lease_fits(l, 5001, now + 5));
    quota_lease_take(l, 4000, now + 6);
    ASSERT_EQ(quota_lease_allow(l, now + 6), 1000);
    ASSERT_EQ(quota_lease_prefetch(l, now + 6), 1); /* under QUOTA_LEASE_LOW */
    quota_lease_take(l, -500, now + 7);             /* a failed write gives back */
    ASSERT_EQ(quota_lease_allow(l, now + 7), 1500);
    /* Void a quarter of its life before the store's end, counted from the ask. */
    uint64_t end = now + QUOTA_LEASE_TTL_MS - QUOTA_LEASE_TTL_MS / 4;
    ASSERT_EQ(quota_lease_allow(l, end - 1), 1500);
    ASSERT_EQ(quota_lease_allow(l, end), 0);
    ASSERT_EQ(quota_lease_gate(l, 100, end), QUOTA_LEASE_WAIT);
    /* Asked once void: it keeps nothing. */
    ASSERT_EQ(quota_lease_ask(l, end, 0), 0);
    quota_lease_answered(l, 0, 0, 100, QUOTA_LEASE_CHUNK, end, end + 1); /* the store failed: nothing changes */
    ASSERT_TRUE(!l->pending);
    ASSERT_EQ(quota_lease_allow(l, end + 1), 0);
    quota_leases_free(&t);
}

/* The store had too little for a waiting write: such writes are checked (and refused)
 * without asking for QUOTA_LEASE_RETRY_MS, then asked again. */
static void test_lease_full(void)
{
    quota_leases_t t;
    quota_leases_init(&t, 7);
    uint64_t now = 50000;
    quota_lease_t *l = quota_lease_of(&t, "u");
    quota_lease_ask(l, now, 0);
    quota_lease_answered(l, 1, 300, 1000, QUOTA_LEASE_CHUNK, now, now + 2);
    ASSERT_EQ(quota_lease_allow(l, now + 2), 300);
    ASSERT_EQ(quota_lease_gate(l, 1000, now + 2), QUOTA_LEASE_PASS);
    ASSERT_TRUE(!quota_lease_fits(l, 1000, now + 2));
    ASSERT_TRUE(quota_lease_fits(l, 300, now + 2));
    ASSERT_EQ(quota_lease_overdraw(l, 1, now + 2), 0); /* full: no credit either */
    ASSERT_EQ(quota_lease_prefetch(l, now + 2), 0);
    ASSERT_EQ(quota_lease_gate(l, 1000, now + 2 + QUOTA_LEASE_RETRY_MS), QUOTA_LEASE_WAIT);
    ASSERT_EQ(quota_lease_prefetch(l, now + 2 + QUOTA_LEASE_RETRY_MS), 1);
    quota_leases_free(&t);
}

/* Writes that could not wait go on credit up to QUOTA_LEASE_CREDIT (one of any size when
 * nothing is owed); the next grant repays it. */
static void test_lease_overdraw(void)
{
    quota_leases_t t;
    quota_leases_init(&t, 7);
    uint64_t now = 70000;
    ASSERT_EQ(quota_lease_overdraw(NULL, 1 << 20, now), 1);
    quota_lease_t *l = quota_lease_of(&t, "u");
    /* rooms_quota_user_fits asks first, then the write is charged: the store runs the
     * reservation before the write, whose charge lowers the new allowance. */
    ASSERT_EQ(quota_lease_ask(l, now, 0), 0); /* it keeps nothing */
    quota_lease_take(l, 800, now);
    ASSERT_EQ(quota_lease_overdraw(l, QUOTA_LEASE_CREDIT - 800, now), 1);
    ASSERT_EQ(quota_lease_overdraw(l, QUOTA_LEASE_CREDIT - 799, now), 0); /* past the credit */
    quota_lease_answered(l, 1, 2000, 0, QUOTA_LEASE_CHUNK, now, now + 1);
    ASSERT_EQ(quota_lease_allow(l, now + 1), 1200);
    ASSERT_EQ(quota_lease_overdraw(l, 1 << 20, now + 1), 1); /* nothing owed */
    /* The store had nothing free at its last answer: no credit, and the entry is kept
     * (forgotten, the next write would go on credit again) until a grant. */
    quota_lease_ask(l, now + 2, 1);
    quota_lease_answered(l, 1, 0, 0, QUOTA_LEASE_CHUNK, now + 2, now + 3);
    ASSERT_TRUE(l->empty);
    ASSERT_EQ(quota_lease_overdraw(l, 1, now + 3 + QUOTA_LEASE_RETRY_MS), 0);
    ASSERT_EQ(quota_lease_unused(l, now + 3 + QUOTA_LEASE_RETRY_MS), 0);
    l->empty = 0;
    ASSERT_EQ(quota_lease_unused(l, now + 3 + QUOTA_LEASE_RETRY_MS), 1);
    quota_leases_free(&t);
}

/* Idle allowances go back; empty entries are forgotten. */
static void test_lease_idle(void)
{
    quota_leases_t t;
    quota_leases_init(&t, 7);
    uint64_t now = 90000;
    quota_lease_t *l = quota_lease_of(&t, "u");
    quota_lease_ask(l, now, 0);
    ASSERT_EQ(quota_lease_idle(l, now + QUOTA_LEASE_IDLE_MS), 0); /* pending */
    quota_lease_answered(l, 1, 4000, 10, QUOTA_LEASE_CHUNK, now, now);
    quota_lease_take(l, 10, now + 100);
    ASSERT_EQ(quota_lease_idle(l, now + 100 + QUOTA_LEASE_IDLE_MS - 1), 0);
    ASSERT_EQ(quota_lease_idle(l, now + 100 + QUOTA_LEASE_IDLE_MS), 1);
    ASSERT_EQ(quota_lease_unused(l, now + 100 + QUOTA_LEASE_IDLE_MS), 0);
    uint64_t later = now + 100 + QUOTA_LEASE_IDLE_MS;
    ASSERT_EQ(quota_lease_ask(l, later, 1), 0); /* a give-back keeps nothing */
    ASSERT_EQ(quota_lease_allow(l, later), 0);
    quota_lease_answered(l, 1, 0, 0, 0, later, later + 1); /* a give-back: not empty */
    ASSERT_TRUE(!l->empty);
    ASSERT_EQ(quota_lease_allow(l, later + 1), 0);
    ASSERT_EQ(quota_lease_idle(l, later + 1), 0);
    ASSERT_EQ(quota_lease_unused(l, later + 1), 1);
    quota_lease_drop(&t, l);
    ASSERT_TRUE(quota_lease_get(&t, "u") == NULL);
    ASSERT_TRUE(quota_lease_get(&t, "") == NULL);
    quota_leases_free(&t);
}

int main(void)
{
    RUN(test_check);
    RUN(test_add_clamps);
    RUN(test_users);
    RUN(test_grant);
    RUN(test_grants_never_pass_the_quota);
    RUN(test_lease_gate_and_take);
    RUN(test_lease_full);
    RUN(test_lease_overdraw);
    RUN(test_lease_idle);
    TEST_MAIN_END();
}
