/* test_rtc.c: a room's call as pure rules (rtc.h): join and rejoin, the size bound, leave,
 * members by user, signal checks (membership, target, size, rate with the time passed
 * in), state changes, and the mode decision. */
#include "test.h"

#include "domain/rtc.h"

static const rtc_limits_t LIM = {.max_members = 3,
                                 .mesh_max = 2,
                                 .max_signal = 100,
                                 .signal_rate = 2,
                                 .signal_burst = 4,
                                 .sfu = 0};

static void test_join_leave(void)
{
    rtc_call_t c;
    rtc_call_init(&c);
    rtc_flags_t f = {.audio = 1, .screen = 1};
    size_t i;
    ASSERT_EQ(rtc_join(&c, &LIM, 11, "ann", &f, 1000, 5, &i), 1);
    ASSERT_EQ(i, 0);
    ASSERT_STREQ(c.m[0].id, "c1");
    ASSERT_STREQ(c.m[0].user_id, "ann");
    ASSERT_EQ(c.m[0].joined_at, 1000);
    ASSERT_EQ(c.m[0].f.audio, 1);
    ASSERT_EQ(c.m[0].f.sharing, 1); /* joining with a screen shares it */
    rtc_flags_t g = {.video = 1, .muted = 1};
    ASSERT_EQ(rtc_join(&c, &LIM, 12, "bob", &g, 1001, 5, &i), 1);
    ASSERT_EQ(rtc_join(&c, &LIM, 13, "ann", &g, 1002, 5, &i), 1); /* ann's second tab */
    ASSERT_STREQ(c.m[2].id, "c3");
    ASSERT_EQ(c.m[1].f.muted, 1);
    /* Full: a fourth connection is refused, a member's rejoin is not. */
    ASSERT_EQ(rtc_join(&c, &LIM, 14, "cat", &f, 1003, 5, &i), RTC_E_FULL);
    ASSERT_EQ(c.n, 3);
    ASSERT_EQ(rtc_join(&c, &LIM, 12, "bob", &f, 1004, 5, &i), 0);
    ASSERT_EQ(i, 1);
    ASSERT_STREQ(c.m[1].id, "c2");
    ASSERT_EQ(c.m[1].f.audio, 1);
    ASSERT_EQ(c.m[1].f.video, 0);
    ASSERT_EQ(c.m[1].joined_at, 1001);

    ASSERT_EQ(rtc_find_conn(&c, 13), 2);
    ASSERT_EQ(rtc_find_conn(&c, 99), -1);
    ASSERT_EQ(rtc_find_id(&c, "c2"), 1);
    ASSERT_EQ(rtc_find_id(&c, "c9"), -1);
    ASSERT_EQ(rtc_find_user(&c, "ann", 0), 0);
    ASSERT_EQ(rtc_find_user(&c, "ann", 1), 2);
    ASSERT_EQ(rtc_find_user(&c, "cat", 0), -1);

    rtc_remove(&c, 0); /* order kept */
    ASSERT_EQ(c.n, 2);
    ASSERT_STREQ(c.m[0].id, "c2");
    ASSERT_STREQ(c.m[1].id, "c3");
    /* Ids are never reused within a call. */
    ASSERT_EQ(rtc_join(&c, &LIM, 14, "cat", &f, 1005, 5, &i), 1);
    ASSERT_STREQ(c.m[i].id, "c4");
    rtc_call_free(&c);
    ASSERT_EQ(c.n, 0);
}

static void test_signal(void)
{
    rtc_call_t c;
    rtc_call_init(&c);
    rtc_flags_t f = {0};
    size_t i;
    ASSERT_EQ(rtc_join(&c, &LIM, 1, "ann", &f, 0, 1000, &i), 1);
    ASSERT_EQ(rtc_join(&c, &LIM, 2, "bob", &f, 0, 1000, &i), 1);
    ASSERT_EQ(rtc_signal_check(&c, &LIM, 3, "c1", 10, 1000), RTC_E_NOT_IN_CALL);
    ASSERT_EQ(rtc_signal_check(&c, &LIM, 1, "c9", 10, 1000), RTC_E_NO_TARGET);
    ASSERT_EQ(rtc_signal_check(&c, &LIM, 1, "c1", 10, 1000), RTC_E_NO_TARGET); /* itself */
    ASSERT_EQ(rtc_signal_check(&c, &LIM, 1, "c2", 101, 1000), RTC_E_TOO_LARGE);
    /* None of the refusals took a token: the whole burst is there. */
    for (int k = 0; k < 4; k++)
        ASSERT_EQ(rtc_signal_check(&c, &LIM, 1, "c2", 100, 1000), 1);
    ASSERT_EQ(rtc_signal_check(&c, &LIM, 1, "c2", 10, 1000), RTC_E_RATE);
    /* Per member: bob has his own bucket. */
    ASSERT_EQ(rtc_signal_check(&c, &LIM, 2, "c1", 10, 1000), 0);
    /* 2 a second: one more after 500 ms, not before. */
    ASSERT_EQ(rtc_signal_check(&c, &LIM, 1, "c2", 10, 1499), RTC_E_RATE);
    ASSERT_EQ(rtc_signal_check(&c, &LIM, 1, "c2", 10, 1500), 1);
    ASSERT_EQ(rtc_signal_check(&c, &LIM, 1, "c2", 10, 1500), RTC_E_RATE);
    rtc_call_free(&c);
}

static void test_state(void)
{
    rtc_member_t m = {0};
    ASSERT_EQ(rtc_set_state(&m, -1, -1, -1), 0);
    ASSERT_EQ(rtc_set_state(&m, 1, -1, -1), 1);
    ASSERT_EQ(m.f.muted, 1);
    ASSERT_EQ(rtc_set_state(&m, 1, 0, -1), 0); /* nothing changed */
    ASSERT_EQ(rtc_set_state(&m, -1, 1, 1), 1);
    ASSERT_EQ(m.f.speaking, 1);
    ASSERT_EQ(m.f.sharing, 1);
    ASSERT_EQ(m.f.muted, 1);
}

static void test_mode(void)
{
    rtc_call_t c;
    rtc_call_init(&c);
    rtc_limits_t lim = LIM;
    rtc_flags_t f = {0};
    size_t i;
    ASSERT_EQ(rtc_mode_decide(&c, &lim), RTC_MODE_MESH);
    for (bus_member_t k = 1; k <= 3; k++)
        rtc_join(&c, &lim, k, "u", &f, 0, 0, &i);
    /* No SFU configured: mesh whatever the size. */
    ASSERT_EQ(rtc_mode_decide(&c, &lim), RTC_MODE_MESH);
    lim.sfu = 1;
    ASSERT_EQ(rtc_mode_decide(&c, &lim), RTC_MODE_SFU); /* 3 > mesh_max 2 */
    c.mode = RTC_MODE_SFU;
    rtc_remove(&c, 0);
    ASSERT_EQ(rtc_mode_decide(&c, &lim), RTC_MODE_SFU); /* stays until empty */
    rtc_remove(&c, 0);
    rtc_remove(&c, 0);
    ASSERT_EQ(c.mode, RTC_MODE_MESH);
    ASSERT_STREQ(rtc_mode_name(RTC_MODE_SFU), "sfu");
    ASSERT_STREQ(rtc_mode_name(RTC_MODE_MESH), "mesh");
    rtc_call_free(&c);
}

int main(void)
{
    RUN(test_join_leave);
    RUN(test_signal);
    RUN(test_state);
    RUN(test_mode);
    TEST_MAIN_END();
}
