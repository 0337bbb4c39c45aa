/* test_ot_props.c: property tests for ot_text over random documents (ASCII, combining
 * marks, CJK, emoji) and random ops, from a fixed seed: convergence of transform, compose
 * against sequential apply, cursor bounds, normalization and the JSON round trip.
 * CHORUS_OT_ITER sets the number of cases (default 1000000, 300000 under sanitizers). */
#include "test.h"

#include "domain/ot_text.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif
#ifndef SANITIZED
#define SANITIZED 0
#endif

#define CH_ARRAY_LEN_(a) (sizeof(a) / sizeof((a)[0]))

static uint64_t rng_state = 0x9E3779B97F4A7C15ULL;

/* splitmix64: small, fast and good enough to spread cases. */
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* Returns a uniform-ish value in [0, n). */
static size_t below(size_t n) { return n ? (size_t)(rnd() % n) : 0; }

/* Code points the documents and inserts are drawn from: mostly ASCII, then a combining
 * acute accent, e-acute, CJK, emoji (astral: 4 bytes, one code point) and a newline. */
static const char *const alphabet[] = {
    "a", "b", "c", "x", " ", "\n", "\xcc\x81", "\xc3\xa9", "\xe4\xb8\xad",
    "\xf0\x9f\x98\x80", "\xf0\x9f\x91\xbb", "Z",
};

/* Appends n random code points to s (cap bytes) at *len. */
static void rand_text(char *s, size_t *len, size_t cap, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *cp = alphabet[below(CH_ARRAY_LEN_(alphabet))];
        size_t l = strlen(cp);
        if (*len + l >= cap) break;
        memcpy(s + *len, cp, l);
        *len += l;
    }
}

/* A random op for a document of doc_cp code points: a few skips, inserts and deletes. */
static void rand_op(ot_op_t *op, size_t doc_cp)
{
    ot_op_clear(op);
    size_t pos = 0, parts = below(5);
    for (size_t i = 0; i < parts; i++) {
        size_t left = doc_cp - pos;
        switch (below(3)) {
        case 0:
            if (left) {
                size_t k = 1 + below(left);
                ot_op_push_skip(op, k);
                pos += k;
            }
            break;
        case 1: {
            char t[64];
            size_t tl = 0;
            rand_text(t, &tl, sizeof t, 1 + below(4));
            if (ot_op_push_insert(op, t, tl) != 0) abort();
            break;
        }
        default:
            if (left) {
                size_t k = 1 + below(left < 6 ? left : 6);
                ot_op_push_delete(op, k);
                pos += k;
            }
            break;
        }
    }
    ot_op_trim(op);
}

typedef struct {
    ot_op_t a, b, c, a2, b2, ab, j;
    ot_buf_t s, sa, sb, sab, sba, t1, t2;
} ctx_t;

static int same_op(const ot_op_t *x, const ot_op_t *y)
{
    if (x->n != y->n || x->text_len != y->text_len) return 0;
    for (size_t i = 0; i < x->n; i++)
        if (x->c[i].kind != y->c[i].kind || x->c[i].n != y->c[i].n ||
            x->c[i].len != y->c[i].len)
            return 0;
    return x->text_len == 0 || memcmp(x->text, y->text, x->text_len) == 0;
}

static int same_buf(const ot_buf_t *x, const ot_buf_t *y)
{
    return x->len == y->len && x->cp == y->cp && memcmp(x->s, y->s, x->len) == 0;
}

/* Applies op to in, into out, and checks the result's cached count. */
static int apply(ot_buf_t *out, const ot_buf_t *in, const ot_op_t *op)
{
    if (ot_apply(out, in->s, in->len, in->cp, op) != 0) return -1;
    if (out->cp != ot_utf8_count(out->s, out->len)) return -2;
    if (out->cp != ot_op_output_len(op, in->cp)) return -3;
    return 0;
}

static size_t cases = 1000000;
static size_t random_ops, checks;

static void test_props(void)
{
    ctx_t x;
    memset(&x, 0, sizeof x);
    for (size_t iter = 0; iter < cases; iter++) {
        char d[256];
        size_t dl = 0;
        rand_text(d, &dl, sizeof d, below(iter % 16 == 0 ? 60 : 20));
        ASSERT_EQ(ot_buf_set(&x.s, d, dl), 0);
        size_t L = x.s.cp;
        rand_op(&x.a, L);
        rand_op(&x.b, L);
        random_ops += 2;
        ASSERT_TRUE(ot_op_is_normalized(&x.a));
        ASSERT_EQ(ot_op_check(&x.a, L), 0);
        ASSERT_EQ(apply(&x.sa, &x.s, &x.a), 0);
        ASSERT_EQ(apply(&x.sb, &x.s, &x.b), 0);

        /* convergence, both ways round: b wins ties, then a wins ties */
        for (int w = 0; w < 2; w++) {
            const ot_op_t *p = w ? &x.b : &x.a, *q = w ? &x.a : &x.b;
            const ot_buf_t *sp = w ? &x.sb : &x.sa, *sq = w ? &x.sa : &x.sb;
            ASSERT_EQ(ot_transform(&x.b2, q, p, OT_LEFT), 0);  /* q after p */
            ASSERT_EQ(ot_transform(&x.a2, p, q, OT_RIGHT), 0); /* p after q */
            ASSERT_TRUE(ot_op_is_normalized(&x.a2) && ot_op_is_normalized(&x.b2));
            ASSERT_EQ(apply(&x.sab, sp, &x.b2), 0);
            ASSERT_EQ(apply(&x.sba, sq, &x.a2), 0);
            if (!same_buf(&x.sab, &x.sba)) {
                fprintf(stderr, "diverged at case %zu: \"%.*s\" vs \"%.*s\"\n", iter,
                        (int)x.sab.len, x.sab.s, (int)x.sba.len, x.sba.s);
                ASSERT_TRUE(0);
            }
            checks++;
        }

        /* compose: one op equals the two in sequence */
        rand_op(&x.c, x.sa.cp);
        random_ops++;
        ASSERT_EQ(ot_compose(&x.ab, &x.a, &x.c), 0);
        ASSERT_TRUE(ot_op_is_normalized(&x.ab));
        ASSERT_EQ(apply(&x.t1, &x.s, &x.ab), 0);
        ASSERT_EQ(apply(&x.t2, &x.sa, &x.c), 0);
        ASSERT_TRUE(same_buf(&x.t1, &x.t2));
        checks++;

        /* Transforming past a composition is transforming past each part in turn, up
         * to the order of inserts that tie at one position: compose may put a's delete
         * before c's insert, which moves where a concurrent insert lands (e.g. doc "q",
         * a = [{"d":1}], c = ["y"], b = [1,"z"]: "yz" vs "zy"); ot-text-unicode behaves the
         * same. So only the length and the bytes' count of each value are compared. */
        for (int side = OT_LEFT; side <= OT_RIGHT; side++) {
            ASSERT_EQ(ot_transform(&x.b2, &x.b, &x.ab, side), 0);
            ASSERT_EQ(apply(&x.sab, &x.t1, &x.b2), 0);
            ASSERT_EQ(ot_transform(&x.a2, &x.b, &x.a, side), 0);
            ASSERT_EQ(ot_transform(&x.b2, &x.a2, &x.c, side), 0);
            ASSERT_EQ(apply(&x.sba, &x.t1, &x.b2), 0);
            ASSERT_EQ(x.sab.len, x.sba.len);
            ASSERT_EQ(x.sab.cp, x.sba.cp);
            size_t hist[256] = {0};
            for (size_t i = 0; i < x.sab.len; i++) hist[(unsigned char)x.sab.s[i]]++;
            for (size_t i = 0; i < x.sba.len; i++) hist[(unsigned char)x.sba.s[i]]--;
            for (size_t i = 0; i < 256; i++) ASSERT_EQ(hist[i], 0);
            checks++;
        }

        /* cursors stay inside the new document */
        size_t pos = below(L + 1);
        size_t np = ot_transform_position(pos, &x.a, 0);
        ASSERT_TRUE(np <= x.sa.cp);
        ASSERT_TRUE(ot_transform_position(pos, &x.a, 1) <= x.sa.cp);
        ASSERT_TRUE(ot_transform_position(L, &x.a, 0) <= x.sa.cp);
        checks += 3;

        /* the JSON round trip is the identity on normalized ops */
        json_t *j = ot_op_to_json(&x.ab);
        ASSERT_EQ(ot_op_from_json(&x.j, j, 1000, NULL), 0);
        json_decref(j);
        ASSERT_TRUE(same_op(&x.j, &x.ab));
        checks++;

        /* ops past the end are refused without touching the output */
        if (x.a.n && ot_op_input_len(&x.a) > 0) {
            size_t need = (size_t)ot_op_input_len(&x.a);
            ot_buf_t keep = x.t2;
            ASSERT_EQ(ot_apply(&x.t2, x.s.s, x.s.len, x.s.cp, &x.a), 0);
            ASSERT_EQ(ot_op_check(&x.a, need - 1), OT_EPAST_END);
            if (need - 1 < L) {
                size_t cut = ot_utf8_offset(x.s.s, x.s.len, need - 1);
                keep = x.t2;
                ASSERT_EQ(ot_apply(&x.t2, x.s.s, cut, need - 1, &x.a), OT_EPAST_END);
                ASSERT_TRUE(x.t2.s == keep.s && x.t2.len == keep.len && x.t2.cp == keep.cp);
                checks++;
            }
        }
    }
    ot_op_t *ops[] = {&x.a, &x.b, &x.c, &x.a2, &x.b2, &x.ab, &x.j};
    for (size_t i = 0; i < CH_ARRAY_LEN_(ops); i++) ot_op_free(ops[i]);
    ot_buf_t *bufs[] = {&x.s, &x.sa, &x.sb, &x.sab, &x.sba, &x.t1, &x.t2};
    for (size_t i = 0; i < CH_ARRAY_LEN_(bufs); i++) ot_buf_free(bufs[i]);
}

int main(void)
{
    const char *env = getenv("CHORUS_OT_ITER");
    if (env && *env) cases = (size_t)strtoull(env, NULL, 10);
    else if (SANITIZED) cases = 300000;
    RUN(test_props);
    fprintf(stderr, "%zu cases, %zu random ops, %zu property checks\n", cases, random_ops,
            checks);
    TEST_MAIN_END();
}
