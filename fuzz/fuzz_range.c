/* fuzz_range.c: libFuzzer target for the Range header parser (http_range.c). The first
 * 8 bytes are the representation's size; a range it answers must lie inside it. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/http_range.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 8) return 0;
    uint64_t total;
    memcpy(&total, data, 8);
    total >>= (data[0] & 63); /* small sizes too */
    char *v = ch_malloc(size - 8 ? size - 8 : 1);
    memcpy(v, data + 8, size - 8);
    uint64_t start = 0, len = 0;
    int rc = http_range_parse(v, size - 8, total, &start, &len);
    CH_ASSERT(rc == HTTP_RANGE_OK || rc == HTTP_RANGE_WHOLE || rc == HTTP_RANGE_UNSATISFIABLE);
    if (rc == HTTP_RANGE_OK) CH_ASSERT(len > 0 && start < total && len <= total - start);
    free(v);
    return 0;
}
