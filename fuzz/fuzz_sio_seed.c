/* fuzz_sio_seed.c: libFuzzer target for what a seed 003 client sends: the input is a
 * Socket.IO event's JSON array (["room:…", payload]) or a CONNECT auth object with a pid
 * and an offset; it is mapped to its Chorus request and answer (sio_seed.c) and read as a
 * recovery (sio_recover.c). The raw bytes are also read as an offset. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "proto/sio_recover.h"
#include "proto/sio_seed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char room[STORE_ID_LEN], pid[SIO_RECOVER_PID_LEN + 1];
    int64_t seq;
    if (sio_seed_offset_parse((const char *)data, size, room, &seq) == 0) {
        char back[SIO_SEED_OFFSET_LEN];
        /* what parses is written back byte for byte */
        if (sio_seed_offset_format(back, room, seq) != 0) __builtin_trap();
        if (strlen(back) != size || memcmp(back, data, size) != 0) __builtin_trap();
    }
    json_t *v = json_loadb((const char *)data, size, JSON_DECODE_ANY, NULL);
    if (!v) return 0;
    if (sio_recover_asked(v, pid, room, &seq) && strlen(pid) != SIO_RECOVER_PID_LEN)
        __builtin_trap();
    json_t *missed = NULL;
    if (sio_recover_missed(v, 0, &missed) == 0) json_decref(missed);
    const char *name = json_string_value(json_array_get(v, 0));
    if (name) {
        sio_seed_t st = {{0}};
        snprintf(st.room, sizeof(st.room), "r-1");
        json_t *req = NULL;
        const char *code = NULL, *message = NULL;
        int rc = sio_seed_request(&st, name, json_array_get(v, 1), &req, &code, &message);
        if (rc == 0) {
            if (!json_is_string(json_object_get(req, "op"))) __builtin_trap();
            json_t *out[SIO_SEED_MAX_ANSWER];
            size_t n = sio_seed_answer(&st, name, req, json_array_get(v, 2), out);
            if (n > SIO_SEED_MAX_ANSWER) __builtin_trap();
            for (size_t i = 0; i < n; i++)
                json_decref(out[i]);
            json_decref(req);
        } else if (rc == SIO_SEED_EINVALID && (!code || !message)) {
            __builtin_trap();
        }
    }
    json_decref(v);
    return 0;
}
