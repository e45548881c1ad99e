/*
 * tests/unit/check_cache_store_index.c: the store's indexes and the invalidations built on them
 * (cache/store.c): invalidation by URL, prefix and tag (hard and soft, in slices, with the barrier
 * against responses already on their way), and the chunks a purge must take with it. Eviction, aux
 * values, read-only opens, snapshots and checksums are in check_cache_store_upkeep.c.
 *
 * Like check_cache_store.c, every test runs against a real LMDB environment in its own mkdtemp
 * directory, with the real writer thread; a write is visible to these assertions only after
 * cache_store_flush(). An invalidation larger than one slice re-queues itself from the writer, so its
 * result is read by flushing until its status says done (purge_wait, in store_purge_fixture.h).
 *
 * The secondary indexes are never looked at directly (only cache/store.c includes <lmdb.h>): every test
 * asserts on what the public calls return, with exact counts, so that an index that misses a hash, or
 * names one too many, shows as a wrong count.
 */
#include "cache/store.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/record.h"
#include "common/log.h"

#define MAP_SIZE (64 * 1024 * 1024)
#define MAX_READERS 64
#define CHUNK 4096

#include "tests/unit/store_fixture.h"
#include "tests/unit/store_purge_fixture.h"

/* --- purge by URL, prefix, tag ------------------------------------------------------------------- */

START_TEST(test_purge_url_removes_every_variant)
{
    static const char *const gone[] = {"/a", "/a\nvary\naccept-encoding: gzip", "/a\nvary\naccept-encoding: "};
    static const char *const kept[] = {"/ab", "/b", "/a?x=1", "/"};
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);

    for (size_t i = 0; i != 3; ++i)
        put_plain(s, gone[i]);
    for (size_t i = 0; i != 4; ++i)
        put_plain(s, kept[i]);
    cache_store_flush(s);
    ck_assert_uint_eq(num_objects(s), 7);

    int64_t before = (int64_t)time(NULL);
    uint64_t id = purge(s, CACHE_PURGE_URL, "/a", false);
    cache_store_purge_status_t st = purge_wait(s, id);
    ck_assert(st.done);
    ck_assert_uint_eq(st.objects, 3);
    ck_assert_int_eq(st.kind, CACHE_PURGE_URL);
    ck_assert(!st.soft);
    ck_assert_str_eq(st.target, "/a");
    ck_assert_int_ge(st.created, before);
    ck_assert_int_ge(st.completed, st.created);

    for (size_t i = 0; i != 3; ++i)
        ck_assert_msg(!stored(r, gone[i]), "variant %zu of /a survived the purge", i);
    for (size_t i = 0; i != 4; ++i)
        ck_assert_msg(stored(r, kept[i]), "%s was purged with /a", kept[i]);
    ck_assert_uint_eq(num_objects(s), 4);
    cache_store_stats_t stats;
    cache_store_stats(s, &stats);
    ck_assert_uint_eq(stats.purged, 3);

    /* nothing left to purge: a second one counts 0 */
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_URL, "/a", false), 0);
    ck_assert_uint_eq(num_objects(s), 4);

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

START_TEST(test_purge_prefix_and_ids)
{
    static const char *const keys[] = {"/img/1", "/img/2", "/img/sub/3", "/imgx", "/other"};
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);
    cache_store_purge_status_t st;

    for (size_t i = 0; i != 5; ++i)
        put_plain(s, keys[i]);
    put_plain(s, "/img/1\nvary\naccept-encoding: gzip"); /* a variant of /img/1: its URL part is under the prefix */
    cache_store_flush(s);
    ck_assert_uint_eq(num_objects(s), 6);

    uint64_t id1 = purge(s, CACHE_PURGE_PREFIX, "/img/", false);
    st = purge_wait(s, id1);
    ck_assert_uint_eq(st.objects, 4);
    ck_assert_int_eq(st.kind, CACHE_PURGE_PREFIX);
    ck_assert(!stored(r, "/img/1"));
    ck_assert(!stored(r, "/img/2"));
    ck_assert(!stored(r, "/img/sub/3"));
    ck_assert(!stored(r, "/img/1\nvary\naccept-encoding: gzip"));
    ck_assert(stored(r, "/imgx"));
    ck_assert(stored(r, "/other"));
    ck_assert_uint_eq(num_objects(s), 2);

    /* the empty prefix takes every URL */
    uint64_t id2 = purge(s, CACHE_PURGE_PREFIX, "", false);
    ck_assert_uint_gt(id2, id1);
    st = purge_wait(s, id2);
    ck_assert_uint_eq(st.objects, 2);
    ck_assert(!stored(r, "/imgx"));
    ck_assert(!stored(r, "/other"));
    ck_assert_uint_eq(num_objects(s), 0);

    /* the status of an earlier one is still there, unchanged */
    ck_assert(cache_store_purge_status(s, id1, &st));
    ck_assert(st.done);
    ck_assert_uint_eq(st.objects, 4);
    ck_assert_str_eq(st.target, "/img/");

    /* unknown ids */
    ck_assert(!cache_store_purge_status(s, 0, &st));
    ck_assert(!cache_store_purge_status(s, id2 + 1, &st));
    ck_assert(!cache_store_purge_status(s, id2 + 1000, &st));

    /* ids keep growing across a restart */
    cache_store_reader_free(r);
    cache_store_close(s);
    s = open_store(MAP_SIZE);
    uint64_t id3 = purge(s, CACHE_PURGE_PREFIX, "/nothing/", false);
    ck_assert_uint_gt(id3, id2);
    ck_assert_uint_eq(purge_wait(s, id3).objects, 0);
    cache_store_close(s);
}
END_TEST

/* Keys start with their host: a target without one applies on every host, with one (or a list, or a wildcard)
 * only there; a host given without a port covers every port of that name. */
START_TEST(test_purge_by_host)
{
    static const char *const keys[] = {"a.com/x",      "b.com/x", "x.a.com/x",   "/x",
                                       "a.com:8080/x", "a.com/y", "b.com/img/1", "x.y.a.com/img/2"};
    int64_t later = (int64_t)time(NULL) + 100;
    spec_t tagged = {.surrogate_key = "t", .request_time = later};
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);

    for (size_t i = 0; i != sizeof(keys) / sizeof(keys[0]); ++i)
        put_spec(s, keys[i], &tagged);
    cache_store_flush(s);
    ck_assert_uint_eq(num_objects(s), 8);

    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_URL, "b.com/x", false), 1);
    ck_assert(!stored(r, "b.com/x"));
    ck_assert(stored(r, "a.com/x"));
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_URL, "*.a.com/x", false), 1);
    ck_assert(!stored(r, "x.a.com/x"));
    ck_assert(stored(r, "a.com/x"));                                         /* "*.a.com" is not "a.com" */
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_URL, "a.com/x", false), 2); /* a.com and a.com:8080 */
    ck_assert(!stored(r, "a.com:8080/x"));
    ck_assert(stored(r, "/x"));
    put_spec(s, "a.com/x", &tagged);
    put_spec(s, "b.com/x", &tagged);
    cache_store_flush(s);
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_URL, "/x", false), 3); /* every host, the empty one too */
    ck_assert(stored(r, "a.com/y"));

    /* prefixes, on a list of hosts and a wildcard */
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_PREFIX, "c.com,*.a.com/img/", false), 1);
    ck_assert(!stored(r, "x.y.a.com/img/2"));
    ck_assert(stored(r, "b.com/img/1"));
    /* a tag on some hosts only */
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_TAG, "b.com\nt", false), 1);
    ck_assert(!stored(r, "b.com/img/1"));
    ck_assert(stored(r, "a.com/y"));
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_TAG, "t", false), 1);
    ck_assert_uint_eq(num_objects(s), 0);

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

START_TEST(test_purge_tag)
{
    /* request times after every purge of this test, so that re-stored objects are not barred */
    int64_t later = (int64_t)time(NULL) + 100;
    spec_t t1 = {.surrogate_key = "red blue", .request_time = later};
    spec_t t2 = {.cache_tag = "blue,green", .request_time = later};
    spec_t t3 = {.request_time = later};
    spec_t t4 = {.surrogate_key = "redblue  navy", .cache_tag = "red-ish, green-ish", .request_time = later};
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);

    put_spec(s, "/t1", &t1);
    put_spec(s, "/t2", &t2);
    put_spec(s, "/t3", &t3);
    put_spec(s, "/t4", &t4);
    cache_store_flush(s);
    ck_assert_uint_eq(num_objects(s), 4);

    /* "blue" is in t1's Surrogate-Key (space-separated) and t2's Cache-Tag (comma-separated) */
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_TAG, "blue", false), 2);
    ck_assert(!stored(r, "/t1"));
    ck_assert(!stored(r, "/t2"));
    ck_assert(stored(r, "/t3"));
    ck_assert(stored(r, "/t4"));
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_TAG, "blue", false), 0);

    put_spec(s, "/t1", &t1);
    put_spec(s, "/t2", &t2);
    cache_store_flush(s);
    ck_assert_uint_eq(num_objects(s), 4);

    /* whole tags only, never parts of one or a whole header value */
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_TAG, "blue,green", false), 0);
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_TAG, "red blue", false), 0);
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_TAG, "re", false), 0);
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_TAG, "", false), 0);
    ck_assert_uint_eq(num_objects(s), 4);

    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_TAG, "red", false), 1);
    ck_assert(!stored(r, "/t1"));
    ck_assert(stored(r, "/t2"));
    ck_assert(stored(r, "/t4"));
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_TAG, "green", false), 1);
    ck_assert(!stored(r, "/t2"));
    ck_assert(stored(r, "/t4"));
    /* t4's tags: "redblue", "navy" (space-separated), "red-ish", "green-ish" (comma, then a space) */
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_TAG, "green-ish", false), 1);
    ck_assert(!stored(r, "/t4"));
    ck_assert(stored(r, "/t3"));
    ck_assert_uint_eq(num_objects(s), 1);

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

START_TEST(test_replaced_record_leaves_no_stale_index_entry)
{
    /* the indexes are derived from the record: replacing it must drop the old URL's and old tags' entries */
    int64_t later = (int64_t)time(NULL) + 100;
    spec_t old_tags = {.surrogate_key = "old shared", .request_time = later};
    spec_t new_tags = {.surrogate_key = "new shared", .request_time = later};
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);

    put_spec(s, "/r", &old_tags);
    cache_store_flush(s);
    put_spec(s, "/r", &new_tags);
    cache_store_flush(s);
    ck_assert_uint_eq(num_objects(s), 1);
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_TAG, "old", false), 0);
    ck_assert(stored(r, "/r"));
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_TAG, "new", false), 1);
    ck_assert(!stored(r, "/r"));
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_TAG, "shared", false), 0);

    /* a deleted object leaves nothing behind for a later purge to count */
    put_spec(s, "/r", &new_tags);
    cache_store_flush(s);
    cache_hash_t h = hash_of("/r");
    cache_store_delete(s, &h);
    cache_store_flush(s);
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_TAG, "shared", false), 0);
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_URL, "/r", false), 0);

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

START_TEST(test_purge_long_urls)
{
    /* the urls index keeps the first 400 bytes of a URL; the purge must still compare whole URLs */
    char a[460], b[460], prefix[430];
    memset(a, 'x', sizeof(a));
    a[0] = '/';
    a[sizeof(a) - 1] = '\0';
    memcpy(b, a, sizeof(b));
    b[450] = 'y'; /* differs from a after the indexed part */
    memcpy(prefix, a, sizeof(prefix) - 1);
    prefix[sizeof(prefix) - 1] = '\0';
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);

    put_plain(s, a);
    put_plain(s, b);
    cache_store_flush(s);
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_URL, a, false), 1);
    ck_assert(!stored(r, a));
    ck_assert(stored(r, b));

    spec_t later = {.request_time = (int64_t)time(NULL) + 100, .body = "body", .body_size = 4}; /* past the purge's barrier */
    put_spec(s, a, &later);
    cache_store_flush(s);
    b[420] = 'z'; /* b no longer starts with the 429-byte prefix */
    put_plain(s, b);
    cache_store_flush(s);
    ck_assert_uint_eq(num_objects(s), 3); /* a, the first b, the second b */
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_PREFIX, prefix, false), 2);
    ck_assert(!stored(r, a));
    ck_assert(stored(r, b));
    ck_assert_uint_eq(num_objects(s), 1);

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

/* --- soft purge ---------------------------------------------------------------------------------- */

START_TEST(test_soft_purge_marks_stale)
{
    /* fetched just now: fresh for 300 s (a soft purge must not count an object that is stale already) */
    spec_t sp = {.lifetime = 300, .body = "soft body", .body_size = 9, .surrogate_key = "k", .request_time = (int64_t)time(NULL)};
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);
    cache_record_t rec;

    put_spec(s, "/s/1", &sp);
    put_spec(s, "/s/2", &sp);
    put_spec(s, "/other", &sp);
    uint64_t oid = put_chunked(s, "/s/chunked", 2, (int64_t)time(NULL));
    cache_store_flush(s);
    cache_hash_t h1 = hash_of("/s/1");
    h2o_iovec_t before;
    ck_assert_int_eq(cache_store_get(r, &h1, &pool, &before), 0);

    uint64_t id = purge(s, CACHE_PURGE_PREFIX, "/s/", true);
    cache_store_purge_status_t st = purge_wait(s, id);
    ck_assert(st.soft);
    ck_assert_uint_eq(st.objects, 3);

    /* every object stays, its lifetime now its age (it expires now, so that its stale windows count
     * from the purge), and every other byte as it was */
    ck_assert_uint_eq(num_objects(s), 4);
    h2o_iovec_t after;
    ck_assert_int_eq(cache_store_get(r, &h1, &pool, &after), 0);
    ck_assert_uint_eq(after.len, before.len);
    uint32_t lifetime;
    memcpy(&lifetime, after.base + CACHE_RECORD_LIFETIME_OFFSET, 4);
    ck_assert_uint_le(lifetime, 10); /* (its initial age plus the second or so since) */
    uint8_t *expect = malloc(before.len);
    memcpy(expect, before.base, before.len);
    memcpy(expect + CACHE_RECORD_LIFETIME_OFFSET, &lifetime, 4);
    ck_assert_mem_eq(after.base, expect, before.len);
    free(expect);
    ck_assert_int_eq(get_record(r, "/s/2", &rec), 0);
    ck_assert_uint_le(rec.lifetime, 10);
    ck_assert_uint_eq(rec.stale_if_error, 22);
    ck_assert(h2o_memis(rec.body.base, rec.body.len, H2O_STRLIT("soft body")));
    ck_assert_int_eq(get_record(r, "/s/chunked", &rec), 0);
    ck_assert_uint_le(rec.lifetime, 10);
    assert_chunk(r, oid, 0, CHUNK); /* a soft purge keeps the body */
    assert_chunk(r, oid, 1, 100);
    ck_assert_int_eq(get_record(r, "/other", &rec), 0);
    ck_assert_uint_eq(rec.lifetime, 300);

    /* stale already: a second soft purge counts nothing */
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_PREFIX, "/s/", true), 0);
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_URL, "/s/1", true), 0);
    /* by tag, only /other is still fresh */
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_TAG, "k", true), 1);
    ck_assert_int_eq(get_record(r, "/other", &rec), 0);
    ck_assert_uint_le(rec.lifetime, 10);
    ck_assert_uint_eq(num_objects(s), 4);

    /* a soft purge raises no barrier (store.c: it lets fresh copies in) */
    put_spec(s, "/s/1", &sp); /* requested before the purge */
    cache_store_flush(s);
    ck_assert_int_eq(get_record(r, "/s/1", &rec), 0);
    ck_assert_uint_eq(rec.lifetime, 300);

    /* and a hard purge after the soft one still deletes them */
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_PREFIX, "/s/", false), 3);
    ck_assert_int_eq(chunk_status(r, oid, 0), CACHE_STORE_ENOTFOUND);
    ck_assert_uint_eq(num_objects(s), 1);

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

/* --- the barrier against responses already on their way --------------------------------------- */

START_TEST(test_barrier_refuses_older_fetches)
{
    int64_t now = (int64_t)time(NULL);
    spec_t old = {.request_time = now - 5, .body = "b", .body_size = 1};
    spec_t young = {.request_time = now + 5, .body = "b", .body_size = 1};
    spec_t old_tagged = {.request_time = now - 5, .cache_tag = "t9"};
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);

    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_URL, "/late", false), 0);
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_PREFIX, "/pfx/", false), 0);
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_TAG, "t9", false), 0);

    put_spec(s, "/late", &old);
    put_spec(s, "/late\nvary\naccept-encoding: gzip", &old);
    put_spec(s, "/pfx/one", &old);
    put_spec(s, "/tagged", &old_tagged);
    uint64_t oid = put_chunked(s, "/late?chunked", 2, now - 5); /* another URL: stored */
    uint64_t barred_oid = cache_store_new_oid(s);
    put_chunks(s, barred_oid, 2, 100);
    spec_t old_chunked = {.request_time = now - 5, .oid = barred_oid, .body_len = CHUNK + 100};
    put_spec(s, "/pfx/chunked", &old_chunked);
    put_spec(s, "/elsewhere", &old);
    cache_store_flush(s);

    ck_assert_msg(!stored(r, "/late"), "a response requested before the purge of its URL was stored");
    ck_assert(!stored(r, "/late\nvary\naccept-encoding: gzip"));
    ck_assert_msg(!stored(r, "/pfx/one"), "a response requested before the purge of its prefix was stored");
    ck_assert_msg(!stored(r, "/tagged"), "a response requested before the purge of its tag was stored");
    ck_assert_msg(!stored(r, "/pfx/chunked"), "a chunked response requested before the purge was stored");
    ck_assert_int_eq(chunk_status(r, barred_oid, 0), CACHE_STORE_ENOTFOUND); /* and its chunks were dropped */
    ck_assert_int_eq(chunk_status(r, barred_oid, 1), CACHE_STORE_ENOTFOUND);
    ck_assert(stored(r, "/late?chunked"));
    assert_chunk(r, oid, 0, CHUNK);
    ck_assert(stored(r, "/elsewhere"));
    ck_assert_uint_eq(num_objects(s), 2);

    /* requested after the purge: stored */
    put_spec(s, "/late", &young);
    put_spec(s, "/pfx/one", &young);
    cache_store_flush(s);
    ck_assert(stored(r, "/late"));
    ck_assert(stored(r, "/pfx/one"));
    ck_assert_uint_eq(num_objects(s), 4);

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

/* A URL longer than what the urls index keeps (400 bytes), all 'q'. */
static void long_url(char *buf, size_t size)
{
    memset(buf, 'q', size - 1);
    buf[0] = '/';
    buf[size - 1] = '\0';
}

START_TEST(test_barrier_long_url)
{
    /* the barrier must hold for a URL longer than what the urls index keeps */
    char url[460];
    long_url(url, sizeof(url));
    spec_t old = {.request_time = (int64_t)time(NULL) - 5, .body = "b", .body_size = 1};
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);

    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_URL, url, false), 0);
    put_spec(s, url, &old);
    cache_store_flush(s);
    ck_assert_msg(!stored(r, url), "a 459-byte URL requested before its purge was stored: the barrier missed it");
    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

START_TEST(test_barrier_long_prefix)
{
    char url[460], prefix[421];
    long_url(url, sizeof(url));
    long_url(prefix, sizeof(prefix));
    spec_t old = {.request_time = (int64_t)time(NULL) - 5, .body = "b", .body_size = 1};
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);

    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_PREFIX, prefix, false), 0);
    put_spec(s, url, &old);
    cache_store_flush(s);
    ck_assert_msg(!stored(r, url), "a URL under a 420-byte prefix, requested before its purge, was stored: the barrier missed it");
    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

/* --- chunked objects, large purges ------------------------------------------------------------- */

START_TEST(test_purge_deletes_chunks)
{
    cache_store_t *s = open_store(MAP_SIZE);
    cache_store_reader_t *r = cache_store_reader_new(s);
    uint64_t c1 = put_chunked(s, "/c/1", 3, 0), c2 = put_chunked(s, "/c/2", 2, 0), d1 = put_chunked(s, "/d/1", 2, 0);
    spec_t tagged = {.surrogate_key = "video", .oid = cache_store_new_oid(s), .body_len = 2 * CHUNK + 100};
    put_chunks(s, tagged.oid, 3, 100);
    put_spec(s, "/t/1", &tagged);
    cache_store_flush(s);
    assert_chunk(r, c1, 2, 100);

    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_PREFIX, "/c/", false), 2);
    for (uint32_t i = 0; i != 3; ++i)
        ck_assert_int_eq(chunk_status(r, c1, i), CACHE_STORE_ENOTFOUND);
    for (uint32_t i = 0; i != 2; ++i)
        ck_assert_int_eq(chunk_status(r, c2, i), CACHE_STORE_ENOTFOUND);
    assert_chunk(r, d1, 0, CHUNK);
    assert_chunk(r, d1, 1, 100);

    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_TAG, "video", false), 1);
    for (uint32_t i = 0; i != 3; ++i)
        ck_assert_int_eq(chunk_status(r, tagged.oid, i), CACHE_STORE_ENOTFOUND);

    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_URL, "/d/1", false), 1);
    ck_assert_int_eq(chunk_status(r, d1, 0), CACHE_STORE_ENOTFOUND);
    ck_assert_int_eq(chunk_status(r, d1, 1), CACHE_STORE_ENOTFOUND);
    ck_assert_uint_eq(num_objects(s), 0);

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

#define BIG_N 45000
#define BIG_SLICE 20000 /* PURGE_SLICE in cache/store.c */

START_TEST(test_large_purge_in_slices)
{
    cache_store_t *s = open_store(256 * 1024 * 1024);
    cache_store_reader_t *r = cache_store_reader_new(s);
    char key[32];

    for (int i = 0; i != BIG_N; ++i) {
        snprintf(key, sizeof(key), "/big/%05d", i);
        put_plain(s, key);
    }
    put_plain(s, "/bigger");
    put_plain(s, "/big");
    cache_store_flush(s);
    cache_store_stats_t stats;
    cache_store_stats(s, &stats);
    ck_assert_uint_eq(stats.dropped_writes, 0);
    ck_assert_uint_eq(stats.objects, BIG_N + 2);

    /* polled without waiting: whatever the writer has reached, the status is a whole number of slices
     * and says done only with every object counted */
    uint64_t id = purge(s, CACHE_PURGE_PREFIX, "/big/", false);
    cache_store_purge_status_t st;
    uint64_t last = 0;
    for (int i = 0; i != 200000; ++i) {
        ck_assert(cache_store_purge_status(s, id, &st));
        ck_assert_uint_ge(st.objects, last);
        last = st.objects;
        if (st.done)
            break;
        ck_assert_msg(st.objects % BIG_SLICE == 0 && st.objects < BIG_N, "running, with %llu objects",
                      (unsigned long long)st.objects);
        ck_assert_int_eq(st.completed, 0);
        if (i % 64 == 63)
            cache_store_flush(s);
    }
    st = purge_wait(s, id);
    ck_assert_uint_eq(st.objects, BIG_N);
    ck_assert_int_ge(st.completed, st.created);

    ck_assert_uint_eq(num_objects(s), 2);
    ck_assert(stored(r, "/bigger"));
    ck_assert(stored(r, "/big"));
    ck_assert(!stored(r, "/big/00000"));
    ck_assert(!stored(r, "/big/44999"));
    ck_assert(!stored(r, "/big/20000"));
    cache_store_stats(s, &stats);
    ck_assert_uint_eq(stats.purged, BIG_N);

    /* the same through the soft path, which leaves every object in the index */
    for (int i = 0; i != BIG_N; ++i) {
        snprintf(key, sizeof(key), "/big/%05d", i);
        spec_t sp = {.request_time = (int64_t)time(NULL) + 100, .body = "b", .body_size = 1};
        put_spec(s, key, &sp);
    }
    cache_store_flush(s);
    ck_assert_uint_eq(num_objects(s), BIG_N + 2);
    ck_assert_uint_eq(purge_count(s, CACHE_PURGE_PREFIX, "/big/", true), BIG_N);
    ck_assert_uint_eq(num_objects(s), BIG_N + 2);

    cache_store_reader_free(r);
    cache_store_close(s);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cache_store_index");
    TCase *tc;

    tc = tcase_create("purge");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_purge_url_removes_every_variant);
    tcase_add_test(tc, test_purge_prefix_and_ids);
    tcase_add_test(tc, test_purge_tag);
    tcase_add_test(tc, test_purge_by_host);
    tcase_add_test(tc, test_replaced_record_leaves_no_stale_index_entry);
    tcase_add_test(tc, test_purge_long_urls);
    tcase_add_test(tc, test_soft_purge_marks_stale);
    tcase_add_test(tc, test_purge_deletes_chunks);
    suite_add_tcase(s, tc);

    tc = tcase_create("barrier");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_barrier_refuses_older_fetches);
    tcase_add_test(tc, test_barrier_long_url);
    tcase_add_test(tc, test_barrier_long_prefix);
    suite_add_tcase(s, tc);

    tc = tcase_create("large");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_large_purge_in_slices);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    common_log_level = COMMON_LOG_ERROR; /* the store's warnings and info lines are not what these tests check */
    return fixture_main("check_cache_store_index", suite());
}
