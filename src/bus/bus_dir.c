/* bus_dir.c: the room directory of one node (bus_dir.h). */
#include "bus/bus_dir.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

void bus_dir_init(bus_dir_t *d, uint32_t self, uint64_t seed)
{
    d->self = self;
    d->mine = 0;
    strmap_init(&d->map, seed);
}

void bus_dir_free(bus_dir_t *d)
{
    strmap_free_all(&d->map);
    d->mine = 0;
}

uint32_t bus_dir_home(const bus_dir_t *d, const char *room, uint64_t now)
{
    const bus_dir_entry_t *e = strmap_get(&d->map, room);
    return e && e->node && now < e->until ? e->node : 0;
}

static bus_dir_entry_t *entry(bus_dir_t *d, const char *room)
{
    return strmap_get_or_new(&d->map, room, sizeof(bus_dir_entry_t),
                             offsetof(bus_dir_entry_t, room));
}

void bus_dir_set(bus_dir_t *d, const char *room, uint32_t node, uint64_t until)
{
    CH_ASSERT(node != 0);
    bus_dir_entry_t *e = entry(d, room);
    d->mine += (node == d->self) - (e->node == d->self);
    e->node = node;
    e->until = until;
    e->claiming = 0;
    if (node == d->self)
        e->standin = 0; /* taken over: this node's room now */
    else
        e->loading = 0;
}

void bus_dir_forget(bus_dir_t *d, const char *room, int gone)
{
    bus_dir_entry_t *e = strmap_get(&d->map, room);
    if (!e) return;
    if (e->node == d->self) d->mine--;
    e->node = 0;
    e->loading = 0;
    if (e->standin && !gone) return;
    strmap_del(&d->map, room);
    free(e);
}

void bus_dir_standin(bus_dir_t *d, const char *room)
{
    entry(d, room)->standin = 1;
}

void bus_dir_loading(bus_dir_t *d, const char *room, int on)
{
    bus_dir_entry_t *e = strmap_get(&d->map, room);
    if (e) e->loading = on && e->node == d->self;
}

int bus_dir_is_loading(const bus_dir_t *d, const char *room)
{
    const bus_dir_entry_t *e = strmap_get(&d->map, room);
    return e && e->loading;
}

int bus_dir_is_standin(const bus_dir_t *d, const char *room)
{
    const bus_dir_entry_t *e = strmap_get(&d->map, room);
    return e && e->standin;
}

int bus_dir_claiming(bus_dir_t *d, const char *room, int on)
{
    bus_dir_entry_t *e = on ? entry(d, room) : strmap_get(&d->map, room);
    if (!e) return 0;
    int was = e->claiming;
    e->claiming = on;
    if (!on && !e->node) bus_dir_forget(d, room, 0);
    return was;
}

size_t bus_dir_mine(const bus_dir_t *d, size_t *at, const char **out, size_t cap)
{
    size_t n = 0;
    const char *k;
    void *v;
    while (n < cap && strmap_next(&d->map, at, &k, &v)) {
        const bus_dir_entry_t *e = v;
        if (e->node == d->self) out[n++] = e->room;
    }
    return n;
}

void bus_dir_sweep(bus_dir_t *d, uint64_t now)
{
    /* Collected first: the map is not changed while it is walked. */
    const char *k;
    void *v;
    size_t cap = 0, n = 0;
    bus_dir_entry_t **gone = NULL;
    for (size_t i = 0; strmap_next(&d->map, &i, &k, &v);) {
        bus_dir_entry_t *e = v;
        if (!e->node || e->node == d->self || e->claiming || now < e->until) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            gone = ch_realloc(gone, cap * sizeof(*gone));
        }
        gone[n++] = e;
    }
    for (size_t i = 0; i < n; i++)
        bus_dir_forget(d, gone[i]->room, 0);
    free(gone);
}
