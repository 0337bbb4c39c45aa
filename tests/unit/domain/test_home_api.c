/* test_home_api.c: the REST room routes' ops at the room's home (home_api.c) through the
 * local bus, with no sockets and no HTTP: each answers exactly once through its route,
 * with the response's body whole ("success" first) or the error's code, message and, in
 * the data, its kind (the REST side's status) and field; a room that is not here answers
 * not_found without a kind. */
#include "domain/rooms_fixture.h"
#include "domain/home_fixture.h"

#include "domain/home.h"

/* Sends the op name as user with args (stolen; NULL = none) on room_id to its home, as
 * api_rooms.c does, and waits for its answer. Returns 0 once answered, else -1. */
static int ask(fx_t *f, home_asker_t *a, const char *room_id, const char *name,
               const char *user, json_t *args)
{
    if (!args) args = json_object();
    bus_op_t op = home_op_of(room_id, name, user, args, BUS_MEMBER_NONE, -1, a);
    a->fresh = 0;
    int rc = bus_send_op(f->bus, &op);
    json_decref(args);
    if (rc != 0 || !test_run_until(&f->loop, &a->fresh, 5000)) return -1;
    return 0;
}

/* The kind an error answer carries, or 0. */
static int kind_of(const home_asker_t *a)
{
    return (int)json_integer_value(json_object_get(a->data, HOME_KIND_KEY));
}

/* 1 when the answer's data encodes with "success": true first, as the response's body. */
static int body_ok(const home_asker_t *a)
{
    char *text = json_dumps(a->data, JSON_COMPACT);
    int ok = text && strncmp(text, "{\"success\":true", 15) == 0;
    free(text);
    return ok;
}

/* The fixture with its home serving the REST ops too, and a room hosted by "host" (its id
 * in id). Returns the room, or NULL. */
static room_t *open_with_room(fx_t *f, char id[STORE_ID_LEN])
{
    if (rooms_fx_open(f, "home-api", LOG_WARN, NULL) != 0) return NULL;
    home_api_register(&f->home);
    home_participants_register(&f->home);
    room_t *room = rooms_fx_create(&f->r, &f->loop, "host", "rest");
    if (room) snprintf(id, STORE_ID_LEN, "%s", room->id);
    return room;
}

/* ---- tests ---- */

static void test_not_found(void)
{
    fx_t f;
    char id[STORE_ID_LEN];
    ASSERT_TRUE(open_with_room(&f, id) != NULL);
    home_asker_t a = {0};
    /* The home's own answer: no kind (the REST side answers 404 not_found for it). */
    ASSERT_EQ(ask(&f, &a, "no-such-room", "rest.kick", "host",
                  json_pack("{s:s, s:b}", "userId", "bob", "ban", 0)),
              0);
    ASSERT_EQ(a.calls, 1);
    ASSERT_STREQ(a.code, HOME_NOT_FOUND_CODE);
    ASSERT_STREQ(a.message, "no such room");
    ASSERT_TRUE(a.data == NULL);
    /* A participant that is not there: the domain's not_found, with its kind. */
    ASSERT_EQ(ask(&f, &a, id, "rest.kick", "host",
                  json_pack("{s:s, s:b}", "userId", "nobody", "ban", 0)),
              0);
    ASSERT_EQ(a.calls, 2);
    ASSERT_STREQ(a.code, "not_found");
    ASSERT_STREQ(a.message, "no such participant");
    ASSERT_EQ(kind_of(&a), ROOMS_E_NOT_FOUND);
    ASSERT_EQ(ask(&f, &a, id, "rest.unban", "host", json_pack("{s:s}", "userId", "nobody")), 0);
    ASSERT_STREQ(a.code, "not_found");
    ASSERT_EQ(kind_of(&a), ROOMS_E_NOT_FOUND);
    json_decref(a.data);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

static void test_join_kick_bans(void)
{
    fx_t f;
    char id[STORE_ID_LEN];
    room_t *room = open_with_room(&f, id);
    ASSERT_TRUE(room != NULL);
    home_asker_t a = {0};

    /* join: membership only, with the token's name and color from the arguments. */
    ASSERT_EQ(ask(&f, &a, id, "rest.join", "bob",
                  json_pack("{s:s, s:s}", "userName", "Bob", "userColor", "#112233")),
              0);
    ASSERT_STREQ(a.code, "");
    ASSERT_TRUE(body_ok(&a));
    room_member_t *bob = room_member(room, "bob");
    ASSERT_TRUE(bob != NULL);
    ASSERT_STREQ(bob->display_name, "Bob");
    ASSERT_STREQ(bob->color, "#112233");
    ASSERT_EQ(bob->online, 0);

    /* kick by a participant who is not the host: forbidden, kind and all. */
    ASSERT_EQ(ask(&f, &a, id, "rest.kick", "bob",
                  json_pack("{s:s, s:b}", "userId", "host", "ban", 0)),
              0);
    ASSERT_STREQ(a.code, "forbidden");
    ASSERT_STREQ(a.message, "only the host can kick");
    ASSERT_EQ(kind_of(&a), ROOMS_E_FORBIDDEN);
    ASSERT_TRUE(json_object_get(a.data, "field") == NULL);

    /* kick with ban by the host: answered after the commit, the body whole. */
    int calls = a.calls;
    ASSERT_EQ(ask(&f, &a, id, "rest.kick", "host",
                  json_pack("{s:s, s:b}", "userId", "bob", "ban", 1)),
              0);
    ASSERT_EQ(a.calls, calls + 1);
    ASSERT_STREQ(a.code, "");
    ASSERT_TRUE(body_ok(&a));
    ASSERT_TRUE(room_member(room, "bob") && room_member(room, "bob")->banned);

    /* bans: the host's only. */
    ASSERT_EQ(ask(&f, &a, id, "rest.bans", "bob", NULL), 0);
    ASSERT_STREQ(a.code, "forbidden");
    ASSERT_STREQ(a.message, "only the host sees the bans");
    ASSERT_EQ(kind_of(&a), ROOMS_E_FORBIDDEN);
    ASSERT_EQ(ask(&f, &a, id, "rest.bans", "host", NULL), 0);
    ASSERT_TRUE(body_ok(&a));
    json_t *bans = json_object_get(a.data, "bans");
    ASSERT_EQ(json_array_size(bans), 1);
    ASSERT_STREQ(json_string_value(json_object_get(json_array_get(bans, 0), "userId")), "bob");

    /* A banned user's join is refused with the domain's kind. */
    ASSERT_EQ(ask(&f, &a, id, "rest.join", "bob", NULL), 0);
    ASSERT_STREQ(a.code, "banned");
    ASSERT_EQ(kind_of(&a), ROOMS_E_FORBIDDEN);

    /* unban, then the ban is gone. */
    ASSERT_EQ(ask(&f, &a, id, "rest.unban", "host", json_pack("{s:s}", "userId", "bob")), 0);
    ASSERT_STREQ(a.code, "");
    ASSERT_TRUE(body_ok(&a));
    ASSERT_TRUE(room_member(room, "bob") == NULL);

    /* Nothing more comes: each op was answered exactly once. */
    calls = a.calls;
    test_run_for(&f.loop, 50);
    ASSERT_EQ(a.calls, calls);
    json_decref(a.data);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

static void test_state(void)
{
    fx_t f;
    char id[STORE_ID_LEN];
    room_t *room = open_with_room(&f, id);
    ASSERT_TRUE(room != NULL);
    home_asker_t a = {0};

    /* The host's patch: answered once stored, with the body whole. */
    int64_t version = room->state_version;
    ASSERT_EQ(ask(&f, &a, id, "rest.state", "host", json_pack("{s:{s:i}}", "patch", "mode", 3)),
              0);
    ASSERT_EQ(a.calls, 1);
    ASSERT_STREQ(a.code, "");
    ASSERT_TRUE(body_ok(&a));
    ASSERT_EQ(json_integer_value(json_object_get(room->state, "mode")), 3);
    ASSERT_EQ(room->state_version, version + 1);

    /* Not the host: forbidden, and the state is as it was. */
    ASSERT_EQ(ask(&f, &a, id, "rest.join", "bob", NULL), 0);
    ASSERT_STREQ(a.code, "");
    ASSERT_EQ(ask(&f, &a, id, "rest.state", "bob", json_pack("{s:{s:i}}", "patch", "mode", 4)),
              0);
    ASSERT_STREQ(a.code, "forbidden");
    ASSERT_EQ(kind_of(&a), ROOMS_E_FORBIDDEN);
    ASSERT_EQ(json_integer_value(json_object_get(room->state, "mode")), 3);

    /* No patch (an empty body): validation_error naming it, with its kind. */
    ASSERT_EQ(ask(&f, &a, id, "rest.state", "host", NULL), 0);
    ASSERT_STREQ(a.code, "validation_error");
    ASSERT_EQ(kind_of(&a), ROOMS_E_INVALID);
    ASSERT_STREQ(json_string_value(json_object_get(a.data, "field")), "patch");
    json_decref(a.data);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* The ops that read the room answer now: the room as the caller may see it, the
 * participants, a page of entities, a page of messages. */
static void test_reads(void)
{
    fx_t f;
    char id[STORE_ID_LEN];
    room_t *room = open_with_room(&f, id);
    ASSERT_TRUE(room != NULL);
    home_asker_t a = {0};

    ASSERT_EQ(ask(&f, &a, id, "rest.get", "host", NULL), 0);
    ASSERT_TRUE(body_ok(&a));
    json_t *j = json_object_get(a.data, "room");
    ASSERT_STREQ(json_string_value(json_object_get(j, "id")), id);
    ASSERT_TRUE(json_object_get(j, "state") != NULL);
    ASSERT_EQ(json_array_size(json_object_get(j, "participants")), 1);
    /* Someone who is not in the room (the REST side let them learn of it) sees less. */
    ASSERT_EQ(ask(&f, &a, id, "rest.get", "eve", NULL), 0);
    j = json_object_get(a.data, "room");
    ASSERT_TRUE(json_object_get(j, "state") == NULL);
    ASSERT_TRUE(json_object_get(j, "participants") == NULL);

    ASSERT_EQ(ask(&f, &a, id, "rest.participants", "host", NULL), 0);
    ASSERT_TRUE(body_ok(&a));
    ASSERT_EQ(json_array_size(json_object_get(a.data, "participants")), 1);

    ASSERT_EQ(ask(&f, &a, id, "rest.entities", "host",
                  json_pack("{s:i, s:i}", "version", -1, "cursor", -1)),
              0);
    ASSERT_STREQ(a.code, "");
    ASSERT_TRUE(json_is_true(json_object_get(a.data, "success"))); /* last, as it was */
    ASSERT_TRUE(json_object_get(a.data, "type") == NULL);
    ASSERT_TRUE(json_object_get(a.data, "locks") == NULL);
    ASSERT_EQ(json_integer_value(json_object_get(a.data, "stateVersion")), room->state_version);

    ASSERT_EQ(ask(&f, &a, id, "rest.messages", "host",
                  json_pack("{s:i, s:i, s:i}", "before", -1, "after", -1, "limit", 0)),
              0);
    ASSERT_STREQ(a.code, "validation_error");
    ASSERT_EQ(kind_of(&a), ROOMS_E_INVALID);
    ASSERT_STREQ(json_string_value(json_object_get(a.data, "field")), "limit");
    ASSERT_EQ(ask(&f, &a, id, "rest.messages", "host",
                  json_pack("{s:i, s:i, s:i}", "before", -1, "after", -1, "limit", 10)),
              0);
    ASSERT_TRUE(body_ok(&a));
    ASSERT_TRUE(json_is_array(json_object_get(a.data, "messages")));
    json_decref(a.data);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* delete: the host's only; answered once stored, and the room is gone from the home. */
static void test_delete(void)
{
    fx_t f;
    char id[STORE_ID_LEN];
    ASSERT_TRUE(open_with_room(&f, id) != NULL);
    home_asker_t a = {0};
    ASSERT_EQ(ask(&f, &a, id, "rest.delete", "eve", NULL), 0);
    ASSERT_STREQ(a.code, "forbidden");
    ASSERT_EQ(kind_of(&a), ROOMS_E_FORBIDDEN);
    ASSERT_EQ(ask(&f, &a, id, "rest.delete", "host", NULL), 0);
    ASSERT_STREQ(a.code, "");
    ASSERT_TRUE(body_ok(&a));
    ASSERT_TRUE(rooms_get(&f.r, id) == NULL);
    ASSERT_EQ(ask(&f, &a, id, "rest.leave", "host", NULL), 0);
    ASSERT_STREQ(a.code, HOME_NOT_FOUND_CODE);
    json_decref(a.data);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

int main(void)
{
    RUN(test_not_found);
    RUN(test_join_kick_bans);
    RUN(test_state);
    RUN(test_reads);
    RUN(test_delete);
    TEST_MAIN_END();
}
