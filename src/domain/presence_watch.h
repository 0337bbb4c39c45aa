/* presence_watch.h: who watches whose presence in one room, on one process (issue 26,
 * presence subscriptions; docs/protocol.md "presence_subscribe"). A watcher (an opaque
 * pointer: a connection's subscription to the room) replaces its set of watched user ids
 * at once; the index answers "which local watchers watch this user" without a walk over
 * the room's connections, so a large room's presence change reaches only them. Pure: no
 * I/O, no clock. A watcher's set holds at most the max given to pwatch_set; the index
 * holds one entry per watched user and one slot per (watcher, user). */
#ifndef CHORUS_PRESENCE_WATCH_H
#define CHORUS_PRESENCE_WATCH_H

#include <stddef.h>
#include <stdint.h>

#include "util/strmap.h"

typedef struct {
    strmap_t by_user;    /* user id -> pwatch_user_t (owned; the key inside) */
    strmap_t by_watcher; /* the watcher's pointer as text -> pwatch_set_t (owned) */
    size_t slots;        /* (watcher, user) pairs held */
} pwatch_t;

/* Makes x empty; seed should be random (strmap_init). */
void pwatch_init(pwatch_t *x, uint64_t seed);

/* Frees everything x holds (the watchers are borrowed and not touched). */
void pwatch_free(pwatch_t *x);

/* Replaces watcher's set (watcher borrowed, non-NULL) with users[0..n) (borrowed, copied;
 * duplicates count once); n 0 clears it. Returns the number of distinct users now watched,
 * or -1 (nothing changed) when there are more than max of them. */
int pwatch_set(pwatch_t *x, void *watcher, const char *const *users, size_t n, size_t max);

/* Clears watcher's set (nothing when it has none). */
void pwatch_drop(pwatch_t *x, void *watcher);

/* The watchers of user (borrowed), *n of them, or NULL with *n 0 when nobody watches. The
 * array is x's: valid until x changes. */
void *const *pwatch_of(const pwatch_t *x, const char *user, size_t *n);

/* Returns how many users watcher watches (0 when it has no set). */
size_t pwatch_count(const pwatch_t *x, void *watcher);

#endif
