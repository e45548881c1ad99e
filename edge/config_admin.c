/*
 * edge/config_admin.c: the "admin", "access_log" and "reports" sections of the configuration: what the edge
 * says about itself (the admin API and who may PURGE, the access log, the report buckets).
 *
 * The invariant that is easy to break: the admin token is read and checked here, at parse time, so that a
 * missing or short token file stops `edgecache check` rather than leaving the admin API open or shut at run
 * time; and purge_allow entries are counted one by one as they parse, so dispose frees exactly what exists.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "common/cidr.h"
#include "edge/config_int.h"

/* One "purge_allow" entry. The messages name what the operator wrote: the address part alone when only it is
 * wrong, the prefix length alone when only it is. */
static int cidr(ctx_t *c, const yaml_node_t *n, common_cidr_t *out)
{
    const char *s, *slash;

    if (edge_config_str(c, n, "purge_allow", &s) != 0)
        return -1;
    slash = strchr(s, '/');
    switch (common_cidr_parse(out, s)) {
    case 0:
        return 0;
    case COMMON_CIDR_ERROR_ADDRESS:
        return edge_config_fail(c, n, "purge_allow: \"%.*s\" is not a numeric IPv4 or IPv6 address",
                                (int)(slash != NULL ? slash - s : (ptrdiff_t)strlen(s)), s);
    case COMMON_CIDR_ERROR_PREFIX:
        return edge_config_fail(c, n, "purge_allow: prefix length \"%s\" is not in 0..%u", slash + 1, out->prefix_len);
    default:
        return edge_config_fail(c, n, "purge_allow: \"%s\" is not an address or a network (e.g. 10.0.0.0/8, ::1)", s);
    }
}

enum { A_LISTEN, A_TOKEN_FILE, A_PURGE_ALLOW, A_HEALTHZ_PATH };
static const char *const admin_keys[] = {
    [A_LISTEN] = "listen", [A_TOKEN_FILE] = "token_file", [A_PURGE_ALLOW] = "purge_allow", [A_HEALTHZ_PATH] = "healthz_path"};

int edge_config_parse_admin(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(admin_keys)] = {NULL};
    char msg[MSGLEN];
    const char *s;

    if (edge_config_collect(c, n, "admin", admin_keys, NKEYS(admin_keys), v) != 0)
        return -1;
    if (v[A_LISTEN] != NULL) {
        if (edge_config_str(c, v[A_LISTEN], "listen", &s) != 0)
            return -1;
        if (edge_config_split_hostport(s, &conf->admin.address, &conf->admin.port, msg, sizeof(msg)) != 0)
            return edge_config_fail(c, v[A_LISTEN], "admin listen \"%s\": %s", s, msg);
    }
    if (v[A_HEALTHZ_PATH] != NULL) {
        if (edge_config_is_null(v[A_HEALTHZ_PATH])) {
            conf->admin.healthz_off = true;
        } else {
            if (edge_config_dupstr(c, v[A_HEALTHZ_PATH], "healthz_path", &conf->admin.healthz_path) != 0)
                return -1;
            if (conf->admin.healthz_path[0] != '/' || strpbrk(conf->admin.healthz_path, "?# \t") != NULL)
                return edge_config_fail(c, v[A_HEALTHZ_PATH],
                                        "healthz_path: \"%s\" must be a path starting with '/', without a query",
                                        conf->admin.healthz_path);
        }
    }
    if (v[A_TOKEN_FILE] != NULL) {
        char *text;
        size_t len;
        if (edge_config_str(c, v[A_TOKEN_FILE], "token_file", &s) != 0)
            return -1;
        if ((conf->admin.token_file = edge_config_resolve(c->basedir, s)) == NULL)
            return edge_config_nomem(c, v[A_TOKEN_FILE]);
        if (edge_config_slurp(conf->admin.token_file, 4096, &text, &len, msg, sizeof(msg)) != 0)
            return edge_config_fail(c, v[A_TOKEN_FILE], "token_file: %s", msg);
        size_t b = 0, e = len;
        while (b < e && isspace((unsigned char)text[b]))
            ++b;
        while (e > b && isspace((unsigned char)text[e - 1]))
            --e;
        if (e - b < 16 || memchr(text + b, '\n', e - b) != NULL) {
            free(text);
            return edge_config_fail(c, v[A_TOKEN_FILE], "token_file: %s must hold one token of at least 16 characters",
                                    conf->admin.token_file);
        }
        memmove(text, text + b, e - b);
        text[e - b] = '\0';
        conf->admin.token = text;
    }
    if (v[A_PURGE_ALLOW] != NULL) {
        yaml_node_t *p = v[A_PURGE_ALLOW];
        if (p->type == YAML_SCALAR_NODE) {
            if ((conf->admin.purge_allow = calloc(1, sizeof(*conf->admin.purge_allow))) == NULL)
                return edge_config_nomem(c, p);
            conf->admin.num_purge_allow = 1;
            return cidr(c, p, conf->admin.purge_allow);
        }
        if (p->type != YAML_SEQUENCE_NODE)
            return edge_config_fail(c, p, "purge_allow: expected a list of addresses or networks, found %s", edge_config_kind(p));
        if (edge_config_num_items(p) != 0 &&
            (conf->admin.purge_allow = calloc(edge_config_num_items(p), sizeof(*conf->admin.purge_allow))) == NULL)
            return edge_config_nomem(c, p);
        for (size_t i = 0; i != edge_config_num_items(p); ++i) {
            if (cidr(c, edge_config_item(c, p, i), &conf->admin.purge_allow[i]) != 0)
                return -1;
            ++conf->admin.num_purge_allow;
        }
    }
    return 0;
}

enum { AL_PATH, AL_FORMAT };
static const char *const access_log_keys[] = {[AL_PATH] = "path", [AL_FORMAT] = "format"};

int edge_config_parse_access_log(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(access_log_keys)] = {NULL};
    const char *s;

    if (n->type == YAML_SCALAR_NODE) { /* access_log: /var/log/edgecache/access.log */
        if (edge_config_str(c, n, "access_log", &s) != 0)
            return -1;
        return (conf->access_log.path = edge_config_resolve(c->basedir, s)) == NULL ? edge_config_nomem(c, n) : 0;
    }
    if (edge_config_collect(c, n, "access_log", access_log_keys, NKEYS(access_log_keys), v) != 0)
        return -1;
    if (v[AL_PATH] == NULL)
        return edge_config_missing(c, n, "access_log", "path");
    if (edge_config_str(c, v[AL_PATH], "path", &s) != 0)
        return -1;
    if ((conf->access_log.path = s[0] == '|' ? strdup(s) : edge_config_resolve(c->basedir, s)) == NULL)
        return edge_config_nomem(c, n);
    if (v[AL_FORMAT] != NULL && edge_config_dupstr(c, v[AL_FORMAT], "format", &conf->access_log.format) != 0)
        return -1;
    if (conf->access_log.format != NULL && strcmp(conf->access_log.format, "json") == 0) {
        /* the keyword, not a format string (which would log the word "json" on every line) */
        free(conf->access_log.format);
        conf->access_log.format = NULL;
        conf->access_log.json = true;
    }
    return 0;
}

enum { R_BUCKET, R_TOP, R_RETENTION, R_CAPACITY };
static const char *const reports_keys[] = {
    [R_BUCKET] = "bucket", [R_TOP] = "top", [R_RETENTION] = "retention", [R_CAPACITY] = "capacity"};

int edge_config_parse_reports(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(reports_keys)] = {NULL};
    uint64_t ms, u;

    conf->reports.bucket_s = 600;
    conf->reports.top = 50;
    conf->reports.retention_s = 60 * 86400;
    conf->reports.capacity = 2000;
    if (n == NULL)
        return 0;
    if (edge_config_collect(c, n, "reports", reports_keys, NKEYS(reports_keys), v) != 0)
        return -1;
    if (v[R_BUCKET] != NULL) {
        if (edge_config_duration_ms(c, v[R_BUCKET], "bucket", &ms) != 0)
            return -1;
        if (ms < 1000 || ms % 1000 != 0 || ms > (uint64_t)86400 * 1000)
            return edge_config_fail(c, v[R_BUCKET], "bucket: must be whole seconds from 1s to 1d");
        conf->reports.bucket_s = ms / 1000;
    }
    if (v[R_TOP] != NULL) {
        if (edge_config_integer(c, v[R_TOP], "top", 1, 100000, &u) != 0)
            return -1;
        conf->reports.top = (unsigned)u;
    }
    if (v[R_RETENTION] != NULL) {
        if (edge_config_duration_ms(c, v[R_RETENTION], "retention", &ms) != 0)
            return -1;
        if (ms / 1000 < conf->reports.bucket_s)
            return edge_config_fail(c, v[R_RETENTION], "retention: must be at least one bucket");
        conf->reports.retention_s = ms / 1000;
    }
    if (v[R_CAPACITY] != NULL) {
        if (edge_config_integer(c, v[R_CAPACITY], "capacity", 10, 1000000, &u) != 0)
            return -1;
        conf->reports.capacity = (unsigned)u;
    }
    if (conf->reports.top > conf->reports.capacity)
        return edge_config_fail(c, v[R_TOP] != NULL ? v[R_TOP] : n, "top %u is above capacity %u", conf->reports.top,
                                conf->reports.capacity);
    return 0;
}

#define NODE_ID_MAX 64

/* A node id goes into JSON reports, HTML pages and error messages: 1..64 letters, digits, '.', '_', '-'. */
static bool node_id_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > NODE_ID_MAX)
        return false;
    for (; *s != '\0'; ++s)
        if (!isalnum((unsigned char)*s) && *s != '.' && *s != '_' && *s != '-')
            return false;
    return true;
}

int edge_config_parse_node_id(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n, const yaml_node_t *root)
{
    char host[256];

    if (n != NULL) {
        if (edge_config_dupstr(c, n, "node_id", &conf->node_id) != 0)
            return -1;
        if (!node_id_ok(conf->node_id))
            return edge_config_fail(c, n, "node_id: 1..%d letters, digits, '.', '_' or '-'", NODE_ID_MAX);
        return 0;
    }
    /* the default: the host name, which tells the edges of a fleet apart as long as each runs on its own machine */
    if (gethostname(host, sizeof(host)) != 0 || (host[sizeof(host) - 1] = '\0', !node_id_ok(host)))
        snprintf(host, sizeof(host), "edgecache");
    if ((conf->node_id = strdup(host)) == NULL)
        return edge_config_nomem(c, root);
    return 0;
}
