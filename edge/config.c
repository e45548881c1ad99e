/*
 * edge/config.c: the YAML configuration, parsed with libyaml's document API and validated into an
 * edge_conf_t: the entry points, the root mapping, the command-line overrides and dispose. Each section has a
 * file of its own (the map is at the head of edge/config.h); only these edge/config*.c files (and edge/fleet.c,
 * the fleet file's loader) include <yaml.h>.
 *
 * The parse has two steps. libyaml first builds the whole document tree, so a syntax error is reported
 * before anything is interpreted; then each mapping is checked against a table of the keys it allows
 * (edge_config_collect()) and its values are interpreted. Sections are interpreted in a fixed order, not in the order
 * they are written (origins, then origin_groups, then behaviors, per site: edge/config_sites.c), because each names the ones before
 * it and must see them all. Every message names the node it is about as "name:line:col:" (1-based), so an operator can jump to it.
 *
 * The invariant that is easy to break: every allocation hangs off `conf` the moment it is made (arrays are
 * calloc'd at their final size and counted at once, their elements zeroed), so that on any error a single
 * edge_config_dispose() frees exactly what was built. Never hold an allocation only in a local across a
 * call that can fail.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "edge/config_int.h"

/* The sample site that the embedded default serves exists in two places: the source tree's (EDGE_SAMPLE_SITE_SRC,
 * for `./build/edgecache serve` and the tests) and the installed copy (EDGE_SAMPLE_SITE, $(pkgdatadir)/sample-site,
 * which `make install` and the Debian package put there). `make install` copies the very binary the tests ran, so
 * configure cannot pick one: edge_config_default_yaml() does, at run time, the installed copy when that directory
 * exists, else the source tree's. An installed edge thus never depends on the tree it was built in (which the
 * package build deletes); a build tree run on a machine with the package installed serves the installed copy, which
 * holds the same files (the tests only need the file names, "sample-site" among them). Without the build's
 * definitions (a compile outside automake) both are the relative "sample-site". */
#ifndef EDGE_SAMPLE_SITE
#define EDGE_SAMPLE_SITE "sample-site"
#endif
#ifndef EDGE_SAMPLE_SITE_SRC
#define EDGE_SAMPLE_SITE_SRC EDGE_SAMPLE_SITE
#endif

#define MAX_CONF_SIZE (16 * 1024 * 1024)
#define MAX_THREADS 1024

/* "file:" rather than "file://": the build defines the sample site as an absolute path ("file:/abs" is
 * normalized to "file:///abs"), while the fallback is relative, where "file://sample-site" would name a host.
 * Single quotes because a YAML single-quoted scalar has no escapes that a path could trigger. */
#define DEFAULT_YAML(site)                                                                                                         \
    "# edgecache's built-in configuration: the sample site on 127.0.0.1:8080.\n"                                                   \
    "listen: 127.0.0.1:8080\n"                                                                                                     \
    "cache:\n"                                                                                                                     \
    "  path: edgecache-cache\n"                                                                                                    \
    "origins:\n"                                                                                                                   \
    "  default:\n"                                                                                                                 \
    "    servers:\n"                                                                                                               \
    "      - 'file:" site "'\n"                                                                                                    \
    "behaviors:\n"                                                                                                                 \
    "  - path: '*'\n"                                                                                                              \
    "    default_ttl: 3600\n"

const char *edge_config_default_yaml(void)
{
    struct stat st;

    if (stat(EDGE_SAMPLE_SITE, &st) == 0 && S_ISDIR(st.st_mode))
        return DEFAULT_YAML(EDGE_SAMPLE_SITE);
    return DEFAULT_YAML(EDGE_SAMPLE_SITE_SRC);
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
    K_REPORTS,
    K_LIMITS,
    K_SITES,
    K_UNKNOWN_HOST,
    K_HSTS,
    K_NODE_ID,
    K_TLS
};
static const char *const top_keys[] = {[K_LISTEN] = "listen",
                                       [K_THREADS] = "threads",
                                       [K_CACHE] = "cache",
                                       [K_ORIGIN] = "origin",
                                       [K_ORIGINS] = "origins",
                                       [K_ORIGIN_GROUPS] = "origin_groups",
                                       [K_BEHAVIORS] = "behaviors",
                                       [K_ERROR_PAGES] = "error_pages",
                                       [K_ADMIN] = "admin",
                                       [K_ACCESS_LOG] = "access_log",
                                       [K_REPORTS] = "reports",
                                       [K_LIMITS] = "limits",
                                       [K_SITES] = "sites",
                                       [K_UNKNOWN_HOST] = "unknown_host",
                                       [K_HSTS] = "hsts",
                                       [K_NODE_ID] = "node_id",
                                       [K_TLS] = "tls"};

static int parse_root(ctx_t *c, edge_conf_t *conf, const yaml_node_t *root)
{
    yaml_node_t *v[NKEYS(top_keys)];
    uint64_t threads;

    if (root->type != YAML_MAPPING_NODE)
        return edge_config_fail(c, root, "expected a mapping of settings (listen, origins, behaviors, sites, ...), found %s",
                                edge_config_kind(root));
    if (edge_config_collect(c, root, "the configuration", top_keys, NKEYS(top_keys), v) != 0)
        return -1;
    if (edge_config_parse_listen(c, conf, v[K_LISTEN], root) != 0)
        return -1;
    if (v[K_THREADS] != NULL) {
        if (edge_config_integer(c, v[K_THREADS], "threads", 0, MAX_THREADS, &threads) != 0)
            return -1;
        conf->threads = (unsigned)threads;
    }
    if (edge_config_parse_cache(c, conf, v[K_CACHE], root) != 0)
        return -1;
    /* the sites, each with its origins, groups, behaviors and error pages; or, without "sites", those sections at
     * the top level as the one site "default" for every host */
    if (v[K_SITES] != NULL) {
        static const int per_site[] = {K_ORIGIN, K_ORIGINS, K_ORIGIN_GROUPS, K_BEHAVIORS, K_ERROR_PAGES, K_HSTS};
        for (size_t i = 0; i != NKEYS(per_site); ++i)
            if (v[per_site[i]] != NULL)
                return edge_config_fail(c, v[per_site[i]], "%s: with sites, each site has its own: move it into a site",
                                        top_keys[per_site[i]]);
        if (edge_config_parse_sites(c, conf, v[K_SITES]) != 0)
            return -1;
    } else {
        if (v[K_UNKNOWN_HOST] != NULL)
            return edge_config_fail(c, v[K_UNKNOWN_HOST], "unknown_host: without sites, the one site answers every host");
        if (edge_config_parse_site_body(c, conf, root, v[K_ORIGIN], v[K_ORIGINS], v[K_ORIGIN_GROUPS], v[K_BEHAVIORS],
                                        v[K_ERROR_PAGES]) != 0 ||
            edge_config_default_site(c, conf, root) != 0)
            return -1;
        if (v[K_HSTS] != NULL && edge_config_parse_hsts(c, v[K_HSTS], &conf->sites[0].hsts) != 0)
            return -1;
    }
    if (edge_config_parse_unknown_host(c, conf, v[K_UNKNOWN_HOST]) != 0)
        return -1;
    if (v[K_ADMIN] != NULL && edge_config_parse_admin(c, conf, v[K_ADMIN]) != 0)
        return -1;
    if (v[K_ACCESS_LOG] != NULL && edge_config_parse_access_log(c, conf, v[K_ACCESS_LOG]) != 0)
        return -1;
    if (edge_config_parse_reports(c, conf, v[K_REPORTS]) != 0 || edge_config_parse_node_id(c, conf, v[K_NODE_ID], root) != 0)
        return -1;
    if (edge_config_parse_limits(c, conf, v[K_LIMITS]) != 0)
        return -1;
    if (edge_config_parse_tls(c, conf, v[K_TLS]) != 0)
        return -1;
    /* the reports name each behavior and read its rules: a view parallel to conf->behaviors */
    conf->reports.behaviors = calloc(conf->num_behaviors != 0 ? conf->num_behaviors : 1, sizeof(*conf->reports.behaviors));
    if (conf->reports.behaviors == NULL)
        return edge_config_fail(c, root, "out of memory");
    for (size_t i = 0; i != conf->num_behaviors; ++i)
        conf->reports.behaviors[i] =
            (reports_conf_behavior_t){.path = conf->behaviors[i].label != NULL ? conf->behaviors[i].label : conf->behaviors[i].path,
                                      .site = conf->sites[conf->behaviors[i].site].name,
                                      .pattern = conf->behaviors[i].path,
                                      .key = &conf->behaviors[i].key,
                                      .ttl = &conf->behaviors[i].ttl};
    conf->reports.num_behaviors = conf->num_behaviors;
    return 0;
}

int edge_config_parse(edge_conf_t *conf, const char *name, const char *basedir, const char *text, size_t len, char *err)
{
    yaml_document_t doc;
    yaml_node_t *root;
    ctx_t c = {.name = name != NULL ? name : "<string>", .basedir = basedir, .doc = &doc, .err = err};
    int ret = -1;

    memset(conf, 0, sizeof(*conf));
    err[0] = '\0';
    if ((root = edge_config_load_document(&c, &doc, text, len, "configuration")) == NULL)
        return -1;
    if ((conf->source = strdup(c.name)) == NULL) {
        edge_config_nomem(&c, root);
        goto Exit;
    }
    ret = parse_root(&c, conf, root);

Exit:
    yaml_document_delete(&doc);
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
    if (edge_config_slurp(path, MAX_CONF_SIZE, &text, &len, msg, sizeof(msg)) != 0) {
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
        free(listens[i].tls_profile.ciphers);
        free(listens[i].tls_profile.ciphersuites);
        free(listens[i].tls_profile.groups);
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
    if (listen != NULL && edge_config_split_hostport(listen, &address, &port, msg, sizeof(msg)) != 0) {
        snprintf(err, EDGE_CONF_ERRLEN, "listen \"%s\": %s", listen, msg);
        return -1;
    }
    if (origin != NULL && edge_config_parse_url(origin, NULL, &url, &scheme, msg, sizeof(msg)) != 0) {
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
        edge_config_origin_defaults(origins);
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
        for (size_t i = 0; i != conf->num_sites; ++i) { /* every site now has that one origin */
            conf->sites[i].first_origin = 0;
            conf->sites[i].num_origins = 1;
            conf->sites[i].first_group = 0;
            conf->sites[i].num_groups = 0;
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
        free(b->label);
        free_names(b->key.query_names, b->key.num_query_names);
        free_names(b->route.forward_headers, b->route.num_forward_headers);
        free_names(b->key.key_headers, b->key.num_key_headers);
        free_names(b->compress.types, b->compress.num_types);
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
    for (size_t i = 0; i != conf->num_sites; ++i) {
        free(conf->sites[i].name);
        free(conf->sites[i].hsts);
        for (size_t j = 0; j != conf->sites[i].num_certs; ++j) {
            free(conf->sites[i].certs[j].certificate);
            free(conf->sites[i].certs[j].key);
        }
        free(conf->sites[i].certs);
        free_names(conf->sites[i].hosts, conf->sites[i].num_hosts);
    }
    free(conf->sites);
    free(conf->unknown_host.page);
    free(conf->unknown_host.body);
    free(conf->admin.address);
    free(conf->admin.token_file);
    free(conf->admin.token);
    free(conf->admin.healthz_path);
    free(conf->admin.purge_allow);
    free(conf->access_log.path);
    free(conf->access_log.format);
    free(conf->node_id);
    free(conf->tls.ticket_key_file);
    free(conf->tls.ocsp_responder);
    free(conf->tls.ocsp_cache_dir);
    memset(conf, 0, sizeof(*conf));
}
