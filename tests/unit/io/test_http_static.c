/* test_http_static.c: unit tests for path normalisation, MIME types and static_open. */
#include "io/http_static.h"
#include "test.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Normalises path into out; returns the result code. */
static int norm(const char *path, char *out, size_t cap)
{
    return static_path_normalize(path, strlen(path), out, cap);
}

#define NORM_OK(in, want)                                                                      \
    do {                                                                                       \
        char o_[256];                                                                          \
        ASSERT_EQ(norm((in), o_, sizeof(o_)), 0);                                              \
        ASSERT_STREQ(o_, (want));                                                              \
    } while (0)

#define NORM_BAD(in)                                                                           \
    do {                                                                                       \
        char o_[256];                                                                          \
        ASSERT_EQ(norm((in), o_, sizeof(o_)), -1);                                             \
    } while (0)

static void test_normalize_ok(void)
{
    NORM_OK("/", "");
    NORM_OK("/a/b.js", "a/b.js");
    NORM_OK("//a/./b", "a/b");
    NORM_OK("/a//b///c", "a/b/c");
    NORM_OK("/./", "");
    NORM_OK("/.", "");
    NORM_OK("/a/", "a/");
    NORM_OK("/a/b/", "a/b/");
    NORM_OK("/a//", "a/");
    NORM_OK("/a/.", "a/");
    NORM_OK("/a/./", "a/");
    NORM_OK("/a%2fb", "a/b");
    NORM_OK("/a%2Fb", "a/b");
    NORM_OK("/hello%20world.txt", "hello world.txt");
    NORM_OK("/%41%62c", "Abc");
    NORM_OK("/a/%2e/b", "a/b");
    NORM_OK("/...", "...");
    NORM_OK("/..a/b..", "..a/b..");
    NORM_OK("/caf%C3%A9", "caf\xc3\xa9");
}

static void test_normalize_bad(void)
{
    NORM_BAD("/a/../b");
    NORM_BAD("/..");
    NORM_BAD("/../etc/passwd");
    NORM_BAD("/a/..");
    NORM_BAD("/a/../");
    NORM_BAD("/%2e%2e/etc/passwd");
    NORM_BAD("/%2E%2e");
    NORM_BAD("/.%2e/x");
    NORM_BAD("/a%2f..%2fb");
    NORM_BAD("/%00");
    NORM_BAD("/a%00.html");
    NORM_BAD("/a\\b");
    NORM_BAD("/a%5cb");
    NORM_BAD("/%zz");
    NORM_BAD("/%2");
    NORM_BAD("/%");
    NORM_BAD("/a%g0");
    NORM_BAD("relative");
    NORM_BAD("");
    NORM_BAD("a/b");
    /* An embedded NUL in the raw bytes (len covers it). */
    char o[64];
    ASSERT_EQ(static_path_normalize("/a\0b", 4, o, sizeof(o)), -1);
}

static void test_normalize_capacity(void)
{
    char o[8];
    ASSERT_EQ(norm("/abcdefg", o, sizeof(o)), 0); /* 7 chars + NUL fit exactly */
    ASSERT_STREQ(o, "abcdefg");
    ASSERT_EQ(norm("/abcdefgh", o, sizeof(o)), -1);
    ASSERT_EQ(norm("/abcdef/", o, sizeof(o)), 0);
    ASSERT_STREQ(o, "abcdef/");
    ASSERT_EQ(norm("/abcdefg/", o, sizeof(o)), -1);
    /* Only the result counts, not the raw length. */
    ASSERT_EQ(norm("/./././././././././a", o, sizeof(o)), 0);
    ASSERT_STREQ(o, "a");
    ASSERT_EQ(norm("/", o, 1), 0);
    ASSERT_STREQ(o, "");
    ASSERT_EQ(norm("/a", o, 1), -1);
    ASSERT_EQ(norm("/", o, 0), -1);
    /* len is honoured: bytes beyond it are not read. */
    ASSERT_EQ(static_path_normalize("/ab/../c", 3, o, sizeof(o)), 0);
    ASSERT_STREQ(o, "ab");
}

static void test_mime_types(void)
{
    ASSERT_STREQ(static_mime_type("index.html"), "text/html; charset=utf-8");
    ASSERT_STREQ(static_mime_type("a/b/app.js"), "text/javascript; charset=utf-8");
    ASSERT_STREQ(static_mime_type("mod.mjs"), "text/javascript; charset=utf-8");
    ASSERT_STREQ(static_mime_type("style.CSS"), "text/css; charset=utf-8");
    ASSERT_STREQ(static_mime_type("data.json"), "application/json; charset=utf-8");
    ASSERT_STREQ(static_mime_type("app.js.map"), "application/json; charset=utf-8");
    ASSERT_STREQ(static_mime_type("logo.svg"), "image/svg+xml; charset=utf-8");
    ASSERT_STREQ(static_mime_type("a.png"), "image/png");
    ASSERT_STREQ(static_mime_type("a.jpg"), "image/jpeg");
    ASSERT_STREQ(static_mime_type("a.jpeg"), "image/jpeg");
    ASSERT_STREQ(static_mime_type("a.gif"), "image/gif");
    ASSERT_STREQ(static_mime_type("a.webp"), "image/webp");
    ASSERT_STREQ(static_mime_type("favicon.ico"), "image/x-icon");
    ASSERT_STREQ(static_mime_type("m.wasm"), "application/wasm");
    ASSERT_STREQ(static_mime_type("r.txt"), "text/plain; charset=utf-8");
    ASSERT_STREQ(static_mime_type("f.woff"), "font/woff");
    ASSERT_STREQ(static_mime_type("f.woff2"), "font/woff2");
    ASSERT_STREQ(static_mime_type("noext"), "application/octet-stream");
    ASSERT_STREQ(static_mime_type("a.unknown"), "application/octet-stream");
    ASSERT_STREQ(static_mime_type(".html"), "application/octet-stream"); /* dotfile */
    ASSERT_STREQ(static_mime_type("dir.js/file"), "application/octet-stream");
    ASSERT_STREQ(static_mime_type(""), "application/octet-stream");
}

/* A scratch web root: <tmp>/chorus-static-XXXXXX/{root,outside}. */
typedef struct {
    char base[PATH_MAX];
    char root[PATH_MAX]; /* as realpath returns it */
} fixture_t;

static int write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    fputs(text, f);
    return fclose(f);
}

static void fixture_teardown(fixture_t *fx);

/* Returns 0, or -1 after removing whatever it had created. */
static int fixture_populate(fixture_t *fx);

static int fixture_setup(fixture_t *fx)
{
    if (fixture_populate(fx) == 0) return 0;
    perror("fixture");
    if (fx->base[0]) fixture_teardown(fx);
    return -1;
}

static int fixture_populate(fixture_t *fx)
{
    snprintf(fx->base, sizeof(fx->base), "%s/chorus-static-XXXXXX", test_tmp_dir());
    if (!mkdtemp(fx->base)) {
        fx->base[0] = '\0';
        return -1;
    }
    char p[PATH_MAX + 64], q[PATH_MAX + 64], root[PATH_MAX + 16];
    snprintf(root, sizeof(root), "%s/root", fx->base);
    if (mkdir(root, 0755) != 0 || !realpath(root, fx->root)) return -1;
#define MK(fmt, ...) (snprintf(p, sizeof(p), fmt, __VA_ARGS__), p)
    if (write_file(MK("%s/index.html", fx->root), "<h1>root</h1>") != 0) return -1;
    if (write_file(MK("%s/app.js", fx->root), "console.log(1)") != 0) return -1;
    if (mkdir(MK("%s/docs", fx->root), 0755) != 0) return -1;
    if (write_file(MK("%s/docs/index.html", fx->root), "<h1>docs</h1>") != 0) return -1;
    if (mkdir(MK("%s/empty", fx->root), 0755) != 0) return -1;
    if (mkdir(MK("%s/outside", fx->base), 0755) != 0) return -1;
    if (write_file(MK("%s/outside/secret.txt", fx->base), "secret") != 0) return -1;
    snprintf(q, sizeof(q), "%s/outside/secret.txt", fx->base);
    if (symlink(q, MK("%s/leak.txt", fx->root)) != 0) return -1;
    if (symlink("../outside", MK("%s/leakdir", fx->root)) != 0) return -1;
    if (symlink("app.js", MK("%s/alias.js", fx->root)) != 0) return -1;
    if (symlink("docs", MK("%s/docs-link", fx->root)) != 0) return -1;
    if (mkfifo(MK("%s/fifo", fx->root), 0644) != 0) return -1;
#undef MK
    return 0;
}

static void fixture_teardown(fixture_t *fx)
{
    static const char *files[] = {"root/index.html", "root/app.js",  "root/docs/index.html",
                                  "root/leak.txt",   "root/leakdir", "root/alias.js",
                                  "root/docs-link",  "root/fifo",    "outside/secret.txt"};
    static const char *dirs[] = {"root/docs", "root/empty", "root", "outside", ""};
    char p[PATH_MAX + 64];
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", fx->base, files[i]);
        unlink(p);
    }
    for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
        snprintf(p, sizeof(p), "%s/%s", fx->base, dirs[i]);
        rmdir(p);
    }
}

/* Opens rel and, on success, reads the file's contents into buf and closes it. */
static int open_read(const fixture_t *fx, const char *rel, static_file_t *sf, char *buf,
                     size_t cap)
{
    int rc = static_open(fx->root, rel, sf);
    buf[0] = '\0';
    if (rc == STATIC_OK) {
        ssize_t n = read(sf->fd, buf, cap - 1);
        buf[n > 0 ? n : 0] = '\0';
        close(sf->fd);
    }
    return rc;
}

static void test_static_open(void)
{
    fixture_t fx;
    static_file_t sf;
    char buf[256];
    ASSERT_EQ(fixture_setup(&fx), 0);

    ASSERT_EQ(open_read(&fx, "app.js", &sf, buf, sizeof(buf)), STATIC_OK);
    ASSERT_STREQ(buf, "console.log(1)");
    ASSERT_EQ(sf.size, 14);
    ASSERT_STREQ(sf.mime, "text/javascript; charset=utf-8");
    ASSERT_TRUE(sf.etag[0] == '"' && sf.etag[strlen(sf.etag) - 1] == '"');
    ASSERT_TRUE(sf.mtime > 1000000000);

    ASSERT_EQ(open_read(&fx, "", &sf, buf, sizeof(buf)), STATIC_OK);
    ASSERT_STREQ(buf, "<h1>root</h1>");
    ASSERT_STREQ(sf.mime, "text/html; charset=utf-8");
    ASSERT_EQ(open_read(&fx, "docs/", &sf, buf, sizeof(buf)), STATIC_OK);
    ASSERT_STREQ(buf, "<h1>docs</h1>");
    ASSERT_STREQ(sf.mime, "text/html; charset=utf-8");
    ASSERT_EQ(open_read(&fx, "docs/index.html", &sf, buf, sizeof(buf)), STATIC_OK);

    ASSERT_EQ(open_read(&fx, "docs", &sf, buf, sizeof(buf)), STATIC_REDIRECT);
    ASSERT_EQ(open_read(&fx, "docs-link", &sf, buf, sizeof(buf)), STATIC_REDIRECT);
    ASSERT_EQ(open_read(&fx, "empty", &sf, buf, sizeof(buf)), STATIC_REDIRECT);
    ASSERT_EQ(open_read(&fx, "empty/", &sf, buf, sizeof(buf)), STATIC_NOT_FOUND);

    ASSERT_EQ(open_read(&fx, "missing.js", &sf, buf, sizeof(buf)), STATIC_NOT_FOUND);
    ASSERT_EQ(open_read(&fx, "missing/", &sf, buf, sizeof(buf)), STATIC_NOT_FOUND);
    ASSERT_EQ(open_read(&fx, "app.js/x", &sf, buf, sizeof(buf)), STATIC_NOT_FOUND);
    ASSERT_EQ(open_read(&fx, "app.js/", &sf, buf, sizeof(buf)), STATIC_NOT_FOUND);

    /* Symlinks out of the root are refused, inside it they are followed. */
    ASSERT_EQ(open_read(&fx, "leak.txt", &sf, buf, sizeof(buf)), STATIC_NOT_FOUND);
    ASSERT_EQ(open_read(&fx, "leakdir/secret.txt", &sf, buf, sizeof(buf)), STATIC_NOT_FOUND);
    ASSERT_EQ(open_read(&fx, "leakdir", &sf, buf, sizeof(buf)), STATIC_NOT_FOUND);
    ASSERT_EQ(open_read(&fx, "alias.js", &sf, buf, sizeof(buf)), STATIC_OK);
    ASSERT_STREQ(buf, "console.log(1)");
    ASSERT_EQ(open_read(&fx, "docs-link/", &sf, buf, sizeof(buf)), STATIC_OK);
    ASSERT_STREQ(buf, "<h1>docs</h1>");

    /* Not a regular file, and it must not block. */
    ASSERT_EQ(open_read(&fx, "fifo", &sf, buf, sizeof(buf)), STATIC_NOT_FOUND);

    /* A root that is a prefix of a sibling's name does not contain the sibling. */
    char narrow[PATH_MAX + 16];
    snprintf(narrow, sizeof(narrow), "%s/roo", fx.base);
    ASSERT_EQ(mkdir(narrow, 0755), 0);
    ASSERT_EQ(static_open(narrow, "../root/app.js", &sf), STATIC_NOT_FOUND);
    rmdir(narrow);

    fixture_teardown(&fx);
    ASSERT_EQ(access(fx.base, F_OK), -1); /* all cleaned up */
}

static void test_static_open_fd_flags(void)
{
    fixture_t fx;
    static_file_t sf;
    ASSERT_EQ(fixture_setup(&fx), 0);
    ASSERT_EQ(static_open(fx.root, "app.js", &sf), STATIC_OK);
    int fl = fcntl(sf.fd, F_GETFL), fdfl = fcntl(sf.fd, F_GETFD);
    close(sf.fd);
    fixture_teardown(&fx);
    ASSERT_EQ(fl & O_ACCMODE, O_RDONLY);
    ASSERT_EQ(fl & O_NONBLOCK, 0);
    ASSERT_TRUE(fdfl & FD_CLOEXEC);
}

static void test_etag_changes(void)
{
    fixture_t fx;
    static_file_t sf;
    char buf[64], first[64], p[PATH_MAX + 16];
    ASSERT_EQ(fixture_setup(&fx), 0);
    ASSERT_EQ(open_read(&fx, "app.js", &sf, buf, sizeof(buf)), STATIC_OK);
    strcpy(first, sf.etag);
    ASSERT_EQ(open_read(&fx, "app.js", &sf, buf, sizeof(buf)), STATIC_OK);
    ASSERT_STREQ(sf.etag, first); /* stable while unchanged */
    ASSERT_TRUE(static_etag_matches(first, strlen(first), sf.etag));

    /* Same size, new contents and a new mtime. */
    snprintf(p, sizeof(p), "%s/app.js", fx.root);
    ASSERT_EQ(write_file(p, "console.log(2)"), 0);
    struct timespec ts[2] = {{0, UTIME_OMIT}, {1700000000, 123456789}};
    ASSERT_EQ(utimensat(AT_FDCWD, p, ts, 0), 0);
    ASSERT_EQ(open_read(&fx, "app.js", &sf, buf, sizeof(buf)), STATIC_OK);
    ASSERT_STREQ(buf, "console.log(2)");
    ASSERT_TRUE(strcmp(sf.etag, first) != 0);
    ASSERT_EQ(sf.mtime, 1700000000);
    ASSERT_TRUE(!static_etag_matches(first, strlen(first), sf.etag));
    strcpy(first, sf.etag);

    /* Only the size changes. */
    ASSERT_EQ(write_file(p, "console.log(22)"), 0);
    ASSERT_EQ(utimensat(AT_FDCWD, p, ts, 0), 0);
    ASSERT_EQ(open_read(&fx, "app.js", &sf, buf, sizeof(buf)), STATIC_OK);
    ASSERT_TRUE(strcmp(sf.etag, first) != 0);
    fixture_teardown(&fx);
}

#define MATCH(inm, tag) static_etag_matches((inm), strlen(inm), (tag))

static void test_etag_matching(void)
{
    const char *tag = "\"1a-2b-3c\"";
    ASSERT_TRUE(MATCH("\"1a-2b-3c\"", tag));
    ASSERT_TRUE(MATCH("*", tag));
    ASSERT_TRUE(MATCH(" * ", tag));
    ASSERT_TRUE(MATCH("W/\"1a-2b-3c\"", tag));
    ASSERT_TRUE(MATCH("\"x\", \"1a-2b-3c\"", tag));
    ASSERT_TRUE(MATCH("\"x\",W/\"1a-2b-3c\" , \"y\"", tag));
    ASSERT_TRUE(MATCH("\"a,b\", \"1a-2b-3c\"", tag)); /* a comma inside a tag */
    ASSERT_TRUE(MATCH("garbage, \"1a-2b-3c\"", tag));
    ASSERT_TRUE(MATCH("\"1a-2b-3c\"", "W/\"1a-2b-3c\""));
    ASSERT_TRUE(!MATCH("", tag));
    ASSERT_TRUE(!MATCH("\"1a-2b-3d\"", tag));
    ASSERT_TRUE(!MATCH("1a-2b-3c", tag)); /* unquoted */
    ASSERT_TRUE(!MATCH("\"1a-2b-3c", tag));
    ASSERT_TRUE(!MATCH("\"1a-2b\"", tag));
    ASSERT_TRUE(!MATCH("\"1a-2b-3c-\"", tag));
    ASSERT_TRUE(!MATCH("w/\"x\"", tag));
    ASSERT_TRUE(!MATCH(",,,", tag));
    ASSERT_TRUE(!MATCH("\"a,\"1a-2b-3c\"", tag)); /* the quote opens a tag "a," */
    /* len is honoured */
    ASSERT_TRUE(!static_etag_matches("\"1a-2b-3c\"", 9, tag));
}

int main(void)
{
    RUN(test_normalize_ok);
    RUN(test_normalize_bad);
    RUN(test_normalize_capacity);
    RUN(test_mime_types);
    RUN(test_static_open);
    RUN(test_static_open_fd_flags);
    RUN(test_etag_changes);
    RUN(test_etag_matching);
    TEST_MAIN_END();
}
