/*
 * edge/config.c: the YAML configuration, parsed with libyaml's document API and validated into an
 * edge_conf_t. This is the only file that includes <yaml.h>.
 *
 * The parse has two steps. libyaml first builds the whole document tree, so a syntax error is reported
 * before anything is interpreted; then each mapping is checked against a table of the keys it allows
 * (collect()) and its values are interpreted. Sections are interpreted in a fixed order, not in the order
 * they are written (origins, then origin_groups, then behaviors), because each names the ones before it and
 * must see them all. Every message names the node it
 * is about as "name:line:col:" (1-based), so an operator can jump to it.
 *
 * The invariant that is easy to break: every allocation hangs off `conf` the moment it is made (arrays are
 * calloc'd at their final size and counted at once, their elements zeroed), so that on any error a single
 * edge_config_dispose() frees exactly what was built. Never hold an allocation only in a local across a
 * call that can fail.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <ctype.h>
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

/* "http://host[:port]" or "https://host[:port]"; `host` points after the "//". */
static int host_url(const char *url, const char *host, char **out, char *msg, size_t msglen)
{
    const char *end = host + strcspn(host, "/?#");
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

typedef enum en_scheme_t { SCHEME_HTTP, SCHEME_HTTPS, SCHEME_FILE } scheme_t;
static const char *const scheme_names[] = {[SCHEME_HTTP] = "http://", [SCHEME_HTTPS] = "https://", [SCHEME_FILE] = "file:"};

/* Validates an origin server URL and stores its normalized form in *out (malloc'd): "http://host[:port]" or
 * "https://host[:port]" without a trailing '/', or "file:///abs/dir" / "file:rel/dir" with a relative directory
 * resolved against `basedir`, which must exist. The scheme is matched case-sensitively, as it always was for
 * http://. */
static int parse_url(const char *url, const char *basedir, char **out, scheme_t *scheme, char *msg, size_t msglen)
{
    if (strncmp(url, "http://", 7) == 0) {
        *scheme = SCHEME_HTTP;
        return host_url(url, url + 7, out, msg, msglen);
    }
    if (strncmp(url, "https://", 8) == 0) {
        *scheme = SCHEME_HTTPS;
        return host_url(url, url + 8, out, msg, msglen);
    }
    if (strncmp(url, "file:", 5) == 0) {
        *scheme = SCHEME_FILE;
        return file_url(url, basedir, out, msg, msglen);
    }
    snprintf(msg, msglen, "origin \"%s\": unsupported URL (use \"http://host[:port]\", \"https://host[:port]\" or \"file:///dir\")",
             url);
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

enum { C_PATH, C_MAX_SIZE, C_BACKGROUND_FETCH_MAX };
static const char *const cache_keys[] = {
    [C_PATH] = "path", [C_MAX_SIZE] = "max_size", [C_BACKGROUND_FETCH_MAX] = "background_fetch_max"};

static int parse_cache(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n, const yaml_node_t *root)
{
    yaml_node_t *v[NKEYS(cache_keys)] = {NULL};

    conf->cache.max_size = (uint64_t)1 << 30;
    conf->cache.background_fetch_max = (uint64_t)64 << 20;
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
    /* 0 is allowed: a miss whose last client went away is always cancelled */
    if (v[C_BACKGROUND_FETCH_MAX] != NULL &&
        size(c, v[C_BACKGROUND_FETCH_MAX], "background_fetch_max", &conf->cache.background_fetch_max) != 0)
        return -1;
    return 0;
}

/* --- origins --------------------------------------------------------------------------------------------- */

enum {
    O_SERVERS,
    O_CONNECT_TIMEOUT,
    O_CONNECT_ATTEMPTS,
    O_READ_TIMEOUT,
    O_KEEPALIVE_TIMEOUT,
    O_HOST_HEADER,
    O_BALANCE,
    O_HEALTH_CHECK,
    O_TLS
};
static const char *const origin_keys[] = {
    [O_SERVERS] = "servers",           [O_CONNECT_TIMEOUT] = "connect_timeout",     [O_CONNECT_ATTEMPTS] = "connect_attempts",
    [O_READ_TIMEOUT] = "read_timeout", [O_KEEPALIVE_TIMEOUT] = "keepalive_timeout", [O_HOST_HEADER] = "host_header",
    [O_BALANCE] = "balance",           [O_HEALTH_CHECK] = "health_check",           [O_TLS] = "tls"};
static const char *const balance_names[] = {[ORIGIN_CONF_BALANCE_ROUND_ROBIN] = "round_robin",
                                            [ORIGIN_CONF_BALANCE_LEAST_OUTSTANDING] = "least_outstanding",
                                            [ORIGIN_CONF_BALANCE_CONSISTENT_HASH] = "consistent_hash"};
enum { H_PATH, H_INTERVAL, H_TIMEOUT, H_UNHEALTHY_THRESHOLD, H_HEALTHY_THRESHOLD };
static const char *const health_keys[] = {[H_PATH] = "path",
                                          [H_INTERVAL] = "interval",
                                          [H_TIMEOUT] = "timeout",
                                          [H_UNHEALTHY_THRESHOLD] = "unhealthy_threshold",
                                          [H_HEALTHY_THRESHOLD] = "healthy_threshold"};
enum { OT_CA_FILE, OT_SNI, OT_VERIFY };
static const char *const origin_tls_keys[] = {[OT_CA_FILE] = "ca_file", [OT_SNI] = "sni", [OT_VERIFY] = "verify"};

/* Every place that creates an origin calls this, so that no origin is ever left with verify = false (the zero
 * of calloc) without an operator having written "verify: false". */
static void origin_defaults(origin_conf_t *o)
{
    o->connect_timeout_ms = 10000;
    o->connect_attempts = 3;
    o->read_timeout_ms = 30000;
    o->keepalive_timeout_ms = 5000;
    o->balance = ORIGIN_CONF_BALANCE_ROUND_ROBIN;
    o->health.interval_ms = 10000;
    o->health.timeout_ms = 5000;
    o->health.unhealthy_threshold = 2;
    o->health.healthy_threshold = 3;
    o->tls.verify = true;
}

static int server(ctx_t *c, const yaml_node_t *n, const char *what, char **out, scheme_t *scheme)
{
    char msg[MSGLEN];
    const char *url;

    if (str(c, n, what, &url) != 0)
        return -1;
    if (parse_url(url, c->basedir, out, scheme, msg, sizeof(msg)) != 0)
        return fail(c, n, "%s", msg);
    return 0;
}

/* A value sent verbatim in a header or a request line: a space or a control character would let it inject one. */
static bool has_space_or_control(const char *s)
{
    for (; *s != '\0'; ++s)
        if ((unsigned char)*s <= ' ' || (unsigned char)*s >= 0x7f)
            return true;
    return false;
}

static int boolean(ctx_t *c, const yaml_node_t *n, const char *what, bool *out)
{
    const char *s;

    if (str(c, n, what, &s) != 0)
        return -1;
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
        *out = true;
    else if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
        *out = false;
    else
        return fail(c, n, "%s: expected true or false, found \"%s\"", what, s);
    return 0;
}

static int balance(ctx_t *c, origin_conf_t *o, const yaml_node_t *n)
{
    const char *s;

    if (str(c, n, "balance", &s) != 0)
        return -1;
    for (size_t i = 0; i != NKEYS(balance_names); ++i) {
        if (strcmp(s, balance_names[i]) == 0) {
            o->balance = (origin_conf_balance_t)i;
            return 0;
        }
    }
    return fail(c, n, "balance: unknown method \"%s\" (use round_robin, least_outstanding or consistent_hash)", s);
}

/* A check probes each server on its own, so a file origin has nothing to probe. The timeout must be below the
 * interval, or a slow server would have two probes in flight. */
static int health_check(ctx_t *c, origin_conf_t *o, scheme_t scheme, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(health_keys)];
    uint64_t threshold;

    if (scheme == SCHEME_FILE)
        return fail(c, n, "health_check: origin \"%s\" serves files: there is no server to check", o->name);
    if (collect(c, n, "health_check", health_keys, NKEYS(health_keys), v) != 0)
        return -1;
    if (v[H_PATH] == NULL)
        return fail(c, n, "health_check needs a path (e.g. \"path: /healthz\")");
    if (dupstr(c, v[H_PATH], "path", &o->health.path) != 0)
        return -1;
    if (o->health.path[0] != '/' || has_space_or_control(o->health.path))
        return fail(c, v[H_PATH], "path: \"%s\" must start with '/' and contain no space or control character", o->health.path);
    if (v[H_INTERVAL] != NULL && timeout_ms(c, v[H_INTERVAL], "interval", &o->health.interval_ms) != 0)
        return -1;
    if (v[H_TIMEOUT] != NULL && timeout_ms(c, v[H_TIMEOUT], "timeout", &o->health.timeout_ms) != 0)
        return -1;
    if (o->health.timeout_ms >= o->health.interval_ms)
        return fail(c, v[H_TIMEOUT] != NULL ? v[H_TIMEOUT] : v[H_INTERVAL],
                    "health_check: the timeout (%" PRIu64 "ms%s) must be below the interval (%" PRIu64 "ms%s)",
                    o->health.timeout_ms, v[H_TIMEOUT] != NULL ? "" : ", the default", o->health.interval_ms,
                    v[H_INTERVAL] != NULL ? "" : ", the default");
    if (v[H_UNHEALTHY_THRESHOLD] != NULL) {
        if (integer(c, v[H_UNHEALTHY_THRESHOLD], "unhealthy_threshold", 1, 100, &threshold) != 0)
            return -1;
        o->health.unhealthy_threshold = (unsigned)threshold;
    }
    if (v[H_HEALTHY_THRESHOLD] != NULL) {
        if (integer(c, v[H_HEALTHY_THRESHOLD], "healthy_threshold", 1, 100, &threshold) != 0)
            return -1;
        o->health.healthy_threshold = (unsigned)threshold;
    }
    return 0;
}

static int origin_tls(ctx_t *c, origin_conf_t *o, scheme_t scheme, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(origin_tls_keys)];

    /* silently ignored TLS settings would make an operator believe the origin is verified */
    if (scheme != SCHEME_HTTPS)
        return fail(c, n, "tls: the servers of origin \"%s\" are not https://", o->name);
    if (collect(c, n, "tls", origin_tls_keys, NKEYS(origin_tls_keys), v) != 0)
        return -1;
    if (v[OT_CA_FILE] != NULL && tls_file(c, v[OT_CA_FILE], "ca_file", &o->tls.ca_file) != 0)
        return -1;
    if (v[OT_SNI] != NULL) {
        if (dupstr(c, v[OT_SNI], "sni", &o->tls.sni) != 0)
            return -1;
        if (has_space_or_control(o->tls.sni))
            return fail(c, v[OT_SNI], "sni: \"%s\" is not a valid host name", o->tls.sni);
    }
    if (v[OT_VERIFY] != NULL && boolean(c, v[OT_VERIFY], "verify", &o->tls.verify) != 0)
        return -1;
    return 0;
}

static int parse_origin(ctx_t *c, origin_conf_t *o, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(origin_keys)], *s;
    char what[EDGE_CONF_ERRLEN];
    uint64_t attempts;
    size_t count;
    scheme_t scheme = SCHEME_HTTP;

    origin_defaults(o);
    snprintf(what, sizeof(what), "origin \"%s\"", o->name);
    if (collect(c, n, what, origin_keys, NKEYS(origin_keys), v) != 0)
        return -1;
    if ((s = v[O_SERVERS]) == NULL)
        return missing(c, n, what, "servers");

    /* servers: a list of URLs, or a single one, all of one scheme: a pool's servers are interchangeable, and
     * the tls settings apply to all of them */
    if ((count = s->type == YAML_SEQUENCE_NODE ? num_items(s) : 1) == 0)
        return fail(c, s, "servers: at least one server is needed");
    if (count > 64) /* the balancer's per-request exclusion mask has 64 bits */
        return fail(c, s, "servers: at most 64 servers per origin (%zu given)", count);
    if ((o->servers = calloc(count, sizeof(*o->servers))) == NULL)
        return nomem(c, s);
    o->num_servers = count;
    for (size_t i = 0; i != o->num_servers; ++i) {
        yaml_node_t *e = s->type == YAML_SEQUENCE_NODE ? item(c, s, i) : s;
        scheme_t this;
        if (server(c, e, "servers", &o->servers[i], &this) != 0)
            return -1;
        if (i != 0 && (this == SCHEME_FILE || scheme == SCHEME_FILE))
            return fail(c, s, "servers: a file origin has exactly one server");
        if (i != 0 && this != scheme)
            return fail(c, e, "servers: \"%s\" is %s but \"%s\" is %s: the servers of an origin are all http:// or all https://",
                        o->servers[i], scheme_names[this], o->servers[0], scheme_names[scheme]);
        scheme = this;
    }

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
        if (has_space_or_control(o->host_header))
            return fail(c, v[O_HOST_HEADER], "host_header: \"%s\" is not a valid host", o->host_header);
    }
    if (v[O_BALANCE] != NULL && balance(c, o, v[O_BALANCE]) != 0)
        return -1;
    if (v[O_HEALTH_CHECK] != NULL && health_check(c, o, scheme, v[O_HEALTH_CHECK]) != 0)
        return -1;
    if (v[O_TLS] != NULL && origin_tls(c, o, scheme, v[O_TLS]) != 0)
        return -1;
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
    if ((conf->upstream.origins = calloc(count, sizeof(*conf->upstream.origins))) == NULL && count != 0)
        return nomem(c, n);
    conf->upstream.num_origins = count;
    for (size_t i = 0; i != count; ++i) {
        yaml_node_pair_t *p = n->data.mapping.pairs.start + i;
        yaml_node_t *k = get(c, p->key);
        if (dupstr(c, k, "origins", &conf->upstream.origins[i].name) != 0 || parse_origin(c, &conf->upstream.origins[i], get(c, p->value)) != 0)
            return -1;
    }
    return 0;
}

/* `origin: URL`: the shorthand for one origin named "default". */
static int parse_origin_shorthand(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    scheme_t scheme;

    if ((conf->upstream.origins = calloc(1, sizeof(*conf->upstream.origins))) == NULL)
        return nomem(c, n);
    conf->upstream.num_origins = 1;
    origin_defaults(&conf->upstream.origins[0]);
    if ((conf->upstream.origins[0].name = strdup("default")) == NULL || (conf->upstream.origins[0].servers = calloc(1, sizeof(char *))) == NULL)
        return nomem(c, n);
    conf->upstream.origins[0].num_servers = 1;
    return server(c, n, "origin", &conf->upstream.origins[0].servers[0], &scheme);
}

static bool find_origin(const edge_conf_t *conf, const char *name, size_t *index)
{
    for (size_t i = 0; i != conf->upstream.num_origins; ++i) {
        if (strcmp(conf->upstream.origins[i].name, name) == 0) {
            *index = i;
            return true;
        }
    }
    return false;
}

/* Groups are named before any is interpreted, so a name is never NULL here. */
static bool find_group(const edge_conf_t *conf, const char *name, size_t *index)
{
    for (size_t i = 0; i != conf->upstream.num_groups; ++i) {
        if (strcmp(conf->upstream.groups[i].name, name) == 0) {
            *index = i;
            return true;
        }
    }
    return false;
}

/* "a, b, g" for an error message: the origins, then the groups when `with_groups`. */
static void list_names(const edge_conf_t *conf, bool with_groups, char *buf, size_t len)
{
    size_t count = conf->upstream.num_origins + (with_groups ? conf->upstream.num_groups : 0);

    buf[0] = '\0';
    for (size_t i = 0; i != count; ++i) {
        size_t used = strlen(buf);
        const char *name = i < conf->upstream.num_origins ? conf->upstream.origins[i].name : conf->upstream.groups[i - conf->upstream.num_origins].name;
        snprintf(buf + used, len - used, "%s%s", i == 0 ? "" : ", ", name);
    }
}

/* The origin a behavior without `origin` uses: the only one, or the one named "default". (A group needs two
 * origins, so "the only one" never hides a group.) */
static bool default_origin(const edge_conf_t *conf, size_t *index)
{
    if (conf->upstream.num_origins == 1) {
        *index = 0;
        return true;
    }
    return find_origin(conf, "default", index);
}

/* --- origin groups --------------------------------------------------------------------------------------- */

enum { G_PRIMARY, G_SECONDARY, G_FAILOVER_ON, G_CIRCUIT_BREAKER };
static const char *const group_keys[] = {
    [G_PRIMARY] = "primary", [G_SECONDARY] = "secondary", [G_FAILOVER_ON] = "failover_on", [G_CIRCUIT_BREAKER] = "circuit_breaker"};
enum { CB_FAILURES, CB_COOL_DOWN };
static const char *const breaker_keys[] = {[CB_FAILURES] = "failures", [CB_COOL_DOWN] = "cool_down"};
/* CloudFront's set: statuses that say the origin, not the request, is at fault (or that it lost the object) */
static const int failover_allowed[] = {400, 403, 404, 416, 500, 502, 503, 504};
static const int failover_default[] = {500, 502, 503, 504};

static int member(ctx_t *c, const edge_conf_t *conf, const yaml_node_t *n, const char *what, size_t *index)
{
    char names[256];
    const char *name;
    size_t g;

    if (str(c, n, what, &name) != 0)
        return -1;
    if (find_origin(conf, name, index))
        return 0;
    if (find_group(conf, name, &g))
        return fail(c, n, "%s: \"%s\" is an origin group; a group's members are origins", what, name);
    list_names(conf, false, names, sizeof(names));
    return fail(c, n, "%s: unknown origin \"%s\" (configured: %s)", what, name, names);
}

static int cmp_ints(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;

    return x < y ? -1 : x > y;
}

/* A single status or a list; stored sorted and without duplicates. */
static int failover_on(ctx_t *c, origin_conf_group_t *g, const yaml_node_t *n)
{
    size_t count = n->type == YAML_SEQUENCE_NODE ? num_items(n) : 1, out = 0;

    if (count == 0)
        return fail(c, n, "failover_on: at least one status is needed (leave it out for 500, 502, 503, 504)");
    if ((g->failover_on = calloc(count, sizeof(*g->failover_on))) == NULL)
        return nomem(c, n);
    for (size_t i = 0; i != count; ++i) {
        const yaml_node_t *e = n->type == YAML_SEQUENCE_NODE ? item(c, n, i) : n;
        uint64_t status;
        size_t j;
        if (integer(c, e, "failover_on", 100, 599, &status) != 0)
            return -1;
        for (j = 0; j != NKEYS(failover_allowed) && failover_allowed[j] != (int)status; ++j)
            ;
        if (j == NKEYS(failover_allowed))
            return fail(c, e, "failover_on: %d cannot fail over (allowed: 400, 403, 404, 416, 500, 502, 503, 504)", (int)status);
        g->failover_on[g->num_failover_on++] = (int)status;
    }
    qsort(g->failover_on, g->num_failover_on, sizeof(*g->failover_on), cmp_ints);
    for (size_t i = 0; i != g->num_failover_on; ++i)
        if (out == 0 || g->failover_on[out - 1] != g->failover_on[i])
            g->failover_on[out++] = g->failover_on[i];
    g->num_failover_on = out;
    return 0;
}

static int circuit_breaker(ctx_t *c, origin_conf_group_t *g, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(breaker_keys)];
    uint64_t failures;

    if (collect(c, n, "circuit_breaker", breaker_keys, NKEYS(breaker_keys), v) != 0)
        return -1;
    if (v[CB_FAILURES] != NULL) {
        if (integer(c, v[CB_FAILURES], "failures", 0, 1000, &failures) != 0)
            return -1;
        g->breaker_failures = (unsigned)failures;
    }
    if (v[CB_COOL_DOWN] != NULL && timeout_ms(c, v[CB_COOL_DOWN], "cool_down", &g->breaker_cooldown_ms) != 0)
        return -1;
    return 0;
}

static int parse_group(ctx_t *c, const edge_conf_t *conf, origin_conf_group_t *g, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(group_keys)];
    char what[EDGE_CONF_ERRLEN];

    g->breaker_failures = 5;
    g->breaker_cooldown_ms = 30000;
    snprintf(what, sizeof(what), "origin group \"%s\"", g->name);
    if (collect(c, n, what, group_keys, NKEYS(group_keys), v) != 0)
        return -1;
    if (v[G_PRIMARY] == NULL)
        return missing(c, n, what, "primary");
    if (v[G_SECONDARY] == NULL)
        return missing(c, n, what, "secondary");
    if (member(c, conf, v[G_PRIMARY], "primary", &g->primary) != 0 ||
        member(c, conf, v[G_SECONDARY], "secondary", &g->secondary) != 0)
        return -1;
    if (g->primary == g->secondary)
        return fail(c, v[G_SECONDARY], "secondary: \"%s\" is also the primary: failing over to it would change nothing",
                    conf->upstream.origins[g->secondary].name);
    if (v[G_FAILOVER_ON] != NULL) {
        if (failover_on(c, g, v[G_FAILOVER_ON]) != 0)
            return -1;
    } else {
        if ((g->failover_on = malloc(sizeof(failover_default))) == NULL)
            return nomem(c, n);
        memcpy(g->failover_on, failover_default, sizeof(failover_default));
        g->num_failover_on = NKEYS(failover_default);
    }
    if (v[G_CIRCUIT_BREAKER] != NULL && circuit_breaker(c, g, v[G_CIRCUIT_BREAKER]) != 0)
        return -1;
    return 0;
}

/* `origin_groups`: a mapping from name to group. Every name is taken before any group is interpreted, so that a
 * member naming a later group is told it is a group, not that it is unknown. */
static int parse_groups(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    size_t count, index;

    if (n->type != YAML_MAPPING_NODE)
        return fail(c, n, "origin_groups: expected a mapping from names to groups, found %s", kind(n));
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; ++p) {
        const char *name;
        yaml_node_t *k = get(c, p->key);
        if (k->type != YAML_SCALAR_NODE || str(c, k, "origin_groups", &name) != 0)
            return fail(c, k, "origin_groups: expected a group name, found %s", kind(k));
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; ++q) {
            yaml_node_t *prev = get(c, q->key);
            if (strcmp((const char *)prev->data.scalar.value, name) == 0)
                return fail(c, k, "duplicate origin group \"%s\" (first at line %zu)", name, line(prev));
        }
        /* a behavior's "origin" names either, so one name must not mean both */
        if (find_origin(conf, name, &index))
            return fail(c, k, "duplicate name \"%s\": origins and origin groups share their names", name);
    }
    count = n->data.mapping.pairs.top - n->data.mapping.pairs.start;
    if (count == 0)
        return 0;
    if ((conf->upstream.groups = calloc(count, sizeof(*conf->upstream.groups))) == NULL)
        return nomem(c, n);
    conf->upstream.num_groups = count;
    for (size_t i = 0; i != count; ++i)
        if (dupstr(c, get(c, n->data.mapping.pairs.start[i].key), "origin_groups", &conf->upstream.groups[i].name) != 0)
            return -1;
    for (size_t i = 0; i != count; ++i)
        if (parse_group(c, conf, &conf->upstream.groups[i], get(c, n->data.mapping.pairs.start[i].value)) != 0)
            return -1;
    return 0;
}

/* --- behaviors ------------------------------------------------------------------------------------------- */

enum {
    B_PATH,
    B_ORIGIN,
    B_MIN_TTL,
    B_DEFAULT_TTL,
    B_MAX_TTL,
    B_QUERY_STRING,
    B_FORWARD_HEADERS,
    B_CACHE_KEY_HEADERS,
    B_REQUEST_CACHE_CONTROL,
    B_CACHE_SET_COOKIE
};
static const char *const behavior_keys[] = {[B_PATH] = "path",
                                            [B_ORIGIN] = "origin",
                                            [B_MIN_TTL] = "min_ttl",
                                            [B_DEFAULT_TTL] = "default_ttl",
                                            [B_MAX_TTL] = "max_ttl",
                                            [B_QUERY_STRING] = "query_string",
                                            [B_FORWARD_HEADERS] = "forward_headers",
                                            [B_CACHE_KEY_HEADERS] = "cache_key_headers",
                                            [B_REQUEST_CACHE_CONTROL] = "request_cache_control",
                                            [B_CACHE_SET_COOKIE] = "cache_set_cookie"};
/* RFC 9110 7.6.1: they describe one connection, and the proxy never forwards them */
static const char *const hop_by_hop[] = {"connection", "keep-alive",        "proxy-connection", "te",
                                         "trailer",    "transfer-encoding", "upgrade"};

static void behavior_defaults(edge_conf_behavior_t *b)
{
    b->route.group_index = SIZE_MAX;
    b->ttl.min_ttl = 0;
    b->ttl.default_ttl = 86400;
    b->ttl.max_ttl = 31536000;
    b->key.query_string = CACHE_KEY_QS_ALL;
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
            b->key.query_string = CACHE_KEY_QS_NONE;
            return 0;
        }
        if (strcmp(s, "all") == 0) {
            b->key.query_string = CACHE_KEY_QS_ALL;
            return 0;
        }
    }
    if (n->type != YAML_SEQUENCE_NODE)
        return fail(c, n, "query_string: expected none, all, or a list of parameter names");
    if (num_items(n) == 0) {
        b->key.query_string = CACHE_KEY_QS_NONE; /* an empty list keys on no parameter */
        return 0;
    }
    b->key.query_string = CACHE_KEY_QS_LIST;
    if ((b->key.query_names = calloc(num_items(n), sizeof(*b->key.query_names))) == NULL)
        return nomem(c, n);
    b->key.num_query_names = num_items(n);
    for (size_t i = 0; i != b->key.num_query_names; ++i) {
        yaml_node_t *e = item(c, n, i);
        if (dupstr(c, e, "query_string", &b->key.query_names[i]) != 0)
            return -1;
        if (strpbrk(b->key.query_names[i], "&=# \t\r\n") != NULL)
            return fail(c, e, "query_string: \"%s\" is not a parameter name", b->key.query_names[i]);
    }
    /* sorted and unique, so that the cache key is built in one pass and two spellings of one list agree */
    qsort(b->key.query_names, b->key.num_query_names, sizeof(*b->key.query_names), cmp_names);
    for (size_t i = 0; i != b->key.num_query_names; ++i) {
        if (out != 0 && strcmp(b->key.query_names[out - 1], b->key.query_names[i]) == 0)
            free(b->key.query_names[i]);
        else
            b->key.query_names[out++] = b->key.query_names[i];
    }
    b->key.num_query_names = out;
    return 0;
}

/* A field name (RFC 9110 5.1: a token), lower-cased into *out. */
static int header_name(ctx_t *c, const yaml_node_t *n, const char *what, char **out)
{
    static const char tchar_punct[] = "!#$%&'*+-.^_`|~";

    if (dupstr(c, n, what, out) != 0)
        return -1;
    for (const char *p = *out; *p != '\0'; ++p)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || strchr(tchar_punct, *p) != NULL))
            return fail(c, n, "%s: \"%s\" is not a header name", what, *out);
    for (char *p = *out; *p != '\0'; ++p)
        *p = (char)tolower((unsigned char)*p);
    for (size_t i = 0; i != NKEYS(hop_by_hop); ++i)
        if (strcmp(*out, hop_by_hop[i]) == 0)
            return fail(c, n, "%s: \"%s\" is a hop-by-hop header, which is never forwarded", what, *out);
    if (strcmp(*out, "host") == 0)
        return fail(c, n, "%s: \"host\" cannot be listed: the Host header is always sent to the origin", what);
    return 0;
}

/* A list of header names into `names`, which the caller allocated with room for every item: each slot is counted
 * before it is filled, so that dispose frees a name whose validation failed. A repeated name is dropped. */
static int header_list(ctx_t *c, const yaml_node_t *n, const char *what, char **names, size_t *num)
{
    for (size_t i = 0; i != num_items(n); ++i) {
        char **slot = &names[(*num)++];
        if (header_name(c, item(c, n, i), what, slot) != 0)
            return -1;
        for (size_t j = 0; j + 1 < *num; ++j) {
            if (strcmp(names[j], *slot) == 0) {
                free(*slot);
                *slot = NULL;
                --*num;
                break;
            }
        }
    }
    return 0;
}

/* cache_key_headers, then forward_headers: a header in the key must reach the origin (the response may vary on
 * it), so when forward_headers is given, the key headers missing from it are added. A forward_headers that is
 * given but empty is stored as a non-NULL array of 0 names (forward none), distinct from NULL (forward all). */
static int headers(ctx_t *c, edge_conf_behavior_t *b, yaml_node_t **v)
{
    yaml_node_t *k = v[B_CACHE_KEY_HEADERS], *f = v[B_FORWARD_HEADERS];
    size_t cap;

    if (k != NULL) {
        if (k->type != YAML_SEQUENCE_NODE)
            return fail(c, k, "cache_key_headers: expected a list of header names, found %s", kind(k));
        if (num_items(k) != 0) {
            if ((b->key.key_headers = calloc(num_items(k), sizeof(*b->key.key_headers))) == NULL)
                return nomem(c, k);
            if (header_list(c, k, "cache_key_headers", b->key.key_headers, &b->key.num_key_headers) != 0)
                return -1;
            /* sorted, so that the key is built in one pass and two spellings of one list agree */
            qsort(b->key.key_headers, b->key.num_key_headers, sizeof(*b->key.key_headers), cmp_names);
        }
    }
    if (f == NULL)
        return 0;
    if (f->type != YAML_SEQUENCE_NODE)
        return fail(c, f, "forward_headers: expected a list of header names, found %s", kind(f));
    cap = num_items(f) + b->key.num_key_headers + 1;
    if ((b->route.forward_headers = calloc(cap, sizeof(*b->route.forward_headers))) == NULL)
        return nomem(c, f);
    if (header_list(c, f, "forward_headers", b->route.forward_headers, &b->route.num_forward_headers) != 0)
        return -1;
    for (size_t i = 0; i != b->key.num_key_headers; ++i) {
        size_t j;
        for (j = 0; j != b->route.num_forward_headers && strcmp(b->route.forward_headers[j], b->key.key_headers[i]) != 0; ++j)
            ;
        if (j != b->route.num_forward_headers)
            continue;
        if ((b->route.forward_headers[b->route.num_forward_headers] = strdup(b->key.key_headers[i])) == NULL)
            return nomem(c, f);
        ++b->route.num_forward_headers;
    }
    return 0;
}

/* min_ttl <= default_ttl <= max_ttl. A default_ttl left out is clamped into the range instead, so that
 * "max_ttl: 60" alone is not an error about a value the operator never wrote. */
static int check_ttls(ctx_t *c, edge_conf_behavior_t *b, yaml_node_t **v)
{
    if (b->ttl.max_ttl < b->ttl.min_ttl) {
        if (v[B_MAX_TTL] != NULL)
            return fail(c, v[B_MAX_TTL], "max_ttl %" PRIu64 " is below min_ttl %" PRIu64, b->ttl.max_ttl, b->ttl.min_ttl);
        return fail(c, v[B_MIN_TTL], "min_ttl %" PRIu64 " is above the default max_ttl %" PRIu64, b->ttl.min_ttl, b->ttl.max_ttl);
    }
    if (v[B_DEFAULT_TTL] == NULL) {
        if (b->ttl.default_ttl < b->ttl.min_ttl)
            b->ttl.default_ttl = b->ttl.min_ttl;
        if (b->ttl.default_ttl > b->ttl.max_ttl)
            b->ttl.default_ttl = b->ttl.max_ttl;
        return 0;
    }
    if (b->ttl.default_ttl < b->ttl.min_ttl)
        return fail(c, v[B_DEFAULT_TTL], "default_ttl %" PRIu64 " is below min_ttl %" PRIu64, b->ttl.default_ttl, b->ttl.min_ttl);
    if (b->ttl.default_ttl > b->ttl.max_ttl) {
        if (v[B_MAX_TTL] != NULL)
            return fail(c, v[B_MAX_TTL], "max_ttl %" PRIu64 " is below default_ttl %" PRIu64, b->ttl.max_ttl, b->ttl.default_ttl);
        return fail(c, v[B_DEFAULT_TTL], "default_ttl %" PRIu64 " is above the default max_ttl %" PRIu64, b->ttl.default_ttl,
                    b->ttl.max_ttl);
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
        char names[256];
        if (str(c, v[B_ORIGIN], "origin", &name) != 0)
            return -1;
        if (find_group(conf, name, &b->route.group_index)) {
            b->route.origin_index = conf->upstream.groups[b->route.group_index].primary;
        } else if (!find_origin(conf, name, &b->route.origin_index)) {
            list_names(conf, true, names, sizeof(names));
            return fail(c, v[B_ORIGIN], "unknown origin \"%s\" (configured: %s)", name, names);
        }
    } else if (!default_origin(conf, &b->route.origin_index)) {
        return fail(c, n, "behavior \"%s\" names no origin, and there is neither a single origin nor one named \"default\"",
                    b->path);
    }

    if (v[B_MIN_TTL] != NULL && ttl(c, v[B_MIN_TTL], "min_ttl", &b->ttl.min_ttl) != 0)
        return -1;
    if (v[B_DEFAULT_TTL] != NULL && ttl(c, v[B_DEFAULT_TTL], "default_ttl", &b->ttl.default_ttl) != 0)
        return -1;
    if (v[B_MAX_TTL] != NULL && ttl(c, v[B_MAX_TTL], "max_ttl", &b->ttl.max_ttl) != 0)
        return -1;
    if (check_ttls(c, b, v) != 0)
        return -1;
    if (v[B_QUERY_STRING] != NULL && query_string(c, b, v[B_QUERY_STRING]) != 0)
        return -1;
    if (headers(c, b, v) != 0)
        return -1;
    b->ttl.default_ttl_set = v[B_DEFAULT_TTL] != NULL;
    if (v[B_REQUEST_CACHE_CONTROL] != NULL) {
        const char *s;
        if (str(c, v[B_REQUEST_CACHE_CONTROL], "request_cache_control", &s) != 0)
            return -1;
        if (strcmp(s, "honor") == 0)
            b->ttl.honor_request_cache_control = true;
        else if (strcmp(s, "ignore") != 0)
            return fail(c, v[B_REQUEST_CACHE_CONTROL], "request_cache_control: expected ignore or honor, found \"%s\"", s);
    }
    if (v[B_CACHE_SET_COOKIE] != NULL && boolean(c, v[B_CACHE_SET_COOKIE], "cache_set_cookie", &b->ttl.cache_set_cookie) != 0)
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
    if (!default_origin(conf, &last->route.origin_index))
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

static int status_one(ctx_t *c, errorpages_rule_t *e, const yaml_node_t *n)
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
static int load_page(ctx_t *c, errorpages_rule_t *e, const yaml_node_t *n)
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

static int parse_error_page(ctx_t *c, errorpages_rule_t *e, const yaml_node_t *n)
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

enum {
    K_LISTEN,
    K_THREADS,
    K_CACHE,
    K_ORIGIN,
    K_ORIGINS,
    K_ORIGIN_GROUPS,
    K_BEHAVIORS,
    K_ERROR_PAGES,
    K_ADMIN,
    K_ACCESS_LOG,
    K_REPORTS
};
static const char *const top_keys[] = {
    [K_LISTEN] = "listen",         [K_THREADS] = "threads",         [K_CACHE] = "cache",
    [K_ORIGIN] = "origin",         [K_ORIGINS] = "origins",         [K_ORIGIN_GROUPS] = "origin_groups",
    [K_BEHAVIORS] = "behaviors",   [K_ERROR_PAGES] = "error_pages", [K_ADMIN] = "admin",
    [K_ACCESS_LOG] = "access_log", [K_REPORTS] = "reports"};

/* --- admin, access_log, reports ---------------------------------------------------------------------------- */

static int cidr(ctx_t *c, const yaml_node_t *n, edge_conf_cidr_t *out)
{
    const char *s, *slash;
    char addr[INET6_ADDRSTRLEN];
    uint64_t len;

    if (str(c, n, "purge_allow", &s) != 0)
        return -1;
    slash = strchr(s, '/');
    size_t alen = slash != NULL ? (size_t)(slash - s) : strlen(s);
    if (alen == 0 || alen >= sizeof(addr))
        return fail(c, n, "purge_allow: \"%s\" is not an address or a network (e.g. 10.0.0.0/8, ::1)", s);
    memcpy(addr, s, alen);
    addr[alen] = '\0';
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, addr, out->addr) == 1)
        out->family = AF_INET;
    else if (inet_pton(AF_INET6, addr, out->addr) == 1)
        out->family = AF_INET6;
    else
        return fail(c, n, "purge_allow: \"%s\" is not a numeric IPv4 or IPv6 address", addr);
    unsigned max = out->family == AF_INET ? 32 : 128;
    out->prefix_len = max;
    if (slash != NULL) {
        const char *end;
        if (digits(slash + 1, &len, &end) != 0 || *end != '\0' || len > max)
            return fail(c, n, "purge_allow: prefix length \"%s\" is not in 0..%u", slash + 1, max);
        out->prefix_len = (unsigned)len;
    }
    return 0;
}

bool edge_config_cidr_match(const edge_conf_cidr_t *cidrs, size_t num, const void *_sa)
{
    const struct sockaddr *sa = _sa;
    uint8_t a[16];
    int family = sa->sa_family;

    if (family == AF_INET) {
        memcpy(a, &((const struct sockaddr_in *)sa)->sin_addr, 4);
    } else if (family == AF_INET6) {
        memcpy(a, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16);
        static const uint8_t v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(a, v4mapped, 12) == 0) { /* ::ffff:a.b.c.d matches IPv4 networks */
            memmove(a, a + 12, 4);
            family = AF_INET;
        }
    } else {
        return false;
    }
    for (size_t i = 0; i != num; ++i) {
        const edge_conf_cidr_t *n = &cidrs[i];
        if (n->family != family)
            continue;
        unsigned full = n->prefix_len / 8, rest = n->prefix_len % 8;
        if (memcmp(a, n->addr, full) != 0)
            continue;
        if (rest != 0 && ((a[full] ^ n->addr[full]) & (uint8_t)(0xff << (8 - rest))) != 0)
            continue;
        return true;
    }
    return false;
}

enum { A_LISTEN, A_TOKEN_FILE, A_PURGE_ALLOW };
static const char *const admin_keys[] = {[A_LISTEN] = "listen", [A_TOKEN_FILE] = "token_file", [A_PURGE_ALLOW] = "purge_allow"};

static int parse_admin(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(admin_keys)] = {NULL};
    char msg[MSGLEN];
    const char *s;

    if (collect(c, n, "admin", admin_keys, NKEYS(admin_keys), v) != 0)
        return -1;
    if (v[A_LISTEN] != NULL) {
        if (str(c, v[A_LISTEN], "listen", &s) != 0)
            return -1;
        if (split_hostport(s, &conf->admin.address, &conf->admin.port, msg, sizeof(msg)) != 0)
            return fail(c, v[A_LISTEN], "admin listen \"%s\": %s", s, msg);
    }
    if (v[A_TOKEN_FILE] != NULL) {
        char *text;
        size_t len;
        if (str(c, v[A_TOKEN_FILE], "token_file", &s) != 0)
            return -1;
        if ((conf->admin.token_file = resolve(c->basedir, s)) == NULL)
            return nomem(c, v[A_TOKEN_FILE]);
        if (slurp(conf->admin.token_file, 4096, &text, &len, msg, sizeof(msg)) != 0)
            return fail(c, v[A_TOKEN_FILE], "token_file: %s", msg);
        size_t b = 0, e = len;
        while (b < e && isspace((unsigned char)text[b]))
            ++b;
        while (e > b && isspace((unsigned char)text[e - 1]))
            --e;
        if (e - b < 16 || memchr(text + b, '\n', e - b) != NULL) {
            free(text);
            return fail(c, v[A_TOKEN_FILE], "token_file: %s must hold one token of at least 16 characters", conf->admin.token_file);
        }
        memmove(text, text + b, e - b);
        text[e - b] = '\0';
        conf->admin.token = text;
    }
    if (v[A_PURGE_ALLOW] != NULL) {
        yaml_node_t *p = v[A_PURGE_ALLOW];
        if (p->type == YAML_SCALAR_NODE) {
            if ((conf->admin.purge_allow = calloc(1, sizeof(*conf->admin.purge_allow))) == NULL)
                return nomem(c, p);
            conf->admin.num_purge_allow = 1;
            return cidr(c, p, conf->admin.purge_allow);
        }
        if (p->type != YAML_SEQUENCE_NODE)
            return fail(c, p, "purge_allow: expected a list of addresses or networks, found %s", kind(p));
        if (num_items(p) != 0 && (conf->admin.purge_allow = calloc(num_items(p), sizeof(*conf->admin.purge_allow))) == NULL)
            return nomem(c, p);
        for (size_t i = 0; i != num_items(p); ++i) {
            if (cidr(c, item(c, p, i), &conf->admin.purge_allow[i]) != 0)
                return -1;
            ++conf->admin.num_purge_allow;
        }
    }
    return 0;
}

enum { AL_PATH, AL_FORMAT };
static const char *const access_log_keys[] = {[AL_PATH] = "path", [AL_FORMAT] = "format"};

static int parse_access_log(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(access_log_keys)] = {NULL};
    const char *s;

    if (n->type == YAML_SCALAR_NODE) { /* access_log: /var/log/edgecache/access.log */
        if (str(c, n, "access_log", &s) != 0)
            return -1;
        return (conf->access_log.path = resolve(c->basedir, s)) == NULL ? nomem(c, n) : 0;
    }
    if (collect(c, n, "access_log", access_log_keys, NKEYS(access_log_keys), v) != 0)
        return -1;
    if (v[AL_PATH] == NULL)
        return missing(c, n, "access_log", "path");
    if (str(c, v[AL_PATH], "path", &s) != 0)
        return -1;
    if ((conf->access_log.path = s[0] == '|' ? strdup(s) : resolve(c->basedir, s)) == NULL)
        return nomem(c, n);
    if (v[AL_FORMAT] != NULL && dupstr(c, v[AL_FORMAT], "format", &conf->access_log.format) != 0)
        return -1;
    return 0;
}

enum { R_BUCKET, R_TOP, R_RETENTION, R_CAPACITY };
static const char *const reports_keys[] = {
    [R_BUCKET] = "bucket", [R_TOP] = "top", [R_RETENTION] = "retention", [R_CAPACITY] = "capacity"};

static int parse_reports(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(reports_keys)] = {NULL};
    uint64_t ms, u;

    conf->reports.bucket_s = 600;
    conf->reports.top = 50;
    conf->reports.retention_s = 60 * 86400;
    conf->reports.capacity = 2000;
    if (n == NULL)
        return 0;
    if (collect(c, n, "reports", reports_keys, NKEYS(reports_keys), v) != 0)
        return -1;
    if (v[R_BUCKET] != NULL) {
        if (duration_ms(c, v[R_BUCKET], "bucket", &ms) != 0)
            return -1;
        if (ms < 1000 || ms % 1000 != 0 || ms > (uint64_t)86400 * 1000)
            return fail(c, v[R_BUCKET], "bucket: must be whole seconds from 1s to 1d");
        conf->reports.bucket_s = ms / 1000;
    }
    if (v[R_TOP] != NULL) {
        if (integer(c, v[R_TOP], "top", 1, 100000, &u) != 0)
            return -1;
        conf->reports.top = (unsigned)u;
    }
    if (v[R_RETENTION] != NULL) {
        if (duration_ms(c, v[R_RETENTION], "retention", &ms) != 0)
            return -1;
        if (ms / 1000 < conf->reports.bucket_s)
            return fail(c, v[R_RETENTION], "retention: must be at least one bucket");
        conf->reports.retention_s = ms / 1000;
    }
    if (v[R_CAPACITY] != NULL) {
        if (integer(c, v[R_CAPACITY], "capacity", 10, 1000000, &u) != 0)
            return -1;
        conf->reports.capacity = (unsigned)u;
    }
    if (conf->reports.top > conf->reports.capacity)
        return fail(c, v[R_TOP] != NULL ? v[R_TOP] : n, "top %u is above capacity %u", conf->reports.top, conf->reports.capacity);
    return 0;
}

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
    /* origins, then groups, then behaviors, whatever the order in the file: each refers to the ones before by name */
    if (v[K_ORIGIN] != NULL && v[K_ORIGINS] != NULL)
        return fail(c, v[K_ORIGIN], "origin: use either origin (one URL) or origins (a mapping), not both");
    if (v[K_ORIGIN] != NULL && parse_origin_shorthand(c, conf, v[K_ORIGIN]) != 0)
        return -1;
    if (v[K_ORIGINS] != NULL && parse_origins(c, conf, v[K_ORIGINS]) != 0)
        return -1;
    if (conf->upstream.num_origins == 0)
        return fail(c, v[K_ORIGINS] != NULL ? v[K_ORIGINS] : root, "no origin configured");
    if (v[K_ORIGIN_GROUPS] != NULL && parse_groups(c, conf, v[K_ORIGIN_GROUPS]) != 0)
        return -1;
    if (parse_behaviors(c, conf, v[K_BEHAVIORS], root) != 0)
        return -1;
    if (v[K_ERROR_PAGES] != NULL && parse_error_pages(c, conf, v[K_ERROR_PAGES]) != 0)
        return -1;
    if (v[K_ADMIN] != NULL && parse_admin(c, conf, v[K_ADMIN]) != 0)
        return -1;
    if (v[K_ACCESS_LOG] != NULL && parse_access_log(c, conf, v[K_ACCESS_LOG]) != 0)
        return -1;
    if (parse_reports(c, conf, v[K_REPORTS]) != 0)
        return -1;
    /* the reports name each behavior and read its rules: a view parallel to conf->behaviors */
    conf->reports.behaviors = calloc(conf->num_behaviors != 0 ? conf->num_behaviors : 1, sizeof(*conf->reports.behaviors));
    if (conf->reports.behaviors == NULL)
        return fail(c, root, "out of memory");
    for (size_t i = 0; i != conf->num_behaviors; ++i)
        conf->reports.behaviors[i] = (reports_conf_behavior_t){
            .path = conf->behaviors[i].path, .key = &conf->behaviors[i].key, .ttl = &conf->behaviors[i].ttl};
    conf->reports.num_behaviors = conf->num_behaviors;
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

static void free_origins(origin_conf_t *origins, size_t count)
{
    for (size_t i = 0; i != count; ++i) {
        free(origins[i].name);
        for (size_t j = 0; j != origins[i].num_servers; ++j)
            free(origins[i].servers[j]);
        free(origins[i].servers);
        free(origins[i].host_header);
        free(origins[i].health.path);
        free(origins[i].tls.ca_file);
        free(origins[i].tls.sni);
    }
    free(origins);
}

static void free_groups(origin_conf_group_t *groups, size_t count)
{
    for (size_t i = 0; i != count; ++i) {
        free(groups[i].name);
        free(groups[i].failover_on);
    }
    free(groups);
}

static void free_names(char **names, size_t count)
{
    for (size_t i = 0; i != count; ++i)
        free(names[i]);
    free(names);
}

int edge_config_override(edge_conf_t *conf, const char *listen, const char *origin, const char *cache_dir, char *err)
{
    char msg[MSGLEN], *address = NULL, *url = NULL, *path = NULL;
    edge_conf_listen_t *listens = NULL;
    origin_conf_t *origins = NULL;
    uint16_t port = 0;
    scheme_t scheme;

    /* validate and allocate everything first, so that a failure leaves `conf` as it was */
    if (listen != NULL && split_hostport(listen, &address, &port, msg, sizeof(msg)) != 0) {
        snprintf(err, EDGE_CONF_ERRLEN, "listen \"%s\": %s", listen, msg);
        return -1;
    }
    if (origin != NULL && parse_url(origin, NULL, &url, &scheme, msg, sizeof(msg)) != 0) {
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
    /* the groups go with the origins they index */
    if (origins != NULL) {
        free_origins(conf->upstream.origins, conf->upstream.num_origins);
        free_groups(conf->upstream.groups, conf->upstream.num_groups);
        origin_defaults(origins);
        origins->servers[0] = url;
        origins->num_servers = 1;
        conf->upstream.origins = origins;
        conf->upstream.num_origins = 1;
        conf->upstream.groups = NULL;
        conf->upstream.num_groups = 0;
        for (size_t i = 0; i != conf->num_behaviors; ++i) {
            conf->behaviors[i].route.origin_index = 0;
            conf->behaviors[i].route.group_index = SIZE_MAX;
        }
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
    free_origins(conf->upstream.origins, conf->upstream.num_origins);
    free_groups(conf->upstream.groups, conf->upstream.num_groups);
    for (size_t i = 0; i != conf->num_behaviors; ++i) {
        edge_conf_behavior_t *b = &conf->behaviors[i];
        free(b->path);
        free_names(b->key.query_names, b->key.num_query_names);
        free_names(b->route.forward_headers, b->route.num_forward_headers);
        free_names(b->key.key_headers, b->key.num_key_headers);
    }
    free(conf->behaviors);
    free(conf->reports.behaviors);
    for (size_t i = 0; i != conf->num_error_pages; ++i) {
        errorpages_rule_t *e = &conf->error_pages[i];
        free(e->statuses);
        free(e->page);
        free(e->body);
    }
    free(conf->error_pages);
    free(conf->admin.address);
    free(conf->admin.token_file);
    free(conf->admin.token);
    free(conf->admin.purge_allow);
    free(conf->access_log.path);
    free(conf->access_log.format);
    memset(conf, 0, sizeof(*conf));
}
