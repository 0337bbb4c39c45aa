/* revoke.h: the in-memory view of revoked tokens, checked on every request and
 * WebSocket authentication without a database round trip (pure: times are passed in).
 * Two kinds of entries, each kept only while a token it refuses could still be valid:
 * one token by its jti, and one user's tokens minted before an epoch (logout everywhere,
 * password change) or all of them (account deleted). The store holds the same entries
 * durably; they are loaded at start. */
#ifndef CHORUS_REVOKE_H
#define CHORUS_REVOKE_H

#include <stddef.h>
#include <stdint.h>

#include "auth/auth_jwt.h"

/* An epoch that refuses every token of the user, with or without an "ep" claim. */
#define REVOKE_ALL INT64_MAX

typedef struct revoke_s revoke_t;

/* Returns a new, empty set meant to hold at most max (>= 1) entries; free with
 * revoke_free. The bound is enforced at admission (revoke_has_room, before the durable
 * write), so an entry whose write committed is always added: the set may exceed max by
 * the revocations in flight. */
revoke_t *revoke_new(size_t max);

/* Frees rv; NULL is ignored. */
void revoke_free(revoke_t *rv);

/* Revokes the token with id jti (borrowed; see auth_jti_t) until until_s (its exp plus the
 * leeway). */
void revoke_token(revoke_t *rv, const auth_jti_t *jti, int64_t until_s);

/* Refuses the tokens of user sub (borrowed) whose "ep" is below epoch (REVOKE_ALL: every
 * token of sub) until until_s; an entry for sub keeps the higher epoch and until. */
void revoke_user(revoke_t *rv, const char *sub, int64_t epoch, int64_t until_s);

/* Returns 1 when revoke_token / revoke_user for these keys would succeed (room left or
 * an entry to replace), else 0. jti or sub may be NULL. */
int revoke_has_room(const revoke_t *rv, const auth_jti_t *jti, const char *sub);

/* Returns 0 when c (borrowed) is not revoked, -1 when it is (a revoked jti, an "ep" below
 * the user's epoch, or a deleted user). A token without "ep" and "jti" is refused only
 * when its user was deleted. */
int revoke_check(const revoke_t *rv, const auth_claims_t *c);

/* Drops the entries whose until_s is at or before now_s. Returns how many. */
size_t revoke_sweep(revoke_t *rv, int64_t now_s);

/* Returns the number of entries. */
size_t revoke_count(const revoke_t *rv);

#endif
