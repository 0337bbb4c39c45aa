/* room_lookup.h: the failed-lookup limit that keeps room codes from being guessed. A
 * lookup fails when a room id or code names no room, or a room the caller is not in where
 * only participants may look; both answer the same (not_found), and each failure takes a
 * token from the caller's user bucket and from its IP's. While either bucket is empty, no
 * lookup of a room the caller is not in is answered at all (rate_limited), hits included:
 * otherwise "limited" versus "found" would still tell codes apart. Pure: the caller passes
 * the time. */
#ifndef CHORUS_ROOM_LOOKUP_H
#define CHORUS_ROOM_LOOKUP_H

#include <stdint.h>

#include "util/rl_map.h"

typedef struct room_lookup_s room_lookup_t;

/* Returns a new limiter for per_user and per_ip failures per window (rules copied; limit
 * >= 1). Its maps hold at most max_keys keys each (rl_map.h). Needs sodium_init. Free with
 * room_lookup_free. */
room_lookup_t *room_lookup_new(const rl_rule_t *per_user, const rl_rule_t *per_ip,
                               size_t max_keys);
void room_lookup_free(room_lookup_t *l);

/* 1 when user_id and ip (borrowed, any length; ip may be NULL or "") may look up a room
 * they are not in at now_ms; else 0 with *retry_after_ms (may be NULL), the ms until both
 * may. Takes nothing. */
int room_lookup_allowed(const room_lookup_t *l, const char *user_id, const char *ip,
                        uint64_t now_ms, uint64_t *retry_after_ms);

/* Charges one failed lookup to user_id and to ip. */
void room_lookup_failed(room_lookup_t *l, const char *user_id, const char *ip, uint64_t now_ms);

/* Gives back the failed lookup charged to user_id and ip (room_lookup_failed) for a lookup
 * charged before its answer was known, that found its room after all. */
void room_lookup_refund(room_lookup_t *l, const char *user_id, const char *ip, uint64_t now_ms);

/* Drops the refilled entries (call now and then). */
void room_lookup_sweep(room_lookup_t *l, uint64_t now_ms);

#endif
