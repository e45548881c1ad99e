/*
 * tests/unit/check_origin_router.c: the shared routing state of origins and groups (origin/router.c).
 *
 * The configuration is an origin_conf_set_t built by hand, as edge/config.c would fill it, so the test
 * needs no YAML and nothing from edge/. Choices are made the way the fetch makes them: the router's
 * balancer and health table of an origin with a per-loop cursor, and the group's breaker with the loop's
 * time; the time here is a plain number, never the clock. Outcomes go through origin_router_report, so
 * the rule that passive outcomes count only for origins with active checks is what is being tested,
 * and the state changes it logs are read back from stderr.
 */
#include "origin/router.h"

#include <check.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --- a configuration, by hand ------------------------------------------------------------------- */

static char *servers_a[] = {(char[]){"http://127.0.0.1:8001"}, (char[]){"http://127.0.0.1:8002"},
                            (char[]){"http://127.0.0.1:8003"}};
static char *servers_b[] = {(char[]){"http://127.0.0.1:9001"}, (char[]){"http://127.0.0.1:9002"}};
static char *servers_f[] = {(char[]){"file:///var/www"}};
static char name_a[] = "a", name_b[] = "b", name_files[] = "files", name_ab[] = "ab", name_nobreaker[] = "nobreaker",
            path_healthz[] = "/healthz";
static int failover_default[] = {500, 502, 503, 504};

/* Origins: 0 "a" (3 servers, round robin, active checks on /healthz, thresholds 2 down / 3 up), 1 "b"
 * (2 servers, no active checks), 2 "files" (file://). Groups: 0 "ab" (a then b, breaker 3 failures,
 * 1 s cool-down), 1 "nobreaker" (b then a, breaker off). */
typedef struct st_fixture_t {
    origin_conf_t origins[3];
    origin_conf_group_t groups[2];
    origin_conf_set_t set;
} fixture_t;

static void fixture_init(fixture_t *f)
{
    memset(f, 0, sizeof(*f));
    f->origins[0] = (origin_conf_t){.name = name_a,
                                    .servers = servers_a,
                                    .num_servers = 3,
                                    .connect_attempts = 3,
                                    .balance = ORIGIN_CONF_BALANCE_ROUND_ROBIN,
                                    .health = {.path = path_healthz,
                                               .interval_ms = 10000,
                                               .timeout_ms = 5000,
                                               .unhealthy_threshold = 2,
                                               .healthy_threshold = 3},
                                    .tls.verify = true};
    f->origins[1] = (origin_conf_t){.name = name_b,
                                    .servers = servers_b,
                                    .num_servers = 2,
                                    .connect_attempts = 3,
                                    .balance = ORIGIN_CONF_BALANCE_ROUND_ROBIN,
                                    .health = {.unhealthy_threshold = 2, .healthy_threshold = 3},
                                    .tls.verify = true};
    f->origins[2] = (origin_conf_t){.name = name_files, .servers = servers_f, .num_servers = 1, .tls.verify = true};
    f->groups[0] = (origin_conf_group_t){.name = name_ab,
                                         .primary = 0,
                                         .secondary = 1,
                                         .failover_on = failover_default,
                                         .num_failover_on = 4,
                                         .breaker_failures = 3,
                                         .breaker_cooldown_ms = 1000};
    f->groups[1] = (origin_conf_group_t){.name = name_nobreaker,
                                         .primary = 1,
                                         .secondary = 0,
                                         .failover_on = failover_default,
                                         .num_failover_on = 4,
                                         .breaker_failures = 0,
                                         .breaker_cooldown_ms = 1000};
    f->set = (origin_conf_set_t){.origins = f->origins, .num_origins = 3, .groups = f->groups, .num_groups = 2};
}

/* The server the fetch would pick for origin `o` on a loop whose cursor is `*cursor`. */
static size_t pick(origin_router_t *r, size_t o, size_t *cursor, uint64_t exclude)
{
    uint32_t outstanding[8] = {0};
    return origin_balancer_pick(r->origins[o].balancer, r->origins[o].health, outstanding, cursor, NULL, exclude);
}

/* --- stderr capture: the router logs each change of state once ---------------------------------- */

static int saved_stderr = -1;
static FILE *captured;

static void capture_start(void)
{
    fflush(stderr);
    captured = tmpfile();
    ck_assert_ptr_nonnull(captured);
    saved_stderr = dup(STDERR_FILENO);
    dup2(fileno(captured), STDERR_FILENO);
}

/* Stops the capture and returns how many lines contain `needle`. */
static int capture_count(const char *needle)
{
    char line[1024];
    int n = 0;
    fflush(stderr);
    dup2(saved_stderr, STDERR_FILENO);
    close(saved_stderr);
    rewind(captured);
    while (fgets(line, sizeof(line), captured) != NULL)
        n += strstr(line, needle) != NULL;
    fclose(captured);
    return n;
}

/* --- building the router ------------------------------------------------------------------------ */

START_TEST(test_new_builds_per_origin_state)
{
    fixture_t f;
    fixture_init(&f);
    origin_router_t *r = origin_router_new(&f.set, NULL);
    ck_assert_ptr_nonnull(r);
    ck_assert_ptr_eq(r->conf, &f.set);
    for (size_t i = 0; i != 3; ++i)
        ck_assert_ptr_eq(r->origins[i].conf, f.origins + i);
    ck_assert_ptr_nonnull(r->origins[0].balancer);
    ck_assert_ptr_nonnull(r->origins[0].health);
    ck_assert_uint_eq(origin_health_num_servers(r->origins[0].health), 3);
    ck_assert_uint_eq(origin_health_num_servers(r->origins[1].health), 2);
    ck_assert_msg(r->origins[2].balancer == NULL && r->origins[2].health == NULL, "a file:// origin has no servers to balance");
    ck_assert_ptr_null(r->origins[0].ssl_ctxs);
    for (size_t g = 0; g != 2; ++g) {
        ck_assert_ptr_nonnull(r->breakers[g]);
        ck_assert_int_eq(origin_breaker_state(r->breakers[g]), ORIGIN_BREAKER_CLOSED);
    }
    origin_router_free(r);
}
END_TEST

START_TEST(test_new_keeps_ssl_ctxs_per_origin)
{
    fixture_t f;
    fixture_init(&f);
    /* the router only keeps the caller's pointers: fake, never dereferenced */
    SSL_CTX *fake_a[3] = {(SSL_CTX *)0x10, NULL, (SSL_CTX *)0x30}, *fake_b[2] = {NULL, NULL};
    SSL_CTX **per_origin[3] = {fake_a, fake_b, NULL};
    origin_router_t *r = origin_router_new(&f.set, per_origin);
    ck_assert_ptr_eq(r->origins[0].ssl_ctxs, fake_a);
    ck_assert_ptr_eq(r->origins[1].ssl_ctxs, fake_b);
    ck_assert_ptr_null(r->origins[2].ssl_ctxs);
    origin_router_free(r);
}
END_TEST

START_TEST(test_new_empty_set_and_free_null)
{
    origin_conf_set_t empty = {0};
    origin_router_t *r = origin_router_new(&empty, NULL);
    ck_assert_ptr_nonnull(r);
    origin_router_free(r);
    origin_router_free(NULL);
}
END_TEST

/* --- server choice ------------------------------------------------------------------------------ */

START_TEST(test_round_robin_order)
{
    fixture_t f;
    fixture_init(&f);
    origin_router_t *r = origin_router_new(&f.set, NULL);
    size_t cursor = 0;
    for (size_t i = 0; i != 7; ++i)
        ck_assert_uint_eq(pick(r, 0, &cursor, 0), i % 3);
    origin_router_free(r);
}
END_TEST

START_TEST(test_round_robin_cursor_per_loop)
{
    fixture_t f;
    fixture_init(&f);
    origin_router_t *r = origin_router_new(&f.set, NULL);
    size_t loop1 = 0, loop2 = 0;
    ck_assert_uint_eq(pick(r, 0, &loop1, 0), 0);
    ck_assert_uint_eq(pick(r, 0, &loop1, 0), 1);
    ck_assert_msg(pick(r, 0, &loop2, 0) == 0, "each loop has its own cursor; the shared router has none");
    ck_assert_uint_eq(pick(r, 0, &loop1, 0), 2);
    origin_router_free(r);
}
END_TEST

START_TEST(test_excluded_server_skipped)
{
    fixture_t f;
    fixture_init(&f);
    origin_router_t *r = origin_router_new(&f.set, NULL);
    size_t cursor = 0;
    ck_assert_uint_eq(pick(r, 0, &cursor, 1u << 0), 1);
    ck_assert_uint_eq(pick(r, 0, &cursor, 1u << 2), 0);
    ck_assert_uint_eq(pick(r, 0, &cursor, 0x7), ORIGIN_BALANCER_NONE);
    origin_router_free(r);
}
END_TEST

START_TEST(test_down_server_skipped_until_up)
{
    fixture_t f;
    fixture_init(&f);
    origin_router_t *r = origin_router_new(&f.set, NULL);
    size_t cursor = 0;

    /* server 1 fails its active checks twice (unhealthy_threshold 2): DOWN */
    origin_router_report(r, 0, 1, false, false, "test");
    ck_assert_msg(origin_health_is_up(r->origins[0].health, 1), "one failure is below the threshold");
    origin_router_report(r, 0, 1, false, false, "test");
    ck_assert(!origin_health_is_up(r->origins[0].health, 1));
    for (size_t i = 0; i != 6; ++i)
        ck_assert_uint_eq(pick(r, 0, &cursor, 0), i % 2 == 0 ? 0 : 2);

    /* three successes (healthy_threshold 3) bring it back into the rotation */
    origin_router_report(r, 0, 1, true, false, "test");
    origin_router_report(r, 0, 1, true, false, "test");
    ck_assert(!origin_health_is_up(r->origins[0].health, 1));
    origin_router_report(r, 0, 1, true, false, "test");
    ck_assert(origin_health_is_up(r->origins[0].health, 1));
    cursor = 0;
    for (size_t i = 0; i != 3; ++i)
        ck_assert_uint_eq(pick(r, 0, &cursor, 0), i);
    origin_router_free(r);
}
END_TEST

START_TEST(test_all_down_none)
{
    fixture_t f;
    fixture_init(&f);
    origin_router_t *r = origin_router_new(&f.set, NULL);
    size_t cursor = 0;
    for (size_t s = 0; s != 3; ++s)
        for (int k = 0; k != 2; ++k)
            origin_router_report(r, 0, s, false, true, "connection refused");
    ck_assert_uint_eq(pick(r, 0, &cursor, 0), ORIGIN_BALANCER_NONE);
    origin_router_free(r);
}
END_TEST

START_TEST(test_passive_ignored_without_checks)
{
    fixture_t f;
    fixture_init(&f);
    origin_router_t *r = origin_router_new(&f.set, NULL);
    size_t cursor = 0;
    /* origin b has no health_check: live traffic must never take a server out, as nothing would bring it back */
    for (int k = 0; k != 10; ++k)
        origin_router_report(r, 1, 0, false, true, "connection refused");
    ck_assert(origin_health_is_up(r->origins[1].health, 0));
    ck_assert_uint_eq(pick(r, 1, &cursor, 0), 0);
    /* an active outcome (the checker's) still counts */
    origin_router_report(r, 1, 0, false, false, "test");
    origin_router_report(r, 1, 0, false, false, "test");
    ck_assert(!origin_health_is_up(r->origins[1].health, 0));
    origin_router_free(r);
}
END_TEST

START_TEST(test_report_on_file_origin_ignored)
{
    fixture_t f;
    fixture_init(&f);
    origin_router_t *r = origin_router_new(&f.set, NULL);
    origin_router_report(r, 2, 0, false, false, "test"); /* no health table: nothing to do, no crash */
    origin_router_report(r, 2, 0, false, true, "test");
    origin_router_free(r);
}
END_TEST

START_TEST(test_state_changes_logged_once)
{
    fixture_t f;
    fixture_init(&f);
    origin_router_t *r = origin_router_new(&f.set, NULL);
    capture_start();
    for (int k = 0; k != 5; ++k)
        origin_router_report(r, 0, 2, false, true, "connection refused");
    for (int k = 0; k != 4; ++k)
        origin_router_report(r, 0, 2, true, false, "health check answered 200");
    ck_assert_int_eq(capture_count("origin a: server http://127.0.0.1:8003 is DOWN (connection refused)"), 1);
    capture_start();
    for (int k = 0; k != 5; ++k)
        origin_router_report(r, 0, 2, false, true, "connection refused");
    for (int k = 0; k != 4; ++k)
        origin_router_report(r, 0, 2, true, false, "health check answered 200");
    ck_assert_int_eq(capture_count("origin a: server http://127.0.0.1:8003 is UP (health check answered 200)"), 1);
    origin_router_free(r);
}
END_TEST

START_TEST(test_consistent_hash_through_router)
{
    fixture_t f;
    fixture_init(&f);
    f.origins[0].balance = ORIGIN_CONF_BALANCE_CONSISTENT_HASH;
    origin_router_t *r = origin_router_new(&f.set, NULL);
    uint32_t outstanding[3] = {0};
    size_t cursor = 0;
    cache_hash_t key;
    cache_key_hash(h2o_iovec_init(H2O_STRLIT("/some/object")), &key);
    size_t first = origin_balancer_pick(r->origins[0].balancer, r->origins[0].health, outstanding, &cursor, &key, 0);
    ck_assert_uint_lt(first, 3);
    for (int k = 0; k != 5; ++k)
        ck_assert_uint_eq(origin_balancer_pick(r->origins[0].balancer, r->origins[0].health, outstanding, &cursor, &key, 0), first);
    /* its server DOWN: the key moves to another, and comes back when the server does */
    origin_router_report(r, 0, first, false, false, "test");
    origin_router_report(r, 0, first, false, false, "test");
    size_t moved = origin_balancer_pick(r->origins[0].balancer, r->origins[0].health, outstanding, &cursor, &key, 0);
    ck_assert_uint_ne(moved, first);
    ck_assert_uint_lt(moved, 3);
    for (int k = 0; k != 3; ++k)
        origin_router_report(r, 0, first, true, false, "test");
    ck_assert_uint_eq(origin_balancer_pick(r->origins[0].balancer, r->origins[0].health, outstanding, &cursor, &key, 0), first);
    origin_router_free(r);
}
END_TEST

START_TEST(test_least_outstanding_through_router)
{
    fixture_t f;
    fixture_init(&f);
    f.origins[0].balance = ORIGIN_CONF_BALANCE_LEAST_OUTSTANDING;
    origin_router_t *r = origin_router_new(&f.set, NULL);
    uint32_t outstanding[3] = {4, 1, 2};
    size_t cursor = 0;
    ck_assert_uint_eq(origin_balancer_pick(r->origins[0].balancer, r->origins[0].health, outstanding, &cursor, NULL, 0), 1);
    origin_router_report(r, 0, 1, false, false, "test");
    origin_router_report(r, 0, 1, false, false, "test");
    ck_assert_uint_eq(origin_balancer_pick(r->origins[0].balancer, r->origins[0].health, outstanding, &cursor, NULL, 0), 2);
    origin_router_free(r);
}
END_TEST

/* --- a group's breaker -------------------------------------------------------------------------- */

START_TEST(test_breaker_opens_after_configured_failures)
{
    fixture_t f;
    fixture_init(&f);
    origin_router_t *r = origin_router_new(&f.set, NULL);
    origin_breaker_t *b = r->breakers[0];
    uint64_t now = 1000000;

    for (unsigned i = 1; i != f.groups[0].breaker_failures; ++i) {
        ck_assert(origin_breaker_allow(b, now));
        ck_assert(!origin_breaker_report(b, false, now));
        ck_assert_int_eq(origin_breaker_state(b), ORIGIN_BREAKER_CLOSED);
        now += 10;
    }
    ck_assert(origin_breaker_allow(b, now));
    ck_assert_msg(origin_breaker_report(b, false, now), "failure %u opens it", f.groups[0].breaker_failures);
    ck_assert_int_eq(origin_breaker_state(b), ORIGIN_BREAKER_OPEN);
    /* open: the primary is skipped for the whole cool-down */
    ck_assert(!origin_breaker_allow(b, now));
    ck_assert(!origin_breaker_allow(b, now + f.groups[0].breaker_cooldown_ms - 1));
    ck_assert_int_eq(origin_breaker_state(b), ORIGIN_BREAKER_OPEN);
    origin_router_free(r);
}
END_TEST

START_TEST(test_breaker_success_between_failures_resets)
{
    fixture_t f;
    fixture_init(&f);
    origin_router_t *r = origin_router_new(&f.set, NULL);
    origin_breaker_t *b = r->breakers[0];
    origin_breaker_report(b, false, 1);
    origin_breaker_report(b, false, 2);
    origin_breaker_report(b, true, 3);
    origin_breaker_report(b, false, 4);
    origin_breaker_report(b, false, 5);
    ck_assert_msg(origin_breaker_state(b) == ORIGIN_BREAKER_CLOSED, "the failures must be consecutive");
    origin_breaker_report(b, false, 6);
    ck_assert_int_eq(origin_breaker_state(b), ORIGIN_BREAKER_OPEN);
    origin_router_free(r);
}
END_TEST

static origin_breaker_t *opened(origin_router_t *r, uint64_t at)
{
    origin_breaker_t *b = r->breakers[0];
    for (int i = 0; i != 3; ++i)
        origin_breaker_report(b, false, at);
    ck_assert_int_eq(origin_breaker_state(b), ORIGIN_BREAKER_OPEN);
    return b;
}

START_TEST(test_breaker_half_open_single_probe)
{
    fixture_t f;
    fixture_init(&f);
    origin_router_t *r = origin_router_new(&f.set, NULL);
    origin_breaker_t *b = opened(r, 5000);
    uint64_t end = 5000 + f.groups[0].breaker_cooldown_ms;

    ck_assert_msg(origin_breaker_allow(b, end), "the first request after the cool-down is the probe");
    ck_assert_int_eq(origin_breaker_state(b), ORIGIN_BREAKER_HALF_OPEN);
    for (int i = 0; i != 10; ++i)
        ck_assert_msg(!origin_breaker_allow(b, end + (uint64_t)i * 100000), "only one probe while it is out");
    ck_assert(origin_breaker_report(b, true, end + 5));
    ck_assert_int_eq(origin_breaker_state(b), ORIGIN_BREAKER_CLOSED);
    ck_assert(origin_breaker_allow(b, end + 6));
    ck_assert(origin_breaker_allow(b, end + 6));
    origin_router_free(r);
}
END_TEST

START_TEST(test_breaker_failed_probe_reopens)
{
    fixture_t f;
    fixture_init(&f);
    origin_router_t *r = origin_router_new(&f.set, NULL);
    origin_breaker_t *b = opened(r, 5000);
    uint64_t end = 5000 + f.groups[0].breaker_cooldown_ms;

    ck_assert(origin_breaker_allow(b, end));
    ck_assert_msg(origin_breaker_report(b, false, end + 200), "one failed probe opens it again, not N");
    ck_assert_int_eq(origin_breaker_state(b), ORIGIN_BREAKER_OPEN);
    /* the new cool-down counts from the probe's failure */
    ck_assert(!origin_breaker_allow(b, end + 200 + f.groups[0].breaker_cooldown_ms - 1));
    ck_assert(origin_breaker_allow(b, end + 200 + f.groups[0].breaker_cooldown_ms));
    ck_assert_int_eq(origin_breaker_state(b), ORIGIN_BREAKER_HALF_OPEN);
    origin_router_free(r);
}
END_TEST

START_TEST(test_breaker_off_never_opens)
{
    fixture_t f;
    fixture_init(&f);
    origin_router_t *r = origin_router_new(&f.set, NULL);
    origin_breaker_t *b = r->breakers[1]; /* breaker_failures 0 */
    for (uint64_t t = 0; t != 1000; ++t) {
        ck_assert(origin_breaker_allow(b, t));
        ck_assert(!origin_breaker_report(b, false, t));
    }
    ck_assert_int_eq(origin_breaker_state(b), ORIGIN_BREAKER_CLOSED);
    origin_router_free(r);
}
END_TEST

START_TEST(test_breakers_independent_of_health)
{
    fixture_t f;
    fixture_init(&f);
    origin_router_t *r = origin_router_new(&f.set, NULL);
    size_t cursor = 0;
    /* an open breaker skips the group's primary, but the primary's servers stay UP for other routes */
    opened(r, 100);
    ck_assert(!origin_breaker_allow(r->breakers[0], 200));
    ck_assert(origin_breaker_allow(r->breakers[1], 200));
    for (size_t s = 0; s != 3; ++s)
        ck_assert(origin_health_is_up(r->origins[0].health, s));
    ck_assert_uint_eq(pick(r, 0, &cursor, 0), 0);
    origin_router_free(r);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("origin_router");
    TCase *tc = tcase_create("new");
    tcase_add_test(tc, test_new_builds_per_origin_state);
    tcase_add_test(tc, test_new_keeps_ssl_ctxs_per_origin);
    tcase_add_test(tc, test_new_empty_set_and_free_null);
    suite_add_tcase(s, tc);

    tc = tcase_create("choice");
    tcase_add_test(tc, test_round_robin_order);
    tcase_add_test(tc, test_round_robin_cursor_per_loop);
    tcase_add_test(tc, test_excluded_server_skipped);
    tcase_add_test(tc, test_down_server_skipped_until_up);
    tcase_add_test(tc, test_all_down_none);
    tcase_add_test(tc, test_passive_ignored_without_checks);
    tcase_add_test(tc, test_report_on_file_origin_ignored);
    tcase_add_test(tc, test_state_changes_logged_once);
    tcase_add_test(tc, test_consistent_hash_through_router);
    tcase_add_test(tc, test_least_outstanding_through_router);
    suite_add_tcase(s, tc);

    tc = tcase_create("breaker");
    tcase_add_test(tc, test_breaker_opens_after_configured_failures);
    tcase_add_test(tc, test_breaker_success_between_failures_resets);
    tcase_add_test(tc, test_breaker_half_open_single_probe);
    tcase_add_test(tc, test_breaker_failed_probe_reopens);
    tcase_add_test(tc, test_breaker_off_never_opens);
    tcase_add_test(tc, test_breakers_independent_of_health);
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
