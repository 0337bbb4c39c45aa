/* home_rpc.c: the rpc op's steps at the room's home (home.h): who the caller is in the room
 * (rpc.member, before the app's backend is called) and the backend's side effects applied
 * (rpc.apply, rooms_apply_effects). The call itself is the member's side's
 * (proto_rpc.c): the domain does no I/O. */
#include <stdlib.h>

#include "domain/home.h"
#include "util/mem.h"

static void op_member(void *ud, room_t *room, const bus_op_t *op)
{
    (void)ud;
    room_member_t *m = room_member(room, op->user);
    if (!m || m->banned) {
        bus_reply(&op->route, "forbidden", "only participants can call the app here", NULL);
        return;
    }
    bus_reply(&op->route, NULL, NULL,
              json_pack("{s:s, s:s}", "displayName", m->display_name, "role",
                        m->role == STORE_ROLE_HOST ? "host" : "member"));
}

/* rooms_done_fn of rpc.apply. */
static void applied(void *ud, const rooms_err_t *err, json_t *result)
{
    bus_route_t *route = ud; /* home_route_keep's */
    if (err && err->kind) {
        if (err->field)
            home_reply_field(route, err->code, err->field, err->message);
        else
            bus_reply(route, err->code, err->message, NULL);
        json_decref(result);
    } else {
        json_object_del(result, "success");
        bus_reply(route, NULL, NULL, result);
    }
    free(route);
}

static void op_apply(void *ud, room_t *room, const bus_op_t *op)
{
    json_t *effects = json_object_get(op->args, "effects");
    if (!json_is_object(effects)) {
        home_reply_field(&op->route, "validation_error", "effects",
                         "effects must be an object");
        return;
    }
    rooms_apply_effects(ud, room, effects, applied, home_route_keep(op));
}

static const home_op_t rpc_home_ops[] = {
    {"rpc.member", op_member},
    {"rpc.apply", op_apply},
};

void home_rpc_register(home_t *h)
{
    home_register(h, rpc_home_ops, CH_ARRAY_LEN(rpc_home_ops), h->rooms);
}
