/* fuzz_iso_time.c: libFuzzer target for RFC 3339 date-times (iso_time.c): never reads
 * past the input, and a time it reads is at or after 1970 and before year 10000. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/iso_time.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = ch_malloc(size ? size : 1); /* exactly size bytes: ASan sees an overread */
    memcpy(s, data, size);
    int64_t ms = -1;
    if (iso_time_parse(s, size, &ms) == 0) CH_ASSERT(ms >= 0 && ms < 253402387200000LL);
    free(s);
    return 0;
}
