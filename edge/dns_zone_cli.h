/*
 * edge/dns_zone_cli.h: `edgecache dns-zone`, the nearest-edge DNS zone of a fleet for PowerDNS Authoritative
 * (4.7, bind backend, LUA records).
 *
 *   edgecache dns-zone FLEET [-o ZONEFILE] [--pdns-conf FILE] [--named-conf FILE] [--serial N]
 *
 * For each name of dns.names it writes a LUA A and a LUA AAAA record (the AAAA only when some edge has an IPv6
 * address) that answers a client with the edges (tier edge) of its region that pass their health check, then,
 * when none does, those of each region of the fallback list in order. The client's region is the most specific
 * of the fleet's networks that holds `bestwho` (the EDNS Client Subnet when the resolver sends one, else the
 * resolver's address), then, with dns.geoip_database, the first region whose countries or continents hold it;
 * any other client gets dns.default_region's chain. PowerDNS probes every edge's healthz URL each
 * dns.health_interval (`ifurlup`); edgecache answers 503 there while it drains, which PowerDNS counts as down.
 *
 * What PowerDNS does at the edges of that behaviour (docs/fleet.md says more): before the first probe of an
 * address completes, and when every edge of a chain is down, it answers every address of the chain.
 */
#ifndef EDGE_DNS_ZONE_CLI_H
#define EDGE_DNS_ZONE_CLI_H

#include <stdint.h>
#include <stdio.h>
#include "edge/fleet.h"

/**
 * Writes the zone of `fleet` (which must have a dns section) to `out`, with SOA serial `serial`. Returns 0, or
 * -1 with the reason in `err` (a fleet without dns; edges whose healthz URLs differ in scheme, port or path,
 * which one LUA record cannot probe; a write error). Any thread; blocking only on `out`.
 */
int edge_dns_zone_write(const edge_fleet_t *fleet, uint32_t serial, FILE *out, char err[EDGE_FLEET_ERRLEN]);

/**
 * Writes the PowerDNS settings the zone needs (LUA records, EDNS Client Subnet, the health checks' interval;
 * the GeoIP backend with dns.geoip_database) to `out`, as a drop-in for pdns.d/ beside a bind backend that is
 * already launched. Returns 0, or -1 on a write error.
 */
int edge_dns_zone_write_pdns_conf(const edge_fleet_t *fleet, FILE *out);

/**
 * Runs the subcommand; `argv[0]` is "dns-zone". Without -o the zone goes to stdout; with it, and with
 * --pdns-conf and --named-conf, each file is written whole and renamed into place, so that PowerDNS never
 * reads half a file. Returns the exit status: 0 written, 1 a file could not be written, 2 a usage error or a
 * fleet file that does not validate (printed as "file:line:col: message"). Main thread; blocking.
 */
int edge_dns_zone_cli_main(int argc, char **argv);

#endif
