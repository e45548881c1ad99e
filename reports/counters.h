/*
 * reports/counters.h: every counter edgecache keeps, declared once.
 *
 * Each X(name, cache, description) line becomes a field of reports_counters_t, an entry of the table
 * that reports/stats.c walks to print or export them (the Prometheus metric edgecache_<name>_total, the
 * "counters:" log line), and a line of the documentation (docs/metrics.md is checked against it). A
 * counter whose `cache` is not "" counts responses of that cache status and is also exported as
 * edgecache_responses_total{cache="..."}. Counters live per thread (no lock, no atomic on the hit path)
 * and are summed when read.
 */
#ifndef REPORTS_COUNTERS_H
#define REPORTS_COUNTERS_H

#include <stdint.h>

#define REPORTS_COUNTERS(X)                                                                                                        \
    X(requests, "", "client requests received")                                                                                    \
    X(hits, "hit", "requests answered from a fresh stored object")                                                                 \
    X(misses, "miss", "responses the origin sent because nothing usable was stored (X-Cache: MISS)")                               \
    X(revalidated, "revalidated", "stale objects the origin confirmed with 304 Not Modified")                                      \
    X(stale_served, "stale", "stale objects served because the origin failed")                                                     \
    X(passes, "pass", "requests forwarded without using the cache (methods, Authorization)")                                       \
    X(errors, "error", "responses that were an error page or a synthetic error")                                                   \
    X(bad_requests, "", "requests refused as malformed")                                                                           \
    X(collapsed, "", "misses that joined a fetch of the same object already in flight")                                            \
    X(origin_requests, "", "requests sent to origins")                                                                             \
    X(origin_failures, "", "origin exchanges that failed before a response (connect error, timeout, reset)")                       \
    X(origin_pool_full, "", "origin requests refused at once because every server's connection cap was reached")                   \
    X(stored_objects, "", "responses queued for storage")                                                                          \
    X(corrupt_records, "", "stored records found corrupt, treated as misses and replaced")                                         \
    X(body_bytes_sent, "", "response body bytes sent to clients")                                                                  \
    X(hit_bytes_sent, "", "response body bytes sent to clients from stored objects")                                               \
    X(origin_bytes, "", "response body bytes received from origins")                                                               \
    X(purges, "", "invalidations requested (admin API and PURGE method)")                                                          \
    X(background_fetches_dropped, "",                                                                                              \
      "fetches cancelled when their last client left because limits.background_fetches were running")                              \
    X(h2_resets, "", "HTTP/2 requests ended by the client (stream reset, connection closed) before their response was complete")   \
    X(h2_abusive_closes, "", "HTTP/2 connections closed for resetting more than limits.h2_reset_limit streams in the window")

typedef struct st_reports_counters_t {
#define REPORTS_COUNTER_FIELD(name, cache, desc) uint64_t name;
    REPORTS_COUNTERS(REPORTS_COUNTER_FIELD)
#undef REPORTS_COUNTER_FIELD
} reports_counters_t;

/* Origin latency (request sent to response head), as a histogram with these upper bounds in ms, plus +Inf. */
#define REPORTS_LATENCY_BOUNDS_MS 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000
#define REPORTS_LATENCY_NUM_BOUNDS 14

typedef struct st_reports_latency_t {
    uint64_t buckets[REPORTS_LATENCY_NUM_BOUNDS + 1]; /* not cumulative; the last is +Inf */
    uint64_t count;
    uint64_t sum_ms;
} reports_latency_t;

#endif
