/* eio_packet.c: Engine.IO 4 packet and polling payload decoding. */
#include "proto/eio_packet.h"

#include <string.h>

#include "util/mem.h"

/* 1 when s[0..n) is standard base64 with its padding (what a "b" record carries). */
static int base64_valid(const char *s, size_t n)
{
    if (n % 4) return 0;
    size_t pad = 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (ch == '=') {
            if (i + 2 < n) return 0; /* padding only in the last two places */
            pad++;
            continue;
        }
        if (pad) return 0;
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
              (ch >= '0' && ch <= '9') || ch == '+' || ch == '/'))
            return 0;
    }
    return 1;
}

int eio_decode(const char *buf, size_t len, eio_packet_t *out)
{
    memset(out, 0, sizeof(*out));
    if (len == 0) return EIO_EBAD;
    if (buf[0] == 'b') {
        if (!base64_valid(buf + 1, len - 1)) return EIO_EBAD;
        out->type = EIO_MESSAGE;
        out->binary = 1;
        out->data = buf + 1;
        out->len = len - 1;
        return 0;
    }
    if (buf[0] < '0' || buf[0] > '6') return EIO_EBAD;
    out->type = (eio_type_t)(buf[0] - '0');
    out->data = buf + 1;
    out->len = len - 1;
    return 0;
}

int eio_payload_next(const char *buf, size_t len, size_t *off, eio_packet_t *out)
{
    if (*off > len) return EIO_EBAD;
    if (*off == len) return 0;
    const char *start = buf + *off;
    size_t rest = len - *off;
    const char *sep = memchr(start, EIO_SEPARATOR, rest);
    size_t n = sep ? (size_t)(sep - start) : rest;
    /* A separator at the very end would announce a packet that is not there. */
    if (sep && n + 1 == rest) return EIO_EBAD;
    if (eio_decode(start, n, out) != 0) return EIO_EBAD;
    *off += n + (sep ? 1 : 0);
    return 1;
}

size_t eio_frame_payload(const cbuf_t *f, size_t *start)
{
    const uint8_t *p = f->data + f->off;
    CH_ASSERT(f->len >= 2);
    size_t h = 2;
    uint8_t l7 = p[1] & 0x7f;
    if (l7 == 126)
        h = 4;
    else if (l7 == 127)
        h = 10;
    CH_ASSERT(f->len >= h);
    *start = f->off + h;
    return f->len - h;
}
