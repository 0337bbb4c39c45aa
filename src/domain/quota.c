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
