/* docs_limits.h: the limits of collaborative documents (docs.h), apart so that the rooms
 * registry can hold them (rooms_t.docs) without knowing the documents module. */
#ifndef CHORUS_DOCS_LIMITS_H
#define CHORUS_DOCS_LIMITS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    size_t max_size;            /* bytes of text */
    size_t max_op;              /* bytes of an op's JSON */
    size_t max_components;
    size_t log_window;          /* recent ops kept for transforms */
    size_t log_max_bytes;       /* memory those ops may hold, per document */
    uint32_t snapshot_every;    /* ops between snapshots */
    uint32_t max_open;          /* documents one connection may have open */
} docs_limits_t;

#endif
