/* fuzz_apikey.c: libFuzzer target for an API key as presented in a bearer header
 * (apikey_parse, api_key.c): a text that parses is exactly chk_<16 hex>_<64 hex>, its id
 * is the 16 digits, and printing it back gives the same text; its hash always verifies. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#include "auth/apikey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apikey_parsed_t k;
    if (apikey_parse((const char *)data, size, &k) != 0) return 0;
    if (size != APIKEY_TEXT_LEN || strlen(k.id) != STORE_APIKEY_ID_LEN - 1) __builtin_trap();
    char text[APIKEY_TEXT_LEN + 1];
    int n = snprintf(text, sizeof(text), "chk_%s_", k.id);
    sodium_bin2hex(text + n, sizeof(text) - (size_t)n, k.secret, sizeof(k.secret));
    if (memcmp(text, data, size) != 0) __builtin_trap();
    char hash[STORE_APIKEY_HASH_LEN];
    apikey_hash(k.secret, hash);
    if (apikey_verify(hash, k.secret) != 0) __builtin_trap();
    return 0;
}
