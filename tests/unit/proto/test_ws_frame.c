/* test_ws_frame.c: RFC 6455 frame parser and encoder, fed whole, byte by byte and split
 * at every position. */
#include "test.h"

#include "util/mem.h"
#include "util/utf8.h"
#include "proto/ws_frame.h"

#define FIN 0x80
#define NO_POS ((size_t)-1)

/* ---- building frames ---------------------------------------------------------------- */

typedef struct {
    uint8_t *p;
    size_t len, cap;
    unsigned frames; /* varies the mask key from frame to frame */
} buf_t;

static void buf_put(buf_t *b, const void *d, size_t n)
{
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->p = ch_realloc(b->p, b->cap);
    }
    if (n) memcpy(b->p + b->len, d, n);
    b->len += n;
}

static void buf_free(buf_t *b)
{
    free(b->p);
    memset(b, 0, sizeof(*b));
}

enum { LEN_AUTO, LEN7, LEN16, LEN64 };

/* Appends a frame header; b0 is the whole first byte (FIN, RSV, opcode). Masked frames
 * get a different key each time, so a parser that keeps a stale key fails. */
static void put_header(buf_t *b, uint8_t b0, uint64_t n, int masked, int form, uint8_t mask[4])
{
    uint8_t h[WS_MAX_HEADER];
    size_t hl = 2;

    if (form == LEN_AUTO) form = n < 126 ? LEN7 : n <= 0xFFFF ? LEN16 : LEN64;
    h[0] = b0;
    if (form == LEN7) {
        h[1] = (uint8_t)n;
    } else if (form == LEN16) {
        h[1] = 126;
        h[2] = (uint8_t)(n >> 8);
        h[3] = (uint8_t)n;
        hl = 4;
    } else {
        h[1] = 127;
        for (int i = 0; i < 8; i++)
            h[2 + i] = (uint8_t)(n >> (56 - 8 * i));
        hl = 10;
    }
    if (masked) {
        unsigned k = b->frames++;
        h[1] |= 0x80;
        mask[0] = (uint8_t)(0x37 + k);
        mask[1] = (uint8_t)(0xfa - 3 * k);
        mask[2] = (uint8_t)(0x21 ^ (k * 7));
        mask[3] = (uint8_t)(0x3d + 11 * k);
        memcpy(h + hl, mask, 4);
        hl += 4;
    }
    buf_put(b, h, hl);
}

static void put_frame_form(buf_t *b, uint8_t b0, const void *pl, size_t n, int masked, int form)
{
    uint8_t mask[4];
    put_header(b, b0, n, masked, form, mask);
    size_t start = b->len;
    buf_put(b, pl, n);
    if (masked)
        for (size_t i = 0; i < n; i++)
            b->p[start + i] ^= mask[i & 3];
}

static void put_frame(buf_t *b, uint8_t b0, const void *pl, size_t n, int masked)
{
    put_frame_form(b, b0, pl, n, masked, LEN_AUTO);
}

static void put_str(buf_t *b, uint8_t b0, const char *s, int masked)
{
    put_frame(b, b0, s, strlen(s), masked);
}

/* ---- feeding and recording ---------------------------------------------------------- */

typedef struct {
    int type;
    uint16_t code;
    uint8_t *data; /* owned copy */
    size_t len;
} rec_t;

typedef struct {
    rec_t *ev;
    int n, cap;
    int rc;           /* 0, or the error the parser returned */
    size_t fail_from; /* the piece of input that produced the error */
    size_t fail_to;
    const char *bad; /* a broken API invariant, if any */
} run_t;

static void run_free(run_t *r)
{
    for (int i = 0; i < r->n; i++)
        free(r->ev[i].data);
    free(r->ev);
    memset(r, 0, sizeof(*r));
}

static void record(run_t *r, const ws_event_t *ev)
{
    if (r->n == r->cap) {
        r->cap = r->cap ? r->cap * 2 : 16;
        r->ev = ch_realloc(r->ev, (size_t)r->cap * sizeof(*r->ev));
    }
    rec_t *e = &r->ev[r->n++];
    e->type = ev->type;
    e->code = ev->close_code;
    e->len = ev->len;
    e->data = ch_malloc(ev->len);
    if (ev->len) memcpy(e->data, ev->data, ev->len);
}

/* Feeds in[from..to) as one piece in its own exact-size allocation (so ASan sees any read
 * past it), draining every event. Checks the feed contract as it goes. Returns 0 or the
 * parser's error. */
static int feed_piece(ws_parser_t *p, const uint8_t *in, size_t from, size_t to, run_t *r)
{
    size_t n = to - from, done = 0;
    uint8_t *c = ch_malloc(n);
    int rc;

    memcpy(c, in + from, n);
    for (;;) {
        size_t used = 12345;
        ws_event_t ev;
        rc = ws_parser_feed(p, c + done, n - done, &used, &ev);
        if (used > n - done) {
            r->bad = "consumed more than given";
            break;
        }
        done += used;
        if (rc == 1) {
            if (!ev.data) r->bad = "event with NULL data";
            if (used == 0) r->bad = "event without consuming input";
            if (ev.type == WS_EV_TEXT && !utf8_valid(ev.data, ev.len))
                r->bad = "text event is not valid UTF-8";
            if ((ev.type == WS_EV_TEXT || ev.type == WS_EV_BINARY) && p->max_message &&
                ev.len > p->max_message)
                r->bad = "message over max_message";
            if (ev.type != WS_EV_TEXT && ev.type != WS_EV_BINARY && ev.len > WS_MAX_CONTROL)
                r->bad = "control payload over 125";
            record(r, &ev);
            continue;
        }
        if (rc == 0 && done != n) r->bad = "returned 0 without consuming everything";
        if (rc < 0) {
            /* Errors are sticky: the same code, nothing consumed, on every later call. */
            size_t u2 = 1;
            if (ws_parser_feed(p, c, n, &u2, &ev) != rc || u2 != 0) r->bad = "not sticky";
            r->fail_from = from;
            r->fail_to = to;
        }
        if (rc > 1) r->bad = "unexpected return value";
        break;
    }
    free(c);
    return rc;
}

/* Feeds in[0..n) to a fresh parser in pieces ending at cuts[] (increasing) and n. */
static void run_cuts(const uint8_t *in, size_t n, int server, size_t max, const size_t *cuts,
                     size_t ncuts, run_t *r)
{
    ws_parser_t p;
    size_t from = 0;

    memset(r, 0, sizeof(*r));
    ws_parser_init(&p, max, server);
    for (size_t i = 0; i <= ncuts && r->rc == 0; i++) {
        size_t to = i < ncuts ? cuts[i] : n;
        r->rc = feed_piece(&p, in, from, to, r);
        from = to;
    }
    ws_parser_free(&p);
}

static void run_chunked(const uint8_t *in, size_t n, int server, size_t max, size_t chunk,
                        run_t *r)
{
    size_t ncuts = n / chunk + 1, k = 0;
    size_t *cuts = ch_malloc(ncuts * sizeof(*cuts));
    for (size_t pos = chunk; pos < n; pos += chunk)
        cuts[k++] = pos;
    run_cuts(in, n, server, max, cuts, k, r);
    free(cuts);
}

typedef struct {
    int type;
    uint16_t code;
    const void *data;
    size_t len;
} exp_t;

/* clang-format off */
#define EV(type, s) { (type), 0, (s), sizeof(s) - 1 }
#define EV_CLOSE(code, s) { WS_EV_CLOSE, (code), (s), sizeof(s) - 1 }
/* clang-format on */

typedef struct {
    const uint8_t *in;
    size_t n;
    int server;
    size_t max;
    const exp_t *ev;
    int nev;
    int rc;        /* expected final result: 0 or a negative close code */
    size_t err_at; /* the byte that must trigger rc (fail fast), or NO_POS */
} case_t;

/* Returns 1 when run r matches the case, else prints why (with how the input was cut). */
static int compare(const case_t *c, const run_t *r, const char *how, size_t param)
{
    const char *why = NULL;
    char msg[160];

    if (r->bad) {
        why = r->bad;
    } else if (r->rc != c->rc) {
        snprintf(msg, sizeof(msg), "rc %d, want %d", r->rc, c->rc);
        why = msg;
    } else if (r->n != c->nev) {
        snprintf(msg, sizeof(msg), "%d events, want %d", r->n, c->nev);
        why = msg;
    } else if (c->rc < 0 && c->err_at != NO_POS &&
               !(r->fail_from <= c->err_at && c->err_at < r->fail_to)) {
        snprintf(msg, sizeof(msg), "error in piece [%zu,%zu), want it at byte %zu",
                 r->fail_from, r->fail_to, c->err_at);
        why = msg;
    }
    for (int i = 0; !why && i < r->n; i++) {
        const rec_t *g = &r->ev[i];
        const exp_t *e = &c->ev[i];
        if (g->type != e->type || g->code != e->code || g->len != e->len ||
            (e->len && memcmp(g->data, e->data, e->len) != 0)) {
            snprintf(msg, sizeof(msg), "event %d: type %d code %u len %zu, want %d %u %zu", i,
                     g->type, g->code, g->len, e->type, e->code, e->len);
            why = msg;
        }
    }
    if (why) fprintf(stderr, "  [%s %zu] %s\n", how, param, why);
    return why == NULL;
}

/* Runs the case fed whole, in every chunk size up to 40 (and a few larger), and split in
 * two at every position (sampled for big inputs). Returns 1 when every way matches. */
static int check_case(const case_t *c)
{
    static const size_t big_chunks[] = {64, 100, 1000, 4096, 65536};
    run_t r;
    int ok;

    run_cuts(c->in, c->n, c->server, c->max, NULL, 0, &r);
    ok = compare(c, &r, "whole", c->n);
    run_free(&r);
    for (size_t k = 1; ok && k <= 40 && k < c->n; k++) {
        run_chunked(c->in, c->n, c->server, c->max, k, &r);
        ok = compare(c, &r, "chunk", k);
        run_free(&r);
    }
    for (size_t i = 0; ok && i < CH_ARRAY_LEN(big_chunks) && big_chunks[i] < c->n; i++) {
        run_chunked(c->in, c->n, c->server, c->max, big_chunks[i], &r);
        ok = compare(c, &r, "chunk", big_chunks[i]);
        run_free(&r);
    }
    for (size_t cut = 0; ok && cut <= c->n; cut++) {
        if (c->n > 2048 && cut > 64 && cut + 64 < c->n && cut % 997 != 0) continue;
        run_cuts(c->in, c->n, c->server, c->max, &cut, 1, &r);
        ok = compare(c, &r, "split", cut);
        run_free(&r);
    }
    return ok;
}

/* Shorthand: a case over a buf_t. */
static int check_buf(const buf_t *b, int server, size_t max, const exp_t *ev, int nev, int rc,
                     size_t err_at)
{
    case_t c = {b->p, b->len, server, max, ev, nev, rc, err_at};
    return check_case(&c);
}

/* ---- RFC 6455 section 5.7 examples -------------------------------------------------- */

/* ws_parser_at_rest: true only between messages, so the server can keep one parser for all
 * its connections at rest (conn_ws.c) and hand a connection its own while anything is
 * partial: a header, a payload, a fragmented message (even between its fragments, and
 * across a control frame inside it), or an error. */
static void test_at_rest(void)
{
    buf_t b = {0};
    put_str(&b, FIN | WS_OP_TEXT, "hi", 1);            /* [0, 8) */
    put_str(&b, WS_OP_TEXT, "Hel", 1);                 /* [8, 17) */
    put_str(&b, FIN | WS_OP_PING, "x", 1);             /* [17, 24) */
    put_str(&b, FIN | WS_OP_CONT, "lo", 1);            /* [24, 32) */
    ws_parser_t p;
    ws_parser_init(&p, 0, 1);
    ASSERT_TRUE(ws_parser_at_rest(&p));
    size_t rest_after[] = {8, 32}; /* offsets after which the parser is at rest */
    for (size_t i = 0; i < b.len; i++) {
        size_t used;
        ws_event_t ev;
        int rc = ws_parser_feed(&p, b.p + i, 1, &used, &ev);
        ASSERT_TRUE(rc == 0 || rc == 1);
        ASSERT_EQ(used, 1);
        int want = i + 1 == rest_after[0] || i + 1 == rest_after[1];
        ASSERT_EQ(ws_parser_at_rest(&p), want);
    }
    /* an error is sticky: never at rest again */
    uint8_t bad[] = {0x81, 0x02, 'n', 'o'}; /* unmasked from a client */
    size_t used;
    ws_event_t ev;
    ASSERT_EQ(ws_parser_feed(&p, bad, sizeof(bad), &used, &ev), -WS_CLOSE_PROTOCOL);
    ASSERT_TRUE(!ws_parser_at_rest(&p));
    ws_parser_free(&p);
    buf_free(&b);
}

static void test_rfc_unmasked_text(void)
{
    static const uint8_t in[] = {0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    static const exp_t ev[] = {EV(WS_EV_TEXT, "Hello")};
    case_t c = {in, sizeof(in), 0, 0, ev, 1, 0, NO_POS};
    ASSERT_TRUE(check_case(&c));
    /* The same bytes reach a server unmasked: a protocol error at the mask bit. */
    case_t s = {in, sizeof(in), 1, 0, NULL, 0, -1002, 1};
    ASSERT_TRUE(check_case(&s));
}

static void test_rfc_masked_text(void)
{
    static const uint8_t in[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    static const exp_t ev[] = {EV(WS_EV_TEXT, "Hello")};
    case_t c = {in, sizeof(in), 1, 0, ev, 1, 0, NO_POS};
    ASSERT_TRUE(check_case(&c));
    /* A client must refuse masked frames from the server. */
    case_t s = {in, sizeof(in), 0, 0, NULL, 0, -1002, 1};
    ASSERT_TRUE(check_case(&s));
}

static void test_rfc_fragmented_unmasked(void)
{
    static const uint8_t in[] = {0x01, 0x03, 0x48, 0x65, 0x6c, 0x80, 0x02, 0x6c, 0x6f};
    static const exp_t ev[] = {EV(WS_EV_TEXT, "Hello")};
    case_t c = {in, sizeof(in), 0, 0, ev, 1, 0, NO_POS};
    ASSERT_TRUE(check_case(&c));
}

static void test_rfc_ping_pong(void)
{
    static const uint8_t ping[] = {0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f};
    static const uint8_t pong[] = {0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d,
                                   0x7f, 0x9f, 0x4d, 0x51, 0x58};
    static const exp_t ev_ping[] = {EV(WS_EV_PING, "Hello")};
    static const exp_t ev_pong[] = {EV(WS_EV_PONG, "Hello")};
    case_t c1 = {ping, sizeof(ping), 0, 0, ev_ping, 1, 0, NO_POS};
    case_t c2 = {pong, sizeof(pong), 1, 0, ev_pong, 1, 0, NO_POS};
    ASSERT_TRUE(check_case(&c1));
    ASSERT_TRUE(check_case(&c2));
}

static uint8_t *pattern(size_t n)
{
    uint8_t *d = ch_malloc(n);
    for (size_t i = 0; i < n; i++)
        d[i] = (uint8_t)(i * 131 + (i >> 8) * 7 + 1);
    return d;
}

static void test_rfc_256_binary(void)
{
    uint8_t *pl = pattern(256);
    uint8_t *in = ch_malloc(4 + 256);
    exp_t ev[] = {{WS_EV_BINARY, 0, pl, 256}};
    int ok1, ok2;
    buf_t b = {0};

    in[0] = 0x82;
    in[1] = 0x7E;
    in[2] = 0x01;
    in[3] = 0x00;
    memcpy(in + 4, pl, 256);
    case_t c = {in, 4 + 256, 0, 0, ev, 1, 0, NO_POS};
    ok1 = check_case(&c);
    put_frame(&b, FIN | WS_OP_BINARY, pl, 256, 1);
    ok2 = check_buf(&b, 1, 256, ev, 1, 0, NO_POS);
    free(pl);
    free(in);
    buf_free(&b);
    ASSERT_TRUE(ok1);
    ASSERT_TRUE(ok2);
}

static void test_rfc_64k_binary(void)
{
    static const uint8_t hdr[] = {0x82, 0x7F, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00};
    uint8_t *pl = pattern(65536);
    exp_t ev[] = {{WS_EV_BINARY, 0, pl, 65536}};
    buf_t raw = {0}, masked = {0};
    int ok1, ok2, ok3;

    buf_put(&raw, hdr, sizeof(hdr));
    buf_put(&raw, pl, 65536);
    ok1 = check_buf(&raw, 0, 0, ev, 1, 0, NO_POS);
    put_frame(&masked, FIN | WS_OP_BINARY, pl, 65536, 1);
    ok2 = check_buf(&masked, 1, 65536, ev, 1, 0, NO_POS);
    /* One byte under the limit: refused at the last length byte, before the payload. */
    ok3 = check_buf(&masked, 1, 65535, NULL, 0, -1009, 9);
    free(pl);
    buf_free(&raw);
    buf_free(&masked);
    ASSERT_TRUE(ok1);
    ASSERT_TRUE(ok2);
    ASSERT_TRUE(ok3);
}

/* ---- zero copy, buffering, consumed ------------------------------------------------- */

static void test_zero_copy_in_place(void)
{
    uint8_t in[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    ws_parser_t p;
    ws_event_t ev;
    size_t used;

    ws_parser_init(&p, 0, 1);
    ASSERT_EQ(ws_parser_feed(&p, in, sizeof(in), &used, &ev), 1);
    ASSERT_EQ(used, sizeof(in));
    ASSERT_EQ(ev.type, WS_EV_TEXT);
    ASSERT_TRUE(ev.data == in + 6);
    ASSERT_EQ(ev.len, 5);
    ASSERT_MEMEQ(in + 6, "Hello", 5);
    ASSERT_TRUE(p.msg == NULL);
    ASSERT_EQ(p.msg_cap, 0);
    ws_parser_free(&p);
}

static void test_split_payload_is_buffered(void)
{
    uint8_t in[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    uint8_t copy[sizeof(in)];
    ws_parser_t p;
    ws_event_t ev;
    size_t used;

    memcpy(copy, in, sizeof(in));
    ws_parser_init(&p, 0, 1);
    ASSERT_EQ(ws_parser_feed(&p, in, 8, &used, &ev), 0);
    ASSERT_EQ(used, 8);
    ASSERT_EQ(ws_parser_feed(&p, in + 8, 3, &used, &ev), 1);
    ASSERT_EQ(used, 3);
    ASSERT_TRUE(ev.data == p.msg);
    ASSERT_EQ(ev.len, 5);
    ASSERT_MEMEQ(ev.data, "Hello", 5);
    /* The buffered path copies out; it leaves the caller's bytes alone. */
    ASSERT_MEMEQ(in, copy, sizeof(in));
    ws_parser_free(&p);
    ASSERT_TRUE(p.msg == NULL);
}

static void test_consumed_one_event_per_call(void)
{
    buf_t b = {0};
    ws_parser_t p;
    ws_event_t ev;
    size_t used, off = 0;

    put_str(&b, FIN | WS_OP_TEXT, "one", 1); /* 2 + 4 + 3 = 9 bytes */
    put_str(&b, FIN | WS_OP_PING, "", 1);    /* 6 bytes */
    put_str(&b, FIN | WS_OP_BINARY, "three", 1);
    ws_parser_init(&p, 0, 1);
    int rc1 = ws_parser_feed(&p, b.p, b.len, &used, &ev);
    size_t used1 = used;
    off += used;
    int rc2 = ws_parser_feed(&p, b.p + off, b.len - off, &used, &ev);
    size_t used2 = used;
    int type2 = ev.type;
    off += used;
    int rc3 = ws_parser_feed(&p, b.p + off, b.len - off, &used, &ev);
    off += used;
    int rc4 = ws_parser_feed(&p, b.p + off, b.len - off, &used, &ev);
    ws_parser_free(&p);
    buf_free(&b);
    ASSERT_EQ(rc1, 1);
    ASSERT_EQ(used1, 9);
    ASSERT_EQ(rc2, 1);
    ASSERT_EQ(used2, 6);
    ASSERT_EQ(type2, WS_EV_PING);
    ASSERT_EQ(rc3, 1);
    ASSERT_EQ(rc4, 0);
    ASSERT_EQ(used, 0);
}

static void test_many_frames_one_feed(void)
{
    buf_t b = {0};
    exp_t ev[200];
    char text[200][16];
    int nev = 0;

    for (int i = 0; i < 40; i++) {
        snprintf(text[i], sizeof(text[i]), "msg %d", i);
        size_t n = strlen(text[i]);
        switch (i % 5) {
        case 0:
            put_str(&b, FIN | WS_OP_TEXT, text[i], 1);
            ev[nev++] = (exp_t){WS_EV_TEXT, 0, text[i], n};
            break;
        case 1:
            put_str(&b, FIN | WS_OP_BINARY, text[i], 1);
            ev[nev++] = (exp_t){WS_EV_BINARY, 0, text[i], n};
            break;
        case 2:
            put_str(&b, FIN | WS_OP_PING, text[i], 1);
            ev[nev++] = (exp_t){WS_EV_PING, 0, text[i], n};
            break;
        case 3:
            put_str(&b, FIN | WS_OP_PONG, text[i], 1);
            ev[nev++] = (exp_t){WS_EV_PONG, 0, text[i], n};
            break;
        default:
            /* A three-fragment text message with a ping in the middle. */
            put_frame(&b, WS_OP_TEXT, text[i], 2, 1);
            put_frame(&b, WS_OP_CONT, text[i] + 2, 1, 1);
            put_str(&b, FIN | WS_OP_PING, "p", 1);
            ev[nev++] = (exp_t){WS_EV_PING, 0, "p", 1};
            put_frame(&b, FIN | WS_OP_CONT, text[i] + 3, n - 3, 1);
            ev[nev++] = (exp_t){WS_EV_TEXT, 0, text[i], n};
            break;
        }
    }
    int ok = check_buf(&b, 1, 1000, ev, nev, 0, NO_POS);
    buf_free(&b);
    ASSERT_TRUE(ok);
}

static void test_control_between_fragments(void)
{
    buf_t b = {0};
    uint8_t close[WS_MAX_CONTROL];
    size_t cl = ws_close_payload(close, 1001, "bye");
    static const exp_t ev[] = {
        EV(WS_EV_PING, "x"),
        EV(WS_EV_PONG, ""),
        EV_CLOSE(1001, "bye"),
        EV(WS_EV_BINARY, "Hello"),
    };

    put_str(&b, WS_OP_BINARY, "Hel", 1);
    put_str(&b, FIN | WS_OP_PING, "x", 1);
    put_str(&b, WS_OP_CONT, "l", 1);
    put_str(&b, FIN | WS_OP_PONG, "", 1);
    put_frame(&b, FIN | WS_OP_CLOSE, close, cl, 1);
    put_str(&b, FIN | WS_OP_CONT, "o", 1);
    int ok = check_buf(&b, 1, 0, ev, 4, 0, NO_POS);
    buf_free(&b);
    ASSERT_TRUE(ok);
}

static void test_empty_frames(void)
{
    buf_t b = {0};
    static const exp_t ev[] = {
        EV(WS_EV_TEXT, ""), EV(WS_EV_BINARY, ""),   EV(WS_EV_PING, ""),
        EV(WS_EV_TEXT, ""), EV(WS_EV_BINARY, "ab"),
    };

    put_str(&b, FIN | WS_OP_TEXT, "", 1);
    put_str(&b, FIN | WS_OP_BINARY, "", 1);
    put_str(&b, FIN | WS_OP_PING, "", 1);
    put_str(&b, WS_OP_TEXT, "", 1);
    put_str(&b, WS_OP_CONT, "", 1);
    put_str(&b, FIN | WS_OP_CONT, "", 1);
    put_str(&b, WS_OP_BINARY, "", 1);
    put_str(&b, WS_OP_CONT, "ab", 1);
    put_str(&b, FIN | WS_OP_CONT, "", 1);
    int ok = check_buf(&b, 1, 0, ev, 5, 0, NO_POS);
    buf_free(&b);
    ASSERT_TRUE(ok);
}

static void test_non_minimal_lengths(void)
{
    buf_t b = {0};
    static const exp_t ev[] = {
        EV(WS_EV_TEXT, "Hello"),  EV(WS_EV_BINARY, "Hello"), EV(WS_EV_PING, "Hi"),
        EV(WS_EV_TEXT, "abcdef"), EV_CLOSE(1000, ""),
    };

    put_frame_form(&b, FIN | WS_OP_TEXT, "Hello", 5, 1, LEN16);
    put_frame_form(&b, FIN | WS_OP_BINARY, "Hello", 5, 1, LEN64);
    put_frame_form(&b, FIN | WS_OP_PING, "Hi", 2, 1, LEN16);
    put_frame_form(&b, WS_OP_TEXT, "abc", 3, 1, LEN64);
    put_frame_form(&b, FIN | WS_OP_CONT, "def", 3, 1, LEN16);
    put_frame_form(&b, FIN | WS_OP_CLOSE, "\x03\xe8", 2, 1, LEN64);
    int ok = check_buf(&b, 1, 0, ev, 5, 0, NO_POS);
    buf_free(&b);
    ASSERT_TRUE(ok);
}

/* Masked payloads of every length 0..40 behind prefixes of every length 0..7, so the
 * 8-byte unmask loop meets every alignment and tail length, buffered and in place. */
static void test_unmask_lengths_and_alignment(void)
{
    uint8_t *pl = pattern(40);
    int ok = 1;

    for (size_t pre = 0; ok && pre < 8; pre++) {
        for (size_t n = 0; ok && n <= 40; n++) {
            buf_t b = {0};
            static const char prefix[] = "0123456";
            exp_t ev[2] = {{WS_EV_BINARY, 0, prefix, pre}, {WS_EV_BINARY, 0, pl, n}};
            put_frame(&b, FIN | WS_OP_BINARY, prefix, pre, 1);
            put_frame(&b, FIN | WS_OP_BINARY, pl, n, 1);
            ok = check_buf(&b, 1, 0, ev, 2, 0, NO_POS);
            buf_free(&b);
        }
    }
    free(pl);
    ASSERT_TRUE(ok);
}

/* ---- protocol errors (1002) --------------------------------------------------------- */

static void test_rsv_bits(void)
{
    static const uint8_t rsv[] = {0x40, 0x20, 0x10, 0x70};
    static const uint8_t ops[] = {WS_OP_TEXT, WS_OP_BINARY, WS_OP_PING, WS_OP_CLOSE};

    for (size_t i = 0; i < CH_ARRAY_LEN(rsv); i++) {
        for (size_t j = 0; j < CH_ARRAY_LEN(ops); j++) {
            buf_t b = {0};
            static const exp_t ev[] = {EV(WS_EV_TEXT, "ok")};
            put_str(&b, FIN | WS_OP_TEXT, "ok", 1); /* 8 bytes */
            put_str(&b, (uint8_t)(FIN | rsv[i] | ops[j]), "", 1);
            int ok = check_buf(&b, 1, 0, ev, 1, -1002, 9);
            buf_free(&b);
            ASSERT_TRUE(ok);
        }
    }
    /* On a continuation frame too. */
    buf_t b = {0};
    put_str(&b, WS_OP_TEXT, "a", 1);
    put_str(&b, FIN | 0x40 | WS_OP_CONT, "b", 1);
    int ok = check_buf(&b, 1, 0, NULL, 0, -1002, 8);
    buf_free(&b);
    ASSERT_TRUE(ok);
}

static void test_reserved_opcodes(void)
{
    for (int op = 0; op < 16; op++) {
        if (op <= 2 || (op >= 8 && op <= 10)) continue;
        for (int masked = 0; masked < 2; masked++) {
            buf_t b = {0};
            put_str(&b, (uint8_t)(FIN | op), "x", masked);
            int ok = check_buf(&b, masked, 0, NULL, 0, -1002, 1);
            buf_free(&b);
            ASSERT_TRUE(ok);
        }
    }
}

static void test_masking_rules(void)
{
    buf_t b = {0};
    static const exp_t ev[] = {EV(WS_EV_TEXT, "a")};

    /* Server: second frame unmasked. */
    put_str(&b, FIN | WS_OP_TEXT, "a", 1);
    put_str(&b, FIN | WS_OP_TEXT, "b", 0);
    int ok1 = check_buf(&b, 1, 0, ev, 1, -1002, 8);
    buf_free(&b);
    /* Client: second frame masked. */
    put_str(&b, FIN | WS_OP_TEXT, "a", 0);
    put_str(&b, FIN | WS_OP_TEXT, "b", 1);
    int ok2 = check_buf(&b, 0, 0, ev, 1, -1002, 4);
    buf_free(&b);
    ASSERT_TRUE(ok1);
    ASSERT_TRUE(ok2);
}

static void test_control_frame_rules(void)
{
    uint8_t big[126];
    memset(big, 'x', sizeof(big));
    static const uint8_t ctl[] = {WS_OP_PING, WS_OP_PONG, WS_OP_CLOSE};

    for (size_t i = 0; i < CH_ARRAY_LEN(ctl); i++) {
        buf_t b = {0};
        /* 126 bytes: the 16-bit length is complete at byte 3. */
        put_frame(&b, (uint8_t)(FIN | ctl[i]), big, 126, 1);
        int ok1 = check_buf(&b, 1, 0, NULL, 0, -1002, 3);
        buf_free(&b);
        /* 64-bit length of 126. */
        put_frame_form(&b, (uint8_t)(FIN | ctl[i]), big, 126, 1, LEN64);
        int ok2 = check_buf(&b, 1, 0, NULL, 0, -1002, 9);
        buf_free(&b);
        /* Fragmented control frame: refused at byte 1. */
        put_frame(&b, ctl[i], "\x03\xe8", 2, 1);
        int ok3 = check_buf(&b, 1, 0, NULL, 0, -1002, 1);
        buf_free(&b);
        ASSERT_TRUE(ok1);
        ASSERT_TRUE(ok2);
        ASSERT_TRUE(ok3);
    }
    /* 125 bytes is the largest allowed ping. */
    buf_t b = {0};
    exp_t ev[] = {{WS_EV_PING, 0, big, 125}};
    put_frame(&b, FIN | WS_OP_PING, big, 125, 1);
    int ok = check_buf(&b, 1, 0, ev, 1, 0, NO_POS);
    buf_free(&b);
    ASSERT_TRUE(ok);
}

static void test_continuation_without_start(void)
{
    buf_t b = {0};
    static const exp_t ev[] = {EV(WS_EV_TEXT, "done")};

    put_str(&b, FIN | WS_OP_CONT, "x", 1);
    int ok1 = check_buf(&b, 1, 0, NULL, 0, -1002, 1);
    buf_free(&b);
    put_str(&b, WS_OP_CONT, "x", 1);
    int ok2 = check_buf(&b, 1, 0, NULL, 0, -1002, 1);
    buf_free(&b);
    /* After a finished message there is nothing to continue. */
    put_str(&b, WS_OP_TEXT, "do", 1);       /* 8 bytes */
    put_str(&b, FIN | WS_OP_CONT, "ne", 1); /* 8 bytes */
    put_str(&b, FIN | WS_OP_CONT, "!", 1);
    int ok3 = check_buf(&b, 1, 0, ev, 1, -1002, 17);
    buf_free(&b);
    ASSERT_TRUE(ok1);
    ASSERT_TRUE(ok2);
    ASSERT_TRUE(ok3);
}

static void test_data_frame_inside_fragmented(void)
{
    static const uint8_t ops[] = {WS_OP_TEXT, WS_OP_BINARY};

    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < 2; j++) {
            buf_t b = {0};
            put_str(&b, ops[i], "ab", 1);         /* 8 bytes */
            put_str(&b, FIN | WS_OP_PING, "", 1); /* 6 bytes, allowed */
            put_str(&b, (uint8_t)(FIN | ops[j]), "c", 1);
            static const exp_t ev[] = {EV(WS_EV_PING, "")};
            int ok = check_buf(&b, 1, 0, ev, 1, -1002, 15);
            buf_free(&b);
            ASSERT_TRUE(ok);
        }
    }
}

static void test_length_msb_set(void)
{
    static const uint8_t client[] = {0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0x01, 'x'};
    static const uint8_t server[] = {0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0x00, 1, 2, 3, 4};
    case_t c1 = {client, sizeof(client), 0, 0, NULL, 0, -1002, 9};
    case_t c2 = {server, sizeof(server), 1, 0, NULL, 0, -1002, 9};
    ASSERT_TRUE(check_case(&c1));
    ASSERT_TRUE(check_case(&c2));
}

static void test_sticky_error(void)
{
    uint8_t bad[] = {0x83, 0x80, 1, 2, 3, 4};
    uint8_t good[] = {0x81, 0x80, 1, 2, 3, 4};
    ws_parser_t p;
    ws_event_t ev;
    size_t used;

    ws_parser_init(&p, 0, 1);
    ASSERT_EQ(ws_parser_feed(&p, bad, sizeof(bad), &used, &ev), -1002);
    ASSERT_EQ(p.error, -1002);
    for (int i = 0; i < 3; i++) {
        used = 99;
        ASSERT_EQ(ws_parser_feed(&p, good, sizeof(good), &used, &ev), -1002);
        ASSERT_EQ(used, 0);
    }
    ASSERT_EQ(ws_parser_feed(&p, good, 0, &used, &ev), -1002);
    ws_parser_free(&p);
}

/* ---- UTF-8 in text messages (1007) -------------------------------------------------- */

static void test_utf8_split_across_fragments(void)
{
    static const uint8_t emoji[] = {0xF0, 0x9F, 0x98, 0x80}; /* U+1F600 */
    static const exp_t ev[] = {EV(WS_EV_TEXT, "a\xF0\x9F\x98\x80z")};

    for (size_t cut = 0; cut <= 4; cut++) {
        buf_t b = {0};
        uint8_t first[5] = {'a'}, second[5];
        memcpy(first + 1, emoji, cut);
        memcpy(second, emoji + cut, 4 - cut);
        second[4 - cut] = 'z';
        put_frame(&b, WS_OP_TEXT, first, 1 + cut, 1);
        put_frame(&b, FIN | WS_OP_CONT, second, 5 - cut, 1);
        int ok = check_buf(&b, 1, 0, ev, 1, 0, NO_POS);
        buf_free(&b);
        ASSERT_TRUE(ok);
    }
    /* One byte per fragment, with pings in between. */
    buf_t b = {0};
    static const exp_t ev2[] = {EV(WS_EV_PING, ""), EV(WS_EV_PING, ""), EV(WS_EV_PING, ""),
                                EV(WS_EV_TEXT, "\xF0\x9F\x98\x80")};
    put_frame(&b, WS_OP_TEXT, emoji, 1, 1);
    for (int i = 1; i < 4; i++) {
        put_str(&b, FIN | WS_OP_PING, "", 1);
        put_frame(&b, (uint8_t)(i == 3 ? FIN : 0), emoji + i, 1, 1);
    }
    int ok = check_buf(&b, 1, 0, ev2, 4, 0, NO_POS);
    buf_free(&b);
    ASSERT_TRUE(ok);
}

/* Invalid payloads, the index of the first impossible byte in each. */
static const struct {
    const char *s;
    size_t bad_at;
} bad_utf8[] = {
    {"\xC0\xAF", 0},         /* overlong '/' */
    {"\xC1\xBF", 0},         /* overlong */
    {"\xE0\x80\xAF", 1},     /* overlong '/' */
    {"\xE0\x9F\xBF", 1},     /* overlong U+07FF */
    {"\xF0\x80\x80\xAF", 1}, /* overlong '/' */
    {"\xF0\x8F\xBF\xBF", 1}, /* overlong U+FFFF */
    {"\xED\xA0\x80", 1},     /* U+D800 */
    {"\xED\xBF\xBF", 1},     /* U+DFFF */
    {"\xF4\x90\x80\x80", 1}, /* U+110000 */
    {"\xF5\x80\x80\x80", 0},
    {"\xF8\x88\x80\x80\x80", 0}, /* 5-byte form */
    {"\xFE", 0},
    {"\xFF", 0},
    {"\x80", 0}, /* lone continuation */
    {"ab\xBF", 2},
    {"ab\xC2 ", 3}, /* lead then space */
    {"\xE2\x82(", 2},
    {"\xCE\xBA\xE1\xBD\xB9\xCF\x83\xCE\xBC\xCE\xB5\xED\xA0\x80", 12},
};

static void test_utf8_invalid_is_1007(void)
{
    for (size_t i = 0; i < CH_ARRAY_LEN(bad_utf8); i++) {
        const char *s = bad_utf8[i].s;
        size_t n = strlen(s);
        buf_t b = {0};
        /* Unfragmented: header (6) + payload. */
        put_frame(&b, FIN | WS_OP_TEXT, s, n, 1);
        int ok1 = check_buf(&b, 1, 0, NULL, 0, -1007, 6 + bad_utf8[i].bad_at);
        buf_free(&b);
        /* Behind a valid first fragment "xy" (8 bytes), as the second fragment. */
        put_frame(&b, WS_OP_TEXT, "xy", 2, 1);
        put_frame(&b, FIN | WS_OP_CONT, s, n, 1);
        int ok2 = check_buf(&b, 1, 0, NULL, 0, -1007, 8 + 6 + bad_utf8[i].bad_at);
        buf_free(&b);
        /* The same bytes are fine in a binary message. */
        exp_t ev[] = {{WS_EV_BINARY, 0, s, n}};
        put_frame(&b, FIN | WS_OP_BINARY, s, n, 1);
        int ok3 = check_buf(&b, 1, 0, ev, 1, 0, NO_POS);
        buf_free(&b);
        if (!ok1 || !ok2 || !ok3) fprintf(stderr, "  case %zu\n", i);
        ASSERT_TRUE(ok1);
        ASSERT_TRUE(ok2);
        ASSERT_TRUE(ok3);
    }
}

/* A text frame announcing 1000 bytes whose first payload bytes are impossible is refused
 * as soon as they arrive, long before the rest of the payload. */
static void test_utf8_fail_fast(void)
{
    uint8_t hdr[8];
    uint8_t *frame = ch_malloc(8 + 1000);
    ws_parser_t p;
    ws_event_t ev;
    size_t used;
    buf_t b = {0};
    uint8_t mask[4];

    put_header(&b, FIN | WS_OP_TEXT, 1000, 1, LEN_AUTO, mask); /* 2 + 2 + 4 = 8 bytes */
    memcpy(hdr, b.p, 8);
    buf_free(&b);
    memcpy(frame, hdr, 8);
    frame[8] = 'o' ^ mask[0];
    frame[9] = 'k' ^ mask[1];
    frame[10] = 0xED ^ mask[2];
    frame[11] = 0xA0 ^ mask[3]; /* surrogate: impossible at this byte */

    ws_parser_init(&p, 0, 1);
    int rc1 = ws_parser_feed(&p, frame, 11, &used, &ev);
    int rc2 = ws_parser_feed(&p, frame + 11, 1, &used, &ev);
    ws_parser_free(&p);
    free(frame);
    ASSERT_EQ(rc1, 0);
    ASSERT_EQ(rc2, -1007);
}

static void test_utf8_truncated_at_end(void)
{
    buf_t b = {0};

    put_str(&b, FIN | WS_OP_TEXT, "a\xE2\x82", 1);
    int ok1 = check_buf(&b, 1, 0, NULL, 0, -1007, 8);
    buf_free(&b);
    /* The message ends with an empty final fragment: caught at its last header byte. */
    put_str(&b, WS_OP_TEXT, "\xE2\x82", 1); /* 8 bytes */
    put_str(&b, FIN | WS_OP_CONT, "", 1);   /* 6 bytes */
    int ok2 = check_buf(&b, 1, 0, NULL, 0, -1007, 13);
    buf_free(&b);
    put_str(&b, WS_OP_TEXT, "\xF0", 1); /* 7 bytes */
    put_str(&b, FIN | WS_OP_CONT, "\x9F\x98", 1);
    int ok3 = check_buf(&b, 1, 0, NULL, 0, -1007, 14);
    buf_free(&b);
    /* Binary may end anywhere. */
    static const exp_t ev[] = {EV(WS_EV_BINARY, "\xF0\x9F\x98")};
    put_str(&b, WS_OP_BINARY, "\xF0", 1);
    put_str(&b, FIN | WS_OP_CONT, "\x9F\x98", 1);
    int ok4 = check_buf(&b, 1, 0, ev, 1, 0, NO_POS);
    buf_free(&b);
    ASSERT_TRUE(ok1);
    ASSERT_TRUE(ok2);
    ASSERT_TRUE(ok3);
    ASSERT_TRUE(ok4);
}

/* A long multi-byte text cut into fragments at arbitrary byte positions. */
static void test_utf8_long_text_fragmented(void)
{
    static const char unit[] = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80 "; /* a e-acute euro
                                                                            emoji space */
    buf_t text = {0}, b = {0};

    for (int i = 0; i < 300; i++)
        buf_put(&text, unit, sizeof(unit) - 1);
    size_t pos = 0, step = 1;
    int first = 1;
    while (pos < text.len) {
        size_t n = step < text.len - pos ? step : text.len - pos;
        uint8_t b0 =
            (uint8_t)((first ? WS_OP_TEXT : WS_OP_CONT) | (pos + n == text.len ? FIN : 0));
        put_frame(&b, b0, text.p + pos, n, 1);
        pos += n;
        step = step * 3 + 1;
        first = 0;
    }
    exp_t ev[] = {{WS_EV_TEXT, 0, text.p, text.len}};
    int ok = check_buf(&b, 1, 0, ev, 1, 0, NO_POS);
    buf_free(&b);
    buf_free(&text);
    ASSERT_TRUE(ok);
}

/* ---- message size (1009) and the message buffer ------------------------------------- */

static void test_too_big_from_header(void)
{
    buf_t b = {0};
    uint8_t mask[4];

    /* Header only: 1001 bytes announced, limit 1000; refused at the last length byte. */
    put_header(&b, FIN | WS_OP_TEXT, 1001, 1, LEN_AUTO, mask);
    int ok1 = check_buf(&b, 1, 1000, NULL, 0, -1009, 3);
    buf_free(&b);
    /* 7-bit length over a tiny limit. */
    put_header(&b, FIN | WS_OP_BINARY, 11, 1, LEN_AUTO, mask);
    int ok2 = check_buf(&b, 1, 10, NULL, 0, -1009, 1);
    buf_free(&b);
    /* 64-bit length. */
    put_header(&b, WS_OP_BINARY, (uint64_t)1 << 40, 1, LEN_AUTO, mask);
    int ok3 = check_buf(&b, 1, 1000, NULL, 0, -1009, 9);
    buf_free(&b);
    /* Sum of fragments: 600 + 401 > 1000, caught at the second header. */
    uint8_t *six = pattern(600);
    put_frame(&b, WS_OP_BINARY, six, 600, 1); /* 8 + 600 */
    put_header(&b, FIN | WS_OP_CONT, 401, 1, LEN_AUTO, mask);
    int ok4 = check_buf(&b, 1, 1000, NULL, 0, -1009, 608 + 3);
    buf_free(&b);
    /* 600 + 400 is exactly the limit. */
    uint8_t *four = pattern(400);
    uint8_t *all = ch_malloc(1000);
    memcpy(all, six, 600);
    memcpy(all + 600, four, 400);
    exp_t ev[] = {{WS_EV_BINARY, 0, all, 1000}};
    put_frame(&b, WS_OP_BINARY, six, 600, 1);
    put_frame(&b, FIN | WS_OP_CONT, four, 400, 1);
    int ok5 = check_buf(&b, 1, 1000, ev, 1, 0, NO_POS);
    buf_free(&b);
    free(six);
    free(four);
    free(all);
    ASSERT_TRUE(ok1);
    ASSERT_TRUE(ok2);
    ASSERT_TRUE(ok3);
    ASSERT_TRUE(ok4);
    ASSERT_TRUE(ok5);
}

static void test_limit_is_per_message(void)
{
    buf_t b = {0};
    static const exp_t ev[] = {EV(WS_EV_TEXT, "0123456789"), EV(WS_EV_TEXT, "abcdefghij"),
                               EV(WS_EV_PING, "0123456789ab")};

    /* Two 10-byte messages under a 10-byte limit; control frames do not count. */
    put_str(&b, WS_OP_TEXT, "01234", 1);
    put_str(&b, FIN | WS_OP_CONT, "56789", 1);
    put_str(&b, FIN | WS_OP_TEXT, "abcdefghij", 1);
    put_str(&b, FIN | WS_OP_PING, "0123456789ab", 1);
    int ok = check_buf(&b, 1, 10, ev, 3, 0, NO_POS);
    buf_free(&b);
    ASSERT_TRUE(ok);
}

static void test_unlimited_does_not_preallocate(void)
{
    buf_t b = {0};
    uint8_t mask[4];
    ws_parser_t p;
    ws_event_t ev;
    size_t used;

    put_header(&b, FIN | WS_OP_BINARY, (uint64_t)1 << 40, 1, LEN_AUTO, mask);
    buf_put(&b, "0123456789", 10);
    ws_parser_init(&p, 0, 1);
    int rc = ws_parser_feed(&p, b.p, b.len, &used, &ev);
    size_t cap = p.msg_cap, got = p.msg_len;
    ws_parser_free(&p);
    buf_free(&b);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(used, 24);
    /* A terabyte announced, ten bytes received: the buffer follows what arrived. */
    ASSERT_EQ(got, 10);
    ASSERT_TRUE(cap >= 10);
    ASSERT_TRUE(cap <= 4096);
}

static void test_buffer_growth_bounded(void)
{
    buf_t b = {0};
    uint8_t *pl = pattern(3000);
    ws_parser_t p;
    ws_event_t ev;
    size_t used;
    size_t max_cap = 0;
    int events = 0, rc = 0, same = 0;

    for (int i = 0; i < 6; i++)
        put_frame(&b, (uint8_t)((i ? WS_OP_CONT : WS_OP_BINARY) | (i == 5 ? FIN : 0)),
                  pl + 500 * i, 500, 1);
    ws_parser_init(&p, 3000, 1);
    for (size_t off = 0; off < b.len && rc >= 0; off += 7) {
        size_t n = b.len - off < 7 ? b.len - off : 7, done = 0;
        while ((rc = ws_parser_feed(&p, b.p + off + done, n - done, &used, &ev)) == 1) {
            done += used;
            events++;
            same = ev.len == 3000 && memcmp(ev.data, pl, 3000) == 0;
        }
        if (p.msg_cap > max_cap) max_cap = p.msg_cap;
    }
    ws_parser_free(&p);
    buf_free(&b);
    free(pl);
    ASSERT_EQ(rc, 0);
    ASSERT_EQ(events, 1);
    ASSERT_TRUE(same);
    ASSERT_TRUE(max_cap >= 3000);
    ASSERT_TRUE(max_cap <= 3000);
}

static void test_buffer_shrinks_after_large_message(void)
{
    const size_t big = 200 * 1024;
    uint8_t *pl = pattern(big);
    buf_t b = {0};
    ws_parser_t p;
    ws_event_t ev;
    size_t used;

    put_frame(&b, FIN | WS_OP_BINARY, pl, big, 1);
    ws_parser_init(&p, 1024 * 1024, 1);
    ASSERT_EQ(ws_parser_feed(&p, b.p, 1000, &used, &ev), 0);
    ASSERT_EQ(ws_parser_feed(&p, b.p + 1000, b.len - 1000, &used, &ev), 1);
    ASSERT_TRUE(ev.data == p.msg);
    ASSERT_EQ(ev.len, big);
    ASSERT_MEMEQ(ev.data, pl, big);
    ASSERT_TRUE(p.msg_cap >= big);
    /* The next feed, even an empty one, gives the big buffer back. */
    ASSERT_EQ(ws_parser_feed(&p, b.p, 0, &used, &ev), 0);
    ASSERT_TRUE(p.msg == NULL);
    ASSERT_EQ(p.msg_cap, 0);
    buf_free(&b);

    /* A small buffered message keeps its buffer for reuse. */
    put_frame(&b, FIN | WS_OP_BINARY, pl, 10000, 1);
    ASSERT_EQ(ws_parser_feed(&p, b.p, 100, &used, &ev), 0);
    ASSERT_EQ(ws_parser_feed(&p, b.p + 100, b.len - 100, &used, &ev), 1);
    ASSERT_EQ(ws_parser_feed(&p, b.p, 0, &used, &ev), 0);
    ASSERT_TRUE(p.msg != NULL);
    /* Growth stops at the known size of a final frame rather than doubling past it. */
    ASSERT_EQ(p.msg_cap, 10000);
    buf_free(&b);

    /* A big buffer still in use by an open fragmented message is kept. */
    put_frame(&b, WS_OP_BINARY, pl, big, 1);
    size_t first = b.len;
    put_frame(&b, FIN | WS_OP_CONT, "!", 1, 1);
    ASSERT_EQ(ws_parser_feed(&p, b.p, first, &used, &ev), 0);
    ASSERT_EQ(ws_parser_feed(&p, b.p, 0, &used, &ev), 0);
    ASSERT_TRUE(p.msg_cap >= big);
    ASSERT_EQ(ws_parser_feed(&p, b.p + first, b.len - first, &used, &ev), 1);
    ASSERT_EQ(ev.len, big + 1);
    ASSERT_MEMEQ(ev.data, pl, big);
    ASSERT_EQ(ev.data[big], '!');
    ASSERT_EQ(ws_parser_feed(&p, b.p, 0, &used, &ev), 0);
    ASSERT_EQ(p.msg_cap, 0);
    buf_free(&b);
    ws_parser_free(&p);
    free(pl);
}

/* ---- close frames ------------------------------------------------------------------- */

static void test_close_frames(void)
{
    static const struct {
        const char *payload;
        size_t len;
        int rc;
        uint16_t code;
    } cases[] = {
        {"", 0, 0, WS_CLOSE_NO_STATUS},
        {"\x03\xe8", 2, 0, 1000},
        {"\x03\xe8"
         "bye",
         5, 0, 1000},
        {"\x03\xeb", 2, 0, 1003},
        {"\x03\xef", 2, 0, 1007},
        {"\x03\xf6", 2, 0, 1014},
        {"\x0b\xb8", 2, 0, 3000},
        {"\x13\x87"
         "\xCE\xBA\xE1\xBD\xB9",
         7, 0, 4999},
        {"\x03", 1, -1002, 0},
        {"\x00\x00", 2, -1002, 0},
        {"\x03\xe7", 2, -1002, 0}, /* 999 */
        {"\x03\xec", 2, -1002, 0}, /* 1004 */
        {"\x03\xed", 2, -1002, 0}, /* 1005 */
        {"\x03\xee", 2, -1002, 0}, /* 1006 */
        {"\x03\xf7", 2, -1002, 0}, /* 1015 */
        {"\x03\xf8", 2, -1002, 0}, /* 1016 */
        {"\x0b\xb7", 2, -1002, 0}, /* 2999 */
        {"\x13\x88", 2, -1002, 0}, /* 5000 */
        {"\xff\xff", 2, -1002, 0},
        {"\x03\xe8\xC0\xAF", 4, -1007, 0},
        {"\x03\xe8"
         "ok\xED\xA0\x80",
         7, -1007, 0},
        {"\x03\xe8"
         "ok\xE2\x82",
         6, -1007, 0},
    };

    for (size_t i = 0; i < CH_ARRAY_LEN(cases); i++) {
        buf_t b = {0};
        size_t n = cases[i].len;
        exp_t ev[] = {
            {WS_EV_CLOSE, cases[i].code, n ? cases[i].payload + 2 : "", n ? n - 2 : 0}};
        put_frame(&b, FIN | WS_OP_CLOSE, cases[i].payload, cases[i].len, 1);
        /* A 1-byte body is refused at the length; the rest at the last payload byte. */
        size_t err_at = cases[i].len == 1 ? 1 : b.len - 1;
        int ok = check_buf(&b, 1, 0, ev, cases[i].rc ? 0 : 1, cases[i].rc, err_at);
        buf_free(&b);
        if (!ok) fprintf(stderr, "  case %zu\n", i);
        ASSERT_TRUE(ok);
    }
}

static void test_close_code_valid(void)
{
    static const unsigned valid[] = {1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010,
                                     1011, 1012, 1013, 1014, 3000, 3999, 4000, 4999};
    static const unsigned invalid[] = {0,    1,    999,  1004, 1005,  1006,  1015,       1016,
                                       1100, 2000, 2999, 5000, 65535, 65536, 0xFFFFFFFFu};

    for (size_t i = 0; i < CH_ARRAY_LEN(valid); i++)
        ASSERT_EQ(ws_close_code_valid(valid[i]), 1);
    for (size_t i = 0; i < CH_ARRAY_LEN(invalid); i++)
        ASSERT_EQ(ws_close_code_valid(invalid[i]), 0);
}

static void test_close_payload(void)
{
    uint8_t out[WS_MAX_CONTROL];
    char reason[200];

    ASSERT_EQ(ws_close_payload(out, 1000, NULL), 2);
    ASSERT_MEMEQ(out, "\x03\xe8", 2);
    ASSERT_EQ(ws_close_payload(out, 4321, ""), 2);
    ASSERT_MEMEQ(out, "\x10\xe1", 2);
    ASSERT_EQ(ws_close_payload(out, 1001, "bye"), 5);
    ASSERT_MEMEQ(out,
                 "\x03\xe9"
                 "bye",
                 5);

    /* ASCII: cut at exactly 123 bytes. */
    memset(reason, 'a', 199);
    reason[199] = '\0';
    ASSERT_EQ(ws_close_payload(out, 1000, reason), 125);
    ASSERT_MEMEQ(out + 2, reason, 123);

    /* 120 + 3-byte euro sign = 123: fits whole. */
    memset(reason, 'a', 120);
    strcpy(reason + 120, "\xE2\x82\xAC"
                         "bbb");
    ASSERT_EQ(ws_close_payload(out, 1000, reason), 125);
    ASSERT_MEMEQ(out + 2 + 120, "\xE2\x82\xAC", 3);
    /* 121 + euro = 124: the euro sign must go entirely. */
    memset(reason, 'a', 121);
    strcpy(reason + 121, "\xE2\x82\xAC");
    ASSERT_EQ(ws_close_payload(out, 1000, reason), 2 + 121);
    /* 122 + euro. */
    memset(reason, 'a', 122);
    strcpy(reason + 122, "\xE2\x82\xAC");
    ASSERT_EQ(ws_close_payload(out, 1000, reason), 2 + 122);
    /* 120 + 4-byte emoji = 124: cut back to 120. */
    memset(reason, 'a', 120);
    strcpy(reason + 120, "\xF0\x9F\x98\x80");
    ASSERT_EQ(ws_close_payload(out, 1000, reason), 2 + 120);
    ASSERT_TRUE(utf8_valid(out + 2, 120));

    /* All 2-byte characters: 61 of them = 122 bytes. */
    for (int i = 0; i < 90; i++)
        memcpy(reason + 2 * i, "\xC3\xA9", 2);
    reason[180] = '\0';
    size_t n = ws_close_payload(out, 1000, reason);
    ASSERT_EQ(n, 2 + 122);
    ASSERT_TRUE(utf8_valid(out + 2, n - 2));
}

static void test_close_payload_round_trip(void)
{
    uint8_t out[WS_MAX_CONTROL];
    char reason[200];
    buf_t b = {0};

    for (int i = 0; i < 70; i++)
        memcpy(reason + 2 * i, "\xC3\xA9", 2);
    reason[140] = '\0';
    size_t n = ws_close_payload(out, 4001, reason);
    exp_t ev[] = {{WS_EV_CLOSE, 4001, reason, n - 2}};
    put_frame(&b, FIN | WS_OP_CLOSE, out, n, 1);
    int ok = check_buf(&b, 1, 0, ev, 1, 0, NO_POS);
    buf_free(&b);
    ASSERT_TRUE(ok);
}

/* ---- encoder ------------------------------------------------------------------------ */

static void test_frame_header_encoder(void)
{
    static const struct {
        uint64_t len;
        size_t hl;
        uint8_t hdr[10];
    } cases[] = {
        {0, 2, {0x81, 0}},
        {125, 2, {0x81, 125}},
        {126, 4, {0x81, 126, 0x00, 0x7E}},
        {65535, 4, {0x81, 126, 0xFF, 0xFF}},
        {65536, 10, {0x81, 127, 0, 0, 0, 0, 0, 0x01, 0, 0}},
        {(uint64_t)1 << 32, 10, {0x81, 127, 0, 0, 0, 0x01, 0, 0, 0, 0}},
    };

    for (size_t i = 0; i < CH_ARRAY_LEN(cases); i++) {
        uint8_t h[WS_MAX_HEADER];
        size_t hl = ws_frame_header(h, WS_OP_TEXT, cases[i].len);
        ASSERT_EQ(hl, cases[i].hl);
        ASSERT_MEMEQ(h, cases[i].hdr, hl);

        /* Parse it back as a client would. */
        ws_parser_t p;
        ws_event_t ev = {0};
        size_t used;
        ws_parser_init(&p, 0, 0);
        if (cases[i].len <= 65536) {
            size_t n = (size_t)cases[i].len;
            uint8_t *frame = ch_malloc(hl + n);
            memcpy(frame, h, hl);
            memset(frame + hl, 'x', n);
            int rc = ws_parser_feed(&p, frame, hl + n, &used, &ev);
            size_t len = ev.len;
            free(frame);
            ws_parser_free(&p);
            ASSERT_EQ(rc, 1);
            ASSERT_EQ(used, hl + n);
            ASSERT_EQ(len, n);
        } else {
            int rc = ws_parser_feed(&p, h, hl, &used, &ev);
            uint64_t plen = p.payload_len;
            ws_parser_free(&p);
            ASSERT_EQ(rc, 0);
            ASSERT_EQ(plen, cases[i].len);
        }
    }
    /* Other opcodes keep FIN set and RSV clear. */
    uint8_t h[WS_MAX_HEADER];
    ASSERT_EQ(ws_frame_header(h, WS_OP_PONG, 3), 2);
    ASSERT_EQ(h[0], 0x8A);
    ASSERT_EQ(h[1], 3);
    ASSERT_EQ(ws_frame_header(h, WS_OP_BINARY, 300), 4);
    ASSERT_EQ(h[0], 0x82);
}

int main(void)
{
    RUN(test_at_rest);
    RUN(test_rfc_unmasked_text);
    RUN(test_rfc_masked_text);
    RUN(test_rfc_fragmented_unmasked);
    RUN(test_rfc_ping_pong);
    RUN(test_rfc_256_binary);
    RUN(test_rfc_64k_binary);
    RUN(test_zero_copy_in_place);
    RUN(test_split_payload_is_buffered);
    RUN(test_consumed_one_event_per_call);
    RUN(test_many_frames_one_feed);
    RUN(test_control_between_fragments);
    RUN(test_empty_frames);
    RUN(test_non_minimal_lengths);
    RUN(test_unmask_lengths_and_alignment);
    RUN(test_rsv_bits);
    RUN(test_reserved_opcodes);
    RUN(test_masking_rules);
    RUN(test_control_frame_rules);
    RUN(test_continuation_without_start);
    RUN(test_data_frame_inside_fragmented);
    RUN(test_length_msb_set);
    RUN(test_sticky_error);
    RUN(test_utf8_split_across_fragments);
    RUN(test_utf8_invalid_is_1007);
    RUN(test_utf8_fail_fast);
    RUN(test_utf8_truncated_at_end);
    RUN(test_utf8_long_text_fragmented);
    RUN(test_too_big_from_header);
    RUN(test_limit_is_per_message);
    RUN(test_unlimited_does_not_preallocate);
    RUN(test_buffer_growth_bounded);
    RUN(test_buffer_shrinks_after_large_message);
    RUN(test_close_frames);
    RUN(test_close_code_valid);
    RUN(test_close_payload);
    RUN(test_close_payload_round_trip);
    RUN(test_frame_header_encoder);
    TEST_MAIN_END();
}
