/* main.c: the chorus command line: serve, --help, --version. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <uv.h>

#include "config.h"
#include "log.h"
#include "mem.h"
#include "server.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: chorus serve [options]   run the server\n"
            "       chorus --help            this text\n"
            "       chorus --version         print the version\n\n");
    config_print_usage(out);
}

/* Creates dir (one level) when missing. */
static int ensure_dir(const char *dir, log_t *lg)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST) return 0;
    log_error(lg, "cannot create data directory '%s': %s", dir, strerror(errno));
    return -1;
}

static int serve(int argc, char **argv)
{
    chorus_config_t cfg;
    char err[512];
    config_defaults(&cfg);
    if (config_load(&cfg, argc, argv, environ, err, sizeof(err)) != 0) {
        fprintf(stderr, "chorus: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    log_t lg;
    log_init(&lg, cfg.log_level, cfg.log_format, stderr);
    /* A peer closing mid-write must be an EPIPE return, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    if (ensure_dir(cfg.data_dir, &lg) != 0) {
        config_free(&cfg);
        return 1;
    }

    uv_loop_t loop;
    uv_loop_init(&loop);
    server_t *srv = ch_malloc(sizeof(*srv));
    int rc = server_start(srv, &loop, &cfg, &lg);
    if (rc == 0) {
        log_info(&lg, "chorus %s serving %s (data %s)", CHORUS_VERSION,
                 srv->web_root ? srv->web_root : "no web directory", cfg.data_dir);
        uv_run(&loop, UV_RUN_DEFAULT);
        log_info(&lg, "stopped");
    }
    server_free(srv);
    free(srv);
    int closed = uv_loop_close(&loop);
    CH_ASSERT(closed == 0 || rc != 0);
    config_free(&cfg);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 || strcmp(cmd, "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(cmd, "--version") == 0 || strcmp(cmd, "version") == 0) {
        printf("chorus %s\n", CHORUS_VERSION);
        return 0;
    }
    if (strcmp(cmd, "serve") == 0) return serve(argc - 2, argv + 2);
    fprintf(stderr, "chorus: unknown command '%s' (try chorus --help)\n", cmd);
    return 2;
}
