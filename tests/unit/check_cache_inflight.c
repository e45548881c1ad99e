/*
 * tests/unit/check_cache_inflight.c: the in-flight table (cache/inflight.c): join an entry in flight,
 * leave it, and two threads that miss the same key at the same moment list one entry between them.
 */
#include <check.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "cache/inflight.h"

typedef struct st_item_t {
    cache_inflight_entry_t entry;
    atomic_int refs;
} item_t;

static cache_hash_t hash_of(const char *key)
{
    cache_hash_t h;
    cache_key_hash(h2o_iovec_init(key, strlen(key)), &h);
    return h;
}

static void on_found(cache_inflight_entry_t *e, void *ctx)
{
    atomic_fetch_add(&H2O_STRUCT_FROM_MEMBER(item_t, entry, e)->refs, 1);
}

static cache_inflight_entry_t *make(void *ctx)
{
    item_t *it = calloc(1, sizeof(*it));
    atomic_init(&it->refs, 1);
    ++*(int *)ctx;
    return &it->entry;
}

static cache_inflight_entry_t *make_none(void *ctx)
{
    return NULL;
}

START_TEST(test_join_and_leave)
{
    cache_inflight_t t;
    cache_hash_t h = hash_of("http://a/x"), other = hash_of("http://a/y");
    int made = 0;
    bool added;

    cache_inflight_init(&t);
    cache_inflight_entry_t *first = cache_inflight_find_or_add(&t, &h, on_found, make, &made, &added);
    ck_assert(added);
    ck_assert_int_eq(made, 1);
    ck_assert(cache_inflight_listed(first));
    ck_assert_mem_eq(first->hash.bytes, h.bytes, sizeof(h.bytes));

    /* a second miss joins: same entry, a reference taken under the lock, nothing made */
    cache_inflight_entry_t *second = cache_inflight_find_or_add(&t, &h, on_found, make, &made, &added);
    ck_assert(!added);
    ck_assert_ptr_eq(second, first);
    ck_assert_int_eq(made, 1);
    ck_assert_int_eq(atomic_load(&H2O_STRUCT_FROM_MEMBER(item_t, entry, first)->refs), 2);

    /* another key is another entry */
    cache_inflight_entry_t *third = cache_inflight_find_or_add(&t, &other, on_found, make, &made, &added);
    ck_assert(added);
    ck_assert_ptr_ne(third, first);
    ck_assert_uint_eq(cache_inflight_count(&t), 2);

    /* leaving: removal is idempotent, and the next miss makes a new entry */
    ck_assert(cache_inflight_remove(&t, first));
    ck_assert(!cache_inflight_listed(first));
    ck_assert(!cache_inflight_remove(&t, first));
    cache_inflight_entry_t *fourth = cache_inflight_find_or_add(&t, &h, on_found, make, &made, &added);
    ck_assert(added);
    ck_assert_ptr_ne(fourth, first);
    ck_assert_int_eq(made, 3);

    /* make may decline: nothing is listed */
    cache_hash_t z = hash_of("http://a/z");
    ck_assert_ptr_null(cache_inflight_find_or_add(&t, &z, on_found, make_none, NULL, &added));
    ck_assert(!added);

    cache_inflight_remove(&t, third);
    cache_inflight_remove(&t, fourth);
    ck_assert_uint_eq(cache_inflight_count(&t), 0);
    free(first);
    free(third);
    free(fourth);
    cache_inflight_dispose(&t);
}
END_TEST

START_TEST(test_newest_found_first)
{
    cache_inflight_t t;
    item_t a = {0}, b = {0};
    bool added;

    cache_inflight_init(&t);
    a.entry.hash = b.entry.hash = hash_of("http://a/x");
    cache_inflight_add(&t, &a.entry);
    cache_inflight_add(&t, &b.entry); /* a fetch of its own, started when the first could not be shared */
    ck_assert_ptr_eq(cache_inflight_find_or_add(&t, &a.entry.hash, NULL, make_none, NULL, &added), &b.entry);
    cache_inflight_remove(&t, &b.entry);
    ck_assert_ptr_eq(cache_inflight_find_or_add(&t, &a.entry.hash, NULL, make_none, NULL, &added), &a.entry);
    cache_inflight_remove(&t, &a.entry);
    cache_inflight_dispose(&t);
}
END_TEST

/* --- two threads, one key ------------------------------------------------------------------------ */

static cache_inflight_t shared_table = CACHE_INFLIGHT_INITIALIZER;
static pthread_barrier_t barrier;
static atomic_int made_total;

static cache_inflight_entry_t *make_counted(void *ctx)
{
    atomic_fetch_add(&made_total, 1);
    item_t *it = calloc(1, sizeof(*it));
    atomic_init(&it->refs, 1);
    return &it->entry;
}

static void *racer(void *arg)
{
    cache_hash_t *keys = arg;
    cache_inflight_entry_t **got = calloc(64, sizeof(*got));
    for (size_t i = 0; i != 64; ++i) {
        bool added;
        pthread_barrier_wait(&barrier); /* both threads miss key i at the same moment */
        got[i] = cache_inflight_find_or_add(&shared_table, keys + i, on_found, make_counted, NULL, &added);
    }
    return got;
}

START_TEST(test_concurrent_start_one_entry)
{
    cache_hash_t keys[64];
    pthread_t th[2];
    void *res[2];

    for (size_t i = 0; i != 64; ++i) {
        char k[32];
        snprintf(k, sizeof(k), "http://a/%zu", i);
        keys[i] = hash_of(k);
    }
    atomic_init(&made_total, 0);
    pthread_barrier_init(&barrier, NULL, 2);
    for (size_t i = 0; i != 2; ++i)
        pthread_create(th + i, NULL, racer, keys);
    for (size_t i = 0; i != 2; ++i)
        pthread_join(th[i], res + i);
    pthread_barrier_destroy(&barrier);

    cache_inflight_entry_t **a = res[0], **b = res[1];
    ck_assert_int_eq(atomic_load(&made_total), 64);
    ck_assert_uint_eq(cache_inflight_count(&shared_table), 64);
    for (size_t i = 0; i != 64; ++i) {
        ck_assert_ptr_eq(a[i], b[i]);
        ck_assert_int_eq(atomic_load(&H2O_STRUCT_FROM_MEMBER(item_t, entry, a[i])->refs), 2);
        cache_inflight_remove(&shared_table, a[i]);
        free(H2O_STRUCT_FROM_MEMBER(item_t, entry, a[i]));
    }
    ck_assert_uint_eq(cache_inflight_count(&shared_table), 0);
    free(a);
    free(b);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cache_inflight");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_join_and_leave);
    tcase_add_test(tc, test_newest_found_first);
    tcase_add_test(tc, test_concurrent_start_one_entry);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
