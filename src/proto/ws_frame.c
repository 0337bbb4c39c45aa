/* ws_frame.c: RFC 6455 frame parser (pure, incremental, zero-copy when it can) and encoder. */
#include "proto/ws_frame.h"

#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

/* p->state. Zero is "expecting a header", so a zeroed parser starts in the right place. */
enum { ST_HEADER = 0, ST_PAYLOAD = 1 };

/* Opcodes 0x8..0xF are control frames (RFC 6455 section 5.5). */
#define WS_OP_CONTROL_BIT 0x8

/* 64 KiB: buffers up to this size serve ordinary messages without reallocating; a bigger
 * one held a rare large message and is given back once delivered, so idle connections
 * do not pin memory. */
#define WS_SHRINK_ABOVE (64 * 1024)

/* First allocation for an assembled message: most chat/OT messages fit without a regrow. */
#define WS_MSG_MIN_CAP 1024

void ws_parser_init(ws_parser_t *p, size_t max_message, int server)
{
    memset(p, 0, sizeof(*p));
    p->max_message = max_message;
    p->server = server != 0;
    utf8_init(&p->utf8);
}

void ws_parser_free(ws_parser_t *p)
{
    free(p->msg);
    p->msg = NULL;
    p->msg_len = 0;
    p->msg_cap = 0;
}

int ws_parser_at_rest(const ws_parser_t *p)
{
    return p->state == ST_HEADER && p->hdr_len == 0 && !p->msg_opcode && !p->error;
}

/* XORs n bytes of src with the mask into dst (dst may equal src). phase is the payload
 * offset of src[0] modulo 4. Eight bytes per step with the mask widened to 64 bits;
 * memcpy keeps unaligned loads and stores legal and compiles to plain moves. */
static void unmask(uint8_t *dst, const uint8_t *src, size_t n, const uint8_t mask[4],
                   size_t phase)
{
    uint8_t m8[8];
    uint64_t m;
    size_t i;

    for (i = 0; i < 8; i++)
        m8[i] = mask[(phase + i) & 3];
    memcpy(&m, m8, 8);
    for (i = 0; n - i >= 8; i += 8) {
        uint64_t w;
        memcpy(&w, src + i, 8);
        w ^= m;
        memcpy(dst + i, &w, 8);
    }
    for (; i < n; i++)
        dst[i] = src[i] ^ m8[i & 7];
}

/* Copies n payload bytes from src to dst, unmasking when the frame is masked. */
static void copy_payload(const ws_parser_t *p, uint8_t *dst, const uint8_t *src, size_t n)
{
    if (p->masked)
        unmask(dst, src, n, p->mask, (size_t)(p->payload_got & 3));
    else
        memcpy(dst, src, n);
}

/* Number of extended-length bytes announced by the second header byte. */
static size_t ext_len_size(uint8_t b1)
{
    uint8_t len7 = b1 & 0x7F;
    return len7 == 126 ? 2 : len7 == 127 ? 8 : 0;
}

/* Checks the first two header bytes, which already settle most protocol errors: failing
 * here means a bad frame is refused before its extended length, mask or payload. */
static int check_base(ws_parser_t *p)
{
    uint8_t b0 = p->hdr[0], b1 = p->hdr[1];

    p->fin = b0 >> 7;
    p->opcode = b0 & 0x0F;
    p->masked = b1 >> 7;
    if (b0 & 0x70) return -WS_CLOSE_PROTOCOL; /* RSV1-3: no extension was negotiated */
    if (p->masked != p->server) return -WS_CLOSE_PROTOCOL; /* section 5.1 */

    switch (p->opcode) {
    case WS_OP_CONT:
        if (!p->msg_opcode) return -WS_CLOSE_PROTOCOL;
        break;
    case WS_OP_TEXT:
    case WS_OP_BINARY:
        if (p->msg_opcode) return -WS_CLOSE_PROTOCOL; /* fragments must not interleave */
        break;
    case WS_OP_CLOSE:
    case WS_OP_PING:
    case WS_OP_PONG:
        if (!p->fin) return -WS_CLOSE_PROTOCOL; /* control frames are never fragmented */
        break;
    default:
        return -WS_CLOSE_PROTOCOL; /* reserved opcodes 3-7, B-F */
    }
    return 0;
}

/* Decodes the payload length once its bytes are in p->hdr and checks it (control frame
 * limits, max_message) before the mask key or any payload arrives. */
static int check_length(ws_parser_t *p)
{
    size_t ext = ext_len_size(p->hdr[1]);
    uint64_t n = p->hdr[1] & 0x7F;

    if (ext) {
        n = 0;
        for (size_t i = 0; i < ext; i++)
            n = (n << 8) | p->hdr[2 + i];
        if (n >> 63) return -WS_CLOSE_PROTOCOL; /* section 5.2: MSB must be 0 */
    }
    p->payload_len = n;
    if (p->opcode & WS_OP_CONTROL_BIT) {
        /* Checked on the decoded length: a non-minimal 16/64-bit encoding of a small
         * length is legal (section 5.2 only asks senders for the minimal form). */
        if (n > WS_MAX_CONTROL) return -WS_CLOSE_PROTOCOL;
        /* A close body is empty or starts with a 2-byte code (section 5.5.1). */
        if (p->opcode == WS_OP_CLOSE && n == 1) return -WS_CLOSE_PROTOCOL;
    } else {
        /* A new message starts from zero; msg_len may still hold the last delivered one.
         * msg_len <= max_message always holds, so the subtractions cannot wrap. */
        size_t base = p->opcode == WS_OP_CONT ? p->msg_len : 0;
        if (n > SIZE_MAX - base) return -WS_CLOSE_TOO_BIG;
        if (p->max_message && n > p->max_message - base) return -WS_CLOSE_TOO_BIG;
    }
    return 0;
}

/* Consumes header bytes from data[*off..len). Returns 1 when the header is complete,
 * 0 when all input went into a partial header, or a negative close code. Bytes are
 * copied one at a time so the header may be split anywhere; it is at most 14 bytes. */
static int parse_header(ws_parser_t *p, const uint8_t *data, size_t len, size_t *off)
{
    int rc;

    while (*off < len) {
        p->hdr[p->hdr_len++] = data[(*off)++];
        if (p->hdr_len < 2) continue;
        if (p->hdr_len == 2 && (rc = check_base(p)) != 0) return rc;
        size_t len_end = 2 + ext_len_size(p->hdr[1]);
        if (p->hdr_len == len_end && (rc = check_length(p)) != 0) return rc;
        if (p->hdr_len == len_end + (p->masked ? 4 : 0)) {
            if (p->masked) memcpy(p->mask, p->hdr + len_end, 4);
            p->hdr_len = 0;
            return 1;
        }
    }
    return 0;
}

/* Makes room for extra more message bytes: geometric growth so a message arriving in
 * many small reads costs O(n) copies, capped by max_message and, on the final fragment,
 * by the now-known message size so the last step does not overshoot. */
static void msg_reserve(ws_parser_t *p, size_t extra)
{
    size_t need = p->msg_len + extra;
    size_t cap = p->msg_cap ? p->msg_cap : WS_MSG_MIN_CAP;

    if (need <= p->msg_cap) return;
    while (cap < need)
        cap = cap > SIZE_MAX / 2 ? need : cap * 2;
    if (p->max_message && cap > p->max_message) cap = p->max_message;
    if (p->fin) {
        size_t final = p->msg_len + (size_t)(p->payload_len - p->payload_got);
        if (cap > final) cap = final;
    }
    CH_ASSERT(cap >= need);
    p->msg = ch_realloc(p->msg, cap);
    p->msg_cap = cap;
}

static int finish_control(ws_parser_t *p, ws_event_t *ev)
{
    ev->data = p->ctl;
    ev->len = p->ctl_len;
    ev->close_code = 0;
    switch (p->opcode) {
    case WS_OP_PING:
        ev->type = WS_EV_PING;
        return 1;
    case WS_OP_PONG:
        ev->type = WS_EV_PONG;
        return 1;
    default:
        break;
    }
    ev->type = WS_EV_CLOSE;
    if (p->ctl_len == 0) {
        ev->close_code = WS_CLOSE_NO_STATUS;
        return 1;
    }
    /* check_base refused a 1-byte body, so the code is there. */
    uint16_t code = (uint16_t)(p->ctl[0] << 8 | p->ctl[1]);
    if (!ws_close_code_valid(code)) return -WS_CLOSE_PROTOCOL;
    if (!utf8_valid(p->ctl + 2, p->ctl_len - 2)) return -WS_CLOSE_BAD_DATA;
    ev->close_code = code;
    ev->data = p->ctl + 2;
    ev->len = p->ctl_len - 2;
    return 1;
}

static int finish_data(ws_parser_t *p, ws_event_t *ev)
{
    if (!p->fin) return 0;
    if (p->msg_opcode == WS_OP_TEXT && !utf8_complete(&p->utf8)) return -WS_CLOSE_BAD_DATA;
    ev->type = p->msg_opcode == WS_OP_TEXT ? WS_EV_TEXT : WS_EV_BINARY;
    /* An empty message may have no buffer; hand out a valid pointer anyway so callers
     * can memcpy from it without a NULL check. */
    ev->data = p->msg ? p->msg : p->ctl;
    ev->len = p->msg_len;
    ev->close_code = 0;
    p->msg_opcode = 0;
    return 1;
}

/* Called when the current frame's payload is complete. Returns 1 with an event, 0 when
 * the frame was a non-final fragment, or a negative close code. */
static int finish_frame(ws_parser_t *p, ws_event_t *ev)
{
    p->state = ST_HEADER;
    if (p->opcode & WS_OP_CONTROL_BIT) return finish_control(p, ev);
    return finish_data(p, ev);
}

/* Zero-copy path for an unfragmented message whose payload is all in the caller's input:
 * unmask it where it lies and point the event at it. */
static int deliver_in_place(ws_parser_t *p, uint8_t *payload, size_t *off, ws_event_t *ev)
{
    size_t n = (size_t)p->payload_len;

    if (p->masked) unmask(payload, payload, n, p->mask, 0);
    *off += n;
    p->state = ST_HEADER;
    if (p->opcode == WS_OP_TEXT && !utf8_valid(payload, n)) return -WS_CLOSE_BAD_DATA;
    ev->type = p->opcode == WS_OP_TEXT ? WS_EV_TEXT : WS_EV_BINARY;
    ev->data = payload;
    ev->len = n;
    ev->close_code = 0;
    return 1;
}

/* Sets up for the payload of the header just parsed. Returns like finish_frame. */
static int begin_payload(ws_parser_t *p, uint8_t *data, size_t len, size_t *off, ws_event_t *ev)
{
    p->payload_got = 0;
    p->state = ST_PAYLOAD;
    if (p->opcode & WS_OP_CONTROL_BIT) {
        p->ctl_len = 0;
    } else if (p->opcode != WS_OP_CONT) {
        if (p->fin && p->payload_len <= len - *off)
            return deliver_in_place(p, data + *off, off, ev);
        p->msg_opcode = p->opcode;
        p->msg_len = 0;
        utf8_init(&p->utf8);
    }
    if (p->payload_len == 0) return finish_frame(p, ev);
    return 0;
}

/* Consumes payload bytes of the current frame from data[*off..len). Returns like
 * finish_frame. Text is validated as each chunk arrives, so an impossible byte is
 * refused without waiting for the rest of the frame. */
static int read_payload(ws_parser_t *p, const uint8_t *data, size_t len, size_t *off,
                        ws_event_t *ev)
{
    uint64_t left = p->payload_len - p->payload_got;
    size_t n = len - *off;

    if (n > left) n = (size_t)left;
    if (p->opcode & WS_OP_CONTROL_BIT) {
        copy_payload(p, p->ctl + p->ctl_len, data + *off, n);
        p->ctl_len += n;
    } else {
        msg_reserve(p, n);
        uint8_t *dst = p->msg + p->msg_len;
        copy_payload(p, dst, data + *off, n);
        p->msg_len += n;
        if (p->msg_opcode == WS_OP_TEXT && utf8_feed(&p->utf8, dst, n) < 0) {
            *off += n;
            return -WS_CLOSE_BAD_DATA;
        }
    }
    *off += n;
    p->payload_got += n;
    if (p->payload_got < p->payload_len) return 0;
    return finish_frame(p, ev);
}

int ws_parser_feed(ws_parser_t *p, uint8_t *data, size_t len, size_t *consumed, ws_event_t *ev)
{
    size_t off = 0;
    int rc = 0;

    *consumed = 0;
    if (p->error) return p->error;
    /* The previous event's data may live in p->msg and had to stay valid until now. */
    if (!p->msg_opcode && p->msg_cap > WS_SHRINK_ABOVE) ws_parser_free(p);

    while (rc == 0 && off < len) {
        if (p->state == ST_HEADER) {
            rc = parse_header(p, data, len, &off);
            if (rc == 1) rc = begin_payload(p, data, len, &off, ev);
        } else {
            rc = read_payload(p, data, len, &off, ev);
        }
    }
    *consumed = off;
    if (rc < 0) p->error = rc;
    return rc;
}

size_t ws_frame_header(uint8_t out[WS_MAX_HEADER], int opcode, uint64_t len)
{
    out[0] = (uint8_t)(0x80 | (opcode & 0x0F));
    if (len < 126) {
        out[1] = (uint8_t)len;
        return 2;
    }
    if (len <= 0xFFFF) {
        out[1] = 126;
        out[2] = (uint8_t)(len >> 8);
        out[3] = (uint8_t)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (uint8_t)(len >> (56 - 8 * i));
    return 10;
}

size_t ws_close_payload(uint8_t out[WS_MAX_CONTROL], uint16_t code, const char *reason)
{
    /* 123: a control payload is 125 bytes, two of which are the code. */
    const size_t max_reason = WS_MAX_CONTROL - 2;
    size_t n = reason ? strlen(reason) : 0;

    out[0] = (uint8_t)(code >> 8);
    out[1] = (uint8_t)code;
    if (n > max_reason) {
        /* Back up to a lead byte so the cut does not leave half a character, which
         * the peer would have to reject with 1007. */
        n = max_reason;
        while (n > 0 && ((uint8_t)reason[n] & 0xC0) == 0x80)
            n--;
    }
    if (n) memcpy(out + 2, reason, n);
    return 2 + n;
}

int ws_close_code_valid(unsigned code)
{
    /* 1004 is reserved, 1005/1006/1015 must never be sent, 1016-2999 are unassigned,
     * 3000-4999 are for libraries and applications (RFC 6455 section 7.4). */
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}
