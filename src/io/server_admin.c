/* server_admin.c: the server's connections as the admin view lists them: counted by kind,
 * and a bounded list (the registry is walked once; nothing is kept per connection). */
#include "io/server_admin.h"

#include "io/conn.h"
#include "io/server.h"

/* The rooms c's WebSocket has joined. */
static json_int_t conn_rooms(const conn_t *c)
{
    json_int_t n = 0;
    for (const bus_sub_t *s = c->pc.rcv.subs; s; s = s->client_next)
        n++;
    return n;
}

json_t *server_admin_connections(void *ud, size_t max)
{
    server_t *s = ud;
    json_int_t ws = 0, sio = 0, http = 0, authed = 0;
    json_t *list = json_array();
    size_t listed = 0;
    for (conn_t *c = s->conns; c; c = c->next) {
        const char *kind = c->kind == CONN_HTTP ? "http" : c->sio ? "socketio" : "websocket";
        http += c->kind == CONN_HTTP;
        sio += c->kind == CONN_WS && c->sio;
        ws += c->kind == CONN_WS && !c->sio;
        int is_authed = c->kind == CONN_WS && c->pc.authed;
        authed += is_authed;
        if (listed >= max) continue;
        listed++;
        char ip[NET_IP_TEXT];
        json_array_append_new(list, json_pack("{s:s, s:s, s:s?, s:I}", "kind", kind, "ip",
                                              conn_ip(c, ip), "userId",
                                              is_authed ? c->pc.user.sub : NULL, "rooms",
                                              c->kind == CONN_WS ? conn_rooms(c) : 0));
    }
    json_int_t total = ws + sio + http + (json_int_t)s->nsessions;
    return json_pack("{s:I, s:{s:I, s:I, s:I, s:I}, s:I, s:o, s:b}", "total", total, "byKind",
                     "websocket", ws, "socketio", sio, "http", http, "polling",
                     (json_int_t)s->nsessions, "authenticated", authed, "list", list, "more",
                     (size_t)(ws + sio + http) > listed);
}
