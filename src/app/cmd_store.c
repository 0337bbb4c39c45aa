/* cmd_store.c: chorus export, import, migrate and backup. They open the backend the server
 * would use (same options, environment and config file) directly on this thread, with no loop
 * and no store worker: a command does one thing at a time and waits for it, so the
 * worker's queue and callbacks would add nothing. */
#include "app/cmd_store.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_dump.h"
#include "store/store_pg.h"
#include "store/store_sqlite_backup.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

extern char **environ;

static const char cmd_store_options[] =
    "  --data DIR           the data directory: its SQLite database, chorus.db (default\n"
    "                       ./var; also CHORUS_DATA and the config file's \"data\")\n"
    "  --store URL          a PostgreSQL database instead (postgres://...; also\n"
    "                       CHORUS_STORE and the config file's \"store\")\n"
    "  --config PATH        a JSON config file, as for chorus serve\n"
    "  -h, --help           this text\n";

static void export_usage(FILE *out)
{
    fprintf(out,
            "usage: chorus export [--data DIR | --store URL] [-o FILE]\n"
            "Writes every row of the database as JSON lines (docs/operations.md), in one read\n"
            "transaction, so a server may keep running.\n\n"
            "  -o, --output FILE    write to FILE (created with mode 0600: it holds password\n"
            "                       hashes) instead of standard output\n"
            "%s",
            cmd_store_options);
}

static void import_usage(FILE *out)
{
    fprintf(out,
            "usage: chorus import [--data DIR | --store URL] FILE\n"
            "Loads a dump written by chorus export (FILE, or - for standard input) into an\n"
            "empty database, created and migrated when missing. One transaction: on any\n"
            "error nothing is imported. Stop servers on the database first.\n\n"
            "%s",
            cmd_store_options);
}

static void migrate_usage(FILE *out)
{
    fprintf(out,
            "usage: chorus migrate [--data DIR | --store URL]\n"
            "Creates the database schema, or upgrades it to this chorus's version, and exits\n"
            "(chorus serve does the same at start). Says which version it found and left.\n\n"
            "%s",
            cmd_store_options);
}

static void backup_usage(FILE *out)
{
    fprintf(out,
            "usage: chorus backup --to FILE [--data DIR]\n"
            "Copies the SQLite database into FILE (created with mode 0600: it holds password\n"
            "hashes) with SQLite's online backup API: one consistent snapshot, taken while a\n"
            "server may keep serving and writing. The copy is checked (integrity_check) and\n"
            "is a complete database: to restore, stop the server, put FILE in place of\n"
            "DIR/chorus.db (and remove chorus.db-wal and chorus.db-shm), start it again.\n"
            "A PostgreSQL store (--store) is backed up with pg_dump or chorus export.\n\n"
            "  --to FILE            where the copy goes (replaced when it exists)\n"
            "%s",
            cmd_store_options);
}

/* What the commands share: the configuration, the log, the backend and its target. */
typedef struct {
    chorus_config_t cfg;
    log_t log;
    const store_backend_t *be;
    char target[4096];
    const char *name; /* "export", ... */
    char shown[4096]; /* the target for messages (a URL's password masked) */
} cmd_t;

/* Loads the options in argv (the command's own ones removed) as chorus serve would.
 * Returns 0, or the exit code (help printed: -1 means exit 0). */
static int cmd_setup(cmd_t *c, const char *name, int argc, char **argv)
{
    char err[512];
    c->name = name;
    config_defaults(&c->cfg);
    int rc = config_load(&c->cfg, argc, argv, environ, err, sizeof(err));
    if (rc != 0) {
        fprintf(stderr, "chorus %s: %s\n", name, err);
        config_free(&c->cfg);
        return 2;
    }
    log_init(&c->log, LOG_WARN, c->cfg.log_format, stderr);
    if (c->cfg.store[0]) { /* PostgreSQL, as chorus serve chooses */
        if (store_pg_check_url(c->cfg.store, err, sizeof(err)) != 0) {
            fprintf(stderr, "chorus %s: %s\n", name, err);
            config_free(&c->cfg);
            return 2;
        }
        c->be = &store_pg_backend;
        snprintf(c->target, sizeof(c->target), "%s", c->cfg.store);
        store_pg_mask(c->cfg.store, c->shown, sizeof(c->shown));
        return 0;
    }
    c->be = &store_sqlite_backend;
    int n = snprintf(c->target, sizeof(c->target), "%s/chorus.db", c->cfg.data_dir);
    if (n < 0 || (size_t)n >= sizeof(c->target)) {
        fprintf(stderr, "chorus %s: --data: path too long\n", name);
        config_free(&c->cfg);
        return 2;
    }
    snprintf(c->shown, sizeof(c->shown), "%s", c->target);
    return 0;
}

/* Opens the backend (creating the data directory, one level, when create is set). */
static void *cmd_open(cmd_t *c, int create)
{
    char err[512];
    if (c->be != &store_sqlite_backend) {
        /* PostgreSQL: the database must exist (createdb); open says so when it does not. */
    } else if (create) {
        if (mkdir(c->cfg.data_dir, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "chorus %s: --data: cannot create '%s': %s\n", c->name,
                    c->cfg.data_dir, strerror(errno));
            return NULL;
        }
    } else if (access(c->target, F_OK) != 0) {
        fprintf(stderr, "chorus %s: --data: no database at '%s': %s\n", c->name, c->target,
                strerror(errno));
        return NULL;
    }
    void *conn = c->be->open(c->target, &c->log, err, sizeof(err));
    if (!conn) fprintf(stderr, "chorus %s: %s\n", c->name, err);
    return conn;
}

/* Splits argv into the command's own flags (-h, and those taking a value in own[], whose
 * values go to vals[]) and the rest (server options). Returns 0, 1 for help, or 2 for a
 * flag missing its value (reported). rest must hold argc entries. */
static int cmd_split(const char *name, int argc, char **argv, const char *const *own,
                     const char **vals, size_t nown, char **rest, int *nrest)
{
    *nrest = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
        size_t k = 0;
        while (k < nown && strcmp(argv[i], own[k]) != 0)
            k++;
        if (k == nown) {
            rest[(*nrest)++] = argv[i];
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "chorus %s: %s needs a value\n", name, argv[i]);
            return 2;
        }
        vals[k] = argv[++i];
    }
    return 0;
}

int cmd_store_export(int argc, char **argv)
{
    static const char *const own[] = {"-o", "--output"};
    const char *vals[2] = {NULL, NULL};
    char **rest = ch_calloc((size_t)argc + 1, sizeof(char *));
    int nrest;
    int s = cmd_split("export", argc, argv, own, vals, 2, rest, &nrest);
    if (s == 1) export_usage(stdout);
    cmd_t c;
    if (s == 0) s = cmd_setup(&c, "export", nrest, rest);
    free(rest);
    if (s != 0) return s == 1 ? 0 : s;
    const char *path = vals[0] ? vals[0] : vals[1];
    int rc = 1;
    void *conn = cmd_open(&c, 0);
    FILE *out = stdout;
    if (conn && path && strcmp(path, "-") != 0) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        out = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!out) {
            fprintf(stderr, "chorus export: -o: cannot write '%s': %s\n", path,
                    strerror(errno));
            if (fd >= 0) close(fd);
        }
    }
    if (conn && out) {
        char err[512];
        if (store_dump_export(c.be, conn, out, err, sizeof(err)) == 0)
            rc = 0;
        else
            fprintf(stderr, "chorus export: %s\n", err);
        if (out != stdout && fclose(out) != 0 && rc == 0) {
            fprintf(stderr, "chorus export: -o: writing '%s' failed: %s\n", path,
                    strerror(errno));
            rc = 1;
        }
        if (rc != 0 && out != stdout) unlink(path); /* never leave half a dump */
    }
    if (conn) c.be->close(conn);
    config_free(&c.cfg);
    return rc;
}

int cmd_store_import(int argc, char **argv)
{
    char **rest = ch_calloc((size_t)argc + 1, sizeof(char *));
    int nrest;
    int s = cmd_split("import", argc, argv, NULL, NULL, 0, rest, &nrest);
    if (s == 1) import_usage(stdout);
    const char *path = NULL;
    if (s == 0) {
        /* FILE is the last argument: every option before it takes its value after it. */
        if (nrest == 0 || (rest[nrest - 1][0] == '-' && rest[nrest - 1][1] != '\0')) {
            fprintf(stderr, "chorus import: FILE is missing (the dump to load; - for "
                            "standard input)\n");
            s = 2;
        } else {
            path = rest[--nrest];
        }
    }
    cmd_t c;
    if (s == 0) s = cmd_setup(&c, "import", nrest, rest);
    free(rest);
    if (s != 0) return s == 1 ? 0 : s;
    int rc = 1;
    FILE *in = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (!in)
        fprintf(stderr, "chorus import: FILE: cannot read '%s': %s\n", path, strerror(errno));
    void *conn = in ? cmd_open(&c, 1) : NULL;
    if (conn) {
        char err[512];
        if (store_dump_import(c.be, conn, in, err, sizeof(err)) == 0)
            rc = 0;
        else
            fprintf(stderr, "chorus import: %s: %s\n", strcmp(path, "-") == 0 ? "stdin" : path,
                    err);
        c.be->close(conn);
    }
    if (in && in != stdin) fclose(in);
    config_free(&c.cfg);
    return rc;
}

/* Counts the lines of text that report one migration step (the backends log "migrated to
 * schema version N" for each). */
static int cmd_count_steps(const char *text)
{
    int n = 0;
    for (const char *p = text; (p = strstr(p, "migrated to schema version")) != NULL; p++)
        n++;
    return n;
}

int cmd_store_migrate(int argc, char **argv)
{
    char **rest = ch_calloc((size_t)argc + 1, sizeof(char *));
    int nrest;
    int s = cmd_split("migrate", argc, argv, NULL, NULL, 0, rest, &nrest);
    if (s == 1) migrate_usage(stdout);
    cmd_t c;
    if (s == 0) s = cmd_setup(&c, "migrate", nrest, rest);
    free(rest);
    if (s != 0) return s == 1 ? 0 : s;
    /* The backend logs each step at info: kept to count them, then shown. */
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) {
        fprintf(stderr, "chorus migrate: %s\n", strerror(errno));
        config_free(&c.cfg);
        return 1;
    }
    log_init(&c.log, LOG_INFO, c.cfg.log_format, mem);
    void *conn = cmd_open(&c, 1);
    fclose(mem);
    fputs(text, stderr);
    int steps = cmd_count_steps(text);
    free(text);
    if (conn) {
        c.be->close(conn);
        printf("chorus migrate: %s %s: schema version %d found, %d now (%d migration%s "
               "applied)\n",
               c.be->name, c.shown, STORE_DUMP_SCHEMA - steps, STORE_DUMP_SCHEMA, steps,
               steps == 1 ? "" : "s");
    }
    config_free(&c.cfg);
    return conn ? 0 : 1;
}

int cmd_store_backup(int argc, char **argv)
{
    static const char *const own[] = {"--to"};
    const char *vals[1] = {NULL};
    char **rest = ch_calloc((size_t)argc + 1, sizeof(char *));
    int nrest;
    int s = cmd_split("backup", argc, argv, own, vals, 1, rest, &nrest);
    if (s == 1) backup_usage(stdout);
    if (s == 0 && (!vals[0] || !*vals[0])) {
        fprintf(stderr, "chorus backup: --to FILE is missing (where the copy goes)\n");
        s = 2;
    }
    cmd_t c;
    if (s == 0) s = cmd_setup(&c, "backup", nrest, rest);
    free(rest);
    if (s != 0) return s == 1 ? 0 : s;
    if (c.be != &store_sqlite_backend) {
        fprintf(stderr,
                "chorus backup: the store is PostgreSQL (%s): back it up with pg_dump, or "
                "with chorus export (docs/operations.md, \"Backups\")\n",
                c.shown);
        config_free(&c.cfg);
        return 2;
    }
    char err[512];
    store_sqlite_backup_info_t info;
    int rc = store_sqlite_backup(c.target, vals[0], &info, err, sizeof(err));
    if (rc == 0)
        printf("chorus backup: %s -> %s (%lld pages of %lld bytes, integrity ok)\n", c.shown,
               vals[0], info.pages, info.page_size);
    else
        fprintf(stderr, "chorus backup: %s%s\n", rc == -ENOENT ? "--data: " : "", err);
    config_free(&c.cfg);
    return rc == 0 ? 0 : rc == -EINVAL ? 2 : 1;
}

struct cmd_store_db_s {
    cmd_t c;
    void *conn;
};

cmd_store_db_t *cmd_store_db_open(const char *name, int argc, char **argv, int *code)
{
    cmd_store_db_t *db = ch_calloc(1, sizeof(*db));
    *code = cmd_setup(&db->c, name, argc, argv);
    if (*code != 0) {
        free(db);
        return NULL;
    }
    db->conn = cmd_open(&db->c, 1);
    if (!db->conn) {
        config_free(&db->c.cfg);
        free(db);
        *code = 1;
        return NULL;
    }
    return db;
}

int cmd_store_db_run(cmd_store_db_t *db, store_req_t *req)
{
    const store_backend_t *be = db->c.be;
    if (be->begin(db->conn) != STORE_OK) return req->err = STORE_EIO;
    be->exec(db->conn, req);
    if (req->err == STORE_EIO || be->commit(db->conn) != STORE_OK) {
        be->rollback(db->conn);
        req->err = STORE_EIO;
    }
    return req->err;
}

void cmd_store_db_close(cmd_store_db_t *db)
{
    if (!db) return;
    db->c.be->close(db->conn);
    config_free(&db->c.cfg);
    free(db);
}
