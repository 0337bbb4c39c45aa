/* test_room_code.c: code alphabet and length, reachability, parsing, generation retries. */
#include "test.h"

#include "domain/room_code.h"

static void test_alphabet(void)
{
    const char *a = ROOM_CODE_ALPHABET;
    ASSERT_EQ(strlen(a), 32);
    for (const char *p = "IO01"; *p; p++) ASSERT_TRUE(strchr(a, *p) == NULL);
    for (int i = 0; i < 32; i++)
        for (int j = i + 1; j < 32; j++) ASSERT_NE(a[i], a[j]);
}

static void test_from_bytes_every_byte(void)
{
    /* Every byte value maps to an alphabet symbol; each symbol is hit by exactly 8 of the
     * 256 byte values (unbiased), and so every symbol is reachable at every position. */
    int hits[256] = {0};
    for (int b = 0; b < 256; b++) {
        unsigned char rnd[ROOM_CODE_LEN];
        memset(rnd, b, sizeof rnd);
        char out[ROOM_CODE_LEN + 1];
        memset(out, 'x', sizeof out);
        room_code_from_bytes(out, rnd);
        ASSERT_EQ(strlen(out), ROOM_CODE_LEN);
        for (int i = 0; i < ROOM_CODE_LEN; i++) {
            ASSERT_TRUE(strchr(ROOM_CODE_ALPHABET, out[i]) != NULL);
            ASSERT_EQ(out[i], out[0]);
        }
        hits[(unsigned char)out[0]]++;
        ASSERT_EQ(room_code_parse(out, ROOM_CODE_LEN, NULL), 1);
    }
    for (const char *p = ROOM_CODE_ALPHABET; *p; p++) ASSERT_EQ(hits[(unsigned char)*p], 8);
}

static void test_from_bytes_positions(void)
{
    const unsigned char rnd[ROOM_CODE_LEN] = {0, 31, 32, 255, 8, 200};
    char out[ROOM_CODE_LEN + 1];
    room_code_from_bytes(out, rnd);
    /* 0->A, 31->9, 32->A, 255->9, 8->J (I skipped), 200 = 8 mod 32 -> J */
    ASSERT_STREQ(out, "A9A9JJ");
}

static void test_parse(void)
{
    char out[ROOM_CODE_LEN + 1] = "";
    ASSERT_EQ(room_code_parse("abc234", 6, out), 1);
    ASSERT_STREQ(out, "ABC234");
    ASSERT_EQ(room_code_parse("XyZ789", 6, out), 1);
    ASSERT_STREQ(out, "XYZ789");
    ASSERT_EQ(room_code_parse("HJKLMN", 6, NULL), 1);
    /* only the first len bytes count: no NUL needed */
    ASSERT_EQ(room_code_parse("PQRSTUVW", 6, out), 1);
    ASSERT_STREQ(out, "PQRSTU");

    static const char *bad[] = {"ABCDEI", "ABCDEO", "ABCDE0", "ABCDE1", "abcdei", "abcdeo",
                                "ABC-23", "ABC 23", "ABCD\xc3\x89", "\xff\xfe\xfd\xfc\xfb\xfa"};
    memcpy(out, "KEEPME", 7);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ASSERT_EQ(room_code_parse(bad[i], strlen(bad[i]) < 6 ? strlen(bad[i]) : 6, out), 0);
    ASSERT_STREQ(out, "KEEPME"); /* untouched on failure */
    ASSERT_EQ(room_code_parse("ABC\0EF", 6, out), 0);
    ASSERT_EQ(room_code_parse("ABCDE", 5, out), 0);
    ASSERT_EQ(room_code_parse("ABCDEFG", 7, out), 0);
    ASSERT_EQ(room_code_parse("", 0, out), 0);
    ASSERT_EQ(room_code_parse(NULL, 6, out), 0);
}

/* A fake rng that hands out a scripted byte sequence and a fake room table. */
typedef struct {
    unsigned char next;      /* every call fills the buffer with next, then next++ */
    int rng_calls;
    int taken_calls;
    int collide_first;       /* the first collide_first codes asked about are taken */
    char seen[16][ROOM_CODE_LEN + 1];
} fake_t;

static void fake_rng(void *ud, unsigned char *buf, size_t n)
{
    fake_t *f = ud;
    memset(buf, f->next++, n);
    f->rng_calls++;
}

static int fake_taken(void *ud, const char *code)
{
    fake_t *f = ud;
    if (f->taken_calls < 16) memcpy(f->seen[f->taken_calls], code, ROOM_CODE_LEN + 1);
    return f->taken_calls++ < f->collide_first;
}

static void test_generate_first_try(void)
{
    fake_t f = {.next = 0};
    char out[ROOM_CODE_LEN + 1];
    ASSERT_EQ(room_code_generate(out, fake_rng, fake_taken, &f, 5), 0);
    ASSERT_STREQ(out, "AAAAAA");
    ASSERT_EQ(f.rng_calls, 1);
    ASSERT_EQ(f.taken_calls, 1);
}

static void test_generate_retries_on_collision(void)
{
    fake_t f = {.next = 0, .collide_first = 3};
    char out[ROOM_CODE_LEN + 1];
    ASSERT_EQ(room_code_generate(out, fake_rng, fake_taken, &f, 5), 0);
    ASSERT_EQ(f.rng_calls, 4); /* fresh bytes for every try */
    ASSERT_EQ(f.taken_calls, 4);
    ASSERT_STREQ(out, "DDDDDD"); /* bytes 3 */
    /* the answer is none of the taken ones */
    for (int i = 0; i < 3; i++) ASSERT_TRUE(strcmp(out, f.seen[i]) != 0);
}

static void test_generate_gives_up(void)
{
    fake_t f = {.next = 0, .collide_first = 1000};
    char out[ROOM_CODE_LEN + 1] = "KEEPME";
    ASSERT_EQ(room_code_generate(out, fake_rng, fake_taken, &f, 7), -1);
    ASSERT_EQ(f.rng_calls, 7);
    ASSERT_EQ(f.taken_calls, 7);
    ASSERT_STREQ(out, "KEEPME");
    f.rng_calls = 0;
    ASSERT_EQ(room_code_generate(out, fake_rng, fake_taken, &f, 0), -1);
    ASSERT_EQ(f.rng_calls, 0);
}

int main(void)
{
    RUN(test_alphabet);
    RUN(test_from_bytes_every_byte);
    RUN(test_from_bytes_positions);
    RUN(test_parse);
    RUN(test_generate_first_try);
    RUN(test_generate_retries_on_collision);
    RUN(test_generate_gives_up);
    TEST_MAIN_END();
}
