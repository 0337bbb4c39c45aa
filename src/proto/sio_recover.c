/* sio_recover.c: Socket.IO connection state recovery, the pure part (sio_recover.h). */
#include "proto/sio_recover.h"

#include <string.h>

#include "proto/sio_seed.h"

int sio_recover_asked(const json_t *auth, char pid[SIO_RECOVER_PID_LEN + 1],
                      char room[STORE_ID_LEN], int64_t *seq)
{
    json_t *p = json_object_get(auth, "pid"), *o = json_object_get(auth, "offset");
    if (!json_is_string(p) || !json_is_string(o)) return 0;
    const char *ps = json_string_value(p);
    if (json_string_length(p) != SIO_RECOVER_PID_LEN) return 0;
    for (size_t i = 0; i < SIO_RECOVER_PID_LEN; i++)
        if (!((ps[i] >= '0' && ps[i] <= '9') || (ps[i] >= 'a' && ps[i] <= 'f'))) return 0;
    if (sio_seed_offset_parse(json_string_value(o), json_string_length(o), room, seq) != 0)
        return 0;
    memcpy(pid, ps, SIO_RECOVER_PID_LEN + 1);
    return 1;
}

static int64_t seq_of(const json_t *m)
{
    json_t *s = json_object_get(m, "seq");
    return json_is_integer(s) ? (int64_t)json_integer_value(s) : -1;
}

int sio_recover_missed(const json_t *data, int64_t seq, json_t **missed)
{
    json_t *last = json_object_get(data, "lastSeq");
    json_t *msgs = json_object_get(data, "messages");
    if (!json_is_integer(last) || !json_is_array(msgs)) return -1;
    int64_t lastSeq = (int64_t)json_integer_value(last);
    if (seq > lastSeq) return -1;
    /* Seqs are gapless: the missed ones are seq + 1 .. lastSeq, all of which must be in the
     * snapshot, ascending (retention deletes only older ones). */
    json_t *out = json_array();
    int64_t want = seq + 1;
    size_t i;
    json_t *m;
    json_array_foreach(msgs, i, m)
    {
        int64_t s = seq_of(m);
        if (s <= seq) continue;
        if (s != want) break;
        json_array_append(out, m);
        want++;
    }
    if (want != lastSeq + 1) {
        json_decref(out);
        return -1;
    }
    *missed = out;
    return 0;
}
