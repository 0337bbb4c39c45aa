/* fuzz_redirect.c: libFuzzer target for the --tls-redirect Location (http_redirect.c).
 * The input is split at the first NUL: a Host header value, then a request target (no
 * NUL: the whole input is the host, the target "/"). An accepted Location must start with
 * "https://", fit, and hold no byte that could end or split a header line. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "io/http_redirect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    const char *nul = memchr(s, '\0', size);
    size_t hlen = nul ? (size_t)(nul - s) : size;
    const char *target = nul ? nul + 1 : "/";
    size_t tlen = nul ? size - hlen - 1 : 1;
    char out[HTTP_REDIRECT_MAX];
    if (http_redirect_location(s, hlen, target, tlen, 8443, out, sizeof(out)) != 0) return 0;
    size_t n = strlen(out);
    if (n >= sizeof(out) || strncmp(out, "https://", 8) != 0) abort();
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)out[i] <= 0x20 || (unsigned char)out[i] >= 0x7f) abort();
    return 0;
}
