/* proto_rpc.h: calls to the app's backend (docs/api.md, "Backends"): the rpc op (a client
 * asks the backend something, with its verified identity and room, and gets its answer as
 * the op's reply; the answer's side effects are applied at the room's home first) and the
 * join hook (a join asks the backend whether, and as whom, the user may join). Through the
 * outgoing HTTP client (http_call.h); what is said is rpc_wire.h's. */
#ifndef CHORUS_PROTO_RPC_H
#define CHORUS_PROTO_RPC_H

#include <stdint.h>

#include "domain/rooms.h"
#include "proto/proto.h"
#include "proto/rpc_wire.h"
#include "util/config.h"
#include "util/http_call.h"

typedef struct proto_rpc_s {
    const http_call_t *http; /* borrowed; NULL: no client (calls are backend_unavailable) */
    const char *url;         /* borrowed (cfg): the rpc endpoint; "" = none */
    const char *hook_url;    /* borrowed (cfg): the join hook; "" = none */
    const char *secret;      /* borrowed (cfg): the signature's key; "" = unsigned */
    uint64_t timeout_ms;
    size_t max_data, max_reply;
    uint32_t max_calls;       /* calls in flight at once, rpc and join hook */
    uint32_t calls;           /* in flight now */
    uint32_t max_calls_conn;  /* rpc and join hook calls in flight per connection */
    int hook_fail_open;       /* a join goes ahead when the hook cannot be asked */
    int64_t (*unix_ms)(void); /* the wall clock, for the request's time and signature */
    rooms_t *rooms;           /* borrowed */
    struct proto_rpc_call_s *inflight; /* the calls in flight (owned), with their ids */
} proto_rpc_t;

/* Sets rp up from cfg (borrowed: must outlive rp) for rooms (borrowed), calling through
 * http (borrowed; may be filled in later, before the first call; NULL: none). */
void proto_rpc_init(proto_rpc_t *rp, const chorus_config_t *cfg, rooms_t *rooms,
                    const http_call_t *http);

/* Registers the rpc op on p and makes rp (borrowed) p's backend (p->rpc), which the join
 * op asks when a join hook is configured. */
void proto_rpc_register(proto_t *p, proto_rpc_t *rp);

/* The answer of one call: reply borrowed for the call (rpc_reply_t.code NULL: success). */
typedef void (*proto_rpc_done_fn)(void *ud, const rpc_reply_t *reply);

/* POSTs in's body (everything borrowed for the call) to url with the signature headers,
 * for the connection c (borrowed; NULL: none); done is called exactly once, later, with
 * ud. Returns 0; -ENOBUFS when rp's bound of calls in flight is reached or the client's
 * queue is full (answer too_many_calls), or -ENOTCONN without a client (answer
 * backend_unavailable): done is not called then. */
int proto_rpc_call(proto_rpc_t *rp, proto_client_t *c, const char *url, const rpc_request_t *in,
                   proto_rpc_done_fn done, void *ud);

/* c (borrowed) went away: cancels its calls in flight (their slots are given back now)
 * and answers each one's done at once with service_unavailable (the reply is dropped). */
void proto_rpc_client_gone(proto_rpc_t *rp, proto_client_t *c);

#endif
