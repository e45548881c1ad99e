/*
 * reports/accounting.c: one thread's counts of the current time bucket, and their flush to the store.
 *
 * Each loop owns one reports_acct_t and is the only one to touch it: the request path adds to plain
 * integers, with no lock and no atomic. The bucket is flushed when the clock leaves it (seen by
 * reports_acct_record or reports_acct_tick) or on demand (force: shutdown), by encoding it
 * (reports/bucket.h) and queueing the values with cache_store_put_aux, which copies them for the
 * store's writer thread, so a loop never waits for a write transaction.
 *
 * Invariants that are easy to break:
 * - one key per (bucket, kind, run, thread), and each flush of a bucket writes everything counted in it
 *   so far: a later flush must replace an earlier one with a superset, never with less. Hence the
 *   bucket is cleared only when a new bucket starts, and a clock that steps back does not reopen an
 *   earlier bucket (it would overwrite that bucket's value with the few requests counted after the step).
 * - memory is bounded by the configuration (see accounting.h): the top-K's arrays grow with the URLs
 *   seen, up to reports.capacity, and keep their size when a bucket starts afresh; key buffers are
 *   reused by the entries that replace them.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "common/log.h"
#include "reports/accounting.h"
#include "reports/bucket.h"
#include "reports/stats.h"
#include "reports/topk.h"

struct st_reports_acct_t {
    const reports_conf_t *conf;
    cache_store_t *store;
    uint16_t thread;
    uint32_t run;
    uint64_t bucket_ms;                  /* the bucket's length */
    uint64_t bucket_start_ms;            /* the current bucket: [start, start + bucket_ms) */
    uint64_t requests;                   /* counted in the current bucket */
    bool dirty;                          /* counted since the last flush */
    uint64_t retention_checked_start_ms; /* the bucket whose start last deleted old buckets */
    reports_topk_t *objects;
    reports_beh_t *behs; /* [conf->num_behaviors] */
    size_t num_behs;
};

static uint64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

reports_acct_t *reports_acct_new(const reports_conf_t *conf, cache_store_t *store, unsigned thread_index)
{
    reports_acct_t *a = h2o_mem_alloc(sizeof(*a));
    uint64_t bucket_s = conf->bucket_s != 0 ? conf->bucket_s : 600;

    *a = (reports_acct_t){.conf = conf,
                          .store = store,
                          .thread = (uint16_t)thread_index,
                          .run = (uint32_t)wall_ms(),
                          .bucket_ms = bucket_s * 1000,
                          .num_behs = conf->num_behaviors};
    a->objects = reports_topk_new(conf->capacity != 0 ? conf->capacity : 2000);
    a->behs = h2o_mem_alloc(sizeof(*a->behs) * (a->num_behs != 0 ? a->num_behs : 1));
    for (size_t i = 0; i != a->num_behs; ++i) {
        const reports_conf_behavior_t *cb = conf->behaviors + i;
        reports_beh_t *b = a->behs + i;
        reports_beh_init(b, cb->path, strlen(cb->path));
        b->query_string = (uint8_t)cb->key->query_string;
        b->min_ttl = cb->ttl->min_ttl;
        b->default_ttl = cb->ttl->default_ttl;
        b->max_ttl = cb->ttl->max_ttl;
    }
    return a;
}

/* --- flushing ------------------------------------------------------------------------------------ */

int reports_acct_snapshot(reports_acct_t *a, int (*cb)(void *ctx, h2o_iovec_t key, h2o_iovec_t value), void *ctx)
{
    uint8_t key[REPORTS_KEY_LEN];
    reports_key_t k = {.bucket_start = a->bucket_start_ms / 1000, .run = a->run, .thread = a->thread};
    uint64_t bucket_s = a->bucket_ms / 1000;
    uint8_t *val;
    size_t len;
    int ret;

    if (a->requests == 0)
        return 0;
    k.kind = REPORTS_KIND_BEHAVIORS;
    reports_key_encode(key, &k);
    val = reports_behs_encode(a->behs, a->num_behs, bucket_s, &len);
    ret = cb(ctx, h2o_iovec_init(key, sizeof(key)), h2o_iovec_init(val, len));
    free(val);
    if (ret != 0)
        return ret;
    k.kind = REPORTS_KIND_OBJECTS;
    reports_key_encode(key, &k);
    val = reports_objects_encode(a->objects, bucket_s, &len);
    ret = cb(ctx, h2o_iovec_init(key, sizeof(key)), h2o_iovec_init(val, len));
    free(val);
    return ret;
}

static int put_aux(void *ctx, h2o_iovec_t key, h2o_iovec_t value)
{
    cache_store_put_aux(ctx, key.base, key.len, value.base, value.len);
    return 0;
}

static void flush(reports_acct_t *a)
{
    if (!a->dirty || a->store == NULL)
        return;
    reports_acct_snapshot(a, put_aux, a->store);
    a->dirty = false;
}

/* Buckets that started before now - retention go; thread 0 asks once per bucket (any thread could, but
 * one deletion per bucket is enough, and every process has a thread 0). */
static void expire(reports_acct_t *a)
{
    uint64_t retention_ms = a->conf->retention_s * 1000;
    if (a->thread != 0 || a->store == NULL || retention_ms == 0 || a->retention_checked_start_ms == a->bucket_start_ms ||
        a->bucket_start_ms < retention_ms)
        return;
    a->retention_checked_start_ms = a->bucket_start_ms;
    uint8_t from[REPORTS_KEY_BOUND_LEN], to[REPORTS_KEY_BOUND_LEN];
    reports_key_bound(from, 0);
    reports_key_bound(to, (a->bucket_start_ms - retention_ms) / 1000);
    cache_store_delete_aux_range(a->store, from, sizeof(from), to, sizeof(to));
}

/* Leaves the current bucket for the one holding `now_ms`. */
static void roll(reports_acct_t *a, uint64_t now_ms)
{
    flush(a);
    if (a->requests != 0) {
        reports_topk_clear(a->objects);
        for (size_t i = 0; i != a->num_behs; ++i)
            reports_beh_clear(a->behs + i);
        a->requests = 0;
    }
    a->bucket_start_ms = now_ms - now_ms % a->bucket_ms;
    expire(a);
}

void reports_acct_tick(reports_acct_t *a, uint64_t now_ms, bool force)
{
    if (now_ms >= a->bucket_start_ms + a->bucket_ms)
        roll(a, now_ms);
    else if (force)
        flush(a);
}

void reports_acct_free(reports_acct_t *a)
{
    if (a == NULL)
        return;
    flush(a);
    reports_topk_free(a->objects);
    for (size_t i = 0; i != a->num_behs; ++i)
        reports_beh_dispose(a->behs + i);
    free(a->behs);
    free(a);
}

/* --- counting ------------------------------------------------------------------------------------ */

static void count_object(reports_acct_t *a, const reports_event_t *ev, bool hit, bool miss)
{
    reports_topk_entry_t *e = reports_topk_touch(a->objects, ev->url.base, ev->url.len);
    e->c.hits += hit;
    e->c.misses += miss;
    e->c.bytes_total += ev->bytes_sent;
    e->c.bytes_from_misses += miss ? ev->bytes_sent : 0;
    e->c.incomplete += ev->incomplete;
    switch (ev->status / 100) {
    case 2:
        ++e->c.s2xx;
        break;
    case 3:
        ++e->c.s3xx;
        break;
    case 4:
        ++e->c.s4xx;
        break;
    case 5:
        ++e->c.s5xx;
        break;
    }
}

static void count_behavior(reports_beh_t *b, const reports_event_t *ev, bool hit, bool miss)
{
    ++b->c.requests;
    b->c.hits += hit;
    b->c.misses += miss;
    b->c.errors += ev->outcome == REPORTS_ERROR;
    b->c.stale += ev->outcome == REPORTS_STALE;
    b->c.passes += ev->outcome == REPORTS_PASS;
    b->c.incomplete += ev->incomplete;
    b->c.bytes_sent += ev->bytes_sent;
    b->c.bytes_from_cache += hit ? ev->bytes_sent : 0;
    b->c.origin_bytes += ev->origin_bytes;
    if (ev->origin_ms >= 0) {
        ++b->c.origin_requests;
        reports_latency_observe(&b->latency, (uint64_t)ev->origin_ms);
    }

    /* what TTL advice reads */
    if (ev->outcome == REPORTS_REVALIDATED || ev->outcome == REPORTS_REFRESHED) {
        ++b->c.revalidations;
        b->c.unchanged += ev->outcome == REPORTS_REVALIDATED;
    }
    if (ev->expired && (ev->outcome == REPORTS_MISS || ev->outcome == REPORTS_REVALIDATED || ev->outcome == REPORTS_REFRESHED))
        ++b->c.expired_misses;
    if (ev->outcome == REPORTS_MISS && ev->evicted_recently) {
        ++b->c.evicted_refetches;
        reports_topk_touch(b->refetched, ev->url.base, ev->url.len);
    }
    if (ev->outcome == REPORTS_MISS && ev->has_query && ev->query_in_key) {
        const char *q = memchr(ev->url.base, '?', ev->url.len);
        ++b->c.keyed_query_misses;
        reports_hll_add(b->distinct_keyed, ev->url.base, ev->url.len);
        reports_topk_touch(b->fragmented, ev->url.base, q != NULL ? (size_t)(q - ev->url.base) : ev->url.len);
    }
}

void reports_acct_record(reports_acct_t *a, const reports_event_t *ev, uint64_t now_ms)
{
    if (now_ms >= a->bucket_start_ms + a->bucket_ms)
        roll(a, now_ms);
    bool hit = ev->outcome == REPORTS_HIT || ev->outcome == REPORTS_REVALIDATED || ev->outcome == REPORTS_STALE;
    bool miss = ev->outcome == REPORTS_MISS || ev->outcome == REPORTS_REFRESHED || ev->outcome == REPORTS_PASS;
    size_t bi = ev->behavior < a->num_behs ? ev->behavior : a->num_behs - 1;

    count_object(a, ev, hit, miss);
    if (a->num_behs != 0)
        count_behavior(a->behs + bi, ev, hit, miss);
    ++a->requests;
    a->dirty = true;
}
