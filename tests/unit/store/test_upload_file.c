/* test_upload_file.c: a finished upload's blob is linked before its record says complete
 * (a complete record always has its blob), the data file goes, the same bytes twice are
 * one blob (deduped), and a reopened complete upload reports its digest. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <uv.h>

#include "store/upload_file.h"
#include "test.h"

#define ABC_SHA "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

typedef struct {
    uv_loop_t loop;
    char dir[512], blobs[512];
    upload_file_t *f;
    int status, calls;
} ctx_t;

static void on_cb(upload_file_t *f, int status, void *ud)
{
    ctx_t *c = ud;
    c->f = f;
    c->status = status;
    c->calls++;
}

static void run(ctx_t *c)
{
    c->calls = 0;
    uv_run(&c->loop, UV_RUN_DEFAULT);
}

/* Creates upload id of "abc" and sends it in one PATCH; leaves the upload in c->f. */
static int upload_abc(ctx_t *c, const char *id)
{
    upload_file_create(&c->loop, c->dir, id, 3, "{}", 2, on_cb, c);
    run(c);
    if (c->calls != 1 || c->status != 0) return -1;
    upload_file_patch_begin(c->f, NULL, c->blobs);
    upload_file_write(c->f, "abc", 3);
    upload_file_patch_end(c->f, on_cb, c);
    run(c);
    return c->calls == 1 ? c->status : -1;
}

static void rm_rf(const char *path)
{
    char cmd[1100];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    if (system(cmd) != 0) fprintf(stderr, "cannot remove %s\n", path);
}

static void test_blob_linked_before_complete(void)
{
    ctx_t c;
    memset(&c, 0, sizeof(c));
    uv_loop_init(&c.loop);
    char root[400];
    snprintf(root, sizeof(root), "%s/chorus-upload-%ld", test_tmp_dir(), (long)getpid());
    rm_rf(root);
    ASSERT_EQ(mkdir(root, 0700), 0);
    snprintf(c.dir, sizeof(c.dir), "%s/uploads", root);
    snprintf(c.blobs, sizeof(c.blobs), "%s/blobs", root);
    const char *id1 = "0123456789abcdef0123456789abcdef";
    const char *id2 = "fedcba9876543210fedcba9876543210";

    ASSERT_EQ(upload_abc(&c, id1), 0);
    uint8_t d[32];
    ASSERT_TRUE(upload_file_complete(c.f, d));
    ASSERT_EQ(upload_file_deduped(c.f), 0);
    upload_file_close(c.f);
    char blob[1100], part[1100], got[8] = {0};
    snprintf(blob, sizeof(blob), "%s/ba/%s", c.blobs, ABC_SHA);
    FILE *bf = fopen(blob, "rb");
    ASSERT_TRUE(bf != NULL);
    size_t n = fread(got, 1, sizeof(got), bf);
    fclose(bf);
    ASSERT_EQ(n, 3);
    ASSERT_STREQ(got, "abc");
    snprintf(part, sizeof(part), "%s/%s.part", c.dir, id1);
    ASSERT_NE(access(part, F_OK), 0); /* the content lives in the blob */

    /* reopened (as a HEAD or a PATCH does): complete, at its full offset */
    upload_file_open(&c.loop, c.dir, id1, 1, on_cb, &c);
    run(&c);
    ASSERT_EQ(c.status, 0);
    ASSERT_TRUE(upload_file_complete(c.f, d));
    ASSERT_EQ(upload_file_offset(c.f), 3);
    upload_file_close(c.f);

    /* the same bytes again: the blob there is kept */
    ASSERT_EQ(upload_abc(&c, id2), 0);
    ASSERT_TRUE(upload_file_complete(c.f, NULL));
    ASSERT_EQ(upload_file_deduped(c.f), 1);
    upload_file_close(c.f);
    snprintf(part, sizeof(part), "%s/%s.part", c.dir, id2);
    ASSERT_NE(access(part, F_OK), 0);

    uv_loop_close(&c.loop);
    rm_rf(root);
}

int main(void)
{
    RUN(test_blob_linked_before_complete);
    TEST_MAIN_END();
}
