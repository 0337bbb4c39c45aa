/* fuzz_tus.c: libFuzzer target for the tus header parsers (tus_header.c). The same bytes
 * go to each: Upload-Metadata (every pair's key must be non-empty and every decoded byte
 * inside the buffer), Upload-Checksum and the offset/length parser (a parsed number must
 * print back as the input). */
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "proto/tus_header.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        if (sodium_init() < 0) abort();
        ready = 1;
    }
    /* A copy of exactly size bytes, so ASan sees any read past the end. */
    char *s = ch_malloc(size ? size : 1);
    memcpy(s, data, size);
    tus_meta_pair_t pairs[TUS_META_MAX_PAIRS];
    char buf[TUS_META_MAX_TEXT];
    size_t n = 0;
    if (tus_metadata_parse(s, size, pairs, TUS_META_MAX_PAIRS, &n, buf, sizeof(buf)) == 0) {
        CH_ASSERT(n <= TUS_META_MAX_PAIRS);
        for (size_t i = 0; i < n; i++) {
            CH_ASSERT(pairs[i].key[0] != '\0');
            CH_ASSERT(pairs[i].key >= buf && pairs[i].key < buf + sizeof(buf));
            CH_ASSERT(pairs[i].value >= buf &&
                      pairs[i].value + pairs[i].value_len < buf + sizeof(buf));
            CH_ASSERT(pairs[i].value[pairs[i].value_len] == '\0');
            CH_ASSERT(tus_metadata_get(pairs, n, pairs[i].key) == &pairs[i]);
        }
    }
    uint8_t digest[TUS_SHA256_LEN];
    (void)tus_checksum_parse(s, size, digest);
    uint64_t v = 0;
    if (tus_parse_u64(s, size, &v) == 0) {
        char back[32];
        int k = snprintf(back, sizeof(back), "%" PRIu64, v);
        /* leading zeros parse too: compare without them */
        size_t z = 0;
        while (z + 1 < size && s[z] == '0')
            z++;
        CH_ASSERT((size_t)k == size - z && memcmp(back, s + z, (size_t)k) == 0);
    }
    free(s);
    return 0;
}
