/* log_ring.c: the last warnings and errors (log_ring.h). */
#include "util/log_ring.h"

#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

void log_ring_init(log_ring_t *r, size_t cap)
{
    memset(r, 0, sizeof(*r));
    CH_ASSERT(cap >= 1);
    uv_mutex_init(&r->lock);
    r->e = ch_calloc(cap, sizeof(*r->e));
    r->cap = cap;
}

void log_ring_free(log_ring_t *r)
{
    uv_mutex_destroy(&r->lock);
    free(r->e);
    r->e = NULL;
}

void log_ring_add(log_ring_t *r, int64_t at, int level, const char *msg)
{
    size_t n = strlen(msg);
    if (n > LOG_RING_MSG_MAX - 1) {
        n = LOG_RING_MSG_MAX - 1;
        while (n > 0 && ((unsigned char)msg[n] & 0xc0) == 0x80)
            n--; /* no half character */
    }
    uv_mutex_lock(&r->lock);
    size_t at_i = (r->head + r->len) % r->cap;
    if (r->len == r->cap)
        r->head = (r->head + 1) % r->cap;
    else
        r->len++;
    log_ring_entry_t *e = &r->e[at_i];
    e->at = at;
    e->level = level;
    memcpy(e->msg, msg, n);
    e->msg[n] = '\0';
    r->total++;
    uv_mutex_unlock(&r->lock);
}

size_t log_ring_copy(log_ring_t *r, log_ring_entry_t *out, size_t max, uint64_t *total)
{
    uv_mutex_lock(&r->lock);
    size_t n = r->len < max ? r->len : max;
    for (size_t i = 0; i < n; i++)
        out[i] = r->e[(r->head + r->len - 1 - i) % r->cap];
    *total = r->total;
    uv_mutex_unlock(&r->lock);
    return n;
}
