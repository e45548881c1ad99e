/*
 * reports/metrics.c: the Prometheus text exposition of the counters (see metrics.h).
 *
 * Invariant: one family is written once, HELP and TYPE first, then all of its samples together — a
 * scraper rejects a family that is split or declared twice. Histogram buckets are cumulative and end
 * with le="+Inf", whose value equals _count.
 */
#include <inttypes.h>
#include <string.h>
#include "reports/metrics.h"

void reports_metrics_family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s ", name);
    for (const char *p = help; *p != '\0'; ++p) { /* HELP text escapes backslash and newline */
        if (*p == '\\')
            fputs("\\\\", out);
        else if (*p == '\n')
            fputs("\\n", out);
        else
            fputc(*p, out);
    }
    fprintf(out, "\n# TYPE %s %s\n", name, type);
}

static void store_metric(FILE *out, const char *name, const char *type, const char *help, uint64_t value)
{
    reports_metrics_family(out, name, type, help);
    fprintf(out, "%s %" PRIu64 "\n", name, value);
}

void reports_metrics_write(FILE *out, const reports_counters_t *sum, const reports_latency_t *latency,
                           const cache_store_stats_t *store)
{
    char name[128];

    for (size_t i = 0; i != reports_counter_count; ++i) {
        const reports_counter_info_t *c = reports_counter_table + i;
        snprintf(name, sizeof(name), "edgecache_%s_total", c->name);
        reports_metrics_family(out, name, "counter", c->description);
        fprintf(out, "%s %" PRIu64 "\n", name, reports_stats_get(sum, c));
    }

    reports_metrics_family(out, "edgecache_responses_total", "counter", "client responses by cache status");
    for (size_t i = 0; i != reports_counter_count; ++i) {
        const reports_counter_info_t *c = reports_counter_table + i;
        if (c->cache[0] != '\0')
            fprintf(out, "edgecache_responses_total{cache=\"%s\"} %" PRIu64 "\n", c->cache, reports_stats_get(sum, c));
    }

    reports_metrics_family(out, "edgecache_origin_latency_seconds", "histogram",
                           "time from sending a request to an origin to its response head");
    uint64_t cumulative = 0;
    for (size_t i = 0; i != REPORTS_LATENCY_NUM_BOUNDS; ++i) {
        cumulative += latency->buckets[i];
        fprintf(out, "edgecache_origin_latency_seconds_bucket{le=\"%g\"} %" PRIu64 "\n",
                (double)reports_latency_bounds_ms[i] / 1000.0, cumulative);
    }
    fprintf(out, "edgecache_origin_latency_seconds_bucket{le=\"+Inf\"} %" PRIu64 "\n", latency->count);
    fprintf(out, "edgecache_origin_latency_seconds_sum %.3f\n", (double)latency->sum_ms / 1000.0);
    fprintf(out, "edgecache_origin_latency_seconds_count %" PRIu64 "\n", latency->count);

    store_metric(out, "edgecache_store_objects", "gauge", "objects in the store (a URL with Vary variants also counts its index)",
                 store->objects);
    store_metric(out, "edgecache_store_bytes", "gauge", "bytes of the store in use (pages in use times the page size)",
                 store->bytes_used);
    store_metric(out, "edgecache_store_budget_bytes", "gauge", "the store's size budget (cache.max_size)", store->map_size);
    store_metric(out, "edgecache_store_evictions_total", "counter", "objects evicted for room, least recently used first",
                 store->evictions);
    store_metric(out, "edgecache_store_purged_total", "counter", "objects deleted or marked stale by invalidations", store->purged);
    store_metric(out, "edgecache_store_dropped_writes_total", "counter",
                 "writes dropped because the store's writer was too far behind", store->dropped_writes);
    store_metric(out, "edgecache_store_backlog_bytes", "gauge", "bytes queued for the store's writer", store->backlog_bytes);
    store_metric(out, "edgecache_store_usable", "gauge",
                 "1 when the store works; 0 when its directory could not be used at start and every request passes through",
                 store->usable ? 1 : 0);
    static const char *const reasons[CACHE_STORE_NUM_FAULTS] = {
        [CACHE_STORE_FAULT_DISK_FULL] = "disk_full", [CACHE_STORE_FAULT_MAP_FULL] = "map_full", [CACHE_STORE_FAULT_IO] = "io"};
    reports_metrics_family(out, "edgecache_store_write_errors_total", "counter",
                           "writes dropped because the store could not commit them, by reason (disk_full, map_full, io)");
    for (size_t i = 0; i != CACHE_STORE_NUM_FAULTS; ++i)
        fprintf(out, "edgecache_store_write_errors_total{reason=\"%s\"} %" PRIu64 "\n", reasons[i], store->write_errors[i]);
    store_metric(out, "edgecache_store_vary_refused_total", "counter",
                 "new Vary variants served but not stored because their URL had cache.max_variants already", store->vary_refused);
}
