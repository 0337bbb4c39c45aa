/* jscan_agree.h: the differential check of the envelope scanner against Jansson, shared
 * by test_jscan.c and fuzz/fuzz_jscan.c. */
#ifndef CHORUS_TEST_JSCAN_AGREE_H
#define CHORUS_TEST_JSCAN_AGREE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "util/jscan.h"

#define JSCAN_AGREE_FLAGS (JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL)

static int jscan_type_of(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return JSCAN_OBJECT;
    case JSON_ARRAY:
        return JSCAN_ARRAY;
    case JSON_STRING:
        return JSCAN_STRING;
    case JSON_INTEGER:
        return JSCAN_INT;
    case JSON_REAL:
        return JSCAN_REAL;
    case JSON_TRUE:
        return JSCAN_TRUE;
    case JSON_FALSE:
        return JSCAN_FALSE;
    default:
        return JSCAN_NULL;
    }
}

/* Checks that jscan_parse (with flags) and Jansson agree on the len bytes at buf (valid
 * UTF-8): both accept or both refuse (JSCAN_EUNSURE agrees with anything), the same
 * type, the same members in order with equal values, and a value is canonical exactly when
 * Jansson writes it back byte for byte. Returns 0, or -1 with why (cap bytes) filled.
 * *rc_out gets jscan_parse's result. */
static int jscan_agree(const char *buf, size_t len, unsigned flags, int *rc_out, char *why,
                       size_t cap)
{
    jscan_t s;
    int rc = jscan_parse(&s, buf, len, flags);
    *rc_out = rc;
    json_error_t jerr;
    json_t *root = json_loadb(buf, len, JSCAN_AGREE_FLAGS, &jerr);
    int bad = 0;
    if (rc == JSCAN_EUNSURE) goto done;
    if (rc == JSCAN_EINVALID || !root) {
        if (!!root != (rc == 0)) {
            snprintf(why, cap, "scanner %d, jansson %s", rc, root ? "accepts" : jerr.text);
            bad = 1;
        }
        goto done;
    }
    if (rc != 0 || s.type != jscan_type_of(root)) {
        snprintf(why, cap, "scanner type %d, jansson %d", s.type, jscan_type_of(root));
        bad = 1;
        goto done;
    }
    if (s.type != JSCAN_OBJECT) goto done;
    if (s.n != json_object_size(root)) {
        snprintf(why, cap, "%zu members, jansson %zu", s.n, json_object_size(root));
        bad = 1;
        goto done;
    }
    {
        size_t i = 0;
        const char *key;
        json_t *v;
        json_object_foreach(root, key, v)
        {
            const jscan_member_t *m = &s.m[i++];
            /* An escaped key (trusted text only) compares decoded. */
            jscan_member_t km = {
                .val = m->key - 1, .val_len = m->key_len + 2, .type = JSCAN_STRING};
            char *kbuf = malloc(m->key_len + 1);
            int kn = jscan_string(&km, kbuf, m->key_len + 1);
            int same_key =
                kn >= 0 && strlen(key) == (size_t)kn && memcmp(key, kbuf, (size_t)kn) == 0;
            free(kbuf);
            if (!same_key) {
                snprintf(why, cap, "member %zu: key \"%s\"", i - 1, key);
                bad = 1;
                break;
            }
            json_t *mv = json_loadb(m->val, m->val_len, JSCAN_AGREE_FLAGS, &jerr);
            char *dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
            int same =
                dump && strlen(dump) == m->val_len && memcmp(dump, m->val, m->val_len) == 0;
            if (!mv || !json_equal(mv, v) || m->type != jscan_type_of(v) ||
                same != m->canonical) {
                snprintf(why, cap,
                         "member \"%s\": value %.*s (type %d canonical %d), jansson %s", key,
                         (int)(m->val_len > 200 ? 200 : m->val_len), m->val, m->type,
                         m->canonical, dump ? dump : "?");
                bad = 1;
            }
            if (!bad && m->type == JSCAN_STRING) {
                char *out = malloc(m->val_len + 1);
                int n = jscan_string(m, out, m->val_len + 1);
                if (n < 0 || (size_t)n != json_string_length(v) ||
                    memcmp(out, json_string_value(v), (size_t)n) != 0) {
                    snprintf(why, cap, "member \"%s\": decoded differently", key);
                    bad = 1;
                }
                free(out);
            }
            if (!bad && m->type == JSCAN_INT && jscan_int(m) != json_integer_value(v)) {
                snprintf(why, cap, "member \"%s\": integer differs", key);
                bad = 1;
            }
            json_decref(mv);
            free(dump);
            if (bad) break;
        }
    }
done:
    json_decref(root);
    return bad ? -1 : 0;
}

#endif
