/* rtc.c: a room's call as pure rules (rtc.h): joining, leaving, the size bound, state
 * changes, the signal checks and the mode. */
#include "domain/rtc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

void rtc_call_init(rtc_call_t *c)
{
    memset(c, 0, sizeof(*c));
    c->mode = RTC_MODE_MESH;
}

void rtc_call_free(rtc_call_t *c)
{
    free(c->m);
    memset(c, 0, sizeof(*c));
}

ptrdiff_t rtc_find_conn(const rtc_call_t *c, bus_member_t conn)
{
    for (size_t i = 0; i < c->n; i++)
        if (c->m[i].conn == conn) return (ptrdiff_t)i;
    return -1;
}

ptrdiff_t rtc_find_id(const rtc_call_t *c, const char *id)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->m[i].id, id) == 0) return (ptrdiff_t)i;
    return -1;
}

ptrdiff_t rtc_find_user(const rtc_call_t *c, const char *user_id, size_t from)
{
    for (size_t i = from; i < c->n; i++)
        if (strcmp(c->m[i].user_id, user_id) == 0) return (ptrdiff_t)i;
    return -1;
}

int rtc_join(rtc_call_t *c, const rtc_limits_t *lim, bus_member_t conn, const char *user_id,
             const rtc_flags_t *f, int64_t now_unix, uint64_t now_ms, size_t *index)
{
    ptrdiff_t at = rtc_find_conn(c, conn);
    if (at >= 0) {
        rtc_member_t *m = &c->m[at];
        m->f.audio = f->audio;
        m->f.video = f->video;
        m->f.screen = f->screen;
        *index = (size_t)at;
        return 0;
    }
    if (c->n >= lim->max_members) return RTC_E_FULL;
    if (c->n == c->cap) {
        c->cap = c->cap ? c->cap * 2 : 4;
        c->m = ch_realloc(c->m, c->cap * sizeof(*c->m));
    }
    rtc_member_t *m = &c->m[c->n];
    memset(m, 0, sizeof(*m));
    m->conn = conn;
    snprintf(m->id, sizeof(m->id), "c%llu", (unsigned long long)++c->next_id);
    snprintf(m->user_id, sizeof(m->user_id), "%s", user_id);
    m->f = *f;
    m->f.muted = f->muted ? 1 : 0;
    m->f.speaking = 0;
    m->f.sharing = f->screen ? 1 : 0;
    m->joined_at = now_unix;
    rl_init(&m->signals, lim->signal_burst, now_ms);
    *index = c->n++;
    return 1;
}

void rtc_remove(rtc_call_t *c, size_t i)
{
    CH_ASSERT(i < c->n);
    memmove(&c->m[i], &c->m[i + 1], (c->n - i - 1) * sizeof(*c->m));
    c->n--;
    /* An empty call starts over in mesh mode (rtc_mode_decide). */
    if (c->n == 0) c->mode = RTC_MODE_MESH;
}

int rtc_signal_check(rtc_call_t *c, const rtc_limits_t *lim, bus_member_t from, const char *to,
                     size_t len, uint64_t now_ms)
{
    ptrdiff_t s = rtc_find_conn(c, from);
    if (s < 0) return RTC_E_NOT_IN_CALL;
    ptrdiff_t t = rtc_find_id(c, to);
    if (t < 0 || t == s) return RTC_E_NO_TARGET;
    if (len > lim->max_signal) return RTC_E_TOO_LARGE;
    if (!rl_take(&c->m[s].signals, lim->signal_rate, lim->signal_burst, now_ms))
        return RTC_E_RATE;
    return (int)t;
}

static int set_flag(uint8_t *flag, int v)
{
    if (v < 0 || *flag == (v ? 1 : 0)) return 0;
    *flag = v ? 1 : 0;
    return 1;
}

int rtc_set_state(rtc_member_t *m, int muted, int speaking, int sharing)
{
    int changed = set_flag(&m->f.muted, muted);
    changed |= set_flag(&m->f.speaking, speaking);
    changed |= set_flag(&m->f.sharing, sharing);
    return changed;
}

rtc_mode_t rtc_mode_decide(const rtc_call_t *c, const rtc_limits_t *lim)
{
    if (c->n == 0) return RTC_MODE_MESH;
    if (c->mode == RTC_MODE_SFU) return RTC_MODE_SFU;
    return lim->sfu && c->n > lim->mesh_max ? RTC_MODE_SFU : RTC_MODE_MESH;
}

const char *rtc_mode_name(rtc_mode_t mode)
{
    return mode == RTC_MODE_SFU ? "sfu" : "mesh";
}
