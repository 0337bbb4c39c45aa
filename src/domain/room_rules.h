/* room_rules.h: the membership and content rules of rooms, as pure functions (no I/O,
 * no registry), so they are tested directly and shared by REST and WebSocket paths. */
#ifndef CHORUS_ROOM_RULES_H
#define CHORUS_ROOM_RULES_H

#include <stddef.h>
#include <stdint.h>

/* 1 when s[0..len) is a room name: valid UTF-8, 1 to 100 code points, no control
 * characters. */
int room_name_valid(const char *s, size_t len);

/* 1 when cap is a capacity a room may have: 1 .. max. */
int room_capacity_valid(long long cap, uint32_t max);

/* 1 when a participant may post a message of type t: user_text, user_voice,
 * ai_response; system only for the host; app-defined "x-" + [a-z0-9_-]{1,30}. */
int room_message_type_valid(const char *t, int is_host);

/* Decides a join. Returns NULL when the user may join, or the error code: "banned" (kicked
 * with a ban) or "room_full" (a new member and every seat taken). A member who already
 * holds a seat may always come back. */
const char *room_join_check(int is_member, int banned, uint32_t seats, uint32_t capacity);

/* Placeholder display name of a participant whose join and token name none. */
#define ROOM_GUEST_NAME "guest"

/* 1 when a participant named want may not join beside one named other: the two names are
 * equal ignoring ASCII case (so "Ada" cannot pass for "ada"). The placeholder
 * ROOM_GUEST_NAME never clashes: any number of nameless users may share it. Borrows both.
 * Look-alike letters of other scripts are not caught; clients show the user id's color. */
int room_display_names_clash(const char *want, const char *other);

/* 1 when display name name contains query (a participants search: docs/protocol.md)
 * ignoring ASCII case; "" is in every name. Borrows both. */
int room_name_matches(const char *name, const char *query);

/* 1 when user_id may change state, kick or delete: only the host. */
int room_may_manage(const char *host_id, const char *user_id);

/* Decides a new capacity for a room whose seats are taken by seats members. Returns NULL
 * when cap is fine, "validation_error" when it is outside 1 .. max, or
 * "capacity_below_participants" when it is below seats (nobody is pushed out of a room
 * by a settings change: the host kicks first). */
const char *room_capacity_check(long long cap, uint32_t max, uint32_t seats);

#endif
