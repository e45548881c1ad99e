/*
 * tests/unit/store_purge_fixture.h: what the suites on the store's indexes (check_cache_store_index,
 * check_cache_store_upkeep) share on top of store_fixture.h — records described by a spec (lifetime,
 * request time, chunked body, surrogate keys and cache tags), and invalidations run to completion.
 * Header-only: each suite includes it once, right after store_fixture.h, whose helpers and CHUNK it uses.
 *
 * A record's request time stands for the purge sequence it was fetched under (put_spec), so a test
 * places a record before or after its purges by its request time alone.
 */
#ifndef TESTS_UNIT_STORE_PURGE_FIXTURE_H
#define TESTS_UNIT_STORE_PURGE_FIXTURE_H

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "cache/record.h"
#include "cache/store.h"

/* What a test record holds besides its key; zero values give a plain inline record. */
typedef struct st_spec_t {
    uint32_t lifetime;    /* 0: 60 */
    int64_t request_time; /* 0: 1700000000, long before any purge a test makes */
    uint64_t oid;         /* chunked body of body_len bytes when not 0 */
    uint64_t body_len;    /* with oid */
    uint32_t chunk_size;  /* with oid; 0: CHUNK */
    const void *body;     /* inline body (body_size bytes), when oid is 0 */
    size_t body_size;
    const char *surrogate_key; /* header values, when not NULL */
    const char *cache_tag;
} spec_t;

/* Encodes a record for `key` as origin/fetch.c would; the caller frees the buffer. */
static uint8_t *make_record(const char *key, const spec_t *sp, size_t *len)
{
    uint8_t headers[1024], *p = headers;
    cache_record_put_header(&p, H2O_STRLIT("content-type"), H2O_STRLIT("text/plain"));
    if (sp->surrogate_key != NULL)
        cache_record_put_header(&p, H2O_STRLIT("surrogate-key"), sp->surrogate_key, strlen(sp->surrogate_key));
    if (sp->cache_tag != NULL)
        cache_record_put_header(&p, H2O_STRLIT("cache-tag"), sp->cache_tag, strlen(sp->cache_tag));
    ck_assert_uint_le((size_t)(p - headers), sizeof(headers));
    cache_record_t rec = {.status = 200,
                          .flags = 0,
                          .request_time = sp->request_time != 0 ? sp->request_time : 1700000000,
                          .response_time = sp->request_time != 0 ? sp->request_time + 1 : 1700000001,
                          .initial_age = 3,
                          .lifetime = sp->lifetime != 0 ? sp->lifetime : 60,
                          .stale_while_revalidate = 11,
                          .stale_if_error = 22,
                          .oid = sp->oid,
                          .body_len = sp->oid != 0 ? sp->body_len : sp->body_size,
                          .chunk_size = sp->oid == 0          ? 0
                                        : sp->chunk_size != 0 ? sp->chunk_size
                                                              : CHUNK,
                          .key = h2o_iovec_init(key, strlen(key)),
                          .headers = h2o_iovec_init(headers, (size_t)(p - headers)),
                          .body = sp->oid == 0 ? h2o_iovec_init(sp->body, sp->body_size) : h2o_iovec_init(NULL, 0)};
    *len = cache_record_size(&rec);
    uint8_t *buf = malloc(*len);
    ck_assert_ptr_nonnull(buf);
    ck_assert_uint_eq(cache_record_encode(&rec, buf), *len);
    return buf;
}

/* The store bars a record by the invalidations made after its request went out (a purge sequence). A
 * spec's request_time stands for that moment: one in the past (or the default, long ago) went out before
 * any purge the test makes (sequence 0), one in the future after all of them (the current sequence). */
static void put_spec(cache_store_t *s, const char *key, const spec_t *sp)
{
    size_t len;
    uint8_t *buf = make_record(key, sp, &len);
    cache_hash_t h = hash_of(key);
    uint64_t seq = sp->request_time > (int64_t)time(NULL) ? cache_store_purge_seq(s) : 0;
    cache_store_put_record(s, &h, buf, len, seq);
    free(buf);
}

/* An inline record with a short body and nothing else. */
static void put_plain(cache_store_t *s, const char *key)
{
    spec_t sp = {.body = "body", .body_size = 4};
    put_spec(s, key, &sp);
}

/* A chunked object under `key`: `n` chunks (the last one 100 bytes) then its record. Returns its oid. */
static uint64_t put_chunked(cache_store_t *s, const char *key, uint32_t n, int64_t request_time)
{
    uint64_t oid = cache_store_new_oid(s);
    put_chunks(s, oid, n, 100);
    spec_t sp = {.oid = oid, .body_len = (uint64_t)(n - 1) * CHUNK + 100, .request_time = request_time};
    put_spec(s, key, &sp);
    return oid;
}

static bool stored(cache_store_reader_t *r, const char *key)
{
    cache_record_t rec;
    int ret = get_record(r, key, &rec);
    ck_assert_msg(ret == 0 || ret == CACHE_STORE_ENOTFOUND, "get %s: %s", key, cache_store_strerror(ret));
    return ret == 0;
}

static uint64_t num_objects(cache_store_t *s)
{
    cache_store_stats_t st;
    cache_store_stats(s, &st);
    return st.objects;
}

/* Flushes until invalidation `id` is done (one that spans several slices re-queues itself as it goes) and
 * returns its final status. */
static cache_store_purge_status_t purge_wait(cache_store_t *s, uint64_t id)
{
    cache_store_purge_status_t st;
    for (int i = 0; i != 1000; ++i) {
        cache_store_flush(s);
        ck_assert_msg(cache_store_purge_status(s, id, &st), "purge %llu is unknown", (unsigned long long)id);
        if (st.done)
            return st;
    }
    ck_abort_msg("purge %llu never completed (%llu objects so far)", (unsigned long long)id, (unsigned long long)st.objects);
    return st;
}

static uint64_t purge(cache_store_t *s, cache_purge_kind_t kind, const char *target, bool soft)
{
    uint64_t id = cache_store_purge(s, kind, target, strlen(target), soft);
    ck_assert_uint_ne(id, 0);
    return id;
}

/* Purges and waits; returns how many objects the invalidation counted. */
static uint64_t purge_count(cache_store_t *s, cache_purge_kind_t kind, const char *target, bool soft)
{
    uint64_t id = purge(s, kind, target, soft);
    cache_store_purge_status_t st = purge_wait(s, id);
    ck_assert_uint_eq(st.id, id);
    ck_assert_int_eq(st.kind, kind);
    ck_assert(st.soft == soft);
    ck_assert_str_eq(st.target, target);
    return st.objects;
}

#endif
