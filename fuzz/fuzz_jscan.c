/* fuzz_jscan.c: libFuzzer target for the envelope scanner (jscan.c): on any valid UTF-8
 * text (what the WebSocket layer delivers), the scanner and Jansson must agree (accept or
 * refuse alike, the same members and values, canonical exactly when Jansson writes the
 * value back byte for byte), and Jansson's own encoding must scan as trusted text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/utf8.h"
#include "../tests/unit/util/jscan_agree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!utf8_valid(data, size)) return 0;
    int rc;
    char why[300];
    if (jscan_agree((const char *)data, size, 0, &rc, why, sizeof(why)) != 0) {
        fprintf(stderr, "jscan and jansson disagree: %s\n", why);
        abort();
    }
    json_t *v = json_loadb((const char *)data, size, JSCAN_AGREE_FLAGS, NULL);
    if (!v) return 0;
    char *dump = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (jscan_agree(dump, strlen(dump), JSCAN_TRUSTED, &rc, why, sizeof(why)) != 0 ||
        (rc != 0 && rc != JSCAN_EUNSURE)) {
        fprintf(stderr, "jansson's encoding as trusted text: %d %s\n", rc, why);
        abort();
    }
    free(dump);
    json_decref(v);
    return 0;
}
