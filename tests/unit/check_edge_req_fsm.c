/*
 * tests/unit/check_edge_req_fsm.c: the request state machine's graph, its LOOKUP decisions, and the
 * X-Cache / Cache-Status table (edge/req_fsm.c, edge/account.c).
 *
 * The graph drawn in edge/req_fsm.h is read from the source tree at test time ($TOP_SRCDIR, set by
 * `make check`) and compared edge for edge with the transition table the run loop enforces; every state
 * must be reachable from RECV and reach DONE. The Cache-Status texts are the exact ones the end-to-end
 * tests and operators match.
 */
#include "edge/account.h"
#include "edge/req_fsm.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N EDGE_REQ_NUM_STATES

static int state_of(const char *name, size_t len)
{
    for (int s = 0; s != N; ++s)
        if (strlen(edge_req_state_name(s)) == len && memcmp(edge_req_state_name(s), name, len) == 0)
            return s;
    return -1;
}

/* The next word of `*p` (letters only), or length 0. */
static size_t word(const char **p, const char **start)
{
    while (**p == ' ')
        ++*p;
    *start = *p;
    while ((**p >= 'A' && **p <= 'Z') || (**p >= 'a' && **p <= 'z') || **p == '-' || **p == '>')
        ++*p;
    return (size_t)(*p - *start);
}

/* Reads the graph in req_fsm.h: lines " *   FROM -> TO  text" and " *   -> TO  text" (FROM as above). */
static void read_header_graph(bool graph[N][N], int *num_edges)
{
    const char *top = getenv("TOP_SRCDIR");
    char path[4096], line[512];
    snprintf(path, sizeof(path), "%s/edge/req_fsm.h", top != NULL ? top : ".");
    FILE *fp = fopen(path, "r");
    ck_assert_msg(fp != NULL, "cannot open %s (set TOP_SRCDIR)", path);
    int from = -1;
    *num_edges = 0;
    while (fgets(line, sizeof(line), fp) != NULL) {
        if (strncmp(line, " *   ", 5) != 0)
            continue;
        const char *p = line + 5, *w;
        size_t len = word(&p, &w);
        if (len == 0)
            continue;
        if (!(len == 2 && memcmp(w, "->", 2) == 0)) {
            int s = state_of(w, len);
            if (s < 0)
                continue;
            from = s;
            len = word(&p, &w);
            if (!(len == 2 && memcmp(w, "->", 2) == 0))
                continue;
        }
        ck_assert_msg(from >= 0, "an edge with no FROM state: %s", line);
        len = word(&p, &w);
        int to = state_of(w, len);
        ck_assert_msg(to >= 0, "not a state: %.*s", (int)len, w);
        ck_assert_msg(!graph[from][to], "edge drawn twice: %s", line);
        graph[from][to] = true;
        ++*num_edges;
    }
    fclose(fp);
}

START_TEST(test_header_graph_is_the_table)
{
    bool drawn[N][N] = {{false}};
    int num_drawn;
    read_header_graph(drawn, &num_drawn);
    ck_assert_int_gt(num_drawn, 0);
    for (int a = 0; a != N; ++a)
        for (int b = 0; b != N; ++b)
            ck_assert_msg(drawn[a][b] == edge_req_transition_allowed(a, b), "%s -> %s: drawn %d, in the table %d",
                          edge_req_state_name(a), edge_req_state_name(b), drawn[a][b], edge_req_transition_allowed(a, b));
}
END_TEST

START_TEST(test_known_edges)
{
    /* the edges an earlier drawing left out */
    ck_assert(edge_req_transition_allowed(EDGE_REQ_RECV, EDGE_REQ_DONE));
    ck_assert(edge_req_transition_allowed(EDGE_REQ_HIT, EDGE_REQ_MISS));
    ck_assert(edge_req_transition_allowed(EDGE_REQ_WAIT, EDGE_REQ_DONE));
    ck_assert(!edge_req_transition_allowed(EDGE_REQ_DONE, EDGE_REQ_RECV));
    ck_assert(!edge_req_transition_allowed(EDGE_REQ_HIT, EDGE_REQ_WAIT));
    ck_assert_str_eq(edge_req_state_name(EDGE_REQ_REVALIDATE), "REVALIDATE");
    ck_assert_str_eq(edge_req_state_name(N), "?");
}
END_TEST

START_TEST(test_reachability)
{
    bool from_recv[N] = {false}, to_done[N] = {false};
    from_recv[EDGE_REQ_RECV] = to_done[EDGE_REQ_DONE] = true;
    for (int round = 0; round != N; ++round) {
        for (int a = 0; a != N; ++a) {
            for (int b = 0; b != N; ++b) {
                if (!edge_req_transition_allowed(a, b))
                    continue;
                from_recv[b] |= from_recv[a];
                to_done[a] |= to_done[b];
            }
        }
    }
    for (int s = 0; s != N; ++s) {
        ck_assert_msg(from_recv[s], "%s is not reachable from RECV", edge_req_state_name(s));
        ck_assert_msg(to_done[s], "%s never reaches DONE", edge_req_state_name(s));
    }
    for (int b = 0; b != N; ++b)
        ck_assert(!edge_req_transition_allowed(EDGE_REQ_DONE, b)); /* DONE is the end */
}
END_TEST

START_TEST(test_decide_freshness)
{
    ck_assert_int_eq(edge_req_decide_freshness(0, 100, 0, 10), EDGE_REQ_FOUND_FRESH);
    ck_assert_int_eq(edge_req_decide_freshness(0, 100, 0, 100), EDGE_REQ_FOUND_STALE);
    ck_assert_int_eq(edge_req_decide_freshness(0, 100, 30, 120), EDGE_REQ_FOUND_SWR);
    ck_assert_int_eq(edge_req_decide_freshness(0, 100, 30, 130), EDGE_REQ_FOUND_STALE);
    ck_assert_int_eq(edge_req_decide_freshness(CACHE_TTL_NO_CACHE, 100, 30, 10), EDGE_REQ_FOUND_STALE); /* revalidate always */
    ck_assert_int_eq(edge_req_decide_freshness(CACHE_TTL_MUST_REVALIDATE, 100, 30, 120), EDGE_REQ_FOUND_STALE);
}
END_TEST

START_TEST(test_decide_request_cc)
{
    cache_cc_t cc;
    cache_ttl_cc_init(&cc);
    ck_assert_int_eq(edge_req_decide_request_cc(&cc, 0, 100, 10, EDGE_REQ_FOUND_FRESH), EDGE_REQ_FOUND_FRESH);
    cache_ttl_parse_cc(&cc, H2O_STRLIT("no-cache"));
    ck_assert_int_eq(edge_req_decide_request_cc(&cc, 0, 100, 10, EDGE_REQ_FOUND_FRESH), EDGE_REQ_FOUND_REFUSED);
    ck_assert_int_eq(edge_req_decide_request_cc(&cc, CACHE_TTL_IMMUTABLE, 100, 10, EDGE_REQ_FOUND_FRESH), EDGE_REQ_FOUND_FRESH);
    ck_assert_int_eq(edge_req_decide_request_cc(&cc, CACHE_TTL_IMMUTABLE, 100, 110, EDGE_REQ_FOUND_SWR), EDGE_REQ_FOUND_REFUSED);
    cache_ttl_cc_init(&cc);
    cache_ttl_parse_cc(&cc, H2O_STRLIT("max-age=5"));
    ck_assert_int_eq(edge_req_decide_request_cc(&cc, 0, 100, 10, EDGE_REQ_FOUND_FRESH), EDGE_REQ_FOUND_REFUSED);
    ck_assert_int_eq(edge_req_decide_request_cc(&cc, 0, 100, 5, EDGE_REQ_FOUND_FRESH), EDGE_REQ_FOUND_FRESH);
    cache_ttl_cc_init(&cc);
    cache_ttl_parse_cc(&cc, H2O_STRLIT("min-fresh=50"));
    ck_assert_int_eq(edge_req_decide_request_cc(&cc, 0, 100, 60, EDGE_REQ_FOUND_FRESH), EDGE_REQ_FOUND_REFUSED);
    cache_ttl_cc_init(&cc);
    cache_ttl_parse_cc(&cc, H2O_STRLIT("max-stale=20"));
    ck_assert_int_eq(edge_req_decide_request_cc(&cc, 0, 100, 115, EDGE_REQ_FOUND_STALE), EDGE_REQ_FOUND_MAX_STALE);
    ck_assert_int_eq(edge_req_decide_request_cc(&cc, 0, 100, 125, EDGE_REQ_FOUND_STALE), EDGE_REQ_FOUND_STALE);
    ck_assert_int_eq(edge_req_decide_request_cc(&cc, CACHE_TTL_MUST_REVALIDATE, 100, 115, EDGE_REQ_FOUND_STALE),
                     EDGE_REQ_FOUND_STALE);
    ck_assert_int_eq(edge_req_decide_request_cc(&cc, 0, 100, 10, EDGE_REQ_FOUND_NONE), EDGE_REQ_FOUND_NONE);
}
END_TEST

static h2o_mem_pool_t pool;
static void setup(void)
{
    h2o_mem_init_pool(&pool);
}
static void teardown(void)
{
    h2o_mem_clear_pool(&pool);
}

static void expect(const edge_cache_answer_t *a, const char *x_cache, const char *cache_status)
{
    h2o_iovec_t cs = edge_account_cache_status(&pool, a);
    ck_assert_str_eq(edge_account_x_cache(a->outcome), x_cache);
    ck_assert_msg(h2o_memis(cs.base, cs.len, cache_status, strlen(cache_status)), "got \"%.*s\", want \"%s\"", (int)cs.len, cs.base,
                  cache_status);
}

START_TEST(test_cache_status_texts)
{
    /* one line per answer the state machine gives (req_fsm.c builds exactly these answers) */
    expect(&(edge_cache_answer_t){EDGE_CACHE_HIT, .has_ttl = true, .ttl = 42}, "HIT", "edgecache; hit; ttl=42");
    expect(&(edge_cache_answer_t){EDGE_CACHE_HIT_SWR, .has_ttl = true, .ttl = -3}, "STALE",
           "edgecache; hit; ttl=-3; detail=stale-while-revalidate");
    expect(&(edge_cache_answer_t){EDGE_CACHE_HIT_MAX_STALE, .has_ttl = true, .ttl = -9}, "STALE",
           "edgecache; hit; ttl=-9; detail=max-stale");
    expect(&(edge_cache_answer_t){EDGE_CACHE_HIT_ERROR_PAGE, .has_ttl = true, .ttl = 7}, "ERROR",
           "edgecache; hit; ttl=7; detail=error-page");
    expect(&(edge_cache_answer_t){EDGE_CACHE_MISS, .fwd = "uri-miss", .detail = "only-if-cached"}, "MISS",
           "edgecache; fwd=uri-miss; detail=only-if-cached");
    expect(
        &(edge_cache_answer_t){EDGE_CACHE_MISS, .fwd = "uri-miss", .fwd_status = 200, .stored = true, .has_ttl = true, .ttl = 60},
        "MISS", "edgecache; fwd=uri-miss; fwd-status=200; stored; ttl=60");
    expect(&(edge_cache_answer_t){EDGE_CACHE_REFRESH, .fwd = "stale", .fwd_status = 200, .stored = true, .has_ttl = true, .ttl = 60,
                                  .collapsed = true},
           "MISS", "edgecache; fwd=stale; fwd-status=200; stored; ttl=60; collapsed");
    expect(&(edge_cache_answer_t){EDGE_CACHE_PASS, .fwd = "bypass", .fwd_status = 201, .detail = "method"}, "MISS",
           "edgecache; fwd=bypass; fwd-status=201; detail=method");
    expect(&(edge_cache_answer_t){EDGE_CACHE_PASS, .fwd = "request", .fwd_status = 200}, "MISS",
           "edgecache; fwd=request; fwd-status=200");
    expect(&(edge_cache_answer_t){EDGE_CACHE_REVALIDATED, .has_ttl = true, .ttl = 300}, "REVALIDATED",
           "edgecache; fwd=stale; fwd-status=304; ttl=300");
    expect(&(edge_cache_answer_t){EDGE_CACHE_STALE, .has_ttl = true, .ttl = -5, .detail = "connect-error"}, "STALE",
           "edgecache; hit; fwd=stale; ttl=-5; detail=connect-error");
    expect(&(edge_cache_answer_t){EDGE_CACHE_STALE, .fwd_status = 503, .has_ttl = true, .ttl = -5, .detail = "origin-error"},
           "STALE", "edgecache; hit; fwd=stale; fwd-status=503; ttl=-5; detail=origin-error");
    expect(&(edge_cache_answer_t){EDGE_CACHE_ERROR, .fwd = "uri-miss", .detail = "timeout"}, "ERROR",
           "edgecache; fwd=uri-miss; detail=timeout");
    expect(&(edge_cache_answer_t){EDGE_CACHE_ERROR, .fwd = "uri-miss", .fwd_status = 502, .detail = "error-page"}, "ERROR",
           "edgecache; fwd=uri-miss; fwd-status=502; detail=error-page");
}
END_TEST

START_TEST(test_report_outcomes)
{
    ck_assert_int_eq(edge_account_report_outcome(EDGE_CACHE_HIT), REPORTS_HIT);
    ck_assert_int_eq(edge_account_report_outcome(EDGE_CACHE_HIT_SWR), REPORTS_HIT);
    ck_assert_int_eq(edge_account_report_outcome(EDGE_CACHE_HIT_MAX_STALE), REPORTS_HIT);
    ck_assert_int_eq(edge_account_report_outcome(EDGE_CACHE_HIT_ERROR_PAGE), REPORTS_ERROR);
    ck_assert_int_eq(edge_account_report_outcome(EDGE_CACHE_MISS), REPORTS_MISS);
    ck_assert_int_eq(edge_account_report_outcome(EDGE_CACHE_REFRESH), REPORTS_REFRESHED);
    ck_assert_int_eq(edge_account_report_outcome(EDGE_CACHE_PASS), REPORTS_PASS);
    ck_assert_int_eq(edge_account_report_outcome(EDGE_CACHE_REVALIDATED), REPORTS_REVALIDATED);
    ck_assert_int_eq(edge_account_report_outcome(EDGE_CACHE_STALE), REPORTS_STALE);
    ck_assert_int_eq(edge_account_report_outcome(EDGE_CACHE_ERROR), REPORTS_ERROR);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("edge_req_fsm");
    TCase *tc = tcase_create("graph");
    tcase_add_test(tc, test_header_graph_is_the_table);
    tcase_add_test(tc, test_known_edges);
    tcase_add_test(tc, test_reachability);
    suite_add_tcase(s, tc);
    tc = tcase_create("decisions");
    tcase_add_test(tc, test_decide_freshness);
    tcase_add_test(tc, test_decide_request_cc);
    suite_add_tcase(s, tc);
    tc = tcase_create("cache_status");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_cache_status_texts);
    tcase_add_test(tc, test_report_outcomes);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
