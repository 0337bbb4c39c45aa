/* audit_agg.c: per-window counting of repeated failure events by source. */
#include "auth/audit_agg.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "util/mem.h"
#include "util/net_addr.h"
#include "util/strmap.h"

typedef struct {
    char key[STORE_EVENT_LEN + NET_IP_TEXT + STORE_ID_LEN + 2];
    store_audit_t row;  /* the last event of the source; row.count = repeats */
} audit_src_t;

struct audit_agg_s {
    strmap_t map;       /* key -> audit_src_t (owned) */
    size_t max;
    store_audit_t overflow; /* repeats from sources past max; count 0 = none */
};

audit_agg_t *audit_agg_new(size_t max_sources)
{
    CH_ASSERT(max_sources >= 1);
    audit_agg_t *g = ch_calloc(1, sizeof(*g));
    uint64_t seed;
    randombytes_buf(&seed, sizeof(seed));
    strmap_init(&g->map, seed);
    g->max = max_sources;
    return g;
}

static void audit_agg__clear(audit_agg_t *g)
{
    strmap_free_all(&g->map);
    memset(&g->overflow, 0, sizeof(g->overflow));
}

void audit_agg_free(audit_agg_t *g)
{
    if (!g) return;
    strmap_free_all(&g->map);
    free(g);
}

size_t audit_agg_count(const audit_agg_t *g)
{
    return g->map.count;
}

int audit_agg_add(audit_agg_t *g, const store_audit_t *ev)
{
    char ip[NET_IP_TEXT], key[sizeof(((audit_src_t *)0)->key)];
    net_ip_key(ev->ip, ip, sizeof(ip));
    snprintf(key, sizeof(key), "%s\n%s\n%s", ev->event, ip, ev->user_id);
    audit_src_t *s = strmap_get(&g->map, key);
    if (s) {
        s->row.count++;
        snprintf(s->row.detail, sizeof(s->row.detail), "%s", ev->detail);
        return 0;
    }
    if (g->map.count >= g->max) {
        if (g->overflow.count == 0) {
            snprintf(g->overflow.event, sizeof(g->overflow.event), "%s", ev->event);
            snprintf(g->overflow.ip, sizeof(g->overflow.ip), "*");
            snprintf(g->overflow.detail, sizeof(g->overflow.detail),
                     "from sources past audit-max-sources");
        }
        g->overflow.count++;
        return 0;
    }
    s = ch_calloc(1, sizeof(*s));
    memcpy(s->key, key, sizeof(key));
    s->row = *ev;
    s->row.count = 0;
    strmap_put(&g->map, s->key, s);
    return 1;
}

size_t audit_agg_flush(audit_agg_t *g, int64_t now_ms,
                       void (*emit)(void *ud, const store_audit_t *row), void *ud)
{
    size_t n = 0;
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&g->map, &i, &k, &v);) {
        audit_src_t *s = v;
        if (!s->row.count) continue;
        s->row.at = now_ms;
        emit(ud, &s->row);
        n++;
    }
    if (g->overflow.count) {
        g->overflow.at = now_ms;
        emit(ud, &g->overflow);
        n++;
    }
    audit_agg__clear(g);
    return n;
}
