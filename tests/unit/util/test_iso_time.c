/* test_iso_time.c: RFC 3339 date-times as unix ms: known moments, zones, fractions, leap
 * days and seconds, every day of 1970 to 2400 against the C library's timegm, refusals. */
#define _DEFAULT_SOURCE /* timegm */
#include <string.h>
#include <time.h>

#include "test.h"

#include "util/iso_time.h"

static int64_t parse(const char *s)
{
    int64_t ms = -42;
    return iso_time_parse(s, strlen(s), &ms) == 0 ? ms : -1;
}

static void test_known(void)
{
    ASSERT_EQ(parse("1970-01-01T00:00:00Z"), 0);
    ASSERT_EQ(parse("2026-12-07T04:40:00Z"), 1796618400000LL);
    ASSERT_EQ(parse("2026-12-07t04:40:00.5z"), 1796618400500LL);
    ASSERT_EQ(parse("2026-12-07T04:40:00.123456789Z"), 1796618400123LL);
    ASSERT_EQ(parse("2026-12-07T05:40:00+01:00"), 1796618400000LL);
    ASSERT_EQ(parse("2026-12-06T23:10:00-05:30"), 1796618400000LL);
    ASSERT_EQ(parse("2000-02-29T12:00:00Z"), 951825600000LL);
    ASSERT_EQ(parse("2016-12-31T23:59:60Z"), 1483228799999LL); /* a leap second */
    ASSERT_EQ(parse("9999-12-31T23:59:59Z"), 253402300799000LL);
}

static void test_against_timegm(void)
{
    /* Every day from 1970 to 2400 at a time that moves with the day. */
    struct tm tm = {.tm_year = 70, .tm_mday = 1};
    for (int day = 0; day < 157000; day++) {
        tm.tm_mday = 1 + day;
        tm.tm_mon = 0;
        tm.tm_year = 70;
        tm.tm_hour = day % 24;
        tm.tm_min = day % 60;
        tm.tm_sec = (day * 7) % 60;
        time_t t = timegm(&tm); /* normalizes tm to the date */
        char s[40];
        strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm);
        if (parse(s) != (int64_t)t * 1000) {
            ASSERT_EQ(parse(s), (int64_t)t * 1000);
            return;
        }
    }
}

static void test_refused(void)
{
    static const char *const bad[] = {
        "",
        "1970-01-01T00:00:00",       /* no zone */
        "1970-01-01 00:00:00Z",      /* space for T */
        "1969-12-31T23:59:59Z",      /* before 1970 */
        "1970-01-01T00:00:00+00:01", /* before 1970 by its zone */
        "2025-02-29T00:00:00Z",      /* not a leap year */
        "2100-02-29T00:00:00Z",      /* nor is 2100 */
        "2026-13-01T00:00:00Z",
        "2026-00-01T00:00:00Z",
        "2026-04-31T00:00:00Z",
        "2026-01-01T24:00:00Z",
        "2026-01-01T00:60:00Z",
        "2026-01-01T00:00:61Z",
        "2026-01-01T00:00:00.Z", /* an empty fraction */
        "2026-01-01T00:00:00+1:00",
        "2026-01-01T00:00:00+01:60",
        "2026-01-01T00:00:00+0100",
        "2026-01-01T00:00:00Zjunk",
        "2026-1-01T00:00:00Z",
        "+026-01-01T00:00:00Z",
        "1765000000000",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int64_t ms = -42;
        if (iso_time_parse(bad[i], strlen(bad[i]), &ms) != -1 || ms != -42) {
            fprintf(stderr, "accepted: %s\n", bad[i]);
            ASSERT_TRUE(0);
        }
    }
    /* The length bounds the read: a valid time cut short is refused. */
    int64_t ms;
    ASSERT_EQ(iso_time_parse("2026-01-01T00:00:00Z", 19, &ms), -1);
}

int main(void)
{
    RUN(test_known);
    RUN(test_against_timegm);
    RUN(test_refused);
    TEST_MAIN_END();
}
