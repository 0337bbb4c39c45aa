/* activity_log.h: the activity stream of rooms (issue 25), as a room feature at each
 * room's home: the points of the domain that change a room (the same ones that queue its
 * webhook events) note what happened here; the aggregation (activity.c) gathers the
 * frequent changes into bursts; the rows are written to the store a batch per room and
 * tick (never one write per op), and once committed each goes to the room's connections
 * as an `activity` event, framed once. Reading the log: home_activity.c. */
#ifndef CHORUS_ACTIVITY_LOG_H
#define CHORUS_ACTIVITY_LOG_H

#include <jansson.h>

#include "domain/activity.h"
#include "domain/rooms.h"
#include "util/strmap.h"

typedef struct activity_log_s {
    rooms_t *r;      /* borrowed: set by the start hook */
    int64_t idle_ms; /* --activity-edit-idle: a burst is written once idle this long */
    int64_t span_ms; /* a burst is cut after this long (10 idle times) */
    strmap_t rooms;  /* room id -> its state (activity_log.c), for rooms with rows held */
    int closing;     /* rooms_close began: rows are written, no longer announced */
} activity_log_t;

/* The room feature ("activity"): close, tick, room_dropped, room_freed, listed with no
 * ud: its state is the registry's act (activity_log_init). */
extern const rooms_feature_t activity_feature;

/* Sets al up from cfg (activity_edit_idle) as r's activity log (r->act; both borrowed,
 * al owned by the caller): once r is initialised. */
void activity_log_init(activity_log_t *al, rooms_t *r, const chorus_config_t *cfg);

/* Frees what al holds (after the store closed: no write is in flight). */
void activity_log_free(activity_log_t *al);

/* Logs one row of kind (a static string, activity.h) in room by user_id ("" the server;
 * display name: the member's, or name when not NULL), with data (stolen; NULL: {}), at
 * now. A row about a user leaving (left, kicked, banned) first writes out that user's
 * bursts, so they come before it. al may be NULL (nothing logged). Borrows the rest. */
void activity_log_row(activity_log_t *al, room_t *room, const char *kind, const char *user_id,
                      const char *name, json_t *data);

/* Notes count more of a burst kind (activity.h) in room by user_id (its member's display
 * name) on target ("" none), with plus / minus characters (doc_edited), at now. al may be
 * NULL. Borrows everything. */
void activity_log_note(activity_log_t *al, room_t *room, const char *kind, const char *user_id,
                       const char *target, uint64_t count, uint64_t plus, uint64_t minus);

/* A row as the protocol shows it (new reference): {"id": the cursor, "seq", "at",
 * "userId", "displayName", "kind", "data"}; row borrowed; data decoded from its text. */
json_t *activity_row_json(const store_act_t *row);
/* activity_row_json(row) encoded compact, byte for byte, written from row's fields with no
 * tree, for a row this process made (its data is Jansson's compact encoding, copied as it
 * is; NULL is {}; data holding "\u0000" goes through the tree, which reads it as {}): a new
 * NUL-terminated text (the caller frees it), its length in *len.
 * Borrows row. */
char *activity_row_text(const store_act_t *row, size_t *len);

#endif
