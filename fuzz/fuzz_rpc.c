/* fuzz_rpc.c: libFuzzer target for what an app's backend answers an rpc or a join hook
 * call (rpc_wire.c): the first byte picks the HTTP status, the rest is the body, read as
 * the op's reply and, when it is a success, as the join hook's verdict. */
#include <stdint.h>
#include <string.h>

#include "proto/rpc_wire.h"
#include "util/mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const int statuses[] = {200, 201, 204, 400, 404, 500, 503, 302};
    http_call_res_t res = {
        .err = 0,
        .status = statuses[data[0] & 7],
        .body = (const char *)data + 1,
        .body_len = size - 1,
    };
    rpc_reply_t r;
    int rc = rpc_reply_read(&res, &r);
    if (rc == 0) {
        CH_ASSERT(r.code == NULL && r.data != NULL);
        if (r.answer) {
            const char *name = NULL, *role = NULL, *code = NULL;
            char msg[RPC_MESSAGE_MAX + 1];
            int v = rpc_join_verdict(r.answer, &name, &role, &code, msg, sizeof(msg));
            CH_ASSERT(v >= -1 && v <= 1);
            if (v == 0) CH_ASSERT(code != NULL && strlen(msg) < sizeof(msg));
            if (v == -1) CH_ASSERT(msg[0] != '\0');
            if (v == 1 && role)
                CH_ASSERT(strcmp(role, "host") == 0 || strcmp(role, "member") == 0);
            if (v == 1 && name) CH_ASSERT(name[0] != '\0' && strlen(name) < 129);
        }
    } else {
        CH_ASSERT(r.code != NULL && strlen(r.message) <= RPC_MESSAGE_MAX);
    }
    rpc_reply_free(&r);
    return 0;
}
