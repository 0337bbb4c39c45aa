/* test_rpc_wire.c: the rpc op's and the join hook's messages (rpc_wire.h): method names,
 * the request body, HTTP outcomes read as replies, the effects' shape,
 * the join hook's verdict. */
#include "test.h"

#include <errno.h>

#include "proto/rpc_wire.h"

static void test_method(void)
{
    ASSERT_TRUE(rpc_method_valid("agent_action", 12));
    ASSERT_TRUE(rpc_method_valid("story.turn:end-1", 16));
    ASSERT_TRUE(!rpc_method_valid("", 0));
    ASSERT_TRUE(!rpc_method_valid("a b", 3));
    ASSERT_TRUE(!rpc_method_valid("caf\xc3\xa9", 5));
    char longer[66];
    memset(longer, 'a', sizeof(longer));
    ASSERT_TRUE(rpc_method_valid(longer, 64));
    ASSERT_TRUE(!rpc_method_valid(longer, 65));
    ASSERT_TRUE(rpc_message_type_valid("story_update"));
    ASSERT_TRUE(rpc_message_type_valid("system"));
    ASSERT_TRUE(rpc_message_type_valid("x-dice"));
    ASSERT_TRUE(!rpc_message_type_valid("Story"));
    ASSERT_TRUE(!rpc_message_type_valid("_x"));
    ASSERT_TRUE(!rpc_message_type_valid(""));
    ASSERT_TRUE(!rpc_message_type_valid("abcdefghijklmnopqrstuvwxyz0123456")); /* 33 */
}

static void test_body(void)
{
    json_t *data = json_pack("{s:s}", "action", "look");
    rpc_request_t in = {.type = "rpc",
                        .method = "agent_action",
                        .room_id = "r-1",
                        .room_code = "ABC123",
                        .user_id = "u1",
                        .user_name = "Ada",
                        .role = "host",
                        .data = data,
                        .time_ms = 1700000000000};
    size_t len;
    char *body = rpc_request_body(&in, &len);
    ASSERT_STREQ(body, "{\"type\":\"rpc\",\"method\":\"agent_action\",\"room\":{\"id\":\"r-1\","
                       "\"code\":\"ABC123\"},\"user\":{\"id\":\"u1\",\"name\":\"Ada\",\"role\":"
                       "\"host\"},\"data\":{\"action\":\"look\"},\"time\":1700000000000}");
    ASSERT_EQ(len, strlen(body));
    free(body);
    rpc_request_t join = {.type = "join",
                          .user_id = "u2",
                          .user_name = "Bo",
                          .room_id = "r-1",
                          .room_code = "ABC123",
                          .display_name = "B",
                          .time_ms = 5};
    body = rpc_request_body(&join, &len);
    ASSERT_STREQ(body, "{\"type\":\"join\",\"room\":{\"id\":\"r-1\",\"code\":\"ABC123\"},"
                       "\"user\":{\"id\":\"u2\",\"name\":\"Bo\"},\"displayName\":\"B\","
                       "\"time\":5}");
    free(body);
    rpc_request_t none = {.type = "rpc", .method = "m", .user_id = "u", .user_name = ""};
    body = rpc_request_body(&none, &len);
    ASSERT_STREQ(body,
                 "{\"type\":\"rpc\",\"method\":\"m\",\"room\":null,\"user\":{\"id\":\"u\","
                 "\"name\":\"\"},\"data\":null,\"time\":0}");
    free(body);
    json_decref(data);
}

static http_call_res_t res_of(int err, int status, const char *body)
{
    return (http_call_res_t){
        .err = err, .status = status, .body = body, .body_len = body ? strlen(body) : 0};
}

static void test_reply(void)
{
    rpc_reply_t r;
    http_call_res_t res = res_of(0, 200, "{\"data\":{\"ok\":1}}");
    ASSERT_EQ(rpc_reply_read(&res, &r), 0);
    ASSERT_TRUE(r.code == NULL);
    ASSERT_EQ(json_integer_value(json_object_get(r.data, "ok")), 1);
    ASSERT_TRUE(r.effects == NULL);
    rpc_reply_free(&r);
    res = res_of(0, 200, "{}");
    ASSERT_EQ(rpc_reply_read(&res, &r), 0);
    ASSERT_TRUE(json_is_null(r.data));
    rpc_reply_free(&r);
    res = res_of(-ETIMEDOUT, 0, NULL);
    ASSERT_EQ(rpc_reply_read(&res, &r), -1);
    ASSERT_STREQ(r.code, "backend_timeout");
    res = res_of(-ECONNREFUSED, 0, NULL);
    rpc_reply_read(&res, &r);
    ASSERT_STREQ(r.code, "backend_unavailable");
    res = res_of(-E2BIG, 0, NULL);
    rpc_reply_read(&res, &r);
    ASSERT_STREQ(r.code, "backend_error");
    res = res_of(0, 500, "oops");
    rpc_reply_read(&res, &r);
    ASSERT_STREQ(r.code, "backend_error");
    ASSERT_STREQ(r.message, "the backend answered HTTP 500");
    res = res_of(0, 200, "[1]");
    rpc_reply_read(&res, &r);
    ASSERT_STREQ(r.code, "backend_error");
    /* The backend's own error passes, whatever the status, its message cut. */
    res = res_of(0, 422, "{\"error\":{\"code\":\"not_your_turn\",\"message\":\"wait\"}}");
    ASSERT_EQ(rpc_reply_read(&res, &r), -1);
    ASSERT_STREQ(r.code, "not_your_turn");
    ASSERT_STREQ(r.message, "wait");
    res = res_of(0, 200, "{\"error\":{\"code\":\"Bad Code\"}}");
    rpc_reply_read(&res, &r);
    ASSERT_STREQ(r.code, "backend_error");
    char big[600];
    strcpy(big, "{\"error\":{\"code\":\"x\",\"message\":\"");
    size_t at = strlen(big);
    for (int i = 0; i < 200; i++, at += 2)
        memcpy(big + at, "\xc3\xa9", 2);
    strcpy(big + at, "\"}}");
    res = res_of(0, 200, big);
    rpc_reply_read(&res, &r);
    ASSERT_EQ(strlen(r.message), 256); /* 128 whole characters of 2 bytes */
    ASSERT_TRUE(memcmp(r.message + 254, "\xc3\xa9", 2) == 0);
    /* Effects: shape checked. */
    res = res_of(0, 200,
                 "{\"data\":1,\"effects\":{\"messages\":[{\"type\":\"story_update\","
                 "\"content\":\"The door opens.\"}],\"state\":{\"turn\":2}}}");
    ASSERT_EQ(rpc_reply_read(&res, &r), 0);
    ASSERT_TRUE(json_is_object(r.effects));
    rpc_reply_free(&r);
    res = res_of(0, 200, "{\"effects\":{\"messages\":[{\"type\":\"story_update\"}]}}");
    ASSERT_EQ(rpc_reply_read(&res, &r), -1);
    ASSERT_STREQ(r.code, "effects_refused");
    ASSERT_STREQ(r.field, "effects.messages[0].content");
}

static void check_effects(const char *text, int want, const char *want_field)
{
    json_t *e = json_loads(text, 0, NULL);
    char field[64] = "";
    const char *why = NULL;
    int rc = rpc_effects_check(e, field, sizeof(field), &why);
    json_decref(e);
    if (rc != want || (want_field && strcmp(field, want_field) != 0))
        fprintf(stderr, "effects %s: rc %d field %s (%s)\n", text, rc, field, why ? why : "");
    test_count++;
    if (rc != want || (want_field && strcmp(field, want_field) != 0)) test_failures++;
}

static void test_effects(void)
{
    check_effects("{}", 0, NULL);
    check_effects("{\"messages\":[],\"broadcasts\":[{\"event\":\"dice\",\"data\":[1]}]}", 0,
                  NULL);
    check_effects("{\"messages\":[{\"type\":\"system\",\"content\":\"Turn over\",\"author\":"
                  "\"Narrator\",\"metadata\":{\"turn\":1}}]}",
                  0, NULL);
    check_effects("[]", -1, "effects");
    check_effects("{\"other\":1}", -1, "effects.other");
    check_effects("{\"state\":[1]}", -1, "effects.state");
    check_effects("{\"messages\":{}}", -1, "effects.messages");
    check_effects("{\"messages\":[1]}", -1, "effects.messages[0]");
    check_effects("{\"messages\":[{\"type\":\"Big\",\"content\":\"\"}]}", -1,
                  "effects.messages[0].type");
    check_effects("{\"messages\":[{\"type\":\"a\",\"content\":\"\",\"metadata\":1}]}", -1,
                  "effects.messages[0].metadata");
    check_effects("{\"messages\":[{\"type\":\"a\",\"content\":\"\",\"author\":\"\"}]}", -1,
                  "effects.messages[0].author");
    check_effects("{\"messages\":[{\"type\":\"a\",\"content\":\"\",\"seq\":3}]}", -1,
                  "effects.messages[0].seq");
    check_effects("{\"broadcasts\":[{\"data\":1}]}", -1, "effects.broadcasts[0].event");
    check_effects("{\"broadcasts\":[{\"event\":\"\"}]}", -1, "effects.broadcasts[0].event");
    char many[1024] = "{\"broadcasts\":[";
    for (int i = 0; i < 17; i++)
        strcat(many, i ? ",{\"event\":\"e\"}" : "{\"event\":\"e\"}");
    strcat(many, "]}");
    check_effects(many, -1, "effects.broadcasts");
}

static void test_join_verdict(void)
{
    const char *name, *role, *code;
    char msg[128];
    json_t *a = json_loads("{\"allow\":true}", 0, NULL);
    ASSERT_EQ(rpc_join_verdict(a, &name, &role, &code, msg, sizeof(msg)), 1);
    ASSERT_TRUE(name == NULL);
    json_decref(a);
    a = json_loads("{\"allow\":true,\"displayName\":\"Captain\"}", 0, NULL);
    ASSERT_EQ(rpc_join_verdict(a, &name, &role, &code, msg, sizeof(msg)), 1);
    ASSERT_STREQ(name, "Captain");
    json_decref(a);
    a = json_loads("{\"allow\":false}", 0, NULL);
    ASSERT_EQ(rpc_join_verdict(a, &name, &role, &code, msg, sizeof(msg)), 0);
    ASSERT_STREQ(code, "forbidden");
    ASSERT_STREQ(msg, "the app refused this join");
    json_decref(a);
    a = json_loads("{\"allow\":false,\"code\":\"not_invited\",\"message\":\"ask the GM\"}", 0,
                   NULL);
    ASSERT_EQ(rpc_join_verdict(a, &name, &role, &code, msg, sizeof(msg)), 0);
    ASSERT_STREQ(code, "not_invited");
    ASSERT_STREQ(msg, "ask the GM");
    json_decref(a);
    a = json_loads("{\"allow\":\"yes\"}", 0, NULL);
    ASSERT_EQ(rpc_join_verdict(a, &name, &role, &code, msg, sizeof(msg)), -1);
    json_decref(a);
    a = json_loads("{\"allow\":true,\"displayName\":\"\"}", 0, NULL);
    ASSERT_EQ(rpc_join_verdict(a, &name, &role, &code, msg, sizeof(msg)), -1);
    ASSERT_TRUE(strstr(msg, "displayName") != NULL);
    json_decref(a);
    /* The role: host or member; a name as accounts have them (32 characters, no control
     * characters). */
    a = json_loads("{\"allow\":true,\"role\":\"host\",\"displayName\":\"Deputy\"}", 0, NULL);
    ASSERT_EQ(rpc_join_verdict(a, &name, &role, &code, msg, sizeof(msg)), 1);
    ASSERT_STREQ(role, "host");
    ASSERT_STREQ(name, "Deputy");
    json_decref(a);
    a = json_loads("{\"allow\":true,\"role\":\"member\"}", 0, NULL);
    ASSERT_EQ(rpc_join_verdict(a, &name, &role, &code, msg, sizeof(msg)), 1);
    ASSERT_STREQ(role, "member");
    ASSERT_TRUE(name == NULL);
    json_decref(a);
    a = json_loads("{\"allow\":true,\"role\":null}", 0, NULL);
    ASSERT_EQ(rpc_join_verdict(a, &name, &role, &code, msg, sizeof(msg)), 1);
    ASSERT_TRUE(role == NULL);
    json_decref(a);
    const char *bad[] = {
        "{\"allow\":true,\"role\":\"admin\"}",
        "{\"allow\":true,\"role\":\"Host\"}",
        "{\"allow\":true,\"role\":1}",
        "{\"allow\":true,\"displayName\":\"a\\u0007b\"}",
        "{\"allow\":true,\"displayName\":\"a\\u0000b\"}",
        "{\"allow\":true,\"displayName\":\"   \"}",
        "{\"allow\":true,\"displayName\":\"123456789012345678901234567890123\"}",
        "{\"allow\":true,\"displayName\":7}",
        "[true]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        a = json_loads(bad[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
        ASSERT_TRUE(a != NULL);
        ASSERT_EQ(rpc_join_verdict(a, &name, &role, &code, msg, sizeof(msg)), -1);
        ASSERT_TRUE(msg[0] != '\0');
        json_decref(a);
    }
}

int main(void)
{
    RUN(test_method);
    RUN(test_body);
    RUN(test_reply);
    RUN(test_effects);
    RUN(test_join_verdict);
    TEST_MAIN_END();
}
