/*
 * tests/unit/check_reports_topk.c: the Space-Saving summary (reports/topk.c).
 *
 * The bound of topk.h is checked against exact counts kept beside the summary, on skewed (Zipf-like)
 * streams much longer than K and over many more keys than K: for every monitored key
 * true <= requests <= true + error and error <= N/K; every key not monitored has true <= floor; the
 * other counters undercount by at most `error`. Merges are checked the same way with the errors added.
 * The decoder gets every truncation and random corruption of a valid encoding (run it under ASan).
 * The cost of an update is measured and printed (and bounded loosely, so a slow CI box passes).
 */
#include "reports/topk.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define NKEYS 2000

static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* A key index from a Zipf-like law over NKEYS keys: key i drawn with weight about 1 / (i + 1). */
static unsigned zipf(void)
{
    static double cdf[NKEYS];
    static int ready;
    if (!ready) {
        double sum = 0;
        for (unsigned i = 0; i != NKEYS; ++i)
            cdf[i] = (sum += 1.0 / (i + 1));
        for (unsigned i = 0; i != NKEYS; ++i)
            cdf[i] /= sum;
        ready = 1;
    }
    double u = (double)(rng() >> 11) / (double)(1ull << 53);
    unsigned lo = 0, hi = NKEYS - 1;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

static void key_of(unsigned i, char *buf, size_t size)
{
    snprintf(buf, size, "/objects/%u.png", i);
}

typedef struct st_truth_t {
    uint64_t requests[NKEYS], hits[NKEYS], bytes[NKEYS];
} truth_t;

/* Feeds `n` Zipf events into `t` and `truth`: every third request of a key is a miss, bytes = 100 + key. */
static void feed(reports_topk_t *t, truth_t *truth, size_t n)
{
    char key[64];
    for (size_t e = 0; e != n; ++e) {
        unsigned i = zipf();
        key_of(i, key, sizeof(key));
        reports_topk_entry_t *en = reports_topk_touch(t, key, strlen(key));
        bool hit = ++truth->requests[i] % 3 != 0;
        en->c.hits += hit;
        truth->hits[i] += hit;
        en->c.bytes_total += 100 + i;
        truth->bytes[i] += 100 + i;
    }
}

/* The bound of topk.h, for every key; `max_error` bounds each error (N/K, or a sum of them). */
static void check_bound(const reports_topk_t *t, const truth_t *truth, double max_error)
{
    char key[64];
    size_t monitored = 0;
    for (unsigned i = 0; i != NKEYS; ++i) {
        key_of(i, key, sizeof(key));
        const reports_topk_entry_t *e = reports_topk_find(t, key, strlen(key));
        if (e == NULL) {
            ck_assert_msg(truth->requests[i] <= reports_topk_floor(t), "%s: true %llu above floor %llu", key,
                          (unsigned long long)truth->requests[i], (unsigned long long)reports_topk_floor(t));
            continue;
        }
        ++monitored;
        ck_assert_msg(truth->requests[i] <= e->c.requests && e->c.requests <= truth->requests[i] + e->error,
                      "%s: true %llu, reported %llu, error %llu", key, (unsigned long long)truth->requests[i],
                      (unsigned long long)e->c.requests, (unsigned long long)e->error);
        ck_assert_msg((double)e->error <= max_error, "%s: error %llu above %.1f", key, (unsigned long long)e->error, max_error);
        ck_assert_uint_le(e->c.hits, truth->hits[i]);
        ck_assert_uint_le(truth->hits[i], e->c.hits + e->error);
        ck_assert_uint_le(e->c.bytes_total, truth->bytes[i]);
        ck_assert_uint_le(truth->bytes[i], e->c.bytes_total + e->error * (100 + i));
    }
    ck_assert_uint_eq(monitored, reports_topk_size(t));
}

START_TEST(test_exact_below_capacity)
{
    reports_topk_t *t = reports_topk_new(10);
    for (int i = 0; i != 5; ++i)
        reports_topk_touch(t, "/a", 2)->c.hits += i != 0;
    for (int i = 0; i != 3; ++i)
        reports_topk_touch(t, "/b", 2)->c.misses++;
    reports_topk_touch(t, "/c?x=1", 6);

    const reports_topk_entry_t *rows[10];
    ck_assert_uint_eq(reports_topk_sorted(t, rows), 3);
    ck_assert_str_eq(rows[0]->key, "/a");
    ck_assert_uint_eq(rows[0]->c.requests, 5);
    ck_assert_uint_eq(rows[0]->c.hits, 4);
    ck_assert_uint_eq(rows[0]->error, 0);
    ck_assert_str_eq(rows[1]->key, "/b");
    ck_assert_uint_eq(rows[1]->c.requests, 3);
    ck_assert_uint_eq(rows[1]->c.misses, 3);
    ck_assert_str_eq(rows[2]->key, "/c?x=1");
    ck_assert_uint_eq(reports_topk_total(t), 9);
    ck_assert_uint_eq(reports_topk_floor(t), 0);

    reports_topk_clear(t);
    ck_assert_uint_eq(reports_topk_size(t), 0);
    ck_assert_uint_eq(reports_topk_total(t), 0);
    ck_assert_ptr_null(reports_topk_find(t, "/a", 2));
    reports_topk_free(t);
    ck_assert_ptr_null(reports_topk_new(0));
    ck_assert_ptr_null(reports_topk_new(REPORTS_TOPK_MAX_CAPACITY + 1));
}
END_TEST

START_TEST(test_space_saving_bound_skewed)
{
    static const unsigned ks[] = {10, 50, 200};
    for (size_t k = 0; k != sizeof(ks) / sizeof(ks[0]); ++k) {
        static truth_t truth;
        memset(&truth, 0, sizeof(truth));
        rng_state = 0x9e3779b97f4a7c15u + k;
        reports_topk_t *t = reports_topk_new(ks[k]);
        const size_t n = 50000;
        feed(t, &truth, n);
        ck_assert_uint_eq(reports_topk_total(t), n);
        ck_assert_uint_eq(reports_topk_size(t), ks[k]);
        check_bound(t, &truth, (double)n / ks[k]);
        /* every key with more than N/K requests is listed: the heavy hitters are never lost */
        for (unsigned i = 0; i != NKEYS; ++i) {
            char key[64];
            key_of(i, key, sizeof(key));
            if ((double)truth.requests[i] > (double)n / ks[k])
                ck_assert_ptr_nonnull(reports_topk_find(t, key, strlen(key)));
        }
        /* the most requested key of a Zipf law is first, and exact enough to be useful */
        const reports_topk_entry_t *rows[200];
        reports_topk_sorted(t, rows);
        ck_assert_str_eq(rows[0]->key, "/objects/0.png");
        reports_topk_free(t);
    }
}
END_TEST

START_TEST(test_replacement_keeps_table_consistent)
{
    /* a tiny K and many distinct keys: every replacement deletes from the hash table */
    reports_topk_t *t = reports_topk_new(4);
    char key[64];
    for (unsigned i = 0; i != 10000; ++i) {
        key_of(i % 37, key, sizeof(key));
        reports_topk_touch(t, key, strlen(key));
        const reports_topk_entry_t *rows[4];
        size_t n = reports_topk_sorted(t, rows);
        for (size_t r = 0; r != n; ++r)
            ck_assert_ptr_eq(reports_topk_find(t, rows[r]->key, rows[r]->key_len), rows[r]);
    }
    ck_assert_uint_eq(reports_topk_total(t), 10000);
    reports_topk_free(t);
}
END_TEST

START_TEST(test_long_key_truncated)
{
    reports_topk_t *t = reports_topk_new(4);
    size_t len = REPORTS_TOPK_MAX_KEY + 500;
    char *key = malloc(len);
    memset(key, 'x', len);
    key[0] = '/';
    reports_topk_touch(t, key, len);
    key[len - 1] = 'y'; /* differs only beyond the bound: the same object */
    const reports_topk_entry_t *e = reports_topk_touch(t, key, len);
    ck_assert_uint_eq(e->key_len, REPORTS_TOPK_MAX_KEY);
    ck_assert_uint_eq(e->c.requests, 2);
    ck_assert_uint_eq(reports_topk_size(t), 1);
    free(key);
    reports_topk_free(t);
}
END_TEST

START_TEST(test_merge_bound)
{
    static truth_t ta, tb, sum;
    memset(&ta, 0, sizeof(ta));
    memset(&tb, 0, sizeof(tb));
    rng_state = 42;
    reports_topk_t *a = reports_topk_new(50), *b = reports_topk_new(50);
    feed(a, &ta, 20000);
    rng_state = 4242;
    feed(b, &tb, 30000);
    for (unsigned i = 0; i != NKEYS; ++i) {
        sum.requests[i] = ta.requests[i] + tb.requests[i];
        sum.hits[i] = ta.hits[i] + tb.hits[i];
        sum.bytes[i] = ta.bytes[i] + tb.bytes[i];
    }
    reports_topk_merge(a, b);
    ck_assert_uint_eq(reports_topk_total(a), 50000);
    ck_assert_uint_le(reports_topk_size(a), 50);
    check_bound(a, &sum, 20000.0 / 50 + 30000.0 / 50);
    reports_topk_free(a);
    reports_topk_free(b);
}
END_TEST

START_TEST(test_merge_exact_when_not_full)
{
    reports_topk_t *a = reports_topk_new(10), *b = reports_topk_new(10);
    for (int i = 0; i != 3; ++i)
        reports_topk_touch(a, "/a", 2)->c.s2xx++;
    reports_topk_touch(a, "/b", 2);
    for (int i = 0; i != 2; ++i)
        reports_topk_touch(b, "/a", 2)->c.s2xx++;
    reports_topk_touch(b, "/c", 2)->c.s4xx++;
    reports_topk_merge(a, b);
    const reports_topk_entry_t *rows[10];
    ck_assert_uint_eq(reports_topk_sorted(a, rows), 3);
    ck_assert_str_eq(rows[0]->key, "/a");
    ck_assert_uint_eq(rows[0]->c.requests, 5);
    ck_assert_uint_eq(rows[0]->c.s2xx, 5);
    ck_assert_uint_eq(rows[0]->error, 0);
    ck_assert_str_eq(rows[1]->key, "/b");
    ck_assert_str_eq(rows[2]->key, "/c");
    ck_assert_uint_eq(rows[2]->c.s4xx, 1);
    ck_assert_uint_eq(reports_topk_floor(a), 0);
    ck_assert_uint_eq(reports_topk_total(a), 7);

    /* a merge that overflows the capacity drops the smallest and raises the floor to them */
    reports_topk_t *small = reports_topk_new(2);
    reports_topk_merge(small, a);
    ck_assert_uint_eq(reports_topk_size(small), 2);
    ck_assert_uint_eq(reports_topk_floor(small), 1);
    ck_assert_uint_eq(reports_topk_total(small), 7);
    reports_topk_free(small);
    reports_topk_free(a);
    reports_topk_free(b);
}
END_TEST

static reports_topk_t *sample(void)
{
    static truth_t truth;
    memset(&truth, 0, sizeof(truth));
    rng_state = 7;
    reports_topk_t *t = reports_topk_new(20);
    feed(t, &truth, 3000);
    return t;
}

START_TEST(test_encode_decode_roundtrip)
{
    reports_topk_t *t = sample();
    size_t len, used;
    uint8_t *buf = reports_topk_encode(t, &len);
    reports_topk_t *u = reports_topk_decode(buf, len, &used);
    ck_assert_ptr_nonnull(u);
    ck_assert_uint_eq(used, len);
    ck_assert_uint_eq(reports_topk_total(u), reports_topk_total(t));
    ck_assert_uint_eq(reports_topk_floor(u), reports_topk_floor(t));
    ck_assert_uint_eq(reports_topk_capacity(u), 20);
    const reports_topk_entry_t *x[20], *y[20];
    size_t n = reports_topk_sorted(t, x);
    ck_assert_uint_eq(reports_topk_sorted(u, y), n);
    for (size_t i = 0; i != n; ++i) {
        ck_assert_str_eq(x[i]->key, y[i]->key);
        ck_assert_uint_eq(x[i]->error, y[i]->error);
        ck_assert_int_eq(memcmp(&x[i]->c, &y[i]->c, sizeof(x[i]->c)), 0);
    }
    /* a decoded summary goes on counting as Space-Saving */
    reports_topk_touch(u, "/new", 4);
    ck_assert_uint_eq(reports_topk_total(u), reports_topk_total(t) + 1);
    reports_topk_free(u);
    free(buf);
    reports_topk_free(t);
}
END_TEST

START_TEST(test_decode_rejects_bad_input)
{
    reports_topk_t *t = sample();
    size_t len, used;
    uint8_t *buf = reports_topk_encode(t, &len);

    /* every truncation */
    for (size_t cut = 0; cut != len; ++cut) {
        reports_topk_t *u = reports_topk_decode(buf, cut, &used);
        ck_assert_msg(u == NULL, "a truncation to %zu of %zu bytes decoded", cut, len);
    }
    /* a wrong version, a wrong number of counters, a count above the capacity */
    uint8_t *bad = malloc(len);
    memcpy(bad, buf, len);
    bad[0] = 2;
    ck_assert_ptr_null(reports_topk_decode(bad, len, &used));
    memcpy(bad, buf, len);
    bad[1] = 9;
    ck_assert_ptr_null(reports_topk_decode(bad, len, &used));
    memcpy(bad, buf, len);
    bad[2] = 3, bad[3] = bad[4] = bad[5] = 0; /* capacity 3 < count 20 */
    ck_assert_ptr_null(reports_topk_decode(bad, len, &used));
    memcpy(bad, buf, len);
    bad[22] = 0xff, bad[23] = 0xff, bad[24] = 0xff, bad[25] = 0x7f; /* a count the bytes cannot hold */
    ck_assert_ptr_null(reports_topk_decode(bad, len, &used));
    free(bad);

    /* a duplicate key, an error above the count */
    reports_topk_t *d = reports_topk_new(4);
    reports_obj_counts_t c = {.requests = 3};
    ck_assert_int_eq(reports_topk_load(d, "/a", 2, 1, &c), 0);
    ck_assert_int_eq(reports_topk_load(d, "/a", 2, 1, &c), -1);
    ck_assert_int_eq(reports_topk_load(d, "/b", 2, 4, &c), -1);
    size_t dlen;
    uint8_t *dbuf = reports_topk_encode(d, &dlen);
    uint8_t *dup = malloc(dlen * 2);
    memcpy(dup, dbuf, dlen);
    memcpy(dup + dlen, dbuf + 26, dlen - 26); /* the same entry twice */
    dup[22] = 2;
    ck_assert_ptr_null(reports_topk_decode(dup, dlen * 2 - 26, &used));
    free(dup);
    free(dbuf);
    reports_topk_free(d);

    /* random corruption never crashes, and what decodes keeps requests >= error */
    rng_state = 99;
    uint8_t *fuzz = malloc(len);
    for (int round = 0; round != 3000; ++round) {
        memcpy(fuzz, buf, len);
        int flips = 1 + (int)(rng() % 4);
        for (int f = 0; f != flips; ++f)
            fuzz[rng() % len] ^= (uint8_t)(1 + rng() % 255);
        reports_topk_t *u = reports_topk_decode(fuzz, len, &used);
        if (u != NULL) {
            const reports_topk_entry_t *rows[64];
            ck_assert_uint_le(reports_topk_size(u), 64);
            size_t n = reports_topk_sorted(u, rows);
            for (size_t i = 0; i != n; ++i)
                ck_assert_uint_le(rows[i]->error, rows[i]->c.requests);
            reports_topk_free(u);
        }
    }
    free(fuzz);
    free(buf);
    reports_topk_free(t);
}
END_TEST

START_TEST(test_update_cost)
{
    /* the hit path's cost: K = 2000 (the default capacity), Zipf over NKEYS keys */
    static char keys[NKEYS][64];
    for (unsigned i = 0; i != NKEYS; ++i)
        key_of(i, keys[i], sizeof(keys[i]));
    static unsigned draws[1 << 18];
    rng_state = 12345;
    for (size_t i = 0; i != sizeof(draws) / sizeof(draws[0]); ++i)
        draws[i] = zipf();
    static const unsigned caps[] = {2000, 200};
    for (size_t c = 0; c != 2; ++c) {
        reports_topk_t *t = reports_topk_new(caps[c]);
        struct timespec t0, t1;
        const size_t n = 1000000;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (size_t i = 0; i != n; ++i) {
            const char *k = keys[draws[i & (sizeof(draws) / sizeof(draws[0]) - 1)]];
            reports_topk_touch(t, k, strlen(k))->c.hits++;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ns = ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / (double)n;
        fprintf(stderr, "check_reports_topk: K=%u over %u Zipf keys: %.0f ns per update\n", caps[c], NKEYS, ns);
        ck_assert_msg(ns < 20000, "%.0f ns per update", ns); /* loose: sanitizers and a shared CI box */
        reports_topk_free(t);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("reports_topk");
    TCase *tc = tcase_create("space_saving");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_exact_below_capacity);
    tcase_add_test(tc, test_space_saving_bound_skewed);
    tcase_add_test(tc, test_replacement_keeps_table_consistent);
    tcase_add_test(tc, test_long_key_truncated);
    tcase_add_test(tc, test_merge_bound);
    tcase_add_test(tc, test_merge_exact_when_not_full);
    tcase_add_test(tc, test_encode_decode_roundtrip);
    tcase_add_test(tc, test_decode_rejects_bad_input);
    tcase_add_test(tc, test_update_cost);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
