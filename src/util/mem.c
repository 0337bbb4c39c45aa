/* mem.c: allocation wrappers that abort on failure. */
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

/* 2 MiB: in chorus-bench join-storm a join cost ~640 us of server CPU with glibc's default
 * (128 KiB), ~440 us with 1 MiB, ~400 us with 2 MiB or more. The price: at most 2 MiB of
 * free heap stays resident. */
#define CH_TRIM_THRESHOLD (2u << 20)

void ch_mem_tune(void)
{
#ifdef __GLIBC__
    mallopt(M_TRIM_THRESHOLD, (int)CH_TRIM_THRESHOLD);
#endif
}

int ch_mem_trim(void)
{
#ifdef __GLIBC__
    return malloc_trim(0);
#else
    return 0;
#endif
}

uint64_t ch_mem_rss(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f) return 0;
    unsigned long long size = 0, resident = 0;
    int n = fscanf(f, "%llu %llu", &size, &resident);
    fclose(f);
    long page = sysconf(_SC_PAGESIZE);
    return n == 2 && page > 0 ? (uint64_t)resident * (uint64_t)page : 0;
}

static _Noreturn void oom(size_t n)
{
    fprintf(stderr, "chorus: out of memory allocating %zu bytes\n", n);
    abort();
}

void *ch_malloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) oom(n);
    return p;
}

void *ch_calloc(size_t count, size_t size)
{
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) oom(count * size);
    return p;
}

void *ch_realloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q) oom(n);
    return q;
}

char *ch_strndup(const char *s, size_t n)
{
    char *d = ch_malloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *ch_strdup(const char *s)
{
    return ch_strndup(s, strlen(s));
}

void ch_assert_fail(const char *expr, const char *file, int line)
{
    fprintf(stderr, "chorus: assertion failed: %s (%s:%d)\n", expr, file, line);
    abort();
}
