/* roster.h: a room's participants in page order (docs/protocol.md, "Large rooms"): those
 * online first, then those offline, each group in the order the seats were taken, with
 * the cursors that page through it. Pure: it keeps borrowed pointers to records it knows
 * nothing about, each found by the seat number roster_add gave it.
 *
 * A slot per seat taken, in seat order: a seat given up leaves a hole until the table is
 * compacted (when it would otherwise grow), so adding, removing and going on- or offline
 * cost a binary search at most, and a page costs its own items plus a scan of one bit per
 * seat (online, occupied: 64 seats a word) from the cursor. */
#ifndef CHORUS_ROSTER_H
#define CHORUS_ROSTER_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    void **item;       /* owned array of borrowed records by slot; NULL: a hole */
    uint32_t *seq;     /* each slot's seat number (a hole keeps its own): increasing */
    uint64_t *on;      /* a bit a slot: online */
    uint64_t *occ;     /* a bit a slot: occupied (item != NULL) */
    uint32_t len;      /* slots in use, holes too */
    uint32_t cap;      /* slots allocated */
    uint32_t count;    /* records in it */
    uint32_t online;   /* of them online */
    uint32_t next_seq; /* the next seat number */
} roster_t;

/* Where a page starts: at the first record of group (ROSTER_ONLINE, ROSTER_OFFLINE)
 * whose seat number is above after (0: from the group's first), or nothing
 * (ROSTER_END). */
enum { ROSTER_ONLINE = 0, ROSTER_OFFLINE = 1, ROSTER_END = 2 };
typedef struct {
    int group;
    uint32_t after;
} roster_pos_t;

/* Bytes of a cursor's text with its NUL. */
#define ROSTER_CURSOR_LEN 16

/* Initialises r empty (allocates nothing). */
void roster_init(roster_t *r);
/* Frees r's tables (not the records). */
void roster_free(roster_t *r);
/* Adds item (borrowed, non-NULL) offline with the next seat number, which it returns
 * (seat numbers start at 1 and only grow). */
uint32_t roster_add(roster_t *r, void *item);
/* Removes the record of seat seq (online or not). Returns 0, or -1 when there is none. */
int roster_del(roster_t *r, uint32_t seq);
/* Marks the record of seat seq online (on = 1) or offline. Returns 0, or -1 when there is
 * none. */
int roster_set_online(roster_t *r, uint32_t seq, int on);
/* The record with the smallest seat number above seq (online or not), or NULL: the one
 * after it in seat order. */
void *roster_after(const roster_t *r, uint32_t seq);

/* Keeps a record in a page (1) or not (0); ud is the caller's. */
typedef int (*roster_match_fn)(const void *item, void *ud);

/* Records a search (roster_page with a match) looks at in one call, at most. */
#define ROSTER_SCAN_MAX 4096

/* A page: up to limit records from *pos (online only when online_only), those match
 * keeps (match NULL: all), into out (room for limit records). Returns how many; *pos
 * becomes where the next page starts: ROSTER_END when no record is left to give, so the
 * caller answers no cursor. A search stops after ROSTER_SCAN_MAX records looked at, so
 * its page may be short, even empty, with a cursor that goes on. A record that goes online or offline between two pages may
 * be given twice or not at all; every record that stays put is given once. */
size_t roster_page(const roster_t *r, roster_pos_t *pos, int online_only, roster_match_fn match,
                   void *ud, void **out, size_t limit);

/* Writes pos as a cursor's text into out (ROSTER_CURSOR_LEN bytes): "" for ROSTER_END. */
void roster_cursor_format(const roster_pos_t *pos, char *out);
/* Reads a cursor's text (len bytes of s, borrowed) into *pos: 0, or -1 when it is not one
 * roster_cursor_format writes. */
int roster_cursor_parse(const char *s, size_t len, roster_pos_t *pos);

#endif
