/* test_proto_auth.c: WebSocket authentication in the protocol layer: the auth op, the
 * unauthenticated gate, the auth timeout, token expiry, the grace period and renewal. */
#include "test.h"

#include <jansson.h>

#include "auth/auth_jwt.h"
#include "auth/revoke.h"
#include "proto/proto.h"
#include "proto/ws_frame.h"

#define SECRET "0123456789abcdef0123456789abcdef"

/* A client whose transport records what would be sent (fake_client.h), with the count
 * of rejections the audit hook saw. */
#define FAKE_CLIENT_EXTRA int rejected;
#include "fake_client.h"
#include "jwt_fixture.h"
typedef fake_client_t fake_t;

static int64_t fake_unix_ms; /* the wall clock the protocol sees */

static int64_t clock_ms(void)
{
    return fake_unix_ms;
}

static void on_rejected(void *ud, const char *ip, const char *why)
{
    (void)ip;
    (void)why;
    ((fake_t *)ud)->rejected++;
}

static log_t quiet;

static void setup(proto_t *p, fake_t *f, auth_jwt_t *jwt)
{
    proto_limits_t lim = {1000, 2000, 500};
    log_init(&quiet, LOG_ERROR, LOG_TEXT, stderr);
    proto_init(p, &lim, &quiet);
    memset(f, 0, sizeof(*f));
    p->auth = (proto_auth_t){.jwt = jwt, .timeout_ms = 10000, .grace_ms = 30000,
                             .unix_ms = clock_ms, .audit_rejected = on_rejected, .ud = f};
    proto_auth_register(p);
    proto_client_init(&f->pc, &lim, &fake_client_tr, 0);
    fake_unix_ms = 1800000000000LL;
}

static void teardown(proto_t *p, fake_t *f)
{
    fake_client_free(f);
    proto_free(p);
}

static auth_jwt_t *hs256(void)
{
    return jwt_fixture_hs256(SECRET);
}

static char *mint(auth_jwt_t *j, const char *sub, int64_t now_s, int64_t ttl)
{
    return jwt_fixture_mint(j, sub, now_s, ttl);
}

static void send_auth(proto_t *p, fake_t *f, const char *tok, int ref, uint64_t now)
{
    char msg[2048];
    snprintf(msg, sizeof(msg), "{\"op\":\"auth\",\"ref\":%d,\"token\":\"%s\"}", ref, tok);
    proto_handle_text(p, &f->pc, msg, strlen(msg), now);
}

static const char *err_code(json_t *m)
{
    return json_string_value(json_object_get(json_object_get(m, "error"), "code"));
}

static void test_timeout_without_auth(void)
{
    proto_t p;
    fake_t f;
    auth_jwt_t *j = hs256();
    setup(&p, &f, j);
    proto_auth_start(&p, &f.pc, NULL, 1000);
    ASSERT_EQ(f.pc.deadline_ms, 11000);
    proto_auth_tick(&p, &f.pc, 10999);
    ASSERT_EQ(f.closed_code, 0);
    proto_auth_tick(&p, &f.pc, 11000);
    ASSERT_EQ(f.closed_code, WS_CLOSE_POLICY);
    teardown(&p, &f);
    auth_jwt_free(j);
}

static void test_auth_op(void)
{
    proto_t p;
    fake_t f;
    auth_jwt_t *j = hs256();
    setup(&p, &f, j);
    proto_auth_start(&p, &f.pc, NULL, 0);
    char *tok = mint(j, "u1", fake_unix_ms / 1000, 3600);
    send_auth(&p, &f, "not.a.token", 1, 5);
    ASSERT_EQ(f.nsent, 1);
    ASSERT_STREQ(err_code(f.sent[0]), "unauthorized");
    ASSERT_EQ(f.rejected, 1);
    ASSERT_TRUE(!f.pc.authed);
    send_auth(&p, &f, tok, 2, 5);
    ASSERT_EQ(f.nsent, 2);
    ASSERT_TRUE(json_is_true(json_object_get(f.sent[1], "ok")));
    json_t *data = json_object_get(f.sent[1], "data");
    ASSERT_STREQ(json_string_value(json_object_get(json_object_get(data, "user"), "id")), "u1");
    ASSERT_STREQ(json_string_value(json_object_get(json_object_get(data, "user"), "color")),
                 "#112233");
    ASSERT_EQ(json_integer_value(json_object_get(data, "expiresAt")),
              (fake_unix_ms / 1000 + 3600) * 1000);
    ASSERT_TRUE(f.pc.authed);
    /* The deadline is now the token's expiry: one hour of loop time from now. */
    ASSERT_EQ(f.pc.deadline_ms, 5 + 3600 * 1000);
    /* Another user's token cannot take the connection over. */
    char *other = mint(j, "u2", fake_unix_ms / 1000, 3600);
    send_auth(&p, &f, other, 3, 6);
    ASSERT_STREQ(err_code(f.sent[2]), "forbidden");
    ASSERT_STREQ(f.pc.user.sub, "u1");
    free(tok);
    free(other);
    teardown(&p, &f);
    auth_jwt_free(j);
}

static void test_expiry_grace_and_renewal(void)
{
    proto_t p;
    fake_t f;
    auth_jwt_t *j = hs256();
    setup(&p, &f, j);
    char *tok = mint(j, "u1", fake_unix_ms / 1000, 60);
    auth_claims_t c;
    const char *why;
    uint64_t retry = 0;
    ASSERT_EQ(proto_auth_verify(&p, "127.0.0.1", tok, strlen(tok), 0, &c, &why, &retry), 0);
    proto_auth_start(&p, &f.pc, &c, 0);
    ASSERT_EQ(f.pc.deadline_ms, 60000);
    proto_auth_tick(&p, &f.pc, 60000);
    ASSERT_EQ(f.nsent, 1);
    ASSERT_STREQ(json_string_value(json_object_get(f.sent[0], "op")), "token_expired");
    ASSERT_EQ(json_integer_value(json_object_get(f.sent[0], "graceMs")), 30000);
    ASSERT_EQ(f.pc.deadline_ms, 90000);
    ASSERT_EQ(f.closed_code, 0);
    /* Protected ops are refused during the grace period; echo still works. */
    const char *op = "{\"op\":\"anything_protected\",\"ref\":7}";
    static const proto_op_t prot[] = {{"anything_protected", NULL, 0}};
    proto_register(&p, prot, 1);
    proto_handle_text(&p, &f.pc, op, strlen(op), 61000);
    ASSERT_STREQ(err_code(f.sent[1]), "token_expired");
    /* A fresh token for the same user cancels the close. */
    fake_unix_ms += 70000;
    char *fresh = mint(j, "u1", fake_unix_ms / 1000, 60);
    send_auth(&p, &f, fresh, 8, 70000);
    ASSERT_TRUE(json_is_true(json_object_get(f.sent[2], "ok")));
    ASSERT_EQ(f.pc.deadline_ms, 130000);
    proto_auth_tick(&p, &f.pc, 90000);
    ASSERT_EQ(f.closed_code, 0);
    /* Without renewal the grace period ends in close 1008. */
    proto_auth_tick(&p, &f.pc, 130000);
    ASSERT_STREQ(json_string_value(json_object_get(f.sent[3], "op")), "token_expired");
    proto_auth_tick(&p, &f.pc, 159999);
    ASSERT_EQ(f.closed_code, 0);
    proto_auth_tick(&p, &f.pc, 160000);
    ASSERT_EQ(f.closed_code, WS_CLOSE_POLICY);
    free(tok);
    free(fresh);
    teardown(&p, &f);
    auth_jwt_free(j);
}

/* A token answered from the cache of verified tokens (auth_tcache.h) is still checked
 * against the revocations: revoked after it was cached, it is refused at once. */
static void test_revoked_after_cached(void)
{
    proto_t p;
    fake_t f;
    auth_jwt_t *j = hs256();
    setup(&p, &f, j);
    revoke_t *rv = revoke_new(16);
    p.auth.revoke = rv;
    auth_claims_t c;
    memset(&c, 0, sizeof(c));
    snprintf(c.sub, sizeof(c.sub), "u1");
    c.has_jti = 1;
    auth_jti_key("0123456789abcdef0123456789abcdef", AUTH_JTI_HEX_LEN, &c.jti);
    char *tok = auth_jwt_mint(j, &c, fake_unix_ms / 1000, 3600);
    auth_claims_t out;
    const char *why = NULL;
    uint64_t retry = 0;
    ASSERT_EQ(proto_auth_verify(&p, "10.0.0.1", tok, strlen(tok), 1, &out, &why, &retry), 0);
    ASSERT_EQ(proto_auth_verify(&p, "10.0.0.1", tok, strlen(tok), 2, &out, &why, &retry), 0);
    uint64_t hits, misses;
    auth_tcache_counts(p.tcache, &hits, &misses);
    ASSERT_EQ(hits, 1);
    ASSERT_EQ(misses, 1);
    revoke_token(rv, &c.jti, fake_unix_ms / 1000 + 3600);
    ASSERT_EQ(proto_auth_verify(&p, "10.0.0.1", tok, strlen(tok), 3, &out, &why, &retry),
              PROTO_AUTH_EINVALID);
    ASSERT_STREQ(why, "token revoked (signed out)");
    auth_tcache_counts(p.tcache, &hits, &misses);
    ASSERT_EQ(hits, 2); /* answered from the cache, refused by the revocation */
    ASSERT_EQ(f.rejected, 1);
    free(tok);
    revoke_free(rv);
    teardown(&p, &f);
    auth_jwt_free(j);
}

static void test_expired_token_refused(void)
{
    proto_t p;
    fake_t f;
    auth_jwt_t *j = hs256();
    setup(&p, &f, j);
    proto_auth_start(&p, &f.pc, NULL, 0);
    char *old = mint(j, "u1", fake_unix_ms / 1000 - 7200, 3600);
    send_auth(&p, &f, old, 1, 1);
    ASSERT_STREQ(err_code(f.sent[0]), "unauthorized");
    ASSERT_TRUE(!f.pc.authed);
    const char *noarg = "{\"op\":\"auth\",\"ref\":2}";
    proto_handle_text(&p, &f.pc, noarg, strlen(noarg), 2);
    ASSERT_STREQ(err_code(f.sent[1]), "bad_request");
    free(old);
    teardown(&p, &f);
    auth_jwt_free(j);
}

/* Failed checks per address: past the limit the token is not even checked (nor
 * audited); a success gives its token back. */
static void test_failures_limited_per_ip(void)
{
    proto_t p;
    fake_t f;
    auth_jwt_t *j = hs256();
    setup(&p, &f, j);
    unsigned char seed[16] = {1};
    p.auth.rl = rl_map_new_seeded(16, seed);
    p.auth.rule = (rl_rule_t){.limit = 2, .window_ms = 60000};
    char *good = mint(j, "u1", fake_unix_ms / 1000, 3600);
    for (int i = 0; i < 4; i++) send_auth(&p, &f, good, 10 + i, 0); /* successes are free */
    ASSERT_EQ(f.nsent, 4);
    ASSERT_TRUE(json_is_object(json_object_get(f.sent[3], "data")));
    send_auth(&p, &f, "bad.token.here", 20, 0);
    send_auth(&p, &f, "bad.token.here", 21, 0);
    ASSERT_STREQ(err_code(f.sent[4]), "unauthorized");
    ASSERT_STREQ(err_code(f.sent[5]), "unauthorized");
    ASSERT_EQ(f.rejected, 2);
    send_auth(&p, &f, "bad.token.here", 22, 1000);
    ASSERT_STREQ(err_code(f.sent[6]), "rate_limited");
    ASSERT_EQ(json_integer_value(json_object_get(json_object_get(f.sent[6], "error"),
                                                 "retryAfterMs")),
              29000);
    send_auth(&p, &f, good, 23, 1000); /* even a good token waits */
    ASSERT_STREQ(err_code(f.sent[7]), "rate_limited");
    ASSERT_EQ(f.rejected, 2);
    /* Another address (an IPv6 /64 counts as one) is not affected. */
    auth_claims_t c;
    const char *why;
    uint64_t retry = 0;
    ASSERT_EQ(proto_auth_verify(&p, "2001:db8::1", "x", 1, 1000, &c, &why, &retry),
              PROTO_AUTH_EINVALID);
    ASSERT_EQ(proto_auth_verify(&p, "2001:db8::2", "x", 1, 1000, &c, &why, &retry),
              PROTO_AUTH_EINVALID);
    ASSERT_EQ(proto_auth_verify(&p, "2001:db8::3", "x", 1, 1000, &c, &why, &retry),
              PROTO_AUTH_ELIMITED);
    free(good);
    rl_map_free(p.auth.rl);
    teardown(&p, &f);
    auth_jwt_free(j);
}

/* A connection keeps its user's strings at their own length (proto_user_t, not the
 * claims' 320 bytes) and what revocation compares; a new auth replaces them. */
static void test_user_kept_compact(void)
{
    auth_claims_t cl = {.has_jti = 1, .has_ep = 1, .ep = 42};
    snprintf(cl.sub, sizeof(cl.sub), "%s", "u-7");
    snprintf(cl.name, sizeof(cl.name), "%s", "Ada");
    snprintf(cl.color, sizeof(cl.color), "%s", "#3b82f6");
    auth_jti_key("00112233445566778899aabbccddeeff", 32, &cl.jti);
    proto_user_t u = {0};
    slab_t *slab = slab_new(3, 300);
    proto_user_set(slab, &u, &cl);
    ASSERT_EQ(slab->live, 1); /* the strings' one block, from the slab */
    ASSERT_STREQ(u.sub, "u-7");
    ASSERT_STREQ(proto_user_name(&u), "Ada");
    ASSERT_STREQ(proto_user_color(&u), "#3b82f6");
    ASSERT_TRUE(u.sub == u.block && proto_user_name(&u) == u.block + 4 &&
                proto_user_color(&u) == u.block + 8);
    auth_claims_t back;
    proto_user_claims(&u, &back);
    ASSERT_STREQ(back.sub, "u-7");
    ASSERT_STREQ(back.name, "Ada");
    ASSERT_STREQ(back.color, "#3b82f6");
    ASSERT_TRUE(back.has_jti && back.has_ep && back.ep == 42);
    ASSERT_TRUE(memcmp(&back.jti, &cl.jti, sizeof(cl.jti)) == 0);
    /* a new token: the old strings are freed (LeakSanitizer), the new ones kept */
    cl.name[0] = 0;
    cl.has_jti = 0;
    proto_user_set(slab, &u, &cl);
    ASSERT_STREQ(proto_user_name(&u), "");
    ASSERT_STREQ(proto_user_color(&u), "#3b82f6");
    ASSERT_TRUE(!u.has_jti);
    proto_user_free(&u);
    ASSERT_STREQ(u.sub, "");
    ASSERT_STREQ(proto_user_name(&u), "");
    ASSERT_STREQ(proto_user_color(&u), "");
    ASSERT_TRUE(u.block == NULL);
    proto_user_free(&u);
    ASSERT_EQ(slab->live, 0);
    slab_drop(slab);
}

int main(void)
{
    RUN(test_user_kept_compact);
    RUN(test_timeout_without_auth);
    RUN(test_failures_limited_per_ip);
    RUN(test_auth_op);
    RUN(test_expiry_grace_and_renewal);
    RUN(test_expired_token_refused);
    RUN(test_revoked_after_cached);
    TEST_MAIN_END();
}
