/* fake_bus.h: a recording bus for the domain's unit tests: every published event is kept
 * as the bus was handed it (topic, name, payload decoded into one object, seq, whom it
 * skips or is addressed to, whether it unsubscribes), nothing is delivered, and an
 * unsubscribe event drops the subscriptions it reaches as a process's bus does; operations
 * go to the handler the home registered, on the caller's stack, as on the local bus. Use it
 * as the rooms fixture's bus: #define ROOMS_FX_BUS_T fbus_t before including
 * rooms_fixture.h, and start with rooms_fx_start(f, &fb_new(node)->base). Static
 * functions only: each test file is its own program. */
#ifndef CHORUS_TEST_FAKE_BUS_H
#define CHORUS_TEST_FAKE_BUS_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "bus/bus.h"
#include "proto/proto.h"
#include "store/store.h"
#include "test_jpart.h"
#include "util/mem.h"

/* One published event as the bus was handed it. */
typedef struct {
    char topic[STORE_ID_LEN];
    char name[32];
    json_t *payload; /* the members of the parts, decoded (owned) */
    int text_parts;  /* parts handed as encoded text (a member's kept encoding) */
    int64_t seq;
    bus_member_t except, to;
    char except_user[STORE_SUB_LEN];
    char to_user[STORE_SUB_LEN];
    int unsubscribe;
} rec_t;

typedef struct {
    bus_t base;
    rec_t recs[64];
    size_t n;
} fbus_t;

/* Records ev; an unsubscribe event also drops the subscriptions here that it reaches
 * (every one, or its user's), as a process's bus does. */
static inline uint32_t fb_publish(bus_t *b, bus_topic_t *t, const bus_event_t *ev)
{
    fbus_t *fb = (fbus_t *)b;
    CH_ASSERT(fb->n < CH_ARRAY_LEN(fb->recs));
    rec_t *r = &fb->recs[fb->n++];
    memset(r, 0, sizeof(*r));
    snprintf(r->topic, sizeof(r->topic), "%s", ev->room);
    snprintf(r->name, sizeof(r->name), "%s", ev->name ? ev->name : "");
    if (ev->to_user) snprintf(r->to_user, sizeof(r->to_user), "%s", ev->to_user);
    r->unsubscribe = ev->unsubscribe;
    for (bus_sub_t *s = t->head, *next; ev->unsubscribe && s; s = next) {
        next = s->next;
        if (!ev->to_user || strcmp(bus_rcv_user(b, s->rcv), ev->to_user) == 0)
            b->drop(b->drop_ud, t, s);
    }
    r->payload = json_object();
    r->text_parts = test_jpart_add(r->payload, ev->parts, ev->nparts);
    r->seq = ev->seq;
    r->except = ev->except;
    r->to = ev->to;
    if (ev->except_user)
        snprintf(r->except_user, sizeof(r->except_user), "%s", ev->except_user);
    return 0; /* nobody received it here: the bus only records */
}

/* Operations are answered by the handler the rooms registered, as on the local bus. */
static inline int fb_send_op(bus_t *b, const bus_op_t *op)
{
    if (!b->serve) return -1;
    b->serve(b->serve_ud, op);
    return 0;
}

static inline void fb_clear(fbus_t *fb)
{
    for (size_t i = 0; i < fb->n; i++)
        json_decref(fb->recs[i].payload);
    fb->n = 0;
}

static inline void fb_free(bus_t *b)
{
    fb_clear((fbus_t *)b);
    free(b);
}

static const bus_vtable_t fb_vt = {
    .publish = fb_publish, .send_op = fb_send_op, .free = fb_free};

/* A new recording bus (freed by bus_free) of node id node, whose receivers are protocol
 * clients (proto_bus_rcv_ops). */
static inline fbus_t *fb_new(uint32_t node)
{
    fbus_t *fb = ch_calloc(1, sizeof(*fb));
    fb->base.vt = &fb_vt;
    fb->base.rcv_ops = &proto_bus_rcv_ops;
    fb->base.node = node;
    return fb;
}

/* The first event named name from index from on, or NULL. */
static inline rec_t *fb_find(fbus_t *fb, size_t from, const char *name)
{
    for (size_t i = from; i < fb->n; i++)
        if (strcmp(fb->recs[i].name, name) == 0) return &fb->recs[i];
    return NULL;
}

/* The last recorded event named name, or NULL. */
static inline rec_t *fb_last(fbus_t *fb, const char *name)
{
    for (size_t i = fb->n; i-- > 0;)
        if (strcmp(fb->recs[i].name, name) == 0) return &fb->recs[i];
    return NULL;
}

/* How many recorded events are named name. */
static inline int fb_count(fbus_t *fb, const char *name)
{
    int n = 0;
    for (size_t i = 0; i < fb->n; i++)
        n += strcmp(fb->recs[i].name, name) == 0;
    return n;
}

#endif
