/* test_webhooks.c: the webhook endpoints in memory (webhooks.c): the configuration's
 * "default" and those added and removed as the server API registers them, their bound,
 * the union of their filters, and the deliveries an event attaches to a store request:
 * one per endpoint whose filter takes it, appended in order, each body naming its event,
 * and none past the queue's bound. */
#include "test.h"

#include "domain/webhooks.h"
#include "util/config.h"

static log_t test_log;

static void init(webhooks_t *w, const char *url, uint64_t max_eps)
{
    chorus_config_t cfg;
    config_defaults(&cfg);
    free(cfg.webhook_url);
    cfg.webhook_url = strdup(url);
    free(cfg.webhook_secret);
    cfg.webhook_secret = strdup("0123456789abcdef-secret");
    free(cfg.webhook_events);
    cfg.webhook_events = strdup("message.created");
    cfg.webhook_max_endpoints = max_eps;
    cfg.webhook_max_queue = 5;
    char err[256] = "";
    ASSERT_EQ(webhooks_init(w, &cfg, &test_log, err, sizeof(err)), 0);
    config_free(&cfg);
}

static void test_endpoints(void)
{
    webhooks_t w;
    init(&w, "http://127.0.0.1:9/hooks", 3);
    ASSERT_EQ(w.neps, 1);
    ASSERT_STREQ(w.eps[0].name, WEBHOOKS_DEFAULT);
    ASSERT_EQ(w.eps[0].from_config, 1);
    ASSERT_EQ(w.any, 1u << WEBHOOK_MESSAGE_CREATED);
    ASSERT_EQ(webhooks_add(&w, "wh_a", "http://a/", "sa-0123456789abcdef", "room.created,*", 5),
              0);
    ASSERT_EQ(w.any, (1u << WEBHOOK_EVENT_MAX) - 1);
    ASSERT_EQ(webhooks_add(&w, "wh_a", "http://a/", "s", "*", 6), -1);    /* taken */
    ASSERT_EQ(webhooks_add(&w, "wh_b", "http://b/", "s", "nope", 6), -1); /* a bad filter */
    ASSERT_EQ(webhooks_add(&w, "wh_b", "http://b/", "sb", "participant.left", 6), 0);
    ASSERT_EQ(webhooks_add(&w, "wh_c", "http://c/", "sc", "*", 7), -1); /* the bound: 3 */
    ASSERT_STREQ(webhooks_find(&w, "wh_b")->url, "http://b/");
    ASSERT_EQ(webhooks_find(&w, "wh_b")->created_at, 6);
    ASSERT_TRUE(webhooks_find(&w, "wh_c") == NULL);
    ASSERT_EQ(webhooks_remove(&w, WEBHOOKS_DEFAULT), -1); /* the configuration's stays */
    ASSERT_EQ(webhooks_remove(&w, "wh_a"), 0);
    ASSERT_EQ(webhooks_remove(&w, "wh_a"), -1);
    ASSERT_EQ(w.neps, 2);
    ASSERT_EQ(w.any, (1u << WEBHOOK_MESSAGE_CREATED) | (1u << WEBHOOK_PARTICIPANT_LEFT));
    ASSERT_STREQ(w.eps[1].name, "wh_b");
    webhooks_free(&w);
}

static void test_attach(void)
{
    webhooks_t w;
    init(&w, "http://127.0.0.1:9/hooks", 8);
    ASSERT_EQ(webhooks_add(&w, "wh_a", "http://a/", "sa", "*", 1), 0);
    ASSERT_EQ(webhooks_add(&w, "wh_b", "http://b/", "sb", "state.changed", 2), 0);
    store_req_t req;
    memset(&req, 0, sizeof(req));
    json_t *data = json_pack("{s:i}", "seq", 3);
    /* message.created: default and wh_a; then state.changed: wh_a and wh_b, appended. */
    webhooks_attach(&w, &req, WEBHOOK_MESSAGE_CREATED, "room-1", data, 1000);
    webhooks_attach(&w, &req, WEBHOOK_STATE_CHANGED, "room-1", data, 1001);
    webhooks_attach(&w, &req, WEBHOOK_ROOM_VACATED, "", data, 1002); /* wh_a only */
    ASSERT_EQ(req.nenqueue, 5);
    const char *eps[] = {"default", "wh_a", "wh_a", "wh_b", "wh_a"};
    const char *types[] = {"message.created", "message.created", "state.changed",
                           "state.changed", "room.vacated"};
    for (size_t i = 0; i < 5; i++) {
        ASSERT_STREQ(req.enqueue[i].endpoint, eps[i]);
        ASSERT_STREQ(req.enqueue[i].type, types[i]);
        json_t *b = json_loads(req.enqueue[i].body, 0, NULL);
        ASSERT_TRUE(b != NULL);
        ASSERT_STREQ(json_string_value(json_object_get(b, "type")), types[i]);
        ASSERT_STREQ(json_string_value(json_object_get(b, "id")), req.enqueue[i].id);
        ASSERT_EQ(json_integer_value(json_object_get(json_object_get(b, "data"), "seq")), 3);
        ASSERT_TRUE(i < 4 ? json_is_string(json_object_get(b, "room"))
                          : json_is_null(json_object_get(b, "room")));
        json_decref(b);
    }
    ASSERT_TRUE(strcmp(req.enqueue[0].id, req.enqueue[1].id) != 0);
    ASSERT_EQ(w.pending, 5);
    /* --webhook-max-queue 5: the next ones are dropped, counted. */
    webhooks_attach(&w, &req, WEBHOOK_MESSAGE_CREATED, "room-1", data, 1003);
    ASSERT_EQ(req.nenqueue, 5);
    ASSERT_EQ(w.dropped, 2);
    /* Released after a failed write: not pending after all. */
    req.err = STORE_EIO;
    webhooks_release(&w, &req);
    ASSERT_EQ(req.nenqueue, 0);
    ASSERT_EQ(w.pending, 0);
    json_decref(data);
    webhooks_free(&w);
}

int main(void)
{
    log_init(&test_log, LOG_ERROR, LOG_TEXT, stderr);
    RUN(test_endpoints);
    RUN(test_attach);
    TEST_MAIN_END();
}
