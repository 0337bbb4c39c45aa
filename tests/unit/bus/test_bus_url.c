/* test_bus_url.c: the cluster bus's address (bus_url.h): what --cluster accepts. */
#include "test.h"

#include "bus/bus_url.h"

static void test_good(void)
{
    bus_url_t u;
    char err[128];
    ASSERT_EQ(bus_url_parse("redis://127.0.0.1:6390/3", &u, err, sizeof(err)), 0);
    ASSERT_STREQ(u.host, "127.0.0.1");
    ASSERT_EQ(u.port, 6390);
    ASSERT_EQ(u.db, 3);
    ASSERT_EQ(bus_url_parse("redis://cache.local", &u, err, sizeof(err)), 0);
    ASSERT_STREQ(u.host, "cache.local");
    ASSERT_EQ(u.port, 6379);
    ASSERT_EQ(u.db, 0);
    ASSERT_EQ(bus_url_parse("redis://[::1]:7000/", &u, err, sizeof(err)), 0);
    ASSERT_STREQ(u.host, "::1");
    ASSERT_EQ(u.port, 7000);
    ASSERT_EQ(u.db, 0);
}

static void test_bad(void)
{
    bus_url_t u;
    char err[128];
    const char *bad[] = {"",
                         "127.0.0.1:6379",
                         "rediss://h:1",
                         "redis://",
                         "redis://:6379",
                         "redis://h:0",
                         "redis://h:65536",
                         "redis://h:x",
                         "redis://h:6379/db",
                         "redis://h/65536",
                         "redis://[::1",
                         "redis://[::1]x",
                         "redis://user:pw@h:1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        err[0] = 0;
        ASSERT_EQ(bus_url_parse(bad[i], &u, err, sizeof(err)), -1);
        ASSERT_TRUE(strstr(err, "--cluster") == err);
    }
}

static void test_check(void)
{
    char err[128];
    ASSERT_EQ(bus_url_check("", 0, err, sizeof(err)), 0);
    ASSERT_EQ(bus_url_check("redis://h", 1, err, sizeof(err)), 0);
    ASSERT_EQ(bus_url_check("redis://h", 0, err, sizeof(err)), -1);
    ASSERT_STREQ(err, "--cluster needs a PostgreSQL --store (postgres://...)");
    ASSERT_EQ(bus_url_check("http://h", 1, err, sizeof(err)), -1);
}

int main(void)
{
    RUN(test_check);
    RUN(test_good);
    RUN(test_bad);
    TEST_MAIN_END();
}
