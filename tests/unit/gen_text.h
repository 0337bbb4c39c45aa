/* gen_text.h: generated inputs, and the byte-for-byte check, for the differential tests of texts written by hand against
 * Jansson (test_room_text.c, test_activity_text.c): valid UTF-8 with every kind of
 * character Jansson escapes or passes through, and 64-bit integers of every size and sign.
 * rand_r's seed makes a run repeatable. */
#ifndef CHORUS_TEST_GEN_TEXT_H
#define CHORUS_TEST_GEN_TEXT_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Writes up to max - 1 bytes of valid UTF-8 and a NUL into out. */
static void gen_text(char *out, size_t max, unsigned *seed)
{
    static const char *const pieces[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t",
                                         "\x01", "\x1f", "\x7f", "\xc3\xa9", "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80", "-", "_"};
    size_t n = (size_t)(rand_r(seed) % 24), len = 0;
    for (size_t i = 0; i < n; i++) {
        const char *p = pieces[(size_t)rand_r(seed) % (sizeof(pieces) / sizeof(pieces[0]))];
        size_t k = strlen(p);
        if (len + k + 1 > max) break;
        memcpy(out + len, p, k);
        len += k;
    }
    out[len] = '\0';
}

/* An integer of up to ~62 bits, either sign. */
static int64_t gen_int(unsigned *seed)
{
    uint64_t u = ((uint64_t)rand_r(seed) << 33) ^ ((uint64_t)rand_r(seed) << 2) ^
                 (uint64_t)rand_r(seed);
    int64_t v = (int64_t)(u >> 1); /* up to 62 bits: its negation fits too */
    return rand_r(seed) % 2 ? v : -v;
}

/* Takes text (len bytes, written by hand) and tree (what it replaced): 1 when text is
 * Jansson's compact encoding of tree byte for byte, else 0, both printed. Frees both. */
static int gen_same_as_tree(char *text, size_t len, json_t *tree)
{
    char *old = json_dumps(tree, JSON_COMPACT);
    int ok = old && len == strlen(text) && strcmp(text, old) == 0;
    if (!ok) fprintf(stderr, "  new: %s\n  old: %s\n", text, old ? old : "(null)");
    free(old);
    json_decref(tree);
    free(text);
    return ok;
}

#endif
