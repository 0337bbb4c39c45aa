/* test_presence_watch.c: the presence watch index of a room (presence_watch.h): a watcher's
 * set replaced, cleared and dropped, duplicates, the bound, and the watchers of a user. */
#include "test.h"

#include <stdio.h>
#include <string.h>

#include "domain/presence_watch.h"

/* 1 when w is among the n watchers of list. */
static int has(void *const *list, size_t n, void *w)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == w) return 1;
    return 0;
}

static void test_set_and_replace(void)
{
    pwatch_t x;
    pwatch_init(&x, 7);
    int a, b;
    const char *ab[] = {"alice", "bob"}, *bc[] = {"bob", "carol"};
    ASSERT_EQ(pwatch_set(&x, &a, ab, 2, 256), 2);
    ASSERT_EQ(pwatch_set(&x, &b, bc, 2, 256), 2);
    size_t n;
    void *const *w = pwatch_of(&x, "bob", &n);
    ASSERT_EQ(n, 2);
    ASSERT_TRUE(has(w, n, &a) && has(w, n, &b));
    w = pwatch_of(&x, "alice", &n);
    ASSERT_EQ(n, 1);
    ASSERT_TRUE(w[0] == &a);
    ASSERT_TRUE(pwatch_of(&x, "dave", &n) == NULL);
    ASSERT_EQ(n, 0);
    /* Replacing a's set: alice is watched by nobody any more, carol by both. */
    const char *c[] = {"carol"};
    ASSERT_EQ(pwatch_set(&x, &a, c, 1, 256), 1);
    pwatch_of(&x, "alice", &n);
    ASSERT_EQ(n, 0);
    pwatch_of(&x, "bob", &n);
    ASSERT_EQ(n, 1);
    pwatch_of(&x, "carol", &n);
    ASSERT_EQ(n, 2);
    ASSERT_EQ(pwatch_count(&x, &a), 1);
    ASSERT_EQ(x.slots, 3);
    /* Cleared with an empty set, dropped when its connection goes. */
    ASSERT_EQ(pwatch_set(&x, &a, NULL, 0, 256), 0);
    ASSERT_EQ(pwatch_count(&x, &a), 0);
    pwatch_drop(&x, &b);
    pwatch_drop(&x, &b); /* twice: nothing */
    pwatch_of(&x, "carol", &n);
    ASSERT_EQ(n, 0);
    ASSERT_EQ(x.slots, 0);
    ASSERT_EQ(x.by_user.count, 0);
    pwatch_free(&x);
}

static void test_duplicates_and_bound(void)
{
    pwatch_t x;
    pwatch_init(&x, 9);
    int a;
    const char *dup[] = {"u1", "u2", "u1", "u2", "u1"};
    ASSERT_EQ(pwatch_set(&x, &a, dup, 5, 2), 2); /* two distinct: within a bound of 2 */
    size_t n;
    pwatch_of(&x, "u1", &n);
    ASSERT_EQ(n, 1);
    const char *three[] = {"u1", "u3", "u4"};
    ASSERT_EQ(pwatch_set(&x, &a, three, 3, 2), -1); /* refused: the old set stays */
    pwatch_of(&x, "u2", &n);
    ASSERT_EQ(n, 1);
    pwatch_of(&x, "u3", &n);
    ASSERT_EQ(n, 0);
    pwatch_free(&x);
}

/* Many watchers of one user, removed in every order, keep the others. */
static void test_many_watchers(void)
{
    pwatch_t x;
    pwatch_init(&x, 11);
    static int w[300];
    const char *u[] = {"star"};
    for (int i = 0; i < 300; i++)
        ASSERT_EQ(pwatch_set(&x, &w[i], u, 1, 1), 1);
    size_t n;
    pwatch_of(&x, "star", &n);
    ASSERT_EQ(n, 300);
    for (int i = 0; i < 300; i += 3)
        pwatch_drop(&x, &w[i]);
    void *const *list = pwatch_of(&x, "star", &n);
    ASSERT_EQ(n, 200);
    for (int i = 0; i < 300; i++)
        ASSERT_EQ(has(list, n, &w[i]), i % 3 != 0);
    pwatch_free(&x);
}

/* Random sets replaced and dropped among 64 watchers of 40 users, checked against a plain
 * model after each step: every position kept back in the index follows the swaps. */
static void test_random_against_model(void)
{
    enum { W = 64, U = 40, STEPS = 4000 };
    pwatch_t x;
    pwatch_init(&x, 13);
    static int w[W];
    static unsigned char model[W][U];
    char names[U][16];
    const char *all[U];
    for (int u = 0; u < U; u++) {
        snprintf(names[u], sizeof(names[u]), "u%d", u);
        all[u] = names[u];
    }
    uint64_t rnd = 0x243f6a8885a308d3ull;
    for (int step = 0; step < STEPS; step++) {
        rnd ^= rnd << 13, rnd ^= rnd >> 7, rnd ^= rnd << 17;
        int k = (int)(rnd % W);
        memset(model[k], 0, U);
        if (rnd >> 60 == 0) {
            pwatch_drop(&x, &w[k]);
        } else {
            const char *set[U];
            size_t n = 0;
            for (int u = 0; u < U; u++)
                if ((rnd >> (8 + u)) & 1) {
                    set[n++] = all[u];
                    model[k][u] = 1;
                }
            ASSERT_EQ(pwatch_set(&x, &w[k], set, n, U), (int)n);
        }
        size_t slots = 0;
        for (int u = 0; u < U; u++) {
            size_t n;
            void *const *list = pwatch_of(&x, all[u], &n);
            size_t want = 0;
            for (int i = 0; i < W; i++) {
                want += model[i][u];
                ASSERT_EQ(has(list, n, &w[i]), model[i][u]);
            }
            ASSERT_EQ(n, want);
            slots += n;
        }
        ASSERT_EQ(x.slots, slots);
    }
    pwatch_free(&x);
}

int main(void)
{
    RUN(test_set_and_replace);
    RUN(test_duplicates_and_bound);
    RUN(test_many_watchers);
    RUN(test_random_against_model);
    TEST_MAIN_END();
}
