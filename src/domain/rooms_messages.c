/* rooms_messages.c: a room's messages (see rooms.h): posting (seqs assigned in order,
 * quotas charged before the commit, the event sent once stored), server messages, history
 * pages, the recent-message ring encoded once for join replies, the retention sweep, and
 * the unstored broadcast. */
#include "domain/rooms_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_random.h"
#include "util/clock.h"
#include "util/mem.h"
#include "domain/room_rules.h"
#include "domain/webhooks.h"
#include "domain/activity_log.h"
#include "util/utf8.h"

/* ---------- recent messages, encoded once for join replies ---------- */

void rooms_recent_drop(room_t *room)
{
    if (room->rooms) room->rooms->recent_freed += room->recent_bytes;
    for (size_t i = 0; i < room->recent_cap; i++) {
        free(room->recent[i]);
        room->recent[i] = NULL;
    }
    room->recent_len = room->recent_head = room->recent_bytes = 0;
    room->recent_ok = 0;
}

/* Adds the encoded message of seq (text owned) to a valid cache (recent_ok, which needs
 * join_history > 0) as the newest; a gap or the byte cap drops the cache (the next join
 * reads the store and fills it again). */
static void recent_add(rooms_t *r, room_t *room, char *text, int64_t seq)
{
    size_t cap = r->lim.join_history;
    CH_ASSERT(room->recent_ok && cap > 0);
    if (seq != room->recent_last + 1) {
        free(text);
        rooms_recent_drop(room);
        return;
    }
    if (!room->recent) {
        room->recent = ch_calloc(cap, sizeof(*room->recent));
        room->recent_cap = cap;
    }
    size_t slot;
    if (room->recent_len == cap) { /* full: the oldest goes */
        slot = room->recent_head;
        room->recent_bytes -= strlen(room->recent[slot]);
        free(room->recent[slot]);
        room->recent_head = (room->recent_head + 1) % cap;
    } else {
        slot = (room->recent_head + room->recent_len++) % cap;
    }
    room->recent[slot] = text;
    room->recent_bytes += strlen(text);
    room->recent_last = seq;
    if (room->recent_bytes > ROOMS_RECENT_MAX_BYTES) rooms_recent_drop(room);
}

/* A message read from the store, encoded (new text): written from its fields when its
 * metadata is one JSON object in valid UTF-8 as the scanner reads it (what a post
 * stores), else through Jansson as before (a row imported or written otherwise: its
 * metadata read as Jansson reads it, {} when it is not JSON). */
static char *stored_message_text(const store_message_t *m)
{
    jscan_t s;
    size_t n = m->metadata ? strlen(m->metadata) : 0;
    if (!m->metadata || (utf8_valid((const uint8_t *)m->metadata, n) &&
                         jscan_parse(&s, m->metadata, n, 0) == 0 && s.type == JSCAN_OBJECT))
        return room_message_text(m, NULL);
    json_t *j = room_message_json(m);
    char *text = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return text;
}

/* Fills the cache from the newest page of history (msgs ascending), taken when the store
 * had committed exactly up to room->committed_seq. */
static void recent_fill(rooms_t *r, room_t *room, const store_message_t *msgs, size_t n)
{
    if (room->recent_ok || r->lim.join_history == 0) return;
    if ((n ? msgs[n - 1].seq : 0) != room->committed_seq) return; /* a gap: not exact */
    rooms_recent_drop(room);
    room->recent_ok = 1;
    room->recent_used = uv_now(r->loop);
    room->recent_last = n ? msgs[0].seq - 1 : room->committed_seq;
    for (size_t i = 0; i < n && room->recent_ok; i++)
        recent_add(r, room, stored_message_text(&msgs[i]), msgs[i].seq);
}

/* A join waiting for the room's history read in flight (room->recent_wait_head). */
typedef struct rooms_recent_wait_s {
    struct rooms_recent_wait_s *next;
    rooms_done_fn done;
    void *ud;
} rooms_recent_wait_t;

/* Takes the first waiter off room's list (NULL: none). */
static rooms_recent_wait_t *recent_wait_pop(room_t *room)
{
    rooms_recent_wait_t *w = room->recent_wait_head;
    if (!w) return NULL;
    room->recent_wait_head = w->next;
    if (!w->next) room->recent_wait_tail = NULL;
    return w;
}

/* Answers w (freed) with err, or result (borrowed: a new reference). */
static void recent_wait_answer(rooms_recent_wait_t *w, const rooms_err_t *err, json_t *result)
{
    rooms_done_fn done = w->done;
    void *ud = w->ud;
    free(w);
    done(ud, err, err ? NULL : json_incref(result));
}

static void recent_on_more(uv_idle_t *h);

/* The room's history read for joins came back: answer (borrowed), or err when it failed.
 * A failure (and any answer once rooms_close ran) reaches every waiter now, in order, the
 * list taken first so that a waiter that reads again starts a new read; an answer reaches
 * them from rooms_recent_step, the room held in r's due list meanwhile with the answer. */
static void recent_read_back(rooms_t *r, room_t *room, const rooms_err_t *err, json_t *answer)
{
    room->recent_reading = 0;
    json_decref(room->recent_answer);
    room->recent_answer = NULL;
    if (err || r->recent_closed) {
        rooms_recent_wait_t *w = room->recent_wait_head;
        room->recent_wait_head = room->recent_wait_tail = NULL;
        while (w) {
            rooms_recent_wait_t *next = w->next;
            recent_wait_answer(w, err, answer);
            w = next;
        }
        return;
    }
    if (!room->recent_wait_head) return;
    room->recent_answer = json_incref(answer);
    room->recent_answer_seq = room->committed_seq;
    if (room->recent_due) return; /* already in the list */
    room->recent_due = 1;
    rooms_hold(room);
    room->recent_due_next = NULL;
    if (r->recent_due_tail) r->recent_due_tail->recent_due_next = room;
    else r->recent_due_head = room;
    r->recent_due_tail = room;
    uv_idle_start(&r->recent_more, recent_on_more);
}

/* The first room of r's due list leaves it (released: it may be freed). */
static void recent_due_pop(rooms_t *r)
{
    room_t *room = r->recent_due_head;
    r->recent_due_head = room->recent_due_next;
    if (!r->recent_due_head) r->recent_due_tail = NULL;
    room->recent_due_next = NULL;
    room->recent_due = 0;
    json_decref(room->recent_answer);
    room->recent_answer = NULL;
    rooms_release(room);
}

static void history(rooms_t *r, room_t *room, int64_t before, int64_t after, uint32_t limit,
                    int fill_recent, size_t budget, rooms_done_fn done, void *ud);

int rooms_recent_step(rooms_t *r, uint64_t (*clock)(void *), void *clock_ud, uint64_t budget_ns)
{
    uint64_t start = r->recent_due_head ? clock(clock_ud) : 0;
    size_t ran = 0;
    while (r->recent_due_head) {
        if (budget_ns && ran && clock(clock_ud) - start >= budget_ns) break;
        room_t *room = r->recent_due_head;
        if (room->recent_answer && room->committed_seq != room->recent_answer_seq) {
            json_decref(room->recent_answer); /* messages committed since: not exact */
            room->recent_answer = NULL;
        }
        int answerable = room->deleted || room->recent_answer || rooms_recent_ready(r, room);
        /* The cache went: the first reads again. The list may be empty: a read a later
         * join started while the room was due failed, and answered every waiter. */
        if (!answerable && !room->recent_reading && room->recent_wait_head) {
            rooms_recent_wait_t *w = recent_wait_pop(room);
            room->recent_reading = 1;
            history(r, room, -1, -1, r->lim.join_history, 1, ROOMS_JOIN_MESSAGES(r), w->done,
                    w->ud);
            free(w);
        }
        rooms_recent_wait_t *w = answerable ? recent_wait_pop(room) : NULL;
        if (!w) { /* all answered, or the rest wait for the read in flight */
            recent_due_pop(r);
            continue;
        }
        ran++;
        if (room->deleted) {
            recent_wait_answer(w, &(rooms_err_t){.kind = ROOMS_E_NOT_FOUND, .code = "not_found",
                                                 .message = "the room was deleted"},
                               NULL);
        } else if (room->recent_answer) {
            recent_wait_answer(w, NULL, room->recent_answer);
        } else { /* the cache has them */
            json_t *res = json_pack("{s:b}", "success", 1);
            recent_wait_answer(w, NULL, res);
            json_decref(res);
        }
    }
    return r->recent_due_head != NULL;
}

static uint64_t recent_clock(void *ud)
{
    (void)ud;
    return uv_hrtime();
}

/* A slice of the waiting joins' answers an iteration, from the idle phase. */
static void recent_on_more(uv_idle_t *h)
{
    rooms_t *r = h->data;
    if (!rooms_recent_step(r, recent_clock, NULL, ROOMS_RECENT_BUDGET_NS)) uv_idle_stop(h);
}

void rooms_recent_init(rooms_t *r)
{
    uv_idle_init(r->loop, &r->recent_more);
    r->recent_more.data = r;
}

void rooms_recent_close(rooms_t *r)
{
    r->recent_closed = 1;
    rooms_recent_step(r, recent_clock, NULL, 0);
    uv_close((uv_handle_t *)&r->recent_more, NULL);
}

int rooms_recent_ready(const rooms_t *r, const room_t *room)
{
    return r->lim.join_history == 0 || room->recent_ok;
}

const char **rooms_recent(room_t *room, size_t *n)
{
    *n = 0;
    room->recent_used = uv_now(room->rooms->loop);
    if (!room->recent_ok || !room->recent_len) return NULL;
    const char **items = ch_malloc(room->recent_len * sizeof(*items));
    for (size_t i = 0; i < room->recent_len; i++)
        items[i] = room->recent[(room->recent_head + i) % room->recent_cap];
    *n = room->recent_len;
    return items;
}

/* ---------- messages ---------- */

/* A post waiting behind a message with a client id (room->held_head): its arguments,
 * copied. */
typedef struct rooms_held_s {
    struct rooms_held_s *next;
    char *user_id, *name, *type, *content, *client_id;
    char *meta; /* owned; NULL: none */
    int app;
    bus_member_t except;
    rooms_done_fn done;
    rooms_parts_fn answer_parts;
    void *ud;
} rooms_held_t;

static void post(rooms_t *r, room_t *room, const char *user_id, const char *name,
                 const char *type, const char *content, char *meta, int app,
                 const char *client_id, bus_member_t except, rooms_done_fn done,
                 rooms_parts_fn answer_parts, void *ud);

/* The message with a client id in flight answered: the posts held behind it go on, in
 * order, until the next one with a client id (which holds the rest again). The op that
 * answered still holds the room, so a held post never outlives it. */
static void held_resume(rooms_t *r, room_t *room)
{
    room->cid_write = 0;
    while (room->held_head && !room->cid_write) {
        rooms_held_t *h = room->held_head;
        room->held_head = h->next;
        room->held_n--;
        if (!room->held_head) room->held_tail = NULL;
        if (room->deleted) {
            free(h->meta);
            rooms_fail(h->done, h->ud, ROOMS_E_NOT_FOUND, "not_found", "no such room");
        } else {
            post(r, room, h->user_id, h->name, h->type, h->content, h->meta, h->app,
                 h->client_id, h->except, h->done, h->answer_parts, h->ud);
        }
        free(h->user_id);
        free(h->name);
        free(h->type);
        free(h->content);
        free(h->client_id);
        free(h);
    }
}

/* The store answered that a message of the same user and client id is stored: the
 * caller gets that one, marked "duplicate"; nothing was written, announced or charged
 * (its quota given back already), and its seq goes back: it was the last one handed out,
 * since the room's later posts waited for this answer. */
static void post_duplicate(rooms_op_t *op)
{
    room_t *room = op->room;
    room->msg_writes--;
    room->last_seq--;
    op->result = json_pack("{s:b, s:o, s:b}", "success", 1, "message",
                           room_message_json(&op->pl.msg), "duplicate", 1);
}

static void after_post(rooms_op_t *op)
{
    op->room->msg_writes--;
    if (op->pl.msg.seq > op->room->committed_seq) op->room->committed_seq = op->pl.msg.seq;
    room_t *room = op->room;
    /* One encoding of the message, written from its fields (no tree): the event's (the
     * bus frames it once, with the text as it is), the answer's when it goes as parts,
     * and the join cache's, which keeps it. */
    int reply_text = op->done && op->answer_parts;
    size_t len = 0;
    char *text = !room->deleted || room->recent_ok || reply_text
                     ? room_message_text(&op->pl.msg, &len)
                     : NULL;
    jpart_t part = {.key = "message", .text = text, .len = len};
    if (!room->deleted) {
        bus_publish(&room->bus, &(bus_event_t){.room = room->id,
                                               .name = "message",
                                               .parts = &part,
                                               .nparts = 1,
                                               .seq = op->pl.msg.seq,
                                               .except = op->except});
        rooms_record_pub(room, "s", op->pl.msg.seq);
    }
    if (op->done && !reply_text)
        op->result = json_pack("{s:b, s:o}", "success", 1, "message",
                               room_message_json(&op->pl.msg));
    if (op->pl.msg.client_id[0]) {
        /* Counted once stored: a duplicate is not a new message. */
        activity_log_note(op->r->act, room, ACTIVITY_MESSAGES, op->pl.msg.user_id, "", 1, 0, 0);
        held_resume(op->r, room);
    }
    if (reply_text) { /* answered here, after the held posts went on as before */
        op->answer_parts(op->ud, &part, 1);
        op->done = NULL;
    }
    if (room->recent_ok)
        recent_add(op->r, room, text, op->pl.msg.seq);
    else
        free(text);
}

/* The insert of op's seq failed: the seqs handed out after it must not stay ahead of what
 * was stored (post starts again from committed_seq once no insert is in flight). Refused
 * as taken, the store said what it holds: more than committed_seq when a commit whose
 * answer was lost (PostgreSQL's connection broke during COMMIT) did store a message, and
 * starting again below it would be refused forever. */
static void post_failed(rooms_op_t *op)
{
    int cid = op->pl.msg.client_id[0] != '\0';
    if (op->req.err == STORE_EEXISTS && op->pl.dup) {
        post_duplicate(op);
    } else {
        op->room->msg_writes--;
        op->room->seq_lost = 1;
        if (op->req.err == STORE_EEXISTS && op->pl.room.last_seq > op->room->committed_seq) {
            op->room->committed_seq = op->pl.room.last_seq;
            /* Those messages were never appended: kept, the cache would answer a join
             * messages that end before its lastSeq (a gap). */
            rooms_recent_drop(op->room);
        }
    }
    if (cid) held_resume(op->r, op->room);
}

/* Builds and submits a message insert; content is copied, meta (the metadata's compact
 * JSON, or NULL) is taken over. Every message passes here, so here the quotas are checked:
 * a message over them is refused with quota_exceeded (a server message, whose done is
 * NULL, is then not stored). client_id ("" or NULL: none) names a user's message: while
 * one is in flight the room's next posts wait behind it (room->cid_write). */
static void post(rooms_t *r, room_t *room, const char *user_id, const char *name,
                 const char *type, const char *content, char *meta, int app,
                 const char *client_id, bus_member_t except, rooms_done_fn done,
                 rooms_parts_fn answer_parts, void *ud)
{
    if (!client_id) client_id = "";
    if (room->cid_write) {
        if (room->held_n >= r->lim.held_max) {
            /* Each waits for one store round trip: a room sent more than that holds is
             * refused rather than queued without end. */
            free(meta);
            rooms_fail(done, ud, ROOMS_E_UNAVAILABLE, "service_unavailable",
                       "the room is storing too many messages at once; try again");
            return;
        }
        rooms_held_t *h = ch_calloc(1, sizeof(*h));
        h->user_id = ch_strdup(user_id);
        h->name = ch_strdup(name);
        h->type = ch_strdup(type);
        h->content = ch_strdup(content);
        h->client_id = ch_strdup(client_id);
        h->meta = meta;
        h->app = app;
        h->except = except;
        h->done = done;
        h->answer_parts = answer_parts;
        h->ud = ud;
        if (room->held_tail)
            room->held_tail->next = h;
        else
            room->held_head = h;
        room->held_tail = h;
        room->held_n++;
        return;
    }
    if (room->seq_lost) {
        /* After a failed insert the next seq is committed_seq + 1, known once every
         * insert in flight has answered; until then posts are refused, not queued. */
        if (room->msg_writes) {
            free(meta);
            rooms_fail(done, ud, ROOMS_E_UNAVAILABLE, "service_unavailable",
                       "the database is unavailable; try again");
            return;
        }
        room->last_seq = room->committed_seq;
        room->seq_lost = 0;
    }
    size_t clen = strlen(content);
    int64_t bytes = STORE_ROW_BYTES + (int64_t)clen + (meta ? (int64_t)strlen(meta) : 0);
    int qrc = rooms_quota_check(r, room, user_id, bytes);
    if (qrc != QUOTA_OK) {
        free(meta);
        if (!done)
            log_debug(r->log, "room %s: over its quota; a server message was dropped",
                      room->id);
        rooms_over_quota(done, ud, qrc);
        return;
    }
    rooms_quota_count(r, room, user_id, bytes);
    rooms_op_t *op = rooms_op_new(r, room, STORE_MESSAGE_INSERT, done, ud);
    rooms_op_charged(op, user_id, bytes);
    store_message_t *m = &op->pl.msg;
    auth_random_uuid_pooled(&r->msg_ids, m->id); /* a syscall per 16 messages, not each */
    memcpy(m->room_id, room->id, sizeof(m->room_id));
    m->seq = ++room->last_seq;
    snprintf(m->user_id, sizeof(m->user_id), "%s", user_id);
    snprintf(m->display_name, sizeof(m->display_name), "%s", name);
    snprintf(m->type, sizeof(m->type), "%s", type);
    m->content = ch_strndup(content, clen);
    m->metadata = meta;
    m->app = app;
    snprintf(m->client_id, sizeof(m->client_id), "%s", client_id);
    m->created_at = room->last_activity = clock_unix_ms();
    rate_window_add(&room->rate_msgs, m->created_at, 1);
    op->except = except;
    op->answer_parts = answer_parts;
    op->stored = after_post;
    op->failed = post_failed;
    if (webhooks_wants(r->hooks, WEBHOOK_MESSAGE_CREATED)) {
        /* Queued with the message, in its commit (webhooks.h). */
        json_t *mj = room_message_json(m);
        webhooks_attach(r->hooks, &op->req, WEBHOOK_MESSAGE_CREATED, room->id, mj,
                        m->created_at);
        json_decref(mj);
    }
    /* Counted per user and burst, never copied (activity.h). */
    if (user_id[0] && !client_id[0])
        activity_log_note(r->act, room, ACTIVITY_MESSAGES, user_id, "", 1, 0, 0);
    if (client_id[0]) room->cid_write = 1;
    room->msg_writes++;
    rooms_op_submit(op);
}

void rooms_system_event(rooms_t *r, room_t *room, const char *event, const char *user_id,
                        const char *name, const char *text)
{
    json_t *meta = json_pack("{s:s}", "event", event);
    if (user_id) json_object_set_new(meta, "userId", json_string(user_id));
    if (name) json_object_set_new(meta, "displayName", json_string(name));
    rooms_system_message_meta(r, room, meta, text);
}

void rooms_system_message_meta(rooms_t *r, room_t *room, json_t *meta, const char *text)
{
    post(r, room, "", "system", "system", text, json_dumps(meta, JSON_COMPACT), 0, NULL,
         BUS_MEMBER_NONE, NULL, NULL, NULL);
    json_decref(meta);
}

/* The checks of a post's type, content and metadata (is_host: system allowed). Returns 0,
 * or -1 once done was called with the refusal. */
static int post_check(rooms_t *r, const rooms_post_in_t *in, int is_host, rooms_done_fn done,
                      void *ud)
{
    if (!room_message_type_valid(in->type, is_host)) {
        rooms_invalid(done, ud, "type",
             "type must be user_text, user_voice, ai_response, system (host) or x-...");
        return -1;
    }
    if (!in->content) {
        rooms_invalid(done, ud, "content", "content must be a string");
        return -1;
    }
    if (memchr(in->content, 0, in->content_len)) {
        rooms_invalid(done, ud, "content", "content must not contain U+0000");
        return -1;
    }
    /* Sizes are of the JSON encoding, what the messages take in every reply. */
    if (utf8_json_len(in->content, in->content_len) > r->lim.max_message) {
        rooms_fail(done, ud, ROOMS_E_TOO_LARGE, "payload_too_large", "content is too long");
        return -1;
    }
    if (in->metadata && !in->metadata_object) {
        rooms_invalid(done, ud, "metadata", "metadata must be a JSON object");
        return -1;
    }
    /* Encoded once (by the client, checked as Jansson writes it): measured here, stored
     * as it is. */
    if (in->metadata && in->metadata_len > r->lim.max_metadata) {
        rooms_fail(done, ud, ROOMS_E_TOO_LARGE, "payload_too_large", "metadata is too large");
        return -1;
    }
    if (in->client_id_bad ||
        (in->client_id && !room_client_id_valid(in->client_id, in->client_id_len))) {
        rooms_invalid(done, ud, "clientId",
                      "clientId must be a string of 1 to 64 characters A-Z, a-z, 0-9, _ or -");
        return -1;
    }
    return 0;
}

void rooms_post_effect(rooms_t *r, room_t *room, const char *author, const char *type,
                       const char *content, char *meta, rooms_done_fn done, void *ud)
{
    post(r, room, "", author, type, content, meta, 1, NULL, BUS_MEMBER_NONE, done, NULL, ud);
}

void rooms_post_text(rooms_t *r, room_t *room, const char *user_id, const rooms_post_in_t *in,
                     bus_member_t except, rooms_done_fn done, void *ud)
{
    room_member_t *m = room_member(room, user_id);
    if (!m || m->banned) {
        rooms_fail(done, ud, ROOMS_E_FORBIDDEN, "forbidden", "only participants can post");
        return;
    }
    int is_host = room_may_manage(room->host_id, user_id) || m->role == STORE_ROLE_HOST;
    if (post_check(r, in, is_host, done, ud) != 0) return;
    char *meta = in->metadata ? ch_strndup(in->metadata, in->metadata_len) : NULL;
    char cid[STORE_CLIENT_ID_LEN] = "";
    if (in->client_id) memcpy(cid, in->client_id, in->client_id_len); /* checked: <= 64 */
    post(r, room, user_id, m->display_name, in->type, in->content, meta, 0, cid, except, done,
         in->answer_parts, ud);
}

void rooms_post_app(rooms_t *r, room_t *room, const char *author, const rooms_post_in_t *in,
                    rooms_done_fn done, void *ud)
{
    if (post_check(r, in, 1, done, ud) != 0) return;
    char *meta = in->metadata ? ch_strndup(in->metadata, in->metadata_len) : NULL;
    post(r, room, "", author, in->type, in->content, meta, 1, NULL, BUS_MEMBER_NONE, done,
         in->answer_parts, ud);
}

void rooms_post(rooms_t *r, room_t *room, const char *user_id, const char *type,
                const json_t *content, const json_t *metadata, bus_member_t except,
                rooms_done_fn done, void *ud)
{
    char *meta =
        metadata && json_is_object(metadata) ? json_dumps(metadata, JSON_COMPACT) : NULL;
    rooms_post_in_t in = {
        .type = type,
        .content = json_is_string(content) ? json_string_value(content) : NULL,
        .content_len = json_is_string(content) ? json_string_length(content) : 0,
        .metadata = metadata ? (meta ? meta : "null") : NULL,
        .metadata_len = meta ? strlen(meta) : 0,
        .metadata_object = meta != NULL,
    };
    rooms_post_text(r, room, user_id, &in, except, done, ud);
    free(meta);
}

size_t room_message_encoded_len(const store_message_t *m)
{
    /* The keys, punctuation, numbers and null come to under 160 bytes. */
    return 160 + strlen(m->id) + strlen(m->room_id) + strlen(m->user_id) +
           utf8_json_len(m->display_name, strlen(m->display_name)) + strlen(m->type) +
           (m->content ? utf8_json_len(m->content, strlen(m->content)) : 0) +
           (m->metadata ? strlen(m->metadata) : 2) + (m->app ? 12 : 0) +
           (m->client_id[0] ? 14 + strlen(m->client_id) : 0);
}

size_t rooms_fit(const size_t *lens, size_t n, size_t budget, int newest)
{
    size_t used = 0, k = 0;
    for (; k < n; k++) {
        size_t len = lens[newest ? n - 1 - k : k];
        if (k > 0 && len > budget - used) break;
        used += len < budget - used ? len : budget - used;
    }
    return k;
}

static void after_history(rooms_op_t *op)
{
    if (op->fill_recent) recent_fill(op->r, op->room, op->pl.msgs, op->pl.nmsgs);
    /* Byte-bounded: the newest messages that fit (the oldest for an "after" page). */
    size_t n = op->pl.nmsgs;
    size_t *lens = ch_malloc((n ? n : 1) * sizeof(*lens));
    for (size_t i = 0; i < n; i++)
        lens[i] = room_message_encoded_len(&op->pl.msgs[i]);
    int forward = op->pl.after >= 0;
    size_t k = rooms_fit(lens, n, op->budget, !forward);
    free(lens);
    size_t first = forward ? 0 : n - k;
    json_t *a = json_array();
    for (size_t i = first; i < first + k; i++)
        json_array_append_new(a, room_message_json(&op->pl.msgs[i]));
    op->result = json_pack("{s:b, s:o}", "success", 1, "messages", a);
    if (k < n) json_object_set_new(op->result, "more", json_true());
    /* The joins that came while it was read: the same answer while it stays exact (the
     * page ends at committed_seq, what their lastSeq will say), from later iterations. */
    if (op->fill_recent) recent_read_back(op->r, op->room, NULL, op->result);
}

/* A join's history read failed: the joins waiting for it fail the same way (join_history). */
static void history_failed(rooms_op_t *op)
{
    if (!op->fill_recent) return;
    rooms_err_t err = {ROOMS_E_UNAVAILABLE, "service_unavailable",
                       "the database is unavailable; try again", NULL};
    recent_read_back(op->r, op->room, &err, NULL);
}

/* A page of room's history, at most budget bytes of messages (at least one); fill_recent:
 * the newest page, which also fills the cache. */
static void history(rooms_t *r, room_t *room, int64_t before, int64_t after, uint32_t limit,
                    int fill_recent, size_t budget, rooms_done_fn done, void *ud)
{
    rooms_op_t *op = rooms_op_new(r, room, STORE_MESSAGES_PAGE, done, ud);
    op->budget = budget;
    memcpy(op->pl.room.id, room->id, sizeof(op->pl.room.id));
    op->pl.before = before;
    op->pl.after = after;
    op->pl.limit = limit;
    op->fill_recent = fill_recent;
    op->stored = after_history;
    op->failed = history_failed;
    rooms_op_submit(op);
}

void rooms_history(rooms_t *r, room_t *room, int64_t before, int64_t after, uint32_t limit,
                   rooms_done_fn done, void *ud)
{
    history(r, room, before, after, limit, 0, r->lim.max_reply, done, ud);
}

void rooms_join_history(rooms_t *r, room_t *room, rooms_done_fn done, void *ud)
{
    if (room->recent_reading) { /* one read a room: wait for it */
        CH_ASSERT(done != NULL);
        rooms_recent_wait_t *w = ch_calloc(1, sizeof(*w));
        w->done = done;
        w->ud = ud;
        if (room->recent_wait_tail)
            room->recent_wait_tail->next = w;
        else
            room->recent_wait_head = w;
        room->recent_wait_tail = w;
        return;
    }
    room->recent_reading = 1;
    history(r, room, -1, -1, r->lim.join_history, 1, ROOMS_JOIN_MESSAGES(r), done, ud);
}

/* ---------- broadcast (not stored) ---------- */

int rooms_broadcast(rooms_t *r, room_t *room, bus_member_t from, const char *user_id,
                    const char *event, const json_t *data)
{
    char *text = json_dumps(data ? data : json_null(), JSON_COMPACT | JSON_ENCODE_ANY);
    CH_ASSERT(text != NULL);
    int rc = rooms_broadcast_text(r, room, from, user_id, event, text, strlen(text));
    free(text);
    return rc;
}

int rooms_broadcast_text(rooms_t *r, room_t *room, bus_member_t from, const char *user_id,
                         const char *event, const char *data, size_t len)
{
    if (len > r->lim.max_broadcast) return -1;
    /* The event's name (at most 64 bytes) and the user's id, quoted as Jansson would. */
    char name[6 * 64 + 3], from_user[6 * 64 + 3];
    if (jscan_quote(name, sizeof(name), event, strlen(event)) < 0 ||
        jscan_quote(from_user, sizeof(from_user), user_id, strlen(user_id)) < 0) {
        json_t *fields = json_pack("{s:s, s:s}", "event", event, "from", user_id);
        jpart_t parts[2] = {{.obj = fields}, {.key = "data", .text = data, .len = len}};
        bus_publish(&room->bus, &(bus_event_t){.room = room->id,
                                               .name = "broadcast",
                                               .parts = parts,
                                               .nparts = 2,
                                               .except = from});
        json_decref(fields);
        return 0;
    }
    jpart_t parts[3] = {{.key = "event", .text = name},
                        {.key = "from", .text = from_user},
                        {.key = "data", .text = data, .len = len}};
    bus_publish(&room->bus, &(bus_event_t){.room = room->id,
                                           .name = "broadcast",
                                           .parts = parts,
                                           .nparts = 3,
                                           .except = from});
    return 0;
}

/* ---------- retention ---------- */

/* Rows deleted per store request: one transaction holds the store's worker (and every
 * write queued behind it) for about a millisecond per 100 rows; 1000 keeps that short,
 * and the sweep goes on with the next request until every room was swept. */
#define RETENTION_BATCH 1000

static void retention_submit(rooms_t *r, const char *cursor);

/* A batch of the sweep committed: the rooms and authors get their bytes back. */
static void after_retention(rooms_op_t *op)
{
    rooms_t *r = op->r;
    int64_t freed = 0;
    for (size_t i = 0; i < op->pl.nusage; i++) {
        const store_usage_t *u = &op->pl.usage[i];
        freed += u->bytes;
        room_t *room = strmap_get(&r->by_id, u->room_id);
        if (room) {
            room->stored_bytes = quota_add(room->stored_bytes, -u->bytes);
            /* it may show deleted messages: the next join reads them */
            rooms_recent_drop(room);
        }
        quota_user_add(&r->users, u->user_id, -u->bytes);
    }
    if (op->pl.nusage)
        log_info(r->log, "retention: deleted rows of %lld bytes%s", (long long)freed,
                 op->pl.ret.more ? "; more to go" : "");
    /* Shutting down (rooms_close closed the timer): the next sweep finishes the work. */
    if (op->pl.ret.more && !uv_is_closing((uv_handle_t *)&r->retention_timer))
        retention_submit(r, op->pl.ret.cursor);
    else
        r->retention_busy = 0;
}

static void on_retention_failed(void *ud, const rooms_err_t *err, json_t *result)
{
    rooms_t *r = ud;
    (void)result;
    if (err && err->kind) r->retention_busy = 0; /* logged by on_stored; next tick retries */
}

/* Submits one batch of the sweep, from the room cursor ("" = the first). */
static void retention_submit(rooms_t *r, const char *cursor)
{
    rooms_op_t *op = rooms_op_new(r, NULL, STORE_RETENTION_SWEEP, on_retention_failed, r);
    store_retention_t *ret = &op->pl.ret;
    if (r->lim.msg_retention_ms)
        ret->msg_before = clock_unix_ms() - (int64_t)r->lim.msg_retention_ms;
    ret->msg_keep = (int64_t)r->lim.msg_keep;
    ret->doc_keep = (int64_t)r->lim.doc_keep;
    if (r->lim.act_retention_ms)
        ret->act_before = clock_unix_ms() - (int64_t)r->lim.act_retention_ms;
    ret->act_keep = (int64_t)r->lim.act_keep;
    if (r->lim.log_retention_ms)
        ret->log_before = clock_unix_ms() - (int64_t)r->lim.log_retention_ms;
    ret->log_keep = (int64_t)r->lim.log_keep;
    ret->batch = RETENTION_BATCH;
    snprintf(ret->cursor, sizeof(ret->cursor), "%s", cursor);
    op->stored = after_retention;
    r->retention_busy = 1;
    rooms_op_submit(op);
}

void rooms_on_retention_timer(uv_timer_t *t)
{
    rooms_t *r = t->data;
    if (!r->retention_busy) retention_submit(r, "");
}
