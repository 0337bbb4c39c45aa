/* store_sqlite.h: what the SQLite backend exposes beyond store_sqlite_backend (for tests
 * and operations tooling). */
#ifndef CHORUS_STORE_SQLITE_H
#define CHORUS_STORE_SQLITE_H

#include "store/store.h"

/* The schema version this binary creates and migrates to (the row of schema_version).
 * Opening a database with a higher version is refused. */
#define STORE_SQLITE_SCHEMA_VERSION 21

#endif
