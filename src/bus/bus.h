/* bus.h: how a room reaches its members, wherever their connections are.
 *
 * A room has one home: the process whose memory holds it (its members, seq, state
 * version, documents, entities). Its members' connections may be on any process. The bus
 * joins the two, with two sides:
 *
 * - Events, from a room's home to every process that has members of it. An event is a
 *   topic (the room's id; for a document, the room's id and the document's id), a name
 *   (the frame's "op"), a JSON payload (the frame's members after "op" and "room", as
 *   jpart_t, so text already encoded, such as a member's kept encoding, is copied and
 *   not encoded again), the room's seq or stateVersion when the event carries one, and
 *   whom to skip: the origin connection, every connection of one user (presence), and for
 *   a document the subscribers that opened it at or after the event's version; or the one
 *   connection it is for, or the connections of the one user it is for (a member being
 *   removed). An event may also end the subscriptions it reaches (unsubscribe: a member
 *   left, was kicked, the room was deleted): each process drops its own receivers' after
 *   delivering the frame, if any, through the drop function the domain gave the bus
 *   (bus_on_drop), so the home never walks another process's subscriber list. The domain
 *   hands the bus an event; it never builds the frame. The bus frames it once per
 *   receiving process, only when that process has a receiver, and hands the same
 *   refcounted buffer to each of them.
 *
 * - Operations, from a member to its room's home: the member's identity and user, the
 *   room, the op's name and JSON arguments, and a route back (bus_route_t: the member, the
 *   request's ref, and where the answer goes on the member's process). The home answers
 *   exactly once through bus_reply, or bus_reply_parts for an answer made of payload parts
 *   (a join's snapshot: the room's members and recent messages as the texts it keeps
 *   encoded). An op nobody waits for (a detach) has a route whose function is
 *   bus_reply_ignore.
 *
 * Subscribing in the answer. An op that subscribes the member's connection to the room
 * (join) or to a document (doc_open) is answered with the room as it is at the home (its seq and stateVersion); the
 * route's function on the member's process subscribes the connection, then sends the
 * reply. On the local bus the home runs on the caller's stack, so no event can fall
 * between the answer and the subscription. A cluster bus must leave no gap either: the
 * member's process subscribes itself to the topic's channel before it sends such an op
 * (so events published while the op is in flight reach it), and once the answer arrives
 * it drops, for that connection, the topic's events it received with a seq (or document
 * version) at or below the answer's, which the answer already holds.
 *
 * Identities. A connection is named by a bus_member_t, unique in the whole cluster and
 * never reused: the node id of its process in the top 16 bits, that process's connection
 * counter (bus_member_next) in the low 48. It is what "skip the sender", entity lock
 * holders and queued events compare, so they stay right after the connection is gone and
 * can name a connection on another process. A connection stores only this 8-byte id.
 *
 * Receivers and framing. A local connection is a bus_rcv_t, embedded in the layer
 * above's client (proto_client_t): its identity and the heads of its two subscription
 * lists, nothing more. What the bus cannot know itself is given when it is made, as one
 * table for all its receivers (bus_rcv_ops_t; the server's is proto.c's
 * proto_bus_rcv_ops): how an event becomes a frame, how a frame reaches a receiver (its
 * transport), and a receiver's user (for except_user). So neither the bus nor the domain
 * names anything of the protocol, and a connection carries no pointer for any of it.
 *
 * Subscriptions stay local and intrusive (bus_sub_t in the topic's bus_topic_t and in the
 * receiver's list), so finding a connection's rooms and walking a room's receivers costs
 * what it always did; bus_subscribe/bus_unsubscribe keep the lists. The topic points to
 * its bus, so a room publishes with only its topic in hand.
 *
 * Implementations. bus_local_new (bus_local.c) is the single process: publish walks the
 * topic's subscribers and frames on the first receiver; an operation is a direct call of
 * the handler the domain registered (bus_serve), with no queueing and no copies. A cluster
 * implementation (Redis) must: give each process its own node id; on publish, frame and
 * deliver to its own subscribers as the local bus does and send the event (topic, name,
 * payload, seq/version, skips) once to the topic's channel, which every process with a
 * subscriber of the topic listens to (a process subscribes to the channel while its
 * bus_topic_t has subscribers); on receipt, apply the same skips and framing to its
 * subscribers; for an operation whose room lives on another node, send it to that node
 * keeping the route, and deliver the answer to the route's process, which calls the
 * route's function there. The seq and version let a receiving process keep a topic's
 * events in order and see a gap (the local bus, in order by construction, ignores seq).
 * Outside the bus, a cluster adds one thing: a directory of rooms (id and code to home
 * node), where the member's side finds a room's home (docs/architecture.md). */
#ifndef CHORUS_BUS_H
#define CHORUS_BUS_H

#include <stdint.h>

#include <jansson.h>

#include "util/buf.h"
#include "util/jpart.h"
#include "util/jscan.h"

/* ---------- identities ---------- */

/* One connection anywhere in the cluster (see above); 0 names nobody. */
typedef uint64_t bus_member_t;

#define BUS_MEMBER_NONE ((bus_member_t)0)
#define BUS_CONN_BITS 48
#define BUS_NODE_MAX 0xffffu

/* Returns the identity of connection conn (1 ... 2^48-1) of node node. */
static inline bus_member_t bus_member_make(uint32_t node, uint64_t conn)
{
    return ((bus_member_t)node << BUS_CONN_BITS) | (conn & ((1ull << BUS_CONN_BITS) - 1));
}

/* Returns the node of member m. */
static inline uint32_t bus_member_node(bus_member_t m)
{
    return (uint32_t)(m >> BUS_CONN_BITS);
}

/* ---------- subscriptions (local, intrusive) ---------- */

typedef struct bus_s bus_t;
typedef struct bus_sub_s bus_sub_t;
typedef struct bus_rcv_s bus_rcv_t;

/* A receiver: one local connection as the bus sees it, embedded in the layer above's
 * client (proto_client_t's rcv). It holds only what the bus compares and the heads of the
 * connection's subscription lists; how a frame reaches it and which user it is are asked
 * of the bus's receiver table (bus_rcv_ops_t), shared by every receiver of the bus, so a
 * connection carries no pointer for them. */
struct bus_rcv_s {
    bus_member_t id;              /* the connection's identity; set when it starts */
    bus_sub_t *subs;              /* rooms joined (rooms_members.c) */
    bus_sub_t *doc_subs;          /* documents open (docs.c) */
};

/* One connection subscribed to one topic. Owned by the module that subscribed it. 40
 * bytes, one per room a connection is in: which of the receiver's lists holds it is found
 * by looking (bus_unsubscribe), and what only documents use is in bus_vsub_t. */
struct bus_sub_s {
    bus_rcv_t *rcv;               /* borrowed */
    void *room;                   /* what it subscribes to (a room_t, a doc_t) */
    bus_sub_t *prev, *next;       /* the topic's subscribers */
    bus_sub_t *client_next;       /* the receiver's subscriptions of this kind */
};

/* A subscription to a versioned topic (a document): every subscriber of a topic that
 * events with a version are published on (bus_event_t.version) is one of these. */
typedef struct {
    bus_sub_t sub;
    int64_t since; /* events for versions above this only */
} bus_vsub_t;

/* This process's side of a topic: its local subscribers, and the bus events go through.
 * A named topic (bus_topic_named: a room's, a document's) is one a cluster bus carries
 * across nodes: while it has subscribers here, this process listens to its channel. */
typedef struct {
    bus_t *bus;                   /* borrowed */
    bus_sub_t *head;
    uint32_t count;
    const char *room; /* borrowed (the room's id); NULL: a local-only topic */
    const char *doc;  /* borrowed (the document's id); NULL: the room's topic */
} bus_topic_t;

/* Makes t an empty local-only topic on bus (borrowed: it must outlive t). */
void bus_topic_init(bus_topic_t *t, bus_t *bus);

/* Makes t the empty topic of room room (borrowed), or with doc (borrowed; NULL: none) of
 * that document of it, on bus: both must outlive t (they are the owner's: room->id,
 * doc->id). */
void bus_topic_named(bus_topic_t *t, bus_t *bus, const char *room, const char *doc);

/* Adds s (owned by the caller; s->rcv and s->room set) to topic t and to the receiver's
 * list *client_list: &rcv->subs for rooms, &rcv->doc_subs for documents (no other). */
void bus_subscribe(bus_topic_t *t, bus_sub_t *s, bus_sub_t **client_list);

/* Removes s from t and from its receiver's list (does not free it). */
void bus_unsubscribe(bus_topic_t *t, bus_sub_t *s);

/* Returns how many subscriptions a receiver's list holds. */
uint32_t bus_count(const bus_sub_t *client_list);

/* Finds the subscription to room in a receiver's list, or NULL. */
bus_sub_t *bus_find(bus_sub_t *client_list, const void *room);

/* ---------- events: a room's home to its members ---------- */

/* One event. The frame is {"op": name, "room": room, <the members of parts[0..nparts)>},
 * as the bus's receiver table frames it (bus_rcv_ops_t.frame). Everything is borrowed. */
typedef struct {
    const char *room;             /* topic: the room's id */
    const char *doc;              /* documents: the document's id (in the topic); else NULL */
    const char *name;             /* the event's name, the frame's "op" */
    const jpart_t *parts;         /* the payload (nparts: 0 to 6) */
    size_t nparts;
    int64_t seq;                  /* the room's seq or stateVersion it carries; 0 = none */
    int64_t version;              /* documents: subscribers (bus_vsub_t) with since >=
                                     version skip it; 0 = no filter */
    bus_member_t except;          /* the origin connection, skipped; BUS_MEMBER_NONE = none */
    bus_member_t to;              /* only this connection receives it (one member told it
                                     is out, say); BUS_MEMBER_NONE = every one not skipped */
    const char *except_user;      /* every connection of this user is skipped; NULL = none */
    const char *to_user;          /* only this user's connections receive it; NULL = all */
    int unsubscribe;              /* each receiver it reaches is then dropped from the topic
                                     (bus_on_drop); with name NULL no frame is sent */
    int watchers;                 /* a presence change of except_user in a large room: each
                                     process delivers it only to its receivers that watch
                                     that user (bus_on_watchers), skips still applied */
} bus_event_t;

/* Delivers ev to every subscriber of t (on every process) that it does not skip; with
 * ev->unsubscribe, then hands each of them to the bus's drop function. Borrows t and ev.
 * Returns how many local subscribers received it. */
uint32_t bus_publish(bus_topic_t *t, const bus_event_t *ev);

/* ---------- receivers: what the layer above provides ---------- */

/* How the bus frames events and reaches its receivers, given by the layer above when the
 * bus is made (proto.c: proto_bus_rcv_ops) and shared by every receiver of the bus. */
typedef struct {
    /* Returns a new frame (refcount 1) of ev (borrowed): the bus calls it once per event
     * and process, on the first receiver, and hands the same buffer to every receiver. */
    cbuf_t *(*frame)(const bus_event_t *ev);
    /* Queues frame to r. Borrows both: the receiver takes its own reference. */
    void (*deliver)(bus_rcv_t *r, cbuf_t *frame);
    /* Returns r's user id (borrowed: valid, and the same, as long as r is subscribed to
     * anything). */
    const char *(*user)(const bus_rcv_t *r);
    /* Optional (NULL: every receiver is of kind 0). Returns r's framing kind, below
     * BUS_FRAME_KINDS: receivers that speak another wire format (Socket.IO) are of another
     * kind. An event is framed at most once per kind among its receivers on a process, and
     * each kind's one buffer is shared by all of its receivers. */
    unsigned (*kind)(const bus_rcv_t *r);
    /* Returns a new frame (refcount 1) of ev for r's kind when that is not 0 (kind 0 is
     * frame): the bus calls it on the first receiver of each kind. Borrows both. */
    cbuf_t *(*frame_as)(const bus_event_t *ev, const bus_rcv_t *r);
} bus_rcv_ops_t;

/* Framing kinds a bus tells apart (bus_rcv_ops_t.kind): the Chorus envelope, Socket.IO,
 * and room for two more dialects. */
#define BUS_FRAME_KINDS 4

/* Drops subscription s (of topic t) that an unsubscribe event reached on this process:
 * unsubscribes it (bus_unsubscribe) and frees it (owned by the module that subscribed it). */
typedef void (*bus_drop_fn)(void *ud, bus_topic_t *t, bus_sub_t *s);

/* Makes fn (with ud, borrowed) what this process runs for its subscriptions that an
 * unsubscribe event reaches: one function per bus, the rooms' (rooms_init), since only a
 * room's topic carries unsubscribe events (a document's subscriptions go with it through
 * the rooms' client_left hook). */
void bus_on_drop(bus_t *b, bus_drop_fn fn, void *ud);

/* Returns the local subscriptions of topic t (borrowed) that watch user's presence
 * (borrowed), *n of them (the array is the domain's, valid for the delivery), or NULL. */
typedef bus_sub_t *const *(*bus_watchers_fn)(void *ud, bus_topic_t *t, const char *user,
                                             size_t *n);

/* Makes fn (with ud, borrowed) how this process finds the receivers of a watchers event
 * (bus_event_t.watchers): the rooms' presence watch index (rooms_init). */
void bus_on_watchers(bus_t *b, bus_watchers_fn fn, void *ud);

/* ---------- operations: a member to its room's home ---------- */

typedef struct bus_route_s bus_route_t;

/* Receives the answer of an operation on the member's process, exactly once: code NULL
 * and data (stolen; NULL = null) for success, else an error code and message (borrowed)
 * and data (stolen) NULL or an object of the error's further members ({"field": name}
 * for a validation_error). */
typedef void (*bus_reply_fn)(const bus_route_t *route, const char *code, const char *message,
                             json_t *data);

/* Receives a success answer made of payload parts (bus_reply_parts) on the member's
 * process: the answer's data is the object of parts[0..nparts) as proto_frame_parts
 * builds it. Everything is borrowed for the call. */
typedef void (*bus_reply_parts_fn)(const bus_route_t *route, const jpart_t *parts,
                                   size_t nparts);

/* Where an operation's answer goes: copy it by value to answer later. */
struct bus_route_s {
    bus_member_t member;          /* the connection that asked */
    int64_t ref;                  /* the request's ref; -1 = none */
    bus_reply_fn fn;              /* called on the member's process */
    bus_reply_parts_fn parts_fn;  /* the same for bus_reply_parts; NULL when the op is
                                     never answered with parts */
    void *ud;                     /* for fn, meaningful only on the member's process */
};

/* One operation. Everything is borrowed for the duration of the handler's call. */
typedef struct {
    const char *room;             /* the room's id: where the operation goes */
    const char *name;             /* the op's name */
    const char *user;             /* the member's user id */
    const json_t *args;           /* its arguments (an object; NULL = none) */
    /* Or, with args NULL, the same arguments as the scanned text of the frame (jscan.h:
     * the hot ops, decoded without a tree; home_args reads either). A cluster bus sends
     * the text (scan->buf) and scans it again on the home's process. */
    const jscan_t *scan;
    bus_route_t route;
    /* The answer subscribes the member's connection to the room's topic (join), or with
     * sub_doc (borrowed) to that document's (doc_open): a cluster bus listens to the
     * topic's channel before it sends the op (subscribing in the answer, above). */
    int subscribes;
    const char *sub_doc;
    /* Set by a cluster bus at the home: the op came from another process, whose
     * subscriptions the home does not see (a document it opened there stays loaded). */
    int remote;
} bus_op_t;

/* The room's home handles op (borrowed for the call) and answers through bus_reply with
 * op->route, now or later. */
typedef void (*bus_op_fn)(void *ud, const bus_op_t *op);

/* Makes fn (with ud, borrowed) the handler of the operations addressed to rooms of this
 * process. */
void bus_serve(bus_t *b, bus_op_fn fn, void *ud);

/* Sends op (borrowed) to its room's home. Returns 0, or -1 when no handler serves it (it
 * is not answered then). */
int bus_send_op(bus_t *b, const bus_op_t *op);

/* Answers the operation of route (borrowed) exactly once; see bus_reply_fn. */
void bus_reply(const bus_route_t *route, const char *code, const char *message, json_t *data);

/* Answers the operation of route (borrowed) exactly once, with success and the object of
 * parts[0..nparts) (borrowed for the call; the local bus hands them over by pointer, a
 * cluster bus sends the object they make). route->parts_fn must be set. */
void bus_reply_parts(const bus_route_t *route, const jpart_t *parts, size_t nparts);

/* The error code of an op a cluster bus could not carry to its room's home or back (Redis
 * unreachable, no answer within the op timeout, too many ops in flight, the home lost the
 * room): nothing is known to have happened; try again. */
#define BUS_UNAVAILABLE "unavailable"

/* A bus_reply_fn that drops the answer (frees data): the route of an op sent fire and
 * forget (a detach). */
void bus_reply_ignore(const bus_route_t *route, const char *code, const char *message,
                      json_t *data);

/* ---------- rooms: what every process must know of the others' ---------- */

/* A room made, given a new code or deleted on another process, as the domain announced it
 * there (bus_announce): text (len bytes, borrowed for the call) is the domain's own. */
typedef void (*bus_room_fn)(void *ud, const char *text, size_t len);

/* Makes fn (with ud, borrowed) what this process runs for the other processes' room
 * announcements (the rooms', rooms_init). */
void bus_on_room(bus_t *b, bus_room_fn fn, void *ud);

/* Tells every other process of a change to room (borrowed) as text (len bytes, borrowed):
 * a cluster bus sends it once to all; on one process, nothing. */
void bus_announce(bus_t *b, const char *room, const char *text, size_t len);

/* Tells the bus that room (borrowed) is known here as a stand-in: a copy of another
 * process's room read without its announcement (from the store, before the announcement
 * came), which never makes this process its home. On one process, nothing. */
void bus_standin(bus_t *b, const char *room);

/* ---------- takeover: a room whose home died ---------- */

/* The domain's part of a takeover (bus_on_takeover). reload: this process won the lease of
 * room (borrowed), whose home died; its ops wait (the room is loading) while the domain
 * reads it whole from the store, as after a restart (every seat offline), replacing this
 * process's copy, and ends its local subscriptions with a room_reset event (reason
 * "home_lost"); then it calls bus_reloaded once, later. reset: end room's local
 * subscriptions, if any, with a room_reset event of reason (static: "home_lost", another
 * process took the room over; "resync", this process may have missed some of its events),
 * the connections' attachments at the home undone. lost: this process's lease of room
 * ended (another process holds it, or it ran out unrenewed): its copy goes, a stand-in in
 * its place, and its local subscriptions end with a room_reset event (reason "resync"). */
typedef void (*bus_reload_fn)(void *ud, const char *room);
typedef void (*bus_reset_fn)(void *ud, const char *room, const char *reason);
typedef void (*bus_lost_fn)(void *ud, const char *room);

/* The home's record of a room (bus_record), as a takeover reads it: the connections
 * attached at the last home (their node live or not, by the cluster's heartbeats; not
 * live either when their node recorded them closed: a detach the last home may not have
 * served), the
 * entity locks held there, and the last message seq and state version it published. */
typedef struct {
    bus_member_t member;
    const char *user;
    int live; /* its node is alive and, by it, the connection still there */
} bus_rec_conn_t;

typedef struct {
    const char *entity;
    bus_member_t holder;
    const char *user;
    int64_t expires_at; /* unix ms */
} bus_rec_lock_t;

typedef struct {
    const bus_rec_conn_t *conns;
    size_t nconns;
    const bus_rec_lock_t *locks;
    size_t nlocks;
    int64_t seq, version; /* published; -1: not recorded */
    int64_t changes;      /* the store's change counter of the last write whose events all
                           * went out; -1: not recorded */
} bus_rec_t;

/* restore: this process, the new home of room (its copy just read: bus_reloaded), is
 * given the last home's record (borrowed for the call): it puts the recorded connections
 * and locks back, releases those of dead nodes with the usual events, and returns 1 when
 * the other processes' connections missed nothing (they are kept), else 0 (they get a
 * room_reset). keep: another process took room over and said its connections here missed
 * nothing: they stay, except those that cannot be shown so (a room_reset each). */
typedef int (*bus_restore_fn)(void *ud, const char *room, const bus_rec_t *rec);
typedef void (*bus_keep_fn)(void *ud, const char *room);

/* What bus_on_takeover is given (the rooms', rooms_init): every hook, called with ud. */
typedef struct {
    bus_reload_fn reload;
    bus_reset_fn reset;
    bus_lost_fn lost;
    void *ud; /* borrowed */
    bus_restore_fn restore; /* NULL: nothing restored, every connection reset */
    bus_keep_fn keep;
} bus_takeover_t;

/* Makes t (copied) what this process runs for a takeover, a missed event, a lost lease. */
void bus_on_takeover(bus_t *b, const bus_takeover_t *t);

/* Answers a bus_reload_fn for room (borrowed): rc 0 when the room was read again, negative
 * when it could not be (its waiting ops are answered unavailable). */
void bus_reloaded(bus_t *b, const char *room, int rc);

/* The home's record of room (a cluster's, for a takeover: bus_rec_t): sets field to value
 * (both borrowed, copied), or deletes it (value NULL). Written in the background, in order
 * with the events the home publishes; on one process, nothing. Fields: "c<member>" (a
 * connection attached: its user), "l<entity>" (a lock: "<holder> <expires_at> <user>"),
 * "s" and "v" (the last message seq and state version published). */
void bus_record(bus_t *b, const char *room, const char *field, const char *value);

/* ---------- the interface ---------- */

typedef struct {
    uint32_t (*publish)(bus_t *b, bus_topic_t *t, const bus_event_t *ev);
    int (*send_op)(bus_t *b, const bus_op_t *op);
    void (*free)(bus_t *b);
    /* Optional (NULL: always ready): 1 when the bus can carry ops and events now (a cluster
     * bus: connected to Redis, its node id held), else 0. */
    int (*ready)(bus_t *b);
    /* Optional (NULL: nothing to close): closes the bus's handles (connections, timers) so
     * the loop can end; bus_free follows once the loop ran. */
    void (*close)(bus_t *b);
    /* Optional (NULL: every topic is local): a named topic got its first subscriber here
     * (on 1) or lost its last (on 0). */
    void (*watch)(bus_t *b, bus_topic_t *t, int on);
    /* Optional (NULL: every room is at home here): 1 when room's home is this process. */
    int (*home_here)(bus_t *b, const char *room);
    /* Optional: this process made room (its home from now on: bus_home_take), or room is
     * gone (bus_home_drop). */
    void (*home_take)(bus_t *b, const char *room);
    void (*home_drop)(bus_t *b, const char *room);
    /* Optional (NULL: one process): bus_announce. */
    void (*announce)(bus_t *b, const char *room, const char *text, size_t len);
    /* Optional (NULL: one process): bus_standin. */
    void (*standin)(bus_t *b, const char *room);
    /* Optional (NULL: one process, which never reloads): bus_reloaded. */
    void (*reloaded)(bus_t *b, const char *room, int rc);
    /* Optional (NULL: one process, nothing recorded): bus_record. */
    void (*record)(bus_t *b, const char *room, const char *field, const char *value);
} bus_vtable_t;

/* The part every implementation starts with. */
struct bus_s {
    const bus_vtable_t *vt;
    const bus_rcv_ops_t *rcv_ops; /* borrowed: how its receivers are framed for and reached */
    uint32_t node;                /* this process's node id */
    uint64_t last_conn;           /* the connection counter */
    uint64_t framed;              /* frames made on this process, one per event and kind
                                     (a statistic) */
    uint64_t delivered;           /* frames handed to this process's receivers (a statistic) */
    bus_op_fn serve;              /* the rooms' handler (bus_serve); NULL = none yet */
    void *serve_ud;
    bus_drop_fn drop;             /* unsubscribe events' receivers (bus_on_drop) */
    void *drop_ud;
    bus_watchers_fn watchers;     /* watchers events' receivers (bus_on_watchers) */
    void *watchers_ud;
    bus_room_fn room_fn; /* the others' room announcements (bus_on_room) */
    void *room_ud;
    bus_takeover_t takeover; /* bus_on_takeover; all NULL: none */
};

/* Returns a new identity for a connection of this process (never reused). */
bus_member_t bus_member_next(bus_t *b);

/* Returns the user id of r, a receiver of b (both borrowed; see bus_rcv_ops_t.user). */
static inline const char *bus_rcv_user(const bus_t *b, const bus_rcv_t *r)
{
    return b->rcv_ops->user(r);
}

/* Frees b (owned; NULL is fine). No topic may be on it anymore. */
void bus_free(bus_t *b);

/* Returns 1 when b (borrowed) can carry ops and events now, else 0 (bus_vtable_t.ready). */
int bus_ready(const bus_t *b);

/* Closes b's handles (borrowed; see bus_vtable_t.close): call once, when the server
 * stopped; run the loop before bus_free. */
void bus_close(bus_t *b);

/* Rooms and their homes, for the domain's work that only a room's home may do (the tick's
 * seat releases, the idle-room sweep): 1 when room's (borrowed) home is this process now
 * (always, on one node). */
int bus_home_here(bus_t *b, const char *room);

/* 1 when b (borrowed) is a cluster's, whose rooms move between processes (a takeover
 * reloads them: bus_vtable_t.reloaded), so the store fences their writes; 0 for one. */
static inline int bus_is_cluster(const bus_t *b)
{
    return b->vt->reloaded != NULL;
}

/* This process created room (borrowed): it is its home from now on. */
void bus_home_take(bus_t *b, const char *room);

/* room (borrowed) was deleted here, its home: its home goes with it. */
void bus_home_drop(bus_t *b, const char *room);

/* Delivers ev (borrowed) to this process's subscribers of t (borrowed) that it does not
 * skip, framed once per kind, and drops them when ev unsubscribes: the local half of every
 * bus's publish (bus_local.c). Returns how many it reached. */
uint32_t bus_local_deliver(bus_t *b, bus_topic_t *t, const bus_event_t *ev);

/* Returns the single process's bus (owned by the caller: bus_free), node id node, whose
 * receivers are framed for and reached through rcv_ops (borrowed: it must outlive the
 * bus). */
bus_t *bus_local_new(uint32_t node, const bus_rcv_ops_t *rcv_ops);

#endif
