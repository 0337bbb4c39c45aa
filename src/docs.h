/* docs.h: collaborative text documents inside rooms (operational transform). A document
 * is named by a string id in its room; its text lives in memory while it is open, with a
 * window of recent ops to transform late submissions against. Every op is given the next
 * version, applied, made durable (op log + periodic snapshots) and only then acknowledged
 * and sent to the other subscribers. */
#ifndef CHORUS_DOCS_H
#define CHORUS_DOCS_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bus.h"
#include "docs_limits.h"
#include "ot_text.h"
#include "proto.h"
#include "store.h"

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
};

/* The documents' hooks in rooms (rooms.h): limits at start, subscriptions closed when a
 * member leaves, disconnects or the room goes, documents freed with the room. */
extern const struct rooms_feature_s docs_feature;

/* Registers the document ops (doc_open, doc_close, doc_op, doc_ops, doc_presence) on p. */
void proto_docs_register(proto_t *p);

/* Takes every document subscription of c away (c disconnected). */
void docs_client_gone(struct rooms_s *r, proto_client_t *c);

/* Closes c's documents of room (c left the room). */
void docs_client_left_room(proto_client_t *c, struct room_s *room);

/* Unsubscribes everyone from room's documents (the room is being deleted). */
void docs_room_dropped(struct room_s *room);

/* Frees every document of room (the room is freed; nothing is in flight). */
void docs_room_free(struct room_s *room);

#endif
