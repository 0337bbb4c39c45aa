/* jscan.h: a JSON object's top-level members found as byte slices of its text, without
 * building a tree, checked as Jansson checks it (the protocol's fast path). */
#ifndef CHORUS_JSCAN_H
#define CHORUS_JSCAN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* The kind of a value, from its first byte (and, for a number, its form). */
typedef enum {
    JSCAN_NULL,
    JSCAN_FALSE,
    JSCAN_TRUE,
    JSCAN_INT, /* no fraction and no exponent: Jansson's integer */
    JSCAN_REAL,
    JSCAN_STRING,
    JSCAN_ARRAY,
    JSCAN_OBJECT,
} jscan_type_t;

/* One top-level member: its key and value as slices of the scanned text. */
typedef struct {
    const char *key; /* the key's bytes between its quotes (no escapes in it) */
    const char *val; /* the value's text, quotes and brackets included */
    uint32_t key_len, val_len;
    uint8_t type;      /* jscan_type_t */
    uint8_t canonical; /* 1: val is byte for byte what Jansson writes for it
                          (json_dumps with JSON_COMPACT | JSON_ENCODE_ANY), so it can be
                          copied into a frame as it is */
    uint8_t escaped;   /* a string with escapes: decode it with jscan_string */
} jscan_member_t;

/* Members kept: an envelope has few (op, ref, room and an op's 1 to 4 arguments); an
 * object with more is left to Jansson (JSCAN_EUNSURE). */
#define JSCAN_MAX_MEMBERS 16

/* Jansson's nesting limit (JSON_PARSER_MAX_DEPTH): a value inside 2048 arrays or objects
 * is refused. */
#define JSCAN_MAX_DEPTH 2048

/* Keys remembered at once for the duplicate check, over all the objects open; the keys of
 * one object at most JSCAN_OBJECT_KEYS (more: JSCAN_EUNSURE, Jansson decides). */
#define JSCAN_KEYS 256
#define JSCAN_OBJECT_KEYS 16

/* The longest number the scanner decides itself (longer: JSCAN_EUNSURE). */
#define JSCAN_NUMBER_MAX 40

typedef struct {
    const char *buf; /* the text scanned (borrowed) */
    size_t len;
    uint8_t type; /* the top-level value's jscan_type_t */
    size_t n;     /* members, when it is an object */
    jscan_member_t m[JSCAN_MAX_MEMBERS];
} jscan_t;

/* jscan_parse results besides 0. */
#define JSCAN_EINVALID                                                                         \
    (-1) /* Jansson refuses it: not JSON, a duplicate key at any depth,                        \
            nested deeper than JSCAN_MAX_DEPTH, a number out of range,                         \
            an unpaired surrogate escape */
#define JSCAN_EUNSURE                                                                          \
    (-2) /* outside what the scanner decides (an escaped key, an object                        \
            of many keys, a long number): ask Jansson */

/* jscan_parse flags. */
#define JSCAN_TRUSTED                                                                          \
    1u /* the text is Jansson's own encoding of a value it accepted:                           \
          duplicate keys are not looked for, escaped keys are fine */

/* Scans the len bytes at buf (valid UTF-8, as the WebSocket layer delivers a text
 * message; borrowed, and s points into them) as Jansson's json_loadb with
 * JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL would read them. Returns 0
 * with s filled (the top-level type; for an object, its members in order), JSCAN_EINVALID
 * where Jansson fails, or JSCAN_EUNSURE. Pure; no allocation. */
int jscan_parse(jscan_t *s, const char *buf, size_t len, unsigned flags);

/* Returns the member of s named name (a plain key, no escapes needed), or NULL. */
const jscan_member_t *jscan_get(const jscan_t *s, const char *name);

/* Decodes the string value m (borrowed; type JSCAN_STRING) into out (cap bytes, cap >
 * m->val_len always suffices), NUL-terminated. Returns the decoded length (a U+0000 in it
 * ends the C string early, as json_string_value does), or -1 when it does not fit. */
int jscan_string(const jscan_member_t *m, char *out, size_t cap);

/* Returns the integer value of m (borrowed; type JSCAN_INT, so in range). */
int64_t jscan_int(const jscan_member_t *m);

/* Returns the text Jansson writes for the value m (borrowed): m's own bytes when it is
 * canonical, else (whitespace, escapes or a number Jansson writes otherwise) a new
 * encoding in *owned, which the caller frees (NULL when nothing was allocated). *len gets
 * the length; the text is not NUL-terminated when it is m's. */
const char *jscan_text(const jscan_member_t *m, size_t *len, char **owned);

/* Scans the members of obj (borrowed, an object) named in keys[0..nkeys) (all of them
 * when keys is NULL), as Jansson encodes them into *text (new, NUL-terminated: the caller
 * frees it; s points into it). Returns 0, or JSCAN_EUNSURE when they are more than
 * JSCAN_MAX_MEMBERS. For arguments that came as a tree (jansson's encoding is trusted). */
int jscan_json(jscan_t *s, const json_t *obj, const char *const *keys, size_t nkeys,
               char **text);

/* Writes s (n bytes, valid UTF-8) into out (cap bytes) as Jansson encodes a string:
 * quoted, '"' '\\' and control characters escaped, NUL-terminated. Returns the length
 * written, or -1 when it does not fit (utf8_json_len(s, n) + 3 bytes suffice). */
int jscan_quote(char *out, size_t cap, const char *s, size_t n);

/* Room for any int64_t in decimal, sign included (JSCAN_INT_MAX - 1 bytes) and a NUL. */
#define JSCAN_INT_MAX 21

/* Writes v in decimal into out (at least JSCAN_INT_MAX - 1 bytes), as Jansson writes an
 * integer, not NUL-terminated. Returns the length written. Pure, no printf. */
size_t jscan_write_int(char *out, int64_t v);

#endif
