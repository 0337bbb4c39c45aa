/* test_keyset.c: the hash set of records keyed by a string they hold. */
#include "test.h"

#include "util/keyset.h"

typedef struct {
    char name[16];
} rec_t;

static const char *rec_key(const void *item)
{
    return ((const rec_t *)item)->name;
}

static void test_fold_and_dups(void)
{
    keyset_t s;
    keyset_init(&s, rec_key, 1, 42);
    rec_t a = {"Alice"}, b = {"ALICE"}, c = {"bob"};
    ASSERT_TRUE(keyset_get(&s, "alice") == NULL);
    keyset_add(&s, &a);
    keyset_add(&s, &b);
    keyset_add(&s, &c);
    ASSERT_TRUE(keyset_get(&s, "BOB") == &c);
    size_t pos = 0;
    int n = 0;
    for (rec_t *x; (x = keyset_next(&s, "aLiCe", &pos));) {
        ASSERT_TRUE(x == &a || x == &b);
        n++;
    }
    ASSERT_EQ(n, 2);
    ASSERT_EQ(keyset_del(&s, &a), 0);
    ASSERT_EQ(keyset_del(&s, &a), -1);
    ASSERT_TRUE(keyset_get(&s, "alice") == &b);
    keyset_free(&s);
    keyset_init(&s, rec_key, 0, 42); /* exact keys */
    keyset_add(&s, &a);
    ASSERT_TRUE(keyset_get(&s, "alice") == NULL);
    ASSERT_TRUE(keyset_get(&s, "Alice") == &a);
    keyset_free(&s);
}

/* Many records, most removed again (backward shift keeps every probe run whole). */
static void test_churn(void)
{
    keyset_t s;
    keyset_init(&s, rec_key, 0, 7);
    static rec_t r[3000];
    for (int i = 0; i < 3000; i++) {
        snprintf(r[i].name, sizeof(r[i].name), "u%d", i);
        keyset_add(&s, &r[i]);
    }
    for (int i = 0; i < 3000; i += 3)
        ASSERT_EQ(keyset_del(&s, &r[i]), 0);
    ASSERT_EQ(s.count, 2000);
    for (int i = 0; i < 3000; i++) {
        void *got = keyset_get(&s, r[i].name);
        if (i % 3 == 0)
            ASSERT_TRUE(got == NULL);
        else
            ASSERT_TRUE(got == &r[i]);
    }
    keyset_free(&s);
}

int main(void)
{
    RUN(test_fold_and_dups);
    RUN(test_churn);
    TEST_MAIN_END();
}
