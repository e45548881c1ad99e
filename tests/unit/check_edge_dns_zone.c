/*
 * tests/unit/check_edge_dns_zone.c: the zone `edgecache dns-zone` writes (edge/dns_zone_cli.c): its SOA, NS and
 * glue, the Lua program of each LUA record (chains, the most specific network first, the default region, GeoIP
 * conditions), the cutting of that program into zone-file strings, the PowerDNS settings, and the refusals.
 * That PowerDNS loads the zone and answers as intended is proved by tests/fleet/run.sh with the real server.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "edge/dns_zone_cli.h"

static edge_fleet_t *parse(const char *yaml)
{
    char err[EDGE_FLEET_ERRLEN];
    edge_fleet_t *f = edge_fleet_parse("f.yaml", "/base", yaml, strlen(yaml), err);

    ck_assert_msg(f != NULL, "%s", err);
    return f;
}

/* The zone of `yaml` (serial 42), malloc'd; or NULL with the error in `err`. */
static char *zone_of(const char *yaml, char *err)
{
    edge_fleet_t *f = parse(yaml);
    char *text = NULL;
    size_t len;
    FILE *out = open_memstream(&text, &len);
    int r = edge_dns_zone_write(f, 42, out, err);

    fclose(out);
    edge_fleet_free(f);
    if (r != 0) {
        free(text);
        return NULL;
    }
    return text;
}

/* The content of a LUA record as PowerDNS reads it: its quoted strings, joined. */
static char *program(const char *zone, const char *owner_and_type)
{
    const char *line = strstr(zone, owner_and_type), *p, *end;
    char *code = calloc(1, strlen(zone) + 1);
    size_t n = 0;

    ck_assert_msg(line != NULL, "no \"%s\" in:\n%s", owner_and_type, zone);
    end = strchr(line, '\n');
    for (p = strchr(line, '"'); p != NULL && p < end; p = strchr(p + 1, '"')) {
        const char *close = strchr(p + 1, '"');
        ck_assert_int_le(close - p - 1, 255); /* a DNS character-string */
        memcpy(code + n, p + 1, (size_t)(close - p - 1));
        n += (size_t)(close - p - 1);
        p = close;
    }
    return code;
}

#define FLEET                                                                                                                      \
    "name: t\n"                                                                                                                    \
    "dns:\n"                                                                                                                       \
    "  zone: cdn.test\n"                                                                                                           \
    "  names: ['@', www]\n"                                                                                                        \
    "  ttl: 7s\n"                                                                                                                  \
    "  health_interval: 3s\n"                                                                                                      \
    "  default_region: us\n"                                                                                                       \
    "  nameservers: [{name: ns1.cdn.test, addresses: [192.0.2.53, '2001:db8::53']}, {name: ns.other.example}]\n"                   \
    "regions:\n"                                                                                                                   \
    "  - {name: eu, networks: [10.0.0.0/8, 'fd00:1::/64'], fallback: [us]}\n"                                                      \
    "  - {name: us, networks: [10.2.0.0/16]}\n"                                                                                    \
    "edges:\n"                                                                                                                     \
    "  - {name: eu-1, region: eu, addresses: [10.1.0.10, 'fd00:1::10'], admin: '10.1.0.10:9090'}\n"                                \
    "  - {name: eu-2, region: eu, addresses: [10.1.0.11], admin: '10.1.0.11:9090'}\n"                                              \
    "  - {name: us-1, region: us, addresses: [10.2.0.10], admin: '10.2.0.10:9090'}\n"                                              \
    "  - {name: p-1, region: eu, tier: parent, addresses: [10.9.0.10], admin: '10.9.0.10:9090'}\n"

START_TEST(test_zone)
{
    char err[EDGE_FLEET_ERRLEN], *zone = zone_of(FLEET, err), *a, *aaaa;

    ck_assert_msg(zone != NULL, "%s", err);
    ck_assert_msg(strstr(zone, "$ORIGIN cdn.test.\n") != NULL, "%s", zone);
    /* the SOA's minimum is the answers' TTL: a resolver caches "no such record" no longer than an answer */
    ck_assert_msg(strstr(zone, "@ 7 IN SOA ns1 hostmaster 42 300 60 1209600 7\n") != NULL, "%s", zone);
    ck_assert_msg(strstr(zone, "@ 3600 IN NS ns1\n@ 3600 IN NS ns.other.example.\n") != NULL, "%s", zone);
    ck_assert_msg(strstr(zone, "ns1 3600 IN A 192.0.2.53\nns1 3600 IN AAAA 2001:db8::53\n") != NULL, "%s", zone);
    ck_assert_msg(strstr(zone, "\n@ 7 IN LUA A \"") != NULL && strstr(zone, "\nwww 7 IN LUA A \"") != NULL, "%s", zone);

    a = program(zone, "www 7 IN LUA A");
    /* one probe URL, on the first name (the apex), with the edges' port and path; every healthy edge answered */
    ck_assert_msg(strncmp(a,
                          ";local u='http://cdn.test/edgecache/healthz' local o={selector='all',backupSelector='all',timeout='2'}",
                          101) == 0,
                  "%s", a);
    /* eu's chain: its two edges (never the parent), then us's; us has no fallback */
    ck_assert_msg(strstr(a, "local c={{{'10.1.0.10','10.1.0.11'},{'10.2.0.10'}},{{'10.2.0.10'}}}") != NULL, "%s", a);
    /* every address asked about at once, so that a fallback's edges are probed before they are needed */
    ck_assert_msg(strstr(a, " ifurlup(u,{'10.1.0.10','10.1.0.11','10.2.0.10'},o) ") != NULL, "%s", a);
    /* the most specific network first: us's /16 inside eu's /8 */
    ck_assert_msg(strstr(a, "local m={{'fd00:1::/64',1},{'10.2.0.0/16',2},{'10.0.0.0/8',1}}") != NULL, "%s", a);
    /* a client in no network: the default region, us */
    ck_assert_msg(strstr(a, "end end return ifurlup(u,c[2],o)") != NULL, "%s", a);
    ck_assert_ptr_null(strstr(a, "country("));
    free(a);

    aaaa = program(zone, "www 7 IN LUA AAAA");
    ck_assert_msg(strstr(aaaa, "local c={{{'fd00:1::10'},{}},{{}}}") != NULL, "%s", aaaa);
    free(aaaa);
    free(zone);
}
END_TEST

/* Without an IPv6 edge there is no AAAA program; with a GeoIP database, the countries and continents follow the
 * networks; a long program is cut into strings of at most 255 bytes, only between Lua tokens. */
START_TEST(test_geoip_and_cutting)
{
    char yaml[8192], err[EDGE_FLEET_ERRLEN], *zone, *code;
    int n = snprintf(yaml, sizeof(yaml),
                     "dns: {zone: cdn.test, geoip_database: City.mmdb, nameservers: [{name: ns.example}]}\n"
                     "regions:\n"
                     "  - {name: eu, continents: [EU], countries: [fr, de]}\n"
                     "  - {name: us, countries: US, networks: [");
    for (int i = 0; i != 40; ++i)
        n += snprintf(yaml + n, sizeof(yaml) - (size_t)n, "%s10.%d.0.0/16", i == 0 ? "" : ", ", i);
    snprintf(yaml + n, sizeof(yaml) - (size_t)n,
             "]}\nedges:\n  - {name: e, region: eu, addresses: 192.0.2.1, admin: '1.2.3.4:9',"
             " healthz: 'https://192.0.2.1:8443/hz'}\n"
             "  - {name: u, region: us, addresses: 192.0.2.2, admin: '1.2.3.4:9',"
             " healthz: 'https://[2001:db8::1]:8443/hz'}\n");
    zone = zone_of(yaml, err);
    ck_assert_msg(zone != NULL, "%s", err);
    ck_assert_ptr_null(strstr(zone, "LUA AAAA"));
    code = program(zone, "@ 20 IN LUA A");
    ck_assert_msg(strncmp(code, ";local u='https://cdn.test:8443/hz'", 35) == 0, "%s", code);
    ck_assert_msg(
        strstr(code, " if country({'FR','DE'}) then return ifurlup(u,c[1],o) end if continent({'EU'}) then return "
                     "ifurlup(u,c[1],o) end if country({'US'}) then return ifurlup(u,c[2],o) end return ifurlup(u,c[1],o)") != NULL,
        "%s", code);
    /* the pieces, each ending on a ',' or ' ' (so that pieces joined with a space read the same) */
    for (const char *p = strstr(zone, "@ 20 IN LUA A \"") + 14; *p == '"'; p += 2) {
        const char *close = strchr(p + 1, '"');
        ck_assert(close[1] == ' ' || close[1] == '\n');
        if (close[1] == ' ')
            ck_assert_msg(close[-1] == ',' || close[-1] == ' ', "a piece ends inside a token: %.20s", close - 19);
        p = close;
        if (p[1] == '\n')
            break;
    }
    free(code);
    free(zone);
}
END_TEST

START_TEST(test_refusals)
{
    char err[EDGE_FLEET_ERRLEN];

    ck_assert_ptr_null(
        zone_of("regions: [{name: r}]\nedges: [{name: e, region: r, addresses: 192.0.2.1, admin: '1.2.3.4:9'}]\n", err));
    ck_assert_msg(strstr(err, "f.yaml: no dns section") != NULL, "%s", err);
    ck_assert_ptr_null(zone_of(
        "dns: {zone: z.test, nameservers: [{name: ns.example}]}\nregions: [{name: r}]\n"
        "edges: [{name: a, region: r, addresses: 192.0.2.1, admin: '1.2.3.4:9'},\n"
        "        {name: b, region: r, addresses: 192.0.2.2, admin: '1.2.3.4:9', healthz: 'http://x:81/edgecache/healthz'}]\n",
        err));
    ck_assert_msg(strstr(err, "edges \"a\" and \"b\" have healthz URLs that differ in scheme, port or path") != NULL, "%s", err);
}
END_TEST

START_TEST(test_pdns_conf)
{
    edge_fleet_t *f = parse(FLEET);
    char *text = NULL;
    size_t len;
    FILE *out = open_memstream(&text, &len);

    ck_assert_int_eq(edge_dns_zone_write_pdns_conf(f, out), 0);
    fclose(out);
    ck_assert_msg(strstr(text, "\nenable-lua-records=yes\n") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\nedns-subnet-processing=yes\n") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\nlua-health-checks-interval=3\n") != NULL, "%s", text);
    ck_assert_msg(strstr(text, "\nlua-health-checks-expire-delay=3600\n") != NULL, "%s", text);
    ck_assert_ptr_null(strstr(text, "\nlaunch")); /* (Debian launches the bind backend itself) */
    free(text);
    edge_fleet_free(f);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("edge_dns_zone");
    TCase *tc = tcase_create("dns_zone");
    SRunner *sr;
    int failed;

    tcase_add_test(tc, test_zone);
    tcase_add_test(tc, test_geoip_and_cutting);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_pdns_conf);
    suite_add_tcase(s, tc);
    sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
