/* test_api_auth.c: the REST account routes (api_auth.c) through an application context,
 * with no sockets: when the store fails (a trigger in the real SQLite database makes its
 * write fail, as a database that is down would), a route answers 503 service_unavailable
 * with a JSON body, not 500, and works again once the store does. */
#include "test.h"
#include "test_loop.h"
#include "proto/api_fixture.h"

#include <http_parser.h>
#include <sqlite3.h>
#include <uv.h>

#include "app/app.h"

/* Sends method path with body (NULL = none) and token (NULL = none). */
static int request(app_fx_t *f, got_t *g, int method, const char *path, const char *body,
                   const char *token)
{
    return api_fx_request(f, g, method, path, body, token);
}

/* Runs sql on the database through a second connection (the store's is idle between
 * requests). Returns 0 or -1. */
static int db_exec(const app_fx_t *f, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open(f->db, &db);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 5000);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) fprintf(stderr, "db_exec: %s\n", db ? sqlite3_errmsg(db) : "?");
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

static const char REGISTER[] =
    "{\"email\":\"ann@example.com\",\"password\":\"correct horse 1\","
    "\"username\":\"ann\"}";

static void test_store_failure_is_503(void)
{
    app_fx_t f;
    ASSERT_EQ(app_fx_open(&f, "api-auth"), 0);
    got_t g;

    /* register: the account cannot be stored. */
    ASSERT_EQ(db_exec(&f, "CREATE TRIGGER no_users BEFORE INSERT ON users "
                          "BEGIN SELECT RAISE(ABORT, 'test: no users'); END"),
              0);
    ASSERT_EQ(request(&f, &g, HTTP_POST, "/api/auth/register", REGISTER, NULL), 1);
    ASSERT_EQ(g.status, 503);
    ASSERT_STREQ(g.body, "{\"success\":false,\"error\":{\"code\":\"service_unavailable\","
                         "\"message\":\"cannot store the account: the database is "
                         "unavailable; try again\"}}");

    /* Once the store works again, the same request succeeds: nothing was half-stored. */
    ASSERT_EQ(db_exec(&f, "DROP TRIGGER no_users"), 0);
    ASSERT_EQ(request(&f, &g, HTTP_POST, "/api/auth/register", REGISTER, NULL), 1);
    ASSERT_EQ(g.status, 201);
    json_t *j = json_loads(g.body, 0, NULL);
    ASSERT_TRUE(j != NULL);
    char token[1024];
    snprintf(token, sizeof(token), "%s", json_string_value(json_object_get(j, "token")));
    json_decref(j);
    ASSERT_TRUE(token[0] != '\0');

    /* PATCH /api/users/me and DELETE /api/users/me: the account cannot be changed. */
    ASSERT_EQ(db_exec(&f, "CREATE TRIGGER no_update BEFORE UPDATE ON users "
                          "BEGIN SELECT RAISE(ABORT, 'test: no update'); END;"
                          "CREATE TRIGGER no_delete BEFORE DELETE ON users "
                          "BEGIN SELECT RAISE(ABORT, 'test: no delete'); END"),
              0);
    ASSERT_EQ(request(&f, &g, HTTP_PATCH, "/api/users/me", "{\"username\":\"anna\"}", token),
              1);
    ASSERT_EQ(g.status, 503);
    ASSERT_STREQ(g.body, "{\"success\":false,\"error\":{\"code\":\"service_unavailable\","
                         "\"message\":\"cannot update the account: the database is "
                         "unavailable; try again\"}}");
    ASSERT_EQ(request(&f, &g, HTTP_DELETE, "/api/users/me",
                      "{\"password\":\"correct horse 1\"}", token),
              1);
    ASSERT_EQ(g.status, 503);
    ASSERT_STREQ(g.body, "{\"success\":false,\"error\":{\"code\":\"service_unavailable\","
                         "\"message\":\"cannot delete the account: the database is "
                         "unavailable; try again\"}}");

    /* And the account is as it was. */
    ASSERT_EQ(db_exec(&f, "DROP TRIGGER no_update; DROP TRIGGER no_delete"), 0);
    ASSERT_EQ(request(&f, &g, HTTP_GET, "/api/auth/me", NULL, token), 1);
    ASSERT_EQ(g.status, 200);
    ASSERT_TRUE(strstr(g.body, "\"username\":\"ann\"") != NULL);
    ASSERT_EQ(request(&f, &g, HTTP_PATCH, "/api/users/me", "{\"username\":\"anna\"}", token),
              1);
    ASSERT_EQ(g.status, 200);

    ASSERT_EQ(app_fx_close(&f), 0);
}

int main(void)
{
    RUN(test_store_failure_is_503);
    TEST_MAIN_END();
}
