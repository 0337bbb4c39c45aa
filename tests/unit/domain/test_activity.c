/* test_activity.c: the activity stream's aggregation with the time passed in: bursts per
 * user, kind and target, flushed when idle, when their user leaves, when the room goes,
 * when too long or too many; their data; an op's inserted and deleted characters. */
#include "test.h"

#include "domain/activity.h"

/* What emit saw, one line per burst: "kind user target count +plus -minus first..last". */
typedef struct {
    char text[2048];
    int n;
} seen_t;

static void emit(void *ud, const activity_burst_t *b)
{
    seen_t *s = ud;
    size_t len = strlen(s->text);
    snprintf(s->text + len, sizeof(s->text) - len, "%s %s %s %llu +%llu -%llu %lld..%lld|",
             b->kind, b->user_id, b->target[0] ? b->target : "-", (unsigned long long)b->count,
             (unsigned long long)b->plus, (unsigned long long)b->minus, (long long)b->first_at,
             (long long)b->last_at);
    s->n++;
}

#define IDLE 60000
#define SPAN 600000

static void note(activity_agg_t *a, seen_t *s, const char *kind, const char *user,
                 const char *target, uint64_t plus, uint64_t minus, int64_t now)
{
    activity_agg_note(a, kind, user, user, target, 1, plus, minus, now, SPAN, emit, s);
}

/* Edits of one user on one document are one burst until idle; another document, another
 * user and another kind are bursts of their own; flushes go oldest first. */
static void test_bursts_until_idle(void)
{
    activity_agg_t a = {0};
    seen_t s = {{0}, 0};
    note(&a, &s, ACTIVITY_DOC_EDITED, "ana", "main", 5, 0, 1000);
    note(&a, &s, ACTIVITY_MESSAGES, "bo", "", 0, 0, 2000);
    note(&a, &s, ACTIVITY_DOC_EDITED, "ana", "main", 10, 3, 30000);
    note(&a, &s, ACTIVITY_DOC_EDITED, "ana", "notes", 1, 0, 40000);
    note(&a, &s, ACTIVITY_MESSAGES, "bo", "", 0, 0, 61000);
    note(&a, &s, ACTIVITY_DOC_EDITED, "ana", "main", 105, 37, 181000);
    ASSERT_EQ(a.n, 3);
    ASSERT_EQ(s.n, 0);
    /* At 100000: notes (last 40000) is idle; main (181000) and bo (61000) are not. */
    ASSERT_EQ(activity_agg_flush(&a, 100000, IDLE, NULL, 0, emit, &s), 1);
    ASSERT_STREQ(s.text, "doc_edited ana notes 1 +1 -0 40000..40000|");
    s.text[0] = '\0';
    /* Nothing is due just before the idle time is up; at it, bo's burst goes. */
    ASSERT_EQ(activity_agg_flush(&a, 120999, IDLE, NULL, 0, emit, &s), 0);
    ASSERT_EQ(activity_agg_flush(&a, 121000, IDLE, NULL, 0, emit, &s), 1);
    ASSERT_STREQ(s.text, "messages bo - 2 +0 -0 2000..61000|");
    s.text[0] = '\0';
    ASSERT_EQ(activity_agg_flush(&a, 241000, IDLE, NULL, 0, emit, &s), 1);
    ASSERT_STREQ(s.text, "doc_edited ana main 3 +120 -40 1000..181000|");
    ASSERT_EQ(a.n, 0);
    ASSERT_TRUE(a.b == NULL); /* an empty room holds no memory */
    activity_agg_free(&a);
}

/* A user's leaving flushes their bursts only; the room going flushes all. */
static void test_leave_and_room_gone(void)
{
    activity_agg_t a = {0};
    seen_t s = {{0}, 0};
    note(&a, &s, ACTIVITY_MESSAGES, "ana", "", 0, 0, 10);
    note(&a, &s, ACTIVITY_ENTITY_MOVED, "bo", "e1", 0, 0, 20);
    note(&a, &s, ACTIVITY_ENTITY_MOVED, "bo", "e2", 0, 0, 30); /* moves: per user */
    note(&a, &s, ACTIVITY_DOC_OPENED, "ana", "main", 0, 0, 40);
    ASSERT_EQ(a.n, 3);
    ASSERT_EQ(activity_agg_flush(&a, 50, IDLE, "ana", 0, emit, &s), 2);
    ASSERT_STREQ(s.text, "messages ana - 1 +0 -0 10..10|doc_opened ana main 1 +0 -0 40..40|");
    s.text[0] = '\0';
    ASSERT_EQ(activity_agg_flush(&a, 50, IDLE, "nobody", 0, emit, &s), 0);
    ASSERT_EQ(activity_agg_flush(&a, 50, IDLE, NULL, 1, emit, &s), 1);
    ASSERT_STREQ(s.text, "entity_moved bo e2 2 +0 -0 20..30|");
    activity_agg_free(&a);
}

/* A burst that went on for the span is written and a new one begun; a room at
 * ACTIVITY_BURSTS_MAX writes its oldest out early. */
static void test_span_and_cap(void)
{
    activity_agg_t a = {0};
    seen_t s = {{0}, 0};
    for (int64_t t = 0; t <= SPAN; t += 30000)
        note(&a, &s, ACTIVITY_DOC_EDITED, "ana", "main", 1, 0, t);
    ASSERT_EQ(s.n, 1);
    ASSERT_STREQ(s.text, "doc_edited ana main 20 +20 -0 0..570000|");
    ASSERT_EQ(a.n, 1);
    ASSERT_EQ(a.b[0].first_at, SPAN);
    activity_agg_free(&a);
    memset(&s, 0, sizeof(s));
    char user[16];
    for (int i = 0; i <= ACTIVITY_BURSTS_MAX; i++) {
        snprintf(user, sizeof(user), "u%d", i);
        note(&a, &s, ACTIVITY_MESSAGES, user, "", 0, 0, 100 + i);
    }
    ASSERT_EQ(a.n, ACTIVITY_BURSTS_MAX);
    ASSERT_EQ(s.n, 1);
    ASSERT_STREQ(s.text, "messages u0 - 1 +0 -0 100..100|");
    activity_agg_free(&a);
    ASSERT_EQ(a.n, 0);
}

/* The row data of each kind of burst. */
static void test_burst_data(void)
{
    activity_burst_t b = {0};
    snprintf(b.kind, sizeof(b.kind), ACTIVITY_DOC_EDITED);
    snprintf(b.target, sizeof(b.target), "main");
    b.first_at = 1000;
    b.last_at = 181000;
    b.count = 7;
    b.plus = 120;
    b.minus = 40;
    json_t *d = activity_burst_data(&b);
    char *t = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    ASSERT_STREQ(t,
                 "{\"deleted\":40,\"doc\":\"main\",\"inserted\":120,\"ms\":180000,\"ops\":7}");
    free(t);
    json_decref(d);
    snprintf(b.kind, sizeof(b.kind), ACTIVITY_ENTITY_MOVED);
    snprintf(b.target, sizeof(b.target), "e1");
    d = activity_burst_data(&b);
    t = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    ASSERT_STREQ(t, "{\"count\":7,\"entity\":\"e1\",\"ms\":180000}");
    free(t);
    json_decref(d);
    snprintf(b.kind, sizeof(b.kind), ACTIVITY_MESSAGES);
    b.target[0] = '\0';
    d = activity_burst_data(&b);
    t = json_dumps(d, JSON_COMPACT | JSON_SORT_KEYS);
    ASSERT_STREQ(t, "{\"count\":7,\"ms\":180000}");
    free(t);
    json_decref(d);
}

/* Inserted and deleted characters of an op count code points, not bytes or skips. */
static void test_op_counts(void)
{
    json_t *j = json_loads("[3, \"héllo\", {\"d\": 4}, 2, \"✓\"]", 0, NULL);
    ot_op_t op;
    ot_op_init(&op);
    const char *why = NULL;
    ASSERT_EQ(ot_op_from_json(&op, j, 100, &why), 0);
    uint64_t plus = 9, minus = 9;
    activity_op_counts(&op, &plus, &minus);
    ASSERT_EQ(plus, 6);
    ASSERT_EQ(minus, 4);
    ot_op_free(&op);
    json_decref(j);
}

int main(void)
{
    RUN(test_bursts_until_idle);
    RUN(test_leave_and_room_gone);
    RUN(test_span_and_cap);
    RUN(test_burst_data);
    RUN(test_op_counts);
    TEST_MAIN_END();
}
