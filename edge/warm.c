/*
 * edge/warm.c: `edgecache warm` (see edge/warm.h): prefetch a list of URLs through an edge.
 *
 * The run has three phases, each owning the data it writes:
 *   1. load: the main thread reads the whole list into one arena (every string is an offset into it, so
 *      growing the arena moves nothing that is referenced), checks every line and drops duplicates;
 *   2. fetch: N worker threads take URL indexes from one atomic counter; the URL an index names is
 *      written by the one worker that took it and by nobody else, and the shared tallies are atomics,
 *      so workers never lock; the main thread only reads the tallies, to draw the progress bar;
 *   3. report: after every worker is joined, the main thread reads the per-URL results.
 * The invariant that is easy to break: nothing but the tallies may be read by the main thread before the
 * join (the per-URL results are plain fields, published by pthread_join).
 */
#include "edge/warm.h"
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "edge/cli.h"
#include "edge/config.h"
#include "edge/httpc.h"

#define DEFAULT_EDGE "127.0.0.1:8080"
#define DEFAULT_CONCURRENCY 8
#define MAX_CONCURRENCY 256
#define DEFAULT_TIMEOUT_MS 30000
#define MAX_URL_LEN 8000 /* h2o's request line limit is near; longer URLs would be refused by the edge anyway */
#define MAX_LISTED_FAILURES 50
#define BAR_WIDTH 30
#define REFRESH_MS 100 /* the progress bar is redrawn at most 10 times a second */

typedef enum en_result_t { R_PENDING, R_HIT, R_FETCHED, R_FAILED } result_t;

typedef struct st_url_t {
    size_t text;   /* offsets into the list's arena: the line as written (trimmed), for the report */
    size_t host;   /* the Host header, or SIZE_MAX for the default (-H Host, else the edge's address) */
    size_t target; /* "/path?query" */
    /* written only by the worker that took this URL; read by the main thread after the join */
    result_t result;
    int status;    /* the HTTP status, 0 when none was received */
    int err;       /* an EDGE_HTTPC_E* value, or 0 */
    int sys_errno; /* its errno detail */
} url_t;

typedef struct st_list_t {
    char *arena;
    size_t arena_len, arena_cap;
    url_t *urls;
    size_t num, cap;
    size_t *set; /* open addressing: index + 1 into urls, 0 = free; for duplicates */
    size_t set_cap;
    size_t duplicates;
} list_t;

typedef struct st_warm_t {
    list_t list;
    const char *default_host;
    const char **headers; /* -H lines, Host excepted */
    size_t num_headers;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint64_t timeout_ms;
    atomic_size_t next; /* the next URL index to take */
    atomic_size_t done, hits, fetched, failed;
    pthread_mutex_t mutex; /* guards `running` */
    pthread_cond_t cond;   /* signalled when `running` drops to 0 */
    unsigned running;
} warm_t;

/* Set by the first SIGINT or SIGTERM: workers take no new URL, the report says what was left. A lock-free
 * atomic, because a signal handler may store nothing else that other threads read. */
static atomic_bool interrupted;

static void on_signal(int signo)
{
    atomic_store(&interrupted, true);
}

typedef struct st_worker_t {
    warm_t *warm;
    pthread_t tid;
    edge_httpc_t conn;
    edge_httpc_response_t res;
} worker_t;

static const char usage[] =
    "usage: edgecache warm [-c FILE] [--edge ADDR:PORT] [--concurrency N] [--timeout S] [-H 'Name: value']... LIST\n"
    "\n"
    "Fetches every URL of LIST (a file, or - for standard input) through the edge, so that it is cached.\n"
    "A line is an absolute http:// or https:// URL (its host is sent as Host) or a path /p?q (sent with the\n"
    "Host of -H, else the edge's address); every request goes to the edge's cleartext listener. Blank lines\n"
    "and # comments are skipped, duplicates fetched once.\n"
    "\n"
    "  -c FILE            the edge's configuration: its first cleartext listener is the edge address\n"
    "  --edge ADDR:PORT   the edge address (default: from -c, else " DEFAULT_EDGE ")\n"
    "  --concurrency N    requests in flight, 1..256 (default 8)\n"
    "  --timeout S        seconds allowed per request, connecting included (default 30)\n"
    "  -H 'Name: value'   an extra request header, repeatable (e.g. 'Accept-Encoding: gzip' to warm that variant)\n"
    "\n"
    "^C stops after the requests in flight and still prints the summary.\n"
    "Exit status: 0 every URL warmed; 1 some failed (listed on stdout) or interrupted; 2 usage error.\n";

/* Seconds on the monotonic clock, to the nanosecond: a short run of hits takes well under a millisecond. */
static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* --- the list ----------------------------------------------------------------------------------- */

static void list_dispose(list_t *l)
{
    free(l->arena);
    free(l->urls);
    free(l->set);
}

/* Makes room for `n` more bytes in the arena, so that the arena_put calls that follow cannot fail. */
static int arena_reserve(list_t *l, size_t n)
{
    if (n <= l->arena_cap - l->arena_len)
        return 0;
    size_t cap = l->arena_cap != 0 ? l->arena_cap : 65536;
    while (n > cap - l->arena_len)
        cap *= 2;
    char *p = realloc(l->arena, cap);
    if (p == NULL)
        return -1;
    l->arena = p;
    l->arena_cap = cap;
    return 0;
}

/* Appends `prefix` (may be "") and `n` bytes of `s` and a NUL, in room that arena_reserve made; returns their offset. */
static size_t arena_put(list_t *l, const char *prefix, const char *s, size_t n)
{
    size_t off = l->arena_len, plen = strlen(prefix);
    memcpy(l->arena + off, prefix, plen);
    memcpy(l->arena + off + plen, s, n);
    l->arena[off + plen + n] = '\0';
    l->arena_len += plen + n + 1;
    return off;
}

static const char *str_at(const list_t *l, size_t off)
{
    return l->arena + off;
}

/* FNV-1a of host (or "" for the default) and target: duplicates are the same request, byte for byte. */
static uint64_t url_hash(const list_t *l, const url_t *u)
{
    uint64_t h = 14695981039346656037u;
    const char *parts[2] = {u->host != SIZE_MAX ? str_at(l, u->host) : "", str_at(l, u->target)};
    for (size_t i = 0; i != 2; ++i) {
        for (const unsigned char *p = (const unsigned char *)parts[i]; *p != '\0'; ++p)
            h = (h ^ *p) * 1099511628211u;
        h = (h ^ 0xff) * 1099511628211u; /* a separator no URL byte can be */
    }
    return h;
}

static bool url_eq(const list_t *l, const url_t *a, const url_t *b)
{
    if ((a->host == SIZE_MAX) != (b->host == SIZE_MAX))
        return false;
    if (a->host != SIZE_MAX && strcmp(str_at(l, a->host), str_at(l, b->host)) != 0)
        return false;
    return strcmp(str_at(l, a->target), str_at(l, b->target)) == 0;
}

/* The slot of `u` in the set: the one holding an equal URL, or the free one where it belongs. */
static size_t *set_slot(list_t *l, const url_t *u)
{
    size_t mask = l->set_cap - 1, i = (size_t)url_hash(l, u) & mask;
    while (l->set[i] != 0 && !url_eq(l, &l->urls[l->set[i] - 1], u))
        i = (i + 1) & mask;
    return &l->set[i];
}

static int set_grow(list_t *l)
{
    size_t cap = l->set_cap != 0 ? l->set_cap * 2 : 1024, *old = l->set, old_cap = l->set_cap;
    if ((l->set = calloc(cap, sizeof(*l->set))) == NULL) {
        l->set = old;
        return -1;
    }
    l->set_cap = cap;
    for (size_t i = 0; i != old_cap; ++i)
        if (old[i] != 0)
            *set_slot(l, &l->urls[old[i] - 1]) = old[i];
    free(old);
    return 0;
}

/*
 * Splits a trimmed line into host (NULL: the default) and target; `*slash` is set when the target must
 * be prefixed with '/' (an absolute URL with no path, "http://h" or "http://h?q"). Returns NULL, or
 * the reason the line is not a URL.
 */
static const char *parse_line(const char *s, size_t len, const char **host, size_t *host_len, const char **target,
                              size_t *target_len, bool *slash)
{
    static const char *const schemes[] = {"http://", "https://"};

    if (len > MAX_URL_LEN)
        return "longer than 8000 bytes";
    for (size_t i = 0; i != len; ++i)
        if ((unsigned char)s[i] <= ' ' || s[i] == 0x7f)
            return "a space or a control character inside the URL (percent-encode it)";
    const char *end = s + len, *hash = memchr(s, '#', len);
    if (hash != NULL)
        end = hash; /* a fragment is never sent */
    *slash = false;
    if (s[0] == '/') {
        *host = NULL;
        *host_len = 0;
        *target = s;
        *target_len = end - s;
        return NULL;
    }
    const char *auth = NULL;
    for (size_t i = 0; i != 2; ++i) {
        size_t n = strlen(schemes[i]);
        if (len >= n && strncasecmp(s, schemes[i], n) == 0)
            auth = s + n;
    }
    if (auth == NULL)
        return "expected an absolute http:// or https:// URL, or a path starting with '/'";
    const char *auth_end = auth;
    while (auth_end < end && *auth_end != '/' && *auth_end != '?')
        ++auth_end;
    if (auth_end == auth)
        return "no host in the URL";
    /* the authority becomes a Host header: only host[:port] characters, never anything a server would split */
    const char *port = NULL;
    if (auth[0] == '[') {
        const char *rb = memchr(auth, ']', auth_end - auth);
        if (rb == NULL || rb == auth + 1)
            return "bad IPv6 address in the URL";
        for (const char *p = auth + 1; p != rb; ++p)
            if (strchr("0123456789abcdefABCDEF:.", *p) == NULL)
                return "bad IPv6 address in the URL";
        if (rb + 1 != auth_end && rb[1] != ':')
            return "bad host in the URL";
        port = rb + 1 != auth_end ? rb + 1 : NULL;
    } else {
        const char *colon = memchr(auth, ':', auth_end - auth), *host_end = colon != NULL ? colon : auth_end;
        if (memchr(auth, '@', auth_end - auth) != NULL)
            return "user information in a URL is not supported";
        if (host_end == auth)
            return "no host in the URL";
        for (const char *p = auth; p != host_end; ++p)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' ||
                  *p == '_'))
                return "bad host in the URL";
        port = colon;
    }
    if (port != NULL) {
        size_t n = auth_end - port - 1;
        unsigned long v = 0;
        for (size_t i = 0; i != n; ++i) {
            if (port[1 + i] < '0' || port[1 + i] > '9' || i == 5)
                return "bad port in the URL";
            v = v * 10 + (unsigned long)(port[1 + i] - '0');
        }
        if (n == 0 || v == 0 || v > 65535)
            return "bad port in the URL";
    }
    *host = auth;
    *host_len = auth_end - auth;
    *target = auth_end;
    *target_len = end - auth_end;
    *slash = *target_len == 0 || auth_end[0] == '?';
    return NULL;
}

/* Adds one line (trimmed, not empty, not a comment). 0, -1 with `msg` (a bad line), or -2 (out of memory). */
static int list_add(list_t *l, const char *s, size_t len, const char **msg)
{
    const char *host, *target;
    size_t host_len, target_len, mark = l->arena_len;
    bool slash;

    if ((*msg = parse_line(s, len, &host, &host_len, &target, &target_len, &slash)) != NULL)
        return -1;
    if (l->num == l->cap) {
        size_t cap = l->cap != 0 ? l->cap * 2 : 1024;
        url_t *urls = realloc(l->urls, cap * sizeof(*urls));
        if (urls == NULL)
            return -2;
        l->urls = urls;
        l->cap = cap;
    }
    if ((l->num + 1) * 2 > l->set_cap && set_grow(l) != 0)
        return -2;

    /* `host` and `target` point into the line buffer `s`, never into the arena, and the room is made first */
    if (arena_reserve(l, len + host_len + target_len + 4) != 0)
        return -2;
    url_t *u = &l->urls[l->num];
    *u = (url_t){.host = SIZE_MAX, .result = R_PENDING};
    u->text = arena_put(l, "", s, len);
    if (host != NULL)
        u->host = arena_put(l, "", host, host_len);
    if (host == NULL && target_len == len)
        u->target = u->text; /* a plain path is its own target: stored once */
    else
        u->target = arena_put(l, slash ? "/" : "", target, target_len);

    size_t *slot = set_slot(l, u);
    if (*slot != 0) {
        ++l->duplicates;
        l->arena_len = mark; /* forget the strings of the duplicate */
        return 0;
    }
    *slot = ++l->num;
    return 0;
}

static void trim(const char **s, size_t *len)
{
    while (*len != 0 && (**s == ' ' || **s == '\t' || **s == '\r' || **s == '\n'))
        ++*s, --*len;
    while (*len != 0 && ((*s)[*len - 1] == ' ' || (*s)[*len - 1] == '\t' || (*s)[*len - 1] == '\r' || (*s)[*len - 1] == '\n'))
        --*len;
}

/* Reads `path` ("-": stdin) into `l`. Returns 0, or the exit status after printing why: 2 for an unreadable
 * list or a bad line, 1 when out of memory. */
static int list_load(list_t *l, const char *path)
{
    FILE *fp = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    char *line = NULL;
    size_t linecap = 0;
    unsigned lineno = 0;
    ssize_t n;
    int ret = 0;

    if (fp == NULL) {
        fprintf(stderr, "warm: %s: %s\n", path, strerror(errno));
        return 2;
    }
    errno = 0;
    while ((n = getline(&line, &linecap, fp)) != -1) {
        const char *s = line, *msg;
        size_t len = (size_t)n;
        ++lineno;
        trim(&s, &len);
        if (len == 0 || s[0] == '#')
            continue;
        int r = list_add(l, s, len, &msg);
        if (r == -1) {
            fprintf(stderr, "warm: %s:%u: %s\n", path, lineno, msg);
            ret = 2;
            break;
        }
        if (r == -2) {
            fprintf(stderr, "warm: %s:%u: out of memory\n", path, lineno);
            ret = 1;
            break;
        }
    }
    if (ret == 0 && ferror(fp)) {
        fprintf(stderr, "warm: %s: %s\n", path, strerror(errno != 0 ? errno : EIO));
        ret = 2;
    }
    free(line);
    if (fp != stdin)
        fclose(fp);
    return ret;
}

/* --- fetching ------------------------------------------------------------------------------------- */

static void fetch_one(worker_t *wk, url_t *u)
{
    warm_t *w = wk->warm;
    const list_t *l = &w->list;
    edge_httpc_request_t req = {.method = "GET",
                                .target = str_at(l, u->target),
                                .host = u->host != SIZE_MAX ? str_at(l, u->host) : w->default_host,
                                .headers = w->headers,
                                .num_headers = w->num_headers};
    const char *xcache;
    size_t xlen;

    wk->res.body = NULL; /* discarded: the edge stores it, we only need to have read it to the end */
    wk->res.body_cap = 0;
    int r = edge_httpc_request(&wk->conn, &req, &wk->res, w->timeout_ms);
    if (r != 0) {
        u->err = r;
        u->sys_errno = wk->conn.sys_errno;
        u->result = R_FAILED;
        return;
    }
    u->status = wk->res.status;
    xcache = edge_httpc_header(&wk->res, "x-cache", &xlen);
    if (u->status >= 400 || (xcache != NULL && xlen == 5 && strncasecmp(xcache, "ERROR", 5) == 0))
        u->result = R_FAILED;
    else if (xcache != NULL && xlen == 3 && strncasecmp(xcache, "HIT", 3) == 0)
        u->result = R_HIT;
    else
        u->result = R_FETCHED; /* MISS, REVALIDATED, STALE, or no X-Cache (not an edgecache?): the origin was asked */
}

static void *worker_main(void *arg)
{
    worker_t *wk = arg;
    warm_t *w = wk->warm;

    while (!atomic_load(&interrupted)) {
        size_t i = atomic_fetch_add(&w->next, 1);
        if (i >= w->list.num)
            break;
        url_t *u = &w->list.urls[i];
        fetch_one(wk, u);
        switch (u->result) {
        case R_HIT:
            atomic_fetch_add(&w->hits, 1);
            break;
        case R_FETCHED:
            atomic_fetch_add(&w->fetched, 1);
            break;
        default:
            atomic_fetch_add(&w->failed, 1);
            break;
        }
        atomic_fetch_add(&w->done, 1);
    }
    edge_httpc_close(&wk->conn);

    pthread_mutex_lock(&w->mutex);
    if (--w->running == 0)
        pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mutex);
    return NULL;
}

/* --- progress and report -------------------------------------------------------------------------- */

static void fmt_duration(char *buf, size_t len, double s)
{
    unsigned long t = (unsigned long)(s + 0.5);
    if (t < 60)
        snprintf(buf, len, "%lus", t);
    else if (t < 3600)
        snprintf(buf, len, "%lum%02lus", t / 60, t % 60);
    else
        snprintf(buf, len, "%luh%02lum", t / 3600, t % 3600 / 60);
}

/* "[#####.........] 1234/5000  25%  412 req/s  ETA 9s", over the previous one ('\r', then erase the rest). */
static void draw_bar(warm_t *w, double start)
{
    size_t done = atomic_load(&w->done), total = w->list.num;
    double elapsed = now_s() - start, rate = elapsed > 0 ? done / elapsed : 0;
    size_t filled = total != 0 ? done * BAR_WIDTH / total : BAR_WIDTH;
    char bar[BAR_WIDTH + 1], eta[32];

    memset(bar, '#', filled);
    memset(bar + filled, '.', BAR_WIDTH - filled);
    bar[BAR_WIDTH] = '\0';
    if (done == total)
        snprintf(eta, sizeof(eta), "0s");
    else if (done == 0 || rate <= 0)
        snprintf(eta, sizeof(eta), "--");
    else
        fmt_duration(eta, sizeof(eta), (double)(total - done) / rate);
    fprintf(stderr, "\r[%s] %zu/%zu %3u%%  %.0f req/s  ETA %s\033[K", bar, done, total,
            total != 0 ? (unsigned)(done * 100 / total) : 100, rate, eta);
    fflush(stderr);
}

static void describe(const url_t *u, char *buf, size_t len)
{
    if (u->err != 0 && u->sys_errno != 0)
        snprintf(buf, len, "%s: %s", edge_httpc_strerror(u->err), strerror(u->sys_errno));
    else if (u->err != 0)
        snprintf(buf, len, "%s", edge_httpc_strerror(u->err));
    else if (u->status < 400)
        snprintf(buf, len, "status %d, an error page (X-Cache: ERROR)", u->status);
    else
        snprintf(buf, len, "status %d", u->status);
}

static void report(warm_t *w, double elapsed)
{
    size_t done = atomic_load(&w->done), hits = atomic_load(&w->hits), fetched = atomic_load(&w->fetched),
           failed = atomic_load(&w->failed), listed = 0;
    char why[256];

    printf("warmed %zu of %zu URLs in %.1f s (%.0f req/s): %zu already cached, %zu fetched, %zu failed\n", hits + fetched,
           w->list.num, elapsed, elapsed > 0 ? done / elapsed : 0.0, hits, fetched, failed);
    if (w->list.duplicates != 0)
        printf("skipped %zu duplicate line%s\n", w->list.duplicates, w->list.duplicates == 1 ? "" : "s");
    if (done != w->list.num)
        printf("interrupted: %zu URL%s not attempted\n", w->list.num - done, w->list.num - done == 1 ? "" : "s");
    for (size_t i = 0; i != w->list.num && listed != failed; ++i) {
        const url_t *u = &w->list.urls[i];
        if (u->result != R_FAILED)
            continue;
        if (listed++ == MAX_LISTED_FAILURES) {
            printf("... and %zu more\n", failed - MAX_LISTED_FAILURES);
            break;
        }
        describe(u, why, sizeof(why));
        printf("failed: %s (%s)\n", str_at(&w->list, u->text), why);
    }
    fflush(stdout);
}

/* Starts the workers, draws the progress until they are done, joins them. 0, or 1 when none could start. */
static int run(warm_t *w, unsigned concurrency)
{
    unsigned n = w->list.num < concurrency ? (unsigned)w->list.num : concurrency, started = 0;
    bool tty = isatty(STDERR_FILENO);
    double start = now_s();
    worker_t *workers = n != 0 ? calloc(n, sizeof(*workers)) : NULL;
    pthread_condattr_t ca;

    if (n != 0 && workers == NULL) {
        fprintf(stderr, "warm: out of memory\n");
        return 1;
    }
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    pthread_mutex_init(&w->mutex, NULL);

    /* the first ^C stops the run after the requests in flight and still reports; the second one kills */
    struct sigaction sa = {.sa_handler = on_signal, .sa_flags = SA_RESETHAND};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);

    pthread_mutex_lock(&w->mutex);
    for (; started != n; ++started) {
        workers[started].warm = w;
        edge_httpc_init(&workers[started].conn, (const struct sockaddr *)&w->addr, w->addrlen);
        int err = pthread_create(&workers[started].tid, NULL, worker_main, &workers[started]);
        if (err != 0) {
            /* fewer workers only make the run slower; the ones started take every URL */
            fprintf(stderr, "warm: could not start worker %u of %u: %s\n", started + 1, n, strerror(err));
            break;
        }
        ++w->running;
    }
    while (w->running != 0) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += REFRESH_MS * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec += 1;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&w->cond, &w->mutex, &until);
        if (tty && w->running != 0)
            draw_bar(w, start);
    }
    pthread_mutex_unlock(&w->mutex);
    for (unsigned i = 0; i != started; ++i)
        pthread_join(workers[i].tid, NULL);
    free(workers);
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->mutex);

    if (n != 0 && started == 0)
        return 1;
    if (tty) {
        draw_bar(w, start); /* the final state, always: a short run would otherwise show no bar at all */
        fputc('\n', stderr);
    }
    report(w, now_s() - start);
    return 0;
}

/* --- options -------------------------------------------------------------------------------------- */

/* "Name: value": a token, a colon, a value without CR or LF. Returns false for anything else. */
static bool header_ok(const char *h, size_t *name_len)
{
    const char *colon = strchr(h, ':');
    if (colon == NULL || colon == h)
        return false;
    for (const char *p = h; p != colon; ++p)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              strchr("!#$%&'*+-.^_`|~", *p) != NULL))
            return false;
    if (strpbrk(colon, "\r\n") != NULL)
        return false;
    *name_len = colon - h;
    return true;
}

/* The edge address from the configuration: its first cleartext listener, a wildcard address made loopback. */
static int edge_from_config(const char *file, char *out, size_t outlen)
{
    edge_conf_t conf;
    char err[EDGE_CONF_ERRLEN];

    if (edge_config_load(&conf, file, err) != 0) {
        fprintf(stderr, "warm: %s\n", err);
        return -1;
    }
    int ret = -1;
    for (size_t i = 0; i != conf.num_listens; ++i) {
        const edge_conf_listen_t *ls = &conf.listens[i];
        if (ls->tls_certificate != NULL)
            continue;
        bool v6 = strchr(ls->address, ':') != NULL;
        const char *a = strcmp(ls->address, "0.0.0.0") == 0 ? "127.0.0.1" : strcmp(ls->address, "::") == 0 ? "::1" : ls->address;
        snprintf(out, outlen, v6 ? "[%s]:%u" : "%s:%u", a, (unsigned)ls->port);
        ret = 0;
        break;
    }
    if (ret != 0)
        fprintf(stderr, "warm: %s has no cleartext listener; give --edge ADDR:PORT\n", file);
    edge_config_dispose(&conf);
    return ret;
}

#define STR(x) STR_(x)
#define STR_(x) #x

/* -H 'Name: value', repeatable: a Host header replaces the default Host, any other is sent as it is. */
static const char *parse_header(void *dest, const char *value)
{
    warm_t *w = dest;
    size_t name_len;

    if (!header_ok(value, &name_len))
        return "expected 'Name: value'";
    if (name_len == 4 && strncasecmp(value, "host", 4) == 0) {
        w->default_host = value + 5 + strspn(value + 5, " \t");
        return NULL;
    }
    if ((name_len == 14 && strncasecmp(value, "content-length", 14) == 0) ||
        (name_len == 17 && strncasecmp(value, "transfer-encoding", 17) == 0) ||
        (name_len == 10 && strncasecmp(value, "connection", 10) == 0))
        return "warm sets that header itself";
    if (w->num_headers == EDGE_HTTPC_MAX_REQ_HEADERS)
        return "at most " STR(EDGE_HTTPC_MAX_REQ_HEADERS) " -H headers";
    w->headers[w->num_headers++] = value;
    return NULL;
}

int edge_warm_main(int argc, char **argv)
{
    const char *file = NULL, *edge = NULL;
    char edge_buf[300], err[256];
    unsigned long concurrency = DEFAULT_CONCURRENCY, timeout_s = DEFAULT_TIMEOUT_MS / 1000;
    warm_t w = {.timeout_ms = DEFAULT_TIMEOUT_MS};
    const edge_cli_opt_t opts[] = {
        {.name = "config", .letter = 'c', .kind = EDGE_CLI_STRING, .dest = &file},
        {.name = "edge", .kind = EDGE_CLI_STRING, .dest = &edge},
        {.name = "concurrency", .kind = EDGE_CLI_UINT, .dest = &concurrency, .min = 1, .max = MAX_CONCURRENCY},
        {.name = "timeout", .kind = EDGE_CLI_UINT, .dest = &timeout_s, .min = 1, .max = 3600, .unit = "seconds"},
        {.name = "header", .letter = 'H', .kind = EDGE_CLI_CALL, .dest = &w, .parse = parse_header},
        {0}};
    const edge_cli_t cli = {.prog = "warm", .usage = usage, .opts = opts, .args_name = "LIST", .min_args = 1, .max_args = 1};
    int nargs, ret;

    if ((w.headers = calloc((size_t)argc, sizeof(*w.headers))) == NULL) { /* -H cannot occur more often than that */
        fprintf(stderr, "warm: out of memory\n");
        return 1;
    }
    if ((ret = edge_cli_parse(&cli, argc, argv, &nargs)) != EDGE_CLI_CONTINUE)
        goto Exit;
    ret = 2;
    w.timeout_ms = (uint64_t)timeout_s * 1000;
    if (edge == NULL) {
        if (file != NULL) {
            if (edge_from_config(file, edge_buf, sizeof(edge_buf)) != 0)
                goto Exit;
            edge = edge_buf;
        } else {
            edge = DEFAULT_EDGE;
        }
    }
    if (edge_httpc_resolve(edge, &w.addr, &w.addrlen, err, sizeof(err)) != 0) {
        fprintf(stderr, "warm: --edge %s\n", err);
        goto Exit;
    }
    if (w.default_host == NULL)
        w.default_host = edge;
    if ((ret = list_load(&w.list, argv[1])) != 0)
        goto Exit;
    ret = run(&w, (unsigned)concurrency);
    if (ret == 0 && (atomic_load(&w.failed) != 0 || atomic_load(&w.done) != w.list.num))
        ret = 1;

Exit:
    list_dispose(&w.list);
    free(w.headers);
    return ret;
}
