/* test_presence_text.c: the presence replies written from the texts the members keep
 * (room_presence_text, rooms.c: server.presence's list and presence_subscribe's map, no
 * tree) against the Jansson trees they replaced (the old home_server.c and
 * home_participants.c code, kept here as the reference): for a corpus of members (state
 * {} of one who never sent presence, the shared {"idle":true} constant, an idle member
 * with a state, a change held back so what the room saw differs from the state, typing,
 * escapes, control characters, unicode in ids, names, keys and values) and for thousands
 * of generated ones, byte for byte the same, and *len its length. A user named twice in a
 * presence_subscribe is written once, where first named, as the tree's object kept it. */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "domain/rooms.h"
#include "util/mem.h"

#include "gen_text.h"

/* A member record as rooms_member_add lays it out (user id then name after the record),
 * with presence {} at time 1. */
static room_member_t *member_new(const char *id, const char *name)
{
    size_t il = strlen(id), nl = strlen(name);
    room_member_t *m = ch_calloc(1, sizeof(*m) + il + nl + 2);
    memcpy(m->user_id, id, il + 1);
    m->display_name = m->user_id + il + 1;
    memcpy(m->display_name, name, nl + 1);
    presence_init(&m->presence, 1);
    m->online = 1;
    return m;
}

static void member_free(room_member_t *m)
{
    presence_free(&m->presence);
    free(m);
}

/* Applies patch (stolen, an object) at now. */
static void patch(room_member_t *m, json_t *p, uint64_t now)
{
    presence_rules_t rules = PRESENCE_RULES_DEFAULT;
    json_t *emit = NULL;
    ASSERT_EQ(presence_update(&m->presence, p, now, &rules, &emit), 0);
    json_decref(emit);
    json_decref(p);
}

/* Runs m's presence timers at now (typing expiry, idle). */
static void tick(room_member_t *m, uint64_t now)
{
    presence_rules_t rules = PRESENCE_RULES_DEFAULT;
    json_decref(presence_tick(&m->presence, now, &rules));
}

/* server.presence as it was built: [{userId, displayName, state}] from each state's tree. */
static json_t *list_tree(room_member_t *const *list, size_t n)
{
    json_t *a = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(a, json_pack("{s:s, s:s, s:o}", "userId", list[i]->user_id,
                                           "displayName", list[i]->display_name, "state",
                                           presence_state_json(&list[i]->presence)));
    return a;
}

/* presence_subscribe as it was built: {userId: what the room saw}, every listed user set
 * in turn (duplicates included). */
static json_t *map_tree(room_member_t *const *list, size_t n)
{
    json_t *o = json_object();
    for (size_t i = 0; i < n; i++)
        json_object_set_new(o, list[i]->user_id,
                            json_loads(presence_sent_text(&list[i]->presence, NULL),
                                       JSON_ALLOW_NUL, NULL));
    return o;
}

/* The distinct members of list[0..n), first occurrence kept, into out. */
static size_t distinct(room_member_t *const *list, size_t n, room_member_t **out)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        size_t j = 0;
        while (j < k && strcmp(out[j]->user_id, list[i]->user_id) != 0)
            j++;
        if (j == k) out[k++] = list[i];
    }
    return k;
}

/* Both replies of list[0..n) (named as a presence_subscribe names them: maybe twice). */
static int same_as_trees(room_member_t *const *list, size_t n)
{
    room_member_t **d = ch_malloc((n ? n : 1) * sizeof(*d));
    size_t k = distinct(list, n, d), len = 0;
    char *text = room_presence_text(d, k, 1, &len);
    int ok = gen_same_as_tree(text, len, list_tree(d, k));
    text = room_presence_text(d, k, 0, &len);
    ok = gen_same_as_tree(text, len, map_tree(list, n)) && ok;
    free(d);
    return ok;
}

static void test_corpus(void)
{
    static const char *const texts[] = {
        "",          "alice",         "say \"hi\"",   "back\\slash",    "tab\there",
        "new\nline", "\x01\x02\x1f", "caf\xc3\xa9", "\xe2\x80\xa8 sep", "emoji \xf0\x9f\x8e\x89",
        "a/b </script>", "\x7f del",
    };
    size_t nt = CH_ARRAY_LEN(texts);
    room_member_t *ms[CH_ARRAY_LEN(texts) + 1];
    for (size_t i = 0; i < nt; i++)
        ms[i] = member_new(texts[i][0] ? texts[i] : "u0", texts[nt - 1 - i]);
    /* 0: never sent presence ({}); 1: the shared idle constant; 2: a state, then idle; 3: a
     * change held back (the room saw the first); 4: typing, then expired; the rest a
     * state with every text as key and value, nesting and numbers. */
    tick(ms[1], 60002);
    ASSERT_STREQ(presence_state_text(&ms[1]->presence, NULL), "{\"idle\":true}");
    patch(ms[2], json_pack("{s:{s:i, s:i}}", "cursor", "x", 3, "y", -4), 10);
    tick(ms[2], 60020);
    patch(ms[3], json_pack("{s:s}", "status", "first"), 10);
    patch(ms[3], json_pack("{s:s, s:n}", "status", "second \"held\"", "gone"), 11);
    ASSERT_TRUE(ms[3]->presence.pending != NULL);
    ASSERT_TRUE(strcmp(presence_sent_text(&ms[3]->presence, NULL),
                       presence_state_text(&ms[3]->presence, NULL)) != 0);
    patch(ms[4], json_pack("{s:b}", "typing", 1), 10);
    tick(ms[4], 6000);
    for (size_t i = 5; i < nt; i++)
        patch(ms[i],
              json_pack("{s:s, s:[i, f, b, n], s:{s:s}}", texts[i], texts[nt - 1 - i], "sel",
                        -3, 0.1, 1, "nested", texts[i], texts[(i + 3) % nt]),
              10);
    ASSERT_TRUE(same_as_trees(ms, 0));
    for (size_t i = 0; i < nt; i++)
        ASSERT_TRUE(same_as_trees(&ms[i], 1));
    ASSERT_TRUE(same_as_trees(ms, nt));
    /* Named twice (a presence_subscribe may name a user more than once). */
    room_member_t *twice[] = {ms[3], ms[1], ms[3], ms[0], ms[1]};
    ASSERT_TRUE(same_as_trees(twice, CH_ARRAY_LEN(twice)));
    for (size_t i = 0; i < nt; i++)
        member_free(ms[i]);
}

static void test_generated(void)
{
    unsigned seed = 26;
    enum { N = 40 };
    for (int round = 0; round < 300; round++) {
        room_member_t *ms[N], *named[2 * N];
        size_t n = (size_t)(rand_r(&seed) % N), nn = 0;
        for (size_t i = 0; i < n; i++) {
            char id[48], name[48], k[32], v[32];
            gen_text(id, sizeof(id), &seed);
            size_t il = strlen(id);
            snprintf(id + il, sizeof(id) - il, "#%zu", i); /* distinct ids */
            gen_text(name, sizeof(name), &seed);
            ms[i] = member_new(id, name);
            uint64_t now = 10;
            switch (rand_r(&seed) % 5) {
            case 0: break; /* {} */
            case 1: tick(ms[i], 60002); break; /* the idle constant */
            default:
                for (int c = rand_r(&seed) % 4; c >= 0; c--) {
                    gen_text(k, sizeof(k), &seed);
                    gen_text(v, sizeof(v), &seed);
                    json_t *p = json_object();
                    json_object_set_new(p, k, rand_r(&seed) % 3 ? json_string(v)
                                                                 : json_integer(gen_int(&seed)));
                    if (rand_r(&seed) % 4 == 0) json_object_set_new(p, "typing", json_true());
                    patch(ms[i], p, now++); /* the second within 50 ms is held */
                }
                if (rand_r(&seed) % 3 == 0) tick(ms[i], 60100);
            }
            named[nn++] = ms[i];
            if (rand_r(&seed) % 5 == 0) named[nn++] = ms[rand_r(&seed) % (int)(i + 1)];
        }
        if (!same_as_trees(named, nn)) {
            fprintf(stderr, "  generated round %d\n", round);
            ASSERT_TRUE(0);
        }
        for (size_t i = 0; i < n; i++)
            member_free(ms[i]);
    }
}

int main(void)
{
    RUN(test_corpus);
    RUN(test_generated);
    TEST_MAIN_END();
}
