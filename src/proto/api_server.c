/* api_server.c: the server API under /api/server/, for app backends (issue 21; docs/api.md,
 * "Backends"). Every route is API_SERVER: authenticated by an API key (api_key.c), never
 * by a user's token. */
#include <http_parser.h>

#include "proto/api.h"

/* GET /api/server/whoami: the key's id, so a backend can check its key. */
static void api_server_whoami(api_req_t *r)
{
    api_respond(r, 200, json_pack("{s:b, s:{s:s}}", "success", 1, "key", "id", r->apikey_id));
}

const api_route_t api_server_routes[] = {
    {HTTP_GET, "/api/server/whoami", api_server_whoami, API_SERVER, API_GROUP_API},
};
const size_t api_server_nroutes = sizeof(api_server_routes) / sizeof(api_server_routes[0]);
