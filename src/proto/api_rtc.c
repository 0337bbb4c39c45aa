/* api_rtc.c: GET /api/rtc/ice-servers, the ICE servers with fresh TURN credentials for
 * the caller (turn_cred.h), for apps that signal their calls elsewhere
 * (docs/api.md, "Calls"); rtc_join's reply carries the same list. */
#include <http_parser.h>

#include "auth/turn_cred.h"
#include "proto/api.h"
#include "util/clock.h"
#include "util/mem.h"

static void route_ice_servers(api_req_t *r)
{
    const chorus_config_t *cfg = r->api->cfg;
    api_respond(r, 200,
                json_pack("{s:b, s:o, s:I}", "success", 1, "iceServers",
                          turn_ice_servers(cfg, r->user.sub, clock_unix_ms()), "ttl",
                          (json_int_t)(cfg->turn_ttl / 1000)));
}

const api_route_t api_rtc_routes[] = {
    {HTTP_GET, "/api/rtc/ice-servers", route_ice_servers, 0, API_GROUP_API},
};
const size_t api_rtc_nroutes = CH_ARRAY_LEN(api_rtc_routes);
