/* utf8.h: incremental UTF-8 validation (RFC 3629) that resumes across chunk boundaries. */
#ifndef CHORUS_UTF8_H
#define CHORUS_UTF8_H

#include <stddef.h>
#include <stdint.h>

/* Validator state between chunks. Zero-initialised (or utf8_init) means "at a code point
 * boundary". Rejects overlong forms, UTF-16 surrogates (U+D800..U+DFFF) and code points
 * above U+10FFFF at the first byte that makes the sequence impossible (fail fast). */
typedef struct {
    uint8_t need; /* continuation bytes still expected in the current sequence */
    uint8_t lo;   /* smallest byte allowed next (tightened after E0, ED, F0, F4) */
    uint8_t hi;   /* largest byte allowed next */
} utf8_state_t;

/* Resets st to the boundary state. */
void utf8_init(utf8_state_t *st);

/* Validates n more bytes. Returns 0 while everything seen so far can still be valid
 * UTF-8, -1 at the first impossible byte (the state is then meaningless). Borrows p. */
int utf8_feed(utf8_state_t *st, const uint8_t *p, size_t n);

/* Returns 1 when st is at a code point boundary, so the text may end here. */
int utf8_complete(const utf8_state_t *st);

/* Returns 1 when the n bytes at p are complete, valid UTF-8. Borrows p. */
int utf8_valid(const uint8_t *p, size_t n);

/* Replaces, in place, every byte of the n bytes at s that is not part of a valid UTF-8
 * sequence with '?', so text cut by a printf precision ("%.64s") or a full buffer can
 * still be sent as a JSON string. */
void utf8_scrub(char *s, size_t n);

/* The bytes the n bytes at s take inside a JSON string as the server encodes them
 * (Jansson, UTF-8 kept): '"' and '\\' take 2, \b \f \n \r \t 2, other control
 * characters 6 (\u00XX), every other byte 1. The quotes are not counted. Borrows s. */
size_t utf8_json_len(const char *s, size_t n);

#endif
