/* store_sqlite_backup.c: chorus backup's copy of a live SQLite database, through SQLite's
 * online backup API (https://sqlite.org/backup.html). */
#include "store/store_sqlite_backup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

/* A source locked by a writer's checkpoint or recovery answers SQLITE_BUSY: retried this
 * many times, 100 ms apart (10 s in all, twice the server's own busy timeout). */
#define BACKUP_BUSY_TRIES 100

/* Runs sql on db, expecting one row whose first column is want (NULL: any). */
static int backup_pragma(sqlite3 *db, const char *sql, const char *want, char *got,
                         size_t gotlen)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_step(s);
    int ok = rc == SQLITE_ROW;
    const unsigned char *v = ok ? sqlite3_column_text(s, 0) : NULL;
    snprintf(got, gotlen, "%s", v ? (const char *)v : sqlite3_errmsg(db));
    if (ok && want) ok = v && strcmp((const char *)v, want) == 0;
    sqlite3_finalize(s);
    return ok ? 0 : -1;
}

/* Copies src's snapshot into the open database dst. */
static int backup_copy(sqlite3 *from, sqlite3 *to, store_sqlite_backup_info_t *info, char *err,
                       size_t errlen)
{
    sqlite3_backup *b = sqlite3_backup_init(to, "main", from, "main");
    if (!b) {
        snprintf(err, errlen, "backup: %s", sqlite3_errmsg(to));
        return -1;
    }
    /* One step of every page: the whole copy is read in one read transaction, so it is one
     * snapshot; in WAL mode that transaction does not block the server's writes. */
    int rc;
    for (int tries = 0;; tries++) {
        rc = sqlite3_backup_step(b, -1);
        if ((rc != SQLITE_BUSY && rc != SQLITE_LOCKED) || tries >= BACKUP_BUSY_TRIES) break;
        sqlite3_sleep(100);
    }
    info->pages = sqlite3_backup_pagecount(b);
    sqlite3_backup_finish(b);
    if (rc != SQLITE_DONE) {
        snprintf(err, errlen, "backup: %s", sqlite3_errstr(rc));
        return -1;
    }
    return 0;
}

int store_sqlite_backup(const char *src, const char *dst, store_sqlite_backup_info_t *info,
                        char *err, size_t errlen)
{
    memset(info, 0, sizeof(*info));
    struct stat ss, ds;
    if (stat(src, &ss) != 0) {
        snprintf(err, errlen, "no database at '%s': %s", src, strerror(errno));
        return -ENOENT;
    }
    if (stat(dst, &ds) == 0 && ds.st_dev == ss.st_dev && ds.st_ino == ss.st_ino) {
        snprintf(err, errlen, "--to: '%s' is the database itself", dst);
        return -EINVAL;
    }
    char tmp[4096];
    int n = snprintf(tmp, sizeof(tmp), "%s.partial", dst);
    if (n < 0 || (size_t)n >= sizeof(tmp)) {
        snprintf(err, errlen, "--to: path too long");
        return -EINVAL;
    }
    /* Created here first so that it gets mode 0600 (it holds password hashes). */
    unlink(tmp);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "--to: cannot write '%s': %s", tmp, strerror(errno));
        return -EIO;
    }
    close(fd);
    sqlite3 *from = NULL, *to = NULL;
    char got[256];
    int rc = -EIO;
    if (sqlite3_open_v2(src, &from, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open '%s': %s", src,
                 from ? sqlite3_errmsg(from) : "out of memory");
    } else if (sqlite3_open_v2(tmp, &to, SQLITE_OPEN_READWRITE, NULL) != SQLITE_OK) {
        snprintf(err, errlen, "--to: cannot open '%s': %s", tmp,
                 to ? sqlite3_errmsg(to) : "out of memory");
    } else if (backup_copy(from, to, info, err, errlen) != 0) {
        /* err says why */
    } else if (backup_pragma(to, "PRAGMA journal_mode=DELETE", "delete", got, sizeof(got)) !=
               0) {
        snprintf(err, errlen, "--to: journal_mode=DELETE: %s", got);
    } else if (backup_pragma(to, "PRAGMA integrity_check", "ok", got, sizeof(got)) != 0) {
        snprintf(err, errlen, "the copy fails integrity_check: %s", got);
    } else if (backup_pragma(to, "PRAGMA page_size", NULL, got, sizeof(got)) == 0) {
        info->page_size = atoll(got);
        rc = 0;
    } else {
        snprintf(err, errlen, "--to: %s", got);
    }
    sqlite3_close(from);
    if (to && sqlite3_close(to) != SQLITE_OK && rc == 0) {
        snprintf(err, errlen, "--to: closing '%s' failed", tmp);
        rc = -EIO;
    }
    if (rc == 0) {
        fd = open(tmp, O_RDONLY | O_CLOEXEC);
        if (fd < 0 || fsync(fd) != 0 || rename(tmp, dst) != 0) {
            snprintf(err, errlen, "--to: cannot write '%s': %s", dst, strerror(errno));
            rc = -EIO;
        }
        if (fd >= 0) close(fd);
    }
    if (rc != 0) unlink(tmp);
    return rc;
}
