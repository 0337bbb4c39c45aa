/* test_activity_text.c: an activity row written from its fields (activity_row_text, the
 * `activity` event's payload, with no tree) against the Jansson encoding it replaced
 * (json_dumps of activity_row_json): for a corpus of rows (escapes, control characters,
 * unicode, data of every JSON kind as this process writes it: Jansson's compact encoding,
 * reals included; no data) and for thousands of generated ones, byte for byte the same,
 * and *len its length. */
#include "test.h"

#include <stdlib.h>
#include <string.h>

#include "domain/activity_log.h"
#include "util/mem.h"

#include "gen_text.h"

static int same_as_jansson(const store_act_t *row)
{
    size_t len = 0;
    char *text = activity_row_text(row, &len);
    return gen_same_as_tree(text, len, activity_row_json(row));
}

/* data as the activity log stores it: Jansson's compact encoding of a tree it built. */
static char *data_of(const char *json)
{
    json_t *v = json_loads(json, JSON_DECODE_ANY | JSON_ALLOW_NUL, NULL);
    CH_ASSERT(v != NULL);
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    json_decref(v);
    return s;
}

static void base(store_act_t *row)
{
    memset(row, 0, sizeof(*row));
    row->seq = 12;
    row->at = 1765000000000;
    snprintf(row->user_id, sizeof(row->user_id), "alice");
    snprintf(row->display_name, sizeof(row->display_name), "Alice");
    snprintf(row->kind, sizeof(row->kind), "joined");
}

static void test_corpus(void)
{
    static const char *const names[] = {
        "", "Ada", "say \"hi\"", "back\\slash", "tab\there", "\x01\x1f", "caf\xc3\xa9",
        "\xe2\x80\xa8", "\xf0\x9f\x8e\x89", "a/b", "\x7f",
    };
    static const char *const datas[] = {
        NULL, "{}", "{\"count\":3}", "{\"a\":1.5,\"b\":-0.0,\"c\":1e300,\"d\":0.1}",
        "{\"s\":\"q\\\"\\\\\\n\\u0001\\u0000x\",\"u\":\"\\u00e9\\ud83c\\udf89\"}",
        "{\"n\":null,\"t\":true,\"f\":false,\"arr\":[1,[2,{\"x\":[]}]]}", "[1,2]", "7", "\"s\"",
        "{\"big\":9223372036854775807,\"small\":-9223372036854775808}",
    };
    store_act_t row;
    for (size_t i = 0; i < CH_ARRAY_LEN(names); i++)
        for (size_t k = 0; k < CH_ARRAY_LEN(datas); k++) {
            base(&row);
            snprintf(row.user_id, sizeof(row.user_id), "%s", names[i]);
            snprintf(row.display_name, sizeof(row.display_name), "%s",
                     names[CH_ARRAY_LEN(names) - 1 - i]);
            snprintf(row.kind, sizeof(row.kind), "%s", k % 2 ? "left" : "joined");
            row.data = datas[k] ? data_of(datas[k]) : NULL;
            row.seq = (int64_t)(i * 1000 + k);
            ASSERT_TRUE(same_as_jansson(&row));
            free(row.data);
        }
    base(&row);
    row.seq = INT64_MAX;
    row.at = INT64_MIN;
    ASSERT_TRUE(same_as_jansson(&row));
    row.seq = -1;
    row.at = 0;
    ASSERT_TRUE(same_as_jansson(&row));
}

static void test_generated(void)
{
    unsigned seed = 29;
    store_act_t row;
    for (int i = 0; i < 5000; i++) {
        base(&row);
        gen_text(row.user_id, sizeof(row.user_id), &seed);
        gen_text(row.display_name, sizeof(row.display_name), &seed);
        gen_text(row.kind, sizeof(row.kind), &seed);
        row.seq = gen_int(&seed);
        row.at = gen_int(&seed);
        json_t *d = NULL;
        char s[64];
        gen_text(s, sizeof(s), &seed);
        switch (rand_r(&seed) % 4) {
        case 0: break;
        case 1: d = json_pack("{s:s, s:I}", "target", s, "count", (json_int_t)gen_int(&seed)); break;
        case 2: d = json_pack("{s:f, s:[s]}", "r", (double)gen_int(&seed) / 7.0, "a", s); break;
        default: d = json_pack("{s:{s:b, s:n}}", s, "x", 1, "y");
        }
        row.data = d ? json_dumps(d, JSON_COMPACT) : NULL;
        json_decref(d);
        if (!same_as_jansson(&row)) {
            fprintf(stderr, "  generated row %d\n", i);
            ASSERT_TRUE(0);
        }
        free(row.data);
    }
}

int main(void)
{
    RUN(test_corpus);
    RUN(test_generated);
    TEST_MAIN_END();
}
