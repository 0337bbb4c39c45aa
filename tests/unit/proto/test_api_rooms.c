/* test_api_rooms.c: the REST room routes (api_rooms.c) through an application context,
 * with no sockets: the routes that act on a room go to its home as bus ops and come back
 * as the same statuses and the same body bytes as when they called the domain directly;
 * a request answered after the store's commit stays pinned until then and is answered
 * exactly once. */
#include "test.h"
#include "test_loop.h"
#include "proto/api_fixture.h"

#include <http_parser.h>
#include <uv.h>

#include "app/app.h"
#include "util/clock.h"

/* Sends method path with body (NULL = none) as user (a token minted for it). */
static int request(app_fx_t *f, got_t *g, int method, const char *path, const char *body,
                   const char *user)
{
    auth_claims_t c;
    memset(&c, 0, sizeof(c));
    snprintf(c.sub, sizeof(c.sub), "%s", user);
    snprintf(c.name, sizeof(c.name), "%s", user);
    char *token = auth_jwt_mint(f->jwt, &c, clock_unix_ms() / 1000, 3600);
    int n = api_fx_request(f, g, method, path, body, token);
    free(token);
    return n;
}

static void test_routes(void)
{
    app_fx_t f;
    ASSERT_EQ(app_fx_open(&f, "api-rooms"), 0);
    got_t g;
    char path[256];

    /* Created here (not through the home). */
    ASSERT_EQ(request(&f, &g, HTTP_POST, "/api/rooms/create", "{\"name\":\"api\"}", "ann"), 1);
    ASSERT_EQ(g.status, 201);
    json_t *j = json_loads(g.body, 0, NULL);
    char id[STORE_ID_LEN];
    snprintf(id, sizeof(id), "%s",
             json_string_value(json_object_get(json_object_get(j, "room"), "id")));
    json_decref(j);
    ASSERT_TRUE(rooms_get(&f.app.rooms, id) != NULL);

    /* A room that does not exist: 404, as before. */
    ASSERT_EQ(request(&f, &g, HTTP_GET, "/api/rooms/nosuchroom", NULL, "ann"), 1);
    ASSERT_EQ(g.status, 404);
    ASSERT_STREQ(g.body,
                 "{\"success\":false,\"error\":{\"code\":\"not_found\",\"message\":\"no such "
                 "room\"}}");

    /* GET through the home: the whole room for its host. */
    snprintf(path, sizeof(path), "/api/rooms/%s", id);
    ASSERT_EQ(request(&f, &g, HTTP_GET, path, NULL, "ann"), 1);
    ASSERT_EQ(g.status, 200);
    ASSERT_MEMEQ(g.body, "{\"success\":true,\"room\":{", 24);
    ASSERT_TRUE(strstr(g.body, "\"participants\":[") != NULL);

    /* join (bob), answered after the commit: pinned until then, answered once. */
    snprintf(path, sizeof(path), "/api/rooms/%s/join", id);
    ASSERT_EQ(request(&f, &g, HTTP_POST, path, NULL, "bob"), 1);
    ASSERT_EQ(g.status, 200);
    ASSERT_MEMEQ(g.body, "{\"success\":true", 15);

    /* kick: by bob, 403 with the domain's message; of nobody, 404; of bob, 200. */
    snprintf(path, sizeof(path), "/api/rooms/%s/kick", id);
    ASSERT_EQ(request(&f, &g, HTTP_POST, path, "{\"userId\":\"ann\"}", "bob"), 1);
    ASSERT_EQ(g.status, 403);
    ASSERT_STREQ(g.body, "{\"success\":false,\"error\":{\"code\":\"forbidden\",\"message\":"
                         "\"only the host can kick\"}}");
    ASSERT_EQ(request(&f, &g, HTTP_POST, path, "{\"userId\":\"nobody\"}", "ann"), 1);
    ASSERT_EQ(g.status, 404);
    ASSERT_STREQ(g.body, "{\"success\":false,\"error\":{\"code\":\"not_found\",\"message\":"
                         "\"no such participant\"}}");
    ASSERT_EQ(request(&f, &g, HTTP_POST, path, "{\"userId\":\"bob\",\"ban\":false}", "ann"), 1);
    ASSERT_EQ(g.status, 200);
    ASSERT_MEMEQ(g.body, "{\"success\":true", 15);
    ASSERT_TRUE(room_member(rooms_get(&f.app.rooms, id), "bob") == NULL);

    /* state: the host's patch, 200; a patch that is not an object, 400 naming it; someone
     * who is not in the room does not learn of it, 404. */
    snprintf(path, sizeof(path), "/api/rooms/%s/state", id);
    ASSERT_EQ(request(&f, &g, HTTP_PATCH, path, "{\"mode\":1}", "ann"), 1);
    ASSERT_EQ(g.status, 200);
    ASSERT_MEMEQ(g.body, "{\"success\":true", 15);
    ASSERT_EQ(json_integer_value(json_object_get(rooms_get(&f.app.rooms, id)->state, "mode")),
              1);
    ASSERT_EQ(request(&f, &g, HTTP_PATCH, path, "[1]", "ann"), 1);
    ASSERT_EQ(g.status, 400);
    ASSERT_STREQ(g.body, "{\"success\":false,\"error\":{\"code\":\"validation_error\","
                         "\"field\":\"patch\",\"message\":\"the patch must be a JSON "
                         "object\"}}");
    ASSERT_EQ(request(&f, &g, HTTP_PATCH, path, "{\"mode\":2}", "bob"), 1);
    ASSERT_EQ(g.status, 404);

    /* bans: the host's only, 403 for anyone else in the room. */
    snprintf(path, sizeof(path), "/api/rooms/%s/join", id);
    ASSERT_EQ(request(&f, &g, HTTP_POST, path, NULL, "cy"), 1);
    snprintf(path, sizeof(path), "/api/rooms/%s/bans", id);
    ASSERT_EQ(request(&f, &g, HTTP_GET, path, NULL, "cy"), 1);
    ASSERT_EQ(g.status, 403);
    ASSERT_STREQ(g.body, "{\"success\":false,\"error\":{\"code\":\"forbidden\",\"message\":"
                         "\"only the host sees the bans\"}}");
    ASSERT_EQ(request(&f, &g, HTTP_GET, path, NULL, "ann"), 1);
    ASSERT_EQ(g.status, 200);
    ASSERT_STREQ(g.body, "{\"success\":true,\"bans\":[]}");

    /* delete, then the room is gone. */
    snprintf(path, sizeof(path), "/api/rooms/%s", id);
    ASSERT_EQ(request(&f, &g, HTTP_DELETE, path, NULL, "ann"), 1);
    ASSERT_EQ(g.status, 200);
    ASSERT_TRUE(rooms_get(&f.app.rooms, id) == NULL);

    ASSERT_EQ(app_fx_close(&f), 0);
}

int main(void)
{
    RUN(test_routes);
    TEST_MAIN_END();
}
