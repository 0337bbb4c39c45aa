/* store_dump.c: export and import of a whole database as JSON lines, over a backend's dump
 * and load functions. */
#include "store/store_dump.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store/store_pg.h"
#include "util/mem.h"

_Static_assert(STORE_PG_SCHEMA_VERSION == STORE_DUMP_SCHEMA,
               "version N of every backend's schema has the tables and columns of the dump");

static const char *const sdump_tables[] = {STORE_DUMP_TABLES};
#define SDUMP_NTABLES (sizeof(sdump_tables) / sizeof(sdump_tables[0]))

/* The row order a dump keeps: one flag per JSON encoding, the same for every line. */
#define SDUMP_JSON_FLAGS (JSON_COMPACT | JSON_SORT_KEYS)

typedef struct {
    FILE *out;
    int werr;       /* a write failed */
    long long rows; /* written */
} sdump_out_t;

static int sdump_write_row(void *ud, const char *table, json_t *obj)
{
    sdump_out_t *o = ud;
    char *r = json_dumps(obj, SDUMP_JSON_FLAGS | JSON_ENCODE_ANY);
    if (!r) return -1;
    int n = fprintf(o->out, "{\"t\":\"%s\",\"r\":%s}\n", table, r);
    free(r);
    if (n < 0) o->werr = 1;
    o->rows++;
    return n < 0 ? -1 : 0;
}

int store_dump_export(const store_backend_t *be, void *conn, FILE *out, char *err,
                      size_t errlen)
{
    if (!be->dump) {
        snprintf(err, errlen, "the %s backend cannot export", be->name);
        return -1;
    }
    if ((be->begin_read ? be->begin_read(conn) : be->begin(conn)) != 0) {
        snprintf(err, errlen, "cannot start a read transaction (see the log)");
        return -1;
    }
    sdump_out_t o = {out, 0, 0};
    int rc = 0;
    if (fprintf(out, "{\"chorus_dump\":%d,\"schema\":%d}\n", STORE_DUMP_VERSION,
                STORE_DUMP_SCHEMA) < 0)
        o.werr = 1;
    else
        rc = be->dump(conn, sdump_write_row, &o);
    be->rollback(conn); /* read only: nothing to keep */
    /* The end line, only after every row: a dump cut short (an export that failed midway
     * into a pipe) has none, and import refuses it. */
    if (rc == 0 && !o.werr && fprintf(out, "{\"chorus_dump_end\":%lld}\n", o.rows) < 0)
        o.werr = 1;
    if (!o.werr && fflush(out) != 0) o.werr = 1;
    if (o.werr) {
        snprintf(err, errlen, "write failed: %s", strerror(errno));
        return -1;
    }
    if (rc != 0) {
        snprintf(err, errlen, "reading the database failed (see the log)");
        return -1;
    }
    return 0;
}

int store_dump_parse_header(const char *line, size_t len, char *err, size_t errlen)
{
    json_t *h = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *v = json_object_get(h, "chorus_dump"), *s = json_object_get(h, "schema");
    int rc = -1;
    if (!json_is_object(h) || !json_is_integer(v) || !json_is_integer(s) ||
        json_object_size(h) != 2) {
        snprintf(err, errlen,
                 "not a chorus dump (the first line must be {\"chorus_dump\":%d,\"schema\":N})",
                 STORE_DUMP_VERSION);
    } else if (json_integer_value(v) != STORE_DUMP_VERSION) {
        snprintf(err, errlen, "dump format version %lld; this chorus reads version %d",
                 (long long)json_integer_value(v), STORE_DUMP_VERSION);
    } else if (json_integer_value(s) != STORE_DUMP_SCHEMA) {
        snprintf(err, errlen,
                 "the dump holds schema version %lld; this chorus imports schema version %d "
                 "(export with the chorus version that matches, or upgrade chorus)",
                 (long long)json_integer_value(s), STORE_DUMP_SCHEMA);
    } else {
        rc = 0;
    }
    json_decref(h);
    return rc;
}

int store_dump_parse_row(const char *line, size_t len, const char **table, json_t **row,
                         char *err, size_t errlen)
{
    json_error_t je;
    /* Read with U+0000 allowed, so that a row holding it is refused below by name rather
     * than as invalid JSON. */
    json_t *l = json_loadb(line, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
    if (!l) {
        snprintf(err, errlen, "invalid JSON at column %d: %s", je.column, je.text);
        return -1;
    }
    json_t *t = json_object_get(l, "t"), *r = json_object_get(l, "r");
    if (!json_is_object(l) || !json_is_string(t) || !json_is_object(r) ||
        json_object_size(l) != 2) {
        snprintf(err, errlen, "not a row (want {\"t\":TABLE,\"r\":{...}})");
        json_decref(l);
        return -1;
    }
    for (size_t i = 0; i < SDUMP_NTABLES; i++) {
        if (strcmp(sdump_tables[i], json_string_value(t)) == 0 &&
            strlen(sdump_tables[i]) == json_string_length(t)) {
            /* No backend stores U+0000 in a text column (PostgreSQL's text cannot hold it;
             * the server refuses it at the edge), so no import does: same on both. */
            const char *col;
            json_t *v;
            json_object_foreach(r, col, v) {
                if (json_is_string(v) &&
                    memchr(json_string_value(v), 0, json_string_length(v))) {
                    snprintf(err, errlen,
                             "column %.64s of %s holds U+0000, which no backend stores", col,
                             sdump_tables[i]);
                    json_decref(l);
                    return -1;
                }
            }
            *table = sdump_tables[i];
            *row = json_incref(r);
            json_decref(l);
            return 0;
        }
    }
    snprintf(err, errlen, "unknown table \"%.64s\"", json_string_value(t));
    json_decref(l);
    return -1;
}

int store_dump_parse_end(const char *line, size_t len, long long *rows)
{
    json_t *e = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    json_t *n = json_object_get(e, "chorus_dump_end");
    int rc = json_is_object(e) && json_object_size(e) == 1 && json_is_integer(n) &&
                     json_integer_value(n) >= 0
                 ? 0
                 : -1;
    if (rc == 0) *rows = json_integer_value(n);
    json_decref(e);
    return rc;
}

static int sdump_found_row(void *ud, const char *table, json_t *obj)
{
    (void)obj;
    *(const char **)ud = table;
    return 1; /* one is enough */
}

/* Reads one line into *buf (grown; NUL-terminated, newline removed). Returns its length,
 * -1 at the end, -2 on a read error, -3 when longer than STORE_DUMP_LINE_MAX. */
static long sdump_read_line(FILE *in, char **buf, size_t *cap)
{
    size_t n = 0;
    int c;
    while ((c = getc(in)) != EOF) {
        if (c == '\n') break;
        if (n + 2 > *cap) {
            if (*cap >= STORE_DUMP_LINE_MAX) return -3;
            *cap = *cap ? *cap * 2 : 4096;
            *buf = ch_realloc(*buf, *cap);
        }
        (*buf)[n++] = (char)c;
    }
    if (ferror(in)) return -2;
    if (c == EOF && n == 0) return -1;
    if (!*buf) {
        *cap = 1;
        *buf = ch_malloc(1);
    }
    (*buf)[n] = '\0';
    return (long)n;
}

int store_dump_import(const store_backend_t *be, void *conn, FILE *in, char *err, size_t errlen)
{
    if (!be->load || !be->dump) {
        snprintf(err, errlen, "the %s backend cannot import", be->name);
        return -1;
    }
    /* Empty? Asked in a read transaction of its own (a backend's dump may make its
     * transaction read-only); a row written meanwhile makes the import fail on its key. */
    const char *found = NULL;
    int rc = be->begin(conn) != 0 ? STORE_EIO : be->dump(conn, sdump_found_row, &found);
    be->rollback(conn);
    if (rc == 1) {
        snprintf(err, errlen,
                 "the database is not empty (table %s has rows): import needs a new one",
                 found);
        return -1;
    }
    if (rc != 0) {
        snprintf(err, errlen, "reading the database failed (see the log)");
        return -1;
    }
    if (be->begin(conn) != 0) {
        snprintf(err, errlen, "cannot start a transaction (see the log)");
        return -1;
    }
    char *buf = NULL;
    size_t cap = 0;
    long lineno = 0;
    long long rows = 0, end_rows = -1;
    char why[512] = "";
    for (;;) {
        long n = sdump_read_line(in, &buf, &cap);
        if (n == -1) break;
        lineno++;
        if (end_rows >= 0) {
            snprintf(err, errlen, "line %ld: a line after the dump's end line", lineno);
            goto fail;
        }
        if (n == -2) {
            snprintf(err, errlen, "line %ld: read failed: %s", lineno, strerror(errno));
            goto fail;
        }
        if (n == -3) {
            snprintf(err, errlen, "line %ld: longer than %u bytes", lineno,
                     (unsigned)STORE_DUMP_LINE_MAX);
            goto fail;
        }
        if (lineno == 1) {
            if (store_dump_parse_header(buf, (size_t)n, why, sizeof(why)) != 0) {
                snprintf(err, errlen, "line 1: %s", why);
                goto fail;
            }
            continue;
        }
        if (n > 0 && store_dump_parse_end(buf, (size_t)n, &end_rows) == 0) {
            if (end_rows != rows) {
                snprintf(err, errlen,
                         "line %ld: the end line counts %lld rows, the dump holds %lld", lineno,
                         end_rows, rows);
                goto fail;
            }
            continue;
        }
        const char *table;
        json_t *row;
        if (store_dump_parse_row(buf, (size_t)n, &table, &row, why, sizeof(why)) != 0) {
            snprintf(err, errlen, "line %ld: %s", lineno, why);
            goto fail;
        }
        rc = be->load(conn, table, row);
        json_decref(row);
        rows++;
        if (rc == STORE_EEXISTS) {
            snprintf(err, errlen, "line %ld: a row of %s with the same key came before", lineno,
                     table);
            goto fail;
        } else if (rc == STORE_ENOTFOUND) {
            snprintf(err, errlen,
                     "line %ld: this row of %s needs a room that no earlier line holds", lineno,
                     table);
            goto fail;
        } else if (rc != 0) {
            snprintf(err, errlen, "line %ld: the row of %s was refused (see the log)", lineno,
                     table);
            goto fail;
        }
    }
    if (lineno == 0) {
        snprintf(err, errlen, "the file is empty (not a chorus dump)");
        goto fail;
    }
    if (end_rows < 0) {
        snprintf(err, errlen,
                 "the dump has no end line after line %ld: it was cut short (an export that "
                 "failed?); nothing was imported",
                 lineno);
        goto fail;
    }
    if (be->commit(conn) != 0) {
        snprintf(err, errlen, "commit failed (see the log)");
        goto fail;
    }
    free(buf);
    return 0;
fail:
    be->rollback(conn);
    free(buf);
    return -1;
}
