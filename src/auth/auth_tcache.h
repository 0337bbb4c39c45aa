/* auth_tcache.h: the tokens verified lately, so that a client connecting again with the
 * same token (a reconnect, a reload, a join storm) costs a digest and a compare instead of
 * auth_jwt_verify's two JSON parses and its HMAC or signature check.
 *
 * What it keeps: for each token verified here, a keyed BLAKE2b digest of its bytes (the
 * key random per cache, so nobody outside can aim two tokens at one digest; no token is
 * kept) and the claims auth_jwt_verify gave, tied to the verifier that gave them. Bounded:
 * AUTH_TCACHE_SLOTS entries in sets of 4 chosen by the digest (a new token takes the
 * place of its set's entry used longest ago), allocated at the first success, emptied
 * when the verifier is replaced (auth_tcache_clear). A hit is used only strictly inside the token's
 * validity (nbf, when present, <= now < exp: no leeway); anything else, the edges
 * included, goes to auth_jwt_verify again. Revocation is not decided here: the caller
 * checks it after a hit as after a verification (proto_auth_verify), so a revoked token
 * is refused at once. One thread (the loop's). */
#ifndef CHORUS_AUTH_TCACHE_H
#define CHORUS_AUTH_TCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth_jwt.h"

/* Entries at most (~360 bytes each, once the first token is verified). */
#define AUTH_TCACHE_SLOTS 256

typedef struct auth_tcache_s auth_tcache_t;

/* Returns a new, empty cache (free with auth_tcache_free). */
auth_tcache_t *auth_tcache_new(void);

/* Frees tc (wiping what it kept); NULL is ignored. */
void auth_tcache_free(auth_tcache_t *tc);

/* Forgets every token kept: when the verifier changes (a reload reads the keys again and
 * frees the old verifier, whose address a later one may get). */
void auth_tcache_clear(auth_tcache_t *tc);

/* auth_jwt_verify(a, token, len, now_s, out, why) through tc: the same result and claims
 * for every input (auth_jwt_verify's contract, auth_jwt.h), from tc when the same token
 * bytes were verified by a before and now_s is inside their validity, else verified by a
 * and, on success, kept. Borrows all of its arguments; *out is written. */
int auth_tcache_verify(auth_tcache_t *tc, const auth_jwt_t *a, const char *token, size_t len,
                       int64_t now_s, auth_claims_t *out, const char **why);

/* Tokens answered from tc and tokens verified (for tests and metrics). */
void auth_tcache_counts(const auth_tcache_t *tc, uint64_t *hits, uint64_t *misses);

#endif
