/* ot_text.c: the ot-text-unicode OT type (ShareDB text-unicode) over compact ops. The
 * transform and compose loops are a line-by-line port of ot-text-unicode 4.0's type.js
 * (take/peek/append), so outputs match it component for component, not just in effect. */
#include "domain/ot_text.h"

#include <string.h>

#if defined(__SSE2__) && !defined(OT_NO_SIMD)
#include <emmintrin.h>
#endif

#include <stdio.h>

#include "util/jscan.h"
#include "util/mem.h"
#include "util/utf8.h"

const char *ot_strerror(int err)
{
    switch (err) {
    case 0: return "OK";
    case OT_EINVALID: return "OT_EINVALID";
    case OT_EPAST_END: return "OT_EPAST_END";
    case OT_ETOO_BIG: return "OT_ETOO_BIG";
    default: return "OT_E?";
    }
}

/* ---- UTF-8 counting ---------------------------------------------------------------- */

/* A code point starts at every byte that is not a continuation byte (10xxxxxx). */
static inline int is_start(unsigned char b) { return (b & 0xC0) != 0x80; }

#if defined(__SSE2__) && !defined(OT_NO_SIMD)
/* Returns how many of the 16 * chunks bytes at p (chunks <= 255) start a code point.
 * Continuation bytes are 0x80..0xBF, i.e. the signed bytes up to -65; each start adds one
 * to its lane (at most 255 per lane: each accumulator sees at most 128 chunks) and one SAD
 * sums the lanes, so there is no per-chunk popcount. */
static inline size_t starts_chunks(const unsigned char *p, size_t chunks)
{
    const __m128i lim = _mm_set1_epi8(-65);
    /* Two accumulators so consecutive chunks do not wait on each other. */
    __m128i acc0 = _mm_setzero_si128(), acc1 = _mm_setzero_si128();
    size_t j = 0;
    for (; j + 2 <= chunks; j += 2) {
        __m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * j));
        __m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * j + 16));
        acc0 = _mm_sub_epi8(acc0, _mm_cmpgt_epi8(v0, lim));
        acc1 = _mm_sub_epi8(acc1, _mm_cmpgt_epi8(v1, lim));
    }
    if (j < chunks) {
        __m128i v0 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16 * j));
        acc0 = _mm_sub_epi8(acc0, _mm_cmpgt_epi8(v0, lim));
    }
    __m128i z = _mm_setzero_si128();
    __m128i sum = _mm_add_epi64(_mm_sad_epu8(acc0, z), _mm_sad_epu8(acc1, z));
    return (size_t)_mm_cvtsi128_si32(sum) + (size_t)_mm_extract_epi16(sum, 4);
}
#else
/* Portable fallback: the same count a word at a time (a continuation byte has bit 7 set
 * and bit 6 clear); the multiply adds the per-byte flags into the top byte. */
static inline size_t starts_chunks(const unsigned char *p, size_t chunks)
{
    size_t n = 0;
    for (size_t j = 0; j < 2 * chunks; j++) {
        uint64_t w;
        memcpy(&w, p + 8 * j, 8);
        uint64_t cont = (w & ~(w << 1) & 0x8080808080808080ULL) >> 7;
        n += 8 - (size_t)((cont * 0x0101010101010101ULL) >> 56);
    }
    return n;
}
#endif

size_t ot_utf8_count(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0, n = 0;
    for (; len - i >= 16 * 255; i += 16 * 255) n += starts_chunks(p + i, 255);
    n += starts_chunks(p + i, (len - i) / 16);
    for (i += (len - i) / 16 * 16; i < len; i++) n += is_start(p[i]);
    return n;
}

size_t ot_utf8_offset(const char *s, size_t len, size_t k)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    /* Blocks whose starts all come before code point k are stepped over whole: first
     * 256 bytes at a time, then 16. */
    while (len - i >= 256 && k >= 64) {
        size_t st = starts_chunks(p + i, 16);
        if (st > k) break;
        k -= st;
        i += 256;
    }
    while (len - i >= 16) {
        size_t st = starts_chunks(p + i, 1);
        if (st > k) break;
        k -= st;
        i += 16;
    }
    for (; i < len; i++) {
        if (is_start(p[i])) {
            if (k == 0) return i;
            k--;
        }
    }
    return k == 0 ? len : (size_t)-1;
}

/* ---- op buffers -------------------------------------------------------------------- */

void ot_op_init(ot_op_t *op)
{
    memset(op, 0, sizeof *op);
}

void ot_op_free(ot_op_t *op)
{
    free(op->c);
    free(op->text);
    ot_op_init(op);
}

void ot_op_clear(ot_op_t *op)
{
    op->n = 0;
    op->text_len = 0;
}

static void comps_reserve(ot_op_t *op, size_t want)
{
    if (want <= op->cap) return;
    size_t cap = op->cap ? op->cap * 2 : 8;
    while (cap < want) cap *= 2;
    op->c = ch_realloc(op->c, cap * sizeof *op->c);
    op->cap = cap;
}

static void text_reserve(ot_op_t *op, size_t want)
{
    if (want <= op->text_cap) return;
    size_t cap = op->text_cap ? op->text_cap * 2 : 64;
    while (cap < want) cap *= 2;
    op->text = ch_realloc(op->text, cap);
    op->text_cap = cap;
}

void ot_op_copy(ot_op_t *dst, const ot_op_t *src)
{
    CH_ASSERT(dst != src);
    comps_reserve(dst, src->n);
    text_reserve(dst, src->text_len);
    if (src->n) memcpy(dst->c, src->c, src->n * sizeof *src->c);
    if (src->text_len) memcpy(dst->text, src->text, src->text_len);
    dst->n = src->n;
    dst->text_len = src->text_len;
}

/* makeAppend for skips and deletes: drop empty, merge with a last component of the same
 * kind. */
static inline void push_len(ot_op_t *op, ot_kind_t kind, uint64_t n)
{
    if (n == 0) return;
    if (op->n && op->c[op->n - 1].kind == kind) {
        op->c[op->n - 1].n += n;
        return;
    }
    comps_reserve(op, op->n + 1);
    op->c[op->n++] = (ot_comp_t){.n = n, .off = 0, .len = 0, .kind = kind};
}

/* makeAppend for an insert of ncp code points in len bytes. The last component's text is
 * always at the end of op->text, so merging is an append of bytes. */
static inline void push_ins(ot_op_t *op, const char *s, size_t len, uint64_t ncp)
{
    if (len == 0) return;
    CH_ASSERT(op->text_len + len <= UINT32_MAX);
    text_reserve(op, op->text_len + len);
    memcpy(op->text + op->text_len, s, len);
    if (op->n && op->c[op->n - 1].kind == OT_INSERT) {
        ot_comp_t *last = &op->c[op->n - 1];
        last->n += ncp;
        last->len += (uint32_t)len;
    } else {
        comps_reserve(op, op->n + 1);
        op->c[op->n++] = (ot_comp_t){.n = ncp, .off = (uint32_t)op->text_len,
                                     .len = (uint32_t)len, .kind = OT_INSERT};
    }
    op->text_len += len;
}

void ot_op_push_skip(ot_op_t *op, uint64_t n) { push_len(op, OT_SKIP, n); }
void ot_op_push_delete(ot_op_t *op, uint64_t n) { push_len(op, OT_DELETE, n); }

int ot_op_push_insert(ot_op_t *op, const char *s, size_t len)
{
    if (!utf8_valid((const uint8_t *)s, len)) return OT_EINVALID;
    if (len > UINT32_MAX - op->text_len) return OT_ETOO_BIG;
    push_ins(op, s, len, ot_utf8_count(s, len));
    return 0;
}

void ot_op_trim(ot_op_t *op)
{
    if (op->n && op->c[op->n - 1].kind == OT_SKIP) op->n--;
}

int ot_op_is_normalized(const ot_op_t *op)
{
    size_t text = 0;
    for (size_t i = 0; i < op->n; i++) {
        const ot_comp_t *c = &op->c[i];
        if (c->n == 0) return 0;
        if (i && op->c[i - 1].kind == c->kind) return 0;
        if (c->kind == OT_INSERT) {
            if (c->off != text || c->len == 0) return 0;
            text += c->len;
            if (ot_utf8_count(op->text + c->off, c->len) != c->n) return 0;
        } else if (c->kind != OT_SKIP && c->kind != OT_DELETE) {
            return 0;
        } else if (c->len || c->off) {
            return 0;
        }
    }
    if (text != op->text_len) return 0;
    return op->n == 0 || op->c[op->n - 1].kind != OT_SKIP;
}

/* ---- JSON ------------------------------------------------------------------------------ */

static int fail(const char **why, const char *msg, int err)
{
    if (why) *why = msg;
    return err;
}

/* Validates one component; on success *n is its length in code points (0 for an insert:
 * the caller counts those while copying). */
static int check_comp(const json_t *c, uint64_t *n, const char **why)
{
    if (json_is_integer(c)) {
        json_int_t v = json_integer_value(c);
        if (v <= 0) return fail(why, "skip must be a positive integer", OT_EINVALID);
        if ((uint64_t)v > OT_MAX_LEN) return fail(why, "skip too long", OT_ETOO_BIG);
        *n = (uint64_t)v;
        return 0;
    }
    if (json_is_string(c)) {
        size_t len = json_string_length(c);
        if (len == 0) return fail(why, "insert must not be empty", OT_EINVALID);
        if (len > UINT32_MAX) return fail(why, "insert too long", OT_ETOO_BIG);
        if (!utf8_valid((const uint8_t *)json_string_value(c), len))
            return fail(why, "insert is not valid UTF-8", OT_EINVALID);
        *n = ot_utf8_count(json_string_value(c), len);
        return 0;
    }
    if (json_is_object(c)) {
        json_t *d = json_object_get(c, "d");
        if (!d || json_object_size(c) != 1)
            return fail(why, "object component must be {\"d\": N} or {\"d\": \"text\"}",
                        OT_EINVALID);
        if (json_is_integer(d)) {
            json_int_t v = json_integer_value(d);
            if (v <= 0) return fail(why, "delete must be a positive integer", OT_EINVALID);
            if ((uint64_t)v > OT_MAX_LEN) return fail(why, "delete too long", OT_ETOO_BIG);
            *n = (uint64_t)v;
            return 0;
        }
        if (json_is_string(d)) {
            size_t len = json_string_length(d);
            if (len == 0) return fail(why, "delete must not be empty", OT_EINVALID);
            if (!utf8_valid((const uint8_t *)json_string_value(d), len))
                return fail(why, "deleted text is not valid UTF-8", OT_EINVALID);
            *n = ot_utf8_count(json_string_value(d), len);
            return 0;
        }
        return fail(why, "delete must be a positive integer or a non-empty string",
                    OT_EINVALID);
    }
    if (json_is_real(c)) return fail(why, "skip must be an integer", OT_EINVALID);
    return fail(why, "component must be a number, a string or {\"d\": ...}", OT_EINVALID);
}

int ot_op_from_json(ot_op_t *op, const json_t *j, size_t max_components, const char **why)
{
    if (!json_is_array(j)) return fail(why, "op must be an array", OT_EINVALID);
    size_t count = json_array_size(j);
    if (count > max_components) return fail(why, "too many components", OT_ETOO_BIG);
    /* Validate everything first so a bad op leaves nothing half-built. */
    uint64_t total = 0, text = 0;
    for (size_t i = 0; i < count; i++) {
        const json_t *c = json_array_get(j, i);
        uint64_t n;
        int rc = check_comp(c, &n, why);
        if (rc) return rc;
        total += n;
        if (total > OT_MAX_LEN) return fail(why, "op too long", OT_ETOO_BIG);
        if (json_is_string(c)) {
            text += json_string_length(c);
            if (text > UINT32_MAX) return fail(why, "inserts too long", OT_ETOO_BIG);
        }
    }
    ot_op_clear(op);
    for (size_t i = 0; i < count; i++) {
        const json_t *c = json_array_get(j, i);
        if (json_is_integer(c)) {
            push_len(op, OT_SKIP, (uint64_t)json_integer_value(c));
        } else if (json_is_string(c)) {
            const char *s = json_string_value(c);
            size_t len = json_string_length(c);
            push_ins(op, s, len, ot_utf8_count(s, len));
        } else {
            const json_t *d = json_object_get(c, "d");
            push_len(op, OT_DELETE,
                     json_is_integer(d) ? (uint64_t)json_integer_value(d)
                                        : ot_utf8_count(json_string_value(d),
                                                        json_string_length(d)));
        }
    }
    ot_op_trim(op);
    return 0;
}

json_t *ot_op_to_json(const ot_op_t *op)
{
    json_t *a = json_array();
    CH_ASSERT(a);
    for (size_t i = 0; i < op->n; i++) {
        const ot_comp_t *c = &op->c[i];
        json_t *v;
        switch (c->kind) {
        case OT_SKIP: v = json_integer((json_int_t)c->n); break;
        case OT_INSERT: v = json_stringn_nocheck(op->text + c->off, c->len); break;
        default: v = json_pack("{sI}", "d", (json_int_t)c->n); break;
        }
        CH_ASSERT(v);
        json_array_append_new(a, v);
    }
    return a;
}

char *ot_op_to_text(const ot_op_t *op, size_t *len)
{
    /* Sized first: a count is at most 20 digits, a delete adds {"d":}, an insert is at
     * most its escaped length and quotes. */
    size_t cap = 3;
    for (size_t i = 0; i < op->n; i++) {
        const ot_comp_t *c = &op->c[i];
        cap +=
            1 + (c->kind == OT_INSERT ? utf8_json_len(op->text + c->off, c->len) + 3 : 20 + 6);
    }
    char *out = ch_malloc(cap);
    size_t o = 0;
    out[o++] = '[';
    for (size_t i = 0; i < op->n; i++) {
        const ot_comp_t *c = &op->c[i];
        if (i) out[o++] = ',';
        int k;
        if (c->kind == OT_SKIP)
            k = snprintf(out + o, cap - o, "%llu", (unsigned long long)c->n);
        else if (c->kind == OT_DELETE)
            k = snprintf(out + o, cap - o, "{\"d\":%llu}", (unsigned long long)c->n);
        else
            k = jscan_quote(out + o, cap - o, op->text + c->off, c->len);
        CH_ASSERT(k >= 0 && (size_t)k < cap - o);
        o += (size_t)k;
    }
    out[o++] = ']';
    out[o] = 0;
    *len = o;
    return out;
}

/* ---- apply ----------------------------------------------------------------------------- */

uint64_t ot_op_input_len(const ot_op_t *op)
{
    uint64_t n = 0;
    for (size_t i = 0; i < op->n; i++)
        if (op->c[i].kind != OT_INSERT) n += op->c[i].n;
    return n;
}

int ot_op_check(const ot_op_t *op, size_t doc_cp)
{
    return ot_op_input_len(op) <= doc_cp ? 0 : OT_EPAST_END;
}

size_t ot_op_output_len(const ot_op_t *op, size_t doc_cp)
{
    size_t n = doc_cp;
    for (size_t i = 0; i < op->n; i++) {
        if (op->c[i].kind == OT_INSERT) n += op->c[i].n;
        else if (op->c[i].kind == OT_DELETE) n -= op->c[i].n;
    }
    return n;
}

static void buf_reserve(ot_buf_t *buf, size_t want)
{
    if (want <= buf->cap) return;
    size_t cap = buf->cap ? buf->cap * 2 : 64;
    while (cap < want) cap *= 2;
    buf->s = ch_realloc(buf->s, cap);
    buf->cap = cap;
}

void ot_buf_init(ot_buf_t *buf)
{
    memset(buf, 0, sizeof *buf);
}

void ot_buf_free(ot_buf_t *buf)
{
    free(buf->s);
    ot_buf_init(buf);
}

int ot_buf_set(ot_buf_t *buf, const char *s, size_t len)
{
    if (!utf8_valid((const uint8_t *)s, len)) return OT_EINVALID;
    buf_reserve(buf, len + 1);
    if (len) memmove(buf->s, s, len);
    buf->s[len] = '\0';
    buf->len = len;
    buf->cp = ot_utf8_count(buf->s, len);
    return 0;
}

void ot_buf_swap(ot_buf_t *a, ot_buf_t *b)
{
    ot_buf_t t = *a;
    *a = *b;
    *b = t;
}

int ot_apply(ot_buf_t *out, const char *doc, size_t doc_len, size_t doc_cp,
             const ot_op_t *op)
{
    if (ot_op_check(op, doc_cp)) return OT_EPAST_END;
    CH_ASSERT(doc_cp <= doc_len);
    /* Deletes only shrink, so this bounds the result; no growth inside the loop. */
    buf_reserve(out, doc_len + op->text_len + 1);
    uintptr_t o = (uintptr_t)out->s, d = (uintptr_t)doc;
    CH_ASSERT(o + out->cap <= d || d + doc_len <= o || doc_len == 0); /* no overlap */
    /* An ASCII document (as many bytes as code points) maps positions to bytes 1:1. */
    int ascii = doc_cp == doc_len;
    size_t pos = 0, w = 0, cp = doc_cp;
    for (size_t i = 0; i < op->n; i++) {
        const ot_comp_t *c = &op->c[i];
        if (c->kind == OT_INSERT) {
            memcpy(out->s + w, op->text + c->off, c->len);
            w += c->len;
            cp += c->n;
            continue;
        }
        size_t adv = ascii ? (size_t)c->n : ot_utf8_offset(doc + pos, doc_len - pos, c->n);
        CH_ASSERT(adv != (size_t)-1 && adv <= doc_len - pos); /* doc_cp was wrong */
        if (c->kind == OT_SKIP) {
            memcpy(out->s + w, doc + pos, adv);
            w += adv;
        } else {
            cp -= c->n;
        }
        pos += adv;
    }
    memcpy(out->s + w, doc + pos, doc_len - pos);
    w += doc_len - pos;
    out->s[w] = '\0';
    out->len = w;
    out->cp = cp;
    return 0;
}

/* ---- transform and compose: ot-text-unicode's makeTake / makeAppend ------------------- */

/* A piece taken from the front of an op: a (part of a) component. */
typedef struct {
    ot_kind_t kind;
    uint64_t n;
    const char *s; /* insert bytes */
    size_t len;
} piece_t;

typedef struct {
    const ot_op_t *op;
    size_t idx;    /* next component */
    uint64_t off;  /* code points already taken from it */
    size_t boff;   /* bytes already taken from it (inserts) */
} iter_t;

enum { WHOLE_NONE, WHOLE_INSERT, WHOLE_DELETE };

/* take(n, indivisible): up to n code points of the next component; an insert (whole =
 * WHOLE_INSERT) or a delete (WHOLE_DELETE) is never split. Past the end the op skips
 * forever. */
static inline piece_t take(iter_t *it, uint64_t n, int whole)
{
    if (it->idx == it->op->n) return (piece_t){OT_SKIP, n, NULL, 0};
    const ot_comp_t *c = &it->op->c[it->idx];
    uint64_t left = c->n - it->off;
    piece_t p = {c->kind, left, NULL, 0};
    if (left <= n || (whole == WHOLE_INSERT && c->kind == OT_INSERT) ||
        (whole == WHOLE_DELETE && c->kind == OT_DELETE)) {
        if (c->kind == OT_INSERT) {
            p.s = it->op->text + c->off + it->boff;
            p.len = c->len - it->boff;
        }
        it->idx++;
        it->off = 0;
        it->boff = 0;
        return p;
    }
    p.n = n;
    if (c->kind == OT_INSERT) {
        p.s = it->op->text + c->off + it->boff;
        p.len = ot_utf8_offset(p.s, c->len - it->boff, (size_t)n);
        it->boff += p.len;
    }
    it->off += n;
    return p;
}

/* take(-1): the rest of the next component; returns 0 at the end of the op. */
static inline int take_all(iter_t *it, piece_t *p)
{
    if (it->idx == it->op->n) return 0;
    *p = take(it, UINT64_MAX, WHOLE_NONE);
    return 1;
}

static inline void append(ot_op_t *out, const piece_t *p)
{
    if (p->kind == OT_INSERT) push_ins(out, p->s, p->len, p->n);
    else push_len(out, p->kind, p->n);
}

int ot_transform(ot_op_t *out, const ot_op_t *op, const ot_op_t *other, int side)
{
    CH_ASSERT(out != op && out != other);
    ot_op_clear(out);
    if (side != OT_LEFT && side != OT_RIGHT) return OT_EINVALID;
    iter_t it = {op, 0, 0, 0};
    piece_t p;
    for (size_t i = 0; i < other->n; i++) {
        const ot_comp_t *c2 = &other->c[i];
        uint64_t len = c2->n;
        switch (c2->kind) {
        case OT_SKIP:
            while (len > 0) {
                p = take(&it, len, WHOLE_INSERT);
                append(out, &p);
                if (p.kind != OT_INSERT) len -= p.n;
            }
            break;
        case OT_INSERT:
            /* The left insert goes first; otherwise skip over the other's text. */
            if (side == OT_LEFT && it.idx < op->n && op->c[it.idx].kind == OT_INSERT) {
                take_all(&it, &p);
                append(out, &p);
            }
            push_len(out, OT_SKIP, c2->n);
            break;
        case OT_DELETE:
            while (len > 0) {
                p = take(&it, len, WHOLE_INSERT);
                if (p.kind == OT_INSERT) append(out, &p); /* our insert survives */
                else len -= p.n; /* skipped text or text both deleted: gone */
            }
            break;
        }
    }
    while (take_all(&it, &p)) append(out, &p);
    ot_op_trim(out);
    return 0;
}

int ot_compose(ot_op_t *out, const ot_op_t *a, const ot_op_t *b)
{
    CH_ASSERT(out != a && out != b);
    ot_op_clear(out);
    iter_t it = {a, 0, 0, 0};
    piece_t p;
    for (size_t i = 0; i < b->n; i++) {
        const ot_comp_t *c2 = &b->c[i];
        uint64_t len = c2->n, off = 0;
        switch (c2->kind) {
        case OT_SKIP:
            while (len > 0) {
                p = take(&it, len, WHOLE_DELETE);
                append(out, &p);
                if (p.kind != OT_DELETE) len -= p.n;
            }
            break;
        case OT_INSERT:
            push_ins(out, b->text + c2->off, c2->len, c2->n);
            break;
        case OT_DELETE:
            while (off < len) {
                p = take(&it, len - off, WHOLE_DELETE);
                switch (p.kind) {
                case OT_SKIP: /* deleting text a kept */
                    push_len(out, OT_DELETE, p.n);
                    off += p.n;
                    break;
                case OT_INSERT: /* deleting text a inserted: both vanish */
                    off += p.n;
                    break;
                case OT_DELETE: /* a's own delete passes through */
                    append(out, &p);
                    break;
                }
            }
            break;
        }
    }
    while (take_all(&it, &p)) append(out, &p);
    ot_op_trim(out);
    return 0;
}

/* ---- cursors --------------------------------------------------------------------------- */

size_t ot_transform_position(size_t pos, const ot_op_t *op, int is_own)
{
    uint64_t p = 0, cursor = pos;
    if (is_own) {
        /* ot-text's isOwnOp: teleport to the end of the op (it has no trailing skip). */
        for (size_t i = 0; i < op->n; i++)
            if (op->c[i].kind != OT_DELETE) p += op->c[i].n;
        return (size_t)p;
    }
    for (size_t i = 0; i < op->n && cursor > p; i++) {
        const ot_comp_t *c = &op->c[i];
        switch (c->kind) {
        case OT_SKIP: p += c->n; break;
        case OT_INSERT:
            p += c->n;
            cursor += c->n;
            break;
        case OT_DELETE: cursor -= c->n < cursor - p ? c->n : cursor - p; break;
        }
    }
    return (size_t)cursor;
}
