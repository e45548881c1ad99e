/*
 * reports/bucket.h: what one thread counted during one time bucket, and its stored form.
 *
 * The accounting (reports/accounting.c) fills these structures on the request path and writes them to
 * the store's aux database; the reports (reports/report.c) read them back and merge them. Both sides
 * go through the encoders and decoders here, so the layout is defined once.
 *
 * Keys (17 bytes, big-endian, so that byte order is time order and a time range is a key range):
 *
 *     "R1" | u64 bucket start (Unix seconds) | u8 kind | u32 run | u16 thread
 *
 * `run` tells apart the processes that wrote the same bucket (the low 32 bits of the writer's start time
 * in ms): an edge restarted within a bucket adds a key rather than replacing the earlier one's counts.
 *
 * Values begin with a version byte, then the bucket length in seconds (u32), so that a report needs no
 * configuration to read them; the rest is little-endian:
 *
 *     kind 1 (objects):   u8 1 | u32 bucket_s | top-K summary (reports/topk.h)
 *     kind 2 (behaviors): u8 1 | u32 bucket_s | u16 n | n x behavior
 *     behavior:           u16 path length | path | u8 query_string mode | u64 min_ttl, default_ttl, max_ttl
 *                         | u8 ncounters | u64 x ncounters | u8 nlatency | u64 x nlatency | u64 latency sum
 *                         | u16 nregisters | u8 x nregisters | u32 len | top-K (refetched)
 *                         | u32 len | top-K (fragmented)
 *
 * Decoders take data from the disk: every length is checked, and unknown versions or counts are
 * rejected (the report skips such a value and says so).
 */
#ifndef REPORTS_BUCKET_H
#define REPORTS_BUCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "reports/counters.h"
#include "reports/topk.h"

#define REPORTS_KEY_LEN 17
#define REPORTS_KEY_BOUND_LEN 10 /* "R1" | u64 bucket start: the bounds of a time range's key range */

typedef enum en_reports_kind_t {
    REPORTS_KIND_OBJECTS = 1,  /* the top-K summary of objects */
    REPORTS_KIND_BEHAVIORS = 2 /* the per-behavior statistics */
} reports_kind_t;

typedef struct st_reports_key_t {
    uint64_t bucket_start; /* Unix seconds, a multiple of the bucket length */
    reports_kind_t kind;
    uint32_t run;
    uint16_t thread;
} reports_key_t;

void reports_key_encode(uint8_t out[REPORTS_KEY_LEN], const reports_key_t *key);
/** Returns 0, or -1 when `data` is not a reports key of a known kind. */
int reports_key_decode(reports_key_t *key, const void *data, size_t len);
/** The first key of the buckets that start at `bucket_start` or later. */
void reports_key_bound(uint8_t out[REPORTS_KEY_BOUND_LEN], uint64_t bucket_start);

/* Per-behavior counters, declared once (fields, encoding, merging and the stats report walk this list).
 * hits + misses + errors = requests. */
#define REPORTS_BEH_COUNTERS(X)                                                                                                    \
    X(requests, "requests served")                                                                                                 \
    X(hits, "requests whose body came from the cache: HIT, REVALIDATED, STALE")                                                    \
    X(misses, "requests whose body came from the origin: MISS, REFRESHED, PASS")                                                   \
    X(errors, "error pages and synthetic errors")                                                                                  \
    X(stale, "stale objects served because the origin failed (part of hits)")                                                      \
    X(passes, "requests not cacheable by method or request (part of misses)")                                                      \
    X(revalidations, "stored objects revalidated with the origin (REVALIDATED + REFRESHED)")                                       \
    X(unchanged, "revalidations the origin answered 304 Not Modified (REVALIDATED)")                                               \
    X(expired_misses, "misses and revalidations caused by an expired stored object")                                               \
    X(evicted_refetches, "misses on objects evicted for room shortly before")                                                      \
    X(keyed_query_misses, "misses whose query string is part of the cache key")                                                    \
    X(incomplete, "downloads abandoned by the client")                                                                             \
    X(bytes_sent, "body bytes sent to clients")                                                                                    \
    X(bytes_from_cache, "body bytes sent to clients by the hits")                                                                  \
    X(origin_requests, "requests that asked the origin")                                                                           \
    X(origin_bytes, "body bytes the requests caused to come from the origin")

typedef struct st_reports_beh_counts_t {
#define REPORTS_BEH_FIELD(name, desc) uint64_t name;
    REPORTS_BEH_COUNTERS(REPORTS_BEH_FIELD)
#undef REPORTS_BEH_FIELD
} reports_beh_counts_t;

typedef struct st_reports_beh_counter_info_t {
    const char *name;
    const char *description;
    size_t offset; /* within reports_beh_counts_t */
} reports_beh_counter_info_t;

extern const reports_beh_counter_info_t reports_beh_counter_table[];
extern const size_t reports_beh_counter_count;

/* The origin latency histogram is the metrics' reports_latency_t (reports/counters.h, reports/stats.h): the
 * same bounds, declared once. */
#define REPORTS_LATENCY_BUCKETS (REPORTS_LATENCY_NUM_BOUNDS + 1)

/* A HyperLogLog of 256 one-byte registers: about 6.5 % standard error on distinct counts. */
#define REPORTS_HLL_REGISTERS 256

#define REPORTS_SIDE_TOPK 16 /* keys of each behavior's side summaries (refetched, fragmented) */

typedef struct st_reports_beh_t {
    char *path;           /* the behavior's path pattern (owned) */
    uint8_t query_string; /* cache_key_qs_t of the behavior */
    uint64_t min_ttl, default_ttl, max_ttl;
    reports_beh_counts_t c;
    reports_latency_t latency;                     /* origin latency */
    uint8_t distinct_keyed[REPORTS_HLL_REGISTERS]; /* distinct URLs among keyed_query_misses */
    reports_topk_t *refetched;                     /* URLs by evicted_refetches */
    reports_topk_t *fragmented;                    /* paths (query removed) by keyed_query_misses */
} reports_beh_t;

/** Sets up `b` for the behavior `path` (copied), with empty counters and side summaries. */
void reports_beh_init(reports_beh_t *b, const char *path, size_t path_len);
/** Frees what `b` owns. */
void reports_beh_dispose(reports_beh_t *b);
/** Zeroes the counters and empties the side summaries; keeps the path and the TTL settings. */
void reports_beh_clear(reports_beh_t *b);
/** Adds `src` into `dst` (counters, histogram, registers, side summaries). Paths are not compared. */
void reports_beh_merge(reports_beh_t *dst, const reports_beh_t *src);

/**
 * The upper bound (ms) of the histogram bucket holding the `q`-quantile (0 < q <= 1), UINT64_MAX when it
 * is the open last bucket; 0 when the histogram is empty.
 */
uint64_t reports_latency_quantile(const reports_latency_t *l, double q);

/** Adds `data` to the HyperLogLog registers; the estimated number of distinct values added. */
void reports_hll_add(uint8_t *registers, const void *data, size_t len);
double reports_hll_estimate(const uint8_t *registers);

/** The value of a kind-1 key: a buffer from malloc and its length. */
uint8_t *reports_objects_encode(const reports_topk_t *objects, uint64_t bucket_s, size_t *len);
/** Decodes a kind-1 value. Returns the summary (the caller frees), or NULL when the value is invalid. */
reports_topk_t *reports_objects_decode(const void *data, size_t len, uint64_t *bucket_s);
/** The value of a kind-2 key, for the `n` behaviors `behs`. */
uint8_t *reports_behs_encode(const reports_beh_t *behs, size_t n, uint64_t bucket_s, size_t *len);
/**
 * Decodes a kind-2 value into `*behs` (an array from malloc of `*n` behaviors; free with
 * reports_behs_free). Returns 0, or -1 when the value is invalid (nothing to free then).
 */
int reports_behs_decode(const void *data, size_t len, uint64_t *bucket_s, reports_beh_t **behs, size_t *n);
void reports_behs_free(reports_beh_t *behs, size_t n);

#endif
