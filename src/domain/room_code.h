/* room_code.h: short human-typable room join codes (generation from random bytes, parsing). */
#ifndef CHORUS_ROOM_CODE_H
#define CHORUS_ROOM_CODE_H

#include <stddef.h>

#define ROOM_CODE_LEN 6
/* 32 symbols: no I, O, 0, 1 (read aloud or handwritten they are confused). 32 divides 256,
 * so one random byte maps to one symbol without bias. 32^6 = 2^30 codes. */
#define ROOM_CODE_ALPHABET "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"

/* Writes a code plus NUL to out from ROOM_CODE_LEN random bytes (borrowed): symbol i is
 * ROOM_CODE_ALPHABET[rnd[i] % 32], so uniform bytes give uniform codes. */
void room_code_from_bytes(char out[ROOM_CODE_LEN + 1], const unsigned char rnd[ROOM_CODE_LEN]);

/* Returns 1 when s[0..len) (borrowed; need not be NUL-terminated) is a code, ASCII case
 * folded (lower case accepted), else 0. Writes the canonical upper-case form plus NUL to out
 * when out != NULL and s is a code; out is untouched otherwise. */
int room_code_parse(const char *s, size_t len, char out[ROOM_CODE_LEN + 1]);

/* Generates a code that taken(ud, code) reports free (taken returns non-zero when in use),
 * drawing ROOM_CODE_LEN fresh bytes from rng(ud, buf, n) for each of up to max_tries
 * attempts. Returns 0 with the code in out, or -1 when every try collided (or max_tries < 1);
 * out is untouched then. The callbacks keep the module pure: the caller supplies
 * randombytes_buf and its room table. */
int room_code_generate(char out[ROOM_CODE_LEN + 1],
                       void (*rng)(void *ud, unsigned char *buf, size_t n),
                       int (*taken)(void *ud, const char *code), void *ud, int max_tries);

#endif
