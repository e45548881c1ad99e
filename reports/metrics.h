/*
 * reports/metrics.h: the Prometheus text exposition (format 0.0.4) of edgecache's counters.
 *
 * Everything here is generated from the counter table of reports/counters.h, so a counter added there
 * is exported without another line of code.
 */
#ifndef REPORTS_METRICS_H
#define REPORTS_METRICS_H

#include <stdio.h>
#include "cache/compress.h"
#include "cache/store.h"
#include "reports/accounting.h"
#include "reports/process.h"
#include "reports/report.h"
#include "reports/stats.h"

/* One label of a sample: its name (a valid label name) and its value (any text: it is escaped). */
typedef struct st_reports_label_t {
    const char *name;
    const char *value;
} reports_label_t;

/**
 * Writes to `out`: every counter as edgecache_<name>_total (with its HELP), the responses by cache status
 * as edgecache_responses_total{cache="..."}, the origin latency histogram edgecache_origin_latency_seconds,
 * and the store's gauges and counters from `store` (objects, bytes stored, budget, evictions, purged
 * objects, dropped writes). The origins' health is the caller's to add.
 */
void reports_metrics_write(FILE *out, const reports_counters_t *sum, const reports_hist_t *latency,
                           const cache_store_stats_t *store);

/**
 * Writes the compressor's counters from `c` (cache/compress.h): objects compressed, variants stored, bytes in
 * and out, requests dropped and skipped.
 */
void reports_metrics_write_compress(FILE *out, const cache_compress_stats_t *c);

/**
 * Writes the per-behavior families from `sum` (the loops' reports_by_behavior_t added up):
 * edgecache_behavior_<name>_total{behavior} for each of REPORTS_BEHAVIOR_COUNTERS, then the histogram
 * edgecache_request_duration_seconds{behavior,cache}. `conf->behaviors` name the slots (their path
 * patterns); slots past conf->num_behaviors are left out, and the last slot is behavior="other" (written
 * always, so that the family never lacks a series).
 */
void reports_metrics_write_behaviors(FILE *out, const reports_by_behavior_t *sum, const reports_conf_t *conf);

/* Rows of edgecache_top_object_requests: bounded, so that the series stay few whatever the traffic. */
#define REPORTS_METRICS_TOP_OBJECTS 10

/**
 * Writes the gauge edgecache_top_object_requests{object="host/path?query"}: the requests of the first
 * d->q.top rows of the popular-objects report of `d` (loaded by the caller, over the last hour of stored
 * buckets; REPORTS_METRICS_TOP_OBJECTS rows), most requested first. With `d` NULL (no store to read), the
 * family alone, with no sample.
 */
void reports_metrics_write_top(FILE *out, const reports_data_t *d);

/**
 * Writes the histogram edgecache_loop_lag_seconds{loop="0".."N-1"} from `lags[0..num_loops)`: each event
 * loop's lateness in running a periodic timer (measured by the loops, edge/server.c).
 */
void reports_metrics_write_loop_lag(FILE *out, const reports_hist_t *lags, size_t num_loops);

/** Writes the process_* families of `p` (process_cpu_seconds_total, process_resident_memory_bytes, ...). */
void reports_metrics_write_process(FILE *out, const reports_process_t *p);

/** Writes edgecache_build_info{labels} 1 (a gauge whose labels say what this binary was built from). */
void reports_metrics_write_build_info(FILE *out, const reports_label_t *labels, size_t num_labels);

/** Writes `{name="value",...}` for `num` labels (nothing when `num` is 0), escaping each value as the text
 * format requires (backslash, double quote, newline). */
void reports_metrics_labels(FILE *out, const reports_label_t *labels, size_t num);

/** Writes the samples of histogram `name` with `labels` (plus le on the buckets): cumulative _bucket
 * lines in seconds ending with +Inf, _sum in seconds with microsecond resolution, _count. */
void reports_metrics_histogram(FILE *out, const char *name, const reports_label_t *labels, size_t num_labels,
                               const reports_hist_t *h);

/** Writes the HELP and TYPE lines of metric `name` ("counter" or "gauge"). */
void reports_metrics_family(FILE *out, const char *name, const char *type, const char *help);

#endif
