/* store_dump.h: a whole database as JSON lines and back, through any backend's dump and
 * load (`chorus export` / `chorus import`; the format is in docs/operations.md):
 *   {"chorus_dump":1,"schema":8}
 *   {"t":"users","r":{"color":"#ff0000","created_at":1700000000000,...}}
 * one line per row, tables in STORE_DUMP_TABLES order, a row's columns sorted by name, so
 * two backends holding the same rows write the same bytes. */
#ifndef CHORUS_STORE_DUMP_H
#define CHORUS_STORE_DUMP_H

#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "store/store.h"
#include "store/store_sqlite.h"

/* The schema version whose tables and columns a dump holds. Every backend's schema version
 * N has SQLite's tables and columns of version N, so this is SQLite's. */
#define STORE_DUMP_SCHEMA STORE_SQLITE_SCHEMA_VERSION

/* The longest line import reads (a row with its largest text column). */
#define STORE_DUMP_LINE_MAX (64u << 20)

/* Writes the header and every row of conn's database to out, in one transaction of be
 * (begin .. rollback: one consistent view while a server writes). Borrows everything.
 * Returns 0, or -1 with a one-line reason in err (the backend logged the details). */
int store_dump_export(const store_backend_t *be, void *conn, FILE *out, char *err,
                      size_t errlen);

/* Reads a dump from in into conn's database, which must hold no row, in one transaction of
 * be: it commits only when every line was loaded and the end line came last with their
 * count (a dump cut short is refused), else nothing stays. Borrows everything.
 * Returns 0, or -1 with a one-line reason naming the line in err. */
int store_dump_import(const store_backend_t *be, void *conn, FILE *in, char *err,
                      size_t errlen);

/* Parses the header line (len bytes, no newline). Returns 0, or -1 with a reason in err
 * (not a dump, another dump version or schema). Pure. */
int store_dump_parse_header(const char *line, size_t len, char *err, size_t errlen);

/* Parses the end line {"chorus_dump_end":ROWS} (len bytes, no newline), the last of a
 * whole dump: *rows gets the number of row lines before it. Returns 0, or -1 when line is
 * not one. Pure. */
int store_dump_parse_end(const char *line, size_t len, long long *rows);

/* Parses a row line (len bytes, no newline): *table gets one of STORE_DUMP_TABLES (static
 * text) and *row a new reference to the row object. Returns 0, or -1 with a reason in err
 * and nothing to free. Pure. */
int store_dump_parse_row(const char *line, size_t len, const char **table, json_t **row,
                         char *err, size_t errlen);

#endif
