/* test_store_pg.h: PostgreSQL targets for the store's tests: each test gets a fresh, empty
 * schema in a database made once per test binary run, on the server CHORUS_TEST_PG names
 * (the throwaway cluster of scripts/pg-test.sh, started by ctest's "pg" fixture). */
#ifndef CHORUS_TEST_STORE_PG_H
#define CHORUS_TEST_STORE_PG_H

#include <unistd.h>

#include <libpq-fe.h>

#include "store/store_pg.h"
#include "test_store.h"

static char pg_test_db[64]; /* this run's database, made on first use */
static int pg_test_seq;

/* The base URL, or NULL when the tests run outside ctest without a server. */
static inline const char *pg_test_url(void)
{
    const char *u = getenv("CHORUS_TEST_PG");
    return u && *u ? u : NULL;
}

/* Runs sql on the database named by conninfo; 0 or -1 (printed). */
static inline int pg_test_exec(const char *conninfo, const char *sql)
{
    PGconn *pg = PQconnectdb(conninfo);
    int ok = PQstatus(pg) == CONNECTION_OK;
    if (ok) {
        PQclear(PQexec(pg, "SET client_min_messages = warning")); /* no NOTICE lines */
        PGresult *r = PQexec(pg, sql);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK;
        PQclear(r);
    }
    if (!ok) fprintf(stderr, "pg_test_exec: %s: %s", sql, PQerrorMessage(pg));
    PQfinish(pg);
    return ok ? 0 : -1;
}

/* Runs a query returning one integer on conninfo; -999 on an error (printed). */
static inline long long pg_test_int(const char *conninfo, const char *sql)
{
    PGconn *pg = PQconnectdb(conninfo);
    long long v = -999;
    if (PQstatus(pg) == CONNECTION_OK) {
        PGresult *r = PQexec(pg, sql);
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 && !PQgetisnull(r, 0, 0))
            v = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
        else
            fprintf(stderr, "pg_test_int: %s: %s", sql, PQerrorMessage(pg));
        PQclear(r);
    } else {
        fprintf(stderr, "pg_test_int: %s", PQerrorMessage(pg));
    }
    PQfinish(pg);
    return v;
}

/* The URL of database db on the test server with extra query parameters (may be ""). */
static inline int pg_test_db_url(char *out, size_t cap, const char *db, const char *extra)
{
    const char *base = pg_test_url();
    char *msg = NULL;
    PQconninfoOption *opts = base ? PQconninfoParse(base, &msg) : NULL;
    if (!opts) {
        fprintf(stderr, "CHORUS_TEST_PG: %s\n", msg ? msg : "not set");
        PQfreemem(msg);
        return -1;
    }
    const char *host = "", *port = "5432", *user = "postgres";
    for (PQconninfoOption *o = opts; o->keyword; o++) {
        if (!o->val) continue;
        if (strcmp(o->keyword, "host") == 0) host = o->val;
        if (strcmp(o->keyword, "port") == 0) port = o->val;
        if (strcmp(o->keyword, "user") == 0) user = o->val;
    }
    int n = snprintf(out, cap, "postgresql://%s@/%s?host=%s&port=%s%s", user, db, host, port,
                     extra);
    PQconninfoFree(opts);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* The test database of this run, made on first use. When CHORUS_TEST_PG is set but the
 * server cannot be reached, the run fails (exit 1): never a silent skip. */
static inline const char *pg_test_database(void)
{
    if (pg_test_db[0]) return pg_test_db;
    if (!pg_test_url()) return NULL;
    char sql[128];
    snprintf(pg_test_db, sizeof(pg_test_db), "chorus_test_%ld", (long)getpid());
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", pg_test_db);
    if (pg_test_exec(pg_test_url(), sql) != 0) goto fail;
    snprintf(sql, sizeof(sql), "CREATE DATABASE %s", pg_test_db);
    if (pg_test_exec(pg_test_url(), sql) != 0) goto fail;
    return pg_test_db;
fail:
    fprintf(stderr, "CHORUS_TEST_PG is set but its server cannot be used: failing\n");
    exit(1);
}

/* Writes the URL of a fresh, empty schema of this run's database into out (the store's
 * target: its search_path is that schema). -1 when no server is configured. */
static inline int pg_target(char *out, size_t cap, const char *name)
{
    const char *db = pg_test_database();
    if (!db) return -1;
    char schema[64], sql[256], dburl[512], extra[128];
    snprintf(schema, sizeof(schema), "t%d_", pg_test_seq++);
    size_t i = strlen(schema);
    for (; *name && i + 1 < sizeof(schema); name++) /* a safe SQL name */
        schema[i++] =
            (*name >= 'a' && *name <= 'z') || (*name >= '0' && *name <= '9') ? *name : '_';
    schema[i] = '\0';
    if (pg_test_db_url(dburl, sizeof(dburl), db, "") != 0) return -1;
    snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE; CREATE SCHEMA %s", schema,
             schema);
    if (pg_test_exec(dburl, sql) != 0) exit(1);
    snprintf(extra, sizeof(extra), "&options=-csearch_path%%3D%s", schema);
    return pg_test_db_url(out, cap, db, extra);
}

/* The schema a pg_target URL names. */
static inline void pg_target_schema(const char *target, char *out, size_t cap)
{
    const char *s = strstr(target, "search_path%3D");
    snprintf(out, cap, "%s", s ? s + 14 : "");
}

/* Drops what pg_target made. */
static inline void pg_drop_target(const char *target)
{
    char schema[64], sql[128], dburl[512];
    pg_target_schema(target, schema, sizeof(schema));
    if (!schema[0] || pg_test_db_url(dburl, sizeof(dburl), pg_test_db, "") != 0) return;
    snprintf(sql, sizeof(sql), "DROP SCHEMA IF EXISTS %s CASCADE", schema);
    pg_test_exec(dburl, sql);
}

#endif
