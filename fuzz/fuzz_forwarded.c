/* fuzz_forwarded.c: libFuzzer target for the client address behind trusted proxies.
 * The input is split at the first NUL: the part before is a Forwarded value, the rest
 * an X-Forwarded-For value (no NUL: X-Forwarded-For only). The peer is trusted, as are
 * 10.0.0.0/8 and fd00::/8, so the hop walk runs. The result must always be the peer or
 * an address text that parses, and the CIDR parser must never crash on the same bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"
#include "util/net_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static net_cidr_t *trusted;
    static size_t ntrusted;
    if (!trusted && net_cidr_list_parse("127.0.0.1, 10.0.0.0/8, fd00::/8", &trusted,
                                        &ntrusted) != 0)
        abort();
    const char *s = (const char *)data;
    const char *nul = memchr(s, '\0', size);
    char out[NET_IP_TEXT];
    if (nul) {
        size_t flen = (size_t)(nul - s);
        net_client_ip("127.0.0.1", trusted, ntrusted, s, flen, nul + 1, size - flen - 1, out,
                      sizeof(out));
    } else {
        net_client_ip("127.0.0.1", trusted, ntrusted, NULL, 0, s, size, out, sizeof(out));
    }
    net_ip_t ip;
    if (strcmp(out, "127.0.0.1") != 0 && net_ip_parse(out, strlen(out), &ip) != 0) abort();
    char key[NET_IP_TEXT];
    net_ip_key(out, key, sizeof(key));
    /* The CIDR list parser on the same bytes, as a NUL-terminated string. */
    char *text = ch_malloc(size + 1);
    memcpy(text, data, size);
    text[size] = '\0';
    net_cidr_t *list;
    size_t n;
    if (net_cidr_list_parse(text, &list, &n) == 0) free(list);
    free(text);
    return 0;
}
