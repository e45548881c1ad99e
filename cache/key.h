/*
 * cache/key.h: the cache key and its hash.
 *
 * The key is the normalised host (cache_key_normalize_host: lower case, no trailing dot, no default port; empty
 * for a request that named none), then the normalised request target: the path as cache_key_normalize_target left it
 * (percent-encoded unreserved characters decoded, dot segments resolved, every other percent-encoding kept), then '?' and the query
 * parameters that the behavior puts in the key, sorted by name so that "?b=1&a=2" and "?a=2&b=1" are one object. The query part is
 * omitted when no parameter remains. The store indexes objects by the SHA-256 of that text, because LMDB keys are limited to 511
 * bytes and URLs are not; the record keeps the full text to detect a collision.
 *
 * So a key reads "shop.example.com/img/a.png?v=2": the host never holds a '/', and the path always starts with
 * one, so the first '/' of a key ends its host. A key without a host ("/img/a.png") is that of a request that
 * named none (HTTP/1.0 without Host).
 */
#ifndef CACHE_KEY_H
#define CACHE_KEY_H

#include <stdbool.h>
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

/* cache_key_normalize_target's error: a '%' not followed by two hex digits, or a path not starting with '/'. */
#define CACHE_KEY_EBADTARGET (-1)

/**
 * The one normal form of a request target, which is both the cache key's path and the path sent to the origin,
 * so that the object stored under a key is always the origin's answer for that very path (a key that decoded
 * more than the origin was sent is how one URL's body gets served for another). `target` is origin-form:
 * a path, then optionally '?' and the query. The path is normalised as RFC 3986 §6.2.2 allows without
 * changing what it names: a percent-encoded unreserved character (ALPHA DIGIT - . _ ~) is decoded, every other
 * percent-encoding (%2F above all: "/a%2Fb" is not "/a/b" to every origin) is kept with upper-case hex, and
 * the dot segments are removed (§5.2.4), "." and ".." spelt with %2E included, so "/../../etc/passwd" becomes
 * "/etc/passwd". The query is returned as given ({NULL, 0} when there is no '?'). On success returns 0 and
 * sets *path (in `pool`, or `target` itself when already normal) and *query (into `target`); otherwise
 * returns CACHE_KEY_EBADTARGET and leaves both unset. Pure; any thread.
 */
int cache_key_normalize_target(h2o_mem_pool_t *pool, h2o_iovec_t target, h2o_iovec_t *path, h2o_iovec_t *query);

/* cache_key_normalize_host's error: a byte a host name cannot hold, or a port that is not 1..65535. */
#define CACHE_KEY_EBADHOST (-2)

/**
 * The normal form of a Host field (or HTTP/2 :authority) value, `host`, which is the first part of every key:
 * lower case, the trailing dot of a fully qualified name removed, and the scheme's default port removed (":80"
 * when `tls` is false, ":443" when true; another port is kept, without leading zeros). "SHOP.example.com.:80"
 * becomes "shop.example.com". An IPv6 literal keeps its brackets ("[::1]:8443"). Only the bytes of a reg-name
 * that a DNS name or an address uses are accepted (letters, digits, '-', '.', '_', '~', and ':' '[' ']' for
 * the port and IPv6): anything else (a '/', a ',', a space, a control byte) would let a client write a key that
 * another host's path owns, so it is refused. An empty `host` is valid and stays empty. On success returns 0
 * with *out in `pool` (or pointing into `host` when already normal); otherwise CACHE_KEY_EBADHOST. Pure.
 */
int cache_key_normalize_host(h2o_mem_pool_t *pool, h2o_iovec_t host, bool tls, h2o_iovec_t *out);

/**
 * The name part of a normalised host: without its ":port" ("[::1]:8443" → "[::1]"). Points into `host`. Pure.
 */
h2o_iovec_t cache_key_host_name(h2o_iovec_t host);

/**
 * Whether `host` (normalised, of a key) is one of `hosts`: a comma-separated list of exact hosts
 * ("shop.example.com") and wildcards ("*.example.com": a longer name that ends with ".example.com"); a pattern
 * without a port covers every port of its name. An empty list covers every host. Pure.
 */
bool cache_key_host_in(h2o_iovec_t hosts, h2o_iovec_t host);

/** The host part of a key's URL part ("shop.example.com/a" → "shop.example.com"; "/a" → ""). Pure. */
h2o_iovec_t cache_key_url_host(h2o_iovec_t url);

/**
 * The key for `host` (normalised by cache_key_normalize_host) and the target: `host` followed by what
 * cache_key_build gives for `path` and `query`. In `pool`. Pure; any thread.
 */
h2o_iovec_t cache_key_build_for_host(h2o_mem_pool_t *pool, h2o_iovec_t host, h2o_iovec_t path, h2o_iovec_t query,
                                     const cache_key_rules_t *rules);

/**
 * Builds the host-less part of a key for `path` (as cache_key_normalize_target returns it, without query) and `query` (the raw text
 * after '?', or {NULL, 0}) under the query rule of `rules`. The result lives in `pool`. Pure; any thread.
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
 * The codings with q > 0 of an Accept-Encoding field value among those a cache tells apart, as
 * cache_key_variant spells them ("br,gzip", "gzip", "br", or "" for identity only). A static string. Pure.
 */
const char *cache_key_accept_encoding(h2o_iovec_t value);

/**
 * The key of the variant of the object stored under `key` whose body is encoded with `coding` ("gzip", "br";
 * cache/compress.h): `key`, then "\nencoding: <coding>". Its URL part is the object's, and no request's
 * key can end so (Vary values are listed after "\nvary"). In `pool`. Pure.
 */
h2o_iovec_t cache_key_encoded(h2o_mem_pool_t *pool, h2o_iovec_t key, const char *coding);

/* The codings whose variants cache_key_encoded names, NULL-terminated (as cache_compress_coding_name spells them). */
#define CACHE_KEY_CODINGS                                                                                                          \
    {                                                                                                                              \
        "gzip", "br", NULL                                                                                                         \
    }

/**
 * The URL part of a key: "host/path?query", before the first '\n' that starts the key headers or a variant's
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
