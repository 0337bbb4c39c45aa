/* sio_seed.c: seed 003's room:* Socket.IO events mapped onto Chorus ops and events
 * (sio_seed.h, docs/socketio.md). Pure: values in, values out. */
#include "proto/sio_seed.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "util/mem.h"
#include "proto/proto.h"
#include "proto/ws_frame.h"

/* 2^53 - 1: the largest seq a JavaScript client holds exactly. */
#define SEQ_MAX INT64_C(9007199254740991)

/* Seed 003's client events, and the Chorus op each runs. */
static const struct {
    const char *name;
    const char *op;
} seed_in[] = {
    {"room:authenticate", "auth"},    {"room:join", "join"},
    {"room:leave", "leave"},          {"room:message", "message"},
    {"room:state-update", "state"},   {"room:presence-update", "presence"},
    {"room:voice-start", "rtc_join"}, {"room:voice-stop", "rtc_leave"},
};

/* Chorus room events a seed client gets under another name. Voice is the room's call
 * (docs/webrtc.md): a member joining it or leaving it, whoever they are. */
static const struct {
    const char *chorus;
    const char *seed;
} seed_out[] = {
    {"message", "room:message-received"},
    {"participant_joined", "room:participant-joined"},
    {"participant_left", "room:participant-left"},
    {"state", "room:state-updated"},
    {"rtc_member_joined", "room:voice-started"},
    {"rtc_member_left", "room:voice-stopped"},
};

static const char *op_of(const char *name)
{
    if (strncmp(name, "room:", 5) != 0) return NULL;
    for (size_t i = 0; i < CH_ARRAY_LEN(seed_in); i++)
        if (strcmp(seed_in[i].name, name) == 0) return seed_in[i].op;
    return NULL;
}

int sio_seed_is_event(const char *name)
{
    return name && op_of(name) != NULL;
}

/* Returns 1 when s is a non-empty run of letters, digits and '-' of at most max bytes. */
static int plain_id(const char *s, size_t len, size_t max)
{
    if (len == 0 || len > max) return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '-'))
            return 0;
    }
    return 1;
}

int sio_seed_offset_format(char out[SIO_SEED_OFFSET_LEN], const char *room, int64_t seq)
{
    if (!plain_id(room, strlen(room), STORE_ID_LEN - 1) || seq < 0 || seq > SEQ_MAX) return -1;
    snprintf(out, SIO_SEED_OFFSET_LEN, "%s:%" PRId64, room, seq);
    return 0;
}

int sio_seed_offset_parse(const char *s, size_t len, char room[STORE_ID_LEN], int64_t *seq)
{
    const char *colon = memchr(s, ':', len);
    if (!colon) return -1;
    size_t rlen = (size_t)(colon - s), dlen = len - rlen - 1;
    if (!plain_id(s, rlen, STORE_ID_LEN - 1)) return -1;
    if (dlen == 0 || dlen > 16 || (dlen > 1 && colon[1] == '0')) return -1;
    int64_t v = 0;
    for (size_t i = 0; i < dlen; i++) {
        char ch = colon[1 + i];
        if (ch < '0' || ch > '9') return -1;
        v = v * 10 + (ch - '0');
    }
    if (v > SEQ_MAX) return -1;
    memcpy(room, s, rlen);
    room[rlen] = 0;
    *seq = v;
    return 0;
}

/* Sets member key of obj to payload's member key when payload has it. */
static void copy_field(json_t *obj, const char *key, const json_t *payload, const char *as)
{
    json_t *v = json_object_get(payload, key);
    if (v) json_object_set(obj, as ? as : key, v);
}

int sio_seed_request(const sio_seed_t *st, const char *name, const json_t *payload,
                     json_t **req, const char **code, const char **message)
{
    const char *op = name ? op_of(name) : NULL;
    if (!op) return SIO_SEED_ENOTSEED;
    if (payload && !json_is_object(payload) && !json_is_null(payload)) {
        *code = PROTO_BAD_REQUEST;
        *message = "the event's payload must be an object";
        return SIO_SEED_EINVALID;
    }
    json_t *r = json_pack("{s:s}", "op", op);
    if (strcmp(name, "room:authenticate") == 0) {
        copy_field(r, "token", payload, NULL);
        *req = r;
        return 0;
    }
    if (strcmp(name, "room:join") == 0) {
        json_t *room = json_object_get(payload, "roomCode");
        if (!json_is_string(room)) room = json_object_get(payload, "roomId");
        if (!json_is_string(room)) {
            json_decref(r);
            *code = PROTO_BAD_REQUEST;
            *message = "roomCode (a room code, or roomId) is required";
            return SIO_SEED_EINVALID;
        }
        json_object_set(r, "room", room);
        copy_field(r, "displayName", payload, NULL);
        *req = r;
        return 0;
    }
    if (!st->room[0]) {
        json_decref(r);
        *code = PROTO_FORBIDDEN;
        *message = "join a room first (room:join)";
        return SIO_SEED_EINVALID;
    }
    json_object_set_new(r, "room", json_string(st->room));
    if (strcmp(name, "room:message") == 0) {
        json_t *type = json_object_get(payload, "messageType");
        json_object_set_new(r, "type", type ? json_incref(type) : json_string("user_text"));
        copy_field(r, "content", payload, NULL);
        copy_field(r, "metadata", payload, NULL);
    } else if (strcmp(name, "room:state-update") == 0) {
        /* {updates} as seed 003's updateRoomState(updates) sends it, or the updates
         * themselves beside the room's id or code. */
        json_t *updates = json_object_get(payload, "updates");
        json_t *patch;
        if (json_is_object(updates)) {
            patch = json_incref(updates);
        } else {
            patch = json_is_object(payload) ? json_copy((json_t *)payload) : json_object();
            json_object_del(patch, "roomId");
            json_object_del(patch, "roomCode");
        }
        json_object_set_new(r, "patch", patch);
    } else if (strcmp(name, "room:presence-update") == 0) {
        /* A heartbeat: an empty merge patch keeps the member active (not idle). */
        json_t *state = json_object_get(payload, "state");
        json_object_set_new(r, "state",
                            json_is_object(state) ? json_incref(state) : json_object());
    } else if (strcmp(name, "room:voice-start") == 0) {
        /* Voice alone (audio, no camera, no screen); muted is the op's to check. */
        json_object_set_new(r, "audio", json_true());
        json_object_set_new(r, "video", json_false());
        json_object_set_new(r, "screen", json_false());
        copy_field(r, "muted", payload, NULL);
    } /* room:voice-stop: rtc_leave {room} */
    *req = r;
    return 0;
}

/* Returns a new event array [name, payload (stolen)] with the offset of room's seq as a
 * third element when it has one (seq >= 0 and room plain). */
static json_t *event_array(const char *name, json_t *payload, const char *room, int64_t seq)
{
    json_t *a = json_pack("[s, o]", name, payload);
    char off[SIO_SEED_OFFSET_LEN];
    if (room && seq >= 0 && sio_seed_offset_format(off, room, seq) == 0)
        json_array_append_new(a, json_string(off));
    return a;
}

static int64_t int_of(const json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    return json_is_integer(v) ? (int64_t)json_integer_value(v) : -1;
}

size_t sio_seed_answer(sio_seed_t *st, const char *name, const json_t *req, const json_t *data,
                       json_t *out[SIO_SEED_MAX_ANSWER])
{
    const char *op = name ? op_of(name) : NULL;
    if (!op) return 0;
    const char *room = json_string_value(json_object_get(req, "room"));
    if (strcmp(name, "room:authenticate") == 0) {
        out[0] = json_pack("[s, O]", "room:authenticated", data ? data : json_null());
        return 1;
    }
    if (strcmp(name, "room:join") == 0) {
        const char *id =
            json_string_value(json_object_get(json_object_get(data, "room"), "id"));
        if (!id || strlen(id) >= sizeof(st->room)) return 0;
        snprintf(st->room, sizeof(st->room), "%s", id);
        int64_t last = int_of(data, "lastSeq");
        json_t *joined = json_copy((json_t *)data);
        json_t *messages = json_object_get(data, "messages");
        if (!messages)
            messages = json_array();
        else
            json_incref(messages);
        json_object_del(joined, "messages");
        json_object_set_new(joined, "roomId", json_string(id));
        json_object_set(joined, "history", messages);
        out[0] = event_array("room:joined", joined, id, last);
        out[1] =
            event_array("room:messages-history",
                        json_pack("{s:s, s:o}", "roomId", id, "messages", messages), id, last);
        return 2;
    }
    if (!room) return 0;
    if (strcmp(name, "room:leave") == 0) {
        if (strcmp(st->room, room) == 0) st->room[0] = 0;
        out[0] = event_array("room:left", json_pack("{s:s}", "roomId", room), NULL, -1);
        return 1;
    }
    if (strcmp(name, "room:message") == 0) {
        /* The sender's own copy: Chorus sends a message event to the other connections
         * only, seed 003 broadcasts to everyone in the room. */
        json_t *m = json_object_get(data, "message");
        if (!json_is_object(m)) return 0;
        out[0] = event_array("room:message-received",
                             json_pack("{s:s, s:O}", "roomId", room, "message", m), room,
                             int_of(m, "seq"));
        return 1;
    }
    if (strcmp(name, "room:voice-start") == 0) {
        /* The caller's own room:voice-started (the others get rtc_member_joined as it), from
         * rtc_join's answer {id, mode, members}: its member is the one named id. */
        json_t *id = json_object_get(data, "id");
        json_t *members = json_object_get(data, "members"), *m, *mine = NULL;
        size_t i;
        json_array_foreach(members, i, m)
        {
            if (json_is_string(id) && json_equal(json_object_get(m, "id"), id)) mine = m;
        }
        json_t *mode = json_object_get(data, "mode");
        if (!mine || !json_is_string(mode)) return 0;
        out[0] = event_array(
            "room:voice-started",
            json_pack("{s:s, s:O, s:O}", "roomId", room, "mode", mode, "member", mine), NULL,
            -1);
        return 1;
    }
    if (strcmp(name, "room:voice-stop") == 0) {
        /* Likewise from rtc_leave's answer {member: {id, userId}}. */
        json_t *m = json_object_get(data, "member");
        if (!json_is_object(m)) return 0;
        out[0] = event_array(
            "room:voice-stopped",
            json_pack("{s:s, s:O, s:s}", "roomId", room, "member", m, "reason", "left"), NULL,
            -1);
        return 1;
    }
    return 0; /* state: the state event reaches the caller too; presence: nothing */
}

json_t *sio_seed_error(const char *name, const char *code, const char *message,
                       const char *field)
{
    json_t *err = json_pack("{s:s, s:s}", "code", code ? code : "error", "message",
                            message ? message : "");
    if (name) json_object_set_new(err, "event", json_string(name));
    if (field) {
        /* The Chorus field names that seed 003 calls otherwise. */
        if (strcmp(field, "type") == 0)
            field = "messageType";
        else if (strcmp(field, "patch") == 0)
            field = "updates";
        else if (strcmp(field, "room") == 0)
            field = "roomCode";
        json_object_set_new(err, "field", json_string(field));
    }
    return json_pack("[s, o]", "room:error", err);
}

const char *sio_seed_event_name(const bus_event_t *ev)
{
    if (!ev->name || ev->doc) return NULL;
    for (size_t i = 0; i < CH_ARRAY_LEN(seed_out); i++)
        if (strcmp(seed_out[i].chorus, ev->name) == 0) return seed_out[i].seed;
    return NULL;
}

int sio_seed_event_append(cbuf_t **bp, const bus_event_t *ev)
{
    const char *name = sio_seed_event_name(ev);
    if (!name) return SIO_SEED_ENOTSEED;
    CH_ASSERT(ev->nparts <= PROTO_EVENT_MAX_PARTS);
    jpart_t parts[PROTO_EVENT_MAX_PARTS + 1];
    size_t k = 0;
    char quoted[STORE_ID_LEN + 2];
    char off[SIO_SEED_OFFSET_LEN];
    int plain = plain_id(ev->room, strlen(ev->room), STORE_ID_LEN - 1);
    json_t *head = NULL;
    if (plain) {
        snprintf(quoted, sizeof(quoted), "\"%s\"", ev->room);
        parts[k++] = (jpart_t){.key = "roomId", .text = quoted};
    } else {
        head = json_pack("{s:s}", "roomId", ev->room);
        parts[k++] = (jpart_t){.obj = head};
    }
    for (size_t i = 0; i < ev->nparts; i++)
        parts[k++] = ev->parts[i];
    /* The name is one of ours: plain text, written as is. */
    cbuf_append(bp, "[\"", 2);
    cbuf_append(bp, name, strlen(name));
    cbuf_append(bp, "\",", 2);
    proto_append_parts(bp, parts, k);
    if (strcmp(ev->name, "message") == 0 && ev->seq > 0 &&
        sio_seed_offset_format(off, ev->room, ev->seq) == 0) {
        cbuf_append(bp, ",\"", 2);
        cbuf_append(bp, off, strlen(off));
        cbuf_append(bp, "\"", 1);
    }
    cbuf_append(bp, "]", 1);
    json_decref(head);
    return 0;
}

cbuf_t *sio_seed_frame_event(const bus_event_t *ev)
{
    if (!sio_seed_event_name(ev)) return NULL;
    /* 1 KiB: a guess for the payload objects; a bigger one grows the buffer. */
    cbuf_t *b = cbuf_new(WS_MAX_HEADER + 1024);
    b->off = WS_MAX_HEADER;
    cbuf_append(&b, "42", 2); /* Engine.IO message, Socket.IO EVENT on "/" */
    CH_ASSERT(sio_seed_event_append(&b, ev) == 0);
    uint8_t hdr[WS_MAX_HEADER];
    size_t h = ws_frame_header(hdr, WS_OP_TEXT, b->len);
    b->off -= h;
    b->len += h;
    memcpy(b->data + b->off, hdr, h);
    return b;
}
