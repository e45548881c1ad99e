/*
 * edge/config.c: the YAML configuration, parsed with libyaml's document API and validated into an
 * edge_conf_t. This is the only file that includes <yaml.h>.
 *
 * The parse has two steps. libyaml first builds the whole document tree, so a syntax error is reported
 * before anything is interpreted; then each mapping is checked against a table of the keys it allows
 * (collect()) and its values are interpreted. Sections are interpreted in a fixed order, not in the order
 * they are written, because behaviors name origins and must see them all. Every message names the node it
 * is about as "name:line:col:" (1-based), so an operator can jump to it.
 *
 * The invariant that is easy to break: every allocation hangs off `conf` the moment it is made (arrays are
 * calloc'd at their final size and counted at once, their elements zeroed), so that on any error a single
 * edge_config_dispose() frees exactly what was built. Never hold an allocation only in a local across a
 * call that can fail.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>
#include "cache/pattern.h"
#include "errorpages/errorpages.h"
#include "edge/config.h"

#ifndef EDGE_SAMPLE_SITE
#define EDGE_SAMPLE_SITE "sample-site"
#endif

#define MAX_CONF_SIZE (16 * 1024 * 1024)
#define MAX_PAGE_SIZE (1024 * 1024)
#define MAX_THREADS 1024
/* 100 years: far above any sensible TTL, and keeps "now + ttl" (in ms or s) far from overflowing */
#define MAX_DURATION_MS ((uint64_t)36500 * 86400 * 1000)
#define MIN_CACHE_SIZE ((uint64_t)1024 * 1024)
#define MSGLEN 256 /* a message without its "name:line:col: " prefix */
#define NKEYS(a) (sizeof(a) / sizeof((a)[0]))

/* "file:" rather than "file://": the build defines EDGE_SAMPLE_SITE as an absolute path ("file:/abs" is
 * normalized to "file:///abs"), while the fallback is relative, where "file://sample-site" would name a host.
 * Single quotes because a YAML single-quoted scalar has no escapes that a path could trigger. */
const char edge_config_default_yaml[] = "# edgecache's built-in configuration: the repository's sample site on 127.0.0.1:8080.\n"
                                        "listen: 127.0.0.1:8080\n"
                                        "cache:\n"
                                        "  path: edgecache-cache\n"
                                        "origins:\n"
                                        "  default:\n"
                                        "    servers:\n"
                                        "      - 'file:" EDGE_SAMPLE_SITE "'\n"
                                        "behaviors:\n"
                                        "  - path: '*'\n"
                                        "    default_ttl: 3600\n";

typedef struct st_ctx_t {
    const char *name;
    const char *basedir;
    yaml_document_t *doc;
    char *err;
    /* the line that first claimed each error page status (400..599) and failure, 0 if none: a second claim
     * would silently never apply */
    size_t status_line[200];
    size_t failure_line[3];
} ctx_t;

/* --- errors and node access ----------------------------------------------------------------------------- */

static size_t line(const yaml_node_t *n)
{
    return n->start_mark.line + 1;
}

__attribute__((format(printf, 3, 4))) static int fail(ctx_t *c, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    int off = snprintf(c->err, EDGE_CONF_ERRLEN, "%s:%zu:%zu: ", c->name, line(n), n->start_mark.column + 1);

    if (off >= 0 && off < EDGE_CONF_ERRLEN) {
        va_start(ap, fmt);
        vsnprintf(c->err + off, EDGE_CONF_ERRLEN - off, fmt, ap);
        va_end(ap);
    }
    return -1;
}

static int nomem(ctx_t *c, const yaml_node_t *n)
{
    return fail(c, n, "out of memory");
}

static yaml_node_t *get(ctx_t *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

static size_t num_items(const yaml_node_t *n)
{
    return n->data.sequence.items.top - n->data.sequence.items.start;
}

static yaml_node_t *item(ctx_t *c, const yaml_node_t *n, size_t i)
{
    return get(c, n->data.sequence.items.start[i]);
}

/* A plain "", "~" or "null" is YAML's null, which is what "port:" with nothing after it gives: it must be
 * reported as missing, not read as an empty string. */
static bool is_null(const yaml_node_t *n)
{
    const char *v;

    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    v = (const char *)n->data.scalar.value;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

static const char *kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        return is_null(n) ? "nothing" : "a single value";
    }
}

/* The text of a scalar. A NUL byte (possible through a "\0" escape) is refused because every consumer
 * treats these as C strings and would silently see a shorter value. */
static int str(ctx_t *c, const yaml_node_t *n, const char *what, const char **out)
{
    if (n->type != YAML_SCALAR_NODE || is_null(n))
        return fail(c, n, "%s: expected a single value, found %s", what, kind(n));
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
        return fail(c, n, "%s: contains a NUL byte", what);
    *out = (const char *)n->data.scalar.value;
    return 0;
}

/* A non-empty string, copied. */
static int dupstr(ctx_t *c, const yaml_node_t *n, const char *what, char **out)
{
    const char *s;

    if (str(c, n, what, &s) != 0)
        return -1;
    if (s[0] == '\0')
        return fail(c, n, "%s: must not be empty", what);
    if ((*out = strdup(s)) == NULL)
        return nomem(c, n);
    return 0;
}

/* The value of `key` in mapping `map`, or NULL. */
static yaml_node_t *lookup(ctx_t *c, const yaml_node_t *map, const char *key)
{
    if (map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; ++p) {
        yaml_node_t *k = get(c, p->key);
        if (k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
            return get(c, p->value);
    }
    return NULL;
}

/* Every key of mapping `n` is a name and appears once. YAML leaves duplicates to the application, and a
 * silently ignored second "default_ttl" is the kind of mistake an operator never finds. */
static int check_keys(ctx_t *c, const yaml_node_t *n, const char *what)
{
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; ++p) {
        yaml_node_t *k = get(c, p->key);
        const char *name;
        if (k->type != YAML_SCALAR_NODE)
            return fail(c, k, "%s: expected a key name, found %s", what, kind(k));
        if (str(c, k, what, &name) != 0)
            return -1;
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; ++q) {
            yaml_node_t *prev = get(c, q->key);
            if (strcmp((const char *)prev->data.scalar.value, name) == 0)
                return fail(c, k, "duplicate key \"%s\" in %s (first at line %zu)", name, what, line(prev));
        }
    }
    return 0;
}

/* Checks that `n` is a mapping whose keys are all in `keys` (each at most once) and stores each value at
 * its key's index in `vals` (NULL when absent). `what` names the mapping in messages. */
static int collect(ctx_t *c, const yaml_node_t *n, const char *what, const char *const *keys, size_t nkeys, yaml_node_t **vals)
{
    if (n->type != YAML_MAPPING_NODE)
        return fail(c, n, "%s: expected a mapping, found %s", what, kind(n));
    if (check_keys(c, n, what) != 0)
        return -1;
    memset(vals, 0, nkeys * sizeof(*vals));
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; ++p) {
        yaml_node_t *k = get(c, p->key);
        const char *name = (const char *)k->data.scalar.value;
        size_t i;
        for (i = 0; i != nkeys && strcmp(keys[i], name) != 0; ++i)
            ;
        if (i == nkeys) {
            char allowed[256] = "";
            for (size_t j = 0; j != nkeys; ++j) {
                size_t used = strlen(allowed);
                snprintf(allowed + used, sizeof(allowed) - used, "%s%s", j == 0 ? "" : ", ", keys[j]);
            }
            return fail(c, k, "unknown key \"%s\" in %s (allowed: %s)", name, what, allowed);
        }
        vals[i] = get(c, p->value);
    }
    return 0;
}

static int missing(ctx_t *c, const yaml_node_t *map, const char *what, const char *key)
{
    return fail(c, map, "%s: missing required key \"%s\"", what, key);
}

/* --- numbers, durations, sizes ---------------------------------------------------------------------------- */

/* Reads the decimal digits at `s` into *v and sets *end after them: 0, -1 without a digit, -2 on overflow.
 * No sign, no base prefix: "0x10" or "+5" in a config file is a typo more often than intended. */
static int digits(const char *s, uint64_t *v, const char **end)
{
    const char *p = s;
    bool overflow = false;

    *v = 0;
    for (; *p >= '0' && *p <= '9'; ++p) {
        if (*v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
            overflow = true;
        else
            *v = *v * 10 + (uint64_t)(*p - '0');
    }
    *end = p;
    return p == s ? -1 : overflow ? -2 : 0;
}

static int integer(ctx_t *c, const yaml_node_t *n, const char *what, uint64_t lo, uint64_t hi, uint64_t *out)
{
    const char *s, *end;
    int r;

    if (str(c, n, what, &s) != 0)
        return -1;
    r = digits(s[0] == '-' ? s + 1 : s, out, &end);
    if (r == -1 || *end != '\0')
        return fail(c, n, "%s: expected an integer, found \"%s\"", what, s);
    if (r == -2 || s[0] == '-' || *out < lo || *out > hi)
        return fail(c, n, "%s: %s is out of range (%" PRIu64 "..%" PRIu64 ")", what, s, lo, hi);
    return 0;
}

/* Parses "10" (seconds), "250ms", "10s", "5m", "1h", "2d" into milliseconds; NULL, or why not. */
static const char *parse_duration(const char *s, uint64_t *ms)
{
    static const struct {
        const char *unit;
        uint64_t ms;
    } units[] = {{"", 1000}, {"ms", 1}, {"s", 1000}, {"m", 60 * 1000}, {"h", 3600 * 1000}, {"d", 86400 * 1000}};
    const char *end;
    uint64_t v;
    int r;

    if (s[0] == '-')
        return "must not be negative";
    if ((r = digits(s, &v, &end)) == -1)
        return "expected a number of seconds, or a number with ms, s, m, h or d (\"10s\", \"5m\")";
    while (*end == ' ')
        ++end;
    for (size_t i = 0; i != NKEYS(units); ++i) {
        if (strcmp(end, units[i].unit) == 0) {
            if (r == -2 || v > MAX_DURATION_MS / units[i].ms)
                return "is too large (at most 100 years)";
            *ms = v * units[i].ms;
            return NULL;
        }
    }
    return "unknown unit (use ms, s, m, h or d)";
}

static int duration_ms(ctx_t *c, const yaml_node_t *n, const char *what, uint64_t *ms)
{
    const char *s, *why;

    if (str(c, n, what, &s) != 0)
        return -1;
    if ((why = parse_duration(s, ms)) != NULL)
        return fail(c, n, "%s: invalid duration \"%s\": %s", what, s, why);
    return 0;
}

/* A positive duration: a zero timeout would fail every fetch. */
static int timeout_ms(ctx_t *c, const yaml_node_t *n, const char *what, uint64_t *ms)
{
    if (duration_ms(c, n, what, ms) != 0)
        return -1;
    if (*ms == 0)
        return fail(c, n, "%s: must be more than 0", what);
    return 0;
}

/* TTLs are whole seconds, as in HTTP's max-age: "1500ms" would be silently rounded otherwise. */
static int ttl(ctx_t *c, const yaml_node_t *n, const char *what, uint64_t *secs)
{
    uint64_t ms;

    if (duration_ms(c, n, what, &ms) != 0)
        return -1;
    if (ms % 1000 != 0)
        return fail(c, n, "%s: must be a whole number of seconds", what);
    *secs = ms / 1000;
    return 0;
}

static int size(ctx_t *c, const yaml_node_t *n, const char *what, uint64_t *out)
{
    static const struct {
        const char *unit;
        unsigned shift;
    } units[] = {{"", 0},     {"B", 0},  {"K", 10},  {"KB", 10},  {"KiB", 10}, {"M", 20},  {"MB", 20},
                 {"MiB", 20}, {"G", 30}, {"GB", 30}, {"GiB", 30}, {"T", 40},   {"TB", 40}, {"TiB", 40}};
    const char *s, *end;
    uint64_t v;
    int r;

    if (str(c, n, what, &s) != 0)
        return -1;
    if (s[0] == '-')
        return fail(c, n, "%s: invalid size \"%s\": must not be negative", what, s);
    if ((r = digits(s, &v, &end)) == -1)
        return fail(c, n, "%s: invalid size \"%s\": expected bytes, or a number with K, M, G or T (\"20G\")", what, s);
    while (*end == ' ')
        ++end;
    for (size_t i = 0; i != NKEYS(units); ++i) {
        if (strcasecmp(end, units[i].unit) == 0) {
            if (r == -2 || v > (UINT64_MAX >> units[i].shift))
                return fail(c, n, "%s: invalid size \"%s\": too large", what, s);
            *out = v << units[i].shift;
            return 0;
        }
    }
    return fail(c, n, "%s: invalid size \"%s\": unknown unit (use K, M, G or T)", what, s);
}

/* --- paths, addresses, URLs ------------------------------------------------------------------------------ */

/* `path` relative to `basedir` (NULL or an absolute path: `path` as is), malloc'd. */
static char *resolve(const char *basedir, const char *path)
{
    char *out;

    if (basedir == NULL || path[0] == '/')
        return strdup(path);
    if (asprintf(&out, "%s/%s", basedir, path) < 0)
        return NULL;
    return out;
}

static bool numeric_address(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Reads a port "1".."65535" at `s`, which must end the string; 0 on error. */
static uint16_t port_at(const char *s)
{
    const char *end;
    uint64_t v;

    if (digits(s, &v, &end) != 0 || *end != '\0' || v < 1 || v > 65535)
        return 0;
    return (uint16_t)v;
}

/* Splits "ADDR:PORT" or "[V6ADDR]:PORT" into a numeric address (malloc'd) and a port. */
static int split_hostport(const char *s, char **addr, uint16_t *port, char *msg, size_t msglen)
{
    const char *colon, *host = s, *host_end;

    if (s[0] == '[') {
        host = s + 1;
        if ((host_end = strchr(host, ']')) == NULL || host_end[1] != ':') {
            snprintf(msg, msglen, "expected \"[IPV6]:PORT\", e.g. \"[::1]:8080\"");
            return -1;
        }
        colon = host_end + 1;
    } else {
        if ((colon = strrchr(s, ':')) == NULL) {
            snprintf(msg, msglen, "expected \"ADDRESS:PORT\", e.g. \"127.0.0.1:8080\"");
            return -1;
        }
        if (memchr(s, ':', colon - s) != NULL) {
            snprintf(msg, msglen, "an IPv6 address needs brackets, e.g. \"[::1]:8080\"");
            return -1;
        }
        host_end = colon;
    }
    if ((*port = port_at(colon + 1)) == 0) {
        snprintf(msg, msglen, "port \"%s\" is not in 1..65535", colon + 1);
        return -1;
    }
    if ((*addr = strndup(host, host_end - host)) == NULL) {
        snprintf(msg, msglen, "out of memory");
        return -1;
    }
    if (!numeric_address(*addr)) {
        snprintf(msg, msglen, "\"%s\" is not a numeric IPv4 or IPv6 address", *addr);
        free(*addr);
        *addr = NULL;
        return -1;
    }
    return 0;
}

static int http_url(const char *url, char **out, char *msg, size_t msglen)
{
    const char *host = url + strlen("http://"), *end = host + strcspn(host, "/?#");
    char auth[300], *port = NULL;
    unsigned char v6[sizeof(struct in6_addr)];

    if (*end != '\0' && strcmp(end, "/") != 0) {
        snprintf(msg, msglen, "origin \"%s\": a server URL has no path or query (the client's path is forwarded as is)", url);
        return -1;
    }
    if ((size_t)(end - host) >= sizeof(auth)) {
        snprintf(msg, msglen, "origin \"%s\": the host name is too long", url);
        return -1;
    }
    snprintf(auth, sizeof(auth), "%.*s", (int)(end - host), host);
    if (strchr(auth, '@') != NULL) {
        snprintf(msg, msglen, "origin \"%s\": credentials in a URL are not supported", url);
        return -1;
    }
    if (auth[0] == '[') {
        char *close = strchr(auth, ']');
        if (close == NULL)
            goto BadHost;
        *close = '\0';
        if (inet_pton(AF_INET6, auth + 1, v6) != 1) {
            snprintf(msg, msglen, "origin \"%s\": invalid IPv6 address", url);
            return -1;
        }
        if (close[1] == ':')
            port = close + 2;
        else if (close[1] != '\0')
            goto BadHost;
    } else {
        char *colon = strchr(auth, ':');
        if (colon != NULL) {
            *colon = '\0';
            port = colon + 1;
        }
        if (auth[0] == '\0' || auth[strspn(auth, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._")] != '\0')
            goto BadHost;
    }
    if (port != NULL && port_at(port) == 0) {
        snprintf(msg, msglen, "origin \"%s\": the port is not in 1..65535", url);
        return -1;
    }
    /* the normalized form has no trailing '/', so that the fetcher can append the request path */
    if ((*out = strndup(url, end - url)) == NULL) {
        snprintf(msg, msglen, "out of memory");
        return -1;
    }
    return 0;

BadHost:
    snprintf(msg, msglen, "origin \"%s\": invalid host", url);
    return -1;
}

static int file_url(const char *url, const char *basedir, char **out, char *msg, size_t msglen)
{
    const char *path = url + strlen("file:");
    char *full;
    struct stat st;
    int r;

    if (strncmp(path, "//", 2) == 0) {
        if (path[2] != '/') {
            snprintf(msg, msglen, "origin \"%s\": a file URL names no host (use \"file:///absolute/dir\" or \"file:dir\")", url);
            return -1;
        }
        path += 2;
    }
    if (path[0] == '\0') {
        snprintf(msg, msglen, "origin \"%s\": no directory", url);
        return -1;
    }
    if ((full = resolve(basedir, path)) == NULL) {
        snprintf(msg, msglen, "out of memory");
        return -1;
    }
    errno = 0; /* stat() leaves it alone when it succeeds on something that is not a directory */
    if (stat(full, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(msg, msglen, "origin \"%s\": %s: %s", url, full, errno != 0 ? strerror(errno) : "not a directory");
        free(full);
        return -1;
    }
    /* stored resolved, so that the file origin (which resolves against the working directory) opens the
     * directory this check saw */
    r = asprintf(out, "%s%s", full[0] == '/' ? "file://" : "file:", full);
    free(full);
    if (r < 0) {
        snprintf(msg, msglen, "out of memory");
        return -1;
    }
    return 0;
}

/* Validates an origin server URL and stores its normalized form in *out (malloc'd): "http://host[:port]"
 * without a trailing '/', or "file:///abs/dir" / "file:rel/dir" with a relative directory resolved against
 * `basedir`, which must exist. */
static int parse_url(const char *url, const char *basedir, char **out, bool *is_file, char *msg, size_t msglen)
{
    *is_file = false;
    if (strncmp(url, "http://", 7) == 0)
        return http_url(url, out, msg, msglen);
    if (strncasecmp(url, "https://", 8) == 0) {
        snprintf(msg, msglen, "origin \"%s\": https origins are not supported yet", url);
        return -1;
    }
    if (strncmp(url, "file:", 5) == 0) {
        *is_file = true;
        return file_url(url, basedir, out, msg, msglen);
    }
    snprintf(msg, msglen, "origin \"%s\": unsupported URL (use \"http://host[:port]\" or \"file:///dir\")", url);
    return -1;
}

/* Reads a regular file of at most `limit` bytes into a NUL-terminated buffer (malloc'd). */
static int slurp(const char *path, size_t limit, char **out, size_t *len, char *msg, size_t msglen)
{
    struct stat st;
    char *buf = NULL, *grown;
    size_t cap;
    ssize_t r;
    int fd;

    *out = NULL;
    *len = 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) != 0) {
        snprintf(msg, msglen, "cannot read %s: %s", path, strerror(errno));
        goto Fail;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(msg, msglen, "cannot read %s: not a regular file", path);
        goto Fail;
    }
    if ((uint64_t)st.st_size > limit)
        goto TooLarge;
    /* read to EOF rather than st_size bytes, growing as needed: the file may change under us, and the limit
     * must still hold */
    cap = (size_t)st.st_size + 1;
    if ((buf = malloc(cap + 1)) == NULL)
        goto NoMem;
    for (;;) {
        if (*len == cap) {
            if (cap > limit)
                goto TooLarge;
            cap = cap > limit / 2 ? limit + 1 : cap * 2;
            if ((grown = realloc(buf, cap + 1)) == NULL)
                goto NoMem;
            buf = grown;
        }
        if ((r = read(fd, buf + *len, cap - *len)) == 0)
            break;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(msg, msglen, "cannot read %s: %s", path, strerror(errno));
            goto Fail;
        }
        *len += (size_t)r;
    }
    if (*len > limit)
        goto TooLarge;
    close(fd);
    buf[*len] = '\0';
    *out = buf;
    return 0;

TooLarge:
    snprintf(msg, msglen, "%s is larger than %zu bytes", path, limit);
    goto Fail;
NoMem:
    snprintf(msg, msglen, "out of memory");
Fail:
    if (fd >= 0)
        close(fd);
    free(buf);
    *len = 0;
    return -1;
}

/* --- listen ---------------------------------------------------------------------------------------------- */

enum { L_ADDRESS, L_PORT, L_TLS };
static const char *const listen_keys[] = {[L_ADDRESS] = "address", [L_PORT] = "port", [L_TLS] = "tls"};
enum { T_CERTIFICATE, T_KEY };
static const char *const tls_keys[] = {[T_CERTIFICATE] = "certificate", [T_KEY] = "key"};

static int tls_file(ctx_t *c, const yaml_node_t *n, const char *what, char **out)
{
    char *written;

    if (dupstr(c, n, what, &written) != 0)
        return -1;
    *out = resolve(c->basedir, written);
    free(written);
    if (*out == NULL)
        return nomem(c, n);
    /* the listener opens it only after every thread started: say now that it is missing */
    if (access(*out, R_OK) != 0)
        return fail(c, n, "%s: cannot read %s: %s", what, *out, strerror(errno));
    return 0;
}

static int listen_one(ctx_t *c, edge_conf_listen_t *l, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(listen_keys)], *t[NKEYS(tls_keys)];
    char msg[MSGLEN];
    uint64_t port;

    if (n->type == YAML_SCALAR_NODE && !is_null(n)) {
        const char *s;
        if (str(c, n, "listen", &s) != 0)
            return -1;
        if (split_hostport(s, &l->address, &l->port, msg, sizeof(msg)) != 0)
            return fail(c, n, "listen \"%s\": %s", s, msg);
        return 0;
    }
    if (n->type != YAML_MAPPING_NODE)
        return fail(c, n, "listen: expected \"ADDRESS:PORT\" or a mapping with address and port, found %s", kind(n));
    if (collect(c, n, "listener", listen_keys, NKEYS(listen_keys), v) != 0)
        return -1;
    if (v[L_ADDRESS] == NULL)
        return missing(c, n, "listener", "address");
    if (v[L_PORT] == NULL)
        return missing(c, n, "listener", "port");
    if (dupstr(c, v[L_ADDRESS], "address", &l->address) != 0)
        return -1;
    if (!numeric_address(l->address))
        return fail(c, v[L_ADDRESS], "address: \"%s\" is not a numeric IPv4 or IPv6 address", l->address);
    if (integer(c, v[L_PORT], "port", 1, 65535, &port) != 0)
        return -1;
    l->port = (uint16_t)port;
    if (v[L_TLS] != NULL) {
        if (collect(c, v[L_TLS], "tls", tls_keys, NKEYS(tls_keys), t) != 0)
            return -1;
        if (t[T_CERTIFICATE] == NULL || t[T_KEY] == NULL)
            return fail(c, v[L_TLS], "tls: %s", t[T_KEY] == NULL ? "certificate without key" : "key without certificate");
        if (tls_file(c, t[T_CERTIFICATE], "certificate", &l->tls_certificate) != 0 ||
            tls_file(c, t[T_KEY], "key", &l->tls_key) != 0)
            return -1;
    }
    return 0;
}

/* `listen` is "ADDR:PORT", a mapping, or a list of either; absent, the embedded default's 127.0.0.1:8080. */
static int parse_listen(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n, const yaml_node_t *root)
{
    size_t count = n == NULL ? 1 : n->type == YAML_SEQUENCE_NODE ? num_items(n) : 1;

    if (count == 0)
        return fail(c, n, "listen: at least one listener is needed");
    if ((conf->listens = calloc(count, sizeof(*conf->listens))) == NULL)
        return nomem(c, root);
    conf->num_listens = count;
    if (n == NULL) {
        conf->listens[0].port = 8080;
        if ((conf->listens[0].address = strdup("127.0.0.1")) == NULL)
            return nomem(c, root);
        return 0;
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return listen_one(c, &conf->listens[0], n);
    for (size_t i = 0; i != count; ++i) {
        edge_conf_listen_t *l = &conf->listens[i];
        if (listen_one(c, l, item(c, n, i)) != 0)
            return -1;
        for (size_t j = 0; j != i; ++j) {
            if (conf->listens[j].port == l->port && strcmp(conf->listens[j].address, l->address) == 0)
                return fail(c, item(c, n, i), "listen: %s port %u is already listed at line %zu", l->address, l->port,
                            line(item(c, n, j)));
        }
    }
    return 0;
}

/* --- cache ----------------------------------------------------------------------------------------------- */

enum { C_PATH, C_MAX_SIZE };
static const char *const cache_keys[] = {[C_PATH] = "path", [C_MAX_SIZE] = "max_size"};

static int parse_cache(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n, const yaml_node_t *root)
{
    yaml_node_t *v[NKEYS(cache_keys)] = {NULL};

    conf->cache.max_size = (uint64_t)1 << 30;
    if (n != NULL && collect(c, n, "cache", cache_keys, NKEYS(cache_keys), v) != 0)
        return -1;
    if (v[C_PATH] != NULL) {
        if (dupstr(c, v[C_PATH], "path", &conf->cache.path) != 0)
            return -1;
    } else if ((conf->cache.path = strdup("edgecache-cache")) == NULL) {
        return nomem(c, root);
    }
    if (v[C_MAX_SIZE] != NULL) {
        if (size(c, v[C_MAX_SIZE], "max_size", &conf->cache.max_size) != 0)
            return -1;
        if (conf->cache.max_size < MIN_CACHE_SIZE)
            return fail(c, v[C_MAX_SIZE], "max_size: must be at least 1M");
    }
    return 0;
}

/* --- origins --------------------------------------------------------------------------------------------- */

enum { O_SERVERS, O_CONNECT_TIMEOUT, O_CONNECT_ATTEMPTS, O_READ_TIMEOUT, O_KEEPALIVE_TIMEOUT, O_HOST_HEADER };
static const char *const origin_keys[] = {
    [O_SERVERS] = "servers",           [O_CONNECT_TIMEOUT] = "connect_timeout",     [O_CONNECT_ATTEMPTS] = "connect_attempts",
    [O_READ_TIMEOUT] = "read_timeout", [O_KEEPALIVE_TIMEOUT] = "keepalive_timeout", [O_HOST_HEADER] = "host_header"};

static void origin_defaults(edge_conf_origin_t *o)
{
    o->connect_timeout_ms = 10000;
    o->connect_attempts = 3;
    o->read_timeout_ms = 30000;
    o->keepalive_timeout_ms = 5000;
}

static int server(ctx_t *c, const yaml_node_t *n, const char *what, char **out, bool *is_file)
{
    char msg[MSGLEN];
    const char *url;

    if (str(c, n, what, &url) != 0)
        return -1;
    if (parse_url(url, c->basedir, out, is_file, msg, sizeof(msg)) != 0)
        return fail(c, n, "%s", msg);
    return 0;
}

static int parse_origin(ctx_t *c, edge_conf_origin_t *o, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(origin_keys)], *s;
    char what[EDGE_CONF_ERRLEN];
    uint64_t attempts;
    bool any_file = false;

    origin_defaults(o);
    snprintf(what, sizeof(what), "origin \"%s\"", o->name);
    if (collect(c, n, what, origin_keys, NKEYS(origin_keys), v) != 0)
        return -1;
    if ((s = v[O_SERVERS]) == NULL)
        return missing(c, n, what, "servers");

    /* servers: a list of URLs, or a single one */
    o->num_servers = s->type == YAML_SEQUENCE_NODE ? num_items(s) : 1;
    if (o->num_servers == 0)
        return fail(c, s, "servers: at least one server is needed");
    if ((o->servers = calloc(o->num_servers, sizeof(*o->servers))) == NULL)
        return nomem(c, s);
    for (size_t i = 0; i != o->num_servers; ++i) {
        bool is_file;
        if (server(c, s->type == YAML_SEQUENCE_NODE ? item(c, s, i) : s, "servers", &o->servers[i], &is_file) != 0)
            return -1;
        any_file |= is_file;
    }
    if (any_file && o->num_servers != 1)
        return fail(c, s, "servers: a file origin has exactly one server");

    if (v[O_CONNECT_TIMEOUT] != NULL && timeout_ms(c, v[O_CONNECT_TIMEOUT], "connect_timeout", &o->connect_timeout_ms) != 0)
        return -1;
    if (v[O_CONNECT_ATTEMPTS] != NULL) {
        if (integer(c, v[O_CONNECT_ATTEMPTS], "connect_attempts", 1, 10, &attempts) != 0)
            return -1;
        o->connect_attempts = (unsigned)attempts;
    }
    if (v[O_READ_TIMEOUT] != NULL && timeout_ms(c, v[O_READ_TIMEOUT], "read_timeout", &o->read_timeout_ms) != 0)
        return -1;
    /* 0 is allowed: no connection is kept for reuse */
    if (v[O_KEEPALIVE_TIMEOUT] != NULL &&
        duration_ms(c, v[O_KEEPALIVE_TIMEOUT], "keepalive_timeout", &o->keepalive_timeout_ms) != 0)
        return -1;
    if (v[O_HOST_HEADER] != NULL) {
        if (dupstr(c, v[O_HOST_HEADER], "host_header", &o->host_header) != 0)
            return -1;
        /* it is sent verbatim: a space or a control character would let it inject header lines */
        for (const char *p = o->host_header; *p != '\0'; ++p)
            if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
                return fail(c, v[O_HOST_HEADER], "host_header: \"%s\" is not a valid host", o->host_header);
    }
    return 0;
}

/* `origins`: a mapping from name to origin, in the order written (behaviors refer to them by index). */
static int parse_origins(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    size_t count;

    if (n->type != YAML_MAPPING_NODE)
        return fail(c, n, "origins: expected a mapping from names to origins, found %s", kind(n));
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; ++p) {
        const char *name;
        yaml_node_t *k = get(c, p->key);
        if (k->type != YAML_SCALAR_NODE || str(c, k, "origins", &name) != 0)
            return fail(c, k, "origins: expected an origin name, found %s", kind(k));
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; ++q) {
            yaml_node_t *prev = get(c, q->key);
            if (strcmp((const char *)prev->data.scalar.value, name) == 0)
                return fail(c, k, "duplicate origin \"%s\" (first at line %zu)", name, line(prev));
        }
    }
    count = n->data.mapping.pairs.top - n->data.mapping.pairs.start;
    if ((conf->origins = calloc(count, sizeof(*conf->origins))) == NULL && count != 0)
        return nomem(c, n);
    conf->num_origins = count;
    for (size_t i = 0; i != count; ++i) {
        yaml_node_pair_t *p = n->data.mapping.pairs.start + i;
        yaml_node_t *k = get(c, p->key);
        if (dupstr(c, k, "origins", &conf->origins[i].name) != 0 || parse_origin(c, &conf->origins[i], get(c, p->value)) != 0)
            return -1;
    }
    return 0;
}

/* `origin: URL`: the shorthand for one origin named "default". */
static int parse_origin_shorthand(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    bool is_file;

    if ((conf->origins = calloc(1, sizeof(*conf->origins))) == NULL)
        return nomem(c, n);
    conf->num_origins = 1;
    origin_defaults(&conf->origins[0]);
    if ((conf->origins[0].name = strdup("default")) == NULL || (conf->origins[0].servers = calloc(1, sizeof(char *))) == NULL)
        return nomem(c, n);
    conf->origins[0].num_servers = 1;
    return server(c, n, "origin", &conf->origins[0].servers[0], &is_file);
}

/* The origin a behavior without `origin` uses: the only one, or the one named "default". */
static bool default_origin(const edge_conf_t *conf, size_t *index)
{
    if (conf->num_origins == 1) {
        *index = 0;
        return true;
    }
    for (size_t i = 0; i != conf->num_origins; ++i) {
        if (strcmp(conf->origins[i].name, "default") == 0) {
            *index = i;
            return true;
        }
    }
    return false;
}

/* --- behaviors ------------------------------------------------------------------------------------------- */

enum { B_PATH, B_ORIGIN, B_MIN_TTL, B_DEFAULT_TTL, B_MAX_TTL, B_QUERY_STRING };
static const char *const behavior_keys[] = {[B_PATH] = "path",       [B_ORIGIN] = "origin",
                                            [B_MIN_TTL] = "min_ttl", [B_DEFAULT_TTL] = "default_ttl",
                                            [B_MAX_TTL] = "max_ttl", [B_QUERY_STRING] = "query_string"};

static void behavior_defaults(edge_conf_behavior_t *b)
{
    b->min_ttl = 0;
    b->default_ttl = 86400;
    b->max_ttl = 31536000;
    b->query_string = EDGE_CONF_QS_ALL;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int query_string(ctx_t *c, edge_conf_behavior_t *b, const yaml_node_t *n)
{
    size_t out = 0;

    if (n->type == YAML_SCALAR_NODE && !is_null(n)) {
        const char *s = (const char *)n->data.scalar.value;
        if (strcmp(s, "none") == 0) {
            b->query_string = EDGE_CONF_QS_NONE;
            return 0;
        }
        if (strcmp(s, "all") == 0) {
            b->query_string = EDGE_CONF_QS_ALL;
            return 0;
        }
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(c, n, "query_string: expected none, all, or a list of parameter names");
    b->num_query_names = num_items(n);
    if (b->num_query_names == 0) {
        b->query_string = EDGE_CONF_QS_NONE; /* an empty list keys on no parameter */
        return 0;
    }
    b->query_string = EDGE_CONF_QS_LIST;
    if ((b->query_names = calloc(b->num_query_names, sizeof(*b->query_names))) == NULL)
        return nomem(c, n);
    for (size_t i = 0; i != b->num_query_names; ++i) {
        yaml_node_t *e = item(c, n, i);
        if (dupstr(c, e, "query_string", &b->query_names[i]) != 0)
            return -1;
        if (strpbrk(b->query_names[i], "&=# \t\r\n") != NULL)
            return fail(c, e, "query_string: \"%s\" is not a parameter name", b->query_names[i]);
    }
    /* sorted and unique, so that the cache key is built in one pass and two spellings of one list agree */
    qsort(b->query_names, b->num_query_names, sizeof(*b->query_names), cmp_names);
    for (size_t i = 0; i != b->num_query_names; ++i) {
        if (out != 0 && strcmp(b->query_names[out - 1], b->query_names[i]) == 0)
            free(b->query_names[i]);
        else
            b->query_names[out++] = b->query_names[i];
    }
    b->num_query_names = out;
    return 0;
}

/* min_ttl <= default_ttl <= max_ttl. A default_ttl left out is clamped into the range instead, so that
 * "max_ttl: 60" alone is not an error about a value the operator never wrote. */
static int check_ttls(ctx_t *c, edge_conf_behavior_t *b, yaml_node_t **v)
{
    if (b->max_ttl < b->min_ttl) {
        if (v[B_MAX_TTL] != NULL)
            return fail(c, v[B_MAX_TTL], "max_ttl %" PRIu64 " is below min_ttl %" PRIu64, b->max_ttl, b->min_ttl);
        return fail(c, v[B_MIN_TTL], "min_ttl %" PRIu64 " is above the default max_ttl %" PRIu64, b->min_ttl, b->max_ttl);
    }
    if (v[B_DEFAULT_TTL] == NULL) {
        if (b->default_ttl < b->min_ttl)
            b->default_ttl = b->min_ttl;
        if (b->default_ttl > b->max_ttl)
            b->default_ttl = b->max_ttl;
        return 0;
    }
    if (b->default_ttl < b->min_ttl)
        return fail(c, v[B_DEFAULT_TTL], "default_ttl %" PRIu64 " is below min_ttl %" PRIu64, b->default_ttl, b->min_ttl);
    if (b->default_ttl > b->max_ttl) {
        if (v[B_MAX_TTL] != NULL)
            return fail(c, v[B_MAX_TTL], "max_ttl %" PRIu64 " is below default_ttl %" PRIu64, b->max_ttl, b->default_ttl);
        return fail(c, v[B_DEFAULT_TTL], "default_ttl %" PRIu64 " is above the default max_ttl %" PRIu64, b->default_ttl,
                    b->max_ttl);
    }
    return 0;
}

static int parse_behavior(ctx_t *c, const edge_conf_t *conf, edge_conf_behavior_t *b, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(behavior_keys)];

    behavior_defaults(b);
    if (collect(c, n, "behavior", behavior_keys, NKEYS(behavior_keys), v) != 0)
        return -1;
    if (v[B_PATH] == NULL)
        return missing(c, n, "behavior", "path");
    if (dupstr(c, v[B_PATH], "path", &b->path) != 0)
        return -1;
    for (const char *p = b->path; *p != '\0'; ++p)
        if ((unsigned char)*p <= ' ' || (unsigned char)*p == 0x7f)
            return fail(c, v[B_PATH], "path: \"%s\" contains a space or a control character", b->path);

    if (v[B_ORIGIN] != NULL) {
        const char *name;
        char names[256] = "";
        if (str(c, v[B_ORIGIN], "origin", &name) != 0)
            return -1;
        for (b->origin_index = 0; b->origin_index != conf->num_origins; ++b->origin_index)
            if (strcmp(conf->origins[b->origin_index].name, name) == 0)
                break;
        if (b->origin_index == conf->num_origins) {
            for (size_t i = 0; i != conf->num_origins; ++i) {
                size_t used = strlen(names);
                snprintf(names + used, sizeof(names) - used, "%s%s", i == 0 ? "" : ", ", conf->origins[i].name);
            }
            return fail(c, v[B_ORIGIN], "unknown origin \"%s\" (configured: %s)", name, names);
        }
    } else if (!default_origin(conf, &b->origin_index)) {
        return fail(c, n, "behavior \"%s\" names no origin, and there is neither a single origin nor one named \"default\"",
                    b->path);
    }

    if (v[B_MIN_TTL] != NULL && ttl(c, v[B_MIN_TTL], "min_ttl", &b->min_ttl) != 0)
        return -1;
    if (v[B_DEFAULT_TTL] != NULL && ttl(c, v[B_DEFAULT_TTL], "default_ttl", &b->default_ttl) != 0)
        return -1;
    if (v[B_MAX_TTL] != NULL && ttl(c, v[B_MAX_TTL], "max_ttl", &b->max_ttl) != 0)
        return -1;
    if (check_ttls(c, b, v) != 0)
        return -1;
    if (v[B_QUERY_STRING] != NULL && query_string(c, b, v[B_QUERY_STRING]) != 0)
        return -1;
    return 0;
}

/* `behaviors`, in order, each checked against the earlier ones for reachability; then the implicit final "*"
 * unless the last one already matches everything. */
static int parse_behaviors(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n, const yaml_node_t *root)
{
    size_t count = 0;
    edge_conf_behavior_t *last;

    if (n != NULL) {
        if (n->type != YAML_SEQUENCE_NODE)
            return fail(c, n, "behaviors: expected a list, found %s", kind(n));
        count = num_items(n);
    }
    if ((conf->behaviors = calloc(count + 1, sizeof(*conf->behaviors))) == NULL)
        return nomem(c, root);
    conf->num_behaviors = count;
    for (size_t i = 0; i != count; ++i) {
        yaml_node_t *b = item(c, n, i);
        if (parse_behavior(c, conf, &conf->behaviors[i], b) != 0)
            return -1;
        for (size_t j = 0; j != i; ++j) {
            if (cache_pattern_covers(conf->behaviors[j].path, conf->behaviors[i].path))
                return fail(c, lookup(c, b, "path"), "behavior \"%s\" can never match: \"%s\" (line %zu) comes first",
                            conf->behaviors[i].path, conf->behaviors[j].path, line(lookup(c, item(c, n, j), "path")));
        }
    }

    if (count != 0 && cache_pattern_covers(conf->behaviors[count - 1].path, "*"))
        return 0;
    last = &conf->behaviors[conf->num_behaviors++];
    behavior_defaults(last);
    if ((last->path = strdup("*")) == NULL)
        return nomem(c, root);
    if (!default_origin(conf, &last->origin_index))
        return fail(c, n != NULL ? n : root,
                    "the last behavior is not \"*\", and there is neither a single origin nor one named \"default\" for "
                    "the implicit \"*\" behavior");
    return 0;
}

/* --- error pages ----------------------------------------------------------------------------------------- */

enum { E_STATUS, E_PAGE, E_RESPONSE_CODE, E_ERROR_CACHING_MIN_TTL };
static const char *const error_page_keys[] = {[E_STATUS] = "status",
                                              [E_PAGE] = "page",
                                              [E_RESPONSE_CODE] = "response_code",
                                              [E_ERROR_CACHING_MIN_TTL] = "error_caching_min_ttl"};
static const char *const failure_names[] = {"connect_error", "timeout", "reset"}; /* bit i is 1 << i */

static int status_one(ctx_t *c, edge_conf_error_page_t *e, const yaml_node_t *n)
{
    const char *s;
    size_t *claimed = NULL;
    uint64_t status;

    if (str(c, n, "status", &s) != 0)
        return -1;
    for (size_t i = 0; i != NKEYS(failure_names); ++i) {
        if (strcmp(s, failure_names[i]) == 0) {
            e->failures |= 1u << i;
            claimed = &c->failure_line[i];
        }
    }
    if (claimed == NULL) {
        if (s[0] < '0' || s[0] > '9')
            return fail(c, n, "status: unknown status \"%s\" (use 400..599, connect_error, timeout or reset)", s);
        if (integer(c, n, "status", 400, 599, &status) != 0)
            return -1;
        e->statuses[e->num_statuses++] = (int)status;
        claimed = &c->status_line[status - 400];
    }
    if (*claimed != 0)
        return fail(c, n, "status: %s already has an error page (line %zu)", s, *claimed);
    *claimed = line(n);
    return 0;
}

/* A name of a built-in page ("502.html") is served from the binary unless a file by that name exists beside the
 * configuration, so that an operator overrides a built-in page by creating the file. */
static int load_page(ctx_t *c, edge_conf_error_page_t *e, const yaml_node_t *n)
{
    const errorpages_page_t *builtin = errorpages_by_name(e->page);
    char msg[MSGLEN], *path;
    int r;

    if ((path = resolve(c->basedir, e->page)) == NULL)
        return nomem(c, n);
    if (builtin != NULL && access(path, F_OK) != 0) {
        free(path);
        if ((e->body = malloc(builtin->len + 1)) == NULL)
            return nomem(c, n);
        memcpy(e->body, builtin->body, builtin->len);
        e->body[builtin->len] = '\0';
        e->body_len = builtin->len;
        return 0;
    }
    r = slurp(path, MAX_PAGE_SIZE, &e->body, &e->body_len, msg, sizeof(msg));
    free(path);
    if (r != 0)
        return fail(c, n, "page: %s", msg);
    return 0;
}

static int parse_error_page(ctx_t *c, edge_conf_error_page_t *e, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(error_page_keys)], *s;
    uint64_t code;
    size_t count;

    e->error_caching_min_ttl = 10;
    if (collect(c, n, "error page", error_page_keys, NKEYS(error_page_keys), v) != 0)
        return -1;
    if ((s = v[E_STATUS]) == NULL)
        return missing(c, n, "error page", "status");
    if (v[E_PAGE] == NULL)
        return missing(c, n, "error page", "page");

    count = s->type == YAML_SEQUENCE_NODE ? num_items(s) : 1;
    if (count == 0)
        return fail(c, s, "status: at least one status is needed");
    if ((e->statuses = calloc(count, sizeof(*e->statuses))) == NULL)
        return nomem(c, s);
    for (size_t i = 0; i != count; ++i)
        if (status_one(c, e, s->type == YAML_SEQUENCE_NODE ? item(c, s, i) : s) != 0)
            return -1;

    if (dupstr(c, v[E_PAGE], "page", &e->page) != 0 || load_page(c, e, v[E_PAGE]) != 0)
        return -1;
    if (v[E_RESPONSE_CODE] != NULL) {
        if (integer(c, v[E_RESPONSE_CODE], "response_code", 200, 599, &code) != 0)
            return -1;
        e->response_code = (int)code;
    }
    if (v[E_ERROR_CACHING_MIN_TTL] != NULL &&
        ttl(c, v[E_ERROR_CACHING_MIN_TTL], "error_caching_min_ttl", &e->error_caching_min_ttl) != 0)
        return -1;
    return 0;
}

static int parse_error_pages(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    size_t count;

    if (n->type != YAML_SEQUENCE_NODE)
        return fail(c, n, "error_pages: expected a list, found %s", kind(n));
    if ((count = num_items(n)) == 0)
        return 0;
    if ((conf->error_pages = calloc(count, sizeof(*conf->error_pages))) == NULL)
        return nomem(c, n);
    conf->num_error_pages = count;
    for (size_t i = 0; i != count; ++i)
        if (parse_error_page(c, &conf->error_pages[i], item(c, n, i)) != 0)
            return -1;
    return 0;
}

/* --- the document ---------------------------------------------------------------------------------------- */

enum { K_LISTEN, K_THREADS, K_CACHE, K_ORIGIN, K_ORIGINS, K_BEHAVIORS, K_ERROR_PAGES };
static const char *const top_keys[] = {[K_LISTEN] = "listen",          [K_THREADS] = "threads", [K_CACHE] = "cache",
                                       [K_ORIGIN] = "origin",          [K_ORIGINS] = "origins", [K_BEHAVIORS] = "behaviors",
                                       [K_ERROR_PAGES] = "error_pages"};

static int parse_root(ctx_t *c, edge_conf_t *conf, const yaml_node_t *root)
{
    yaml_node_t *v[NKEYS(top_keys)];
    uint64_t threads;

    if (root->type != YAML_MAPPING_NODE)
        return fail(c, root, "expected a mapping of settings (listen, origins, behaviors, ...), found %s", kind(root));
    if (collect(c, root, "the configuration", top_keys, NKEYS(top_keys), v) != 0)
        return -1;
    if (parse_listen(c, conf, v[K_LISTEN], root) != 0)
        return -1;
    if (v[K_THREADS] != NULL) {
        if (integer(c, v[K_THREADS], "threads", 0, MAX_THREADS, &threads) != 0)
            return -1;
        conf->threads = (unsigned)threads;
    }
    if (parse_cache(c, conf, v[K_CACHE], root) != 0)
        return -1;
    /* origins before behaviors, whatever the order in the file: behaviors refer to origins by name */
    if (v[K_ORIGIN] != NULL && v[K_ORIGINS] != NULL)
        return fail(c, v[K_ORIGIN], "origin: use either origin (one URL) or origins (a mapping), not both");
    if (v[K_ORIGIN] != NULL && parse_origin_shorthand(c, conf, v[K_ORIGIN]) != 0)
        return -1;
    if (v[K_ORIGINS] != NULL && parse_origins(c, conf, v[K_ORIGINS]) != 0)
        return -1;
    if (conf->num_origins == 0)
        return fail(c, v[K_ORIGINS] != NULL ? v[K_ORIGINS] : root, "no origin configured");
    if (parse_behaviors(c, conf, v[K_BEHAVIORS], root) != 0)
        return -1;
    if (v[K_ERROR_PAGES] != NULL && parse_error_pages(c, conf, v[K_ERROR_PAGES]) != 0)
        return -1;
    return 0;
}

/* libyaml's own errors carry a 0-based mark, except reader errors (bad encoding), which carry a byte offset. */
static void syntax_error(ctx_t *c, const yaml_parser_t *p, const char *text, size_t len)
{
    size_t ln = p->problem_mark.line + 1, col = p->problem_mark.column + 1;

    if (p->error == YAML_MEMORY_ERROR) {
        snprintf(c->err, EDGE_CONF_ERRLEN, "%s: out of memory", c->name);
        return;
    }
    if (p->error == YAML_READER_ERROR) {
        ln = 1;
        col = 1;
        for (size_t i = 0; i < p->problem_offset && i < len; ++i, ++col) {
            if (text[i] == '\n') {
                ++ln;
                col = 0;
            }
        }
    }
    if (p->context != NULL)
        snprintf(c->err, EDGE_CONF_ERRLEN, "%s:%zu:%zu: %s (%s at line %zu)", c->name, ln, col,
                 p->problem != NULL ? p->problem : "invalid YAML", p->context, p->context_mark.line + 1);
    else
        snprintf(c->err, EDGE_CONF_ERRLEN, "%s:%zu:%zu: %s", c->name, ln, col, p->problem != NULL ? p->problem : "invalid YAML");
}

int edge_config_parse(edge_conf_t *conf, const char *name, const char *basedir, const char *text, size_t len, char *err)
{
    yaml_parser_t parser;
    yaml_document_t doc, next;
    yaml_node_t *root, *extra;
    ctx_t c = {.name = name != NULL ? name : "<string>", .basedir = basedir, .doc = &doc, .err = err};
    int ret = -1;

    memset(conf, 0, sizeof(*conf));
    err[0] = '\0';
    if (!yaml_parser_initialize(&parser)) {
        snprintf(err, EDGE_CONF_ERRLEN, "%s: out of memory", c.name);
        return -1;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        syntax_error(&c, &parser, text, len);
        yaml_parser_delete(&parser);
        return -1;
    }
    if ((root = yaml_document_get_root_node(&doc)) == NULL) {
        snprintf(err, EDGE_CONF_ERRLEN, "%s:1:1: the configuration is empty", c.name);
        goto Exit;
    }
    /* a second document ("---") would otherwise be ignored without a word */
    if (!yaml_parser_load(&parser, &next)) {
        syntax_error(&c, &parser, text, len);
        goto Exit;
    }
    extra = yaml_document_get_root_node(&next);
    if (extra != NULL) {
        c.doc = &next;
        fail(&c, extra, "a configuration is a single YAML document; found a second one");
    }
    yaml_document_delete(&next);
    c.doc = &doc;
    if (extra != NULL)
        goto Exit;
    if ((conf->source = strdup(c.name)) == NULL) {
        nomem(&c, root);
        goto Exit;
    }
    ret = parse_root(&c, conf, root);

Exit:
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    if (ret != 0)
        edge_config_dispose(conf);
    return ret;
}

int edge_config_load(edge_conf_t *conf, const char *path, char *err)
{
    char msg[MSGLEN], *text, *basedir, *slash;
    size_t len;
    int ret;

    memset(conf, 0, sizeof(*conf));
    if (slurp(path, MAX_CONF_SIZE, &text, &len, msg, sizeof(msg)) != 0) {
        snprintf(err, EDGE_CONF_ERRLEN, "%s", msg);
        return -1;
    }
    if ((basedir = strdup(path)) == NULL) {
        free(text);
        snprintf(err, EDGE_CONF_ERRLEN, "%s: out of memory", path);
        return -1;
    }
    /* the file's directory: "conf/edge.yaml" → "conf", "edge.yaml" → ".", "/edge.yaml" → "/" */
    if ((slash = strrchr(basedir, '/')) == NULL)
        strcpy(basedir, ".");
    else
        slash[slash == basedir ? 1 : 0] = '\0';
    ret = edge_config_parse(conf, path, basedir, text, len, err);
    free(basedir);
    free(text);
    return ret;
}

static void free_listens(edge_conf_listen_t *listens, size_t count)
{
    for (size_t i = 0; i != count; ++i) {
        free(listens[i].address);
        free(listens[i].tls_certificate);
        free(listens[i].tls_key);
    }
    free(listens);
}

static void free_origins(edge_conf_origin_t *origins, size_t count)
{
    for (size_t i = 0; i != count; ++i) {
        free(origins[i].name);
        for (size_t j = 0; j != origins[i].num_servers; ++j)
            free(origins[i].servers[j]);
        free(origins[i].servers);
        free(origins[i].host_header);
    }
    free(origins);
}

int edge_config_override(edge_conf_t *conf, const char *listen, const char *origin, const char *cache_dir, char *err)
{
    char msg[MSGLEN], *address = NULL, *url = NULL, *path = NULL;
    edge_conf_listen_t *listens = NULL;
    edge_conf_origin_t *origins = NULL;
    uint16_t port = 0;
    bool is_file;

    /* validate and allocate everything first, so that a failure leaves `conf` as it was */
    if (listen != NULL && split_hostport(listen, &address, &port, msg, sizeof(msg)) != 0) {
        snprintf(err, EDGE_CONF_ERRLEN, "listen \"%s\": %s", listen, msg);
        return -1;
    }
    if (origin != NULL && parse_url(origin, NULL, &url, &is_file, msg, sizeof(msg)) != 0) {
        snprintf(err, EDGE_CONF_ERRLEN, "%s", msg);
        goto Fail;
    }
    if (cache_dir != NULL && cache_dir[0] == '\0') {
        snprintf(err, EDGE_CONF_ERRLEN, "cache directory: must not be empty");
        goto Fail;
    }
    if ((listen != NULL && (listens = calloc(1, sizeof(*listens))) == NULL) ||
        (origin != NULL &&
         ((origins = calloc(1, sizeof(*origins))) == NULL || (origins->servers = calloc(1, sizeof(char *))) == NULL ||
          (origins->name = strdup("default")) == NULL)) ||
        (cache_dir != NULL && (path = strdup(cache_dir)) == NULL)) {
        snprintf(err, EDGE_CONF_ERRLEN, "out of memory");
        goto Fail;
    }

    if (listens != NULL) {
        free_listens(conf->listens, conf->num_listens);
        listens->address = address;
        listens->port = port;
        conf->listens = listens;
        conf->num_listens = 1;
    }
    if (origins != NULL) {
        free_origins(conf->origins, conf->num_origins);
        origin_defaults(origins);
        origins->servers[0] = url;
        origins->num_servers = 1;
        conf->origins = origins;
        conf->num_origins = 1;
        for (size_t i = 0; i != conf->num_behaviors; ++i)
            conf->behaviors[i].origin_index = 0;
    }
    if (path != NULL) {
        free(conf->cache.path);
        conf->cache.path = path;
    }
    return 0;

Fail:
    free(address);
    free(url);
    free(path);
    free(listens);
    if (origins != NULL)
        free_origins(origins, 1);
    return -1;
}

const edge_conf_behavior_t *edge_config_match(const edge_conf_t *conf, const char *path, size_t len)
{
    for (size_t i = 0; i != conf->num_behaviors; ++i)
        if (cache_pattern_match(conf->behaviors[i].path, path, len))
            return &conf->behaviors[i];
    return NULL;
}

void edge_config_dispose(edge_conf_t *conf)
{
    free(conf->source);
    free_listens(conf->listens, conf->num_listens);
    free(conf->cache.path);
    free_origins(conf->origins, conf->num_origins);
    for (size_t i = 0; i != conf->num_behaviors; ++i) {
        edge_conf_behavior_t *b = &conf->behaviors[i];
        free(b->path);
        for (size_t j = 0; j != b->num_query_names; ++j)
            free(b->query_names[j]);
        free(b->query_names);
    }
    free(conf->behaviors);
    for (size_t i = 0; i != conf->num_error_pages; ++i) {
        edge_conf_error_page_t *e = &conf->error_pages[i];
        free(e->statuses);
        free(e->page);
        free(e->body);
    }
    free(conf->error_pages);
    memset(conf, 0, sizeof(*conf));
}
