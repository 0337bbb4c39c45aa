/* test_audit_agg.c: repeated failures fold into one row per source per window, bounded. */
#include "test.h"

#include <sodium.h>

#include "auth/audit_agg.h"

typedef struct {
    store_audit_t rows[16];
    size_t n;
} sink_t;

static void emit(void *ud, const store_audit_t *row)
{
    sink_t *s = ud;
    if (s->n < 16) s->rows[s->n++] = *row;
}

static store_audit_t ev(const char *event, const char *ip, const char *user, const char *detail)
{
    store_audit_t a;
    memset(&a, 0, sizeof(a));
    snprintf(a.event, sizeof(a.event), "%s", event);
    snprintf(a.ip, sizeof(a.ip), "%s", ip);
    snprintf(a.user_id, sizeof(a.user_id), "%s", user);
    snprintf(a.detail, sizeof(a.detail), "%s", detail);
    return a;
}

static void test_first_written_rest_counted(void)
{
    audit_agg_t *g = audit_agg_new(8);
    store_audit_t a = ev("token_rejected", "192.0.2.1", "", "bad signature");
    ASSERT_EQ(audit_agg_add(g, &a), 1);
    for (int i = 0; i < 999; i++) ASSERT_EQ(audit_agg_add(g, &a), 0);
    store_audit_t last = ev("token_rejected", "192.0.2.1", "", "expired");
    ASSERT_EQ(audit_agg_add(g, &last), 0);
    /* Another source, another user, another event: each its own first row. */
    store_audit_t b = ev("token_rejected", "192.0.2.2", "", "x");
    store_audit_t u = ev("login_failed", "192.0.2.1", "u-1", "wrong password");
    store_audit_t u2 = ev("login_failed", "192.0.2.1", "u-2", "wrong password");
    ASSERT_EQ(audit_agg_add(g, &b), 1);
    ASSERT_EQ(audit_agg_add(g, &u), 1);
    ASSERT_EQ(audit_agg_add(g, &u2), 1);
    sink_t s = {0};
    ASSERT_EQ(audit_agg_flush(g, 5000, emit, &s), 1); /* only the source that repeated */
    ASSERT_EQ(s.rows[0].count, 1000);
    ASSERT_EQ(s.rows[0].at, 5000);
    ASSERT_STREQ(s.rows[0].detail, "expired");
    ASSERT_STREQ(s.rows[0].ip, "192.0.2.1");
    ASSERT_EQ(audit_agg_count(g), 0);
    /* A new window: the first is written again. */
    ASSERT_EQ(audit_agg_add(g, &a), 1);
    audit_agg_free(g);
}

static void test_ipv6_grouped_by_64(void)
{
    audit_agg_t *g = audit_agg_new(8);
    store_audit_t a = ev("token_rejected", "2001:db8:0:1::1", "", "x");
    store_audit_t b = ev("token_rejected", "2001:db8:0:1::2", "", "x");
    ASSERT_EQ(audit_agg_add(g, &a), 1);
    ASSERT_EQ(audit_agg_add(g, &b), 0);
    audit_agg_free(g);
}

static void test_bounded(void)
{
    audit_agg_t *g = audit_agg_new(2);
    char ip[32];
    int first = 0;
    for (int i = 0; i < 100; i++) {
        snprintf(ip, sizeof(ip), "198.51.100.%d", i);
        store_audit_t a = ev("token_rejected", ip, "", "x");
        first += audit_agg_add(g, &a);
    }
    ASSERT_EQ(first, 2);
    ASSERT_EQ(audit_agg_count(g), 2);
    sink_t s = {0};
    ASSERT_EQ(audit_agg_flush(g, 1, emit, &s), 1);
    ASSERT_STREQ(s.rows[0].ip, "*");
    ASSERT_EQ(s.rows[0].count, 98);
    audit_agg_free(g);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    RUN(test_first_written_rest_counted);
    RUN(test_ipv6_grouped_by_64);
    RUN(test_bounded);
    TEST_MAIN_END();
}
