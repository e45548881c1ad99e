/*
 * edge/prom_targets_cli.h: `edgecache prometheus-targets`, the Prometheus scrape configuration of a fleet.
 *
 *   edgecache prometheus-targets fleet.yaml [-o FILE] [--rules FILE]... [--file-sd]
 *
 * It turns the fleet file (edge/fleet.h) into what Prometheus needs to scrape every edge's admin /metrics:
 * by default a whole prometheus.yml (global intervals, the rule files, one scrape job per admin token file
 * with `authorization: {type: Bearer, credentials_file: ...}`, a static target per edge labelled with its
 * edge, region and tier); with --file-sd, the targets alone as a file_sd JSON list, for an existing job
 * that holds the authorization. The admin API answers /metrics only with its bearer token (edge/admin.c),
 * so an edge whose fleet entry names no token file cannot be scraped: it is still listed, in a job without
 * authorization, and a warning says so. docs/monitoring/README.md shows both forms.
 */
#ifndef EDGE_PROM_TARGETS_CLI_H
#define EDGE_PROM_TARGETS_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include "edge/fleet.h"

typedef struct st_edge_prom_targets_opts_t {
    const char *const *rules; /* the rule_files entries, as written (Prometheus resolves them against the
                               * directory of prometheus.yml); NULL with num_rules 0: none */
    size_t num_rules;
    bool file_sd; /* write the file_sd JSON list instead of a prometheus.yml */
} edge_prom_targets_opts_t;

/**
 * Writes the configuration of `fleet` to `out` as `opts` says, and a warning line on `warn` (may be NULL)
 * for each edge without a token file. A relative token file is made absolute against the current
 * directory, since Prometheus would resolve it against its own configuration's. The output depends on
 * nothing else: the same fleet gives the same bytes. Returns 0, or -1 when `out` fails.
 */
int edge_prom_targets_write(FILE *out, FILE *warn, const edge_fleet_t *fleet, const edge_prom_targets_opts_t *opts);

/**
 * Runs the subcommand; `argv[0]` is "prometheus-targets". Loads the fleet file, writes to stdout or to
 * -o FILE (through a temporary file renamed into place, so that Prometheus, which watches file_sd files,
 * never reads half of one). --rules defaults to one entry, "rules.yml". Returns the exit status: 0 done,
 * 1 the output could not be written, 2 a usage error or a fleet file that does not load
 * ("file:line:col: message" on stderr). Main thread; blocking.
 */
int edge_prom_targets_cli_main(int argc, char **argv);

#endif
