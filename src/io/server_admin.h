/* server_admin.h: what the admin view asks of the server (GET /api/admin/connections). */
#ifndef CHORUS_SERVER_ADMIN_H
#define CHORUS_SERVER_ADMIN_H

#include <stddef.h>

#include <jansson.h>

/* The api_t admin_conns hook, ud a server_t (borrowed): returns a new object {"total",
 * "byKind": {"websocket", "socketio", "http", "polling"}, "authenticated", "list": [at
 * most max {"kind", "ip", "userId" (null before auth), "rooms"}], "more"}. */
json_t *server_admin_connections(void *ud, size_t max);

#endif
