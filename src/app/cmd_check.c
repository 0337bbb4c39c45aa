/* cmd_check.c: chorus check-config: what chorus serve checks before it serves, run without
 * serving: options, environment and config file, the data directory, the token keys, the
 * listen address, and the store (a SQLite schema read, a PostgreSQL URL's shape). */
#include "app/cmd_check.h"

#include "bus/bus_url.h"

#include <errno.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "auth/auth_setup.h"
#include "store/store_pg.h"
#include "store/store_sqlite_check.h"
#include "util/config.h"
#include "util/log.h"

extern char **environ;

static void check_usage(FILE *out)
{
    fprintf(out,
            "usage: chorus check-config [--config FILE] [options]\n"
            "Checks what chorus serve would with the same options, environment and config\n"
            "file (option values, key and secret files, the data directory, the listen\n"
            "address, the store's URL or its SQLite schema) without listening, creating\n"
            "anything or writing to the store. Exits 0 when serve would start, else 2\n"
            "with serve's message.\n\n");
    config_print_usage(out);
}

/* The data directory: serve creates it (one level) when missing, and writes into it. */
static int check_data_dir(const char *dir, int *exists)
{
    struct stat st;
    *exists = stat(dir, &st) == 0;
    if (*exists) {
        if (!S_ISDIR(st.st_mode) || access(dir, W_OK | X_OK) != 0) {
            fprintf(stderr, "chorus check-config: cannot create data directory '%s': %s\n", dir,
                    S_ISDIR(st.st_mode) ? strerror(EACCES) : strerror(ENOTDIR));
            return -1;
        }
        return 0;
    }
    char copy[4096];
    snprintf(copy, sizeof(copy), "%s", dir);
    const char *parent = dirname(copy);
    st.st_mode = 0;
    if (stat(parent, &st) == 0 && !S_ISDIR(st.st_mode)) errno = ENOTDIR;
    if (!S_ISDIR(st.st_mode) || access(parent, W_OK | X_OK) != 0) {
        fprintf(stderr, "chorus check-config: cannot create data directory '%s': %s\n", dir,
                strerror(errno));
        return -1;
    }
    return 0;
}

/* The token keys, as auth_setup reads them; a missing HS256 secret file is fine (serve
 * generates it at its first start). */
static int check_keys(const chorus_config_t *cfg, int data_exists, log_t *lg, int *generated)
{
    *generated = 0;
    if (strcmp(cfg->jwt_alg, "HS256") == 0 && !cfg->jwt_secret[0]) {
        char path[4096];
        snprintf(path, sizeof(path), "%s/jwt_secret", cfg->data_dir);
        if (!data_exists || access(path, F_OK) != 0) {
            *generated = 1;
            return 0;
        }
    }
    auth_jwt_t *jwt = auth_setup(cfg, 0, lg);
    if (!jwt) return -1;
    auth_jwt_free(jwt);
    return 0;
}

int cmd_check_config(int argc, char **argv, cmd_check_fn io_check)
{
    chorus_config_t cfg;
    char err[512];
    config_defaults(&cfg);
    int lrc = config_load(&cfg, argc, argv, environ, err, sizeof(err));
    if (lrc == CONFIG_EHELP) {
        check_usage(stdout);
        config_free(&cfg);
        return 0;
    }
    if (lrc != 0 || (cfg.store[0] && store_pg_check_url(cfg.store, err, sizeof(err)) != 0)) {
        fprintf(stderr, "chorus check-config: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    if (bus_url_check(cfg.cluster, cfg.store[0] != 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "chorus check-config: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    log_t lg;
    log_init(&lg, LOG_WARN, cfg.log_format, stderr);
    int rc = 2, data_exists = 0, generated = 0;
    struct sockaddr_in6 addr;
    char store[4096];
    long long version = 0;
    if (check_data_dir(cfg.data_dir, &data_exists) != 0) {
        /* said */
    } else if (check_keys(&cfg, data_exists, &lg, &generated) != 0) {
        /* auth_setup logged serve's message */
    } else if (uv_ip4_addr(cfg.listen_host, cfg.listen_port, (struct sockaddr_in *)&addr) !=
                   0 &&
               uv_ip6_addr(cfg.listen_host, cfg.listen_port, &addr) != 0) {
        log_error(&lg, "listen address '%s' is not a numeric IPv4 or IPv6 address",
                  cfg.listen_host);
    } else if (cfg.store[0]) {
        store_pg_mask(cfg.store, store, sizeof(store));
        rc = 0;
    } else {
        snprintf(store, sizeof(store), "%s/chorus.db", cfg.data_dir);
        if (access(store, F_OK) == 0 &&
            store_sqlite_check(store, &version, err, sizeof(err)) != 0)
            log_error(&lg, "%s", err);
        else
            rc = 0;
    }
    if (rc == 0 && io_check && io_check(&cfg, &lg) != 0) rc = 2;
    if (rc == 0) {
        struct stat st;
        if (stat(cfg.web_dir, &st) != 0)
            log_warn(&lg, "web directory '%s' not found: static files are disabled",
                     cfg.web_dir);
        char what[64] = " (not connected)";
        if (!cfg.store[0])
            snprintf(what, sizeof(what),
                     version ? " (schema version %lld)" : " (created at start)", version);
        printf("chorus check-config: ok: listen %s:%d, store %s %s%s, tokens %s%s\n",
               cfg.listen_host, cfg.listen_port, cfg.store[0] ? "postgres" : "sqlite", store,
               what, cfg.jwt_alg, generated ? " (secret generated at first start)" : "");
    }
    config_free(&cfg);
    return rc;
}
