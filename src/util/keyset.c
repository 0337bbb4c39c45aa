/* keyset.c: a hash set of records keyed by a string they hold (see keyset.h). */
#include "util/keyset.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/mem.h"

/* FNV-1a over the key (folded to lower case when s folds), mixed with the seed and
 * finished with splitmix64's avalanche, as strmap.c hashes. */
static size_t hash(const keyset_t *s, const char *k)
{
    uint64_t h = 14695981039346656037ULL ^ s->seed;
    for (; *k; k++) {
        unsigned char c = (unsigned char)*k;
        if (s->fold && c >= 'A' && c <= 'Z') c = (unsigned char)(c + 'a' - 'A');
        h = (h ^ c) * 1099511628211ULL;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return (size_t)h;
}

static int same(const keyset_t *s, const char *a, const char *b)
{
    return s->fold ? strcasecmp(a, b) == 0 : strcmp(a, b) == 0;
}

void keyset_init(keyset_t *s, keyset_key_fn key, int fold, uint64_t seed)
{
    memset(s, 0, sizeof(*s));
    s->key = key;
    s->fold = fold;
    s->seed = seed;
}

void keyset_free(keyset_t *s)
{
    free(s->slots);
    s->slots = NULL;
    s->cap = s->count = 0;
}

/* Puts item in the first free slot of its probe run (s has room). */
static void place(keyset_t *s, void *item)
{
    size_t mask = s->cap - 1;
    size_t i = hash(s, s->key(item)) & mask;
    while (s->slots[i])
        i = (i + 1) & mask;
    s->slots[i] = item;
}

void keyset_add(keyset_t *s, void *item)
{
    CH_ASSERT(item != NULL);
    if ((s->count + 1) * 4 > s->cap * 3) { /* load at most 3/4 */
        void **old = s->slots;
        size_t ocap = s->cap;
        s->cap = ocap ? ocap * 2 : 8;
        s->slots = ch_calloc(s->cap, sizeof(*s->slots));
        for (size_t i = 0; i < ocap; i++)
            if (old[i]) place(s, old[i]);
        free(old);
    }
    place(s, item);
    s->count++;
}

int keyset_del(keyset_t *s, const void *item)
{
    if (!s->cap) return -1;
    size_t mask = s->cap - 1;
    size_t i = hash(s, s->key(item)) & mask;
    while (s->slots[i] && s->slots[i] != item)
        i = (i + 1) & mask;
    if (!s->slots[i]) return -1;
    s->slots[i] = NULL;
    s->count--;
    /* Backward shift: moves each later record of the run into the hole when the hole lies
     * between its home slot and where it is, so no lookup stops early at the hole. */
    for (size_t j = (i + 1) & mask; s->slots[j]; j = (j + 1) & mask) {
        size_t home = hash(s, s->key(s->slots[j])) & mask;
        if (((j - home) & mask) >= ((j - i) & mask)) {
            s->slots[i] = s->slots[j];
            s->slots[j] = NULL;
            i = j;
        }
    }
    return 0;
}

void *keyset_next(const keyset_t *s, const char *key, size_t *pos)
{
    if (!s->cap) return NULL;
    size_t mask = s->cap - 1;
    /* *pos counts the slots of the run already looked at, from the key's home slot. */
    size_t home = hash(s, key) & mask;
    while (*pos <= mask) {
        void *it = s->slots[(home + *pos) & mask];
        if (!it) return NULL;
        (*pos)++;
        if (same(s, s->key(it), key)) return it;
    }
    return NULL;
}

void *keyset_get(const keyset_t *s, const char *key)
{
    size_t pos = 0;
    return keyset_next(s, key, &pos);
}
