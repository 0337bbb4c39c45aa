/* test_auth_password.c: argon2id hash/verify (minimum cost for speed), UUIDs, hex tokens. */
#include "test.h"

#include "auth/auth_password.h"
#include "auth/auth_random.h"

static char h1[AUTH_PASSWORD_HASH_LEN], h2[AUTH_PASSWORD_HASH_LEN];

static int hash_min(const char *pw, size_t len, char *out)
{
    return auth_password_hash_cost(pw, len, auth_password_opslimit_min(),
                                   auth_password_memlimit_min(), out);
}

static void test_hash_verify(void)
{
    const char *pw = "correct horse battery staple";
    ASSERT_EQ(hash_min(pw, strlen(pw), h1), 0);
    ASSERT_EQ(strncmp(h1, "$argon2id$", 10), 0);
    ASSERT_EQ(auth_password_verify(h1, pw, strlen(pw)), 1);
    ASSERT_EQ(auth_password_verify(h1, "correct horse battery staplf", strlen(pw)), 0);
    ASSERT_EQ(auth_password_verify(h1, pw, strlen(pw) - 1), 0);
    ASSERT_EQ(auth_password_verify(h1, "", 0), 0);
}

static void test_binary_and_empty(void)
{
    /* length, not NUL, ends the password */
    ASSERT_EQ(hash_min("ab\0cd", 5, h1), 0);
    ASSERT_EQ(auth_password_verify(h1, "ab\0cd", 5), 1);
    ASSERT_EQ(auth_password_verify(h1, "ab", 2), 0);
    ASSERT_EQ(hash_min("", 0, h2), 0);
    ASSERT_EQ(auth_password_verify(h2, "", 0), 1);
    ASSERT_EQ(auth_password_verify(h2, "x", 1), 0);
}

static void test_salted(void)
{
    ASSERT_EQ(hash_min("same password", 13, h1), 0);
    ASSERT_EQ(hash_min("same password", 13, h2), 0);
    ASSERT_TRUE(strcmp(h1, h2) != 0);
    ASSERT_EQ(auth_password_verify(h1, "same password", 13), 1);
    ASSERT_EQ(auth_password_verify(h2, "same password", 13), 1);
}

static void test_malformed_hash(void)
{
    char bad[AUTH_PASSWORD_HASH_LEN];
    memset(bad, 'A', sizeof bad); /* not NUL-terminated */
    ASSERT_EQ(auth_password_verify(bad, "x", 1), 0);
    ASSERT_EQ(auth_password_needs_rehash(bad, 1, 8192), 1);
    strcpy(bad, "$argon2id$v=19$m=8,t=1,p=1$garbage");
    ASSERT_EQ(auth_password_verify(bad, "x", 1), 0);
    strcpy(bad, "");
    ASSERT_EQ(auth_password_verify(bad, "", 0), 0);
}

static void test_needs_rehash(void)
{
    ASSERT_EQ(hash_min("pw", 2, h1), 0);
    ASSERT_EQ(auth_password_needs_rehash(h1, auth_password_opslimit_min(),
                                         auth_password_memlimit_min()), 0);
    ASSERT_EQ(auth_password_needs_rehash(h1, auth_password_opslimit_default(),
                                         auth_password_memlimit_default()), 1);
}

static void test_default_cost(void)
{
    /* One real interactive-cost hash (64 MiB, ~0.1 s) so the defaults are exercised. */
    ASSERT_EQ(auth_password_hash("hunter22", 8, h1), 0);
    ASSERT_TRUE(strstr(h1, "$m=65536,t=2,p=1$") != NULL);
    ASSERT_EQ(auth_password_verify(h1, "hunter22", 8), 1);
}

static int is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* auth_random_uuid, or with pool the pooled one: 200 ids (12 refills of the pool), each
 * well formed and none twice. */
static void check_uuids(auth_random_pool_t *pool)
{
    static char seen[200][37];
    for (int n = 0; n < 200; n++) {
        char *u = seen[n];
        if (pool) auth_random_uuid_pooled(pool, u);
        else auth_random_uuid(u);
        ASSERT_EQ(strlen(u), 36);
        for (int i = 0; i < 36; i++) {
            if (i == 8 || i == 13 || i == 18 || i == 23) ASSERT_EQ(u[i], '-');
            else ASSERT_TRUE(is_hex(u[i]));
        }
        ASSERT_EQ(u[14], '4');
        ASSERT_TRUE(strchr("89ab", u[19]) != NULL);
        for (int k = 0; k < n; k++) ASSERT_TRUE(strcmp(seen[k], u) != 0);
    }
}

static void test_uuid(void)
{
    check_uuids(NULL);
}

/* The pool hands out each of its bytes once, and zeroes what it used. */
static void test_uuid_pooled(void)
{
    auth_random_pool_t pool = {{0}, 0};
    check_uuids(&pool);
    ASSERT_EQ(pool.left, (size_t)(AUTH_RANDOM_POOL - (200 * 16) % AUTH_RANDOM_POOL));
    for (size_t i = 0; i < AUTH_RANDOM_POOL - pool.left; i++) ASSERT_EQ(pool.b[i], 0);
}

static void test_hex(void)
{
    char a[2 * 100 + 1], b[2 * 100 + 1];
    auth_random_hex(a, 32);
    ASSERT_EQ(strlen(a), 64);
    for (int i = 0; i < 64; i++) ASSERT_TRUE(is_hex(a[i]));
    auth_random_hex(b, 32);
    ASSERT_TRUE(strcmp(a, b) != 0);
    auth_random_hex(a, 100); /* more than one internal chunk */
    ASSERT_EQ(strlen(a), 200);
    auth_random_hex(a, 0);
    ASSERT_EQ(strlen(a), 0);
}

int main(void)
{
    if (auth_init() != 0 || auth_init() != 0) {
        fprintf(stderr, "auth_init failed\n");
        return 1;
    }
    RUN(test_hash_verify);
    RUN(test_binary_and_empty);
    RUN(test_salted);
    RUN(test_malformed_hash);
    RUN(test_needs_rehash);
    RUN(test_default_cost);
    RUN(test_uuid);
    RUN(test_uuid_pooled);
    RUN(test_hex);
    TEST_MAIN_END();
}
