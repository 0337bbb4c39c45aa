/* mem.h: allocation wrappers that abort on failure, and the shared assert macro. */
#ifndef CHORUS_MEM_H
#define CHORUS_MEM_H

#include <stddef.h>
#include <stdint.h>

/* Allocation failure is not recoverable in a server that must stay consistent:
 * like Redis's zmalloc and h2o's h2o_mem_alloc, these abort with a message. */
void *ch_malloc(size_t n);
void *ch_calloc(size_t count, size_t size);
void *ch_realloc(void *p, size_t n);
/* Returns a new NUL-terminated copy of s (caller frees). */
char *ch_strdup(const char *s);
/* Returns a new NUL-terminated copy of the first n bytes of s (caller frees). */
char *ch_strndup(const char *s, size_t n);

/* Tunes the allocator for a long-running server; call once at start. With glibc: the heap
 * top is given back to the system only when more than 2 MiB of it is free (the default,
 * 128 KiB, made every join reply's free shrink the heap with brk() and the next reply grow
 * it again: a fifth of the server's time in a join storm, docs/benchmarks.md). A no-op
 * elsewhere. */
void ch_mem_tune(void);

/* Gives the allocator's free heap pages back to the system (glibc: malloc_trim(0), which
 * also releases free pages inside the heap, not only at its top). Returns 1 when something
 * was released, else 0; a no-op returning 0 elsewhere. Walks the whole heap: call it once
 * a burst is over (heap_trim.h), not per request. */
int ch_mem_trim(void);

/* The process's resident size in bytes (/proc/self/statm), or 0 when unknown. */
uint64_t ch_mem_rss(void);

/* A broken invariant is a bug, not a peer error: report file and line and abort. */
#define CH_ASSERT(expr) \
    ((expr) ? (void)0 : ch_assert_fail(#expr, __FILE__, __LINE__))
_Noreturn void ch_assert_fail(const char *expr, const char *file, int line);

#define CH_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
