/* bench_jitter.h: `chorus-bench jitter`, the machine's scheduling stalls (bench_jitter.c). */
#ifndef CHORUS_BENCH_JITTER_H
#define CHORUS_BENCH_JITTER_H

/* Runs the probe with the command line of `chorus-bench jitter ...` (argv[1] is "jitter")
 * and prints its table, or one JSON object with --json. Returns the exit status: 0, 1 on
 * failure, 2 for a usage error. */
int bench_jitter(int argc, char **argv);

#endif
