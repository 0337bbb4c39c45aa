/* sio_seed_conn.c: seed 003's Socket.IO session on a connection (sio_seed_conn.h): room:*
 * events run as Chorus ops with internal (negative) refs, their replies become room:*
 * events and acks, and a CONNECT that asks for it recovers the missed messages. */
#include "proto/sio_seed_conn.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_random.h"
#include "domain/rooms.h"
#include "proto/eio_packet.h"
#include "proto/sio_recover.h"
#include "proto/sio_seed.h"
#include "util/mem.h"

/* What a pending internal ref answers: a room:* event (its name), or a recovery. */
typedef struct {
    int64_t ref;      /* the internal ref (negative) */
    int64_t ack;      /* the client's ack id; -1 = none */
    const char *name; /* the room:* event (static); NULL = a recovery's join */
    char room[STORE_ID_LEN];
    int64_t seq; /* a recovery: the offset's seq */
} pending_t;

/* The name of a room_reset's rejoin (sio_seed_conn_event): answered as a room:join, and
 * known by this address (an object of its own, not the table's literal). */
static const char rejoin_name[] = "room:join";

struct sio_seed_conn_s {
    sio_seed_t st;
    int64_t last_ref;   /* internal refs: -1, -2, … */
    pending_t *pending; /* npending live of cap (grown on demand, kept) */
    uint32_t npending, cap;
    char pid[SIO_RECOVER_PID_LEN + 1]; /* a recovery's pid until its answer */
    /* A room_reset's rejoin (sio_seed_conn_event): the context (NULL: none), and while it
     * waits in ctx->waiting, the connection, the list's links and when it is due. */
    sio_seed_ctx_t *ctx;
    proto_client_t *c;
    struct sio_seed_conn_s *next, **prevp;
    uint64_t due;
    uint8_t tries;     /* rejoins answered unavailable in a row */
    uint8_t rejoining; /* waiting, or its join on its way: one at a time */
};

static rooms_t *rooms_of(proto_t *p)
{
    return p->app;
}

/* c's seed session, made (and the connection switched to seed 003's dialect) at need. */
static struct sio_seed_conn_s *session(proto_client_t *c, proto_sio_conn_t *st)
{
    if (!st->seed) st->seed = ch_calloc(1, sizeof(*st->seed));
    if (st->seed_tr && c->tr != st->seed_tr) c->tr = st->seed_tr;
    return st->seed;
}

/* Sends the Socket.IO packet "2" + the event array ev (stolen). */
static void send_event(proto_client_t *c, json_t *ev)
{
    char *text = json_dumps(ev, JSON_COMPACT);
    json_decref(ev);
    CH_ASSERT(text != NULL);
    size_t n = strlen(text);
    char *pkt = ch_malloc(n + 2);
    pkt[0] = '2';
    memcpy(pkt + 1, text, n + 1);
    proto_sio_send(c, pkt, n + 1);
    free(pkt);
    free(text);
}

/* Sends CONNECT's answer: {"sid", "pid"}. */
static void send_connect(proto_client_t *c, proto_sio_conn_t *st, const char *pid)
{
    char text[PROTO_SIO_SID_LEN + SIO_RECOVER_PID_LEN + 32];
    int n = snprintf(text, sizeof(text), "0{\"sid\":\"%s\",\"pid\":\"%s\"}", st->sid, pid);
    proto_sio_send(c, text, (size_t)n);
}

static void fresh_connect(proto_client_t *c, proto_sio_conn_t *st)
{
    char pid[SIO_RECOVER_PID_LEN + 1];
    auth_random_hex(pid, SIO_RECOVER_PID_LEN / 2);
    send_connect(c, st, pid);
}

/* A new pending ref of s, or NULL when SIO_SEED_MAX_PENDING are. */
static pending_t *pending_add(struct sio_seed_conn_s *s)
{
    if (s->npending >= SIO_SEED_MAX_PENDING) return NULL;
    if (s->npending == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 2;
        s->pending = ch_realloc(s->pending, s->cap * sizeof(*s->pending));
    }
    pending_t *q = &s->pending[s->npending++];
    memset(q, 0, sizeof(*q));
    q->ref = --s->last_ref;
    q->ack = -1;
    return q;
}

static pending_t *pending_find(struct sio_seed_conn_s *s, int64_t ref)
{
    for (uint32_t i = 0; i < s->npending; i++)
        if (s->pending[i].ref == ref) return &s->pending[i];
    return NULL;
}

/* Drops q (taken out of the list; order does not matter: refs name them). */
static void pending_drop(struct sio_seed_conn_s *s, pending_t *q)
{
    *q = s->pending[--s->npending];
}

/* ---- a room_reset's rejoin ---- */

#define REJOIN_BASE_MS 250

/* Takes s out of its context's waiting list (if it is in it). */
static void rejoin_unlink(struct sio_seed_conn_s *s)
{
    if (!s->prevp) return;
    *s->prevp = s->next;
    if (s->next) s->next->prevp = s->prevp;
    s->next = NULL;
    s->prevp = NULL;
}

/* Puts s at the head of x's waiting list. */
static void rejoin_link(sio_seed_ctx_t *x, struct sio_seed_conn_s *s)
{
    s->next = x->waiting;
    if (s->next) s->next->prevp = &s->next;
    x->waiting = s;
    s->prevp = &x->waiting;
}

static void rejoin_arm(sio_seed_ctx_t *x);

/* The timer: every waiting session that is due sends its join ({"room": its room}, an
 * internal ref answered as a room:join); the timer is set again for the rest. */
static void on_rejoin_timer(uv_timer_t *t)
{
    sio_seed_ctx_t *x = t->data;
    uint64_t now = uv_now(x->loop);
    struct sio_seed_conn_s *s = x->waiting, *next;
    for (; s; s = next) {
        next = s->next;
        if (s->due > now) continue;
        rejoin_unlink(s);
        if (!s->st.room[0]) { /* left meanwhile (room:leave) */
            s->rejoining = 0;
            continue;
        }
        pending_t *q = pending_add(s);
        if (!q) { /* its own room:* events fill the table: they go first */
            s->due = now + REJOIN_BASE_MS;
            rejoin_link(x, s);
            continue;
        }
        q->name = rejoin_name;
        snprintf(q->room, sizeof(q->room), "%s", s->st.room);
        int64_t ref = q->ref;
        json_t *args = json_pack("{s:s}", "room", s->st.room);
        proto_run(x->p, s->c, "join", 1, ref, args, now);
        json_decref(args);
    }
    rejoin_arm(x);
}

/* Sets the timer for the first waiting session due (stops it when none waits). */
static void rejoin_arm(sio_seed_ctx_t *x)
{
    if (x->closed) return;
    if (!x->waiting) {
        if (x->timer_made) uv_timer_stop(&x->timer);
        return;
    }
    if (!x->timer_made) {
        uv_timer_init(x->loop, &x->timer);
        x->timer.data = x;
        x->timer_made = 1;
    }
    uint64_t now = uv_now(x->loop), first = UINT64_MAX;
    for (struct sio_seed_conn_s *s = x->waiting; s; s = s->next)
        if (s->due < first) first = s->due;
    uv_timer_start(&x->timer, on_rejoin_timer, first > now ? first - now : 0, 0);
}

/* Puts s (of connection c) in its context's waiting list, its join due in delay ms. */
static void rejoin_later(struct sio_seed_conn_s *s, proto_client_t *c, uint64_t delay)
{
    sio_seed_ctx_t *x = s->ctx;
    if (x->closed) {
        s->rejoining = 0;
        return;
    }
    s->c = c;
    s->rejoining = 1;
    s->due = uv_now(x->loop) + delay;
    rejoin_link(x, s);
    rejoin_arm(x);
}

#define RESET_HEAD "42[\"room_reset\","

void sio_seed_conn_event(proto_client_t *c, proto_sio_conn_t *st, const cbuf_t *f)
{
    struct sio_seed_conn_s *s = st->seed;
    if (!s || !s->ctx || !s->st.room[0] || s->rejoining) return;
    size_t start, hl = sizeof(RESET_HEAD) - 1;
    size_t n = eio_frame_payload(f, &start);
    const char *p = (const char *)f->data + start;
    if (n <= hl || memcmp(p, RESET_HEAD, hl) != 0) return;
    /* {"op":"room_reset","room":"<id>",…}: the room's id is plain (no escapes). */
    char want[STORE_ID_LEN + 12];
    int wl = snprintf(want, sizeof(want), "\"room\":\"%s\"", s->st.room);
    if (wl <= 0 || !memmem(p + hl, n - hl, want, (size_t)wl)) return;
    s->tries = 0;
    rejoin_later(s, c, 0);
}

/* The answer to a rejoin: joined (ok), or refused with code (borrowed). Returns 1 when it
 * is tried again later (unavailable: the room not served yet), else 0. */
static int rejoin_done(proto_client_t *c, struct sio_seed_conn_s *s, int ok, const char *code)
{
    s->rejoining = 0;
    if (ok) return 0;
    if (code && (!strcmp(code, "unavailable") || !strcmp(code, "service_unavailable")) &&
        ++s->tries < SIO_SEED_REJOIN_TRIES && s->ctx) {
        rejoin_later(s, c, (uint64_t)REJOIN_BASE_MS << (s->tries - 1));
        return 1;
    }
    s->st.room[0] = 0; /* out of the room: its room:* events need a room:join */
    return 0;
}

/* ---- room:* events in ---- */

/* Refuses a room:* event: the ack (when asked) gets an error reply, room:error follows. */
static void refuse(proto_client_t *c, const char *name, int has_id, int64_t id,
                   const char *code, const char *message)
{
    if (has_id) {
        json_t *r =
            json_pack("{s:s, s:I, s:b, s:{s:s, s:s}}", "op", "reply", "ref", (json_int_t)id,
                      "ok", 0, "error", "code", code, "message", message);
        char *t = json_dumps(r, JSON_COMPACT);
        proto_sio_ack(c, id, t);
        free(t);
        json_decref(r);
    }
    send_event(c, sio_seed_error(name, code, message, NULL));
}

static void on_seed_event(void *ud, proto_t *p, proto_client_t *c, proto_sio_conn_t *st,
                          json_t *args, int has_id, int64_t id, uint64_t now_ms)
{
    const char *name = json_string_value(json_array_get(args, 0));
    struct sio_seed_conn_s *s = session(c, st);
    if (ud) s->ctx = ud;
    if (json_array_size(args) > 2) {
        refuse(c, name, has_id, id, PROTO_BAD_REQUEST, "emit(event, payload): one payload");
        return;
    }
    json_t *req = NULL;
    const char *code = NULL, *message = NULL;
    if (sio_seed_request(&s->st, name, json_array_get(args, 1), &req, &code, &message) != 0) {
        refuse(c, name, has_id, id, code, message);
        return;
    }
    pending_t *q = pending_add(s);
    if (!q) {
        json_decref(req);
        refuse(c, name, has_id, id, PROTO_RATE_LIMITED,
               "too many room:* events waiting for their answers");
        return;
    }
    /* The table's own name: static, outlives the session. */
    static const char *const names[] = {"room:authenticate", "room:join",
                                        "room:leave",        "room:message",
                                        "room:state-update", "room:presence-update",
                                        "room:voice-start",  "room:voice-stop"};
    for (size_t i = 0; i < CH_ARRAY_LEN(names); i++)
        if (strcmp(names[i], name) == 0) q->name = names[i];
    CH_ASSERT(q->name != NULL);
    q->ack = has_id ? id : -1;
    const char *room = json_string_value(json_object_get(req, "room"));
    if (room && strcmp(q->name, "room:join") != 0)
        snprintf(q->room, sizeof(q->room), "%s", room);
    int64_t ref = q->ref; /* q may move: the reply can come before proto_run returns */
    proto_run(p, c, json_string_value(json_object_get(req, "op")), 1, ref, req, now_ms);
    json_decref(req);
}

static const proto_sio_handler_t seed_handlers[] = {
    {"room:authenticate", on_seed_event, NULL}, {"room:join", on_seed_event, NULL},
    {"room:leave", on_seed_event, NULL},        {"room:message", on_seed_event, NULL},
    {"room:state-update", on_seed_event, NULL}, {"room:presence-update", on_seed_event, NULL},
    {"room:voice-start", on_seed_event, NULL},  {"room:voice-stop", on_seed_event, NULL},
};

void sio_seed_conn_register(proto_sio_t *s)
{
    proto_sio_register(s, seed_handlers, CH_ARRAY_LEN(seed_handlers));
}

void sio_seed_conn_init(sio_seed_ctx_t *x, proto_sio_t *s, proto_t *p, uv_loop_t *loop)
{
    memset(x, 0, sizeof(*x));
    x->p = p;
    x->loop = loop;
    static const char *const names[] = {"room:authenticate", "room:join",
                                        "room:leave",        "room:message",
                                        "room:state-update", "room:presence-update",
                                        "room:voice-start",  "room:voice-stop"};
    _Static_assert(sizeof(names) / sizeof(names[0]) ==
                       sizeof(x->handlers) / sizeof(x->handlers[0]),
                   "one handler an event");
    for (size_t i = 0; i < CH_ARRAY_LEN(names); i++)
        x->handlers[i] = (proto_sio_handler_t){names[i], on_seed_event, x};
    s->seed = x;
    proto_sio_register(s, x->handlers, CH_ARRAY_LEN(x->handlers));
}

void sio_seed_conn_close(sio_seed_ctx_t *x)
{
    if (x->closed) return;
    x->closed = 1;
    if (x->timer_made) uv_close((uv_handle_t *)&x->timer, NULL);
}

/* ---- CONNECT and recovery ---- */

void sio_seed_conn_connect(sio_seed_ctx_t *x, proto_t *p, proto_client_t *c,
                           proto_sio_conn_t *st, const json_t *auth, uint64_t now_ms)
{
    char pid[SIO_RECOVER_PID_LEN + 1], room_id[STORE_ID_LEN];
    int64_t seq;
    if (!c->authed || !sio_recover_asked(auth, pid, room_id, &seq)) {
        fresh_connect(c, st);
        return;
    }
    /* Only a room the user is still a participant of is rejoined: a recovery never takes a
     * seat (the user may have left it). */
    room_t *room = rooms_get(rooms_of(p), room_id);
    uint64_t retry_ms = 0;
    const char *ip = c->tr->peer ? c->tr->peer(c) : NULL;
    if (!room ||
        rooms_access(rooms_of(p), room, c->user.sub, ip, ROOMS_SEEK_MEMBER, &retry_ms) != 0) {
        fresh_connect(c, st);
        return;
    }
    struct sio_seed_conn_s *s = session(c, st);
    if (x) s->ctx = x;
    pending_t *q = pending_add(s);
    if (!q) {
        fresh_connect(c, st);
        return;
    }
    snprintf(q->room, sizeof(q->room), "%s", room->id);
    q->seq = seq;
    memcpy(s->pid, pid, sizeof(s->pid));
    int64_t ref = q->ref;
    json_t *args = json_pack("{s:s}", "room", room->id);
    proto_run(p, c, "join", 1, ref, args, now_ms);
    json_decref(args);
}

/* The recovery's join answered data (borrowed; NULL: it failed): CONNECT with the
 * client's pid and the missed messages, or with a new pid. */
static void recovered(proto_client_t *c, proto_sio_conn_t *st, pending_t *q, json_t *data)
{
    struct sio_seed_conn_s *s = st->seed;
    json_t *missed = NULL;
    if (!data || sio_recover_missed(data, q->seq, &missed) != 0) {
        fresh_connect(c, st);
        return;
    }
    snprintf(s->st.room, sizeof(s->st.room), "%s", q->room);
    send_connect(c, st, s->pid);
    size_t i;
    json_t *m;
    json_array_foreach(missed, i, m)
    {
        char off[SIO_SEED_OFFSET_LEN];
        json_t *ev = json_pack("[s, {s:s, s:O}]", "room:message-received", "roomId", q->room,
                               "message", m);
        json_t *seq = json_object_get(m, "seq");
        if (json_is_integer(seq) &&
            sio_seed_offset_format(off, q->room, (int64_t)json_integer_value(seq)) == 0)
            json_array_append_new(ev, json_string(off));
        send_event(c, ev);
    }
    json_decref(missed);
}

/* ---- replies to internal refs ---- */

#define REPLY_HEAD "{\"op\":\"reply\",\"ref\":-"
#define OK_TRUE ",\"ok\":true,\"data\":"

/* Reads the internal ref at the head of the envelope p[0..n): returns the offset just after
 * its digits and sets *ref, or 0 when p is not a reply to an internal ref. */
static size_t internal_ref(const char *p, size_t n, int64_t *ref)
{
    size_t hl = sizeof(REPLY_HEAD) - 1, i = hl;
    if (n <= hl || memcmp(p, REPLY_HEAD, hl) != 0) return 0;
    int64_t v = 0;
    while (i < n && i - hl < 18 && p[i] >= '0' && p[i] <= '9')
        v = v * 10 + (p[i++] - '0');
    if (i == hl || i >= n || p[i] != ',') return 0;
    *ref = -v;
    return i;
}

/* Sends the ack id the envelope p[0..n) with its ref at p[head..] as the ack's one
 * argument, the client's ack id in the ref's place: a copy, nothing decoded. */
static void ack_copy(proto_client_t *c, int64_t id, const char *p, size_t n, size_t after)
{
    char head[64];
    int h =
        snprintf(head, sizeof(head), "3%" PRId64 "[{\"op\":\"reply\",\"ref\":%" PRId64, id, id);
    size_t len = (size_t)h + (n - after) + 2;
    char *pkt = ch_malloc(len);
    memcpy(pkt, head, (size_t)h);
    memcpy(pkt + h, p + after, n - after);
    pkt[len - 2] = ']';
    proto_sio_send(c, pkt, len - 1);
    free(pkt);
}

/* The top-level "seq" of the message object at p[0..n) ({"id":…,"seq":N,…}), -1 when
 * absent: a scan that skips strings and nested values, so nothing is decoded. */
static int64_t message_seq(const char *p, size_t n)
{
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = p[i];
        if (ch == '"') {
            size_t start = i + 1;
            for (i++; i < n && p[i] != '"'; i++)
                if (p[i] == '\\') i++;
            if (depth == 1 && i - start == 3 && memcmp(p + start, "seq", 3) == 0 && i + 1 < n &&
                p[i + 1] == ':') {
                int64_t v = 0;
                size_t j = i + 2;
                if (j >= n || p[j] < '0' || p[j] > '9') return -1;
                while (j < n && p[j] >= '0' && p[j] <= '9' && v < INT64_MAX / 10)
                    v = v * 10 + (p[j++] - '0');
                return v;
            }
        } else if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            depth--;
        }
    }
    return -1;
}

/* The sender's own room:message-received from its reply's data text d[0..n)
 * ({"message":{…}}), spliced: ["room:message-received",{"roomId":…,"message":{…}},off]. */
static void own_message(proto_client_t *c, const char *room, const char *d, size_t n)
{
    const char *key = "{\"message\":";
    size_t kl = strlen(key);
    if (n < kl + 2 || memcmp(d, key, kl) != 0 || d[n - 1] != '}') return;
    char off[SIO_SEED_OFFSET_LEN];
    int64_t seq = message_seq(d + kl, n - kl - 1);
    int has_off = seq >= 0 && sio_seed_offset_format(off, room, seq) == 0;
    char head[96];
    int h =
        snprintf(head, sizeof(head), "2[\"room:message-received\",{\"roomId\":\"%s\",", room);
    size_t len = (size_t)h + (n - 1) + (has_off ? strlen(off) + 3 : 0) + 1;
    char *pkt = ch_malloc(len + 1);
    size_t k = 0;
    memcpy(pkt, head, (size_t)h);
    k = (size_t)h;
    memcpy(pkt + k, d + 1, n - 1); /* "message":{…}} */
    k += n - 1;
    if (has_off) k += (size_t)snprintf(pkt + k, len + 1 - k, ",\"%s\"", off);
    pkt[k++] = ']';
    proto_sio_send(c, pkt, k);
    free(pkt);
}

/* A reply that is an error, or whose data a room:* answer needs whole (join, auth, voice):
 * the envelope decoded (not a hot path). */
static void answer_decoded(proto_client_t *c, proto_sio_conn_t *st, pending_t *q, const char *p,
                           size_t n)
{
    json_t *env = json_loadb(p, n, 0, NULL);
    json_t *data = json_object_get(env, "data");
    if (q->name == rejoin_name &&
        rejoin_done(
            c, st->seed, json_is_true(json_object_get(env, "ok")),
            json_string_value(json_object_get(json_object_get(env, "error"), "code")))) {
        json_decref(env); /* tried again later: nothing to tell yet */
        return;
    }
    if (json_is_true(json_object_get(env, "ok"))) {
        if (!q->name) {
            recovered(c, st, q, data);
        } else {
            json_t *req = json_pack("{s:s}", "room", q->room);
            json_t *out[SIO_SEED_MAX_ANSWER];
            size_t k = sio_seed_answer(&st->seed->st, q->name, req, data, out);
            for (size_t i = 0; i < k; i++)
                send_event(c, out[i]);
            json_decref(req);
        }
    } else {
        json_t *err = json_object_get(env, "error");
        if (!q->name)
            fresh_connect(c, st);
        else
            send_event(c,
                       sio_seed_error(q->name, json_string_value(json_object_get(err, "code")),
                                      json_string_value(json_object_get(err, "message")),
                                      json_string_value(json_object_get(err, "field"))));
    }
    json_decref(env);
}

int sio_seed_conn_reply(proto_client_t *c, proto_sio_conn_t *st, const cbuf_t *f)
{
    struct sio_seed_conn_s *s = st->seed;
    if (!s || !s->npending) return 0;
    size_t start;
    size_t n = eio_frame_payload(f, &start);
    const char *p = (const char *)f->data + start;
    int64_t ref;
    size_t after = internal_ref(p, n, &ref);
    pending_t *q = after ? pending_find(s, ref) : NULL;
    if (!q) return 0;
    pending_t done = *q; /* taken out first: what runs below may add more */
    pending_drop(s, q);
    if (done.ack >= 0) ack_copy(c, done.ack, p, n, after);
    size_t ol = sizeof(OK_TRUE) - 1;
    int ok = n - after > ol && memcmp(p + after, OK_TRUE, ol) == 0;
    if (!ok || !done.name || !strcmp(done.name, "room:join") ||
        !strcmp(done.name, "room:authenticate") || !strncmp(done.name, "room:voice", 10)) {
        answer_decoded(c, st, &done, p, n);
    } else if (!strcmp(done.name, "room:message")) {
        /* The hot path: the reply's data spliced, not decoded. */
        own_message(c, done.room, p + after + ol, n - after - ol - 1);
    } else if (!strcmp(done.name, "room:leave")) {
        json_t *req = json_pack("{s:s}", "room", done.room);
        json_t *out[SIO_SEED_MAX_ANSWER];
        size_t k = sio_seed_answer(&s->st, done.name, req, NULL, out);
        for (size_t i = 0; i < k; i++)
            send_event(c, out[i]);
        json_decref(req);
    } /* state, presence: no event of their own */
    return 1;
}

void sio_seed_conn_free(proto_sio_conn_t *st)
{
    struct sio_seed_conn_s *s = st->seed;
    if (!s) return;
    rejoin_unlink(s);
    if (s->ctx && !s->ctx->closed) rejoin_arm(s->ctx);
    free(s->pending);
    free(s);
    st->seed = NULL;
}

/* ---- the dialect ---- */

static cbuf_t *seed_frame_event(const bus_event_t *ev)
{
    cbuf_t *f = sio_seed_frame_event(ev);
    return f ? f : proto_sio_frame_event(ev);
}

const proto_dialect_t sio_seed_dialect = {.kind = 2, .frame_event = seed_frame_event};
