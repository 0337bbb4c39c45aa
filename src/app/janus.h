/* janus.h: the Janus controller (issue 22, docs/webrtc.md "SFU"): domain/sfu.h's table over
 * Janus's HTTP API, through the outgoing HTTP client (util/http_call.h), never blocking the
 * loop. One Janus session per process (a token of its own, added through the admin API),
 * kept alive and long-polled for events; one VideoRoom room per call past the mesh size,
 * created and destroyed with it; per call member a Janus token (add_token on join,
 * remove_token on leave), a publisher handle and one subscriber handle per other publisher,
 * their offers, answers and candidates relayed through sfu_events_t. Requests in flight are
 * bounded (--janus-max-inflight), each has a timeout (--janus-timeout); every failure a
 * member sees is SFU_UNAVAILABLE. */
#ifndef CHORUS_JANUS_H
#define CHORUS_JANUS_H

#include <stddef.h>
#include <stdint.h>

#include <uv.h>

#include "domain/sfu.h"
#include "util/config.h"
#include "util/http_call.h"
#include "util/log.h"

typedef struct janus_s janus_t;

/* A new controller on loop from cfg's janus-* options, or NULL when cfg->janus_url is empty
 * (no SFU) or the admin secret file cannot be read (a log line says why; *err set to -1).
 * loop, cfg, log and http are borrowed and must outlive it (http is read at each request, so
 * it may be set after). Starts nothing until the first call. */
janus_t *janus_new(uv_loop_t *loop, const chorus_config_t *cfg, log_t *log,
                   const http_call_t *http, int *err);

/* The sfu.h table over j (borrowed: valid until janus_close). */
sfu_t janus_sfu(janus_t *j);

/* Cancels j's requests, closes its timer and frees j once it closed (run the loop after).
 * j must not be used after. NULL: nothing. */
void janus_close(janus_t *j);

/* What j holds now, for tests and metrics: requests in flight, rooms, members. */
size_t janus_inflight(const janus_t *j);

#endif
