/* proto_auth.c: WebSocket authentication: the auth op, the auth timeout, token expiry
 * and its grace period. Pure protocol logic: times come from the caller. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"
#include "util/net_addr.h"
#include "proto/proto.h"
#include "auth/revoke.h"
#include "proto/ws_frame.h"

/* Loop time at which claims expire, given the loop time now_ms. */
static uint64_t expiry_deadline(proto_t *p, const auth_claims_t *u, uint64_t now_ms)
{
    int64_t exp_ms;
    if (__builtin_mul_overflow(u->exp, (int64_t)1000, &exp_ms)) exp_ms = INT64_MAX;
    int64_t left = exp_ms - p->auth.unix_ms();
    return now_ms + (left > 0 ? (uint64_t)left : 0);
}

static void set_deadline(proto_client_t *c, uint64_t at)
{
    c->deadline_ms = at;
    c->deadline_moved = 1;
}

void proto_user_free(proto_user_t *u)
{
    if (!u->block) return; /* nothing owned (strings set by hand, or freed already) */
    slab_free(u->block);
    *u = (proto_user_t){.sub = ""};
}

void proto_user_set(slab_t *slab, proto_user_t *u, const auth_claims_t *claims)
{
    size_t ls = strlen(claims->sub), ln = strlen(claims->name), lc = strlen(claims->color);
    /* bounded by auth_claims_t's arrays, so the offsets fit 16 bits */
    CH_ASSERT(ls + 1 + ln + 1 <= UINT16_MAX);
    char *b = slab_alloc(slab, ls + ln + lc + 3);
    memcpy(b, claims->sub, ls + 1);
    memcpy(b + ls + 1, claims->name, ln + 1);
    memcpy(b + ls + 1 + ln + 1, claims->color, lc + 1);
    proto_user_free(u);
    u->block = b;
    u->sub = b;
    u->name_at = (uint16_t)(ls + 1);
    u->color_at = (uint16_t)(ls + 1 + ln + 1);
    u->jti = claims->jti;
    u->ep = claims->ep;
    u->has_jti = claims->has_jti;
    u->has_ep = claims->has_ep;
}

void proto_user_claims(const proto_user_t *u, auth_claims_t *out)
{
    memset(out, 0, sizeof(*out));
    snprintf(out->sub, sizeof(out->sub), "%s", u->sub);
    snprintf(out->name, sizeof(out->name), "%s", proto_user_name(u));
    snprintf(out->color, sizeof(out->color), "%s", proto_user_color(u));
    out->jti = u->jti;
    out->ep = u->ep;
    out->has_jti = u->has_jti;
    out->has_ep = u->has_ep;
}

static void become(proto_t *p, proto_client_t *c, const auth_claims_t *u, uint64_t now_ms)
{
    proto_user_set(p->user_slab, &c->user, u);
    c->authed = 1;
    c->expired_told = 0;
    set_deadline(c, expiry_deadline(p, u, now_ms));
}

void proto_auth_start(proto_t *p, proto_client_t *c, const auth_claims_t *claims,
                      uint64_t now_ms)
{
    if (claims) become(p, c, claims, now_ms);
    else set_deadline(c, now_ms + p->auth.timeout_ms);
}

int proto_auth_verify(proto_t *p, const char *ip, const char *token, size_t len,
                      uint64_t now_ms, auth_claims_t *out, const char **why,
                      uint64_t *retry_ms)
{
    char key[NET_IP_TEXT];
    net_ip_key(ip, key, sizeof(key));
    if (p->auth.rl && !rl_map_take(p->auth.rl, key, strlen(key), &p->auth.rule, now_ms,
                                   retry_ms)) {
        *why = "too many failed authentications from this address";
        return PROTO_AUTH_ELIMITED;
    }
    int rc = -1;
    if (!p->auth.jwt) *why = "authentication is not configured";
    else
        rc = auth_tcache_verify(p->tcache, p->auth.jwt, token, len, p->auth.unix_ms() / 1000,
                                out, why);
    if (rc == 0 && p->auth.revoke && revoke_check(p->auth.revoke, out) != 0) {
        rc = -1;
        *why = "token revoked (signed out)";
    }
    if (rc != 0) {
        if (p->auth.audit_rejected) p->auth.audit_rejected(p->auth.ud, ip, *why);
        return PROTO_AUTH_EINVALID;
    }
    if (p->auth.rl) rl_map_refund(p->auth.rl, key, strlen(key), &p->auth.rule, now_ms);
    return 0;
}

void proto_auth_tick(proto_t *p, proto_client_t *c, uint64_t now_ms)
{
    if (!c->deadline_ms || now_ms < c->deadline_ms) return;
    if (!c->authed) {
        c->deadline_ms = 0;
        c->tr->close(c, WS_CLOSE_POLICY, "authentication timeout");
    } else if (!c->expired_told) {
        c->expired_told = 1;
        set_deadline(c, now_ms + p->auth.grace_ms);
        proto_send_json(c, json_pack("{s:s, s:I}", "op", "token_expired", "graceMs",
                                     (json_int_t)p->auth.grace_ms));
    } else {
        c->deadline_ms = 0;
        c->tr->close(c, WS_CLOSE_POLICY, "token expired");
    }
}

static void op_auth(proto_req_t *req)
{
    proto_t *p = req->p;
    proto_client_t *c = req->c;
    json_t *tok = json_object_get(req->msg, "token");
    if (!json_is_string(tok)) {
        proto_reply_error(req, PROTO_BAD_REQUEST, "auth needs a token (a string)");
        return;
    }
    auth_claims_t u;
    const char *why = "invalid token";
    uint64_t retry_ms = 0;
    const char *ip = c->tr->peer ? c->tr->peer(c) : "";
    int rc = proto_auth_verify(p, ip, json_string_value(tok),
                               json_string_length(tok), req->now_ms, &u, &why, &retry_ms);
    if (rc != 0) proto_log(p, c, LOG_INFO, "auth refused: %s", why);
    if (rc == PROTO_AUTH_ELIMITED) {
        proto_reply_error_obj(req, json_pack("{s:s, s:s, s:I}", "code", PROTO_RATE_LIMITED,
                                             "message", why, "retryAfterMs",
                                             (json_int_t)retry_ms));
        return;
    }
    if (rc != 0) {
        proto_reply_error(req, PROTO_UNAUTHORIZED, "%s", why);
        return;
    }
    if (c->authed && strcmp(c->user.sub, u.sub) != 0) {
        /* Rooms know the connection as one user; it cannot become another. */
        proto_reply_error(req, PROTO_FORBIDDEN, "this connection belongs to another user");
        return;
    }
    become(p, c, &u, req->now_ms);
    json_t *user = json_pack("{s:s, s:o, s:o}", "id", u.sub, "name",
                             u.name[0] ? json_string(u.name) : json_null(), "color",
                             u.color[0] ? json_string(u.color) : json_null());
    proto_reply_ok(req, json_pack("{s:o, s:I}", "user", user, "expiresAt",
                                  (json_int_t)u.exp * 1000));
}

static const proto_op_t auth_ops[] = {
    {"auth", op_auth, PROTO_OP_PUBLIC},
};

void proto_auth_register(proto_t *p)
{
    proto_register(p, auth_ops, CH_ARRAY_LEN(auth_ops));
}
