/*
 * tests/unit/store_put_fixture.h: what the record-level store suites (check_cache_store,
 * check_cache_store_map_full) share on top of store_fixture.h — a plain record (content-type only,
 * inline or chunked body) written under the current purge sequence. Header-only: each suite includes it
 * once, right after store_fixture.h, whose hash_of and CHUNK it uses.
 */
#ifndef TESTS_UNIT_STORE_PUT_FIXTURE_H
#define TESTS_UNIT_STORE_PUT_FIXTURE_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cache/record.h"
#include "cache/store.h"

/* Encodes a record for `key`: inline `body` when oid is 0, else a chunked body of body_len bytes. The
 * caller frees the buffer. */
static uint8_t *make_record(const char *key, uint32_t lifetime, uint64_t oid, uint64_t body_len, const char *body, size_t *len)
{
    static uint8_t headers[64];
    uint8_t *p = headers;
    cache_record_put_header(&p, H2O_STRLIT("content-type"), H2O_STRLIT("text/plain"));
    cache_record_t rec = {.status = 200,
                          .request_time = 1700000000,
                          .response_time = 1700000001,
                          .lifetime = lifetime,
                          .oid = oid,
                          .body_len = oid != 0 ? body_len : (body != NULL ? strlen(body) : 0),
                          .chunk_size = oid != 0 ? CHUNK : 0,
                          .key = h2o_iovec_init(key, strlen(key)),
                          .headers = h2o_iovec_init(headers, (size_t)(p - headers)),
                          .body = oid == 0 && body != NULL ? h2o_iovec_init(body, strlen(body)) : h2o_iovec_init(NULL, 0)};
    *len = cache_record_size(&rec);
    uint8_t *buf = malloc(*len);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(cache_record_encode(&rec, buf), *len);
    return buf;
}

static void put_record(cache_store_t *s, const char *key, uint32_t lifetime, uint64_t oid, uint64_t body_len, const char *body)
{
    size_t len;
    uint8_t *buf = make_record(key, lifetime, oid, body_len, body, &len);
    cache_hash_t h = hash_of(key);
    cache_store_put_record(s, &h, buf, len, cache_store_purge_seq(s));
    free(buf);
}

#endif
