/* slab.c: records that live as long as a connection, from pages of their own (slab.h). */
#include "util/slab.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "util/mem.h"

#if defined(__SANITIZE_ADDRESS__)
#define SLAB_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SLAB_ASAN 1
#endif
#endif
#ifndef SLAB_ASAN
#define SLAB_ASAN 0
#endif

#if SLAB_ASAN
#include <sanitizer/asan_interface.h>
#define SLAB_POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define SLAB_UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
/* Under ASan every record, a malloc slab's or a paged one's, is preceded by its slab's
 * address (16 bytes, so the record keeps malloc's alignment): slab_free reads which kind
 * it is there. Elsewhere every slab is paged and a record's page says its slab. */
#define SLAB_PREFIX 16u
#else
#define SLAB_POISON(p, n) ((void)(p), (void)(n))
#define SLAB_UNPOISON(p, n) ((void)(p), (void)(n))
#define SLAB_PREFIX 0u
#endif

/* At the start of every page; the slots follow. */
struct slab_page_s {
    slab_t *slab;             /* the slab the page is of */
    slab_class_t *cls;        /* the class its slots are of */
    slab_page_t *prev, *next; /* cls->avail or cls->full */
    void *free;               /* free slots handed out before, linked by their first word */
    uint32_t used;            /* slots handed out */
    uint32_t fresh;           /* slots from this one on were never handed out */
};

#define SLAB_HDR ((sizeof(slab_page_t) + 7u) & ~(size_t)7u)

static size_t round8(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}

static slab_t *make(size_t min, size_t max, int direct)
{
    CH_ASSERT(min > 0 && min <= max);
    CH_ASSERT(SLAB_HDR + SLAB_PREFIX + round8(max) <= SLAB_PAGE);
    slab_t *s = ch_calloc(1, sizeof(*s));
    s->direct = direct;
    s->min8 = (uint32_t)round8(min);
    s->nclass = (uint32_t)((round8(max) - s->min8) / 8 + 1);
    if (direct) return s;
    s->cls = ch_calloc(s->nclass, sizeof(*s->cls));
    for (uint32_t i = 0; i < s->nclass; i++) {
        s->cls[i].size = s->min8 + 8 * i + SLAB_PREFIX;
        s->cls[i].per_page = (uint32_t)((SLAB_PAGE - SLAB_HDR) / s->cls[i].size);
    }
    return s;
}

slab_t *slab_new(size_t min, size_t max)
{
    return make(min, max, SLAB_ASAN);
}

slab_t *slab_new_pages(size_t min, size_t max)
{
    return make(min, max, 0);
}

/* A new page, aligned to its size: twice the size mapped, the ends unmapped. */
static slab_page_t *page_map(void)
{
    size_t len = (size_t)SLAB_PAGE * 2;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        fprintf(stderr, "chorus: out of memory mapping a slab page of %u bytes\n", SLAB_PAGE);
        abort();
    }
    uintptr_t start = ((uintptr_t)p + SLAB_PAGE - 1) & ~(uintptr_t)(SLAB_PAGE - 1);
    size_t head = start - (uintptr_t)p;
    if (head) munmap(p, head);
    if (len - head - SLAB_PAGE) munmap((char *)start + SLAB_PAGE, len - head - SLAB_PAGE);
    return (slab_page_t *)start;
}

/* A page goes back to the system; unpoisoned first, since a later mapping may reuse the
 * addresses. */
static void page_unmap(slab_page_t *pg)
{
    SLAB_UNPOISON(pg, SLAB_PAGE);
    munmap(pg, SLAB_PAGE);
}

static void list_push(slab_page_t **head, slab_page_t *pg)
{
    pg->prev = NULL;
    pg->next = *head;
    if (*head) (*head)->prev = pg;
    *head = pg;
}

static void list_remove(slab_page_t **head, slab_page_t *pg)
{
    if (pg->prev)
        pg->prev->next = pg->next;
    else
        *head = pg->next;
    if (pg->next) pg->next->prev = pg->prev;
    pg->prev = pg->next = NULL;
}

void *slab_alloc(slab_t *s, size_t n)
{
    CH_ASSERT(!s->dropped && n >= 1 && round8(n) <= s->min8 + 8u * (s->nclass - 1));
    s->live++;
    if (s->direct) {
        char *b = ch_calloc(1, SLAB_PREFIX + n);
        memcpy(b, &s, sizeof(s));
        return b + SLAB_PREFIX;
    }
    slab_class_t *c = &s->cls[(n <= s->min8 ? 0 : (round8(n) - s->min8) / 8)];
    slab_page_t *pg = c->avail;
    if (!pg) {
        if (c->spare) {
            pg = c->spare;
            c->spare = NULL;
        } else {
            pg = page_map(); /* zeroed by the kernel */
            pg->slab = s;
            pg->cls = c;
            c->pages++;
            SLAB_POISON((char *)pg + SLAB_HDR, (size_t)c->per_page * c->size);
        }
        list_push(&c->avail, pg);
    }
    char *slot;
    if (pg->free) {
        slot = pg->free;
        SLAB_UNPOISON(slot, c->size);
        memcpy(&pg->free, slot, sizeof(void *));
    } else {
        slot = (char *)pg + SLAB_HDR + (size_t)pg->fresh++ * c->size;
        SLAB_UNPOISON(slot, c->size);
    }
    memset(slot, 0, c->size);
    memcpy(slot, &s, SLAB_PREFIX ? sizeof(s) : 0);
    if (++pg->used == c->per_page) {
        list_remove(&c->avail, pg);
        list_push(&c->full, pg);
    }
    return slot + SLAB_PREFIX;
}

static void destroy(slab_t *s)
{
    for (uint32_t i = 0; !s->direct && i < s->nclass; i++) {
        slab_class_t *c = &s->cls[i];
        for (slab_page_t **head = &c->avail; head; head = head == &c->avail ? &c->full : NULL) {
            while (*head) {
                slab_page_t *pg = *head;
                list_remove(head, pg);
                page_unmap(pg);
            }
        }
        if (c->spare) page_unmap(c->spare);
    }
    free(s->cls);
    free(s);
}

void slab_free(void *p)
{
    if (!p) return;
    char *slot = (char *)p - SLAB_PREFIX;
    slab_t *s;
    slab_page_t *pg = (slab_page_t *)((uintptr_t)slot & ~(uintptr_t)(SLAB_PAGE - 1));
    if (SLAB_PREFIX)
        memcpy(&s, slot, sizeof(s));
    else
        s = pg->slab;
    CH_ASSERT(s->live > 0);
    s->live--;
    if (s->direct) {
        free(slot);
    } else {
        slab_class_t *c = pg->cls;
        CH_ASSERT(pg->slab == s && pg->used > 0);
        CH_ASSERT((size_t)(slot - ((char *)pg + SLAB_HDR)) % c->size == 0);
        int was_full = pg->used == c->per_page;
        memcpy(slot, &pg->free, sizeof(void *));
        pg->free = slot;
        SLAB_POISON(slot, c->size);
        if (was_full) {
            list_remove(&c->full, pg);
            list_push(&c->avail, pg);
        }
        if (--pg->used == 0) {
            /* Empty: kept as the class's spare, or given back to the system. */
            list_remove(&c->avail, pg);
            if (!c->spare) {
                c->spare = pg;
            } else {
                c->pages--;
                page_unmap(pg);
            }
        }
    }
    if (s->dropped && s->live == 0) destroy(s);
}

uint64_t slab_mapped(const slab_t *s)
{
    uint64_t pages = 0;
    for (uint32_t i = 0; !s->direct && i < s->nclass; i++)
        pages += s->cls[i].pages;
    return pages * SLAB_PAGE;
}

void slab_trim(slab_t *s)
{
    for (uint32_t i = 0; s && !s->direct && i < s->nclass; i++) {
        slab_class_t *c = &s->cls[i];
        if (!c->spare) continue;
        page_unmap(c->spare);
        c->spare = NULL;
        c->pages--;
    }
}

void slab_drop(slab_t *s)
{
    if (!s) return;
    if (s->live == 0)
        destroy(s);
    else
        s->dropped = 1;
}
