/* home.c: where an operation reaches the room it changes (home.h): the table of the
 * modules' op handlers by name, and the dispatch of the bus's operations to them. */
#include "domain/home.h"

#include <stdio.h>
#include <string.h>

#include "util/mem.h"

/* FNV-1a over the op's name: short names, a table fixed at start-up. */
static size_t name_hash(const char *s)
{
    size_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static const home_slot_t *slot_of(const home_t *h, const char *name)
{
    if (!h->nslots) return NULL;
    for (size_t i = name_hash(name) & (h->nslots - 1);; i = (i + 1) & (h->nslots - 1)) {
        const home_slot_t *s = &h->slots[i];
        if (!s->op) return NULL;
        if (strcmp(s->op->name, name) == 0) return s;
    }
}

static void slot_put(home_slot_t *slots, size_t nslots, home_slot_t s)
{
    size_t i = name_hash(s.op->name) & (nslots - 1);
    while (slots[i].op) {
        CH_ASSERT(strcmp(slots[i].op->name, s.op->name) != 0);
        i = (i + 1) & (nslots - 1);
    }
    slots[i] = s;
}

void home_init(home_t *h, rooms_t *rooms, bus_t *bus)
{
    memset(h, 0, sizeof(*h));
    h->rooms = rooms;
    h->bus = bus;
    bus_serve(bus, home_serve, h);
}

void home_register(home_t *h, const home_op_t *ops, size_t n, void *ud)
{
    if ((h->nops + n) * 2 > h->nslots) {
        /* The load stays under 1/2, so probes stay short. */
        size_t nslots = h->nslots ? h->nslots : 16;
        while ((h->nops + n) * 2 > nslots) nslots *= 2;
        home_slot_t *slots = ch_calloc(nslots, sizeof(*slots));
        for (size_t i = 0; i < h->nslots; i++)
            if (h->slots[i].op) slot_put(slots, nslots, h->slots[i]);
        free(h->slots);
        h->slots = slots;
        h->nslots = nslots;
    }
    for (size_t i = 0; i < n; i++) slot_put(h->slots, h->nslots, (home_slot_t){&ops[i], ud});
    h->nops += n;
}

void home_serve(void *ud, const bus_op_t *op)
{
    home_t *h = ud;
    const home_slot_t *s = slot_of(h, op->name);
    if (!s) {
        /* The member's side sends only ops it knows; answered as its dispatcher would. */
        char message[96];
        snprintf(message, sizeof(message), "unknown op \"%.64s\"", op->name);
        bus_reply(&op->route, HOME_UNKNOWN_OP, message, NULL);
        return;
    }
    room_t *room = strmap_get(&h->rooms->by_id, op->room);
    if (!room) {
        bus_reply(&op->route, HOME_NOT_FOUND_CODE, HOME_NOT_FOUND_MESSAGE, NULL);
        return;
    }
    if (json_is_true(json_object_get(op->args, HOME_MEMBER_KEY))) {
        room_member_t *m = room_member(room, op->user);
        if (!m || m->banned) {
            bus_reply(&op->route, HOME_NOT_FOUND_CODE, HOME_NOT_FOUND_MESSAGE, NULL);
            return;
        }
    }
    s->op->fn(s->ud, room, op);
}

void home_free(home_t *h)
{
    free(h->slots);
    h->slots = NULL;
    h->nslots = h->nops = 0;
}

void home_reply_field(const bus_route_t *route, const char *code, const char *field,
                      const char *message)
{
    bus_reply(route, code, message, json_pack("{s:s}", "field", field));
}

int home_opt_uint(const bus_op_t *op, const char *name, int64_t def, int64_t *out)
{
    json_t *v = json_object_get(op->args, name);
    *out = def;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%.48s must be a non-negative integer", name);
        home_reply_field(&op->route, "validation_error", name, msg);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

const jscan_t *home_args(const bus_op_t *op, jscan_t *tmp, const char *const *keys,
                         size_t nkeys, char **text)
{
    *text = NULL;
    if (op->scan) return op->scan;
    if (!op->args) {
        CH_ASSERT(jscan_parse(tmp, "{}", 2, JSCAN_TRUSTED) == 0);
        return tmp;
    }
    /* nkeys <= JSCAN_MAX_MEMBERS: a handler names the few it reads. */
    CH_ASSERT(jscan_json(tmp, op->args, keys, nkeys, text) == 0);
    return tmp;
}

bus_route_t *home_route_keep(const bus_op_t *op)
{
    bus_route_t *route = ch_malloc(sizeof(*route));
    *route = op->route;
    return route;
}
