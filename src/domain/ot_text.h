/* ot_text.h: the ot-text-unicode (ShareDB "text-unicode") OT type: parse, apply, transform,
 * compose and cursor transform over a compact op representation. Pure logic, no I/O. */
#ifndef CHORUS_OT_TEXT_H
#define CHORUS_OT_TEXT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

/* Stable error codes (0 is success). */
#define OT_EINVALID  (-1) /* the JSON is not a valid op */
#define OT_EPAST_END (-2) /* skips and deletes run past the end of the document */
#define OT_ETOO_BIG  (-3) /* more components than allowed, or lengths beyond OT_MAX_LEN */

/* Returns a static name for an OT_E* code ("OT_EINVALID"...), "OK" for 0. */
const char *ot_strerror(int err);

/* Every skip/delete/insert length, and the sum over an op parsed from JSON, stays at or
 * below 2^53 - 1 (JavaScript's largest exact integer), so sums of a few ops never overflow. */
#define OT_MAX_LEN ((uint64_t)9007199254740991ULL)

/* Which op wins when both insert at the same position: ot-text-unicode's 'left' | 'right'. */
#define OT_LEFT  0
#define OT_RIGHT 1

typedef enum { OT_SKIP, OT_INSERT, OT_DELETE } ot_kind_t;

/* One component. Lengths count Unicode code points; an insert's UTF-8 bytes are
 * op->text[off .. off + len). Skips and deletes have off = len = 0. */
typedef struct {
    uint64_t n;
    uint32_t off, len;
    ot_kind_t kind;
} ot_comp_t;

/* A normalized op: no empty components, no two adjacent components of the same kind, no
 * trailing skip. The insert texts are stored in component order in one buffer, so an op
 * costs two allocations however many components it has, and both are reused on clear. */
typedef struct {
    ot_comp_t *c;
    size_t n, cap;
    char *text;
    size_t text_len, text_cap;
} ot_op_t;

/* A growable UTF-8 text (documents): s[0 .. len) holds cp code points, NUL-terminated
 * when s is not NULL. */
typedef struct {
    char *s;
    size_t len, cap;
    size_t cp;
} ot_buf_t;

/* Makes op the empty (no-op) op, owning nothing. */
void ot_op_init(ot_op_t *op);
/* Frees what op owns; op is then empty and may be reused or dropped. */
void ot_op_free(ot_op_t *op);
/* Empties op but keeps its buffers for reuse. */
void ot_op_clear(ot_op_t *op);
/* Makes dst a copy of src (dst's buffers are reused). dst must not be src. */
void ot_op_copy(ot_op_t *dst, const ot_op_t *src);

/* Builders (op is modified, s is borrowed and copied): append one component with ot-text-unicode's append rules (empty components are
 * dropped, a component of the same kind as the last one is merged into it). Call
 * ot_op_trim when done to drop a trailing skip. ot_op_push_insert borrows s (len bytes of
 * valid UTF-8) and returns 0, or OT_EINVALID (invalid UTF-8) / OT_ETOO_BIG (longer than
 * 4 GiB in total) leaving op unchanged. */
void ot_op_push_skip(ot_op_t *op, uint64_t n);
void ot_op_push_delete(ot_op_t *op, uint64_t n);
int ot_op_push_insert(ot_op_t *op, const char *s, size_t len);
/* Removes a trailing skip, if any. */
void ot_op_trim(ot_op_t *op);
/* Returns 1 when op is normalized (see ot_op_t) and its text offsets are consistent. */
int ot_op_is_normalized(const ot_op_t *op);

/* Parses the JSON op j (borrowed) into op (whose previous content is replaced) and
 * normalizes it. Accepts what ot-text-unicode's checkOp accepts except for non-integers
 * (skips and delete counts must be integers in 1..OT_MAX_LEN) and objects with keys other
 * than "d"; additionally accepts (and normalizes away) adjacent skips and a trailing skip.
 * Returns 0, or OT_EINVALID / OT_ETOO_BIG (more than max_components components or lengths
 * beyond OT_MAX_LEN) with *why set to a static message (why may be NULL) and op
 * unchanged. */
int ot_op_from_json(ot_op_t *op, const json_t *j, size_t max_components, const char **why);

/* Returns a new reference to op as JSON; deletes come out as {"d": N}. */
json_t *ot_op_to_json(const ot_op_t *op);

/* Returns op as the text Jansson writes for ot_op_to_json(op) (JSON_COMPACT), byte for
 * byte, without building the tree: new and NUL-terminated (the caller frees it), *len its
 * length. The doc_op event and the stored op are this one encoding. */
char *ot_op_to_text(const ot_op_t *op, size_t *len);

/* Returns 0 when op can apply to a document of doc_cp code points (its skips and deletes
 * stay within it), OT_EPAST_END otherwise. */
int ot_op_check(const ot_op_t *op, size_t doc_cp);

/* Code points the op consumes from the document (skips + deletes), and the code-point
 * length of the result when it is applied to a document of doc_cp code points (which must
 * pass ot_op_check). */
uint64_t ot_op_input_len(const ot_op_t *op);
size_t ot_op_output_len(const ot_op_t *op, size_t doc_cp);

/* Applies op to the doc_len bytes of UTF-8 at doc (borrowed), which hold exactly doc_cp
 * code points (from ot_utf8_count, or the cp of an earlier ot_apply result: an ASCII
 * document, doc_cp == doc_len, needs no scanning at all). Replaces out's content with the
 * result and sets out->cp. out->s must not overlap doc. Returns 0, or OT_EPAST_END and
 * then out is unchanged. A doc_cp that is not the document's count is a caller bug. */
int ot_apply(ot_buf_t *out, const char *doc, size_t doc_len, size_t doc_cp,
             const ot_op_t *op);

/* out = op transformed against other, both applying to the same document, so that out
 * applies after other. side OT_LEFT puts op's insert first when both insert at the same
 * place, OT_RIGHT puts it after: ot-text-unicode's transform(op, other, 'left'|'right').
 * Replaces out's content; out must be neither op nor other. Returns 0, or OT_EINVALID for a
 * bad side (out then empty). */
int ot_transform(ot_op_t *out, const ot_op_t *op, const ot_op_t *other, int side);

/* out = a then b (b applies to the result of a): ot-text-unicode's compose(a, b).
 * Replaces out's content; out must be neither a nor b. Returns 0. */
int ot_compose(ot_op_t *out, const ot_op_t *a, const ot_op_t *b);

/* Returns the code-point position pos moved through op. is_own = 0 is exactly
 * ot-text-unicode's transformPosition (an insert at the cursor stays after it: the cursor
 * does not move). is_own = 1 is for the op's own author and follows the legacy ot-text
 * transformSelection(sel, op, isOwnOp = true): the cursor lands at the end of the op's last
 * component, i.e. just after the author's last insert (or at the last delete). */
size_t ot_transform_position(size_t pos, const ot_op_t *op, int is_own);

/* Makes buf empty, owning nothing. */
void ot_buf_init(ot_buf_t *buf);
/* Frees what buf owns; buf is then empty. */
void ot_buf_free(ot_buf_t *buf);
/* Replaces buf's content with a copy of the len bytes at s (borrowed), which must be valid
 * UTF-8: returns 0, or OT_EINVALID and changes nothing. */
int ot_buf_set(ot_buf_t *buf, const char *s, size_t len);
/* Exchanges the contents of a and b (a document and its scratch buffer, after ot_apply). */
void ot_buf_swap(ot_buf_t *a, ot_buf_t *b);

/* Returns the number of code points in the len bytes of UTF-8 at s (borrowed): it counts
 * the bytes that are not continuation bytes, so s must be valid UTF-8 for a meaningful
 * answer. ASCII and mixed text go 16 bytes at a time (SSE2, or 8-byte words elsewhere). */
size_t ot_utf8_count(const char *s, size_t len);
/* Returns the byte offset of code point k (0-based) in the len bytes at s (borrowed), len
 * when the text has exactly k code points, or (size_t)-1 when it has fewer. */
size_t ot_utf8_offset(const char *s, size_t len, size_t k);

#endif
