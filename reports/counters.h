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
    X(h2_abusive_closes, "", "HTTP/2 connections closed for resetting more than limits.h2_reset_limit streams in the window")      \
    X(send_timeouts, "", "HTTP/1 connections closed because the client took nothing of a response for limits.send_timeout")        \
    X(https_redirects, "", "cleartext requests redirected to https:// (viewer_protocol_policy: redirect_to_https)")                \
    X(https_refused, "", "cleartext requests refused with 403 (viewer_protocol_policy: https_only)")                               \
    X(tls_handshakes, "", "TLS handshakes completed on the client listeners")                                                      \
    X(tls12_handshakes, "", "TLS handshakes completed with TLS 1.2")                                                               \
    X(tls13_handshakes, "", "TLS handshakes completed with TLS 1.3")                                                               \
    X(tls_resumed_handshakes, "", "TLS handshakes completed that resumed an earlier session (ticket or session id)")               \
    X(tls_failures_no_shared_cipher, "", "TLS handshakes refused for want of a cipher both sides accept")                          \
    X(tls_failures_protocol_version, "", "TLS handshakes refused for want of a protocol version both sides accept")                \
    X(tls_failures_unknown_sni, "", "TLS handshakes refused because the client named no site's host (unknown_sni: refuse)")        \
    X(tls_failures_other, "", "TLS handshakes ended by any other fatal alert, sent or received (a client refusing our certificate)")

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

/* Latency histograms of the metrics (origin latency, client request duration), in microseconds so that
 * the _sum keeps sub-millisecond precision; these upper bounds, plus +Inf, are exported in seconds. (The
 * stored reports keep their own millisecond histogram, reports_latency_t: its layout is on disk.) */
#define REPORTS_HIST_BOUNDS_US                                                                                                     \
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000,   \
        60000000
#define REPORTS_HIST_NUM_BOUNDS 18

typedef struct st_reports_hist_t {
    uint64_t buckets[REPORTS_HIST_NUM_BOUNDS + 1]; /* not cumulative; the last is +Inf */
    uint64_t count;
    uint64_t sum_us;
} reports_hist_t;

/* Per-behavior counters, exported as edgecache_behavior_<name>_total{behavior="<path pattern>"}. Hits and
 * misses are the reports' classes (reports/accounting.h): a hit's body came from the cache (fresh, stale
 * or revalidated), a miss's from the origin (miss, refresh, pass); the rest (errors, refused requests) is
 * neither. They are counted when the request ends, with its client-side duration. */
#define REPORTS_BEHAVIOR_COUNTERS(X)                                                                                               \
    X(requests, "client requests by behavior, counted when they end")                                                              \
    X(hits, "requests by behavior whose body came from the cache (fresh, stale or revalidated)")                                   \
    X(misses, "requests by behavior whose body came from the origin (miss, refresh, pass)")                                        \
    X(body_bytes_sent, "response body bytes sent to clients, by behavior")                                                         \
    X(hit_bytes_sent, "response body bytes sent to clients from the cache, by behavior")                                           \
    X(origin_bytes, "response body bytes received from origins for the requests of a behavior")                                    \
    X(status_5xx, "responses by behavior with a 5xx status (the edge's own error answers and an origin's 5xx passed on)")

/* A request's cache outcome class, the `cache` label of edgecache_request_duration_seconds. */
typedef enum en_reports_class_t { REPORTS_CLASS_HIT, REPORTS_CLASS_MISS, REPORTS_CLASS_OTHER, REPORTS_NUM_CLASSES } reports_class_t;

/* Behaviors with labels of their own in the metrics; the others, and requests without a cache answer
 * (refused as malformed, PURGE, ended by the client before an answer), are counted under
 * behavior="other". Bounds the label count: at most (64 + 1) behaviors x 3 classes x 21 series for the
 * request histogram. */
#define REPORTS_METRICS_MAX_BEHAVIORS 64

typedef struct st_reports_behavior_stats_t {
#define REPORTS_BEHAVIOR_COUNTER_FIELD(name, desc) uint64_t name;
    REPORTS_BEHAVIOR_COUNTERS(REPORTS_BEHAVIOR_COUNTER_FIELD)
#undef REPORTS_BEHAVIOR_COUNTER_FIELD
    reports_hist_t duration[REPORTS_NUM_CLASSES]; /* request start to the last byte sent, by class */
} reports_behavior_stats_t;

/* One loop's per-behavior counters: slot i for behavior i < REPORTS_METRICS_MAX_BEHAVIORS, the last for
 * "other". Fixed size, so a loop needs no allocation and a reader no lock. */
typedef struct st_reports_by_behavior_t {
    reports_behavior_stats_t slots[REPORTS_METRICS_MAX_BEHAVIORS + 1];
} reports_by_behavior_t;

#endif
