/* test_webhook_rules.c: webhook event names and lists, the signature (the RFC 4231 HMAC
 * vector and Node's crypto on "<ts>.<body>"), the backoff's growth, cap and jitter, and
 * each attempt's outcome: delivered on 2xx, retried, requeued when never sent, dead at
 * the limit; the client-event glob lists; document.saved's debounce, time passed in. */
#include "test.h"

#include "domain/webhook_rules.h"

static void test_events(void)
{
    uint32_t m = 0;
    ASSERT_EQ(webhook_events_parse("message.created", &m), 0);
    ASSERT_EQ(m, 1u << WEBHOOK_MESSAGE_CREATED);
    ASSERT_EQ(webhook_events_parse(" room.created , participant.left,", &m), 0);
    ASSERT_EQ(m, (1u << WEBHOOK_ROOM_CREATED) | (1u << WEBHOOK_PARTICIPANT_LEFT));
    ASSERT_EQ(webhook_events_parse("*", &m), 0);
    ASSERT_EQ(m, (1u << WEBHOOK_EVENT_MAX) - 1);
    m = 7;
    ASSERT_EQ(webhook_events_parse("message.created,nope", &m), -1);
    ASSERT_EQ(webhook_events_parse("message", &m), -1);
    ASSERT_EQ(webhook_events_parse("", &m), -1);
    ASSERT_EQ(webhook_events_parse(" , ", &m), -1);
    ASSERT_EQ(m, 7);
    for (int i = 0; i < WEBHOOK_EVENT_MAX; i++) {
        ASSERT_EQ(webhook_events_parse(webhook_event_name((webhook_event_t)i), &m), 0);
        ASSERT_EQ(m, 1u << i);
    }
    ASSERT_STREQ(webhook_event_name(WEBHOOK_DOCUMENT_SAVED), "document.saved");
    ASSERT_STREQ(webhook_event_name(WEBHOOK_EVENT_MAX), "");
}

static void test_sign(void)
{
    char hex[WEBHOOK_SIG_HEX + 1];
    /* node -e 'console.log(require("crypto").createHmac("sha256","s3cret")
     *   .update("1700000000.{\"a\":1}").digest("hex"))' */
    webhook_sign("s3cret", 1700000000, "{\"a\":1}", 7, hex);
    ASSERT_STREQ(hex, "1698a50bc74d1ff1db85c4e0a5297c2ad9fdba245d5737cdb789e4cc6e098940");
    /* The timestamp is part of what is signed. */
    char other[WEBHOOK_SIG_HEX + 1];
    webhook_sign("s3cret", 1700000001, "{\"a\":1}", 7, other);
    ASSERT_TRUE(strcmp(hex, other) != 0);
    webhook_sign("s3cret", 1700000000, "{\"a\":2}", 7, other);
    ASSERT_TRUE(strcmp(hex, other) != 0);
}

static void test_delay(void)
{
    webhook_retry_t p = {.max_attempts = 10, .base_ms = 1000, .max_ms = 60000};
    /* Without jitter's lower pick (rnd 0) the delay is its half; at the top, all of it. */
    ASSERT_EQ(webhook_retry_delay(&p, 1, 0), 500);
    ASSERT_EQ(webhook_retry_delay(&p, 1, 500), 1000);
    ASSERT_EQ(webhook_retry_delay(&p, 2, 1000), 2000);
    ASSERT_EQ(webhook_retry_delay(&p, 3, 2000), 4000);
    ASSERT_EQ(webhook_retry_delay(&p, 7, 30000), 60000); /* 64 s capped at 60 s */
    ASSERT_EQ(webhook_retry_delay(&p, 4000000000u, 30000), 60000);
    for (uint32_t a = 1; a < 40; a++)
        for (uint32_t r = 0; r < 5; r++) {
            uint32_t rnd = r * 0x3fffffffu;
            uint64_t d = webhook_retry_delay(&p, a, rnd);
            uint64_t full = a >= 7 ? 60000 : 1000ull << (a - 1);
            ASSERT_TRUE(d >= full - full / 2 && d <= full);
        }
}

static void test_outcome(void)
{
    webhook_retry_t p = {.max_attempts = 3, .base_ms = 100, .max_ms = 1000};
    uint64_t next = 0;
    ASSERT_EQ(webhook_outcome(&p, 0, 200, 1, 5000, 0, &next), WEBHOOK_DELIVERED);
    ASSERT_EQ(webhook_outcome(&p, 0, 204, 3, 5000, 0, &next), WEBHOOK_DELIVERED);
    ASSERT_EQ(webhook_outcome(&p, 0, 500, 1, 5000, 0, &next), WEBHOOK_RETRY);
    ASSERT_EQ(next, 5050);
    ASSERT_EQ(webhook_outcome(&p, 0, 302, 2, 5000, 100, &next), WEBHOOK_RETRY);
    ASSERT_EQ(next, 5200);
    ASSERT_EQ(webhook_outcome(&p, -ECONNREFUSED, 0, 2, 5000, 0, &next), WEBHOOK_RETRY);
    ASSERT_EQ(webhook_outcome(&p, -ETIMEDOUT, 0, 3, 5000, 0, &next), WEBHOOK_DEAD);
    ASSERT_EQ(webhook_outcome(&p, 0, 410, 3, 5000, 0, &next), WEBHOOK_DEAD);
    next = 0;
    ASSERT_EQ(webhook_outcome(&p, -ECANCELED, 0, 3, 5000, 0, &next), WEBHOOK_REQUEUE);
    ASSERT_EQ(next, 5100);
    ASSERT_EQ(webhook_outcome(&p, -ENOBUFS, 0, 9, 6000, 0, &next), WEBHOOK_REQUEUE);
    ASSERT_EQ(next, 6100);
}

static int gm(const char *list, const char *name)
{
    return webhook_glob_list_match(list, name, strlen(name));
}

static void test_globs(void)
{
    ASSERT_EQ(gm("agent_*,x-*", "agent_action"), 1);
    ASSERT_EQ(gm("agent_*,x-*", "agent_"), 1);
    ASSERT_EQ(gm("agent_*,x-*", "x-1"), 1);
    ASSERT_EQ(gm("agent_*,x-*", "agent"), 0);
    ASSERT_EQ(gm("agent_*,x-*", "my_agent_action"), 0);
    ASSERT_EQ(gm(" ping , pong ", "pong"), 1);
    ASSERT_EQ(gm("ping", "pings"), 0);
    ASSERT_EQ(gm("ping", "pin"), 0);
    ASSERT_EQ(gm("*", "anything"), 1);
    ASSERT_EQ(gm("a*b*c", "axxbyyc"), 1);
    ASSERT_EQ(gm("a*b*c", "axxbyy"), 0);
    ASSERT_EQ(gm("*.done", "a.b.done"), 1);
    ASSERT_EQ(gm("**x", "x"), 1);
    ASSERT_EQ(gm("", "x"), 0);
    ASSERT_EQ(gm(" , ", "x"), 0);
    /* A name with a NUL byte is matched over its length. */
    ASSERT_EQ(webhook_glob_list_match("a*", "a\0b", 3), 1);
    ASSERT_EQ(webhook_glob_list_match("ab", "a\0b", 3), 0);
}

static void test_url_check(void)
{
    ASSERT_TRUE(webhook_url_check("http://127.0.0.1:8081/hooks") == NULL);
    ASSERT_TRUE(webhook_url_check("https://api.example.com/hooks?x=%C3%A9") == NULL);
    ASSERT_TRUE(webhook_url_check("http://[::1]:9/") == NULL);
    ASSERT_TRUE(webhook_url_check("https://localhost") == NULL);
    ASSERT_TRUE(webhook_url_check("ftp://example.com/") != NULL);
    ASSERT_TRUE(webhook_url_check("file:///etc/passwd") != NULL);
    ASSERT_TRUE(webhook_url_check("HTTP://example.com/") != NULL);
    ASSERT_TRUE(webhook_url_check("http://") != NULL);
    ASSERT_TRUE(webhook_url_check("http:///path") != NULL);
    ASSERT_TRUE(webhook_url_check("http://:80/") != NULL);
    ASSERT_TRUE(webhook_url_check("http://user:pw@example.com/") != NULL);
    ASSERT_TRUE(webhook_url_check("http://exa mple.com/") != NULL);
    ASSERT_TRUE(webhook_url_check("http://example.com/\n") != NULL);
    ASSERT_TRUE(webhook_url_check("http://example.com/\xc3\xa9") != NULL);
    ASSERT_TRUE(webhook_url_check("") != NULL);
    char big[WEBHOOK_URL_MAX + 2];
    memset(big, 'a', sizeof(big));
    memcpy(big, "http://x/", 9);
    big[WEBHOOK_URL_MAX] = 0;
    ASSERT_TRUE(webhook_url_check(big) == NULL);
    big[WEBHOOK_URL_MAX] = 'a';
    big[WEBHOOK_URL_MAX + 1] = 0;
    ASSERT_TRUE(webhook_url_check(big) != NULL);
}

static void test_debounce(void)
{
    webhook_debounce_t d = {0};
    /* The first save goes at once, whatever the clock reads (0 included). */
    ASSERT_EQ(webhook_debounce_save(&d, 0, 5000), 1);
    ASSERT_EQ(webhook_debounce_due(&d, 100000, 5000), 0); /* nothing held */
    webhook_debounce_t e = {0};
    ASSERT_EQ(webhook_debounce_save(&e, 1000, 5000), 1);
    /* Saves within the interval are held, as one. */
    ASSERT_EQ(webhook_debounce_save(&e, 1001, 5000), 0);
    ASSERT_EQ(webhook_debounce_save(&e, 5999, 5000), 0);
    ASSERT_EQ(webhook_debounce_due(&e, 5999, 5000), 0);
    /* Due at the interval's end, once. */
    ASSERT_EQ(webhook_debounce_due(&e, 6000, 5000), 1);
    ASSERT_EQ(webhook_debounce_due(&e, 6001, 5000), 0);
    ASSERT_EQ(webhook_debounce_due(&e, 99999, 5000), 0);
    /* The one owed was sent at 6000: the next interval runs from there. */
    ASSERT_EQ(webhook_debounce_save(&e, 10999, 5000), 0);
    ASSERT_EQ(webhook_debounce_due(&e, 10999, 5000), 0);
    ASSERT_EQ(webhook_debounce_due(&e, 11000, 5000), 1);
    /* After a quiet interval a save goes at once again. */
    ASSERT_EQ(webhook_debounce_save(&e, 20000, 5000), 1);
    ASSERT_EQ(webhook_debounce_due(&e, 30000, 5000), 0);
}

int main(void)
{
    RUN(test_events);
    RUN(test_sign);
    RUN(test_delay);
    RUN(test_outcome);
    RUN(test_globs);
    RUN(test_debounce);
    RUN(test_url_check);
    TEST_MAIN_END();
}
