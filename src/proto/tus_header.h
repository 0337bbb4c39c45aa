/* tus_header.h: pure parsers for the tus 1.0 request headers (Upload-Offset,
 * Upload-Length, Upload-Metadata, Upload-Checksum), shared by the routes and the fuzzer. */
#ifndef CHORUS_TUS_HEADER_H
#define CHORUS_TUS_HEADER_H

#include <stddef.h>
#include <stdint.h>

#define TUS_VERSION "1.0.0"
#define TUS_SHA256_LEN 32
/* Upload-Metadata: pairs and decoded bytes kept. 32 pairs and 1 KiB of text are far more
 * than a file name and a type need, and the header is sent back on every HEAD. */
#define TUS_META_MAX_PAIRS 32
#define TUS_META_MAX_TEXT 1024

/* Parses a non-negative decimal (Upload-Offset, Upload-Length) of n bytes: digits only,
 * at most 2^63 - 1 (an off_t). Returns 0 with *out set, or -EINVAL. Borrows s. */
int tus_parse_u64(const char *s, size_t n, uint64_t *out);

typedef struct {
    const char *key;   /* NUL-terminated, into the caller's buf */
    const char *value; /* decoded, NUL-terminated, into buf; "" when the pair had none */
    size_t value_len;  /* may hold NUL bytes: use the length */
} tus_meta_pair_t;

/* Parses an Upload-Metadata value of n bytes: comma-separated "key" or "key base64"
 * pairs, keys non-empty printable ASCII without spaces or commas and unique, values
 * standard base64 (padded). Decoded keys and values go into buf (cap bytes), the pairs
 * into pairs (max of them). Returns 0 with *npairs set, -EINVAL when malformed, or
 * -E2BIG when more than max pairs or cap bytes. Borrows s. */
int tus_metadata_parse(const char *s, size_t n, tus_meta_pair_t *pairs, size_t max,
                       size_t *npairs, char *buf, size_t cap);

/* Returns the pair named key, or NULL. */
const tus_meta_pair_t *tus_metadata_get(const tus_meta_pair_t *pairs, size_t n,
                                        const char *key);

/* Parses an Upload-Checksum value ("sha256 <base64 of 32 bytes>"). Returns 0 with digest
 * set, -ENOTSUP for another algorithm (tus: 400), or -EINVAL when malformed. */
int tus_checksum_parse(const char *s, size_t n, uint8_t digest[TUS_SHA256_LEN]);

/* 1 when content type (type_len bytes, borrowed; parameters after ';' ignored) is allowed
 * by list (borrowed, NUL-terminated): comma-separated types, or a major type, "/" and a star,
 * compared case-insensitively; an empty list allows anything, including no type. */
int tus_type_allowed(const char *list, const char *type, size_t type_len);

#endif
