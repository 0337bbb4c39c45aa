/* fuzz_bus_wire.c: libFuzzer target for the cluster bus's messages (bus_wire.c), which a
 * node reads from Redis: any bytes read as an event, an op and a reply must be refused or
 * give fields inside the message, and an accepted event or reply written again must read
 * back the same. */
#include <stdint.h>
#include <string.h>

#include "bus/bus_wire.h"
#include "util/mem.h"

static int inside(const char *s, const char *p, size_t size)
{
    return !s || (s >= p && s + strlen(s) < p + size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A copy of exactly size bytes, so ASan sees any read past the end. */
    char *p = ch_malloc(size ? size : 1);
    memcpy(p, data, size);
    int kind = bus_wire_kind(p, size);
    CH_ASSERT(kind == 0 || kind == 'E' || kind == 'O' || kind == 'R');
    bus_wire_event_t ev;
    if (bus_wire_event_read(p, size, &ev) == 0) {
        CH_ASSERT(kind == 'E' && ev.room && inside(ev.room, p, size));
        CH_ASSERT(ev.nparts <= BUS_WIRE_MAX_PARTS);
        bus_event_t e = {.room = ev.room,
                         .doc = ev.doc,
                         .name = ev.name,
                         .parts = ev.parts,
                         .nparts = ev.nparts,
                         .seq = ev.seq,
                         .version = ev.version,
                         .except = ev.except,
                         .to = ev.to,
                         .except_user = ev.except_user,
                         .to_user = ev.to_user,
                         .unsubscribe = ev.unsubscribe,
                         .watchers = ev.watchers};
        cbuf_t *b = NULL;
        CH_ASSERT(bus_wire_event_write(&e, &b) == 0);
        CH_ASSERT(b->len == size && memcmp(b->data + b->off, p, size) == 0);
        cbuf_unref(b);
    }
    bus_wire_op_t op;
    if (bus_wire_op_read(p, size, &op) == 0) {
        CH_ASSERT(kind == 'O' && inside(op.room, p, size) && inside(op.name, p, size) &&
                  inside(op.user, p, size) && inside(op.args, p, size));
        CH_ASSERT(!op.args || strlen(op.args) == op.args_len);
    }
    bus_wire_reply_t r;
    if (bus_wire_reply_read(p, size, &r) == 0) {
        CH_ASSERT(kind == 'R' && inside(r.code, p, size) && inside(r.message, p, size) &&
                  inside(r.data, p, size));
        CH_ASSERT(r.nparts <= BUS_WIRE_MAX_PARTS && (!r.code) == (!r.message));
        if (r.is_parts) {
            cbuf_t *b = NULL;
            CH_ASSERT(bus_wire_reply_parts_write(r.request, r.parts, r.nparts, &b) == 0);
            CH_ASSERT(b->len == size && memcmp(b->data + b->off, p, size) == 0);
            cbuf_unref(b);
        }
    }
    free(p);
    return 0;
}
