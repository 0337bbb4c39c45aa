/* home_join.c: a connection in a room, at the room's home (home.h): join (the membership,
 * then the connection attached by identity and the room as it is now answered in payload
 * parts) and detach (the connection went away). The member's side (proto_rooms.c) checked
 * the frame and the connection's own limits, and subscribes the connection when the
 * join's answer comes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "domain/entities.h"
#include "domain/home.h"
#include "domain/webhooks.h"
#include "util/jscan.h"
#include "util/mem.h"

/* A join until the room's snapshot is answered. */
typedef struct {
    bus_route_t route;
    rooms_t *r;
    char room_id[STORE_ID_LEN];
    char user[STORE_SUB_LEN];
    char *participant;     /* the member as the join left it (encoded), until history arrives */
    int64_t since;         /* sync entities from this version; -1 = send them all */
    int attach;            /* attach the connection (it is not in the room yet) */
    int attached;          /* done: the answer waits for its webhook deliveries' write */
    json_t *msgs;          /* join_finish's msgs while it waits (owned) */
} join_t;

/* Answers j's error and frees j. */
static void join_fail(join_t *j, const rooms_err_t *err)
{
    if (err->field) home_reply_field(&j->route, err->code, err->field, err->message);
    else bus_reply(&j->route, err->code, err->message, NULL);
    free(j->participant);
    free(j);
}

/* Ends a join: attaches the connection and answers with the room as it is now. The
 * messages are msgs (a JSON array, stolen) from the store, or with msgs NULL the room's
 * recent-message cache, read here in the same step as lastSeq and the attachment, so the
 * messages and the later events meet without a gap (bus.h: subscribing in the answer).
 * The participants and the recent messages go into the answer as text: the messages as
 * the room keeps them encoded (rooms_recent), the members written from their records
 * (room_members_text): a join into a room of N members builds no tree for them. */
static void join_history(void *ud, const rooms_err_t *err, json_t *result);
static void join_finish(join_t *j, json_t *msgs);

/* The deliveries of the member coming online (participant.joined, room.occupied) are
 * written: the join goes on, or fails if they could not be (the attachment undone). */
static void join_hooked(void *ud, int err)
{
    join_t *j = ud;
    json_t *msgs = j->msgs;
    j->msgs = NULL;
    if (err != STORE_OK) {
        json_decref(msgs);
        room_t *room = strmap_get(&j->r->by_id, j->room_id);
        if (room) rooms_detach(j->r, room, j->route.member, j->user, 1);
        join_fail(j, &(rooms_err_t){.kind = ROOMS_E_UNAVAILABLE,
                                    .code = "service_unavailable",
                                    .message = "the database is unavailable; try again"});
        return;
    }
    /* msgs were read before the deliveries' write: messages committed since are in the
     * lastSeq join_finish answers now, not in msgs, and reached no event of this
     * connection (subscribed only by the answer). The kept messages, or a new read. */
    json_decref(msgs);
    join_finish(j, NULL);
}

/* The join reply's participants, encoded (a new text, its length in *len): in a large room
 * the first lim.join_participants of the page order and the cursor of the rest in next
 * (ROSTER_CURSOR_LEN bytes), else everyone and next "". */
static char *join_page(rooms_t *r, room_t *room, char *next, size_t *len)
{
    size_t limit = ROOMS_LARGE(r, room) ? r->lim.join_participants : room->roster.count;
    if (limit == 0) limit = 1;
    room_member_t **list = ch_malloc(limit * sizeof(*list));
    roster_pos_t pos = {ROSTER_ONLINE, 0};
    size_t n = room_members_page(room, &pos, 0, NULL, list, limit);
    roster_cursor_format(&pos, next);
    char *text = room_members_text(list, n, len);
    free(list);
    return text;
}

static void join_finish(join_t *j, json_t *msgs)
{
    rooms_t *r = j->r;
    room_t *room = strmap_get(&r->by_id, j->room_id);
    if (!room) {
        json_decref(msgs);
        join_fail(j, &(rooms_err_t){.kind = ROOMS_E_NOT_FOUND, .code = "not_found",
                                    .message = "the room was deleted"});
        return;
    }
    if (!bus_home_here(r->bus, room->id)) {
        /* This node's lease ended while the join was in flight (rooms_lost): the room here
         * is a stand-in, which would answer forbidden (a rejoin then gives up the room) or
         * a snapshot of nothing. The join is tried again at its home. */
        json_decref(msgs);
        join_fail(j, &(rooms_err_t){.kind = ROOMS_E_UNAVAILABLE, .code = "service_unavailable",
                                    .message = "the room moved to another node; try again"});
        return;
    }
    room_member_t *me = room_member(room, j->user);
    if (!me || me->banned) { /* kicked while the join was in flight */
        json_decref(msgs);
        join_fail(j, &(rooms_err_t){.kind = ROOMS_E_FORBIDDEN, .code = "forbidden",
                                    .message = "you are no longer in this room"});
        return;
    }
    /* The reply's data, in this order: room | participant | role | participants | state,
     * stateVersion, the entity fields, lastSeq, participantCount, onlineCount,
     * participantsNext[, messages] | [messages]; written as text (room_text, the members'
     * and the messages' texts, the state encoded once for its two places), but for the
     * entity fields and the messages a history read gave as a tree. */
    /* Attach first, so the member list shows the caller online. When that queues webhook
     * deliveries, the answer waits for their write (the join is acknowledged only once
     * they are durable); the snapshot below is taken after it, so nothing falls between
     * it and the subscription. */
    if (j->attach && !j->attached) {
        j->attached = 1;
        webhooks_put_t *p = webhooks_wants(r->hooks, WEBHOOK_PARTICIPANT_JOINED) ||
                                    webhooks_wants(r->hooks, WEBHOOK_ROOM_OCCUPIED)
                                ? webhooks_put_new(r->hooks)
                                : NULL;
        int rc = rooms_attach_hooked(r, room, j->route.member, j->user, p ? &p->req : NULL);
        CH_ASSERT(rc == 0); /* a participant, not banned: checked above */
        j->msgs = msgs;
        if (p && webhooks_put_submit(p, r->store, join_hooked, j) == 0) return;
        j->msgs = NULL;
    }
    if (!msgs && !rooms_recent_ready(r, room)) { /* dropped while the deliveries were written */
        rooms_join_history(r, room, join_history, j);
        return;
    }
    /* The participants: everyone in a small room, the first page in a large one (issue 26:
     * a join costs the page, not the room). */
    size_t members_len;
    char next[ROSTER_CURSOR_LEN];
    char *members = join_page(r, room, next, &members_len);
    char *state = json_dumps(room->state, JSON_COMPACT);
    CH_ASSERT(state != NULL); /* an object we hold */
    size_t state_len = strlen(state), room_len;
    char *room_txt = room_text(r, room, state, state_len, &room_len);
    json_t *ents = json_object();
    entities_join_fields(room, ents, j->since, ROOMS_JOIN_ENTITIES(r));
    /* The numbers as Jansson writes integers; participantsNext a cursor of letters and
     * digits (roster_cursor_format), quoted, or null. */
    char num[4][JSCAN_INT_MAX], nextq[ROSTER_CURSOR_LEN + 2];
    size_t numlen[4] = {
        jscan_write_int(num[0], room->state_version),
        jscan_write_int(num[1], room->committed_seq),
        jscan_write_int(num[2], room->seats),
        jscan_write_int(num[3], room->roster.online),
    };
    if (next[0]) snprintf(nextq, sizeof(nextq), "\"%s\"", next);
    else snprintf(nextq, sizeof(nextq), "null");
    json_t *msgs_obj = NULL;
    size_t nmsgs = 0;
    const char **items = NULL;
    if (msgs) {
        msgs_obj = json_pack("{s:o}", "messages", msgs);
    } else {
        CH_ASSERT(rooms_recent_ready(r, room)); /* checked above; nothing ran since */
        items = rooms_recent(room, &nmsgs);
        /* The newest that fit in the join's share of the reply budget. */
        if (nmsgs) {
            size_t *lens = ch_malloc(nmsgs * sizeof(*lens));
            for (size_t i = 0; i < nmsgs; i++)
                lens[i] = strlen(items[i]);
            size_t k = rooms_fit(lens, nmsgs, ROOMS_JOIN_MESSAGES(r), 1);
            free(lens);
            memmove(items, items + (nmsgs - k), k * sizeof(*items));
            nmsgs = k;
        }
    }
    jpart_t parts[12] = {
        {.key = "room", .text = room_txt, .len = room_len},
        {.key = "participant", .text = j->participant},
        {.key = "role", .text = me->role == STORE_ROLE_HOST ? "\"host\"" : "\"member\""},
        {.key = "participants", .text = members, .len = members_len},
        {.key = "state", .text = state, .len = state_len},
        {.key = "stateVersion", .text = num[0], .len = numlen[0]},
        {.obj = ents},
        {.key = "lastSeq", .text = num[1], .len = numlen[1]},
        {.key = "participantCount", .text = num[2], .len = numlen[2]},
        {.key = "onlineCount", .text = num[3], .len = numlen[3]},
        {.key = "participantsNext", .text = nextq},
        msgs_obj ? (jpart_t){.obj = msgs_obj}
                 : (jpart_t){.key = "messages", .items = items, .n = nmsgs},
    };
    bus_reply_parts(&j->route, parts, CH_ARRAY_LEN(parts));
    free(items);
    free(members);
    free(room_txt);
    free(state);
    json_decref(ents);
    json_decref(msgs_obj);
    free(j->participant);
    free(j);
}

static void join_history(void *ud, const rooms_err_t *err, json_t *result)
{
    join_t *j = ud;
    room_t *room = strmap_get(&j->r->by_id, j->room_id);
    if (room && rooms_recent_ready(j->r, room)) {
        /* The read filled the cache (the joins that waited for it too): the same
         * messages, as texts encoded once rather than a tree encoded for each join. */
        json_decref(result);
        join_finish(j, NULL);
        return;
    }
    if (err && err->kind) { /* the read failed: so does the join, its attachment undone */
        json_decref(result);
        if (j->attached && room) rooms_detach(j->r, room, j->route.member, j->user, 1);
        join_fail(j, err);
        return;
    }
    json_t *msgs = json_object_get(result, "messages");
    msgs = msgs ? json_incref(msgs) : json_array();
    json_decref(result);
    join_finish(j, msgs);
}

static void join_member(void *ud, const rooms_err_t *err, json_t *result)
{
    join_t *j = ud;
    room_t *room = strmap_get(&j->r->by_id, j->room_id);
    json_decref(result);
    if (err && err->kind) {
        join_fail(j, err);
        return;
    }
    if (!room) {
        join_fail(j, &(rooms_err_t){.kind = ROOMS_E_NOT_FOUND, .code = "not_found",
                                    .message = "no such room"});
        return;
    }
    /* The member as the join left it: before the attachment (join_finish) makes them
     * online and gives them a fresh presence. */
    room_member_t *m = room_member(room, j->user);
    j->participant = m ? room_member_text(m, NULL) : ch_strdup("null");
    if (rooms_recent_ready(j->r, room)) /* the newest messages are in memory */
        join_finish(j, NULL);
    else rooms_join_history(j->r, room, join_history, j);
}

/* Copies the string argument name of op into out (n bytes; "" when absent). */
static void str_arg(const bus_op_t *op, const char *name, char *out, size_t n)
{
    json_t *v = json_object_get(op->args, name);
    snprintf(out, n, "%s", json_is_string(v) ? json_string_value(v) : "");
}

/* join: the arguments of home.h (the member's side checked them). */
static void op_join(void *ud, room_t *room, const bus_op_t *op)
{
    join_t *j = ch_calloc(1, sizeof(*j));
    j->route = op->route;
    j->r = ud;
    snprintf(j->room_id, sizeof(j->room_id), "%s", room->id);
    snprintf(j->user, sizeof(j->user), "%s", op->user);
    json_t *since = json_object_get(op->args, "since");
    j->since = json_is_integer(since) ? json_integer_value(since) : -1;
    j->attach = json_is_true(json_object_get(op->args, "attach"));
    auth_claims_t user;
    memset(&user, 0, sizeof(user));
    snprintf(user.sub, sizeof(user.sub), "%s", op->user);
    str_arg(op, "userName", user.name, sizeof(user.name));
    str_arg(op, "userColor", user.color, sizeof(user.color));
    json_t *dn = json_object_get(op->args, "displayName");
    json_t *jr = json_object_get(op->args, "role");
    int role = !json_is_string(jr)                          ? ROOMS_ROLE_KEEP
               : strcmp(json_string_value(jr), "host") == 0 ? STORE_ROLE_HOST
                                                            : STORE_ROLE_MEMBER;
    rooms_join_quiet(j->r, room, &user, json_is_string(dn) ? json_string_value(dn) : NULL, role,
                     join_member, j);
}

/* detach: the connection op->route.member went away (fire and forget: answered with
 * success, which its route drops). */
static void op_detach(void *ud, room_t *room, const bus_op_t *op)
{
    rooms_detach(ud, room, op->route.member, op->user,
                 json_is_true(json_object_get(op->args, "undo")));
    bus_reply(&op->route, NULL, NULL, NULL);
}

static const home_op_t join_home_ops[] = {
    {"join", op_join},
    {ROOMS_OP_DETACH, op_detach},
};

void home_join_register(home_t *h)
{
    home_register(h, join_home_ops, CH_ARRAY_LEN(join_home_ops), h->rooms);
}
