/*
 * edge/config_origin.c: the "origin" shorthand, "origins" and "origin_groups" sections of the configuration, which
 * fill origin/conf.h's origin_conf_set_t: the servers of each origin (http://, https:// or file:), their timeouts,
 * balancing, health checks and TLS, then the groups that fail over from one origin to another.
 *
 * The invariant that is easy to break: origins are parsed before groups, and every group name is taken before any
 * group is interpreted, so that a member naming a group is told it is a group, not that it is unknown; and every
 * origin starts from edge_config_origin_defaults(), so that none is left with TLS verification off (the zero of
 * calloc) unless an operator wrote "verify: false".
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "edge/config_int.h"

/* --- server URLs ----------------------------------------------------------------------------------------- */

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
    if (port != NULL && edge_config_port_at(port) == 0) {
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
    if ((full = edge_config_resolve(basedir, path)) == NULL) {
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

static const char *const scheme_names[] = {[SCHEME_HTTP] = "http://", [SCHEME_HTTPS] = "https://", [SCHEME_FILE] = "file:"};

/* Validates an origin server URL and stores its normalized form in *out (malloc'd): "http://host[:port]" or
 * "https://host[:port]" without a trailing '/', or "file:///abs/dir" / "file:rel/dir" with a relative directory
 * resolved against `basedir`, which must exist. The scheme is matched case-sensitively, as it always was for
 * http://. */
int edge_config_parse_url(const char *url, const char *basedir, char **out, scheme_t *scheme, char *msg, size_t msglen)
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
void edge_config_origin_defaults(origin_conf_t *o)
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

    if (edge_config_str(c, n, what, &url) != 0)
        return -1;
    if (edge_config_parse_url(url, c->basedir, out, scheme, msg, sizeof(msg)) != 0)
        return edge_config_fail(c, n, "%s", msg);
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

static int balance(ctx_t *c, origin_conf_t *o, const yaml_node_t *n)
{
    const char *s;

    if (edge_config_str(c, n, "balance", &s) != 0)
        return -1;
    for (size_t i = 0; i != NKEYS(balance_names); ++i) {
        if (strcmp(s, balance_names[i]) == 0) {
            o->balance = (origin_conf_balance_t)i;
            return 0;
        }
    }
    return edge_config_fail(c, n, "balance: unknown method \"%s\" (use round_robin, least_outstanding or consistent_hash)", s);
}

/* A check probes each server on its own, so a file origin has nothing to probe. The timeout must be below the
 * interval, or a slow server would have two probes in flight. */
static int health_check(ctx_t *c, origin_conf_t *o, scheme_t scheme, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(health_keys)];
    uint64_t threshold;

    if (scheme == SCHEME_FILE)
        return edge_config_fail(c, n, "health_check: origin \"%s\" serves files: there is no server to check", o->name);
    if (edge_config_collect(c, n, "health_check", health_keys, NKEYS(health_keys), v) != 0)
        return -1;
    if (v[H_PATH] == NULL)
        return edge_config_fail(c, n, "health_check needs a path (e.g. \"path: /healthz\")");
    if (edge_config_dupstr(c, v[H_PATH], "path", &o->health.path) != 0)
        return -1;
    if (o->health.path[0] != '/' || has_space_or_control(o->health.path))
        return edge_config_fail(c, v[H_PATH], "path: \"%s\" must start with '/' and contain no space or control character",
                                o->health.path);
    if (v[H_INTERVAL] != NULL && edge_config_timeout_ms(c, v[H_INTERVAL], "interval", &o->health.interval_ms) != 0)
        return -1;
    if (v[H_TIMEOUT] != NULL && edge_config_timeout_ms(c, v[H_TIMEOUT], "timeout", &o->health.timeout_ms) != 0)
        return -1;
    if (o->health.timeout_ms >= o->health.interval_ms)
        return edge_config_fail(c, v[H_TIMEOUT] != NULL ? v[H_TIMEOUT] : v[H_INTERVAL],
                                "health_check: the timeout (%" PRIu64 "ms%s) must be below the interval (%" PRIu64 "ms%s)",
                                o->health.timeout_ms, v[H_TIMEOUT] != NULL ? "" : ", the default", o->health.interval_ms,
                                v[H_INTERVAL] != NULL ? "" : ", the default");
    if (v[H_UNHEALTHY_THRESHOLD] != NULL) {
        if (edge_config_integer(c, v[H_UNHEALTHY_THRESHOLD], "unhealthy_threshold", 1, 100, &threshold) != 0)
            return -1;
        o->health.unhealthy_threshold = (unsigned)threshold;
    }
    if (v[H_HEALTHY_THRESHOLD] != NULL) {
        if (edge_config_integer(c, v[H_HEALTHY_THRESHOLD], "healthy_threshold", 1, 100, &threshold) != 0)
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
        return edge_config_fail(c, n, "tls: the servers of origin \"%s\" are not https://", o->name);
    if (edge_config_collect(c, n, "tls", origin_tls_keys, NKEYS(origin_tls_keys), v) != 0)
        return -1;
    if (v[OT_CA_FILE] != NULL && edge_config_tls_file(c, v[OT_CA_FILE], "ca_file", &o->tls.ca_file) != 0)
        return -1;
    if (v[OT_SNI] != NULL) {
        if (edge_config_dupstr(c, v[OT_SNI], "sni", &o->tls.sni) != 0)
            return -1;
        if (has_space_or_control(o->tls.sni))
            return edge_config_fail(c, v[OT_SNI], "sni: \"%s\" is not a valid host name", o->tls.sni);
    }
    if (v[OT_VERIFY] != NULL && edge_config_boolean(c, v[OT_VERIFY], "verify", &o->tls.verify) != 0)
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

    edge_config_origin_defaults(o);
    snprintf(what, sizeof(what), "origin \"%s\"", o->name);
    if (edge_config_collect(c, n, what, origin_keys, NKEYS(origin_keys), v) != 0)
        return -1;
    if ((s = v[O_SERVERS]) == NULL)
        return edge_config_missing(c, n, what, "servers");

    /* servers: a list of URLs, or a single one, all of one scheme: a pool's servers are interchangeable, and
     * the tls settings apply to all of them */
    if ((count = s->type == YAML_SEQUENCE_NODE ? edge_config_num_items(s) : 1) == 0)
        return edge_config_fail(c, s, "servers: at least one server is needed");
    if (count > 64) /* the balancer's per-request exclusion mask has 64 bits */
        return edge_config_fail(c, s, "servers: at most 64 servers per origin (%zu given)", count);
    if ((o->servers = calloc(count, sizeof(*o->servers))) == NULL)
        return edge_config_nomem(c, s);
    o->num_servers = count;
    for (size_t i = 0; i != o->num_servers; ++i) {
        yaml_node_t *e = s->type == YAML_SEQUENCE_NODE ? edge_config_item(c, s, i) : s;
        scheme_t this;
        if (server(c, e, "servers", &o->servers[i], &this) != 0)
            return -1;
        if (i != 0 && (this == SCHEME_FILE || scheme == SCHEME_FILE))
            return edge_config_fail(c, s, "servers: a file origin has exactly one server");
        if (i != 0 && this != scheme)
            return edge_config_fail(
                c, e, "servers: \"%s\" is %s but \"%s\" is %s: the servers of an origin are all http:// or all https://",
                o->servers[i], scheme_names[this], o->servers[0], scheme_names[scheme]);
        scheme = this;
    }

    if (v[O_CONNECT_TIMEOUT] != NULL &&
        edge_config_timeout_ms(c, v[O_CONNECT_TIMEOUT], "connect_timeout", &o->connect_timeout_ms) != 0)
        return -1;
    if (v[O_CONNECT_ATTEMPTS] != NULL) {
        if (edge_config_integer(c, v[O_CONNECT_ATTEMPTS], "connect_attempts", 1, 10, &attempts) != 0)
            return -1;
        o->connect_attempts = (unsigned)attempts;
    }
    if (v[O_READ_TIMEOUT] != NULL && edge_config_timeout_ms(c, v[O_READ_TIMEOUT], "read_timeout", &o->read_timeout_ms) != 0)
        return -1;
    /* 0 is allowed: no connection is kept for reuse */
    if (v[O_KEEPALIVE_TIMEOUT] != NULL &&
        edge_config_duration_ms(c, v[O_KEEPALIVE_TIMEOUT], "keepalive_timeout", &o->keepalive_timeout_ms) != 0)
        return -1;
    if (v[O_HOST_HEADER] != NULL) {
        if (edge_config_dupstr(c, v[O_HOST_HEADER], "host_header", &o->host_header) != 0)
            return -1;
        if (has_space_or_control(o->host_header))
            return edge_config_fail(c, v[O_HOST_HEADER], "host_header: \"%s\" is not a valid host", o->host_header);
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
int edge_config_parse_origins(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    size_t count;

    if (n->type != YAML_MAPPING_NODE)
        return edge_config_fail(c, n, "origins: expected a mapping from names to origins, found %s", edge_config_kind(n));
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; ++p) {
        const char *name;
        yaml_node_t *k = edge_config_node(c, p->key);
        if (k->type != YAML_SCALAR_NODE || edge_config_str(c, k, "origins", &name) != 0)
            return edge_config_fail(c, k, "origins: expected an origin name, found %s", edge_config_kind(k));
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; ++q) {
            yaml_node_t *prev = edge_config_node(c, q->key);
            if (strcmp((const char *)prev->data.scalar.value, name) == 0)
                return edge_config_fail(c, k, "duplicate origin \"%s\" (first at line %zu)", name, edge_config_line(prev));
        }
    }
    count = n->data.mapping.pairs.top - n->data.mapping.pairs.start;
    if ((conf->upstream.origins = calloc(count, sizeof(*conf->upstream.origins))) == NULL && count != 0)
        return edge_config_nomem(c, n);
    conf->upstream.num_origins = count;
    for (size_t i = 0; i != count; ++i) {
        yaml_node_pair_t *p = n->data.mapping.pairs.start + i;
        yaml_node_t *k = edge_config_node(c, p->key);
        if (edge_config_dupstr(c, k, "origins", &conf->upstream.origins[i].name) != 0 ||
            parse_origin(c, &conf->upstream.origins[i], edge_config_node(c, p->value)) != 0)
            return -1;
    }
    return 0;
}

/* `origin: URL`: the shorthand for one origin named "default". */
int edge_config_parse_origin_shorthand(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    scheme_t scheme;

    if ((conf->upstream.origins = calloc(1, sizeof(*conf->upstream.origins))) == NULL)
        return edge_config_nomem(c, n);
    conf->upstream.num_origins = 1;
    edge_config_origin_defaults(&conf->upstream.origins[0]);
    if ((conf->upstream.origins[0].name = strdup("default")) == NULL ||
        (conf->upstream.origins[0].servers = calloc(1, sizeof(char *))) == NULL)
        return edge_config_nomem(c, n);
    conf->upstream.origins[0].num_servers = 1;
    return server(c, n, "origin", &conf->upstream.origins[0].servers[0], &scheme);
}

bool edge_config_find_origin(const edge_conf_t *conf, const char *name, size_t *index)
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
bool edge_config_find_group(const edge_conf_t *conf, const char *name, size_t *index)
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
void edge_config_list_names(const edge_conf_t *conf, bool with_groups, char *buf, size_t len)
{
    size_t count = conf->upstream.num_origins + (with_groups ? conf->upstream.num_groups : 0);

    buf[0] = '\0';
    for (size_t i = 0; i != count; ++i) {
        size_t used = strlen(buf);
        const char *name = i < conf->upstream.num_origins ? conf->upstream.origins[i].name
                                                          : conf->upstream.groups[i - conf->upstream.num_origins].name;
        snprintf(buf + used, len - used, "%s%s", i == 0 ? "" : ", ", name);
    }
}

/* The origin a behavior without `origin` uses: the only one, or the one named "default". (A group needs two
 * origins, so "the only one" never hides a group.) */
bool edge_config_default_origin(const edge_conf_t *conf, size_t *index)
{
    if (conf->upstream.num_origins == 1) {
        *index = 0;
        return true;
    }
    return edge_config_find_origin(conf, "default", index);
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

    if (edge_config_str(c, n, what, &name) != 0)
        return -1;
    if (edge_config_find_origin(conf, name, index))
        return 0;
    if (edge_config_find_group(conf, name, &g))
        return edge_config_fail(c, n, "%s: \"%s\" is an origin group; a group's members are origins", what, name);
    edge_config_list_names(conf, false, names, sizeof(names));
    return edge_config_fail(c, n, "%s: unknown origin \"%s\" (configured: %s)", what, name, names);
}

static int cmp_ints(const void *a, const void *b)
{
    int x = *(const int *)a, y = *(const int *)b;

    return x < y ? -1 : x > y;
}

/* A single status or a list; stored sorted and without duplicates. */
static int failover_on(ctx_t *c, origin_conf_group_t *g, const yaml_node_t *n)
{
    size_t count = n->type == YAML_SEQUENCE_NODE ? edge_config_num_items(n) : 1, out = 0;

    if (count == 0)
        return edge_config_fail(c, n, "failover_on: at least one status is needed (leave it out for 500, 502, 503, 504)");
    if ((g->failover_on = calloc(count, sizeof(*g->failover_on))) == NULL)
        return edge_config_nomem(c, n);
    for (size_t i = 0; i != count; ++i) {
        const yaml_node_t *e = n->type == YAML_SEQUENCE_NODE ? edge_config_item(c, n, i) : n;
        uint64_t status;
        size_t j;
        if (edge_config_integer(c, e, "failover_on", 100, 599, &status) != 0)
            return -1;
        for (j = 0; j != NKEYS(failover_allowed) && failover_allowed[j] != (int)status; ++j)
            ;
        if (j == NKEYS(failover_allowed))
            return edge_config_fail(c, e, "failover_on: %d cannot fail over (allowed: 400, 403, 404, 416, 500, 502, 503, 504)",
                                    (int)status);
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

    if (edge_config_collect(c, n, "circuit_breaker", breaker_keys, NKEYS(breaker_keys), v) != 0)
        return -1;
    if (v[CB_FAILURES] != NULL) {
        if (edge_config_integer(c, v[CB_FAILURES], "failures", 0, 1000, &failures) != 0)
            return -1;
        g->breaker_failures = (unsigned)failures;
    }
    if (v[CB_COOL_DOWN] != NULL && edge_config_timeout_ms(c, v[CB_COOL_DOWN], "cool_down", &g->breaker_cooldown_ms) != 0)
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
    if (edge_config_collect(c, n, what, group_keys, NKEYS(group_keys), v) != 0)
        return -1;
    if (v[G_PRIMARY] == NULL)
        return edge_config_missing(c, n, what, "primary");
    if (v[G_SECONDARY] == NULL)
        return edge_config_missing(c, n, what, "secondary");
    if (member(c, conf, v[G_PRIMARY], "primary", &g->primary) != 0 ||
        member(c, conf, v[G_SECONDARY], "secondary", &g->secondary) != 0)
        return -1;
    if (g->primary == g->secondary)
        return edge_config_fail(c, v[G_SECONDARY], "secondary: \"%s\" is also the primary: failing over to it would change nothing",
                                conf->upstream.origins[g->secondary].name);
    if (v[G_FAILOVER_ON] != NULL) {
        if (failover_on(c, g, v[G_FAILOVER_ON]) != 0)
            return -1;
    } else {
        if ((g->failover_on = malloc(sizeof(failover_default))) == NULL)
            return edge_config_nomem(c, n);
        memcpy(g->failover_on, failover_default, sizeof(failover_default));
        g->num_failover_on = NKEYS(failover_default);
    }
    if (v[G_CIRCUIT_BREAKER] != NULL && circuit_breaker(c, g, v[G_CIRCUIT_BREAKER]) != 0)
        return -1;
    return 0;
}

/* `origin_groups`: a mapping from name to group. Every name is taken before any group is interpreted, so that a
 * member naming a later group is told it is a group, not that it is unknown. */
int edge_config_parse_groups(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    size_t count, index;

    if (n->type != YAML_MAPPING_NODE)
        return edge_config_fail(c, n, "origin_groups: expected a mapping from names to groups, found %s", edge_config_kind(n));
    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; ++p) {
        const char *name;
        yaml_node_t *k = edge_config_node(c, p->key);
        if (k->type != YAML_SCALAR_NODE || edge_config_str(c, k, "origin_groups", &name) != 0)
            return edge_config_fail(c, k, "origin_groups: expected a group name, found %s", edge_config_kind(k));
        for (yaml_node_pair_t *q = n->data.mapping.pairs.start; q < p; ++q) {
            yaml_node_t *prev = edge_config_node(c, q->key);
            if (strcmp((const char *)prev->data.scalar.value, name) == 0)
                return edge_config_fail(c, k, "duplicate origin group \"%s\" (first at line %zu)", name, edge_config_line(prev));
        }
        /* a behavior's "origin" names either, so one name must not mean both */
        if (edge_config_find_origin(conf, name, &index))
            return edge_config_fail(c, k, "duplicate name \"%s\": origins and origin groups share their names", name);
    }
    count = n->data.mapping.pairs.top - n->data.mapping.pairs.start;
    if (count == 0)
        return 0;
    if ((conf->upstream.groups = calloc(count, sizeof(*conf->upstream.groups))) == NULL)
        return edge_config_nomem(c, n);
    conf->upstream.num_groups = count;
    for (size_t i = 0; i != count; ++i)
        if (edge_config_dupstr(c, edge_config_node(c, n->data.mapping.pairs.start[i].key), "origin_groups",
                               &conf->upstream.groups[i].name) != 0)
            return -1;
    for (size_t i = 0; i != count; ++i)
        if (parse_group(c, conf, &conf->upstream.groups[i], edge_config_node(c, n->data.mapping.pairs.start[i].value)) != 0)
            return -1;
    return 0;
}
