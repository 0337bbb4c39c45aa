/* keyset.h: a hash set of records found by a string each record holds (open addressing,
 * linear probing, deletion by backward shift). A slot is one pointer: the key is read from
 * the record through the set's key function, so a set costs 8 bytes a slot (at most 3/4
 * full) and nothing in the records. Several records may share a key. With fold, keys
 * compare and hash ASCII case-insensitively (strcasecmp). */
#ifndef CHORUS_KEYSET_H
#define CHORUS_KEYSET_H

#include <stddef.h>
#include <stdint.h>

/* The key of item (borrowed from it; valid while item is in a set). */
typedef const char *(*keyset_key_fn)(const void *item);

typedef struct {
    void **slots; /* owned array of borrowed records; NULL slots are free */
    size_t cap;   /* power of two, 0 when empty */
    size_t count;
    uint64_t seed;     /* per-set seed, so keys chosen by clients cannot aim at one slot */
    keyset_key_fn key; /* borrowed (a function) */
    int fold;          /* ASCII case-insensitive keys */
} keyset_t;

/* Initialises s empty (allocates nothing): key reads a record's key; seed should be
 * random. */
void keyset_init(keyset_t *s, keyset_key_fn key, int fold, uint64_t seed);

/* Frees s's table (not the records); s is left empty, ready for use again. */
void keyset_free(keyset_t *s);

/* Adds item (borrowed, non-NULL; its key must not change while it is in s). */
void keyset_add(keyset_t *s, void *item);

/* Removes item (the pointer itself, found through its key). Returns 0, or -1 when item
 * is not in s. */
int keyset_del(keyset_t *s, const void *item);

/* The records whose key equals key (borrowed), one a call: start with *pos = 0; returns
 * the next one, or NULL when there are no more. s must not change in between. */
void *keyset_next(const keyset_t *s, const char *key, size_t *pos);

/* The first record whose key equals key, or NULL. */
void *keyset_get(const keyset_t *s, const char *key);

#endif
