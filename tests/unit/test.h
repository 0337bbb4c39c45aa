/* test.h: a minimal unit-test harness: assertion macros that print both values on failure. */
#ifndef CHORUS_TEST_H
#define CHORUS_TEST_H

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int test_failures;
static int test_count;

#define TEST_FAIL_(fmt, ...)                                                    \
    do {                                                                        \
        fprintf(stderr, "%s:%d: " fmt "\n", __FILE__, __LINE__, __VA_ARGS__);  \
        test_failures++;                                                        \
        return;                                                                 \
    } while (0)

#define ASSERT_TRUE(c)                                                          \
    do { if (!(c)) TEST_FAIL_("expected true: %s", #c); } while (0)

#define ASSERT_EQ(a, b)                                                         \
    do {                                                                        \
        long long a_ = (long long)(a), b_ = (long long)(b);                     \
        if (a_ != b_) TEST_FAIL_("%s == %s: %lld != %lld", #a, #b, a_, b_);     \
    } while (0)

#define ASSERT_NE(a, b)                                                         \
    do {                                                                        \
        long long a_ = (long long)(a), b_ = (long long)(b);                     \
        if (a_ == b_) TEST_FAIL_("%s != %s: both %lld", #a, #b, a_);            \
    } while (0)

#define ASSERT_STREQ(a, b)                                                      \
    do {                                                                        \
        const char *a_ = (a), *b_ = (b);                                        \
        if (!a_ || !b_ || strcmp(a_, b_) != 0)                                  \
            TEST_FAIL_("%s == %s: \"%s\" != \"%s\"", #a, #b,                    \
                       a_ ? a_ : "(null)", b_ ? b_ : "(null)");                 \
    } while (0)

#define ASSERT_MEMEQ(a, b, n)                                                   \
    do {                                                                        \
        if (memcmp((a), (b), (n)) != 0)                                         \
            TEST_FAIL_("%s and %s differ in their first %zu bytes", #a, #b,     \
                       (size_t)(n));                                            \
    } while (0)

/* Runs one test function and reports it; a test returns at its first failure. */
#define RUN(fn)                                                                 \
    do {                                                                        \
        int before_ = test_failures;                                            \
        test_count++;                                                           \
        fn();                                                                   \
        fprintf(stderr, "%s %s\n", test_failures == before_ ? "ok  " : "FAIL",  \
                #fn);                                                           \
    } while (0)

/* The directory for a test's files: $CHORUS_TEST_TMP (made when missing), else /tmp. */
static inline const char *test_tmp_dir(void)
{
    const char *dir = getenv("CHORUS_TEST_TMP");
    if (!dir || !*dir) dir = "/tmp";
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) dir = "/tmp";
    return dir;
}

/* Removes an SQLite database file and its WAL companions (-wal, -shm). */
static inline void test_rm_db(const char *path)
{
    char p[600];
    remove(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    remove(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    remove(p);
}

#define TEST_MAIN_END()                                                         \
    do {                                                                        \
        fprintf(stderr, "%d tests, %d failed\n", test_count, test_failures);    \
        return test_failures ? 1 : 0;                                           \
    } while (0)

#endif
