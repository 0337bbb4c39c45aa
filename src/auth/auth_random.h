/* auth_random.h: random identifiers and secrets from libsodium's CSPRNG (auth_init first). */
#ifndef CHORUS_AUTH_RANDOM_H
#define CHORUS_AUTH_RANDOM_H

#include <stddef.h>

/* Writes a random RFC 4122 version 4 UUID, lower-case with hyphens and NUL-terminated
 * ("xxxxxxxx-xxxx-4xxx-[89ab]xxx-xxxxxxxxxxxx"), into out. */
void auth_random_uuid(char out[37]);

/* Writes nbytes random bytes as 2 * nbytes lower-case hex digits plus a NUL into out,
 * which must hold 2 * nbytes + 1 bytes (e.g. 32 bytes -> a 64-character session token). */
void auth_random_hex(char *out, size_t nbytes);

#endif
