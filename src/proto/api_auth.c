/* api_auth.c: accounts over REST: register, login, me, profile update. Password hashing
 * runs on libuv's thread pool and database work on the store's thread; the loop only
 * validates and routes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <http_parser.h>
#include <sodium.h>

#include "proto/api.h"
#include "auth/auth_password.h"
#include "auth/auth_random.h"
#include "util/clock.h"
#include "util/mem.h"
#include "auth/user_valid.h"
#include "util/utf8.h"

#define PASSWORD_MAX 1024

static int body_object(api_req_t *r)
{
    if (json_is_object(r->json)) return 1;
    api_error(r, 400, "bad_request", "the body must be a JSON object");
    return 0;
}

/* Returns the string member name of the body, or NULL after answering 400. */
static const char *string_field(api_req_t *r, const char *name, size_t *len)
{
    json_t *v = json_object_get(r->json, name);
    char msg[96];
    if (!v) {
        snprintf(msg, sizeof(msg), "%s is required", name);
        api_invalid(r, name, msg);
        return NULL;
    }
    if (!json_is_string(v)) {
        snprintf(msg, sizeof(msg), "%s must be a string", name);
        api_invalid(r, name, msg);
        return NULL;
    }
    *len = json_string_length(v);
    return json_string_value(v);
}

/* Trims ASCII whitespace from both ends of s[0..*len); returns the new start. */
static const char *trim(const char *s, size_t *len)
{
    while (*len > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')) {
        s++;
        (*len)--;
    }
    while (*len > 0 && (s[*len - 1] == ' ' || s[*len - 1] == '\t' || s[*len - 1] == '\n' ||
                        s[*len - 1] == '\r'))
        (*len)--;
    return s;
}

static json_t *user_json(const store_user_t *u)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:I}", "id", u->id, "email", u->email, "username",
                     u->username, "color", u->color, "createdAt", (json_int_t)u->created_at);
}

/* Mints a token for u; NULL when minting failed (logged). */
static char *token_for(api_t *a, const store_user_t *u)
{
    auth_claims_t c;
    memset(&c, 0, sizeof(c));
    snprintf(c.sub, sizeof(c.sub), "%s", u->id);
    snprintf(c.name, sizeof(c.name), "%s", u->username);
    snprintf(c.color, sizeof(c.color), "%s", u->color);
    /* An id, so this token can be revoked alone (logout), and the account's epoch, so
     * logout everywhere / a password change revokes every earlier token. */
    char jti[AUTH_JTI_HEX_LEN + 1];
    auth_random_hex(jti, AUTH_JTI_KEY_LEN);
    auth_jti_key(jti, AUTH_JTI_HEX_LEN, &c.jti);
    c.has_jti = 1;
    c.ep = u->token_epoch;
    c.has_ep = 1;
    char *tok = auth_jwt_mint(a->jwt, &c, clock_unix_ms() / 1000,
                              (int64_t)(a->cfg->jwt_ttl / 1000));
    if (!tok) log_error(a->log, "cannot mint a token for user %s", u->id);
    return tok;
}

/* Answers status with {"success":true,"token","user_id","user"} for the user in r->sreq. */
static void respond_session(api_req_t *r, int status)
{
    const store_user_t *u = &r->sreq.user;
    char *tok = token_for(r->api, u);
    if (!tok) {
        api_error(r, 500, "internal_error", "cannot issue a token");
        return;
    }
    api_respond(r, status, json_pack("{s:b, s:s, s:s, s:o}", "success", 1, "token", tok,
                                     "user_id", u->id, "user", user_json(u)));
    free(tok);
}

static int can_mint(api_req_t *r)
{
    if (auth_jwt_can_mint(r->api->jwt)) return 1;
    api_error(r, 501, "not_supported",
              "this server only verifies tokens issued by the app backend (no signing key)");
    return 0;
}

/* Wipes the plaintext password copies as soon as they are not needed. */
static void wipe_secret(api_req_t *r)
{
    sodium_memzero(r->secret, sizeof(r->secret));
    r->secret_len = 0;
    sodium_memzero(r->secret2, sizeof(r->secret2));
    r->secret2_len = 0;
    if (r->body) sodium_memzero((char *)r->body, r->body_len);
}

static void copy_secret(api_req_t *r, const char *pw, size_t len)
{
    memcpy(r->secret, pw, len);
    r->secret[len] = '\0';
    r->secret_len = len;
}

/* Answers a store request that failed (STORE_EIO: the database failed or is unreachable,
 * e.g. a PostgreSQL server restarting; STORE_ECLOSED: shutting down) with 503
 * service_unavailable: nothing was stored, and the client may try again later, as the
 * room routes answer it (docs/api.md). what (borrowed) says what could not be done. */
static void store_unavailable(api_req_t *r, const char *what)
{
    api_error(r, 503, "service_unavailable", "%s: the database is unavailable; try again",
              what);
}

/* --- register --- */

static void on_user_created(store_req_t *sreq)
{
    api_req_t *r = sreq->data;
    if (sreq->err == STORE_EEXISTS) {
        api_error(r, 409, "email_taken", "an account with this email already exists");
        return;
    }
    if (sreq->err != STORE_OK) {
        store_unavailable(r, "cannot store the account");
        return;
    }
    api_audit(r->api, "register", sreq->user.id, r->ip, NULL);
    respond_session(r, 201);
}

static void work_hash(uv_work_t *w)
{
    api_req_t *r = w->data;
    const chorus_config_t *cfg = r->api->cfg;
    r->match = auth_password_hash_cost(r->secret, r->secret_len, cfg->password_ops,
                                       (size_t)cfg->password_memory, r->sreq.user.password_hash);
}

static void after_hash(uv_work_t *w, int status)
{
    api_req_t *r = w->data;
    wipe_secret(r);
    if (status != 0 || r->match != 0) {
        log_error(r->api->log, "password hashing failed");
        api_error(r, 500, "internal_error", "cannot hash the password");
        return;
    }
    r->sreq.type = STORE_USER_CREATE;
    r->sreq.cb = on_user_created;
    r->sreq.data = r;
    store_submit(r->api->store, &r->sreq);
}

static void h_register(api_req_t *r)
{
    if (!can_mint(r) || !body_object(r)) return;
    size_t elen, plen, ulen;
    const char *email = string_field(r, "email", &elen);
    if (!email) return;
    const char *pw = string_field(r, "password", &plen);
    if (!pw) return;
    const char *name = string_field(r, "username", &ulen);
    if (!name) return;
    email = trim(email, &elen);
    name = trim(name, &ulen);
    if (!user_email_valid(email, elen)) {
        api_invalid(r, "email", "email must look like name@example.com");
        return;
    }
    if (!user_password_valid(plen)) {
        api_invalid(r, "password", "password must be 8 to 1024 characters");
        return;
    }
    if (!user_name_valid(name, ulen)) {
        api_invalid(r, "username",
                "username must be 1 to 32 characters, without control characters");
        return;
    }
    store_user_t *u = &r->sreq.user;
    auth_random_uuid(u->id);
    user_email_normalize(email, elen, u->email);
    memcpy(u->username, name, ulen);
    u->username[ulen] = '\0';
    snprintf(u->color, sizeof(u->color), "%s",
             user_color_pick((const unsigned char *)u->id, strlen(u->id)));
    u->created_at = u->updated_at = clock_unix_ms();
    copy_secret(r, pw, plen);
    r->work.data = r;
    uv_queue_work(r->api->loop, &r->work, work_hash, after_hash);
}

/* --- login --- */

static void work_verify(uv_work_t *w)
{
    api_req_t *r = w->data;
    const char *hash = r->sreq.err == STORE_OK ? r->sreq.user.password_hash
                                               : r->api->auth.dummy_hash;
    int ok = auth_password_verify(hash, r->secret, r->secret_len);
    r->match = ok && r->sreq.err == STORE_OK;
}

static void after_verify(uv_work_t *w, int status)
{
    api_req_t *r = w->data;
    wipe_secret(r);
    if (status == 0 && r->match) {
        /* Only failures count against the account. */
        api_rate_refund(r, r->api->rl_account, &r->api->rule_account, r->sreq.key);
        api_audit(r->api, "login", r->sreq.user.id, r->ip, NULL);
        respond_session(r, 200);
        return;
    }
    api_audit_failure(r->api, "login_failed", r->sreq.err == STORE_OK ? r->sreq.user.id : NULL, r->ip,
              r->sreq.err == STORE_OK ? "wrong password" : "unknown email");
    api_error(r, 401, "invalid_credentials", "wrong email or password");
}

static void on_login_user(store_req_t *sreq)
{
    api_req_t *r = sreq->data;
    if (sreq->err != STORE_OK && sreq->err != STORE_ENOTFOUND) {
        wipe_secret(r);
        store_unavailable(r, "cannot read the account");
        return;
    }
    /* An unknown email costs the same hash verification as a wrong password. */
    r->work.data = r;
    uv_queue_work(r->api->loop, &r->work, work_verify, after_verify);
}

static void h_login(api_req_t *r)
{
    if (!can_mint(r) || !body_object(r)) return;
    size_t elen, plen;
    const char *email = string_field(r, "email", &elen);
    if (!email) return;
    const char *pw = string_field(r, "password", &plen);
    if (!pw) return;
    email = trim(email, &elen);
    if (elen == 0 || elen >= STORE_EMAIL_LEN || plen == 0 || plen > PASSWORD_MAX) {
        api_error(r, 401, "invalid_credentials", "wrong email or password");
        return;
    }
    user_email_normalize(email, elen, r->sreq.key);
    /* Per account, whether it exists or not (a 429 must not tell), on top of the per-IP
     * limit: guesses spread over many addresses still meet this bucket. */
    if (!api_rate_ok(r, r->api->rl_account, &r->api->rule_account, r->sreq.key)) return;
    copy_secret(r, pw, plen);
    r->sreq.type = STORE_USER_BY_EMAIL;
    r->sreq.cb = on_login_user;
    r->sreq.data = r;
    store_submit(r->api->store, &r->sreq);
}

/* --- me --- */

static void on_me(store_req_t *sreq)
{
    api_req_t *r = sreq->data;
    if (sreq->err == STORE_OK) {
        api_respond(r, 200, json_pack("{s:b, s:o}", "success", 1, "user", user_json(&sreq->user)));
        return;
    }
    if (sreq->err == STORE_ENOTFOUND) {
        /* A token from the app's own backend: the user exists only in its claims. */
        json_t *u = json_pack("{s:s, s:n, s:o, s:o}", "id", r->user.sub, "email", "username",
                              r->user.name[0] ? json_string(r->user.name) : json_null(),
                              "color", r->user.color[0] ? json_string(r->user.color) : json_null());
        api_respond(r, 200, json_pack("{s:b, s:o}", "success", 1, "user", u));
        return;
    }
    store_unavailable(r, "cannot read the account");
}

static void h_me(api_req_t *r)
{
    snprintf(r->sreq.key, sizeof(r->sreq.key), "%s", r->user.sub);
    r->sreq.type = STORE_USER_BY_ID;
    r->sreq.cb = on_me;
    r->sreq.data = r;
    store_submit(r->api->store, &r->sreq);
}

/* --- PATCH /api/users/me --- */

static void on_updated(store_req_t *sreq)
{
    api_req_t *r = sreq->data;
    if (sreq->err == STORE_ENOTFOUND) {
        api_error(r, 404, "not_found",
                  "no Chorus account for this token (the app backend manages this user)");
        return;
    }
    if (sreq->err != STORE_OK) {
        store_unavailable(r, "cannot update the account");
        return;
    }
    /* The name and color travel in the token, so a fresh one carries the change. */
    char *tok = auth_jwt_can_mint(r->api->jwt) ? token_for(r->api, &sreq->user) : NULL;
    json_t *body = json_pack("{s:b, s:o}", "success", 1, "user", user_json(&sreq->user));
    if (tok) json_object_set_new(body, "token", json_string(tok));
    free(tok);
    api_respond(r, 200, body);
}

static void h_patch_me(api_req_t *r)
{
    if (!body_object(r)) return;
    store_user_t *u = &r->sreq.user;
    const char *key;
    json_t *v;
    json_object_foreach(r->json, key, v) {
        if (strcmp(key, "username") != 0 && strcmp(key, "color") != 0) {
            char msg[160];
            snprintf(msg, sizeof(msg), "unknown field '%.64s' (only username and color change here)",
                     key);
            utf8_scrub(msg, strlen(msg));
            api_invalid(r, key, msg);
            return;
        }
    }
    size_t len;
    if (json_object_get(r->json, "username")) {
        const char *name = string_field(r, "username", &len);
        if (!name) return;
        name = trim(name, &len);
        if (!user_name_valid(name, len)) {
            api_invalid(r, "username",
                    "username must be 1 to 32 characters, without control characters");
            return;
        }
        memcpy(u->username, name, len);
        u->username[len] = '\0';
        r->sreq.update_mask |= STORE_UPD_USERNAME;
    }
    if (json_object_get(r->json, "color")) {
        const char *color = string_field(r, "color", &len);
        if (!color) return;
        if (!user_color_valid(color, len)) {
            api_invalid(r, "color", "color must be #rrggbb");
            return;
        }
        user_color_normalize(color, len, u->color);
        r->sreq.update_mask |= STORE_UPD_COLOR;
    }
    if (!r->sreq.update_mask) {
        api_invalid(r, "username", "nothing to update: send username and/or color");
        return;
    }
    if (strlen(r->user.sub) >= sizeof(u->id)) {
        api_error(r, 404, "not_found",
                  "no Chorus account for this token (the app backend manages this user)");
        return;
    }
    memcpy(u->id, r->user.sub, strlen(r->user.sub) + 1);
    u->updated_at = clock_unix_ms();
    r->sreq.type = STORE_USER_UPDATE;
    r->sreq.cb = on_updated;
    r->sreq.data = r;
    store_submit(r->api->store, &r->sreq);
}

/* --- revocation: logout, logout everywhere, password change, account deletion --- */

static int64_t leeway_s(const api_t *a)
{
    return (int64_t)(a->cfg->jwt_leeway / 1000);
}

/* When the tokens of an account minted before now have all expired. */
static int64_t epoch_until(const api_t *a)
{
    return clock_unix_ms() / 1000 + (int64_t)(a->cfg->jwt_ttl / 1000) + leeway_s(a) + 1;
}

/* Answers 503 and returns 0 when the revocation set is full (see --revocations-max). */
static int revoke_room(api_req_t *r, const auth_jti_t *jti, const char *sub)
{
    if (revoke_has_room(r->api->revoke, jti, sub)) return 1;
    snprintf(r->extra, sizeof(r->extra), "Retry-After: 60\r\n");
    api_error(r, 503, "revocations_full",
              "too many revoked tokens are remembered; try again later");
    return 0;
}

static int chorus_account(api_req_t *r)
{
    if (strlen(r->user.sub) < sizeof(r->sreq.user.id)) return 1;
    api_error(r, 404, "not_found",
              "no Chorus account for this token (the app backend manages this user)");
    return 0;
}

static void on_revocation_stored(store_req_t *sreq)
{
    api_req_t *r = sreq->data;
    if (sreq->err != STORE_OK) {
        store_unavailable(r, "cannot store the revocation");
        return;
    }
    api_respond(r, 200, json_pack("{s:b}", "success", 1));
}

static void h_logout(api_req_t *r)
{
    if (!r->user.has_jti) {
        api_error(r, 400, "not_revocable",
                  "this token has no jti (an app backend minted it): it cannot be revoked "
                  "alone and ends at its exp");
        return;
    }
    if (!revoke_room(r, &r->user.jti, NULL)) return;
    int64_t until = r->user.exp + leeway_s(r->api) + 1;
    api_revoke_token(r->api, r->user.sub, &r->user.jti, until);
    api_audit(r->api, "logout", r->user.sub, r->ip, NULL);
    r->sreq.type = STORE_REVOKE_PUT;
    r->sreq.revoke.kind = STORE_REVOKE_TOKEN;
    _Static_assert(sizeof(r->sreq.revoke.id) > AUTH_JTI_HEX_LEN, "a jti key's hex form fits");
    auth_jti_hex(&r->user.jti, r->sreq.revoke.id);
    r->sreq.revoke.until_s = until;
    r->sreq.cb = on_revocation_stored;
    r->sreq.data = r;
    store_submit(r->api->store, &r->sreq);
}

/* After STORE_USER_UPDATE with STORE_UPD_EPOCH: the new epoch takes effect. */
static int epoch_bumped(api_req_t *r)
{
    store_req_t *sreq = &r->sreq;
    if (sreq->err == STORE_ENOTFOUND) {
        api_error(r, 404, "not_found",
                  "no Chorus account for this token (the app backend manages this user)");
        return 0;
    }
    if (sreq->err != STORE_OK) {
        store_unavailable(r, "cannot update the account");
        return 0;
    }
    api_revoke_user(r->api, sreq->user.id, sreq->user.token_epoch, sreq->revoke.until_s);
    return 1;
}

static void on_logout_all(store_req_t *sreq)
{
    api_req_t *r = sreq->data;
    if (!epoch_bumped(r)) return;
    api_audit(r->api, "logout_all", sreq->user.id, r->ip, NULL);
    api_respond(r, 200, json_pack("{s:b}", "success", 1));
}

/* Submits the epoch bump (with flags more, e.g. a new password) for r's user. */
static void bump_epoch(api_req_t *r, unsigned more, store_cb cb)
{
    memcpy(r->sreq.user.id, r->user.sub, strlen(r->user.sub) + 1);
    r->sreq.user.updated_at = clock_unix_ms();
    r->sreq.update_mask = STORE_UPD_EPOCH | more;
    r->sreq.revoke.until_s = epoch_until(r->api);
    r->sreq.type = STORE_USER_UPDATE;
    r->sreq.cb = cb;
    r->sreq.data = r;
    store_submit(r->api->store, &r->sreq);
}

static void h_logout_all(api_req_t *r)
{
    if (!chorus_account(r) || !revoke_room(r, NULL, r->user.sub)) return;
    bump_epoch(r, 0, on_logout_all);
}

static void on_password_changed(store_req_t *sreq)
{
    api_req_t *r = sreq->data;
    if (!epoch_bumped(r)) return;
    api_audit(r->api, "password_changed", sreq->user.id, r->ip, NULL);
    respond_session(r, 200); /* a token with the new epoch: this client stays signed in */
}

static void after_new_hash(uv_work_t *w, int status)
{
    api_req_t *r = w->data;
    wipe_secret(r);
    if (status != 0 || r->match != 0) {
        log_error(r->api->log, "password hashing failed");
        api_error(r, 500, "internal_error", "cannot hash the password");
        return;
    }
    bump_epoch(r, STORE_UPD_PASSWORD, on_password_changed);
}

static void on_deleted(store_req_t *sreq)
{
    api_req_t *r = sreq->data;
    if (sreq->err == STORE_ENOTFOUND) {
        api_error(r, 404, "not_found", "no Chorus account for this token");
        return;
    }
    if (sreq->err != STORE_OK) {
        store_unavailable(r, "cannot delete the account");
        return;
    }
    api_revoke_user(r->api, r->user.sub, REVOKE_ALL, sreq->revoke.until_s);
    api_audit(r->api, "account_deleted", r->user.sub, r->ip, NULL);
    api_respond(r, 200, json_pack("{s:b}", "success", 1));
}

/* The current password was checked: change it (POST /api/auth/password) or delete the
 * account (DELETE /api/users/me). */
static void after_reauth(uv_work_t *w, int status)
{
    api_req_t *r = w->data;
    sodium_memzero(r->secret, sizeof(r->secret));
    r->secret_len = 0;
    if (status != 0 || !r->match) {
        wipe_secret(r);
        api_audit_failure(r->api, "login_failed", r->sreq.user.id, r->ip,
                          "wrong password (re-authentication)");
        api_error(r, 401, "invalid_credentials", "wrong password");
        return;
    }
    api_rate_refund(r, r->api->rl_account, &r->api->rule_account, r->sreq.user.email);
    if (r->method == HTTP_DELETE) {
        wipe_secret(r);
        memcpy(r->sreq.user.id, r->user.sub, strlen(r->user.sub) + 1);
        r->sreq.revoke.until_s = epoch_until(r->api);
        r->sreq.type = STORE_USER_DELETE;
        r->sreq.cb = on_deleted;
        r->sreq.data = r;
        store_submit(r->api->store, &r->sreq);
        return;
    }
    copy_secret(r, r->secret2, r->secret2_len);
    sodium_memzero(r->secret2, sizeof(r->secret2));
    r->secret2_len = 0;
    r->work.data = r;
    uv_queue_work(r->api->loop, &r->work, work_hash, after_new_hash);
}

static void on_reauth_user(store_req_t *sreq)
{
    api_req_t *r = sreq->data;
    if (sreq->err != STORE_OK) {
        wipe_secret(r);
        if (sreq->err == STORE_ENOTFOUND)
            api_error(r, 404, "not_found",
                      "no Chorus account for this token (the app backend manages this user)");
        else
            store_unavailable(r, "cannot read the account");
        return;
    }
    /* Password checks count against the account like logins do. */
    if (!api_rate_ok(r, r->api->rl_account, &r->api->rule_account, sreq->user.email)) {
        wipe_secret(r);
        return;
    }
    r->work.data = r;
    uv_queue_work(r->api->loop, &r->work, work_verify, after_reauth);
}

/* Reads the current password from field name and starts checking it. */
static void reauth(api_req_t *r, const char *name)
{
    size_t plen;
    const char *pw = string_field(r, name, &plen);
    if (!pw) return;
    if (plen == 0 || plen > PASSWORD_MAX) {
        api_error(r, 401, "invalid_credentials", "wrong password");
        return;
    }
    copy_secret(r, pw, plen);
    snprintf(r->sreq.key, sizeof(r->sreq.key), "%s", r->user.sub);
    r->sreq.type = STORE_USER_BY_ID;
    r->sreq.cb = on_reauth_user;
    r->sreq.data = r;
    store_submit(r->api->store, &r->sreq);
}

static void h_password(api_req_t *r)
{
    if (!can_mint(r) || !body_object(r) || !chorus_account(r)) return;
    size_t nlen;
    const char *np = string_field(r, "newPassword", &nlen);
    if (!np) return;
    if (!user_password_valid(nlen)) {
        api_invalid(r, "newPassword", "newPassword must be 8 to 1024 characters");
        return;
    }
    if (!json_is_string(json_object_get(r->json, "currentPassword"))) {
        size_t dummy;
        string_field(r, "currentPassword", &dummy);
        return;
    }
    if (!revoke_room(r, NULL, r->user.sub)) return;
    memcpy(r->secret2, np, nlen);
    r->secret2[nlen] = '\0';
    r->secret2_len = nlen;
    reauth(r, "currentPassword");
}

static void h_delete_me(api_req_t *r)
{
    if (!body_object(r) || !chorus_account(r) || !revoke_room(r, NULL, r->user.sub)) return;
    reauth(r, "password");
}

const api_route_t api_auth_routes[] = {
    {HTTP_POST, "/api/auth/register", h_register, API_PUBLIC, API_GROUP_AUTH},
    {HTTP_POST, "/api/auth/login", h_login, API_PUBLIC, API_GROUP_AUTH},
    {HTTP_GET, "/api/auth/me", h_me, 0, API_GROUP_API},
    {HTTP_PATCH, "/api/users/me", h_patch_me, 0, API_GROUP_API},
    {HTTP_DELETE, "/api/users/me", h_delete_me, 0, API_GROUP_API},
    {HTTP_POST, "/api/auth/logout", h_logout, 0, API_GROUP_API},
    {HTTP_POST, "/api/auth/logout-all", h_logout_all, 0, API_GROUP_API},
    {HTTP_POST, "/api/auth/password", h_password, 0, API_GROUP_API},
};
const size_t api_auth_nroutes = CH_ARRAY_LEN(api_auth_routes);

int api_auth_init(api_t *a)
{
    /* Unknown emails are checked against this hash so they cost as much as real ones. */
    char pw[33];
    auth_random_hex(pw, 16);
    if (auth_password_hash_cost(pw, strlen(pw), a->cfg->password_ops,
                                (size_t)a->cfg->password_memory, a->auth.dummy_hash) != 0) {
        log_error(a->log, "cannot hash with argon2id (password-memory too large?)");
        return -1;
    }
    return 0;
}
