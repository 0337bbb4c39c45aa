/* auth_setup.h: the token verifier built from the configuration at start-up. */
#ifndef CHORUS_AUTH_SETUP_H
#define CHORUS_AUTH_SETUP_H

#include "auth/auth_jwt.h"
#include "util/config.h"
#include "util/log.h"

/* Initialises libsodium and returns a new verifier for cfg's algorithm and keys (caller
 * frees with auth_jwt_free; cfg and lg are borrowed). With HS256 and no configured secret,
 * the secret is read from DATA/jwt_secret, which is generated (mode 0600) when missing if
 * create_secret is set (the server's first start), and is an error otherwise (chorus token
 * must never mint with a secret no server uses). Returns NULL with a log line on failure. */
auth_jwt_t *auth_setup(const chorus_config_t *cfg, int create_secret, log_t *lg);

#endif
