/*
 * tests/unit/store_fixture.h: what the store suites (check_cache_store, check_cache_store_index,
 * check_cache_store_map_full, check_cache_store_upkeep) share — a directory per test under one base
 * directory, a memory pool, and helpers that open a store and put or check records and chunks.
 * Header-only: each suite includes it once, before its tests (and before store_put_fixture.h or
 * store_purge_fixture.h, which build records on top of it).
 *
 * The suite defines CHUNK (its chunk size) and MAX_READERS before including it, and calls
 * fixture_main(name, suite) from main().
 */
#ifndef TESTS_UNIT_STORE_FIXTURE_H
#define TESTS_UNIT_STORE_FIXTURE_H

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include "cache/key.h"
#include "cache/record.h"
#include "cache/store.h"

static char base[64]; /* made by fixture_main, removed by it even when a failed test skipped its teardown */
static char dir[96];
static h2o_mem_pool_t pool;

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static void setup(void)
{
    snprintf(dir, sizeof(dir), "%s/XXXXXX", base);
    ck_assert_ptr_nonnull(mkdtemp(dir));
    h2o_mem_init_pool(&pool);
}

static void teardown(void)
{
    h2o_mem_clear_pool(&pool);
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static cache_store_t *open_store_in(const char *d, uint64_t map_size)
{
    char err[256] = "";
    cache_store_t *s = cache_store_open(d, map_size, MAX_READERS, err, sizeof(err));
    ck_assert_msg(s != NULL, "cache_store_open(%s): %s", d, err);
    return s;
}

static cache_store_t *open_store(uint64_t map_size)
{
    return open_store_in(dir, map_size);
}

static cache_hash_t hash_of(const char *key)
{
    cache_hash_t h;
    cache_key_hash(h2o_iovec_init(key, strlen(key)), &h);
    return h;
}

/* Queues `n` chunks of `oid`, chunk i filled with the byte (oid + i); the last one `last_len` bytes. */
static void put_chunks(cache_store_t *s, uint64_t oid, uint32_t n, size_t last_len)
{
    uint8_t buf[CHUNK];
    for (uint32_t i = 0; i != n; ++i) {
        memset(buf, (int)(uint8_t)(oid + i), sizeof(buf));
        cache_store_put_chunk(s, oid, i, buf, i + 1 == n ? last_len : sizeof(buf));
    }
}

static void assert_chunk(cache_store_reader_t *r, uint64_t oid, uint32_t index, size_t expect_len)
{
    uint8_t buf[CHUNK];
    size_t len = 0;
    int ret = cache_store_read_chunk(r, oid, index, buf, sizeof(buf), &len, true);
    ck_assert_msg(ret == 0, "chunk %u of oid %llu: %s", index, (unsigned long long)oid, cache_store_strerror(ret));
    ck_assert_uint_eq(len, expect_len);
    for (size_t i = 0; i != len; ++i)
        ck_assert_msg(buf[i] == (uint8_t)(oid + index), "chunk %u of oid %llu: byte %zu differs", index, (unsigned long long)oid,
                      i);
}

static int chunk_status(cache_store_reader_t *r, uint64_t oid, uint32_t index)
{
    uint8_t buf[CHUNK];
    size_t len;
    return cache_store_read_chunk(r, oid, index, buf, sizeof(buf), &len, true);
}

/* Gets and decodes the record under `key`; returns the store's result, and asserts a stored one decodes. */
static int get_record(cache_store_reader_t *r, const char *key, cache_record_t *rec)
{
    cache_hash_t h = hash_of(key);
    h2o_iovec_t raw;
    int ret = cache_store_get(r, &h, &pool, &raw);
    if (ret == 0) {
        int dec = cache_record_decode(rec, (const uint8_t *)raw.base, raw.len);
        ck_assert_msg(dec == 0, "record under %s does not decode: %s", key, cache_record_strerror(dec));
        ck_assert(h2o_memis(rec->key.base, rec->key.len, key, strlen(key)));
    }
    return ret;
}

/* Runs `s` with a base directory /tmp/NAME.XXXXXX; returns main's exit status. */
static int fixture_main(const char *name, Suite *s)
{
    snprintf(base, sizeof(base), "/tmp/%s.XXXXXX", name);
    if (mkdtemp(base) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return failed == 0 ? 0 : 1;
}

#endif
