/* store_sqlite_dump.c: every row of the SQLite database out as JSON objects, and back in
 * (the dump format of `chorus export` / `chorus import`, docs/operations.md). */
#include "store/store_sqlite_dump.h"

#include <stdio.h>
#include <string.h>

#include "util/mem.h"

/* A column's type in a dump: an integer, text, or text that may be NULL. */
typedef enum { SD_INT, SD_TEXT, SD_TEXT_NULL } sd_type_t;

typedef struct {
    const char *name;
    sd_type_t type;
} sd_col_t;

#define SD_MAX_COLS 13

/* A table of the dump: its columns in the schema's order, and its primary key. */
typedef struct {
    const char *name;
    const char *key; /* ORDER BY */
    sd_col_t cols[SD_MAX_COLS];
    int ncols;
} sd_table_t;

/* In the order of STORE_DUMP_TABLES (checked at the first dump or load). */
static const sd_table_t sd_tables[] = {
    {"users",
     "id",
     {{"id", SD_TEXT},
      {"email", SD_TEXT},
      {"username", SD_TEXT},
      {"color", SD_TEXT},
      {"password_hash", SD_TEXT},
      {"created_at", SD_INT},
      {"updated_at", SD_INT},
      {"token_epoch", SD_INT}},
     8},
    {"revocations",
     "kind, id",
     {{"kind", SD_INT}, {"id", SD_TEXT}, {"epoch", SD_INT}, {"until", SD_INT}},
     4},
    {"audit",
     "id",
     {{"id", SD_INT},
      {"at", SD_INT},
      {"event", SD_TEXT},
      {"user_id", SD_TEXT_NULL},
      {"ip", SD_TEXT_NULL},
      {"detail", SD_TEXT_NULL},
      {"count", SD_INT}},
     7},
    {"rooms",
     "id",
     {{"id", SD_TEXT},
      {"code", SD_TEXT},
      {"name", SD_TEXT},
      {"host_id", SD_TEXT},
      {"capacity", SD_INT},
      {"is_public", SD_INT},
      {"state", SD_TEXT},
      {"state_version", SD_INT},
      {"created_at", SD_INT},
      {"last_activity", SD_INT}},
     10},
    {"room_participants",
     "room_id, user_id",
     {{"room_id", SD_TEXT},
      {"user_id", SD_TEXT},
      {"display_name", SD_TEXT},
      {"color", SD_TEXT},
      {"role", SD_INT},
      {"banned", SD_INT},
      {"joined_at", SD_INT}},
     7},
    {"room_messages",
     "id",
     {{"id", SD_TEXT},
      {"room_id", SD_TEXT},
      {"seq", SD_INT},
      {"user_id", SD_TEXT_NULL},
      {"display_name", SD_TEXT},
      {"type", SD_TEXT},
      {"content", SD_TEXT},
      {"metadata", SD_TEXT_NULL},
      {"created_at", SD_INT},
      {"app", SD_INT},
      {"client_id", SD_TEXT_NULL}},
     11},
    {"documents",
     "room_id, doc_id",
     {{"room_id", SD_TEXT},
      {"doc_id", SD_TEXT},
      {"version", SD_INT},
      {"snapshot", SD_TEXT},
      {"updated_at", SD_INT}},
     5},
    {"doc_ops",
     "room_id, doc_id, version",
     {{"room_id", SD_TEXT},
      {"doc_id", SD_TEXT},
      {"version", SD_INT},
      {"delta", SD_TEXT},
      {"author", SD_TEXT},
      {"op_id", SD_TEXT_NULL},
      {"created_at", SD_INT}},
     7},
    {"entities",
     "room_id, id",
     {{"room_id", SD_TEXT},
      {"id", SD_TEXT},
      {"kind", SD_TEXT},
      {"owner", SD_TEXT},
      {"data", SD_TEXT},
      {"version", SD_INT},
      {"state_version", SD_INT},
      {"created_at", SD_INT},
      {"updated_at", SD_INT},
      {"owner_only", SD_INT}},
     10},
    {"api_keys",
     "id",
     {{"id", SD_TEXT},
      {"name", SD_TEXT},
      {"secret_hash", SD_TEXT},
      {"created_at", SD_INT},
      {"revoked_at", SD_INT}},
     5},
    {"webhook_deliveries",
     "seq",
     {{"seq", SD_INT},
      {"id", SD_TEXT},
      {"endpoint", SD_TEXT},
      {"room_id", SD_TEXT},
      {"type", SD_TEXT},
      {"body", SD_TEXT},
      {"state", SD_INT},
      {"attempts", SD_INT},
      {"next_at", SD_INT},
      {"created_at", SD_INT},
      {"updated_at", SD_INT},
      {"last_status", SD_INT},
      {"last_error", SD_TEXT}},
     13},
    {"webhook_endpoints",
     "id",
     {{"id", SD_TEXT},
      {"url", SD_TEXT},
      {"secret", SD_TEXT},
      {"events", SD_TEXT},
      {"created_at", SD_INT}},
     5},
    {"assets",
     "id",
     {{"id", SD_TEXT},
      {"room_id", SD_TEXT_NULL},
      {"uploader", SD_TEXT},
      {"sha256", SD_TEXT},
      {"size", SD_INT},
      {"name", SD_TEXT},
      {"type", SD_TEXT},
      {"created_at", SD_INT},
      {"asset_id", SD_TEXT},
      {"version", SD_INT},
      {"current", SD_INT}},
     11},
    {"activity",
     "room_id, seq",
     {{"room_id", SD_TEXT},
      {"seq", SD_INT},
      {"at", SD_INT},
      {"user_id", SD_TEXT},
      {"display_name", SD_TEXT},
      {"kind", SD_TEXT},
      {"data", SD_TEXT}},
     7},
    {"uploads",
     "id",
     {{"id", SD_TEXT},
      {"owner", SD_TEXT},
      {"room_id", SD_TEXT_NULL},
      {"length", SD_INT},
      {"created_at", SD_INT}},
     5},
    {"state_log",
     "room_id, version, entity_id",
     {{"room_id", SD_TEXT},
      {"version", SD_INT},
      {"entity_id", SD_TEXT},
      {"change", SD_INT},
      {"at", SD_INT},
      {"kind", SD_TEXT},
      {"owner", SD_TEXT},
      {"data", SD_TEXT},
      {"ent_version", SD_INT},
      {"created_at", SD_INT},
      {"owner_only", SD_INT}},
     11},
    {"state_log_base",
     "room_id",
     {{"room_id", SD_TEXT}, {"version", SD_INT}, {"at", SD_INT}},
     3},
};

static const char *const sd_dump_order[] = {STORE_DUMP_TABLES};
_Static_assert(sizeof(sd_tables) / sizeof(sd_tables[0]) ==
                   sizeof(sd_dump_order) / sizeof(sd_dump_order[0]),
               "every table of STORE_DUMP_TABLES has a column list here");

#define SD_NTABLES (sizeof(sd_tables) / sizeof(sd_tables[0]))

static const sd_table_t *sd_table(const char *name)
{
    for (size_t i = 0; i < SD_NTABLES; i++)
        if (strcmp(sd_tables[i].name, name) == 0) return &sd_tables[i];
    return NULL;
}

/* "col1, col2, ..." of t into buf (cap bytes; the lists fit in 256). */
static void sd_col_list(const sd_table_t *t, char *buf, size_t cap, int params)
{
    size_t n = 0;
    buf[0] = '\0';
    for (int i = 0; i < t->ncols && n < cap; i++) {
        int w = params ? snprintf(buf + n, cap - n, "%s?%d", i ? ", " : "", i + 1)
                       : snprintf(buf + n, cap - n, "%s%s", i ? ", " : "", t->cols[i].name);
        if (w < 0) break;
        n += (size_t)w;
    }
}

/* One column of the current row as JSON: a new reference, or NULL when the stored value
 * is not of the column's type (a hand-edited database; logged). */
static json_t *sd_value(sqlite3_stmt *s, int i, const sd_table_t *t, log_t *log)
{
    int ty = sqlite3_column_type(s, i);
    const sd_col_t *c = &t->cols[i];
    if (ty == SQLITE_NULL && c->type == SD_TEXT_NULL) return json_null();
    if (ty == SQLITE_INTEGER && c->type == SD_INT)
        return json_integer((json_int_t)sqlite3_column_int64(s, i));
    if (ty == SQLITE_TEXT && c->type != SD_INT) {
        const char *txt = (const char *)sqlite3_column_text(s, i);
        json_t *v = json_stringn(txt ? txt : "", (size_t)sqlite3_column_bytes(s, i));
        if (v) return v;
        log_error(log, "store sqlite: dump: %s.%s holds text that is not UTF-8", t->name,
                  c->name);
        return NULL;
    }
    log_error(log, "store sqlite: dump: %s.%s holds a value of SQLite type %d, not %s", t->name,
              c->name, ty, c->type == SD_INT ? "an integer" : "text");
    return NULL;
}

int store_sqlite_dump_rows(sqlite3 *db, log_t *log,
                           int (*row)(void *ud, const char *table, json_t *obj), void *ud)
{
    for (size_t ti = 0; ti < SD_NTABLES; ti++) {
        const sd_table_t *t = sd_table(sd_dump_order[ti]);
        CH_ASSERT(t);
        char cols[256], sql[512];
        sd_col_list(t, cols, sizeof(cols), 0);
        snprintf(sql, sizeof(sql), "SELECT %s FROM %s ORDER BY %s", cols, t->name, t->key);
        sqlite3_stmt *s = NULL;
        if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
            log_error(log, "store sqlite: dump %s: %s", t->name, sqlite3_errmsg(db));
            sqlite3_finalize(s);
            return STORE_EIO;
        }
        int rc, ret = 0;
        while (ret == 0 && (rc = sqlite3_step(s)) == SQLITE_ROW) {
            json_t *obj = json_object();
            for (int i = 0; i < t->ncols && ret == 0; i++) {
                json_t *v = sd_value(s, i, t, log);
                if (!v)
                    ret = STORE_EIO;
                else
                    json_object_set_new(obj, t->cols[i].name, v);
            }
            if (ret == 0) ret = row(ud, t->name, obj);
            json_decref(obj);
        }
        if (ret == 0 && rc != SQLITE_DONE) {
            log_error(log, "store sqlite: dump %s: %s", t->name, sqlite3_errmsg(db));
            ret = STORE_EIO;
        }
        sqlite3_finalize(s);
        if (ret != 0) return ret;
    }
    return 0;
}

/* Binds column i of t from obj. Returns 0 or STORE_EIO (logged). */
static int sd_bind(sqlite3_stmt *s, const sd_table_t *t, int i, json_t *obj, log_t *log)
{
    const sd_col_t *c = &t->cols[i];
    json_t *v = json_object_get(obj, c->name);
    int rc;
    if (!v) {
        log_error(log, "store sqlite: load %s: column %s is missing", t->name, c->name);
        return STORE_EIO;
    }
    if (c->type == SD_INT && json_is_integer(v))
        rc = sqlite3_bind_int64(s, i + 1, (sqlite3_int64)json_integer_value(v));
    else if (c->type != SD_INT && json_is_string(v))
        rc = sqlite3_bind_text(s, i + 1, json_string_value(v), (int)json_string_length(v),
                               SQLITE_STATIC);
    else if (c->type == SD_TEXT_NULL && json_is_null(v))
        rc = sqlite3_bind_null(s, i + 1);
    else {
        log_error(log, "store sqlite: load %s: column %s must be %s", t->name, c->name,
                  c->type == SD_INT    ? "an integer"
                  : c->type == SD_TEXT ? "a string"
                                       : "a string or null");
        return STORE_EIO;
    }
    return rc == SQLITE_OK ? 0 : STORE_EIO;
}

int store_sqlite_load_row(sqlite3 *db, log_t *log, const char *table, json_t *obj)
{
    const sd_table_t *t = sd_table(table);
    if (!t) {
        log_error(log, "store sqlite: load: unknown table \"%s\"", table);
        return STORE_EIO;
    }
    if (!json_is_object(obj)) {
        log_error(log, "store sqlite: load %s: the row is not an object", table);
        return STORE_EIO;
    }
    /* Each column is checked when bound; more keys than columns means an unknown one. */
    if (json_object_size(obj) > (size_t)t->ncols) {
        const char *k;
        json_t *v;
        json_object_foreach(obj, k, v)
        {
            int known = 0;
            for (int i = 0; i < t->ncols; i++)
                known |= strcmp(t->cols[i].name, k) == 0;
            if (!known) {
                log_error(log, "store sqlite: load %s: unknown column \"%s\"", table, k);
                return STORE_EIO;
            }
        }
    }
    char cols[256], params[256], sql[600];
    sd_col_list(t, cols, sizeof(cols), 0);
    sd_col_list(t, params, sizeof(params), 1);
    snprintf(sql, sizeof(sql), "INSERT INTO %s(%s) VALUES(%s)", t->name, cols, params);
    sqlite3_stmt *s = NULL;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK) {
        log_error(log, "store sqlite: load %s: %s", table, sqlite3_errmsg(db));
        sqlite3_finalize(s);
        return STORE_EIO;
    }
    int ret = 0;
    for (int i = 0; i < t->ncols && ret == 0; i++)
        ret = sd_bind(s, t, i, obj, log);
    if (ret == 0) {
        int rc = sqlite3_step(s);
        if (rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE) {
            ret = STORE_EEXISTS;
        } else if (rc == SQLITE_CONSTRAINT_FOREIGNKEY) {
            ret = STORE_ENOTFOUND;
        } else if (rc != SQLITE_DONE) {
            log_error(log, "store sqlite: load %s: %s", table, sqlite3_errmsg(db));
            ret = STORE_EIO;
        }
    }
    sqlite3_finalize(s);
    return ret;
}
