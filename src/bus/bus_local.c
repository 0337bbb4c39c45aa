/* bus_local.c: the bus of a single process (see bus.h). Every room lives here, so an
 * event goes only to this process's subscribers and an operation is a direct call. */
#include <string.h>

#include "bus/bus.h"
#include "util/mem.h"

/* Payload parts one event may have. */
#define BUS_LOCAL_MAX_PARTS 6

/* 1 when ev skips subscriber s. */
static int skips(const bus_event_t *ev, const bus_sub_t *s)
{
    const proto_client_t *c = s->client;
    if (ev->to && c->id != ev->to) return 1;
    if (ev->except && c->id == ev->except) return 1;
    if (ev->version && s->since >= ev->version) return 1;
    if (ev->to_user && strcmp(c->user.sub, ev->to_user) != 0) return 1;
    return ev->except_user && strcmp(c->user.sub, ev->except_user) == 0;
}

/* Writes s as a JSON string into out (n bytes) when it needs no escaping (letters,
 * digits, _ and -, as op names and room ids are): the bytes jansson would write. Returns
 * 0, or -1 when s is anything else or does not fit. */
static int quote_plain(char *out, size_t n, const char *s)
{
    size_t len = strlen(s);
    if (len + 3 > n) return -1;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return -1;
    }
    out[0] = '"';
    memcpy(out + 1, s, len);
    out[len + 1] = '"';
    out[len + 2] = 0;
    return 0;
}

/* The event's frame: its name and room, then its payload. */
static cbuf_t *frame_of(const bus_event_t *ev)
{
    CH_ASSERT(ev->nparts <= BUS_LOCAL_MAX_PARTS);
    proto_part_t parts[BUS_LOCAL_MAX_PARTS + 2];
    char name[64], room[64];
    json_t *head = NULL;
    size_t k = 0;
    if (quote_plain(name, sizeof(name), ev->name) == 0 &&
        quote_plain(room, sizeof(room), ev->room) == 0) {
        parts[k++] = (proto_part_t){.key = "op", .text = name};
        parts[k++] = (proto_part_t){.key = "room", .text = room};
    } else {
        head = json_pack("{s:s, s:s}", "op", ev->name, "room", ev->room);
        CH_ASSERT(head != NULL);
        parts[k++] = (proto_part_t){.obj = head};
    }
    for (size_t i = 0; i < ev->nparts; i++) parts[k++] = ev->parts[i];
    cbuf_t *frame = proto_frame_parts(parts, k);
    json_decref(head);
    return frame;
}

/* Framed on the first receiver, so a topic nobody here receives costs no encoding; then
 * the same buffer goes to every receiver. An unsubscribe event drops each receiver after
 * its frame (the drop function unlinks it, so the next one is read first). */
static uint32_t local_publish(bus_t *b, bus_topic_t *t, const bus_event_t *ev)
{
    cbuf_t *frame = NULL;
    uint32_t n = 0;
    for (bus_sub_t *s = t->head, *next; s; s = next) {
        next = s->next;
        if (skips(ev, s)) continue;
        if (ev->name) {
            if (!frame) {
                frame = frame_of(ev);
                b->framed++;
            }
            s->client->tr->send(s->client, frame);
        }
        n++;
        if (ev->unsubscribe) {
            CH_ASSERT(b->drop != NULL);
            b->drop(b->drop_ud, t, s);
        }
        if (ev->to) break; /* its one receiver */
    }
    if (frame) cbuf_unref(frame);
    return n;
}

/* Every room is at home here: the handler runs now, on the caller's stack. */
static int local_send_op(bus_t *b, const bus_op_t *op)
{
    if (!b->serve) return -1;
    b->serve(b->serve_ud, op);
    return 0;
}

static void local_free(bus_t *b)
{
    free(b);
}

static const bus_vtable_t local_vt = {
    .publish = local_publish,
    .send_op = local_send_op,
    .free = local_free,
};

bus_t *bus_local_new(uint32_t node)
{
    CH_ASSERT(node <= BUS_NODE_MAX);
    bus_t *b = ch_calloc(1, sizeof(*b));
    b->vt = &local_vt;
    b->node = node;
    return b;
}
