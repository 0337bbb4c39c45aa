/* test_presence.c: presence coalescing under a rate, idle and typing timers, size cap,
 * and that a room applying the emitted changes always ends with the user's state. */
#include "test.h"

#include "util/json_patch.h"
#include "domain/presence.h"

/* Aborts on a failed setup step (not a test assertion: the test cannot go on). */
#define CH_ASSERT_T(c) \
    do { if (!(c)) { fprintf(stderr, "%s:%d: setup failed: %s\n", __FILE__, __LINE__, #c); abort(); } } while (0)

static json_t *parse(const char *s)
{
    json_t *v = json_loads(s, JSON_DECODE_ANY, NULL);
    if (!v) fprintf(stderr, "bad test JSON: %s\n", s);
    return v;
}

/* Returns 1 when v equals the JSON text want. */
static int is_json(const json_t *v, const char *want)
{
    json_t *w = parse(want);
    int eq = v && w && json_equal(v, w);
    if (!eq) {
        char *got = v ? json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        fprintf(stderr, "  got %s, want %s\n", got ? got : "NULL", want);
        free(got);
    }
    json_decref(w);
    return eq;
}

/* Returns 1 when p's state equals the JSON text want, and its text is the compact
 * encoding Jansson gives its own tree (what joins and replies write out as it is). */
static int state_is(const presence_t *p, const char *want)
{
    json_t *v = presence_state_json(p);
    char *again = json_dumps(v, JSON_COMPACT);
    int ok = is_json(v, want) && strcmp(again, presence_state_text(p, NULL)) == 0;
    if (!ok) fprintf(stderr, "  text %s\n", presence_state_text(p, NULL));
    free(again);
    json_decref(v);
    return ok;
}

/* Returns 1 when room (a tree) equals p's state. */
static int state_eq(const json_t *room, const presence_t *p)
{
    json_t *v = presence_state_json(p);
    int eq = json_equal(room, v);
    json_decref(v);
    return eq;
}

/* Applies the patch text at now; returns the emitted change (new reference) or NULL. */
static json_t *upd(presence_t *p, const char *patch, uint64_t now, const presence_rules_t *r,
                   int *rc)
{
    json_t *pt = parse(patch), *emit = (json_t *)1;
    int ret = presence_update(p, pt, now, r, &emit);
    if (rc) *rc = ret;
    json_decref(pt);
    return emit;
}

/* Jansson allocations counted by test_idle_member_holds_nothing. */
static size_t g_json_allocs;
static void *count_malloc(size_t n)
{
    g_json_allocs++;
    return malloc(n);
}

/* A member who never sent presence holds no JSON (docs/benchmarks.md, the idle connection's
 * bytes): its state {} is NULL until the first change, and still reads as {}. */
static void test_idle_member_holds_nothing(void)
{
    presence_rules_t r = PRESENCE_RULES_DEFAULT;
    json_set_alloc_funcs(count_malloc, free);
    g_json_allocs = 0;
    presence_t p;
    presence_init(&p, 1000);
    size_t allocs = g_json_allocs;
    uint64_t due = presence_next_due(&p, &r);
    json_t *e = presence_tick(&p, 2000, &r);
    json_set_alloc_funcs(malloc, free);
    ASSERT_EQ(allocs, 0);
    ASSERT_TRUE(p.state == NULL && p.sent == NULL && p.pending == NULL);
    ASSERT_EQ(due, 61000); /* going idle is the only thing scheduled */
    ASSERT_TRUE(e == NULL);
    /* the first change is a diff against {} */
    e = upd(&p, "{\"a\":1}", 2000, &r, NULL);
    int ok = is_json(e, "{\"a\":1}") && state_is(&p, "{\"a\":1}");
    json_decref(e);
    presence_free(&p);
    ASSERT_TRUE(ok);
}

static void test_first_update_at_once(void)
{
    presence_rules_t r = PRESENCE_RULES_DEFAULT;
    presence_t p;
    presence_init(&p, 1000);
    int rc;
    json_t *e = upd(&p, "{\"cursor\":{\"x\":1,\"y\":2}}", 1000, &r, &rc);
    int ok = rc == 0 && is_json(e, "{\"cursor\":{\"x\":1,\"y\":2}}") &&
             state_is(&p, "{\"cursor\":{\"x\":1,\"y\":2}}") && p.pending == NULL &&
             p.last_emit_ms == 1000;
    json_decref(e);
    presence_free(&p);
    ASSERT_TRUE(ok);
}

static void test_burst_coalesced(void)
{
    /* 1,000 updates in one second, one per ms, driven like an event loop would: a tick
     * whenever presence_next_due has passed. */
    presence_rules_t r = PRESENCE_RULES_DEFAULT;
    presence_t p;
    presence_init(&p, 1000);
    json_t *room = json_object(); /* what the other members see */
    json_t *last = NULL;
    int emitted = 0, rate_ok = 1;
    uint64_t prev_emit = 0;
    for (int i = 0; i < 1000; i++) {
        uint64_t t = 1000 + (uint64_t)i;
        json_t *e = NULL;
        uint64_t due = presence_next_due(&p, &r);
        if (due && due <= t) e = presence_tick(&p, t, &r);
        if (!e) {
            char buf[64];
            snprintf(buf, sizeof buf, "{\"cursor\":{\"x\":%d,\"y\":%d}}", i, i);
            json_t *pt = parse(buf);
            CH_ASSERT_T(presence_update(&p, pt, t, &r, &e) == 0);
            json_decref(pt);
        }
        if (e) {
            if (prev_emit && t - prev_emit < 50) rate_ok = 0;
            prev_emit = t;
            emitted++;
            json_merge_patch_object(&room, e);
            json_decref(last);
            last = e;
        }
    }
    /* the last value is held: the final flush comes from a tick */
    uint64_t due = presence_next_due(&p, &r);
    int held = p.pending != NULL && due == prev_emit + 50 && due <= 2000;
    json_t *nothing = presence_tick(&p, due - 1, &r);
    json_t *e = presence_tick(&p, due, &r);
    int flushed = e != NULL;
    if (e) {
        emitted++;
        json_merge_patch_object(&room, e);
        json_decref(last);
        last = e;
    }
    int ok = held && nothing == NULL && flushed && rate_ok && emitted <= 21 && emitted >= 20 &&
             is_json(last, "{\"cursor\":{\"x\":999,\"y\":999}}") &&
             state_is(&p, "{\"cursor\":{\"x\":999,\"y\":999}}") && state_eq(room, &p) &&
             p.pending == NULL;
    fprintf(stderr, "  burst: %d changes emitted for 1000 updates\n", emitted);
    json_decref(last);
    json_decref(room);
    presence_free(&p);
    ASSERT_TRUE(ok);
}

static void test_next_due_exact_flush(void)
{
    presence_rules_t r = PRESENCE_RULES_DEFAULT;
    presence_t p;
    presence_init(&p, 1000);
    json_decref(upd(&p, "{\"cursor\":{\"x\":1}}", 1000, &r, NULL));
    ASSERT_EQ(presence_next_due(&p, &r), 61000); /* only idle is scheduled */
    json_t *e = upd(&p, "{\"cursor\":{\"x\":2}}", 1010, &r, NULL);
    ASSERT_TRUE(e == NULL);
    ASSERT_EQ(presence_next_due(&p, &r), 1050);
    e = upd(&p, "{\"cursor\":{\"y\":3}}", 1049, &r, NULL); /* still inside the interval */
    ASSERT_TRUE(e == NULL);
    ASSERT_EQ(presence_next_due(&p, &r), 1050);
    ASSERT_TRUE(presence_tick(&p, 1049, &r) == NULL);
    e = presence_tick(&p, 1050, &r);
    int ok = is_json(e, "{\"cursor\":{\"x\":2,\"y\":3}}");
    json_decref(e);
    ASSERT_TRUE(ok);
    ASSERT_EQ(presence_next_due(&p, &r), 61049); /* idle from the last update */
    /* an update after the interval goes out at once */
    e = upd(&p, "{\"cursor\":{\"x\":4}}", 1100, &r, NULL);
    ok = is_json(e, "{\"cursor\":{\"x\":4}}");
    json_decref(e);
    presence_free(&p);
    ASSERT_TRUE(ok);
}

static void test_rate_rounding(void)
{
    /* 3/s: the interval rounds up to 334 ms so no second holds four changes */
    presence_rules_t r = {3, 0, 0, 0, 0};
    presence_t p;
    presence_init(&p, 1);
    json_decref(upd(&p, "{\"a\":1}", 1, &r, NULL));
    json_t *e = upd(&p, "{\"a\":2}", 2, &r, NULL);
    ASSERT_TRUE(e == NULL);
    ASSERT_EQ(presence_next_due(&p, &r), 335);
    /* max_rate 0: no coalescing at all; idle and typing off: nothing scheduled */
    presence_rules_t none = {0, 0, 0, 0, 0};
    e = upd(&p, "{\"a\":3,\"typing\":true}", 3, &none, NULL);
    int ok = is_json(e, "{\"a\":3,\"typing\":true}");
    json_decref(e);
    ASSERT_TRUE(ok);
    ASSERT_EQ(presence_next_due(&p, &none), 0);
    presence_free(&p);
}

static void test_min_gap(void)
{
    /* A large room's gap (min_gap_ms, longer than max_rate's 50 ms): the changes inside it
     * are held and go out as one at its end, the latest state winning. */
    presence_rules_t r = PRESENCE_RULES_DEFAULT;
    r.min_gap_ms = 2000;
    presence_t p;
    presence_init(&p, 1);
    json_t *e = upd(&p, "{\"x\":1}", 10, &r, NULL);
    ASSERT_TRUE(e != NULL);
    json_decref(e);
    for (int i = 2; i <= 9; i++) {
        char patch[32];
        snprintf(patch, sizeof(patch), "{\"x\":%d}", i);
        e = upd(&p, patch, (uint64_t)(10 + 100 * i), &r, NULL);
        ASSERT_TRUE(e == NULL);
    }
    ASSERT_EQ(presence_next_due(&p, &r), 2010);
    ASSERT_TRUE(presence_tick(&p, 2009, &r) == NULL);
    e = presence_tick(&p, 2010, &r);
    int ok = is_json(e, "{\"x\":9}");
    json_decref(e);
    ASSERT_TRUE(ok);
    /* a gap shorter than max_rate's changes nothing */
    r.min_gap_ms = 10;
    e = upd(&p, "{\"x\":10}", 2030, &r, NULL);
    ASSERT_TRUE(e == NULL);
    ASSERT_EQ(presence_next_due(&p, &r), 2060);
    presence_free(&p);
}

static void test_clock_zero(void)
{
    /* An emission at time 0 is recorded as 1 (0 means never): the rate still holds. */
    presence_rules_t r = PRESENCE_RULES_DEFAULT;
    presence_t p;
    presence_init(&p, 0);
    json_t *e = upd(&p, "{\"a\":1}", 0, &r, NULL);
    ASSERT_TRUE(e != NULL);
    json_decref(e);
    e = upd(&p, "{\"a\":2}", 1, &r, NULL);
    ASSERT_TRUE(e == NULL);
    ASSERT_EQ(presence_next_due(&p, &r), 51);
    presence_free(&p);
}

static void test_idle(void)
{
    presence_rules_t r = PRESENCE_RULES_DEFAULT;
    presence_t p;
    presence_init(&p, 5000);
    ASSERT_EQ(presence_next_due(&p, &r), 65000); /* silent since joining */
    json_decref(upd(&p, "{\"status\":\"here\"}", 10000, &r, NULL));
    ASSERT_EQ(presence_next_due(&p, &r), 70000);
    ASSERT_TRUE(presence_tick(&p, 69999, &r) == NULL);
    ASSERT_EQ(p.idle, 0);
    json_t *e = presence_tick(&p, 70000, &r);
    int ok = is_json(e, "{\"idle\":true}") && state_is(&p, "{\"status\":\"here\",\"idle\":true}");
    json_decref(e);
    ASSERT_TRUE(ok);
    ASSERT_EQ(p.idle, 1);
    ASSERT_EQ(presence_next_due(&p, &r), 0);
    ASSERT_TRUE(presence_tick(&p, 200000, &r) == NULL); /* idle is emitted once */
    /* any update clears it, even one that changes nothing else */
    e = upd(&p, "{\"status\":\"here\"}", 300000, &r, NULL);
    ok = is_json(e, "{\"idle\":false}") && state_is(&p, "{\"status\":\"here\",\"idle\":false}");
    json_decref(e);
    ASSERT_TRUE(ok);
    ASSERT_EQ(p.idle, 0);
    ASSERT_EQ(presence_next_due(&p, &r), 360000);
    /* idle again, then an update with content: both in one change */
    json_decref(presence_tick(&p, 360000, &r));
    e = upd(&p, "{\"cursor\":{\"x\":1}}", 360001, &r, NULL);
    /* 1 ms after the idle change: held, then flushed with idle:false and the cursor */
    ASSERT_TRUE(e == NULL);
    e = presence_tick(&p, presence_next_due(&p, &r), &r);
    ok = is_json(e, "{\"idle\":false,\"cursor\":{\"x\":1}}");
    json_decref(e);
    presence_free(&p);
    ASSERT_TRUE(ok);
}

/* Members who go idle without a state of their own share one constant text {"idle":true}:
 * every member of a quiet room goes idle, and each would otherwise hold a copy
 * (docs/benchmarks.md). They emit and read what a state of their own gave, and a later
 * update builds a text of its own without touching the shared one. */
static void test_idle_alone_shared(void)
{
    presence_rules_t r = PRESENCE_RULES_DEFAULT;
    presence_t a, b;
    presence_init(&a, 0);
    presence_init(&b, 0);
    json_t *ea = presence_tick(&a, 60000, &r), *eb = presence_tick(&b, 60000, &r);
    int ok = is_json(ea, "{\"idle\":true}") && is_json(eb, "{\"idle\":true}");
    json_decref(ea);
    json_decref(eb);
    ASSERT_TRUE(ok);
    ASSERT_TRUE(a.state != NULL && a.state == b.state);
    ASSERT_STREQ(a.state, "{\"idle\":true}");
    ASSERT_TRUE(a.pending == NULL && b.pending == NULL && a.sent == NULL);
    ASSERT_EQ(a.idle, 1);
    ASSERT_EQ(presence_next_due(&a, &r), 0);
    /* back: a state of a's own, the shared one as it was */
    const char *shared = b.state;
    ea = upd(&a, "{\"x\":1}", 70000, &r, NULL);
    ok = is_json(ea, "{\"idle\":false,\"x\":1}") && state_is(&a, "{\"idle\":false,\"x\":1}") &&
         state_is(&b, "{\"idle\":true}");
    json_decref(ea);
    ASSERT_TRUE(ok);
    ASSERT_TRUE(a.state != shared && b.state == shared);
    /* a member with a state of its own goes idle as before, in its own text */
    json_decref(presence_tick(&a, 200000, &r));
    ASSERT_TRUE(a.state != shared);
    ASSERT_TRUE(state_is(&a, "{\"idle\":true,\"x\":1}"));
    /* a state that comes back to {"idle":true} is the shared text again */
    json_decref(upd(&a, "{\"x\":null,\"idle\":true}", 300000, &r, NULL));
    ASSERT_TRUE(state_is(&a, "{\"idle\":false}"));
    json_decref(presence_tick(&a, 360000, &r));
    ASSERT_TRUE(a.state == shared);
    presence_free(&a);
    presence_free(&b); /* the shared text is never freed (ASan would say) */
}

/* The state at rest is one text sized to it: a held change keeps what the room saw as
 * text until it is sent, then only the state is left; what a watcher is told first
 * (presence_sent_text) is what the emitted changes add up to. */
static void test_state_kept_as_text(void)
{
    presence_rules_t r = PRESENCE_RULES_DEFAULT;
    presence_t p;
    presence_init(&p, 1000);
    ASSERT_STREQ(presence_state_text(&p, NULL), "{}");
    json_decref(upd(&p, "{\"cursor\":{\"s\":1,\"t\":2},\"name\":\"caf\xc3\xa9\\n\"}", 1000, &r,
                    NULL));
    size_t len;
    const char *t = presence_state_text(&p, &len);
    ASSERT_STREQ(t, "{\"cursor\":{\"s\":1,\"t\":2},\"name\":\"caf\xc3\xa9\\n\"}");
    ASSERT_EQ(len, strlen(t));
    ASSERT_TRUE(p.sent == NULL && p.pending == NULL);
    ASSERT_STREQ(presence_sent_text(&p, NULL), t);
    /* held: the room still saw the first state */
    ASSERT_TRUE(upd(&p, "{\"cursor\":{\"s\":5}}", 1010, &r, NULL) == NULL);
    ASSERT_STREQ(presence_state_text(&p, NULL),
                  "{\"cursor\":{\"s\":5,\"t\":2},\"name\":\"caf\xc3\xa9\\n\"}");
    ASSERT_STREQ(presence_sent_text(&p, NULL),
                  "{\"cursor\":{\"s\":1,\"t\":2},\"name\":\"caf\xc3\xa9\\n\"}");
    /* moved back before the flush: nothing held, nothing kept but the state */
    ASSERT_TRUE(upd(&p, "{\"cursor\":{\"s\":1}}", 1020, &r, NULL) == NULL);
    ASSERT_TRUE(p.pending == NULL && p.sent == NULL);
    ASSERT_TRUE(presence_next_due(&p, &r) == 61020);
    /* held again, then sent: the sent text is the state's */
    ASSERT_TRUE(upd(&p, "{\"name\":null}", 1030, &r, NULL) == NULL);
    json_t *e = presence_tick(&p, 1050, &r);
    int ok = is_json(e, "{\"name\":null}");
    json_decref(e);
    ASSERT_TRUE(ok);
    ASSERT_TRUE(p.pending == NULL && p.sent == NULL);
    ASSERT_STREQ(presence_state_text(&p, NULL), "{\"cursor\":{\"s\":1,\"t\":2}}");
    /* everything removed: {} again, which holds nothing */
    json_decref(upd(&p, "{\"cursor\":null}", 2000, &r, NULL));
    ASSERT_TRUE(p.state == NULL);
    ASSERT_STREQ(presence_state_text(&p, NULL), "{}");
    presence_free(&p);
}

/* A string holding U+0000, which the frame's parse allows (JSON_ALLOW_NUL), is kept in the
 * state's text as \u0000 and read back: the next change and the state's tree must not
 * abort (a client could otherwise stop the server with one presence frame). */
static void test_nul_in_string(void)
{
    presence_rules_t r = PRESENCE_RULES_DEFAULT;
    presence_t p;
    presence_init(&p, 1000);
    json_t *pt = json_loads("{\"s\":\"a\\u0000b\"}", JSON_ALLOW_NUL, NULL);
    CH_ASSERT_T(pt != NULL);
    json_t *e = NULL;
    ASSERT_EQ(presence_update(&p, pt, 1000, &r, &e), 0);
    json_decref(pt);
    json_decref(e);
    json_t *e2 = upd(&p, "{\"t\":1}", 2000, &r, NULL); /* decodes the kept text */
    json_decref(e2);
    json_t *v = presence_state_json(&p);
    json_t *s = json_object_get(v, "s");
    ASSERT_TRUE(json_is_string(s) && json_string_length(s) == 3 &&
                memcmp(json_string_value(s), "a\0b", 3) == 0);
    json_decref(v);
    presence_free(&p);
}

static void test_client_cannot_set_idle(void)
{
    presence_rules_t r = PRESENCE_RULES_DEFAULT;
    presence_t p;
    presence_init(&p, 1000);
    json_t *e = upd(&p, "{\"idle\":true,\"a\":1}", 1000, &r, NULL);
    int ok = is_json(e, "{\"a\":1}") && state_is(&p, "{\"a\":1}");
    json_decref(e);
    ASSERT_TRUE(ok);
    ASSERT_EQ(p.idle, 0);
    presence_free(&p);
}

static void test_typing_expiry(void)
{
    presence_rules_t r = PRESENCE_RULES_DEFAULT;
    presence_t p;
    presence_init(&p, 1000);
    json_t *e = upd(&p, "{\"typing\":true}", 1000, &r, NULL);
    json_decref(e);
    ASSERT_EQ(p.typing_until, 6000);
    ASSERT_EQ(presence_next_due(&p, &r), 6000);
    ASSERT_TRUE(presence_tick(&p, 5999, &r) == NULL);
    e = presence_tick(&p, 6000, &r);
    int ok = is_json(e, "{\"typing\":false}") && state_is(&p, "{\"typing\":false}");
    json_decref(e);
    ASSERT_TRUE(ok);
    ASSERT_EQ(p.typing_until, 0);
    ASSERT_EQ(presence_next_due(&p, &r), 61000);

    /* re-setting typing extends it, even when the state does not change */
    json_decref(upd(&p, "{\"typing\":true}", 10000, &r, NULL));
    e = upd(&p, "{\"typing\":true}", 13000, &r, NULL);
    ASSERT_TRUE(e == NULL); /* nothing new for the room */
    ASSERT_EQ(presence_next_due(&p, &r), 18000);
    ASSERT_TRUE(presence_tick(&p, 15000, &r) == NULL);
    /* other updates do not extend it */
    json_decref(upd(&p, "{\"cursor\":{\"x\":1}}", 16000, &r, NULL));
    ASSERT_EQ(presence_next_due(&p, &r), 18000);
    ASSERT_TRUE(presence_tick(&p, 17999, &r) == NULL);
    e = presence_tick(&p, 18000, &r);
    ok = is_json(e, "{\"typing\":false}");
    json_decref(e);
    ASSERT_TRUE(ok);

    /* typing:false or removal stops the timer */
    json_decref(upd(&p, "{\"typing\":true}", 20000, &r, NULL));
    json_decref(upd(&p, "{\"typing\":null}", 21000, &r, NULL));
    ASSERT_EQ(p.typing_until, 0);
    presence_free(&p);
}

static void test_typing_expiry_respects_rate(void)
{
    presence_rules_t r = PRESENCE_RULES_DEFAULT;
    presence_t p;
    presence_init(&p, 1000);
    json_decref(upd(&p, "{\"typing\":true}", 1000, &r, NULL));
    json_decref(upd(&p, "{\"cursor\":{\"x\":1}}", 5990, &r, NULL));
    json_t *e = presence_tick(&p, 6000, &r);
    ASSERT_TRUE(e == NULL); /* 10 ms after the last change: state updated, change held */
    int ok = state_is(&p, "{\"typing\":false,\"cursor\":{\"x\":1}}");
    ASSERT_TRUE(ok);
    ASSERT_EQ(presence_next_due(&p, &r), 6040);
    e = presence_tick(&p, 6040, &r);
    ok = is_json(e, "{\"typing\":false}");
    json_decref(e);
    presence_free(&p);
    ASSERT_TRUE(ok);
}

static void test_oversized_rejected(void)
{
    presence_rules_t r = PRESENCE_RULES_DEFAULT;
    r.max_bytes = 40;
    presence_t p;
    presence_init(&p, 1000);
    json_decref(upd(&p, "{\"a\":\"0123456789\"}", 1000, &r, NULL)); /* 18 bytes */
    json_decref(upd(&p, "{\"b\":1}", 1010, &r, NULL));              /* held */
    char *before = strdup(presence_state_text(&p, NULL));
    char *pend = json_dumps(p.pending, JSON_COMPACT | JSON_SORT_KEYS);
    int rc;
    json_t *e = upd(&p, "{\"c\":\"0123456789012345678901234567890\"}", 2000, &r, &rc);
    char *after = strdup(presence_state_text(&p, NULL));
    char *pend2 = json_dumps(p.pending, JSON_COMPACT | JSON_SORT_KEYS);
    int same = strcmp(before, after) == 0 && strcmp(pend, pend2) == 0;
    free(before); free(after); free(pend); free(pend2);
    ASSERT_EQ(rc, -1);
    ASSERT_TRUE(e == NULL);
    ASSERT_TRUE(same);
    ASSERT_EQ(p.last_active_ms, 1010); /* a refused update is not activity */
    ASSERT_EQ(p.last_emit_ms, 1000);
    /* exactly at the cap is fine: {"a":"0123456789","b":1,"c":"xxxxxxxxx"} is 40 bytes */
    e = upd(&p, "{\"c\":\"xxxxxxxxx\"}", 2000, &r, &rc);
    ASSERT_EQ(rc, 0);
    int ok = is_json(e, "{\"b\":1,\"c\":\"xxxxxxxxx\"}");
    json_decref(e);
    ASSERT_TRUE(ok);
    /* shrinking past the cap is also accepted */
    e = upd(&p, "{\"c\":null}", 3000, &r, &rc);
    ASSERT_EQ(rc, 0);
    json_decref(e);
    presence_free(&p);
}

static void test_non_object_rejected(void)
{
    presence_rules_t r = PRESENCE_RULES_DEFAULT;
    presence_t p;
    presence_init(&p, 1000);
    const char *bad[] = {"[1]", "\"s\"", "null", "3", "true"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc;
        json_t *e = upd(&p, bad[i], 1000 + i, &r, &rc);
        ASSERT_EQ(rc, -1);
        ASSERT_TRUE(e == NULL);
    }
    ASSERT_TRUE(p.state == NULL);
    ASSERT_EQ(p.last_active_ms, 1000);
    presence_free(&p);
}

static void test_room_stays_consistent(void)
{
    /* Removal then an object value at the same key, inside one held window: a naive merge
     * of the two patches would leave the room with {"sel":{"a":1,"b":2}}. */
    presence_rules_t r = PRESENCE_RULES_DEFAULT;
    presence_t p;
    presence_init(&p, 1000);
    json_t *room = json_object();
    json_t *e = upd(&p, "{\"sel\":{\"a\":1}}", 1000, &r, NULL);
    json_merge_patch_object(&room, e);
    json_decref(e);
    ASSERT_TRUE(upd(&p, "{\"sel\":null}", 1001, &r, NULL) == NULL);
    ASSERT_TRUE(upd(&p, "{\"sel\":{\"b\":2}}", 1002, &r, NULL) == NULL);
    e = presence_tick(&p, 1050, &r);
    ASSERT_TRUE(e != NULL);
    json_merge_patch_object(&room, e);
    json_decref(e);
    int ok = is_json(room, "{\"sel\":{\"b\":2}}") && state_eq(room, &p);

    /* Pseudo-random patches at random times: the room always converges. */
    uint32_t seed = 12345;
    const char *keys[] = {"a", "b", "c"};
    uint64_t t = 2000;
    for (int i = 0; i < 3000 && ok; i++) {
        seed = seed * 1103515245u + 12345u;
        json_t *pt = json_object(), *inner = json_object();
        int pick = (int)(seed >> 16) % 4;
        const char *k = keys[(seed >> 8) % 3];
        json_object_set_new(inner, keys[(seed >> 4) % 3], pick == 0 ? json_null() : json_integer(i));
        json_object_set_new(pt, k, pick == 1 ? json_null() : pick == 2 ? json_integer(i) : inner);
        if (pick == 1 || pick == 2) json_decref(inner);
        t += (seed >> 20) % 40;
        uint64_t due = presence_next_due(&p, &r);
        if (due && due <= t) {
            e = presence_tick(&p, t, &r);
            if (e) json_merge_patch_object(&room, e);
            json_decref(e);
        }
        CH_ASSERT_T(presence_update(&p, pt, t, &r, &e) == 0);
        json_decref(pt);
        if (e) json_merge_patch_object(&room, e);
        json_decref(e);
        if (!p.pending && !state_eq(room, &p)) ok = 0;
    }
    while (p.pending) {
        uint64_t due = presence_next_due(&p, &r);
        e = presence_tick(&p, due, &r);
        if (e) json_merge_patch_object(&room, e);
        json_decref(e);
    }
    ok = ok && state_eq(room, &p);
    json_decref(room);
    presence_free(&p);
    ASSERT_TRUE(ok);
}

int main(void)
{
    RUN(test_idle_member_holds_nothing);
    RUN(test_first_update_at_once);
    RUN(test_burst_coalesced);
    RUN(test_next_due_exact_flush);
    RUN(test_rate_rounding);
    RUN(test_min_gap);
    RUN(test_clock_zero);
    RUN(test_idle);
    RUN(test_idle_alone_shared);
    RUN(test_state_kept_as_text);
    RUN(test_nul_in_string);
    RUN(test_client_cannot_set_idle);
    RUN(test_typing_expiry);
    RUN(test_typing_expiry_respects_rate);
    RUN(test_oversized_rejected);
    RUN(test_non_object_rejected);
    RUN(test_room_stays_consistent);
    TEST_MAIN_END();
}
