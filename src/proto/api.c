/* api.c: REST routing, rate limits, bearer-token checks, JSON responses. */
#include "proto/api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <http_parser.h>
#include <sodium.h>

#include "util/clock.h"
#include "util/iso_time.h"
#include "util/mem.h"
#include "util/net_addr.h"
#include "util/utf8.h"
#include "domain/home.h"

/* Rate-limit keys beyond this many per group are evicted (see rl_map.h). */
#define API_RL_MAX_KEYS 100000
#define API_SWEEP_MS 60000

/* Every module's routes. Adding a module adds a line here. */
static const struct {
    const api_route_t *routes;
    const size_t *n;
} route_tables[] = {
    {api_auth_routes, &api_auth_nroutes},
    {api_rooms_routes, &api_rooms_nroutes},
    {api_admin_routes, &api_admin_nroutes},
    {api_server_routes, &api_server_nroutes},
    {api_uploads_routes, &api_uploads_nroutes},
    {api_webhooks_routes, &api_webhooks_nroutes},
    {api_assets_routes, &api_assets_nroutes},
    {api_rtc_routes, &api_rtc_nroutes},
};

static rl_rule_t rule_of(config_rate_t r)
{
    return (rl_rule_t){.limit = (uint32_t)r.limit, .window_ms = r.window_ms};
}

static void on_sweep(uv_timer_t *t)
{
    api_t *a = t->data;
    uint64_t now = uv_now(a->loop);
    rl_map_sweep(a->rl_auth, &a->rule_auth, now);
    rl_map_sweep(a->rl_api_ip, &a->rule_api_ip, now);
    rl_map_sweep(a->rl_api_user, &a->rule_api_user, now);
    rl_map_sweep(a->rl_account, &a->rule_account, now);
    rl_map_sweep(a->rl_server, &a->rule_server, now);
    api_revoke_sweep(a);
}

int api_init(api_t *a, uv_loop_t *loop, const chorus_config_t *cfg, log_t *log,
             store_t *store, auth_jwt_t *jwt)
{
    memset(a, 0, sizeof(*a));
    a->loop = loop;
    a->cfg = cfg;
    a->log = log;
    a->store = store;
    a->jwt = jwt;
    a->rule_auth = rule_of(cfg->rate_auth);
    a->rule_api_ip = rule_of(cfg->rate_api_ip);
    a->rule_api_user = rule_of(cfg->rate_api_user);
    a->rule_account = rule_of(cfg->rate_login_account);
    a->rule_server = rule_of(cfg->rate_server_key);
    a->rl_auth = rl_map_new(API_RL_MAX_KEYS);
    a->rl_api_ip = rl_map_new(API_RL_MAX_KEYS);
    a->rl_api_user = rl_map_new(API_RL_MAX_KEYS);
    a->rl_account = rl_map_new(API_RL_MAX_KEYS);
    a->rl_server = rl_map_new(API_RL_MAX_KEYS);
    uv_timer_init(loop, &a->sweep);
    a->sweep.data = a;
    uv_timer_start(&a->sweep, on_sweep, API_SWEEP_MS, API_SWEEP_MS);
    uv_unref((uv_handle_t *)&a->sweep);
    api_audit_start(a);
    if (api_revoke_load(a) != 0) return -1;
    if (api_uploads_init(a) != 0) return -1;
    if (api_blob_gc_init(a) != 0) return -1;
    if (api_assets_init(a) != 0) return -1;
    return api_auth_init(a);
}

static void on_sweep_closed(uv_handle_t *h)
{
    api_t *a = h->data;
    rl_map_free(a->rl_auth);
    rl_map_free(a->rl_api_ip);
    rl_map_free(a->rl_api_user);
    rl_map_free(a->rl_account);
    rl_map_free(a->rl_server);
    a->rl_auth = a->rl_api_ip = a->rl_api_user = a->rl_account = a->rl_server = NULL;
    revoke_free(a->revoke);
    a->revoke = NULL;
}

void api_close(api_t *a)
{
    api_audit_stop(a);
    api_uploads_close(a);
    api_blob_gc_close(a);
    uv_close((uv_handle_t *)&a->sweep, on_sweep_closed);
}

api_req_t *api_req_new(api_t *a, int method, const char *path, size_t path_len,
                       const char *query, size_t query_len)
{
    api_req_t *r = ch_calloc(1, sizeof(*r));
    r->api = a;
    r->method = method;
    r->path = ch_strndup(path, path_len);
    r->query = ch_strndup(query ? query : "", query ? query_len : 0);
    return r;
}

void api_req_set_body(api_req_t *r, const char *body, size_t len)
{
    free((char *)r->body);
    r->body = body ? ch_strndup(body, len) : NULL;
    r->body_len = body ? len : 0;
}

void api_req_set_bearer(api_req_t *r, const char *value, size_t len)
{
    free(r->bearer);
    r->bearer = value ? ch_strndup(value, len) : NULL;
}

void api_req_set_headers(api_req_t *r, size_t n, const char *const *names,
                         const size_t *name_lens, const char *const *values,
                         const size_t *value_lens)
{
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total += name_lens[i] + value_lens[i] + 2;
    free(r->headers);
    free(r->hdr_buf);
    r->headers = ch_calloc(n ? n : 1, sizeof(*r->headers));
    r->hdr_buf = ch_malloc(total);
    char *o = r->hdr_buf;
    for (size_t i = 0; i < n; i++) {
        memcpy(o, names[i], name_lens[i]);
        o[name_lens[i]] = '\0';
        r->headers[i].name = o;
        o += name_lens[i] + 1;
        memcpy(o, values[i], value_lens[i]);
        o[value_lens[i]] = '\0';
        r->headers[i].value = o;
        r->headers[i].value_len = value_lens[i];
        o += value_lens[i] + 1;
    }
    r->nheaders = n;
}

const api_header_t *api_req_header(const api_req_t *r, const char *name)
{
    for (size_t i = 0; i < r->nheaders; i++)
        if (strcasecmp(r->headers[i].name, name) == 0) return &r->headers[i];
    return NULL;
}

void api_body_ready(api_req_t *r)
{
    if (r->streaming && r->conn && r->body_ready) r->body_ready(r);
}

void api_req_free(api_req_t *r)
{
    if (!r) return;
    free(r->headers);
    free(r->hdr_buf);
    free(r->path);
    free(r->query);
    free(r->bearer);
    if (r->body) sodium_memzero((char *)r->body, r->body_len); /* may hold a password */
    free((char *)r->body);
    free(r->param_buf);
    json_decref(r->json);
    json_decref(r->resp);
    cbuf_unref(r->resp_text);
    sodium_memzero(r->secret, sizeof(r->secret));
    sodium_memzero(r->secret2, sizeof(r->secret2));
    free(r);
}

void api_respond(api_req_t *r, int status, json_t *body)
{
    CH_ASSERT(!r->resp && !r->resp_text && r->status == 0);
    r->status = status;
    r->resp = body ? body : json_object();
    r->done(r);
}

void api_respond_text(api_req_t *r, int status, cbuf_t *body)
{
    CH_ASSERT(!r->resp && !r->resp_text && r->status == 0 && body != NULL);
    r->status = status;
    r->resp_text = body;
    r->done(r);
}

void api_respond_empty(api_req_t *r, int status)
{
    CH_ASSERT(!r->resp && !r->resp_text && r->status == 0);
    r->status = status;
    r->empty = 1;
    r->done(r);
}

void api_error(api_req_t *r, int status, const char *code, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    utf8_scrub(msg, strlen(msg)); /* it may quote client input cut to a length */
    api_respond(r, status, json_pack("{s:b, s:{s:s, s:s}}", "success", 0, "error", "code", code,
                                     "message", msg));
}

void api_invalid(api_req_t *r, const char *field, const char *message)
{
    api_respond(r, 400, json_pack("{s:b, s:{s:s, s:s, s:s}}", "success", 0, "error", "code",
                                  "validation_error", "field", field, "message", message));
}

static void on_audit_done(store_req_t *req)
{
    free(req);
}

void api_audit(api_t *a, const char *event, const char *user_id, const char *ip,
               const char *detail)
{
    store_req_t *req = ch_calloc(1, sizeof(*req));
    req->type = STORE_AUDIT;
    req->cb = on_audit_done;
    req->audit.at = clock_unix_ms();
    snprintf(req->audit.event, sizeof(req->audit.event), "%s", event);
    snprintf(req->audit.user_id, sizeof(req->audit.user_id), "%s", user_id ? user_id : "");
    snprintf(req->audit.ip, sizeof(req->audit.ip), "%s", ip ? ip : "");
    snprintf(req->audit.detail, sizeof(req->audit.detail), "%s", detail ? detail : "");
    store_submit(a->store, req);
}

/* Matches path against pattern segment by segment; on a match captures ':' segments
 * into r. Returns 1 on a match. */
static int match(api_req_t *r, const char *pattern, int capture)
{
    const char *p = pattern, *s = r->path;
    const char *caps[API_MAX_PARAMS];
    size_t caplen[API_MAX_PARAMS], ncap = 0;
    while (*p && *s) {
        if (*p != '/' || *s != '/') return 0;
        p++;
        s++;
        const char *pe = strchr(p, '/'), *se = strchr(s, '/');
        size_t pl = pe ? (size_t)(pe - p) : strlen(p), sl = se ? (size_t)(se - s) : strlen(s);
        if (*p == ':') {
            if (sl == 0 || ncap == API_MAX_PARAMS) return 0;
            caps[ncap] = s;
            caplen[ncap++] = sl;
        } else if (pl != sl || memcmp(p, s, pl) != 0) {
            return 0;
        }
        p += pl;
        s += sl;
    }
    if (*p || *s) return 0;
    if (capture) {
        size_t total = 0;
        for (size_t i = 0; i < ncap; i++) total += caplen[i] + 1;
        r->param_buf = ch_malloc(total ? total : 1);
        char *o = r->param_buf;
        for (size_t i = 0; i < ncap; i++) {
            memcpy(o, caps[i], caplen[i]);
            o[caplen[i]] = '\0';
            r->params[i] = o;
            o += caplen[i] + 1;
        }
        r->nparams = ncap;
    }
    return 1;
}

static const char *method_name(int m)
{
    return http_method_str((enum http_method)m);
}

/* Literal segments of a pattern: among the patterns that match a path, the one with the
 * most literal segments wins ("/api/rooms/public" over "/api/rooms/:roomId"). */
static int literal_segments(const char *pattern)
{
    int n = 0;
    for (const char *p = pattern; *p; p++)
        if (*p == '/' && p[1] && p[1] != ':') n++;
    return n;
}

/* Finds the route for r. Returns it, or NULL with allow filled ("GET, PATCH") when the path
 * exists for other methods, or allow empty when no route has this path. */
static const api_route_t *find_route(api_req_t *r, char *allow, size_t cap)
{
    int best = -1;
    for (size_t t = 0; t < CH_ARRAY_LEN(route_tables); t++)
        for (size_t i = 0; i < *route_tables[t].n; i++) {
            const api_route_t *rt = &route_tables[t].routes[i];
            int lit = literal_segments(rt->pattern);
            if (lit > best && match(r, rt->pattern, 0)) best = lit;
        }
    allow[0] = '\0';
    size_t used = 0;
    for (size_t t = 0; t < CH_ARRAY_LEN(route_tables); t++) {
        for (size_t i = 0; i < *route_tables[t].n; i++) {
            const api_route_t *rt = &route_tables[t].routes[i];
            if (literal_segments(rt->pattern) != best || !match(r, rt->pattern, 0)) continue;
            if (rt->method == r->method) {
                match(r, rt->pattern, 1);
                return rt;
            }
            int n = snprintf(allow + used, cap - used, "%s%s", used ? ", " : "",
                             method_name(rt->method));
            if (n > 0 && (size_t)n < cap - used) used += (size_t)n;
        }
    }
    return NULL;
}

int api_route_streams(api_t *a, int method, const char *path, size_t path_len)
{
    api_req_t *r = api_req_new(a, method, path, path_len, NULL, 0);
    char allow[128];
    const api_route_t *rt = find_route(r, allow, sizeof(allow));
    int streams = rt && (rt->flags & API_STREAM);
    api_req_free(r);
    return streams;
}

/* Points *key at the map key of key (borrowed): itself, or its hash in digest when it
 * is longer than RL_MAP_KEY_MAX (a token's sub may be 128 bytes, an email 254). */
static size_t rate_key(const char **key, unsigned char digest[RL_MAP_KEY_MAX / 2])
{
    size_t klen = strlen(*key);
    if (klen <= RL_MAP_KEY_MAX) return klen;
    crypto_generichash(digest, RL_MAP_KEY_MAX / 2, (const unsigned char *)*key, klen, NULL, 0);
    *key = (const char *)digest;
    return RL_MAP_KEY_MAX / 2;
}

int api_rate_ok(api_req_t *r, rl_map_t *m, const rl_rule_t *rule, const char *key)
{
    uint64_t retry_ms = 0;
    unsigned char digest[RL_MAP_KEY_MAX / 2];
    size_t klen = rate_key(&key, digest);
    if (rl_map_take(m, key, klen, rule, uv_now(r->api->loop), &retry_ms)) return 1;
    uint64_t secs = (retry_ms + 999) / 1000;
    if (secs == 0) secs = 1;
    snprintf(r->extra, sizeof(r->extra), "Retry-After: %llu\r\n", (unsigned long long)secs);
    api_error(r, 429, "rate_limited", "too many requests; retry in %llu s",
              (unsigned long long)secs);
    return 0;
}

void api_rate_refund(api_req_t *r, rl_map_t *m, const rl_rule_t *rule, const char *key)
{
    unsigned char digest[RL_MAP_KEY_MAX / 2];
    size_t klen = rate_key(&key, digest);
    rl_map_refund(m, key, klen, rule, uv_now(r->api->loop));
}

/* api_rate_ok keyed by the client's address (an IPv6 client by its /64). */
static int rate_ok_ip(api_req_t *r, rl_map_t *m, const rl_rule_t *rule)
{
    char key[NET_IP_TEXT];
    net_ip_key(r->ip, key, sizeof(key));
    return api_rate_ok(r, m, rule, key);
}

/* Checks the bearer token. Returns 1 when r->user is set; else answers 401 and returns 0. */
static int authenticate(api_req_t *r)
{
    const char *why = "missing bearer token";
    if (r->bearer) {
        int rc = auth_jwt_verify(r->api->jwt, r->bearer, strlen(r->bearer),
                                 clock_unix_ms() / 1000, &r->user, &why);
        if (rc == 0 && revoke_check(r->api->revoke, &r->user) != 0) {
            rc = -1;
            why = "token revoked (signed out)";
        }
        if (rc == 0) {
            r->authed = 1;
            return 1;
        }
        api_audit_failure(r->api, "token_rejected", NULL, r->ip, why);
    }
    snprintf(r->extra, sizeof(r->extra), "WWW-Authenticate: Bearer realm=\"chorus\"\r\n");
    api_error(r, 401, "unauthorized", "%s", why);
    return 0;
}

void api_handle(api_req_t *r)
{
    api_t *a = r->api;
    char allow[128];
    const api_route_t *rt = find_route(r, allow, sizeof(allow));
    if (!rt) {
        if (allow[0]) {
            snprintf(r->extra, sizeof(r->extra), "Allow: %s\r\n", allow);
            api_error(r, 405, "method_not_allowed", "method not allowed");
        } else {
            api_error(r, 404, "not_found", "no such endpoint");
        }
        return;
    }
    if (rt->group == API_GROUP_AUTH) {
        if (!rate_ok_ip(r, a->rl_auth, &a->rule_auth)) return;
    } else if (!rate_ok_ip(r, a->rl_api_ip, &a->rule_api_ip)) {
        return;
    }
    r->route = rt;
    if (rt->flags & API_SERVER) {
        api_key_check(r); /* then api_run_route */
        return;
    }
    if (!(rt->flags & API_PUBLIC)) {
        if (!authenticate(r)) return;
        if (rt->group == API_GROUP_API &&
            !api_rate_ok(r, a->rl_api_user, &a->rule_api_user, r->user.sub))
            return;
    }
    api_run_route(r);
}

void api_run_route(api_req_t *r)
{
    if (r->body && r->body_len > 0 && !(r->route->flags & API_STREAM)) {
        json_error_t jerr;
        r->json = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY,
                             &jerr);
        if (!r->json) {
            api_error(r, 400, "bad_json", "invalid JSON at line %d column %d: %s", jerr.line,
                      jerr.column, jerr.text);
            return;
        }
    }
    r->route->fn(r);
}

int api_query_int(api_req_t *r, const char *name, int64_t *out)
{
    size_t n = strlen(name);
    for (const char *q = r->query; *q;) {
        const char *amp = strchr(q, '&');
        size_t len = amp ? (size_t)(amp - q) : strlen(q);
        if (len > n && memcmp(q, name, n) == 0 && q[n] == '=') {
            char *end;
            long long v = strtoll(q + n + 1, &end, 10);
            if (end != q + len || end == q + n + 1 || v < 0) {
                char msg[64];
                snprintf(msg, sizeof(msg), "%s must be a non-negative integer", name);
                api_invalid(r, name, msg);
                return -1;
            }
            *out = v;
        }
        q += len + (amp ? 1 : 0);
    }
    return 0;
}

json_t *api_activity_args(api_req_t *r)
{
    int64_t limit = 50, before = -1;
    if (api_query_int(r, "limit", &limit) || api_query_int(r, "before", &before)) return NULL;
    if (limit < 1 || limit > 200) {
        api_invalid(r, "limit", "limit must be 1 to 200");
        return NULL;
    }
    if (before == 0) {
        api_invalid(r, "before", "before must be a nextCursor from an earlier page");
        return NULL;
    }
    json_t *args = json_pack("{s:I}", "limit", (json_int_t)limit);
    if (before != -1) json_object_set_new(args, "before", json_integer(before));
    return args;
}

/* The raw value of query parameter name (not decoded), or NULL; *len gets its length. */
static const char *query_raw(const api_req_t *r, const char *name, size_t *len)
{
    size_t n = strlen(name);
    for (const char *q = r->query; *q;) {
        const char *amp = strchr(q, '&');
        size_t l = amp ? (size_t)(amp - q) : strlen(q);
        if (l > n && memcmp(q, name, n) == 0 && q[n] == '=') {
            *len = l - n - 1;
            return q + n + 1;
        }
        q += l + (amp ? 1 : 0);
    }
    return NULL;
}

/* A query value percent-decoded into out (cap bytes, NUL-terminated), or -1 when it does
 * not fit or is not well-formed. */
static int query_text(const char *v, size_t len, char *out, size_t cap)
{
    if (len >= cap) return -1;
    memcpy(out, v, len);
    out[len] = '\0';
    return api_unescape_segment(out);
}

json_t *api_participants_args(api_req_t *r)
{
    int64_t limit = -1;
    if (api_query_int(r, "limit", &limit)) return NULL;
    json_t *args = json_object();
    if (limit >= 0) json_object_set_new(args, "limit", json_integer(limit));
    /* Decoded here, checked at the home (bad_request, validation_error) as for the op. */
    static const char *const strs[] = {"cursor", "query"};
    for (size_t i = 0; i < CH_ARRAY_LEN(strs); i++) {
        size_t len = 0;
        const char *v = query_raw(r, strs[i], &len);
        /* 64 characters of at most 4 bytes, each up to 3 characters percent-encoded;
         * the home checks the decoded length in characters. */
        char text[3 * 4 * 64 + 1];
        if (!v) continue;
        json_t *str = NULL;
        if (query_text(v, len, text, sizeof(text)) != 0 || strlen(text) > 4 * 64 ||
            !(str = json_string(text))) { /* json_string: NULL unless UTF-8 */
            json_decref(args);
            api_invalid(r, strs[i],
                        i ? "query must be at most 64 characters of UTF-8"
                          : "cursor must be the next of an earlier answer");
            return NULL;
        }
        json_object_set_new(args, strs[i], str);
    }
    size_t len = 0;
    const char *v = query_raw(r, "online", &len);
    if (v) {
        int on = len == 4 && memcmp(v, "true", 4) == 0;
        if (!on && !(len == 5 && memcmp(v, "false", 5) == 0)) {
            json_decref(args);
            api_invalid(r, "online", "online must be true or false");
            return NULL;
        }
        json_object_set_new(args, "online", json_boolean(on));
    }
    return args;
}

json_t *api_snapshot_args(api_req_t *r)
{
    size_t len = 0;
    const char *v = query_raw(r, "at", &len);
    char text[64];
    size_t nd = v ? strspn(v, "0123456789") : 0;
    int64_t n = -1;
    if (nd > 0 && nd <= 18 && (nd == len || (nd + 2 == len && memcmp(v + nd, "ms", 2) == 0)))
        n = strtoll(v, NULL, 10);
    json_t *at = NULL;
    if (n >= 0 && nd == len) {
        at = json_pack("{s:I}", "stateVersion", (json_int_t)n);
    } else if (n >= 0) {
        at = json_pack("{s:I}", "time", (json_int_t)n);
    } else if (v && query_text(v, len, text, sizeof(text)) == 0 &&
               iso_time_parse(text, strlen(text), &n) == 0) {
        at = json_pack("{s:I}", "time", (json_int_t)n);
    } else {
        api_invalid(r, "at",
                    "at must be a state version, an RFC 3339 time or unix ms followed by ms");
        return NULL;
    }
    json_t *args = json_pack("{s:o}", "at", at);
    v = query_raw(r, "after", &len);
    char after[STORE_ENTITY_ID_LEN];
    if (v && (query_text(v, len, after, sizeof(after)) != 0 || !after[0] ||
              !utf8_valid((const uint8_t *)after, strlen(after)))) {
        json_decref(args);
        api_invalid(r, "after", "after must be an entity id (a snapshot's after)");
        return NULL;
    }
    if (v) json_object_set_new(args, "after", json_string(after));
    return args;
}

void api_snapshot_back(const bus_route_t *route, const char *code, const char *message,
                       json_t *data)
{
    api_req_t *r = route->ud;
    if (!code) {
        api_respond(r, 200, data);
        return;
    }
    json_t *kind = json_object_get(data, HOME_KIND_KEY);
    int k = json_is_integer(kind)                    ? (int)json_integer_value(kind)
            : strcmp(code, HOME_NOT_FOUND_CODE) == 0 ? ROOMS_E_NOT_FOUND
                                                     : ROOMS_E_IO;
    json_t *err = json_pack("{s:s, s:s}", "code", code, "message", message);
    if (json_is_object(data)) {
        json_object_del(data, HOME_KIND_KEY);
        json_object_update(err, data);
    }
    json_decref(data);
    api_respond(r, api_status_of(k), json_pack("{s:b, s:o}", "success", 0, "error", err));
}
