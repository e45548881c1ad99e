/*
 * edge/purge_int.h: one invalidation on one edge, shared by `edgecache purge` (edge/purge_cli.c) and its fleet
 * form (edge/purge_fleet.c). Not a public interface: only those two include it.
 */
#ifndef EDGE_PURGE_INT_H
#define EDGE_PURGE_INT_H

#include <stdbool.h>
#include <stdint.h>
#include "edge/httpc.h"

#define EDGE_PURGE_RESPONSE_MAX 4096 /* the JSON the admin API answers is a few hundred bytes */

typedef struct st_edge_purge_t {
    /* set by the caller */
    const char *kind; /* "url", "prefix" or "tag": the form field */
    const char *target;
    bool soft;
    const char *site;   /* --site NAME: only that site's hosts; NULL: a URL's own host, or every host */
    unsigned targets;   /* how many of URL, --prefix, --tag were given: exactly one is valid */
    char hostport[300]; /* the admin listener, also the Host header */
    char *token;        /* NULL: no Authorization header (the API will answer 401) */
    bool quiet;         /* print nothing: the fleet form prints a table of the results instead */
    edge_httpc_t conn;  /* initialised (edge_httpc_init) by the caller */
    /* set by edge_purge_run */
    char id[64];      /* the invalidation's id; "" when none was given */
    char objects[32]; /* the objects it removed (or marked stale), once done */
    char why[600];    /* why it failed, as one line; "" on success */
    /* private */
    edge_httpc_response_t res;
    char body[EDGE_PURGE_RESPONSE_MAX];
} edge_purge_t;

/**
 * Posts the invalidation `p` describes and, when `wait`, polls its status every 100 ms until it is done, within
 * `timeout_ms` in all. Unless p->quiet, prints "purge ID accepted: ..." and "purge ID done: N objects" on stdout and
 * the failure on stderr. Returns 0 when accepted (and done, when waiting), 1 otherwise (p->why says why). Blocking;
 * any thread, one `p` per thread.
 */
int edge_purge_run(edge_purge_t *p, bool wait, uint64_t timeout_ms);

#endif
