/*
 * reports/accounting.h: per-object and per-behavior accounting, in bounded memory, flushed to the store
 * in time buckets.
 *
 * Every request ends with one reports_event_t handed to the accounting of the thread that served it
 * (no lock, no atomic: each thread owns its reports_acct_t). The accounting keeps, for the current time
 * bucket (reports.bucket seconds, aligned to the epoch):
 * - a top-K summary of objects (Space-Saving, reports.capacity entries): per object URL, the requests,
 *   hits, misses, bytes, bytes from misses, incomplete downloads and 2xx/3xx/4xx/5xx counts, each with
 *   the overestimation bound of Space-Saving;
 * - per behavior: requests, hits, misses, errors, bytes sent, bytes sent from hits, origin bytes, an
 *   origin latency histogram, and what TTL advice needs (revalidations and how many found the object
 *   unchanged, misses on expired objects, misses on objects evicted shortly before, query-string
 *   fragmentation).
 * When the bucket ends (checked by reports_acct_record and reports_acct_tick, which each loop calls about
 * once a second), the thread serialises what it kept into aux values of the store (cache_store_put_aux,
 * which copies and queues: the loop never waits for the disk) under keys that name the bucket, the kind,
 * the process run and the thread (layout: reports/bucket.h), and starts afresh; thread 0 also deletes the
 * buckets older than reports.retention. `edgecache report` reads those values back (reports/report.h) and
 * merges threads, runs and buckets.
 *
 * Memory is bounded by the configuration: reports.capacity keys of at most REPORTS_TOPK_MAX_KEY bytes,
 * and per behavior a fixed set of counters, a 16-bucket histogram, 256 HLL registers and two summaries
 * of REPORTS_SIDE_TOPK keys. Nothing grows with the traffic.
 *
 * Definitions used by every report: a hit is a request whose body came from the cache (REPORTS_HIT,
 * REPORTS_REVALIDATED, REPORTS_STALE); a miss one whose body came from the origin (REPORTS_MISS,
 * REPORTS_REFRESHED, REPORTS_PASS); an error is REPORTS_ERROR. hits + misses + errors = requests.
 */
#ifndef REPORTS_ACCOUNTING_H
#define REPORTS_ACCOUNTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <h2o.h>
#include "cache/store.h"
#include "cache/key.h"
#include "cache/ttl.h"

typedef enum en_reports_outcome_t {
    REPORTS_HIT,         /* answered from a fresh stored object (also a stale-while-revalidate answer) */
    REPORTS_MISS,        /* fetched from the origin: nothing usable was stored */
    REPORTS_REVALIDATED, /* a stored object was revalidated and the origin said 304 (unchanged) */
    REPORTS_REFRESHED,   /* a stored object was revalidated and the origin sent a new one */
    REPORTS_STALE,       /* a stale object served because the origin failed */
    REPORTS_PASS,        /* not cacheable by method or request (POST, Authorization, ...) */
    REPORTS_ERROR        /* an error page or a synthetic error */
} reports_outcome_t;

typedef struct st_reports_event_t {
    h2o_iovec_t url; /* the object: the cache key's URL part, "path?query" (no host) */
    size_t behavior; /* index into reports_conf_t.behaviors */
    reports_outcome_t outcome;
    int status;            /* sent to the client */
    uint64_t bytes_sent;   /* body bytes sent to the client */
    uint64_t origin_bytes; /* body bytes this request caused to come from the origin (0 for a hit or a joined fetch) */
    int64_t origin_ms;     /* time to the origin's response head, -1 when the origin was not asked */
    bool incomplete;       /* the client went away before the whole body was sent */
    bool expired;          /* a miss or revalidation caused by a stored object that had expired */
    bool evicted_recently; /* a miss on an object evicted for room shortly before */
    bool has_query;        /* the request had a query string */
    bool query_in_key;     /* ... and some of it is part of the cache key */
} reports_event_t;

/* What the reports know of one behavior: its name (the path pattern) and the rules that TTL advice reads. */
typedef struct st_reports_conf_behavior_t {
    const char *path;    /* the name in the reports: the path pattern, "SITE:PATTERN" in a file with sites */
    const char *site;    /* the metrics' labels: the site's name ("default" without sites) ... */
    const char *pattern; /* ... and the behavior's path pattern */
    const cache_key_rules_t *key;
    const cache_ttl_rules_t *ttl;
} reports_conf_behavior_t;

/* The "reports" configuration, filled by the configuration loader and read-only afterwards. */
typedef struct st_reports_conf_t {
    uint64_t bucket_s;                  /* key "bucket", default 600 (10m): the time bucket of the stored reports */
    unsigned top;                       /* key "top", default 50: rows of the popular-objects report */
    uint64_t retention_s;               /* key "retention", default 60d */
    unsigned capacity;                  /* key "capacity", default 2000: objects tracked per thread per bucket (top-K) */
    reports_conf_behavior_t *behaviors; /* parallel to the configuration's behaviors, in order */
    size_t num_behaviors;
} reports_conf_t;

typedef struct st_reports_acct_t reports_acct_t;

/**
 * The accounting of one thread (`thread_index` names its keys in the store). `conf` and `store` outlive
 * it; `store` may be NULL (then nothing is flushed, as in unit tests that read reports_acct_snapshot).
 */
reports_acct_t *reports_acct_new(const reports_conf_t *conf, cache_store_t *store, unsigned thread_index);
/** Flushes the current bucket (partial) and frees. NULL is a no-op. */
void reports_acct_free(reports_acct_t *acct);
/**
 * Counts one finished request at `now_ms` (wall clock, ms since the epoch), on the thread that owns
 * `acct`. A `now_ms` past the current bucket first flushes it and starts the bucket of `now_ms`; one
 * before it (a clock stepped back) is counted in the current bucket, whose stored value it would
 * otherwise overwrite with less. An
 * event whose `behavior` is out of range is counted under the last behavior ("*"). `ev->url` is copied
 * where kept. O(log capacity); no lock; an allocation only when a URL enters the top-K with a key longer
 * than the buffer it takes over, or while the top-K first grows to its capacity.
 */
void reports_acct_record(reports_acct_t *acct, const reports_event_t *ev, uint64_t now_ms);
/**
 * Flushes the bucket when `now_ms` has left it (and, about once per bucket, deletes buckets older than the
 * retention). With `force`, flushes the current bucket as it is (shutdown; also used by tests); a bucket
 * flushed twice by one thread is stored under the same key, so the later, fuller value replaces the earlier.
 */
void reports_acct_tick(reports_acct_t *acct, uint64_t now_ms, bool force);
/**
 * Calls `cb` with each key and value the current bucket would be flushed as (nothing when it counted no
 * request), without flushing: what unit tests read, and the same form as cache_store_scan_aux gives to
 * reports_data_add (reports/report.h). `key` and `value` are valid during the call only. Returns the first
 * non-zero return of `cb`, or 0.
 */
int reports_acct_snapshot(reports_acct_t *acct, int (*cb)(void *ctx, h2o_iovec_t key, h2o_iovec_t value), void *ctx);

#endif
