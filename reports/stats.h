/*
 * reports/stats.h: reading the per-thread counters of reports/counters.h.
 */
#ifndef REPORTS_STATS_H
#define REPORTS_STATS_H

#include <stddef.h>
#include "reports/counters.h"

typedef struct st_reports_counter_info_t {
    const char *name;
    const char *cache; /* the cache status the counter counts responses of, or "" */
    const char *description;
    size_t offset; /* within reports_counters_t */
} reports_counter_info_t;

/** The counter table, in declaration order, and its length. */
extern const reports_counter_info_t reports_counter_table[];
extern const size_t reports_counter_count;

/** Adds `src` into `dst`, field by field. Reads of other threads' counters are racy but never torn on 64-bit. */
void reports_stats_add(reports_counters_t *dst, const reports_counters_t *src);
/** The value of counter `info` in `c`. */
uint64_t reports_stats_get(const reports_counters_t *c, const reports_counter_info_t *info);

/** The upper bounds of reports_latency_t's buckets, in ms. */
extern const uint64_t reports_latency_bounds_ms[REPORTS_LATENCY_NUM_BOUNDS];
/** Counts one origin latency of `ms` milliseconds. */
void reports_latency_observe(reports_latency_t *l, uint64_t ms);
void reports_latency_add(reports_latency_t *dst, const reports_latency_t *src);

/** A monotonic clock in microseconds (CLOCK_MONOTONIC): what the latency histograms measure with. */
uint64_t reports_clock_us(void);
/** The upper bounds of reports_hist_t's buckets, in microseconds. */
extern const uint64_t reports_hist_bounds_us[REPORTS_HIST_NUM_BOUNDS];
/** Counts one latency of `us` microseconds. */
void reports_hist_observe(reports_hist_t *h, uint64_t us);
void reports_hist_add(reports_hist_t *dst, const reports_hist_t *src);

/** The slot of reports_by_behavior_t that counts behavior `index` (SIZE_MAX: no behavior): the index
 * itself, or the last ("other") slot beyond REPORTS_METRICS_MAX_BEHAVIORS. */
size_t reports_by_behavior_slot(size_t index);
/**
 * Counts one finished request of behavior `index` (SIZE_MAX: none) in `t`, on the loop that owns `t`:
 * its class, the status sent to the client (0 when none was), client-side duration in microseconds, and
 * bytes. No lock, no allocation.
 */
void reports_by_behavior_record(reports_by_behavior_t *t, size_t index, reports_class_t cls, int status, uint64_t duration_us,
                                uint64_t bytes_sent, uint64_t origin_bytes);
/** Adds `src` into `dst`, slot by slot (a reader summing the loops; racy reads are never torn on 64-bit). */
void reports_by_behavior_add(reports_by_behavior_t *dst, const reports_by_behavior_t *src);

#endif
