/* presence.c: per-user presence state, rate-limited change coalescing, idle and typing timers. */
#include "domain/presence.h"

#include <stdint.h>

#include "util/json_patch.h"
#include "util/mem.h"

static uint64_t pr__add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Minimum time between two emitted changes: rounded up so max_rate is never exceeded. */
static uint64_t pr__interval(const presence_rules_t *r)
{
    return r->max_rate ? (1000u + r->max_rate - 1) / r->max_rate : 0;
}

static uint64_t pr__flush_at(const presence_t *p, const presence_rules_t *r)
{
    return p->last_emit_ms ? pr__add(p->last_emit_ms, pr__interval(r)) : 0;
}

void presence_init(presence_t *p, uint64_t now_ms)
{
    p->state = p->sent = p->pending = NULL; /* {}: nothing allocated until a change */
    p->last_emit_ms = 0;
    p->last_active_ms = now_ms;
    p->typing_until = 0;
    p->idle = 0;
}

void presence_free(presence_t *p)
{
    json_decref(p->state);
    json_decref(p->sent);
    json_decref(p->pending);
    p->state = p->sent = p->pending = NULL;
}

/* Takes ownership of ns as the new state and recomputes what the room has not seen. */
static void pr__set_state(presence_t *p, json_t *ns)
{
    json_decref(p->state);
    p->state = ns;
    json_decref(p->pending);
    if (p->sent) {
        p->pending = json_merge_diff(p->sent, p->state);
        return;
    }
    json_t *empty = json_object();
    CH_ASSERT(empty != NULL);
    p->pending = json_merge_diff(empty, p->state);
    json_decref(empty);
}

/* Returns the pending change (new reference) when the rate allows sending it at now. */
static json_t *pr__flush(presence_t *p, uint64_t now, const presence_rules_t *r)
{
    if (!p->pending) return NULL;
    if (p->last_emit_ms && now < pr__flush_at(p, r)) return NULL;
    json_t *change = p->pending;
    p->pending = NULL;
    json_decref(p->sent);
    p->sent = json_incref(p->state); /* states are never modified once built */
    p->last_emit_ms = now ? now : 1;
    return change;
}

/* Applies the one-member server patch {key: value} (takes ownership of value). */
static void pr__set_field(presence_t *p, const char *key, json_t *value)
{
    json_t *patch = json_object();
    CH_ASSERT(patch != NULL && value != NULL);
    json_object_set_new(patch, key, value);
    pr__set_state(p, json_merge_patch(p->state, patch));
    json_decref(patch);
}

int presence_update(presence_t *p, const json_t *patch, uint64_t now,
                    const presence_rules_t *r, json_t **emit)
{
    *emit = NULL;
    if (!json_is_object(patch)) return -1;
    /* "idle" belongs to the server: drop the client's, clear ours. Shallow copy: the merge
     * never modifies its patch. */
    json_t *eff = json_copy((json_t *)(uintptr_t)patch);
    CH_ASSERT(eff != NULL);
    json_object_del(eff, "idle");
    if (p->idle) json_object_set_new(eff, "idle", json_false());
    json_t *ns = json_merge_patch(p->state, eff);
    json_decref(eff);
    if (r->max_bytes && json_dumpb(ns, NULL, 0, JSON_COMPACT) > r->max_bytes) {
        json_decref(ns);
        return -1;
    }
    if (json_object_get(patch, "typing"))
        p->typing_until = json_is_true(json_object_get(ns, "typing")) && r->typing_ms
                              ? pr__add(now, r->typing_ms)
                              : 0;
    p->last_active_ms = now;
    p->idle = 0;
    pr__set_state(p, ns);
    *emit = pr__flush(p, now, r);
    return 0;
}

static uint64_t pr__idle_at(const presence_t *p, const presence_rules_t *r)
{
    return !p->idle && r->idle_ms ? pr__add(p->last_active_ms, r->idle_ms) : 0;
}

uint64_t presence_next_due(const presence_t *p, const presence_rules_t *r)
{
    uint64_t due = 0;
    uint64_t when[3] = {
        p->pending ? (p->last_emit_ms ? pr__flush_at(p, r) : 1) : 0,
        p->typing_until,
        pr__idle_at(p, r),
    };
    for (size_t i = 0; i < CH_ARRAY_LEN(when); i++)
        if (when[i] && (!due || when[i] < due)) due = when[i];
    return due;
}

json_t *presence_tick(presence_t *p, uint64_t now, const presence_rules_t *r)
{
    if (p->typing_until && now >= p->typing_until) {
        p->typing_until = 0;
        pr__set_field(p, "typing", json_false());
    }
    uint64_t idle_at = pr__idle_at(p, r);
    if (idle_at && now >= idle_at) {
        p->idle = 1;
        if (!p->state && r->idle_alone)
            pr__set_state(p, json_incref(r->idle_alone)); /* what the patch would build */
        else
            pr__set_field(p, "idle", json_true());
    }
    return pr__flush(p, now, r);
}
