/* proto_sio.c: Socket.IO 5 on a protocol client: CONNECT with a Chorus token, events as
 * Chorus ops, acks as their replies, Chorus events and replies wrapped as Socket.IO
 * packets. */
#include "proto/proto_sio.h"
#include "proto/sio_seed_conn.h"

#include <stdio.h>
#include <string.h>

#include "auth/auth_random.h"
#include "util/mem.h"
#include "proto/eio_packet.h"
#include "proto/ws_frame.h"

void proto_sio_init(proto_sio_t *s)
{
    memset(s, 0, sizeof(*s));
}

void proto_sio_register(proto_sio_t *s, const proto_sio_handler_t *h, size_t n)
{
    CH_ASSERT(s->ntables < PROTO_SIO_MAX_TABLES);
    s->tables[s->ntables] = h;
    s->sizes[s->ntables] = n;
    s->ntables++;
}

static const proto_sio_handler_t *find_handler(const proto_sio_t *s, const char *name)
{
    for (size_t t = 0; t < s->ntables; t++)
        for (size_t i = 0; i < s->sizes[t]; i++)
            if (strcmp(s->tables[t][i].name, name) == 0) return &s->tables[t][i];
    return NULL;
}

/* A new text frame with room for n payload bytes after the header (filled by the caller,
 * then closed with close_text). */
static cbuf_t *open_text(size_t n)
{
    cbuf_t *b = cbuf_new(WS_MAX_HEADER + n);
    b->off = WS_MAX_HEADER;
    return b;
}

static cbuf_t *close_text(cbuf_t *b)
{
    uint8_t hdr[WS_MAX_HEADER];
    size_t h = ws_frame_header(hdr, WS_OP_TEXT, b->len);
    b->off -= h;
    b->len += h;
    memcpy(b->data + b->off, hdr, h);
    return b;
}

void proto_sio_send(proto_client_t *c, const char *text, size_t len)
{
    cbuf_t *b = open_text(len + 1);
    cbuf_append(&b, "4", 1);
    cbuf_append(&b, text, len);
    close_text(b);
    c->tr->send(c, b);
    cbuf_unref(b);
}

/* 1 when s is plain enough to be written between quotes as it is. */
static int plain_name(const char *s)
{
    if (!*s) return 0;
    for (; *s; s++) {
        char ch = *s;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-' || ch == ':'))
            return 0;
    }
    return 1;
}

/* Sends c the Socket.IO packet head (h bytes) followed by arg (NUL-terminated JSON; NULL:
 * none) and "]", as one Engine.IO message. */
static void send_packet(proto_client_t *c, const char *head, size_t h, const char *arg)
{
    size_t alen = arg ? strlen(arg) : 0;
    cbuf_t *b = open_text(h + alen + 2);
    cbuf_append(&b, "4", 1);
    cbuf_append(&b, head, h);
    if (arg) cbuf_append(&b, arg, alen);
    cbuf_append(&b, "]", 1);
    close_text(b);
    c->tr->send(c, b);
    cbuf_unref(b);
}

void proto_sio_emit(proto_client_t *c, const char *name, const char *arg)
{
    CH_ASSERT(plain_name(name) && strlen(name) < 64);
    char head[80];
    int h = snprintf(head, sizeof(head), "2[\"%s\"%s", name, arg ? "," : "");
    send_packet(c, head, (size_t)h, arg);
}

void proto_sio_ack(proto_client_t *c, int64_t id, const char *arg)
{
    char head[40];
    int h = snprintf(head, sizeof(head), "3%lld[", (long long)id);
    send_packet(c, head, (size_t)h, arg);
}

/* Sends a CONNECT_ERROR for the namespace of pkt: {"message", "data": {"code", ...}}. */
static void connect_error(proto_client_t *c, const sio_packet_t *pkt, const char *code,
                          const char *message, json_int_t retry_ms)
{
    json_t *data = json_pack("{s:s}", "code", code);
    if (retry_ms) json_object_set_new(data, "retryAfterMs", json_integer(retry_ms));
    json_t *err = json_pack("{s:s, s:o}", "message", message, "data", data);
    char *text = json_dumps(err, JSON_COMPACT);
    json_decref(err);
    cbuf_t *b = open_text(strlen(text) + pkt->nsp_len + 4);
    cbuf_append(&b, "44", 2);
    if (!sio_nsp_is(pkt, "/")) {
        cbuf_append(&b, pkt->nsp, pkt->nsp_len);
        cbuf_append(&b, ",", 1);
    }
    cbuf_append(&b, text, strlen(text));
    free(text);
    close_text(b);
    c->tr->send(c, b);
    cbuf_unref(b);
}

/* CONNECT: "/" only; an auth object's token (optional: without one the client must send
 * the auth op before the auth timeout, as on /ws) is verified like /ws's. */
static int on_connect(proto_sio_t *s, proto_t *p, proto_client_t *c, proto_sio_conn_t *st,
                      const sio_packet_t *pkt, uint64_t now_ms)
{
    /* The namespace is written back in the answer: keep it to what a name looks like. */
    if (pkt->nsp_len > 128 || memchr(pkt->nsp, '"', pkt->nsp_len) ||
        memchr(pkt->nsp, '\\', pkt->nsp_len))
        return PROTO_SIO_EBAD;
    if (!sio_nsp_is(pkt, "/")) {
        connect_error(c, pkt, "invalid_namespace", "Invalid namespace", 0);
        return 0;
    }
    json_t *auth = NULL;
    if (pkt->len) {
        json_error_t jerr;
        auth = json_loadb(pkt->data, pkt->len, JSON_REJECT_DUPLICATES, &jerr);
        if (!json_is_object(auth)) {
            json_decref(auth);
            return PROTO_SIO_EBAD;
        }
    }
    json_t *tok = json_object_get(auth, "token");
    if (tok && !json_is_null(tok)) {
        if (!json_is_string(tok)) {
            json_decref(auth);
            connect_error(c, pkt, PROTO_BAD_REQUEST, "auth.token must be a string", 0);
            return 0;
        }
        auth_claims_t u;
        const char *why = "invalid token";
        uint64_t retry_ms = 0;
        const char *ip = c->tr->peer ? c->tr->peer(c) : "";
        int rc = proto_auth_verify(p, ip ? ip : "", json_string_value(tok),
                                   json_string_length(tok), now_ms, &u, &why, &retry_ms);
        if (rc != 0) proto_log(p, c, LOG_INFO, "socket.io auth refused: %s", why);
        if (rc != 0 || (c->authed && strcmp(c->user.sub, u.sub) != 0)) json_decref(auth);
        if (rc == PROTO_AUTH_ELIMITED) {
            connect_error(c, pkt, PROTO_RATE_LIMITED, why, (json_int_t)retry_ms);
            return 0;
        }
        if (rc != 0) {
            connect_error(c, pkt, PROTO_UNAUTHORIZED, why, 0);
            return 0;
        }
        if (c->authed && strcmp(c->user.sub, u.sub) != 0) {
            connect_error(c, pkt, PROTO_FORBIDDEN, "this connection belongs to another user",
                          0);
            return 0;
        }
        proto_auth_start(p, c, &u, now_ms);
    }
    if (!st->connected) auth_random_hex(st->sid, PROTO_SIO_SID_LEN / 2);
    st->connected = 1;
    /* The answer, with a pid for connection state recovery, maybe after a recovery. */
    sio_seed_conn_connect(s->seed, p, c, st, auth, now_ms);
    json_decref(auth);
    return 0;
}

/* An error for an event that could not become an op: an ACK with the reply a /ws client
 * would get, or an error event without an ack id. */
static void event_error(proto_t *p, proto_client_t *c, const char *name,
                        const sio_packet_t *pkt, const char *code, const char *message)
{
    proto_req_t req = {.p = p, .c = c, .op = name, .has_ref = pkt->has_id, .ref = pkt->id};
    proto_reply_error(&req, code, "%s", message);
}

static int on_event(proto_sio_t *s, proto_t *p, proto_client_t *c, proto_sio_conn_t *st,
                    const sio_packet_t *pkt, uint64_t now_ms)
{
    json_t *args;
    const char *name;
    if (sio_event_args(pkt, &args, &name) != 0) return PROTO_SIO_EBAD;
    const proto_sio_handler_t *h = find_handler(s, name);
    if (h) {
        h->fn(h->ud, p, c, st, args, pkt->has_id, pkt->id, now_ms);
        json_decref(args);
        return 0;
    }
    size_t n = json_array_size(args);
    json_t *fields = n > 1 ? json_array_get(args, 1) : NULL;
    if (n > 2 || (fields && !json_is_object(fields))) {
        event_error(p, c, name, pkt, PROTO_BAD_REQUEST,
                    "emit(op, fields, ack): fields must be one object");
    } else if (fields) {
        proto_run(p, c, name, pkt->has_id, pkt->id, fields, now_ms);
    } else {
        json_t *none = json_object();
        proto_run(p, c, name, pkt->has_id, pkt->id, none, now_ms);
        json_decref(none);
    }
    json_decref(args);
    return 0;
}

int proto_sio_handle(proto_sio_t *s, proto_t *p, proto_client_t *c, proto_sio_conn_t *st,
                     const char *buf, size_t len, uint64_t now_ms)
{
    sio_packet_t pkt;
    if (st->skip) return PROTO_SIO_EBAD; /* attachments announced, text came */
    if (sio_decode(buf, len, &pkt) != 0) return PROTO_SIO_EBAD;
    switch (pkt.type) {
    case SIO_CONNECT:
        return on_connect(s, p, c, st, &pkt, now_ms);
    case SIO_DISCONNECT:
        if (sio_nsp_is(&pkt, "/")) st->connected = 0;
        return 0;
    case SIO_EVENT:
        if (!st->connected || !sio_nsp_is(&pkt, "/")) return 0; /* not connected: ignored */
        return on_event(s, p, c, st, &pkt, now_ms);
    case SIO_ACK:
        return 0; /* the server asks for no acks */
    case SIO_BINARY_EVENT:
    case SIO_BINARY_ACK:
        /* Refused (docs/socketio.md): Chorus ops take JSON fields. Its attachments are
         * dropped as they come. */
        st->skip = pkt.attachments;
        if (pkt.type == SIO_BINARY_EVENT && st->connected && sio_nsp_is(&pkt, "/"))
            event_error(p, c, "binary", &pkt, "unsupported",
                        "binary attachments are not supported: send JSON");
        return 0;
    case SIO_CONNECT_ERROR:
        return PROTO_SIO_EBAD;
    }
    return PROTO_SIO_EBAD;
}

int proto_sio_binary(proto_sio_conn_t *st)
{
    if (!st->skip) return PROTO_SIO_EBAD;
    st->skip--;
    return 0;
}

int proto_sio_is_envelope(const cbuf_t *f)
{
    size_t start;
    size_t n = eio_frame_payload(f, &start);
    return n > 0 && f->data[start] == '{';
}

#define REPLY_HEAD "{\"op\":\"reply\",\"ref\":"
#define OP_HEAD "{\"op\":\""

cbuf_t *proto_sio_wrap(const cbuf_t *f)
{
    size_t start;
    size_t n = eio_frame_payload(f, &start);
    const char *p = (const char *)f->data + start;
    char head[96];
    int h = -1;
    size_t rl = sizeof(REPLY_HEAD) - 1, ol = sizeof(OP_HEAD) - 1;
    if (n > rl && memcmp(p, REPLY_HEAD, rl) == 0) {
        size_t i = rl;
        while (i < n && i - rl < 20 && p[i] >= '0' && p[i] <= '9')
            i++;
        if (i > rl && i < n && p[i] == ',')
            h = snprintf(head, sizeof(head), "43%.*s[", (int)(i - rl), p + rl);
    }
    if (h < 0 && n > ol && memcmp(p, OP_HEAD, ol) == 0) {
        const char *q = memchr(p + ol, '"', n - ol);
        /* Names the server writes are plain (no escapes): copied as they are. */
        if (q && q - (p + ol) < 64)
            h = snprintf(head, sizeof(head), "42[\"%.*s\",", (int)(q - (p + ol)), p + ol);
    }
    CH_ASSERT(h > 0); /* every envelope frame proto.c makes is one of the two */
    cbuf_t *b = open_text((size_t)h + n + 1);
    cbuf_append(&b, head, (size_t)h);
    cbuf_append(&b, p, n);
    cbuf_append(&b, "]", 1);
    return close_text(b);
}

cbuf_t *proto_sio_frame_event(const bus_event_t *ev)
{
    char before[96];
    if (plain_name(ev->name) && strlen(ev->name) < 64) {
        snprintf(before, sizeof(before), "42[\"%s\",", ev->name);
        return proto_frame_event_in(ev, before, "]");
    }
    /* Not seen in practice (event names are plain): the name escaped by jansson. */
    json_t *name = json_string(ev->name);
    char *q = json_dumps(name, JSON_ENCODE_ANY);
    json_decref(name);
    size_t len = strlen(q) + 6;
    char *b = ch_malloc(len);
    snprintf(b, len, "42[%s,", q);
    free(q);
    cbuf_t *frame = proto_frame_event_in(ev, b, "]");
    free(b);
    return frame;
}

const proto_dialect_t proto_sio_dialect = {.kind = 1, .frame_event = proto_sio_frame_event};
