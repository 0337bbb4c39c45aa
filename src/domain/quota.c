/* quota.c: storage quota counters and checks (see quota.h). */
#include "domain/quota.h"

#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

typedef struct {
    int64_t bytes;
    char id[]; /* the key */
} quota_user_t;

int quota_check(const quota_limits_t *lim, int64_t room_used, int64_t user_used, int64_t add)
{
    if (add <= 0) return QUOTA_OK;
    if (lim->room_max && room_used + add > (int64_t)lim->room_max) return QUOTA_EROOM;
    if (lim->user_max && user_used + add > (int64_t)lim->user_max) return QUOTA_EUSER;
    return QUOTA_OK;
}

int64_t quota_add(int64_t used, int64_t delta)
{
    int64_t v = used + delta;
    return v > 0 ? v : 0;
}

void quota_users_init(quota_users_t *u, uint64_t seed)
{
    strmap_init(&u->map, seed);
}

void quota_users_free(quota_users_t *u)
{
    strmap_free_all(&u->map);
}

int64_t quota_user_used(const quota_users_t *u, const char *user)
{
    const quota_user_t *q = user[0] ? strmap_get(&u->map, user) : NULL;
    return q ? q->bytes : 0;
}

void quota_user_add(quota_users_t *u, const char *user, int64_t delta)
{
    if (!user[0] || delta == 0) return;
    quota_user_t *q = strmap_get(&u->map, user);
    if (!q) {
        if (delta < 0) return;
        size_t n = strlen(user);
        q = ch_malloc(sizeof(*q) + n + 1);
        memcpy(q->id, user, n + 1);
        q->bytes = 0;
        strmap_put(&u->map, q->id, q);
    }
    q->bytes = quota_add(q->bytes, delta);
    if (q->bytes == 0) {
        strmap_del(&u->map, q->id);
        free(q);
    }
}

size_t quota_users_count(const quota_users_t *u)
{
    return u->map.count;
}

/* ---- a cluster's allowances ---- */

void quota_leases_init(quota_leases_t *t, uint64_t seed)
{
    strmap_init(&t->map, seed);
}

void quota_leases_free(quota_leases_t *t)
{
    strmap_free_all(&t->map);
}

quota_lease_t *quota_lease_get(const quota_leases_t *t, const char *user)
{
    return user[0] ? strmap_get(&t->map, user) : NULL;
}

quota_lease_t *quota_lease_of(quota_leases_t *t, const char *user)
{
    quota_lease_t *l = quota_lease_get(t, user);
    if (l) return l;
    size_t n = strlen(user);
    l = ch_calloc(1, sizeof(*l) + n + 1);
    memcpy(l->id, user, n + 1);
    strmap_put(&t->map, l->id, l);
    return l;
}

int64_t quota_lease_allow(const quota_lease_t *l, uint64_t now)
{
    return l && now < l->valid_until ? l->allow : 0;
}

int quota_lease_gate(const quota_lease_t *l, int64_t need, uint64_t now)
{
    if (quota_lease_allow(l, now) >= need) return QUOTA_LEASE_PASS;
    if (l && now < l->full_until) return QUOTA_LEASE_PASS;
    return QUOTA_LEASE_WAIT;
}

int quota_lease_prefetch(const quota_lease_t *l, uint64_t now)
{
    if (!l || l->pending || now < l->full_until) return 0;
    if (quota_lease_allow(l, now) < QUOTA_LEASE_LOW) return 1;
    return l->valid_until - now < QUOTA_LEASE_TTL_MS / 2;
}

int quota_lease_fits(const quota_lease_t *l, int64_t add, uint64_t now)
{
    return add <= 0 || add <= quota_lease_allow(l, now);
}

int quota_lease_overdraw(const quota_lease_t *l, int64_t add, uint64_t now)
{
    if (!l) return 1;
    if (now < l->full_until || l->empty) return 0;
    int64_t debt = l->allow < 0 ? -l->allow : 0;
    return debt == 0 || debt + add <= QUOTA_LEASE_CREDIT;
}

void quota_lease_take(quota_lease_t *l, int64_t add, uint64_t now)
{
    l->allow -=
        add; /* below 0 after an overdraft (rooms_quota_check): the next grant repays it */
    if (add > 0) l->last_use = now;
}

int64_t quota_lease_ask(quota_lease_t *l, uint64_t now, int give_back)
{
    if (give_back || now >= l->valid_until) {
        l->allow = 0;
        l->valid_until = 0;
    }
    l->pending = 1;
    l->sent_keep = l->allow > 0 ? l->allow : 0;
    return l->sent_keep;
}

void quota_lease_answered(quota_lease_t *l, int ok, int64_t grant, int64_t need, int64_t want,
                          uint64_t asked_at, uint64_t now)
{
    l->pending = 0;
    if (!ok) return;
    /* Nothing free for the user: no write goes on credit until a grant says otherwise (a
     * forgotten entry would give one of any size again, every QUOTA_LEASE_RETRY_MS). */
    if (want > 0) l->empty = grant == 0;
    if (l->sent_keep + grant > 0) {
        l->allow += grant;
        l->asked_at = asked_at;
        l->last_use = now; /* idle from now, not from its last write */
        l->valid_until = asked_at + QUOTA_LEASE_TTL_MS - QUOTA_LEASE_TTL_MS / 4;
    } else {
        l->allow = 0;
        l->valid_until = 0; /* the store keeps nothing for this node */
    }
    if (need > 0 && quota_lease_allow(l, now) < need)
        l->full_until = now + QUOTA_LEASE_RETRY_MS;
}

int quota_lease_idle(const quota_lease_t *l, uint64_t now)
{
    return !l->pending && l->valid_until && now - l->last_use >= QUOTA_LEASE_IDLE_MS;
}

int quota_lease_unused(const quota_lease_t *l, uint64_t now)
{
    return !l->pending && !l->empty && now >= l->full_until && quota_lease_allow(l, now) == 0;
}

void quota_lease_drop(quota_leases_t *t, quota_lease_t *l)
{
    CH_ASSERT(!l->pending);
    strmap_del(&t->map, l->id);
    free(l);
}
