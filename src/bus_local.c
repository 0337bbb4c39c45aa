/* bus_local.c: the bus of a single process (see bus.h). Every room lives here, so an
 * event goes only to this process's subscribers and an operation is a direct call. */
#include <string.h>

#include "bus.h"
#include "mem.h"

/* 1 when ev skips subscriber s. */
static int skips(const bus_event_t *ev, const bus_sub_t *s)
{
    const proto_client_t *c = s->client;
    if (ev->except && c->id == ev->except) return 1;
    if (ev->version && s->since >= ev->version) return 1;
    return ev->except_user && strcmp(c->user.sub, ev->except_user) == 0;
}

/* The event's frame: its name and room, then its payload. */
static cbuf_t *frame_of(const bus_event_t *ev)
{
    json_t *head = json_pack("{s:s, s:s}", "op", ev->name, "room", ev->room);
    CH_ASSERT(head != NULL && ev->nparts < 8);
    proto_part_t parts[9];
    parts[0] = (proto_part_t){.obj = head};
    for (size_t i = 0; i < ev->nparts; i++) parts[i + 1] = ev->parts[i];
    cbuf_t *frame = proto_frame_parts(parts, ev->nparts + 1);
    json_decref(head);
    return frame;
}

/* Framed on the first receiver, so a topic nobody here receives costs no encoding; then
 * the same buffer goes to every receiver. */
static uint32_t local_publish(bus_t *b, bus_topic_t *t, const bus_event_t *ev)
{
    cbuf_t *frame = NULL;
    uint32_t n = 0;
    for (bus_sub_t *s = t->head; s; s = s->next) {
        if (skips(ev, s)) continue;
        if (!frame) {
            frame = frame_of(ev);
            b->framed++;
        }
        s->client->tr->send(s->client, frame);
        n++;
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
