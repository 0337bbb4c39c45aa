/* test_history.c: rebuilding a room at an earlier moment (history.c): a randomized history
 * (seeded) of entities created, patched, deleted and locked, room state patched and a
 * document edited, driven through the real rules (entity_set.c, json_patch.c, ot_text.c);
 * the room recorded after every change equals the rebuild at that version, from the
 * start and from a compacted base (the latest change of each key at a version, as the
 * store keeps it), and the document at every time equals its text then. */
#include "test.h"

#include "domain/entity_set.h"
#include "domain/history.h"
#include "domain/ot_text.h"
#include "util/json_patch.h"
#include "util/mem.h"

#define STEPS 600
#define MAX_ENTS 12

static int rnd(unsigned *seed, int n)
{
    *seed = *seed * 1103515245u + 12345u;
    return (int)((*seed >> 16) % (unsigned)n);
}

/* The room recorded at one version: what a client saw (locks are not stored: left out). */
typedef struct {
    json_t *state;
    json_t *ents; /* id -> entity JSON */
} rec_t;

static json_t *ents_now(const entity_set_t *s)
{
    json_t *all = entset_json(s), *by = json_object(), *e;
    size_t i;
    json_array_foreach(all, i, e)
    {
        json_t *c = json_deep_copy(e);
        json_object_del(c, "lock");
        json_object_set_new(by, json_string_value(json_object_get(c, "id")), c);
    }
    json_decref(all);
    return by;
}

/* The change the store logs for e as written at its state version (entities.c). */
static store_entity_t *row_of(const entity_t *e)
{
    store_entity_t *r = ch_calloc(1, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", e->id);
    snprintf(r->kind, sizeof(r->kind), "%s", e->kind);
    snprintf(r->owner, sizeof(r->owner), "%s", e->owner);
    r->data = json_dumps(e->data, JSON_COMPACT);
    r->version = e->version;
    r->state_version = e->state_version;
    r->created_at = e->created_at;
    r->updated_at = e->updated_at;
    r->owner_only = e->owner_only;
    return r;
}

static int same(const json_t *got, const json_t *want, const char *what, int64_t v)
{
    if (json_equal(got, want)) return 1;
    char *g = json_dumps(got, JSON_COMPACT | JSON_SORT_KEYS);
    char *w = json_dumps(want, JSON_COMPACT | JSON_SORT_KEYS);
    fprintf(stderr, "  %s at version %lld:\n    got  %s\n    want %s\n", what, (long long)v, g,
            w);
    free(g);
    free(w);
    return 0;
}

/* Rebuilds from h (holding a base) with changes after it up to v and compares. */
static int check_at(history_room_t *h, const history_change_t *cs, size_t n, int64_t v,
                    const rec_t *rec)
{
    if (history_replay(h, cs, n, v) < 0) return 0;
    json_t *arr = history_entities_json(h);
    int sized = json_array_size(arr) == json_object_size(rec->ents);
    json_decref(arr);
    return sized && same(h->state, rec->state, "state", v) &&
           same(h->entities, rec->ents, "entities", v);
}

static void test_rebuild_randomized(void)
{
    unsigned seed = 2025;
#define RND(n) rnd(&seed, (n))
    entity_limits_t lim = ENTITY_LIMITS_DEFAULT;
    entity_set_t s;
    entset_init(&s, 7, 0);
    json_t *state = json_object();
    rec_t *rec = ch_calloc(STEPS + 1, sizeof(*rec));
    history_change_t *cs = ch_calloc(STEPS, sizeof(*cs));
    char **texts = ch_calloc(STEPS, sizeof(*texts));
    store_entity_t **rows = ch_calloc(STEPS, sizeof(*rows));
    size_t ncs = 0;
    /* The document: its op log (as stored) and its text after each version. */
    store_doc_op_t *ops = ch_calloc(STEPS, sizeof(*ops));
    char **doc_at = ch_calloc(STEPS + 1, sizeof(*doc_at));
    size_t nops = 0;
    ot_buf_t doc;
    ot_buf_init(&doc);
    doc_at[0] = ch_strdup("");
    int64_t v = 0, t = 1000;
    rec[0].state = json_deep_copy(state);
    rec[0].ents = ents_now(&s);
    int counts[6] = {0};
    for (int step = 0; step < STEPS; step++) {
        t += 1 + RND(3);
        int what = RND(6);
        entity_t *e = NULL;
        if (s.count) { /* a random entity */
            char id[16];
            for (int k = 0; !e && k < 64; k++) {
                snprintf(id, sizeof(id), "e%d", RND(MAX_ENTS));
                e = entset_get(&s, id);
            }
        }
        history_change_t *c = &cs[ncs];
        if (what == 0 || (!e && what <= 3)) { /* create */
            char id[16], data[64];
            snprintf(id, sizeof(id), "e%d", RND(MAX_ENTS));
            if (entset_get(&s, id)) continue;
            snprintf(data, sizeof(data), "{\"x\":%d,\"c\":\"\u2713\"}", RND(100));
            json_t *d = json_loads(data, 0, NULL);
            entity_t *out;
            ASSERT_EQ(entset_create(&s, &lim, id, "star", "u1", d, v + 1, t, &out), ENT_OK);
            json_decref(d);
            out->owner_only = RND(2);
            rows[ncs] = row_of(out);
            *c = (history_change_t){HISTORY_PUT, v + 1, t, NULL, rows[ncs]};
        } else if (what == 1) { /* patch */
            char p[64];
            snprintf(p, sizeof(p), "{\"x\":%d,\"y\":%s}", RND(100),
                     RND(2) ? "null" : "{\"z\":[1,2]}");
            json_t *patch = json_loads(p, 0, NULL);
            ASSERT_EQ(entset_update(&s, &lim, e, patch, -1, v + 1, t), ENT_OK);
            json_decref(patch);
            rows[ncs] = row_of(e);
            *c = (history_change_t){HISTORY_PUT, v + 1, t, NULL, rows[ncs]};
        } else if (what == 2) { /* delete */
            rows[ncs] = row_of(e);
            entset_remove(&s, &lim, e, v + 1);
            entity_free(e);
            *c = (history_change_t){HISTORY_DELETE, v + 1, t, NULL, rows[ncs]};
        } else if (what == 3) { /* lock: not stored, no version */
            entity_lock(e, 1, "u1", "U", 30000, (uint64_t)t, t);
            counts[3]++;
            continue;
        } else if (what == 4) { /* the room's state */
            char p[64];
            snprintf(p, sizeof(p), "{\"k%d\":%s}", RND(5), RND(3) ? "\"on\"" : "null");
            json_t *patch = json_loads(p, 0, NULL);
            ASSERT_EQ(json_merge_patch_object(&state, patch), 0);
            json_decref(patch);
            texts[ncs] = json_dumps(state, JSON_COMPACT);
            *c = (history_change_t){HISTORY_STATE, v + 1, t, texts[ncs], NULL};
        } else { /* a document op: its own versions and times */
            ot_op_t op;
            ot_op_init(&op);
            size_t at = doc.cp ? (size_t)RND((int)doc.cp + 1) : 0;
            if (at) ot_op_push_skip(&op, at);
            if (doc.cp > at && RND(3) == 0)
                ot_op_push_delete(&op, 1 + (uint64_t)RND((int)(doc.cp - at)));
            else {
                const char *ins = RND(2) ? "ab" : "\u00e9\u2713";
                ot_op_push_insert(&op, ins, strlen(ins));
            }
            ot_buf_t next;
            ot_buf_init(&next);
            ASSERT_EQ(ot_apply(&next, doc.s ? doc.s : "", doc.len, doc.cp, &op), 0);
            ot_buf_swap(&doc, &next);
            ot_buf_free(&next);
            store_doc_op_t *o = &ops[nops++];
            o->version = (int64_t)nops;
            o->created_at = t;
            size_t dlen;
            o->delta = ot_op_to_text(&op, &dlen);
            doc_at[nops] = ch_strdup(doc.s ? doc.s : "");
            ot_op_free(&op);
            counts[5]++;
            continue;
        }
        counts[what]++;
        ncs++;
        v++;
        rec[v].state = json_deep_copy(state);
        rec[v].ents = ents_now(&s);
    }
    /* Every kind of change happened. */
    for (int k = 0; k < 6; k++)
        ASSERT_TRUE(counts[k] > 5);

    /* From the start, at every version. */
    for (int64_t at = 0; at <= v; at++) {
        history_room_t h;
        history_init(&h);
        ASSERT_TRUE(check_at(&h, cs, ncs, at, &rec[at]));
        ASSERT_EQ(h.version, at);
        history_free(&h);
        if (test_failures) break;
    }
    /* From a compacted base b: the latest change of each key at or below b (deletions
     * left out), then the changes after b. */
    for (int trial = 0; trial < 20 && !test_failures; trial++) {
        int64_t b = RND((int)v + 1);
        history_change_t *base = ch_calloc(ncs, sizeof(*base));
        size_t nb = 0;
        for (size_t i = 0; i < ncs && cs[i].version <= b; i++) {
            const char *key = cs[i].change == HISTORY_STATE ? "" : cs[i].ent->id;
            int later = 0;
            for (size_t j = i + 1; j < ncs && cs[j].version <= b; j++)
                later |= strcmp(cs[j].change == HISTORY_STATE ? "" : cs[j].ent->id, key) == 0;
            if (!later && cs[i].change != HISTORY_DELETE) base[nb++] = cs[i];
        }
        for (int64_t at = b; at <= v && !test_failures; at += 1 + RND(7)) {
            history_room_t h;
            history_init(&h);
            ASSERT_TRUE(history_replay(&h, base, nb, b) == (long)nb);
            h.version = b;
            size_t first = 0;
            while (first < ncs && cs[first].version <= b)
                first++;
            ASSERT_TRUE(check_at(&h, cs + first, ncs - first, at, &rec[at]));
            history_free(&h);
        }
        free(base);
    }
    /* The document at the time of each of its versions, from the start and from a base. */
    for (size_t k = 1; k <= nops && !test_failures; k++) {
        char *text = NULL;
        int64_t dv = -1;
        ASSERT_EQ(history_doc_at("", 0, ops, nops, ops[k - 1].created_at, &text, &dv), 0);
        ASSERT_EQ(dv, (int64_t)k);
        ASSERT_STREQ(text ? text : "(null)", doc_at[k]);
        free(text);
        size_t b = (size_t)RND((int)k);
        ASSERT_EQ(
            history_doc_at(doc_at[b], (int64_t)b, ops, nops, ops[k - 1].created_at, &text, &dv),
            0);
        ASSERT_STREQ(text ? text : "(null)", doc_at[k]);
        free(text);
    }
    /* Before the first op: the empty document; a gap after the base: refused. */
    char *text = NULL;
    int64_t dv = -1;
    ASSERT_EQ(history_doc_at("", 0, ops, nops, 0, &text, &dv), 0);
    ASSERT_STREQ(text, "");
    ASSERT_EQ(dv, 0);
    free(text);
    ASSERT_EQ(history_doc_at("", 0, ops + 1, nops - 1, t, &text, &dv), -1);
    ASSERT_TRUE(text == NULL);

    for (int64_t i = 0; i <= v; i++) {
        json_decref(rec[i].state);
        json_decref(rec[i].ents);
    }
    for (size_t i = 0; i < ncs; i++) {
        free(texts[i]);
        if (rows[i]) free(rows[i]->data);
        free(rows[i]);
    }
    for (size_t i = 0; i < nops; i++)
        free(ops[i].delta);
    for (size_t i = 0; i <= nops; i++)
        free(doc_at[i]);
    free(doc_at);
    free(ops);
    free(rec);
    free(cs);
    free(texts);
    free(rows);
    ot_buf_free(&doc);
    json_decref(state);
    /* Entities left hold locks: entset_free frees them. */
    entset_free(&s);
#undef RND
}

/* Bad stored text is refused, not trusted. */
static void test_bad_rows(void)
{
    history_room_t h;
    history_init(&h);
    history_change_t c = {HISTORY_STATE, 1, 10, "[1]", NULL};
    ASSERT_EQ(history_apply(&h, &c), -1);
    store_entity_t e = {0};
    snprintf(e.id, sizeof(e.id), "a");
    e.data = "not json";
    c = (history_change_t){HISTORY_PUT, 2, 20, NULL, &e};
    ASSERT_EQ(history_apply(&h, &c), -1);
    ASSERT_EQ((long)json_object_size(h.entities), 0);
    /* An older change than the room holds is ignored. */
    e.data = "{}";
    c.version = 1;
    ASSERT_EQ(history_apply(&h, &c), 0);
    ASSERT_EQ((long)json_object_size(h.entities), 0);
    history_free(&h);
    store_doc_op_t op = {0};
    op.version = 1;
    op.delta = "[5, \"x\"]"; /* a skip past the end */
    char *text = NULL;
    int64_t dv;
    ASSERT_EQ(history_doc_at("", 0, &op, 1, 100, &text, &dv), -1);
    op.delta = "{";
    ASSERT_EQ(history_doc_at("", 0, &op, 1, 100, &text, &dv), -1);
}

int main(void)
{
    RUN(test_rebuild_randomized);
    RUN(test_bad_rows);
    TEST_MAIN_END();
}
