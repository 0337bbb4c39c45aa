/* store_sqlite_check.c: chorus check-config's read-only look at the SQLite database. */
#include "store/store_sqlite_check.h"

#include <stdio.h>
#include <unistd.h>

#include <sqlite3.h>

#include "store/store_sqlite.h"

/* "file:PATH?immutable=1", PATH with '%', '?' and '#' escaped. Returns 0 or -1 (too long). */
static int check_uri(const char *path, char *out, size_t cap)
{
    size_t n = (size_t)snprintf(out, cap, "file:");
    for (const char *p = path; *p; p++) {
        if (n + 4 >= cap) return -1;
        if (*p == '%' || *p == '?' || *p == '#')
            n += (size_t)snprintf(out + n, cap - n, "%%%02X", (unsigned char)*p);
        else
            out[n++] = *p;
    }
    int w = snprintf(out + n, cap - n, "?immutable=1");
    return w < 0 || (size_t)w >= cap - n ? -1 : 0;
}

int store_sqlite_check(const char *target, long long *version, char *err, size_t errlen)
{
    *version = 0;
    sqlite3 *db = NULL;
    sqlite3_stmt *s = NULL;
    /* A read-only connection still creates the -wal and -shm files of a WAL database that
     * has none (no server on it): then nothing is in a log, and the file is opened as
     * immutable, which touches nothing. Where they exist they are only read. */
    char wal[4096], uri[8192];
    snprintf(wal, sizeof(wal), "%s-wal", target);
    const char *name = target;
    if (access(wal, F_OK) != 0 && check_uri(target, uri, sizeof(uri)) == 0) name = uri;
    int rc = sqlite3_open_v2(name, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        rc = sqlite3_prepare_v2(db,
                                "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND "
                                "name = 'schema_version'",
                                -1, &s, NULL);
    }
    if (rc == SQLITE_OK) rc = sqlite3_step(s) == SQLITE_ROW ? SQLITE_OK : SQLITE_ERROR;
    int has = rc == SQLITE_OK ? sqlite3_column_int(s, 0) : 0;
    sqlite3_finalize(s);
    s = NULL;
    if (rc == SQLITE_OK && has) {
        rc = sqlite3_prepare_v2(db, "SELECT max(version) FROM schema_version", -1, &s, NULL);
        if (rc == SQLITE_OK) rc = sqlite3_step(s) == SQLITE_ROW ? SQLITE_OK : SQLITE_ERROR;
        if (rc == SQLITE_OK) *version = sqlite3_column_int64(s, 0);
        sqlite3_finalize(s);
    }
    if (rc != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s: %s", target,
                 db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return -1;
    }
    sqlite3_close(db);
    if (*version > STORE_SQLITE_SCHEMA_VERSION) {
        snprintf(err, errlen,
                 "cannot open the database %s: %s: database schema version %lld is newer "
                 "than this chorus supports (%d); upgrade chorus",
                 target, target, *version, STORE_SQLITE_SCHEMA_VERSION);
        return -1;
    }
    return 0;
}
