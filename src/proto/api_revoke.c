/* api_revoke.c: the revocation set behind the API: loaded from the store at start,
 * changed by the session routes (api_auth.c), swept once its entries ended. */
#include <stdlib.h>
#include <string.h>

#include "proto/api.h"
#include "util/clock.h"
#include "util/mem.h"

typedef struct {
    int done, err;
} api_load_t;

static void on_loaded(store_req_t *req)
{
    api_load_t *l = req->data;
    l->done = 1;
    l->err = req->err;
}

int api_revoke_load(api_t *a)
{
    a->revoke = revoke_new((size_t)a->cfg->revocations_max);
    api_load_t l = {0, 0};
    store_req_t req;
    memset(&req, 0, sizeof(req));
    req.type = STORE_REVOKE_LOAD;
    req.cb = on_loaded;
    req.data = &l;
    req.revoke.until_s = clock_unix_ms() / 1000;
    store_submit(a->store, &req);
    while (!l.done) uv_run(a->loop, UV_RUN_ONCE);
    for (size_t i = 0; i < req.nrevokes; i++) {
        const store_revoke_t *e = &req.revokes[i];
        if (e->kind == STORE_REVOKE_TOKEN) {
            /* The jti as minted, or (a later logout) its key's hex form: the same key. */
            auth_jti_t k;
            auth_jti_key(e->id, strlen(e->id), &k);
            revoke_token(a->revoke, &k, e->until_s);
        } else {
            revoke_user(a->revoke, e->id, e->epoch, e->until_s);
        }
    }
    free(req.revokes);
    if (l.err != STORE_OK) {
        log_error(a->log, "cannot load the token revocations from the database");
        return -1;
    }
    return 0;
}

static void on_pruned(store_req_t *req)
{
    free(req);
}

void api_revoke_sweep(api_t *a)
{
    int64_t now_s = clock_unix_ms() / 1000;
    if (!revoke_sweep(a->revoke, now_s)) return;
    /* What ended in memory ended in the table too. */
    store_req_t *req = ch_calloc(1, sizeof(*req));
    req->type = STORE_REVOKE_PRUNE;
    req->cb = on_pruned;
    req->revoke.until_s = now_s;
    store_submit(a->store, req);
}

void api_revoke_token(api_t *a, const char *sub, const auth_jti_t *jti, int64_t until_s)
{
    revoke_token(a->revoke, jti, until_s);
    if (a->revoked) a->revoked(a->revoked_ud, sub);
}

void api_revoke_user(api_t *a, const char *sub, int64_t epoch, int64_t until_s)
{
    revoke_user(a->revoke, sub, epoch, until_s);
    if (a->revoked) a->revoked(a->revoked_ud, sub);
}
