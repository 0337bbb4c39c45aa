/* test_store.h: fixtures shared by the store's tests (test_store.c, the conformance suite,
 * and test_store_sqlite.c): requests that record their callbacks, and rows built from a
 * number so a test can say what it expects back. Only the store interface is used here. */
#ifndef CHORUS_TEST_STORE_H
#define CHORUS_TEST_STORE_H

#include "test.h"

#include <errno.h>
#include <stddef.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "store/store.h"

/* ---- fixtures ---- */

static log_t test_log;
static int tmp_seq;

/* Writes a fresh database path under $CHORUS_TEST_TMP (or /tmp) into out. */
static inline void tmp_db(char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/chorus-store-%ld-%d-%s.db", test_tmp_dir(), (long)getpid(),
             tmp_seq++, name);
    remove(out);
}

/* What every callback records. One per test, reached through req->data. */
typedef struct {
    uv_thread_t loop_thread;
    int calls;
    int wrong_thread;
    int out_of_order;
    int last_seq;
} tctx_t;

typedef struct {
    store_req_t req;
    tctx_t *ctx;
    int seq;  /* submission order */
    int done; /* callback ran */
} treq_t;

static inline void on_done(store_req_t *req)
{
    treq_t *t = req->data;
    tctx_t *c = t->ctx;
    uv_thread_t self = uv_thread_self();
    if (!uv_thread_equal(&self, &c->loop_thread)) c->wrong_thread++;
    if (t->seq <= c->last_seq) c->out_of_order++;
    c->last_seq = t->seq;
    c->calls++;
    t->done = 1;
}

static inline void tctx_init(tctx_t *c)
{
    memset(c, 0, sizeof(*c));
    c->loop_thread = uv_thread_self();
    c->last_seq = -1;
}

static inline void treq_init(treq_t *t, tctx_t *c, store_req_type_t type)
{
    static int seq; /* global submission order across a test */
    memset(t, 0, sizeof(*t));
    t->ctx = c;
    t->seq = seq++;
    t->req.type = type;
    t->req.cb = on_done;
    t->req.data = t;
}

static inline void fill_user(store_user_t *u, int i)
{
    memset(u, 0, sizeof(*u));
    snprintf(u->id, sizeof(u->id), "00000000-0000-4000-8000-%012d", i);
    snprintf(u->email, sizeof(u->email), "user%d@example.com", i);
    snprintf(u->username, sizeof(u->username), "user %d", i);
    snprintf(u->color, sizeof(u->color), "#%06x", (unsigned)(i * 7919) & 0xffffff);
    snprintf(u->password_hash, sizeof(u->password_hash),
             "$argon2id$v=19$m=65536,t=2,p=1$c2FsdHNhbHQ$fakehash%d", i);
    u->created_at = 1700000000000 + i;
    u->updated_at = u->created_at;
}

/* Opens a store with backend be on target (the error printed when it fails). */
static inline store_t *open_backend(const store_backend_t *be, const char *target,
                                    uv_loop_t *loop)
{
    char err[256] = "";
    store_t *st = store_open(be, target, loop, &test_log, err, sizeof(err));
    if (!st) fprintf(stderr, "store_open: %s\n", err);
    return st;
}

/* Closes the store and checks the loop ends with nothing left open. */
static inline int close_store(store_t *st, uv_loop_t *loop)
{
    store_close(st);
    uv_run(loop, UV_RUN_DEFAULT); /* lets the async handle finish closing */
    return uv_loop_close(loop);
}

/* Submits one request and runs the loop until its callback ran. The loop returning by
 * itself also checks that the store stops holding it once nothing is outstanding. */
static inline int run_one(store_t *st, uv_loop_t *loop, treq_t *t)
{
    store_submit(st, &t->req);
    if (t->done) return -1; /* must never complete inside store_submit */
    uv_run(loop, UV_RUN_DEFAULT);
    return t->done ? t->req.err : -100;
}

/* ---- rooms ---- */

static inline void fill_room(store_room_t *rm, int i)
{
    memset(rm, 0, sizeof(*rm));
    snprintf(rm->id, sizeof(rm->id), "10000000-0000-4000-8000-%012d", i);
    snprintf(rm->code, sizeof(rm->code), "R%05d", i);
    snprintf(rm->name, sizeof(rm->name), "Room %d", i);
    snprintf(rm->host_id, sizeof(rm->host_id), "00000000-0000-4000-8000-%012d", i);
    rm->capacity = 10;
    rm->is_public = 1;
    rm->state = strdup("{\"mode\":\"chat\"}");
    rm->state_version = 1;
    rm->created_at = 1700000000000 + i;
    rm->last_activity = rm->created_at;
}

static inline void fill_part(store_participant_t *p, const char *room_id, int user, int role,
                             int64_t joined_at)
{
    memset(p, 0, sizeof(*p));
    snprintf(p->room_id, sizeof(p->room_id), "%s", room_id);
    snprintf(p->user_id, sizeof(p->user_id), "00000000-0000-4000-8000-%012d", user);
    snprintf(p->display_name, sizeof(p->display_name), "user %d", user);
    snprintf(p->color, sizeof(p->color), "#%06x", (unsigned)(user * 7919) & 0xffffff);
    p->role = role;
    p->joined_at = joined_at;
}

/* Message seq of room `room`: id encodes both, user 0 is the server (""), every third
 * message carries metadata. */
static inline void fill_msg(store_message_t *m, int room, int64_t seq)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->id, sizeof(m->id), "%08d-0000-4000-8000-%012" PRId64, room, seq);
    snprintf(m->room_id, sizeof(m->room_id), "10000000-0000-4000-8000-%012d", room);
    m->seq = seq;
    if (seq % 5 != 0) snprintf(m->user_id, sizeof(m->user_id), "user-%" PRId64, seq % 3);
    snprintf(m->display_name, sizeof(m->display_name), "name %" PRId64, seq % 3);
    snprintf(m->type, sizeof(m->type), "%s", seq % 5 ? "text" : "system");
    char buf[64];
    snprintf(buf, sizeof(buf), "message %" PRId64 " é", seq);
    m->content = strdup(buf);
    if (seq % 3 == 0) {
        snprintf(buf, sizeof(buf), "{\"n\":%" PRId64 "}", seq);
        m->metadata = strdup(buf);
    }
    m->created_at = 1700000100000 + seq;
}

/* Runs one room request on r and returns its err. */
static inline int run_rooms(store_t *st, uv_loop_t *loop, tctx_t *c, store_req_type_t type,
                            store_rooms_t *r)
{
    treq_t t;
    treq_init(&t, c, type);
    t.req.rooms = r;
    return run_one(st, loop, &t);
}

/* Creates room i with its host (user i) joined at its creation time. */
static inline int create_room(store_t *st, uv_loop_t *loop, tctx_t *c, int i)
{
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_room(&r.room, i);
    fill_part(&r.part, r.room.id, i, STORE_ROLE_HOST, r.room.created_at);
    int err = run_rooms(st, loop, c, STORE_ROOM_CREATE, &r);
    store_rooms_free(&r);
    return err;
}

static inline int insert_msg(store_t *st, uv_loop_t *loop, tctx_t *c, int room, int64_t seq)
{
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    fill_msg(&r.msg, room, seq);
    int err = run_rooms(st, loop, c, STORE_MESSAGE_INSERT, &r);
    store_rooms_free(&r);
    return err;
}

/* Asks a page of room `room` and checks it holds exactly seqs first..first+n-1. Returns
 * the number of messages, or -1 on a mismatch (printed). */
static inline long page(store_t *st, uv_loop_t *loop, tctx_t *c, int room, int64_t before,
                        int64_t after, uint32_t limit, int64_t first)
{
    store_rooms_t r;
    memset(&r, 0, sizeof(r));
    snprintf(r.room.id, sizeof(r.room.id), "10000000-0000-4000-8000-%012d", room);
    r.before = before;
    r.after = after;
    r.limit = limit;
    int err = run_rooms(st, loop, c, STORE_MESSAGES_PAGE, &r);
    long n = err == STORE_OK ? (long)r.nmsgs : -1;
    for (size_t i = 0; n >= 0 && i < r.nmsgs; i++) {
        store_message_t want;
        fill_msg(&want, room, first + (int64_t)i);
        const store_message_t *m = &r.msgs[i];
        if (m->seq != want.seq || strcmp(m->id, want.id) != 0 ||
            strcmp(m->room_id, want.room_id) != 0 || strcmp(m->user_id, want.user_id) != 0 ||
            strcmp(m->display_name, want.display_name) != 0 ||
            strcmp(m->type, want.type) != 0 || !m->content ||
            strcmp(m->content, want.content) != 0 || !m->metadata != !want.metadata ||
            (want.metadata && strcmp(m->metadata, want.metadata) != 0) ||
            m->created_at != want.created_at) {
            fprintf(stderr, "page: message %zu is seq %" PRId64 ", expected %" PRId64 "\n", i,
                    m->seq, want.seq);
            n = -1;
        }
        store_rooms_free(&(store_rooms_t){.msg = want});
    }
    store_rooms_free(&r);
    return n;
}

/* ---- documents ---- */

/* Op `version` of document `doc` in room `room`: every fourth has no op id (NULL in the
 * database), the author cycles over three users, the delta is JSON with a non-ASCII
 * character. */
static inline void fill_op(store_doc_op_t *op, int room, const char *doc, int64_t version)
{
    memset(op, 0, sizeof(*op));
    snprintf(op->room_id, sizeof(op->room_id), "10000000-0000-4000-8000-%012d", room);
    snprintf(op->doc_id, sizeof(op->doc_id), "%s", doc);
    op->version = version;
    char buf[96];
    snprintf(buf, sizeof(buf), "[{\"retain\":%" PRId64 "},{\"insert\":\"é%" PRId64 "\"}]",
             version - 1, version);
    op->delta = strdup(buf);
    snprintf(op->author, sizeof(op->author), "00000000-0000-4000-8000-%012" PRId64,
             version % 3);
    if (version % 4 != 0) snprintf(op->op_id, sizeof(op->op_id), "op-%" PRId64, version);
    op->created_at = 1700000200000 + version;
}

/* The snapshot text stored with op `version`. */
static inline void snapshot_text(char *out, size_t cap, const char *doc, int64_t version)
{
    snprintf(out, cap, "%s at %" PRId64 " ✓", doc, version);
}

/* Whether op is exactly what fill_op(room, doc, version) built (printed when not). */
static inline int op_matches(const store_doc_op_t *op, int room, const char *doc,
                             int64_t version)
{
    store_doc_op_t want;
    fill_op(&want, room, doc, version);
    int ok = op->version == want.version && strcmp(op->room_id, want.room_id) == 0 &&
             strcmp(op->doc_id, want.doc_id) == 0 && op->delta &&
             strcmp(op->delta, want.delta) == 0 && strcmp(op->author, want.author) == 0 &&
             strcmp(op->op_id, want.op_id) == 0 && op->created_at == want.created_at;
    if (!ok)
        fprintf(stderr, "op_matches: got version %" PRId64 ", expected %" PRId64 "\n",
                op->version, version);
    free(want.delta);
    return ok;
}

/* Runs one document request on d and returns its err. */
static inline int run_docs(store_t *st, uv_loop_t *loop, tctx_t *c, store_req_type_t type,
                           store_docs_t *d)
{
    treq_t t;
    treq_init(&t, c, type);
    t.req.docs = d;
    return run_one(st, loop, &t);
}

/* Inserts op `version` (with its snapshot when snap is set). */
static inline int insert_op(store_t *st, uv_loop_t *loop, tctx_t *c, int room, const char *doc,
                            int64_t version, int snap)
{
    store_docs_t d;
    memset(&d, 0, sizeof(d));
    fill_op(&d.op, room, doc, version);
    if (snap) {
        char buf[160];
        snapshot_text(buf, sizeof(buf), doc, version);
        d.doc.snapshot = strdup(buf);
    }
    int err = run_docs(st, loop, c, STORE_DOC_OP_INSERT, &d);
    store_docs_free(&d);
    return err;
}

/* Loads the document into d (the caller frees it). */
static inline int load_doc(store_t *st, uv_loop_t *loop, tctx_t *c, int room, const char *doc,
                           store_docs_t *d)
{
    memset(d, 0, sizeof(*d));
    snprintf(d->doc.room_id, sizeof(d->doc.room_id), "10000000-0000-4000-8000-%012d", room);
    snprintf(d->doc.doc_id, sizeof(d->doc.doc_id), "%s", doc);
    return run_docs(st, loop, c, STORE_DOC_LOAD, d);
}

/* Asks ops of the document after from, at most limit, and checks they are exactly
 * from+1..from+n. Returns n, or -1 on an error or a mismatch. */
static inline long ops_range(store_t *st, uv_loop_t *loop, tctx_t *c, int room, const char *doc,
                             int64_t from, uint32_t limit)
{
    store_docs_t d;
    memset(&d, 0, sizeof(d));
    snprintf(d.doc.room_id, sizeof(d.doc.room_id), "10000000-0000-4000-8000-%012d", room);
    snprintf(d.doc.doc_id, sizeof(d.doc.doc_id), "%s", doc);
    d.from = from;
    d.limit = limit;
    int err = run_docs(st, loop, c, STORE_DOC_OPS_RANGE, &d);
    long n = err == STORE_OK ? (long)d.nops : -1;
    for (size_t i = 0; n >= 0 && i < d.nops; i++)
        if (!op_matches(&d.ops[i], room, doc, from + 1 + (int64_t)i)) n = -1;
    store_docs_free(&d);
    return n;
}

#endif
