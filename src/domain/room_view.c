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
    if (!ROOMS_LARGE(r, room)) {
        json_object_set_new(j, "participants", room_members_json(room));
        return j;
    }
    /* A large room: the join reply's first page, its cursor and the counts (issue 26),
     * so the answer does not grow with the room. */
    roster_pos_t pos = {ROSTER_ONLINE, 0};
    char next[ROSTER_CURSOR_LEN];
    json_object_set_new(j, "participants",
                        room_members_page_json(room, &pos, 0, NULL,
                                               r->lim.join_participants ? r->lim.join_participants : 1,
                                               next));
    json_object_set_new(j, "participantsNext", next[0] ? json_string(next) : json_null());
    json_object_set_new(j, "participantCount", json_integer(room->seats));
    json_object_set_new(j, "onlineCount", json_integer(room->roster.online));
    return j;
}
