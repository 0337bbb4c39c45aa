/* json_patch.c: RFC 7396 JSON Merge Patch over jansson values, pure and allocation-checked. */
#include "util/json_patch.h"

#include <stdint.h>

#include "util/mem.h"

/* jansson reports allocation failure as NULL; like ch_malloc, treat it as fatal. */
static json_t *jp__need(json_t *v)
{
    CH_ASSERT(v != NULL);
    return v;
}

static json_t *jp__copy(const json_t *v)
{
    return jp__need(json_deep_copy(v));
}

/* jansson's iteration API takes a non-const object but does not modify it. */
static void *jp__iter(const json_t *obj)
{
    return json_object_iter((json_t *)(uintptr_t)obj);
}

/* Applies the object patch to dst, which the caller owns exclusively (refcount 1 all the
 * way down: a fresh copy), in place. */
static void jp__merge_into(json_t *dst, const json_t *patch)
{
    for (void *it = jp__iter(patch); it; it = json_object_iter_next((json_t *)(uintptr_t)patch, it)) {
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        const json_t *pv = json_object_iter_value(it);
        if (json_is_null(pv)) {
            json_object_deln(dst, key, klen); /* absent already is fine */
        } else if (json_is_object(pv)) {
            json_t *cur = json_object_getn(dst, key, klen);
            if (json_is_object(cur)) {
                jp__merge_into(cur, pv);
            } else {
                json_t *fresh = jp__need(json_object());
                jp__merge_into(fresh, pv);
                CH_ASSERT(json_object_setn_new_nocheck(dst, key, klen, fresh) == 0);
            }
        } else {
            CH_ASSERT(json_object_setn_new_nocheck(dst, key, klen, jp__copy(pv)) == 0);
        }
    }
}

json_t *json_merge_patch(const json_t *target, const json_t *patch)
{
    CH_ASSERT(patch != NULL);
    if (!json_is_object(patch)) return jp__copy(patch);
    json_t *result = json_is_object(target) ? jp__copy(target) : jp__need(json_object());
    jp__merge_into(result, patch);
    return result;
}

int json_merge_patch_object(json_t **obj, const json_t *patch)
{
    CH_ASSERT(obj != NULL && patch != NULL);
    if (!json_is_object(patch)) return -1; /* the result would be the patch itself */
    json_t *result = json_merge_patch(*obj, patch);
    json_decref(*obj);
    *obj = result;
    return 0;
}

int json_depth(const json_t *v, int max)
{
    if (!json_is_object(v) && !json_is_array(v)) return 0;
    if (max < 1) return max + 1; /* a container already has depth 1 */
    int deepest = 1;
    if (json_is_array(v)) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            int d = 1 + json_depth(json_array_get(v, i), max - 1);
            if (d > deepest) deepest = d;
            if (deepest > max) return max + 1;
        }
    } else {
        for (void *it = jp__iter(v); it; it = json_object_iter_next((json_t *)(uintptr_t)v, it)) {
            int d = 1 + json_depth(json_object_iter_value(it), max - 1);
            if (d > deepest) deepest = d;
            if (deepest > max) return max + 1;
        }
    }
    return deepest;
}

int json_depth_exceeds(const json_t *v, int max)
{
    return json_depth(v, max) > max;
}

json_t *json_merge_diff(const json_t *from, const json_t *to)
{
    CH_ASSERT(from != NULL && to != NULL);
    if (json_equal(from, to)) return NULL;
    /* A non-object patch replaces; an object patch on a non-object target starts from {}. */
    if (!json_is_object(from) || !json_is_object(to)) return jp__copy(to);
    json_t *diff = jp__need(json_object());
    for (void *it = jp__iter(from); it; it = json_object_iter_next((json_t *)(uintptr_t)from, it)) {
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        if (!json_object_getn(to, key, klen))
            CH_ASSERT(json_object_setn_new_nocheck(diff, key, klen, jp__need(json_null())) == 0);
    }
    for (void *it = jp__iter(to); it; it = json_object_iter_next((json_t *)(uintptr_t)to, it)) {
        const char *key = json_object_iter_key(it);
        size_t klen = json_object_iter_key_len(it);
        const json_t *tv = json_object_iter_value(it);
        const json_t *fv = json_object_getn(from, key, klen);
        json_t *d = fv ? json_merge_diff(fv, tv) : jp__copy(tv);
        if (d) CH_ASSERT(json_object_setn_new_nocheck(diff, key, klen, d) == 0);
    }
    return diff;
}
