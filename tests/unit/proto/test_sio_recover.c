/* test_sio_recover.c: connection state recovery, the pure part (sio_recover.c). */
#include "test.h"

#include "proto/sio_recover.h"

#define PID "0123456789abcdef0123456789abcdef"

/* Returns what sio_recover_asked reads from the auth text: "room seq" or "-". */
static const char *asked(const char *auth)
{
    static char out[128];
    json_t *a = auth ? json_loads(auth, 0, NULL) : NULL;
    char pid[SIO_RECOVER_PID_LEN + 1], room[STORE_ID_LEN];
    int64_t seq = -1;
    int rc = sio_recover_asked(a, pid, room, &seq);
    json_decref(a);
    if (!rc) return "-";
    snprintf(out, sizeof(out), "%s %s %lld", pid, room, (long long)seq);
    return out;
}

static void test_asked(void)
{
    ASSERT_STREQ(asked("{\"token\":\"t\",\"pid\":\"" PID "\",\"offset\":\"r-1:42\"}"),
                 PID " r-1 42");
    ASSERT_STREQ(asked(NULL), "-");
    ASSERT_STREQ(asked("{\"token\":\"t\"}"), "-");     /* first connect */
    ASSERT_STREQ(asked("{\"pid\":\"" PID "\"}"), "-"); /* no offset yet */
    ASSERT_STREQ(asked("{\"pid\":\"" PID "\",\"offset\":7}"), "-");
    ASSERT_STREQ(asked("{\"pid\":\"" PID "\",\"offset\":\"r:x\"}"), "-");
    ASSERT_STREQ(asked("{\"pid\":\"" PID "0\",\"offset\":\"r:1\"}"), "-"); /* 33 digits */
    ASSERT_STREQ(asked("{\"pid\":\"0123456789ABCDEF0123456789abcdef\",\"offset\":\"r:1\"}"),
                 "-");
    ASSERT_STREQ(asked("{\"pid\":\"0123456789abcdef\\u00003456789abcdef\",\"offset\":\"r:1\"}"),
                 "-");
}

/* Returns the seqs sio_recover_missed gives from data (text) after seq, or "-". */
static const char *missed(const char *data, int64_t seq)
{
    static char out[256];
    json_t *d = json_loads(data, 0, NULL), *m = NULL;
    int rc = sio_recover_missed(d, seq, &m);
    json_decref(d);
    if (rc) return "-";
    out[0] = 0;
    size_t i;
    json_t *v;
    json_array_foreach(m, i, v)
    {
        char s[32];
        snprintf(s, sizeof(s), "%s%lld", i ? "," : "",
                 (long long)json_integer_value(json_object_get(v, "seq")));
        strcat(out, s);
    }
    json_decref(m);
    return out;
}

static void test_missed(void)
{
    const char *d = "{\"lastSeq\":12,\"messages\":[{\"seq\":10},{\"seq\":11},{\"seq\":12}]}";
    ASSERT_STREQ(missed(d, 12), "");      /* nothing missed */
    ASSERT_STREQ(missed(d, 10), "11,12"); /* once, in order */
    ASSERT_STREQ(missed(d, 9), "10,11,12");
    ASSERT_STREQ(missed(d, 8), "-");  /* 9 is not in the snapshot: more than it holds */
    ASSERT_STREQ(missed(d, 13), "-"); /* an offset past the room's last message */
    ASSERT_STREQ(missed("{\"lastSeq\":0,\"messages\":[]}", 0), "");
    ASSERT_STREQ(missed("{\"lastSeq\":3,\"messages\":[]}", 1), "-");
    ASSERT_STREQ(missed("{\"lastSeq\":3,\"messages\":[{\"seq\":2},{\"seq\":3}]}", 1), "2,3");
    /* a snapshot that is not what a join answers */
    ASSERT_STREQ(missed("{\"messages\":[]}", 0), "-");
    ASSERT_STREQ(missed("{\"lastSeq\":2,\"messages\":[{\"seq\":2},{\"seq\":1}]}", 0), "-");
}

int main(void)
{
    RUN(test_asked);
    RUN(test_missed);
    TEST_MAIN_END();
}
