/*
 * edge/config_sites.c: the "sites" and "unknown_host" sections of the configuration — many sites (CloudFront
 * distributions) on one edge, each chosen by the request's host — and the implicit site "default" of a file
 * without "sites".
 *
 * The rest of the server reads the flat tables of edge_conf_t (origins, groups, behaviors, error pages) as it
 * always did; a site is only a name, its hosts and its ranges of those tables. So each site is parsed on its
 * own into a scratch edge_conf_t (`view`) with the very parsers a file without "sites" uses — its names, its
 * defaults ("the only origin", "default"), its checks all scoped to the site — then appended to the flat tables,
 * its indexes shifted by what the earlier sites hold.
 *
 * The invariants that are easy to break: while a site is parsed, what it allocated hangs off `view`, and on
 * failure `view` is disposed; nothing is moved into `conf` until every allocation of the merge has succeeded,
 * so an entry is never owned twice or by nobody. A host is claimed by one site at most (compared lower-cased,
 * as requests are), or which site answers would depend on the order of the file.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "edge/config_int.h"

enum { S_NAME, S_HOSTS, S_ORIGIN, S_ORIGINS, S_ORIGIN_GROUPS, S_BEHAVIORS, S_ERROR_PAGES, S_HSTS, S_TLS };
static const char *const site_keys[] = {[S_NAME] = "name",
                                        [S_HOSTS] = "hosts",
                                        [S_ORIGIN] = "origin",
                                        [S_ORIGINS] = "origins",
                                        [S_ORIGIN_GROUPS] = "origin_groups",
                                        [S_BEHAVIORS] = "behaviors",
                                        [S_ERROR_PAGES] = "error_pages",
                                        [S_HSTS] = "hsts",
                                        [S_TLS] = "tls"};
enum { U_SITE, U_STATUS, U_PAGE };
static const char *const unknown_keys[] = {[U_SITE] = "site", [U_STATUS] = "status", [U_PAGE] = "page"};

#define MAX_HOST_LEN 253 /* a DNS name */

int edge_config_parse_site_body(ctx_t *c, edge_conf_t *conf, const yaml_node_t *where, const yaml_node_t *origin,
                                const yaml_node_t *origins, const yaml_node_t *groups, const yaml_node_t *behaviors,
                                const yaml_node_t *error_pages)
{
    /* origins, then groups, then behaviors, whatever the order in the file: each refers to the ones before by name */
    if (origin != NULL && origins != NULL)
        return edge_config_fail(c, origin, "origin: use either origin (one URL) or origins (a mapping), not both");
    if (origin != NULL && edge_config_parse_origin_shorthand(c, conf, origin) != 0)
        return -1;
    if (origins != NULL && edge_config_parse_origins(c, conf, origins) != 0)
        return -1;
    if (conf->upstream.num_origins == 0)
        return edge_config_fail(c, origins != NULL ? origins : where, "no origin configured");
    if (groups != NULL && edge_config_parse_groups(c, conf, groups) != 0)
        return -1;
    if (edge_config_parse_behaviors(c, conf, behaviors, where) != 0)
        return -1;
    if (error_pages != NULL && edge_config_parse_error_pages(c, conf, error_pages) != 0)
        return -1;
    return 0;
}

int edge_config_default_site(ctx_t *c, edge_conf_t *conf, const yaml_node_t *root)
{
    if ((conf->sites = calloc(1, sizeof(*conf->sites))) == NULL)
        return edge_config_nomem(c, root);
    conf->num_sites = 1;
    edge_conf_site_t *s = &conf->sites[0];
    if ((s->name = strdup("default")) == NULL)
        return edge_config_nomem(c, root);
    s->any_host = true;
    s->num_behaviors = conf->num_behaviors;
    s->num_error_pages = conf->num_error_pages;
    s->num_origins = conf->upstream.num_origins;
    s->num_groups = conf->upstream.num_groups;
    return 0; /* (every behavior's `site` is 0 already: calloc'd) */
}

/* --- names and hosts --------------------------------------------------------------------------------------- */

static bool valid_name(const char *s)
{
    return s[0] != '\0' && s[strspn(s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")] == '\0';
}

/* A DNS name as requests are matched against: labels of [a-z0-9_-], no empty label. (Lower-cased already.) */
static bool valid_dns_name(const char *s)
{
    size_t label = 0;
    if (*s == '\0' || strlen(s) > MAX_HOST_LEN)
        return false;
    for (; *s != '\0'; ++s) {
        if (*s == '.') {
            if (label == 0)
                return false;
            label = 0;
        } else if ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '-' || *s == '_') {
            ++label;
        } else {
            return false;
        }
    }
    return label != 0;
}

/* A host pattern, lower-cased (and its trailing dot removed) in place: "shop.example.com", "*.example.com", or
 * an address ("192.0.2.1", "[2001:db8::1]"). No port: a site answers on every listener. */
static bool valid_host(char *h)
{
    size_t len = strlen(h);
    for (char *p = h; *p != '\0'; ++p)
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    if (len > 1 && h[len - 1] == '.' && h[0] != '[')
        h[--len] = '\0';
    if (h[0] == '[')
        return len > 2 && h[len - 1] == ']' && strspn(h + 1, "0123456789abcdef:.") == len - 2;
    if (h[0] == '*')
        return h[1] == '.' && valid_dns_name(h + 2);
    return valid_dns_name(h);
}

/* Where each host of the sites parsed so far was written, for the message that names both claims. */
typedef struct st_claim_t {
    const char *host;
    size_t site, line, col;
} claim_t;

static int parse_hosts(ctx_t *c, edge_conf_t *conf, edge_conf_site_t *site, size_t index, const yaml_node_t *n, claim_t **claims,
                       size_t *num_claims)
{
    size_t count;

    if (n->type != YAML_SEQUENCE_NODE && n->type != YAML_SCALAR_NODE)
        return edge_config_fail(c, n, "hosts: expected a list of host names, found %s", edge_config_kind(n));
    if ((count = n->type == YAML_SEQUENCE_NODE ? edge_config_num_items(n) : 1) == 0)
        return edge_config_fail(c, n, "hosts: site \"%s\" needs at least one host", site->name);
    if ((site->hosts = calloc(count, sizeof(*site->hosts))) == NULL)
        return edge_config_nomem(c, n);
    claim_t *grown = realloc(*claims, (*num_claims + count) * sizeof(**claims));
    if (grown == NULL)
        return edge_config_nomem(c, n);
    *claims = grown;
    for (size_t i = 0; i != count; ++i) {
        const yaml_node_t *e = n->type == YAML_SEQUENCE_NODE ? edge_config_item(c, n, i) : n;
        char *h;
        if (edge_config_dupstr(c, e, "hosts", &site->hosts[site->num_hosts]) != 0)
            return -1;
        h = site->hosts[site->num_hosts++];
        if (!valid_host(h))
            return edge_config_fail(c, e,
                                    "hosts: \"%s\" is not a host name (a DNS name such as shop.example.com, a wildcard "
                                    "*.example.com, or an address; no port, no scheme)",
                                    (const char *)e->data.scalar.value);
        for (size_t j = 0; j != *num_claims; ++j) {
            const claim_t *o = &(*claims)[j];
            if (strcmp(o->host, h) == 0)
                return edge_config_fail(c, e, "hosts: \"%s\" is claimed by site \"%s\" (line %zu:%zu) and by site \"%s\"", h,
                                        o->site == index ? site->name : conf->sites[o->site].name, o->line, o->col, site->name);
        }
        (*claims)[(*num_claims)++] =
            (claim_t){.host = h, .site = index, .line = e->start_mark.line + 1, .col = e->start_mark.column + 1};
    }
    return 0;
}

/* --- one site --------------------------------------------------------------------------------------------- */

static int grow(void **arr, size_t num, size_t add, size_t size)
{
    void *p = realloc(*arr, (num + add != 0 ? num + add : 1) * size);
    if (p == NULL)
        return -1;
    *arr = p;
    return 0;
}

/* Appends the site parsed into `view` to the flat tables of `conf`. Whatever can fail is done first, while `view`
 * still owns everything; then the entries move, and `view` keeps only its emptied arrays. */
static int merge(ctx_t *c, edge_conf_t *conf, edge_conf_t *view, edge_conf_site_t *site, size_t index, const yaml_node_t *n)
{
    for (size_t i = 0; i != view->upstream.num_origins; ++i) {
        origin_conf_t *o = &view->upstream.origins[i];
        char *scoped;
        if (asprintf(&scoped, "%s/%s", site->name, o->name) < 0)
            return edge_config_nomem(c, n);
        free(o->name);
        o->name = scoped;
    }
    for (size_t i = 0; i != view->upstream.num_groups; ++i) {
        origin_conf_group_t *g = &view->upstream.groups[i];
        char *scoped;
        if (asprintf(&scoped, "%s/%s", site->name, g->name) < 0)
            return edge_config_nomem(c, n);
        free(g->name);
        g->name = scoped;
    }
    for (size_t i = 0; i != view->num_behaviors; ++i)
        if (asprintf(&view->behaviors[i].label, "%s:%s", site->name, view->behaviors[i].path) < 0)
            return edge_config_nomem(c, n);
    if (grow((void **)&conf->upstream.origins, conf->upstream.num_origins, view->upstream.num_origins,
             sizeof(*conf->upstream.origins)) != 0 ||
        grow((void **)&conf->upstream.groups, conf->upstream.num_groups, view->upstream.num_groups,
             sizeof(*conf->upstream.groups)) != 0 ||
        grow((void **)&conf->behaviors, conf->num_behaviors, view->num_behaviors, sizeof(*conf->behaviors)) != 0 ||
        grow((void **)&conf->error_pages, conf->num_error_pages, view->num_error_pages, sizeof(*conf->error_pages)) != 0)
        return edge_config_nomem(c, n);

    site->first_origin = conf->upstream.num_origins;
    site->num_origins = view->upstream.num_origins;
    site->first_group = conf->upstream.num_groups;
    site->num_groups = view->upstream.num_groups;
    site->first_behavior = conf->num_behaviors;
    site->num_behaviors = view->num_behaviors;
    site->first_error_page = conf->num_error_pages;
    site->num_error_pages = view->num_error_pages;
    for (size_t i = 0; i != view->upstream.num_groups; ++i) {
        view->upstream.groups[i].primary += site->first_origin;
        view->upstream.groups[i].secondary += site->first_origin;
    }
    for (size_t i = 0; i != view->num_behaviors; ++i) {
        edge_conf_behavior_t *b = &view->behaviors[i];
        b->route.origin_index += site->first_origin;
        if (b->route.group_index != SIZE_MAX)
            b->route.group_index += site->first_group;
        b->site = index;
    }
    memcpy(conf->upstream.origins + conf->upstream.num_origins, view->upstream.origins,
           view->upstream.num_origins * sizeof(*view->upstream.origins));
    conf->upstream.num_origins += view->upstream.num_origins;
    view->upstream.num_origins = 0;
    if (view->upstream.num_groups != 0)
        memcpy(conf->upstream.groups + conf->upstream.num_groups, view->upstream.groups,
               view->upstream.num_groups * sizeof(*view->upstream.groups));
    conf->upstream.num_groups += view->upstream.num_groups;
    view->upstream.num_groups = 0;
    memcpy(conf->behaviors + conf->num_behaviors, view->behaviors, view->num_behaviors * sizeof(*view->behaviors));
    conf->num_behaviors += view->num_behaviors;
    view->num_behaviors = 0;
    if (view->num_error_pages != 0)
        memcpy(conf->error_pages + conf->num_error_pages, view->error_pages, view->num_error_pages * sizeof(*view->error_pages));
    conf->num_error_pages += view->num_error_pages;
    view->num_error_pages = 0;
    return 0;
}

static int parse_site(ctx_t *c, edge_conf_t *conf, size_t index, const yaml_node_t *n, claim_t **claims, size_t *num_claims)
{
    yaml_node_t *v[NKEYS(site_keys)];
    edge_conf_site_t *site = &conf->sites[index];
    edge_conf_t view;
    int ret;

    if (edge_config_collect(c, n, "site", site_keys, NKEYS(site_keys), v) != 0)
        return -1;
    if (v[S_NAME] == NULL)
        return edge_config_missing(c, n, "site", "name");
    if (edge_config_dupstr(c, v[S_NAME], "name", &site->name) != 0)
        return -1;
    if (!valid_name(site->name))
        return edge_config_fail(c, v[S_NAME], "name: \"%s\" is not a site name (letters, digits, '_', '.', '-')", site->name);
    for (size_t j = 0; j != index; ++j)
        if (strcmp(conf->sites[j].name, site->name) == 0)
            return edge_config_fail(c, v[S_NAME], "duplicate site \"%s\"", site->name);
    if (v[S_HOSTS] == NULL) {
        char what[EDGE_CONF_ERRLEN];
        snprintf(what, sizeof(what), "site \"%s\"", site->name);
        return edge_config_missing(c, n, what, "hosts");
    }
    if (parse_hosts(c, conf, site, index, v[S_HOSTS], claims, num_claims) != 0)
        return -1;
    if (v[S_HSTS] != NULL && edge_config_parse_hsts(c, v[S_HSTS], &site->hsts) != 0)
        return -1;
    if (v[S_TLS] != NULL && edge_config_parse_site_tls(c, site, v[S_TLS]) != 0)
        return -1;

    /* each site claims its own error page statuses */
    memset(c->status_line, 0, sizeof(c->status_line));
    memset(c->failure_line, 0, sizeof(c->failure_line));
    memset(&view, 0, sizeof(view));
    ret = edge_config_parse_site_body(c, &view, n, v[S_ORIGIN], v[S_ORIGINS], v[S_ORIGIN_GROUPS], v[S_BEHAVIORS], v[S_ERROR_PAGES]);
    if (ret == 0)
        ret = merge(c, conf, &view, site, index, n);
    edge_config_dispose(&view); /* (after a merge: only its emptied arrays) */
    return ret;
}

int edge_config_parse_sites(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    claim_t *claims = NULL;
    size_t count, num_claims = 0;
    int ret = 0;

    if (n->type != YAML_SEQUENCE_NODE)
        return edge_config_fail(c, n, "sites: expected a list of sites, found %s", edge_config_kind(n));
    if ((count = edge_config_num_items(n)) == 0)
        return edge_config_fail(c, n, "sites: at least one site is needed (or leave sites out: one site for every host)");
    if ((conf->sites = calloc(count, sizeof(*conf->sites))) == NULL)
        return edge_config_nomem(c, n);
    for (size_t i = 0; i != count && ret == 0; ++i) {
        conf->num_sites = i + 1;
        ret = parse_site(c, conf, i, edge_config_item(c, n, i), &claims, &num_claims);
    }
    free(claims);
    return ret;
}

/* --- hsts ------------------------------------------------------------------------------------------------ */

enum { H_MAX_AGE, H_INCLUDE_SUBDOMAINS, H_PRELOAD };
static const char *const hsts_keys[] = {
    [H_MAX_AGE] = "max_age", [H_INCLUDE_SUBDOMAINS] = "include_subdomains", [H_PRELOAD] = "preload"};

#define YEAR_S (365 * 86400)
#define HSTS_PRELOAD_MIN_S YEAR_S /* hstspreload.org refuses a shorter max-age */

int edge_config_parse_hsts(ctx_t *c, const yaml_node_t *n, char **out)
{
    yaml_node_t *v[NKEYS(hsts_keys)];
    uint64_t max_age = YEAR_S;
    bool subdomains = false, preload = false;

    if (edge_config_collect(c, n, "hsts", hsts_keys, NKEYS(hsts_keys), v) != 0)
        return -1;
    if (v[H_MAX_AGE] != NULL) {
        /* the durations of the file, and whole years ("1y", "2y"): HSTS ages are counted in years */
        const char *s;
        if (edge_config_str(c, v[H_MAX_AGE], "max_age", &s) != 0)
            return -1;
        size_t len = strlen(s);
        if (len >= 2 && len <= 3 && s[len - 1] == 'y' && s[0] >= '1' && s[0] <= '9' && (len == 2 || (s[1] >= '0' && s[1] <= '9')))
            max_age = (uint64_t)strtoul(s, NULL, 10) * YEAR_S;
        else if (edge_config_ttl(c, v[H_MAX_AGE], "max_age", &max_age) != 0)
            return -1;
    }
    if (v[H_INCLUDE_SUBDOMAINS] != NULL && edge_config_boolean(c, v[H_INCLUDE_SUBDOMAINS], "include_subdomains", &subdomains) != 0)
        return -1;
    if (v[H_PRELOAD] != NULL && edge_config_boolean(c, v[H_PRELOAD], "preload", &preload) != 0)
        return -1;
    /* a preload list entry cannot be taken back quickly: refuse what the list would refuse anyway */
    if (preload && (!subdomains || max_age < HSTS_PRELOAD_MIN_S))
        return edge_config_fail(c, v[H_PRELOAD], "preload: needs include_subdomains: true and a max_age of at least 1y");
    if (asprintf(out, "max-age=%" PRIu64 "%s%s", max_age, subdomains ? "; includeSubDomains" : "", preload ? "; preload" : "") <
        0) {
        *out = NULL;
        return edge_config_nomem(c, n);
    }
    return 0;
}

int edge_config_parse_unknown_host(ctx_t *c, edge_conf_t *conf, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(unknown_keys)];
    uint64_t status;

    conf->unknown_host.site = SIZE_MAX;
    conf->unknown_host.status = 421;
    if (n == NULL)
        return 0;
    if (edge_config_collect(c, n, "unknown_host", unknown_keys, NKEYS(unknown_keys), v) != 0)
        return -1;
    if (v[U_SITE] != NULL && (v[U_STATUS] != NULL || v[U_PAGE] != NULL))
        return edge_config_fail(c, v[U_SITE], "unknown_host: either site (serve it as that site) or status and page, not both");
    if (v[U_SITE] != NULL) {
        const char *name;
        if (edge_config_str(c, v[U_SITE], "site", &name) != 0)
            return -1;
        for (size_t i = 0; i != conf->num_sites; ++i)
            if (strcmp(conf->sites[i].name, name) == 0)
                conf->unknown_host.site = i;
        if (conf->unknown_host.site == SIZE_MAX)
            return edge_config_fail(c, v[U_SITE], "site: unknown site \"%s\"", name);
        return 0;
    }
    if (v[U_STATUS] != NULL) {
        if (edge_config_integer(c, v[U_STATUS], "status", 100, 599, &status) != 0)
            return -1;
        if (status != 421 && status != 404)
            return edge_config_fail(c, v[U_STATUS], "status: expected 421 (Misdirected Request) or 404, found %" PRIu64, status);
        conf->unknown_host.status = (int)status;
    }
    if (v[U_PAGE] != NULL &&
        (edge_config_dupstr(c, v[U_PAGE], "page", &conf->unknown_host.page) != 0 ||
         edge_config_load_page(c, conf->unknown_host.page, &conf->unknown_host.body, &conf->unknown_host.body_len, v[U_PAGE]) != 0))
        return -1;
    return 0;
}
