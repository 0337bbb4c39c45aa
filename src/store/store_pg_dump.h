/* store_pg_dump.h: the PostgreSQL backend's dump and load (store_backend_t's dump and load,
 * the format in docs/operations.md), on the backend's connection. Used by store_pg.c. */
#ifndef CHORUS_STORE_PG_DUMP_H
#define CHORUS_STORE_PG_DUMP_H

#include <jansson.h>
#include <libpq-fe.h>

#include "store/store.h"

/* Calls row(ud, table, obj) for every row of every table, tables in the order of
 * STORE_DUMP_TABLES, rows by primary key (byte order, as SQLite's); obj is a new object of
 * the row's columns (integers, strings holding the text exactly as stored, null) that row
 * borrows for the call. Runs in the caller's transaction, which it makes a REPEATABLE READ
 * snapshot (so it must come first in it). Borrows pg and log. Returns 0, STORE_EIO
 * (logged), or what row returned when it was not 0 (the dump then stops). */
int store_pg_dump_rows(PGconn *pg, log_t *log,
                       int (*row)(void *ud, const char *table, json_t *obj), void *ud);

/* Inserts obj (borrowed: every column of table and nothing else, each of its type) as a
 * row of table, in the caller's transaction. Returns 0, STORE_EEXISTS (a unique key is
 * taken; nothing stored, the transaction goes on), STORE_ENOTFOUND (its room is missing)
 * or STORE_EIO (unknown table, a column missing, unknown or of the wrong type, text with
 * a NUL, or the database failed; logged); after ENOTFOUND or EIO the transaction is
 * aborted and the caller rolls it back. Borrows pg and log. */
int store_pg_load_row(PGconn *pg, log_t *log, const char *table, json_t *obj);

#endif
