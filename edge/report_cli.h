/*
 * edge/report_cli.h: the `edgecache report` subcommand (edge/report_cli.c), a client of reports/report.h.
 */
#ifndef EDGE_REPORT_CLI_H
#define EDGE_REPORT_CLI_H

/**
 * Runs `edgecache report ...`: `argv[0]` is "report", `argv[1]` the report's name, then its flags (see
 * the usage text). Writes the report to stdout (or -o FILE), errors to stderr. Returns the exit status:
 * 0 success, 1 a runtime failure (no store, unreadable merge input, a duplicate edge, an edge of --fleet
 * unreachable without --allow-partial, output error), 2 a usage error (also a fleet file that does not load).
 * Main thread; blocking (with --fleet, one admin request after the other, each bounded by --timeout).
 */
int edge_report_cli_main(int argc, char **argv);

#endif
