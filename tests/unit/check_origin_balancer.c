/*
 * tests/unit/check_origin_balancer.c: server choice (origin/balancer.c).
 *
 * Round-robin and least-outstanding are checked pick by pick, with the exact sequence expected. The
 * consistent hash is checked on 100,000 keys ("/obj/<i>", hashed as cache keys are), against the
 * properties the ring exists for: every server gets its share, adding a server moves about 1/N of the
 * keys and only to the new server, removing one moves only that server's keys, and a server's slice
 * depends on its name, not on its position in the list. The key set and the names are fixed, so the
 * statistical bounds are deterministic: they hold or fail the same way on every run.
 */
#include "origin/balancer.h"

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NUM_KEYS 100000

static const char *const names5[] = {"http://origin-a.example:8080", "http://origin-b.example:8080", "http://origin-c.example:8080",
                                     "http://origin-d.example:8080", "http://origin-e.example:8080"};

static cache_hash_t *keys;

static void setup_keys(void)
{
    keys = malloc(NUM_KEYS * sizeof(keys[0]));
    ck_assert_ptr_nonnull(keys);
    for (int i = 0; i != NUM_KEYS; ++i) {
        char buf[32];
        int n = snprintf(buf, sizeof(buf), "/obj/%d", i);
        cache_key_hash(h2o_iovec_init(buf, (size_t)n), &keys[i]);
    }
}

static void teardown_keys(void)
{
    free(keys);
    keys = NULL;
    cache_key_thread_dispose();
}

static origin_balancer_t *balancer(origin_conf_balance_t policy, const char *const *names, size_t n)
{
    origin_balancer_t *b = origin_balancer_new(policy, names, n);
    ck_assert_ptr_nonnull(b);
    return b;
}

/* Health for `n` servers where bit i of `down` marks server i DOWN (unhealthy_threshold 1). */
static origin_health_t *health_with_down(size_t n, uint64_t down)
{
    origin_health_t *h = origin_health_new(n, 1, 1);
    ck_assert_ptr_nonnull(h);
    for (size_t i = 0; i != n; ++i)
        if ((down >> i & 1) != 0)
            ck_assert(origin_health_report(h, i, false));
    return h;
}

/* The server of every key; NONE is a failure, since these tests always leave a server usable. */
static size_t *assign(const origin_balancer_t *b, origin_health_t *health, uint64_t exclude)
{
    size_t *out = malloc(NUM_KEYS * sizeof(out[0])), cursor = 0;
    ck_assert_ptr_nonnull(out);
    for (int i = 0; i != NUM_KEYS; ++i) {
        out[i] = origin_balancer_pick(b, health, NULL, &cursor, &keys[i], exclude);
        ck_assert_msg(out[i] != ORIGIN_BALANCER_NONE, "key %d got no server", i);
    }
    return out;
}

/* --- round_robin -------------------------------------------------------------------------------- */

START_TEST(test_rr_cycles_in_order)
{
    origin_balancer_t *b = balancer(ORIGIN_CONF_BALANCE_ROUND_ROBIN, names5, 4);
    size_t cursor = 0;
    for (size_t i = 0; i != 12; ++i)
        ck_assert_uint_eq(origin_balancer_pick(b, NULL, NULL, &cursor, NULL, 0), i % 4);
    origin_balancer_free(b);
}
END_TEST

START_TEST(test_rr_skips_down)
{
    origin_balancer_t *b = balancer(ORIGIN_CONF_BALANCE_ROUND_ROBIN, names5, 4);
    origin_health_t *h = health_with_down(4, 1 << 1);
    size_t cursor = 0;
    static const size_t expected[] = {0, 2, 3, 0, 2, 3, 0};
    for (size_t i = 0; i != sizeof(expected) / sizeof(expected[0]); ++i)
        ck_assert_uint_eq(origin_balancer_pick(b, h, NULL, &cursor, NULL, 0), expected[i]);
    /* back UP: it rejoins the rotation at its place */
    ck_assert(origin_health_report(h, 1, true));
    ck_assert_uint_eq(origin_balancer_pick(b, h, NULL, &cursor, NULL, 0), 1);
    ck_assert_uint_eq(origin_balancer_pick(b, h, NULL, &cursor, NULL, 0), 2);
    origin_health_free(h);
    origin_balancer_free(b);
}
END_TEST

START_TEST(test_rr_skips_excluded)
{
    origin_balancer_t *b = balancer(ORIGIN_CONF_BALANCE_ROUND_ROBIN, names5, 4);
    size_t cursor = 0;
    uint64_t exclude = 1 << 0 | 1 << 2;
    for (size_t i = 0; i != 6; ++i)
        ck_assert_uint_eq(origin_balancer_pick(b, NULL, NULL, &cursor, NULL, exclude), i % 2 == 0 ? 1 : 3);
    origin_balancer_free(b);
}
END_TEST

START_TEST(test_rr_down_and_excluded)
{
    origin_balancer_t *b = balancer(ORIGIN_CONF_BALANCE_ROUND_ROBIN, names5, 4);
    origin_health_t *h = health_with_down(4, 1 << 3);
    size_t cursor = 0;
    for (size_t i = 0; i != 4; ++i)
        ck_assert_uint_eq(origin_balancer_pick(b, h, NULL, &cursor, NULL, 1 << 0 | 1 << 1), 2);
    origin_health_free(h);
    origin_balancer_free(b);
}
END_TEST

START_TEST(test_rr_all_down_is_none)
{
    origin_balancer_t *b = balancer(ORIGIN_CONF_BALANCE_ROUND_ROBIN, names5, 4);
    origin_health_t *h = health_with_down(4, 0xf);
    size_t cursor = 0;
    ck_assert(origin_balancer_pick(b, h, NULL, &cursor, NULL, 0) == ORIGIN_BALANCER_NONE);
    origin_health_free(h);
    h = health_with_down(4, 1 << 0 | 1 << 1);
    ck_assert(origin_balancer_pick(b, h, NULL, &cursor, NULL, 1 << 2 | 1 << 3) == ORIGIN_BALANCER_NONE);
    ck_assert(origin_balancer_pick(b, NULL, NULL, &cursor, NULL, 0xf) == ORIGIN_BALANCER_NONE);
    ck_assert(origin_balancer_pick(b, NULL, NULL, &cursor, NULL, UINT64_MAX) == ORIGIN_BALANCER_NONE);
    origin_health_free(h);
    origin_balancer_free(b);
}
END_TEST

START_TEST(test_rr_cursors_independent)
{
    origin_balancer_t *b = balancer(ORIGIN_CONF_BALANCE_ROUND_ROBIN, names5, 3);
    size_t c1 = 0, c2 = 0;
    ck_assert_uint_eq(origin_balancer_pick(b, NULL, NULL, &c1, NULL, 0), 0);
    ck_assert_uint_eq(origin_balancer_pick(b, NULL, NULL, &c1, NULL, 0), 1);
    ck_assert_uint_eq(origin_balancer_pick(b, NULL, NULL, &c2, NULL, 0), 0);
    ck_assert_uint_eq(origin_balancer_pick(b, NULL, NULL, &c1, NULL, 0), 2);
    ck_assert_uint_eq(origin_balancer_pick(b, NULL, NULL, &c2, NULL, 0), 1);
    ck_assert_uint_eq(origin_balancer_pick(b, NULL, NULL, &c1, NULL, 0), 0);
    ck_assert_uint_eq(origin_balancer_pick(b, NULL, NULL, &c2, NULL, 0), 2);
    origin_balancer_free(b);
}
END_TEST

START_TEST(test_rr_64_servers_bit_63)
{
    const char *names[64];
    for (size_t i = 0; i != 64; ++i)
        names[i] = names5[0];
    origin_balancer_t *b = balancer(ORIGIN_CONF_BALANCE_ROUND_ROBIN, names, 64);
    size_t cursor = 0;
    ck_assert_uint_eq(origin_balancer_pick(b, NULL, NULL, &cursor, NULL, ~((uint64_t)1 << 63)), 63);
    ck_assert_uint_eq(origin_balancer_pick(b, NULL, NULL, &cursor, NULL, (uint64_t)1 << 63), 0);
    cursor = 63;
    ck_assert_uint_eq(origin_balancer_pick(b, NULL, NULL, &cursor, NULL, (uint64_t)1 << 63), 0);
    origin_balancer_free(b);
}
END_TEST

START_TEST(test_more_than_64_servers_refused)
{
    const char *names[65];
    for (size_t i = 0; i != 65; ++i)
        names[i] = names5[0];
    ck_assert_ptr_null(origin_balancer_new(ORIGIN_CONF_BALANCE_ROUND_ROBIN, names, 65));
    ck_assert_ptr_null(origin_balancer_new(ORIGIN_CONF_BALANCE_CONSISTENT_HASH, names, 65));
}
END_TEST

/* --- least_outstanding -------------------------------------------------------------------------- */

START_TEST(test_lo_picks_minimum)
{
    origin_balancer_t *b = balancer(ORIGIN_CONF_BALANCE_LEAST_OUTSTANDING, names5, 4);
    uint32_t out[4] = {5, 3, 9, 4};
    size_t cursor = 0;
    for (int i = 0; i != 8; ++i)
        ck_assert_uint_eq(origin_balancer_pick(b, NULL, out, &cursor, NULL, 0), 1);
    out[1] = 10;
    ck_assert_uint_eq(origin_balancer_pick(b, NULL, out, &cursor, NULL, 0), 3);
    out[2] = 0;
    ck_assert_uint_eq(origin_balancer_pick(b, NULL, out, &cursor, NULL, 0), 2);
    origin_balancer_free(b);
}
END_TEST

START_TEST(test_lo_ties_rotate)
{
    origin_balancer_t *b = balancer(ORIGIN_CONF_BALANCE_LEAST_OUTSTANDING, names5, 4);
    uint32_t out[4] = {0, 0, 0, 0};
    size_t cursor = 0;
    unsigned seen = 0;
    for (int i = 0; i != 4; ++i) {
        size_t s = origin_balancer_pick(b, NULL, out, &cursor, NULL, 0);
        ck_assert_uint_lt(s, 4);
        seen |= 1u << s;
    }
    ck_assert_msg(seen == 0xf, "4 picks with all counts equal covered servers 0x%x, expected all 4", seen);
    /* ties only among the minimum: servers 0 and 2 hold 1, servers 1 and 3 hold 2 */
    uint32_t out2[4] = {1, 2, 1, 2};
    seen = 0;
    for (int i = 0; i != 4; ++i) {
        size_t s = origin_balancer_pick(b, NULL, out2, &cursor, NULL, 0);
        ck_assert_msg(s == 0 || s == 2, "picked %zu, which is not among the least loaded", s);
        seen |= 1u << s;
    }
    ck_assert_uint_eq(seen, 1 << 0 | 1 << 2);
    origin_balancer_free(b);
}
END_TEST

START_TEST(test_lo_skips_down_and_excluded)
{
    origin_balancer_t *b = balancer(ORIGIN_CONF_BALANCE_LEAST_OUTSTANDING, names5, 4);
    uint32_t out[4] = {0, 1, 2, 3};
    origin_health_t *h = health_with_down(4, 1 << 0);
    size_t cursor = 0;
    ck_assert_uint_eq(origin_balancer_pick(b, h, out, &cursor, NULL, 0), 1);
    ck_assert_uint_eq(origin_balancer_pick(b, h, out, &cursor, NULL, 1 << 1), 2);
    ck_assert_uint_eq(origin_balancer_pick(b, NULL, out, &cursor, NULL, 1 << 0 | 1 << 1 | 1 << 2), 3);
    ck_assert(origin_balancer_pick(b, h, out, &cursor, NULL, 1 << 1 | 1 << 2 | 1 << 3) == ORIGIN_BALANCER_NONE);
    origin_health_free(h);
    origin_balancer_free(b);
}
END_TEST

/* --- consistent_hash ---------------------------------------------------------------------------- */

START_TEST(test_ch_deterministic)
{
    origin_balancer_t *b1 = balancer(ORIGIN_CONF_BALANCE_CONSISTENT_HASH, names5, 4);
    origin_balancer_t *b2 = balancer(ORIGIN_CONF_BALANCE_CONSISTENT_HASH, names5, 4);
    size_t c1 = 0, c2 = 0;
    for (int i = 0; i != 1000; ++i) {
        size_t s = origin_balancer_pick(b1, NULL, NULL, &c1, &keys[i], 0);
        ck_assert_uint_lt(s, 4);
        /* the same key, again and on another balancer built from the same names: the same server */
        ck_assert_uint_eq(origin_balancer_pick(b1, NULL, NULL, &c1, &keys[i], 0), s);
        ck_assert_uint_eq(origin_balancer_pick(b2, NULL, NULL, &c2, &keys[i], 0), s);
    }
    origin_balancer_free(b1);
    origin_balancer_free(b2);
}
END_TEST

START_TEST(test_ch_spread)
{
    origin_balancer_t *b = balancer(ORIGIN_CONF_BALANCE_CONSISTENT_HASH, names5, 4);
    size_t *a = assign(b, NULL, 0), count[4] = {0};
    for (int i = 0; i != NUM_KEYS; ++i) {
        ck_assert_uint_lt(a[i], 4);
        ++count[a[i]];
    }
    for (size_t s = 0; s != 4; ++s)
        ck_assert_msg(count[s] >= NUM_KEYS * 20 / 100 && count[s] <= NUM_KEYS * 30 / 100,
                      "server %zu got %zu of %d keys, outside 25%% +- 5%%", s, count[s], NUM_KEYS);
    free(a);
    origin_balancer_free(b);
}
END_TEST

START_TEST(test_ch_add_server_moves_fifth_to_it)
{
    origin_balancer_t *b4 = balancer(ORIGIN_CONF_BALANCE_CONSISTENT_HASH, names5, 4);
    origin_balancer_t *b5 = balancer(ORIGIN_CONF_BALANCE_CONSISTENT_HASH, names5, 5);
    size_t *a4 = assign(b4, NULL, 0), *a5 = assign(b5, NULL, 0), moved = 0;
    for (int i = 0; i != NUM_KEYS; ++i) {
        if (a4[i] == a5[i])
            continue;
        ck_assert_msg(a5[i] == 4, "key %d moved from server %zu to %zu, not to the new server 4", i, a4[i], a5[i]);
        ++moved;
    }
    ck_assert_msg(moved >= NUM_KEYS * 15 / 100 && moved <= NUM_KEYS * 25 / 100, "%zu of %d keys moved, expected 15%%..25%%", moved,
                  NUM_KEYS);
    free(a4);
    free(a5);
    origin_balancer_free(b4);
    origin_balancer_free(b5);
}
END_TEST

/* Removing `gone` of 5 (by `health` or `exclude`) from `before` (all 5 usable): only its keys move. */
static void check_removal(const origin_balancer_t *b, const size_t *before, origin_health_t *health, uint64_t exclude, size_t gone)
{
    size_t *after = assign(b, health, exclude), moved_to[5] = {0}, moved = 0;
    for (int i = 0; i != NUM_KEYS; ++i) {
        if (before[i] != gone) {
            ck_assert_msg(after[i] == before[i], "key %d moved from %zu to %zu though only server %zu went away", i, before[i],
                          after[i], gone);
        } else {
            ck_assert_msg(after[i] != gone, "key %d still goes to the removed server %zu", i, gone);
            ++moved_to[after[i]];
            ++moved;
        }
    }
    ck_assert_uint_gt(moved, 0);
    /* the removed server's keys are spread over the others, not dumped on one neighbour */
    for (size_t s = 0; s != 5; ++s)
        if (s != gone)
            ck_assert_msg(moved_to[s] >= moved * 10 / 100, "server %zu took %zu of the %zu keys of server %zu (< 10%%)", s,
                          moved_to[s], moved, gone);
    free(after);
}

START_TEST(test_ch_exclude_moves_only_its_keys)
{
    origin_balancer_t *b = balancer(ORIGIN_CONF_BALANCE_CONSISTENT_HASH, names5, 5);
    size_t *before = assign(b, NULL, 0);
    check_removal(b, before, NULL, 1 << 2, 2);
    check_removal(b, before, NULL, 1 << 0, 0);
    free(before);
    origin_balancer_free(b);
}
END_TEST

START_TEST(test_ch_down_moves_only_its_keys)
{
    origin_balancer_t *b = balancer(ORIGIN_CONF_BALANCE_CONSISTENT_HASH, names5, 5);
    size_t *before = assign(b, NULL, 0);
    origin_health_t *h = health_with_down(5, 1 << 3);
    check_removal(b, before, h, 0, 3);
    /* back UP: every key is back where it was */
    ck_assert(origin_health_report(h, 3, true));
    size_t *again = assign(b, h, 0);
    ck_assert(memcmp(again, before, NUM_KEYS * sizeof(before[0])) == 0);
    free(again);
    origin_health_free(h);
    free(before);
    origin_balancer_free(b);
}
END_TEST

START_TEST(test_ch_names_not_positions)
{
    static const size_t perm[] = {3, 0, 4, 2, 1}; /* position i of the second list holds names5[perm[i]] */
    const char *shuffled[5];
    for (size_t i = 0; i != 5; ++i)
        shuffled[i] = names5[perm[i]];
    origin_balancer_t *b1 = balancer(ORIGIN_CONF_BALANCE_CONSISTENT_HASH, names5, 5);
    origin_balancer_t *b2 = balancer(ORIGIN_CONF_BALANCE_CONSISTENT_HASH, shuffled, 5);
    size_t *a1 = assign(b1, NULL, 0), *a2 = assign(b2, NULL, 0);
    for (int i = 0; i != NUM_KEYS; ++i)
        ck_assert_msg(strcmp(names5[a1[i]], shuffled[a2[i]]) == 0, "key %d: %s in one order, %s in the other", i, names5[a1[i]],
                      shuffled[a2[i]]);
    free(a1);
    free(a2);
    origin_balancer_free(b1);
    origin_balancer_free(b2);
}
END_TEST

/*
 * A reference ring, built as origin/balancer.c documents it: ORIGIN_BALANCER_VNODES points per server,
 * the first 8 bytes (big-endian) of SHA-256("<name>#<i>"); a key belongs to the first point at or after
 * the first 8 bytes of its hash, wrapping. Every edge of a tier must compute the same ring from the
 * same names, or children would disagree on the parent of a key, so the construction is pinned here.
 */
typedef struct st_ref_point_t {
    uint64_t hash;
    size_t server;
} ref_point_t;

static uint64_t be64(const uint8_t *b)
{
    uint64_t v = 0;
    for (int i = 0; i != 8; ++i)
        v = v << 8 | b[i];
    return v;
}

static int cmp_ref(const void *_a, const void *_b)
{
    const ref_point_t *a = _a, *b = _b;
    return a->hash < b->hash ? -1 : a->hash > b->hash ? 1 : 0;
}

/* The sorted ring of `names`, ORIGIN_BALANCER_VNODES * n points; free() it. */
static ref_point_t *ref_ring(const char *const *names, size_t n)
{
    ref_point_t *ring = malloc(n * ORIGIN_BALANCER_VNODES * sizeof(ring[0]));
    ck_assert_ptr_nonnull(ring);
    for (size_t s = 0; s != n; ++s) {
        for (size_t i = 0; i != ORIGIN_BALANCER_VNODES; ++i) {
            char buf[256];
            int len = snprintf(buf, sizeof(buf), "%s#%zu", names[s], i);
            cache_hash_t h;
            cache_key_hash(h2o_iovec_init(buf, (size_t)len), &h);
            ring[s * ORIGIN_BALANCER_VNODES + i] = (ref_point_t){be64(h.bytes), s};
        }
    }
    qsort(ring, n * ORIGIN_BALANCER_VNODES, sizeof(ring[0]), cmp_ref);
    return ring;
}

static size_t ref_owner(const ref_point_t *ring, size_t num_points, uint64_t point)
{
    for (size_t i = 0; i != num_points; ++i)
        if (ring[i].hash >= point)
            return ring[i].server;
    return ring[0].server; /* past the last point: wraps to the first */
}

/* A key hash whose ring point is `point` (the remaining bytes do not count). */
static cache_hash_t key_at(uint64_t point)
{
    cache_hash_t h;
    memset(&h, 0xa5, sizeof(h));
    for (int i = 7; i >= 0; --i, point >>= 8)
        h.bytes[i] = (uint8_t)point;
    return h;
}

START_TEST(test_ch_matches_reference_ring)
{
    origin_balancer_t *b = balancer(ORIGIN_CONF_BALANCE_CONSISTENT_HASH, names5, 5);
    size_t num_points = 5 * ORIGIN_BALANCER_VNODES, cursor = 0;
    ref_point_t *ring = ref_ring(names5, 5);
    for (int i = 0; i != 5000; ++i) {
        size_t expected = ref_owner(ring, num_points, be64(keys[i].bytes));
        ck_assert_msg(origin_balancer_pick(b, NULL, NULL, &cursor, &keys[i], 0) == expected, "key %d: expected server %zu", i,
                      expected);
    }
    free(ring);
    origin_balancer_free(b);
}
END_TEST

START_TEST(test_ch_ring_boundaries)
{
    origin_balancer_t *b = balancer(ORIGIN_CONF_BALANCE_CONSISTENT_HASH, names5, 5);
    size_t num_points = 5 * ORIGIN_BALANCER_VNODES, cursor = 0;
    ref_point_t *ring = ref_ring(names5, 5);
    for (size_t i = 0; i + 1 < num_points; ++i) {
        if (ring[i].hash == ring[i + 1].hash)
            continue; /* a collision of two servers' points: which one wins is not specified */
        cache_hash_t at = key_at(ring[i].hash), after = key_at(ring[i].hash + 1);
        /* a key exactly on a point belongs to it; one step past it, to the next point */
        ck_assert_msg(origin_balancer_pick(b, NULL, NULL, &cursor, &at, 0) == ring[i].server, "key on ring point %zu", i);
        ck_assert_msg(origin_balancer_pick(b, NULL, NULL, &cursor, &after, 0) == ring[i + 1].server,
                      "key just after ring point %zu", i);
    }
    /* past the last point, and at 0: the first point's server (the ring wraps) */
    cache_hash_t top = key_at(UINT64_MAX), zero = key_at(0);
    ck_assert(ring[num_points - 1].hash != UINT64_MAX);
    ck_assert_uint_eq(origin_balancer_pick(b, NULL, NULL, &cursor, &top, 0), ring[0].server);
    ck_assert_uint_eq(origin_balancer_pick(b, NULL, NULL, &cursor, &zero, 0), ring[0].server);
    /* excluding the owner of the last point sends a key past it to the next usable point clockwise */
    size_t last = ring[num_points - 1].server, next = ORIGIN_BALANCER_NONE;
    for (size_t i = 0; i != num_points && next == ORIGIN_BALANCER_NONE; ++i)
        if (ring[i].server != last)
            next = ring[i].server;
    cache_hash_t on_last = key_at(ring[num_points - 1].hash);
    ck_assert_uint_eq(origin_balancer_pick(b, NULL, NULL, &cursor, &on_last, 0), last);
    ck_assert_uint_eq(origin_balancer_pick(b, NULL, NULL, &cursor, &on_last, (uint64_t)1 << last), next);
    free(ring);
    origin_balancer_free(b);
}
END_TEST

START_TEST(test_ch_all_excluded_is_none)
{
    origin_balancer_t *b = balancer(ORIGIN_CONF_BALANCE_CONSISTENT_HASH, names5, 5);
    origin_health_t *h = health_with_down(5, 1 << 1 | 1 << 4);
    size_t cursor = 0;
    for (int i = 0; i != 100; ++i) {
        ck_assert(origin_balancer_pick(b, NULL, NULL, &cursor, &keys[i], 0x1f) == ORIGIN_BALANCER_NONE);
        ck_assert(origin_balancer_pick(b, h, NULL, &cursor, &keys[i], 1 << 0 | 1 << 2 | 1 << 3) == ORIGIN_BALANCER_NONE);
    }
    origin_health_free(h);
    origin_balancer_free(b);
}
END_TEST

START_TEST(test_ch_null_key_round_robin)
{
    origin_balancer_t *b = balancer(ORIGIN_CONF_BALANCE_CONSISTENT_HASH, names5, 3);
    size_t cursor = 0;
    for (size_t i = 0; i != 9; ++i)
        ck_assert_uint_eq(origin_balancer_pick(b, NULL, NULL, &cursor, NULL, 0), i % 3);
    /* and it honours exclusions like round_robin does */
    for (size_t i = 0; i != 4; ++i)
        ck_assert_uint_eq(origin_balancer_pick(b, NULL, NULL, &cursor, NULL, 1 << 1), i % 2 == 0 ? 0 : 2);
    ck_assert(origin_balancer_pick(b, NULL, NULL, &cursor, NULL, 0x7) == ORIGIN_BALANCER_NONE);
    origin_balancer_free(b);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("origin_balancer");
    TCase *tc;

    tc = tcase_create("round_robin");
    tcase_add_test(tc, test_rr_cycles_in_order);
    tcase_add_test(tc, test_rr_skips_down);
    tcase_add_test(tc, test_rr_skips_excluded);
    tcase_add_test(tc, test_rr_down_and_excluded);
    tcase_add_test(tc, test_rr_all_down_is_none);
    tcase_add_test(tc, test_rr_cursors_independent);
    tcase_add_test(tc, test_rr_64_servers_bit_63);
    tcase_add_test(tc, test_more_than_64_servers_refused);
    suite_add_tcase(s, tc);

    tc = tcase_create("least_outstanding");
    tcase_add_test(tc, test_lo_picks_minimum);
    tcase_add_test(tc, test_lo_ties_rotate);
    tcase_add_test(tc, test_lo_skips_down_and_excluded);
    suite_add_tcase(s, tc);

    tc = tcase_create("consistent_hash");
    tcase_add_checked_fixture(tc, setup_keys, teardown_keys);
    tcase_add_test(tc, test_ch_deterministic);
    tcase_add_test(tc, test_ch_spread);
    tcase_add_test(tc, test_ch_add_server_moves_fifth_to_it);
    tcase_add_test(tc, test_ch_exclude_moves_only_its_keys);
    tcase_add_test(tc, test_ch_down_moves_only_its_keys);
    tcase_add_test(tc, test_ch_names_not_positions);
    tcase_add_test(tc, test_ch_matches_reference_ring);
    tcase_add_test(tc, test_ch_ring_boundaries);
    tcase_add_test(tc, test_ch_all_excluded_is_none);
    tcase_add_test(tc, test_ch_null_key_round_robin);
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
