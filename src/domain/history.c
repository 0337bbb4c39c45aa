/* history.c: rebuilding a room (state, entities) and its documents at an earlier moment
 * from a base and the changes after it (history.h). */
#include "domain/history.h"

#include <stdlib.h>
#include <string.h>

#include "domain/ot_text.h"
#include "util/mem.h"

void history_init(history_room_t *h)
{
    h->version = 0;
    h->time = 0;
    h->state = json_object();
    h->entities = json_object();
}

void history_free(history_room_t *h)
{
    json_decref(h->state);
    json_decref(h->entities);
    h->state = h->entities = NULL;
}

json_t *history_entity_json(const store_entity_t *e)
{
    json_t *data = json_loads(e->data ? e->data : "{}", 0, NULL);
    if (!json_is_object(data)) {
        json_decref(data);
        return NULL;
    }
    json_t *j =
        json_pack("{s:s, s:s, s:o, s:s, s:I, s:I, s:I, s:I}", "id", e->id, "kind", e->kind,
                  "data", data, "owner", e->owner, "version", (json_int_t)e->version,
                  "stateVersion", (json_int_t)e->state_version, "createdAt",
                  (json_int_t)e->created_at, "updatedAt", (json_int_t)e->updated_at);
    if (e->owner_only) json_object_set_new(j, "ownerOnly", json_true());
    return j;
}

int history_apply(history_room_t *h, const history_change_t *c)
{
    if (c->version <= h->version) return 0;
    h->version = c->version;
    h->time = c->at;
    switch (c->change) {
    case HISTORY_STATE: {
        json_t *st = json_loads(c->state ? c->state : "{}", 0, NULL);
        if (!json_is_object(st)) {
            json_decref(st);
            return -1;
        }
        json_decref(h->state);
        h->state = st;
        return 0;
    }
    case HISTORY_PUT: {
        json_t *e = history_entity_json(c->ent);
        if (!e) return -1;
        json_object_set_new(h->entities, c->ent->id, e);
        return 0;
    }
    case HISTORY_DELETE:
        json_object_del(h->entities, c->ent->id);
        return 0;
    default:
        return -1;
    }
}

long history_replay(history_room_t *h, const history_change_t *cs, size_t n, int64_t upto)
{
    size_t i = 0;
    for (; i < n && cs[i].version <= upto; i++)
        if (history_apply(h, &cs[i]) != 0) return -1;
    return (long)i;
}

static int by_key(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

json_t *history_entities_json(const history_room_t *h)
{
    size_t n = json_object_size(h->entities);
    json_t *arr = json_array();
    if (n == 0) return arr;
    const char **keys = ch_malloc(n * sizeof(*keys));
    size_t k = 0;
    const char *key;
    json_t *v;
    json_object_foreach(h->entities, key, v)
    {
        keys[k++] = key;
    }
    qsort(keys, k, sizeof(*keys), by_key);
    for (size_t i = 0; i < k; i++)
        json_array_append(arr, json_object_get(h->entities, keys[i]));
    free(keys);
    return arr;
}

int history_doc_at(const char *base, int64_t base_version, const store_doc_op_t *ops, size_t n,
                   int64_t at, char **text, int64_t *version)
{
    ot_buf_t cur, next;
    ot_buf_init(&cur);
    ot_buf_init(&next);
    *text = NULL;
    int rc = ot_buf_set(&cur, base ? base : "", base ? strlen(base) : 0) == 0 ? 0 : -1;
    int64_t v = base_version;
    ot_op_t op;
    ot_op_init(&op);
    for (size_t i = 0; rc == 0 && i < n && ops[i].created_at <= at; i++) {
        if (ops[i].version <= v) continue; /* in the base already */
        if (ops[i].version != v + 1) {     /* a gap: trimmed by retention */
            rc = -1;
            break;
        }
        json_t *j = json_loads(ops[i].delta ? ops[i].delta : "", JSON_DECODE_ANY, NULL);
        const char *why = NULL;
        /* Stored ops were checked when they were applied: no component cap is needed. */
        rc = j && ot_op_from_json(&op, j, (size_t)-1, &why) == 0 ? 0 : -1;
        json_decref(j);
        if (rc == 0)
            rc = ot_apply(&next, cur.s ? cur.s : "", cur.len, cur.cp, &op) == 0 ? 0 : -1;
        if (rc == 0) {
            ot_buf_swap(&cur, &next);
            v = ops[i].version;
        }
    }
    ot_op_free(&op);
    ot_buf_free(&next);
    if (rc == 0) {
        *text = ch_strdup(cur.s ? cur.s : "");
        *version = v;
    }
    ot_buf_free(&cur);
    return rc;
}
