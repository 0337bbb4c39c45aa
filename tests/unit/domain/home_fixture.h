/* home_fixture.h: the asking side of a room op for the home's unit tests: a recording
 * route (the last answer's code, message and data, the route's member and ref, how many
 * answers came), the op that carries it, and sending an op whose arguments are a JSON
 * text. A test that needs members of its own in the recording defines HOME_ASKER_EXTRA
 * (member declarations) before including this header; its answered hook sees each answer
 * first. Static inline functions only: each test file is its own program. */
#ifndef CHORUS_TEST_HOME_FIXTURE_H
#define CHORUS_TEST_HOME_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "bus/bus.h"
#include "test_jpart.h"
#include "util/jpart.h"
#include "util/mem.h"

#ifndef HOME_ASKER_EXTRA
#define HOME_ASKER_EXTRA
#endif

typedef struct home_asker_s home_asker_t;

/* The member's (or the REST side's) end of a route. */
struct home_asker_s {
    bus_member_t id;     /* the asking identity (home_asker_init), or BUS_MEMBER_NONE */
    const char *user;    /* its user (borrowed), or NULL */
    int calls;           /* answers */
    int fresh;           /* set by each answer (test_run_until waits for it) */
    bus_member_t member; /* the last answer's route */
    int64_t ref;
    char code[32]; /* "" for a success */
    char message[128];
    json_t *data; /* the last answer's data (owned) */
    /* Called with each answer before it is recorded (data borrowed), or NULL. */
    void (*answered)(home_asker_t *a, const char *code, json_t *data);
    HOME_ASKER_EXTRA
};

/* Clears a and gives it a new identity on bus for user (borrowed). */
static inline void home_asker_init(home_asker_t *a, bus_t *bus, const char *user)
{
    memset(a, 0, sizeof(*a));
    a->id = bus_member_next(bus);
    a->user = user;
}

/* bus_reply_fn: records the answer in route->ud (a home_asker_t), taking data. An answer
 * for another member than an asker's identity is a bug, and stops the test. */
static inline void home_asker_reply(const bus_route_t *route, const char *code,
                                    const char *message, json_t *data)
{
    home_asker_t *a = route->ud;
    CH_ASSERT(a->id == BUS_MEMBER_NONE || route->member == a->id);
    if (a->answered) a->answered(a, code, data);
    a->calls++;
    a->fresh = 1;
    a->member = route->member;
    a->ref = route->ref;
    snprintf(a->code, sizeof(a->code), "%s", code ? code : "");
    snprintf(a->message, sizeof(a->message), "%s", message ? message : "");
    json_decref(a->data);
    a->data = data;
}

/* bus_reply_parts_fn: a success whose data is the object the parts make. Borrows parts. */
static inline void home_asker_parts(const bus_route_t *route, const jpart_t *parts,
                                    size_t nparts)
{
    json_t *o = json_object();
    test_jpart_add(o, parts, nparts);
    home_asker_reply(route, NULL, NULL, o);
}

/* The op name of user with args on room, its route answering member's ref to a. Borrows
 * every argument for as long as the op is in use. */
static inline bus_op_t home_op_of(const char *room, const char *name, const char *user,
                                  const json_t *args, bus_member_t member, int64_t ref,
                                  home_asker_t *a)
{
    return (bus_op_t){.room = room,
                      .name = name,
                      .user = user,
                      .args = args,
                      .route = {.member = member, .ref = ref, .fn = home_asker_reply, .ud = a}};
}

/* Sends op name of user on room with args (a JSON text; not JSON is a bug) over bus as
 * member with ref, answered to a (its fresh flag cleared first); the arguments are freed
 * right after, as a frame is. Returns bus_send_op's result. */
static inline int home_asker_send(bus_t *bus, const char *room, const char *name,
                                  const char *user, bus_member_t member, int64_t ref,
                                  const char *args, home_asker_t *a)
{
    json_t *j = json_loads(args, JSON_ALLOW_NUL, NULL);
    CH_ASSERT(j != NULL);
    a->fresh = 0;
    bus_op_t op = home_op_of(room, name, user, j, member, ref, a);
    int rc = bus_send_op(bus, &op);
    json_decref(j); /* the frame is gone; an answer after the commit does not need it */
    return rc;
}

/* The same as home_asker_send with args as a hot op brings them: the frame's text
 * scanned (jscan.h; bus_op_t.scan, no tree), which the scanner must decide. */
static inline int home_asker_send_scanned(bus_t *bus, const char *room, const char *name,
                                          const char *user, bus_member_t member, int64_t ref,
                                          const char *args, home_asker_t *a)
{
    jscan_t s;
    CH_ASSERT(jscan_parse(&s, args, strlen(args), 0) == 0);
    a->fresh = 0;
    bus_op_t op = home_op_of(room, name, user, NULL, member, ref, a);
    op.scan = &s;
    return bus_send_op(bus, &op);
}

#endif
