/* store_sqlite_dump.h: the SQLite backend's dump and load (store_backend_t's dump and load,
 * the format in docs/operations.md), on the backend's connection. Used by store_sqlite.c. */
#ifndef CHORUS_STORE_SQLITE_DUMP_H
#define CHORUS_STORE_SQLITE_DUMP_H

#include <jansson.h>
#include <sqlite3.h>

#include "store/store.h"

/* Calls row(ud, table, obj) for every row of every table, tables in the order of
 * STORE_DUMP_TABLES, rows by primary key; obj is a new object of the row's columns
 * (integers, strings, null) that row borrows for the call. Runs in the caller's
 * transaction. Borrows db and log. Returns 0, STORE_EIO (logged), or what row returned
 * when it was not 0 (the dump then stops). */
int store_sqlite_dump_rows(sqlite3 *db, log_t *log,
                           int (*row)(void *ud, const char *table, json_t *obj), void *ud);

/* Inserts obj (borrowed: every column of table and nothing else, each of its type) as a
 * row of table, in the caller's transaction. Returns 0, STORE_EEXISTS (its key is taken),
 * STORE_ENOTFOUND (its room is missing), or STORE_EIO (unknown table, a column missing,
 * unknown or of the wrong type, or the database failed; logged). Borrows db and log. */
int store_sqlite_load_row(sqlite3 *db, log_t *log, const char *table, json_t *obj);

#endif
