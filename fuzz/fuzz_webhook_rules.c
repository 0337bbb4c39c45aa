/* fuzz_webhook_rules.c: libFuzzer target for what webhook_rules.c reads from outside: an
 * endpoint URL as the server API takes it (webhook_url_check: an accepted one is http(s),
 * a host without credentials, no space, within WEBHOOK_URL_MAX) and a broadcast's event name
 * against a glob list (webhook_glob_list_match: "*" takes every name, a list holding the
 * name itself takes it). Input: the list, a newline, the name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/webhook_rules.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = 0;
    if (!webhook_url_check(s)) {
        size_t len = strlen(s);
        if (len > WEBHOOK_URL_MAX || strchr(s, ' ')) __builtin_trap();
        if (strncmp(s, "http://", 7) != 0 && strncmp(s, "https://", 8) != 0) __builtin_trap();
        const char *host = s + (s[4] == 's' ? 8 : 7);
        size_t hlen = strcspn(host, "/?#");
        if (hlen == 0 || memchr(host, '@', hlen)) __builtin_trap(); /* a host, no user@ */
    }
    char *nl = memchr(s, '\n', size);
    if (nl) {
        *nl = 0;
        const char *name = nl + 1;
        size_t nlen = size - (size_t)(nl + 1 - s);
        int m = webhook_glob_list_match(s, name, nlen);
        if (!webhook_glob_list_match("*", name, nlen)) __builtin_trap();
        /* A name without comma, space or star, listed as itself, matches. */
        if (nlen && !memchr(name, ',', nlen) && !memchr(name, ' ', nlen) &&
            !memchr(name, '*', nlen) && !memchr(name, 0, nlen) &&
            !webhook_glob_list_match(name, name, nlen))
            __builtin_trap();
        (void)m;
    }
    free(s);
    return 0;
}
