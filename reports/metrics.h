/*
 * reports/metrics.h: the Prometheus text exposition (format 0.0.4) of edgecache's counters.
 *
 * Everything here is generated from the counter table of reports/counters.h, so a counter added there
 * is exported without another line of code.
 */
#ifndef REPORTS_METRICS_H
#define REPORTS_METRICS_H

#include <stdio.h>
#include "cache/store.h"
#include "reports/stats.h"

/**
 * Writes to `out`: every counter as edgecache_<name>_total (with its HELP), the responses by cache status
 * as edgecache_responses_total{cache="..."}, the origin latency histogram edgecache_origin_latency_seconds,
 * and the store's gauges and counters from `store` (objects, bytes stored, budget, evictions, purged
 * objects, dropped writes). The origins' health is the caller's to add.
 */
void reports_metrics_write(FILE *out, const reports_counters_t *sum, const reports_latency_t *latency,
                           const cache_store_stats_t *store);

/** Writes the HELP and TYPE lines of metric `name` ("counter" or "gauge"). */
void reports_metrics_family(FILE *out, const char *name, const char *type, const char *help);

#endif
