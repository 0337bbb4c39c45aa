/* cmd_apikey.c: chorus apikey create --name N | list | revoke ID, on the database the
 * server uses (cmd_store.h opens it: --data or --store, the environment, the config file).
 * A key is shown once, by create; the store keeps its id, name and its secret's hash. */
#include "app/cmd_apikey.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "app/cmd_store.h"
#include "auth/apikey.h"
#include "util/clock.h"
#include "util/mem.h"
#include "util/utf8.h"

static void cmd_apikey_usage(FILE *out)
{
    fprintf(out,
            "usage: chorus apikey create --name NAME [--data DIR | --store URL]\n"
            "       chorus apikey list [--data DIR | --store URL]\n"
            "       chorus apikey revoke ID [--data DIR | --store URL]\n"
            "Manages the API keys of app backends (the server API under /api/server/,\n"
            "docs/api.md). create prints the new key (chk_<id>_<secret>) once on standard\n"
            "output: only its hash is stored. list prints one key a line: id, created,\n"
            "revoked (or -) and name, never a secret. revoke ID refuses the key from the\n"
            "next request on, on every server using the database.\n\n"
            "  --name NAME          what the key is for, 1 to 128 bytes of UTF-8\n"
            "  --data DIR           the data directory (default ./var; CHORUS_DATA)\n"
            "  --store URL          a PostgreSQL database instead (CHORUS_STORE)\n"
            "  --config PATH        a JSON config file, as for chorus serve\n"
            "  -h, --help           this text\n");
}

/* Writes unix ms as "2026-01-31T12:00:00Z" into out. */
static void cmd_apikey_time(int64_t ms, char out[32])
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&s, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int cmd_apikey_create(cmd_store_db_t *db, const char *name)
{
    store_req_t req;
    memset(&req, 0, sizeof(req));
    req.type = STORE_APIKEY_CREATE;
    char text[APIKEY_TEXT_LEN + 1];
    snprintf(req.apikey.name, sizeof(req.apikey.name), "%s", name);
    req.apikey.created_at = clock_unix_ms();
    /* A taken id (1 in 2^64 per key) draws again. */
    for (int tries = 0; tries < 3; tries++) {
        apikey_new(req.apikey.id, text, req.apikey.hash);
        if (cmd_store_db_run(db, &req) != STORE_EEXISTS) break;
    }
    int rc = 1;
    if (req.err == STORE_OK) {
        printf("%s\n", text);
        fprintf(stderr,
                "chorus apikey: created key %s (%s); it is shown this once: keep it in the "
                "app backend's secrets\n",
                req.apikey.id, name);
        rc = 0;
    } else {
        fprintf(stderr, "chorus apikey: create failed (see the log above)\n");
    }
    sodium_memzero(text, sizeof(text));
    return rc;
}

static int cmd_apikey_list(cmd_store_db_t *db)
{
    store_req_t req;
    memset(&req, 0, sizeof(req));
    req.type = STORE_APIKEY_LIST;
    if (cmd_store_db_run(db, &req) != STORE_OK) {
        fprintf(stderr, "chorus apikey: list failed (see the log above)\n");
        free(req.apikeys);
        return 1;
    }
    for (size_t i = 0; i < req.napikeys; i++) {
        const store_apikey_t *k = &req.apikeys[i];
        char created[32], revoked[32] = "-";
        cmd_apikey_time(k->created_at, created);
        if (k->revoked_at) cmd_apikey_time(k->revoked_at, revoked);
        printf("%s  %s  %-20s  %s\n", k->id, created, revoked, k->name);
    }
    free(req.apikeys);
    return 0;
}

static int cmd_apikey_revoke(cmd_store_db_t *db, const char *id)
{
    store_req_t req;
    memset(&req, 0, sizeof(req));
    req.type = STORE_APIKEY_REVOKE;
    snprintf(req.apikey.id, sizeof(req.apikey.id), "%s", id);
    req.apikey.revoked_at = clock_unix_ms();
    int err = cmd_store_db_run(db, &req);
    if (err == STORE_ENOTFOUND) {
        fprintf(stderr, "chorus apikey: revoke: no key %s (chorus apikey list shows them)\n",
                id);
        return 1;
    }
    if (err != STORE_OK) {
        fprintf(stderr, "chorus apikey: revoke failed (see the log above)\n");
        return 1;
    }
    printf("revoked %s (%s)\n", req.apikey.id, req.apikey.name);
    return 0;
}

int cmd_apikey(int argc, char **argv)
{
    if (argc < 1 || argv[0][0] == '-') {
        int help = argc >= 1 && (strcmp(argv[0], "-h") == 0 || strcmp(argv[0], "--help") == 0);
        cmd_apikey_usage(help ? stdout : stderr);
        return help ? 0 : 2;
    }
    const char *sub = argv[0];
    const char *name = NULL, *id = NULL;
    char **rest = ch_calloc((size_t)argc + 1, sizeof(char *));
    int nrest = 0, rc = 0;
    for (int i = 1; i < argc && rc == 0; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            cmd_apikey_usage(stdout);
            free(rest);
            return 0;
        }
        if (strcmp(sub, "create") == 0 && strcmp(argv[i], "--name") == 0) {
            if (i + 1 >= argc) {
                fprintf(stderr, "chorus apikey: --name needs a value\n");
                rc = 2;
            } else {
                name = argv[++i];
            }
        } else if (strcmp(sub, "revoke") == 0 && !id && argv[i][0] != '-') {
            id = argv[i];
        } else {
            rest[nrest++] = argv[i];
        }
    }
    if (rc == 0 && strcmp(sub, "create") == 0) {
        if (!name || !*name || strlen(name) >= STORE_NAME_LEN ||
            !utf8_valid((const uint8_t *)name, strlen(name))) {
            fprintf(stderr,
                    "chorus apikey: create: --name NAME is required (1 to %d bytes of "
                    "UTF-8)\n",
                    STORE_NAME_LEN - 1);
            rc = 2;
        }
    } else if (rc == 0 && strcmp(sub, "revoke") == 0) {
        if (!id || strlen(id) != STORE_APIKEY_ID_LEN - 1 ||
            strspn(id, "0123456789abcdef") != STORE_APIKEY_ID_LEN - 1) {
            fprintf(stderr, "chorus apikey: revoke: ID is required (the 16 hex digits after "
                            "chk_, as chorus apikey list shows)\n");
            rc = 2;
        }
    } else if (rc == 0 && strcmp(sub, "list") != 0) {
        fprintf(stderr, "chorus apikey: unknown command '%s' (create, list or revoke)\n", sub);
        rc = 2;
    }
    if (rc != 0) {
        free(rest);
        return rc;
    }
    if (sodium_init() < 0) {
        fprintf(stderr, "chorus apikey: libsodium failed to initialise\n");
        free(rest);
        return 1;
    }
    cmd_store_db_t *db = cmd_store_db_open("apikey", nrest, rest, &rc);
    free(rest);
    if (!db) return rc;
    if (strcmp(sub, "create") == 0)
        rc = cmd_apikey_create(db, name);
    else if (strcmp(sub, "list") == 0)
        rc = cmd_apikey_list(db);
    else
        rc = cmd_apikey_revoke(db, id);
    cmd_store_db_close(db);
    return rc;
}
