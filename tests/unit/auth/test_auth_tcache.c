/* test_auth_tcache.c: the cache of verified tokens gives auth_jwt_verify's answer: the same
 * claims for a token seen before (without verifying it again), a verification again at and
 * past the token's validity, no answer for another verifier's token, nothing kept for a
 * refused token, and never more than AUTH_TCACHE_SLOTS entries. */
#include "test.h"

#include <sodium.h>

#include "auth/auth_tcache.h"

#include "jwt_fixture.h"

#define SECRET "0123456789abcdef0123456789abcdef"
#define OTHER "fedcba9876543210fedcba9876543210"
#define NOW 1800000000

static void counts(const auth_tcache_t *tc, uint64_t hits, uint64_t misses)
{
    uint64_t h, m;
    auth_tcache_counts(tc, &h, &m);
    ASSERT_EQ(h, hits);
    ASSERT_EQ(m, misses);
}

/* A hit gives the claims the verification gave, and why "ok". */
static void test_hit_same_claims(void)
{
    auth_jwt_t *j = jwt_fixture_hs256(SECRET);
    auth_tcache_t *tc = auth_tcache_new();
    char *t = jwt_fixture_mint(j, "u1", NOW, 3600);
    auth_claims_t want, a, b;
    const char *why = NULL;
    ASSERT_EQ(auth_jwt_verify(j, t, strlen(t), NOW, &want, NULL), 0);
    ASSERT_EQ(auth_tcache_verify(tc, j, t, strlen(t), NOW, &a, &why), 0);
    counts(tc, 0, 1);
    why = NULL;
    ASSERT_EQ(auth_tcache_verify(tc, j, t, strlen(t), NOW + 10, &b, &why), 0);
    counts(tc, 1, 1);
    ASSERT_STREQ(why, "ok");
    ASSERT_MEMEQ(&a, &want, sizeof(want));
    ASSERT_MEMEQ(&b, &want, sizeof(want));
    free(t);
    auth_tcache_free(tc);
    auth_jwt_free(j);
}

/* At its exp the token is verified again (and refused, expired), never answered from
 * the cache; a token a byte shorter or with another signature is not the kept one. */
static void test_expiry_and_other_bytes(void)
{
    auth_jwt_t *j = jwt_fixture_hs256(SECRET);
    auth_tcache_t *tc = auth_tcache_new();
    char *t = jwt_fixture_mint(j, "u1", NOW, 60);
    auth_claims_t c;
    const char *why;
    ASSERT_EQ(auth_tcache_verify(tc, j, t, strlen(t), NOW, &c, &why), 0);
    ASSERT_EQ(auth_tcache_verify(tc, j, t, strlen(t), NOW + 59, &c, &why), 0);
    counts(tc, 1, 1);
    ASSERT_EQ(auth_tcache_verify(tc, j, t, strlen(t), NOW + 60, &c, &why), AUTH_JWT_EEXPIRED);
    ASSERT_EQ(c.sub[0], 0);
    counts(tc, 1, 2);
    ASSERT_TRUE(auth_tcache_verify(tc, j, t, strlen(t) - 1, NOW, &c, &why) != 0);
    size_t n = strlen(t);
    t[n - 2] = t[n - 2] == 'A' ? 'B' : 'A'; /* the signature changed */
    ASSERT_TRUE(auth_tcache_verify(tc, j, t, n, NOW, &c, &why) != 0);
    counts(tc, 1, 4);
    free(t);
    auth_tcache_free(tc);
    auth_jwt_free(j);
}

/* Another verifier (a rotated secret) does not get the first one's answer. */
static void test_other_verifier(void)
{
    auth_jwt_t *j = jwt_fixture_hs256(SECRET), *k = jwt_fixture_hs256(OTHER);
    auth_tcache_t *tc = auth_tcache_new();
    char *t = jwt_fixture_mint(j, "u1", NOW, 3600);
    auth_claims_t c;
    const char *why;
    ASSERT_EQ(auth_tcache_verify(tc, j, t, strlen(t), NOW, &c, &why), 0);
    ASSERT_EQ(auth_tcache_verify(tc, k, t, strlen(t), NOW, &c, &why), AUTH_JWT_EBAD_SIGNATURE);
    counts(tc, 0, 2);
    free(t);
    auth_tcache_free(tc);
    auth_jwt_free(j);
    auth_jwt_free(k);
}

/* Cleared (a reload replaced the verifier), nothing is answered from the cache, even for
 * a verifier at the same address. */
static void test_clear(void)
{
    auth_jwt_t *j = jwt_fixture_hs256(SECRET);
    auth_tcache_t *tc = auth_tcache_new();
    char *t = jwt_fixture_mint(j, "u1", NOW, 3600);
    auth_claims_t c;
    const char *why;
    ASSERT_EQ(auth_tcache_verify(tc, j, t, strlen(t), NOW, &c, &why), 0);
    auth_tcache_clear(tc);
    auth_tcache_clear(tc); /* twice: nothing left to free */
    ASSERT_EQ(auth_tcache_verify(tc, j, t, strlen(t), NOW, &c, &why), 0);
    counts(tc, 0, 2);
    ASSERT_EQ(auth_tcache_verify(tc, j, t, strlen(t), NOW, &c, &why), 0);
    counts(tc, 1, 2);
    free(t);
    auth_tcache_free(tc);
    auth_jwt_free(j);
}

/* Many tokens: every one answered right, at most AUTH_TCACHE_SLOTS of them kept (so a
 * second round over 4x as many hits at most that many). */
static void test_bounded(void)
{
    auth_jwt_t *j = jwt_fixture_hs256(SECRET);
    auth_tcache_t *tc = auth_tcache_new();
    enum { N = 4 * AUTH_TCACHE_SLOTS };
    char **t = calloc(N, sizeof(*t));
    for (int i = 0; i < N; i++) {
        char sub[32];
        snprintf(sub, sizeof(sub), "user-%d", i);
        t[i] = jwt_fixture_mint(j, sub, NOW, 3600);
    }
    auth_claims_t c;
    const char *why;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < N; i++) {
            char sub[32];
            snprintf(sub, sizeof(sub), "user-%d", i);
            ASSERT_EQ(auth_tcache_verify(tc, j, t[i], strlen(t[i]), NOW, &c, &why), 0);
            ASSERT_STREQ(c.sub, sub);
        }
    uint64_t hits, misses;
    auth_tcache_counts(tc, &hits, &misses);
    ASSERT_TRUE(hits <= AUTH_TCACHE_SLOTS);
    ASSERT_EQ(hits + misses, 2 * N);
    for (int i = 0; i < N; i++)
        free(t[i]);
    free(t);
    auth_tcache_free(tc);
    auth_jwt_free(j);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    RUN(test_hit_same_claims);
    RUN(test_expiry_and_other_bytes);
    RUN(test_other_verifier);
    RUN(test_bounded);
    RUN(test_clear);
    TEST_MAIN_END();
}
