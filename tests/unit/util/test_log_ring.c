/* test_log_ring.c: the admin view's recent errors: newest first, bounded, cut on a UTF-8
 * boundary, and fed by log_msg at warn and error only. */
#include "test.h"

#include "util/log.h"
#include "util/log_ring.h"

static void test_bounded_newest_first(void)
{
    log_ring_t r;
    log_ring_init(&r, 3);
    log_ring_entry_t out[5];
    uint64_t total;
    ASSERT_EQ(log_ring_copy(&r, out, 5, &total), 0);
    ASSERT_EQ(total, 0);
    char m[8];
    for (int i = 1; i <= 5; i++) {
        snprintf(m, sizeof(m), "e%d", i);
        log_ring_add(&r, 1000 + i, LOG_ERROR, m);
    }
    ASSERT_EQ(log_ring_copy(&r, out, 5, &total), 3);
    ASSERT_EQ(total, 5);
    ASSERT_STREQ(out[0].msg, "e5");
    ASSERT_EQ(out[0].at, 1005);
    ASSERT_STREQ(out[2].msg, "e3");
    ASSERT_EQ(log_ring_copy(&r, out, 1, &total), 1);
    ASSERT_STREQ(out[0].msg, "e5");
    log_ring_free(&r);
}

static void test_cut_on_character(void)
{
    log_ring_t r;
    log_ring_init(&r, 1);
    char big[LOG_RING_MSG_MAX + 8];
    memset(big, 'a', sizeof(big));
    /* "é" (2 bytes) straddling the cut */
    big[LOG_RING_MSG_MAX - 2] = (char)0xc3;
    big[LOG_RING_MSG_MAX - 1] = (char)0xa9;
    big[sizeof(big) - 1] = '\0';
    log_ring_add(&r, 1, LOG_WARN, big);
    log_ring_entry_t out;
    uint64_t total;
    ASSERT_EQ(log_ring_copy(&r, &out, 1, &total), 1);
    ASSERT_EQ(strlen(out.msg), LOG_RING_MSG_MAX - 2);
    log_ring_free(&r);
}

static void test_fed_by_log(void)
{
    log_ring_t r;
    log_ring_init(&r, 4);
    FILE *sink = fopen("/dev/null", "w");
    ASSERT_TRUE(sink != NULL);
    log_t lg;
    log_init(&lg, LOG_DEBUG, LOG_TEXT, sink);
    lg.ring = &r;
    log_info(&lg, "not kept");
    log_warn(&lg, "kept %d", 1);
    log_error(&lg, "kept %d", 2);
    log_ring_entry_t out[4];
    uint64_t total;
    ASSERT_EQ(log_ring_copy(&r, out, 4, &total), 2);
    ASSERT_STREQ(out[0].msg, "kept 2");
    ASSERT_EQ(out[0].level, LOG_ERROR);
    ASSERT_STREQ(out[1].msg, "kept 1");
    ASSERT_EQ(out[1].level, LOG_WARN);
    ASSERT_TRUE(out[1].at > 1600000000000LL);
    fclose(sink);
    log_ring_free(&r);
}

int main(void)
{
    RUN(test_bounded_newest_first);
    RUN(test_cut_on_character);
    RUN(test_fed_by_log);
    TEST_MAIN_END();
}
