/*
 * edge/purge_fleet.h: `edgecache purge --fleet FLEET.yaml`, one invalidation on every edge of a fleet
 * (edge/fleet.h), in the order that keeps a stale copy from coming back.
 *
 * The order: every edge of tier parent at once (a thread each), and only when all of them are done, every edge
 * of tier edge at once. A child that was purged while its parent still held the old object would fetch it again
 * from that parent; so when a parent fails, no child is purged, and the output says so.
 *
 * The output: one table on stdout (edge, tier, invalidation id, status, objects, time in ms). When an edge
 * failed or was skipped, stderr names them, and stdout ends with the command that purges only those
 * ("retry: edgecache purge --fleet F --edges a,b ..."): the failed parents and their skipped children, in the
 * same order again.
 */
#ifndef EDGE_PURGE_FLEET_H
#define EDGE_PURGE_FLEET_H

#include <stdbool.h>
#include <stdint.h>

typedef struct st_edge_purge_fleet_t {
    const char *fleet_path; /* the fleet file */
    const char *edges;      /* "a,b": only these edges of the fleet; NULL: all */
    const char *kind;       /* "url", "prefix" or "tag" */
    const char *target;
    const char *site; /* NULL: none */
    bool soft;
    uint64_t timeout_ms;     /* per edge, from the POST to "done" */
    unsigned long timeout_s; /* as given, for the retry command (default 30: not repeated) */
} edge_purge_fleet_t;

/**
 * Runs the fleet purge `f` describes (the caller checked the target) and prints its table. Returns the exit
 * status: 0 every selected edge done; 1 any failed or was skipped (named on stderr, with the retry command on
 * stdout); 2 the fleet file does not load, or --edges names an edge it does not have. Main thread; blocks
 * until every started purge has ended (at most two timeouts: one per tier).
 */
int edge_purge_fleet_run(const edge_purge_fleet_t *f);

#endif
