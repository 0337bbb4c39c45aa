/* proto_docs.c: the document ops over WebSocket, the member's side: doc_open, doc_close,
 * doc_op, doc_ops, doc_presence. Each reads what the frame names (the room, the document)
 * and checks what the connection knows (it joined the room; its open documents and their
 * limit; for doc_op, that it has the document open), then sends the op to the room's home
 * through the bus (proto_rooms_to_home), where home_docs.c decides everything about the
 * room and the document and answers through the route. doc_open subscribes the connection
 * to the document in its answer, before the reply goes; doc_close stays here. */
#include "proto/proto_docs.h"

#include <stdio.h>
#include <stdlib.h>

#include "domain/docs.h"
#include "util/mem.h"
#include "proto/proto_rooms.h"
#include "domain/rooms.h"

static rooms_t *rooms_of(proto_req_t *req)
{
    return req->p->app;
}

/* The joined room and the document id of req (borrowed from its frame, or decoded into
 * buf, STORE_DOC_ID_LEN bytes, from a scanned one), or NULL after replying. */
static room_t *room_and_doc(proto_req_t *req, const char **doc_id, char *buf)
{
    room_t *room = proto_rooms_target(req, 1);
    if (!room) return NULL;
    *doc_id = req->msg ? docs_id_of(json_object_get(req->msg, "doc"))
                       : docs_id_scan(jscan_get(req->scan, "doc"), buf);
    if (!*doc_id) {
        proto_reply_error_field(req, "validation_error", "doc", DOCS_ID_MESSAGE);
        return NULL;
    }
    return room;
}

/* ---------- doc_open ---------- */

/* A doc_open on its way to the home: the reply (pinned until the answer) and what the
 * answer needs to find the document's topic here. */
typedef struct {
    proto_deferred_t d;
    rooms_t *r;
    char room_id[STORE_ID_LEN];
    char doc_id[STORE_DOC_ID_LEN];
} doc_opening_t;

/* bus_reply_fn of doc_open: on success subscribes the connection to the document's topic
 * for the versions above the answered one (the snapshot has the rest), unless it left the
 * room meanwhile, then replies. On the local bus the home answers on its own stack (at
 * once, or from the load's completion), so the document is in memory here and no event
 * can come between the answer and the subscription. A cluster bus must subscribe this
 * process to the document's topic before it sends the op, and drop the events at or
 * below the answered version (what the subscription's since does here). */
static void opened(const bus_route_t *route, const char *code, const char *message,
                   json_t *data)
{
    doc_opening_t *w = route->ud;
    proto_client_t *c = w->d.c;
    if (!code && !c->gone) {
        room_t *room = strmap_get(&w->r->by_id, w->room_id);
        if (!room || !bus_find(c->rcv.subs, room)) {
            /* It left (or was kicked from) the room while the document loaded. */
            json_decref(data);
            data = NULL;
            code = PROTO_FORBIDDEN;
            message = "join the room first";
        } else {
            /* The home answered it loaded: here when the home is this process (on this
             * stack), else a stand-in for its topic. */
            doc_t *d = docs_standin(w->r, room, w->doc_id);
            docs_subscribe(d, &c->rcv, json_integer_value(json_object_get(data, "version")));
        }
    }
    proto_rooms_answer(&w->d, code, message, data);
    free(w);
}

static void op_doc_open(proto_req_t *req)
{
    const char *doc_id;
    char buf[STORE_DOC_ID_LEN];
    room_t *room = room_and_doc(req, &doc_id, buf);
    if (!room) return;
    rooms_t *r = rooms_of(req);
    if (!docs_sub_find(req->c->rcv.doc_subs, room, doc_id)) {
        uint32_t open = bus_count(req->c->rcv.doc_subs);
        if (open >= r->docs.max_open) {
            proto_reply_error(req, "too_many_documents",
                              "this connection has %u documents open (the limit)", open);
            return;
        }
    }
    doc_opening_t *w = ch_calloc(1, sizeof(*w));
    proto_defer(req, &w->d);
    w->r = r;
    snprintf(w->room_id, sizeof(w->room_id), "%s", room->id);
    snprintf(w->doc_id, sizeof(w->doc_id), "%s", doc_id);
    proto_rooms_send_sub(req, room, w->doc_id, opened, w);
}

/* ---------- doc_close ---------- */

/* Ends this connection's subscription, here. What the home must know of it is only when
 * nobody has the document open any more, so that it unloads it: on the local bus the
 * topic is the home's document itself, and docs_unsubscribe unloads it after its last
 * subscriber; a cluster must tell the home when the last subscriber of a process goes. */
static void op_doc_close(proto_req_t *req)
{
    const char *doc_id;
    char buf[STORE_DOC_ID_LEN];
    room_t *room = room_and_doc(req, &doc_id, buf);
    if (!room) return;
    bus_sub_t *s = docs_sub_find(req->c->rcv.doc_subs, room, doc_id);
    if (!s) {
        proto_reply_error(req, "not_found", "this document is not open on this connection");
        return;
    }
    docs_unsubscribe(s);
    proto_reply_ok(req, NULL);
}

/* ---------- doc_op, doc_ops, doc_presence: decided at the home ---------- */

/* doc_op: only for a connection that has the document open. A hot op (PROTO_OP_SCAN):
 * its fields go to the home as the frame's scanned text, no tree built; the home parses
 * the delta alone (home_docs.c). */
static void op_doc_op(proto_req_t *req)
{
    const char *doc_id;
    char buf[STORE_DOC_ID_LEN];
    room_t *room = room_and_doc(req, &doc_id, buf);
    if (!room) return;
    if (!docs_sub_find(req->c->rcv.doc_subs, room, doc_id)) {
        proto_reply_error(req, PROTO_FORBIDDEN, "open the document first (doc_open)");
        return;
    }
    proto_rooms_to_home(req, room);
}

/* doc_ops (the op log) and doc_presence: for a connection that joined the room. */
static void op_doc_home(proto_req_t *req)
{
    const char *doc_id;
    char buf[STORE_DOC_ID_LEN];
    room_t *room = room_and_doc(req, &doc_id, buf);
    if (room) proto_rooms_to_home(req, room);
}

static const proto_op_t doc_ops[] = {
    {"doc_open", op_doc_open, 0},         {"doc_close", op_doc_close, 0},
    {"doc_op", op_doc_op, PROTO_OP_SCAN}, {"doc_ops", op_doc_home, 0},
    {"doc_presence", op_doc_home, 0},
};

void proto_docs_register(proto_t *p)
{
    proto_register(p, doc_ops, CH_ARRAY_LEN(doc_ops));
}
