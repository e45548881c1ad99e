/*
 * cache/key.h: the cache key and its hash.
 *
 * The key is the normalised request target: the path as h2o normalised it (dot segments resolved,
 * percent-encoding decoded where it is safe), then '?' and the query parameters that the behavior puts
 * in the key, sorted by name so that "?b=1&a=2" and "?a=2&b=1" are one object. The query part is
 * omitted when no parameter remains. The store indexes objects by the SHA-256 of that text, because
 * LMDB keys are limited to 511 bytes and URLs are not; the record keeps the full text to detect a
 * collision.
 */
#ifndef CACHE_KEY_H
#define CACHE_KEY_H

#include <stddef.h>
#include <stdint.h>
#include <h2o.h>

#define CACHE_KEY_HASH_LEN 32

/* Which query parameters go into the key (a behavior's "query_string"). */
typedef enum en_cache_key_qs_t {
    CACHE_KEY_QS_NONE, /* the query string is not part of the cache key (and is still forwarded) */
    CACHE_KEY_QS_ALL,  /* every parameter is part of the key, sorted by name */
    CACHE_KEY_QS_LIST  /* only the listed names are part of the key, sorted */
} cache_key_qs_t;

/* The key rules of one behavior, filled by the configuration loader and read-only afterwards. */
typedef struct st_cache_key_rules_t {
    cache_key_qs_t query_string; /* default CACHE_KEY_QS_ALL */
    char **query_names;          /* CACHE_KEY_QS_LIST only: sorted (strcmp), without duplicates */
    size_t num_query_names;
    char **key_headers; /* "cache_key_headers": request headers whose values go into the key, lower-case, sorted */
    size_t num_key_headers;
} cache_key_rules_t;

typedef struct st_cache_hash_t {
    uint8_t bytes[CACHE_KEY_HASH_LEN];
} cache_hash_t;

/**
 * Builds the key for `path` (normalised, without query) and `query` (the raw text after '?', or
 * {NULL, 0}) under the query rule of `rules`. The result lives in `pool`. Pure; any thread.
 */
h2o_iovec_t cache_key_build(h2o_mem_pool_t *pool, h2o_iovec_t path, h2o_iovec_t query, const cache_key_rules_t *rules);

/**
 * Appends to `key` the request's values of the rules' key_headers (each as "\n<name>: <value>",
 * in the sorted order of the names; an absent header as an empty value, several lines of one field
 * joined by ", "). Returns `key` itself when the rules name none. The result lives in `pool`.
 */
h2o_iovec_t cache_key_add_headers(h2o_mem_pool_t *pool, h2o_iovec_t key, const cache_key_rules_t *rules,
                                  const h2o_headers_t *headers);

/**
 * The key of the variant that a request's `headers` select, for a stored response whose Vary field value
 * is `vary` (RFC 9111 §4.1): `key`, then "\nvary" and, for each field named (lower-cased, in order),
 * "\n<name>: <value>" with the request's value normalised — several lines joined by ", ", whitespace
 * trimmed, and Accept-Encoding reduced to the codings a cache can tell apart ("br,gzip", "gzip", "br",
 * or "" for identity), so that browsers' many spellings share one variant. In `pool`. Pure.
 */
h2o_iovec_t cache_key_variant(h2o_mem_pool_t *pool, h2o_iovec_t key, h2o_iovec_t vary, const h2o_headers_t *headers);

/**
 * The URL part of a key: "path?query", before the first '\n' that starts the key headers or a variant's
 * Vary values. Points into `key`. What purge by URL and by prefix, and the reports, name an object by.
 */
h2o_iovec_t cache_key_url(h2o_iovec_t key);

/** SHA-256 of `key`. Uses a per-thread digest context, so it never allocates after the first call. */
void cache_key_hash(h2o_iovec_t key, cache_hash_t *out);

/** Frees the calling thread's digest context; call when a thread that hashed ends. */
void cache_key_thread_dispose(void);

/** Lower-case hex of the first `n` bytes of `hash` into `buf` (2n+1 bytes), for logs. */
char *cache_key_hex(const cache_hash_t *hash, size_t n, char *buf);

#endif
