/* rooms_fixture.h: the rooms as the server runs them, for the domain unit tests: a loop, a
 * SQLite store in a fresh temporary file, the local bus and the server's features (app.c),
 * no sockets, and the rooms' home on that bus (home_rooms_register, as app.c: where a
 * disconnect's detach goes). Opened and closed in the server's order. Static functions
 * only: each test file is its own program. */
#ifndef CHORUS_TEST_ROOMS_FIXTURE_H
#define CHORUS_TEST_ROOMS_FIXTURE_H

#include "test.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "bus/bus.h"
#include "domain/docs.h"
#include "domain/entities.h"
#include "domain/home.h"
#include "domain/rooms.h"
#include "store/store.h"
#include "store/store_sqlite.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

typedef struct {
    uv_loop_t loop;
    log_t log;
    chorus_config_t cfg;
    store_t *store;
    bus_t *bus;
    rooms_t r;
    home_t home;
    char db[512];
} fx_t;

/* Opens f: the database chorus-<name>-<pid>.db under $CHORUS_TEST_TMP (or /tmp), removed
 * first; logs at level to stderr; the default options, then tune(&f->cfg) when tune is not
 * NULL; the store, the local bus and the rooms with the server's features (documents,
 * entities), so that leaving and disconnecting run their hooks. Returns rooms_init's
 * result, or -1 when the store did not open. */
static int rooms_fx_open(fx_t *f, const char *name, log_level_t level,
                         void (*tune)(chorus_config_t *cfg))
{
    memset(f, 0, sizeof(*f));
    const char *dir = getenv("CHORUS_TEST_TMP");
    if (!dir || !*dir) dir = "/tmp";
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) dir = "/tmp";
    snprintf(f->db, sizeof(f->db), "%s/chorus-%s-%ld.db", dir, name, (long)getpid());
    test_rm_db(f->db);
    uv_loop_init(&f->loop);
    log_init(&f->log, level, LOG_TEXT, stderr);
    config_defaults(&f->cfg);
    if (tune) tune(&f->cfg);
    char err[256];
    f->store = store_open(&store_sqlite_backend, f->db, &f->loop, &f->log, err, sizeof(err));
    if (!f->store) {
        fprintf(stderr, "store_open: %s\n", err);
        return -1;
    }
    f->bus = bus_local_new(0);
    static const rooms_feature_use_t features[] = {{&docs_feature, NULL},
                                                   {&entities_feature, NULL}};
    int rc = rooms_init(&f->r, &f->loop, &f->cfg, &f->log, f->store, f->bus, features,
                        CH_ARRAY_LEN(features));
    if (rc != 0) return rc;
    home_init(&f->home, &f->r, f->bus);
    home_rooms_register(&f->home);
    return 0;
}

/* Puts connection c (its id and user set) in room as a join does: attached at the home
 * (rooms_attach), then subscribed on its process (rooms_subscribe). Returns 0 or -1. */
static inline int rooms_fx_attach(fx_t *f, room_t *room, proto_client_t *c)
{
    if (rooms_attach(&f->r, room, c->id, c->user.sub) != 0) return -1;
    return rooms_subscribe(&f->r, room, c);
}

/* Closes everything as the server does, removes the database and returns uv_loop_close's
 * result (0: nothing was left open). */
static int rooms_fx_close(fx_t *f)
{
    rooms_close(&f->r);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    store_close(f->store);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    rooms_free(&f->r);
    home_free(&f->home);
    bus_free(f->bus);
    int rc = uv_loop_close(&f->loop);
    config_free(&f->cfg);
    test_rm_db(f->db);
    return rc;
}

#endif
