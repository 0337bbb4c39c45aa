/* api_server.c: the server API under /api/server/, for app backends (issue 21; docs/api.md,
 * "Backends"). Every route is API_SERVER: authenticated by an API key (api_key.c), never
 * by a user's token. */
#include <stdio.h>
#include <string.h>

#include <http_parser.h>

#include "proto/api.h"
#include "util/mem.h"

uint32_t api_disconnect_user(api_t *a, const char *sub, const char *reason)
{
    return a->disconnect ? a->disconnect(a->disconnect_ud, sub, API_CLOSE_DISCONNECTED, reason)
                         : 0;
}

/* The user id of a route's :userId segment, percent-decoded in place (params are the
 * request's). Returns it, or NULL once answered 400. */
static const char *api_server_user_param(api_req_t *r, size_t i)
{
    char *id = (char *)r->params[i];
    if (api_unescape_segment(id) != 0 || !id[0] || strlen(id) >= STORE_SUB_LEN) {
        api_invalid(r, "userId", "userId must be a percent-encoded id of 1 to 128 bytes");
        return NULL;
    }
    return id;
}

/* The body as an object (none: NULL in *out). Returns 0, or -1 once answered 400. */
static int api_server_body(api_req_t *r, json_t **out)
{
    *out = NULL;
    if (!r->json) return 0;
    if (!json_is_object(r->json)) {
        api_error(r, 400, "bad_request", "the body must be a JSON object");
        return -1;
    }
    *out = r->json;
    return 0;
}

/* GET /api/server/whoami: the key's id, so a backend can check its key. */
static void api_server_whoami(api_req_t *r)
{
    api_respond(r, 200, json_pack("{s:b, s:{s:s}}", "success", 1, "key", "id", r->apikey_id));
}

/* POST /api/server/users/:userId/disconnect {"reason"?}: closes every connection of the
 * user (api_disconnect_user). Answers how many were closed (0 is no error: the user may
 * be offline). */
static void api_server_disconnect(api_req_t *r)
{
    const char *sub = api_server_user_param(r, 0);
    json_t *body;
    if (!sub || api_server_body(r, &body) != 0) return;
    const char *reason = "disconnected by the app";
    json_t *jr = body ? json_object_get(body, "reason") : NULL;
    if (jr) {
        if (!json_is_string(jr) || json_string_length(jr) == 0 ||
            json_string_length(jr) > API_DISCONNECT_REASON_MAX ||
            strlen(json_string_value(jr)) != json_string_length(jr)) {
            api_invalid(r, "reason", "reason must be a string of 1 to 100 bytes");
            return;
        }
        reason = json_string_value(jr);
    }
    uint32_t n = api_disconnect_user(r->api, sub, reason);
    char detail[128];
    snprintf(detail, sizeof(detail), "key %s user %.80s closed %u", r->apikey_id, sub, n);
    api_audit(r->api, "server_disconnect", NULL, r->ip, detail);
    api_respond(r, 200, json_pack("{s:b, s:I}", "success", 1, "closed", (json_int_t)n));
}

const api_route_t api_server_routes[] = {
    {HTTP_GET, "/api/server/whoami", api_server_whoami, API_SERVER, API_GROUP_API},
    {HTTP_POST, "/api/server/users/:userId/disconnect", api_server_disconnect, API_SERVER,
     API_GROUP_API},
};
const size_t api_server_nroutes = CH_ARRAY_LEN(api_server_routes);
