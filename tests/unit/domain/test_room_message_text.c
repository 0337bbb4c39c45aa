/* test_room_message_text.c: a stored message written from its fields (room_message_text,
 * rooms.c: the message's answer, event and join-cache text, with no tree) against the
 * Jansson encoding it replaced (json_dumps of room_message_json): for a corpus of messages
 * (unicode, every escape, control characters, metadata of every JSON kind, a user's, a
 * server's and an app's message, clientId present or absent, large seqs and times) and
 * for thousands of generated ones, both parse to the same JSON, and since the stored
 * metadata is Jansson's own encoding, the bytes are the same too. */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "domain/rooms.h"
#include "util/mem.h"

/* Checks one message: the same JSON, the same bytes, and *len the text's length. */
static int same_as_jansson(const store_message_t *m)
{
    size_t len = 0;
    char *text = room_message_text(m, &len);
    json_t *tree = room_message_json(m);
    char *old = json_dumps(tree, JSON_COMPACT);
    json_t *a = json_loads(text, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, NULL);
    json_t *b = json_loads(old, JSON_ALLOW_NUL | JSON_REJECT_DUPLICATES, NULL);
    int ok = a && b && json_equal(a, b) && len == strlen(text) && strcmp(text, old) == 0;
    if (!ok) fprintf(stderr, "  new: %s\n  old: %s\n", text, old);
    json_decref(a);
    json_decref(b);
    free(old);
    json_decref(tree);
    free(text);
    return ok;
}

static void base(store_message_t *m)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->id, sizeof(m->id), "0b7c1f0e-8d2a-4b7e-9a51-3c2f5e6d7a8b");
    snprintf(m->room_id, sizeof(m->room_id), "r_4f9a2c");
    m->seq = 1;
    snprintf(m->user_id, sizeof(m->user_id), "alice");
    snprintf(m->display_name, sizeof(m->display_name), "Alice");
    snprintf(m->type, sizeof(m->type), "user_text");
    m->created_at = 1765000000000;
}

/* Metadata as a post stores it: Jansson's compact encoding of what the client sent. */
static char *meta_of(const char *json)
{
    json_t *v = json_loads(json, JSON_ALLOW_NUL, NULL);
    CH_ASSERT(v != NULL);
    char *s = json_dumps(v, JSON_COMPACT);
    json_decref(v);
    return s;
}

static void test_corpus(void)
{
    static const char *const contents[] = {
        "",
        "hello",
        "quote \" backslash \\ slash / done",
        "\b\f\n\r\t",
        "\x01\x02\x1f\x7f",
        "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xe4\xb8\xad\xe6\x96\x87",
        "\xe2\x80\xa8\xe2\x80\xa9 line separators",
        "</script><!-- & ' -->",
        "{\"not\":\"json\"}",
    };
    static const char *const metas[] = {
        NULL,
        "{}",
        "{\"a\":1}",
        "{\"n\":-0.5,\"e\":1e300,\"i\":-9223372036854775807,\"b\":true,\"z\":null}",
        "{\"s\":\"\\u0000nul\\u001f\\\"\\\\\",\"u\":\"\\u00e9\\ud83d\\ude00\"}",
        "{\"nested\":{\"list\":[1,[2,{\"x\":[]}],\"t\"],\"o\":{}},\"replyTo\":17}",
        "{\"threadId\":\"t1\",\"parentSeq\":42,\"mentions\":[\"bob\",\"cy\"]}",
        "{\"z\":1,\"a\":2,\"m\":3}",
    };
    store_message_t m;
    int n = 0;
    for (size_t c = 0; c < CH_ARRAY_LEN(contents); c++) {
        for (size_t k = 0; k < CH_ARRAY_LEN(metas); k++) {
            for (int variant = 0; variant < 4; variant++) {
                base(&m);
                m.content = (char *)contents[c];
                m.metadata = metas[k] ? meta_of(metas[k]) : NULL;
                m.seq = (int64_t)(c * 100 + k * 10 + (size_t)variant);
                if (variant == 1) { /* with the sender's client id */
                    snprintf(m.client_id, sizeof(m.client_id), "cid_%zu-%zu", c, k);
                } else if (variant == 2) { /* the server's own */
                    m.user_id[0] = '\0';
                    snprintf(m.display_name, sizeof(m.display_name), "system");
                    snprintf(m.type, sizeof(m.type), "system");
                } else if (variant == 3) { /* an app backend's */
                    m.user_id[0] = '\0';
                    m.app = 1;
                    snprintf(m.display_name, sizeof(m.display_name), "Bot \"\xc3\xa9\"\n");
                    snprintf(m.type, sizeof(m.type), "x-card");
                    m.seq = INT64_MAX;
                    m.created_at = 0;
                }
                ASSERT_TRUE(same_as_jansson(&m));
                free(m.metadata);
                n++;
            }
        }
    }
    /* A NULL content is written as Jansson's path wrote it: "". */
    base(&m);
    ASSERT_TRUE(same_as_jansson(&m));
    /* Names and user ids that need escaping. */
    base(&m);
    snprintf(m.user_id, sizeof(m.user_id), "auth0|\"x\"\\y\t");
    snprintf(m.display_name, sizeof(m.display_name), "\xf0\x9f\x8e\x89 \x1b[0m");
    m.content = "x";
    ASSERT_TRUE(same_as_jansson(&m));
    ASSERT_EQ(n, (int)(CH_ARRAY_LEN(contents) * CH_ARRAY_LEN(metas) * 4));
}

/* xorshift64*: a fixed sequence, so a failure is the same on every run. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/* Appends one character of a mix that needs every kind of escaping or none. */
static size_t put_char(char *p, uint64_t *s)
{
    static const char *const pieces[] = {"a", "Z", "0", " ", "\"", "\\", "/", "\n", "\t",
                                         "\x01", "\x1f", "\x7f", "\xc3\xa9", "\xe2\x82\xac",
                                         "\xf0\x9f\x98\x80", "\xe2\x80\xa8", "{", "}", ","};
    const char *c = pieces[rnd(s) % CH_ARRAY_LEN(pieces)];
    size_t n = strlen(c);
    memcpy(p, c, n);
    return n;
}

/* A random JSON value of at most depth levels (a tree Jansson then encodes). */
static json_t *rnd_value(uint64_t *s, int depth)
{
    char buf[64];
    size_t n = 0;
    switch (rnd(s) % (depth > 0 ? 8 : 6)) {
    case 0: return json_null();
    case 1: return json_boolean(rnd(s) & 1);
    case 2: return json_integer((json_int_t)(rnd(s) >> (rnd(s) % 64)) * (rnd(s) & 1 ? 1 : -1));
    case 3: return json_real((double)(int64_t)rnd(s) / (double)(1 + rnd(s) % 1000000));
    case 4:
    case 5:
        for (size_t i = rnd(s) % 8; i > 0; i--)
            n += put_char(buf + n, s);
        return json_stringn(buf, n);
    case 6: {
        json_t *a = json_array();
        for (size_t i = rnd(s) % 4; i > 0; i--)
            json_array_append_new(a, rnd_value(s, depth - 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (size_t i = rnd(s) % 4; i > 0; i--) {
            n = 0;
            for (size_t j = 1 + rnd(s) % 5; j > 0; j--)
                n += put_char(buf + n, s);
            buf[n] = '\0';
            if (strlen(buf) != n) continue;
            json_object_setn_new(o, buf, n, rnd_value(s, depth - 1));
        }
        return o;
    }
    }
}

static void test_generated(void)
{
    uint64_t s = 0x9e3779b97f4a7c15ull;
    char content[512], name[STORE_NAME_LEN];
    for (int i = 0; i < 5000; i++) {
        store_message_t m;
        base(&m);
        size_t n = 0;
        for (size_t k = rnd(&s) % 100; k > 0; k--)
            n += put_char(content + n, &s);
        content[n] = '\0';
        m.content = content;
        n = 0;
        for (size_t k = rnd(&s) % 20; k > 0; k--)
            n += put_char(name + n, &s);
        name[n] = '\0';
        memcpy(m.display_name, name, n + 1);
        m.seq = (int64_t)(rnd(&s) >> (rnd(&s) % 63));
        m.created_at = (int64_t)(rnd(&s) >> 20);
        if (rnd(&s) % 3 == 0) m.user_id[0] = '\0';
        m.app = m.user_id[0] == '\0' && rnd(&s) % 2;
        if (rnd(&s) % 2) snprintf(m.client_id, sizeof(m.client_id), "c-%d", i);
        json_t *meta = NULL;
        if (rnd(&s) % 4) {
            meta = json_object();
            json_object_set_new(meta, "k", rnd_value(&s, 3));
            json_object_set_new(meta, "more", rnd_value(&s, 3));
        }
        m.metadata = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
        json_decref(meta);
        int ok = same_as_jansson(&m);
        free(m.metadata);
        if (!ok) {
            fprintf(stderr, "  generated message %d differs\n", i);
            ASSERT_TRUE(ok);
        }
    }
}

int main(void)
{
    RUN(test_corpus);
    RUN(test_generated);
    TEST_MAIN_END();
}
