/* jpart.h: a run of members of a JSON object, given as jansson values or as text encoded
 * once and kept, so an object can be written without encoding the kept text again. */
#ifndef CHORUS_JPART_H
#define CHORUS_JPART_H

#include <stddef.h>

#include <jansson.h>

/* A run of members of an object built from JSON encoded once and kept (a room's members,
 * its recent messages) as well as from jansson values, for proto_frame_parts and
 * proto_deferred_ok_parts: with obj, every member of obj (an object) in its order; with
 * obj NULL, the one member key (a plain name of letters and _) whose value is text (one
 * complete, valid JSON text, as Jansson writes it; len bytes, or up to its NUL when len
 * is 0) when text is not NULL, else the JSON array of the n texts in items. Everything is
 * borrowed. A bus event's payload (bus.h) is such parts too. */
typedef struct {
    const json_t *obj;
    const char *key;
    const char *text;
    size_t len;
    const char *const *items;
    size_t n;
} jpart_t;

#endif
