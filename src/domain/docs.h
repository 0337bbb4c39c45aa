/* docs.h: collaborative text documents inside rooms (operational transform), the domain
 * side. A document is named by a string id in its room; its text lives in memory while it
 * is open, with a window of recent ops to transform late submissions against. Every op is
 * given the next version, applied, made durable (op log + periodic snapshots) and only
 * then acknowledged and sent to the other subscribers through the bus.
 *
 * The functions take plain values (the room, the document id, the caller as a
 * bus_member_t and a user id, the op's fields, the time) and answer with a rooms_err_t
 * (kind and stable protocol code) at once or through a completion callback once the store
 * answered. They are called at the room's home (home_docs.c: the ops the bus brings) and,
 * for what belongs to a connection (its subscriptions), on the member's side
 * (proto_docs.c). Where an answer waits for the store, the context the domain allocates
 * for that wait carries ud_size bytes for the caller (its reply route), handed to the
 * callback as ud: one allocation per request. */
#ifndef CHORUS_DOCS_H
#define CHORUS_DOCS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bus/bus.h"
#include "domain/docs_limits.h"
#include "domain/home.h"
#include "domain/ot_text.h"
#include "domain/rooms.h"
#include "store/store.h"
#include "util/jscan.h"

struct rooms_s;
struct room_s;
struct rooms_feature_s;

typedef struct doc_s doc_t;

/* One recent op, kept to transform submissions based on older versions. */
typedef struct {
    int64_t version;
    ot_op_t op;
    char author[STORE_SUB_LEN];
    char op_id[STORE_OP_ID_LEN];
    size_t bytes;               /* memory the op holds (doc_ot.c logent_bytes) */
} doc_logent_t;

typedef struct doc_waiter_s doc_waiter_t;

struct doc_s {
    struct room_s *room;        /* owner */
    doc_t *next;                /* the room's documents */
    char id[STORE_DOC_ID_LEN];
    ot_buf_t text;
    ot_buf_t scratch;           /* reused by apply */
    int64_t version;            /* ops applied */
    int64_t committed;          /* ops the store committed */
    int64_t snapshot_version;   /* last snapshot handed to the store */
    int64_t snapshot_bytes;     /* its size, as the room's quota counts it */
    doc_logent_t *log;          /* ring of the last log_cap ops, grown on demand */
    size_t log_cap, log_alloc, log_len, log_head;
    size_t log_bytes;           /* sum of the bytes of the log_len entries */
    size_t log_max_bytes;       /* the oldest entries go while log_bytes passes it */
    bus_topic_t subs;           /* the document's topic: connections with it open here */
    uint32_t inflight;          /* store requests pending */
    int loaded;
    int failed;                 /* the load failed: refuse everything */
    doc_waiter_t *waiters;      /* doc_open calls waiting for the load */
    webhook_debounce_t hook_saved; /* document.saved: one per --webhook-doc-debounce; a
                                    * document owing one stays in memory until it goes */
    int held;                      /* opened from another node of a cluster (bus_op_t.remote),
                                    * whose subscribers the home does not see: kept in memory
                                    * until the room goes */
};

/* The documents' hooks in rooms (rooms.h): limits at start, subscriptions closed when a
 * member leaves, disconnects or the room goes, documents freed with the room. */
extern const struct rooms_feature_s docs_feature;

/* An error answered at once, with room for a formatted message (err.message points into
 * msg when it is one). */
typedef struct {
    rooms_err_t err;
    char msg[96];
} docs_err_t;

/* Completion of docs_open when the document had to be loaded: err NULL and d (borrowed)
 * ready to subscribe to, or err (d NULL). ud is the caller's area (see above). */
typedef void (*docs_open_fn)(void *ud, const rooms_err_t *err, doc_t *d);

/* The message of a document id that is not a string of 1 to STORE_DOC_ID_LEN - 1 bytes. */
#define DOCS_ID_MESSAGE "doc must be a string of 1 to 128 bytes"

/* Returns the document id jd holds (borrowed from jd), or NULL when jd is not a string of 1
 * to STORE_DOC_ID_LEN - 1 bytes (answer validation_error, field doc, DOCS_ID_MESSAGE).
 * Borrows jd (may be NULL). */
const char *docs_id_of(const json_t *jd);

/* docs_id_of for a scanned value (jscan.h; m may be NULL): decodes it into buf
 * (STORE_DOC_ID_LEN bytes) and returns buf, or NULL on the same values docs_id_of
 * refuses. Borrows m. */
const char *docs_id_scan(const jscan_member_t *m, char *buf);

/* The document id of room in memory (loaded or loading), or NULL. Borrows both. */
doc_t *docs_find(struct room_s *room, const char *id);
/* On a member's process whose room's home is another node: the document id of room (both
 * borrowed) as it is here, a topic for its subscribers only, never loaded, made when not
 * there (unloaded with its last subscriber, as every document). */
doc_t *docs_standin(struct rooms_s *r, struct room_s *room, const char *id);

/* The subscription to document doc_id of room in a connection's list doc_subs (its
 * c->doc_subs), or NULL: whether that connection has the document open. Borrows all. */
bus_sub_t *docs_sub_find(bus_sub_t *doc_subs, const struct room_s *room, const char *doc_id);

/* Opens document doc_id (borrowed) of room for reading. Returns 0 with *ready the
 * document, in memory and usable now; 0 with *ready NULL and *wait the caller's area of
 * ud_size bytes (zeroed) when it is being loaded from the store: done(*wait, ...) is called
 * exactly once when the load ends (an error when it failed or the room was deleted
 * meanwhile); or ROOMS_E_UNAVAILABLE with *err (service_unavailable) while the store
 * work of a document that failed is still in flight. A document that failed (the store
 * failed one of its ops, or its load) is read again from the store by the first open after
 * that work ended. */
int docs_open(struct rooms_s *r, struct room_s *room, const char *doc_id, docs_open_fn done,
              size_t ud_size, doc_t **ready, void **wait, rooms_err_t *err);

/* Returns d's snapshot {"doc", "text", "version"} (new reference; borrows d). */
json_t *docs_snapshot_json(const doc_t *d);

/* Subscribes connection c (borrowed) to d's events for the versions above since (the
 * version of the snapshot c was answered with: the events at or below it are in it), once:
 * a connection that has d open already keeps its subscription. */
void docs_subscribe(doc_t *d, bus_rcv_t *c, int64_t since);

/* Ends subscription s (a document's, from c->doc_subs; freed) and unloads its document
 * when nothing else holds it. */
void docs_unsubscribe(bus_sub_t *s);

/* Returns 0 when ops may be submitted to d (borrowed), else ROOMS_E_UNAVAILABLE with *err
 * (service_unavailable: it failed and must be opened again). */
int docs_usable(const doc_t *d, rooms_err_t *err);

/* One op as the caller submits it. Everything is borrowed for the call. */
typedef struct {
    int64_t base;               /* the version it was made on */
    const char *delta;          /* the op (ot_text JSON) as Jansson writes it (the frame's
                                   own bytes when it sent it so: jscan_text) */
    size_t delta_len;
    const char *op_id;          /* the client's id for retries; "" = none */
    const char *user;           /* the author's user id */
    bus_member_t from;          /* the sender's connection: skipped by the event */
    int64_t now_ms;             /* unix ms: the room's activity and the op's time */
} docs_op_t;

/* Submits op to d (usable, docs_usable) of r, all borrowed (op for the call): checks its
 * size (max_op), its base, the quotas, transforms it against the ops after its base,
 * applies it, counts and stores it. Returns 0 and *wait the caller's area of ud_size bytes
 * (zeroed): done(*wait, err, result) is called once the store answered, with result
 * {"version"} (or {"version", "duplicate": true} for an opId applied before; a new
 * reference), then the other subscribers get the doc_op event. Else returns a negative
 * rooms_errno_t with *err filled (nothing changed): payload_too_large, validation_error
 * (version), quota_exceeded, version_too_old, document_too_large, invalid_op. */
int docs_submit(struct rooms_s *r, doc_t *d, const docs_op_t *op, rooms_done_fn done,
                size_t ud_size, void **wait, docs_err_t *err);

/* Reads the op log of document doc_id (borrowed) of room after version from: returns the
 * caller's area of ud_size bytes (zeroed); done(area, err, result) is called once with
 * result {"ops": [...], "more"?} (new reference; the oldest ops that fit in the reply
 * budget), or err internal_error or version_too_old (retention removed the ops after
 * from). */
void *docs_ops_range(struct rooms_s *r, struct room_s *room, const char *doc_id, int64_t from,
                     rooms_done_fn done, size_t ud_size);

/* Takes every document subscription of c away (c disconnected). */
void docs_client_gone(struct rooms_s *r, bus_rcv_t *c);

/* Closes c's documents of room (c left the room). */
void docs_client_left_room(bus_rcv_t *c, struct room_s *room);

/* Unsubscribes everyone from room's documents (the room is being deleted). */
void docs_room_dropped(struct room_s *room);

/* Frees every document of room (the room is freed; nothing is in flight). */
void docs_room_free(struct room_s *room);

/* Registers the document ops at the room's home (home_docs.c: doc_open, doc_op, doc_ops,
 * doc_presence) on h, working on h's rooms. doc_close is not one: it ends a subscription,
 * which is the connection's (proto_docs.c). */
void home_docs_register(home_t *h);

#endif
