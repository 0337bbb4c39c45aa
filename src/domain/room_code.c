/* room_code.c: room join codes over a 32-symbol alphabet without look-alike characters. */
#include "domain/room_code.h"

#include <string.h>

#include "util/mem.h"

_Static_assert(sizeof(ROOM_CODE_ALPHABET) - 1 == 32, "the alphabet must have 32 symbols");

void room_code_from_bytes(char out[ROOM_CODE_LEN + 1], const unsigned char rnd[ROOM_CODE_LEN])
{
    static const char alphabet[] = ROOM_CODE_ALPHABET;
    for (size_t i = 0; i < ROOM_CODE_LEN; i++) out[i] = alphabet[rnd[i] & 31u];
    out[ROOM_CODE_LEN] = '\0';
}

/* Returns the canonical symbol for c, or 0 when c is not one. ASCII only, no locale. */
static char room__symbol(unsigned char c)
{
    if (c >= 'a' && c <= 'z') c = (unsigned char)(c - 'a' + 'A');
    if (c == 0) return 0;
    return memchr(ROOM_CODE_ALPHABET, c, sizeof(ROOM_CODE_ALPHABET) - 1) ? (char)c : 0;
}

int room_code_parse(const char *s, size_t len, char out[ROOM_CODE_LEN + 1])
{
    if (!s || len != ROOM_CODE_LEN) return 0;
    char canon[ROOM_CODE_LEN + 1];
    for (size_t i = 0; i < ROOM_CODE_LEN; i++)
        if (!(canon[i] = room__symbol((unsigned char)s[i]))) return 0;
    canon[ROOM_CODE_LEN] = '\0';
    if (out) memcpy(out, canon, sizeof canon);
    return 1;
}

int room_code_generate(char out[ROOM_CODE_LEN + 1],
                       void (*rng)(void *ud, unsigned char *buf, size_t n),
                       int (*taken)(void *ud, const char *code), void *ud, int max_tries)
{
    CH_ASSERT(out && rng && taken);
    for (int i = 0; i < max_tries; i++) {
        unsigned char rnd[ROOM_CODE_LEN];
        char code[ROOM_CODE_LEN + 1];
        rng(ud, rnd, sizeof rnd);
        room_code_from_bytes(code, rnd);
        if (!taken(ud, code)) {
            memcpy(out, code, sizeof code);
            return 0;
        }
    }
    return -1;
}
