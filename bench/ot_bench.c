/* ot_bench.c: throughput of ot_transform + ot_apply for small editor ops (a typed character
 * or word, a backspace, a small selection deleted) at random positions in a ~10 KB
 * document, on one core. Not a test. Usage: ot_bench [million-ops] (default 5). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/mem.h"
#include "domain/ot_text.h"

#define DOC_BYTES 10240
#define BATCH 1024 /* pairs generated (untimed) before each timed run */

static uint64_t rng_state = 42;
static size_t n_typed = 7; /* 5: ASCII typing only, so an ASCII document stays ASCII */

static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

/* CPU time of this thread: the machine may be shared, and only our own core counts. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static const char *const typed[] = {"e", "a", " ", "t", "\n", "hello ", "\xc3\xa9"};

/* One small editor op on a document of len code points: typing (grow) or a backspace or a
 * small selection deleted (shrink). */
static void editor_op(ot_op_t *op, size_t len, int shrink)
{
    ot_op_clear(op);
    if (!shrink || len < 8) {
        ot_op_push_skip(op, below(len + 1));
        const char *t = typed[below(n_typed)];
        ot_op_push_insert(op, t, strlen(t));
    } else {
        size_t k = below(4) ? 1 : 1 + below(6);
        ot_op_push_skip(op, below(len - k + 1));
        ot_op_push_delete(op, k);
    }
    ot_op_trim(op);
}

/* A concurrent op whose result has post code points (the document already includes it);
 * returns its input length. */
static size_t concurrent_op(ot_op_t *op, size_t post)
{
    ot_op_clear(op);
    if (post >= 8 && below(2)) {
        const char *t = typed[below(n_typed)];
        size_t k = ot_utf8_count(t, strlen(t));
        ot_op_push_skip(op, below(post - k + 1));
        ot_op_push_insert(op, t, strlen(t));
        ot_op_trim(op);
        return post - k;
    }
    size_t k = below(4) ? 1 : 1 + below(6);
    ot_op_push_skip(op, below(post + 1));
    ot_op_push_delete(op, k);
    return post + k;
}

/* Runs total transform+apply steps on doc; returns steps per second. with_json adds the
 * server's JSON work per step: parse the incoming op, serialize the transformed one. */
static double run(const char *name, ot_buf_t *doc, size_t total, int with_json)
{
    ot_op_t *as = ch_calloc(BATCH, sizeof *as), *bs = ch_calloc(BATCH, sizeof *bs);
    json_t **js = ch_calloc(BATCH, sizeof *js);
    ot_op_t out, tmp;
    ot_op_init(&out);
    ot_op_init(&tmp);
    ot_buf_t next;
    ot_buf_init(&next);
    double timed = 0;
    size_t done = 0, L = doc->cp;
    while (done < total) {
        /* Pairs for the current lengths: b was applied concurrently (the document already
         * has it), a was made on the document before b. */
        size_t simL = L;
        for (size_t i = 0; i < BATCH; i++) {
            size_t pre = concurrent_op(&bs[i], simL);
            editor_op(&as[i], pre, simL > DOC_BYTES - 200);
            ot_transform(&tmp, &as[i], &bs[i], (int)(i & 1)); /* only to track the length */
            simL = ot_op_output_len(&tmp, simL);
            if (with_json) js[i] = ot_op_to_json(&as[i]);
        }
        double t0 = now();
        for (size_t i = 0; i < BATCH; i++) {
            const ot_op_t *a = &as[i];
            if (with_json) {
                if (ot_op_from_json(&tmp, js[i], 1000, NULL)) abort();
                a = &tmp;
            }
            ot_transform(&out, a, &bs[i], (int)(i & 1));
            if (ot_apply(&next, doc->s, doc->len, doc->cp, &out)) abort();
            ot_buf_swap(doc, &next);
            if (with_json) {
                json_t *j = ot_op_to_json(&out);
                free(json_dumps(j, JSON_COMPACT));
                json_decref(j);
            }
        }
        timed += now() - t0;
        if (doc->cp != simL) {
            fprintf(stderr, "length drift: %zu vs %zu\n", doc->cp, simL);
            abort();
        }
        L = simL;
        done += BATCH;
        if (with_json)
            for (size_t i = 0; i < BATCH; i++) json_decref(js[i]);
    }
    double rate = (double)done / timed;
    printf("%-38s %9.0f ops/s  (%.0f ns/op, %zu ops, doc %zu bytes / %zu code points)\n", name,
           rate, 1e9 / rate, done, doc->len, doc->cp);
    for (size_t i = 0; i < BATCH; i++) {
        ot_op_free(&as[i]);
        ot_op_free(&bs[i]);
    }
    free(as);
    free(bs);
    free(js);
    ot_op_free(&out);
    ot_op_free(&tmp);
    ot_buf_free(&next);
    return rate;
}

static void make_doc(ot_buf_t *doc, int mixed)
{
    static const char *const words[] = {"lorem ", "ipsum ", "dolor ", "sit ", "amet\n"};
    static const char *const intl[] = {"caf\xc3\xa9 ", "\xe4\xb8\xad\xe6\x96\x87 ",
                                       "\xf0\x9f\x98\x80 ", "e\xcc\x81 "};
    char *s = ch_malloc(DOC_BYTES + 16);
    size_t n = 0;
    while (n < DOC_BYTES - 16) {
        const char *w = mixed && below(5) == 0 ? intl[below(4)] : words[below(5)];
        size_t l = strlen(w);
        memcpy(s + n, w, l);
        n += l;
    }
    ot_buf_set(doc, s, n);
    free(s);
}

int main(int argc, char **argv)
{
    size_t total = (size_t)((argc > 1 ? atof(argv[1]) : 5.0) * 1e6);
    ot_buf_t doc;
    ot_buf_init(&doc);
    make_doc(&doc, 0);
    n_typed = 5;
    double r1 = run("ASCII doc, transform+apply", &doc, total, 0);
    n_typed = 7;
    make_doc(&doc, 1);
    double r2 = run("mixed doc, transform+apply", &doc, total, 0);
    make_doc(&doc, 1);
    run("mixed doc, + JSON parse and dump", &doc, total / 5, 1);
    ot_buf_free(&doc);
    printf("target 1000000 ops/s: %s\n", r1 > 1e6 && r2 > 1e6 ? "met" : "NOT met");
    return 0;
}
