/* mem.c: allocation wrappers that abort on failure. */
#include "mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
