/*
 * cache/compress.h: compression stored once — which responses are compressed, which coding a client gets,
 * and the compressor thread that makes the gzip and brotli variants of a stored object.
 *
 * A response is compressible when its behavior says so (cache_compress_rules_t), and it is a 200 with a body
 * of CACHE_COMPRESS_MIN_BYTES to CACHE_COMPRESS_MAX_BYTES, of a type in the list, with no Content-Encoding
 * (or "identity") and no Cache-Control: no-transform (CloudFront's limits). Its identity record is stored as
 * usual, flagged CACHE_TTL_COMPRESSIBLE; then cache_compress_submit asks the compressor to make the variants.
 * The compressor reads the identity object back from the store (so the fetch need not keep the body), and
 * stores each encoded body as a record of its own, flagged CACHE_TTL_ENCODED, under the key
 * cache_key_encoded(identity key, coding). A variant holds the identity object's stamp
 * (cache_compress_stamp): it is served only while the identity object it was made from is the one stored,
 * and it is deleted with that object (cache/store_index.c), so purges, evictions and replacements never let
 * a variant outlive or contradict its object.
 *
 * Only cache/compress.c includes <zlib.h>'s deflate side and <brotli/encode.h>.
 */
#ifndef CACHE_COMPRESS_H
#define CACHE_COMPRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <h2o.h>
#include "cache/key.h"
#include "cache/record.h"
#include "cache/store.h"

#define CACHE_COMPRESS_MIN_BYTES 1000               /* smaller bodies are served as they are (CloudFront) */
#define CACHE_COMPRESS_MAX_BYTES (10 * 1024 * 1024) /* larger ones too */

/* A content coding, in the order of preference when the client accepts several with the same q. */
typedef enum en_cache_coding_t { CACHE_CODING_IDENTITY, CACHE_CODING_GZIP, CACHE_CODING_BR, CACHE_CODING_NUM } cache_coding_t;

/* A behavior's compression rules ("compress", "compress_types"), filled by the configuration loader. */
typedef struct st_cache_compress_rules_t {
    bool enabled; /* "compress", default true */
    char **types; /* "compress_types": lower-case media types; one whose subtype is a star covers its whole
                   * top-level type; NULL: the default list (cache_compress_default_types) */
    size_t num_types;
} cache_compress_rules_t;

/** The default compress_types, NULL-terminated. Static storage. */
extern const char *const cache_compress_default_types[];

/** The coding's token ("gzip", "br"; "identity"). Static storage. */
const char *cache_compress_coding_name(cache_coding_t coding);

/**
 * Whether the Content-Type value `type` (parameters ignored, any case) is one of the rules' types. Pure.
 */
bool cache_compress_type_ok(const cache_compress_rules_t *rules, h2o_iovec_t type);

/**
 * Whether a response with `status` and `headers` may be compressed under `rules`, apart from its length
 * (which the caller checks with cache_compress_length_ok once it is known). Pure; any thread.
 */
bool cache_compress_eligible(const cache_compress_rules_t *rules, int status, const h2o_headers_t *headers);
/** Whether a body of `len` bytes is within CloudFront's compression limits. */
static inline bool cache_compress_length_ok(uint64_t len)
{
    return len >= CACHE_COMPRESS_MIN_BYTES && len <= CACHE_COMPRESS_MAX_BYTES;
}

/**
 * The coding to send to a client whose Accept-Encoding is `accept` ({NULL, 0} when it sent none), among
 * those whose bit (1 << coding) is set in `available` (identity is always available): the highest q-value
 * (RFC 9110 §12.5.3; "*" stands for every coding not named, q=0 excludes), ties going to br, then gzip.
 * Identity is the answer when no encoded coding is acceptable, even when the client excluded it (the
 * RFC allows either that or a 406; a CDN serves). Pure.
 */
cache_coding_t cache_compress_choose(h2o_iovec_t accept, unsigned available);

/**
 * The stamp of an identity object, which its variants carry: its oid (unique per chunked body), body
 * length and body CRC-32 (of an inline body, sealed by the store). Into `buf` (at least 48 bytes); returns
 * the length. Pure.
 */
size_t cache_compress_stamp(const cache_record_t *identity, char *buf);
/** The stamp that the variant `variant` was made from ({NULL, 0} when it carries none). Points into it. */
h2o_iovec_t cache_compress_variant_stamp(const cache_record_t *variant);

/**
 * Compresses `len` bytes of `in` with `coding` (gzip or br) into a buffer from malloc, `*out` (`*outlen`
 * bytes), which the caller frees. Returns 0, or -1 when the library failed (nothing to free). Any thread.
 */
int cache_compress_body(cache_coding_t coding, const void *in, size_t len, uint8_t **out, size_t *outlen);

/* --- the compressor thread ----------------------------------------------------------------------------- */

typedef struct st_cache_compress_t cache_compress_t;

/** Starts the compressor for `store`. Returns NULL (with a message in `err`) when its thread cannot start. */
cache_compress_t *cache_compress_start(cache_store_t *store, char *err, size_t errlen);
/**
 * Asks for the variants of the identity object stored (or queued) under `hash` with `key` (copied); they
 * are made and queued for storage later, on the compressor's thread, and stored only if no invalidation
 * after `purge_seq` covers them. When the compressor is too far behind, the request is dropped (counted):
 * the object is then served uncompressed. Any thread; never blocks on compression.
 */
void cache_compress_submit(cache_compress_t *c, const cache_hash_t *hash, h2o_iovec_t key, uint64_t purge_seq);
/** Blocks until every request submitted so far has been handled (for tests). Not on an event loop. */
void cache_compress_flush(cache_compress_t *c);

typedef struct st_cache_compress_stats_t {
    uint64_t objects;   /* identity objects whose variants were made */
    uint64_t variants;  /* variants queued for storage */
    uint64_t bytes_in;  /* identity bytes compressed (once per coding) */
    uint64_t bytes_out; /* encoded bytes stored */
    uint64_t dropped;   /* requests dropped because the queue was full */
    uint64_t skipped;   /* requests whose object was gone, changed or not worth compressing */
} cache_compress_stats_t;

/** Fills `out`. Any thread. */
void cache_compress_stats(cache_compress_t *c, cache_compress_stats_t *out);
/** Finishes what is queued, stops the thread and frees `c` (NULL is fine). Before the store is closed. */
void cache_compress_stop(cache_compress_t *c);

#endif
