/* slab.h: records that live as long as a connection (the connection, its room members
 * and subscriptions), carved from pages of their own instead of the malloc heap. */
#ifndef CHORUS_SLAB_H
#define CHORUS_SLAB_H

#include <stddef.h>
#include <stdint.h>

/* Why: glibc adds 8 bytes to every block and rounds it to 16 (a 528-byte connection takes
 * 544, a 40-byte subscription 48), and the records 19,000 connections keep are scattered
 * between the blocks a burst of joins frees, so malloc_trim cannot give those pages back
 * (docs/benchmarks.md, issue 17). A slab hands out slots of the record's size (a multiple
 * of 8) from pages of SLAB_PAGE bytes, mapped on their own and aligned to their size (a
 * slot's page is found from its address): a page that empties is unmapped (one
 * empty page a size class is kept, so a connection that comes and goes does not map and
 * unmap each time). Records of a range of sizes (a member with its id and name in the
 * record) share a slab: one size class per 8 bytes.
 *
 * Under AddressSanitizer, slab_new makes a slab that gives every record to malloc, so
 * ASan sees each block and LeakSanitizer each leak; slab_new_pages makes a paged one
 * anyway (the unit test), whose free slots are poisoned, so a use after free is still
 * caught until the slot is handed out again. */

/* 64 KiB: 124 connections (528 bytes) a page, under 1 byte each left over (61 in 32 KiB
 * left 9 bytes each); 454 members of 144 bytes. A page is 16 of the system's, and the slab
 * maps a few hundred for 19,000 connections; the price is a coarser unit to give back, so
 * a page that empties goes back at once (one kept a size class). */
#define SLAB_PAGE 65536u

typedef struct slab_page_s slab_page_t;

/* One size class: its pages with a free slot, and the empty one kept. */
typedef struct {
    uint32_t size;      /* bytes a slot */
    uint32_t per_page;  /* slots a page */
    slab_page_t *avail; /* pages with a free slot (not the spare), the last freed into first */
    slab_page_t *full;  /* pages with none */
    slab_page_t *spare; /* an empty page kept mapped, or NULL */
    uint64_t pages;     /* pages mapped, the spare included */
} slab_class_t;

typedef struct slab_s slab_t;
struct slab_s {
    slab_class_t *cls; /* owned: nclass classes, slot sizes min8, min8 + 8, ... */
    uint32_t nclass;
    uint32_t min8; /* the smallest record served, rounded up to 8 */
    int direct;    /* every record is malloc's (the AddressSanitizer build) */
    int dropped;   /* its owner let go with records out: the last slab_free ends it */
    uint64_t live; /* records handed out and not freed */
};

/* Returns a new slab (the caller owns it: slab_drop) for records of min to max bytes
 * (0 < min <= max, a page holds at least one), from pages; in an AddressSanitizer build,
 * from malloc. Records are aligned to 8 bytes: a type that needs more may not come from a
 * slab. */
slab_t *slab_new(size_t min, size_t max);
/* The same, from pages even under AddressSanitizer (free slots poisoned). */
slab_t *slab_new_pages(size_t min, size_t max);

/* Returns a new zeroed record of n bytes (at most max of slab_new) from s, owned by
 * the caller until slab_free. Aborts when no memory can be had, like ch_malloc. */
void *slab_alloc(slab_t *s, size_t n);

/* Gives p (from slab_alloc, or NULL) back to its slab, found from p alone (its page, or
 * under ASan a word before it), so a record can be freed after its owner let go of the
 * slab (slab_drop). Its page is unmapped once empty unless it is the one its class keeps. */
void slab_free(void *p);

/* Bytes of pages s has mapped (0 for a malloc slab). */
uint64_t slab_mapped(const slab_t *s);

/* Unmaps the empty page each size class of s keeps (NULL: nothing): after a burst, a
 * slab whose records come and go with the traffic (output queues' arrays, frames) then
 * holds no page while idle. The next record maps a page again. */
void slab_trim(slab_t *s);

/* Lets go of s (NULL: nothing): unmaps its pages and frees it now when no record is out,
 * else once the last one is freed. */
void slab_drop(slab_t *s);

#endif
