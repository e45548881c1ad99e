/*
 * tests/unit/check_cache_store_faults.c: what the store does when things go wrong (cache/store.c,
 * store_writer.c): the cause of a failed write (a full disk that LMDB reports as EIO), the cap on Vary
 * variants per URL, a store that stores nothing (an unusable cache directory), and files that are not a
 * whole store (moved aside, or deleted by a reset).
 *
 * Like check_cache_store.c, each test runs against a real LMDB environment in its own mkdtemp directory,
 * with the real writer thread; a write is visible here only after cache_store_flush().
 */
#include "cache/store.h"

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/record.h"
#include "common/log.h"

#define MAP_SIZE (16 * 1024 * 1024)
#define MAX_READERS 64
#define CHUNK 4096

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function" /* (the chunk helpers of the shared fixture are not used here) */
#include "tests/unit/store_fixture.h"
#pragma GCC diagnostic pop

/* Queues an inline record under `key`; with `vary_value`, as a variant (a Vary block naming x-v). */
static void put(cache_store_t *s, const char *key, const char *vary_value)
{
    uint8_t vary[64], *vp = vary;
    if (vary_value != NULL)
        cache_record_put_header(&vp, H2O_STRLIT("x-v"), vary_value, strlen(vary_value));
    cache_record_t rec = {.status = 200,
                          .request_time = 1700000000,
                          .response_time = 1700000001,
                          .lifetime = 600,
                          .body_len = 2,
                          .key = h2o_iovec_init(key, strlen(key)),
                          .vary = h2o_iovec_init(vary, (size_t)(vp - vary)),
                          .body = h2o_iovec_init("ok", 2)};
    size_t len = cache_record_size(&rec);
    uint8_t *buf = malloc(len);
    ck_assert_uint_eq(cache_record_encode(&rec, buf), len);
    cache_hash_t h = hash_of(key);
    cache_store_put_record(s, &h, buf, len, cache_store_purge_seq(s));
    free(buf);
}

static bool stored(cache_store_t *s, const char *key)
{
    cache_store_reader_t *r = cache_store_reader_new(s);
    cache_hash_t h = hash_of(key);
    h2o_iovec_t out;
    int ret = cache_store_get(r, &h, &pool, &out);
    cache_store_reader_free(r);
    ck_assert_msg(ret == 0 || ret == CACHE_STORE_ENOTFOUND, "get %s: %s", key, cache_store_strerror(ret));
    return ret == 0;
}

START_TEST(test_write_fault_causes)
{
    ck_assert_int_eq(cache_store_write_fault(ENOSPC, 1 << 30, 4096), CACHE_STORE_FAULT_DISK_FULL);
    ck_assert_int_eq(cache_store_write_fault(EDQUOT, 1 << 30, 4096), CACHE_STORE_FAULT_DISK_FULL);
    /* LMDB's short write: EIO with no room left is a full disk, EIO with room a real I/O error */
    ck_assert_int_eq(cache_store_write_fault(EIO, 0, 4096), CACHE_STORE_FAULT_DISK_FULL);
    ck_assert_int_eq(cache_store_write_fault(EIO, 4095, 4096), CACHE_STORE_FAULT_DISK_FULL);
    ck_assert_int_eq(cache_store_write_fault(EIO, (uint64_t)1 << 30, 4096), CACHE_STORE_FAULT_IO);
    ck_assert_int_eq(cache_store_write_fault(EACCES, 0, 4096), CACHE_STORE_FAULT_IO);
}
END_TEST

START_TEST(test_vary_cap)
{
    cache_store_config_t conf = {.map_size = MAP_SIZE, .max_readers = MAX_READERS, .max_variants = 3};
    char err[256] = "", key[64];
    int why = 0;
    cache_store_t *s = cache_store_open_with(dir, &conf, &why, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    put(s, "/other", NULL);
    for (int i = 1; i <= 10; ++i) {
        snprintf(key, sizeof(key), "/u\nvary\nx-v: %d", i);
        snprintf(err, sizeof(err), "%d", i);
        put(s, key, err);
        put(s, "/u", NULL); /* the index record, as cache/build.c queues it after each variant */
    }
    cache_store_flush(s);
    for (int i = 1; i <= 10; ++i) {
        snprintf(key, sizeof(key), "/u\nvary\nx-v: %d", i);
        ck_assert_msg(stored(s, key) == (i <= 3), "variant %d", i);
    }
    ck_assert(stored(s, "/u"));
    ck_assert(stored(s, "/other"));
    /* a stored variant is replaced as usual, and a variant of another URL is not affected */
    put(s, "/u\nvary\nx-v: 2", "2");
    put(s, "/w\nvary\nx-v: 1", "1");
    cache_store_flush(s);
    ck_assert(stored(s, "/u\nvary\nx-v: 2"));
    ck_assert(stored(s, "/w\nvary\nx-v: 1"));
    cache_store_stats_t st;
    cache_store_stats(s, &st);
    ck_assert_uint_eq(st.vary_refused, 7);
    ck_assert(st.usable);
    cache_store_close(s);
}
END_TEST

START_TEST(test_no_cap_by_default)
{
    cache_store_t *s = open_store(MAP_SIZE);
    char key[64];
    for (int i = 1; i <= 40; ++i) {
        snprintf(key, sizeof(key), "/u\nvary\nx-v: %d", i);
        put(s, key, "x");
    }
    cache_store_flush(s);
    ck_assert(stored(s, "/u\nvary\nx-v: 40"));
    cache_store_close(s);
}
END_TEST

START_TEST(test_unusable_store)
{
    cache_store_t *s = cache_store_open_unusable(dir);
    ck_assert(!cache_store_usable(s));
    put(s, "/a", NULL);
    cache_store_put_chunk(s, cache_store_new_oid(s), 0, "abc", 3);
    cache_store_put_aux(s, "k", 1, "v", 1);
    cache_store_flush(s); /* returns: nothing was queued */
    ck_assert(!stored(s, "/a"));
    cache_store_reader_t *r = cache_store_reader_new(s);
    h2o_iovec_t out;
    cache_store_pin_t *pin;
    cache_hash_t h = hash_of("/a");
    uint8_t buf[16];
    size_t len;
    ck_assert_int_eq(cache_store_get_pinned(r, &h, &out, &pin), CACHE_STORE_ENOTFOUND);
    ck_assert_int_eq(cache_store_read_chunk(r, 1, 0, buf, sizeof(buf), &len, true), CACHE_STORE_ENOTFOUND);
    cache_store_touch(r, &h);
    cache_store_reader_tick(r);
    cache_store_reader_free(r);
    uint64_t id = cache_store_purge(s, CACHE_PURGE_URL, "/a", 2, false);
    cache_store_purge_status_t ps;
    ck_assert(cache_store_purge_status(s, id, &ps));
    ck_assert(ps.done);
    cache_store_stats_t st;
    cache_store_stats(s, &st);
    ck_assert(!st.usable);
    ck_assert_uint_eq(st.objects, 0);
    char err[256];
    char dest[128];
    snprintf(dest, sizeof(dest), "%s/snap", dir);
    ck_assert_int_eq(cache_store_snapshot(s, dest, err, sizeof(err)), -1);
    cache_store_close(s);
}
END_TEST

/* How many entries of `dir` start with `prefix`. */
static int count_files(const char *prefix)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    int n = 0;
    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL)
        if (strncmp(de->d_name, prefix, strlen(prefix)) == 0)
            ++n;
    closedir(d);
    return n;
}

static void truncate_data(void)
{
    char path[192];
    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    ck_assert_int_eq(truncate(path, 8192), 0);
}

START_TEST(test_truncated_store_is_broken_or_moved_aside)
{
    char err[256] = "";
    int why = 0;
    cache_store_t *s = open_store(MAP_SIZE);
    for (int i = 0; i != 50; ++i) {
        char key[32];
        snprintf(key, sizeof(key), "/k%d", i);
        put(s, key, NULL);
    }
    cache_store_flush(s);
    cache_store_close(s);
    truncate_data();

    /* without move_aside: refused, with its reason, and the files are left alone */
    cache_store_config_t conf = {.map_size = MAP_SIZE, .max_readers = MAX_READERS};
    ck_assert_ptr_null(cache_store_open_with(dir, &conf, &why, err, sizeof(err)));
    ck_assert_int_eq(why, CACHE_STORE_EBROKEN);
    ck_assert_msg(strstr(err, "truncated") != NULL, "%s", err);
    ck_assert_int_eq(count_files("data.mdb.broken-"), 0);

    /* with it: moved aside, and an empty store */
    conf.move_aside = true;
    s = cache_store_open_with(dir, &conf, &why, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_int_eq(count_files("data.mdb.broken-"), 1);
    ck_assert_int_eq(count_files("lock.mdb.broken-"), 1);
    ck_assert(!stored(s, "/k1"));
    put(s, "/k1", NULL);
    cache_store_flush(s);
    ck_assert(stored(s, "/k1"));
    cache_store_close(s);

    /* reset: the store and the copies moved aside are deleted, the directory's lock file stays */
    conf.move_aside = false;
    conf.reset = true;
    s = cache_store_open_with(dir, &conf, &why, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    ck_assert_int_eq(count_files("data.mdb.broken-"), 0);
    ck_assert_int_eq(count_files("lock.mdb.broken-"), 0);
    ck_assert_int_eq(count_files("edgecache.lock"), 1);
    ck_assert(!stored(s, "/k1"));
    cache_store_close(s);
}
END_TEST

START_TEST(test_open_reasons)
{
    char err[256] = "", path[192];
    int why = 0;
    cache_store_config_t conf = {.map_size = MAP_SIZE, .max_readers = MAX_READERS};
    cache_store_t *s = open_store(MAP_SIZE);
    ck_assert_ptr_null(cache_store_open_with(dir, &conf, &why, err, sizeof(err)));
    ck_assert_int_eq(why, CACHE_STORE_ELOCKED);
    cache_store_close(s);
    /* a regular file where the directory should be: not a reason to refuse serving, just unusable */
    snprintf(path, sizeof(path), "%s/file", dir);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fclose(fp);
    snprintf(path, sizeof(path), "%s/file/sub", dir);
    ck_assert_ptr_null(cache_store_open_with(path, &conf, &why, err, sizeof(err)));
    ck_assert_int_ne(why, CACHE_STORE_ELOCKED);
    ck_assert_int_ne(why, CACHE_STORE_EBROKEN);
}
END_TEST

int main(void)
{
    common_log_level = COMMON_LOG_ERROR; /* the lines about moving files aside are expected here */
    Suite *su = suite_create("cache_store_faults");
    TCase *tc = tcase_create("faults");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_write_fault_causes);
    tcase_add_test(tc, test_vary_cap);
    tcase_add_test(tc, test_no_cap_by_default);
    tcase_add_test(tc, test_unusable_store);
    tcase_add_test(tc, test_truncated_store_is_broken_or_moved_aside);
    tcase_add_test(tc, test_open_reasons);
    suite_add_tcase(su, tc);
    return fixture_main("check_cache_store_faults", su);
}
