/* store_pg.h: what the PostgreSQL backend exposes beyond store_pg_backend (the choice of
 * backend by target, the masked target for logs, the schema version for tests and tools). */
#ifndef CHORUS_STORE_PG_H
#define CHORUS_STORE_PG_H

#include <stddef.h>

#include "store/store.h"

/* The schema version this binary creates and migrates to (the row of schema_version). It
 * counts the same migrations as SQLite's (store_sqlite.h): version N holds the same tables
 * and columns in both backends. Opening a database with a higher version is refused. */
#define STORE_PG_SCHEMA_VERSION 21

/* The PostgreSQL backend (target: a libpq connection URI, postgres:// or postgresql://). */
extern const store_backend_t store_pg_backend;

/* 1 when target names a PostgreSQL database (starts with "postgres://" or
 * "postgresql://"), else 0. target is borrowed. */
int store_pg_is_url(const char *target);

/* Writes target into out (cap bytes, always NUL-terminated, cut if longer) with its
 * password replaced by "***": the userinfo password of a URI and a "password" query
 * parameter. Every log line that names a target uses this. target is borrowed. */
void store_pg_mask(const char *target, char *out, size_t cap);

/* Checks that target is a URI libpq accepts (syntax only, no connection). Returns 0, or -1
 * with a one-line reason in err (the password never appears in it). */
int store_pg_check_url(const char *target, char *err, size_t errlen);

#endif
