/*
 * tests/unit/check_cache_store_upkeep.c: how the store keeps itself and lets others look at it
 * (cache/store.c): eviction in use order, aux values, read-only opens (also beside a writer in another
 * process, as `edgecache report` runs beside edgecache), the orphan sweep, snapshots, checksums with
 * their epochs, and the statistics. Invalidations are in check_cache_store_index.c.
 *
 * Like check_cache_store.c, every test runs against a real LMDB environment in its own mkdtemp
 * directory, with the real writer thread; a write is visible to these assertions only after
 * cache_store_flush(). Records are put and purged with the helpers of store_purge_fixture.h.
 *
 * LMDB's files are never parsed (only cache/store.c includes <lmdb.h>): damage on disk is made by
 * finding a known byte pattern in data.mdb while the store is closed, and every test asserts on what
 * the public calls return, with exact counts.
 */
#include "cache/store.h"

#include <check.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cache/checksum.h"
#include "cache/record.h"
#include "common/log.h"

#define MAP_SIZE (64 * 1024 * 1024)
#define MAX_READERS 64
#define CHUNK 4096

#include "tests/unit/store_fixture.h"
#include "tests/unit/store_purge_fixture.h"

/* --- eviction in use order ------------------------------------------------------------------------- */

#define LRU_HOT 10
#define LRU_COLD 70
#define LRU_MAX 600
#define LRU_BODY 8000

static void wait_next_second(time_t after)
{
    while (time(NULL) <= after)
        usleep(20000);
}

static void touch_hot(cache_store_t *s, cache_store_reader_t *r)
{
    char key[32];
    for (int i = 0; i != LRU_HOT; ++i) {
        snprintf(key, sizeof(key), "/o/%d", i);
        cache_hash_t h = hash_of(key);
        cache_store_touch(r, &h);
    }
    cache_store_reader_tick(r);
    cache_store_flush(s);
}

START_TEST(test_lru_eviction_keeps_hot_objects)
{
    static uint8_t body[LRU_BODY];
    memset(body, 'e', sizeof(body));
    spec_t sp = {.body = body, .body_size = sizeof(body)};
    cache_store_t *s = open_store(2 * 1024 * 1024);
    cache_store_reader_t *r = cache_store_reader_new(s);
    cache_store_stats_t stats;
    char key[32];
    int n;

    /* /o/0../o/9 (hot) are put first, so that by insertion order alone they would go first */
    for (n = 0; n != LRU_HOT + LRU_COLD; ++n) {
        snprintf(key, sizeof(key), "/o/%d", n);
        put_spec(s, key, &sp);
        cache_store_flush(s);
    }
    cache_store_stats(s, &stats);
    ck_assert_msg(stats.evictions == 0, "evicted while filling a tenth of the map");
    ck_assert_uint_eq(stats.objects, LRU_HOT + LRU_COLD);

    /* uses are recorded in seconds: the hot set is used in a later second than every cold put */
    wait_next_second(time(NULL));
    touch_hot(s, r);
    for (; n != LRU_MAX; ++n) {
        snprintf(key, sizeof(key), "/o/%d", n);
        put_spec(s, key, &sp);
        cache_store_flush(s);
        touch_hot(s, r);
        cache_store_stats(s, &stats);
        if (stats.evictions != 0)
            break;
    }
    ck_assert_msg(n != LRU_MAX, "%d objects of %zu bytes fitted in a 2 MiB map without eviction", n, sizeof(body));
    int filled = n + 1;
    ck_assert_uint_le(stats.bytes_used, stats.map_size);
    ck_assert_uint_eq(stats.map_size, 2 * 1024 * 1024);

    size_t evicted = 0;
    for (int i = 0; i != filled; ++i) {
        snprintf(key, sizeof(key), "/o/%d", i);
        cache_hash_t h = hash_of(key);
        bool here = stored(r, key);
        if (i < LRU_HOT)
            ck_assert_msg(here, "hot object %s was evicted", key);
        else if (i >= LRU_HOT + LRU_COLD)
            ck_assert_msg(here, "%s, put after the cold ones, was evicted before them", key);
        if (!here)
            ++evicted;
        ck_assert_msg(cache_store_recently_evicted(s, &h, 60) == !here, "%s: recently_evicted says %d, stored says %d", key,
                      (int)!here, (int)here);
    }
    ck_assert_uint_gt(evicted, 0);
    ck_assert_uint_eq(evicted, stats.evictions);
    ck_assert_uint_eq(num_objects(s), (uint64_t)filled - evicted);
    cache_hash_t never = hash_of("/never-stored");
    ck_assert(!cache_store_recently_evicted(s, &never, 60));

    /* eviction removed its victims from the urls index too: a purge counts exactly what is left */
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_PREFIX, "/o/", false), (uint64_t)filled - evicted);
    ck_assert_uint_eq(num_objects(s), 0);
    /* purged is not evicted */
    cache_hash_t hot = hash_of("/o/0");
    ck_assert(!cache_store_recently_evicted(s, &hot, 60));

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

/* --- aux values -------------------------------------------------------------------------------- */

typedef struct st_scan_t {
    char buf[256];
    size_t calls;
    size_t stop_after; /* 0: never */
} scan_t;

static int on_aux(void *_c, h2o_iovec_t key, h2o_iovec_t value)
{
    scan_t *c = _c;
    size_t len = strlen(c->buf);
    snprintf(c->buf + len, sizeof(c->buf) - len, "%.*s=%.*s;", (int)key.len, key.base, (int)value.len, value.base);
    ++c->calls;
    return c->calls == c->stop_after ? 42 : 0;
}

static int scan(cache_store_t *s, const char *from, const char *to, scan_t *c)
{
    return cache_store_scan_aux(s, h2o_iovec_init(from, strlen(from)), h2o_iovec_init(to, strlen(to)), on_aux, c);
}

static void put_aux(cache_store_t *s, const char *k, const char *v)
{
    cache_store_put_aux(s, k, strlen(k), v, strlen(v));
}

START_TEST(test_aux_put_scan_delete)
{
    cache_store_t *s = open_store(MAP_SIZE);
    put_aux(s, "R2a", "4");
    put_aux(s, "R1c", "3");
    put_aux(s, "R1a", "1");
    put_aux(s, "R1b", "2");
    put_aux(s, "R0z", "0");
    cache_store_flush(s);

    scan_t c = {.calls = 0};
    ck_assert_int_eq(scan(s, "R1", "R2", &c), 0);
    ck_assert_str_eq(c.buf, "R1a=1;R1b=2;R1c=3;");
    ck_assert_uint_eq(c.calls, 3);

    /* `to` is excluded, `from` included */
    c = (scan_t){.calls = 0};
    ck_assert_int_eq(scan(s, "R1b", "R2a", &c), 0);
    ck_assert_str_eq(c.buf, "R1b=2;R1c=3;");
    c = (scan_t){.calls = 0};
    ck_assert_int_eq(scan(s, "S", "T", &c), 0);
    ck_assert_uint_eq(c.calls, 0);

    /* a callback's non-zero return stops the scan and is returned */
    c = (scan_t){.stop_after = 2};
    ck_assert_int_eq(scan(s, "R", "S", &c), 42);
    ck_assert_uint_eq(c.calls, 2);
    ck_assert_str_eq(c.buf, "R0z=0;R1a=1;");

    /* a put replaces the value */
    put_aux(s, "R1b", "two");
    cache_store_flush(s);
    c = (scan_t){.calls = 0};
    ck_assert_int_eq(scan(s, "R1", "R2", &c), 0);
    ck_assert_str_eq(c.buf, "R1a=1;R1b=two;R1c=3;");

    cache_store_delete_aux_range(s, "R1a", 3, "R1c", 3);
    cache_store_flush(s);
    c = (scan_t){.calls = 0};
    ck_assert_int_eq(scan(s, "R", "S", &c), 0);
    ck_assert_str_eq(c.buf, "R0z=0;R1c=3;R2a=4;");

    /* a range that holds nothing deletes nothing */
    cache_store_delete_aux_range(s, "R1d", 3, "R2", 2);
    cache_store_flush(s);
    c = (scan_t){.calls = 0};
    ck_assert_int_eq(scan(s, "R", "S", &c), 0);
    ck_assert_str_eq(c.buf, "R0z=0;R1c=3;R2a=4;");

    /* aux values are no objects */
    ck_assert_uint_eq(num_objects(s), 0);
    cache_store_close(s);
}
END_TEST

/* --- read-only open ---------------------------------------------------------------------------- */

START_TEST(test_open_readonly)
{
    char err[256] = "", sub[PATH_MAX];
    cache_store_t *s = open_store(MAP_SIZE);
    put_aux(s, "report/1", "one");
    put_aux(s, "report/2", "two");
    put_plain(s, "/x");
    put_plain(s, "/y");
    cache_store_flush(s);
    cache_store_close(s);

    /* LMDB forbids opening one environment twice in one process, so only after the writer closed it */
    cache_store_t *ro = cache_store_open_readonly(dir, err, sizeof(err));
    ck_assert_msg(ro != NULL, "cache_store_open_readonly: %s", err);
    scan_t c = {.calls = 0};
    ck_assert_int_eq(scan(ro, "report/", "report0", &c), 0);
    ck_assert_str_eq(c.buf, "report/1=one;report/2=two;");
    ck_assert_uint_eq(num_objects(ro), 2);
    cache_store_close(ro);

    /* and it wrote nothing: the read-write store opens as before, with its data */
    s = open_store(MAP_SIZE);
    ck_assert_uint_eq(num_objects(s), 2);
    cache_store_close(s);

    /* a directory without a store */
    snprintf(sub, sizeof(sub), "%s/empty", dir);
    ck_assert_int_eq(mkdir(sub, 0755), 0);
    err[0] = '\0';
    ck_assert_ptr_null(cache_store_open_readonly(sub, err, sizeof(err)));
    ck_assert_msg(strstr(err, sub) != NULL, "the message should name the directory: \"%s\"", err);
    snprintf(sub, sizeof(sub), "%s/missing", dir);
    err[0] = '\0';
    ck_assert_ptr_null(cache_store_open_readonly(sub, err, sizeof(err)));
    ck_assert_msg(strstr(err, sub) != NULL, "the message should name the directory: \"%s\"", err);
    struct stat st;
    ck_assert_msg(stat(sub, &st) != 0, "a read-only open created %s", sub);
}
END_TEST

/* The writer in another process (as edgecache beside `edgecache report`): the child owns the read-write
 * store and says, through a pipe, when each step is committed; the parent reads with a read-only open. */
static void child_writer(int to_parent, int from_parent)
{
    char err[256], c;
    cache_store_t *s = cache_store_open(dir, MAP_SIZE, MAX_READERS, err, sizeof(err));
    if (s == NULL)
        _exit(2);
    put_aux(s, "k/1", "one");
    put_plain(s, "/x");
    cache_store_flush(s);
    if (write(to_parent, "1", 1) != 1 || read(from_parent, &c, 1) != 1)
        _exit(3);
    put_aux(s, "k/2", "two");
    put_plain(s, "/y");
    cache_store_flush(s);
    if (write(to_parent, "2", 1) != 1 || read(from_parent, &c, 1) != 1)
        _exit(4);
    cache_store_close(s);
    _exit(0);
}

START_TEST(test_open_readonly_beside_writer)
{
    int up[2], down[2], status;
    char c, err[256] = "", snap[PATH_MAX];
    ck_assert_int_eq(pipe(up), 0);
    ck_assert_int_eq(pipe(down), 0);
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0)
        child_writer(up[1], down[0]);

    ck_assert_int_eq(read(up[0], &c, 1), 1);
    cache_store_t *ro = cache_store_open_readonly(dir, err, sizeof(err));
    ck_assert_msg(ro != NULL, "cache_store_open_readonly beside a writer: %s", err);
    scan_t sc = {.calls = 0};
    ck_assert_int_eq(scan(ro, "k/", "k0", &sc), 0);
    ck_assert_str_eq(sc.buf, "k/1=one;");
    ck_assert_uint_eq(num_objects(ro), 1);

    /* what the writer commits later is seen by the next scan */
    ck_assert_int_eq(write(down[1], "a", 1), 1);
    ck_assert_int_eq(read(up[0], &c, 1), 1);
    sc = (scan_t){.calls = 0};
    ck_assert_int_eq(scan(ro, "k/", "k0", &sc), 0);
    ck_assert_str_eq(sc.buf, "k/1=one;k/2=two;");
    ck_assert_uint_eq(num_objects(ro), 2);
    snprintf(snap, sizeof(snap), "%s/snap", dir);
    ck_assert_msg(cache_store_snapshot(ro, snap, err, sizeof(err)) == 0, "snapshot beside a writer: %s", err);
    cache_store_close(ro);

    ck_assert_int_eq(write(down[1], "b", 1), 1);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the writer process failed: status %d", status);
    cache_store_t *c2 = open_store_in(snap, MAP_SIZE);
    ck_assert_uint_eq(num_objects(c2), 2);
    cache_store_close(c2);
}
END_TEST

/* --- snapshots --------------------------------------------------------------------------------- */

/* The orphan sweep: chunks that no record owns, left by an earlier run (killed between a body's chunks
 * and its record), are deleted when the store is idle after a restart; owned chunks, and the chunks of the
 * current run (which may belong to a fetch in flight), are kept. */
START_TEST(test_orphan_sweep)
{
    cache_store_t *s = open_store(MAP_SIZE);
    uint64_t orphan = cache_store_new_oid(s);
    put_chunks(s, orphan, 3, 100); /* no record: as if killed before it */
    uint64_t owned = put_chunked(s, "/owned", 3, 0);
    cache_store_flush(s);
    cache_store_close(s);

    s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);
    uint64_t current = cache_store_new_oid(s);
    put_chunks(s, current, 2, 100); /* this run's, still without a record */
    cache_store_flush(s);
    for (int i = 0; i != 100 && chunk_status(r, orphan, 0) == 0; ++i)
        usleep(20000); /* the sweep runs when the writer is idle */
    for (uint32_t i = 0; i != 3; ++i)
        ck_assert_int_eq(chunk_status(r, orphan, i), CACHE_STORE_ENOTFOUND);
    for (uint32_t i = 0; i != 3; ++i)
        ck_assert_int_eq(chunk_status(r, owned, i), 0);
    for (uint32_t i = 0; i != 2; ++i)
        ck_assert_int_eq(chunk_status(r, current, i), 0);
    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

START_TEST(test_snapshot)
{
    char err[256] = "", snap[PATH_MAX], snap2[PATH_MAX];
    snprintf(snap, sizeof(snap), "%s/snap", dir);
    snprintf(snap2, sizeof(snap2), "%s/snap2", dir);
    char live[PATH_MAX];
    snprintf(live, sizeof(live), "%s/live", dir);
    cache_store_t *s = open_store_in(live, MAP_SIZE);
    cache_record_t rec;

    put_plain(s, "/inline");
    uint64_t oid = put_chunked(s, "/chunked", 3, 0);
    put_plain(s, "/purged");
    put_aux(s, "a", "1");
    cache_store_flush(s);
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_URL, "/purged", false), 1);

    ck_assert_msg(cache_store_snapshot(s, snap, err, sizeof(err)) == 0, "snapshot: %s", err);
    put_plain(s, "/after"); /* the live store goes on; the snapshot does not see this */
    cache_store_flush(s);

    /* into a directory that holds a store already: refused, with a message */
    err[0] = '\0';
    ck_assert_int_eq(cache_store_snapshot(s, snap, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, snap) != NULL, "the message should name the directory: \"%s\"", err);
    err[0] = '\0';
    ck_assert_int_eq(cache_store_snapshot(s, live, err, sizeof(err)), -1);
    ck_assert_str_ne(err, "");
    cache_store_close(s);

    cache_store_t *c = open_store_in(snap, MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(c);
    ck_assert_int_eq(get_record(r, "/inline", &rec), 0);
    ck_assert(h2o_memis(rec.body.base, rec.body.len, H2O_STRLIT("body")));
    ck_assert_int_eq(get_record(r, "/chunked", &rec), 0);
    ck_assert_uint_eq(rec.oid, oid);
    assert_chunk(r, oid, 0, CHUNK);
    assert_chunk(r, oid, 1, CHUNK);
    assert_chunk(r, oid, 2, 100);
    ck_assert(!stored(r, "/purged"));
    ck_assert(!stored(r, "/after"));
    ck_assert_uint_eq(num_objects(c), 2);
    scan_t sc = {.calls = 0};
    ck_assert_int_eq(scan(c, "a", "b", &sc), 0);
    ck_assert_str_eq(sc.buf, "a=1;");
    /* the copy keeps its indexes: a purge there counts what it holds */
    ck_assert_uint_eq(purge_count(c, CACHE_PURGE_PREFIX, "/", false), 2);
    ck_assert_int_eq(chunk_status(r, oid, 0), CACHE_STORE_ENOTFOUND);
    /* and its oids do not come back for new objects */
    ck_assert_uint_gt(cache_store_new_oid(c), oid);
    cache_store_reader_free(r);
    cache_store_close(c);

    /* a read-only store can be snapshot too */
    cache_store_t *ro = cache_store_open_readonly(live, err, sizeof(err));
    ck_assert_msg(ro != NULL, "%s", err);
    ck_assert_msg(cache_store_snapshot(ro, snap2, err, sizeof(err)) == 0, "snapshot of a read-only store: %s", err);
    cache_store_close(ro);
    c = open_store_in(snap2, MAP_SIZE);
    r = cache_store_reader_new(c);
    ck_assert(stored(r, "/after"));
    ck_assert(stored(r, "/inline"));
    assert_chunk(r, oid, 2, 100);
    ck_assert_uint_eq(num_objects(c), 3);
    cache_store_reader_free(r);
    cache_store_close(c);
}
END_TEST

/* --- checksums ----------------------------------------------------------------------------------- */

#define SUM_CHUNK (16 * 1024) /* larger than a page: LMDB keeps it in overflow pages, one copy, verbatim */

static void fill_pattern(uint8_t *buf, size_t len, uint32_t seed)
{
    uint32_t x = seed;
    for (size_t i = 0; i != len; ++i) {
        x = x * 1103515245 + 12345;
        buf[i] = (uint8_t)(x >> 16);
    }
}

/* Flips one bit at `at` bytes into every copy of `pattern` (`len` bytes) in data.mdb; returns the copies. */
static size_t damage_on_disk(const uint8_t *pattern, size_t len, size_t at)
{
    char path[PATH_MAX];
    struct stat st;
    size_t found = 0;

    snprintf(path, sizeof(path), "%s/data.mdb", dir);
    int fd = open(path, O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(fstat(fd, &st), 0);
    uint8_t *data = malloc((size_t)st.st_size);
    ck_assert_ptr_nonnull(data);
    ck_assert_int_eq(pread(fd, data, (size_t)st.st_size, 0), st.st_size);
    for (size_t off = 0; off + len <= (size_t)st.st_size; ++off) {
        if (memcmp(data + off, pattern, len) != 0)
            continue;
        uint8_t b = data[off + at] ^ 0x10;
        ck_assert_int_eq(pwrite(fd, &b, 1, (off_t)(off + at)), 1);
        ++found;
    }
    free(data);
    close(fd);
    return found;
}

START_TEST(test_checksums_and_epochs)
{
    static uint8_t c0[SUM_CHUNK], c1[SUM_CHUNK], got[SUM_CHUNK];
    size_t len;
    cache_record_t rec;
    fill_pattern(c0, sizeof(c0), 7);
    fill_pattern(c1, sizeof(c1), 8);
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);

    uint64_t oid = cache_store_new_oid(s);
    cache_store_put_chunk(s, oid, 0, c0, sizeof(c0));
    cache_store_put_chunk(s, oid, 1, c1, sizeof(c1));
    spec_t sp = {.oid = oid, .body_len = 2 * SUM_CHUNK, .chunk_size = SUM_CHUNK};
    put_spec(s, "/sum/chunked", &sp);
    spec_t inl = {.body = "inline body to verify", .body_size = 21};
    put_spec(s, "/sum/inline", &inl);
    put_spec(s, "/sum/other", &inl);
    cache_store_flush(s);

    /* written in this epoch: nothing to verify; the store sealed the inline body's checksum */
    cache_hash_t hi = hash_of("/sum/inline"), ho = hash_of("/sum/other");
    ck_assert_int_eq(get_record(r, "/sum/inline", &rec), 0);
    uint32_t epoch = rec.epoch;
    ck_assert_uint_ne(epoch, 0);
    ck_assert_uint_eq(rec.body_crc, cache_checksum("inline body to verify", 21));
    ck_assert(!cache_store_needs_verify(r, &hi, rec.epoch));
    ck_assert_int_eq(get_record(r, "/sum/chunked", &rec), 0);
    ck_assert_uint_eq(rec.epoch, epoch);
    ck_assert_uint_eq(rec.body_crc, 0);
    ck_assert_int_eq(cache_store_read_chunk(r, oid, 0, got, sizeof(got), &len, true), 0);
    ck_assert_uint_eq(len, SUM_CHUNK);
    ck_assert_mem_eq(got, c0, SUM_CHUNK);
    cache_store_reader_free(r);
    cache_store_close(s);

    ck_assert_uint_eq(damage_on_disk(c0, 256, 5000), 1);

    s = open_store(MAP_SIZE);
    r = cache_store_reader_new(s);
    /* verified: the damage is caught; unverified: the bytes as stored, one bit off */
    ck_assert_int_eq(cache_store_read_chunk(r, oid, 0, got, sizeof(got), &len, true), CACHE_STORE_ECORRUPT);
    memset(got, 0, sizeof(got));
    len = 0;
    ck_assert_int_eq(cache_store_read_chunk(r, oid, 0, got, sizeof(got), &len, false), 0);
    ck_assert_uint_eq(len, SUM_CHUNK);
    ck_assert_uint_eq(got[5000], c0[5000] ^ 0x10);
    got[5000] ^= 0x10;
    ck_assert_mem_eq(got, c0, SUM_CHUNK);
    /* the undamaged chunk verifies */
    ck_assert_int_eq(cache_store_read_chunk(r, oid, 1, got, sizeof(got), &len, true), 0);
    ck_assert_mem_eq(got, c1, SUM_CHUNK);

    /* a new epoch: the old records need verifying, each until it is marked */
    ck_assert_int_eq(get_record(r, "/sum/inline", &rec), 0);
    ck_assert_uint_eq(rec.epoch, epoch);
    ck_assert(cache_store_needs_verify(r, &hi, rec.epoch));
    ck_assert(cache_store_needs_verify(r, &ho, epoch));
    cache_store_mark_verified(r, &hi);
    ck_assert(!cache_store_needs_verify(r, &hi, rec.epoch));
    ck_assert(cache_store_needs_verify(r, &ho, epoch));
    /* marks are the reader's own */
    cache_store_reader_t *r2 = cache_store_reader_new(s);
    ck_assert(cache_store_needs_verify(r2, &hi, epoch));
    cache_store_reader_free(r2);

    /* a record written now is of the new epoch */
    put_spec(s, "/sum/other", &inl);
    cache_store_flush(s);
    ck_assert_int_eq(get_record(r, "/sum/other", &rec), 0);
    ck_assert_uint_eq(rec.epoch, epoch + 1);
    ck_assert(!cache_store_needs_verify(r, &ho, rec.epoch));

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

/* --- statistics ---------------------------------------------------------------------------------- */

START_TEST(test_stats_counts)
{
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_stats_t st;

    cache_store_stats(s, &st);
    ck_assert_uint_eq(st.objects, 0);
    ck_assert_uint_eq(st.map_size, MAP_SIZE);
    ck_assert_uint_eq(st.evictions, 0);
    ck_assert_uint_eq(st.purged, 0);

    char key[32];
    for (int i = 0; i != 7; ++i) {
        snprintf(key, sizeof(key), "/stats/%d", i);
        put_plain(s, key);
    }
    put_chunked(s, "/stats/chunked", 2, 0);
    put_plain(s, "/stats/0"); /* a replacement is no new object */
    put_aux(s, "aux", "is not an object");
    cache_store_flush(s);
    cache_store_stats(s, &st);
    ck_assert_uint_eq(st.objects, 8);
    ck_assert_uint_gt(st.bytes_used, 0);
    ck_assert_uint_le(st.bytes_used, st.map_size);
    ck_assert_uint_eq(st.backlog_bytes, 0);
    ck_assert_uint_eq(st.dropped_writes, 0);

    cache_hash_t h = hash_of("/stats/1");
    cache_store_delete(s, &h);
    cache_store_flush(s);
    ck_assert_uint_eq(num_objects(s), 7);
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_PREFIX, "/stats/", false), 7);
    cache_store_stats(s, &st);
    ck_assert_uint_eq(st.objects, 0);
    ck_assert_uint_eq(st.purged, 7);
    ck_assert_uint_eq(st.evictions, 0);

    /* counts survive a restart (they are the database's) */
    put_plain(s, "/again"); /* (not under /stats/, whose purge bars older fetches) */
    cache_store_flush(s);
    cache_store_close(s);
    s = open_store(MAP_SIZE);
    ck_assert_uint_eq(num_objects(s), 1);
    cache_store_close(s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cache_store_upkeep");
    TCase *tc;

    tc = tcase_create("large");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_lru_eviction_keeps_hot_objects);
    suite_add_tcase(s, tc);

    tc = tcase_create("aux_readonly_snapshot");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_aux_put_scan_delete);
    tcase_add_test(tc, test_open_readonly);
    tcase_add_test(tc, test_open_readonly_beside_writer);
    tcase_add_test(tc, test_snapshot);
    tcase_add_test(tc, test_orphan_sweep);
    suite_add_tcase(s, tc);

    tc = tcase_create("checksums_stats");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_checksums_and_epochs);
    tcase_add_test(tc, test_stats_counts);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    common_log_level = COMMON_LOG_ERROR; /* eviction logs at info level */
    return fixture_main("check_cache_store_upkeep", suite());
}
