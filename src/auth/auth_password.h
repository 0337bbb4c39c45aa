/* auth_password.h: password hashing with argon2id (libsodium); CPU- and memory-heavy, so
 * call the hash/verify functions from a worker thread, never the event loop. */
#ifndef CHORUS_AUTH_PASSWORD_H
#define CHORUS_AUTH_PASSWORD_H

#include <stddef.h>

/* Size of an encoded hash buffer including the NUL (== crypto_pwhash_STRBYTES). */
#define AUTH_PASSWORD_HASH_LEN 128

/* Initialises libsodium (sodium_init). Call once at start-up before any auth_* or rl_map_new
 * call; calling it again, from any thread, is harmless (libsodium makes it idempotent and
 * thread-safe). Returns 0, or -1 when libsodium cannot initialise (no usable RNG). */
int auth_init(void);

/* Cost presets: the interactive defaults (argon2id, 2 passes, 64 MiB) and libsodium's
 * minimum (1 pass, 8 KiB: only for tests, never for stored passwords). */
unsigned long long auth_password_opslimit_default(void);
size_t auth_password_memlimit_default(void);
unsigned long long auth_password_opslimit_min(void);
size_t auth_password_memlimit_min(void);

/* Hashes the len bytes at pw (borrowed; need not be NUL-terminated) with argon2id and a
 * fresh random salt, writing the NUL-terminated encoded string ("$argon2id$v=19$...") to
 * out. Uses the default cost. Returns 0, or -1 when hashing failed (memory limit could not
 * be allocated). Callers should cap len first (user_password_valid). */
int auth_password_hash(const char *pw, size_t len, char out[AUTH_PASSWORD_HASH_LEN]);

/* As auth_password_hash with an explicit cost (opslimit / memlimit as in crypto_pwhash). */
int auth_password_hash_cost(const char *pw, size_t len, unsigned long long opslimit,
                            size_t memlimit, char out[AUTH_PASSWORD_HASH_LEN]);

/* Returns 1 when pw matches the encoded hash (borrowed; must be NUL-terminated within
 * AUTH_PASSWORD_HASH_LEN bytes), 0 when it does not or the hash is malformed.
 * The cost comes from the stored hash. */
int auth_password_verify(const char hash[AUTH_PASSWORD_HASH_LEN], const char *pw, size_t len);

/* Returns 1 when hash was made with a different algorithm or cost than the given one (so
 * it should be recomputed on the next successful login), 0 when up to date. */
int auth_password_needs_rehash(const char hash[AUTH_PASSWORD_HASH_LEN],
                               unsigned long long opslimit, size_t memlimit);

#endif
