/* proto.c: envelope decoding, op dispatch, replies. */
#include "proto/proto.h"
#include "proto/proto_rpc.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/mem.h"
#include "util/utf8.h"
#include "proto/ws_frame.h"

static void op_echo(proto_req_t *req)
{
    if (req->scan) {
        const jscan_member_t *d = jscan_get(req->scan, "data");
        size_t len = 4;
        char *owned = NULL;
        const char *text = d ? jscan_text(d, &len, &owned) : "null";
        proto_reply_ok_text(req, text, len);
        free(owned);
        return;
    }
    json_t *data = json_object_get(req->msg, "data");
    proto_reply_ok(req, data ? json_incref(data) : NULL);
}

static const proto_op_t core_ops[] = {
    {"echo", op_echo, PROTO_OP_PUBLIC | PROTO_OP_SCAN},
};

/* FNV-1a: short op names, no adversarial pressure (the table is fixed at start-up). */
static size_t hash_name(const char *s)
{
    size_t h = 2166136261u;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 16777619u;
    return h;
}

static const proto_op_t *lookup(const proto_t *p, const char *name)
{
    for (size_t i = hash_name(name) & (p->nslots - 1);; i = (i + 1) & (p->nslots - 1)) {
        const proto_op_t *o = p->slots[i];
        if (!o) return NULL;
        if (strcmp(o->name, name) == 0) return o;
    }
}

/* Counts one run of op (a registered one: its slot is found by pointer, a probe as short as
 * its lookup's). */
static void count_op(proto_t *p, const proto_op_t *op)
{
    for (size_t i = hash_name(op->name) & (p->nslots - 1);; i = (i + 1) & (p->nslots - 1)) {
        if (p->slots[i] == op) {
            p->op_count[i]++;
            return;
        }
    }
}

static void insert(const proto_op_t **slots, size_t nslots, const proto_op_t *op)
{
    size_t i = hash_name(op->name) & (nslots - 1);
    while (slots[i]) {
        CH_ASSERT(strcmp(slots[i]->name, op->name) != 0);
        i = (i + 1) & (nslots - 1);
    }
    slots[i] = op;
}

void proto_register(proto_t *p, const proto_op_t *ops, size_t n)
{
    if ((p->nops + n) * 2 > p->nslots) {
        /* Keep the load under 1/2 so probes stay short. */
        size_t nslots = p->nslots ? p->nslots : 16;
        while ((p->nops + n) * 2 > nslots) nslots *= 2;
        const proto_op_t **slots = ch_calloc(nslots, sizeof(*slots));
        uint64_t *counts = ch_calloc(nslots, sizeof(*counts));
        for (size_t i = 0; i < p->nslots; i++)
            if (p->slots[i]) insert(slots, nslots, p->slots[i]);
        /* Registration happens at start, before any op ran: nothing to carry over. */
        for (size_t i = 0; i < p->nslots; i++)
            CH_ASSERT(p->op_count[i] == 0);
        free(p->slots);
        free(p->op_count);
        p->slots = slots;
        p->op_count = counts;
        p->nslots = nslots;
    }
    for (size_t i = 0; i < n; i++) insert(p->slots, p->nslots, &ops[i]);
    p->nops += n;
}

void proto_init(proto_t *p, const proto_limits_t *limits, log_t *log)
{
    memset(p, 0, sizeof(*p));
    p->limits = *limits;
    p->log = log;
    /* sub, name and color with their NULs, at most */
    p->user_slab = slab_new(3, AUTH_JWT_SUB_MAX + AUTH_JWT_NAME_MAX + 8 + 3);
    p->frame_slab = slab_new(CBUF_SLAB_MIN, CBUF_SLAB_MAX);
    p->tcache = auth_tcache_new();
    proto_register(p, core_ops, CH_ARRAY_LEN(core_ops));
}

void proto_free(proto_t *p)
{
    free(p->slots);
    free(p->op_count);
    slab_drop(p->user_slab); /* a client still held keeps it until it goes */
    slab_drop(p->frame_slab); /* likewise a frame still queued */
    auth_tcache_free(p->tcache);
    memset(p, 0, sizeof(*p));
}

void proto_client_init(proto_client_t *c, const proto_limits_t *limits,
                       const proto_transport_t *tr, uint64_t now_ms)
{
    c->tr = tr;
    c->limited_in_row = 0;
    rl_init(&c->bucket, limits->burst, now_ms);
}

void proto_client_free(proto_client_t *c)
{
    proto_user_free(&c->user);
}

int proto_decode(const char *buf, size_t len, proto_envelope_t *env, const char **code,
                 const char **message)
{
    json_error_t jerr;
    memset(env, 0, sizeof(*env));
    /* DECODE_ANY: a bare 5 or "x" is valid JSON, so it is a bad_request, not bad_json.
     * ALLOW_NUL: "\u0000" is valid in a JSON string and applications may send it. */
    json_t *root =
        json_loadb(buf, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
    if (!root) {
        *code = PROTO_BAD_JSON;
        *message = "the message is not valid JSON";
        return -1;
    }
    if (!json_is_object(root)) {
        json_decref(root);
        *code = PROTO_BAD_REQUEST;
        *message = "a message must be a JSON object";
        return -1;
    }
    json_t *ref = json_object_get(root, "ref");
    if (ref && !json_is_integer(ref)) {
        json_decref(root);
        *code = PROTO_BAD_REQUEST;
        *message = "\"ref\" must be an integer";
        return -1;
    }
    if (ref) {
        env->has_ref = 1;
        env->ref = json_integer_value(ref);
    }
    json_t *op = json_object_get(root, "op");
    /* An op name with an embedded NUL would compare equal to its prefix. */
    if (!json_is_string(op) || strlen(json_string_value(op)) != json_string_length(op)) {
        json_decref(root);
        *code = PROTO_BAD_REQUEST;
        *message = "\"op\" must be a string";
        return -1;
    }
    env->root = root;
    env->op = json_string_value(op);
    return 0;
}

/* Dumps into a buffer that leaves room for the largest frame header in front, then writes
 * the header right before the payload: one allocation, no copy. */
static int dump_cb(const char *chunk, size_t size, void *data)
{
    cbuf_append((cbuf_t **)data, chunk, size);
    return 0;
}

/* Encodes v (compact) at the end of *bp. */
static void dump_into(cbuf_t **bp, const json_t *v)
{
    if (json_dump_callback(v, dump_cb, bp, JSON_COMPACT) != 0) {
        /* Only values we built ourselves reach here; failing to encode them is a bug. */
        CH_ASSERT(!"json_dump_callback failed");
    }
}

/* Puts the WebSocket text frame header in front of b's payload (b->off was reserved). */
static cbuf_t *frame_text(cbuf_t *b)
{
    uint8_t hdr[WS_MAX_HEADER];
    size_t h = ws_frame_header(hdr, WS_OP_TEXT, b->len);
    b->off -= h;
    b->len += h;
    memcpy(b->data + b->off, hdr, h);
    return b;
}

cbuf_t *proto_frame_json(const json_t *msg)
{
    cbuf_t *b = cbuf_new(256);
    b->off = WS_MAX_HEADER;
    dump_into(&b, msg);
    return frame_text(b);
}

void proto_send_json(proto_client_t *c, json_t *msg)
{
    cbuf_t *b = proto_frame_json(msg);
    json_decref(msg);
    c->tr->send(c, b);
    cbuf_unref(b);
}

static json_t *error_object(const char *code, const char *message)
{
    return json_pack("{s:s, s:s}", "code", code, "message", message);
}

static void send_error_obj(proto_client_t *c, int has_ref, json_int_t ref, json_t *err);

static void send_error(proto_client_t *c, int has_ref, json_int_t ref, const char *code,
                       const char *message)
{
    send_error_obj(c, has_ref, ref, error_object(code, message));
}

/* The head of a success reply to ref, {"op":"reply","ref":REF,"ok":true,"data": as
 * json_pack + json_dumps wrote it, into out (REPLY_HEAD_MAX bytes, not NUL-terminated):
 * its length. No printf: echo's every reply starts so. */
#define REPLY_HEAD_PRE "{\"op\":\"reply\",\"ref\":"
#define REPLY_HEAD_POST ",\"ok\":true,\"data\":"
#define REPLY_HEAD_MAX (sizeof(REPLY_HEAD_PRE) + JSCAN_INT_MAX + sizeof(REPLY_HEAD_POST))
static size_t reply_head(char *out, json_int_t ref)
{
    size_t n = sizeof(REPLY_HEAD_PRE) - 1;
    memcpy(out, REPLY_HEAD_PRE, n);
    n += jscan_write_int(out + n, (int64_t)ref);
    memcpy(out + n, REPLY_HEAD_POST, sizeof(REPLY_HEAD_POST) - 1);
    return n + sizeof(REPLY_HEAD_POST) - 1;
}

/* The slab p's small reply frames come from (NULL without p: malloc). */
static slab_t *frames_of(const proto_t *p)
{
    return p ? p->frame_slab : NULL;
}

/* Sends c the success reply to ref whose data is the len bytes of JSON text at data: the
 * bytes json_pack + json_dumps gave for {"op","ref","ok","data"}, with no tree. A small
 * frame is a slot of frames (proto_t.frame_slab, borrowed; NULL: malloc). */
static void send_ok_text(slab_t *frames, proto_client_t *c, json_int_t ref, const char *data,
                         size_t len)
{
    char head[REPLY_HEAD_MAX];
    size_t n = reply_head(head, ref);
    cbuf_t *b = cbuf_new_in(frames, WS_MAX_HEADER + n + len + 1);
    b->off = WS_MAX_HEADER;
    /* Written in place: the buffer was sized for it (no cbuf_append growth checks). */
    uint8_t *w = b->data + b->off;
    memcpy(w, head, n);
    memcpy(w + n, data, len);
    w[n + len] = '}';
    b->len = n + len + 1;
    frame_text(b);
    c->tr->send(c, b);
    cbuf_unref(b);
}

void proto_reply_ok(proto_req_t *req, json_t *data)
{
    CH_ASSERT(!req->replied);
    req->replied = 1;
    if (!req->has_ref) {
        json_decref(data);
        return;
    }
    if (!data) { /* the common answer of an op that returns nothing: no tree */
        send_ok_text(frames_of(req->p), req->c, req->ref, "null", 4);
        return;
    }
    proto_send_json(req->c, json_pack("{s:s, s:I, s:b, s:o}", "op", "reply", "ref", req->ref,
                                      "ok", 1, "data", data ? data : json_null()));
}

void proto_reply_ok_text(proto_req_t *req, const char *data, size_t len)
{
    CH_ASSERT(!req->replied);
    req->replied = 1;
    if (req->has_ref) send_ok_text(frames_of(req->p), req->c, req->ref, data, len);
}

void proto_reply_error(proto_req_t *req, const char *code, const char *fmt, ...)
{
    CH_ASSERT(!req->replied);
    req->replied = 1;
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof(message), fmt, ap);
    va_end(ap);
    /* Messages may quote what the client sent, cut to a length: keep them valid UTF-8. */
    utf8_scrub(message, strlen(message));
    send_error(req->c, req->has_ref, req->ref, code, message);
}

/* The envelope of a scanned frame, checked as proto_decode checks it: the ref into env, the
 * op's name decoded into op (cap bytes). Returns 0; -1 with *code and *message as
 * proto_decode's; or 1 when the name does not fit op (Jansson reads the frame then). */
static int scan_envelope(const jscan_t *s, proto_envelope_t *env, char *op, size_t cap,
                         const char **code, const char **message)
{
    memset(env, 0, sizeof(*env));
    *code = PROTO_BAD_REQUEST;
    if (s->type != JSCAN_OBJECT) {
        *message = "a message must be a JSON object";
        return -1;
    }
    const jscan_member_t *ref = jscan_get(s, "ref");
    if (ref && ref->type != JSCAN_INT) {
        *message = "\"ref\" must be an integer";
        return -1;
    }
    if (ref) {
        env->has_ref = 1;
        env->ref = jscan_int(ref);
    }
    const jscan_member_t *name = jscan_get(s, "op");
    int n = name && name->type == JSCAN_STRING ? jscan_string(name, op, cap) : -2;
    if (n == -1) return 1;
    /* An op name with an embedded NUL would compare equal to its prefix. */
    if (n < 0 || strlen(op) != (size_t)n) {
        *message = "\"op\" must be a string";
        return -1;
    }
    env->op = op;
    return 0;
}

void proto_log(const proto_t *p, proto_client_t *c, log_level_t level, const char *fmt, ...)
{
    if (level < p->log->level) return;
    char msg[512], id[LOG_REQ_ID_MAX + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    const char *rid = c->tr->log_id ? c->tr->log_id(c, id, sizeof(id)) : NULL;
    log_req(p->log, level, rid, "%s", msg);
}

/* Runs the op req names, or refuses it; answers ok with null data for a handler that did
 * not reply. */
static void dispatch(proto_req_t *req, const proto_op_t *op)
{
    proto_client_t *c = req->c;
    if (!op) {
        proto_reply_error(req, PROTO_UNKNOWN_OP, "unknown op \"%.64s\"", req->op);
    } else if (!(op->flags & PROTO_OP_PUBLIC) && c->expired_told) {
        proto_reply_error(req, PROTO_TOKEN_EXPIRED,
                          "the token expired: send auth with a fresh token");
    } else if (!(op->flags & PROTO_OP_PUBLIC) && !c->authed) {
        proto_reply_error(req, PROTO_UNAUTHORIZED,
                          "authenticate first: send auth with a token");
    } else {
        count_op(req->p, op);
        op->fn(req);
        if (!req->replied) proto_reply_ok(req, NULL);
    }
}

/* An op name longer than this is read by Jansson (no op has such a name). */
#define OP_NAME_MAX 64

void proto_handle_text(proto_t *p, proto_client_t *c, const char *msg, size_t len,
                       uint64_t now_ms)
{
    proto_envelope_t env;
    const char *code, *message;
    char name[OP_NAME_MAX + 1];
    jscan_t scan;
    /* The envelope is scanned, not parsed into a tree (jscan.h): 0, the verdict of Jansson
     * (JSCAN_EINVALID), or JSCAN_EUNSURE, which leaves the frame to Jansson. */
    int rc = jscan_parse(&scan, msg, len, 0);
    if (!rl_take(&c->bucket, p->limits.rate, p->limits.burst, now_ms)) {
        p->limited++;
        if (++c->limited_in_row >= p->limits.flood_close) {
            proto_log(p, c, LOG_INFO,
                      "closing a client that kept flooding (%u limited in a row)",
                      c->limited_in_row);
            c->tr->close(c, WS_CLOSE_POLICY, "rate limit exceeded");
            return;
        }
        /* Answer without handling the message: flooding must stay cheap for us. The ref
         * is still worth finding so the client can match the refusal. */
        if (rc == 0) {
            scan_envelope(&scan, &env, name, sizeof(name), &code, &message);
        } else if (rc == JSCAN_EINVALID) {
            memset(&env, 0, sizeof(env));
        } else if (proto_decode(msg, len, &env, &code, &message) == 0) {
            json_decref(env.root);
        }
        send_error(c, env.has_ref, env.ref, PROTO_RATE_LIMITED,
                   "too many messages; slow down");
        return;
    }
    c->limited_in_row = 0;

    if (rc == JSCAN_EINVALID) {
        send_error(c, 0, 0, PROTO_BAD_JSON, "the message is not valid JSON");
        return;
    }
    if (rc == 0) {
        rc = scan_envelope(&scan, &env, name, sizeof(name), &code, &message);
        if (rc < 0) {
            send_error(c, env.has_ref, env.ref, code, message);
            return;
        }
        const proto_op_t *op = rc == 0 ? lookup(p, name) : NULL;
        if (rc == 0 && (!op || (op->flags & PROTO_OP_SCAN))) {
            proto_req_t req = {
                .p = p,
                .c = c,
                .scan = &scan,
                .op = name,
                .has_ref = env.has_ref,
                .ref = env.ref,
                .now_ms = now_ms,
            };
            dispatch(&req, op);
            return;
        }
    }
    /* The other ops, and frames the scanner left to Jansson, as a tree. */
    if (proto_decode(msg, len, &env, &code, &message) != 0) {
        send_error(c, env.has_ref, env.ref, code, message);
        return;
    }
    proto_req_t req = {
        .p = p, .c = c, .msg = env.root, .op = env.op,
        .has_ref = env.has_ref, .ref = env.ref, .now_ms = now_ms,
    };
    dispatch(&req, lookup(p, env.op));
    json_decref(env.root);
}

void proto_run(proto_t *p, proto_client_t *c, const char *name, int has_ref, json_int_t ref,
               json_t *args, uint64_t now_ms)
{
    if (!rl_take(&c->bucket, p->limits.rate, p->limits.burst, now_ms)) {
        p->limited++;
        if (++c->limited_in_row >= p->limits.flood_close) {
            proto_log(p, c, LOG_INFO,
                      "closing a client that kept flooding (%u limited in a row)",
                      c->limited_in_row);
            c->tr->close(c, WS_CLOSE_POLICY, "rate limit exceeded");
            return;
        }
        send_error(c, has_ref, ref, PROTO_RATE_LIMITED, "too many messages; slow down");
        return;
    }
    c->limited_in_row = 0;
    proto_req_t req = {
        .p = p,
        .c = c,
        .msg = args,
        .op = name,
        .has_ref = has_ref,
        .ref = ref,
        .now_ms = now_ms,
    };
    dispatch(&req, lookup(p, name));
}

void proto_defer(proto_req_t *req, proto_deferred_t *d)
{
    CH_ASSERT(!req->replied);
    req->replied = 1;
    d->p = req->p;
    d->c = req->c;
    d->has_ref = req->has_ref;
    d->ref = req->ref;
    d->c->pending++;
}

static void deferred_done(proto_deferred_t *d)
{
    proto_client_t *c = d->c;
    CH_ASSERT(c->pending > 0);
    if (--c->pending == 0 && c->gone) c->tr->release(c);
    else if (!c->gone && c->tr->settled)
        c->tr->settled(c);
}

void proto_deferred_rerun(proto_deferred_t *d, const char *name, json_t *args, uint64_t now_ms)
{
    proto_client_t *c = d->c;
    const proto_op_t *op = lookup(d->p, name);
    if (!c->gone && op) {
        proto_req_t req = {
            .p = d->p,
            .c = c,
            .msg = args,
            .op = name,
            .has_ref = d->has_ref,
            .ref = d->ref,
            .now_ms = now_ms,
            .sought = 1,
        };
        op->fn(&req);
        if (!req.replied) proto_reply_ok(&req, NULL);
    }
    deferred_done(d);
}

void proto_deferred_ok(proto_deferred_t *d, json_t *data)
{
    if (!d->c->gone && d->has_ref && !data)
        /* An op that returns nothing: no tree. A deferred reply made without its proto_t
         * (home_answer) takes its frame from malloc. */
        send_ok_text(frames_of(d->p), d->c, d->ref, "null", 4);
    else if (!d->c->gone && d->has_ref)
        proto_send_json(d->c, json_pack("{s:s, s:I, s:b, s:o}", "op", "reply", "ref", d->ref,
                                        "ok", 1, "data", data ? data : json_null()));
    else json_decref(data);
    deferred_done(d);
}

/* Appends obj's members (without its braces) at the end of *bp, after a comma when
 * *members says some were already written. */
static void append_members(cbuf_t **bp, const json_t *obj, int *members)
{
    CH_ASSERT(json_is_object(obj));
    if (!json_object_size(obj)) return;
    if (*members) cbuf_append(bp, ",", 1);
    size_t start = (*bp)->len;
    dump_into(bp, obj); /* {...} */
    cbuf_t *b = *bp;
    uint8_t *p = b->data + b->off + start;
    size_t n = b->len - start;
    CH_ASSERT(n > 2 && p[0] == '{' && p[n - 1] == '}');
    memmove(p, p + 1, n - 2);
    b->len -= 2;
    *members = 1;
}

/* Appends "key": and the part's text or array of texts at the end of *bp (jpart_t). */
static void append_texts(cbuf_t **bp, const jpart_t *part, int *members)
{
    const char *key = part->key;
    for (const char *k = key; *k; k++) /* written as is: a plain name needs no escaping */
        CH_ASSERT((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') || *k == '_');
    CH_ASSERT(*key);
    if (*members) cbuf_append(bp, ",", 1);
    cbuf_append(bp, "\"", 1);
    cbuf_append(bp, key, strlen(key));
    cbuf_append(bp, "\":", 2);
    if (part->text) {
        cbuf_append(bp, part->text, part->len ? part->len : strlen(part->text));
    } else {
        cbuf_append(bp, "[", 1);
        for (size_t i = 0; i < part->n; i++) {
            if (i) cbuf_append(bp, ",", 1);
            cbuf_append(bp, part->items[i], strlen(part->items[i]));
        }
        cbuf_append(bp, "]", 1);
    }
    *members = 1;
}

/* A new text frame: before, the object made of parts, then after (both plain text). */
static cbuf_t *frame_parts(const char *before, const jpart_t *parts, size_t nparts,
                           const char *after)
{
    /* Room for the texts, so a reply of tens of KiB is not copied as it grows; 1 KiB is a
     * guess for each object (a bigger one grows the buffer). */
    size_t cap = WS_MAX_HEADER + strlen(before) + strlen(after) + 2;
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].obj) {
            cap += 1024;
            continue;
        }
        cap += strlen(parts[i].key) + 6;
        if (parts[i].text) cap += parts[i].len ? parts[i].len : strlen(parts[i].text);
        for (size_t j = 0; !parts[i].text && j < parts[i].n; j++)
            cap += strlen(parts[i].items[j]) + 1;
    }
    cbuf_t *b = cbuf_new(cap);
    b->off = WS_MAX_HEADER;
    cbuf_append(&b, before, strlen(before));
    cbuf_append(&b, "{", 1);
    int members = 0;
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].obj) append_members(&b, parts[i].obj, &members);
        else append_texts(&b, &parts[i], &members);
    }
    cbuf_append(&b, "}", 1);
    cbuf_append(&b, after, strlen(after));
    return frame_text(b);
}

void proto_append_parts(cbuf_t **bp, const jpart_t *parts, size_t nparts)
{
    cbuf_append(bp, "{", 1);
    int members = 0;
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].obj)
            append_members(bp, parts[i].obj, &members);
        else
            append_texts(bp, &parts[i], &members);
    }
    cbuf_append(bp, "}", 1);
}

cbuf_t *proto_frame_parts(const jpart_t *parts, size_t nparts)
{
    return frame_parts("", parts, nparts, "");
}

/* Writes s as a JSON string into out (n bytes) when it needs no escaping (letters,
 * digits, _ and -, as op names and room ids are): the bytes jansson would write. Returns
 * 0, or -1 when s is anything else or does not fit. */
static int quote_plain(char *out, size_t n, const char *s)
{
    size_t len = strlen(s);
    if (len + 3 > n) return -1;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_' || ch == '-'))
            return -1;
    }
    out[0] = '"';
    memcpy(out + 1, s, len);
    out[len + 1] = '"';
    out[len + 2] = 0;
    return 0;
}

cbuf_t *proto_frame_event(const bus_event_t *ev)
{
    return proto_frame_event_in(ev, "", "");
}

/* The event's frame: its name and room, then its payload. */
cbuf_t *proto_frame_event_in(const bus_event_t *ev, const char *before, const char *after)
{
    CH_ASSERT(ev->nparts <= PROTO_EVENT_MAX_PARTS);
    jpart_t parts[PROTO_EVENT_MAX_PARTS + 2];
    char name[64], room[64];
    json_t *head = NULL;
    size_t k = 0;
    if (quote_plain(name, sizeof(name), ev->name) == 0 &&
        quote_plain(room, sizeof(room), ev->room) == 0) {
        parts[k++] = (jpart_t){.key = "op", .text = name};
        parts[k++] = (jpart_t){.key = "room", .text = room};
    } else {
        head = json_pack("{s:s, s:s}", "op", ev->name, "room", ev->room);
        CH_ASSERT(head != NULL);
        parts[k++] = (jpart_t){.obj = head};
    }
    for (size_t i = 0; i < ev->nparts; i++) parts[k++] = ev->parts[i];
    cbuf_t *frame = frame_parts(before, parts, k, after);
    json_decref(head);
    return frame;
}

/* The client whose bus receiver r is. */
static proto_client_t *client_of_rcv(bus_rcv_t *r)
{
    return (proto_client_t *)((char *)r - offsetof(proto_client_t, rcv));
}

static unsigned rcv_kind(const bus_rcv_t *r)
{
    const proto_client_t *c =
        (const proto_client_t *)((const char *)r - offsetof(proto_client_t, rcv));
    return c->tr->dialect ? c->tr->dialect->kind : 0;
}

static cbuf_t *rcv_frame_as(const bus_event_t *ev, const bus_rcv_t *r)
{
    const proto_client_t *c =
        (const proto_client_t *)((const char *)r - offsetof(proto_client_t, rcv));
    return c->tr->dialect->frame_event(ev);
}

static void rcv_deliver(bus_rcv_t *r, cbuf_t *frame)
{
    proto_client_t *c = client_of_rcv(r);
    c->tr->send(c, frame);
}

static const char *rcv_user(const bus_rcv_t *r)
{
    const proto_client_t *c =
        (const proto_client_t *)((const char *)r - offsetof(proto_client_t, rcv));
    return c->user.sub;
}

const bus_rcv_ops_t proto_bus_rcv_ops = {
    .frame = proto_frame_event,
    .deliver = rcv_deliver,
    .user = rcv_user,
    .kind = rcv_kind,
    .frame_as = rcv_frame_as,
};

void proto_deferred_ok_parts(proto_deferred_t *d, const jpart_t *parts, size_t nparts)
{
    if (!d->c->gone && d->has_ref) {
        char head[REPLY_HEAD_MAX];
        head[reply_head(head, d->ref)] = '\0';
        cbuf_t *b = frame_parts(head, parts, nparts, "}");
        d->c->tr->send(d->c, b);
        cbuf_unref(b);
    }
    deferred_done(d);
}

void proto_deferred_error(proto_deferred_t *d, const char *code, const char *fmt, ...)
{
    if (!d->c->gone) {
        char message[512];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(message, sizeof(message), fmt, ap);
        va_end(ap);
        utf8_scrub(message, strlen(message));
        send_error(d->c, d->has_ref, d->ref, code, message);
    }
    deferred_done(d);
}

/* Sends the error object err (stolen) as a reply, or as an error event without a ref. */
static void send_error_obj(proto_client_t *c, int has_ref, json_int_t ref, json_t *err)
{
    proto_send_json(c, has_ref ? json_pack("{s:s, s:I, s:b, s:o}", "op", "reply", "ref", ref,
                                           "ok", 0, "error", err)
                               : json_pack("{s:s, s:o}", "op", "error", "error", err));
}

static void send_error_field(proto_client_t *c, int has_ref, json_int_t ref, const char *code,
                             const char *field, const char *message)
{
    send_error_obj(c, has_ref, ref,
                   json_pack("{s:s, s:s, s:s}", "code", code, "field", field, "message", message));
}

int proto_opt_uint(proto_req_t *req, const char *name, int64_t def, int64_t *out)
{
    json_t *v = json_object_get(req->msg, name);
    *out = def;
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 0) {
        char msg[96];
        snprintf(msg, sizeof(msg), "%.48s must be a non-negative integer", name);
        proto_reply_error_field(req, "validation_error", name, msg);
        return -1;
    }
    *out = json_integer_value(v);
    return 0;
}

void proto_reply_error_obj(proto_req_t *req, json_t *err)
{
    CH_ASSERT(!req->replied);
    req->replied = 1;
    send_error_obj(req->c, req->has_ref, req->ref, err);
}

void proto_reply_error_field(proto_req_t *req, const char *code, const char *field,
                             const char *message)
{
    CH_ASSERT(!req->replied);
    req->replied = 1;
    send_error_field(req->c, req->has_ref, req->ref, code, field, message);
}

void proto_deferred_error_field(proto_deferred_t *d, const char *code, const char *field,
                                const char *message)
{
    if (!d->c->gone) send_error_field(d->c, d->has_ref, d->ref, code, field, message);
    deferred_done(d);
}

void proto_deferred_error_obj(proto_deferred_t *d, json_t *err)
{
    if (!d->c->gone) send_error_obj(d->c, d->has_ref, d->ref, err);
    else json_decref(err);
    deferred_done(d);
}

int proto_client_gone(proto_t *p, proto_client_t *c)
{
    if (p->client_gone) p->client_gone(p, c);
    c->gone = 1;
    if (p->rpc && c->rpc_calls) {
        /* Its calls to the backend go now, not at their timeout: each wait is answered
         * (dropped, c is gone) and freed there; held so that no answer frees c here. */
        c->pending++;
        proto_rpc_client_gone(p->rpc, c);
        c->pending--;
    }
    return c->pending == 0;
}
