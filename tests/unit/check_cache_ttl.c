/*
 * tests/unit/check_cache_ttl.c: freshness decisions (cache/ttl.c).
 *
 * The decision tests are tables: each row is one origin response (status, Cache-Control text, Expires,
 * Date, Age, validators, Pragma, Set-Cookie, Vary: *) under one behavior (min/default/max TTL, whether
 * default_ttl was written, cache_set_cookie), and the outcome
 * it must produce (store, lifetime, flags, why). A failing row names itself. Tests are named after the
 * section of RFC 9111 (caching) or RFC 9110 (semantics) that they check.
 *
 * All times are relative to T; the response arrives at T, its Date is T and the request left at T
 * unless a row says otherwise. The parsers (Cache-Control, dates, Age) and the calls that need no row
 * table are in check_cache_ttl_parse.c.
 */
#include "cache/ttl.h"

#include <check.h>
#include <string.h>

#define T INT64_C(1700000000)
#define DEFAULT_TTL 86400
#define MAX_TTL 31536000

typedef struct st_row_t {
    const char *name;
    /* the response */
    int status;
    const char *cc; /* Cache-Control field value, NULL when absent */
    bool has_expires;
    bool expires_invalid;
    int64_t expires; /* relative to T */
    bool no_date;
    int64_t date; /* relative to T */
    int64_t age;  /* the Age header; 0 in a row means absent (-1 is passed) */
    bool validator, set_cookie, vary_star;
    bool has_lm; /* a Last-Modified (also a validator) */
    int64_t lm;  /* relative to T */
    bool pragma_no_cache;
    int64_t request_time, response_time; /* relative to T */
    /* the behavior; a row that sets none of these gets 0 / 86400 / 31536000 with default_ttl not
     * written (the Last-Modified heuristic applies); TTLS writes all three, TTLS_HEURISTIC leaves
     * default_ttl unwritten (the configuration module then fills in its default, clamped) */
    bool ttls, heuristic;
    uint64_t min_ttl, default_ttl, max_ttl;
    bool cache_set_cookie;
    /* the outcome */
    bool store;
    int64_t lifetime;
    unsigned flags;
    const char *why; /* NULL when stored */
    int64_t initial_age;
} row_t;

static void input_of(const row_t *r, cache_ttl_in_t *in, cache_ttl_rules_t *b)
{
    memset(in, 0, sizeof(*in));
    in->status = r->status != 0 ? r->status : 200;
    cache_ttl_cc_init(&in->cc);
    if (r->cc != NULL)
        cache_ttl_parse_cc(&in->cc, r->cc, strlen(r->cc));
    in->has_expires = r->has_expires || r->expires_invalid;
    in->expires_valid = r->has_expires && !r->expires_invalid;
    in->expires = in->expires_valid ? T + r->expires : 0;
    in->has_date = !r->no_date;
    in->date = r->no_date ? 0 : T + r->date;
    in->age = r->age != 0 ? r->age : -1;
    in->has_validator = r->validator || r->has_lm;
    in->has_last_modified = r->has_lm;
    in->last_modified = r->has_lm ? T + r->lm : 0;
    in->has_cache_control = r->cc != NULL;
    in->pragma_no_cache = r->pragma_no_cache;
    in->has_set_cookie = r->set_cookie;
    in->vary_star = r->vary_star;
    in->request_time = T + r->request_time;
    in->response_time = T + r->response_time;

    memset(b, 0, sizeof(*b));
    if (r->ttls) {
        b->min_ttl = r->min_ttl;
        b->default_ttl = r->default_ttl;
        b->max_ttl = r->max_ttl;
        b->default_ttl_set = !r->heuristic;
    } else {
        b->min_ttl = 0;
        b->default_ttl = DEFAULT_TTL;
        b->max_ttl = MAX_TTL;
    }
    b->cache_set_cookie = r->cache_set_cookie;
}

static void check_rows(const row_t *rows, size_t n, bool check_age)
{
    for (size_t i = 0; i != n; ++i) {
        const row_t *r = rows + i;
        cache_ttl_in_t in;
        cache_ttl_rules_t b;
        cache_ttl_out_t out;

        input_of(r, &in, &b);
        memset(&out, 0x5a, sizeof(out)); /* the call must set every field it reports */
        cache_ttl_decide(&in, &b, &out);
        ck_assert_msg(out.store == r->store, "[%s] store: got %d, expected %d (why: %s)", r->name, out.store, r->store,
                      out.store ? "-" : out.why);
        if (r->store) {
            ck_assert_msg(out.lifetime == r->lifetime, "[%s] lifetime: got %lld, expected %lld", r->name, (long long)out.lifetime,
                          (long long)r->lifetime);
            /* CACHE_TTL_AUTH_OK has its own test (test_rfc9111_3_5_authorization) */
            ck_assert_msg((out.flags & ~CACHE_TTL_AUTH_OK) == r->flags, "[%s] flags: got 0x%x, expected 0x%x", r->name, out.flags,
                          r->flags);
        } else {
            ck_assert_msg(out.why != NULL && strcmp(out.why, r->why) == 0, "[%s] why: got \"%s\", expected \"%s\"", r->name,
                          out.why != NULL ? out.why : "(null)", r->why);
        }
        if (check_age)
            ck_assert_msg(out.initial_age == r->initial_age, "[%s] initial_age: got %lld, expected %lld", r->name,
                          (long long)out.initial_age, (long long)r->initial_age);
    }
}

#define CHECK_ROWS(rows) check_rows(rows, sizeof(rows) / sizeof(rows[0]), false)
#define CHECK_ROWS_AGE(rows) check_rows(rows, sizeof(rows) / sizeof(rows[0]), true)
#define TTLS(mn, def, mx) .ttls = true, .min_ttl = (mn), .default_ttl = (def), .max_ttl = (mx)
#define TTLS_HEURISTIC(mn, def, mx) TTLS(mn, def, mx), .heuristic = true

/* --- RFC 9111 §4.2.1: the origin's lifetime, then the behavior's clamp --------------------------- */

START_TEST(test_rfc9111_4_2_1_smaxage_wins)
{
    static const row_t rows[] = {
        {.name = "s-maxage over max-age and Expires",
         .cc = "max-age=100, s-maxage=200",
         .has_expires = true,
         .expires = 300,
         .store = true,
         .lifetime = 200,
         .flags = CACHE_TTL_MUST_REVALIDATE},
        {.name = "s-maxage smaller than max-age",
         .cc = "s-maxage=20, max-age=100",
         .store = true,
         .lifetime = 20,
         .flags = CACHE_TTL_MUST_REVALIDATE},
        {.name = "s-maxage=0 with a validator",
         .cc = "s-maxage=0, max-age=100",
         .validator = true,
         .store = true,
         .lifetime = 0,
         .flags = CACHE_TTL_MUST_REVALIDATE},
    };
    CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_rfc9111_4_2_1_maxage_over_expires)
{
    static const row_t rows[] = {
        {.name = "max-age over Expires", .cc = "max-age=100", .has_expires = true, .expires = 300, .store = true, .lifetime = 100},
        {.name = "max-age over an earlier Expires",
         .cc = "max-age=100",
         .has_expires = true,
         .expires = -300,
         .store = true,
         .lifetime = 100},
        {.name = "max-age over an invalid Expires", .cc = "max-age=100", .expires_invalid = true, .store = true, .lifetime = 100},
        {.name = "max-age=0 with a validator", .cc = "max-age=0", .validator = true, .store = true, .lifetime = 0},
    };
    CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_rfc9111_4_2_1_expires_minus_date)
{
    static const row_t rows[] = {
        {.name = "Expires - Date", .has_expires = true, .expires = 300, .store = true, .lifetime = 300},
        {.name = "Expires - Date, Date earlier than now",
         .has_expires = true,
         .expires = 300,
         .date = -100,
         .validator = true,
         .store = true,
         .lifetime = 400},
        {.name = "no Date: Expires - response time",
         .has_expires = true,
         .expires = 50,
         .no_date = true,
         .store = true,
         .lifetime = 50},
        {.name = "Expires == Date, with a validator",
         .has_expires = true,
         .expires = 0,
         .validator = true,
         .store = true,
         .lifetime = 0},
        {.name = "Expires in the past, with a validator",
         .has_expires = true,
         .expires = -10,
         .validator = true,
         .store = true,
         .lifetime = 0},
        {.name = "Expires in the past, no validator",
         .has_expires = true,
         .expires = -10,
         .store = false,
         .why = "stale-without-validator"},
        {.name = "Expires in the past beats default_ttl on a 200",
         .status = 200,
         .has_expires = true,
         .expires = -10,
         .store = false,
         .why = "stale-without-validator"},
    };
    CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_rfc9111_5_3_expires_invalid_is_expired)
{
    static const row_t rows[] = {
        {.name = "invalid Expires, validator", .expires_invalid = true, .validator = true, .store = true, .lifetime = 0},
        {.name = "invalid Expires, no validator", .expires_invalid = true, .store = false, .why = "stale-without-validator"},
        {.name = "invalid Expires, min_ttl", .expires_invalid = true, TTLS(30, 86400, 3600), .store = true, .lifetime = 30},
        {.name = "invalid Expires on a 302 is explicit",
         .status = 302,
         .expires_invalid = true,
         .validator = true,
         .store = true,
         .lifetime = 0},
    };
    CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_rfc9111_4_2_1_clamp_min_max)
{
    static const row_t rows[] = {
        {.name = "max-age raised to min_ttl", .cc = "max-age=5", TTLS(60, 86400, 3600), .store = true, .lifetime = 60},
        {.name = "max-age lowered to max_ttl", .cc = "max-age=100000", TTLS(0, 86400, 3600), .store = true, .lifetime = 3600},
        {.name = "max-age within bounds", .cc = "max-age=600", TTLS(60, 86400, 3600), .store = true, .lifetime = 600},
        {.name = "max-age at min_ttl", .cc = "max-age=60", TTLS(60, 86400, 3600), .store = true, .lifetime = 60},
        {.name = "max-age at max_ttl", .cc = "max-age=3600", TTLS(60, 86400, 3600), .store = true, .lifetime = 3600},
        {.name = "s-maxage lowered to max_ttl",
         .cc = "s-maxage=7200",
         TTLS(0, 86400, 3600),
         .store = true,
         .lifetime = 3600,
         .flags = CACHE_TTL_MUST_REVALIDATE},
        {.name = "Expires raised to min_ttl",
         .has_expires = true,
         .expires = 10,
         TTLS(60, 86400, 3600),
         .store = true,
         .lifetime = 60},
        {.name = "Expires lowered to max_ttl",
         .has_expires = true,
         .expires = 10000,
         TTLS(0, 86400, 3600),
         .store = true,
         .lifetime = 3600},
        {.name = "max-age=0 raised to min_ttl, no validator",
         .cc = "max-age=0",
         TTLS(60, 86400, 3600),
         .store = true,
         .lifetime = 60},
        {.name = "default_ttl is not the clamp for an origin lifetime",
         .cc = "max-age=100",
         TTLS(0, 10, 3600),
         .store = true,
         .lifetime = 100},
        {.name = "max_ttl 0 forces 0", .cc = "max-age=100", .validator = true, TTLS(0, 0, 0), .store = true, .lifetime = 0},
    };
    CHECK_ROWS(rows);
}
END_TEST

/* --- RFC 9111 §4.2.2: no lifetime: default_ttl, or the heuristic, for heuristically cacheable statuses -- */

#define WRITTEN TTLS(0, DEFAULT_TTL, MAX_TTL) /* a behavior that wrote default_ttl: 86400 */

START_TEST(test_rfc9111_4_2_2_default_ttl_written)
{
    static const row_t rows[] = {
        {.name = "200 no lifetime", .status = 200, .validator = true, WRITTEN, .store = true, .lifetime = DEFAULT_TTL},
        {.name = "203", .status = 203, .validator = true, WRITTEN, .store = true, .lifetime = DEFAULT_TTL},
        {.name = "204", .status = 204, .validator = true, WRITTEN, .store = true, .lifetime = DEFAULT_TTL},
        {.name = "300", .status = 300, .validator = true, WRITTEN, .store = true, .lifetime = DEFAULT_TTL},
        {.name = "301", .status = 301, .validator = true, WRITTEN, .store = true, .lifetime = DEFAULT_TTL},
        {.name = "308", .status = 308, .validator = true, WRITTEN, .store = true, .lifetime = DEFAULT_TTL},
        {.name = "404", .status = 404, .validator = true, WRITTEN, .store = true, .lifetime = DEFAULT_TTL},
        {.name = "405", .status = 405, .validator = true, WRITTEN, .store = true, .lifetime = DEFAULT_TTL},
        {.name = "410", .status = 410, .validator = true, WRITTEN, .store = true, .lifetime = DEFAULT_TTL},
        {.name = "414", .status = 414, .validator = true, WRITTEN, .store = true, .lifetime = DEFAULT_TTL},
        {.name = "501", .status = 501, .validator = true, WRITTEN, .store = true, .lifetime = DEFAULT_TTL},
        {.name = "200 behavior default_ttl", .status = 200, .validator = true, TTLS(0, 120, 3600), .store = true, .lifetime = 120},
        {.name = "default_ttl over the Last-Modified heuristic",
         .has_lm = true,
         .lm = -1000,
         TTLS(0, 120, 3600),
         .store = true,
         .lifetime = 120},
        {.name = "default_ttl below min_ttl", .validator = true, TTLS(300, 120, 3600), .store = true, .lifetime = 300},
        {.name = "default_ttl 0, validator", .validator = true, TTLS(0, 0, 3600), .store = true, .lifetime = 0},
        {.name = "default_ttl without a validator", .status = 200, TTLS(0, 120, 3600), .store = false, .why = "no-freshness"},
        {.name = "default_ttl 0, no validator", .status = 200, TTLS(0, 0, 3600), .store = false, .why = "no-freshness"},
        {.name = "public alone is no lifetime", .cc = "public", .validator = true, WRITTEN, .store = true, .lifetime = DEFAULT_TTL},
    };
    CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_rfc9111_4_2_2_last_modified_heuristic)
{
    static const row_t rows[] = {
        {.name = "10 % of Date - Last-Modified", .has_lm = true, .lm = -1000, .store = true, .lifetime = 100},
        {.name = "rounded down", .has_lm = true, .lm = -1009, .store = true, .lifetime = 100},
        {.name = "capped at default_ttl", .has_lm = true, .lm = -30 * 86400, .store = true, .lifetime = DEFAULT_TTL},
        {.name = "capped at an unwritten default_ttl",
         .has_lm = true,
         .lm = -100000,
         TTLS_HEURISTIC(0, 600, 3600),
         .store = true,
         .lifetime = 600},
        {.name = "at least min_ttl",
         .has_lm = true,
         .lm = -1000,
         TTLS_HEURISTIC(300, 86400, MAX_TTL),
         .store = true,
         .lifetime = 300},
        {.name = "from the Date, not the arrival", .has_lm = true, .lm = -1000, .date = -500, .store = true, .lifetime = 50},
        {.name = "no Date: from the arrival", .has_lm = true, .lm = -1000, .no_date = true, .store = true, .lifetime = 100},
        {.name = "Last-Modified after Date", .has_lm = true, .lm = 100, .store = true, .lifetime = 0},
        {.name = "404", .status = 404, .has_lm = true, .lm = -1000, .store = true, .lifetime = 100},
        {.name = "ETag only: min_ttl (0), revalidated on every use", .validator = true, .store = true, .lifetime = 0},
        {.name = "ETag only: min_ttl", .validator = true, TTLS_HEURISTIC(30, 86400, MAX_TTL), .store = true, .lifetime = 30},
        {.name = "an unparseable Last-Modified is a validator only", .validator = true, .store = true, .lifetime = 0},
        {.name = "no validator", .store = false, .why = "no-freshness"},
        {.name = "no validator, min_ttl is the operator's floor",
         TTLS_HEURISTIC(30, 86400, MAX_TTL),
         .store = true,
         .lifetime = 30},
        {.name = "302: explicit freshness only", .status = 302, .has_lm = true, .lm = -1000, .store = false, .why = "no-lifetime"},
        {.name = "201", .status = 201, .has_lm = true, .lm = -86400, .store = false, .why = "no-lifetime"},
        {.name = "503", .status = 503, .has_lm = true, .lm = -86400, .store = false, .why = "no-lifetime"},
        {.name = "599", .status = 599, .has_lm = true, .lm = -86400, .store = false, .why = "no-lifetime"},
        {.name = "206 is never stored", .status = 206, .has_lm = true, .lm = -1000, .store = false, .why = "status"},
        {.name = "explicit freshness wins", .cc = "max-age=7", .has_lm = true, .lm = -100000, .store = true, .lifetime = 7},
        {.name = "Expires wins", .has_expires = true, .expires = 9, .has_lm = true, .lm = -100000, .store = true, .lifetime = 9},
    };
    CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_rfc9111_4_2_2_no_lifetime_not_heuristic)
{
    static const row_t rows[] = {
        {.name = "302 no lifetime", .status = 302, .store = false, .why = "no-lifetime"},
        {.name = "307 no lifetime", .status = 307, .store = false, .why = "no-lifetime"},
        {.name = "500 no lifetime", .status = 500, .validator = true, .store = false, .why = "no-lifetime"},
        {.name = "302 no lifetime, default_ttl written",
         .status = 302,
         .validator = true,
         WRITTEN,
         .store = false,
         .why = "no-lifetime"},
        {.name = "503 no lifetime", .status = 503, .store = false, .why = "no-lifetime"},
        {.name = "403 no lifetime", .status = 403, .store = false, .why = "no-lifetime"},
        {.name = "302 with max-age", .status = 302, .cc = "max-age=60", .store = true, .lifetime = 60},
        {.name = "500 with s-maxage",
         .status = 500,
         .cc = "s-maxage=5",
         .store = true,
         .lifetime = 5,
         .flags = CACHE_TTL_MUST_REVALIDATE},
        {.name = "307 with Expires", .status = 307, .has_expires = true, .expires = 30, .store = true, .lifetime = 30},
        {.name = "302 min_ttl is not a lifetime", .status = 302, TTLS(60, 86400, 3600), .store = false, .why = "no-lifetime"},
    };
    CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_rfc9111_3_status_not_understood)
{
    static const row_t rows[] = {
        {.name = "206 partial", .status = 206, .cc = "max-age=60", .store = false, .why = "status"},
        {.name = "304", .status = 304, .cc = "max-age=60", .store = false, .why = "status"},
        {.name = "100", .status = 100, .cc = "max-age=60", .store = false, .why = "status"},
        {.name = "199", .status = 199, .cc = "max-age=60", .store = false, .why = "status"},
        {.name = "600", .status = 600, .cc = "max-age=60", .store = false, .why = "status"},
        {.name = "599 with max-age", .status = 599, .cc = "max-age=60", .store = true, .lifetime = 60},
    };
    CHECK_ROWS(rows);
}
END_TEST

/* RFC 9111 §5.2.2.3: must-understand lets a cache that knows the status code ignore no-store; a cache
 * that does not must not store the response at all. */
START_TEST(test_rfc9111_5_2_2_3_must_understand)
{
    static const row_t rows[] = {
        {.name = "must-understand overrides no-store",
         .cc = "must-understand, no-store, max-age=60",
         .store = true,
         .lifetime = 60},
        {.name = "case-insensitive", .cc = "Must-Understand, NO-STORE, max-age=60", .store = true, .lifetime = 60},
        {.name = "on a known 302", .status = 302, .cc = "no-store, must-understand, max-age=60", .store = true, .lifetime = 60},
        {.name = "on an unknown 299",
         .status = 299,
         .cc = "must-understand, no-store, max-age=60",
         .store = false,
         .why = "must-understand"},
        {.name = "on an unknown 555", .status = 555, .cc = "must-understand, max-age=60", .store = false, .why = "must-understand"},
        {.name = "no-store without it", .cc = "no-store, max-age=60", .store = false, .why = "no-store"},
        {.name = "private still applies", .cc = "must-understand, private, max-age=60", .store = false, .why = "private"},
        {.name = "a lifetime is still needed",
         .status = 302,
         .cc = "must-understand, no-store",
         .store = false,
         .why = "no-lifetime"},
    };
    CHECK_ROWS(rows);
}
END_TEST

/* A response Pragma: no-cache counts as Cache-Control: no-cache only when there is no Cache-Control
 * (the reading RFC 9111 §5.4 gives the request pragma). */
START_TEST(test_rfc9111_5_4_pragma_no_cache)
{
    static const row_t rows[] = {
        {.name = "Pragma: no-cache alone",
         .pragma_no_cache = true,
         .has_expires = true,
         .expires = 600,
         .validator = true,
         .store = true,
         .lifetime = 0,
         .flags = CACHE_TTL_NO_CACHE},
        {.name = "Pragma: no-cache, no validator",
         .pragma_no_cache = true,
         .has_expires = true,
         .expires = 600,
         .store = false,
         .why = "stale-without-validator"},
        {.name = "Cache-Control wins", .pragma_no_cache = true, .cc = "max-age=60", .store = true, .lifetime = 60},
    };
    CHECK_ROWS(rows);
}
END_TEST

/* --- RFC 9111 §3 and §5.2.2: what a shared cache never stores; no-cache ----------------------------- */

START_TEST(test_rfc9111_5_2_2_5_no_store)
{
    static const row_t rows[] = {
        {.name = "no-store", .cc = "no-store", .store = false, .why = "no-store"},
        {.name = "no-store with max-age", .cc = "max-age=600, no-store", .validator = true, .store = false, .why = "no-store"},
        {.name = "no-store with s-maxage and public", .cc = "public, s-maxage=600, no-store", .store = false, .why = "no-store"},
        {.name = "no-store with min_ttl", .cc = "no-store", TTLS(60, 86400, 3600), .store = false, .why = "no-store"},
    };
    CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_rfc9111_5_2_2_7_private)
{
    static const row_t rows[] = {
        {.name = "private", .cc = "private", .store = false, .why = "private"},
        {.name = "private with max-age", .cc = "private, max-age=600", .store = false, .why = "private"},
        {.name = "private=\"field\" is stored without the field",
         .cc = "private=\"x-user\", max-age=600",
         .store = true,
         .lifetime = 600},
        {.name = "private=\"field\" and private",
         .cc = "private=\"x-user\", private, max-age=600",
         .store = false,
         .why = "private"},
        {.name = "private = \"field\" (malformed) is unqualified",
         .cc = "private = \"x-user\", max-age=600",
         .store = false,
         .why = "private"},
    };
    CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_rfc9111_3_set_cookie)
{
    static const row_t rows[] = {
        {.name = "Set-Cookie", .set_cookie = true, .store = false, .why = "set-cookie"},
        {.name = "Set-Cookie with max-age", .cc = "max-age=600, public", .set_cookie = true, .store = false, .why = "set-cookie"},
        {.name = "Set-Cookie, cache_set_cookie",
         .cc = "max-age=600",
         .set_cookie = true,
         .cache_set_cookie = true,
         .store = true,
         .lifetime = 600},
        {.name = "Set-Cookie named by no-cache=: stored without it",
         .cc = "max-age=600, no-cache=\"Set-Cookie\"",
         .set_cookie = true,
         .store = true,
         .lifetime = 600},
        {.name = "Set-Cookie named by private=: stored without it",
         .cc = "private=\"set-cookie, x-a\", max-age=600",
         .set_cookie = true,
         .store = true,
         .lifetime = 600},
        {.name = "another field named",
         .cc = "no-cache=\"x-a\", max-age=600",
         .set_cookie = true,
         .store = false,
         .why = "set-cookie"},
    };
    CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_rfc9111_4_1_vary_star)
{
    static const row_t rows[] = {
        {.name = "Vary: *", .vary_star = true, .store = false, .why = "vary-star"},
        {.name = "Vary: * with max-age",
         .cc = "max-age=600",
         .validator = true,
         .vary_star = true,
         .store = false,
         .why = "vary-star"},
    };
    CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_rfc9111_5_2_2_4_no_cache_stored_lifetime_zero)
{
    static const row_t rows[] = {
        {.name = "no-cache, validator",
         .cc = "no-cache",
         .validator = true,
         .store = true,
         .lifetime = 0,
         .flags = CACHE_TTL_NO_CACHE},
        {.name = "no-cache with max-age",
         .cc = "no-cache, max-age=600",
         .validator = true,
         .store = true,
         .lifetime = 0,
         .flags = CACHE_TTL_NO_CACHE},
        {.name = "no-cache with min_ttl",
         .cc = "no-cache",
         .validator = true,
         TTLS(60, 86400, 3600),
         .store = true,
         .lifetime = 0,
         .flags = CACHE_TTL_NO_CACHE},
        {.name = "no-cache and must-revalidate",
         .cc = "no-cache, must-revalidate",
         .validator = true,
         .store = true,
         .lifetime = 0,
         .flags = CACHE_TTL_NO_CACHE | CACHE_TTL_MUST_REVALIDATE},
        {.name = "no-cache=\"field\" is stored without the field, and fresh",
         .cc = "no-cache=\"x-user\", max-age=60",
         .store = true,
         .lifetime = 60},
        {.name = "no-cache=\"\" is unqualified",
         .cc = "no-cache=\"\", max-age=60",
         .validator = true,
         .store = true,
         .lifetime = 0,
         .flags = CACHE_TTL_NO_CACHE},
        {.name = "no-cache on a 302 with max-age",
         .status = 302,
         .cc = "max-age=60, no-cache",
         .validator = true,
         .store = true,
         .lifetime = 0,
         .flags = CACHE_TTL_NO_CACHE},
    };
    CHECK_ROWS(rows);
}
END_TEST

/* RFC 9111 §4: a response that is never fresh and has no validator can never be used */
START_TEST(test_rfc9111_4_stale_without_validator)
{
    static const row_t rows[] = {
        {.name = "no-cache, no validator", .cc = "no-cache", .store = false, .why = "no-freshness"},
        {.name = "no-cache with max-age, no validator",
         .cc = "no-cache, max-age=60",
         .store = false,
         .why = "stale-without-validator"},
        {.name = "max-age=0, no validator", .cc = "max-age=0", .store = false, .why = "stale-without-validator"},
        {.name = "max-age=0 and min_ttl 0, validator", .cc = "max-age=0", .validator = true, .store = true, .lifetime = 0},
        {.name = "max-age=1, no validator", .cc = "max-age=1", .store = true, .lifetime = 1},
    };
    CHECK_ROWS(rows);
}
END_TEST

/* --- RFC 9111 §4.2.4 / §5.2.2.2 / §5.2.2.8 / §5.2.2.10: never served stale ------------------------ */

START_TEST(test_rfc9111_5_2_2_2_must_revalidate_flag)
{
    static const row_t rows[] = {
        {.name = "must-revalidate",
         .cc = "max-age=60, must-revalidate",
         .store = true,
         .lifetime = 60,
         .flags = CACHE_TTL_MUST_REVALIDATE},
        {.name = "proxy-revalidate",
         .cc = "max-age=60, proxy-revalidate",
         .store = true,
         .lifetime = 60,
         .flags = CACHE_TTL_MUST_REVALIDATE},
        {.name = "s-maxage implies proxy-revalidate",
         .cc = "s-maxage=60",
         .store = true,
         .lifetime = 60,
         .flags = CACHE_TTL_MUST_REVALIDATE},
        {.name = "max-age alone", .cc = "max-age=60", .store = true, .lifetime = 60, .flags = 0},
        {.name = "public, immutable",
         .cc = "public, max-age=60, immutable",
         .store = true,
         .lifetime = 60,
         .flags = CACHE_TTL_IMMUTABLE},
        {.name = "must-revalidate with default_ttl",
         .cc = "must-revalidate",
         .validator = true,
         WRITTEN,
         .store = true,
         .lifetime = DEFAULT_TTL,
         .flags = CACHE_TTL_MUST_REVALIDATE},
    };
    CHECK_ROWS(rows);
}
END_TEST

START_TEST(test_rfc5861_stale_extensions_carried)
{
    cache_ttl_in_t in;
    cache_ttl_rules_t b;
    cache_ttl_out_t out;
    row_t r = {.cc = "max-age=10, stale-while-revalidate=30, stale-if-error=600"};

    input_of(&r, &in, &b);
    cache_ttl_decide(&in, &b, &out);
    ck_assert(out.store);
    ck_assert_int_eq(out.stale_while_revalidate, 30);
    ck_assert_int_eq(out.stale_if_error, 600);

    r.cc = "max-age=10";
    input_of(&r, &in, &b);
    cache_ttl_decide(&in, &b, &out);
    ck_assert_int_eq(out.stale_while_revalidate, 0);
    ck_assert_int_eq(out.stale_if_error, 0);

    r.cc = "max-age=10, stale-while-revalidate=abc, stale-if-error=-5";
    input_of(&r, &in, &b);
    cache_ttl_decide(&in, &b, &out);
    ck_assert_int_eq(out.stale_while_revalidate, 0);
    ck_assert_int_eq(out.stale_if_error, 0);
}
END_TEST

/* --- RFC 9111 §4.2.3: the corrected initial age -------------------------------------------------- */

START_TEST(test_rfc9111_4_2_3_corrected_initial_age)
{
    static const row_t rows[] = {
        {.name = "fresh from the origin", .cc = "max-age=600", .store = true, .lifetime = 600, .initial_age = 0},
        {.name = "apparent age from Date", .cc = "max-age=600", .date = -100, .store = true, .lifetime = 600, .initial_age = 100},
        {.name = "Age header", .cc = "max-age=600", .age = 50, .store = true, .lifetime = 600, .initial_age = 50},
        {.name = "Age plus response delay",
         .cc = "max-age=600",
         .age = 50,
         .request_time = -5,
         .store = true,
         .lifetime = 600,
         .initial_age = 55},
        {.name = "response delay alone", .cc = "max-age=600", .request_time = -7, .store = true, .lifetime = 600, .initial_age = 7},
        {.name = "apparent age larger than corrected",
         .cc = "max-age=600",
         .date = -100,
         .age = 10,
         .request_time = -2,
         .store = true,
         .lifetime = 600,
         .initial_age = 100},
        {.name = "corrected age larger than apparent",
         .cc = "max-age=600",
         .date = -10,
         .age = 100,
         .request_time = -2,
         .store = true,
         .lifetime = 600,
         .initial_age = 102},
        {.name = "Date in the future (skew)", .cc = "max-age=600", .date = 100, .store = true, .lifetime = 600, .initial_age = 0},
        {.name = "no Date", .cc = "max-age=600", .no_date = true, .age = 20, .store = true, .lifetime = 600, .initial_age = 20},
        {.name = "an unreadable Age: stale, revalidated",
         .cc = "max-age=600",
         .age = CACHE_TTL_DELTA_MAX,
         .validator = true,
         .store = true,
         .lifetime = 600,
         .initial_age = CACHE_TTL_DELTA_MAX},
        {.name = "an unreadable Age, no validator",
         .cc = "max-age=600",
         .age = CACHE_TTL_DELTA_MAX,
         .store = false,
         .why = "stale-without-validator",
         .initial_age = CACHE_TTL_DELTA_MAX},
        {.name = "response before request (clock step)",
         .cc = "max-age=600",
         .request_time = 30,
         .store = true,
         .lifetime = 600,
         .initial_age = 0},
        {.name = "stale on arrival, no validator",
         .cc = "max-age=60",
         .age = 100,
         .store = false,
         .why = "stale-without-validator",
         .initial_age = 100},
        {.name = "exactly stale on arrival, no validator",
         .cc = "max-age=60",
         .age = 60,
         .store = false,
         .why = "stale-without-validator",
         .initial_age = 60},
        {.name = "stale on arrival, validator",
         .cc = "max-age=60",
         .age = 100,
         .validator = true,
         .store = true,
         .lifetime = 60,
         .initial_age = 100},
        {.name = "age also reported when not stored",
         .cc = "no-store",
         .age = 40,
         .store = false,
         .why = "no-store",
         .initial_age = 40},
    };
    CHECK_ROWS_AGE(rows);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("cache_ttl");
    TCase *tc;

    tc = tcase_create("lifetime");
    tcase_add_test(tc, test_rfc9111_4_2_1_smaxage_wins);
    tcase_add_test(tc, test_rfc9111_4_2_1_maxage_over_expires);
    tcase_add_test(tc, test_rfc9111_4_2_1_expires_minus_date);
    tcase_add_test(tc, test_rfc9111_5_3_expires_invalid_is_expired);
    tcase_add_test(tc, test_rfc9111_4_2_1_clamp_min_max);
    suite_add_tcase(s, tc);

    tc = tcase_create("heuristic");
    tcase_add_test(tc, test_rfc9111_4_2_2_default_ttl_written);
    tcase_add_test(tc, test_rfc9111_4_2_2_last_modified_heuristic);
    tcase_add_test(tc, test_rfc9111_4_2_2_no_lifetime_not_heuristic);
    tcase_add_test(tc, test_rfc9111_3_status_not_understood);
    suite_add_tcase(s, tc);

    tc = tcase_create("storage");
    tcase_add_test(tc, test_rfc9111_5_2_2_5_no_store);
    tcase_add_test(tc, test_rfc9111_5_2_2_7_private);
    tcase_add_test(tc, test_rfc9111_5_2_2_3_must_understand);
    tcase_add_test(tc, test_rfc9111_5_4_pragma_no_cache);
    tcase_add_test(tc, test_rfc9111_3_set_cookie);
    tcase_add_test(tc, test_rfc9111_4_1_vary_star);
    tcase_add_test(tc, test_rfc9111_5_2_2_4_no_cache_stored_lifetime_zero);
    tcase_add_test(tc, test_rfc9111_4_stale_without_validator);
    suite_add_tcase(s, tc);

    tc = tcase_create("revalidate");
    tcase_add_test(tc, test_rfc9111_5_2_2_2_must_revalidate_flag);
    tcase_add_test(tc, test_rfc5861_stale_extensions_carried);
    suite_add_tcase(s, tc);

    tc = tcase_create("age");
    tcase_add_test(tc, test_rfc9111_4_2_3_corrected_initial_age);
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
