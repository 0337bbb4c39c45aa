/* test_store_sqlite_dump.c: the SQLite backend's dump and load (store_backend_t): every
 * table out as JSON rows of the right types, in table and key order; loaded into an empty
 * database, the same dump again; a row that does not fit its table refused with the
 * contract's code. */
#include "test.h"

#include <jansson.h>
#include <sqlite3.h>
#include <unistd.h>

#include "store/store.h"
#include "store/store_dump.h"

static log_t quiet_log;

static void tmp_path(char *out, size_t cap, const char *name)
{
    static int n; /* a test binary is one thread */
    snprintf(out, cap, "%s/chorus-dump-%ld-%d-%s.db", test_tmp_dir(), (long)getpid(), n++,
             name);
    test_rm_db(out);
}

static void *open_db(const char *path)
{
    char err[256] = "";
    void *c = store_sqlite_backend.open(path, &quiet_log, err, sizeof(err));
    if (!c) fprintf(stderr, "open %s: %s\n", path, err);
    return c;
}

static int db_exec(const char *path, const char *sql)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL);
    if (rc == SQLITE_OK) rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) fprintf(stderr, "db_exec: %s\n", sqlite3_errmsg(db));
    sqlite3_close(db);
    return rc == SQLITE_OK ? 0 : -1;
}

/* One row of every table, two of some (out of key order), NULLs, non-ASCII text, JSON
 * text with its own spacing, an integer past 2^53. */
static const char *const populate_sql =
    "INSERT INTO users VALUES('u2','b@x.org','B \xc3\xa9','#00ff00','h2',2,3,1);"
    "INSERT INTO users VALUES('u1','a@x.org','A','#ff0000','h1',1,1,0);"
    "INSERT INTO revocations VALUES(1,'u2',1,1700000000);"
    "INSERT INTO revocations VALUES(0,'jti-1',0,1700000001);"
    "INSERT INTO audit(id, at, event, user_id, ip, detail, count)"
    " VALUES(7,5,'login',NULL,'127.0.0.1',NULL,3);"
    "INSERT INTO audit(id, at, event, user_id, ip, detail, count)"
    " VALUES(3,4,'register','u1',NULL,'ok',1);"
    "INSERT INTO rooms VALUES('r2','BBBBBB','two','u2',10,0,'{ \"k\" : [1, 2] }',3,20,21);"
    "INSERT INTO rooms VALUES('r1','AAAAAA','one','u1',50,1,'{}',0,10,9007199254740993);"
    "INSERT INTO room_participants VALUES('r1','u2','B','#00ff00',0,1,11);"
    "INSERT INTO room_participants VALUES('r1','u1','A','#ff0000',1,0,10);"
    "INSERT INTO room_messages VALUES('m2','r1',2,NULL,'server','system','hi \xe2\x9c\x93',"
    " NULL,13,1,NULL);"
    "INSERT INTO room_messages VALUES('m1','r1',1,'u1','A','text','first',"
    " '{\"a\":1,  \"b\":\"\\u00e9\"}',12,0,'cid-1');"
    "INSERT INTO documents VALUES('r1','main',2,'ab',14);"
    "INSERT INTO doc_ops VALUES('r1','main',2,'[1,\"b\"]','u2',NULL,15);"
    "INSERT INTO doc_ops VALUES('r1','main',1,'[\"a\"]','u1','op-1',14);"
    "INSERT INTO entities VALUES('r2','e1','card','u2','{\"x\": 1}',2,3,16,17,1);"
    "INSERT INTO entities VALUES('r1','e9','pin','u1','{}',1,1,18,18,0);"
    "INSERT INTO webhook_deliveries VALUES(4,'d1','app','r9','room.deleted','{\"a\": 1}',"
    " 0,2,30,19,20,503,'HTTP 503');"
    "INSERT INTO webhook_endpoints VALUES('wh_b','http://127.0.0.1:9/h','s3cret','*',21);"
    "INSERT INTO webhook_endpoints VALUES('wh_a','https://x.test/h?Ã©','k','room.created',22);"
    "INSERT INTO activity VALUES('r1',2,24,'','app','messages','{\"messages\": 2}');"
    "INSERT INTO activity VALUES('r1',1,23,'u1','A \xc3\xa9','joined','{}');"
    "INSERT INTO uploads VALUES('up2','u2',NULL,5,24);"
    "INSERT INTO uploads VALUES('up1','u1','r1',9007199254740993,23);";

typedef struct {
    char *text; /* every row as "table obj\n" */
    size_t len;
    int rows;
    int stop_after; /* > 0: answer 99 at that row */
} dump_out_t;

static int collect(void *ud, const char *table, json_t *obj)
{
    dump_out_t *d = ud;
    char *j = json_dumps(obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    size_t add = strlen(table) + strlen(j) + 2;
    d->text = realloc(d->text, d->len + add + 1);
    snprintf(d->text + d->len, add + 1, "%s %s\n", table, j);
    d->len += add;
    free(j);
    d->rows++;
    return d->stop_after > 0 && d->rows == d->stop_after ? 99 : 0;
}

static int dump_db(void *c, dump_out_t *d)
{
    memset(d, 0, sizeof(*d));
    d->text = calloc(1, 1);
    if (store_sqlite_backend.begin(c) != 0) return -1;
    int rc = store_sqlite_backend.dump(c, collect, d);
    store_sqlite_backend.rollback(c);
    return rc;
}

static void test_dump_every_table(void)
{
    char path[512];
    tmp_path(path, sizeof(path), "src");
    void *c = open_db(path);
    ASSERT_TRUE(c != NULL);
    ASSERT_EQ(db_exec(path, populate_sql), 0);
    dump_out_t d;
    ASSERT_EQ(dump_db(c, &d), 0);
    const char *want =
        "users {\"id\":\"u1\",\"email\":\"a@x.org\",\"username\":\"A\",\"color\":\"#ff0000\","
        "\"password_hash\":\"h1\",\"created_at\":1,\"updated_at\":1,\"token_epoch\":0}\n"
        "users {\"id\":\"u2\",\"email\":\"b@x.org\",\"username\":\"B \xc3\xa9\","
        "\"color\":\"#00ff00\",\"password_hash\":\"h2\",\"created_at\":2,\"updated_at\":3,"
        "\"token_epoch\":1}\n"
        "revocations {\"kind\":0,\"id\":\"jti-1\",\"epoch\":0,\"until\":1700000001}\n"
        "revocations {\"kind\":1,\"id\":\"u2\",\"epoch\":1,\"until\":1700000000}\n"
        "audit {\"id\":3,\"at\":4,\"event\":\"register\",\"user_id\":\"u1\",\"ip\":null,"
        "\"detail\":\"ok\",\"count\":1}\n"
        "audit {\"id\":7,\"at\":5,\"event\":\"login\",\"user_id\":null,\"ip\":\"127.0.0.1\","
        "\"detail\":null,\"count\":3}\n"
        "rooms {\"id\":\"r1\",\"code\":\"AAAAAA\",\"name\":\"one\",\"host_id\":\"u1\","
        "\"capacity\":50,\"is_public\":1,\"state\":\"{}\",\"state_version\":0,"
        "\"created_at\":10,\"last_activity\":9007199254740993}\n"
        "rooms {\"id\":\"r2\",\"code\":\"BBBBBB\",\"name\":\"two\",\"host_id\":\"u2\","
        "\"capacity\":10,\"is_public\":0,\"state\":\"{ \\\"k\\\" : [1, 2] }\","
        "\"state_version\":3,\"created_at\":20,\"last_activity\":21}\n"
        "room_participants {\"room_id\":\"r1\",\"user_id\":\"u1\",\"display_name\":\"A\","
        "\"color\":\"#ff0000\",\"role\":1,\"banned\":0,\"joined_at\":10}\n"
        "room_participants {\"room_id\":\"r1\",\"user_id\":\"u2\",\"display_name\":\"B\","
        "\"color\":\"#00ff00\",\"role\":0,\"banned\":1,\"joined_at\":11}\n"
        "room_messages {\"id\":\"m1\",\"room_id\":\"r1\",\"seq\":1,\"user_id\":\"u1\","
        "\"display_name\":\"A\",\"type\":\"text\",\"content\":\"first\","
        "\"metadata\":\"{\\\"a\\\":1,  \\\"b\\\":\\\"\\\\u00e9\\\"}\",\"created_at\":12,"
        "\"app\":0,\"client_id\":\"cid-1\"}\n"
        "room_messages {\"id\":\"m2\",\"room_id\":\"r1\",\"seq\":2,\"user_id\":null,"
        "\"display_name\":\"server\",\"type\":\"system\",\"content\":\"hi \xe2\x9c\x93\","
        "\"metadata\":null,\"created_at\":13,\"app\":1,\"client_id\":null}\n"
        "documents {\"room_id\":\"r1\",\"doc_id\":\"main\",\"version\":2,\"snapshot\":\"ab\","
        "\"updated_at\":14}\n"
        "doc_ops {\"room_id\":\"r1\",\"doc_id\":\"main\",\"version\":1,"
        "\"delta\":\"[\\\"a\\\"]\",\"author\":\"u1\",\"op_id\":\"op-1\",\"created_at\":14}\n"
        "doc_ops {\"room_id\":\"r1\",\"doc_id\":\"main\",\"version\":2,"
        "\"delta\":\"[1,\\\"b\\\"]\",\"author\":\"u2\",\"op_id\":null,\"created_at\":15}\n"
        "entities {\"room_id\":\"r1\",\"id\":\"e9\",\"kind\":\"pin\",\"owner\":\"u1\","
        "\"data\":\"{}\",\"version\":1,\"state_version\":1,\"created_at\":18,"
        "\"updated_at\":18,\"owner_only\":0}\n"
        "entities {\"room_id\":\"r2\",\"id\":\"e1\",\"kind\":\"card\",\"owner\":\"u2\","
        "\"data\":\"{\\\"x\\\": 1}\",\"version\":2,\"state_version\":3,\"created_at\":16,"
        "\"updated_at\":17,\"owner_only\":1}\n"
        "webhook_deliveries {\"seq\":4,\"id\":\"d1\",\"endpoint\":\"app\","
        "\"room_id\":\"r9\",\"type\":\"room.deleted\",\"body\":\"{\\\"a\\\": 1}\","
        "\"state\":0,\"attempts\":2,\"next_at\":30,\"created_at\":19,\"updated_at\":20,"
        "\"last_status\":503,\"last_error\":\"HTTP 503\"}\n"
        "webhook_endpoints {\"id\":\"wh_a\",\"url\":\"https://x.test/h?Ã©\","
        "\"secret\":\"k\",\"events\":\"room.created\",\"created_at\":22}\n"
        "webhook_endpoints {\"id\":\"wh_b\",\"url\":\"http://127.0.0.1:9/h\","
        "\"secret\":\"s3cret\",\"events\":\"*\",\"created_at\":21}\n"
        "activity {\"room_id\":\"r1\",\"seq\":1,\"at\":23,\"user_id\":\"u1\","
        "\"display_name\":\"A \xc3\xa9\",\"kind\":\"joined\",\"data\":\"{}\"}\n"
        "activity {\"room_id\":\"r1\",\"seq\":2,\"at\":24,\"user_id\":\"\","
        "\"display_name\":\"app\",\"kind\":\"messages\",\"data\":\"{\\\"messages\\\": 2}\"}\n"
        "uploads {\"id\":\"up1\",\"owner\":\"u1\",\"room_id\":\"r1\","
        "\"length\":9007199254740993,\"created_at\":23}\n"
        "uploads {\"id\":\"up2\",\"owner\":\"u2\",\"room_id\":null,\"length\":5,"
        "\"created_at\":24}\n";
    ASSERT_EQ(d.rows, 24);
    ASSERT_STREQ(d.text, want);
    free(d.text);

    /* A row callback's non-zero answer stops the dump and is returned. */
    memset(&d, 0, sizeof(d));
    d.text = calloc(1, 1);
    d.stop_after = 3;
    ASSERT_EQ(store_sqlite_backend.begin(c), 0);
    ASSERT_EQ(store_sqlite_backend.dump(c, collect, &d), 99);
    store_sqlite_backend.rollback(c);
    ASSERT_EQ(d.rows, 3);
    free(d.text);
    store_sqlite_backend.close(c);
    test_rm_db(path);
}

typedef struct {
    void *dst;
    int err;
} copy_t;

static int copy_row(void *ud, const char *table, json_t *obj)
{
    copy_t *cp = ud;
    int rc = store_sqlite_backend.load(cp->dst, table, obj);
    if (rc != 0) cp->err = rc;
    return rc;
}

static void test_load_round_trip(void)
{
    char src[512], dst[512];
    tmp_path(src, sizeof(src), "src");
    tmp_path(dst, sizeof(dst), "dst");
    void *a = open_db(src), *b = open_db(dst);
    ASSERT_TRUE(a != NULL && b != NULL);
    ASSERT_EQ(db_exec(src, populate_sql), 0);
    copy_t cp = {b, 0};
    ASSERT_EQ(store_sqlite_backend.begin(a), 0);
    ASSERT_EQ(store_sqlite_backend.begin(b), 0);
    ASSERT_EQ(store_sqlite_backend.dump(a, copy_row, &cp), 0);
    ASSERT_EQ(cp.err, 0);
    ASSERT_EQ(store_sqlite_backend.commit(b), 0);
    store_sqlite_backend.rollback(a);
    dump_out_t da, db;
    ASSERT_EQ(dump_db(a, &da), 0);
    ASSERT_EQ(dump_db(b, &db), 0);
    ASSERT_EQ(db.rows, 24);
    ASSERT_STREQ(db.text, da.text);
    free(da.text);
    free(db.text);
    store_sqlite_backend.close(a);
    store_sqlite_backend.close(b);
    test_rm_db(src);
    test_rm_db(dst);
}

static int load_text(void *c, const char *table, const char *row)
{
    json_t *obj = json_loads(row, 0, NULL);
    if (!obj) return -100;
    int rc = store_sqlite_backend.load(c, table, obj);
    json_decref(obj);
    return rc;
}

static void test_load_refuses(void)
{
    char path[512];
    tmp_path(path, sizeof(path), "bad");
    void *c = open_db(path);
    ASSERT_TRUE(c != NULL);
    ASSERT_EQ(store_sqlite_backend.begin(c), 0);
    const char *room = "{\"id\":\"r1\",\"code\":\"AAAAAA\",\"name\":\"one\",\"host_id\":\"u1\","
                       "\"capacity\":50,\"is_public\":1,\"state\":\"{}\",\"state_version\":0,"
                       "\"created_at\":10,\"last_activity\":10}";
    ASSERT_EQ(load_text(c, "rooms", room), 0);
    ASSERT_EQ(load_text(c, "rooms", room), STORE_EEXISTS);
    ASSERT_EQ(load_text(c, "nope", "{}"), STORE_EIO);
    ASSERT_EQ(load_text(c, "rooms", "[]"), STORE_EIO);
    /* A participant of a missing room. */
    ASSERT_EQ(load_text(c, "room_participants",
                        "{\"room_id\":\"r9\",\"user_id\":\"u1\",\"display_name\":\"A\","
                        "\"color\":\"#ff0000\",\"role\":1,\"banned\":0,\"joined_at\":10}"),
              STORE_ENOTFOUND);
    /* Missing, unknown, wrong type, null where none may be, a real for an integer. */
    ASSERT_EQ(load_text(c, "revocations", "{\"kind\":0,\"id\":\"j\",\"epoch\":0}"), STORE_EIO);
    ASSERT_EQ(load_text(c, "revocations",
                        "{\"kind\":0,\"id\":\"j\",\"epoch\":0,\"until\":1,\"extra\":1}"),
              STORE_EIO);
    ASSERT_EQ(
        load_text(c, "revocations", "{\"kind\":\"0\",\"id\":\"j\",\"epoch\":0,\"until\":1}"),
        STORE_EIO);
    ASSERT_EQ(load_text(c, "revocations", "{\"kind\":0,\"id\":null,\"epoch\":0,\"until\":1}"),
              STORE_EIO);
    ASSERT_EQ(
        load_text(c, "revocations", "{\"kind\":0,\"id\":\"j\",\"epoch\":0.5,\"until\":1}"),
        STORE_EIO);
    ASSERT_EQ(load_text(c, "revocations", "{\"kind\":0,\"id\":\"j\",\"epoch\":0,\"until\":1}"),
              0);
    ASSERT_EQ(store_sqlite_backend.commit(c), 0);
    dump_out_t d;
    ASSERT_EQ(dump_db(c, &d), 0);
    ASSERT_EQ(d.rows, 2);
    free(d.text);
    store_sqlite_backend.close(c);
    test_rm_db(path);
}

/* A value a hand-edited database holds in the wrong type fails the dump (EIO), rather
 * than writing a row that load refuses. */
static void test_dump_refuses_wrong_type(void)
{
    char path[512];
    tmp_path(path, sizeof(path), "type");
    void *c = open_db(path);
    ASSERT_TRUE(c != NULL);
    ASSERT_EQ(db_exec(path, "INSERT INTO revocations VALUES(0,'j',0,X'00ff')"), 0);
    dump_out_t d;
    ASSERT_EQ(dump_db(c, &d), STORE_EIO);
    ASSERT_EQ(d.rows, 0);
    free(d.text);
    store_sqlite_backend.close(c);
    test_rm_db(path);
}

/* An export's output, with a write through another connection (as the running server's)
 * made while the export is between its first and second row. */
typedef struct {
    const char *path;
    char buf[16384];
    size_t len;
    int lines;
    int wrote; /* 1: the other write committed, -1: it failed */
} during_t;

static ssize_t during_write(void *ud, const char *b, size_t n)
{
    during_t *d = ud;
    if (d->len + n < sizeof(d->buf)) {
        memcpy(d->buf + d->len, b, n);
        d->len += n;
        d->buf[d->len] = '\0';
    }
    for (size_t i = 0; i < n; i++)
        d->lines += b[i] == '\n';
    /* The header and the first row are out: the dump is reading. */
    if (d->lines >= 2 && !d->wrote)
        d->wrote = db_exec(d->path, "INSERT INTO room_messages VALUES('m3','r1',3,'u1','A',"
                                    "'text','during the export',NULL,15,0,NULL);"
                                    "UPDATE rooms SET state_version = 4 WHERE id = 'r2'") == 0
                       ? 1
                       : -1;
    return (ssize_t)n;
}

static int count_of(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* chorus export of a running server's database: the dump reads in a WAL read transaction,
 * so another connection's write commits while the export is in progress (instead of
 * waiting for the write lock the export held), and the dump is still the one snapshot of
 * when it began: without that write. */
static void test_export_beside_a_writer(void)
{
    char path[512];
    tmp_path(path, sizeof(path), "during");
    void *c = open_db(path);
    ASSERT_TRUE(c != NULL);
    ASSERT_EQ(db_exec(path, populate_sql), 0);
    during_t d = {.path = path};
    cookie_io_functions_t io = {.write = during_write};
    FILE *out = fopencookie(&d, "w", io);
    ASSERT_TRUE(out != NULL);
    setvbuf(out, NULL, _IONBF, 0); /* each line reaches during_write as it is written */
    char err[256] = "";
    ASSERT_EQ(store_dump_export(&store_sqlite_backend, c, out, err, sizeof(err)), 0);
    fclose(out);
    ASSERT_EQ(d.wrote, 1);
    ASSERT_TRUE(strstr(d.buf, "\"chorus_dump_end\"") != NULL);
    ASSERT_EQ(count_of(d.buf, "\"t\":\"room_messages\""), 2);
    ASSERT_TRUE(strstr(d.buf, "during the export") == NULL);
    ASSERT_TRUE(strstr(d.buf, "\"state_version\":3") != NULL);
    ASSERT_TRUE(strstr(d.buf, "\"state_version\":4") == NULL);
    /* The write is in the database, and the next export has it. */
    during_t d2 = {.path = path, .wrote = 1};
    out = fopencookie(&d2, "w", io);
    ASSERT_TRUE(out != NULL);
    ASSERT_EQ(store_dump_export(&store_sqlite_backend, c, out, err, sizeof(err)), 0);
    fclose(out);
    ASSERT_EQ(count_of(d2.buf, "\"t\":\"room_messages\""), 3);
    store_sqlite_backend.close(c);
    test_rm_db(path);
}

int main(void)
{
    FILE *devnull = fopen("/dev/null", "w");
    log_init(&quiet_log, LOG_ERROR, LOG_TEXT, devnull ? devnull : stderr);
    RUN(test_dump_every_table);
    RUN(test_load_round_trip);
    RUN(test_load_refuses);
    RUN(test_dump_refuses_wrong_type);
    RUN(test_export_beside_a_writer);
    if (devnull) fclose(devnull);
    TEST_MAIN_END();
}
