/* fuzz_merge_patch.c: libFuzzer target for json_merge_patch: the input is two JSON texts
 * (target, patch) split at the first NUL byte, or at the first newline when there is none. */
#include <stdint.h>
#include <string.h>

#include "util/json_patch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *cut = memchr(s, '\0', size);
    if (!cut) cut = memchr(s, '\n', size);
    if (!cut) return 0;
    size_t tlen = (size_t)(cut - s);
    json_t *target = json_loadb(s, tlen, JSON_DECODE_ANY, NULL);
    json_t *patch = json_loadb(cut + 1, size - tlen - 1, JSON_DECODE_ANY, NULL);
    if (target && patch) {
        json_t *t0 = json_deep_copy(target), *p0 = json_deep_copy(patch);
        json_t *once = json_merge_patch(target, patch);
        if (!once) __builtin_trap();
        /* the inputs are left alone */
        if (!json_equal(target, t0) || !json_equal(patch, p0)) __builtin_trap();
        /* RFC 7396 patches are idempotent */
        json_t *twice = json_merge_patch(once, patch);
        if (!json_equal(once, twice)) __builtin_trap();
        /* so is applying to an absent target like applying to a non-object one */
        json_t *absent = json_merge_patch(NULL, patch), *num = json_integer(7);
        json_t *on_num = json_merge_patch(num, patch);
        if (!json_equal(absent, on_num)) __builtin_trap();
        /* the diff from target to the result reproduces the result */
        json_t *d = json_merge_diff(target, once);
        json_t *back = d ? json_merge_patch(target, d) : json_incref(target);
        if (!json_equal(back, once)) __builtin_trap();
        /* merging never nests deeper than its inputs */
        int dt = json_depth(target, 4096), dp = json_depth(patch, 4096);
        if (json_depth_exceeds(once, dt > dp ? dt : dp)) __builtin_trap();
        /* the object convenience agrees with the plain function */
        json_t *obj = json_is_object(target) ? json_deep_copy(target) : NULL;
        int rc = json_merge_patch_object(&obj, patch);
        if (rc != (json_is_object(patch) ? 0 : -1)) __builtin_trap();
        if (rc == 0 && !json_equal(obj, once)) __builtin_trap();
        json_decref(obj);
        json_decref(d);
        json_decref(back);
        json_decref(absent);
        json_decref(num);
        json_decref(on_num);
        json_decref(twice);
        json_decref(once);
        json_decref(t0);
        json_decref(p0);
    }
    json_decref(target);
    json_decref(patch);
    return 0;
}
