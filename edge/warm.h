/*
 * edge/warm.h: `edgecache warm`, which prefetches a list of URLs through an edge so that they are in its
 * cache before clients ask for them (a new edge, or one whose cache was lost or purged).
 *
 *   edgecache warm [-c FILE] [--edge ADDR:PORT] [--concurrency N] [--timeout S] [-H 'Name: value']... LIST
 *
 * LIST holds one URL per line ("-": standard input): an absolute http:// or https:// URL, whose host
 * becomes the Host header, or a path "/p?q", sent with the Host of -H 'Host: …' or else the edge's
 * address. Every request goes to the edge's cleartext listener, https:// ones included: the cache key is
 * the path and query, not the scheme, so the object warmed is the one that HTTPS clients get. Blank lines
 * and lines starting with '#' are skipped; a URL listed twice (same host and target) is fetched once.
 * See docs/warm-and-purge.md.
 */
#ifndef EDGE_WARM_H
#define EDGE_WARM_H

/**
 * Runs the subcommand; `argv[0]` is "warm". Reads and checks the whole list first (a bad line is a usage
 * error that names its line number, before any request), then GETs every URL with N worker threads,
 * each on its own kept-alive connection, discarding the bodies. When stderr is a terminal, a progress
 * bar is drawn there. The summary and the failed URLs (the first 50, in list order) go to stdout.
 *
 * A URL is warmed when its response is 2xx or 3xx with a complete body and is not an error page
 * (X-Cache: ERROR); it counts as "already cached" when X-Cache is HIT, else as "fetched".
 *
 * The first SIGINT or SIGTERM stops the run after the requests in flight (the report then counts the URLs
 * not attempted); the handler is reset, so a second one kills the process.
 *
 * Returns the exit status: 0 every URL was warmed; 1 at least one failed, the run was interrupted, or it
 * could not start (out of memory, no thread); 2 a usage error (bad flag, unreadable list or
 * configuration, bad line).
 * Call once, from the main thread; it starts and joins its own threads. Memory: the list (its text,
 * absolute URLs about twice, plus about 64 bytes per URL) and one connection buffer and response head
 * (24 KiB) per worker.
 */
int edge_warm_main(int argc, char **argv);

#endif
