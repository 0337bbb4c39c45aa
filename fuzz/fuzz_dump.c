/* fuzz_dump.c: libFuzzer target for the lines of a dump (chorus import): the input is one
 * line, parsed as the header and as a row. A row that parses names one of the dump's
 * tables and hands back an object; a header that parses has this chorus's version. */
#include <stdint.h>
#include <string.h>

#include "store/store_dump.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    char err[512];
    err[0] = '\0';
    if (store_dump_parse_header(s, size, err, sizeof(err)) == 0) {
        json_t *h = json_loadb(s, size, 0, NULL);
        if (json_integer_value(json_object_get(h, "chorus_dump")) != STORE_DUMP_VERSION)
            __builtin_trap();
        json_decref(h);
    } else if (!err[0]) {
        __builtin_trap(); /* a refusal always says why */
    }
    const char *table = NULL;
    json_t *row = NULL;
    err[0] = '\0';
    if (store_dump_parse_row(s, size, &table, &row, err, sizeof(err)) == 0) {
        static const char *const tables[] = {STORE_DUMP_TABLES};
        int known = 0;
        for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++)
            known |= table == tables[i] || strcmp(table, tables[i]) == 0;
        if (!known || !json_is_object(row)) __builtin_trap();
        json_decref(row);
    } else if (!err[0] || row) {
        __builtin_trap();
    }
    long long rows = -1;
    if (store_dump_parse_end(s, size, &rows) == 0 && rows < 0) __builtin_trap();
    return 0;
}
