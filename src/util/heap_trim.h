/* heap_trim.h: when to give the allocator's free heap back to the system once a burst is
 * over (pure: the caller reads the resident size and its activity counter, and trims). */
#ifndef CHORUS_HEAP_TRIM_H
#define CHORUS_HEAP_TRIM_H

#include <stdint.h>

/* Resident growth since the last trim that makes one worth trying: 4 MiB. A burst of
 * joins into rooms of 100 leaves about twice the memory it keeps free in the heap (each
 * join queues an event on up to 99 others); below this a trim gives back too little to pay
 * for its walk of the heap. Not more: on a loaded machine a setup of 19,000 connections
 * crawled at ~90 joins a second, a look mid-setup was quiet enough to trim, and the last
 * 7.8 MB of growth after it stayed under the 8 MiB this was first. */
#define HEAP_TRIM_GROWTH (4u << 20)
/* Requests per look (WebSocket messages and HTTP requests received; not pongs, which
 * 19,000 idle connections send 600 of a second) under which the burst is over: a trim
 * walks the whole heap, so it waits for a quiet moment rather than run while the heap is
 * in use and refilled at once. 16 a look (every HEAP_TRIM_EVERY_MS) is 32 a second. */
#define HEAP_TRIM_QUIET 16
/* How often the server looks (ms): two looks after a burst ends, the heap is trimmed. */
#define HEAP_TRIM_EVERY_MS 500
/* The end of a burst that crawled: on a loaded machine a setup of 19,000 joins ran at ~200
 * a second, looks in its middle were quiet enough to trim, and the last 3-8 MB of growth
 * after the last of them stayed, under HEAP_TRIM_GROWTH. So once a busy look came after
 * the last trim, HEAP_TRIM_SETTLE quiet looks in a row (2 s: the burst is over, not
 * pausing) trim once more from HEAP_TRIM_SETTLED of growth (a walk of the heap, 17 ms on
 * the thread pool after 4,000 joins, for at least 1 MiB back at most once a burst). */
#define HEAP_TRIM_SETTLE 4
#define HEAP_TRIM_SETTLED (1u << 20)
/* What was let go of (heap_trim_freed) comes in pieces: rooms drop their recent messages
 * as each goes a minute without a join, over as long as the joins took. Once nothing more
 * was let go of for HEAP_TRIM_SETTLE looks, what is left of it below HEAP_TRIM_SETTLED is
 * trimmed too, from this much: at 19,000 connections the last 0.5-1 MiB of dropped
 * messages otherwise stayed. */
#define HEAP_TRIM_LET_GO (128u << 10)

typedef struct {
    uint64_t base;    /* resident bytes after the last trim, or the lowest seen since */
    uint64_t last_in; /* the activity counter at the last look */
    uint64_t trims;   /* trims done */
    int running;      /* a trim is under way (the caller's thread pool): none is due */
    int busy;         /* a look was not quiet since the last trim was found due */
    uint32_t quiet;   /* quiet looks in a row */
    uint64_t freed;   /* bytes the application let go of in one go, so far */
    uint64_t trimmed; /* freed at the last trim */
    uint64_t seen;    /* freed at the last look */
    uint32_t still;   /* looks in a row with freed unchanged */
} heap_trim_t;

/* Starts t with the resident size rss and the activity counter in (requests so far). */
void heap_trim_init(heap_trim_t *t, uint64_t rss, uint64_t in);

/* One look: rss is the resident size now (0: unknown, never due), in the activity counter.
 * Returns 1 when a trim is due, else 0: less than HEAP_TRIM_QUIET came in since the last
 * look, and rss grew since the last trim by HEAP_TRIM_GROWTH or more, or by
 * HEAP_TRIM_SETTLED or more when this is the HEAP_TRIM_SETTLE-th quiet look in a row after
 * a busy one since that trim, or HEAP_TRIM_SETTLED or more was let go of since that trim
 * (heap_trim_freed), or HEAP_TRIM_LET_GO or more and nothing more for HEAP_TRIM_SETTLE
 * looks. */
int heap_trim_due(heap_trim_t *t, uint64_t rss, uint64_t in);

/* The application let go of memory in one go, outside any burst of requests (a room's
 * recent messages dropped once unused, rooms.h ROOMS_RECENT_IDLE_MS): total is its count
 * of such bytes so far. The heap did not grow, but its free part did, which the resident
 * size cannot tell: from HEAP_TRIM_SETTLED of them since the last trim a quiet look trims,
 * and from HEAP_TRIM_LET_GO once the count stood still a while (heap_trim_due). */
void heap_trim_freed(heap_trim_t *t, uint64_t total);

/* The trim was done; rss is the resident size after it (the new base). The caller sets
 * running while it runs elsewhere; this clears it. */
void heap_trim_done(heap_trim_t *t, uint64_t rss);

#endif
