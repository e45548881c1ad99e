/*
 * edge/dns_zone_cli.c: `edgecache dns-zone` (see dns_zone_cli.h): the fleet file as a PowerDNS zone whose
 * LUA records answer each client with the healthy edges nearest to it.
 *
 * Each LUA record is a short Lua program, the same for every name: `c` holds each region's chain (a list of
 * address sets, the region's own edges first, then each fallback region's), `m` the fleet's networks, most
 * specific first, each with the index of its region; the program asks once about every address (so that all
 * are probed from the first query on), then answers ifurlup(probe URL, c[region]) for the first network that
 * holds the client, else for the default region. ifurlup returns the first set that has an
 * address up, with selector 'all' so that every healthy edge of the region is answered, and with backupSelector
 * 'all' so that a chain with nothing up answers every address rather than none.
 *
 * The invariant that is easy to break: the program lives in a zone file's quoted strings, and PowerDNS checks
 * each address against one URL per call. So the code never holds a double quote or a backslash (the fleet
 * loader refuses them in everything that is copied in), it is cut into strings of at most 255 bytes only at a
 * ',' or ' ' outside a Lua string (a secondary that joins the pieces with a space still reads the same
 * program), and every edge must be probed at the same scheme, port and path, with a host name (not an address)
 * in the URL: PowerDNS resolves that name to the address it checks, which an address literal would defeat.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "edge/cli.h"
#include "edge/dns_zone_cli.h"

#define CHUNK 250                /* the longest piece of a LUA record's content (a DNS character-string is 255) */
#define NS_TTL 3600              /* NS and glue: they do not fail over */
#define HEALTH_EXPIRE_DELAY 3600 /* PowerDNS forgets a check nobody asked for in that long (its default) */

static const char usage[] =
    "usage: edgecache dns-zone FLEET [-o ZONEFILE] [--pdns-conf FILE] [--named-conf FILE] [--serial N]\n"
    "\n"
    "Writes the DNS zone of the fleet file FLEET (dns.zone) for PowerDNS Authoritative with the bind\n"
    "backend: SOA, NS and glue, and for each of dns.names a LUA A and a LUA AAAA record that answers a\n"
    "client with the healthy edges of its region (the most specific of the fleet's networks that holds\n"
    "the client's EDNS Client Subnet, or its resolver's address), then those of the region's fallbacks in\n"
    "order; a client of no region gets dns.default_region's. PowerDNS probes each edge's healthz URL every\n"
    "dns.health_interval; the answers' TTL is dns.ttl.\n"
    "  -o ZONEFILE         write the zone there (whole, then renamed into place) instead of stdout\n"
    "  --pdns-conf FILE    also write the PowerDNS settings the zone needs (a drop-in for pdns.d/)\n"
    "  --named-conf FILE   also write the bind backend's zone statement for ZONEFILE (needs -o)\n"
    "  --serial N          the SOA serial (default: the time, in seconds since 1970)\n"
    "Reload a running PowerDNS with: pdns_control bind-reload-now ZONE. See docs/fleet.md.\n";

/* --- the probe URL ---------------------------------------------------------------------------------------- */

typedef struct st_probe_t {
    char scheme[8]; /* "http" or "https" */
    char port[8];   /* "" for the scheme's */
    const char *path;
} probe_t;

/* Splits a healthz URL "scheme://host[:port]/path" (the loader checked the scheme and that a path follows). */
static int parse_probe(const char *url, probe_t *p)
{
    const char *host = strstr(url, "://") + 3, *end, *colon;
    size_t slen = (size_t)(host - 3 - url);

    memcpy(p->scheme, url, slen);
    p->scheme[slen] = '\0';
    p->path = strchr(host, '/');
    end = host[0] == '[' ? strchr(host, ']') : host;
    colon = end != NULL ? memchr(end, ':', (size_t)(p->path - end)) : NULL;
    p->port[0] = '\0';
    if (colon != NULL) {
        if ((size_t)(p->path - colon - 1) >= sizeof(p->port))
            return -1;
        memcpy(p->port, colon + 1, (size_t)(p->path - colon - 1));
        p->port[p->path - colon - 1] = '\0';
    }
    return 0;
}

/* The one URL every edge is probed at: their common scheme, port and path, on the first answered name (resolved
 * by PowerDNS to each address it checks). Edges probed differently cannot share one ifurlup call. */
static int probe_url(const edge_fleet_t *f, char *url, size_t len, char *err)
{
    const edge_fleet_edge_t *first = NULL;
    probe_t p0, p;
    const char *name = f->dns.names[0];
    char host[300];

    for (size_t i = 0; i != f->num_edges; ++i) {
        const edge_fleet_edge_t *e = &f->edges[i];
        if (e->tier != EDGE_FLEET_TIER_EDGE)
            continue;
        if (parse_probe(e->healthz, first == NULL ? &p0 : &p) != 0) {
            snprintf(err, EDGE_FLEET_ERRLEN, "%s: edge \"%s\": healthz \"%s\": bad port", f->path, e->name, e->healthz);
            return -1;
        }
        if (first == NULL) {
            first = e;
        } else if (strcmp(p.scheme, p0.scheme) != 0 || strcmp(p.port, p0.port) != 0 || strcmp(p.path, p0.path) != 0) {
            snprintf(err, EDGE_FLEET_ERRLEN,
                     "%s: edges \"%s\" and \"%s\" have healthz URLs that differ in scheme, port or path (%s, %s): PowerDNS "
                     "probes every edge of a record at one URL",
                     f->path, first->name, e->name, first->healthz, e->healthz);
            return -1;
        }
    }
    /* the wildcard label is not a host name: probe at the zone's apex instead */
    if (strcmp(name, "@") == 0 || name[0] == '*')
        snprintf(host, sizeof(host), "%s", f->dns.zone);
    else
        snprintf(host, sizeof(host), "%s.%s", name, f->dns.zone);
    snprintf(url, len, "%s://%s%s%s%s", p0.scheme, host, p0.port[0] != '\0' ? ":" : "", p0.port, p0.path);
    return 0;
}

/* --- the Lua program --------------------------------------------------------------------------------------- */

static bool has_family(const char *address, int family)
{
    return (strchr(address, ':') != NULL) == (family == AF_INET6);
}

/* The addresses of `family` of region `r`'s edges of tier edge (SIZE_MAX: of every region), as a Lua list:
 * {'10.1.0.10','10.1.0.11'}. */
static void lua_region_set(FILE *out, const edge_fleet_t *f, size_t r, int family)
{
    bool first = true;

    fputc('{', out);
    for (size_t i = 0; i != f->num_edges; ++i) {
        const edge_fleet_edge_t *e = &f->edges[i];
        if ((r != SIZE_MAX && e->region != r) || e->tier != EDGE_FLEET_TIER_EDGE)
            continue;
        for (size_t a = 0; a != e->num_addresses; ++a) {
            if (!has_family(e->addresses[a], family))
                continue;
            fprintf(out, "%s'%s'", first ? "" : ",", e->addresses[a]);
            first = false;
        }
    }
    fputc('}', out);
}

/* The program of a LUA record of `family` (AF_INET for A, AF_INET6 for AAAA), into *code (malloc'd). */
static int lua_program(const edge_fleet_t *f, const char *url, int family, char **code)
{
    size_t len, nets = 0, *order;
    FILE *out;

    for (size_t r = 0; r != f->num_regions; ++r)
        nets += f->regions[r].num_networks;
    /* the networks, most specific first (a stable insertion sort: equal prefixes keep the file's order), so that a
     * region's 10.1.0.0/16 is matched before another's 10.0.0.0/8 */
    if ((order = calloc(nets + 1, sizeof(*order))) == NULL)
        return -1;
    nets = 0;
    for (size_t r = 0; r != f->num_regions; ++r) {
        for (size_t j = 0; j != f->regions[r].num_networks; ++j) {
            size_t id = r << 16 | j, k = nets++;
            for (;
                 k != 0 && f->regions[order[k - 1] >> 16].networks[order[k - 1] & 0xffff].prefix < f->regions[r].networks[j].prefix;
                 --k)
                order[k] = order[k - 1];
            order[k] = id;
        }
    }
    if ((out = open_memstream(code, &len)) == NULL) {
        free(order);
        return -1;
    }
    fprintf(out, ";local u='%s' local o={selector='all',backupSelector='all',timeout='%" PRIu64 "'} local c={", url,
            f->dns.health_interval_s < 2 ? f->dns.health_interval_s : 2);
    for (size_t r = 0; r != f->num_regions; ++r) {
        fprintf(out, "%s{", r == 0 ? "" : ",");
        lua_region_set(out, f, r, family);
        for (size_t k = 0; k != f->regions[r].num_fallback; ++k) {
            fputc(',', out);
            lua_region_set(out, f, f->regions[r].fallback[k], family);
        }
        fputc('}', out);
    }
    /* every address is probed from the first query on, not only once its set is reached: a fallback region's
     * edges are then known up (or down) when they are first needed, instead of being taken as down for one
     * interval, and no check expires while the name is asked for */
    fputs("} ifurlup(u,", out);
    lua_region_set(out, f, SIZE_MAX, family); /* (one set: the first with an address up ends the probing) */
    fputs(",o) local m={", out);
    for (size_t k = 0; k != nets; ++k)
        fprintf(out, "%s{'%s',%zu}", k == 0 ? "" : ",", f->regions[order[k] >> 16].networks[order[k] & 0xffff].text,
                (order[k] >> 16) + 1);
    fputs("} for _,v in ipairs(m) do if netmask({v[1]}) then return ifurlup(u,c[v[2]],o) end end", out);
    /* with a GeoIP database, the countries and continents, after the networks (which are more precise) */
    for (size_t r = 0; f->dns.geoip_database != NULL && r != f->num_regions; ++r) {
        const edge_fleet_region_t *reg = &f->regions[r];
        for (int kind = 0; kind != 2; ++kind) {
            char **codes = kind == 0 ? reg->countries : reg->continents;
            size_t n = kind == 0 ? reg->num_countries : reg->num_continents;
            if (n == 0)
                continue;
            fprintf(out, " if %s({", kind == 0 ? "country" : "continent");
            for (size_t k = 0; k != n; ++k)
                fprintf(out, "%s'%s'", k == 0 ? "" : ",", codes[k]);
            fprintf(out, "}) then return ifurlup(u,c[%zu],o) end", r + 1);
        }
    }
    fprintf(out, " return ifurlup(u,c[%zu],o)", f->dns.default_region + 1);
    free(order);
    if (fclose(out) != 0)
        return -1;
    return 0;
}

/* The program as the zone file's quoted strings, cut only at a ',' or ' ' outside a Lua string. */
static void write_chunks(FILE *out, const char *code)
{
    size_t len = strlen(code), start = 0;

    while (start < len) {
        size_t end = len, cut = 0;
        bool quoted = false;
        if (len - start > CHUNK) {
            for (size_t i = start; i != start + CHUNK; ++i) {
                if (code[i] == '\'')
                    quoted = !quoted;
                else if (!quoted && (code[i] == ',' || code[i] == ' '))
                    cut = i + 1;
            }
            end = cut > start ? cut : start + CHUNK; /* (no such place: a URL of 250 bytes; cut anyway) */
        }
        fprintf(out, " \"%.*s\"", (int)(end - start), code + start);
        start = end;
    }
}

/* --- the zone ---------------------------------------------------------------------------------------------- */

static bool any_family(const edge_fleet_t *f, int family)
{
    for (size_t i = 0; i != f->num_edges; ++i)
        for (size_t a = 0; f->edges[i].tier == EDGE_FLEET_TIER_EDGE && a != f->edges[i].num_addresses; ++a)
            if (has_family(f->edges[i].addresses[a], family))
                return true;
    return false;
}

/* `fqdn` as the zone file writes it: relative inside the zone ("ns1", "@"), else absolute with its dot. */
static void write_name(FILE *out, const char *fqdn, const char *zone)
{
    size_t len = strlen(fqdn), zlen = strlen(zone);

    if (strcmp(fqdn, zone) == 0)
        fputs("@", out);
    else if (len > zlen + 1 && fqdn[len - zlen - 1] == '.' && strcmp(fqdn + len - zlen, zone) == 0)
        fprintf(out, "%.*s", (int)(len - zlen - 1), fqdn);
    else
        fprintf(out, "%s.", fqdn);
}

int edge_dns_zone_write(const edge_fleet_t *f, uint32_t serial, FILE *out, char err[EDGE_FLEET_ERRLEN])
{
    static const int families[] = {AF_INET, AF_INET6};
    char url[512], *code;

    if (f->dns.zone == NULL) {
        snprintf(err, EDGE_FLEET_ERRLEN, "%s: no dns section: the fleet has no zone to write", f->path);
        return -1;
    }
    if (probe_url(f, url, sizeof(url), err) != 0)
        return -1;
    fprintf(out,
            "; The zone %s of the fleet%s%s, written by edgecache dns-zone from %s: edit that file, not this one.\n"
            "; Needs PowerDNS Authoritative with enable-lua-records and edns-subnet-processing (edgecache dns-zone\n"
            "; --pdns-conf). Probe URL of every edge: %s\n"
            "$ORIGIN %s.\n",
            f->dns.zone, f->name != NULL ? " " : "", f->name != NULL ? f->name : "", f->path, url, f->dns.zone);
    /* the SOA's minimum (and its own TTL) bound how long a resolver caches "no such record": dns.ttl, so that
     * a name or an AAAA that appears is seen as soon as a changed answer would be */
    fprintf(out, "@ %" PRIu64 " IN SOA ", f->dns.ttl_s);
    write_name(out, f->dns.nameservers[0].name, f->dns.zone);
    fprintf(out, " hostmaster %" PRIu32 " 300 60 1209600 %" PRIu64 "\n", serial, f->dns.ttl_s);
    for (size_t i = 0; i != f->dns.num_nameservers; ++i) {
        fprintf(out, "@ %d IN NS ", NS_TTL);
        write_name(out, f->dns.nameservers[i].name, f->dns.zone);
        fputc('\n', out);
    }
    for (size_t i = 0; i != f->dns.num_nameservers; ++i) {
        const edge_fleet_ns_t *ns = &f->dns.nameservers[i];
        for (size_t a = 0; a != ns->num_addresses; ++a) {
            write_name(out, ns->name, f->dns.zone);
            fprintf(out, " %d IN %s %s\n", NS_TTL, strchr(ns->addresses[a], ':') != NULL ? "AAAA" : "A", ns->addresses[a]);
        }
    }
    for (size_t k = 0; k != sizeof(families) / sizeof(families[0]); ++k) {
        if (!any_family(f, families[k]))
            continue; /* no AAAA at all rather than an empty answer from a program */
        if (lua_program(f, url, families[k], &code) != 0) {
            snprintf(err, EDGE_FLEET_ERRLEN, "out of memory");
            return -1;
        }
        for (size_t i = 0; i != f->dns.num_names; ++i) {
            fprintf(out, "%s %" PRIu64 " IN LUA %s", f->dns.names[i], f->dns.ttl_s, families[k] == AF_INET ? "A" : "AAAA");
            write_chunks(out, code);
            fputc('\n', out);
        }
        free(code);
    }
    if (fflush(out) != 0 || ferror(out)) {
        snprintf(err, EDGE_FLEET_ERRLEN, "write error: %s", strerror(errno));
        return -1;
    }
    return 0;
}

int edge_dns_zone_write_pdns_conf(const edge_fleet_t *f, FILE *out)
{
    size_t nets = 0;

    for (size_t r = 0; r != f->num_regions; ++r)
        nets += f->regions[r].num_networks + f->regions[r].num_countries + f->regions[r].num_continents;
    fprintf(out,
            "# PowerDNS settings for the zone %s, written by edgecache dns-zone from %s.\n"
            "# A drop-in for /etc/powerdns/pdns.d/ beside Debian's bind.conf (launch+=bind, bind-config=named.conf).\n"
            "enable-lua-records=yes\n"
            "# the client's own subnet, when its resolver sends one, decides its region\n"
            "edns-subnet-processing=yes\n"
            "# every edge's healthz is probed this often (seconds): an edge that fails is no longer answered after it\n"
            "lua-health-checks-interval=%" PRIu64 "\n"
            "# a check that no query used for this long stops; the next query answers every edge until it is probed\n"
            "lua-health-checks-expire-delay=%d\n"
            "# the records loop over the fleet's networks: room for a few Lua instructions each\n"
            "lua-records-exec-limit=%zu\n",
            f->dns.zone, f->path, f->dns.health_interval_s, HEALTH_EXPIRE_DELAY, nets * 20 + 1000);
    if (f->dns.geoip_database != NULL) {
        /* PowerDNS resolves a relative path from its own working directory: make it absolute when the file is here */
        char *abs = realpath(f->dns.geoip_database, NULL);
        fprintf(out,
                "# countries and continents come from the GeoIP backend (Debian: pdns-backend-geoip), which answers no\n"
                "# zone itself here\n"
                "launch+=geoip\n"
                "geoip-database-files=mmdb:%s\n",
                abs != NULL ? abs : f->dns.geoip_database);
        free(abs);
    }
    return fflush(out) != 0 || ferror(out) ? -1 : 0;
}

/* --- the command ------------------------------------------------------------------------------------------- */

/* Writes `path` whole, then renames it into place: PowerDNS may read it at any moment. */
static int write_file(const char *path, const edge_fleet_t *f, uint32_t serial, int what, const char *zonefile)
{
    char tmp[4096], err[EDGE_FLEET_ERRLEN] = "";
    FILE *out;
    int r;

    snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
    if ((out = fopen(tmp, "w")) == NULL) {
        fprintf(stderr, "edgecache dns-zone: %s: %s\n", tmp, strerror(errno));
        return 1;
    }
    if (what == 0)
        r = edge_dns_zone_write(f, serial, out, err);
    else if (what == 1)
        r = edge_dns_zone_write_pdns_conf(f, out);
    else
        r = fprintf(out, "zone \"%s\" { type master; file \"%s\"; };\n", f->dns.zone, zonefile) < 0 ? -1 : 0;
    if (fclose(out) != 0 && r == 0) {
        r = -1;
        snprintf(err, sizeof(err), "%s", strerror(errno));
    }
    if (r == 0 && rename(tmp, path) != 0) {
        r = -1;
        snprintf(err, sizeof(err), "%s", strerror(errno));
    }
    if (r != 0) {
        unlink(tmp);
        fprintf(stderr, "edgecache dns-zone: %s: %s\n", path, err[0] != '\0' ? err : "write error");
        return 1;
    }
    return 0;
}

int edge_dns_zone_cli_main(int argc, char **argv)
{
    const char *zonefile = NULL, *pdns_conf = NULL, *named_conf = NULL;
    unsigned long serial = (unsigned long)time(NULL);
    const edge_cli_opt_t opts[] = {{.name = "output", .letter = 'o', .kind = EDGE_CLI_STRING, .dest = &zonefile},
                                   {.name = "pdns-conf", .kind = EDGE_CLI_STRING, .dest = &pdns_conf},
                                   {.name = "named-conf", .kind = EDGE_CLI_STRING, .dest = &named_conf},
                                   {.name = "serial", .kind = EDGE_CLI_UINT, .dest = &serial, .min = 1, .max = UINT32_MAX},
                                   {0}};
    const edge_cli_t cli = {
        .prog = "edgecache dns-zone", .usage = usage, .opts = opts, .args_name = "FLEET", .min_args = 1, .max_args = 1};
    char err[EDGE_FLEET_ERRLEN], *abs = NULL;
    edge_fleet_t *f;
    int nargs, ret;

    if ((ret = edge_cli_parse(&cli, argc, argv, &nargs)) != EDGE_CLI_CONTINUE)
        return ret;
    if (named_conf != NULL && zonefile == NULL)
        return edge_cli_usage_error(&cli, "--named-conf needs -o ZONEFILE, which it names");
    if ((f = edge_fleet_load(argv[1], err)) == NULL) {
        fprintf(stderr, "%s\n", err);
        return 2;
    }
    /* what the fleet file itself makes impossible is a configuration error (2), found before any file is written */
    char url[512];
    if (f->dns.zone == NULL)
        snprintf(err, sizeof(err), "%s: no dns section: the fleet has no zone to write", f->path);
    if (f->dns.zone == NULL || probe_url(f, url, sizeof(url), err) != 0) {
        fprintf(stderr, "edgecache dns-zone: %s\n", err);
        edge_fleet_free(f);
        return 2;
    }
    if (zonefile == NULL) {
        ret = edge_dns_zone_write(f, (uint32_t)serial, stdout, err) == 0 ? 0 : 1;
        if (ret != 0)
            fprintf(stderr, "edgecache dns-zone: %s\n", err);
    } else {
        ret = write_file(zonefile, f, (uint32_t)serial, 0, NULL);
    }
    if (ret == 0 && pdns_conf != NULL)
        ret = write_file(pdns_conf, f, (uint32_t)serial, 1, NULL);
    if (ret == 0 && named_conf != NULL) {
        /* the bind backend reads the path as written, from its own working directory: make it absolute */
        if ((abs = realpath(zonefile, NULL)) == NULL) {
            fprintf(stderr, "edgecache dns-zone: %s: %s\n", zonefile, strerror(errno));
            ret = 1;
        } else {
            ret = write_file(named_conf, f, (uint32_t)serial, 2, abs);
        }
    }
    free(abs);
    edge_fleet_free(f);
    return ret;
}
