/* fuzz_sio.c: libFuzzer target for the Engine.IO polling payload and packet decoder and
 * the Socket.IO packet decoder, chained as the server chains them. */
#include <stdint.h>
#include <string.h>

#include "util/mem.h"
#include "proto/eio_packet.h"
#include "proto/sio_packet.h"

static void check_sio(const char *buf, size_t len)
{
    sio_packet_t p;
    if (sio_decode(buf, len, &p) != 0) return;
    /* Everything it points at lies inside the input. */
    CH_ASSERT(p.data >= buf && p.data + p.len == buf + len);
    CH_ASSERT(p.nsp_len >= 1 && p.nsp[0] == '/');
    CH_ASSERT(p.type <= SIO_BINARY_ACK);
    CH_ASSERT(p.attachments <= SIO_MAX_ATTACHMENTS);
    CH_ASSERT(!p.has_id || p.id >= 0);
    if (p.type == SIO_EVENT || p.type == SIO_BINARY_EVENT) {
        json_t *args;
        const char *name;
        if (sio_event_args(&p, &args, &name) == 0) {
            CH_ASSERT(json_is_array(args) && name &&
                      strlen(name) == json_string_length(json_array_get(args, 0)));
            json_decref(args);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *buf = (const char *)data;
    size_t off = 0;
    eio_packet_t p;
    int rc;
    while ((rc = eio_payload_next(buf, size, &off, &p)) == 1) {
        CH_ASSERT(off <= size);
        CH_ASSERT(p.data >= buf && p.data + p.len <= buf + size);
        if (p.type == EIO_MESSAGE && !p.binary) check_sio(p.data, p.len);
    }
    CH_ASSERT(rc == 0 || rc == EIO_EBAD);
    /* The same bytes as one WebSocket message. */
    if (eio_decode(buf, size, &p) == 0 && p.type == EIO_MESSAGE && !p.binary)
        check_sio(p.data, p.len);
    return 0;
}
