/* test_roster.c: a room's participants in page order (online first, then offline, each by
 * seat) and the cursors paging through them. */
#include "test.h"

#include "domain/roster.h"

static int ids[100];

/* The ids of the page's records into got ("1,2,3"). */
static void page_text(void **out, size_t n, char *got, size_t cap)
{
    got[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(got);
        snprintf(got + l, cap - l, "%s%d", i ? "," : "", *(int *)out[i]);
    }
}

/* Pages of limit from the start until the end, joined with "|". */
static void all_pages(const roster_t *r, int online_only, size_t limit, char *got, size_t cap)
{
    roster_pos_t pos = {ROSTER_ONLINE, 0};
    void *out[100];
    got[0] = '\0';
    int first = 1;
    while (pos.group != ROSTER_END) {
        char cur[ROSTER_CURSOR_LEN];
        roster_cursor_format(&pos, cur);
        roster_pos_t back;
        if (roster_cursor_parse(cur, strlen(cur), &back) == 0) pos = back; /* round trip */
        size_t n = roster_page(r, &pos, online_only, NULL, NULL, out, limit);
        size_t l = strlen(got);
        snprintf(got + l, cap - l, "%s", first ? "" : "|");
        first = 0;
        l = strlen(got);
        page_text(out, n, got + l, cap - l);
    }
}

static void test_order(void)
{
    roster_t r;
    roster_init(&r);
    uint32_t seat[10];
    for (int i = 1; i <= 6; i++) {
        ids[i] = i;
        seat[i] = roster_add(&r, &ids[i]);
    }
    ASSERT_EQ(seat[1], 1);
    ASSERT_EQ(seat[6], 6);
    ASSERT_EQ(roster_set_online(&r, seat[5], 1), 0);
    ASSERT_EQ(roster_set_online(&r, seat[2], 1), 0);
    ASSERT_EQ(r.online, 2);
    ASSERT_EQ(r.count, 6);
    char got[256];
    all_pages(&r, 0, 100, got, sizeof(got));
    ASSERT_STREQ(got, "2,5,1,3,4,6");
    all_pages(&r, 0, 2, got, sizeof(got));
    ASSERT_STREQ(got, "2,5|1,3|4,6");
    all_pages(&r, 0, 4, got, sizeof(got));
    ASSERT_STREQ(got, "2,5,1,3|4,6");
    all_pages(&r, 1, 1, got, sizeof(got));
    ASSERT_STREQ(got, "2|5");
    /* Removing and going offline keep the rest in place. */
    ASSERT_EQ(roster_del(&r, seat[3]), 0);
    ASSERT_EQ(roster_del(&r, seat[3]), -1);
    ASSERT_EQ(roster_set_online(&r, seat[2], 0), 0);
    ASSERT_EQ(roster_del(&r, seat[5]), 0); /* online when removed */
    ASSERT_EQ(r.online, 0);
    ASSERT_EQ(r.count, 4);
    all_pages(&r, 0, 100, got, sizeof(got));
    ASSERT_STREQ(got, "1,2,4,6");
    all_pages(&r, 1, 100, got, sizeof(got));
    ASSERT_STREQ(got, "");
    ASSERT_TRUE(roster_after(&r, seat[2]) == &ids[4]);
    ASSERT_TRUE(roster_after(&r, seat[6]) == NULL);
    roster_free(&r);
}

static int even(const void *item, void *ud)
{
    (void)ud;
    return *(const int *)item % 2 == 0;
}

static void test_match_and_cursor(void)
{
    roster_t r;
    roster_init(&r);
    for (int i = 1; i <= 9; i++) {
        ids[i] = i;
        roster_add(&r, &ids[i]);
    }
    roster_set_online(&r, 9, 1);
    void *out[4];
    roster_pos_t pos = {ROSTER_ONLINE, 0};
    size_t n = roster_page(&r, &pos, 0, even, NULL, out, 2);
    char got[64];
    page_text(out, n, got, sizeof(got));
    ASSERT_STREQ(got, "2,4");
    char cur[ROSTER_CURSOR_LEN];
    roster_cursor_format(&pos, cur);
    ASSERT_STREQ(cur, "f4");
    n = roster_page(&r, &pos, 0, even, NULL, out, 2);
    page_text(out, n, got, sizeof(got));
    ASSERT_STREQ(got, "6,8");
    ASSERT_EQ(pos.group, ROSTER_END); /* nothing after 8 matches: no cursor */
    roster_cursor_format(&pos, cur);
    ASSERT_STREQ(cur, "");
    /* Texts that are no cursor. */
    const char *bad[] = {"", "n", "x1", "n01", "n-1", "n4294967296", "f1x", "n 1", "F1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++)
        ASSERT_EQ(roster_cursor_parse(bad[i], strlen(bad[i]), &pos), -1);
    ASSERT_EQ(roster_cursor_parse("n4294967295", 11, &pos), 0);
    ASSERT_EQ(pos.after, 4294967295u);
    ASSERT_EQ(roster_cursor_parse("f0", 2, &pos), 0);
    ASSERT_EQ(pos.group, ROSTER_OFFLINE);
    roster_free(&r);
}

static int none(const void *item, void *ud)
{
    (void)item;
    (void)ud;
    return 0;
}

/* A search looks at ROSTER_SCAN_MAX records a call at most: one that matches nobody in a
 * room of more gives empty pages with a cursor until the end; and an online-only page
 * from an offline cursor gives nobody. */
static void test_scan_budget(void)
{
    roster_t r;
    roster_init(&r);
    enum { N = 3 * ROSTER_SCAN_MAX + 10 };
    static int many[N];
    for (int i = 0; i < N; i++) {
        many[i] = i;
        uint32_t seat = roster_add(&r, &many[i]);
        if (i % 2) roster_set_online(&r, seat, 1);
    }
    void *out[8];
    roster_pos_t pos = {ROSTER_ONLINE, 0};
    int calls = 0;
    while (pos.group != ROSTER_END) {
        ASSERT_EQ(roster_page(&r, &pos, 0, none, NULL, out, 8), 0);
        calls++;
        ASSERT_TRUE(calls < 10);
    }
    ASSERT_EQ(calls, 4); /* N records, ROSTER_SCAN_MAX a call */
    /* The same walk with a match that keeps all: every record once, in order. */
    pos = (roster_pos_t){ROSTER_ONLINE, 0};
    size_t total = 0;
    static char seen[N];
    while (pos.group != ROSTER_END) {
        size_t n = roster_page(&r, &pos, 0, even, NULL, out, 8);
        for (size_t i = 0; i < n; i++) {
            int k = *(int *)out[i];
            ASSERT_EQ(seen[k], 0);
            seen[k] = 1;
        }
        total += n;
    }
    ASSERT_EQ(total, (size_t)(N + 1) / 2);
    pos = (roster_pos_t){ROSTER_OFFLINE, 0};
    ASSERT_EQ(roster_page(&r, &pos, 1, NULL, NULL, out, 8), 0);
    ASSERT_EQ(pos.group, ROSTER_END);
    roster_free(&r);
}

/* Churn: seats given up leave holes, which the table drops instead of growing; the order
 * and the seat numbers (hence cursors) stay. */
static void test_compaction(void)
{
    roster_t r;
    roster_init(&r);
    static int many[1000];
    uint32_t seat[1000];
    for (int round = 0; round < 10; round++) {
        for (int i = 0; i < 100; i++) {
            int k = round * 100 + i;
            many[k] = k;
            seat[k] = roster_add(&r, &many[k]);
            if (k % 7 == 0) roster_set_online(&r, seat[k], 1);
        }
        for (int i = 0; i < 100; i++) { /* all but every tenth of the round go */
            int k = round * 100 + i;
            if (i % 10) ASSERT_EQ(roster_del(&r, seat[k]), 0);
        }
    }
    ASSERT_EQ(r.count, 100);
    /* It grows only when over half its slots hold records: below 4 slots a record at the
     * most held at once (190 here), though 1000 seats were taken. */
    ASSERT_TRUE(r.cap < 4 * 190);
    void *out[200];
    roster_pos_t pos = {ROSTER_ONLINE, 0};
    size_t n = roster_page(&r, &pos, 0, NULL, NULL, out, 200);
    ASSERT_EQ(n, 100);
    ASSERT_EQ(pos.group, ROSTER_END);
    int prev_on = -1, prev_off = -1, online = 0;
    for (size_t i = 0; i < n; i++) {
        int k = *(int *)out[i];
        ASSERT_EQ(k % 10, 0);
        if (k % 7 == 0) {
            ASSERT_EQ(prev_off, -1); /* every online one before the offline ones */
            ASSERT_TRUE(k > prev_on);
            prev_on = k;
            online++;
        } else {
            ASSERT_TRUE(k > prev_off);
            prev_off = k;
        }
    }
    ASSERT_EQ(online, (int)r.online);
    roster_free(&r);
}

int main(void)
{
    RUN(test_order);
    RUN(test_match_and_cursor);
    RUN(test_compaction);
    RUN(test_scan_budget);
    TEST_MAIN_END();
}
