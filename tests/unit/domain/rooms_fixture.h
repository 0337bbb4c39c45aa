/* rooms_fixture.h: the rooms as the server runs them, for the domain unit tests: a loop, a
 * SQLite store in a fresh temporary file, the local bus (or a test's own), the server's
 * features (app.c) and the home serving the bus with the room ops, no sockets. Started
 * and stopped in the server's order, again on the same database for a restart; a room
 * operation's outcome, and a room created through it. Static inline functions only: each
 * test file is its own program, and uses what it needs. */
#ifndef CHORUS_TEST_ROOMS_FIXTURE_H
#define CHORUS_TEST_ROOMS_FIXTURE_H

#include "test.h"
#include "test_loop.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "bus/bus.h"
#include "domain/docs.h"
#include "domain/entities.h"
#include "domain/home.h"
#include "domain/rooms.h"
#include "proto/proto.h"
#include "store/store.h"
#include "store/store_sqlite.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

/* The type of f->bus: a test with a bus of its own (whose first member is its bus_t)
 * defines ROOMS_FX_BUS_T as that type before including this header. Members a test
 * keeps beside the fixture go in ROOMS_FX_EXTRA (member declarations) the same way. */
#ifndef ROOMS_FX_BUS_T
#define ROOMS_FX_BUS_T bus_t
#endif
#ifndef ROOMS_FX_EXTRA
#define ROOMS_FX_EXTRA
#endif

typedef struct {
    uv_loop_t loop;
    log_t log;
    chorus_config_t cfg;
    store_t *store;
    ROOMS_FX_BUS_T *bus;
    rooms_t r;
    home_t home;
    char db[512];
    /* What rooms_fx_start uses; rooms_fx_init sets them, a test may change them. */
    log_level_t level;
    void (*tune)(chorus_config_t *cfg);
    const rooms_feature_use_t *features; /* borrowed for rooms_fx_start (rooms_init copies) */
    size_t nfeatures;
    ROOMS_FX_EXTRA
} fx_t;

/* The server's features (app.c): leaving and disconnecting run their hooks. */
static const rooms_feature_use_t rooms_fx_features[] = {{&docs_feature, NULL},
                                                        {&entities_feature, NULL}};

/* Clears f and names its database chorus-<name>-<pid>.db under $CHORUS_TEST_TMP (or
 * /tmp), removed first. rooms_fx_start will log at level to stderr, take the default
 * options then tune(&f->cfg) when tune is not NULL, and the server's features. */
static inline void rooms_fx_init(fx_t *f, const char *name, log_level_t level,
                                 void (*tune)(chorus_config_t *cfg))
{
    memset(f, 0, sizeof(*f));
    snprintf(f->db, sizeof(f->db), "%s/chorus-%s-%ld.db", test_tmp_dir(), name, (long)getpid());
    test_rm_db(f->db);
    f->level = level;
    f->tune = tune;
    f->features = rooms_fx_features;
    f->nfeatures = CH_ARRAY_LEN(rooms_fx_features);
}

/* Starts what rooms_fx_init prepared, as the server does: the loop, the log, the
 * options, the store at f->db (kept from an earlier start), bus (taken; NULL: a new
 * local bus), the rooms with f->features, and the home serving the bus with the room
 * ops. Returns rooms_init's result, or -1 when the store did not open. */
static inline int rooms_fx_start(fx_t *f, bus_t *bus)
{
    uv_loop_init(&f->loop);
    log_init(&f->log, f->level, LOG_TEXT, stderr);
    config_defaults(&f->cfg);
    if (f->tune) f->tune(&f->cfg);
    char err[256];
    f->store = store_open(&store_sqlite_backend, f->db, &f->loop, &f->log, err, sizeof(err));
    if (!f->store) {
        fprintf(stderr, "store_open: %s\n", err);
        bus_free(bus);
        return -1;
    }
    f->bus = (ROOMS_FX_BUS_T *)(bus ? bus : bus_local_new(0, &proto_bus_rcv_ops));
    int rc = rooms_init(&f->r, &f->loop, &f->cfg, &f->log, f->store, (bus_t *)f->bus,
                        f->features, f->nfeatures);
    if (rc != 0) return rc;
    home_init(&f->home, &f->r, (bus_t *)f->bus);
    home_rooms_register(&f->home);
    return 0;
}

/* The outcome of one asynchronous room operation, recorded by rooms_fx_done. */
typedef struct {
    int done;
    json_t *result; /* NULL when the operation failed */
} rooms_fx_outcome_t;

/* rooms_done_fn recording into ud (a rooms_fx_outcome_t): done, and the result (owned by
 * the outcome from then on); a failure is said on stderr. */
static inline void rooms_fx_done(void *ud, const rooms_err_t *err, json_t *result)
{
    rooms_fx_outcome_t *o = ud;
    o->done = 1;
    if (err && err->kind) fprintf(stderr, "room op failed: %s\n", err->code);
    o->result = result;
}

/* Creates a room named name hosted by host in r (the fixture's, or an application's),
 * running loop until it is stored. Returns the room (borrowed from r), or NULL. */
static inline room_t *rooms_fx_create(rooms_t *r, uv_loop_t *loop, const char *host,
                                      const char *name)
{
    auth_claims_t h;
    memset(&h, 0, sizeof(h));
    snprintf(h.sub, sizeof(h.sub), "%s", host);
    json_t *body = json_pack("{s:s}", "name", name);
    rooms_fx_outcome_t o = {0};
    rooms_create(r, &h, body, rooms_fx_done, &o);
    json_decref(body);
    if (!test_run_until(loop, &o.done, 5000) || !o.result) return NULL;
    const char *id =
        json_string_value(json_object_get(json_object_get(o.result, "room"), "id"));
    room_t *room = id ? rooms_get(r, id) : NULL;
    json_decref(o.result);
    return room;
}

/* Puts connection c (its id and user set) in room as a join does: attached at the home
 * (rooms_attach), then subscribed on its process (rooms_subscribe). Returns 0 or -1. */
static inline int rooms_fx_attach(fx_t *f, room_t *room, proto_client_t *c)
{
    if (rooms_attach(&f->r, room, c->rcv.id, c->user.sub) != 0) return -1;
    return rooms_subscribe(&f->r, room, &c->rcv);
}

/* Stops everything in the server's order, keeping the database for another start;
 * returns uv_loop_close's result (0: nothing was left open). */
static inline int rooms_fx_stop(fx_t *f)
{
    rooms_close(&f->r);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    store_close(f->store);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    rooms_free(&f->r);
    home_free(&f->home);
    bus_free((bus_t *)f->bus);
    f->bus = NULL;
    int rc = uv_loop_close(&f->loop);
    config_free(&f->cfg);
    return rc;
}

/* rooms_fx_init then rooms_fx_start with a local bus. */
static inline int rooms_fx_open(fx_t *f, const char *name, log_level_t level,
                                void (*tune)(chorus_config_t *cfg))
{
    rooms_fx_init(f, name, level, tune);
    return rooms_fx_start(f, NULL);
}

/* rooms_fx_stop, then removes the database; returns rooms_fx_stop's result. */
static inline int rooms_fx_close(fx_t *f)
{
    int rc = rooms_fx_stop(f);
    test_rm_db(f->db);
    return rc;
}

#endif
