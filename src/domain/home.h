/* home.h: where an operation reaches the room it changes. The home serves the bus's
 * operations side (bus_serve, bus.h) for the rooms of this process: it finds the op's
 * handler by name in a table the modules fill (the room ops: home_rooms.c and
 * home_join.c; documents and entities register theirs the same way), finds the room by
 * id, and calls the handler,
 * which reads the op's JSON arguments, calls the domain with the member's identity and
 * user, and answers exactly once through bus_reply(&op->route, ...), now or after a store
 * commit. The member's side (proto_rooms.c) checks access and sends the op; the home
 * sees no connection and no request struct, only the bus_op_t. */
#ifndef CHORUS_HOME_H
#define CHORUS_HOME_H

#include <stddef.h>

#include "bus/bus.h"
#include "domain/rooms.h"

/* The answer of an op nobody registered: the code the member's dispatcher gives an op it
 * does not know (the envelope's unknown_op). */
#define HOME_UNKNOWN_OP "unknown_op"

/* The answer of an op for a room that is not (or no longer) here. */
#define HOME_NOT_FOUND_CODE "not_found"
#define HOME_NOT_FOUND_MESSAGE "no such room"

/* Handles op (borrowed for the call) on room (live, borrowed), with the ud it was
 * registered with; answers through bus_reply(&op->route, ...) exactly once, now or later
 * (copying op->route by value to answer later). */
typedef void (*home_op_fn)(void *ud, room_t *room, const bus_op_t *op);

/* One op a module handles at the room's home. */
typedef struct {
    const char *name;          /* the op's name, as the frame's "op" */
    home_op_fn fn;
} home_op_t;

/* A registered op: its entry (borrowed) and the module's ud (borrowed). */
typedef struct {
    const home_op_t *op;
    void *ud;
} home_slot_t;

/* An op waiting for its user's quota allowance (a cluster's, rooms_quota_wait). */
typedef struct home_wait_s home_wait_t;

/* The most ops that wait for allowances at once; past it they are answered unavailable. */
#define HOME_WAIT_MAX 4096

typedef struct {
    rooms_t *rooms;            /* borrowed: where ops find their room */
    bus_t *bus;                /* borrowed: whose operations this home serves */
    home_slot_t *slots;        /* owned: open-addressing hash of op name -> handler */
    size_t nslots, nops;
    home_wait_t *wait_head, *wait_tail; /* owned: waiting ops, oldest first */
    size_t nwait;
} home_t;

/* Makes h the home of rooms' rooms (borrowed; must outlive h) and serves bus's operations
 * (bus_serve) with it. No op is registered yet. */
void home_init(home_t *h, rooms_t *rooms, bus_t *bus);

/* Registers n ops (the table is borrowed: it must outlive h), each called with ud
 * (borrowed). A name registered twice is a bug. */
void home_register(home_t *h, const home_op_t *ops, size_t n, void *ud);

/* Handles op (borrowed for the call) as the bus hands it over: answers unknown_op for a
 * name nobody registered and not_found for a room that is not here, else calls the op's
 * handler. Answers exactly once, through op->route. ud is the home_t. */
void home_serve(void *ud, const bus_op_t *op);

/* Frees what h owns (the table; not the rooms or the bus). The bus must serve no more. */
void home_free(home_t *h);

/* ---- what the op handlers share (home.c) ---- */

/* Answers the op of route (borrowed) with error code and message (borrowed) naming field
 * (borrowed): the field goes in the error's data, {"field": field} (bus.h). */
void home_reply_field(const bus_route_t *route, const char *code, const char *field,
                      const char *message);

/* Returns a copy of op's route (owned by the caller: free it once answered), the
 * completion context of an op that answers after the store's commit. */
bus_route_t *home_route_keep(const bus_op_t *op);

/* Reads op's optional argument name (borrowed) as a non-negative integer into *out (def
 * when absent or null). Returns 0, or -1 after answering validation_error naming it. */
int home_opt_uint(const bus_op_t *op, const char *name, int64_t def, int64_t *out);

/* Returns op's arguments (borrowed) as scanned text: op->scan when the member's side
 * scanned the frame (the hot ops), else the members of op->args named in keys[0..nkeys)
 * scanned into tmp from their encoding in *text (new: the caller frees it; NULL when
 * nothing was allocated). So a handler reads its arguments one way, with no tree. */
const jscan_t *home_args(const bus_op_t *op, jscan_t *tmp, const char *const *keys,
                         size_t nkeys, char **text);

/* Registers the room ops (home_rooms.c: message, broadcast, presence, state, history,
 * leave, rotate_code, room_update; and home_join_register's) on h, working on h's rooms. */
void home_rooms_register(home_t *h);

/* The REST room routes that act on an existing room (api_rooms.c), as ops of their own
 * (home_api.c), since they answer differently from the WebSocket ops: an answer's data is
 * the response's body whole ({"success": true, ...}, in the order it is sent), and an
 * error's data is {"kind": the rooms_errno_t, "field"?: the field at fault}, from which
 * the REST side chooses the status (api_status_of); the home's own not_found (the room is
 * not, or no longer, here) comes without a kind. api_rooms.c has checked that the caller
 * may learn of the room (rooms_access, with the failed-lookup limit by address) before
 * sending the op, as proto_rooms.c does. The caller is the op's user (the token's sub);
 * route.member is BUS_MEMBER_NONE (a request has no connection). The arguments:
 *   rest.get          -                       the room as the caller may see it
 *   rest.delete       -                       rooms_delete
 *   rest.join         displayName?, userName, userColor (the token's name and color,
 *                     "" when it has none)    rooms_join: membership, no subscription
 *   rest.leave        -                       rooms_leave
 *   rest.participants cursor?, limit?, query?, online?   a page of the participants
 *                                             (home_participants.c)
 *   rest.messages     before, after, limit    rooms_history (-1: no bound)
 *   rest.entities     version, cursor         a page of entities (version -1: the first
 *                                             page; cursor -1: from version)
 *   rest.state        patch?                  rooms_patch_state
 *   rest.kick         userId, ban             rooms_kick
 *   rest.code         -                       rooms_rotate_code
 *   rest.update       body?                   rooms_update (the request's body)
 *   rest.bans         -                       the bans (host only)
 *   rest.unban        userId                  rooms_unban
 *   admin.close       -                       rooms_admin_close (the REST side checked
 *                                             that the caller is an admin)
 * Creating a room and the room lists do not go through the home: see api_rooms.c. */
#define HOME_KIND_KEY "kind"

/* An op's argument set true by a member's side that could not tell whether op->user is a
 * participant (a room at home on another node: its stand-in's member list is not the
 * room's): the home answers not_found "no such room" to anyone but a participant (not
 * banned), as rooms_access would have on one node, before the op runs (home_serve). */
#define HOME_MEMBER_KEY "memberOnly"

/* The op a member's side sends a room's home (on another node) for an op of a connection
 * that has not joined the room, with HOME_MEMBER_KEY: a participant is answered forbidden
 * "join the room first" (home_api.c), anyone else not_found (home_serve). */
#define HOME_OP_JOIN_FIRST "check.join_first"

/* Registers the REST ops (home_api.c, above) on h, working on h's rooms. */
void home_api_register(home_t *h);

/* Registers the server API's room ops (home_server.c) on h, working on h's rooms; an app
 * backend's, with the host's rights, answered as the rest.* ops are (above):
 *   server.message    type, content, metadata?, author   rooms_post_app
 *   server.broadcast  event, data?            rooms_broadcast from "" (no user)
 *   server.state      patch?                  rooms_patch_state as the host
 *   server.kick       userId, ban             rooms_kick as the host
 *   server.presence   none                    {"success", "presence": [{"userId",
 *                                             "displayName", "state"}]}: those online
 * The server API reads participants and history with rest.participants and
 * rest.messages, which do not depend on the caller. */
void home_server_register(home_t *h);

/* Registers join and detach (home_join.c) on h, working on h's rooms.
 * - join: args {"displayName"? (checked by the member's side), "since" (sync entities
 *   from this version; -1 or absent: all), "userName", "userColor" (the caller's token
 *   claims), "attach" (true: the connection is not in the room yet), "role"? ("host" or
 *   "member": the join hook's; absent: the member keeps theirs)}. Joins op->user
 *   (rooms_join_quiet), attaches the connection op->route.member when asked
 *   (rooms_attach), and answers with bus_reply_parts: the room's snapshot, the data of
 *   today's join reply. The route's function subscribes the connection before it replies
 *   (bus.h: subscribing in the answer), or detaches it when it went away meanwhile.
 * - detach (ROOMS_OP_DETACH): args {"undo"?: true}; the connection op->route.member left
 *   the room on its process, or (undo) a join's attach is taken back because the
 *   connection never subscribed through it (rooms_detach); answered with success, which
 *   nobody waits for. */
void home_join_register(home_t *h);

/* Registers the rpc op's steps at the room's home (home_rpc.c), working on h's rooms; the
 * member's side (proto_rpc.c) calls the app's backend between them:
 * - rpc.member: args none; answers {"displayName", "role": "host" or "member"} of op->user,
 *   or forbidden when they are not a participant (or banned).
 * - rpc.apply: args {"effects"}: rooms_apply_effects; answers {"messages", "stateVersion"?}
 *   or the refusal (its field in the error's data). */
void home_rpc_register(home_t *h);

/* Registers the asset op (home_assets.c) on h, working on h's rooms:
 * - asset.event: args {"event": "asset_added" or "asset_removed", "asset": the asset's
 *   object}: every connection in the room gets {"op": event, "room", "asset"}; answers
 *   success. The member's side (api_assets.c) stored the change and checked the caller. */
void home_assets_register(home_t *h);

/* Registers the activity stream's reads (home_activity.c, issue 25) on h:
 * - activity: args {"before"?: a nextCursor, "limit"?: 1..200 (50)}: answers {"activity":
 *   [rows newest first], "nextCursor": the next page's cursor or null}.
 * - rest.activity: the same for the REST routes, with "success": true. */
void home_activity_register(home_t *h);
/* Registers the participants' pages (home_participants.c, issue 26) on h:
 * - participants: args {"cursor"?: an answer's next, "limit"?: 1..500 (100), "query"?: at
 *   most 64 characters found in the display name ignoring ASCII case, "online"?: true for
 *   those online only}: answers {"participants", "next": the next page's cursor or null,
 *   "participantCount", "onlineCount"}; a cursor no answer gave is bad_request.
 * - rest.participants: the same for the REST routes and the server API, with "success". */
void home_participants_register(home_t *h);
/* Registers snapshot_at (home_history.c, issue 25: the room at an earlier moment, from the
 * store's change log) on h, working on h's rooms; and rest.snapshot_at, the same for the
 * REST routes (GET /api/rooms/:id/snapshot, the server API's), with "success": true and
 * the error's kind in its data (HOME_KIND_KEY; history_unavailable: ROOMS_E_GONE). */
void home_history_register(home_t *h);
/* Registers the call ops (home_rtc.c; docs/protocol.md, "Calls") on h, working on the
 * calls of rc (borrowed: it must outlive h):
 * - rtc_join: args {audio?, video?, screen?, muted?} (booleans, default false): the
 *   connection op->route.member joins the room's call (or, already in it, takes the new
 *   flags); answers {id, mode, members, iceServers}; rtc_member_joined to the others.
 * - rtc_leave: args none; rtc_member_left {reason: "left"} to the others.
 * - rtc_signal: args {to, data} (scanned): rtc_signal {from, userId, data} to the one
 *   connection of the call member to; answers success.
 * - rtc_state: args {muted?, speaking?, sharing?} (scanned): rtc_member_updated to the
 *   others when something changed; answers {member}. */
struct rtc_calls_s;
void home_rtc_register(home_t *h, struct rtc_calls_s *rc);

#endif
