/* strmap.c: string-keyed open-addressing hash map (see strmap.h). */
#include "util/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

/* FNV-1a over the key, mixed with the seed and finished with a 64-bit avalanche
 * (splitmix64) so the low bits used for the slot depend on every byte. */
static size_t hash(const strmap_t *m, const char *k)
{
    uint64_t h = 14695981039346656037ULL ^ m->seed;
    for (; *k; k++) h = (h ^ (unsigned char)*k) * 1099511628211ULL;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ULL;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebULL;
    h ^= h >> 31;
    return (size_t)h;
}

void strmap_init(strmap_t *m, uint64_t seed)
{
    memset(m, 0, sizeof(*m));
    m->seed = seed;
}

void strmap_free(strmap_t *m)
{
    free(m->keys);
    free(m->vals);
    m->keys = NULL;
    m->vals = NULL;
    m->cap = m->count = 0;
}

void strmap_free_all(strmap_t *m)
{
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) free(m->vals[i]);
    strmap_free(m);
}

static size_t find(const strmap_t *m, const char *key)
{
    size_t mask = m->cap - 1;
    size_t i = hash(m, key) & mask;
    while (m->keys[i] && strcmp(m->keys[i], key) != 0) i = (i + 1) & mask;
    return i;
}

void *strmap_get(const strmap_t *m, const char *key)
{
    if (!m->cap) return NULL;
    size_t i = find(m, key);
    return m->keys[i] ? m->vals[i] : NULL;
}

static void grow(strmap_t *m)
{
    strmap_t n = *m;
    n.cap = m->cap ? m->cap * 2 : 16;
    n.keys = ch_calloc(n.cap, sizeof(*n.keys));
    n.vals = ch_calloc(n.cap, sizeof(*n.vals));
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->keys[i]) continue;
        size_t j = find(&n, m->keys[i]);
        n.keys[j] = m->keys[i];
        n.vals[j] = m->vals[i];
    }
    free(m->keys);
    free(m->vals);
    *m = n;
}

void strmap_put(strmap_t *m, const char *key, void *val)
{
    CH_ASSERT(val != NULL);
    if ((m->count + 1) * 4 > m->cap * 3) grow(m); /* load at most 3/4 */
    size_t i = find(m, key);
    if (!m->keys[i]) m->count++;
    m->keys[i] = key;
    m->vals[i] = val;
}

void *strmap_del(strmap_t *m, const char *key)
{
    if (!m->cap) return NULL;
    size_t mask = m->cap - 1, i = find(m, key);
    if (!m->keys[i]) return NULL;
    void *val = m->vals[i];
    /* Backward-shift deletion: move later members of the probe run into the hole. */
    size_t j = i;
    for (;;) {
        j = (j + 1) & mask;
        if (!m->keys[j]) break;
        size_t home = hash(m, m->keys[j]) & mask;
        /* Move j to i when its home is not cyclically within (i, j]. */
        if ((j > i && (home <= i || home > j)) || (j < i && (home <= i && home > j))) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->keys[i] = NULL;
    m->vals[i] = NULL;
    m->count--;
    return val;
}

int strmap_next(const strmap_t *m, size_t *i, const char **key, void **val)
{
    for (; *i < m->cap; (*i)++) {
        if (m->keys[*i]) {
            *key = m->keys[*i];
            *val = m->vals[*i];
            (*i)++;
            return 1;
        }
    }
    return 0;
}

void *strmap_get_or_new(strmap_t *m, const char *key, size_t size, size_t key_at)
{
    void *v = strmap_get(m, key);
    if (v) return v;
    size_t n = strlen(key) + 1;
    char *rec = ch_calloc(1, size + n);
    memcpy(rec + key_at, key, n);
    strmap_put(m, rec + key_at, rec);
    return rec;
}
