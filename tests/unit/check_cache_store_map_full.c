/*
 * tests/unit/check_cache_store_map_full.c: the object store (cache/store.c) when the LMDB map is full
 * (MDB_MAP_FULL), split from check_cache_store.c, whose fixture and records it shares.
 *
 * The invariant checked here is the one store.h promises: a record that get() returns never names
 * chunks that read_chunk() cannot find, whether MAP_FULL struck between batches or within one, and
 * whatever the writer had to drop to get out of it; and a full map keeps room for deletes.
 *
 * Every test runs against a real LMDB environment with a small map in its own mkdtemp directory, with
 * the real writer thread: a write is visible to a reader only after cache_store_flush().
 */
#include "cache/store.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cache/record.h"
#include "common/log.h"

#define MAX_READERS 64
#define CHUNK 4096

#include "tests/unit/store_fixture.h"
#include "tests/unit/store_put_fixture.h"

/* --- a full map (MDB_MAP_FULL) -------------------------------------------------------------------- */

/* For every object 0..n-1 ("/full/<i>", `nchunks` chunks): if get() returns its record, every chunk it
 * names must be readable. Returns how many records were found. */
static size_t check_no_record_without_chunks(cache_store_reader_t *r, size_t n, const uint64_t *oids, uint32_t nchunks)
{
    size_t stored = 0;
    for (size_t i = 0; i != n; ++i) {
        char key[32];
        cache_record_t rec;
        snprintf(key, sizeof(key), "/full/%zu", i);
        int ret = get_record(r, key, &rec);
        ck_assert_msg(ret == 0 || ret == CACHE_STORE_ENOTFOUND, "get %s: %s", key, cache_store_strerror(ret));
        if (ret != 0)
            continue;
        ++stored;
        ck_assert_uint_eq(rec.oid, oids[i]);
        for (uint32_t c = 0; c != nchunks; ++c)
            ck_assert_msg(chunk_status(r, oids[i], c) == 0, "%s is stored but its chunk %u is missing", key, c);
    }
    return stored;
}

#define FULL_NOBJ 120
#define FULL_NCHUNKS 4

/* Writes FULL_NOBJ objects of 16 KiB into a store with a 1 MiB map, about twice what fits. Some are
 * flushed one by one, some queued together, so that MAP_FULL strikes both between and within batches. */
static void fill(cache_store_t *s, uint64_t *oids)
{
    for (size_t i = 0; i != FULL_NOBJ; ++i) {
        char key[32];
        snprintf(key, sizeof(key), "/full/%zu", i);
        oids[i] = cache_store_new_oid(s);
        put_chunks(s, oids[i], FULL_NCHUNKS, CHUNK);
        put_record(s, key, 60, oids[i], FULL_NCHUNKS * CHUNK, NULL);
        if (i % 3 == 0)
            cache_store_flush(s);
    }
    cache_store_flush(s);
}

START_TEST(test_map_full_never_record_without_chunks)
{
    uint64_t oids[FULL_NOBJ];
    cache_store_t *s = open_store(1024 * 1024);
    cache_store_reader_t *r = cache_store_reader_new(s);

    fill(s, oids);
    size_t stored = check_no_record_without_chunks(r, FULL_NOBJ, oids, FULL_NCHUNKS);
    ck_assert_msg(stored > 0, "nothing fitted in the map");
    ck_assert_msg(stored < FULL_NOBJ, "everything fitted: the map never filled, so MAP_FULL was not exercised");

    /* the records that did fit survive a reopen, still with their chunks */
    cache_store_reader_free(r);
    cache_store_close(s);
    s = open_store(1024 * 1024);
    r = cache_store_reader_new(s);
    ck_assert_uint_eq(check_no_record_without_chunks(r, FULL_NOBJ, oids, FULL_NCHUNKS), stored);

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

/*
 * LMDB deletes copy-on-write: a map full to the last page could not even delete, and nothing could ever
 * be deleted, replaced or stored again. The writer keeps headroom by evicting before a batch would take
 * the map past its high-water mark, so an edge under endless misses goes on storing: thousands of small
 * records, one per transaction, into a 1 MiB map all fit (older ones are evicted), and afterwards deletes
 * work and a new chunked object is stored whole.
 */
START_TEST(test_map_full_keeps_headroom)
{
    uint64_t oids[FULL_NOBJ];
    cache_store_t *s = open_store(1024 * 1024);
    cache_store_reader_t *r = cache_store_reader_new(s);

    fill(s, oids);
    size_t stored = check_no_record_without_chunks(r, FULL_NOBJ, oids, FULL_NCHUNKS);
    ck_assert_uint_gt(stored, 0);
    /* small records, one per transaction, far more than the map holds: each new one must be stored */
    size_t stored_pads = 0;
    for (size_t pads = 0; pads != 3000; ++pads) {
        char key[32];
        cache_record_t rec;
        snprintf(key, sizeof(key), "/pad/%zu", pads);
        put_record(s, key, 60, 0, 0, "a small body of some forty-odd bytes, inline");
        cache_store_flush(s);
        stored_pads += get_record(r, key, &rec) == 0;
    }
    ck_assert_msg(stored_pads == 3000, "only %zu of 3000 records were stored into a full map", stored_pads);
    for (size_t i = 0; i != FULL_NOBJ; ++i) {
        char key[32];
        snprintf(key, sizeof(key), "/full/%zu", i);
        cache_hash_t h = hash_of(key);
        cache_store_delete(s, &h);
        cache_store_flush(s);
    }
    size_t left = check_no_record_without_chunks(r, FULL_NOBJ, oids, FULL_NCHUNKS);
    ck_assert_msg(left == 0, "%zu of %zu objects are still stored after every one was deleted", left, stored);

    /* and the room they freed can be used again */
    uint64_t oid = cache_store_new_oid(s);
    put_chunks(s, oid, 2, 1);
    put_record(s, "/after", 60, oid, CHUNK + 1, NULL);
    cache_store_flush(s);
    cache_record_t rec;
    ck_assert_int_eq(get_record(r, "/after", &rec), 0);
    assert_chunk(r, oid, 0, CHUNK);
    assert_chunk(r, oid, 1, 1);

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

START_TEST(test_map_full_chunk_larger_than_map)
{
    /* one chunk that can never fit; its record, queued after it, must not be stored */
    cache_store_t *s = open_store(1024 * 1024);
    cache_store_reader_t *r = cache_store_reader_new(s);
    size_t big = 2 * 1024 * 1024;
    uint8_t *data = calloc(1, big);
    uint64_t oid = cache_store_new_oid(s);
    cache_record_t rec;

    cache_store_put_chunk(s, oid, 0, data, big);
    cache_store_flush(s);
    put_record(s, "/huge", 60, oid, big, NULL);
    cache_store_flush(s);
    ck_assert_int_eq(get_record(r, "/huge", &rec), CACHE_STORE_ENOTFOUND);

    /* and in one batch */
    oid = cache_store_new_oid(s);
    cache_store_put_chunk(s, oid, 0, data, big);
    put_record(s, "/huge2", 60, oid, big, NULL);
    cache_store_flush(s);
    ck_assert_int_eq(get_record(r, "/huge2", &rec), CACHE_STORE_ENOTFOUND);

    /* small objects still fit */
    put_record(s, "/small", 60, 0, 0, "ok");
    cache_store_flush(s);
    ck_assert_int_eq(get_record(r, "/small", &rec), 0);

    free(data);
    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

/*
 * A chunk that never fits (larger than the map), then 300 more chunks of another object that did not fit
 * either, then the first object's record in a later batch: the record must not be stored, since its chunk
 * 0 is not (an earlier design remembered dropped oids in a ring that this overflowed).
 */
START_TEST(test_map_full_record_without_chunks_dropped)
{
    cache_store_t *s = open_store(1024 * 1024);
    cache_store_reader_t *r = cache_store_reader_new(s);
    size_t big = 2 * 1024 * 1024;
    uint8_t *data = calloc(1, big);
    uint64_t victim = cache_store_new_oid(s), other = cache_store_new_oid(s);
    cache_record_t rec;

    cache_store_put_chunk(s, victim, 0, data, big); /* never fits: MDB_MAP_FULL, victim is remembered as dropped */
    cache_store_flush(s);
    cache_store_put_chunk(s, other, 0, data, big); /* the same for another object */
    cache_store_flush(s);
    for (uint32_t i = 1; i != 301; ++i)
        cache_store_put_chunk(s, other, i, "x", 1); /* skipped as dropped, one ring entry each */
    cache_store_flush(s);
    put_record(s, "/victim", 60, victim, big, NULL);
    cache_store_flush(s);

    int ret = get_record(r, "/victim", &rec);
    if (ret == 0)
        ck_assert_msg(chunk_status(r, victim, 0) == 0, "the record of /victim was stored, but its chunk 0 is missing");
    ck_assert_int_eq(ret, CACHE_STORE_ENOTFOUND);

    free(data);
    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cache_store_map_full");
    TCase *tc;

    tc = tcase_create("map_full");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_map_full_never_record_without_chunks);
    tcase_add_test(tc, test_map_full_chunk_larger_than_map);
    tcase_add_test(tc, test_map_full_record_without_chunks_dropped);
    tcase_add_test(tc, test_map_full_keeps_headroom);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    common_log_level = COMMON_LOG_ERROR; /* the "cache is full" warnings are expected here */
    return fixture_main("check_cache_store_map_full", suite());
}
