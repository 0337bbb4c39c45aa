/* bus_redis.h: the cluster bus over Redis (--cluster redis://host:port[/db]).
 *
 * A node's identity: at start the node claims a node id, 1 to BUS_NODE_MAX, unique among
 * the live nodes: SET chorus:node:<id> NX PX ttl claims it (with a random token as its
 * value), trying ids from a random one on while they are held. That one exchange is
 * synchronous, before the loop serves anything (a node without an id cannot name a
 * connection); everything after is asynchronous on the loop (hiredis's libuv adapter).
 * Every third of the ttl the node renews its key (only while it holds its token: a key
 * another node took means this node lost its id and is not ready), adds itself to the set
 * chorus:nodes and reads back the live nodes (those whose key exists; the others are
 * removed from the set), in one script. The claim's key lives 30 s longer than the ttl,
 * until the first heartbeat. A node that loses Redis (a connect or a heartbeat unanswered
 * for a ttl counts as lost: hiredis's libuv adapter ignores a poll error) is not ready
 * (bus_ready) and reconnects at its next ticks with a doubling backoff (100 ms to 5 s),
 * keeping its id when its key is still its own.
 *
 * Rooms (docs/architecture.md, "The cross-node flow"). A room's home holds its lease,
 * chorus:room:<id>:home = its node id (PX opts.lease_ms), renewed every third of it for all
 * its rooms in one script per batch; chorus:room:<id>:until keeps the last home and its
 * lease's end, so a node takes a free lease only with a copy of the room that no other home
 * can have changed (it was that home, or read the room after that lease ended); rooms known
 * from another node's announcement (chorus:rooms, bus_announce) are stand-ins and never
 * taken. The directory (bus_dir.h) caches room -> home. An op for a room at home elsewhere
 * is published to that node's channel chorus:node:<id> (bus_wire.h, after two bytes naming
 * the sender) and answered on the asking node's; it is answered BUS_UNAVAILABLE when Redis
 * is not there, past opts.op_timeout_ms, beyond opts.max_inflight ops in flight, or when
 * the home moved or is gone. An op that subscribes in its answer (bus_op_t.subscribes) is
 * sent once the topic's channel is subscribed. Events: bus_publish delivers here and
 * publishes once to the topic's channel (chorus:room:<id>, chorus:doc:<room>:<doc>), which
 * a node subscribes to, on its subscriber connection, while the topic has subscribers there
 * (bus_vtable_t.watch); a node frames what it receives once per kind, with bus_local's
 * skips. One command connection and one subscriber connection per node, so a room's
 * events and answers reach a node in the home's order. */
#ifndef CHORUS_BUS_REDIS_H
#define CHORUS_BUS_REDIS_H

#include <stdint.h>

#include <uv.h>

#include "bus/bus.h"
#include "util/log.h"

/* Redis's keys, all under this prefix. */
#define BUS_REDIS_PREFIX "chorus:"

/* The longest channel or key name the bus makes (a prefix, a room id, a document id). */
#define BUS_REDIS_CHAN_MAX 192

/* A bus message's size at most (an op, a reply, an event) by default and at the most
 * (--cluster-max-bus-message): well above what a room's limits let one carry
 * (config_reply_budget, --room-max-state), well below Redis's. */
#define BUS_REDIS_MSG_MAX (16u << 20)

/* What a cluster node is told (docs/operations.md, "Scaling out"). */
typedef struct {
    uint64_t node_ttl_ms;   /* --cluster-node-ttl: the node key's life unrenewed */
    uint64_t lease_ms;      /* --cluster-lease: a room's home lease, renewed every third */
    uint64_t op_timeout_ms; /* --cluster-op-timeout: a forwarded op unanswered this long is
                               answered unavailable */
    size_t max_inflight;    /* --cluster-max-inflight: forwarded ops in flight at most */
    size_t msg_max;         /* bytes of one bus message at most */
} bus_redis_opts_t;

/* Returns a new cluster bus (owned: bus_close, run the loop, then bus_free) on loop
 * (borrowed), joined to the Redis at url (borrowed) with opts (copied), logging to
 * log (borrowed), whose receivers are framed and reached through rcv_ops (borrowed); all
 * three must outlive it. Returns NULL with a one-line reason in err (errlen bytes) when
 * the URL is bad, Redis cannot be reached within a few seconds, or no node id is free. */
bus_t *bus_redis_new(uv_loop_t *loop, const char *url, const bus_redis_opts_t *opts, log_t *log,
                     const bus_rcv_ops_t *rcv_ops, char *err, size_t errlen);

/* The live nodes b (a cluster bus, borrowed) saw at its last heartbeat, ascending, in
 * out[0..cap); returns how many there are (more than cap: only cap were written). */
size_t bus_redis_live(const bus_t *b, uint32_t *out, size_t cap);

#endif
