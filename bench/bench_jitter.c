/* bench_jitter.c: `chorus-bench jitter`: how often this machine takes a core away. One
 * thread per online core, pinned to it, reads the monotonic clock in a loop for the
 * duration; a gap between two reads is time the thread did not run (an interrupt, another
 * task, or on a virtual machine the hypervisor running someone else). A quiet bare-metal
 * core shows almost no gap over ~20 us; a shared virtual machine can show many of a
 * millisecond or more a second. The cores spin the whole time, which a hypervisor
 * preempts more than the half-busy cores of a latency run, so this tells the state of
 * the machine a run was taken on, not how much of its p99 is the machine's. */
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "bench_jitter.h"
#include "util/mem.h"

/* Gap thresholds reported, in microseconds. */
static const int k_over_us[] = {50, 100, 500, 1000};
#define NOVER (sizeof(k_over_us) / sizeof(k_over_us[0]))
/* Gaps at least this long count as time taken away. */
#define LOST_MIN_NS 20000

typedef struct {
    int cpu;
    double seconds;
    int pinned;
    uint64_t over[NOVER];
    uint64_t max_ns, lost_ns;
} spinner_t;

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

static void *spin(void *arg)
{
    spinner_t *s = arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(s->cpu, &set);
    s->pinned = sched_setaffinity(0, sizeof(set), &set) == 0;
    uint64_t start = now_ns(), prev = start, end = start + (uint64_t)(s->seconds * 1e9);
    while (prev < end) {
        uint64_t t = now_ns(), gap = t - prev;
        /* A stall that runs past the window counts only up to its end, so the share of
         * time taken away stays within the window (a 300 ms stall of a 0.3 s run). */
        uint64_t in_window = (t < end ? t : end) - prev;
        prev = t;
        if (gap < LOST_MIN_NS)
            continue;
        s->lost_ns += in_window;
        if (gap > s->max_ns)
            s->max_ns = gap;
        for (size_t i = 0; i < NOVER; i++)
            if (gap >= (uint64_t)k_over_us[i] * 1000u)
                s->over[i]++;
    }
    return NULL;
}

static void usage(void)
{
    fprintf(stderr, "usage: chorus-bench jitter [--duration D (2 s)] [--json]\n");
}

int bench_jitter(int argc, char **argv)
{
    double seconds = 2;
    int json = 0;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--json") == 0) {
            json = 1;
        } else if (strcmp(argv[i], "--duration") == 0 && i + 1 < argc) {
            seconds = atof(argv[++i]);
        } else {
            usage();
            return 2;
        }
    }
    if (seconds <= 0 || seconds > 60) {
        usage();
        return 2;
    }
    /* The cores this process may run on (a container's cpuset may hold fewer than the
     * machine has, and not numbered from 0): one spinner each. */
    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof(allowed), &allowed) < 0) {
        fprintf(stderr, "chorus-bench: sched_getaffinity failed\n");
        return 1;
    }
    int ncpu = CPU_COUNT(&allowed);
    if (ncpu < 1)
        return 1;
    spinner_t *s = ch_calloc((size_t)ncpu, sizeof(*s));
    pthread_t *tid = ch_calloc((size_t)ncpu, sizeof(*tid));
    int started = 0, rc = 0;
    for (int cpu = 0, c = 0; cpu < CPU_SETSIZE && c < ncpu; cpu++) {
        if (!CPU_ISSET(cpu, &allowed))
            continue;
        s[c].cpu = cpu;
        s[c].seconds = seconds;
        if (pthread_create(&tid[c], NULL, spin, &s[c]) != 0) {
            fprintf(stderr, "chorus-bench: cannot start a spinning thread\n");
            rc = 1;
            break;
        }
        started++;
        c++;
    }
    for (int c = 0; c < started; c++)
        pthread_join(tid[c], NULL);
    if (rc == 0) {
        uint64_t over[NOVER] = {0}, max_ns = 0, lost_ns = 0;
        int pinned = 1;
        for (int c = 0; c < started; c++) {
            for (size_t i = 0; i < NOVER; i++)
                over[i] += s[c].over[i];
            if (s[c].max_ns > max_ns)
                max_ns = s[c].max_ns;
            lost_ns += s[c].lost_ns;
            pinned &= s[c].pinned;
        }
        /* Per second of one core's time, and the share of all cores' time taken away. */
        double core_s = seconds * (double)started;
        double lost_pct = 100.0 * (double)lost_ns / (core_s * 1e9);
        if (json) {
            json_t *j = json_object();
            json_object_set_new(j, "scenario", json_string("jitter"));
            json_object_set_new(j, "cores", json_integer(started));
            json_object_set_new(j, "durationS", json_real(seconds));
            json_object_set_new(j, "pinned", json_boolean(pinned));
            json_t *per = json_object();
            for (size_t i = 0; i < NOVER; i++) {
                char key[32];
                snprintf(key, sizeof(key), "over%dUs", k_over_us[i]);
                json_object_set_new(per, key, json_real((double)over[i] / core_s));
            }
            json_object_set_new(j, "stallsPerCoreSecond", per);
            json_object_set_new(j, "maxStallUs", json_real((double)max_ns / 1000.0));
            json_object_set_new(j, "lostPercent", json_real(lost_pct));
            char *text = json_dumps(j, JSON_COMPACT);
            printf("%s\n", text);
            free(text);
            json_decref(j);
        } else {
            printf("%-22s %d (%s), %.1f s each\n", "cores spun", started,
                   pinned ? "pinned" : "not pinned", seconds);
            printf("%-22s", "stalls per core-second");
            for (size_t i = 0; i < NOVER; i++)
                printf(" >=%d us %.1f", k_over_us[i], (double)over[i] / core_s);
            printf("\n%-22s %.0f us\n", "longest stall", (double)max_ns / 1000.0);
            printf("%-22s %.1f%% (gaps of 20 us or more)\n", "time taken away", lost_pct);
        }
    }
    free(s);
    free(tid);
    return rc;
}
