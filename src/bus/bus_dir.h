/* bus_dir.h: the cluster's room directory as one node sees it: room id -> home node, each
 * entry good until a time (the lease's end as last seen in Redis: chorus:room:<id>:home),
 * the rooms this node is home of (their leases renewed together), and the rooms whose
 * lease this node is asking Redis for. Pure: no I/O, the time is passed in (loop ms).
 * A room's code is not here: codes resolve through the node's registry of rooms (rooms.h),
 * and an op names its room by id. */
#ifndef CHORUS_BUS_DIR_H
#define CHORUS_BUS_DIR_H

#include <stddef.h>
#include <stdint.h>

#include "util/strmap.h"

/* One room's entry. */
typedef struct {
    uint32_t node;  /* its home; 0 = not known */
    uint64_t until; /* loop ms: the entry is good before it */
    int claiming;   /* this node asked Redis for the room's lease and awaits the answer */
    int standin;    /* this node knows the room from another node's announcement only: its
                       copy is not the room's, so it never takes the room's lease */
    int loading;    /* this node won the room's lease and reads the room from the store:
                       its lease is renewed, its ops wait until the read is done */
    char room[];    /* the room's id (the map's key) */
} bus_dir_entry_t;

typedef struct {
    uint32_t self; /* this node's id */
    strmap_t map;  /* room id -> bus_dir_entry_t (owned) */
    size_t mine;   /* entries whose node is self */
} bus_dir_t;

/* Makes d an empty directory of node self; seed: the map's (random). */
void bus_dir_init(bus_dir_t *d, uint32_t self, uint64_t seed);

/* Frees d's entries. */
void bus_dir_free(bus_dir_t *d);

/* Returns room's (borrowed) home node at now: 0 when not known or its entry ran out. */
uint32_t bus_dir_home(const bus_dir_t *d, const char *room, uint64_t now);

/* Records node (non-zero) as room's (borrowed, copied) home until until; clears claiming,
 * and the stand-in mark when node is this node (a takeover), the loading mark when it is
 * not. */
void bus_dir_set(bus_dir_t *d, const char *room, uint32_t node, uint64_t until);

/* Forgets room's (borrowed) home: after a lease this node lost, a home that said it is
 * not; with gone (the room was deleted) its stand-in mark too. */
void bus_dir_forget(bus_dir_t *d, const char *room, int gone);

/* Marks room (borrowed) as being claimed (on 1) or not (on 0). Returns 1 when it was
 * already being claimed (so on 1 the caller sends no second claim), else 0. */
int bus_dir_claiming(bus_dir_t *d, const char *room, int on);

/* Marks room (borrowed), whose home is this node, as being read from the store (on 1:
 * bus_dir_entry_t.loading) or read (on 0). No-op when room has no entry. */
void bus_dir_loading(bus_dir_t *d, const char *room, int on);

/* 1 when room (borrowed) is this node's and still being read from the store, else 0. */
int bus_dir_is_loading(const bus_dir_t *d, const char *room);

/* Marks room (borrowed) as known here from an announcement only (bus_dir_entry_t). */
void bus_dir_standin(bus_dir_t *d, const char *room);

/* 1 when room (borrowed) is known here from an announcement only, else 0. */
int bus_dir_is_standin(const bus_dir_t *d, const char *room);

/* The rooms whose home is this node, into out[0..cap) (borrowed from d: valid until it
 * changes), from the at-th on (an iteration cursor, 0 first, updated). Returns how many
 * were written; 0 when there are no more. */
size_t bus_dir_mine(const bus_dir_t *d, size_t *at, const char **out, size_t cap);

/* Drops the entries of other homes that ran out by now (this node's own are kept until
 * forgotten: a lease not renewed in time is taken again or lost, bus_redis.c; a stand-in's
 * mark stays, with its home unknown). */
void bus_dir_sweep(bus_dir_t *d, uint64_t now);

#endif
