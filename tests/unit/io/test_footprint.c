/* test_footprint.c: the memory an idle, authenticated, joined WebSocket connection holds
 * (issue 17: at most 1 KiB each at 19,000 connections, docs/benchmarks.md) must not creep
 * back: the records it is made of stay within their budgets. A field added to one of them
 * must fit its budget, or come with a new measurement and a new budget. */
#include "test.h"

#include "io/conn.h"
#include "domain/rooms.h"
#include "util/slab.h"

/* The connection: libuv's TCP handle (248 bytes with libuv 1.4x on Linux x86-64, not ours
 * to shrink) and 264 for the rest: registry and flush links, the timer's heap entry, the
 * output queue (24 bytes: 32-bit counts; empty: no allocation), the address (binary, 17
 * bytes), receive and ping times (32 bits each), the protocol client. No
 * timer handle (conn_timer.c), no WebSocket parser at rest (conn_ws.c parser_of), no HTTP state
 * once upgraded, and the HTTP-only pointers (the state, the resume link) in one union with
 * the WebSocket-only ones (the parser, the held input). */
static void test_conn(void)
{
    size_t rest = sizeof(conn_t) - sizeof(uv_tcp_t);
    fprintf(stderr, "  conn_t %zu = uv_tcp_t %zu + %zu\n", sizeof(conn_t), sizeof(uv_tcp_t),
            rest);
    ASSERT_TRUE(rest <= 264);
}

/* The protocol client, inside the connection: the bus receiver, the rate bucket, the auth
 * deadline and the user (its strings allocated at their length, the name and color found
 * by offset: proto_user_t). */
static void test_proto_client(void)
{
    fprintf(stderr, "  proto_client_t %zu, proto_user_t %zu\n", sizeof(proto_client_t),
            sizeof(proto_user_t));
    ASSERT_TRUE(sizeof(proto_user_t) <= 48);
    ASSERT_TRUE(sizeof(proto_client_t) <= 120);
}

/* The member record (one per member of a room in memory): 136 bytes plus its user id, the
 * display name allocated on its own; presence holds no JSON until the first change (128
 * before issue 26 gave it its seat number in the room's roster: 4 bytes, 8 with the
 * alignment). The
 * room subscription: 40 bytes (a 48-byte malloc block instead of 64), what only documents
 * use being in their own record (bus_vsub_t). */
static void test_member(void)
{
    fprintf(stderr, "  room_member_t %zu, presence_t %zu, bus_sub_t %zu\n",
            sizeof(room_member_t), sizeof(presence_t), sizeof(bus_sub_t));
    ASSERT_TRUE(sizeof(presence_t) <= 56);
    ASSERT_TRUE(sizeof(room_member_t) <= 136);
    ASSERT_TRUE(sizeof(bus_sub_t) <= 40);
}

/* Each of these records costs its size and no more: it comes from a slab (slab.h: the
 * server's conn_slab, the registry's member_slab and sub_slab) whose slot is the record's
 * size rounded to 8, with at most 1 % of a page left over, where malloc took 8 to 16 bytes
 * more a block (544 for a 528-byte connection, 160 for a 144-byte member, 48 for a
 * subscription). */
static void test_slots(void)
{
    size_t sizes[] = {sizeof(conn_t), sizeof(room_member_t) + 16, sizeof(bus_sub_t)};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        slab_t *s = slab_new_pages(sizes[i], sizes[i]);
        void *p = slab_alloc(s, sizes[i]);
        size_t slot = s->cls[0].size;
        fprintf(stderr, "  a %zu-byte record: a %zu-byte slot, %u a page\n", sizes[i], slot,
                s->cls[0].per_page);
#if !defined(__SANITIZE_ADDRESS__)
        ASSERT_EQ(slot, (sizes[i] + 7) / 8 * 8);
        ASSERT_TRUE((uint64_t)s->cls[0].per_page * slot * 100 >= (uint64_t)SLAB_PAGE * 99);
#endif
        slab_free(p);
        slab_drop(s);
    }
}

int main(void)
{
    RUN(test_conn);
    RUN(test_proto_client);
    RUN(test_member);
    RUN(test_slots);
    TEST_MAIN_END();
}
