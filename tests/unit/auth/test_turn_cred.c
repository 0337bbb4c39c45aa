/* test_turn_cred.c: coturn's shared-secret TURN credential against a known vector
 * (computed with Python's hmac and `openssl dgst -sha1 -hmac`), and the ICE server list
 * the configuration gives. */
#include "test.h"

#include <jansson.h>

#include "auth/turn_cred.h"

static void test_vector(void)
{
    char user[TURN_CRED_USER_MAX + 1], pass[TURN_CRED_PASS_LEN];
    const char *secret = "north-by-northwest";
    ASSERT_EQ(
        turn_cred_make(secret, strlen(secret), "alice", 1700000000, user, sizeof(user), pass),
        0);
    ASSERT_STREQ(user, "1700000000:alice");
    ASSERT_STREQ(pass, "5m64LUXtG57MAUpPx9cEXIbWpLU=");
    /* A username that does not fit is refused, not cut. */
    char small[8];
    ASSERT_EQ(
        turn_cred_make(secret, strlen(secret), "alice", 1700000000, small, sizeof(small), pass),
        -1);
}

static void test_ice_servers(void)
{
    chorus_config_t cfg;
    config_defaults(&cfg);
    json_t *s = turn_ice_servers(&cfg, "alice", 1699913600000);
    ASSERT_EQ(json_array_size(s), 0); /* nothing configured: no servers */
    json_decref(s);

    free(cfg.stun_urls);
    free(cfg.turn_urls);
    free(cfg.turn_secret);
    cfg.stun_urls = strdup("stun:a.example:3478, stun:b.example");
    cfg.turn_urls = strdup("turn:t.example:3478?transport=udp,turns:t.example:5349");
    cfg.turn_secret = strdup("north-by-northwest");
    cfg.turn_ttl = 86400000; /* expiry = now + 1 day = 1700000000 */
    s = turn_ice_servers(&cfg, "alice", 1699913600123);
    ASSERT_EQ(json_array_size(s), 2);
    json_t *stun = json_array_get(s, 0), *turn = json_array_get(s, 1);
    ASSERT_EQ(json_object_size(stun), 1);
    ASSERT_STREQ(json_string_value(json_array_get(json_object_get(stun, "urls"), 1)),
                 "stun:b.example");
    ASSERT_EQ(json_array_size(json_object_get(turn, "urls")), 2);
    ASSERT_STREQ(json_string_value(json_array_get(json_object_get(turn, "urls"), 0)),
                 "turn:t.example:3478?transport=udp");
    ASSERT_STREQ(json_string_value(json_object_get(turn, "username")), "1700000000:alice");
    ASSERT_STREQ(json_string_value(json_object_get(turn, "credential")),
                 "5m64LUXtG57MAUpPx9cEXIbWpLU=");
    json_decref(s);
    config_free(&cfg);
}

int main(void)
{
    RUN(test_vector);
    RUN(test_ice_servers);
    TEST_MAIN_END();
}
