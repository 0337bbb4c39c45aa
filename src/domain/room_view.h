/* room_view.h: a room as JSON for one caller, as the REST API shows it: the whole room,
 * with its state and participants, to a participant; a summary without what only
 * participants see to anyone else and in lists. Read by the room's home (GET
 * /api/rooms/:roomId, home_api.c) and by the lists that stay local (api_rooms.c). */
#ifndef CHORUS_ROOM_VIEW_H
#define CHORUS_ROOM_VIEW_H

#include <jansson.h>

#include "domain/rooms.h"

/* The room without state and currentMode (borrows r and room; returns a new reference). */
json_t *room_view_summary(rooms_t *r, const room_t *room);

/* The room as user_id (borrowed) may see it: room_json with "participants" when user_id
 * is a participant (not banned), else room_view_summary (borrows r and room; returns a
 * new reference). In a large room "participants" is the join reply's first page, with
 * "participantsNext", "participantCount" and "onlineCount". */
json_t *room_view_for(rooms_t *r, room_t *room, const char *user_id);

#endif
