/* test_revoke.c: revoked jti's, user epochs, deleted users, expiry and the bound. */
#include "test.h"

#include <sodium.h>

#include "revoke.h"

static auth_claims_t claims(const char *sub, const char *jti, int has_ep, int64_t ep)
{
    auth_claims_t c;
    memset(&c, 0, sizeof(c));
    snprintf(c.sub, sizeof(c.sub), "%s", sub);
    snprintf(c.jti, sizeof(c.jti), "%s", jti);
    c.has_ep = has_ep;
    c.ep = ep;
    return c;
}

static void test_token_and_epoch(void)
{
    revoke_t *rv = revoke_new(8);
    auth_claims_t a = claims("u1", "j1", 1, 0), b = claims("u1", "j2", 1, 0);
    ASSERT_EQ(revoke_check(rv, &a), 0);
    revoke_token(rv, "j1", 100);
    ASSERT_EQ(revoke_check(rv, &a), -1);
    ASSERT_EQ(revoke_check(rv, &b), 0);
    /* Logout everywhere: every token below epoch 1. */
    revoke_user(rv, "u1", 1, 200);
    ASSERT_EQ(revoke_check(rv, &b), -1);
    auth_claims_t fresh = claims("u1", "j3", 1, 1);
    ASSERT_EQ(revoke_check(rv, &fresh), 0);
    /* An app backend's token (no ep, no jti) is untouched by an epoch. */
    auth_claims_t app = claims("u1", "", 0, 0);
    ASSERT_EQ(revoke_check(rv, &app), 0);
    /* A lower epoch never replaces a higher one. */
    revoke_user(rv, "u1", 0, 300);
    ASSERT_EQ(revoke_check(rv, &b), -1);
    /* Deleted: every token of the user. */
    revoke_user(rv, "u1", REVOKE_ALL, 300);
    ASSERT_EQ(revoke_check(rv, &fresh), -1);
    ASSERT_EQ(revoke_check(rv, &app), -1);
    auth_claims_t other = claims("u2", "j9", 1, 0);
    ASSERT_EQ(revoke_check(rv, &other), 0);
    revoke_free(rv);
}

static void test_sweep_and_bound(void)
{
    revoke_t *rv = revoke_new(2);
    ASSERT_EQ(revoke_has_room(rv, "a", NULL), 1);
    revoke_token(rv, "a", 100);
    revoke_user(rv, "u", 1, 200);
    ASSERT_EQ(revoke_has_room(rv, "b", NULL), 0);
    ASSERT_EQ(revoke_has_room(rv, NULL, "v"), 0);
    ASSERT_EQ(revoke_has_room(rv, NULL, "u"), 1); /* replacing needs no room */
    ASSERT_EQ(revoke_has_room(rv, "a", NULL), 1);
    revoke_user(rv, "u", 2, 200);
    ASSERT_EQ(revoke_count(rv), 2);
    ASSERT_EQ(revoke_sweep(rv, 99), 0);
    ASSERT_EQ(revoke_sweep(rv, 100), 1);
    ASSERT_EQ(revoke_count(rv), 1);
    ASSERT_EQ(revoke_has_room(rv, "b", NULL), 1);
    revoke_token(rv, "b", 150);
    ASSERT_EQ(revoke_sweep(rv, 1000), 2);
    ASSERT_EQ(revoke_count(rv), 0);
    revoke_free(rv);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    RUN(test_token_and_epoch);
    RUN(test_sweep_and_bound);
    TEST_MAIN_END();
}
