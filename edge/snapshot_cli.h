/*
 * edge/snapshot_cli.h: `edgecache snapshot`, a consistent, compacted copy of a cache directory.
 *
 *   edgecache snapshot [-c FILE | --cache-dir DIR] DEST
 *
 * It opens the cache read-only beside the running edge (or after it stopped) and copies it in one LMDB
 * read transaction, so the copy is one committed state of the store, without the free pages. A new edge
 * started with cache.path = DEST serves the copied objects as hits at once: the way to warm a new node.
 */
#ifndef EDGE_SNAPSHOT_CLI_H
#define EDGE_SNAPSHOT_CLI_H

/**
 * Runs the subcommand; `argv[0]` is "snapshot". The cache directory is --cache-dir, else cache.path of
 * the configuration given with -c, else the default "edgecache-cache". DEST must be new or empty.
 * Prints "snapshot of DIR in DEST: N objects, X MiB in S s". Returns the exit status: 0 done, 1 the copy
 * failed (no cache, DEST not empty, I/O), 2 a usage or configuration error. Main thread; blocking.
 */
int edge_snapshot_cli_main(int argc, char **argv);

#endif
