/*
 * origin/file.c: the file:// origin, a local directory served the way CloudFront serves an S3 bucket.
 *
 * A request path passes three gates before a file is opened. It is percent-decoded exactly once, so
 * "%2e%2e" is seen as "..". The decoded path is split into segments and refused if any segment is "..",
 * or if the path holds a NUL, a '\\' or an encoded '/'. Finally the kernel confines the open itself to
 * the root (openat2 with RESOLVE_BENEATH), so a symlink that leads outside is refused even though the
 * path text looked clean. Where openat2 is missing (before Linux 5.6, or filtered by seccomp), the
 * fallback resolves the path with realpath() and checks that it lies under the root's own realpath on a
 * '/' boundary ("/srv/www" must not admit "/srv/www-secret").
 *
 * The invariant that is easy to break: every refusal looks exactly like a missing file (404), whatever
 * the reason (traversal, permission, symlink escape, not a regular file), so a probe learns nothing about
 * what exists outside the root. Only failures of the machine itself (out of descriptors or memory, I/O
 * errors) answer 500, because an edge may cache a 404 but must never cache an outage as one.
 */
#include "origin/file.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define ROOT_MAGIC 0x6f666f72u /* "ofor" */
#define INDEX_NAME "index.html"

struct st_origin_file_root_t {
    unsigned magic;
    int fd;           /* the root directory (O_RDONLY|O_DIRECTORY); lookups are resolved beneath it */
    bool use_openat2; /* probed once at open time; false: the realpath() fallback */
    char *real;       /* realpath of the root, for the realpath() checks (the fallback, and EXDEV re-checks) */
    size_t real_len;
};

/* Set by the unit test (before origin_file_open) to exercise the realpath() fallback on a kernel that has
 * openat2. Not in the header: nothing else has a reason to touch it. */
int origin_file__disable_openat2 = 0;

/* The status lookup answers when an open or stat failed with `err`. */
static int status_for_errno(int err)
{
    switch (err) {
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case ENOBUFS:
    case EIO:
        return 500; /* the machine is unwell and the file may well exist: do not let the edge cache a 404 */
    default:
        return 404; /* ENOENT, EACCES, ELOOP, EXDEV (an escape), ENOTDIR, ENAMETOOLONG, ...: all look missing */
    }
}

/* openat2 from the root with `resolve`; returns a descriptor or -errno. EAGAIN means the kernel saw a
 * concurrent rename that could have let the walk escape, and asks us to try again; a few tries are plenty. */
static int open_openat2(const origin_file_root_t *root, const char *rel, int flags, uint64_t resolve)
{
    struct open_how how = {.flags = (uint64_t)flags, .resolve = resolve};
    int attempt;

    for (attempt = 0; attempt < 8; ++attempt) {
        long fd = syscall(SYS_openat2, root->fd, rel, &how, sizeof(how));
        if (fd >= 0)
            return (int)fd;
        if (errno != EAGAIN && errno != EINTR)
            break;
    }
    return -errno;
}

/* Resolves `rel` with realpath() into `resolved` (PATH_MAX bytes) and checks that the result is the root or
 * lies under it, on a '/' boundary. Returns 0 or -errno (-EXDEV for an escape). */
static int resolve_beneath(const origin_file_root_t *root, const char *rel, char *resolved)
{
    char path[PATH_MAX];

    if ((size_t)snprintf(path, sizeof(path), "%s/%s", root->real, rel) >= sizeof(path))
        return -ENAMETOOLONG;
    if (realpath(path, resolved) == NULL)
        return -errno;
    if (root->real_len == 1) /* the root is "/" */
        return 0;
    if (strncmp(resolved, root->real, root->real_len) != 0 || (resolved[root->real_len] != '\0' && resolved[root->real_len] != '/'))
        return -EXDEV;
    return 0;
}

/* Opens `rel` beneath the root; returns a descriptor or -errno.
 *
 * With openat2, RESOLVE_BENEATH refuses every absolute symlink, even one that points back inside the root
 * (deploy tools make those). So an EXDEV gets a second look: realpath() says where the path really leads,
 * and if that is inside, the resolved path (which holds no symlink any more) is opened with
 * RESOLVE_NO_SYMLINKS, so a symlink swapped in meanwhile fails instead of escaping.
 *
 * Without openat2 the realpath() check is all there is, then an open with O_NOFOLLOW. A directory component
 * swapped for a symlink between the check and the open can still escape; that takes write access to the
 * root and a kernel older than 5.6. */
static int open_beneath(const origin_file_root_t *root, const char *rel, int flags)
{
    char resolved[PATH_MAX];
    const char *inside;
    int fd;

    if (root->use_openat2) {
        fd = open_openat2(root, rel, flags, RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS);
        if (fd != -EXDEV)
            return fd;
        if ((fd = resolve_beneath(root, rel, resolved)) != 0)
            return fd;
        inside = resolved + root->real_len;
        while (*inside == '/')
            ++inside;
        return open_openat2(root, *inside != '\0' ? inside : ".", flags,
                            RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS);
    }
    if ((fd = resolve_beneath(root, rel, resolved)) != 0)
        return fd;
    if ((fd = open(resolved, flags | O_NOFOLLOW)) == -1)
        return -errno;
    return fd;
}

origin_file_root_t *origin_file_open(const char *url, char *err, size_t errlen)
{
    const char *dir;
    char *real = NULL;
    int fd = -1;
    origin_file_root_t *root;

    /* "file:///abs" → "/abs", "file:rel" → "rel". "file://x/..." names a host, which we never serve;
     * refusing it also stops "file://rel" from quietly meaning something other than what was written. */
    if (strncmp(url, "file:", 5) != 0) {
        snprintf(err, errlen, "%s: a file origin is file:///absolute/dir or file:relative/dir", url);
        return NULL;
    }
    dir = url + 5;
    if (strncmp(dir, "//", 2) == 0) {
        if (dir[2] != '/') {
            snprintf(err, errlen, "%s: a file origin is file:///absolute/dir or file:relative/dir (no host)", url);
            return NULL;
        }
        dir += 2;
    }
    if (*dir == '\0') {
        snprintf(err, errlen, "%s: a file origin needs a directory", url);
        return NULL;
    }

    if ((real = realpath(dir, NULL)) == NULL) {
        snprintf(err, errlen, "%s: %s", dir, strerror(errno));
        goto Error;
    }
    /* O_RDONLY rather than O_PATH, so that an unreadable directory is refused here, once, rather than
     * turning every request into a 404 */
    if ((fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) == -1) {
        snprintf(err, errlen, "%s: %s", real, strerror(errno));
        goto Error;
    }
    if ((root = malloc(sizeof(*root))) == NULL) {
        snprintf(err, errlen, "out of memory");
        goto Error;
    }
    root->magic = ROOT_MAGIC;
    root->fd = fd;
    root->real = real;
    root->real_len = strlen(real);
    root->use_openat2 = false;
    if (!origin_file__disable_openat2) {
        /* probe once: ENOSYS on old kernels, EPERM under some seccomp filters; anything but success means
         * the fallback, decided here so that a lookup never has to guess */
        int probe = open_openat2(root, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC, RESOLVE_BENEATH);
        if (probe >= 0) {
            close(probe);
            root->use_openat2 = true;
        }
    }
    return root;

Error:
    if (fd != -1)
        close(fd);
    free(real);
    return NULL;
}

void origin_file_close(origin_file_root_t *root)
{
    if (root == NULL)
        return;
    assert(root->magic == ROOT_MAGIC);
    close(root->fd);
    free(root->real);
    root->magic = 0;
    free(root);
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Percent-decodes `src` into `dst` (`dstsize` bytes, NUL-terminated). Returns the decoded length, or -1 for
 * anything we refuse: a malformed escape, a NUL (raw or encoded), a '\\' (raw or encoded), an encoded '/'.
 * An encoded '/' must not become a separator: "/a%2f..%2f..%2fx" would otherwise turn into "/a/../../x"
 * after the segment check had looked at "a%2f..%2f..%2fx" as one harmless name. */
static ssize_t decode(const char *src, size_t len, char *dst, size_t dstsize)
{
    size_t i, o = 0;

    for (i = 0; i < len; ++i) {
        char c = src[i];
        if (c == '%') {
            int hi, lo;
            if (len - i < 3)
                return -1;
            if ((hi = hexval(src[i + 1])) == -1 || (lo = hexval(src[i + 2])) == -1)
                return -1;
            c = (char)(hi << 4 | lo);
            i += 2;
            if (c == '/')
                return -1;
        }
        if (c == '\0' || c == '\\')
            return -1;
        if (o + 1 >= dstsize)
            return -1;
        dst[o++] = c;
    }
    dst[o] = '\0';
    return (ssize_t)o;
}

/* Turns a decoded absolute path into a path relative to the root ("a/b", or "." for the root itself),
 * dropping empty and "." segments and refusing "..". `*want_dir` reports a trailing '/'. `rel` must hold at
 * least `len` + 2 bytes. Returns false when the path is refused. */
static bool normalize(const char *path, size_t len, char *rel, bool *want_dir)
{
    size_t i = 0, o = 0;

    *want_dir = len > 1 && path[len - 1] == '/';
    while (i < len) {
        size_t start, seglen;
        while (i < len && path[i] == '/')
            ++i;
        start = i;
        while (i < len && path[i] != '/')
            ++i;
        seglen = i - start;
        if (seglen == 0 || (seglen == 1 && path[start] == '.'))
            continue;
        if (seglen == 2 && path[start] == '.' && path[start + 1] == '.')
            return false;
        if (o != 0)
            rel[o++] = '/';
        memcpy(rel + o, path + start, seglen);
        o += seglen;
    }
    if (o == 0)
        rel[o++] = '.';
    rel[o] = '\0';
    return true;
}

/* A strong ETag from dev, inode, size and mtime in nanoseconds, which tells apart two writes within the same
 * second. The readable form fits in 48 bytes for any real file system; if huge inode or device numbers
 * would overflow it, we step down to seconds, then to one 64-bit hash of the same fields, rather than ever
 * emit a truncated (unquoted) tag. */
static void make_etag(char *etag, size_t size, const struct stat *st)
{
    uint64_t dev = (uint64_t)st->st_dev, ino = (uint64_t)st->st_ino, len = (uint64_t)st->st_size;
    uint64_t sec = (uint64_t)st->st_mtim.tv_sec, ns = sec * 1000000000u + (uint64_t)st->st_mtim.tv_nsec;
    uint64_t fields[] = {dev, ino, len, ns}, hash = 0xcbf29ce484222325u;
    size_t i, j;

    if ((size_t)snprintf(etag, size, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"", dev, ino, len, ns) < size)
        return;
    if ((size_t)snprintf(etag, size, "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"", dev, ino, len, sec) < size)
        return;
    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); ++i) {
        for (j = 0; j < 8; ++j) {
            hash ^= (fields[i] >> (j * 8)) & 0xff;
            hash *= 0x100000001b3u; /* FNV-1a */
        }
    }
    snprintf(etag, size, "\"%016" PRIx64 "\"", hash);
}

/* Opens `rel` beneath the root and stats it. Returns the descriptor or -errno. O_NONBLOCK keeps a FIFO
 * planted in the tree from hanging the thread in open(); O_NOCTTY keeps a tty from becoming ours. */
static int open_stat(const origin_file_root_t *root, const char *rel, struct stat *st)
{
    int fd = open_beneath(root, rel, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return fd;
    if (fstat(fd, st) != 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    return fd;
}

void origin_file_lookup(origin_file_root_t *root, const char *method, size_t method_len, const char *path, size_t path_len,
                        origin_file_res_t *res)
{
    char decoded[PATH_MAX], rel[PATH_MAX + sizeof("/" INDEX_NAME)];
    const char *q;
    ssize_t dlen;
    size_t rlen;
    bool want_dir;
    struct stat st;
    int fd, fl;

    assert(root->magic == ROOT_MAGIC);
    res->status = 404;
    res->fd = -1;
    res->size = 0;
    res->mtime = 0;
    res->content_type = NULL;
    res->etag[0] = '\0';

    /* the method first: a POST learns nothing about which paths exist */
    if (!((method_len == 3 && memcmp(method, "GET", 3) == 0) || (method_len == 4 && memcmp(method, "HEAD", 4) == 0))) {
        res->status = 405;
        return;
    }

    /* decode and check the path text */
    if ((q = memchr(path, '?', path_len)) != NULL)
        path_len = (size_t)(q - path);
    if (path_len == 0 || path[0] != '/')
        return;
    if ((dlen = decode(path, path_len, decoded, sizeof(decoded))) < 0)
        return;
    if (!normalize(decoded, (size_t)dlen, rel, &want_dir))
        return;

    /* open beneath the root; a directory answers with its index.html */
    if ((fd = open_stat(root, rel, &st)) < 0) {
        res->status = status_for_errno(-fd);
        return;
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        rlen = strlen(rel);
        if (strcmp(rel, ".") == 0)
            rlen = 0;
        else
            rel[rlen++] = '/';
        memcpy(rel + rlen, INDEX_NAME, sizeof(INDEX_NAME));
        if ((fd = open_stat(root, rel, &st)) < 0) {
            res->status = status_for_errno(-fd);
            return;
        }
    } else if (want_dir) {
        /* "/file.txt/" names a directory that does not exist, as it would for open(2) or an S3 key */
        close(fd);
        return;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return;
    }
    /* a regular file never blocks, but the caller gets a descriptor that behaves as it expects */
    if ((fl = fcntl(fd, F_GETFL)) != -1)
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);

    res->status = 200;
    res->fd = fd;
    res->size = (uint64_t)st.st_size;
    res->mtime = st.st_mtim.tv_sec;
    res->content_type = origin_file_mime_type(rel, strlen(rel));
    make_etag(res->etag, sizeof(res->etag), &st);
}

/* Sorted by extension (strcmp order, lower case) for bsearch; the unit test looks up every entry, which
 * fails if one is out of order. */
static const struct {
    const char *ext;
    const char *type;
} mime_table[] = {
    {"avif", "image/avif"},
    {"css", "text/css"},
    {"csv", "text/csv; charset=utf-8"},
    {"gif", "image/gif"},
    {"gz", "application/gzip"},
    {"htm", "text/html; charset=utf-8"},
    {"html", "text/html; charset=utf-8"},
    {"ico", "image/x-icon"},
    {"jpeg", "image/jpeg"},
    {"jpg", "image/jpeg"},
    {"js", "text/javascript"},
    {"json", "application/json"},
    {"map", "application/json"},
    {"md", "text/markdown; charset=utf-8"},
    {"mjs", "text/javascript"},
    {"mp3", "audio/mpeg"},
    {"mp4", "video/mp4"},
    {"otf", "font/otf"},
    {"pdf", "application/pdf"},
    {"png", "image/png"},
    {"svg", "image/svg+xml"},
    {"tar", "application/x-tar"},
    {"ttf", "font/ttf"},
    {"txt", "text/plain; charset=utf-8"},
    {"wasm", "application/wasm"},
    {"webm", "video/webm"},
    {"webp", "image/webp"},
    {"woff", "font/woff"},
    {"woff2", "font/woff2"},
    {"xml", "application/xml"},
    {"zip", "application/zip"},
};

#define MIME_DEFAULT "application/octet-stream"
#define MIME_EXT_MAX 8 /* longer than any extension in the table */

const char *origin_file_mime_type(const char *name, size_t len)
{
    char ext[MIME_EXT_MAX + 1];
    size_t i = len, elen, lo = 0, hi = sizeof(mime_table) / sizeof(mime_table[0]);

    /* the extension is what follows the last '.' of the last segment; a leading dot (".htaccess") is a
     * hidden file's name, not an extension */
    while (i > 0 && name[i - 1] != '.' && name[i - 1] != '/')
        --i;
    if (i <= 1 || name[i - 1] != '.' || name[i - 2] == '/')
        return MIME_DEFAULT;
    elen = len - i;
    if (elen == 0 || elen > MIME_EXT_MAX)
        return MIME_DEFAULT;
    for (size_t k = 0; k < elen; ++k) {
        char c = name[i + k];
        ext[k] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
    }
    ext[elen] = '\0';

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int cmp = strcmp(ext, mime_table[mid].ext);
        if (cmp == 0)
            return mime_table[mid].type;
        if (cmp < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return MIME_DEFAULT;
}
