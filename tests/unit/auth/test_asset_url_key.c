/* test_asset_url_key.c: the asset URL key file: created whole at the first load (64 hex
 * digits and a newline, mode 0600, no temporary file left), read back the same at the
 * next, and a short file (what a crash in the middle of writing it in place once left)
 * refused rather than taken. */
#include "test.h"

#include <dirent.h>
#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth/asset_url_key.h"
#include "util/log.h"

static log_t lg;

/* Entries of dir besides . and .. */
static int entries(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0) n++;
    if (d) closedir(d);
    return n;
}

static void test_created_whole_then_read(void)
{
    char dir[] = "/tmp/chorus-akey-XXXXXX", path[256];
    ASSERT_TRUE(mkdtemp(dir) != NULL);
    snprintf(path, sizeof(path), "%s/asset_url_key", dir);
    uint8_t k1[ASSET_URL_KEY_LEN], k2[ASSET_URL_KEY_LEN];
    ASSERT_EQ(asset_url_key_load(dir, k1, &lg), 0);
    struct stat st;
    ASSERT_EQ(stat(path, &st), 0);
    ASSERT_EQ((long)st.st_size, ASSET_URL_KEY_LEN * 2 + 1);
    ASSERT_EQ(st.st_mode & 0777, 0600);
    ASSERT_EQ(entries(dir), 1); /* no temporary file left */
    ASSERT_EQ(asset_url_key_load(dir, k2, &lg), 0);
    ASSERT_TRUE(memcmp(k1, k2, sizeof(k1)) == 0);
    /* A short file is refused, not replaced nor taken. */
    int fd = open(path, O_WRONLY | O_TRUNC);
    ASSERT_TRUE(fd >= 0);
    ASSERT_EQ(write(fd, "abcd\n", 5), 5);
    close(fd);
    ASSERT_EQ(asset_url_key_load(dir, k2, &lg), -1);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    if (sodium_init() < 0) return 1;
    log_init(&lg, LOG_ERROR, LOG_TEXT, stderr);
    RUN(test_created_whole_then_read);
    TEST_MAIN_END();
}
