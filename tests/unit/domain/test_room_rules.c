/* test_room_rules.c: room names, capacities, message types, join and host rules. */
#include "test.h"

#include "domain/room_rules.h"

static void test_names(void)
{
    ASSERT_TRUE(room_name_valid("a", 1));
    ASSERT_TRUE(room_name_valid("Space Rooms \xf0\x9f\x9a\x80", 16));
    char hundred[401];
    for (int i = 0; i < 100; i++) memcpy(hundred + i * 2, "\xc3\xa9", 2); /* 100 x e-acute */
    ASSERT_TRUE(room_name_valid(hundred, 200));
    memcpy(hundred + 200, "x", 1);
    ASSERT_TRUE(!room_name_valid(hundred, 201)); /* 101 code points */
    ASSERT_TRUE(!room_name_valid("", 0));
    ASSERT_TRUE(!room_name_valid("a\nb", 3));
    ASSERT_TRUE(!room_name_valid("a\x7f", 2));
    ASSERT_TRUE(!room_name_valid("a\xc2\x85", 3)); /* NEL, a C1 control */
    ASSERT_TRUE(!room_name_valid("\xc3", 1));      /* cut UTF-8 */
}

static void test_capacity(void)
{
    ASSERT_TRUE(room_capacity_valid(1, 50));
    ASSERT_TRUE(room_capacity_valid(50, 50));
    ASSERT_TRUE(!room_capacity_valid(51, 50));
    ASSERT_TRUE(!room_capacity_valid(0, 50));
    ASSERT_TRUE(!room_capacity_valid(-1, 50));
    ASSERT_TRUE(room_capacity_valid(5000, 100000));
}

static void test_types(void)
{
    ASSERT_TRUE(room_message_type_valid("user_text", 0));
    ASSERT_TRUE(room_message_type_valid("user_voice", 0));
    ASSERT_TRUE(room_message_type_valid("ai_response", 0));
    ASSERT_TRUE(!room_message_type_valid("system", 0));
    ASSERT_TRUE(room_message_type_valid("system", 1));
    ASSERT_TRUE(room_message_type_valid("x-dice_roll-2", 0));
    ASSERT_TRUE(!room_message_type_valid("x-", 0));
    ASSERT_TRUE(!room_message_type_valid("x-Upper", 0));
    ASSERT_TRUE(!room_message_type_valid("x-a b", 0));
    ASSERT_TRUE(!room_message_type_valid("x-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0)); /* 31 */
    ASSERT_TRUE(room_message_type_valid("x-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0));   /* 30 */
    ASSERT_TRUE(!room_message_type_valid("text", 0));
    ASSERT_TRUE(!room_message_type_valid("", 0));
}

static void test_join(void)
{
    ASSERT_TRUE(room_join_check(0, 0, 9, 10) == NULL);
    ASSERT_STREQ(room_join_check(0, 0, 10, 10), "room_full");
    ASSERT_TRUE(room_join_check(1, 0, 10, 10) == NULL); /* a member comes back */
    ASSERT_STREQ(room_join_check(1, 1, 3, 10), "banned");
    ASSERT_STREQ(room_join_check(0, 1, 10, 10), "banned");
    ASSERT_TRUE(room_may_manage("u1", "u1"));
    ASSERT_TRUE(!room_may_manage("u1", "u2"));
    ASSERT_TRUE(!room_may_manage("u1", "u10"));
}

static void test_display_names(void)
{
    ASSERT_EQ(room_display_names_clash("Ada", "Ada"), 1);
    ASSERT_EQ(room_display_names_clash("ADA", "ada"), 1);
    ASSERT_EQ(room_display_names_clash("Ada", "Ada "), 0);
    ASSERT_EQ(room_display_names_clash("Ada", "Adam"), 0);
    ASSERT_EQ(room_display_names_clash("\xc3\x89mile", "\xc3\xa9mile"),
              0); /* ASCII case only */
    ASSERT_EQ(room_display_names_clash(ROOM_GUEST_NAME, ROOM_GUEST_NAME), 0);
    ASSERT_EQ(room_display_names_clash("Guest", ROOM_GUEST_NAME), 1);
}

/* A settings change keeps the create bounds and never drops below the seats taken. */
static void test_capacity_change(void)
{
    ASSERT_TRUE(room_capacity_check(5, 50, 3) == NULL);
    ASSERT_TRUE(room_capacity_check(3, 50, 3) == NULL); /* exactly the seats taken */
    ASSERT_TRUE(room_capacity_check(50, 50, 1) == NULL);
    ASSERT_STREQ(room_capacity_check(2, 50, 3), "capacity_below_participants");
    ASSERT_STREQ(room_capacity_check(1, 50, 2), "capacity_below_participants");
    ASSERT_STREQ(room_capacity_check(0, 50, 0), "validation_error");
    ASSERT_STREQ(room_capacity_check(51, 50, 1), "validation_error");
    ASSERT_STREQ(room_capacity_check(-3, 50, 1), "validation_error");
}

/* A participants search: a substring of the display name, ASCII case ignored. */
static void test_name_search(void)
{
    ASSERT_EQ(room_name_matches("Hal", "a"), 1);
    ASSERT_EQ(room_name_matches("Hal", "HAL"), 1);
    ASSERT_EQ(room_name_matches("Hal", ""), 1);
    ASSERT_EQ(room_name_matches("Hal", "hall"), 0);
    ASSERT_EQ(room_name_matches("Zoë Ade", "oë a"), 1);
    ASSERT_EQ(room_name_matches("", "a"), 0);
}

int main(void)
{
    RUN(test_names);
    RUN(test_capacity);
    RUN(test_types);
    RUN(test_join);
    RUN(test_display_names);
    RUN(test_name_search);
    RUN(test_capacity_change);
    TEST_MAIN_END();
}
