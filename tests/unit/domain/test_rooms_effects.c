/* test_rooms_effects.c: an app backend's side effects applied to a room
 * (rooms_apply_effects): the state patch and the messages take the room's next version
 * and seqs in order, and one effect that does not fit refuses them all, naming it, with
 * nothing applied. */
#include "test.h"
#include "rooms_fixture.h"

#include "domain/rooms.h"

static void tune(chorus_config_t *cfg)
{
    cfg->room_max_message = 64;
    cfg->room_max_broadcast = 64;
    cfg->room_max_state = 128;
}

typedef struct {
    int done;
    rooms_errno_t kind;
    char code[64], field[64];
    json_t *result;
} out_t;

static void on_done(void *ud, const rooms_err_t *err, json_t *result)
{
    out_t *o = ud;
    o->done = 1;
    o->kind = err ? err->kind : ROOMS_OK;
    snprintf(o->code, sizeof(o->code), "%s", err && err->code ? err->code : "");
    snprintf(o->field, sizeof(o->field), "%s", err && err->field ? err->field : "");
    o->result = result;
}

static int apply(fx_t *f, room_t *room, const char *effects, out_t *o)
{
    json_t *e = json_loads(effects, JSON_ALLOW_NUL, NULL);
    memset(o, 0, sizeof(*o));
    rooms_apply_effects(&f->r, room, e, on_done, o);
    json_decref(e);
    return test_run_until(&f->loop, &o->done, 5000) ? (int)o->kind : 1;
}

static void test_applied_in_order(void)
{
    fx_t f;
    ASSERT_EQ(rooms_fx_open(&f, "rooms-effects", LOG_ERROR, tune), 0);
    room_t *room = rooms_fx_create(&f.r, &f.loop, "host", "story");
    ASSERT_TRUE(room != NULL);
    int64_t seq0 = room->last_seq, v0 = room->state_version;
    out_t o;
    ASSERT_EQ(
        apply(&f, room,
              "{\"state\":{\"turn\":1},\"messages\":[{\"type\":\"story_update\",\"content\":"
              "\"The door opens\",\"author\":\"Narrator\"},{\"type\":\"system\",\"content\":"
              "\"Turn 1 complete\",\"metadata\":{\"turn\":1}}],\"broadcasts\":[{\"event\":"
              "\"dice\",\"data\":[3]}]}",
              &o),
        0);
    ASSERT_EQ(json_integer_value(json_object_get(o.result, "stateVersion")), v0 + 1);
    json_t *seqs = json_object_get(o.result, "messages");
    ASSERT_EQ(json_array_size(seqs), 2);
    ASSERT_EQ(json_integer_value(json_array_get(seqs, 0)), seq0 + 1);
    ASSERT_EQ(json_integer_value(json_array_get(seqs, 1)), seq0 + 2);
    ASSERT_EQ(room->committed_seq, seq0 + 2); /* no "the host changed" message between */
    ASSERT_EQ(json_integer_value(json_object_get(room->state, "turn")), 1);
    json_decref(o.result);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

static void test_refused_whole(void)
{
    fx_t f;
    ASSERT_EQ(rooms_fx_open(&f, "rooms-effects-refused", LOG_ERROR, tune), 0);
    room_t *room = rooms_fx_create(&f.r, &f.loop, "host", "story");
    ASSERT_TRUE(room != NULL);
    int64_t seq0 = room->last_seq, v0 = room->state_version;
    static const struct {
        const char *effects, *code, *field;
    } cases[] = {
        {"{\"state\":{\"a\":1},\"messages\":[{\"type\":\"t\",\"content\":\"ok\"},{\"type\":"
         "\"t\","
         "\"content\":\"01234567890123456789012345678901234567890123456789012345678901234\"}]}",
         "payload_too_large", "effects.messages[1].content"},
        {"{\"messages\":[{\"type\":\"t\",\"content\":\"ok\"}],\"state\":{\"big\":"
         "\"0123456789012345"
         "678901234567890123456789012345678901234567890123456789012345678901234567890123456789"
         "012345678901234567890123456789012345678901234567890123456789012345678901234567890123"
         "45678901234567890123456789\"}}",
         "payload_too_large", "effects.state"},
        {"{\"messages\":[{\"type\":\"t\",\"content\":\"ok\"}],\"broadcasts\":[{\"event\":\"e\","
         "\"data\":\"012345678901234567890123456789012345678901234567890123456789012345\"}]}",
         "payload_too_large", "effects.broadcasts[0].data"},
        {"{\"messages\":[{\"type\":\"t\",\"content\":\"a\\u0000b\"}]}", "validation_error",
         "effects.messages[0].content"},
        {"{\"messages\":[{\"type\":\"t\",\"content\":\"ok\",\"metadata\":[1]}]}",
         "validation_error", "effects.messages[0].metadata"},
    };
    for (size_t i = 0; i < CH_ARRAY_LEN(cases); i++) {
        out_t o;
        ASSERT_NE(apply(&f, room, cases[i].effects, &o), 0);
        ASSERT_STREQ(o.code, cases[i].code);
        ASSERT_STREQ(o.field, cases[i].field);
        ASSERT_EQ(room->last_seq, seq0); /* nothing applied */
        ASSERT_EQ(room->state_version, v0);
    }
    ASSERT_EQ(json_object_size(room->state), 0);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

/* A patch that fits the room's quota and messages that fit it alone, but not together:
 * refused whole with quota_exceeded, nothing applied. */
static void test_quota_counts_both(void)
{
    fx_t f;
    ASSERT_EQ(rooms_fx_open(&f, "rooms-effects-quota", LOG_ERROR, tune), 0);
    room_t *room = rooms_fx_create(&f.r, &f.loop, "host", "story");
    ASSERT_TRUE(room != NULL);
    int64_t seq0 = room->last_seq, v0 = room->state_version;
    /* the patch grows the state by about 40 bytes, the message counts
     * STORE_ROW_BYTES + 10: each fits in 100 bytes, not both */
    f.r.lim.quota.room_max = (uint64_t)room->stored_bytes + 100;
    out_t o;
    ASSERT_NE(apply(&f, room,
                    "{\"state\":{\"a\":\"012345678901234567890123456789\"},\"messages\":[{"
                    "\"type\":\"t\",\"content\":\"0123456789\"}]}",
                    &o),
              0);
    ASSERT_STREQ(o.code, "quota_exceeded");
    ASSERT_EQ(room->last_seq, seq0); /* nothing applied */
    ASSERT_EQ(room->state_version, v0);
    ASSERT_EQ(json_object_size(room->state), 0);
    /* each alone fits */
    ASSERT_EQ(
        apply(&f, room, "{\"messages\":[{\"type\":\"t\",\"content\":\"0123456789\"}]}", &o), 0);
    json_decref(o.result);
    ASSERT_EQ(rooms_fx_close(&f), 0);
}

int main(void)
{
    RUN(test_applied_in_order);
    RUN(test_refused_whole);
    RUN(test_quota_counts_both);
    TEST_MAIN_END();
}
