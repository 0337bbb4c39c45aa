/* rtc_calls.h: the calls of the rooms at their home (issue 22): the rooms feature "rtc"
 * (a connection that goes, a user who leaves or is removed, leaves the call; a room freed
 * frees its call), the per-room table of calls, and the call's events
 * (rtc_member_joined, rtc_member_left, rtc_member_updated; docs/protocol.md, "Calls").
 * The rules of one call are rtc.h's; the ops are home_rtc.c's. */
#ifndef CHORUS_RTC_CALLS_H
#define CHORUS_RTC_CALLS_H

#include <jansson.h>

#include "domain/rooms.h"
#include "domain/rtc.h"
#include "domain/sfu.h"
#include "util/strmap.h"

/* The calls of one registry: the feature's state (its ud), owned by the app. */
typedef struct rtc_calls_s {
    strmap_t by_room;           /* room id -> rtc_room_t (owned, the key inside it) */
    rtc_limits_t lim;           /* from the configuration (the start hook) */
    const chorus_config_t *cfg; /* borrowed: the ICE servers' options (rtc_ice.h) */
    const sfu_t *sfu;           /* borrowed, set by the app: the SFU (rtc_sfu.h); NULL: none */
    rooms_t *rooms;             /* borrowed (the start hook): the SFU's answers find rooms */
} rtc_calls_t;

extern const rooms_feature_t rtc_feature;

/* Makes rc empty; the feature's start hook reads its limits. */
void rtc_calls_init(rtc_calls_t *rc);

/* Frees every call rc holds. */
void rtc_calls_free(rtc_calls_t *rc);

/* Reads the call limits from cfg (borrowed). */
rtc_limits_t rtc_calls_limits(const chorus_config_t *cfg);

/* Returns room's call (borrowed; owned by rc), made empty when create is set and it has
 * none, else NULL when it has none. */
rtc_call_t *rtc_calls_get(rtc_calls_t *rc, const room_t *room, int create);

/* Takes the member at index i out of room's call c (rc's), publishing rtc_member_left
 * {member: {id, userId}, reason} (reason borrowed) to the room but to the connection
 * except (BUS_MEMBER_NONE: nobody skipped); an empty call is freed (c is invalid then). */
void rtc_calls_leave(rtc_calls_t *rc, room_t *room, rtc_call_t *c, size_t i, const char *reason,
                     bus_member_t except);

/* Returns a new object of member m (borrowed), as the events and replies carry it:
 * {id, userId, audio, video, screen, muted, speaking, sharing, joinedAt}. */
json_t *rtc_member_json(const rtc_member_t *m);

/* Returns a new array of c's members (rtc_member_json), in the order they joined. */
json_t *rtc_members_json(const rtc_call_t *c);

/* Publishes {op: event, room, member: rtc_member_json(m), fields...} (fields: an object,
 * stolen, or NULL) to room's connections but except. Borrows the rest. */
void rtc_calls_publish(room_t *room, const char *event, const rtc_member_t *m, json_t *fields,
                       bus_member_t except);

#endif
