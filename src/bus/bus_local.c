/* bus_local.c: the bus of a single process (see bus.h). Every room lives here, so an
 * event goes only to this process's subscribers and an operation is a direct call. */
#include <string.h>

#include "bus/bus.h"
#include "util/mem.h"

/* 1 when ev skips subscriber s of b. */
static int skips(const bus_t *b, const bus_event_t *ev, const bus_sub_t *s)
{
    const bus_rcv_t *r = s->rcv;
    if (ev->to && r->id != ev->to) return 1;
    if (ev->except && r->id == ev->except) return 1;
    if (ev->version && ((const bus_vsub_t *)s)->since >= ev->version) return 1;
    if (ev->to_user && strcmp(bus_rcv_user(b, r), ev->to_user) != 0) return 1;
    return ev->except_user && strcmp(bus_rcv_user(b, r), ev->except_user) == 0;
}

/* Hands ev to subscriber s (framed on the first receiver of its kind, into frames). */
static void deliver_one(bus_t *b, const bus_event_t *ev, bus_sub_t *s,
                        cbuf_t *frames[BUS_FRAME_KINDS])
{
    const bus_rcv_ops_t *ops = b->rcv_ops;
    unsigned kind = ops->kind ? ops->kind(s->rcv) : 0;
    CH_ASSERT(kind < BUS_FRAME_KINDS);
    if (!frames[kind]) {
        frames[kind] = kind ? ops->frame_as(ev, s->rcv) : ops->frame(ev);
        b->framed++;
    }
    ops->deliver(s->rcv, frames[kind]);
    b->delivered++;
}

/* A watchers event: only the subscribers the domain's index names (bus_on_watchers), so a
 * large room's presence change costs its watchers here, not the room's connections. */
static uint32_t deliver_watchers(bus_t *b, bus_topic_t *t, const bus_event_t *ev)
{
    size_t n = 0;
    bus_sub_t *const *list = b->watchers && ev->except_user && ev->name
                                 ? b->watchers(b->watchers_ud, t, ev->except_user, &n)
                                 : NULL;
    cbuf_t *frames[BUS_FRAME_KINDS] = {NULL};
    uint32_t got = 0;
    for (size_t i = 0; i < n; i++) {
        if (skips(b, ev, list[i])) continue;
        deliver_one(b, ev, list[i], frames);
        got++;
    }
    for (unsigned k = 0; k < BUS_FRAME_KINDS; k++)
        cbuf_unref(frames[k]);
    return got;
}

/* Framed on the first receiver of each kind, so a topic nobody here receives costs no
 * encoding; then the same buffer goes to every receiver of that kind. An unsubscribe
 * event drops each receiver after its frame (the drop function unlinks it, so the next one
 * is read first). */
uint32_t bus_local_deliver(bus_t *b, bus_topic_t *t, const bus_event_t *ev)
{
    if (ev->watchers) return deliver_watchers(b, t, ev);
    cbuf_t *frames[BUS_FRAME_KINDS] = {NULL};
    uint32_t n = 0;
    for (bus_sub_t *s = t->head, *next; s; s = next) {
        next = s->next;
        if (skips(b, ev, s)) continue;
        if (ev->name) deliver_one(b, ev, s, frames);
        n++;
        if (ev->unsubscribe) {
            CH_ASSERT(b->drop != NULL);
            b->drop(b->drop_ud, t, s);
        }
        if (ev->to) break; /* its one receiver */
    }
    for (unsigned k = 0; k < BUS_FRAME_KINDS; k++)
        cbuf_unref(frames[k]);
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
    .publish = bus_local_deliver,
    .send_op = local_send_op,
    .free = local_free,
};

bus_t *bus_local_new(uint32_t node, const bus_rcv_ops_t *rcv_ops)
{
    CH_ASSERT(node <= BUS_NODE_MAX);
    bus_t *b = ch_calloc(1, sizeof(*b));
    b->vt = &local_vt;
    b->rcv_ops = rcv_ops;
    b->node = node;
    return b;
}
