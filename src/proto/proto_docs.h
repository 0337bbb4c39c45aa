/* proto_docs.h: the document ops over WebSocket (proto_docs.c). */
#ifndef CHORUS_PROTO_DOCS_H
#define CHORUS_PROTO_DOCS_H

#include "proto/proto.h"

/* Registers the document ops (doc_open, doc_close, doc_op, doc_ops, doc_presence) on p,
 * whose app is the rooms registry. The table is static: nothing is owned. */
void proto_docs_register(proto_t *p);

#endif
