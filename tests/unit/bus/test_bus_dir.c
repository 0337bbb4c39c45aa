/* test_bus_dir.c: the room directory (bus_dir.c): homes and their ends, this node's own
 * rooms for the lease renewal, claims in flight, stand-ins, the sweep. */
#include "test.h"

#include "bus/bus_dir.h"

static void test_homes_run_out(void)
{
    bus_dir_t d;
    bus_dir_init(&d, 7, 1);
    ASSERT_EQ(bus_dir_home(&d, "r1", 0), 0);
    bus_dir_set(&d, "r1", 3, 1000);
    ASSERT_EQ(bus_dir_home(&d, "r1", 999), 3);
    ASSERT_EQ(bus_dir_home(&d, "r1", 1000), 0); /* the lease's end: not known any more */
    bus_dir_set(&d, "r1", 7, 2000);             /* taken here */
    ASSERT_EQ(bus_dir_home(&d, "r1", 1500), 7);
    ASSERT_EQ(d.mine, 1);
    bus_dir_set(&d, "r1", 4, 3000); /* lost to another node */
    ASSERT_EQ(d.mine, 0);
    bus_dir_forget(&d, "r1", 0);
    ASSERT_EQ(bus_dir_home(&d, "r1", 0), 0);
    ASSERT_EQ(d.map.count, 0);
    bus_dir_free(&d);
}

static void test_mine_in_batches(void)
{
    bus_dir_t d;
    bus_dir_init(&d, 1, 2);
    char names[10][8];
    for (int i = 0; i < 10; i++) {
        snprintf(names[i], sizeof(names[i]), "r%d", i);
        bus_dir_set(&d, names[i], i % 2 ? 2 : 1, 100); /* r0, r2, ... are this node's */
    }
    ASSERT_EQ(d.mine, 5);
    const char *out[2];
    size_t at = 0, n, total = 0;
    int seen[10] = {0};
    while ((n = bus_dir_mine(&d, &at, out, 2)) > 0) {
        ASSERT_TRUE(n <= 2);
        for (size_t i = 0; i < n; i++) {
            int k = atoi(out[i] + 1);
            ASSERT_EQ(k % 2, 0);
            seen[k]++;
        }
        total += n;
    }
    ASSERT_EQ(total, 5);
    for (int i = 0; i < 10; i += 2) ASSERT_EQ(seen[i], 1);
    /* Own leases are kept past their end (renewed or lost by the bus), others' swept. */
    bus_dir_sweep(&d, 100);
    ASSERT_EQ(d.map.count, 5);
    ASSERT_EQ(bus_dir_home(&d, "r0", 50), 1);
    ASSERT_EQ(bus_dir_home(&d, "r1", 50), 0);
    bus_dir_free(&d);
}

static void test_claims(void)
{
    bus_dir_t d;
    bus_dir_init(&d, 1, 3);
    ASSERT_EQ(bus_dir_claiming(&d, "r", 1), 0); /* the first claim is sent */
    ASSERT_EQ(bus_dir_claiming(&d, "r", 1), 1); /* a second is not */
    bus_dir_sweep(&d, 1u << 30);                /* a claim in flight is not swept */
    ASSERT_EQ(bus_dir_claiming(&d, "r", 1), 1);
    bus_dir_set(&d, "r", 2, 10); /* the answer: another node's; the claim is over */
    ASSERT_EQ(bus_dir_claiming(&d, "r", 1), 0);
    ASSERT_EQ(bus_dir_claiming(&d, "r", 0), 1);
    ASSERT_EQ(bus_dir_home(&d, "r", 5), 2);
    /* A claim that got no answer leaves nothing behind. */
    ASSERT_EQ(bus_dir_claiming(&d, "q", 1), 0);
    ASSERT_EQ(bus_dir_claiming(&d, "q", 0), 1);
    ASSERT_EQ(strmap_get(&d.map, "q"), NULL);
    bus_dir_free(&d);
}

static void test_standins(void)
{
    bus_dir_t d;
    bus_dir_init(&d, 1, 4);
    ASSERT_EQ(bus_dir_is_standin(&d, "s"), 0);
    bus_dir_standin(&d, "s");
    ASSERT_EQ(bus_dir_is_standin(&d, "s"), 1);
    ASSERT_EQ(bus_dir_home(&d, "s", 0), 0);
    bus_dir_set(&d, "s", 2, 10);
    /* Its home forgotten or run out: still a stand-in, until the room goes. */
    bus_dir_sweep(&d, 10);
    ASSERT_EQ(bus_dir_is_standin(&d, "s"), 1);
    ASSERT_EQ(bus_dir_home(&d, "s", 0), 0);
    bus_dir_set(&d, "s", 2, 100);
    bus_dir_forget(&d, "s", 0);
    ASSERT_EQ(bus_dir_is_standin(&d, "s"), 1);
    ASSERT_EQ(bus_dir_claiming(&d, "s", 1), 0);
    ASSERT_EQ(bus_dir_claiming(&d, "s", 0), 1);
    ASSERT_EQ(bus_dir_is_standin(&d, "s"), 1);
    bus_dir_forget(&d, "s", 1);
    ASSERT_EQ(bus_dir_is_standin(&d, "s"), 0);
    ASSERT_EQ(d.map.count, 0);
    bus_dir_free(&d);
}

/* A stand-in taken over (its lease this node's now) is this node's room, renewed with its
 * others. */
static void test_standin_taken_over(void)
{
    bus_dir_t d;
    bus_dir_init(&d, 1, 4);
    bus_dir_standin(&d, "s");
    bus_dir_set(&d, "s", 2, 10);
    ASSERT_EQ(bus_dir_is_standin(&d, "s"), 1); /* another home: still a stand-in */
    bus_dir_set(&d, "s", 1, 100);
    ASSERT_EQ(bus_dir_is_standin(&d, "s"), 0);
    ASSERT_EQ(bus_dir_home(&d, "s", 50), 1);
    size_t at = 0;
    const char *out[2];
    ASSERT_EQ(bus_dir_mine(&d, &at, out, 2), 1);
    bus_dir_free(&d);
}

/* A taken-over room being read: this node's (renewed with its others), marked loading
 * until the read is done; the mark goes with the lease. */
static void test_loading(void)
{
    bus_dir_t d;
    bus_dir_init(&d, 1, 4);
    bus_dir_loading(&d, "s", 1); /* no entry: nothing */
    ASSERT_EQ(bus_dir_is_loading(&d, "s"), 0);
    bus_dir_standin(&d, "s");
    bus_dir_loading(&d, "s", 1); /* not this node's: nothing */
    ASSERT_EQ(bus_dir_is_loading(&d, "s"), 0);
    bus_dir_set(&d, "s", 1, 100);
    bus_dir_loading(&d, "s", 1);
    ASSERT_EQ(bus_dir_is_loading(&d, "s"), 1);
    ASSERT_EQ(bus_dir_home(&d, "s", 50), 1);
    size_t at = 0;
    const char *out[2];
    ASSERT_EQ(bus_dir_mine(&d, &at, out, 2), 1);
    bus_dir_set(&d, "s", 1, 200); /* renewed: still loading */
    ASSERT_EQ(bus_dir_is_loading(&d, "s"), 1);
    bus_dir_loading(&d, "s", 0);
    ASSERT_EQ(bus_dir_is_loading(&d, "s"), 0);
    bus_dir_loading(&d, "s", 1);
    bus_dir_set(&d, "s", 2, 300); /* lost to another node */
    ASSERT_EQ(bus_dir_is_loading(&d, "s"), 0);
    bus_dir_set(&d, "s", 1, 300);
    bus_dir_loading(&d, "s", 1);
    bus_dir_forget(&d, "s", 0);
    ASSERT_EQ(bus_dir_is_loading(&d, "s"), 0);
    bus_dir_free(&d);
}

int main(void)
{
    RUN(test_homes_run_out);
    RUN(test_mine_in_batches);
    RUN(test_claims);
    RUN(test_standins);
    RUN(test_standin_taken_over);
    RUN(test_loading);
    TEST_MAIN_END();
}
