/* bench_presence.h: the `presence` scenario of chorus-bench (issue 26): N members in one
 * large room, M of them (the movers) moving their cursors (`presence`) at a fixed total
 * rate, each of the others watching K movers (`presence_subscribe`). It runs as the fanout
 * scenario's machinery with presence frames: subscribers are the watchers, publishers the
 * movers; a delivery is a `presence` event of a watched mover, its latency from the send
 * time the mover put in its state. Internal to chorus-bench. */
#ifndef CHORUS_BENCH_PRESENCE_H
#define CHORUS_BENCH_PRESENCE_H

#include <stddef.h>

#include "bench.h"

/* With argv[1] "presence": takes "--watch K" (10) and "--watchers W" out of argv (*argc shrinks), sets
 * b->watch, and makes argv[1] "fanout" for bench_parse_args. Returns 0, or -1 for a usage
 * error. Otherwise does nothing and returns 0. */
int bpres_args(bench_t *b, int *argc, char **argv);

/* 1 when c is a subscriber that watches (--watchers: the first W subscribers). */
int bpres_watcher(const bench_t *b, const client_t *c);

/* 1 when subscriber c watches publisher slot p of its room: slots c->idx .. c->idx+K-1
 * (mod the publishers), so every mover has about the same number of watchers. */
int bpres_watches(const bench_t *b, const client_t *c, int p);

/* Writes subscriber c's presence_subscribe frame (ref c->ref + 1, taken) into msg[cap].
 * Returns its length. */
int bpres_subscribe_msg(bench_t *b, client_t *c, char *msg, size_t cap);

/* Writes publisher c's next presence frame ({"s": seq, "t": send time}; ref c->ref) into
 * msg[cap]. Returns its length. */
int bpres_pub_msg(const bench_t *b, const client_t *c, char *msg, size_t cap,
                  unsigned long long t);

/* The publisher slot of the presence event s[0..len) (from its userId), or -1. */
int bpres_slot(const bench_t *b, const char *s, size_t len);

void bpres_usage(FILE *f);

#endif
