/* store_sqlite_check.h: a read-only look at a SQLite database (chorus check-config). */
#ifndef CHORUS_STORE_SQLITE_CHECK_H
#define CHORUS_STORE_SQLITE_CHECK_H

#include <stddef.h>

/* Opens the database at target read-only, writing nothing, and reads its schema version
 * into *version (0 for a file with no schema yet). Returns 0, or -1 with a one-line reason
 * in err when it cannot be read or its version is newer than this chorus supports (the
 * message chorus serve gives). target is borrowed. */
int store_sqlite_check(const char *target, long long *version, char *err, size_t errlen);

#endif
