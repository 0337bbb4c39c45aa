/* bus_wire.c: the cluster bus's messages as bytes (bus_wire.h). */
#include "bus/bus_wire.h"

#include <string.h>

#include "util/mem.h"

/* ---------- writing ---------- */

static void put_u8(cbuf_t **b, uint8_t v)
{
    cbuf_append(b, &v, 1);
}

static void put_u64(cbuf_t **b, uint64_t v)
{
    uint8_t x[8];
    for (int i = 0; i < 8; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    cbuf_append(b, x, 8);
}

static void put_u32(cbuf_t **b, uint32_t v)
{
    uint8_t x[4];
    for (int i = 0; i < 4; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    cbuf_append(b, x, 4);
}

static void put_strn(cbuf_t **b, const char *s, size_t n)
{
    if (!s) {
        put_u32(b, BUS_WIRE_NULL);
        return;
    }
    CH_ASSERT(n < BUS_WIRE_NULL);
    put_u32(b, (uint32_t)n);
    cbuf_append(b, s, n);
    put_u8(b, 0);
}

static void put_str(cbuf_t **b, const char *s)
{
    put_strn(b, s, s ? strlen(s) : 0);
}

static int dump_cb(const char *chunk, size_t size, void *data)
{
    cbuf_append((cbuf_t **)data, chunk, size);
    return 0;
}

/* Writes v's compact encoding as a string field: the length is patched in afterwards. */
static void put_json(cbuf_t **b, const json_t *v)
{
    size_t at = (*b)->len;
    put_u32(b, 0);
    int rc = json_dump_callback(v, dump_cb, b, JSON_COMPACT | JSON_ENCODE_ANY);
    CH_ASSERT(rc == 0); /* only values a node built reach here */
    size_t n = (*b)->len - at - 4;
    CH_ASSERT(n < BUS_WIRE_NULL);
    for (int i = 0; i < 4; i++)
        (*b)->data[(*b)->off + at + i] = (uint8_t)(n >> (8 * i));
    put_u8(b, 0);
}

static int key_plain(const char *k, size_t n)
{
    if (n == 0 || n > BUS_WIRE_KEY_MAX || (k[0] >= '0' && k[0] <= '9')) return 0;
    for (size_t i = 0; i < n; i++) {
        char c = k[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_'))
            return 0;
    }
    return 1;
}

/* How many (key, text) pairs parts make; -1 when a key is not plain. */
static long pair_count(const jpart_t *parts, size_t nparts)
{
    long n = 0;
    for (size_t i = 0; i < nparts; i++) {
        if (parts[i].obj) {
            const char *k;
            const json_t *v;
            json_object_foreach((json_t *)parts[i].obj, k, v)
            {
                (void)v;
                if (!key_plain(k, strlen(k))) return -1;
                n++;
            }
        } else {
            if (!key_plain(parts[i].key, strlen(parts[i].key))) return -1;
            n++;
        }
    }
    return n;
}

/* Writes parts as their count and (key, text) pairs. Returns 0 or BUS_WIRE_ETOOMANY. */
static int put_parts(cbuf_t **b, const jpart_t *parts, size_t nparts)
{
    long n = pair_count(parts, nparts);
    if (n < 0 || n > BUS_WIRE_MAX_PARTS) return BUS_WIRE_ETOOMANY;
    put_u8(b, (uint8_t)n);
    for (size_t i = 0; i < nparts; i++) {
        const jpart_t *p = &parts[i];
        if (p->obj) {
            const char *k;
            const json_t *v;
            json_object_foreach((json_t *)p->obj, k, v)
            {
                put_str(b, k);
                put_json(b, v);
            }
        } else if (p->text) {
            put_str(b, p->key);
            put_strn(b, p->text, p->len ? p->len : strlen(p->text));
        } else {
            put_str(b, p->key);
            size_t len = 2;
            for (size_t j = 0; j < p->n; j++)
                len += strlen(p->items[j]) + (j ? 1 : 0);
            CH_ASSERT(len < BUS_WIRE_NULL);
            put_u32(b, (uint32_t)len);
            cbuf_append(b, "[", 1);
            for (size_t j = 0; j < p->n; j++) {
                if (j) cbuf_append(b, ",", 1);
                cbuf_append(b, p->items[j], strlen(p->items[j]));
            }
            cbuf_append(b, "]", 1);
            put_u8(b, 0);
        }
    }
    return 0;
}

static cbuf_t *start(char kind)
{
    cbuf_t *b = cbuf_new(256);
    put_u8(&b, (uint8_t)kind);
    put_u8(&b, BUS_WIRE_VERSION);
    return b;
}

int bus_wire_event_write(const bus_event_t *ev, cbuf_t **out)
{
    cbuf_t *b = start('E');
    put_str(&b, ev->room);
    put_str(&b, ev->doc);
    put_str(&b, ev->name);
    put_str(&b, ev->except_user);
    put_str(&b, ev->to_user);
    put_u64(&b, (uint64_t)ev->seq);
    put_u64(&b, (uint64_t)ev->version);
    put_u64(&b, ev->except);
    put_u64(&b, ev->to);
    /* Flags: 1 unsubscribe, 2 watchers. */
    put_u8(&b, (uint8_t)((ev->unsubscribe ? 1 : 0) | (ev->watchers ? 2 : 0)));
    if (put_parts(&b, ev->parts, ev->nparts) != 0) {
        cbuf_unref(b);
        *out = NULL;
        return BUS_WIRE_ETOOMANY;
    }
    *out = b;
    return 0;
}

int bus_wire_op_write(const bus_op_t *op, uint32_t node, uint64_t request, cbuf_t **out)
{
    cbuf_t *b = start('O');
    put_str(&b, op->room);
    put_str(&b, op->name);
    put_str(&b, op->user);
    if (op->args) {
        put_u8(&b, BUS_WIRE_ARGS_TREE);
        put_json(&b, op->args);
    } else if (op->scan) {
        put_u8(&b, BUS_WIRE_ARGS_SCAN);
        put_strn(&b, op->scan->buf, op->scan->len);
    } else {
        put_u8(&b, BUS_WIRE_ARGS_NONE);
        put_str(&b, NULL);
    }
    put_u64(&b, op->route.member);
    put_u64(&b, (uint64_t)op->route.ref);
    put_u32(&b, node);
    put_u64(&b, request);
    *out = b;
    return 0;
}

int bus_wire_reply_write(uint64_t request, const char *code, const char *message,
                         const json_t *data, cbuf_t **out)
{
    cbuf_t *b = start('R');
    put_u64(&b, request);
    put_u8(&b, 0);
    put_str(&b, code);
    put_str(&b, code ? message : NULL);
    if (data)
        put_json(&b, data);
    else
        put_str(&b, NULL);
    *out = b;
    return 0;
}

int bus_wire_reply_parts_write(uint64_t request, const jpart_t *parts, size_t nparts,
                               cbuf_t **out)
{
    cbuf_t *b = start('R');
    put_u64(&b, request);
    put_u8(&b, 1);
    if (put_parts(&b, parts, nparts) != 0) {
        cbuf_unref(b);
        *out = NULL;
        return BUS_WIRE_ETOOMANY;
    }
    *out = b;
    return 0;
}

/* ---------- reading ---------- */

typedef struct {
    const uint8_t *p;
    size_t len, at;
    int bad;
} rd_t;

static uint8_t get_u8(rd_t *r)
{
    if (r->bad || r->len - r->at < 1) {
        r->bad = 1;
        return 0;
    }
    return r->p[r->at++];
}

static uint64_t get_uint(rd_t *r, int n)
{
    if (r->bad || r->len - r->at < (size_t)n) {
        r->bad = 1;
        return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)r->p[r->at + (size_t)i] << (8 * i);
    r->at += (size_t)n;
    return v;
}

/* A string field: NULL when absent (or on error: r->bad tells). */
static const char *get_strn(rd_t *r, size_t *lenp)
{
    uint32_t n = (uint32_t)get_uint(r, 4);
    *lenp = 0;
    if (r->bad || n == BUS_WIRE_NULL) return NULL;
    if (r->len - r->at < (size_t)n + 1 || r->p[r->at + n] != 0 ||
        memchr(r->p + r->at, 0, n) != NULL) {
        r->bad = 1;
        return NULL;
    }
    const char *s = (const char *)r->p + r->at;
    r->at += (size_t)n + 1;
    *lenp = n;
    return s;
}

static const char *get_str(rd_t *r)
{
    size_t n;
    return get_strn(r, &n);
}

static void get_parts(rd_t *r, jpart_t *parts, size_t *nparts)
{
    uint8_t n = get_u8(r);
    *nparts = 0;
    if (r->bad) return;
    if (n > BUS_WIRE_MAX_PARTS) {
        r->bad = 1;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        size_t klen, tlen;
        const char *k = get_strn(r, &klen);
        const char *t = get_strn(r, &tlen);
        if (r->bad || !k || !t || !key_plain(k, klen) || tlen == 0) {
            r->bad = 1;
            return;
        }
        parts[i] = (jpart_t){.key = k, .text = t, .len = tlen};
    }
    *nparts = n;
}

static int head(rd_t *r, const void *p, size_t len, char kind)
{
    *r = (rd_t){.p = p, .len = len};
    return get_u8(r) == (uint8_t)kind && get_u8(r) == BUS_WIRE_VERSION ? 0 : -1;
}

static int finish(const rd_t *r)
{
    return r->bad || r->at != r->len ? BUS_WIRE_EBAD : 0;
}

int bus_wire_kind(const void *p, size_t len)
{
    const uint8_t *b = p;
    if (len < 2 || b[1] != BUS_WIRE_VERSION) return 0;
    return b[0] == 'E' || b[0] == 'O' || b[0] == 'R' ? b[0] : 0;
}

int bus_wire_event_read(const void *p, size_t len, bus_wire_event_t *out)
{
    rd_t r;
    if (head(&r, p, len, 'E') != 0) return BUS_WIRE_EBAD;
    out->room = get_str(&r);
    out->doc = get_str(&r);
    out->name = get_str(&r);
    out->except_user = get_str(&r);
    out->to_user = get_str(&r);
    out->seq = (int64_t)get_uint(&r, 8);
    out->version = (int64_t)get_uint(&r, 8);
    out->except = get_uint(&r, 8);
    out->to = get_uint(&r, 8);
    uint8_t flags = get_u8(&r);
    out->unsubscribe = (flags & 1) != 0;
    out->watchers = (flags & 2) != 0;
    if (flags > 3 || (!r.bad && !out->room)) r.bad = 1;
    get_parts(&r, out->parts, &out->nparts);
    return finish(&r);
}

int bus_wire_op_read(const void *p, size_t len, bus_wire_op_t *out)
{
    rd_t r;
    if (head(&r, p, len, 'O') != 0) return BUS_WIRE_EBAD;
    out->room = get_str(&r);
    out->name = get_str(&r);
    out->user = get_str(&r);
    uint8_t kind = get_u8(&r);
    out->args = get_strn(&r, &out->args_len);
    out->args_kind = (bus_wire_args_t)kind;
    out->member = get_uint(&r, 8);
    out->ref = (int64_t)get_uint(&r, 8);
    out->node = (uint32_t)get_uint(&r, 4);
    out->request = get_uint(&r, 8);
    if (r.bad) return BUS_WIRE_EBAD;
    if (!out->room || !out->name || !out->user || kind > BUS_WIRE_ARGS_SCAN ||
        (kind == BUS_WIRE_ARGS_NONE) != (out->args == NULL) || out->node > BUS_NODE_MAX)
        return BUS_WIRE_EBAD;
    return finish(&r);
}

int bus_wire_reply_read(const void *p, size_t len, bus_wire_reply_t *out)
{
    rd_t r;
    if (head(&r, p, len, 'R') != 0) return BUS_WIRE_EBAD;
    out->request = get_uint(&r, 8);
    uint8_t is_parts = get_u8(&r);
    out->is_parts = is_parts == 1;
    out->code = out->message = out->data = NULL;
    out->data_len = 0;
    out->nparts = 0;
    if (r.bad || is_parts > 1) return BUS_WIRE_EBAD;
    if (is_parts) {
        get_parts(&r, out->parts, &out->nparts);
        return finish(&r);
    }
    out->code = get_str(&r);
    out->message = get_str(&r);
    out->data = get_strn(&r, &out->data_len);
    if (r.bad || (out->code && !out->message) || (!out->code && out->message) ||
        (out->data && out->data_len == 0))
        return BUS_WIRE_EBAD;
    return finish(&r);
}
