/*
 * tests/unit/check_edge_fleet.c: the fleet file's loader (edge/fleet.c): a whole file and its structure, the
 * defaults, each refusal at its exact "name:line:col:", loading from a file (relative paths, tokens) and the
 * test `edgecache check` uses to tell a fleet file from a configuration.
 *
 * Error tests assert on the exact "name:line:col: " prefix and on a distinctive part of the message, so that both
 * the position and the wording an operator reads are pinned down.
 */
#include <check.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include "edge/fleet.h"

static char base[64];

static void write_file(const char *name, const char *content)
{
    char path[PATH_MAX];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/%s", base, name);
    fp = fopen(path, "w");
    if (fp == NULL || fputs(content, fp) < 0 || fclose(fp) != 0) {
        perror(path);
        exit(2);
    }
}

static edge_fleet_t *parse(const char *yaml, char *err)
{
    return edge_fleet_parse("f.yaml", base, yaml, strlen(yaml), err);
}

/* The three-edge fleet of tests/fleet: two regions, a parent in eu. Line numbers below refer to it. */
static const char good[] = "name: test-cdn\n"                                            /* 1 */
                           "admin_token_file: token\n"                                   /* 2 */
                           "dns:\n"                                                      /* 3 */
                           "  zone: CDN.Example.NET.\n"                                  /* 4 */
                           "  names: ['@', www]\n"                                       /* 5 */
                           "  ttl: 5s\n"                                                 /* 6 */
                           "  health_interval: 1s\n"                                     /* 7 */
                           "  default_region: us\n"                                      /* 8 */
                           "  nameservers:\n"                                            /* 9 */
                           "    - {name: ns1.cdn.example.net, addresses: [10.0.0.53]}\n" /* 10 */
                           "    - {name: ns2.other.example.org.}\n"                      /* 11 */
                           "regions:\n"                                                  /* 12 */
                           "  - name: eu\n"                                              /* 13 */
                           "    networks: [10.1.0.0/24, 'fd00:1::/64']\n"                /* 14 */
                           "    fallback: [us]\n"                                        /* 15 */
                           "  - name: us\n"                                              /* 16 */
                           "    networks: 10.2.0.0/24\n"                                 /* 17 */
                           "    fallback: eu\n"                                          /* 18 */
                           "    countries: [us, CA]\n"                                   /* 19 */
                           "    continents: [na]\n"                                      /* 20 */
                           "edges:\n"                                                    /* 21 */
                           "  - name: eu-1\n"                                            /* 22 */
                           "    region: eu\n"                                            /* 23 */
                           "    addresses: [10.1.0.10, 'fd00:1::10']\n"                  /* 24 */
                           "    admin: 10.1.0.10:9090\n"                                 /* 25 */
                           "  - name: us-1\n"                                            /* 26 */
                           "    region: us\n"                                            /* 27 */
                           "    tier: edge\n"                                            /* 28 */
                           "    addresses: 10.2.0.10\n"                                  /* 29 */
                           "    admin: '[fd00:2::10]:9090'\n"                            /* 30 */
                           "    token_file: /etc/us-token\n"                             /* 31 */
                           "    healthz: http://10.2.0.10:8080/hz\n"                     /* 32 */
                           "  - name: parent-1\n"                                        /* 33 */
                           "    region: eu\n"                                            /* 34 */
                           "    tier: parent\n"                                          /* 35 */
                           "    addresses: ['fd00:9::1']\n"                              /* 36 */
                           "    admin: 10.9.0.1:9090\n";                                 /* 37 */

START_TEST(test_good)
{
    char err[EDGE_FLEET_ERRLEN];
    edge_fleet_t *f = parse(good, err);
    char path[PATH_MAX];

    ck_assert_msg(f != NULL, "%s", err);
    ck_assert_str_eq(f->path, "f.yaml");
    ck_assert_str_eq(f->name, "test-cdn");
    snprintf(path, sizeof(path), "%s/token", base);
    ck_assert_str_eq(f->admin_token_file, path);
    /* dns */
    ck_assert_str_eq(f->dns.zone, "cdn.example.net");
    ck_assert_uint_eq(f->dns.num_names, 2);
    ck_assert_str_eq(f->dns.names[0], "@");
    ck_assert_str_eq(f->dns.names[1], "www");
    ck_assert_uint_eq(f->dns.ttl_s, 5);
    ck_assert_uint_eq(f->dns.health_interval_s, 1);
    ck_assert_uint_eq(f->dns.default_region, 1);
    ck_assert_uint_eq(f->dns.num_nameservers, 2);
    ck_assert_str_eq(f->dns.nameservers[0].name, "ns1.cdn.example.net");
    ck_assert_uint_eq(f->dns.nameservers[0].num_addresses, 1);
    ck_assert_str_eq(f->dns.nameservers[0].addresses[0], "10.0.0.53");
    ck_assert_str_eq(f->dns.nameservers[1].name, "ns2.other.example.org");
    ck_assert_uint_eq(f->dns.nameservers[1].num_addresses, 0);
    ck_assert_ptr_null(f->dns.geoip_database);
    /* regions */
    ck_assert_uint_eq(f->num_regions, 2);
    ck_assert_str_eq(f->regions[0].name, "eu");
    ck_assert_uint_eq(f->regions[0].num_networks, 2);
    ck_assert_int_eq(f->regions[0].networks[0].family, AF_INET);
    ck_assert_uint_eq(f->regions[0].networks[0].prefix, 24);
    ck_assert_str_eq(f->regions[0].networks[0].text, "10.1.0.0/24");
    ck_assert_uint_eq(f->regions[0].networks[0].addr[0], 10);
    ck_assert_uint_eq(f->regions[0].networks[0].addr[1], 1);
    ck_assert_int_eq(f->regions[0].networks[1].family, AF_INET6);
    ck_assert_str_eq(f->regions[0].networks[1].text, "fd00:1::/64");
    ck_assert_uint_eq(f->regions[0].num_fallback, 1);
    ck_assert_uint_eq(f->regions[0].fallback[0], 1);
    ck_assert_uint_eq(f->regions[0].num_countries, 0);
    ck_assert_str_eq(f->regions[1].name, "us");
    ck_assert_uint_eq(f->regions[1].num_networks, 1);
    ck_assert_uint_eq(f->regions[1].num_fallback, 1);
    ck_assert_uint_eq(f->regions[1].fallback[0], 0);
    ck_assert_uint_eq(f->regions[1].num_countries, 2);
    ck_assert_str_eq(f->regions[1].countries[0], "US");
    ck_assert_str_eq(f->regions[1].countries[1], "CA");
    ck_assert_uint_eq(f->regions[1].num_continents, 1);
    ck_assert_str_eq(f->regions[1].continents[0], "NA");
    /* edges, in file order */
    ck_assert_uint_eq(f->num_edges, 3);
    ck_assert_str_eq(f->edges[0].name, "eu-1");
    ck_assert_uint_eq(f->edges[0].region, 0);
    ck_assert_int_eq(f->edges[0].tier, EDGE_FLEET_TIER_EDGE);
    ck_assert_uint_eq(f->edges[0].num_addresses, 2);
    ck_assert_str_eq(f->edges[0].addresses[0], "10.1.0.10");
    ck_assert_str_eq(f->edges[0].addresses[1], "fd00:1::10");
    ck_assert_str_eq(f->edges[0].admin, "10.1.0.10:9090");
    ck_assert_ptr_null(f->edges[0].token_file);
    ck_assert_str_eq(f->edges[0].healthz, "http://10.1.0.10/edgecache/healthz");
    ck_assert_str_eq(f->edges[1].name, "us-1");
    ck_assert_uint_eq(f->edges[1].region, 1);
    ck_assert_uint_eq(f->edges[1].num_addresses, 1);
    ck_assert_str_eq(f->edges[1].admin, "[fd00:2::10]:9090");
    ck_assert_str_eq(f->edges[1].token_file, "/etc/us-token");
    ck_assert_str_eq(f->edges[1].healthz, "http://10.2.0.10:8080/hz");
    ck_assert_int_eq(f->edges[2].tier, EDGE_FLEET_TIER_PARENT);
    ck_assert_str_eq(f->edges[2].healthz, "http://[fd00:9::1]/edgecache/healthz");
    /* lookups */
    ck_assert_ptr_eq(edge_fleet_find_edge(f, "us-1"), &f->edges[1]);
    ck_assert_ptr_null(edge_fleet_find_edge(f, "nope"));
    ck_assert_ptr_eq(edge_fleet_find_region(f, "eu"), &f->regions[0]);
    ck_assert_ptr_null(edge_fleet_find_region(f, "asia"));
    edge_fleet_free(f);
    edge_fleet_free(NULL);
}
END_TEST

/* The smallest fleet: no dns, no name, one region with one edge; every default. */
START_TEST(test_minimal)
{
    static const char yaml[] = "regions: [{name: r}]\n"
                               "edges: [{name: e, region: r, addresses: 192.0.2.1, admin: '127.0.0.1:9090'}]\n";
    char err[EDGE_FLEET_ERRLEN];
    edge_fleet_t *f = parse(yaml, err);

    ck_assert_msg(f != NULL, "%s", err);
    ck_assert_ptr_null(f->name);
    ck_assert_ptr_null(f->admin_token_file);
    ck_assert_ptr_null(f->dns.zone);
    ck_assert_uint_eq(f->dns.num_names, 0);
    ck_assert_uint_eq(f->regions[0].num_networks, 0);
    ck_assert_uint_eq(f->regions[0].num_fallback, 0);
    ck_assert_int_eq(f->edges[0].tier, EDGE_FLEET_TIER_EDGE);
    edge_fleet_free(f);
}
END_TEST

START_TEST(test_dns_defaults)
{
    static const char yaml[] = "dns:\n"
                               "  zone: cdn.example.net\n"
                               "  nameservers: [{name: ns.example.org}]\n"
                               "  geoip_database: geo/City.mmdb\n"
                               "regions: [{name: a}, {name: b}]\n"
                               "edges: [{name: e, region: a, addresses: 192.0.2.1, admin: '127.0.0.1:9090'},\n"
                               "        {name: f, region: b, addresses: 192.0.2.2, admin: '127.0.0.1:9091'}]\n";
    char err[EDGE_FLEET_ERRLEN], path[PATH_MAX];
    edge_fleet_t *f = parse(yaml, err);

    ck_assert_msg(f != NULL, "%s", err);
    ck_assert_uint_eq(f->dns.num_names, 1);
    ck_assert_str_eq(f->dns.names[0], "@");
    ck_assert_uint_eq(f->dns.ttl_s, 20);
    ck_assert_uint_eq(f->dns.health_interval_s, 2);
    ck_assert_uint_eq(f->dns.default_region, 0);
    snprintf(path, sizeof(path), "%s/geo/City.mmdb", base);
    ck_assert_str_eq(f->dns.geoip_database, path);
    edge_fleet_free(f);
}
END_TEST

/* Each refusal, at the node at fault. Most cases are one section with a fault, completed by these. */
#define R_R "regions: [{name: r}]\n"
#define E_R "edges: [{name: e, region: r, addresses: 192.0.2.1, admin: '1.2.3.4:9'}]\n"
#define E_EU "edges: [{name: e, region: eu, addresses: 192.0.2.1, admin: '1.2.3.4:9'}]\n"
static const struct {
    const char *yaml, *prefix, *part;
} errors[] = {
    /* unknown keys, at the key */
    {"regions: [{name: r}]\nedges: [{name: e, region: r, addresses: 192.0.2.1, admin: '1.2.3.4:9', port: 80}]\n",
     "f.yaml:2:72: ", "unknown key \"port\" in edge"},
    {"regions: [{name: r}]\nedges: [{name: e, region: r, addresses: 192.0.2.1, admin: '1.2.3.4:9'}]\nedge: 1\n",
     "f.yaml:3:1: ", "unknown key \"edge\" in the fleet file"},
    {"regions:\n  - name: r\n    network: [10.0.0.0/8]\n" E_R, "f.yaml:3:5: ", "unknown key \"network\" in region"},
    /* required sections and keys */
    {"edges: []\n", "f.yaml:1:1: ", "missing required key \"regions\""},
    {"regions: [{name: r}]\n", "f.yaml:1:1: ", "missing required key \"edges\""},
    {"regions: [{name: r}]\nedges: []\n", "f.yaml:2:8: ", "edges: expected a non-empty list"},
    {"regions: [{name: r}]\nedges: [{name: e, region: r, admin: '1.2.3.4:9'}]\n",
     "f.yaml:2:9: ", "edge: missing required key \"addresses\""},
    {"- a\n", "f.yaml:1:1: ", "expected a mapping"},
    {"", "f.yaml:1:1: ", "the fleet file is empty"},
    {"regions: [\n", "f.yaml:2:1: ", "did not find expected node content"},
    /* duplicates */
    {"regions: [{name: r}]\n"
     "edges:\n"
     "  - {name: e, region: r, addresses: 192.0.2.1, admin: '1.2.3.4:9'}\n"
     "  - {name: e, region: r, addresses: 192.0.2.2, admin: '1.2.3.4:9'}\n",
     "f.yaml:4:12: ", "edge \"e\" is defined twice"},
    {"regions: [{name: r}, {name: r}]\n" E_R, "f.yaml:1:29: ", "region \"r\" is defined twice"},
    {"regions: [{name: r}]\n"
     "edges:\n"
     "  - {name: e, region: r, addresses: 192.0.2.1, admin: '1.2.3.4:9'}\n"
     "  - {name: f, region: r, addresses: [192.0.2.2, 192.0.2.1], admin: '1.2.3.4:9'}\n",
     "f.yaml:4:49: ", "192.0.2.1 is already an address of edge \"e\""},
    {"regions: [{name: r, networks: [10.0.0.0/8]}, {name: s, networks: [10.0.0.0/8]}]\n" E_R,
     "f.yaml:1:67: ", "network 10.0.0.0/8 is already in region \"r\""},
    /* unknown regions */
    {"regions: [{name: eu}, {name: us}]\nedges: [{name: e, region: asia, addresses: 192.0.2.1, admin: '1.2.3.4:9'}]\n",
     "f.yaml:2:27: ", "region: unknown region \"asia\" (regions: eu, us)"},
    {"regions: [{name: eu, fallback: [us]}]\n" E_EU, "f.yaml:1:33: ", "fallback: unknown region \"us\""},
    {"dns: {zone: z.example, default_region: x, nameservers: [{name: ns.example}]}\n"
     "regions: [{name: r}]\nedges: [{name: e, region: r, addresses: 192.0.2.1, admin: '1.2.3.4:9'}]\n",
     "f.yaml:1:40: ", "default_region: unknown region \"x\""},
    /* fallbacks */
    {"regions: [{name: eu, fallback: [us, eu]}, {name: us}]\n" E_EU, "f.yaml:1:37: ", "region \"eu\" cannot fall back to itself"},
    {"regions: [{name: eu, fallback: [us, us]}, {name: us}]\n" E_EU, "f.yaml:1:37: ", "region \"us\" is listed twice"},
    /* addresses and networks */
    {"regions: [{name: r}]\nedges: [{name: e, region: r, addresses: [10.1.0.300], admin: '1.2.3.4:9'}]\n",
     "f.yaml:2:42: ", "\"10.1.0.300\" is not a numeric IPv4 or IPv6 address"},
    {"regions: [{name: r}]\nedges: [{name: e, region: r, addresses: edge.example.net, admin: '1.2.3.4:9'}]\n",
     "f.yaml:2:41: ", "is not a numeric"},
    {"regions: [{name: r}]\nedges: [{name: e, region: r, addresses: 192.0.2.1, admin: 'edge:9090'}]\n",
     "f.yaml:2:59: ", "admin \"edge:9090\": \"edge\" is not a numeric"},
    {"regions: [{name: r}]\nedges: [{name: e, region: r, addresses: 192.0.2.1, admin: '1.2.3.4'}]\n",
     "f.yaml:2:59: ", "expected \"ADDRESS:PORT\""},
    {"regions: [{name: r, networks: [10.1.0.5/24]}]\n" E_R, "f.yaml:1:32: ", "host bits are set (the network is 10.1.0.0/24)"},
    {"regions: [{name: r, networks: [10.1.0.0/33]}]\n" E_R, "f.yaml:1:32: ", "network \"10.1.0.0/33\": prefix length out of range"},
    {"regions: [{name: r, networks: [europe]}]\n" E_R, "f.yaml:1:32: ", "network \"europe\": not a numeric"},
    {"regions:\n  - name: r\n    networks: ['fd00::1/64']\n" E_R, "f.yaml:3:16: ", "host bits are set (the network is fd00::/64)"},
    /* a region DNS could not answer */
    {"regions: [{name: eu}, {name: us}]\n"
     "edges:\n"
     "  - {name: e, region: eu, addresses: 192.0.2.1, admin: '1.2.3.4:9'}\n"
     "  - {name: p, region: us, tier: parent, addresses: 192.0.2.2, admin: '1.2.3.4:9'}\n",
     "f.yaml:1:23: ", "region \"us\" has no edge of tier edge, nor a fallback region with one"},
    {"regions:\n  - {name: eu}\n  - {name: us, fallback: [asia]}\n  - {name: asia}\n"
     "edges: [{name: e, region: eu, addresses: 192.0.2.1, admin: '1.2.3.4:9'}]\n",
     "f.yaml:3:5: ", "region \"us\" has no edge"},
    /* values */
    {"regions: [{name: r}]\nedges: [{name: e, region: r, tier: child, addresses: 192.0.2.1, admin: '1.2.3.4:9'}]\n",
     "f.yaml:2:36: ", "tier: expected edge or parent, found \"child\""},
    {"regions: [{name: 'a b'}]\n" E_R, "f.yaml:1:18: ", "region name: \"a b\" may only hold letters"},
    {"regions: [{name: r}]\nedges: [{name: e, region: r, addresses: 192.0.2.1, admin: '1.2.3.4:9', healthz: /hz}]\n",
     "f.yaml:2:81: ", "healthz: \"/hz\" is not an http:// or https:// URL"},
    {"regions: [{name: r, continents: [EU, XX]}]\n" E_R, "f.yaml:1:38: ", "unknown continent \"XX\""},
    {"regions: [{name: r, countries: [FRA]}]\n" E_R, "f.yaml:1:33: ", "\"FRA\" is not a two-letter code"},
    /* dns */
    {"dns: {zone: z.example}\n" R_R E_R, "f.yaml:1:6: ", "dns: missing required key \"nameservers\""},
    {"dns: {zone: 'bad zone', nameservers: [{name: ns.example}]}\n" R_R E_R,
     "f.yaml:1:13: ", "zone: \"bad zone\" is not a DNS name"},
    {"dns: {zone: z.example, nameservers: [{name: ns1.z.example}]}\n" R_R E_R,
     "f.yaml:1:38: ", "nameserver ns1.z.example is inside the zone z.example: it needs its addresses (glue)"},
    {"dns: {zone: z.example, ttl: 0, nameservers: [{name: ns.example}]}\n" R_R E_R, "f.yaml:1:29: ", "ttl: must be 1s..1d"},
    {"dns: {zone: z.example, ttl: 1500ms, nameservers: [{name: ns.example}]}\n" R_R E_R,
     "f.yaml:1:29: ", "ttl: must be a whole number of seconds"},
    {"dns: {zone: z.example, health_interval: soon, nameservers: [{name: ns.example}]}\n" R_R E_R,
     "f.yaml:1:41: ", "health_interval: invalid duration \"soon\""},
    {"dns: {zone: z.example, names: [www, 'www.'], nameservers: [{name: ns.example}]}\n" R_R E_R,
     "f.yaml:1:37: ", "names: \"www.\" is relative to the zone"},
    {"dns: {zone: z.example, names: [www, WWW], nameservers: [{name: ns.example}]}\n" R_R E_R,
     "f.yaml:1:37: ", "names: \"www\" is listed twice"},
    {"dns: {zone: z.example, names: [ns1], nameservers: [{name: ns1.z.example, addresses: [192.0.2.53]}]}\n"
     "regions: [{name: r}]\nedges: [{name: e, region: r, addresses: 192.0.2.1, admin: '1.2.3.4:9'}]\n",
     "f.yaml:1:31: ", "names: \"ns1\" is also the nameserver ns1.z.example"},
    {"dns: {zone: z.example, ns: x}\n" R_R E_R, "f.yaml:1:24: ", "unknown key \"ns\" in dns"},
};

START_TEST(test_errors)
{
    char err[EDGE_FLEET_ERRLEN];
    const char *yaml = errors[_i].yaml, *prefix = errors[_i].prefix, *part = errors[_i].part;

    ck_assert_ptr_null(parse(yaml, err));
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "case %d: expected prefix \"%s\", got \"%s\"", _i, prefix, err);
    ck_assert_msg(strstr(err, part) != NULL, "case %d: expected \"%s\" in \"%s\"", _i, part, err);
}
END_TEST

START_TEST(test_load_and_token)
{
    char err[EDGE_FLEET_ERRLEN], path[PATH_MAX], *token;
    edge_fleet_t *f;

    write_file("fleet.yaml", good);
    write_file("token", "s3cret\n");
    write_file("edge.yaml", "origin: http://127.0.0.1:1\n");
    snprintf(path, sizeof(path), "%s/fleet.yaml", base);
    f = edge_fleet_load(path, err);
    ck_assert_msg(f != NULL, "%s", err);
    ck_assert_str_eq(f->path, path);
    /* eu-1 has no token_file of its own: the fleet's */
    ck_assert_int_eq(edge_fleet_edge_token(f, &f->edges[0], &token, err), 0);
    ck_assert_str_eq(token, "s3cret");
    free(token);
    /* us-1 names one that does not exist: an error naming it */
    ck_assert_int_eq(edge_fleet_edge_token(f, &f->edges[1], &token, err), -1);
    ck_assert_ptr_null(token);
    ck_assert_msg(strstr(err, "/etc/us-token") != NULL, "%s", err);
    edge_fleet_free(f);

    ck_assert(edge_fleet_is_fleet_file(path));
    snprintf(path, sizeof(path), "%s/edge.yaml", base);
    ck_assert(!edge_fleet_is_fleet_file(path));
    snprintf(path, sizeof(path), "%s/absent.yaml", base);
    ck_assert(!edge_fleet_is_fleet_file(path));
    ck_assert_ptr_null(edge_fleet_load(path, err));
    ck_assert_msg(strstr(err, "absent.yaml") != NULL, "%s", err);

    /* an empty token is refused rather than sent as no token at all */
    write_file("token", "\n");
    snprintf(path, sizeof(path), "%s/fleet.yaml", base);
    f = edge_fleet_load(path, err);
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(edge_fleet_edge_token(f, &f->edges[0], &token, err), -1);
    ck_assert_msg(strstr(err, "the token is empty") != NULL, "%s", err);
    edge_fleet_free(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("edge_fleet");
    TCase *tc = tcase_create("fleet");
    SRunner *sr;
    char cmd[PATH_MAX];
    int failed;

    strcpy(base, "/tmp/check_edge_fleet.XXXXXX");
    if (mkdtemp(base) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    tcase_add_test(tc, test_good);
    tcase_add_test(tc, test_minimal);
    tcase_add_test(tc, test_dns_defaults);
    tcase_add_loop_test(tc, test_errors, 0, sizeof(errors) / sizeof(errors[0]));
    tcase_add_test(tc, test_load_and_token);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
    if (system(cmd) != 0)
        failed = 1;
    return failed == 0 ? 0 : 1;
}
