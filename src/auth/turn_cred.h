/* turn_cred.h: TURN credentials of coturn's shared-secret scheme (the "REST API for
 * TURN" of draft-uberti-behave-turn-rest: coturn's use-auth-secret / static-auth-secret),
 * and the ICE server list a call uses (RTCConfiguration.iceServers). Pure: the time is
 * passed in. */
#ifndef CHORUS_TURN_CRED_H
#define CHORUS_TURN_CRED_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "util/config.h"

/* The longest username written: a 20-digit time, ':' and the user id. */
#define TURN_CRED_USER_MAX (21 + 256)
/* The password: base64 of a 20-byte HMAC-SHA1, with its NUL. */
#define TURN_CRED_PASS_LEN 29

/* Writes the credential of user_id (borrowed) valid until expiry (unix seconds) under
 * secret (slen bytes, borrowed): username "<expiry>:<user_id>" into user (ucap bytes) and
 * password base64(HMAC-SHA1(secret, username)) into pass (TURN_CRED_PASS_LEN bytes).
 * Returns 0, or -1 when the username does not fit in ucap. */
int turn_cred_make(const char *secret, size_t slen, const char *user_id, int64_t expiry,
                   char *user, size_t ucap, char pass[TURN_CRED_PASS_LEN]);

/* Returns a new array of ICE servers from cfg (borrowed): {"urls": [stun URLs]} when
 * --stun-urls has any, and {"urls": [turn URLs], "username", "credential"} with a fresh
 * credential of user_id (borrowed) valid for --turn-ttl from now_ms (unix ms) when
 * --turn-urls has any; [] when none is configured. */
json_t *turn_ice_servers(const chorus_config_t *cfg, const char *user_id, int64_t now_ms);

#endif
