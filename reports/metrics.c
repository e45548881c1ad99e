/*
 * reports/metrics.c: the Prometheus text exposition of the counters (see metrics.h).
 *
 * Invariant: one family is written once, HELP and TYPE first, then all of its samples together — a
 * scraper rejects a family that is split or declared twice. Histogram buckets are cumulative and end
 * with le="+Inf", whose value equals _count. Every label value goes through reports_metrics_labels, the one
 * place that escapes it. Latencies are kept in microseconds and written in seconds, exactly.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include "reports/metrics.h"
#include "reports/report_int.h"

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

void reports_metrics_labels(FILE *out, const reports_label_t *labels, size_t num)
{
    for (size_t i = 0; i != num; ++i) {
        fprintf(out, "%c%s=\"", i == 0 ? '{' : ',', labels[i].name);
        for (const char *p = labels[i].value; *p != '\0'; ++p) {
            if (*p == '\\' || *p == '"')
                fputc('\\', out);
            if (*p == '\n')
                fputs("\\n", out);
            else
                fputc(*p, out);
        }
        fputc('"', out);
    }
    if (num != 0)
        fputc('}', out);
}

/* A count of microseconds as seconds, exactly: "0.000250", "12.5" would lose nothing but read oddly. */
static void seconds(FILE *out, uint64_t us)
{
    fprintf(out, "%" PRIu64 ".%06" PRIu64, us / 1000000, us % 1000000);
}

void reports_metrics_histogram(FILE *out, const char *name, const reports_label_t *labels, size_t num_labels,
                               const reports_hist_t *h)
{
    reports_label_t with_le[8];
    char le[32];
    uint64_t cumulative = 0;

    /* (callers pass two labels at most, and NULL with none) */
    if (num_labels > 7)
        num_labels = 7;
    if (num_labels != 0)
        memcpy(with_le, labels, num_labels * sizeof(*labels));
    with_le[num_labels] = (reports_label_t){"le", le};
    for (size_t i = 0; i != REPORTS_HIST_NUM_BOUNDS + 1; ++i) {
        cumulative += h->buckets[i];
        if (i != REPORTS_HIST_NUM_BOUNDS)
            snprintf(le, sizeof(le), "%g", (double)reports_hist_bounds_us[i] / 1e6);
        else
            strcpy(le, "+Inf");
        fprintf(out, "%s_bucket", name);
        reports_metrics_labels(out, with_le, num_labels + 1);
        fprintf(out, " %" PRIu64 "\n", cumulative);
    }
    fprintf(out, "%s_sum", name);
    reports_metrics_labels(out, labels, num_labels);
    fputc(' ', out);
    seconds(out, h->sum_us);
    fprintf(out, "\n%s_count", name);
    reports_metrics_labels(out, labels, num_labels);
    fprintf(out, " %" PRIu64 "\n", cumulative); /* (not h->count: a sum of racy reads may differ by one) */
}

/* The labels that name slot `slot` of the per-behavior counters; returns how many. A second label (the
 * site) is one more line here. */
static size_t behavior_labels(const reports_conf_t *conf, size_t slot, reports_label_t *out)
{
    size_t n = 0;
    bool known = slot < REPORTS_METRICS_MAX_BEHAVIORS;
    const char *site = known ? conf->behaviors[slot].site : NULL, *pattern = known ? conf->behaviors[slot].pattern : NULL;
    out[n++] = (reports_label_t){"site", site != NULL ? site : known ? "default" : "other"};
    out[n++] = (reports_label_t){"behavior", pattern != NULL ? pattern : known ? conf->behaviors[slot].path : "other"};
    return n;
}

/* The slots to write, in order: every configured behavior up to the cap, then "other". */
static size_t behavior_slots(const reports_conf_t *conf, size_t *slots)
{
    size_t n = 0;
    for (size_t i = 0; i != conf->num_behaviors && i != REPORTS_METRICS_MAX_BEHAVIORS; ++i)
        slots[n++] = i;
    slots[n++] = REPORTS_METRICS_MAX_BEHAVIORS;
    return n;
}

void reports_metrics_write_behaviors(FILE *out, const reports_by_behavior_t *sum, const reports_conf_t *conf)
{
    static const char *const classes[REPORTS_NUM_CLASSES] = {
        [REPORTS_CLASS_HIT] = "hit", [REPORTS_CLASS_MISS] = "miss", [REPORTS_CLASS_OTHER] = "other"};
    size_t slots[REPORTS_METRICS_MAX_BEHAVIORS + 1], num_slots = behavior_slots(conf, slots);
    reports_label_t labels[4];

#define REPORTS_BEHAVIOR_COUNTER_WRITE(n, desc)                                                                                    \
    reports_metrics_family(out, "edgecache_behavior_" #n "_total", "counter", desc);                                               \
    for (size_t i = 0; i != num_slots; ++i) {                                                                                      \
        size_t nl = behavior_labels(conf, slots[i], labels);                                                                       \
        fputs("edgecache_behavior_" #n "_total", out);                                                                             \
        reports_metrics_labels(out, labels, nl);                                                                                   \
        fprintf(out, " %" PRIu64 "\n", sum->slots[slots[i]].n);                                                                    \
    }
    REPORTS_BEHAVIOR_COUNTERS(REPORTS_BEHAVIOR_COUNTER_WRITE)
#undef REPORTS_BEHAVIOR_COUNTER_WRITE

    reports_metrics_family(out, "edgecache_request_duration_seconds", "histogram",
                           "client requests from their first byte to the last byte of their response, by behavior and cache "
                           "outcome (hit, miss, other)");
    for (size_t i = 0; i != num_slots; ++i) {
        size_t nl = behavior_labels(conf, slots[i], labels);
        for (size_t c = 0; c != REPORTS_NUM_CLASSES; ++c) {
            labels[nl] = (reports_label_t){"cache", classes[c]};
            reports_metrics_histogram(out, "edgecache_request_duration_seconds", labels, nl + 1, sum->slots[slots[i]].duration + c);
        }
    }
}

void reports_metrics_write_process(FILE *out, const reports_process_t *p)
{
    reports_metrics_family(out, "process_cpu_seconds_total", "counter", "user and system CPU time spent, in seconds");
    fprintf(out, "process_cpu_seconds_total %.2f\n", p->cpu_seconds);
    reports_metrics_family(out, "process_open_fds", "gauge", "open file descriptors");
    fprintf(out, "process_open_fds %" PRIu64 "\n", p->open_fds);
    reports_metrics_family(out, "process_max_fds", "gauge", "the limit on open file descriptors (soft RLIMIT_NOFILE)");
    if (p->max_fds == UINT64_MAX)
        fputs("process_max_fds +Inf\n", out);
    else
        fprintf(out, "process_max_fds %" PRIu64 "\n", p->max_fds);
    reports_metrics_family(out, "process_virtual_memory_bytes", "gauge", "virtual memory size in bytes");
    fprintf(out, "process_virtual_memory_bytes %" PRIu64 "\n", p->virtual_bytes);
    reports_metrics_family(out, "process_resident_memory_bytes", "gauge", "resident memory size in bytes");
    fprintf(out, "process_resident_memory_bytes %" PRIu64 "\n", p->resident_bytes);
    reports_metrics_family(out, "process_start_time_seconds", "gauge", "start time of the process since the epoch, in seconds");
    fprintf(out, "process_start_time_seconds %.2f\n", p->start_time_seconds);
}

void reports_metrics_write_build_info(FILE *out, const reports_label_t *labels, size_t num_labels)
{
    reports_metrics_family(out, "edgecache_build_info", "gauge",
                           "always 1; its labels say which versions this binary was built from (edgecache, libh2o, OpenSSL, LMDB)");
    fputs("edgecache_build_info", out);
    reports_metrics_labels(out, labels, num_labels);
    fputs(" 1\n", out);
}

static void store_metric(FILE *out, const char *name, const char *type, const char *help, uint64_t value)
{
    reports_metrics_family(out, name, type, help);
    fprintf(out, "%s %" PRIu64 "\n", name, value);
}

void reports_metrics_write_compress(FILE *out, const cache_compress_stats_t *c)
{
    store_metric(out, "edgecache_compress_objects_total", "counter",
                 "stored objects whose gzip and brotli variants the compressor made (compress: true)", c->objects);
    store_metric(out, "edgecache_compress_variants_total", "counter", "encoded variants queued for storage", c->variants);
    store_metric(out, "edgecache_compress_input_bytes_total", "counter", "identity bytes compressed, once per coding", c->bytes_in);
    store_metric(out, "edgecache_compress_output_bytes_total", "counter", "encoded bytes queued for storage", c->bytes_out);
    store_metric(out, "edgecache_compress_dropped_total", "counter",
                 "objects left uncompressed because the compressor's queue was full", c->dropped);
    store_metric(out, "edgecache_compress_skipped_total", "counter",
                 "compression requests whose object was gone, replaced, or not worth compressing", c->skipped);
}

void reports_metrics_write(FILE *out, const reports_counters_t *sum, const reports_hist_t *latency,
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
    reports_metrics_histogram(out, "edgecache_origin_latency_seconds", NULL, 0, latency);

    store_metric(out, "edgecache_store_objects", "gauge",
                 "objects in the store (a URL with Vary variants also counts its index, a compressed object its encoded variants)",
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
    reports_metrics_family(out, "edgecache_store_writer_busy_seconds_total", "counter",
                           "time the store's single writer thread spent on its transactions (batches, eviction, sweeps) "
                           "and heap trims; its rate is the writer's busy fraction");
    fprintf(out, "edgecache_store_writer_busy_seconds_total %.6f\n", (double)store->writer_busy_ns / 1e9);
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

void reports_metrics_write_top(FILE *out, const reports_data_t *d)
{
    reports_metrics_family(out, "edgecache_top_object_requests", "gauge",
                           "requests of the most requested objects (host/path?query) in the stored reports of the last hour, "
                           "an overestimate by at most the popular report's error bound");
    if (d == NULL)
        return;
    size_t n;
    uint64_t floor;
    const reports_topk_entry_t **rows = reports_popular_rows(d, &n, &floor);
    for (size_t i = 0; i != n; ++i) {
        reports_label_t l = {"object", rows[i]->key};
        fputs("edgecache_top_object_requests", out);
        reports_metrics_labels(out, &l, 1);
        fprintf(out, " %" PRIu64 "\n", rows[i]->c.requests);
    }
    free((void *)rows);
}

void reports_metrics_write_loop_lag(FILE *out, const reports_hist_t *lags, size_t num_loops)
{
    char index[24];
    reports_label_t l = {"loop", index};

    reports_metrics_family(out, "edgecache_loop_lag_seconds", "histogram",
                           "how late each event loop runs a timer due every 100 ms: what a request arriving then waits "
                           "before the loop reads it, by loop");
    for (size_t i = 0; i != num_loops; ++i) {
        snprintf(index, sizeof(index), "%zu", i);
        reports_metrics_histogram(out, "edgecache_loop_lag_seconds", &l, 1, lags + i);
    }
}
