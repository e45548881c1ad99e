/*
 * edge/purge_cli.h: `edgecache purge`, the command-line client of the admin API's invalidations.
 *
 *   edgecache purge [-c FILE] [--admin ADDR:PORT] [--token-file F] (URL | --prefix P | --tag T)
 *                   [--soft] [--no-wait] [--timeout S]
 *
 * The contract with the admin listener (edge/admin.c):
 *   POST /purge, "Authorization: Bearer TOKEN", application/x-www-form-urlencoded body with exactly one
 *   of url=, prefix=, tag= and optionally soft=1 → 202 with a JSON object
 *   {"id":"17","type":"url","target":"/a","soft":false,"status":"pending","objects":0};
 *   GET /purge/ID → 200 with the same object, "status":"done" and the final "objects" once finished.
 *   401 for a missing or wrong token, 400 (with a message) for a bad body, 404 for an unknown id.
 * See docs/warm-and-purge.md.
 */
#ifndef EDGE_PURGE_CLI_H
#define EDGE_PURGE_CLI_H

/**
 * Runs the subcommand; `argv[0]` is "purge". Posts the invalidation, prints "purge ID accepted: TYPE
 * TARGET" on stdout, then (without --no-wait) polls its status every 100 ms until it is done and prints
 * "purge ID done: N objects". The admin address and token come from the flags, else from the
 * configuration given with -c (admin.listen, admin.token_file).
 *
 * Returns the exit status: 0 accepted (and, when waiting, done); 1 an HTTP error (its status and body
 * are printed on stderr), a connection error, or no completion within the timeout (default 30 s);
 * 2 a usage error (flags, configuration, token file, no admin address). Main thread; blocking.
 */
int edge_purge_cli_main(int argc, char **argv);

#endif
