/* home.c: where an operation reaches the room it changes (home.h): the table of the
 * modules' op handlers by name, and the dispatch of the bus's operations to them. */
#include "domain/home.h"

#include <stdio.h>
#include <string.h>

#include "util/mem.h"

/* ---- ops waiting for their user's quota allowance (a cluster: rooms_quota.c) ---- */

struct home_wait_s {
    home_wait_t *next;
    char *who;                /* whose allowance it waits for */
    char *room, *name, *user; /* the op's */
    char *sub_doc;            /* NULL: none */
    json_t *args;             /* its arguments as a tree (a scanned frame parsed) */
    bus_route_t route;
    int subscribes, remote;
};

/* The ops that may store bytes charged to their caller, and to the room's host. */
static const char *const home_store_caller[] = {"message",       "doc_op",        "doc_ops",
                                                "entity_create", "entity_update", "rpc.apply"};
static const char *const home_store_host[] = {"state", "rest.state", "server.state"};

static int names_have(const char *const *names, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0) return 1;
    return 0;
}

static int waiting(const home_t *h, const char *who)
{
    for (const home_wait_t *w = h->wait_head; w; w = w->next)
        if (strcmp(w->who, who) == 0) return 1;
    return 0;
}

/* Whether op name may store bytes (waits for an allowance). */
static int stores(const char *name)
{
    return names_have(home_store_caller, CH_ARRAY_LEN(home_store_caller), name) ||
           names_have(home_store_host, CH_ARRAY_LEN(home_store_host), name);
}

/* The allowance the last waiting op of caller user waits for (borrowed), or NULL. */
static const char *caller_waits(const home_t *h, const char *user)
{
    const char *who = NULL;
    for (const home_wait_t *w = h->wait_head; w; w = w->next)
        if (strcmp(w->user, user) == 0) who = w->who;
    return who;
}

/* The user whose allowance op must wait for (borrowed), or NULL: it runs now. An op of a
 * user with ops waiting waits behind them, so a connection's writes keep their order, and
 * so does any op of a caller with writes waiting: a leave, a read or a presence sent after
 * a message must not overtake it. */
static const char *quota_waits_for(home_t *h, const room_t *room, const bus_op_t *op)
{
    if (!h->rooms->quota_holder) return NULL;
    if (h->wait_head && op->user && op->user[0]) {
        const char *prev = caller_waits(h, op->user);
        if (prev) return prev;
    }
    const char *who;
    if (names_have(home_store_caller, CH_ARRAY_LEN(home_store_caller), op->name))
        who = op->user;
    else if (names_have(home_store_host, CH_ARRAY_LEN(home_store_host), op->name))
        who = room->host_id;
    else
        return NULL;
    if (!who || !who[0]) return NULL;
    if (h->wait_head && waiting(h, who)) return who;
    /* What the op can store: its row and at most its arguments' text (decoded content is
     * no longer than its JSON). */
    size_t len = op->scan ? op->scan->len : op->args ? json_dumpb(op->args, NULL, 0, 0) : 0;
    return rooms_quota_wait(h->rooms, who, STORE_ROW_BYTES + (int64_t)len) ? who : NULL;
}

static void wait_free(home_wait_t *w)
{
    free(w->who);
    free(w->room);
    free(w->name);
    free(w->user);
    free(w->sub_doc);
    json_decref(w->args);
    free(w);
}

/* Keeps op (borrowed) until who's reservation answers. */
static void park(home_t *h, const char *who, const bus_op_t *op)
{
    if (h->nwait >= HOME_WAIT_MAX) {
        bus_reply(&op->route, BUS_UNAVAILABLE,
                  "too many writes wait for their storage quota; try again", NULL);
        return;
    }
    json_t *args = op->args   ? json_deep_copy(op->args)
                   : op->scan ? json_loadb(op->scan->buf, op->scan->len, JSON_ALLOW_NUL, NULL)
                              : NULL;
    if (op->scan && !op->args && !json_is_object(args)) {
        /* A scanned frame Jansson reads the same way (jscan.h): not expected. */
        json_decref(args);
        bus_reply(&op->route, "bad_request", "the request could not be read", NULL);
        return;
    }
    home_wait_t *w = ch_calloc(1, sizeof(*w));
    w->who = ch_strdup(who);
    w->room = ch_strdup(op->room);
    w->name = ch_strdup(op->name);
    w->user = ch_strdup(op->user ? op->user : "");
    w->sub_doc = op->sub_doc ? ch_strdup(op->sub_doc) : NULL;
    w->args = args;
    w->route = op->route;
    w->subscribes = op->subscribes;
    w->remote = op->remote;
    if (h->wait_tail)
        h->wait_tail->next = w;
    else
        h->wait_head = w;
    h->wait_tail = w;
    h->nwait++;
}

/* who's reservation answered: its waiting ops run (or, the store failing, are answered
 * unavailable), in their order. */
static void quota_ready(void *ud, const char *who, int ok)
{
    home_t *h = ud;
    home_wait_t *mine = NULL, **mine_tail = &mine, *keep = NULL, **keep_tail = &keep;
    for (home_wait_t *w = h->wait_head, *next; w; w = next) {
        next = w->next;
        w->next = NULL;
        if (strcmp(w->who, who) == 0) {
            *mine_tail = w;
            mine_tail = &w->next;
            h->nwait--;
        } else {
            *keep_tail = w;
            keep_tail = &w->next;
        }
    }
    h->wait_head = keep;
    h->wait_tail = NULL;
    for (home_wait_t *w = keep; w; w = w->next)
        h->wait_tail = w;
    while (mine) {
        home_wait_t *w = mine;
        mine = w->next;
        if (ok || !stores(w->name)) { /* an op that stores nothing runs anyway */
            bus_op_t op = {.room = w->room,
                           .name = w->name,
                           .user = w->user,
                           .args = w->args,
                           .route = w->route,
                           .subscribes = w->subscribes,
                           .sub_doc = w->sub_doc,
                           .remote = w->remote};
            home_serve(h, &op);
        } else {
            bus_reply(&w->route, BUS_UNAVAILABLE,
                      "the storage quota could not be checked; try again", NULL);
        }
        wait_free(w);
    }
}

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
    rooms_quota_on_ready(rooms, quota_ready, h);
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
    const char *who = quota_waits_for(h, room, op);
    if (who) {
        park(h, who, op);
        return;
    }
    s->op->fn(s->ud, room, op);
}

void home_free(home_t *h)
{
    /* Ops still waiting for an allowance: the bus serves no more, so their routes go
     * unanswered (the connections are gone; a forwarded op's node times it out). */
    while (h->wait_head) {
        home_wait_t *w = h->wait_head;
        h->wait_head = w->next;
        wait_free(w);
    }
    h->wait_tail = NULL;
    h->nwait = 0;
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
