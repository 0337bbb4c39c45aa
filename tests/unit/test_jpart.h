/* test_jpart.h: payload parts (util/jpart.h) read back in a unit test: the members they
 * make, decoded into one object as the frame would hold them. Static inline functions
 * only: each test file is its own program. */
#ifndef CHORUS_TEST_JPART_H
#define CHORUS_TEST_JPART_H

#include <stddef.h>

#include <jansson.h>

#include "util/jpart.h"

/* Adds the members of parts[0..n) to o (borrowed): an object part's members as they are,
 * a text part or a list of texts decoded under its key. Returns how many parts were
 * handed as encoded text (a member's kept encoding). */
static inline int test_jpart_add(json_t *o, const jpart_t *parts, size_t n)
{
    int text_parts = 0;
    for (size_t i = 0; i < n; i++) {
        const jpart_t *p = &parts[i];
        if (p->obj) {
            json_object_update(o, (json_t *)p->obj);
        } else if (p->text) {
            json_object_set_new(o, p->key, json_loads(p->text, JSON_DECODE_ANY, NULL));
            text_parts++;
        } else {
            json_t *a = json_array();
            for (size_t k = 0; k < p->n; k++)
                json_array_append_new(a, json_loads(p->items[k], JSON_DECODE_ANY, NULL));
            json_object_set_new(o, p->key, a);
            text_parts++;
        }
    }
    return text_parts;
}

#endif
