/* jwt_fixture.h: an HS256 verifier and minter for unit tests, and a token for a user named
 * Ada with a color (test_proto_auth.c, test_auth_tcache.c). */
#ifndef CHORUS_TEST_JWT_FIXTURE_H
#define CHORUS_TEST_JWT_FIXTURE_H

#include <stdio.h>
#include <string.h>

#include "auth/auth_jwt.h"

/* A new verifier and minter keyed with secret (at least 32 bytes); auth_jwt_free it. */
static auth_jwt_t *jwt_fixture_hs256(const char *secret)
{
    return auth_jwt_new(AUTH_ALG_HS256, (const unsigned char *)secret, strlen(secret),
                        (const unsigned char *)secret, strlen(secret), 0);
}

/* A new token (free it) for sub, named Ada, issued at now_s for ttl seconds. */
static char *jwt_fixture_mint(auth_jwt_t *j, const char *sub, int64_t now_s, int64_t ttl)
{
    auth_claims_t c;
    memset(&c, 0, sizeof(c));
    snprintf(c.sub, sizeof(c.sub), "%s", sub);
    snprintf(c.name, sizeof(c.name), "Ada");
    snprintf(c.color, sizeof(c.color), "#112233");
    return auth_jwt_mint(j, &c, now_s, ttl);
}

#endif
