/* test_room_text.c: the room written from its fields (room_text, rooms.c: the join reply's
 * "room", with no tree) against the Jansson encoding it replaced (json_dumps of room_json):
 * for a corpus of rooms (escapes, control characters, unicode, every kind of state "mode",
 * a mode string holding a NUL, public and not, large and negative numbers, a public URL to
 * escape) and for thousands of generated ones, byte for byte the same, and *len its
 * length. */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "domain/rooms.h"
#include "util/mem.h"

#include "gen_text.h"

/* Checks one room: the same bytes as Jansson's encoding of room_json. */
static int same_as_jansson(rooms_t *r, const room_t *room)
{
    char *state = json_dumps(room->state, JSON_COMPACT);
    size_t len = 0;
    char *text = room_text(r, room, state, strlen(state), &len);
    int ok = gen_same_as_tree(text, len, room_json(r, room));
    free(state);
    return ok;
}

static void base(room_t *room)
{
    json_decref(room->state);
    memset(room, 0, sizeof(*room));
    snprintf(room->id, sizeof(room->id), "0b7c1f0e-8d2a-4b7e-9a51-3c2f5e6d7a8b");
    snprintf(room->code, sizeof(room->code), "ABC123");
    snprintf(room->name, sizeof(room->name), "Standup");
    snprintf(room->host_id, sizeof(room->host_id), "alice");
    room->capacity = 50;
    room->state = json_object();
    room->state_version = 3;
    room->seats = 7;
    room->roster.online = 2;
    room->created_at = 1765000000000;
    room->last_activity = 1765000001234;
}

static void test_corpus(void)
{
    rooms_t *r = ch_calloc(1, sizeof(*r));
    room_t *room = ch_calloc(1, sizeof(*room));
    r->lim.public_url = "http://localhost:8080";
    static const char *const names[] = {
        "",           "Standup",       "say \"hi\"",   "back\\slash", "tab\there",
        "new\nline",  "\x01\x02\x1f", "caf\xc3\xa9", "\xe2\x80\xa8 sep", "emoji \xf0\x9f\x8e\x89",
        "a/b </script>", "\x7f del",
    };
    for (size_t i = 0; i < CH_ARRAY_LEN(names); i++) {
        base(room);
        snprintf(room->name, sizeof(room->name), "%s", names[i]);
        snprintf(room->host_id, sizeof(room->host_id), "%s", names[CH_ARRAY_LEN(names) - 1 - i]);
        room->is_public = (int)(i & 1);
        ASSERT_TRUE(same_as_jansson(r, room));
    }
    static const char *const modes[] = {
        NULL, "\"present\"", "\"q\\\"uote\\\\\"", "\"\\u0001ctl\"", "42", "-7", "1.5",
        "true", "false", "null", "{\"a\":[1,{\"b\":\"c\"}]}", "[]", "\"a\\u0000b\"",
    };
    for (size_t i = 0; i < CH_ARRAY_LEN(modes); i++) {
        base(room);
        json_object_set_new(room->state, "topic", json_string("x"));
        if (modes[i]) {
            json_t *m = json_loads(modes[i], JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
            ASSERT_TRUE(m != NULL);
            json_object_set_new(room->state, "mode", m);
        }
        ASSERT_TRUE(same_as_jansson(r, room));
    }
    base(room);
    room->capacity = UINT32_MAX;
    room->state_version = INT64_MAX;
    room->seats = UINT32_MAX;
    room->roster.online = UINT32_MAX;
    room->created_at = INT64_MIN;
    room->last_activity = -1;
    ASSERT_TRUE(same_as_jansson(r, room));
    r->lim.public_url = "https://ex.com/\"x\"\\";
    ASSERT_TRUE(same_as_jansson(r, room));
    r->lim.public_url = "";
    ASSERT_TRUE(same_as_jansson(r, room));
    json_decref(room->state);
    free(room);
    free(r);
}

static void test_generated(void)
{
    rooms_t *r = ch_calloc(1, sizeof(*r));
    room_t *room = ch_calloc(1, sizeof(*room));
    r->lim.public_url = "http://h";
    unsigned seed = 17;
    for (int i = 0; i < 5000; i++) {
        base(room);
        gen_text(room->name, sizeof(room->name), &seed);
        gen_text(room->host_id, sizeof(room->host_id), &seed);
        gen_text(room->id, sizeof(room->id), &seed);
        room->is_public = rand_r(&seed) % 2;
        room->capacity = (uint32_t)rand_r(&seed);
        room->state_version = gen_int(&seed);
        room->seats = (uint32_t)rand_r(&seed);
        room->roster.online = (uint32_t)rand_r(&seed);
        room->created_at = gen_int(&seed);
        room->last_activity = gen_int(&seed);
        char s[64];
        switch (rand_r(&seed) % 4) {
        case 0: break;
        case 1:
            gen_text(s, sizeof(s), &seed);
            json_object_set_new(room->state, "mode", json_string(s));
            break;
        case 2: json_object_set_new(room->state, "mode", json_integer(gen_int(&seed))); break;
        default:
            gen_text(s, sizeof(s), &seed);
            json_object_set_new(room->state, "other", json_string(s));
            json_object_set_new(room->state, "mode", json_pack("{s:s}", "k", s));
        }
        if (!same_as_jansson(r, room)) {
            fprintf(stderr, "  generated room %d\n", i);
            ASSERT_TRUE(0);
        }
    }
    json_decref(room->state);
    free(room);
    free(r);
}

int main(void)
{
    RUN(test_corpus);
    RUN(test_generated);
    TEST_MAIN_END();
}
