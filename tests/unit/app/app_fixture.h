/* app_fixture.h: an application context (app.c) as main.c builds one, for the unit tests
 * of the member's side and the REST side: a loop, a log, the default options with a fresh
 * data folder, a JWT key, no sockets; connections are fake clients (fake_client.h) whose
 * frames go to the protocol as the WebSocket layer hands them. Static inline functions
 * only: each test file is its own program. */
#ifndef CHORUS_TEST_APP_FIXTURE_H
#define CHORUS_TEST_APP_FIXTURE_H

#include "test.h"
#include "test_loop.h"
#include "fake_client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "app/app.h"
#include "auth/auth_jwt.h"
#include "util/config.h"
#include "util/log.h"
#include "util/mem.h"

typedef struct {
    uv_loop_t loop;
    log_t log;
    chorus_config_t cfg;
    auth_jwt_t *jwt;
    app_t app;
    char dir[512];
    char db[600];
} app_fx_t;

/* Makes the data folder chorus-<name>-<pid> under $CHORUS_TEST_TMP (or /tmp) in dir,
 * its database's path in db (removed, with its WAL files), and cfg the default options
 * with that data folder (config_free frees them). Returns 0, or -1 when the folder
 * could not be made (cfg untouched). */
static inline int app_fx_data_dir(chorus_config_t *cfg, char dir[512], char db[600],
                                  const char *name)
{
    snprintf(dir, 512, "%s/chorus-%s-%ld", test_tmp_dir(), name, (long)getpid());
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) return -1;
    snprintf(db, 600, "%s/chorus.db", dir);
    test_rm_db(db);
    config_defaults(cfg);
    free(cfg->data_dir);
    cfg->data_dir = ch_strdup(dir);
    return 0;
}

/* Clears f and starts a context on a new loop on the data folder app_fx_data_dir makes
 * for name. Returns app_init's result, or -1 when the folder or the key could not be
 * made. */
static inline int app_fx_open(app_fx_t *f, const char *name)
{
    memset(f, 0, sizeof(*f));
    if (app_fx_data_dir(&f->cfg, f->dir, f->db, name) != 0) return -1;
    static const unsigned char secret[] = "0123456789abcdef0123456789abcdef";
    f->jwt = auth_jwt_new(AUTH_ALG_HS256, secret, 32, secret, 32, 0);
    if (!f->jwt) {
        config_free(&f->cfg);
        return -1;
    }
    log_init(&f->log, LOG_WARN, LOG_TEXT, stderr);
    uv_loop_init(&f->loop);
    return app_init(&f->app, &f->loop, &f->cfg, &f->log, f->jwt);
}

/* Stops the context as main.c does, then removes the data folder; returns
 * uv_loop_close's result (0: nothing was left open). */
static inline int app_fx_close(app_fx_t *f)
{
    app_close(&f->app);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    app_store_close(&f->app);
    uv_run(&f->loop, UV_RUN_DEFAULT);
    app_free(&f->app);
    int rc = uv_loop_close(&f->loop);
    auth_jwt_free(f->jwt);
    config_free(&f->cfg);
    test_rm_db(f->db);
    rmdir(f->dir);
    return rc;
}

/* Makes c an authenticated connection of user sub to f's context: a new identity on its
 * bus, the recording transport, the protocol's limits. Borrows f and sub. */
static inline void app_fx_client(app_fx_t *f, fake_client_t *c, const char *sub)
{
    fake_client_init(c, f->app.bus, sub);
    proto_client_init(&c->pc, &f->app.proto.limits, &fake_client_tr, uv_now(&f->loop));
}

/* Hands c's frame (printf-formatted) to the protocol, as the WebSocket layer does. */
static inline void app_fx_handle(app_t *a, fake_client_t *c, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static inline void app_fx_handle(app_t *a, fake_client_t *c, const char *fmt, ...)
{
    char text[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    proto_handle_text(&a->proto, &c->pc, text, strlen(text), uv_now(a->loop));
}

/* Runs loop until c has no answer pending (or about 5 s went by). */
static inline void app_fx_settle(uv_loop_t *loop, const fake_client_t *c)
{
    for (int i = 0; i < 2500 && c->pc.pending; i++)
        test_run_for(loop, 2);
}

#endif
