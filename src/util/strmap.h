/* strmap.h: a hash map from borrowed NUL-terminated string keys to pointers (open
 * addressing, linear probing, tombstone-free deletion by backward shift). The keys are
 * owned by the values (e.g. room->id), so they must live as long as their entry. */
#ifndef CHORUS_STRMAP_H
#define CHORUS_STRMAP_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    const char **keys; /* borrowed */
    void **vals;
    size_t cap;        /* power of two, 0 when empty */
    size_t count;
    uint64_t seed;     /* per-map seed, so keys chosen by clients cannot aim at one slot */
} strmap_t;

/* Initialises m empty; seed should be random (e.g. randombytes). */
void strmap_init(strmap_t *m, uint64_t seed);

/* Frees m's tables (not keys or values). m is left empty, ready for use again. */
void strmap_free(strmap_t *m);

/* For a map that owns its values, each one allocation whose key lives inside it: frees
 * every value with free(), then m's tables, as strmap_free. */
void strmap_free_all(strmap_t *m);

/* Returns the value for key, or NULL. */
void *strmap_get(const strmap_t *m, const char *key);

/* For a map whose values each carry their key as a trailing name: returns the value for
 * key, or puts and returns a new one, size bytes (the record's) plus the key's, zeroed but
 * for a copy of key at byte key_at (the trailing name, key_at <= size), which is its key in
 * m. Owned like the map's other values (strmap_free_all frees it). */
void *strmap_get_or_new(strmap_t *m, const char *key, size_t size, size_t key_at);

/* Sets key (borrowed) to val (non-NULL), replacing any previous value. */
void strmap_put(strmap_t *m, const char *key, void *val);

/* Removes key; returns its value, or NULL when absent. */
void *strmap_del(strmap_t *m, const char *key);

/* Iteration: for (size_t i = 0; strmap_next(m, &i, &k, &v);) ... Do not modify m inside. */
int strmap_next(const strmap_t *m, size_t *i, const char **key, void **val);

#endif
