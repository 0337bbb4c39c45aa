/* bench_presence.c: the presence scenario's own parts (bench_presence.h). */
#include "bench_presence.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int bpres_args(bench_t *b, int *argc, char **argv)
{
    if (*argc < 2 || strcmp(argv[1], "presence") != 0) return 0;
    b->watch = 10;
    b->watchers = -1;
    int out = 2;
    for (int i = 2; i < *argc; i++) {
        if (strcmp(argv[i], "--watchers") == 0 && i + 1 < *argc) {
            b->watchers = atoi(argv[++i]);
            if (b->watchers < 1) return -1;
            continue;
        }
        if (strcmp(argv[i], "--watch") == 0 && i + 1 < *argc) {
            b->watch = atoi(argv[++i]);
            if (b->watch < 1 || b->watch > 10000) return -1;
            continue;
        }
        if (strcmp(argv[i], "--threads") == 0) return -1; /* deliveries on the main loop */
        argv[out++] = argv[i];
    }
    *argc = out;
    argv[1] = "fanout";
    return 0;
}

int bpres_watcher(const bench_t *b, const client_t *c)
{
    return c->sub && (b->watchers < 0 || c->idx < b->watchers);
}

int bpres_watches(const bench_t *b, const client_t *c, int p)
{
    if (!bpres_watcher(b, c)) return 0;
    int k = b->watch < b->pubs ? b->watch : b->pubs;
    return ((p - c->idx) % b->pubs + b->pubs) % b->pubs < k;
}

int bpres_subscribe_msg(bench_t *b, client_t *c, char *msg, size_t cap)
{
    int k = b->watch < b->pubs ? b->watch : b->pubs;
    c->ref++;
    int n = snprintf(msg, cap,
                     "{\"op\":\"presence_subscribe\",\"ref\":%llu,\"room\":\"%s\",\"users\":[",
                     (unsigned long long)c->ref, b->rooms[c->room]);
    for (int j = 0; j < k && (size_t)n < cap; j++) {
        int slot = (c->idx + j) % b->pubs;
        n += snprintf(msg + n, cap - (size_t)n, "%s\"bench-%d\"", j ? "," : "",
                      b->id_base + b->subs + slot);
    }
    if ((size_t)n < cap) n += snprintf(msg + n, cap - (size_t)n, "]}");
    return (size_t)n < cap ? n : (int)cap - 1;
}

int bpres_pub_msg(const bench_t *b, const client_t *c, char *msg, size_t cap,
                  unsigned long long t)
{
    return snprintf(msg, cap,
                    "{\"op\":\"presence\",\"ref\":%llu,\"room\":\"%s\",\"state\":{\"cursor\":{"
                    "\"s\":%llu,\"t\":%llu}}}",
                    (unsigned long long)c->ref, b->rooms[c->room], (unsigned long long)c->seq,
                    t);
}

int bpres_slot(const bench_t *b, const char *s, size_t len)
{
    static const char key[] = "\"userId\":\"bench-";
    size_t kl = sizeof(key) - 1;
    for (size_t i = 0; i + kl < len; i++) {
        if (memcmp(s + i, key, kl) != 0) continue;
        int id = atoi(s + i + kl) - b->id_base - b->subs;
        return id >= 0 && id < b->pubs ? id : -1;
    }
    return -1;
}

void bpres_usage(FILE *f)
{
    fprintf(f,
            " presence (fanout's options; --publishers are the movers, --subscribers the\n"
            " watchers, --rate the moves per second of them all; one large room):\n"
            "  --watch K         movers each watcher watches with presence_subscribe (10)\n"
            "  --watchers W      only the first W subscribers watch; the others are idle\n"
            "                    members who watch nobody (and must hear no move) (all)\n");
}
