/* auth_random.h: random identifiers and secrets from libsodium's CSPRNG (auth_init first). */
#ifndef CHORUS_AUTH_RANDOM_H
#define CHORUS_AUTH_RANDOM_H

#include <stddef.h>

/* Writes a random RFC 4122 version 4 UUID, lower-case with hyphens and NUL-terminated
 * ("xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx"), into out. */
void auth_random_uuid(char out[37]);

/* CSPRNG output read ahead for identifiers made often (a stored message's id): one
 * randombytes_buf, i.e. one getrandom system call, per AUTH_RANDOM_POOL bytes instead of
 * one per identifier. The bytes wait in memory until used, so a pool is for identifiers
 * that are public anyway, never for secrets or tokens. Zeroed means empty. */
#define AUTH_RANDOM_POOL 256
typedef struct {
    unsigned char b[AUTH_RANDOM_POOL];
    size_t left; /* the unused bytes are the last left of b */
} auth_random_pool_t;

/* auth_random_uuid from p's bytes (refilled when it runs out). Borrows p. */
void auth_random_uuid_pooled(auth_random_pool_t *p, char out[37]);

/* Writes nbytes random bytes as 2 * nbytes lower-case hex digits plus a NUL into out,
 * which must hold 2 * nbytes + 1 bytes (e.g. 32 bytes -> a 64-character session token). */
void auth_random_hex(char *out, size_t nbytes);

#endif
