/*
 * reports/stats.c: the counter table generated from reports/counters.h, and summing per-thread counters
 * and histograms (the global ones and the per-behavior ones). The table is the one place that knows every
 * counter; metrics, reports and docs walk it. Everything here runs on one loop's own data, or sums other
 * loops' data without a lock: a 64-bit word is never seen torn, and a sum that lags by a request is fine.
 */
#include <stddef.h>
#include <time.h>
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

uint64_t reports_clock_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

const uint64_t reports_hist_bounds_us[REPORTS_HIST_NUM_BOUNDS] = {REPORTS_HIST_BOUNDS_US};

void reports_hist_observe(reports_hist_t *h, uint64_t us)
{
    size_t i = 0;
    while (i != REPORTS_HIST_NUM_BOUNDS && us > reports_hist_bounds_us[i])
        ++i;
    ++h->buckets[i];
    ++h->count;
    h->sum_us += us;
}

void reports_hist_add(reports_hist_t *dst, const reports_hist_t *src)
{
    for (size_t i = 0; i != REPORTS_HIST_NUM_BOUNDS + 1; ++i)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum_us += src->sum_us;
}

size_t reports_by_behavior_slot(size_t index)
{
    return index < REPORTS_METRICS_MAX_BEHAVIORS ? index : REPORTS_METRICS_MAX_BEHAVIORS;
}

void reports_by_behavior_record(reports_by_behavior_t *t, size_t index, reports_class_t cls, int status, uint64_t duration_us,
                                uint64_t bytes_sent, uint64_t origin_bytes)
{
    reports_behavior_stats_t *b = t->slots + reports_by_behavior_slot(index);

    if ((unsigned)cls >= REPORTS_NUM_CLASSES)
        cls = REPORTS_CLASS_OTHER;
    ++b->requests;
    b->hits += cls == REPORTS_CLASS_HIT;
    b->misses += cls == REPORTS_CLASS_MISS;
    b->body_bytes_sent += bytes_sent;
    if (cls == REPORTS_CLASS_HIT)
        b->hit_bytes_sent += bytes_sent;
    b->origin_bytes += origin_bytes;
    b->status_5xx += status >= 500 && status <= 599;
    reports_hist_observe(b->duration + cls, duration_us);
}

void reports_by_behavior_add(reports_by_behavior_t *dst, const reports_by_behavior_t *src)
{
    for (size_t i = 0; i != REPORTS_METRICS_MAX_BEHAVIORS + 1; ++i) {
        reports_behavior_stats_t *d = dst->slots + i;
        const reports_behavior_stats_t *s = src->slots + i;
#define REPORTS_BEHAVIOR_COUNTER_ADD(n, desc) d->n += s->n;
        REPORTS_BEHAVIOR_COUNTERS(REPORTS_BEHAVIOR_COUNTER_ADD)
#undef REPORTS_BEHAVIOR_COUNTER_ADD
        for (size_t c = 0; c != REPORTS_NUM_CLASSES; ++c)
            reports_hist_add(d->duration + c, s->duration + c);
    }
}
