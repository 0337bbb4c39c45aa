/* fuzz_envelope.c: libFuzzer target for the protocol envelope: decode and dispatch
 * arbitrary text through a fake transport. */
#include <stdint.h>
#include <string.h>

#include "proto/proto.h"
#include "util/utf8.h"

static void sink_send(proto_client_t *c, cbuf_t *frame)
{
    (void)c;
    /* Every frame the server produces must be a complete, FIN-set text frame. */
    if (frame->len < 2 || frame->data[frame->off] != 0x81) __builtin_trap();
}

static void sink_close(proto_client_t *c, int code, const char *reason)
{
    (void)c;
    (void)reason;
    if (code != 1008) __builtin_trap();
}

static const proto_transport_t sink = {sink_send, sink_close, NULL, NULL, NULL, NULL, NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    proto_envelope_t env;
    const char *code, *message;
    if (proto_decode((const char *)data, size, &env, &code, &message) == 0)
        json_decref(env.root);

    log_t lg;
    log_init(&lg, LOG_ERROR, LOG_TEXT, stderr);
    proto_limits_t lim = {1000, 2000, 500};
    proto_t p;
    proto_init(&p, &lim, &lg);
    proto_auth_register(&p); /* "auth" with no verifier configured: always refused */
    proto_client_t c;
    proto_client_init(&c, &lim, &sink, 0);
    /* proto_handle_text takes a text message, valid UTF-8 as the WebSocket layer checked it
     * (the hot ops' scanner relies on that, as Jansson's decoder checks it itself). */
    if (utf8_valid(data, size)) proto_handle_text(&p, &c, (const char *)data, size, 0);
    proto_free(&p);
    return 0;
}
