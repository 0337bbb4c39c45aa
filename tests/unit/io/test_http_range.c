/* test_http_range.c: the Range header parser (http_range.c). */
#include "test.h"

#include "io/http_range.h"

static int range(const char *v, uint64_t size, uint64_t *s, uint64_t *l)
{
    *s = *l = 12345;
    return http_range_parse(v, strlen(v), size, s, l);
}

static void test_ranges(void)
{
    uint64_t s, l;
    ASSERT_EQ(range("bytes=0-0", 10, &s, &l), HTTP_RANGE_OK);
    ASSERT_EQ(s, 0);
    ASSERT_EQ(l, 1);
    ASSERT_EQ(range("bytes=2-5", 10, &s, &l), HTTP_RANGE_OK);
    ASSERT_EQ(s, 2);
    ASSERT_EQ(l, 4);
    ASSERT_EQ(range("bytes=7-", 10, &s, &l), HTTP_RANGE_OK);
    ASSERT_EQ(s, 7);
    ASSERT_EQ(l, 3);
    ASSERT_EQ(range("bytes=5-100", 10, &s, &l), HTTP_RANGE_OK); /* cut to the end */
    ASSERT_EQ(s, 5);
    ASSERT_EQ(l, 5);
    ASSERT_EQ(range("bytes=-3", 10, &s, &l), HTTP_RANGE_OK);
    ASSERT_EQ(s, 7);
    ASSERT_EQ(l, 3);
    ASSERT_EQ(range("bytes=-30", 10, &s, &l), HTTP_RANGE_OK); /* the whole, as a 206 */
    ASSERT_EQ(s, 0);
    ASSERT_EQ(l, 10);
    ASSERT_EQ(range("BYTES= 1-2 ", 10, &s, &l), HTTP_RANGE_OK);
    ASSERT_EQ(s, 1);
    ASSERT_EQ(l, 2);
    ASSERT_EQ(range("bytes=0-21474836479", 21474836480ULL, &s, &l), HTTP_RANGE_OK);
    ASSERT_EQ(l, 21474836480ULL);
}

static void test_unsatisfiable(void)
{
    uint64_t s, l;
    ASSERT_EQ(range("bytes=10-", 10, &s, &l), HTTP_RANGE_UNSATISFIABLE);
    ASSERT_EQ(range("bytes=10-20", 10, &s, &l), HTTP_RANGE_UNSATISFIABLE);
    ASSERT_EQ(range("bytes=-0", 10, &s, &l), HTTP_RANGE_UNSATISFIABLE);
    ASSERT_EQ(range("bytes=0-", 0, &s, &l), HTTP_RANGE_UNSATISFIABLE);
    ASSERT_EQ(range("bytes=-5", 0, &s, &l), HTTP_RANGE_UNSATISFIABLE);
}

static void test_ignored(void)
{
    uint64_t s, l;
    const char *whole[] = {"",
                           "bytes",
                           "bytes=",
                           "bytes=-",
                           "items=0-1",
                           "bytes=a-b",
                           "bytes=5-2",
                           "bytes=0-1,3-4",
                           "bytes=1-2x",
                           "bytes=--1",
                           "bytes=99999999999999999999-",
                           "bytes=0-1 2"};
    for (size_t i = 0; i < sizeof(whole) / sizeof(whole[0]); i++) {
        int rc = range(whole[i], 10, &s, &l);
        if (rc != HTTP_RANGE_WHOLE) TEST_FAIL_("\"%s\": %d", whole[i], rc);
    }
}

int main(void)
{
    RUN(test_ranges);
    RUN(test_unsatisfiable);
    RUN(test_ignored);
    TEST_MAIN_END();
}
