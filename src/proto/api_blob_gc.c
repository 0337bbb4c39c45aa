/* api_blob_gc.c: the collector of unreferenced blobs (docs/assets.md, "Blob
 * collection"). A timer starts a run: the thread pool looks at up to GC_BUDGET entries of
 * DATA/blobs from where the last run stopped and picks the blobs untouched for
 * --blob-gc-grace; the store says, one at a time, whether an asset names each; the pool
 * removes those none does. A blob is moved aside before it goes, and put back if an
 * upload touched it meanwhile (upload_file.c touches a blob it deduplicates into, and
 * links its own copy when the blob is gone), so an upload finishing during a run keeps
 * its content. Nothing of it runs on the loop but the store requests. */
#include "proto/api.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/mem.h"

/* Directory entries one run looks at (both levels counted): bounds its pool time and the
 * store requests it makes, however many blobs there are. */
#define GC_BUDGET 256
#define GC_HEX 64

typedef struct api_blob_gc_s {
    api_t *api;
    char dir[PATH_MAX]; /* DATA/blobs */
    uv_timer_t timer;
    uv_work_t work;
    /* The pool's between runs: the walk resumes where it stopped. */
    DIR *top, *sub;
    char sub_name[3];
    /* One run: the candidates, then which of them no asset names. */
    char cand[GC_BUDGET][GC_HEX + 1];
    uint8_t unused[GC_BUDGET];
    size_t ncand, checked, removed;
    int64_t cutoff; /* unix ms: a blob touched before this is a candidate */
    int removing;   /* the work queued is the removal, not the walk */
    int running;
    int closing;
    store_req_t sreq;
    store_assets_t pl;
} api_blob_gc_t;

static void maybe_free(api_blob_gc_t *g)
{
    if (!g->closing || g->running) return;
    if (g->sub) closedir(g->sub);
    if (g->top) closedir(g->top);
    g->api->blob_gc = NULL;
    free(g);
}

static int is_hex(const char *s, size_t n)
{
    if (strlen(s) != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) return 0;
    return 1;
}

static int64_t mtime_ms(const struct stat *st)
{
    return (int64_t)st->st_mtim.tv_sec * 1000 + st->st_mtim.tv_nsec / 1000000;
}

/* On the pool: the candidates among the next GC_BUDGET entries. */
static void walk_work(api_blob_gc_t *g)
{
    g->ncand = 0;
    for (int seen = 0; seen < GC_BUDGET; seen++) {
        if (!g->top && !(g->top = opendir(g->dir))) return; /* no blob yet */
        if (!g->sub) {
            struct dirent *e = readdir(g->top);
            if (!e) { /* a full pass: the next run starts over */
                closedir(g->top);
                g->top = NULL;
                return;
            }
            if (!is_hex(e->d_name, 2)) continue;
            char path[PATH_MAX + 8];
            snprintf(path, sizeof(path), "%s/%.2s", g->dir, e->d_name);
            if (!(g->sub = opendir(path))) continue;
            memcpy(g->sub_name, e->d_name, 3);
            continue;
        }
        struct dirent *e = readdir(g->sub);
        if (!e) {
            closedir(g->sub);
            g->sub = NULL;
            continue;
        }
        if (!is_hex(e->d_name, GC_HEX) || strncmp(e->d_name, g->sub_name, 2) != 0) continue;
        char path[PATH_MAX + 80];
        snprintf(path, sizeof(path), "%s/%.2s/%.64s", g->dir, g->sub_name, e->d_name);
        struct stat st;
        if (stat(path, &st) != 0 || !S_ISREG(st.st_mode) || mtime_ms(&st) >= g->cutoff)
            continue;
        memcpy(g->cand[g->ncand], e->d_name, GC_HEX + 1);
        g->unused[g->ncand++] = 0;
    }
}

/* On the pool: removes the unused candidates, each moved aside first and put back when
 * an upload touched it since the walk. */
static void remove_work(api_blob_gc_t *g)
{
    g->removed = 0;
    for (size_t i = 0; i < g->ncand; i++) {
        if (!g->unused[i]) continue;
        const char *h = g->cand[i];
        char path[PATH_MAX + 80], aside[PATH_MAX + 84];
        snprintf(path, sizeof(path), "%s/%.2s/%s", g->dir, h, h);
        snprintf(aside, sizeof(aside), "%s.gc", path);
        if (rename(path, aside) != 0) {
            g->unused[i] = 0;
            continue;
        }
        struct stat st;
        if (stat(aside, &st) == 0 && mtime_ms(&st) >= g->cutoff) {
            /* Touched by an upload: back (a new copy linked meanwhile is the same). */
            g->unused[i] = 0;
            if (link(aside, path) != 0 && errno != EEXIST) {
                rename(aside, path); /* the same content whichever wins */
                continue;
            }
        }
        unlink(aside);
        if (g->unused[i]) g->removed++;
    }
}

static void gc_work(uv_work_t *w)
{
    api_blob_gc_t *g = w->data;
    if (g->removing)
        remove_work(g);
    else
        walk_work(g);
}

static void gc_after(uv_work_t *w, int status);

static void check_next(api_blob_gc_t *g);

static void on_checked(store_req_t *req)
{
    api_blob_gc_t *g = req->data;
    /* A failed check keeps the blob (the next pass asks again). */
    g->unused[g->checked] = req->err == STORE_OK && !g->pl.found;
    g->checked++;
    check_next(g);
}

/* Asks the store about the next candidate, or queues the removal after the last. */
static void check_next(api_blob_gc_t *g)
{
    if (g->closing || g->checked == g->ncand) {
        if (g->closing || g->ncand == 0) {
            g->running = 0;
            maybe_free(g);
            return;
        }
        g->removing = 1;
        uv_queue_work(g->api->loop, &g->work, gc_work, gc_after);
        return;
    }
    memset(&g->pl, 0, sizeof(g->pl));
    memcpy(g->pl.row.sha256, g->cand[g->checked], GC_HEX + 1);
    memset(&g->sreq, 0, sizeof(g->sreq));
    g->sreq.type = STORE_ASSET_HASH_USED;
    g->sreq.cb = on_checked;
    g->sreq.data = g;
    g->sreq.assets = &g->pl;
    store_submit(g->api->store, &g->sreq);
}

static void gc_after(uv_work_t *w, int status)
{
    api_blob_gc_t *g = w->data;
    (void)status;
    if (!g->removing) {
        g->checked = 0;
        check_next(g);
        return;
    }
    for (size_t i = 0; i < g->ncand && !g->closing; i++)
        if (g->unused[i])
            log_info(g->api->log, "blob %s: no asset names it: collected", g->cand[i]);
    g->running = 0;
    maybe_free(g);
}

static void on_timer(uv_timer_t *t)
{
    api_blob_gc_t *g = t->data;
    if (g->running || g->closing) return;
    g->running = 1;
    g->removing = 0;
    g->cutoff = clock_unix_ms() - (int64_t)g->api->cfg->blob_gc_grace;
    uv_queue_work(g->api->loop, &g->work, gc_work, gc_after);
}

int api_blob_gc_init(api_t *a)
{
    api_blob_gc_t *g = ch_calloc(1, sizeof(*g));
    g->api = a;
    g->work.data = g;
    snprintf(g->dir, sizeof(g->dir), "%s/blobs", a->cfg->data_dir);
    a->blob_gc = g;
    /* A quarter of the grace (at most a minute): a blob goes at most that late. */
    uint64_t every = a->cfg->blob_gc_grace / 4;
    if (every > 60000) every = 60000;
    if (every < 100) every = 100;
    uv_timer_init(a->loop, &g->timer);
    g->timer.data = g;
    uv_timer_start(&g->timer, on_timer, every, every);
    uv_unref((uv_handle_t *)&g->timer);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    api_blob_gc_t *g = h->data;
    g->closing = 1;
    maybe_free(g);
}

void api_blob_gc_close(api_t *a)
{
    api_blob_gc_t *g = a->blob_gc;
    if (!g) return;
    uv_close((uv_handle_t *)&g->timer, on_timer_closed);
}
