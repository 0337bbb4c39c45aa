/* presence_watch.c: the presence watch index of one room (presence_watch.h). Each watched
 * user has an array of its watchers; each watcher a list of the users it watches (to
 * replace or clear its set), with its position in each of those users' arrays, and each
 * user's array says back where each watcher keeps it. Removing a watcher from a user is a
 * swap with the last, whose watcher's position is updated: O(1) whatever the number of
 * watchers (a walk of them made a mass disconnect from a room where everyone watches the
 * same first page quadratic). */
#include "domain/presence_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

typedef struct pwatch_set_s pwatch_set_t;

/* Where a watcher keeps a user: its set, and the user's index in it. */
typedef struct {
    pwatch_set_t *set;
    size_t i;
} pwatch_back_t;

/* The local watchers of one user; back[j] is where w[j] keeps this user. */
typedef struct {
    void **w;
    pwatch_back_t *back;
    size_t n, cap;
    char user_id[];
} pwatch_user_t;

/* One watcher's set: the entries of the users it watches (borrowed from by_user), and the
 * watcher's index in each of their arrays. */
struct pwatch_set_s {
    pwatch_user_t **users;
    size_t *pos;
    size_t n;
    char key[2 * sizeof(void *) + 3]; /* the watcher's pointer, as by_watcher's key */
};

void pwatch_init(pwatch_t *x, uint64_t seed)
{
    memset(x, 0, sizeof(*x));
    strmap_init(&x->by_user, seed);
    strmap_init(&x->by_watcher, seed ^ 0x9e3779b97f4a7c15ull);
}

void pwatch_free(pwatch_t *x)
{
    const char *k;
    void *v;
    for (size_t i = 0; strmap_next(&x->by_user, &i, &k, &v);) {
        free(((pwatch_user_t *)v)->w);
        free(((pwatch_user_t *)v)->back);
        free(v);
    }
    strmap_free(&x->by_user);
    for (size_t i = 0; strmap_next(&x->by_watcher, &i, &k, &v);) {
        free(((pwatch_set_t *)v)->users);
        free(((pwatch_set_t *)v)->pos);
        free(v);
    }
    strmap_free(&x->by_watcher);
    x->slots = 0;
}

static void key_of(const void *watcher, char *key, size_t cap)
{
    snprintf(key, cap, "%p", watcher);
}

/* Takes set's i-th user's slot for its watcher out of that user's array (the last slot
 * moves into it, and its watcher's position follows); frees the user when it was the last. */
static void unwatch(pwatch_t *x, pwatch_set_t *set, size_t i)
{
    pwatch_user_t *u = set->users[i];
    size_t j = set->pos[i], last = --u->n;
    x->slots--;
    if (j != last) {
        u->w[j] = u->w[last];
        u->back[j] = u->back[last];
        u->back[j].set->pos[u->back[j].i] = j;
    }
    if (u->n == 0) {
        strmap_del(&x->by_user, u->user_id);
        free(u->w);
        free(u->back);
        free(u);
    }
}

void pwatch_drop(pwatch_t *x, void *watcher)
{
    char key[2 * sizeof(void *) + 3];
    key_of(watcher, key, sizeof(key));
    pwatch_set_t *s = strmap_del(&x->by_watcher, key);
    if (!s) return;
    for (size_t i = 0; i < s->n; i++)
        unwatch(x, s, i);
    free(s->users);
    free(s->pos);
    free(s);
}

/* The distinct users of users[0..n) (borrowed): a new array of pointers into it. */
static size_t distinct(const char *const *users, size_t n, const char ***out)
{
    strmap_t seen;
    strmap_init(&seen, (uint64_t)(uintptr_t)users);
    const char **d = ch_malloc((n ? n : 1) * sizeof(*d));
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (strmap_get(&seen, users[i])) continue;
        strmap_put(&seen, users[i], (void *)users[i]);
        d[k++] = users[i];
    }
    strmap_free(&seen);
    *out = d;
    return k;
}

int pwatch_set(pwatch_t *x, void *watcher, const char *const *users, size_t n, size_t max)
{
    const char **d;
    size_t k = distinct(users, n, &d);
    if (k > max) {
        free(d);
        return -1;
    }
    pwatch_drop(x, watcher);
    if (k == 0) {
        free(d);
        return 0;
    }
    pwatch_set_t *s = ch_calloc(1, sizeof(*s));
    key_of(watcher, s->key, sizeof(s->key));
    s->users = ch_malloc(k * sizeof(*s->users));
    s->pos = ch_malloc(k * sizeof(*s->pos));
    for (size_t i = 0; i < k; i++) {
        pwatch_user_t *u = strmap_get(&x->by_user, d[i]);
        if (!u) {
            size_t len = strlen(d[i]);
            u = ch_calloc(1, sizeof(*u) + len + 1);
            memcpy(u->user_id, d[i], len);
            strmap_put(&x->by_user, u->user_id, u);
        }
        if (u->n == u->cap) {
            u->cap = u->cap ? 2 * u->cap : 4;
            u->w = ch_realloc(u->w, u->cap * sizeof(*u->w));
            u->back = ch_realloc(u->back, u->cap * sizeof(*u->back));
        }
        u->w[u->n] = watcher;
        u->back[u->n] = (pwatch_back_t){.set = s, .i = i};
        s->pos[i] = u->n++;
        x->slots++;
        s->users[i] = u;
    }
    s->n = k;
    strmap_put(&x->by_watcher, s->key, s);
    free(d);
    return (int)k;
}

void *const *pwatch_of(const pwatch_t *x, const char *user, size_t *n)
{
    pwatch_user_t *u = strmap_get(&x->by_user, user);
    *n = u ? u->n : 0;
    return u ? u->w : NULL;
}

size_t pwatch_count(const pwatch_t *x, void *watcher)
{
    char key[2 * sizeof(void *) + 3];
    key_of(watcher, key, sizeof(key));
    pwatch_set_t *s = strmap_get(&x->by_watcher, key);
    return s ? s->n : 0;
}
