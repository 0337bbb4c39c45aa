/* quota.h: storage quotas: how many bytes a room and a user have stored, and whether a
 * write still fits. Pure bookkeeping on the loop thread: the counters are loaded from the
 * store at start, raised by each write, lowered by each delete (retention, room deletion),
 * so no write needs a SUM query. */
#ifndef CHORUS_QUOTA_H
#define CHORUS_QUOTA_H

#include <stddef.h>
#include <stdint.h>

#include "util/strmap.h"

/* What a stored row counts: its variable-length payload plus STORE_ROW_BYTES (store.h) for
 * the fixed columns, so that empty rows are not free. */

typedef struct {
    uint64_t room_max; /* bytes per room; 0 = unlimited */
    uint64_t user_max; /* bytes per user across rooms; 0 = unlimited */
} quota_limits_t;

enum {
    QUOTA_OK = 0,
    QUOTA_EROOM = -1, /* the room's quota would be passed */
    QUOTA_EUSER = -2, /* the user's quota would be passed */
};

/* Bytes stored per user (author), by user id. */
typedef struct {
    strmap_t map; /* user id -> quota_user_t (owns its key) */
} quota_users_t;

/* Whether add more bytes fit: QUOTA_OK, QUOTA_EROOM or QUOTA_EUSER. A write that does not
 * grow anything (add <= 0) always fits, so a full room can still shrink. */
int quota_check(const quota_limits_t *lim, int64_t room_used, int64_t user_used, int64_t add);

/* used + delta, never below 0 (a counter that drifted cannot go negative). */
int64_t quota_add(int64_t used, int64_t delta);

/* Initialises u empty; seed should be random. */
void quota_users_init(quota_users_t *u, uint64_t seed);

/* Frees every entry. */
void quota_users_free(quota_users_t *u);

/* Bytes user (borrowed; "" = the server, never counted) has stored; 0 when unknown. */
int64_t quota_user_used(const quota_users_t *u, const char *user);

/* Adds delta (may be negative) to user's bytes; an entry reaching 0 is dropped. user is
 * copied. "" is ignored. */
void quota_user_add(quota_users_t *u, const char *user, int64_t delta);

/* The number of users with bytes stored (tests and logs). */
size_t quota_users_count(const quota_users_t *u);

#endif
