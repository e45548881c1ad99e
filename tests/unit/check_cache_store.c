/*
 * tests/unit/check_cache_store.c: the LMDB object store (cache/store.c).
 *
 * Every test runs against a real LMDB environment in its own mkdtemp directory (made by the fixture
 * under one directory that main() makes and removes), with the real writer thread: a write is visible
 * to a reader only after cache_store_flush(). Records are built with the record codec, so that what the
 * store keeps is what origin/fetch.c would give it.
 *
 * The invariant checked hardest is the one store.h promises: a record that get() returns never names
 * chunks that read_chunk() cannot find, whether the chunks were replaced, deleted or discarded; the
 * case where they never fitted in the map (MDB_MAP_FULL) is check_cache_store_map_full.c.
 *
 * Corruption on disk is simulated without <lmdb.h> (only cache/store.c includes it): LMDB keeps small
 * values verbatim in its pages and has no checksums, so the test patches the bytes of a stored record in
 * data.mdb while the store is closed.
 */
#include "cache/store.h"

#include <check.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/record.h"
#include "common/log.h"

#define MAP_SIZE (64 * 1024 * 1024)
#define MAX_READERS 64 /* room for a reader's CACHE_STORE_MAX_PINS pins, and the writer's transaction */
#define CHUNK 4096

#include "tests/unit/store_fixture.h"
#include "tests/unit/store_put_fixture.h"

/* --- open / close --------------------------------------------------------------------------------- */

START_TEST(test_open_close)
{
    char sub[PATH_MAX];
    struct stat st;
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_close(s);

    /* the directory is created when missing */
    snprintf(sub, sizeof(sub), "%s/new", dir);
    char err[256] = "";
    s = cache_store_open(sub, MAP_SIZE, MAX_READERS, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    cache_store_close(s);
    ck_assert_int_eq(stat(sub, &st), 0);
    ck_assert(S_ISDIR(st.st_mode));
    snprintf(sub, sizeof(sub), "%s/new/data.mdb", dir);
    ck_assert_int_eq(stat(sub, &st), 0);
}
END_TEST

START_TEST(test_open_fails_with_message)
{
    char path[PATH_MAX], err[256] = "";
    snprintf(path, sizeof(path), "%s/file", dir);
    FILE *fp = fopen(path, "w");
    ck_assert_ptr_nonnull(fp);
    fclose(fp);
    snprintf(path, sizeof(path), "%s/file/sub", dir); /* a directory under a plain file */
    ck_assert_ptr_null(cache_store_open(path, MAP_SIZE, MAX_READERS, err, sizeof(err)));
    ck_assert_msg(strstr(err, path) != NULL, "the message should name the directory: \"%s\"", err);
}
END_TEST

START_TEST(test_second_open_in_use)
{
    char err[256] = "";
    cache_store_t *s = open_store(MAP_SIZE);
    ck_assert_ptr_null(cache_store_open(dir, MAP_SIZE, MAX_READERS, err, sizeof(err)));
    ck_assert_msg(strstr(err, "in use") != NULL, "message: \"%s\"", err);
    cache_store_close(s);
    /* once the first is closed, the directory can be opened again */
    s = open_store(MAP_SIZE);
    cache_store_close(s);
}
END_TEST

START_TEST(test_flush_with_nothing_queued)
{
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_flush(s);
    cache_store_flush(s);
    cache_store_reader_t *r = cache_store_reader_new(s);
    cache_record_t rec;
    ck_assert_int_eq(get_record(r, "/nothing", &rec), CACHE_STORE_ENOTFOUND);
    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

/* --- records and chunks --------------------------------------------------------------------------- */

START_TEST(test_put_get_roundtrip)
{
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);
    cache_record_t rec;
    size_t len;
    uint8_t *expect = make_record("/a.txt", 60, 0, 0, "hello", &len);

    ck_assert_int_eq(get_record(r, "/a.txt", &rec), CACHE_STORE_ENOTFOUND);
    put_record(s, "/a.txt", 60, 0, 0, "hello");
    cache_store_flush(s);

    cache_hash_t h = hash_of("/a.txt");
    h2o_iovec_t raw;
    ck_assert_int_eq(cache_store_get(r, &h, &pool, &raw), 0);
    ck_assert_uint_eq(raw.len, len);
    /* byte for byte what was put, but for the seal the store sets: its epoch and the body's checksum */
    ck_assert_mem_eq(raw.base, expect, CACHE_RECORD_EPOCH_OFFSET);
    ck_assert_mem_eq(raw.base + CACHE_RECORD_HEADER_SIZE, expect + CACHE_RECORD_HEADER_SIZE, len - CACHE_RECORD_HEADER_SIZE);
    ck_assert_int_eq(get_record(r, "/a.txt", &rec), 0);
    ck_assert(h2o_memis(rec.body.base, rec.body.len, H2O_STRLIT("hello")));
    ck_assert_uint_eq(rec.lifetime, 60);
    /* another key is still absent */
    ck_assert_int_eq(get_record(r, "/b.txt", &rec), CACHE_STORE_ENOTFOUND);

    /* a later put under the same key replaces it */
    put_record(s, "/a.txt", 120, 0, 0, "bye");
    cache_store_flush(s);
    ck_assert_int_eq(get_record(r, "/a.txt", &rec), 0);
    ck_assert(h2o_memis(rec.body.base, rec.body.len, H2O_STRLIT("bye")));
    ck_assert_uint_eq(rec.lifetime, 120);

    free(expect);
    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

START_TEST(test_chunks_roundtrip)
{
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);
    uint64_t oid = cache_store_new_oid(s);
    uint8_t small[16];
    size_t len;

    put_chunks(s, oid, 3, 100);
    cache_store_flush(s);
    assert_chunk(r, oid, 0, CHUNK);
    assert_chunk(r, oid, 1, CHUNK);
    assert_chunk(r, oid, 2, 100);
    ck_assert_int_eq(chunk_status(r, oid, 3), CACHE_STORE_ENOTFOUND);
    ck_assert_int_eq(chunk_status(r, oid + 1, 0), CACHE_STORE_ENOTFOUND);
    ck_assert_int_eq(cache_store_read_chunk(r, oid, 0, small, sizeof(small), &len, true), CACHE_STORE_ETOOBIG);

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

START_TEST(test_replace_with_new_oid_deletes_old_chunks)
{
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);
    cache_record_t rec;
    uint64_t old_oid = cache_store_new_oid(s), new_oid = cache_store_new_oid(s);

    put_chunks(s, old_oid, 3, CHUNK);
    put_record(s, "/big", 60, old_oid, 3 * CHUNK, NULL);
    cache_store_flush(s);
    assert_chunk(r, old_oid, 2, CHUNK);

    put_chunks(s, new_oid, 2, 10);
    put_record(s, "/big", 60, new_oid, CHUNK + 10, NULL);
    cache_store_flush(s);
    ck_assert_int_eq(get_record(r, "/big", &rec), 0);
    ck_assert_uint_eq(rec.oid, new_oid);
    for (uint32_t i = 0; i != 3; ++i)
        ck_assert_int_eq(chunk_status(r, old_oid, i), CACHE_STORE_ENOTFOUND);
    assert_chunk(r, new_oid, 0, CHUNK);
    assert_chunk(r, new_oid, 1, 10);

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

START_TEST(test_replace_chunked_with_inline_deletes_chunks)
{
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);
    cache_record_t rec;
    uint64_t oid = cache_store_new_oid(s);

    put_chunks(s, oid, 2, CHUNK);
    put_record(s, "/x", 60, oid, 2 * CHUNK, NULL);
    put_record(s, "/x", 60, 0, 0, "now small");
    cache_store_flush(s);
    ck_assert_int_eq(get_record(r, "/x", &rec), 0);
    ck_assert_uint_eq(rec.oid, 0);
    ck_assert_int_eq(chunk_status(r, oid, 0), CACHE_STORE_ENOTFOUND);
    ck_assert_int_eq(chunk_status(r, oid, 1), CACHE_STORE_ENOTFOUND);

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

START_TEST(test_refresh_same_oid_keeps_chunks)
{
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);
    cache_record_t rec;
    uint64_t oid = cache_store_new_oid(s);

    put_chunks(s, oid, 3, 7);
    put_record(s, "/big", 60, oid, 2 * CHUNK + 7, NULL);
    cache_store_flush(s);
    /* a 304 refreshes the headers and times: same oid, new lifetime */
    put_record(s, "/big", 999, oid, 2 * CHUNK + 7, NULL);
    cache_store_flush(s);
    ck_assert_int_eq(get_record(r, "/big", &rec), 0);
    ck_assert_uint_eq(rec.lifetime, 999);
    ck_assert_uint_eq(rec.oid, oid);
    assert_chunk(r, oid, 0, CHUNK);
    assert_chunk(r, oid, 1, CHUNK);
    assert_chunk(r, oid, 2, 7);

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

START_TEST(test_delete_removes_record_and_chunks)
{
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);
    cache_record_t rec;
    uint64_t oid = cache_store_new_oid(s), other = cache_store_new_oid(s);

    put_chunks(s, oid, 3, CHUNK);
    put_record(s, "/gone", 60, oid, 3 * CHUNK, NULL);
    put_chunks(s, other, 1, 5);
    put_record(s, "/stays", 60, other, 5, NULL);
    put_record(s, "/inline", 60, 0, 0, "x");
    cache_store_flush(s);

    cache_hash_t h = hash_of("/gone");
    cache_store_delete(s, &h);
    h = hash_of("/inline");
    cache_store_delete(s, &h);
    h = hash_of("/never-stored");
    cache_store_delete(s, &h); /* deleting what is not there is harmless */
    cache_store_flush(s);

    ck_assert_int_eq(get_record(r, "/gone", &rec), CACHE_STORE_ENOTFOUND);
    ck_assert_int_eq(get_record(r, "/inline", &rec), CACHE_STORE_ENOTFOUND);
    for (uint32_t i = 0; i != 3; ++i)
        ck_assert_int_eq(chunk_status(r, oid, i), CACHE_STORE_ENOTFOUND);
    ck_assert_int_eq(get_record(r, "/stays", &rec), 0);
    assert_chunk(r, other, 0, 5);

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

START_TEST(test_discard_removes_chunks)
{
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);
    uint64_t oid = cache_store_new_oid(s), other = cache_store_new_oid(s);

    put_chunks(s, oid, 5, CHUNK);
    put_chunks(s, other, 2, CHUNK);
    cache_store_flush(s);
    cache_store_discard(s, oid, 3); /* the first three only */
    cache_store_discard(s, other, 0);
    cache_store_flush(s);
    for (uint32_t i = 0; i != 3; ++i)
        ck_assert_int_eq(chunk_status(r, oid, i), CACHE_STORE_ENOTFOUND);
    assert_chunk(r, oid, 3, CHUNK);
    assert_chunk(r, oid, 4, CHUNK);
    assert_chunk(r, other, 0, CHUNK);
    assert_chunk(r, other, 1, CHUNK);

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

typedef struct st_writer_arg_t {
    cache_store_t *store;
    int id;
} writer_arg_t;

static void *write_many(void *_arg)
{
    writer_arg_t *arg = _arg;
    char key[64];
    for (int i = 0; i != 100; ++i) {
        snprintf(key, sizeof(key), "/t%d/%d", arg->id, i);
        put_record(arg->store, key, (uint32_t)i, 0, 0, key);
    }
    cache_key_thread_dispose(); /* hash_of() gave this thread a digest context */
    return NULL;
}

START_TEST(test_writes_from_many_threads)
{
    cache_store_t *s = open_store(MAP_SIZE);
    pthread_t t[4];
    writer_arg_t args[4];
    for (int i = 0; i != 4; ++i) {
        args[i] = (writer_arg_t){s, i};
        ck_assert_int_eq(pthread_create(&t[i], NULL, write_many, &args[i]), 0);
    }
    for (int i = 0; i != 4; ++i)
        pthread_join(t[i], NULL);
    cache_store_flush(s);

    cache_store_reader_t *r = cache_store_reader_new(s);
    for (int id = 0; id != 4; ++id)
        for (int i = 0; i != 100; ++i) {
            char key[64];
            cache_record_t rec;
            snprintf(key, sizeof(key), "/t%d/%d", id, i);
            ck_assert_int_eq(get_record(r, key, &rec), 0);
            ck_assert(h2o_memis(rec.body.base, rec.body.len, key, strlen(key)));
            ck_assert_uint_eq(rec.lifetime, (uint32_t)i);
        }
    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

/* --- corrupt records ------------------------------------------------------------------------------ */

START_TEST(test_put_undecodable_record_is_refused)
{
    /* The writer decodes every record before storing it and drops what does not decode (store.c,
     * MSG_RECORD), so garbage that comes through put_record never reaches a reader. */
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);
    cache_record_t rec;
    uint8_t garbage[300];
    cache_hash_t h = hash_of("/garbage");
    uint64_t x = 0x1234567;

    for (size_t i = 0; i != sizeof(garbage); ++i)
        garbage[i] = (uint8_t)((x = x * 6364136223846793005u + 1442695040888963407u) >> 56);
    garbage[0] = CACHE_RECORD_VERSION, garbage[1] = 0; /* a known version, but nonsense lengths */
    cache_store_put_record(s, &h, garbage, sizeof(garbage), 0);
    cache_store_flush(s);
    ck_assert_int_eq(get_record(r, "/garbage", &rec), CACHE_STORE_ENOTFOUND);

    /* over a good record, garbage leaves the good one in place */
    put_record(s, "/garbage", 60, 0, 0, "good");
    cache_store_put_record(s, &h, garbage, sizeof(garbage), 0);
    cache_store_flush(s);
    ck_assert_int_eq(get_record(r, "/garbage", &rec), 0);
    ck_assert(h2o_memis(rec.body.base, rec.body.len, H2O_STRLIT("good")));

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

/* Overwrites, in every copy of the record for `key` found in data.mdb, the first two bytes of its header
 * block (which follows the key) with 0xffff: a name length larger than the block. Returns the copies. */
static size_t corrupt_on_disk(const char *key)
{
    char path[PATH_MAX];
    struct stat st;
    size_t klen = strlen(key), found = 0;

    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &st), 0);
    uint8_t *data = malloc((size_t)st.st_size);
    ck_assert_ptr_nonnull(data);
    ck_assert_int_eq(pread(fd, data, (size_t)st.st_size, 0), st.st_size);
    for (size_t off = 0; off + klen + 2 <= (size_t)st.st_size; ++off) {
        if (memcmp(data + off, key, klen) != 0)
            continue;
        static const uint8_t bad[2] = {0xff, 0xff};
        ck_assert_int_eq(pwrite(fd, bad, 2, (off_t)(off + klen)), 2);
        ++found;
    }
    free(data);
    close(fd);
    return found;
}

START_TEST(test_corrupt_record_on_disk_is_returned_then_replaced)
{
    static const char key[] = "/corrupt-me-7f3a9c1e";
    cache_store_t *s = open_store(MAP_SIZE);
    size_t len;
    uint8_t *orig = make_record(key, 60, 0, 0, "original body", &len);
    cache_hash_t h = hash_of(key);
    cache_store_put_record(s, &h, orig, len, 0);
    cache_store_flush(s);
    cache_store_close(s);

    ck_assert_uint_gt(corrupt_on_disk(key), 0);

    s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);
    h2o_iovec_t raw;
    cache_record_t rec;
    /* the store hands back what it has, as is; the caller's decode is what catches the damage */
    ck_assert_int_eq(cache_store_get(r, &h, &pool, &raw), 0);
    ck_assert_uint_eq(raw.len, len);
    ck_assert_int_ne(memcmp(raw.base, orig, len), 0);
    ck_assert_int_eq(cache_record_decode(&rec, (const uint8_t *)raw.base, raw.len), CACHE_RECORD_E_CORRUPT);

    /* a good record replaces the corrupt one (whose lengths the writer must not trust) */
    put_record(s, key, 77, 0, 0, "fresh body");
    cache_store_flush(s);
    ck_assert_int_eq(get_record(r, key, &rec), 0);
    ck_assert_uint_eq(rec.lifetime, 77);
    ck_assert(h2o_memis(rec.body.base, rec.body.len, H2O_STRLIT("fresh body")));

    cache_store_reader_free(r);
    cache_store_close(s);
    free(orig);
}
END_TEST

START_TEST(test_corrupt_record_on_disk_can_be_deleted)
{
    static const char key[] = "/corrupt-me-too-5b2d";
    cache_store_t *s = open_store(MAP_SIZE);
    put_record(s, key, 60, 0, 0, "body");
    cache_store_flush(s);
    cache_store_close(s);
    ck_assert_uint_gt(corrupt_on_disk(key), 0);

    s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);
    cache_hash_t h = hash_of(key);
    h2o_iovec_t raw;
    ck_assert_int_eq(cache_store_get(r, &h, &pool, &raw), 0);
    cache_store_delete(s, &h);
    cache_store_flush(s);
    ck_assert_int_eq(cache_store_get(r, &h, &pool, &raw), CACHE_STORE_ENOTFOUND);
    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

/* --- persistence and oids ------------------------------------------------------------------------- */

START_TEST(test_new_oid_unique)
{
    cache_store_t *s = open_store(MAP_SIZE);
    uint64_t prev = cache_store_new_oid(s);
    ck_assert_uint_ne(prev, 0); /* 0 means "inline" in a record */
    for (int i = 0; i != 10000; ++i) {
        uint64_t oid = cache_store_new_oid(s);
        ck_assert_uint_gt(oid, prev);
        prev = oid;
    }
    cache_store_close(s);
}
END_TEST

START_TEST(test_new_oid_survives_reopen)
{
    cache_store_t *s = open_store(MAP_SIZE);
    uint64_t max = 0;
    for (int i = 0; i != 5; ++i) {
        uint64_t oid = cache_store_new_oid(s);
        put_chunks(s, oid, 1, 10);
        max = oid > max ? oid : max;
    }
    /* the highest one stored is deleted again: the high-water mark must remember it anyway */
    cache_store_discard(s, max, 1);
    cache_store_close(s);

    s = open_store(MAP_SIZE);
    uint64_t next = cache_store_new_oid(s);
    ck_assert_msg(next > max, "after reopen, new_oid gave %llu, but %llu was already used", (unsigned long long)next,
                  (unsigned long long)max);
    cache_store_close(s);
}
END_TEST

START_TEST(test_records_survive_reopen)
{
    cache_store_t *s = open_store(MAP_SIZE);
    uint64_t oid = cache_store_new_oid(s);
    char key[32];
    for (int i = 0; i != 50; ++i) {
        snprintf(key, sizeof(key), "/r/%d", i);
        put_record(s, key, (uint32_t)i, 0, 0, key);
    }
    put_chunks(s, oid, 4, 99);
    put_record(s, "/chunked", 5, oid, 3 * CHUNK + 99, NULL);
    cache_store_close(s); /* no flush: close applies what is queued */

    s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);
    cache_record_t rec;
    for (int i = 0; i != 50; ++i) {
        snprintf(key, sizeof(key), "/r/%d", i);
        ck_assert_int_eq(get_record(r, key, &rec), 0);
        ck_assert_uint_eq(rec.lifetime, (uint32_t)i);
        ck_assert(h2o_memis(rec.body.base, rec.body.len, key, strlen(key)));
    }
    ck_assert_int_eq(get_record(r, "/chunked", &rec), 0);
    ck_assert_uint_eq(rec.oid, oid);
    for (uint32_t i = 0; i != 3; ++i)
        assert_chunk(r, oid, i, CHUNK);
    assert_chunk(r, oid, 3, 99);
    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

START_TEST(test_strerror)
{
    static const int codes[] = {0, CACHE_STORE_ENOTFOUND, CACHE_STORE_EIO, CACHE_STORE_ETOOBIG, CACHE_STORE_EBUSY, -99};
    for (size_t i = 0; i != sizeof(codes) / sizeof(codes[0]); ++i) {
        ck_assert_ptr_nonnull(cache_store_strerror(codes[i]));
        for (size_t j = 0; j != i; ++j)
            ck_assert_str_ne(cache_store_strerror(codes[i]), cache_store_strerror(codes[j]));
    }
}
END_TEST

/* A pinned get points into the map (no copy) and holds a transaction: the reader caps how many, a pin
 * keeps its snapshot while newer writes commit, and unpinned transactions are reused. (That a value still
 * only queued is refused cannot be tested without stopping the writer, which may commit at once.) */
START_TEST(test_pinned_get)
{
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);
    cache_store_pin_t *pins[CACHE_STORE_MAX_PINS + 1];
    h2o_iovec_t v, copy;
    cache_hash_t h = hash_of("/pin");
    h2o_mem_pool_t mp;

    h2o_mem_init_pool(&mp);
    put_record(s, "/pin", 60, 0, 0, "pinned body");
    cache_store_flush(s);
    ck_assert_int_eq(cache_store_get(r, &h, &mp, &copy), 0);
    for (int i = 0; i != CACHE_STORE_MAX_PINS; ++i) {
        ck_assert_int_eq(cache_store_get_pinned(r, &h, &v, &pins[i]), 0);
        ck_assert(h2o_memis(v.base, v.len, copy.base, copy.len));
        ck_assert_ptr_ne(v.base, copy.base);
    }
    ck_assert_int_eq(cache_store_get_pinned(r, &h, &v, &pins[CACHE_STORE_MAX_PINS]), CACHE_STORE_EBUSY);
    /* a write committed meanwhile does not change what a pin sees */
    put_record(s, "/pin", 60, 0, 0, "a newer body, longer");
    cache_store_flush(s);
    ck_assert(h2o_memis(v.base, v.len, copy.base, copy.len));
    for (int i = 0; i != CACHE_STORE_MAX_PINS; ++i)
        cache_store_unpin(r, pins[i]);
    ck_assert_int_eq(cache_store_get_pinned(r, &h, &v, &pins[0]), 0);
    ck_assert(!h2o_memis(v.base, v.len, copy.base, copy.len)); /* a new snapshot sees the newer record */
    cache_store_unpin(r, pins[0]);
    cache_hash_t none = hash_of("/nothing");
    ck_assert_int_eq(cache_store_get_pinned(r, &none, &v, &pins[0]), CACHE_STORE_ENOTFOUND);
    h2o_mem_clear_pool(&mp);
    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

/* A pinned chunk points into the map and keeps its bytes while the writer replaces the object (new oid: the
 * old chunks are deleted) and then deletes it, until it is unpinned; verify checks the mapped bytes; chunk
 * pins and record pins share one budget. */
START_TEST(test_pinned_chunk_survives_replace_and_delete)
{
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);
    uint64_t oid = cache_store_new_oid(s), new_oid = cache_store_new_oid(s);
    cache_store_pin_t *pin, *pins[CACHE_STORE_MAX_PINS];
    h2o_iovec_t v, w;
    cache_hash_t h = hash_of("/big");

    put_chunks(s, oid, 2, 100);
    put_record(s, "/big", 60, oid, CHUNK + 100, NULL);
    cache_store_flush(s);
    ck_assert_int_eq(cache_store_read_chunk_pinned(r, oid, 0, true, &v, &pin), 0);
    ck_assert_uint_eq(v.len, CHUNK);
    ck_assert_int_eq(cache_store_read_chunk_pinned(r, oid, 1, true, &w, &pins[0]), 0);
    ck_assert_uint_eq(w.len, 100);
    cache_store_unpin(r, pins[0]);
    ck_assert_int_eq(cache_store_read_chunk_pinned(r, oid, 2, true, &w, &pins[0]), CACHE_STORE_ENOTFOUND);

    /* replaced: the old chunks are gone for new reads, the pinned one is intact */
    put_chunks(s, new_oid, 1, 10);
    put_record(s, "/big", 60, new_oid, 10, NULL);
    cache_store_flush(s);
    ck_assert_int_eq(chunk_status(r, oid, 0), CACHE_STORE_ENOTFOUND);
    ck_assert_int_eq(cache_store_read_chunk_pinned(r, oid, 0, false, &w, &pins[0]), CACHE_STORE_ENOTFOUND);
    /* ...and deleted, with enough writes after it that freed pages would be reused if nothing held them */
    cache_store_delete(s, &h);
    for (int i = 0; i != 8; ++i) {
        uint64_t o = cache_store_new_oid(s);
        put_chunks(s, o, 2, CHUNK);
        cache_store_flush(s);
    }
    for (size_t i = 0; i != v.len; ++i)
        ck_assert_msg((uint8_t)v.base[i] == (uint8_t)oid, "byte %zu of the pinned chunk changed", i);
    cache_store_unpin(r, pin);

    /* the budget: record pins and chunk pins count together */
    uint64_t o = cache_store_new_oid(s);
    put_chunks(s, o, 1, 50);
    put_record(s, "/small", 60, 0, 0, "inline");
    cache_store_flush(s);
    cache_hash_t hs = hash_of("/small");
    for (int i = 0; i != CACHE_STORE_MAX_PINS; ++i)
        ck_assert_int_eq(i % 2 == 0 ? cache_store_read_chunk_pinned(r, o, 0, true, &w, &pins[i])
                                    : cache_store_get_pinned(r, &hs, &w, &pins[i]),
                         0);
    ck_assert_int_eq(cache_store_read_chunk_pinned(r, o, 0, true, &w, &pin), CACHE_STORE_EBUSY);
    ck_assert_int_eq(cache_store_get_pinned(r, &hs, &w, &pin), CACHE_STORE_EBUSY);
    for (int i = 0; i != CACHE_STORE_MAX_PINS; ++i)
        cache_store_unpin(r, pins[i]);
    ck_assert_int_eq(cache_store_read_chunk_pinned(r, o, 0, true, &w, &pin), 0);
    ck_assert_uint_eq(w.len, 50);
    cache_store_unpin(r, pin);

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cache_store");
    TCase *tc;

    tc = tcase_create("open_close");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_open_close);
    tcase_add_test(tc, test_open_fails_with_message);
    tcase_add_test(tc, test_second_open_in_use);
    tcase_add_test(tc, test_flush_with_nothing_queued);
    tcase_add_test(tc, test_strerror);
    suite_add_tcase(s, tc);

    tc = tcase_create("records_chunks");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_put_get_roundtrip);
    tcase_add_test(tc, test_chunks_roundtrip);
    tcase_add_test(tc, test_pinned_get);
    tcase_add_test(tc, test_pinned_chunk_survives_replace_and_delete);
    tcase_add_test(tc, test_replace_with_new_oid_deletes_old_chunks);
    tcase_add_test(tc, test_replace_chunked_with_inline_deletes_chunks);
    tcase_add_test(tc, test_refresh_same_oid_keeps_chunks);
    tcase_add_test(tc, test_delete_removes_record_and_chunks);
    tcase_add_test(tc, test_discard_removes_chunks);
    tcase_add_test(tc, test_writes_from_many_threads);
    suite_add_tcase(s, tc);

    tc = tcase_create("corrupt");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_put_undecodable_record_is_refused);
    tcase_add_test(tc, test_corrupt_record_on_disk_is_returned_then_replaced);
    tcase_add_test(tc, test_corrupt_record_on_disk_can_be_deleted);
    suite_add_tcase(s, tc);

    tc = tcase_create("persistence");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_new_oid_unique);
    tcase_add_test(tc, test_new_oid_survives_reopen);
    tcase_add_test(tc, test_records_survive_reopen);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    common_log_level = COMMON_LOG_ERROR; /* the store's warnings and info lines are not what these tests check */
    return fixture_main("check_cache_store", suite());
}
