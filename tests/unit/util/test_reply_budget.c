/* test_reply_budget.c: the reply budget (config_reply_budget), the choice of the items a
 * byte-bounded page takes (rooms_fit), and the message size bound the pages are measured
 * with (room_message_encoded_len is never below the real encoding). */
#include "test.h"

#include <jansson.h>

#include "util/config.h"
#include "util/mem.h"
#include "domain/rooms.h"

static void test_budget_is_at_most_a_quarter_of_the_queue(void)
{
    chorus_config_t cfg;
    config_defaults(&cfg);
    ASSERT_EQ(config_reply_budget(&cfg), 1024 * 1024);
    cfg.ws_max_queue = 256 * 1024;
    ASSERT_EQ(config_reply_budget(&cfg), 64 * 1024);
    cfg.ws_max_queue = 64 * 1024 * 1024;
    cfg.ws_max_reply = 2 * 1024 * 1024;
    ASSERT_EQ(config_reply_budget(&cfg), 2 * 1024 * 1024);
    config_free(&cfg);
}

static void test_fit(void)
{
    size_t lens[] = {10, 20, 30, 40};
    ASSERT_EQ(rooms_fit(lens, 4, 100, 0), 4);
    ASSERT_EQ(rooms_fit(lens, 4, 99, 0), 3); /* 10 + 20 + 30 */
    ASSERT_EQ(rooms_fit(lens, 4, 70, 1), 2); /* 40 + 30, newest first */
    ASSERT_EQ(rooms_fit(lens, 4, 69, 1), 1);
    ASSERT_EQ(rooms_fit(lens, 4, 5, 0), 1); /* always one, even too large */
    ASSERT_EQ(rooms_fit(lens, 4, 5, 1), 1);
    ASSERT_EQ(rooms_fit(lens, 0, 5, 1), 0);
    size_t big[] = {200, 1, 1};
    ASSERT_EQ(rooms_fit(big, 3, 100, 0), 1); /* nothing fits after an oversized first */
}

static void test_message_bound(void)
{
    static char content[3000], name[] = "A\"da\x01";
    for (size_t i = 0; i < sizeof(content) - 1; i++)
        content[i] = (char)(1 + i % 127);
    const char *metas[] = {NULL, "{}", "{\"k\":[1,2.5,\"\\u00e9\",null,true]}"};
    for (size_t i = 0; i < CH_ARRAY_LEN(metas); i++) {
        store_message_t m = {.seq = 9007199254740991LL, .created_at = 1795420800000LL};
        snprintf(m.id, sizeof(m.id), "%s", "0f8fad5b-d9cb-469f-a165-70867728950e");
        snprintf(m.room_id, sizeof(m.room_id), "%s", "7c9e6679-7425-40de-944b-e07fc1f90ae7");
        snprintf(m.user_id, sizeof(m.user_id), "%s", i ? "user-1" : "");
        snprintf(m.display_name, sizeof(m.display_name), "%s", name);
        snprintf(m.type, sizeof(m.type), "%s", "user_text");
        m.content = content;
        m.metadata = (char *)metas[i];
        json_t *j = room_message_json(&m);
        char *text = json_dumps(j, JSON_COMPACT);
        ASSERT_TRUE(strlen(text) <= room_message_encoded_len(&m));
        ASSERT_TRUE(strlen(text) + 200 > room_message_encoded_len(&m));
        free(text);
        json_decref(j);
    }
}

int main(void)
{
    RUN(test_budget_is_at_most_a_quarter_of_the_queue);
    RUN(test_fit);
    RUN(test_message_bound);
    TEST_MAIN_END();
}
