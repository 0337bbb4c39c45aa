/* fuzz_entities.c: libFuzzer target for the entity rules (entity_set.c). The input is
 * lines; each line's first byte picks an operation on one room's set and the rest is its
 * JSON (data or patch): create, update, update with a stale baseVersion, transient update,
 * apply held changes, delete, lock, state change, and a sync from some version. After
 * every line the set must hold together: its count, sizes under the limits, data objects,
 * and every sync answer consistent with the log's reach. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "domain/entity_set.h"

static void check(entity_set_t *s, const entity_limits_t *lim, int64_t v, const json_t *state)
{
    json_t *all = entset_json(s);
    if (json_array_size(all) != s->count || s->count > lim->max_count) __builtin_trap();
    size_t i;
    json_t *e;
    json_array_foreach(all, i, e) {
        json_t *d = json_object_get(e, "data");
        if (!json_is_object(d) || json_dumpb(d, NULL, 0, JSON_COMPACT) > lim->max_bytes)
            __builtin_trap();
        if (json_integer_value(json_object_get(e, "stateVersion")) > v) __builtin_trap();
    }
    json_decref(all);
    int64_t since = v - (int64_t)(v % 7);
    json_t *j = entset_sync(s, since, v, state);
    const char *type = json_string_value(json_object_get(j, "type"));
    if (!type) __builtin_trap();
    if (since == v && strcmp(type, "up_to_date") != 0) __builtin_trap();
    if (since < v && strcmp(type, since >= s->base ? "delta" : "full") != 0) __builtin_trap();
    json_decref(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    entity_limits_t lim = ENTITY_LIMITS_DEFAULT;
    lim.max_count = 6;
    lim.max_bytes = 256;
    lim.max_patch = 128;
    lim.max_depth = 8;
    lim.log_window = 5;
    lim.lock_max_hold = 50;
    entity_set_t s;
    entset_init(&s, 42, 0);
    json_t *state = json_object();
    int64_t v = 0;
    uint64_t now = 1;
    const bus_member_t holders[2] = {0x10, 0x20};
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        if (le > p) {
            unsigned char op = (unsigned char)p[0];
            char id[4];
            snprintf(id, sizeof(id), "e%u", (op >> 4) % 8);
            json_t *arg = json_loadb(p + 1, (size_t)(le - p - 1), JSON_DECODE_ANY, NULL);
            entity_t *e = entset_get(&s, id);
            bus_member_t who = holders[op & 1];
            now += 7;
            switch ((op >> 1) % 8) {
            case 0: {
                entity_t *out;
                if (arg && entset_create(&s, &lim, id, "k", "u", arg, v + 1, (int64_t)now, &out) == ENT_OK)
                    v++;
                break;
            }
            case 1:
            case 2:
                if (e && arg && entity_patch_check(arg, &lim) == ENT_OK &&
                    entity_may_change(e, who, now)) {
                    if (e->pending && entset_apply_pending(&s, &lim, e, now, v + 1, (int64_t)now)) v++;
                    int64_t base = (op >> 1) % 8 == 2 ? e->version - 1 : -1;
                    if (entset_update(&s, &lim, e, arg, base, v + 1, (int64_t)now) == ENT_OK) v++;
                }
                break;
            case 3:
                if (e && arg && entity_patch_check(arg, &lim) == ENT_OK) {
                    uint64_t due;
                    entity_transient(e, &lim, arg, who, (op & 1) ? "u1" : "u0", now, &due);
                }
                break;
            case 4:
                if (e && entset_apply_pending(&s, &lim, e, now, v + 1, (int64_t)now)) v++;
                break;
            case 5:
                if (e && entity_may_change(e, who, now)) {
                    entset_remove(&s, &lim, e, ++v);
                    entity_free(e);
                }
                break;
            case 6:
                if (e && entity_may_change(e, who, now)) {
                    /* Renewals every 7 ms reach the hold; the lock never outlasts it. */
                    uint64_t ttl = 20;
                    const char *user = (op & 1) ? "u1" : "u0";
                    if (entity_lock_check(e, who, user, &lim, now, &ttl) == ENT_OK) {
                        entity_lock(e, who, user, "U", ttl, now, 0);
                        if (e->lock->until_ms > e->lock->since_ms + lim.lock_max_hold)
                            __builtin_trap();
                    }
                } else if (e && e->lock && e->lock->holder == who) {
                    entity_unlock(e);
                }
                break;
            default:
                json_decref(state);
                state = json_pack("{s:I}", "v", (json_int_t)v);
                entset_log_state(&s, &lim, ++v);
            }
            json_decref(arg);
            check(&s, &lim, v, state);
        }
        p = le + 1;
    }
    json_decref(state);
    entset_free(&s);
    return 0;
}
