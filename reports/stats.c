/*
 * reports/stats.c: the counter table generated from reports/counters.h, and summing per-thread counters.
 * The table is the one place that knows every counter; metrics, reports and docs walk it.
 */
#include <stddef.h>
#include "reports/stats.h"

const reports_counter_info_t reports_counter_table[] = {
#define REPORTS_COUNTER_INFO(n, d) {#n, d, offsetof(reports_counters_t, n)},
    REPORTS_COUNTERS(REPORTS_COUNTER_INFO)
#undef REPORTS_COUNTER_INFO
};
const size_t reports_counter_count = sizeof(reports_counter_table) / sizeof(reports_counter_table[0]);

void reports_stats_add(reports_counters_t *dst, const reports_counters_t *src)
{
#define REPORTS_COUNTER_ADD(n, d) dst->n += src->n;
    REPORTS_COUNTERS(REPORTS_COUNTER_ADD)
#undef REPORTS_COUNTER_ADD
}

uint64_t reports_stats_get(const reports_counters_t *c, const reports_counter_info_t *info)
{
    return *(const uint64_t *)((const char *)c + info->offset);
}
