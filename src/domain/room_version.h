/* room_version.h: which stored room state version each of a room's state writes follows,
 * and what the room does when the store refuses one (pure: no I/O, no registry). */
#ifndef CHORUS_ROOM_VERSION_H
#define CHORUS_ROOM_VERSION_H

#include <stdint.h>

/* A room's state writes as the store sees them. Every write of the room row or of an
 * entity takes a new state version (the room's next) and names the stored version it
 * follows; the store takes it only when that is the stored one (store.h), so two writers
 * can never both store one version, and a write leaves no gap. */
typedef struct {
    int64_t written; /* version of the last write handed to the store: the next follows it */
    uint32_t epoch;  /* counts what refusals taught (room_version_answer) */
} room_version_t;

/* What the store's answer to a state write asks of the room. */
enum {
    ROOM_VERSION_DONE = 0,  /* nothing more to do */
    ROOM_VERSION_AGAIN = 1, /* refused: write what it wrote again, as a new version */
};

/* Starts rv at the version the store holds (a room loaded or created). */
void room_version_init(room_version_t *rv, int64_t stored);

/* A write of version v (above every earlier one) is handed to the store: *base is the
 * version it follows, *epoch what to give room_version_answer with its answer. */
void room_version_write(room_version_t *rv, int64_t v, int64_t *base, uint32_t *epoch);

/* The store answered the write of epoch epoch that followed base with err (a STORE_*
 * code) and, for STORE_EEXISTS, the room's stored version `stored`. A refusal with
 * stored == base was not about the version (a room code taken by another room): nothing
 * to learn or write again, as that would be refused the same way. The first refusal since the
 * room last learned the stored version teaches it: the next write follows `stored`, and
 * *current (the room's version) is raised to it when another writer got further (a
 * refusal of an older epoch was a write chained behind one already refused). Returns
 * ROOM_VERSION_AGAIN for a refusal (its content was not stored: the room writes it
 * again as its next version), else ROOM_VERSION_DONE; a failed write (EIO) teaches
 * nothing, as the store's version is unknown: the room's next write is then refused if
 * the store missed it, and that refusal teaches it. */
int room_version_answer(room_version_t *rv, int64_t *current, uint32_t epoch, int64_t base,
                        int err, int64_t stored);

#endif
