/*
 * edge/fleet.c: the fleet file's loader. It reads fleet.yaml with the configuration loader's YAML helpers
 * (edge/config_int.h), so that every refusal reads "file:line:col: message" at the node at fault, exactly as
 * `edgecache check` reports an edge's own configuration.
 *
 * Sections are interpreted in a fixed order, not the order they are written: the regions (their names, then
 * their fallbacks, which name each other), then the edges (which name a region), then dns (whose
 * default_region names one), then the one check that needs everything, that each region leads to an edge
 * DNS may answer with.
 *
 * The invariant that is easy to break: every allocation hangs off the fleet the moment it is made (arrays are
 * calloc'd at their final size and counted at once), so that on any error one edge_fleet_free() frees
 * exactly what was built; never hold an allocation only in a local across a call that can fail.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "common/cidr.h"
#include "edge/config_int.h"
#include "edge/fleet.h"

_Static_assert(EDGE_FLEET_ERRLEN == EDGE_CONF_ERRLEN, "the YAML helpers write EDGE_CONF_ERRLEN bytes into the error");

#define MAX_FLEET_SIZE (4 * 1024 * 1024)
#define MAX_TOKEN_SIZE 4096
#define DEFAULT_TTL_S 20
#define DEFAULT_HEALTH_INTERVAL_S 2

/* --- names and scalars -------------------------------------------------------------------------------------- */

/* Edge and region names end up in file names, Prometheus labels and report columns: keep them to characters
 * that need no quoting anywhere. */
static int parse_name(ctx_t *c, const yaml_node_t *n, const char *what, char **out)
{
    if (edge_config_dupstr(c, n, what, out) != 0)
        return -1;
    for (const char *p = *out; *p != '\0'; ++p)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_' && *p != '.')
            return edge_config_fail(c, n, "%s: \"%s\" may only hold letters, digits, '-', '_' and '.'", what, *out);
    return 0;
}

/* A list of scalars, or one scalar for a list of one: "addresses: 10.0.0.1" reads as the operator meant. */
static size_t list_len(const yaml_node_t *n)
{
    return n->type == YAML_SEQUENCE_NODE ? edge_config_num_items(n) : 1;
}

static yaml_node_t *list_item(ctx_t *c, const yaml_node_t *n, size_t i)
{
    return n->type == YAML_SEQUENCE_NODE ? edge_config_item(c, n, i) : (yaml_node_t *)n;
}

static int expect_list(ctx_t *c, const yaml_node_t *n, const char *what, bool allow_scalar)
{
    if (n->type == YAML_SEQUENCE_NODE ? edge_config_num_items(n) == 0
                                      : !allow_scalar || n->type != YAML_SCALAR_NODE || edge_config_is_null(n))
        return edge_config_fail(c, n, "%s: expected a non-empty list, found %s", what,
                                n->type == YAML_SEQUENCE_NODE ? "an empty list" : edge_config_kind(n));
    return 0;
}

/* The items of a top-level list (`what`, "of `of`" in the message): a non-empty sequence, and a zeroed array of
 * `size`-byte entries for them in *out. Returns their count, or 0 after reporting (a list is never empty). */
static size_t alloc_items(ctx_t *c, const yaml_node_t *n, const char *what, const char *of, size_t size, void **out)
{
    if (n->type != YAML_SEQUENCE_NODE || edge_config_num_items(n) == 0) {
        edge_config_fail(c, n, "%s: expected a non-empty list of %s, found %s", what, of,
                         n->type == YAML_SEQUENCE_NODE ? "an empty list" : edge_config_kind(n));
        return 0;
    }
    if ((*out = calloc(edge_config_num_items(n), size)) == NULL) {
        edge_config_nomem(c, n);
        return 0;
    }
    return edge_config_num_items(n);
}

/* A DNS name: labels of letters, digits, '-' and '_' (1..63 each, 253 in all), lower-cased, without the trailing
 * dot a zone file would add. `relative` also allows "@" (the apex) and a leading "*" label. */
static int parse_dns_name(ctx_t *c, const yaml_node_t *n, const char *what, bool relative, char **out)
{
    size_t len, label = 0;

    if (edge_config_dupstr(c, n, what, out) != 0)
        return -1;
    len = strlen(*out);
    if (len > 1 && (*out)[len - 1] == '.') {
        if (relative)
            return edge_config_fail(c, n, "%s: \"%s\" is relative to the zone: write it without the trailing dot", what, *out);
        (*out)[--len] = '\0';
    }
    if (relative && strcmp(*out, "@") == 0)
        return 0;
    if (len > 253)
        return edge_config_fail(c, n, "%s: \"%s\" is longer than 253 characters", what, *out);
    for (char *p = *out;; ++p) {
        if (*p == '.' || *p == '\0') {
            if (label == 0 || label > 63)
                return edge_config_fail(c, n, "%s: \"%s\" is not a DNS name (a label is empty or longer than 63)", what, *out);
            if (*p == '\0')
                break;
            label = 0;
            continue;
        }
        ++label;
        *p = (char)tolower((unsigned char)*p);
        if (*p == '*' && relative && p == *out && (p[1] == '.' || p[1] == '\0'))
            continue;
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_')
            return edge_config_fail(c, n, "%s: \"%s\" is not a DNS name (letters, digits, '-' and '_' between dots)", what, *out);
    }
    return 0;
}

/* Numeric addresses only: DNS answers with them, and a name would need a resolver that may be what failed. */
static int parse_addresses(ctx_t *c, const yaml_node_t *n, const char *what, char ***out, size_t *num)
{
    if (expect_list(c, n, what, true) != 0)
        return -1;
    if ((*out = calloc(list_len(n), sizeof(**out))) == NULL)
        return edge_config_nomem(c, n);
    for (size_t i = 0; i != list_len(n); ++i) {
        yaml_node_t *item = list_item(c, n, i);
        if (edge_config_dupstr(c, item, what, &(*out)[i]) != 0)
            return -1;
        *num = i + 1;
        if (!edge_config_numeric_address((*out)[i]))
            return edge_config_fail(c, item, "%s: \"%s\" is not a numeric IPv4 or IPv6 address", what, (*out)[i]);
    }
    return 0;
}

/* A network with its host bits cleared: "10.1.0.5/24" is refused rather than read as 10.1.0.0/24, since it is
 * more often a typo in the prefix than a way to write the network. */
static int parse_network(ctx_t *c, const yaml_node_t *n, edge_fleet_network_t *net)
{
    char text[INET6_ADDRSTRLEN + 8], addr[INET6_ADDRSTRLEN];
    common_cidr_t cidr;
    const char *s;
    int r;

    if (edge_config_str(c, n, "network", &s) != 0)
        return -1;
    if ((r = common_cidr_parse(&cidr, s)) != 0)
        return edge_config_fail(c, n, "network \"%s\": %s", s, common_cidr_strerror(r));
    net->family = cidr.family;
    net->prefix = cidr.prefix_len;
    memcpy(net->addr, cidr.addr, sizeof(net->addr));
    for (unsigned bit = cidr.prefix_len; bit != (cidr.family == AF_INET ? 32u : 128u); ++bit)
        net->addr[bit / 8] &= (uint8_t) ~(0x80u >> (bit % 8));
    inet_ntop(net->family, net->addr, addr, sizeof(addr));
    if (memcmp(net->addr, cidr.addr, sizeof(net->addr)) != 0)
        return edge_config_fail(c, n, "network \"%s\": host bits are set (the network is %s/%u)", s, addr, net->prefix);
    snprintf(text, sizeof(text), "%s/%u", addr, net->prefix);
    if ((net->text = strdup(text)) == NULL)
        return edge_config_nomem(c, n);
    return 0;
}

/* Codes that MaxMind databases use: ISO 3166-1 alpha-2 for countries, two letters for continents. */
static int parse_codes(ctx_t *c, const yaml_node_t *n, const char *what, const char *const *allowed, char ***out, size_t *num)
{
    if (expect_list(c, n, what, true) != 0)
        return -1;
    if ((*out = calloc(list_len(n), sizeof(**out))) == NULL)
        return edge_config_nomem(c, n);
    for (size_t i = 0; i != list_len(n); ++i) {
        yaml_node_t *item = list_item(c, n, i);
        char *s;
        if (edge_config_dupstr(c, item, what, &(*out)[i]) != 0)
            return -1;
        *num = i + 1;
        s = (*out)[i];
        for (char *p = s; *p != '\0'; ++p)
            *p = (char)toupper((unsigned char)*p);
        if (strlen(s) != 2 || !isalpha((unsigned char)s[0]) || !isalpha((unsigned char)s[1]))
            return edge_config_fail(c, item, "%s: \"%s\" is not a two-letter code", what, s);
        if (allowed != NULL) {
            size_t k;
            for (k = 0; allowed[k] != NULL && strcmp(allowed[k], s) != 0; ++k)
                ;
            if (allowed[k] == NULL)
                return edge_config_fail(c, item, "%s: unknown continent \"%s\" (AF, AN, AS, EU, NA, OC, SA)", what, s);
        }
    }
    return 0;
}

static bool find_region(const edge_fleet_t *f, const char *name, size_t *index)
{
    for (size_t i = 0; i != f->num_regions; ++i) {
        if (f->regions[i].name != NULL && strcmp(f->regions[i].name, name) == 0) {
            *index = i;
            return true;
        }
    }
    return false;
}

/* The region named by scalar `n`, or a message that lists the ones there are. */
static int region_ref(ctx_t *c, const edge_fleet_t *f, const yaml_node_t *n, const char *what, size_t *index)
{
    char names[256] = "";
    const char *s;

    if (edge_config_str(c, n, what, &s) != 0)
        return -1;
    if (find_region(f, s, index))
        return 0;
    for (size_t i = 0; i != f->num_regions; ++i) {
        size_t used = strlen(names);
        snprintf(names + used, sizeof(names) - used, "%s%s", i == 0 ? "" : ", ", f->regions[i].name);
    }
    return edge_config_fail(c, n, "%s: unknown region \"%s\" (regions: %s)", what, s, names);
}

/* --- regions ------------------------------------------------------------------------------------------------ */

enum { R_NAME, R_NETWORKS, R_FALLBACK, R_COUNTRIES, R_CONTINENTS };
static const char *const region_keys[] = {[R_NAME] = "name",
                                          [R_NETWORKS] = "networks",
                                          [R_FALLBACK] = "fallback",
                                          [R_COUNTRIES] = "countries",
                                          [R_CONTINENTS] = "continents"};

/* Two passes: the names first, since a fallback may name a region written after its own. */
static int parse_regions(ctx_t *c, edge_fleet_t *f, const yaml_node_t *n)
{
    static const char *const continents[] = {"AF", "AN", "AS", "EU", "NA", "OC", "SA", NULL};
    size_t count;

    if ((count = alloc_items(c, n, "regions", "regions", sizeof(*f->regions), (void **)&f->regions)) == 0)
        return -1;
    f->num_regions = count;
    for (size_t i = 0; i != count; ++i) {
        yaml_node_t *item = edge_config_item(c, n, i), *v[NKEYS(region_keys)];
        if (edge_config_collect(c, item, "region", region_keys, NKEYS(region_keys), v) != 0)
            return -1;
        if (v[R_NAME] == NULL)
            return edge_config_missing(c, item, "region", "name");
        if (parse_name(c, v[R_NAME], "region name", &f->regions[i].name) != 0)
            return -1;
        for (size_t j = 0; j != i; ++j)
            if (strcmp(f->regions[j].name, f->regions[i].name) == 0)
                return edge_config_fail(c, v[R_NAME], "region \"%s\" is defined twice", f->regions[i].name);
    }
    for (size_t i = 0; i != count; ++i) {
        edge_fleet_region_t *r = &f->regions[i];
        yaml_node_t *item = edge_config_item(c, n, i), *v[NKEYS(region_keys)];
        edge_config_collect(c, item, "region", region_keys, NKEYS(region_keys), v); /* (checked above) */
        if (v[R_NETWORKS] != NULL) {
            if (expect_list(c, v[R_NETWORKS], "networks", true) != 0)
                return -1;
            if ((r->networks = calloc(list_len(v[R_NETWORKS]), sizeof(*r->networks))) == NULL)
                return edge_config_nomem(c, v[R_NETWORKS]);
            for (size_t j = 0; j != list_len(v[R_NETWORKS]); ++j) {
                yaml_node_t *net = list_item(c, v[R_NETWORKS], j);
                r->num_networks = j + 1;
                if (parse_network(c, net, &r->networks[j]) != 0)
                    return -1;
                /* the same network in two regions: which one answers would depend on the zone's order */
                for (size_t k = 0; k <= i; ++k)
                    for (size_t m = 0; m != f->regions[k].num_networks && !(k == i && m == j); ++m)
                        if (strcmp(f->regions[k].networks[m].text, r->networks[j].text) == 0)
                            return edge_config_fail(c, net, "network %s is already in region \"%s\"", r->networks[j].text,
                                                    f->regions[k].name);
            }
        }
        if (v[R_FALLBACK] != NULL) {
            if (expect_list(c, v[R_FALLBACK], "fallback", true) != 0)
                return -1;
            if ((r->fallback = calloc(list_len(v[R_FALLBACK]), sizeof(*r->fallback))) == NULL)
                return edge_config_nomem(c, v[R_FALLBACK]);
            for (size_t j = 0; j != list_len(v[R_FALLBACK]); ++j) {
                yaml_node_t *ref = list_item(c, v[R_FALLBACK], j);
                if (region_ref(c, f, ref, "fallback", &r->fallback[j]) != 0)
                    return -1;
                if (r->fallback[j] == i)
                    return edge_config_fail(c, ref, "fallback: region \"%s\" cannot fall back to itself", r->name);
                for (size_t k = 0; k != j; ++k)
                    if (r->fallback[k] == r->fallback[j])
                        return edge_config_fail(c, ref, "fallback: region \"%s\" is listed twice", f->regions[r->fallback[j]].name);
                r->num_fallback = j + 1;
            }
        }
        if (v[R_COUNTRIES] != NULL && parse_codes(c, v[R_COUNTRIES], "countries", NULL, &r->countries, &r->num_countries) != 0)
            return -1;
        if (v[R_CONTINENTS] != NULL &&
            parse_codes(c, v[R_CONTINENTS], "continents", continents, &r->continents, &r->num_continents) != 0)
            return -1;
    }
    return 0;
}

/* --- edges -------------------------------------------------------------------------------------------------- */

enum { E_NAME, E_REGION, E_TIER, E_ADDRESSES, E_ADMIN, E_TOKEN_FILE, E_HEALTHZ };
static const char *const edge_keys[] = {
    [E_NAME] = "name",   [E_REGION] = "region",         [E_TIER] = "tier",      [E_ADDRESSES] = "addresses",
    [E_ADMIN] = "admin", [E_TOKEN_FILE] = "token_file", [E_HEALTHZ] = "healthz"};

static int parse_edge(ctx_t *c, edge_fleet_t *f, size_t index, const yaml_node_t *item)
{
    edge_fleet_edge_t *e = &f->edges[index];
    yaml_node_t *v[NKEYS(edge_keys)];
    char msg[MSGLEN], *host = NULL;
    const char *s;
    uint16_t port;

    if (edge_config_collect(c, item, "edge", edge_keys, NKEYS(edge_keys), v) != 0)
        return -1;
    for (size_t k = 0; k != NKEYS(edge_keys); ++k) {
        if (v[k] == NULL && (k == E_NAME || k == E_REGION || k == E_ADDRESSES || k == E_ADMIN))
            return edge_config_missing(c, item, "edge", edge_keys[k]);
    }
    if (parse_name(c, v[E_NAME], "edge name", &e->name) != 0)
        return -1;
    for (size_t i = 0; i != index; ++i)
        if (strcmp(f->edges[i].name, e->name) == 0)
            return edge_config_fail(c, v[E_NAME], "edge \"%s\" is defined twice", e->name);
    if (region_ref(c, f, v[E_REGION], "region", &e->region) != 0)
        return -1;
    e->tier = EDGE_FLEET_TIER_EDGE;
    if (v[E_TIER] != NULL) {
        if (edge_config_str(c, v[E_TIER], "tier", &s) != 0)
            return -1;
        if (strcmp(s, "edge") == 0)
            e->tier = EDGE_FLEET_TIER_EDGE;
        else if (strcmp(s, "parent") == 0)
            e->tier = EDGE_FLEET_TIER_PARENT;
        else
            return edge_config_fail(c, v[E_TIER], "tier: expected edge or parent, found \"%s\"", s);
    }
    if (parse_addresses(c, v[E_ADDRESSES], "addresses", &e->addresses, &e->num_addresses) != 0)
        return -1;
    /* one address on two edges: DNS would answer it twice, and one edge's health would decide for both */
    for (size_t a = 0; a != e->num_addresses; ++a) {
        for (size_t i = 0; i <= index; ++i)
            for (size_t b = 0; b != f->edges[i].num_addresses && !(i == index && b == a); ++b)
                if (strcmp(f->edges[i].addresses[b], e->addresses[a]) == 0)
                    return edge_config_fail(c, list_item(c, v[E_ADDRESSES], a),
                                            "addresses: %s is already an address of edge \"%s\"", e->addresses[a],
                                            f->edges[i].name);
    }
    if (edge_config_dupstr(c, v[E_ADMIN], "admin", &e->admin) != 0)
        return -1;
    if (edge_config_split_hostport(e->admin, &host, &port, msg, sizeof(msg)) != 0)
        return edge_config_fail(c, v[E_ADMIN], "admin \"%s\": %s", e->admin, msg);
    free(host);
    if (v[E_TOKEN_FILE] != NULL) {
        if (edge_config_str(c, v[E_TOKEN_FILE], "token_file", &s) != 0)
            return -1;
        if (s[0] == '\0')
            return edge_config_fail(c, v[E_TOKEN_FILE], "token_file: must not be empty");
        if ((e->token_file = edge_config_resolve(c->basedir, s)) == NULL)
            return edge_config_nomem(c, v[E_TOKEN_FILE]);
    }
    if (v[E_HEALTHZ] != NULL) {
        if (edge_config_dupstr(c, v[E_HEALTHZ], "healthz", &e->healthz) != 0)
            return -1;
        if ((strncmp(e->healthz, "http://", 7) != 0 && strncmp(e->healthz, "https://", 8) != 0) ||
            strpbrk(e->healthz, " \t\r\n'\"\\") != NULL || strchr(strstr(e->healthz, "//") + 2, '/') == NULL)
            return edge_config_fail(c, v[E_HEALTHZ], "healthz: \"%s\" is not an http:// or https:// URL with a path", e->healthz);
    } else {
        const char *a = e->addresses[0];
        if (asprintf(&e->healthz, strchr(a, ':') != NULL ? "http://[%s]%s" : "http://%s%s", a, EDGE_FLEET_HEALTHZ_PATH) < 0) {
            e->healthz = NULL;
            return edge_config_nomem(c, item);
        }
    }
    return 0;
}

static int parse_edges(ctx_t *c, edge_fleet_t *f, const yaml_node_t *n)
{
    size_t count;

    if ((count = alloc_items(c, n, "edges", "edges", sizeof(*f->edges), (void **)&f->edges)) == 0)
        return -1;
    f->num_edges = count;
    for (size_t i = 0; i != count; ++i)
        if (parse_edge(c, f, i, edge_config_item(c, n, i)) != 0)
            return -1;
    return 0;
}

/* --- dns ---------------------------------------------------------------------------------------------------- */

enum { D_ZONE, D_NAMES, D_TTL, D_HEALTH_INTERVAL, D_DEFAULT_REGION, D_NAMESERVERS, D_GEOIP_DATABASE };
static const char *const dns_keys[] = {[D_ZONE] = "zone",
                                       [D_NAMES] = "names",
                                       [D_TTL] = "ttl",
                                       [D_HEALTH_INTERVAL] = "health_interval",
                                       [D_DEFAULT_REGION] = "default_region",
                                       [D_NAMESERVERS] = "nameservers",
                                       [D_GEOIP_DATABASE] = "geoip_database"};
enum { N_NAME, N_ADDRESSES };
static const char *const ns_keys[] = {[N_NAME] = "name", [N_ADDRESSES] = "addresses"};

/* The part of `fqdn` below the zone ("ns1" for ns1.cdn.example.net), "@" for the zone itself, NULL outside it. */
static const char *in_zone(const char *fqdn, const char *zone)
{
    size_t len = strlen(fqdn), zlen = strlen(zone);

    if (strcmp(fqdn, zone) == 0)
        return "@";
    if (len > zlen + 1 && fqdn[len - zlen - 1] == '.' && strcmp(fqdn + len - zlen, zone) == 0)
        return fqdn;
    return NULL;
}

static int parse_nameservers(ctx_t *c, edge_fleet_t *f, const yaml_node_t *n)
{
    if (alloc_items(c, n, "nameservers", "{name, addresses}", sizeof(*f->dns.nameservers), (void **)&f->dns.nameservers) == 0)
        return -1;
    for (size_t i = 0; i != edge_config_num_items(n); ++i) {
        edge_fleet_ns_t *ns = &f->dns.nameservers[i];
        yaml_node_t *item = edge_config_item(c, n, i), *v[NKEYS(ns_keys)];
        f->dns.num_nameservers = i + 1;
        if (edge_config_collect(c, item, "nameserver", ns_keys, NKEYS(ns_keys), v) != 0)
            return -1;
        if (v[N_NAME] == NULL)
            return edge_config_missing(c, item, "nameserver", "name");
        if (parse_dns_name(c, v[N_NAME], "nameserver name", false, &ns->name) != 0)
            return -1;
        for (size_t j = 0; j != i; ++j)
            if (strcmp(f->dns.nameservers[j].name, ns->name) == 0)
                return edge_config_fail(c, v[N_NAME], "nameserver %s is listed twice", ns->name);
        if (v[N_ADDRESSES] != NULL) {
            if (parse_addresses(c, v[N_ADDRESSES], "addresses", &ns->addresses, &ns->num_addresses) != 0)
                return -1;
        } else if (in_zone(ns->name, f->dns.zone) != NULL) {
            /* a resolver cannot find a nameserver inside the zone without its glue */
            return edge_config_fail(c, item, "nameserver %s is inside the zone %s: it needs its addresses (glue)", ns->name,
                                    f->dns.zone);
        }
    }
    return 0;
}

static int parse_dns(ctx_t *c, edge_fleet_t *f, const yaml_node_t *n)
{
    yaml_node_t *v[NKEYS(dns_keys)];
    const char *s;

    if (edge_config_collect(c, n, "dns", dns_keys, NKEYS(dns_keys), v) != 0)
        return -1;
    if (v[D_ZONE] == NULL)
        return edge_config_missing(c, n, "dns", "zone");
    if (v[D_NAMESERVERS] == NULL)
        return edge_config_missing(c, n, "dns", "nameservers");
    if (parse_dns_name(c, v[D_ZONE], "zone", false, &f->dns.zone) != 0)
        return -1;
    if (v[D_NAMES] != NULL) {
        if (expect_list(c, v[D_NAMES], "names", true) != 0)
            return -1;
        if ((f->dns.names = calloc(list_len(v[D_NAMES]), sizeof(*f->dns.names))) == NULL)
            return edge_config_nomem(c, v[D_NAMES]);
        for (size_t i = 0; i != list_len(v[D_NAMES]); ++i) {
            yaml_node_t *item = list_item(c, v[D_NAMES], i);
            f->dns.num_names = i + 1; /* (before the parse, which may fail after its allocation) */
            if (parse_dns_name(c, item, "names", true, &f->dns.names[i]) != 0)
                return -1;
            for (size_t j = 0; j != i; ++j)
                if (strcmp(f->dns.names[j], f->dns.names[i]) == 0)
                    return edge_config_fail(c, item, "names: \"%s\" is listed twice", f->dns.names[i]);
        }
    } else {
        if ((f->dns.names = calloc(1, sizeof(*f->dns.names))) == NULL || (f->dns.names[0] = strdup("@")) == NULL)
            return edge_config_nomem(c, n);
        f->dns.num_names = 1;
    }
    f->dns.ttl_s = DEFAULT_TTL_S;
    if (v[D_TTL] != NULL) {
        if (edge_config_ttl(c, v[D_TTL], "ttl", &f->dns.ttl_s) != 0)
            return -1;
        if (f->dns.ttl_s == 0 || f->dns.ttl_s > 86400)
            return edge_config_fail(c, v[D_TTL], "ttl: must be 1s..1d (a failover waits for it to expire)");
    }
    f->dns.health_interval_s = DEFAULT_HEALTH_INTERVAL_S;
    if (v[D_HEALTH_INTERVAL] != NULL) {
        if (edge_config_ttl(c, v[D_HEALTH_INTERVAL], "health_interval", &f->dns.health_interval_s) != 0)
            return -1;
        if (f->dns.health_interval_s == 0 || f->dns.health_interval_s > 3600)
            return edge_config_fail(c, v[D_HEALTH_INTERVAL], "health_interval: must be 1s..1h");
    }
    f->dns.default_region = 0;
    if (v[D_DEFAULT_REGION] != NULL && region_ref(c, f, v[D_DEFAULT_REGION], "default_region", &f->dns.default_region) != 0)
        return -1;
    if (parse_nameservers(c, f, v[D_NAMESERVERS]) != 0)
        return -1;
    /* a name answered with the edges cannot also be a nameserver's address record */
    for (size_t i = 0; i != f->dns.num_nameservers; ++i) {
        const char *rel = in_zone(f->dns.nameservers[i].name, f->dns.zone);
        for (size_t j = 0; rel != NULL && j != f->dns.num_names; ++j) {
            size_t nlen = strcmp(rel, "@") == 0 ? 0 : strlen(rel) - strlen(f->dns.zone) - 1;
            const char *name = f->dns.names[j];
            if (strcmp(name, "@") == 0 ? nlen == 0 : (strlen(name) == nlen && strncmp(name, rel, nlen) == 0))
                return edge_config_fail(c, v[D_NAMES], "names: \"%s\" is also the nameserver %s", name, f->dns.nameservers[i].name);
        }
    }
    if (v[D_GEOIP_DATABASE] != NULL) {
        if (edge_config_str(c, v[D_GEOIP_DATABASE], "geoip_database", &s) != 0)
            return -1;
        if (s[0] == '\0')
            return edge_config_fail(c, v[D_GEOIP_DATABASE], "geoip_database: must not be empty");
        if ((f->dns.geoip_database = edge_config_resolve(c->basedir, s)) == NULL)
            return edge_config_nomem(c, v[D_GEOIP_DATABASE]);
    }
    return 0;
}

/* --- the file ----------------------------------------------------------------------------------------------- */

/* Whether DNS can answer a client of region `r`: one of its edges, or one of a fallback region's, is of tier edge
 * (the fallback is not followed further: the chain an operator reads in the file is the chain DNS answers). */
static bool region_served(const edge_fleet_t *f, size_t r)
{
    for (size_t k = 0; k <= f->regions[r].num_fallback; ++k) {
        size_t region = k == 0 ? r : f->regions[r].fallback[k - 1];
        for (size_t i = 0; i != f->num_edges; ++i)
            if (f->edges[i].region == region && f->edges[i].tier == EDGE_FLEET_TIER_EDGE)
                return true;
    }
    return false;
}

enum { T_NAME, T_ADMIN_TOKEN_FILE, T_DNS, T_REGIONS, T_EDGES };
static const char *const top_keys[] = {
    [T_NAME] = "name", [T_ADMIN_TOKEN_FILE] = "admin_token_file", [T_DNS] = "dns", [T_REGIONS] = "regions", [T_EDGES] = "edges"};

static int parse_root(ctx_t *c, edge_fleet_t *f, const yaml_node_t *root)
{
    yaml_node_t *v[NKEYS(top_keys)];
    const char *s;

    if (root->type != YAML_MAPPING_NODE)
        return edge_config_fail(c, root, "expected a mapping (name, dns, regions, edges), found %s", edge_config_kind(root));
    if (edge_config_collect(c, root, "the fleet file", top_keys, NKEYS(top_keys), v) != 0)
        return -1;
    if (v[T_REGIONS] == NULL)
        return edge_config_missing(c, root, "the fleet file", "regions");
    if (v[T_EDGES] == NULL)
        return edge_config_missing(c, root, "the fleet file", "edges");
    if (v[T_NAME] != NULL && parse_name(c, v[T_NAME], "name", &f->name) != 0)
        return -1;
    if (v[T_ADMIN_TOKEN_FILE] != NULL) {
        if (edge_config_str(c, v[T_ADMIN_TOKEN_FILE], "admin_token_file", &s) != 0)
            return -1;
        if (s[0] == '\0')
            return edge_config_fail(c, v[T_ADMIN_TOKEN_FILE], "admin_token_file: must not be empty");
        if ((f->admin_token_file = edge_config_resolve(c->basedir, s)) == NULL)
            return edge_config_nomem(c, v[T_ADMIN_TOKEN_FILE]);
    }
    if (parse_regions(c, f, v[T_REGIONS]) != 0 || parse_edges(c, f, v[T_EDGES]) != 0)
        return -1;
    if (v[T_DNS] != NULL && parse_dns(c, f, v[T_DNS]) != 0)
        return -1;
    for (size_t r = 0; r != f->num_regions; ++r) {
        if (!region_served(f, r))
            return edge_config_fail(c, edge_config_item(c, v[T_REGIONS], r),
                                    "region \"%s\" has no edge of tier edge, nor a fallback region with one: DNS could "
                                    "not answer its clients",
                                    f->regions[r].name);
    }
    return 0;
}

edge_fleet_t *edge_fleet_parse(const char *name, const char *basedir, const char *text, size_t len, char err[EDGE_FLEET_ERRLEN])
{
    yaml_document_t doc;
    yaml_node_t *root;
    ctx_t c = {.name = name != NULL ? name : "<string>", .basedir = basedir, .doc = &doc, .err = err};
    edge_fleet_t *f;
    int ret;

    err[0] = '\0';
    if ((f = calloc(1, sizeof(*f))) == NULL || (f->path = strdup(c.name)) == NULL) {
        snprintf(err, EDGE_FLEET_ERRLEN, "%s: out of memory", c.name);
        free(f);
        return NULL;
    }
    if ((root = edge_config_load_document(&c, &doc, text, len, "fleet file")) == NULL) {
        edge_fleet_free(f);
        return NULL;
    }
    ret = parse_root(&c, f, root);
    yaml_document_delete(&doc);
    if (ret != 0) {
        edge_fleet_free(f);
        return NULL;
    }
    return f;
}

/* The file's directory, against which its relative paths resolve: "conf/fleet.yaml" → "conf", "fleet.yaml" → ".". */
static char *dirname_of(const char *path)
{
    char *dir = strdup(path), *slash;

    if (dir != NULL) {
        if ((slash = strrchr(dir, '/')) == NULL)
            strcpy(dir, ".");
        else
            slash[slash == dir ? 1 : 0] = '\0';
    }
    return dir;
}

edge_fleet_t *edge_fleet_load(const char *path, char err[EDGE_FLEET_ERRLEN])
{
    char msg[MSGLEN], *text, *dir;
    edge_fleet_t *f;
    size_t len;

    if (edge_config_slurp(path, MAX_FLEET_SIZE, &text, &len, msg, sizeof(msg)) != 0) {
        snprintf(err, EDGE_FLEET_ERRLEN, "%s", msg);
        return NULL;
    }
    if ((dir = dirname_of(path)) == NULL) {
        free(text);
        snprintf(err, EDGE_FLEET_ERRLEN, "%s: out of memory", path);
        return NULL;
    }
    f = edge_fleet_parse(path, dir, text, len, err);
    free(dir);
    free(text);
    return f;
}

static void free_strings(char **v, size_t n)
{
    for (size_t i = 0; i != n; ++i)
        free(v[i]);
    free(v);
}

void edge_fleet_free(edge_fleet_t *f)
{
    if (f == NULL)
        return;
    free(f->path);
    free(f->name);
    free(f->admin_token_file);
    free(f->dns.zone);
    free_strings(f->dns.names, f->dns.num_names);
    for (size_t i = 0; i != f->dns.num_nameservers; ++i) {
        free(f->dns.nameservers[i].name);
        free_strings(f->dns.nameservers[i].addresses, f->dns.nameservers[i].num_addresses);
    }
    free(f->dns.nameservers);
    free(f->dns.geoip_database);
    for (size_t i = 0; i != f->num_regions; ++i) {
        edge_fleet_region_t *r = &f->regions[i];
        free(r->name);
        for (size_t j = 0; j != r->num_networks; ++j)
            free(r->networks[j].text);
        free(r->networks);
        free(r->fallback);
        free_strings(r->countries, r->num_countries);
        free_strings(r->continents, r->num_continents);
    }
    free(f->regions);
    for (size_t i = 0; i != f->num_edges; ++i) {
        edge_fleet_edge_t *e = &f->edges[i];
        free(e->name);
        free_strings(e->addresses, e->num_addresses);
        free(e->admin);
        free(e->token_file);
        free(e->healthz);
    }
    free(f->edges);
    free(f);
}

const edge_fleet_edge_t *edge_fleet_find_edge(const edge_fleet_t *fleet, const char *name)
{
    for (size_t i = 0; i != fleet->num_edges; ++i)
        if (strcmp(fleet->edges[i].name, name) == 0)
            return &fleet->edges[i];
    return NULL;
}

const edge_fleet_region_t *edge_fleet_find_region(const edge_fleet_t *fleet, const char *name)
{
    size_t i;

    return find_region(fleet, name, &i) ? &fleet->regions[i] : NULL;
}

int edge_fleet_edge_token(const edge_fleet_t *fleet, const edge_fleet_edge_t *edge, char **token, char err[EDGE_FLEET_ERRLEN])
{
    const char *path = edge->token_file != NULL ? edge->token_file : fleet->admin_token_file;
    char msg[MSGLEN];
    size_t len;

    *token = NULL;
    if (path == NULL)
        return 0;
    if (edge_config_slurp(path, MAX_TOKEN_SIZE, token, &len, msg, sizeof(msg)) != 0) {
        snprintf(err, EDGE_FLEET_ERRLEN, "%s", msg);
        return -1;
    }
    while (len != 0 && ((*token)[len - 1] == '\n' || (*token)[len - 1] == '\r'))
        (*token)[--len] = '\0';
    if (len == 0 || strlen(*token) != len) {
        snprintf(err, EDGE_FLEET_ERRLEN, "%s: %s", path, len == 0 ? "the token is empty" : "the token holds a NUL byte");
        free(*token);
        *token = NULL;
        return -1;
    }
    return 0;
}

int edge_fleet_is_fleet_file(const char *path)
{
    char msg[MSGLEN], err[EDGE_CONF_ERRLEN], *text;
    yaml_document_t doc;
    yaml_node_t *root;
    ctx_t c = {.name = path, .doc = &doc, .err = err};
    size_t len;
    bool found;

    if (edge_config_slurp(path, MAX_FLEET_SIZE, &text, &len, msg, sizeof(msg)) != 0)
        return 0;
    root = edge_config_load_document(&c, &doc, text, len, "fleet file");
    free(text);
    if (root == NULL)
        return 0;
    found = edge_config_lookup(&c, root, "edges") != NULL;
    yaml_document_delete(&doc);
    return found;
}
