/* test_room_version.c: the stored version each state write follows (room_version.c): a
 * chain of writes, a refusal teaching the stored version once per epoch, the room's
 * version raised when another writer got further, and a failure teaching nothing. */
#include "test.h"

#include "domain/room_version.h"
#include "store/store.h"

/* Writes follow one another: each names the one before as its base. */
static void test_chain(void)
{
    room_version_t rv;
    room_version_init(&rv, 7);
    int64_t base;
    uint32_t epoch;
    room_version_write(&rv, 8, &base, &epoch);
    ASSERT_EQ(base, 7);
    room_version_write(&rv, 9, &base, &epoch);
    ASSERT_EQ(base, 8);
    int64_t cur = 9;
    ASSERT_EQ(room_version_answer(&rv, &cur, epoch, base, STORE_OK, 0), ROOM_VERSION_DONE);
    ASSERT_EQ(cur, 9);
    ASSERT_EQ(rv.written, 9);
}

/* Another writer stored 12 while the room was at 9: the first refusal teaches 12 and
 * raises the room's version, so the write again is 13 after 12; the refusal of a write
 * chained behind the first (older epoch) teaches nothing, and is written again too. */
static void test_refusal_teaches_once(void)
{
    room_version_t rv;
    room_version_init(&rv, 9);
    int64_t b1, b2, b3;
    uint32_t e1, e2, e3;
    room_version_write(&rv, 10, &b1, &e1);
    room_version_write(&rv, 11, &b2, &e2);
    int64_t cur = 11;
    ASSERT_EQ(room_version_answer(&rv, &cur, e1, b1, STORE_EEXISTS, 12), ROOM_VERSION_AGAIN);
    ASSERT_EQ(cur, 12);
    ASSERT_EQ(rv.written, 12);
    cur++; /* the write again */
    room_version_write(&rv, cur, &b3, &e3);
    ASSERT_EQ(b3, 12);
    ASSERT_EQ(cur, 13);
    /* The chained one (base 10) is refused after: nothing learned, written again. */
    ASSERT_EQ(room_version_answer(&rv, &cur, e2, b2, STORE_EEXISTS, 12), ROOM_VERSION_AGAIN);
    ASSERT_EQ(rv.written, 13);
    ASSERT_EQ(cur, 13);
    ASSERT_EQ(room_version_answer(&rv, &cur, e3, b3, STORE_OK, 0), ROOM_VERSION_DONE);
}

/* The room's own write failed (EIO): the store is unknown, nothing is learned or written
 * again; the next write, chained on the failed one, is refused with the stored version
 * below the room's, which the room does not lower: the write again jumps from the stored
 * version to the room's next. */
static void test_failure_then_refusal(void)
{
    room_version_t rv;
    room_version_init(&rv, 4);
    int64_t b;
    uint32_t e1, e2, e3;
    room_version_write(&rv, 5, &b, &e1);
    int64_t cur = 5;
    ASSERT_EQ(room_version_answer(&rv, &cur, e1, b, STORE_EIO, 0), ROOM_VERSION_DONE);
    ASSERT_EQ(rv.written, 5);
    room_version_write(&rv, 6, &b, &e2);
    ASSERT_EQ(b, 5);
    cur = 6;
    ASSERT_EQ(room_version_answer(&rv, &cur, e2, b, STORE_EEXISTS, 4), ROOM_VERSION_AGAIN);
    ASSERT_EQ(cur, 6); /* never lowered: clients saw 5 and 6 */
    ASSERT_EQ(rv.written, 4);
    room_version_write(&rv, 7, &b, &e3);
    ASSERT_EQ(b, 4);
    /* A refusal for a reason other than the version (ENOTFOUND: the room is gone) is
     * nothing to write again. */
    ASSERT_EQ(room_version_answer(&rv, &cur, e3, b, STORE_ENOTFOUND, 0), ROOM_VERSION_DONE);
    /* Refused with the stored version the write followed: not about the version (a taken
     * room code), so writing it again would be refused again: nothing learned. */
    uint32_t e4;
    room_version_write(&rv, 8, &b, &e4);
    ASSERT_EQ(b, 7);
    ASSERT_EQ(room_version_answer(&rv, &cur, e4, b, STORE_EEXISTS, 7), ROOM_VERSION_DONE);
    ASSERT_EQ(rv.written, 8);
}

int main(void)
{
    RUN(test_chain);
    RUN(test_refusal_teaches_once);
    RUN(test_failure_then_refusal);
    TEST_MAIN_END();
}
