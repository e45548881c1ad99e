/*
 * reports/counters.h: every counter edgecache keeps, declared once.
 *
 * Each X(name, description) line becomes a field of reports_counters_t, an entry of the table that
 * reports/stats.c walks to print or export them, and a line of the documentation. Counters live per
 * thread (no lock, no atomic on the hit path) and are summed when read.
 */
#ifndef REPORTS_COUNTERS_H
#define REPORTS_COUNTERS_H

#include <stdint.h>

#define REPORTS_COUNTERS(X)                                                                                                        \
    X(requests, "client requests received")                                                                                        \
    X(hits, "requests answered from a fresh stored object")                                                                        \
    X(misses, "requests forwarded to the origin because nothing usable was stored")                                                \
    X(revalidated, "stale objects the origin confirmed with 304 Not Modified")                                                     \
    X(stale_served, "stale objects served because the origin failed")                                                              \
    X(passes, "requests forwarded without using the cache (methods, Authorization)")                                               \
    X(errors, "responses that were an error page or a synthetic error")                                                            \
    X(bad_requests, "requests refused as malformed")                                                                               \
    X(collapsed, "misses that joined a fetch of the same object already in flight")                                                \
    X(origin_requests, "requests sent to origins")                                                                                 \
    X(origin_failures, "origin exchanges that failed (connect, timeout, reset, truncated body)")                                   \
    X(stored_objects, "responses queued for storage")                                                                              \
    X(corrupt_records, "stored records found corrupt, treated as misses and replaced")                                             \
    X(body_bytes_sent, "response body bytes sent to clients")

typedef struct st_reports_counters_t {
#define REPORTS_COUNTER_FIELD(name, desc) uint64_t name;
    REPORTS_COUNTERS(REPORTS_COUNTER_FIELD)
#undef REPORTS_COUNTER_FIELD
} reports_counters_t;

#endif
