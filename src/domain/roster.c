/* roster.c: a room's participants in page order, with cursors (see roster.h). */
#include "domain/roster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

#define BIT(a, i) (((a)[(i) / 64] >> ((i) % 64)) & 1u)
#define SET(a, i) ((a)[(i) / 64] |= (uint64_t)1 << ((i) % 64))
#define CLR(a, i) ((a)[(i) / 64] &= ~((uint64_t)1 << ((i) % 64)))

void roster_init(roster_t *r)
{
    memset(r, 0, sizeof(*r));
    r->next_seq = 1;
}

void roster_free(roster_t *r)
{
    free(r->item);
    free(r->seq);
    free(r->on);
    free(r->occ);
    roster_init(r);
}

/* The first slot whose seat number is above seq (len when none). */
static uint32_t upper(const roster_t *r, uint32_t seq)
{
    uint32_t lo = 0, hi = r->len;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (r->seq[mid] <= seq)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The slot of seat seq's record, or -1 when it has none. */
static int64_t slot_of(const roster_t *r, uint32_t seq)
{
    uint32_t i = upper(r, seq);
    if (i == 0 || r->seq[i - 1] != seq || !r->item[i - 1]) return -1;
    return (int64_t)i - 1;
}

/* Drops the holes, keeping the order (the bits move with their records). */
static void compact(roster_t *r)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < r->len; i++) {
        if (!r->item[i]) continue;
        int on = BIT(r->on, i);
        r->item[k] = r->item[i];
        r->seq[k] = r->seq[i];
        CLR(r->on, k);
        if (on) SET(r->on, k);
        k++;
    }
    memset(r->occ, 0, (r->cap / 64) * sizeof(uint64_t));
    for (uint32_t i = 0; i < k; i++)
        SET(r->occ, i);
    for (uint32_t i = k; i < r->len; i++)
        CLR(r->on, i);
    r->len = k;
}

uint32_t roster_add(roster_t *r, void *item)
{
    CH_ASSERT(item != NULL && r->next_seq < UINT32_MAX);
    if (r->len == r->cap) {
        if (r->count <= r->len / 2 && r->len) {
            compact(r); /* half holes: the table is as large as it needs */
        } else {
            uint32_t cap = r->cap ? r->cap * 2 : 64; /* a multiple of 64: whole bit words */
            r->item = ch_realloc(r->item, cap * sizeof(*r->item));
            r->seq = ch_realloc(r->seq, cap * sizeof(*r->seq));
            r->on = ch_realloc(r->on, cap / 64 * sizeof(*r->on));
            r->occ = ch_realloc(r->occ, cap / 64 * sizeof(*r->occ));
            memset(r->on + r->cap / 64, 0, (cap - r->cap) / 64 * sizeof(*r->on));
            memset(r->occ + r->cap / 64, 0, (cap - r->cap) / 64 * sizeof(*r->occ));
            r->cap = cap;
        }
    }
    uint32_t i = r->len++;
    r->item[i] = item;
    r->seq[i] = r->next_seq;
    SET(r->occ, i);
    r->count++;
    return r->next_seq++;
}

int roster_del(roster_t *r, uint32_t seq)
{
    int64_t i = slot_of(r, seq);
    if (i < 0) return -1;
    if (BIT(r->on, i)) r->online--;
    CLR(r->on, i);
    CLR(r->occ, i);
    r->item[i] = NULL;
    r->count--;
    while (r->len && !r->item[r->len - 1])
        r->len--; /* a hole at the end is no slot */
    return 0;
}

int roster_set_online(roster_t *r, uint32_t seq, int on)
{
    int64_t i = slot_of(r, seq);
    if (i < 0) return -1;
    if (on && !BIT(r->on, i)) {
        SET(r->on, i);
        r->online++;
    } else if (!on && BIT(r->on, i)) {
        CLR(r->on, i);
        r->online--;
    }
    return 0;
}

/* The first slot at or after i whose bit is set in the group's words (online: on;
 * offline: occupied and not on), or len. */
static uint32_t next_in(const roster_t *r, int group, uint32_t i)
{
    while (i < r->len) {
        uint32_t w = i / 64;
        uint64_t bits = group == ROSTER_ONLINE ? r->on[w] : r->occ[w] & ~r->on[w];
        bits &= ~(uint64_t)0 << (i % 64);
        if (bits) {
            uint32_t k = w * 64 + (uint32_t)__builtin_ctzll(bits);
            return k < r->len ? k : r->len;
        }
        i = (w + 1) * 64;
    }
    return r->len;
}

void *roster_after(const roster_t *r, uint32_t seq)
{
    for (uint32_t i = upper(r, seq); i < r->len; i++)
        if (r->item[i]) return r->item[i];
    return NULL;
}

size_t roster_page(const roster_t *r, roster_pos_t *pos, int online_only, roster_match_fn match,
                   void *ud, void **out, size_t limit)
{
    CH_ASSERT(limit > 0);
    size_t n = 0, scanned = 0;
    int group = pos->group;
    if (online_only && group == ROSTER_OFFLINE) group = ROSTER_END; /* past the online */
    uint32_t i = group == ROSTER_END ? r->len : upper(r, pos->after);
    while (group != ROSTER_END) {
        i = next_in(r, group, i);
        if (i == r->len) { /* this group is done: the next one, from its first */
            group = group == ROSTER_ONLINE && !online_only ? ROSTER_OFFLINE : ROSTER_END;
            i = 0;
            continue;
        }
        void *it = r->item[i];
        if (match && ++scanned > ROSTER_SCAN_MAX) {
            /* A search that matches few: the page ends short (even empty) just before
             * this record, and its cursor goes on from there, so no call walks a whole
             * room. */
            pos->group = group;
            pos->after = r->seq[i] - 1; /* seats start at 1 */
            break;
        }
        if (!match || match(it, ud)) {
            if (n == limit) break; /* one more is there: *pos is at the last one given */
            out[n++] = it;
            pos->group = group;
            pos->after = r->seq[i];
        }
        i++;
    }
    if (group == ROSTER_END) pos->group = ROSTER_END;
    return n;
}

void roster_cursor_format(const roster_pos_t *pos, char *out)
{
    if (pos->group == ROSTER_END)
        out[0] = '\0';
    else
        snprintf(out, ROSTER_CURSOR_LEN, "%c%u", pos->group == ROSTER_ONLINE ? 'n' : 'f',
                 (unsigned)pos->after);
}

int roster_cursor_parse(const char *s, size_t len, roster_pos_t *pos)
{
    if (len < 2 || len > 11 || (s[0] != 'n' && s[0] != 'f')) return -1;
    if (s[1] == '0' && len > 2) return -1; /* no leading zero: one text per cursor */
    uint64_t v = 0;
    for (size_t i = 1; i < len; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v > UINT32_MAX) return -1;
    pos->group = s[0] == 'n' ? ROSTER_ONLINE : ROSTER_OFFLINE;
    pos->after = (uint32_t)v;
    return 0;
}
