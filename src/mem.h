/* mem.h: allocation wrappers that abort on failure, and the shared assert macro. */
#ifndef CHORUS_MEM_H
#define CHORUS_MEM_H

#include <stddef.h>

/* Allocation failure is not recoverable in a server that must stay consistent:
 * like Redis's zmalloc and h2o's h2o_mem_alloc, these abort with a message. */
void *ch_malloc(size_t n);
void *ch_calloc(size_t count, size_t size);
void *ch_realloc(void *p, size_t n);
/* Returns a new NUL-terminated copy of s (caller frees). */
char *ch_strdup(const char *s);
/* Returns a new NUL-terminated copy of the first n bytes of s (caller frees). */
char *ch_strndup(const char *s, size_t n);

/* A broken invariant is a bug, not a peer error: report file and line and abort. */
#define CH_ASSERT(expr) \
    ((expr) ? (void)0 : ch_assert_fail(#expr, __FILE__, __LINE__))
_Noreturn void ch_assert_fail(const char *expr, const char *file, int line);

#define CH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
