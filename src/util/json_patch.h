/* json_patch.h: RFC 7396 JSON Merge Patch (apply and diff) and a nesting-depth guard. */
#ifndef CHORUS_JSON_PATCH_H
#define CHORUS_JSON_PATCH_H

#include <jansson.h>

/* Returns a new reference: target (borrowed, may be NULL = absent) with patch (borrowed)
 * applied per RFC 7396 section 2. Never modifies its arguments; the result shares no
 * values with them (everything it holds is a fresh copy). Never returns NULL (allocation
 * failure aborts). Recursion follows the patch's depth: callers bound it (jansson's parser
 * caps it at 2048; json_depth_exceeds for tighter limits). */
json_t *json_merge_patch(const json_t *target, const json_t *patch);

/* Applies patch (borrowed) to *obj (owned object, or NULL = absent). On success *obj is
 * released and replaced by the new object and 0 is returned; when the result would not be
 * a JSON object (patch is not an object) returns -1 and leaves *obj untouched. */
int json_merge_patch_object(json_t **obj, const json_t *patch);

/* Returns 1 when the nesting depth of v (borrowed; scalars 0, [] or {} 1, [[]] 2, ...)
 * is greater than max, else 0. Stops descending once past max, so the work and stack
 * used are bounded by max whatever v holds. */
int json_depth_exceeds(const json_t *v, int max);

/* Returns the depth of v (borrowed) as above, or max + 1 when it is deeper than max
 * (stops early, so the cost is bounded by max). */
int json_depth(const json_t *v, int max);

/* Returns a new reference: a merge patch P with json_merge_patch(from, P) equal to to,
 * or NULL when from and to are already equal (json_equal). Borrows both (neither NULL);
 * the result shares no values with them. Exact whenever to holds no object member whose
 * value is null (a merge patch cannot create one; states built by json_merge_patch never
 * do, except inside arrays, which are copied whole). */
json_t *json_merge_diff(const json_t *from, const json_t *to);

#endif
