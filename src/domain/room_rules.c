/* room_rules.c: pure room rules (see room_rules.h). */
#include "domain/room_rules.h"

#include <string.h>
#include <strings.h>

#include "util/utf8.h"

#define ROOM_NAME_MAX_CP 100
#define TYPE_X_MAX 30

int room_name_valid(const char *s, size_t len)
{
    if (len == 0 || !utf8_valid((const uint8_t *)s, len)) return 0;
    size_t cps = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if ((ch & 0xC0) != 0x80) cps++;
        if (ch < 0x20 || ch == 0x7f) return 0;
        /* C1 controls are U+0080..U+009F: C2 80..C2 9F in UTF-8. */
        if (ch == 0xC2 && i + 1 < len && (unsigned char)s[i + 1] < 0xA0) return 0;
    }
    return cps <= ROOM_NAME_MAX_CP;
}

int room_capacity_valid(long long cap, uint32_t max)
{
    return cap >= 1 && cap <= (long long)max;
}

int room_message_type_valid(const char *t, int is_host)
{
    if (strcmp(t, "user_text") == 0 || strcmp(t, "user_voice") == 0 ||
        strcmp(t, "ai_response") == 0)
        return 1;
    if (strcmp(t, "system") == 0) return is_host;
    size_t n = strlen(t);
    if (n < 3 || n > 2 + TYPE_X_MAX || t[0] != 'x' || t[1] != '-') return 0;
    for (const char *p = t + 2; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '_'))
            return 0;
    return 1;
}

const char *room_join_check(int is_member, int banned, uint32_t seats, uint32_t capacity)
{
    if (banned) return "banned";
    if (!is_member && seats >= capacity) return "room_full";
    return NULL;
}

int room_may_manage(const char *host_id, const char *user_id)
{
    return strcmp(host_id, user_id) == 0;
}

int room_display_names_clash(const char *want, const char *other)
{
    return strcasecmp(want, other) == 0 && strcmp(want, ROOM_GUEST_NAME) != 0;
}

int room_name_matches(const char *name, const char *query)
{
    size_t n = strlen(name), q = strlen(query);
    for (size_t i = 0; i + q <= n; i++)
        if (strncasecmp(name + i, query, q) == 0) return 1;
    return 0;
}

const char *room_capacity_check(long long cap, uint32_t max, uint32_t seats)
{
    if (!room_capacity_valid(cap, max)) return "validation_error";
    if (cap < (long long)seats) return "capacity_below_participants";
    return NULL;
}
