/* activity.h: the activity stream's aggregation (issue 25), pure: what people did in a room
 * comes in as notes with the time passed in, and goes out as rows a UI can show without
 * knowing any op (docs/protocol.md, "Activity"). Changes that are one row each (joined,
 * kicked, room_updated, ...) pass straight through; frequent ones (document edits, entity
 * moves, messages, document opens) are gathered into one burst per user, kind and target,
 * written once the user stops for the idle time, leaves, or the room goes. No I/O: the
 * room feature that stores and announces the rows is activity_log.c. */
#ifndef CHORUS_ACTIVITY_H
#define CHORUS_ACTIVITY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "domain/ot_text.h"
#include "store/store.h"

/* The kinds of rows (store_act_t.kind) and their data. Bursts: */
#define ACTIVITY_DOC_EDITED "doc_edited"     /* {doc, ops, inserted, deleted, ms} */
#define ACTIVITY_DOC_OPENED "doc_opened"     /* {doc, count, ms} */
#define ACTIVITY_ENTITY_MOVED "entity_moved" /* {entity, count, ms}: updates; the last id */
#define ACTIVITY_MESSAGES "messages"         /* {count, ms}: counted, never copied */
/* One row each: */
#define ACTIVITY_JOINED "joined"                 /* {} */
#define ACTIVITY_LEFT "left"                     /* {reason: "left" | "disconnected"} */
#define ACTIVITY_KICKED "kicked"                 /* {by} */
#define ACTIVITY_BANNED "banned"                 /* {by} */
#define ACTIVITY_ROOM_UPDATED "room_updated"     /* {name?, maxParticipants?, isPublic?} */
#define ACTIVITY_STATE_CHANGED "state_changed"   /* {keys: the patch's top-level keys} */
#define ACTIVITY_ENTITY_CREATED "entity_created" /* {entity, kind} */
#define ACTIVITY_ENTITY_DELETED "entity_deleted" /* {entity} */
#define ACTIVITY_ENTITY_LOCKED "entity_locked"   /* {entity} */
#define ACTIVITY_ASSET_ADDED "asset_added"       /* {asset, name, type, size} */
#define ACTIVITY_ASSET_REMOVED "asset_removed"   /* {asset, name} */
#define ACTIVITY_CALL_STARTED "call_started"     /* {call}: its start, unix ms (rtc) */
#define ACTIVITY_CALL_ENDED "call_ended"         /* {call, ms} */

/* Bursts one room holds at most; past it the oldest is written out early. 256: one per
 * busy member and kind in a large room; each is about 450 bytes. */
#define ACTIVITY_BURSTS_MAX 256

/* Gathered notes of one user, kind and target. */
typedef struct {
    char kind[STORE_ACT_KIND_LEN];
    char user_id[STORE_SUB_LEN];
    char display_name[STORE_NAME_LEN];
    char target[STORE_DOC_ID_LEN]; /* the document, or the last entity; "" none */
    int64_t first_at, last_at;     /* unix ms */
    uint64_t count;                /* notes: ops, updates, messages, opens */
    uint64_t plus, minus;          /* characters inserted and deleted (doc_edited) */
} activity_burst_t;

/* One room's open bursts, oldest first. Zeroed is empty. */
typedef struct {
    activity_burst_t *b; /* owned */
    size_t n, cap;
} activity_agg_t;

/* Where flushed bursts go: called with each (borrowed for the call), oldest first. */
typedef void (*activity_emit_fn)(void *ud, const activity_burst_t *b);

/* Notes count more of kind by user_id (shown as name) on target ("" none) at unix ms now,
 * with plus / minus characters: into the open burst of the same kind, user and target
 * when there is one (entity_moved: any target, which becomes the last one), else into a
 * new burst. A burst whose span reached span_ms (> 0) is flushed through emit first and a
 * new one begun; so is the oldest when agg holds ACTIVITY_BURSTS_MAX. Borrows everything. */
void activity_agg_note(activity_agg_t *agg, const char *kind, const char *user_id,
                       const char *name, const char *target, uint64_t count, uint64_t plus,
                       uint64_t minus, int64_t now, int64_t span_ms, activity_emit_fn emit,
                       void *ud);

/* Flushes through emit, oldest first, the bursts that are done at unix ms now: those idle
 * for idle_ms or more, every burst of user_id (not NULL: that user left), and all of them
 * when all is set (the room goes). Returns how many went. */
size_t activity_agg_flush(activity_agg_t *agg, int64_t now, int64_t idle_ms,
                          const char *user_id, int all, activity_emit_fn emit, void *ud);

/* Frees what agg holds (its bursts are dropped, not emitted). */
void activity_agg_free(activity_agg_t *agg);

/* A burst's row data (new reference): see the kinds above. */
json_t *activity_burst_data(const activity_burst_t *b);

/* Characters op inserts (*plus) and deletes (*minus), in code points. */
void activity_op_counts(const ot_op_t *op, uint64_t *plus, uint64_t *minus);

#endif
