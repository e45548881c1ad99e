/*
 * tests/unit/check_reports_accounting.c: per-thread accounting (reports/accounting.c), the stored layout
 * (reports/bucket.c) and the reports read back from it (reports/report.c, advice.c, html.c, json.c).
 *
 * Events are scripted with known counts, and every figure of the reports is checked to the exact number:
 * first straight from reports_acct_snapshot (no store), then through a real store (flush at a bucket's
 * end and on force, two threads, retention, read back with cache_store_scan_aux and after a read-only
 * reopen). Stored values that do not decode are skipped and counted, never trusted. The JSON popular
 * report is parsed back for a merge, whose counts and error bounds must add up.
 */
#include "reports/accounting.h"

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/log.h"
#include "reports/bucket.h"
#include "reports/json.h"
#include "reports/report.h"
#include "reports/stats.h"

#define T0 1795000000000ull /* ms; a multiple of 10 s: bucket starts are easy to read */

static char base[64];
static char dir[96];
/* What the configuration loader would fill for
 *   reports: {bucket: 10s, capacity: 100, top: 10, retention: 60s}
 *   behaviors: images (default_ttl 3600), search (query_string all), and the default "*" */
static const cache_key_rules_t key_all = {.query_string = CACHE_KEY_QS_ALL};
static const cache_ttl_rules_t ttl_images = {.default_ttl = 3600, .max_ttl = 31536000, .default_ttl_set = true};
static const cache_ttl_rules_t ttl_default = {.default_ttl = 86400, .max_ttl = 31536000};
static reports_conf_behavior_t behaviors[] = {
    {.path = "/images/*", .key = &key_all, .ttl = &ttl_images},
    {.path = "/search*", .key = &key_all, .ttl = &ttl_default},
    {.path = "*", .key = &key_all, .ttl = &ttl_default},
};
static const reports_conf_t conf = {.bucket_s = 10,
                                    .capacity = 100,
                                    .top = 10,
                                    .retention_s = 60,
                                    .behaviors = behaviors,
                                    .num_behaviors = sizeof(behaviors) / sizeof(behaviors[0])};

static void setup(void)
{
    snprintf(dir, sizeof(dir), "%s/XXXXXX", base);
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
}

static reports_event_t ev(const char *url, size_t behavior, reports_outcome_t outcome, int status, uint64_t bytes)
{
    return (reports_event_t){.url = h2o_iovec_init(url, strlen(url)),
                             .behavior = behavior,
                             .outcome = outcome,
                             .status = status,
                             .bytes_sent = bytes,
                             .origin_bytes = outcome == REPORTS_MISS || outcome == REPORTS_REFRESHED ? bytes : 0,
                             .origin_ms = outcome == REPORTS_HIT ? -1 : 30};
}

/* The script: /images/a.png 5 times (1 miss + 4 hits), /images/b.png 3 times (miss, revalidated 304,
 * refreshed), /x a 404 miss, /x an error page (502), one abandoned download of /images/a.png counted in
 * its hits. */
static void script(reports_acct_t *a, uint64_t now)
{
    reports_event_t e;
    reports_acct_record(a, (e = ev("/images/a.png", 0, REPORTS_MISS, 200, 1000), &e), now);
    for (int i = 0; i != 4; ++i) {
        e = ev("/images/a.png", 0, REPORTS_HIT, 200, 1000);
        e.incomplete = i == 3;
        reports_acct_record(a, &e, now);
    }
    reports_acct_record(a, (e = ev("/images/b.png", 0, REPORTS_MISS, 200, 500), &e), now);
    e = ev("/images/b.png", 0, REPORTS_REVALIDATED, 200, 500);
    e.expired = true;
    e.origin_ms = 3;
    reports_acct_record(a, &e, now);
    e = ev("/images/b.png", 0, REPORTS_REFRESHED, 200, 600);
    e.expired = true;
    e.origin_ms = 700;
    reports_acct_record(a, &e, now);
    reports_acct_record(a, (e = ev("/x", 2, REPORTS_MISS, 404, 10), &e), now);
    reports_acct_record(a, (e = ev("/x", 2, REPORTS_ERROR, 502, 20), &e), now);
}

static int add_to(void *ctx, h2o_iovec_t key, h2o_iovec_t value)
{
    return reports_data_add(ctx, key, value);
}

static char *render(reports_data_t *d, int (*fn)(const reports_data_t *, reports_format_t, FILE *), reports_format_t fmt)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    ck_assert_int_eq(fn(d, fmt, fp), 0);
    fclose(fp);
    return buf;
}

static reports_data_t *data_of(reports_acct_t *a)
{
    reports_query_t q = {.from_s = T0 / 1000, .to_s = T0 / 1000 + 3600, .top = 10};
    reports_data_t *d = reports_data_new(&q);
    ck_assert_int_eq(reports_acct_snapshot(a, add_to, d), 0);
    return d;
}

static const reports_json_t *object_row(const reports_json_t *root, const char *url)
{
    const reports_json_t *objs = reports_json_get(root, "objects");
    for (size_t i = 0; objs != NULL && i != objs->num_items; ++i)
        if (strcmp(reports_json_get(objs->items[i], "url")->string, url) == 0)
            return objs->items[i];
    return NULL;
}

static uint64_t num(const reports_json_t *obj, const char *name)
{
    const reports_json_t *v = reports_json_get(obj, name);
    ck_assert_msg(v != NULL && v->is_uint, "no integer %s", name);
    return v->uint;
}

START_TEST(test_popular_exact)
{
    reports_acct_t *a = reports_acct_new(&conf, NULL, 0);
    script(a, T0 + 1);
    reports_data_t *d = data_of(a);
    char *json = render(d, reports_render_popular, REPORTS_FORMAT_JSON), err[128];
    reports_json_t *root = reports_json_parse(json, strlen(json), err, sizeof(err));
    ck_assert_msg(root != NULL, "%s: %s", err, json);
    ck_assert_uint_eq(num(root, "total_requests"), 10);
    ck_assert_uint_eq(num(root, "floor"), 0);
    ck_assert_uint_eq(reports_json_get(root, "objects")->num_items, 3);

    const reports_json_t *o = object_row(root, "/images/a.png");
    ck_assert_ptr_nonnull(o);
    ck_assert_ptr_eq(reports_json_get(root, "objects")->items[0], o); /* the most requested first */
    ck_assert_uint_eq(num(o, "requests"), 5);
    ck_assert_uint_eq(num(o, "error"), 0);
    ck_assert_uint_eq(num(o, "hits"), 4);
    ck_assert_uint_eq(num(o, "misses"), 1);
    ck_assert_uint_eq(num(o, "bytes_total"), 5000);
    ck_assert_uint_eq(num(o, "bytes_from_misses"), 1000);
    ck_assert_uint_eq(num(o, "incomplete"), 1);
    ck_assert_uint_eq(num(o, "s2xx"), 5);
    ck_assert(reports_json_get(o, "hit_pct")->number == 80.0);

    o = object_row(root, "/images/b.png");
    ck_assert_uint_eq(num(o, "requests"), 3);
    ck_assert_uint_eq(num(o, "hits"), 1);   /* the 304 */
    ck_assert_uint_eq(num(o, "misses"), 2); /* the miss and the refresh */
    ck_assert_uint_eq(num(o, "bytes_from_misses"), 1100);
    ck_assert_uint_eq(num(o, "bytes_total"), 1600);

    o = object_row(root, "/x");
    ck_assert_uint_eq(num(o, "requests"), 2);
    ck_assert_uint_eq(num(o, "hits"), 0);
    ck_assert_uint_eq(num(o, "misses"), 1); /* the error is neither */
    ck_assert_uint_eq(num(o, "s4xx"), 1);
    ck_assert_uint_eq(num(o, "s5xx"), 1);
    reports_json_free(root);
    free(json);

    char *csv = render(d, reports_render_popular, REPORTS_FORMAT_CSV);
    ck_assert_msg(strstr(csv,
                         "url,requests,error,hits,misses,hit_pct,bytes_from_misses,bytes_total,incomplete,s2xx,s3xx,s4xx,s5xx\n"
                         "/images/a.png,5,0,4,1,80.0,1000,5000,1,5,0,0,0\n"
                         "/images/b.png,3,0,1,2,33.3,1100,1600,0,3,0,0,0\n"
                         "/x,2,0,0,1,0.0,10,30,0,0,0,1,1\n") == csv,
                  "%s", csv);
    free(csv);
    char *table = render(d, reports_render_popular, REPORTS_FORMAT_TABLE);
    ck_assert_msg(strstr(table, "url            requests  error  hits  misses  hit_pct  bytes_from_misses  bytes_total  incomplete "
                                " s2xx  s3xx  s4xx  s5xx\n"
                                "/images/a.png         5      0     4       1     80.0               1000         5000           1 "
                                "    5     0     0     0\n") != NULL,
                  "%s", table);
    free(table);
    reports_data_free(d);
    reports_acct_free(a);
}
END_TEST

START_TEST(test_stats_and_ttl_figures_exact)
{
    reports_acct_t *a = reports_acct_new(&conf, NULL, 0);
    script(a, T0 + 1);
    reports_data_t *d = data_of(a);
    char *json = render(d, reports_render_stats, REPORTS_FORMAT_JSON), err[128];
    reports_json_t *root = reports_json_parse(json, strlen(json), err, sizeof(err));
    ck_assert_msg(root != NULL, "%s: %s", err, json);
    const reports_json_t *rows = reports_json_get(root, "rows");
    /* bucket rows for the images and the catch-all behaviors, their totals, and the total of all */
    ck_assert_uint_eq(rows->num_items, 5);
    const reports_json_t *img = rows->items[0], *all = rows->items[4];
    ck_assert_str_eq(reports_json_get(img, "bucket")->string, "2026-11-18T11:06:40Z");
    ck_assert_str_eq(reports_json_get(img, "behavior")->string, "/images/*");
    ck_assert_uint_eq(num(img, "requests"), 8);
    ck_assert_uint_eq(num(img, "hits"), 5);
    ck_assert_uint_eq(num(img, "misses"), 3);
    ck_assert_uint_eq(num(img, "errors"), 0);
    ck_assert_uint_eq(num(img, "revalidations"), 2);
    ck_assert_uint_eq(num(img, "unchanged"), 1);
    ck_assert_uint_eq(num(img, "expired_misses"), 2);
    ck_assert_uint_eq(num(img, "bytes_sent"), 6600);
    ck_assert_uint_eq(num(img, "bytes_from_cache"), 4500);
    ck_assert_uint_eq(num(img, "origin_requests"), 4);
    ck_assert_uint_eq(num(img, "origin_bytes"), 1000 + 500 + 600);
    ck_assert(reports_json_get(img, "hit_pct")->number == 62.5);
    /* latencies 30, 30, 3, 700: p50 in the (25, 50] bucket, p99 in (500, 1000] */
    ck_assert_uint_eq(num(img, "origin_p50_ms_le"), 50);
    ck_assert_uint_eq(num(img, "origin_p99_ms_le"), 1000);
    ck_assert_str_eq(reports_json_get(all, "behavior")->string, "*all*");
    ck_assert_uint_eq(num(all, "requests"), 10);
    ck_assert_uint_eq(num(all, "errors"), 1);
    ck_assert_uint_eq(num(all, "hits") + num(all, "misses") + num(all, "errors"), 10);
    reports_json_free(root);
    free(json);

    char *ttl = render(d, reports_render_ttl, REPORTS_FORMAT_TABLE);
    ck_assert_msg(strstr(ttl, "behavior /images/* (min_ttl 0, default_ttl 3600, max_ttl 31536000, query_string all)\n"
                              "  requests 8, hits 5, misses 3, origin requests 4\n"
                              "  revalidations 2, unchanged (304) 1 (50.0 %)\n"
                              "  misses from expiry 2, refetches after eviction 0\n") != NULL,
                  "%s", ttl);
    free(ttl);
    reports_data_free(d);
    reports_acct_free(a);
}
END_TEST

START_TEST(test_ttl_suggestions)
{
    reports_acct_t *a = reports_acct_new(&conf, NULL, 0);
    reports_event_t e;
    char url[64];
    /* 20 revalidations in the images behavior, 19 unchanged */
    for (int i = 0; i != 20; ++i) {
        e = ev("/images/r.png", 0, i == 0 ? REPORTS_REFRESHED : REPORTS_REVALIDATED, 200, 10);
        e.expired = true;
        reports_acct_record(a, &e, T0);
    }
    /* 12 misses on /search with 12 different keyed queries; 3 refetches after eviction of "*" */
    for (int i = 0; i != 12; ++i) {
        snprintf(url, sizeof(url), "/search?q=%d", i);
        e = ev(url, 1, REPORTS_MISS, 200, 10);
        e.has_query = e.query_in_key = true;
        reports_acct_record(a, &e, T0);
    }
    for (int i = 0; i != 3; ++i) {
        e = ev("/big.iso", 2, REPORTS_MISS, 200, 10);
        e.evicted_recently = true;
        reports_acct_record(a, &e, T0);
    }
    reports_data_t *d = data_of(a);
    char *ttl = render(d, reports_render_ttl, REPORTS_FORMAT_TABLE);
    ck_assert_msg(strstr(ttl, "suggestion: /images/*: 95 % of 20 revalidations unchanged; default_ttl 3600 -> 86400 would have "
                              "saved up to 19 origin requests") != NULL,
                  "%s", ttl);
    /* (256 HLL registers: 12 distinct URLs may read 11 or 13) */
    ck_assert_msg(strstr(ttl, "suggestion: /search*: 12 misses had a query string in the cache key, about 1") != NULL, "%s", ttl);
    ck_assert_msg(strstr(ttl, " distinct URLs (most on /search: 12 misses): if the answer does not depend on every parameter, "
                              "query_string: none or a list of names (now: all) would share one cached object") != NULL,
                  "%s", ttl);
    ck_assert_msg(strstr(ttl, "suggestion: *: 3 misses refetched objects evicted for room shortly before (most: /big.iso, 3 "
                              "times): raise cache.max_size") != NULL,
                  "%s", ttl);
    free(ttl);
    char *json = render(d, reports_render_ttl, REPORTS_FORMAT_JSON), err[128];
    reports_json_t *root = reports_json_parse(json, strlen(json), err, sizeof(err));
    ck_assert_msg(root != NULL, "%s", err);
    const reports_json_t *search = reports_json_get(root, "behaviors")->items[1];
    ck_assert_uint_eq(num(search, "keyed_query_misses"), 12);
    ck_assert_uint_ge(num(search, "distinct_keyed_urls_est"), 11);
    ck_assert_uint_le(num(search, "distinct_keyed_urls_est"), 13);
    ck_assert_uint_eq(reports_json_get(search, "suggestions")->num_items, 1);
    reports_json_free(root);
    free(json);
    reports_data_free(d);
    reports_acct_free(a);
}
END_TEST

static cache_store_t *open_store(void)
{
    char err[256];
    cache_store_t *s = cache_store_open(dir, 64 << 20, 16, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    return s;
}

static reports_data_t *load(cache_store_t *s, uint64_t from_ms, uint64_t to_ms)
{
    reports_query_t q = {.from_s = from_ms / 1000, .to_s = to_ms / 1000};
    reports_data_t *d = reports_data_new(&q);
    ck_assert_int_eq(reports_data_load(d, s), 0);
    return d;
}

static uint64_t popular_requests(reports_data_t *d, const char *url)
{
    char *json = render(d, reports_render_popular, REPORTS_FORMAT_JSON), err[128];
    reports_json_t *root = reports_json_parse(json, strlen(json), err, sizeof(err));
    ck_assert_msg(root != NULL, "%s", err);
    const reports_json_t *o = object_row(root, url);
    uint64_t n = o != NULL ? num(o, "requests") : 0;
    reports_json_free(root);
    free(json);
    return n;
}

START_TEST(test_flush_through_store_two_threads_and_buckets)
{
    cache_store_t *s = open_store();
    reports_acct_t *a0 = reports_acct_new(&conf, s, 0), *a1 = reports_acct_new(&conf, s, 1);
    reports_event_t e = ev("/images/a.png", 0, REPORTS_HIT, 200, 1);

    /* bucket T0: 3 on thread 0, 2 on thread 1; bucket T0 + 10 s: 4 on thread 0 */
    for (int i = 0; i != 3; ++i)
        reports_acct_record(a0, &e, T0 + 100);
    for (int i = 0; i != 2; ++i)
        reports_acct_record(a1, &e, T0 + 9999);
    reports_acct_tick(a0, T0 + 5000, false); /* still in the bucket: nothing flushed */
    cache_store_flush(s);
    reports_data_t *d = load(s, T0, T0 + 60000);
    ck_assert_uint_eq(popular_requests(d, "/images/a.png"), 0);
    reports_data_free(d);

    reports_acct_tick(a1, T0 + 10000, false); /* thread 1 leaves the bucket: flushed */
    for (int i = 0; i != 4; ++i)
        reports_acct_record(a0, &e, T0 + 10000 + i); /* thread 0 leaves it by recording in the next */
    reports_acct_tick(a0, T0 + 10005, true);         /* force: the current bucket, partial */
    cache_store_flush(s);
    d = load(s, T0, T0 + 60000);
    ck_assert_uint_eq(popular_requests(d, "/images/a.png"), 9);
    char *json = render(d, reports_render_stats, REPORTS_FORMAT_JSON);
    ck_assert_msg(strstr(json, "{\"bucket\":\"2026-11-18T11:06:40Z\",\"behavior\":\"/images/*\",\"requests\":5,") != NULL, "%s",
                  json);
    ck_assert_msg(strstr(json, "{\"bucket\":\"2026-11-18T11:06:50Z\",\"behavior\":\"/images/*\",\"requests\":4,") != NULL, "%s",
                  json);
    free(json);
    reports_data_free(d);

    /* a range that holds only the second bucket */
    d = load(s, T0 + 10000, T0 + 20000);
    ck_assert_uint_eq(popular_requests(d, "/images/a.png"), 4);
    reports_data_free(d);

    /* a second flush of the same bucket replaces the first with a superset */
    reports_acct_record(a0, &e, T0 + 10006);
    reports_acct_tick(a0, T0 + 10007, true);
    cache_store_flush(s);
    d = load(s, T0 + 10000, T0 + 20000);
    ck_assert_uint_eq(popular_requests(d, "/images/a.png"), 5);
    reports_data_free(d);

    /* retention (60 s): when thread 0 enters a bucket 70 s later, the first bucket goes */
    reports_acct_record(a0, &e, T0 + 70000);
    reports_acct_tick(a0, T0 + 70001, true);
    cache_store_flush(s);
    d = load(s, T0, T0 + 80000);
    ck_assert_uint_eq(popular_requests(d, "/images/a.png"), 6); /* 5 + 1: bucket T0 was deleted */
    reports_data_free(d);

    reports_acct_free(a0);
    reports_acct_free(a1);
    cache_store_close(s);

    /* read-only, after the edge stopped */
    char err[256];
    s = cache_store_open_readonly(dir, err, sizeof(err));
    ck_assert_msg(s != NULL, "%s", err);
    d = load(s, T0, T0 + 80000);
    ck_assert_uint_eq(popular_requests(d, "/images/a.png"), 6);
    ck_assert_uint_eq(reports_data_skipped(d), 0);
    reports_data_free(d);
    cache_store_close(s);
}
END_TEST

static struct {
    uint8_t key[REPORTS_KEY_LEN];
    uint8_t *val;
    size_t len;
} kv[2];
static size_t collected_n;

static int collect(void *ctx, h2o_iovec_t key, h2o_iovec_t value)
{
    ck_assert_uint_lt(collected_n, 2);
    memcpy(kv[collected_n].key, key.base, REPORTS_KEY_LEN);
    kv[collected_n].val = malloc(value.len);
    memcpy(kv[collected_n].val, value.base, value.len);
    kv[collected_n++].len = value.len;
    return 0;
}

START_TEST(test_bad_values_skipped)
{
    reports_acct_t *a = reports_acct_new(&conf, NULL, 0);
    script(a, T0);
    /* collect the two values, then offer every truncation and some corruption of each */
    collected_n = 0;
    ck_assert_int_eq(reports_acct_snapshot(a, collect, NULL), 0);
    ck_assert_uint_eq(collected_n, 2);
    reports_query_t q = {.from_s = 0, .to_s = UINT64_MAX};
    for (size_t i = 0; i != 2; ++i) {
        reports_data_t *d = reports_data_new(&q);
        for (size_t cut = 0; cut != kv[i].len; ++cut)
            reports_data_add(d, h2o_iovec_init(kv[i].key, REPORTS_KEY_LEN), h2o_iovec_init(kv[i].val, cut));
        ck_assert_uint_eq(reports_data_skipped(d), kv[i].len);
        uint8_t *fuzz = malloc(kv[i].len);
        for (size_t r = 0; r != 2000; ++r) {
            memcpy(fuzz, kv[i].val, kv[i].len);
            fuzz[(r * 7919) % kv[i].len] ^= (uint8_t)(1 + r % 255);
            fuzz[(r * 104729) % kv[i].len] ^= (uint8_t)(r >> 3);
            reports_data_add(d, h2o_iovec_init(kv[i].key, REPORTS_KEY_LEN), h2o_iovec_init(fuzz, kv[i].len));
        }
        free(fuzz);
        /* keys of other modules, or of unknown kinds, are not ours: ignored, not skipped */
        size_t skipped = reports_data_skipped(d);
        reports_data_add(d, h2o_iovec_init("R1xxxxxxxx", 10), h2o_iovec_init(kv[i].val, kv[i].len));
        uint8_t other[REPORTS_KEY_LEN];
        memcpy(other, kv[i].key, REPORTS_KEY_LEN);
        other[10] = 9;
        reports_data_add(d, h2o_iovec_init(other, REPORTS_KEY_LEN), h2o_iovec_init(kv[i].val, kv[i].len));
        ck_assert_uint_eq(reports_data_skipped(d), skipped);
        /* whatever decoded still renders */
        char *out = render(d, reports_render_stats, REPORTS_FORMAT_TABLE);
        free(out);
        out = render(d, reports_render_popular, REPORTS_FORMAT_HTML);
        free(out);
        reports_data_free(d);
        free(kv[i].val);
    }
    reports_acct_free(a);
}
END_TEST

START_TEST(test_merge_json_reports)
{
    /* edge A: /a 5, /b 3; edge B: /a 2, /c 4 (its listing cut to 1 row: /b's bound comes from the cut) */
    reports_acct_t *a = reports_acct_new(&conf, NULL, 0), *b = reports_acct_new(&conf, NULL, 0);
    reports_event_t e;
    for (int i = 0; i != 5; ++i)
        reports_acct_record(a, (e = ev("/a", 2, REPORTS_HIT, 200, 1), &e), T0);
    for (int i = 0; i != 3; ++i)
        reports_acct_record(a, (e = ev("/b", 2, REPORTS_MISS, 200, 1), &e), T0);
    for (int i = 0; i != 2; ++i)
        reports_acct_record(b, (e = ev("/a", 2, REPORTS_HIT, 200, 1), &e), T0);
    for (int i = 0; i != 4; ++i)
        reports_acct_record(b, (e = ev("/c", 2, REPORTS_MISS, 200, 1), &e), T0);
    reports_query_t qa = {.from_s = T0 / 1000, .to_s = T0 / 1000 + 3600, .top = 10, .node_id = "edge-a"};
    reports_data_t *da = reports_data_new(&qa), *db = data_of(b);
    ck_assert_int_eq(reports_acct_snapshot(a, add_to, da), 0);
    char *ja = render(da, reports_render_popular, REPORTS_FORMAT_JSON);
    reports_query_t q1 = {.from_s = T0 / 1000, .to_s = T0 / 1000 + 3600, .top = 1, .node_id = "edge-b"};
    reports_data_t *db1 = reports_data_new(&q1);
    ck_assert_int_eq(reports_acct_snapshot(b, add_to, db1), 0);
    char *jb = render(db1, reports_render_popular, REPORTS_FORMAT_JSON);

    reports_query_t q = {.top = 10}; /* no range: taken from the inputs */
    reports_data_t *m = reports_data_new(&q);
    char err[256];
    ck_assert_msg(reports_data_add_json(m, "a.json", ja, strlen(ja), err, sizeof(err)) == 0, "%s", err);
    ck_assert_msg(reports_data_add_json(m, "b.json", jb, strlen(jb), err, sizeof(err)) == 0, "%s", err);
    char *jm = render(m, reports_render_popular, REPORTS_FORMAT_JSON);
    reports_json_t *root = reports_json_parse(jm, strlen(jm), err, sizeof(err));
    ck_assert_msg(root != NULL, "%s", err);
    ck_assert_uint_eq(num(root, "total_requests"), 14);
    ck_assert_uint_eq(num(root, "from_unix"), T0 / 1000);
    const reports_json_t *o = object_row(root, "/c");
    ck_assert_uint_eq(num(o, "requests"), 4); /* B listed /c only: A did not list it, and A's floor is 0 */
    ck_assert_uint_eq(num(o, "error"), 0);
    o = object_row(root, "/a");
    ck_assert_uint_eq(num(o, "requests"), 5 + 2); /* B cut /a: credited B's bound (2) as count and error */
    ck_assert_uint_eq(num(o, "error"), 2);
    ck_assert_uint_eq(num(o, "hits"), 5);
    o = object_row(root, "/b");
    ck_assert_uint_eq(num(o, "requests"), 3 + 2);
    ck_assert_uint_eq(num(o, "error"), 2);
    reports_json_free(root);

    /* a merge input that is not a report, or is broken, is refused with a reason */
    ck_assert_int_eq(reports_data_add_json(m, "x", "{\"version\":2}", 13, err, sizeof(err)), -1);
    ck_assert_int_eq(reports_data_add_json(m, "x", "{\"version\":1,\"objects\":[{\"url\":\"/a\",\"requests\":1,\"error\":2}]}", 61,
                                           err, sizeof(err)),
                     -1);
    ck_assert_int_eq(reports_data_add_json(m, "x", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[", 42, err, sizeof(err)), -1);
    ck_assert_int_eq(reports_data_add_json(m, "x", ja, strlen(ja) - 3, err, sizeof(err)), -1);
    free(jm);
    free(ja);
    free(jb);
    reports_data_free(m);
    reports_data_free(da);
    reports_data_free(db);
    reports_data_free(db1);
    reports_acct_free(a);
    reports_acct_free(b);
}
END_TEST

START_TEST(test_html_self_contained_and_escaped)
{
    reports_acct_t *a = reports_acct_new(&conf, NULL, 0);
    reports_event_t e = ev("/x?<script>alert(1)</script>", 2, REPORTS_MISS, 200, 1);
    reports_acct_record(a, &e, T0);
    script(a, T0);
    reports_data_t *d = data_of(a);
    char *html = render(d, reports_render_popular, REPORTS_FORMAT_HTML);
    ck_assert_ptr_nonnull(strstr(html, "<svg id=\"chart\""));
    ck_assert_ptr_nonnull(strstr(html, "<rect class=\"bar\""));
    ck_assert_ptr_nonnull(strstr(html, "<polyline class=\"hit\" id=\"hitline\""));
    ck_assert_ptr_nonnull(strstr(html, "<table id=\"popular\""));
    ck_assert_ptr_nonnull(strstr(html, "<td class=\"url\">/images/a.png</td><td>5</td>"));
    ck_assert_ptr_nonnull(strstr(html, "/x?&lt;script&gt;alert(1)&lt;/script&gt;"));
    ck_assert_ptr_null(strstr(html, "<script>alert"));
    ck_assert_ptr_null(strstr(html, "http://www.w3.org/1999")); /* no external reference but the SVG namespace */
    ck_assert_ptr_null(strstr(html, "src="));
    ck_assert_ptr_null(strstr(html, "href="));
    free(html);
    reports_data_free(d);
    reports_acct_free(a);
}
END_TEST

START_TEST(test_sketches)
{
    reports_latency_t l = {0};
    ck_assert_uint_eq(reports_latency_quantile(&l, 0.5), 0);
    for (int i = 0; i != 98; ++i)
        reports_latency_observe(&l, 7); /* (5, 10] */
    reports_latency_observe(&l, 150);   /* (100, 250] */
    reports_latency_observe(&l, 999999);
    ck_assert_uint_eq(reports_latency_quantile(&l, 0.5), 10);
    ck_assert_uint_eq(reports_latency_quantile(&l, 0.99), 250);
    ck_assert_uint_eq(reports_latency_quantile(&l, 1.0), UINT64_MAX);
    reports_latency_observe(&l, 0);
    ck_assert_uint_eq(l.buckets[0], 1);

    uint8_t regs[REPORTS_HLL_REGISTERS] = {0};
    char buf[32];
    for (int i = 0; i != 10000; ++i) {
        int n = snprintf(buf, sizeof(buf), "/u?%d", i);
        reports_hll_add(regs, buf, (size_t)n);
        reports_hll_add(regs, buf, (size_t)n); /* duplicates do not count */
    }
    double est = reports_hll_estimate(regs);
    ck_assert_msg(est > 8000 && est < 12000, "estimate %.0f for 10000", est); /* 3 standard errors of 6.5 % */
}
END_TEST

START_TEST(test_parse_time_and_duration)
{
    uint64_t v;
    ck_assert_int_eq(reports_parse_time("2026-11-26T10:00:00Z", &v), 0);
    ck_assert_uint_eq(v, 1795687200);
    ck_assert_int_eq(reports_parse_time("2026-11-26T10:00Z", &v), 0);
    ck_assert_uint_eq(v, 1795687200);
    ck_assert_int_eq(reports_parse_time("2026-11-26", &v), 0);
    ck_assert_uint_eq(v, 1795651200);
    ck_assert_int_eq(reports_parse_time("1795687200", &v), 0);
    ck_assert_uint_eq(v, 1795687200);
    ck_assert_int_eq(reports_parse_time("2026-11-26T10:00:00", &v), -1);
    ck_assert_int_eq(reports_parse_time("yesterday", &v), -1);
    ck_assert_int_eq(reports_parse_time("", &v), -1);
    ck_assert_int_eq(reports_parse_duration("30m", &v), 0);
    ck_assert_uint_eq(v, 1800);
    ck_assert_int_eq(reports_parse_duration("24h", &v), 0);
    ck_assert_uint_eq(v, 86400);
    ck_assert_int_eq(reports_parse_duration("7d", &v), 0);
    ck_assert_uint_eq(v, 604800);
    ck_assert_int_eq(reports_parse_duration("90", &v), 0);
    ck_assert_uint_eq(v, 90);
    ck_assert_int_eq(reports_parse_duration("0h", &v), -1);
    ck_assert_int_eq(reports_parse_duration("5w", &v), -1);
    ck_assert_int_eq(reports_parse_duration("-1h", &v), -1);
    ck_assert_int_eq(reports_format_parse("html"), REPORTS_FORMAT_HTML);
    ck_assert_int_eq(reports_format_parse("xml"), -1);
}
END_TEST

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    return remove(path);
}

static Suite *suite(void)
{
    Suite *s = suite_create("reports_accounting");
    TCase *tc = tcase_create("reports");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_popular_exact);
    tcase_add_test(tc, test_stats_and_ttl_figures_exact);
    tcase_add_test(tc, test_ttl_suggestions);
    tcase_add_test(tc, test_flush_through_store_two_threads_and_buckets);
    tcase_add_test(tc, test_bad_values_skipped);
    tcase_add_test(tc, test_merge_json_reports);
    tcase_add_test(tc, test_html_self_contained_and_escaped);
    tcase_add_test(tc, test_sketches);
    tcase_add_test(tc, test_parse_time_and_duration);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    common_log_level = COMMON_LOG_ERROR;
    strcpy(base, "/tmp/check_reports_accounting.XXXXXX");
    if (mkdtemp(base) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    nftw(base, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return failed == 0 ? 0 : 1;
}
