/* store_pg_dump.c: every row of the PostgreSQL database out as JSON objects, and back in
 * (the dump format of `chorus export` / `chorus import`, docs/operations.md). */
#include "store/store_pg_dump.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

/* How a column travels in a dump: an integer, text, or text that may be NULL. */
typedef enum { PD_INT, PD_TEXT, PD_TEXT_NULL } pd_kind_t;

#define PD_MAX_COLS 13

typedef struct {
    const char *name;
    const char *key; /* ORDER BY: the primary key */
    int room_col;    /* the column naming the row's room (-1: none) */
    struct {
        const char *name;
        pd_kind_t kind;
    } cols[PD_MAX_COLS];
    int ncols;
} pd_table_t;

/* The tables in the order of STORE_DUMP_TABLES, with SQLite's column names and order.
 * rooms.last_seq (PostgreSQL only) is not dumped: loading messages raises it. */
static const pd_table_t pd_tables[] = {
    {"users",
     "id",
     -1,
     {{"id", PD_TEXT},
      {"email", PD_TEXT},
      {"username", PD_TEXT},
      {"color", PD_TEXT},
      {"password_hash", PD_TEXT},
      {"created_at", PD_INT},
      {"updated_at", PD_INT},
      {"token_epoch", PD_INT}},
     8},
    {"revocations",
     "kind, id",
     -1,
     {{"kind", PD_INT}, {"id", PD_TEXT}, {"epoch", PD_INT}, {"until", PD_INT}},
     4},
    {"audit",
     "id",
     -1,
     {{"id", PD_INT},
      {"at", PD_INT},
      {"event", PD_TEXT},
      {"user_id", PD_TEXT_NULL},
      {"ip", PD_TEXT_NULL},
      {"detail", PD_TEXT_NULL},
      {"count", PD_INT}},
     7},
    {"rooms",
     "id",
     -1,
     {{"id", PD_TEXT},
      {"code", PD_TEXT},
      {"name", PD_TEXT},
      {"host_id", PD_TEXT},
      {"capacity", PD_INT},
      {"is_public", PD_INT},
      {"state", PD_TEXT},
      {"state_version", PD_INT},
      {"created_at", PD_INT},
      {"last_activity", PD_INT}},
     10},
    {"room_participants",
     "room_id, user_id",
     0,
     {{"room_id", PD_TEXT},
      {"user_id", PD_TEXT},
      {"display_name", PD_TEXT},
      {"color", PD_TEXT},
      {"role", PD_INT},
      {"banned", PD_INT},
      {"joined_at", PD_INT}},
     7},
    {"room_messages",
     "id",
     1,
     {{"id", PD_TEXT},
      {"room_id", PD_TEXT},
      {"seq", PD_INT},
      {"user_id", PD_TEXT_NULL},
      {"display_name", PD_TEXT},
      {"type", PD_TEXT},
      {"content", PD_TEXT},
      {"metadata", PD_TEXT_NULL},
      {"created_at", PD_INT},
      {"app", PD_INT},
      {"client_id", PD_TEXT_NULL}},
     11},
    {"documents",
     "room_id, doc_id",
     0,
     {{"room_id", PD_TEXT},
      {"doc_id", PD_TEXT},
      {"version", PD_INT},
      {"snapshot", PD_TEXT},
      {"updated_at", PD_INT}},
     5},
    {"doc_ops",
     "room_id, doc_id, version",
     0,
     {{"room_id", PD_TEXT},
      {"doc_id", PD_TEXT},
      {"version", PD_INT},
      {"delta", PD_TEXT},
      {"author", PD_TEXT},
      {"op_id", PD_TEXT_NULL},
      {"created_at", PD_INT}},
     7},
    {"entities",
     "room_id, id",
     0,
     {{"room_id", PD_TEXT},
      {"id", PD_TEXT},
      {"kind", PD_TEXT},
      {"owner", PD_TEXT},
      {"data", PD_TEXT},
      {"version", PD_INT},
      {"state_version", PD_INT},
      {"created_at", PD_INT},
      {"updated_at", PD_INT},
      {"owner_only", PD_INT}},
     10},
    {"api_keys",
     "id",
     -1,
     {{"id", PD_TEXT},
      {"name", PD_TEXT},
      {"secret_hash", PD_TEXT},
      {"created_at", PD_INT},
      {"revoked_at", PD_INT}},
     5},
    {"webhook_deliveries",
     "seq",
     -1,
     {{"seq", PD_INT},
      {"id", PD_TEXT},
      {"endpoint", PD_TEXT},
      {"room_id", PD_TEXT},
      {"type", PD_TEXT},
      {"body", PD_TEXT},
      {"state", PD_INT},
      {"attempts", PD_INT},
      {"next_at", PD_INT},
      {"created_at", PD_INT},
      {"updated_at", PD_INT},
      {"last_status", PD_INT},
      {"last_error", PD_TEXT}},
     13},
    {"webhook_endpoints",
     "id",
     -1,
     {{"id", PD_TEXT},
      {"url", PD_TEXT},
      {"secret", PD_TEXT},
      {"events", PD_TEXT},
      {"created_at", PD_INT}},
     5},
    {"assets",
     "id",
     1,
     {{"id", PD_TEXT},
      {"room_id", PD_TEXT_NULL},
      {"uploader", PD_TEXT},
      {"sha256", PD_TEXT},
      {"size", PD_INT},
      {"name", PD_TEXT},
      {"type", PD_TEXT},
      {"created_at", PD_INT},
      {"asset_id", PD_TEXT},
      {"version", PD_INT},
      {"current", PD_INT}},
     11},
    {"activity",
     "room_id, seq",
     0,
     {{"room_id", PD_TEXT},
      {"seq", PD_INT},
      {"at", PD_INT},
      {"user_id", PD_TEXT},
      {"display_name", PD_TEXT},
      {"kind", PD_TEXT},
      {"data", PD_TEXT}},
     7},
    {"uploads",
     "id",
     -1,
     {{"id", PD_TEXT},
      {"owner", PD_TEXT},
      {"room_id", PD_TEXT_NULL},
      {"length", PD_INT},
      {"created_at", PD_INT}},
     5},
    {"state_log",
     "room_id, version, entity_id",
     0,
     {{"room_id", PD_TEXT},
      {"version", PD_INT},
      {"entity_id", PD_TEXT},
      {"change", PD_INT},
      {"at", PD_INT},
      {"kind", PD_TEXT},
      {"owner", PD_TEXT},
      {"data", PD_TEXT},
      {"ent_version", PD_INT},
      {"created_at", PD_INT},
      {"owner_only", PD_INT}},
     11},
    {"state_log_base",
     "room_id",
     0,
     {{"room_id", PD_TEXT}, {"version", PD_INT}, {"at", PD_INT}},
     3},
};

static const char *const pd_order[] = {STORE_DUMP_TABLES};
_Static_assert(CH_ARRAY_LEN(pd_tables) == CH_ARRAY_LEN(pd_order),
               "every table of STORE_DUMP_TABLES has a column list here");

static const pd_table_t *pd_table(const char *name)
{
    for (size_t i = 0; i < CH_ARRAY_LEN(pd_tables); i++)
        if (strcmp(pd_tables[i].name, name) == 0) return &pd_tables[i];
    return NULL;
}

/* Appends to buf (cap bytes, always terminated); the SQL built here fits in 1 KiB. */
static void pd_cat(char *buf, size_t cap, const char *s)
{
    size_t n = strlen(buf);
    snprintf(buf + n, cap - n, "%s", s);
}

/* Logs libpq's message for what on one line and returns STORE_EIO. */
static int pd_fail(log_t *log, PGconn *pg, const PGresult *r, const char *what,
                   const char *table)
{
    const char *msg = r ? PQresultErrorMessage(r) : "";
    if (!msg || !*msg) msg = PQerrorMessage(pg);
    char line[512];
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
        n--;
    snprintf(line, sizeof(line), "%.*s", (int)n, msg);
    for (char *q = line; *q; q++)
        if (*q == '\n') *q = ' ';
    log_error(log, "store pg: %s %s: %s", what, table, line);
    return STORE_EIO;
}

/* One column of a result row as JSON: a new reference, or NULL when the stored value
 * does not fit the dump (text that is not UTF-8, a NULL in a NOT NULL column). */
static json_t *pd_value(const PGresult *r, int row, int col, pd_kind_t kind)
{
    if (PQgetisnull(r, row, col)) return kind == PD_TEXT_NULL ? json_null() : NULL;
    const char *v = PQgetvalue(r, row, col);
    if (kind == PD_INT) return json_integer((json_int_t)strtoll(v, NULL, 10));
    return json_stringn(v, (size_t)PQgetlength(r, row, col));
}

/* Dumps one table, streaming its rows (single-row mode: memory stays one row). */
static int pd_dump_table(PGconn *pg, log_t *log, const pd_table_t *t,
                         int (*row)(void *ud, const char *table, json_t *obj), void *ud)
{
    char sql[1024] = "SELECT ";
    for (int i = 0; i < t->ncols; i++) {
        if (i) pd_cat(sql, sizeof(sql), ", ");
        pd_cat(sql, sizeof(sql), t->cols[i].name);
    }
    pd_cat(sql, sizeof(sql), " FROM ");
    pd_cat(sql, sizeof(sql), t->name);
    pd_cat(sql, sizeof(sql), " ORDER BY ");
    pd_cat(sql, sizeof(sql), t->key);
    if (!PQsendQuery(pg, sql) || !PQsetSingleRowMode(pg))
        return pd_fail(log, pg, NULL, "dump", t->name);
    int err = STORE_OK;
    PGresult *r;
    while ((r = PQgetResult(pg)) != NULL) { /* read to the end, whatever happened */
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_SINGLE_TUPLE && err == STORE_OK) {
            json_t *obj = json_object();
            for (int i = 0; i < t->ncols && obj; i++) {
                json_t *v = pd_value(r, 0, i, t->cols[i].kind);
                if (!v) {
                    log_error(log,
                              "store pg: dump %s: column %s does not fit the dump "
                              "(NULL, or text that is not UTF-8)",
                              t->name, t->cols[i].name);
                    json_decref(obj);
                    obj = NULL;
                    err = STORE_EIO;
                    break;
                }
                json_object_set_new(obj, t->cols[i].name, v);
            }
            if (obj) {
                err = row(ud, t->name, obj);
                json_decref(obj);
            }
        } else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && err == STORE_OK) {
            err = pd_fail(log, pg, r, "dump", t->name);
        }
        PQclear(r);
    }
    return err;
}

int store_pg_dump_rows(PGconn *pg, log_t *log,
                       int (*row)(void *ud, const char *table, json_t *obj), void *ud)
{
    /* One snapshot for every table, as if the dump were one statement. */
    PGresult *r = PQexec(pg, "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
    int err = PQresultStatus(r) == PGRES_COMMAND_OK ? STORE_OK
                                                    : pd_fail(log, pg, r, "dump", "snapshot");
    PQclear(r);
    for (size_t i = 0; i < CH_ARRAY_LEN(pd_order) && err == STORE_OK; i++) {
        const pd_table_t *t = pd_table(pd_order[i]);
        CH_ASSERT(t);
        err = pd_dump_table(pg, log, t, row, ud);
    }
    return err;
}

/* The INSERT of one row of t: parameters cast to the column types (they come through a
 * SELECT), ON CONFLICT DO NOTHING so a taken key is an answer and not an error that would
 * abort the caller's transaction, and for a row of a room only when the room exists (the
 * same reason). One row back when it was stored. Messages raise their room's last_seq;
 * audit rows and webhook deliveries move their id sequence past them. */
static void pd_insert_sql(const pd_table_t *t, char *sql, size_t cap)
{
    char num[32];
    sql[0] = '\0';
    if (strcmp(t->name, "room_messages") == 0 || strcmp(t->name, "audit") == 0 ||
        strcmp(t->name, "webhook_deliveries") == 0)
        pd_cat(sql, cap, "WITH ins AS (");
    pd_cat(sql, cap, "INSERT INTO ");
    pd_cat(sql, cap, t->name);
    pd_cat(sql, cap, "(");
    for (int i = 0; i < t->ncols; i++) {
        if (i) pd_cat(sql, cap, ", ");
        pd_cat(sql, cap, t->cols[i].name);
    }
    pd_cat(sql, cap, ") SELECT ");
    for (int i = 0; i < t->ncols; i++) {
        snprintf(num, sizeof(num), "%s$%d::%s", i ? ", " : "", i + 1,
                 t->cols[i].kind == PD_INT ? "bigint" : "text");
        pd_cat(sql, cap, num);
    }
    if (t->room_col >= 0) {
        snprintf(num, sizeof(num), "$%d", t->room_col + 1);
        pd_cat(sql, cap, " WHERE ");
        if (t->cols[t->room_col].kind == PD_TEXT_NULL) { /* no room (an asset's): no check */
            pd_cat(sql, cap, num);
            pd_cat(sql, cap, "::text IS NULL OR");
        }
        pd_cat(sql, cap, " EXISTS (SELECT 1 FROM rooms WHERE id = ");
        pd_cat(sql, cap, num);
        pd_cat(sql, cap, "::text)");
    }
    pd_cat(sql, cap, " ON CONFLICT DO NOTHING");
    if (strcmp(t->name, "room_messages") == 0)
        pd_cat(sql, cap,
               " RETURNING room_id, seq) UPDATE rooms SET last_seq = greatest(rooms.last_seq,"
               " ins.seq) FROM ins WHERE rooms.id = ins.room_id RETURNING 1");
    else if (strcmp(t->name, "audit") == 0)
        pd_cat(sql, cap,
               " RETURNING id) SELECT setval(pg_get_serial_sequence('audit', 'id'),"
               " greatest(ins.id, (SELECT coalesce(max(id), 1) FROM audit))) FROM ins");
    else if (strcmp(t->name, "webhook_deliveries") == 0)
        pd_cat(sql, cap,
               " RETURNING seq) SELECT setval(pg_get_serial_sequence('webhook_deliveries',"
               " 'seq'), greatest(ins.seq, (SELECT coalesce(max(seq), 1) FROM"
               " webhook_deliveries))) FROM ins");
    else
        pd_cat(sql, cap, " RETURNING 1");
}

int store_pg_load_row(PGconn *pg, log_t *log, const char *table, json_t *obj)
{
    const pd_table_t *t = pd_table(table);
    if (!t || !json_is_object(obj)) {
        log_error(log, "store pg: load: unknown table %s", table);
        return STORE_EIO;
    }
    const char *vals[PD_MAX_COLS];
    char nums[PD_MAX_COLS][24];
    for (int i = 0; i < t->ncols; i++) {
        json_t *v = json_object_get(obj, t->cols[i].name);
        pd_kind_t k = t->cols[i].kind;
        int ok = v != NULL;
        if (ok && k == PD_INT) {
            ok = json_is_integer(v);
            if (ok)
                snprintf(nums[i], sizeof(nums[i]), "%" JSON_INTEGER_FORMAT,
                         json_integer_value(v));
            vals[i] = nums[i];
        } else if (ok) {
            ok = json_is_string(v) || (k == PD_TEXT_NULL && json_is_null(v));
            vals[i] = json_is_string(v) ? json_string_value(v) : NULL;
            /* PostgreSQL text cannot hold U+0000. */
            if (ok && vals[i] && strlen(vals[i]) != json_string_length(v)) ok = 0;
        }
        if (!ok) {
            log_error(log, "store pg: load %s: column %s is missing or not %s", table,
                      t->cols[i].name,
                      k == PD_INT    ? "an integer"
                      : k == PD_TEXT ? "text"
                                     : "text or null");
            return STORE_EIO;
        }
    }
    if (json_object_size(obj) != (size_t)t->ncols) {
        log_error(log, "store pg: load %s: a column it does not have", table);
        return STORE_EIO;
    }
    char sql[1024];
    pd_insert_sql(t, sql, sizeof(sql));
    PGresult *r = PQexecParams(pg, sql, t->ncols, NULL, vals, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int err = pd_fail(log, pg, r, "load", table);
        PQclear(r);
        return err;
    }
    int stored = PQntuples(r) > 0;
    PQclear(r);
    if (stored) return STORE_OK;
    if (t->room_col < 0) return STORE_EEXISTS;
    /* Not stored: a key taken, or no such room. */
    const char *room = vals[t->room_col];
    r = PQexecParams(pg, "SELECT 1 FROM rooms WHERE id = $1", 1, NULL, &room, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        int err = pd_fail(log, pg, r, "load", table);
        PQclear(r);
        return err;
    }
    int exists = PQntuples(r) > 0;
    PQclear(r);
    return exists ? STORE_EEXISTS : STORE_ENOTFOUND;
}
