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

#endif
