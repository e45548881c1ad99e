/*
 * tests/unit/check_cache_ttl_parse.c: the parsers of cache/ttl.c, and its calls that need no row table.
 *
 * Cache-Control (RFC 9111 §5.2, request and response directives, and the targeted fields of RFC 9213),
 * HTTP dates (RFC 9110 §5.6.7) and Age (RFC 9111 §5.1) are fed text, valid and hostile, and their
 * results checked field by field; the status predicates, may_serve_stale, current_age and the
 * Authorization rule (RFC 9111 §3.5) are checked with direct calls. The freshness decisions themselves,
 * as tables of origin responses, are in check_cache_ttl.c. Tests are named after the section they check.
 */
#include "cache/ttl.h"

#include <check.h>
#include <string.h>

#define T INT64_C(1700000000)
#define LIT(s) s, sizeof(s) - 1

/* --- small predicates and single decisions, outside the row tables ------------------------------- */

/* RFC 9111 §5.2.1: the request directives a behavior with request_cache_control: honor obeys. Names are
 * case-insensitive; max-stale may come without a value (any staleness); an invalid min-fresh asks for more
 * freshness than any response has, and an invalid max-stale for none, the conservative readings. */
START_TEST(test_rfc9111_5_2_1_request_directives)
{
    static const struct {
        const char *value;
        unsigned flags;
        int64_t max_age, max_stale, min_fresh;
    } cases[] = {
        {"max-stale", 0, -1, INT64_MAX, -1},
        {"Max-Stale=30", 0, -1, 30, -1},
        {"max-stale=30, max-stale=10", 0, -1, 10, -1},
        {"max-stale=\"30\"", 0, -1, -1, -1},
        {"min-fresh=60", 0, -1, -1, 60},
        {"min-fresh=abc", 0, -1, -1, INT64_MAX},
        {"only-if-cached", CACHE_CC_ONLY_IF_CACHED, -1, -1, -1},
        {"NO-CACHE, max-age=0", CACHE_CC_NO_CACHE, 0, -1, -1},
        {"no-store", CACHE_CC_NO_STORE, -1, -1, -1},
    };
    for (size_t i = 0; i != sizeof(cases) / sizeof(cases[0]); ++i) {
        cache_cc_t cc;
        cache_ttl_cc_init(&cc);
        cache_ttl_parse_cc(&cc, cases[i].value, strlen(cases[i].value));
        ck_assert_msg(cc.flags == cases[i].flags, "%s: flags %#x", cases[i].value, cc.flags);
        ck_assert_msg(cc.max_age == cases[i].max_age, "%s: max-age %lld", cases[i].value, (long long)cc.max_age);
        ck_assert_msg(cc.max_stale == cases[i].max_stale, "%s: max-stale %lld", cases[i].value, (long long)cc.max_stale);
        ck_assert_msg(cc.min_fresh == cases[i].min_fresh, "%s: min-fresh %lld", cases[i].value, (long long)cc.min_fresh);
    }
}
END_TEST

START_TEST(test_rfc9111_4_2_2_status_is_heuristic)
{
    /* RFC 9110 §15.1; 206 is on the list, but this cache never stores a partial response */
    static const int yes[] = {200, 203, 204, 206, 300, 301, 308, 404, 405, 410, 414, 501};
    static const int no[] = {0, 100, 201, 202, 302, 303, 304, 307, 400, 401, 403, 500, 502, 503, 504, 999};
    for (size_t i = 0; i != sizeof(yes) / sizeof(yes[0]); ++i)
        ck_assert_msg(cache_ttl_status_is_heuristic(yes[i]), "%d should be heuristically cacheable", yes[i]);
    for (size_t i = 0; i != sizeof(no) / sizeof(no[0]); ++i)
        ck_assert_msg(!cache_ttl_status_is_heuristic(no[i]), "%d should not be heuristically cacheable", no[i]);
}
END_TEST

START_TEST(test_rfc9111_5_2_2_3_status_is_known)
{
    static const int yes[] = {200, 201, 202, 203, 204, 205, 300, 301, 302, 303, 307, 308, 400, 403, 404, 410, 416, 421, 500, 504};
    static const int no[] = {0, 100, 103, 199, 206, 207, 226, 299, 304, 306, 418, 451, 506, 555, 599, 600};
    for (size_t i = 0; i != sizeof(yes) / sizeof(yes[0]); ++i)
        ck_assert_msg(cache_ttl_status_is_known(yes[i]), "%d should be known", yes[i]);
    for (size_t i = 0; i != sizeof(no) / sizeof(no[0]); ++i)
        ck_assert_msg(!cache_ttl_status_is_known(no[i]), "%d should not be known", no[i]);
}
END_TEST

START_TEST(test_rfc9111_4_2_4_may_serve_stale)
{
    ck_assert(cache_ttl_may_serve_stale(0));
    ck_assert(!cache_ttl_may_serve_stale(CACHE_TTL_MUST_REVALIDATE));
    ck_assert(!cache_ttl_may_serve_stale(CACHE_TTL_NO_CACHE));
    ck_assert(!cache_ttl_may_serve_stale(CACHE_TTL_ERROR_PAGE));
    ck_assert(!cache_ttl_may_serve_stale(CACHE_TTL_MUST_REVALIDATE | CACHE_TTL_NO_CACHE));
}
END_TEST

START_TEST(test_rfc9111_4_2_3_current_age)
{
    ck_assert_int_eq(cache_ttl_current_age(0, T, T), 0);
    ck_assert_int_eq(cache_ttl_current_age(10, T, T + 5), 15);
    ck_assert_int_eq(cache_ttl_current_age(100, T, T + 3600), 3700);
    ck_assert_int_eq(cache_ttl_current_age(10, T, T - 5), 10); /* a clock that stepped back adds nothing */
}
END_TEST

/* --- RFC 9111 §5.2: Cache-Control parsing --------------------------------------------------------- */

static cache_cc_t cc_of(const char *value)
{
    cache_cc_t cc;
    cache_ttl_cc_init(&cc);
    cache_ttl_parse_cc(&cc, value, strlen(value));
    return cc;
}

START_TEST(test_rfc9111_5_2_cc_init)
{
    cache_cc_t cc;
    memset(&cc, 0x77, sizeof(cc));
    cache_ttl_cc_init(&cc);
    ck_assert_uint_eq(cc.flags, 0);
    ck_assert_int_eq(cc.max_age, -1);
    ck_assert_int_eq(cc.s_maxage, -1);
    ck_assert_int_eq(cc.stale_while_revalidate, -1);
    ck_assert_int_eq(cc.stale_if_error, -1);

    cc = cc_of("");
    ck_assert_uint_eq(cc.flags, 0);
    ck_assert_int_eq(cc.max_age, -1);
}
END_TEST

START_TEST(test_rfc9111_5_2_cc_all_flags)
{
    cache_cc_t cc = cc_of("no-store, no-cache, private, public, must-revalidate, proxy-revalidate, immutable, no-transform");
    ck_assert_uint_eq(cc.flags, CACHE_CC_NO_STORE | CACHE_CC_NO_CACHE | CACHE_CC_PRIVATE | CACHE_CC_PUBLIC |
                                    CACHE_CC_MUST_REVALIDATE | CACHE_CC_PROXY_REVALIDATE | CACHE_CC_IMMUTABLE |
                                    CACHE_CC_NO_TRANSFORM);
    ck_assert_int_eq(cc.max_age, -1);
    ck_assert_uint_eq(cc_of("immutable").flags, CACHE_CC_IMMUTABLE);
    ck_assert_uint_eq(cc_of("no-transform").flags, CACHE_CC_NO_TRANSFORM);
}
END_TEST

START_TEST(test_rfc9111_5_2_cc_numeric)
{
    cache_cc_t cc = cc_of("max-age=60, s-maxage=30, stale-while-revalidate=10, stale-if-error=600");
    ck_assert_int_eq(cc.max_age, 60);
    ck_assert_int_eq(cc.s_maxage, 30);
    ck_assert_int_eq(cc.stale_while_revalidate, 10);
    ck_assert_int_eq(cc.stale_if_error, 600);
    ck_assert_uint_eq(cc.flags, 0);
    ck_assert_int_eq(cc_of("max-age=0").max_age, 0);
}
END_TEST

START_TEST(test_rfc9111_5_2_cc_case_insensitive)
{
    cache_cc_t cc = cc_of("Max-Age=60, NO-STORE, Private, S-MAXAGE=5, No-Cache");
    ck_assert_int_eq(cc.max_age, 60);
    ck_assert_int_eq(cc.s_maxage, 5);
    ck_assert_uint_eq(cc.flags, CACHE_CC_NO_STORE | CACHE_CC_PRIVATE | CACHE_CC_NO_CACHE);
}
END_TEST

START_TEST(test_rfc9111_5_2_cc_quoted_values)
{
    /* a lifetime is read from the token form only: the quoted form is invalid, so stale */
    ck_assert_int_eq(cc_of("max-age=\"60\"").max_age, 0);
    ck_assert_int_eq(cc_of("s-maxage=\"30\"").s_maxage, 0);
    ck_assert_int_eq(cc_of("max-age='60'").max_age, 0);
    ck_assert_int_eq(cc_of("stale-if-error=\"60\"").stale_if_error, -1);
    /* a directive inside another's quoted value is not a directive */
    ck_assert_int_eq(cc_of("extension=\"max-age=3600\", max-age=1").max_age, 1);
    ck_assert_int_eq(cc_of("max-age=1, extension=\"max-age=3600\"").max_age, 1);
    /* a comma inside a quoted string does not end the directive */
    cache_cc_t cc = cc_of("no-cache=\"set-cookie, x-foo\", max-age=5");
    ck_assert_uint_eq(cc.flags, 0);
    ck_assert_uint_eq(cc.num_omit, 1);
    ck_assert_int_eq(cc.max_age, 5);
    /* nor does an escaped quote */
    cc = cc_of("private=\"a\\\", max-age=1\", max-age=7");
    ck_assert_uint_eq(cc.flags, 0);
    ck_assert_uint_eq(cc.num_omit, 1);
    ck_assert_int_eq(cc.max_age, 7);
    /* an unterminated quote must not read past the value, and makes the directive unqualified */
    cc = cc_of("no-store, private=\"x, max-age=9");
    ck_assert_uint_eq(cc.flags, CACHE_CC_NO_STORE | CACHE_CC_PRIVATE);
}
END_TEST

START_TEST(test_rfc9111_5_2_cc_whitespace_around_equals)
{
    /* the grammar has no whitespace around "=": such a lifetime is invalid, so stale */
    ck_assert_int_eq(cc_of("max-age =3600").max_age, 0);
    ck_assert_int_eq(cc_of("max-age= 3600").max_age, 0);
    ck_assert_int_eq(cc_of("s-maxage = 30").s_maxage, 0);
    ck_assert_int_eq(cc_of("max-age=003600").max_age, 3600);
}
END_TEST

/* RFC 9111 §5.2.2.4 and §5.2.2.7: the field names of a qualified no-cache or private */
START_TEST(test_rfc9111_5_2_2_cc_omits)
{
    cache_cc_t cc = cc_of("no-cache=\"A, x-b\", private=x-c, max-age=60");
    ck_assert_uint_eq(cc.flags, 0);
    ck_assert_uint_eq(cc.num_omit, 2);
    ck_assert(cache_ttl_cc_omits(&cc, LIT("a")));
    ck_assert(cache_ttl_cc_omits(&cc, LIT("x-b")));
    ck_assert(cache_ttl_cc_omits(&cc, LIT("x-c")));
    ck_assert(!cache_ttl_cc_omits(&cc, LIT("x")));
    ck_assert(!cache_ttl_cc_omits(&cc, LIT("x-bb")));
    ck_assert(!cache_ttl_cc_omits(&cc, LIT("")));
    cc = cc_of("no-cache");
    ck_assert(!cache_ttl_cc_omits(&cc, LIT("a")));
    /* more lists than there is room for: the rest count as unqualified */
    cc = cc_of("private=\"a\", private=\"b\", private=\"c\", private=\"d\", private=\"e\", private=\"f\", private=\"g\", "
               "private=\"h\", no-cache=\"i\"");
    ck_assert_uint_eq(cc.num_omit, CACHE_CC_MAX_OMIT);
    ck_assert_uint_eq(cc.flags, CACHE_CC_NO_CACHE);
    ck_assert(cache_ttl_cc_omits(&cc, LIT("h")));
}
END_TEST

START_TEST(test_rfc9111_4_2_1_cc_duplicates_keep_smaller)
{
    ck_assert_int_eq(cc_of("max-age=60, max-age=30").max_age, 30);
    ck_assert_int_eq(cc_of("max-age=30, max-age=60").max_age, 30);
    ck_assert_int_eq(cc_of("s-maxage=100, s-maxage=10, s-maxage=50").s_maxage, 10);
    ck_assert_int_eq(cc_of("stale-if-error=100, stale-if-error=10").stale_if_error, 10);

    /* across field lines: one call per line */
    cache_cc_t cc;
    cache_ttl_cc_init(&cc);
    cache_ttl_parse_cc(&cc, LIT("max-age=60, public"));
    cache_ttl_parse_cc(&cc, LIT("max-age=20"));
    cache_ttl_parse_cc(&cc, LIT("max-age=40, no-transform"));
    ck_assert_int_eq(cc.max_age, 20);
    ck_assert_uint_eq(cc.flags, CACHE_CC_PUBLIC | CACHE_CC_NO_TRANSFORM);
}
END_TEST

START_TEST(test_rfc9111_1_2_2_cc_invalid_numbers_conservative)
{
    /* an invalid lifetime is read as "already stale" (0), never as "absent" (which would let default_ttl apply) */
    ck_assert_int_eq(cc_of("max-age=abc").max_age, 0);
    ck_assert_int_eq(cc_of("max-age=").max_age, 0);
    ck_assert_int_eq(cc_of("max-age").max_age, 0);
    ck_assert_int_eq(cc_of("max-age=-1").max_age, 0);
    ck_assert_int_eq(cc_of("max-age=1.5").max_age, 0);
    ck_assert_int_eq(cc_of("max-age=60s").max_age, 0);
    ck_assert_int_eq(cc_of("max-age=\"\"").max_age, 0);
    ck_assert_int_eq(cc_of("s-maxage=x").s_maxage, 0);
    ck_assert_int_eq(cc_of("max-age=60, max-age=abc").max_age, 0);
    ck_assert_int_eq(cc_of("max-age=abc, max-age=60").max_age, 0);
    /* the stale-* extensions only widen what may be served, so an invalid one is simply absent */
    ck_assert_int_eq(cc_of("stale-while-revalidate=abc").stale_while_revalidate, -1);
    ck_assert_int_eq(cc_of("stale-if-error").stale_if_error, -1);
}
END_TEST

START_TEST(test_rfc9111_1_2_2_cc_delta_seconds_saturate)
{
    ck_assert_int_eq(cc_of("max-age=2147483648").max_age, INT64_C(2147483648));
    ck_assert_int_eq(cc_of("max-age=99999999999999999999999").max_age, INT64_C(2147483648));
    ck_assert_int_eq(cc_of("max-age=2147483647").max_age, INT64_C(2147483647));
}
END_TEST

START_TEST(test_rfc9111_5_2_cc_junk)
{
    cache_cc_t cc = cc_of(" ,, max-age=60 ,,, no-cache ,");
    ck_assert_int_eq(cc.max_age, 60);
    ck_assert_uint_eq(cc.flags, CACHE_CC_NO_CACHE);

    cc = cc_of("\tno-store\t");
    ck_assert_uint_eq(cc.flags, CACHE_CC_NO_STORE);

    cc = cc_of("max-age=60 garbage here, public");
    ck_assert_int_eq(cc.max_age, 60);
    ck_assert_uint_eq(cc.flags, CACHE_CC_PUBLIC);

    cc = cc_of("foo=bar, x, max-age=5, =7, ==, y=\"z\"");
    ck_assert_int_eq(cc.max_age, 5);
    ck_assert_uint_eq(cc.flags, 0);

    cc = cc_of(",,,,");
    ck_assert_uint_eq(cc.flags, 0);
    ck_assert_int_eq(cc.max_age, -1);
}
END_TEST

START_TEST(test_rfc9111_5_2_cc_names_exact)
{
    /* a name that merely starts like a directive is another directive */
    ck_assert_int_eq(cc_of("max-ages=5").max_age, -1);
    ck_assert_int_eq(cc_of("x-max-age=5").max_age, -1);
    ck_assert_uint_eq(cc_of("no-stores").flags, 0);
    ck_assert_uint_eq(cc_of("no-store-x, privately").flags, 0);
    ck_assert_uint_eq(cc_of("no").flags, 0);
}
END_TEST

START_TEST(test_rfc9111_5_2_cc_length_bounds_input)
{
    /* only `len` bytes are the field value */
    cache_cc_t cc;
    cache_ttl_cc_init(&cc);
    cache_ttl_parse_cc(&cc, "max-age=60, no-store", 11);
    ck_assert_int_eq(cc.max_age, 60);
    ck_assert_uint_eq(cc.flags, 0);
    cache_ttl_cc_init(&cc);
    cache_ttl_parse_cc(&cc, "max-age=123", 9);
    ck_assert_int_eq(cc.max_age, 1);
}
END_TEST

/* --- RFC 9110 §5.6.7: HTTP dates ------------------------------------------------------------------ */

static bool date_of(const char *s, int64_t *t)
{
    *t = -12345;
    return cache_ttl_parse_date(s, strlen(s), t);
}

START_TEST(test_rfc9110_5_6_7_three_formats)
{
    static const char *dates[] = {
        "Sun, 06 Nov 1994 08:49:37 GMT",  /* IMF-fixdate */
        "Sunday, 06-Nov-94 08:49:37 GMT", /* RFC 850 */
        "Sun Nov  6 08:49:37 1994",       /* asctime */
    };
    for (size_t i = 0; i != sizeof(dates) / sizeof(dates[0]); ++i) {
        int64_t t;
        ck_assert_msg(date_of(dates[i], &t), "\"%s\" rejected", dates[i]);
        ck_assert_msg(t == 784111777, "\"%s\" gave %lld", dates[i], (long long)t);
    }
}
END_TEST

START_TEST(test_rfc9110_5_6_7_more_dates)
{
    static const struct {
        const char *s;
        int64_t t;
    } dates[] = {
        {"Thu, 01 Jan 1970 00:00:00 GMT", 0},
        {"Tue, 14 Nov 2023 22:13:20 GMT", 1700000000},
        {"Wed Nov 16 08:49:37 1994", 784111777 + 10 * 86400}, /* asctime with a two-digit day */
        {"Thursday, 01-Jan-70 00:00:00 GMT", 3155760000},     /* 2070: not more than 50 years ahead (§5.6.7) */
        {"Friday, 01-Jan-99 00:00:00 GMT", 915148800},        /* 2099 would be: 1999 */
        {"Saturday, 01-Jan-00 00:00:00 GMT", 946684800},      /* a two-digit year in this century */
        {"  Sun, 06 Nov 1994 08:49:37 GMT  ", 784111777},     /* optional whitespace around the field value */
        {"Sun, 31 Dec 2023 23:59:59 GMT", 1704067199},
    };
    for (size_t i = 0; i != sizeof(dates) / sizeof(dates[0]); ++i) {
        int64_t t;
        ck_assert_msg(date_of(dates[i].s, &t), "\"%s\" rejected", dates[i].s);
        ck_assert_msg(t == dates[i].t, "\"%s\" gave %lld, expected %lld", dates[i].s, (long long)t, (long long)dates[i].t);
    }
}
END_TEST

START_TEST(test_rfc9110_5_6_7_garbage_rejected)
{
    static const char *bad[] = {
        "",
        "garbage",
        "0",
        "-1",
        "1700000000",
        "Sun, 06 Nov 1994 08:49:37 PST",
        "Sun, 06 Nov 1994 08:49:37",
        "Sun, 06 Nov 1994 08:49:37 GMTX",
        "Sun, 06 Nov 1994 08:49:37 GMT junk",
        "Sun, 6 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 94 08:49:37 GMT",
        "Sun, 06 Foo 1994 08:49:37 GMT",
        "Sun, 06 nov 1994 08:49:37 GMT",
        "Sun, 32 Nov 1994 08:49:37 GMT",
        "Sun, 00 Nov 1994 08:49:37 GMT",
        "Sun, 06 Nov 1994 24:49:37 GMT",
        "Sun, 06 Nov 1994 08:60:37 GMT",
        "Sun, 06 Nov 1994 08:49:61 GMT",
        "Sun, 06 Nov 1994 08-49-37 GMT",
        "Sun, 06 Nov 1994",
        "Sun,06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37",
        "Sunday, 6-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37",
        "Sun Nov  6 08:49:37 94",
        "Sun Xyz  6 08:49:37 1994",
        "Sun Nov  6 08:49:37 1994 GMT",
        "Sun Nov 6 08:49:37 1994",
        ",",
        ", ",
        "Sun, ",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    };
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i) {
        int64_t t;
        ck_assert_msg(!date_of(bad[i], &t), "\"%s\" accepted as %lld", bad[i], (long long)t);
    }
}
END_TEST

START_TEST(test_rfc9110_5_6_7_length_bounds_input)
{
    int64_t t = 0;
    static const char s[] = "Sun, 06 Nov 1994 08:49:37 GMTxyz";
    ck_assert(cache_ttl_parse_date(s, sizeof(s) - 4, &t));
    ck_assert_int_eq(t, 784111777);
    /* a truncated date: every proper prefix is rejected */
    for (size_t len = 0; len != sizeof("Sun, 06 Nov 1994 08:49:37 GMT") - 1; ++len)
        ck_assert_msg(!cache_ttl_parse_date(s, len, &t), "prefix of %zu bytes accepted", len);
    static const char a[] = "Sun Nov  6 08:49:37 1994";
    for (size_t len = 0; len != sizeof(a) - 1; ++len)
        ck_assert_msg(!cache_ttl_parse_date(a, len, &t), "asctime prefix of %zu bytes accepted", len);
}
END_TEST

/* --- RFC 9111 §5.1: Age --------------------------------------------------------------------------- */

START_TEST(test_rfc9111_5_1_age)
{
    static const struct {
        const char *s;
        int64_t age;
    } rows[] = {
        {"10", 10},
        {"0", 0},
        {" 5 ", 5},
        {"\t7\t", 7},
        {"003600", 3600},
        /* a list (RFC 9111 §5.1): its first member, the others discarded */
        {"1,2", 1},
        {"7200, 0", 7200},
        {"0,7200", 0},
        {"0, 0", 0},
        {"5,", 5},
        {"5, abc", 5},
        {" 10 ,\t20", 10},
        /* not a delta-seconds, after discarding: ignored, as if absent (-1) */
        {"-1", -1},
        {"-7200", -1},
        {"", -1},
        {" ", -1},
        {",", -1},
        {", 5", -1},
        {"abc", -1},
        {"1a", -1},
        {"+5", -1},
        {"5 6", -1},
        {"1.5", -1},
        {"7200.0", -1},
        {"0x10", -1},
        {"abc, 0", -1},
        {"99999999999999999999", INT64_C(2147483648)},
    };
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i)
        ck_assert_msg(cache_ttl_parse_age(rows[i].s, strlen(rows[i].s)) == rows[i].age, "Age \"%s\": got %lld, expected %lld",
                      rows[i].s, (long long)cache_ttl_parse_age(rows[i].s, strlen(rows[i].s)), (long long)rows[i].age);
}
END_TEST

/* RFC 9213 §2.1: a targeted field is a Structured Field Dictionary; an invalid one is ignored whole. */
START_TEST(test_rfc9213_2_1_targeted_fields)
{
    cache_cc_t cc;
    ck_assert(cache_ttl_parse_targeted(&cc, "max-age=600", 11));
    ck_assert_int_eq(cc.max_age, 600);
    /* an sf-integer may have 15 digits; as a delta-seconds it saturates at 2^31 (found by fuzz_cache_control) */
    ck_assert(cache_ttl_parse_targeted(&cc, "max-age=999999999999999", 23));
    ck_assert_int_eq(cc.max_age, INT64_C(2147483648));
    ck_assert(cache_ttl_parse_targeted(&cc, "no-store", 8));
    ck_assert(cc.flags & CACHE_CC_NO_STORE);
    const char *ok = "max-age=60, must-revalidate, s-maxage=30;x=1, no-cache=?0, private=?1";
    ck_assert(cache_ttl_parse_targeted(&cc, ok, strlen(ok)));
    ck_assert_int_eq(cc.max_age, 60);
    ck_assert_int_eq(cc.s_maxage, 30);
    ck_assert(cc.flags & CACHE_CC_MUST_REVALIDATE);
    ck_assert(cc.flags & CACHE_CC_PRIVATE);
    ck_assert(!(cc.flags & CACHE_CC_NO_CACHE)); /* ?0 is false */
    static const char *const bad[] = {"",
                                      "max-age=abc",
                                      "Max-Age=60",
                                      "max-age=60,",
                                      "max-age=-1",
                                      "max-age=\"60\"",
                                      "max-age=1.5",
                                      "max-age=60 junk",
                                      ",max-age=60",
                                      "max-age=1234567890123456"};
    for (size_t i = 0; i != sizeof(bad) / sizeof(bad[0]); ++i)
        ck_assert_msg(!cache_ttl_parse_targeted(&cc, bad[i], strlen(bad[i])), "\"%s\" was accepted", bad[i]);
}
END_TEST

/* RFC 9111 §3.5: a response to a request with Authorization is stored only with public, s-maxage or
 * must-revalidate, and only such a response is marked as able to answer requests with credentials. */
START_TEST(test_rfc9111_3_5_authorization)
{
    static const struct {
        const char *cc;
        bool store;
    } rows[] = {{"max-age=60", false},
                {"max-age=60, public", true},
                {"s-maxage=60", true},
                {"max-age=60, must-revalidate", true},
                {"public", true}};
    cache_ttl_rules_t b = {.min_ttl = 0, .default_ttl = 100, .max_ttl = 1000};
    for (size_t i = 0; i != sizeof(rows) / sizeof(rows[0]); ++i) {
        cache_ttl_in_t in = {.status = 200,
                             .age = -1,
                             .has_validator = true,
                             .request_time = 1000,
                             .response_time = 1000,
                             .has_authorization = true};
        cache_ttl_out_t out;
        cache_ttl_cc_init(&in.cc);
        cache_ttl_parse_cc(&in.cc, rows[i].cc, strlen(rows[i].cc));
        cache_ttl_decide(&in, &b, &out);
        ck_assert_msg(out.store == rows[i].store, "[%s] store %d", rows[i].cc, out.store);
        if (out.store)
            ck_assert(out.flags & CACHE_TTL_AUTH_OK);
        else
            ck_assert_str_eq(out.why, "authorization");
        in.has_authorization = false; /* without credentials: stored, and marked only when allowed */
        cache_ttl_decide(&in, &b, &out);
        ck_assert(out.store);
        ck_assert_int_eq((out.flags & CACHE_TTL_AUTH_OK) != 0, rows[i].store);
    }
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cache_ttl_parse");
    TCase *tc;

    tc = tcase_create("decisions");
    tcase_add_test(tc, test_rfc9111_5_2_1_request_directives);
    tcase_add_test(tc, test_rfc9111_3_5_authorization);
    tcase_add_test(tc, test_rfc9111_4_2_2_status_is_heuristic);
    tcase_add_test(tc, test_rfc9111_5_2_2_3_status_is_known);
    tcase_add_test(tc, test_rfc9111_4_2_4_may_serve_stale);
    tcase_add_test(tc, test_rfc9111_4_2_3_current_age);
    suite_add_tcase(s, tc);

    tc = tcase_create("cache_control");
    tcase_add_test(tc, test_rfc9111_5_2_cc_init);
    tcase_add_test(tc, test_rfc9111_5_2_cc_all_flags);
    tcase_add_test(tc, test_rfc9111_5_2_cc_numeric);
    tcase_add_test(tc, test_rfc9111_5_2_cc_case_insensitive);
    tcase_add_test(tc, test_rfc9111_5_2_cc_quoted_values);
    tcase_add_test(tc, test_rfc9111_5_2_cc_whitespace_around_equals);
    tcase_add_test(tc, test_rfc9111_5_2_2_cc_omits);
    tcase_add_test(tc, test_rfc9111_4_2_1_cc_duplicates_keep_smaller);
    tcase_add_test(tc, test_rfc9111_1_2_2_cc_invalid_numbers_conservative);
    tcase_add_test(tc, test_rfc9111_1_2_2_cc_delta_seconds_saturate);
    tcase_add_test(tc, test_rfc9111_5_2_cc_junk);
    tcase_add_test(tc, test_rfc9111_5_2_cc_names_exact);
    tcase_add_test(tc, test_rfc9111_5_2_cc_length_bounds_input);
    tcase_add_test(tc, test_rfc9213_2_1_targeted_fields);
    suite_add_tcase(s, tc);

    tc = tcase_create("dates");
    tcase_add_test(tc, test_rfc9110_5_6_7_three_formats);
    tcase_add_test(tc, test_rfc9110_5_6_7_more_dates);
    tcase_add_test(tc, test_rfc9110_5_6_7_garbage_rejected);
    tcase_add_test(tc, test_rfc9110_5_6_7_length_bounds_input);
    suite_add_tcase(s, tc);

    tc = tcase_create("age");
    tcase_add_test(tc, test_rfc9111_5_1_age);
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
