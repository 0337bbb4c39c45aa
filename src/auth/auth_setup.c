/* auth_setup.c: builds the token verifier from the configuration at start-up: the HS256
 * secret (configured, or generated once into the data directory with mode 0600), or the
 * PEM keys for RS256/ES256. */
#include "auth/auth_setup.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/auth_password.h"
#include "auth/auth_random.h"
#include "util/mem.h"

#define SECRET_FILE "jwt_secret"
#define SECRET_BYTES 32
#define KEY_FILE_MAX (64 * 1024)

/* Reads a whole small file into a new buffer (caller frees). Returns NULL with a log line. */
static unsigned char *read_file(const char *path, size_t *len, log_t *lg)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        log_error(lg, "cannot read '%s': %s", path, strerror(errno));
        return NULL;
    }
    unsigned char *buf = ch_malloc(KEY_FILE_MAX + 1);
    size_t n = fread(buf, 1, KEY_FILE_MAX + 1, f);
    int bad = ferror(f) || n == 0 || n > KEY_FILE_MAX;
    fclose(f);
    if (bad) {
        log_error(lg, "'%s' is empty, unreadable or larger than 64 KiB", path);
        free(buf);
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

/* Returns the secret kept in the data directory, creating it on first start when create
 * is set (otherwise a missing file is an error that says where it looked). */
static char *data_dir_secret(const char *data_dir, int create, log_t *lg)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/" SECRET_FILE, data_dir);
    struct stat st;
    if (!create && stat(path, &st) != 0) {
        log_error(lg,
                  "no token secret at '%s' (%s): start the server once with --data %s to "
                  "create it, or give the server's --jwt-secret",
                  path, strerror(errno), data_dir);
        return NULL;
    }
    int fd = create ? open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
    if (fd >= 0) {
        char hex[SECRET_BYTES * 2 + 2];
        auth_random_hex(hex, SECRET_BYTES);
        size_t n = strlen(hex);
        hex[n] = '\n';
        int ok = write(fd, hex, n + 1) == (ssize_t)(n + 1) && fsync(fd) == 0;
        close(fd);
        if (!ok) {
            log_error(lg, "cannot write '%s': %s", path, strerror(errno));
            unlink(path);
            return NULL;
        }
        log_info(lg, "generated a token secret in %s", path);
        hex[n] = '\0';
        return ch_strdup(hex);
    }
    if (create && errno != EEXIST) {
        log_error(lg, "cannot create '%s': %s", path, strerror(errno));
        return NULL;
    }
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        log_warn(lg, "'%s' is readable by other users; chmod 600 it", path);
    size_t len;
    char *s = (char *)read_file(path, &len, lg);
    if (!s) return NULL;
    while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r' || s[len - 1] == ' '))
        s[--len] = '\0';
    if (len < 32) {
        log_error(lg, "'%s' holds a secret shorter than 32 characters", path);
        free(s);
        return NULL;
    }
    return s;
}

auth_jwt_t *auth_setup(const chorus_config_t *cfg, int create_secret, log_t *lg)
{
    if (auth_init() != 0) {
        log_error(lg, "libsodium failed to initialise");
        return NULL;
    }
    int64_t leeway = (int64_t)(cfg->jwt_leeway / 1000);
    if (strcmp(cfg->jwt_alg, "HS256") == 0) {
        char *secret = cfg->jwt_secret[0] ? ch_strdup(cfg->jwt_secret)
                                          : data_dir_secret(cfg->data_dir, create_secret, lg);
        if (!secret) return NULL;
        size_t n = strlen(secret);
        if (n < 32) {
            log_error(lg, "jwt-secret is %zu bytes; HS256 needs at least 32", n);
            memset(secret, 0, n);
            free(secret);
            return NULL;
        }
        auth_jwt_t *a = auth_jwt_new(AUTH_ALG_HS256, (unsigned char *)secret, n,
                                     (unsigned char *)secret, n, leeway);
        memset(secret, 0, n);
        free(secret);
        if (!a) log_error(lg, "cannot set up HS256 tokens");
        return a;
    }
    auth_alg_t alg = strcmp(cfg->jwt_alg, "RS256") == 0 ? AUTH_ALG_RS256 : AUTH_ALG_ES256;
    if (!cfg->jwt_public_key[0]) {
        log_error(lg, "jwt-alg %s needs jwt-public-key (a PEM file)", cfg->jwt_alg);
        return NULL;
    }
    size_t publen = 0, privlen = 0;
    unsigned char *pub = read_file(cfg->jwt_public_key, &publen, lg), *priv = NULL;
    if (!pub) return NULL;
    if (cfg->jwt_private_key[0]) {
        priv = read_file(cfg->jwt_private_key, &privlen, lg);
        if (!priv) {
            free(pub);
            return NULL;
        }
    }
    auth_jwt_t *a = auth_jwt_new(alg, pub, publen, priv, privlen, leeway);
    free(pub);
    if (priv) {
        memset(priv, 0, privlen);
        free(priv);
    }
    if (!a) log_error(lg, "cannot use the %s key(s)", cfg->jwt_alg);
    return a;
}
