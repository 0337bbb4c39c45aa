/* webhook_rules.c: webhook event names, signatures and retry decisions (webhook_rules.h). */
#include "domain/webhook_rules.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "util/mem.h"

static const char *const names[WEBHOOK_EVENT_MAX] = {
    [WEBHOOK_ROOM_CREATED] = "room.created",
    [WEBHOOK_ROOM_DELETED] = "room.deleted",
    [WEBHOOK_ROOM_OCCUPIED] = "room.occupied",
    [WEBHOOK_ROOM_VACATED] = "room.vacated",
    [WEBHOOK_PARTICIPANT_JOINED] = "participant.joined",
    [WEBHOOK_PARTICIPANT_LEFT] = "participant.left",
    [WEBHOOK_MESSAGE_CREATED] = "message.created",
    [WEBHOOK_STATE_CHANGED] = "state.changed",
    [WEBHOOK_ENTITY_CHANGED] = "entity.changed",
    [WEBHOOK_DOCUMENT_SAVED] = "document.saved",
    [WEBHOOK_CLIENT_EVENT] = "client.event",
};

const char *webhook_event_name(webhook_event_t ev)
{
    return (unsigned)ev < WEBHOOK_EVENT_MAX ? names[ev] : "";
}

int webhook_list_next(const char **s, const char **item, size_t *len)
{
    const char *p = *s;
    for (;;) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p) break;
        const char *start = p;
        while (*p && *p != ',')
            p++;
        const char *end = p;
        while (end > start && end[-1] == ' ')
            end--;
        if (end > start) {
            *s = p;
            *item = start;
            *len = (size_t)(end - start);
            return 1;
        }
    }
    *s = p;
    return 0;
}

int webhook_events_parse(const char *s, uint32_t *mask)
{
    uint32_t m = 0;
    int any = 0;
    const char *start;
    size_t n;
    while (webhook_list_next(&s, &start, &n)) {
        any = 1;
        if (n == 1 && *start == '*') {
            m |= (1u << WEBHOOK_EVENT_MAX) - 1;
            continue;
        }
        int found = 0;
        for (int i = 0; i < WEBHOOK_EVENT_MAX; i++)
            if (strlen(names[i]) == n && memcmp(names[i], start, n) == 0) {
                m |= 1u << i;
                found = 1;
            }
        if (!found) return -1;
    }
    if (!any) return -1;
    *mask = m;
    return 0;
}

const char *webhook_url_check(const char *url)
{
    size_t skip;
    if (strncmp(url, "http://", 7) == 0)
        skip = 7;
    else if (strncmp(url, "https://", 8) == 0)
        skip = 8;
    else
        return "url must start with http:// or https://";
    size_t len = strlen(url);
    if (len > WEBHOOK_URL_MAX) return "url is longer than 2047 bytes";
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)url[i];
        if (ch <= 0x20 || ch >= 0x7f)
            return "url must not hold spaces, control or non-ASCII characters "
                   "(percent-encode them)";
    }
    const char *host = url + skip;
    size_t hlen = strcspn(host, "/?#");
    const char *at = memchr(host, '@', hlen);
    if (at) return "url must not hold credentials (user@host)";
    if (hlen == 0 || host[0] == ':') return "url must name a host";
    return NULL;
}

/* Whether name matches the glob p (plen bytes): '*' any run, else the byte itself. The
 * last '*' seen is the only backtracking point, so this is linear in both lengths. */
static int glob_match(const char *p, size_t plen, const char *name, size_t len)
{
    size_t i = 0, j = 0, star = (size_t)-1, mark = 0;
    while (j < len) {
        if (i < plen && p[i] == '*') {
            star = i++;
            mark = j;
        } else if (i < plen && p[i] == name[j]) {
            i++;
            j++;
        } else if (star != (size_t)-1) {
            i = star + 1;
            j = ++mark;
        } else {
            return 0;
        }
    }
    while (i < plen && p[i] == '*')
        i++;
    return i == plen;
}

int webhook_glob_list_match(const char *list, const char *name, size_t len)
{
    const char *s = list, *start;
    size_t n;
    while (webhook_list_next(&s, &start, &n))
        if (glob_match(start, n, name, len)) return 1;
    return 0;
}

int webhook_debounce_save(webhook_debounce_t *d, uint64_t now, uint64_t interval)
{
    if (d->sent && now - d->sent_at < interval) {
        d->held = 1;
        return 0;
    }
    d->sent = 1;
    d->sent_at = now;
    d->held = 0;
    return 1;
}

int webhook_debounce_due(webhook_debounce_t *d, uint64_t now, uint64_t interval)
{
    if (!d->held || (d->sent && now - d->sent_at < interval)) return 0;
    d->held = 0;
    d->sent = 1;
    d->sent_at = now;
    return 1;
}

void webhook_sign(const char *secret, int64_t ts, const char *body, size_t len, char *hex)
{
    char prefix[32];
    int n = snprintf(prefix, sizeof(prefix), "%lld.", (long long)ts);
    unsigned char mac[EVP_MAX_MD_SIZE];
    size_t maclen = 0;
    EVP_MAC *hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    CH_ASSERT(hmac);
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_new(hmac);
    CH_ASSERT(ctx);
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)"SHA256", 0),
        OSSL_PARAM_construct_end()};
    int ok = EVP_MAC_init(ctx, (const unsigned char *)secret, strlen(secret), params) &&
             EVP_MAC_update(ctx, (const unsigned char *)prefix, (size_t)n) &&
             EVP_MAC_update(ctx, (const unsigned char *)body, len) &&
             EVP_MAC_final(ctx, mac, &maclen, sizeof(mac));
    CH_ASSERT(ok && maclen * 2 == WEBHOOK_SIG_HEX);
    EVP_MAC_CTX_free(ctx);
    EVP_MAC_free(hmac);
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < maclen; i++) {
        hex[2 * i] = digits[mac[i] >> 4];
        hex[2 * i + 1] = digits[mac[i] & 15];
    }
    hex[WEBHOOK_SIG_HEX] = 0;
}

uint64_t webhook_retry_delay(const webhook_retry_t *p, uint32_t attempts, uint32_t rnd)
{
    uint64_t d = p->base_ms;
    for (uint32_t i = 1; i < attempts && d < p->max_ms; i++)
        d *= 2;
    if (d > p->max_ms) d = p->max_ms;
    uint64_t half = d / 2;
    return d - half + (uint64_t)rnd % (half + 1);
}

webhook_outcome_t webhook_outcome(const webhook_retry_t *p, int err, int status,
                                  uint32_t attempts, uint64_t now, uint32_t rnd,
                                  uint64_t *next_at)
{
    if (err == 0 && status >= 200 && status < 300) return WEBHOOK_DELIVERED;
    if (err == -ECANCELED || err == -ENOBUFS) {
        *next_at = now + p->base_ms;
        return WEBHOOK_REQUEUE;
    }
    if (attempts >= p->max_attempts) return WEBHOOK_DEAD;
    *next_at = now + webhook_retry_delay(p, attempts, rnd);
    return WEBHOOK_RETRY;
}
