/* asset_url_key.c: the key signed asset URLs are made with (asset_url.h), kept in
 * DATA/asset_url_key (64 hex digits, mode 0600), generated at the first start. Every node
 * that serves the same assets needs the same file. */
#include "auth/asset_url_key.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#define KEY_FILE "asset_url_key"

int asset_url_key_load(const char *data_dir, uint8_t key[ASSET_URL_KEY_LEN], log_t *lg)
{
    char path[4096];
    snprintf(path, sizeof(path), "%s/" KEY_FILE, data_dir);
    char hex[ASSET_URL_KEY_LEN * 2 + 2];
    struct stat st;
    if (stat(path, &st) != 0 && errno == ENOENT) {
        /* Written whole to a file of this process, then linked into place: a crash never
         * leaves a short key file, and of two starts racing, the one linked first wins. */
        char tmp[4200];
        snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
        int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (fd < 0) {
            log_error(lg, "cannot create '%s': %s", tmp, strerror(errno));
            return -1;
        }
        uint8_t fresh[ASSET_URL_KEY_LEN];
        randombytes_buf(fresh, sizeof(fresh));
        sodium_bin2hex(hex, sizeof(hex), fresh, sizeof(fresh));
        size_t n = strlen(hex);
        hex[n] = '\n';
        int ok = write(fd, hex, n + 1) == (ssize_t)(n + 1) && fsync(fd) == 0;
        int e = errno;
        close(fd);
        int linked = ok && link(tmp, path) == 0;
        if (ok && !linked) e = errno;
        unlink(tmp);
        if (linked) {
            memcpy(key, fresh, sizeof(fresh));
            sodium_memzero(fresh, sizeof(fresh));
            log_info(lg, "generated the asset URL key in %s", path);
            return 0;
        }
        sodium_memzero(fresh, sizeof(fresh));
        if (!ok || e != EEXIST) {
            log_error(lg, "cannot write '%s': %s", path, strerror(e));
            return -1;
        }
        /* Another start linked its key first: that one is read below. */
    }
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(hex, 1, sizeof(hex) - 1, f) : 0;
    if (f) fclose(f);
    while (n > 0 && (hex[n - 1] == '\n' || hex[n - 1] == '\r'))
        n--;
    size_t got = 0;
    if (n != ASSET_URL_KEY_LEN * 2 ||
        sodium_hex2bin(key, ASSET_URL_KEY_LEN, hex, n, NULL, &got, NULL) != 0 ||
        got != ASSET_URL_KEY_LEN) {
        log_error(lg, "'%s' must hold 64 hex digits", path);
        return -1;
    }
    if (stat(path, &st) == 0 && (st.st_mode & 077))
        log_warn(lg, "'%s' is readable by other users; chmod 600 it", path);
    return 0;
}
