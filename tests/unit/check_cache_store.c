/*
 * tests/unit/check_cache_store.c: the LMDB object store (cache/store.c).
 *
 * Every test runs against a real LMDB environment in its own mkdtemp directory (made by the fixture
 * under one directory that main() makes and removes), with the real writer thread: a write is visible
 * to a reader only after cache_store_flush(). Records are built with the record codec, so that what the
 * store keeps is what origin/fetch.c would give it.
 *
 * The invariant checked hardest is the one store.h promises: a record that get() returns never names
 * chunks that read_chunk() cannot find, whether the chunks were replaced, deleted, discarded or never
 * fitted in the map (MDB_MAP_FULL).
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
    return fixture_main("check_cache_store", suite());
}
