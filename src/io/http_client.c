/* http_client.c: the outgoing HTTP client (http_client.h) over libcurl's multi-socket
 * interface: curl says which sockets to watch (hc_socket, one uv_poll each) and when to
 * wake it (hc_timer, one uv_timer); the loop tells curl what happened
 * (curl_multi_socket_action) and the finished transfers are answered from there
 * (hc_check). At most max_active transfers are in curl at once, the rest wait in a FIFO of
 * at most max_queued; curl keeps the connections of finished transfers for the next ones. */
#include "io/http_client.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "util/mem.h"

typedef struct hc_req_s {
    struct hc_req_s *prev, *next; /* in c->active or c->queued */
    http_client_t *c;
    uint64_t id;
    int active;
    uint64_t deadline; /* loop ms: the request's timeout counts from its post */
    CURL *easy;
    struct curl_slist *hdrs;
    char *reply; /* owned; grows up to max_reply */
    size_t len, cap, max_reply;
    int too_big;
    http_call_done_fn done;
    void *ud;
} hc_req_t;

typedef struct {
    hc_req_t *head, *tail;
    size_t n;
} hc_list_t;

typedef struct hc_sock_s {
    uv_poll_t poll;
    struct hc_sock_s *prev, *next; /* in c->socks while curl watches it */
    http_client_t *c;
    curl_socket_t fd;
} hc_sock_t;

struct http_client_s {
    uv_loop_t *loop; /* borrowed */
    log_t *log;      /* borrowed */
    http_client_limits_t lim;
    CURLM *multi;
    uv_timer_t timer;
    uv_timer_t qtimer; /* the next deadline of a queued request */
    hc_list_t active, queued;
    hc_sock_t *socks;
    uint64_t next_id;
    unsigned open_handles; /* the timer and the polls not yet closed */
    int closing;
};

static void list_push(hc_list_t *l, hc_req_t *r)
{
    r->prev = l->tail;
    r->next = NULL;
    if (l->tail)
        l->tail->next = r;
    else
        l->head = r;
    l->tail = r;
    l->n++;
}

static void list_remove(hc_list_t *l, hc_req_t *r)
{
    if (r->prev)
        r->prev->next = r->next;
    else
        l->head = r->next;
    if (r->next)
        r->next->prev = r->prev;
    else
        l->tail = r->prev;
    r->prev = r->next = NULL;
    l->n--;
}

static void req_free(hc_req_t *r)
{
    curl_easy_cleanup(r->easy);
    curl_slist_free_all(r->hdrs);
    free(r->reply);
    free(r);
}

static void handle_closed(uv_handle_t *h)
{
    http_client_t *c = h->data;
    if (h->type == UV_POLL) free(h);
    CH_ASSERT(c->open_handles > 0);
    if (--c->open_handles == 0 && c->closing) {
        free(c);
        curl_global_cleanup();
    }
}

static void sock_close(http_client_t *c, hc_sock_t *s)
{
    if (s->prev)
        s->prev->next = s->next;
    else
        c->socks = s->next;
    if (s->next) s->next->prev = s->prev;
    uv_poll_stop(&s->poll);
    uv_close((uv_handle_t *)&s->poll, handle_closed);
}

/* A transfer in curl ends: removed from it (its connection goes back to the cache). */
static void req_detach(http_client_t *c, hc_req_t *r)
{
    if (r->active) {
        curl_multi_remove_handle(c->multi, r->easy);
        list_remove(&c->active, r);
    } else {
        list_remove(&c->queued, r);
    }
}

static void on_qtimer(uv_timer_t *t);

/* Sets qtimer for the earliest deadline of the queued requests. */
static void queue_arm(http_client_t *c)
{
    if (c->closing) return;
    uint64_t first = UINT64_MAX;
    for (hc_req_t *r = c->queued.head; r; r = r->next)
        if (r->deadline < first) first = r->deadline;
    if (first == UINT64_MAX) {
        uv_timer_stop(&c->qtimer);
        return;
    }
    uint64_t now = uv_now(c->loop);
    uv_timer_start(&c->qtimer, on_qtimer, first > now ? first - now : 0, 0);
}

/* Moves queued requests into curl while there is room, each with the time it has left of
 * its timeout; one whose deadline passed stays for on_qtimer, which answers it -ETIMEDOUT
 * at once (never from inside post). */
static void promote(http_client_t *c)
{
    uint64_t now = uv_now(c->loop);
    hc_req_t *r = c->queued.head;
    while (!c->closing && r && c->active.n < c->lim.max_active) {
        hc_req_t *next = r->next;
        if (r->deadline > now) {
            list_remove(&c->queued, r);
            r->active = 1;
            list_push(&c->active, r);
            curl_easy_setopt(r->easy, CURLOPT_TIMEOUT_MS, (long)(r->deadline - now));
            CURLMcode mc = curl_multi_add_handle(c->multi, r->easy);
            CH_ASSERT(mc == CURLM_OK);
        }
        r = next;
    }
    queue_arm(c);
}

static int err_of(hc_req_t *r, CURLcode rc)
{
    long oserr = 0;
    switch (rc) {
    case CURLE_OK:
        return 0;
    case CURLE_OPERATION_TIMEDOUT:
        return -ETIMEDOUT;
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
        return -EHOSTUNREACH;
    case CURLE_COULDNT_CONNECT:
        curl_easy_getinfo(r->easy, CURLINFO_OS_ERRNO, &oserr);
        if (oserr == EHOSTUNREACH || oserr == ENETUNREACH) return -EHOSTUNREACH;
        if (oserr == ETIMEDOUT) return -ETIMEDOUT;
        return -ECONNREFUSED;
    case CURLE_FILESIZE_EXCEEDED:
        return -E2BIG;
    case CURLE_WRITE_ERROR:
        return r->too_big ? -E2BIG : -EIO;
    default:
        return -EIO;
    }
}

/* Answers -ETIMEDOUT the queued requests whose deadline passed: the time queued counts. */
static void on_qtimer(uv_timer_t *t)
{
    http_client_t *c = t->data;
    uint64_t now = uv_now(c->loop);
    http_call_res_t res = {.err = -ETIMEDOUT};
    hc_req_t *r = c->queued.head;
    while (r && !c->closing) {
        if (r->deadline > now) {
            r = r->next;
            continue;
        }
        req_detach(c, r);
        r->done(r->ud, &res);
        req_free(r);
        r = c->queued.head; /* a done may cancel others */
    }
    promote(c);
}

static void req_finish(http_client_t *c, hc_req_t *r, CURLcode rc)
{
    http_call_res_t res = {.err = err_of(r, rc)};
    if (res.err == 0) {
        long status = 0;
        curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
        res.status = (int)status;
        res.body = r->reply ? r->reply : "";
        res.body_len = r->len;
    } else if (res.err == -EIO) {
        log_debug(c->log, "http client: %s", curl_easy_strerror(rc));
    }
    req_detach(c, r);
    r->done(r->ud, &res);
    req_free(r);
}

/* Answers the transfers curl finished, then starts queued ones in their place. */
static void hc_check(http_client_t *c)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(c->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        hc_req_t *r = NULL;
        CURLcode rc = msg->data.result;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
        req_finish(c, r, rc);
    }
    promote(c);
}

static void on_timer(uv_timer_t *t)
{
    http_client_t *c = t->data;
    int running;
    curl_multi_socket_action(c->multi, CURL_SOCKET_TIMEOUT, 0, &running);
    hc_check(c);
}

static void on_poll(uv_poll_t *p, int status, int events)
{
    hc_sock_t *s = (hc_sock_t *)p;
    http_client_t *c = s->c;
    int flags = 0, running;
    if (status < 0) flags = CURL_CSELECT_ERR;
    if (events & UV_READABLE) flags |= CURL_CSELECT_IN;
    if (events & UV_WRITABLE) flags |= CURL_CSELECT_OUT;
    curl_multi_socket_action(c->multi, s->fd, flags, &running);
    hc_check(c);
}

/* CURLMOPT_SOCKETFUNCTION: watch fd for what, or stop watching it. */
static int hc_socket(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)easy;
    http_client_t *c = userp;
    hc_sock_t *s = socketp;
    if (what == CURL_POLL_REMOVE) {
        if (s) {
            curl_multi_assign(c->multi, fd, NULL);
            sock_close(c, s);
        }
        return 0;
    }
    if (!s) {
        s = ch_calloc(1, sizeof(*s));
        if (uv_poll_init_socket(c->loop, &s->poll, fd) != 0) {
            free(s);
            return -1;
        }
        s->poll.data = c;
        s->c = c;
        s->fd = fd;
        s->next = c->socks;
        if (c->socks) c->socks->prev = s;
        c->socks = s;
        c->open_handles++;
        curl_multi_assign(c->multi, fd, s);
    }
    int events = 0;
    if (what & CURL_POLL_IN) events |= UV_READABLE;
    if (what & CURL_POLL_OUT) events |= UV_WRITABLE;
    return uv_poll_start(&s->poll, events, on_poll) == 0 ? 0 : -1;
}

/* CURLMOPT_TIMERFUNCTION: curl wants on_timer after timeout_ms (-1: never). */
static int hc_timer(CURLM *multi, long timeout_ms, void *userp)
{
    (void)multi;
    http_client_t *c = userp;
    if (timeout_ms < 0)
        uv_timer_stop(&c->timer);
    else
        uv_timer_start(&c->timer, on_timer, (uint64_t)timeout_ms, 0);
    return 0;
}

static size_t on_write(char *data, size_t size, size_t nmemb, void *userp)
{
    hc_req_t *r = userp;
    size_t n = size * nmemb;
    if (n > r->max_reply - r->len) {
        r->too_big = 1;
        return 0;
    }
    if (r->len + n > r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        while (cap < r->len + n)
            cap *= 2;
        if (cap > r->max_reply) cap = r->max_reply;
        r->reply = ch_realloc(r->reply, cap);
        r->cap = cap;
    }
    memcpy(r->reply + r->len, data, n);
    r->len += n;
    return n;
}

static int hc_post(void *impl, const http_call_req_t *req, http_call_done_fn done, void *ud,
                   uint64_t *id)
{
    http_client_t *c = impl;
    if (c->closing) return -ENOBUFS;
    if (c->active.n >= c->lim.max_active && c->queued.n >= c->lim.max_queued) return -ENOBUFS;
    hc_req_t *r = ch_calloc(1, sizeof(*r));
    r->c = c;
    r->id = ++c->next_id;
    r->done = done;
    r->ud = ud;
    r->max_reply = req->max_reply;
    r->easy = curl_easy_init();
    CH_ASSERT(r->easy);
    for (size_t i = 0; i < req->nheaders; i++) {
        struct curl_slist *l = curl_slist_append(r->hdrs, req->headers[i]);
        CH_ASSERT(l);
        r->hdrs = l;
    }
    /* No "Expect: 100-continue" round trip before a body. */
    struct curl_slist *l = curl_slist_append(r->hdrs, "Expect:");
    CH_ASSERT(l);
    r->hdrs = l;
    CURL *e = r->easy;
    uint64_t timeout = req->timeout_ms ? req->timeout_ms : c->lim.timeout_ms;
    curl_easy_setopt(e, CURLOPT_PRIVATE, (char *)r);
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->hdrs);
    if (req->get) {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L);
    } else {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->body ? req->body : "");
    }
    r->deadline = uv_now(c->loop) + timeout; /* CURLOPT_TIMEOUT_MS is set in promote */
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)c->lim.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max_reply);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_write);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "chorus/" CHORUS_VERSION);
    list_push(&c->queued, r);
    promote(c);
    *id = r->id;
    return 0;
}

static hc_req_t *find(hc_list_t *l, uint64_t id)
{
    for (hc_req_t *r = l->head; r; r = r->next)
        if (r->id == id) return r;
    return NULL;
}

static void hc_cancel(void *impl, uint64_t id)
{
    http_client_t *c = impl;
    hc_req_t *r = find(&c->active, id);
    if (!r) r = find(&c->queued, id);
    if (!r) return;
    req_detach(c, r);
    req_free(r);
    promote(c);
}

http_client_t *http_client_new(uv_loop_t *loop, const http_client_limits_t *lim, log_t *log)
{
    CH_ASSERT(lim->max_active >= 1 && lim->timeout_ms >= 1 && lim->connect_timeout_ms >= 1);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error(log, "http client: libcurl cannot start");
        return NULL;
    }
    http_client_t *c = ch_calloc(1, sizeof(*c));
    c->loop = loop;
    c->log = log;
    c->lim = *lim;
    c->multi = curl_multi_init();
    CH_ASSERT(c->multi);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, hc_socket);
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, hc_timer);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c);
    curl_multi_setopt(c->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)lim->max_active);
    curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, (long)lim->max_active);
    uv_timer_init(loop, &c->timer);
    c->timer.data = c;
    uv_timer_init(loop, &c->qtimer);
    c->qtimer.data = c;
    c->open_handles = 2;
    return c;
}

http_call_t http_client_call(http_client_t *c)
{
    return (http_call_t){.impl = c, .post = hc_post, .cancel = hc_cancel};
}

size_t http_client_active(const http_client_t *c)
{
    return c->active.n;
}

size_t http_client_queued(const http_client_t *c)
{
    return c->queued.n;
}

void http_client_close(http_client_t *c)
{
    c->closing = 1;
    http_call_res_t res = {.err = -ECANCELED};
    hc_req_t *r;
    /* A done may cancel others: take the head each time. */
    while ((r = c->active.head) || (r = c->queued.head)) {
        req_detach(c, r);
        r->done(r->ud, &res);
        req_free(r);
    }
    /* The polls stop before curl closes their sockets; curl calls nothing of ours after. */
    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION, NULL);
    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION, NULL);
    while (c->socks)
        sock_close(c, c->socks);
    curl_multi_cleanup(c->multi);
    c->multi = NULL;
    uv_timer_stop(&c->timer);
    uv_close((uv_handle_t *)&c->timer, handle_closed);
    uv_timer_stop(&c->qtimer);
    uv_close((uv_handle_t *)&c->qtimer, handle_closed);
}
