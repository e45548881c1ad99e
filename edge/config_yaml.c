/*
 * edge/config_yaml.c: the helpers every section parser of the configuration uses: node access, scalars, the
 * check of a mapping's keys, integers, durations, sizes and booleans, then the few that work on plain text
 * (paths, "ADDR:PORT", reading a file) and also serve the command-line overrides.
 *
 * The invariant that is easy to break: a helper either succeeds or writes exactly one "name:line:col: message"
 * naming the node at fault and returns -1; a caller never adds to or rewrites the message, so the position an
 * operator reads is always the node that was wrong. Numbers take no sign and no base prefix: "0x10" or "+5" in
 * a config file is a typo more often than intended.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include "edge/config_int.h"

/* 100 years: far above any sensible TTL, and keeps "now + ttl" (in ms or s) far from overflowing */
#define MAX_DURATION_MS ((uint64_t)36500 * 86400 * 1000)

/* --- errors and node access ----------------------------------------------------------------------------- */

size_t edge_config_line(const yaml_node_t *n)
{
    return n->start_mark.line + 1;
}

int edge_config_fail(ctx_t *c, const yaml_node_t *n, const char *fmt, ...)
{
    va_list ap;
    int off = snprintf(c->err, EDGE_CONF_ERRLEN, "%s:%zu:%zu: ", c->name, edge_config_line(n), n->start_mark.column + 1);

    if (off >= 0 && off < EDGE_CONF_ERRLEN) {
        va_start(ap, fmt);
        vsnprintf(c->err + off, EDGE_CONF_ERRLEN - off, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int edge_config_nomem(ctx_t *c, const yaml_node_t *n)
{
    return edge_config_fail(c, n, "out of memory");
}

yaml_node_t *edge_config_node(ctx_t *c, int id)
{
    return yaml_document_get_node(c->doc, id);
}

size_t edge_config_num_items(const yaml_node_t *n)
{
    return n->data.sequence.items.top - n->data.sequence.items.start;
}

yaml_node_t *edge_config_item(ctx_t *c, const yaml_node_t *n, size_t i)
{
    return edge_config_node(c, n->data.sequence.items.start[i]);
}

/* A plain "", "~" or "null" is YAML's null, which is what "port:" with nothing after it gives: it must be
 * reported as missing, not read as an empty string. */
bool edge_config_is_null(const yaml_node_t *n)
{
    const char *v;

    if (n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return false;
    v = (const char *)n->data.scalar.value;
    return v[0] == '\0' || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 || strcmp(v, "NULL") == 0;
}

const char *edge_config_kind(const yaml_node_t *n)
{
    switch (n->type) {
    case YAML_MAPPING_NODE:
        return "a mapping";
    case YAML_SEQUENCE_NODE:
        return "a list";
    default:
        return edge_config_is_null(n) ? "nothing" : "a single value";
    }
}

/* The text of a scalar. A NUL byte (possible through a "\0" escape) is refused because every consumer
 * treats these as C strings and would silently see a shorter value. */
int edge_config_str(ctx_t *c, const yaml_node_t *n, const char *what, const char **out)
{
    if (n->type != YAML_SCALAR_NODE || edge_config_is_null(n))
        return edge_config_fail(c, n, "%s: expected a single value, found %s", what, edge_config_kind(n));
    if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length)
        return edge_config_fail(c, n, "%s: contains a NUL byte", what);
    *out = (const char *)n->data.scalar.value;
    return 0;
}

/* A non-empty string, copied. */
int edge_config_dupstr(ctx_t *c, const yaml_node_t *n, const char *what, char **out)
{
    const char *s;

    if (edge_config_str(c, n, what, &s) != 0)
        return -1;
    if (s[0] == '\0')
        return edge_config_fail(c, n, "%s: must not be empty", what);
    if ((*out = strdup(s)) == NULL)
        return edge_config_nomem(c, n);
    return 0;
}

/* The value of `key` in mapping `map`, or NULL. */
yaml_node_t *edge_config_lookup(ctx_t *c, const yaml_node_t *map, const char *key)
{
    if (map->type != YAML_MAPPING_NODE)
        return NULL;
    for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; ++p) {
        yaml_node_t *k = edge_config_node(c, p->key);
        if (k->type == YAML_SCALAR_NODE && strcmp((const char *)k->data.scalar.value, key) == 0)
            return edge_config_node(c, p->value);
    }
    return NULL;
}

/* Every key of mapping `n` is a name and appears once. YAML leaves duplicates to the application, and a
 * silently ignored second "default_ttl" is the kind of mistake an operator never finds. */
static int check_keys(ctx_t *c, const yaml_node_t *n, const char *what)
{
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; ++p) {
        yaml_node_t *k = edge_config_node(c, p->key);
        const char *name;
        if (k->type != YAML_SCALAR_NODE)
            return edge_config_fail(c, k, "%s: expected a key name, found %s", what, edge_config_kind(k));
        if (edge_config_str(c, k, what, &name) != 0)
            return -1;
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; ++q) {
            yaml_node_t *prev = edge_config_node(c, q->key);
            if (strcmp((const char *)prev->data.scalar.value, name) == 0)
                return edge_config_fail(c, k, "duplicate key \"%s\" in %s (first at line %zu)", name, what, edge_config_line(prev));
        }
    }
    return 0;
}

/* Checks that `n` is a mapping whose keys are all in `keys` (each at most once) and stores each value at
 * its key's index in `vals` (NULL when absent). `what` names the mapping in messages. */
int edge_config_collect(ctx_t *c, const yaml_node_t *n, const char *what, const char *const *keys, size_t nkeys, yaml_node_t **vals)
{
    if (n->type != YAML_MAPPING_NODE)
        return edge_config_fail(c, n, "%s: expected a mapping, found %s", what, edge_config_kind(n));
    if (check_keys(c, n, what) != 0)
        return -1;
    memset(vals, 0, nkeys * sizeof(*vals));
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; ++p) {
        yaml_node_t *k = edge_config_node(c, p->key);
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
            return edge_config_fail(c, k, "unknown key \"%s\" in %s (allowed: %s)", name, what, allowed);
        }
        vals[i] = edge_config_node(c, p->value);
    }
    return 0;
}

int edge_config_missing(ctx_t *c, const yaml_node_t *map, const char *what, const char *key)
{
    return edge_config_fail(c, map, "%s: missing required key \"%s\"", what, key);
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

/* The whole tree is built before anything is interpreted, so that a syntax error anywhere is reported first. */
yaml_node_t *edge_config_load_document(ctx_t *c, yaml_document_t *doc, const char *text, size_t len, const char *what)
{
    yaml_parser_t parser;
    yaml_document_t next;
    yaml_node_t *root, *extra;

    if (!yaml_parser_initialize(&parser)) {
        snprintf(c->err, EDGE_CONF_ERRLEN, "%s: out of memory", c->name);
        return NULL;
    }
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, doc)) {
        syntax_error(c, &parser, text, len);
        yaml_parser_delete(&parser);
        return NULL;
    }
    c->doc = doc;
    if ((root = yaml_document_get_root_node(doc)) == NULL) {
        snprintf(c->err, EDGE_CONF_ERRLEN, "%s:1:1: the %s is empty", c->name, what);
        goto Fail;
    }
    /* a second document ("---") would otherwise be ignored without a word */
    if (!yaml_parser_load(&parser, &next)) {
        syntax_error(c, &parser, text, len);
        goto Fail;
    }
    extra = yaml_document_get_root_node(&next);
    if (extra != NULL) {
        c->doc = &next;
        edge_config_fail(c, extra, "a %s is a single YAML document; found a second one", what);
        c->doc = doc;
    }
    yaml_document_delete(&next);
    if (extra != NULL)
        goto Fail;
    yaml_parser_delete(&parser);
    return root;

Fail:
    yaml_document_delete(doc);
    yaml_parser_delete(&parser);
    return NULL;
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

int edge_config_integer(ctx_t *c, const yaml_node_t *n, const char *what, uint64_t lo, uint64_t hi, uint64_t *out)
{
    const char *s, *end;
    int r;

    if (edge_config_str(c, n, what, &s) != 0)
        return -1;
    r = digits(s[0] == '-' ? s + 1 : s, out, &end);
    if (r == -1 || *end != '\0')
        return edge_config_fail(c, n, "%s: expected an integer, found \"%s\"", what, s);
    if (r == -2 || s[0] == '-' || *out < lo || *out > hi)
        return edge_config_fail(c, n, "%s: %s is out of range (%" PRIu64 "..%" PRIu64 ")", what, s, lo, hi);
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

int edge_config_duration_ms(ctx_t *c, const yaml_node_t *n, const char *what, uint64_t *ms)
{
    const char *s, *why;

    if (edge_config_str(c, n, what, &s) != 0)
        return -1;
    if ((why = parse_duration(s, ms)) != NULL)
        return edge_config_fail(c, n, "%s: invalid duration \"%s\": %s", what, s, why);
    return 0;
}

/* A positive duration: a zero timeout would fail every fetch. */
int edge_config_timeout_ms(ctx_t *c, const yaml_node_t *n, const char *what, uint64_t *ms)
{
    if (edge_config_duration_ms(c, n, what, ms) != 0)
        return -1;
    if (*ms == 0)
        return edge_config_fail(c, n, "%s: must be more than 0", what);
    return 0;
}

/* TTLs are whole seconds, as in HTTP's max-age: "1500ms" would be silently rounded otherwise. */
int edge_config_ttl(ctx_t *c, const yaml_node_t *n, const char *what, uint64_t *secs)
{
    uint64_t ms;

    if (edge_config_duration_ms(c, n, what, &ms) != 0)
        return -1;
    if (ms % 1000 != 0)
        return edge_config_fail(c, n, "%s: must be a whole number of seconds", what);
    *secs = ms / 1000;
    return 0;
}

int edge_config_size(ctx_t *c, const yaml_node_t *n, const char *what, uint64_t *out)
{
    static const struct {
        const char *unit;
        unsigned shift;
    } units[] = {{"", 0},     {"B", 0},  {"K", 10},  {"KB", 10},  {"KiB", 10}, {"M", 20},  {"MB", 20},
                 {"MiB", 20}, {"G", 30}, {"GB", 30}, {"GiB", 30}, {"T", 40},   {"TB", 40}, {"TiB", 40}};
    const char *s, *end;
    uint64_t v;
    int r;

    if (edge_config_str(c, n, what, &s) != 0)
        return -1;
    if (s[0] == '-')
        return edge_config_fail(c, n, "%s: invalid size \"%s\": must not be negative", what, s);
    if ((r = digits(s, &v, &end)) == -1)
        return edge_config_fail(c, n, "%s: invalid size \"%s\": expected bytes, or a number with K, M, G or T (\"20G\")", what, s);
    while (*end == ' ')
        ++end;
    for (size_t i = 0; i != NKEYS(units); ++i) {
        if (strcasecmp(end, units[i].unit) == 0) {
            if (r == -2 || v > (UINT64_MAX >> units[i].shift))
                return edge_config_fail(c, n, "%s: invalid size \"%s\": too large", what, s);
            *out = v << units[i].shift;
            return 0;
        }
    }
    return edge_config_fail(c, n, "%s: invalid size \"%s\": unknown unit (use K, M, G or T)", what, s);
}

int edge_config_boolean(ctx_t *c, const yaml_node_t *n, const char *what, bool *out)
{
    const char *s;

    if (edge_config_str(c, n, what, &s) != 0)
        return -1;
    if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 || strcmp(s, "TRUE") == 0)
        *out = true;
    else if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 || strcmp(s, "FALSE") == 0)
        *out = false;
    else
        return edge_config_fail(c, n, "%s: expected true or false, found \"%s\"", what, s);
    return 0;
}

/* --- paths, addresses, files ------------------------------------------------------------------------------ */

/* `path` relative to `basedir` (NULL or an absolute path: `path` as is), malloc'd. */
char *edge_config_resolve(const char *basedir, const char *path)
{
    char *out;

    if (basedir == NULL || path[0] == '/')
        return strdup(path);
    if (asprintf(&out, "%s/%s", basedir, path) < 0)
        return NULL;
    return out;
}

bool edge_config_numeric_address(const char *s)
{
    unsigned char buf[sizeof(struct in6_addr)];

    return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

/* Reads a port "1".."65535" at `s`, which must end the string; 0 on error. */
uint16_t edge_config_port_at(const char *s)
{
    const char *end;
    uint64_t v;

    if (digits(s, &v, &end) != 0 || *end != '\0' || v < 1 || v > 65535)
        return 0;
    return (uint16_t)v;
}

/* Splits "ADDR:PORT" or "[V6ADDR]:PORT" into a numeric address (malloc'd) and a port. */
int edge_config_split_hostport(const char *s, char **addr, uint16_t *port, char *msg, size_t msglen)
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
    if ((*port = edge_config_port_at(colon + 1)) == 0) {
        snprintf(msg, msglen, "port \"%s\" is not in 1..65535", colon + 1);
        return -1;
    }
    if ((*addr = strndup(host, host_end - host)) == NULL) {
        snprintf(msg, msglen, "out of memory");
        return -1;
    }
    if (!edge_config_numeric_address(*addr)) {
        snprintf(msg, msglen, "\"%s\" is not a numeric IPv4 or IPv6 address", *addr);
        free(*addr);
        *addr = NULL;
        return -1;
    }
    return 0;
}

/* Reads a regular file of at most `limit` bytes into a NUL-terminated buffer (malloc'd). */
int edge_config_slurp(const char *path, size_t limit, char **out, size_t *len, char *msg, size_t msglen)
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
