/*
 * cache/build.h: building the stored record of a response, and queueing it in the store.
 *
 * Given the response head (status and headers) and what the request contributes (the key, the
 * client's headers for Vary, the request and response times), this module reads the headers the
 * freshness rules need (cache_build_ttl_input), chooses which headers are stored (the proxy-specific
 * ones and those a qualified no-cache or private names are not), records the client's values of the
 * fields named by Vary, and queues the record: a response with Vary under its variant's key, with an
 * index record under the URL's key. It does not store body chunks: its caller does (the body arrives
 * after the head), and then calls cache_build_put with the record pointing at them.
 *
 * Everything here runs on the caller's thread; memory for encoded headers comes from `pool` and lives
 * as long as it.
 */
#ifndef CACHE_BUILD_H
#define CACHE_BUILD_H

#include <stdint.h>
#include <h2o.h>
#include "cache/key.h"
#include "cache/record.h"
#include "cache/store.h"
#include "cache/ttl.h"

typedef struct st_cache_build_t {
    h2o_mem_pool_t *pool;                /* encoded headers and variant keys are allocated here */
    cache_store_t *store;                /* where records go; not NULL for the put functions */
    const cache_hash_t *hash;            /* the hash of `key` */
    h2o_iovec_t key;                     /* the cache key of the request */
    const h2o_headers_t *client_headers; /* the request's headers: Authorization, Vary */
    int64_t request_time;                /* when the request went out (seconds since the epoch) */
    int64_t response_time;               /* now, as the caller's loop sees it */
    int64_t age;                         /* the origin's Age header, -1 when absent */
    uint64_t purge_seq;                  /* cache_store_purge_seq when the request went out */
} cache_build_t;

/** Fills what the TTL rules need from a response's status and headers (RFC 9111, RFC 9213). */
void cache_build_ttl_input(const cache_build_t *b, int status, const h2o_headers_t *headers, cache_ttl_in_t *in);
/**
 * Encodes the headers of `h` that may be stored into `*headers` and, when `h` has Vary, the client's
 * value of every field it names into `*vary` ({NULL, 0} without Vary). Both are allocated from b->pool.
 */
void cache_build_encode_headers(const cache_build_t *b, const h2o_headers_t *h, h2o_iovec_t *headers, h2o_iovec_t *vary);
/** Sets the flags, times and lifetimes of `rec` from the storage decision `ttl`. */
void cache_build_fill_times(const cache_build_t *b, cache_record_t *rec, const cache_ttl_out_t *ttl);
/**
 * Queues `rec` for storage (RFC 9111 §4.1): without Vary in `response_headers` under b->hash; with it,
 * as the variant the request selected under the variant's key, plus an index record naming the Vary
 * fields under b->hash, so variants live side by side. `rec` is copied by the store.
 */
void cache_build_put(const cache_build_t *b, const cache_record_t *rec, const h2o_headers_t *response_headers);
/**
 * Stores a static error page (`body`, text/html) with `status` for `min_ttl` seconds in place of the
 * origin's answer, as CloudFront does; does nothing when min_ttl is 0. `body` must outlive the call only.
 */
void cache_build_put_error_page(const cache_build_t *b, int status, h2o_iovec_t body, uint64_t min_ttl);
/**
 * RFC 9111 §4.3.4: merges a 304's `fresh` headers into those of the stored object `stale`, decides
 * its freshness again with `rules` (into `*ttl`), and fills `*rec` with the refreshed record (its body
 * and Vary are those stored). Stores it when it may be stored, or else deletes the stored object.
 */
void cache_build_refresh(const cache_build_t *b, const cache_record_t *stale, const h2o_headers_t *fresh,
                         const cache_ttl_rules_t *rules, cache_ttl_out_t *ttl, cache_record_t *rec);

#endif
