/* presence.c: per-user presence state, rate-limited change coalescing, idle and typing timers. */
#include "domain/presence.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/json_patch.h"
#include "util/mem.h"

static uint64_t pr__add(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Minimum time between two emitted changes: rounded up so max_rate is never exceeded, or
 * min_gap_ms when longer. */
static uint64_t pr__interval(const presence_rules_t *r)
{
    uint64_t by_rate = r->max_rate ? (1000u + r->max_rate - 1) / r->max_rate : 0;
    return r->min_gap_ms > by_rate ? r->min_gap_ms : by_rate;
}

static uint64_t pr__flush_at(const presence_t *p, const presence_rules_t *r)
{
    return p->last_emit_ms ? pr__add(p->last_emit_ms, pr__interval(r)) : 0;
}

/* The one text every state reading {"idle":true} shares (never written through, never
 * freed): every member of a quiet room goes idle after idle_ms, most with no state of their
 * own, and would otherwise hold a copy each (docs/benchmarks.md). */
static const char pr__idle_text[] = "{\"idle\":true}";

static int pr__shared(const char *t)
{
    return t == pr__idle_text;
}

static void pr__text_free(char *t)
{
    if (!pr__shared(t)) free(t);
}

/* Returns the text t stands for: NULL is {}. */
static const char *pr__text(const char *t)
{
    return t ? t : "{}";
}

/* Returns the owned text for the state tree v (an object): NULL for {}, the shared idle
 * text for {"idle":true}, else Jansson's compact text, one allocation sized to it. Sets
 * *len to the length. */
static char *pr__encode(const json_t *v, size_t *len)
{
    if (json_object_size(v) == 0) {
        *len = 2;
        return NULL;
    }
    char *t = json_dumps(v, JSON_COMPACT);
    CH_ASSERT(t != NULL);
    *len = strlen(t);
    if (*len == sizeof(pr__idle_text) - 1 && memcmp(t, pr__idle_text, *len) == 0) {
        free(t);
        return (char *)(uintptr_t)pr__idle_text;
    }
    return t;
}

/* Returns a new reference: the tree of t (NULL: {}); texts here are Jansson's own. */
static json_t *pr__decode(const char *t)
{
    json_t *v = t ? json_loads(t, JSON_ALLOW_NUL, NULL) : json_object();
    CH_ASSERT(json_is_object(v));
    return v;
}

void presence_init(presence_t *p, uint64_t now_ms)
{
    p->state = p->sent = NULL; /* {}: nothing allocated until a change */
    p->pending = NULL;
    p->last_emit_ms = 0;
    p->last_active_ms = now_ms;
    p->typing_until = 0;
    p->idle = 0;
}

void presence_free(presence_t *p)
{
    pr__text_free(p->state);
    pr__text_free(p->sent);
    json_decref(p->pending);
    p->state = p->sent = NULL;
    p->pending = NULL;
}

const char *presence_state_text(const presence_t *p, size_t *len)
{
    const char *t = pr__text(p->state);
    if (len) *len = strlen(t);
    return t;
}

const char *presence_sent_text(const presence_t *p, size_t *len)
{
    const char *t = pr__text(p->pending ? p->sent : p->state);
    if (len) *len = strlen(t);
    return t;
}

json_t *presence_state_json(const presence_t *p)
{
    return pr__decode(p->state);
}

/* Makes ns (owned text, as pr__encode gives; its tree borrowed in nv) the new state, the
 * old one's tree borrowed in cur, and recomputes what the room has not seen. */
static void pr__set_state(presence_t *p, const json_t *cur, char *ns, const json_t *nv)
{
    json_t *sent;
    if (!p->pending) {
        p->sent = p->state; /* the room saw the old state: keep it while something is held */
        sent = json_incref((json_t *)(uintptr_t)cur);
    } else {
        pr__text_free(p->state);
        sent = pr__decode(p->sent);
    }
    p->state = ns;
    json_decref(p->pending);
    p->pending = json_merge_diff(sent, nv);
    json_decref(sent);
    if (!p->pending) { /* back to what the room saw */
        pr__text_free(p->sent);
        p->sent = NULL;
    }
}

/* Returns the pending change (new reference) when the rate allows sending it at now. */
static json_t *pr__flush(presence_t *p, uint64_t now, const presence_rules_t *r)
{
    if (!p->pending) return NULL;
    if (p->last_emit_ms && now < pr__flush_at(p, r)) return NULL;
    json_t *change = p->pending;
    p->pending = NULL;
    pr__text_free(p->sent); /* the room now sees state */
    p->sent = NULL;
    p->last_emit_ms = now ? now : 1;
    return change;
}

/* Applies the one-member server patch {key: value} (takes ownership of value). */
static void pr__set_field(presence_t *p, const char *key, json_t *value)
{
    json_t *patch = json_object();
    CH_ASSERT(patch != NULL && value != NULL);
    json_object_set_new(patch, key, value);
    json_t *cur = pr__decode(p->state);
    json_t *nv = json_merge_patch(cur, patch);
    size_t len;
    pr__set_state(p, cur, pr__encode(nv, &len), nv);
    json_decref(nv);
    json_decref(cur);
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
    json_t *cur = pr__decode(p->state);
    json_t *ns = json_merge_patch(cur, eff);
    json_decref(eff);
    size_t len;
    char *text = pr__encode(ns, &len);
    if (r->max_bytes && len > r->max_bytes) {
        pr__text_free(text);
        json_decref(ns);
        json_decref(cur);
        return -1;
    }
    if (json_object_get(patch, "typing"))
        p->typing_until = json_is_true(json_object_get(ns, "typing")) && r->typing_ms
                              ? pr__add(now, r->typing_ms)
                              : 0;
    p->last_active_ms = now;
    p->idle = 0;
    pr__set_state(p, cur, text, ns);
    json_decref(ns);
    json_decref(cur);
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
        pr__set_field(p, "idle", json_true()); /* {} becomes the shared {"idle":true} */
    }
    return pr__flush(p, now, r);
}
