/* turn_cred.c: TURN credentials of coturn's shared-secret scheme and the ICE server list
 * (turn_cred.h). HMAC-SHA1 is OpenSSL's, base64 libsodium's (the standard alphabet with
 * padding, as coturn computes it). */
#include "auth/turn_cred.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>

#include "util/mem.h"

int turn_cred_make(const char *secret, size_t slen, const char *user_id, int64_t expiry,
                   char *user, size_t ucap, char pass[TURN_CRED_PASS_LEN])
{
    int n = snprintf(user, ucap, "%" PRId64 ":%s", expiry, user_id);
    if (n < 0 || (size_t)n >= ucap) return -1;
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    CH_ASSERT(HMAC(EVP_sha1(), secret, (int)slen, (const unsigned char *)user, (size_t)n, mac,
                   &mlen) != NULL);
    CH_ASSERT(mlen == 20);
    sodium_bin2base64(pass, TURN_CRED_PASS_LEN, mac, mlen, sodium_base64_VARIANT_ORIGINAL);
    return 0;
}

/* Appends the items of the comma-separated list (borrowed) to arr, spaces trimmed. */
static void add_urls(json_t *arr, const char *list)
{
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        if (!end) end = p + strlen(p);
        const char *a = p, *b = end;
        while (a < b && *a == ' ')
            a++;
        while (b > a && b[-1] == ' ')
            b--;
        if (b > a) json_array_append_new(arr, json_stringn(a, (size_t)(b - a)));
        p = *end ? end + 1 : end;
    }
}

json_t *turn_ice_servers(const chorus_config_t *cfg, const char *user_id, int64_t now_ms)
{
    json_t *servers = json_array();
    if (cfg->stun_urls && cfg->stun_urls[0]) {
        json_t *urls = json_array();
        add_urls(urls, cfg->stun_urls);
        json_array_append_new(servers, json_pack("{s:o}", "urls", urls));
    }
    if (cfg->turn_urls && cfg->turn_urls[0] && cfg->turn_secret && cfg->turn_secret[0]) {
        char user[TURN_CRED_USER_MAX + 1], pass[TURN_CRED_PASS_LEN];
        int64_t expiry = now_ms / 1000 + (int64_t)(cfg->turn_ttl / 1000);
        if (turn_cred_make(cfg->turn_secret, strlen(cfg->turn_secret), user_id, expiry, user,
                           sizeof(user), pass) == 0) {
            json_t *urls = json_array();
            add_urls(urls, cfg->turn_urls);
            json_array_append_new(servers, json_pack("{s:o, s:s, s:s}", "urls", urls,
                                                     "username", user, "credential", pass));
        }
        sodium_memzero(pass, sizeof(pass));
    }
    return servers;
}
