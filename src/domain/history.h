/* history.h: a room at an earlier moment, rebuilt from a base and its logged changes
 * (time travel, issue 25; pure: no I/O, no clock). The store's change log (store.h,
 * STORE_STATE_AT) answers the latest change of each entity and of the state at a version;
 * this module turns changes into the room they describe, and a document's op log into its
 * text at a time. */
#ifndef CHORUS_HISTORY_H
#define CHORUS_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "store/store.h"

/* What a logged change did (store.h: state_log.change). */
enum {
    HISTORY_STATE = 0,  /* the room's state became `state` */
    HISTORY_PUT = 1,    /* the entity became `ent` (created or changed) */
    HISTORY_DELETE = 2, /* the entity `ent->id` went */
};

/* One change of a room, at its state version. Borrows what it points to. */
typedef struct {
    int change;                /* HISTORY_* */
    int64_t version;           /* the room's state version of the change */
    int64_t at;                /* unix ms */
    const char *state;         /* HISTORY_STATE: the state, JSON object text */
    const store_entity_t *ent; /* HISTORY_PUT: the entity as written; DELETE: its id */
} history_change_t;

/* A room at a moment: owns its JSON. */
typedef struct {
    int64_t version;  /* the version of the last change applied (the moment's) */
    int64_t time;     /* that change's time */
    json_t *state;    /* the room's state object */
    json_t *entities; /* id -> the entity as the protocol writes it (no lock: not stored) */
} history_room_t;

/* Makes h the room before any change: version 0, empty state, no entities. */
void history_init(history_room_t *h);

/* Frees what h owns. */
void history_free(history_room_t *h);

/* Applies c (borrowed) to h, in version order (a change at or below h's version is
 * ignored: a base already holds it). Returns 0, or -1 when c's JSON text is not an object
 * (h is then unchanged but for its version). */
int history_apply(history_room_t *h, const history_change_t *c);

/* Applies the changes of cs (n of them, ascending by version) up to version `upto`
 * (inclusive) to h, which holds the base. Returns how many were applied (ignored ones
 * too), or -1 on a change history_apply refused. */
long history_replay(history_room_t *h, const history_change_t *cs, size_t n, int64_t upto);

/* The entity of a change as the protocol writes it (entity_json without a lock): a new
 * reference, or NULL when e->data is not a JSON object. */
json_t *history_entity_json(const store_entity_t *e);

/* h's entities as an array ordered by id (new reference). */
json_t *history_entities_json(const history_room_t *h);

/* A document's text at time `at`: from the base text (borrowed, UTF-8, the document at
 * base_version), applies the ops of ops (n of them, ascending by version, the first at
 * base_version + 1 or below) made at or before `at` (created_at), stopping at the first
 * later one. *text gets the text (malloc'd, NUL-terminated) and *version the version it
 * is. Returns 0, or -1 when an op is not one ot_text accepts, does not fit the text, or
 * the ops leave a gap after base_version (*text is then NULL). */
int history_doc_at(const char *base, int64_t base_version, const store_doc_op_t *ops, size_t n,
                   int64_t at, char **text, int64_t *version);

#endif
