/* home_assets.c: the asset op at its room's home (home.h): every connection in the room
 * is told that an asset was added, updated (a new version) or removed (docs/protocol.md,
 * "Assets"). The member's side (api_assets.c) stored or deleted the record and checked who
 * may; the home only publishes, as for any event of the room, so a cluster bus carries it
 * unchanged. */
#include <string.h>

#include "domain/activity_log.h"
#include "domain/home.h"
#include "util/mem.h"

/* asset.event {event: "asset_added" | "asset_updated" | "asset_removed", asset: {...}}:
 * published to the room as {"op": event, "room", "asset"}. A new version (updated) makes
 * no activity row: the activity stream has no kind for it yet. */
static void op_asset_event(void *ud, room_t *room, const bus_op_t *op)
{
    const char *ev = json_string_value(json_object_get(op->args, "event"));
    const json_t *asset = json_object_get(op->args, "asset");
    if (!ev ||
        (strcmp(ev, "asset_added") != 0 && strcmp(ev, "asset_removed") != 0 &&
         strcmp(ev, "asset_updated") != 0) ||
        !json_is_object(asset)) {
        json_t *data =
            json_pack("{s:i, s:s}", HOME_KIND_KEY, (int)ROOMS_E_INVALID, "field", "event");
        bus_reply(&op->route, "validation_error", "event and asset are required", data);
        return;
    }
    json_t *fields = json_pack("{s:O}", "asset", asset);
    jpart_t parts[1] = {{.obj = fields}};
    bus_publish(&room->bus, &(bus_event_t){.room = room->id,
                                           .name = ev,
                                           .parts = parts,
                                           .nparts = 1,
                                           .except = BUS_MEMBER_NONE});
    json_decref(fields);
    rooms_t *r = ud;
    const char *user = op->user ? op->user : "";
    if (strcmp(ev, "asset_added") == 0)
        activity_log_row(
            r->act, room, ACTIVITY_ASSET_ADDED, user, NULL,
            json_pack("{s:O?, s:O?, s:O?, s:O?}", "asset", json_object_get(asset, "id"), "name",
                      json_object_get(asset, "name"), "type", json_object_get(asset, "type"),
                      "size", json_object_get(asset, "size")));
    else if (strcmp(ev, "asset_removed") == 0)
        activity_log_row(r->act, room, ACTIVITY_ASSET_REMOVED, user, NULL,
                         json_pack("{s:O?, s:O?}", "asset", json_object_get(asset, "id"),
                                   "name", json_object_get(asset, "name")));
    bus_reply(&op->route, NULL, NULL, json_pack("{s:b}", "success", 1));
}

static const home_op_t home_assets_ops[] = {
    {"asset.event", op_asset_event},
};

void home_assets_register(home_t *h)
{
    home_register(h, home_assets_ops, CH_ARRAY_LEN(home_assets_ops), h->rooms);
}
