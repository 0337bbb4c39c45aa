/* ws_frame.h: RFC 6455 frame parser (pure, incremental) and frame encoder. */
#ifndef CHORUS_WS_FRAME_H
#define CHORUS_WS_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "util/utf8.h"

enum {
    WS_OP_CONT = 0x0,
    WS_OP_TEXT = 0x1,
    WS_OP_BINARY = 0x2,
    WS_OP_CLOSE = 0x8,
    WS_OP_PING = 0x9,
    WS_OP_PONG = 0xA,
};

/* Close codes used by Chorus (RFC 6455 section 7.4.1). */
enum {
    WS_CLOSE_NORMAL = 1000,
    WS_CLOSE_GOING_AWAY = 1001,
    WS_CLOSE_PROTOCOL = 1002,
    WS_CLOSE_UNSUPPORTED = 1003,
    WS_CLOSE_NO_STATUS = 1005, /* never on the wire: "the close frame had no code" */
    WS_CLOSE_ABNORMAL = 1006,  /* never on the wire */
    WS_CLOSE_BAD_DATA = 1007,
    WS_CLOSE_POLICY = 1008,
    WS_CLOSE_TOO_BIG = 1009,
    WS_CLOSE_INTERNAL = 1011,
};

/* Largest frame header: 2 + 8 (64-bit length) + 4 (mask). */
#define WS_MAX_HEADER 14
/* Control frame payloads are at most 125 bytes (RFC 6455 section 5.5). */
#define WS_MAX_CONTROL 125

typedef enum {
    WS_EV_TEXT,   /* a complete text message, valid UTF-8 */
    WS_EV_BINARY, /* a complete binary message */
    WS_EV_PING,
    WS_EV_PONG,
    WS_EV_CLOSE,  /* close_code and the reason in data/len */
} ws_event_type_t;

typedef struct {
    ws_event_type_t type;
    /* Borrowed: valid until the next ws_parser_feed or ws_parser_free. It may point into
     * the caller's input buffer (unmasked in place) or into the parser's own buffer. */
    uint8_t *data;
    size_t len;
    /* WS_EV_CLOSE only: the code, or WS_CLOSE_NO_STATUS when the payload was empty. */
    uint16_t close_code;
} ws_event_t;

typedef struct {
    /* settings */
    size_t max_message; /* largest message (sum of fragments); 0 = unlimited */
    int server;         /* 1: peer frames must be masked; 0: they must not be */

    /* header being parsed */
    uint8_t hdr[WS_MAX_HEADER];
    uint8_t hdr_len;
    uint8_t opcode;
    uint8_t fin;
    uint8_t masked;
    uint8_t mask[4];
    uint64_t payload_len; /* of the current frame */
    uint64_t payload_got; /* bytes of it consumed so far */

    /* message being assembled across fragments */
    uint8_t msg_opcode;   /* WS_OP_TEXT / WS_OP_BINARY while a message is open, else 0 */
    uint8_t *msg;         /* owned */
    size_t msg_len;
    size_t msg_cap;
    utf8_state_t utf8;

    /* control frame payload being assembled */
    uint8_t ctl[WS_MAX_CONTROL];
    size_t ctl_len;

    int state;  /* internal */
    int error;  /* sticky: the negative close code once an error was returned */
} ws_parser_t;

/* Initialises p. server=1 parses client frames (masked); max_message 0 = no limit. */
void ws_parser_init(ws_parser_t *p, size_t max_message, int server);

/* Frees the parser's message buffer. p itself belongs to the caller. */
void ws_parser_free(ws_parser_t *p);

/* Returns 1 when p is between messages (no frame header, payload or fragmented message
 * partly read, no error), else 0. Such a parser holds no input: after ws_parser_free it
 * is the same as a new one, so a server may keep one parser for all its connections at
 * rest and give a connection its own only while a frame or message is partial. */
int ws_parser_at_rest(const ws_parser_t *p);

/* Feeds bytes. data is mutable: masked payloads may be unmasked in place.
 * Returns 1 when an event is in *ev (*consumed says how much input was used; feed the
 * rest next), 0 when all len bytes were consumed and more input is needed
 * (*consumed == len), or a negative close code (-1002, -1007, -1009) when the input
 * breaks the protocol: the caller closes with that code. Errors are sticky.
 * Checks: masking, RSV bits (no extension is negotiated), reserved opcodes, control
 * frames <=125 bytes and FIN set, continuation without a start, data frame inside an
 * open fragmented message, UTF-8 of text checked incrementally across fragments (1007
 * as soon as an impossible byte arrives), close payload (1 byte or invalid code -> 1002,
 * invalid UTF-8 reason -> 1007), max_message (1009 as soon as a header announces more).
 * After an event the parser shrinks a message buffer larger than 64 KiB so idle
 * connections do not keep it. */
int ws_parser_feed(ws_parser_t *p, uint8_t *data, size_t len, size_t *consumed,
                   ws_event_t *ev);

/* Writes an unmasked, FIN-set frame header for opcode and payload length into out.
 * Returns the header length (2, 4 or 10). */
size_t ws_frame_header(uint8_t out[WS_MAX_HEADER], int opcode, uint64_t len);

/* Writes a close payload (2-byte big-endian code, then up to 123 bytes of reason) into
 * out; returns its length. reason may be NULL; a longer reason is cut at a UTF-8
 * boundary. */
size_t ws_close_payload(uint8_t out[WS_MAX_CONTROL], uint16_t code, const char *reason);

/* Returns 1 when code may be sent in a close frame: 1000-1003, 1007-1014, 3000-4999. */
int ws_close_code_valid(unsigned code);

#endif
