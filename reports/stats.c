/*
 * reports/stats.c: the counter table generated from reports/counters.h, and summing per-thread counters.
 * The table is the one place that knows every counter; metrics, reports and docs walk it.
 */
#include <stddef.h>
#include "reports/stats.h"

const reports_counter_info_t reports_counter_table[] = {
#define REPORTS_COUNTER_INFO(n, c, d) {#n, c, d, offsetof(reports_counters_t, n)},
    REPORTS_COUNTERS(REPORTS_COUNTER_INFO)
#undef REPORTS_COUNTER_INFO
};
const size_t reports_counter_count = sizeof(reports_counter_table) / sizeof(reports_counter_table[0]);

void reports_stats_add(reports_counters_t *dst, const reports_counters_t *src)
{
#define REPORTS_COUNTER_ADD(n, c, d) dst->n += src->n;
    REPORTS_COUNTERS(REPORTS_COUNTER_ADD)
#undef REPORTS_COUNTER_ADD
}

uint64_t reports_stats_get(const reports_counters_t *c, const reports_counter_info_t *info)
{
    return *(const uint64_t *)((const char *)c + info->offset);
}

const uint64_t reports_latency_bounds_ms[REPORTS_LATENCY_NUM_BOUNDS] = {REPORTS_LATENCY_BOUNDS_MS};

void reports_latency_observe(reports_latency_t *l, uint64_t ms)
{
    size_t i = 0;
    while (i != REPORTS_LATENCY_NUM_BOUNDS && ms > reports_latency_bounds_ms[i])
        ++i;
    ++l->buckets[i];
    ++l->count;
    l->sum_ms += ms;
}

void reports_latency_add(reports_latency_t *dst, const reports_latency_t *src)
{
    for (size_t i = 0; i != REPORTS_LATENCY_NUM_BOUNDS + 1; ++i)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum_ms += src->sum_ms;
}
