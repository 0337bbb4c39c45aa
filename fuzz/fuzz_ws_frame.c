/* fuzz_ws_frame.c: libFuzzer target for the RFC 6455 frame parser (server side). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"
#include "util/utf8.h"
#include "proto/ws_frame.h"

/* 64 KiB: small enough that the fuzzer reaches the 1009 path, big enough for 64-bit
 * lengths and buffer growth and shrinking. */
#define FUZZ_MAX_MESSAGE (64 * 1024)

/* Checks what every event must satisfy; a violation aborts so the fuzzer reports it. */
static void check_event(const ws_event_t *ev)
{
    uint8_t sum = 0;

    /* Touch every byte so ASan sees a dangling or short ev->data. */
    for (size_t i = 0; i < ev->len; i++)
        sum ^= ev->data[i];
    (void)sum;
    switch (ev->type) {
    case WS_EV_TEXT:
        CH_ASSERT(utf8_valid(ev->data, ev->len));
        CH_ASSERT(ev->len <= FUZZ_MAX_MESSAGE);
        break;
    case WS_EV_BINARY:
        CH_ASSERT(ev->len <= FUZZ_MAX_MESSAGE);
        break;
    case WS_EV_CLOSE:
        CH_ASSERT(ev->close_code == WS_CLOSE_NO_STATUS || ws_close_code_valid(ev->close_code));
        CH_ASSERT(utf8_valid(ev->data, ev->len));
        CH_ASSERT(ev->len <= WS_MAX_CONTROL - 2);
        break;
    default:
        CH_ASSERT(ev->len <= WS_MAX_CONTROL);
        break;
    }
}

/* Input: byte 0 picks the chunk size (0 = everything in one feed), the rest is the byte
 * stream from the client. Each chunk gets its own exact-size copy so ASan catches reads
 * past the end of what was fed, and the parser may unmask it in place. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    ws_parser_t p;
    int rc = 0;

    if (size == 0) return 0;
    size_t chunk = data[0] ? data[0] : size;
    data++;
    size--;
    ws_parser_init(&p, FUZZ_MAX_MESSAGE, 1);
    for (size_t off = 0; off < size && rc >= 0; off += chunk) {
        size_t n = size - off < chunk ? size - off : chunk, done = 0;
        uint8_t *buf = ch_malloc(n);
        memcpy(buf, data + off, n);
        for (;;) {
            size_t used;
            ws_event_t ev;
            rc = ws_parser_feed(&p, buf + done, n - done, &used, &ev);
            CH_ASSERT(used <= n - done);
            done += used;
            if (rc != 1) break;
            check_event(&ev);
        }
        CH_ASSERT(rc < 0 || done == n);
        if (rc < 0) {
            CH_ASSERT(rc == -WS_CLOSE_PROTOCOL || rc == -WS_CLOSE_BAD_DATA ||
                      rc == -WS_CLOSE_TOO_BIG);
            size_t used = 1;
            ws_event_t ev;
            CH_ASSERT(ws_parser_feed(&p, buf, n, &used, &ev) == rc && used == 0);
        }
        free(buf);
    }
    ws_parser_free(&p);
    return 0;
}
