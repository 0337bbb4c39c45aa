/* test_config.c: option parsing, units, validation and precedence (flag > env > file). */
#include "test.h"

#include <unistd.h>

#include "util/config.h"

static char errbuf[512];

static int load(chorus_config_t *cfg, int argc, char **argv, char **envp)
{
    config_defaults(cfg);
    return config_load(cfg, argc, argv, envp, errbuf, sizeof(errbuf));
}

/* Writes text to a fresh temp file; returns its path (static buffer). */
static const char *temp_file(const char *text)
{
    static char path[256];
    snprintf(path, sizeof(path), "/tmp/chorus-cfg-XXXXXX");
    int fd = mkstemp(path);
    if (fd < 0) abort();
    if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) abort();
    close(fd);
    return path;
}

static void test_defaults(void)
{
    chorus_config_t cfg;
    ASSERT_EQ(load(&cfg, 0, NULL, NULL), 0);
    ASSERT_STREQ(cfg.listen_host, "127.0.0.1");
    ASSERT_EQ(cfg.listen_port, 8080);
    ASSERT_EQ(cfg.http_max_header, 16384);
    ASSERT_EQ(cfg.http_max_body, 1048576);
    ASSERT_EQ(cfg.http_header_timeout, 10000);
    ASSERT_EQ(cfg.http_idle_timeout, 60000);
    ASSERT_EQ(cfg.http_max_queue, 65536);
    ASSERT_EQ(cfg.http_request_timeout, 30000);
    ASSERT_EQ(cfg.http_body_min_rate, 1024);
    ASSERT_EQ(cfg.max_connections_per_ip, 100);
    ASSERT_EQ(cfg.max_connections_ipv6_prefix, 64);
    ASSERT_EQ(cfg.ws_max_message, 1048576);
    ASSERT_EQ(cfg.ws_max_queue, 4194304);
    ASSERT_EQ(cfg.ws_ping_interval, 30000);
    ASSERT_EQ(cfg.ws_rate, 1000);
    ASSERT_EQ(cfg.ws_burst, 2000);
    ASSERT_EQ(cfg.norigins, 0);
    config_free(&cfg);
}

/* A connection's output queue counts in 32 bits (buf.h): --ws-max-queue stops at 2GiB. */
static void test_ws_max_queue_bound(void)
{
    chorus_config_t cfg;
    char *ok[] = {"--ws-max-queue", "2GiB"};
    ASSERT_EQ(load(&cfg, 2, ok, NULL), 0);
    ASSERT_EQ(cfg.ws_max_queue, 2147483648LL);
    config_free(&cfg);
    char *big[] = {"--ws-max-queue", "3GiB"};
    ASSERT_EQ(load(&cfg, 2, big, NULL), -1);
    config_free(&cfg);
}

static void test_units(void)
{
    uint64_t v;
    ASSERT_EQ(config_parse_size("123", &v), 0);
    ASSERT_EQ(v, 123);
    ASSERT_EQ(config_parse_size("16KiB", &v), 0);
    ASSERT_EQ(v, 16384);
    ASSERT_EQ(config_parse_size("1MiB", &v), 0);
    ASSERT_EQ(v, 1048576);
    ASSERT_EQ(config_parse_size("2g", &v), 0);
    ASSERT_EQ(v, 2147483648LL);
    ASSERT_EQ(config_parse_size("", &v), -1);
    ASSERT_EQ(config_parse_size("12 KiB", &v), -1);
    ASSERT_EQ(config_parse_size("-1", &v), -1);
    ASSERT_EQ(config_parse_size("1TiB", &v), -1);
    ASSERT_EQ(config_parse_size("99999999999999999999", &v), -1);
    ASSERT_EQ(config_parse_size("99999999999999GiB", &v), -1);
    ASSERT_EQ(config_parse_duration("250ms", &v), 0);
    ASSERT_EQ(v, 250);
    ASSERT_EQ(config_parse_duration("10", &v), 0);
    ASSERT_EQ(v, 10000);
    ASSERT_EQ(config_parse_duration("10s", &v), 0);
    ASSERT_EQ(v, 10000);
    ASSERT_EQ(config_parse_duration("2m", &v), 0);
    ASSERT_EQ(v, 120000);
    ASSERT_EQ(config_parse_duration("1h", &v), 0);
    ASSERT_EQ(v, 3600000);
    ASSERT_EQ(config_parse_duration("1d", &v), -1);
    ASSERT_EQ(config_parse_duration("s", &v), -1);
}

static void test_rates_and_auth_options(void)
{
    config_rate_t r;
    ASSERT_EQ(config_parse_rate("100/15m", &r), 0);
    ASSERT_EQ(r.limit, 100);
    ASSERT_EQ(r.window_ms, 900000);
    ASSERT_EQ(config_parse_rate("5/250ms", &r), 0);
    ASSERT_EQ(r.window_ms, 250);
    ASSERT_EQ(config_parse_rate("0/1m", &r), -1);
    ASSERT_EQ(config_parse_rate("10", &r), -1);
    ASSERT_EQ(config_parse_rate("10/", &r), -1);
    ASSERT_EQ(config_parse_rate("10/0s", &r), -1);
    ASSERT_EQ(config_parse_rate("/1m", &r), -1);
    ASSERT_EQ(config_parse_rate("10/2d", &r), -1);

    chorus_config_t cfg;
    char *ok[] = {"--rate-auth", "3/1s", "--jwt-alg", "ES256", "--jwt-secret", "s3cret"};
    ASSERT_EQ(load(&cfg, 6, ok, NULL), 0);
    ASSERT_EQ(cfg.rate_auth.limit, 3);
    ASSERT_EQ(cfg.rate_auth.window_ms, 1000);
    ASSERT_STREQ(cfg.jwt_alg, "ES256");
    ASSERT_STREQ(cfg.jwt_secret, "s3cret");
    config_free(&cfg);
    char *bad_alg[] = {"--jwt-alg", "none"};
    ASSERT_EQ(load(&cfg, 2, bad_alg, NULL), -1);
    ASSERT_TRUE(strstr(errbuf, "jwt-alg") != NULL);
    config_free(&cfg);
    char *bad_rate[] = {"--rate-api-user", "lots"};
    ASSERT_EQ(load(&cfg, 2, bad_rate, NULL), -1);
    ASSERT_TRUE(strstr(errbuf, "rate-api-user") != NULL);
    config_free(&cfg);
}

static void test_flags(void)
{
    chorus_config_t cfg;
    char *argv[] = {"--listen", "[::1]:9000", "--ws-max-message=64KiB", "--origins",
                    "https://a.example, https://b.example", "--log-format", "json"};
    ASSERT_EQ(load(&cfg, 7, argv, NULL), 0);
    ASSERT_STREQ(cfg.listen_host, "::1");
    ASSERT_EQ(cfg.listen_port, 9000);
    ASSERT_EQ(cfg.ws_max_message, 65536);
    ASSERT_EQ(cfg.norigins, 2);
    ASSERT_STREQ(cfg.origins[0], "https://a.example");
    ASSERT_STREQ(cfg.origins[1], "https://b.example");
    ASSERT_EQ(cfg.log_format, LOG_JSON);
    config_free(&cfg);
}

static void test_switch(void)
{
    chorus_config_t cfg;
    ASSERT_EQ(load(&cfg, 0, NULL, NULL), 0);
    ASSERT_EQ(cfg.io_uring, 1); /* on by default */
    config_free(&cfg);

    char *off[] = {"--io-uring", "off"};
    ASSERT_EQ(load(&cfg, 2, off, NULL), 0);
    ASSERT_EQ(cfg.io_uring, 0);
    config_free(&cfg);

    char *env[] = {"CHORUS_IO_URING=false", NULL};
    ASSERT_EQ(load(&cfg, 0, NULL, env), 0);
    ASSERT_EQ(cfg.io_uring, 0);
    config_free(&cfg);
    char *on[] = {"--io-uring=on"};
    ASSERT_EQ(load(&cfg, 1, on, env), 0); /* the flag beats the environment */
    ASSERT_EQ(cfg.io_uring, 1);
    config_free(&cfg);

    const char *f = temp_file("{\"io_uring\": false}");
    char *file[] = {"--config", (char *)f};
    ASSERT_EQ(load(&cfg, 2, file, NULL), 0);
    ASSERT_EQ(cfg.io_uring, 0);
    config_free(&cfg);
    unlink(f);

    char *bad[] = {"--io-uring", "maybe"};
    ASSERT_EQ(load(&cfg, 2, bad, NULL), -1);
    ASSERT_TRUE(strstr(errbuf, "io-uring") != NULL);
    ASSERT_TRUE(strstr(errbuf, "maybe") != NULL);
    config_free(&cfg);

    f = temp_file("{\"ws_rate\": true}"); /* true is only for switches */
    char *file2[] = {"--config", (char *)f};
    ASSERT_EQ(load(&cfg, 2, file2, NULL), -1);
    config_free(&cfg);
    unlink(f);
}

static void test_errors_name_the_option(void)
{
    chorus_config_t cfg;
    char *unknown[] = {"--bogus", "1"};
    ASSERT_EQ(load(&cfg, 2, unknown, NULL), -1);
    ASSERT_TRUE(strstr(errbuf, "--bogus") != NULL);
    config_free(&cfg);

    char *bad[] = {"--ws-max-message", "abc"};
    ASSERT_EQ(load(&cfg, 2, bad, NULL), -1);
    ASSERT_TRUE(strstr(errbuf, "ws-max-message") != NULL);
    ASSERT_TRUE(strstr(errbuf, "abc") != NULL);
    config_free(&cfg);

    char *range[] = {"--ws-burst", "0"};
    ASSERT_EQ(load(&cfg, 2, range, NULL), -1);
    ASSERT_TRUE(strstr(errbuf, "ws-burst") != NULL);
    config_free(&cfg);

    char *missing[] = {"--listen"};
    ASSERT_EQ(load(&cfg, 1, missing, NULL), -1);
    ASSERT_TRUE(strstr(errbuf, "--listen") != NULL);
    config_free(&cfg);

    char *listen[] = {"--listen", "localhost"};
    ASSERT_EQ(load(&cfg, 2, listen, NULL), -1);
    ASSERT_TRUE(strstr(errbuf, "listen") != NULL);
    config_free(&cfg);

    char *port[] = {"--listen", "127.0.0.1:70000"};
    ASSERT_EQ(load(&cfg, 2, port, NULL), -1);
    config_free(&cfg);

    char *env[] = {"CHORUS_WS_RATE=fast", NULL};
    ASSERT_EQ(load(&cfg, 0, NULL, env), -1);
    ASSERT_TRUE(strstr(errbuf, "CHORUS_WS_RATE") != NULL);
    config_free(&cfg);

    char *positional[] = {"extra"};
    ASSERT_EQ(load(&cfg, 1, positional, NULL), -1);
    config_free(&cfg);
}

static void test_precedence(void)
{
    const char *file = temp_file("{\"listen\": \"127.0.0.1:1001\", \"ws_rate\": 10,"
                                 " \"ws_burst\": \"20\", \"origins\": [\"https://x\"]}");
    char envcfg[300];
    snprintf(envcfg, sizeof(envcfg), "CHORUS_CONFIG=%s", file);
    chorus_config_t cfg;

    /* file only */
    char *env1[] = {envcfg, NULL};
    ASSERT_EQ(load(&cfg, 0, NULL, env1), 0);
    ASSERT_EQ(cfg.listen_port, 1001);
    ASSERT_EQ(cfg.ws_rate, 10);
    ASSERT_EQ(cfg.ws_burst, 20);
    ASSERT_EQ(cfg.norigins, 1);
    ASSERT_STREQ(cfg.origins[0], "https://x");
    config_free(&cfg);

    /* env beats file */
    char *env2[] = {envcfg, "CHORUS_LISTEN=127.0.0.1:1002", "CHORUS_WS_RATE=30", NULL};
    ASSERT_EQ(load(&cfg, 0, NULL, env2), 0);
    ASSERT_EQ(cfg.listen_port, 1002);
    ASSERT_EQ(cfg.ws_rate, 30);
    ASSERT_EQ(cfg.ws_burst, 20);
    config_free(&cfg);

    /* flag beats env beats file */
    char *argv[] = {"--listen", "127.0.0.1:1003"};
    ASSERT_EQ(load(&cfg, 2, argv, env2), 0);
    ASSERT_EQ(cfg.listen_port, 1003);
    ASSERT_EQ(cfg.ws_rate, 30);
    config_free(&cfg);

    /* --config beats CHORUS_CONFIG */
    const char *file2 = temp_file("{\"listen\": \"127.0.0.1:1004\"}");
    char *argv2[] = {"--config", (char *)file2};
    char *env3[] = {envcfg, NULL};
    ASSERT_EQ(load(&cfg, 2, argv2, env3), 0);
    ASSERT_EQ(cfg.listen_port, 1004);
    ASSERT_EQ(cfg.ws_rate, 1000);
    config_free(&cfg);
    unlink(file);
    unlink(file2);
}

static void test_bad_file(void)
{
    chorus_config_t cfg;
    const char *f = temp_file("{\"listen\": \"127.0.0.1:1\", \"nope\": 1}");
    char *argv[] = {"--config", (char *)f};
    ASSERT_EQ(load(&cfg, 2, argv, NULL), -1);
    ASSERT_TRUE(strstr(errbuf, "nope") != NULL);
    config_free(&cfg);
    unlink(f);

    f = temp_file("{\"listen\": ");
    char *argv2[] = {"--config", (char *)f};
    ASSERT_EQ(load(&cfg, 2, argv2, NULL), -1);
    config_free(&cfg);
    unlink(f);

    f = temp_file("[1]");
    char *argv3[] = {"--config", (char *)f};
    ASSERT_EQ(load(&cfg, 2, argv3, NULL), -1);
    config_free(&cfg);
    unlink(f);

    char *argv4[] = {"--config", "/nonexistent/chorus.json"};
    ASSERT_EQ(load(&cfg, 2, argv4, NULL), -1);
    ASSERT_TRUE(strstr(errbuf, "/nonexistent/chorus.json") != NULL);
    config_free(&cfg);
}

/* Counts occurrences of needle in hay. */
static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle)) n++;
    return n;
}

static void test_errors_say_the_form_once(void)
{
    chorus_config_t cfg;
    char *bad[] = {"--ws-max-message", "abc"};
    ASSERT_EQ(load(&cfg, 2, bad, NULL), -1);
    ASSERT_EQ(count_of(errbuf, "ws-max-message"), 1); /* not "--x: x: ..." */
    ASSERT_TRUE(strstr(errbuf, "KiB") != NULL);        /* the form a size takes */
    config_free(&cfg);

    char *rate[] = {"--rate-auth", "5"};
    ASSERT_EQ(load(&cfg, 2, rate, NULL), -1);
    ASSERT_EQ(count_of(errbuf, "rate-auth"), 1);
    ASSERT_TRUE(strstr(errbuf, "COUNT/DURATION") != NULL);
    config_free(&cfg);

    char *range[] = {"--ws-burst", "0"};
    ASSERT_EQ(load(&cfg, 2, range, NULL), -1);
    ASSERT_EQ(count_of(errbuf, "ws-burst"), 1);
    config_free(&cfg);

    char *env[] = {"CHORUS_WS_RATE=fast", NULL};
    ASSERT_EQ(load(&cfg, 0, NULL, env), -1);
    ASSERT_EQ(count_of(errbuf, "WS_RATE") + count_of(errbuf, "ws-rate"), 1);
    config_free(&cfg);

    /* A short HS256 secret is a bad value like any other, found before the server starts. */
    char *secret[] = {"--jwt-secret", "short"};
    ASSERT_EQ(load(&cfg, 2, secret, NULL), -1);
    ASSERT_TRUE(strstr(errbuf, "jwt-secret") != NULL);
    ASSERT_TRUE(strstr(errbuf, "32") != NULL);
    config_free(&cfg);
    char *long_secret[] = {"--jwt-secret", "0123456789abcdef0123456789abcdef"};
    ASSERT_EQ(load(&cfg, 2, long_secret, NULL), 0);
    config_free(&cfg);
    char *empty_secret[] = {"--jwt-secret", ""};
    ASSERT_EQ(load(&cfg, 2, empty_secret, NULL), 0);
    config_free(&cfg);

    /* A missing file: its name and the reason, no JSON line number. */
    char *missing[] = {"--config", "/nonexistent/none.json"};
    ASSERT_EQ(load(&cfg, 2, missing, NULL), -1);
    ASSERT_TRUE(strstr(errbuf, "/nonexistent/none.json") != NULL);
    ASSERT_TRUE(strstr(errbuf, "No such file") != NULL);
    ASSERT_TRUE(strstr(errbuf, ":-1") == NULL);
    config_free(&cfg);
    char *dir[] = {"--config", "/tmp"};
    ASSERT_EQ(load(&cfg, 2, dir, NULL), -1);
    ASSERT_TRUE(strstr(errbuf, "config file /tmp: Is a directory") != NULL);
    config_free(&cfg);
}

static void test_help_flag(void)
{
    chorus_config_t cfg;
    char *h1[] = {"--listen", "127.0.0.1:1", "--help"};
    ASSERT_EQ(load(&cfg, 3, h1, NULL), CONFIG_EHELP);
    config_free(&cfg);
    char *h2[] = {"-h"};
    ASSERT_EQ(load(&cfg, 1, h2, NULL), CONFIG_EHELP);
    config_free(&cfg);
    /* A value that happens to be "--help" is a value. */
    char *h3[] = {"--public-url", "--help"};
    ASSERT_EQ(load(&cfg, 2, h3, NULL), 0);
    ASSERT_STREQ(cfg.public_url, "--help");
    config_free(&cfg);
}

static void test_usage(void)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    config_print_usage(f);
    fclose(f);
    /* Lines under 100 columns. */
    for (const char *line = text; *line;) {
        const char *nl = strchr(line, '\n');
        size_t n = nl ? (size_t)(nl - line) : strlen(line);
        if (n >= 100) fprintf(stderr, "long help line: %.*s\n", (int)n, line);
        ASSERT_TRUE(n < 100);
        line += n + (nl ? 1 : 0);
    }
    /* Grouped, every option with its value form and default. */
    const char *groups[] = {"\nnetwork:\n", "\nstore and files:\n", "\nauth, ", "\nrooms",
                            "\ndocuments:\n", "\nentities:\n"};
    for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
        ASSERT_TRUE(strstr(text, groups[i]) != NULL);
    ASSERT_TRUE(strstr(text, "  --ws-max-message SIZE ") != NULL);
    ASSERT_TRUE(strstr(text, "[1MiB]") != NULL);
    ASSERT_TRUE(strstr(text, "  --rate-auth COUNT/DURATION ") != NULL);
    ASSERT_TRUE(strstr(text, "CHORUS_WS_MAX_MESSAGE") != NULL);
    ASSERT_TRUE(strstr(text, "ws_max_message") != NULL);
    free(text);
}

/* Storage quotas and retention: bounded by default, 0 turns each off. */
/* --store: empty by default (SQLite in the data directory); a PostgreSQL URL from a flag,
 * CHORUS_STORE or the file's "store" key, in that precedence; anything else is refused
 * without the value in the message (a URL may hold a password). */
static void test_store_option(void)
{
    chorus_config_t cfg;
    ASSERT_EQ(load(&cfg, 0, NULL, (char *[]){NULL}), 0);
    ASSERT_STREQ(cfg.store, "");
    config_free(&cfg);

    const char *file = temp_file("{\"store\": \"postgresql://u:pw@file/db\"}");
    char envcfg[300];
    snprintf(envcfg, sizeof(envcfg), "CHORUS_CONFIG=%s", file);
    char *env1[] = {envcfg, NULL};
    ASSERT_EQ(load(&cfg, 0, NULL, env1), 0);
    ASSERT_STREQ(cfg.store, "postgresql://u:pw@file/db");
    config_free(&cfg);
    char *env2[] = {envcfg, "CHORUS_STORE=postgres://env/db", NULL};
    ASSERT_EQ(load(&cfg, 0, NULL, env2), 0);
    ASSERT_STREQ(cfg.store, "postgres://env/db");
    config_free(&cfg);
    char *argv[] = {"--store", "postgresql://flag/db"};
    ASSERT_EQ(load(&cfg, 2, argv, env2), 0);
    ASSERT_STREQ(cfg.store, "postgresql://flag/db");
    config_free(&cfg);
    unlink(file);

    char *bad[] = {"--store", "mysql://u:hunter2@h/db"};
    ASSERT_EQ(load(&cfg, 2, bad, (char *[]){NULL}), -1);
    ASSERT_TRUE(strstr(errbuf, "--store: invalid value") != NULL);
    ASSERT_TRUE(strstr(errbuf, "hunter2") == NULL);
    config_free(&cfg);
}

static void test_quota_and_retention_options(void)
{
    chorus_config_t cfg;
    ASSERT_EQ(load(&cfg, 0, NULL, NULL), 0);
    ASSERT_EQ(cfg.room_quota, 128ULL * 1024 * 1024);
    ASSERT_EQ(cfg.user_quota, 512ULL * 1024 * 1024);
    ASSERT_EQ(cfg.message_retention, 0);
    ASSERT_EQ(cfg.message_retention_count, 0);
    ASSERT_EQ(cfg.doc_log_retention, 0);
    ASSERT_EQ(cfg.history_retention, 0);
    ASSERT_EQ(cfg.history_retention_count, 10000);
    ASSERT_EQ(cfg.retention_sweep, 600000);
    config_free(&cfg);
    char *hist[] = {"--history-retention", "24h", "--history-retention-count", "0"};
    ASSERT_EQ(load(&cfg, 4, hist, NULL), 0);
    ASSERT_EQ(cfg.history_retention, 24ULL * 3600 * 1000);
    ASSERT_EQ(cfg.history_retention_count, 0);
    config_free(&cfg);
    char *argv[] = {"--room-quota", "0", "--user-quota=2MiB", "--message-retention", "720h",
                    "--message-retention-count", "5000", "--doc-log-retention", "100",
                    "--retention-sweep", "250ms"};
    ASSERT_EQ(load(&cfg, 11, argv, NULL), 0);
    ASSERT_EQ(cfg.room_quota, 0);
    ASSERT_EQ(cfg.user_quota, 2 * 1024 * 1024);
    ASSERT_EQ(cfg.message_retention, 720ULL * 3600 * 1000);
    ASSERT_EQ(cfg.message_retention_count, 5000);
    ASSERT_EQ(cfg.doc_log_retention, 100);
    ASSERT_EQ(cfg.retention_sweep, 250);
    config_free(&cfg);
    char *bad[] = {"--retention-sweep", "10ms"}; /* below 100ms */
    ASSERT_EQ(load(&cfg, 2, bad, NULL), -1);
    config_free(&cfg);
}

/* SIGHUP: the options that may change move into the live configuration; the others keep
 * their value and are named. */
static void test_reload(void)
{
    chorus_config_t live, fresh;
    char *a1[] = {"--http-max-body", "1MiB",       "--origins", "https://a", "--listen",
                  "127.0.0.1:1000",  "--tls-cert", "a.pem",     "--tls-key", "a.key"};
    char *a2[] = {
        "--http-max-body",   "2KiB",           "--origins",        "https://b,https://c",
        "--listen",          "127.0.0.1:2000", "--tls-cert",       "b.pem",
        "--tls-key",         "a.key",          "--data",           "/elsewhere",
        "--trusted-proxies", "10.0.0.0/8",     "--ws-max-message", "2KiB",
        "--log-level",       "debug"};
    ASSERT_EQ(load(&live, 10, a1, NULL), 0);
    ASSERT_EQ(load(&fresh, 18, a2, NULL), 0);
    char restart[256], applied[256];
    ASSERT_EQ(config_reload(&live, &fresh, applied, sizeof(applied), restart, sizeof(restart)),
              5);
    ASSERT_STREQ(applied, "tls-cert,log-level,http-max-body,origins,trusted-proxies");
    ASSERT_EQ(live.http_max_body, 2048);
    ASSERT_EQ(live.norigins, 2);
    ASSERT_STREQ(live.origins[1], "https://c");
    ASSERT_STREQ(live.tls_cert, "b.pem");
    ASSERT_EQ(live.ntrusted_proxies, 1);
    ASSERT_EQ(live.log_level, LOG_DEBUG);
    /* not reloadable: unchanged, and named */
    ASSERT_EQ(live.listen_port, 1000);
    ASSERT_STREQ(live.data_dir, "./var");
    ASSERT_EQ(live.ws_max_message, 1048576);
    ASSERT_STREQ(restart, "listen,data,ws-max-message");
    /* the same again: nothing changes */
    config_free(&fresh);
    ASSERT_EQ(load(&fresh, 18, a2, NULL), 0);
    ASSERT_EQ(config_reload(&live, &fresh, applied, 4, restart, 8), 0);
    ASSERT_STREQ(applied, "");
    ASSERT_STREQ(restart, "listen");
    config_free(&fresh);
    config_free(&live);
}

/* A reload refused after the move (keys or a certificate that do not load) undoes it by
 * moving the same options again: live is as before, fresh holds the new values. */
static void test_reload_undo(void)
{
    chorus_config_t live, fresh;
    char *a1[] = {"--http-max-body", "1MiB",     "--origins",
                  "https://a",       "--listen", "127.0.0.1:1000"};
    char *a2[] = {"--http-max-body", "2KiB",           "--origins",    "https://b,https://c",
                  "--listen",        "127.0.0.1:2000", "--jwt-leeway", "5s"};
    ASSERT_EQ(load(&live, 6, a1, NULL), 0);
    ASSERT_EQ(load(&fresh, 8, a2, NULL), 0);
    ASSERT_EQ(config_reload(&live, &fresh, NULL, 0, NULL, 0), 3);
    ASSERT_EQ(live.http_max_body, 2048);
    ASSERT_EQ(config_reload(&live, &fresh, NULL, 0, NULL, 0), 3);
    ASSERT_EQ(live.http_max_body, 1024 * 1024);
    ASSERT_EQ(live.norigins, 1);
    ASSERT_STREQ(live.origins[0], "https://a");
    ASSERT_EQ(live.jwt_leeway, 0);
    ASSERT_EQ(live.listen_port, 1000);
    ASSERT_EQ(fresh.http_max_body, 2048);
    ASSERT_EQ(fresh.norigins, 2);
    config_free(&fresh);
    config_free(&live);
}

/* --metrics-token: 16 to 256 printable bytes or none; --metrics-listen takes HOST:PORT. */
static void test_metrics_options(void)
{
    chorus_config_t cfg;
    char *a[] = {"--metrics-token", "short"};
    ASSERT_EQ(load(&cfg, 2, a, NULL), -1);
    ASSERT_TRUE(strstr(errbuf, "metrics-token") != NULL);
    config_free(&cfg);
    char *b[] = {"--metrics-token", "has a space in it, long enough"};
    ASSERT_EQ(load(&cfg, 2, b, NULL), -1);
    config_free(&cfg);
    char *c[] = {"--metrics-token", "0123456789abcdef", "--metrics-listen", "127.0.0.1:9100"};
    ASSERT_EQ(load(&cfg, 4, c, NULL), 0);
    ASSERT_STREQ(cfg.metrics_token, "0123456789abcdef");
    ASSERT_STREQ(cfg.metrics_listen_host, "127.0.0.1");
    ASSERT_EQ(cfg.metrics_listen_port, 9100);
    config_free(&cfg);
    config_defaults(&cfg);
    ASSERT_TRUE(cfg.metrics_listen_host == NULL);
    ASSERT_STREQ(cfg.metrics_token, "");
    config_free(&cfg);
}

/* --blob-gc-grace is at least --upload-expiry (a finished upload's blob outlives its record). */
static void test_blob_gc_grace_vs_upload_expiry(void)
{
    chorus_config_t cfg;
    char *a[] = {"--blob-gc-grace", "1s"};
    ASSERT_EQ(load(&cfg, 2, a, NULL), -1);
    ASSERT_TRUE(strstr(errbuf, "blob-gc-grace") != NULL);
    ASSERT_TRUE(strstr(errbuf, "must be at least upload-expiry") != NULL);
    config_free(&cfg);
    char *b[] = {"--blob-gc-grace", "1s", "--upload-expiry", "1s"};
    ASSERT_EQ(load(&cfg, 4, b, NULL), 0);
    config_free(&cfg);
    char *c[] = {"--blob-gc-grace", "2h", "--upload-expiry", "1h"};
    ASSERT_EQ(load(&cfg, 4, c, NULL), 0);
    config_free(&cfg);
}

/* --tls-cert and --tls-key go together; --tls-redirect needs them and takes HOST:PORT. */
static void test_tls_options(void)
{
    chorus_config_t cfg;
    char *a[] = {"--tls-cert", "c.pem"};
    ASSERT_EQ(load(&cfg, 2, a, NULL), -1);
    ASSERT_TRUE(strstr(errbuf, "tls-cert and tls-key go together") != NULL);
    config_free(&cfg);
    char *b[] = {"--tls-redirect", "127.0.0.1:80"};
    ASSERT_EQ(load(&cfg, 2, b, NULL), -1);
    ASSERT_TRUE(strstr(errbuf, "tls-redirect needs TLS") != NULL);
    config_free(&cfg);
    char *c[] = {"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-redirect", "[::1]:8080"};
    ASSERT_EQ(load(&cfg, 6, c, NULL), 0);
    ASSERT_STREQ(cfg.tls_redirect_host, "::1");
    ASSERT_EQ(cfg.tls_redirect_port, 8080);
    ASSERT_STREQ(cfg.listen_host, "127.0.0.1");
    config_free(&cfg);
    char *d[] = {"--tls-cert", "c.pem", "--tls-key", "k.pem", "--tls-redirect", "nope"};
    ASSERT_EQ(load(&cfg, 6, d, NULL), -1);
    ASSERT_TRUE(strstr(errbuf, "--tls-redirect: invalid value 'nope'") != NULL);
    config_free(&cfg);
}

/* The TURN options (issue 22): the secret read from a file's first line, never with
 * --turn-secret; URLs and secret together; URL schemes checked; the secret never in err. */
static void test_turn_options(void)
{
    chorus_config_t cfg;
    ASSERT_EQ(load(&cfg, 0, NULL, (char *[]){NULL}), 0);
    ASSERT_STREQ(cfg.turn_secret, "");
    ASSERT_EQ(cfg.turn_ttl, 24 * 3600 * 1000);
    config_free(&cfg);

    const char *file = temp_file("s3cr3t-from-file\nsecond line\n");
    char path[256];
    snprintf(path, sizeof(path), "%s", file);
    char *a1[] = {"--turn-urls", "turn:127.0.0.1:3478", "--turn-secret-file", path};
    ASSERT_EQ(load(&cfg, 4, a1, (char *[]){NULL}), 0);
    ASSERT_STREQ(cfg.turn_secret, "s3cr3t-from-file");
    config_free(&cfg);
    char *a2[] = {"--turn-urls", "turn:h",        "--turn-secret-file",
                  path,          "--turn-secret", "hunter2"};
    ASSERT_EQ(load(&cfg, 6, a2, (char *[]){NULL}), -1);
    ASSERT_TRUE(strstr(errbuf, "hunter2") == NULL);
    config_free(&cfg);
    unlink(path);
    char *a3[] = {"--turn-urls", "turn:h", "--turn-secret-file", path};
    ASSERT_EQ(load(&cfg, 4, a3, (char *[]){NULL}), -1); /* gone */
    config_free(&cfg);
    char *a4[] = {"--turn-urls", "turn:h"};
    ASSERT_EQ(load(&cfg, 2, a4, (char *[]){NULL}), -1); /* no secret */
    config_free(&cfg);
    char *a5[] = {"--turn-secret", "hunter2"};
    ASSERT_EQ(load(&cfg, 2, a5, (char *[]){NULL}), -1); /* no URLs */
    config_free(&cfg);
    char *a6[] = {"--turn-urls", "http://h", "--turn-secret", "hunter2"};
    ASSERT_EQ(load(&cfg, 4, a6, (char *[]){NULL}), -1);
    ASSERT_TRUE(strstr(errbuf, "hunter2") == NULL);
    config_free(&cfg);
    char *a7[] = {"--stun-urls",   "stun:a:3478, stuns:b",
                  "--turn-urls",   "turns:t:5349,turn:t",
                  "--turn-secret", "hunter2",
                  "--turn-ttl",    "1h"};
    ASSERT_EQ(load(&cfg, 8, a7, (char *[]){NULL}), 0);
    ASSERT_EQ(cfg.turn_ttl, 3600 * 1000);
    config_free(&cfg);
    char *a8[] = {"--stun-urls", "turn:a"};
    ASSERT_EQ(load(&cfg, 2, a8, (char *[]){NULL}), -1);
    config_free(&cfg);
}

int main(void)
{
    RUN(test_reload);
    RUN(test_reload_undo);
    RUN(test_blob_gc_grace_vs_upload_expiry);
    RUN(test_tls_options);
    RUN(test_metrics_options);
    RUN(test_defaults);
    RUN(test_units);
    RUN(test_ws_max_queue_bound);
    RUN(test_flags);
    RUN(test_switch);
    RUN(test_rates_and_auth_options);
    RUN(test_errors_name_the_option);
    RUN(test_precedence);
    RUN(test_bad_file);
    RUN(test_errors_say_the_form_once);
    RUN(test_help_flag);
    RUN(test_usage);
    RUN(test_quota_and_retention_options);
    RUN(test_store_option);
    RUN(test_turn_options);
    TEST_MAIN_END();
}
