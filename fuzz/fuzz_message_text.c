/* fuzz_message_text.c: libFuzzer target for a stored message written from its fields
 * (room_message_text, rooms.c) against the Jansson encoding it replaced (json_dumps of
 * room_message_json). The input is split at 0xFF bytes (never in UTF-8) into the content,
 * the display name, the user id, the metadata and the client id; a first byte picks the
 * app flag and the seq's and time's sizes. Text fields are cut at a NUL and kept only as
 * valid UTF-8 (what the checks before a post let through); the metadata is kept when
 * Jansson reads it as an object, stored as Jansson writes it (as a post stores it). The
 * two encodings must be the same bytes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/rooms.h"
#include "util/utf8.h"

/* Copies field i of the input (up to the next 0xFF) into out (cap bytes) as a C string:
 * cut at a NUL, at cap - 1 bytes, and emptied when it is not valid UTF-8. */
static void field(const uint8_t *p, size_t n, size_t *at, char *out, size_t cap)
{
    size_t start = *at, k = 0;
    while (*at < n && p[*at] != 0xFF)
        (*at)++;
    size_t len = *at - start;
    if (*at < n) (*at)++; /* the separator */
    while (k < len && k + 1 < cap && p[start + k] != 0)
        k++;
    memcpy(out, p + start, k);
    out[k] = '\0';
    if (!utf8_valid((const uint8_t *)out, k)) out[0] = '\0';
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    uint8_t flags = data[0];
    size_t at = 1;
    store_message_t m;
    memset(&m, 0, sizeof(m));
    static char content[4096], meta_src[4096]; /* libFuzzer runs one input at a time */
    field(data, size, &at, content, sizeof(content));
    field(data, size, &at, m.display_name, sizeof(m.display_name));
    field(data, size, &at, m.user_id, sizeof(m.user_id));
    field(data, size, &at, meta_src, sizeof(meta_src));
    field(data, size, &at, m.client_id, sizeof(m.client_id));
    snprintf(m.id, sizeof(m.id), "0b7c1f0e-8d2a-4b7e-9a51-3c2f5e6d7a8b");
    snprintf(m.room_id, sizeof(m.room_id), "r_fuzz");
    snprintf(m.type, sizeof(m.type), flags & 1 ? "system" : "user_text");
    m.app = (flags >> 1) & 1;
    m.seq = (flags & 4) ? INT64_MAX - (int64_t)size : (int64_t)size;
    m.created_at = (flags & 8) ? -(int64_t)size * 1000003 : (int64_t)size * 1000003;
    m.content = flags & 16 ? NULL : content;
    json_t *meta = json_loads(meta_src, JSON_ALLOW_NUL, NULL);
    if (json_is_object(meta)) m.metadata = json_dumps(meta, JSON_COMPACT);
    json_decref(meta);
    size_t len = 0;
    char *text = room_message_text(&m, &len);
    json_t *tree = room_message_json(&m);
    char *old = tree ? json_dumps(tree, JSON_COMPACT) : NULL;
    if (!old || len != strlen(text) || strcmp(text, old) != 0) __builtin_trap();
    free(old);
    json_decref(tree);
    free(text);
    free(m.metadata);
    return 0;
}
