/*
 * tests/unit/check_edge_range.c: Range parsing, If-Range and the plan of a ranged answer (edge/range.c).
 *
 * The functions are pure, so each test hands them a field value and a body length and checks the
 * ranges, the Content-Range text and, for several ranges, the exact multipart/byteranges framing and
 * its Content-Length (the sum of every part).
 */
#include "edge/range.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

static int parse(const char *v, uint64_t len, edge_range_seg_t *out)
{
    return edge_range_parse(h2o_iovec_init(v, strlen(v)), len, out, EDGE_RANGE_MAX);
}

START_TEST(test_parse_forms)
{
    edge_range_seg_t r[EDGE_RANGE_MAX];
    ck_assert_int_eq(parse("bytes=0-99", 1000, r), 1);
    ck_assert(r[0].start == 0 && r[0].end == 100);
    ck_assert_int_eq(parse("bytes=900-", 1000, r), 1);
    ck_assert(r[0].start == 900 && r[0].end == 1000);
    ck_assert_int_eq(parse("bytes=-100", 1000, r), 1); /* a suffix */
    ck_assert(r[0].start == 900 && r[0].end == 1000);
    ck_assert_int_eq(parse("bytes=-5000", 1000, r), 1); /* a suffix longer than the body: all of it */
    ck_assert(r[0].start == 0 && r[0].end == 1000);
    ck_assert_int_eq(parse("bytes=990-5000", 1000, r), 1); /* clipped to the body */
    ck_assert(r[0].start == 990 && r[0].end == 1000);
    ck_assert_int_eq(parse("BYTES=0-0, 10-19 ,30-", 100, r), 3);
    ck_assert(r[1].start == 10 && r[1].end == 20 && r[2].start == 30 && r[2].end == 100);
}
END_TEST

START_TEST(test_parse_ignored_and_unsatisfiable)
{
    edge_range_seg_t r[EDGE_RANGE_MAX];
    ck_assert_int_eq(parse("items=0-1", 1000, r), 0);       /* not bytes */
    ck_assert_int_eq(parse("bytes=abc", 1000, r), 0);       /* malformed */
    ck_assert_int_eq(parse("bytes=5-1", 1000, r), 0);       /* last < first */
    ck_assert_int_eq(parse("bytes=-", 1000, r), 0);         /* neither end */
    ck_assert_int_eq(parse("bytes=1000-", 1000, r), -1);    /* past the end: 416 */
    ck_assert_int_eq(parse("bytes=-0", 1000, r), -1);       /* selects nothing */
    ck_assert_int_eq(parse("bytes=-500", 0, r), -1);        /* no suffix of an empty body (found by fuzz_range) */
    ck_assert_int_eq(parse("bytes=0-", 0, r), -1);          /* nor any other range of it */
    ck_assert_int_eq(parse("bytes=2000-,0-9", 1000, r), 1); /* the satisfiable one stays */
    ck_assert(r[0].start == 0 && r[0].end == 10);

    char many[512] = "bytes=";
    for (int i = 0; i != EDGE_RANGE_MAX + 1; ++i)
        sprintf(many + strlen(many), "%s%d-%d", i == 0 ? "" : ",", i * 10, i * 10 + 1);
    ck_assert_int_eq(parse(many, 100000, r), 0); /* too many ranges: ignored */
}
END_TEST

START_TEST(test_parse_coalesces)
{
    edge_range_seg_t r[EDGE_RANGE_MAX];
    ck_assert_int_eq(parse("bytes=0-9,5-20", 1000, r), 1); /* overlapping: one range */
    ck_assert(r[0].start == 0 && r[0].end == 21);
    ck_assert_int_eq(parse("bytes=0-9,10-19", 1000, r), 1); /* adjacent: one range */
    ck_assert(r[0].start == 0 && r[0].end == 20);
    ck_assert_int_eq(parse("bytes=20-29,0-9", 1000, r), 2); /* descending: sorted */
    ck_assert(r[0].start == 0 && r[0].end == 10 && r[1].start == 20 && r[1].end == 30);
    ck_assert_int_eq(parse("bytes=50-59,0-99,-10,95-", 100, r), 1); /* contained, a suffix, an open end */
    ck_assert(r[0].start == 0 && r[0].end == 100);
    ck_assert_int_eq(parse("bytes=40-49,0-4,42-60,3-8,90-", 100, r), 3);
    ck_assert(r[0].start == 0 && r[0].end == 9 && r[1].start == 40 && r[1].end == 61 && r[2].start == 90 && r[2].end == 100);
    ck_assert_int_eq(parse("bytes=0-0,0-0,0-0", 100, r), 1); /* repeated */
    ck_assert(r[0].start == 0 && r[0].end == 1);
}
END_TEST

/* At most EDGE_RANGE_MAX range-specs, counted before merging and including unsatisfiable ones: a request
 * cannot make the edge build, seek for, or send more parts than that. */
START_TEST(test_parse_cap)
{
    edge_range_seg_t r[EDGE_RANGE_MAX];
    char buf[16384];

    strcpy(buf, "bytes=");
    for (int i = 0; i != EDGE_RANGE_MAX; ++i)
        sprintf(buf + strlen(buf), "%s%d-%d", i == 0 ? "" : ",", i * 10, i * 10 + 1);
    ck_assert_int_eq(parse(buf, 100000, r), EDGE_RANGE_MAX); /* exactly the cap: served */
    strcpy(buf, "bytes=");
    for (int i = 0; i != 1000; ++i)
        sprintf(buf + strlen(buf), "%s0-0", i == 0 ? "" : ",");
    ck_assert_int_eq(parse(buf, 100, r), 0); /* 1,000 identical ranges: ignored, not merged */
    strcpy(buf, "bytes=0-0");
    for (int i = 0; i != EDGE_RANGE_MAX; ++i)
        strcat(buf, ",500-");
    ck_assert_int_eq(parse(buf, 100, r), 0); /* unsatisfiable ones count too */

    /* the plan of the biggest answer: EDGE_RANGE_MAX parts, each head and body, and the closing boundary */
    h2o_mem_pool_t pool;
    h2o_mem_init_pool(&pool);
    strcpy(buf, "bytes=");
    for (int i = 0; i != EDGE_RANGE_MAX; ++i)
        sprintf(buf + strlen(buf), "%s%d-%d", i == 0 ? "" : ",", i * 10, i * 10 + 1);
    edge_range_plan_t plan;
    edge_range_plan(&pool, h2o_iovec_init(buf, strlen(buf)), 100000, h2o_iovec_init(NULL, 0), "B", &plan);
    ck_assert_int_eq(plan.status, 206);
    ck_assert_uint_eq(plan.num_segs, 2 * EDGE_RANGE_MAX + 1);
    strcpy(buf, "bytes=0-5,3-10,11-20");
    edge_range_plan(&pool, h2o_iovec_init(buf, strlen(buf)), 100, h2o_iovec_init(NULL, 0), "B", &plan);
    ck_assert_int_eq(plan.status, 206); /* merged into one: no multipart */
    ck_assert_uint_eq(plan.num_segs, 1);
    ck_assert(plan.content_type.base == NULL);
    ck_assert(h2o_memis(plan.content_range.base, plan.content_range.len, H2O_STRLIT("bytes 0-20/100")));
    h2o_mem_clear_pool(&pool);
}
END_TEST

START_TEST(test_if_range)
{
    h2o_iovec_t etag = h2o_iovec_init(H2O_STRLIT("\"v1\"")), lm = h2o_iovec_init(H2O_STRLIT("Sun, 06 Nov 1994 08:49:37 GMT"));
    h2o_iovec_t none = h2o_iovec_init(NULL, 0);
    ck_assert(edge_range_if_range_ok(h2o_iovec_init(H2O_STRLIT("\"v1\"")), etag, lm));
    ck_assert(!edge_range_if_range_ok(h2o_iovec_init(H2O_STRLIT("\"v2\"")), etag, lm));
    ck_assert(!edge_range_if_range_ok(h2o_iovec_init(H2O_STRLIT("W/\"v1\"")), etag, lm)); /* weak: never */
    ck_assert(!edge_range_if_range_ok(h2o_iovec_init(H2O_STRLIT("\"v1\"")), h2o_iovec_init(H2O_STRLIT("W/\"v1\"")), lm));
    ck_assert(!edge_range_if_range_ok(h2o_iovec_init(H2O_STRLIT("\"v1\"")), none, lm));
    ck_assert(edge_range_if_range_ok(h2o_iovec_init(H2O_STRLIT("Sun, 06 Nov 1994 08:49:37 GMT")), etag, lm));
    ck_assert(!edge_range_if_range_ok(h2o_iovec_init(H2O_STRLIT("Sun, 06 Nov 1994 08:49:38 GMT")), etag, lm));
    ck_assert(!edge_range_if_range_ok(h2o_iovec_init(H2O_STRLIT("Sun, 06 Nov 1994 08:49:37 GMT")), etag, none));
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

START_TEST(test_plan_whole_single_416)
{
    edge_range_plan_t p;
    h2o_iovec_t none = h2o_iovec_init(NULL, 0);
    edge_range_plan(&pool, none, 1000, none, "b", &p);
    ck_assert_int_eq(p.status, 0);
    ck_assert(p.num_segs == 1 && p.segs[0].start == 0 && p.segs[0].end == 1000 && p.content_length == 1000);
    ck_assert_ptr_null(p.content_range.base);

    edge_range_plan(&pool, h2o_iovec_init(H2O_STRLIT("bytes=10-19")), 1000, none, "b", &p);
    ck_assert_int_eq(p.status, 206);
    ck_assert(p.num_segs == 1 && p.segs[0].start == 10 && p.segs[0].end == 20 && p.content_length == 10);
    ck_assert(h2o_memis(p.content_range.base, p.content_range.len, H2O_STRLIT("bytes 10-19/1000")));
    ck_assert_ptr_null(p.content_type.base);

    edge_range_plan(&pool, h2o_iovec_init(H2O_STRLIT("bytes=5000-")), 1000, none, "b", &p);
    ck_assert_int_eq(p.status, 416);
    ck_assert(p.num_segs == 0 && p.content_length == 0);
    ck_assert(h2o_memis(p.content_range.base, p.content_range.len, H2O_STRLIT("bytes */1000")));
}
END_TEST

START_TEST(test_plan_multipart)
{
    edge_range_plan_t p;
    h2o_iovec_t ct = h2o_iovec_init(H2O_STRLIT("text/plain"));
    edge_range_plan(&pool, h2o_iovec_init(H2O_STRLIT("bytes=0-1,5-6")), 10, ct, "XYZ", &p);
    ck_assert_int_eq(p.status, 206);
    ck_assert(h2o_memis(p.content_type.base, p.content_type.len, H2O_STRLIT("multipart/byteranges; boundary=XYZ")));
    ck_assert_uint_eq(p.num_segs, 5);
    const char *head0 = "--XYZ\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-1/10\r\n\r\n";
    const char *head1 = "\r\n--XYZ\r\nContent-Type: text/plain\r\nContent-Range: bytes 5-6/10\r\n\r\n";
    const char *tail = "\r\n--XYZ--\r\n";
    ck_assert(h2o_memis(p.segs[0].literal.base, p.segs[0].literal.len, head0, strlen(head0)));
    ck_assert(p.segs[1].literal.base == NULL && p.segs[1].start == 0 && p.segs[1].end == 2);
    ck_assert(h2o_memis(p.segs[2].literal.base, p.segs[2].literal.len, head1, strlen(head1)));
    ck_assert(p.segs[3].literal.base == NULL && p.segs[3].start == 5 && p.segs[3].end == 7);
    ck_assert(h2o_memis(p.segs[4].literal.base, p.segs[4].literal.len, tail, strlen(tail)));
    ck_assert_uint_eq(p.content_length, strlen(head0) + 2 + strlen(head1) + 2 + strlen(tail));

    /* without a stored Content-Type, the parts have none */
    edge_range_plan(&pool, h2o_iovec_init(H2O_STRLIT("bytes=0-1,5-6")), 10, h2o_iovec_init(NULL, 0), "XYZ", &p);
    const char *bare = "--XYZ\r\nContent-Range: bytes 0-1/10\r\n\r\n";
    ck_assert(h2o_memis(p.segs[0].literal.base, p.segs[0].literal.len, bare, strlen(bare)));
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("edge_range");
    TCase *tc = tcase_create("parse");
    tcase_add_test(tc, test_parse_forms);
    tcase_add_test(tc, test_parse_ignored_and_unsatisfiable);
    tcase_add_test(tc, test_parse_coalesces);
    tcase_add_test(tc, test_parse_cap);
    tcase_add_test(tc, test_if_range);
    suite_add_tcase(s, tc);
    tc = tcase_create("plan");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_plan_whole_single_416);
    tcase_add_test(tc, test_plan_multipart);
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
