/* presence_watch.c: the presence watch index of one room (presence_watch.h). Each watched
 * user has an array of its watchers; each watcher a list of the users it watches (to
 * replace or clear its set). Removing a watcher from a user's array is a search and a
 * swap with the last, so it costs the number of that user's watchers here. */
#include "domain/presence_watch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

/* The local watchers of one user. */
typedef struct {
    void **w;
    size_t n, cap;
    char user_id[];
} pwatch_user_t;

/* One watcher's set: the entries of the users it watches (borrowed from by_user). */
typedef struct {
    pwatch_user_t **users;
    size_t n;
    char key[2 * sizeof(void *) + 3]; /* the watcher's pointer, as by_watcher's key */
} pwatch_set_t;

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
        free(v);
    }
    strmap_free(&x->by_user);
    for (size_t i = 0; strmap_next(&x->by_watcher, &i, &k, &v);) {
        free(((pwatch_set_t *)v)->users);
        free(v);
    }
    strmap_free(&x->by_watcher);
    x->slots = 0;
}

static void key_of(const void *watcher, char *key, size_t cap)
{
    snprintf(key, cap, "%p", watcher);
}

/* Takes watcher out of u's array; frees u when it was the last. */
static void unwatch(pwatch_t *x, pwatch_user_t *u, void *watcher)
{
    for (size_t i = 0; i < u->n; i++) {
        if (u->w[i] != watcher) continue;
        u->w[i] = u->w[--u->n];
        x->slots--;
        break;
    }
    if (u->n == 0) {
        strmap_del(&x->by_user, u->user_id);
        free(u->w);
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
        unwatch(x, s->users[i], watcher);
    free(s->users);
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
        }
        u->w[u->n++] = watcher;
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
