/*
 * reports/topk.h: the most requested objects of a stream, in bounded memory (Space-Saving, Metwally,
 * Agrawal and El Abbadi, 2005), with per-object counters and a stated error bound.
 *
 * A summary monitors at most `capacity` (K) keys. A key that is monitored is counted; a new key arriving
 * when all K slots are taken replaces the key with the fewest requests, m, and starts at m + 1 requests
 * with `error` = m: it inherits the count of the key it evicts. Hence, for every monitored key,
 *
 *     true_requests <= requests <= true_requests + error,   and   error <= N / K
 *
 * where N is the number of requests the summary counted (`total`). Any key that is not monitored has
 * at most `floor` true requests (the largest count ever evicted; 0 while the summary never filled), so
 * every key with more than `floor` requests is listed. The other per-object counters (hits, bytes, ...)
 * count only the requests seen since the key was last inserted: each undercounts by at most the
 * `error` requests it may have missed (bytes: by the bytes of at most `error` requests).
 *
 * Merging two summaries (reports_topk_merge) adds counts key by key; a key missing from one side is
 * credited that side's `floor` in requests and in error, so the bound above still holds with the
 * errors added (error <= N1/K1 + N2/K2). The merged summary keeps the K largest counts and raises its
 * floor to the largest count it dropped.
 *
 * Not thread-safe: each summary belongs to one thread (per-thread accounting merges when read).
 */
#ifndef REPORTS_TOPK_H
#define REPORTS_TOPK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPORTS_TOPK_MAX_KEY 1024          /* longer keys are truncated to this many bytes */
#define REPORTS_TOPK_MAX_CAPACITY 1000000u /* the largest capacity a summary (or a decoded one) may have */

/* The per-object counters, declared once: fields, encoding, merging and report columns walk this list. */
#define REPORTS_OBJ_COUNTERS(X)                                                                                                    \
    X(requests, "requests (an overestimate by at most `error`)")                                                                   \
    X(hits, "requests whose body came from the cache (HIT, REVALIDATED, STALE)")                                                   \
    X(misses, "requests whose body came from the origin (MISS, REFRESHED, PASS)")                                                  \
    X(bytes_total, "body bytes sent to clients")                                                                                   \
    X(bytes_from_misses, "body bytes sent to clients by the misses")                                                               \
    X(incomplete, "downloads the client abandoned before the end of the body")                                                     \
    X(s2xx, "responses with a 2xx status")                                                                                         \
    X(s3xx, "responses with a 3xx status")                                                                                         \
    X(s4xx, "responses with a 4xx status")                                                                                         \
    X(s5xx, "responses with a 5xx status")

typedef struct st_reports_obj_counts_t {
#define REPORTS_OBJ_FIELD(name, desc) uint64_t name;
    REPORTS_OBJ_COUNTERS(REPORTS_OBJ_FIELD)
#undef REPORTS_OBJ_FIELD
} reports_obj_counts_t;

typedef struct st_reports_obj_counter_info_t {
    const char *name;
    const char *description;
    size_t offset; /* within reports_obj_counts_t */
} reports_obj_counter_info_t;

/** The per-object counter table, in declaration order, and its length. */
extern const reports_obj_counter_info_t reports_obj_counter_table[];
extern const size_t reports_obj_counter_count;

typedef struct st_reports_topk_entry_t {
    char *key; /* the object's URL, NUL-terminated, owned by the summary */
    size_t key_len;
    uint64_t error;         /* requests inherited on insertion: requests - error <= true requests */
    reports_obj_counts_t c; /* c.requests orders the summary */
    /* private */
    size_t _key_cap;
    uint64_t _hash;
    uint32_t _heap_pos;
} reports_topk_entry_t;

typedef struct st_reports_topk_t reports_topk_t;

/** A summary of `capacity` keys (1..REPORTS_TOPK_MAX_CAPACITY). Returns NULL when out of range. */
reports_topk_t *reports_topk_new(unsigned capacity);
void reports_topk_free(reports_topk_t *t);
/** Forgets every key and resets total and floor; keeps the memory (the next time bucket starts afresh). */
void reports_topk_clear(reports_topk_t *t);

/**
 * Counts one request for `key` (truncated to REPORTS_TOPK_MAX_KEY bytes): requests and total go up by
 * one, inserting or replacing as Space-Saving does. Returns the key's entry, for the caller to add the
 * other counters of this request to `->c`; the pointer is valid until the next call that changes `t`.
 * Never fails: the key buffers are reused, and an allocation failure aborts (h2o_mem_alloc). O(log K).
 */
reports_topk_entry_t *reports_topk_touch(reports_topk_t *t, const char *key, size_t len);
/** The entry of `key`, or NULL when it is not monitored. */
const reports_topk_entry_t *reports_topk_find(const reports_topk_t *t, const char *key, size_t len);

unsigned reports_topk_capacity(const reports_topk_t *t);
/** Keys monitored now. */
size_t reports_topk_size(const reports_topk_t *t);
/** N: requests counted (merges add them up). */
uint64_t reports_topk_total(const reports_topk_t *t);
/** An upper bound of the true requests of any key that is not monitored. */
uint64_t reports_topk_floor(const reports_topk_t *t);
/**
 * Fills `out` (room for reports_topk_size(t) pointers) with the entries, most requested first (ties: by
 * key). Returns the count. The pointers are valid until `t` changes.
 */
size_t reports_topk_sorted(const reports_topk_t *t, const reports_topk_entry_t **out);

/**
 * Merges `src` into `dst` as described at the head of this file. `dst` keeps its capacity. `src` is not
 * changed. O((K1 + K2) log(K1 + K2)).
 */
void reports_topk_merge(reports_topk_t *dst, const reports_topk_t *src);
/**
 * Builds a summary from a listing (a decoded record, a report of another edge): adds `key` with exactly
 * these counters and error, without Space-Saving's replacement. Returns 0, or -1 when the key is already
 * monitored, the summary is full, or `error` exceeds `c->requests`.
 */
int reports_topk_load(reports_topk_t *t, const char *key, size_t len, uint64_t error, const reports_obj_counts_t *c);
/** Sets total and floor of a summary built with reports_topk_load. */
void reports_topk_set_bounds(reports_topk_t *t, uint64_t total, uint64_t floor);

/**
 * The encoded summary: version 1, little-endian:
 *   u8 version (1), u8 number of counters (10), u32 capacity, u64 total, u64 floor, u32 count,
 *   count x { u16 key length, key bytes, u64 error, u64 x counters in REPORTS_OBJ_COUNTERS order }.
 * Returns a buffer from malloc (the caller frees) and its length in `*len`.
 */
uint8_t *reports_topk_encode(const reports_topk_t *t, size_t *len);
/**
 * Decodes what reports_topk_encode wrote (data from the disk: every length is checked, and a duplicate
 * key, an error above the count, an unknown version or a count above the capacity is rejected). Sets
 * `*used` to the bytes consumed. Returns the summary, or NULL when the data is not a valid summary.
 */
reports_topk_t *reports_topk_decode(const uint8_t *data, size_t len, size_t *used);

#endif
