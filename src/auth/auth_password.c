/* auth_password.c: argon2id password hashing (libsodium crypto_pwhash). */
#include "auth/auth_password.h"

#include <sodium.h>
#include <string.h>

_Static_assert(AUTH_PASSWORD_HASH_LEN == crypto_pwhash_STRBYTES, "hash buffer size");

int auth_init(void)
{
    /* 0: initialised now, 1: already initialised; both are success. */
    return sodium_init() < 0 ? -1 : 0;
}

unsigned long long auth_password_opslimit_default(void)
{
    return crypto_pwhash_OPSLIMIT_INTERACTIVE;
}

size_t auth_password_memlimit_default(void)
{
    return crypto_pwhash_MEMLIMIT_INTERACTIVE;
}

unsigned long long auth_password_opslimit_min(void)
{
    return crypto_pwhash_argon2id_OPSLIMIT_MIN;
}

size_t auth_password_memlimit_min(void)
{
    return crypto_pwhash_argon2id_MEMLIMIT_MIN;
}

int auth_password_hash_cost(const char *pw, size_t len, unsigned long long opslimit,
                            size_t memlimit, char out[AUTH_PASSWORD_HASH_LEN])
{
    if (crypto_pwhash_str_alg(out, pw ? pw : "", len, opslimit, memlimit,
                              crypto_pwhash_ALG_ARGON2ID13) != 0) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

int auth_password_hash(const char *pw, size_t len, char out[AUTH_PASSWORD_HASH_LEN])
{
    return auth_password_hash_cost(pw, len, auth_password_opslimit_default(),
                                   auth_password_memlimit_default(), out);
}

static int auth_password__terminated(const char *hash)
{
    return hash && memchr(hash, '\0', AUTH_PASSWORD_HASH_LEN) != NULL;
}

int auth_password_verify(const char hash[AUTH_PASSWORD_HASH_LEN], const char *pw, size_t len)
{
    if (!auth_password__terminated(hash)) return 0;
    return crypto_pwhash_str_verify(hash, pw ? pw : "", len) == 0;
}

int auth_password_needs_rehash(const char hash[AUTH_PASSWORD_HASH_LEN],
                               unsigned long long opslimit, size_t memlimit)
{
    if (!auth_password__terminated(hash)) return 1;
    /* 0: up to date; 1: different parameters; -1: not an argon2id hash at all */
    return crypto_pwhash_argon2id_str_needs_rehash(hash, opslimit, memlimit) != 0;
}
