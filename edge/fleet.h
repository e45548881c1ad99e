/*
 * edge/fleet.h: the fleet file (fleet.yaml), the one description of a fleet of edges that the fleet-wide
 * commands share: `edgecache dns-zone` (nearest-edge DNS on PowerDNS), `edgecache purge --fleet`,
 * `edgecache report --fleet` and `edgecache prometheus-targets`. `edgecache check` validates it.
 *
 * The file, in short (docs/fleet.md has the whole reference):
 *
 *   name: example-cdn                 # optional; what reports and dashboards call the fleet
 *   admin_token_file: /etc/edgecache/fleet-token   # optional; the admin token of every edge
 *   dns:
 *     zone: cdn.example.net           # the zone the PowerDNS servers are authoritative for
 *     names: ["@", www, static]       # the names (relative to the zone) answered with the nearest edges
 *     ttl: 20s                        # the TTL of those answers (default 20s)
 *     health_interval: 2s             # how often PowerDNS probes each edge's /healthz (default 2s)
 *     default_region: eu              # clients in no region's networks (default: the first region)
 *     nameservers:                    # required: the zone's NS records, with their addresses (glue; required
 *       - {name: ns1.cdn.example.net, addresses: [192.0.2.53]}   # for a name inside the zone)
 *     geoip_database: /var/lib/GeoIP/GeoLite2-City.mmdb   # optional; enables countries/continents below
 *   regions:
 *     - name: eu
 *       networks: [10.1.0.0/16, "2001:db8:1::/48"]   # host bits must be clear; a network is in one region
 *       fallback: [us]                # the regions to answer with, in order, when none of eu's edges is up
 *       countries: [FR, DE]           # optional, with dns.geoip_database: clients located there (ISO 3166)
 *       continents: [EU]              # optional, likewise (AF, AN, AS, EU, NA, OC, SA)
 *   edges:
 *     - name: eu-1
 *       region: eu
 *       tier: edge                    # edge (default: answered in DNS) or parent (serves other edges only)
 *       addresses: [10.1.0.10, "2001:db8:1::10"]   # public addresses: what DNS answers, where /healthz is
 *       admin: 10.1.0.10:9090         # the admin API
 *       token_file: ...               # optional; overrides admin_token_file for this edge
 *       healthz: http://10.1.0.10/edgecache/healthz   # optional; the default is built from addresses[0]
 *
 * Without a `dns` section the fleet loads (purge, reports and Prometheus need none) and dns.zone is NULL.
 * A region's DNS chain is the region itself, then each region of its fallback list in order, each with its own
 * edges of tier edge (a fallback's fallbacks are not followed: the chain is what the operator reads).
 *
 * The invariant the loader keeps: a fleet that loads is consistent. Names (edges, regions) are unique, every
 * region an edge or a fallback names exists, a fallback never names its own region, every address and
 * network is a numeric literal of the right family (an address is on one edge only), and every region has at
 * least one edge of tier edge or a fallback region that has one. Anything else is refused with
 * "file:line:col: message" at the node at fault.
 *
 * Every function here blocks (the loader and the token read files) and keeps no state between calls: any
 * thread may call them, the subcommands from main's thread. A loaded fleet is never changed: threads may share it.
 */
#ifndef EDGE_FLEET_H
#define EDGE_FLEET_H

#include <stddef.h>
#include <stdint.h>

#define EDGE_FLEET_ERRLEN 512
/* The path of the default healthz URL: edgecache's own default admin.healthz_path, on the client listeners. */
#define EDGE_FLEET_HEALTHZ_PATH "/edgecache/healthz"

typedef enum en_edge_fleet_tier_t {
    EDGE_FLEET_TIER_EDGE,   /* serves clients; answered by DNS */
    EDGE_FLEET_TIER_PARENT, /* serves other edges; never answered by DNS; purged first */
} edge_fleet_tier_t;

typedef struct st_edge_fleet_network_t {
    int family;       /* AF_INET or AF_INET6 */
    uint8_t addr[16]; /* the network address, host bits cleared */
    unsigned prefix;  /* 0..32 or 0..128 */
    char *text;       /* as written, normalised: "10.1.0.0/16" */
} edge_fleet_network_t;

typedef struct st_edge_fleet_region_t {
    char *name;
    edge_fleet_network_t *networks;
    size_t num_networks;
    size_t *fallback; /* indexes into edge_fleet_t.regions, in order */
    size_t num_fallback;
    char **countries; /* upper-case ISO 3166-1 alpha-2 codes, for the GeoIP database */
    size_t num_countries;
    char **continents; /* upper-case continent codes (EU, NA, ...) */
    size_t num_continents;
} edge_fleet_region_t;

typedef struct st_edge_fleet_edge_t {
    char *name;
    size_t region; /* index into edge_fleet_t.regions */
    edge_fleet_tier_t tier;
    char **addresses; /* numeric IPv4 and IPv6 literals, as written */
    size_t num_addresses;
    char *admin;      /* "ADDR:PORT" of the admin API */
    char *token_file; /* resolved against the fleet file's directory; NULL: the fleet's, or none */
    char *healthz;    /* the URL PowerDNS probes */
} edge_fleet_edge_t;

typedef struct st_edge_fleet_ns_t {
    char *name; /* fully qualified, no trailing dot */
    char **addresses;
    size_t num_addresses;
} edge_fleet_ns_t;

typedef struct st_edge_fleet_t {
    char *path; /* the file it was loaded from */
    char *name; /* NULL when the file names none */
    char *admin_token_file;
    struct {
        char *zone;   /* no trailing dot, lower case */
        char **names; /* relative to the zone; "@" is the apex */
        size_t num_names;
        uint64_t ttl_s;
        uint64_t health_interval_s;
        size_t default_region;
        edge_fleet_ns_t *nameservers; /* at least one */
        size_t num_nameservers;
        char *geoip_database; /* resolved against the fleet file's directory; NULL when none */
    } dns;                    /* without a dns section: zone NULL and every other member 0 */
    edge_fleet_region_t *regions;
    size_t num_regions;
    edge_fleet_edge_t *edges; /* in file order */
    size_t num_edges;
} edge_fleet_t;

/**
 * Loads and validates the fleet file at `path`. Returns the fleet (free it with edge_fleet_free), or NULL
 * with "path:line:col: message" (or "path: message" when the file cannot be read) in `err`.
 */
edge_fleet_t *edge_fleet_load(const char *path, char err[EDGE_FLEET_ERRLEN]);

/**
 * As edge_fleet_load, from `text` (`len` bytes) named `name` in messages (and fleet->path), with relative paths
 * resolved against `basedir` (NULL: as written).
 */
edge_fleet_t *edge_fleet_parse(const char *name, const char *basedir, const char *text, size_t len, char err[EDGE_FLEET_ERRLEN]);

/** Frees what edge_fleet_load returned; NULL is a no-op. */
void edge_fleet_free(edge_fleet_t *fleet);

/** The edge named `name`, or NULL. The pointer lives as long as the fleet. */
const edge_fleet_edge_t *edge_fleet_find_edge(const edge_fleet_t *fleet, const char *name);

/** The region named `name`, or NULL. The pointer lives as long as the fleet. */
const edge_fleet_region_t *edge_fleet_find_region(const edge_fleet_t *fleet, const char *name);

/**
 * The admin token of `edge` (its token_file, else the fleet's admin_token_file), read and with its trailing
 * newline removed, malloc'd into *token; *token is NULL when neither is set. Returns 0, or -1 with a message
 * naming the file in `err` (unreadable, empty, or holding a NUL byte).
 */
int edge_fleet_edge_token(const edge_fleet_t *fleet, const edge_fleet_edge_t *edge, char **token, char err[EDGE_FLEET_ERRLEN]);

/**
 * True when `path` looks like a fleet file (valid YAML whose top-level mapping has `edges`), for `edgecache
 * check`; a file that cannot be read or parsed is not one (check then reports it as a configuration).
 */
int edge_fleet_is_fleet_file(const char *path);

#endif
