/* fuzz_janus.c: libFuzzer target for Janus's replies and events (janus_msg.c): whatever a
 * Janus (or anything answering at --janus-url) sends, reading it must not crash or leak, and
 * what it reads must hold its bounds (the publisher count, the cut reason, ids and jsep
 * only when well formed). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util/janus_msg.h"

static void check(const janus_msg_t *m)
{
    if (m->npubs > JANUS_PUB_MAX || strlen(m->reason) > JANUS_REASON_MAX ||
        strlen(m->tx) > JANUS_TX_MAX || (!m->jsep_type != !m->jsep_sdp))
        abort();
    for (size_t i = 0; i < m->npubs; i++)
        if (m->pubs[i].id == 0) abort();
}

static void on_event(void *ud, const janus_msg_t *m)
{
    (void)ud;
    check(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    janus_msg_t m;
    if (janus_msg_parse((const char *)data, size, &m) == 0) {
        check(&m);
        janus_msg_free(&m);
    }
    janus_msg_parse_events((const char *)data, size, on_event, NULL);
    return 0;
}
