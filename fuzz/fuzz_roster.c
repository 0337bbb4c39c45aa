/* fuzz_roster.c: libFuzzer target for a participants cursor (roster.c), the text a client
 * sends back in `participants`: never reads past the input, and a cursor it reads is
 * written back as the same text. Then the bytes drive a small roster (seats added, put
 * online, removed) and a page walk with a match, which gives every record at most once. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/roster.h"
#include "util/mem.h"

static int odd(const void *item, void *ud)
{
    (void)ud;
    return *(const int *)item % 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = ch_malloc(size ? size : 1); /* exactly size bytes: ASan sees an overread */
    memcpy(s, data, size);
    roster_pos_t pos;
    if (roster_cursor_parse(s, size, &pos) == 0) {
        char back[ROSTER_CURSOR_LEN];
        roster_cursor_format(&pos, back);
        CH_ASSERT(strlen(back) == size && memcmp(back, s, size) == 0);
    }
    free(s);

    enum { MAX = 256 };
    static int ids[MAX];
    uint32_t seat[MAX];
    int live[MAX] = {0};
    int n = 0;
    roster_t r;
    roster_init(&r);
    for (size_t i = 0; i < size; i++) {
        uint8_t op = data[i] >> 6, k = data[i] & 63;
        if (op == 0 && n < MAX) {
            ids[n] = n;
            seat[n] = roster_add(&r, &ids[n]);
            live[n++] = 1;
        } else if (op == 1 && k < n && live[k]) {
            CH_ASSERT(roster_set_online(&r, seat[k], 1) == 0);
        } else if (op == 2 && k < n && live[k]) {
            CH_ASSERT(roster_set_online(&r, seat[k], 0) == 0);
        } else if (op == 3 && k < n && live[k]) {
            CH_ASSERT(roster_del(&r, seat[k]) == 0);
            live[k] = 0;
        }
    }
    char seen[MAX] = {0};
    void *out[3];
    pos = (roster_pos_t){ROSTER_ONLINE, 0};
    for (int guard = 0; pos.group != ROSTER_END && guard < 2 * MAX + 2; guard++) {
        size_t got = roster_page(&r, &pos, 0, odd, NULL, out, 3);
        for (size_t j = 0; j < got; j++) {
            int id = *(int *)out[j];
            CH_ASSERT(live[id] && id % 2 && !seen[id]);
            seen[id] = 1;
        }
    }
    CH_ASSERT(pos.group == ROSTER_END);
    roster_free(&r);
    return 0;
}
