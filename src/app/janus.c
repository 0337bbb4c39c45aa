/* janus.c: the Janus controller (janus.h) over the outgoing HTTP client. */
#include "app/janus.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "auth/auth_random.h"
#include "store/store.h"
#include "util/janus_msg.h"
#include "util/mem.h"

#define JN_PC_MAX 24          /* bytes of a "pc" (a call member id) */
#define JN_TOKEN_BYTES 16     /* random bytes of a token (hex: 32 characters) */
#define JN_MAX_CANDIDATES 64  /* candidates held for a connection not yet at Janus */
#define JN_CANDIDATE_MAX 1024 /* bytes of a candidate (compact JSON): larger, refused */
#define JN_REPLY_MAX (256 * 1024)
#define JN_POLL_MAXEV 16
#define JN_ERR_NO_SESSION 458    /* Janus's "No such session" */
#define JN_POLL_TIMEOUT_MS 60000 /* Janus answers a long poll after 30 s at most */
#define JN_KEEPALIVE_MS 25000    /* Janus's session timeout is 60 s by default */
#define JN_RETRY_MS 500          /* the first new session after a loss; doubled to 25 s */
#define JN_DOOMED_MAX 256        /* Janus rooms still to destroy (of lost sessions) */

typedef enum { S_IDLE, S_STARTING, S_READY } jn_state_t;

typedef enum {
    R_NODE_TOKEN, /* admin add_token of the process's own token */
    R_SESSION,    /* create the session */
    R_CONTROL,    /* attach the control handle (rooms are made through it) */
    R_KEEPALIVE,
    R_POLL,
    R_ROOM_CREATE,
    R_ROOM_DESTROY,
    R_TOKEN_ADD, /* a member's token */
    R_TOKEN_REMOVE,
    R_ATTACH_PUB, /* a member's publisher handle */
    R_ATTACH_SUB, /* a member's subscriber handle of one feed */
    R_MESSAGE,    /* a plugin message or trickle of a member (answered ack; events follow) */
    R_DETACH,
} jn_kind_t;

/* A connection that receives one publisher's media. */
typedef struct {
    uint64_t feed;          /* the publisher's Janus id */
    uint64_t handle;        /* 0 until attached */
    char pc[JN_PC_MAX + 1]; /* the publisher's call member id */
    json_t *cands;          /* candidates held until attached (array) or NULL */
} jn_sub_t;

typedef struct {
    char id[JN_PC_MAX + 1];
    char token[2 * JN_TOKEN_BYTES + 1];
    int token_ok;    /* Janus has the token */
    int adding;      /* its add_token is in flight */
    int attaching;   /* the publisher handle's attach is in flight */
    uint64_t handle; /* the publisher handle, 0 until attached */
    uint64_t pub_id; /* its Janus publisher id (ours) */
    int joined;      /* the publisher is in the Janus room */
    char *offer;     /* an offer held until joined (owned) or NULL */
    json_t *cands;   /* the publisher's candidates held until joined */
    jn_sub_t *subs;
    size_t nsubs, capsubs;
} jn_member_t;

typedef struct {
    char id[STORE_ID_LEN]; /* the Chorus room */
    uint64_t number;       /* the Janus room */
    uint32_t max_members;
    int created, creating;
    jn_member_t *m;
    size_t n, cap;
} jn_room_t;

typedef struct jn_req_s {
    janus_t *j;
    jn_kind_t kind;
    uint64_t id; /* the http client's */
    char room[STORE_ID_LEN];
    char member[JN_PC_MAX + 1];
    uint64_t feed;
    uint64_t number;                    /* R_ROOM_*: the Janus room */
    char token[2 * JN_TOKEN_BYTES + 1]; /* R_TOKEN_ADD: the token added */
    /* Who the request was for, unique where room and member ids are not (a new call has
     * the same room id and member ids from c1 again): its reply goes to them only. */
    uint64_t room_number;                /* the Janus room of room at the send, or 0 */
    char mtoken[2 * JN_TOKEN_BYTES + 1]; /* the token of member at the send, or "" */
    uint64_t session;                    /* j->session at the send */
    uint64_t epoch;                      /* j->epoch at the send */
    char tx[JANUS_TX_MAX + 1];           /* its transaction: the reply must echo it */
    struct jn_req_s *prev, *next;
} jn_req_t;

struct janus_s {
    uv_loop_t *loop;
    log_t *log;
    const http_call_t *http;
    const chorus_config_t *cfg;
    char *admin_secret; /* owned */
    sfu_events_t ev;
    void *ev_ud;
    jn_state_t state;
    uint64_t session, control;
    /* Counts session attempts (each start and each loss): a reply to the session's own
     * requests (node token, create, control attach) of an earlier attempt is stale. */
    uint64_t epoch;
    uint64_t retry_ms; /* the next session attempt after a loss (backoff); 0: none lost */
    char token[2 * JN_TOKEN_BYTES + 1]; /* the process's own */
    int token_ok;                       /* Janus took it (add_token answered) */
    int polling;
    uint64_t next_tx, next_pub;
    jn_req_t *reqs; /* in flight */
    size_t inflight;
    jn_room_t *rooms;
    size_t nrooms, caprooms;
    /* Janus rooms to destroy once a session is ready (a lost session's, or made by a reply
     * that came after the loss): kept here, not on a call, since the call usually ends
     * before the new session is up (the SDK leaves at rtc_sfu_error); while any is left a
     * session is made even with no call. Bounded: past it, a room is left at Janus. */
    uint64_t doomed[JN_DOOMED_MAX];
    size_t ndoomed;
    uv_timer_t timer;
};

static void start_session(janus_t *j);
static void on_timer(uv_timer_t *t);
static void room_advance(janus_t *j, jn_room_t *r);
static void member_advance(janus_t *j, jn_room_t *r, jn_member_t *m);

/* ---- lookups ---- */

static jn_room_t *room_find(janus_t *j, const char *id)
{
    for (size_t i = 0; i < j->nrooms; i++)
        if (strcmp(j->rooms[i].id, id) == 0) return &j->rooms[i];
    return NULL;
}

static jn_member_t *member_find(jn_room_t *r, const char *id)
{
    for (size_t i = 0; r && i < r->n; i++)
        if (strcmp(r->m[i].id, id) == 0) return &r->m[i];
    return NULL;
}

static jn_sub_t *sub_find_pc(jn_member_t *m, const char *pc)
{
    for (size_t i = 0; i < m->nsubs; i++)
        if (strcmp(m->subs[i].pc, pc) == 0) return &m->subs[i];
    return NULL;
}

static jn_sub_t *sub_find_feed(jn_member_t *m, uint64_t feed)
{
    for (size_t i = 0; i < m->nsubs; i++)
        if (m->subs[i].feed == feed) return &m->subs[i];
    return NULL;
}

/* The member (and sub, if any) whose handle is h. */
static int handle_find(janus_t *j, uint64_t h, jn_room_t **r, jn_member_t **m, jn_sub_t **s)
{
    for (size_t i = 0; i < j->nrooms; i++)
        for (size_t k = 0; k < j->rooms[i].n; k++) {
            jn_member_t *mm = &j->rooms[i].m[k];
            *r = &j->rooms[i];
            *m = mm;
            *s = NULL;
            if (mm->handle == h) return 0;
            for (size_t x = 0; x < mm->nsubs; x++)
                if (mm->subs[x].handle == h) {
                    *s = &mm->subs[x];
                    return 0;
                }
        }
    return -ENOENT;
}

/* ---- requests ---- */

static void on_reply(void *ud, const http_call_res_t *res);

static void next_tx(janus_t *j, char tx[JANUS_TX_MAX + 1])
{
    snprintf(tx, JANUS_TX_MAX + 1, "c%" PRIu64, ++j->next_tx);
}

/* Sends body (owned, freed here; its transaction tx, NULL for the long poll) to url as kind
 * for room/member/feed. Returns 0 or -ENOBUFS (the bound, or the client's queue). */
static int send_req(janus_t *j, jn_kind_t kind, const char *url, const char *tx, char *body,
                    size_t len, const char *room, const char *member, uint64_t feed,
                    uint64_t timeout, const char *token)
{
    /* The long poll and cleanups (detach, token removal, room destruction) pass the bound:
     * dropping a cleanup would leave its handle, token or room at Janus. */
    int bounded =
        kind != R_POLL && kind != R_DETACH && kind != R_TOKEN_REMOVE && kind != R_ROOM_DESTROY;
    if (!j->http->post || (bounded && j->inflight >= j->cfg->janus_max_inflight)) {
        free(body);
        return -ENOBUFS;
    }
    jn_req_t *q = ch_calloc(1, sizeof(*q));
    q->j = j;
    q->kind = kind;
    q->feed = feed;
    if (room) snprintf(q->room, sizeof(q->room), "%s", room);
    if (member) snprintf(q->member, sizeof(q->member), "%s", member);
    if (token) snprintf(q->token, sizeof(q->token), "%s", token);
    q->session = j->session;
    q->epoch = j->epoch;
    if (tx) snprintf(q->tx, sizeof(q->tx), "%s", tx);
    jn_room_t *r = room ? room_find(j, room) : NULL;
    jn_member_t *m = member ? member_find(r, member) : NULL;
    if (r) q->room_number = r->number;
    if (m) snprintf(q->mtoken, sizeof(q->mtoken), "%s", m->token);
    static const char *const hdrs[] = {"Content-Type: application/json"};
    http_call_req_t req = {.url = url,
                           .headers = hdrs,
                           .nheaders = body ? 1 : 0,
                           .body = body,
                           .body_len = len,
                           .timeout_ms = timeout ? timeout : j->cfg->janus_timeout,
                           .max_reply = JN_REPLY_MAX,
                           .get = body == NULL};
    int rc = j->http->post(j->http->impl, &req, on_reply, q, &q->id);
    free(body);
    if (rc != 0) {
        free(q);
        return -ENOBUFS;
    }
    q->next = j->reqs;
    if (j->reqs) j->reqs->prev = q;
    j->reqs = q;
    j->inflight++;
    return 0;
}

static void req_unlink(janus_t *j, jn_req_t *q)
{
    if (q->prev)
        q->prev->next = q->next;
    else
        j->reqs = q->next;
    if (q->next) q->next->prev = q->prev;
    j->inflight--;
}

static char *session_url(janus_t *j, uint64_t handle)
{
    char *u = ch_malloc(strlen(j->cfg->janus_url) + 48);
    if (handle)
        sprintf(u, "%s/%" PRIu64 "/%" PRIu64, j->cfg->janus_url, j->session, handle);
    else
        sprintf(u, "%s/%" PRIu64, j->cfg->janus_url, j->session);
    return u;
}

/* A request on handle (0: the session) of kind, as body. */
static int send_on(janus_t *j, jn_kind_t kind, uint64_t handle, const char *tx, char *body,
                   size_t len, const char *room, const char *member, uint64_t feed)
{
    char *u = session_url(j, handle);
    int rc = send_req(j, kind, u, tx, body, len, room, member, feed, 0, NULL);
    free(u);
    return rc;
}

static int send_admin_token(janus_t *j, int add, const char *token, const char *room,
                            const char *member)
{
    char tx[JANUS_TX_MAX + 1];
    size_t len;
    next_tx(j, tx);
    char *b = janus_msg_admin_token(add, token, JANUS_VIDEOROOM, j->admin_secret, tx, &len);
    return send_req(j, add ? (member ? R_TOKEN_ADD : R_NODE_TOKEN) : R_TOKEN_REMOVE,
                    j->cfg->janus_admin_url, tx, b, len, room, member, 0, 0, token);
}

/* A plugin message on handle with member's token. */
static int send_message(janus_t *j, uint64_t handle, const char *token, json_t *body,
                        const char *jtype, const char *jsdp, jn_kind_t kind, const char *room,
                        const char *member, uint64_t feed)
{
    char tx[JANUS_TX_MAX + 1];
    size_t len;
    next_tx(j, tx);
    char *b = janus_msg_message(body, jtype, jsdp, tx, token, &len);
    json_decref(body);
    return send_on(j, kind, handle, tx, b, len, room, member, feed);
}

static int send_trickle(janus_t *j, uint64_t handle, const char *token, const json_t *cand,
                        const char *room, const char *member)
{
    char tx[JANUS_TX_MAX + 1];
    size_t len;
    next_tx(j, tx);
    char *b = janus_msg_trickle(json_is_null(cand) ? NULL : cand, tx, token, &len);
    return send_on(j, R_MESSAGE, handle, tx, b, len, room, member, 0);
}

/* Detaches handle with the process's token (valid whatever became of its member's). */
static void send_detach(janus_t *j, uint64_t handle)
{
    char tx[JANUS_TX_MAX + 1];
    size_t len;
    next_tx(j, tx);
    char *b = janus_msg_request(JANUS_REQ_DETACH, tx, j->token, &len);
    (void)send_on(j, R_DETACH, handle, tx, b, len, NULL, NULL, 0);
}

/* ---- telling members ---- */

static void tell(janus_t *j, const jn_room_t *r, const jn_member_t *m, json_t *data)
{
    char *s = json_dumps(data, JSON_COMPACT);
    json_decref(data);
    if (j->ev.signal) j->ev.signal(j->ev_ud, r->id, m->id, s, strlen(s));
    free(s);
}

static void fail(janus_t *j, const char *room, const char *member)
{
    if (j->ev.failed) j->ev.failed(j->ev_ud, room, member, SFU_UNAVAILABLE);
}

static void fail_room(janus_t *j, jn_room_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        fail(j, r->id, r->m[i].id);
}

/* ---- members ---- */

static void member_free(jn_member_t *m)
{
    free(m->offer);
    json_decref(m->cands);
    for (size_t i = 0; i < m->nsubs; i++)
        json_decref(m->subs[i].cands);
    free(m->subs);
}

/* Detaches m's handles and removes its token at Janus, then frees m's record. */
static void member_drop(janus_t *j, jn_room_t *r, jn_member_t *m)
{
    if (j->state == S_READY) {
        for (size_t i = 0; i < m->nsubs; i++)
            if (m->subs[i].handle) send_detach(j, m->subs[i].handle);
        if (m->handle) send_detach(j, m->handle);
    }
    if (m->token_ok) (void)send_admin_token(j, 0, m->token, r->id, m->id);
    member_free(m);
}

static void hold_candidate(json_t **held, const json_t *cand)
{
    if (!*held) *held = json_array();
    if (json_array_size(*held) < JN_MAX_CANDIDATES) json_array_append(*held, (json_t *)cand);
}

static void flush_candidates(janus_t *j, jn_room_t *r, jn_member_t *m, uint64_t handle,
                             json_t **held)
{
    if (!*held) return;
    size_t i;
    json_t *c;
    json_array_foreach(*held, i, c)(void) send_trickle(j, handle, m->token, c, r->id, m->id);
    json_decref(*held);
    *held = NULL;
}

/* m receives publisher feed (display: its call member id) through a subscriber handle. */
static void subscribe(janus_t *j, jn_room_t *r, jn_member_t *m, uint64_t feed,
                      const char *display)
{
    if (feed == m->pub_id || !display || strlen(display) > JN_PC_MAX ||
        sub_find_feed(m, feed) || sub_find_pc(m, display) || m->nsubs >= r->max_members)
        return;
    char tx[JANUS_TX_MAX + 1];
    size_t len;
    next_tx(j, tx);
    char *b = janus_msg_attach(JANUS_VIDEOROOM, tx, m->token, &len);
    if (send_on(j, R_ATTACH_SUB, 0, tx, b, len, r->id, m->id, feed) != 0) {
        fail(j, r->id, m->id);
        return;
    }
    if (m->nsubs == m->capsubs) {
        m->capsubs = m->capsubs ? 2 * m->capsubs : 4;
        m->subs = ch_realloc(m->subs, m->capsubs * sizeof(*m->subs));
    }
    jn_sub_t *s = &m->subs[m->nsubs++];
    memset(s, 0, sizeof(*s));
    s->feed = feed;
    snprintf(s->pc, sizeof(s->pc), "%s", display);
}

static void unsubscribe(janus_t *j, jn_room_t *r, jn_member_t *m, uint64_t feed)
{
    jn_sub_t *s = sub_find_feed(m, feed);
    if (!s) return;
    if (s->handle) send_detach(j, s->handle);
    tell(j, r, m, json_pack("{s:s, s:s}", "pc", s->pc, "type", "bye"));
    json_decref(s->cands);
    *s = m->subs[--m->nsubs];
}

/* Sends m's next request when its state allows one. */
static void member_advance(janus_t *j, jn_room_t *r, jn_member_t *m)
{
    if (j->state != S_READY) return;
    if (!m->token_ok) {
        /* Its token went with a lost session (session_lost made a new one): added again. */
        if (!m->adding) {
            if (send_admin_token(j, 1, m->token, r->id, m->id) != 0)
                fail(j, r->id, m->id);
            else
                m->adding = 1;
        }
        return;
    }
    if (!r->created) {
        if (!r->creating) room_advance(j, r); /* its creation failed: again */
        return;
    }
    if (!m->handle && !m->attaching) {
        char tx[JANUS_TX_MAX + 1];
        size_t len;
        next_tx(j, tx);
        char *b = janus_msg_attach(JANUS_VIDEOROOM, tx, m->token, &len);
        if (send_on(j, R_ATTACH_PUB, 0, tx, b, len, r->id, m->id, 0) != 0)
            fail(j, r->id, m->id);
        else
            m->attaching = 1;
        return;
    }
    if (m->joined && m->offer) {
        char *offer = m->offer;
        m->offer = NULL;
        if (send_message(j, m->handle, m->token, janus_vr_configure(), "offer", offer,
                         R_MESSAGE, r->id, m->id, 0) != 0)
            fail(j, r->id, m->id);
        free(offer);
        flush_candidates(j, r, m, m->handle, &m->cands);
    }
}

/* ---- rooms ---- */

static void room_advance(janus_t *j, jn_room_t *r)
{
    if (j->state != S_READY) {
        start_session(j);
        return;
    }
    if (!r->created && !r->creating) {
        janus_vr_room_t vr = {.room = r->number,
                              .publishers = r->max_members,
                              .bitrate = (uint32_t)j->cfg->janus_room_bitrate,
                              .description = r->id};
        if (send_message(j, j->control, j->token, janus_vr_create(&vr), NULL, NULL,
                         R_ROOM_CREATE, r->id, NULL, 0) != 0)
            fail_room(j, r);
        else
            r->creating = 1;
        return;
    }
    for (size_t i = 0; i < r->n; i++)
        member_advance(j, r, &r->m[i]);
}

/* Keeps Janus room number to destroy at the next ready session (on_timer makes one). */
static void room_doom(janus_t *j, uint64_t number)
{
    for (size_t i = 0; i < j->ndoomed; i++)
        if (j->doomed[i] == number) return;
    if (j->ndoomed == JN_DOOMED_MAX) {
        log_warn(j->log, "janus: %d rooms to destroy already; room %" PRIu64 " left at Janus",
                 JN_DOOMED_MAX, number);
        return;
    }
    j->doomed[j->ndoomed++] = number;
}

/* Destroys Janus room number now, or once a session is ready. */
static void room_destroy_at_janus(janus_t *j, uint64_t number)
{
    if (j->state != S_READY) {
        room_doom(j, number);
        return;
    }
    (void)send_message(j, j->control, j->token, janus_vr_destroy(number), NULL, NULL,
                       R_ROOM_DESTROY, NULL, NULL, number);
}

/* ---- the session ---- */

/* A random room number (Janus's are below 2^53): rooms of other processes sharing the Janus
 * do not meet. */
static uint64_t room_number(void)
{
    char hex[15];
    auth_random_hex(hex, 7);
    return (strtoull(hex, NULL, 16) & ((1ULL << 52) - 1)) | 1;
}

/* The session is gone (Janus restarted, stopped, or forgot it) or could not be made: every
 * SFU member is told (rtc_sfu_error: their media through Janus is over) and everything the
 * session held is forgotten. Each call keeps its members: a new session is tried at once,
 * then less often (JN_RETRY_MS doubled up to the keepalive period), and when it is up each
 * call gets a new Janus room, each member a new token and publisher handle, and a member's
 * next offer (pc "pub": the SDK rejoins after rtc_sfu_error) renegotiates there; the others'
 * media is offered again as they publish. The old rooms are destroyed at the new session
 * if that Janus still has them (j->doomed: also when their calls ended meanwhile, as they
 * usually do, the SDK leaving at rtc_sfu_error), and the process's old token removed. */
static void session_lost(janus_t *j)
{
    if (j->state == S_IDLE) return;
    log_warn(j->log, "janus: session lost; calls through the SFU fail with %s until it is back",
             SFU_UNAVAILABLE);
    j->state = S_IDLE;
    j->epoch++; /* the replies of this attempt's own requests are stale now */
    j->session = j->control = 0;
    j->polling = 0;
    /* A Janus that only lost the session still has the process's token: removed. */
    if (j->token_ok) (void)send_admin_token(j, 0, j->token, NULL, NULL);
    j->token_ok = 0;
    for (size_t i = 0; i < j->nrooms; i++) {
        jn_room_t *r = &j->rooms[i];
        fail_room(j, r);
        /* (one being made is doomed by its reply, if it succeeds: on_reply) */
        if (r->created) room_doom(j, r->number);
        /* A new number: replies about the old room no longer match it (on_reply). */
        if (r->created || r->creating) r->number = room_number();
        r->created = r->creating = 0;
        for (size_t k = 0; k < r->n; k++) {
            jn_member_t *m = &r->m[k];
            for (size_t x = 0; x < m->nsubs; x++) {
                tell(j, r, m, json_pack("{s:s, s:s}", "pc", m->subs[x].pc, "type", "bye"));
                json_decref(m->subs[x].cands);
            }
            m->nsubs = 0;
            m->handle = 0;
            m->attaching = m->joined = 0;
            free(m->offer); /* for the lost session's connection */
            m->offer = NULL;
            json_decref(m->cands);
            m->cands = NULL;
            /* A restarted Janus has no tokens; one that only lost the session still has
             * this one: removed. Replies about the old token no longer match (on_reply). */
            if (m->token_ok) (void)send_admin_token(j, 0, m->token, r->id, m->id);
            auth_random_hex(m->token, JN_TOKEN_BYTES);
            m->token_ok = m->adding = 0;
        }
    }
    j->retry_ms = j->retry_ms ? j->retry_ms * 2 : JN_RETRY_MS;
    if (j->retry_ms > JN_KEEPALIVE_MS) j->retry_ms = JN_KEEPALIVE_MS;
    uv_timer_start(&j->timer, on_timer, j->retry_ms, JN_KEEPALIVE_MS);
}

static void poll_events(janus_t *j)
{
    if (j->state != S_READY || j->polling) return;
    char *u = ch_malloc(strlen(j->cfg->janus_url) + 128);
    sprintf(u, "%s/%" PRIu64 "?maxev=%d&token=%s", j->cfg->janus_url, j->session, JN_POLL_MAXEV,
            j->token);
    if (send_req(j, R_POLL, u, NULL, NULL, 0, NULL, NULL, 0, JN_POLL_TIMEOUT_MS, NULL) == 0)
        j->polling = 1;
    free(u);
}

static void start_session(janus_t *j)
{
    if (j->state != S_IDLE) return;
    j->state = S_STARTING;
    auth_random_hex(j->token, JN_TOKEN_BYTES);
    if (send_admin_token(j, 1, j->token, NULL, NULL) != 0) session_lost(j);
}

static void send_keepalive(janus_t *j)
{
    char tx[JANUS_TX_MAX + 1];
    size_t len;
    next_tx(j, tx);
    char *b = janus_msg_request(JANUS_REQ_KEEPALIVE, tx, j->token, &len);
    (void)send_on(j, R_KEEPALIVE, 0, tx, b, len, NULL, NULL, 0);
}

static void on_timer(uv_timer_t *t)
{
    janus_t *j = t->data;
    /* Janus back: the calls retry, and rooms of a lost session are destroyed */
    if (j->state == S_IDLE && (j->nrooms || j->ndoomed)) start_session(j);
    if (j->state != S_READY) return;
    send_keepalive(j);
    poll_events(j);
}

/* ---- events ---- */

static void on_event(void *ud, const janus_msg_t *e)
{
    janus_t *j = ud;
    log_debug(j->log,
              "janus: event %d from handle %" PRIu64 " (videoroom %d, %zu publishers%s)",
              (int)e->kind, e->sender, (int)e->vr, e->npubs, e->jsep_type ? ", jsep" : "");
    if (e->kind == JANUS_MSG_TIMEOUT ||
        (e->kind == JANUS_MSG_ERROR && e->error == JN_ERR_NO_SESSION)) {
        /* (a poll of a session Janus forgot is answered at once with the error: polling
         * again would loop) */
        session_lost(j);
        return;
    }
    jn_room_t *r;
    jn_member_t *m;
    jn_sub_t *s;
    if (e->kind != JANUS_MSG_EVENT || !e->sender || handle_find(j, e->sender, &r, &m, &s) != 0)
        return;
    if (e->error) {
        log_warn(j->log, "janus: room %s member %s: %d %s", r->id, m->id, e->error, e->reason);
        fail(j, r->id, m->id);
        return;
    }
    if (s) { /* a subscriber handle: Janus's offer of one publisher's media */
        if (e->vr == JANUS_VR_ATTACHED && e->jsep_type && strcmp(e->jsep_type, "offer") == 0)
            tell(
                j, r, m,
                json_pack("{s:s, s:s, s:s}", "pc", s->pc, "type", "offer", "sdp", e->jsep_sdp));
        return;
    }
    if (e->vr == JANUS_VR_JOINED) {
        m->joined = 1;
        m->pub_id = e->pub_id ? e->pub_id : m->pub_id;
    }
    if (e->jsep_type && strcmp(e->jsep_type, "answer") == 0)
        tell(j, r, m,
             json_pack("{s:s, s:s, s:s}", "pc", "pub", "type", "answer", "sdp", e->jsep_sdp));
    for (size_t i = 0; i < e->npubs; i++)
        subscribe(j, r, m, e->pubs[i].id, e->pubs[i].display);
    if (e->leaving) unsubscribe(j, r, m, e->leaving);
    if (e->unpublished) unsubscribe(j, r, m, e->unpublished);
    member_advance(j, r, m);
}

/* ---- replies ---- */

static void on_reply(void *ud, const http_call_res_t *res)
{
    jn_req_t *q = ud;
    janus_t *j = q->j;
    req_unlink(j, q);
    janus_msg_t m;
    memset(&m, 0, sizeof(m));
    int jerr = 0; /* Janus's error code, if it refused */
    int ok = res->err == 0 && res->status == 200 &&
             (q->kind == R_POLL || janus_msg_parse(res->body, res->body_len, &m) == 0);
    if (ok && q->kind != R_POLL && !janus_msg_answers(&m, q->tx)) {
        log_warn(j->log, "janus: request %d (transaction %s) got a reply that is not its own",
                 (int)q->kind, q->tx);
        ok = 0;
        janus_msg_free(&m);
    }
    if (ok && q->kind != R_POLL && (m.kind == JANUS_MSG_ERROR || m.error)) {
        log_warn(j->log, "janus: request %d refused: %d %s", (int)q->kind, m.error, m.reason);
        jerr = m.error;
        ok = 0;
        janus_msg_free(&m);
    }
    if (!ok && q->kind != R_POLL && res->err != -ECANCELED && (res->err || res->status != 200))
        log_warn(j->log, "janus: request %d failed: %s (HTTP %d)", (int)q->kind,
                 res->err ? strerror(-res->err) : "bad reply", res->status);
    if ((q->kind == R_NODE_TOKEN || q->kind == R_SESSION || q->kind == R_CONTROL) &&
        (q->epoch != j->epoch || j->state != S_STARTING)) {
        /* A step of an earlier session attempt (the session was lost or started again
         * meanwhile): it must not set this attempt's session. A session it made at Janus
         * is never kept alive and times out there (session_timeout, 60 s by default). */
        log_debug(j->log, "janus: request %d of an earlier session attempt ignored",
                  (int)q->kind);
        if (ok && q->kind == R_NODE_TOKEN) (void)send_admin_token(j, 0, q->token, NULL, NULL);
        goto out;
    }
    if (q->kind != R_NODE_TOKEN && q->kind != R_SESSION && q->kind != R_TOKEN_ADD &&
        q->kind != R_TOKEN_REMOVE && q->session != j->session) {
        /* a reply of a lost session: its handles went with it; a room it made did not, if
         * only the session was lost (Janus never destroys a VideoRoom room itself) */
        log_debug(j->log, "janus: request %d of a lost session ignored", (int)q->kind);
        if (ok && q->kind == R_ROOM_CREATE) room_destroy_at_janus(j, q->room_number);
        if (!ok && q->kind == R_ROOM_DESTROY) room_destroy_at_janus(j, q->feed); /* again */
        goto out;
    }
    if (jerr == JN_ERR_NO_SESSION && j->state == S_READY && q->session == j->session) {
        /* Janus forgot the session (destroyed, timed out) while it stays up: the long poll
         * would only say so after it ends (30 s), so any request that hears it first does */
        session_lost(j);
        if (q->kind == R_ROOM_DESTROY) room_destroy_at_janus(j, q->feed); /* at the next */
        goto out;
    }
    jn_room_t *r = q->room[0] ? room_find(j, q->room) : NULL;
    if (r && r->number != q->room_number) r = NULL; /* another call of the room: gone */
    jn_member_t *mb = member_find(r, q->member);
    if (mb && strcmp(mb->token, q->mtoken) != 0) mb = NULL; /* another member of that id */
    switch (q->kind) {
    case R_NODE_TOKEN:
        if (!ok) {
            session_lost(j);
            break;
        }
        j->token_ok = 1;
        {
            char tx[JANUS_TX_MAX + 1];
            size_t len;
            next_tx(j, tx);
            char *body = janus_msg_request(JANUS_REQ_CREATE, tx, j->token, &len);
            if (send_req(j, R_SESSION, j->cfg->janus_url, tx, body, len, NULL, NULL, 0, 0,
                         NULL) != 0)
                session_lost(j);
        }
        break;
    case R_SESSION:
        if (!ok || !m.id) {
            session_lost(j);
            break;
        }
        j->session = m.id;
        {
            char tx[JANUS_TX_MAX + 1];
            size_t len;
            next_tx(j, tx);
            char *body = janus_msg_attach(JANUS_VIDEOROOM, tx, j->token, &len);
            if (send_on(j, R_CONTROL, 0, tx, body, len, NULL, NULL, 0) != 0) session_lost(j);
        }
        break;
    case R_CONTROL:
        if (!ok || !m.id) {
            session_lost(j);
            break;
        }
        j->control = m.id;
        j->state = S_READY;
        j->retry_ms = 0;
        log_info(j->log, "janus: session %" PRIu64 " ready", j->session);
        poll_events(j);
        for (size_t i = 0; i < j->ndoomed; i++) /* rooms of a lost session */
            room_destroy_at_janus(j, j->doomed[i]);
        j->ndoomed = 0;
        for (size_t i = 0; i < j->nrooms; i++)
            room_advance(j, &j->rooms[i]);
        break;
    case R_KEEPALIVE:
        if (!ok && res->err != -ECANCELED)
            session_lost(j);
        else if (ok)
            poll_events(j); /* a probe after a broken poll: the session lives, poll again */
        break;
    case R_POLL:
        j->polling = 0;
        if (res->err == -ECANCELED) break;
        if (res->err == 0 && res->status == 200) {
            /* At once when Janus answered (no event waits); after something else, at the
             * next keepalive (no busy loop against a server that is not Janus). */
            if (janus_msg_parse_events(res->body, res->body_len, on_event, j) > 0)
                poll_events(j);
        } else if (res->err == 0) {
            session_lost(j); /* Janus forgot the session (404/...) */
        } else if (j->state == S_READY) {
            /* The connection broke or timed out (Janus restarting?): a keepalive now says
             * whether the session lives (and polls again) or is lost. */
            send_keepalive(j);
        }
        break;
    case R_ROOM_CREATE:
        if (!r) { /* the call ended while its room was being made */
            if (ok) room_destroy_at_janus(j, q->room_number);
            break;
        }
        r->creating = 0;
        if (!ok) {
            fail_room(j, r);
            break;
        }
        r->created = 1;
        room_advance(j, r);
        break;
    case R_TOKEN_ADD:
        if (!mb) { /* gone meanwhile (or its session lost): take the token back */
            if (ok) (void)send_admin_token(j, 0, q->token, NULL, NULL);
            break;
        }
        mb->adding = 0;
        if (!ok) {
            fail(j, r->id, mb->id);
            break;
        }
        mb->token_ok = 1;
        member_advance(j, r, mb);
        break;
    case R_ATTACH_PUB:
        if (!mb) {
            if (ok && m.id) send_detach(j, m.id);
            break;
        }
        mb->attaching = 0;
        if (!ok || !m.id) {
            fail(j, r->id, mb->id);
            break;
        }
        mb->handle = m.id;
        if (send_message(j, mb->handle, mb->token,
                         janus_vr_publish(r->number, mb->pub_id, mb->id), NULL, NULL, R_MESSAGE,
                         r->id, mb->id, 0) != 0)
            fail(j, r->id, mb->id);
        break;
    case R_ATTACH_SUB: {
        jn_sub_t *s = mb ? sub_find_feed(mb, q->feed) : NULL;
        if (!s) {
            if (ok && m.id) send_detach(j, m.id);
            break;
        }
        if (!ok || !m.id) { /* the sub goes (Janus offers the feed again at a rejoin) */
            json_decref(s->cands);
            *s = mb->subs[--mb->nsubs];
            fail(j, r->id, mb->id);
            break;
        }
        s->handle = m.id;
        if (send_message(j, s->handle, mb->token, janus_vr_subscribe(r->number, s->feed), NULL,
                         NULL, R_MESSAGE, r->id, mb->id, 0) != 0)
            fail(j, r->id, mb->id);
        flush_candidates(j, r, mb, s->handle, &s->cands);
        break;
    }
    case R_MESSAGE:
        if (!ok && mb) fail(j, r->id, mb->id);
        break;
    case R_ROOM_DESTROY:
    case R_TOKEN_REMOVE:
    case R_DETACH:
        break;
    }
out:
    if (ok && q->kind != R_POLL) janus_msg_free(&m);
    free(q);
}

/* ---- the sfu.h table ---- */

static void t_set_events(void *impl, const sfu_events_t *ev, void *ud)
{
    janus_t *j = impl;
    j->ev = *ev;
    j->ev_ud = ud;
}

static int t_call_start(void *impl, const char *room_id, uint32_t max_members)
{
    janus_t *j = impl;
    if (room_find(j, room_id)) return 0;
    if (strlen(room_id) >= STORE_ID_LEN) return -EINVAL;
    if (j->inflight >= j->cfg->janus_max_inflight) return -ENOBUFS;
    if (j->nrooms == j->caprooms) {
        j->caprooms = j->caprooms ? 2 * j->caprooms : 4;
        j->rooms = ch_realloc(j->rooms, j->caprooms * sizeof(*j->rooms));
    }
    jn_room_t *r = &j->rooms[j->nrooms++];
    memset(r, 0, sizeof(*r));
    snprintf(r->id, sizeof(r->id), "%s", room_id);
    r->number = room_number();
    r->max_members = max_members ? max_members : 1;
    room_advance(j, r);
    return 0;
}

static void t_call_end(void *impl, const char *room_id)
{
    janus_t *j = impl;
    jn_room_t *r = room_find(j, room_id);
    if (!r) return;
    for (size_t i = 0; i < r->n; i++)
        member_drop(j, r, &r->m[i]);
    free(r->m);
    if (r->created) room_destroy_at_janus(j, r->number);
    *r = j->rooms[--j->nrooms];
}

static int t_member_join(void *impl, const char *room_id, const char *member_id)
{
    janus_t *j = impl;
    jn_room_t *r = room_find(j, room_id);
    if (!r) return -ENOENT;
    if (member_find(r, member_id)) return 0;
    if (strlen(member_id) > JN_PC_MAX) return -EINVAL;
    if (j->inflight >= j->cfg->janus_max_inflight) return -ENOBUFS;
    if (r->n == r->cap) {
        r->cap = r->cap ? 2 * r->cap : 8;
        r->m = ch_realloc(r->m, r->cap * sizeof(*r->m));
    }
    jn_member_t *m = &r->m[r->n++];
    memset(m, 0, sizeof(*m));
    snprintf(m->id, sizeof(m->id), "%s", member_id);
    m->pub_id = ++j->next_pub;
    auth_random_hex(m->token, JN_TOKEN_BYTES);
    if (send_admin_token(j, 1, m->token, r->id, m->id) != 0) {
        member_free(m);
        r->n--;
        return -ENOBUFS;
    }
    m->adding = 1;
    return 0;
}

static void t_member_leave(void *impl, const char *room_id, const char *member_id)
{
    janus_t *j = impl;
    jn_room_t *r = room_find(j, room_id);
    jn_member_t *m = member_find(r, member_id);
    if (!m) return;
    member_drop(j, r, m);
    *m = r->m[--r->n];
}

static int t_signal(void *impl, const char *room_id, const char *member_id, const char *data,
                    size_t len)
{
    janus_t *j = impl;
    jn_room_t *r = room_find(j, room_id);
    jn_member_t *m = member_find(r, member_id);
    if (!m) return -ENOENT;
    json_t *v = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    const char *pc = json_is_object(v) ? json_string_value(json_object_get(v, "pc")) : NULL;
    const char *type = pc ? json_string_value(json_object_get(v, "type")) : NULL;
    const char *sdp = type ? json_string_value(json_object_get(v, "sdp")) : NULL;
    json_t *cand = pc ? json_object_get(v, "candidate") : NULL;
    int rc = -EINVAL;
    if (!pc || (!cand && !sdp) || (cand && !json_is_object(cand) && !json_is_null(cand)))
        goto out;
    if (cand && !json_is_null(cand)) { /* held ones add up: 64 per connection */
        char *enc = json_dumps(cand, JSON_COMPACT);
        size_t elen = enc ? strlen(enc) : SIZE_MAX;
        free(enc);
        if (elen > JN_CANDIDATE_MAX) goto out;
    }
    if (strcmp(pc, "pub") == 0) {
        if (cand) {
            if (m->joined && !m->offer)
                rc = send_trickle(j, m->handle, m->token, cand, r->id, m->id);
            else {
                hold_candidate(&m->cands, cand);
                rc = 0;
            }
        } else if (strcmp(type, "offer") == 0) {
            free(m->offer);
            m->offer = ch_strdup(sdp);
            member_advance(j, r, m);
            rc = 0;
        }
        goto out;
    }
    jn_sub_t *s = sub_find_pc(m, pc);
    if (!s) {
        rc = -ENOENT;
        goto out;
    }
    if (cand) {
        if (s->handle)
            rc = send_trickle(j, s->handle, m->token, cand, r->id, m->id);
        else {
            hold_candidate(&s->cands, cand);
            rc = 0;
        }
    } else if (strcmp(type, "answer") == 0 && s->handle) {
        rc = send_message(j, s->handle, m->token, janus_vr_start(), "answer", sdp, R_MESSAGE,
                          r->id, m->id, 0);
    }
out:
    json_decref(v);
    return rc;
}

sfu_t janus_sfu(janus_t *j)
{
    return (sfu_t){.impl = j,
                   .set_events = t_set_events,
                   .call_start = t_call_start,
                   .call_end = t_call_end,
                   .member_join = t_member_join,
                   .member_leave = t_member_leave,
                   .signal = t_signal};
}

/* ---- life ---- */

static char *read_secret(const char *path, log_t *log)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        log_error(log, "janus: cannot read --janus-admin-secret-file %s: %s", path,
                  strerror(errno));
        return NULL;
    }
    char buf[1024];
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
        n--;
    buf[n] = '\0';
    if (!n) {
        log_error(log, "janus: --janus-admin-secret-file %s is empty", path);
        return NULL;
    }
    return ch_strdup(buf);
}

janus_t *janus_new(uv_loop_t *loop, const chorus_config_t *cfg, log_t *log,
                   const http_call_t *http, int *err)
{
    *err = 0;
    if (!cfg->janus_url || !cfg->janus_url[0]) return NULL;
    char *secret = cfg->janus_admin_secret_file && cfg->janus_admin_secret_file[0]
                       ? read_secret(cfg->janus_admin_secret_file, log)
                       : ch_strdup(cfg->janus_admin_secret);
    if (!secret || !cfg->janus_admin_url[0] || !secret[0]) {
        if (secret) log_error(log, "janus: --janus-url needs --janus-admin-url and its secret");
        free(secret);
        *err = -1;
        return NULL;
    }
    janus_t *j = ch_calloc(1, sizeof(*j));
    j->loop = loop;
    j->log = log;
    j->http = http;
    j->cfg = cfg;
    j->admin_secret = secret;
    uv_timer_init(loop, &j->timer);
    j->timer.data = j;
    uv_timer_start(&j->timer, on_timer, JN_KEEPALIVE_MS, JN_KEEPALIVE_MS);
    uv_unref((uv_handle_t *)&j->timer);
    return j;
}

size_t janus_inflight(const janus_t *j)
{
    return j ? j->inflight : 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    janus_t *j = h->data;
    free(j->admin_secret);
    free(j);
}

void janus_close(janus_t *j)
{
    if (!j) return;
    while (j->reqs) {
        jn_req_t *q = j->reqs;
        if (j->http->cancel) j->http->cancel(j->http->impl, q->id);
        req_unlink(j, q);
        free(q);
    }
    for (size_t i = 0; i < j->nrooms; i++) {
        for (size_t k = 0; k < j->rooms[i].n; k++)
            member_free(&j->rooms[i].m[k]);
        free(j->rooms[i].m);
    }
    free(j->rooms);
    j->rooms = NULL;
    j->nrooms = 0;
    uv_close((uv_handle_t *)&j->timer, on_timer_closed);
}
