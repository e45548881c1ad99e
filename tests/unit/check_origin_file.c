/*
 * tests/unit/check_origin_file.c: the file:// origin (origin/file.c).
 *
 * main() builds one temporary tree before the suite runs:
 *
 *     base/root/        the origin root: hello.txt, index.html, sub/, empty/, symlinks, a FIFO
 *     base/outside/     secret.txt, reachable only by escaping the root
 *     base/root-secret/ a sibling whose name starts with the root's: catches a prefix check without '/'
 *     base/secret.txt   what "/../secret.txt" would reach
 *
 * Every resolution test runs twice (a Check loop test): once with openat2, once with the realpath()
 * fallback forced through origin_file__disable_openat2, since both must refuse the same paths.
 */
#include "origin/file.h"

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* origin/file.c: forces the realpath() fallback for roots opened afterwards */
extern int origin_file__disable_openat2;

static char base[64], rootdir[128]; /* base is a short mkdtemp name under /tmp */

static void write_file(const char *dir, const char *name, const char *content)
{
    char path[PATH_MAX * 2];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", dir, name);
    fp = fopen(path, "w");
    if (fp == NULL || fputs(content, fp) < 0 || fclose(fp) != 0) {
        perror(path);
        exit(2);
    }
}

static void make_dir(const char *dir, const char *name)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (mkdir(path, 0755) != 0) {
        perror(path);
        exit(2);
    }
}

static void make_link(const char *target, const char *dir, const char *name)
{
    char path[PATH_MAX * 2];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (symlink(target, path) != 0) {
        perror(path);
        exit(2);
    }
}

static void build_tree(void)
{
    char outside[128], sibling[128], target[256], fifo[256];

    strcpy(base, "/tmp/check_origin_file.XXXXXX");
    if (mkdtemp(base) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    snprintf(rootdir, sizeof(rootdir), "%s/root", base);
    snprintf(outside, sizeof(outside), "%s/outside", base);
    snprintf(sibling, sizeof(sibling), "%s/root-secret", base);
    make_dir(base, "root");
    make_dir(base, "outside");
    make_dir(base, "root-secret");
    write_file(base, "secret.txt", "secret\n");
    write_file(outside, "secret.txt", "secret\n");
    write_file(sibling, "secret.txt", "secret\n");

    write_file(rootdir, "hello.txt", "hello\n");
    write_file(rootdir, "index.html", "<p>root</p>\n");
    write_file(rootdir, "Photo.PNG", "png");
    make_dir(rootdir, "sub");
    make_dir(rootdir, "empty");
    write_file(rootdir, "sub/index.html", "<p>sub</p>\n");
    write_file(rootdir, "sub/style.css", "p{}\n");

    /* inside, and staying inside: allowed */
    make_link("hello.txt", rootdir, "link-in");
    make_link("../hello.txt", rootdir, "sub/link-up");
    make_link("sub", rootdir, "link-dir");
    snprintf(target, sizeof(target), "%s/hello.txt", rootdir);
    make_link(target, rootdir, "link-abs-in");
    /* leading outside: refused */
    make_link("../outside/secret.txt", rootdir, "link-out");
    make_link("../outside", rootdir, "link-out-dir");
    make_link("../root-secret/secret.txt", rootdir, "link-sibling");
    snprintf(target, sizeof(target), "%s/secret.txt", outside);
    make_link(target, rootdir, "link-abs-out");
    make_link("/etc/hostname", rootdir, "link-etc");
    make_link("/etc", rootdir, "link-etc-dir");
    make_link("nowhere", rootdir, "dangling");
    snprintf(fifo, sizeof(fifo), "%s/fifo", rootdir);
    if (mkfifo(fifo, 0644) != 0) {
        perror(fifo);
        exit(2);
    }
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void remove_tree(void)
{
    nftw(base, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static origin_file_root_t *open_root(int fallback)
{
    char url[PATH_MAX + 16], err[256];
    origin_file_root_t *root;

    origin_file__disable_openat2 = fallback;
    snprintf(url, sizeof(url), "file://%s", rootdir);
    root = origin_file_open(url, err, sizeof(err));
    ck_assert_msg(root != NULL, "origin_file_open(%s): %s", url, err);
    return root;
}

static origin_file_res_t lookup(origin_file_root_t *root, const char *method, const char *path, size_t path_len)
{
    origin_file_res_t res;
    memset(&res, 0xa5, sizeof(res)); /* lookup must fill every field */
    origin_file_lookup(root, method, strlen(method), path, path_len, &res);
    if (res.status != 200) {
        ck_assert_int_eq(res.fd, -1);
    } else {
        ck_assert_int_ge(res.fd, 0);
        ck_assert_ptr_nonnull(res.content_type);
    }
    return res;
}

/* GETs `path` and checks the status and, for a 200, the body; closes the descriptor. */
static void expect(origin_file_root_t *root, const char *path, int status, const char *body)
{
    origin_file_res_t res = lookup(root, "GET", path, strlen(path));
    char buf[256];
    ssize_t n;

    ck_assert_msg(res.status == status, "GET %s: status %d, expected %d", path, res.status, status);
    if (res.status != 200)
        return;
    n = read(res.fd, buf, sizeof(buf) - 1);
    close(res.fd);
    ck_assert_int_ge(n, 0);
    buf[n] = '\0';
    ck_assert_uint_eq(res.size, (uint64_t)n);
    if (body != NULL)
        ck_assert_msg(strcmp(buf, body) == 0, "GET %s: body \"%s\", expected \"%s\"", path, buf, body);
}

/* The lowest free descriptor: it grows if a lookup leaked one. */
static int next_fd(void)
{
    int fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    close(fd);
    return fd;
}

START_TEST(test_open)
{
    char err[256], url[PATH_MAX + 16], cwd[PATH_MAX];
    origin_file_root_t *root;

    ck_assert_ptr_null(origin_file_open("http://example.com/", err, sizeof(err)));
    ck_assert_ptr_null(origin_file_open("file:", err, sizeof(err)));
    ck_assert_ptr_null(origin_file_open("file://", err, sizeof(err)));
    ck_assert_ptr_null(origin_file_open("file://root", err, sizeof(err)));
    ck_assert_ptr_null(origin_file_open("file://localhost/tmp", err, sizeof(err)));
    ck_assert_ptr_null(origin_file_open("file:///nonexistent/edgecache/dir", err, sizeof(err)));
    ck_assert_msg(strstr(err, "No such file") != NULL, "err: %s", err);
    snprintf(url, sizeof(url), "file://%s/hello.txt", rootdir);
    ck_assert_ptr_null(origin_file_open(url, err, sizeof(err))); /* not a directory */

    snprintf(url, sizeof(url), "file://%s/", rootdir); /* trailing slash */
    root = origin_file_open(url, err, sizeof(err));
    ck_assert_msg(root != NULL, "%s", err);
    expect(root, "/hello.txt", 200, "hello\n");
    origin_file_close(root);

    /* relative to the working directory */
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
    ck_assert_int_eq(chdir(base), 0);
    root = origin_file_open("file:root", err, sizeof(err));
    ck_assert_int_eq(chdir(cwd), 0);
    ck_assert_msg(root != NULL, "%s", err);
    expect(root, "/hello.txt", 200, "hello\n"); /* resolved once, at open: the cwd no longer matters */
    origin_file_close(root);

    origin_file_close(NULL);
}
END_TEST

START_TEST(test_serve)
{
    origin_file_root_t *root = open_root(_i);
    origin_file_res_t res;
    struct stat st;

    res = lookup(root, "GET", "/hello.txt", 10);
    ck_assert_int_eq(res.status, 200);
    ck_assert_uint_eq(res.size, 6);
    ck_assert_str_eq(res.content_type, "text/plain; charset=utf-8");
    ck_assert_int_eq(fstat(res.fd, &st), 0);
    ck_assert_int_eq(res.mtime, st.st_mtime);
    ck_assert(!(fcntl(res.fd, F_GETFL) & O_NONBLOCK));
    ck_assert(fcntl(res.fd, F_GETFD) & FD_CLOEXEC);
    close(res.fd);

    expect(root, "/hello.txt", 200, "hello\n");
    expect(root, "/%68ello%2Etxt", 200, "hello\n");
    expect(root, "//hello.txt", 200, "hello\n");
    expect(root, "/./hello.txt", 200, "hello\n");
    expect(root, "/%2e/hello.txt", 200, "hello\n");
    expect(root, "/sub/style.css", 200, "p{}\n");
    expect(root, "/missing", 404, NULL);
    expect(root, "/sub/missing.css", 404, NULL);
    expect(root, "/hello.txt/", 404, NULL); /* a file is not a directory */
    expect(root, "/hello.txt/x", 404, NULL);
    expect(root, "/HELLO.TXT", 404, NULL);
    expect(root, "/fifo", 404, NULL); /* only regular files, and the open must not block */
    origin_file_close(root);
}
END_TEST

START_TEST(test_directories)
{
    origin_file_root_t *root = open_root(_i);
    origin_file_res_t res;

    res = lookup(root, "GET", "/", 1);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(res.content_type, "text/html; charset=utf-8");
    close(res.fd);
    expect(root, "/", 200, "<p>root</p>\n");
    expect(root, "/.", 200, "<p>root</p>\n");
    expect(root, "/sub/", 200, "<p>sub</p>\n");
    expect(root, "/sub", 200, "<p>sub</p>\n");
    expect(root, "/sub//", 200, "<p>sub</p>\n");
    expect(root, "/link-dir/", 200, "<p>sub</p>\n");
    expect(root, "/empty/", 404, NULL);
    expect(root, "/empty", 404, NULL);
    origin_file_close(root);
}
END_TEST

START_TEST(test_query)
{
    origin_file_root_t *root = open_root(_i);

    expect(root, "/hello.txt?x=1", 200, "hello\n");
    expect(root, "/hello.txt?", 200, "hello\n");
    expect(root, "/hello.txt?../../secret.txt", 200, "hello\n");
    expect(root, "/hello.txt?%00", 200, "hello\n");
    expect(root, "/?a=b", 200, "<p>root</p>\n");
    expect(root, "/sub?a", 200, "<p>sub</p>\n");
    expect(root, "?/hello.txt", 404, NULL);
    /* the query ends at path_len: a '?' beyond it is not ours to see */
    ck_assert_int_eq(lookup(root, "GET", "/hello.txt?", 6).status, 404); /* "/hello" */
    origin_file_close(root);
}
END_TEST

START_TEST(test_traversal)
{
    static const char *const refused[] = {
        "/../secret.txt",
        "/..",
        "/../",
        "/sub/../../secret.txt",
        "/sub/../hello.txt", /* stays inside, but ".." is refused outright */
        "/%2e%2e/secret.txt",
        "/%2E%2e/secret.txt",
        "/.%2e/secret.txt",
        "/%2E%2e%2fsecret.txt",
        "/%2e%2e%2Fsecret.txt",
        "/sub%2f..%2f..%2fsecret.txt",
        "/sub%2fstyle.css", /* an encoded '/' is never a separator */
        "/..%5csecret.txt",
        "/..\\secret.txt",
        "/sub\\style.css",
        "/hello.txt%00",
        "/hello.txt%00.png",
        "/x%00y",
        "/%",
        "/%2",
        "/hello.txt%",
        "/%zz",
        "/%g0",
        "hello.txt", /* no leading '/' */
        "",
        "../secret.txt",
        "%2fhello.txt",
    };
    origin_file_root_t *root = open_root(_i);
    int fd0 = next_fd();
    size_t i;

    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); ++i)
        expect(root, refused[i], 404, NULL);
    /* a raw NUL inside the length */
    ck_assert_int_eq(lookup(root, "GET", "/hello.txt\0.png", 15).status, 404);
    ck_assert_int_eq(lookup(root, "GET", "/sub\0/../../secret.txt", 22).status, 404);
    /* a path longer than PATH_MAX */
    {
        size_t len = PATH_MAX + 100;
        char *p = malloc(len + 1);
        ck_assert_ptr_nonnull(p);
        for (size_t k = 0; k < len; k += 2)
            memcpy(p + k, "/a", 2);
        p[len] = '\0';
        ck_assert_int_eq(lookup(root, "GET", p, len).status, 404);
        free(p);
    }
    ck_assert_int_eq(next_fd(), fd0); /* no descriptor leaked on any refusal */
    origin_file_close(root);
}
END_TEST

START_TEST(test_symlinks)
{
    origin_file_root_t *root = open_root(_i);
    int fd0 = next_fd();

    expect(root, "/link-in", 200, "hello\n");
    expect(root, "/sub/link-up", 200, "hello\n");
    expect(root, "/link-dir/style.css", 200, "p{}\n");
    expect(root, "/link-abs-in", 200, "hello\n"); /* absolute, but pointing inside */

    expect(root, "/link-out", 404, NULL);
    expect(root, "/link-out-dir/secret.txt", 404, NULL);
    expect(root, "/link-out-dir/", 404, NULL);
    expect(root, "/link-sibling", 404, NULL); /* "<root>-secret" shares the root's prefix */
    expect(root, "/link-abs-out", 404, NULL);
    expect(root, "/link-etc", 404, NULL);
    expect(root, "/link-etc-dir/hostname", 404, NULL);
    expect(root, "/link-etc-dir/passwd", 404, NULL);
    expect(root, "/dangling", 404, NULL);
    ck_assert_int_eq(next_fd(), fd0);
    origin_file_close(root);
}
END_TEST

START_TEST(test_permission)
{
    origin_file_root_t *root = open_root(_i);
    char path[PATH_MAX + 32];

    if (geteuid() == 0) { /* root reads through mode 000; nothing to test */
        origin_file_close(root);
        return;
    }
    write_file(rootdir, "private.txt", "private\n");
    snprintf(path, sizeof(path), "%s/private.txt", rootdir);
    ck_assert_int_eq(chmod(path, 0), 0);
    expect(root, "/private.txt", 404, NULL);
    unlink(path);
    origin_file_close(root);
}
END_TEST

START_TEST(test_methods)
{
    static const char *const refused[] = {"POST", "PUT", "DELETE", "OPTIONS", "PATCH", "get", "GETX", "HEA", ""};
    origin_file_root_t *root = open_root(0);
    origin_file_res_t get, head;
    size_t i;

    get = lookup(root, "GET", "/hello.txt", 10);
    head = lookup(root, "HEAD", "/hello.txt", 10);
    ck_assert_int_eq(get.status, 200);
    ck_assert_int_eq(head.status, 200);
    ck_assert_uint_eq(head.size, get.size);
    ck_assert_int_eq(head.mtime, get.mtime);
    ck_assert_str_eq(head.etag, get.etag);
    ck_assert_str_eq(head.content_type, get.content_type);
    close(get.fd);
    close(head.fd);
    ck_assert_int_eq(lookup(root, "HEAD", "/missing", 8).status, 404);

    for (i = 0; i < sizeof(refused) / sizeof(refused[0]); ++i) {
        ck_assert_int_eq(lookup(root, refused[i], "/hello.txt", 10).status, 405);
        ck_assert_int_eq(lookup(root, refused[i], "/missing", 8).status, 405);
    }
    origin_file_close(root);
}
END_TEST

/* true when `etag` is "hex-hex-hex-hex", quoted, with nothing else */
static bool etag_form(const char *etag, uint64_t fields[4])
{
    const char *p = etag;
    int i;

    if (*p++ != '"')
        return false;
    for (i = 0; i < 4; ++i) {
        char *end;
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return false;
        fields[i] = strtoull(p, &end, 16);
        p = end;
        if (*p++ != (i == 3 ? '"' : '-'))
            return false;
    }
    return *p == '\0';
}

static void etag_of(origin_file_root_t *root, const char *path, char *etag)
{
    origin_file_res_t res = lookup(root, "GET", path, strlen(path));
    ck_assert_int_eq(res.status, 200);
    close(res.fd);
    strcpy(etag, res.etag);
}

START_TEST(test_etag)
{
    origin_file_root_t *root = open_root(_i);
    char path[PATH_MAX + 32], first[48], again[48], grown[48], touched[48];
    uint64_t f[4];
    struct stat st;
    struct timespec times[2] = {{.tv_sec = 1000000000, .tv_nsec = 0}, {.tv_sec = 1000000000, .tv_nsec = 0}};

    write_file(rootdir, "etag.txt", "one\n");
    snprintf(path, sizeof(path), "%s/etag.txt", rootdir);
    ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);

    etag_of(root, "/etag.txt", first);
    ck_assert_msg(etag_form(first, f), "etag %s", first);
    ck_assert_uint_lt(strlen(first), 48);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_uint_eq(f[0], (uint64_t)st.st_dev);
    ck_assert_uint_eq(f[1], (uint64_t)st.st_ino);
    ck_assert_uint_eq(f[2], 4);
    ck_assert(f[3] == 1000000000ull * 1000000000ull || f[3] == 1000000000ull);

    etag_of(root, "/etag.txt", again);
    ck_assert_str_eq(again, first); /* stable */

    /* same mtime, new content and size */
    write_file(rootdir, "etag.txt", "two two\n");
    ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
    etag_of(root, "/etag.txt", grown);
    ck_assert_str_ne(grown, first);

    /* same size, only a later mtime (a rewrite within the same second changes the nanoseconds) */
    times[0].tv_nsec = times[1].tv_nsec = 500;
    ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
    etag_of(root, "/etag.txt", touched);
    ck_assert_str_ne(touched, grown);
    times[0].tv_sec = times[1].tv_sec = 1000000001;
    ck_assert_int_eq(utimensat(AT_FDCWD, path, times, 0), 0);
    etag_of(root, "/etag.txt", again);
    ck_assert_str_ne(again, touched);

    /* another file, another tag */
    etag_of(root, "/hello.txt", again);
    ck_assert_str_ne(again, first);
    unlink(path);
    origin_file_close(root);
}
END_TEST

START_TEST(test_mime)
{
    static const struct {
        const char *name, *type;
    } cases[] = {
        /* every table entry, so an entry out of order fails the binary search */
        {"a.avif", "image/avif"},
        {"a.css", "text/css"},
        {"a.csv", "text/csv; charset=utf-8"},
        {"a.gif", "image/gif"},
        {"a.gz", "application/gzip"},
        {"a.htm", "text/html; charset=utf-8"},
        {"a.html", "text/html; charset=utf-8"},
        {"a.ico", "image/x-icon"},
        {"a.jpeg", "image/jpeg"},
        {"a.jpg", "image/jpeg"},
        {"a.js", "text/javascript"},
        {"a.json", "application/json"},
        {"a.map", "application/json"},
        {"a.md", "text/markdown; charset=utf-8"},
        {"a.mjs", "text/javascript"},
        {"a.mp3", "audio/mpeg"},
        {"a.mp4", "video/mp4"},
        {"a.otf", "font/otf"},
        {"a.pdf", "application/pdf"},
        {"a.png", "image/png"},
        {"a.svg", "image/svg+xml"},
        {"a.tar", "application/x-tar"},
        {"a.ttf", "font/ttf"},
        {"a.txt", "text/plain; charset=utf-8"},
        {"a.wasm", "application/wasm"},
        {"a.webm", "video/webm"},
        {"a.webp", "image/webp"},
        {"a.woff", "font/woff"},
        {"a.woff2", "font/woff2"},
        {"a.xml", "application/xml"},
        {"a.zip", "application/zip"},
        /* case, paths, and names without an extension */
        {"INDEX.HTML", "text/html; charset=utf-8"},
        {"Photo.PnG", "image/png"},
        {"dir/sub/app.min.JS", "text/javascript"},
        {"a.tar.gz", "application/gzip"},
        {"/x.html/readme", "application/octet-stream"},
        {"dir.d/file", "application/octet-stream"},
        {".htaccess", "application/octet-stream"},
        {"dir/.png", "application/octet-stream"},
        {"noext", "application/octet-stream"},
        {"trailing.", "application/octet-stream"},
        {"a.woff22", "application/octet-stream"},
        {"a.verylongextension", "application/octet-stream"},
        {"a.a", "application/octet-stream"},
        {"a.zzz", "application/octet-stream"},
        {".", "application/octet-stream"},
        {"", "application/octet-stream"},
    };
    size_t i;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); ++i)
        ck_assert_msg(strcmp(origin_file_mime_type(cases[i].name, strlen(cases[i].name)), cases[i].type) == 0, "%s: %s",
                      cases[i].name, origin_file_mime_type(cases[i].name, strlen(cases[i].name)));
    /* the length bounds the name: "a.html" seen as "a.ht" */
    ck_assert_str_eq(origin_file_mime_type("a.html", 4), "application/octet-stream");
    ck_assert_str_eq(origin_file_mime_type("a.jsonx", 4), "text/javascript");
}
END_TEST

START_TEST(test_content_type_of_index)
{
    origin_file_root_t *root = open_root(_i);
    origin_file_res_t res = lookup(root, "GET", "/Photo.PNG", 10);

    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(res.content_type, "image/png");
    close(res.fd);
    res = lookup(root, "GET", "/sub/", 5);
    ck_assert_int_eq(res.status, 200);
    ck_assert_str_eq(res.content_type, "text/html; charset=utf-8"); /* from index.html, not "sub" */
    close(res.fd);
    origin_file_close(root);
}
END_TEST

static Suite *origin_file_suite(void)
{
    Suite *s = suite_create("origin_file");
    TCase *tc = tcase_create("core");

    /* loop tests: _i == 0 with openat2, _i == 1 with the realpath() fallback */
    tcase_add_test(tc, test_open);
    tcase_add_loop_test(tc, test_serve, 0, 2);
    tcase_add_loop_test(tc, test_directories, 0, 2);
    tcase_add_loop_test(tc, test_query, 0, 2);
    tcase_add_loop_test(tc, test_traversal, 0, 2);
    tcase_add_loop_test(tc, test_symlinks, 0, 2);
    tcase_add_loop_test(tc, test_permission, 0, 2);
    tcase_add_test(tc, test_methods);
    tcase_add_loop_test(tc, test_etag, 0, 2);
    tcase_add_test(tc, test_mime);
    tcase_add_loop_test(tc, test_content_type_of_index, 0, 2);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr;
    int failed;

    build_tree();
    sr = srunner_create(origin_file_suite());
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    remove_tree();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
