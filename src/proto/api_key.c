/* api_key.c: the API key check of the server API's routes (API_SERVER, api.h): the
 * bearer must be an app backend's key (apikey.h), live in the store. A user's token is
 * refused here, and a key is refused everywhere a user's token is expected (it is no
 * JWT: auth_jwt_verify refuses it). Each request reads its key from the store, so a key
 * revoked by `chorus apikey revoke` (another process) is refused from the next request. */
#include "proto/api.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "auth/apikey.h"

/* Answers 401 invalid_api_key (and audits the refusal). */
static void api_key_refuse(api_req_t *r, const char *why)
{
    api_audit_failure(r->api, "apikey_rejected", NULL, r->ip, why);
    snprintf(r->extra, sizeof(r->extra),
             "WWW-Authenticate: Bearer realm=\"chorus-server\"\r\n");
    api_error(r, 401, "invalid_api_key", "%s", why);
}

static void api_key_on_read(store_req_t *sreq)
{
    api_req_t *r = sreq->data;
    apikey_parsed_t k;
    /* Parsed again rather than kept: the secret is held only for this check. */
    int parsed = apikey_parse(r->bearer, strlen(r->bearer), &k);
    int err = sreq->err;
    int ok = parsed == 0 && err == STORE_OK && apikey_verify(sreq->apikey.hash, k.secret) == 0;
    sodium_memzero(&k, sizeof(k));
    if (err == STORE_EIO || err == STORE_ECLOSED) {
        api_error(r, 503, "service_unavailable",
                  "the API key could not be checked: the database is unavailable; try again");
        return;
    }
    if (!ok) {
        api_key_refuse(r, "unknown API key");
        return;
    }
    if (sreq->apikey.revoked_at != 0) {
        api_key_refuse(r, "API key revoked");
        return;
    }
    memcpy(r->apikey_id, sreq->apikey.id, sizeof(r->apikey_id));
    if (!api_rate_ok(r, r->api->rl_server, &r->api->rule_server, r->apikey_id)) return;
    r->authed = 1;
    api_run_route(r);
}

void api_key_check(api_req_t *r)
{
    apikey_parsed_t k;
    if (!r->bearer) {
        api_key_refuse(r, "missing API key (Authorization: Bearer chk_...)");
        return;
    }
    if (apikey_parse(r->bearer, strlen(r->bearer), &k) != 0) {
        api_key_refuse(r, "not an API key (a user token is never one)");
        return;
    }
    memset(&r->sreq, 0, sizeof(r->sreq));
    r->sreq.type = STORE_APIKEY_GET;
    memcpy(r->sreq.apikey.id, k.id, sizeof(k.id));
    sodium_memzero(&k, sizeof(k));
    r->sreq.cb = api_key_on_read;
    r->sreq.data = r;
    store_submit(r->api->store, &r->sreq);
}
