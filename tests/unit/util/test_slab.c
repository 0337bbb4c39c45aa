/* test_slab.c: slab records are distinct, zeroed and reused; pages are mapped as records
 * need them and given back once empty (one kept a size class); records of a range of sizes
 * find their class again from their page; under AddressSanitizer a free slot is poisoned,
 * and slab_new hands every record to malloc so ASan sees each. */
#include "test.h"

#include <stdint.h>

#include "util/slab.h"

#if defined(__SANITIZE_ADDRESS__)
#define T_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define T_ASAN 1
#endif
#endif
#ifndef T_ASAN
#define T_ASAN 0
#endif
#if T_ASAN
#include <sanitizer/asan_interface.h>
#endif

#define PAGE SLAB_PAGE
#define N 19000
/* Under ASan a slot holds its slab's address before the record (slab.c). */
#define SLAB_PREFIX_T (T_ASAN ? 16 : 0)

/* 19,000 fixed-size records: each zeroed, 8-aligned, apart from the others; the pages they
 * take are what they need; freed, the pages go back but one. */
static void test_fixed(void)
{
    slab_t *s = slab_new_pages(40, 40);
    static char *p[N];
    for (int i = 0; i < N; i++) {
        p[i] = slab_alloc(s, 40);
        ASSERT_TRUE(p[i] != NULL);
        ASSERT_EQ((uintptr_t)p[i] % 8, 0);
        for (int k = 0; k < 40; k++)
            ASSERT_EQ(p[i][k], 0);
        memset(p[i], 0xa5, 40);
    }
    ASSERT_EQ(s->live, N);
    uint64_t per_page = s->cls[0].per_page;
    ASSERT_EQ(per_page, (PAGE - 48) / (40 + SLAB_PREFIX_T));
    ASSERT_EQ(slab_mapped(s), ((N + per_page - 1) / per_page) * PAGE);
    /* Apart: a slot's neighbour still holds its bytes after a write of its own. */
    for (int i = 0; i + 1 < N; i++)
        ASSERT_TRUE(p[i + 1] - p[i] >= 40 || p[i] - p[i + 1] >= 40);
    /* Every other one freed: no page empties, and new records take the freed slots. */
    for (int i = 0; i < N; i += 2)
        slab_free(p[i]);
    uint64_t mapped = slab_mapped(s);
    for (int i = 0; i < N; i += 2) {
        p[i] = slab_alloc(s, 40);
        ASSERT_EQ(p[i][0], 0);
        ASSERT_EQ(p[i][39], 0);
    }
    ASSERT_EQ(slab_mapped(s), mapped);
    for (int i = 0; i < N; i++)
        slab_free(p[i]);
    ASSERT_EQ(s->live, 0);
    ASSERT_EQ(slab_mapped(s), PAGE); /* the spare */
    /* The spare serves the next record; no new page. */
    char *q = slab_alloc(s, 33);
    ASSERT_EQ(slab_mapped(s), PAGE);
    slab_free(q);
    slab_free(NULL);
    /* slab_trim gives the spare back too; the next record maps a page again. */
    slab_trim(s);
    ASSERT_EQ(slab_mapped(s), 0);
    q = slab_alloc(s, 40);
    ASSERT_EQ(slab_mapped(s), PAGE);
    slab_trim(s); /* a page in use stays */
    ASSERT_EQ(slab_mapped(s), PAGE);
    slab_free(q);
    slab_trim(NULL);
    slab_drop(s);
}

/* Records of several sizes: each class has its pages, a record is freed into its own from
 * its address alone, and a class that empties keeps one page. */
static void test_sizes(void)
{
    slab_t *s = slab_new_pages(130, 386);
    ASSERT_EQ(s->nclass, (392 - 136) / 8 + 1);
    enum { M = 3000 };
    static char *p[M];
    static size_t len[M];
    for (int i = 0; i < M; i++) {
        len[i] = 130 + (size_t)(i * 7) % 257;
        p[i] = slab_alloc(s, len[i]);
        memset(p[i], (int)(i & 0x3f) + 1, len[i]);
    }
    for (int i = 0; i < M; i++)
        ASSERT_EQ(p[i][len[i] - 1], (i & 0x3f) + 1);
    uint64_t classes = 0;
    for (uint32_t k = 0; k < s->nclass; k++)
        classes += s->cls[k].pages > 0;
    ASSERT_EQ(classes, s->nclass);
    for (int i = 0; i < M; i++)
        slab_free(p[i]);
    ASSERT_EQ(slab_mapped(s), (uint64_t)s->nclass * PAGE);
    slab_drop(s);
}

/* A slab its owner let go of with records out stays until the last one is freed (a
 * connection whose reply was still on its way when the server went), then goes with its
 * pages. */
static void test_drop(void)
{
    slab_t *s = slab_new_pages(512, 512);
    static char *p[300];
    for (int i = 0; i < 300; i++)
        p[i] = slab_alloc(s, 512);
    uint64_t per_page = s->cls[0].per_page;
    ASSERT_EQ(per_page, (SLAB_PAGE - 48) / (512 + SLAB_PREFIX_T));
    ASSERT_EQ(slab_mapped(s), ((300 + per_page - 1) / per_page) * PAGE);
    slab_drop(s);
    ASSERT_EQ(s->dropped, 1);
    for (int i = 0; i < 299; i++)
        slab_free(p[i]);
    ASSERT_EQ(s->live, 1);
    p[299][511] = 1;   /* still the caller's */
    slab_free(p[299]); /* the last: s is gone (ASan or valgrind would see a leak) */
}

/* Under ASan a freed slot is poisoned (a use after free is reported) until handed out
 * again, and slab_new's records are malloc's. Elsewhere slab_new is paged. */
static void test_asan(void)
{
    slab_t *s = slab_new(64, 64);
    ASSERT_EQ(s->direct, T_ASAN);
    char *a = slab_alloc(s, 64);
    ASSERT_EQ(slab_mapped(s), T_ASAN ? 0 : PAGE);
    slab_free(a);
    slab_drop(s);
#if T_ASAN
    s = slab_new_pages(64, 64);
    char *b = slab_alloc(s, 64);
    char *c = slab_alloc(s, 64);
    ASSERT_EQ(__asan_address_is_poisoned(b), 0);
    ASSERT_EQ(__asan_address_is_poisoned(b + 63), 0);
    ASSERT_EQ(__asan_address_is_poisoned(c + 64), 1); /* never handed out */
    slab_free(b);
    ASSERT_EQ(__asan_address_is_poisoned(b), 1);
    ASSERT_EQ(__asan_address_is_poisoned(b + 63), 1);
    ASSERT_EQ(__asan_address_is_poisoned(c), 0);
    char *d = slab_alloc(s, 64);
    ASSERT_TRUE(d == b);
    ASSERT_EQ(__asan_address_is_poisoned(d + 63), 0);
    slab_free(c);
    slab_free(d);
    slab_drop(s);
#endif
}

int main(void)
{
    RUN(test_fixed);
    RUN(test_sizes);
    RUN(test_drop);
    RUN(test_asan);
    TEST_MAIN_END();
}
