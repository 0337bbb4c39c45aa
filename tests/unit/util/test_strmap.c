/* test_strmap.c: the string hash map against a brute-force reference, with deletions. */
#include "test.h"

#include <stddef.h>

#include "util/strmap.h"

#define N 5000

static void test_against_reference(void)
{
    static char keys[N][16];
    static int present[N];
    static int vals[N];
    strmap_t m;
    strmap_init(&m, 12345);
    unsigned rnd = 1;
    for (int i = 0; i < N; i++) {
        snprintf(keys[i], sizeof(keys[i]), "k%d", i);
        vals[i] = i;
    }
    for (int step = 0; step < 200000; step++) {
        rnd = rnd * 1103515245u + 12345u;
        int k = (int)((rnd >> 8) % N);
        int op = (int)((rnd >> 4) % 3);
        if (op == 0) {
            if (!present[k]) strmap_put(&m, keys[k], &vals[k]);
            present[k] = 1;
        } else if (op == 1) {
            void *v = strmap_del(&m, keys[k]);
            ASSERT_TRUE(v == (present[k] ? (void *)&vals[k] : NULL));
            present[k] = 0;
        } else {
            ASSERT_TRUE(strmap_get(&m, keys[k]) == (present[k] ? (void *)&vals[k] : NULL));
        }
    }
    size_t count = 0;
    for (int i = 0; i < N; i++) {
        count += (size_t)present[i];
        ASSERT_TRUE(strmap_get(&m, keys[i]) == (present[i] ? (void *)&vals[i] : NULL));
    }
    ASSERT_EQ(m.count, count);
    size_t it = 0, seen = 0;
    const char *k;
    void *v;
    while (strmap_next(&m, &it, &k, &v)) {
        ASSERT_TRUE(*(int *)v == atoi(k + 1));
        seen++;
    }
    ASSERT_EQ(seen, count);
    strmap_free(&m);
}

static void test_empty(void)
{
    strmap_t m;
    strmap_init(&m, 0);
    ASSERT_TRUE(strmap_get(&m, "x") == NULL);
    ASSERT_TRUE(strmap_del(&m, "x") == NULL);
    int v = 1;
    strmap_put(&m, "x", &v);
    strmap_put(&m, "x", &v);
    ASSERT_EQ(m.count, 1);
    strmap_free(&m);
}

/* strmap_free_all frees values that own their keys (LeakSanitizer checks in the ASan run)
 * and leaves the map empty and usable. */
static void test_free_all(void)
{
    strmap_t m;
    strmap_init(&m, 7);
    for (int i = 0; i < 100; i++) {
        char *v = malloc(16);
        snprintf(v, 16, "k%d", i);
        strmap_put(&m, v, v);
    }
    free(strmap_del(&m, "k5")); /* a deleted value is the caller's again */
    ASSERT_EQ(m.count, 99);
    strmap_free_all(&m);
    ASSERT_EQ(m.count, 0);
    ASSERT_EQ(m.cap, 0);
    ASSERT_TRUE(strmap_get(&m, "k1") == NULL);
    strmap_free_all(&m); /* empty: nothing to free */
}

/* A record keyed by its trailing name: made once, found after, freed with the map. */
typedef struct {
    int n;
    char name[];
} named_t;

static void test_get_or_new(void)
{
    strmap_t m;
    strmap_init(&m, 7);
    named_t *a = strmap_get_or_new(&m, "alpha", sizeof(named_t), offsetof(named_t, name));
    ASSERT_EQ(a->n, 0);
    ASSERT_STREQ(a->name, "alpha");
    a->n = 5;
    named_t *again = strmap_get_or_new(&m, "alpha", sizeof(named_t), offsetof(named_t, name));
    ASSERT_EQ(again, a);
    ASSERT_EQ(again->n, 5);
    named_t *b = strmap_get_or_new(&m, "b", sizeof(named_t), offsetof(named_t, name));
    ASSERT_NE(b, a);
    ASSERT_EQ(m.count, 2);
    ASSERT_EQ(strmap_get(&m, "b"), b);
    strmap_free_all(&m);
}

int main(void)
{
    RUN(test_against_reference);
    RUN(test_empty);
    RUN(test_free_all);
    RUN(test_get_or_new);
    TEST_MAIN_END();
}
