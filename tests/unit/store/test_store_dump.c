/* test_store_dump.c: the dump's lines (store_dump_parse_header, store_dump_parse_row) and
 * export / import over the SQLite backend through real files: a round trip gives the same
 * bytes, and an import that fails at a line leaves the database empty. */
#include "test.h"

#include <jansson.h>
#include <unistd.h>

#include "store/store_dump.h"
#include "util/mem.h"

static log_t quiet_log;

static void test_parse_header(void)
{
    char err[256];
    char ok[64];
    snprintf(ok, sizeof(ok), "{\"chorus_dump\":%d,\"schema\":%d}", STORE_DUMP_VERSION,
             STORE_DUMP_SCHEMA);
    ASSERT_EQ(store_dump_parse_header(ok, strlen(ok), err, sizeof(err)), 0);
    const char *bad[] = {"",
                         "x",
                         "[]",
                         "{\"chorus_dump\":1}",
                         "{\"chorus_dump\":\"1\",\"schema\":8}",
                         "{\"chorus_dump\":1,\"schema\":8,\"x\":1}",
                         "{\"chorus_dump\":1,\"chorus_dump\":1,\"schema\":8}"};
    for (size_t i = 0; i < CH_ARRAY_LEN(bad); i++) {
        err[0] = '\0';
        ASSERT_EQ(store_dump_parse_header(bad[i], strlen(bad[i]), err, sizeof(err)), -1);
        ASSERT_TRUE(strstr(err, "not a chorus dump") != NULL);
    }
    const char *v2 = "{\"chorus_dump\":2,\"schema\":8}";
    ASSERT_EQ(store_dump_parse_header(v2, strlen(v2), err, sizeof(err)), -1);
    ASSERT_TRUE(strstr(err, "format version 2") != NULL);
    const char *s9 = "{\"chorus_dump\":1,\"schema\":999}";
    ASSERT_EQ(store_dump_parse_header(s9, strlen(s9), err, sizeof(err)), -1);
    ASSERT_TRUE(strstr(err, "schema version 999") != NULL);
}

static void test_parse_row(void)
{
    char err[256];
    const char *table = NULL;
    json_t *row = NULL;
    const char *ok = "{\"t\":\"rooms\",\"r\":{\"id\":\"r1\"}}";
    ASSERT_EQ(store_dump_parse_row(ok, strlen(ok), &table, &row, err, sizeof(err)), 0);
    ASSERT_STREQ(table, "rooms");
    ASSERT_STREQ(json_string_value(json_object_get(row, "id")), "r1");
    json_decref(row);
    struct {
        const char *line, *why;
    } bad[] = {
        {"{\"t\":\"rooms\"", "invalid JSON"},
        {"{\"t\":\"rooms\",\"r\":[]}", "not a row"},
        {"{\"t\":1,\"r\":{}}", "not a row"},
        {"{\"t\":\"rooms\",\"r\":{},\"x\":1}", "not a row"},
        {"{\"t\":\"sqlite_master\",\"r\":{}}", "unknown table"},
        {"{\"t\":\"rooms\\u0000x\",\"r\":{}}", "unknown table"},
        {"{\"t\":\"documents\",\"r\":{\"snapshot\":\"a\\u0000b\"}}",
         "column snapshot of documents holds U+0000"},
        {"{\"t\":\"rooms\",\"r\":{\"a\":1,\"a\":2}}", "invalid JSON"},
    };
    for (size_t i = 0; i < CH_ARRAY_LEN(bad); i++) {
        row = NULL;
        err[0] = '\0';
        ASSERT_EQ(store_dump_parse_row(bad[i].line, strlen(bad[i].line), &table, &row, err,
                                       sizeof(err)),
                  -1);
        ASSERT_TRUE(row == NULL);
        ASSERT_TRUE(strstr(err, bad[i].why) != NULL);
    }
}

static void tmp_path(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/chorus-sdump-%ld-%s", test_tmp_dir(), (long)getpid(), name);
    test_rm_db(out);
}

/* Exports the database at path into a new string (malloc'd; NULL on failure). */
static char *export_text(const char *path)
{
    char err[256];
    void *c = store_sqlite_backend.open(path, &quiet_log, err, sizeof(err));
    if (!c) return NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    int rc = store_dump_export(&store_sqlite_backend, c, mem, err, sizeof(err));
    fclose(mem);
    store_sqlite_backend.close(c);
    if (rc != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* Imports text into the database at path; returns 0 or -1 with err. */
static int import_text(const char *path, const char *text, char *err, size_t errlen)
{
    void *c = store_sqlite_backend.open(path, &quiet_log, err, errlen);
    if (!c) return -1;
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    int rc = store_dump_import(&store_sqlite_backend, c, in, err, errlen);
    fclose(in);
    store_sqlite_backend.close(c);
    return rc;
}

static void test_round_trip(void)
{
    char a[512], b[512], err[512];
    tmp_path(a, sizeof(a), "a.db");
    tmp_path(b, sizeof(b), "b.db");
    char head[64];
    snprintf(head, sizeof(head), "{\"chorus_dump\":%d,\"schema\":%d}\n", STORE_DUMP_VERSION,
             STORE_DUMP_SCHEMA);
    char text[2048];
    snprintf(text, sizeof(text),
             "%s"
             "{\"t\":\"users\",\"r\":{\"color\":\"#ff0000\",\"created_at\":1,\"email\":\"a@x\","
             "\"id\":\"u1\",\"password_hash\":\"h\",\"token_epoch\":0,\"updated_at\":1,"
             "\"username\":\"A \\u00e9\"}}\n"
             "{\"t\":\"rooms\",\"r\":{\"capacity\":10,\"code\":\"AAAAAA\",\"created_at\":1,"
             "\"host_id\":\"u1\",\"id\":\"r1\",\"is_public\":0,\"last_activity\":2,"
             "\"name\":\"n\",\"state\":\"{ }\",\"state_version\":0}}\n"
             "{\"t\":\"room_messages\",\"r\":{\"app\":0,\"client_id\":\"c1\","
             "\"content\":\"hi\",\"created_at\":2,\"display_name\":\"A\",\"id\":\"m1\","
             "\"metadata\":null,\"room_id\":\"r1\",\"seq\":1,\"type\":\"user_text\","
             "\"user_id\":\"u1\"}}\n"
             "{\"t\":\"documents\",\"r\":{\"doc_id\":\"main\",\"room_id\":\"r1\","
             "\"snapshot\":\"a\\tb\",\"updated_at\":3,\"version\":1}}\n",
             head);
    char whole[2100];
    snprintf(whole, sizeof(whole), "%s{\"chorus_dump_end\":4}\n", text);
    /* Without its end line (an export cut short), or with a wrong count, or with a line
     * after it: refused, nothing stays. */
    ASSERT_EQ(import_text(a, text, err, sizeof(err)), -1);
    ASSERT_TRUE(strstr(err, "no end line after line 5") != NULL);
    char bad[2200];
    snprintf(bad, sizeof(bad), "%s{\"chorus_dump_end\":3}\n", text);
    ASSERT_EQ(import_text(a, bad, err, sizeof(err)), -1);
    ASSERT_TRUE(strstr(err, "line 6: the end line counts 3 rows, the dump holds 4") != NULL);
    snprintf(bad, sizeof(bad), "%s{\"chorus_dump_end\":4}\n{\"t\":\"rooms\",\"r\":{}}\n", text);
    ASSERT_EQ(import_text(a, bad, err, sizeof(err)), -1);
    ASSERT_TRUE(strstr(err, "line 7: a line after the dump's end line") != NULL);
    /* A text value holding U+0000, which no backend stores: refused by line and column. */
    char nul[2300];
    snprintf(nul, sizeof(nul),
             "%s{\"t\":\"room_messages\",\"r\":{\"client_id\":null,\"content\":\"x\\u0000\","
             "\"created_at\":2,"
             "\"display_name\":\"A\",\"id\":\"m2\",\"metadata\":null,\"room_id\":\"r1\","
             "\"seq\":2,\"type\":\"user_text\",\"user_id\":\"u1\"}}\n{\"chorus_dump_end\":5}\n",
             text);
    ASSERT_EQ(import_text(a, nul, err, sizeof(err)), -1);
    ASSERT_TRUE(strstr(err, "line 6: column content of room_messages holds U+0000") != NULL);
    ASSERT_EQ(import_text(a, whole, err, sizeof(err)), 0);
    char *out = export_text(a);
    ASSERT_TRUE(out != NULL);
    ASSERT_TRUE(strstr(out, "\n{\"chorus_dump_end\":4}\n") != NULL);
    /* The same bytes, but for "\u00e9", which the export writes as UTF-8. */
    ASSERT_TRUE(strstr(out, "\"username\":\"A \xc3\xa9\"") != NULL);
    ASSERT_TRUE(strstr(out, "\"snapshot\":\"a\\tb\"") != NULL);
    ASSERT_EQ(import_text(b, out, err, sizeof(err)), 0);
    char *again = export_text(b);
    ASSERT_STREQ(again, out);
    free(again);
    /* Not empty any more: refused, and nothing added. */
    ASSERT_EQ(import_text(b, out, err, sizeof(err)), -1);
    ASSERT_TRUE(strstr(err, "not empty (table users has rows)") != NULL);
    free(out);

    /* A failure at the last line leaves nothing of the lines before it. */
    char c[512];
    tmp_path(c, sizeof(c), "c.db");
    char broken[2200];
    snprintf(broken, sizeof(broken), "%s{\"t\":\"rooms\",\"r\":{}}\n", text);
    ASSERT_EQ(import_text(c, broken, err, sizeof(err)), -1);
    ASSERT_TRUE(strstr(err, "line 6: the row of rooms was refused") != NULL);
    out = export_text(c);
    char empty[96];
    snprintf(empty, sizeof(empty), "%s{\"chorus_dump_end\":0}\n", head);
    ASSERT_STREQ(out, empty);
    free(out);
    test_rm_db(a);
    test_rm_db(b);
    test_rm_db(c);
}

int main(void)
{
    FILE *devnull = fopen("/dev/null", "w");
    log_init(&quiet_log, LOG_ERROR, LOG_TEXT, devnull ? devnull : stderr);
    RUN(test_parse_header);
    RUN(test_parse_row);
    RUN(test_round_trip);
    if (devnull) fclose(devnull);
    TEST_MAIN_END();
}
