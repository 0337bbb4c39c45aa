/* rooms_quota.c: a user's storage quota across a cluster (issue 19; quota.h, "a cluster's
 * per-user quota"): this node's allowances of its users' quotas, asked of the store
 * (STORE_QUOTA_RESERVE) ahead of need or for a write that waits, and given back once
 * idle. One process (no --cluster) holds none: rooms_quota_check counts its users' bytes
 * itself (rooms_t.users) and nothing here runs. */
#include <stdio.h>
#include <string.h>

#include "domain/rooms_internal.h"
#include "util/mem.h"

/* One reservation in the store. */
typedef struct {
    store_req_t req;
    store_quota_t q;
    rooms_t *r;
    uint64_t asked_at; /* loop ms */
} quota_ask_t;

static void on_answer(store_req_t *req)
{
    quota_ask_t *a = req->data;
    rooms_t *r = a->r;
    r->quota_asks--;
    int ok = req->err == STORE_OK;
    quota_lease_t *l = quota_lease_get(&r->leases, a->q.user);
    CH_ASSERT(l != NULL && l->pending); /* a pending entry is never dropped */
    quota_lease_answered(l, ok, a->q.grant, a->q.need, a->q.want, a->asked_at,
                         uv_now(r->loop));
    if (!ok)
        log_warn(r->log, "rooms: the storage quota of user %s could not be reserved", l->id);
    if (r->quota_ready) r->quota_ready(r->quota_ready_ud, a->q.user, ok);
    free(a);
}

/* Sends l's reservation: need bytes for a waiting write (0: ahead of need), or everything
 * given back. */
static void ask(rooms_t *r, quota_lease_t *l, int64_t need, int give_back)
{
    uint64_t now = uv_now(r->loop);
    quota_ask_t *a = ch_calloc(1, sizeof(*a));
    a->r = r;
    a->asked_at = now;
    snprintf(a->q.user, sizeof(a->q.user), "%s", l->id);
    a->q.holder = r->quota_holder;
    a->q.keep = quota_lease_ask(l, now, give_back);
    a->q.need = need;
    a->q.want = give_back ? 0 : need > QUOTA_LEASE_CHUNK ? need : QUOTA_LEASE_CHUNK;
    a->q.quota = (int64_t)r->lim.quota.user_max;
    a->q.ttl_ms = QUOTA_LEASE_TTL_MS;
    a->req.type = STORE_QUOTA_RESERVE;
    a->req.quota = &a->q;
    a->req.cb = on_answer;
    a->req.data = a;
    r->quota_asks++;
    store_submit(r->store, &a->req);
}

void rooms_quota_cluster(rooms_t *r, uint64_t holder)
{
    r->quota_holder = r->lim.quota.user_max ? holder | 1 : 0;
}

void rooms_quota_on_ready(rooms_t *r, void (*fn)(void *ud, const char *user, int ok), void *ud)
{
    r->quota_ready = fn;
    r->quota_ready_ud = ud;
}

int rooms_quota_wait(rooms_t *r, const char *user, int64_t need)
{
    if (!r->quota_holder || !user[0]) return 0;
    uint64_t now = uv_now(r->loop);
    quota_lease_t *l = quota_lease_get(&r->leases, user);
    if (quota_lease_gate(l, need, now) == QUOTA_LEASE_PASS) return 0;
    l = quota_lease_of(&r->leases, user);
    if (!l->pending) ask(r, l, need, 0);
    return 1;
}

int rooms_quota_user_fits(rooms_t *r, const char *user, int64_t add)
{
    uint64_t now = uv_now(r->loop);
    quota_lease_t *l = quota_lease_get(&r->leases, user);
    if (quota_lease_fits(l, add, now)) return 1;
    if (!quota_lease_overdraw(l, add, now)) {
        /* Refused: asked again (at most once per QUOTA_LEASE_RETRY_MS), so a retry passes
         * once the user's bytes are free again. */
        if (!l->pending && now >= l->full_until) ask(r, l, add, 0);
        return 0;
    }
    /* A write that could not wait: made on credit, and the next grant asked now. */
    l = quota_lease_of(&r->leases, user);
    if (!l->pending) ask(r, l, add, 0);
    return 1;
}

void rooms_quota_charge(rooms_t *r, const char *user, int64_t delta)
{
    if (!r->quota_holder || !user[0] || delta == 0) return;
    uint64_t now = uv_now(r->loop);
    quota_lease_t *l = quota_lease_of(&r->leases, user);
    quota_lease_take(l, delta, now);
    /* Asked once the write is in the store (rooms_quota_submitted; or the tick's sweep,
     * for a write sent otherwise), never between its charge and its submission. */
    if (delta > 0 && quota_lease_prefetch(l, now)) l->due = 1;
}

void rooms_quota_submitted(rooms_t *r, const char *user)
{
    if (!r->quota_holder) return;
    quota_lease_t *l = quota_lease_get(&r->leases, user);
    if (!l || !l->due || l->pending) return;
    l->due = 0;
    ask(r, l, 0, 0);
}

void rooms_quota_close(rooms_t *r)
{
    /* Nothing waits any more (the home frees its waiting ops unanswered). */
    r->quota_ready = NULL;
    r->quota_ready_ud = NULL;
    if (!r->quota_holder) return;
    uint64_t now = uv_now(r->loop);
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&r->leases.map, &i, &k, &v);) {
        quota_lease_t *l = v;
        if (!l->pending && quota_lease_allow(l, now) > 0) ask(r, l, 0, 1);
    }
}

void rooms_quota_sweep(rooms_t *r, uint64_t now)
{
    if (!r->quota_holder) return;
    quota_lease_t *drop[64];
    size_t ndrop = 0;
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&r->leases.map, &i, &k, &v);) {
        quota_lease_t *l = v;
        if (l->due && !l->pending) {
            l->due = 0;
            ask(r, l, 0, 0);
        } else if (quota_lease_idle(l, now)) {
            ask(r, l, 0, 1); /* marks it pending: the map is not changed */
        }
        if (!l->pending && quota_lease_unused(l, now) && ndrop < CH_ARRAY_LEN(drop))
            drop[ndrop++] = l;
    }
    for (size_t i = 0; i < ndrop; i++)
        quota_lease_drop(&r->leases, drop[i]);
}
