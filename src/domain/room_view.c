/* room_view.c: a room as JSON for one caller (room_view.h). */
#include "domain/room_view.h"

json_t *room_view_summary(rooms_t *r, const room_t *room)
{
    json_t *j = room_json(r, room);
    json_object_del(j, "state");
    json_object_del(j, "currentMode");
    return j;
}

json_t *room_view_for(rooms_t *r, room_t *room, const char *user_id)
{
    room_member_t *m = room_member(room, user_id);
    if (!m || m->banned) return room_view_summary(r, room);
    json_t *j = room_json(r, room);
    json_object_set_new(j, "participants", room_members_json(room));
    return j;
}
