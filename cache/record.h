/*
 * cache/record.h: the stored object's metadata record, versioned, and its codec.
 *
 * A record is what the store keeps under an object's key hash: a fixed header (the first two bytes
 * are the format version), then the full cache key (to detect a hash collision), the response header
 * block, the request values selected by the response's Vary, and, for a small object, the body
 * itself. A larger body lives in chunks of `chunk_size` bytes stored under (oid, index).
 *
 * Layout, little-endian: u16 version, u16 status, u32 flags, i64 request_time, i64 response_time,
 * u32 initial_age, u32 lifetime, u32 stale_while_revalidate, u32 stale_if_error, u64 oid,
 * u64 body_len, u32 chunk_size, u32 key_len, u32 headers_len, u32 vary_len, u32 inline_len, u32 epoch,
 * u32 body_crc, then the variable parts in that order. `epoch` and `body_crc` are set by the store when
 * the record is queued (whatever the caller put there): the store's open count, and the CRC-32 of an
 * inline body (0 for a chunked one, whose chunks carry their own). A header block is a sequence of (u16 name_len, name, u32
 * value_len, value); names are lower-case.
 */
#ifndef CACHE_RECORD_H
#define CACHE_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <h2o.h>

#define CACHE_RECORD_VERSION 2      /* 2: epoch and body_crc; a version-1 record reads as a miss and is replaced */
#define CACHE_RECORD_HEADER_SIZE 84 /* the fixed part, up to and including body_crc */
#define CACHE_RECORD_LIFETIME_OFFSET 28
#define CACHE_RECORD_EPOCH_OFFSET 76
#define CACHE_RECORD_CRC_OFFSET 80

#define CACHE_RECORD_E_SHORT (-1)   /* fewer bytes than the header or the lengths it declares */
#define CACHE_RECORD_E_VERSION (-2) /* a version this build does not know */
#define CACHE_RECORD_E_CORRUPT (-3) /* inconsistent lengths or a malformed header block */

typedef struct st_cache_record_t {
    uint16_t status;
    uint32_t flags; /* CACHE_TTL_* */
    int64_t request_time;
    int64_t response_time;
    uint32_t initial_age;
    uint32_t lifetime;
    uint32_t stale_while_revalidate;
    uint32_t stale_if_error;
    uint64_t oid; /* names the body chunks; 0 when the body is inline */
    uint64_t body_len;
    uint32_t chunk_size; /* 0 when the body is inline */
    uint32_t epoch;      /* the store's open count when it was written: an older one may predate a crash */
    uint32_t body_crc;   /* CRC-32 of an inline body */
    h2o_iovec_t key;
    h2o_iovec_t headers; /* encoded header block */
    h2o_iovec_t vary;    /* encoded header block: request field name → the request's value */
    h2o_iovec_t body;    /* the inline body (body_len bytes), or empty */
} cache_record_t;

/** Bytes that cache_record_encode will write for `rec`. */
size_t cache_record_size(const cache_record_t *rec);
/** Writes `rec` into `dst`, which holds cache_record_size(rec) bytes; returns that size. */
size_t cache_record_encode(const cache_record_t *rec, uint8_t *dst);
/**
 * Decodes `len` bytes at `src` into `rec`, whose iovecs then point into `src` (which must outlive it).
 * Returns 0, or a CACHE_RECORD_E_* value; every length is checked against `len` and the header blocks
 * are validated whole, so iteration with cache_record_next_header cannot run past the buffer.
 */
int cache_record_decode(cache_record_t *rec, const uint8_t *src, size_t len);
const char *cache_record_strerror(int err);

/** Overwrites the lifetime field of an encoded record (at least CACHE_RECORD_HEADER_SIZE bytes). */
void cache_record_seal_lifetime(uint8_t *encoded, uint32_t lifetime);
/** Overwrites the epoch and body_crc fields of an encoded record (at least CACHE_RECORD_HEADER_SIZE bytes). */
void cache_record_seal(uint8_t *encoded, uint32_t epoch, uint32_t body_crc);

/** Bytes needed to encode one header. */
size_t cache_record_header_size(size_t name_len, size_t value_len);
/** Appends one header to a block being built at `*dst`, advancing it. */
void cache_record_put_header(uint8_t **dst, const char *name, size_t name_len, const char *value, size_t value_len);
/** Takes the next header from `*block` (advancing it); false at the end. Only for validated blocks. */
bool cache_record_next_header(h2o_iovec_t *block, h2o_iovec_t *name, h2o_iovec_t *value);

#endif
