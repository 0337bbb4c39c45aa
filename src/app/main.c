/* main.c: the chorus command line: serve, token, export, import, migrate, --help,
 * --version (backup and check-config: cmd_store.c, cmd_check.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <uv.h>

#include "app/app.h"
#include "app/cmd_check.h"
#include "app/cmd_apikey.h"
#include "app/cmd_store.h"
#include "auth/auth_setup.h"
#include "util/config.h"
#include "util/log.h"
#include "util/log_ring.h"
#include "util/mem.h"
#include "io/http_client.h"
#include "io/server.h"
#include "io/tls.h"
#include "auth/user_valid.h"
#include "util/utf8.h"
#include "io/ws_handshake.h"
#include "store/store_pg.h"
#include "bus/bus_url.h"

extern char **environ;

static void usage(FILE *out)
{
    fprintf(out,
            "usage: chorus serve [options]   run the server\n"
            "       chorus token --user ID [--name NAME] [--color #rrggbb] [--ttl DURATION]\n"
            "                    [options]   print a token (for app backends and scripts)\n"
            "       chorus export [--data DIR] [-o FILE]   the database as JSON lines\n"
            "       chorus import [--data DIR] FILE        load them into an empty database\n"
            "       chorus migrate [--data DIR]            create or upgrade the schema\n"
            "       chorus backup --to FILE [--data DIR]   a consistent copy of the database\n"
            "       chorus check-config [options]          check serve's options, then exit\n"
            "       chorus apikey create --name N | list | revoke ID   app backends' API keys\n"
            "       chorus --help            this text (chorus COMMAND --help: one command)\n"
            "       chorus --version         print the version\n\n"
            "serve options:\n");
    config_print_usage(out);
}

static void serve_usage(FILE *out)
{
    fprintf(out, "usage: chorus serve [options]\n"
                 "Runs the server until SIGINT or SIGTERM.\n\n");
    config_print_usage(out);
}

static void token_usage(FILE *out)
{
    fprintf(
        out,
        "usage: chorus token --user ID [--name NAME] [--color #rrggbb] [--ttl DURATION]\n"
        "                    [--role admin] [options]\n"
        "Prints a token signed with the server's key, for app backends and scripts.\n\n"
        "  --user ID            the token's subject, 1 to 128 bytes (required)\n"
        "  --name NAME          display name, at most 128 bytes of UTF-8\n"
        "  --color #rrggbb      display color\n"
        "  --role admin         an admin's token (the \"role\": \"admin\" claim): it may use\n"
        "                       the admin view and /api/admin/\n"
        "  --ttl DURATION       lifetime: seconds, or a number and ms, s, m or h, such as\n"
        "                       10m or 2h (default: --jwt-ttl)\n\n"
        "The key is found as the server finds it, with the options of chorus serve (see\n"
        "chorus serve --help): --data DIR (its jwt_secret file, written by the server's\n"
        "first start; token never creates one), --jwt-secret TEXT, --jwt-alg ALG,\n"
        "--jwt-private-key PATH, --jwt-ttl DURATION, --config PATH, and their CHORUS_*\n"
        "environment variables.\n");
}

/* Creates dir (one level) when missing. */
static int ensure_dir(const char *dir, log_t *lg)
{
    if (mkdir(dir, 0700) == 0 || errno == EEXIST) return 0;
    log_error(lg, "cannot create data directory '%s': %s", dir, strerror(errno));
    return -1;
}

/* Logs "ready on http://HOST:PORT (...)": the line a person waits for (make run), with the
 * URL to open, once the server answers. Borrows everything. */
static void log_ready(server_t *srv, const chorus_config_t *cfg, log_t *lg)
{
    struct sockaddr_storage bound;
    int len = (int)sizeof(bound);
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    memset(&bound, 0, sizeof(bound));
    uv_tcp_getsockname(&srv->listener, (struct sockaddr *)&bound, &len);
    int v6 = bound.ss_family == AF_INET6;
    if (v6) {
        uv_ip6_name((struct sockaddr_in6 *)&bound, host, sizeof(host));
        port = ntohs(((struct sockaddr_in6 *)&bound)->sin6_port);
    } else {
        uv_ip4_name((struct sockaddr_in *)&bound, host, sizeof(host));
        port = ntohs(((struct sockaddr_in *)&bound)->sin_port);
    }
    log_info(lg, "ready on %s://%s%s%s:%d (chorus %s, web %s, data %s)",
             srv->tls_ctx ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "", port,
             CHORUS_VERSION, srv->web_root ? srv->web_root : "none", cfg->data_dir);
}

/* What SIGHUP's reload needs: the flags to read the sources again, the configuration in
 * use, the server whose TLS context and origins follow it, and the token verifier it may
 * replace. */
typedef struct {
    int argc;
    char **argv;
    chorus_config_t *cfg;
    log_t *lg;
    app_t *app;
    server_t *srv;
    auth_jwt_t *jwt; /* owned: the verifier in use */
} reload_t;

/* Gives fresh live's value of the string option at *dst (so the two no longer differ). */
static void keep_running(char **dst, const char *live)
{
    free(*dst);
    *dst = ch_strdup(live);
}

/* SIGHUP (server.c calls it): the config file, the environment and the flags read again,
 * then all or nothing: the options that may change are moved into the configuration in use
 * (config_reload), the token verifier and the TLS context are built from it, and only when
 * both built are they put in use. A source that no longer parses, keys or a certificate
 * that do not load: the move is undone, one error line says why, and everything in use
 * (options, keys, certificate, origins) stays. Returns 0 when applied, -1 when not. */
static int reload(void *ud)
{
    reload_t *r = ud;
    chorus_config_t fresh;
    char err[512], restart[512], applied[1024];
    config_defaults(&fresh);
    if (config_load(&fresh, r->argc, r->argv, environ, err, sizeof(err)) != 0) {
        log_error(r->lg, "config: reload failed, nothing changed: %s", err);
        config_free(&fresh);
        return -1;
    }
    /* Turning TLS on or off needs a restart: the listener keeps its files. */
    int tls_toggled = !*r->cfg->tls_cert != !*fresh.tls_cert;
    if (tls_toggled) {
        keep_running(&fresh.tls_cert, r->cfg->tls_cert);
        keep_running(&fresh.tls_key, r->cfg->tls_key);
        keep_running(&fresh.tls_ciphers, r->cfg->tls_ciphers);
    }
    int n = config_reload(r->cfg, &fresh, applied, sizeof(applied), restart, sizeof(restart));
    auth_jwt_t *jwt = auth_setup(r->cfg, 1, r->lg);
    SSL_CTX *tls = NULL;
    const char *failed = NULL;
    if (!jwt)
        failed = "the token keys did not load (the ones in use stay)";
    else if (server_reload_prepare(r->srv, &tls) != 0)
        failed = "the TLS certificate or key did not load (the one in use stays)";
    if (failed) {
        auth_jwt_free(jwt);
        config_reload(r->cfg, &fresh, NULL, 0, NULL, 0); /* moves the same values back */
        config_free(&fresh);
        log_error(r->lg, "config: reload failed, nothing changed: %s", failed);
        return -1;
    }
    config_free(&fresh);
    r->lg->level = r->cfg->log_level;
    auth_jwt_free(app_set_jwt(r->app, jwt));
    r->jwt = jwt;
    server_reload_commit(r->srv, tls);
    if (tls_toggled)
        log_warn(r->lg, "config: turning TLS %s needs a restart",
                 r->srv->tls_ctx ? "off" : "on");
    if (*restart) log_warn(r->lg, "config: changes that need a restart: %s", restart);
    log_info(r->lg, "config: reloaded: %d option%s changed%s%s%s, token keys read again%s%s", n,
             n == 1 ? "" : "s", n ? " (" : "", applied, n ? ")" : "",
             tls ? ", TLS certificate loaded from " : "", tls ? r->cfg->tls_cert : "");
    return 0;
}

static void http_close(void *impl)
{
    http_client_close(impl);
}

static int serve(int argc, char **argv)
{
    ch_mem_tune();
    chorus_config_t cfg;
    char err[512];
    config_defaults(&cfg);
    int lrc = config_load(&cfg, argc, argv, environ, err, sizeof(err));
    if (lrc == CONFIG_EHELP) {
        serve_usage(stdout);
        config_free(&cfg);
        return 0;
    }
    /* A store URL libpq cannot parse is a bad option too (the password never shown). */
    if (lrc != 0 || (cfg.store[0] && store_pg_check_url(cfg.store, err, sizeof(err)) != 0)) {
        fprintf(stderr, "chorus serve: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    /* A cluster's nodes share their rooms through PostgreSQL (bus_url_check). */
    if (bus_url_check(cfg.cluster, cfg.store[0] != 0, err, sizeof(err)) != 0) {
        fprintf(stderr, "chorus serve: %s\n", err);
        config_free(&cfg);
        return 2;
    }
    log_t lg;
    log_init(&lg, cfg.log_level, cfg.log_format, stderr);
    /* The admin view's recent warnings and errors (GET /api/admin/errors). */
    log_ring_t errors;
    log_ring_init(&errors, (size_t)cfg.admin_errors);
    lg.ring = &errors;
    /* A peer closing mid-write must be an EPIPE return, not a signal. */
    signal(SIGPIPE, SIG_IGN);
    /* OpenSSL sets itself up (providers, a few MiB) at its first digest: do that now, not
     * in the first client's upgrade, where it looked like memory per connection. */
    char warm[WS_ACCEPT_LEN + 1];
    ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, warm);
    if (ensure_dir(cfg.data_dir, &lg) != 0) {
        log_ring_free(&errors);
        config_free(&cfg);
        return 1;
    }

    auth_jwt_t *jwt = auth_setup(&cfg, 1, &lg);
    if (!jwt) {
        log_ring_free(&errors);
        config_free(&cfg);
        return 1;
    }
    uv_loop_t loop;
    uv_loop_init(&loop);
    /* The application (store, rooms, ops, API), then the server that borrows it. */
    app_t *app = ch_malloc(sizeof(*app));
    if (app_init(app, &loop, &cfg, &lg, jwt) != 0) {
        free(app);
        auth_jwt_free(jwt);
        uv_loop_close(&loop);
        log_ring_free(&errors);
        config_free(&cfg);
        return 1;
    }
    http_client_limits_t hlim = {
        .max_active = (uint32_t)cfg.http_client_max_active,
        .max_queued = (uint32_t)cfg.http_client_max_queue,
        .timeout_ms = cfg.http_client_timeout,
        .connect_timeout_ms = cfg.http_client_connect_timeout,
    };
    http_client_t *hc = http_client_new(&loop, &hlim, &lg);
    if (hc) {
        app->http = http_client_call(hc);
        app->http_close = http_close;
    }
    if ((cfg.rpc_url[0] || cfg.join_hook_url[0]) && !cfg.rpc_secret[0])
        log_warn(&lg, "rpc: --rpc-secret is empty: calls to the app's backend are not signed");
    app->api.errors = &errors;
    server_t *srv = ch_malloc(sizeof(*srv));
    int rc = server_start(srv, &loop, &cfg, &lg, app);
    reload_t rl = {
        .argc = argc, .argv = argv, .cfg = &cfg, .lg = &lg, .app = app, .srv = srv, .jwt = jwt};
    srv->reload = reload;
    srv->reload_ud = &rl;
    if (rc == 0) {
        log_ready(srv, &cfg, &lg);
        uv_run(&loop, UV_RUN_DEFAULT);
        log_info(&lg, "stopped");
    }
    /* The loop ran until every connection closed and the server's and the app's handles
     * closed (app_close); the store's queued requests finish now, then the store goes,
     * then the rooms. */
    app_store_close(app);
    uv_run(&loop, UV_RUN_DEFAULT);
    server_free(srv);
    free(srv);
    app_free(app);
    free(app);
    auth_jwt_free(rl.jwt);
    int closed = uv_loop_close(&loop);
    CH_ASSERT(closed == 0 || rc != 0);
    log_ring_free(&errors);
    config_free(&cfg);
    return rc == 0 ? 0 : 1;
}

/* chorus token: mints a token with the server's key, for app backends and scripts. Its
 * own flags come first; every other argument is a server option (--data, --jwt-secret,
 * ...), so it finds the same key the server uses. */
static int token(int argc, char **argv)
{
    const char *user = NULL, *name = "", *color = "", *role = "";
    long long ttl = -1;
    char **rest = ch_calloc((size_t)argc + 1, sizeof(char *));
    int nrest = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char **dst = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            token_usage(stdout);
            free(rest);
            return 0;
        }
        if (strcmp(a, "--user") == 0) dst = &user;
        else if (strcmp(a, "--name") == 0) dst = &name;
        else if (strcmp(a, "--color") == 0) dst = &color;
        else if (strcmp(a, "--role") == 0)
            dst = &role;
        if (dst || strcmp(a, "--ttl") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "chorus token: %s needs a value\n", a);
                free(rest);
                return 2;
            }
            if (dst) {
                *dst = argv[++i];
            } else {
                uint64_t ms;
                if (config_parse_duration(argv[++i], &ms) != 0 || ms < 1000 ||
                    ms > 10ULL * 365 * 86400 * 1000) {
                    fprintf(stderr,
                            "chorus token: --ttl: invalid value '%s' (want 1s to 3650 days: "
                            "seconds, or a number and s, m or h, such as 10m)\n",
                            argv[i]);
                    free(rest);
                    return 2;
                }
                ttl = (long long)(ms / 1000);
            }
            continue;
        }
        rest[nrest++] = argv[i];
    }
    int rc = 2;
    if (!user || !*user || strlen(user) > 128) {
        fprintf(stderr, "chorus token: --user ID is required (1 to 128 bytes)\n");
    } else if (strlen(name) > 128 || !utf8_valid((const uint8_t *)name, strlen(name))) {
        fprintf(stderr, "chorus token: --name: at most 128 bytes of UTF-8\n");
    } else if (*color && !user_color_valid(color, strlen(color))) {
        fprintf(stderr, "chorus token: --color: invalid value '%s' (want #rrggbb)\n", color);
    } else if (*role && strcmp(role, "admin") != 0) {
        fprintf(stderr, "chorus token: --role: invalid value '%s' (want admin)\n", role);
    } else {
        rc = 0;
    }
    chorus_config_t cfg;
    config_defaults(&cfg);
    char err[512];
    if (rc == 0) {
        int lrc = config_load(&cfg, nrest, rest, environ, err, sizeof(err));
        if (lrc != 0) {
            fprintf(stderr, "chorus token: %s\n", err);
            rc = 2;
        }
    }
    free(rest);
    if (rc != 0) {
        config_free(&cfg);
        return rc;
    }
    log_t lg;
    log_init(&lg, LOG_WARN, LOG_TEXT, stderr);
    auth_jwt_t *jwt = auth_setup(&cfg, 0, &lg);
    char *tok = NULL;
    if (jwt && !auth_jwt_can_mint(jwt)) {
        fprintf(stderr, "chorus token: %s needs --jwt-private-key to mint tokens\n", cfg.jwt_alg);
    } else if (jwt) {
        auth_claims_t c;
        memset(&c, 0, sizeof(c));
        snprintf(c.sub, sizeof(c.sub), "%s", user);
        snprintf(c.name, sizeof(c.name), "%s", name);
        if (*color) user_color_normalize(color, strlen(color), c.color);
        c.admin = *role != '\0';
        int64_t now = (int64_t)time(NULL);
        tok = auth_jwt_mint(jwt, &c, now, ttl > 0 ? ttl : (int64_t)(cfg.jwt_ttl / 1000));
    }
    if (tok) printf("%s\n", tok);
    free(tok);
    auth_jwt_free(jwt);
    config_free(&cfg);
    return tok ? 0 : 1;
}

/* check-config's I/O check: the certificate and key load as serve would load them. */
static int check_tls(const chorus_config_t *cfg, log_t *log)
{
    if (!*cfg->tls_cert) return 0;
    SSL_CTX *ctx = NULL;
    if (tls_ctx_new(cfg, NULL, log, &ctx) != 0) return -1;
    SSL_CTX_free(ctx);
    return 0;
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
    if (strcmp(cmd, "token") == 0) return token(argc - 2, argv + 2);
    if (strcmp(cmd, "export") == 0) return cmd_store_export(argc - 2, argv + 2);
    if (strcmp(cmd, "import") == 0) return cmd_store_import(argc - 2, argv + 2);
    if (strcmp(cmd, "migrate") == 0) return cmd_store_migrate(argc - 2, argv + 2);
    if (strcmp(cmd, "backup") == 0) return cmd_store_backup(argc - 2, argv + 2);
    if (strcmp(cmd, "check-config") == 0) return cmd_check_config(argc - 2, argv + 2, check_tls);
    if (strcmp(cmd, "apikey") == 0) return cmd_apikey(argc - 2, argv + 2);
    fprintf(stderr, "chorus: unknown command '%s' (try chorus --help)\n", cmd);
    return 2;
}
