/* store_sqlite_backup.h: a consistent copy of a live SQLite database (chorus backup). */
#ifndef CHORUS_STORE_SQLITE_BACKUP_H
#define CHORUS_STORE_SQLITE_BACKUP_H

#include <stddef.h>

/* What a backup copied. */
typedef struct {
    long long pages;     /* database pages copied */
    long long page_size; /* bytes per page */
} store_sqlite_backup_info_t;

/* Copies the database at src (opened read-only: a server may be serving and writing to it)
 * into dst with SQLite's online backup API, as one snapshot: the copy holds exactly the
 * transactions committed when it started. The copy is written to "dst.partial" (mode
 * 0600), switched to a rollback journal (one self-contained file), checked with PRAGMA
 * integrity_check, synced, then renamed onto dst; on any failure nothing is left at either
 * path. src and dst are borrowed. Returns 0 with *info filled, -ENOENT when src does not
 * exist, -EINVAL when dst is src, or -EIO; err gets a one-line reason. */
int store_sqlite_backup(const char *src, const char *dst, store_sqlite_backup_info_t *info,
                        char *err, size_t errlen);

#endif
