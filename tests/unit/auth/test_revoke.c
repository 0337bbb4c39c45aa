/* test_revoke.c: revoked jti's, user epochs, deleted users, expiry and the bound. */
#include "test.h"

#include <sodium.h>

#include "auth/revoke.h"

static auth_claims_t claims(const char *sub, const char *jti, int has_ep, int64_t ep)
{
    auth_claims_t c;
    memset(&c, 0, sizeof(c));
    snprintf(c.sub, sizeof(c.sub), "%s", sub);
    c.has_jti = jti[0] != '\0';
    if (c.has_jti) auth_jti_key(jti, strlen(jti), &c.jti);
    c.has_ep = has_ep;
    c.ep = ep;
    return c;
}

/* The key of a jti given as text (tests only). */
static const auth_jti_t *key(const char *jti)
{
    static auth_jti_t k;
    auth_jti_key(jti, strlen(jti), &k);
    return &k;
}

static void test_token_and_epoch(void)
{
    revoke_t *rv = revoke_new(8);
    auth_claims_t a = claims("u1", "j1", 1, 0), b = claims("u1", "j2", 1, 0);
    ASSERT_EQ(revoke_check(rv, &a), 0);
    revoke_token(rv, key("j1"), 100);
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
    ASSERT_EQ(revoke_has_room(rv, key("a"), NULL), 1);
    revoke_token(rv, key("a"), 100);
    revoke_user(rv, "u", 1, 200);
    ASSERT_EQ(revoke_has_room(rv, key("b"), NULL), 0);
    ASSERT_EQ(revoke_has_room(rv, NULL, "v"), 0);
    ASSERT_EQ(revoke_has_room(rv, NULL, "u"), 1); /* replacing needs no room */
    ASSERT_EQ(revoke_has_room(rv, key("a"), NULL), 1);
    revoke_user(rv, "u", 2, 200);
    ASSERT_EQ(revoke_count(rv), 2);
    ASSERT_EQ(revoke_sweep(rv, 99), 0);
    ASSERT_EQ(revoke_sweep(rv, 100), 1);
    ASSERT_EQ(revoke_count(rv), 1);
    ASSERT_EQ(revoke_has_room(rv, key("b"), NULL), 1);
    revoke_token(rv, key("b"), 150);
    ASSERT_EQ(revoke_sweep(rv, 1000), 2);
    ASSERT_EQ(revoke_count(rv), 0);
    revoke_free(rv);
}

/* A revocation is stored as the hex form of the token's key and reloaded from it (or from
 * the jti itself, as stored before): both find the token, a Chorus one and an app
 * backend's. */
static void test_stored_forms(void)
{
    const char *ids[] = {"0123456789abcdef0123456789abcdef", "backend-token-42",
                         "0123456789ABCDEF0123456789ABCDEF"};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
        auth_claims_t c = claims("u1", ids[i], 0, 0);
        char hex[AUTH_JTI_HEX_LEN + 1];
        auth_jti_hex(&c.jti, hex);
        revoke_t *rv = revoke_new(8);
        revoke_token(rv, key(hex), 100);
        ASSERT_EQ(revoke_check(rv, &c), -1);
        revoke_free(rv);
        rv = revoke_new(8);
        revoke_token(rv, key(ids[i]), 100);
        ASSERT_EQ(revoke_check(rv, &c), -1);
        auth_claims_t other =
            claims("u1", i == 0 ? "0123456789abcdef0123456789abcdee" : "x", 0, 0);
        ASSERT_EQ(revoke_check(rv, &other), 0);
        revoke_free(rv);
    }
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    RUN(test_token_and_epoch);
    RUN(test_sweep_and_bound);
    RUN(test_stored_forms);
    TEST_MAIN_END();
}
