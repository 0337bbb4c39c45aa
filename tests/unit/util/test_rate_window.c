/* test_rate_window.c: events in the last minute: exact within a window, the previous
 * window prorated, both forgotten after two minutes of silence, saturation. */
#include "test.h"

#include "util/rate_window.h"

static void test_empty_and_current(void)
{
    rate_window_t w = {0};
    ASSERT_EQ(rate_window_count(&w, 5000), 0);
    rate_window_add(&w, 1000, 1);
    rate_window_add(&w, 2000, 4);
    ASSERT_EQ(rate_window_count(&w, 2000), 5);
    ASSERT_EQ(rate_window_count(&w, 60999), 5); /* still the first window */
}

static void test_previous_prorated(void)
{
    rate_window_t w = {0};
    rate_window_add(&w, 1000, 60); /* window [1000, 61000) */
    /* 15 s into the next window: three quarters of the previous one still count. */
    ASSERT_EQ(rate_window_count(&w, 76000), 45);
    rate_window_add(&w, 76000, 10);
    ASSERT_EQ(rate_window_count(&w, 76000), 55);
    ASSERT_EQ(rate_window_count(&w, 121000), 10); /* the previous has left the minute */
    /* Two minutes of silence forget both. */
    ASSERT_EQ(rate_window_count(&w, 181000), 0);
    rate_window_add(&w, 300000, 2);
    ASSERT_EQ(rate_window_count(&w, 300000), 2);
}

static void test_saturates(void)
{
    rate_window_t w = {0};
    rate_window_add(&w, 1, UINT32_MAX - 1);
    rate_window_add(&w, 2, 5);
    ASSERT_EQ(rate_window_count(&w, 3), UINT32_MAX);
}

int main(void)
{
    RUN(test_empty_and_current);
    RUN(test_previous_prorated);
    RUN(test_saturates);
    TEST_MAIN_END();
}
